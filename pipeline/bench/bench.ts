/**
 * `npm run bench`: where the pipeline stands against DuckDB and its own targets, measured side
 * by side in one run on deterministic inputs, printed as one table.
 *
 * 1. Transform: an Open-Meteo body (a JSON array) of N locations x 365 days x 12 hourly
 *    variables with ~1% nulls, converted to the curated layout (one Parquet file per date) by our
 *    CLI as a user runs it (`node dist/pipeline/cli/main.js transform <body> --out <dir>`, what
 *    `npm run pipeline -- transform` runs; at 100 locations also through npm) and by DuckDB's
 *    CLI-equivalent on one thread (duckdb-transform.ts: read_json + unnest + COPY ... TO
 *    (FORMAT parquet, PARTITION_BY date)); each conversion a child process measured whole
 *    (measure.ts): wall time from spawn to exit, CPU time and peak RSS from the processes'
 *    own resource usage. Best and median of the repetitions (this machine is shared), peak RSS
 *    the highest; bytes and row groups from the files written.
 * 2. Cold start: each Lambda's package as `pulumi up` would build it, loaded by a fresh Node
 *    process and invoked once against s3rver and the fake Open-Meteo.
 * 3. Daily run: ingest + transform of 100 and 1,000 locations against the fake Open-Meteo with
 *    200 ms of latency per request, and one request per location for comparison.
 * 4. CLI start (`npm run bench -- cli-start`): `npm --version`, `npm run pipeline -- --help` and
 *    the compiled CLI's `--help` without npm, interleaved, median of five each.
 * 5. Warehouse: a year of prod-size data loaded into PostgreSQL as the load Lambda does it, and
 *    the same rows with psql \copy (bench-warehouse.ts).
 * 6. Backfill: 10 years x 100 locations x 12 hourly variables through the backfill state
 *    machine, against one request per date (bench-backfill.ts).
 *
 * Outputs go to bench-out/ (git-ignored); generated inputs are kept there between runs.
 */
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  rmdirSync,
  writeFileSync,
} from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { addDays, todayIn } from "../core/dates";
import { parseStackConfigValues } from "../infra/config";
import { ingestDate, planRequests, requestWeight } from "../ingest";
import type { PipelineSettings } from "../core/settings";
import { DirectoryObjectStore, S3ObjectStore } from "../core/storage";
import { transformRawObjects, type TransformResult } from "../transform";
import type { RunPlan } from "../operations";
import { benchBackfill } from "./bench-backfill";
import {
  BENCH_HOURLY_VARIABLES,
  BENCH_VALUE_KINDS,
  benchLocations,
  writeBenchBody,
  type BenchValues,
} from "./bench-input";
import { measureCommand, processRunning } from "./measure";
import { benchWarehouse } from "./bench-warehouse";
import { startFakeOpenMeteo } from "../local/fake-open-meteo";
import {
  buildLambdaPackage,
  extractLambdaPackage,
  invokeLambdaPackage,
  lambdaNodeFlags,
  prepareRuntimeModules,
  type InvocationResult,
  type LambdaPackage,
} from "../local/lambda-package";
import {
  PROJECT_DIR,
  mockPhysicalName,
  readProjectName,
  readStackConfigFile,
  type PlannedResource,
} from "../local/plan";
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from "../local/s3-server";
import { CLI_ENTRY, DIST_DIR, rebuildIfStale } from "../local/build";

const OUT = path.join(PROJECT_DIR, "bench-out");
const DAYS = 365;
/** Locations of the transform inputs (realistic values); the targets are judged on the middle one. */
const TRANSFORM_SIZES = [25, 100, 400] as const;
/** Repetitions per transform size (the largest runs once: it takes the longest). */
const REPETITIONS: Readonly<Record<number, number>> = { 25: 3, 100: 5, 400: 1 };
/** Runs of the other kinds of values, at TARGET_LOCATIONS. */
const OTHER_VALUES_REPETITIONS: Readonly<Record<string, number>> = { entropy: 5, noisy: 1 };
const TARGET_LOCATIONS = 100;
const COLD_START_RUNS = 5;
const LATENCY_MS = 200;
const DUCKDB_VERSION = (
  JSON.parse(readFileSync(path.join(PROJECT_DIR, "node_modules", "@duckdb", "node-api", "package.json"), "utf8")) as {
    version: string;
  }
).version;
const DAILY_VARIABLES = [
  "temperature_2m_max",
  "temperature_2m_min",
  "precipitation_sum",
  "wind_speed_10m_max",
  "sunrise",
  "sunset",
];

/** One row of the table. */
interface Row {
  readonly metric: string;
  readonly ours: string;
  readonly reference: string;
  readonly ratio: string;
  readonly target: string;
  readonly met: string;
}

const rows: Row[] = [];
const log = (line: string): void => void process.stderr.write(`${line}\n`);

function addRow(row: Partial<Row> & { metric: string }): void {
  rows.push({ ours: "", reference: "", ratio: "", target: "", met: "", ...row });
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0)} MB`;
const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const ratio = (a: number, b: number): string => (a / b).toFixed(2);
const yesNo = (ok: boolean): string => (ok ? "yes" : "NO");
const thousands = (n: number): string => n.toLocaleString("en-US");

// ---------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------

/** DuckDB's CLI-equivalent, compiled (dist/): a Node process that loads DuckDB and runs one COPY. */
const DUCKDB_CHILD = path.join(DIST_DIR, "pipeline", "bench", "duckdb-transform.js");

/** Runs `node <args>` and returns its stdout; rejects with its stderr on failure. */
function runNode(args: readonly string[], cwd = PROJECT_DIR): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`node ${args.join(" ")} exited with ${code}:\n${stderr}`)),
    );
  });
}

// ---------------------------------------------------------------------------------------------
// 1. Transform
// ---------------------------------------------------------------------------------------------

/** The body of `locations` locations, generated once and kept (its name carries the generator's hash). */
async function benchBody(locations: number, values: BenchValues): Promise<string> {
  const generator = readFileSync(path.join(PROJECT_DIR, "pipeline", "bench", "bench-input.ts"));
  const hash = createHash("sha256").update(generator).digest("hex").slice(0, 8);
  const dir = path.join(OUT, "inputs");
  const prefix = `hourly-${values}-${locations}x${DAYS}-`;
  const file = path.join(dir, `${prefix}${hash}.json`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  for (const old of readdirSync(dir).filter((f) => f.startsWith(prefix) || f.startsWith(`hourly-${locations}x`))) {
    rmSync(path.join(dir, old));
  }
  const started = performance.now();
  const bytes = await writeBenchBody(`${file}.partial`, { locations, days: DAYS, values });
  renameSync(`${file}.partial`, file);
  log(`  generated ${path.relative(PROJECT_DIR, file)}: ${mb(bytes)} in ${seconds(performance.now() - started)}`);
  return file;
}

/**
 * Who converts a body: our CLI as `npm run pipeline -- transform` runs it (node on the compiled
 * entry), the same through npm (its wrapper's cost: npm's own Node process, a shell, then the
 * CLI), and DuckDB's CLI-equivalent writing the curated layout or one file.
 */
type Engine = "cli" | "npm" | "duckdb" | "duckdb-one-file";

/** One whole-process conversion. */
interface TransformRun {
  readonly wallMs: number;
  /** CPU time of all the command's Node processes. */
  readonly cpuMs: number;
  /** Peak RSS of the process that converts (under npm: the CLI's, npm's is wrapperRssBytes). */
  readonly peakRssBytes: number;
  readonly wrapperRssBytes: number;
  readonly rows: number;
  readonly files: number;
  readonly outputBytes: number;
  readonly rowGroups: number;
}

/** Converts `body` into `out` with `engine`, in a child process measured whole. */
async function runTransform(engine: Engine, body: string, out: string): Promise<TransformRun> {
  const command =
    engine === "cli"
      ? { command: process.execPath, args: [CLI_ENTRY, "transform", body, "--out", out] }
      : engine === "npm"
        ? { command: "npm", args: ["run", "pipeline", "--", "transform", body, "--out", out] }
        : { command: process.execPath, args: [DUCKDB_CHILD, engine, body, out] };
  const measured = await measureCommand(command.command, command.args, { cwd: PROJECT_DIR });
  const converter = processRunning(measured, engine === "cli" || engine === "npm" ? CLI_ENTRY : DUCKDB_CHILD);
  // The CLI prints a line per file written ("<path>: <rows> rows, <bytes> bytes"); DuckDB's child {"rows": n}.
  const rows =
    engine === "cli" || engine === "npm"
      ? [...measured.stdout.matchAll(/: (\d+) rows, \d+ bytes$/gm)].reduce((sum, m) => sum + Number(m[1]), 0)
      : (JSON.parse(measured.stdout) as { rows: number }).rows;
  const written = await parquetFilesIn(out);
  return {
    wallMs: measured.wallMs,
    cpuMs: measured.cpuMs,
    peakRssBytes: converter.maxRssBytes,
    wrapperRssBytes: Math.max(0, ...measured.processes.filter((p) => p !== converter).map((p) => p.maxRssBytes)),
    rows,
    ...written,
  };
}

/** Parquet files under a folder: how many, their bytes on disk, and their row groups (from the footers). */
async function parquetFilesIn(dir: string): Promise<{ files: number; outputBytes: number; rowGroups: number }> {
  const { parquetMetadata } = await import("hyparquet");
  let files = 0;
  let outputBytes = 0;
  let rowGroups = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".parquet")) continue;
    const bytes = readFileSync(path.join(entry.parentPath, entry.name));
    files++;
    outputBytes += bytes.byteLength;
    rowGroups += parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)).row_groups
      .length;
  }
  return { files, outputBytes, rowGroups };
}

/** The repetitions of one engine: best and median wall and CPU, the highest peak RSS. */
interface Measured {
  readonly runs: number;
  readonly wallMs: number;
  readonly medianWallMs: number;
  readonly cpuMs: number;
  readonly medianCpuMs: number;
  readonly peakRssBytes: number;
  readonly wrapperRssBytes: number;
  readonly rows: number;
  readonly files: number;
  readonly outputBytes: number;
  readonly rowGroups: number;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

function combine(results: readonly TransformRun[]): Measured {
  const first = results[0] as TransformRun;
  for (const r of results) {
    if (r.rows !== first.rows) throw new Error(`two runs of one conversion wrote ${first.rows} and ${r.rows} rows`);
  }
  return {
    runs: results.length,
    wallMs: Math.min(...results.map((r) => r.wallMs)),
    medianWallMs: median(results.map((r) => r.wallMs)),
    cpuMs: Math.min(...results.map((r) => r.cpuMs)),
    medianCpuMs: median(results.map((r) => r.cpuMs)),
    peakRssBytes: Math.max(...results.map((r) => r.peakRssBytes)),
    wrapperRssBytes: Math.max(...results.map((r) => r.wrapperRssBytes)),
    rows: first.rows,
    files: first.files,
    outputBytes: first.outputBytes,
    rowGroups: first.rowGroups,
  };
}

async function benchTransform(): Promise<void> {
  // Outputs are deleted only after the section: deleting 365 folders just before a run slows
  // the next one's file creation (ext4 with discard), whoever runs next.
  const outputs = path.join(OUT, "transform");
  rmSync(outputs, { recursive: true, force: true });
  try {
    await transformEachSize(outputs);
  } finally {
    rmSync(outputs, { recursive: true, force: true });
  }
}

/** The inputs of the transform section, in the order they run. */
function transformCases(): { locations: number; values: BenchValues; repetitions: number }[] {
  return [
    ...TRANSFORM_SIZES.map((locations) => ({
      locations,
      values: "realistic" as const,
      repetitions: REPETITIONS[locations] ?? 1,
    })),
    ...BENCH_VALUE_KINDS.filter((v) => v !== "realistic").map((values) => ({
      locations: TARGET_LOCATIONS,
      values,
      repetitions: OTHER_VALUES_REPETITIONS[values] ?? 1,
    })),
  ];
}

async function transformEachSize(outputs: string): Promise<void> {
  const bySize = new Map<number, { ours: Measured; duckdb: Measured }>();
  for (const { locations, values, repetitions } of transformCases()) {
    const body = await benchBody(locations, values);
    const bodyBytes = readFileSync(body).byteLength;
    const realistic = values === "realistic";
    const isTarget = locations === TARGET_LOCATIONS && realistic;
    const engines: Engine[] = isTarget ? ["cli", "duckdb", "npm", "duckdb-one-file"] : ["cli", "duckdb"];
    const runs = new Map<Engine, TransformRun[]>(engines.map((e) => [e, []]));
    const name = `${locations}-${values}`;
    for (let rep = 0; rep < repetitions; rep++) {
      // Interleaved, alternating who goes first, so neither always meets a warm page cache or a
      // busy neighbour.
      for (const engine of rep % 2 === 0 ? engines : [...engines].reverse()) {
        const out = path.join(outputs, `${engine}-${name}-${rep}`);
        const result = await runTransform(engine, body, out);
        runs.get(engine)?.push(result);
        log(
          `  transform ${locations} locations (${values}), ${engine}: ${seconds(result.wallMs)}, CPU ${seconds(result.cpuMs)}, ` +
            `${mb(result.peakRssBytes)}, ${result.files} files, ${mb(result.outputBytes)}, ${result.rowGroups} row groups`,
        );
        // Only the first repetition's outputs are compared; the others go at once (disk space).
        if (rep > 0) rmSync(out, { recursive: true, force: true });
      }
    }
    const ours = combine(runs.get("cli") as TransformRun[]);
    const duckdb = combine(runs.get("duckdb") as TransformRun[]);
    if (realistic) bySize.set(locations, { ours, duckdb });
    const label = `transform ${locations} loc${realistic ? "" : ` (${values} values)`}`;
    addRow({
      metric: `${label}: input`,
      ours: `${thousands(ours.rows)} rows, ${mb(bodyBytes)} of JSON`,
      reference: `${ours.runs} runs each, interleaved`,
    });
    const wallRatio = ours.wallMs / duckdb.wallMs;
    const rssRatio = ours.peakRssBytes / duckdb.peakRssBytes;
    const bytesRatio = ours.outputBytes / duckdb.outputBytes;
    addRow({
      metric: `${label}: wall, best (median)`,
      ours: `${seconds(ours.wallMs)} (${seconds(ours.medianWallMs)})`,
      reference: `DuckDB ${seconds(duckdb.wallMs)} (${seconds(duckdb.medianWallMs)})`,
      ratio: `${ratio(ours.wallMs, duckdb.wallMs)} (${ratio(ours.medianWallMs, duckdb.medianWallMs)})`,
      target: isTarget ? "<= 1.0" : "",
      met: isTarget ? yesNo(wallRatio <= 1.0) : "",
    });
    addRow({
      metric: `${label}: CPU, best (median)`,
      ours: `${seconds(ours.cpuMs)} (${seconds(ours.medianCpuMs)})`,
      reference: `DuckDB ${seconds(duckdb.cpuMs)} (${seconds(duckdb.medianCpuMs)})`,
      ratio: `${ratio(ours.cpuMs, duckdb.cpuMs)} (${ratio(ours.medianCpuMs, duckdb.medianCpuMs)})`,
    });
    addRow({
      metric: `${label}: peak RSS`,
      ours: mb(ours.peakRssBytes),
      reference: `DuckDB ${mb(duckdb.peakRssBytes)}`,
      ratio: ratio(ours.peakRssBytes, duckdb.peakRssBytes),
      target: isTarget ? "<= 0.5" : "",
      met: isTarget ? yesNo(rssRatio <= 0.5) : "",
    });
    addRow({
      metric: `${label}: bytes written, files`,
      ours: `${thousands(ours.outputBytes)} B, ${ours.files} files`,
      reference: `DuckDB ${thousands(duckdb.outputBytes)} B, ${duckdb.files} files`,
      ratio: ratio(ours.outputBytes, duckdb.outputBytes),
      target: isTarget ? "<= 1.0" : "",
      met: isTarget ? yesNo(bytesRatio <= 1.0) : "",
    });
    addRow({
      metric: `${label}: bytes per date, row groups per file`,
      ours: `${thousands(Math.round(ours.outputBytes / ours.files))} B, ${(ours.rowGroups / ours.files).toFixed(2)}`,
      reference: `DuckDB ${thousands(Math.round(duckdb.outputBytes / duckdb.files))} B, ${(duckdb.rowGroups / duckdb.files).toFixed(2)}`,
      ratio: ratio(ours.outputBytes / ours.files, duckdb.outputBytes / duckdb.files),
      target: isTarget ? "1 group" : "",
      met: isTarget ? yesNo(ours.rowGroups === ours.files) : "",
    });
    if (locations <= TARGET_LOCATIONS) await checkSameRows(outputs, name, locations);
    if (isTarget) {
      const npm = combine(runs.get("npm") as TransformRun[]);
      addRow({
        metric: `${label}: through npm run pipeline, best (median)`,
        ours: `${seconds(npm.wallMs)} (${seconds(npm.medianWallMs)}), CPU ${seconds(npm.cpuMs)}, ${mb(npm.peakRssBytes)} + npm ${mb(npm.wrapperRssBytes)}`,
        reference: `DuckDB ${seconds(duckdb.wallMs)} (${seconds(duckdb.medianWallMs)})`,
        ratio: `${ratio(npm.wallMs, duckdb.wallMs)} (${ratio(npm.medianWallMs, duckdb.medianWallMs)})`,
      });
      const one = combine(runs.get("duckdb-one-file") as TransformRun[]);
      addRow({
        metric: `${label}: vs DuckDB writing one file (not the layout)`,
        ours: `${seconds(ours.wallMs)}, CPU ${seconds(ours.cpuMs)}, ${mb(ours.peakRssBytes)}`,
        reference: `DuckDB ${seconds(one.wallMs)}, CPU ${seconds(one.cpuMs)}, ${mb(one.peakRssBytes)}, ${mb(one.outputBytes)}`,
        ratio: `${ratio(ours.wallMs, one.wallMs)} / ${ratio(ours.peakRssBytes, one.peakRssBytes)}`,
      });
    }
  }
  const small = bySize.get(TRANSFORM_SIZES[0]);
  const large = bySize.get(TRANSFORM_SIZES[TRANSFORM_SIZES.length - 1] as number);
  if (small && large) {
    const growth = large.ours.peakRssBytes / small.ours.peakRssBytes;
    addRow({
      metric: `transform peak RSS growth, ${TRANSFORM_SIZES[TRANSFORM_SIZES.length - 1]} vs ${TRANSFORM_SIZES[0]} loc`,
      ours: `${growth.toFixed(2)}x (${mb(small.ours.peakRssBytes)} to ${mb(large.ours.peakRssBytes)})`,
      reference: `DuckDB ${(large.duckdb.peakRssBytes / small.duckdb.peakRssBytes).toFixed(2)}x`,
      target: "<= 1.3x",
      met: yesNo(growth <= 1.3),
    });
  }
}

/** Checks that our files and DuckDB's hold the same rows, value for value (the outputs of the first repetition). */
async function checkSameRows(outputs: string, name: string, locations: number): Promise<void> {
  const ours = path.join(outputs, `cli-${name}-0`, "weather_hourly");
  const duckdb = path.join(outputs, `duckdb-${name}-0`);
  const result = JSON.parse(await runNode([DUCKDB_CHILD, "compare", ours, duckdb])) as {
    rows: number;
    onlyOurs: number;
    onlyDuckDb: number;
  };
  addRow({
    metric: `transform ${locations} loc${name.endsWith("-realistic") ? "" : ` (${name.split("-")[1]} values)`}: same rows as DuckDB`,
    ours: `${thousands(result.rows)} rows`,
    reference: `EXCEPT ALL: ${result.onlyOurs} only ours, ${result.onlyDuckDb} only DuckDB's`,
    met: yesNo(result.onlyOurs === 0 && result.onlyDuckDb === 0),
  });
}

// ---------------------------------------------------------------------------------------------
// 2. Cold start, and the prod transform's Lambda duration
// ---------------------------------------------------------------------------------------------

/** The packaged Lambdas of a stack, planned under mocks, with s3rver and the fake Open-Meteo running. */
interface PackagedStack {
  readonly prefix: string;
  readonly plan: readonly PlannedResource[];
  readonly runtimeModules: string;
  readonly env: Readonly<Record<string, string>>;
  /** The function's planned resource, its package, unzipped into a task folder of its own. */
  packaged(role: string): { resource: PlannedResource; pkg: LambdaPackage; taskDir: string; memoryMb: number };
  close(): Promise<void>;
}

/** Plans `stack` (its config file, with the fake Open-Meteo's URLs baked in) and starts its stand-ins. */
async function startPackagedStack(stack: string, work: string): Promise<PackagedStack> {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const fake = await startFakeOpenMeteo();
  const prefix = `${readProjectName()}-${stack}`;
  const s3 = await startLocalS3({
    directory: path.join(work, "s3"),
    // The applications bucket too: the plan and ingest read the registry there (none yet).
    buckets: [
      mockPhysicalName(`${prefix}-raw`),
      mockPhysicalName(`${prefix}-curated`),
      mockPhysicalName(`${prefix}-applications`),
    ],
  });
  try {
    // The API URLs are part of the settings the callbacks capture, so the plan bakes the fake's in.
    const stackFile = parseYaml(readFileSync(path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`), "utf8")) as {
      config: Record<string, unknown>;
    };
    stackFile.config["weather-pipeline:forecastApiUrl"] = fake.forecastUrl;
    stackFile.config["weather-pipeline:archiveApiUrl"] = fake.archiveUrl;
    const configFile = path.join(work, `Pulumi.${stack}.yaml`);
    writeFileSync(configFile, stringifyYaml(stackFile));
    const started = performance.now();
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [CLI_ENTRY, "plan", "--stack", stack, "--json", "--config-file", configFile],
      { cwd: PROJECT_DIR, maxBuffer: 256 * 1024 * 1024 },
    );
    const plan = JSON.parse(stdout) as PlannedResource[];
    log(`  planned the ${stack} stack under mocks in ${seconds(performance.now() - started)}`);
    return {
      prefix,
      plan,
      runtimeModules: prepareRuntimeModules(path.join(work, "runtime"), PROJECT_DIR),
      env: {
        AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        // BENCH_CPU_PROFILE_DIR=<dir>: each invocation writes a V8 CPU profile there (a
        // .cpuprofile, for Chrome's DevTools), to see where a cold start spends its time.
        ...(process.env["BENCH_CPU_PROFILE_DIR"]
          ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${path.resolve(process.env["BENCH_CPU_PROFILE_DIR"])}` }
          : {}),
      },
      packaged(role) {
        const resource = plan.find((r) => r.type === "aws:lambda/function:Function" && r.name === `${prefix}-${role}`);
        if (!resource) throw new Error(`the ${stack} plan has no function ${prefix}-${role}`);
        const pkg = buildLambdaPackage(resource, PROJECT_DIR);
        const taskDir = path.join(work, role, "task");
        mkdirSync(taskDir, { recursive: true });
        extractLambdaPackage(pkg, taskDir);
        const memoryMb = resource.inputs["memorySize"];
        if (typeof memoryMb !== "number") throw new Error(`${resource.name} has no memorySize in the plan`);
        return { resource, pkg, taskDir, memoryMb };
      },
      async close() {
        await s3.close();
        await fake.close();
      },
    };
  } catch (error) {
    await s3.close();
    await fake.close();
    throw error;
  }
}

async function benchColdStart(): Promise<void> {
  const stack = "dev";
  const packaged = await startPackagedStack(stack, path.join(OUT, "cold-start"));
  try {
    // In the order a run calls them, each with what the one before returned (as Step Functions
    // passes it on): the plan gets the schedule's {} and ingest one date.
    let event: unknown = {};
    for (const role of ["plan", "ingest", "transform"] as const) {
      const { pkg, taskDir, memoryMb } = packaged.packaged(role);
      const invocations: InvocationResult[] = [];
      for (let i = 0; i < COLD_START_RUNS; i++) {
        const run = await invokeLambdaPackage({
          taskDir,
          runtimeModulesDir: packaged.runtimeModules,
          functionName: `${packaged.prefix}-${role}`,
          event,
          env: packaged.env,
          memoryMb,
        });
        if (!run.ok) throw new Error(`${role} failed: ${run.errorType}: ${run.errorMessage}\n${run.logs}`);
        invocations.push(run);
      }
      const walls = invocations.map((r) => r.wallMs);
      log(
        `  ${role}: ${pkg.zip.byteLength} bytes zipped, ${pkg.fileCount} files, cold invocations ${walls.join(", ")} ms`,
      );
      addRow({
        metric: `cold start ${role} (${stack} stack): package`,
        ours: `${(pkg.zip.byteLength / 1024).toFixed(0)} KB zipped, ${pkg.fileCount} files`,
        reference: `__index.js ${(pkg.indexBytes / 1024).toFixed(0)} KB`,
        target: "<= 1 MB",
        met: yesNo(pkg.zip.byteLength <= 1024 * 1024),
      });
      const wall = median(walls);
      addRow({
        metric: `cold start ${role}: new process, load + 1st call`,
        ours: `${wall.toFixed(0)} ms (median of ${COLD_START_RUNS}, best ${Math.min(...walls).toFixed(0)}; load ${median(invocations.map((r) => r.initMs)).toFixed(0)} ms, CPU ${median(invocations.map((r) => r.cpuMs)).toFixed(0)} ms)`,
        reference: `runs: ${walls.join(", ")} ms; ${memoryMb} MB heap limits`,
        target: "<= 300 ms",
        met: yesNo(wall <= 300),
      });
      if (role === "plan") {
        // Yesterday comes first; ingest gets that date.
        const first = (invocations[0]?.result as RunPlan | undefined)?.dates[0];
        if (!first) throw new Error(`the plan function planned no date: ${JSON.stringify(invocations[0]?.result)}`);
        event = { date: first.date };
      } else {
        event = invocations[0]?.result;
      }
    }
  } finally {
    await packaged.close();
  }
}

/** Lambda's CPU: in proportion to the memory, one vCPU at 1,769 MB (AWS Lambda's documentation). */
const MB_PER_VCPU = 1769;
/** Invocations of the prod transform measured. */
const PROD_TRANSFORM_RUNS = 5;

/**
 * A cgroup (v1 cpu controller) limiting its processes to `share` of one CPU, when this process
 * may make one (root, the controller mounted writable); undefined otherwise. Its `prefix` starts
 * a command inside it.
 */
function cpuLimitedGroup(share: number): { prefix: string[]; remove: () => void } | undefined {
  const controller = "/sys/fs/cgroup/cpu";
  const dir = path.join(controller, `weather-bench-${process.pid}`);
  try {
    mkdirSync(dir);
  } catch {
    return undefined;
  }
  try {
    const period = 100_000;
    writeFileSync(path.join(dir, "cpu.cfs_period_us"), String(period));
    writeFileSync(path.join(dir, "cpu.cfs_quota_us"), String(Math.round(period * share)));
  } catch {
    rmdirSync(dir);
    return undefined;
  }
  return {
    // The shell joins the group, then becomes the command: nothing runs outside the limit.
    prefix: ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', dir],
    remove: () => rmdirSync(dir),
  };
}

/**
 * The daily prod transform as its Lambda runs it: prod's stack (Pulumi.prod.yaml: its locations,
 * variables, time zone and the transform's memory) planned under mocks, ingest's package run
 * once for yesterday against the fake Open-Meteo and s3rver, then the transform's package
 * invoked in fresh processes (cold, as a daily invocation is) with the heap limits of its memory.
 * Lambda also gives CPU in proportion to memory, which a process here does not get: where a
 * cgroup can limit it, the runs are repeated inside one at that share of a CPU; the estimate from
 * the handler's CPU time is printed either way.
 */
async function benchProdTransform(): Promise<void> {
  const packaged = await startPackagedStack("prod", path.join(OUT, "prod-lambda"));
  try {
    const ingest = packaged.packaged("ingest");
    const settings = parseStackConfigValues(
      readStackConfigFile(path.join(PROJECT_DIR, "Pulumi.prod.yaml")),
      readProjectName(),
      "Pulumi.prod.yaml",
    ).pipeline;
    const date = addDays(todayIn(settings.timezone, new Date()), -1);
    const ingested = await invokeLambdaPackage({
      taskDir: ingest.taskDir,
      runtimeModulesDir: packaged.runtimeModules,
      functionName: `${packaged.prefix}-ingest`,
      event: { date },
      env: packaged.env,
      memoryMb: ingest.memoryMb,
    });
    if (!ingested.ok)
      throw new Error(`ingest failed: ${ingested.errorType}: ${ingested.errorMessage}\n${ingested.logs}`);
    const transform = packaged.packaged("transform");
    const share = Math.min(1, transform.memoryMb / MB_PER_VCPU);
    const invoke = (prefix?: readonly string[]): Promise<InvocationResult> =>
      invokeLambdaPackage({
        taskDir: transform.taskDir,
        runtimeModulesDir: packaged.runtimeModules,
        functionName: `${packaged.prefix}-transform`,
        event: ingested.result,
        env: packaged.env,
        memoryMb: transform.memoryMb,
        ...(prefix ? { prefix } : {}),
      });
    const free: InvocationResult[] = [];
    const limited: InvocationResult[] = [];
    const group = cpuLimitedGroup(share);
    try {
      for (let i = 0; i < PROD_TRANSFORM_RUNS; i++) {
        // Interleaved, so both meet the same neighbours.
        const kinds: { runs: InvocationResult[]; prefix?: readonly string[] }[] = [{ runs: free }];
        if (group) kinds.push({ runs: limited, prefix: group.prefix });
        for (const { runs, prefix } of kinds) {
          const run = await invoke(prefix);
          if (!run.ok) throw new Error(`transform failed: ${run.errorType}: ${run.errorMessage}\n${run.logs}`);
          runs.push(run);
        }
      }
    } finally {
      group?.remove();
    }
    const result = free[0]?.result as TransformResult;
    const rowsOf = (dataset: string): number => result.files.find((f) => f.dataset === dataset)?.rows ?? 0;
    const bytes = result.files.reduce((sum, f) => sum + f.bytes, 0);
    const handler = free.map((r) => r.handlerMs);
    const handlerCpu = free.map((r) => r.handlerCpuMs);
    const estimate = Math.max(Math.min(...handler), Math.min(...handlerCpu) / share);
    log(
      `  prod transform of ${date}: handler ${handler.join(", ")} ms, CPU ${handlerCpu.map((c) => c.toFixed(0)).join(", ")} ms` +
        (group ? `; at ${share.toFixed(2)} CPU: ${limited.map((r) => r.handlerMs).join(", ")} ms` : ""),
    );
    addRow({
      metric: `prod transform Lambda (${transform.memoryMb} MB): a day`,
      ours: `${settings.locations.length} locations, ${thousands(rowsOf("weather_hourly"))} hourly + ${rowsOf("weather_daily")} daily rows, ${thousands(bytes)} B written`,
      reference: `package ${(transform.pkg.zip.byteLength / 1024).toFixed(0)} KB zipped, ${lambdaNodeFlags(transform.memoryMb).join(" ")}`,
    });
    addRow({
      metric: `prod transform Lambda: duration (handler), best (median)`,
      ours: `${Math.min(...handler)} ms (${median(handler).toFixed(0)}), CPU ${Math.min(...handlerCpu).toFixed(0)} ms (${median(handlerCpu).toFixed(0)})`,
      reference: `init (load) ${median(free.map((r) => r.initMs)).toFixed(0)} ms; ${PROD_TRANSFORM_RUNS} cold runs, a whole CPU`,
    });
    addRow({
      metric: `prod transform Lambda: duration at ${share.toFixed(2)} vCPU (${transform.memoryMb}/${MB_PER_VCPU} MB)`,
      ours: group
        ? `${Math.min(...limited.map((r) => r.handlerMs))} ms (median ${median(limited.map((r) => r.handlerMs)).toFixed(0)}), cgroup cpu quota`
        : "no cgroup here to limit the CPU",
      reference: `estimate max(wall, CPU / ${share.toFixed(2)}): ${estimate.toFixed(0)} ms`,
    });
    addRow({
      metric: `prod transform Lambda: max memory used (peak RSS)`,
      ours: mb(Math.max(...free.map((r) => r.maxRssBytes), ...limited.map((r) => r.maxRssBytes))),
      reference: `of ${transform.memoryMb} MB configured`,
      ratio: ratio(
        Math.max(...free.map((r) => r.maxRssBytes), ...limited.map((r) => r.maxRssBytes)),
        transform.memoryMb * 1024 * 1024,
      ),
    });
  } finally {
    await packaged.close();
  }
}

// ---------------------------------------------------------------------------------------------
// 3. A year of prod data, and what Athena scans of it
// ---------------------------------------------------------------------------------------------

/** The year of prod data generated (a whole calendar year, all from the archive endpoint). */
const PROD_YEAR = 2025;
/** Athena's price: $5 per TB scanned, each query rounded up to a whole MB, at least 10 MB. */
const ATHENA_USD_PER_TB = 5;
const ATHENA_MINIMUM_MB = 10;
/** Trino (Athena's engine) reads a Parquet file this small whole, in one request (parquet.small-file-threshold). */
const TRINO_SMALL_FILE_BYTES = 3 * 1024 * 1024;

/** One curated file's layout, from its footer. */
interface FileLayout {
  readonly dataset: string;
  readonly date: string;
  readonly bytes: number;
  readonly rows: number;
  /** The footer (metadata, its length and the magic number). */
  readonly footerBytes: number;
  /** Bytes of each column's chunks (their pages), by column name. */
  readonly columns: ReadonlyMap<string, number>;
}

async function curatedLayouts(dir: string): Promise<FileLayout[]> {
  const { parquetMetadata } = await import("hyparquet");
  const layouts: FileLayout[] = [];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".parquet")) continue;
    const file = path.join(entry.parentPath, entry.name);
    const bytes = readFileSync(file);
    const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    const columns = new Map<string, number>();
    for (const group of metadata.row_groups) {
      for (const chunk of group.columns) {
        const name = chunk.meta_data?.path_in_schema.join(".") ?? "?";
        columns.set(name, (columns.get(name) ?? 0) + Number(chunk.meta_data?.total_compressed_size ?? 0));
      }
    }
    const [dataset, partition] = path.relative(dir, file).split(path.sep);
    layouts.push({
      dataset: dataset as string,
      date: (partition as string).replace("date=", ""),
      bytes: bytes.byteLength,
      rows: Number(metadata.num_rows),
      footerBytes: metadata.metadata_length + 8,
      columns,
    });
  }
  return layouts;
}

/** What a query of the given bytes costs at Athena's price, with its per-query minimum. */
function athenaCost(bytes: number): string {
  const billedMb = Math.max(ATHENA_MINIMUM_MB, Math.ceil(bytes / 1024 / 1024));
  return `billed ${billedMb} MB: $${((billedMb / 1024 / 1024) * ATHENA_USD_PER_TB).toFixed(6)}`;
}

/**
 * A year of prod's data as the daily runs would write it: Pulumi.prod.yaml's locations,
 * variables and time zone, each day of PROD_YEAR ingested from the fake Open-Meteo (its
 * synthetic weather printed as the API prints it) and transformed by the pipeline's own entry
 * functions into folders; then the bytes per year, and what typical Athena queries would scan of
 * them, from the files' footers.
 */
async function benchProdData(): Promise<void> {
  const work = path.join(OUT, "prod-data");
  rmSync(work, { recursive: true, force: true });
  const file = path.join(PROJECT_DIR, "Pulumi.prod.yaml");
  const config = parseStackConfigValues(readStackConfigFile(file), readProjectName(), path.basename(file));
  const fake = await startFakeOpenMeteo();
  const rawStore = new DirectoryObjectStore(path.join(work, "raw"));
  const curatedDir = path.join(work, "curated");
  const curatedStore = new DirectoryObjectStore(curatedDir);
  const settings = { ...config.pipeline, forecastApiUrl: fake.forecastUrl, archiveApiUrl: fake.archiveUrl };
  let rawBytes = 0;
  const started = performance.now();
  try {
    for (let date = `${PROD_YEAR}-01-01`; date.startsWith(String(PROD_YEAR)); date = addDays(date, 1)) {
      const ingest = await ingestDate({ date }, { settings, rawStore, log: () => undefined });
      rawBytes += ingest.bytes;
      await transformRawObjects(ingest, { settings, rawStore, curatedStore });
    }
  } finally {
    await fake.close();
  }
  log(`  a year of prod data (${PROD_YEAR}) ingested and transformed in ${seconds(performance.now() - started)}`);
  const layouts = await curatedLayouts(curatedDir);
  const days = new Set(layouts.map((l) => l.date)).size;
  const of = (dataset: string): FileLayout[] => layouts.filter((l) => l.dataset === dataset);
  const sum = (files: readonly FileLayout[], bytes: (f: FileLayout) => number): number =>
    files.reduce((total, f) => total + bytes(f), 0);
  const total = sum(layouts, (f) => f.bytes);
  addRow({
    metric: `prod data, a year (${days} days, Pulumi.prod.yaml)`,
    ours: `${thousands(total)} B Parquet (${mb(total)})`,
    reference: `raw JSON ${thousands(rawBytes)} B (${mb(rawBytes)})`,
    ratio: ratio(total, rawBytes),
  });
  for (const dataset of ["weather_hourly", "weather_daily"]) {
    const files = of(dataset);
    const bytes = sum(files, (f) => f.bytes);
    const footers = sum(files, (f) => f.footerBytes);
    addRow({
      metric: `prod data, a year: ${dataset}`,
      ours: `${thousands(bytes)} B, ${files.length} files, ${thousands(sum(files, (f) => f.rows))} rows`,
      reference: `${thousands(Math.round(bytes / files.length))} B per file, footers ${((100 * footers) / bytes).toFixed(0)}%`,
    });
  }
  // Typical queries. A reader that fetches the footer and then only the columns a query names
  // scans footer + those column chunks; Trino, Athena's engine, reads a file under its
  // small-file threshold whole in one request, so with files this small a query would more
  // likely scan whole files. Either way each query is billed at least ATHENA_MINIMUM_MB.
  const hourly = of("weather_hourly");
  const month = hourly.filter((f) => f.date.startsWith(`${PROD_YEAR}-06`));
  const queries: { name: string; files: readonly FileLayout[]; columns: readonly string[] }[] = [
    { name: "SELECT * FROM weather_hourly (a year)", files: hourly, columns: [] },
    { name: "avg(temperature_2m) of June (30 daily files)", files: month, columns: ["temperature_2m"] },
    {
      name: "temperature_2m by location and time, a year",
      files: hourly,
      columns: ["location", "time", "temperature_2m"],
    },
  ];
  for (const query of queries) {
    const whole = sum(query.files, (f) => f.bytes);
    const pruned =
      query.columns.length === 0
        ? whole
        : sum(query.files, (f) => f.footerBytes + query.columns.reduce((s, c) => s + (f.columns.get(c) ?? 0), 0));
    const small = query.files.every((f) => f.bytes <= TRINO_SMALL_FILE_BYTES);
    addRow({
      metric: `Athena scan: ${query.name}`,
      ours: `${thousands(pruned)} B footers + columns`,
      reference: `${thousands(whole)} B whole files${small ? " (as Trino reads files < 3 MB)" : ""}`,
      ratio: ratio(pruned, whole),
      target: athenaCost(Math.max(pruned, whole)),
    });
  }
}

// ---------------------------------------------------------------------------------------------
// 4. Daily run
// ---------------------------------------------------------------------------------------------

async function benchDailyRun(): Promise<void> {
  const defaults = parseStackConfigValues({}, readProjectName(), "embedded defaults");
  const timeoutSeconds = defaults.ingest.timeoutSeconds;
  const variableCount = BENCH_HOURLY_VARIABLES.length + DAILY_VARIABLES.length;
  const perLocation = requestWeight(variableCount, 1);
  let perRequestMs: number | undefined;
  for (const [locations, onePerLocation] of [
    [100, false],
    [100, true],
    [1000, false],
  ] as const) {
    const settings: PipelineSettings = {
      ...defaults.pipeline,
      locations: benchLocations(locations),
      hourlyVariables: BENCH_HOURLY_VARIABLES.map((v) => v.name),
      dailyVariables: DAILY_VARIABLES,
      // One location per request: a request's weight limit equal to one location's weight.
      http: onePerLocation ? { ...defaults.pipeline.http, maxWeightPerRequest: perLocation } : defaults.pipeline.http,
    };
    const work = path.join(OUT, "daily-run", `${locations}${onePerLocation ? "-one-per-location" : ""}`);
    rmSync(work, { recursive: true, force: true });
    const fake = await startFakeOpenMeteo({ latencyMs: LATENCY_MS });
    const s3 = await startLocalS3({ directory: path.join(work, "s3"), buckets: ["bench-raw", "bench-curated"] });
    try {
      const run = { ...settings, forecastApiUrl: fake.forecastUrl, archiveApiUrl: fake.archiveUrl };
      const client = s3.client();
      const rawStore = new S3ObjectStore(client, "bench-raw");
      const curatedStore = new S3ObjectStore(client, "bench-curated");
      const date = addDays(todayIn(run.timezone, new Date()), -1);
      const started = performance.now();
      // The entry functions the Lambda handlers call, without ingest's line per request.
      const ingest = await ingestDate({ date }, { settings: run, rawStore, log: () => undefined });
      const ingested = performance.now();
      const transform = await transformRawObjects(ingest, { settings: run, rawStore, curatedStore });
      const done = performance.now();
      const weight = planRequests(run, date, ingest.endpoint).reduce((sum, r) => sum + r.weight, 0);
      const requests = fake.requests.length;
      const ingestMs = ingested - started;
      if (onePerLocation) perRequestMs = ingestMs / requests;
      const hourlyRows = transform.files.find((f) => f.dataset === "weather_hourly")?.rows ?? 0;
      log(
        `  daily run ${locations}${onePerLocation ? " (one per location)" : ""}: ${requests} requests, ${seconds(done - started)}`,
      );
      const label = `daily run ${thousands(locations)} loc`;
      if (onePerLocation) {
        addRow({
          metric: `${label}: one request per location`,
          ours: `${requests} requests, ingest ${seconds(ingestMs)}`,
          reference: `weight ${weight.toFixed(0)}`,
        });
      } else {
        const estimate = perRequestMs === undefined ? "" : `, ~${seconds(perRequestMs * locations)} (measured at 100)`;
        addRow({
          metric: `${label}: requests, API weight`,
          ours: `${requests} requests, weight ${weight.toFixed(0)}`,
          reference: `1/location: ${locations} requests, weight ${(locations * perLocation).toFixed(0)}`,
          ratio: ratio(requests, locations),
          target: "fewest the weight limit allows",
          met: yesNo(requests === Math.ceil(locations / Math.floor(settings.http.maxWeightPerRequest / perLocation))),
        });
        addRow({
          metric: `${label}: wall, ingest + transform`,
          ours: `${seconds(done - started)} (ingest ${seconds(ingestMs)}, ${thousands(hourlyRows)} hourly rows)`,
          reference: perRequestMs === undefined ? "" : `1/location: ingest ${locations} x ${LATENCY_MS} ms+${estimate}`,
          target: `ingest < ${timeoutSeconds} s timeout`,
          met: yesNo(ingestMs < timeoutSeconds * 1000),
        });
      }
    } finally {
      await s3.close();
      await fake.close();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 5. CLI start
// ---------------------------------------------------------------------------------------------

/** Wall time of one run of a command, in ms (its output discarded). */
function timeCommand(command: string, args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: PROJECT_DIR, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve(performance.now() - started)
        : reject(new Error(`${command} ${args.join(" ")} exited with ${code}:\n${stderr}`)),
    );
  });
}

async function benchCliStart(): Promise<void> {
  const commands: [string, string, string[]][] = [
    ["npm --version", "npm", ["--version"]],
    ["npm run pipeline -- --help", "npm", ["run", "pipeline", "--", "--help"]],
    [`node ${path.relative(PROJECT_DIR, CLI_ENTRY)} --help`, process.execPath, [CLI_ENTRY, "--help"]],
  ];
  const runs: number[][] = commands.map(() => []);
  await timeCommand(process.execPath, [CLI_ENTRY, "--help"]); // the file cache warm for every round
  for (let round = 0; round < 5; round++) {
    // Interleaved, so a busy neighbour slows all three alike.
    for (const [i, [, command, args]] of commands.entries())
      (runs[i] as number[]).push(await timeCommand(command, args));
  }
  const medians = runs.map((r) => [...r].sort((a, b) => a - b)[2] as number);
  const npm = medians[0] as number;
  for (const [i, [name]] of commands.entries()) {
    const median = medians[i] as number;
    log(`  ${name}: ${(runs[i] as number[]).map((ms) => ms.toFixed(0)).join(", ")} ms`);
    addRow({
      metric: `CLI start: ${name}`,
      ours: `${median.toFixed(0)} ms (median of 5)`,
      ratio: i === 0 ? "" : ratio(median, npm),
      reference: i === 0 ? "" : "vs npm --version",
      target: i === 1 ? "<= 3.0" : "",
      met: i === 1 ? yesNo(median / npm <= 3) : "",
    });
  }
}

// ---------------------------------------------------------------------------------------------

function printTable(): void {
  const header: Row = {
    metric: "metric",
    ours: "ours",
    reference: "reference",
    ratio: "ratio",
    target: "target",
    met: "met",
  };
  const keys = Object.keys(header) as (keyof Row)[];
  const widths = keys.map((k) => Math.max(...[header, ...rows].map((r) => r[k].length)));
  const line = (r: Row): string => `| ${keys.map((k, i) => r[k].padEnd(widths[i] as number)).join(" | ")} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const r of rows) console.log(line(r));
}

async function main(): Promise<void> {
  const started = performance.now();
  const loadAtStart = (await import("node:os"))
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(", ");
  mkdirSync(OUT, { recursive: true });
  const sections: [string, () => Promise<void>][] = [
    ["transform", benchTransform],
    ["cold-start", benchColdStart],
    ["prod-lambda", benchProdTransform],
    ["prod-data", benchProdData],
    ["daily-run", benchDailyRun],
    [
      "backfill",
      () =>
        benchBackfill({
          out: OUT,
          childScript: path.join(DIST_DIR, "pipeline", "bench", "bench-backfill-window.js"),
          projectDir: PROJECT_DIR,
          addRow,
          log,
        }),
    ],
    ["cli-start", benchCliStart],
    [
      "warehouse",
      () =>
        benchWarehouse({
          out: OUT,
          buildChildScripts: () => path.join(DIST_DIR, "pipeline", "bench"),
          runNode,
          addRow,
          log,
        }),
    ],
  ];
  // `npm run bench -- transform` runs only the sections named.
  const wanted = process.argv.slice(2);
  for (const [name, section] of sections.filter(([n]) => wanted.length === 0 || wanted.includes(n))) {
    log(`${name} …`);
    try {
      await section();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      log(`  ${name} failed: ${message}`);
      addRow({ metric: `${name}: FAILED`, ours: message.split("\n")[0]?.slice(0, 120) ?? "" });
    }
  }
  const os = await import("node:os");
  const loads = (l: number[]): string => l.map((x) => x.toFixed(1)).join(", ");
  console.log(
    `\nnpm run bench ${wanted.join(" ")} (${new Date().toISOString().slice(0, 16)}Z, Node ${process.version}, ` +
      `${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB; load average ${loadAtStart} at the start, ` +
      `${loads(os.loadavg())} at the end (1, 5, 15 min)). Transform: ${DAYS} days x ${BENCH_HOURLY_VARIABLES.length} ` +
      `hourly variables per location, ~1% nulls, one Parquet file per date; values realistic unless named ` +
      `(pipeline/bench/bench-input.ts). Each conversion is a child process measured whole: ours is ` +
      `\`node ${path.relative(PROJECT_DIR, CLI_ENTRY)} transform <body> --out <dir>\` (what \`npm run pipeline -- ` +
      `transform\` runs), DuckDB's is ${path.relative(PROJECT_DIR, DUCKDB_CHILD)} (@duckdb/node-api ${DUCKDB_VERSION}, ` +
      `one thread, COPY ... PARTITION_BY (date)); interleaved, ${REPETITIONS[100]} runs each at 100 loc ` +
      `(${REPETITIONS[25]} at 25, ${REPETITIONS[400]} at 400, ${OTHER_VALUES_REPETITIONS["entropy"]} high-entropy, ` +
      `${OTHER_VALUES_REPETITIONS["noisy"]} noisy); wall and CPU (user + system, every Node process of the command) ` +
      `best and median, peak RSS (each process's own ru_maxrss) the highest. Daily run: ` +
      `${BENCH_HOURLY_VARIABLES.length} hourly + ${DAILY_VARIABLES.length} daily ` +
      `variables, fake Open-Meteo with ${LATENCY_MS} ms per request, default stack settings.\n`,
  );
  printTable();
  console.log(`\n(${seconds(performance.now() - started)} in all)`);
}

const rerun = rebuildIfStale();
if (rerun !== undefined) {
  process.exitCode = rerun;
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
