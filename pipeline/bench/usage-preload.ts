/**
 * Preloaded into every Node process of a command `npm run bench` measures (NODE_OPTIONS
 * `--require`, see measure.ts): when the process exits, it appends its own resource usage (peak
 * RSS, CPU time) as one JSON line to the file named by BENCH_USAGE_FILE. Node gives a parent no
 * resource usage of a child (child_process has no wait4, and process.resourceUsage() is the
 * caller's own), so each process reports its own, with the kernel's figures. Nothing happens
 * without BENCH_USAGE_FILE.
 */
import { appendFileSync } from "node:fs";

const file = process.env["BENCH_USAGE_FILE"];
if (file) {
  process.on("exit", () => {
    const usage = process.resourceUsage();
    const line = {
      pid: process.pid,
      ppid: process.ppid,
      argv: process.argv.slice(1),
      // ru_maxrss, in kilobytes on Linux: the process's peak resident memory.
      maxRssBytes: usage.maxRSS * 1024,
      cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
    };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  });
}
