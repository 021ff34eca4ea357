/**
 * An accepted start_date's effect: the history of that location, through the backfill
 * capability. The real intake accepts a file (s3rver on 127.0.0.1), its request object starts
 * the real backfill state machine run locally ({request}, as EventBridge starts it on AWS), the
 * fake Open-Meteo answers, and every date the stack has files of is written again with the new
 * location, whose rows equal what daily runs with it in the config would have written.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { parquetReadObjects } from "hyparquet";
import { backfillRequestKey, objectBackfillQueue, readBackfillRequest, type Notice } from "../../pipeline/applications";
import { planLocationBackfill, type BackfillRunPlan } from "../../pipeline/backfill";
import { addDays } from "../../pipeline/core/dates";
import { curatedObjectKey, DATASETS } from "../../pipeline/core/keys";
import { DEFAULT_PIPELINE_SETTINGS, type PipelineSettings } from "../../pipeline/core/settings";
import { DirectoryObjectStore, ObjectNotFoundError, type ObjectStore } from "../../pipeline/core/storage";
import { ingestDate } from "../../pipeline/ingest/ingest";
import { transformRawObjects } from "../../pipeline/transform/transform";
import { addLocationsToDates } from "../../pipeline/transform";
import { startFakeOpenMeteo, type FakeOpenMeteo } from "../../pipeline/local/fake-open-meteo";
import { createLocalFunctions, LocalStateMachine } from "../../pipeline/local/run-state-machine";
import { parseDeadLetterBody } from "../../pipeline/operations/redrive";
import { NOW, startDropZone, submit, type DropZone } from "./drop-zone";

const STACK = "weather-pipeline-history-test";
const BASE: PipelineSettings = {
  ...DEFAULT_PIPELINE_SETTINGS,
  timezone: "UTC",
  locations: [
    { name: "berlin", latitude: 52.52, longitude: 13.41 },
    { name: "lisbon", latitude: 38.72, longitude: -9.14 },
  ],
  hourlyVariables: ["temperature_2m", "precipitation"],
  dailyVariables: ["temperature_2m_max"],
};

function dates(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) out.push(d);
  return out;
}

async function rowsOf(store: ObjectStore, key: string): Promise<Record<string, unknown>[]> {
  const { body } = await store.getObject(key);
  const buffer = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  const rows = await parquetReadObjects({ file: buffer });
  const order = (r: Record<string, unknown>) => `${String(r["location"])} ${String(r["time"] ?? r["date"])}`;
  return rows.sort((a, b) => (order(a) < order(b) ? -1 : 1));
}

async function exists(store: ObjectStore, key: string): Promise<boolean> {
  try {
    await store.getObject(key);
    return true;
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return false;
    throw error;
  }
}

describe("applications: an accepted start_date backfills that location (real backfill definition, s3rver)", function () {
  this.timeout(300_000);
  let zone: DropZone;
  let fake: FakeOpenMeteo;
  let settings: PipelineSettings;
  let root: string;

  before(async () => {
    zone = await startDropZone(["apps", "raw", "curated"]);
    fake = await startFakeOpenMeteo({ now: () => NOW });
    settings = { ...BASE, forecastApiUrl: fake.forecastUrl, archiveApiUrl: fake.archiveUrl };
    root = await mkdtemp(path.join(tmpdir(), "history-"));
  });
  after(async () => {
    await fake?.close();
    await zone?.close();
    await rm(root, { recursive: true, force: true });
  });

  const stores = () => ({
    applicationsStore: zone.store("apps"),
    rawStore: zone.store("raw"),
    curatedStore: zone.store("curated"),
  });
  const machine = (api: PipelineSettings = settings) =>
    new LocalStateMachine({
      stack: STACK,
      definition: "backfill",
      waitMs: 5,
      retryIntervalMs: 5,
      functions: createLocalFunctions({
        settings: api,
        ...stores(),
        stack: STACK,
        catchUpDays: 1,
        maxDatesPerRun: 1,
        now: () => NOW,
        retryTuning: { baseDelayMs: 1, maxDelayMs: 5, budgetMs: 5_000 },
      }),
    });

  // The stack's history: a backfill of 2026-11-01 to 11-10 (window bodies), daily runs of 11-11
  // and 11-12 (a body per date); nothing from 11-13 on. "Today" is 2026-11-20.
  const stackDates = dates("2026-11-01", "2026-11-12");
  let request: string;
  let filesBefore: Map<string, Buffer>;

  it("accepts the location and queues its history from the start_date to the day before", async () => {
    const outcome = await machine().run({ from: "2026-11-01", to: "2026-11-10" });
    expect(outcome.status, outcome.cause).to.equal("SUCCEEDED");
    const { rawStore, curatedStore } = stores();
    for (const date of ["2026-11-11", "2026-11-12"]) {
      const ingest = await ingestDate({ date }, { settings, rawStore, now: () => NOW, log: () => undefined });
      await transformRawObjects(ingest, { settings, rawStore, curatedStore });
    }
    filesBefore = new Map();
    for (const date of stackDates) {
      for (const dataset of DATASETS) {
        const key = curatedObjectKey(dataset, date);
        filesBefore.set(key, Buffer.from((await curatedStore.getObject(key)).body));
      }
    }
    const notices: Notice[] = [];
    const result = await submit(
      zone.deps("apps", notices, { settings }),
      "porto.csv",
      Buffer.from("name,latitude,longitude,start_date\nporto,41.15,-8.61,2026-10-25\n"),
    );
    expect(result.accepted.map((r) => r.name)).to.deep.equal(["porto"]);
    const id = result.accepted[0]!.id;
    request = backfillRequestKey(id);
    expect(result.backfills).to.deep.equal([
      { locationId: id, from: "2026-10-25", to: "2026-11-19", reference: `s3://apps/${request}` },
    ]);
    const read = await readBackfillRequest(zone.store("apps"), request);
    expect(read.location).to.deep.equal({ name: "porto", latitude: 41.15, longitude: -8.61 });
  });

  it("adds the location to every date the stack has files of, as daily runs with it in the config write them", async () => {
    const requestsBefore = fake.requests.length;
    const outcome = await machine().run({ request });
    expect(outcome.status, outcome.cause).to.equal("SUCCEEDED");
    // Only porto was fetched: every request since names one location.
    const sent = fake.requests.slice(requestsBefore);
    expect(sent.length).to.be.greaterThan(0);
    for (const r of sent) expect(r.params["latitude"]).to.equal("41.15");

    // Reference: daily runs of the same dates with porto in the config.
    const withPorto = {
      ...settings,
      locations: [...settings.locations, { name: "porto", latitude: 41.15, longitude: -8.61 }],
    };
    const rawStore = new DirectoryObjectStore(path.join(root, "raw"));
    const reference = new DirectoryObjectStore(path.join(root, "curated"));
    const { curatedStore } = stores();
    for (const date of stackDates) {
      const ingest = await ingestDate(
        { date },
        { settings: withPorto, rawStore, now: () => NOW, log: () => undefined },
      );
      await transformRawObjects(ingest, { settings: withPorto, rawStore, curatedStore: reference });
      for (const dataset of DATASETS) {
        const key = curatedObjectKey(dataset, date);
        const ours = await rowsOf(curatedStore, key);
        expect(ours.map((r) => r["location"])).to.include("porto");
        expect(ours, `${key}`).to.deep.equal(await rowsOf(reference, key));
      }
    }
    // Dates without files are the stack's own backfill's (with every location): none was written.
    for (const date of [...dates("2026-10-25", "2026-10-31"), ...dates("2026-11-13", "2026-11-19")]) {
      expect(await exists(curatedStore, curatedObjectKey("weather_hourly", date)), date).to.equal(false);
    }
  });

  it("run again (a repeated event, a redrive), fetches and writes nothing", async () => {
    const { curatedStore } = stores();
    const after: Map<string, Buffer> = new Map();
    for (const key of filesBefore.keys()) after.set(key, Buffer.from((await curatedStore.getObject(key)).body));
    const requestsBefore = fake.requests.length;
    const outcome = await machine().run({ request });
    expect(outcome.status, outcome.cause).to.equal("SUCCEEDED");
    expect(fake.requests.length).to.equal(requestsBefore);
    for (const [key, bytes] of after) {
      expect(Buffer.from((await curatedStore.getObject(key)).body).equals(bytes), key).to.equal(true);
      // And the history did change them: each holds porto now.
      expect(bytes.equals(filesBefore.get(key)!), key).to.equal(false);
    }
  });

  it("the stack's own backfill fetches the registry's locations with the config's, so dates it writes keep the accepted one", async () => {
    const outcome = await machine().run({ from: "2026-11-13", to: "2026-11-15" });
    expect(outcome.status, outcome.cause).to.equal("SUCCEEDED");
    for (const date of dates("2026-11-13", "2026-11-15")) {
      const names = new Set(
        (await rowsOf(stores().curatedStore, curatedObjectKey("weather_hourly", date))).map((r) => r["location"]),
      );
      expect([...names].sort(), date).to.deep.equal(["berlin", "lisbon", "porto"]);
    }
    // And the history, run again, finds those dates holding porto already.
    const requestsBefore = fake.requests.length;
    const again = await machine().run({ request });
    expect(again.status, again.cause).to.equal("SUCCEEDED");
    expect(fake.requests.length).to.equal(requestsBefore);
  });

  it("a window that fails alerts and dead-letters {request}; that message redriven completes the history", async () => {
    // The API refuses every request for faro (a 400 is not retried).
    const failing = await startFakeOpenMeteo({
      now: () => NOW,
      respond: (r) =>
        r.params["latitude"] === "37.02"
          ? { kind: "json", status: 400, body: { error: true, reason: "Parameter 'latitude' rejected for this test" } }
          : undefined,
    });
    try {
      await objectBackfillQueue(zone.store("apps")).enqueueBackfill({
        locationId: "loc-faro",
        location: { name: "faro", latitude: 37.02, longitude: -7.93 },
        from: "2026-11-08",
        to: "2026-11-12",
        requestedAt: NOW.toISOString(),
        source: { key: "applications/incoming/faro.csv", processingId: "p", row: 2 },
      });
      const broken = machine({ ...settings, forecastApiUrl: failing.forecastUrl, archiveApiUrl: failing.archiveUrl });
      const failed = await broken.run({ request: backfillRequestKey("loc-faro") });
      expect(failed.status).to.equal("FAILED");
      expect(broken.topic.map((a) => a.message).join("\n")).to.contain("IngestLocations");
      expect(broken.queue.map((m) => JSON.parse(m.body) as unknown)).to.deep.equal([
        { request: backfillRequestKey("loc-faro") },
      ]);
      // What `pipeline redrive` starts for that message, once the API answers again.
      const input = parseDeadLetterBody(broken.queue[0]!.body);
      const redriven = await machine().run(input);
      expect(redriven.status, redriven.cause).to.equal("SUCCEEDED");
      for (const date of dates("2026-11-08", "2026-11-12")) {
        const names = (await rowsOf(stores().curatedStore, curatedObjectKey("weather_daily", date))).map(
          (r) => r["location"],
        );
        expect(names, date).to.include("faro");
      }
    } finally {
      await failing.close();
    }
  });

  it("refuses to write again a date whose file does not list its raw bodies, naming the file and the fix", async () => {
    const curatedStore = new DirectoryObjectStore(path.join(root, "unlisted"));
    const key = curatedObjectKey("weather_hourly", "2026-11-03");
    await curatedStore.putObject(key, "PAR1", { contentType: "application/vnd.apache.parquet" });
    const error = await addLocationsToDates(
      { from: "2026-11-03", to: "2026-11-03", keys: [], locations: [{ name: "porto" }] },
      { settings, rawStore: stores().rawStore, curatedStore },
    ).catch((e: Error) => e);
    expect((error as Error).message).to.match(
      /weather_hourly_2026-11-03\.parquet has no source-keys metadata .*run that date again \(the stack's state machine with \{"date": "2026-11-03"\}/,
    );
    await curatedStore.putObject(key, "PAR1", {
      contentType: "application/vnd.apache.parquet",
      metadata: { "source-key-count": "40", "source-keys-sha256": "ab" },
    });
    const many = await addLocationsToDates(
      { from: "2026-11-03", to: "2026-11-03", keys: [], locations: [{ name: "porto" }] },
      { settings, rawStore: stores().rawStore, curatedStore },
    ).catch((e: Error) => e);
    expect((many as Error).message).to.match(
      /was made of 40 raw bodies, too many to list .*add the location to the stack's config and backfill 2026-11-03 instead/,
    );
  });

  it("plans nothing for a location the config has by name (config wins), paced under the budget otherwise", async () => {
    const queue = objectBackfillQueue(zone.store("apps"));
    const clash = await queue.enqueueBackfill({
      locationId: "lisbon-clash",
      location: { name: "lisbon", latitude: 38.8, longitude: -9.2 },
      from: "2026-11-01",
      to: "2026-11-05",
      requestedAt: NOW.toISOString(),
      source: { key: "applications/incoming/x.csv", processingId: "p", row: 2 },
    });
    expect(clash.alreadyQueued).to.equal(false);
    const deps = {
      settings,
      curatedStore: stores().curatedStore,
      applicationsStore: stores().applicationsStore,
      now: () => NOW,
      log: () => undefined,
    };
    const none = await planLocationBackfill(
      { request: backfillRequestKey("lisbon-clash") },
      { ...deps, maxWeightPerDay: 100 },
    );
    expect(none.windows).to.deep.equal([]);
    // Porto's own range, 2026-10-25 to 11-19: files exist for 11-01 to 11-15 (the tests above), 11 dates do not.
    const own = await planLocationBackfill({ request }, { ...deps, maxWeightPerDay: 100 });
    expect([own.from, own.to, own.skippedDates]).to.deep.equal(["2026-10-25", "2026-11-19", 11]);
    // A year asked for, requests of at most weight 2: windows of about 93 days, one a day under a
    // budget of 2 (each window's dates planned as curated: the planner only lists them).
    const year = new DirectoryObjectStore(path.join(root, "year"));
    for (const date of dates("2026-01-01", "2026-11-19")) {
      await year.putObject(curatedObjectKey("weather_hourly", date), "x", { contentType: "application/octet-stream" });
      await year.putObject(curatedObjectKey("weather_daily", date), "x", { contentType: "application/octet-stream" });
    }
    await queue.enqueueBackfill({
      locationId: "porto-year",
      location: { name: "porto", latitude: 41.15, longitude: -8.61 },
      from: "2026-01-01",
      to: "2026-11-19",
      requestedAt: NOW.toISOString(),
      source: { key: "applications/incoming/y.csv", processingId: "p", row: 2 },
    });
    const paced: BackfillRunPlan = await planLocationBackfill(
      { request: backfillRequestKey("porto-year") },
      {
        ...deps,
        settings: { ...settings, http: { ...settings.http, maxWeightPerRequest: 2 } },
        curatedStore: year,
        maxWeightPerDay: 2,
      },
    );
    expect(paced.windows.length).to.be.greaterThan(2);
    expect(paced.windows.every((w) => w.locations?.[0]?.name === "porto" && w.requests === 1)).to.equal(true);
    expect(paced.windows.every((w) => w.request === backfillRequestKey("porto-year"))).to.equal(true);
    expect(paced.windows[0]!.notBefore).to.equal(undefined);
    const days = paced.windows.slice(1).map((w) => w.notBefore);
    expect(days.every((d) => d !== undefined)).to.equal(true);
    expect(new Set(days).size).to.equal(days.length);
    expect(paced.weight).to.be.at.most(2 * paced.days);
  });

  it("refuses a request object that is not one, naming the key and the fix; a dead letter of a history is redriven as {request}", async () => {
    const apps = zone.store("apps");
    await apps.putObject(backfillRequestKey("broken"), '{"format": "x"}', { contentType: "application/json" });
    const deps = {
      settings,
      curatedStore: stores().curatedStore,
      applicationsStore: apps,
      maxWeightPerDay: 100,
      now: () => NOW,
    };
    const error = await planLocationBackfill({ request: backfillRequestKey("broken") }, deps).catch((e: Error) => e);
    expect(String((error as Error).message)).to.match(
      /backfill-requests\/broken\.json is not a backfill request.*format is "x".*accept the location again/,
    );
    const outside = await planLocationBackfill({ request: "applications/registry.json" }, deps).catch((e: Error) => e);
    expect(String((outside as Error).message)).to.contain(
      "is not a backfill request; requests are applications/backfill-requests/",
    );
    expect(parseDeadLetterBody(JSON.stringify({ request }))).to.deep.equal({ request });
  });
});
