/**
 * The bench the fault tests run on: one s3rver that a test can stop and start again on the same
 * port and folder, the fake Open-Meteo with a per-test script, a fresh pair of buckets per
 * pipeline, stores that run a hook before a write (to stop S3 at an exact point), and snapshots
 * of what a bucket holds.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { CreateBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import {
  answerOpenMeteoQuery,
  startFakeOpenMeteo,
  type FakeAnswer,
  type FakeOpenMeteo,
  type FakeRequest,
  type RecordedRequest,
} from "../../pipeline/local/fake-open-meteo";
import { startLocalS3, type LocalS3Server } from "../../pipeline/local/s3-server";
import { planRequests, type PlannedRequest } from "../../pipeline/ingest/openmeteo-request";
import { rawBodyKey } from "../../pipeline/core/keys";
import type { PipelineSettings } from "../../pipeline/core/settings";
import { S3ObjectStore, type ObjectStore, type PutOptions, type StoredObject } from "../../pipeline/core/storage";

/** Keys and bytes of every object under a prefix. */
export type Snapshot = ReadonlyMap<string, Buffer>;

/** Scripts the fake's answer to a request; undefined answers like the real API. */
export type Script = (request: FakeRequest) => FakeAnswer | undefined;

/** The servers of the fault tests. */
export class FaultBench {
  /** The script of the fake Open-Meteo; undefined answers every request normally. */
  script: Script | undefined;
  private s3: LocalS3Server | undefined;
  private readonly client: S3Client;
  private buckets: number;

  private constructor(
    readonly fake: FakeOpenMeteo,
    s3: LocalS3Server,
    private readonly directory: string,
    private readonly port: number,
  ) {
    this.s3 = s3;
    this.buckets = 0;
    this.script = undefined;
    this.client = s3.client();
  }

  /** Starts s3rver in a temporary folder and the fake Open-Meteo with the API's clock at `now`. */
  static async start(now: Date): Promise<FaultBench> {
    const directory = await mkdtemp(path.join(tmpdir(), "faults-"));
    const s3 = await startLocalS3({ directory, buckets: [] });
    const scripted: { bench?: FaultBench } = {};
    const fake = await startFakeOpenMeteo({ now: () => now, respond: (request) => scripted.bench?.script?.(request) });
    scripted.bench = new FaultBench(fake, s3, directory, s3.port);
    return scripted.bench;
  }

  /** True while s3rver is running. */
  get s3Running(): boolean {
    return this.s3 !== undefined;
  }

  /** Stops s3rver: requests to it are refused until startS3. */
  async stopS3(): Promise<void> {
    const s3 = this.s3;
    this.s3 = undefined;
    await s3?.close();
  }

  /** Starts s3rver again on the same port, over the same folder (every object written before is back). */
  async startS3(): Promise<void> {
    if (this.s3) return;
    this.s3 = await startLocalS3({ directory: this.directory, buckets: [], port: this.port });
  }

  /** A fresh, empty raw and curated bucket. */
  async createBuckets(): Promise<{ raw: S3ObjectStore; curated: S3ObjectStore }> {
    const n = ++this.buckets;
    const names = { raw: `raw-${n}`, curated: `curated-${n}` };
    for (const name of Object.values(names)) await this.client.send(new CreateBucketCommand({ Bucket: name }));
    return { raw: new S3ObjectStore(this.client, names.raw), curated: new S3ObjectStore(this.client, names.curated) };
  }

  async close(): Promise<void> {
    await this.fake.close();
    await this.stopS3();
    await rm(this.directory, { recursive: true, force: true });
  }
}

/** Every object under `prefix`, read back. */
export async function snapshot(store: ObjectStore, prefix = ""): Promise<Snapshot> {
  const objects = new Map<string, Buffer>();
  for (const key of await store.listKeys(prefix)) objects.set(key, Buffer.from((await store.getObject(key)).body));
  return objects;
}

/** Keys present in one snapshot and absent or different in the other, both ways. */
export function differences(actual: Snapshot, expected: Snapshot): string[] {
  const keys = new Set([...actual.keys(), ...expected.keys()]);
  return [...keys].filter((key) => {
    const a = actual.get(key);
    const b = expected.get(key);
    return a === undefined || b === undefined || !a.equals(b);
  });
}

/** An ObjectStore that runs `beforePut` (which may stop S3, or never return) before each write. */
export class HookedStore implements ObjectStore {
  readonly description: string;

  constructor(
    private readonly inner: ObjectStore,
    private readonly beforePut: (key: string) => Promise<void>,
  ) {
    this.description = inner.description;
  }

  async putObject(key: string, body: Uint8Array | string, options: PutOptions): Promise<void> {
    await this.beforePut(key);
    await this.inner.putObject(key, body, options);
  }

  getObject(key: string): Promise<StoredObject> {
    return this.inner.getObject(key);
  }

  getObjectStream(key: string): Promise<AsyncIterable<Uint8Array>> {
    return this.inner.getObjectStream(key);
  }

  listKeys(prefix: string): Promise<string[]> {
    return this.inner.listKeys(prefix);
  }

  deleteObject(key: string): Promise<void> {
    return this.inner.deleteObject(key);
  }
}

/** The planned request of a date that the fake received, found by its coordinates. */
export function plannedRequestOf(
  settings: PipelineSettings,
  date: string,
  params: Readonly<Record<string, string>>,
): PlannedRequest | undefined {
  if (params["start_date"] !== date) return undefined;
  return planRequests(settings, date, "forecast").find(
    (r) => new URL(r.url).searchParams.get("latitude") === params["latitude"],
  );
}

/** A scripted answer, or one made from the normal answer's body and the request. */
export type ScriptedAnswer = FakeAnswer | ((normal: string, request: FakeRequest) => FakeAnswer) | undefined;

/**
 * A script for one batch of a date: its n-th request gets answers[n]; after the list, and for
 * every other request, the normal answer.
 */
export function scriptBatch(
  settings: PipelineSettings,
  date: string,
  batchIndex: number,
  answers: readonly ScriptedAnswer[],
  now: Date,
): Script {
  let seen = 0;
  return (request) => {
    if (plannedRequestOf(settings, date, request.params)?.batchIndex !== batchIndex) return undefined;
    const answer = answers[seen++];
    if (typeof answer !== "function") return answer;
    return answer(answerOpenMeteoQuery(request.path, request.params, { now }).body, request);
  };
}

/** A script answering every request of one batch of a date with the same answer. */
export function scriptBatchAlways(
  settings: PipelineSettings,
  date: string,
  batchIndex: number,
  answer: FakeAnswer,
): Script {
  return (request) =>
    plannedRequestOf(settings, date, request.params)?.batchIndex === batchIndex ? answer : undefined;
}

/** A 2xx body the fake sent, with the raw key ingest stores it under. */
export interface SentBody {
  readonly key: string;
  readonly body: Buffer;
}

/** The 2xx bodies among `requests` that belong to `date`'s plan, in the order they were sent. */
export function sentBodies(requests: readonly RecordedRequest[], settings: PipelineSettings, date: string): SentBody[] {
  const sent: SentBody[] = [];
  for (const record of requests) {
    const answer = record.answer;
    if (!answer || answer.status < 200 || answer.status > 299) continue;
    const planned = plannedRequestOf(settings, date, record.params);
    if (!planned) continue;
    sent.push({ key: rawBodyKey("forecast", date, planned.requestId), body: Buffer.from(answer.body) });
  }
  return sent;
}
