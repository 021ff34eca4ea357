/**
 * The warehouse of local runs and queries: embedded PGlite kept in `<data-dir>/warehouse` by
 * default, or any PostgreSQL server by URL (`postgres://user:password@host:5432/db`, libpq's
 * sslmode and other parameters included).
 */
import * as path from "node:path";
import { connectPostgres, type WarehouseDatabase } from "../warehouse";
import { LOCAL_WAREHOUSE_DIR, openPgliteWarehouse } from "./pglite-warehouse";

/** Opens the local warehouse: `target` undefined (or true) for the embedded one, else a postgres:// URL. */
export async function openLocalWarehouse(
  target: string | true | undefined,
  dataDir: string,
): Promise<WarehouseDatabase> {
  if (target === undefined || target === true) return openPgliteWarehouse(path.join(dataDir, LOCAL_WAREHOUSE_DIR));
  if (!/^postgres(ql)?:\/\//.test(target)) {
    throw new RangeError(
      `--warehouse is ${JSON.stringify(target)}; give a PostgreSQL URL such as postgres://user:password@127.0.0.1:5432/weather, or no value for the embedded warehouse in ${path.join(dataDir, LOCAL_WAREHOUSE_DIR)}`,
    );
  }
  return connectPostgres({ connectionString: target });
}

/** Values as a terminal table shows them: instants as ISO text, the rest as they are. */
export function formatWarehouseRows(rows: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  return rows.map((row) =>
    Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v])),
  );
}
