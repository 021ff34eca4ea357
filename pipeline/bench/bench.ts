/**
 * `npm run bench`: where the pipeline stands against DuckDB and its own targets, measured side
 * by side in one run on deterministic inputs, printed as one table.
 *
 * 1. Transform: an Open-Meteo body (a JSON array) of N locations x 365 days x 12 hourly
 *    variables with ~1% nulls, converted to the curated layout (one Parquet file per date) by
 *    transformResponseFiles, and by DuckDB on one thread (read_json + unnest + COPY ... TO
 *    (FORMAT parquet, PARTITION_BY date)); each conversion in a fresh process, run as JavaScript.
 *    Wall time is the best of the repetitions (this machine is shared), peak RSS the highest.
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
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { addDays, todayIn } from "../core/dates";
import { parseStackConfigValues } from "../infra/config";
import { ingestDate, planRequests, requestWeight } from "../ingest";
import type { PipelineSettings } from "../core/settings";
import { S3ObjectStore } from "../core/storage";
import { transformRawObjects } from "../transform";
import { benchBackfill } from "./bench-backfill";
import {
  BENCH_HOURLY_VARIABLES,
  BENCH_VALUE_KINDS,
  benchLocations,
  writeBenchBody,
  type BenchValues,
} from "./bench-input";
import type { BenchTransformResult } from "./bench-transform";
import { benchWarehouse } from "./bench-warehouse";
import { startFakeOpenMeteo } from "../local/fake-open-meteo";
import {
  buildLambdaPackage,
  extractLambdaPackage,
  invokeLambdaPackage,
  prepareRuntimeModules,
  type InvocationResult,
} from "../local/lambda-package";
import { PROJECT_DIR, mockPhysicalName, readProjectName, type PlannedResource } from "../local/plan";
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from "../local/s3-server";
import { CLI_ENTRY, DIST_DIR, rebuildIfStale } from "../local/build";

const OUT = path.join(PROJECT_DIR, "bench-out");
const DAYS = 365;
/** Locations of the transform inputs (realistic values); the targets are judged on the middle one. */
const TRANSFORM_SIZES = [25, 100, 400] as const;
/** Repetitions per transform size (the largest runs once: it takes the longest). */
const REPETITIONS: Readonly<Record<number, number>> = { 25: 3, 100: 5, 400: 1 };
/** Runs of the other kinds of values, at TARGET_LOCATIONS. */
const OTHER_VALUES_REPETITIONS = 3;
const TARGET_LOCATIONS = 100;
const COLD_START_RUNS = 3;
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

/** The transform child, compiled (dist/): plain Node, no compiler in its measured memory. */
const TRANSFORM_CHILD = path.join(DIST_DIR, "pipeline", "bench", "bench-transform.js");

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

async function convert(script: string, engine: string, body: string, out: string): Promise<BenchTransformResult> {
  return JSON.parse(await runNode([script, engine, body, out])) as BenchTransformResult;
}

/** Best wall time (and the median) and highest peak RSS of the repetitions of one engine. */
interface Measured {
  readonly wallMs: number;
  readonly medianWallMs: number;
  readonly cpuMs: number;
  readonly peakRssBytes: number;
  readonly rows: number;
  readonly files: number;
  readonly outputBytes: number;
  readonly rowGroups: number;
}

function combine(results: readonly BenchTransformResult[]): Measured {
  const best = results.reduce((a, b) => (b.wallMs < a.wallMs ? b : a));
  const walls = results.map((r) => r.wallMs).sort((a, b) => a - b);
  return {
    ...best,
    medianWallMs: walls[Math.floor(walls.length / 2)] as number,
    peakRssBytes: Math.max(...results.map((r) => r.peakRssBytes)),
  };
}

async function benchTransform(): Promise<void> {
  const script = TRANSFORM_CHILD;
  // Outputs are deleted only after the section: deleting 365 folders just before a run slows
  // the next one's file creation (ext4 with discard), whoever runs next.
  const outputs = path.join(OUT, "transform");
  rmSync(outputs, { recursive: true, force: true });
  try {
    await transformEachSize(script, outputs);
  } finally {
    rmSync(outputs, { recursive: true, force: true });
  }
}

async function transformEachSize(script: string, outputs: string): Promise<void> {
  const bySize = new Map<number, { ours: Measured; duckdb: Measured; bodyBytes: number }>();
  // Realistic values at every size, then the other kinds at the target size.
  const cases: { locations: number; values: BenchValues; repetitions: number }[] = [
    ...TRANSFORM_SIZES.map((locations) => ({
      locations,
      values: "realistic" as const,
      repetitions: REPETITIONS[locations] ?? 1,
    })),
    ...BENCH_VALUE_KINDS.filter((v) => v !== "realistic").map((values) => ({
      locations: TARGET_LOCATIONS,
      values,
      repetitions: OTHER_VALUES_REPETITIONS,
    })),
  ];
  for (const { locations, values, repetitions } of cases) {
    const body = await benchBody(locations, values);
    const bodyBytes = readFileSync(body).byteLength;
    const realistic = values === "realistic";
    const runs: Record<string, BenchTransformResult[]> = { ours: [], duckdb: [], "duckdb-one-file": [] };
    const engines =
      locations === TARGET_LOCATIONS && realistic ? ["ours", "duckdb", "duckdb-one-file"] : ["ours", "duckdb"];
    const name = `${locations}-${values}`;
    for (let rep = 0; rep < repetitions; rep++) {
      // Alternating who goes first, so neither always meets a warm page cache or a busy neighbour.
      for (const engine of rep % 2 === 0 ? engines : [...engines].reverse()) {
        const out = path.join(outputs, `${engine}-${name}-${rep}`);
        const result = await convert(script, engine, body, out);
        (runs[engine] as BenchTransformResult[]).push(result);
        log(
          `  transform ${locations} locations (${values}), ${engine}: ${seconds(result.wallMs)}, ` +
            `${mb(result.peakRssBytes)}, ${result.files} files, ${mb(result.outputBytes)}, ${result.rowGroups} row groups`,
        );
      }
    }
    const ours = combine(runs["ours"] as BenchTransformResult[]);
    const duckdb = combine(runs["duckdb"] as BenchTransformResult[]);
    if (realistic) bySize.set(locations, { ours, duckdb, bodyBytes });
    if (locations <= TARGET_LOCATIONS) await checkSameRows(script, outputs, name, locations);
    const isTarget = locations === TARGET_LOCATIONS && realistic;
    const label = `transform ${locations} loc${realistic ? "" : ` (${values} values)`}`;
    addRow({ metric: `${label}: input`, ours: `${thousands(ours.rows)} rows, ${mb(bodyBytes)} of JSON` });
    const wallRatio = ours.wallMs / duckdb.wallMs;
    const rssRatio = ours.peakRssBytes / duckdb.peakRssBytes;
    addRow({
      metric: `${label}: wall`,
      ours: `${seconds(ours.wallMs)} (median ${seconds(ours.medianWallMs)})`,
      reference: `DuckDB ${seconds(duckdb.wallMs)} (median ${seconds(duckdb.medianWallMs)})`,
      ratio: ratio(ours.wallMs, duckdb.wallMs),
      target: isTarget ? "<= 1.0" : "",
      met: isTarget ? yesNo(wallRatio <= 1.0) : "",
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
      metric: `${label}: rows/s, CPU`,
      ours: `${thousands(Math.round(ours.rows / (ours.wallMs / 1000)))}/s, ${seconds(ours.cpuMs)}`,
      reference: `DuckDB ${thousands(Math.round(duckdb.rows / (duckdb.wallMs / 1000)))}/s, ${seconds(duckdb.cpuMs)}`,
    });
    addRow({
      metric: `${label}: output`,
      ours: `${mb(ours.outputBytes)}, ${ours.files} files`,
      reference: `DuckDB ${mb(duckdb.outputBytes)}, ${duckdb.files} files`,
      ratio: ratio(ours.outputBytes, duckdb.outputBytes),
    });
    addRow({
      metric: `${label}: bytes per date, row groups per file`,
      ours: `${thousands(Math.round(ours.outputBytes / ours.files))} B, ${(ours.rowGroups / ours.files).toFixed(2)}`,
      reference: `DuckDB ${thousands(Math.round(duckdb.outputBytes / duckdb.files))} B, ${(duckdb.rowGroups / duckdb.files).toFixed(2)}`,
      ratio: ratio(ours.outputBytes / ours.files, duckdb.outputBytes / duckdb.files),
      target: isTarget ? "<= 1.0, 1 group" : "",
      met: isTarget
        ? yesNo(ours.outputBytes / ours.files <= duckdb.outputBytes / duckdb.files && ours.rowGroups === ours.files)
        : "",
    });
    if (isTarget) {
      const one = combine(runs["duckdb-one-file"] as BenchTransformResult[]);
      addRow({
        metric: `${label}: vs DuckDB writing one file (not the layout)`,
        ours: `${seconds(ours.wallMs)}, ${mb(ours.peakRssBytes)}`,
        reference: `DuckDB ${seconds(one.wallMs)}, ${mb(one.peakRssBytes)}, ${mb(one.outputBytes)}`,
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
      ours: `${growth.toFixed(2)}x`,
      reference: `DuckDB ${(large.duckdb.peakRssBytes / small.duckdb.peakRssBytes).toFixed(2)}x`,
      target: "<= 1.3x",
      met: yesNo(growth <= 1.3),
    });
  }
}

/** Checks that our files and DuckDB's hold the same rows, value for value (the outputs of the first repetition). */
async function checkSameRows(script: string, outputs: string, name: string, locations: number): Promise<void> {
  const ours = path.join(outputs, `ours-${name}-0`, "weather_hourly");
  const duckdb = path.join(outputs, `duckdb-${name}-0`);
  const result = JSON.parse(await runNode([script, "compare", ours, duckdb])) as {
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
// 2. Cold start
// ---------------------------------------------------------------------------------------------

async function benchColdStart(): Promise<void> {
  const work = path.join(OUT, "cold-start");
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const fake = await startFakeOpenMeteo();
  const stack = "dev";
  const prefix = `${readProjectName()}-${stack}`;
  const s3 = await startLocalS3({
    directory: path.join(work, "s3"),
    buckets: [mockPhysicalName(`${prefix}-raw`), mockPhysicalName(`${prefix}-curated`)],
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
    const runtimeModules = prepareRuntimeModules(path.join(work, "runtime"), PROJECT_DIR);
    const env = {
      AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
    };
    let event: unknown = { date: addDays(todayIn("UTC", new Date()), -2) };
    for (const role of ["ingest", "transform"] as const) {
      const resource = plan.find((r) => r.type === "aws:lambda/function:Function" && r.name === `${prefix}-${role}`);
      if (!resource) throw new Error(`the ${stack} plan has no function ${prefix}-${role}`);
      const pkg = buildLambdaPackage(resource, PROJECT_DIR);
      const taskDir = path.join(work, role, "task");
      mkdirSync(taskDir, { recursive: true });
      extractLambdaPackage(pkg, taskDir);
      const invocations: InvocationResult[] = [];
      for (let i = 0; i < COLD_START_RUNS; i++) {
        const run = await invokeLambdaPackage({
          taskDir,
          runtimeModulesDir: runtimeModules,
          functionName: `${prefix}-${role}`,
          event,
          env,
        });
        if (!run.ok) throw new Error(`${role} failed: ${run.errorType}: ${run.errorMessage}\n${run.logs}`);
        invocations.push(run);
      }
      const walls = invocations.map((r) => r.wallMs).sort((a, b) => a - b);
      const median = walls[Math.floor(walls.length / 2)] as number;
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
      addRow({
        metric: `cold start ${role}: new process, load + 1st call`,
        ours: `${median} ms (median of ${COLD_START_RUNS})`,
        reference: `runs: ${walls.join(", ")} ms`,
        target: "<= 300 ms",
        met: yesNo(median <= 300),
      });
      // The transform is invoked with what ingest returned, as Step Functions passes it on.
      event = invocations[0]?.result;
    }
  } finally {
    await s3.close();
    await fake.close();
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Daily run
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
// 4. CLI start
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
  mkdirSync(OUT, { recursive: true });
  const sections: [string, () => Promise<void>][] = [
    ["transform", benchTransform],
    ["cold-start", benchColdStart],
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
  console.log(
    `\nnpm run bench (${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.cpus().length} cores, ` +
      `${(os.totalmem() / 2 ** 30).toFixed(0)} GB). Transform: ${DAYS} days x ${BENCH_HOURLY_VARIABLES.length} ` +
      `hourly variables per location, ~1% nulls, one Parquet file per date; values realistic unless named ` +
      `(pipeline/local/bench-input.ts); DuckDB ${DUCKDB_VERSION} on one thread; wall = best of ` +
      `${REPETITIONS[100]} runs at 100 loc (${REPETITIONS[25]} at 25, ${REPETITIONS[400]} at 400, ` +
      `${OTHER_VALUES_REPETITIONS} for other values), ` +
      `peak RSS = the highest. Daily run: ${BENCH_HOURLY_VARIABLES.length} hourly + ${DAILY_VARIABLES.length} daily ` +
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
