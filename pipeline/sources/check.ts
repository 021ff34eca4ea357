/**
 * The checks of a stack's `sources` and `columnNames` that go beyond their shape (which
 * infra/config.ts declares with zod): names, the mapping, the key, the time format and zone.
 * Each problem has the path under the key, the value and the fix, for a message like
 * `weather-pipeline:sources[0].key[1] is "station"; …`.
 */
import { COLUMN_NAME, PARTITION_COLUMN } from "../core/schema";
import { TIME_COLUMN, sourceTable, type SourceDefinition } from "./definition";
import { timeFormatProblem, timeZoneProblem } from "./time";

/** One problem of the config: where under the key, the value found, and what is wrong and what to do. */
export interface SourceProblem {
  readonly path: readonly (string | number)[];
  readonly value: unknown;
  readonly message: string;
}

/** Keys only a CSV source may set. */
export const CSV_ONLY_KEYS = ["delimiter", "decimal", "encoding", "header"] as const;

/** PostgreSQL cuts identifiers at 63 bytes; the table `source_<name>` must stay whole. */
const MAX_TABLE_NAME = 63;

/** Columns every source table has, or that its partition takes. */
const RESERVED = [TIME_COLUMN, PARTITION_COLUMN];

/**
 * The problems of the parsed sources. `given[i]` lists the keys the i-th source's config set
 * (before defaults), so that a CSV-only key on a JSON source is an error, not ignored.
 */
export function sourceProblems(
  sources: readonly SourceDefinition[],
  given: readonly (readonly string[])[] = [],
): SourceProblem[] {
  const problems: SourceProblem[] = [];
  const add = (path: readonly (string | number)[], value: unknown, message: string) =>
    problems.push({ path, value, message });
  const seen = new Map<string, number>();
  sources.forEach((source, i) => {
    const at = (...rest: (string | number)[]) => [i, ...rest];
    if (!COLUMN_NAME.test(source.name)) {
      add(
        at("name"),
        source.name,
        "a source name must be lower-case letters, digits and _, starting with a letter (it names the table source_<name>)",
      );
    } else if (sourceTable(source.name).length > MAX_TABLE_NAME) {
      add(
        at("name"),
        source.name,
        `it is too long: the table ${sourceTable(source.name)} must be at most ${MAX_TABLE_NAME} characters`,
      );
    }
    const first = seen.get(source.name);
    if (first !== undefined)
      add(at("name"), source.name, `sources[${first}] has the same name; each source needs its own`);
    else seen.set(source.name, i);

    try {
      const url = new URL(source.url);
      if (url.username !== "" || url.password !== "") {
        add(at("url"), source.url, "it holds a user name or password; publish the file without credentials in its URL");
      }
    } catch {
      // zod has reported it.
    }

    const csvKeys = (given[i] ?? []).filter((k) => (CSV_ONLY_KEYS as readonly string[]).includes(k));
    if (source.format !== "csv") {
      for (const key of csvKeys) {
        add(
          at(key),
          (source as unknown as Record<string, unknown>)[key],
          `${key} applies to format csv only; remove it (this source is ${source.format}, always UTF-8 with . decimals)`,
        );
      }
    } else {
      if (source.delimiter.length !== 1 || /["\r\n]/.test(source.delimiter)) {
        add(
          at("delimiter"),
          source.delimiter,
          'it must be one character other than " and a line break, e.g. ";" or ","',
        );
      } else if (source.delimiter === source.decimal) {
        add(
          at("decimal"),
          source.decimal,
          `it is the delimiter too; a file with delimiter ${JSON.stringify(source.delimiter)} cannot use it as the decimal separator`,
        );
      }
    }
    const numbered = source.format === "csv" && !source.header;
    const fieldProblem = (from: string | number): string | undefined => {
      if (numbered) {
        return typeof from === "number" && Number.isInteger(from) && from >= 1
          ? undefined
          : "without a header (header: false) a field is its column number, 1 for the first";
      }
      return typeof from === "string" && from !== ""
        ? undefined
        : source.format === "csv"
          ? "it must be the header's name of the column (or set header: false to use column numbers)"
          : "it must be the key of the field in each JSON object";
    };
    const timeField = fieldProblem(source.time.column);
    if (timeField) add(at("time", "column"), source.time.column, timeField);
    const formatProblem = timeFormatProblem(source.time.format);
    if (formatProblem) add(at("time", "format"), source.time.format, formatProblem);
    const zoneProblem = timeZoneProblem(source.time.timezone);
    if (zoneProblem) add(at("time", "timezone"), source.time.timezone, zoneProblem);

    const names = new Map<string, number>();
    source.columns.forEach((column, j) => {
      if (!COLUMN_NAME.test(column.name)) {
        add(
          at("columns", j, "name"),
          column.name,
          "a column name must be lower-case letters, digits and _, starting with a letter",
        );
      } else if (column.name.length > MAX_TABLE_NAME) {
        add(at("columns", j, "name"), column.name, `it must be at most ${MAX_TABLE_NAME} characters`);
      } else if (RESERVED.includes(column.name)) {
        add(
          at("columns", j, "name"),
          column.name,
          column.name === TIME_COLUMN
            ? "every source table has a time column, made from time.column; give this column another name"
            : "date is the partition column of every table; give this column another name",
        );
      }
      const earlier = names.get(column.name);
      if (earlier !== undefined) add(at("columns", j, "name"), column.name, `columns[${earlier}] has the same name`);
      else names.set(column.name, j);
      const field = fieldProblem(column.from);
      if (field) add(at("columns", j, "from"), column.from, field);
    });

    if (source.key.length === 0)
      add(
        at("key"),
        source.key,
        `list the columns that identify a row, e.g. [${source.columns[0]?.name ?? "station_id"}, time]`,
      );
    source.key.forEach((name, j) => {
      if (name !== TIME_COLUMN && !names.has(name)) {
        const known = [TIME_COLUMN, ...names.keys()].join(", ");
        add(at("key", j), name, `it is not a column of this source; a key lists column names (${known})`);
      } else if (source.key.indexOf(name) !== j) {
        add(at("key", j), name, "it is listed twice; list each key column once");
      }
    });
  });
  return problems;
}

/**
 * The problems of `columnNames` (variable -> column name) for a stack's variables: every
 * variable named must be requested, and every new name valid, free and unique per dataset.
 */
export function columnNamesProblems(
  columnNames: Readonly<Record<string, string>>,
  hourlyVariables: readonly string[],
  dailyVariables: readonly string[],
): SourceProblem[] {
  const problems: SourceProblem[] = [];
  const fixed = ["location", "latitude", "longitude", "elevation", TIME_COLUMN, PARTITION_COLUMN];
  for (const [variable, name] of Object.entries(columnNames)) {
    if (!hourlyVariables.includes(variable) && !dailyVariables.includes(variable)) {
      problems.push({
        path: [variable],
        value: name,
        message: `${variable} is in neither hourlyVariables nor dailyVariables; columnNames maps a requested variable to its column name`,
      });
      continue;
    }
    if (!COLUMN_NAME.test(name)) {
      problems.push({
        path: [variable],
        value: name,
        message: "a column name must be lower-case letters, digits and _, starting with a letter",
      });
    } else if (fixed.includes(name)) {
      problems.push({
        path: [variable],
        value: name,
        message: `${name} is a fixed column of the weather tables; choose another name`,
      });
    }
  }
  for (const [dataset, variables] of [
    ["weather_hourly", hourlyVariables],
    ["weather_daily", dailyVariables],
  ] as const) {
    const owner = new Map<string, string>();
    for (const variable of variables) {
      const name = Object.hasOwn(columnNames, variable) ? (columnNames[variable] as string) : variable;
      const other = owner.get(name);
      if (other !== undefined) {
        const renamed = Object.hasOwn(columnNames, variable) ? variable : other;
        problems.push({
          path: [renamed],
          value: columnNames[renamed],
          message: `${dataset} would have two columns ${name} (${other} and ${variable}); give each its own name`,
        });
      }
      owner.set(name, variable);
    }
  }
  return problems;
}
