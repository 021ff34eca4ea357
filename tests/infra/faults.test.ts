/**
 * Fault injection: every failure the daily run can meet, each against the real local servers
 * (s3rver, the fake Open-Meteo on 127.0.0.1) and the real state machine definition, run by
 * pipeline/local/run-state-machine.ts with the Lambda handlers in-process. Each scenario checks:
 * - the outcome: success (after retries), or failure with one alert on the topic naming the stack,
 *   date, step, error and raw keys, and exactly one dead letter whose body redrives the date;
 * - the buckets afterwards: every 2xx body the API sent is in raw byte for byte; the curated
 *   prefix holds only whole Parquet files (the previous good ones, or none);
 * - the re-run (fault removed): it completes the date with raw and curated objects byte-identical
 *   to an undisturbed run of the same date, and no extra keys.
 * Data lost, counted per scenario and required to be 0: a 2xx body the API sent that is in raw
 * neither after the faulty run nor after the re-run, plus every object of the re-run that differs
 * from the undisturbed run. docs/reliability.md holds the table of these scenarios.
 */
import { expect } from "chai";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { addDays } from "../../pipeline/core/dates";
import { RATE_LIMITED_ERROR_NAME, TRANSIENT_ERROR_NAME } from "../../pipeline/core/errors";
import type { RetryTuning } from "../../pipeline/ingest/http";
import { curatedObjectKey, rawBodyKey, rawDatePrefix } from "../../pipeline/core/keys";
import {
  answerOpenMeteoQuery,
  errorAnswer,
  overloadedAnswer,
  rateLimitAnswer,
  type FakeAnswer,
} from "../../pipeline/local/fake-open-meteo";
import {
  createLocalFunctions,
  LocalStateMachine,
  type ExecutionOutcome,
  type LocalFunctions,
  type RunningExecution,
} from "../../pipeline/local/run-state-machine";
import { planRequests } from "../../pipeline/ingest/openmeteo-request";
import { DEFAULT_PIPELINE_SETTINGS, type Location, type PipelineSettings } from "../../pipeline/core/settings";
import type { ObjectStore } from "../../pipeline/core/storage";
import {
  differences,
  FaultBench,
  HookedStore,
  scriptBatch,
  scriptBatchAlways,
  sentBodies,
  snapshot,
  type Script,
  type ScriptedAnswer,
  type Snapshot,
} from "../support/fault-bench";

/** 08:00 in Berlin on 2025-07-20: yesterday there is 2025-07-19. */
const NOW = new Date("2025-07-20T06:00:00Z");
const DATE = "2025-07-19";
const STACK = "weather-pipeline-faults";

/** Four locations in two requests (maxWeightPerRequest 2): a fault in the 2nd finds the 1st stored. */
const LOCATIONS: Location[] = [
  { name: "amsterdam", latitude: 52.37, longitude: 4.89 },
  { name: "berlin", latitude: 52.52, longitude: 13.41 },
  { name: "lisbon", latitude: 38.72, longitude: -9.14 },
  { name: "oslo", latitude: 59.91, longitude: 10.75 },
];

/** Small timeouts and backoff keep every scenario under a few seconds. */
const TUNING: Partial<RetryTuning> = { baseDelayMs: 5, maxDelayMs: 20, budgetMs: 4_000 };
const HTTP = { timeoutMs: 500, retries: 2, maxWeightPerRequest: 2, concurrency: 1 };

/** "Huge": the server ignores start_date/end_date and sends 76 days of 12 hourly variables for 24 locations. */
const HUGE_LOCATIONS: Location[] = Array.from({ length: 24 }, (_, i) => ({
  name: `site-${String(i).padStart(2, "0")}`,
  latitude: 40 + i * 0.7,
  longitude: -8 + i * 1.1,
}));
const HUGE_HOURLY = [
  "temperature_2m",
  "relative_humidity_2m",
  "dew_point_2m",
  "apparent_temperature",
  "precipitation",
  "rain",
  "pressure_msl",
  "cloud_cover",
  "wind_speed_10m",
  "wind_direction_10m",
  "wind_gusts_10m",
  "shortwave_radiation",
];

interface Baseline {
  readonly raw: Snapshot;
  readonly curated: Snapshot;
}

interface TallyRow {
  readonly scenario: string;
  readonly outcome: string;
  readonly lost: number;
  /** Bodies the API sent that S3 refused to store; fetched again by the re-run. */
  readonly refetched: number;
}

describe("fault injection: the real state machine against s3rver and the fake Open-Meteo", function () {
  this.timeout(60_000);
  let bench: FaultBench;
  let started: number;
  const tally: TallyRow[] = [];
  const baselines = new Map<string, Promise<Baseline>>();

  before(async () => {
    started = Date.now();
    bench = await FaultBench.start(NOW);
  });

  afterEach(async () => {
    bench.script = undefined;
    await bench.startS3();
  });

  after(async () => {
    await bench?.close();
    const lost = tally.reduce((sum, row) => sum + row.lost, 0);
    const refetched = tally.reduce((sum, row) => sum + row.refetched, 0);
    console.log(
      `      fault scenarios: ${tally.length}, data lost: ${lost} ` +
        `(bodies S3 refused and the re-run fetched again: ${refetched}); ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  });

  function settingsWith(overrides: Partial<PipelineSettings> = {}): PipelineSettings {
    return {
      ...DEFAULT_PIPELINE_SETTINGS,
      locations: LOCATIONS,
      timezone: "Europe/Berlin",
      forecastApiUrl: bench.fake.forecastUrl,
      archiveApiUrl: bench.fake.archiveUrl,
      http: HTTP,
      ...overrides,
    };
  }

  function machineFor(
    settings: PipelineSettings,
    rawStore: ObjectStore,
    curatedStore: ObjectStore,
    options: { tuning?: Partial<RetryTuning>; catchUpDays?: number; maxDatesPerRun?: number; now?: Date } = {},
  ): { machine: LocalStateMachine; functions: LocalFunctions; log: string[] } {
    const log: string[] = [];
    const functions = createLocalFunctions({
      settings,
      rawStore,
      curatedStore,
      stack: STACK,
      catchUpDays: options.catchUpDays ?? 1,
      maxDatesPerRun: options.maxDatesPerRun ?? 1,
      now: () => options.now ?? NOW,
      retryTuning: options.tuning ?? TUNING,
      log: (line) => log.push(line),
    });
    return { machine: new LocalStateMachine({ stack: STACK, functions, retryIntervalMs: 5 }), functions, log };
  }

  /** What an undisturbed run of `date` writes, in buckets of its own (computed once per settings and date). */
  function undisturbed(settings: PipelineSettings, date: string): Promise<Baseline> {
    const id = `${JSON.stringify(settings)}|${date}`;
    let baseline = baselines.get(id);
    if (!baseline) {
      baseline = (async () => {
        const script = bench.script;
        bench.script = undefined;
        try {
          const { raw, curated } = await bench.createBuckets();
          const outcome = await machineFor(settings, raw, curated).machine.run({ date });
          expect(outcome.status, JSON.stringify(outcome)).to.equal("SUCCEEDED");
          return { raw: await snapshot(raw), curated: await snapshot(curated) };
        } finally {
          bench.script = script;
        }
      })();
      baselines.set(id, baseline);
    }
    return baseline;
  }

  interface Pipeline {
    readonly settings: PipelineSettings;
    readonly date: string;
    readonly baseline: Baseline;
    readonly raw: ObjectStore;
    readonly curated: ObjectStore;
    readonly machine: LocalStateMachine;
    /** The code the machine was deployed with. */
    readonly functions: LocalFunctions;
    readonly log: string[];
    /** Index of the first request the fake received in this scenario. */
    readonly from: number;
    /** Turns the store hooks off: the fault is removed before the re-run. */
    readonly fault: { active: boolean };
    /** The date had been run undisturbed before the fault, in these buckets. */
    readonly previousGoodRun: boolean;
  }

  interface SetUpOptions {
    readonly settings?: PipelineSettings;
    readonly script?: (settings: PipelineSettings, date: string) => Script;
    /** Run the date once undisturbed first, so the curated files of a good run are there. */
    readonly previousGoodRun?: boolean;
    readonly hookRaw?: (key: string) => Promise<void>;
    readonly hookCurated?: (key: string) => Promise<void>;
    readonly tuning?: Partial<RetryTuning>;
  }

  async function setUp(options: SetUpOptions = {}): Promise<Pipeline> {
    const settings = options.settings ?? settingsWith();
    const date = DATE;
    const baseline = await undisturbed(settings, date);
    const buckets = await bench.createBuckets();
    if (options.previousGoodRun) {
      const outcome = await machineFor(settings, buckets.raw, buckets.curated).machine.run({ date });
      expect(outcome.status).to.equal("SUCCEEDED");
    }
    const fault = { active: true };
    const hooked = (store: ObjectStore, hook: ((key: string) => Promise<void>) | undefined): ObjectStore =>
      hook ? new HookedStore(store, (key) => (fault.active ? hook(key) : Promise.resolve())) : store;
    const raw = hooked(buckets.raw, options.hookRaw);
    const curated = hooked(buckets.curated, options.hookCurated);
    const { machine, functions, log } = machineFor(settings, raw, curated, { tuning: options.tuning });
    bench.script = options.script?.(settings, date);
    const from = bench.fake.requests.length;
    return {
      settings,
      date,
      baseline,
      raw: buckets.raw,
      curated: buckets.curated,
      machine,
      functions,
      log,
      from,
      fault,
      previousGoodRun: options.previousGoodRun ?? false,
    };
  }

  /** The script answering batch 1 (lisbon, oslo) of the date with `answers`, one per request. */
  const onBatch1 =
    (...answers: ScriptedAnswer[]) =>
    (settings: PipelineSettings, date: string): Script =>
      scriptBatch(settings, date, 1, answers, NOW);

  const onBatch1Always =
    (answer: FakeAnswer) =>
    (settings: PipelineSettings, date: string): Script =>
      scriptBatchAlways(settings, date, 1, answer);

  function bodyKeys(settings: PipelineSettings, date: string): string[] {
    return planRequests(settings, date, "forecast").map((r) => rawBodyKey("forecast", date, r.requestId));
  }

  function requestsOfBatch(p: Pipeline, batchIndex: number): number {
    const [planned] = planRequests(p.settings, p.date, "forecast").filter((r) => r.batchIndex === batchIndex);
    const latitude = new URL(planned?.url ?? "http://x").searchParams.get("latitude");
    return bench.fake.requests.slice(p.from).filter((r) => r.params["latitude"] === latitude).length;
  }

  /** Throws unless every object is a whole Parquet file (footer, metadata and every row readable). */
  async function expectWholeParquet(objects: Snapshot): Promise<void> {
    for (const [key, bytes] of objects) {
      const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      const metadata = parquetMetadata(file);
      const rows = await parquetReadObjects({ file });
      expect(rows.length, key).to.equal(Number(metadata.num_rows));
    }
  }

  type Expected =
    | { readonly outcome: "success"; readonly curatedAfter?: Snapshot }
    /** Stopped part-way (StopExecution, a crash): no alert; the curated objects default to none. */
    | { readonly outcome: "interrupted"; readonly curatedAfter?: Snapshot }
    | {
        readonly outcome: "failure";
        readonly step: "Ingest" | "Transform";
        readonly error: string;
        /** Parts of the alert's cause. */
        readonly cause: readonly string[];
        /** The curated objects right after the failure; default: those of the previous good run, or none. */
        readonly curatedAfter?: Snapshot;
        /** S3 refused writes: bodies sent may be missing from raw until the re-run fetches them again. */
        readonly storeRefused?: boolean;
      };

  /** Checks the outcome, the buckets, the re-run, and counts data lost (which must be 0). */
  async function verify(
    name: string,
    p: Pipeline,
    outcome: ExecutionOutcome,
    expected: Expected,
    rerunWith: () => Promise<ExecutionOutcome> = () => p.machine.run({ date: p.date }),
  ): Promise<void> {
    // Inspect with S3 up and the fault removed, as an operator would.
    p.fault.active = false;
    await bench.startS3();
    bench.script = undefined;
    const sent = sentBodies(bench.fake.requests.slice(p.from), p.settings, p.date);
    const rawAfter = await snapshot(p.raw);
    const curatedAfter = await snapshot(p.curated);
    const empty: Snapshot = new Map();

    // The re-run: a redrive of the dead letter after a failure, else the date again (or `rerunWith`).
    let rerun: ExecutionOutcome;
    const queued = p.machine.queue.map((m) => ({ ...m }));
    const alerts = [...p.machine.topic];
    if (expected.outcome === "failure") {
      const redrive = await p.machine.redrive();
      expect(redrive.result.runs.map((r) => r.date)).to.deep.equal([p.date]);
      expect(redrive.outcomes).to.have.lengthOf(1);
      rerun = redrive.outcomes[0] as ExecutionOutcome;
      expect(p.machine.queue, "the redrive deleted its dead letter").to.deep.equal([]);
    } else {
      rerun = await rerunWith();
    }
    const rawRerun = await snapshot(p.raw);
    const curatedRerun = await snapshot(p.curated);
    const rerunDiffs = [...differences(rawRerun, p.baseline.raw), ...differences(curatedRerun, p.baseline.curated)];
    const keptAfter = (s: { key: string; body: Buffer }) => rawAfter.get(s.key)?.equals(s.body) ?? false;
    const lostBodies = sent.filter((s) => !keptAfter(s) && !(rawRerun.get(s.key)?.equals(s.body) ?? false));
    const refetched = expected.outcome === "failure" && expected.storeRefused ? sent.filter((s) => !keptAfter(s)) : [];
    const lost = lostBodies.length + rerunDiffs.length;
    tally.push({ scenario: name, outcome: outcome.status, lost, refetched: refetched.length });

    // Data lost: none, and the re-run is the undisturbed run, byte for byte.
    expect(
      lostBodies.map((s) => s.key),
      "bodies the API sent that are in raw neither after the run nor after the re-run",
    ).to.deep.equal([]);
    expect(rerun.status, JSON.stringify(rerun)).to.equal("SUCCEEDED");
    expect(rerunDiffs, "objects of the re-run that differ from an undisturbed run").to.deep.equal([]);

    // Raw after the faulty run: what the API sent last for each key, byte for byte; no other keys.
    const planned = new Set([...p.baseline.raw.keys()]);
    expect(
      [...rawAfter.keys()].filter((k) => !planned.has(k)),
      "unexpected raw keys",
    ).to.deep.equal([]);
    if (!(expected.outcome === "failure" && expected.storeRefused)) {
      const last = new Map(sent.map((s) => [s.key, s.body]));
      for (const [key, body] of last)
        expect(rawAfter.get(key)?.equals(body), `raw ${key} is what the API sent`).to.equal(true);
    }

    // Curated after the faulty run: whole files only, the expected ones.
    await expectWholeParquet(curatedAfter);
    if (expected.outcome !== "failure") {
      const success = expected.outcome === "success";
      expect(outcome.status, JSON.stringify(outcome)).to.equal(success ? "SUCCEEDED" : "ABORTED");
      expect(alerts, "no alert").to.deep.equal([]);
      expect(queued, "no dead letter").to.deep.equal([]);
      const want = expected.curatedAfter ?? (success ? p.baseline.curated : empty);
      expect(differences(curatedAfter, want), "curated after the run").to.deep.equal([]);
      return;
    }
    expect(outcome.status, JSON.stringify(outcome)).to.equal("FAILED");
    expect(outcome.error).to.equal("WeatherRunFailed");
    // The date's failure path, then the Map's Catch fails the run, visibly.
    expect(outcome.states.slice(-5)).to.deep.equal([
      `${expected.step}Failed`,
      "AlertDateFailure",
      "DeadLetterDate",
      "DateFailed",
      "RunFailed",
    ]);
    const previous = p.previousGoodRun ? p.baseline.curated : empty;
    expect(differences(curatedAfter, expected.curatedAfter ?? previous), "curated after the failure").to.deep.equal([]);

    // One alert that names the stack, date, step, error, the keys, and how to redrive.
    expect(alerts).to.have.lengthOf(1);
    const alert = alerts[0]!;
    expect(alert.topicArn).to.equal(p.machine.targets.alertTopicArn);
    expect(alert.subject).to.equal(`Weather pipeline ${STACK}: a run failed`);
    const keys = expected.step === "Transform" ? bodyKeys(p.settings, p.date) : [];
    for (const part of [
      `Weather pipeline ${STACK} failed at step ${expected.step} for input {"date":"${p.date}"}.`,
      `Error: ${expected.error}.`,
      `Raw objects the step was given: ${JSON.stringify(keys)} (a failed ingest lists the bodies it stored in the cause).`,
      `npm run pipeline -- redrive --stack ${STACK}`,
      `--state-machine-arn ${p.machine.targets.stateMachineArn}`,
      ...expected.cause,
    ]) {
      expect(alert.message).to.include(part);
    }
    // Exactly one dead letter, whose body is the date's run input.
    expect(queued).to.have.lengthOf(1);
    expect(JSON.parse(queued[0]!.body)).to.deep.equal({ date: p.date });
    expect(queued[0]!.attributes).to.deep.equal({ step: expected.step, error: expected.error });
    expect(queued[0]!.queueUrl).to.equal(p.machine.targets.deadLetterQueueUrl);
  }

  function invocationsOf(p: Pipeline, role: "ingest" | "transform"): { ok: boolean; errorType?: string }[] {
    return p.machine.invocations
      .filter((i) => i.role === role)
      .map((i) => (i.ok ? { ok: true } : { ok: false, errorType: i.errorType }));
  }

  describe("Open-Meteo rate limits (429)", () => {
    it("a minutely 429 whose next minute is past the request's budget: the state machine retries, then success", async () => {
      // With the production budget (60 s) the HTTP layer waits for the next minute when that fits
      // (tests/http.test.ts); this budget is too small on purpose, so Step Functions' Retry does it.
      const p = await setUp({ script: onBatch1(rateLimitAnswer("minutely")), tuning: { ...TUNING, budgetMs: 300 } });
      const outcome = await p.machine.run({ date: p.date });
      expect(invocationsOf(p, "ingest")).to.deep.equal([{ ok: false, errorType: TRANSIENT_ERROR_NAME }, { ok: true }]);
      await verify("429 minutely, then success", p, outcome, { outcome: "success" });
    });

    it("a minutely 429 on every attempt: 4 state-machine attempts, then the alert and the dead letter", async () => {
      const p = await setUp({
        script: onBatch1Always(rateLimitAnswer("minutely")),
        tuning: { ...TUNING, budgetMs: 300 },
      });
      const outcome = await p.machine.run({ date: p.date });
      expect(invocationsOf(p, "ingest")).to.have.lengthOf(4);
      const [first] = bodyKeys(p.settings, p.date);
      await verify("429 minutely, exhausted", p, outcome, {
        outcome: "failure",
        step: "Ingest",
        error: TRANSIENT_ERROR_NAME,
        cause: ["Minutely API request limit exceeded", `Bodies stored: ${first}.`],
      });
    });

    for (const limit of ["hourly", "daily"] as const) {
      it(`the ${limit} 429 fails fast: one request, no retry at any level, a clear alert`, async () => {
        const p = await setUp({ script: onBatch1Always(rateLimitAnswer(limit)) });
        const outcome = await p.machine.run({ date: p.date });
        expect(requestsOfBatch(p, 1)).to.equal(1);
        expect(invocationsOf(p, "ingest")).to.deep.equal([{ ok: false, errorType: RATE_LIMITED_ERROR_NAME }]);
        await verify(`429 ${limit}`, p, outcome, {
          outcome: "failure",
          step: "Ingest",
          error: RATE_LIMITED_ERROR_NAME,
          cause: [
            limit === "hourly" ? "Hourly API request limit exceeded" : "Daily API request limit exceeded",
            limit === "hourly"
              ? "the hourly limit resets at the next full hour"
              : "the daily limit resets at 00:00 UTC",
            "run the date again after that",
          ],
        });
      });
    }

    it("a concurrency 429 is retried with backoff inside the invocation, then success", async () => {
      const p = await setUp({ script: onBatch1(rateLimitAnswer("concurrency"), rateLimitAnswer("concurrency")) });
      const outcome = await p.machine.run({ date: p.date });
      expect(requestsOfBatch(p, 1)).to.equal(3);
      expect(invocationsOf(p, "ingest")).to.deep.equal([{ ok: true }]);
      await verify("429 concurrency", p, outcome, { outcome: "success" });
    });
  });

  describe("Open-Meteo server errors and broken connections", () => {
    it("a 500 is retried, then success", async () => {
      const p = await setUp({ script: onBatch1(errorAnswer(500, "Internal Server Error")) });
      const outcome = await p.machine.run({ date: p.date });
      expect(requestsOfBatch(p, 1)).to.equal(2);
      await verify("500, then success", p, outcome, { outcome: "success" });
    });

    it("a 503 twice is retried, then success", async () => {
      const p = await setUp({ script: onBatch1(overloadedAnswer(), overloadedAnswer()) });
      const outcome = await p.machine.run({ date: p.date });
      expect(requestsOfBatch(p, 1)).to.equal(3);
      expect(invocationsOf(p, "ingest")).to.deep.equal([{ ok: true }]);
      await verify("503, then success", p, outcome, { outcome: "success" });
    });

    it("a 503 on every attempt: HTTP retries inside each of 4 state-machine attempts, then the alert naming the stored body", async () => {
      const p = await setUp({ script: onBatch1Always(overloadedAnswer()) });
      const outcome = await p.machine.run({ date: p.date });
      expect(requestsOfBatch(p, 1)).to.equal(4 * (HTTP.retries + 1));
      const [first] = bodyKeys(p.settings, p.date);
      await verify("503 exhausted", p, outcome, {
        outcome: "failure",
        step: "Ingest",
        error: TRANSIENT_ERROR_NAME,
        cause: ["The service is overloaded", "Stored before stopping: 1 of 2 bodies", `Bodies stored: ${first}.`],
      });
    });

    it("a hang past the timeout is given up after timeoutMs and retried, then success", async () => {
      const p = await setUp({ script: onBatch1({ kind: "hang" }) });
      const outcome = await p.machine.run({ date: p.date });
      expect(p.log.join("\n")).to.include(`no answer within ${(HTTP.timeoutMs / 1000).toFixed(1)} s`);
      await verify("hang past the timeout", p, outcome, { outcome: "success" });
    });

    it("a connection reset mid-body is retried and the partial body never stored", async () => {
      const p = await setUp({ script: onBatch1({ kind: "reset", afterBytes: 300 }) });
      const outcome = await p.machine.run({ date: p.date });
      expect(p.log.join("\n")).to.include("body cut off");
      expect(requestsOfBatch(p, 1)).to.equal(2);
      await verify("connection reset mid-body", p, outcome, { outcome: "success" });
    });

    it("a body that stalls mid-way is given up at the timeout and retried, then success", async () => {
      const p = await setUp({ script: onBatch1({ kind: "stall", afterBytes: 300 }) });
      const outcome = await p.machine.run({ date: p.date });
      expect(requestsOfBatch(p, 1)).to.equal(2);
      await verify("body stalls mid-way", p, outcome, { outcome: "success" });
    });
  });

  describe("Open-Meteo answers 200 with a body that is not what was asked", () => {
    const json = "application/json; charset=utf-8";
    const bodies: { name: string; answer: ScriptedAnswer; cause: string[] }[] = [
      {
        name: "a truncated body (complete response, JSON cut in half)",
        answer: (normal) => ({
          kind: "text",
          status: 200,
          body: normal.slice(0, normal.length >> 1),
          contentType: json,
        }),
        cause: ["OpenMeteoResponseError", "0001-"],
      },
      {
        name: "a 200 with an HTML page",
        answer: {
          kind: "text",
          status: 200,
          body: "<!DOCTYPE html><html><head><title>Maintenance</title></head><body>Back soon</body></html>",
          contentType: "text/html",
        },
        cause: ["0001-", "not valid JSON"],
      },
      {
        name: "nan in place of a number",
        answer: (normal) => ({
          kind: "text",
          status: 200,
          body: normal.replace(/("temperature_2m":\[)[^,\]]+/, "$1nan"),
          contentType: json,
        }),
        cause: ["0001-", "nan"],
      },
      {
        name: "an empty array",
        answer: { kind: "text", status: 200, body: "[]", contentType: json },
        cause: ["0001-", "expected 2 locations", "got 0"],
      },
      {
        name: "a requested variable missing",
        answer: (normal) => {
          const elements = JSON.parse(normal) as {
            hourly: Record<string, unknown>;
            hourly_units: Record<string, unknown>;
          }[];
          for (const element of elements) {
            delete element.hourly["wind_speed_10m"];
            delete element.hourly_units["wind_speed_10m"];
          }
          return { kind: "text", status: 200, body: JSON.stringify(elements), contentType: json };
        },
        cause: ["0001-", "wind_speed_10m"],
      },
    ];
    for (const { name, answer, cause } of bodies) {
      it(`${name}: raw keeps it byte for byte, the transform fails naming the key, nothing curated`, async () => {
        const p = await setUp({ script: onBatch1(answer) });
        const outcome = await p.machine.run({ date: p.date });
        // Not retried: the same body would fail the same way.
        expect(invocationsOf(p, "transform")).to.deep.equal([{ ok: false, errorType: "OpenMeteoResponseError" }]);
        await verify(name, p, outcome, {
          outcome: "failure",
          step: "Transform",
          error: "OpenMeteoResponseError",
          cause: [...cause, rawDatePrefix("forecast", p.date)],
        });
      });
    }

    it('a variable with unit "undefined" and all nulls is kept as nulls (what the API sent), then the re-run matches', async () => {
      const p = await setUp({
        script: onBatch1((normal) => {
          const elements = JSON.parse(normal) as {
            hourly: Record<string, unknown[]>;
            hourly_units: Record<string, string>;
          }[];
          for (const element of elements) {
            element.hourly_units["wind_speed_10m"] = "undefined";
            element.hourly["wind_speed_10m"] = element.hourly["wind_speed_10m"]!.map(() => null);
          }
          return { kind: "text", status: 200, body: JSON.stringify(elements), contentType: "application/json" };
        }),
      });
      const outcome = await p.machine.run({ date: p.date });
      const curated = await snapshot(p.curated);
      const hourlyKey = curatedObjectKey("weather_hourly", p.date);
      const read = async (bytes: Buffer) =>
        (await parquetReadObjects({
          file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
        })) as Record<string, unknown>[];
      const rows = await read(curated.get(hourlyKey)!);
      const expectedRows = await read(p.baseline.curated.get(hourlyKey)!);
      expect(rows.length).to.equal(expectedRows.length);
      rows.forEach((row, i) => {
        const want = { ...expectedRows[i] };
        if (row["location"] === "lisbon" || row["location"] === "oslo") want["wind_speed_10m"] = null;
        expect(row).to.deep.equal(want);
      });
      const daily = curatedObjectKey("weather_daily", p.date);
      await verify('unit "undefined", all nulls', p, outcome, {
        outcome: "success",
        curatedAfter: new Map([
          [hourlyKey, curated.get(hourlyKey)!],
          [daily, p.baseline.curated.get(daily)!],
        ]),
      });
    });

    it("a huge body (76 days instead of one, 24 locations x 12 hourly variables) is stored whole and gives the same Parquet", async () => {
      const settings = settingsWith({
        locations: HUGE_LOCATIONS,
        hourlyVariables: HUGE_HOURLY,
        http: { ...HTTP, timeoutMs: 10_000, maxWeightPerRequest: 300 },
      });
      let size = 0;
      const p = await setUp({
        settings,
        tuning: { ...TUNING, budgetMs: 20_000 },
        script: (s, date) =>
          scriptBatch(
            s,
            date,
            0,
            [
              (_normal, request) => {
                const wide = { ...request.params, start_date: addDays(date, -60), end_date: addDays(date, 15) };
                const body = answerOpenMeteoQuery(request.path, wide, { now: NOW }).body;
                size = Buffer.byteLength(body);
                return { kind: "text", status: 200, body, contentType: "application/json; charset=utf-8" };
              },
            ],
            NOW,
          ),
      });
      const outcome = await p.machine.run({ date: p.date });
      expect(size).to.be.above(3_000_000);
      console.log(`      huge body: ${(size / 1e6).toFixed(1)} MB`);
      await verify("huge body", p, outcome, { outcome: "success" });
    });
  });

  describe("S3 faults", () => {
    it("s3rver stopped before the raw write and down for every attempt: alert and dead letter, nothing half-written", async () => {
      const p = await setUp({ hookRaw: () => bench.stopS3() });
      const outcome = await p.machine.run({ date: p.date });
      // S3 unreachable is a Node network Error: transient, retried 3 times by the state machine.
      expect(invocationsOf(p, "ingest")).to.deep.equal(Array(4).fill({ ok: false, errorType: "Error" }));
      await verify("S3 down before the raw write", p, outcome, {
        outcome: "failure",
        step: "Ingest",
        error: "Error",
        cause: ["ECONNREFUSED", "Stored before stopping: 0 of 2 bodies"],
        storeRefused: true,
      });
    });

    it("s3rver stopped before the raw write and back before the state machine's retry: success", async () => {
      let stops = 0;
      const p = await setUp({ hookRaw: async () => (stops++ === 0 ? bench.stopS3() : undefined) });
      const { ingest } = p.functions;
      let attempt = 0;
      p.machine.deploy({
        ingest: async (event) => {
          if (attempt++ > 0) await bench.startS3();
          return ingest(event);
        },
      });
      const outcome = await p.machine.run({ date: p.date });
      expect(invocationsOf(p, "ingest")).to.deep.equal([{ ok: false, errorType: "Error" }, { ok: true }]);
      await verify("S3 down before the raw write, back for the retry", p, outcome, { outcome: "success" });
    });

    it("s3rver stopped before the curated write and down for every attempt: the previous Parquet stays, raw is kept", async () => {
      const p = await setUp({ previousGoodRun: true, hookCurated: () => bench.stopS3() });
      const outcome = await p.machine.run({ date: p.date });
      expect(invocationsOf(p, "ingest")).to.deep.equal([{ ok: true }]);
      expect(invocationsOf(p, "transform")).to.deep.equal(Array(4).fill({ ok: false, errorType: "Error" }));
      await verify("S3 down before the curated write", p, outcome, {
        outcome: "failure",
        step: "Transform",
        error: "Error",
        cause: ["ECONNREFUSED"],
      });
    });

    it("s3rver stopped between the two curated writes: the file written is whole, the other absent, the re-run completes", async () => {
      let puts = 0;
      const p = await setUp({ hookCurated: async () => (puts++ === 1 ? bench.stopS3() : undefined) });
      const outcome = await p.machine.run({ date: p.date });
      const first = curatedObjectKey("weather_hourly", p.date);
      await verify("S3 down between the two curated writes", p, outcome, {
        outcome: "failure",
        step: "Transform",
        error: "Error",
        cause: ["ECONNREFUSED"],
        curatedAfter: new Map([[first, p.baseline.curated.get(first)!]]),
      });
    });

    it("ingest succeeded, s3rver down for the transform, then up again: the state machine's retry completes the date", async () => {
      let stops = 0;
      const p = await setUp({ hookCurated: async () => (stops++ === 0 ? bench.stopS3() : undefined) });
      const { transform } = p.functions;
      let attempt = 0;
      p.machine.deploy({
        transform: async (event) => {
          if (attempt++ > 0) await bench.startS3();
          return transform(event);
        },
      });
      const outcome = await p.machine.run({ date: p.date });
      expect(invocationsOf(p, "transform")).to.deep.equal([{ ok: false, errorType: "Error" }, { ok: true }]);
      await verify("S3 restarted between ingest and transform", p, outcome, { outcome: "success" });
    });
  });

  describe("interrupted runs and code updates mid-run", () => {
    it("a run stopped after ingest (transform never ran): the re-run completes the date, same keys, no duplicates", async () => {
      const p = await setUp();
      const run: { execution?: RunningExecution } = {};
      const { ingest } = p.functions;
      p.machine.deploy({
        ingest: async (event) => {
          const result = await ingest(event);
          run.execution?.abort();
          return result;
        },
      });
      run.execution = p.machine.start({ date: p.date });
      const outcome = await run.execution.done;
      expect(invocationsOf(p, "transform")).to.deep.equal([]);
      expect(differences(await snapshot(p.raw), p.baseline.raw), "raw complete after the stopped run").to.deep.equal(
        [],
      );
      p.machine.deploy({ ingest });
      await verify("stopped after ingest", p, outcome, { outcome: "interrupted" });
    });

    it("a process that dies between a body and its manifest: the next scheduled run ingests the date again, no duplicates", async () => {
      const run: { execution?: RunningExecution } = {};
      const p = await setUp({
        hookRaw: (key) => {
          if (!key.endsWith(".request.json")) return Promise.resolve();
          run.execution?.abort();
          // The process is gone: this write, and everything after it, never happens.
          return Promise.reject(new Error("the process died before this write"));
        },
      });
      run.execution = p.machine.start({ date: p.date });
      const outcome = await run.execution.done;
      const [first] = bodyKeys(p.settings, p.date);
      expect([...(await snapshot(p.raw)).keys()], "the body is there, its manifest is not").to.deep.equal([first]);

      // The next scheduled run (no date): yesterday's raw data is incomplete, so it is fetched again.
      const next = machineFor(p.settings, p.raw, p.curated, { catchUpDays: 1, maxDatesPerRun: 1 });
      await verify("died between body and manifest", p, outcome, { outcome: "interrupted" }, () =>
        next.machine.run({}),
      );
      expect(
        next.machine.invocations.map((i) => `${i.role} ${(i.event as { date?: string }).date ?? "-"}`),
      ).to.deep.equal(["plan -", `ingest ${p.date}`, `transform ${p.date}`]);
    });

    it("a deploy mid-run: the invocation in flight finishes on the old code, the retry runs the new code, the date completes", async () => {
      const p = await setUp({ script: onBatch1Always(overloadedAnswer()) });
      const oldCode = p.functions;
      // The new version: a fresh cold start of the same handlers (another retry tuning).
      const newCode = machineFor(p.settings, p.raw, p.curated, { tuning: { ...TUNING, baseDelayMs: 1 } }).functions;
      const ran: string[] = [];
      p.machine.deploy({
        ingest: async (event) => {
          ran.push("ingest v1");
          // The deploy lands while this invocation runs: it goes on with the code it started with.
          p.machine.deploy({
            ingest: async (e) => {
              ran.push("ingest v2");
              bench.script = undefined; // the API has recovered by the time the state machine retries
              return newCode.ingest(e);
            },
            transform: async (e) => {
              ran.push("transform v2");
              return newCode.transform(e);
            },
          });
          return oldCode.ingest(event);
        },
      });
      const outcome = await p.machine.run({ date: p.date });
      expect(ran).to.deep.equal(["ingest v1", "ingest v2", "transform v2"]);
      expect(invocationsOf(p, "ingest")).to.deep.equal([{ ok: false, errorType: TRANSIENT_ERROR_NAME }, { ok: true }]);
      await verify("deploy mid-run", p, outcome, { outcome: "success" });
    });
  });

  describe("catch-up", () => {
    /** Five days ending yesterday: complete, raw only, nothing, complete, and yesterday not yet run. */
    async function windowWithGaps(maxDatesPerRun: number) {
      const settings = settingsWith();
      const d = (n: number) => addDays(DATE, -n);
      for (let n = 0; n <= 4; n++) await undisturbed(settings, d(n));
      const { raw, curated } = await bench.createBuckets();
      const setup = machineFor(settings, raw, curated);
      for (const date of [d(1), d(4)]) expect((await setup.machine.run({ date })).status).to.equal("SUCCEEDED");
      await setup.functions.ingest({ date: d(2) }); // raw only: a run that stopped after ingest
      const from = bench.fake.requests.length;
      const scheduled = machineFor(settings, raw, curated, { catchUpDays: 5, maxDatesPerRun });
      return { settings, d, raw, curated, scheduled, from };
    }

    it("one scheduled run fills the 3 missing dates of the window (one raw-only, two empty), in order", async () => {
      const { settings, d, raw, curated, scheduled, from } = await windowWithGaps(3);
      const outcome = await scheduled.machine.run({});
      expect(outcome.status, JSON.stringify(outcome)).to.equal("SUCCEEDED");
      expect(
        scheduled.machine.invocations.map((i) => `${i.role} ${(i.event as { date?: string }).date ?? "(scheduled)"}`),
      ).to.deep.equal([
        "plan (scheduled)",
        `ingest ${d(0)}`,
        `transform ${d(0)}`,
        `transform ${d(2)}`, // raw complete: transformed only, nothing fetched again
        `ingest ${d(3)}`,
        `transform ${d(3)}`,
      ]);
      const fetched = new Set(bench.fake.requests.slice(from).map((r) => r.params["start_date"]));
      expect([...fetched].sort()).to.deep.equal([d(3), d(0)]);
      // The whole window, raw and curated, is what five undisturbed runs write: nothing missing, nothing twice.
      const bases = await Promise.all([0, 1, 2, 3, 4].map((n) => undisturbed(settings, d(n))));
      const union = (part: "raw" | "curated"): Snapshot => new Map(bases.flatMap((b) => [...b[part]]));
      const lost =
        differences(await snapshot(raw), union("raw")).length +
        differences(await snapshot(curated), union("curated")).length;
      tally.push({ scenario: "catch-up of 3 dates", outcome: outcome.status, lost, refetched: 0 });
      expect(lost, "curated of the window differs from undisturbed runs").to.equal(0);
    });

    it("bounded by maxDatesPerRun: the oldest gap waits, and the next day's run fills it", async () => {
      const { settings, d, curated, scheduled, raw } = await windowWithGaps(2);
      const log = scheduled.log;
      const first = await scheduled.machine.run({});
      expect(first.status).to.equal("SUCCEEDED");
      expect(
        scheduled.machine.invocations
          .filter((i) => i.role === "transform")
          .map((i) => (i.event as { date: string }).date),
      ).to.deep.equal([d(0), d(2)]);
      expect(log.join("\n")).to.include(`1 more incomplete date(s) (${d(3)}) wait for later runs (maxDatesPerRun 2)`);
      expect(await curated.listKeys(`weather_hourly/date=${d(3)}/`)).to.deep.equal([]);

      const nextDay = machineFor(settings, raw, curated, {
        catchUpDays: 5,
        maxDatesPerRun: 2,
        now: new Date(NOW.getTime() + 86_400_000),
      });
      expect((await nextDay.machine.run({})).status).to.equal("SUCCEEDED");
      expect(
        nextDay.machine.invocations
          .filter((i) => i.role === "transform")
          .map((i) => (i.event as { date: string }).date),
      ).to.deep.equal([addDays(DATE, 1), d(3)]);
      const base = await undisturbed(settings, d(3));
      const got = new Map([
        ...(await snapshot(curated, `weather_hourly/date=${d(3)}/`)),
        ...(await snapshot(curated, `weather_daily/date=${d(3)}/`)),
      ]);
      const lost = differences(got, base.curated).length;
      tally.push({ scenario: "catch-up bounded by maxDatesPerRun", outcome: "SUCCEEDED", lost, refetched: 0 });
      expect(lost).to.equal(0);
    });
  });
});
