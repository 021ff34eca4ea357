/**
 * `npm run pipeline -- apply` as a user runs it: files into the local drop zone, each row's
 * decision printed (and as one JSON array with --json), then `npm start` fetching the accepted
 * locations with the stack's own.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { locationIdOf } from "../../pipeline/applications";
import { PROJECT_DIR } from "../../pipeline/local/plan";
import { pipelineArgs } from "../support/cli";

const run = promisify(execFile);
const pipeline = (...args: string[]) =>
  run(process.execPath, pipelineArgs(...args), {
    cwd: PROJECT_DIR,
    maxBuffer: 64 * 1024 * 1024,
  });

describe("pipeline apply (child processes, s3rver on 127.0.0.1)", function () {
  this.timeout(240_000);
  const dir = mkdtempSync(path.join(tmpdir(), "apply-cli-"));
  const dataDir = path.join(dir, "data");
  const places = path.join(dir, "places.csv");
  const more = path.join(dir, "more.json");
  const empty = path.join(dir, "empty.csv");
  writeFileSync(places, "name,latitude,longitude,start_date\r\nleipzig,51.34,12.37,2026-10-01\r\n=x,1,2,\r\n");
  writeFileSync(
    more,
    JSON.stringify([
      { name: "dresden", latitude: 51.05, longitude: 13.74 },
      { name: "leipzig", latitude: 0, longitude: 0 },
    ]),
  );
  writeFileSync(empty, "");

  it("prints one JSON array of every row's decision with --json, and nothing else on stdout", async () => {
    const { stdout } = await pipeline("apply", places, more, empty, "--data-dir", dataDir, "--json");
    const rows = JSON.parse(stdout) as {
      file: string;
      row: number | null;
      name: string | null;
      decision: string;
      id?: string;
      reasons?: { message: string }[];
    }[];
    expect(rows.map((r) => [path.basename(r.file), r.row, r.name, r.decision, r.id ?? null])).to.deep.equal([
      ["places.csv", 2, "leipzig", "accepted", locationIdOf("leipzig", 51.34, 12.37)],
      ["places.csv", 3, "=x", "rejected", null],
      ["more.json", 1, "dresden", "accepted", locationIdOf("dresden", 51.05, 13.74)],
      ["more.json", 2, "leipzig", "rejected", null],
      ["empty.csv", null, null, "rejected", null],
    ]);
    expect(rows[1]!.reasons!.map((r) => r.message)).to.deep.equal([
      'row 3: name is "=x"; it starts with "=", which a spreadsheet would run as a formula; fix: start the name with a letter or digit',
    ]);
    expect(rows[3]!.reasons![0]!.message).to.match(
      /already has a location of that name: "leipzig" \(loc-[0-9a-f]{16}, accepted earlier\)/,
    );
    expect(rows[4]!.reasons![0]!.message).to.match(/the file is empty/);
  });

  it("prints each decision for a person, and the same file again gives the same answer", async () => {
    const { stdout } = await pipeline("apply", places, "--data-dir", dataDir);
    expect(stdout).to.contain(
      `places.csv row 2 "leipzig": accepted as ${locationIdOf("leipzig", 51.34, 12.37)} (history from 2026-10-01 queued)`,
    );
    expect(stdout).to.match(/places\.csv row 3 "=x": rejected: name is "=x"; it starts with "="/);
    expect(stdout).to.match(
      /reasons: s3:\/\/local-applications\/applications\/rejected\/places\.[0-9a-f]{12}\.reasons\.json/,
    );
    expect(stdout).to.contain("1 accepted, 1 rejected");
  });

  it("the next npm start fetches the accepted locations with the stack's own", async () => {
    const { stdout } = await pipeline("run", "--data-dir", dataDir, "--preview-rows", "1");
    expect(stdout).to.contain("locations: 2 from config, 2 from the registry (revision 2)");
    expect(stdout).to.match(/request\(s\) for 4 location\(s\)/);
    expect(stdout).to.match(/weather_daily_\d{4}-\d{2}-\d{2}\.parquet: 4 rows/);
  });

  it("fetches the history of a place accepted with a start_date at once: the dates the stack has get it (DuckDB reads it back)", async () => {
    const halle = path.join(dir, "halle.csv");
    writeFileSync(halle, "name,latitude,longitude,start_date\nhalle,51.48,11.97,2026-01-01\n");
    const { stdout } = await pipeline("apply", halle, "--data-dir", dataDir);
    expect(stdout).to.match(
      /History of halle \(2026-01-01 to \d{4}-\d{2}-\d{2}, embedded fake Open-Meteo: SYNTHETIC values\): added to the 1 date\(s\) that have files \(1 window\(s\)\); [1-9]\d+ date\(s\) without files left to the stack's backfill/,
    );
    // The one date `npm start` wrote now holds halle with the four others, a row each in daily.
    const { stdout: csv } = await pipeline(
      "query",
      "SELECT location, count(*) AS n FROM weather_daily GROUP BY location ORDER BY location",
      "--data-dir",
      dataDir,
      "--format",
      "csv",
    );
    expect(csv.trim().split("\n").slice(1)).to.deep.equal([
      "amsterdam,1",
      "berlin,1",
      "dresden,1",
      "halle,1",
      "leipzig,1",
    ]);
  });
});
