/**
 * The load of a configured source's table `source_<name>`. A source's run writes the dates its
 * new version holds (one Parquet file per date in the source's zone), not the run's date, so
 * the LoadSource step names them. Besides those, the load takes every date of the table in the
 * bucket that the ledger lacks (a load that failed, or files written before the warehouse
 * existed), and every date among the newest `catchUpDays` whose file changed since its load.
 * Each date is one transaction, as for Open-Meteo's datasets (load.ts).
 */
import { createHash } from "node:crypto";
import { assertIsoDate } from "../core/keys";
import type { PipelineSettings } from "../core/settings";
import { ObjectNotFoundError, type ObjectStore } from "../core/storage";
import { readParquetRows } from "./curated-file";
import { WarehouseError, type WarehouseDatabase } from "./database";
import { loadFile, type LoadedFile } from "./load";
import { migrateWarehouse, type Migration } from "./migrate";
import { LOAD_LEDGER_TABLE, quoteIdentifier, type WarehouseTable } from "./tables";

/** What a source's load reads and writes. */
export interface SourceLoadDeps {
  readonly settings: Pick<PipelineSettings, "hourlyVariables" | "dailyVariables" | "columnNames">;
  readonly curatedStore: ObjectStore;
  readonly database: WarehouseDatabase;
  /** The stack's source tables (sourceWarehouseTable of each source). */
  readonly sourceTables: readonly WarehouseTable[];
  /** The newest dates of a table whose files are compared with the ledger each load. */
  readonly catchUpDays: number;
  readonly log?: (line: string) => void;
}

/** What one source's load wrote. */
export interface SourceLoadResult {
  readonly source: string;
  readonly files: readonly LoadedFile[];
  readonly migrations: readonly Migration[];
}

/** Key of a source table's file of a date (as sources/keys.ts sourceCuratedKey writes it). */
export function sourceTableFileKey(table: string, date: string): string {
  return `${table}/date=${date}/${table}_${date}.parquet`;
}

function sha256(body: Uint8Array): string {
  return createHash("sha256").update(body).digest("hex");
}

/** Loads the named dates of a source, and the ones the ledger lacks or has another version of (see above). */
export async function loadSourceDates(
  source: string,
  dates: readonly string[],
  deps: SourceLoadDeps,
): Promise<SourceLoadResult> {
  const log = deps.log ?? ((line: string) => console.log(line));
  const table = deps.sourceTables.find((t) => t.name === `source_${source}`);
  if (table?.schema === undefined) {
    const known = deps.sourceTables.map((t) => t.name.slice("source_".length)).join(", ") || "none";
    throw new WarehouseError(
      `source ${source} is not one of this stack's sources (${known}); add it to weather-pipeline:sources, or load a source the stack lists`,
    );
  }
  for (const date of dates) assertIsoDate(date, `the load of source ${source}: a date`);
  const migrations = await migrateWarehouse(deps.database, deps.settings, deps.sourceTables);
  const inBucket: string[] = [];
  for (const key of await deps.curatedStore.listKeys(`${table.name}/date=`)) {
    const date = /\/date=(\d{4}-\d{2}-\d{2})\//.exec(key)?.[1];
    if (date !== undefined && key === sourceTableFileKey(table.name, date)) inBucket.push(date);
  }
  inBucket.sort();
  const ledger = new Map(
    (
      await deps.database.query<{ date: string; source_sha256: string }>(
        `SELECT to_char("date", 'YYYY-MM-DD') AS "date", "source_sha256" FROM ${quoteIdentifier(LOAD_LEDGER_TABLE)} WHERE "dataset" = $1`,
        [table.name],
      )
    ).map((r) => [r.date, r.source_sha256]),
  );
  const toLoad = new Set(dates);
  for (const date of inBucket) {
    if (!toLoad.has(date) && !ledger.has(date)) {
      log(`${table.name} ${date}: not loaded yet; loading it`);
      toLoad.add(date);
    }
  }
  const bodies = new Map<string, Uint8Array>();
  for (const date of inBucket.slice(-Math.max(0, deps.catchUpDays))) {
    if (toLoad.has(date)) continue;
    const body = (await deps.curatedStore.getObject(sourceTableFileKey(table.name, date))).body;
    if (sha256(body) !== ledger.get(date)) {
      log(`${table.name} ${date}: changed since its load; loading it`);
      toLoad.add(date);
      bodies.set(date, body);
    }
  }
  const files: LoadedFile[] = [];
  for (const date of [...toLoad].sort()) {
    const key = sourceTableFileKey(table.name, date);
    let body = bodies.get(date);
    if (body === undefined) {
      try {
        body = (await deps.curatedStore.getObject(key)).body;
      } catch (error) {
        if (error instanceof ObjectNotFoundError) {
          throw new WarehouseError(
            `${deps.curatedStore.description}/${key} does not exist, so ${table.name} ${date} cannot be loaded; run the source's transform first`,
            { cause: error },
          );
        }
        throw error;
      }
    }
    const rows = await readParquetRows(table.dataset, table.schema, key, body);
    files.push(await loadFile(deps.database, rows, date));
  }
  return { source, files, migrations };
}
