/**
 * What the ingest Lambda does with an event: check its shape, then call the same entry function
 * the local runner calls. The Pulumi callback only builds the clients and the store and passes
 * them in through createIngestHandler, which runs once per cold start.
 */
import { assertIsoDate } from "../core/keys";
import type { Location, PipelineSettings } from "../core/settings";
import type { ObjectStore } from "../core/storage";
import { ApiKeyError, hasApiKeyParameter, withApiKey } from "./api-key";
import { redactUrl, type RetryTuning } from "./http";
import { ingestDate, type IngestResult } from "./ingest";
import { addAttempt, emptyIngestTotals, formatIngestMetricLines } from "./metrics";

/** Input of the ingest function: a date to fetch, or nothing for yesterday. */
export interface IngestEvent {
  readonly date?: string;
}

function describe(value: unknown): string {
  return JSON.stringify(value)?.slice(0, 200) ?? String(value);
}

/** Checks an ingest event: `{}` or `{"date": "YYYY-MM-DD"}`; extra fields (from Step Functions) are ignored. */
export function parseIngestEvent(event: unknown): IngestEvent {
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
  return { date };
}

/** Runs one ingest invocation. */
export async function handleIngestEvent(
  event: unknown,
  deps: { settings: PipelineSettings; rawStore: ObjectStore },
): Promise<IngestResult> {
  return ingestDate(parseIngestEvent(event), deps);
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
   * The locations of this invocation, read on each one (the config's and the applications
   * registry's); absent: settings.locations.
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
export function createIngestHandler(deps: IngestHandlerDeps): (event: unknown) => Promise<IngestResult> {
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
    const input = parseIngestEvent(event);
    const key = await readKey();
    const totals = emptyIngestTotals();
    let outcome = "failed";
    try {
      const settings = deps.locations ? { ...deps.settings, locations: await deps.locations() } : deps.settings;
      const result = await ingestDate(input, {
        settings,
        rawStore: deps.rawStore,
        now,
        retryTuning: deps.retryTuning,
        log,
        fetch: withApiKey(deps.fetch ?? fetch, key),
        onAttempt: (attempt) => addAttempt(totals, attempt),
      });
      outcome = "succeeded";
      return result;
    } finally {
      // Also after a failure: the 429s and the weight of a failed ingest are what the dashboard is for.
      const properties = { outcome, ...(input.date ? { date: input.date } : {}) };
      for (const line of formatIngestMetricLines(totals, deps.stack, now(), properties)) log(line);
    }
  };
}
