/**
 * A source's curated table from its declaration, in the same terms as Open-Meteo's datasets
 * (core/schema.ts TableSchema): the Parquet writer, the Glue table, the DuckDB view, the
 * warehouse table and the report all read columns and types from here, never from a file.
 *
 * The table is `time` (the row's instant, UTC, never null) then the declared columns in order;
 * key columns are never null (a row without a key value is rejected), the others nullable.
 */
import {
  GLUE_TYPE_OF_DECLARED,
  columnDefinition,
  datasetSchema,
  type ColumnNames,
  type TableSchema,
} from "../core/schema";
import type { PipelineSettings } from "../core/settings";
import { TIME_COLUMN, sourceTable, type SourceDefinition } from "./definition";

/** The curated table of a source. */
export function sourceSchema(source: Pick<SourceDefinition, "name" | "columns" | "key" | "url">): TableSchema {
  const columns = [
    columnDefinition(TIME_COLUMN, "timestamp", { nullable: false, from: TIME_COLUMN }),
    ...source.columns.map((column) =>
      columnDefinition(column.name, GLUE_TYPE_OF_DECLARED[column.type], {
        nullable: !source.key.includes(column.name),
        unit: column.unit,
        from: String(column.from),
        isVariable: true,
      }),
    ),
  ];
  return {
    table: sourceTable(source.name),
    columns,
    key: [...source.key],
    description: `Source ${source.name} (${source.url}), one row per ${source.key.join(" and ")}`,
  };
}

/** What a stack's curated tables are made from. */
export interface CuratedTablesInput {
  readonly hourlyVariables: readonly string[];
  readonly dailyVariables: readonly string[];
  readonly columnNames?: ColumnNames;
  readonly sources?: readonly SourceDefinition[];
}

/**
 * Every curated table of a stack, in one list: the two Open-Meteo datasets (a dataset without
 * variables still has its table, of the fixed columns, as the Glue catalog always declared),
 * then one table per source in config order. Glue, DuckDB and the report are declared from
 * this list, so a source is one more table behind the same code.
 */
export function curatedTables(input: CuratedTablesInput | PipelineSettings): TableSchema[] {
  const tables: TableSchema[] = [
    datasetSchema("weather_hourly", input.hourlyVariables, {}, input.columnNames),
    datasetSchema("weather_daily", input.dailyVariables, {}, input.columnNames),
  ];
  for (const source of "sources" in input ? (input.sources ?? []) : []) tables.push(sourceSchema(source));
  return tables;
}
