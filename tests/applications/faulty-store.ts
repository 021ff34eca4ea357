/**
 * A ConditionalObjectStore around a real one that runs a hook before and after each operation:
 * a test makes it throw (a crash), wait (a barrier), or stop S3 at an exact step.
 */
import type {
  ConditionalObjectStore,
  ObjectInfo,
  PutOptions,
  StoredObject,
  WriteCondition,
} from "../../pipeline/core/storage";

/** The operations of a store. */
export type Operation = "put" | "putIf" | "copy" | "delete" | "deleteIf" | "get" | "head" | "list";

/** A hook; `step` counts the writes (put, putIf, copy, delete, deleteIf) from 1. */
export type Hook = (operation: Operation, key: string, step: number) => Promise<void> | void;

const WRITES: readonly Operation[] = ["put", "putIf", "copy", "delete", "deleteIf"];

export class FaultyStore implements ConditionalObjectStore {
  readonly description: string;
  private writes = 0;
  /** Every write, in order, as "<operation> <key>". */
  readonly log: string[] = [];

  constructor(
    private readonly inner: ConditionalObjectStore,
    private readonly before: Hook = () => undefined,
    private readonly after: Hook = () => undefined,
  ) {
    this.description = inner.description;
  }

  private async run<T>(operation: Operation, key: string, action: () => Promise<T>): Promise<T> {
    const step = WRITES.includes(operation) ? ++this.writes : this.writes;
    await this.before(operation, key, step);
    const result = await action();
    if (WRITES.includes(operation)) this.log.push(`${operation} ${key}`);
    await this.after(operation, key, step);
    return result;
  }

  putObject(key: string, body: Uint8Array | string, options: PutOptions): Promise<void> {
    return this.run("put", key, () => this.inner.putObject(key, body, options));
  }
  putObjectIf(key: string, body: Uint8Array | string, options: PutOptions, condition: WriteCondition) {
    return this.run("putIf", key, () => this.inner.putObjectIf(key, body, options, condition));
  }
  copyObject(sourceKey: string, targetKey: string, options?: { readonly sourceEtag?: string }): Promise<void> {
    return this.run("copy", targetKey, () => this.inner.copyObject(sourceKey, targetKey, options));
  }
  deleteObject(key: string): Promise<void> {
    return this.run("delete", key, () => this.inner.deleteObject(key));
  }
  deleteObjectIf(key: string, expected: { readonly etag: string; readonly versionId?: string }): Promise<boolean> {
    return this.run("deleteIf", key, () => this.inner.deleteObjectIf(key, expected));
  }
  getObjectStream(key: string): Promise<AsyncIterable<Uint8Array>> {
    return this.run("get", key, () => this.inner.getObjectStream(key));
  }
  getObject(key: string): Promise<StoredObject> {
    return this.run("get", key, () => this.inner.getObject(key));
  }
  headObject(key: string): Promise<ObjectInfo | undefined> {
    return this.run("head", key, () => this.inner.headObject(key));
  }
  listKeys(prefix: string): Promise<string[]> {
    return this.run("list", prefix, () => this.inner.listKeys(prefix));
  }
}

/** The error a simulated crash throws. */
export class Crash extends Error {
  constructor(step: number, key: string) {
    super(`simulated crash after write ${step} (${key})`);
  }
}
