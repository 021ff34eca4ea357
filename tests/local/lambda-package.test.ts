/**
 * What invokeLambdaPackage reports of one invocation (pipeline/local/lambda-package.ts): the
 * heap limits of the function's memory, the handler's own duration and CPU time apart from the
 * process's start, its peak RSS, and a command prefix it runs through. A hand-written
 * __index.js stands in for a package here; tests/infra/lambda-package.test.ts runs the real ones.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { invokeLambdaPackage, lambdaNodeFlags } from "../../pipeline/local/lambda-package";

/** A handler that reports its process's flags and heap limit after burning `cpuMs` of CPU and holding `mb` MB. */
const INDEX = `
exports.handler = async (event) => {
  const start = process.cpuUsage();
  const used = () => { const u = process.cpuUsage(start); return (u.user + u.system) / 1000; };
  while (used() < event.cpuMs) {}
  const held = Buffer.alloc(event.mb * 1024 * 1024, 1);
  await new Promise((resolve) => setTimeout(resolve, event.waitMs));
  return {
    execArgv: process.execArgv.filter((a) => a.startsWith("--")),
    heapLimitMb: require("node:v8").getHeapStatistics().heap_size_limit / 1024 / 1024,
    memory: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? null,
    prefixed: process.env.PREFIXED ?? null,
    held: held.length,
  };
};
`;

describe("invokeLambdaPackage", function () {
  this.timeout(60_000);
  let taskDir: string;

  before(() => {
    taskDir = mkdtempSync(path.join(tmpdir(), "lambda-task-"));
    writeFileSync(path.join(taskDir, "__index.js"), INDEX);
  });

  after(() => rmSync(taskDir, { recursive: true, force: true }));

  it("derives the heap limits of a function's memory as the nodejs runtime does", () => {
    expect(lambdaNodeFlags(1024)).to.deep.equal(["--max-semi-space-size=51", "--max-old-space-size=922"]);
    expect(lambdaNodeFlags(128)).to.deep.equal(["--max-semi-space-size=6", "--max-old-space-size=115"]);
  });

  it("runs the handler within those limits and reports its duration, CPU time and peak RSS", async () => {
    const run = await invokeLambdaPackage({
      taskDir,
      runtimeModulesDir: taskDir,
      functionName: "test-function",
      event: { cpuMs: 150, mb: 200, waitMs: 100 },
      env: {},
      memoryMb: 1024,
    });
    expect(run.ok, run.logs).to.equal(true);
    const result = run.result as { execArgv: string[]; heapLimitMb: number; memory: string; held: number };
    expect(result.execArgv).to.deep.equal(lambdaNodeFlags(1024));
    expect(result.memory).to.equal("1024");
    // The old space plus the young generation (three semi-spaces): near the memory, far below
    // the default limit of this machine (several GB).
    expect(result.heapLimitMb).to.be.within(922, 1200);
    expect(run.handlerCpuMs).to.be.at.least(150);
    expect(run.cpuMs).to.be.at.least(run.handlerCpuMs);
    expect(run.handlerMs).to.be.at.least(100 + 150);
    expect(run.initMs).to.be.at.most(run.wallMs - run.handlerMs + 1);
    expect(run.maxRssBytes).to.be.greaterThan(200 * 1024 * 1024);
  });

  it("starts the process through a prefix command, and without memoryMb sets no limits", async () => {
    const run = await invokeLambdaPackage({
      taskDir,
      runtimeModulesDir: taskDir,
      functionName: "test-function",
      event: { cpuMs: 0, mb: 1, waitMs: 0 },
      env: {},
      prefix: ["env", "PREFIXED=yes"],
    });
    expect(run.ok, run.logs).to.equal(true);
    const result = run.result as { execArgv: string[]; memory: string | null; prefixed: string | null };
    expect(result.prefixed).to.equal("yes");
    expect(result.execArgv).to.deep.equal([]);
    expect(result.memory).to.equal(null);
    expect(run.maxRssBytes).to.be.lessThan(200 * 1024 * 1024);
  });
});
