/**
 * `npm start` and `npm run pipeline -- <command>`: the pipeline on this machine.
 */
import { Command, InvalidArgumentError } from "commander";
import { planStack } from "./plan";
import { formatPlan } from "./plan-report";

const program = new Command()
  .name("pipeline")
  .description("Run the weather pipeline locally, convert saved responses, or plan a stack under Pulumi mocks.")
  .showHelpAfterError();

program
  .command("plan")
  .description("Run the Pulumi program under mocks with a stack's config and print every resource it declares")
  .requiredOption("--stack <name>", "stack name; config comes from Pulumi.<name>.yaml (missing file = defaults)")
  .option("--config-file <path>", "read config from this file instead of Pulumi.<stack>.yaml")
  .option("--json", "print an array of {type, name, inputs} for other tools")
  .action(async (options: { stack: string; configFile?: string; json?: boolean }) => {
    const resources = await planStack(options);
    process.stdout.write(options.json ? `${JSON.stringify(resources, null, 2)}\n` : formatPlan(options.stack, resources));
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
