/**
 * `npm start` and `npm run pipeline -- <command>`: the pipeline on this machine.
 */
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { parseStackConfigValues } from "../infra/config";
import { assertIsoDate } from "../keys";
import { DirectoryObjectStore } from "../storage";
import { transformResponseFiles } from "../transform";
import { PROJECT_DIR, planStack, readProjectName, readStackConfigFile } from "./plan";
import { formatPlan } from "./plan-report";
import { runLocalDay } from "./run";

const program = new Command()
  .name("pipeline")
  .description("Run the weather pipeline locally, convert saved responses, or plan a stack under Pulumi mocks.")
  .showHelpAfterError();

/** The pipeline settings of a stack file, or the embedded defaults (what a new stack gets). */
function settingsOf(stack: string | undefined) {
  const file = stack ? path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`) : undefined;
  const values = file ? readStackConfigFile(file) : {};
  return parseStackConfigValues(values, readProjectName(), file ? path.basename(file) : "embedded defaults").pipeline;
}

function parseDate(value: string): string {
  try {
    assertIsoDate(value, "--date");
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return value;
}

program
  .command("run", { isDefault: true })
  .description("Run one day locally: s3rver on 127.0.0.1 and the embedded fake Open-Meteo (no AWS, no internet)")
  .option("--live", "fetch from the real Open-Meteo API instead of the embedded fake")
  .option("--date <YYYY-MM-DD>", "the day to fetch (default: yesterday in the stack's time zone)", parseDate)
  .option("--stack <name>", "use the locations and variables of Pulumi.<name>.yaml (default: embedded defaults)")
  .option("--data-dir <dir>", "where the local buckets live", ".local-data")
  .option("--preview-rows <n>", "rows to preview per dataset", parsePositiveInteger, 5)
  .action(async (options: { live?: boolean; date?: string; stack?: string; dataDir: string; previewRows: number }) => {
    await runLocalDay({
      settings: settingsOf(options.stack),
      dataDir: path.resolve(options.dataDir),
      date: options.date,
      live: options.live ?? false,
      previewRows: options.previewRows,
      print: (line) => console.log(line),
    });
  });

program
  .command("transform")
  .description("Convert saved Open-Meteo responses (one object or an array) into the curated Parquet layout")
  .argument("<response.json...>", "saved response bodies")
  .requiredOption("--out <dir>", "folder to write <dir>/weather_hourly/date=.../*.parquet and weather_daily")
  .action(async (files: string[], options: { out: string }) => {
    const inputs = await Promise.all(files.map(async (name) => ({ name, body: await readFile(name) })));
    const written = await transformResponseFiles(inputs, new DirectoryObjectStore(path.resolve(options.out)));
    for (const file of written)
      console.log(`${path.join(options.out, file.key)}: ${file.rows} rows, ${file.bytes} bytes`);
  });

program
  .command("plan")
  .description("Run the Pulumi program under mocks with a stack's config and print every resource it declares")
  .requiredOption("--stack <name>", "stack name; config comes from Pulumi.<name>.yaml (missing file = defaults)")
  .option("--config-file <path>", "read config from this file instead of Pulumi.<stack>.yaml")
  .option("--json", "print an array of {type, name, inputs} for other tools")
  .action(async (options: { stack: string; configFile?: string; json?: boolean }) => {
    const resources = await planStack(options);
    process.stdout.write(
      options.json ? `${JSON.stringify(resources, null, 2)}\n` : formatPlan(options.stack, resources),
    );
  });

/** Parses a positive integer option. */
function parsePositiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${value} is not a positive whole number`);
  return n;
}

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
