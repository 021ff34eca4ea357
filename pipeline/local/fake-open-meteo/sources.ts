/**
 * The fake's publisher of source files: for any declared source it renders the file a portal
 * would publish at the fake's clock, in the source's own dialect (its field names, delimiter,
 * decimal separator, encoding, time format and zone), with synthetic but plausible values
 * (SYNTHETIC, not real weather): three stations, one row per station and hour for the 48 hours
 * up to the clock's last full hour, and a column the mapping does not declare, as portals have.
 *
 * Served with ETag (a hash of the bytes) and Last-Modified (the newest row's hour), and 304
 * Not Modified for a matching If-None-Match or, without one, an If-Modified-Since not older
 * than Last-Modified, as RFC 9110 says. The file changes once an hour, when a row is added.
 */
import { createHash } from "node:crypto";
import { DateTime } from "luxon";
import type { SourceDefinition } from "../../sources";

/** A rendered file with the validators it is served with. */
export interface FakeSourceFile {
  readonly body: Uint8Array;
  readonly contentType: string;
  /** Absent: served without one, as some servers do. */
  readonly etag?: string;
  /** An HTTP date; absent: served without one. */
  readonly lastModified?: string;
}

/** The synthetic stations: an id, a name with the characters Latin-1 files have, a climate offset. */
export const FAKE_STATIONS = [
  { id: "00433", name: "Berlin-Tempelhof", offset: 0 },
  { id: "01262", name: "München-Flughafen", offset: -1.5 },
  { id: "01684", name: 'Görlitz; Ost "Neiße"', offset: -0.8 },
] as const;

/** Hours of data in each file. */
export const FAKE_SOURCE_HOURS = 48;

/** A field the fake adds to every file and no sample mapping declares (drift: ignored with a warning). */
export const FAKE_EXTRA_FIELD = "QN";

const HOUR_MS = 3_600_000;

/** A deterministic value in [0, 1) from text, so the same station and hour give the same value. */
function unit(text: string): number {
  const hash = createHash("sha256").update(text).digest();
  return hash.readUInt32BE(0) / 2 ** 32;
}

/** A plausible value for a column, by its unit. */
function measurement(
  unitText: string | undefined,
  column: string,
  station: (typeof FAKE_STATIONS)[number],
  millis: number,
): number | null {
  const hour = new Date(millis).getUTCHours();
  const noise = unit(`${station.id}|${column}|${millis}`);
  // Station 3 misses its humidity at 03 UTC: missing values are part of every real file.
  if (station.id === "01684" && hour === 3 && unitText === "%") return null;
  const daily = Math.sin(((hour - 9) / 24) * 2 * Math.PI);
  switch (unitText) {
    case "°C":
      return round(6 + station.offset + 5 * daily + 2 * noise, 1);
    case "%":
      return round(80 - 15 * daily + 5 * noise, 0);
    case "mm":
      return noise < 0.7 ? 0 : round((noise - 0.7) * 4, 1);
    case "hPa":
      return round(1013 + 8 * Math.sin(millis / (36 * HOUR_MS)) + noise, 1);
    case "km/h":
    case "m/s":
      return round(8 + 6 * noise, 1);
    default:
      return round(100 * noise, 2);
  }
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The rows of the file at `now`: per station, the FAKE_SOURCE_HOURS hours up to the last full hour. */
function rowTimes(now: Date): number[] {
  const last = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS;
  return Array.from({ length: FAKE_SOURCE_HOURS }, (_, i) => last - (FAKE_SOURCE_HOURS - 1 - i) * HOUR_MS);
}

function formatTime(millis: number, source: SourceDefinition): string {
  const dt = DateTime.fromMillis(millis, { zone: source.time.timezone });
  if (source.time.format === "iso8601") return dt.toISO({ suppressMilliseconds: true, includeOffset: true }) as string;
  return dt.toFormat(source.time.format, { locale: "en-US" });
}

type Cell = string | number | boolean | null;

/** The records of the file: one object per station and hour, keyed by the file's field names. */
export function fakeSourceRecords(
  source: SourceDefinition,
  now: Date,
): { fields: (string | number)[]; rows: Cell[][] } {
  const fields: (string | number)[] = [];
  const stringColumns = source.columns.filter((c) => c.type === "string");
  const idColumn = stringColumns.find((c) => source.key.includes(c.name)) ?? stringColumns[0];
  const nameColumn = stringColumns.find((c) => c !== idColumn);
  // The file's order: the id, the time, the rest as declared, then the undeclared extra.
  const order = [
    ...(idColumn ? [idColumn] : []),
    { time: true as const },
    ...source.columns.filter((c) => c !== idColumn),
  ];
  for (const entry of order) fields.push("time" in entry ? source.time.column : entry.from);
  const withExtra = source.format !== "csv" || source.header;
  if (withExtra) fields.push(FAKE_EXTRA_FIELD);
  const rows: Cell[][] = [];
  for (const station of FAKE_STATIONS) {
    for (const millis of rowTimes(now)) {
      const row: Cell[] = order.map((entry) => {
        if ("time" in entry) return formatTime(millis, source);
        if (entry === idColumn) return station.id;
        if (entry === nameColumn) return station.name;
        switch (entry.type) {
          case "string":
            return `${station.id}-${entry.name}`;
          case "double":
            return measurement(entry.unit, entry.name, station, millis);
          case "integer":
            return Math.round(measurement(undefined, entry.name, station, millis) ?? 0);
          case "boolean":
            return new Date(millis).getUTCHours() % 2 === 0;
          case "timestamp":
            return formatTime(millis, source);
        }
      });
      if (withExtra) row.push(3);
      rows.push(row);
    }
  }
  return { fields, rows };
}

function csvCell(value: Cell, source: SourceDefinition): string {
  if (value === null) return "";
  if (typeof value === "number") {
    const text = String(value);
    return source.decimal === "," ? text.replace(".", ",") : text;
  }
  const text = String(value);
  // Quoted when it must be, and station names always, as many portals do.
  const quote = /[";\r\n,]/.test(text) || text.includes(source.delimiter) || /[A-Za-z]/.test(text);
  return quote ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Renders the source's file as published at `now`. */
export function renderFakeSourceFile(source: SourceDefinition, now: Date): FakeSourceFile {
  const { fields, rows } = fakeSourceRecords(source, now);
  let text: string;
  let contentType: string;
  if (source.format === "csv") {
    const lines = rows.map((row) => row.map((cell) => csvCell(cell, source)).join(source.delimiter));
    if (source.header) lines.unshift(fields.map((f) => csvCell(String(f), source)).join(source.delimiter));
    // CRLF, as files made on Windows (and RFC 4180) have.
    text = `${lines.join("\r\n")}\r\n`;
    contentType = `text/csv; charset=${source.encoding === "latin1" ? "ISO-8859-1" : "utf-8"}`;
  } else {
    const objects = rows.map((row) => Object.fromEntries(fields.map((f, i) => [String(f), row[i] ?? null])));
    text =
      source.format === "json"
        ? `${JSON.stringify(objects, null, 1)}\n`
        : objects.map((o) => `${JSON.stringify(o)}\n`).join("");
    contentType = source.format === "json" ? "application/json" : "application/x-ndjson";
  }
  const body =
    source.format === "csv" && source.encoding === "latin1" ? Buffer.from(text, "latin1") : Buffer.from(text, "utf8");
  const times = rowTimes(now);
  return fakeFile(body, contentType, new Date(times[times.length - 1] as number));
}

/** A file with validators: ETag from the bytes, Last-Modified as given. */
export function fakeFile(body: Uint8Array, contentType: string, modified: Date): FakeSourceFile {
  return {
    body,
    contentType,
    etag: `"${createHash("sha256").update(body).digest("hex").slice(0, 16)}"`,
    lastModified: modified.toUTCString(),
  };
}

/** Whether a request's validators say the client already has `file` (RFC 9110 13.1.1, 13.1.3). */
export function isNotModified(
  file: FakeSourceFile,
  headers: { ifNoneMatch?: string; ifModifiedSince?: string },
): boolean {
  if (headers.ifNoneMatch !== undefined) {
    const strip = (tag: string) => tag.trim().replace(/^W\//, "");
    const etag = file.etag;
    return (
      etag !== undefined &&
      headers.ifNoneMatch.split(",").some((tag) => tag.trim() === "*" || strip(tag) === strip(etag))
    );
  }
  if (headers.ifModifiedSince !== undefined && file.lastModified !== undefined) {
    const since = Date.parse(headers.ifModifiedSince);
    return Number.isFinite(since) && Date.parse(file.lastModified) <= since;
  }
  return false;
}
