/**
 * Rendering of the fake Open-Meteo's answers: one body per query, byte for byte in the real
 * server's format (key order, fixed decimals, local time labels with one UTC offset per body).
 */
import { addDays, daysBetween, utcOffsetSecondsAt } from "../../core/dates";
import type { Endpoint } from "../../core/settings";
import { BadRequest, parseQuery, type DateRange, type ParsedQuery, type TimezoneSpec, type Units } from "./request";
import {
  DAILY,
  HOURLY,
  RAD,
  hashInts,
  smoothNoise,
  sunTimes,
  weatherAt,
  type Cell,
  type DailyVariable,
  type Dimension,
  type HourlyVariable,
} from "./weather";

// ---------------------------------------------------------------------------------------------
// Number formatting as the Swift server prints it
// ---------------------------------------------------------------------------------------------

/** A Float32 as Swift's `description` prints it: shortest round-trip digits, "38.0" for integers. */
export function formatFloat32(value: number): string {
  const f = Math.fround(value);
  if (Number.isInteger(f) && Math.abs(f) < 1e15) return `${Object.is(f, -0) ? "-0" : f.toFixed(0)}.0`;
  for (let precision = 1; precision <= 9; precision++) {
    const text = f.toPrecision(precision);
    if (Math.fround(Number(text)) === f) return String(Number(text));
  }
  return String(f);
}

/** A value with the variable's fixed decimals ("%.1f"), or null; "-0.0" stays, as the server prints it. */
function formatValue(value: number | null, digits: number): string {
  return value === null || !Number.isFinite(value) ? "null" : value.toFixed(digits);
}

// ---------------------------------------------------------------------------------------------
// Rendering one response body
// ---------------------------------------------------------------------------------------------

interface ResolvedZone {
  readonly name: string;
  readonly offsetSeconds: number;
  readonly abbreviation: string;
}

/** "GMT+2", "GMT+9:30", "GMT-3", as Foundation abbreviates zones on the real server's Linux hosts. */
function abbreviate(name: string, offsetSeconds: number): string {
  if (offsetSeconds === 0) return name === "UTC" ? "UTC" : "GMT";
  const sign = offsetSeconds < 0 ? "-" : "+";
  const abs = Math.abs(offsetSeconds);
  const hours = Math.floor(abs / 3600);
  const minutes = Math.floor((abs % 3600) / 60);
  return `GMT${sign}${hours}${minutes === 0 ? "" : `:${String(minutes).padStart(2, "0")}`}`;
}

function resolveZone(spec: TimezoneSpec, longitude: number, now: Date): ResolvedZone {
  switch (spec.kind) {
    case "default":
      return { name: "GMT", offsetSeconds: 0, abbreviation: "GMT" };
    case "auto": {
      // Whole-hour zone from the longitude: 15°E -> UTC+1, which IANA spells Etc/GMT-1.
      const hours = Math.round(longitude / 15);
      if (hours === 0) return { name: "GMT", offsetSeconds: 0, abbreviation: "GMT" };
      const name = `Etc/GMT${hours > 0 ? "-" : "+"}${Math.abs(hours)}`;
      return { name, offsetSeconds: hours * 3600, abbreviation: abbreviate(name, hours * 3600) };
    }
    case "named": {
      const offsetSeconds = utcOffsetSecondsAt(spec.name, now);
      return { name: spec.name, offsetSeconds, abbreviation: abbreviate(spec.name, offsetSeconds) };
    }
  }
}

/** The grid cell the real API would pick: float32 coordinates on a regular grid. */
function snapToGrid(latitude: number, longitude: number, endpoint: Endpoint, elevation: number | undefined): Cell {
  const step = endpoint === "forecast" ? 0.02 : 0.1;
  const snap = (value: number, origin: number): { value: number; key: number } => {
    const key = Math.round((value - origin) / step);
    return { value: Math.fround(origin + Math.fround(key * Math.fround(step))), key };
  };
  const lat = snap(latitude, -90);
  const lon = snap(longitude, -180);
  // A smooth, non-negative terrain from the coarse cell (so forecast and archive agree roughly).
  // Mostly lowland, sometimes hills or mountains: the product of two smooth noises, squared.
  const relief =
    smoothNoise(99, Math.round(latitude), 0, longitude, 3) * smoothNoise(98, Math.round(longitude), 0, latitude, 2);
  const terrain = elevation ?? Math.round(Math.max(0, 1500 * relief ** 2 - 20));
  return { latitude: lat.value, longitude: lon.value, elevation: terrain, latKey: lat.key, lonKey: lon.key };
}

function convert(value: number, dimension: Dimension, units: Units): number {
  switch (dimension) {
    case "temperature":
      return units.temperature === "fahrenheit" ? (value * 9) / 5 + 32 : value;
    case "speed":
      return units.speed === "ms"
        ? value / 3.6
        : units.speed === "mph"
          ? value / 1.609344
          : units.speed === "kn"
            ? value / 1.852
            : value;
    case "precipitation":
      return units.precipitation === "inch" ? value / 25.4 : value;
    case "snow":
      return units.precipitation === "inch" ? value / 2.54 : value;
    case "none":
      return value;
  }
}

function speedUnitOf(base: string, digits: number, speed: Units["speed"]): { unit: string; digits: number } {
  switch (speed) {
    case "ms":
      return { unit: "m/s", digits: 2 };
    case "mph":
      return { unit: "mp/h", digits: 1 };
    case "kn":
      return { unit: "kn", digits: 1 };
    case "kmh":
      return { unit: base, digits };
  }
}

function unitOf(base: string, digits: number, dimension: Dimension, units: Units): { unit: string; digits: number } {
  switch (dimension) {
    case "temperature":
      return units.temperature === "fahrenheit" ? { unit: "°F", digits } : { unit: base, digits };
    case "speed":
      return speedUnitOf(base, digits, units.speed);
    case "precipitation":
    case "snow":
      return units.precipitation === "inch" ? { unit: "inch", digits: 3 } : { unit: base, digits };
    case "none":
      return { unit: base, digits };
  }
}

/** Local wall-clock label of an epoch second with a fixed offset: "2024-05-01T13:00" or "2024-05-01". */
function localLabel(epochSeconds: number, offsetSeconds: number, dateOnly: boolean): string {
  const iso = new Date((epochSeconds + offsetSeconds) * 1000).toISOString();
  return dateOnly ? iso.slice(0, 10) : iso.slice(0, 16);
}

interface RenderContext {
  readonly endpoint: Endpoint;
  readonly now: Date;
  readonly archiveDelayDays: number;
}

/** Renders one location's object, byte for byte as the real server would. */
function renderLocation(
  query: ParsedQuery,
  index: number,
  range: DateRange,
  zone: ResolvedZone,
  context: RenderContext,
  generationMs: number,
): string {
  const coordinate = query.coordinates[index];
  if (coordinate === undefined) throw new Error(`no coordinate ${index}`);
  const cell = snapToGrid(coordinate.latitude, coordinate.longitude, context.endpoint, coordinate.elevation);
  const offset = zone.offsetSeconds;
  const unixtime = query.timeformat === "unixtime";
  const dayCount = daysBetween(range.start, range.end) + 1;
  const firstDayUtc = Date.parse(`${range.start}T00:00:00Z`) / 1000;
  const latestDataSeconds =
    context.endpoint === "archive"
      ? Math.floor(context.now.getTime() / 1000) - context.archiveDelayDays * 86_400
      : Infinity;

  // Hourly instants: local 00:00 of the first day (with the fixed offset) on, 24 per day.
  const hourInstants: number[] = [];
  for (let h = 0; h < dayCount * 24; h++) hourInstants.push(firstDayUtc - offset + h * 3600);
  const weather = hourInstants.map((t) => (t <= latestDataSeconds ? weatherAt(cell, t) : undefined));

  // Hourly values per variable in the requested units. Output is formatted from the exact
  // value (so -0.04 prints "-0.0" as the server does); daily aggregates use the rounded values,
  // so a daily maximum equals the largest hourly value printed.
  const exactColumn = (name: string): (number | null)[] => {
    const variable = HOURLY[name];
    if (!variable) throw new Error(`no hourly variable ${name}`);
    return weather.map((w) => (w === undefined ? null : convert(variable.pick(w), variable.dimension, query.units)));
  };
  const roundedColumns = new Map<string, (number | null)[]>();
  const hourlyColumn = (name: string): (number | null)[] => {
    const known = roundedColumns.get(name);
    if (known) return known;
    const variable = HOURLY[name] as HourlyVariable;
    const { digits } = unitOf(variable.unit, variable.digits, variable.dimension, query.units);
    const column = exactColumn(name).map((v) => (v === null ? null : Number(v.toFixed(digits))));
    roundedColumns.set(name, column);
    return column;
  };

  const parts: string[] = [];
  parts.push(
    `{"latitude":${formatFloat32(cell.latitude)},"longitude":${formatFloat32(cell.longitude)}` +
      `,"generationtime_ms":${generationMs},"utc_offset_seconds":${offset}` +
      `,"timezone":${JSON.stringify(zone.name)},"timezone_abbreviation":${JSON.stringify(zone.abbreviation)}`,
  );
  // The server leaves out an elevation it does not know (a NaN passed as `elevation=nan`).
  if (Number.isFinite(cell.elevation)) parts.push(`,"elevation":${formatFloat32(cell.elevation)}`);
  if (index > 0 || coordinate.locationId !== 0) parts.push(`,"location_id":${coordinate.locationId}`);

  if (query.hourly.length > 0) {
    const units = [`"time":"${unixtime ? "unixtime" : "iso8601"}"`];
    const columns = [
      `"time":[${hourInstants.map((t) => (unixtime ? String(t) : `"${localLabel(t, offset, false)}"`)).join(",")}]`,
    ];
    for (const name of query.hourly) {
      const variable = HOURLY[name] as HourlyVariable;
      const { unit, digits } = unitOf(variable.unit, variable.digits, variable.dimension, query.units);
      units.push(`${JSON.stringify(name)}:${JSON.stringify(unit)}`);
      columns.push(
        `${JSON.stringify(name)}:[${exactColumn(name)
          .map((v) => formatValue(v, digits))
          .join(",")}]`,
      );
    }
    parts.push(`,"hourly_units":{${units.join(",")}},"hourly":{${columns.join(",")}}`);
  }

  if (query.daily.length > 0) {
    const dayStarts: number[] = [];
    for (let d = 0; d < dayCount; d++) dayStarts.push(firstDayUtc + d * 86_400);
    const units = [`"time":"${unixtime ? "unixtime" : "iso8601"}"`];
    const columns = [
      `"time":[${dayStarts.map((t) => (unixtime ? String(t - offset) : `"${localLabel(t, 0, true)}"`)).join(",")}]`,
    ];
    for (const name of query.daily) {
      const variable = DAILY[name] as DailyVariable;
      const rule = variable.rule;
      if (rule.kind === "sun") {
        const values = dayStarts.map((dayStart) => sunValue(rule.which, cell, dayStart, offset, unixtime));
        const unit = rule.which === "daylight" ? "s" : unixtime ? "unixtime" : "iso8601";
        units.push(`${JSON.stringify(name)}:${JSON.stringify(unit)}`);
        columns.push(`${JSON.stringify(name)}:[${values.join(",")}]`);
        continue;
      }
      const source = HOURLY[rule.hourly] as HourlyVariable;
      const base = unitOf(
        variable.unit ?? source.unit,
        variable.digits ?? source.digits,
        variable.dimension ?? source.dimension,
        query.units,
      );
      const hourly = hourlyColumn(rule.hourly);
      const values = dayStarts.map((_, d) => {
        const day = hourly.slice(d * 24, d * 24 + 24);
        if (day.some((v) => v === null)) return null;
        const numbers = day as number[];
        let value: number;
        switch (rule.op) {
          case "max":
            value = Math.max(...numbers);
            break;
          case "min":
            value = Math.min(...numbers);
            break;
          case "mean":
            value = numbers.reduce((a, b) => a + b, 0) / numbers.length;
            break;
          case "sum":
            value = numbers.reduce((a, b) => a + b, 0);
            break;
          case "count-positive":
            value = numbers.filter((v) => v > 0).length;
            break;
          case "dominant-direction": {
            const x = numbers.reduce((a, deg) => a + Math.cos(deg * RAD), 0);
            const y = numbers.reduce((a, deg) => a + Math.sin(deg * RAD), 0);
            value = Math.round(((Math.atan2(y, x) / RAD) % 360) + 360) % 360;
            break;
          }
        }
        return value * (variable.scale ?? 1);
      });
      units.push(`${JSON.stringify(name)}:${JSON.stringify(base.unit)}`);
      columns.push(`${JSON.stringify(name)}:[${values.map((v) => formatValue(v, base.digits)).join(",")}]`);
    }
    parts.push(`,"daily_units":{${units.join(",")}},"daily":{${columns.join(",")}}`);
  }
  parts.push("}");
  return parts.join("");
}

/** Sunrise, sunset (label or epoch) or daylight duration (s) of a local day. */
function sunValue(
  which: "sunrise" | "sunset" | "daylight",
  cell: Cell,
  dayStartLabelUtc: number,
  offset: number,
  unixtime: boolean,
): string {
  // The local day starts at its label's midnight minus the offset; sun times are computed for it.
  const dayStart = dayStartLabelUtc - offset;
  // Solar noon of the UTC day with the label's date falls on the same local date wherever the
  // offset is within ±12 h, so the UTC day's sun times are the local day's.
  const times = sunTimes(cell.latitude, cell.longitude, dayStartLabelUtc);
  let sunrise: number;
  let sunset: number;
  if (times === "polar-day") {
    sunrise = dayStart;
    sunset = dayStart + 86_400;
  } else if (times === "polar-night") {
    sunrise = dayStart;
    sunset = dayStart;
  } else {
    ({ sunrise, sunset } = times);
  }
  if (which === "daylight") return (sunset - sunrise).toFixed(2);
  const t = which === "sunrise" ? sunrise : sunset;
  const rounded = Math.floor(t / 60) * 60;
  return unixtime ? String(rounded) : `"${localLabel(rounded, offset, false)}"`;
}

/** A deterministic, plausible generationtime_ms for a request. */
function generationTimeOf(params: Readonly<Record<string, string>>, index: number): number {
  let h = 7;
  for (const [key, value] of Object.entries(params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (const char of `${key}=${value}&`) h = hashInts(h, char.charCodeAt(0));
  }
  return 0.05 + (hashInts(h, index) / 4294967296) * 3;
}

/** An answer of the fake before it goes on the wire. */
export interface RenderedAnswer {
  readonly status: number;
  readonly body: string;
  /** The API weight of a successful answer, as the server counts it (see queryWeight). */
  readonly weight?: number;
}

/**
 * The weight of an answered query, exactly as Open-Meteo computes it
 * (ForecastApiResult.swift calculateQueryWeight, in Float32): per output element (a location
 * with its date range) max(1, max(V/10, V/10 * days/14)), V = hourly + daily variables, summed.
 */
export function queryWeight(variableCount: number, elementDays: readonly number[]): number {
  const f = Math.fround;
  const variablesFraction = f(f(variableCount) / f(10));
  let sum = f(0);
  for (const days of elementDays) {
    const weight = Math.max(variablesFraction, f(f(f(days) / f(14)) * variablesFraction));
    sum = f(sum + Math.max(1, weight));
  }
  return sum;
}

/** Clock and lag the synthetic answers depend on. */
export interface RenderOptions {
  /** The API's clock: "today" for date ranges, and the instant UTC offsets are taken at. */
  readonly now: Date;
  /** Archive hours later than this many days before `now` are null, like ERA5's lag; default 5. */
  readonly archiveDelayDays?: number;
}

/** Allowed date span of an endpoint, as the real API reports it in its 400. */
function allowedRange(endpoint: Endpoint, today: string): DateRange {
  return endpoint === "archive"
    ? { start: "1940-01-01", end: today }
    : { start: addDays(today, -92), end: addDays(today, 15) };
}

/**
 * Answers one Open-Meteo query the way the real server would (status and body text), without
 * any HTTP: the server below is a thin shell around it, and tests can call it directly.
 */
export function answerOpenMeteoQuery(
  path: string,
  params: Readonly<Record<string, string>>,
  options: RenderOptions,
): RenderedAnswer {
  const endpoint: Endpoint | undefined =
    path === "/v1/forecast" ? "forecast" : path === "/v1/archive" ? "archive" : undefined;
  if (endpoint === undefined) return { status: 404, body: JSON.stringify({ error: true, reason: "Not Found" }) };
  try {
    const query = parseQuery(endpoint, params);
    const now = options.now;
    const todayUtc = now.toISOString().slice(0, 10);
    const allowed = allowedRange(endpoint, todayUtc);
    const zones = query.coordinates.map((c, i) =>
      resolveZone(query.timezones[query.timezones.length === 1 ? 0 : i] as TimezoneSpec, c.longitude, now),
    );

    // Each output element: a coordinate with a date range (the real server's pairing rules).
    const elements: { index: number; range: DateRange }[] = [];
    if (query.ranges.length === 0) {
      const past = query.pastDays ?? 0;
      const days = query.forecastDays ?? 7;
      if (days < 0 || days > 16)
        throw new BadRequest(`Forecast days is invalid. Allowed range 0 to 16. Given ${days}.`);
      if (past < 0 || past > 92) throw new BadRequest(`Past days is invalid. Allowed range 0 to 92. Given ${past}.`);
      if (days + past === 0) throw new BadRequest(`Forecast days is invalid. Allowed range 1 to 16. Given ${days}.`);
      query.coordinates.forEach((_, index) => {
        const zone = zones[index] as ResolvedZone;
        const localToday = new Date(now.getTime() + zone.offsetSeconds * 1000).toISOString().slice(0, 10);
        elements.push({ index, range: { start: addDays(localToday, -past), end: addDays(localToday, days - 1) } });
      });
    } else if (query.ranges.length === 1) {
      query.coordinates.forEach((_, index) => elements.push({ index, range: query.ranges[0] as DateRange }));
    } else if (query.coordinates.length === 1) {
      query.ranges.forEach((range) => elements.push({ index: 0, range }));
    } else {
      query.ranges.forEach((range, index) => elements.push({ index, range }));
    }
    for (const { range } of query.ranges.length > 0 ? elements : []) {
      for (const [name, date] of [
        ["start_date", range.start],
        ["end_date", range.end],
      ] as const) {
        if (date < allowed.start || date > allowed.end) {
          throw new BadRequest(`Parameter '${name}' is out of allowed range from ${allowed.start} to ${allowed.end}`);
        }
      }
    }
    const generationMs = generationTimeOf(params, 0);
    const context: RenderContext = { endpoint, now, archiveDelayDays: options.archiveDelayDays ?? 5 };
    const bodies = elements.map(({ index, range }) =>
      renderLocation(query, index, range, zones[index] as ResolvedZone, context, generationMs),
    );
    const body =
      bodies.length === 1 && query.coordinates.length === 1 && query.ranges.length <= 1
        ? (bodies[0] as string)
        : `[${bodies.join(",")}]`;
    const weight = queryWeight(
      query.hourly.length + query.daily.length,
      elements.map(({ range }) => daysBetween(range.start, range.end) + 1),
    );
    return { status: 200, body, weight };
  } catch (error) {
    if (error instanceof BadRequest)
      return { status: 400, body: JSON.stringify({ error: true, reason: error.reason }) };
    throw error;
  }
}
