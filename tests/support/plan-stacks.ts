/**
 * Plans several stacks one after another in this process and prints `{<stack>: resources}` as
 * JSON: one ts-node start and one load of @pulumi/aws for all of them. The argument is JSON,
 * `{"stacks": [...], "configFile": "..."}`, since a stack name may look like an option (`-x`).
 */
import { planStack } from "../../pipeline/local/plan";

async function main(): Promise<void> {
  const { stacks, configFile } = JSON.parse(process.argv[2] ?? "{}") as { stacks?: string[]; configFile?: string };
  if (!Array.isArray(stacks) || stacks.length === 0) throw new Error('pass {"stacks": [...], "configFile"?: "..."}');
  const plans: Record<string, unknown> = {};
  for (const stack of stacks) {
    try {
      plans[stack] = await planStack({ stack, configFile });
    } catch (error) {
      throw new Error(`the plan of stack ${JSON.stringify(stack)} failed: ${String(error)}`, { cause: error });
    }
  }
  process.stdout.write(`${JSON.stringify(plans)}\n`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
