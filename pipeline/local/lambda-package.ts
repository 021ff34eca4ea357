/**
 * Builds a Lambda's deployment package exactly from the code archive the Pulumi program
 * declares (the serialized closure plus the packages CallbackFunction chose), and runs it in a
 * fresh Node process laid out like the nodejs22.x runtime: the package unzipped into a task
 * folder, and only the AWS SDK v3 (which that runtime ships) on NODE_PATH.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { unzipSync, zipSync, type Zippable } from "fflate";
import { RUNTIME_PROVIDED_PACKAGES } from "../infra/pipeline-function";
import type { PlannedAsset, PlannedResource } from "./plan";

/** A deployment package as `pulumi up` would upload it. */
export interface LambdaPackage {
  readonly functionName: string;
  /** The zip file's bytes. */
  readonly zip: Uint8Array;
  readonly fileCount: number;
  /** Bytes of the serialized closure, __index.js. */
  readonly indexBytes: number;
}

/** Adds a file or a whole folder (as Pulumi's FileArchive does) to the zip under `archivePath`. */
function addPath(files: Zippable, archivePath: string, sourcePath: string): void {
  const stat = statSync(sourcePath);
  if (stat.isDirectory()) {
    for (const entry of readdirSync(sourcePath)) {
      addPath(files, `${archivePath}/${entry}`, path.join(sourcePath, entry));
    }
  } else {
    files[archivePath] = readFileSync(sourcePath);
  }
}

/** Builds the zip of a planned `aws:lambda/function:Function`. Relative paths are from `projectDir`. */
export function buildLambdaPackage(resource: PlannedResource, projectDir: string): LambdaPackage {
  const code = resource.inputs["code"] as { assets?: Record<string, PlannedAsset> } | undefined;
  if (!code?.assets) throw new Error(`${resource.name} has no code archive; is it a CallbackFunction?`);
  const files: Zippable = {};
  let indexBytes = 0;
  for (const [archivePath, asset] of Object.entries(code.assets)) {
    if ("text" in asset) {
      files[archivePath] = new TextEncoder().encode(asset.text);
      if (archivePath === "__index.js") indexBytes = files[archivePath].byteLength;
    } else {
      addPath(files, archivePath, path.resolve(projectDir, asset.path));
    }
  }
  // Deflate at level 6, like the engine's zip writer; fixed timestamps make the size reproducible.
  const zip = zipSync(files, { level: 6, mtime: new Date("2000-01-01T00:00:00Z") });
  const name = typeof resource.inputs["name"] === "string" ? resource.inputs["name"] : resource.name;
  return { functionName: name, zip, fileCount: Object.keys(files).length, indexBytes };
}

/** Unzips a package into `taskDir`, as Lambda does into /var/task. */
export function extractLambdaPackage(pkg: LambdaPackage, taskDir: string): void {
  for (const [name, bytes] of Object.entries(unzipSync(pkg.zip))) {
    const file = path.join(taskDir, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, bytes);
  }
}

/** Finds where `name` is installed as seen from `fromDir`, walking up node_modules folders. */
function findPackageDir(name: string, fromDir: string): string {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "node_modules", name);
    if (existsSync(path.join(candidate, "package.json"))) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`cannot find package ${name} from ${fromDir}`);
  }
}

/**
 * Lays out what the runtime provides in /var/runtime/node_modules: the SDK clients the packages
 * leave out (RUNTIME_PROVIDED_PACKAGES) and everything they depend on, linked from this
 * project's node_modules, and nothing else, so a package that forgot a dependency fails here as
 * it would in AWS.
 */
export function prepareRuntimeModules(runtimeDir: string, projectDir: string): string {
  const modulesDir = path.join(runtimeDir, "node_modules");
  const seen = new Set<string>();
  const visit = (name: string, fromDir: string): void => {
    const dir = findPackageDir(name, fromDir);
    if (seen.has(dir)) return;
    seen.add(dir);
    const link = path.join(modulesDir, name);
    if (!existsSync(link)) {
      mkdirSync(path.dirname(link), { recursive: true });
      symlinkSync(dir, link, "dir");
    }
    const manifest = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as {
      dependencies?: Record<string, string>;
    };
    for (const dep of Object.keys(manifest.dependencies ?? {})) visit(dep, dir);
  };
  for (const name of RUNTIME_PROVIDED_PACKAGES) visit(name, projectDir);
  return modulesDir;
}

/** What one invocation of a packaged handler returned. */
export interface InvocationResult {
  readonly ok: boolean;
  /** The handler's return value when ok. */
  readonly result?: unknown;
  /** The error's name and message when not, as Lambda reports errorType and errorMessage. */
  readonly errorType?: string;
  readonly errorMessage?: string;
  /** From process start to the handler's answer: a cold start plus one invocation. */
  readonly wallMs: number;
  /** From process start to __index.js loaded (Lambda's "Init Duration" without the runtime's own start). */
  readonly initMs: number;
  /** The handler's call, from invocation to its answer (Lambda's "Duration"). */
  readonly handlerMs: number;
  /** CPU time (user + system, all threads) of the process until the answer, and of the handler's call alone. */
  readonly cpuMs: number;
  readonly handlerCpuMs: number;
  /** Peak resident memory of the process until the answer (Lambda's "Max Memory Used"). */
  readonly maxRssBytes: number;
  readonly nodeVersion: string;
  /** What the function printed (stdout and stderr), as it would appear in CloudWatch Logs. */
  readonly logs: string;
}

/**
 * The child's side: load the handler the way the runtime does (__index.handler), invoke it once,
 * and answer on file descriptor 3, apart from the function's own output.
 */
const BOOTSTRAP = `
const started = Number(process.env.STARTED_AT_MS);
const cpu = () => { const u = process.resourceUsage(); return (u.userCPUTime + u.systemCPUTime) / 1000; };
// VmHWM, this program's own peak: ru_maxrss carries over an exec the RSS of the process that
// forked (the bench's, or a test's), which Lambda's "Max Memory Used" does not include.
const peakRss = () => {
  const match = /VmHWM:\\s+(\\d+) kB/.exec(require("node:fs").readFileSync("/proc/self/status", "utf8"));
  return match ? Number(match[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
};
let initMs = 0, invokedAt = 0, cpuAtInvoke = 0;
const reply = (body) => {
  const answeredAt = Date.now();
  const cpuMs = cpu();
  require("node:fs").writeSync(3, JSON.stringify({
    ...body, nodeVersion: process.version, wallMs: answeredAt - started, initMs, handlerMs: answeredAt - invokedAt,
    cpuMs, handlerCpuMs: cpuMs - cpuAtInvoke, maxRssBytes: peakRss(),
  }));
};
(async () => {
  const { handler } = require(process.env.LAMBDA_TASK_ROOT + "/__index.js");
  const context = { functionName: process.env.AWS_LAMBDA_FUNCTION_NAME, getRemainingTimeInMillis: () => 60000 };
  invokedAt = Date.now();
  initMs = invokedAt - started;
  cpuAtInvoke = cpu();
  try {
    reply({ ok: true, result: await handler(JSON.parse(process.env.LAMBDA_EVENT), context) });
  } catch (error) {
    reply({ ok: false, errorType: error && error.name, errorMessage: error && error.message });
  }
})();
`;

/**
 * The V8 heap limits the nodejs Lambda runtime's bootstrap derives from the function's memory
 * (as AWS's base images have set them: a tenth for the young generation, in two semi-spaces, the
 * rest for the old one), so a package runs here within the heap it gets there.
 */
export function lambdaNodeFlags(memoryMb: number): string[] {
  const newSpace = Math.round(memoryMb / 10);
  return [`--max-semi-space-size=${Math.floor(newSpace / 2)}`, `--max-old-space-size=${memoryMb - newSpace}`];
}

/**
 * Invokes `__index.handler` of an unzipped package once, in a new `node` process (this one's
 * binary), with `env` added to a minimal Lambda-like environment. `memoryMb` sets the heap
 * limits the runtime would (lambdaNodeFlags) and AWS_LAMBDA_FUNCTION_MEMORY_SIZE; `prefix` is a
 * command the process is started through (e.g. one that limits its CPU).
 */
export function invokeLambdaPackage(options: {
  taskDir: string;
  runtimeModulesDir: string;
  functionName: string;
  event: unknown;
  env: Readonly<Record<string, string>>;
  timeoutMs?: number;
  memoryMb?: number;
  prefix?: readonly string[];
}): Promise<InvocationResult> {
  const env: Record<string, string> = {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    LAMBDA_TASK_ROOT: options.taskDir,
    NODE_PATH: options.runtimeModulesDir,
    AWS_LAMBDA_FUNCTION_NAME: options.functionName,
    AWS_REGION: "eu-west-1",
    TZ: "UTC",
    LAMBDA_EVENT: JSON.stringify(options.event ?? {}),
    STARTED_AT_MS: String(Date.now()),
    ...(options.memoryMb === undefined ? {} : { AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(options.memoryMb) }),
    ...options.env,
  };
  const nodeArgs = [...(options.memoryMb === undefined ? [] : lambdaNodeFlags(options.memoryMb)), "-e", BOOTSTRAP];
  const [command, ...args] = [...(options.prefix ?? []), process.execPath, ...nodeArgs] as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.taskDir,
      env,
      stdio: ["ignore", "pipe", "pipe", "pipe"],
    });
    let answer = "";
    let logs = "";
    child.stdout?.on("data", (chunk: Buffer) => (logs += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (logs += chunk.toString()));
    child.stdio[3]?.on("data", (chunk: Buffer) => (answer += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (!answer) {
        reject(new Error(`${options.functionName} exited with code ${code} before its handler answered:\n${logs}`));
        return;
      }
      resolve({ ...(JSON.parse(answer) as Omit<InvocationResult, "logs">), logs });
    });
  });
}
