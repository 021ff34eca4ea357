/**
 * The rows a raw Open-Meteo body should become, computed here from the JSON alone with plain
 * Date arithmetic, independently of the production parser, so the two can disagree.
 */

type Block = Record<string, unknown[]> & { time: (string | number)[] };
interface Element {
  latitude: number;
  longitude: number;
  elevation?: number;
  utc_offset_seconds: number;
  hourly?: Block;
  hourly_units?: Record<string, string>;
  daily?: Block;
  daily_units?: Record<string, string>;
}

/** One expected row: column -> value (numbers, null, Date for timestamps, string for location). */
export type ExpectedRow = Record<string, unknown>;

/** UTC instant of a local wall-clock label ("2026-11-20T05:00" or "2026-11-20") of a body. */
function utcOf(label: string | number, offsetSeconds: number, format: string): Date {
  if (format === "unixtime") return new Date((label as number) * 1000);
  const [date, time = "00:00"] = (label as string).split("T");
  const [y, m, d] = date!.split("-").map(Number);
  const [hh, mm] = time.split(":").map(Number);
  return new Date(Date.UTC(y!, m! - 1, d, hh, mm) - offsetSeconds * 1000);
}

/** The local calendar date of a time label. */
function localDateOf(label: string | number, offsetSeconds: number, format: string): string {
  if (format === "unixtime") return new Date(((label as number) + offsetSeconds) * 1000).toISOString().slice(0, 10);
  return (label as string).slice(0, 10);
}

function valueOf(value: unknown, unit: string | undefined, offsetSeconds: number): unknown {
  if (value === null) return null;
  if (unit === "iso8601" || unit === "unixtime") return utcOf(value as string | number, offsetSeconds, unit);
  return value;
}

/**
 * Expected rows of one dataset for one date from a body (object or array), with location names
 * by element order. Rows keep body order, then time order.
 */
export function expectedRows(
  body: string,
  dataset: "weather_hourly" | "weather_daily",
  date: string,
  names: readonly string[],
): ExpectedRow[] {
  const parsed = JSON.parse(body) as Element | Element[];
  const elements = Array.isArray(parsed) ? parsed : [parsed];
  const blockName = dataset === "weather_hourly" ? "hourly" : "daily";
  const rows: ExpectedRow[] = [];
  elements.forEach((element, i) => {
    const block = element[blockName];
    const units = element[`${blockName}_units`] ?? {};
    if (!block) return;
    const format = units["time"] ?? "iso8601";
    const variables = Object.keys(block).filter((k) => k !== "time");
    block.time.forEach((label, t) => {
      if (localDateOf(label, element.utc_offset_seconds, format) !== date) return;
      const row: ExpectedRow = {
        location: names[i],
        latitude: element.latitude,
        longitude: element.longitude,
        elevation: element.elevation ?? null,
      };
      if (dataset === "weather_hourly") row["time"] = utcOf(label, element.utc_offset_seconds, format);
      for (const v of variables) row[v] = valueOf(block[v]![t], units[v], element.utc_offset_seconds);
      rows.push(row);
    });
  });
  return rows;
}

/** Normalizes a row read back from Parquet for comparison: bigint/number alike, Dates as ms. */
export function comparable(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    out[key] = value instanceof Date ? value.getTime() : typeof value === "bigint" ? Number(value) : value;
  }
  return out;
}
