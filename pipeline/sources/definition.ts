/**
 * What a configured source is: a published file (CSV, a JSON array or JSON Lines) at a URL,
 * and the declared mapping of its fields into one typed curated table `source_<name>`. Plain
 * data, so the Lambdas capture it and tests write it by hand; infra/config.ts reads it from the
 * stack's `sources` key and checks it (with sourceProblems, check.ts).
 */
import type { DeclaredType } from "../core/schema";

/** The file formats a source can have. */
export type SourceFormat = "csv" | "json" | "jsonl";
export const SOURCE_FORMATS: readonly SourceFormat[] = ["csv", "json", "jsonl"];

/** Text encodings a CSV file can be in (JSON is always UTF-8). */
export type SourceEncoding = "utf-8" | "latin1";
export const SOURCE_ENCODINGS: readonly SourceEncoding[] = ["utf-8", "latin1"];

/** The declared types, in the order the README lists them. */
export const DECLARED_TYPES: readonly DeclaredType[] = ["double", "integer", "string", "boolean", "timestamp"];

/** One declared column: where it comes from in the file and what it is. */
export interface SourceColumn {
  /** The column's name in the curated table: a safe identifier. */
  readonly name: string;
  /** The file's field: a header name (CSV with a header, JSON key), or a 1-based column number (CSV without one). */
  readonly from: string | number;
  /** The declared type: it, not the file, decides the column's type. */
  readonly type: DeclaredType;
  /** The unit, e.g. "°C": kept in the Parquet metadata and the Glue column's comment. */
  readonly unit?: string;
}

/** Where a row's instant is, and how to read it. */
export interface SourceTime {
  /** The file's field holding the time (as SourceColumn.from). */
  readonly column: string | number;
  /**
   * `iso8601` (with or without an offset: without one the time is local to `timezone`), or a
   * Luxon format pattern such as `dd/MM/yyyy HH:mm` (https://moment.github.io/luxon/#/parsing?id=table-of-tokens).
   */
  readonly format: string;
  /** IANA zone of local times in the file, and of the table's `date=` partition. */
  readonly timezone: string;
}

/** A configured source, with every default applied. */
export interface SourceDefinition {
  /** Safe identifier; the table is `source_<name>`. */
  readonly name: string;
  /** http(s) URL of the published file. */
  readonly url: string;
  readonly format: SourceFormat;
  readonly time: SourceTime;
  readonly columns: readonly SourceColumn[];
  /** Columns (`time` included, by that name) that identify a row: one row per key in the table. */
  readonly key: readonly string[];
  /** CSV only: field delimiter, one character. */
  readonly delimiter: string;
  /** CSV only: the decimal separator of numbers. */
  readonly decimal: "." | ",";
  /** CSV only: the file's text encoding. */
  readonly encoding: SourceEncoding;
  /** CSV only: whether the first line names the columns. */
  readonly header: boolean;
  /** Values that mean "no value" (compared after trimming spaces), e.g. "", "-", "-999". */
  readonly nullValues: readonly string[];
  /** Rows that fail conversion may be at most this share of the file's rows, else the run fails. */
  readonly maxRejectedFraction: number;
  /** The largest file fetched, in bytes (decoded); a bigger one fails the run unstored. */
  readonly maxBytes: number;
  /** Credit the publisher asks for, shown in the report and kept in the Parquet metadata. */
  readonly attribution?: string;
}

/** Defaults of the optional source keys. */
export const SOURCE_DEFAULTS = {
  delimiter: ",",
  decimal: ".",
  encoding: "utf-8",
  header: true,
  nullValues: [""],
  maxRejectedFraction: 0.01,
  maxBytes: 10 * 1024 * 1024,
} as const;

/** Bounds of maxBytes: what one transform Lambda can parse in memory with room to spare. */
export const MAX_SOURCE_BYTES = 100 * 1024 * 1024;
export const MIN_SOURCE_BYTES = 1024;

/** The name of the time column every source table has (UTC instant). */
export const TIME_COLUMN = "time";

/** The curated table (and prefix) of a source. */
export function sourceTable(name: string): string {
  return `source_${name}`;
}

/** A source's field for messages: `"Lufttemperatur"` or `column 3`. */
export function describeField(from: string | number): string {
  return typeof from === "number" ? `column ${from}` : JSON.stringify(from);
}
