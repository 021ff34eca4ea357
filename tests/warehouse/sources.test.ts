/**
 * Sources in the warehouse: a table `source_<name>` per configured source, its columns those of
 * the source's Parquet files and of its Glue table, loaded from the files the real source
 * transform wrote, on a real PostgreSQL server and on PGlite.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { DirectoryObjectStore } from "../../pipeline/core/storage";
import {
  sourceBodyKey,
  sourceCuratedKey,
  sourceSchema,
  transformSource,
  type SourceDefinition,
} from "../../pipeline/sources";
import {
  LOAD_LEDGER_TABLE,
  createLoadHandler,
  loadSourceDates,
  migrateWarehouse,
  postgresType,
  sourceTableFileKey,
  sourceWarehouseTable,
  type SourceLoadResult,
  type WarehouseDatabase,
} from "../../pipeline/warehouse";
import { rejectionOf } from "../support/rejection";
import { pgliteEngine, postgresEngine, type WarehouseEngine } from "../support/warehouse";
import { jsonSource, latin1Crlf, portalCsvSource } from "../sources/support";

const SETTINGS = { hourlyVariables: ["temperature_2m"], dailyVariables: [] as string[] };
const HEADER = "Station;Zeitpunkt;Name;Temperatur;Feuchte";

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function describeEngine(engine: WarehouseEngine): void {
  describe(`sources in the warehouse (${engine.name})`, function () {
    this.timeout(180_000);
    let work: string;
    let raw: DirectoryObjectStore;
    let curated: DirectoryObjectStore;
    let db: WarehouseDatabase;
    const stations = portalCsvSource();
    const feed = jsonSource("jsonl");
    const tables = [stations, feed].map((s) => sourceWarehouseTable(sourceSchema(s), s.key));

    before(async () => engine.start());
    after(async () => engine.stop());
    beforeEach(async () => {
      work = mkdtempSync(path.join(tmpdir(), "warehouse-sources-"));
      raw = new DirectoryObjectStore(path.join(work, "raw"));
      curated = new DirectoryObjectStore(path.join(work, "curated"));
      db = await engine.fresh();
    });
    afterEach(async () => {
      await db.close();
      rmSync(work, { recursive: true, force: true });
    });

    /** Stores a version as the fetch does and runs the real transform; returns the dates it wrote. */
    async function transform(source: SourceDefinition, bytes: Uint8Array): Promise<string[]> {
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      const key = sourceBodyKey(source, sha256);
      await raw.putObject(key, bytes, { contentType: "text/plain" });
      const result = await transformSource(
        { source: source.name, key, sha256 },
        { source, rawStore: raw, curatedStore: curated, log: () => undefined, writtenBy: "test" },
      );
      return result.files.map((f) => f.date);
    }

    function load(source: string, dates: readonly string[]): Promise<SourceLoadResult> {
      return loadSourceDates(source, dates, {
        settings: SETTINGS,
        curatedStore: curated,
        database: db,
        sourceTables: tables,
        catchUpDays: 7,
        log: () => undefined,
      });
    }

    async function columnsOf(table: string): Promise<[string, string][]> {
      const rows = await db.query<{ column_name: string; data_type: string }>(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        [table],
      );
      return rows.map((r) => [r.column_name, r.data_type]);
    }

    it("has a table per source whose columns are the Parquet file's and the Glue table's, plus the date", async () => {
      await transform(stations, latin1Crlf([HEADER, "a;20.11.2026 10:00;Ä;1,5;80"]));
      await transform(feed, Buffer.from('{"id":"x","observed":"2026-11-20T08:00:00Z","temp":3.5,"gusts":true}\n'));
      await migrateWarehouse(db, SETTINGS, tables);
      for (const source of [stations, feed]) {
        const schema = sourceSchema(source);
        const { body } = await curated.getObject(sourceCuratedKey(source.name, "2026-11-20"));
        const parquet = parquetMetadata(toArrayBuffer(body))
          .schema.slice(1)
          .map((e) => e.name);
        const glue = schema.columns.map((c): [string, string] => [c.name, postgresType(c.glueType)]);
        expect(parquet).to.deep.equal(schema.columns.map((c) => c.name));
        expect(await columnsOf(`source_${source.name}`)).to.deep.equal([...glue, ["date", "date"]]);
      }
      // A JSON Lines source with a boolean loads too.
      const loadedFeed = await load(feed.name, ["2026-11-20"]);
      expect(loadedFeed.files.map((f) => f.rows)).to.deep.equal([1]);
      const gusts = await db.query<{ gusts: boolean; temperature: number }>(
        "SELECT gusts, temperature FROM source_feed",
      );
      expect(gusts).to.deep.equal([{ gusts: true, temperature: 3.5 }]);
      // The declared types, as PostgreSQL spells them: integer is bigint, boolean stays boolean.
      expect(await columnsOf("source_feed")).to.deep.include(["gusts", "boolean"]);
      expect(await columnsOf("source_city_stations")).to.deep.include(["humidity_pct", "bigint"]);
      const pk = await db.query<{ column_name: string }>(
        `SELECT a.attname AS column_name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
         WHERE i.indrelid = 'source_city_stations'::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)`,
      );
      expect(pk.map((r) => r.column_name)).to.deep.equal(["station_id", "time"]);
    });

    it("loads the dates a transform wrote, rows equal to the Parquet rows, one ledger row per date", async () => {
      const dates = await transform(
        stations,
        latin1Crlf([
          HEADER,
          "a;20.11.2026 10:00;Ä;1,5;80",
          "b;20.11.2026 10:00;Bé;-2,25;",
          "a;21.11.2026 10:00;Ä;7,5;60",
        ]),
      );
      expect(dates).to.deep.equal(["2026-11-20", "2026-11-21"]);
      const result = await load(stations.name, dates);
      expect(result.files.map((f) => [f.key, f.rows, f.replacedRows])).to.deep.equal([
        [sourceCuratedKey(stations.name, "2026-11-20"), 2, 0],
        [sourceCuratedKey(stations.name, "2026-11-21"), 1, 0],
      ]);
      const loaded = await db.query<Record<string, unknown>>(
        `SELECT station_id, station_name, (extract(epoch FROM "time") * 1000)::float8 AS ms, air_temperature_c, humidity_pct::float8 AS humidity_pct, to_char("date", 'YYYY-MM-DD') AS date
         FROM source_city_stations ORDER BY "date", station_id`,
      );
      const expected: Record<string, unknown>[] = [];
      for (const date of dates) {
        const { body } = await curated.getObject(sourceCuratedKey(stations.name, date));
        for (const row of (await parquetReadObjects({ file: toArrayBuffer(body) })) as Record<string, unknown>[]) {
          expected.push({
            station_id: row["station_id"],
            station_name: row["station_name"],
            ms: (row["time"] as Date).getTime(),
            air_temperature_c: row["air_temperature_c"],
            humidity_pct: row["humidity_pct"] === null ? null : Number(row["humidity_pct"]),
            date,
          });
        }
      }
      expect(loaded).to.deep.equal(expected);
      expect(loaded.map((r) => r["station_name"])).to.deep.equal(["Ä", "Bé", "Ä"]);
      const ledger = await db.query<{ date: string; rows: number }>(
        `SELECT to_char("date", 'YYYY-MM-DD') AS date, "rows"::int AS rows FROM ${LOAD_LEDGER_TABLE} WHERE dataset = 'source_city_stations' ORDER BY 1`,
      );
      expect(ledger).to.deep.equal([
        { date: "2026-11-20", rows: 2 },
        { date: "2026-11-21", rows: 1 },
      ]);
    });

    it("replaces a date a newer version changed, and loads nothing when nothing changed", async () => {
      await load(stations.name, await transform(stations, latin1Crlf([HEADER, "a;20.11.2026 10:00;Ä;1,5;80"])));
      const again = await load(stations.name, []);
      expect(again.files).to.deep.equal([]);
      const dates = await transform(
        stations,
        latin1Crlf([HEADER, "a;20.11.2026 10:00;Ä;2,5;80", "a;20.11.2026 11:00;Ä;3;81"]),
      );
      const result = await load(stations.name, dates);
      expect(result.files.map((f) => [f.rows, f.replacedRows])).to.deep.equal([[2, 1]]);
      const values = await db.query<{ t: number }>(
        `SELECT air_temperature_c AS t FROM source_city_stations ORDER BY "time"`,
      );
      expect(values.map((r) => r.t)).to.deep.equal([2.5, 3]);
    });

    it("catches up a date whose file the ledger lacks, or that changed since its load, without being told", async () => {
      await transform(stations, latin1Crlf([HEADER, "a;20.11.2026 10:00;Ä;1,5;80", "a;21.11.2026 10:00;Ä;2;80"]));
      // Nothing named: both dates are in the bucket and not in the ledger.
      const first = await load(stations.name, []);
      expect(first.files.map((f) => f.key)).to.deep.equal([
        sourceTableFileKey("source_city_stations", "2026-11-20"),
        sourceTableFileKey("source_city_stations", "2026-11-21"),
      ]);
      // The same key function as the transform's.
      expect(first.files[0]!.key).to.equal(sourceCuratedKey(stations.name, "2026-11-20"));
      // A later transform whose load failed: the next load finds the changed file by its hash.
      await transform(stations, latin1Crlf([HEADER, "a;21.11.2026 10:00;Ä;9;80"]));
      const second = await load(stations.name, []);
      expect(second.files.map((f) => [f.key, f.replacedRows])).to.deep.equal([
        [sourceCuratedKey(stations.name, "2026-11-21"), 1],
      ]);
    });

    it("refuses a source the stack does not list, naming it and the ones it does", async () => {
      const error = await rejectionOf(load("elsewhere", []));
      expect(error.message).to.equal(
        "source elsewhere is not one of this stack's sources (city_stations, feed); add it to weather-pipeline:sources, or load a source the stack lists",
      );
    });

    it("takes LoadSource events in the load handler, and refuses a malformed one with what it needs", async () => {
      const dates = await transform(stations, latin1Crlf([HEADER, "a;20.11.2026 10:00;Ä;1,5;80"]));
      const handler = createLoadHandler({
        settings: { ...SETTINGS, timezone: "UTC" },
        curatedStore: curated,
        connect: () => Promise.resolve(db),
        catchUpDays: 7,
        maxDatesPerRun: 7,
        sourceTables: tables,
        log: () => undefined,
      });
      const result = (await handler({ source: stations.name, dates })) as SourceLoadResult;
      expect(result.files.map((f) => f.rows)).to.deep.equal([1]);
      const error = await rejectionOf(handler({ source: stations.name, dates: ["20.11.2026"] }));
      expect(error.message).to.contain("20.11.2026");
    });

    it("names Open-Meteo's renamed columns in its tables as columnNames says, as in Parquet and Glue", async () => {
      await migrateWarehouse(db, { ...SETTINGS, columnNames: { temperature_2m: "air_temperature_c" } });
      const columns = (await columnsOf("weather_hourly")).map(([name]) => name);
      expect(columns).to.include("air_temperature_c");
      expect(columns).to.not.include("temperature_2m");
    });
  });
}

describeEngine(pgliteEngine());
describeEngine(postgresEngine());
