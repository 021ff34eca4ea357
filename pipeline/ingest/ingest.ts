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
import { assertFinishedDate, chooseEndpoint, todayIn, yesterdayIn } from "../core/dates";
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
import { assertIsoDate, rawBodyKey, rawWindowBodyKey, rawWindowPrefix, requestManifestKey } from "../core/keys";
import type { RequestManifest } from "../core/manifest";
import { planRequests, planSegmentRequests, segmentDates, type PlannedRequest } from "./openmeteo-request";
import type { Endpoint, Location, PipelineSettings } from "../core/settings";
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
  assertFinishedDate(date, settings.timezone, started, "the ingest date");
  const endpoint = chooseEndpoint(date, todayIn(settings.timezone, started), settings.forecastPastDays);
  const plan = planRequests(settings, date, endpoint);
  log(
    `ingest ${endpoint} ${date}: ${plan.length} request(s) for ${settings.locations.length} location(s) into ${rawStore.description}`,
  );

  const keys: (string | undefined)[] = plan.map(() => undefined);
  let bytes = 0;

  const storeOne = async (request: PlannedRequest): Promise<void> => {
    const stored = await fetchAndStore(
      request,
      rawBodyKey(endpoint, date, request.requestId),
      deps,
      `${endpoint} ${date}`,
    );
    keys[request.batchIndex] = stored.key;
    bytes += stored.bytes;
  };

  try {
    await runWithConcurrency(plan, settings.http.concurrency, storeOne);
  } catch (error) {
    if (!(error instanceof FailedRequest)) throw error;
    // Built after every request in flight has settled, so the stored keys are complete.
    throw failedIngest(error, `${endpoint} ${date}`, date, endpoint, keys, plan.length, `Re-run ingest for ${date}`);
  }

  const stored = keys.filter((k): k is string => k !== undefined);
  return { date, endpoint, keys: stored, requests: plan.length, bytes };
}

/** Fetches one planned request and stores its body, then its manifest, at `bodyKey`. */
async function fetchAndStore(
  request: PlannedRequest,
  bodyKey: string,
  deps: IngestDeps,
  what: string,
): Promise<{ key: string; bytes: number }> {
  const { settings, rawStore } = deps;
  const now = deps.now ?? (() => new Date());
  const log = deps.log ?? ((line: string) => console.log(line));
  try {
    const fetched = await fetchOpenMeteo(request.url, {
      timeoutMs: settings.http.timeoutMs,
      retries: settings.http.retries,
      tuning: deps.retryTuning,
      fetch: deps.fetch,
      onAttempt: (event) => deps.onAttempt?.({ ...event, requestId: request.requestId, weight: request.weight }),
      onRetry: (event: RetryEvent) =>
        log(
          `ingest ${what}: request ${request.requestId} attempt ${event.attempt} failed (${describeRetry(event)}); retrying in ${formatSeconds(event.delayMs)}`,
        ),
    });
    const fetchedAt = now().toISOString();
    await rawStore.putObject(bodyKey, fetched.bytes, {
      contentType: "application/json",
      metadata: buildRawMetadata(request, fetchedAt),
    });
    const manifest: RequestManifest = {
      version: 1,
      endpoint: request.endpoint,
      date: request.date,
      ...(request.lastDate !== request.date ? { lastDate: request.lastDate } : {}),
      requestId: request.requestId,
      url: request.url,
      locations: request.locations,
      hourlyVariables: settings.hourlyVariables,
      dailyVariables: settings.dailyVariables,
      timezone: request.timezone,
      utcOffsetSeconds: request.offsetSeconds,
      fetchedAt,
      bodyBytes: fetched.bytes.length,
      bodySha256: createHash("sha256").update(fetched.bytes).digest("hex"),
    };
    // Body first, then its manifest: a crash in between leaves a body the transform refuses
    // (no manifest), never a manifest pointing at nothing; a re-run fixes both.
    await rawStore.putObject(requestManifestKey(bodyKey), `${JSON.stringify(manifest, null, 2)}\n`, {
      contentType: "application/json",
    });
    log(
      `ingest ${what}: stored ${bodyKey} (${request.locations.length} location(s), ${fetched.bytes.length} bytes, ${fetched.attempts} attempt(s))`,
    );
    return { key: bodyKey, bytes: fetched.bytes.length };
  } catch (error) {
    throw new FailedRequest(request, error);
  }
}

/** The IngestError for a request that failed, listing what was stored before. */
function failedIngest(
  error: FailedRequest,
  what: string,
  date: string,
  endpoint: Endpoint,
  keys: readonly (string | undefined)[],
  planned: number,
  rerun: string,
): IngestError {
  const stored = keys.filter((k): k is string => k !== undefined);
  const names = error.request.locations.map((l) => l.name);
  const shownNames = names.length > 5 ? `${names.slice(0, 5).join(", ")}, … (${names.length})` : names.join(", ");
  const cause = error.cause;
  return new IngestError(
    `ingest of ${what} failed on request ${error.request.requestId} (${shownNames}): ${
      cause instanceof Error ? cause.message : String(cause)
    }. Stored before stopping: ${stored.length} of ${planned} bodies. ${rerun}: the keys are the same, so stored objects are overwritten, not duplicated.${
      stored.length > 0 ? ` Bodies stored: ${listKeys(stored)}.` : ""
    }`,
    date,
    endpoint,
    error.request.requestId,
    stored,
    { cause },
  );
}

/** A backfill window to ingest: dates fetched together (see backfill/windows.ts). */
export interface WindowIngestInput {
  readonly from: string;
  readonly to: string;
  /**
   * A location backfill's window: fetch these locations only (the stack's dates get them added,
   * see transform's add-locations.ts); absent: the settings' locations.
   */
  readonly locations?: readonly Location[];
}

/** What a window's ingest stored; the transform takes `from`, `to` and `keys` once it is complete. */
export interface WindowIngestResult {
  readonly from: string;
  readonly to: string;
  /** Raw body keys of the window, in request order (all of them once `resumeAt` is absent). */
  readonly keys: readonly string[];
  /** Requests the window needs in all. */
  readonly planned: number;
  /** Requests this invocation sent (bodies stored by an earlier one are not fetched again). */
  readonly requests: number;
  /** Open-Meteo weight of the requests this invocation sent. */
  readonly weight: number;
  /** Body bytes this invocation stored. */
  readonly bytes: number;
  /**
   * Set when Open-Meteo's hourly or daily limit stopped the window: when that limit resets
   * (ISO-8601 UTC). The backfill waits until then and runs the window again; what was stored
   * is kept and not fetched again.
   */
  readonly resumeAt?: string;
  /** Which limit stopped it. */
  readonly limit?: "hourly" | "daily";
}

/** Open-Meteo resets its counters in the first minute of the hour (and of 00:00 UTC); a minute of margin. */
const RESET_MARGIN_MS = 60_000;

/** The hourly or daily limit a failure hit, if it was one. */
function longLimitOf(cause: unknown): "hourly" | "daily" | undefined {
  if (!(cause instanceof OpenMeteoRequestError) || canSucceedSoon(cause.failure)) return undefined;
  const f = cause.failure;
  if (f.kind !== "status" || f.status !== 429) return undefined;
  return /daily/i.test(f.reason) ? "daily" : /hourly/i.test(f.reason) ? "hourly" : undefined;
}

/** When a limit resets after `now`: the next full hour, or the next 00:00 UTC, plus a margin. */
export function limitResetAt(limit: "hourly" | "daily", now: Date): Date {
  const period = limit === "hourly" ? 3_600_000 : 86_400_000;
  return new Date((Math.floor(now.getTime() / period) + 1) * period + RESET_MARGIN_MS);
}

/**
 * Fetches a backfill window: its dates cut into segments of one endpoint and offset
 * (segmentDates), each planned like a date (planSegmentRequests) and stored under the window's
 * own prefix (rawWindowBodyKey). Bodies already stored with their manifest are kept, not fetched
 * again, so a window stopped part-way (a rate limit, a crash) costs no quota twice. An hourly or
 * daily 429 does not fail: the result says when to come back (`resumeAt`).
 */
export async function ingestWindow(input: WindowIngestInput, deps: IngestDeps): Promise<WindowIngestResult> {
  const { rawStore } = deps;
  const settings = input.locations ? { ...deps.settings, locations: input.locations } : deps.settings;
  const now = deps.now ?? (() => new Date());
  const log = deps.log ?? ((line: string) => console.log(line));
  checkHttpSettings(settings);
  assertIsoDate(input.from, "the window's first date");
  assertIsoDate(input.to, "the window's last date");
  if (input.to < input.from) throw new RangeError(`the window ${input.from} to ${input.to} ends before it starts`);

  const segments = segmentDates(settings, input.from, input.to, todayIn(settings.timezone, now()));
  const planned = segments.map((segment) => ({ segment, plan: planSegmentRequests(settings, segment) }));
  const total = planned.reduce((sum, p) => sum + p.plan.length, 0);
  const keys: string[] = [];
  let requests = 0;
  let weight = 0;
  let bytes = 0;
  for (const { segment, plan } of planned) {
    const what = `${segment.endpoint} ${segment.from} to ${segment.to}`;
    const listed = new Set(await rawStore.listKeys(rawWindowPrefix(segment.endpoint, segment.from, segment.to)));
    const segmentKeys: (string | undefined)[] = plan.map(() => undefined);
    const missing: PlannedRequest[] = [];
    for (const request of plan) {
      const key = rawWindowBodyKey(segment.endpoint, segment.from, segment.to, request.requestId);
      if (listed.has(key) && listed.has(requestManifestKey(key))) segmentKeys[request.batchIndex] = key;
      else missing.push(request);
    }
    log(
      `ingest ${what}: ${plan.length} request(s) for ${settings.locations.length} location(s), ${plan.length - missing.length} already stored, into ${rawStore.description}`,
    );
    try {
      await runWithConcurrency(missing, settings.http.concurrency, async (request) => {
        const key = rawWindowBodyKey(segment.endpoint, segment.from, segment.to, request.requestId);
        requests++;
        weight += request.weight;
        const stored = await fetchAndStore(request, key, deps, what);
        segmentKeys[request.batchIndex] = stored.key;
        bytes += stored.bytes;
      });
    } catch (error) {
      if (!(error instanceof FailedRequest)) throw error;
      const limit = longLimitOf(error.cause);
      if (limit !== undefined) {
        const resumeAt = limitResetAt(limit, now()).toISOString();
        const kept = [...keys, ...segmentKeys.filter((k): k is string => k !== undefined)];
        log(
          `ingest ${what}: Open-Meteo's ${limit} limit is reached; ${kept.length} of ${total} bodies stored, resuming at ${resumeAt}`,
        );
        return {
          from: input.from,
          to: input.to,
          keys: kept,
          planned: total,
          requests,
          weight,
          bytes,
          resumeAt,
          limit,
        };
      }
      throw failedIngest(
        error,
        what,
        segment.from,
        segment.endpoint,
        [...keys, ...segmentKeys],
        total,
        `Run the window ${input.from} to ${input.to} again`,
      );
    }
    keys.push(...segmentKeys.filter((k): k is string => k !== undefined));
  }
  return { from: input.from, to: input.to, keys, planned: total, requests, weight, bytes };
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
