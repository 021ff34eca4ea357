/**
 * What the example queries should return, computed from raw Open-Meteo JSON alone (plain Date
 * arithmetic, no production code), so a query, a view or a file that disagrees is caught.
 */

type Label = string | number;
interface Block {
  time: Label[];
  [variable: string]: (Label | null)[];
}
interface Element {
  latitude: number;
  longitude: number;
  elevation?: number | null;
  location_id?: number;
  utc_offset_seconds: number;
  hourly?: Block;
  hourly_units?: Record<string, string>;
  daily?: Block;
  daily_units?: Record<string, string>;
}

/** One row of a body as the curated tables should hold it; time and time-valued values in epoch ms. */
export interface RawRow {
  readonly dataset: "weather_hourly" | "weather_daily";
  /** The local date (the partition). */
  readonly date: string;
  readonly location: string;
  readonly latitude: number;
  readonly longitude: number;
  readonly elevation: number | null;
  readonly time?: number;
  readonly values: Readonly<Record<string, number | null>>;
}

/** The name transformResponseFiles documents for a body element without a manifest. */
export function fallbackName(element: { latitude: number; longitude: number; location_id?: number }): string {
  const name = `${element.latitude},${element.longitude}`;
  return element.location_id === undefined ? name : `${name}#${element.location_id}`;
}

/** Elements of a body (one object or an array). */
export function elementsOf(body: string): Element[] {
  const parsed = JSON.parse(body) as Element | Element[];
  return Array.isArray(parsed) ? parsed : [parsed];
}

/** Epoch ms of a time value: unixtime seconds, or a local label minus the body's offset. */
function utcMs(label: Label, format: string, offsetSeconds: number): number {
  if (format === "unixtime") return (label as number) * 1000;
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?$/.exec(label as string);
  if (!m) throw new Error(`time label ${label} is not iso8601`);
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +(m[4] ?? 0), +(m[5] ?? 0)) - offsetSeconds * 1000;
}

function localDate(label: Label, format: string, offsetSeconds: number): string {
  if (format === "unixtime") return new Date(((label as number) + offsetSeconds) * 1000).toISOString().slice(0, 10);
  return (label as string).slice(0, 10);
}

/** Every row of a body, hourly and daily, with location names from `nameOf(element, index)`. */
export function rawRowsOf(body: string, nameOf: (element: Element, index: number) => string): RawRow[] {
  const rows: RawRow[] = [];
  elementsOf(body).forEach((element, index) => {
    for (const [block, dataset] of [
      ["hourly", "weather_hourly"],
      ["daily", "weather_daily"],
    ] as const) {
      const data = element[block];
      if (!data) continue;
      const units = element[`${block}_units`] ?? {};
      const format = units["time"] ?? "iso8601";
      const offset = element.utc_offset_seconds;
      data.time.forEach((label, i) => {
        const values: Record<string, number | null> = {};
        for (const variable of Object.keys(data).filter((k) => k !== "time")) {
          const value = data[variable]![i]!;
          const unit = units[variable] ?? "";
          values[variable] =
            value === null ? null : unit === "iso8601" || unit === "unixtime" ? utcMs(value, unit, offset) : +value;
        }
        rows.push({
          dataset,
          date: localDate(label, format, offset),
          location: nameOf(element, index),
          latitude: element.latitude,
          longitude: element.longitude,
          elevation: element.elevation ?? null,
          ...(block === "hourly" ? { time: utcMs(label, format, offset) } : {}),
          values,
        });
      });
    }
  });
  return rows;
}

/** The date `days` after `date` (negative: before). */
export function shiftDate(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/** `a < b ? -1 : ...` on strings, as SQL's binary collation orders ASCII text. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Expected rows of the last-days hourly query: window [through - days + 1, through], by location then time. */
export function expectLastDaysHourly(
  rows: readonly RawRow[],
  variables: readonly string[],
  through: string,
  days: number,
): Record<string, unknown>[] {
  const first = shiftDate(through, 1 - days);
  return rows
    .filter((r) => r.dataset === "weather_hourly" && r.date >= first && r.date <= through)
    .sort((a, b) => compareText(a.location, b.location) || a.time! - b.time!)
    .map((r) => ({
      location: r.location,
      date: r.date,
      time: r.time,
      ...Object.fromEntries(variables.map((v) => [v, r.values[v] ?? null])),
    }));
}

/** Expected rows of the min/max query from hourly temperature_2m: per location and date, nulls ignored. */
export function expectHourlyMinMax(rows: readonly RawRow[], through: string, days: number): Record<string, unknown>[] {
  const first = shiftDate(through, 1 - days);
  const groups = new Map<string, { location: string; date: string; values: number[] }>();
  for (const r of rows) {
    if (r.dataset !== "weather_hourly" || r.date < first || r.date > through) continue;
    const key = JSON.stringify([r.location, r.date]);
    const group = groups.get(key) ?? { location: r.location, date: r.date, values: [] };
    const value = r.values["temperature_2m"];
    if (value !== null && value !== undefined) group.values.push(value);
    groups.set(key, group);
  }
  return [...groups.values()]
    .sort((a, b) => compareText(a.location, b.location) || compareText(a.date, b.date))
    .map((g) => ({
      location: g.location,
      date: g.date,
      temperature_2m_min: g.values.length > 0 ? Math.min(...g.values) : null,
      temperature_2m_max: g.values.length > 0 ? Math.max(...g.values) : null,
    }));
}

/** Expected rows of the rows-per-date query: per dataset and date, count, locations and days missing before. */
export function expectRowsPerDate(
  rows: readonly RawRow[],
  datasets: readonly string[],
  through: string,
  days: number,
): Record<string, unknown>[] {
  const first = shiftDate(through, 1 - days);
  const out: Record<string, unknown>[] = [];
  for (const dataset of [...datasets].sort()) {
    const inWindow = rows.filter((r) => r.dataset === dataset && r.date >= first && r.date <= through);
    const dates = [...new Set(inWindow.map((r) => r.date))].sort();
    dates.forEach((date, i) => {
      const ofDate = inWindow.filter((r) => r.date === date);
      const previous = dates[i - 1];
      out.push({
        dataset,
        date,
        row_count: ofDate.length,
        locations: new Set(ofDate.map((r) => r.location)).size,
        missing_days_before: previous === undefined ? null : (Date.parse(date) - Date.parse(previous)) / 86_400_000 - 1,
      });
    });
  }
  return out;
}

/** A DuckDB result row made comparable: DATE as YYYY-MM-DD, instants as epoch ms, bigints as numbers. */
export function plainRow(
  row: Record<string, unknown>,
  columns: readonly { name: string; type: string }[],
): Record<string, unknown> {
  const typeOf = new Map(columns.map((c) => [c.name, c.type]));
  return Object.fromEntries(
    Object.entries(row).map(([name, value]) => [
      name,
      value instanceof Date
        ? typeOf.get(name) === "DATE"
          ? value.toISOString().slice(0, 10)
          : value.getTime()
        : typeof value === "bigint"
          ? Number(value)
          : value,
    ]),
  );
}
