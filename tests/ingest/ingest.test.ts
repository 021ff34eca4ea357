import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { RATE_LIMITED_ERROR_NAME } from "../../pipeline/core/errors";
import { OpenMeteoApiError } from "../../pipeline/ingest/http";
import { IngestError, ingestDate, type IngestDeps } from "../../pipeline/ingest/ingest";
import { rawDatePrefix, requestManifestKey } from "../../pipeline/core/keys";
import {
  overloadedAnswer,
  rateLimitAnswer,
  startFakeOpenMeteo,
  type FakeAnswer,
  type FakeOpenMeteo,
} from "../../pipeline/local/fake-open-meteo";
import { LOCAL_S3_CREDENTIALS, startLocalS3, type LocalS3Server } from "../../pipeline/local/s3-server";
import type { RequestManifest } from "../../pipeline/core/manifest";
import { planRequests } from "../../pipeline/ingest/openmeteo-request";
import { DEFAULT_PIPELINE_SETTINGS, type Location, type PipelineSettings } from "../../pipeline/core/settings";
import { S3ObjectStore, createS3Client, type ObjectStore } from "../../pipeline/core/storage";
import { rejectionOf } from "../support/rejection";

/** 08:00 in Berlin on 2025-07-20: yesterday there is 2025-07-19. */
const NOW = new Date("2025-07-20T06:00:00Z");
const FAST = { baseDelayMs: 5, maxDelayMs: 20, budgetMs: 5_000 };

function locations(count: number): Location[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `city-${String(i).padStart(3, "0")}`,
    latitude: 40 + (i % 20) * 0.731,
    longitude: -5 + i * 0.377,
  }));
}

describe("ingest against the fake Open-Meteo and a local S3", function () {
  let s3: LocalS3Server;
  let directory: string;
  let store: ObjectStore;
  let fake: FakeOpenMeteo | undefined;
  let bucketIndex = 0;
  const previousEndpoint = process.env["AWS_ENDPOINT_URL_S3"];
  const buckets = Array.from({ length: 16 }, (_, i) => `raw-${i}`);

  before(async () => {
    directory = await mkdtemp(path.join(tmpdir(), "ingest-test-"));
    s3 = await startLocalS3({ directory, buckets });
    process.env["AWS_ENDPOINT_URL_S3"] = s3.endpoint;
  });

  after(async () => {
    await s3.close();
    await rm(directory, { recursive: true, force: true });
    if (previousEndpoint === undefined) delete process.env["AWS_ENDPOINT_URL_S3"];
    else process.env["AWS_ENDPOINT_URL_S3"] = previousEndpoint;
  });

  beforeEach(() => {
    // A fresh bucket per test, so "nothing else was written" can be checked by listing.
    const client = createS3Client({ region: "us-east-1", credentials: LOCAL_S3_CREDENTIALS });
    store = new S3ObjectStore(client, buckets[bucketIndex++] as string);
  });

  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  async function setUp(
    overrides: Partial<PipelineSettings> = {},
    fakeOptions: {
      respond?: (index: number) => FakeAnswer | undefined;
      maxConcurrentRequests?: number;
      latencyMs?: number;
    } = {},
  ): Promise<{ settings: PipelineSettings; deps: IngestDeps; server: FakeOpenMeteo; log: string[] }> {
    const { respond, ...rest } = fakeOptions;
    const server = await startFakeOpenMeteo({
      now: () => NOW,
      ...rest,
      ...(respond ? { respond: (r) => respond(r.index) } : {}),
    });
    fake = server;
    const settings: PipelineSettings = {
      ...DEFAULT_PIPELINE_SETTINGS,
      timezone: "Europe/Berlin",
      forecastApiUrl: server.forecastUrl,
      archiveApiUrl: server.archiveUrl,
      ...overrides,
      http: { ...DEFAULT_PIPELINE_SETTINGS.http, timeoutMs: 2_000, ...overrides.http },
    };
    const log: string[] = [];
    return {
      settings,
      server,
      log,
      deps: { settings, rawStore: store, now: () => NOW, retryTuning: FAST, log: (l) => log.push(l) },
    };
  }

  it("stores yesterday's body byte for byte as the server sent it, with metadata and a manifest", async () => {
    const { settings, deps, server } = await setUp();
    const result = await ingestDate({}, deps);
    const [plan] = planRequests(settings, "2025-07-19", "forecast");
    const bodyKey = `open-meteo/forecast/date=2025-07-19/${plan?.requestId}.json`;

    expect(result).to.eql({
      date: "2025-07-19",
      endpoint: "forecast",
      keys: [bodyKey],
      requests: 1,
      bytes: result.bytes,
    });
    const sent = server.requests[0]?.answer?.body ?? new Uint8Array();
    expect(sent.length).to.be.above(1000);
    const stored = await store.getObject(bodyKey);
    expect(Buffer.from(stored.body).equals(Buffer.from(sent))).to.equal(true);
    expect(result.bytes).to.equal(sent.length);
    expect(stored.metadata).to.eql({
      "fetched-at": NOW.toISOString(),
      "request-id": plan?.requestId,
      "location-count": "2",
      "request-url": plan?.url,
    });

    const manifest = JSON.parse(
      Buffer.from((await store.getObject(requestManifestKey(bodyKey))).body).toString("utf8"),
    ) as RequestManifest;
    const expected: RequestManifest = {
      version: 1,
      endpoint: "forecast",
      date: "2025-07-19",
      requestId: plan?.requestId ?? "",
      url: plan?.url ?? "",
      locations: [
        { name: "amsterdam", latitude: 52.37, longitude: 4.89 },
        { name: "berlin", latitude: 52.52, longitude: 13.41 },
      ],
      hourlyVariables: settings.hourlyVariables,
      dailyVariables: settings.dailyVariables,
      // The fixed-offset zone of a Berlin summer day: the same meaning whenever it is sent.
      timezone: "Etc/GMT-2",
      utcOffsetSeconds: 7200,
      fetchedAt: NOW.toISOString(),
      bodyBytes: sent.length,
      bodySha256: createHash("sha256").update(sent).digest("hex"),
    };
    expect(manifest).to.eql(expected);
    expect(await store.listKeys(rawDatePrefix("forecast", "2025-07-19"))).to.eql(
      [bodyKey, requestManifestKey(bodyKey)].sort(),
    );
  });

  it("gives the same keys on a re-run and overwrites the objects instead of adding more", async () => {
    const { deps } = await setUp();
    const first = await ingestDate({ date: "2025-07-18" }, deps);
    const later = new Date(NOW.getTime() + 3_600_000);
    const second = await ingestDate({ date: "2025-07-18" }, { ...deps, now: () => later });
    expect(second.keys).to.eql(first.keys);
    const key = first.keys[0] ?? "";
    expect((await store.getObject(key)).metadata["fetched-at"]).to.equal(later.toISOString());
    expect(await store.listKeys(rawDatePrefix("forecast", "2025-07-18"))).to.have.lengthOf(2);
  });

  it("splits many locations into weight-limited requests and returns the keys in location order", async () => {
    const { settings, deps, server } = await setUp(
      { locations: locations(7), http: { ...DEFAULT_PIPELINE_SETTINGS.http, maxWeightPerRequest: 3, concurrency: 2 } },
      { maxConcurrentRequests: 2, latencyMs: 20 },
    );
    const result = await ingestDate({ date: "2025-07-19" }, deps);
    expect(result.requests).to.equal(3);
    expect(server.requests).to.have.lengthOf(3);
    expect(server.requests.every((r) => r.answer?.status === 200)).to.equal(true);
    const plan = planRequests(settings, "2025-07-19", "forecast");
    expect(result.keys).to.eql(plan.map((p) => `open-meteo/forecast/date=2025-07-19/${p.requestId}.json`));
    const names: string[] = [];
    for (const key of result.keys) {
      const manifest = JSON.parse(
        Buffer.from((await store.getObject(requestManifestKey(key))).body).toString("utf8"),
      ) as RequestManifest;
      names.push(...manifest.locations.map((l) => l.name));
      // One coordinate gives one object, several an array: the last batch here has one location.
      const body = JSON.parse(Buffer.from((await store.getObject(key)).body).toString("utf8")) as unknown;
      expect(Array.isArray(body) ? body.length : 1).to.equal(manifest.locations.length);
    }
    expect(names).to.eql(locations(7).map((l) => l.name));
  });

  it("keeps to settings.http.concurrency (a server allowing 2 at once turns away a 3rd)", async () => {
    const { deps } = await setUp(
      {
        locations: locations(3),
        http: { ...DEFAULT_PIPELINE_SETTINGS.http, maxWeightPerRequest: 1, concurrency: 3, retries: 0 },
      },
      { maxConcurrentRequests: 2, latencyMs: 150 },
    );
    const error = await rejectionOf(ingestDate({ date: "2025-07-19" }, deps));
    expect(error.message).to.include('answered 429 "Too many concurrent requests"');
  });

  it("writes nothing to the raw bucket for a 400, and says what to fix", async () => {
    const { deps, server } = await setUp({ hourlyVariables: ["temperature_2m", "lksdfj"] });
    const error = await rejectionOf(ingestDate({ date: "2025-07-19" }, deps));
    expect(error).to.be.instanceOf(IngestError);
    expect((error as IngestError).cause).to.be.instanceOf(OpenMeteoApiError);
    expect(((error as IngestError).cause as OpenMeteoApiError).status).to.equal(400);
    expect(error.message).to.match(
      /^ingest of forecast 2025-07-19 failed on request 0000-[0-9a-f]{12} \(amsterdam, berlin\): Open-Meteo answered 400/,
    );
    expect(error.message).to.include('"lksdfj" is not one this endpoint knows');
    expect(server.requests).to.have.lengthOf(1);
    expect(await store.listKeys("")).to.eql([]);
  });

  it("keeps the batches stored before an exhausted 503 and writes nothing for the failed one", async () => {
    const { deps, server } = await setUp(
      { locations: locations(4), http: { ...DEFAULT_PIPELINE_SETTINGS.http, maxWeightPerRequest: 2, retries: 2 } },
      { respond: (index) => (index === 0 ? undefined : overloadedAnswer()) },
    );
    const error = await rejectionOf(ingestDate({ date: "2025-07-19" }, deps));
    expect(error).to.be.instanceOf(IngestError);
    const ingestError = error as IngestError;
    expect(server.requests).to.have.lengthOf(1 + 3);
    expect(ingestError.storedKeys).to.have.lengthOf(1);
    const storedKey = ingestError.storedKeys[0] ?? "";
    expect(await store.listKeys("")).to.eql([storedKey, requestManifestKey(storedKey)].sort());
    expect(ingestError.requestId).to.match(/^0001-/);
    expect(error.message).to.include('answered 503 "The service is overloaded" 3 times');
    expect(error.message).to.include("Stored before stopping: 1 of 2 bodies. Re-run ingest for 2025-07-19");
  });

  it("never stores a 200 whose body is an Open-Meteo error object", async () => {
    const { deps } = await setUp(
      {},
      { respond: () => ({ kind: "json", status: 200, body: { error: true, reason: "Something broke" } }) },
    );
    const error = await rejectionOf(ingestDate({ date: "2025-07-19" }, deps));
    expect(error.message).to.include('answered 200 with an error body "Something broke"');
    expect(await store.listKeys("")).to.eql([]);
  });

  it("retries a transient 503 with the injected tuning and logs the retry", async () => {
    const { deps, server, log } = await setUp(
      {},
      { respond: (index) => (index === 0 ? overloadedAnswer() : undefined) },
    );
    const result = await ingestDate({ date: "2025-07-19" }, deps);
    expect(server.requests).to.have.lengthOf(2);
    const stored = await store.getObject(result.keys[0] ?? "");
    expect(Buffer.from(stored.body).equals(Buffer.from(server.requests[1]?.answer?.body ?? []))).to.equal(true);
    expect(
      log.some((l) => /attempt 1 failed \(503 "The service is overloaded"\); retrying in \d+\.\d s/.test(l)),
    ).to.equal(true);
  });

  it("fetches dates older than forecastPastDays from the archive endpoint", async () => {
    const { deps, server } = await setUp({ forecastPastDays: 30 });
    const result = await ingestDate({ date: "2025-05-01" }, deps);
    expect(result.endpoint).to.equal("archive");
    expect(server.requests[0]?.path).to.equal("/v1/archive");
    expect(result.keys[0]).to.match(/^open-meteo\/archive\/date=2025-05-01\/0000-[0-9a-f]{12}\.json$/);
  });

  it("leaves request-url out of the metadata when it would pass S3's 2 KB limit; the manifest keeps it", async () => {
    const { deps } = await setUp({
      locations: locations(150),
      http: { ...DEFAULT_PIPELINE_SETTINGS.http, maxWeightPerRequest: 1000 },
    });
    const result = await ingestDate({ date: "2025-07-19" }, deps);
    expect(result.requests).to.equal(1);
    const key = result.keys[0] ?? "";
    const stored = await store.getObject(key);
    expect(stored.metadata).to.have.keys("fetched-at", "request-id", "location-count");
    expect(stored.metadata["location-count"]).to.equal("150");
    const manifest = JSON.parse(
      Buffer.from((await store.getObject(requestManifestKey(key))).body).toString("utf8"),
    ) as RequestManifest;
    expect(manifest.url.length).to.be.above(2048);
  });

  it("rejects a date that is not a calendar date before sending anything", async () => {
    const { deps, server } = await setUp();
    const error = await rejectionOf(ingestDate({ date: "2025-02-30" }, deps));
    expect(error.message).to.equal('the ingest date is "2025-02-30"; it must be a calendar date written YYYY-MM-DD');
    expect(server.requests).to.have.lengthOf(0);
  });

  it("names an hourly 429 so the state machine does not retry it, and lists the bodies already stored", async () => {
    const { deps, server } = await setUp(
      { locations: locations(4), http: { ...DEFAULT_PIPELINE_SETTINGS.http, maxWeightPerRequest: 2 } },
      { respond: (index) => (index === 0 ? undefined : rateLimitAnswer("hourly")) },
    );
    const error = await rejectionOf(ingestDate({ date: "2025-07-19" }, deps));
    expect(error).to.be.instanceOf(IngestError);
    expect(error.name).to.equal(RATE_LIMITED_ERROR_NAME);
    expect(server.requests).to.have.lengthOf(2);
    const [stored] = (error as IngestError).storedKeys;
    expect(error.message).to.include("the hourly limit resets at the next full hour");
    expect(error.message).to.match(new RegExp(`Bodies stored: ${stored}\\.$`));
  });

  it("keeps the name of a failed raw write, so the state machine retries S3 unreachable and not AccessDenied", async () => {
    const failing = (name: string): ObjectStore => ({
      description: "s3://failing",
      putObject: () => {
        const error = new Error(`${name} from S3`);
        error.name = name;
        return Promise.reject(error);
      },
      getObject: () => Promise.reject(new Error("unused")),
      getObjectStream: () => Promise.reject(new Error("unused")),
      listKeys: () => Promise.resolve([]),
      deleteObject: () => Promise.resolve(),
    });
    const { deps } = await setUp();
    for (const name of ["Error", "SlowDown", "AccessDenied"]) {
      const error = await rejectionOf(ingestDate({ date: "2025-07-19" }, { ...deps, rawStore: failing(name) }));
      expect(error).to.be.instanceOf(IngestError);
      expect(error.name).to.equal(name);
      expect(error.message).to.include(`${name} from S3`);
    }
  });

  it("rejects a concurrency below 1, naming the setting", async () => {
    const { deps } = await setUp({ http: { ...DEFAULT_PIPELINE_SETTINGS.http, concurrency: 0 } });
    const error = await rejectionOf(ingestDate({ date: "2025-07-19" }, deps));
    expect(error.message).to.equal("settings.http.concurrency is 0; it must be a whole number, 1 or more");
  });
});
