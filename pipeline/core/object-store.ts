/**
 * What the pipeline stores objects through (ObjectStore, and ConditionalObjectStore for writes
 * that check the key's current object), and the store over a plain folder (`pipeline transform
 * --out`, local runs' records, tests). Apart from storage.ts, so that what needs only a folder
 * does not load the AWS SDK (`pipeline transform` starts without it: ~0.1 s of CPU and ~25 MB
 * less); storage.ts re-exports all of it.
 */
import { createHash } from "node:crypto";
import { mkdir, open, readFile, readdir, rename, unlink, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { PipelineError } from "./errors";

/** One object as the pipeline reads it back. */
export interface StoredObject {
  readonly key: string;
  readonly body: Uint8Array;
  /** User metadata, lower-case keys without the x-amz-meta- prefix. */
  readonly metadata: Readonly<Record<string, string>>;
  /** The object's ETag with its double quotes, as S3 sends it (a folder store: the body's MD5). */
  readonly etag?: string;
}

/** Options of a write. */
export interface PutOptions {
  readonly contentType: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** The few storage operations the pipeline needs. Writes are whole-object and atomic. */
export interface ObjectStore {
  /** A human-readable location, e.g. s3://bucket or a folder path, for messages. */
  readonly description: string;
  putObject(key: string, body: Uint8Array | string, options: PutOptions): Promise<void>;
  /**
   * Reads an object; throws ObjectNotFoundError when it does not exist, or (S3) when S3 answers
   * AccessDenied, which is what it answers for a missing key to a reader who may not list it.
   */
  getObject(key: string): Promise<StoredObject>;
  /**
   * Reads an object's body as a stream of chunks, so memory never holds all of it; throws
   * ObjectNotFoundError (before the first chunk) when it does not exist.
   */
  getObjectStream(key: string): Promise<AsyncIterable<Uint8Array>>;
  /** Lists keys under a prefix, in lexicographic order. */
  listKeys(prefix: string): Promise<string[]>;
  /** Deletes an object; deleting a key that does not exist succeeds (as in S3). */
  deleteObject(key: string): Promise<void>;
}

/**
 * Thrown by getObject for a key that does not exist. `accessDenied` is set when S3 answered
 * AccessDenied: S3 answers so for a missing key when the reader may not list the bucket, and
 * for a key the reader may not get, and does not say which.
 */
export class ObjectNotFoundError extends PipelineError {
  constructor(
    readonly store: string,
    readonly key: string,
    readonly accessDenied = false,
  ) {
    super(
      "ObjectNotFoundError",
      accessDenied
        ? `${store}/${key} does not exist or may not be read: S3 answered AccessDenied, as it does for a missing key ` +
            `when the reader may not list the bucket`
        : `${store}/${key} does not exist`,
    );
  }
}

/** What a conditional write requires of the key's current object. */
export type WriteCondition =
  /** The key must not exist: creates, never replaces. */
  | { readonly ifNoneMatch: "*" }
  /** The key's current ETag must be this one (quoted or not): replaces exactly what was read. */
  | { readonly ifMatch: string };

/** An object's identity and size, without its body. */
export interface ObjectInfo {
  readonly key: string;
  /** With its double quotes, as S3 sends it. */
  readonly etag: string;
  readonly size: number;
  /** The version in a versioned bucket; undefined where there is none (a folder store, s3rver). */
  readonly versionId?: string;
}

/** Why a conditional write did not happen. */
export type PreconditionOutcome =
  /** The condition did not hold (S3 412 PreconditionFailed). */
  | "failed"
  /** The key was written while this write was under way (S3 409 ConditionalRequestConflict). */
  | "conflict"
  /** If-Match on a key that does not exist (S3 404 NoSuchKey). */
  | "missing";

/** Thrown by a conditional write that did not happen; read the key again and retry. */
export class PreconditionFailedError extends PipelineError {
  constructor(
    readonly store: string,
    readonly key: string,
    readonly outcome: PreconditionOutcome,
    options?: { cause?: unknown },
  ) {
    super(
      "PreconditionFailedError",
      `${store}/${key} was not written: ${
        outcome === "failed"
          ? "its current version is not the one the write was conditioned on"
          : outcome === "conflict"
            ? "another write of it was under way"
            : "it does not exist"
      }; read it again and retry`,
      options,
    );
  }
}

/** The ETag without its double quotes, as S3 compares them. */
export function bareEtag(etag: string): string {
  return etag.replace(/"/g, "");
}

/**
 * An ObjectStore that also writes conditionally (S3's If-Match / If-None-Match on PutObject),
 * so a read-modify-write never loses a concurrent update.
 */
export interface ConditionalObjectStore extends ObjectStore {
  /** The object's ETag, size and version, or undefined when the key does not exist. */
  headObject(key: string): Promise<ObjectInfo | undefined>;
  /** Writes only if `condition` holds, atomically; throws PreconditionFailedError otherwise. */
  putObjectIf(
    key: string,
    body: Uint8Array | string,
    options: PutOptions,
    condition: WriteCondition,
  ): Promise<{ readonly etag: string }>;
  /**
   * Copies an object within the store (server-side in S3, so its size does not matter). With
   * `sourceEtag`, only if the source still has that ETag (S3's x-amz-copy-source-if-match).
   */
  copyObject(sourceKey: string, targetKey: string, options?: { readonly sourceEtag?: string }): Promise<void>;
  /**
   * Deletes the key only while it holds the object described (its version where the bucket has
   * versions, else its ETag); returns false, deleting nothing, when it holds another one.
   */
  deleteObjectIf(key: string, expected: { readonly etag: string; readonly versionId?: string }): Promise<boolean>;
}
/** How long a folder store waits for another writer's lock of the same key before it gives up. */
const LOCK_WAIT_MS = 10_000;

/** True while a process of this id runs on this machine. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The process id written in a lock file; undefined while it is being written or gone. */
async function lockHolder(lock: string): Promise<number | undefined> {
  const holder = Number(await readFile(lock, "utf8").catch(() => ""));
  return Number.isInteger(holder) && holder > 0 ? holder : undefined;
}

/**
 * Removes `lock` if `deadHolder` still holds it. Two waiters could both find the same dead
 * holder, and the second would then remove the first one's new lock; so the check and the
 * removal happen under `<lock>.takeover`, itself created with O_EXCL. Returns true when the
 * caller should try to take the lock again at once.
 */
async function removeStaleLock(lock: string, deadHolder: number): Promise<boolean> {
  const takeover = `${lock}.takeover`;
  try {
    await (await open(takeover, "wx")).close();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    // Another waiter is taking over; or one died doing it (an empty file, minutes old).
    return false;
  }
  try {
    if ((await lockHolder(lock)) === deadHolder) await removeFile(lock);
    return true;
  } finally {
    await removeFile(takeover);
  }
}

/**
 * Deletes a file if it is there. One unlink: rm({ force: true }) stats the path first, and a
 * transform writing a year of files did that twice per file (its lock, the metadata sidecar).
 */
async function removeFile(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

/** The ETag S3 gives an object written in one PUT: the body's MD5, quoted. */
function md5Etag(body: Uint8Array | string): string {
  return `"${createHash("md5").update(body).digest("hex")}"`;
}

/**
 * An ObjectStore over a local folder; metadata is kept in `<key>.metadata.json` beside each
 * object. Every write of a key holds `<key>.lock`, created with O_EXCL (a file only one
 * process can create), so a conditional write checks and replaces atomically, across
 * processes, as S3 does; a lock left by a process that died is taken over.
 */
export class DirectoryObjectStore implements ConditionalObjectStore {
  readonly description: string;

  constructor(readonly root: string) {
    this.description = root;
  }

  async putObject(key: string, body: Uint8Array | string, options: PutOptions): Promise<void> {
    const file = this.pathOf(key);
    await this.withLock(file, () => this.write(file, body, options));
  }

  async putObjectIf(
    key: string,
    body: Uint8Array | string,
    options: PutOptions,
    condition: WriteCondition,
  ): Promise<{ readonly etag: string }> {
    const file = this.pathOf(key);
    return this.withLock(file, async () => {
      const current = await this.readBody(file);
      const outcome: PreconditionOutcome | undefined =
        "ifMatch" in condition
          ? current === undefined
            ? "missing"
            : bareEtag(md5Etag(current)) === bareEtag(condition.ifMatch)
              ? undefined
              : "failed"
          : current === undefined
            ? undefined
            : "failed";
      if (outcome) throw new PreconditionFailedError(this.description, key, outcome);
      await this.write(file, body, options);
      return { etag: md5Etag(body) };
    });
  }

  async getObject(key: string): Promise<StoredObject> {
    const file = this.pathOf(key);
    const body = await this.readBody(file);
    if (body === undefined) throw new ObjectNotFoundError(this.description, key);
    let metadata: Record<string, string> = {};
    try {
      metadata = JSON.parse(await readFile(`${file}.metadata.json`, "utf8")) as Record<string, string>;
    } catch {
      // An object written without metadata has no sidecar.
    }
    return { key, body, metadata, etag: md5Etag(body) };
  }

  async headObject(key: string): Promise<ObjectInfo | undefined> {
    const body = await this.readBody(this.pathOf(key));
    return body === undefined ? undefined : { key, etag: md5Etag(body), size: body.byteLength };
  }

  async copyObject(
    sourceKey: string,
    targetKey: string,
    options: { readonly sourceEtag?: string } = {},
  ): Promise<void> {
    const source = await this.getObject(sourceKey);
    if (options.sourceEtag !== undefined && bareEtag(source.etag as string) !== bareEtag(options.sourceEtag)) {
      throw new PreconditionFailedError(this.description, sourceKey, "failed");
    }
    await this.putObject(targetKey, source.body, {
      contentType: "application/octet-stream",
      metadata: source.metadata,
    });
  }

  async deleteObjectIf(key: string, expected: { readonly etag: string }): Promise<boolean> {
    const file = this.pathOf(key);
    return this.withLock(file, async () => {
      const current = await this.readBody(file);
      if (current === undefined) return true;
      if (bareEtag(md5Etag(current)) !== bareEtag(expected.etag)) return false;
      await this.remove(file);
      return true;
    });
  }

  async getObjectStream(key: string): Promise<AsyncIterable<Uint8Array>> {
    try {
      // Opened first, so a missing file fails here rather than at the first read.
      const handle = await open(this.pathOf(key), "r");
      return handle.createReadStream({ highWaterMark: 1 << 20 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new ObjectNotFoundError(this.description, key);
      throw error;
    }
  }

  async listKeys(prefix: string): Promise<string[]> {
    const files = await readdir(this.root, { recursive: true, withFileTypes: true }).catch(() => []);
    return files
      .filter(
        (f) =>
          f.isFile() &&
          !f.name.endsWith(".metadata.json") &&
          !f.name.endsWith(".partial") &&
          !f.name.endsWith(".lock") &&
          !f.name.endsWith(".lock.takeover"),
      )
      .map((f) => path.relative(this.root, path.join(f.parentPath, f.name)).split(path.sep).join("/"))
      .filter((key) => key.startsWith(prefix))
      .sort();
  }

  async deleteObject(key: string): Promise<void> {
    const file = this.pathOf(key);
    await this.withLock(file, () => this.remove(file));
  }

  private async remove(file: string): Promise<void> {
    // The sidecar first: a crash in between leaves an object without metadata, never metadata
    // that a later object of the same key would inherit.
    await removeFile(`${file}.metadata.json`);
    await removeFile(file);
  }

  private async readBody(file: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
  }

  private async write(file: string, body: Uint8Array | string, options: PutOptions): Promise<void> {
    // Write then rename, so a reader never sees half a file (as S3 never shows half an object).
    const partial = `${file}.partial`;
    await writeFile(partial, body);
    await rename(partial, file);
    if (options.metadata && Object.keys(options.metadata).length > 0) {
      await writeFile(`${file}.metadata.json`, JSON.stringify(options.metadata, null, 2));
    } else {
      await removeFile(`${file}.metadata.json`);
    }
  }

  /** Runs `action` holding the key's lock file, waiting for another holder to finish. */
  private async withLock<T>(file: string, action: () => Promise<T>): Promise<T> {
    await mkdir(path.dirname(file), { recursive: true });
    const lock = `${file}.lock`;
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        const handle = await open(lock, "wx");
        try {
          await handle.writeFile(String(process.pid));
        } finally {
          await handle.close();
        }
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const holder = await lockHolder(lock);
      // An empty lock file is one being created right now; only a dead holder's is taken over.
      if (holder !== undefined && !isRunning(holder) && (await removeStaleLock(lock, holder))) continue;
      if (Date.now() > deadline) {
        throw new Error(
          `${lock} is held by process ${holder || "(unknown)"} for more than ${LOCK_WAIT_MS} ms; ` +
            "if no process of the pipeline is writing there, delete the lock file",
        );
      }
      await delay(Math.min(50, 2 + attempt * 2) * (0.5 + Math.random()));
    }
    try {
      return await action();
    } finally {
      await removeFile(lock);
    }
  }

  private pathOf(key: string): string {
    const file = path.resolve(this.root, key);
    if (!file.startsWith(path.resolve(this.root) + path.sep)) {
      throw new Error(`object key ${JSON.stringify(key)} escapes ${this.root}; keys must be relative paths`);
    }
    return file;
  }
}
