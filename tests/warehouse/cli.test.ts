/**
 * The warehouse as a user runs it locally: `npm start -- --warehouse` into the embedded PGlite
 * kept in the data folder, `--warehouse postgres://...` into a real server, and
 * `pipeline query --warehouse [url] "SQL"` reading either back.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { PROJECT_DIR } from "../../pipeline/local/plan";
import { DEFAULT_PIPELINE_SETTINGS } from "../../pipeline/core/settings";
import { runLocalDay } from "../../pipeline/cli/run";
import { startPostgresServer, type PostgresServer } from "../../pipeline/local/postgres-server";

const run = promisify(execFile);
const pipeline = (...args: string[]) =>
  run(process.execPath, ["-r", "ts-node/register", "pipeline/cli/main.ts", ...args], {
    cwd: PROJECT_DIR,
    maxBuffer: 64 * 1024 * 1024,
  });

describe("the local warehouse commands", function () {
  this.timeout(300_000);
  let work: string;
  let server: PostgresServer;

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), "warehouse-cli-"));
    server = await startPostgresServer({ settings: { fsync: "off" } });
  });
  after(async () => {
    await server?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("npm start -- --warehouse loads the day into embedded PGlite in the data folder; query --warehouse reads it", async () => {
    const dataDir = path.join(work, "embedded");
    const started = await pipeline(
      "run",
      "--warehouse",
      "--data-dir",
      dataDir,
      "--date",
      "2026-11-01",
      "--preview-rows",
      "1",
    );
    expect(started.stdout).to.contain(`Load 2026-11-01 into pglite ${path.join(dataDir, "warehouse")}`);
    expect(started.stdout).to.contain("weather_hourly: 48 rows (replaced 0)");
    // The query option's value may be the SQL itself: there is no URL to give for the embedded one.
    const queried = await pipeline(
      "query",
      "--data-dir",
      dataDir,
      "--warehouse",
      `SELECT "date", count(*) AS n, count(DISTINCT location) AS places FROM weather_hourly GROUP BY 1`,
    );
    expect(queried.stdout).to.match(/'2026-11-01'\s*│\s*48\s*│\s*2/);
    expect(queried.stdout).to.contain(`1 row(s) from pglite ${path.join(dataDir, "warehouse")}`);
    // The embedded defaults' sample source is loaded too, into its own table.
    const loadedRows = [
      ...started.stdout.matchAll(
        /source_sample_stations source_sample_stations\/date=[\d-]+\/\S+: (\d+) rows \(replaced 0\)/g,
      ),
    ].reduce((sum, m) => sum + Number(m[1]), 0);
    expect(loadedRows, started.stdout).to.be.greaterThan(0);
    const sampled = await pipeline(
      "query",
      "--data-dir",
      dataDir,
      "--warehouse",
      "SELECT count(*)::int AS n FROM source_sample_stations",
    );
    expect(sampled.stdout).to.match(new RegExp(`│\\s*${loadedRows}\\s*│`));
  });

  it("--warehouse postgres://... loads into a real server, and query --warehouse <url> reads it", async () => {
    const lines: string[] = [];
    const result = await runLocalDay({
      settings: DEFAULT_PIPELINE_SETTINGS,
      dataDir: path.join(work, "server"),
      date: "2026-11-02",
      live: false,
      previewRows: 0,
      print: (line) => lines.push(line),
      warehouse: server.url,
    });
    expect(result.load?.files.map((f) => [f.dataset, f.rows])).to.deep.equal([
      ["weather_hourly", 48],
      ["weather_daily", 2],
    ]);
    // The password never shows in what the run prints.
    expect(lines.join("\n")).to.contain(
      `Load 2026-11-02 into postgres://${server.user}@127.0.0.1:${server.port}/${server.database}`,
    );
    expect(lines.join("\n")).to.not.contain(server.password);
    const queried = await pipeline(
      "query",
      "--warehouse",
      server.url,
      `SELECT count(*) AS n FROM weather_daily WHERE "date" = '2026-11-02'`,
    );
    expect(queried.stdout).to.match(/│\s*2\s*│/);
    const bad = await pipeline("query", "--warehouse", "mysql://x", "SELECT 1").catch((e: { stderr: string }) => e);
    expect(bad.stderr).to.contain('--warehouse is "mysql://x"; give a PostgreSQL URL');
  });
});
