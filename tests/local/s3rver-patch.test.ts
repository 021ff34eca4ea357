/**
 * What patches/s3rver+3.7.1.patch changes in s3rver, each against the real patched s3rver on
 * 127.0.0.1 (in-process, via startLocalS3) through @aws-sdk/client-s3:
 * - read-after-write: PutObject is answered only once the object is complete, and an object is
 *   replaced all at once, so a read never sees a cut-off body or one version's body with
 *   another's ETag or metadata (s3rver 3.7.1 answered before the body was on disk);
 * - conditional writes as AWS S3 has them since 2024: If-None-Match: * and If-Match: <etag> on
 *   PutObject, CopyObject and CompleteMultipartUpload (412, 404, 409, 501 as S3 answers);
 * - a bucket option for a caller without s3:ListBucket: a missing key answers 403 AccessDenied.
 * Every test of s3rver here fails against s3rver 3.7.1 as published (checked by reversing the
 * patch: `npx patch-package --reverse`, then `npx patch-package` to apply it again); the last one
 * checks startLocalS3's own validation.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import * as path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { expect } from "chai";
import S3rver from "s3rver";
import { startLocalS3, type LocalS3Server } from "../../pipeline/local/s3-server";
import { rejectionOf } from "../support/rejection";

/** An error as the SDK throws it for an S3 error answer: `Code` and the rest come from its XML. */
type S3Failure = Error & {
  Code?: string;
  Condition?: string;
  $metadata?: { httpStatusCode?: number };
};

/** The S3 error a request fails with: its HTTP status, its code and its condition, if any. */
async function failureOf(request: Promise<unknown>): Promise<{ status?: number; code?: string; condition?: string }> {
  const error = (await rejectionOf(request)) as S3Failure;
  return {
    status: error.$metadata?.httpStatusCode,
    code: error.Code ?? error.name,
    ...(error.Condition === undefined ? {} : { condition: error.Condition }),
  };
}

function md5(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("hex");
}

const BUCKET = "patched";

/**
 * Holds every disk write (fs.write and fs.writev, which file streams use) of bytes containing
 * `marker` until release(): a disk that is slow for one body only. `seen` resolves when the
 * first such write is held. restore() releases and puts the fs functions back.
 */
function holdDiskWritesOf(marker: Buffer): { seen: Promise<void>; release(): void; restore(): void } {
  type WriteFunction = (this: unknown, ...args: unknown[]) => unknown;
  const nodeFs = process.getBuiltinModule("node:fs") as unknown as Record<"write" | "writev", WriteFunction>;
  const original = { write: nodeFs.write, writev: nodeFs.writev };
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let markSeen!: () => void;
  const seen = new Promise<void>((resolve) => (markSeen = resolve));
  const holds = (data: unknown): boolean =>
    Buffer.isBuffer(data) ? data.includes(marker) : Array.isArray(data) && data.some(holds);
  for (const name of ["write", "writev"] as const) {
    nodeFs[name] = function (this: unknown, ...args: unknown[]): unknown {
      if (!holds(args[1])) return original[name].apply(this, args);
      markSeen();
      void released.then(() => original[name].apply(this, args));
      return undefined;
    };
  }
  return {
    seen,
    release,
    restore() {
      release();
      nodeFs.write = original.write;
      nodeFs.writev = original.writev;
    },
  };
}

/**
 * A busy loop that ends by itself when its parent goes (a killed test run must not leave it
 * spinning on a shared machine), or after five minutes at most.
 */
const BUSY_LOOP = `
  const parent = process.ppid;
  const end = Date.now() + 300000;
  for (let i = 0; ; i++) {
    if (i % 1e6 === 0 && (process.ppid !== parent || Date.now() > end)) break;
  }`;

/** Busy-loop child processes, to load the CPU while a test runs; stop() kills them. */
function loadCpu(count: number): { stop(): void } {
  const children: ChildProcess[] = Array.from({ length: count }, () =>
    spawn(process.execPath, ["-e", BUSY_LOOP], { stdio: "ignore" }),
  );
  return {
    stop() {
      for (const child of children) child.kill();
    },
  };
}

describe("s3rver as patched (patches/s3rver+3.7.1.patch)", function () {
  let directory: string;
  let s3: LocalS3Server;
  let client: S3Client;

  before(async () => {
    directory = await mkdtemp(path.join(tmpdir(), "s3rver-patch-test-"));
    s3 = await startLocalS3({ directory, buckets: [BUCKET] });
    client = s3.client();
  });

  after(async () => {
    client.destroy();
    await s3.close();
    await rm(directory, { recursive: true, force: true });
  });

  const put = (Key: string, Body: Uint8Array | string, extra: Partial<{ IfMatch: string; IfNoneMatch: string }> = {}) =>
    client.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body, ...extra }));

  async function get(
    Key: string,
  ): Promise<{ body: Buffer; etag?: string; length?: number; metadata: Record<string, string> }> {
    const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key }));
    const body = Buffer.from(await out.Body!.transformToByteArray());
    return { body, etag: out.ETag, length: out.ContentLength, metadata: out.Metadata ?? {} };
  }

  describe("read-after-write", () => {
    it("answers PutObject only once the body is on disk, so a GET right after returns all of it", async () => {
      // A small JSON object, like the request.json that once read back empty on a busy machine.
      const marker = Buffer.from(randomBytes(12).toString("hex"));
      const body = Buffer.from(`{"marker":"${marker.toString()}","request":{"latitude":52.52}}\n`);
      const slowDisk = holdDiskWritesOf(marker);
      try {
        const written = put("slow-disk/request.json", body);
        await slowDisk.seen;
        // The disk completes the write a while later; s3rver 3.7.1 has answered the PUT by then.
        setTimeout(() => slowDisk.release(), 300);
        await written;
        const read = await get("slow-disk/request.json");
        expect(read.body.toString()).to.equal(body.toString());
        expect(read.etag).to.equal(`"${md5(body)}"`);
      } finally {
        slowDisk.restore();
      }
    });

    it("replaces an object all at once: a GET during an overwrite returns the previous version whole", async () => {
      const key = "overwrite/manifest.json";
      const first = Buffer.from(`{"version":1,"pad":"${"a".repeat(70_000)}"}`);
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: first, Metadata: { version: "1" } }));
      const marker = Buffer.from(randomBytes(12).toString("hex"));
      const second = Buffer.from(`{"version":2,"marker":"${marker.toString()}"}`);
      const slowDisk = holdDiskWritesOf(marker);
      try {
        const overwrite = client.send(
          new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: second, Metadata: { version: "2" } }),
        );
        await slowDisk.seen;
        // s3rver 3.7.1 truncated the object's file when the overwrite began.
        const during = await get(key);
        expect(during.body.equals(first), `read ${during.body.length} bytes, not version 1's ${first.length}`).to.equal(
          true,
        );
        expect(during.etag).to.equal(`"${md5(first)}"`);
        expect(during.metadata).to.deep.equal({ version: "1" });
        slowDisk.release();
        await overwrite;
        const after = await get(key);
        expect(after.body.equals(second)).to.equal(true);
        expect(after.etag).to.equal(`"${md5(second)}"`);
        expect(after.metadata).to.deep.equal({ version: "2" });
      } finally {
        slowDisk.restore();
      }
    });

    it("2,000 write-then-read cycles under CPU load: each read is what was just written, and a reader alongside sees only whole versions", async function () {
      // About 10 ms of CPU a cycle (the SDK and s3rver share this process): some 20 s on an
      // idle 2-core machine, more on a busy one, hence the generous timeout.
      this.timeout(240_000);
      const cycles = 2000;
      const writers = 8;
      // Most bodies are small (where the race was seen), one in five is over 64 KiB.
      const sizes = [0, 1, 17, 90, 300, 1000, 4096, 65_537, 2, 200_003];
      const pool = randomBytes(256 * 1024);
      const versions = new Map<string, Set<string>>();
      const readable: string[] = [];
      const failures: string[] = [];
      let next = 0;
      let writing = true;
      let concurrentReads = 0;

      // Each cycle and each concurrent read checks its answer; a failed request counts as a
      // failure too (s3rver 3.7.1 sometimes sent fewer bytes than its Content-Length).
      const attempt = async (what: string, check: () => Promise<string | undefined>): Promise<void> => {
        try {
          const failure = await check();
          if (failure) failures.push(`${what}: ${failure}`);
        } catch (error) {
          failures.push(`${what}: request failed: ${String(error)}`);
        }
      };
      const writer = async (w: number): Promise<void> => {
        for (let i = next++; i < cycles; i = next++) {
          const size = sizes[i % sizes.length]!;
          const offset = (i * 7919) % (pool.length - size);
          const body = pool.subarray(offset, offset + size);
          const hash = md5(body);
          const key = `stress/writer-${w}/object-${i % 3}`;
          // known before the write begins, since a reader may see it as soon as it is stored
          versions.set(key, (versions.get(key) ?? new Set<string>()).add(hash));
          await attempt(`cycle ${i}, ${key}`, async () => {
            await put(key, body);
            if (!readable.includes(key)) readable.push(key);
            const read = await get(key);
            if (read.body.equals(body) && read.etag === `"${hash}"` && read.length === size) return undefined;
            return (
              `wrote ${size} bytes (md5 ${hash}), read ${read.body.length} ` +
              `(Content-Length ${read.length}, ETag ${read.etag})`
            );
          });
        }
      };
      // A reader of keys being overwritten: a body must be a whole version, matching its ETag.
      const reader = async (): Promise<void> => {
        while (writing) {
          const key = readable[Math.floor(Math.random() * readable.length)];
          if (key === undefined) {
            await delay(1);
            continue;
          }
          await attempt(`concurrent read of ${key}`, async () => {
            const read = await get(key);
            concurrentReads++;
            const hash = md5(read.body);
            if (read.etag === `"${hash}"` && read.length === read.body.length && versions.get(key)?.has(hash)) {
              return undefined;
            }
            return `${read.body.length} bytes (md5 ${hash}), Content-Length ${read.length}, ETag ${read.etag}`;
          });
        }
      };

      const load = loadCpu(Math.max(1, availableParallelism() - 1));
      try {
        const writes = Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
        await Promise.all([writes.finally(() => (writing = false)), reader()]);
      } finally {
        load.stop();
      }
      expect(failures.slice(0, 10), `${failures.length} failures`).to.deep.equal([]);
      expect(concurrentReads).to.be.greaterThan(0);
    });

    it("lists a prefix while its objects are written and deleted, without an error", async () => {
      let writing = true;
      let listings = 0;
      const churn = async (w: number): Promise<void> => {
        for (let round = 0; round < 60; round++) {
          // the last delete of a folder's objects removes the folder, which a write re-creates
          const key = `churn/a/b/writer-${w}-${round % 2}`;
          await put(key, randomBytes(64));
          await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
        }
      };
      const list = async (): Promise<void> => {
        while (writing) {
          await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "churn/" }));
          listings++;
          await delay(2);
        }
      };
      const churning = Promise.all([0, 1, 2, 3].map(churn)).finally(() => (writing = false));
      await Promise.all([churning, list(), list()]);
      expect(listings).to.be.greaterThan(0);
      const left = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "churn/" }));
      expect(left.KeyCount).to.equal(0);
    });
  });

  describe("conditional writes (as AWS S3 since 2024)", () => {
    it("PutObject with If-None-Match: * creates a key; on an existing key it answers 412 and keeps the object", async () => {
      const key = "conditional/create-once.json";
      await put(key, "first", { IfNoneMatch: "*" });
      expect(await failureOf(put(key, "second", { IfNoneMatch: "*" }))).to.deep.equal({
        status: 412,
        code: "PreconditionFailed",
        condition: "If-None-Match",
      });
      expect((await get(key)).body.toString()).to.equal("first");
    });

    it("PutObject with If-Match replaces an object of that ETag only; a missing key answers 404 NoSuchKey", async () => {
      const key = "conditional/compare-and-swap.json";
      const { ETag: firstEtag } = await put(key, "v1");
      const { ETag: secondEtag } = await put(key, "v2", { IfMatch: firstEtag! });
      expect(secondEtag).to.equal(`"${md5(Buffer.from("v2"))}"`);
      // The ETag read before v2 is stale now (quoted or not, as S3 compares them without quotes).
      for (const stale of [firstEtag!, firstEtag!.replace(/"/g, "")]) {
        expect(await failureOf(put(key, "v3", { IfMatch: stale }))).to.deep.equal({
          status: 412,
          code: "PreconditionFailed",
          condition: "If-Match",
        });
      }
      expect((await get(key)).body.toString()).to.equal("v2");
      await put(key, "v3", { IfMatch: secondEtag!.replace(/"/g, "") });
      expect((await get(key)).body.toString()).to.equal("v3");
      expect(await failureOf(put("conditional/never-written.json", "x", { IfMatch: firstEtag! }))).to.deep.equal({
        status: 404,
        code: "NoSuchKey",
      });
      expect(await failureOf(get("conditional/never-written.json"))).to.include({ status: 404 });
    });

    it("answers 501 NotImplemented, as S3 does, for If-None-Match other than *, If-Match: *, or both headers", async () => {
      const key = "conditional/unsupported.json";
      await put(key, "kept");
      const { ETag } = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      for (const headers of [{ IfNoneMatch: ETag! }, { IfMatch: "*" }, { IfMatch: ETag!, IfNoneMatch: "*" }]) {
        expect(await failureOf(put(key, "replaced", headers)), JSON.stringify(headers)).to.deep.equal({
          status: 501,
          code: "NotImplemented",
        });
      }
      expect((await get(key)).body.toString()).to.equal("kept");
    });

    it("of concurrent If-None-Match: * writes of one new key, exactly one wins and the others answer 412 or 409", async () => {
      for (let round = 0; round < 10; round++) {
        const key = `conditional/race-${round}.json`;
        const bodies = Array.from({ length: 8 }, (_, i) => `{"writer":${i}}`);
        const outcomes = await Promise.allSettled(bodies.map((body) => put(key, body, { IfNoneMatch: "*" })));
        const winners = outcomes.flatMap((outcome, i) => (outcome.status === "fulfilled" ? [bodies[i]] : []));
        expect(winners, `round ${round}`).to.have.length(1);
        for (const outcome of outcomes) {
          if (outcome.status === "rejected") {
            const error = outcome.reason as S3Failure;
            expect([412, 409]).to.include(error.$metadata?.httpStatusCode);
            expect(["PreconditionFailed", "ConditionalRequestConflict"]).to.include(error.Code);
          }
        }
        expect((await get(key)).body.toString()).to.equal(winners[0]);
      }
    });

    it("loses no update: concurrent read-modify-write increments with If-Match, retried on 412 or 409", async () => {
      const key = "conditional/counter.json";
      await put(key, JSON.stringify({ count: 0 }));
      const writers = 6;
      const increments = 5;
      let retries = 0;
      const increment = async (): Promise<void> => {
        for (;;) {
          const read = await get(key);
          const { count } = JSON.parse(read.body.toString()) as { count: number };
          try {
            await put(key, JSON.stringify({ count: count + 1 }), { IfMatch: read.etag! });
            return;
          } catch (error) {
            const status = (error as S3Failure).$metadata?.httpStatusCode;
            if (status !== 412 && status !== 409) throw error;
            retries++;
          }
        }
      };
      await Promise.all(
        Array.from({ length: writers }, async () => {
          for (let i = 0; i < increments; i++) await increment();
        }),
      );
      expect(JSON.parse((await get(key)).body.toString())).to.deep.equal({ count: writers * increments });
      expect(retries, "the writers did collide").to.be.greaterThan(0);
    });

    it("answers PutObject 409 ConditionalRequestConflict when its key is written while its body uploads", async () => {
      const key = "conditional/conflict.json";
      const { ETag } = await put(key, "v1");
      const marker = Buffer.from(randomBytes(12).toString("hex"));
      const slowDisk = holdDiskWritesOf(marker);
      try {
        const conditional = put(key, `{"marker":"${marker.toString()}"}`, { IfMatch: ETag! });
        await slowDisk.seen;
        // The same bytes again: the ETag still matches, but the key changed during the upload.
        await put(key, "v1");
        slowDisk.release();
        expect(await failureOf(conditional)).to.deep.equal({
          status: 409,
          code: "ConditionalRequestConflict",
          condition: "If-Match",
        });
      } finally {
        slowDisk.restore();
      }
      expect((await get(key)).body.toString()).to.equal("v1");
    });

    describe("CompleteMultipartUpload", () => {
      /** Initiates an upload of `key` and uploads one part: call the result to complete it. */
      async function startUpload(key: string, body: string) {
        const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
        const { ETag } = await client.send(
          new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 1, Body: body }),
        );
        return (conditions: Partial<{ IfMatch: string; IfNoneMatch: string }> = {}) =>
          client.send(
            new CompleteMultipartUploadCommand({
              Bucket: BUCKET,
              Key: key,
              UploadId,
              MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] },
              ...conditions,
            }),
          );
      }

      it("honours If-None-Match: * (412 on an existing key) and If-Match (412 stale, 404 missing)", async () => {
        const key = "multipart/conditional.json";
        await (
          await startUpload(key, "first")
        )({ IfNoneMatch: "*" });
        expect((await get(key)).body.toString()).to.equal("first");
        const { ETag } = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));

        const second = await startUpload(key, "second");
        expect(await failureOf(second({ IfNoneMatch: "*" }))).to.deep.equal({
          status: 412,
          code: "PreconditionFailed",
          condition: "If-None-Match",
        });
        expect(await failureOf(second({ IfMatch: `"${md5(Buffer.from("other"))}"` }))).to.deep.equal({
          status: 412,
          code: "PreconditionFailed",
          condition: "If-Match",
        });
        expect((await get(key)).body.toString()).to.equal("first");
        // A failed precondition leaves the upload in place, to be completed once it holds.
        await second({ IfMatch: ETag! });
        expect((await get(key)).body.toString()).to.equal("second");

        const missing = await startUpload("multipart/never-written.json", "x");
        expect(await failureOf(missing({ IfMatch: ETag! }))).to.deep.equal({ status: 404, code: "NoSuchKey" });
      });

      it("answers 409 ConditionalRequestConflict if the key was written or deleted after the upload began", async () => {
        const key = "multipart/conflict.json";
        const { ETag } = await put(key, "v1");
        const rewritten = await startUpload(key, "from the upload");
        await put(key, "v1"); // same bytes, same ETag: still a write during the upload
        expect(await failureOf(rewritten({ IfMatch: ETag! }))).to.deep.equal({
          status: 409,
          code: "ConditionalRequestConflict",
          condition: "If-Match",
        });

        const deleted = await startUpload(key, "from the upload");
        await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
        expect(await failureOf(deleted({ IfNoneMatch: "*" }))).to.deep.equal({
          status: 409,
          code: "ConditionalRequestConflict",
          condition: "If-None-Match",
        });
        // An upload begun after those changes completes.
        await (
          await startUpload(key, "restarted")
        )({ IfNoneMatch: "*" });
        expect((await get(key)).body.toString()).to.equal("restarted");
      });

      it("answers 400 InvalidPart for a part never uploaded or a wrong part ETag, and 404 NoSuchUpload once completed", async () => {
        const key = "multipart/parts.json";
        const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
        const { ETag } = await client.send(
          new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 1, Body: "part one" }),
        );
        const complete = (Parts: { PartNumber: number; ETag: string }[]) =>
          client.send(
            new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId, MultipartUpload: { Parts } }),
          );
        // s3rver 3.7.1 crashed on the first (an unhandled error of a part's read stream).
        expect(
          await failureOf(
            complete([
              { PartNumber: 1, ETag: ETag! },
              { PartNumber: 2, ETag: ETag! },
            ]),
          ),
        ).to.deep.equal({ status: 400, code: "InvalidPart" });
        expect(await failureOf(complete([{ PartNumber: 1, ETag: `"${md5(Buffer.from("other"))}"` }]))).to.deep.equal({
          status: 400,
          code: "InvalidPart",
        });
        expect(await failureOf(get(key))).to.include({ status: 404 });
        await complete([{ PartNumber: 1, ETag: ETag! }]);
        expect((await get(key)).body.toString()).to.equal("part one");
        expect(await failureOf(complete([{ PartNumber: 1, ETag: ETag! }]))).to.deep.equal({
          status: 404,
          code: "NoSuchUpload",
        });
      });
    });

    it("CopyObject honours If-None-Match: * and If-Match on its destination", async () => {
      await put("copy/source.json", "source");
      await put("copy/target.json", "target");
      const copy = (conditions: Partial<{ IfMatch: string; IfNoneMatch: string }>) =>
        client.send(
          new CopyObjectCommand({
            Bucket: BUCKET,
            Key: "copy/target.json",
            CopySource: `${BUCKET}/copy/source.json`,
            ...conditions,
          }),
        );
      expect(await failureOf(copy({ IfNoneMatch: "*" }))).to.deep.equal({
        status: 412,
        code: "PreconditionFailed",
        condition: "If-None-Match",
      });
      expect(await failureOf(copy({ IfMatch: `"${md5(Buffer.from("other"))}"` }))).to.include({ status: 412 });
      expect((await get("copy/target.json")).body.toString()).to.equal("target");
      await copy({ IfMatch: `"${md5(Buffer.from("target"))}"` });
      expect((await get("copy/target.json")).body.toString()).to.equal("source");
    });
  });

  describe("a bucket whose caller lacks s3:ListBucket (missingKeyError: AccessDenied)", () => {
    it("answers GET and HEAD of a missing key 403 AccessDenied there, and 404 in other buckets", async () => {
      const dir = await mkdtemp(path.join(tmpdir(), "s3rver-patch-test-"));
      const server = await startLocalS3({
        directory: dir,
        buckets: ["listable", "unlistable"],
        withoutListBucket: ["unlistable"],
      });
      const c = server.client();
      try {
        const getMissing = (Bucket: string) => c.send(new GetObjectCommand({ Bucket, Key: "missing.json" }));
        const headMissing = (Bucket: string) => c.send(new HeadObjectCommand({ Bucket, Key: "missing.json" }));
        expect(await failureOf(getMissing("unlistable"))).to.deep.equal({ status: 403, code: "AccessDenied" });
        // A HEAD answer has no body, so the SDK only sees the status.
        expect(await failureOf(headMissing("unlistable"))).to.include({ status: 403 });
        expect(await failureOf(getMissing("listable"))).to.deep.equal({ status: 404, code: "NoSuchKey" });
        expect(await failureOf(headMissing("listable"))).to.include({ status: 404 });
        // An existing key reads as usual.
        await c.send(new PutObjectCommand({ Bucket: "unlistable", Key: "present.json", Body: "{}" }));
        const out = await c.send(new GetObjectCommand({ Bucket: "unlistable", Key: "present.json" }));
        expect(await out.Body!.transformToString()).to.equal("{}");
      } finally {
        c.destroy();
        await server.close();
        await rm(dir, { recursive: true, force: true });
      }
    });

    it("rejects an unknown missingKeyError, naming the bucket, the value and the choices", () => {
      const options = {
        configureBuckets: [
          { name: "fine", configs: [] },
          { name: "wrong", configs: [], missingKeyError: "Forbidden" as "AccessDenied" },
        ],
      };
      expect(() => new S3rver(options)).to.throw(
        'configureBuckets[1].missingKeyError is "Forbidden"; it must be "NoSuchKey" (the default) or "AccessDenied"',
      );
    });

    it("startLocalS3 rejects withoutListBucket naming a bucket it does not create", async () => {
      const error = await rejectionOf(
        startLocalS3({ directory: path.join(directory, "unused"), buckets: ["raw"], withoutListBucket: ["curated"] }),
      );
      expect(error.message).to.equal(
        'withoutListBucket[0] is "curated"; it must be one of buckets (raw): add it to buckets or remove it here',
      );
    });
  });
});
