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
 * requested, as "location i of n" (so the whole body is read first). onLocation may have been
 * called for the locations before a bad one.
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
    // Every element is read to the end, even after a problem: a later one may not be JSON.
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

/** The `YYYY-MM-DD` date of a day number (days since 1970-01-01). */
export function isoDateOfDay(days: number): string {
  // One Date per distinct day (not per value), so plain Date arithmetic is fine here.
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
    if (!(raw instanceof ScannedArray) && !Array.isArray(raw)) {
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

/** The UTC instants and local days of a block's `time`, checked to be labels of the format and ascending. */
function checkTimes(
  times: unknown,
  block: BlockName,
  format: TimeFormat,
  offsetMs: number,
  pool: ArrayPool,
  fail: Fail,
): { utcMillis: Float64Array; localDays: Int32Array } {
  if (!(times instanceof ScannedArray) && !Array.isArray(times)) {
    return fail((p) => `${block}.time is ${describe(times)}${p.at}; expected an array of time labels`);
  }
  const n = times.length;
  const utcMillis = pool.doubles(n).subarray(0, n);
  const localDays = pool.ints(n).subarray(0, n);
  const labelLength = format === "unixtime" ? 0 : block === "hourly" ? 16 : 10;
  // The common case straight from the typed array; anything else value by value, for the message.
  const typed =
    times instanceof ScannedArray &&
    times.nulls === 0 &&
    (labelLength === 0 ? times.kind === "numbers" : times.kind === "labels" && times.labelLength === labelLength)
      ? times.data
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
 * One variable's values as doubles (NaN for null), checked against its unit; time-valued ones
 * ("iso8601", "unixtime") converted to epoch milliseconds.
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
  const scanned = raw instanceof ScannedArray ? raw : undefined;
  const allNull = scanned !== undefined && scanned.nulls === n;
  if (unit !== "iso8601" && unit !== "unixtime") {
    // Measurements are used in place: no copy of the largest arrays.
    if (scanned && (scanned.kind === "numbers" || allNull)) return scanned.data;
    const i = firstIndex(raw, (v) => v !== null && typeof v !== "number");
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
      ? scanned.data
      : undefined;
  // Converted into a pooled copy: the scanned array belongs to its name alone.
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
 * epoch milliseconds read as if UTC; NaN for anything else.
 */
function timeValue(value: unknown, labelLength: number): number {
  if (labelLength === 0) return typeof value === "number" ? value : NaN;
  if (typeof value !== "string" || value.length !== labelLength) return NaN;
  // The scanner's own label reader, on the label as JSON bytes: one definition of a label.
  const reader = new ElementReader("", undefined);
  reader.bytes = new TextEncoder().encode(JSON.stringify(value));
  reader.end = reader.bytes.length;
  return reader.label({ key: -1, day: 0, length: 0 });
}

/** The value at `i` as JSON gives it: a number, null, or the label text. */
function valueAt(array: ScannedArray | readonly unknown[], i: number): unknown {
  if (!(array instanceof ScannedArray)) return array[i];
  const v = array.data[i] as number;
  if (Number.isNaN(v)) return null;
  return array.kind === "numbers" ? v : new Date(v).toISOString().slice(0, array.labelLength);
}

function firstIndex(array: ScannedArray | readonly unknown[], bad: (value: unknown) => boolean): number {
  for (let i = 0; i < array.length; i++) if (bad(valueAt(array, i))) return i;
  return -1;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof ScannedArray);
}

function describe(value: unknown): string {
  if (value === undefined) return "missing";
  if (Array.isArray(value) || value instanceof ScannedArray) return `an array of ${value.length}`;
  if (typeof value === "object" && value !== null) return "an object";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

// ---------------------------------------------------------------------------------------------
// The scanner: elements cut from the stream, each read as strict JSON
// ---------------------------------------------------------------------------------------------

/**
 * An array of a block read straight from the bytes: numbers, or `YYYY-MM-DD[THH:MM]` labels as
 * epoch milliseconds of the label read as UTC; NaN for each null. Arrays holding anything else
 * are read as plain arrays (they are reported if the request uses them).
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
  private readonly doubleArrays: Float64Array[] = [];
  private readonly intArrays: Int32Array[] = [];
  private nextDouble = 0;
  private nextInt = 0;

  /** Starts handing out the arrays from the first again. */
  reset(): void {
    this.nextDouble = 0;
    this.nextInt = 0;
  }

  /** The next pooled Float64Array with room for at least `n` values (its contents are stale). */
  doubles(n: number): Float64Array {
    const i = this.nextDouble++;
    let array = this.doubleArrays[i];
    if (!array || array.length < n) {
      array = new Float64Array(Math.max(n, 1024));
      this.doubleArrays[i] = array;
    }
    return array;
  }

  /** Replaces the Float64Array handed out last, which turned out too small. */
  replaceLastDoubles(array: Float64Array): void {
    this.doubleArrays[this.nextDouble - 1] = array;
  }

  /** The next pooled Int32Array with room for at least `n` values. */
  ints(n: number): Int32Array {
    const i = this.nextInt++;
    let array = this.intArrays[i];
    if (!array || array.length < n) {
      array = new Int32Array(Math.max(n, 1024));
      this.intArrays[i] = array;
    }
    return array;
  }
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
    this.pool.reset();
    this.skipSpace();
    const value = this.peek() === 0x7b ? this.object(1, 0) : this.value(0);
    this.skipSpace();
    if (this.pos < this.end) this.unexpected(this.pos);
    return value;
  }

  private peek(): number {
    return this.pos < this.end ? (this.bytes[this.pos] as number) : -1;
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
    const c = this.peek();
    if (c === 0x7b /* { */) return this.object(0, depth);
    if (c === 0x5b /* [ */) return this.array(depth);
    if (c === 0x22 /* " */) return this.string();
    if (c === 0x74 /* t */) return this.literal("true", true);
    if (c === 0x66 /* f */) return this.literal("false", false);
    if (c === 0x6e /* n */) return this.literal("null", null);
    const value = this.number();
    if (Number.isNaN(value)) this.unexpected(this.pos);
    return value;
  }

  /**
   * An object at pos. Mode 1 is the element itself: its `hourly`/`daily` objects are read in
   * mode 2, whose arrays become ScannedArrays. Mode 0 is any other object.
   */
  private object(mode: 0 | 1 | 2, depth: number): Record<string, unknown> {
    if (depth >= MAX_DEPTH) this.fail(`objects and arrays nested deeper than ${MAX_DEPTH} levels`, this.pos);
    const out: Record<string, unknown> = mode === 1 ? this.head : {};
    this.pos++;
    this.skipSpace();
    if (this.peek() === 0x7d /* } */) {
      this.pos++;
      return out;
    }
    for (;;) {
      if (this.peek() !== 0x22) this.unexpected(this.pos, "a member name in quotes");
      const key = this.string();
      this.skipSpace();
      if (this.peek() !== 0x3a /* : */) this.unexpected(this.pos, '":"');
      this.pos++;
      this.skipSpace();
      this.path.push(key);
      const c = this.peek();
      const value =
        mode === 1 && c === 0x7b && (key === "hourly" || key === "daily")
          ? this.object(2, depth + 1)
          : mode === 2 && c === 0x5b
            ? this.scannedArray(depth + 1)
            : this.value(depth + 1);
      this.path.pop();
      // As JSON.parse: "__proto__" is an own member, not the prototype.
      if (key === "__proto__") {
        Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      } else {
        out[key] = value;
      }
      this.skipSpace();
      const next = this.peek();
      if (next === 0x7d /* } */) {
        this.pos++;
        return out;
      }
      if (next !== 0x2c /* , */) this.unexpected(this.pos, '"," or "}"');
      this.pos++;
      this.skipSpace();
    }
  }

  /** An array at pos, as plain values. */
  private array(depth: number): unknown[] {
    if (depth >= MAX_DEPTH) this.fail(`objects and arrays nested deeper than ${MAX_DEPTH} levels`, this.pos);
    const out: unknown[] = [];
    this.pos++;
    this.skipSpace();
    if (this.peek() === 0x5d /* ] */) {
      this.pos++;
      return out;
    }
    this.path.push("[0]");
    for (;;) {
      this.path[this.path.length - 1] = `[${out.length}]`;
      out.push(this.value(depth + 1));
      this.skipSpace();
      const next = this.peek();
      if (next === 0x5d /* ] */) {
        this.pos++;
        this.path.pop();
        return out;
      }
      if (next !== 0x2c /* , */) this.unexpected(this.pos, '"," or "]"');
      this.pos++;
      this.skipSpace();
    }
  }

  /**
   * An array of a block at pos: numbers and nulls, or labels and nulls, into a pooled
   * Float64Array; any other array is read again as plain values.
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
    if (this.peek() === 0x5d) {
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
          this.pool.replaceLastDoubles(grown);
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
        if (s !== 0x2c /* , */ || this.pos >= this.end) {
          plain = true;
          break;
        }
        s = b[this.pos] as number;
        if (s === 0x20 || s === 0x0a || s === 0x0d || s === 0x09) this.skipSpace();
      }
    }
    if (plain || this.pos > this.end) {
      // Something else than numbers or labels, or not JSON: the plain reader says which.
      this.pos = start;
      return this.array(depth);
    }
    return new ScannedArray(kind ?? "numbers", out.subarray(0, n), n, nulls, labelLength);
  }

  /**
   * A `"YYYY-MM-DD"` or `"YYYY-MM-DDTHH:MM"` label at pos as epoch milliseconds read as UTC,
   * with its length in `previous.length`; NaN if it is anything else (or not a real date).
   * `previous` caches the day of the last date seen: consecutive labels mostly share it.
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
   * A JSON number at pos, exactly as JSON.parse reads it. Up to 15 significant digits with at
   * most 22 decimals the value is digits / 10^decimals: both are exact doubles, so the one
   * rounding of the division gives the correctly rounded value, as the JSON parser does.
   * Longer numbers and exponents go through Number(). NaN when the bytes are not a number.
   */
  private number(): number {
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
      digits = 1;
      c = b[++p] as number;
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
      if (c < 0x20) this.fail(`a control character (byte 0x${c.toString(16).padStart(2, "0")}) in a string`, p);
      if (c === 0x5c /* \ */) {
        escaped = true;
        if (p + 1 >= this.end) this.unexpected(this.end);
        const e = String.fromCharCode(b[p + 1] as number);
        if (e === "u") {
          if (p + 6 > this.end) this.unexpected(this.end);
          for (let i = p + 2; i < p + 6; i++) {
            if (!/[0-9a-fA-F]/.test(String.fromCharCode(b[i] as number)))
              this.fail("a \\u escape without 4 hex digits", p);
          }
          p += 6;
        } else if (e in ESCAPES) {
          p += 2;
        } else {
          this.fail(`"\\${e}", which is not a JSON escape`, p);
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
        this.failUtf8(start - 1);
      }
    }
    return escaped
      ? text.replace(/\\(?:u([0-9a-fA-F]{4})|(.))/g, (_, hex: string | undefined, e: string) =>
          hex === undefined ? (ESCAPES[e] as string) : String.fromCharCode(parseInt(hex, 16)),
        )
      : text;
  }

  private literal<T>(word: string, value: T): T {
    for (let i = 0; i < word.length; i++) {
      if (this.bytes[this.pos + i] !== word.charCodeAt(i)) this.unexpected(this.pos);
    }
    this.pos += word.length;
    return value;
  }

  /** Fails on the byte at `at`: the end of the body, bad UTF-8, or a token JSON does not have. */
  private unexpected(at: number, wanted?: string): never {
    const b = this.bytes;
    // In an element the body ended inside of, a token running to the end was cut.
    let cutToken = this.cut;
    for (let i = at; i < this.end && cutToken; i++) cutToken = !/[\s,:\]}"]/.test(String.fromCharCode(b[i] as number));
    if (at >= this.end || cutToken) {
      const where = this.where();
      throw new OpenMeteoResponseError(
        this.source,
        `not valid JSON: the body ends at byte ${this.offset + this.end}${where ? `, inside ${where}` : ""}; ` +
          "it was cut off: fetch it again",
      );
    }
    const c = b[at] as number;
    if (c >= 0x80 && !validUtf8At(b, at, this.end)) this.failUtf8(at);
    let token = "";
    for (let i = at; i < this.end && i < at + 12 && /[A-Za-z-]/.test(String.fromCharCode(b[i] as number)); i++) {
      token += String.fromCharCode(b[i] as number);
    }
    const nan = /^-?(nan|NaN|Infinity|inf)$/.test(token);
    const shown = token !== "" ? token : charAt(b, at);
    this.fail(
      nan
        ? `${token}, which JSON has no word for`
        : `unexpected ${JSON.stringify(shown)}` + (wanted ? ` (expected ${wanted})` : ""),
      at,
      nan ? this.nanAdvice(token) : undefined,
    );
  }

  private nanAdvice(token: string): string {
    const { latitude, longitude } = this.head;
    const coordinates =
      typeof latitude === "number" && typeof longitude === "number" ? ` (${latitude}, ${longitude})` : "";
    return (
      `Open-Meteo has been seen to write ${token} for a coordinate outside a model's domain: check ` +
      `${this.isArray ? `location ${this.index + 1}'s` : "the location's"} coordinates${coordinates} against the endpoint's models`
    );
  }

  private failUtf8(at: number): never {
    const where = this.where();
    throw new OpenMeteoResponseError(
      this.source,
      `not valid UTF-8 at byte ${this.offset + at}${where ? ` (${where})` : ""}; ` +
        "Open-Meteo sends UTF-8 JSON (was the body re-encoded?)",
    );
  }

  private fail(what: string, at: number, advice?: string): never {
    const where = this.where();
    throw new OpenMeteoResponseError(
      this.source,
      `not valid JSON at byte ${this.offset + at}${where ? ` (${where})` : ""}: ${what}, near "${near(this.bytes, at)}"; ` +
        (advice ??
          "the body is not an Open-Meteo answer: inspect it (raw objects are kept as received) and fetch it again"),
    );
  }

  /** "location 2 of 3, hourly.temperature_2m[5]", as far as it is known. */
  private where(): string {
    const location = this.isArray
      ? `location ${this.index + 1}${this.expected === undefined ? "" : ` of ${this.expected}`}`
      : "";
    const path = this.path.map((part, i) => (i === 0 || part.startsWith("[") ? part : `.${part}`)).join("");
    return [location, path].filter((s) => s !== "").join(", ");
  }
}

/** The decimal digit at `i`, or NaN. */
function digitAt(bytes: Uint8Array, i: number): number {
  const digit = (bytes[i] as number) - 0x30;
  return digit >= 0 && digit <= 9 ? digit : NaN;
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
 */
class ElementSplitter {
  /** Whether the body is an array (else one value). */
  isArray: boolean;
  private state: "start" | "before-element" | "element" | "after-element" | "done";
  private depth: number;
  private inString: boolean;
  private escaped: boolean;
  private buffer: Uint8Array;
  private length: number;
  private count: number;
  /** Bytes of the body before the current chunk, and where the element being cut started. */
  private consumed: number;
  private elementStart: number;
  /** 1 for the bytes that matter inside an element: quotes and brackets. */
  private readonly special: Uint8Array;

  constructor(readonly source: string) {
    this.isArray = false;
    this.state = "start";
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.buffer = new Uint8Array(1 << 16);
    this.length = 0;
    this.count = 0;
    this.consumed = 0;
    this.elementStart = 0;
    this.special = new Uint8Array(256);
    for (const c of [0x22, 0x5b, 0x5d, 0x7b, 0x7d]) this.special[c] = 1;
  }

  /** Feeds a chunk; calls `take` with each element completed in it (a view valid during the call). */
  push(chunk: Uint8Array, take: Take): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
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
        if (closed) this.hand(take, false);
        continue;
      }
      const c = chunk[i] as number;
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        i++;
        continue;
      }
      if (this.state === "start" && c === 0x5b) {
        this.isArray = true;
        this.state = "before-element";
        i++;
      } else if (this.state === "before-element" && c === 0x5d && this.count === 0) {
        this.state = "done";
        i++;
      } else if (this.state === "start" || (this.state === "before-element" && c !== 0x5d && c !== 0x2c)) {
        // What can start a JSON value: { [ " - digits, and true/false/null.
        if (!/[{["\-0-9tfn]/.test(String.fromCharCode(c))) this.fail(chunk, i);
        this.state = "element";
        this.elementStart = this.consumed + i;
      } else if (this.state === "after-element" && (c === 0x2c || c === 0x5d)) {
        this.state = c === 0x2c ? "before-element" : "done";
        i++;
      } else {
        this.fail(chunk, i);
      }
    }
    this.consumed += n;
  }

  /** Ends the stream: an unfinished last element is handed over too (its reader reports the cut). */
  finish(take: Take): number {
    // A top-level scalar ends with the body; in anything else open here the reader finds the cut.
    if (this.state === "element") this.hand(take, true);
    const state: string = this.state;
    if (state !== "done") {
      throw new OpenMeteoResponseError(
        this.source,
        state === "start"
          ? "not valid JSON: the body is empty; an Open-Meteo answer is a JSON object or array"
          : `not valid JSON: the body ends at byte ${this.consumed} after location ${this.count}, before the ` +
              "array's closing ]; it was cut off: fetch it again",
      );
    }
    return this.count;
  }

  private hand(take: Take, cut: boolean): void {
    take(this.buffer.subarray(0, this.length), this.count++, this.elementStart, cut);
    this.length = 0;
    this.depth = 0;
    this.state = this.isArray ? "after-element" : "done";
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

  private fail(chunk: Uint8Array, at: number): never {
    const c = chunk[at] as number;
    if (c >= 0x80 && !validUtf8At(chunk, at, chunk.length)) {
      throw new OpenMeteoResponseError(
        this.source,
        `not valid UTF-8 at byte ${this.consumed + at}; Open-Meteo sends UTF-8 JSON (was the body re-encoded?)`,
      );
    }
    const after = this.count === 0 ? "" : ` (after location ${this.count})`;
    throw new OpenMeteoResponseError(
      this.source,
      `not valid JSON at byte ${this.consumed + at}${after}: unexpected ${JSON.stringify(charAt(chunk, at))}, ` +
        `near "${near(chunk, at)}"; the body is not an Open-Meteo answer: inspect it (raw objects are kept as ` +
        "received) and fetch it again",
    );
  }
}

/** How many backslashes directly precede position `end` of a chunk, counting none before `from`. */
function backslashesBefore(chunk: Uint8Array, from: number, end: number): number {
  let count = 0;
  while (end - count - 1 >= from && chunk[end - count - 1] === 0x5c) count++;
  return count;
}
