/**
 * The commands a user types, run as child processes the way npm runs them.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { parquetReadObjects } from "hyparquet";
import { PROJECT_DIR } from "../pipeline/local/plan";

const run = promisify(execFile);
const FIXTURES = path.join(__dirname, "fixtures", "open-meteo", "recorded");

function pipeline(...args: string[]) {
  return run(process.execPath, ["-r", "ts-node/register", "pipeline/local/cli.ts", ...args], {
    cwd: PROJECT_DIR,
    maxBuffer: 64 * 1024 * 1024,
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile())
    .map((f) => path.relative(dir, path.join(f.parentPath, f.name)))
    .sort();
}

describe("the pipeline command", function () {
  this.timeout(60_000);

  it("runs a local day offline, says the data is synthetic, and prints what it wrote", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "local-run-"));
    const { stdout } = await pipeline("run", "--data-dir", dataDir, "--date", "2026-11-01");
    expect(stdout).to.contain("SYNTHETIC values, NOT real weather");
    expect(stdout).to.contain("Ingest 2026-11-01 (forecast): 1 request(s)");
    expect(stdout).to.match(/weather_hourly_2026-11-01\.parquet: 48 rows, \d+ bytes/);
    expect(stdout).to.match(/weather_daily_2026-11-01\.parquet: 2 rows, \d+ bytes/);
    expect(stdout).to.contain("'amsterdam'").and.to.contain("temperature_2m");
    // The buckets live in the data folder, so a second run finds the first run's objects.
    expect(filesUnder(dataDir).some((f) => f.includes("weather_hourly_2026-11-01.parquet"))).to.equal(true);
  });

  it("transforms saved responses into the curated layout", async () => {
    const out = mkdtempSync(path.join(tmpdir(), "transform-out-"));
    const input = path.join(FIXTURES, "vinea_archive_hourly_6vars_3days_adelaide_ms.json");
    const { stdout } = await pipeline("transform", input, "--out", out);
    const files = filesUnder(out).filter((f) => f.endsWith(".parquet"));
    expect(files).to.deep.equal([
      "weather_hourly/date=2025-01-10/weather_hourly_2025-01-10.parquet",
      "weather_hourly/date=2025-01-11/weather_hourly_2025-01-11.parquet",
      "weather_hourly/date=2025-01-12/weather_hourly_2025-01-12.parquet",
    ]);
    expect(stdout.trim().split("\n")).to.have.length(3);
    const body = readFileSync(path.join(out, files[0]!));
    const rows = await parquetReadObjects({ file: body.buffer.slice(body.byteOffset, body.byteOffset + body.length) });
    expect(rows).to.have.length(24);
  });

  it("fails a transform of a file that is not Open-Meteo JSON, naming the file", async () => {
    const out = mkdtempSync(path.join(tmpdir(), "transform-bad-"));
    const error = await pipeline("transform", path.join(PROJECT_DIR, "package.json"), "--out", out).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(error?.code).to.equal(1);
    expect(error?.stderr).to.contain("package.json");
    expect(filesUnder(out)).to.deep.equal([]);
  });

  it("prints a readable plan of a stack", async () => {
    const { stdout } = await pipeline("plan", "--stack", "staging");
    expect(stdout).to.match(/^Stack staging: \d+ resources \(under Pulumi mocks; nothing was deployed\)/);
    expect(stdout).to.contain('scheduleExpressionTimezone="Europe/Berlin"');
    expect(stdout).to.contain("code=[__index.js (");
  });
});
