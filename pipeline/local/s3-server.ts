/**
 * An S3-protocol server on 127.0.0.1 (s3rver), for local runs and tests: real HTTP, real
 * S3 wire format, objects kept as files in a folder.
 */
import { mkdir } from "node:fs/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";
import { createS3Client } from "../core/storage";

/** A running local S3 server. */
export interface LocalS3Server {
  /** e.g. http://127.0.0.1:4568, for AWS_ENDPOINT_URL_S3. */
  readonly endpoint: string;
  readonly port: number;
  readonly directory: string;
  /** A new S3 client for this server: path-style URLs, the credentials s3rver checks. */
  client(): S3Client;
  close(): Promise<void>;
}

/** Credentials s3rver accepts (it checks signatures against these fixed values). */
export const LOCAL_S3_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

/** Starts s3rver with the given buckets; port 0 picks a free port. */
export async function startLocalS3(options: {
  directory: string;
  buckets: readonly string[];
  port?: number;
  /**
   * Buckets the caller may not list (no s3:ListBucket): there, as on AWS, GET and HEAD of a
   * missing key answer 403 AccessDenied instead of 404 NoSuchKey. Each must be in `buckets`.
   */
  withoutListBucket?: readonly string[];
}): Promise<LocalS3Server> {
  const withoutListBucket = options.withoutListBucket ?? [];
  withoutListBucket.forEach((name, i) => {
    if (!options.buckets.includes(name)) {
      throw new Error(
        `withoutListBucket[${i}] is ${JSON.stringify(name)}; it must be one of buckets ` +
          `(${options.buckets.join(", ") || "none"}): add it to buckets or remove it here`,
      );
    }
  });
  await mkdir(options.directory, { recursive: true });
  const server = new S3rver({
    address: "127.0.0.1",
    port: options.port ?? 0,
    silent: true,
    directory: options.directory,
    // missingKeyError comes from patches/s3rver+3.7.1.patch
    configureBuckets: options.buckets.map((name) => ({
      name,
      configs: [],
      ...(withoutListBucket.includes(name) ? { missingKeyError: "AccessDenied" as const } : {}),
    })),
  });
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    port: address.port,
    directory: options.directory,
    client: () =>
      createS3Client({
        endpoint: `http://127.0.0.1:${address.port}`,
        forcePathStyle: true,
        region: "us-east-1",
        credentials: LOCAL_S3_CREDENTIALS,
      }),
    close: () => server.close(),
  };
}
