/**
 * Query parsing of the fake Open-Meteo: parameters checked as the real server checks them, with
 * its 400 reasons word for word.
 */
import { assertTimeZone } from "../../core/dates";
import type { Endpoint } from "../../core/settings";
import { listFakeVariables, VARIABLE_TYPE_NAMES } from "./weather";

/** A 400 answer of the real API; `reason` is shown to the client. */
export class BadRequest extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

// ---------------------------------------------------------------------------------------------
// Query parsing and validation
// ---------------------------------------------------------------------------------------------

export interface Units {
  readonly temperature: "celsius" | "fahrenheit";
  readonly speed: "kmh" | "ms" | "mph" | "kn";
  readonly precipitation: "mm" | "inch";
}

export type TimezoneSpec =
  { readonly kind: "auto" } | { readonly kind: "named"; readonly name: string } | { readonly kind: "default" };

export interface DateRange {
  readonly start: string;
  readonly end: string;
}

export interface ParsedQuery {
  readonly coordinates: readonly { latitude: number; longitude: number; elevation?: number; locationId: number }[];
  readonly hourly: readonly string[];
  readonly daily: readonly string[];
  readonly timezones: readonly TimezoneSpec[];
  readonly ranges: readonly DateRange[];
  readonly pastDays: number | undefined;
  readonly forecastDays: number | undefined;
  readonly timeformat: "iso8601" | "unixtime";
  readonly units: Units;
}

function listParam(params: Readonly<Record<string, string>>, name: string): string[] | undefined {
  const raw = params[name];
  if (raw === undefined) return undefined;
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function enumParam<T extends string>(
  params: Readonly<Record<string, string>>,
  names: readonly string[],
  typeName: string,
  allowed: readonly T[],
  fallback: T,
): T {
  for (const name of names) {
    const value = params[name];
    if (value === undefined) continue;
    if (!(allowed as readonly string[]).includes(value)) {
      throw new BadRequest(`Cannot initialize ${typeName} from invalid String value ${value} for key ${name}`);
    }
    return value as T;
  }
  return fallback;
}

function integerParam(params: Readonly<Record<string, string>>, name: string): number | undefined {
  const raw = params[name];
  if (raw === undefined) return undefined;
  if (!/^-?\d+$/.test(raw)) throw new BadRequest(`Value of type 'Int' required for key '${name}'.`);
  return Number(raw);
}

function floatList(params: Readonly<Record<string, string>>, name: string, required: boolean): number[] | undefined {
  const list = listParam(params, name);
  if (list === undefined || list.length === 0) {
    if (required) throw new BadRequest(`Value required for key '${name}'.`);
    return undefined;
  }
  return list.map((text) => {
    // Swift's Float(String) reads "nan" too; the range check below then rejects it, as the server does.
    const value = /^nan$/i.test(text) ? Number.NaN : Number(text);
    if (text === "" || (Number.isNaN(value) && !/^nan$/i.test(text))) {
      throw new BadRequest(`Value of type 'Float' required for key '${name}'.`);
    }
    return value;
  });
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

function parseDateList(params: Readonly<Record<string, string>>, name: string): string[] {
  const list = listParam(params, name) ?? [];
  for (const date of list) {
    if (!ISO_DATE.test(date) || new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10) !== date) {
      throw new BadRequest(`Invalid date format. Make sure to use 'YYYY-MM-DD'. Given: ${date}`);
    }
  }
  return list;
}

export function parseQuery(endpoint: Endpoint, params: Readonly<Record<string, string>>): ParsedQuery {
  // Enumerations decode first in the real server, so their errors win.
  const temperature = enumParam(
    params,
    ["temperature_unit"],
    "TemperatureUnit",
    ["celsius", "fahrenheit"] as const,
    "celsius",
  );
  const speed = enumParam(
    params,
    ["wind_speed_unit", "windspeed_unit"],
    "WindspeedUnit",
    ["kmh", "ms", "mph", "kn"] as const,
    "kmh",
  );
  const precipitation = enumParam(params, ["precipitation_unit"], "PrecipitationUnit", ["mm", "inch"] as const, "mm");
  const timeformat = enumParam(params, ["timeformat"], "Timeformat", ["iso8601", "unixtime"] as const, "iso8601");

  const names = listFakeVariables(endpoint);
  const hourly = listParam(params, "hourly") ?? [];
  const daily = listParam(params, "daily") ?? [];
  for (const name of hourly) {
    if (!names.hourly.includes(name)) {
      throw new BadRequest(
        `Cannot initialize ${VARIABLE_TYPE_NAMES[endpoint].hourly} from invalid String value ${name} for key `,
      );
    }
  }
  for (const name of daily) {
    if (!names.daily.includes(name)) {
      throw new BadRequest(
        `Cannot initialize ${VARIABLE_TYPE_NAMES[endpoint].daily} from invalid String value ${name} for key `,
      );
    }
  }
  const pastDays = integerParam(params, "past_days");
  const forecastDays = integerParam(params, "forecast_days");

  const latitudes = floatList(params, "latitude", true) ?? [];
  const longitudes = floatList(params, "longitude", true) ?? [];
  const elevations = floatList(params, "elevation", false);
  const locationIds = listParam(params, "location_id")?.map((text) => {
    if (!/^-?\d+$/.test(text)) throw new BadRequest("Value of type 'Int' required for key 'location_id'.");
    return Number(text);
  });
  if (latitudes.length !== longitudes.length) {
    throw new BadRequest("Parameter 'latitude' and 'longitude' must have the same number of elements");
  }
  if (latitudes.length > 1000)
    throw new BadRequest("Parameter 'latitude' and 'longitude' must not exceed 1000 coordinates.");
  if (locationIds && locationIds.length !== latitudes.length) {
    throw new BadRequest("Parameter 'location_id' and coordinates must have the same number of elements");
  }
  if (elevations && elevations.length !== latitudes.length) {
    throw new BadRequest("Parameter 'elevation' must have the same number of elements as coordinates");
  }
  const coordinates = latitudes.map((latitude, i) => {
    const longitude = longitudes[i] as number;
    if (!(latitude >= -90 && latitude <= 90))
      throw new BadRequest(`Latitude must be in range of -90 to 90°. Given: ${latitude}.`);
    if (!(longitude >= -180 && longitude <= 180)) {
      throw new BadRequest(`Longitude must be in range of -180 to 180°. Given: ${longitude}.`);
    }
    const elevation = elevations?.[i];
    return {
      latitude,
      longitude,
      locationId: locationIds?.[i] ?? i,
      ...(elevation === undefined ? {} : { elevation }),
    };
  });

  const timezoneNames = listParam(params, "timezone");
  let timezones: TimezoneSpec[];
  if (timezoneNames === undefined || timezoneNames.length === 0) {
    timezones = [{ kind: "default" }];
  } else {
    timezones = timezoneNames.map((name) => {
      if (name === "auto") return { kind: "auto" };
      try {
        assertTimeZone(name);
      } catch {
        throw new BadRequest("Invalid timezone");
      }
      return { kind: "named", name };
    });
    if (timezones.length !== 1 && timezones.length !== coordinates.length) {
      throw new BadRequest("Parameter 'latitude' and 'longitude' must have the same number of elements");
    }
  }

  const starts = parseDateList(params, "start_date");
  const ends = parseDateList(params, "end_date");
  if (starts.length !== ends.length) {
    if (starts.length === 0 || ends.length === 0)
      throw new BadRequest("Both 'start_date' and 'end_date' must be set in the url");
    throw new BadRequest("Parameter 'start_date' and 'end_date' must have the same number of elements");
  }
  const ranges = starts.map((start, i) => {
    const end = ends[i] as string;
    if (end < start) throw new BadRequest("End-date must be larger or equals than start-date");
    return { start, end };
  });
  if (ranges.length > 0) {
    if (pastDays !== undefined && pastDays !== 0) {
      throw new BadRequest("Parameter 'past_days' is mutually exclusive with 'start_date' and 'end_date'");
    }
    if (forecastDays !== undefined && forecastDays !== 0) {
      throw new BadRequest("Parameter 'forecast_days' is mutually exclusive with 'start_date' and 'end_date'");
    }
    if (ranges.length !== 1 && coordinates.length !== 1 && ranges.length !== coordinates.length) {
      throw new BadRequest(
        "Parameter 'start_date' and 'end_date' must have the same number of elements as coordinates",
      );
    }
  } else if (endpoint === "archive") {
    throw new BadRequest("Both 'start_date' and 'end_date' must be set in the url");
  }
  return {
    coordinates,
    hourly,
    daily,
    timezones,
    ranges,
    pastDays,
    forecastDays,
    timeformat,
    units: { temperature, speed, precipitation },
  };
}
