/**
 * The warehouse's catch-up and the load handler, against a real PostgreSQL server: which dates a
 * run loads (from the ledger in the database and the curated files), and the two kinds of event.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { DirectoryObjectStore } from "../../pipeline/core/storage";
import { createLoadHandler, loadDate, planWarehouseLoads, type WarehouseDatabase } from "../../pipeline/warehouse";
import { rejectionOf } from "../support/rejection";
import { dailyRows, hourlyRows, postgresEngine, putCuratedFile } from "../support/warehouse";

const SETTINGS = {
  hourlyVariables: ["temperature_2m"],
  dailyVariables: ["temperature_2m_max"],
  timezone: "Europe/Berlin",
};
// 2026-11-20 00:30 in Berlin: yesterday is 2026-11-19 there (still the 19th in UTC would make it the 18th).
const NOW = () => new Date("2026-11-19T23:30:00Z");

describe("the warehouse's catch-up and the load handler", function () {
  this.timeout(120_000);
  const engine = postgresEngine();
  let work: string;
  let store: DirectoryObjectStore;
  let db: WarehouseDatabase;
  const lines: string[] = [];

  before(() => engine.start());
  after(() => engine.stop());
  beforeEach(async () => {
    work = mkdtempSync(path.join(tmpdir(), "plan-loads-"));
    store = new DirectoryObjectStore(path.join(work, "curated"));
    db = await engine.fresh();
    lines.length = 0;
  });
  afterEach(async () => {
    await db.close();
    rmSync(work, { recursive: true, force: true });
  });

  const put = async (date: string, which: "both" | "hourly" = "both", salt = 0) => {
    await putCuratedFile(
      store,
      "weather_hourly",
      date,
      SETTINGS,
      hourlyRows(date, ["a"], SETTINGS.hourlyVariables, salt),
    );
    if (which === "both")
      await putCuratedFile(
        store,
        "weather_daily",
        date,
        SETTINGS,
        dailyRows(date, ["a"], SETTINGS.dailyVariables, salt),
      );
  };
  const deps = (maxDatesPerRun = 7) => ({
    settings: SETTINGS,
    curatedStore: store,
    database: db,
    catchUpDays: 7,
    maxDatesPerRun,
    now: NOW,
    log: (line: string) => lines.push(line),
  });

  it("adds the window's dates whose files exist but are not loaded, or changed since their load", async () => {
    await put("2026-11-18"); // loaded below, unchanged: nothing to do
    await put("2026-11-17"); // never loaded
    await put("2026-11-16"); // loaded, then the transform re-ran it
    await put("2026-11-15", "hourly"); // incomplete: the plan step's to transform
    await put("2026-11-12"); // outside the window (7 days ending with yesterday, the 19th, start on the 13th)
    await loadDate("2026-11-18", { settings: SETTINGS, curatedStore: store, database: db });
    await loadDate("2026-11-16", { settings: SETTINGS, curatedStore: store, database: db });
    await put("2026-11-16", "both", 5);
    const plan = { dates: [{ date: "2026-11-19" }, { date: "2026-11-14" }] };
    const result = await planWarehouseLoads({ plan, input: {} }, deps());
    expect(result.dates).to.deep.equal([
      { date: "2026-11-19" },
      { date: "2026-11-14" },
      { date: "2026-11-17", loadOnly: true },
      { date: "2026-11-16", loadOnly: true },
    ]);
    expect(lines).to.deep.equal([
      "load catch-up 2026-11-17: weather_hourly not loaded, weather_daily not loaded; loading it",
      "load catch-up 2026-11-16: weather_hourly changed since its load, weather_daily changed since its load; loading it",
    ]);
    // Bounded per run, newest first; the rest wait.
    const bounded = await planWarehouseLoads({ plan, input: {} }, deps(1));
    expect(bounded.dates.slice(2)).to.deep.equal([{ date: "2026-11-17", loadOnly: true }]);
    expect(lines.at(-1)).to.equal("load catch-up: 1 more date(s) (2026-11-16) wait for later runs");
  });

  it("leaves a run of one date alone, and turns a redriven failed load into a load-only run", async () => {
    await put("2026-11-17");
    const plan = { dates: [{ date: "2026-11-10" }] };
    expect(await planWarehouseLoads({ plan, input: { date: "2026-11-10" } }, deps())).to.deep.equal(plan);
    expect(await planWarehouseLoads({ plan, input: { date: "2026-11-10", loadOnly: true } }, deps())).to.deep.equal({
      dates: [{ date: "2026-11-10", loadOnly: true }],
    });
    expect((await rejectionOf(planWarehouseLoads({ plan, input: { date: "2026-13-01" } }, deps()))).message).to.contain(
      '"2026-13-01"; it must be a calendar date',
    );
  });

  it("the handler loads a date, plans loads, and closes its connection after each invocation", async () => {
    await put("2026-11-17");
    let opened = 0;
    let closed = 0;
    const handler = createLoadHandler({
      ...deps(),
      connect: () => {
        opened++;
        return Promise.resolve(
          Object.assign(Object.create(db) as WarehouseDatabase, { close: () => Promise.resolve(void closed++) }),
        );
      },
    });
    const planned = await handler({ plan: { dates: [{ date: "2026-11-19" }] }, input: {} });
    expect(planned).to.deep.equal({ dates: [{ date: "2026-11-19" }, { date: "2026-11-17", loadOnly: true }] });
    // What Transform returns is what Load gets.
    const loaded = await handler({ date: "2026-11-17", files: [], rawObjects: 1 });
    expect(loaded).to.deep.include({ date: "2026-11-17", migrations: [] });
    expect([opened, closed]).to.deep.equal([2, 2]);
    expect(lines.at(-1)).to.match(
      /^loaded 2026-11-17: weather_hourly 24 rows \(replaced 0\), weather_daily 1 rows \(replaced 0\) into postgres:\/\//,
    );
    const bad = await rejectionOf(handler({ day: "2026-11-17" }));
    expect(bad.message).to.contain('the load event is {"day":"2026-11-17"}; it needs "date"');
    expect((await rejectionOf(handler({ plan: {} }))).message).to.contain('it needs "plan"');
    expect([opened, closed]).to.deep.equal([2, 2]);
  });
});
