import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { runInThisContext } from "node:vm";
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { createIngestHandler, handleIngestEvent } from "../../pipeline/ingest/handler";
import { createPlanHandler } from "../../pipeline/operations/plan-handler";
import { createBackfillPlanHandler } from "../../pipeline/backfill/plan";
import { objectBackfillQueue } from "../../pipeline/applications/backfill-queue";
import { createTransformHandler, handleTransformEvent } from "../../pipeline/transform/handler";
import { curatedObjectKey } from "../../pipeline/core/keys";
import { startFakeOpenMeteo, type FakeOpenMeteo } from "../../pipeline/local/fake-open-meteo";
import { CURATED_PARTITIONS_WRITTEN, CURATED_ROWS_WRITTEN } from "../../pipeline/core/metrics";
import { DEFAULT_PIPELINE_SETTINGS, type PipelineSettings } from "../../pipeline/core/settings";
import { DirectoryObjectStore } from "../../pipeline/core/storage";
import { rejectionOf } from "../support/rejection";

const NOW = new Date("2025-07-20T06:00:00Z");

/** Loads serialized code the way Lambda loads __index.js, and returns its handler. */
function loadSerialized(text: string): (event: unknown) => Promise<unknown> {
  const module = { exports: {} as { handler: (event: unknown) => Promise<unknown> } };
  const load = runInThisContext(`(function (exports, module, require) {\n${text}\n})`) as (
    exports: object,
    module: object,
    load: NodeJS.Require,
  ) => void;
  load(module.exports, module, require);
  return module.exports.handler;
}

describe("the Lambda handlers", function () {
  let fake: FakeOpenMeteo;
  let directory: string;
  let settings: PipelineSettings;
  let rawStore: DirectoryObjectStore;
  let curatedStore: DirectoryObjectStore;

  before(async () => {
    fake = await startFakeOpenMeteo({ now: () => NOW });
    settings = { ...DEFAULT_PIPELINE_SETTINGS, forecastApiUrl: fake.forecastUrl, archiveApiUrl: fake.archiveUrl };
  });

  after(async () => {
    await fake.close();
  });

  beforeEach(async () => {
    directory = await mkdtemp(path.join(tmpdir(), "handlers-test-"));
    rawStore = new DirectoryObjectStore(path.join(directory, "raw"));
    curatedStore = new DirectoryObjectStore(path.join(directory, "curated"));
  });

  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it("transform emits one EMF line after the files are written, with the stack and what was written", async () => {
    const ingested = await createIngestHandler({
      settings,
      rawStore,
      now: () => NOW,
      log: () => undefined,
      stack: "handler-test",
    })({
      date: "2025-07-19",
    });
    const lines: string[] = [];
    const transform = createTransformHandler({
      settings,
      rawStore,
      curatedStore,
      stack: "weather-pipeline-dev",
      log: (line) => lines.push(line),
      now: () => NOW,
    });
    const result = await transform(ingested);
    expect(lines).to.have.lengthOf(1);
    const metric = JSON.parse(lines[0] ?? "") as Record<string, unknown>;
    expect(metric["Stack"]).to.equal("weather-pipeline-dev");
    expect(metric[CURATED_PARTITIONS_WRITTEN]).to.equal(2);
    expect(metric[CURATED_ROWS_WRITTEN]).to.equal(result.files.reduce((sum, f) => sum + f.rows, 0));
    expect(metric["date"]).to.equal("2025-07-19");
    expect((metric["_aws"] as { Timestamp: number }).Timestamp).to.equal(NOW.getTime());
    expect(await curatedStore.listKeys("")).to.eql([
      curatedObjectKey("weather_daily", "2025-07-19"),
      curatedObjectKey("weather_hourly", "2025-07-19"),
    ]);
  });

  it("transform emits no metric when it fails, so the freshness alarm sees the gap", async () => {
    const lines: string[] = [];
    const transform = createTransformHandler({
      settings,
      rawStore,
      curatedStore,
      stack: "s",
      log: (l) => lines.push(l),
    });
    const error = await rejectionOf(
      transform({ date: "2025-07-19", keys: ["open-meteo/forecast/date=2025-07-19/0000-000000000000.json"] }),
    );
    expect(error.message).to.include("0000-000000000000");
    expect(lines).to.eql([]);
    expect(() => createTransformHandler({ settings, rawStore, curatedStore, stack: "" })).to.throw(
      /stack name is empty/,
    );
  });

  it("plan turns {} into yesterday plus catch-up and a date into that date, and rejects other events", async () => {
    const plan = createPlanHandler({
      settings,
      rawStore,
      curatedStore,
      catchUpDays: 3,
      maxDatesPerRun: 5,
      now: () => NOW,
      log: () => undefined,
    });
    expect(await plan({})).to.deep.equal({
      dates: [{ date: "2025-07-19" }, { date: "2025-07-18" }, { date: "2025-07-17" }],
    });
    expect(await plan(null)).to.have.nested.property("dates[0].date", "2025-07-19");
    expect(await plan({ date: "2025-01-02", keys: ["x"] })).to.deep.equal({ dates: [{ date: "2025-01-02" }] });
    expect((await rejectionOf(plan({ date: 20250102 }))).message).to.include(`it must be a string "YYYY-MM-DD"`);
    expect((await rejectionOf(plan("2025-01-02"))).message).to.include(`send {} or {"date": "YYYY-MM-DD"}`);
  });

  it("plan and ingest refuse today and later in the stack's time zone: those days are forecasts", async () => {
    const plan = createPlanHandler({
      settings,
      rawStore,
      curatedStore,
      catchUpDays: 3,
      maxDatesPerRun: 5,
      now: () => NOW,
      log: () => undefined,
    });
    expect((await rejectionOf(plan({ date: "2025-07-20" }))).message).to.equal(
      "the event's date is 2025-07-20, today in UTC: the day is not over, so Open-Meteo would answer with forecasts, not observations; the latest date with data is 2025-07-19 (yesterday)",
    );
    const ingest = createIngestHandler({ settings, rawStore, now: () => NOW, log: () => undefined, stack: "dates" });
    expect((await rejectionOf(ingest({ date: "2025-07-21" }))).message).to.contain(
      "the event's date is 2025-07-21, in the future in UTC (today is 2025-07-20 there)",
    );
    // 06:00 UTC is 23:00 of the 19th in Los Angeles: yesterday in UTC is still today there.
    const behind = createIngestHandler({
      settings: { ...settings, timezone: "America/Los_Angeles" },
      rawStore,
      stack: "dates",
      now: () => NOW,
      log: () => undefined,
    });
    expect((await rejectionOf(behind({ date: "2025-07-19" }))).message).to.contain(
      "the event's date is 2025-07-19, today in America/Los_Angeles",
    );
    expect(await ingest({ date: "2025-07-19" })).to.have.property("date", "2025-07-19");
  });

  it("ingest via the factory stores the same keys as handleIngestEvent", async () => {
    const viaFactory = await createIngestHandler({ settings, rawStore, log: () => undefined, stack: "handler-test" })({
      date: "2025-07-19",
    });
    const originalLog = console.log;
    console.log = () => undefined; // handleIngestEvent logs to the console
    const direct = await handleIngestEvent({ date: "2025-07-19" }, { settings, rawStore }).finally(() => {
      console.log = originalLog;
    });
    expect(viaFactory.keys).to.eql(direct.keys);
    const transformed = await handleTransformEvent(viaFactory, { settings, rawStore, curatedStore });
    expect(transformed.files).to.have.lengthOf(2);
  });

  it("survive Pulumi's closure serializer: plan, ingest with a key, and transform with its metric", async function () {
    this.timeout(60_000);
    const raw = path.join(directory, "raw");
    const curated = path.join(directory, "curated");
    const serialized = await pulumi.runtime.serializeFunction(
      () => {
        const stores = { rawStore: new DirectoryObjectStore(raw), curatedStore: new DirectoryObjectStore(curated) };
        const lines: string[] = [];
        // A Date does not survive serialization (nor does Lambda code capture one): build it inside.
        const now = (): Date => new Date("2025-07-20T06:00:00Z");
        const plan = createPlanHandler({
          settings,
          ...stores,
          catchUpDays: 2,
          maxDatesPerRun: 2,
          now,
          log: () => undefined,
        });
        const ingest = createIngestHandler({
          settings,
          rawStore: stores.rawStore,
          loadApiKey: () => Promise.resolve("serialized-key"),
          now,
          log: () => undefined,
          stack: "serialized",
        });
        const transform = createTransformHandler({
          settings,
          ...stores,
          stack: "serialized",
          log: (l) => lines.push(l),
        });
        return async () => {
          const planned = await plan({});
          const item = (planned as { dates: { date: string }[] }).dates[0] as { date: string };
          const ingested = await ingest(item);
          const transformed = await transform(ingested);
          return { planned, keys: ingested.keys, files: transformed.files.length, lines };
        };
      },
      { isFactoryFunction: true },
    );
    const before = fake.requests.length;
    const out = (await loadSerialized(serialized.text)({})) as {
      planned: unknown;
      keys: string[];
      files: number;
      lines: string[];
    };
    expect(out.planned).to.deep.equal({ dates: [{ date: "2025-07-19" }, { date: "2025-07-18" }] });
    expect(out.keys).to.have.lengthOf(1);
    expect(out.files).to.equal(2);
    expect(JSON.parse(out.lines[0] ?? "{}")).to.have.property("Stack", "serialized");
    expect(fake.requests[before]?.params["apikey"]).to.equal("serialized-key");
  });

  it("survive Pulumi's closure serializer: the backfill planner, a window's ingest and its transform", async function () {
    this.timeout(60_000);
    const raw = path.join(directory, "raw");
    const curated = path.join(directory, "curated");
    const applications = path.join(directory, "applications");
    // A DST zone, so the day frames (Intl inside functions) and the fall-back day's extra day are serialized too.
    const berlin: PipelineSettings = { ...settings, timezone: "Europe/Berlin" };
    const serialized = await pulumi.runtime.serializeFunction(
      () => {
        const stores = { rawStore: new DirectoryObjectStore(raw), curatedStore: new DirectoryObjectStore(curated) };
        const applicationsStore = new DirectoryObjectStore(applications);
        const now = (): Date => new Date("2025-07-20T06:00:00Z");
        const plan = createBackfillPlanHandler({
          settings: berlin,
          curatedStore: stores.curatedStore,
          applicationsStore,
          maxWeightPerDay: 8000,
          now,
          log: () => undefined,
        });
        const ingest = createIngestHandler({
          settings: berlin,
          rawStore: stores.rawStore,
          now,
          log: () => undefined,
          stack: "serialized",
        });
        const transform = createTransformHandler({
          settings: berlin,
          ...stores,
          stack: "serialized",
          log: () => undefined,
        });
        return async () => {
          const planned = await plan({ from: "2024-10-20", to: "2024-10-31" });
          const files: number[] = [];
          for (const window of planned.windows) {
            const ingested = await ingest(window);
            files.push((await transform(ingested)).files.length);
          }
          // An accepted location's history over the same dates: planner, ingest, add-locations.
          const location = { name: "porto", latitude: 41.15, longitude: -8.61 };
          await objectBackfillQueue(applicationsStore).enqueueBackfill({
            locationId: "loc-porto",
            location,
            from: "2024-10-20",
            to: "2024-10-31",
            requestedAt: now().toISOString(),
            source: { key: "applications/incoming/p.csv", processingId: "p", row: 2 },
          });
          const history = await plan({ request: "applications/backfill-requests/loc-porto.json" });
          let added = 0;
          for (const window of history.windows) {
            const ingested = (await ingest(window)) as { keys: readonly string[] };
            const result = await transform({ ...window, keys: ingested.keys });
            added += (result as unknown as { addedDates: number }).addedDates;
          }
          return { windows: planned.windows.map((w) => `${w.from}_${w.to}`), files, added };
        };
      },
      { isFactoryFunction: true },
    );
    const out = (await loadSerialized(serialized.text)({})) as { windows: string[]; files: number[]; added: number };
    // Summer time ends on 2024-10-27: two windows, one per offset.
    expect(out.windows).to.deep.equal(["2024-10-20_2024-10-27", "2024-10-28_2024-10-31"]);
    expect(out.files).to.deep.equal([16, 8]);
    expect(await curatedStore.listKeys("weather_hourly/")).to.have.lengthOf(12);
    expect(out.added).to.equal(12);
  });
});
