import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { addDays, todayIn } from "../../pipeline/core/dates";
import { parseStackConfigValues } from "../../pipeline/infra/config";
import { ingestDate } from "../../pipeline/ingest/ingest";
import { isRawBodyKey, requestManifestKey } from "../../pipeline/core/keys";
import { rejectionOf } from "../support/rejection";
import {
  openCuratedDatabase,
  queryLocalCuratedData,
  QueryShapeError,
  type QueryResult,
} from "../../pipeline/local/duckdb";
import { startFakeOpenMeteo } from "../../pipeline/local/fake-open-meteo";
import { PROJECT_DIR, readProjectName, readStackConfigFile } from "../../pipeline/local/plan";
import { runLocalDay } from "../../pipeline/cli/run";
import { LOCAL_BUCKETS } from "../../pipeline/local/local-buckets";
import { startLocalS3 } from "../../pipeline/local/s3-server";
import type { RequestManifest } from "../../pipeline/core/manifest";
import {
  HOURLY_WINDOW_DAYS,
  MIN_MAX_WINDOW_DAYS,
  ROWS_PER_DATE_WINDOW_DAYS,
  dailyMinMaxQuery,
  exampleQueries,
  lastDaysHourlyQuery,
  rowsPerDateQuery,
} from "../../pipeline/catalog/queries";
import { datasetSchema } from "../../pipeline/core/schema";
import { DEFAULT_PIPELINE_SETTINGS, type PipelineSettings } from "../../pipeline/core/settings";
import { S3ObjectStore } from "../../pipeline/core/storage";
import { transformRawObjects } from "../../pipeline/transform/transform";
import {
  expectHourlyMinMax,
  expectLastDaysHourly,
  expectRowsPerDate,
  plainRow,
  rawRowsOf,
  type RawRow,
} from "../support/raw-rows";

let tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "duckdb-test-"));
  tempDirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
  tempDirs = [];
});

function plainRows(result: QueryResult): Record<string, unknown>[] {
  return result.rows.map((row) => plainRow(row, result.columns));
}

/** Opens the local raw bucket of a data folder (s3rver, as npm start left it). */
async function openRawBucket(dataDir: string) {
  const s3 = await startLocalS3({ directory: path.join(dataDir, "s3"), buckets: [LOCAL_BUCKETS.raw] });
  const client = s3.client();
  return { store: new S3ObjectStore(client, LOCAL_BUCKETS.raw), close: () => s3.close() };
}

/** Every row of every raw body in a local raw bucket, named by the manifests; plus the bytes stored. */
async function readRawBucket(dataDir: string) {
  const raw = await openRawBucket(dataDir);
  try {
    const rows: RawRow[] = [];
    let bodyBytes = 0;
    let manifestBytes = 0;
    let bodies = 0;
    for (const key of await raw.store.listKeys("open-meteo/")) {
      const { body } = await raw.store.getObject(key);
      if (!isRawBodyKey(key)) {
        manifestBytes += body.byteLength;
        continue;
      }
      bodies++;
      bodyBytes += body.byteLength;
      const manifest = JSON.parse(
        new TextDecoder().decode((await raw.store.getObject(requestManifestKey(key))).body),
      ) as RequestManifest;
      // Only the rows of the requested date are curated (a body may reach into the next day).
      rows.push(
        ...rawRowsOf(new TextDecoder().decode(body), (_, i) => manifest.locations[i]!.name).filter(
          (r) => r.date === manifest.date,
        ),
      );
    }
    return { rows, bodies, bodyBytes, manifestBytes };
  } finally {
    await raw.close();
  }
}

/** What `SELECT * ... ORDER BY location, time` should return, from raw rows. */
function expectAllRows(
  rows: readonly RawRow[],
  dataset: "weather_hourly" | "weather_daily",
  variables: readonly string[],
) {
  return rows
    .filter((r) => r.dataset === dataset)
    .sort((a, b) => (a.location < b.location ? -1 : a.location > b.location ? 1 : (a.time ?? 0) - (b.time ?? 0)))
    .map((r) => ({
      location: r.location,
      latitude: r.latitude,
      longitude: r.longitude,
      elevation: r.elevation,
      ...(r.time === undefined ? {} : { time: r.time }),
      ...Object.fromEntries(variables.map((v) => [v, r.values[v] ?? null])),
      date: r.date,
    }));
}

describe("duckdb", () => {
  describe("openCuratedDatabase", () => {
    it("runs exactly one statement: an empty query or several are errors, and nothing of them runs", async () => {
      const db = await openCuratedDatabase({ folder: await tempDir() });
      try {
        const empty = await rejectionOf(db.query("  -- nothing\n"));
        expect(empty).to.be.instanceOf(QueryShapeError);
        expect(empty.message).to.contain("the query is empty");
        const several = await rejectionOf(db.query("DROP VIEW weather_daily; SELECT 1"));
        expect(several.message).to.equal("the query holds 2 statements; give one at a time");
        expect((await db.query("SELECT count(*) AS n FROM weather_daily;")).rows).to.deep.equal([{ n: 0n }]);
      } finally {
        db.close();
      }
    });

    it("cuts a result at the limit and says so, and says nothing when all rows fit", async () => {
      const db = await openCuratedDatabase({ folder: await tempDir() });
      try {
        const cut = await db.query("SELECT * FROM range(5000) t(n)", { limit: 3 });
        expect(cut.rows).to.deep.equal([{ n: 0n }, { n: 1n }, { n: 2n }]);
        expect(cut.truncated).to.equal(true);
        const whole = await db.query("SELECT * FROM range(3) t(n)", { limit: 3 });
        expect(whole.rows).to.have.length(3);
        expect(whole.truncated).to.equal(false);
      } finally {
        db.close();
      }
    });

    it("gives a dataset without files an empty view with the schema's columns, so the example queries still run", async () => {
      const folder = await tempDir();
      const settings = DEFAULT_PIPELINE_SETTINGS;
      const db = await openCuratedDatabase({
        folder,
        hourlyVariables: settings.hourlyVariables,
        dailyVariables: settings.dailyVariables,
      });
      try {
        const described = await db.query("DESCRIBE weather_daily");
        expect(described.rows.map((r) => r["column_name"])).to.deep.equal([
          ...datasetSchema("weather_daily", settings.dailyVariables).columns.map((c) => c.name),
          "date",
        ]);
        expect(described.rows.map((r) => r["column_type"])).to.deep.equal([
          "VARCHAR",
          "DOUBLE",
          "DOUBLE",
          "DOUBLE",
          ...settings.dailyVariables.map(() => "DOUBLE"),
          "DATE",
        ]);
        const hourlyTime = (await db.query("DESCRIBE weather_hourly")).rows.find((r) => r["column_name"] === "time");
        expect(hourlyTime?.["column_type"]).to.equal("TIMESTAMP WITH TIME ZONE");
        for (const query of exampleQueries(settings, { through: "2026-11-20" })) {
          expect((await db.query(query.sql)).rows, query.name).to.deep.equal([]);
        }
      } finally {
        db.close();
      }
    });

    it("refuses a thread count that is not a positive whole number", async () => {
      const folder = await tempDir();
      let message = "";
      await openCuratedDatabase({ folder, threads: 0 }).catch((e: Error) => (message = e.message));
      expect(message).to.equal("threads is 0; it must be a positive whole number");
    });
  });

  describe("a local run, read through the query path", () => {
    it("holds in DuckDB exactly the values of the raw JSON in the raw bucket, and the example queries return them", async () => {
      const dataDir = await tempDir();
      const date = "2026-11-01";
      const settings: PipelineSettings = {
        ...DEFAULT_PIPELINE_SETTINGS,
        locations: [...DEFAULT_PIPELINE_SETTINGS.locations, { name: "adelaide", latitude: -34.93, longitude: 138.6 }],
        dailyVariables: ["temperature_2m_max", "sunrise", "sunset"],
      };
      // runLocalDay previews with console.table and ingest logs with console.log: keep the report clean.
      const { table, log } = console;
      console.table = () => undefined;
      console.log = () => undefined;
      try {
        await runLocalDay({ settings, dataDir, date, live: false, previewRows: 1, print: () => undefined });
      } finally {
        Object.assign(console, { table, log });
      }
      const raw = await readRawBucket(dataDir);
      expect(raw.bodies).to.be.above(0);
      const query = (sql: string) =>
        queryLocalCuratedData({
          sql,
          dataDir,
          hourlyVariables: settings.hourlyVariables,
          dailyVariables: settings.dailyVariables,
        }).then(plainRows);

      const hourly = await query(`SELECT * FROM weather_hourly ORDER BY location, "time"`);
      expect(hourly).to.deep.equal(expectAllRows(raw.rows, "weather_hourly", settings.hourlyVariables));
      expect(hourly).to.have.length(3 * 24);
      const daily = await query(`SELECT * FROM weather_daily ORDER BY location`);
      expect(daily).to.deep.equal(expectAllRows(raw.rows, "weather_daily", settings.dailyVariables));
      expect(daily.map((r) => typeof r["sunrise"])).to.deep.equal(["number", "number", "number"]);

      const options = { through: date };
      expect(await query(lastDaysHourlyQuery(settings, options)!.sql)).to.deep.equal(
        expectLastDaysHourly(raw.rows, settings.hourlyVariables, date, HOURLY_WINDOW_DAYS),
      );
      expect(await query(dailyMinMaxQuery(settings, options)!.sql)).to.deep.equal(
        expectHourlyMinMax(raw.rows, date, MIN_MAX_WINDOW_DAYS),
      );
      expect(await query(rowsPerDateQuery(settings, options)!.sql)).to.deep.equal(
        expectRowsPerDate(raw.rows, ["weather_hourly", "weather_daily"], date, ROWS_PER_DATE_WINDOW_DAYS),
      );
    });
  });

  describe("a 30-day local run of the dev stack", function () {
    this.timeout(180_000);

    it("is queryable with the named queries' own SQL, and its curated bytes are measured against the raw bytes", async () => {
      const devFile = path.join(PROJECT_DIR, "Pulumi.dev.yaml");
      const dev = parseStackConfigValues(readStackConfigFile(devFile), readProjectName(), "Pulumi.dev.yaml").pipeline;
      // The 30 days up to yesterday, so the default SQL (current_date, UTC in DuckDB as in Athena) covers them.
      const yesterday = addDays(todayIn("UTC", new Date()), -1);
      const dates = Array.from({ length: 30 }, (_, i) => addDays(yesterday, i - 29));
      const dataDir = await tempDir();
      const s3 = await startLocalS3({
        directory: path.join(dataDir, "s3"),
        buckets: [LOCAL_BUCKETS.raw, LOCAL_BUCKETS.curated],
      });
      const fake = await startFakeOpenMeteo();
      let curatedBytes = 0;
      let curatedFiles = 0;
      try {
        const settings = { ...dev, forecastApiUrl: fake.forecastUrl, archiveApiUrl: fake.archiveUrl };
        const client = s3.client();
        const rawStore = new S3ObjectStore(client, LOCAL_BUCKETS.raw);
        const curatedStore = new S3ObjectStore(client, LOCAL_BUCKETS.curated);
        for (const date of dates) {
          const ingest = await ingestDate({ date }, { settings, rawStore, log: () => undefined });
          const transform = await transformRawObjects(ingest, { settings, rawStore, curatedStore });
          for (const file of transform.files) {
            curatedBytes += file.bytes;
            curatedFiles++;
          }
        }
      } finally {
        await fake.close();
        await s3.close();
      }
      const raw = await readRawBucket(dataDir);
      const query = (sql: string) =>
        queryLocalCuratedData({
          sql,
          dataDir,
          hourlyVariables: dev.hourlyVariables,
          dailyVariables: dev.dailyVariables,
        }).then(plainRows);

      // The named queries exactly as Athena gets them (no through date).
      expect(await query(rowsPerDateQuery(dev)!.sql)).to.deep.equal(
        expectRowsPerDate(raw.rows, ["weather_hourly", "weather_daily"], yesterday, ROWS_PER_DATE_WINDOW_DAYS),
      );
      expect(await query(lastDaysHourlyQuery(dev)!.sql)).to.deep.equal(
        expectLastDaysHourly(raw.rows, dev.hourlyVariables, yesterday, HOURLY_WINDOW_DAYS),
      );
      expect(await query(dailyMinMaxQuery(dev)!.sql)).to.deep.equal(
        expectHourlyMinMax(raw.rows, yesterday, MIN_MAX_WINDOW_DAYS),
      );
      const stored = await query(
        "SELECT count(*) AS files, sum(size) AS bytes FROM (SELECT DISTINCT filename, size FROM read_blob('" +
          path.join(dataDir, "curated", "*", "*", "*.parquet").replaceAll("'", "''") +
          "'))",
      );
      expect(stored).to.deep.equal([{ files: curatedFiles, bytes: curatedBytes }]);
      expect(curatedFiles).to.equal(2 * dates.length);
      expect(raw.bodies).to.equal(dates.length);

      const ratio = (curatedBytes / raw.bodyBytes).toFixed(2);
      console.log(
        `      30-day local run, dev stack (${dev.locations.length} locations, ${dev.hourlyVariables.length} hourly + ` +
          `${dev.dailyVariables.length} daily variables, fake Open-Meteo, ${dates[0]} to ${yesterday}): ` +
          `raw ${raw.bodies} bodies ${raw.bodyBytes} bytes (+ ${raw.manifestBytes} bytes of request manifests); ` +
          `curated ${curatedFiles} Parquet files ${curatedBytes} bytes (${ratio} x the raw bodies)`,
      );
    });
  });
});
