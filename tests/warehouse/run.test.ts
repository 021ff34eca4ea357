/**
 * The warehouse inside the real state machine (aws-local-stepfunctions runs the definition AWS
 * gets), against the fake Open-Meteo, folder stores and a real PostgreSQL server: a run ends
 * with the date loaded; a date whose Parquet exists but is not loaded is loaded by the next
 * scheduled run without fetching it again; a load that fails after its retries alerts and
 * dead-letters a load-only input, whose redrive loads the date; bad input is not retried.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { startFakeOpenMeteo, type FakeOpenMeteo } from "../../pipeline/local/fake-open-meteo";
import { LocalStateMachine, createLocalFunctions } from "../../pipeline/local/run-state-machine";
import { DEFAULT_PIPELINE_SETTINGS, type PipelineSettings } from "../../pipeline/core/settings";
import { DirectoryObjectStore } from "../../pipeline/core/storage";
import { curatedObjectKey } from "../../pipeline/core/keys";
import { connectPostgres, type WarehouseDatabase } from "../../pipeline/warehouse";
import type { PostgresServer } from "../../pipeline/local/postgres-server";
import { postgresEngine } from "../support/warehouse";

const NOW = new Date("2025-07-20T06:00:00Z");
const YESTERDAY = "2025-07-19";
const STACK = "weather-pipeline-warehouse";

describe("the warehouse in the daily run: catch-up and redrive", function () {
  this.timeout(120_000);
  const engine = postgresEngine();
  let fake: FakeOpenMeteo;
  let work: string;
  let db: WarehouseDatabase;
  let server: PostgresServer;
  let database: string;
  let down: boolean;

  before(async () => {
    await engine.start();
    server = engine.server()!;
    fake = await startFakeOpenMeteo({ now: () => NOW });
  });
  after(async () => {
    await fake?.close();
    await engine.stop();
  });
  beforeEach(async () => {
    work = mkdtempSync(path.join(tmpdir(), "warehouse-run-"));
    db = await engine.fresh();
    database = (await db.query<{ d: string }>("SELECT current_database() AS d"))[0]!.d;
    down = false;
  });
  afterEach(async () => {
    await db.close();
    rmSync(work, { recursive: true, force: true });
  });

  const settings = (): PipelineSettings => ({
    ...DEFAULT_PIPELINE_SETTINGS,
    timezone: "UTC",
    forecastApiUrl: fake.forecastUrl,
    archiveApiUrl: fake.archiveUrl,
  });

  /** A stack: stores, the functions as the Lambdas build them, and its state machine. */
  function stack(options: { warehouse: boolean; now?: Date; catchUpDays?: number }) {
    const raw = new DirectoryObjectStore(path.join(work, "raw"));
    const curated = new DirectoryObjectStore(path.join(work, "curated"));
    const log: string[] = [];
    const connect = async () => {
      // The database unreachable, as while a cluster is down: what the loader meets as ECONNREFUSED.
      if (down)
        return connectPostgres({ host: "127.0.0.1", port: 1, user: "x", database: "x", connectTimeoutMs: 1000 });
      return connectPostgres({
        host: server.host,
        port: server.port,
        user: server.user,
        password: server.password,
        database,
      });
    };
    const functions = createLocalFunctions({
      settings: settings(),
      rawStore: raw,
      curatedStore: curated,
      stack: STACK,
      catchUpDays: options.catchUpDays ?? 3,
      maxDatesPerRun: 5,
      now: () => options.now ?? NOW,
      retryTuning: { baseDelayMs: 5, maxDelayMs: 20, budgetMs: 4_000 },
      log: (line) => log.push(line),
      ...(options.warehouse ? { warehouse: { connect } } : {}),
    });
    return { raw, curated, log, machine: new LocalStateMachine({ stack: STACK, functions, retryIntervalMs: 5 }) };
  }

  const loadedDates = async () =>
    (
      await db.query<{ date: string; n: number }>(
        `SELECT "date", count(*)::bigint AS n FROM weather_hourly GROUP BY 1 ORDER BY 1`,
      )
    ).map((r) => `${r.date}:${r.n}`);

  it("loads the date after Transform, and the next scheduled run loads dates whose Parquet exists but is not loaded", async () => {
    // Two days transformed before the stack had a warehouse.
    const before = stack({ warehouse: false });
    for (const date of ["2025-07-17", "2025-07-18"]) {
      expect((await before.machine.run({ date })).status).to.equal("SUCCEEDED");
    }
    const withWarehouse = stack({ warehouse: true });
    const run = await withWarehouse.machine.run({});
    expect(run.status, run.cause).to.equal("SUCCEEDED");
    expect(await loadedDates()).to.deep.equal(["2025-07-17:48", "2025-07-18:48", `${YESTERDAY}:48`]);
    // Yesterday went through ingest, transform and load; the two old dates through Load alone.
    const calls = withWarehouse.machine.invocations.map(
      (i) => `${i.state}:${(i.event as { date?: string }).date ?? "-"}`,
    );
    expect(calls).to.deep.equal([
      "PlanRun:-",
      "PlanLoads:-",
      `Ingest:${YESTERDAY}`,
      `Transform:${YESTERDAY}`,
      `Load:${YESTERDAY}`,
      "Load:2025-07-18",
      "Load:2025-07-17",
    ]);
    // Nothing left to catch up: the next run loads only its own yesterday.
    const next = await withWarehouse.machine.run({});
    expect(next.status).to.equal("SUCCEEDED");
    expect(
      withWarehouse.machine.invocations
        .slice(7)
        .filter((i) => i.state === "Load")
        .map((i) => (i.event as { date: string }).date),
    ).to.deep.equal([YESTERDAY]);
  });

  it("retries a load while the database is unreachable; after the retries it alerts and dead-letters a load-only input whose redrive loads the date", async () => {
    const s = stack({ warehouse: true });
    down = true;
    const failed = await s.machine.run({ date: YESTERDAY });
    expect(failed.status).to.equal("FAILED");
    const loads = s.machine.invocations.filter((i) => i.state === "Load");
    expect(loads.length, "retried").to.be.greaterThan(1);
    expect(loads.every((i) => i.errorType === "WarehouseUnavailableError")).to.equal(true);
    expect(s.machine.topic).to.have.lengthOf(1);
    expect(s.machine.topic[0]!.message).to.contain("failed at step Load");
    expect(s.machine.queue.map((m) => [JSON.parse(m.body) as unknown, m.attributes["step"]])).to.deep.equal([
      [{ date: YESTERDAY, loadOnly: true }, "Load"],
    ]);
    expect(await s.curated.listKeys("weather_hourly/")).to.deep.equal([curatedObjectKey("weather_hourly", YESTERDAY)]);

    down = false;
    const before = s.machine.invocations.length;
    const { result, outcomes } = await s.machine.redrive();
    expect(result.runs.map((r) => r.date)).to.deep.equal([YESTERDAY]);
    expect(outcomes.map((o) => o.status)).to.deep.equal(["SUCCEEDED"]);
    // The redrive loaded the date without fetching or transforming it again.
    expect(s.machine.invocations.slice(before).map((i) => i.state)).to.deep.equal(["PlanRun", "PlanLoads", "Load"]);
    expect(s.machine.queue).to.deep.equal([]);
    expect(await loadedDates()).to.deep.equal([`${YESTERDAY}:48`]);
  });

  it("a scheduled run with the warehouse unreachable still ingests and transforms; the next run loads what it missed", async () => {
    const s = stack({ warehouse: true });
    down = true;
    const failed = await s.machine.run({});
    // Yesterday's Load failed after its retries (alerted, dead-lettered); its Parquet is there.
    expect(failed.status).to.equal("FAILED");
    expect(s.log.some((l) => l.startsWith("load catch-up skipped this run, the warehouse is unreachable"))).to.equal(
      true,
    );
    expect(s.machine.invocations.filter((i) => i.ok).map((i) => i.state)).to.deep.equal([
      "PlanRun",
      "PlanLoads",
      "Ingest",
      "Transform",
    ]);
    expect(await s.curated.listKeys("weather_daily/")).to.deep.equal([curatedObjectKey("weather_daily", YESTERDAY)]);
    down = false;
    const later = stack({ warehouse: true, now: new Date(NOW.getTime() + 86_400_000) });
    expect((await later.machine.run({})).status).to.equal("SUCCEEDED");
    // The missed load of the 19th, and the new yesterday (with what the window's catch-up ingested).
    expect(await loadedDates()).to.include.members([`${YESTERDAY}:48`, "2025-07-20:48"]);
    expect(
      later.machine.invocations.find((i) => i.state === "Load" && (i.event as { date: string }).date === YESTERDAY),
    ).to.not.equal(undefined);
    expect(
      later.machine.invocations.filter((i) => i.state === "Ingest").map((i) => (i.event as { date: string }).date),
    ).to.not.include(YESTERDAY);
  });

  it("does not retry bad input: a Parquet file of other columns alerts at once", async () => {
    const s = stack({ warehouse: true });
    expect((await s.machine.run({ date: YESTERDAY })).status).to.equal("SUCCEEDED");
    // Someone replaced the date's daily file with one of other columns.
    await s.curated.putObject(
      curatedObjectKey("weather_daily", YESTERDAY),
      await s.curated.getObject(curatedObjectKey("weather_hourly", YESTERDAY)).then((o) => o.body),
      {
        contentType: "application/vnd.apache.parquet",
      },
    );
    const outcome = await s.machine.run({ date: YESTERDAY, loadOnly: true });
    expect(outcome.status).to.equal("FAILED");
    const loads = s.machine.invocations.filter((i) => i.state === "Load" && !i.ok);
    expect(loads.map((i) => i.errorType)).to.deep.equal(["WarehouseError"]);
    expect(loads[0]!.errorMessage).to.contain(
      `${curatedObjectKey("weather_daily", YESTERDAY)}: column 5 is time, but the weather_daily schema has temperature_2m_max there`,
    );
    expect(await loadedDates()).to.deep.equal([`${YESTERDAY}:48`]);
  });
});
