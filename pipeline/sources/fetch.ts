/**
 * Fetching a source: one conditional GET per run, with the validators (ETag, Last-Modified) of
 * the last version stored. 304, or a 200 whose bytes are those of the last version (a server
 * without validators): unchanged, nothing stored. Otherwise the body is stored unchanged under
 * its content's hash, with the response headers beside it, then the new validators.
 *
 * Attempts go through ky (per-attempt timeout, typed timeout and network errors), and whether
 * and when to try again is Open-Meteo's retry policy itself (ingest's decideRetry): network
 * errors, timeouts, 408, 429 and 5xx are retried with backoff within the same budget, other
 * 4xx never. A body larger than the source's maxBytes is cut off and fails the run unstored.
 */
import { createHash } from "node:crypto";
import ky, { isNetworkError, isTimeoutError } from "ky";
import type { HttpSettings } from "../core/settings";
import type { ObjectStore } from "../core/storage";
import {
  DEFAULT_RETRY_TUNING,
  decideRetry,
  canSucceedSoon,
  describeCause,
  formatSeconds,
  type AttemptFailure,
  type RetryPolicy,
  type RetryTuning,
} from "../ingest";
import type { SourceDefinition } from "./definition";
import { SourceError, SourceUnavailableError } from "./errors";
import { sourceBodyKey, sourceHeadersKey, sourceStateKey, sourceTransformedKey } from "./keys";
import type { TransformedRecord } from "./transform";

/** The validators and body of the last version stored (sources/<name>/state.json). */
export interface SourceState {
  readonly version: 1;
  readonly source: string;
  readonly url: string;
  readonly etag?: string;
  readonly lastModified?: string;
  /** The body key of that version. */
  readonly key: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly fetchedAt: string;
}

/** What the response headers file beside a body holds. */
export interface StoredHeaders {
  readonly version: 1;
  readonly source: string;
  readonly url: string;
  /** The URL answered, after redirects. */
  readonly responseUrl: string;
  readonly status: number;
  /** Every response header, lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly fetchedAt: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** What a fetch did; the transform's input when `transform` is true. */
export interface SourceFetchResult {
  readonly source: string;
  /** 200, or 304 Not Modified. */
  readonly status: number;
  /** A new version was stored. */
  readonly changed: boolean;
  /** The version the curated table should hold was never transformed (new, or its transform failed). */
  readonly transform: boolean;
  /** The body key of the current version. */
  readonly key: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly attempts: number;
}

/** How a source is fetched. */
export interface SourceFetchDeps {
  readonly source: SourceDefinition;
  readonly http: Pick<HttpSettings, "timeoutMs" | "retries">;
  readonly rawStore: ObjectStore;
  readonly fetch?: typeof fetch;
  readonly retryTuning?: Partial<RetryTuning>;
  readonly now?: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly log?: (line: string) => void;
}

const USER_AGENT = "weather-pipeline (configured source; conditional GET once per run)";

type Attempt =
  | { readonly ok: true; readonly status: 304; readonly headers: Record<string, string>; readonly url: string }
  | {
      readonly ok: true;
      readonly status: number;
      readonly body: Uint8Array;
      readonly headers: Record<string, string>;
      readonly url: string;
    }
  | { readonly ok: false; readonly failure: AttemptFailure }
  | { readonly ok: false; readonly tooLarge: number | "unknown" };

function isNotFound(error: unknown): boolean {
  return error instanceof Error && error.name === "ObjectNotFoundError";
}

async function readJson<T>(store: ObjectStore, key: string): Promise<T | undefined> {
  try {
    return JSON.parse(new TextDecoder().decode((await store.getObject(key)).body)) as T;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    if (error instanceof SyntaxError) return undefined; // a damaged state only costs one unconditional GET
    throw error;
  }
}

async function exists(store: ObjectStore, key: string): Promise<boolean> {
  try {
    await store.getObject(key);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/** Reads a body up to maxBytes before the deadline. */
async function readLimited(
  response: Response,
  maxBytes: number,
  deadline: number,
  controller: AbortController,
): Promise<Uint8Array | "timeout" | "too-large"> {
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), Math.max(0, deadline - Date.now()));
  });
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), expired]);
      if (next === "timeout") {
        controller.abort();
        return "timeout";
      }
      if (next.done) break;
      const chunk = next.value as Uint8Array;
      total += chunk.byteLength;
      if (total > maxBytes) {
        controller.abort();
        return "too-large";
      }
      chunks.push(chunk);
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  const body = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}

async function attemptOnce(
  source: SourceDefinition,
  validators: { etag?: string; lastModified?: string },
  timeoutMs: number,
  fetchImpl: typeof fetch | undefined,
): Promise<Attempt> {
  const deadline = Date.now() + timeoutMs;
  const controller = new AbortController();
  const headers: Record<string, string> = { accept: "*/*", "user-agent": USER_AGENT };
  if (validators.etag !== undefined) headers["if-none-match"] = validators.etag;
  if (validators.lastModified !== undefined) headers["if-modified-since"] = validators.lastModified;
  let response: Response;
  try {
    response = await ky.get(source.url, {
      timeout: timeoutMs,
      retry: 0,
      throwHttpErrors: false,
      signal: controller.signal,
      headers,
      ...(fetchImpl ? { fetch: fetchImpl } : {}),
    });
  } catch (error) {
    if (isTimeoutError(error)) return { ok: false, failure: { kind: "timeout", timeoutMs } };
    if (isNetworkError(error)) return { ok: false, failure: { kind: "network", detail: describeCause(error) } };
    throw error;
  }
  const responseHeaders = Object.fromEntries(response.headers.entries());
  const status = response.status;
  if (status === 304) {
    await response.body?.cancel();
    return { ok: true, status: 304, headers: responseHeaders, url: response.url || source.url };
  }
  const length = Number(response.headers.get("content-length") ?? NaN);
  if (status >= 200 && status < 300 && !response.headers.get("content-encoding") && length > source.maxBytes) {
    controller.abort();
    return { ok: false, tooLarge: length };
  }
  let body: Uint8Array | "timeout" | "too-large";
  try {
    body = await readLimited(response, status >= 200 && status < 300 ? source.maxBytes : 4096, deadline, controller);
  } catch (error) {
    return { ok: false, failure: { kind: "network", detail: `body cut off: ${describeCause(error)}` } };
  }
  if (body === "timeout") return { ok: false, failure: { kind: "timeout", timeoutMs } };
  if (status < 200 || status > 299) {
    const reason = body === "too-large" ? "" : new TextDecoder().decode(body).trim().slice(0, 200);
    return {
      ok: false,
      failure: { kind: "status", status, reason: reason || response.statusText || "no reason given" },
    };
  }
  if (body === "too-large") return { ok: false, tooLarge: "unknown" };
  if (body.length === 0) return { ok: false, failure: { kind: "empty", status } };
  return { ok: true, status, body, headers: responseHeaders, url: response.url || source.url };
}

function describeFailure(failure: AttemptFailure): string {
  switch (failure.kind) {
    case "status":
    case "error-body":
      return `answered ${failure.status} ${JSON.stringify(failure.reason)}`;
    case "empty":
      return `answered ${failure.status} with an empty body`;
    case "timeout":
      return `did not answer within ${formatSeconds(failure.timeoutMs)}`;
    case "network":
      return `could not be reached (${failure.detail})`;
  }
}

/** GETs the source's URL under the retry policy; a 304 or a body, else a SourceError. */
async function getWithRetries(
  deps: SourceFetchDeps,
  validators: { etag?: string; lastModified?: string },
): Promise<Extract<Attempt, { ok: true }> & { attempts: number }> {
  const { source } = deps;
  const policy: RetryPolicy = {
    ...DEFAULT_RETRY_TUNING,
    ...deps.retryTuning,
    timeoutMs: deps.http.timeoutMs,
    retries: deps.http.retries,
  };
  const clock = () => (deps.now ?? (() => new Date()))().getTime();
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = deps.random ?? Math.random;
  const log = deps.log ?? ((line: string) => console.log(line));
  const started = clock();
  const failures: AttemptFailure[] = [];
  for (;;) {
    const left = policy.budgetMs - (clock() - started);
    const attempt = await attemptOnce(source, validators, Math.max(1, Math.min(policy.timeoutMs, left)), deps.fetch);
    if (attempt.ok) return { ...attempt, attempts: failures.length + 1 };
    if ("tooLarge" in attempt) {
      throw new SourceError(
        `source ${source.name}: ${source.url} is ${attempt.tooLarge === "unknown" ? "larger than" : `${attempt.tooLarge} bytes, more than`} ` +
          `maxBytes ${source.maxBytes}; nothing was stored. Raise maxBytes for this source (at most 104857600) if the file is meant to be that big`,
        source.name,
      );
    }
    failures.push(attempt.failure);
    const elapsedMs = clock() - started;
    const decision = decideRetry(policy, attempt.failure, {
      attempts: failures.length,
      elapsedMs,
      nowMs: clock(),
      random: random(),
    });
    if (!decision.retry) {
      const what = `source ${source.name}: ${source.url} ${describeFailure(attempt.failure)}`;
      if (canSucceedSoon(attempt.failure) || (attempt.failure.kind === "status" && attempt.failure.status === 429)) {
        throw new SourceUnavailableError(
          `${what} (${failures.length} attempt(s) over ${formatSeconds(elapsedMs)}; ${decision.because}); nothing was stored, the run will be retried`,
          source.name,
        );
      }
      throw new SourceError(
        `${what}; not retried: ${decision.because}. Check the source's url in the stack's sources`,
        source.name,
      );
    }
    log(
      `source ${source.name}: attempt ${failures.length} ${describeFailure(attempt.failure)}; retrying in ${formatSeconds(decision.delayMs)}`,
    );
    await sleep(decision.delayMs);
  }
}

/** Fetches a source once, conditionally, and stores a new version (see the module comment). */
export async function fetchSource(deps: SourceFetchDeps): Promise<SourceFetchResult> {
  const { source, rawStore } = deps;
  const log = deps.log ?? ((line: string) => console.log(line));
  const now = deps.now ?? (() => new Date());
  const state = await readJson<SourceState>(rawStore, sourceStateKey(source.name));
  // Validators of another URL say nothing about this one.
  const usable = state !== undefined && state.version === 1 && state.url === source.url ? state : undefined;
  const transformed = await readJson<TransformedRecord>(rawStore, sourceTransformedKey(source.name));
  const validators = {
    ...(usable?.etag === undefined ? {} : { etag: usable.etag }),
    ...(usable?.lastModified === undefined ? {} : { lastModified: usable.lastModified }),
  };
  let answer = await getWithRetries(deps, validators);
  let attempts = answer.attempts;
  if (answer.status === 304) {
    if (usable === undefined) {
      throw new SourceError(
        `source ${source.name}: ${source.url} answered 304 Not Modified to a request without validators; the server is wrong, or a cache in between is`,
        source.name,
      );
    }
    const needsTransform = transformed?.sha256 !== usable.sha256;
    if (!needsTransform || (await exists(rawStore, usable.key))) {
      log(
        `source ${source.name}: 304 Not Modified; the file is unchanged since ${usable.fetchedAt}, nothing stored` +
          (needsTransform ? " (its last transform did not finish: transforming it again)" : ""),
      );
      return {
        source: source.name,
        status: 304,
        changed: false,
        transform: needsTransform,
        key: usable.key,
        sha256: usable.sha256,
        bytes: usable.bytes,
        attempts,
      };
    }
    // The version to transform has expired from raw: fetch it whole again.
    log(`source ${source.name}: 304 Not Modified, but ${usable.key} is gone from raw: fetching the file again`);
    answer = await getWithRetries(deps, {});
    attempts += answer.attempts;
    if (answer.status === 304) {
      throw new SourceError(
        `source ${source.name}: ${source.url} answered 304 to a request without validators`,
        source.name,
      );
    }
  }
  const body = (answer as { body: Uint8Array }).body;
  const sha256 = createHash("sha256").update(body).digest("hex");
  const key = sourceBodyKey(source, sha256);
  const fetchedAt = now().toISOString();
  const etag = answer.headers["etag"];
  const lastModified = answer.headers["last-modified"];
  const sameBytes = usable?.sha256 === sha256 && (await exists(rawStore, key));
  if (!sameBytes) {
    const headers: StoredHeaders = {
      version: 1,
      source: source.name,
      url: source.url,
      responseUrl: answer.url,
      status: answer.status,
      headers: answer.headers,
      fetchedAt,
      bytes: body.byteLength,
      sha256,
    };
    // Body, then its headers, then the state that points at them: a crash in between leaves a
    // state pointing at the previous version, and the next run fetches this one again.
    await rawStore.putObject(key, body, {
      contentType: answer.headers["content-type"] ?? "application/octet-stream",
      metadata: { "fetched-at": fetchedAt, "source-url": asciiOrEmpty(source.url), sha256 },
    });
    await rawStore.putObject(sourceHeadersKey(key), `${JSON.stringify(headers, null, 2)}\n`, {
      contentType: "application/json",
    });
  }
  const validatorsChanged = usable?.etag !== etag || usable?.lastModified !== lastModified;
  if (!sameBytes || validatorsChanged) {
    const next: SourceState = {
      version: 1,
      source: source.name,
      url: source.url,
      ...(etag === undefined ? {} : { etag }),
      ...(lastModified === undefined ? {} : { lastModified }),
      key,
      sha256,
      bytes: body.byteLength,
      fetchedAt: sameBytes && usable ? usable.fetchedAt : fetchedAt,
    };
    await rawStore.putObject(sourceStateKey(source.name), `${JSON.stringify(next, null, 2)}\n`, {
      contentType: "application/json",
    });
  }
  const needsTransform = transformed?.sha256 !== sha256;
  log(
    sameBytes
      ? `source ${source.name}: ${answer.status}, the same ${body.byteLength} bytes as the version of ${usable?.fetchedAt ?? "before"}: unchanged, nothing stored`
      : `source ${source.name}: ${answer.status}, stored ${rawStore.description}/${key} (${body.byteLength} bytes${etag ? `, ETag ${etag}` : ""}${lastModified ? `, Last-Modified ${lastModified}` : ""})`,
  );
  return {
    source: source.name,
    status: answer.status,
    changed: !sameBytes,
    transform: needsTransform,
    key,
    sha256,
    bytes: body.byteLength,
    attempts,
  };
}

/** S3 metadata travels as HTTP headers: printable ASCII only. */
function asciiOrEmpty(text: string): string {
  return /^[\x20-\x7e]*$/.test(text) && text.length <= 1024 ? text : "";
}
