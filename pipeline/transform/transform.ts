/**
 * The transform: raw Open-Meteo bodies -> typed rows -> one Parquet file per dataset and date
 * in the curated store (`<dataset>/date=YYYY-MM-DD/<dataset>_<date>.parquet`).
 *
 * Every input is parsed and converted before anything is written: a bad body fails the run with
 * its key in the message and leaves the curated files of an earlier run untouched (each put is
 * a whole, atomic object, so readers see the old file or the new one, never part of one).
 *
 * This module runs inside a Lambda after Pulumi's closure serialization, so it imports only
 * hyparquet-writer, project modules without SDK values, and types.
 */
import { addDays } from "../core/dates";
import { dayFrames, type DayFrame } from "../core/day-frames";
import { createHash } from "node:crypto";
import { PipelineError } from "../core/errors";
import {
  type Dataset,
  DATASETS,
  assertIsoDate,
  curatedObjectKey,
  isRawBodyKey,
  requestManifestKey,
} from "../core/keys";
import type { RequestManifest } from "../core/manifest";
import {
  dayOfIsoDate,
  isoDateOfDay,
  scanOpenMeteoStream,
  type ScannedBlock,
  type ScannedLocation,
} from "./openmeteo-response";
import {
  DEFAULT_ROW_GROUP_ROWS,
  DatasetParquetWriter,
  RowGroupSpill,
  type ColumnSlice,
  type ParquetFileOptions,
} from "./parquet";
import { TIME_UNITS, datasetSchema, type ColumnNames, type DatasetSchema } from "../core/schema";
import type { PipelineSettings } from "../core/settings";
import type { ObjectStore } from "../core/storage";

/**
 * A transform failure no retry can fix (a bad key list, a missing manifest, rows of another
 * date): its own name keeps the state machine from retrying it as it does plain network errors.
 */
export class TransformError extends PipelineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("TransformError", message, options);
  }
}

/**
 * What to transform: a date and the raw BODY keys ingest wrote for it, or a backfill window
 * (`from` to `to`) and the keys its ingest wrote.
 */
export type TransformInput =
  | { readonly date: string; readonly keys: readonly string[] }
  | { readonly from: string; readonly to: string; readonly keys: readonly string[] };

/** One curated Parquet object written. */
export interface CuratedFile {
  readonly dataset: Dataset;
  readonly key: string;
  readonly rows: number;
  readonly bytes: number;
}

/** What a transform run wrote. */
export interface TransformResult {
  /** The (first) date written. */
  readonly date: string;
  /** The last date written, for a window; absent for one date. */
  readonly lastDate?: string;
  /** Every file written, dataset by dataset, each by date. */
  readonly files: readonly CuratedFile[];
  readonly rawObjects: number;
}

/**
 * The `open_meteo.source` entry of a file the pipeline writes: the endpoint and the time zone
 * the rows were requested in (which fixes what each daily aggregate covers). Raw keys are not in
 * the file, since a backfill window and a daily run of the same date read different bodies and
 * must write the same bytes; they are in the object's S3 metadata (`source-keys`).
 */
export function sourceDescription(manifest: Pick<RequestManifest, "endpoint" | "timezone">): string {
  return `open-meteo ${manifest.endpoint} timezone=${manifest.timezone}`;
}

/** S3 user metadata holds 2 KB in all; the raw keys are listed when they fit in this much. */
const SOURCE_KEYS_METADATA_LIMIT = 1400;

/** What transformRawObjects works with. */
export interface TransformDeps {
  readonly settings: PipelineSettings;
  readonly rawStore: ObjectStore;
  readonly curatedStore: ObjectStore;
  /** Row group sizing; defaults suit a Lambda of 512 MB. */
  readonly parquet?: ParquetFileOptions;
  /** Who writes, kept in each curated object's `written-by` metadata (e.g. the Lambda's name); default none. */
  readonly writtenBy?: string;
  /** The clock of the `written-at` metadata; default the real time. */
  readonly now?: () => Date;
}

/** User metadata of a curated object: when it was written (ISO 8601, UTC). */
export const WRITTEN_AT_METADATA = "written-at";

/** User metadata of a curated object: who wrote it (a function name, a local run). */
export const WRITTEN_BY_METADATA = "written-by";

/** A saved Open-Meteo response for transformResponseFiles. */
export interface ResponseFile {
  /** File name, used in error messages and the files' source metadata. */
  readonly name: string;
  /**
   * The body, whole or as a stream of chunks (e.g. fs.createReadStream); either way it is read a
   * location at a time, and a stream never has to be in memory whole, however large.
   */
  readonly body: Uint8Array | string | AsyncIterable<Uint8Array>;
}

/** Options of transformResponseFiles. */
export interface ResponseFileOptions extends Omit<ParquetFileOptions, "spill"> {
  /**
   * A folder for a temporary file (deleted at the end) where rows wait for their row group when
   * the rows buffered across all open files pass rowGroupRows. A body of many days has one file
   * per day open at once: with the spill each file still gets row groups of rowGroupRows rows
   * (a day of a thousand locations is one), and memory holds only the budget. Default: the
   * system's temporary folder. (Without a spill the fullest files had to write their rows early:
   * a year of 100 locations became 6 to 9 row groups per day, each with its own dictionaries,
   * files twice as large, and a conversion six times as slow.)
   */
  readonly spillDirectory?: string;
}

/** Curated files written at once by transformResponseFiles. */
const PARALLEL_PUTS = 8;

/** Content type of the curated objects. */
export const PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet";

const BLOCK_OF: Readonly<Record<Dataset, "hourly" | "daily">> = {
  weather_hourly: "hourly",
  weather_daily: "daily",
};

/**
 * Converts the raw bodies of one date (or of a backfill window's dates) into one Parquet file
 * per dataset for each date.
 *
 * Keys are processed in sorted order, which is location order (ingest names bodies
 * `NNNN-<hash>.json` by batch, and sorts locations by name across batches); within a location
 * rows are in time order. Location names come from each body's request manifest. The columns
 * are the variables in `settings` (the same list the Glue table is declared from); each body's
 * manifest must show that they were requested, and the body must hold everything the manifest
 * asked for. A dataset without variables in settings is skipped.
 *
 * Which rows belong to a date is decided by the date's true local day in settings.timezone
 * (core/day-frames.ts), not by the body's labels: the hourly rows whose instants fall in it (23,
 * 24 or 25 of them, all required), and the daily row labelled with the date in a body whose
 * offset is the one the date starts with. A body requested with another offset (Open-Meteo
 * applies the offset valid at request time to a whole range) is refused, naming the date. So a
 * date's files are the same, byte for byte, whether a daily run or a backfill window fetched it.
 * Bodies are streamed from the store: memory holds one location of a body, however many the
 * request had.
 */
export async function transformRawObjects(
  input: TransformInput,
  deps: TransformDeps,
  options: {
    /**
     * Take from bodies serving more dates than `from` to `to` only those dates (instead of
     * refusing them): a date's files rewritten from a backfill window's bodies (add-locations.ts).
     */
    readonly clipToRange?: boolean;
  } = {},
): Promise<TransformResult> {
  const { settings, rawStore, curatedStore } = deps;
  const first = "date" in input ? input.date : input.from;
  const last = "date" in input ? input.date : input.to;
  assertIsoDate(first, "date" in input ? "the transform date" : "the transform window's from");
  assertIsoDate(last, "the transform window's to");
  if (last < first) throw new TransformError(`the transform window ${first} to ${last} ends before it starts`);
  const what = first === last ? first : `${first} to ${last}`;
  const keys = [...input.keys].sort();
  if (keys.length === 0) {
    throw new TransformError(
      `no raw body keys to transform for ${what}; run ingest for that date first (it returns the keys)`,
    );
  }
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (!isRawBodyKey(key)) {
      throw new TransformError(
        `${key} is not a raw body key; pass the body keys ingest returned (<prefix>/<request-id>.json), not manifests`,
      );
    }
    if (i > 0 && keys[i - 1] === key)
      throw new TransformError(`${key} is listed twice; each raw body must be transformed once`);
  }
  const wanted = DATASETS.filter((d) => variablesInSettings(settings, d).length > 0);
  const frames = new Map<string, DayFrame>(dayFrames(settings.timezone, first, last).map((f) => [f.date, f]));
  const run = startRun(deps.parquet, settings.columnNames);
  /** Per dataset and date: the locations written, the sources and the raw keys. */
  const written = new Map<string, { names: Set<string>; sources: Set<string>; keys: Set<string>; empty: string[] }>();
  const slot = (dataset: Dataset, date: string) => {
    const id = `${dataset}/${date}`;
    let entry = written.get(id);
    if (!entry) {
      entry = { names: new Set(), sources: new Set(), keys: new Set(), empty: [] };
      written.set(id, entry);
    }
    return entry;
  };

  for (const key of keys) {
    const manifest = await readRequestManifest(rawStore, key);
    const served = servedDates(manifest);
    if (!options.clipToRange && (served.from < first || served.to > last)) {
      throw new TransformError(
        `${key}: its manifest is for ${served.from === served.to ? served.from : `${served.from} to ${served.to}`}, not ${what}; pass the keys ingest returned for ${what}`,
      );
    }
    for (const dataset of wanted) {
      const requested = dataset === "weather_hourly" ? manifest.hourlyVariables : manifest.dailyVariables;
      const missing = variablesInSettings(settings, dataset).filter((v) => !requested.includes(v));
      if (missing.length > 0) {
        throw new TransformError(
          `${key}: ${BLOCK_OF[dataset]} variable(s) ${missing.join(", ")} are in the settings but were not requested ` +
            `for this body; re-run ingest for ${what} so the raw data holds them`,
        );
      }
    }
    const expect = {
      hourly: manifest.hourlyVariables,
      daily: manifest.dailyVariables,
      locations: manifest.locations.length,
    };
    const dates: DayFrame[] = [];
    const from = served.from < first ? first : served.from;
    const to = served.to > last ? last : served.to;
    for (let date = from; date <= to; date = addDays(date, 1)) dates.push(frames.get(date) as DayFrame);
    await scanOpenMeteoStream(await rawStore.getObjectStream(key), key, expect, (location) => {
      const name = (manifest.locations[location.index] as { name: string }).name;
      for (const frame of dates) {
        if (location.utcOffsetSeconds !== frame.offsetSeconds) {
          throw new TransformError(
            `${key}: location ${location.index + 1} (${name}) has utc_offset_seconds ${location.utcOffsetSeconds}, but ` +
              `${frame.date} starts at UTC offset ${frame.offsetSeconds} s in ${settings.timezone}: Open-Meteo applies the ` +
              "offset valid at request time to a whole range (open-meteo issues 261, 488, 1764), so its hours and daily " +
              `aggregates of ${frame.date} are shifted; ingest ${frame.date} again (requests now name the fixed-offset zone ${frame.requestTimezone})`,
          );
        }
      }
      for (const dataset of wanted) {
        for (const frame of dates) {
          const entry = slot(dataset, frame.date);
          if (entry.names.has(name)) {
            throw new TransformError(
              `${key}: location ${JSON.stringify(name)} appears twice among the raw bodies of ${frame.date}; location names must be unique`,
            );
          }
          entry.names.add(name);
          entry.sources.add(sourceDescription(manifest));
          entry.keys.add(key);
        }
        const empty = appendLocationDays(
          run,
          dataset,
          variablesInSettings(settings, dataset),
          location,
          name,
          key,
          dates,
        );
        for (const date of empty) slot(dataset, date).empty.push(name);
      }
    });
  }

  // Everything parsed: only now is anything written.
  const outputs: { dataset: Dataset; date: string; sink: DatasetSink; writer: DatasetParquetWriter }[] = [];
  for (const dataset of wanted) {
    let names: Set<string> | undefined;
    let namesDate = "";
    for (const date of frames.keys()) {
      const sink = run.sinks.get(dataset);
      const writer = sink?.writers.get(dayOfIsoDate(date));
      if (!sink || !writer || writer.rowCount === 0) {
        const seen =
          sink && Number.isFinite(sink.firstDay)
            ? `; they hold ${isoDateOfDay(sink.firstDay)} to ${isoDateOfDay(sink.lastDay)}`
            : "";
        throw new TransformError(
          `none of the ${keys.length} raw bodies has ${dataset} rows for ${date}${seen} ` +
            `(keys ${keys[0]} … ${keys[keys.length - 1]}); check the date and the keys`,
        );
      }
      const entry = written.get(`${dataset}/${date}`) as { names: Set<string>; empty: string[] };
      if (entry.empty.length > 0) {
        throw new TransformError(
          `${dataset}: the raw bodies hold no rows of ${date} for ${entry.empty.slice(0, 5).join(", ")}` +
            `${entry.empty.length > 5 ? `, … (${entry.empty.length})` : ""}; ingest ${date} again`,
        );
      }
      if (names && (names.size !== entry.names.size || [...names].some((n) => !entry.names.has(n)))) {
        throw new TransformError(
          `${dataset}: the raw bodies hold ${entry.names.size} location(s) for ${date} but ${names.size} for ${namesDate}; ` +
            `a window's keys must cover every location on every date; pass all the keys ingest returned for ${what}`,
        );
      }
      names = entry.names;
      namesDate = date;
      outputs.push({ dataset, date, sink, writer });
    }
  }
  const files: CuratedFile[] = [];
  const provenance = {
    [WRITTEN_AT_METADATA]: (deps.now ?? (() => new Date()))().toISOString(),
    ...(deps.writtenBy === undefined ? {} : { [WRITTEN_BY_METADATA]: deps.writtenBy }),
  };
  for (const { dataset, date, sink, writer } of outputs) {
    const entry = written.get(`${dataset}/${date}`) as { sources: Set<string>; keys: Set<string> };
    files.push(
      await putCuratedFile(curatedStore, dataset, date, writer, sink, [...entry.sources].sort(), {
        ...provenance,
        ...sourceKeysMetadata([...entry.keys]),
      }),
    );
  }
  return { date: first, ...(last !== first ? { lastDate: last } : {}), files, rawObjects: keys.length };
}

/** The dates a raw body serves, from its manifest. */
function servedDates(manifest: RequestManifest): { from: string; to: string } {
  const to = manifest.lastDate ?? manifest.date;
  assertIsoDate(manifest.date, "the manifest's date");
  assertIsoDate(to, "the manifest's lastDate");
  return { from: manifest.date, to };
}

/** The raw keys a curated object came from, as S3 user metadata (a count and hash when too many). */
function sourceKeysMetadata(keys: readonly string[]): Record<string, string> {
  const sorted = [...keys].sort();
  const list = JSON.stringify(sorted);
  if (list.length <= SOURCE_KEYS_METADATA_LIMIT && /^[\x20-\x7e]*$/.test(list)) return { "source-keys": list };
  return {
    "source-key-count": String(sorted.length),
    "source-keys-first": sorted[0] ?? "",
    "source-keys-sha256": createHash("sha256").update(sorted.join("\n")).digest("hex"),
  };
}

/**
 * Appends one location's rows of one dataset to the files of `dates`: the hourly rows whose
 * instants fall in each date's local day (all of them, checked), the daily row labelled with it.
 * Returns the dates the body holds no rows of at all.
 */
function appendLocationDays(
  run: Run,
  dataset: Dataset,
  variables: readonly string[],
  location: ScannedLocation,
  name: string,
  source: string,
  dates: readonly DayFrame[],
): string[] {
  const block = blockOf(location, dataset);
  const where = `${source}: ${BLOCK_OF[dataset]} of location ${location.index + 1} (${name})`;
  if (!block) throw new TransformError(`${where} is missing; the request asked for it`);
  const sink = sinkOf(run, dataset, variables);
  const sources = variables.map((v) => block.variables.indexOf(v));
  if (sources.includes(-1)) throw new TransformError(`${where} lacks one of ${variables.join(", ")}`);
  recordUnits(sink, block, sources, where);
  const fixed: ColumnSlice[] = [
    { constant: name },
    { constant: location.latitude },
    { constant: location.longitude },
    { constant: location.elevation },
  ];
  const n = block.utcMillis.length;
  const days = block.localDays;
  if (days.length > 0) {
    sink.firstDay = Math.min(sink.firstDay, days[0] as number);
    sink.lastDay = Math.max(sink.lastDay, days[days.length - 1] as number);
  }
  const missing: string[] = [];
  for (const frame of dates) {
    let start: number;
    let count: number;
    if (dataset === "weather_hourly") {
      start = lowerBound(block.utcMillis, frame.startMs);
      let end = start;
      while (end < n && (block.utcMillis[end] as number) < frame.endMs) end++;
      count = end - start;
      const hours = Math.round((frame.endMs - frame.startMs) / 3_600_000);
      const aligned = count === 0 || (block.utcMillis[start] as number) === frame.startMs;
      // No rows at all: a body of other dates, reported for the whole run once all are read.
      if (count === 0) {
        missing.push(frame.date);
        continue;
      }
      if (count !== hours || !aligned) {
        throw new TransformError(
          `${where} has ${count} hourly row(s) in ${frame.date}, whose local day in the stack's time zone runs from ` +
            `${new Date(frame.startMs).toISOString()} for ${hours} hours; the body must hold each of them ` +
            "(the request's dates or time zone do not match the date; ingest it again)",
        );
      }
    } else {
      const day = dayOfIsoDate(frame.date);
      start = block.localDays.indexOf(day);
      count = start < 0 ? 0 : 1;
      if (count === 0) {
        missing.push(frame.date);
        continue;
      }
    }
    const day = dayOfIsoDate(frame.date);
    let writer = sink.writers.get(day);
    if (!writer) {
      writer = new DatasetParquetWriter(sink.schema, run.options);
      sink.writers.set(day, writer);
    }
    const columns: ColumnSlice[] = [...fixed];
    if (dataset === "weather_hourly") columns.push({ doubles: block.utcMillis, offset: start });
    for (const i of sources) columns.push({ doubles: block.values[i] as Float64Array, offset: start });
    writer.appendRows(count, columns);
  }
  return missing;
}

/** The first index whose value is at least `value` in an ascending array. */
function lowerBound(values: Float64Array, value: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((values[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Converts saved responses (single object or array, no manifest) into the curated layout for
 * every date they contain: one file per dataset and local date, written to `curatedStore`.
 *
 * Each dataset's columns are the variables of the first location holding that block; every
 * other location must hold the same ones. Location names, having no manifest, are
 * `"<latitude>,<longitude>"` of the body (the grid cell Open-Meteo answered for, e.g.
 * "52.52,13.419998"), followed by `#<location_id>` when the body carries one (the 2nd and later
 * coordinates of a multi-location request, e.g. "41,2#1"), so they are deterministic and unique
 * within one response. Rows are in file order, then body order, then time. Files are returned
 * hourly first, then daily, each by date.
 *
 * Bodies are read a location at a time, and rows wait on disk (in `spillDirectory`, by default
 * the system's temporary folder) for their row group, so memory stays bounded however many
 * locations and days the bodies hold while each day is still one row group (`npm run bench`
 * measures it).
 */
export async function transformResponseFiles(
  files: readonly ResponseFile[],
  curatedStore: ObjectStore,
  options: ResponseFileOptions = {},
): Promise<CuratedFile[]> {
  if (files.length === 0)
    throw new TransformError("no response files to transform; pass one or more saved Open-Meteo responses");
  const { spillDirectory, ...parquet } = options;
  const spill = new RowGroupSpill(spillDirectory);
  try {
    return await convertResponseFiles(files, curatedStore, startRun({ ...parquet, spill }));
  } finally {
    spill.close();
  }
}

async function convertResponseFiles(
  files: readonly ResponseFile[],
  curatedStore: ObjectStore,
  run: Run,
): Promise<CuratedFile[]> {
  const expect = { hourly: "all", daily: "all" } as const;
  for (const file of files) {
    const addLocation = (location: ScannedLocation): void => {
      const name = fallbackLocationName(location);
      for (const dataset of DATASETS) {
        const block = blockOf(location, dataset);
        if (!block) continue;
        const variables = run.sinks.get(dataset)?.schema.variables ?? block.variables;
        if (block.variables.length !== variables.length || !variables.every((v) => block.variables.includes(v))) {
          // Extra variables would be dropped silently, missing ones would be a column of guesses.
          throw new TransformError(
            `${file.name}: ${BLOCK_OF[dataset]} of location ${location.index + 1} (${name}) has variables ` +
              `${block.variables.join(", ")}, but the ${dataset} files have ${variables.join(", ")}; one file per ` +
              "dataset and date holds one set of columns: transform such responses separately",
          );
        }
        appendLocation(run, dataset, variables, location, name, file.name, () => true);
      }
    };
    const body = typeof file.body === "string" ? [new TextEncoder().encode(file.body)] : file.body;
    await scanOpenMeteoStream(body instanceof Uint8Array ? [body] : body, file.name, expect, addLocation);
  }
  const outputs = DATASETS.flatMap((dataset) => {
    const sink = run.sinks.get(dataset);
    if (!sink) return [];
    return [...sink.writers.entries()].sort(([a], [b]) => a - b).map(([day, writer]) => ({ sink, day, writer }));
  });
  if (outputs.length === 0) {
    throw new TransformError(`${files.map((f) => f.name).join(", ")}: no hourly or daily block to transform`);
  }
  const sources = files.map((f) => f.name);
  // A few puts in flight: each file is small, and one at a time the run would wait on the store.
  // After a failure nothing new starts, as when they went one by one.
  const written: CuratedFile[] = new Array<CuratedFile>(outputs.length);
  let next = 0;
  let failed = false;
  const putNext = async (): Promise<void> => {
    while (!failed && next < outputs.length) {
      const i = next++;
      const { sink, day, writer } = outputs[i] as (typeof outputs)[number];
      try {
        written[i] = await putCuratedFile(curatedStore, sink.dataset, isoDateOfDay(day), writer, sink, sources);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_PUTS, outputs.length) }, putNext));
  return written;
}

/** The location name transformResponseFiles gives a body element without a manifest. */
export function fallbackLocationName(location: Pick<ScannedLocation, "latitude" | "longitude" | "locationId">): string {
  const name = `${location.latitude},${location.longitude}`;
  return location.locationId === undefined ? name : `${name}#${location.locationId}`;
}

/** One dataset being converted: its schema, units seen, and one writer per local day. */
interface DatasetSink {
  readonly dataset: Dataset;
  readonly schema: DatasetSchema;
  /** Per variable: the unit, and whether it came from a location with values (not all null). */
  readonly units: Map<string, { unit: string; fromValues: boolean }>;
  readonly writers: Map<number, DatasetParquetWriter>;
  firstDay: number;
  lastDay: number;
}

interface Run {
  readonly options: ParquetFileOptions;
  readonly sinks: Map<Dataset, DatasetSink>;
  /** The stack's `columnNames` (variable -> column), applied to every file of the run. */
  readonly columnNames: ColumnNames;
}

function startRun(options: ParquetFileOptions = {}, columnNames: ColumnNames = {}): Run {
  return { options, sinks: new Map(), columnNames };
}

function variablesInSettings(settings: PipelineSettings, dataset: Dataset): readonly string[] {
  return dataset === "weather_hourly" ? settings.hourlyVariables : settings.dailyVariables;
}

function blockOf(location: ScannedLocation, dataset: Dataset): ScannedBlock | undefined {
  return dataset === "weather_hourly" ? location.hourly : location.daily;
}

/** The sink of a dataset in a run, created on first use with these variables as columns. */
function sinkOf(run: Run, dataset: Dataset, variables: readonly string[]): DatasetSink {
  let sink = run.sinks.get(dataset);
  if (!sink) {
    sink = {
      dataset,
      schema: datasetSchema(dataset, variables, {}, run.columnNames),
      units: new Map(),
      writers: new Map(),
      firstDay: Infinity,
      lastDay: -Infinity,
    };
    run.sinks.set(dataset, sink);
  }
  return sink;
}

/** Appends one location's rows of one dataset, day by day, to the writers of the days kept. */
function appendLocation(
  run: Run,
  dataset: Dataset,
  variables: readonly string[],
  location: ScannedLocation,
  name: string,
  source: string,
  keepDay: (day: number) => boolean,
): void {
  const block = blockOf(location, dataset);
  if (!block) return;
  const sink = sinkOf(run, dataset, variables);
  const where = `${source}: ${BLOCK_OF[dataset]} of location ${location.index + 1} (${name})`;
  // The parser has checked that the body holds every requested variable; callers request these.
  const sources = variables.map((v) => block.variables.indexOf(v));
  if (sources.includes(-1)) throw new TransformError(`${where} lacks one of ${variables.join(", ")}`);
  recordUnits(sink, block, sources, where);

  const days = block.localDays;
  const n = days.length;
  if (n > 0) {
    sink.firstDay = Math.min(sink.firstDay, days[0] as number);
    sink.lastDay = Math.max(sink.lastDay, days[n - 1] as number);
  }
  // One set of slices for all the location's days, moved along day by day: appendRows copies
  // what it keeps, and a year of 100 locations made 620,000 slice objects otherwise.
  const runs: { doubles: Float64Array; offset: number }[] = [
    ...(dataset === "weather_hourly" ? [block.utcMillis] : []),
    ...sources.map((i) => block.values[i] as Float64Array),
  ].map((doubles) => ({ doubles, offset: 0 }));
  const columns: ColumnSlice[] = [
    { constant: name },
    { constant: location.latitude },
    { constant: location.longitude },
    { constant: location.elevation },
    ...runs,
  ];
  // Times are strictly ascending with one offset, so each local day is one contiguous run.
  for (let start = 0; start < n;) {
    const day = days[start] as number;
    let end = start + 1;
    while (end < n && days[end] === day) end++;
    if (keepDay(day)) {
      let writer = sink.writers.get(day);
      if (!writer) {
        writer = new DatasetParquetWriter(sink.schema, run.options);
        sink.writers.set(day, writer);
      }
      for (const slice of runs) slice.offset = start;
      writer.appendRows(end - start, columns);
    }
    start = end;
  }
  limitBufferedRows(run);
}

/**
 * Checks a location's units against the declared column types and the units of the locations
 * before it: one file has one unit per column. An all-null variable (a model lacking it answers
 * with unit "undefined") says nothing about the unit and is not held against the others.
 */
function recordUnits(sink: DatasetSink, block: ScannedBlock, sources: readonly number[], where: string): void {
  sink.schema.variables.forEach((variable, k) => {
    const i = sources[k] as number;
    const unit = block.units[variable] as string;
    const hasValues = hasNonNull(block.values[i] as Float64Array);
    const isTime = TIME_UNITS.includes(unit);
    const column = sink.schema.columns.find((c) => c.isVariable && c.from === variable);
    if (hasValues && isTime !== (column?.glueType === "timestamp")) {
      throw new TransformError(
        `${where}: unit ${JSON.stringify(unit)} of ${variable} does not fit its declared ${column?.glueType} column; ` +
          "time-valued variables (pipeline/schema.ts TIME_VALUED_VARIABLES) need unit iso8601 or unixtime, all others a measurement unit",
      );
    }
    const known = sink.units.get(variable);
    // iso8601 and unixtime both become the same UTC timestamp, so they do not conflict.
    const same = known !== undefined && (known.unit === unit || (isTime && TIME_UNITS.includes(known.unit)));
    if (known === undefined || (!known.fromValues && hasValues)) {
      sink.units.set(variable, { unit, fromValues: hasValues });
    } else if (!same && known.fromValues && hasValues) {
      throw new TransformError(
        `${where}: ${variable} is in ${JSON.stringify(unit)}, but earlier locations are in ${JSON.stringify(known.unit)}; ` +
          "one file holds one unit per column: request every location with the same unit parameters",
      );
    }
  });
}

/** Whether scanned values hold anything but nulls (NaN). */
function hasNonNull(values: Float64Array): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isNaN(values[i])) return true;
  return false;
}

/**
 * Keeps the rows buffered across all open files bounded (transformResponseFiles may have one
 * file per day open): when the total passes one row group, the fullest buffers are released
 * (moved to the spill, or written as row groups).
 */
function limitBufferedRows(run: Run): void {
  const limit = run.options.rowGroupRows ?? DEFAULT_ROW_GROUP_ROWS;
  const writers = [...run.sinks.values()].flatMap((s) => [...s.writers.values()]);
  let total = writers.reduce((sum, w) => sum + w.bufferedRows, 0);
  if (total <= limit) return;
  writers.sort((a, b) => b.bufferedRows - a.bufferedRows);
  for (const writer of writers) {
    if (total <= limit / 2) break;
    total -= writer.bufferedRows;
    writer.releaseBufferedRows();
  }
}

async function putCuratedFile(
  store: ObjectStore,
  dataset: Dataset,
  date: string,
  writer: DatasetParquetWriter,
  sink: DatasetSink,
  sources: readonly string[],
  metadata?: Readonly<Record<string, string>>,
): Promise<CuratedFile> {
  // Keyed by column: a renamed variable's unit annotates its column (columnNames).
  const units: Record<string, string> = {};
  for (const column of sink.schema.columns) {
    const known = column.isVariable ? sink.units.get(column.from) : undefined;
    if (known) units[column.name] = known.unit;
  }
  const rows = writer.rowCount;
  const body = writer.finish({ sources, units });
  const key = curatedObjectKey(dataset, date);
  await store.putObject(key, body, { contentType: PARQUET_CONTENT_TYPE, ...(metadata ? { metadata } : {}) });
  return { dataset, key, rows, bytes: body.byteLength };
}

/** Reads and checks the request manifest stored beside a raw body. */
export async function readRequestManifest(store: ObjectStore, bodyKey: string): Promise<RequestManifest> {
  const key = requestManifestKey(bodyKey);
  let bytes: Uint8Array;
  try {
    bytes = (await store.getObject(key)).body;
  } catch (error) {
    // Matched by name: importing ObjectNotFoundError would pull the S3 SDK into this module.
    if (error instanceof Error && error.name === "ObjectNotFoundError") {
      // On AWS a missing key can answer AccessDenied (see ObjectNotFoundError): say both.
      const denied = (error as { accessDenied?: unknown }).accessDenied === true;
      throw new TransformError(
        denied
          ? `${bodyKey}: its request manifest ${key} does not exist or may not be read (S3 answered AccessDenied, ` +
              `as it does for a missing key when the reader may not list the bucket); ingest writes one beside ` +
              `every body, so re-run ingest for that date; if the manifest is there, give the transform role ` +
              `s3:GetObject on it`
          : `${bodyKey}: its request manifest ${key} does not exist; ingest writes one beside every body, so re-run ingest for that date`,
        { cause: error },
      );
    }
    throw error;
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new TransformError(
      `${key}: not valid JSON (${error instanceof Error ? error.message : String(error)}); re-run ingest for that date`,
      { cause: error },
    );
  }
  const m = (manifest ?? {}) as Partial<Record<keyof RequestManifest, unknown>>;
  const strings = (value: unknown): boolean => Array.isArray(value) && value.every((v) => typeof v === "string");
  const problem =
    m.version !== 1
      ? `version is ${JSON.stringify(m.version)}; this transform reads version 1`
      : typeof m.date !== "string"
        ? `date is ${JSON.stringify(m.date)}; expected "YYYY-MM-DD"`
        : !Array.isArray(m.locations) || !m.locations.every((l) => typeof (l as { name?: unknown })?.name === "string")
          ? "locations must be a list of {name, latitude, longitude}"
          : !strings(m.hourlyVariables) || !strings(m.dailyVariables)
            ? "hourlyVariables and dailyVariables must be lists of variable names"
            : undefined;
  if (problem) throw new TransformError(`${key}: ${problem}; is it a request manifest written by ingest?`);
  return manifest as RequestManifest;
}
