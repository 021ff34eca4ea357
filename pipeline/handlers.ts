/**
 * What the Lambdas do with an event: check its shape, then call the same entry functions the
 * local runner calls. The Pulumi callbacks only build the clients and stores and pass them in
 * through the create*Handler factories, which run once per cold start.
 */
import { ApiKeyError, hasApiKeyParameter, withApiKey } from "./api-key";
import { planRunDates, type RunPlan } from "./catch-up";
import { redactUrl, type RetryTuning } from "./http";
import { ingestDate, type IngestResult } from "./ingest";
import { assertIsoDate } from "./keys";
import { formatTransformMetricLine } from "./metrics";
import type { PipelineSettings } from "./settings";
import type { ObjectStore } from "./storage";
import { transformRawObjects, type TransformResult } from "./transform";

/** Input of the ingest function: a date to fetch, or nothing for yesterday. */
export interface IngestEvent {
  readonly date?: string;
}

/** Input of the transform function: what ingest returned. */
export interface TransformEvent {
  readonly date: string;
  readonly keys: readonly string[];
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

/** Checks a transform event: `{"date": "YYYY-MM-DD", "keys": ["open-meteo/...json", ...]}`. */
export function parseTransformEvent(event: unknown): TransformEvent {
  const e = (event ?? {}) as { date?: unknown; keys?: unknown };
  if (typeof e.date !== "string") {
    throw new TypeError(
      `the transform event is ${describe(event)}; it needs "date" ("YYYY-MM-DD") and "keys" (raw object keys), as ingest returns them`,
    );
  }
  assertIsoDate(e.date, "the transform event's date");
  if (!Array.isArray(e.keys) || !e.keys.every((k): k is string => typeof k === "string")) {
    throw new TypeError(`the transform event's keys are ${describe(e.keys)}; they must be a list of raw object keys`);
  }
  return { date: e.date, keys: e.keys };
}

/** Runs one ingest invocation. */
export async function handleIngestEvent(
  event: unknown,
  deps: { settings: PipelineSettings; rawStore: ObjectStore },
): Promise<IngestResult> {
  return ingestDate(parseIngestEvent(event), deps);
}

/** Runs one transform invocation. */
export async function handleTransformEvent(
  event: unknown,
  deps: { settings: PipelineSettings; rawStore: ObjectStore; curatedStore: ObjectStore },
): Promise<TransformResult> {
  return transformRawObjects(parseTransformEvent(event), deps);
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
  /** Where progress lines go; default console.log. */
  readonly log?: (line: string) => void;
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
  const { loadApiKey } = deps;
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
    return ingestDate(input, {
      settings: deps.settings,
      rawStore: deps.rawStore,
      now: deps.now,
      retryTuning: deps.retryTuning,
      log: deps.log,
      fetch: withApiKey(deps.fetch ?? fetch, key),
    });
  };
}

/** What the transform Lambda is built from. */
export interface TransformHandlerDeps {
  readonly settings: PipelineSettings;
  readonly rawStore: ObjectStore;
  readonly curatedStore: ObjectStore;
  /** The stack name, the Stack dimension of the metrics. */
  readonly stack: string;
  /**
   * Where the metric line (CloudWatch EMF JSON) goes; default console.log, as AWS's own EMF
   * library does in Lambda (CloudWatch Logs extracts the metrics from the function's log group).
   */
  readonly log?: (line: string) => void;
  /** The clock of the metric timestamp; default the real time. */
  readonly now?: () => Date;
}

/** Builds the transform Lambda's handler: transform, then one EMF metric line for the run. */
export function createTransformHandler(deps: TransformHandlerDeps): (event: unknown) => Promise<TransformResult> {
  if (deps.stack.trim() === "")
    throw new RangeError("the transform handler's stack name is empty; pass the stack name");
  const log = deps.log ?? ((line: string) => console.log(line));
  const now = deps.now ?? (() => new Date());
  return async (event: unknown) => {
    const result = await transformRawObjects(parseTransformEvent(event), deps);
    // Emitted only after every file is written: the freshness alarm must not see a failed run.
    log(formatTransformMetricLine(result, deps.stack, now()));
    return result;
  };
}

/** What the planning Lambda (the run's first state) is built from. */
export interface PlanHandlerDeps {
  readonly settings: PipelineSettings;
  readonly rawStore: ObjectStore;
  readonly curatedStore: ObjectStore;
  /** Days checked, ending with yesterday. */
  readonly catchUpDays: number;
  /** Most dates one scheduled run works on. */
  readonly maxDatesPerRun: number;
  /** The clock; default the real time. */
  readonly now?: () => Date;
  /** Where the plan's reasons go; default console.log. */
  readonly log?: (line: string) => void;
}

/** Builds the planning handler: `{}` (the schedule) or `{"date"}` (a manual run) -> RunPlan. */
export function createPlanHandler(deps: PlanHandlerDeps): (event: unknown) => Promise<RunPlan> {
  return async (event: unknown) => planRunDates(parseIngestEvent(event), deps);
}
