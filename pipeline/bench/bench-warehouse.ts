/**
 * `npm run bench -- warehouse`: the load of a year of prod-size data (Pulumi.prod.yaml's 12
 * locations, 12 hourly and 6 daily variables; 365 dates, 105,120 hourly and 4,380 daily rows),
 * measured side by side against `psql \copy` of the same rows as CSV into the same server (one
 * COPY per table: the practical limit of any loader), on a PostgreSQL server started for it.
 * The curated files come from the real transform of the fake Open-Meteo's answer for the year.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { parseStackConfigValues } from "../infra/config";
import { DirectoryObjectStore } from "../core/storage";
import { transformResponseFiles } from "../transform";
import { connectPostgres, migrateWarehouse } from "../warehouse";
import { answerOpenMeteoQuery } from "../local/fake-open-meteo";
import { PROJECT_DIR, readProjectName, readStackConfigFile } from "../local/plan";
import { startPostgresServer } from "../local/postgres-server";
import type { BenchLoadResult } from "./bench-warehouse-child";

const execFileAsync = promisify(execFile);
const YEAR = { start: "2025-01-01", end: "2025-12-31" };
const RELOAD_DATE = "2025-07-01";

/** A row of the bench table (bench.ts's). */
export interface WarehouseBenchRow {
  readonly metric: string;
  readonly ours?: string;
  readonly reference?: string;
  readonly ratio?: string;
  readonly target?: string;
  readonly met?: string;
}

/** What the section needs from bench.ts. */
export interface WarehouseBenchContext {
  readonly out: string;
  /** The folder of the compiled bench scripts (dist/pipeline/bench). */
  readonly buildChildScripts: () => string;
  readonly runNode: (args: readonly string[]) => Promise<string>;
  readonly addRow: (row: WarehouseBenchRow) => void;
  readonly log: (line: string) => void;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const perSecond = (rows: number, ms: number): string =>
  `${Math.round(rows / (ms / 1000)).toLocaleString("en-US")} rows/s`;

/** Runs `command` under GNU time when it is installed: wall ms and peak RSS bytes (undefined without it). */
async function timed(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ wallMs: number; peakRssBytes?: number }> {
  const gnuTime = existsSync("/usr/bin/time");
  const started = performance.now();
  const { stderr } = gnuTime
    ? await execFileAsync("/usr/bin/time", ["-f", "maxrss_kb=%M", command, ...args], {
        env,
        maxBuffer: 64 * 1024 * 1024,
      })
    : await execFileAsync(command, [...args], { env, maxBuffer: 64 * 1024 * 1024 });
  const wallMs = performance.now() - started;
  const kb = /maxrss_kb=(\d+)/.exec(stderr)?.[1];
  return kb ? { wallMs, peakRssBytes: Number(kb) * 1024 } : { wallMs };
}

/** The section: prepare the year, load it both ways, add the rows to the table. */
export async function benchWarehouse(context: WarehouseBenchContext): Promise<void> {
  const { out, log, addRow } = context;
  const config = parseStackConfigValues(
    readStackConfigFile(path.join(PROJECT_DIR, "Pulumi.prod.yaml")),
    readProjectName(),
    "Pulumi.prod.yaml",
  );
  const settings = config.pipeline;
  const work = path.join(out, "warehouse");
  const curated = path.join(work, "curated");
  if (!existsSync(path.join(curated, "weather_daily", `date=${YEAR.end}`))) {
    log("  warehouse: transforming a year of prod-size data (fake Open-Meteo) …");
    rmSync(curated, { recursive: true, force: true });
    const answer = answerOpenMeteoQuery(
      "/v1/archive",
      {
        latitude: settings.locations.map((l) => l.latitude).join(","),
        longitude: settings.locations.map((l) => l.longitude).join(","),
        hourly: settings.hourlyVariables.join(","),
        daily: settings.dailyVariables.join(","),
        start_date: YEAR.start,
        end_date: YEAR.end,
        timezone: "UTC",
      },
      { now: new Date("2026-06-01T00:00:00Z") },
    );
    if (answer.status !== 200)
      throw new Error(`the fake Open-Meteo answered ${answer.status}: ${answer.body.slice(0, 200)}`);
    await transformResponseFiles([{ name: "year.json", body: answer.body }], new DirectoryObjectStore(curated));
  }
  mkdirSync(work, { recursive: true });
  const variablesFile = path.join(work, "variables.json");
  writeFileSync(
    variablesFile,
    JSON.stringify({ hourlyVariables: settings.hourlyVariables, dailyVariables: settings.dailyVariables }),
  );

  // Default durability (fsync on, synchronous commit): what a real server does for both sides.
  const server = await startPostgresServer();
  try {
    const url = (db: string) => `postgres://${server.user}:${server.password}@127.0.0.1:${server.port}/${db}`;
    await server.psql(["-c", "CREATE DATABASE ours", "-c", "CREATE DATABASE reference"]);
    const scripts = context.buildChildScripts();
    log("  warehouse: our load of 365 dates …");
    const ours = JSON.parse(
      (
        await context.runNode([
          path.join(scripts, "bench-warehouse-child.js"),
          curated,
          variablesFile,
          url("ours"),
          RELOAD_DATE,
        ])
      ).trim(),
    ) as BenchLoadResult;

    // The same rows as CSV (exported from what we loaded, so they are the same rows), into an
    // empty database with the same tables, one \copy per table.
    const reference = await connectPostgres({ connectionString: url("reference") });
    await migrateWarehouse(reference, settings);
    await reference.close();
    const env = { ...process.env, PGPASSWORD: server.password };
    const base = ["-X", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(server.port), "-U", server.user];
    const csv: Record<string, string> = {};
    for (const table of ["weather_hourly", "weather_daily"]) {
      csv[table] = path.join(work, `${table}.csv`);
      await execFileAsync(
        "psql",
        [...base, "-d", "ours", "-c", `\\copy ${table} TO '${csv[table]}' WITH (FORMAT csv)`],
        { env },
      );
    }
    log("  warehouse: psql \\copy of the same rows …");
    let psqlMs = 0;
    let psqlRss = 0;
    for (const table of ["weather_hourly", "weather_daily"]) {
      const run = await timed(
        "psql",
        [...base, "-d", "reference", "-c", `\\copy ${table} FROM '${csv[table]}' WITH (FORMAT csv)`],
        env,
      );
      psqlMs += run.wallMs;
      psqlRss = Math.max(psqlRss, run.peakRssBytes ?? 0);
    }
    const check = await execFileAsync(
      "psql",
      [
        ...base,
        "-d",
        "reference",
        "-At",
        "-c",
        "SELECT (SELECT count(*) FROM weather_hourly) + (SELECT count(*) FROM weather_daily)",
      ],
      { env },
    );
    if (Number(check.stdout.trim()) !== ours.rows) {
      throw new Error(`psql loaded ${check.stdout.trim()} rows, ours ${ours.rows}: not the same rows`);
    }
    const csvBytes = Object.values(csv).reduce((sum, f) => sum + statSync(f).size, 0);
    const sortedReload = [...ours.reloadMs].sort((a, b) => a - b);
    log(
      `  warehouse: ours ${seconds(ours.wallMs)} (${ours.dates} dates, ${ours.rows} rows, cpu ${seconds(ours.cpuMs)}, ${mb(ours.peakRssBytes)}); ` +
        `psql \\copy ${seconds(psqlMs)} (${(csvBytes / 1e6).toFixed(1)} MB CSV); re-load ${sortedReload.map((ms) => ms.toFixed(0)).join(", ")} ms`,
    );
    addRow({
      metric: `warehouse: load a year of prod-size data (${ours.dates} dates x 2 tables, ${ours.rows.toLocaleString("en-US")} rows) into PostgreSQL ${await serverVersion((args) => server.psql(args))}`,
      // CPU beside wall: a per-date load waits mostly on its two durable commits.
      ours: `${seconds(ours.wallMs)} (CPU ${seconds(ours.cpuMs)}), ${perSecond(ours.rows, ours.wallMs)}`,
      reference: `psql \\copy CSV, one per table: ${seconds(psqlMs)}, ${perSecond(ours.rows, psqlMs)}`,
      ratio: (ours.wallMs / psqlMs).toFixed(2),
    });
    addRow({
      metric: "warehouse: peak RSS of the loading process",
      ours: mb(ours.peakRssBytes),
      reference: psqlRss > 0 ? `psql ${mb(psqlRss)}` : "psql: n/a (no /usr/bin/time)",
      ratio: psqlRss > 0 ? (ours.peakRssBytes / psqlRss).toFixed(2) : "",
    });
    addRow({
      metric: `warehouse: re-load one date (${RELOAD_DATE}, ${ours.reloadRows} rows: delete + COPY + ledger, 2 transactions), median of 5`,
      ours: `${sortedReload[2]!.toFixed(0)} ms (best ${sortedReload[0]!.toFixed(0)} ms)`,
    });
  } finally {
    await server.close();
  }
}

async function serverVersion(psql: (args: readonly string[]) => Promise<string>): Promise<string> {
  return (await psql(["-At", "-c", "SHOW server_version"])).trim().split(" ")[0] ?? "";
}
