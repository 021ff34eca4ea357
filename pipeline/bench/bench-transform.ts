/**
 * One transform of `npm run bench`, in a process of its own so that its peak memory is its own:
 * `node bench-transform.js <ours|duckdb|duckdb-one-file> <body.json> <out-dir>` converts the body
 * and prints one JSON line (BenchTransformResult). bench.ts runs it transpiled to JavaScript, so
 * neither side carries ts-node's TypeScript compiler in its memory.
 */
import { createReadStream, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import * as path from "node:path";
import type { ObjectStore, PutOptions, StoredObject } from "../core/storage";
import { transformResponseFiles } from "../transform";
import { BENCH_HOURLY_VARIABLES } from "./bench-input";

/** What one conversion measured. */
export interface BenchTransformResult {
  readonly engine: string;
  /** From the first byte read to the last file written (DuckDB: from opening the database). */
  readonly wallMs: number;
  /** CPU time of the process during the conversion (all threads). */
  readonly cpuMs: number;
  /** Peak resident memory of the whole process, in bytes (VmHWM). */
  readonly peakRssBytes: number;
  readonly rows: number;
  readonly files: number;
  readonly outputBytes: number;
  /** Row groups of all the files written (counted after the peak RSS is taken). */
  readonly rowGroups: number;
}

/**
 * A folder as an object store, written as DirectoryObjectStore writes it (mkdir, write, rename,
 * asynchronously), without importing storage.ts, whose S3 client would add the AWS SDK to the
 * measured memory. Each folder is made once, as DuckDB makes its partition folders.
 */
class FolderStore implements ObjectStore {
  readonly description: string;
  private readonly folders = new Map<string, Promise<unknown>>();

  constructor(readonly root: string) {
    this.description = root;
  }

  async putObject(key: string, body: Uint8Array | string, _options: PutOptions): Promise<void> {
    const file = path.join(this.root, key);
    const folder = path.dirname(file);
    let made = this.folders.get(folder);
    if (!made) {
      made = mkdir(folder, { recursive: true });
      this.folders.set(folder, made);
    }
    await made;
    await writeFile(`${file}.partial`, body);
    await rename(`${file}.partial`, file);
  }

  getObject(key: string): Promise<StoredObject> {
    return Promise.resolve({ key, body: readFileSync(path.join(this.root, key)), metadata: {} });
  }

  getObjectStream(key: string): Promise<AsyncIterable<Uint8Array>> {
    return Promise.resolve(createReadStream(path.join(this.root, key)));
  }

  listKeys(): Promise<string[]> {
    return Promise.reject(new Error("not used by the benchmark"));
  }

  deleteObject(): Promise<void> {
    return Promise.reject(new Error("not used by the benchmark"));
  }
}

/** Peak resident memory of this process, from /proc (maxRSS where /proc is missing). */
function peakRssBytes(): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    if (match) return Number(match[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

/** Files and bytes under a folder. */
function folderSize(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    files++;
    bytes += statSync(path.join(entry.parentPath, entry.name)).size;
  }
  return { files, bytes };
}

/** Our conversion: the body streamed from disk through transformResponseFiles. */
async function convertOurs(
  body: string,
  out: string,
): Promise<Omit<BenchTransformResult, "engine" | "peakRssBytes" | "rowGroups">> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const spillDirectory = path.join(out, "..", `${path.basename(out)}-spill`);
  mkdirSync(spillDirectory, { recursive: true });
  const written = await transformResponseFiles(
    [{ name: path.basename(body), body: createReadStream(body, { highWaterMark: 1 << 20 }) }],
    new FolderStore(out),
    { spillDirectory },
  );
  const used = process.cpuUsage(cpu);
  return {
    wallMs: performance.now() - started,
    cpuMs: (used.user + used.system) / 1000,
    rows: written.reduce((sum, f) => sum + f.rows, 0),
    files: written.length,
    outputBytes: written.reduce((sum, f) => sum + f.bytes, 0),
  };
}

/**
 * The same conversion in DuckDB on one thread: read_json with the columns declared (as our
 * schema is), unnest, the same location name, UTC time and local date, then COPY to Parquet
 * (SNAPPY), one file per date (PARTITION_BY, the curated layout) or one file for everything.
 */
async function convertDuckDb(
  body: string,
  out: string,
  oneFile: boolean,
): Promise<Omit<BenchTransformResult, "engine" | "peakRssBytes" | "rowGroups">> {
  // Loaded before the clock starts, as our modules are.
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const started = performance.now();
  const cpu = process.cpuUsage();
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
  const used = process.cpuUsage(cpu);
  const wallMs = performance.now() - started;
  return { wallMs, cpuMs: (used.user + used.system) / 1000, rows, ...outputOf(out) };
}

/** Row groups of the Parquet files under a folder, from their footers. */
async function rowGroupsIn(dir: string): Promise<number> {
  const { parquetMetadata } = await import("hyparquet");
  let groups = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".parquet")) continue;
    const bytes = readFileSync(path.join(entry.parentPath, entry.name));
    groups += parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)).row_groups
      .length;
  }
  return groups;
}

function outputOf(out: string): { files: number; outputBytes: number } {
  const { files, bytes } = folderSize(out);
  return { files, outputBytes: bytes };
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
  if (!engine || !body || !out) {
    throw new Error("usage: bench-transform <ours|duckdb|duckdb-one-file> <body> <out> | compare <ours> <duckdb>");
  }
  if (engine === "compare") {
    process.stdout.write(`${JSON.stringify(await compareOutputs(body, out))}\n`);
    return;
  }
  const measured =
    engine === "ours" ? await convertOurs(body, out) : await convertDuckDb(body, out, engine === "duckdb-one-file");
  const peak = peakRssBytes();
  const result: BenchTransformResult = { engine, ...measured, peakRssBytes: peak, rowGroups: await rowGroupsIn(out) };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
