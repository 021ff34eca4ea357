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
import { PipelineError } from "../core/errors";

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

// ---------------------------------------------------------------------------------------------
// The fast path: the same checks, straight from the bytes into typed arrays
// ---------------------------------------------------------------------------------------------
//
// JSON.parse of a year of hourly data for 100 locations (~60 MB) builds ~10^7 boxed numbers
// and arrays, several hundred MB of heap that garbage collection then walks. The scanner below
// reads the same bytes once: number arrays go straight into Float64Arrays and time labels into
// epoch milliseconds, and only the small parts of a body (coordinates, units) go through
// JSON.parse. It is an optimization, not a second definition of a valid body: whenever it meets
// anything it does not handle, or a check fails, the element (or the whole in-memory body) is
// handed to the reference path above, which either accepts it or throws its usual error.

/** One block of a location with its values in typed arrays, as the transform consumes it. */
export interface ScannedBlock {
  readonly timeFormat: TimeFormat;
  readonly variables: readonly string[];
  readonly units: Readonly<Record<string, string>>;
  /** UTC instant of each step, epoch milliseconds (daily: local midnight). Strictly ascending. */
  readonly utcMillis: Float64Array;
  /** Local calendar day of each step, as days since 1970-01-01. */
  readonly localDays: Int32Array;
  /**
   * Values of each variable, in `variables` order, as doubles; time-valued ones as epoch
   * milliseconds. NaN stands for null: JSON has no NaN, so it never stands for a value.
   */
  readonly values: readonly Float64Array[];
}

/** One location of a body, with typed blocks. */
export interface ScannedLocation {
  /** 0-based position in the body (the requested coordinate's position). */
  readonly index: number;
  readonly latitude: number;
  readonly longitude: number;
  /** Null when the body has no `elevation`. */
  readonly elevation: number | null;
  readonly utcOffsetSeconds: number;
  /** `location_id`, sent from the 2nd element of a multi-location body on. */
  readonly locationId: number | undefined;
  readonly hourly: ScannedBlock | undefined;
  readonly daily: ScannedBlock | undefined;
}

/**
 * Parses and validates a raw body held in memory, as parseOpenMeteoResponse does (same rules,
 * same errors, same values), into typed arrays.
 */
export function scanOpenMeteoResponse(
  body: string | Uint8Array,
  source: string,
  expect: ResponseExpectation = {},
): ScannedLocation[] {
  const scanned = typeof body === "string" ? undefined : scanBodyBytes(body, expect);
  return scanned ?? parseOpenMeteoResponse(body, source, expect).map(scannedFromParsed);
}

/**
 * Parses and validates a body arriving in chunks (a file or network stream), one location at a
 * time: `onLocation` gets each location as soon as its element is complete, so memory holds one
 * element, never the body. Its arrays are reused for the next location: copy what you keep
 * before onLocation returns. The rules and values are parseOpenMeteoResponse's; errors are found
 * in body order (an element's error before a later element's), and a location count that
 * differs from `expect.locations` is reported at the end. Returns the number of locations.
 */
export async function scanOpenMeteoStream(
  chunks: AsyncIterable<Uint8Array>,
  source: string,
  expect: ResponseExpectation,
  onLocation: (location: ScannedLocation) => void,
): Promise<number> {
  const splitter = new ElementSplitter();
  const pool = new ArrayPool();
  let failure: { index: number; bytes: Uint8Array } | undefined;
  const take = (element: Uint8Array, index: number): void => {
    if (failure) return;
    const where: Where = { source, index, count: expect.locations ?? index + 1, isArray: splitter.isArray };
    pool.reset();
    const raw = parseElementBytes(element, 0, element.length, pool);
    let location = raw === undefined || isErrorObject(raw) ? undefined : scanLocation(raw, where, expect, pool);
    if (!location) {
      try {
        location = slowScanElement(element, where, expect);
      } catch {
        // Reported once the element count is known, so the error can say "location i of n".
        failure = { index, bytes: element.slice() };
        return;
      }
    }
    onLocation(location);
  };
  for await (const chunk of chunks) {
    splitter.push(chunk, take);
    if (splitter.malformed !== undefined) break;
  }
  const count = splitter.finish(take);
  if (failure) {
    const where: Where = { source, index: failure.index, count: expect.locations ?? count, isArray: splitter.isArray };
    slowScanElement(failure.bytes, where, expect);
    throw new OpenMeteoResponseError(source, `location ${failure.index + 1} could not be read twice alike`);
  }
  if (splitter.malformed !== undefined || !splitter.complete) {
    const reason = splitter.malformed === undefined ? "Unexpected end of JSON input" : "Unexpected token";
    throw new OpenMeteoResponseError(source, describeJsonError(splitter.malformed ?? "", new SyntaxError(reason)));
  }
  if (expect.locations !== undefined && count !== expect.locations) {
    throw new OpenMeteoResponseError(
      source,
      `expected ${expect.locations} locations (one per requested coordinate), got ${count}` +
        (splitter.isArray ? "" : " (a single object)"),
    );
  }
  return count;
}

/** A location of the reference parser, its values copied into typed arrays. */
function scannedFromParsed(location: ParsedLocation): ScannedLocation {
  const block = (b: ParsedBlock | undefined): ScannedBlock | undefined =>
    b && {
      timeFormat: b.timeFormat,
      variables: b.variables,
      units: b.units,
      utcMillis: b.utcMillis,
      localDays: b.localDays,
      values: b.values.map((values) => Float64Array.from(values, (v) => (v === null ? NaN : v))),
    };
  return { ...location, hourly: block(location.hourly), daily: block(location.daily) };
}

/** The reference path for one element of a stream: its error (thrown), or its location. */
function slowScanElement(bytes: Uint8Array, where: Where, expect: ResponseExpectation): ScannedLocation {
  const text = decodeUtf8(bytes, where.source);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new OpenMeteoResponseError(where.source, describeJsonError(text, error));
  }
  if (isErrorObject(json)) {
    const reason = json["reason"] ?? "(no reason given)";
    throw new OpenMeteoResponseError(
      where.source,
      `the body is an Open-Meteo error: ${typeof reason === "string" ? reason : JSON.stringify(reason)}`,
    );
  }
  return scannedFromParsed(parseLocation(json, where, expect));
}

function isErrorObject(value: unknown): value is Record<string, unknown> {
  return isRecord(value) && value["error"] === true;
}

/** The whole in-memory body on the fast path, or undefined for the reference path to decide. */
function scanBodyBytes(bytes: Uint8Array, expect: ResponseExpectation): ScannedLocation[] | undefined {
  const cursor = new ByteCursor(bytes, 0, bytes.length);
  cursor.skipSpace();
  const isArray = cursor.peek() === 0x5b; /* [ */
  const elements: unknown[] = [];
  if (isArray) {
    cursor.pos++;
    cursor.skipSpace();
    if (cursor.peek() === 0x5d /* ] */) {
      cursor.pos++;
    } else {
      for (;;) {
        const element = parseElement(cursor);
        if (element === undefined) return undefined;
        elements.push(element);
        cursor.skipSpace();
        const c = cursor.peek();
        cursor.pos++;
        if (c === 0x5d /* ] */) break;
        if (c !== 0x2c /* , */) return undefined;
        cursor.skipSpace();
      }
    }
  } else {
    const element = parseElement(cursor);
    if (element === undefined) return undefined;
    elements.push(element);
  }
  cursor.skipSpace();
  if (cursor.pos !== bytes.length) return undefined;
  if (elements.some(isErrorObject)) return undefined;
  if (expect.locations !== undefined && elements.length !== expect.locations) return undefined;
  const out: ScannedLocation[] = [];
  for (let index = 0; index < elements.length; index++) {
    const where: Where = { source: "", index, count: elements.length, isArray };
    const location = scanLocation(elements[index], where, expect);
    if (!location) return undefined;
    out.push(location);
  }
  return out;
}

/** parseLocation's checks on a scanned element; undefined wherever parseLocation would throw or could differ. */
function scanLocation(
  element: unknown,
  where: Where,
  expect: ResponseExpectation,
  pool?: ArrayPool,
): ScannedLocation | undefined {
  if (!isRecord(element)) return undefined;
  const { latitude, longitude, elevation } = element;
  const utcOffsetSeconds = element["utc_offset_seconds"];
  if (typeof latitude !== "number" || typeof longitude !== "number" || typeof utcOffsetSeconds !== "number") {
    return undefined;
  }
  if (!Number.isInteger(utcOffsetSeconds) || Math.abs(utcOffsetSeconds) > 86_400) return undefined;
  if (elevation !== undefined && elevation !== null && typeof elevation !== "number") return undefined;
  const locationId = element["location_id"];
  const blocks: Partial<Record<BlockName, ScannedBlock>> = {};
  for (const block of BLOCKS) {
    const request = expect[block];
    if (request === undefined || (request !== "all" && request.length === 0)) continue;
    if (request === "all" && element[block] === undefined) continue;
    const scanned = scanBlock(element, block, request, utcOffsetSeconds, pool);
    if (!scanned) return undefined;
    blocks[block] = scanned;
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

/** parseBlock's checks on a scanned block; undefined wherever parseBlock would throw. */
function scanBlock(
  element: Readonly<Record<string, unknown>>,
  block: BlockName,
  request: BlockRequest,
  offsetSeconds: number,
  pool: ArrayPool | undefined,
): ScannedBlock | undefined {
  const data = element[block];
  const unitsRaw = element[`${block}_units`];
  if (!isRecord(data) || !isRecord(unitsRaw)) return undefined;
  const timeFormat = unitsRaw["time"];
  if (timeFormat !== "iso8601" && timeFormat !== "unixtime") return undefined;
  const variables = request === "all" ? Object.keys(data).filter((k) => k !== "time") : request;

  const times = data["time"];
  if (!(times instanceof ScannedArray)) return undefined;
  const n = times.length;
  const utcMillis = pool ? pool.doublesFor(n).subarray(0, n) : new Float64Array(n);
  const localDays = pool ? pool.intsFor(n).subarray(0, n) : new Int32Array(n);
  const offsetMs = offsetSeconds * 1000;
  if (n > 0) {
    if (times.nulls > 0) return undefined;
    if (timeFormat === "unixtime") {
      if (times.kind !== "numbers") return undefined;
    } else if (times.kind !== "labels" || times.labelLength !== (block === "hourly" ? 16 : 10)) {
      return undefined;
    }
  }
  const t = times.data;
  let previous = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = t[i] as number;
    let utc: number;
    let day: number;
    if (timeFormat === "unixtime") {
      if (!Number.isInteger(v)) return undefined;
      utc = v * 1000;
      day = Math.floor((utc + offsetMs) / MS_PER_DAY);
    } else {
      utc = v - offsetMs;
      day = Math.floor(v / MS_PER_DAY);
    }
    if (!(utc > previous)) return undefined;
    previous = utc;
    utcMillis[i] = utc;
    localDays[i] = day;
  }

  const units: Record<string, string> = {};
  const values: Float64Array[] = [];
  for (const variable of variables) {
    const raw = data[variable];
    const unit = unitsRaw[variable];
    if (!(raw instanceof ScannedArray) || typeof unit !== "string" || raw.length !== n) return undefined;
    units[variable] = unit;
    const converted = scanValues(raw, unit, offsetMs, pool);
    if (!converted) return undefined;
    values.push(converted);
  }
  return { timeFormat, variables: [...variables], units, utcMillis, localDays, values };
}

/** readValues' checks and conversions on a scanned array; undefined wherever readValues would throw. */
function scanValues(
  raw: ScannedArray,
  unit: string,
  offsetMs: number,
  pool: ArrayPool | undefined,
): Float64Array | undefined {
  const v = raw.data;
  const n = raw.length;
  const allNull = raw.nulls === n;
  // Converted into a copy: a body may list one array under two names.
  if (unit === "iso8601") {
    if (allNull) return v;
    if (raw.kind !== "labels" || raw.labelLength !== 16) return undefined;
    const out = pool ? pool.doublesFor(n).subarray(0, n) : new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = (v[i] as number) - offsetMs; // NaN (null) stays NaN
    return out;
  }
  if (unit === "unixtime") {
    if (allNull) return v;
    if (raw.kind !== "numbers") return undefined;
    const out = pool ? pool.doublesFor(n).subarray(0, n) : new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const x = v[i] as number;
      if (x === x && !Number.isInteger(x)) return undefined;
      out[i] = x * 1000;
    }
    return out;
  }
  return raw.kind === "numbers" || allNull ? v : undefined;
}

/**
 * An array of a block read straight from the bytes: numbers, or `YYYY-MM-DD[THH:MM]` labels as
 * epoch milliseconds of the label read as UTC; NaN for each null.
 */
class ScannedArray {
  constructor(
    readonly kind: "numbers" | "labels",
    readonly data: Float64Array,
    readonly length: number,
    readonly nulls: number,
    /** For labels: the length every label has (10 or 16). */
    readonly labelLength: number,
  ) {}
}

/**
 * Typed arrays handed out again for each element of a stream: a stream's locations are consumed
 * one at a time, so the next element can reuse the previous one's arrays instead of leaving
 * ~1 MB of garbage per location (a year of hourly data) for the collector.
 */
class ArrayPool {
  private readonly doubles: Float64Array[] = [];
  private readonly ints: Int32Array[] = [];
  private nextDouble = 0;
  private nextInt = 0;

  /** Starts handing out the arrays from the first again. */
  reset(): void {
    this.nextDouble = 0;
    this.nextInt = 0;
  }

  /** The next pooled Float64Array with room for at least `n` values (its contents are stale). */
  doublesFor(n: number): Float64Array {
    const i = this.nextDouble++;
    let array = this.doubles[i];
    if (!array || array.length < n) {
      array = new Float64Array(Math.max(n, 1024));
      this.doubles[i] = array;
    }
    return array;
  }

  /** Replaces the Float64Array handed out last, which turned out too small. */
  replaceLastDoubles(array: Float64Array): void {
    this.doubles[this.nextDouble - 1] = array;
  }

  intsFor(n: number): Int32Array {
    const i = this.nextInt++;
    let array = this.ints[i];
    if (!array || array.length < n) {
      array = new Int32Array(Math.max(n, 1024));
      this.ints[i] = array;
    }
    return array;
  }
}

const POWERS_OF_TEN = [
  1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
  1e21, 1e22,
];

/** A position in bytes being parsed; every method returns undefined (or NaN) for "not handled here". */
class ByteCursor {
  /** Bytes of the last array read, grown as needed and reused across arrays of one element. */
  scratch: Float64Array;
  decoder: InstanceType<typeof TextDecoder> | undefined;

  constructor(
    readonly bytes: Uint8Array,
    public pos: number,
    readonly end: number,
    /** Where arrays come from in a stream (see ArrayPool); without one each array is a new copy. */
    readonly pool?: ArrayPool,
  ) {
    this.scratch = new Float64Array(0);
    this.decoder = undefined;
  }

  peek(): number {
    return this.pos < this.end ? (this.bytes[this.pos] as number) : -1;
  }

  skipSpace(): void {
    const b = this.bytes;
    let p = this.pos;
    while (p < this.end) {
      const c = b[p] as number;
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      p++;
    }
    this.pos = p;
  }

  /** Decodes bytes as strict UTF-8, or undefined. */
  text(start: number, end: number): string | undefined {
    this.decoder ??= new TextDecoder("utf-8", { fatal: true });
    try {
      return this.decoder.decode(this.bytes.subarray(start, end));
    } catch {
      return undefined;
    }
  }

  /** A JSON string at pos (the quote), or undefined. */
  string(): string | undefined {
    const b = this.bytes;
    const start = this.pos;
    let p = start + 1;
    let plain = true;
    for (;;) {
      if (p >= this.end) return undefined;
      const c = b[p] as number;
      if (c === 0x22) break;
      if (c < 0x20) return undefined;
      if (c === 0x5c /* \ */) {
        plain = false;
        p += 2;
      } else {
        if (c >= 0x80) plain = false;
        p++;
      }
    }
    this.pos = p + 1;
    if (plain) {
      let s = "";
      for (let i = start + 1; i < p; i++) s += String.fromCharCode(b[i] as number);
      return s;
    }
    return this.json(start, p + 1) as string | undefined;
  }

  /** JSON.parse of a byte range, or undefined when it is not valid JSON. */
  json(start: number, end: number): unknown {
    const text = this.text(start, end);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  }

  /** Moves past one JSON value of any kind without reading it; false if the bytes end first. */
  skipValue(): boolean {
    const b = this.bytes;
    let p = this.pos;
    let depth = 0;
    while (p < this.end) {
      const c = b[p] as number;
      if (c === 0x22) {
        p++;
        while (p < this.end && b[p] !== 0x22) p += b[p] === 0x5c ? 2 : 1;
        if (p >= this.end) return false;
        p++;
        if (depth === 0) break;
        continue;
      }
      if (c === 0x7b || c === 0x5b) {
        depth++;
      } else if (c === 0x7d || c === 0x5d) {
        if (depth === 0) break;
        depth--;
        if (depth === 0) {
          p++;
          break;
        }
      } else if (depth === 0 && (c === 0x2c || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) {
        break;
      }
      p++;
    }
    this.pos = p;
    return p <= this.end;
  }

  /** Any JSON value at pos, through JSON.parse (for the small parts of a body). */
  value(): { value: unknown } | undefined {
    const start = this.pos;
    if (!this.skipValue() || this.pos === start) return undefined;
    const value = this.json(start, this.pos);
    return value === undefined ? undefined : { value };
  }

  /**
   * A JSON number at pos, exactly as JSON.parse reads it. Up to 15 significant digits with at
   * most 22 decimals the value is digits / 10^decimals: both are exact doubles, so the one
   * rounding of the division gives the correctly rounded value, as the JSON parser does.
   * Longer numbers and exponents go through Number(). NaN when the bytes are not a number.
   */
  number(): number {
    const b = this.bytes;
    const start = this.pos;
    let p = start;
    let negative = false;
    if (b[p] === 0x2d /* - */) {
      negative = true;
      p++;
    }
    let mantissa = 0;
    let digits = 0;
    let c = b[p] as number;
    if (c === 0x30) {
      p++;
      c = b[p] as number;
      if (c >= 0x30 && c <= 0x39) return NaN; // leading zero
    } else if (c >= 0x31 && c <= 0x39) {
      do {
        mantissa = mantissa * 10 + (c - 0x30);
        digits++;
        c = b[++p] as number;
      } while (c >= 0x30 && c <= 0x39);
    } else {
      return NaN;
    }
    let decimals = 0;
    if (c === 0x2e /* . */) {
      c = b[++p] as number;
      if (!(c >= 0x30 && c <= 0x39)) return NaN;
      do {
        mantissa = mantissa * 10 + (c - 0x30);
        decimals++;
        c = b[++p] as number;
      } while (c >= 0x30 && c <= 0x39);
    }
    if (c === 0x65 || c === 0x45 /* e E */) {
      c = b[++p] as number;
      if (c === 0x2b || c === 0x2d) c = b[++p] as number;
      if (!(c >= 0x30 && c <= 0x39)) return NaN;
      do c = b[++p] as number;
      while (c >= 0x30 && c <= 0x39);
      digits = 99;
    }
    if (p > this.end) return NaN;
    this.pos = p;
    if (digits + decimals > 15 || decimals > 22) {
      let text = "";
      for (let i = start; i < p; i++) text += String.fromCharCode(b[i] as number);
      return Number(text);
    }
    const value = decimals === 0 ? mantissa : mantissa / (POWERS_OF_TEN[decimals] as number);
    return negative ? -value : value;
  }

  /**
   * A `"YYYY-MM-DD"` or `"YYYY-MM-DDTHH:MM"` label at pos as epoch milliseconds read as UTC,
   * with its length in `labelLength`; NaN if it is anything else (or not a real date).
   */
  label(previous: { key: number; day: number; length: number }): number {
    const b = this.bytes;
    const p = this.pos + 1;
    if (b[p + 4] !== 0x2d || b[p + 7] !== 0x2d) return NaN;
    const y = digitAt(b, p) * 1000 + digitAt(b, p + 1) * 100 + digitAt(b, p + 2) * 10 + digitAt(b, p + 3);
    const m = digitAt(b, p + 5) * 10 + digitAt(b, p + 6);
    const day = digitAt(b, p + 8) * 10 + digitAt(b, p + 9);
    let length: number;
    let minutes = 0;
    if (b[p + 10] === 0x22) {
      length = 10;
    } else if (b[p + 10] === 0x54 /* T */ && b[p + 13] === 0x3a /* : */ && b[p + 16] === 0x22) {
      length = 16;
      const h = digitAt(b, p + 11) * 10 + digitAt(b, p + 12);
      const min = digitAt(b, p + 14) * 10 + digitAt(b, p + 15);
      if (!(h <= 23 && min <= 59)) return NaN;
      minutes = h * 60 + min;
    } else {
      return NaN;
    }
    if (p + length >= this.end) return NaN;
    const key = y * 10_000 + m * 100 + day;
    if (key !== previous.key) {
      // NaN digits make the key NaN, which fails here.
      if (!(m >= 1 && m <= 12 && day >= 1 && day <= daysInMonth(y, m))) return NaN;
      previous.key = key;
      previous.day = daysFromCivil(y, m, day);
    }
    previous.length = length;
    this.pos = p + length + 1;
    return previous.day * MS_PER_DAY + minutes * 60_000;
  }

  /**
   * An array of numbers and nulls, or of labels and nulls, at pos (the bracket); undefined when
   * it holds anything else, for the caller to read it through JSON.parse.
   */
  scannedArray(): ScannedArray | undefined {
    const b = this.bytes;
    this.pos++;
    this.skipSpace();
    const pool = this.pool;
    let out = pool ? pool.doublesFor(0) : this.scratch.length > 0 ? this.scratch : new Float64Array(1024);
    let n = 0;
    let nulls = 0;
    let kind: "numbers" | "labels" | undefined;
    let labelLength = 0;
    const previous = { key: -1, day: 0, length: 0 };
    if (this.peek() === 0x5d) {
      this.pos++;
    } else {
      for (;;) {
        const c = b[this.pos] as number;
        let value: number;
        if (c === 0x6e /* n */) {
          if (b[this.pos + 1] !== 0x75 || b[this.pos + 2] !== 0x6c || b[this.pos + 3] !== 0x6c) return undefined;
          this.pos += 4;
          value = NaN;
          nulls++;
        } else if (c === 0x22 /* " */) {
          if (kind === "numbers") return undefined;
          kind = "labels";
          value = this.label(previous);
          if (Number.isNaN(value) || (labelLength !== 0 && previous.length !== labelLength)) return undefined;
          labelLength = previous.length;
        } else {
          if (kind === "labels") return undefined;
          kind = "numbers";
          // Inline fast path for what Open-Meteo writes (-12.3, 85); anything else (exponents,
          // 16+ digits, invalid JSON) goes through number(), which starts over at this.pos.
          let p = this.pos;
          const negative = c === 0x2d;
          if (negative) p++;
          let d = (b[p] as number) - 0x30;
          let mantissa = 0;
          let digits = 0;
          let decimals = 0;
          let plain = true;
          if (d === 0) {
            digits = 1;
            d = (b[++p] as number) - 0x30;
            if (d >= 0 && d <= 9) plain = false; // a leading zero: not JSON
          } else if (d >= 1 && d <= 9) {
            do {
              mantissa = mantissa * 10 + d;
              digits++;
              d = (b[++p] as number) - 0x30;
            } while (d >= 0 && d <= 9);
          } else {
            plain = false;
          }
          if (plain && d === 0x2e - 0x30) {
            d = (b[++p] as number) - 0x30;
            if (!(d >= 0 && d <= 9)) plain = false;
            while (d >= 0 && d <= 9) {
              mantissa = mantissa * 10 + d;
              decimals++;
              d = (b[++p] as number) - 0x30;
            }
          }
          if (plain && d !== 0x65 - 0x30 && d !== 0x45 - 0x30 && digits + decimals <= 15) {
            this.pos = p;
            const magnitude = decimals === 0 ? mantissa : mantissa / (POWERS_OF_TEN[decimals] as number);
            value = negative ? -magnitude : magnitude;
          } else {
            value = this.number();
            if (Number.isNaN(value)) return undefined;
          }
        }
        if (n === out.length) {
          const grown = new Float64Array(out.length * 2);
          grown.set(out);
          out = grown;
          pool?.replaceLastDoubles(grown);
        }
        out[n++] = value;
        // Inline skipSpace: the separator usually follows at once.
        let s = b[this.pos] as number;
        if (s === 0x20 || s === 0x0a || s === 0x0d || s === 0x09) {
          this.skipSpace();
          s = b[this.pos] as number;
        }
        this.pos++;
        if (s === 0x5d /* ] */) break;
        if (s !== 0x2c /* , */ || this.pos >= this.end) return undefined;
        s = b[this.pos] as number;
        if (s === 0x20 || s === 0x0a || s === 0x0d || s === 0x09) this.skipSpace();
      }
    }
    if (this.pos > this.end) return undefined;
    if (pool) return new ScannedArray(kind ?? "numbers", out.subarray(0, n), n, nulls, labelLength);
    this.scratch = out;
    return new ScannedArray(kind ?? "numbers", out.slice(0, n), n, nulls, labelLength);
  }
}

/** The decimal digit at `i`, or NaN. */
function digitAt(bytes: Uint8Array, i: number): number {
  const digit = (bytes[i] as number) - 0x30;
  return digit >= 0 && digit <= 9 ? digit : NaN;
}

/** One location element parsed from bytes: plain values, with `hourly`/`daily` arrays as ScannedArrays. */
function parseElementBytes(bytes: Uint8Array, start: number, end: number, pool?: ArrayPool): unknown {
  const cursor = new ByteCursor(bytes, start, end, pool);
  cursor.skipSpace();
  const element = parseElement(cursor);
  cursor.skipSpace();
  return cursor.pos === end ? element : undefined;
}

/** An element at the cursor: an object whose blocks are read into ScannedArrays, or any value through JSON.parse. */
function parseElement(cursor: ByteCursor): unknown {
  if (cursor.peek() !== 0x7b /* { */) return cursor.value()?.value;
  return parseObject(cursor, (key) => key === "hourly" || key === "daily");
}

/** An object at the cursor; members named by `scanned` are read as blocks. Undefined if not handled. */
function parseObject(
  cursor: ByteCursor,
  scanned: ((key: string) => boolean) | "arrays",
): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  cursor.pos++;
  cursor.skipSpace();
  if (cursor.peek() === 0x7d /* } */) {
    cursor.pos++;
    return out;
  }
  for (;;) {
    if (cursor.peek() !== 0x22) return undefined;
    const key = cursor.string();
    // "__proto__" would set the prototype here, where JSON.parse makes an own property.
    if (key === undefined || key === "__proto__") return undefined;
    cursor.skipSpace();
    if (cursor.peek() !== 0x3a /* : */) return undefined;
    cursor.pos++;
    cursor.skipSpace();
    const c = cursor.peek();
    let value: unknown;
    if (scanned === "arrays" && c === 0x5b) {
      const start = cursor.pos;
      value = cursor.scannedArray();
      if (value === undefined) {
        cursor.pos = start;
        value = cursor.value();
        if (value === undefined) return undefined;
        value = (value as { value: unknown }).value;
      }
    } else if (scanned !== "arrays" && c === 0x7b && scanned(key)) {
      value = parseObject(cursor, "arrays");
      if (value === undefined) return undefined;
    } else {
      const parsed = cursor.value();
      if (parsed === undefined) return undefined;
      value = parsed.value;
    }
    out[key] = value;
    cursor.skipSpace();
    const next = cursor.peek();
    cursor.pos++;
    if (next === 0x7d /* } */) return out;
    if (next !== 0x2c /* , */) return undefined;
    cursor.skipSpace();
  }
}

/** How many backslashes directly precede position `end` of a chunk, counting none before `from`. */
function backslashesBefore(chunk: Uint8Array, from: number, end: number): number {
  let count = 0;
  while (end - count - 1 >= from && chunk[end - count - 1] === 0x5c) count++;
  return count;
}

/**
 * Cuts a byte stream of one JSON object, or of an array of them, into its elements, without
 * parsing them: it follows only strings and bracket depth.
 */
class ElementSplitter {
  /** Whether the body is an array (else one object). */
  isArray: boolean;
  /** Whether the top-level value was closed. */
  complete: boolean;
  /** The text around the first byte that cannot be JSON, when one was found. */
  malformed: string | undefined;
  private state: "start" | "before-element" | "element" | "after-element" | "done";
  private depth: number;
  private inString: boolean;
  private escaped: boolean;
  private buffer: Uint8Array;
  private length: number;
  private count: number;
  /** 1 for the bytes that matter inside an element: quotes and brackets. */
  private readonly special: Uint8Array;

  constructor() {
    this.isArray = false;
    this.complete = false;
    this.malformed = undefined;
    this.state = "start";
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.buffer = new Uint8Array(1 << 16);
    this.length = 0;
    this.count = 0;
    this.special = new Uint8Array(256);
    for (const c of [0x22, 0x5b, 0x5d, 0x7b, 0x7d]) this.special[c] = 1;
  }

  /** Feeds a chunk; calls `take` with each element completed in it (a view valid during the call). */
  push(chunk: Uint8Array, take: (element: Uint8Array, index: number) => void): void {
    const n = chunk.length;
    let i = 0;
    while (i < n && this.malformed === undefined) {
      if (this.state === "element") {
        const start = i;
        let depth = this.depth;
        let inString = this.inString;
        let escaped = this.escaped;
        let closed = false;
        const special = this.special;
        for (; i < n; i++) {
          if (inString) {
            // Jump to the next quote; it ends the string unless an odd run of backslashes precedes it.
            if (escaped) {
              escaped = false;
              continue;
            }
            const quote = chunk.indexOf(0x22, i);
            const run = backslashesBefore(chunk, i, quote < 0 ? n : quote);
            if (quote < 0) {
              escaped = run % 2 === 1;
              i = n;
              break;
            }
            i = quote;
            if (run % 2 === 0) inString = false;
            continue;
          }
          if (depth > 0) {
            while (i < n && special[chunk[i] as number] === 0) i++;
            if (i === n) break;
          }
          const c = chunk[i] as number;
          if (c === 0x22) {
            inString = true;
          } else if (c === 0x7b || c === 0x5b) {
            depth++;
          } else if (c === 0x7d || c === 0x5d) {
            if (depth === 0) {
              closed = true; // a scalar element ends at the array's bracket
              break;
            }
            depth--;
            if (depth === 0) {
              i++;
              closed = true;
              break;
            }
          } else if (depth === 0 && (c === 0x2c || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09)) {
            closed = true;
            break;
          }
        }
        this.depth = depth;
        this.inString = inString;
        this.escaped = escaped;
        this.append(chunk, start, i);
        if (closed) {
          take(this.buffer.subarray(0, this.length), this.count++);
          this.length = 0;
          this.state = this.isArray ? "after-element" : "done";
          this.complete = !this.isArray;
        }
        continue;
      }
      const c = chunk[i] as number;
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        i++;
        continue;
      }
      if (this.state === "start") {
        this.isArray = c === 0x5b;
        if (this.isArray) i++;
        this.state = this.isArray ? "before-element" : "element";
      } else if (this.state === "before-element") {
        if (c === 0x5d && this.count === 0) {
          i++;
          this.state = "done";
          this.complete = true;
        } else {
          this.state = "element";
        }
      } else if (this.state === "after-element") {
        i++;
        if (c === 0x2c) {
          this.state = "before-element";
          if (i < n && chunk[i] === 0x5d) this.fail(chunk, i);
        } else if (c === 0x5d) {
          this.state = "done";
          this.complete = true;
        } else {
          this.fail(chunk, i - 1);
        }
      } else {
        this.fail(chunk, i);
      }
    }
  }

  /** Ends the stream; an unfinished last element is still handed over, for its error. Returns the element count. */
  finish(take: (element: Uint8Array, index: number) => void): number {
    if (this.state === "element" && this.length > 0 && this.malformed === undefined) {
      take(this.buffer.subarray(0, this.length), this.count++);
    }
    return this.count;
  }

  private append(chunk: Uint8Array, start: number, end: number): void {
    const needed = this.length + (end - start);
    if (needed > this.buffer.length) {
      const grown = new Uint8Array(Math.max(needed, this.buffer.length * 2));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    this.buffer.set(chunk.subarray(start, end), this.length);
    this.length = needed;
  }

  private fail(chunk: Uint8Array, at: number): void {
    this.malformed = new TextDecoder().decode(chunk.subarray(Math.max(0, at - 20), at + 20));
  }
}
