/**
 * What the weather report shows, read from the curated data: per location and date the
 * temperature's min, mean and max and the precipitation (from the hourly dataset), and how
 * complete each date is for each location, with what wrote its files and in which run.
 *
 * A value is null when the data has none: a location whose values are all null is missing,
 * never zero.
 */
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { addDays, daysBetween } from "../core/dates";
import { DATASETS, assertIsoDate, curatedObjectKey, type Dataset } from "../core/keys";
import type { ColumnNames } from "../core/schema";
import type { ObjectStore } from "../core/storage";
import {
  SOURCE_ATTRIBUTION_METADATA_KEY,
  SOURCE_UNITS_METADATA_KEY,
  sourceCuratedKey,
  sourceSchema,
  sourceTable,
  type SourceDefinition,
} from "../sources";
import { runThatWrote, type RunRecord } from "./runs";

/** The hourly variables the charts are drawn from. */
export const TEMPERATURE_VARIABLE = "temperature_2m";
export const PRECIPITATION_VARIABLE = "precipitation";

/** Columns that are not measurements. */
const FIXED_COLUMNS = new Set(["location", "latitude", "longitude", "elevation", "time"]);

/** Parquet key-value metadata with the units (see transform/parquet.ts). */
const UNITS_METADATA_KEY = "open_meteo.units";

/** S3 metadata of curated objects (transform/transform.ts, catalog/compact.ts). */
const WRITTEN_AT = "written-at";
const WRITTEN_BY = "written-by";
const COMPACTED_FROM = "compacted-from";

/** One location on one date, for the charts. */
export interface DayValues {
  readonly location: string;
  readonly date: string;
  /** Over the date's hours with a value; null when none has one. */
  readonly temperatureMin: number | null;
  readonly temperatureMean: number | null;
  readonly temperatureMax: number | null;
  /** The sum over the date's hours with a value; null when none has one. */
  readonly precipitation: number | null;
}

/** How complete one location's data is on one date. */
export type CellStatus = "complete" | "partial" | "missing";

/** One cell of the completeness grid. */
export interface CompletenessCell {
  readonly location: string;
  readonly date: string;
  readonly status: CellStatus;
  /** Why, in a few words: "all 96 values", "12 of 96 values null", "no file". */
  readonly detail: string;
  /** What wrote the date's files (their written-by), when they say. */
  readonly writtenBy?: string;
  readonly writtenAt?: string;
  /** The run whose interval holds writtenAt (see runs.ts). */
  readonly run?: RunRecord;
}

/** One date of a source's table in the report. */
export interface SourceDay {
  readonly date: string;
  /** Rows of the date's file; 0 when there is none. */
  readonly rows: number;
  readonly hasFile: boolean;
  readonly writtenAt?: string;
  readonly writtenBy?: string;
}

/** A numeric column of a source over its period. */
export interface SourceColumnSummary {
  readonly column: string;
  readonly unit?: string;
  /** Non-null values. */
  readonly values: number;
  readonly min: number | null;
  readonly mean: number | null;
  readonly max: number | null;
}

/** What the report shows of one source: its rows per date and its numeric columns. */
export interface SourceReport {
  readonly name: string;
  /** The table, `source_<name>`. */
  readonly table: string;
  /** Listed in the config the report was given (a source only found in the bucket is not). */
  readonly declared: boolean;
  readonly url?: string;
  readonly attribution?: string;
  /** The source's own period: the report's days ending with its newest date with data. */
  readonly start: string;
  readonly end: string;
  readonly days: readonly SourceDay[];
  readonly columns: readonly SourceColumnSummary[];
}

/** Everything the page is made from. */
export interface ReportData {
  /** Where the data was read: a folder or s3://bucket. */
  readonly source: string;
  /** The period, first and last date, inclusive; dates in order. */
  readonly start: string;
  readonly end: string;
  readonly dates: readonly string[];
  readonly locations: readonly string[];
  readonly days: readonly DayValues[];
  readonly cells: readonly CompletenessCell[];
  /** Units of the chart variables, from the files' metadata (e.g. "°C", "mm"). */
  readonly units: { readonly temperature?: string; readonly precipitation?: string };
  /** Chart variables no hourly file of the period holds (the charts say so). */
  readonly missingVariables: readonly string[];
  /** The newest date with curated data anywhere in the store, or undefined for an empty store. */
  readonly newestDate?: string;
  readonly latestRun?: RunRecord;
  /** Runs files were attributed to (local: the records; deployed: the executions read). */
  readonly runs: readonly RunRecord[];
  /** Each configured source, and each source table found in the store, by name. */
  readonly sources: readonly SourceReport[];
}

/** What to read. */
export interface ReportOptions {
  /** Days in the period, ending with `end`. */
  readonly days: number;
  /** The period's last date; default the newest date with curated data (or there is no data). */
  readonly end?: string;
  readonly runs: readonly RunRecord[];
  readonly latestRun?: RunRecord;
  /** The clock for runs still going; default the real time. */
  readonly now?: Date;
  /** The stack's sources: each gets its part of the page, with data or without; default none. */
  readonly sources?: readonly SourceDefinition[];
  /** Renamed variables' columns (the stack's `columnNames`): where the charts' variables are. */
  readonly columnNames?: ColumnNames;
}

/** Most days a report covers: a year of dates is about 5 MB of page per location dozen. */
export const MAX_REPORT_DAYS = 366;

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** Every date with a file of any dataset, from the partition keys. */
async function curatedDates(store: ObjectStore): Promise<Map<string, Set<Dataset>>> {
  const dates = new Map<string, Set<Dataset>>();
  for (const dataset of DATASETS) {
    for (const key of await store.listKeys(`${dataset}/date=`)) {
      const date = /^[a-z_]+\/date=(\d{4}-\d{2}-\d{2})\//.exec(key)?.[1];
      if (date === undefined || key !== curatedObjectKey(dataset, date)) continue; // only the canonical file
      const set = dates.get(date) ?? new Set<Dataset>();
      set.add(dataset);
      dates.set(date, set);
    }
  }
  return dates;
}

interface ReadFile {
  readonly rows: Record<string, unknown>[];
  readonly variables: string[];
  readonly units: Record<string, string>;
  readonly metadata: Readonly<Record<string, string>>;
}

async function readCuratedFile(store: ObjectStore, key: string): Promise<ReadFile> {
  const object = await store.getObject(key);
  const file = toArrayBuffer(object.body);
  let metadata;
  try {
    metadata = parquetMetadata(file);
  } catch (error) {
    throw new Error(`${store.description}/${key} is not a readable Parquet file: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const rows = (await parquetReadObjects({ file })) as Record<string, unknown>[];
  const variables = metadata.schema
    .slice(1)
    .map((e) => e.name)
    .filter((n) => !FIXED_COLUMNS.has(n));
  const unitsText = metadata.key_value_metadata?.find((e) => e.key === UNITS_METADATA_KEY)?.value;
  const units = unitsText ? (JSON.parse(unitsText) as Record<string, string>) : {};
  return { rows, variables, units, metadata: object.metadata };
}

function numberOrNull(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function writerOf(metadata: Readonly<Record<string, string>>): string | undefined {
  if (metadata[WRITTEN_BY]) return metadata[WRITTEN_BY];
  if (metadata[COMPACTED_FROM]) return "compaction (npm run pipeline -- compact)";
  return undefined;
}

/** Reads the period's curated data into what the page shows. */
export async function readReportData(store: ObjectStore, options: ReportOptions): Promise<ReportData> {
  if (!Number.isInteger(options.days) || options.days < 1 || options.days > MAX_REPORT_DAYS) {
    throw new RangeError(`--days is ${options.days}; it must be a whole number from 1 to ${MAX_REPORT_DAYS}`);
  }
  if (options.end !== undefined) assertIsoDate(options.end, "--end");
  const now = options.now ?? new Date();
  const temperatureColumn = options.columnNames?.[TEMPERATURE_VARIABLE] ?? TEMPERATURE_VARIABLE;
  const precipitationColumn = options.columnNames?.[PRECIPITATION_VARIABLE] ?? PRECIPITATION_VARIABLE;
  const sources = await readSourceReports(store, options);
  const available = await curatedDates(store);
  const newestDate = [...available.keys()].sort().at(-1);
  const end = options.end ?? newestDate;
  const base = {
    source: store.description,
    units: {},
    newestDate,
    latestRun: options.latestRun,
    runs: options.runs,
    sources,
  };
  if (end === undefined) {
    return { ...base, start: "", end: "", dates: [], locations: [], days: [], cells: [], missingVariables: [] };
  }
  const start = addDays(end, -(options.days - 1));
  const dates = Array.from({ length: daysBetween(start, end) + 1 }, (_, i) => addDays(start, i));
  // Datasets a complete date has: those with any file in the period (a stack may have no daily variables).
  const expected = new Set<Dataset>();
  for (const date of dates) for (const d of available.get(date) ?? []) expected.add(d);

  const perDate = new Map<string, Partial<Record<Dataset, ReadFile>>>();
  const locations = new Set<string>();
  const units: { temperature?: string; precipitation?: string } = {};
  let sawTemperature = false;
  let sawPrecipitation = false;
  let sawHourly = false;
  for (const date of dates) {
    const files: Partial<Record<Dataset, ReadFile>> = {};
    for (const dataset of available.get(date) ?? []) {
      const file = await readCuratedFile(store, curatedObjectKey(dataset, date));
      files[dataset] = file;
      for (const row of file.rows) locations.add(String(row["location"]));
      if (dataset === "weather_hourly") {
        sawHourly = true;
        if (file.variables.includes(temperatureColumn)) {
          sawTemperature = true;
          units.temperature ??= file.units[temperatureColumn];
        }
        if (file.variables.includes(precipitationColumn)) {
          sawPrecipitation = true;
          units.precipitation ??= file.units[precipitationColumn];
        }
      }
    }
    perDate.set(date, files);
  }
  const locationList = [...locations].sort();
  const days: DayValues[] = [];
  const cells: CompletenessCell[] = [];
  for (const date of dates) {
    const files = perDate.get(date) ?? {};
    const writers = Object.values(files).map((f) => f.metadata);
    const writtenAt = writers
      .map((m) => m[WRITTEN_AT])
      .filter((t): t is string => t !== undefined)
      .sort()
      .at(-1);
    const writtenBy = [...new Set(writers.map(writerOf).filter((w): w is string => w !== undefined))].join(", ");
    const provenance = {
      ...(writtenBy ? { writtenBy } : {}),
      ...(writtenAt ? { writtenAt } : {}),
    };
    const run = writtenAt ? runThatWrote(writtenAt, options.runs, now) : undefined;
    for (const location of locationList) {
      let total = 0;
      let present = 0;
      const datasetsWithRows: Dataset[] = [];
      const temperatures: number[] = [];
      let precipitation: number | null = null;
      for (const dataset of DATASETS) {
        const file = files[dataset];
        if (!file) continue;
        const rows = file.rows.filter((r) => r["location"] === location);
        if (rows.length > 0) datasetsWithRows.push(dataset);
        for (const row of rows) {
          for (const variable of file.variables) {
            total++;
            if (numberOrNull(row[variable]) !== null) present++;
          }
          if (dataset === "weather_hourly") {
            const t = numberOrNull(row[temperatureColumn]);
            if (t !== null) temperatures.push(t);
            const p = numberOrNull(row[precipitationColumn]);
            if (p !== null) precipitation = (precipitation ?? 0) + p;
          }
        }
      }
      const lacking = [...expected].filter((d) => !datasetsWithRows.includes(d));
      let status: CellStatus;
      let detail: string;
      if (Object.keys(files).length === 0) {
        status = "missing";
        detail = "no file";
      } else if (datasetsWithRows.length === 0) {
        status = "missing";
        detail = "no rows for this location";
      } else if (present === 0) {
        status = "missing";
        detail = `all ${total} values null`;
      } else if (present === total && lacking.length === 0) {
        status = "complete";
        detail = `all ${total} values`;
      } else {
        status = "partial";
        detail = present < total ? `${total - present} of ${total} values null` : `no ${lacking.join(" or ")} rows`;
      }
      cells.push({ location, date, status, detail, ...provenance, ...(run ? { run } : {}) });
      const mean = temperatures.length > 0 ? temperatures.reduce((a, b) => a + b, 0) / temperatures.length : null;
      days.push({
        location,
        date,
        temperatureMin: temperatures.length > 0 ? Math.min(...temperatures) : null,
        temperatureMean: mean,
        temperatureMax: temperatures.length > 0 ? Math.max(...temperatures) : null,
        precipitation,
      });
    }
  }
  const missingVariables = sawHourly
    ? [...(sawTemperature ? [] : [temperatureColumn]), ...(sawPrecipitation ? [] : [precipitationColumn])]
    : [];
  return { ...base, start, end, dates, locations: locationList, days, cells, units, missingVariables };
}

/** The dates of a source's table that have its one file, from the keys. */
async function sourceDates(store: ObjectStore, name: string): Promise<string[]> {
  const dates: string[] = [];
  for (const key of await store.listKeys(`${sourceTable(name)}/date=`)) {
    const date = /\/date=(\d{4}-\d{2}-\d{2})\//.exec(key)?.[1];
    if (date !== undefined && key === sourceCuratedKey(name, date)) dates.push(date);
  }
  return dates.sort();
}

/** The source tables in the store, by name. */
async function sourceNamesInStore(store: ObjectStore): Promise<string[]> {
  const names = new Set<string>();
  for (const key of await store.listKeys(sourceTable(""))) {
    const name = /^source_([a-z][a-z0-9_]*)\/date=/.exec(key)?.[1];
    if (name !== undefined) names.add(name);
  }
  return [...names].sort();
}

/** Reads the sources' part of the report: each declared source, then any other found in the store. */
async function readSourceReports(store: ObjectStore, options: ReportOptions): Promise<SourceReport[]> {
  const declared = options.sources ?? [];
  const names = [
    ...declared.map((s) => s.name),
    ...(await sourceNamesInStore(store)).filter((n) => !declared.some((s) => s.name === n)),
  ];
  const reports: SourceReport[] = [];
  for (const name of names) {
    const definition = declared.find((s) => s.name === name);
    const available = await sourceDates(store, name);
    const end = available.at(-1) ?? options.end;
    const start = end === undefined ? undefined : addDays(end, -(options.days - 1));
    const days: SourceDay[] = [];
    const numeric = definition
      ? sourceSchema(definition)
          .columns.filter((c) => c.glueType === "double" || c.glueType === "bigint")
          .map((c) => c.name)
      : undefined;
    const stats = new Map<string, { unit?: string; values: number[] }>();
    let attribution = definition?.attribution;
    if (start !== undefined && end !== undefined) {
      for (let i = 0; i <= daysBetween(start, end); i++) {
        const date = addDays(start, i);
        if (!available.includes(date)) {
          days.push({ date, rows: 0, hasFile: false });
          continue;
        }
        const object = await store.getObject(sourceCuratedKey(name, date));
        const file = toArrayBuffer(object.body);
        const metadata = parquetMetadata(file);
        const kv = new Map((metadata.key_value_metadata ?? []).map((e) => [e.key, e.value ?? ""]));
        const units = JSON.parse(kv.get(SOURCE_UNITS_METADATA_KEY) ?? "{}") as Record<string, string>;
        attribution ??= kv.get(SOURCE_ATTRIBUTION_METADATA_KEY);
        const rows = (await parquetReadObjects({ file })) as Record<string, unknown>[];
        const columns =
          numeric ??
          metadata.schema
            .slice(1)
            .filter((e) => e.type === "DOUBLE" || (e.type === "INT64" && e.logical_type?.type !== "TIMESTAMP"))
            .map((e) => e.name);
        for (const column of columns) {
          const entry = stats.get(column) ?? { ...(units[column] ? { unit: units[column] } : {}), values: [] };
          for (const row of rows) {
            const value = row[column];
            const n = typeof value === "bigint" ? Number(value) : numberOrNull(value);
            if (n !== null) entry.values.push(n);
          }
          stats.set(column, entry);
        }
        days.push({
          date,
          rows: rows.length,
          hasFile: true,
          ...(object.metadata[WRITTEN_AT] ? { writtenAt: object.metadata[WRITTEN_AT] } : {}),
          ...(writerOf(object.metadata) ? { writtenBy: writerOf(object.metadata) } : {}),
        });
      }
    }
    const columns = [...(numeric ?? [...stats.keys()])].map((column): SourceColumnSummary => {
      const entry = stats.get(column);
      const values = entry?.values ?? [];
      const unit = entry?.unit ?? definition?.columns.find((c) => c.name === column)?.unit;
      return {
        column,
        ...(unit === undefined ? {} : { unit }),
        values: values.length,
        // Reduced, not spread: a month of 10-minute values is more arguments than a call takes.
        min: values.length > 0 ? values.reduce((a, b) => Math.min(a, b)) : null,
        mean: values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : null,
        max: values.length > 0 ? values.reduce((a, b) => Math.max(a, b)) : null,
      };
    });
    reports.push({
      name,
      table: sourceTable(name),
      declared: definition !== undefined,
      ...(definition ? { url: definition.url } : {}),
      ...(attribution ? { attribution } : {}),
      start: start ?? "",
      end: end ?? "",
      days,
      columns,
    });
  }
  return reports;
}
