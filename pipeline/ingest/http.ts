/**
 * Fetches one Open-Meteo URL: ky makes each attempt (per-attempt timeout, injectable fetch,
 * typed timeout and network errors); the retry policy below decides whether and when to try
 * again. ky's own retry stays off because its delay cannot see why an attempt failed (a
 * minutely 429 should wait for the next minute, a daily 429 not at all), it cannot take an
 * injected clock or sleep, and it does not report how many attempts were made.
 */
import ky, { isNetworkError, isTimeoutError } from "ky";
import { PipelineError } from "../core/errors";
import type { RateLimitKind } from "../core/metrics";

/** Backoff and budget of the retry policy (HttpSettings holds the timeout and retry count). */
export interface RetryTuning {
  /** Backoff before the first retry, doubling for each further retry; default 1,000 ms. */
  readonly baseDelayMs: number;
  /** Upper bound of one backoff delay; default 15,000 ms. */
  readonly maxDelayMs: number;
  /** Upper bound of one request's total time, attempts and waits together; default 60,000 ms. */
  readonly budgetMs: number;
  /**
   * Fail at once when a connection to this machine (loopback) is refused; default false. For a
   * server the user named (`--api-url`): nothing between can change that answer within the
   * retries. Off elsewhere, where loopback only ever stands in for a remote API (tests).
   */
  readonly finalOnLoopbackRefusal?: boolean;
}

/** Defaults for RetryTuning: 4 attempts with 10 s timeouts and ~7 s of backoff fit in the budget. */
export const DEFAULT_RETRY_TUNING: RetryTuning = {
  baseDelayMs: 1_000,
  maxDelayMs: 15_000,
  budgetMs: 60_000,
  finalOnLoopbackRefusal: false,
};

/** Everything the retry policy decides from. */
export interface RetryPolicy extends RetryTuning {
  /** Retries after the first attempt. */
  readonly retries: number;
  /** Timeout of one attempt, in milliseconds. */
  readonly timeoutMs: number;
}

/** Why one attempt did not give a usable body. */
export type AttemptFailure =
  /** A non-2xx answer; `reason` comes from Open-Meteo's `{"error":true,"reason":...}` body when there is one. */
  | { readonly kind: "status"; readonly status: number; readonly reason: string }
  /** A 2xx answer whose body is an Open-Meteo error object. */
  | { readonly kind: "error-body"; readonly status: number; readonly reason: string }
  /** A 2xx answer with an empty body (cut off by a proxy or a dropped connection). */
  | { readonly kind: "empty"; readonly status: number }
  /** No complete answer within the attempt's timeout. */
  | { readonly kind: "timeout"; readonly timeoutMs: number }
  /**
   * The connection failed (refused, reset, DNS). `cannotHeal` says why waiting cannot help (a
   * port fetch refuses); `refusedOnLoopback` is the `host:port` of this machine that refused.
   */
  | {
      readonly kind: "network";
      readonly detail: string;
      readonly cannotHeal?: string;
      readonly refusedOnLoopback?: string;
    };

/** The policy's answer after a failed attempt. */
export type RetryDecision =
  { readonly retry: true; readonly delayMs: number } | { readonly retry: false; readonly because: string };

/** Where a request stands when an attempt has failed. */
export interface RetryState {
  /** Attempts made so far, including the one that just failed (1 after the first). */
  readonly attempts: number;
  /** Time since the first attempt started. */
  readonly elapsedMs: number;
  /** Wall-clock time, epoch milliseconds: rate limits reset on the minute. */
  readonly nowMs: number;
  /** A uniform random number in [0, 1) for jitter. */
  readonly random: number;
}

/** An attempt shorter than this is not worth starting at the end of the budget. */
const MIN_USEFUL_ATTEMPT_MS = 1_000;

const MINUTE_MS = 60_000;

/** Why a failure can never succeed by retrying now, or undefined when it can. */
function permanentCause(
  failure: AttemptFailure,
  policy?: Pick<RetryTuning, "finalOnLoopbackRefusal">,
): string | undefined {
  switch (failure.kind) {
    case "network":
      if (failure.cannotHeal !== undefined) return failure.cannotHeal;
      if (failure.refusedOnLoopback !== undefined && policy?.finalOnLoopbackRefusal) {
        return `nothing listens on ${failure.refusedOnLoopback} (ECONNREFUSED), and on this machine waiting will not change that; start your Open-Meteo server there or fix the URL (--api-url)`;
      }
      return undefined;
    case "timeout":
    case "empty":
      return undefined;
    case "error-body":
      return "Open-Meteo sent an error object with a success status; retrying the same request will not change it";
    case "status": {
      const { status, reason } = failure;
      if (status === 429) {
        const kind = rateLimitKind(reason);
        if (kind === "hourly") return "the hourly limit resets at the next full hour, after this run's budget";
        if (kind === "daily") return "the daily limit resets at 00:00 UTC";
        return undefined; // minutely limit, "Too many concurrent requests", or a 429 without a reason
      }
      if (status === 408 || status >= 500) return undefined;
      return `a ${status} answer means the request itself is wrong; retrying cannot help`;
    }
  }
}

/** Which limit a 429's reason names, as Open-Meteo words them (see tests/fixtures/open-meteo/errors). */
export function rateLimitKind(reason: string): RateLimitKind {
  if (/hourly/i.test(reason)) return "hourly";
  if (/daily/i.test(reason)) return "daily";
  if (/minute|minutely/i.test(reason)) return "minutely";
  if (/concurrent/i.test(reason)) return "concurrency";
  return "unnamed";
}

/** True when the same request, tried again soon, can succeed (see decideRetry); false for 4xx, error bodies, hourly and daily 429s. */
export function canSucceedSoon(failure: AttemptFailure): boolean {
  return permanentCause(failure) === undefined;
}

/**
 * The retry policy, in one place: retry network errors, timeouts, empty bodies, 408, 5xx and
 * minutely / concurrency 429s; never other 4xx, hourly or daily 429s. Waits grow exponentially
 * with "equal jitter" (half fixed, half random), so clients that failed together spread out
 * while each still backs off; a minutely 429 waits past the next full minute, when the limit
 * resets. No retry starts unless a useful attempt still fits in the budget.
 */
export function decideRetry(policy: RetryPolicy, failure: AttemptFailure, state: RetryState): RetryDecision {
  const permanent = permanentCause(failure, policy);
  if (permanent !== undefined) return { retry: false, because: permanent };
  if (state.attempts > policy.retries) {
    return { retry: false, because: `all ${policy.retries} retries were used` };
  }
  const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (state.attempts - 1));
  let delayMs = backoff / 2 + (state.random * backoff) / 2;
  if (failure.kind === "status" && failure.status === 429 && rateLimitKind(failure.reason) === "minutely") {
    const untilNextMinute = MINUTE_MS - (state.nowMs % MINUTE_MS);
    delayMs = Math.max(delayMs, untilNextMinute + state.random * 1_000);
  }
  delayMs = Math.round(delayMs);
  const left = policy.budgetMs - state.elapsedMs - delayMs;
  if (left < Math.min(policy.timeoutMs, MIN_USEFUL_ATTEMPT_MS)) {
    return {
      retry: false,
      because: `waiting ${formatSeconds(delayMs)} for another attempt would overrun the ${formatSeconds(policy.budgetMs)} budget`,
    };
  }
  return { retry: true, delayMs };
}

/** Formats milliseconds as seconds with one decimal, e.g. "7.2 s". */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Hides an API key in a URL, for messages and logs (the planned URLs never hold one). */
export function redactUrl(url: string): string {
  return url.replace(/([?&]apikey=)[^&#]*/gi, "$1***");
}

/** Why a request failed for good; `transient` says whether a later run can succeed unchanged. */
export class OpenMeteoRequestError extends PipelineError {
  constructor(
    message: string,
    /** The request URL, without secrets. */
    readonly url: string,
    readonly failure: AttemptFailure,
    readonly attempts: number,
    readonly elapsedMs: number,
    readonly transient: boolean,
    options?: { cause?: unknown },
  ) {
    super("OpenMeteoRequestError", message, options);
  }
}

/** Open-Meteo answered, with an error status or an error body. */
export class OpenMeteoApiError extends OpenMeteoRequestError {
  readonly status: number;
  /** The API's own words, from `{"error":true,"reason":...}`, or the start of a non-JSON body. */
  readonly reason: string;

  constructor(
    message: string,
    url: string,
    failure: Extract<AttemptFailure, { kind: "status" | "error-body" | "empty" }>,
    attempts: number,
    elapsedMs: number,
    transient: boolean,
  ) {
    super(message, url, failure, attempts, elapsedMs, transient);
    this.name = "OpenMeteoApiError";
    this.status = failure.status;
    this.reason = failure.kind === "empty" ? "empty body" : failure.reason;
  }
}

/** Open-Meteo did not answer: every attempt timed out or failed to connect. */
export class OpenMeteoUnreachableError extends OpenMeteoRequestError {
  constructor(
    message: string,
    url: string,
    failure: Extract<AttemptFailure, { kind: "timeout" | "network" }>,
    attempts: number,
    elapsedMs: number,
    transient = true,
  ) {
    super(message, url, failure, attempts, elapsedMs, transient);
    this.name = "OpenMeteoUnreachableError";
  }
}

/** What to do about a 400, from the API's reason. */
function hintFor400(reason: string): string {
  const variable = /Cannot initialize \S*Variable.*invalid String value (\S*)/.exec(reason);
  if (variable) {
    return `check the variable names in hourlyVariables and dailyVariables: ${JSON.stringify(variable[1] ?? "")} is not one this endpoint knows`;
  }
  if (/latitude|longitude/i.test(reason)) return "check the coordinates in locations";
  if (/start_date|end_date|date/i.test(reason)) {
    return "check the date; dates more than forecastPastDays days back are fetched from the archive endpoint";
  }
  if (/timezone/i.test(reason)) return "check timezone: an IANA name such as Europe/Berlin";
  return "the request itself is wrong; retrying will not help";
}

/** One line for one failure, e.g. `answered 503 "The service is overloaded"`. */
function describeFailure(failure: AttemptFailure): string {
  switch (failure.kind) {
    case "status":
      return `answered ${failure.status} ${JSON.stringify(failure.reason)}`;
    case "error-body":
      return `answered ${failure.status} with an error body ${JSON.stringify(failure.reason)}`;
    case "empty":
      return `answered ${failure.status} with an empty body`;
    case "timeout":
      return `did not answer within ${formatSeconds(failure.timeoutMs)}`;
    case "network":
      return `could not be reached (${failure.detail})`;
  }
}

/** Builds the error thrown when the policy gives up. */
function buildRequestError(
  url: string,
  failures: readonly AttemptFailure[],
  elapsedMs: number,
  because: string,
  policy: RetryPolicy,
): OpenMeteoRequestError {
  const last = failures[failures.length - 1];
  if (last === undefined) throw new Error("buildRequestError needs at least one failure");
  const attempts = failures.length;
  const shown = redactUrl(url);
  const permanent = permanentCause(last, policy);

  let message: string;
  if (last.kind === "status" && last.status >= 400 && last.status < 500 && last.status !== 408 && last.status !== 429) {
    message = `Open-Meteo answered ${last.status} for ${shown}: ${last.reason} (${hintFor400(last.reason)})`;
  } else if (permanent !== undefined) {
    const later = last.kind === "status" && last.status === 429 ? "; run the date again after that" : "";
    message = `Open-Meteo ${describeFailure(last)} for ${shown}; not retried: ${permanent}${later}`;
  } else {
    const same = failures.every((f) => describeFailure(f) === describeFailure(last));
    const count =
      attempts === 1
        ? `once in ${formatSeconds(elapsedMs)}`
        : same
          ? `${attempts} times over ${formatSeconds(elapsedMs)}`
          : `on the last of ${attempts} attempts over ${formatSeconds(elapsedMs)} (before: ${failures
              .slice(0, -1)
              .map(describeFailure)
              .join("; ")})`;
    const stopped = because.startsWith("all ") ? "" : ` (stopped: ${because})`;
    message = `Open-Meteo ${describeFailure(last)} ${count} for ${shown}${stopped}; the run will be retried`;
  }
  if (last.kind === "timeout" || last.kind === "network") {
    return new OpenMeteoUnreachableError(message, shown, last, attempts, elapsedMs, permanent === undefined);
  }
  // A rate limit passes with time; an error body or a 4xx needs a change to settings first.
  const transient = permanent === undefined || (last.kind === "status" && last.status === 429);
  return new OpenMeteoApiError(message, shown, last, attempts, elapsedMs, transient);
}

/** A retry about to happen, for logs. */
export interface RetryEvent {
  readonly url: string;
  readonly attempt: number;
  readonly failure: AttemptFailure;
  readonly delayMs: number;
}

/** One attempt that has finished, for metrics: what came back (the body's size, or why it failed). */
export type AttemptEvent =
  | { readonly url: string; readonly attempt: number; readonly ok: true; readonly bytes: number }
  | { readonly url: string; readonly attempt: number; readonly ok: false; readonly failure: AttemptFailure };

/** How to fetch: the HttpSettings values plus injectable I/O for tests and local runs. */
export interface FetchOptions {
  readonly timeoutMs: number;
  readonly retries: number;
  readonly tuning?: Partial<RetryTuning>;
  /** The fetch to use (ky passes it through); default globalThis.fetch. */
  readonly fetch?: typeof fetch;
  /** Waits between attempts; default setTimeout. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Wall clock in epoch milliseconds; default Date.now. */
  readonly now?: () => number;
  /** Jitter source in [0, 1); default Math.random. */
  readonly random?: () => number;
  /** Called before each retry's wait. */
  readonly onRetry?: (event: RetryEvent) => void;
  /** Called after every attempt, successful or not, before the policy decides what next. */
  readonly onAttempt?: (event: AttemptEvent) => void;
}

/** A successful answer. */
export interface FetchedBody {
  /** The body bytes exactly as received (after HTTP content decoding), never re-encoded. */
  readonly bytes: Uint8Array;
  readonly status: number;
  readonly contentType: string | undefined;
  readonly attempts: number;
  readonly elapsedMs: number;
}

/** Error bodies are tiny; a weather body this small could still be one, anything larger is data. */
const ERROR_BODY_SNIFF_LIMIT = 4096;

/** Open-Meteo's error reason from a body, or the start of a non-JSON body (an HTML error page). */
export function readErrorReason(bytes: Uint8Array): string {
  const text = new TextDecoder().decode(bytes.subarray(0, 64 * 1024));
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed !== null && typeof parsed === "object" && "reason" in parsed) {
      if (typeof parsed.reason === "string") return parsed.reason;
    }
  } catch {
    // Not JSON: a proxy's or load balancer's page; show its start.
  }
  const snippet = text.replace(/\s+/g, " ").trim().slice(0, 200);
  return snippet === "" ? "(no body)" : snippet;
}

/** The reason of a small 2xx body that is an Open-Meteo error object, else undefined. */
function readErrorObject(bytes: Uint8Array): string | undefined {
  if (bytes.length > ERROR_BODY_SNIFF_LIMIT) return undefined;
  try {
    const parsed = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    if (
      parsed !== null &&
      typeof parsed === "object" &&
      !Array.isArray(parsed) &&
      (parsed as { error?: unknown }).error === true
    ) {
      const reason = (parsed as { reason?: unknown }).reason;
      return typeof reason === "string" ? reason : "(no reason given)";
    }
  } catch {
    // Not JSON at all: the transform's validation reports it, with the raw object as evidence.
  }
  return undefined;
}

/** The innermost message of an error chain, e.g. "connect ECONNREFUSED 127.0.0.1:9" under "fetch failed". */
export function describeCause(error: unknown): string {
  let current: unknown = error;
  let detail = error instanceof Error ? error.message : String(error);
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (current.message) detail = current.message;
    current = current.cause;
  }
  return detail;
}

/** True for 127.0.0.0/8 and ::1 (also as ::ffff:127.x): this machine. */
function isLoopback(address: string): boolean {
  return /^(::ffff:)?127\./.test(address) || address === "::1";
}

/**
 * The failure of a request that never got an answer, with what is certain about it: a port fetch
 * refuses to use (the Fetch standard's blocked ports, undici's "bad port") never heals; a refused
 * connection on this machine's loopback is named, so the policy can end a request to a server
 * the user named at once (finalOnLoopbackRefusal). A refused or reset connection to a remote host
 * can be a restart or a load balancer's hiccup, and is retried.
 */
function networkFailure(error: unknown, url: string): Extract<AttemptFailure, { kind: "network" }> {
  const detail = describeCause(error);
  let port = "";
  try {
    const parsed = new URL(url);
    port = parsed.port || (parsed.protocol === "https:" ? "443" : "80");
  } catch {
    // The URL was fetched, so it parses.
  }
  let cause: unknown = error;
  for (let depth = 0; depth < 5 && cause instanceof Error; depth++) {
    const { code, address } = cause as NodeJS.ErrnoException & { address?: unknown };
    if (cause.message === "bad port") {
      return {
        kind: "network",
        detail,
        cannotHeal: `fetch never connects to port ${port}, one the Fetch standard blocks because it belongs to another protocol; serve Open-Meteo on another port and change the URL`,
      };
    }
    if (code === "ECONNREFUSED" && typeof address === "string" && isLoopback(address)) {
      return {
        kind: "network",
        detail,
        refusedOnLoopback: address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`,
      };
    }
    cause = cause.cause;
  }
  return { kind: "network", detail };
}

type AttemptResult =
  | { readonly ok: true; readonly bytes: Uint8Array; readonly status: number; readonly contentType: string | undefined }
  | { readonly ok: false; readonly failure: AttemptFailure };

/** Reads a body before `deadline`; on expiry aborts the connection so the read stops too. */
async function readBodyBefore(
  response: Response,
  deadline: number,
  controller: AbortController,
): Promise<Uint8Array | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), Math.max(0, deadline - Date.now()));
  });
  const reading = response.arrayBuffer().then((buffer) => new Uint8Array(buffer));
  try {
    const result = await Promise.race([reading, expired]);
    if (result === "timeout") {
      controller.abort();
      reading.catch(() => undefined); // the aborted read rejects; nobody waits for it any more
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/** One attempt: headers within ky's timeout, then the body within what is left of it. */
async function attemptOnce(
  url: string,
  timeoutMs: number,
  fetchImpl: typeof fetch | undefined,
): Promise<AttemptResult> {
  const deadline = Date.now() + timeoutMs;
  const controller = new AbortController();
  let response: Response;
  try {
    response = await ky.get(url, {
      timeout: timeoutMs,
      retry: 0,
      throwHttpErrors: false,
      signal: controller.signal,
      headers: { accept: "application/json" },
      ...(fetchImpl ? { fetch: fetchImpl } : {}),
    });
  } catch (error) {
    if (isTimeoutError(error)) return { ok: false, failure: { kind: "timeout", timeoutMs } };
    if (isNetworkError(error)) return { ok: false, failure: networkFailure(error, url) };
    throw error;
  }
  let bytes: Uint8Array | "timeout";
  try {
    bytes = await readBodyBefore(response, deadline, controller);
  } catch (error) {
    // The connection dropped mid-body (undici: TypeError "terminated").
    return { ok: false, failure: { kind: "network", detail: `body cut off: ${describeCause(error)}` } };
  }
  if (bytes === "timeout") return { ok: false, failure: { kind: "timeout", timeoutMs } };

  const status = response.status;
  if (status < 200 || status > 299)
    return { ok: false, failure: { kind: "status", status, reason: readErrorReason(bytes) } };
  if (bytes.length === 0) return { ok: false, failure: { kind: "empty", status } };
  const errorReason = readErrorObject(bytes);
  if (errorReason !== undefined) return { ok: false, failure: { kind: "error-body", status, reason: errorReason } };
  return { ok: true, bytes, status, contentType: response.headers.get("content-type") ?? undefined };
}

function checkOptions(options: FetchOptions, policy: RetryPolicy): void {
  const checks: [string, number, (n: number) => boolean, string][] = [
    ["http.timeoutMs", policy.timeoutMs, (n) => Number.isFinite(n) && n > 0, "more than 0"],
    ["http.retries", policy.retries, (n) => Number.isInteger(n) && n >= 0, "a whole number, 0 or more"],
    ["retry baseDelayMs", policy.baseDelayMs, (n) => Number.isFinite(n) && n >= 0, "0 or more"],
    ["retry maxDelayMs", policy.maxDelayMs, (n) => Number.isFinite(n) && n >= 0, "0 or more"],
    ["retry budgetMs", policy.budgetMs, (n) => Number.isFinite(n) && n > 0, "more than 0"],
  ];
  for (const [name, value, ok, rule] of checks) {
    if (!ok(value)) throw new RangeError(`${name} is ${value}; it must be ${rule}`);
  }
  if (options.timeoutMs > 2_147_483_647)
    throw new RangeError(`http.timeoutMs is ${options.timeoutMs}; it must fit a timer (at most 2147483647)`);
}

/**
 * GETs an Open-Meteo URL and returns the body bytes of a 2xx answer; retries what can succeed
 * later (see decideRetry) and throws an OpenMeteoRequestError saying what happened and what to do.
 */
export async function fetchOpenMeteo(url: string, options: FetchOptions): Promise<FetchedBody> {
  const policy: RetryPolicy = {
    ...DEFAULT_RETRY_TUNING,
    ...options.tuning,
    timeoutMs: options.timeoutMs,
    retries: options.retries,
  };
  checkOptions(options, policy);
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  const started = now();
  const failures: AttemptFailure[] = [];

  for (;;) {
    const left = policy.budgetMs - (now() - started);
    const result = await attemptOnce(url, Math.max(1, Math.min(policy.timeoutMs, left)), options.fetch);
    const attempt = failures.length + 1;
    options.onAttempt?.(
      result.ok
        ? { url: redactUrl(url), attempt, ok: true, bytes: result.bytes.length }
        : { url: redactUrl(url), attempt, ok: false, failure: result.failure },
    );
    if (result.ok) {
      return { ...result, attempts: failures.length + 1, elapsedMs: now() - started };
    }
    failures.push(result.failure);
    const elapsedMs = now() - started;
    const decision = decideRetry(policy, result.failure, {
      attempts: failures.length,
      elapsedMs,
      nowMs: now(),
      random: random(),
    });
    if (!decision.retry) throw buildRequestError(url, failures, elapsedMs, decision.because, policy);
    options.onRetry?.({
      url: redactUrl(url),
      attempt: failures.length,
      failure: result.failure,
      delayMs: decision.delayMs,
    });
    await sleep(decision.delayMs);
  }
}
