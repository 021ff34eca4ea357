/**
 * `npm run pipeline -- backfill --dry-run` as a user runs it (a child process, no AWS, no
 * Pulumi CLI), and the bad inputs it refuses.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { expect } from "chai";
import { PROJECT_DIR } from "../../pipeline/local/plan";

const run = promisify(execFile);

function backfill(...args: string[]) {
  return run(process.execPath, ["-r", "ts-node/register", "pipeline/cli/main.ts", "backfill", ...args], {
    cwd: PROJECT_DIR,
    maxBuffer: 64 * 1024 * 1024,
  });
}

function failureOf(command: Promise<unknown>): Promise<{ code: number; stderr: string } | undefined> {
  return command.then(
    () => undefined,
    (e: { code: number; stderr: string }) => e,
  );
}

describe("npm run pipeline -- backfill", function () {
  this.timeout(300_000);

  it("--dry-run --json prints the windows, requests, weight, the minimum and the days, from the stack file alone", async () => {
    const { stdout } = await backfill(
      "--stack",
      "prod",
      "--from",
      "2024-01-01",
      "--to",
      "2024-12-31",
      "--dry-run",
      "--json",
    );
    const report = JSON.parse(stdout) as {
      windows: { from: string; to: string; dates: number; locations: number; weight: number; requests: number }[];
      requests: number;
      weight: number;
      minimumWeight: number;
      days: number;
      dates: number;
    };
    expect(report.dates).to.equal(366);
    expect(report.windows.reduce((sum, w) => sum + w.dates, 0)).to.equal(366);
    expect(report.windows[0]).to.include({ from: "2024-01-01", locations: 12 });
    expect(report.windows.at(-1)!.to).to.equal("2024-12-31");
    expect(report.requests).to.equal(report.windows.reduce((sum, w) => sum + w.requests, 0));
    expect(report.weight).to.be.closeTo(
      report.windows.reduce((sum, w) => sum + w.weight, 0),
      0.01,
    );
    // prod: 12 locations x 18 variables; Europe/Berlin has one fall-back day in 2024, one day more than the formula.
    expect(report.minimumWeight).to.be.closeTo(12 * 1.8 * (366 / 14), 0.01);
    expect(report.weight).to.be.closeTo(report.minimumWeight + 12 * 1.8 * (1 / 14), 0.01);
    expect(report.days).to.equal(1);
  });

  it("--dry-run prints the plan for people", async () => {
    const { stdout } = await backfill("--stack", "dev", "--from", "2023-01-01", "--to", "2023-12-31", "--dry-run");
    expect(stdout).to.match(
      /^Backfill 2023-01-01 to 2023-12-31 \(Pulumi\.dev\.yaml\): 365 dates x 2 locations x 7 variables/,
    );
    expect(stdout).to.include(
      "weight: 36.5; the formula's minimum for these dates, locations and variables: 36.5 (ratio 1.0000)",
    );
    expect(stdout).to.include("at the free tier's limits (600/min, 5,000/h, 10,000/day)");
  });

  it("refuses bad input with the value and the fix", async () => {
    const cases: [string[], RegExp][] = [
      [["--from", "2024-03-01", "--to", "2024-02-01"], /--from 2024-03-01 is after --to 2024-02-01; swap them/],
      [
        ["--from", "1939-06-01", "--to", "1940-02-01"],
        /--from is 1939-06-01; Open-Meteo's archive starts on 1940-01-01/,
      ],
      [
        ["--from", "2024-13-01", "--to", "2024-12-31"],
        /--from is "2024-13-01"; it must be a calendar date written YYYY-MM-DD/,
      ],
      [["--from", "2024-01-01", "--to", "2999-01-01"], /--to is 2999-01-01, later than yesterday/],
      [
        ["--from", "1950-01-01", "--to", "2024-12-31"],
        /weighs [\d,.]+, more than backfillMaxWeightPerDay 8,000 \(Pulumi\.prod\.yaml\); add --spread to run it over \d+ days/,
      ],
    ];
    for (const [args, message] of cases) {
      const failed = await failureOf(backfill("--stack", "prod", ...args, "--dry-run", "--json"));
      expect(failed, args.join(" ")).to.not.equal(undefined);
      expect(failed!.code, args.join(" ")).to.equal(1);
      expect(failed!.stderr, args.join(" ")).to.match(message);
    }
    // Spread over days, the same range is accepted.
    const { stdout } = await backfill(
      "--stack",
      "prod",
      "--from",
      "1950-01-01",
      "--to",
      "2024-12-31",
      "--dry-run",
      "--json",
      "--spread",
    );
    expect((JSON.parse(stdout) as { days: number }).days).to.be.greaterThan(1);
  });
});
