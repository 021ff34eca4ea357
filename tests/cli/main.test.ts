/**
 * The commands a user types, run as child processes the way npm runs them.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { parquetReadObjects } from "hyparquet";
import { addDays, todayIn } from "../../pipeline/core/dates";
import { curatedObjectKey } from "../../pipeline/core/keys";
import { openLocalCuratedBucket, LOCAL_BUCKETS } from "../../pipeline/local/local-buckets";
import { queryLocalCuratedData } from "../../pipeline/local/duckdb";
import { PROJECT_DIR } from "../../pipeline/local/plan";
import { runLocalDay } from "../../pipeline/cli/run";
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from "../../pipeline/local/s3-server";
import { DEFAULT_PIPELINE_SETTINGS } from "../../pipeline/core/settings";
import { pipelineArgs } from "../support/cli";
import { CLI_ENTRY, DIST_DIR, staleSources } from "../../pipeline/local/build";

const run = promisify(execFile);
const FIXTURES = path.join(__dirname, "..", "fixtures", "open-meteo", "recorded");

function pipeline(...args: string[]) {
  return pipelineWithEnv({}, ...args);
}

function pipelineWithEnv(env: Record<string, string>, ...args: string[]) {
  return run(process.execPath, pipelineArgs(...args), {
    cwd: PROJECT_DIR,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, ...env },
  });
}

/** The exit code and stderr of a command expected to fail. */
function failureOf(command: Promise<unknown>): Promise<{ code: number; stderr: string } | undefined> {
  return command.then(
    () => undefined,
    (e: { code: number; stderr: string }) => e,
  );
}

/** A local run of one day into a fresh data folder, quietly (as `npm start` would leave it). */
async function runQuietLocalDay(date: string): Promise<string> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "local-query-"));
  const table = console.table;
  console.table = () => undefined;
  const log = console.log;
  console.log = () => undefined;
  try {
    await runLocalDay({
      settings: DEFAULT_PIPELINE_SETTINGS,
      dataDir,
      date,
      live: false,
      previewRows: 1,
      print: () => undefined,
    });
  } finally {
    console.table = table;
    console.log = log;
  }
  return dataDir;
}

/** Adds a copy of a date's hourly file as a second file of its partition, as a backfill batch would. */
async function addHourlyPartFile(dataDir: string, date: string): Promise<void> {
  const bucket = await openLocalCuratedBucket(dataDir);
  try {
    const { body } = await bucket.store.getObject(curatedObjectKey("weather_hourly", date));
    await bucket.store.putObject(`weather_hourly/date=${date}/part-0001.parquet`, body, {
      contentType: "application/vnd.apache.parquet",
    });
  } finally {
    await bucket.close();
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile())
    .map((f) => path.relative(dir, path.join(f.parentPath, f.name)))
    .sort();
}

describe("the pipeline command", function () {
  this.timeout(60_000);

  it("starts from dist/, and compiles a source newer than its output before it runs", async () => {
    pipelineArgs(); // a fresh build to start from
    const output = path.join(DIST_DIR, "pipeline", "core", "dates.js");
    const before = readFileSync(output);
    // An output older than its source, as after an edit of pipeline/core/dates.ts.
    utimesSync(output, new Date(0), new Date(0));
    expect(staleSources()).to.deep.equal([path.join("pipeline", "core", "dates.ts")]);
    const { stdout, stderr } = await run(process.execPath, [CLI_ENTRY, "--help"], { cwd: PROJECT_DIR });
    expect(stderr).to.equal("dist/ was older than 1 source(s) (pipeline/core/dates.ts, …): compiled them again\n");
    expect(stdout).to.match(/^Usage: pipeline /);
    expect(staleSources()).to.deep.equal([]);
    expect(readFileSync(output).equals(before)).to.equal(true);
  });

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
    // It ends with the report, and says where it is.
    const report = path.join(dataDir, "report.html");
    expect(stdout.trim().split("\n").at(-1)).to.equal(`Weather report (last 30 days of local data): ${report}`);
    const html = readFileSync(report, "utf8");
    expect(html).to.contain("2026-11-01").and.to.contain('data-field="latest-run-status">SUCCEEDED<');
    expect(filesUnder(path.join(dataDir, "runs"))).to.have.length(1);
  });

  it("writes a report that says there is no data yet, and how to get some, for a folder with none", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "empty-report-"));
    const out = path.join(dataDir, "out", "report.html");
    const { stdout } = await pipeline("report", "--data-dir", path.join(dataDir, "never-run"), "--out", out);
    expect(stdout.trim()).to.match(new RegExp(`^${out.replace(/[.]/g, "\\.")}: \\d+ bytes \\(no data yet\\)$`));
    const html = readFileSync(out, "utf8");
    expect(html).to.contain("No data yet").and.to.contain("npm start");
  });

  it("refuses report --days outside 1 to 366 and a malformed --end, naming the value", async () => {
    const days = await failureOf(pipeline("report", "--days", "0", "--out", "/dev/null"));
    expect(days?.stderr).to.contain("--days is 0; it must be a whole number from 1 to 366");
    const end = await failureOf(pipeline("report", "--end", "2026-02-30", "--out", "/dev/null"));
    expect(end?.stderr).to.contain('--end is "2026-02-30"');
  });

  it("refuses a --date that is not over yet, before starting anything", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "local-future-"));
    // Two days ahead, so the date is still in the future when the command runs.
    const future = addDays(todayIn("UTC", new Date()), 2);
    const error = await failureOf(pipeline("run", "--data-dir", dataDir, "--date", future));
    expect(error?.code).to.equal(1);
    expect(error?.stderr).to.contain(`--date is ${future}, in the future in UTC`);
    expect(error?.stderr).to.contain("Open-Meteo would answer with forecasts, not observations");
    expect(filesUnder(dataDir)).to.deep.equal([]);
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

  it("transforms without loading the AWS SDK (a folder is all it writes to)", async () => {
    const out = mkdtempSync(path.join(tmpdir(), "transform-sdk-"));
    const input = path.join(FIXTURES, "vinea_archive_hourly_6vars_3days_adelaide_ms.json");
    const preload = path.join(__dirname, "..", "support", "loaded-packages.mjs");
    const { stderr } = await run(
      process.execPath,
      ["--import", preload, ...pipelineArgs("transform", input, "--out", out)],
      {
        cwd: PROJECT_DIR,
      },
    );
    const line = /^loaded-packages (.*)$/m.exec(stderr);
    const packages = JSON.parse(line?.[1] ?? "null") as string[];
    expect(packages).to.include("hyparquet-writer");
    expect(packages.filter((p) => p.startsWith("@aws-sdk/") || p.startsWith("@smithy/"))).to.deep.equal([]);
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

  it("says a command it does not know is unknown, with the closest one", async () => {
    const error = await failureOf(pipeline("qeury", "SELECT 1"));
    expect(error?.code).to.equal(1);
    expect(error?.stderr).to.contain("error: unknown command 'qeury'").and.to.contain("(Did you mean query?)");
    expect(error?.stderr).to.not.contain("too many arguments");
  });

  it("says what compact --bucket lacks without AWS credentials, and how to give them", async () => {
    const home = mkdtempSync(path.join(tmpdir(), "no-aws-"));
    const env: Record<string, string> = {
      HOME: home,
      AWS_CONFIG_FILE: path.join(home, "config"),
      AWS_SHARED_CREDENTIALS_FILE: path.join(home, "credentials"),
      AWS_REGION: "eu-west-1",
      // No instance metadata lookup: nothing leaves 127.0.0.1.
      AWS_EC2_METADATA_DISABLED: "true",
    };
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) => !/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE)$/.test(k),
      ),
    );
    const error = await failureOf(
      run(process.execPath, pipelineArgs("compact", "--month", "2026-10", "--bucket", "b"), {
        cwd: PROJECT_DIR,
        env: { ...clean, ...env },
      }),
    );
    expect(error?.code).to.equal(1);
    expect(error?.stderr).to.contain("--bucket b needs AWS credentials and the AWS SDK found none");
    expect(error?.stderr).to.contain("`aws configure`").and.to.contain("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  });

  describe("run through npm, as a user types it", function () {
    this.timeout(300_000);
    const npm = (cwd: string, ...args: string[]) =>
      run("npm", ["--prefix", PROJECT_DIR, ...args], { cwd, maxBuffer: 64 * 1024 * 1024 });

    it("resolves relative paths from the folder the user ran npm in", async () => {
      const dir = mkdtempSync(path.join(tmpdir(), "user-dir-"));
      writeFileSync(
        path.join(dir, "saved.json"),
        readFileSync(path.join(FIXTURES, "vinea_archive_hourly_6vars_3days_adelaide_ms.json")),
      );
      await npm(dir, "run", "pipeline", "--", "transform", "saved.json", "--out", "out");
      expect(filesUnder(path.join(dir, "out")).filter((f) => f.endsWith(".parquet"))).to.have.length(3);
    });

    it("plan --json: pure JSON with --silent or --out, and a clear refusal where npm's banner would spoil it", async () => {
      const dir = mkdtempSync(path.join(tmpdir(), "user-plan-"));
      const refused = await failureOf(npm(dir, "run", "pipeline", "--", "plan", "--stack", "dev", "--json"));
      expect(refused?.stderr).to.contain("npm has already printed its banner on stdout");
      expect(refused?.stderr).to.contain("npm run --silent pipeline -- plan --json").and.to.contain("--out <file>");

      const silent = await npm(dir, "run", "--silent", "pipeline", "--", "plan", "--stack", "dev", "--json");
      const fromStdout = JSON.parse(silent.stdout) as { type: string; name: string }[];
      expect(fromStdout.length).to.be.above(10);

      await npm(dir, "run", "pipeline", "--", "plan", "--stack", "dev", "--json", "--out", "plan.json");
      // The same plan; resources in the order they registered, which async closure
      // serialization can vary between runs.
      const byName = (plan: { type: string; name: string }[]) =>
        [...plan].sort((a, b) => `${a.type}::${a.name}`.localeCompare(`${b.type}::${b.name}`));
      const fromFile = JSON.parse(readFileSync(path.join(dir, "plan.json"), "utf8")) as typeof fromStdout;
      expect(byName(fromFile)).to.deep.equal(byName(fromStdout));
    });
  });

  describe("stack files and config files", () => {
    it("refuses --stack naming a stack that has no file, instead of running on the defaults", async () => {
      const error = await failureOf(pipeline("run", "--stack", "prdo", "--date", "2026-11-01"));
      expect(error?.code).to.equal(1);
      expect(error?.stderr).to.contain("--stack prdo: there is no Pulumi.prdo.yaml in");
      expect(error?.stderr).to.contain("did you mean --stack prod? stacks with a file: dev, prod, staging");
    });

    it("refuses a --config-file that does not exist", async () => {
      const error = await failureOf(
        pipeline("plan", "--stack", "dev", "--config-file", "/nonexistent/Pulumi.dev.yaml"),
      );
      expect(error?.code).to.equal(1);
      expect(error?.stderr.trim()).to.equal("--config-file /nonexistent/Pulumi.dev.yaml does not exist");
    });

    it("names the --config-file it read in every error, YAML syntax errors included", async function () {
      this.timeout(240_000);
      const dir = mkdtempSync(path.join(tmpdir(), "config-file-"));
      const misplaced = path.join(dir, "misplaced.yaml");
      writeFileSync(misplaced, "configs:\n  weather-pipeline:timezone: UTC\n");
      const shape = await failureOf(pipeline("plan", "--stack", "dev", "--config-file", misplaced));
      expect(shape?.stderr).to.contain(`did you mean config:? (--config-file ${misplaced})`);

      const broken = path.join(dir, "broken.yaml");
      writeFileSync(broken, "config:\n  weather-pipeline:locations: [\n");
      const syntax = await failureOf(pipeline("plan", "--stack", "dev", "--config-file", broken));
      expect(syntax?.stderr).to.contain(`--config-file ${broken} is not valid YAML:`);

      const bad = path.join(dir, "bad.yaml");
      writeFileSync(bad, "config:\n  weather-pipeline:logRetentionDays: 10\n");
      const value = await failureOf(pipeline("plan", "--stack", "dev", "--config-file", bad));
      expect(value?.stderr).to.contain(`weather-pipeline:logRetentionDays is 10; it must be one of`);
      expect(value?.stderr).to.contain(`(${bad})`).and.not.to.contain("Pulumi.dev.yaml");
    });

    it("plans a new stack on the defaults with one line saying so, and pure JSON on stdout", async () => {
      const { stdout, stderr } = await pipeline("plan", "--stack", "brandnew", "--json");
      expect(stderr.trim().split("\n")).to.have.length(1);
      expect(stderr).to.contain("stack brandnew changes none of the weather-pipeline: defaults, so it deploys them");
      expect(JSON.parse(stdout)).to.be.an("array").that.is.not.empty;
    });
  });

  describe("query", () => {
    it("runs SQL with DuckDB over the curated data of a local run and prints a table", async () => {
      const dataDir = await runQuietLocalDay("2026-11-01");
      const sql =
        'SELECT location, count(*) AS hours, min("date") AS first_date, min("time") AS first_time ' +
        "FROM weather_hourly GROUP BY location ORDER BY location";
      const { stdout } = await pipeline("query", sql, "--data-dir", dataDir);
      const lines = stdout.split("\n").filter((line) => line.includes("'"));
      expect(lines).to.have.length(2);
      expect(lines[0]).to.match(/'amsterdam'\s*│\s*24\s*│\s*'2026-11-01'\s*│\s*'2026-11-01T00:00:00.000Z'/);
      expect(lines[1]).to.match(/'berlin'\s*│\s*24\s*│\s*'2026-11-01'/);
      expect(stdout).to.contain("2 row(s)");
    });

    it("writes CSV and JSON for other tools, with the cap noted on stderr only", async function () {
      this.timeout(240_000);
      const dataDir = await runQuietLocalDay("2026-11-01");
      const sql = `SELECT location, 'a,"b"' AS tricky, "time" FROM weather_hourly ORDER BY location, "time"`;
      const csv = await pipeline("query", sql, "--data-dir", dataDir, "--format", "csv", "--limit", "2");
      expect(csv.stdout).to.equal(
        'location,tricky,time\namsterdam,"a,""b""",2026-11-01T00:00:00.000Z\namsterdam,"a,""b""",2026-11-01T01:00:00.000Z\n',
      );
      expect(csv.stderr.trim()).to.equal(
        "showing the first 2 row(s); the query returns more: add a LIMIT or a WHERE, or raise --limit",
      );
      const grouped = "SELECT location, count(*) AS hours FROM weather_hourly GROUP BY 1 ORDER BY 1";
      const json = await pipeline("query", grouped, "--data-dir", dataDir, "--format", "json");
      expect(JSON.parse(json.stdout)).to.deep.equal([
        { location: "amsterdam", hours: 24 },
        { location: "berlin", hours: 24 },
      ]);
      expect(json.stderr).to.equal("");
      const several = await failureOf(pipeline("query", "SELECT 1; SELECT 2", "--data-dir", dataDir));
      expect(several?.stderr.trim()).to.equal("the query holds 2 statements; give one at a time");
    });

    it("answers a table with no files yet with no rows, and names its columns", async () => {
      const dataDir = mkdtempSync(path.join(tmpdir(), "local-empty-"));
      const s3 = await startLocalS3({ directory: path.join(dataDir, "s3"), buckets: [LOCAL_BUCKETS.curated] });
      await s3.close();
      const { stdout } = await pipeline("query", 'SELECT location, "date" FROM weather_daily', "--data-dir", dataDir);
      expect(stdout.trim()).to.equal("(no rows; columns: location, date)");
    });

    it("fails on SQL DuckDB rejects, and on a folder without local data, saying what to do", async () => {
      const dataDir = mkdtempSync(path.join(tmpdir(), "local-none-"));
      const missing = await failureOf(pipeline("query", "SELECT 1", "--data-dir", dataDir));
      expect(missing?.code).to.equal(1);
      expect(missing?.stderr).to.contain(`${dataDir} holds no local buckets`).and.to.contain("run `npm start` first");
      await startLocalS3({ directory: path.join(dataDir, "s3"), buckets: [] }).then((s3) => s3.close());
      const bad = await failureOf(pipeline("query", "SELECT * FROM weather_monthly", "--data-dir", dataDir));
      expect(bad?.code).to.equal(1);
      expect(bad?.stderr).to.contain("weather_monthly does not exist");
    });
  });

  describe("compact", () => {
    // In-process (the query command has its own tests): rows of weather_hourly, through the query path.
    const count = async (dataDir: string) => {
      const { rows } = await queryLocalCuratedData({
        sql: "SELECT count(*) AS n FROM weather_hourly",
        dataDir,
        hourlyVariables: [],
        dailyVariables: [],
      });
      return Number(rows[0]?.["n"]);
    };

    it("merges a month's extra files in the local curated bucket into one per date, rows kept", async () => {
      const dataDir = await runQuietLocalDay("2026-10-05");
      await addHourlyPartFile(dataDir, "2026-10-05");
      expect(await count(dataDir)).to.equal(96);

      const { stdout } = await pipeline("compact", "--month", "2026-10", "--data-dir", dataDir);
      expect(stdout).to.contain(
        "weather_hourly/date=2026-10-05: merged 2 file(s) into weather_hourly_2026-10-05.parquet (96 rows, 1 row group(s)",
      );
      expect(stdout).to.contain("; deleted part-0001.parquet");
      expect(stdout).to.contain("1 of 2 partition(s) rewritten or finished, 1 already one file, 1 file(s) deleted");
      expect(await count(dataDir)).to.equal(96);
      const curated = filesUnder(path.join(dataDir, "curated")).filter((f) => f.startsWith("weather_hourly"));
      expect(curated).to.deep.equal([
        path.join("weather_hourly", "date=2026-10-05", "weather_hourly_2026-10-05.parquet"),
      ]);

      const again = await pipeline("compact", "--month", "2026-10", "--data-dir", dataDir);
      expect(again.stdout).to.contain(
        "0 of 2 partition(s) rewritten or finished, 2 already one file, 0 file(s) deleted",
      );
    });

    it("compacts an S3 bucket named with --bucket, through the AWS SDK's endpoint settings", async () => {
      const dataDir = await runQuietLocalDay("2026-10-06");
      await addHourlyPartFile(dataDir, "2026-10-06");
      const s3 = await startLocalS3({ directory: path.join(dataDir, "s3"), buckets: [LOCAL_BUCKETS.curated] });
      try {
        const env = {
          AWS_ENDPOINT_URL_S3: s3.endpoint,
          AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
          AWS_REGION: "us-east-1",
        };
        const { stdout } = await pipelineWithEnv(
          env,
          "compact",
          "--month",
          "2026-10",
          "--bucket",
          LOCAL_BUCKETS.curated,
        );
        expect(stdout).to.contain(`Compacted 2026-10 in s3://${LOCAL_BUCKETS.curated}: 1 of 2 partition(s)`);
      } finally {
        await s3.close();
      }
      expect(await count(dataDir)).to.equal(96);
      const curated = filesUnder(path.join(dataDir, "curated")).filter((f) => f.startsWith("weather_hourly"));
      expect(curated).to.have.length(1);
    });

    it("refuses a month that is not over yet", async () => {
      const dataDir = await runQuietLocalDay("2026-10-07");
      const month = new Date().toISOString().slice(0, 7);
      const error = await failureOf(pipeline("compact", "--month", month, "--data-dir", dataDir));
      expect(error?.code).to.equal(1);
      expect(error?.stderr).to.contain(`--month ${month} is not over for the daily run`);
    });
  });
});
