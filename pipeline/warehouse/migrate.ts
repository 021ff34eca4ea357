/**
 * Migrations: bring the warehouse tables in line with the stack's schema before a load. A new
 * table is created; a variable added to the stack's config adds its column (NULL in the rows
 * loaded before); a variable removed from the config keeps its column and its data (new rows
 * leave it NULL): nothing is ever dropped. A column whose type differs from the schema is an
 * error, not a silent cast.
 */
import type { Dataset } from "../core/keys";
import type { PipelineSettings } from "../core/settings";
import { WarehouseError, type WarehouseDatabase, type WarehouseSession } from "./database";
import {
  createLedgerStatement,
  createTableStatements,
  quoteIdentifier,
  warehouseTable,
  type DatasetWarehouseTable,
  type WarehouseTable,
} from "./tables";

/** One change a migration made, e.g. `weather_hourly: added column dew_point_2m double precision`. */
export type Migration = string;

// Any constant both sides agree on: concurrent loaders serialize their migrations on it.
const MIGRATION_LOCK = 0x77_68_6d_67; // "whmg"

async function existingColumns(session: WarehouseSession, table: string): Promise<Map<string, string>> {
  const rows = await session.query<{ column_name: string; data_type: string }>(
    "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1",
    [table],
  );
  return new Map(rows.map((r) => [r.column_name, r.data_type]));
}

async function migrateTable(session: WarehouseSession, table: WarehouseTable): Promise<Migration[]> {
  const applied: Migration[] = [];
  let existing = await existingColumns(session, table.name);
  if (existing.size === 0) {
    for (const statement of createTableStatements(table)) await session.query(statement);
    applied.push(`${table.name}: created with ${table.columns.length} columns`);
    existing = await existingColumns(session, table.name);
  }
  for (const column of table.columns) {
    const type = existing.get(column.name);
    if (type === undefined) {
      // Rows loaded before have no value for it: always nullable when added later.
      await session.query(
        `ALTER TABLE ${quoteIdentifier(table.name)} ADD COLUMN ${quoteIdentifier(column.name)} ${column.type}`,
      );
      applied.push(`${table.name}: added column ${column.name} ${column.type}`);
    } else if (type !== column.type) {
      throw new WarehouseError(
        `${table.name}.${column.name} is ${type} in the warehouse, but the schema declares ${column.type}; ` +
          `the loader never changes a column's type: rename or drop that column by hand (keeping its data elsewhere) and load again`,
      );
    }
  }
  return applied;
}

/** The tables the load writes for a stack's settings (a dataset without variables has none). */
export function warehouseTables(
  settings: Pick<PipelineSettings, "hourlyVariables" | "dailyVariables" | "columnNames">,
): DatasetWarehouseTable[] {
  const datasets: Dataset[] = [];
  if (settings.hourlyVariables.length > 0) datasets.push("weather_hourly");
  if (settings.dailyVariables.length > 0) datasets.push("weather_daily");
  return datasets.map((d) => warehouseTable(d, settings));
}

/**
 * Creates or extends the tables (the datasets', and `sourceTables` given) and the load ledger;
 * returns what it changed (nothing when up to date).
 */
export async function migrateWarehouse(
  database: WarehouseDatabase,
  settings: Pick<PipelineSettings, "hourlyVariables" | "dailyVariables" | "columnNames">,
  sourceTables: readonly WarehouseTable[] = [],
): Promise<Migration[]> {
  return database.transaction(async (session) => {
    await session.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    await session.query(createLedgerStatement());
    const applied: Migration[] = [];
    for (const table of [...warehouseTables(settings), ...sourceTables]) {
      applied.push(...(await migrateTable(session, table)));
    }
    return applied;
  });
}
