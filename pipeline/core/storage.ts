/**
 * Where the pipeline keeps objects: an S3 bucket in AWS and in local runs (s3rver),
 * or a plain folder for `pipeline transform --out` (object-store.ts, re-exported here). The data
 * logic only sees ObjectStore.
 */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import {
  bareEtag,
  ObjectNotFoundError,
  PreconditionFailedError,
  type ConditionalObjectStore,
  type ObjectInfo,
  type PreconditionOutcome,
  type PutOptions,
  type StoredObject,
  type WriteCondition,
} from "./object-store";

export {
  bareEtag,
  DirectoryObjectStore,
  ObjectNotFoundError,
  PreconditionFailedError,
  type ConditionalObjectStore,
  type ObjectInfo,
  type ObjectStore,
  type PreconditionOutcome,
  type PutOptions,
  type StoredObject,
  type WriteCondition,
} from "./object-store";

// Module-level bindings, so the serialized Lambda captures the classes and the function
// themselves rather than the whole imported module object (the package stays as small as
// before the split).
const NotFound = ObjectNotFoundError;
const PreconditionFailed = PreconditionFailedError;
const bareEtagOf = bareEtag;

/** The S3 error name of an SDK error, and its HTTP status. */
function s3ErrorOf(error: unknown): { name?: string; status?: number } {
  const e = error as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } } | null;
  return { name: e?.Code ?? e?.name, status: e?.$metadata?.httpStatusCode };
}

/** Builds an S3 client; an endpoint override (AWS_ENDPOINT_URL_S3, e.g. s3rver) uses path-style URLs. */
export function createS3Client(config: S3ClientConfig = {}): S3Client {
  const endpoint = process.env["AWS_ENDPOINT_URL_S3"] ?? process.env["AWS_ENDPOINT_URL"];
  return new S3Client({ ...(endpoint ? { forcePathStyle: true } : {}), ...config });
}

/** An ObjectStore over one S3 bucket. */
export class S3ObjectStore implements ConditionalObjectStore {
  readonly description: string;

  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
  ) {
    this.description = `s3://${bucket}`;
  }

  async putObject(key: string, body: Uint8Array | string, options: PutOptions): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: options.contentType,
        Metadata: options.metadata ? { ...options.metadata } : undefined,
      }),
    );
  }

  async getObject(key: string): Promise<StoredObject> {
    const out = await this.get(key);
    return {
      key,
      body: await out.Body.transformToByteArray(),
      metadata: out.Metadata ?? {},
      ...(out.ETag === undefined ? {} : { etag: out.ETag }),
    };
  }

  /** In Node the SDK's body is an http.IncomingMessage: a Readable, so an async iterable of Buffers. */
  async getObjectStream(key: string): Promise<AsyncIterable<Uint8Array>> {
    return (await this.get(key)).Body as unknown as AsyncIterable<Uint8Array>;
  }

  /** GetObject, with its body; a missing key as ObjectNotFoundError. */
  private async get(key: string) {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!out.Body) throw new Error(`${this.description}/${key} has no body`);
      return out as typeof out & { Body: NonNullable<typeof out.Body> };
    } catch (error) {
      if (error instanceof NoSuchKey) throw new NotFound(this.description, key);
      // The SDK names a service error by its code.
      if ((error as { name?: unknown }).name === "AccessDenied") {
        throw new NotFound(this.description, key, true);
      }
      throw error;
    }
  }

  async listKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const item of page.Contents ?? []) if (item.Key) keys.push(item.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  }

  async deleteObject(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async headObject(key: string): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      if (out.ETag === undefined) throw new Error(`${this.description}/${key} has no ETag`);
      return {
        key,
        etag: out.ETag,
        size: out.ContentLength ?? 0,
        ...(out.VersionId === undefined || out.VersionId === "null" ? {} : { versionId: out.VersionId }),
      };
    } catch (error) {
      // A HEAD answer has no body, so the SDK names a 404 NotFound rather than NoSuchKey.
      const { name, status } = s3ErrorOf(error);
      if (status === 404 || name === "NotFound" || name === "NoSuchKey") return undefined;
      throw error;
    }
  }

  async putObjectIf(
    key: string,
    body: Uint8Array | string,
    options: PutOptions,
    condition: WriteCondition,
  ): Promise<{ readonly etag: string }> {
    try {
      const out = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: options.contentType,
          Metadata: options.metadata ? { ...options.metadata } : undefined,
          ...("ifMatch" in condition ? { IfMatch: condition.ifMatch } : { IfNoneMatch: condition.ifNoneMatch }),
        }),
      );
      if (out.ETag === undefined) throw new Error(`${this.description}/${key}: PutObject answered no ETag`);
      return { etag: out.ETag };
    } catch (error) {
      const { name, status } = s3ErrorOf(error);
      const outcome: PreconditionOutcome | undefined =
        name === "PreconditionFailed" || status === 412
          ? "failed"
          : name === "ConditionalRequestConflict" || status === 409
            ? "conflict"
            : error instanceof NoSuchKey || name === "NoSuchKey"
              ? "missing"
              : undefined;
      if (outcome) throw new PreconditionFailed(this.description, key, outcome, { cause: error });
      throw error;
    }
  }

  async copyObject(
    sourceKey: string,
    targetKey: string,
    options: { readonly sourceEtag?: string } = {},
  ): Promise<void> {
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: targetKey,
          CopySource: `${this.bucket}/${encodeURIComponent(sourceKey).replace(/%2F/g, "/")}`,
          ...(options.sourceEtag === undefined ? {} : { CopySourceIfMatch: options.sourceEtag }),
        }),
      );
    } catch (error) {
      const { name, status } = s3ErrorOf(error);
      if (name === "PreconditionFailed" || status === 412) {
        throw new PreconditionFailed(this.description, sourceKey, "failed", { cause: error });
      }
      if (error instanceof NoSuchKey || name === "NoSuchKey") throw new NotFound(this.description, sourceKey);
      throw error;
    }
  }

  async deleteObjectIf(
    key: string,
    expected: { readonly etag: string; readonly versionId?: string },
  ): Promise<boolean> {
    if (expected.versionId !== undefined) {
      // Deleting the version removes exactly that object, never a newer upload of the key.
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key, VersionId: expected.versionId }));
      return true;
    }
    // Without versions S3 has no conditional delete here: check, then delete (a bucket with
    // versioning, as deployed, takes the exact path above).
    const current = await this.headObject(key);
    if (current === undefined) return true;
    if (bareEtagOf(current.etag) !== bareEtagOf(expected.etag)) return false;
    await this.deleteObject(key);
    return true;
  }
}
