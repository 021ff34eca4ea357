/**
 * A local stand-in for the Open-Meteo API: a real HTTP server on 127.0.0.1 that answers
 * /v1/forecast and /v1/archive for any coordinates and dates with deterministic synthetic
 * weather, in the byte format of the real server (compact JSON, key order, fixed decimals per
 * unit, `location_id` from the second element of a multi-location array). Tests can script
 * any answer per request (recorded 429/503 bodies, HTML, `nan`, hangs, resets) and read back
 * every request and the exact bytes sent. Used by `npm start`, the Lambda tests and fault tests.
 *
 * Behaviour copied from the real API (open-meteo/open-meteo, Sources/App/Helper/ForecastapiQuery.swift
 * and ForecastapiResult.swift, plus the recorded bodies in shared/open-meteo):
 * - `utc_offset_seconds` is the zone's offset at REQUEST time (the fake's clock), one value for
 *   the whole body; `time` labels are local wall clock with that fixed offset, 24 per day, so a
 *   DST change inside the range is not reflected (as in the recorded Adelaide archive body).
 * - values are printed with a fixed number of decimals per variable; integers (humidity,
 *   weather code, direction) without decimals; a missing value is `null`.
 * - the archive lags real time: hours later than `archiveDelayDays` before the clock are `null`.
 * - unknown parameters are ignored; bad ones give 400 `{"error":true,"reason":...}`.
 * Choices of the fake: `timezone=auto` resolves to a whole-hour zone from the longitude
 * (Etc/GMT-1 for 15°E); coordinates snap to a 0.02° (forecast) or 0.1° (archive) grid in
 * float32, like the real grid cells; elevation and `generationtime_ms` are derived from the
 * request so that the same request and clock give the same bytes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { gzipSync } from "node:zlib";
import { addDays, assertTimeZone, daysBetween, utcOffsetSecondsAt } from "../dates";
import type { Endpoint } from "../settings";

// ---------------------------------------------------------------------------------------------
// Error reasons, as the real server words them
// ---------------------------------------------------------------------------------------------

/** Reasons of the real API's 429 and 503 answers (see shared/open-meteo/errors). */
export const OPEN_METEO_REASONS = {
  minutely: "Minutely API request limit exceeded. Please try again in one minute.",
  hourly: "Hourly API request limit exceeded. Please try again in the next hour.",
  daily: "Daily API request limit exceeded. Please try again tomorrow.",
  concurrency: "Too many concurrent requests",
  overloaded: "The service is overloaded",
} as const;

/** A 400 answer of the real API; `reason` is shown to the client. */
class BadRequest extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

// ---------------------------------------------------------------------------------------------
// Variables: units, decimals, and how each is made
// ---------------------------------------------------------------------------------------------

/** How a variable converts with the unit parameters. */
type Dimension = "temperature" | "speed" | "precipitation" | "snow" | "none";

/** One hour of synthetic weather at one grid cell, in base units (°C, km/h, mm, cm, ...). */
interface HourWeather {
  readonly temperature: number;
  readonly dewPoint: number;
  readonly humidity: number;
  readonly apparent: number;
  readonly wetBulb: number;
  readonly precipitation: number;
  readonly rain: number;
  readonly showers: number;
  readonly snowfall: number;
  readonly snowDepth: number;
  readonly precipitationProbability: number;
  readonly weatherCode: number;
  readonly pressureMsl: number;
  readonly surfacePressure: number;
  readonly cloudCover: number;
  readonly cloudLow: number;
  readonly cloudMid: number;
  readonly cloudHigh: number;
  readonly visibility: number;
  readonly windSpeed10: number;
  readonly windSpeed100: number;
  readonly windDirection10: number;
  readonly windDirection100: number;
  readonly windGusts10: number;
  readonly shortwave: number;
  readonly direct: number;
  readonly diffuse: number;
  readonly isDay: number;
  readonly sunshine: number;
  readonly uvIndex: number;
  readonly et0: number;
  readonly evapotranspiration: number;
  readonly vpd: number;
  readonly cape: number;
  readonly freezingLevel: number;
  readonly soilTemperature0: number;
  readonly soilTemperature0to7: number;
  readonly soilMoisture0to7: number;
  readonly soilMoistureIndex0to7: number;
}

interface HourlyVariable {
  readonly unit: string;
  readonly digits: number;
  readonly dimension: Dimension;
  readonly pick: (w: HourWeather) => number;
  readonly forecastOnly?: boolean;
  readonly archiveOnly?: boolean;
}

// Units and decimals follow the recorded bodies (°C 1, % 0, mm 1, et0 2, m/s 2, fraction 3,
// "wmo code" 0, is_day "") and the API documentation for the rest.
const HOURLY: Readonly<Record<string, HourlyVariable>> = {
  temperature_2m: { unit: "°C", digits: 1, dimension: "temperature", pick: (w) => w.temperature },
  relative_humidity_2m: { unit: "%", digits: 0, dimension: "none", pick: (w) => w.humidity },
  dew_point_2m: { unit: "°C", digits: 1, dimension: "temperature", pick: (w) => w.dewPoint },
  apparent_temperature: { unit: "°C", digits: 1, dimension: "temperature", pick: (w) => w.apparent },
  wet_bulb_temperature_2m: { unit: "°C", digits: 1, dimension: "temperature", pick: (w) => w.wetBulb },
  precipitation: { unit: "mm", digits: 1, dimension: "precipitation", pick: (w) => w.precipitation },
  rain: { unit: "mm", digits: 1, dimension: "precipitation", pick: (w) => w.rain },
  showers: { unit: "mm", digits: 1, dimension: "precipitation", pick: (w) => w.showers, forecastOnly: true },
  snowfall: { unit: "cm", digits: 2, dimension: "snow", pick: (w) => w.snowfall },
  snow_depth: { unit: "m", digits: 2, dimension: "none", pick: (w) => w.snowDepth },
  precipitation_probability: {
    unit: "%",
    digits: 0,
    dimension: "none",
    pick: (w) => w.precipitationProbability,
    forecastOnly: true,
  },
  weather_code: { unit: "wmo code", digits: 0, dimension: "none", pick: (w) => w.weatherCode },
  pressure_msl: { unit: "hPa", digits: 1, dimension: "none", pick: (w) => w.pressureMsl },
  surface_pressure: { unit: "hPa", digits: 1, dimension: "none", pick: (w) => w.surfacePressure },
  cloud_cover: { unit: "%", digits: 0, dimension: "none", pick: (w) => w.cloudCover },
  cloud_cover_low: { unit: "%", digits: 0, dimension: "none", pick: (w) => w.cloudLow },
  cloud_cover_mid: { unit: "%", digits: 0, dimension: "none", pick: (w) => w.cloudMid },
  cloud_cover_high: { unit: "%", digits: 0, dimension: "none", pick: (w) => w.cloudHigh },
  visibility: { unit: "m", digits: 1, dimension: "none", pick: (w) => w.visibility, forecastOnly: true },
  wind_speed_10m: { unit: "km/h", digits: 1, dimension: "speed", pick: (w) => w.windSpeed10 },
  wind_speed_100m: { unit: "km/h", digits: 1, dimension: "speed", pick: (w) => w.windSpeed100 },
  wind_direction_10m: { unit: "°", digits: 0, dimension: "none", pick: (w) => w.windDirection10 },
  wind_direction_100m: { unit: "°", digits: 0, dimension: "none", pick: (w) => w.windDirection100 },
  wind_gusts_10m: { unit: "km/h", digits: 1, dimension: "speed", pick: (w) => w.windGusts10 },
  shortwave_radiation: { unit: "W/m²", digits: 1, dimension: "none", pick: (w) => w.shortwave },
  direct_radiation: { unit: "W/m²", digits: 1, dimension: "none", pick: (w) => w.direct },
  diffuse_radiation: { unit: "W/m²", digits: 1, dimension: "none", pick: (w) => w.diffuse },
  is_day: { unit: "", digits: 0, dimension: "none", pick: (w) => w.isDay },
  sunshine_duration: { unit: "s", digits: 2, dimension: "none", pick: (w) => w.sunshine },
  uv_index: { unit: "", digits: 2, dimension: "none", pick: (w) => w.uvIndex, forecastOnly: true },
  et0_fao_evapotranspiration: { unit: "mm", digits: 2, dimension: "precipitation", pick: (w) => w.et0 },
  evapotranspiration: { unit: "mm", digits: 2, dimension: "precipitation", pick: (w) => w.evapotranspiration },
  vapour_pressure_deficit: { unit: "kPa", digits: 2, dimension: "none", pick: (w) => w.vpd },
  cape: { unit: "J/kg", digits: 1, dimension: "none", pick: (w) => w.cape, forecastOnly: true },
  freezing_level_height: { unit: "m", digits: 1, dimension: "none", pick: (w) => w.freezingLevel, forecastOnly: true },
  soil_temperature_0cm: {
    unit: "°C",
    digits: 1,
    dimension: "temperature",
    pick: (w) => w.soilTemperature0,
    forecastOnly: true,
  },
  soil_temperature_0_to_7cm: { unit: "°C", digits: 1, dimension: "temperature", pick: (w) => w.soilTemperature0to7 },
  soil_moisture_0_to_7cm: { unit: "m³/m³", digits: 3, dimension: "none", pick: (w) => w.soilMoisture0to7 },
  soil_moisture_index_0_to_7cm: {
    unit: "fraction",
    digits: 3,
    dimension: "none",
    pick: (w) => w.soilMoistureIndex0to7,
    archiveOnly: true,
  },
};

/** How a daily value is made from the day's 24 hourly values (already rounded as the hourly output). */
type DailyRule =
  | {
      readonly kind: "aggregate";
      readonly hourly: string;
      readonly op: "max" | "min" | "mean" | "sum" | "count-positive" | "dominant-direction";
    }
  | { readonly kind: "sun"; readonly which: "sunrise" | "sunset" | "daylight" };

interface DailyVariable {
  readonly rule: DailyRule;
  /** Unit and decimals; when absent, those of the hourly variable aggregated. */
  readonly unit?: string;
  readonly digits?: number;
  readonly dimension?: Dimension;
  /** Scale applied after aggregation (W/m² hourly sum -> MJ/m²). */
  readonly scale?: number;
  readonly forecastOnly?: boolean;
}

const agg = (hourly: string, op: "max" | "min" | "mean" | "sum"): DailyVariable => ({
  rule: { kind: "aggregate", hourly, op },
});

const DAILY: Readonly<Record<string, DailyVariable>> = {
  weather_code: agg("weather_code", "max"),
  temperature_2m_max: agg("temperature_2m", "max"),
  temperature_2m_min: agg("temperature_2m", "min"),
  temperature_2m_mean: agg("temperature_2m", "mean"),
  apparent_temperature_max: agg("apparent_temperature", "max"),
  apparent_temperature_min: agg("apparent_temperature", "min"),
  apparent_temperature_mean: agg("apparent_temperature", "mean"),
  dew_point_2m_max: agg("dew_point_2m", "max"),
  dew_point_2m_min: agg("dew_point_2m", "min"),
  dew_point_2m_mean: agg("dew_point_2m", "mean"),
  relative_humidity_2m_max: agg("relative_humidity_2m", "max"),
  relative_humidity_2m_min: agg("relative_humidity_2m", "min"),
  relative_humidity_2m_mean: agg("relative_humidity_2m", "mean"),
  precipitation_sum: agg("precipitation", "sum"),
  rain_sum: agg("rain", "sum"),
  showers_sum: { ...agg("showers", "sum"), forecastOnly: true },
  snowfall_sum: agg("snowfall", "sum"),
  precipitation_hours: {
    rule: { kind: "aggregate", hourly: "precipitation", op: "count-positive" },
    unit: "h",
    digits: 1,
    dimension: "none",
  },
  precipitation_probability_max: { ...agg("precipitation_probability", "max"), forecastOnly: true },
  precipitation_probability_mean: { ...agg("precipitation_probability", "mean"), forecastOnly: true },
  pressure_msl_mean: agg("pressure_msl", "mean"),
  surface_pressure_mean: agg("surface_pressure", "mean"),
  cloud_cover_mean: agg("cloud_cover", "mean"),
  cloud_cover_max: agg("cloud_cover", "max"),
  cloud_cover_min: agg("cloud_cover", "min"),
  wind_speed_10m_max: agg("wind_speed_10m", "max"),
  wind_speed_10m_mean: agg("wind_speed_10m", "mean"),
  wind_speed_10m_min: agg("wind_speed_10m", "min"),
  wind_gusts_10m_max: agg("wind_gusts_10m", "max"),
  wind_gusts_10m_mean: agg("wind_gusts_10m", "mean"),
  wind_direction_10m_dominant: { rule: { kind: "aggregate", hourly: "wind_direction_10m", op: "dominant-direction" } },
  shortwave_radiation_sum: { ...agg("shortwave_radiation", "sum"), unit: "MJ/m²", digits: 2, scale: 3600 / 1e6 },
  sunshine_duration: agg("sunshine_duration", "sum"),
  daylight_duration: { rule: { kind: "sun", which: "daylight" }, unit: "s", digits: 2, dimension: "none" },
  sunrise: { rule: { kind: "sun", which: "sunrise" }, unit: "iso8601", dimension: "none" },
  sunset: { rule: { kind: "sun", which: "sunset" }, unit: "iso8601", dimension: "none" },
  uv_index_max: { ...agg("uv_index", "max"), forecastOnly: true },
  et0_fao_evapotranspiration: agg("et0_fao_evapotranspiration", "sum"),
  et0_fao_evapotranspiration_sum: agg("et0_fao_evapotranspiration", "sum"),
  vapour_pressure_deficit_max: agg("vapour_pressure_deficit", "max"),
  soil_moisture_0_to_7cm_mean: agg("soil_moisture_0_to_7cm", "mean"),
  soil_temperature_0_to_7cm_mean: agg("soil_temperature_0_to_7cm", "mean"),
};

/** The variable names the fake knows for an endpoint, for tests and docs. */
export function listFakeVariables(endpoint: Endpoint): { hourly: string[]; daily: string[] } {
  const allowed = (v: { forecastOnly?: boolean; archiveOnly?: boolean }): boolean =>
    endpoint === "forecast" ? !v.archiveOnly : !v.forecastOnly;
  return {
    hourly: Object.keys(HOURLY).filter((name) => allowed(HOURLY[name] as HourlyVariable)),
    daily: Object.keys(DAILY).filter((name) => allowed(DAILY[name] as DailyVariable)),
  };
}

// Type names in the real server's decoding errors; tools match on "Cannot initialize ...Variable".
const VARIABLE_TYPE_NAMES: Readonly<Record<Endpoint, { hourly: string; daily: string }>> = {
  forecast: {
    hourly: "SurfaceAndPressureVariable<ForecastSurfaceVariable, ForecastPressureVariable>",
    daily: "ForecastVariableDaily",
  },
  archive: { hourly: "Era5HourlyVariable", daily: "Era5DailyWeatherVariable" },
};

// ---------------------------------------------------------------------------------------------
// Deterministic noise and the weather model
// ---------------------------------------------------------------------------------------------

/** A 32-bit integer hash of a few integers (murmur3 finaliser mixing); the same inputs always agree. */
function hashInts(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const value of values) {
    h = Math.imul(h ^ (value | 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** A uniform number in [0, 1) from integers. */
function unitHash(...values: number[]): number {
  return hashInts(...values) / 4294967296;
}

/** Smooth noise in [0, 1): random values at knots every `periodHours`, cosine-interpolated between. */
function smoothNoise(channel: number, cellLat: number, cellLon: number, hours: number, periodHours: number): number {
  const x = hours / periodHours;
  const k = Math.floor(x);
  const f = x - k;
  const a = unitHash(channel, cellLat, cellLon, k);
  const b = unitHash(channel, cellLat, cellLon, k + 1);
  const t = (1 - Math.cos(Math.PI * f)) / 2;
  return a + (b - a) * t;
}

const RAD = Math.PI / 180;

/** Declination (degrees) and equation of time (minutes) for a UTC instant (NOAA approximation). */
function solarPosition(epochSeconds: number): { declination: number; equationOfTime: number } {
  const date = new Date(epochSeconds * 1000);
  const startOfYear = Date.UTC(date.getUTCFullYear(), 0, 1);
  const dayOfYear = (epochSeconds * 1000 - startOfYear) / 86_400_000;
  const g = ((2 * Math.PI) / 365) * dayOfYear;
  const declination =
    (0.006918 -
      0.399912 * Math.cos(g) +
      0.070257 * Math.sin(g) -
      0.006758 * Math.cos(2 * g) +
      0.000907 * Math.sin(2 * g) -
      0.002697 * Math.cos(3 * g) +
      0.00148 * Math.sin(3 * g)) /
    RAD;
  const equationOfTime =
    229.18 *
    (0.000075 +
      0.001868 * Math.cos(g) -
      0.032077 * Math.sin(g) -
      0.014615 * Math.cos(2 * g) -
      0.040849 * Math.sin(2 * g));
  return { declination, equationOfTime };
}

/** Sine of the sun's elevation at a place and UTC instant. */
function sunElevationSine(latitude: number, longitude: number, epochSeconds: number): number {
  const { declination, equationOfTime } = solarPosition(epochSeconds);
  const utcMinutes = (((epochSeconds % 86_400) + 86_400) % 86_400) / 60;
  const solarMinutes = utcMinutes + 4 * longitude + equationOfTime;
  const hourAngle = (solarMinutes / 4 - 180) * RAD;
  return (
    Math.sin(latitude * RAD) * Math.sin(declination * RAD) +
    Math.cos(latitude * RAD) * Math.cos(declination * RAD) * Math.cos(hourAngle)
  );
}

/** Sunrise and sunset of a UTC calendar day, as epoch seconds; undefined in polar day or night. */
function sunTimes(
  latitude: number,
  longitude: number,
  dayStartUtcSeconds: number,
): { sunrise: number; sunset: number } | "polar-day" | "polar-night" {
  const { declination, equationOfTime } = solarPosition(dayStartUtcSeconds + 43_200);
  const cosHourAngle =
    Math.cos(90.833 * RAD) / (Math.cos(latitude * RAD) * Math.cos(declination * RAD)) -
    Math.tan(latitude * RAD) * Math.tan(declination * RAD);
  if (cosHourAngle < -1) return "polar-day";
  if (cosHourAngle > 1) return "polar-night";
  const hourAngle = Math.acos(cosHourAngle) / RAD;
  const sunrise = dayStartUtcSeconds + Math.round((720 - 4 * (longitude + hourAngle) - equationOfTime) * 60);
  const sunset = dayStartUtcSeconds + Math.round((720 - 4 * (longitude - hourAngle) - equationOfTime) * 60);
  return { sunrise, sunset };
}

const clamp = (value: number, low: number, high: number): number => Math.min(high, Math.max(low, value));

/** Saturation vapour pressure over water, hPa (Magnus). */
const saturationPressure = (celsius: number): number => 6.112 * Math.exp((17.62 * celsius) / (243.12 + celsius));

/** A grid cell of the fake's model: rounded coordinates the noise is keyed on. */
interface Cell {
  readonly latitude: number;
  readonly longitude: number;
  readonly elevation: number;
  readonly latKey: number;
  readonly lonKey: number;
}

/** The synthetic weather of the hour ending at `epochSeconds` (Open-Meteo's convention for sums). */
function weatherAt(cell: Cell, epochSeconds: number): HourWeather {
  const { latitude, longitude, elevation, latKey, lonKey } = cell;
  const hours = epochSeconds / 3600;
  const noise = (channel: number, period: number): number => smoothNoise(channel, latKey, lonKey, hours, period);
  const absLat = Math.abs(latitude);
  const yearFraction = (epochSeconds / 86_400 - 20) / 365.2425;
  const season = -Math.cos(2 * Math.PI * (yearFraction + (latitude < 0 ? 0.5 : 0)));
  const sinElev = sunElevationSine(latitude, longitude, epochSeconds - 1800);
  const localSolarHour = (((epochSeconds / 3600 + longitude / 15) % 24) + 24) % 24;

  const cloudCover = clamp(Math.round(125 * noise(3, 9) - 15), 0, 100);
  const cloudLow = clamp(Math.round(cloudCover * (0.4 + 0.6 * noise(31, 7))), 0, 100);
  const cloudMid = clamp(Math.round(cloudCover * noise(32, 11)), 0, 100);
  const cloudHigh = clamp(Math.round(100 * noise(33, 13) - 20), 0, 100);
  const clearness = 1 - cloudCover / 100;

  const annualMean = 30 - 0.38 * absLat - 0.0065 * elevation;
  const seasonal = 0.22 * absLat * season;
  const diurnal = (2.5 + 4 * clearness) * Math.cos((2 * Math.PI * (localSolarHour - 15)) / 24);
  const anomaly = (noise(1, 72) - 0.5) * 8 + (noise(2, 12) - 0.5) * 2;
  const temperature = annualMean + seasonal + diurnal + anomaly;

  const wetness = noise(4, 5);
  const precipitation = wetness > 0.7 && cloudCover > 55 ? ((wetness - 0.7) / 0.3) ** 2 * 4 : 0;
  const liquid = temperature > 0.5 ? precipitation : 0;
  const convective = temperature > 12 && noise(41, 8) > 0.55;
  const rain = convective ? 0 : liquid;
  const showers = convective ? liquid : 0;
  const snowfall = temperature > 0.5 ? 0 : precipitation * 0.7;
  const snowDepth = temperature < -2 ? 0.05 + 0.3 * noise(42, 240) : 0;

  const depression = (1 + 11 * noise(5, 24) * (1 - cloudCover / 150)) * (precipitation > 0 ? 0.3 : 1);
  const dewPoint = temperature - depression;
  const vapour = saturationPressure(dewPoint);
  const saturation = saturationPressure(temperature);
  const humidity = clamp(Math.round((100 * vapour) / saturation), 0, 100);

  const windSpeed10 = 2 + 30 * noise(7, 18) ** 1.6 + 3 * Math.max(0, sinElev);
  const windGusts10 = windSpeed10 * (1.4 + 0.5 * noise(71, 6));
  const windDirection10 = Math.round(360 * noise(8, 36)) % 360;
  const windDirection100 = (windDirection10 + 10 + Math.round(20 * noise(81, 36))) % 360;
  const windMs = windSpeed10 / 3.6;

  const shortwave = 1000 * Math.max(0, sinElev) ** 1.15 * (1 - 0.75 * (cloudCover / 100) ** 3.4);
  const direct = shortwave * clearness * 0.8;
  const isDay = sinElev > 0 ? 1 : 0;

  const pressureMsl = 1013 + (noise(6, 48) - 0.5) * 40;
  const wetBulb =
    temperature * Math.atan(0.151977 * Math.sqrt(humidity + 8.313659)) +
    Math.atan(temperature + humidity) -
    Math.atan(humidity - 1.676331) +
    0.00391838 * humidity ** 1.5 * Math.atan(0.023101 * humidity) -
    4.686035;
  const soilMoisture = 0.12 + 0.3 * noise(9, 96);

  return {
    temperature,
    dewPoint,
    humidity,
    // Steadman's apparent temperature: vapour pressure in hPa, wind in m/s.
    apparent: temperature + 0.33 * vapour - 0.7 * windMs - 4,
    wetBulb: Math.min(wetBulb, temperature),
    precipitation,
    rain,
    showers,
    snowfall,
    snowDepth,
    precipitationProbability: clamp(Math.round(100 * wetness ** 1.5), 0, 100),
    weatherCode: weatherCodeOf(precipitation, snowfall, showers, cloudCover, humidity),
    pressureMsl,
    surfacePressure: pressureMsl * Math.exp(-elevation / 8434),
    cloudCover,
    cloudLow,
    cloudMid,
    cloudHigh,
    visibility:
      humidity >= 98 && cloudCover >= 90 ? 180 + 400 * noise(10, 6) : 24_140 - 14_000 * (cloudCover / 100) ** 4,
    windSpeed10,
    windSpeed100: windSpeed10 * 1.35,
    windDirection10,
    windDirection100,
    windGusts10,
    shortwave,
    direct,
    diffuse: shortwave - direct,
    isDay,
    sunshine: isDay ? 3600 * clearness ** 0.7 : 0,
    uvIndex: (shortwave / 100) * 0.9,
    et0: (shortwave / 1000) * 0.55 * (0.5 + Math.max(temperature, 0) / 40) + 0.02 * windMs * (1 - humidity / 100),
    evapotranspiration: (shortwave / 1000) * 0.45 * (0.5 + Math.max(temperature, 0) / 40),
    vpd: Math.max(0, (saturation - vapour) / 10),
    cape: temperature > 15 ? (temperature - 15) * 60 * noise(11, 10) : 0,
    freezingLevel: Math.max(0, elevation + (temperature / 6.5) * 1000),
    soilTemperature0: temperature + 3 * Math.max(0, sinElev) * clearness,
    soilTemperature0to7: 0.6 * temperature + 0.4 * (annualMean + seasonal),
    soilMoisture0to7: soilMoisture,
    soilMoistureIndex0to7: clamp((soilMoisture - 0.1) / 0.35, 0, 1),
  };
}

/** A WMO weather code that agrees with the hour's precipitation and clouds. */
function weatherCodeOf(
  precipitation: number,
  snowfall: number,
  showers: number,
  cloud: number,
  humidity: number,
): number {
  if (snowfall >= 0.05) return precipitation >= 2.5 ? 75 : precipitation >= 1 ? 73 : 71;
  if (showers >= 0.05) return showers >= 4 ? 95 : showers >= 2 ? 81 : 80;
  if (precipitation >= 0.05) return precipitation < 0.5 ? 51 : precipitation < 2.5 ? 61 : 63;
  if (humidity >= 98 && cloud >= 90) return 45;
  return cloud < 15 ? 0 : cloud < 40 ? 1 : cloud < 75 ? 2 : 3;
}

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
// Query parsing and validation
// ---------------------------------------------------------------------------------------------

interface Units {
  readonly temperature: "celsius" | "fahrenheit";
  readonly speed: "kmh" | "ms" | "mph" | "kn";
  readonly precipitation: "mm" | "inch";
}

type TimezoneSpec =
  { readonly kind: "auto" } | { readonly kind: "named"; readonly name: string } | { readonly kind: "default" };

interface DateRange {
  readonly start: string;
  readonly end: string;
}

interface ParsedQuery {
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

function parseQuery(endpoint: Endpoint, params: Readonly<Record<string, string>>): ParsedQuery {
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
    return { status: 200, body };
  } catch (error) {
    if (error instanceof BadRequest)
      return { status: 400, body: JSON.stringify({ error: true, reason: error.reason }) };
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// The HTTP server
// ---------------------------------------------------------------------------------------------

/** What the `respond` hook sees of a request. */
export interface FakeRequest {
  readonly index: number;
  readonly method: string;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
}

/** A scripted answer; `undefined` from the hook means "answer like the real API". */
export type FakeAnswer =
  /** A JSON body (serialized with JSON.stringify), e.g. a recorded 429 or 503 body. */
  | { readonly kind: "json"; readonly status: number; readonly body: unknown; readonly delayMs?: number }
  /** Any bytes: an HTML error page, `nan`, a truncated body. */
  | {
      readonly kind: "text";
      readonly status: number;
      readonly body: string | Uint8Array;
      readonly contentType?: string;
      readonly delayMs?: number;
    }
  /** The normal answer, late. */
  | { readonly kind: "delay"; readonly delayMs: number }
  /** Never answer; the connection stays open until the client gives up or the server closes. */
  | { readonly kind: "hang" }
  /** Status 200 and the first `afterBytes` bytes of the normal body, then silence. */
  | { readonly kind: "stall"; readonly afterBytes: number }
  /**
   * Drop the connection (the client sees a network error): without an answer, or with
   * `afterBytes`, after status 200 and that many bytes of the normal body (a reset mid-body).
   */
  | { readonly kind: "reset"; readonly delayMs?: number; readonly afterBytes?: number };

/** An Open-Meteo error answer: `{"error":true,"reason":...}` with a status. */
export function errorAnswer(status: number, reason: string): FakeAnswer {
  return { kind: "json", status, body: { error: true, reason } };
}

/** The real API's 429 for a limit. */
export function rateLimitAnswer(limit: "minutely" | "hourly" | "daily" | "concurrency"): FakeAnswer {
  return errorAnswer(429, OPEN_METEO_REASONS[limit]);
}

/** The real API's 503. */
export function overloadedAnswer(): FakeAnswer {
  return errorAnswer(503, OPEN_METEO_REASONS.overloaded);
}

/** One request the fake received, and what it sent back. */
export interface RecordedRequest {
  readonly index: number;
  readonly method: string;
  readonly path: string;
  /** The query string as received, without "?". */
  readonly query: string;
  /** Parameters from the query (and a POST form body); a repeated name is joined with ",". */
  readonly params: Readonly<Record<string, string>>;
  readonly receivedAt: Date;
  /** Status and body bytes as sent (before gzip); absent for hang, stall and reset. */
  answer?: { readonly status: number; readonly body: Uint8Array; readonly scripted: boolean };
}

/** Options of the fake. */
export interface FakeOpenMeteoOptions {
  /** Port on 127.0.0.1; default 0 (any free port). */
  readonly port?: number;
  /** Delay before every answer, in milliseconds; default 0. */
  readonly latencyMs?: number;
  /** Scripts answers per request; return undefined for the normal answer. */
  readonly respond?: (request: FakeRequest) => FakeAnswer | undefined;
  /** The API's clock; default the real time. */
  readonly now?: () => Date;
  /** Archive hours later than this many days before the clock are null; default 5. */
  readonly archiveDelayDays?: number;
  /** Requests in flight at once before answering 429 "Too many concurrent requests"; default unlimited. */
  readonly maxConcurrentRequests?: number;
  /** Gzip bodies when the client accepts it, as the real API does; default true. */
  readonly gzip?: boolean;
}

/** A running fake. */
export interface FakeOpenMeteo {
  /** e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** `${url}/v1/forecast`, for PipelineSettings.forecastApiUrl. */
  readonly forecastUrl: string;
  /** `${url}/v1/archive`, for PipelineSettings.archiveApiUrl. */
  readonly archiveUrl: string;
  readonly port: number;
  /** Every request received, in arrival order. */
  readonly requests: RecordedRequest[];
  /** Stops listening and drops open connections (hanging ones included). */
  close(): Promise<void>;
}

function readParams(query: string, form: string | undefined): Record<string, string> {
  const params: Record<string, string> = {};
  for (const source of [query, form ?? ""]) {
    for (const [name, value] of new URLSearchParams(source)) {
      params[name] = params[name] === undefined ? value : `${params[name]},${value}`;
    }
  }
  return params;
}

async function readRequestBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the fake Open-Meteo API on 127.0.0.1. */
export async function startFakeOpenMeteo(options: FakeOpenMeteoOptions = {}): Promise<FakeOpenMeteo> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const now = options.now ?? (() => new Date());
  let inFlight = 0;
  let closed = false;

  const send = (
    request: IncomingMessage,
    response: ServerResponse,
    record: RecordedRequest,
    status: number,
    body: Uint8Array,
    contentType: string,
    scripted: boolean,
  ): void => {
    if (response.destroyed || closed) return;
    record.answer = { status, body, scripted };
    const gzip = (options.gzip ?? true) && /\bgzip\b/.test(String(request.headers["accept-encoding"] ?? ""));
    const payload = gzip ? gzipSync(body) : body;
    response.writeHead(status, {
      "content-type": contentType,
      "content-length": payload.length,
      ...(gzip ? { "content-encoding": "gzip" } : {}),
    });
    response.end(payload);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const target = new URL(request.url ?? "/", "http://127.0.0.1");
    const form =
      request.method === "POST" && /x-www-form-urlencoded/.test(String(request.headers["content-type"] ?? ""))
        ? await readRequestBody(request)
        : undefined;
    const params = readParams(target.search.replace(/^\?/, ""), form);
    const record: RecordedRequest = {
      index: requests.length,
      method: request.method ?? "GET",
      path: target.pathname,
      query: target.search.replace(/^\?/, ""),
      params,
      receivedAt: new Date(),
    };
    requests.push(record);

    if (options.maxConcurrentRequests !== undefined && inFlight > options.maxConcurrentRequests) {
      const body = Buffer.from(JSON.stringify({ error: true, reason: OPEN_METEO_REASONS.concurrency }));
      send(request, response, record, 429, body, "application/json; charset=utf-8", true);
      return;
    }
    if (options.latencyMs) await wait(options.latencyMs);

    const scripted = options.respond?.({ index: record.index, method: record.method, path: record.path, params });
    if (scripted && "delayMs" in scripted && scripted.delayMs) await wait(scripted.delayMs);
    if (response.destroyed || closed) return;

    const normal = (): RenderedAnswer =>
      answerOpenMeteoQuery(record.path, params, { now: now(), archiveDelayDays: options.archiveDelayDays });
    const json = "application/json; charset=utf-8";
    switch (scripted?.kind) {
      case undefined:
      case "delay": {
        const answer = normal();
        send(request, response, record, answer.status, Buffer.from(answer.body, "utf8"), json, false);
        return;
      }
      case "json":
        send(
          request,
          response,
          record,
          scripted.status,
          Buffer.from(JSON.stringify(scripted.body), "utf8"),
          json,
          true,
        );
        return;
      case "text": {
        const body = typeof scripted.body === "string" ? Buffer.from(scripted.body, "utf8") : scripted.body;
        send(
          request,
          response,
          record,
          scripted.status,
          body,
          scripted.contentType ?? "text/plain; charset=utf-8",
          true,
        );
        return;
      }
      case "hang":
        return; // keep the socket open; close() destroys it
      case "stall": {
        const answer = Buffer.from(normal().body, "utf8");
        response.writeHead(200, { "content-type": json, "content-length": answer.length });
        response.write(answer.subarray(0, Math.max(0, Math.min(scripted.afterBytes, answer.length - 1))));
        return;
      }
      case "reset": {
        if (scripted.afterBytes === undefined) {
          request.socket.destroy();
          return;
        }
        const answer = Buffer.from(normal().body, "utf8");
        response.writeHead(200, { "content-type": json, "content-length": answer.length });
        const part = answer.subarray(0, Math.max(0, Math.min(scripted.afterBytes, answer.length - 1)));
        response.write(part, () => request.socket.resetAndDestroy());
        return;
      }
    }
  };

  const server: Server = createServer((request, response) => {
    inFlight++;
    let counted = true;
    const release = (): void => {
      if (counted) {
        counted = false;
        inFlight--;
      }
    };
    response.on("close", release);
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent && !response.destroyed) {
        response.writeHead(500, { "content-type": "application/json; charset=utf-8" });
        response.end(JSON.stringify({ error: true, reason: `fake Open-Meteo failed: ${String(error)}` }));
      }
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    forecastUrl: `${url}/v1/forecast`,
    archiveUrl: `${url}/v1/archive`,
    port,
    requests,
    close: async () => {
      closed = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await stopped;
    },
  };
}
