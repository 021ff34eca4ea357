/**
 * DuckDB's side of `npm run bench -- transform`, the CLI-equivalent of `npm run pipeline --
 * transform`: `node duckdb-transform.js <duckdb|duckdb-one-file> <body.json> <out-dir>` converts
 * the body with DuckDB on one thread and prints `{"rows": n}`; bench.ts runs it as a child
 * process (compiled, from dist/) and measures the whole process, as it measures our CLI.
 * `node duckdb-transform.js compare <ours> <duckdb>` compares two outputs row for row.
 */
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import { BENCH_HOURLY_VARIABLES } from "./bench-input";

/**
 * The same conversion in DuckDB on one thread: read_json with the columns declared (as our
 * schema is), unnest, the same location name, UTC time and local date, then COPY to Parquet
 * (SNAPPY), one file per date (PARTITION_BY, the curated layout) or one file for everything.
 */
async function convertDuckDb(body: string, out: string, oneFile: boolean): Promise<{ rows: number }> {
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const instance = await DuckDBInstance.create(":memory:", { threads: "1" });
  const connection = await instance.connect();
  const variables = BENCH_HOURLY_VARIABLES.map((v) => v.name);
  const hourly = `STRUCT(time VARCHAR[], ${variables.map((v) => `${v} DOUBLE[]`).join(", ")})`;
  const columns =
    `{latitude: 'DOUBLE', longitude: 'DOUBLE', elevation: 'DOUBLE', utc_offset_seconds: 'INTEGER', ` +
    `location_id: 'INTEGER', hourly: '${hourly}'}`;
  const target = oneFile ? path.join(out, "weather_hourly.parquet") : out;
  mkdirSync(out, { recursive: true });
  // Our location name is "<latitude>,<longitude>" as JavaScript prints numbers: 48, not 48.0.
  await connection.run("CREATE MACRO js_number(x) AS regexp_replace(x::VARCHAR, '\\.0$', '')");
  // All 365 date partitions stay open, as our writer keeps one file per date open.
  await connection.run("SET partitioned_write_max_open_files = 100000");
  const result = await connection.runAndReadAll(`
    COPY (
      SELECT location, latitude, longitude, elevation,
        (strptime(t, '%Y-%m-%dT%H:%M') - to_seconds(utc_offset_seconds))::TIMESTAMP_MS AS time,
        ${variables.join(", ")}${oneFile ? "" : ", substr(t, 1, 10) AS date"}
      FROM (
        SELECT js_number(latitude) || ',' || js_number(longitude) || coalesce('#' || location_id::VARCHAR, '') AS location,
          latitude, longitude, elevation, utc_offset_seconds, unnest(hourly.time) AS t,
          ${variables.map((v) => `unnest(hourly.${v}) AS ${v}`).join(", ")}
        FROM read_json('${body}', format = 'array', records = true, columns = ${columns},
          maximum_object_size = 1000000000)
      )
    ) TO '${target}' (FORMAT parquet, COMPRESSION snappy${oneFile ? "" : ", PARTITION_BY (date), OVERWRITE_OR_IGNORE"})`);
  const rows = Number(result.getRows()[0]?.[0] ?? 0);
  connection.closeSync();
  instance.closeSync();
  return { rows };
}

/**
 * Rows of our files and of DuckDB's, and how many of each are missing from the other (EXCEPT ALL:
 * duplicates count, NULLs match NULLs), read back by DuckDB, time as epoch milliseconds.
 */
async function compareOutputs(
  ours: string,
  duckdb: string,
): Promise<{ rows: number; onlyOurs: number; onlyDuckDb: number }> {
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const instance = await DuckDBInstance.create(":memory:", { threads: "1" });
  const connection = await instance.connect();
  const columns =
    `location, latitude, longitude, elevation, epoch_ms(time) AS time, ` +
    `${BENCH_HOURLY_VARIABLES.map((v) => v.name).join(", ")}, date::VARCHAR AS date`;
  const count = async (sql: string): Promise<number> =>
    Number((await connection.runAndReadAll(sql)).getRows()[0]?.[0] ?? NaN);
  for (const [view, dir] of [
    ["a", ours],
    ["b", duckdb],
  ] as const) {
    await connection.run(
      `CREATE VIEW ${view} AS SELECT ${columns} FROM read_parquet('${dir}/*/*.parquet', hive_partitioning = true)`,
    );
  }
  const result = {
    rows: await count("SELECT count(*) FROM a"),
    onlyOurs: await count("SELECT count(*) FROM (SELECT * FROM a EXCEPT ALL SELECT * FROM b)"),
    onlyDuckDb: await count("SELECT count(*) FROM (SELECT * FROM b EXCEPT ALL SELECT * FROM a)"),
  };
  connection.closeSync();
  instance.closeSync();
  return result;
}

async function main(): Promise<void> {
  const [engine, body, out] = process.argv.slice(2);
  if (!engine || !body || !out || !["duckdb", "duckdb-one-file", "compare"].includes(engine)) {
    throw new Error("usage: duckdb-transform <duckdb|duckdb-one-file> <body> <out> | compare <ours> <duckdb>");
  }
  const result =
    engine === "compare"
      ? await compareOutputs(body, out)
      : await convertDuckDb(body, out, engine === "duckdb-one-file");
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
