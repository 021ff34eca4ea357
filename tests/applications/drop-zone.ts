/**
 * A drop zone for the tests: s3rver on 127.0.0.1 with applications buckets, the processing
 * deps of a stack (default settings, a fixed clock), and `submit`, which puts a file under
 * applications/incoming/ as a submitter would and delivers its event as EventBridge would.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import {
  INCOMING_PREFIX,
  objectBackfillQueue,
  objectCreatedEvent,
  processApplicationEvent,
  REGISTRY_KEY,
  type ApplicationsDeps,
  type Notice,
  type ProcessingResult,
} from "../../pipeline/applications";
import { DEFAULT_PIPELINE_SETTINGS } from "../../pipeline/core/settings";
import { bareEtag, S3ObjectStore, type ConditionalObjectStore } from "../../pipeline/core/storage";
import { startLocalS3, type LocalS3Server } from "../../pipeline/local/s3-server";

/** The clock of every test decision: "today" is 2026-11-20 in UTC. */
export const NOW = new Date("2026-11-20T08:00:00Z");

/** One run a day without catch-up dates: a day weighs one date, so limits read simply in the tests. */
export const LIMITS = {
  maxBytes: 1_048_576,
  minDistanceKm: 1,
  maxDailyWeight: 10_000,
  maxHourlyWeight: 5_000,
  runs: { scheduleCron: "0 6 * * ? *", catchUpDays: 1, maxDatesPerRun: 1 },
} as const;

/** A running drop zone. */
export interface DropZone {
  readonly s3: LocalS3Server;
  readonly client: S3Client;
  readonly directory: string;
  store(bucket: string): S3ObjectStore;
  /** Deps of a stack whose applications bucket is `bucket`; notices go to `notices`. */
  deps(bucket: string, notices: Notice[], overrides?: Partial<ApplicationsDeps>): ApplicationsDeps;
  close(): Promise<void>;
}

export async function startDropZone(buckets: readonly string[]): Promise<DropZone> {
  const directory = await mkdtemp(path.join(tmpdir(), "drop-zone-"));
  const s3 = await startLocalS3({ directory, buckets });
  const client = s3.client();
  const store = (bucket: string) => new S3ObjectStore(client, bucket);
  return {
    s3,
    client,
    directory,
    store,
    deps(bucket, notices, overrides = {}) {
      const s = overrides.store ?? store(bucket);
      return {
        store: s,
        bucket,
        settings: DEFAULT_PIPELINE_SETTINGS,
        limits: LIMITS,
        backfill: objectBackfillQueue(s),
        notify: (notice) => {
          notices.push(notice);
          return Promise.resolve();
        },
        now: () => NOW,
        log: () => undefined,
        ...overrides,
      };
    },
    async close() {
      client.destroy();
      await s3.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** Puts `body` at applications/incoming/<name> and returns the event EventBridge would deliver. */
export async function upload(store: ConditionalObjectStore, bucket: string, name: string, body: Uint8Array) {
  const key = `${INCOMING_PREFIX}${name}`;
  await store.putObject(key, body, { contentType: "application/octet-stream" });
  const head = await store.headObject(key);
  if (!head) throw new Error(`${key} was not stored`);
  return objectCreatedEvent({ bucket, key, etag: bareEtag(head.etag), size: head.size }, NOW);
}

/** Uploads a file and processes its event. */
export async function submit(deps: ApplicationsDeps, name: string, body: Uint8Array): Promise<ProcessingResult> {
  return processApplicationEvent(await upload(deps.store, deps.bucket as string, name, body), deps);
}

/** The registry's bytes and ETag, or undefined before the first acceptance. */
export async function registryState(
  store: ConditionalObjectStore,
): Promise<{ text: string; etag: string } | undefined> {
  const head = await store.headObject(REGISTRY_KEY);
  if (!head) return undefined;
  return { text: Buffer.from((await store.getObject(REGISTRY_KEY)).body).toString("utf8"), etag: head.etag };
}

/** Every object of a bucket, key -> bytes. */
export async function contents(store: ConditionalObjectStore): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const key of await store.listKeys("")) out.set(key, Buffer.from((await store.getObject(key)).body));
  return out;
}
