/**
 * The load side of `npm run bench -- warehouse`, in a process of its own so its peak memory is
 * its own: `node bench-warehouse-child.js <curated-dir> <variables.json> <postgres-url> <reload-date>`
 * loads every date of the folder as the load Lambda does (one loadDate per date: read and check
 * the Parquet, then per dataset delete + COPY + ledger in one transaction, over one connection),
 * then re-loads one date five times, and prints one JSON line (BenchLoadResult). Run transpiled
 * to JavaScript, like duckdb-transform.ts, so ts-node's compiler is not in the measured memory.
 */
import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { DirectoryObjectStore } from "../core/storage";
import { connectPostgres, loadDate } from "../warehouse";

/** What the load measured. */
export interface BenchLoadResult {
  readonly dates: number;
  readonly rows: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly peakRssBytes: number;
  /** Wall time of each re-load of the one date. */
  readonly reloadMs: readonly number[];
  readonly reloadRows: number;
}

async function main(): Promise<void> {
  const [folder, variablesFile, url, reloadDate] = process.argv.slice(2) as [string, string, string, string];
  const settings = JSON.parse(readFileSync(variablesFile, "utf8")) as {
    hourlyVariables: string[];
    dailyVariables: string[];
  };
  const dates = readdirSync(path.join(folder, "weather_hourly"))
    .map((d) => d.replace(/^date=/, ""))
    .sort();
  const curatedStore = new DirectoryObjectStore(folder);
  const database = await connectPostgres({ connectionString: url });
  try {
    const cpu = process.cpuUsage();
    const started = performance.now();
    let rows = 0;
    for (const date of dates) {
      const result = await loadDate(date, { settings, curatedStore, database });
      for (const file of result.files) rows += file.rows;
    }
    const wallMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    const reloadMs: number[] = [];
    let reloadRows = 0;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const again = await loadDate(reloadDate, { settings, curatedStore, database });
      reloadMs.push(performance.now() - t);
      reloadRows = again.files.reduce((sum, f) => sum + f.rows, 0);
    }
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    const result: BenchLoadResult = {
      dates: dates.length,
      rows,
      wallMs,
      cpuMs: (used.user + used.system) / 1000,
      peakRssBytes: Number(match?.[1] ?? 0) * 1024,
      reloadMs,
      reloadRows,
    };
    console.log(JSON.stringify(result));
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
