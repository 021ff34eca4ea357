import { readdirSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { openCuratedDatabase, type CuratedDatabase } from "../../pipeline/local/duckdb";
import {
  HOURLY_WINDOW_DAYS,
  MIN_MAX_WINDOW_DAYS,
  ROWS_PER_DATE_WINDOW_DAYS,
  dailyMinMaxQuery,
  exampleQueries,
  lastDaysHourlyQuery,
  rowsPerDateQuery,
  type ExampleQuery,
} from "../../pipeline/catalog/queries";
import { datasetSchema } from "../../pipeline/core/schema";
import { DirectoryObjectStore } from "../../pipeline/core/storage";
import { transformResponseFiles } from "../../pipeline/transform/transform";
import {
  elementsOf,
  expectHourlyMinMax,
  expectLastDaysHourly,
  expectRowsPerDate,
  fallbackName,
  plainRow,
  rawRowsOf,
} from "../support/raw-rows";

const RECORDED = path.join(__dirname, "..", "fixtures", "open-meteo", "recorded");

// What each Glue type of pipeline/schema.ts must read as in DuckDB (written out here, not
// imported, so a wrong mapping in pipeline/local/duckdb.ts cannot agree with itself).
const DUCKDB_TYPE_OF_GLUE = {
  string: "VARCHAR",
  double: "DOUBLE",
  bigint: "BIGINT",
  boolean: "BOOLEAN",
  timestamp: "TIMESTAMP WITH TIME ZONE",
} as const;

let tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "queries-test-"));
  tempDirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
  tempDirs = [];
});

/** Runs an example query and returns its rows made comparable. */
async function runQuery(db: CuratedDatabase, query: ExampleQuery | undefined): Promise<Record<string, unknown>[]> {
  expect(query, "the example query").to.not.equal(undefined);
  const result = await db.query(query!.sql);
  return result.rows.map((row) => plainRow(row, result.columns));
}

/** Variables of a body's block, in JSON order (the order transformResponseFiles writes them). */
function variablesOf(body: string, block: "hourly" | "daily"): string[] {
  const data = elementsOf(body)[0]![block];
  return data ? Object.keys(data).filter((k) => k !== "time") : [];
}

describe("queries", () => {
  describe("the example queries, as SQL", () => {
    const columns = {
      hourlyVariables: ["temperature_2m", "precipitation"],
      dailyVariables: ["temperature_2m_max", "temperature_2m_min"],
    };

    it("names each query once, in kebab-case, with a description", () => {
      const queries = exampleQueries(columns);
      expect(queries.map((q) => q.name)).to.deep.equal([
        "last-7-days-hourly",
        "daily-min-max-temperature",
        "rows-per-date",
      ]);
      for (const q of queries) expect(q.description).to.have.length.above(20);
    });

    it("selects exactly the stack's hourly variables in the last-7-days query", () => {
      expect(lastDaysHourlyQuery(columns, { through: "2026-11-20" })?.sql).to.equal(
        [
          'SELECT location, "date", "time", temperature_2m, precipitation',
          "FROM weather_hourly",
          `WHERE "date" BETWEEN DATE '2026-11-14' AND DATE '2026-11-20'`,
          'ORDER BY location, "time"',
        ].join("\n"),
      );
    });

    it("ends every window yesterday by default, with current_date, so Athena prunes to those partitions", () => {
      for (const q of exampleQueries(columns)) {
        expect(q.sql, q.name).to.contain(`AND CAST(current_date - INTERVAL '1' DAY AS DATE)`);
        expect(q.sql, q.name).to.match(/"date" BETWEEN CAST\(current_date - INTERVAL '\d+' DAY AS DATE\)/);
      }
    });

    it("takes daily min/max from hourly temperature_2m, else from the daily aggregates, else offers none", () => {
      expect(dailyMinMaxQuery(columns)?.sql).to.contain("max(temperature_2m) AS temperature_2m_max");
      expect(dailyMinMaxQuery(columns)?.sql).to.contain("FROM weather_hourly");
      const dailyOnly = dailyMinMaxQuery({ ...columns, hourlyVariables: ["precipitation"] });
      expect(dailyOnly?.sql).to.contain("FROM weather_daily").and.not.contain("max(");
      expect(dailyMinMaxQuery({ hourlyVariables: ["precipitation"], dailyVariables: ["temperature_2m_max"] })).to.equal(
        undefined,
      );
    });

    it("counts rows per date only of the datasets the stack has", () => {
      expect(rowsPerDateQuery({ ...columns, dailyVariables: [] })?.sql).to.not.contain("weather_daily");
      expect(rowsPerDateQuery({ hourlyVariables: [], dailyVariables: [] })).to.equal(undefined);
      expect(
        exampleQueries({ hourlyVariables: [], dailyVariables: ["precipitation_sum"] }).map((q) => q.name),
      ).to.deep.equal(["rows-per-date"]);
    });

    it("refuses a through date that is not a calendar date", () => {
      expect(() => lastDaysHourlyQuery(columns, { through: "2026-02-30" })).to.throw(
        `the queries' through date is "2026-02-30"; it must be a calendar date written YYYY-MM-DD`,
      );
    });
  });

  describe("DuckDB over the transform of every recorded Open-Meteo body", () => {
    const files = readdirSync(RECORDED)
      .filter((f) => f.endsWith(".json"))
      .sort();
    let checked = 0;
    after(() => {
      console.log(`      recorded bodies checked through DuckDB: ${checked} of ${files.length}`);
    });

    for (const file of files) {
      it(`reads ${file} with the Glue schema's types, and the example queries return its raw values`, async () => {
        const body = await readFile(path.join(RECORDED, file), "utf8");
        const folder = await tempDir();
        await transformResponseFiles([{ name: file, body }], new DirectoryObjectStore(folder));
        const hourlyVariables = variablesOf(body, "hourly");
        const dailyVariables = variablesOf(body, "daily");
        const rows = rawRowsOf(body, (element) => fallbackName(element));
        const through = rows.map((r) => r.date).sort()[rows.length - 1]!;

        const db = await openCuratedDatabase({ folder });
        try {
          for (const [dataset, variables] of [
            ["weather_hourly", hourlyVariables],
            ["weather_daily", dailyVariables],
          ] as const) {
            if (variables.length === 0) continue;
            const described = await db.query(`DESCRIBE ${dataset}`);
            expect(
              described.rows.map((r) => [r["column_name"], r["column_type"]]),
              dataset,
            ).to.deep.equal([
              ...datasetSchema(dataset, variables).columns.map((c) => [c.name, DUCKDB_TYPE_OF_GLUE[c.glueType]]),
              ["date", "DATE"],
            ]);
            const all = await db.query(`SELECT count(*) AS n FROM ${dataset}`);
            expect(Number(all.rows[0]!["n"]), `${dataset} rows`).to.equal(
              rows.filter((r) => r.dataset === dataset).length,
            );
          }

          const columns = { hourlyVariables, dailyVariables };
          const options = { through };
          expect(await runQuery(db, lastDaysHourlyQuery(columns, options))).to.deep.equal(
            expectLastDaysHourly(rows, hourlyVariables, through, HOURLY_WINDOW_DAYS),
          );
          expect(await runQuery(db, dailyMinMaxQuery(columns, options))).to.deep.equal(
            expectHourlyMinMax(rows, through, MIN_MAX_WINDOW_DAYS),
          );
          const datasets = [
            ...(hourlyVariables.length > 0 ? ["weather_hourly"] : []),
            ...(dailyVariables.length > 0 ? ["weather_daily"] : []),
          ];
          expect(await runQuery(db, rowsPerDateQuery(columns, options))).to.deep.equal(
            expectRowsPerDate(rows, datasets, through, ROWS_PER_DATE_WINDOW_DAYS),
          );
        } finally {
          db.close();
        }
        checked++;
      });
    }

    it("returns the daily aggregates' min/max for a stack without hourly temperature_2m", async () => {
      const element = (latitude: number, max: (number | null)[], min: (number | null)[]) => ({
        latitude,
        longitude: 2,
        utc_offset_seconds: -18000,
        daily_units: { time: "iso8601", temperature_2m_max: "°C", temperature_2m_min: "°C" },
        daily: { time: ["2024-01-05", "2024-01-06"], temperature_2m_max: max, temperature_2m_min: min },
      });
      const body = JSON.stringify([element(1, [5.5, null], [-1, -2.25]), element(3, [7, 8], [0, 1])]);
      const folder = await tempDir();
      await transformResponseFiles([{ name: "daily.json", body }], new DirectoryObjectStore(folder));
      const columns = { hourlyVariables: [], dailyVariables: ["temperature_2m_max", "temperature_2m_min"] };
      const expected = rawRowsOf(body, (e) => fallbackName(e))
        .map((r) => ({
          location: r.location,
          date: r.date,
          temperature_2m_min: r.values["temperature_2m_min"],
          temperature_2m_max: r.values["temperature_2m_max"],
        }))
        .sort((a, b) => (a.location + a.date < b.location + b.date ? -1 : 1));
      const db = await openCuratedDatabase({ folder });
      try {
        expect(await runQuery(db, dailyMinMaxQuery(columns, { through: "2024-01-06" }))).to.deep.equal(expected);
        expect(expected).to.have.length(4);
      } finally {
        db.close();
      }
    });
  });
});
