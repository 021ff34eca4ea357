/**
 * The load of a backfill window: every date from `from` to `to`, each as the daily Load loads
 * one date (its files read and checked first, then one transaction per dataset), except that a
 * dataset and date whose ledger row holds the SHA-256 of the file as it is now is skipped
 * without decoding the file. So a re-run, a redrive, or the retry after a timeout half-way
 * through a window rewrites nothing already loaded and goes on where the last attempt stopped.
 */
import { createHash } from "node:crypto";
import { addDays } from "../core/dates";
import { assertIsoDate, curatedObjectKey, type Dataset } from "../core/keys";
import { ObjectNotFoundError } from "../core/storage";
import { readCuratedFile, type CuratedRows } from "./curated-file";
import { WarehouseError } from "./database";
import { loadFile, type LoadDeps } from "./load";
import { migrateWarehouse, warehouseTables, type Migration } from "./migrate";
import { LOAD_LEDGER_TABLE, quoteIdentifier } from "./tables";

/** A backfill window as the LoadWindow step sends it. */
export interface LoadWindowEvent {
  readonly from: string;
  readonly to: string;
}

/** What the load of a window did; counts only, so the state stays small whatever the window's size. */
export interface WindowLoadResult {
  readonly from: string;
  readonly to: string;
  /** Dates of the window. */
  readonly dates: number;
  /** Dates of which at least one file was loaded. */
  readonly loadedDates: number;
  /** Files loaded, and files skipped as already loaded with the same SHA-256. */
  readonly loadedFiles: number;
  readonly skippedFiles: number;
  /** Rows the loaded files wrote. */
  readonly rows: number;
  readonly migrations: readonly Migration[];
}

function describe(value: unknown): string {
  return JSON.stringify(value)?.slice(0, 200) ?? String(value);
}

/** Checks a LoadWindow event: `{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD", ...}`. */
export function parseLoadWindowEvent(event: unknown): LoadWindowEvent {
  const e = (event ?? {}) as { from?: unknown; to?: unknown };
  if (typeof e.from !== "string" || typeof e.to !== "string") {
    throw new TypeError(`the load event is ${describe(event)}; a backfill window needs "from" and "to" ("YYYY-MM-DD")`);
  }
  assertIsoDate(e.from, "the load window's from");
  assertIsoDate(e.to, "the load window's to");
  if (e.from > e.to) {
    throw new RangeError(`the load window is ${e.from} to ${e.to}; its "from" must not be after its "to"`);
  }
  return { from: e.from, to: e.to };
}

/** Loads every date of a window that is not loaded as it is now (see the module comment). */
export async function loadWindow(
  window: LoadWindowEvent,
  deps: LoadDeps & { readonly log?: (line: string) => void },
): Promise<WindowLoadResult> {
  const { from, to } = parseLoadWindowEvent(window);
  const log = deps.log ?? ((line: string) => console.log(line));
  // The ledger exists before the first load.
  const migrations = await migrateWarehouse(deps.database, deps.settings);
  const ledger = await deps.database.query<{ dataset: Dataset; date: string; source_sha256: string }>(
    `SELECT "dataset", "date", "source_sha256" FROM ${quoteIdentifier(LOAD_LEDGER_TABLE)} WHERE "date" BETWEEN $1::date AND $2::date`,
    [from, to],
  );
  const loaded = new Map(ledger.map((r) => [`${r.dataset}|${r.date}`, r.source_sha256]));
  const tables = warehouseTables(deps.settings);
  let dates = 0;
  let loadedDates = 0;
  let loadedFiles = 0;
  let skippedFiles = 0;
  let rows = 0;
  for (let date = from; date <= to; date = addDays(date, 1)) {
    dates++;
    // Every file of the date read and checked before any is written, as the daily Load does.
    const pending: CuratedRows[] = [];
    for (const table of tables) {
      const key = curatedObjectKey(table.dataset, date);
      let body: Uint8Array;
      try {
        body = (await deps.curatedStore.getObject(key)).body;
      } catch (error) {
        if (error instanceof ObjectNotFoundError) {
          throw new WarehouseError(
            `${deps.curatedStore.description}/${key} does not exist, so the window ${from} to ${to} cannot be loaded past ${date}; run the backfill of that window again (it fetches and writes what is missing)`,
            { cause: error },
          );
        }
        throw error;
      }
      if (loaded.get(`${table.dataset}|${date}`) === createHash("sha256").update(body).digest("hex")) {
        skippedFiles++;
        continue;
      }
      pending.push(await readCuratedFile(table.dataset, key, body, deps.settings));
    }
    for (const file of pending) {
      const result = await loadFile(deps.database, file, date);
      loadedFiles++;
      rows += result.rows;
    }
    if (pending.length > 0) loadedDates++;
  }
  for (const m of migrations) log(`migration: ${m}`);
  log(
    `loaded the window ${from} to ${to} into ${deps.database.description}: ${loadedDates} of ${dates} date(s), ` +
      `${loadedFiles} file(s), ${rows} rows; ${skippedFiles} file(s) already loaded as they are`,
  );
  return { from, to, dates, loadedDates, loadedFiles, skippedFiles, rows, migrations };
}
