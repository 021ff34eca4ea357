/**
 * Warehouse: the curated Parquet of each date loaded into PostgreSQL tables declared from the
 * one schema, a date replaced atomically per dataset, with a ledger of what was loaded.
 * (Values as plain constants: see ingest/index.ts.)
 */
import * as curatedFile from "./curated-file";
import * as database from "./database";
import * as load from "./load";
import * as migrate from "./migrate";
import * as tables from "./tables";

export const {
  WAREHOUSE_UNAVAILABLE_ERROR_NAME,
  WarehouseError,
  WarehouseUnavailableError,
  PostgresWarehouse,
  classifyDatabaseError,
  connectPostgres,
  copyStatement,
  isTransientDatabaseError,
} = database;
export type WarehouseError = database.WarehouseError;
export type WarehouseUnavailableError = database.WarehouseUnavailableError;
export type PostgresWarehouse = database.PostgresWarehouse;
export type { PostgresConnectionOptions, WarehouseDatabase, WarehouseSession } from "./database";
export const { checkColumns, copyChunks, copyValue, readCuratedFile } = curatedFile;
export type { CuratedRows } from "./curated-file";
export const { loadDate, loadFile, readDateFiles } = load;
export type { LoadDeps, LoadResult, LoadedFile } from "./load";
export const { migrateWarehouse, warehouseTables } = migrate;
export type { Migration } from "./migrate";
export const { LOAD_LEDGER_TABLE, createTableStatements, postgresType, quoteIdentifier, warehouseTable } = tables;
export type { WarehouseColumn, WarehouseTable } from "./tables";
