/**
 * What to ask Open-Meteo for one date: locations sorted by name, cut into as few GET requests
 * as the API's weight rule, its 1,000-location cap and a safe URL length allow. Pure: the same
 * settings and date always give the same URLs and request ids, so raw object keys are stable.
 */
import { createHash } from "node:crypto";
import { assertTimeZone } from "../core/dates";
import { assertIsoDate } from "../core/keys";
import type { Endpoint, Location, PipelineSettings } from "../core/settings";

/** Open-Meteo answers at most this many coordinates in one request. */
export const MAX_LOCATIONS_PER_REQUEST = 1000;

/**
 * Longest URL we send. Servers and proxies commonly cap request lines at 8 KB; staying at half
 * leaves room for an API key added at send time and for proxies with smaller limits.
 */
export const MAX_URL_LENGTH = 4000;

/** One HTTP request of a date's ingest. */
export interface PlannedRequest {
  /** Position in the plan, 0-based; batches follow location order. */
  readonly batchIndex: number;
  /** `NNNN-<12 hex of sha256(url)>`, the raw object's name. */
  readonly requestId: string;
  readonly endpoint: Endpoint;
  readonly date: string;
  /** The GET URL; it never holds a secret. */
  readonly url: string;
  /** The locations in request order: response element i belongs to locations[i]. */
  readonly locations: readonly Location[];
  /** API weight of the whole request (sum over its locations). */
  readonly weight: number;
}

/**
 * API weight of one location in a request, as Open-Meteo counts it:
 * max(1, V/10, V/10 * days/14), V = variables (x models, 1 here).
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

/** Builds the GET URL for some locations on one date; parameter order is fixed so the URL is stable. */
export function buildRequestUrl(
  baseUrl: string,
  locations: readonly Location[],
  settings: Pick<PipelineSettings, "hourlyVariables" | "dailyVariables" | "timezone">,
  date: string,
): string {
  const params: [string, string][] = [
    ["latitude", locations.map((l) => formatCoordinate(l.latitude)).join(",")],
    ["longitude", locations.map((l) => formatCoordinate(l.longitude)).join(",")],
  ];
  if (settings.hourlyVariables.length > 0) params.push(["hourly", settings.hourlyVariables.join(",")]);
  if (settings.dailyVariables.length > 0) params.push(["daily", settings.dailyVariables.join(",")]);
  params.push(["timezone", settings.timezone], ["start_date", date], ["end_date", date]);
  const query = params.map(([name, value]) => `${name}=${encodeQueryValue(value)}`).join("&");
  return `${baseUrl}${baseUrl.includes("?") ? "&" : "?"}${query}`;
}

/** `NNNN-<first 12 hex of sha256(url)>`: batch index first so key order is location order. */
export function requestIdOf(batchIndex: number, url: string): string {
  const hash = createHash("sha256").update(url).digest("hex").slice(0, 12);
  return `${String(batchIndex).padStart(4, "0")}-${hash}`;
}

// Code-unit order, not localeCompare: the order (and so every key) must not depend on the
// ICU data or locale of the machine running the plan.
function compareNames(a: Location, b: Location): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function checkSettings(settings: PipelineSettings, date: string, endpoint: Endpoint): void {
  assertIsoDate(date);
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
  const baseUrl = endpoint === "forecast" ? settings.forecastApiUrl : settings.archiveApiUrl;
  const variableCount = settings.hourlyVariables.length + settings.dailyVariables.length;
  const perLocation = requestWeight(variableCount, 1);
  const maxWeight = settings.http.maxWeightPerRequest;
  // Weights are multiples of 0.1; the epsilon keeps 3 x 0.1 from counting as more than 0.3.
  const fits = (count: number): boolean => count * perLocation <= maxWeight + 1e-9;
  if (!fits(1)) {
    throw new RangeError(
      `one location weighs ${perLocation} (${variableCount} variables) but settings.http.maxWeightPerRequest is ${maxWeight}; raise it to at least ${perLocation} or request fewer variables`,
    );
  }

  // Coordinates are digits, ".", "-" and ",", which the query encoding leaves as they are, so a
  // batch's URL length is the empty URL plus its coordinate text: no need to rebuild each URL.
  const emptyUrlLength = buildRequestUrl(baseUrl, [], settings, date).length;
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
    const url = buildRequestUrl(baseUrl, locations, settings, date);
    if (url.length > MAX_URL_LENGTH) {
      throw new RangeError(
        `the request URL for location ${JSON.stringify(locations[0]?.name)} alone is ${url.length} characters (limit ${MAX_URL_LENGTH}); shorten the variable lists or the API base URL`,
      );
    }
    return {
      batchIndex,
      requestId: requestIdOf(batchIndex, url),
      endpoint,
      date,
      url,
      locations,
      weight: locations.length * perLocation,
    };
  });
}
