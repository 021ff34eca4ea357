/**
 * The warehouse tables, declared from the one schema (core/schema.ts): the same columns and
 * types as the Parquet files and the Glue tables, plus the partition date as a real column and
 * a primary key on location + time (hourly) or location + date (daily). Pure data: the DDL and
 * the COPY column lists are computed here, and migrate.ts applies them.
 */
import type { Dataset } from "../core/keys";
import {
  PARTITION_COLUMN,
  datasetSchema,
  type ColumnDefinition,
  type GlueType,
  type TableSchema,
} from "../core/schema";
import type { PipelineSettings } from "../core/settings";

/** The ledger: one row per dataset and date, written in the same transaction as the rows it describes. */
export const LOAD_LEDGER_TABLE = "warehouse_loads";

/** PostgreSQL type of a Glue type, as the issue's mapping says: DOUBLE -> double precision, timestamp -> timestamptz. */
export function postgresType(glueType: GlueType): string {
  switch (glueType) {
    case "string":
      return "text";
    case "double":
      return "double precision";
    case "bigint":
      return "bigint";
    case "boolean":
      return "boolean";
    case "timestamp":
      return "timestamp with time zone";
  }
}

/** One column of a warehouse table. */
export interface WarehouseColumn {
  readonly name: string;
  /** As information_schema.columns.data_type spells it (e.g. "double precision"). */
  readonly type: string;
  readonly nullable: boolean;
}

/** A table the warehouse loads: an Open-Meteo dataset, or a configured source's `source_<name>`. */
export type WarehouseTableName = Dataset | `source_${string}`;

/** A warehouse table: the dataset's columns in file order, then the partition date. */
export interface WarehouseTable {
  /** The table's name (also what the ledger's `dataset` column records). */
  readonly dataset: WarehouseTableName;
  readonly name: string;
  readonly columns: readonly WarehouseColumn[];
  readonly primaryKey: readonly string[];
  /** A source table's schema, which its files are checked against (datasets: from the settings). */
  readonly schema?: TableSchema;
}

/** Double-quotes an identifier: `time` and `date` are keywords, and quoting keeps every name literal. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function columnOf(column: ColumnDefinition): WarehouseColumn {
  return { name: column.name, type: postgresType(column.glueType), nullable: column.nullable };
}

/** The table of an Open-Meteo dataset. */
export type DatasetWarehouseTable = WarehouseTable & { readonly dataset: Dataset };

/** The table of a dataset for a stack's variables. */
export function warehouseTable(
  dataset: Dataset,
  settings: Pick<PipelineSettings, "hourlyVariables" | "dailyVariables" | "columnNames">,
): DatasetWarehouseTable {
  const variables = dataset === "weather_hourly" ? settings.hourlyVariables : settings.dailyVariables;
  // Renamed as in the Parquet files and the Glue tables.
  const schema = datasetSchema(dataset, variables, {}, settings.columnNames);
  const columns = [...schema.columns.map(columnOf), { name: PARTITION_COLUMN, type: "date", nullable: false }];
  const primaryKey = dataset === "weather_hourly" ? ["location", "time"] : ["location", PARTITION_COLUMN];
  return { dataset, name: dataset, columns, primaryKey };
}

/**
 * A configured source's table (`source_<name>`), from its schema (sources/schema.ts, passed
 * in so the load Lambda needs none of the sources' parsers) and its declared key: the
 * primary key is the key, with the partition date added when the key has no `time` (then the
 * same key on two dates is two rows, as in the Parquet files).
 */
export function sourceWarehouseTable(schema: TableSchema, key: readonly string[]): WarehouseTable {
  if (!/^source_[a-z][a-z0-9_]*$/.test(schema.table)) {
    throw new Error(`${schema.table} is not a source table name (source_<name>)`);
  }
  const columns = [...schema.columns.map(columnOf), { name: PARTITION_COLUMN, type: "date", nullable: false }];
  const primaryKey = key.includes("time") ? [...key] : [...key, PARTITION_COLUMN];
  return { dataset: schema.table as `source_${string}`, name: schema.table, columns, primaryKey, schema };
}

/** CREATE TABLE IF NOT EXISTS for a table, and the index the per-date delete uses. */
export function createTableStatements(table: WarehouseTable): string[] {
  const q = quoteIdentifier;
  const columns = table.columns.map((c) => `${q(c.name)} ${c.type}${c.nullable ? "" : " NOT NULL"}`);
  const statements = [
    `CREATE TABLE IF NOT EXISTS ${q(table.name)} (${columns.join(", ")}, ` +
      `PRIMARY KEY (${table.primaryKey.map(q).join(", ")}))`,
  ];
  // Each load deletes one date, and neither primary key starts with the date.
  statements.push(
    `CREATE INDEX IF NOT EXISTS ${q(`${table.name}_${PARTITION_COLUMN}_idx`)} ON ${q(table.name)} (${q(PARTITION_COLUMN)})`,
  );
  return statements;
}

/** CREATE TABLE IF NOT EXISTS of the load ledger. */
export function createLedgerStatement(): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(LOAD_LEDGER_TABLE)} (` +
    `"dataset" text NOT NULL, "date" date NOT NULL, "source_key" text NOT NULL, ` +
    `"source_sha256" text NOT NULL, "source_bytes" bigint NOT NULL, "rows" bigint NOT NULL, ` +
    `"loaded_at" timestamp with time zone NOT NULL DEFAULT now(), PRIMARY KEY ("dataset", "date"))`
  );
}
