/**
 * Warehouse: the curated Parquet of each date loaded into PostgreSQL tables declared from the
 * one schema, a date replaced atomically per dataset, with a ledger of what was loaded.
 * (Values as plain constants: see ingest/index.ts.)
 */
import * as connection from "./connection";
import * as curatedFile from "./curated-file";
import * as database from "./database";
import * as handler from "./handler";
import * as load from "./load";
import * as loadWindow from "./load-window";
import * as loadSource from "./load-source";
import * as migrate from "./migrate";
import * as planLoads from "./plan-loads";
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
export const { checkColumns, copyChunks, copyValue, readCuratedFile, readParquetRows } = curatedFile;
export type { CuratedRows } from "./curated-file";
export const { loadDate, loadFile, readDateFiles } = load;
export type { LoadDeps, LoadResult, LoadedFile } from "./load";
export const { loadWindow: loadWarehouseWindow, parseLoadWindowEvent } = loadWindow;
export type { LoadWindowEvent, WindowLoadResult } from "./load-window";
export const { loadSourceDates, sourceTableFileKey } = loadSource;
export type { SourceLoadDeps, SourceLoadResult } from "./load-source";
export const { migrateWarehouse, warehouseTables } = migrate;
export type { Migration } from "./migrate";
export const {
  LOAD_LEDGER_TABLE,
  createTableStatements,
  postgresType,
  quoteIdentifier,
  sourceWarehouseTable,
  warehouseTable,
} = tables;
export type { DatasetWarehouseTable, WarehouseColumn, WarehouseTable, WarehouseTableName } from "./tables";
export const {
  LAMBDA_RUNTIME_CA_BUNDLE,
  WAREHOUSE_ENVIRONMENT,
  deployedDatabaseConnector,
  deployedDatabaseFromEnvironment,
} = connection;
export type { DeployedDatabase, SecretValueClient } from "./connection";
export const { createLoadHandler, parseLoadEvent, parseSourceLoadEvent } = handler;
export type { LoadHandlerDeps } from "./handler";
export const { parseLoadPlanEvent, planLoads: planWarehouseLoads } = planLoads;
export type { LoadPlanDeps, LoadPlanEvent, RunDate } from "./plan-loads";
