/**
 * Deterministic inputs of `npm run bench`: an Open-Meteo-format body (a JSON array, one element
 * per location, as the API answers several coordinates) of hourly data, written to a file a
 * location at a time, and lists of named locations for the daily run.
 *
 * Values are synthetic but shaped like the real thing, because encodings and compression depend
 * on them: a daily and a yearly cycle plus noise from a seeded generator, each variable printed
 * with the decimals and unit Open-Meteo uses, integers without decimals, and about 1% nulls.
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

/** One variable's hourly values for one location, as a JSON array. */
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
  options: { locations: number; days: number; startDate?: string },
): Promise<number> {
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
    for (const variable of BENCH_HOURLY_VARIABLES) {
      const phase = random() * 20;
      await write(
        `,${JSON.stringify(variable.name)}:${valuesJson(variable.name, variable.digits, hours, random, phase)}`,
      );
    }
    await write("}}");
  }
  await write("]");
  out.end();
  await once(out, "finish");
  return bytes;
}
