/**
 * Compaction of one month of the curated datasets.
 *
 * What it can mean here: each `date=YYYY-MM-DD/` prefix is one partition, and with partition
 * projection Athena reads only the prefixes of the dates a query asks for. Rows of several dates
 * in one file would be read for the wrong date or not at all, so the fewest files that keep query
 * results unchanged is ONE file per dataset per date. The daily run already writes exactly that
 * (`<dataset>/date=D/<dataset>_D.parquet`); extra files in a partition come from outside it: a
 * backfill that wrote a date in batches, an Athena INSERT INTO, a copy. Compaction merges each
 * such partition of the month into its one canonical file, rows sorted by location then time, in
 * row groups of up to DEFAULT_ROW_GROUP_ROWS rows, and leaves other months alone.
 *
 * Never lose data, never show half a file: the merged file is written with one whole-object put
 * (the canonical key; when it was one of the inputs, the put replaces it with a superset), and
 * the other inputs are deleted only after that put succeeded. Until they are, a reader sees
 * their rows twice; a crash in that window is finished by the next run, which must not merge
 * them again. So the merged object carries, in its object metadata, the SHA-256 (first 16 hex)
 * of every input and of itself: a later run that finds the object unchanged deletes the leftover
 * inputs whose bytes it already holds, and merges any other file. A partition that is already
 * one canonical file with full row groups is not rewritten, so a second run changes nothing.
 *
 * Compaction does not remove duplicate rows: it keeps every row the partition's files hold,
 * so queries return what they returned before.
 */
import { createHash } from "node:crypto";
import { parquetMetadata, parquetReadObjects, type FileMetaData, type SchemaElement } from "hyparquet";
import { addDays } from "../core/dates";
import { DATASETS, curatedObjectKey, type Dataset } from "../core/keys";
import {
  DEFAULT_ROW_GROUP_ROWS,
  DatasetParquetWriter,
  SOURCE_METADATA_KEY,
  UNITS_METADATA_KEY,
  PARQUET_CONTENT_TYPE,
} from "../transform";
import { datasetSchema, PARTITION_COLUMN, TIME_UNITS, type DatasetSchema } from "../core/schema";
import type { ObjectStore } from "../core/storage";

/** Object metadata of a merged file: SHA-256 prefixes of the inputs it holds, comma-separated. */
export const COMPACTED_FROM_METADATA = "compacted-from";
/** Object metadata of a merged file: the SHA-256 prefix of its own bytes, to know it is unchanged. */
export const COMPACTED_SHA256_METADATA = "compacted-sha256";
/**
 * Inputs merged by one put. S3 allows 2 KB of user metadata and each input takes 17 bytes of
 * it; a partition with more files is merged in several puts, each a complete, valid state.
 */
export const MAX_INPUTS_PER_PUT = 100;

/** What compactMonth works on. */
export interface CompactOptions {
  /** The month, YYYY-MM. */
  readonly month: string;
  /**
   * Today in the stack's time zone. A month is compacted only once the daily run is done with
   * it (its last day before yesterday): a put racing the run's put of the same key could
   * replace the newer file with an older merge.
   */
  readonly today: string;
  /** The stack's variables: merged files list them first, in this order, then any others the files hold. */
  readonly hourlyVariables?: readonly string[];
  readonly dailyVariables?: readonly string[];
  /** Rows per row group of merged files; default DEFAULT_ROW_GROUP_ROWS. */
  readonly rowGroupRows?: number;
}

/** What happened to one date partition. */
export interface PartitionCompaction {
  readonly dataset: Dataset;
  readonly date: string;
  /** The partition's one file afterwards. */
  readonly key: string;
  /** Files merged into `key` by this run (`key` itself included when it was one), empty when nothing was rewritten. */
  readonly merged: readonly string[];
  /** Files deleted, after their rows were in `key`. */
  readonly deleted: readonly string[];
  readonly rows: number;
  readonly rowGroups: number;
  readonly bytes: number;
}

/** What compactMonth did. */
export interface CompactionResult {
  readonly month: string;
  /** Every partition of the month that has Parquet files, by dataset then date. */
  readonly partitions: readonly PartitionCompaction[];
  /** Objects under the month's partitions that are not Parquet files directly in a partition, left as they are. */
  readonly ignored: readonly string[];
}

/** Rewrites each date partition of `month` in `store` into its one canonical Parquet file; see the module comment. */
export async function compactMonth(store: ObjectStore, options: CompactOptions): Promise<CompactionResult> {
  const lastDay = lastDayOfMonth(options.month);
  const lastAllowed = addDays(options.today, -2);
  if (lastDay > lastAllowed) {
    throw new Error(
      `--month ${options.month} is not over for the daily run (today is ${options.today} in the stack's time zone, ` +
        `and the run still writes ${options.month} dates until the day after ${lastDay}); compacting now could ` +
        `replace a file the run just wrote with an older merge: compact ${options.month} from ${addDays(lastDay, 2)} on`,
    );
  }
  const rowGroupRows = options.rowGroupRows ?? DEFAULT_ROW_GROUP_ROWS;
  const partitions: PartitionCompaction[] = [];
  const ignored: string[] = [];
  for (const dataset of DATASETS) {
    const keysByDate = new Map<string, string[]>();
    const pattern = new RegExp(`^${dataset}/${PARTITION_COLUMN}=(\\d{4}-\\d{2}-\\d{2})/[^/]+\\.parquet$`);
    for (const key of await store.listKeys(`${dataset}/${PARTITION_COLUMN}=${options.month}-`)) {
      const date = pattern.exec(key)?.[1];
      if (date === undefined) ignored.push(key);
      else keysByDate.set(date, [...(keysByDate.get(date) ?? []), key]);
    }
    const preferred = (dataset === "weather_hourly" ? options.hourlyVariables : options.dailyVariables) ?? [];
    for (const [date, keys] of [...keysByDate.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      partitions.push(await compactPartition(store, dataset, date, keys, preferred, rowGroupRows));
    }
  }
  return { month: options.month, partitions, ignored };
}

/** The last calendar date of a YYYY-MM month; throws on anything else. */
export function lastDayOfMonth(month: string): string {
  const match = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(month);
  if (!match) throw new Error(`--month is ${JSON.stringify(month)}; write it YYYY-MM, e.g. 2026-10`);
  // Day 0 of the next month is the last day of this one.
  return new Date(Date.UTC(Number(match[1]), Number(match[2]), 0)).toISOString().slice(0, 10);
}

/** One stored input of a merge. */
interface InputFile {
  readonly key: string;
  readonly body: Uint8Array;
}

async function compactPartition(
  store: ObjectStore,
  dataset: Dataset,
  date: string,
  keys: readonly string[],
  preferred: readonly string[],
  rowGroupRows: number,
): Promise<PartitionCompaction> {
  const target = curatedObjectKey(dataset, date);
  const bodies = new Map<string, Uint8Array>();
  const bodyOf = async (key: string): Promise<Uint8Array> => {
    const cached = bodies.get(key);
    if (cached) return cached;
    const { body } = await store.getObject(key);
    bodies.set(key, body);
    return body;
  };
  const merged: string[] = [];
  const deleted: string[] = [];
  let remaining = [...keys];

  // Finish a compaction that stopped between its put and its deletes.
  if (remaining.includes(target)) {
    const stored = await store.getObject(target);
    bodies.set(target, stored.body);
    const held = mergedInputHashes(stored.body, stored.metadata);
    for (const key of remaining) {
      if (key !== target && held.has(shortHash(await bodyOf(key)))) {
        await store.deleteObject(key);
        deleted.push(key);
      }
    }
    remaining = remaining.filter((key) => !deleted.includes(key));
  }

  while (!(remaining.length === 1 && remaining[0] === target && hasFullRowGroups(await bodyOf(target), rowGroupRows))) {
    // The canonical file first, so its rows keep their place among equal sort keys.
    const ordered = [...remaining].sort((a, b) => Number(b === target) - Number(a === target));
    const inputs: InputFile[] = [];
    for (const key of ordered.slice(0, MAX_INPUTS_PER_PUT)) inputs.push({ key, body: await bodyOf(key) });
    const body = await mergeCuratedFiles(dataset, date, inputs, preferred, rowGroupRows);
    await store.putObject(target, body, {
      contentType: PARQUET_CONTENT_TYPE,
      metadata: {
        [COMPACTED_FROM_METADATA]: inputs.map((input) => shortHash(input.body)).join(","),
        [COMPACTED_SHA256_METADATA]: shortHash(body),
      },
    });
    bodies.set(target, body);
    // Only now, with every row in the target, may the other inputs go.
    for (const { key } of inputs) {
      if (key === target) continue;
      await store.deleteObject(key);
      deleted.push(key);
    }
    merged.push(...inputs.map((input) => input.key).filter((key) => !merged.includes(key)));
    remaining = [target, ...remaining.filter((key) => !inputs.some((input) => input.key === key))];
  }

  const body = await bodyOf(target);
  const metadata = parquetMetadata(arrayBufferOf(body));
  return {
    dataset,
    date,
    key: target,
    merged,
    deleted,
    rows: Number(metadata.num_rows),
    rowGroups: metadata.row_groups.length,
    bytes: body.byteLength,
  };
}

/** The inputs a merged file holds, when its metadata says so and its bytes are still the merge's. */
function mergedInputHashes(body: Uint8Array, metadata: Readonly<Record<string, string>>): Set<string> {
  const from = metadata[COMPACTED_FROM_METADATA];
  // A transform re-run replaces the object: then its metadata (if any survived) describes other bytes.
  if (from === undefined || metadata[COMPACTED_SHA256_METADATA] !== shortHash(body)) return new Set();
  return new Set(from.split(","));
}

/** True when a file's rows are in as few row groups as rowGroupRows allows. */
function hasFullRowGroups(body: Uint8Array, rowGroupRows: number): boolean {
  const metadata = parquetMetadata(arrayBufferOf(body));
  return metadata.row_groups.length <= Math.max(1, Math.ceil(Number(metadata.num_rows) / rowGroupRows));
}

/**
 * Merges Parquet files of one dataset and date into one file with the dataset's declared schema:
 * every row of every input, sorted by location then time (stably, so equal rows keep their input
 * order), columns of the union of the inputs' variables (null where an input lacks one, as
 * Athena reads it), units and sources from the inputs' metadata.
 */
async function mergeCuratedFiles(
  dataset: Dataset,
  date: string,
  inputs: readonly InputFile[],
  preferredVariables: readonly string[],
  rowGroupRows: number,
): Promise<Uint8Array> {
  const where = `${dataset}/${PARTITION_COLUMN}=${date}`;
  const files = inputs.map((input) => ({ ...input, metadata: parquetMetadata(arrayBufferOf(input.body)) }));
  const fixed = datasetSchema(dataset, []).columns.map((c) => c.name);
  const found: string[] = [];
  for (const file of files) {
    const names = file.metadata.schema.slice(1).map((element) => element.name);
    const missing = fixed.filter((name) => !names.includes(name));
    if (missing.length > 0) {
      throw new Error(
        `${file.key} lacks the ${dataset} column(s) ${missing.join(", ")}, so it is not a ${dataset} file; ` +
          `move it out of ${where}/ and compact again`,
      );
    }
    for (const name of names) if (!fixed.includes(name) && !found.includes(name)) found.push(name);
  }
  const variables = [
    ...preferredVariables.filter((v) => found.includes(v)),
    ...found.filter((v) => !preferredVariables.includes(v)),
  ];
  const schema = datasetSchema(dataset, variables);
  for (const file of files) assertDeclaredTypes(file.key, file.metadata, schema, where);

  const units = mergeUnits(files, schema, where);
  const sources: string[] = [];
  for (const file of files) {
    for (const source of jsonArray(keyValue(file.metadata, SOURCE_METADATA_KEY))) {
      if (!sources.includes(source)) sources.push(source);
    }
  }

  // hyparquet decodes a whole (small) day file at once; the result is sorted before writing.
  const rows: Record<string, unknown>[] = [];
  for (const file of files) rows.push(...(await parquetReadObjects({ file: arrayBufferOf(file.body) })));
  return writeSortedRows(schema, rows, { sources, units }, rowGroupRows);
}

function writeSortedRows(
  schema: DatasetSchema,
  rows: Record<string, unknown>[],
  metadata: { sources: readonly string[]; units: Record<string, string> },
  rowGroupRows: number,
): Uint8Array {
  const time = (row: Record<string, unknown>): number => (row["time"] instanceof Date ? row["time"].getTime() : 0);
  const sorted = rows
    .map((row, i) => ({ row, i }))
    .sort((a, b) => {
      const la = a.row["location"] as string;
      const lb = b.row["location"] as string;
      if (la !== lb) return la < lb ? -1 : 1;
      return time(a.row) - time(b.row) || a.i - b.i;
    })
    .map(({ row }) => row);
  const columns = schema.columns.map((column) =>
    sorted.map((row) => {
      const value = row[column.name];
      // A column an input lacks reads as null, as Athena returns it for that file.
      return value instanceof Date ? value.getTime() : (value ?? null);
    }),
  );
  const writer = new DatasetParquetWriter(schema, { rowGroupRows });
  // One row group's worth at a time: the writer flushes whatever it holds, so one big append
  // would become one oversized row group.
  for (let offset = 0; offset < sorted.length; offset += rowGroupRows) {
    const rows = Math.min(rowGroupRows, sorted.length - offset);
    writer.appendRows(
      rows,
      columns.map((values) => ({ values, offset })),
    );
  }
  return writer.finish(metadata);
}

/** Throws unless every column of a file has the Parquet type the schema declares for it. */
function assertDeclaredTypes(key: string, metadata: FileMetaData, schema: DatasetSchema, where: string): void {
  for (const element of metadata.schema.slice(1)) {
    const column = schema.columns.find((c) => c.name === element.name);
    if (!column) continue;
    const found = describeType(element);
    const declared = describeType(column.parquet);
    if (found !== declared) {
      throw new Error(
        `${key}: column ${element.name} is ${found}, but pipeline/schema.ts declares ${declared} (the Glue table's ` +
          `${column.glueType}); rewrite that file with the pipeline's transform, or move it out of ${where}/`,
      );
    }
  }
}

/** A column's type as compared between files: physical type plus the logical type that changes meaning. */
function describeType(element: SchemaElement): string {
  const logical = element.logical_type;
  if (logical?.type === "TIMESTAMP") {
    return `TIMESTAMP(${logical.unit}, ${logical.isAdjustedToUTC ? "UTC" : "local"})`;
  }
  if (logical?.type === "STRING" || element.converted_type === "UTF8") return "STRING";
  if (element.converted_type === "TIMESTAMP_MILLIS") return "TIMESTAMP(MILLIS, UTC)";
  return element.type ?? "a group";
}

/** One unit per variable across the inputs; a variable's unit is kept from the first file that has it. */
function mergeUnits(
  files: readonly { key: string; metadata: FileMetaData }[],
  schema: DatasetSchema,
  where: string,
): Record<string, string> {
  const units: Record<string, string> = {};
  const from: Record<string, string> = {};
  for (const file of files) {
    const fileUnits = jsonObject(keyValue(file.metadata, UNITS_METADATA_KEY));
    for (const variable of schema.variables) {
      const unit = fileUnits[variable];
      const known = units[variable];
      if (unit === undefined) continue;
      if (known === undefined) {
        units[variable] = unit;
        from[variable] = file.key;
      } else if (known !== unit && !(TIME_UNITS.includes(known) && TIME_UNITS.includes(unit))) {
        throw new Error(
          `${where}: ${from[variable]} has ${variable} in ${JSON.stringify(known)}, ${file.key} in ` +
            `${JSON.stringify(unit)}; one file holds one unit per column: re-run the transform for that date so ` +
            "all rows share a unit, then compact again",
        );
      }
    }
  }
  return units;
}

function keyValue(metadata: FileMetaData, key: string): string | undefined {
  return metadata.key_value_metadata?.find((entry) => entry.key === key)?.value;
}

function jsonArray(text: string | undefined): string[] {
  const value: unknown = text === undefined ? [] : JSON.parse(text);
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function jsonObject(text: string | undefined): Record<string, string> {
  const value: unknown = text === undefined ? {} : JSON.parse(text);
  return value !== null && typeof value === "object" ? (value as Record<string, string>) : {};
}

/** First 16 hex digits of the SHA-256 of some bytes: names a file's content in 17 bytes of metadata. */
function shortHash(body: Uint8Array): string {
  return createHash("sha256").update(body).digest("hex").slice(0, 16);
}

function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
