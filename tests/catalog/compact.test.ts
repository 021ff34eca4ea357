import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { parquetWriteBuffer } from "hyparquet-writer";
import { compactMonth, lastDayOfMonth, type CompactOptions } from "../../pipeline/catalog/compact";
import { curatedObjectKey } from "../../pipeline/core/keys";
import { openCuratedDatabase } from "../../pipeline/local/duckdb";
import { exampleQueries } from "../../pipeline/catalog/queries";
import {
  DirectoryObjectStore,
  type ObjectStore,
  type PutOptions,
  type StoredObject,
} from "../../pipeline/core/storage";
import { transformResponseFiles } from "../../pipeline/transform/transform";
import { plainRow } from "../support/raw-rows";

const HOURLY = ["temperature_2m", "precipitation"];
const DAILY = ["temperature_2m_max"];
const OPTIONS: CompactOptions = {
  month: "2024-02",
  today: "2024-06-01",
  hourlyVariables: HOURLY,
  dailyVariables: DAILY,
};

let tempDirs: string[] = [];
async function tempStore(): Promise<DirectoryObjectStore> {
  const dir = await mkdtemp(path.join(tmpdir(), "compact-test-"));
  tempDirs.push(dir);
  return new DirectoryObjectStore(dir);
}
afterEach(async () => {
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
  tempDirs = [];
});

function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** The consecutive dates from `first` to `last`. */
function datesFrom(first: string, last: string): string[] {
  const dates: string[] = [];
  for (let t = Date.parse(first); t <= Date.parse(last); t += 86_400_000)
    dates.push(new Date(t).toISOString().slice(0, 10));
  return dates;
}

/** A UTC body of one location for consecutive dates; `extra` adds hourly variables. */
function body(latitude: number, first: string, last: string, extra: readonly string[] = []): string {
  const dates = datesFrom(first, last);
  const time = dates.flatMap((d) => Array.from({ length: 24 }, (_, h) => `${d}T${String(h).padStart(2, "0")}:00`));
  const hourly: Record<string, unknown[]> = {
    time,
    temperature_2m: time.map((_, i) => latitude * 10 + (i % 24) / 4),
    precipitation: time.map((_, i) => (i % 5 === 0 ? null : (i % 7) / 10)),
  };
  for (const variable of extra) hourly[variable] = time.map((_, i) => i + latitude);
  return JSON.stringify({
    latitude,
    longitude: 10,
    elevation: 5,
    utc_offset_seconds: 0,
    hourly_units: {
      time: "iso8601",
      temperature_2m: "°C",
      precipitation: "mm",
      ...Object.fromEntries(extra.map((v) => [v, "km/h"])),
    },
    hourly,
    daily_units: { time: "iso8601", temperature_2m_max: "°C" },
    daily: { time: dates, temperature_2m_max: dates.map((_, i) => latitude + i / 2) },
  });
}

/** Transforms a body elsewhere and adds its files to `store` as `<partition>/part-<name>.parquet`. */
async function addPartFiles(store: ObjectStore, name: string, text: string): Promise<void> {
  const scratch = await tempStore();
  for (const file of await transformResponseFiles([{ name: `${name}.json`, body: text }], scratch)) {
    const { body: bytes } = await scratch.getObject(file.key);
    await store.putObject(`${path.posix.dirname(file.key)}/part-${name}.parquet`, bytes, { contentType: "x" });
  }
}

/**
 * A curated store with, in February 2024: several files on Feb 1-2 (one with an extra variable),
 * only a part file on Feb 28, no data on Feb 29, one canonical file elsewhere; January and March
 * have extra files too, which a February compaction must not touch.
 */
async function backfilledStore(): Promise<DirectoryObjectStore> {
  const store = await tempStore();
  await transformResponseFiles([{ name: "a1.json", body: body(1, "2024-01-30", "2024-02-27") }], store);
  await transformResponseFiles([{ name: "a2.json", body: body(1, "2024-03-01", "2024-03-02") }], store);
  await addPartFiles(store, "b", body(3, "2024-01-31", "2024-02-02"));
  await addPartFiles(store, "b-march", body(3, "2024-03-01", "2024-03-01"));
  await addPartFiles(store, "c", body(2, "2024-02-02", "2024-02-02", ["wind_speed_10m"]));
  await addPartFiles(store, "d", body(4, "2024-02-28", "2024-02-28"));
  return store;
}

/** Everything a user can see through DuckDB: every row of both tables and every example query. */
async function queryResults(store: DirectoryObjectStore): Promise<Record<string, unknown[]>> {
  const db = await openCuratedDatabase({ folder: store.root });
  try {
    const results: Record<string, unknown[]> = {};
    const queries = [
      { name: "hourly", sql: "SELECT * FROM weather_hourly ORDER BY ALL" },
      { name: "daily", sql: "SELECT * FROM weather_daily ORDER BY ALL" },
      ...exampleQueries({ hourlyVariables: HOURLY, dailyVariables: DAILY }, { through: "2024-03-02" }),
    ];
    for (const query of queries) {
      const result = await db.query(query.sql);
      results[query.name] = result.rows.map((row) => plainRow(row, result.columns));
    }
    return results;
  } finally {
    db.close();
  }
}

/** Keys and bytes of every object under a prefix. */
async function objectsUnder(store: ObjectStore, prefix: string): Promise<Map<string, string>> {
  const objects = new Map<string, string>();
  for (const key of await store.listKeys(prefix)) {
    objects.set(key, Buffer.from((await store.getObject(key)).body).toString("base64"));
  }
  return objects;
}

/** Rows of a stored Parquet object as JSON text, of the given columns (default all of the file's). */
async function rowTexts(store: ObjectStore, key: string, columns?: readonly string[]): Promise<string[]> {
  const rows: Record<string, unknown>[] = await parquetReadObjects({
    file: arrayBufferOf((await store.getObject(key)).body),
  });
  return rows.map((row) =>
    JSON.stringify(
      (columns ?? Object.keys(row)).map((c) => [c, row[c] instanceof Date ? row[c].getTime() : (row[c] ?? null)]),
    ),
  );
}

/** Records every write and delete, and runs a check before each delete (a throw stops the run, as a crash would). */
class RecordingStore implements ObjectStore {
  readonly operations: string[] = [];
  readonly description: string;

  constructor(
    private readonly inner: ObjectStore,
    private readonly beforeDelete: (key: string) => Promise<void> = () => Promise.resolve(),
  ) {
    this.description = inner.description;
  }

  async putObject(key: string, body: Uint8Array | string, options: PutOptions): Promise<void> {
    this.operations.push(`put ${key}`);
    await this.inner.putObject(key, body, options);
  }

  getObject(key: string): Promise<StoredObject> {
    return this.inner.getObject(key);
  }

  getObjectStream(key: string): Promise<AsyncIterable<Uint8Array>> {
    return this.inner.getObjectStream(key);
  }

  listKeys(prefix: string): Promise<string[]> {
    return this.inner.listKeys(prefix);
  }

  async deleteObject(key: string): Promise<void> {
    await this.beforeDelete(key);
    this.operations.push(`delete ${key}`);
    await this.inner.deleteObject(key);
  }
}

describe("compact", () => {
  describe("compactMonth", () => {
    it("leaves one file per dataset and date, and DuckDB returns the same results before and after", async () => {
      const store = await backfilledStore();
      const before = await queryResults(store);
      expect(await store.listKeys("weather_hourly/date=2024-02-02/")).to.have.length(3);

      const result = await compactMonth(store, OPTIONS);

      const february = datesFrom("2024-02-01", "2024-02-28");
      for (const dataset of ["weather_hourly", "weather_daily"] as const) {
        expect(await store.listKeys(`${dataset}/date=2024-02-`), dataset).to.deep.equal(
          february.map((date) => curatedObjectKey(dataset, date)),
        );
      }
      expect(await queryResults(store)).to.deep.equal(before);
      // a1 29 days, a2 2, b 3, b-march 1, c 1, d 1: rows of every file, none lost or doubled.
      expect(before["hourly"]).to.have.length(24 * (29 + 2 + 3 + 1 + 1 + 1));
      const rewritten = result.partitions.filter((p) => p.merged.length > 0).map((p) => `${p.dataset} ${p.date}`);
      expect(rewritten).to.deep.equal([
        "weather_hourly 2024-02-01",
        "weather_hourly 2024-02-02",
        "weather_hourly 2024-02-28",
        "weather_daily 2024-02-01",
        "weather_daily 2024-02-02",
        "weather_daily 2024-02-28",
      ]);
    });

    it("writes each merged file as one row group, rows sorted by location then time, the stack's variables first", async () => {
      const store = await backfilledStore();
      await compactMonth(store, OPTIONS);
      const key = curatedObjectKey("weather_hourly", "2024-02-02");
      const bytes = (await store.getObject(key)).body;
      const metadata = parquetMetadata(arrayBufferOf(bytes));
      expect(metadata.row_groups.map((g) => Number(g.num_rows))).to.deep.equal([72]);
      expect(metadata.schema.slice(1).map((e) => e.name)).to.deep.equal([
        "location",
        "latitude",
        "longitude",
        "elevation",
        "time",
        ...HOURLY,
        "wind_speed_10m",
      ]);
      const rows = await parquetReadObjects({ file: arrayBufferOf(bytes) });
      const order = rows.map((r) => `${r["location"] as string} ${(r["time"] as Date).toISOString()}`);
      expect(order).to.deep.equal([...order].sort());
      expect(rows.filter((r) => r["wind_speed_10m"] !== null)).to.have.length(24);
      const kv = Object.fromEntries((metadata.key_value_metadata ?? []).map((e) => [e.key, e.value]));
      expect(JSON.parse(kv["open_meteo.units"]!)).to.deep.equal({
        temperature_2m: "°C",
        precipitation: "mm",
        wind_speed_10m: "km/h",
      });
      expect(JSON.parse(kv["open_meteo.source"]!)).to.have.members(["a1.json", "b.json", "c.json"]);
    });

    it("cuts a merged file into row groups of at most rowGroupRows rows", async () => {
      const store = await backfilledStore();
      await compactMonth(store, { ...OPTIONS, rowGroupRows: 30 });
      const bytes = (await store.getObject(curatedObjectKey("weather_hourly", "2024-02-02"))).body;
      const groups = parquetMetadata(arrayBufferOf(bytes)).row_groups.map((g) => Number(g.num_rows));
      expect(groups).to.deep.equal([30, 30, 12]);
    });

    it("leaves the files of other months byte for byte as they were", async () => {
      const store = await backfilledStore();
      const january = await objectsUnder(store, "weather_hourly/date=2024-01-");
      const march = await objectsUnder(store, "weather_daily/date=2024-03-");
      expect(january.size + march.size).to.be.above(4);
      await compactMonth(store, OPTIONS);
      expect(await objectsUnder(store, "weather_hourly/date=2024-01-")).to.deep.equal(january);
      expect(await objectsUnder(store, "weather_daily/date=2024-03-")).to.deep.equal(march);
    });

    it("changes nothing when run again", async () => {
      const store = await backfilledStore();
      await compactMonth(store, OPTIONS);
      const after = await objectsUnder(store, "");
      const recording = new RecordingStore(store);
      const again = await compactMonth(recording, OPTIONS);
      expect(recording.operations).to.deep.equal([]);
      expect(await objectsUnder(store, "")).to.deep.equal(after);
      expect(again.partitions).to.have.length(2 * 28);
      expect(again.partitions.every((p) => p.merged.length === 0 && p.deleted.length === 0)).to.equal(true);
    });

    it("deletes a file only after the merged file holding its rows is written", async () => {
      const store = await backfilledStore();
      const checked: string[] = [];
      const recording = new RecordingStore(store, async (key) => {
        // At the moment of a delete, every row of the file is already in the partition's one file.
        const [dataset, partition] = key.split("/") as ["weather_hourly" | "weather_daily", string];
        const target = curatedObjectKey(dataset, partition.slice("date=".length));
        const columns = parquetMetadata(arrayBufferOf((await store.getObject(key)).body))
          .schema.slice(1)
          .map((e) => e.name);
        const merged = new Set(await rowTexts(store, target, columns));
        const rows = await rowTexts(store, key, columns);
        for (const row of rows) expect(merged.has(row), `${key} row in ${target}`).to.equal(true);
        checked.push(key);
      });
      await compactMonth(recording, OPTIONS);
      // Per dataset: part-b of Feb 1; part-b and part-c of Feb 2; part-d of Feb 28.
      expect(checked).to.have.length(2 * 4);
      const ops = recording.operations;
      for (const op of ops.filter((o) => o.startsWith("delete "))) {
        const partition = path.posix.dirname(op.slice("delete ".length));
        const put = ops.findIndex((o) => o.startsWith(`put ${partition}/`));
        expect(put, op).to.be.within(0, ops.indexOf(op) - 1);
      }
    });

    it("finishes a compaction that stopped before its deletes, without counting the leftover rows twice", async () => {
      const store = await backfilledStore();
      const before = await queryResults(store);
      const crashing = new RecordingStore(store, () => Promise.reject(new Error("the process stopped here")));
      let message = "";
      await compactMonth(crashing, OPTIONS).catch((e: Error) => (message = e.message));
      expect(message).to.equal("the process stopped here");
      // The merged file and the leftover part are both visible now: their rows show twice until the re-run.
      expect(await store.listKeys("weather_hourly/date=2024-02-01/")).to.have.length(2);

      const result = await compactMonth(store, OPTIONS);
      expect(await queryResults(store)).to.deep.equal(before);
      const finished = result.partitions.find((p) => p.dataset === "weather_hourly" && p.date === "2024-02-01");
      expect(finished?.merged).to.deep.equal([]);
      expect(finished?.deleted).to.deep.equal(["weather_hourly/date=2024-02-01/part-b.parquet"]);
    });

    it("merges a file that appeared after a compaction into the partition's file", async () => {
      const store = await backfilledStore();
      await compactMonth(store, OPTIONS);
      await addPartFiles(store, "late", body(5, "2024-02-01", "2024-02-01"));
      const before = await queryResults(store);
      const result = await compactMonth(store, OPTIONS);
      expect(await queryResults(store)).to.deep.equal(before);
      expect(await store.listKeys("weather_hourly/date=2024-02-01/")).to.deep.equal([
        curatedObjectKey("weather_hourly", "2024-02-01"),
      ]);
      expect(result.partitions.filter((p) => p.merged.length > 0)).to.have.length(2);
    });

    it("rewrites a lone file of small row groups into full ones, once", async () => {
      const store = await tempStore();
      // Two locations in two files, rows flushed at 24: the day file gets two row groups of 24.
      await transformResponseFiles(
        [
          { name: "x.json", body: body(1, "2024-02-10", "2024-02-11") },
          { name: "y.json", body: body(2, "2024-02-10", "2024-02-11") },
        ],
        store,
        { rowGroupRows: 24 },
      );
      const key = curatedObjectKey("weather_hourly", "2024-02-10");
      const groups = async () =>
        parquetMetadata(arrayBufferOf((await store.getObject(key)).body)).row_groups.map((g) => Number(g.num_rows));
      expect(await groups()).to.deep.equal([24, 24]);
      const before = await queryResults(store);
      await compactMonth(store, OPTIONS);
      expect(await groups()).to.deep.equal([48]);
      expect(await queryResults(store)).to.deep.equal(before);
      const recording = new RecordingStore(store);
      await compactMonth(recording, OPTIONS);
      expect(recording.operations).to.deep.equal([]);
    });

    it("refuses a file whose column type differs from the schema, names it, and changes nothing", async () => {
      const store = await backfilledStore();
      const bad = parquetWriteBuffer({
        columnData: [
          { name: "location", data: ["x"], type: "STRING" },
          { name: "latitude", data: [1], type: "DOUBLE" },
          { name: "longitude", data: [1], type: "DOUBLE" },
          { name: "elevation", data: [1], type: "DOUBLE" },
          { name: "time", data: [new Date(Date.UTC(2024, 1, 3))], type: "TIMESTAMP" },
          { name: "temperature_2m", data: ["warm"], type: "STRING" },
        ],
      });
      await store.putObject("weather_hourly/date=2024-02-03/athena-insert.parquet", new Uint8Array(bad), {
        contentType: "x",
      });
      const before = await objectsUnder(store, "");
      let message = "";
      await compactMonth(store, OPTIONS).catch((e: Error) => (message = e.message));
      expect(message).to.equal(
        "weather_hourly/date=2024-02-03/athena-insert.parquet: column temperature_2m is STRING, but pipeline/schema.ts " +
          "declares DOUBLE (the Glue table's double); rewrite that file with the pipeline's transform, or move it out " +
          "of weather_hourly/date=2024-02-03/",
      );
      const after = await objectsUnder(store, "");
      // Partitions before the bad one were compacted; the bad one and those after it are untouched.
      for (const [key, bytes] of before) {
        if (key.startsWith("weather_daily/") || key >= "weather_hourly/date=2024-02-03/") {
          expect(after.get(key), key).to.equal(bytes);
        }
      }
    });

    it("lists objects that are not Parquet files of a partition and leaves them alone", async () => {
      const store = await backfilledStore();
      await store.putObject("weather_daily/date=2024-02-05/notes.txt", "hello", { contentType: "text/plain" });
      const result = await compactMonth(store, OPTIONS);
      expect(result.ignored).to.deep.equal(["weather_daily/date=2024-02-05/notes.txt"]);
      expect((await store.getObject("weather_daily/date=2024-02-05/notes.txt")).body.toString()).to.equal("hello");
    });

    it("refuses a month the daily run may still be writing, and says from when it can run", async () => {
      const store = await backfilledStore();
      let message = "";
      await compactMonth(store, { ...OPTIONS, today: "2024-03-01" }).catch((e: Error) => (message = e.message));
      expect(message).to.equal(
        "--month 2024-02 is not over for the daily run (today is 2024-03-01 in the stack's time zone, and the run " +
          "still writes 2024-02 dates until the day after 2024-02-29); compacting now could replace a file the run " +
          "just wrote with an older merge: compact 2024-02 from 2024-03-02 on",
      );
      expect((await compactMonth(store, { ...OPTIONS, today: "2024-03-02" })).partitions).to.have.length(56);
    });

    it("reads the last day of a month, leap years included, and refuses anything but YYYY-MM", () => {
      expect(["2024-02", "2023-02", "2024-12", "2024-04"].map(lastDayOfMonth)).to.deep.equal([
        "2024-02-29",
        "2023-02-28",
        "2024-12-31",
        "2024-04-30",
      ]);
      expect(() => lastDayOfMonth("2024-13")).to.throw('--month is "2024-13"; write it YYYY-MM, e.g. 2026-10');
    });
  });
});
