/**
 * DuckDB over a folder in the curated layout, seen the way Athena sees the Glue tables: views
 * `weather_hourly`, `weather_daily` and `source_<name>` per source, with the `date=` partition
 * as a DATE column `"date"`.
 * Local-only (DuckDB is a dev dependency): `npm run pipeline -- query` and the tests that prove
 * the files are what the catalog says.
 */
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { DATASETS } from "../core/keys";
import { PARTITION_COLUMN, type ColumnNames, type GlueType, type TableSchema } from "../core/schema";
import { curatedTables, sourceTable, type SourceDefinition } from "../sources";
import type { ObjectStore } from "../core/storage";
import { openLocalCuratedBucket } from "./local-buckets";

/** The DuckDB type a column of each Glue type reads as, and the partition's type. */
export const DUCKDB_TYPE_OF: Readonly<Record<GlueType | "date", string>> = {
  string: "VARCHAR",
  double: "DOUBLE",
  bigint: "BIGINT",
  boolean: "BOOLEAN",
  // Parquet TIMESTAMP(isAdjustedToUTC) is an instant: DuckDB's TIMESTAMPTZ, Athena's UTC timestamp.
  timestamp: "TIMESTAMP WITH TIME ZONE",
  date: "DATE",
};

/** Options of openCuratedDatabase. */
export interface CuratedDatabaseOptions {
  /** Folder holding `weather_hourly/date=YYYY-MM-DD/*.parquet` and `weather_daily/...`. */
  readonly folder: string;
  /** Columns of a dataset's view while it has no files yet (the stack's variables); default none. */
  readonly hourlyVariables?: readonly string[];
  readonly dailyVariables?: readonly string[];
  /** Renamed variables' columns (the stack's `columnNames`); default none. */
  readonly columnNames?: ColumnNames;
  /** Sources whose tables to declare (files or not); a `source_*` folder not declared gets a view of its files too. */
  readonly sources?: readonly SourceDefinition[];
  /** DuckDB worker threads; default 1: local data is a few MB, and one thread starts fastest. */
  readonly threads?: number;
}

/** A result: column names and DuckDB types, and rows with JS values (Date, bigint, number, string, null). */
export interface QueryResult {
  readonly columns: readonly { readonly name: string; readonly type: string }[];
  readonly rows: readonly Record<string, unknown>[];
  /** True when the statement returns more rows than `rows` holds (it was cut at the limit). */
  readonly truncated: boolean;
}

/** An open DuckDB with the curated views. */
export interface CuratedDatabase {
  /**
   * Runs exactly one SQL statement (an empty query or several statements are errors) and reads
   * its rows, at most `limit` of them when given.
   */
  query(sql: string, options?: { readonly limit?: number }): Promise<QueryResult>;
  close(): void;
}

/** Thrown for a query that is not exactly one statement. */
export class QueryShapeError extends Error {
  override readonly name = "QueryShapeError";
}

/**
 * Opens an in-memory DuckDB with views `weather_hourly` and `weather_daily` over `folder`.
 * A dataset without files yet gets an empty view with the columns the schema declares, so
 * queries still run (and return no rows) instead of failing on a missing glob.
 */
export async function openCuratedDatabase(options: CuratedDatabaseOptions): Promise<CuratedDatabase> {
  const threads = options.threads ?? 1;
  if (!(Number.isInteger(threads) && threads > 0)) {
    throw new Error(`threads is ${threads}; it must be a positive whole number`);
  }
  const instance = await DuckDBInstance.create(":memory:", { threads: String(threads) });
  const connection = await instance.connect();
  try {
    // Timestamps print in UTC, as Athena shows them, whatever this machine's zone is.
    await connection.run("SET TimeZone = 'UTC'");
    const tables = curatedTables({
      hourlyVariables: options.hourlyVariables ?? [],
      dailyVariables: options.dailyVariables ?? [],
      columnNames: options.columnNames,
      sources: options.sources,
    });
    for (const table of tables) await createTableView(connection, options.folder, table.table, table);
    // Tables of sources the given config does not list (another stack's, or one removed): their files.
    const declared = new Set(tables.map((t) => t.table));
    for (const table of await sourceFolders(options.folder)) {
      if (!declared.has(table)) await createTableView(connection, options.folder, table, undefined);
    }
  } catch (error) {
    connection.closeSync();
    instance.closeSync();
    throw error;
  }
  return {
    async query(sql: string, queryOptions: { readonly limit?: number } = {}): Promise<QueryResult> {
      const { limit } = queryOptions;
      if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) {
        throw new RangeError(`limit is ${limit}; it must be a positive whole number`);
      }
      if (
        sql
          .replace(/\/\*[\s\S]*?\*\//g, "")
          .replace(/--[^\n]*/g, "")
          .replace(/[\s;]/g, "") === ""
      ) {
        throw new QueryShapeError(
          'the query is empty; give one SQL statement, e.g. "SELECT count(*) FROM weather_hourly"',
        );
      }
      // DuckDB would run every statement of the text and show the last one's rows. A text it
      // cannot split is left to run, so the error is DuckDB's own parser message.
      const count = await connection.extractStatements(sql).then(
        (statements) => statements.count,
        () => 1,
      );
      if (count > 1) {
        throw new QueryShapeError(`the query holds ${count} statements; give one at a time`);
      }
      const reader =
        limit === undefined ? await connection.runAndReadAll(sql) : await connection.runAndReadUntil(sql, limit + 1);
      const types = reader.columnTypes().map(String);
      const rows = reader.getRowObjectsJS();
      const truncated = limit !== undefined && (rows.length > limit || !reader.done);
      return {
        columns: reader.columnNames().map((name, i) => ({ name, type: types[i] as string })),
        rows: limit === undefined ? rows : rows.slice(0, limit),
        truncated,
      };
    },
    close(): void {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/**
 * Copies every curated object of `store` (an S3 bucket, e.g. s3rver's) into `folder` as plain
 * files, replacing what the folder held, so DuckDB can read them. Returns objects and bytes.
 */
export async function copyCuratedObjects(
  store: ObjectStore,
  folder: string,
): Promise<{ objects: number; bytes: number }> {
  // Replaced, not merged: a file compaction deleted from the bucket must not linger here.
  await rm(folder, { recursive: true, force: true });
  let objects = 0;
  let bytes = 0;
  for (const prefix of [...DATASETS.map((d) => `${d}/`), sourceTable("")]) {
    for (const key of await store.listKeys(prefix)) {
      const { body } = await store.getObject(key);
      const file = path.join(folder, ...key.split("/"));
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, body);
      objects++;
      bytes += body.byteLength;
    }
  }
  return { objects, bytes };
}

/** What queryLocalCuratedData runs. */
export interface LocalQueryOptions {
  readonly sql: string;
  /** The data folder of `npm start` (holding s3/); the curated objects are copied to `<dataDir>/curated`. */
  readonly dataDir: string;
  readonly hourlyVariables: readonly string[];
  readonly dailyVariables: readonly string[];
  readonly columnNames?: ColumnNames;
  readonly sources?: readonly SourceDefinition[];
  /** Most rows to read; default all. */
  readonly limit?: number;
}

/** Runs SQL with DuckDB over the curated bucket of local runs: copies its objects to a plain folder, then queries the views. */
export async function queryLocalCuratedData(options: LocalQueryOptions): Promise<QueryResult> {
  const folder = path.join(options.dataDir, "curated");
  const bucket = await openLocalCuratedBucket(options.dataDir);
  try {
    await copyCuratedObjects(bucket.store, folder);
  } finally {
    await bucket.close();
  }
  const database = await openCuratedDatabase({
    folder,
    hourlyVariables: options.hourlyVariables,
    dailyVariables: options.dailyVariables,
    columnNames: options.columnNames,
    sources: options.sources,
  });
  try {
    return await database.query(options.sql, { limit: options.limit });
  } finally {
    database.close();
  }
}

/**
 * Results as console.table, CSV and JSON show them well: dates as YYYY-MM-DD, instants as ISO
 * text, small bigints as numbers, large ones as their digits.
 */
export function formatResultRows(result: QueryResult): Record<string, unknown>[] {
  const typeOf = new Map(result.columns.map((c) => [c.name, c.type]));
  return result.rows.map((row) => {
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(row)) {
      if (value instanceof Date) {
        out[name] = typeOf.get(name) === "DATE" ? value.toISOString().slice(0, 10) : value.toISOString();
      } else if (typeof value === "bigint") {
        out[name] = Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
      } else {
        out[name] = value;
      }
    }
    return out;
  });
}

/** The `source_*` tables that have a folder under `folder`. */
async function sourceFolders(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isDirectory() && /^source_[a-z][a-z0-9_]*$/.test(e.name))
    .map((e) => e.name)
    .sort();
}

/**
 * A view of one table: its files, or, without any, an empty view with the columns the schema
 * declares (no schema: nothing to declare, no view).
 */
async function createTableView(
  connection: DuckDBConnection,
  folder: string,
  table: string,
  schema: TableSchema | undefined,
): Promise<void> {
  const pattern = sqlString(path.join(folder, table, `${PARTITION_COLUMN}=*`, "*.parquet"));
  const found = await connection.runAndReadAll(`SELECT count(*) AS files FROM glob(${pattern})`);
  if (Number(found.getRowObjectsJS()[0]?.["files"] ?? 0) > 0) {
    // union_by_name: a file written before a variable was added lacks its column; Athena reads
    // Parquet by name and returns NULL there, and so does this.
    await connection.run(
      `CREATE VIEW ${table} AS SELECT * FROM read_parquet(${pattern}, hive_partitioning = true, ` +
        `hive_types = {'${PARTITION_COLUMN}': DATE}, union_by_name = true)`,
    );
    return;
  }
  if (!schema) return;
  const columns = [
    ...schema.columns.map((c) => `CAST(NULL AS ${DUCKDB_TYPE_OF[c.glueType]}) AS "${c.name}"`),
    `CAST(NULL AS DATE) AS "${PARTITION_COLUMN}"`,
  ];
  await connection.run(`CREATE VIEW ${table} AS SELECT ${columns.join(", ")} WHERE false`);
}

/** A SQL string literal. */
function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
