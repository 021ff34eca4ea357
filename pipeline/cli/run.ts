/**
 * One daily run on this machine: an S3-protocol server (s3rver) on 127.0.0.1 keeps the raw and
 * curated buckets in a local folder, and Open-Meteo is the embedded fake (synthetic values, no
 * internet), the real API, or any Open-Meteo-compatible server (`--api-url`, e.g. a self-hosted
 * one). Ingest and transform are the same handler functions the Lambdas call.
 */
import * as path from "node:path";
import { parquetReadObjects } from "hyparquet";
import { hasApiKeyParameter, ingestDate, parseIngestEvent, type IngestResult } from "../ingest";
import { handleTransformEvent, type TransformResult } from "../transform";
import { assertFinishedDate } from "../core/dates";
import type { PipelineSettings } from "../core/settings";
import { DirectoryObjectStore, S3ObjectStore } from "../core/storage";
import { newLocalRunId, writeLocalRunRecord, type RunRecord } from "../report";
import { startFakeOpenMeteo } from "../local/fake-open-meteo";
import { locationsWithRegistry } from "../applications";
import { LOCAL_BUCKETS } from "../local/local-buckets";
import {
  sourceSchema,
  createSourceFetchHandler,
  createSourceTransformHandler,
  type SourceDefinition,
  type SourceFetchResult,
  type SourceTransformResult,
} from "../sources";
import { startLocalS3 } from "../local/s3-server";
import { LOCAL_RUNS_FOLDER } from "./report";
import { openLocalWarehouse } from "../local/local-warehouse";
import { loadDate, loadSourceDates, sourceWarehouseTable, type LoadResult, type SourceLoadResult } from "../warehouse";

/** The newest dates of a source table compared with the warehouse's ledger on a local load. */
const DEFAULT_LOCAL_CATCH_UP_DAYS = 7;

/** Options of a local run. */
export interface LocalRunOptions {
  readonly settings: PipelineSettings;
  /** Folder that keeps the buckets between runs. */
  readonly dataDir: string;
  /** The day to fetch; default yesterday in the settings' time zone. */
  readonly date?: string;
  /** Use the API at settings' URLs instead of the embedded fake. */
  readonly live: boolean;
  /**
   * Base URL of an Open-Meteo-compatible server (e.g. http://127.0.0.1:8080): forecast and
   * archive requests go to <apiUrl>/v1/forecast and <apiUrl>/v1/archive instead of the fake.
   */
  readonly apiUrl?: string;
  /** Rows shown per dataset in the preview. */
  readonly previewRows: number;
  /**
   * Sources to fetch after the date, each once; without --live the embedded fake publishes
   * each one's file (in its declared dialect, SYNTHETIC values) in place of its URL. Default none.
   */
  readonly sources?: readonly SourceDefinition[];
  /** Where progress and the summary go. */
  readonly print: (line: string) => void;
  /** Also load the day into a warehouse: true for the embedded PGlite in `<dataDir>/warehouse`, or a postgres:// URL. */
  readonly warehouse?: string | true;
}

/** What a local run did. */
export interface LocalRunResult {
  readonly ingest: IngestResult;
  readonly transform: TransformResult;
  readonly synthetic: boolean;
  /** Per source: its fetch, and its transform when the fetch found a version to transform. */
  readonly sources: readonly { readonly fetch: SourceFetchResult; readonly transform?: SourceTransformResult }[];
  /** What the load wrote, when the run loaded a warehouse. */
  readonly load?: LoadResult;
  /** What the load of each source wrote, when the run loaded a warehouse. */
  readonly sourceLoads?: readonly SourceLoadResult[];
}

/**
 * The forecast and archive URLs of an Open-Meteo-compatible server from its base URL
 * (http or https, no path beyond a prefix, no query): <base>/v1/forecast and <base>/v1/archive.
 */
export function apiUrlsFromBase(base: string): { forecastApiUrl: string; archiveApiUrl: string } {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new RangeError(`--api-url is ${JSON.stringify(base)}; it must be a URL such as http://127.0.0.1:8080`);
  }
  const shown = JSON.stringify(base);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RangeError(`--api-url is ${shown}; it must start with http:// or https://`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new RangeError("--api-url holds a user name or password; pass the server's address only");
  }
  if (url.search !== "" || url.hash !== "") {
    throw new RangeError(
      hasApiKeyParameter(base)
        ? "--api-url holds an apikey parameter; pass the server's base address only (the key is a stack secret)"
        : `--api-url is ${shown}; it must have no query (?...) or fragment (#...)`,
    );
  }
  const prefix = url.pathname.replace(/\/+$/, "");
  if (/\/v1(\/(forecast|archive))?$/.test(prefix)) {
    throw new RangeError(
      `--api-url is ${shown}; pass the server's base (e.g. ${url.origin}${prefix.replace(/\/v1(\/(forecast|archive))?$/, "")}): /v1/forecast and /v1/archive are added to it`,
    );
  }
  const root = `${url.origin}${prefix}`;
  return { forecastApiUrl: `${root}/v1/forecast`, archiveApiUrl: `${root}/v1/archive` };
}

/** Runs ingest then transform once against local buckets and prints what was written. */
export async function runLocalDay(options: LocalRunOptions): Promise<LocalRunResult> {
  const { print } = options;
  if (options.apiUrl !== undefined && options.live) {
    throw new RangeError("--live and --api-url both choose the API; use one");
  }
  const custom = options.apiUrl === undefined ? undefined : apiUrlsFromBase(options.apiUrl);
  // Before any server starts: today and later dates would be stored forecasts, not observations.
  if (options.date !== undefined) assertFinishedDate(options.date, options.settings.timezone, new Date(), "--date");
  const s3 = await startLocalS3({
    directory: path.join(options.dataDir, "s3"),
    buckets: [LOCAL_BUCKETS.raw, LOCAL_BUCKETS.curated, LOCAL_BUCKETS.applications],
  });
  const declared = options.sources ?? [];
  // The fake also publishes the sources' files, except with --live (then their own URLs).
  const fake =
    options.live || (custom && declared.length === 0) ? undefined : await startFakeOpenMeteo({ sources: declared });
  const sources = fake ? declared.map((source) => ({ ...source, url: fake.sourceUrl(source) })) : declared;
  try {
    // Locations accepted through the local drop zone (`pipeline apply`) are fetched too.
    const applicationsStore = new S3ObjectStore(s3.client(), LOCAL_BUCKETS.applications);
    const located = {
      ...options.settings,
      locations: await locationsWithRegistry(options.settings, applicationsStore, print),
    };
    // The fake may run for the sources alone (--api-url names the weather API).
    const settings: PipelineSettings =
      fake && !custom
        ? { ...located, forecastApiUrl: fake.forecastUrl, archiveApiUrl: fake.archiveUrl }
        : { ...located, ...custom };
    print(
      fake && !custom
        ? `Open-Meteo: embedded fake at ${fake.url} -- SYNTHETIC values, NOT real weather (use --live for the real API)`
        : custom
          ? `Open-Meteo: server at ${settings.forecastApiUrl} and ${settings.archiveApiUrl} (--api-url)`
          : `Open-Meteo: live API at ${settings.forecastApiUrl} (weather data by Open-Meteo.com, CC BY 4.0)`,
    );
    if (sources.length > 0) {
      print(
        fake
          ? `Sources: ${sources.map((s) => s.name).join(", ")}, published by the embedded fake at ${fake.url}/sources/ -- SYNTHETIC values`
          : `Sources: ${sources.map((s) => `${s.name} (${s.url})`).join(", ")}`,
      );
    }
    print(`S3: s3rver at ${s3.endpoint}, data in ${s3.directory}`);

    const client = s3.client();
    const rawStore = new S3ObjectStore(client, LOCAL_BUCKETS.raw);
    const curatedStore = new S3ObjectStore(client, LOCAL_BUCKETS.curated);

    // The run's record, for the report's "latest run" and for the files it writes.
    const runs = new DirectoryObjectStore(path.join(options.dataDir, LOCAL_RUNS_FOLDER));
    const startedAt = new Date();
    const run: RunRecord = {
      id: newLocalRunId(startedAt),
      status: "RUNNING",
      startedAt: startedAt.toISOString(),
      api: fake && !custom ? "fake" : custom ? settings.forecastApiUrl : "live",
    };
    await writeLocalRunRecord(runs, run);
    try {
      const writtenBy = `local run ${run.id}`;
      const result = await ingestAndTransform(options, settings, rawStore, curatedStore, writtenBy);
      const fetched = await fetchAndTransformSources(options, sources, settings, rawStore, curatedStore, writtenBy);
      const loaded =
        options.warehouse === undefined
          ? undefined
          : await loadIntoWarehouse(options, settings, curatedStore, result.transform.date, sources, fetched);
      await writeLocalRunRecord(runs, {
        ...run,
        status: "SUCCEEDED",
        stoppedAt: new Date().toISOString(),
        dates: [result.ingest.date],
      });
      return {
        ...result,
        synthetic: fake !== undefined && !custom,
        sources: fetched,
        ...(loaded ? { load: loaded.load, sourceLoads: loaded.sources } : {}),
      };
    } catch (error) {
      await writeLocalRunRecord(runs, {
        ...run,
        status: "FAILED",
        stoppedAt: new Date().toISOString(),
        ...(options.date ? { dates: [options.date] } : {}),
        error: error instanceof Error ? error.message : String(error),
      });
      throw error;
    }
  } finally {
    await fake?.close();
    await s3.close();
  }
}

/** Ingest then transform of one date, printing what each wrote and a preview of the rows. */
async function ingestAndTransform(
  options: LocalRunOptions,
  settings: PipelineSettings,
  rawStore: S3ObjectStore,
  curatedStore: S3ObjectStore,
  writtenBy: string,
): Promise<Omit<LocalRunResult, "synthetic" | "sources">> {
  const { print } = options;
  {
    // What the ingest Lambda does with a date event (handleIngestEvent), typed as a date's result.
    const ingest = await ingestDate(
      parseIngestEvent(options.date ? { date: options.date } : {}, { timezone: settings.timezone, now: new Date() }),
      {
        settings,
        rawStore,
        // A server the user named that refuses connections on this machine is not started (or
        // the port is wrong): retries cannot help, so say so at once.
        retryTuning: options.apiUrl !== undefined ? { finalOnLoopbackRefusal: true } : undefined,
      },
    );
    print("");
    print(`Ingest ${ingest.date} (${ingest.endpoint}): ${ingest.requests} request(s), ${ingest.bytes} bytes`);
    for (const key of ingest.keys) print(`  s3://${LOCAL_BUCKETS.raw}/${key}`);

    const transform = await handleTransformEvent(ingest, { settings, rawStore, curatedStore, writtenBy });
    print("");
    print(`Transform ${transform.date}: ${transform.rawObjects} raw object(s)`);
    for (const file of transform.files) {
      print(`  s3://${LOCAL_BUCKETS.curated}/${file.key}: ${file.rows} rows, ${file.bytes} bytes`);
    }
    for (const file of transform.files) {
      const { body } = await curatedStore.getObject(file.key);
      const rows = await parquetReadObjects({ file: toArrayBuffer(body), rowEnd: options.previewRows });
      print("");
      print(`${file.dataset}, first ${rows.length} of ${file.rows} rows:`);
      console.table(rows.map(formatPreviewRow));
    }
    return { ingest, transform };
  }
}

/** Each source once, as the run's EachSource does: fetch, then transform when there is a version to. */
async function fetchAndTransformSources(
  options: LocalRunOptions,
  sources: readonly SourceDefinition[],
  settings: PipelineSettings,
  rawStore: S3ObjectStore,
  curatedStore: S3ObjectStore,
  writtenBy: string,
): Promise<LocalRunResult["sources"]> {
  const { print } = options;
  const log = (line: string) => print(`  ${line}`);
  const fetchOne = createSourceFetchHandler({ sources, http: settings.http, rawStore, log });
  const transformOne = createSourceTransformHandler({ sources, rawStore, curatedStore, writtenBy, log });
  const results: { fetch: SourceFetchResult; transform?: SourceTransformResult }[] = [];
  for (const source of sources) {
    print("");
    print(`Source ${source.name}:`);
    const fetched = await fetchOne({ source: source.name });
    if (!fetched.transform) {
      print(`  the curated table already holds this version (${fetched.key}): not transformed again`);
      results.push({ fetch: fetched });
      continue;
    }
    const transformed = await transformOne(fetched);
    print(
      `  ${transformed.totalRows} row(s) in the file, ${transformed.rejectedRows} rejected` +
        (transformed.rejectsKey ? ` (s3://${LOCAL_BUCKETS.raw}/${transformed.rejectsKey})` : ""),
    );
    for (const file of transformed.files) {
      print(
        `  s3://${LOCAL_BUCKETS.curated}/${file.key}: ${file.rows} rows (${file.fromThisFile} from this file), ${file.bytes} bytes`,
      );
    }
    const last = transformed.files[transformed.files.length - 1];
    if (last) {
      const { body } = await curatedStore.getObject(last.key);
      const rows = await parquetReadObjects({ file: toArrayBuffer(body), rowEnd: options.previewRows });
      print("");
      print(`source_${source.name}, date=${last.date}, first ${rows.length} of ${last.rows} rows:`);
      console.table(rows.map(formatPreviewRow));
    }
    results.push({ fetch: fetched, transform: transformed });
  }
  return results;
}

/**
 * Loads the date into the local warehouse as the load Lambda does it, then each source as its
 * LoadSource step does (the dates its transform wrote, plus what the ledger lacks), and prints
 * what it wrote.
 */
async function loadIntoWarehouse(
  options: LocalRunOptions,
  settings: PipelineSettings,
  curatedStore: S3ObjectStore,
  date: string,
  sources: readonly SourceDefinition[],
  fetched: LocalRunResult["sources"],
): Promise<{ load: LoadResult; sources: SourceLoadResult[] }> {
  const { print } = options;
  const database = await openLocalWarehouse(options.warehouse, options.dataDir);
  try {
    const load = await loadDate(date, { settings, curatedStore, database });
    print("");
    print(`Load ${load.date} into ${database.description}:`);
    for (const migration of load.migrations) print(`  ${migration}`);
    for (const file of load.files) print(`  ${file.dataset}: ${file.rows} rows (replaced ${file.replacedRows})`);
    const sourceTables = sources.map((s) => sourceWarehouseTable(sourceSchema(s), s.key));
    const sourceLoads: SourceLoadResult[] = [];
    for (const [i, source] of sources.entries()) {
      const dates = fetched[i]?.transform?.dates ?? [];
      const loaded = await loadSourceDates(source.name, dates, {
        settings,
        curatedStore,
        database,
        sourceTables,
        catchUpDays: DEFAULT_LOCAL_CATCH_UP_DAYS,
        log: (line) => print(`  ${line}`),
      });
      for (const migration of loaded.migrations) print(`  ${migration}`);
      for (const file of loaded.files)
        print(`  ${file.dataset} ${file.key}: ${file.rows} rows (replaced ${file.replacedRows})`);
      sourceLoads.push(loaded);
    }
    print(
      `  query it: npm run pipeline -- query --warehouse${options.warehouse === true ? "" : " <url>"} "SELECT ..."`,
    );
    return { load, sources: sourceLoads };
  } finally {
    await database.close();
  }
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** Dates as ISO text, numbers as they are: what a reader expects in a preview. */
function formatPreviewRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) out[key] = value instanceof Date ? value.toISOString() : value;
  return out;
}
