import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { startLocalS3 } from "../../pipeline/local/s3-server";
import {
  DirectoryObjectStore,
  ObjectNotFoundError,
  S3ObjectStore,
  type ObjectStore,
} from "../../pipeline/core/storage";

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
