/**
 * The example queries a user starts from, as data: the Athena named queries of each stack, the
 * README's "Query your data" section, and `npm run pipeline -- query` all use these.
 *
 * The SQL is written for two engines at once: Athena (Trino) over the Glue tables and DuckDB
 * over views of the same names (pipeline/local/duckdb.ts). Both see `weather_hourly` and
 * `weather_daily` with the partition as a DATE column `"date"`. So the SQL sticks to what both
 * parse alike: `DATE 'YYYY-MM-DD'` literals, `current_date`, `INTERVAL 'n' DAY`, CAST, plain
 * aggregates, `lag() OVER`, and `date_diff('day', a, b)` (b - a in both). `"date"` and `"time"`
 * are quoted because DATE and TIME are keywords; variable names are Open-Meteo's snake_case.
 *
 * Every query filters on `"date"`: with partition projection Athena then reads only those
 * dates' prefixes, so a query's cost stays bounded as the table grows.
 */
import { addDays } from "../core/dates";
import { assertIsoDate, type Dataset } from "../core/keys";

/** One saved query: a stable name (for the Athena named query), what it shows, and its SQL. */
export interface ExampleQuery {
  /** kebab-case, unique, stable across stacks: fit for a resource name. */
  readonly name: string;
  readonly description: string;
  readonly sql: string;
}

/** The columns a stack's tables have: the variable lists of its config. */
export interface QueryColumns {
  readonly hourlyVariables: readonly string[];
  readonly dailyVariables: readonly string[];
}

/** Options of the query builders. */
export interface ExampleQueryOptions {
  /**
   * The last date (YYYY-MM-DD) the queries' windows cover, written as a literal. Default: the
   * SQL says "yesterday" (`current_date - INTERVAL '1' DAY`, the UTC date in Athena), the last
   * day the daily run has written.
   */
  readonly through?: string;
}

/** Days covered by the hourly query. */
export const HOURLY_WINDOW_DAYS = 7;
/** Days covered by the min/max query. */
export const MIN_MAX_WINDOW_DAYS = 30;
/** Days covered by the rows-per-date query. */
export const ROWS_PER_DATE_WINDOW_DAYS = 90;

/** The example queries that fit a stack's columns, in the order a user would try them. */
export function exampleQueries(columns: QueryColumns, options: ExampleQueryOptions = {}): ExampleQuery[] {
  return [
    lastDaysHourlyQuery(columns, options),
    dailyMinMaxQuery(columns, options),
    rowsPerDateQuery(columns, options),
  ].filter((q): q is ExampleQuery => q !== undefined);
}

/** Every hourly row of the last HOURLY_WINDOW_DAYS days, per location in time order; undefined without hourly variables. */
export function lastDaysHourlyQuery(
  columns: QueryColumns,
  options: ExampleQueryOptions = {},
): ExampleQuery | undefined {
  if (columns.hourlyVariables.length === 0) return undefined;
  return {
    name: "last-7-days-hourly",
    description: `Every hourly value of the last ${HOURLY_WINDOW_DAYS} days, per location in time order`,
    sql: [
      `SELECT location, "date", "time", ${columns.hourlyVariables.join(", ")}`,
      "FROM weather_hourly",
      `WHERE ${dateWindow(HOURLY_WINDOW_DAYS, options)}`,
      `ORDER BY location, "time"`,
    ].join("\n"),
  };
}

/**
 * Daily minimum and maximum temperature per location and date: from the hourly temperature_2m
 * where the stack has it (the extremes of the stored hours), else the daily
 * temperature_2m_min/max aggregates; undefined when the stack has neither.
 */
export function dailyMinMaxQuery(columns: QueryColumns, options: ExampleQueryOptions = {}): ExampleQuery | undefined {
  const window = dateWindow(MIN_MAX_WINDOW_DAYS, options);
  const description = `Daily minimum and maximum temperature per location over the last ${MIN_MAX_WINDOW_DAYS} days`;
  if (columns.hourlyVariables.includes("temperature_2m")) {
    return {
      name: "daily-min-max-temperature",
      description: `${description}, from the hourly temperature_2m`,
      sql: [
        `SELECT location, "date", min(temperature_2m) AS temperature_2m_min, max(temperature_2m) AS temperature_2m_max`,
        "FROM weather_hourly",
        `WHERE ${window}`,
        `GROUP BY location, "date"`,
        `ORDER BY location, "date"`,
      ].join("\n"),
    };
  }
  if (columns.dailyVariables.includes("temperature_2m_min") && columns.dailyVariables.includes("temperature_2m_max")) {
    return {
      name: "daily-min-max-temperature",
      description: `${description}, from the daily temperature_2m_min and temperature_2m_max`,
      sql: [
        `SELECT location, "date", temperature_2m_min, temperature_2m_max`,
        "FROM weather_daily",
        `WHERE ${window}`,
        `ORDER BY location, "date"`,
      ].join("\n"),
    };
  }
  return undefined;
}

/**
 * Rows and locations per dataset and date, and the days missing before each date, to spot gaps
 * (a date with no rows has no partition, so it shows as missing_days_before > 0 on the next
 * date); undefined when the stack has no variables at all.
 */
export function rowsPerDateQuery(columns: QueryColumns, options: ExampleQueryOptions = {}): ExampleQuery | undefined {
  const window = dateWindow(ROWS_PER_DATE_WINDOW_DAYS, options);
  const datasets: Dataset[] = [];
  if (columns.hourlyVariables.length > 0) datasets.push("weather_hourly");
  if (columns.dailyVariables.length > 0) datasets.push("weather_daily");
  if (datasets.length === 0) return undefined;
  const selects = datasets.map((dataset) =>
    [
      `SELECT '${dataset}' AS dataset, "date", count(*) AS row_count, count(DISTINCT location) AS locations,`,
      `  date_diff('day', lag("date") OVER (ORDER BY "date"), "date") - 1 AS missing_days_before`,
      `FROM ${dataset}`,
      `WHERE ${window}`,
      `GROUP BY "date"`,
    ].join("\n"),
  );
  return {
    name: "rows-per-date",
    description:
      `Rows and locations per dataset and date over the last ${ROWS_PER_DATE_WINDOW_DAYS} days; ` +
      "missing_days_before > 0 marks a gap",
    sql: `${selects.join("\nUNION ALL\n")}\nORDER BY dataset, "date"`,
  };
}

/** `"date" BETWEEN <first> AND <last>` for the `days` days ending on `through` (or yesterday). */
function dateWindow(days: number, options: ExampleQueryOptions): string {
  if (options.through !== undefined) {
    assertIsoDate(options.through, "the queries' through date");
    return `"date" BETWEEN DATE '${addDays(options.through, 1 - days)}' AND DATE '${options.through}'`;
  }
  // CAST: Trino keeps a DATE minus a day interval a DATE, DuckDB makes it a TIMESTAMP.
  return `"date" BETWEEN CAST(current_date - INTERVAL '${days}' DAY AS DATE) AND CAST(current_date - INTERVAL '1' DAY AS DATE)`;
}
