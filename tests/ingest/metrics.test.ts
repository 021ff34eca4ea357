import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import {
  KIND_DIMENSION,
  METRICS_NAMESPACE,
  OPEN_METEO_BYTES,
  OPEN_METEO_RATE_LIMITED,
  OPEN_METEO_REQUESTS,
  OPEN_METEO_RETRIES,
  OPEN_METEO_WEIGHT,
  PIPELINE_METRICS,
  RATE_LIMIT_KINDS,
  STACK_DIMENSION,
} from "../../pipeline/core/metrics";
import { DEFAULT_PIPELINE_SETTINGS, type PipelineSettings } from "../../pipeline/core/settings";
import { DirectoryObjectStore } from "../../pipeline/core/storage";
import { createIngestHandler } from "../../pipeline/ingest/handler";
import { rateLimitKind } from "../../pipeline/ingest/http";
import { formatIngestMetricLines, emptyIngestTotals } from "../../pipeline/ingest/metrics";
import { planRequests } from "../../pipeline/ingest/openmeteo-request";
import {
  OPEN_METEO_REASONS,
  errorAnswer,
  overloadedAnswer,
  rateLimitAnswer,
  startFakeOpenMeteo,
  type FakeAnswer,
  type FakeOpenMeteo,
} from "../../pipeline/local/fake-open-meteo";
import { emfDatapointsOf, sumOf } from "../support/emf";
import { rejectionOf } from "../support/rejection";

const NOW = new Date("2025-07-20T06:00:00Z");
const DATE = "2025-07-19";
const STACK = "weather-pipeline-metrics";
const FAST = { baseDelayMs: 5, maxDelayMs: 20, budgetMs: 5_000 };

describe("the ingest's metric lines", function () {
  let directory: string;
  let fake: FakeOpenMeteo | undefined;

  beforeEach(async () => {
    directory = await mkdtemp(path.join(tmpdir(), "ingest-metrics-"));
  });

  afterEach(async () => {
    await fake?.close();
    fake = undefined;
    await rm(directory, { recursive: true, force: true });
  });

  /** Runs the ingest handler once against the fake playing `script` (one answer per request, then normal). */
  async function ingestWith(script: (FakeAnswer | undefined)[], retries: number) {
    fake = await startFakeOpenMeteo({ now: () => NOW, respond: ({ index }) => script[index] });
    const settings: PipelineSettings = {
      ...DEFAULT_PIPELINE_SETTINGS,
      forecastApiUrl: fake.forecastUrl,
      archiveApiUrl: fake.archiveUrl,
      http: { ...DEFAULT_PIPELINE_SETTINGS.http, timeoutMs: 2_000, retries },
    };
    const rawStore = new DirectoryObjectStore(directory);
    const lines: string[] = [];
    const handler = createIngestHandler({
      settings,
      rawStore,
      now: () => NOW,
      retryTuning: FAST,
      log: (line) => lines.push(line),
      stack: STACK,
    });
    const outcome = await handler({ date: DATE }).then(
      (result) => ({ result, error: undefined }),
      (error: unknown) => ({ result: undefined, error }),
    );
    const [planned] = planRequests(settings, DATE, "forecast");
    return { ...outcome, lines, points: emfDatapointsOf(lines), rawStore, weight: planned!.weight, server: fake };
  }

  it("counts requests, retries, 429s by kind, bytes and weight of a run that got through", async () => {
    const run = await ingestWith([overloadedAnswer(), rateLimitAnswer("concurrency")], 3);
    expect(run.error).to.equal(undefined);
    const sent = run.server.requests.length;
    expect(sent).to.equal(3);
    const dims = { [STACK_DIMENSION]: STACK };
    expect(sumOf(run.points, OPEN_METEO_REQUESTS, dims)).to.equal(sent);
    expect(sumOf(run.points, OPEN_METEO_RETRIES, dims)).to.equal(2);
    expect(sumOf(run.points, OPEN_METEO_WEIGHT, dims)).to.be.closeTo(sent * run.weight, 1e-9);
    let stored = 0;
    for (const key of run.result!.keys) stored += (await run.rawStore.getObject(key)).body.length;
    expect(stored).to.be.greaterThan(0);
    expect(sumOf(run.points, OPEN_METEO_BYTES, dims)).to.equal(stored);
    expect(sumOf(run.points, OPEN_METEO_RATE_LIMITED, { ...dims, [KIND_DIMENSION]: "concurrency" })).to.equal(1);
    expect(run.points.filter((p) => p.name === OPEN_METEO_RATE_LIMITED)).to.have.length(1);
    expect(new Set(run.points.map((p) => p.namespace))).to.deep.equal(new Set([METRICS_NAMESPACE]));
    // Every point is in the catalogue, with the catalogue's unit and dimensions.
    for (const point of run.points) {
      const definition = PIPELINE_METRICS.find((m) => m.name === point.name);
      expect(definition, point.name).to.not.equal(undefined);
      expect(point.unit).to.equal(definition!.unit);
      expect(Object.keys(point.dimensions)).to.deep.equal([STACK_DIMENSION, ...definition!.dimensions]);
      expect(definition!.emittedBy).to.equal("ingest");
    }
    expect(JSON.parse(run.lines.find((l) => l.includes(OPEN_METEO_REQUESTS))!)).to.include({
      outcome: "succeeded",
      date: DATE,
    });
  });

  for (const kind of ["minutely", "hourly", "daily", "unnamed"] as const) {
    it(`reports a ${kind} 429 of a run that failed on it, with the Kind dimension`, async () => {
      const answer = kind === "unnamed" ? errorAnswer(429, "Slow down") : rateLimitAnswer(kind);
      // No retries: a minutely 429 waits for the next minute of the real clock, which a test cannot.
      const run = await ingestWith([answer], 0);
      expect(run.error).to.be.instanceOf(Error);
      expect(sumOf(run.points, OPEN_METEO_REQUESTS)).to.equal(1);
      expect(sumOf(run.points, OPEN_METEO_BYTES)).to.equal(0);
      expect(sumOf(run.points, OPEN_METEO_WEIGHT)).to.be.closeTo(run.weight, 1e-9);
      const limited = run.points.filter((p) => p.name === OPEN_METEO_RATE_LIMITED);
      expect(limited.map((p) => p.dimensions)).to.deep.equal([{ [STACK_DIMENSION]: STACK, [KIND_DIMENSION]: kind }]);
      expect(JSON.parse(run.lines.find((l) => l.includes(OPEN_METEO_REQUESTS))!)).to.include({ outcome: "failed" });
    });
  }

  it("prints nothing for an event refused before any request", async () => {
    fake = await startFakeOpenMeteo({ now: () => NOW });
    const lines: string[] = [];
    const handler = createIngestHandler({
      settings: { ...DEFAULT_PIPELINE_SETTINGS, forecastApiUrl: fake.forecastUrl, archiveApiUrl: fake.archiveUrl },
      rawStore: new DirectoryObjectStore(directory),
      log: (line) => lines.push(line),
      stack: STACK,
    });
    await rejectionOf(handler({ date: "2025-02-30" }));
    expect(lines).to.deep.equal([]);
    expect(formatIngestMetricLines(emptyIngestTotals(), STACK, NOW)).to.deep.equal([]);
  });

  it("names the limit of each 429 reason the real API sends, and only kinds the catalogue lists", () => {
    expect(rateLimitKind(OPEN_METEO_REASONS.minutely)).to.equal("minutely");
    expect(rateLimitKind(OPEN_METEO_REASONS.hourly)).to.equal("hourly");
    expect(rateLimitKind(OPEN_METEO_REASONS.daily)).to.equal("daily");
    expect(rateLimitKind(OPEN_METEO_REASONS.concurrency)).to.equal("concurrency");
    expect(rateLimitKind("(no body)")).to.equal("unnamed");
    expect([...RATE_LIMIT_KINDS].sort()).to.deep.equal(["concurrency", "daily", "hourly", "minutely", "unnamed"]);
  });

  it("refuses an empty stack name", () => {
    expect(() =>
      createIngestHandler({
        settings: DEFAULT_PIPELINE_SETTINGS,
        rawStore: new DirectoryObjectStore(directory),
        stack: " ",
      }),
    ).to.throw("the ingest handler's stack name is empty; pass the stack name");
  });
});
