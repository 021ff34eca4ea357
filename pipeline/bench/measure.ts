/**
 * Whole-process measurements for `npm run bench`: a command run as a child process, as a user
 * runs it, with its wall time (spawn to exit, seen from here) and the peak RSS and CPU time of
 * each Node process it ran, as reported by that process (usage-preload.ts, preloaded through
 * NODE_OPTIONS: `npm run x` runs npm's Node and then the script's, and both report).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { DIST_DIR } from "../local/build";

/** What one Node process of a measured command used, from its own process.resourceUsage(). */
export interface ProcessUsage {
  readonly pid: number;
  readonly ppid: number;
  /** Its argv without the node binary: the script first. */
  readonly argv: readonly string[];
  /** Peak resident memory (ru_maxrss). */
  readonly maxRssBytes: number;
  /** User + system CPU time, all threads. */
  readonly cpuMs: number;
}

/** A command's run. */
export interface MeasuredCommand {
  /** From spawn to exit, as the caller waits for it. */
  readonly wallMs: number;
  /** Every Node process of the command, in the order they exited. */
  readonly processes: readonly ProcessUsage[];
  /** CPU time of all its Node processes. */
  readonly cpuMs: number;
  readonly stdout: string;
}

/** The preload, compiled (plain Node loads it, whoever runs this module). */
const PRELOAD = path.join(DIST_DIR, "pipeline", "bench", "usage-preload.js");

/**
 * Runs `command args` to its end and measures it; rejects with its stderr when it fails, or when
 * no Node process reported (a command that is not Node, or one killed by a signal). `env` is
 * added to this process's environment.
 */
export function measureCommand(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: Readonly<Record<string, string>> },
): Promise<MeasuredCommand> {
  const dir = mkdtempSync(path.join(tmpdir(), "bench-usage-"));
  const usageFile = path.join(dir, "usage.jsonl");
  // NODE_OPTIONS takes a quoted path; any earlier options stay.
  const nodeOptions = [process.env["NODE_OPTIONS"], `--require ${JSON.stringify(PRELOAD)}`].filter(Boolean).join(" ");
  return new Promise<MeasuredCommand>((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env, NODE_OPTIONS: nodeOptions, BENCH_USAGE_FILE: usageFile },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const stdout: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const wallMs = performance.now() - started;
      if (code !== 0) {
        reject(new Error(`${command} ${args.join(" ")} exited with ${code ?? signal}:\n${stderr}`));
        return;
      }
      let processes: ProcessUsage[];
      try {
        processes = readFileSync(usageFile, "utf8")
          .split("\n")
          .filter((line) => line !== "")
          .map((line) => JSON.parse(line) as ProcessUsage);
      } catch (error) {
        reject(new Error(`${command} ${args.join(" ")}: no Node process reported its usage (${String(error)})`));
        return;
      }
      const cpuMs = processes.reduce((sum, p) => sum + p.cpuMs, 0);
      resolve({ wallMs, processes, cpuMs, stdout: Buffer.concat(stdout).toString() });
    });
  }).finally(() => rmSync(dir, { recursive: true, force: true }));
}

/** The process of a measured command whose script is `script` (e.g. the CLI under npm). */
export function processRunning(measured: MeasuredCommand, script: string): ProcessUsage {
  const found = measured.processes.find((p) => p.argv[0] !== undefined && path.resolve(p.argv[0]) === script);
  if (!found) {
    throw new Error(
      `no process of the command ran ${script}; they ran ${measured.processes.map((p) => p.argv[0]).join(", ")}`,
    );
  }
  return found;
}
