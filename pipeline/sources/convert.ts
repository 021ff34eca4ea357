/**
 * Records into typed rows by the declared mapping. The declared type, not the file, decides:
 * a string column keeps "00123" as text and takes a JSON number as its text, a double column is
 * DOUBLE even when every value in the file is whole, an integer column refuses "12.5", and an
 * all-empty column is still its declared type. A value that does not fit its type rejects the
 * row, with the row, column, value and reason, never silently becoming null.
 *
 * Drift: a field the file has but the mapping does not declare is ignored with a warning; a
 * declared field the file no longer has fails the whole file (SourceDriftError), naming it.
 */
import type { TableSchema } from "../core/schema";
import { TIME_COLUMN, describeField, type SourceColumn, type SourceDefinition } from "./definition";
import { SourceDriftError } from "./errors";
import type { FileRecord, ParsedFile } from "./parse";
import { createTimeReader, type TimeReader } from "./time";

/** A typed value: numbers for double, integer and timestamp (epoch milliseconds, UTC). */
export type TypedValue = number | string | boolean | null;

/** One row, its values in the table's column order (`time` first). */
export interface TypedRow {
  /** The file's row it came from (1-based among data rows). */
  readonly row: number;
  readonly values: TypedValue[];
}

/** One value that failed: what the rejects file lists. */
export interface Reject {
  readonly row: number;
  readonly line?: number;
  /** The table column, or "(row)" for a problem of the whole row. */
  readonly column: string;
  /** The file's field, as the file names it. */
  readonly field?: string | number;
  /** The value as the file has it (text, or the JSON value). */
  readonly value?: unknown;
  readonly reason: string;
}

/** What conversion made of a file. */
export interface Converted {
  readonly rows: TypedRow[];
  readonly rejects: Reject[];
  /** Data rows in the file, good and rejected. */
  readonly totalRows: number;
  /** Rows with at least one reject. */
  readonly rejectedRows: number;
  /** Drift and other things worth a line in the log, not a failure. */
  readonly warnings: string[];
}

const BOOLEAN_TEXT: Readonly<Record<string, boolean>> = {
  true: true,
  false: false,
  "1": true,
  "0": false,
  yes: true,
  no: false,
};

/** A decimal number as text with `decimal` as the separator (no thousands separators). */
function numberPattern(decimal: "." | ","): RegExp {
  const d = decimal === "." ? "\\." : ",";
  return new RegExp(`^[+-]?(?:\\d+(?:${d}\\d*)?|${d}\\d+)(?:[eE][+-]?\\d+)?$`);
}

type Cell = { ok: true; value: TypedValue } | { ok: false; reason: string };

/** Converts one value of the file to a declared type. */
function convertValue(
  raw: unknown,
  type: SourceColumn["type"],
  context: { decimal: "." | ","; number: RegExp; nullValues: readonly string[]; time: TimeReader },
): Cell & { later?: number } {
  if (raw === undefined || raw === null) return { ok: true, value: null };
  if (typeof raw === "string") {
    const text = raw.trim();
    if (context.nullValues.includes(text)) return { ok: true, value: null };
    switch (type) {
      case "string":
        return { ok: true, value: raw };
      case "double": {
        if (!context.number.test(text)) {
          return { ok: false, reason: `not a number (decimal separator ${JSON.stringify(context.decimal)})` };
        }
        const value = Number(context.decimal === "," ? text.replace(",", ".") : text);
        return Number.isFinite(value) ? { ok: true, value } : { ok: false, reason: "out of the range of a double" };
      }
      case "integer": {
        if (!/^[+-]?\d+$/.test(text)) return { ok: false, reason: "not a whole number" };
        const value = Number(text);
        return Number.isSafeInteger(value)
          ? { ok: true, value }
          : { ok: false, reason: "a whole number beyond ±9007199254740991, which no JSON reader holds exactly" };
      }
      case "boolean": {
        const value = BOOLEAN_TEXT[text.toLowerCase()];
        return value === undefined
          ? { ok: false, reason: "not a boolean (true/false, 1/0 or yes/no)" }
          : { ok: true, value };
      }
      case "timestamp": {
        const read = context.time.read(text);
        return read.ok ? { ok: true, value: read.millis } : { ok: false, reason: read.reason };
      }
    }
  }
  if (typeof raw === "number") {
    switch (type) {
      case "string":
        return { ok: true, value: String(raw) };
      case "double":
        return { ok: true, value: raw };
      case "integer":
        return Number.isSafeInteger(raw)
          ? { ok: true, value: raw }
          : {
              ok: false,
              reason: Number.isInteger(raw) ? "a whole number beyond ±9007199254740991" : "not a whole number",
            };
      case "boolean":
        return raw === 0 || raw === 1
          ? { ok: true, value: raw === 1 }
          : { ok: false, reason: "a number, not a boolean" };
      case "timestamp":
        return { ok: false, reason: "a number, not a time written as text" };
    }
  }
  if (typeof raw === "boolean") {
    if (type === "boolean") return { ok: true, value: raw };
    if (type === "string") return { ok: true, value: String(raw) };
    return { ok: false, reason: `a boolean, not a ${type}` };
  }
  return { ok: false, reason: `${Array.isArray(raw) ? "an array" : "an object"}, not a ${type}` };
}

/** Checks the file's fields against the mapping: warnings for extra fields, an error for missing ones. */
function checkDrift(file: ParsedFile, source: SourceDefinition): string[] {
  const declared: { field: string | number; what: string }[] = [
    { field: source.time.column, what: `time.column (the ${TIME_COLUMN} column)` },
    ...source.columns.map((c, i) => ({ field: c.from, what: `columns[${i}].from (column ${c.name})` })),
  ];
  const present = new Set<string | number>(file.fields);
  // A JSON file without any record says nothing about its fields.
  const missing =
    file.records.length === 0 && source.format !== "csv" ? [] : declared.filter((d) => !present.has(d.field));
  if (missing.length > 0) {
    const has =
      file.fields.length === 0
        ? "no fields at all"
        : `the fields ${file.fields.map((f) => (typeof f === "number" ? String(f) : JSON.stringify(f))).join(", ")}`;
    throw new SourceDriftError(
      `source ${source.name}: the file has no ${missing.map((m) => `${describeField(m.field)} (declared as ${m.what})`).join(", no ")}; ` +
        `it has ${has}. The publisher has changed the file: update the mapping in the stack's sources (or remove the column), then run again; ` +
        "the file is kept in the raw bucket",
      source.name,
    );
  }
  const wanted = new Set(declared.map((d) => d.field));
  const warnings: string[] = [];
  const extra = file.fields.filter((f) => !wanted.has(f));
  if (extra.length > 0) {
    warnings.push(
      `source ${source.name}: the file has ${extra.length} field(s) the mapping does not declare, ignored: ` +
        `${extra.map(describeField).join(", ")} (declare them under columns to keep them)`,
    );
  }
  const ambiguous = file.duplicateFields.filter((f) => wanted.has(f));
  if (ambiguous.length > 0) {
    throw new SourceDriftError(
      `source ${source.name}: the header names ${ambiguous.map((f) => JSON.stringify(f)).join(", ")} more than once, ` +
        "so a declared column cannot be told apart; ask the publisher, or read the file without a header (header: false, from: <column number>)",
      source.name,
    );
  }
  return warnings;
}

/**
 * Converts a parsed file into typed rows of the source's table (`schema`, from sourceSchema),
 * with the rejects. Throws SourceDriftError when a declared field is missing.
 */
export function convertRecords(file: ParsedFile, source: SourceDefinition, schema: TableSchema): Converted {
  const warnings = checkDrift(file, source);
  const time = createTimeReader(source.time);
  const context = {
    decimal: source.format === "csv" ? source.decimal : ".",
    number: numberPattern(source.format === "csv" ? source.decimal : "."),
    nullValues: source.nullValues,
    time,
  } as const;
  const index = new Map(schema.columns.map((c, i) => [c.name, i]));
  const keyIndexes = source.key.map((k) => index.get(k) as number);
  const otherKeyIndexes = keyIndexes.filter((i) => schema.columns[i]?.name !== TIME_COLUMN);
  const rows: TypedRow[] = [];
  const rejects: Reject[] = [];
  let rejectedRows = 0;
  /** Row of each key seen, for duplicates. */
  const seenKeys = new Map<string, number>();
  /** Repeated autumn wall-clock times already given their earlier instant, per key. */
  const seenAmbiguous = new Set<string>();

  for (const record of file.records) {
    const ragged = raggedRowReject(record, file.headerWidth);
    if (ragged) {
      rejects.push(ragged);
      rejectedRows++;
      continue;
    }
    const found = convertRecord(record, source, context);
    if ("rejects" in found) {
      rejects.push(...found.rejects);
      rejectedRows++;
      continue;
    }
    const { values, ambiguousLater } = found;
    const missingKey = keyIndexes.filter((i) => values[i] === null);
    if (missingKey.length > 0) {
      for (const i of missingKey) {
        const column = schema.columns[i]!;
        rejects.push({
          row: record.row,
          ...(record.line === undefined ? {} : { line: record.line }),
          column: column.name,
          field: fieldOf(source, column.name),
          value: record.value(fieldOf(source, column.name)) ?? null,
          reason: `no value, but ${column.name} is part of the key (${source.key.join(", ")})`,
        });
      }
      rejectedRows++;
      continue;
    }
    if (ambiguousLater !== undefined) {
      const who = JSON.stringify([otherKeyIndexes.map((i) => values[i]), values[0]]);
      if (seenAmbiguous.has(who)) values[0] = ambiguousLater;
      else seenAmbiguous.add(who);
    }
    const key = JSON.stringify(keyIndexes.map((i) => values[i]));
    const first = seenKeys.get(key);
    if (first !== undefined) {
      rejects.push({
        row: record.row,
        ...(record.line === undefined ? {} : { line: record.line }),
        column: "(row)",
        reason: `duplicate key (${source.key.map((k, j) => `${k}=${formatKeyValue(values[keyIndexes[j] as number] ?? null, k)}`).join(", ")}) of row ${first}`,
      });
      rejectedRows++;
      continue;
    }
    seenKeys.set(key, record.row);
    rows.push({ row: record.row, values });
  }
  return { rows, rejects, totalRows: file.records.length, rejectedRows, warnings };
}

function fieldOf(source: SourceDefinition, column: string): string | number {
  if (column === TIME_COLUMN) return source.time.column;
  return (source.columns.find((c) => c.name === column) as SourceColumn).from;
}

function formatKeyValue(value: TypedValue, column: string): string {
  return column === TIME_COLUMN && typeof value === "number" ? new Date(value).toISOString() : JSON.stringify(value);
}

/** One record: its values in table order, or every reject it has. */
function convertRecord(
  record: FileRecord,
  source: SourceDefinition,
  context: Parameters<typeof convertValue>[2],
): { values: TypedValue[]; ambiguousLater?: number } | { rejects: Reject[] } {
  const at = { row: record.row, ...(record.line === undefined ? {} : { line: record.line }) };
  if (record.broken !== undefined) return { rejects: [{ ...at, column: "(row)", reason: record.broken }] };
  const rejects: Reject[] = [];
  const values: TypedValue[] = [];
  // The time column first.
  const rawTime = record.value(source.time.column);
  let ambiguousLater: number | undefined;
  if (
    rawTime === undefined ||
    rawTime === null ||
    (typeof rawTime === "string" && context.nullValues.includes(rawTime.trim()))
  ) {
    rejects.push({ ...at, column: TIME_COLUMN, field: source.time.column, value: rawTime ?? null, reason: "no time" });
    values.push(null);
  } else if (typeof rawTime !== "string") {
    rejects.push({
      ...at,
      column: TIME_COLUMN,
      field: source.time.column,
      value: rawTime,
      reason: `a ${typeof rawTime}, not a time written as text in the format ${source.time.format}`,
    });
    values.push(null);
  } else {
    const read = context.time.read(rawTime);
    if (read.ok) {
      values.push(read.millis);
      ambiguousLater = read.later;
    } else {
      rejects.push({ ...at, column: TIME_COLUMN, field: source.time.column, value: rawTime, reason: read.reason });
      values.push(null);
    }
  }
  for (const column of source.columns) {
    const raw = record.value(column.from);
    const cell = convertValue(raw, column.type, context);
    if (cell.ok) values.push(cell.value);
    else {
      rejects.push({ ...at, column: column.name, field: column.from, value: raw, reason: cell.reason });
      values.push(null);
    }
  }
  return rejects.length > 0 ? { rejects } : { values, ...(ambiguousLater === undefined ? {} : { ambiguousLater }) };
}

/**
 * For CSV with a header, a record whose field count differs from the header's: its cells may
 * be shifted (an unquoted delimiter inside a value), so it is rejected as a whole.
 */
export function raggedRowReject(record: FileRecord, headerWidth: number | undefined): Reject | undefined {
  if (headerWidth === undefined || record.width === undefined || record.width === headerWidth) return undefined;
  return {
    row: record.row,
    ...(record.line === undefined ? {} : { line: record.line }),
    column: "(row)",
    reason: `the row has ${record.width} field(s), the header ${headerWidth}: a value may hold an unquoted delimiter`,
  };
}
