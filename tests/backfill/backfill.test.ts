/**
 * The backfill end to end: the real backfill state machine definition run locally
 * (aws-local-stepfunctions, waits shortened), the planner, ingest and transform handlers
 * in-process, the fake Open-Meteo on 127.0.0.1 with its clock in December, folder stores.
 * A Europe/Berlin stack, so the ranges cross both DST changes.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { parquetReadObjects } from "hyparquet";
import { addDays } from "../../pipeline/core/dates";
import { curatedObjectKey, DATASETS, isRawBodyKey, rawBodyKey, requestManifestKey } from "../../pipeline/core/keys";
import type { RequestManifest } from "../../pipeline/core/manifest";
import { DEFAULT_PIPELINE_SETTINGS, type PipelineSettings } from "../../pipeline/core/settings";
import { DirectoryObjectStore, type ObjectStore } from "../../pipeline/core/storage";
import { ingestDate } from "../../pipeline/ingest/ingest";
import { transformRawObjects } from "../../pipeline/transform/transform";
import { planWindows } from "../../pipeline/backfill/windows";
import { planRunDates } from "../../pipeline/operations/catch-up";
import {
  answerOpenMeteoQuery,
  rateLimitAnswer,
  startFakeOpenMeteo,
  type FakeOpenMeteo,
  type FakeOpenMeteoOptions,
} from "../../pipeline/local/fake-open-meteo";
import { createLocalFunctions, LocalStateMachine, type LocalFunctions } from "../../pipeline/local/run-state-machine";

/** The API's and the pipeline's clock: a December morning, so July is fetched "in winter". */
const NOW = new Date("2024-12-10T07:00:00Z");
const STACK = "weather-pipeline-backfill-test";

const SETTINGS: PipelineSettings = {
  ...DEFAULT_PIPELINE_SETTINGS,
  timezone: "Europe/Berlin",
  locations: [
    { name: "amsterdam", latitude: 52.37, longitude: 4.89 },
    { name: "berlin", latitude: 52.52, longitude: 13.41 },
    { name: "lisbon", latitude: 38.72, longitude: -9.14 },
  ],
  hourlyVariables: ["temperature_2m", "relative_humidity_2m", "precipitation", "wind_speed_10m"],
  dailyVariables: ["temperature_2m_max", "temperature_2m_min", "precipitation_sum"],
  // Two locations per request at 35 days and 7 variables (weight 1.75 each): windows of two requests.
  http: { ...DEFAULT_PIPELINE_SETTINGS.http, maxWeightPerRequest: 4 },
};

function dates(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) out.push(d);
  return out;
}

async function rows(store: ObjectStore, key: string): Promise<Record<string, unknown>[]> {
  const { body } = await store.getObject(key);
  const buffer = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  return parquetReadObjects({ file: buffer });
}

describe("backfill, the real state machine run locally", function () {
  this.timeout(300_000);
  let root: string;
  let fake: FakeOpenMeteo | undefined;
  let n = 0;

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), "backfill-test-"));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  async function setUp(respond?: FakeOpenMeteoOptions["respond"], overrides: Partial<PipelineSettings> = {}) {
    fake = await startFakeOpenMeteo({ now: () => NOW, respond });
    const settings = { ...SETTINGS, ...overrides, forecastApiUrl: fake.forecastUrl, archiveApiUrl: fake.archiveUrl };
    const id = n++;
    const rawStore = new DirectoryObjectStore(path.join(root, `raw-${id}`));
    const curatedStore = new DirectoryObjectStore(path.join(root, `curated-${id}`));
    const functions = createLocalFunctions({
      settings,
      rawStore,
      curatedStore,
      stack: STACK,
      catchUpDays: 7,
      maxDatesPerRun: 7,
      now: () => NOW,
      retryTuning: { baseDelayMs: 1, maxDelayMs: 5, budgetMs: 5_000 },
    });
    const machine = (f: LocalFunctions = functions) =>
      new LocalStateMachine({ stack: STACK, functions: f, definition: "backfill", waitMs: 5, retryIntervalMs: 5 });
    return { settings, rawStore, curatedStore, functions, machine, server: fake };
  }

  /** What daily runs of the same endpoint write for each date, into a store of their own. */
  async function dailyRuns(settings: PipelineSettings, days: readonly string[]): Promise<ObjectStore> {
    const rawStore = new DirectoryObjectStore(path.join(root, `daily-raw-${n}`));
    const curatedStore = new DirectoryObjectStore(path.join(root, `daily-curated-${n++}`));
    for (const date of days) {
      const ingest = await ingestDate({ date }, { settings, rawStore, now: () => NOW, log: () => undefined });
      await transformRawObjects(ingest, { settings, rawStore, curatedStore });
    }
    return curatedStore;
  }

  it("writes every date of a range across both DST changes, byte for byte what daily runs write", async () => {
    const { settings, curatedStore, machine, server } = await setUp();
    const range = { from: "2024-03-20", to: "2024-04-05" };
    const autumn = { from: "2024-10-20", to: "2024-11-03" };
    for (const r of [range, autumn]) {
      const outcome = await machine().run(r);
      expect(outcome.status, outcome.cause).to.equal("SUCCEEDED");
    }
    const backfillRequests = server.requests.length;
    const all = [...dates(range.from, range.to), ...dates(autumn.from, autumn.to)];
    const daily = await dailyRuns(settings, all);
    // The fake counted what the windows cost; daily runs cost a floor of 1 per location and date.
    expect(backfillRequests).to.be.lessThan(all.length);
    for (const date of all) {
      for (const dataset of DATASETS) {
        const key = curatedObjectKey(dataset, date);
        const [ours, theirs] = await Promise.all([curatedStore.getObject(key), daily.getObject(key)]);
        expect(Buffer.from(ours.body).equals(Buffer.from(theirs.body)), `${key} differs from the daily run's`).to.equal(
          true,
        );
      }
    }
    // The switch days have their true lengths: 23 and 25 hours per location.
    const spring = await rows(curatedStore, curatedObjectKey("weather_hourly", "2024-03-31"));
    const fall = await rows(curatedStore, curatedObjectKey("weather_hourly", "2024-10-27"));
    expect(spring.length).to.equal(23 * 3);
    expect(fall.length).to.equal(25 * 3);
    const times = (r: Record<string, unknown>[]) =>
      r.filter((row) => row["location"] === "berlin").map((row) => (row["time"] as Date).toISOString());
    expect(times(spring)[0]).to.equal("2024-03-30T23:00:00.000Z");
    expect(times(spring).at(-1)).to.equal("2024-03-31T21:00:00.000Z");
    expect(times(fall)[0]).to.equal("2024-10-26T22:00:00.000Z");
    expect(times(fall).at(-1)).to.equal("2024-10-27T22:00:00.000Z");
  });

  it("waits for the reset after an hourly 429 mid-backfill, then completes without fetching a stored body twice", async () => {
    let hourlySent = false;
    const { settings, rawStore, curatedStore, machine, server } = await setUp(
      (request) => {
        // The 2nd request of the backfill meets the hourly limit once, with the 1st body stored.
        if (request.index === 1 && !hourlySent) {
          hourlySent = true;
          return rateLimitAnswer("hourly");
        }
        return undefined;
      },
      // A weight limit of 2: windows of several requests, so the limit falls inside one.
      { http: { ...SETTINGS.http, maxWeightPerRequest: 2 } },
    );
    const range = { from: "2024-07-01", to: "2024-08-31" };
    const plan = planWindows(settings, range, "2024-12-10");
    expect(plan.windows[0]!.requests).to.be.greaterThan(2);
    const outcome = await machine().run(range);
    expect(outcome.status, outcome.cause).to.equal("SUCCEEDED");
    expect(outcome.states).to.include("WaitForRateLimit");
    expect(outcome.states).to.not.include("AlertWindowFailure");
    // Every planned request once, plus the one refused.
    expect(server.requests.length).to.equal(plan.requests + 1);
    const rawKeys = (await rawStore.listKeys("open-meteo/")).filter(isRawBodyKey);
    expect(rawKeys.length).to.equal(plan.requests);
    for (const date of dates(range.from, range.to)) {
      const hourly = await rows(curatedStore, curatedObjectKey("weather_hourly", date));
      expect(hourly.length, date).to.equal(24 * 3);
    }
  });

  it("resumes after an interruption: no date missing, none duplicated, complete windows not fetched again", async () => {
    const { settings, rawStore, curatedStore, functions, machine, server } = await setUp();
    const range = { from: "2024-05-01", to: "2024-08-31" };
    const plan = planWindows(settings, range, "2024-12-10");
    expect(plan.windows.length).to.be.greaterThan(2);
    // Stop the execution as soon as the first window is written (what Ctrl-C does to a local run).
    let stop: () => void = () => undefined;
    const stopping: LocalFunctions = {
      ...functions,
      transform: async (event) => {
        const result = await functions.transform(event);
        stop();
        return result;
      },
    };
    const first = machine(stopping).start(range);
    stop = () => first.abort();
    expect((await first.done).status).to.equal("ABORTED");
    const afterFirst = server.requests.length;
    const firstWindow = plan.windows[0]!;
    expect(afterFirst).to.equal(firstWindow.requests);

    const second = await machine().run(range);
    expect(second.status, second.cause).to.equal("SUCCEEDED");
    // The second run planned without the complete window and fetched only the rest.
    expect(server.requests.length - afterFirst).to.equal(plan.requests - firstWindow.requests);
    const rawKeys = (await rawStore.listKeys("open-meteo/")).filter(isRawBodyKey);
    expect(new Set(rawKeys).size).to.equal(plan.requests);
    const curated = await curatedStore.listKeys("");
    const expected = dates(range.from, range.to).flatMap((d) => DATASETS.map((ds) => curatedObjectKey(ds, d)));
    expect(curated.filter((k) => k.endsWith(".parquet")).sort()).to.deep.equal(expected.sort());
    for (const date of dates(range.from, range.to)) {
      const hourly = await rows(curatedStore, curatedObjectKey("weather_hourly", date));
      expect(hourly.length, date).to.equal(24 * 3);
    }
    // A third run finds nothing to do.
    const third = await machine().run(range);
    expect(third.status).to.equal("SUCCEEDED");
    expect(third.output).to.deep.include({ windows: 0, skippedWindows: plan.windows.length });
  });

  it("refuses a July body asked as Europe/Berlin in December (the old way), naming the date and the fix", async () => {
    const date = "2024-07-01";
    const store = new DirectoryObjectStore(path.join(root, `old-way-${n++}`));
    const location = SETTINGS.locations[1]!;
    const params = {
      latitude: String(location.latitude),
      longitude: String(location.longitude),
      hourly: SETTINGS.hourlyVariables.join(","),
      daily: SETTINGS.dailyVariables.join(","),
      timezone: "Europe/Berlin",
      start_date: date,
      end_date: date,
    };
    const answer = answerOpenMeteoQuery("/v1/archive", params, { now: NOW });
    expect(answer.body).to.include('"utc_offset_seconds":3600');
    const key = rawBodyKey("archive", date, "0000-000000000000");
    await store.putObject(key, answer.body, { contentType: "application/json" });
    const manifest: RequestManifest = {
      version: 1,
      endpoint: "archive",
      date,
      requestId: "0000-000000000000",
      url: "https://archive-api.open-meteo.com/v1/archive?...",
      locations: [location],
      hourlyVariables: SETTINGS.hourlyVariables,
      dailyVariables: SETTINGS.dailyVariables,
      timezone: "Europe/Berlin",
      fetchedAt: NOW.toISOString(),
      bodyBytes: answer.body.length,
      bodySha256: "",
    };
    await store.putObject(requestManifestKey(key), JSON.stringify(manifest), { contentType: "application/json" });
    let message = "";
    await transformRawObjects(
      { date, keys: [key] },
      { settings: SETTINGS, rawStore: store, curatedStore: store },
    ).catch((e: Error) => (message = e.message));
    expect(message).to.include(
      "has utc_offset_seconds 3600, but 2024-07-01 starts at UTC offset 7200 s in Europe/Berlin",
    );
    expect(message).to.include("open-meteo issues 261, 488, 1764").and.include("Etc/GMT-2");
    expect(await store.listKeys("weather_")).to.deep.equal([]);
  });

  it("leaves the daily run's catch-up nothing to do on backfilled dates (forecast-endpoint dates included)", async () => {
    const { settings, rawStore, curatedStore, machine } = await setUp();
    // Up to the day before yesterday: within forecastPastDays, so the forecast endpoint, as the daily run.
    const outcome = await machine().run({ from: "2024-11-20", to: "2024-12-08" });
    expect(outcome.status, outcome.cause).to.equal("SUCCEEDED");
    const plan = await planRunDates(
      {},
      { settings, rawStore, curatedStore, now: () => NOW, catchUpDays: 14, maxDatesPerRun: 14, log: () => undefined },
    );
    expect(plan.dates).to.deep.equal([{ date: "2024-12-09" }]);
  });

  it("alerts and dead-letters a failed window like a daily date, with the window as the redrive input", async () => {
    const { machine } = await setUp((request) =>
      request.index === 1
        ? { kind: "json", status: 400, body: { error: true, reason: "Invalid timezone" } }
        : undefined,
    );
    const local = machine();
    const outcome = await local.run({ from: "2024-07-01", to: "2024-08-31" });
    expect(outcome.status).to.equal("FAILED");
    expect(outcome.error).to.equal("BackfillFailed");
    expect(local.topic).to.have.length(1);
    expect(local.topic[0]!.message).to.include("IngestWindow").and.include("Invalid timezone");
    expect(local.queue).to.have.length(1);
    const input = JSON.parse(local.queue[0]!.body) as { from: string; to: string };
    expect(input.from <= input.to).to.equal(true);
    expect(input.from >= "2024-07-01" && input.to <= "2024-08-31").to.equal(true);
  });

  it("refuses in the planner a range over the budget unless spread, and a --to later than yesterday", async () => {
    const { machine, functions } = await setUp();
    const tight: LocalFunctions = {
      ...functions,
      backfillPlan: createLocalFunctions({
        settings: SETTINGS,
        rawStore: new DirectoryObjectStore(path.join(root, "unused-raw")),
        curatedStore: new DirectoryObjectStore(path.join(root, "unused-curated")),
        stack: STACK,
        catchUpDays: 7,
        maxDatesPerRun: 7,
        now: () => NOW,
        backfillMaxWeightPerDay: 10,
      }).backfillPlan,
    };
    const refused = await machine(tight).run({ from: "2024-01-01", to: "2024-06-30" });
    expect(refused.status).to.equal("FAILED");
    const late = await machine().run({ from: "2024-12-01", to: "2024-12-10" });
    expect(late.status).to.equal("FAILED");
  });
});
