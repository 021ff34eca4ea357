/**
 * Deterministic inputs of `npm run bench`: an Open-Meteo-format body (a JSON array, one element
 * per location, as the API answers several coordinates) of hourly data, written to a file a
 * location at a time, and lists of named locations for the daily run.
 *
 * Values are synthetic but shaped like the real thing, because encodings and compression depend
 * on them, in three kinds (BenchValues):
 * - "realistic" (the default): smooth series as the API returns them (compare
 *   tests/fixtures/open-meteo/recorded): a yearly and a daily cycle, weather systems over days,
 *   a little hourly noise, variables derived from one another (humidity from temperature and dew
 *   point, rain and snow from precipitation and temperature, the weather code from both), each
 *   printed with the decimals Open-Meteo uses, integers without decimals.
 * - "noisy": the first generator of the bench: the same cycles under hour-to-hour noise as large
 *   as the daily cycle (pressure jumping by hPa from one hour to the next), rounded the same way.
 * - "entropy": the realistic series plus noise, printed at full double precision: nearly every
 *   value distinct, the worst case for dictionaries and compression.
 * All have about 1% nulls at random.
 */
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import type { Location } from "../core/settings";

/** The 12 hourly variables of the benchmark body: name, unit, decimals. */
export const BENCH_HOURLY_VARIABLES: readonly { name: string; unit: string; digits: number }[] = [
  { name: "temperature_2m", unit: "°C", digits: 1 },
  { name: "relative_humidity_2m", unit: "%", digits: 0 },
  { name: "dew_point_2m", unit: "°C", digits: 1 },
  { name: "apparent_temperature", unit: "°C", digits: 1 },
  { name: "precipitation", unit: "mm", digits: 1 },
  { name: "rain", unit: "mm", digits: 1 },
  { name: "snowfall", unit: "cm", digits: 2 },
  { name: "weather_code", unit: "wmo code", digits: 0 },
  { name: "pressure_msl", unit: "hPa", digits: 1 },
  { name: "cloud_cover", unit: "%", digits: 0 },
  { name: "wind_speed_10m", unit: "km/h", digits: 1 },
  { name: "wind_direction_10m", unit: "°", digits: 0 },
];

/** Share of values written as null. */
export const BENCH_NULL_SHARE = 0.01;

/** Mulberry32: a small seeded generator, so every run writes the same bytes. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The `i`-th of `count` benchmark locations: spread over Europe, two decimals, named loc-0001 …. */
export function benchLocation(i: number): Location {
  const random = seededRandom(1_000 + i);
  return {
    name: `loc-${String(i + 1).padStart(4, "0")}`,
    latitude: Math.round((36 + random() * 24) * 100) / 100,
    longitude: Math.round((-9 + random() * 33) * 100) / 100,
  };
}

/** `count` benchmark locations. */
export function benchLocations(count: number): Location[] {
  return Array.from({ length: count }, (_, i) => benchLocation(i));
}

/** Local wall-clock labels `YYYY-MM-DDTHH:MM` of `days` days from `startDate`, as JSON text. */
function timeLabelsJson(startDate: string, days: number): string {
  const start = Date.parse(`${startDate}T00:00:00Z`);
  const labels: string[] = [];
  for (let h = 0; h < days * 24; h++) labels.push(`"${new Date(start + h * 3_600_000).toISOString().slice(0, 16)}"`);
  return `[${labels.join(",")}]`;
}

/** The kinds of values a benchmark body can hold (see the top of this file). */
export type BenchValues = "realistic" | "noisy" | "entropy";

/** The kinds, in the order the bench runs them. */
export const BENCH_VALUE_KINDS: readonly BenchValues[] = ["realistic", "entropy", "noisy"];

/**
 * A smooth random process of unit amplitude: a sum of sines with periods of 2 to 12 days, the
 * way weather systems pass over a place.
 */
function weatherSystems(random: () => number): (hour: number) => number {
  const waves = Array.from({ length: 4 }, () => ({
    period: (2 + random() * 10) * 24,
    phase: random() * 2 * Math.PI,
    amplitude: 0.3 + random() * 0.7,
  }));
  const total = waves.reduce((sum, w) => sum + w.amplitude, 0);
  return (hour) =>
    waves.reduce((sum, w) => sum + w.amplitude * Math.sin((hour / w.period) * 2 * Math.PI + w.phase), 0) / total;
}

/**
 * One location's hourly values of every benchmark variable, realistic kind, unrounded: derived
 * from a few shared smooth processes so that the variables agree with one another.
 */
function realisticSeries(hours: number, random: () => number, phase: number): Map<string, Float64Array> {
  const pressureSystems = weatherSystems(random);
  const temperatureSystems = weatherSystems(random);
  const wetSystems = weatherSystems(random);
  const windSystems = weatherSystems(random);
  const directionSystems = weatherSystems(random);
  const cloudSystems = weatherSystems(random);
  const series = new Map(BENCH_HOURLY_VARIABLES.map((v) => [v.name, new Float64Array(hours)]));
  const set = (name: string, h: number, v: number): void => void ((series.get(name) as Float64Array)[h] = v);
  let jitter = 0;
  for (let h = 0; h < hours; h++) {
    const seasonal = Math.sin(((h / 24 - 110 + phase) / 365) * 2 * Math.PI);
    const diurnal = Math.sin((((h % 24) - 9) / 24) * 2 * Math.PI);
    // Hour-scale noise a model's output has: small and persistent.
    jitter = jitter * 0.8 + (random() - 0.5) * 0.2;
    const wet = wetSystems(h);
    const clouds = Math.min(100, Math.max(0, 50 + 90 * cloudSystems(h) + 30 * wet));
    const temperature = 10 + 10 * seasonal + (4 - clouds / 50) * diurnal + 5 * temperatureSystems(h) + jitter;
    const dewPoint = temperature - (3 + 3 * (diurnal + 1) * (1 - clouds / 150)) + 2 * wet;
    const magnus = (t: number): number => Math.exp((17.625 * t) / (243.04 + t));
    const humidity = Math.min(100, (100 * magnus(Math.min(dewPoint, temperature))) / magnus(temperature));
    const wind = Math.max(0, 11 + 6 * windSystems(h) + 3 * diurnal + 2 * jitter);
    const precipitation = wet > 0.45 ? (wet - 0.45) * 6 * (1 + jitter) : 0;
    const snow = temperature < 0.5;
    set("temperature_2m", h, temperature);
    set("relative_humidity_2m", h, humidity);
    set("dew_point_2m", h, Math.min(dewPoint, temperature));
    set("apparent_temperature", h, temperature - wind / 8 + (humidity - 60) / 40);
    set("precipitation", h, precipitation);
    set("rain", h, snow ? 0 : precipitation);
    set("snowfall", h, snow ? precipitation * 0.7 : 0);
    set(
      "weather_code",
      h,
      precipitation >= 0.05
        ? snow
          ? precipitation > 1
            ? 73
            : 71
          : precipitation > 2.5
            ? 65
            : precipitation > 1
              ? 63
              : 61
        : clouds > 87
          ? 3
          : clouds > 50
            ? 2
            : clouds > 13
              ? 1
              : 0,
    );
    set("pressure_msl", h, 1013 + 11 * pressureSystems(h) - 4 * wet + 0.3 * jitter);
    set("cloud_cover", h, clouds);
    set("wind_speed_10m", h, wind);
    set("wind_direction_10m", h, (((225 + 120 * directionSystems(h) + 10 * jitter) % 360) + 360) % 360);
  }
  return series;
}

/** One variable's hourly values for one location, "noisy" kind, as a JSON array. */
function valuesJson(variable: string, digits: number, hours: number, random: () => number, phase: number): string {
  const out = new Array<string>(hours);
  let walk = 0;
  for (let h = 0; h < hours; h++) {
    const day = h / 24;
    const seasonal = Math.sin(((day - 110 + phase) / 365) * 2 * Math.PI);
    const diurnal = Math.sin((((h % 24) - 9) / 24) * 2 * Math.PI);
    walk = walk * 0.95 + (random() - 0.5);
    let v: number;
    switch (variable) {
      case "temperature_2m":
      case "apparent_temperature":
        v = 10 + 12 * seasonal + 5 * diurnal + 2 * walk - (variable === "apparent_temperature" ? 2 : 0);
        break;
      case "dew_point_2m":
        v = 5 + 9 * seasonal + 2 * walk;
        break;
      case "relative_humidity_2m":
        v = Math.min(100, Math.max(15, 72 - 18 * diurnal + 8 * walk));
        break;
      case "precipitation":
      case "rain":
        v = walk > 0.9 ? (walk - 0.9) * 4 : 0;
        break;
      case "snowfall":
        v = walk > 0.9 && seasonal < -0.5 ? (walk - 0.9) * 2 : 0;
        break;
      case "weather_code":
        v = walk > 0.9 ? 61 : walk > 0.5 ? 3 : walk > 0 ? 2 : walk > -0.5 ? 1 : 0;
        break;
      case "pressure_msl":
        v = 1013 + 12 * walk;
        break;
      case "cloud_cover":
        v = Math.min(100, Math.max(0, 50 + 60 * walk));
        break;
      case "wind_speed_10m":
        v = Math.max(0, 12 + 4 * diurnal + 6 * walk);
        break;
      case "wind_direction_10m":
        v = (((230 + 90 * walk) % 360) + 360) % 360;
        break;
      default:
        v = walk;
    }
    out[h] = random() < BENCH_NULL_SHARE ? "null" : v.toFixed(digits);
  }
  return `[${out.join(",")}]`;
}

/**
 * Writes a multi-location Open-Meteo archive body of `locations` locations x `days` days of the
 * benchmark's 12 hourly variables to `file`, one element at a time; returns its size in bytes.
 */
export async function writeBenchBody(
  file: string,
  options: { locations: number; days: number; startDate?: string; values?: BenchValues },
): Promise<number> {
  const kind = options.values ?? "realistic";
  const startDate = options.startDate ?? "2023-01-01";
  const hours = options.days * 24;
  const time = timeLabelsJson(startDate, options.days);
  const units = BENCH_HOURLY_VARIABLES.map((v) => `,${JSON.stringify(v.name)}:${JSON.stringify(v.unit)}`).join("");
  const out = createWriteStream(file);
  let bytes = 0;
  const write = async (text: string): Promise<void> => {
    bytes += Buffer.byteLength(text);
    if (!out.write(text)) await once(out, "drain");
  };
  await write("[");
  for (let i = 0; i < options.locations; i++) {
    const location = benchLocation(i);
    const random = seededRandom(i + 1);
    const head =
      `{"latitude":${location.latitude},"longitude":${location.longitude},"generationtime_ms":${(10 + random() * 50).toFixed(3)},` +
      `"utc_offset_seconds":3600,"timezone":"Europe/Berlin","timezone_abbreviation":"GMT+1",` +
      `"elevation":${(random() * 900).toFixed(1)}${i > 0 ? `,"location_id":${i}` : ""},` +
      `"hourly_units":{"time":"iso8601"${units}},"hourly":{"time":${time}`;
    await write(`${i > 0 ? "," : ""}${head}`);
    if (kind === "noisy") {
      for (const variable of BENCH_HOURLY_VARIABLES) {
        const phase = random() * 20;
        await write(
          `,${JSON.stringify(variable.name)}:${valuesJson(variable.name, variable.digits, hours, random, phase)}`,
        );
      }
    } else {
      const series = realisticSeries(hours, random, random() * 20);
      for (const variable of BENCH_HOURLY_VARIABLES) {
        const values = series.get(variable.name) as Float64Array;
        const out = new Array<string>(hours);
        for (let h = 0; h < hours; h++) {
          const v = values[h] as number;
          out[h] =
            random() < BENCH_NULL_SHARE
              ? "null"
              : kind === "entropy"
                ? String(v + (random() - 0.5) * 0.1)
                : // As the API prints: fixed decimals, and no "-0".
                  (Math.abs(v) < 0.5 * 10 ** -variable.digits ? 0 : v).toFixed(variable.digits);
        }
        await write(`,${JSON.stringify(variable.name)}:[${out.join(",")}]`);
      }
    }
    await write("}}");
  }
  await write("]");
  out.end();
  await once(out, "finish");
  return bytes;
}
