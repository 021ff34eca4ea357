/**
 * A source file's bytes into records: decoded (UTF-8, strictly, or Latin-1), then CSV by
 * csv-parse (any one-character delimiter, "quoted" fields with "" inside and line breaks,
 * CRLF or LF, a BOM), a JSON array of objects, or JSON Lines (one object per line). Values stay
 * as the file has them (CSV text, JSON values): convert.ts gives them the declared types.
 */
import { parse as parseCsv } from "csv-parse/sync";
import { type SourceDefinition } from "./definition";
import { SourceError } from "./errors";

/** One record of the file, before conversion. */
export interface FileRecord {
  /** 1-based among the data records (the header is not one). */
  readonly row: number;
  /** 1-based line of the file where the record starts (CSV and JSON Lines). */
  readonly line?: number;
  /** A record that is not one at all (a JSON element that is not an object, a line that is not JSON): why. */
  readonly broken?: string;
  /** The value of a field; undefined when the record lacks it. */
  value(field: string | number): unknown;
  /** For CSV: the number of fields in the record. */
  readonly width?: number;
}

/** The parsed file. */
export interface ParsedFile {
  /** The fields the file has, in file order: header names, JSON keys, or 1..n without a header. */
  readonly fields: readonly (string | number)[];
  /** For CSV with a header: header names that appear more than once. */
  readonly duplicateFields: readonly string[];
  /** For CSV with a header: the header's field count, which each record should have. */
  readonly headerWidth?: number;
  readonly records: readonly FileRecord[];
}

/** Decodes a file's text: UTF-8 strictly (a bad byte fails, naming where), or Latin-1. */
export function decodeText(bytes: Uint8Array, source: Pick<SourceDefinition, "name" | "encoding">): string {
  if (source.encoding === "latin1") {
    // WHATWG's "latin1" is windows-1252, a superset of ISO-8859-1 for printable text (0x80-0x9F
    // hold € and typographic quotes instead of control codes), which is what "Latin-1" files
    // published on Windows use.
    return new TextDecoder("latin1").decode(bytes);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch (error) {
    throw new SourceError(
      `source ${source.name}: the file is not valid UTF-8 (at or after byte ${firstInvalidUtf8(bytes)}); ` +
        "if the publisher writes Latin-1 (Windows-1252), set encoding: latin1 for this source",
      source.name,
      { cause: error },
    );
  }
}

/** The offset of the first byte that breaks UTF-8, for the message. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let low = 0;
  let high = bytes.length;
  // Binary search on the longest valid prefix (a cut inside a character also fails, so back off 3).
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    try {
      decoder.decode(bytes.subarray(0, mid), { stream: true });
      decoder.decode();
      low = mid;
    } catch {
      high = mid - 1;
    }
  }
  return Math.max(0, low - 3);
}

/** Parses a source's file into records. */
export function parseSourceFile(bytes: Uint8Array, source: SourceDefinition): ParsedFile {
  switch (source.format) {
    case "csv":
      return parseCsvFile(decodeText(bytes, source), source);
    case "json":
      return parseJsonArray(decodeText(bytes, { name: source.name, encoding: "utf-8" }), source);
    case "jsonl":
      return parseJsonLines(decodeText(bytes, { name: source.name, encoding: "utf-8" }));
  }
}

function parseCsvFile(text: string, source: SourceDefinition): ParsedFile {
  // Parsed from UTF-8 bytes so that csv-parse's offsets are byte offsets into them, for lines.
  const buffer = Buffer.from(text, "utf8");
  let parsed: { record: string[]; info: { bytes: number } }[];
  try {
    parsed = parseCsv(buffer, {
      delimiter: source.delimiter,
      bom: true,
      // A ragged row is rejected by convert.ts with its own reason, not a failure of the file.
      relax_column_count: true,
      skip_empty_lines: true,
      info: true,
    }) as unknown as { record: string[]; info: { bytes: number } }[];
  } catch (error) {
    throw new SourceError(
      `source ${source.name}: the file is not readable as CSV with delimiter ${JSON.stringify(source.delimiter)} ` +
        `(${error instanceof Error ? error.message : String(error)}); check delimiter, and that quotes in the file are balanced`,
      source.name,
      { cause: error },
    );
  }
  const lineOf = lineCounter(buffer);
  const entries = parsed.map((entry, i) => ({
    cells: entry.record,
    line: lineOf(i === 0 ? 0 : (parsed[i - 1] as { info: { bytes: number } }).info.bytes),
  }));
  if (source.header) {
    const header = entries.shift();
    if (header === undefined) {
      throw new SourceError(`source ${source.name}: the file is empty; it has no header row`, source.name);
    }
    const names = header.cells.map((name, i) => (i === 0 ? name.replace(/^\uFEFF/, "") : name).trim());
    const index = new Map<string, number>();
    const duplicates: string[] = [];
    names.forEach((name, i) => {
      if (index.has(name)) {
        if (!duplicates.includes(name)) duplicates.push(name);
      } else index.set(name, i);
    });
    return {
      fields: names,
      duplicateFields: duplicates,
      headerWidth: names.length,
      records: entries.map(({ cells, line }, i) => ({
        row: i + 1,
        line,
        width: cells.length,
        value: (field) => {
          const at = typeof field === "string" ? index.get(field) : undefined;
          return at === undefined ? undefined : cells[at];
        },
      })),
    };
  }
  const width = entries[0]?.cells.length ?? 0;
  return {
    fields: Array.from({ length: width }, (_, i) => i + 1),
    duplicateFields: [],
    records: entries.map(({ cells, line }, i) => ({
      row: i + 1,
      line,
      width: cells.length,
      value: (field) => (typeof field === "number" ? cells[field - 1] : undefined),
    })),
  };
}

/** A function from a byte offset of `buffer` to the 1-based line of the first non-blank byte at or after it. */
function lineCounter(buffer: Buffer): (offset: number) => number {
  let at = 0;
  let line = 1;
  return (offset: number) => {
    // Records come in order, so the scan goes on from where the last one stopped.
    for (; at < offset && at < buffer.length; at++) if (buffer[at] === 0x0a) line++;
    // Skip the blank lines csv-parse skipped before the record.
    let probe = at;
    let extra = 0;
    while (probe < buffer.length && (buffer[probe] === 0x0a || buffer[probe] === 0x0d)) {
      if (buffer[probe] === 0x0a) extra++;
      probe++;
    }
    return line + extra;
  };
}

function objectRecord(value: unknown, row: number, line: number | undefined, what: string): FileRecord {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return {
      row,
      ...(line === undefined ? {} : { line }),
      broken: `${what} is ${Array.isArray(value) ? "an array" : value === null ? "null" : `a ${typeof value}`}, not an object`,
      value: () => undefined,
    };
  }
  const object = value as Record<string, unknown>;
  return {
    row,
    ...(line === undefined ? {} : { line }),
    value: (field) => (typeof field === "string" && Object.hasOwn(object, field) ? object[field] : undefined),
  };
}

/** The keys of the objects among `values`, in first-seen order. */
function keysOf(values: readonly unknown[]): string[] {
  const seen = new Set<string>();
  for (const value of values) {
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      for (const key of Object.keys(value)) seen.add(key);
    }
  }
  return [...seen];
}

function parseJsonArray(text: string, source: SourceDefinition): ParsedFile {
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (error) {
    throw new SourceError(
      `source ${source.name}: the file is not valid JSON (${error instanceof Error ? error.message : String(error)}); ` +
        "format json expects one JSON array of objects (use jsonl for one object per line)",
      source.name,
      { cause: error },
    );
  }
  if (!Array.isArray(value)) {
    throw new SourceError(
      `source ${source.name}: the file is a JSON ${value === null ? "null" : typeof value}, not an array; ` +
        "format json expects an array of objects, one per row (format jsonl reads one object per line)",
      source.name,
    );
  }
  const elements = value as unknown[];
  return {
    fields: keysOf(elements),
    duplicateFields: [],
    records: elements.map((element, i) => objectRecord(element, i + 1, undefined, `element ${i + 1}`)),
  };
}

function parseJsonLines(text: string): ParsedFile {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const values: unknown[] = [];
  const records: FileRecord[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    const row = records.length + 1;
    try {
      const parsed: unknown = JSON.parse(line);
      values.push(parsed);
      records.push(objectRecord(parsed, row, i + 1, `line ${i + 1}`));
    } catch (error) {
      records.push({
        row,
        line: i + 1,
        broken: `line ${i + 1} is not JSON (${error instanceof Error ? error.message : String(error)})`,
        value: () => undefined,
      });
    }
  });
  return { fields: keysOf(values), duplicateFields: [], records };
}
