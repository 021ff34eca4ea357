/**
 * The parser of raw Open-Meteo response bodies (`/v1/forecast`, `/v1/archive`), and the
 * conversion of their time labels to UTC instants and local calendar days.
 *
 * Time contract of the API: with `timeformat=iso8601` (the default) `time` values are the
 * wall-clock time of the body's `timezone`, written without offset, and `utc_offset_seconds`
 * is ONE offset for the whole body; so UTC = label read as if UTC, minus that offset. With
 * `timeformat=unixtime` they are epoch seconds in UTC. The local calendar day of a step (the
 * `date=` partition it belongs to) is the date part of its label, or the date of t + offset.
 *
 * Why a scanner of its own rather than JSON.parse: a year of hourly data for 100 locations is
 * ~60 MB and ~10^7 numbers, which JSON.parse needs in memory at once and turns into boxed values
 * (several hundred MB of heap for the collector to walk). The scanner reads the body as a stream,
 * holds one location (one element of the array) at a time, and reads number arrays straight into
 * Float64Arrays and time labels into epoch milliseconds. It is strict JSON: what JSON.parse
 * rejects it rejects too, and every error names the source, the byte, the location, the field and
 * the value, and what to do.
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

/** One `hourly` or `daily` block of a location, validated, with its values in typed arrays. */
export interface ScannedBlock {
  readonly timeFormat: TimeFormat;
  /** The variables, in request order (or body order for "all"). */
  readonly variables: readonly string[];
  /** Unit of each variable, from `<block>_units`. */
  readonly units: Readonly<Record<string, string>>;
  /** UTC instant of each step, epoch milliseconds (daily: local midnight). Strictly ascending. */
  readonly utcMillis: Float64Array;
  /** Local calendar day of each step, as days since 1970-01-01 (see isoDateOfDay). */
  readonly localDays: Int32Array;
  /**
   * Values of each variable, in `variables` order, as doubles; time-valued ones as epoch
   * milliseconds. NaN stands for null: JSON has no NaN, so it never stands for a value.
   */
  readonly values: readonly Float64Array[];
}

/** One location of a body. */
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
/** Objects and arrays nested deeper than this are not an Open-Meteo body (it nests three levels). */
const MAX_DEPTH = 64;

/**
 * Parses and validates a body arriving in chunks (a file or network stream, or one chunk for a
 * body in memory), one location at a time: `onLocation` gets each location as soon as its
 * element is complete, so memory holds one element, never the body. Its arrays are reused for
 * the next location: copy what you keep before onLocation returns. Returns the number of
 * locations. `source` (the raw object key or file name) prefixes every error message.
 *
 * Errors are reported as JSON.parse would rank them: a body that is not JSON (or not UTF-8) is
 * reported as such, whatever else is wrong with it; then an Open-Meteo error body; then a
 * location count other than `expect.locations`; then the first location that is not what was
 * requested, as "location i of n" (so the whole body is read first, every element to its end).
 * onLocation may have been called for the locations before a bad one.
 */
export async function scanOpenMeteoStream(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  source: string,
  expect: ResponseExpectation,
  onLocation: (location: ScannedLocation) => void,
): Promise<number> {
  const splitter = new ElementSplitter(source);
  const reader = new ElementReader(source, expect.locations);
  let errorReason: string | undefined;
  let problem: LocationProblem | undefined;
  const take = (bytes: Uint8Array, index: number, offset: number, cut: boolean): void => {
    const element = reader.read(bytes, index, offset, splitter.isArray, cut);
    if (isRecord(element) && element["error"] === true) {
      const reason = element["reason"] ?? "(no reason given)";
      errorReason ??= typeof reason === "string" ? reason : JSON.stringify(reason);
      return;
    }
    if (errorReason !== undefined || problem || (expect.locations !== undefined && index >= expect.locations)) return;
    let location: ScannedLocation;
    try {
      location = checkLocation(element, index, expect, reader.pool);
    } catch (error) {
      if (!(error instanceof LocationProblem)) throw error;
      problem = error;
      return;
    }
    onLocation(location);
  };
  for await (const chunk of chunks) splitter.push(chunk, take);
  const count = splitter.finish(take);
  if (errorReason !== undefined) {
    throw new OpenMeteoResponseError(source, `the body is an Open-Meteo error: ${errorReason}`);
  }
  if (expect.locations !== undefined && count !== expect.locations) {
    throw new OpenMeteoResponseError(
      source,
      `expected ${expect.locations} locations (one per requested coordinate), got ${count}` +
        (splitter.isArray ? "" : " (a single object)"),
    );
  }
  if (problem) {
    const name = `location ${problem.index + 1} of ${count}`;
    const array = splitter.isArray;
    throw new OpenMeteoResponseError(
      source,
      problem.render({ name, at: array ? ` in ${name}` : "", from: array ? ` from ${name}` : "" }),
    );
  }
  return count;
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

/** The `YYYY-MM-DD` date of a day number (days since 1970-01-01); one Date per day, not per value. */
export function isoDateOfDay(days: number): string {
  return new Date(days * MS_PER_DAY).toISOString().slice(0, 10);
}

/** The day number (days since 1970-01-01) of a `YYYY-MM-DD` date; NaN if it is not a real date. */
export function dayOfIsoDate(date: string): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return NaN;
  const [y, m, d] = [+date.slice(0, 4), +date.slice(5, 7), +date.slice(8, 10)];
  return m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m) ? daysFromCivil(y, m, d) : NaN;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

// ---------------------------------------------------------------------------------------------
// Validation of one location: what the request asked for, with messages naming path and value
// ---------------------------------------------------------------------------------------------

/** Where a problem is, once the number of locations is known. */
interface Place {
  /** "location i of n". */
  readonly name: string;
  /** " in location i of n" for an array body, else "". */
  readonly at: string;
  /** " from location i of n" for an array body, else "". */
  readonly from: string;
}

/**
 * A location that is valid JSON but not what was requested. Its message waits for the end of
 * the body (it says "location i of n") and for the errors that outrank it.
 */
class LocationProblem extends PipelineError {
  constructor(
    readonly index: number,
    readonly render: (place: Place) => string,
  ) {
    super("LocationProblem", render({ name: `location ${index + 1}`, at: "", from: "" }));
  }
}

function checkLocation(element: unknown, index: number, expect: ResponseExpectation, pool: ArrayPool): ScannedLocation {
  const fail = (render: (place: Place) => string): never => {
    throw new LocationProblem(index, render);
  };
  if (!isRecord(element)) return fail((p) => `${p.name} is ${describe(element)}; expected an object`);
  const number = (key: string): number => {
    const value = element[key];
    if (typeof value === "number") return value;
    return fail(
      (p) => `${key} is ${describe(value)}${p.at}; expected a number (is this an Open-Meteo forecast/archive body?)`,
    );
  };
  const latitude = number("latitude");
  const longitude = number("longitude");
  const utcOffsetSeconds = number("utc_offset_seconds");
  if (!Number.isInteger(utcOffsetSeconds) || Math.abs(utcOffsetSeconds) > 86_400) {
    fail((p) => `utc_offset_seconds is ${utcOffsetSeconds}${p.at}; expected whole seconds within one day`);
  }
  const elevation = element["elevation"];
  if (elevation !== undefined && elevation !== null && typeof elevation !== "number") {
    fail((p) => `elevation is ${describe(elevation)}${p.at}; expected a number`);
  }
  const locationId = element["location_id"];
  const blocks: Partial<Record<BlockName, ScannedBlock>> = {};
  for (const block of BLOCKS) {
    const request = expect[block];
    if (request === undefined || (request !== "all" && request.length === 0)) continue;
    if (request === "all" && element[block] === undefined) continue;
    blocks[block] = checkBlock(element, block, request, utcOffsetSeconds * 1000, pool, fail);
  }
  return {
    index,
    latitude,
    longitude,
    elevation: typeof elevation === "number" ? elevation : null,
    utcOffsetSeconds,
    locationId: typeof locationId === "number" ? locationId : undefined,
    hourly: blocks.hourly,
    daily: blocks.daily,
  };
}

type Fail = (render: (place: Place) => string) => never;

function checkBlock(
  element: Readonly<Record<string, unknown>>,
  block: BlockName,
  request: BlockRequest,
  offsetMs: number,
  pool: ArrayPool,
  fail: Fail,
): ScannedBlock {
  const data = element[block];
  const unitsRaw = element[`${block}_units`];
  if (!isRecord(data)) {
    return fail((p) =>
      data === undefined
        ? `the ${block} block is missing${p.from}; the request asked for ${block} variables ` +
          `(${request === "all" ? "all" : request.join(", ")})`
        : `${block} is ${describe(data)}${p.at}; expected an object of arrays`,
    );
  }
  if (!isRecord(unitsRaw)) {
    return fail((p) => `${block}_units is ${describe(unitsRaw)}${p.at}; every ${block} block comes with its units`);
  }
  const timeFormat = unitsRaw["time"];
  if (timeFormat !== "iso8601" && timeFormat !== "unixtime") {
    return fail(
      (p) =>
        `${block}_units.time is ${describe(timeFormat)}${p.at}; expected "iso8601" or "unixtime" ` +
        "(the timeformat request parameter)",
    );
  }
  const variables = request === "all" ? Object.keys(data).filter((k) => k !== "time") : request;
  const { utcMillis, localDays } = checkTimes(data["time"], block, timeFormat, offsetMs, pool, fail);
  const n = utcMillis.length;
  const units: Record<string, string> = {};
  const values: Float64Array[] = [];
  for (const variable of variables) {
    const raw = data[variable];
    if (raw === undefined) {
      return fail(
        (p) =>
          `${block}.${variable} is missing${p.from}; the request asked for it ` +
          "(is the variable name right for this endpoint?)",
      );
    }
    const unit = unitsRaw[variable];
    if (typeof unit !== "string") {
      return fail((p) => `${block}_units.${variable} is ${describe(unit)}${p.at}; every variable comes with its unit`);
    }
    if (!isScanned(raw) && !Array.isArray(raw)) {
      return fail((p) => `${block}.${variable} is ${describe(raw)}${p.at}; expected an array of ${n} values`);
    }
    if (raw.length !== n) {
      return fail(
        (p) =>
          `${block}.${variable} has ${raw.length} values but ${block}.time has ${n}${p.at}; ` +
          "every variable must have one value per time step (was the body truncated?)",
      );
    }
    units[variable] = unit;
    values.push(checkValues(raw, `${block}.${variable}`, unit, offsetMs, pool, fail));
  }
  return { timeFormat, variables: [...variables], units, utcMillis, localDays, values };
}

/**
 * The UTC instants and local days of a block's `time`, checked to be labels of the format and
 * ascending: straight from the typed array in the common case, else value by value (for the
 * message). The days take half of a pooled array's bytes.
 */
function checkTimes(
  times: unknown,
  block: BlockName,
  format: TimeFormat,
  offsetMs: number,
  pool: ArrayPool,
  fail: Fail,
): { utcMillis: Float64Array; localDays: Int32Array } {
  if (!isScanned(times) && !Array.isArray(times)) {
    return fail((p) => `${block}.time is ${describe(times)}${p.at}; expected an array of time labels`);
  }
  const n = times.length;
  const utcMillis = pool.doubles(n).subarray(0, n);
  const localDays = new Int32Array(pool.doubles(n).buffer, 0, n);
  const labelLength = format === "unixtime" ? 0 : block === "hourly" ? 16 : 10;
  const typed =
    isScanned(times) &&
    times.nulls === 0 &&
    (labelLength === 0 ? times.kind === "numbers" : times.kind === "labels" && times.labelLength === labelLength)
      ? times
      : undefined;
  for (let i = 0; i < n; i++) {
    let t = typed ? (typed[i] as number) : timeValue(valueAt(times, i), labelLength);
    if (labelLength === 0 && !Number.isInteger(t)) t = NaN;
    if (Number.isNaN(t)) {
      const value = describe(valueAt(times, i));
      return fail((p) =>
        labelLength === 0
          ? `${block}.time[${i}] is ${value}${p.at}; with unit "unixtime" it must be whole epoch seconds`
          : `${block}.time[${i}] is ${value}${p.at}; with unit "iso8601" it must be a local time ` +
            (block === "hourly" ? "YYYY-MM-DDTHH:MM" : "YYYY-MM-DD"),
      );
    }
    const utc = labelLength === 0 ? t * 1000 : t - offsetMs;
    if (i > 0 && !(utc > (utcMillis[i - 1] as number))) {
      const [previous, current] = [describe(valueAt(times, i - 1)), describe(valueAt(times, i))];
      return fail(
        (p) =>
          `${block}.time[${i}] (${current}) is not after ${block}.time[${i - 1}] (${previous})${p.at}; ` +
          "Open-Meteo sends strictly ascending times: was the body edited or concatenated?",
      );
    }
    utcMillis[i] = utc;
    localDays[i] = Math.floor((labelLength === 0 ? utc + offsetMs : t) / MS_PER_DAY);
  }
  return { utcMillis, localDays };
}

/**
 * One variable's values as doubles (NaN for null), checked against its unit. Measurements are
 * the scanned array itself (no copy of the largest arrays); time-valued ones ("iso8601",
 * "unixtime") are converted to epoch milliseconds in a pooled copy, the scanned array being its
 * name's alone.
 */
function checkValues(
  raw: ScannedArray | readonly unknown[],
  path: string,
  unit: string,
  offsetMs: number,
  pool: ArrayPool,
  fail: Fail,
): Float64Array {
  const n = raw.length;
  const scanned = isScanned(raw) ? raw : undefined;
  const allNull = scanned !== undefined && scanned.nulls === n;
  if (unit !== "iso8601" && unit !== "unixtime") {
    if (scanned && (scanned.kind === "numbers" || allNull)) return scanned;
    let i = 0;
    while (i < n && (valueAt(raw, i) === null || typeof valueAt(raw, i) === "number")) i++;
    const value = describe(valueAt(raw, i));
    return fail(
      (p) =>
        `${path}[${i}] is ${value}${p.at}; values must be numbers or null ` +
        `(unit ${JSON.stringify(unit)}; only "iso8601"/"unixtime" variables may hold times)`,
    );
  }
  const labels = unit === "iso8601";
  const typed =
    scanned &&
    (allNull || (labels ? scanned.kind === "labels" && scanned.labelLength === 16 : scanned.kind === "numbers"))
      ? scanned
      : undefined;
  const out = pool.doubles(n).subarray(0, n);
  for (let i = 0; i < n; i++) {
    const v = typed ? (typed[i] as number) : valueAt(raw, i);
    if (v === null || (typed && Number.isNaN(v))) {
      out[i] = NaN;
      continue;
    }
    const t = typeof v === "number" && typed ? v : timeValue(v, labels ? 16 : 0);
    if (Number.isNaN(t) || (!labels && !Number.isInteger(t))) {
      const value = describe(valueAt(raw, i));
      return fail(
        (p) =>
          `${path}[${i}] is ${value}${p.at}; with unit ${JSON.stringify(unit)} values must be ` +
          (labels ? "local times YYYY-MM-DDTHH:MM" : "whole epoch seconds") +
          " or null",
      );
    }
    out[i] = labels ? t - offsetMs : t * 1000;
  }
  return out;
}

/**
 * A time value given as plain data: epoch seconds (labelLength 0), or a label of that length as
 * epoch milliseconds read as if UTC; NaN for anything else. Labels go through the scanner's own
 * label reader, as JSON bytes: one definition of a label.
 */
function timeValue(value: unknown, labelLength: number): number {
  if (labelLength === 0) return typeof value === "number" ? value : NaN;
  if (typeof value !== "string" || value.length !== labelLength) return NaN;
  const reader = new ElementReader("", undefined);
  reader.bytes = new TextEncoder().encode(JSON.stringify(value));
  reader.end = reader.bytes.length;
  return reader.label({ key: -1, day: 0, length: 0 });
}

/** The value at `i` as JSON gives it: a number, null, or the label text. */
function valueAt(array: ScannedArray | readonly unknown[], i: number): unknown {
  if (!isScanned(array)) return array[i];
  const v = array[i] as number;
  if (Number.isNaN(v)) return null;
  return array.kind === "numbers" ? v : new Date(v).toISOString().slice(0, array.labelLength);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !isScanned(value);
}

function describe(value: unknown): string {
  if (value === undefined) return "missing";
  if (Array.isArray(value) || isScanned(value)) return `an array of ${value.length}`;
  if (typeof value === "object" && value !== null) return "an object";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

// ---------------------------------------------------------------------------------------------
// The scanner: elements cut from the stream, each read as strict JSON
// ---------------------------------------------------------------------------------------------

/**
 * An array of a block read straight from the bytes, as the (pooled) doubles themselves:
 * numbers, or `YYYY-MM-DD[THH:MM]` labels as epoch milliseconds of the label read as UTC; NaN
 * for each null. `labelLength` is the length every label has (10 or 16). Arrays holding anything
 * else are read as plain arrays (they are reported if the request uses them).
 */
type ScannedArray = Float64Array & {
  readonly kind: "numbers" | "labels";
  readonly nulls: number;
  readonly labelLength: number;
};

function isScanned(value: unknown): value is ScannedArray {
  return value instanceof Float64Array;
}

/**
 * Typed arrays handed out again for each element of a stream: a stream's locations are consumed
 * one at a time, so the next element can reuse the previous one's arrays instead of leaving
 * ~1 MB of garbage per location (a year of hourly data) for the collector.
 */
class ArrayPool {
  private readonly arrays: Float64Array[] = [];
  /** The next array to hand out; 0 starts over with the first. */
  next = 0;

  /** The next pooled Float64Array with room for at least `n` values (its contents are stale). */
  doubles(n: number): Float64Array {
    let array = this.arrays[this.next];
    if (!array || array.length < n) {
      array = new Float64Array(Math.max(n, 1024));
      this.arrays[this.next] = array;
    }
    this.next++;
    return array;
  }

  /** Replaces the array handed out last, which turned out too small. */
  replaceLast(array: Float64Array): void {
    this.arrays[this.next - 1] = array;
  }
}

/** The digit at byte i of a label, NaN for any other byte (so a bad label's key is NaN). */
function digitAt(b: Uint8Array, i: number): number {
  const digit = (b[i] as number) - 0x30;
  return digit >= 0 && digit <= 9 ? digit : NaN;
}

/** Makes `previous` the day of date `key` (y, m, day); false if that is not a real date. */
function startDay(previous: { key: number; day: number }, key: number, y: number, m: number, day: number): boolean {
  if (!(m >= 1 && m <= 12 && day >= 1 && day <= daysInMonth(y, m))) return false;
  previous.key = key;
  previous.day = daysFromCivil(y, m, day);
  return true;
}

const POWERS_OF_TEN = [
  1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
  1e21, 1e22,
];

const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

/**
 * Reads one element (a location) of a body as strict JSON: objects as records, with the arrays
 * of its `hourly` and `daily` blocks as ScannedArrays; any error is thrown at once, naming the
 * byte, the location and the path.
 */
class ElementReader {
  bytes: Uint8Array;
  pos: number;
  end: number;
  readonly pool: ArrayPool;
  /** Where the element starts in the body, for messages. */
  private offset: number;
  private index: number;
  private isArray: boolean;
  /** Whether the body ended inside this element. */
  private cut: boolean;
  /** The keys and indexes leading to the value being read, for messages. */
  private readonly path: string[];
  /** The element's top-level members read so far (its coordinates, for messages). */
  private head: Record<string, unknown>;
  private decoder: InstanceType<typeof TextDecoder> | undefined;

  constructor(
    readonly source: string,
    /** The expected number of locations, for "location i of n" before the body's end. */
    readonly expected: number | undefined,
  ) {
    this.bytes = new Uint8Array(0);
    this.pos = 0;
    this.end = 0;
    this.pool = new ArrayPool();
    this.offset = 0;
    this.index = 0;
    this.isArray = false;
    this.cut = false;
    this.path = [];
    this.head = {};
    this.decoder = undefined;
  }

  /** The element in `bytes` (which must hold exactly one JSON value, spaces around it allowed). */
  read(bytes: Uint8Array, index: number, offset: number, isArray: boolean, cut: boolean): unknown {
    this.bytes = bytes;
    this.end = bytes.length;
    this.pos = 0;
    this.offset = offset;
    this.index = index;
    this.isArray = isArray;
    this.cut = cut;
    this.path.length = 0;
    this.head = {};
    this.pool.next = 0;
    this.skipSpace();
    const value = this.bytes[this.pos] === 0x7b ? this.container(1, 0) : this.value(0);
    this.skipSpace();
    if (this.pos < this.end) this.unexpected(this.pos);
    return value;
  }

  private skipSpace(): void {
    const b = this.bytes;
    let p = this.pos;
    while (p < this.end) {
      const c = b[p] as number;
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      p++;
    }
    this.pos = p;
  }

  /** Any JSON value at pos. */
  private value(depth: number): unknown {
    const c = this.bytes[this.pos];
    if (c === 0x7b || c === 0x5b) return this.container(0, depth);
    if (c === 0x22 /* " */) return this.string();
    const word = c === 0x74 ? "true" : c === 0x66 ? "false" : c === 0x6e ? "null" : "";
    if (word !== "") {
      for (let i = 0; i < word.length; i++) {
        if (this.bytes[this.pos + i] !== word.charCodeAt(i)) this.unexpected(this.pos);
      }
      this.pos += word.length;
      return word === "null" ? null : word === "true";
    }
    const value = this.number();
    if (Number.isNaN(value)) this.unexpected(this.pos);
    return value;
  }

  /**
   * An object (a record) or array at pos. Mode 1 is the element itself: its `hourly`/`daily`
   * objects are read in mode 2, whose arrays become ScannedArrays. Mode 0 is anything else.
   * As JSON.parse, "__proto__" becomes an own member, not the prototype.
   */
  private container(mode: 0 | 1 | 2, depth: number): Record<string, unknown> | unknown[] {
    if (depth >= MAX_DEPTH) this.fail(this.pos, `objects and arrays nested deeper than ${MAX_DEPTH} levels`);
    const array = this.bytes[this.pos] === 0x5b;
    const close = array ? 0x5d : 0x7d;
    const out: Record<string, unknown> | unknown[] = array ? [] : mode === 1 ? this.head : {};
    this.pos++;
    this.skipSpace();
    if (this.bytes[this.pos] === close) {
      this.pos++;
      return out;
    }
    for (let i = 0; ; i++) {
      let key = `[${i}]`;
      if (!array) {
        if (this.bytes[this.pos] !== 0x22) this.unexpected(this.pos, "a member name in quotes");
        key = this.string();
        this.skipSpace();
        if (this.bytes[this.pos] !== 0x3a) this.unexpected(this.pos, '":"');
        this.pos++;
        this.skipSpace();
      }
      this.path.push(key);
      const c = this.bytes[this.pos];
      const value =
        mode === 1 && c === 0x7b && (key === "hourly" || key === "daily")
          ? this.container(2, depth + 1)
          : mode === 2 && c === 0x5b
            ? this.scannedArray(depth + 1)
            : this.value(depth + 1);
      this.path.pop();
      if (Array.isArray(out)) out.push(value);
      else if (key !== "__proto__") out[key] = value;
      else Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      this.skipSpace();
      const next = this.bytes[this.pos++];
      if (next === close) return out;
      if (next !== 0x2c) this.unexpected(this.pos - 1, array ? '"," or "]"' : '"," or "}"');
      this.skipSpace();
    }
  }

  /**
   * An array of a block at pos: numbers and nulls, or labels and nulls, into a pooled
   * Float64Array; any other array (other values, or not JSON) is read again as plain values, by
   * the reader that says what is wrong. Spaces are skipped inline: separators mostly follow at once.
   */
  private scannedArray(depth: number): ScannedArray | unknown[] {
    const b = this.bytes;
    const start = this.pos;
    this.pos++;
    this.skipSpace();
    let out = this.pool.doubles(0);
    let n = 0;
    let nulls = 0;
    let kind: "numbers" | "labels" | undefined;
    let labelLength = 0;
    const previous = { key: -1, day: 0, length: 0 };
    let plain = false;
    if (this.bytes[this.pos] === 0x5d) {
      this.pos++;
    } else {
      for (;;) {
        const c = b[this.pos] as number;
        let value: number;
        if (c === 0x6e /* n */ && b[this.pos + 1] === 0x75 && b[this.pos + 2] === 0x6c && b[this.pos + 3] === 0x6c) {
          this.pos += 4;
          value = NaN;
          nulls++;
        } else if (c === 0x22 /* " */ && kind !== "numbers") {
          kind = "labels";
          value = this.label(previous);
          if (Number.isNaN(value) || (labelLength !== 0 && previous.length !== labelLength)) {
            plain = true;
            break;
          }
          labelLength = previous.length;
        } else if (kind !== "labels" && (c === 0x2d || (c >= 0x30 && c <= 0x39))) {
          kind = "numbers";
          value = this.number();
          if (Number.isNaN(value)) {
            plain = true;
            break;
          }
        } else {
          plain = true;
          break;
        }
        if (n === out.length) {
          const grown = new Float64Array(out.length * 2);
          grown.set(out);
          out = grown;
          this.pool.replaceLast(grown);
        }
        out[n++] = value;
        let s = b[this.pos] as number;
        if (s === 0x20 || s === 0x0a || s === 0x0d || s === 0x09) {
          this.skipSpace();
          s = b[this.pos] as number;
        }
        this.pos++;
        if (s === 0x5d /* ] */) break;
        if (s !== 0x2c /* , */ || this.pos >= this.end) {
          plain = true;
          break;
        }
        s = b[this.pos] as number;
        if (s === 0x20 || s === 0x0a || s === 0x0d || s === 0x09) this.skipSpace();
      }
    }
    if (plain || this.pos > this.end) {
      this.pos = start;
      return this.container(0, depth) as unknown[];
    }
    return Object.assign(out.subarray(0, n), { kind: kind ?? "numbers", nulls, labelLength });
  }

  /**
   * A `"YYYY-MM-DD"` or `"YYYY-MM-DDTHH:MM"` label at pos as epoch milliseconds read as UTC,
   * with its length in `previous.length`; NaN if it is anything else (or not a real date).
   * `previous` caches the day of the last date seen: consecutive labels mostly share it (NaN
   * digits make its key NaN, which the date check rejects).
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
    // A new date is checked and converted apart, and digitAt is a function of the module, not a
    // closure made for every label (876,000 of them for a year of 100 locations).
    if (key !== previous.key && !startDay(previous, key, y, m, day)) return NaN;
    previous.length = length;
    this.pos = p + length + 1;
    return previous.day * MS_PER_DAY + minutes * 60_000;
  }

  /**
   * A JSON number at pos, exactly as JSON.parse reads it. While the digits as an integer stay
   * below 2^53 (every 15-digit number, and most of 16 digits) and there are at most 22 decimals,
   * the value is digits / 10^decimals: both are exact doubles, so the one rounding of the
   * division gives the correctly rounded value, as the JSON parser does (Clinger's fast path).
   * Longer numbers and exponents go through Number(). NaN when the bytes are not a number.
   */
  private number(): number {
    const b = this.bytes;
    const start = this.pos;
    let p = start;
    let c = b[p] as number;
    const negative = c === 0x2d; /* - */
    if (negative) c = b[++p] as number;
    let mantissa = 0;
    if (c === 0x30) {
      c = b[++p] as number;
      if (c >= 0x30 && c <= 0x39) return NaN; // leading zero
    } else if (c >= 0x31 && c <= 0x39) {
      do {
        mantissa = mantissa * 10 + (c - 0x30);
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
    // The mantissa only grows, and rounding keeps a sum at or above 2^53 there: below it, every
    // step was exact. (A count of digits would send 16-digit values such as a full-precision
    // -4.257165872173306 to the slow path: half the values of a high-entropy body.)
    if (c === 0x65 || c === 0x45 /* e E */ || decimals > 22 || mantissa >= 9007199254740992) {
      return this.longNumber(start, p);
    }
    if (p > this.end) return NaN;
    this.pos = p;
    const value = decimals === 0 ? mantissa : mantissa / (POWERS_OF_TEN[decimals] as number);
    return negative ? -value : value;
  }

  /**
   * The rest of number(): a number with an exponent, more than 22 decimals or digits past 2^53,
   * from `start` (its first byte) with `p` after its digits, read by Number(). Apart, so that
   * number() stays small enough for V8 to inline into the array loop (its bytecode was over the
   * inlining limit): each value is then a plain double there, not a heap number to collect.
   */
  private longNumber(start: number, p: number): number {
    const b = this.bytes;
    let c = b[p] as number;
    if (c === 0x65 || c === 0x45 /* e E */) {
      c = b[++p] as number;
      if (c === 0x2b || c === 0x2d) c = b[++p] as number;
      if (!(c >= 0x30 && c <= 0x39)) return NaN;
      do c = b[++p] as number;
      while (c >= 0x30 && c <= 0x39);
    }
    if (p > this.end) return NaN;
    this.pos = p;
    // The bytes as a string in one call (a string built a character at a time cost ~2x).
    return Number(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1", start, p));
  }

  /** A JSON string at pos (the quote): escapes checked and decoded, UTF-8 checked. */
  private string(): string {
    const b = this.bytes;
    const start = this.pos + 1;
    let p = start;
    let ascii = true;
    let escaped = false;
    for (;;) {
      if (p >= this.end) this.unexpected(this.end);
      const c = b[p] as number;
      if (c === 0x22) break;
      if (c < 0x20) this.fail(p, `a control character (byte 0x${c.toString(16).padStart(2, "0")}) in a string`);
      if (c === 0x5c /* \ */) {
        escaped = true;
        if (p + 1 >= this.end) this.unexpected(this.end);
        const e = String.fromCharCode(b[p + 1] as number);
        if (e === "u") {
          if (p + 6 > this.end) this.unexpected(this.end);
          for (let i = p + 2; i < p + 6; i++) {
            if (!/[0-9a-fA-F]/.test(String.fromCharCode(b[i] as number)))
              this.fail(p, "a \\u escape without 4 hex digits");
          }
          p += 6;
        } else if (e in ESCAPES) {
          p += 2;
        } else {
          this.fail(p, `"\\${e}", which is not a JSON escape`);
        }
        continue;
      }
      if (c >= 0x80) ascii = false;
      p++;
    }
    this.pos = p + 1;
    let text = "";
    if (ascii) {
      for (let i = start; i < p; i++) text += String.fromCharCode(b[i] as number);
    } else {
      this.decoder ??= new TextDecoder("utf-8", { fatal: true });
      try {
        text = this.decoder.decode(b.subarray(start, p));
      } catch {
        this.fail(start - 1, "UTF-8");
      }
    }
    return escaped
      ? text.replace(/\\(?:u([0-9a-fA-F]{4})|(.))/g, (_, hex: string | undefined, e: string) =>
          hex === undefined ? (ESCAPES[e] as string) : String.fromCharCode(parseInt(hex, 16)),
        )
      : text;
  }

  /**
   * Throws for the byte at `at`: the body's end, or a token running to the end of an element the
   * body ended in (both cut off), bad UTF-8, or a token JSON does not have.
   */
  private unexpected(at: number, wanted?: string): never {
    const b = this.bytes;
    let cutToken = this.cut;
    for (let i = at; i < this.end && cutToken; i++) cutToken = !/[\s,:\]}"]/.test(String.fromCharCode(b[i] as number));
    if (at >= this.end || cutToken) this.fail(this.end, "");
    if ((b[at] as number) >= 0x80 && !validUtf8At(b, at, this.end)) this.fail(at, "UTF-8");
    const token = /^-?[A-Za-z]+/.exec(String.fromCharCode(...b.subarray(at, at + 12)))?.[0] ?? "";
    if (!/^-?(nan|NaN|Infinity|inf)$/.test(token)) {
      this.fail(at, `unexpected ${JSON.stringify(token || charAt(b, at))}${wanted ? ` (expected ${wanted})` : ""}`);
    }
    const { latitude, longitude } = this.head;
    const coordinates =
      typeof latitude === "number" && typeof longitude === "number" ? ` (${latitude}, ${longitude})` : "";
    this.fail(
      at,
      `${token}, which JSON has no word for`,
      `Open-Meteo has been seen to write ${token} for a coordinate outside a model's domain: check ` +
        `${this.isArray ? `location ${this.index + 1}'s` : "the location's"} coordinates${coordinates} against the endpoint's models`,
    );
  }

  /**
   * Throws the error of byte `at`, with the location and path ("location 2 of 3,
   * hourly.temperature_2m[5]") as far as they are known: `what` is wrong there, "UTF-8" for bad
   * UTF-8, "" for the end of a body that was cut off.
   */
  private fail(at: number, what: string, advice?: string): never {
    const location = this.isArray
      ? `location ${this.index + 1}${this.expected === undefined ? "" : ` of ${this.expected}`}`
      : "";
    const path = this.path.map((part, i) => (i === 0 || part.startsWith("[") ? part : `.${part}`)).join("");
    const where = [location, path].filter((s) => s !== "").join(", ");
    throw bodyError(this.source, this.bytes, at, this.offset + at, where, what, advice);
  }
}

/**
 * The error of a body that is not JSON at byte `at` of `bytes` (`byte` of the body, `where` in
 * it): `what` is wrong there, "UTF-8" for bad UTF-8, "" for the end of a body that was cut off.
 */
function bodyError(
  source: string,
  bytes: Uint8Array,
  at: number,
  byte: number,
  where: string,
  what: string,
  advice = "the body is not an Open-Meteo answer: inspect it (raw objects are kept as received) and fetch it again",
): OpenMeteoResponseError {
  return new OpenMeteoResponseError(
    source,
    what === ""
      ? `not valid JSON: the body ends at byte ${byte}${where ? `, inside ${where}` : ""}; it was cut off: fetch it again`
      : what === "UTF-8"
        ? `not valid UTF-8 at byte ${byte}${where ? ` (${where})` : ""}; Open-Meteo sends UTF-8 JSON (was the body re-encoded?)`
        : `not valid JSON at byte ${byte}${where ? ` (${where})` : ""}: ${what}, near "${near(bytes, at)}"; ${advice}`,
  );
}

/** Whether a valid UTF-8 sequence starts at `at` (or may: it runs past `end`). */
function validUtf8At(bytes: Uint8Array, at: number, end: number): boolean {
  const c = bytes[at] as number;
  const length = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
  if (c < 0xc2 || c > 0xf4) return false;
  if (at + length > end) return true;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(at, at + length));
    return true;
  } catch {
    return false;
  }
}

/** The character starting at byte `at`, for a message. */
function charAt(bytes: Uint8Array, at: number): string {
  const c = bytes[at] as number;
  return new TextDecoder().decode(bytes.subarray(at, at + (c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2)));
}

/** The text around byte `at`, for a message. */
function near(bytes: Uint8Array, at: number): string {
  const from = Math.max(0, at - 20);
  const to = Math.min(bytes.length, at + 20);
  const text = new TextDecoder().decode(bytes.subarray(from, to)).replace(/\s+/g, " ");
  return `${from > 0 ? "…" : ""}${text}${to < bytes.length ? "…" : ""}`;
}

/** Gets an element's bytes (valid during the call); `cut` when the body ended inside it. */
type Take = (element: Uint8Array, index: number, offset: number, cut: boolean) => void;

/**
 * Cuts a byte stream of one JSON value, or of an array of them, into its elements, without
 * reading them: it follows only strings and bracket depth (ElementReader checks the rest).
 * A value starts with { [ " - a digit, or t/f/n (true, false, null); a scalar element ends
 * before the byte after it (a space, a comma, the array's bracket), which is read again as part
 * of the array. The inner loop sees every byte of the body: it keeps its state in locals and
 * skips numbers, commas and spaces inside objects through a table.
 */
class ElementSplitter {
  /** Whether the body is an array (else one value). */
  isArray = false;
  /** 0 before the body, 1 before an element, 2 in one, 3 after one, 4 after the body. */
  private state = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private buffer = new Uint8Array(1 << 16);
  private length = 0;
  private count = 0;
  /** Bytes of the body before the current chunk. */
  private consumed = 0;
  /** Where the element being cut starts in the body. */
  private elementStart = 0;
  /** 1 for each byte but quotes and brackets. */
  private readonly plain = new Uint8Array(256).fill(1);
  /** The bytes `plain` marks 0: a quote, brackets and braces. */
  private readonly structural = [0x22, 0x5b, 0x5d, 0x7b, 0x7d];
  /**
   * Per structural byte: where it next is in the chunk being pushed, from the last search on
   * (-1: nowhere after it; -2: not searched yet in this chunk).
   */
  private readonly nextAt = [-2, -2, -2, -2, -2];
  /** The chunk being pushed, as a Buffer (whose indexOf of one byte is a memchr). */
  private view: Buffer | undefined;

  constructor(readonly source: string) {
    for (const c of [0x22, 0x5b, 0x5d, 0x7b, 0x7d]) this.plain[c] = 0;
  }

  /** Feeds a chunk; calls `take` with each element completed in it. */
  push(chunk: Uint8Array, take: Take): void {
    const n = chunk.length;
    this.view = undefined;
    for (let i = 0, from = 0; i < n; i++) {
      const c = chunk[i] as number;
      if (this.state === 2) {
        let { depth, inString, escaped } = this;
        const plain = this.plain;
        let end = -1;
        for (; i < n; i++) {
          if (depth > 0 && !inString) {
            // Byte by byte for a while: labels and keys put a quote every few bytes. Past that
            // (an array of numbers, tens of KB), to the next quote or bracket in one search.
            const stop = i + 32 < n ? i + 32 : n;
            while (i < stop && plain[chunk[i] as number] === 1) i++;
            if (i === stop && i < n && plain[chunk[i] as number] === 1) i = this.nextStructural(chunk, i);
          }
          if (i === n) break;
          const b = chunk[i] as number;
          if (inString) {
            if (escaped) escaped = false;
            else if (b === 0x5c) escaped = true;
            else if (b === 0x22) inString = false;
          } else if (b === 0x22) {
            inString = true;
          } else if (b === 0x7b || b === 0x5b) {
            depth++;
          } else if (depth > 0) {
            if ((b === 0x7d || b === 0x5d) && --depth === 0) end = i + 1;
          } else if (b <= 0x20 || b === 0x2c || b === 0x5d || b === 0x7d) {
            end = i--;
          }
          if (end >= 0) break;
        }
        Object.assign(this, { depth, inString, escaped });
        const to = end < 0 ? n : end;
        if (this.length + to - from > this.buffer.length) {
          const grown = new Uint8Array(Math.max(this.length + to - from, this.buffer.length * 2));
          grown.set(this.buffer.subarray(0, this.length));
          this.buffer = grown;
        }
        this.buffer.set(chunk.subarray(from, to), this.length);
        this.length += to - from;
        if (end >= 0) this.hand(take, false);
      } else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        continue;
      } else if (this.state === 0 && c === 0x5b) {
        this.isArray = true;
        this.state = 1;
      } else if (this.state === 1 && c === 0x5d && this.count === 0) {
        this.state = 4;
      } else if (this.state < 2 && /[{["\-0-9tfn]/.test(String.fromCharCode(c))) {
        this.state = 2;
        this.elementStart = this.consumed + i;
        from = i--;
      } else if (this.state === 3 && (c === 0x2c || c === 0x5d)) {
        this.state = c === 0x2c ? 1 : 4;
      } else {
        this.fail(chunk, i);
      }
    }
    this.consumed += n;
  }

  /**
   * The first quote, bracket or brace of `chunk` at or after `from` (the chunk's length if
   * none). Each byte's last position found is kept until passed, so every byte of the chunk is
   * searched at most once per structural byte, by Buffer's indexOf (memchr) rather than a loop.
   */
  private nextStructural(chunk: Uint8Array, from: number): number {
    if (this.view === undefined) {
      this.view = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      this.nextAt.fill(-2);
    }
    let first = chunk.length;
    for (let k = 0; k < 5; k++) {
      let at = this.nextAt[k] as number;
      if (at !== -1 && at < from) {
        at = this.view.indexOf(this.structural[k] as number, from);
        this.nextAt[k] = at;
      }
      if (at >= 0 && at < first) first = at;
    }
    return first;
  }

  /**
   * Ends the stream: an unfinished last element is handed over too (a top-level scalar ends with
   * the body; in anything else the reader reports the cut).
   */
  finish(take: Take): number {
    if (this.state === 2) this.hand(take, true);
    if (this.state !== 4) {
      throw new OpenMeteoResponseError(
        this.source,
        this.state === 0
          ? "not valid JSON: the body is empty; an Open-Meteo answer is a JSON object or array"
          : `not valid JSON: the body ends at byte ${this.consumed} after location ${this.count}, before the ` +
              "array's closing ]; it was cut off: fetch it again",
      );
    }
    return this.count;
  }

  private hand(take: Take, cut: boolean): void {
    take(this.buffer.subarray(0, this.length), this.count++, this.elementStart, cut);
    this.length = this.depth = 0;
    this.state = this.isArray ? 3 : 4;
  }

  private fail(chunk: Uint8Array, at: number): never {
    const utf8 = (chunk[at] as number) >= 0x80 && !validUtf8At(chunk, at, chunk.length);
    const what = utf8 ? "UTF-8" : `unexpected ${JSON.stringify(charAt(chunk, at))}`;
    const where = this.count === 0 ? "" : `after location ${this.count}`;
    throw bodyError(this.source, chunk, at, this.consumed + at, where, what);
  }
}
