/**
 * What the transform Lambda does with an event: check its shape, transform, then one metric line.
 * The Pulumi callback only builds the stores and passes them in through createTransformHandler.
 */
import { assertIsoDate } from "../core/keys";
import type { PipelineSettings } from "../core/settings";
import type { ObjectStore } from "../core/storage";
import { formatTransformMetricLine } from "./metrics";
import { addLocationsToDates } from "./add-locations";
import { transformRawObjects, type TransformDeps, type TransformResult } from "./transform";

/** Input of the transform function: what ingest returned (a date's, or a backfill window's). */
export type TransformEvent =
  | { readonly date: string; readonly keys: readonly string[] }
  | {
      readonly from: string;
      readonly to: string;
      readonly keys: readonly string[];
      /** A location backfill's window: these locations are added to the dates' files (add-locations.ts). */
      readonly locations?: readonly { readonly name: string }[];
    };

function describe(value: unknown): string {
  return JSON.stringify(value)?.slice(0, 200) ?? String(value);
}

/**
 * Checks a transform event: `{"date": "YYYY-MM-DD", "keys": ["open-meteo/...json", ...]}`, or a
 * window's `{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD", "keys": [...]}`.
 */
export function parseTransformEvent(event: unknown): TransformEvent {
  const e = (event ?? {}) as { date?: unknown; from?: unknown; to?: unknown; keys?: unknown };
  if (e.date === undefined && e.from !== undefined) {
    if (typeof e.from !== "string" || typeof e.to !== "string") {
      throw new TypeError(`the transform event is ${describe(event)}; a window needs "from" and "to" ("YYYY-MM-DD")`);
    }
    assertIsoDate(e.from, "the transform event's from");
    assertIsoDate(e.to, "the transform event's to");
    if (!Array.isArray(e.keys) || !e.keys.every((k): k is string => typeof k === "string")) {
      throw new TypeError(`the transform event's keys are ${describe(e.keys)}; they must be a list of raw object keys`);
    }
    const locations = (event as { locations?: unknown }).locations;
    if (locations === undefined) return { from: e.from, to: e.to, keys: e.keys };
    if (
      !Array.isArray(locations) ||
      locations.length === 0 ||
      !locations.every((l): l is { name: string } => typeof (l as { name?: unknown })?.name === "string")
    ) {
      throw new TypeError(
        `the transform event's locations are ${describe(locations)}; a location backfill's window names them as [{"name": ...}, ...]`,
      );
    }
    return { from: e.from, to: e.to, keys: e.keys, locations: locations.map((l) => ({ name: l.name })) };
  }
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

/** Runs one transform invocation. */
export async function handleTransformEvent(
  event: unknown,
  deps: { settings: PipelineSettings; rawStore: ObjectStore; curatedStore: ObjectStore; writtenBy?: string },
): Promise<TransformResult> {
  return transformEvent(parseTransformEvent(event), deps);
}

/** A date's or a window's transform, or a location backfill's window added to its dates. */
function transformEvent(event: TransformEvent, deps: TransformDeps): Promise<TransformResult> {
  return "locations" in event && event.locations
    ? addLocationsToDates({ ...event, locations: event.locations }, deps)
    : transformRawObjects(event, deps);
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
  /** The clock of the metric timestamp and the files' written-at; default the real time. */
  readonly now?: () => Date;
  /** Who writes, in each curated object's written-by metadata (the Lambda's name); default none. */
  readonly writtenBy?: string;
}

/** Builds the transform Lambda's handler: transform, then one EMF metric line for the run. */
export function createTransformHandler(deps: TransformHandlerDeps): (event: unknown) => Promise<TransformResult> {
  if (deps.stack.trim() === "")
    throw new RangeError("the transform handler's stack name is empty; pass the stack name");
  const log = deps.log ?? ((line: string) => console.log(line));
  const now = deps.now ?? (() => new Date());
  return async (event: unknown) => {
    const result = await transformEvent(parseTransformEvent(event), deps);
    // Emitted only after every file is written: the freshness alarm must not see a failed run.
    log(formatTransformMetricLine(result, deps.stack, now()));
    return result;
  };
}
