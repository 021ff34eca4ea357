/**
 * Runs `pipeline plan --json` for a stack in a child process (Pulumi's runtime is global, so
 * one program run per process), and caches the result per stack and config file.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { type PlannedResource, PROJECT_DIR } from "../../pipeline/local/plan";
import { pipelineArgs } from "./cli";

const run = promisify(execFile);
const cache = new Map<string, Promise<PlannedResource[]>>();

/** The outcome of a plan that is expected to fail. */
export interface FailedPlan {
  readonly exitCode: number;
  readonly stderr: string;
}

function spawnPlan(stack: string, configFile?: string) {
  const args = pipelineArgs("plan", "--stack", stack, "--json");
  if (configFile) args.push("--config-file", configFile);
  return run(process.execPath, args, { cwd: PROJECT_DIR, maxBuffer: 256 * 1024 * 1024 });
}

/** The resources the program declares for `stack`. */
export function planOf(stack: string, configFile?: string): Promise<PlannedResource[]> {
  const key = `${stack}|${configFile ?? ""}`;
  let plan = cache.get(key);
  if (!plan) {
    plan = spawnPlan(stack, configFile).then(({ stdout }) => JSON.parse(stdout) as PlannedResource[]);
    cache.set(key, plan);
  }
  return plan;
}

/**
 * The resources the program declares for each of `stacks` (all with `configFile`, else each
 * with its own stack file), planned one after another in one child process.
 */
export async function plansOf(stacks: readonly string[], configFile?: string): Promise<Map<string, PlannedResource[]>> {
  const { stdout } = await run(
    process.execPath,
    ["-r", "ts-node/register", "tests/support/plan-stacks.ts", JSON.stringify({ stacks, configFile })],
    { cwd: PROJECT_DIR, maxBuffer: 512 * 1024 * 1024 },
  );
  const plans = JSON.parse(stdout) as Record<string, PlannedResource[]>;
  return new Map(stacks.map((stack) => [stack, plans[stack]!]));
}

/** Runs a plan that should fail and returns its exit code and error output. */
export async function failedPlanOf(stack: string, configFile: string): Promise<FailedPlan> {
  try {
    await spawnPlan(stack, configFile);
  } catch (error) {
    const e = error as { code?: number; stderr?: string };
    return { exitCode: e.code ?? -1, stderr: e.stderr ?? "" };
  }
  throw new Error(`the plan of ${stack} with ${configFile} succeeded; expected it to fail`);
}

/** All resources of a type. */
export function ofType(plan: readonly PlannedResource[], type: string): PlannedResource[] {
  return plan.filter((r) => r.type === type);
}

/** The one resource of a type and name; fails the test if absent. */
export function find(plan: readonly PlannedResource[], type: string, name: string): PlannedResource {
  const found = plan.find((r) => r.type === type && r.name === name);
  if (!found) {
    const names = ofType(plan, type).map((r) => r.name);
    throw new Error(`no ${type} named ${name}; there are: ${names.join(", ") || "none"}`);
  }
  return found;
}
