/**
 * A new location's history added to the dates the stack already has (README "Applications"):
 * each date's files are written again from the raw bodies they were made of (their `source-keys`
 * metadata) plus the new location's bodies, so a date stays one file per dataset holding every
 * location, and raw stays the only source of truth (nothing is read back from Parquet).
 *
 * Dates are taken in runs sharing the same source bodies (a backfill window's dates share its
 * bodies), so a body is scanned once per run, not once per date. A date without files is left
 * alone: it belongs to the stack's own backfill, which fetches every location, this one
 * included. A date whose bodies already hold the location (a daily run after the acceptance, or
 * this window run before) is left alone too, so a retried or repeated request writes nothing twice.
 */
import { addDays, daysBetween } from "../core/dates";
import { curatedObjectKey, DATASETS, isRawBodyKey, type Dataset } from "../core/keys";
import type { Location } from "../core/settings";
import {
  readRequestManifest,
  TransformError,
  transformRawObjects,
  type TransformDeps,
  type TransformResult,
} from "./transform";

/** A window of a location backfill: its dates, the new locations, the bodies ingest stored for them. */
export interface AddLocationsInput {
  readonly from: string;
  readonly to: string;
  readonly keys: readonly string[];
  readonly locations: readonly Pick<Location, "name">[];
}

/** What adding locations to a window's dates did. */
export interface AddLocationsResult extends TransformResult {
  /** Dates whose files were written again with the new locations. */
  readonly addedDates: number;
  /** Dates without curated files: the stack's own backfill writes them, with every location. */
  readonly datesWithoutFiles: number;
  /** Dates whose bodies already held the locations: nothing written. */
  readonly datesAlreadyHolding: number;
}

/** The raw keys a curated file lists in its `source-keys` metadata; undefined when it has no file. */
async function sourceKeysOf(deps: TransformDeps, dataset: Dataset, date: string): Promise<string[] | undefined> {
  const key = curatedObjectKey(dataset, date);
  let metadata: Readonly<Record<string, string>>;
  try {
    metadata = (await deps.curatedStore.getObject(key)).metadata;
  } catch (error) {
    // By name: importing ObjectNotFoundError would pull the S3 SDK into the transform's modules.
    if (error instanceof Error && error.name === "ObjectNotFoundError") return undefined;
    throw error;
  }
  const listed = metadata["source-keys"];
  if (listed === undefined) {
    const count = metadata["source-key-count"];
    throw new TransformError(
      count === undefined
        ? `${deps.curatedStore.description}/${key} has no source-keys metadata (written before it was kept); ` +
            `run that date again (the stack's state machine with {"date": "${date}"}, as a redrive starts it), which writes it with them, then start the location's history again`
        : `${deps.curatedStore.description}/${key} was made of ${count} raw bodies, too many to list in its metadata, ` +
            `so it cannot be written again with a new location; add the location to the stack's config and backfill ${date} instead`,
    );
  }
  const keys = JSON.parse(listed) as unknown;
  if (!Array.isArray(keys) || !keys.every((k): k is string => typeof k === "string" && isRawBodyKey(k))) {
    throw new TransformError(
      `${deps.curatedStore.description}/${key}: its source-keys metadata ${listed.slice(0, 200)} is not a list of raw body keys`,
    );
  }
  return keys;
}

/** Adds `input.locations`' rows (from `input.keys`) to every date of the window that has files (see the module comment). */
export async function addLocationsToDates(input: AddLocationsInput, deps: TransformDeps): Promise<AddLocationsResult> {
  const wanted = DATASETS.filter((d) =>
    d === "weather_hourly" ? deps.settings.hourlyVariables.length > 0 : deps.settings.dailyVariables.length > 0,
  );
  const names = new Set(input.locations.map((l) => l.name));
  if (names.size === 0) throw new TransformError("no locations to add; the window's event names them in `locations`");
  // Each date's sources, in date order: the union of its datasets' files' (one transform wrote both).
  const runs: { from: string; to: string; sources: string[] }[] = [];
  let datesWithoutFiles = 0;
  for (let date = input.from; date <= input.to; date = addDays(date, 1)) {
    const lists = await Promise.all(wanted.map((d) => sourceKeysOf(deps, d, date)));
    if (lists.every((l) => l === undefined)) {
      datesWithoutFiles++;
      continue;
    }
    const sources = [...new Set(lists.flatMap((l) => l ?? []))].sort();
    const last = runs[runs.length - 1];
    if (last && last.to === addDays(date, -1) && last.sources.join("\n") === sources.join("\n")) last.to = date;
    else runs.push({ from: date, to: date, sources });
  }
  const files: TransformResult["files"][number][] = [];
  let addedDates = 0;
  let datesAlreadyHolding = 0;
  let rawObjects = 0;
  for (const run of runs) {
    const dates = daysBetween(run.from, run.to) + 1;
    const manifests = await Promise.all(run.sources.map((k) => readRequestManifest(deps.rawStore, k)));
    if (manifests.some((m) => m.locations.some((l) => names.has(l.name)))) {
      datesAlreadyHolding += dates;
      continue;
    }
    const keys = [...new Set([...run.sources, ...input.keys])];
    const result = await transformRawObjects({ from: run.from, to: run.to, keys }, deps, { clipToRange: true });
    files.push(...result.files);
    rawObjects += keys.length;
    addedDates += dates;
  }
  return {
    date: input.from,
    ...(input.to !== input.from ? { lastDate: input.to } : {}),
    files,
    rawObjects,
    addedDates,
    datesWithoutFiles,
    datesAlreadyHolding,
  };
}
