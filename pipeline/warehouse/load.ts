/**
 * The load: one date's curated Parquet files into the warehouse tables. Every file of the date
 * is read and checked first, so bad input loads nothing of that date. Then, per dataset, one
 * transaction: delete the date's rows, COPY the file's rows, record the file in the ledger. A
 * retry or a re-run replaces the date atomically, and a crash mid-load leaves the previous rows.
 */
import { assertIsoDate, curatedObjectKey } from "../core/keys";
import type { PipelineSettings } from "../core/settings";
import { ObjectNotFoundError, type ObjectStore } from "../core/storage";
import { copyChunks, readCuratedFile, type CuratedRows } from "./curated-file";
import { WarehouseError, type WarehouseDatabase } from "./database";
import { migrateWarehouse, warehouseTables, type Migration } from "./migrate";
import { LOAD_LEDGER_TABLE, quoteIdentifier, type WarehouseTableName } from "./tables";

/** What the load of one dataset of a date wrote. */
export interface LoadedFile {
  readonly dataset: WarehouseTableName;
  readonly key: string;
  readonly rows: number;
  /** Rows of that date the load replaced. */
  readonly replacedRows: number;
  readonly sha256: string;
}

/** What one load wrote. */
export interface LoadResult {
  readonly date: string;
  readonly files: readonly LoadedFile[];
  /** Schema changes made before loading, e.g. a column added for a new variable. */
  readonly migrations: readonly Migration[];
}

/** What a load reads and writes. */
export interface LoadDeps {
  readonly settings: Pick<PipelineSettings, "hourlyVariables" | "dailyVariables" | "columnNames">;
  readonly curatedStore: ObjectStore;
  readonly database: WarehouseDatabase;
}

/** Reads and checks every curated file of `date` the stack writes; throws before any write. */
export async function readDateFiles(date: string, deps: Omit<LoadDeps, "database">): Promise<CuratedRows[]> {
  const files: CuratedRows[] = [];
  for (const table of warehouseTables(deps.settings)) {
    const key = curatedObjectKey(table.dataset, date);
    let body: Uint8Array;
    try {
      body = (await deps.curatedStore.getObject(key)).body;
    } catch (error) {
      if (error instanceof ObjectNotFoundError) {
        throw new WarehouseError(
          `${deps.curatedStore.description}/${key} does not exist, so ${date} cannot be loaded; run the date (ingest and transform) first`,
          { cause: error },
        );
      }
      throw error;
    }
    files.push(await readCuratedFile(table.dataset, key, body, deps.settings));
  }
  return files;
}

// Per dataset and date: a second load of the same date waits for the first to commit.
function lockKey(dataset: WarehouseTableName, date: string): string {
  return `weather-pipeline:${dataset}:${date}`;
}

/** Loads one dataset's file of a date in one transaction; returns what it replaced. */
export async function loadFile(database: WarehouseDatabase, file: CuratedRows, date: string): Promise<LoadedFile> {
  const table = quoteIdentifier(file.dataset);
  return database.transaction(async (session) => {
    await session.query("SELECT pg_advisory_xact_lock(hashtext($1))", [lockKey(file.dataset, date)]);
    const deleted = await session.query<{ n: number }>(
      `WITH gone AS (DELETE FROM ${table} WHERE "date" = $1 RETURNING 1) SELECT count(*)::bigint AS n FROM gone`,
      [date],
    );
    const copied = await session.copyRows(file.dataset, [...file.columns, "date"], copyChunks(file.rows, date));
    if (copied !== file.rows.length) {
      throw new WarehouseError(
        `${file.key}: COPY wrote ${copied} rows of ${file.rows.length}; nothing of ${date} was changed`,
      );
    }
    await session.query(
      `INSERT INTO ${quoteIdentifier(LOAD_LEDGER_TABLE)} ("dataset", "date", "source_key", "source_sha256", "source_bytes", "rows", "loaded_at") ` +
        `VALUES ($1, $2, $3, $4, $5, $6, now()) ON CONFLICT ("dataset", "date") DO UPDATE SET ` +
        `"source_key" = EXCLUDED."source_key", "source_sha256" = EXCLUDED."source_sha256", ` +
        `"source_bytes" = EXCLUDED."source_bytes", "rows" = EXCLUDED."rows", "loaded_at" = EXCLUDED."loaded_at"`,
      [file.dataset, date, file.key, file.sha256, file.bytes, copied],
    );
    return {
      dataset: file.dataset,
      key: file.key,
      rows: copied,
      replacedRows: deleted[0]?.n ?? 0,
      sha256: file.sha256,
    };
  });
}

/** Loads every curated file of `date` (see the module comment). */
export async function loadDate(date: string, deps: LoadDeps): Promise<LoadResult> {
  assertIsoDate(date, "the load date");
  const files = await readDateFiles(date, deps);
  const migrations = await migrateWarehouse(deps.database, deps.settings);
  const loaded: LoadedFile[] = [];
  for (const file of files) loaded.push(await loadFile(deps.database, file, date));
  return { date, files: loaded, migrations };
}
