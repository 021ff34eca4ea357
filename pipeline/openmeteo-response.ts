/**
 * Parsing and validation of raw Open-Meteo response bodies (`/v1/forecast`, `/v1/archive`),
 * and the conversion of their time labels to UTC instants and local calendar days.
 *
 * Time contract of the API: with `timeformat=iso8601` (the default) `time` values are the
 * wall-clock time of the body's `timezone`, written without offset, and `utc_offset_seconds`
 * is ONE offset for the whole body; so UTC = label read as if UTC, minus that offset. With
 * `timeformat=unixtime` they are epoch seconds in UTC. The local calendar day of a step (the
 * `date=` partition it belongs to) is the date part of its label, or the date of t + offset.
 *
 * Labels are parsed arithmetically (no Date object per value): a year of hourly data for a
 * thousand locations is ~10^7 values.
 */
import { PipelineError } from "./errors";

/** The two `timeformat`s Open-Meteo writes `time` in. */
export type TimeFormat = "iso8601" | "unixtime";

/** The variables asked for in one block: a list (each must be present) or "all" the block holds. */
export type BlockRequest = readonly string[] | "all";

/** What a body is expected to contain. */
export interface ResponseExpectation {
  /** Hourly variables; an empty list or undefined means the hourly block is ignored. */
  readonly hourly?: BlockRequest;
  /** Daily variables; an empty list or undefined means the daily block is ignored. */
  readonly daily?: BlockRequest;
  /** Number of locations (one per requested coordinate); undefined accepts any. */
  readonly locations?: number;
}

/** One `hourly` or `daily` block of one location, validated and converted. */
export interface ParsedBlock {
  readonly timeFormat: TimeFormat;
  /** The variables, in request order (or body order for "all"). */
  readonly variables: readonly string[];
  /** Unit of each variable, from `<block>_units`. */
  readonly units: Readonly<Record<string, string>>;
  /** UTC instant of each step, epoch milliseconds (daily: local midnight). Strictly ascending. */
  readonly utcMillis: Float64Array;
  /** Local calendar day of each step, as days since 1970-01-01 (see isoDateOfDay). */
  readonly localDays: Int32Array;
  /** Values of each variable, in `variables` order; time-valued ones as epoch milliseconds. */
  readonly values: readonly (readonly (number | null)[])[];
}

/** One location of a body. */
export interface ParsedLocation {
  /** 0-based position in the body (the requested coordinate's position). */
  readonly index: number;
  readonly latitude: number;
  readonly longitude: number;
  /** Null when the body has no `elevation`. */
  readonly elevation: number | null;
  readonly utcOffsetSeconds: number;
  /** `location_id`, sent from the 2nd element of a multi-location body on. */
  readonly locationId: number | undefined;
  readonly hourly: ParsedBlock | undefined;
  readonly daily: ParsedBlock | undefined;
}

/** A body that is not what the request should have produced; the message names the source and the fix. */
export class OpenMeteoResponseError extends PipelineError {
  constructor(
    readonly source: string,
    detail: string,
  ) {
    super("OpenMeteoResponseError", `${source}: ${detail}`);
  }
}

const MS_PER_DAY = 86_400_000;
const BLOCKS = ["hourly", "daily"] as const;
type BlockName = (typeof BLOCKS)[number];

/**
 * Parses and validates a raw body (one object, or an array for several coordinates).
 * `source` (the raw object key or file name) prefixes every error message.
 */
export function parseOpenMeteoResponse(
  body: string | Uint8Array,
  source: string,
  expect: ResponseExpectation = {},
): ParsedLocation[] {
  const text = typeof body === "string" ? body : decodeUtf8(body, source);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new OpenMeteoResponseError(source, describeJsonError(text, error));
  }
  const elements = Array.isArray(json) ? json : [json];
  for (const element of elements) {
    if (isRecord(element) && element["error"] === true) {
      const reason = element["reason"] ?? "(no reason given)";
      throw new OpenMeteoResponseError(
        source,
        `the body is an Open-Meteo error: ${typeof reason === "string" ? reason : JSON.stringify(reason)}`,
      );
    }
  }
  if (expect.locations !== undefined && elements.length !== expect.locations) {
    throw new OpenMeteoResponseError(
      source,
      `expected ${expect.locations} locations (one per requested coordinate), got ${elements.length}` +
        (Array.isArray(json) ? "" : " (a single object)"),
    );
  }
  return elements.map((element, index) =>
    parseLocation(element, { source, index, count: elements.length, isArray: Array.isArray(json) }, expect),
  );
}

/** Days since 1970-01-01 of a proleptic Gregorian date (negative before 1970); H. Hinnant's days_from_civil. */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/** The `YYYY-MM-DD` date of a day number (days since 1970-01-01). */
export function isoDateOfDay(days: number): string {
  // One Date per distinct day (not per value), so plain Date arithmetic is fine here.
  return new Date(days * MS_PER_DAY).toISOString().slice(0, 10);
}

/** The day number (days since 1970-01-01) of a `YYYY-MM-DD` date; NaN if it is not a real date. */
export function dayOfIsoDate(date: string): number {
  return date.length === 10 ? dayOfDatePrefix(date) : NaN;
}

/** Epoch milliseconds of a `YYYY-MM-DDTHH:MM` label read as if it were UTC; NaN if malformed. */
export function millisOfLocalLabel(label: string): number {
  if (label.length !== 16 || label.charCodeAt(10) !== 84 /* T */ || label.charCodeAt(13) !== 58 /* : */) {
    return NaN;
  }
  const days = dayOfDatePrefix(label);
  const h = readDigits(label, 11, 2);
  const min = readDigits(label, 14, 2);
  if (!(h <= 23 && min <= 59)) return NaN;
  return days * MS_PER_DAY + (h * 60 + min) * 60_000;
}

interface Where {
  readonly source: string;
  readonly index: number;
  readonly count: number;
  readonly isArray: boolean;
}

function parseLocation(element: unknown, where: Where, expect: ResponseExpectation): ParsedLocation {
  const fail = (detail: string): never => {
    throw new OpenMeteoResponseError(where.source, detail);
  };
  const at = where.isArray ? ` in location ${where.index + 1} of ${where.count}` : "";
  if (!isRecord(element)) {
    return fail(`location ${where.index + 1} of ${where.count} is ${describe(element)}; expected an object`);
  }
  const latitude = requireNumber(element, "latitude", at, fail);
  const longitude = requireNumber(element, "longitude", at, fail);
  const utcOffsetSeconds = requireNumber(element, "utc_offset_seconds", at, fail);
  if (!Number.isInteger(utcOffsetSeconds) || Math.abs(utcOffsetSeconds) > 86_400) {
    fail(`utc_offset_seconds is ${utcOffsetSeconds}${at}; expected whole seconds within one day`);
  }
  const elevation = element["elevation"];
  if (elevation !== undefined && elevation !== null && typeof elevation !== "number") {
    fail(`elevation is ${describe(elevation)}${at}; expected a number`);
  }
  const locationId = element["location_id"];
  const blocks: Partial<Record<BlockName, ParsedBlock>> = {};
  for (const block of BLOCKS) {
    const request = expect[block];
    if (request === undefined || (request !== "all" && request.length === 0)) continue;
    if (request === "all" && element[block] === undefined) continue;
    blocks[block] = parseBlock(element, block, request, utcOffsetSeconds, where, fail);
  }
  return {
    index: where.index,
    latitude,
    longitude,
    elevation: typeof elevation === "number" ? elevation : null,
    utcOffsetSeconds,
    locationId: typeof locationId === "number" ? locationId : undefined,
    hourly: blocks.hourly,
    daily: blocks.daily,
  };
}

function parseBlock(
  element: Readonly<Record<string, unknown>>,
  block: BlockName,
  request: BlockRequest,
  offsetSeconds: number,
  where: Where,
  fail: (detail: string) => never,
): ParsedBlock {
  const from = where.isArray ? ` from location ${where.index + 1} of ${where.count}` : "";
  const at = where.isArray ? ` in location ${where.index + 1} of ${where.count}` : "";
  const data = element[block];
  const unitsRaw = element[`${block}_units`];
  if (!isRecord(data)) {
    return fail(
      data === undefined
        ? `the ${block} block is missing${from}; the request asked for ${block} variables ` +
            `(${request === "all" ? "all" : request.join(", ")})`
        : `${block} is ${describe(data)}${at}; expected an object of arrays`,
    );
  }
  if (!isRecord(unitsRaw)) {
    return fail(`${block}_units is ${describe(unitsRaw)}${at}; every ${block} block comes with its units`);
  }
  const timeFormat = unitsRaw["time"];
  if (timeFormat !== "iso8601" && timeFormat !== "unixtime") {
    return fail(
      `${block}_units.time is ${describe(timeFormat)}${at}; expected "iso8601" or "unixtime" ` +
        "(the timeformat request parameter)",
    );
  }
  const variables = request === "all" ? Object.keys(data).filter((k) => k !== "time") : request;

  const times = data["time"];
  if (!Array.isArray(times)) {
    return fail(`${block}.time is ${describe(times)}${at}; expected an array of time labels`);
  }
  const n = times.length;
  const utcMillis = new Float64Array(n);
  const localDays = new Int32Array(n);
  const offsetMs = offsetSeconds * 1000;
  for (let i = 0; i < n; i++) {
    const t: unknown = times[i];
    let utc: number;
    let day: number;
    if (timeFormat === "unixtime") {
      if (typeof t !== "number" || !Number.isInteger(t)) {
        return fail(`${block}.time[${i}] is ${describe(t)}${at}; with unit "unixtime" it must be whole epoch seconds`);
      }
      utc = t * 1000;
      day = Math.floor((utc + offsetMs) / MS_PER_DAY);
    } else {
      const local =
        typeof t !== "string" ? NaN : block === "hourly" ? millisOfLocalLabel(t) : dayOfIsoDate(t) * MS_PER_DAY;
      if (Number.isNaN(local)) {
        const shape = block === "hourly" ? "YYYY-MM-DDTHH:MM" : "YYYY-MM-DD";
        return fail(`${block}.time[${i}] is ${describe(t)}${at}; with unit "iso8601" it must be a local time ${shape}`);
      }
      utc = local - offsetMs;
      day = Math.floor(local / MS_PER_DAY);
    }
    if (i > 0 && !(utc > (utcMillis[i - 1] as number))) {
      return fail(
        `${block}.time[${i}] (${describe(t)}) is not after ${block}.time[${i - 1}] (${describe(times[i - 1])})${at}; ` +
          "Open-Meteo sends strictly ascending times: was the body edited or concatenated?",
      );
    }
    utcMillis[i] = utc;
    localDays[i] = day;
  }

  const units: Record<string, string> = {};
  const values: (readonly (number | null)[])[] = [];
  for (const variable of variables) {
    const raw = data[variable];
    if (raw === undefined) {
      return fail(
        `${block}.${variable} is missing${from}; the request asked for it ` +
          "(is the variable name right for this endpoint?)",
      );
    }
    const unit = unitsRaw[variable];
    if (typeof unit !== "string") {
      return fail(`${block}_units.${variable} is ${describe(unit)}${at}; every variable comes with its unit`);
    }
    if (!Array.isArray(raw)) {
      return fail(`${block}.${variable} is ${describe(raw)}${at}; expected an array of ${n} values`);
    }
    if (raw.length !== n) {
      return fail(
        `${block}.${variable} has ${raw.length} values but ${block}.time has ${n}${at}; ` +
          "every variable must have one value per time step (was the body truncated?)",
      );
    }
    units[variable] = unit;
    values.push(readValues(raw, `${block}.${variable}`, unit, offsetMs, at, fail));
  }
  return { timeFormat, variables: [...variables], units, utcMillis, localDays, values };
}

/** Validates one variable's values; converts time-valued ones (by unit) to epoch milliseconds. */
function readValues(
  raw: readonly unknown[],
  path: string,
  unit: string,
  offsetMs: number,
  at: string,
  fail: (detail: string) => never,
): (number | null)[] {
  const n = raw.length;
  if (unit === "iso8601" || unit === "unixtime") {
    const out = new Array<number | null>(n);
    for (let i = 0; i < n; i++) {
      const v = raw[i];
      if (v === null) {
        out[i] = null;
      } else if (unit === "unixtime" && typeof v === "number" && Number.isInteger(v)) {
        out[i] = v * 1000;
      } else {
        const local = unit === "iso8601" && typeof v === "string" ? millisOfLocalLabel(v) : NaN;
        if (Number.isNaN(local)) {
          return fail(
            `${path}[${i}] is ${describe(v)}${at}; with unit ${JSON.stringify(unit)} values must be ` +
              (unit === "iso8601" ? "local times YYYY-MM-DDTHH:MM" : "whole epoch seconds") +
              " or null",
          );
        }
        out[i] = local - offsetMs;
      }
    }
    return out;
  }
  for (let i = 0; i < n; i++) {
    const v = raw[i];
    if (v !== null && typeof v !== "number") {
      return fail(
        `${path}[${i}] is ${describe(v)}${at}; values must be numbers or null ` +
          `(unit ${JSON.stringify(unit)}; only "iso8601"/"unixtime" variables may hold times)`,
      );
    }
  }
  // Validated in place: no copy of the largest arrays.
  return raw as (number | null)[];
}

function requireNumber(
  element: Readonly<Record<string, unknown>>,
  key: string,
  at: string,
  fail: (detail: string) => never,
): number {
  const value = element[key];
  if (typeof value !== "number") {
    return fail(`${key} is ${describe(value)}${at}; expected a number (is this an Open-Meteo forecast/archive body?)`);
  }
  return value;
}

function decodeUtf8(bytes: Uint8Array, source: string): string {
  try {
    // Created per call: module-level objects do not survive Pulumi's closure serialization.
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new OpenMeteoResponseError(source, "not valid UTF-8; Open-Meteo sends UTF-8 JSON (was the body re-encoded?)");
  }
}

function describeJsonError(text: string, error: unknown): string {
  const reason = error instanceof Error ? error.message : String(error);
  const nan = /\b(?:nan|NaN|-?Infinity)\b/.exec(text);
  if (!nan) return `not valid JSON (${reason})`;
  const near = text.slice(Math.max(0, nan.index - 20), nan.index + nan[0].length + 20);
  return (
    `not valid JSON (${reason}; near "…${near}…"): Open-Meteo has been seen to write ${nan[0]} for a ` +
    "coordinate outside a model's domain; check that location's coordinates against the endpoint's models"
  );
}

/** Day number of the `YYYY-MM-DD` at the start of `s` (no substring: this runs per value). */
function dayOfDatePrefix(s: string): number {
  if (s.charCodeAt(4) !== 45 /* - */ || s.charCodeAt(7) !== 45) return NaN;
  const y = readDigits(s, 0, 4);
  const m = readDigits(s, 5, 2);
  const d = readDigits(s, 8, 2);
  if (!(m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m))) return NaN;
  return daysFromCivil(y, m, d);
}

function readDigits(s: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const digit = s.charCodeAt(i) - 48;
    if (!(digit >= 0 && digit <= 9)) return NaN;
    value = value * 10 + digit;
  }
  return value;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return "missing";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === "object" && value !== null) return "an object";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}
