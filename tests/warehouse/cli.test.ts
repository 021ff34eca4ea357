/**
 * The warehouse as a user runs it locally: `npm start -- --warehouse` into the embedded PGlite
 * kept in the data folder, `--warehouse postgres://...` into a real server, and
 * `pipeline query --warehouse [url] "SQL"` reading either back; `npm start -- --from X --to Y
 * --warehouse` loading a local backfill's dates.
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
import { runLocalBackfill } from "../../pipeline/cli/backfill";
import { connectPostgres } from "../../pipeline/warehouse";
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

  it("npm start -- --from --to --warehouse loads every backfilled date into embedded PGlite; run again, it loads nothing", async function () {
    // Four commands, each a fresh process compiling the program and opening PGlite: slow on a busy machine.
    this.timeout(600_000);
    const dataDir = path.join(work, "backfill-embedded");
    const args = ["run", "--from", "2026-10-01", "--to", "2026-10-20", "--warehouse", "--data-dir", dataDir];
    const first = await pipeline(...args);
    expect(first.stdout).to.contain(`Warehouse: pglite ${path.join(dataDir, "warehouse")}`);
    expect(first.stdout).to.match(/Load 2026-10-01 to 2026-10-20: 20 of 20 date\(s\) loaded, 1000 rows; 0 file\(s\)/);
    expect(first.stdout).to.contain("and loaded into the warehouse");
    const queried = await pipeline(
      "query",
      "--data-dir",
      dataDir,
      "--warehouse",
      `SELECT count(DISTINCT "date") AS dates, count(*) AS n FROM weather_hourly`,
    );
    expect(queried.stdout).to.match(/│\s*20\s*│\s*960\s*│/);
    // The window is complete: planned load-only, its 40 files found loaded as they are.
    const second = await pipeline(...args);
    expect(second.stdout).to.contain("1 already complete (1 to load into the warehouse); 0 to do");
    expect(second.stdout).to.contain("Load 2026-10-01 to 2026-10-20: 0 of 20 date(s) loaded, 0 rows; 40 file(s)");
  });

  it("a local backfill with --warehouse postgres://... loads into the server; a bad URL is refused before any fetch", async () => {
    const quiet = { update: () => undefined, stop: () => undefined };
    const lines: string[] = [];
    const options = {
      settings: DEFAULT_PIPELINE_SETTINGS,
      maxWeightPerDay: 8_000,
      from: "2026-09-01",
      to: "2026-09-10",
      spread: false,
      dataDir: path.join(work, "backfill-server"),
      live: false,
      print: (line: string) => lines.push(line),
      progress: quiet,
    };
    const result = await runLocalBackfill({ ...options, warehouse: server.url });
    expect(result.status, lines.join("\n")).to.equal("SUCCEEDED");
    const db = await connectPostgres({ connectionString: server.url });
    try {
      const rows = await db.query<{ dates: number; n: number }>(
        `SELECT count(DISTINCT "date")::int AS dates, count(*)::int AS n FROM weather_daily WHERE "date" BETWEEN '2026-09-01' AND '2026-09-10'`,
      );
      expect(rows).to.deep.equal([{ dates: 10, n: 20 }]);
    } finally {
      await db.close();
    }
    expect(lines.join("\n")).to.not.contain(server.password);
    const refused = await runLocalBackfill({ ...options, warehouse: "mysql://x" }).catch((e: Error) => e);
    expect((refused as Error).message).to.contain('--warehouse is "mysql://x"; give a PostgreSQL URL');
  });
});
