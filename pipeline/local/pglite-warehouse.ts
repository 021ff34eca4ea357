/**
 * The embedded warehouse of local runs: PGlite (PostgreSQL compiled to WebAssembly) behind the
 * same WarehouseDatabase interface the Lambda uses over the wire. COPY FROM STDIN becomes PGlite's
 * `COPY ... FROM '/dev/blob'` with the rows as a Blob; the SQL, the transaction and the values
 * read back are the same.
 */
import { mkdirSync } from "node:fs";
import { PGlite, types, type Transaction } from "@electric-sql/pglite";
import { classifyDatabaseError, copyStatement, type WarehouseDatabase, type WarehouseSession } from "../warehouse";

/** Where local runs keep the embedded warehouse: .local-data/warehouse. */
export const LOCAL_WAREHOUSE_DIR = "warehouse";

// The same values pg returns with the loader's parsers (warehouse/database.ts).
const PARSERS = {
  [types.DATE]: (value: string) => value,
  [types.INT8]: (value: string) => Number(value),
};

type Queryable = Pick<PGlite, "query"> | Transaction;

class PgliteSession implements WarehouseSession {
  constructor(
    private readonly target: Queryable,
    private readonly description: string,
  ) {}

  async query<R = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    try {
      return (await this.target.query<R>(sql, [...params])).rows;
    } catch (error) {
      throw classifyDatabaseError(error, `${this.description}: ${sql.slice(0, 120)}`);
    }
  }

  async copyRows(table: string, columns: readonly string[], chunks: Iterable<string>): Promise<number> {
    const blob = new Blob([...chunks]);
    try {
      const result = await this.target.query(copyStatement(table, columns, "'/dev/blob'"), [], { blob });
      return result.affectedRows ?? 0;
    } catch (error) {
      throw classifyDatabaseError(error, `${this.description}: COPY ${table}`);
    }
  }
}

/** A WarehouseDatabase over a PGlite instance. */
export class PgliteWarehouse implements WarehouseDatabase {
  readonly description: string;
  private readonly session: PgliteSession;

  constructor(
    readonly db: PGlite,
    description: string,
  ) {
    this.description = description;
    this.session = new PgliteSession(db, description);
  }

  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    return this.session.query<R>(sql, params);
  }

  copyRows(table: string, columns: readonly string[], chunks: Iterable<string>): Promise<number> {
    return this.session.copyRows(table, columns, chunks);
  }

  async transaction<T>(work: (session: WarehouseSession) => Promise<T>): Promise<T> {
    try {
      return await this.db.transaction((tx) => work(new PgliteSession(tx, this.description)));
    } catch (error) {
      // The database's own errors (BEGIN, COMMIT) carry a SQLSTATE; the work's are already ours.
      const sqlState = (error as { code?: unknown } | null)?.code;
      throw typeof sqlState === "string" ? classifyDatabaseError(error, `${this.description}: transaction`) : error;
    }
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

/** Opens (creating if needed) an embedded warehouse in `directory`, or in memory when undefined. */
export async function openPgliteWarehouse(directory?: string): Promise<PgliteWarehouse> {
  if (directory !== undefined) mkdirSync(directory, { recursive: true });
  const db = await PGlite.create(directory, { parsers: PARSERS });
  return new PgliteWarehouse(db, directory === undefined ? "pglite (in memory)" : `pglite ${directory}`);
}
