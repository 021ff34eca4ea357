/**
 * The bench's whole-process measurement (pipeline/bench/measure.ts): each Node process of a
 * command reports its own peak RSS and CPU time, so a child's figures are the child's, and a
 * command run through npm reports npm's process and the script's apart.
 */
import { expect } from "chai";
import { build, CLI_ENTRY, PROJECT_DIR } from "../../pipeline/local/build";
import { measureCommand, processRunning } from "../../pipeline/bench/measure";

const MB = 1024 * 1024;

describe("bench: measureCommand", function () {
  this.timeout(120_000);

  before(() => build());

  it("reports a child's own peak RSS, not the parent's", async () => {
    // 300 MB touched (filled), then dropped: the peak stays in ru_maxrss.
    const big = await measureCommand(
      process.execPath,
      ["-e", "let a = Buffer.alloc(300 * 1024 * 1024, 1); a = undefined; console.log('done')"],
      { cwd: PROJECT_DIR },
    );
    // Spawned while this process holds 400 MB: Linux's ru_maxrss of the child would include them
    // (it carries the forking process's RSS over the exec), its VmHWM does not.
    const held = Buffer.alloc(400 * MB, 1);
    const small = await measureCommand(process.execPath, ["-e", "console.log('done')"], { cwd: PROJECT_DIR });
    expect(held.byteLength).to.equal(400 * MB);
    expect(big.processes).to.have.length(1);
    expect(big.stdout).to.equal("done\n");
    expect(big.processes[0]?.maxRssBytes).to.be.greaterThan(300 * MB);
    expect(small.processes[0]?.maxRssBytes).to.be.lessThan(150 * MB);
    expect(big.processes[0]?.cpuMs).to.be.greaterThan(0);
    expect(big.cpuMs).to.equal(big.processes[0]?.cpuMs);
    expect(big.wallMs).to.be.greaterThan(0);
  });

  it("counts every Node process of a command run through npm, and finds the script's", async () => {
    const measured = await measureCommand("npm", ["run", "pipeline", "--", "--help"], { cwd: PROJECT_DIR });
    const cli = processRunning(measured, CLI_ENTRY);
    expect(cli.argv.slice(1)).to.deep.equal(["--help"]);
    const npm = measured.processes.filter((p) => p !== cli);
    expect(npm, "npm's own Node process").to.have.length.greaterThanOrEqual(1);
    expect(measured.cpuMs).to.be.closeTo(
      measured.processes.reduce((sum, p) => sum + p.cpuMs, 0),
      1e-6,
    );
    expect(measured.stdout).to.include("Usage: pipeline");
    expect(() => processRunning(measured, "/nowhere.js")).to.throw(/no process of the command ran \/nowhere\.js/);
  });

  it("rejects a failing command with its exit code and stderr", async () => {
    let error: unknown;
    try {
      await measureCommand(process.execPath, ["-e", "console.error('broken on purpose'); process.exit(3)"], {
        cwd: PROJECT_DIR,
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).message).to.match(/exited with 3:\nbroken on purpose/);
  });
});
