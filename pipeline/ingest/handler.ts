/**
 * What the ingest Lambda does with an event: check its shape, then call the same entry function
 * the local runner calls. The Pulumi callback only builds the clients and the store and passes
 * them in through createIngestHandler, which runs once per cold start.
 */
import { assertFinishedDate } from "../core/dates";
import { assertIsoDate } from "../core/keys";
import type { Location, PipelineSettings } from "../core/settings";
import type { ObjectStore } from "../core/storage";
import { ApiKeyError, hasApiKeyParameter, withApiKey } from "./api-key";
import { redactUrl, type RetryTuning } from "./http";
import { ingestDate, ingestWindow, type IngestResult, type WindowIngestInput, type WindowIngestResult } from "./ingest";
import { addAttempt, emptyIngestTotals, formatIngestMetricLines } from "./metrics";

/** Input of the ingest function: a date to fetch, or nothing for yesterday. */
export interface IngestEvent {
  readonly date?: string;
}

function describe(value: unknown): string {
  return JSON.stringify(value)?.slice(0, 200) ?? String(value);
}

/** The stack's time zone and the current time, which decide whether a date is over. */
export interface EventClock {
  readonly timezone: string;
  readonly now: Date;
}

/**
 * Checks an ingest event: `{}` or `{"date": "YYYY-MM-DD"}`, a date that is over in the stack's
 * time zone (today and later would store forecasts as observations); extra fields (from Step
 * Functions) are ignored.
 */
export function parseIngestEvent(event: unknown, clock: EventClock): IngestEvent {
  if (event === null || event === undefined) return {};
  if (typeof event !== "object" || Array.isArray(event)) {
    throw new TypeError(`the ingest event is ${describe(event)}; send {} or {"date": "YYYY-MM-DD"}`);
  }
  const date = (event as { date?: unknown }).date;
  if (date === undefined || date === null) return {};
  if (typeof date !== "string") {
    throw new TypeError(`the ingest event's date is ${describe(date)}; it must be a string "YYYY-MM-DD"`);
  }
  assertIsoDate(date, "the ingest event's date");
  assertFinishedDate(date, clock.timezone, clock.now, "the event's date");
  return { date };
}

/**
 * Reads a backfill window event, `{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD", ...}` (what the
 * backfill's state machine passes; extra fields such as an earlier `resumeAt` are ignored), or
 * undefined for an event without `from`.
 */
export function parseWindowEvent(event: unknown): WindowIngestInput | undefined {
  if (event === null || typeof event !== "object" || Array.isArray(event)) return undefined;
  const { from, to, date } = event as { from?: unknown; to?: unknown; date?: unknown };
  if (from === undefined) return undefined;
  if (date !== undefined) {
    throw new TypeError(`the ingest event ${describe(event)} has both "date" and "from"; send one date or one window`);
  }
  if (typeof from !== "string" || typeof to !== "string") {
    throw new TypeError(
      `the ingest event is ${describe(event)}; a window needs "from" and "to" as strings "YYYY-MM-DD"`,
    );
  }
  assertIsoDate(from, "the window's from");
  assertIsoDate(to, "the window's to");
  if (to < from) throw new RangeError(`the window's to (${to}) is before its from (${from}); swap them`);
  const { locations } = event as { locations?: unknown };
  if (locations === undefined) return { from, to };
  return { from, to, locations: windowLocations(locations) };
}

/** A location backfill window's locations, each checked: a name and coordinates in range. */
function windowLocations(value: unknown): Location[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new TypeError(
      `the window's locations are ${describe(value)}; send [{"name": ..., "latitude": ..., "longitude": ...}, ...] or leave them out`,
    );
  }
  return value.map((l: unknown, i) => {
    const { name, latitude, longitude } = (l ?? {}) as { name?: unknown; latitude?: unknown; longitude?: unknown };
    const ok =
      typeof name === "string" &&
      name.trim() !== "" &&
      typeof latitude === "number" &&
      latitude >= -90 &&
      latitude <= 90 &&
      typeof longitude === "number" &&
      longitude >= -180 &&
      longitude <= 180;
    if (!ok) {
      throw new TypeError(
        `the window's locations[${i}] is ${describe(l)}; it needs a name, a latitude from -90 to 90 and a longitude from -180 to 180`,
      );
    }
    return { name, latitude, longitude };
  });
}

/** What one ingest invocation returns: a date's result, or a window's. */
export type IngestOutcome = IngestResult | WindowIngestResult;

/** Runs one ingest invocation: a date, or a backfill window. */
export async function handleIngestEvent(
  event: unknown,
  deps: {
    settings: PipelineSettings;
    rawStore: ObjectStore;
    now?: () => Date;
    log?: (line: string) => void;
    retryTuning?: Partial<RetryTuning>;
  },
): Promise<IngestOutcome> {
  const now = deps.now ?? (() => new Date());
  const window = parseWindowEvent(event);
  return window
    ? ingestWindow(window, deps)
    : ingestDate(parseIngestEvent(event, { timezone: deps.settings.timezone, now: now() }), deps);
}

/** What the ingest Lambda is built from. */
export interface IngestHandlerDeps {
  readonly settings: PipelineSettings;
  readonly rawStore: ObjectStore;
  /** Reads the Open-Meteo API key (e.g. loadApiKey from Secrets Manager); absent: no key is sent. */
  readonly loadApiKey?: () => Promise<string | undefined>;
  /** The fetch requests go through before the key is added; default globalThis.fetch. */
  readonly fetch?: typeof fetch;
  /** The clock; default the real time. */
  readonly now?: () => Date;
  /** Backoff tuning (tests shrink it); default DEFAULT_RETRY_TUNING. */
  readonly retryTuning?: Partial<RetryTuning>;
  /** Where progress lines and the metric lines (CloudWatch EMF JSON) go; default console.log. */
  readonly log?: (line: string) => void;
  /** The stack name, the Stack dimension of the metrics. */
  readonly stack: string;
  /**
   * The locations of an invocation, read on each one (the config's and the applications
   * registry's); absent, or for a location's history window (which names its own): settings.locations.
   */
  readonly locations?: () => Promise<readonly Location[]>;
}

/** Throws unless neither API URL carries a key: planned URLs end up in keys, metadata and logs. */
function checkUrlsHoldNoKey(settings: PipelineSettings): void {
  for (const [name, url] of [
    ["forecastApiUrl", settings.forecastApiUrl],
    ["archiveApiUrl", settings.archiveApiUrl],
  ] as const) {
    if (hasApiKeyParameter(url)) {
      throw new ApiKeyError(
        `${name} (${redactUrl(url)}) holds an apikey parameter; remove it and set the key as the stack's secret instead, so it never reaches raw metadata, manifests or logs`,
      );
    }
  }
}

/**
 * Builds the ingest Lambda's handler. The API key is read on the first invocation and the
 * promise kept for the container's life; a failed read is not kept, so the next invocation
 * tries again.
 */
export function createIngestHandler(deps: IngestHandlerDeps): (event: unknown) => Promise<IngestOutcome> {
  checkUrlsHoldNoKey(deps.settings);
  if (deps.stack.trim() === "") throw new RangeError("the ingest handler's stack name is empty; pass the stack name");
  const { loadApiKey } = deps;
  const log = deps.log ?? ((line: string) => console.log(line));
  const now = deps.now ?? (() => new Date());
  let apiKey: Promise<string | undefined> | undefined;
  const readKey = (): Promise<string | undefined> => {
    if (!loadApiKey) return Promise.resolve(undefined);
    apiKey ??= loadApiKey().catch((error: unknown) => {
      apiKey = undefined;
      throw error;
    });
    return apiKey;
  };
  return async (event: unknown) => {
    const window = parseWindowEvent(event);
    const input = window ? undefined : parseIngestEvent(event, { timezone: deps.settings.timezone, now: now() });
    // A date and a stack's backfill window add the registry's locations to the config's (README
    // "Applications"), as the backfill's planner did when it sized the window; a location's
    // history window names its own. Read while the key is (one round trip, not two); its failure
    // is reported below, so a failed key read first must not leave it unhandled.
    const locationsRead = !window?.locations && deps.locations ? deps.locations() : undefined;
    locationsRead?.catch(() => undefined);
    const key = await readKey();
    const totals = emptyIngestTotals();
    let outcome = "failed";
    const ingestDeps = {
      settings: deps.settings,
      rawStore: deps.rawStore,
      now,
      retryTuning: deps.retryTuning,
      log,
      fetch: withApiKey(deps.fetch ?? fetch, key),
      onAttempt: (attempt: Parameters<typeof addAttempt>[1]) => addAttempt(totals, attempt),
    };
    try {
      const locatedDeps = locationsRead
        ? { ...ingestDeps, settings: { ...deps.settings, locations: await locationsRead } }
        : ingestDeps;
      const result = window ? await ingestWindow(window, locatedDeps) : await ingestDate(input ?? {}, locatedDeps);
      // A window stopped by an hourly or daily limit waits and goes on: not a failure.
      outcome = "resumeAt" in result && result.resumeAt !== undefined ? "rate-limited" : "succeeded";
      return result;
    } finally {
      // Also after a failure: the 429s and the weight of a failed ingest are what the dashboard is for.
      const properties = {
        outcome,
        ...(window ? { from: window.from, to: window.to } : input?.date ? { date: input.date } : {}),
      };
      for (const line of formatIngestMetricLines(totals, deps.stack, now(), properties)) log(line);
    }
  };
}
