/**
 * What the pipeline stores objects through (ObjectStore), and the store over a plain folder
 * (`pipeline transform --out`, local runs' records, tests). Apart from storage.ts, so that what
 * needs only a folder does not load the AWS SDK (`pipeline transform` starts without it: ~0.1 s
 * of CPU and ~25 MB less); storage.ts re-exports all of it.
 */
import { mkdir, open, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { PipelineError } from "./errors";

/** One object as the pipeline reads it back. */
export interface StoredObject {
  readonly key: string;
  readonly body: Uint8Array;
  /** User metadata, lower-case keys without the x-amz-meta- prefix. */
  readonly metadata: Readonly<Record<string, string>>;
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

/** An ObjectStore over a local folder; metadata is kept in `<key>.metadata.json` beside each object. */
export class DirectoryObjectStore implements ObjectStore {
  readonly description: string;

  constructor(readonly root: string) {
    this.description = root;
  }

  async putObject(key: string, body: Uint8Array | string, options: PutOptions): Promise<void> {
    const file = this.pathOf(key);
    await mkdir(path.dirname(file), { recursive: true });
    // Write then rename, so a reader never sees half a file (as S3 never shows half an object).
    const partial = `${file}.partial`;
    await writeFile(partial, body);
    await rename(partial, file);
    if (options.metadata && Object.keys(options.metadata).length > 0) {
      await writeFile(`${file}.metadata.json`, JSON.stringify(options.metadata, null, 2));
    }
  }

  async getObject(key: string): Promise<StoredObject> {
    const file = this.pathOf(key);
    let body: Uint8Array;
    try {
      body = await readFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        throw new ObjectNotFoundError(this.description, key);
      }
      throw error;
    }
    let metadata: Record<string, string> = {};
    try {
      metadata = JSON.parse(await readFile(`${file}.metadata.json`, "utf8")) as Record<string, string>;
    } catch {
      // An object written without metadata has no sidecar.
    }
    return { key, body, metadata };
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
      .filter((f) => f.isFile() && !f.name.endsWith(".metadata.json") && !f.name.endsWith(".partial"))
      .map((f) => path.relative(this.root, path.join(f.parentPath, f.name)).split(path.sep).join("/"))
      .filter((key) => key.startsWith(prefix))
      .sort();
  }

  async deleteObject(key: string): Promise<void> {
    const file = this.pathOf(key);
    // The sidecar first: a crash in between leaves an object without metadata, never metadata
    // that a later object of the same key would inherit.
    await rm(`${file}.metadata.json`, { force: true });
    await rm(file, { force: true });
  }

  private pathOf(key: string): string {
    const file = path.resolve(this.root, key);
    if (!file.startsWith(path.resolve(this.root) + path.sep)) {
      throw new Error(`object key ${JSON.stringify(key)} escapes ${this.root}; keys must be relative paths`);
    }
    return file;
  }
}
