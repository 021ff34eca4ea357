/**
 * Faults of the processing, against the patched s3rver on 127.0.0.1: a crash after each of its
 * writes (a process killed for real, too) and a rerun; files decided at the same moment, whose
 * registry writes collide; S3 going away in the middle. Each ends exactly as an undisturbed
 * run: the same objects, byte for byte, and every accepted row once in the registry.
 */
import { spawn } from "node:child_process";
import * as path from "node:path";
import { expect } from "chai";
import {
  objectBackfillQueue,
  parseRegistry,
  processApplicationEvent,
  REGISTRY_KEY,
  type Notice,
} from "../../pipeline/applications";
import { S3ObjectStore } from "../../pipeline/core/storage";
import { LOCAL_S3_CREDENTIALS, startLocalS3, type LocalS3Server } from "../../pipeline/local/s3-server";
import { rejectionOf } from "../support/rejection";
import { contents, registryState, startDropZone, upload, type DropZone } from "./drop-zone";
import { Crash, FaultyStore } from "./faulty-store";

/** Accepted rows with history, a rejected row: every step of the processing has work to do. */
const FILE = Buffer.from(
  "name,latitude,longitude,start_date\nkrakow,50.06,19.94,2020-01-01\nbad,95,1,\ngdansk,54.35,18.65,\n",
);
/** The writes an undisturbed run of FILE makes, in order (the notice comes between archive and delete). */
const WRITES = [
  "put applications/accepted/f.",
  "put applications/rejected/f.",
  "put applications/rejected/f.",
  `putIf ${REGISTRY_KEY}`,
  "putIf applications/backfill-requests/",
  "put applications/archive/f.",
  "deleteIf applications/incoming/f.csv",
];

const byKey = (objects: Map<string, Buffer>) =>
  Object.fromEntries([...objects].map(([k, v]) => [k, v.toString("base64")]));

describe("applications: faults (s3rver on 127.0.0.1)", function () {
  this.timeout(180_000);
  const CRASH_BUCKETS = WRITES.map((_, i) => `apps-crash-${i + 1}`);
  let zone: DropZone;
  let undisturbed: Map<string, Buffer>;

  before(async () => {
    zone = await startDropZone(["apps-clean", "apps-killed", "apps-race", "apps-same", ...CRASH_BUCKETS]);
    const deps = zone.deps("apps-clean", []);
    const store = new FaultyStore(deps.store);
    await processApplicationEvent(await upload(store, "apps-clean", "f.csv", FILE), {
      ...deps,
      store,
      backfill: objectBackfillQueue(store),
    });
    // The undisturbed run's writes, after the upload: the order the module comment promises.
    expect(store.log.slice(1).map((w, i) => w.startsWith(WRITES[i]!))).to.deep.equal(WRITES.map(() => true));
    undisturbed = await contents(zone.store("apps-clean"));
  });
  after(async () => zone?.close());

  it("a crash right after any write, then the event again: the outcome of an undisturbed run, each row once", async () => {
    for (const [i, bucket] of CRASH_BUCKETS.entries()) {
      const step = i + 2; // write 1 is the upload
      const notices: Notice[] = [];
      const deps = zone.deps(bucket, notices);
      const crashing = new FaultyStore(deps.store, undefined, (_op, key, n) => {
        if (n === step) throw new Crash(n, key);
      });
      const event = await upload(crashing, bucket, "f.csv", FILE);
      const crashed = await rejectionOf(
        processApplicationEvent(event, { ...deps, store: crashing, backfill: objectBackfillQueue(crashing) }),
      );
      expect(crashed, `step ${step}`).to.be.instanceOf(Crash);
      const rerun = await processApplicationEvent(event, deps);
      expect(rerun.status, `step ${step}`).to.equal(step === WRITES.length + 1 ? "already-processed" : "processed");
      expect(byKey(await contents(zone.store(bucket))), `after a crash at write ${step}`).to.deep.equal(
        byKey(undisturbed),
      );
      const registry = parseRegistry((await registryState(zone.store(bucket)))!.text);
      expect(registry.locations.map((e) => e.name)).to.deep.equal(["krakow", "gdansk"]);
      expect(registry.revision).to.equal(1);
    }
  });

  it("a process killed (SIGKILL) after the registry write and before the archive: the rerun completes, no double entry", async () => {
    const bucket = "apps-killed";
    const event = await upload(zone.store(bucket), bucket, "f.csv", FILE);
    const child = spawn(process.execPath, ["-r", "ts-node/register", path.join(__dirname, "kill-before-archive.ts")], {
      env: {
        ...process.env,
        TS_NODE_TRANSPILE_ONLY: "true",
        AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
        AWS_REGION: "us-east-1",
        AWS_ENDPOINT_URL_S3: zone.s3.endpoint,
        BUCKET: bucket,
        EVENT: JSON.stringify(event),
      },
      stdio: ["ignore", "inherit", "inherit"],
    });
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, s) => resolve(s)));
    expect(signal).to.equal("SIGKILL");
    const before = await contents(zone.store(bucket));
    expect([...before.keys()].some((k) => k.startsWith("applications/archive/"))).to.equal(false);
    expect(parseRegistry(before.get(REGISTRY_KEY)!.toString()).locations).to.have.length(2);

    const rerun = await processApplicationEvent(event, zone.deps(bucket, []));
    expect(rerun.status).to.equal("processed");
    expect(byKey(await contents(zone.store(bucket)))).to.deep.equal(byKey(undisturbed));
  });

  it("loses no registry update when six files are decided at the same moment", async () => {
    const bucket = "apps-race";
    const names = ["lyon", "nantes", "lille", "nice", "brest", "dijon"];
    const events = await Promise.all(
      names.map((name, i) =>
        upload(
          zone.store(bucket),
          bucket,
          `${name}.csv`,
          Buffer.from(`name,latitude,longitude\n${name},${40 + i},${i}\n`),
        ),
      ),
    );
    // Every file reads the registry before any writes it: all six writes but one must fail and retry.
    let waiting = 0;
    let release!: () => void;
    const everyoneRead = new Promise<void>((resolve) => (release = resolve));
    let retries = 0;
    const results = await Promise.all(
      events.map((event) => {
        const deps = zone.deps(bucket, []);
        let first = true;
        const store = new FaultyStore(deps.store, async (op, key) => {
          if (op === "putIf" && key === REGISTRY_KEY && first) {
            first = false;
            if (++waiting === events.length) release();
            await everyoneRead;
          }
        });
        return processApplicationEvent(event, {
          ...deps,
          store,
          backfill: objectBackfillQueue(store),
          log: (line) => {
            if (line.includes("the registry changed while deciding")) retries++;
          },
        });
      }),
    );
    expect(results.map((r) => r.accepted.map((a) => a.name))).to.deep.equal(names.map((n) => [n]));
    const registry = parseRegistry((await registryState(zone.store(bucket)))!.text);
    expect(registry.locations.map((e) => e.name).sort()).to.deep.equal([...names].sort());
    expect(registry.revision).to.equal(6);
    expect(retries).to.be.at.least(5);
  });

  it("two files applying for the same place at once: one is accepted, the other rejected against it", async () => {
    const bucket = "apps-same";
    const events = await Promise.all(
      ["a.csv", "b.csv"].map((name) =>
        upload(zone.store(bucket), bucket, name, Buffer.from(`name,latitude,longitude\nturin,45.07,7.69\n`)),
      ),
    );
    const results = await Promise.all(events.map((event) => processApplicationEvent(event, zone.deps(bucket, []))));
    expect(results.map((r) => r.accepted.length).sort()).to.deep.equal([0, 1]);
    const loser = results.find((r) => r.accepted.length === 0)!;
    expect(loser.rejected[0]?.reasons[0]?.problem).to.match(
      /already has a location of that name: "turin" \(loc-[0-9a-f]{16}, accepted earlier\)/,
    );
    expect(parseRegistry((await registryState(zone.store(bucket)))!.text).locations.map((e) => e.name)).to.deep.equal([
      "turin",
    ]);
  });

  it("S3 gone in the middle (after the decision, before the registry write): the retry after it is back completes", async () => {
    const bucket = "apps-down";
    const directory = path.join(zone.directory, "down");
    let s3: LocalS3Server = await startLocalS3({ directory, buckets: [bucket] });
    const port = s3.port;
    const client = s3.client();
    try {
      const deps = zone.deps(bucket, []);
      const direct = new S3ObjectStore(client, bucket);
      const event = await upload(direct, bucket, "f.csv", FILE);
      const stopping = new FaultyStore(direct, async (op, key) => {
        if (op === "putIf" && key === REGISTRY_KEY) await s3.close();
      });
      const down = await rejectionOf(
        processApplicationEvent(event, { ...deps, store: stopping, backfill: objectBackfillQueue(stopping) }),
      );
      expect(down.message).to.match(/ECONNREFUSED|connect|socket/i);
      s3 = await startLocalS3({ directory, buckets: [bucket], port });
      const rerun = await processApplicationEvent(event, {
        ...deps,
        store: direct,
        backfill: objectBackfillQueue(direct),
      });
      expect(rerun.status).to.equal("processed");
      expect(byKey(await contents(direct))).to.deep.equal(byKey(undisturbed));
    } finally {
      client.destroy();
      await s3.close();
    }
  });
});
