/**
 * The load against real engines: a PostgreSQL 15 server started for the suite (initdb + pg_ctl,
 * its own port and socket folder, as an unprivileged user) and embedded PGlite, the same tests
 * on both. Curated files come from the real transform of fake Open-Meteo answers, or are written
 * with the one schema for inputs the pipeline never makes.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { answerOpenMeteoQuery } from "../../pipeline/local/fake-open-meteo";
import { openCuratedDatabase } from "../../pipeline/local/duckdb";
import { DirectoryObjectStore } from "../../pipeline/core/storage";
import type { PipelineSettings } from "../../pipeline/core/settings";
import { curatedObjectKey } from "../../pipeline/core/keys";
import { transformResponseFiles } from "../../pipeline/transform";
import {
  LOAD_LEDGER_TABLE,
  WarehouseError,
  WarehouseUnavailableError,
  connectPostgres,
  loadDate,
  type WarehouseDatabase,
} from "../../pipeline/warehouse";
import { parquetWriteBuffer } from "hyparquet-writer";
import { datasetSchema, parquetSchemaElements } from "../../pipeline/core/schema";
import { rejectionOf } from "../support/rejection";
import {
  dailyRows,
  hourlyRows,
  pgliteEngine,
  postgresEngine,
  putCuratedFile,
  type WarehouseEngine,
} from "../support/warehouse";

type Variables = Pick<PipelineSettings, "hourlyVariables" | "dailyVariables">;
const SETTINGS: Variables = {
  hourlyVariables: ["temperature_2m", "relative_humidity_2m", "precipitation", "wind_speed_10m"],
  dailyVariables: ["temperature_2m_max", "temperature_2m_min", "sunrise", "sunset"],
};
const DATES = ["2026-10-30", "2026-10-31"];

/** Curated files for `dates` from the real transform of fake Open-Meteo answers for three places. */
async function transformedFiles(store: DirectoryObjectStore, dates: readonly string[]): Promise<void> {
  const answer = answerOpenMeteoQuery(
    "/v1/archive",
    {
      latitude: "52.52,48.85,-33.87",
      longitude: "13.41,2.35,151.21",
      hourly: SETTINGS.hourlyVariables.join(","),
      daily: SETTINGS.dailyVariables.join(","),
      start_date: dates[0]!,
      end_date: dates[dates.length - 1]!,
      timezone: "UTC",
    },
    { now: new Date("2026-11-20T12:00:00Z") },
  );
  expect(answer.status).to.equal(200);
  await transformResponseFiles([{ name: "fake.json", body: answer.body }], store);
}

function sortedJson(rows: readonly Record<string, unknown>[]): string[] {
  return rows.map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1)))));
}

function describeEngine(engine: WarehouseEngine): void {
  describe(`the load into ${engine.name}`, function () {
    this.timeout(180_000);
    let work: string;
    let store: DirectoryObjectStore;
    let db: WarehouseDatabase;

    before(async () => {
      await engine.start();
    });
    after(async () => {
      await engine.stop();
    });
    beforeEach(async () => {
      work = mkdtempSync(path.join(tmpdir(), "warehouse-"));
      store = new DirectoryObjectStore(path.join(work, "curated"));
      db = await engine.fresh();
    });
    afterEach(async () => {
      await db.close();
      rmSync(work, { recursive: true, force: true });
    });

    it("creates the tables from the one schema: columns, PostgreSQL types, primary keys, the ledger", async () => {
      await transformedFiles(store, DATES.slice(0, 1));
      const result = await loadDate(DATES[0]!, { settings: SETTINGS, curatedStore: store, database: db });
      expect(result.migrations).to.deep.equal([
        "weather_hourly: created with 10 columns",
        "weather_daily: created with 9 columns",
      ]);
      const columns = await db.query<{
        table_name: string;
        column_name: string;
        data_type: string;
        is_nullable: string;
      }>(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns " +
          "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
      );
      const of = (table: string) =>
        columns
          .filter((c) => c.table_name === table)
          .map((c) => `${c.column_name} ${c.data_type}${c.is_nullable === "NO" ? " not null" : ""}`);
      expect(of("weather_hourly")).to.deep.equal([
        "location text not null",
        "latitude double precision not null",
        "longitude double precision not null",
        "elevation double precision",
        "time timestamp with time zone not null",
        "temperature_2m double precision",
        "relative_humidity_2m double precision",
        "precipitation double precision",
        "wind_speed_10m double precision",
        "date date not null",
      ]);
      expect(of("weather_daily")).to.deep.equal([
        "location text not null",
        "latitude double precision not null",
        "longitude double precision not null",
        "elevation double precision",
        "temperature_2m_max double precision",
        "temperature_2m_min double precision",
        "sunrise timestamp with time zone",
        "sunset timestamp with time zone",
        "date date not null",
      ]);
      const keys = await db.query<{ table_name: string; columns: string }>(
        "SELECT tc.table_name, string_agg(k.column_name, ',' ORDER BY k.ordinal_position) AS columns " +
          "FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage k " +
          "ON k.constraint_name = tc.constraint_name AND k.table_schema = tc.table_schema " +
          "WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema() GROUP BY tc.table_name ORDER BY 1",
      );
      expect(keys).to.deep.equal([
        { table_name: LOAD_LEDGER_TABLE, columns: "dataset,date" },
        { table_name: "weather_daily", columns: "location,date" },
        { table_name: "weather_hourly", columns: "location,time" },
      ]);
      // Up to date: a second load changes no schema.
      expect(
        (await loadDate(DATES[0]!, { settings: SETTINGS, curatedStore: store, database: db })).migrations,
      ).to.deep.equal([]);
    });

    it("loads rows equal to the Parquet files value by value, types included (DuckDB reads the files)", async () => {
      await transformedFiles(store, DATES);
      for (const date of DATES) await loadDate(date, { settings: SETTINGS, curatedStore: store, database: db });
      const duck = await openCuratedDatabase({ folder: store.root, ...SETTINGS });
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
          expect(loaded.length).to.equal(table === "weather_hourly" ? 3 * 24 * DATES.length : 3 * DATES.length);
          expect(sortedJson(loaded)).to.deep.equal(sortedJson(fromFiles));
          // Types, not only the JSON text: numbers stay numbers, instants Dates, nulls null.
          for (let i = 0; i < loaded.length; i++) {
            for (const [column, value] of Object.entries(fromFiles[i]!)) {
              const got = loaded[i]![column];
              if ((value as unknown) instanceof Date) expect(got, column).to.be.instanceOf(Date).and.deep.equal(value);
              else expect(got, `${table}[${i}].${column}`).to.equal(value);
            }
          }
        }
      } finally {
        duck.close();
      }
    });

    it("keeps any text and any double exactly: tabs, newlines, backslashes, quotes, non-ASCII, -0, NaN, ±Infinity, subnormals", async () => {
      const date = "2026-11-01";
      const names = ["tab\there", "new\nline", "back\\slash \\N", "quote\" ' ,comma", "Zürich 東京 🌧", "\\.", "cr\rlf"];
      const rows = hourlyRows(date, names, SETTINGS.hourlyVariables);
      const specials = [
        -0,
        Number.NaN,
        Infinity,
        -Infinity,
        5e-324,
        Number.MAX_VALUE,
        0.1 + 0.2,
        -1.234567890123457e-300,
      ];
      specials.forEach((value, i) => (rows[i]!["temperature_2m"] = value));
      await putCuratedFile(store, "weather_hourly", date, SETTINGS, rows);
      await putCuratedFile(store, "weather_daily", date, SETTINGS, dailyRows(date, names, SETTINGS.dailyVariables));
      await loadDate(date, { settings: SETTINGS, curatedStore: store, database: db });
      const loaded = await db.query<{ location: string; temperature_2m: number | null }>(
        `SELECT location, temperature_2m FROM weather_hourly ORDER BY "time", location`,
      );
      const expected = rows
        .map((r) => ({
          location: r["location"] as string,
          temperature_2m: r["temperature_2m"] as number | null,
          time: (r["time"] as Date).getTime(),
        }))
        .sort((a, b) => a.time - b.time || (a.location < b.location ? -1 : a.location > b.location ? 1 : 0))
        .map(({ location, temperature_2m }) => ({ location, temperature_2m }));
      expect(loaded.length).to.equal(expected.length);
      loaded.forEach((row, i) => {
        expect(row.location).to.equal(expected[i]!.location);
        // Object.is: -0 is not 0, NaN is NaN.
        expect(
          Object.is(row.temperature_2m, expected[i]!.temperature_2m),
          `${row.location}: ${row.temperature_2m} vs ${expected[i]!.temperature_2m}`,
        ).to.equal(true);
      });
    });

    it("re-loading a date replaces it: no duplicates, new values, other dates untouched, the ledger updated", async () => {
      const places = ["berlin", "paris"];
      for (const date of DATES) {
        await putCuratedFile(
          store,
          "weather_hourly",
          date,
          SETTINGS,
          hourlyRows(date, places, SETTINGS.hourlyVariables),
        );
        await putCuratedFile(store, "weather_daily", date, SETTINGS, dailyRows(date, places, SETTINGS.dailyVariables));
        await loadDate(date, { settings: SETTINGS, curatedStore: store, database: db });
      }
      const again = await loadDate(DATES[0]!, { settings: SETTINGS, curatedStore: store, database: db });
      expect(again.files.map((f) => [f.dataset, f.rows, f.replacedRows])).to.deep.equal([
        ["weather_hourly", 48, 48],
        ["weather_daily", 2, 2],
      ]);
      const counts = () =>
        db.query<{ date: string; n: number }>(
          `SELECT "date", count(*)::bigint AS n FROM weather_hourly GROUP BY 1 ORDER BY 1`,
        );
      expect(await counts()).to.deep.equal(DATES.map((date) => ({ date, n: 48 })));

      // The transform re-ran the first date with other values: the load replaces them.
      await putCuratedFile(
        store,
        "weather_hourly",
        DATES[0]!,
        SETTINGS,
        hourlyRows(DATES[0]!, ["berlin"], SETTINGS.hourlyVariables, 100),
      );
      await loadDate(DATES[0]!, { settings: SETTINGS, curatedStore: store, database: db });
      expect(await counts()).to.deep.equal([
        { date: DATES[0], n: 24 },
        { date: DATES[1], n: 48 },
      ]);
      const [max] = await db.query<{ t: number }>(
        `SELECT max(temperature_2m) AS t FROM weather_hourly WHERE "date" = $1`,
        [DATES[0]],
      );
      expect(max!.t).to.be.greaterThan(100);
      const ledger = await db.query<{ dataset: string; date: string; rows: number; source_key: string }>(
        `SELECT dataset, "date", "rows", source_key FROM ${LOAD_LEDGER_TABLE} ORDER BY dataset DESC, "date"`,
      );
      expect(ledger).to.deep.equal([
        {
          dataset: "weather_hourly",
          date: DATES[0],
          rows: 24,
          source_key: curatedObjectKey("weather_hourly", DATES[0]!),
        },
        {
          dataset: "weather_hourly",
          date: DATES[1],
          rows: 48,
          source_key: curatedObjectKey("weather_hourly", DATES[1]!),
        },
        { dataset: "weather_daily", date: DATES[0], rows: 2, source_key: curatedObjectKey("weather_daily", DATES[0]!) },
        { dataset: "weather_daily", date: DATES[1], rows: 2, source_key: curatedObjectKey("weather_daily", DATES[1]!) },
      ]);
    });

    it("a schema change: a new variable adds its column on the next load, a removed one keeps its column and data", async () => {
      const before: Variables = { hourlyVariables: ["temperature_2m"], dailyVariables: ["temperature_2m_max"] };
      const added: Variables = {
        hourlyVariables: ["temperature_2m", "dew_point_2m"],
        dailyVariables: ["temperature_2m_max"],
      };
      const removed: Variables = { hourlyVariables: ["dew_point_2m"], dailyVariables: ["temperature_2m_max"] };
      const [d1, d2, d3] = ["2026-11-01", "2026-11-02", "2026-11-03"] as const;
      const put = async (date: string, settings: Variables) => {
        await putCuratedFile(
          store,
          "weather_hourly",
          date,
          settings,
          hourlyRows(date, ["oslo"], settings.hourlyVariables),
        );
        await putCuratedFile(
          store,
          "weather_daily",
          date,
          settings,
          dailyRows(date, ["oslo"], settings.dailyVariables),
        );
        return loadDate(date, { settings, curatedStore: store, database: db });
      };
      await put(d1, before);
      expect((await put(d2, added)).migrations).to.deep.equal([
        "weather_hourly: added column dew_point_2m double precision",
      ]);
      expect((await put(d3, removed)).migrations).to.deep.equal([]);
      const rows = await db.query<{ date: string; t: number; d: number }>(
        `SELECT "date", count(temperature_2m)::bigint AS t, count(dew_point_2m)::bigint AS d FROM weather_hourly GROUP BY 1 ORDER BY 1`,
      );
      const present = (date: string, settings: Variables, variable: string) =>
        settings.hourlyVariables.includes(variable)
          ? hourlyRows(date, ["oslo"], settings.hourlyVariables).filter((r) => r[variable] !== null).length
          : 0;
      expect(rows).to.deep.equal(
        (
          [
            [d1, before],
            [d2, added],
            [d3, removed],
          ] as const
        ).map(([date, settings]) => ({
          date,
          t: present(date, settings, "temperature_2m"),
          d: present(date, settings, "dew_point_2m"),
        })),
      );
      // Rows loaded before the column existed hold NULL there; the removed column kept d1 and d2.
      expect(rows[0]!.t).to.be.greaterThan(0);
      expect(rows[2]!.d).to.be.greaterThan(0);
    });

    it("refuses a file whose columns differ from the schema, naming the file and the column, and loads nothing of that date", async () => {
      const date = "2026-11-05";
      const places = ["lisbon"];
      await putCuratedFile(store, "weather_hourly", date, SETTINGS, hourlyRows(date, places, SETTINGS.hourlyVariables));
      await putCuratedFile(store, "weather_daily", date, SETTINGS, dailyRows(date, places, SETTINGS.dailyVariables));
      await loadDate(date, { settings: SETTINGS, curatedStore: store, database: db });
      const snapshot = () => db.query(`SELECT * FROM weather_hourly ORDER BY "time"`);
      const loadedBefore = await snapshot();

      // A new hourly file (valid), but the daily file of the date was written with other variables.
      await putCuratedFile(
        store,
        "weather_hourly",
        date,
        SETTINGS,
        hourlyRows(date, places, SETTINGS.hourlyVariables, 50),
      );
      const other: Variables = {
        ...SETTINGS,
        dailyVariables: ["temperature_2m_max", "precipitation_sum", "sunrise", "sunset"],
      };
      await putCuratedFile(store, "weather_daily", date, other, dailyRows(date, places, other.dailyVariables));
      const error = await rejectionOf(loadDate(date, { settings: SETTINGS, curatedStore: store, database: db }));
      expect(error).to.be.instanceOf(WarehouseError);
      expect(error.message).to.contain(curatedObjectKey("weather_daily", date));
      expect(error.message).to.contain(
        "column 6 is precipitation_sum, but the weather_daily schema has temperature_2m_min there",
      );
      expect(await snapshot()).to.deep.equal(loadedBefore);

      // A column of the wrong type.
      const typed = {
        ...SETTINGS,
        dailyVariables: ["temperature_2m_max", "temperature_2m_min", "sunrise", "sunrise_text"],
      };
      await putCuratedFile(store, "weather_daily", date, typed, dailyRows(date, places, typed.dailyVariables));
      const renamed = await rejectionOf(loadDate(date, { settings: SETTINGS, curatedStore: store, database: db }));
      expect(renamed.message).to.contain("column 8 is sunrise_text, but the weather_daily schema has sunset there");

      // Hourly precipitation written as a timestamp: the type is named.
      const elements = parquetSchemaElements(datasetSchema("weather_hourly", SETTINGS.hourlyVariables)).map((e) =>
        e.name === "precipitation"
          ? {
              ...e,
              type: "INT64" as const,
              converted_type: "TIMESTAMP_MILLIS" as const,
              logical_type: { type: "TIMESTAMP" as const, isAdjustedToUTC: true, unit: "MILLIS" as const },
            }
          : e,
      );
      const rows: Record<string, unknown>[] = hourlyRows(date, places, SETTINGS.hourlyVariables).map((r) => ({
        ...r,
        precipitation: new Date(0),
      }));
      const buffer = parquetWriteBuffer({
        schema: elements,
        columnData: elements.slice(1).map((e) => ({ name: e.name, data: rows.map((r) => r[e.name] ?? null) })),
      });
      await store.putObject(curatedObjectKey("weather_hourly", date), new Uint8Array(buffer), {
        contentType: "application/vnd.apache.parquet",
      });
      const wrongType = await rejectionOf(loadDate(date, { settings: SETTINGS, curatedStore: store, database: db }));
      expect(wrongType.message).to.contain(
        `${curatedObjectKey("weather_hourly", date)}: column precipitation is INT64 TIMESTAMP(MILLIS, UTC) OPTIONAL; the weather_hourly schema declares DOUBLE OPTIONAL`,
      );

      // Not Parquet at all, and a missing file.
      await store.putObject(curatedObjectKey("weather_hourly", date), "not parquet", { contentType: "text/plain" });
      expect(
        (await rejectionOf(loadDate(date, { settings: SETTINGS, curatedStore: store, database: db }))).message,
      ).to.contain(`${curatedObjectKey("weather_hourly", date)} is not a readable Parquet file`);
      const missing = await rejectionOf(
        loadDate("2026-11-06", { settings: SETTINGS, curatedStore: store, database: db }),
      );
      expect(missing.message).to.contain(
        "weather_hourly_2026-11-06.parquet does not exist, so 2026-11-06 cannot be loaded",
      );
      expect(await snapshot()).to.deep.equal(loadedBefore);
    });

    it("refuses to load into a column whose type the warehouse has differently, and changes nothing", async () => {
      const date = "2026-11-07";
      await db.query(`CREATE TABLE weather_hourly (location text NOT NULL, latitude text)`);
      await putCuratedFile(
        store,
        "weather_hourly",
        date,
        SETTINGS,
        hourlyRows(date, ["rome"], SETTINGS.hourlyVariables),
      );
      await putCuratedFile(store, "weather_daily", date, SETTINGS, dailyRows(date, ["rome"], SETTINGS.dailyVariables));
      const error = await rejectionOf(loadDate(date, { settings: SETTINGS, curatedStore: store, database: db }));
      expect(error.message).to.contain(
        "weather_hourly.latitude is text in the warehouse, but the schema declares double precision",
      );
      const tables = await db.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1",
      );
      // The migration is one transaction: not even the ledger was created.
      expect(tables.map((t) => t.table_name)).to.deep.equal(["weather_hourly"]);
    });

    if (engine.name === "PostgreSQL server") {
      it("the server stopped mid-COPY leaves the previous rows; the retry after it restarts completes", async () => {
        const server = engine.server()!;
        const date = "2026-11-08";
        const small = ["vienna"];
        await putCuratedFile(
          store,
          "weather_hourly",
          date,
          SETTINGS,
          hourlyRows(date, small, SETTINGS.hourlyVariables),
        );
        await putCuratedFile(store, "weather_daily", date, SETTINGS, dailyRows(date, small, SETTINGS.dailyVariables));
        const settingsOfDb = { ...SETTINGS };
        await loadDate(date, { settings: settingsOfDb, curatedStore: store, database: db });
        const name = (await db.query<{ d: string }>("SELECT current_database() AS d"))[0]!.d;

        // A big re-run of the date: 10,000 places, 240,000 hourly rows, long enough to be caught mid-COPY.
        const many = Array.from({ length: 10_000 }, (_, i) => `place-${String(i).padStart(5, "0")}`);
        await putCuratedFile(
          store,
          "weather_hourly",
          date,
          SETTINGS,
          hourlyRows(date, many, SETTINGS.hourlyVariables, 7),
        );
        const watcher = await connectPostgres({
          host: server.host,
          port: server.port,
          user: server.user,
          password: server.password,
          database: name,
        });
        const loading = loadDate(date, { settings: SETTINGS, curatedStore: store, database: db }).then(
          () => undefined,
          (error: unknown) => error,
        );
        let copied = 0;
        for (let i = 0; i < 3000 && copied === 0; i++) {
          const progress = await watcher.query<{ n: number }>(
            "SELECT tuples_processed::bigint AS n FROM pg_stat_progress_copy WHERE relid = 'weather_hourly'::regclass",
          );
          copied = progress[0]?.n ?? 0;
          if (copied === 0) await new Promise((r) => setTimeout(r, 10));
        }
        expect(copied, "saw the COPY running").to.be.greaterThan(0);
        await watcher.close();
        await server.stop("immediate");
        const failure = await loading;
        expect(failure).to.be.instanceOf(WarehouseUnavailableError);
        await db.close();

        await server.start();
        const again = await connectPostgres({
          host: server.host,
          port: server.port,
          user: server.user,
          password: server.password,
          database: name,
        });
        try {
          const kept = await again.query<{ n: number }>(
            `SELECT count(*)::bigint AS n FROM weather_hourly WHERE "date" = $1`,
            [date],
          );
          expect(kept).to.deep.equal([{ n: 24 }]);
          const retried = await loadDate(date, { settings: SETTINGS, curatedStore: store, database: again });
          expect(retried.files[0]).to.include({ rows: 240_000, replacedRows: 24 });
          const now = await again.query<{ n: number; places: number }>(
            `SELECT count(*)::bigint AS n, count(DISTINCT location)::bigint AS places FROM weather_hourly WHERE "date" = $1`,
            [date],
          );
          expect(now).to.deep.equal([{ n: 240_000, places: 10_000 }]);
        } finally {
          await again.close();
        }
        db = await engine.fresh();
      });

      it("two loads of the same date at once leave it loaded once", async () => {
        const server = engine.server()!;
        const date = "2026-11-09";
        const places = Array.from({ length: 200 }, (_, i) => `p${i}`);
        await putCuratedFile(
          store,
          "weather_hourly",
          date,
          SETTINGS,
          hourlyRows(date, places, SETTINGS.hourlyVariables),
        );
        await putCuratedFile(store, "weather_daily", date, SETTINGS, dailyRows(date, places, SETTINGS.dailyVariables));
        const name = (await db.query<{ d: string }>("SELECT current_database() AS d"))[0]!.d;
        const second = await connectPostgres({
          host: server.host,
          port: server.port,
          user: server.user,
          password: server.password,
          database: name,
        });
        try {
          await Promise.all(
            [db, second].map((database) => loadDate(date, { settings: SETTINGS, curatedStore: store, database })),
          );
        } finally {
          await second.close();
        }
        expect(await db.query(`SELECT count(*)::bigint AS n FROM weather_hourly`)).to.deep.equal([{ n: 200 * 24 }]);
      });
    }
  });
}

describeEngine(postgresEngine());
describeEngine(pgliteEngine());
