/**
 * Where the pipeline keeps objects: an S3 bucket in AWS and in local runs (s3rver),
 * or a plain folder for `pipeline transform --out` (object-store.ts, re-exported here). The data
 * logic only sees ObjectStore.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { ObjectNotFoundError, type ObjectStore, type PutOptions, type StoredObject } from "./object-store";

export {
  DirectoryObjectStore,
  ObjectNotFoundError,
  type ObjectStore,
  type PutOptions,
  type StoredObject,
} from "./object-store";

// A module-level binding, so the serialized Lambda captures the class itself rather than the
// whole imported module object (the package stays as small as before the split).
const NotFound = ObjectNotFoundError;

/** Builds an S3 client; an endpoint override (AWS_ENDPOINT_URL_S3, e.g. s3rver) uses path-style URLs. */
export function createS3Client(config: S3ClientConfig = {}): S3Client {
  const endpoint = process.env["AWS_ENDPOINT_URL_S3"] ?? process.env["AWS_ENDPOINT_URL"];
  return new S3Client({ ...(endpoint ? { forcePathStyle: true } : {}), ...config });
}

/** An ObjectStore over one S3 bucket. */
export class S3ObjectStore implements ObjectStore {
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
    return { key, body: await out.Body.transformToByteArray(), metadata: out.Metadata ?? {} };
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
}
