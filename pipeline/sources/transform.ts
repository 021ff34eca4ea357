/**
 * A stored version of a source's file into its curated table: parse, convert by the declared
 * mapping, then one Parquet file per date (in the source's time zone) under
 * `source_<name>/date=…/`.
 *
 * A published file is often a window (the last 24 hours, this month): a new version holds some
 * dates of the last one and not others. So each date's file is the union of what the table
 * already held for that date and the new rows, one row per key, the new version winning; dates
 * the new version does not hold keep their file. Rows come out sorted by the key.
 *
 * Rows that fail conversion are listed in a rejects file beside the raw object (JSON Lines: row,
 * line, column, field, value, reason). More than maxRejectedFraction of the rows fails the run
 * with nothing curated written; the raw object stays, and the next run transforms it again
 * (fetch sees it was never transformed), e.g. after the mapping is fixed.
 */
import { createHash } from "node:crypto";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import type { TableSchema } from "../core/schema";
import type { ObjectStore } from "../core/storage";
import { DatasetParquetWriter, PARQUET_CONTENT_TYPE, WRITTEN_AT_METADATA, WRITTEN_BY_METADATA } from "../transform";
import type { ParquetFileOptions } from "../transform";
import { convertRecords, type Reject, type TypedRow, type TypedValue } from "./convert";
import { sourceTable, type SourceDefinition } from "./definition";
import { SourceError, SourceRejectsError } from "./errors";
import { sourceCuratedKey, sourceRejectsKey, sourceTransformedKey } from "./keys";
import { parseSourceFile } from "./parse";
import { sourceSchema } from "./schema";
import { createTimeReader } from "./time";

/** Parquet key-value metadata of a source's files. */
export const SOURCE_NAME_METADATA_KEY = "source.name";
export const SOURCE_URL_METADATA_KEY = "source.url";
/** The raw body keys whose rows the file holds, as a JSON array. */
export const SOURCE_RAW_METADATA_KEY = "source.raw";
export const SOURCE_UNITS_METADATA_KEY = "source.units";
export const SOURCE_ATTRIBUTION_METADATA_KEY = "source.attribution";

/** What to transform: a stored version of a source's file (what fetch returned). */
export interface SourceTransformInput {
  readonly source: string;
  readonly key: string;
  readonly sha256: string;
}

/** One curated file written. */
export interface SourceCuratedFile {
  readonly date: string;
  readonly key: string;
  /** Rows in the file (earlier rows of the date kept included). */
  readonly rows: number;
  /** Of those, rows from this version of the file. */
  readonly fromThisFile: number;
  readonly bytes: number;
}

/** What the transform wrote. */
export interface SourceTransformResult {
  readonly source: string;
  readonly key: string;
  readonly sha256: string;
  /** Data rows of the file. */
  readonly totalRows: number;
  readonly rejectedRows: number;
  /** The rejects file, when any row was rejected. */
  readonly rejectsKey?: string;
  readonly files: readonly SourceCuratedFile[];
  /** The dates of `files`, in order: what the warehouse's LoadSource loads. */
  readonly dates: readonly string[];
  readonly warnings: readonly string[];
}

/** What the record of the last successful transform holds (sources/<name>/transformed.json). */
export interface TransformedRecord {
  readonly version: 1;
  readonly source: string;
  readonly key: string;
  readonly sha256: string;
  readonly transformedAt: string;
  readonly dates: readonly string[];
  readonly rows: number;
  readonly rejectedRows: number;
}

/** What a source's transform works with. */
export interface SourceTransformDeps {
  readonly source: SourceDefinition;
  readonly rawStore: ObjectStore;
  readonly curatedStore: ObjectStore;
  readonly parquet?: Omit<ParquetFileOptions, "spill">;
  /** Who writes, in each curated object's written-by metadata; default none. */
  readonly writtenBy?: string;
  readonly now?: () => Date;
  /** Warnings (drift, rejects) go here; default console.log. */
  readonly log?: (line: string) => void;
}

function isNotFound(error: unknown): boolean {
  // By name: importing ObjectNotFoundError's module would pull the S3 SDK in.
  return error instanceof Error && error.name === "ObjectNotFoundError";
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** A value of an existing curated file as the table's type; undefined when it does not fit. */
function storedValue(value: unknown, glueType: string): TypedValue | undefined {
  if (value === null || value === undefined) return null;
  switch (glueType) {
    case "double":
      return typeof value === "number" ? value : typeof value === "bigint" ? Number(value) : undefined;
    case "bigint":
      if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : undefined;
      return typeof value === "number" && Number.isSafeInteger(value) ? value : undefined;
    case "string":
      return typeof value === "string" ? value : undefined;
    case "boolean":
      return typeof value === "boolean" ? value : undefined;
    case "timestamp":
      return value instanceof Date ? value.getTime() : typeof value === "bigint" ? Number(value) : undefined;
    default:
      return undefined;
  }
}

/** The rows of an existing file of the table, as typed rows; its raw keys from the metadata. */
async function readExisting(
  store: ObjectStore,
  key: string,
  schema: TableSchema,
  source: SourceDefinition,
): Promise<{ rows: TypedValue[][]; raw: string[] } | undefined> {
  let body: Uint8Array;
  try {
    body = (await store.getObject(key)).body;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  const file = toArrayBuffer(body);
  const metadata = parquetMetadata(file);
  const rawText = metadata.key_value_metadata?.find((e) => e.key === SOURCE_RAW_METADATA_KEY)?.value;
  const raw = rawText ? (JSON.parse(rawText) as string[]) : [];
  const objects = (await parquetReadObjects({ file })) as Record<string, unknown>[];
  const rows = objects.map((object) =>
    schema.columns.map((column) => {
      const value = storedValue(object[column.name], column.glueType);
      if (value === undefined) {
        throw new SourceError(
          `source ${source.name}: ${store.description}/${key} holds ${column.name} as ${typeof object[column.name]} ` +
            `(${String(object[column.name])}), but the mapping now declares it ${column.glueType}; a column's type cannot ` +
            `change under existing files: give the column a new name, or move the table's earlier files away and run again`,
          source.name,
        );
      }
      return value;
    }),
  );
  return { rows, raw };
}

function compareValues(a: TypedValue, b: TypedValue): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

/** Transforms one stored version of a source's file (see the module comment). */
export async function transformSource(
  input: SourceTransformInput,
  deps: SourceTransformDeps,
): Promise<SourceTransformResult> {
  const { source, rawStore, curatedStore } = deps;
  const log = deps.log ?? ((line: string) => console.log(line));
  const now = deps.now ?? (() => new Date());
  if (input.source !== source.name) {
    throw new SourceError(
      `the transform was given source ${input.source}, but is set up for ${source.name}`,
      source.name,
    );
  }
  let body: Uint8Array;
  try {
    body = (await rawStore.getObject(input.key)).body;
  } catch (error) {
    if (isNotFound(error)) {
      throw new SourceError(
        `source ${source.name}: ${rawStore.description}/${input.key} does not exist (expired, or never stored); ` +
          "run again: the fetch finds the stored file missing and stores it anew",
        source.name,
        { cause: error },
      );
    }
    throw error;
  }
  const sha256 = createHash("sha256").update(body).digest("hex");
  if (sha256 !== input.sha256) {
    throw new SourceError(
      `source ${source.name}: ${input.key} has SHA-256 ${sha256}, not ${input.sha256} as its fetch said; pass what the fetch returned`,
      source.name,
    );
  }

  const schema = sourceSchema(source);
  const converted = convertRecords(parseSourceFile(body, source), source, schema);
  for (const warning of converted.warnings) log(warning);

  let rejectsKey: string | undefined;
  if (converted.rejects.length > 0) {
    rejectsKey = sourceRejectsKey(input.key);
    await rawStore.putObject(rejectsKey, rejectsFile(converted.rejects), { contentType: "application/x-ndjson" });
  }
  const fraction = converted.totalRows === 0 ? 0 : converted.rejectedRows / converted.totalRows;
  if (rejectsKey !== undefined) {
    const summary = summarizeRejects(converted.rejects);
    if (fraction > source.maxRejectedFraction) {
      throw new SourceRejectsError(
        `source ${source.name}: ${converted.rejectedRows} of ${converted.totalRows} rows (${percent(fraction)}) failed conversion, ` +
          `more than maxRejectedFraction ${source.maxRejectedFraction} (${percent(source.maxRejectedFraction)}) allows; nothing was written to ` +
          `${sourceTable(source.name)}. First: ${summary}. Every one is in ${rawStore.description}/${rejectsKey}. ` +
          "Fix the mapping (types, decimal, time.format, nullValues) or raise maxRejectedFraction, then run again: the raw file is kept and is transformed again",
        source.name,
        rejectsKey,
      );
    }
    log(
      `source ${source.name}: ${converted.rejectedRows} of ${converted.totalRows} rows (${percent(fraction)}) rejected, ` +
        `within maxRejectedFraction ${source.maxRejectedFraction}; listed in ${rawStore.description}/${rejectsKey}. First: ${summary}`,
    );
  }

  // Group by the date of each row's instant in the source's zone.
  const time = createTimeReader(source.time);
  const byDate = new Map<string, TypedRow[]>();
  for (const row of converted.rows) {
    const date = time.dateOf(row.values[0] as number);
    const list = byDate.get(date) ?? [];
    list.push(row);
    byDate.set(date, list);
  }
  const keyIndexes = source.key.map((k) => schema.columns.findIndex((c) => c.name === k));
  const keyOf = (values: readonly TypedValue[]) => JSON.stringify(keyIndexes.map((i) => values[i]));
  const units: Record<string, string> = {};
  for (const column of schema.columns) if (column.unit !== undefined) units[column.name] = column.unit;

  // Everything read and merged before anything is written.
  const outputs: { date: string; key: string; body: Uint8Array; rows: number; fromThisFile: number }[] = [];
  for (const date of [...byDate.keys()].sort()) {
    const key = sourceCuratedKey(source.name, date);
    const existing = await readExisting(curatedStore, key, schema, source);
    const merged = new Map<string, TypedValue[]>();
    for (const values of existing?.rows ?? []) merged.set(keyOf(values), values);
    const fresh = byDate.get(date) as TypedRow[];
    for (const row of fresh) merged.set(keyOf(row.values), row.values);
    const rows = [...merged.values()].sort((a, b) => {
      for (const i of keyIndexes) {
        const order = compareValues(a[i] ?? null, b[i] ?? null);
        if (order !== 0) return order;
      }
      return 0;
    });
    const raw = [...(existing?.raw ?? []).filter((k) => k !== input.key), input.key];
    outputs.push({
      date,
      key,
      body: writeParquet(schema, rows, source, raw, units, deps.parquet),
      rows: rows.length,
      fromThisFile: fresh.length,
    });
  }

  const metadata = {
    [WRITTEN_AT_METADATA]: now().toISOString(),
    ...(deps.writtenBy === undefined ? {} : { [WRITTEN_BY_METADATA]: deps.writtenBy }),
  };
  const files: SourceCuratedFile[] = [];
  for (const output of outputs) {
    await curatedStore.putObject(output.key, output.body, { contentType: PARQUET_CONTENT_TYPE, metadata });
    files.push({
      date: output.date,
      key: output.key,
      rows: output.rows,
      fromThisFile: output.fromThisFile,
      bytes: output.body.byteLength,
    });
  }
  const record: TransformedRecord = {
    version: 1,
    source: source.name,
    key: input.key,
    sha256,
    transformedAt: now().toISOString(),
    dates: files.map((f) => f.date),
    rows: converted.rows.length,
    rejectedRows: converted.rejectedRows,
  };
  // Last: a crash before it leaves the version "not transformed", so the next run does it again.
  await rawStore.putObject(sourceTransformedKey(source.name), `${JSON.stringify(record, null, 2)}\n`, {
    contentType: "application/json",
  });
  return {
    source: source.name,
    key: input.key,
    sha256,
    totalRows: converted.totalRows,
    rejectedRows: converted.rejectedRows,
    ...(rejectsKey === undefined ? {} : { rejectsKey }),
    files,
    dates: files.map((f) => f.date),
    warnings: converted.warnings,
  };
}

function writeParquet(
  schema: TableSchema,
  rows: readonly TypedValue[][],
  source: SourceDefinition,
  raw: readonly string[],
  units: Readonly<Record<string, string>>,
  options: Omit<ParquetFileOptions, "spill"> | undefined,
): Uint8Array {
  const writer = new DatasetParquetWriter(schema, options);
  const rowGroupRows = options?.rowGroupRows ?? 100_000;
  // hyparquet-writer takes INT64 values as bigints.
  const columns = schema.columns.map((column, j) =>
    rows.map((values) => {
      const value = values[j] ?? null;
      return column.glueType === "bigint" && typeof value === "number" ? BigInt(value) : value;
    }),
  );
  // A row group's worth at a time: the writer writes whatever it holds as one row group.
  for (let offset = 0; offset < rows.length; offset += rowGroupRows) {
    const n = Math.min(rowGroupRows, rows.length - offset);
    writer.appendRows(
      n,
      columns.map((values) => ({ values, offset })),
    );
  }
  return writer.finish({
    sources: raw,
    keyValueMetadata: [
      { key: SOURCE_NAME_METADATA_KEY, value: source.name },
      { key: SOURCE_URL_METADATA_KEY, value: source.url },
      { key: SOURCE_RAW_METADATA_KEY, value: JSON.stringify(raw) },
      { key: SOURCE_UNITS_METADATA_KEY, value: JSON.stringify(units) },
      ...(source.attribution === undefined
        ? []
        : [{ key: SOURCE_ATTRIBUTION_METADATA_KEY, value: source.attribution }]),
    ],
  });
}

/** The rejects as JSON Lines, one object per failed value. */
function rejectsFile(rejects: readonly Reject[]): string {
  return rejects
    .map((r) =>
      JSON.stringify({
        row: r.row,
        ...(r.line === undefined ? {} : { line: r.line }),
        column: r.column,
        ...(r.field === undefined ? {} : { field: r.field }),
        ...(r.value === undefined ? {} : { value: r.value }),
        reason: r.reason,
      }),
    )
    .map((line) => `${line}\n`)
    .join("");
}

function summarizeRejects(rejects: readonly Reject[]): string {
  const shown = rejects.slice(0, 3).map((r) => {
    const value = r.value === undefined ? "" : ` ${JSON.stringify(r.value)}`;
    return `row ${r.row}${r.line === undefined ? "" : ` (line ${r.line})`} ${r.column}${value}: ${r.reason}`;
  });
  return rejects.length > 3 ? `${shown.join("; ")}; … (${rejects.length - 3} more)` : shown.join("; ");
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(fraction < 0.1 ? 2 : 1)} %`;
}
