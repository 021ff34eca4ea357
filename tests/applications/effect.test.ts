/**
 * The effect of an accepted application on the daily run: the plan and ingest read the
 * registry on each run and work on the registry's locations with the config's (config wins on
 * a name clash), against s3rver on 127.0.0.1, and a missing registry is no error even for a
 * caller that may list the registry key only.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import {
  appendToRegistry,
  EMPTY_REGISTRY,
  locationIdOf,
  locationsWithRegistry,
  REGISTRY_KEY,
  serializeRegistry,
  type RegistryEntry,
} from "../../pipeline/applications";
import { DEFAULT_PIPELINE_SETTINGS } from "../../pipeline/core/settings";
import { rawBodyKey, requestManifestKey } from "../../pipeline/core/keys";
import { ObjectNotFoundError, S3ObjectStore } from "../../pipeline/core/storage";
import { createIngestHandler, planRequests } from "../../pipeline/ingest";
import { startFakeOpenMeteo } from "../../pipeline/local/fake-open-meteo";
import { startLocalS3, type LocalS3Server } from "../../pipeline/local/s3-server";
import { createPlanHandler } from "../../pipeline/operations";

const entry = (name: string, latitude: number, longitude: number): RegistryEntry => ({
  id: locationIdOf(name, latitude, longitude),
  name,
  latitude,
  longitude,
  acceptedAt: "2026-11-20T08:00:00.000Z",
  source: { key: "applications/incoming/a.csv", etag: "e", processingId: "p", row: 2 },
});

describe("applications: the plan and ingest read the registry (s3rver on 127.0.0.1)", function () {
  this.timeout(120_000);
  let directory: string;
  let s3: LocalS3Server;
  let fake: Awaited<ReturnType<typeof startFakeOpenMeteo>>;

  before(async () => {
    directory = await mkdtemp(path.join(tmpdir(), "effect-"));
    s3 = await startLocalS3({
      directory,
      buckets: ["apps", "raw", "curated", "apps-unlisted"],
      withoutListBucket: ["apps-unlisted"],
    });
    fake = await startFakeOpenMeteo();
  });
  after(async () => {
    await fake?.close();
    await s3?.close();
    await rm(directory, { recursive: true, force: true });
  });

  it("reads no registry as none, listing first: a caller without ListBucket would get 403 for the GET", async () => {
    const unlisted = new S3ObjectStore(s3.client(), "apps-unlisted");
    // The GET alone gets AccessDenied, as on AWS for such a caller (the store says so)...
    const denied = await unlisted.getObject(REGISTRY_KEY).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(denied).to.be.instanceOf(ObjectNotFoundError);
    expect((denied as ObjectNotFoundError).accessDenied).to.equal(true);
    // ...which the registry reader never does for a key it did not list.
    expect(await locationsWithRegistry(DEFAULT_PIPELINE_SETTINGS, unlisted, () => undefined)).to.deep.equal(
      DEFAULT_PIPELINE_SETTINGS.locations,
    );
  });

  it("adds the registry's locations after the config's; a registry name the config has is left out, and said so", async () => {
    const store = new S3ObjectStore(s3.client(), "apps");
    await store.putObject(
      REGISTRY_KEY,
      serializeRegistry(
        appendToRegistry(EMPTY_REGISTRY, [entry("leipzig", 51.34, 12.37), entry("Berlin", 52.6, 13.5)]),
      ),
      { contentType: "application/json" },
    );
    const lines: string[] = [];
    const locations = await locationsWithRegistry(DEFAULT_PIPELINE_SETTINGS, store, (line) => lines.push(line));
    expect(locations.map((l) => l.name)).to.deep.equal(["berlin", "amsterdam", "leipzig"]);
    expect(lines).to.deep.equal([
      `registry location Berlin (${locationIdOf("Berlin", 52.6, 13.5)}) is left out: the stack's config has a location of that name, and config wins`,
      "locations: 2 from config, 1 from the registry (revision 1)",
    ]);
  });

  it("a date and a stack's backfill window fetch the registry's locations too; a location's history window its own only", async () => {
    const client = s3.client();
    const applications = new S3ObjectStore(client, "apps");
    const rawStore = new S3ObjectStore(client, "raw");
    await applications.putObject(
      REGISTRY_KEY,
      serializeRegistry(appendToRegistry(EMPTY_REGISTRY, [entry("leipzig", 51.34, 12.37)])),
      { contentType: "application/json" },
    );
    const settings = { ...DEFAULT_PIPELINE_SETTINGS, forecastApiUrl: fake.forecastUrl, archiveApiUrl: fake.archiveUrl };
    let reads = 0;
    const ingest = createIngestHandler({
      settings,
      rawStore,
      stack: "t",
      now: () => new Date("2026-11-20T08:00:00Z"),
      log: () => undefined,
      locations: () => {
        reads++;
        return locationsWithRegistry(settings, applications, () => undefined);
      },
    });
    const names = async (keys: readonly string[]) => {
      const all: string[] = [];
      for (const key of keys) {
        const manifest = JSON.parse(
          Buffer.from((await rawStore.getObject(requestManifestKey(key))).body).toString(),
        ) as {
          locations: { name: string }[];
        };
        all.push(...manifest.locations.map((l) => l.name));
      }
      return all.sort();
    };
    // The stack's window: as its planner sized it, with the registry's locations (a window
    // written again keeps every accepted location).
    const window = await ingest({ from: "2025-01-01", to: "2025-01-05" });
    expect(reads).to.equal(1);
    expect(await names(window.keys)).to.deep.equal([...settings.locations.map((l) => l.name), "leipzig"].sort());
    // A history window names its location: the registry is not read, nothing else fetched.
    const history = await ingest({
      from: "2025-02-01",
      to: "2025-02-05",
      locations: [{ name: "leipzig", latitude: 51.34, longitude: 12.37 }],
    });
    expect(reads).to.equal(1);
    expect(await names(history.keys)).to.deep.equal(["leipzig"]);
    // A date outside the catch-up window of the test below, whose plan must not see it.
    const date = await ingest({ date: "2026-11-10" });
    expect(reads).to.equal(2);
    expect(await names(date.keys)).to.include("leipzig");
  });

  it("ingest fetches them, and the plan, seeing the date's raw data was for fewer locations, ingests it again", async () => {
    const client = s3.client();
    const applications = new S3ObjectStore(client, "apps");
    const rawStore = new S3ObjectStore(client, "raw");
    const curatedStore = new S3ObjectStore(client, "curated");
    const settings = { ...DEFAULT_PIPELINE_SETTINGS, forecastApiUrl: fake.forecastUrl, archiveApiUrl: fake.archiveUrl };
    const now = () => new Date("2026-11-20T08:00:00Z");
    const locations = () => locationsWithRegistry(settings, applications, () => undefined);
    const date = "2026-11-17";

    // The date ingested before the application, with the config's locations only.
    const before = await createIngestHandler({ settings, rawStore, stack: "t", now, log: () => undefined })({ date });
    const withRegistry = await createIngestHandler({
      settings,
      rawStore,
      stack: "t",
      now,
      log: () => undefined,
      locations,
    })({ date });
    const manifest = JSON.parse(
      Buffer.from((await rawStore.getObject(requestManifestKey(withRegistry.keys[0]!))).body).toString(),
    ) as {
      locations: { name: string }[];
    };
    expect(manifest.locations.map((l) => l.name)).to.deep.equal(["amsterdam", "berlin", "leipzig"]);
    expect(withRegistry.keys).to.not.deep.equal(before.keys);

    // A plan with the registry's locations looks for the request ids ingest now makes.
    await rawStore.deleteObject(withRegistry.keys[0]!);
    await rawStore.deleteObject(requestManifestKey(withRegistry.keys[0]!));
    const planned = await createPlanHandler({
      settings,
      rawStore,
      curatedStore,
      catchUpDays: 4,
      maxDatesPerRun: 4,
      now,
      log: () => undefined,
      locations,
    })({});
    const configOnly = await createPlanHandler({
      settings,
      rawStore,
      curatedStore,
      catchUpDays: 4,
      maxDatesPerRun: 4,
      now,
      log: () => undefined,
    })({});
    const item = (plan: typeof planned) => plan.dates.find((d) => d.date === date);
    expect(item(configOnly)).to.deep.equal({ date, keys: before.keys });
    expect(item(planned)).to.deep.equal({ date });
    const merged = { ...settings, locations: await locations() };
    expect(planRequests(merged, date, "forecast").map((r) => rawBodyKey("forecast", date, r.requestId))).to.deep.equal(
      withRegistry.keys,
    );
  });
});
