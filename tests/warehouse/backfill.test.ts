/**
 * The backfill into the warehouse: the real backfill state machine definition of a stack with a
 * warehouse run locally (aws-local-stepfunctions, waits shortened), the planner, ingest,
 * transform and load handlers in-process, the fake Open-Meteo on 127.0.0.1, folder stores, and
 * each of the two engines (a real PostgreSQL server started for the suite, embedded PGlite).
 * Every backfilled date is loaded, rows equal to the Parquet files as DuckDB reads them; a second
 * run rewrites nothing; a backfill written before the warehouse existed is loaded by running it
 * again, without a fetch; an unreachable database is retried, then the window alerts and is
 * dead-lettered with its Parquet written, and its redrive loads it without fetching it again.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { addDays } from "../../pipeline/core/dates";
import { curatedObjectKey, DATASETS } from "../../pipeline/core/keys";
import { DEFAULT_PIPELINE_SETTINGS, type PipelineSettings } from "../../pipeline/core/settings";
import { DirectoryObjectStore } from "../../pipeline/core/storage";
import { openCuratedDatabase } from "../../pipeline/local/duckdb";
import { startFakeOpenMeteo, type FakeOpenMeteo } from "../../pipeline/local/fake-open-meteo";
import { createLocalFunctions, LocalStateMachine } from "../../pipeline/local/run-state-machine";
import { LOAD_LEDGER_TABLE, connectPostgres, type WarehouseDatabase } from "../../pipeline/warehouse";
import { pgliteEngine, postgresEngine, type WarehouseEngine } from "../support/warehouse";

const NOW = new Date("2024-12-10T07:00:00Z");
const STACK = "weather-pipeline-backfill-warehouse";
/** Across the spring DST change of Europe/Berlin: a 23-hour day among the loaded ones. */
const RANGE = { from: "2024-03-20", to: "2024-04-05" };

const BASE: PipelineSettings = {
  ...DEFAULT_PIPELINE_SETTINGS,
  timezone: "Europe/Berlin",
  locations: [
    { name: "amsterdam", latitude: 52.37, longitude: 4.89 },
    { name: "berlin", latitude: 52.52, longitude: 13.41 },
    { name: "lisbon", latitude: 38.72, longitude: -9.14 },
  ],
  hourlyVariables: ["temperature_2m", "relative_humidity_2m", "precipitation", "wind_speed_10m"],
  dailyVariables: ["temperature_2m_max", "temperature_2m_min", "sunrise", "sunset"],
  // Two locations per request: the range is several windows of two requests.
  http: { ...DEFAULT_PIPELINE_SETTINGS.http, maxWeightPerRequest: 4 },
};

function dates(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) out.push(d);
  return out;
}

function sortedJson(rows: readonly Record<string, unknown>[]): string[] {
  return rows.map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1)))));
}

function describeEngine(engine: WarehouseEngine): void {
  describe(`a backfill into the warehouse (${engine.name}), the real state machine run locally`, function () {
    this.timeout(300_000);
    let fake: FakeOpenMeteo;
    let work: string;
    let db: WarehouseDatabase;
    let connectToTest: () => Promise<WarehouseDatabase>;
    let down: boolean;

    before(async () => {
      await engine.start();
      fake = await startFakeOpenMeteo({ now: () => NOW });
    });
    after(async () => {
      await fake?.close();
      await engine.stop();
    });
    beforeEach(async () => {
      work = mkdtempSync(path.join(tmpdir(), "warehouse-backfill-"));
      db = await engine.fresh();
      down = false;
      const server = engine.server();
      if (server) {
        // A connection per invocation, as the Lambda opens one.
        const database = (await db.query<{ d: string }>("SELECT current_database() AS d"))[0]!.d;
        connectToTest = () =>
          connectPostgres({
            host: server.host,
            port: server.port,
            user: server.user,
            password: server.password,
            database,
          });
      } else {
        // PGlite is one embedded instance: each invocation gets it (its close leaves it open).
        const shared = db;
        connectToTest = () => Promise.resolve(shared);
      }
    });
    afterEach(async () => {
      await db.close();
      rmSync(work, { recursive: true, force: true });
    });

    /** A stack's stores, functions and backfill state machine; with or without its warehouse. */
    function stack(options: { warehouse: boolean }) {
      const settings = { ...BASE, forecastApiUrl: fake.forecastUrl, archiveApiUrl: fake.archiveUrl };
      const rawStore = new DirectoryObjectStore(path.join(work, "raw"));
      const curatedStore = new DirectoryObjectStore(path.join(work, "curated"));
      const connect = () =>
        // The database unreachable, as while a cluster is down: what the loader meets as ECONNREFUSED.
        down
          ? connectPostgres({ host: "127.0.0.1", port: 1, user: "x", database: "x", connectTimeoutMs: 1000 })
          : connectToTest();
      const functions = createLocalFunctions({
        settings,
        rawStore,
        curatedStore,
        stack: STACK,
        catchUpDays: 7,
        maxDatesPerRun: 7,
        now: () => NOW,
        retryTuning: { baseDelayMs: 1, maxDelayMs: 5, budgetMs: 5_000 },
        ...(options.warehouse ? { warehouse: { connect } } : {}),
      });
      const machine = new LocalStateMachine({
        stack: STACK,
        functions,
        definition: "backfill",
        waitMs: 5,
        retryIntervalMs: 5,
      });
      return { settings, rawStore, curatedStore, machine };
    }

    const ledger = () =>
      db.query<{ dataset: string; date: string; source_sha256: string; rows: number; loaded_at: Date }>(
        `SELECT "dataset", "date", "source_sha256", "rows", "loaded_at" FROM ${LOAD_LEDGER_TABLE} ORDER BY 1, 2`,
      );

    /** The warehouse holds exactly the rows of the curated files, value by value (DuckDB reads the files). */
    async function expectWarehouseEqualsParquet(curatedStore: DirectoryObjectStore): Promise<void> {
      const duck = await openCuratedDatabase({
        folder: curatedStore.root,
        hourlyVariables: BASE.hourlyVariables,
        dailyVariables: BASE.dailyVariables,
      });
      try {
        for (const [table, order] of [
          ["weather_hourly", `location, "time"`],
          ["weather_daily", `location, "date"`],
        ] as const) {
          const fromFiles = (await duck.query(`SELECT * FROM ${table} ORDER BY ${order}`)).rows.map((r) => ({
            ...r,
            // DuckDB's DATE is a Date at UTC midnight; the warehouse's is the calendar date.
            date: (r["date"] as Date).toISOString().slice(0, 10),
          }));
          const loaded = await db.query(`SELECT * FROM ${table} ORDER BY ${order}`);
          expect(loaded.length, table).to.equal(fromFiles.length);
          expect(sortedJson(loaded), table).to.deep.equal(sortedJson(fromFiles));
        }
      } finally {
        duck.close();
      }
    }

    /** Every dataset and date of the range is in the ledger with the SHA-256 of its file as it is now. */
    async function expectLedgerOfEveryDate(curatedStore: DirectoryObjectStore): Promise<void> {
      const expected: string[] = [];
      for (const dataset of DATASETS) {
        for (const date of dates(RANGE.from, RANGE.to)) {
          const { body } = await curatedStore.getObject(curatedObjectKey(dataset, date));
          expected.push(`${dataset} ${date} ${createHash("sha256").update(body).digest("hex")}`);
        }
      }
      expect((await ledger()).map((r) => `${r.dataset} ${r.date} ${r.source_sha256}`)).to.deep.equal(expected.sort());
    }

    it("loads every backfilled date, rows equal to the Parquet; a second run loads nothing again", async () => {
      const s = stack({ warehouse: true });
      const first = await s.machine.run(RANGE);
      expect(first.status, first.cause).to.equal("SUCCEEDED");
      const loads = s.machine.invocations.filter((i) => i.state === "LoadWindow");
      expect(loads.length, "one load per window").to.be.greaterThan(1);
      expect(loads.every((i) => i.ok)).to.equal(true);
      // Each window was loaded after its transform, with its own range.
      const transforms = s.machine.invocations.filter((i) => i.state === "TransformWindow");
      expect(loads.map((i) => i.event)).to.deep.equal(
        transforms.map((i) => ({ from: (i.event as { from: string }).from, to: (i.event as { to: string }).to })),
      );
      await expectLedgerOfEveryDate(s.curatedStore);
      await expectWarehouseEqualsParquet(s.curatedStore);
      // The spring-forward day: 23 hours for each of the three places.
      const spring = await db.query<{ n: number }>(
        `SELECT count(*)::bigint AS n FROM weather_hourly WHERE "date" = '2024-03-31'`,
      );
      expect(Number(spring[0]!.n)).to.equal(23 * 3);

      const before = await ledger();
      const requests = fake.requests.length;
      const calls = s.machine.invocations.length;
      const second = await s.machine.run(RANGE);
      expect(second.status, second.cause).to.equal("SUCCEEDED");
      const again = s.machine.invocations.slice(calls);
      // Nothing fetched or transformed; each complete window's load found every file loaded as it is.
      expect(fake.requests.length).to.equal(requests);
      expect(new Set(again.map((i) => i.state))).to.deep.equal(new Set(["PlanBackfill", "LoadWindow"]));
      expect(again.filter((i) => i.state === "LoadWindow").length).to.equal(loads.length);
      expect(await ledger(), "not one date rewritten").to.deep.equal(before);
      await expectWarehouseEqualsParquet(s.curatedStore);
    });

    it("loads a backfill written before the stack had a warehouse when it is run again, without fetching anything", async () => {
      const without = stack({ warehouse: false });
      const written = await without.machine.run(RANGE);
      expect(written.status, written.cause).to.equal("SUCCEEDED");
      expect(written.states).to.not.include("LoadWindow");
      const requests = fake.requests.length;

      const withWarehouse = stack({ warehouse: true });
      const run = await withWarehouse.machine.run(RANGE);
      expect(run.status, run.cause).to.equal("SUCCEEDED");
      expect(fake.requests.length, "no request").to.equal(requests);
      expect(new Set(withWarehouse.machine.invocations.map((i) => i.state))).to.deep.equal(
        new Set(["PlanBackfill", "LoadWindow"]),
      );
      await expectLedgerOfEveryDate(withWarehouse.curatedStore);
      await expectWarehouseEqualsParquet(withWarehouse.curatedStore);
    });

    it("retries a window's load while the database is unreachable, then alerts and dead-letters the window, Parquet written; its redrive loads it without fetching it again", async () => {
      const s = stack({ warehouse: true });
      down = true;
      const failed = await s.machine.run(RANGE);
      expect(failed.status).to.equal("FAILED");
      expect(failed.error).to.equal("BackfillFailed");
      const loads = s.machine.invocations.filter((i) => i.state === "LoadWindow");
      expect(loads.length, "retried").to.be.greaterThan(1);
      expect(loads.every((i) => i.errorType === "WarehouseUnavailableError")).to.equal(true);
      // One window failed (the Map stops at the first failure with a concurrency of 1).
      expect(new Set(loads.map((i) => JSON.stringify(i.event))).size).to.equal(1);
      const window = loads[0]!.event as { from: string; to: string };
      expect(s.machine.topic).to.have.lengthOf(1);
      expect(s.machine.topic[0]!.message)
        .to.contain("failed at step LoadWindow")
        .and.contain("WarehouseUnavailableError");
      expect(s.machine.queue.map((m) => [JSON.parse(m.body) as unknown, m.attributes["step"]])).to.deep.equal([
        [window, "LoadWindow"],
      ]);
      // The window's Parquet is written: only its load is missing.
      for (const date of dates(window.from, window.to)) {
        for (const dataset of DATASETS) {
          const key = curatedObjectKey(dataset, date);
          expect(await s.curatedStore.listKeys(key), `${dataset} ${date}`).to.deep.equal([key]);
        }
      }
      // Nothing reached the database: not even the ledger was created.
      const table = await db.query<{ t: string | null }>(`SELECT to_regclass('${LOAD_LEDGER_TABLE}')::text AS t`);
      expect(table[0]!.t).to.equal(null);

      down = false;
      const requests = fake.requests.length;
      const calls = s.machine.invocations.length;
      const { result, outcomes } = await s.machine.redrive();
      expect(result.runs).to.have.lengthOf(1);
      expect(outcomes.map((o) => o.status)).to.deep.equal(["SUCCEEDED"]);
      expect(s.machine.queue).to.deep.equal([]);
      // The redrive planned the complete window load-only: not fetched nor transformed again.
      expect(fake.requests.length).to.equal(requests);
      expect(s.machine.invocations.slice(calls).map((i) => i.state)).to.deep.equal(["PlanBackfill", "LoadWindow"]);
      const loadedDates = (await ledger()).filter((r) => r.dataset === "weather_hourly").map((r) => r.date);
      expect(loadedDates).to.deep.equal(dates(window.from, window.to));

      // The backfill run again completes the rest: every date loaded once, equal to its Parquet.
      const rest = await s.machine.run(RANGE);
      expect(rest.status, rest.cause).to.equal("SUCCEEDED");
      await expectLedgerOfEveryDate(s.curatedStore);
      await expectWarehouseEqualsParquet(s.curatedStore);
    });
  });
}

describeEngine(postgresEngine());
describeEngine(pgliteEngine());
