/**
 * What the two Lambdas do with an event: check its shape, then call the same entry functions
 * the local runner calls. The Pulumi callbacks only build the stores and pass them in.
 */
import { ingestDate, type IngestResult } from "./ingest";
import { assertIsoDate } from "./keys";
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
