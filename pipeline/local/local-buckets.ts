/**
 * The curated bucket that `npm start` keeps in s3rver's folder format under `<data-dir>/s3`,
 * opened through the S3 API (s3rver's files are not plain Parquet files), for the local
 * `query` and `compact` commands.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { S3ObjectStore } from "../core/storage";
import { startLocalS3 } from "./s3-server";

/** Bucket names of local runs. */
export const LOCAL_BUCKETS = {
  raw: "local-raw",
  curated: "local-curated",
  applications: "local-applications",
} as const;

/** An open local curated bucket; close() stops its s3rver. */
export interface LocalCuratedBucket {
  readonly store: S3ObjectStore;
  close(): Promise<void>;
}

/** Starts s3rver on `<dataDir>/s3` and returns the curated bucket of local runs; fails when there is no local data. */
export async function openLocalCuratedBucket(dataDir: string): Promise<LocalCuratedBucket> {
  const directory = path.join(dataDir, "s3");
  // Checked first: s3rver would create an empty folder and the user would query nothing, silently.
  if (!existsSync(directory)) {
    throw new Error(
      `${dataDir} holds no local buckets (${directory} does not exist); run \`npm start\` first, ` +
        "or pass --data-dir with the folder it wrote to",
    );
  }
  const s3 = await startLocalS3({ directory, buckets: [LOCAL_BUCKETS.curated] });
  const client = s3.client();
  return {
    store: new S3ObjectStore(client, LOCAL_BUCKETS.curated),
    close: async () => {
      client.destroy();
      await s3.close();
    },
  };
}
