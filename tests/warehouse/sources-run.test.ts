/**
 * Sources in a run with a warehouse (the real state machine, locally, on PGlite): each source's
 * iteration ends with LoadSource, which loads the dates its transform wrote, and on a run where
 * the file is unchanged loads nothing new.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { parquetReadObjects } from "hyparquet";
import { DEFAULT_PIPELINE_SETTINGS, type PipelineSettings } from "../../pipeline/core/settings";
import { DirectoryObjectStore } from "../../pipeline/core/storage";
import { startFakeOpenMeteo, type FakeOpenMeteo } from "../../pipeline/local/fake-open-meteo";
import { LocalStateMachine, createLocalFunctions } from "../../pipeline/local/run-state-machine";
import { sourceCuratedKey, type SourceDefinition } from "../../pipeline/sources";
import type { WarehouseDatabase } from "../../pipeline/warehouse";
import { pgliteEngine } from "../support/warehouse";
import { portalCsvSource } from "../sources/support";

const NOW = new Date("2026-11-21T06:30:00Z");
const STACK = "weather-pipeline-sources-warehouse";

describe("sources in a run with a warehouse (the real state machine, locally, PGlite)", function () {
  this.timeout(180_000);
  const engine = pgliteEngine();
  let fake: FakeOpenMeteo;
  let work: string;
  let db: WarehouseDatabase;
  let sources: SourceDefinition[];
  let settings: PipelineSettings;

  before(async () => {
    await engine.start();
    const declared = [portalCsvSource()];
    fake = await startFakeOpenMeteo({ now: () => NOW, sources: declared });
    sources = declared.map((s) => ({ ...s, url: fake.sourceUrl(s) }));
    settings = {
      ...DEFAULT_PIPELINE_SETTINGS,
      locations: DEFAULT_PIPELINE_SETTINGS.locations.slice(0, 1),
      timezone: "UTC",
      forecastApiUrl: fake.forecastUrl,
      archiveApiUrl: fake.archiveUrl,
    };
    work = mkdtempSync(path.join(tmpdir(), "warehouse-sources-run-"));
    db = await engine.fresh();
  });
  after(async () => {
    await fake?.close();
    await engine.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const machine = () => {
    const curated = new DirectoryObjectStore(path.join(work, "curated"));
    const functions = createLocalFunctions({
      settings,
      sources,
      rawStore: new DirectoryObjectStore(path.join(work, "raw")),
      curatedStore: curated,
      stack: STACK,
      catchUpDays: 1,
      maxDatesPerRun: 1,
      now: () => NOW,
      retryTuning: { baseDelayMs: 1, maxDelayMs: 5, budgetMs: 5_000 },
      warehouse: { connect: () => Promise.resolve(db) },
    });
    return {
      curated,
      run: new LocalStateMachine({ stack: STACK, sources: sources.map((s) => s.name), functions, retryIntervalMs: 5 }),
    };
  };

  it("loads the dates each source's transform wrote, then nothing when the file is unchanged", async () => {
    const first = machine();
    const outcome = await first.run.run({ date: "2026-11-20" });
    expect(outcome.status, outcome.cause).to.equal("SUCCEEDED");
    const states = first.run.invocations.map((i) => i.state);
    expect(states).to.deep.equal([
      "PlanRun",
      "PlanLoads",
      "Ingest",
      "Transform",
      "Load",
      "FetchSource",
      "TransformSource",
      "LoadSource",
    ]);
    const written = (await first.curated.listKeys("source_city_stations/"))
      .map((k) => /date=(\d{4}-\d{2}-\d{2})\//.exec(k)![1]!)
      .sort();
    expect(written.length).to.be.greaterThan(0);
    const dates = written;
    expect(first.run.invocations.find((i) => i.state === "LoadSource")!.event).to.deep.equal({
      source: "city_stations",
      dates,
    });
    let rowsInFiles = 0;
    for (const date of dates) {
      const { body } = await first.curated.getObject(sourceCuratedKey("city_stations", date));
      const file = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
      rowsInFiles += (await parquetReadObjects({ file })).length;
    }
    const count = async () =>
      (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM source_city_stations"))[0]!.n;
    expect(await count()).to.equal(rowsInFiles);

    const ledger = () =>
      db.query<{ date: string; at: string }>(
        `SELECT to_char("date", 'YYYY-MM-DD') AS date, loaded_at::text AS at FROM warehouse_loads WHERE dataset = 'source_city_stations' ORDER BY 1`,
      );
    const loadedFirst = await ledger();
    expect(loadedFirst.map((r) => r.date)).to.deep.equal(dates);
    const second = machine();
    const again = await second.run.run({ date: "2026-11-20" });
    expect(again.status, again.cause).to.equal("SUCCEEDED");
    const load = second.run.invocations.find((i) => i.state === "LoadSource")!;
    expect(load.event).to.deep.equal({ source: "city_stations", dates: [] });
    expect(load.ok).to.equal(true);
    // Nothing loaded again: the ledger's rows are the first run's, to the microsecond.
    expect(await ledger()).to.deep.equal(loadedFirst);
    expect(await count()).to.equal(rowsInFiles);
  });
});
