/**
 * Preloaded into every Node process of a command `npm run bench` measures (NODE_OPTIONS
 * `--require`, see measure.ts): when the process exits, it appends its own resource usage (peak
 * RSS, CPU time) as one JSON line to the file named by BENCH_USAGE_FILE. Node gives a parent no
 * resource usage of a child (child_process has no wait4, and process.resourceUsage() is the
 * caller's own), so each process reports its own, with the kernel's figures. Nothing happens
 * without BENCH_USAGE_FILE.
 */
import { appendFileSync, readFileSync } from "node:fs";

/**
 * The process's peak resident memory: VmHWM, the peak of this program's own memory. Not
 * ru_maxrss, which Linux carries over an exec from the process that forked: a child of the
 * bench reported at least the bench's own RSS at the time of the spawn (a transform of 400
 * locations 288-312 MB, where its own peak was 169-179 MB; an empty `node -e` child of a
 * 448 MB parent 385 MB).
 */
function peakRssBytes(): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    if (match) return Number(match[1]) * 1024;
  } catch {
    // Not Linux: ru_maxrss, in kilobytes there too (bytes on macOS, where it is not carried over).
  }
  return process.resourceUsage().maxRSS * 1024;
}

const file = process.env["BENCH_USAGE_FILE"];
if (file) {
  process.on("exit", () => {
    const usage = process.resourceUsage();
    const line = {
      pid: process.pid,
      ppid: process.ppid,
      argv: process.argv.slice(1),
      maxRssBytes: peakRssBytes(),
      cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
    };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  });
}
