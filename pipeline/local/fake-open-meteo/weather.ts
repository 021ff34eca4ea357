/**
 * The synthetic weather of the fake Open-Meteo: the variables it knows (units, decimals, how each
 * is derived) and a deterministic model (smooth noise, the sun's position) behind their values.
 * Same cell and instant, same value, so every answer is reproducible.
 */
import type { Endpoint } from "../../core/settings";

// ---------------------------------------------------------------------------------------------
// Variables: units, decimals, and how each is made
// ---------------------------------------------------------------------------------------------

/** How a variable converts with the unit parameters. */
export type Dimension = "temperature" | "speed" | "precipitation" | "snow" | "none";

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

export interface HourlyVariable {
  readonly unit: string;
  readonly digits: number;
  readonly dimension: Dimension;
  readonly pick: (w: HourWeather) => number;
  readonly forecastOnly?: boolean;
  readonly archiveOnly?: boolean;
}

// Units and decimals follow the recorded bodies (°C 1, % 0, mm 1, et0 2, m/s 2, fraction 3,
// "wmo code" 0, is_day "") and the API documentation for the rest.
export const HOURLY: Readonly<Record<string, HourlyVariable>> = {
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

export interface DailyVariable {
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

export const DAILY: Readonly<Record<string, DailyVariable>> = {
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
export const VARIABLE_TYPE_NAMES: Readonly<Record<Endpoint, { hourly: string; daily: string }>> = {
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
export function hashInts(...values: number[]): number {
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
export function smoothNoise(
  channel: number,
  cellLat: number,
  cellLon: number,
  hours: number,
  periodHours: number,
): number {
  const x = hours / periodHours;
  const k = Math.floor(x);
  const f = x - k;
  const a = unitHash(channel, cellLat, cellLon, k);
  const b = unitHash(channel, cellLat, cellLon, k + 1);
  const t = (1 - Math.cos(Math.PI * f)) / 2;
  return a + (b - a) * t;
}

export const RAD = Math.PI / 180;

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
export function sunTimes(
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
export interface Cell {
  readonly latitude: number;
  readonly longitude: number;
  readonly elevation: number;
  readonly latKey: number;
  readonly lonKey: number;
}

/** The synthetic weather of the hour ending at `epochSeconds` (Open-Meteo's convention for sums). */
export function weatherAt(cell: Cell, epochSeconds: number): HourWeather {
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
