/**
 * `npm start` and `npm run pipeline -- <command>`: the pipeline on this machine, run from the
 * compiled program in dist/ (pipeline/local/build.ts).
 */
import { existsSync } from "node:fs";
import { open, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import type * as CsvStringify from "csv-stringify/sync";
import type * as Catalog from "../catalog";
import type * as Config from "../infra/config";
import type * as ObjectStore from "../core/object-store";
import type * as Storage from "../core/storage";
import type * as Transform from "../transform";
import type * as LocalBuckets from "../local/local-buckets";
import type * as DuckDb from "../local/duckdb";
import type * as LocalWarehouse from "../local/local-warehouse";
import type * as Plan from "../local/plan";
import type * as Backfill from "./backfill";
import type * as PlanReport from "./plan-report";
import type * as RedriveAws from "./redrive-aws";
import type * as Run from "./run";
import type * as SampleSource from "../local/sample-source";
import type * as Sources from "../sources";
import { todayIn } from "../core/dates";
import { assertIsoDate } from "../core/keys";
import type * as Report from "./report";
import type * as ReportData from "../report";
import type * as Apply from "./apply";
import { PROJECT_DIR, rebuildIfStale } from "../local/build";

/**
 * A command's modules, loaded when it runs: loading them all up front (Pulumi, the AWS SDK,
 * DuckDB, s3rver) took seconds before even `--help` could answer.
 */
function load<T>(id: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on use, see above
  return require(id) as T;
}

/** Days of the report `npm start` writes, and of `report` without --days. */
const DEFAULT_REPORT_DAYS = 30;

/** Output formats of `query`. */
const QUERY_FORMATS = ["table", "csv", "json"] as const;

const program = new Command()
  .name("pipeline")
  .description("Run the weather pipeline locally, convert saved responses, or plan a stack under Pulumi mocks.")
  .showHelpAfterError();

/**
 * The folder the user ran the command in. `npm start` and `npm run pipeline` run it in the
 * project folder and keep the user's in INIT_CWD; run any other way, it is the working folder.
 */
function userDir(): string {
  const viaNpm = ["start", "pipeline"].includes(process.env["npm_lifecycle_event"] ?? "");
  return (viaNpm ? process.env["INIT_CWD"] : undefined) ?? process.cwd();
}

/** A path the user typed, relative to the folder they ran the command in. */
function userPath(given: string): string {
  return path.resolve(userDir(), given);
}

/** The local data folder: --data-dir from the user's folder, by default .local-data in the project. */
function dataDirOf(given: string | undefined): string {
  return given === undefined ? path.join(PROJECT_DIR, ".local-data") : userPath(given);
}

const DATA_DIR_HELP = "where the local buckets live (default: .local-data in the project folder)";

/**
 * The config of a stack file, or the embedded defaults (what a new stack gets) when no stack is
 * named, and where it came from. A named stack without a file is an error: it is far more likely
 * a typo than a wish for the defaults, which leaving out --stack gives.
 */
function configOf(stack: string | undefined) {
  const { readProjectName, readStackConfigFile, stackHint, stacksWithFiles } = load<typeof Plan>("../local/plan");
  const { ConfigError, parseStackConfigValues } = load<typeof Config>("../infra/config");
  if (stack === undefined) {
    return { config: parseStackConfigValues({}, readProjectName(), "embedded defaults"), source: "embedded defaults" };
  }
  const file = path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`);
  if (!existsSync(file)) {
    throw new ConfigError(
      `--stack ${stack}: there is no ${path.basename(file)} in ${PROJECT_DIR}; ${stackHint(stack)}` +
        `stacks with a file: ${stacksWithFiles().join(", ") || "none"}; leave out --stack for the embedded defaults`,
    );
  }
  const source = path.basename(file);
  return { config: parseStackConfigValues(readStackConfigFile(file), readProjectName(), source), source };
}

/** The pipeline settings of a stack file, or the embedded defaults. */
function settingsOf(stack: string | undefined) {
  return configOf(stack).config.pipeline;
}

/**
 * The sources of a stack file; without --stack, the local sample source `sample_stations`,
 * which the embedded fake publishes (a new stack deploys none).
 */
function sourcesOf(stack: string | undefined): readonly Sources.SourceDefinition[] {
  if (stack === undefined) return [load<typeof SampleSource>("../local/sample-source").LOCAL_SAMPLE_SOURCE];
  return configOf(stack).config.sources;
}

function parseDate(value: string, option = "--date"): string {
  try {
    assertIsoDate(value, option);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return value;
}

// No default command: a mistyped command name must be an "unknown command" error (with the
// closest one), not arguments of `run`. `npm start` names `run` itself.
program
  .command("run")
  .description("Run one day locally: s3rver on 127.0.0.1 and the embedded fake Open-Meteo (no AWS, no internet)")
  .option("--live", "fetch from the real Open-Meteo API instead of the embedded fake")
  .option("--api-url <URL>", "fetch from any Open-Meteo-compatible server, e.g. http://localhost:8080 (self-hosted)")
  .option("--date <YYYY-MM-DD>", "the day to fetch (default: yesterday in the stack's time zone)", parseDate)
  .option("--stack <name>", "use the locations and variables of Pulumi.<name>.yaml (default: embedded defaults)")
  .option("--data-dir <dir>", DATA_DIR_HELP)
  .option("--preview-rows <n>", "rows to preview per dataset", parsePositiveInteger, 5)
  .option(
    "--warehouse [url]",
    "also load the day (or the backfill's dates) into a PostgreSQL warehouse: embedded PGlite in <data-dir>/warehouse, or the server at a postgres:// URL",
  )
  .option(
    "--from <YYYY-MM-DD>",
    "backfill from this date (with --to): the backfill state machine, run locally",
    (value: string) => parseDate(value, "--from"),
  )
  .option("--to <YYYY-MM-DD>", "the backfill's last date (yesterday at the latest)", (value: string) =>
    parseDate(value, "--to"),
  )
  .option("--spread", "allow a backfill heavier than backfillMaxWeightPerDay, spread over days")
  .action(
    async (options: {
      live?: boolean;
      apiUrl?: string;
      date?: string;
      stack?: string;
      dataDir?: string;
      previewRows: number;
      warehouse?: string | true;
      from?: string;
      to?: string;
      spread?: boolean;
    }) => {
      if (options.from !== undefined || options.to !== undefined) {
        if (options.from === undefined || options.to === undefined) {
          throw new InvalidArgumentError("a backfill needs both --from and --to");
        }
        if (options.date !== undefined) {
          throw new InvalidArgumentError("--date is for one day; use --from and --to alone");
        }
        const { config } = configOf(options.stack);
        const result = await load<typeof Backfill>("./backfill").runLocalBackfill({
          settings: config.pipeline,
          maxWeightPerDay: config.backfill.maxWeightPerDay,
          from: options.from,
          to: options.to,
          spread: options.spread ?? false,
          dataDir: dataDirOf(options.dataDir),
          live: options.live ?? false,
          apiUrl: options.apiUrl,
          print: (line) => console.log(line),
          ...(options.warehouse !== undefined ? { warehouse: options.warehouse } : {}),
        });
        if (result.status !== "SUCCEEDED") process.exitCode = 1;
        return;
      }
      const dataDir = dataDirOf(options.dataDir);
      await load<typeof Run>("./run").runLocalDay({
        settings: settingsOf(options.stack),
        sources: sourcesOf(options.stack),
        dataDir,
        date: options.date,
        live: options.live ?? false,
        apiUrl: options.apiUrl,
        previewRows: options.previewRows,
        print: (line) => console.log(line),
        ...(options.warehouse !== undefined ? { warehouse: options.warehouse } : {}),
      });
      const report = await load<typeof Report>("./report").writeLocalReport(dataDir, {
        days: DEFAULT_REPORT_DAYS,
        out: path.join(dataDir, "report.html"),
        sources: sourcesOf(options.stack),
        columnNames: settingsOf(options.stack).columnNames,
      });
      console.log("");
      console.log(`Weather report (last ${DEFAULT_REPORT_DAYS} days of local data): ${report.path}`);
    },
  );

program
  .command("report")
  .description(
    "Write the weather report, one self-contained HTML file: local runs' curated data, or a deployed stack's with --stack",
  )
  .option("--stack <name>", "a deployed stack: its curated bucket and runs (needs the Pulumi CLI and AWS credentials)")
  .option("--days <n>", "days in the period", parseReportDays, DEFAULT_REPORT_DAYS)
  .option(
    "--end <YYYY-MM-DD>",
    "the period's last day (default: local, the newest day with data; --stack, yesterday in the stack's time zone)",
    (value: string) => parseDate(value, "--end"),
  )
  .option("--data-dir <dir>", `${DATA_DIR_HELP}; without --stack`)
  .option("--out <file>", "the HTML file to write", "report.html")
  .action(async (options: { stack?: string; days: number; end?: string; dataDir?: string; out: string }) => {
    const common = {
      days: options.days,
      end: options.end,
      out: userPath(options.out),
      sources: sourcesOf(options.stack),
      columnNames: settingsOf(options.stack).columnNames,
    };
    const { writeLocalReport, writeStackReport } = load<typeof Report>("./report");
    const report = options.stack
      ? await writeStackReport(options.stack, { ...common, timezone: settingsOf(options.stack).timezone })
      : await writeLocalReport(dataDirOf(options.dataDir), common);
    const { data } = report;
    const period =
      data.dates.length > 0 ? `${data.start} to ${data.end}, ${data.locations.length} location(s)` : "no data yet";
    console.log(`${report.path}: ${report.bytes} bytes (${period})`);
  });

program
  .command("backfill")
  .description(
    "Backfill a range of past dates on a deployed stack and follow it (needs the Pulumi CLI and AWS credentials); --dry-run plans it offline",
  )
  .requiredOption("--stack <name>", "the stack (its Pulumi.<name>.yaml for --dry-run, its outputs otherwise)")
  .requiredOption("--from <YYYY-MM-DD>", "the first date (1940-01-01 at the earliest)", (value: string) =>
    parseDate(value, "--from"),
  )
  .requiredOption("--to <YYYY-MM-DD>", "the last date (yesterday at the latest)", (value: string) =>
    parseDate(value, "--to"),
  )
  .option("--spread", "allow a backfill heavier than backfillMaxWeightPerDay, spread over days")
  .option("--dry-run", "print the windows, requests, weight and time at the free tier's limits; no AWS, no Pulumi CLI")
  .option("--json", "with --dry-run: print one JSON object")
  .action(
    async (options: {
      stack: string;
      from: string;
      to: string;
      spread?: boolean;
      dryRun?: boolean;
      json?: boolean;
    }) => {
      const { config, source } = configOf(options.stack);
      const request = { from: options.from, to: options.to, spread: options.spread ?? false };
      const { dryRunBackfill, formatDryRun, runDeployedBackfill } = load<typeof Backfill>("./backfill");
      if (options.dryRun) {
        const report = dryRunBackfill(
          config.pipeline,
          request,
          { maxWeightPerDay: config.backfill.maxWeightPerDay, source },
          new Date(),
        );
        process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatDryRun(report, source));
        return;
      }
      if (options.json) throw new InvalidArgumentError("--json goes with --dry-run");
      const status = await runDeployedBackfill({
        ...request,
        stack: options.stack,
        settings: config.pipeline,
        print: (line) => console.log(line),
      });
      if (status !== "SUCCEEDED" && status !== "RUNNING") process.exitCode = 1;
    },
  );

program
  .command("redrive")
  .description(
    "Re-run the failed runs kept in a deployed stack's dead-letter queue (needs the Pulumi CLI and AWS credentials)",
  )
  .requiredOption("--stack <name>", "the deployed stack whose dead-letter queue to read")
  .option("--schedule", "read the schedule's dead-letter queue (runs that could not start) instead of the run one")
  .option("--max <n>", "most messages to read", parsePositiveInteger, 100)
  .option("--dry-run", "say what would be started; start and delete nothing")
  .action(async (options: { stack: string; schedule?: boolean; max: number; dryRun?: boolean }) => {
    const result = await load<typeof RedriveAws>("./redrive-aws").redriveStack(options.stack, {
      maxMessages: options.max,
      dryRun: options.dryRun ?? false,
      queueOutput: options.schedule ? "scheduleDeadLetterQueueUrl" : undefined,
    });
    // redriveStack has printed what it did (and, on a dry run, that nothing changed).
    if (result.runs.some((run) => run.error !== undefined)) process.exitCode = 1;
  });

program
  .command("transform")
  .description("Convert saved Open-Meteo responses (one object or an array) into the curated Parquet layout")
  .argument("<response.json...>", "saved response bodies")
  .requiredOption("--out <dir>", "folder to write <dir>/weather_hourly/date=.../*.parquet and weather_daily")
  .action(async (files: string[], options: { out: string }) => {
    const { transformResponseFiles } = load<typeof Transform>("../transform");
    // The folder store alone: storage.ts would load the AWS SDK (~0.1 s of CPU, ~25 MB).
    const { DirectoryObjectStore } = load<typeof ObjectStore>("../core/object-store");
    // Streamed, with rows waiting on disk for their row group (a year is 365 files open at
    // once): memory stays bounded however large the files are, as in the Lambda and the bench.
    const inputs = await Promise.all(
      files.map(async (name) => ({
        name,
        body: (await open(userPath(name), "r")).createReadStream({ highWaterMark: 1 << 20 }),
      })),
    );
    const written = await transformResponseFiles(inputs, new DirectoryObjectStore(userPath(options.out)), {
      spillDirectory: tmpdir(),
    });
    for (const file of written)
      console.log(`${path.join(options.out, file.key)}: ${file.rows} rows, ${file.bytes} bytes`);
  });

program
  .command("plan")
  .description("Run the Pulumi program under mocks with a stack's config and print every resource it declares")
  .requiredOption("--stack <name>", "stack name; config comes from Pulumi.<name>.yaml (missing file = defaults)")
  .option("--config-file <path>", "read config from this file instead of Pulumi.<stack>.yaml")
  .option("--json", "print an array of {type, name, inputs, protect} for other tools")
  .option("--out <file>", "write the plan to this file instead of stdout")
  .action(async (options: { stack: string; configFile?: string; json?: boolean; out?: string }) => {
    if (options.json && options.out === undefined) refuseJsonAfterNpmBanner();
    const resources = await load<typeof Plan>("../local/plan").planStack({
      stack: options.stack,
      configFile: options.configFile === undefined ? undefined : userPath(options.configFile),
      configFileShown: options.configFile,
    });
    const { formatPlan } = load<typeof PlanReport>("./plan-report");
    const text = options.json ? `${JSON.stringify(resources, null, 2)}\n` : formatPlan(options.stack, resources);
    if (options.out === undefined) {
      process.stdout.write(text);
    } else {
      await writeFile(userPath(options.out), text);
      process.stderr.write(`wrote the plan of ${options.stack} (${resources.length} resources) to ${options.out}\n`);
    }
  });

/**
 * `npm run` (npm 11) prints its "> weather-pipeline@0.1.0 pipeline" banner on stdout before the
 * command starts, so JSON sent to a pipe or file after it is not JSON any more, and no command
 * can take the banner back. Refuses that case with the two ways that work; a terminal, where a
 * person reads the output, is left alone.
 */
function refuseJsonAfterNpmBanner(): void {
  const viaNpm = process.env["npm_lifecycle_event"] === "pipeline";
  const silent = process.env["npm_config_loglevel"] === "silent";
  if (!viaNpm || silent || process.stdout.isTTY) return;
  throw new InvalidArgumentError(
    "plan --json: npm has already printed its banner on stdout, so the output would not be pure JSON; " +
      "run `npm run --silent pipeline -- plan --json ...`, or write the JSON to a file with --out <file>",
  );
}

program
  .command("query")
  .description(
    'Run SQL with DuckDB over the curated data of local runs: tables weather_hourly, weather_daily and source_<name> per source, partition column "date"',
  )
  .argument("[sql]", 'one SQL statement, e.g. "SELECT location, count(*) FROM weather_hourly GROUP BY location"')
  .option("--data-dir <dir>", DATA_DIR_HELP)
  .option("--stack <name>", "columns of a table with no files yet from Pulumi.<name>.yaml (default: embedded defaults)")
  .option("--limit <n>", "show at most this many rows, with a note when there are more", parsePositiveInteger, 1000)
  .addOption(
    new Option("--format <format>", "table for reading, csv or json for other tools")
      .choices(QUERY_FORMATS)
      .default("table"),
  )
  .option(
    "--warehouse [url]",
    "query the PostgreSQL warehouse instead: the embedded one of `npm start -- --warehouse`, or the server at a postgres:// URL",
  )
  .action(
    async (
      given: string | undefined,
      options: {
        dataDir?: string;
        stack?: string;
        limit: number;
        format: (typeof QUERY_FORMATS)[number];
        warehouse?: string | true;
      },
    ) => {
      // `query --warehouse "SELECT ..."`: the option's optional value took the SQL.
      let warehouse = options.warehouse;
      let sql = given;
      if (sql === undefined && typeof warehouse === "string" && !/^postgres(ql)?:\/\//.test(warehouse)) {
        sql = warehouse;
        warehouse = true;
      }
      if (sql === undefined) {
        throw new InvalidArgumentError('give the SQL to run, e.g. query "SELECT count(*) FROM weather_hourly"');
      }
      if (warehouse !== undefined) {
        const { formatWarehouseRows, openLocalWarehouse } = load<typeof LocalWarehouse>("../local/local-warehouse");
        const database = await openLocalWarehouse(warehouse, dataDirOf(options.dataDir));
        try {
          const rows = await database.query(sql);
          if (rows.length === 0) console.log("(no rows)");
          else console.table(formatWarehouseRows(rows));
          console.log(`${rows.length} row(s) from ${database.description}`);
        } finally {
          await database.close();
        }
        return;
      }
      const settings = settingsOf(options.stack);
      const { queryLocalCuratedData } = load<typeof DuckDb>("../local/duckdb");
      const result = await queryLocalCuratedData({
        sql,
        dataDir: dataDirOf(options.dataDir),
        hourlyVariables: settings.hourlyVariables,
        dailyVariables: settings.dailyVariables,
        columnNames: settings.columnNames,
        sources: sourcesOf(options.stack),
        limit: options.limit,
      });
      printQueryResult(result, options.format, options.limit);
    },
  );

/** Prints a result in `format`; notes go to stderr for csv and json, so stdout stays data. */
function printQueryResult(result: DuckDb.QueryResult, format: (typeof QUERY_FORMATS)[number], limit: number): void {
  const rows = load<typeof DuckDb>("../local/duckdb").formatResultRows(result);
  const names = result.columns.map((c) => c.name);
  const more = result.truncated
    ? `showing the first ${limit} row(s); the query returns more: add a LIMIT or a WHERE, or raise --limit`
    : undefined;
  if (format === "table") {
    if (rows.length === 0) {
      console.log(`(no rows; columns: ${names.join(", ")})`);
      return;
    }
    console.table(rows);
    console.log(more ?? `${rows.length} row(s)`);
    return;
  }
  if (format === "csv") {
    const { stringify } = load<typeof CsvStringify>("csv-stringify/sync");
    process.stdout.write(
      stringify(
        rows.map((row) => names.map((name) => row[name])),
        { header: true, columns: names, cast: { boolean: (value) => String(value) } },
      ),
    );
  } else {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  }
  if (more) process.stderr.write(`${more}\n`);
}

program
  .command("compact")
  .description("Rewrite each date partition of a month into its one Parquet file per dataset (query results unchanged)")
  .requiredOption("--month <YYYY-MM>", "the month to compact; it must be over in the stack's time zone")
  .option("--stack <name>", "time zone and column order from Pulumi.<name>.yaml (default: embedded defaults)")
  .option("--data-dir <dir>", DATA_DIR_HELP)
  .option("--bucket <name>", "compact this S3 bucket with your AWS credentials instead of the local one")
  .action(async (options: { month: string; stack?: string; dataDir?: string; bucket?: string }) => {
    const settings = settingsOf(options.stack);
    const { openLocalCuratedBucket } = load<typeof LocalBuckets>("../local/local-buckets");
    const local = options.bucket ? undefined : await openLocalCuratedBucket(dataDirOf(options.dataDir));
    const store: Storage.ObjectStore = local?.store ?? (await s3StoreWithCredentials(options.bucket as string));
    try {
      const result = await load<typeof Catalog>("../catalog").compactMonth(store, {
        month: options.month,
        today: todayIn(settings.timezone, new Date()),
        hourlyVariables: settings.hourlyVariables,
        dailyVariables: settings.dailyVariables,
      });
      printCompaction(store.description, result);
    } finally {
      await local?.close();
    }
  });

/**
 * The S3 store of --bucket, after checking that the AWS SDK finds credentials and a region: the
 * SDK's own errors ("Could not load credentials from any providers", "Region is missing") do
 * not say how to give them.
 */
async function s3StoreWithCredentials(bucket: string): Promise<Storage.S3ObjectStore> {
  const { createS3Client, S3ObjectStore } = load<typeof Storage>("../core/storage");
  const client = createS3Client();
  try {
    await client.config.region();
  } catch (error) {
    client.destroy();
    throw new Error(
      `--bucket ${bucket} needs an AWS region and none is set; set AWS_REGION (e.g. eu-west-1) or your profile's region (\`aws configure\`); or leave out --bucket to compact the local data`,
      { cause: error },
    );
  }
  try {
    await client.config.credentials();
  } catch (error) {
    client.destroy();
    const detail = error instanceof Error ? error.message : String(error);
    throw new Error(
      `--bucket ${bucket} needs AWS credentials and the AWS SDK found none (${detail}); give them as for the AWS CLI: ` +
        "`aws configure` or `aws sso login` (then AWS_PROFILE=<profile>), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; " +
        "or leave out --bucket to compact the local data",
      { cause: error },
    );
  }
  return new S3ObjectStore(client, bucket);
}

/** Prints what compaction did, one line per partition it changed. */
function printCompaction(where: string, result: Catalog.CompactionResult): void {
  let unchanged = 0;
  let deleted = 0;
  for (const p of result.partitions) {
    deleted += p.deleted.length;
    const name = path.posix.basename(p.key);
    const size = `${p.rows} rows, ${p.rowGroups} row group(s), ${p.bytes} bytes`;
    const gone = p.deleted.length > 0 ? `; deleted ${p.deleted.map((k) => path.posix.basename(k)).join(", ")}` : "";
    if (p.merged.length > 0) {
      console.log(`${p.dataset}/date=${p.date}: merged ${p.merged.length} file(s) into ${name} (${size})${gone}`);
    } else if (p.deleted.length > 0) {
      console.log(`${p.dataset}/date=${p.date}: finished an earlier compaction (${size})${gone}`);
    } else {
      unchanged++;
    }
  }
  for (const key of result.ignored) console.log(`left alone (not a Parquet file directly in a partition): ${key}`);
  console.log(
    `Compacted ${result.month} in ${where}: ${result.partitions.length - unchanged} of ${result.partitions.length} ` +
      `partition(s) rewritten or finished, ${unchanged} already one file, ${deleted} file(s) deleted`,
  );
}

/** Parses --days: a whole number of days from 1 to MAX_REPORT_DAYS. */
function parseReportDays(value: string): number {
  const { MAX_REPORT_DAYS } = load<typeof ReportData>("../report");
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_REPORT_DAYS) {
    throw new InvalidArgumentError(`--days is ${value}; it must be a whole number from 1 to ${MAX_REPORT_DAYS}`);
  }
  return n;
}

/** Parses a positive integer option. */
function parsePositiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${value} is not a positive whole number`);
  return n;
}

program
  .command("apply")
  .description(
    "Put application files (CSV or JSON of name, latitude, longitude[, start_date]) into the local drop zone and decide each row; the next `npm start` fetches the accepted locations",
  )
  .argument("<file...>", "application files, e.g. places.csv")
  .option("--stack <name>", "the stack whose locations, variables and limits apply (default: embedded defaults)")
  .option("--data-dir <dir>", "where the local buckets live", ".local-data")
  .option("--json", "print one JSON array of {file, row, name, decision, id?, reasons?} on stdout")
  .option("--no-history", "only queue the history of locations accepted with a start_date, do not fetch it now")
  .action(async (files: string[], options: { stack?: string; dataDir: string; json?: boolean; history: boolean }) => {
    const { config } = configOf(options.stack);
    const rows = await load<typeof Apply>("./apply").applyLocalFiles({
      files,
      settings: config.pipeline,
      limits: load<typeof Config>("../infra/config").applicationLimitsOf(config),
      dataDir: path.resolve(options.dataDir),
      print: options.json ? () => undefined : (line) => console.log(line),
      ...(options.history ? { history: { maxWeightPerDay: config.backfill.maxWeightPerDay } } : {}),
    });
    if (options.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    else {
      const accepted = rows.filter((r) => r.decision === "accepted").length;
      console.log(
        `${accepted} accepted, ${rows.length - accepted} rejected; \`npm start\` fetches the accepted locations`,
      );
    }
  });

const rerun = rebuildIfStale();
if (rerun !== undefined) {
  process.exitCode = rerun;
} else {
  program.parseAsync(process.argv).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
