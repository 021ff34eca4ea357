import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { planRunDates, type CatchUpDeps, type RunItem } from "../../pipeline/operations/catch-up";
import { ingestDate } from "../../pipeline/ingest/ingest";
import { curatedObjectKey, requestManifestKey } from "../../pipeline/core/keys";
import { startFakeOpenMeteo, type FakeOpenMeteo } from "../../pipeline/local/fake-open-meteo";
import { startLocalS3, type LocalS3Server } from "../../pipeline/local/s3-server";
import { DEFAULT_PIPELINE_SETTINGS, type PipelineSettings } from "../../pipeline/core/settings";
import { S3ObjectStore, type ObjectStore } from "../../pipeline/core/storage";
import { transformRawObjects } from "../../pipeline/transform/transform";

/** 08:00 in Berlin on 2025-07-20: yesterday there is 2025-07-19. */
const NOW = new Date("2025-07-20T06:00:00Z");

/** An ObjectStore that records every call, to prove what the planner touches. */
class RecordingStore implements ObjectStore {
  readonly calls: string[] = [];
  readonly description: string;

  constructor(private readonly inner: ObjectStore) {
    this.description = inner.description;
  }

  putObject(key: string, body: Uint8Array | string, options: { contentType: string }): Promise<void> {
    this.calls.push(`put ${key}`);
    return this.inner.putObject(key, body, options);
  }

  getObject(key: string): ReturnType<ObjectStore["getObject"]> {
    this.calls.push(`get ${key}`);
    return this.inner.getObject(key);
  }

  getObjectStream(key: string): ReturnType<ObjectStore["getObjectStream"]> {
    this.calls.push(`get ${key}`);
    return this.inner.getObjectStream(key);
  }

  listKeys(prefix: string): Promise<string[]> {
    this.calls.push(`list ${prefix}`);
    return this.inner.listKeys(prefix);
  }

  deleteObject(key: string): Promise<void> {
    this.calls.push(`delete ${key}`);
    return this.inner.deleteObject(key);
  }
}

describe("planning a run's dates (self-healing catch-up)", function () {
  let s3: LocalS3Server;
  let directory: string;
  let fake: FakeOpenMeteo;
  let settings: PipelineSettings;
  let rawStore: ObjectStore;
  let curatedStore: ObjectStore;
  let bucketIndex = 0;
  const buckets = Array.from({ length: 24 }, (_, i) => `catch-up-${i}`);

  before(async () => {
    directory = await mkdtemp(path.join(tmpdir(), "catch-up-test-"));
    s3 = await startLocalS3({ directory, buckets });
    fake = await startFakeOpenMeteo({ now: () => NOW });
    settings = {
      ...DEFAULT_PIPELINE_SETTINGS,
      timezone: "Europe/Berlin",
      forecastApiUrl: fake.forecastUrl,
      archiveApiUrl: fake.archiveUrl,
    };
  });

  after(async () => {
    await fake.close();
    await s3.close();
    await rm(directory, { recursive: true, force: true });
  });

  beforeEach(() => {
    rawStore = new S3ObjectStore(s3.client(), buckets[bucketIndex++] as string);
    curatedStore = new S3ObjectStore(s3.client(), buckets[bucketIndex++] as string);
  });

  const deps = (overrides: Partial<CatchUpDeps> = {}): CatchUpDeps => ({
    settings,
    rawStore,
    curatedStore,
    now: () => NOW,
    catchUpDays: 7,
    maxDatesPerRun: 10,
    log: () => undefined,
    ...overrides,
  });

  async function ingest(date: string, withSettings = settings): Promise<string[]> {
    const result = await ingestDate(
      { date },
      { settings: withSettings, rawStore, now: () => NOW, log: () => undefined },
    );
    return [...result.keys];
  }

  async function ingestAndTransform(date: string): Promise<void> {
    const keys = await ingest(date);
    await transformRawObjects({ date, keys }, { settings, rawStore, curatedStore });
  }

  /** Runs a plan as the state machine would: ingest where there are no keys, then transform. */
  async function execute(items: readonly RunItem[]): Promise<void> {
    for (const item of items) {
      const keys = item.keys ?? (await ingest(item.date));
      await transformRawObjects({ date: item.date, keys }, { settings, rawStore, curatedStore });
    }
  }

  it("runs exactly the date a manual run names, without looking at either bucket", async () => {
    const raw = new RecordingStore(rawStore);
    const curated = new RecordingStore(curatedStore);
    const plan = await planRunDates({ date: "2025-06-01" }, deps({ rawStore: raw, curatedStore: curated }));
    expect(plan).to.deep.equal({ dates: [{ date: "2025-06-01" }] });
    expect([...raw.calls, ...curated.calls]).to.eql([]);
  });

  it("rejects a manual date that is not a calendar date", async () => {
    let error: unknown;
    await planRunDates({ date: "2025-02-30" }, deps()).catch((e: unknown) => (error = e));
    expect(String(error)).to.include(`the run's date is "2025-02-30"; it must be a calendar date written YYYY-MM-DD`);
  });

  it("with empty buckets, schedules yesterday then the six days before it, newest first, each to ingest", async () => {
    const plan = await planRunDates({}, deps());
    expect(plan.dates).to.deep.equal(
      ["2025-07-19", "2025-07-18", "2025-07-17", "2025-07-16", "2025-07-15", "2025-07-14", "2025-07-13"].map(
        (date) => ({
          date,
        }),
      ),
    );
  });

  it("stops at maxDatesPerRun, yesterday included, and leaves the oldest gaps for later runs", async () => {
    const lines: string[] = [];
    const plan = await planRunDates({}, deps({ maxDatesPerRun: 3, log: (l) => lines.push(l) }));
    expect(plan.dates.map((d) => d.date)).to.eql(["2025-07-19", "2025-07-18", "2025-07-17"]);
    expect(lines.at(-1)).to.equal(
      "catch-up: 4 more incomplete date(s) (2025-07-16, 2025-07-15, 2025-07-14, 2025-07-13) wait for later runs (maxDatesPerRun 3)",
    );
  });

  it("checks only yesterday with catchUpDays 1, and lists nothing", async () => {
    const raw = new RecordingStore(rawStore);
    const curated = new RecordingStore(curatedStore);
    const plan = await planRunDates({}, deps({ catchUpDays: 1, rawStore: raw, curatedStore: curated }));
    expect(plan.dates).to.deep.equal([{ date: "2025-07-19" }]);
    expect([...raw.calls, ...curated.calls]).to.eql([]);
  });

  it("takes yesterday in the stack's time zone", async () => {
    // 00:30 on 2025-07-20 in Berlin, still 2025-07-19 in UTC.
    const lateEvening = new Date("2025-07-19T22:30:00Z");
    const berlin = await planRunDates({}, deps({ catchUpDays: 1, now: () => lateEvening }));
    const utc = await planRunDates(
      {},
      deps({ catchUpDays: 1, now: () => lateEvening, settings: { ...settings, timezone: "UTC" } }),
    );
    expect(berlin.dates).to.eql([{ date: "2025-07-19" }]);
    expect(utc.dates).to.eql([{ date: "2025-07-18" }]);
  });

  it("skips complete dates, transforms dates whose raw data is complete, ingests the rest, by listing only", async () => {
    await ingestAndTransform("2025-07-19"); // yesterday, complete: still fetched again
    await ingestAndTransform("2025-07-18"); // complete
    const rawOnly = await ingest("2025-07-17"); // raw complete, curated missing
    const [withoutManifest] = await ingest("2025-07-16");
    await rawStore.deleteObject(requestManifestKey(withoutManifest as string)); // raw incomplete
    await ingestAndTransform("2025-07-15");
    await curatedStore.deleteObject(curatedObjectKey("weather_daily", "2025-07-15")); // one dataset missing
    const fifteen = await rawStore.listKeys("open-meteo/forecast/date=2025-07-15/");
    // 2025-07-14: nothing at all
    await ingestAndTransform("2025-07-13"); // complete

    const raw = new RecordingStore(rawStore);
    const curated = new RecordingStore(curatedStore);
    const lines: string[] = [];
    const plan = await planRunDates({}, deps({ rawStore: raw, curatedStore: curated, log: (l) => lines.push(l) }));

    expect(plan.dates).to.deep.equal([
      { date: "2025-07-19" },
      { date: "2025-07-17", keys: rawOnly },
      { date: "2025-07-16" },
      { date: "2025-07-15", keys: fifteen.filter((k) => !k.endsWith(".request.json")) },
      { date: "2025-07-14" },
    ]);
    expect(curated.calls.sort()).to.eql(
      ["2025-07-18", "2025-07-17", "2025-07-16", "2025-07-15", "2025-07-14", "2025-07-13"]
        .flatMap((d) => [`list weather_daily/date=${d}/`, `list weather_hourly/date=${d}/`])
        .sort(),
    );
    expect(raw.calls.sort()).to.eql(
      ["2025-07-17", "2025-07-16", "2025-07-15", "2025-07-14"].map((d) => `list open-meteo/forecast/date=${d}/`).sort(),
    );
    expect(lines).to.include(
      "catch-up 2025-07-17: raw data complete (1 bodies) but curated output missing; transforming it",
    );
  });

  it("heals: after the planned items run, the next scheduled run has only yesterday to do", async () => {
    await ingestAndTransform("2025-07-18");
    await ingest("2025-07-16");
    const first = await planRunDates({}, deps());
    expect(first.dates).to.have.lengthOf(6);
    await execute(first.dates);
    const second = await planRunDates({}, deps());
    expect(second.dates).to.deep.equal([{ date: "2025-07-19" }]);
  });

  it("does not count raw data written with other settings (other request ids): that date is ingested again", async () => {
    const fewer = { ...settings, locations: settings.locations.slice(0, 1) };
    await ingest("2025-07-18", fewer);
    const plan = await planRunDates({}, deps({ catchUpDays: 2 }));
    expect(plan.dates).to.deep.equal([{ date: "2025-07-19" }, { date: "2025-07-18" }]);
  });

  it("counts a date complete with only the datasets that have variables", async () => {
    const hourlyOnly = { ...settings, dailyVariables: [] };
    const keys = await ingest("2025-07-18", hourlyOnly);
    await transformRawObjects({ date: "2025-07-18", keys }, { settings: hourlyOnly, rawStore, curatedStore });
    const plan = await planRunDates({}, deps({ catchUpDays: 2, settings: hourlyOnly }));
    expect(plan.dates).to.deep.equal([{ date: "2025-07-19" }]);
  });

  it("rejects a window or a cap that is not a whole number of at least 1", async () => {
    for (const [overrides, message] of [
      [{ catchUpDays: 0 }, "catchUpDays is 0; it must be a whole number, 1 or more"],
      [{ catchUpDays: 2.5 }, "catchUpDays is 2.5; it must be a whole number, 1 or more"],
      [{ maxDatesPerRun: 0 }, "maxDatesPerRun is 0; it must be a whole number, 1 or more"],
    ] as const) {
      let error: unknown;
      await planRunDates({}, deps(overrides)).catch((e: unknown) => (error = e));
      expect(String(error)).to.equal(`RangeError: ${message}`);
    }
  });
});
