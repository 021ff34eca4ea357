import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, unlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { startLocalS3 } from "../../pipeline/local/s3-server";
import {
  bareEtag,
  DirectoryObjectStore,
  ObjectNotFoundError,
  PreconditionFailedError,
  S3ObjectStore,
  type ConditionalObjectStore,
  type ObjectStore,
} from "../../pipeline/core/storage";
import { rejectionOf } from "../support/rejection";

let tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "storage-test-"));
  tempDirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
  tempDirs = [];
});

/** The deleteObject contract both stores keep. */
async function expectDeletes(store: ObjectStore): Promise<void> {
  await store.putObject("a/b/one.parquet", "1", { contentType: "x", metadata: { "compacted-from": "abc" } });
  await store.putObject("a/b/two.parquet", "2", { contentType: "x" });
  await store.deleteObject("a/b/one.parquet");
  expect(await store.listKeys("a/")).to.deep.equal(["a/b/two.parquet"]);
  const error = await store.getObject("a/b/one.parquet").then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).to.be.instanceOf(ObjectNotFoundError);
  // As in S3, deleting a key that is not there is not an error (a re-run may repeat a delete).
  await store.deleteObject("a/b/one.parquet");
  // A new object of a deleted key does not inherit the old one's metadata.
  await store.putObject("a/b/one.parquet", "3", { contentType: "x" });
  expect((await store.getObject("a/b/one.parquet")).metadata).to.not.have.property("compacted-from");
}

/** The getObjectStream contract both stores keep: the bytes in chunks, a missing key before the first. */
async function expectStreams(store: ObjectStore): Promise<void> {
  // Larger than one chunk of either store, with every byte value, so nothing is decoded or re-encoded.
  const body = Uint8Array.from({ length: 3 * (1 << 20) + 17 }, (_, i) => (i * 7919) % 256);
  await store.putObject("raw/body.json", body, { contentType: "application/json" });
  const chunks: Uint8Array[] = [];
  for await (const chunk of await store.getObjectStream("raw/body.json")) chunks.push(chunk);
  expect(chunks.length).to.be.greaterThan(1);
  expect(Buffer.concat(chunks).equals(Buffer.from(body))).to.equal(true);
  const error = await store.getObjectStream("raw/missing.json").then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).to.be.instanceOf(ObjectNotFoundError);
  expect((error as ObjectNotFoundError).key).to.equal("raw/missing.json");
}

describe("storage", () => {
  describe("getObjectStream", () => {
    it("streams a folder store's object, and names a missing key", async () => {
      await expectStreams(new DirectoryObjectStore(await tempDir()));
    });

    it("streams an S3 object (s3rver on 127.0.0.1), and names a missing key", async () => {
      const s3 = await startLocalS3({ directory: await tempDir(), buckets: ["bucket"] });
      try {
        await expectStreams(new S3ObjectStore(s3.client(), "bucket"));
      } finally {
        await s3.close();
      }
    });
  });

  describe("deleteObject", () => {
    it("removes a folder store's object and its metadata sidecar, and accepts a missing key", async () => {
      const root = await tempDir();
      const store = new DirectoryObjectStore(root);
      await expectDeletes(store);
      await store.deleteObject("a/b/two.parquet");
      expect(existsSync(path.join(root, "a", "b", "two.parquet"))).to.equal(false);
      let message = "";
      await store.deleteObject("../outside").catch((e: Error) => (message = e.message));
      expect(message).to.contain("escapes");
    });

    it("removes an S3 object (s3rver on 127.0.0.1), and accepts a missing key", async () => {
      const s3 = await startLocalS3({ directory: await tempDir(), buckets: ["bucket"] });
      try {
        const client = s3.client();
        await expectDeletes(new S3ObjectStore(client, "bucket"));
      } finally {
        await s3.close();
      }
    });
  });

  describe("getObject on S3 without s3:ListBucket", () => {
    it("reports a missing key that S3 answers with 403 AccessDenied as missing or not permitted", async () => {
      // AWS S3 answers a reader who may not list the bucket 403 for a missing key; so does this s3rver.
      const s3 = await startLocalS3({ directory: await tempDir(), buckets: ["bucket"], withoutListBucket: ["bucket"] });
      const client = s3.client();
      try {
        const store = new S3ObjectStore(client, "bucket");
        await store.putObject("a/there.json", "{}", { contentType: "application/json" });
        expect(new TextDecoder().decode((await store.getObject("a/there.json")).body)).to.equal("{}");
        const error = await store.getObject("a/missing.json").then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).to.be.instanceOf(ObjectNotFoundError);
        expect((error as ObjectNotFoundError).accessDenied).to.equal(true);
        expect((error as Error).message).to.equal(
          "s3://bucket/a/missing.json does not exist or may not be read: S3 answered AccessDenied, " +
            "as it does for a missing key when the reader may not list the bucket",
        );
      } finally {
        client.destroy();
        await s3.close();
      }
    });
  });
});

/** The conditional-write contract both stores keep, as S3 defines it. */
async function expectConditionalWrites(store: ConditionalObjectStore): Promise<void> {
  const created = await store.putObjectIf(
    "r/registry.json",
    "v1",
    { contentType: "application/json" },
    {
      ifNoneMatch: "*",
    },
  );
  expect((await store.getObject("r/registry.json")).etag).to.equal(created.etag);
  expect(await store.headObject("r/registry.json")).to.include({ key: "r/registry.json", etag: created.etag, size: 2 });
  expect(await store.headObject("r/none.json")).to.equal(undefined);

  // If-None-Match: * on an existing key: 412, the object kept.
  const exists = await rejectionOf(
    store.putObjectIf("r/registry.json", "other", { contentType: "x" }, { ifNoneMatch: "*" }),
  );
  expect(exists).to.be.instanceOf(PreconditionFailedError);
  expect((exists as PreconditionFailedError).outcome).to.equal("failed");
  expect(Buffer.from((await store.getObject("r/registry.json")).body).toString()).to.equal("v1");

  // If-Match with the current ETag (quoted or bare) replaces; a stale one is refused.
  const second = await store.putObjectIf(
    "r/registry.json",
    "v2",
    { contentType: "x" },
    {
      ifMatch: bareEtag(created.etag),
    },
  );
  expect(second.etag).to.not.equal(created.etag);
  const stale = await rejectionOf(
    store.putObjectIf(
      "r/registry.json",
      "v3",
      { contentType: "x" },
      created.etag ? { ifMatch: created.etag } : { ifNoneMatch: "*" },
    ),
  );
  expect((stale as PreconditionFailedError).outcome).to.equal("failed");
  expect(Buffer.from((await store.getObject("r/registry.json")).body).toString()).to.equal("v2");

  // If-Match on a missing key: nothing written.
  const missing = await rejectionOf(
    store.putObjectIf("r/none.json", "x", { contentType: "x" }, { ifMatch: second.etag }),
  );
  expect((missing as PreconditionFailedError).outcome).to.equal("missing");
  expect(await store.listKeys("r/")).to.deep.equal(["r/registry.json"]);

  // Copy, conditioned on the source's ETag.
  await store.copyObject("r/registry.json", "r/copy.json", { sourceEtag: second.etag });
  expect(Buffer.from((await store.getObject("r/copy.json")).body).toString()).to.equal("v2");

  // Delete only the object that was read: a newer one of the key stays.
  await store.putObject("r/incoming.csv", "new upload", { contentType: "text/csv" });
  expect(await store.deleteObjectIf("r/incoming.csv", { etag: created.etag })).to.equal(false);
  expect(await store.listKeys("r/incoming")).to.deep.equal(["r/incoming.csv"]);
  const current = (await store.headObject("r/incoming.csv"))!;
  expect(await store.deleteObjectIf("r/incoming.csv", current)).to.equal(true);
  expect(await store.headObject("r/incoming.csv")).to.equal(undefined);
}

/**
 * A child process that adds `count` numbers to the JSON list at `key` of a folder store, each
 * by read, modify and a write conditioned on the ETag read, retried on PreconditionFailedError.
 */
const INCREMENTER = `
const { DirectoryObjectStore, PreconditionFailedError } = require(process.env.STORAGE_MODULE);
(async () => {
  const store = new DirectoryObjectStore(process.env.ROOT);
  const key = "counter.json";
  for (let i = 0; i < Number(process.env.COUNT); i++) {
    for (;;) {
      const current = await store.getObject(key);
      const list = JSON.parse(Buffer.from(current.body).toString());
      list.push(process.env.NAME + "-" + i);
      try {
        await store.putObjectIf(key, JSON.stringify(list), { contentType: "application/json" }, { ifMatch: current.etag });
        break;
      } catch (error) {
        if (!(error instanceof PreconditionFailedError)) throw error;
      }
    }
  }
})().catch((error) => { console.error(error); process.exit(1); });
`;

function runIncrementer(root: string, name: string, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-r", "ts-node/register", "-e", INCREMENTER], {
      env: {
        ...process.env,
        STORAGE_MODULE: path.resolve(__dirname, "../../pipeline/core/storage.ts"),
        ROOT: root,
        NAME: name,
        COUNT: String(count),
        TS_NODE_TRANSPILE_ONLY: "true",
      },
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${name} exited with ${code}`))));
  });
}

describe("conditional writes", () => {
  it("an S3 store (patched s3rver on 127.0.0.1) creates, replaces, copies and deletes only on its conditions", async () => {
    const s3 = await startLocalS3({ directory: await tempDir(), buckets: ["bucket"] });
    try {
      await expectConditionalWrites(new S3ObjectStore(s3.client(), "bucket"));
    } finally {
      await s3.close();
    }
  });

  it("a folder store keeps the same contract", async () => {
    await expectConditionalWrites(new DirectoryObjectStore(await tempDir()));
  });

  it("a folder store loses no update when four processes read-modify-write one key at once", async function () {
    this.timeout(120_000);
    const root = await tempDir();
    const store = new DirectoryObjectStore(root);
    await store.putObjectIf("counter.json", "[]", { contentType: "application/json" }, { ifNoneMatch: "*" });
    const names = ["a", "b", "c", "d"];
    await Promise.all(names.map((name) => runIncrementer(root, name, 25)));
    const list = JSON.parse(Buffer.from((await store.getObject("counter.json")).body).toString()) as string[];
    expect(list).to.have.length(100);
    expect(new Set(list).size).to.equal(100);
    // No lock or partial file is left behind.
    expect(readdirSync(root).sort()).to.deep.equal(["counter.json"]);
  });

  it("a folder store takes over the lock of a process that died, and waits for a live one", async () => {
    const root = await tempDir();
    const store = new DirectoryObjectStore(root);
    await store.putObject("k.json", "1", { contentType: "x" });
    // A process that has exited: its pid is free (or reused by a non-pipeline process at worst).
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString();
    writeFileSync(path.join(root, "k.json.lock"), dead);
    await store.putObjectIf("k.json", "2", { contentType: "x" }, { ifMatch: (await store.headObject("k.json"))!.etag });
    expect(Buffer.from((await store.getObject("k.json")).body).toString()).to.equal("2");

    // A live holder (this process) blocks the write until it lets go.
    writeFileSync(path.join(root, "k.json.lock"), String(process.pid));
    let written = false;
    const write = store.putObject("k.json", "3", { contentType: "x" }).then(() => (written = true));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(written).to.equal(false);
    unlinkSync(path.join(root, "k.json.lock"));
    await write;
    expect(Buffer.from((await store.getObject("k.json")).body).toString()).to.equal("3");
  });
});
