/**
 * The one schema definition of each curated dataset. The Parquet writer (parquet.ts) and the
 * Glue table (infra) both read it, so a column's name and type are declared once and never
 * inferred from the data of a particular file.
 *
 * Column types are declared from the variable NAME, not from a response: every measurement is
 * DOUBLE (humidity and weather_code arrive as JSON integers, but a per-file INT32/DOUBLE choice
 * would make files of one table disagree), and the few variables Open-Meteo returns as points in
 * time (daily sunrise/sunset, unit "iso8601" or "unixtime") are TIMESTAMP. Units from a response
 * only annotate columns; a unit that contradicts the declared type is an error, not a new type.
 */
import type { SchemaElement } from "hyparquet-writer";
import type { Dataset } from "./keys";

/** Athena/Glue column type names the curated tables use. */
export type GlueType = "string" | "double" | "bigint" | "boolean" | "timestamp";

/**
 * The column types a configured source declares (pipeline/sources), and the Glue type each
 * becomes: whole numbers are 64-bit (Parquet INT64, Athena bigint), so no value a JSON file
 * can hold exactly is cut.
 */
export const GLUE_TYPE_OF_DECLARED = {
  double: "double",
  integer: "bigint",
  string: "string",
  boolean: "boolean",
  timestamp: "timestamp",
} as const satisfies Record<string, GlueType>;

/** A type a source's column may declare. */
export type DeclaredType = keyof typeof GLUE_TYPE_OF_DECLARED;

/** One column of a curated dataset, as both Parquet and Glue see it. */
export interface ColumnDefinition {
  /** snake_case; for variables the Open-Meteo variable name, or its name in `columnNames`. */
  readonly name: string;
  /**
   * Where the values come from: the Open-Meteo variable (also when the column is renamed), a
   * source file's field, or the column's own name for the fixed columns.
   */
  readonly from: string;
  /** The Parquet schema element written into every file (name and repetition included). */
  readonly parquet: SchemaElement;
  /** The Glue/Athena column type. */
  readonly glueType: GlueType;
  /** Unit from the response's `*_units` (e.g. "°C"), undefined when not known. */
  readonly unit: string | undefined;
  readonly nullable: boolean;
  /** True for a requested Open-Meteo variable, false for location/coordinates/time. */
  readonly isVariable: boolean;
}

/**
 * One curated table, whatever feeds it (an Open-Meteo dataset or a configured source): what its
 * Parquet files, its Glue table, its DuckDB view and its warehouse table all declare.
 */
export interface TableSchema {
  /** The table's name: the Glue and warehouse table, and the curated prefix `<table>/date=…/`. */
  readonly table: string;
  readonly columns: readonly ColumnDefinition[];
  /** The columns that identify a row (the warehouse's primary key, a source's de-duplication). */
  readonly key: readonly string[];
  /** One line for the Glue table's description. */
  readonly description: string;
}

/** The columns of one dataset, in file order. */
export interface DatasetSchema extends TableSchema {
  readonly dataset: Dataset;
  /** The Open-Meteo variables, in request order (the tail of `columns`). */
  readonly variables: readonly string[];
}

/** Open-Meteo variable -> column name, for the variables a stack renames (`columnNames`). */
export type ColumnNames = Readonly<Record<string, string>>;

/** Response units meaning "this value is a point in time". */
export const TIME_UNITS: readonly string[] = ["iso8601", "unixtime"];

/**
 * Variables Open-Meteo returns as points in time; all others are measurements (DOUBLE).
 * A plain array, not a Set, so Pulumi's closure serializer captures it as data.
 */
export const TIME_VALUED_VARIABLES: readonly string[] = ["sunrise", "sunset"];

/** Hive partition column of every dataset; it lives in the key, never inside a file. */
export const PARTITION_COLUMN = "date";

/** What a column and a table may be named: lower-case letters, digits and _, a letter first. */
export const COLUMN_NAME = /^[a-z][a-z0-9_]*$/;

// Milliseconds, not micros: Athena's `timestamp` has millisecond precision and AWS documents
// Glue/Athena as handling millisecond Parquet timestamps; Trino (Athena v3) and DuckDB both
// read INT64 TIMESTAMP(MILLIS, isAdjustedToUTC) correctly, and Open-Meteo's resolution is
// minutes, so nothing is lost. The legacy converted_type is set too, for readers that only
// look at it (TIMESTAMP_MILLIS implies UTC-adjusted in the Parquet spec).
const TIMESTAMP_ELEMENT = {
  type: "INT64",
  converted_type: "TIMESTAMP_MILLIS",
  logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MILLIS" },
} as const;

/** Schema of weather_hourly: location, coordinates, UTC time, then one column per variable. */
export function hourlySchema(
  variables: readonly string[],
  units: Readonly<Record<string, string>> = {},
  columnNames: ColumnNames = {},
): DatasetSchema {
  return buildSchema("weather_hourly", variables, units, columnNames);
}

/** Schema of weather_daily: location, coordinates, then one column per variable (the date is the partition). */
export function dailySchema(
  variables: readonly string[],
  units: Readonly<Record<string, string>> = {},
  columnNames: ColumnNames = {},
): DatasetSchema {
  return buildSchema("weather_daily", variables, units, columnNames);
}

/**
 * Schema of a dataset by name; see hourlySchema and dailySchema. `columnNames` renames
 * variables' columns (the values still come from the variable); `units` are by variable.
 */
export function datasetSchema(
  dataset: Dataset,
  variables: readonly string[],
  units: Readonly<Record<string, string>> = {},
  columnNames: ColumnNames = {},
): DatasetSchema {
  return buildSchema(dataset, variables, units, columnNames);
}

/** The column a variable is written to: its name in `columnNames`, else the variable's own. */
export function columnNameOf(variable: string, columnNames: ColumnNames = {}): string {
  return Object.hasOwn(columnNames, variable) ? (columnNames[variable] as string) : variable;
}

/** The variable a column of an Open-Meteo file holds: the inverse of columnNameOf. */
export function variableOfColumn(column: string, columnNames: ColumnNames = {}): string {
  for (const [variable, name] of Object.entries(columnNames)) if (name === column) return variable;
  return column;
}

/** The Glue/Athena type a variable is declared with: timestamp for time-valued ones, else double. */
export function variableGlueType(variable: string): "double" | "timestamp" {
  return TIME_VALUED_VARIABLES.includes(variable) ? "timestamp" : "double";
}

/** The explicit Parquet schema (root first) of a dataset. */
export function parquetSchemaElements(schema: TableSchema): SchemaElement[] {
  return [{ name: "root", num_children: schema.columns.length }, ...schema.columns.map((c) => c.parquet)];
}

/** Units of the variable columns, `{column: unit}`, for the file's key-value metadata. */
export function variableUnits(schema: TableSchema): Record<string, string> {
  const units: Record<string, string> = {};
  for (const column of schema.columns) {
    if (column.isVariable && column.unit !== undefined) units[column.name] = column.unit;
  }
  return units;
}

function buildSchema(
  dataset: Dataset,
  variables: readonly string[],
  units: Readonly<Record<string, string>>,
  columnNames: ColumnNames,
): DatasetSchema {
  const block = dataset === "weather_hourly" ? "hourly" : "daily";
  const fixed: ColumnDefinition[] = [
    fixedColumn("location", "string", false),
    fixedColumn("latitude", "double", false),
    fixedColumn("longitude", "double", false),
    // Some responses (e.g. the server's own test output) carry no elevation.
    fixedColumn("elevation", "double", true),
  ];
  if (dataset === "weather_hourly") fixed.push(fixedColumn("time", "timestamp", false));

  const taken = new Set([...fixed.map((c) => c.name), PARTITION_COLUMN]);
  const columns = [...fixed];
  for (const variable of variables) {
    if (!COLUMN_NAME.test(variable)) {
      throw new Error(
        `${block} variable ${JSON.stringify(variable)} is not a valid column name; ` +
          "use the Open-Meteo variable name (lower-case letters, digits and _)",
      );
    }
    const name = columnNameOf(variable, columnNames);
    if (name !== variable && !COLUMN_NAME.test(name)) {
      throw new Error(
        `columnNames.${variable} is ${JSON.stringify(name)}, not a valid column name; use lower-case letters, digits and _`,
      );
    }
    if (taken.has(name)) {
      throw new Error(
        name === variable
          ? `${block} variable ${JSON.stringify(variable)} is listed twice or collides with the ` +
              `${dataset} column of that name; remove it from the variable list`
          : `columnNames.${variable} is ${JSON.stringify(name)}, which another ${dataset} column is already called; ` +
              "give it a name of its own",
      );
    }
    taken.add(name);
    const unit = units[variable];
    const glueType = variableGlueType(variable);
    if (unit !== undefined && TIME_UNITS.includes(unit) && glueType !== "timestamp") {
      throw new Error(
        `${block}_units.${variable} is ${JSON.stringify(unit)} (a point in time), but ${variable} is ` +
          "declared a double column; add it to TIME_VALUED_VARIABLES in pipeline/schema.ts so the " +
          "Parquet files and the Glue table both declare it a timestamp",
      );
    }
    // Every variable is nullable: Open-Meteo sends null for missing values with HTTP 200.
    columns.push(columnDefinition(name, glueType, { nullable: true, unit, from: variable, isVariable: true }));
  }
  const key = dataset === "weather_hourly" ? ["location", "time"] : ["location", PARTITION_COLUMN];
  const description = `Open-Meteo ${block} variables, one row per location and ${dataset === "weather_hourly" ? "hour" : "day"}`;
  return { table: dataset, dataset, columns, key, description, variables: [...variables] };
}

function fixedColumn(name: string, glueType: GlueType, nullable: boolean): ColumnDefinition {
  return columnDefinition(name, glueType, { nullable });
}

/** A column of any curated table: its Parquet element follows from the Glue type and nullability. */
export function columnDefinition(
  name: string,
  glueType: GlueType,
  options: { nullable: boolean; unit?: string; from?: string; isVariable?: boolean },
): ColumnDefinition {
  return {
    name,
    from: options.from ?? name,
    parquet: { name, ...parquetElementOf(glueType), repetition_type: options.nullable ? "OPTIONAL" : "REQUIRED" },
    glueType,
    unit: options.unit,
    nullable: options.nullable,
    isVariable: options.isVariable ?? false,
  };
}

function parquetElementOf(glueType: GlueType): Omit<SchemaElement, "name"> {
  switch (glueType) {
    case "string":
      return { type: "BYTE_ARRAY", converted_type: "UTF8", logical_type: { type: "STRING" } };
    case "double":
      return { type: "DOUBLE" };
    case "bigint":
      return { type: "INT64", logical_type: { type: "INTEGER", bitWidth: 64, isSigned: true } };
    case "boolean":
      return { type: "BOOLEAN" };
    case "timestamp":
      return { ...TIMESTAMP_ELEMENT, logical_type: { ...TIMESTAMP_ELEMENT.logical_type } };
  }
}
