/**
 * Reading one curated Parquet file for the load: its columns checked against the one schema,
 * then its rows as PostgreSQL COPY text. A file whose columns differ from the schema (a column
 * missing, extra, renamed, or of another type) is refused with the file and the column named,
 * before anything of its date is written.
 */
import { createHash } from "node:crypto";
import { parquetMetadata, parquetRead, type SchemaElement } from "hyparquet";
import type { Dataset } from "../core/keys";
import { datasetSchema, type ColumnDefinition, type TableSchema } from "../core/schema";
import type { PipelineSettings } from "../core/settings";
import { WarehouseError } from "./database";
import type { WarehouseTableName } from "./tables";

/** One curated file, read and checked, ready to COPY. */
export interface CuratedRows {
  readonly dataset: WarehouseTableName;
  readonly key: string;
  /** The schema's column names, in file order (the partition date is added by the load). */
  readonly columns: readonly string[];
  /** Rows as arrays in `columns` order: string, number, Date or null. */
  readonly rows: readonly (readonly unknown[])[];
  /** SHA-256 of the file's bytes: what the ledger records as loaded. */
  readonly sha256: string;
  readonly bytes: number;
}

function typeName(element: Pick<SchemaElement, "type" | "logical_type" | "converted_type">): string {
  const logical = element.logical_type as { type?: string; unit?: string; isAdjustedToUTC?: boolean } | undefined;
  if (logical?.type === "TIMESTAMP") {
    return `${element.type} TIMESTAMP(${logical.unit ?? "?"}${logical.isAdjustedToUTC ? ", UTC" : ""})`;
  }
  if (logical?.type) return `${element.type} ${logical.type}`;
  if (element.converted_type) return `${element.type} ${element.converted_type}`;
  return String(element.type);
}

function describeExpected(column: ColumnDefinition): string {
  return `${typeName(column.parquet)} ${column.parquet.repetition_type ?? ""}`.trim();
}

/** Throws a WarehouseError naming the file and the first column that differs from the schema. */
export function checkColumns(
  key: string,
  dataset: WarehouseTableName,
  file: readonly SchemaElement[],
  expected: readonly ColumnDefinition[],
): void {
  const fix =
    "re-run the transform of that date with this stack's settings (the warehouse loads only files written with its current variables)";
  const leaves = file.slice(1);
  for (let i = 0; i < Math.max(leaves.length, expected.length); i++) {
    const actual = leaves[i];
    const want = expected[i];
    if (actual === undefined) {
      throw new WarehouseError(
        `${key}: column ${want!.name} is missing; the ${dataset} schema has it at position ${i + 1}; ${fix}`,
      );
    }
    if (want === undefined) {
      throw new WarehouseError(`${key}: column ${actual.name} is not in the ${dataset} schema of this stack; ${fix}`);
    }
    if (actual.name !== want.name) {
      throw new WarehouseError(
        `${key}: column ${i + 1} is ${actual.name}, but the ${dataset} schema has ${want.name} there; ${fix}`,
      );
    }
    const actualType = `${typeName(actual)} ${actual.repetition_type ?? ""}`.trim();
    if (actualType !== describeExpected(want)) {
      throw new WarehouseError(
        `${key}: column ${actual.name} is ${actualType}; the ${dataset} schema declares ${describeExpected(want)}; ${fix}`,
      );
    }
  }
}

/** Reads a curated file's bytes: checks its columns against the stack's schema and decodes its rows. */
export async function readCuratedFile(
  dataset: Dataset,
  key: string,
  body: Uint8Array,
  settings: Pick<PipelineSettings, "hourlyVariables" | "dailyVariables" | "columnNames">,
): Promise<CuratedRows> {
  const schema = datasetSchema(
    dataset,
    dataset === "weather_hourly" ? settings.hourlyVariables : settings.dailyVariables,
    {},
    settings.columnNames,
  );
  return readParquetRows(dataset, schema, key, body);
}

/** Reads a curated file's bytes against a table's schema (a dataset's, or a source's): checks its columns, decodes its rows. */
export async function readParquetRows(
  dataset: WarehouseTableName,
  schema: TableSchema,
  key: string,
  body: Uint8Array,
): Promise<CuratedRows> {
  const file = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  let metadata: ReturnType<typeof parquetMetadata>;
  try {
    metadata = parquetMetadata(file);
  } catch (error) {
    throw new WarehouseError(
      `${key} is not a readable Parquet file: ${(error as Error).message}; re-run the transform of that date`,
      {
        cause: error,
      },
    );
  }
  checkColumns(key, dataset, metadata.schema, schema.columns);
  const columns = schema.columns.map((c) => c.name);
  let rows: unknown[][] = [];
  await parquetRead({
    file,
    metadata,
    columns,
    rowFormat: "array",
    onComplete: (data: unknown[][]) => {
      rows = data;
    },
  });
  return {
    dataset,
    key,
    columns,
    rows,
    sha256: createHash("sha256").update(body).digest("hex"),
    bytes: body.byteLength,
  };
}

/** Escapes a string for COPY's text format: backslash, and the characters that end a field or row. */
function escapeText(value: string): string {
  return value.replace(/[\\\t\n\r]/g, (c) => (c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r"));
}

/** One value in COPY's text format; `\N` is NULL. */
export function copyValue(value: unknown): string {
  if (value === null || value === undefined) return "\\N";
  if (typeof value === "number") {
    if (Number.isNaN(value)) return "NaN";
    if (value === Infinity) return "Infinity";
    if (value === -Infinity) return "-Infinity";
    // String() is the shortest text that parses back to the same double; keep the sign of zero.
    return Object.is(value, -0) ? "-0" : String(value);
  }
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "string") return escapeText(value);
  if (typeof value === "bigint") return value.toString();
  // A source's boolean columns.
  if (typeof value === "boolean") return value ? "t" : "f";
  throw new WarehouseError(
    `cannot load a value of type ${typeof value} (${JSON.stringify(value)?.slice(0, 80)}); the schema has no such column type`,
  );
}

/** Rows per chunk handed to COPY: big enough to keep the socket busy, small enough to stay bounded. */
const ROWS_PER_CHUNK = 2_000;

/** The file's rows as COPY text chunks, each row followed by the partition date. */
export function* copyChunks(rows: readonly (readonly unknown[])[], date: string): Generator<string> {
  const tail = `\t${date}\n`;
  let chunk = "";
  let count = 0;
  for (const row of rows) {
    let line = "";
    for (let i = 0; i < row.length; i++) line += (i === 0 ? "" : "\t") + copyValue(row[i]);
    chunk += line + tail;
    if (++count === ROWS_PER_CHUNK) {
      yield chunk;
      chunk = "";
      count = 0;
    }
  }
  if (chunk !== "") yield chunk;
}
