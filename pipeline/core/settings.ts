/**
 * The settings the data logic runs with: what to fetch, from where, and how politely.
 * Plain data only (no Pulumi, no validation library) so it can be captured by a Lambda
 * closure, built by the local runner, or written by hand in a test.
 */

/** A place to fetch weather for; `name` becomes the `location` column. */
export interface Location {
  readonly name: string;
  readonly latitude: number;
  readonly longitude: number;
}

/** The two Open-Meteo endpoints the pipeline reads from. */
export type Endpoint = "forecast" | "archive";

/** How the ingest talks to Open-Meteo. */
export interface HttpSettings {
  /** Timeout of one HTTP attempt, in milliseconds. */
  readonly timeoutMs: number;
  /** Retries after the first attempt, for network errors, 429 (minutely) and 5xx. */
  readonly retries: number;
  /** Upper bound of one request's API weight (see openmeteo-request.ts); batches are cut to fit. */
  readonly maxWeightPerRequest: number;
  /** Requests in flight at once. Open-Meteo's free tier allows one per IP. */
  readonly concurrency: number;
}

/** Everything ingest and transform need to know, identical in Lambda, local runs and tests. */
export interface PipelineSettings {
  readonly locations: readonly Location[];
  /** Open-Meteo hourly variable names, e.g. temperature_2m. */
  readonly hourlyVariables: readonly string[];
  /** Open-Meteo daily variable names, e.g. temperature_2m_max. */
  readonly dailyVariables: readonly string[];
  /**
   * IANA time zone. It defines what a `date` means everywhere: the day "yesterday" is
   * computed in, the `timezone` sent to Open-Meteo (so daily aggregates cover that day),
   * and the `date=` partition of the curated data.
   */
  readonly timezone: string;
  /** Base URL of the forecast API, e.g. https://api.open-meteo.com/v1/forecast. */
  readonly forecastApiUrl: string;
  /** Base URL of the historical API, e.g. https://archive-api.open-meteo.com/v1/archive. */
  readonly archiveApiUrl: string;
  /** Dates more than this many days before today are fetched from the archive endpoint. */
  readonly forecastPastDays: number;
  readonly http: HttpSettings;
  /**
   * Column names for variables, `{temperature_2m: "air_temperature_c"}`: the Parquet files, the
   * Glue tables and the warehouse call the variable's column so. Absent or empty: each column is
   * named after its variable.
   */
  readonly columnNames?: Readonly<Record<string, string>>;
}

/** The defaults a stack gets for anything its config file does not set. */
export const DEFAULT_PIPELINE_SETTINGS: PipelineSettings = {
  locations: [
    { name: "berlin", latitude: 52.52, longitude: 13.41 },
    { name: "amsterdam", latitude: 52.37, longitude: 4.89 },
  ],
  hourlyVariables: ["temperature_2m", "relative_humidity_2m", "precipitation", "wind_speed_10m"],
  dailyVariables: ["temperature_2m_max", "temperature_2m_min", "precipitation_sum"],
  timezone: "UTC",
  forecastApiUrl: "https://api.open-meteo.com/v1/forecast",
  archiveApiUrl: "https://archive-api.open-meteo.com/v1/archive",
  forecastPastDays: 90,
  http: { timeoutMs: 10_000, retries: 3, maxWeightPerRequest: 300, concurrency: 1 },
};
