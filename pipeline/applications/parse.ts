/**
 * From an uploaded file's bytes to its rows, each with the values as written: the checks of a
 * well-formed file (size, encoding, text, CSV or JSON syntax, header) happen here, and any
 * failure rejects the whole file with its reason. What the values mean is rules.ts's job.
 *
 * Encoding: UTF-8, with or without a byte-order mark. A file that is not valid UTF-8 is
 * rejected, not decoded as Latin-1 or Windows-1252: the bytes do not say which of the legacy
 * encodings was meant, and a wrong guess would put wrong names into the data without a word.
 * The reason names the first bad byte and how to save the file as UTF-8.
 */
import { parse as parseCsv } from "csv-parse/sync";
import type { ApplicationFormat } from "./keys";
import { showValue, type Reason } from "./reasons";

/** The columns of a CSV file, and the fields of a JSON object. */
export const REQUIRED_FIELDS = ["name", "latitude", "longitude"] as const;
export const OPTIONAL_FIELDS = ["start_date"] as const;
export type FieldName = (typeof REQUIRED_FIELDS)[number] | (typeof OPTIONAL_FIELDS)[number];
const ALL_FIELDS: readonly string[] = [...REQUIRED_FIELDS, ...OPTIONAL_FIELDS];

/** The header a CSV file starts with, for messages. */
export const EXPECTED_HEADER = "name,latitude,longitude (and optionally ,start_date)";

/** One row of a file, with its values as written (CSV: text; JSON: any JSON value). */
export interface RawRow {
  /** CSV: the line the record starts on (the header is line 1); JSON: the element's position, from 1. */
  readonly row: number;
  readonly values: Partial<Record<FieldName, unknown>>;
  /** Problems of the row's shape (too many values, unknown fields), found while parsing. */
  readonly problems: readonly Reason[];
  /** True for JSON rows: their numbers must be JSON numbers, not text. */
  readonly typed?: boolean;
}

/** The outcome of parsing: the rows, or the reasons the whole file is rejected. */
export type ParsedFile =
  | { readonly ok: true; readonly rows: readonly RawRow[] }
  | { readonly ok: false; readonly problems: readonly Reason[] };

const reject = (...problems: Reason[]): ParsedFile => ({ ok: false, problems });

/** Names people write for the columns, and the one they mean. */
const SPELLINGS: Readonly<Record<string, FieldName>> = {
  lat: "latitude",
  latitude_deg: "latitude",
  lon: "longitude",
  lng: "longitude",
  long: "longitude",
  longitude_deg: "longitude",
  startdate: "start_date",
  "start date": "start_date",
  "start-date": "start_date",
  start: "start_date",
  from: "start_date",
  location: "name",
  place: "name",
  city: "name",
};

function describeField(name: string): string {
  const known = SPELLINGS[name.toLowerCase()];
  return known ? `; did you mean ${known}?` : "";
}

/** The 1-based line and column of a character offset in `text`. */
function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * Decodes bytes as UTF-8 text (a leading BOM dropped), or says why the file is not UTF-8 text:
 * empty, binary, UTF-16, or another encoding.
 */
export function decodeText(bytes: Uint8Array): { text: string } | { problem: Reason } {
  const fix = "save the file as UTF-8 text (in Excel: Save As, CSV UTF-8; in an editor: encoding UTF-8)";
  if (bytes.byteLength === 0) {
    return {
      problem: {
        field: "file",
        problem: "the file is empty",
        fix: `write the header ${EXPECTED_HEADER} and one row per location`,
      },
    };
  }
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    return { problem: { field: "file", problem: "the file is UTF-16 (it starts with a UTF-16 byte-order mark)", fix } };
  }
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    return {
      problem: {
        field: "file",
        problem: `the file is binary, not text (a zero byte at offset ${nul})`,
        fix: "upload a CSV or JSON text file, not a spreadsheet (.xlsx), archive or image",
      },
    };
  }
  let text: string;
  try {
    // fatal: an invalid sequence is an error, never a replacement character.
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    const offset = firstInvalidUtf8(bytes);
    const byte = bytes[offset] ?? 0;
    const latin1 = byte >= 0xa0 ? ` (as Latin-1 it would be ${JSON.stringify(String.fromCharCode(byte))})` : "";
    return {
      problem: {
        field: "file",
        value: `byte 0x${byte.toString(16).padStart(2, "0")} at offset ${offset}`,
        problem: `the file is not UTF-8${latin1}; it looks like Latin-1 or Windows-1252, which is not accepted because the bytes do not say which encoding was meant`,
        fix,
      },
    };
  }
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  const control = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.exec(text);
  if (control) {
    return {
      problem: {
        field: "file",
        value: `${showValue(control[0])} on line ${lineOf(text, control.index)}`,
        problem: "the file holds a control character; it is binary or not plain text",
        fix: "upload a CSV or JSON text file; remove control characters",
      },
    };
  }
  if (text.trim() === "") {
    return {
      problem: {
        field: "file",
        problem: "the file holds only white space",
        fix: `write the header ${EXPECTED_HEADER} and one row per location`,
      },
    };
  }
  return { text };
}

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  // Binary search on prefixes would be wrong across sequences; walk sequences instead.
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    const length =
      b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (length === 0) return i;
    try {
      decoder.decode(bytes.subarray(i, i + length));
    } catch {
      return i;
    }
    i += length;
  }
  return i;
}

/** Line breaks inside a parsed record's values (a quoted field may span lines). */
function lineBreaksIn(record: readonly string[]): number {
  let count = 0;
  for (const value of record) count += value.match(/\r\n|\r|\n/g)?.length ?? 0;
  return count;
}

interface CsvRecord {
  readonly record: string[];
  readonly info: { readonly lines: number };
}

/** Parses CSV text (comma-separated, RFC 4180 quoting, CRLF, LF or CR line ends) into rows. */
export function parseCsvText(text: string): ParsedFile {
  let records: CsvRecord[];
  try {
    records = parseCsv(text, {
      bom: true,
      // Each row is checked on its own below, so a short or long row rejects that row only.
      relax_column_count: true,
      skip_empty_lines: true,
      // A spreadsheet's trailing ",,," lines are empty lines too.
      skip_records_with_empty_values: true,
      record_delimiter: ["\r\n", "\n", "\r"],
      info: true,
    }) as unknown as CsvRecord[];
  } catch (error) {
    const e = error as { code?: string; message?: string; lines?: number };
    return reject({
      field: "file",
      value: e.lines === undefined ? undefined : `line ${e.lines}`,
      problem: `the file is not well-formed CSV: ${e.message ?? String(error)}`,
      fix:
        e.code === "CSV_QUOTE_NOT_CLOSED"
          ? 'close the double quote that opens a field; write a quote inside a quoted field as ""'
          : 'put a field that holds a comma or a double quote in double quotes, and write a quote inside it as ""',
    });
  }
  const [header, ...data] = records;
  if (!header)
    return reject({ field: "file", problem: "the file has no lines", fix: `write the header ${EXPECTED_HEADER}` });
  const columns = header.record.map((c) => c.trim().toLowerCase());
  const headerProblems = checkHeader(columns, header.record);
  if (headerProblems.length > 0) return reject(...headerProblems);
  if (data.length === 0) {
    return reject({
      field: "file",
      problem: "the file has a header but no rows",
      fix: "add one row per location under the header",
    });
  }
  const rows = data.map(({ record, info }): RawRow => {
    const row = info.lines - lineBreaksIn(record);
    const problems: Reason[] = [];
    if (record.map((v) => v.trim().toLowerCase()).join(",") === columns.join(",")) {
      problems.push({
        field: "row",
        value: showValue(record.join(",")),
        problem: "the row repeats the header",
        fix: "remove the repeated header line (two files pasted together?)",
      });
      return { row, values: {}, problems };
    }
    if (record.length !== columns.length) {
      problems.push({
        field: "row",
        problem: `the row has ${record.length} values but the header has ${columns.length} columns`,
        fix:
          record.length > columns.length
            ? "put a name that holds a comma in double quotes, and write decimals with a point (52.52, not 52,52)"
            : "give every row a value for each column, empty for an optional one",
      });
    }
    const values: Partial<Record<FieldName, unknown>> = {};
    columns.forEach((column, i) => {
      const value = record[i];
      if (value !== undefined) values[column as FieldName] = value;
    });
    return { row, values, problems };
  });
  return { ok: true, rows };
}

/** The header's problems: a missing, unknown or repeated column, or a header that is data. */
function checkHeader(columns: readonly string[], asWritten: readonly string[]): Reason[] {
  const problems: Reason[] = [];
  const shown = showValue(asWritten.join(","));
  if (columns.length === 1 && /[;\t|]/.test(columns[0] as string)) {
    const separator = (columns[0] as string).includes(";")
      ? "semicolons"
      : (columns[0] as string).includes("\t")
        ? "tabs"
        : "bars";
    return [
      {
        field: "header",
        value: shown,
        problem: `the header is one column; its names are separated by ${separator}`,
        fix: "separate columns with commas (in Excel: Save As, CSV UTF-8 (Comma delimited))",
      },
    ];
  }
  if (!columns.includes("name") && asWritten.some((c) => /^\s*[+-]?\d/.test(c))) {
    return [
      {
        field: "header",
        value: shown,
        problem: "the first line is data, not the header",
        fix: `start the file with the header line ${EXPECTED_HEADER}`,
      },
    ];
  }
  const seen = new Map<string, number>();
  columns.forEach((column, i) => {
    const first = seen.get(column);
    if (first !== undefined) {
      problems.push({
        field: "header",
        value: shown,
        problem: `column ${showValue(column)} appears twice (columns ${first + 1} and ${i + 1})`,
        fix: "keep one column of each name",
      });
    } else {
      seen.set(column, i);
    }
    if (!ALL_FIELDS.includes(column)) {
      problems.push({
        field: "header",
        value: shown,
        problem: `column ${i + 1} is ${showValue(asWritten[i])}, which is not a known column${describeField(column)}`,
        fix: `use exactly the columns ${EXPECTED_HEADER}`,
      });
    }
  });
  for (const required of REQUIRED_FIELDS) {
    if (!seen.has(required)) {
      problems.push({
        field: "header",
        value: shown,
        problem: `the column ${required} is missing`,
        fix: `use exactly the columns ${EXPECTED_HEADER}`,
      });
    }
  }
  return problems;
}

/** A JSON number too large for a double (1e999 reads as Infinity), kept as written. */
export class NonFiniteNumber {
  constructor(readonly text: string) {}
}

/**
 * Parses JSON text: an array of objects with the fields name, latitude, longitude and
 * optionally start_date. A value's text as written (e.g. 1e999, which JSON reads as Infinity)
 * is kept for the reasons.
 */
export function parseJsonText(text: string): ParsedFile {
  let document: unknown;
  try {
    // The reviver's third argument (Node 21+) has the source text of a primitive.
    document = JSON.parse(text, (_key, value: unknown, context?: { source?: string }) =>
      typeof value === "number" && !Number.isFinite(value)
        ? new NonFiniteNumber(context?.source ?? String(value))
        : value,
    );
  } catch (error) {
    const message = (error as Error).message;
    const position = /position (\d+)/.exec(message)?.[1];
    return reject({
      field: "file",
      value: position === undefined ? undefined : `line ${lineOf(text, Number(position))}`,
      problem: `the file is not valid JSON: ${message}`,
      fix: "write a JSON array of objects; JSON has no NaN, Infinity, comments or trailing commas",
    });
  }
  if (!Array.isArray(document)) {
    return reject({
      field: "file",
      value: showValue(typeof document === "object" && document !== null ? "an object" : document),
      problem: "the JSON is not an array",
      fix: 'write an array: [{"name": "...", "latitude": 52.52, "longitude": 13.41}]',
    });
  }
  if (document.length === 0) {
    return reject({ field: "file", problem: "the JSON array is empty", fix: "add one object per location" });
  }
  const rows = document.map((element: unknown, index): RawRow => {
    const row = index + 1;
    if (typeof element !== "object" || element === null || Array.isArray(element)) {
      return {
        row,
        values: {},
        typed: true,
        problems: [
          {
            field: "row",
            value: showValue(element),
            problem: "the element is not an object",
            fix: 'write each location as {"name": "...", "latitude": ..., "longitude": ...}',
          },
        ],
      };
    }
    const problems: Reason[] = [];
    const values: Partial<Record<FieldName, unknown>> = {};
    for (const [field, value] of Object.entries(element as Record<string, unknown>)) {
      if (ALL_FIELDS.includes(field)) values[field as FieldName] = value;
      else {
        problems.push({
          field: "row",
          value: showValue(field),
          problem: `the field ${showValue(field)} is not known${describeField(field)}`,
          fix: "use only the fields name, latitude, longitude and start_date",
        });
      }
    }
    return { row, values, problems, typed: true };
  });
  return { ok: true, rows };
}

/** Parses a file's bytes in its format (see parseCsvText, parseJsonText). */
export function parseApplicationFile(bytes: Uint8Array, format: ApplicationFormat): ParsedFile {
  const decoded = decodeText(bytes);
  if ("problem" in decoded) return reject(decoded.problem);
  return format === "csv" ? parseCsvText(decoded.text) : parseJsonText(decoded.text);
}
