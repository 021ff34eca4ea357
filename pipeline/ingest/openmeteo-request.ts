/**
 * What to ask Open-Meteo for one date, or a run of dates fetched together (a backfill window):
 * locations sorted by name, cut into as few GET requests as the API's weight rule, its
 * 1,000-location cap and a safe URL length allow. Each request names a fixed-offset zone for
 * its dates (core/day-frames.ts), so what it means does not depend on when it is sent. Pure:
 * the same settings and dates always give the same URLs and request ids, so raw object keys
 * are stable.
 */
import { createHash } from "node:crypto";
import { addDays, assertTimeZone, chooseEndpoint, daysBetween } from "../core/dates";
import { dayFrames, type DayFrame } from "../core/day-frames";
import { assertIsoDate } from "../core/keys";
import type { Endpoint, Location, PipelineSettings } from "../core/settings";

/** Open-Meteo answers at most this many coordinates in one request. */
export const MAX_LOCATIONS_PER_REQUEST = 1000;

/**
 * Longest URL we send. Servers and proxies commonly cap request lines at 8 KB; staying at half
 * leaves room for an API key added at send time and for proxies with smaller limits.
 */
export const MAX_URL_LENGTH = 4000;

/** One HTTP request of a date's (or a window's) ingest. */
export interface PlannedRequest {
  /** Position in the plan, 0-based; batches follow location order. */
  readonly batchIndex: number;
  /** `NNNN-<12 hex of sha256(path and query)>`, the raw object's name. */
  readonly requestId: string;
  readonly endpoint: Endpoint;
  /** The first date the request serves. */
  readonly date: string;
  /** The last date it serves (the same as `date` for a daily run). */
  readonly lastDate: string;
  /** The `timezone` parameter sent: a fixed-offset zone for the dates (see core/day-frames.ts). */
  readonly timezone: string;
  /** The UTC offset every body of the request must carry, in seconds. */
  readonly offsetSeconds: number;
  /** Days asked for: the dates served, plus one after a fall-back day. */
  readonly days: number;
  /** The GET URL; it never holds a secret. */
  readonly url: string;
  /** The locations in request order: response element i belongs to locations[i]. */
  readonly locations: readonly Location[];
  /** API weight of the whole request (sum over its locations). */
  readonly weight: number;
}

/** A run of dates fetched in the same requests: one endpoint, one fixed offset. */
export interface DateSegment {
  readonly from: string;
  readonly to: string;
  readonly endpoint: Endpoint;
  readonly frames: readonly DayFrame[];
}

/**
 * API weight of one location in a request, as Open-Meteo counts it
 * (ForecastApiResult.swift calculateQueryWeight): max(1, V/10, V/10 * days/14),
 * V = variables (hourly + daily, x models, 1 here).
 */
export function requestWeight(variableCount: number, days: number): number {
  if (!Number.isInteger(variableCount) || variableCount < 0) {
    throw new RangeError(`variableCount is ${variableCount}; it must be a whole number, 0 or more`);
  }
  if (!Number.isInteger(days) || days < 1)
    throw new RangeError(`days is ${days}; it must be a whole number, 1 or more`);
  const perTen = variableCount / 10;
  return Math.max(1, perTen, (perTen * days) / 14);
}

/**
 * Writes a coordinate compactly and always the same way: at most 6 decimals (about 0.1 m),
 * no trailing zeros, no exponent, no "-0".
 */
export function formatCoordinate(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`coordinate is ${value}; it must be a finite number`);
  const rounded = Number(value.toFixed(6));
  return Object.is(rounded, -0) ? "0" : String(rounded);
}

// Query values keep "," (list separator) and "/" (time zone names) readable; both are legal in
// a query string and Open-Meteo reads them either way.
function encodeQueryValue(value: string): string {
  return encodeURIComponent(value).replace(/%2C/gi, ",").replace(/%2F/gi, "/");
}

/**
 * Builds the GET URL for some locations from `date` to `endDate` (default the same day), with
 * `settings.timezone` as the `timezone` sent; parameter order is fixed so the URL is stable.
 */
export function buildRequestUrl(
  baseUrl: string,
  locations: readonly Location[],
  settings: Pick<PipelineSettings, "hourlyVariables" | "dailyVariables" | "timezone">,
  date: string,
  endDate: string = date,
): string {
  const params: [string, string][] = [
    ["latitude", locations.map((l) => formatCoordinate(l.latitude)).join(",")],
    ["longitude", locations.map((l) => formatCoordinate(l.longitude)).join(",")],
  ];
  if (settings.hourlyVariables.length > 0) params.push(["hourly", settings.hourlyVariables.join(",")]);
  if (settings.dailyVariables.length > 0) params.push(["daily", settings.dailyVariables.join(",")]);
  params.push(["timezone", settings.timezone], ["start_date", date], ["end_date", endDate]);
  const query = params.map(([name, value]) => `${name}=${encodeQueryValue(value)}`).join("&");
  return `${baseUrl}${baseUrl.includes("?") ? "&" : "?"}${query}`;
}

/**
 * What identifies a request: the URL's path and query, never its scheme or host. The same
 * request to the fake on another port, a self-hosted server or a customer host is the same
 * request, so it gets the same raw key and a re-run overwrites it.
 */
export function requestIdentity(url: string): string {
  const parsed = new URL(url);
  return `${parsed.pathname}${parsed.search}`;
}

/** `NNNN-<first 12 hex of sha256(path and query)>`: batch index first so key order is location order. */
export function requestIdOf(batchIndex: number, url: string): string {
  const hash = createHash("sha256").update(requestIdentity(url)).digest("hex").slice(0, 12);
  return `${String(batchIndex).padStart(4, "0")}-${hash}`;
}

// Code-unit order, not localeCompare: the order (and so every key) must not depend on the
// ICU data or locale of the machine running the plan.
function compareNames(a: Location, b: Location): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function checkSettings(settings: PipelineSettings, date: string, endpoint: Endpoint): void {
  assertIsoDate(date);
  checkRequestSettings(settings, endpoint);
}

function checkRequestSettings(settings: PipelineSettings, endpoint: Endpoint): void {
  if (endpoint !== "forecast" && endpoint !== "archive") {
    throw new RangeError(`endpoint is ${JSON.stringify(endpoint)}; it must be "forecast" or "archive"`);
  }
  assertTimeZone(settings.timezone, "settings.timezone");
  if (settings.locations.length === 0) throw new RangeError("settings.locations is empty; add at least one location");
  if (settings.hourlyVariables.length + settings.dailyVariables.length === 0) {
    throw new RangeError(
      "settings.hourlyVariables and settings.dailyVariables are both empty; name at least one variable",
    );
  }
  for (const [list, names] of [
    ["hourlyVariables", settings.hourlyVariables],
    ["dailyVariables", settings.dailyVariables],
  ] as const) {
    names.forEach((name, i) => {
      if (!/^[a-z0-9_]+$/.test(name)) {
        throw new RangeError(
          `settings.${list}[${i}] is ${JSON.stringify(name)}; Open-Meteo variable names are lower-case letters, digits and "_" (e.g. temperature_2m)`,
        );
      }
    });
  }
  const seen = new Map<string, number>();
  settings.locations.forEach((l, i) => {
    if (l.name.length === 0) throw new RangeError(`settings.locations[${i}].name is empty; give every location a name`);
    const first = seen.get(l.name);
    if (first !== undefined) {
      throw new RangeError(
        `settings.locations[${i}].name is ${JSON.stringify(l.name)}, the same as locations[${first}]; names must be unique`,
      );
    }
    seen.set(l.name, i);
    if (!(l.latitude >= -90 && l.latitude <= 90)) {
      throw new RangeError(`settings.locations[${i}].latitude is ${l.latitude}; it must be between -90 and 90`);
    }
    if (!(l.longitude >= -180 && l.longitude <= 180)) {
      throw new RangeError(`settings.locations[${i}].longitude is ${l.longitude}; it must be between -180 and 180`);
    }
  });
  const max = settings.http.maxWeightPerRequest;
  if (!(max > 0)) throw new RangeError(`settings.http.maxWeightPerRequest is ${max}; it must be more than 0`);
}

/**
 * Plans the requests for one date: locations sorted by name, packed greedily into batches whose
 * weight, location count and URL length stay within limits. With every location weighing the
 * same, filling each batch before starting the next gives the fewest requests possible.
 */
export function planRequests(settings: PipelineSettings, date: string, endpoint: Endpoint): PlannedRequest[] {
  checkSettings(settings, date, endpoint);
  return planSegmentRequests(settings, {
    from: date,
    to: date,
    endpoint,
    frames: dayFrames(settings.timezone, date, date),
  });
}

/**
 * Cuts dates into segments that can be fetched together: one endpoint (chosen per date against
 * `today`, as the daily run does) and one fixed offset, ending after a fall-back day (whose
 * request runs a day longer). In a zone without DST changes a range is one segment per endpoint.
 */
export function segmentDates(
  settings: Pick<PipelineSettings, "timezone" | "forecastPastDays">,
  from: string,
  to: string,
  today: string,
): DateSegment[] {
  const frames = dayFrames(settings.timezone, from, to);
  const segments: DateSegment[] = [];
  let current: DayFrame[] = [];
  let endpoint: Endpoint | undefined;
  const close = (): void => {
    const first = current[0];
    const last = current[current.length - 1];
    if (first && last && endpoint) segments.push({ from: first.date, to: last.date, endpoint, frames: current });
    current = [];
  };
  for (const frame of frames) {
    const e = chooseEndpoint(frame.date, today, settings.forecastPastDays);
    const previous = current[current.length - 1];
    if (
      previous &&
      (e !== endpoint ||
        previous.offsetSeconds !== frame.offsetSeconds ||
        previous.requestTimezone !== frame.requestTimezone ||
        previous.extraDays > 0)
    ) {
      close();
    }
    endpoint = e;
    current.push(frame);
  }
  close();
  return segments;
}

/** Throws unless the frames can be fetched in one request: one offset, a longer day only last. */
function checkSegment(segment: DateSegment): void {
  const first = segment.frames[0];
  if (!first || first.date !== segment.from || segment.frames[segment.frames.length - 1]?.date !== segment.to) {
    throw new RangeError(`the segment ${segment.from} to ${segment.to} does not list its dates' frames`);
  }
  segment.frames.forEach((frame, i) => {
    if (frame.offsetSeconds !== first.offsetSeconds || frame.requestTimezone !== first.requestTimezone) {
      throw new RangeError(
        `${segment.from} to ${segment.to} spans a UTC offset change (${frame.date} starts at ${frame.offsetSeconds} s, ${first.date} at ${first.offsetSeconds} s); split it at the change (segmentDates does)`,
      );
    }
    if (frame.extraDays > 0 && i < segment.frames.length - 1) {
      throw new RangeError(
        `${segment.from} to ${segment.to} goes on past the fall-back day ${frame.date}; end it there`,
      );
    }
  });
}

/**
 * Plans the requests for a segment of dates (one endpoint and offset; see segmentDates): the
 * same batching as planRequests, with start_date and end_date spanning the segment, so each
 * location's weight grows with the days once they are past 14 (see requestWeight).
 */
export function planSegmentRequests(settings: PipelineSettings, segment: DateSegment): PlannedRequest[] {
  const { from, to, endpoint } = segment;
  assertIsoDate(from, "the segment's first date");
  assertIsoDate(to, "the segment's last date");
  checkRequestSettings(settings, endpoint);
  checkSegment(segment);
  const frame = segment.frames[0] as DayFrame;
  const endDate = addDays(to, (segment.frames[segment.frames.length - 1] as DayFrame).extraDays);
  const days = daysBetween(from, endDate) + 1;
  const sent = { ...settings, timezone: frame.requestTimezone };
  const baseUrl = endpoint === "forecast" ? settings.forecastApiUrl : settings.archiveApiUrl;
  const variableCount = settings.hourlyVariables.length + settings.dailyVariables.length;
  const perLocation = requestWeight(variableCount, days);
  const maxWeight = settings.http.maxWeightPerRequest;
  // Weights are multiples of 0.1; the epsilon keeps 3 x 0.1 from counting as more than 0.3.
  const fits = (count: number): boolean => count * perLocation <= maxWeight + 1e-9;
  if (!fits(1)) {
    throw new RangeError(
      `one location weighs ${perLocation} (${variableCount} variables, ${days} day(s)) but settings.http.maxWeightPerRequest is ${maxWeight}; raise it to at least ${perLocation}, request fewer variables or fewer days at once`,
    );
  }

  // Coordinates are digits, ".", "-" and ",", which the query encoding leaves as they are, so a
  // batch's URL length is the empty URL plus its coordinate text: no need to rebuild each URL.
  const emptyUrlLength = buildRequestUrl(baseUrl, [], sent, from, endDate).length;
  const coordinateLength = (l: Location): number =>
    formatCoordinate(l.latitude).length + formatCoordinate(l.longitude).length;
  const sorted = [...settings.locations].sort(compareNames);
  const batches: Location[][] = [];
  let current: Location[] = [];
  let urlLength = emptyUrlLength;
  for (const location of sorted) {
    // Two commas join a location to the batch's latitude and longitude lists.
    const added = coordinateLength(location) + (current.length > 0 ? 2 : 0);
    const full =
      current.length + 1 > MAX_LOCATIONS_PER_REQUEST || !fits(current.length + 1) || urlLength + added > MAX_URL_LENGTH;
    if (full && current.length > 0) {
      batches.push(current);
      current = [location];
      urlLength = emptyUrlLength + coordinateLength(location);
    } else {
      current.push(location);
      urlLength += added;
    }
  }
  if (current.length > 0) batches.push(current);

  return batches.map((locations, batchIndex) => {
    const url = buildRequestUrl(baseUrl, locations, sent, from, endDate);
    if (url.length > MAX_URL_LENGTH) {
      throw new RangeError(
        `the request URL for location ${JSON.stringify(locations[0]?.name)} alone is ${url.length} characters (limit ${MAX_URL_LENGTH}); shorten the variable lists or the API base URL`,
      );
    }
    return {
      batchIndex,
      requestId: requestIdOf(batchIndex, url),
      endpoint,
      date: from,
      lastDate: to,
      timezone: frame.requestTimezone,
      offsetSeconds: frame.offsetSeconds,
      days,
      url,
      locations,
      weight: locations.length * perLocation,
    };
  });
}
