/**
 * Ingest: fetch one date from Open-Meteo and keep every answer exactly as it arrived in the raw
 * store, with a request manifest beside it. The same entry function runs in the Lambda, in the
 * local runner and in tests; all I/O comes in through `deps`.
 *
 * What goes into the raw zone: only 2xx bodies, byte for byte. Ingest does not parse weather
 * JSON (the transform validates it, and keeps the raw object as evidence when it fails), with one
 * exception decided here: a small 2xx body that is an Open-Meteo error object
 * (`{"error":true,"reason":...}`) is an error, not data. The API documents errors with 4xx/5xx,
 * so such a body would come from a misbehaving proxy or server; storing it would put an error
 * into the data bucket, so it fails the run instead (not retried: the same request would get the
 * same answer). See http.ts.
 */
import { createHash } from "node:crypto";
import { chooseEndpoint, todayIn, yesterdayIn } from "../core/dates";
import { PipelineError, RATE_LIMITED_ERROR_NAME, TRANSIENT_ERROR_NAME } from "../core/errors";
import {
  canSucceedSoon,
  fetchOpenMeteo,
  formatSeconds,
  OpenMeteoRequestError,
  type AttemptEvent,
  type RetryEvent,
  type RetryTuning,
} from "./http";
import { assertIsoDate, rawBodyKey, requestManifestKey } from "../core/keys";
import type { RequestManifest } from "../core/manifest";
import { planRequests, type PlannedRequest } from "./openmeteo-request";
import type { Endpoint, PipelineSettings } from "../core/settings";
import type { ObjectStore } from "../core/storage";

/** What to ingest. */
export interface IngestInput {
  /** The calendar date (YYYY-MM-DD) in settings.timezone; default: yesterday there. */
  readonly date?: string;
}

/** What an ingest stored; the transform takes `date` and `keys`. */
export interface IngestResult {
  readonly date: string;
  readonly endpoint: Endpoint;
  /** Raw body keys, in request order (which is location order). */
  readonly keys: readonly string[];
  readonly requests: number;
  /** Total body bytes stored. */
  readonly bytes: number;
}

/** The I/O and configuration ingest runs with. */
export interface IngestDeps {
  readonly settings: PipelineSettings;
  readonly rawStore: ObjectStore;
  /** The clock: "yesterday", endpoint choice and fetched-at times; default the real time. */
  readonly now?: () => Date;
  /** The fetch HTTP requests go through; default globalThis.fetch. */
  readonly fetch?: typeof fetch;
  /** Backoff and per-request time budget of retries; default DEFAULT_RETRY_TUNING (tests shrink them). */
  readonly retryTuning?: Partial<RetryTuning>;
  /** Where progress and retries are reported, one line each; default console.log. */
  readonly log?: (line: string) => void;
  /** Told of every HTTP attempt with its request's API weight (ingest/metrics.ts counts them). */
  readonly onAttempt?: (event: IngestAttempt) => void;
}

/** One HTTP attempt of an ingest, as onAttempt sees it. */
export type IngestAttempt = AttemptEvent & { readonly requestId: string; readonly weight: number };

/** S3 caps user metadata at 2 KB: the UTF-8 bytes of all names and values together. */
const S3_USER_METADATA_LIMIT = 2048;

/**
 * The name Step Functions retries an ingest failure by (pipeline/infra/state-machine-definition.ts):
 * - the API overloaded, unreachable or rate-limited per minute: TRANSIENT_ERROR_NAME (retried);
 * - an hourly or daily 429: RATE_LIMITED_ERROR_NAME (not retried: the limit outlasts the retries);
 * - a raw write that failed: the storage error's own name (S3's error code, or "Error" for Node's
 *   network errors), which the definition classifies like any S3 failure: S3 unreachable or
 *   throttling is retried, AccessDenied is not;
 * - anything else (a 400, an error body): IngestError (not retried).
 */
function ingestErrorName(cause: unknown): string {
  if (cause instanceof OpenMeteoRequestError) {
    if (!cause.transient) return "IngestError";
    return canSucceedSoon(cause.failure) ? TRANSIENT_ERROR_NAME : RATE_LIMITED_ERROR_NAME;
  }
  return cause instanceof Error && cause.name !== "" ? cause.name : "IngestError";
}

/** The stored keys for a message, at most `limit` of them. */
function listKeys(keys: readonly string[], limit = 10): string {
  const shown = keys.slice(0, limit).join(", ");
  return keys.length > limit ? `${shown}, … (${keys.length - limit} more)` : shown;
}

/**
 * An ingest that stopped part-way; says what was stored and how to redrive. Its name is what
 * Step Functions retries by (see ingestErrorName).
 */
export class IngestError extends PipelineError {
  constructor(
    message: string,
    readonly date: string,
    readonly endpoint: Endpoint,
    /** The request that failed. */
    readonly requestId: string,
    /** Raw body keys stored before the run stopped (they stay valid; a re-run overwrites them). */
    readonly storedKeys: readonly string[],
    options: { cause: unknown },
  ) {
    super(ingestErrorName(options.cause), message, options);
  }
}

/** Carries the request a failure belongs to out of the concurrency pool. */
class FailedRequest extends PipelineError {
  constructor(
    readonly request: PlannedRequest,
    cause: unknown,
  ) {
    super("FailedRequest", `request ${request.requestId} failed`, { cause });
  }
}

/** User metadata of a raw body; the URL only when it fits S3's limit (the manifest always has it). */
export function buildRawMetadata(request: PlannedRequest, fetchedAt: string): Record<string, string> {
  const metadata: Record<string, string> = {
    "fetched-at": fetchedAt,
    "request-id": request.requestId,
    "location-count": String(request.locations.length),
  };
  const withUrl = { ...metadata, "request-url": request.url };
  const size = Object.entries(withUrl).reduce((sum, [k, v]) => sum + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
  // Metadata travels as HTTP headers, so it must also be printable ASCII.
  if (size <= S3_USER_METADATA_LIMIT && /^[\x20-\x7e]*$/.test(request.url)) return withUrl;
  return metadata;
}

/** Runs `work` over `items` with at most `limit` at once; after a failure starts nothing new, then throws it. */
async function runWithConcurrency<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}

function checkHttpSettings(settings: PipelineSettings): void {
  const { concurrency } = settings.http;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`settings.http.concurrency is ${concurrency}; it must be a whole number, 1 or more`);
  }
}

/**
 * Fetches one date from Open-Meteo and stores each answer unchanged at
 * rawBodyKey(endpoint, date, requestId), with its manifest beside it. The same date and settings
 * give the same keys, so a re-run overwrites instead of duplicating.
 */
export async function ingestDate(input: IngestInput, deps: IngestDeps): Promise<IngestResult> {
  const { settings, rawStore } = deps;
  const now = deps.now ?? (() => new Date());
  const log = deps.log ?? ((line: string) => console.log(line));
  checkHttpSettings(settings);

  const started = now();
  const date = input.date ?? yesterdayIn(settings.timezone, started);
  assertIsoDate(date, "the ingest date");
  const endpoint = chooseEndpoint(date, todayIn(settings.timezone, started), settings.forecastPastDays);
  const plan = planRequests(settings, date, endpoint);
  log(
    `ingest ${endpoint} ${date}: ${plan.length} request(s) for ${settings.locations.length} location(s) into ${rawStore.description}`,
  );

  const keys: (string | undefined)[] = plan.map(() => undefined);
  let bytes = 0;

  const storeOne = async (request: PlannedRequest): Promise<void> => {
    try {
      const fetched = await fetchOpenMeteo(request.url, {
        timeoutMs: settings.http.timeoutMs,
        retries: settings.http.retries,
        tuning: deps.retryTuning,
        fetch: deps.fetch,
        onAttempt: (event) => deps.onAttempt?.({ ...event, requestId: request.requestId, weight: request.weight }),
        onRetry: (event: RetryEvent) =>
          log(
            `ingest ${endpoint} ${date}: request ${request.requestId} attempt ${event.attempt} failed (${describeRetry(event)}); retrying in ${formatSeconds(event.delayMs)}`,
          ),
      });
      const fetchedAt = now().toISOString();
      const bodyKey = rawBodyKey(endpoint, date, request.requestId);
      await rawStore.putObject(bodyKey, fetched.bytes, {
        contentType: "application/json",
        metadata: buildRawMetadata(request, fetchedAt),
      });
      const manifest: RequestManifest = {
        version: 1,
        endpoint,
        date,
        requestId: request.requestId,
        url: request.url,
        locations: request.locations,
        hourlyVariables: settings.hourlyVariables,
        dailyVariables: settings.dailyVariables,
        timezone: settings.timezone,
        fetchedAt,
        bodyBytes: fetched.bytes.length,
        bodySha256: createHash("sha256").update(fetched.bytes).digest("hex"),
      };
      // Body first, then its manifest: a crash in between leaves a body the transform refuses
      // (no manifest), never a manifest pointing at nothing; a re-run fixes both.
      await rawStore.putObject(requestManifestKey(bodyKey), `${JSON.stringify(manifest, null, 2)}\n`, {
        contentType: "application/json",
      });
      keys[request.batchIndex] = bodyKey;
      bytes += fetched.bytes.length;
      log(
        `ingest ${endpoint} ${date}: stored ${bodyKey} (${request.locations.length} location(s), ${fetched.bytes.length} bytes, ${fetched.attempts} attempt(s))`,
      );
    } catch (error) {
      throw new FailedRequest(request, error);
    }
  };

  try {
    await runWithConcurrency(plan, settings.http.concurrency, storeOne);
  } catch (error) {
    if (!(error instanceof FailedRequest)) throw error;
    // Built after every request in flight has settled, so the stored keys are complete.
    const stored = keys.filter((k): k is string => k !== undefined);
    const names = error.request.locations.map((l) => l.name);
    const shownNames = names.length > 5 ? `${names.slice(0, 5).join(", ")}, … (${names.length})` : names.join(", ");
    const cause = error.cause;
    throw new IngestError(
      `ingest of ${endpoint} ${date} failed on request ${error.request.requestId} (${shownNames}): ${
        cause instanceof Error ? cause.message : String(cause)
      }. Stored before stopping: ${stored.length} of ${plan.length} bodies. Re-run ingest for ${date}: the keys are the same, so stored objects are overwritten, not duplicated.${
        stored.length > 0 ? ` Bodies stored: ${listKeys(stored)}.` : ""
      }`,
      date,
      endpoint,
      error.request.requestId,
      stored,
      { cause },
    );
  }

  const stored = keys.filter((k): k is string => k !== undefined);
  return { date, endpoint, keys: stored, requests: plan.length, bytes };
}

function describeRetry(event: RetryEvent): string {
  const f = event.failure;
  switch (f.kind) {
    case "status":
    case "error-body":
      return `${f.status} ${JSON.stringify(f.reason)}`;
    case "empty":
      return `${f.status} with an empty body`;
    case "timeout":
      return `no answer within ${formatSeconds(f.timeoutMs)}`;
    case "network":
      return f.detail;
  }
}
