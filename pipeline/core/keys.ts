/**
 * Object key layout of the raw and curated buckets: the one place that knows it.
 * Dates are `YYYY-MM-DD` calendar days in the stack's time zone (see PipelineSettings.timezone).
 */
import type { Endpoint } from "./settings";

/** The curated datasets, one Glue table and one Parquet file per date each. */
export type Dataset = "weather_hourly" | "weather_daily";
export const DATASETS: readonly Dataset[] = ["weather_hourly", "weather_daily"];

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Throws unless `date` is a real calendar date written as YYYY-MM-DD. */
export function assertIsoDate(date: string, what = "date"): void {
  const parsed = new Date(`${date}T00:00:00Z`);
  if (!DATE.test(date) || Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== date) {
    throw new Error(`${what} is ${JSON.stringify(date)}; it must be a calendar date written YYYY-MM-DD`);
  }
}

/** Prefix of all raw objects of one date and endpoint. */
export function rawDatePrefix(endpoint: Endpoint, date: string): string {
  assertIsoDate(date);
  return `open-meteo/${endpoint}/date=${date}/`;
}

/**
 * Prefix of the raw objects of one backfill window (a run of dates fetched together), e.g.
 * `open-meteo/archive/backfill/2015-01-01_2015-02-04/`: apart from the daily runs' date
 * prefixes, so a window never mixes with a date's bodies and the catch-up never lists it.
 */
export function rawWindowPrefix(endpoint: Endpoint, from: string, to: string): string {
  assertIsoDate(from, "the window's first date");
  assertIsoDate(to, "the window's last date");
  if (to < from) throw new RangeError(`the window ${from} to ${to} ends before it starts`);
  return `open-meteo/${endpoint}/backfill/${from}_${to}/`;
}

/** Key of a raw body of a backfill window: the same window and request give the same key. */
export function rawWindowBodyKey(endpoint: Endpoint, from: string, to: string, requestId: string): string {
  return `${rawWindowPrefix(endpoint, from, to)}${requestId}.json`;
}

/** Key of a raw response body: same date and request -> same key, so re-runs overwrite, never duplicate. */
export function rawBodyKey(endpoint: Endpoint, date: string, requestId: string): string {
  return `${rawDatePrefix(endpoint, date)}${requestId}.json`;
}

/** Key of the request manifest stored beside a raw body (what was asked, for which locations). */
export function requestManifestKey(bodyKey: string): string {
  if (!bodyKey.endsWith(".json") || bodyKey.endsWith(".request.json")) {
    throw new Error(`${bodyKey} is not a raw body key (expected <prefix>/<request-id>.json)`);
  }
  return `${bodyKey.slice(0, -".json".length)}.request.json`;
}

/** True for raw body keys, false for their manifests. */
export function isRawBodyKey(key: string): boolean {
  return key.endsWith(".json") && !key.endsWith(".request.json");
}

/** Prefix of one date's partition of a curated dataset (Hive style, as Athena expects). */
export function curatedPartitionPrefix(dataset: Dataset, date: string): string {
  assertIsoDate(date);
  return `${dataset}/date=${date}/`;
}

/** Key of the single Parquet file of a dataset for a date; a re-run replaces it. */
export function curatedObjectKey(dataset: Dataset, date: string): string {
  return `${curatedPartitionPrefix(dataset, date)}${dataset}_${date}.parquet`;
}
