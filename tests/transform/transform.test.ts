import { readdirSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Readable } from "node:stream";
import { expect } from "chai";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { curatedObjectKey, rawBodyKey, requestManifestKey } from "../../pipeline/core/keys";
import type { RequestManifest } from "../../pipeline/core/manifest";
import { DEFAULT_PIPELINE_SETTINGS, type Location, type PipelineSettings } from "../../pipeline/core/settings";
import { DirectoryObjectStore, S3ObjectStore, type ObjectStore } from "../../pipeline/core/storage";
import { startLocalS3 } from "../../pipeline/local/s3-server";
import {
  PARQUET_CONTENT_TYPE,
  transformRawObjects,
  transformResponseFiles,
  type CuratedFile,
} from "../../pipeline/transform/transform";
import { rejectionOf } from "../support/rejection";

const RECORDED = path.join(__dirname, "..", "fixtures", "open-meteo", "recorded");
const HOUR = 3_600_000;

type Row = Record<string, unknown>;

/** One block of an Open-Meteo body: time, then one array per variable. */
interface RawBlock {
  time: (string | number)[];
  [variable: string]: (string | number | null)[];
}

/** The parts of one location of an Open-Meteo body that these tests read or build. */
interface RawElement {
  latitude: number;
  longitude: number;
  elevation?: number | null;
  location_id?: number;
  utc_offset_seconds: number;
  timezone?: string;
  hourly_units?: Record<string, string>;
  hourly?: RawBlock;
  daily_units?: Record<string, string>;
  daily?: RawBlock;
}

function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** Rows of a stored Parquet object, timestamps as epoch milliseconds. */
async function readRows(store: DirectoryObjectStore, key: string): Promise<Row[]> {
  const { body } = await store.getObject(key);
  const rows = await parquetReadObjects({ file: arrayBufferOf(body) });
  return rows.map((row) =>
    Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v instanceof Date ? v.getTime() : v])),
  );
}

async function readMetadata(store: DirectoryObjectStore, key: string) {
  return parquetMetadata(arrayBufferOf((await store.getObject(key)).body));
}

/** The message of the error a promise rejects with. */
async function messageOf(promise: Promise<unknown>): Promise<string> {
  return (await rejectionOf(promise)).message;
}

let tempDirs: string[] = [];
async function tempStore(): Promise<DirectoryObjectStore> {
  const dir = await mkdtemp(path.join(tmpdir(), "transform-test-"));
  tempDirs.push(dir);
  return new DirectoryObjectStore(dir);
}
afterEach(async () => {
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
  tempDirs = [];
});

// ---- expectations computed from the raw JSON, independently of the code under test ----

/** UTC epoch ms of an Open-Meteo time value, with plain Date.UTC on the parsed label. */
function expectedUtc(value: string | number, format: string, offsetSeconds: number): number {
  if (format === "unixtime") return (value as number) * 1000;
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?$/.exec(value as string);
  if (!m) throw new Error(`fixture time ${value} is not iso8601`);
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +(m[4] ?? 0), +(m[5] ?? 0)) - offsetSeconds * 1000;
}

/** The local calendar date of an Open-Meteo time value: the label's date, or the date of t + offset. */
function expectedLocalDate(value: string | number, format: string, offsetSeconds: number): string {
  if (format === "unixtime") return new Date(((value as number) + offsetSeconds) * 1000).toISOString().slice(0, 10);
  return (value as string).slice(0, 10);
}

/** Expected rows per dataset and date of a recorded body, in body order then time order. */
function expectedRowsOf(raw: unknown): Map<string, Row[]> {
  const out = new Map<string, Row[]>();
  const elements = (Array.isArray(raw) ? raw : [raw]) as RawElement[];
  for (const element of elements) {
    // The documented fallback name: body coordinates, then #location_id when present.
    const location =
      `${element.latitude},${element.longitude}` + (element.location_id === undefined ? "" : `#${element.location_id}`);
    const offset = element.utc_offset_seconds;
    for (const [block, dataset] of [
      ["hourly", "weather_hourly"],
      ["daily", "weather_daily"],
    ] as const) {
      const data = element[block];
      if (!data) continue;
      const units = element[`${block}_units` as const]!;
      data.time.forEach((t: string | number, i: number) => {
        const row: Row = {
          location,
          latitude: element.latitude,
          longitude: element.longitude,
          elevation: element.elevation ?? null,
        };
        if (block === "hourly") row["time"] = expectedUtc(t, units.time!, offset);
        for (const variable of Object.keys(data).filter((k) => k !== "time")) {
          const value = data[variable]![i];
          const format = units[variable];
          const isTime = format === "iso8601" || format === "unixtime";
          row[variable] = value === null || !isTime ? value : expectedUtc(value!, format, offset);
        }
        const key = curatedObjectKey(dataset, expectedLocalDate(t, units.time!, offset));
        out.set(key, [...(out.get(key) ?? []), row]);
      });
    }
  }
  return out;
}

function unitsOf(raw: unknown, block: "hourly" | "daily"): Record<string, string> {
  const element = (Array.isArray(raw) ? raw[0] : raw) as RawElement;
  return Object.fromEntries(Object.entries(element[`${block}_units` as const]!).filter(([name]) => name !== "time"));
}

describe("transform", () => {
  describe("transformResponseFiles over every recorded Open-Meteo body (golden)", () => {
    const files = readdirSync(RECORDED)
      .filter((f) => f.endsWith(".json"))
      .sort();
    expect(files.length, "recorded fixtures").to.be.above(0);

    for (const file of files) {
      it(`writes every location, step and variable of ${file} to the right partition, value for value`, async () => {
        const text = await readFile(path.join(RECORDED, file), "utf8");
        const raw: unknown = JSON.parse(text);
        const expected = expectedRowsOf(raw);
        const store = await tempStore();

        const written = await transformResponseFiles([{ name: file, body: new TextEncoder().encode(text) }], store);

        expect((await store.listKeys("")).filter((k) => k.endsWith(".parquet"))).to.deep.equal(
          [...expected.keys()].sort(),
        );
        expect(written.map((f) => [f.key, f.rows]).sort()).to.deep.equal(
          [...expected.entries()].map(([k, rows]) => [k, rows.length]).sort(),
        );
        for (const [key, rows] of expected) {
          expect(await readRows(store, key), key).to.deep.equal(rows);
        }
      });

      it(`declares the schema types and units of ${file} in each file`, async () => {
        const text = await readFile(path.join(RECORDED, file), "utf8");
        const raw: unknown = JSON.parse(text);
        const store = await tempStore();
        const written = await transformResponseFiles([{ name: file, body: text }], store);
        for (const { key, dataset } of written) {
          const block = dataset === "weather_hourly" ? "hourly" : "daily";
          const units = unitsOf(raw, block);
          const metadata = await readMetadata(store, key);
          const byName = new Map(metadata.schema.map((e) => [e.name, e]));
          const fixed = ["location", "latitude", "longitude", "elevation", ...(block === "hourly" ? ["time"] : [])];
          expect(
            metadata.schema.slice(1).map((e) => e.name),
            key,
          ).to.deep.equal([...fixed, ...Object.keys(units)]);
          expect(byName.get("location")).to.include({
            type: "BYTE_ARRAY",
            converted_type: "UTF8",
            repetition_type: "REQUIRED",
          });
          expect(byName.get("elevation")).to.include({ type: "DOUBLE", repetition_type: "OPTIONAL" });
          expect(byName.has("date"), "the partition column is not repeated inside the file").to.equal(false);
          if (block === "hourly") {
            expect(byName.get("time")!.type).to.equal("INT64");
            expect(byName.get("time")!.logical_type).to.deep.equal({
              type: "TIMESTAMP",
              isAdjustedToUTC: true,
              unit: "MILLIS",
            });
          }
          for (const [variable, unit] of Object.entries(units)) {
            const element = byName.get(variable)!;
            if (unit === "iso8601" || unit === "unixtime") {
              expect(element.type, variable).to.equal("INT64");
              expect(element.logical_type, variable).to.deep.equal({
                type: "TIMESTAMP",
                isAdjustedToUTC: true,
                unit: "MILLIS",
              });
            } else {
              expect(element.type, variable).to.equal("DOUBLE");
            }
            expect(element.repetition_type, variable).to.equal("OPTIONAL");
          }
          const kv = Object.fromEntries((metadata.key_value_metadata ?? []).map((e) => [e.key, e.value]));
          expect(JSON.parse(kv["open_meteo.units"]!), key).to.deep.equal(units);
          expect(JSON.parse(kv["open_meteo.source"]!)).to.deep.equal([file]);
          expect((await store.getObject(key)).body.byteLength).to.equal(written.find((f) => f.key === key)!.bytes);
        }
      });
    }

    for (const pair of ["single_location", "multi_location"]) {
      it(`writes identical Parquet values from the iso8601 and unixtime bodies of upstream ${pair}`, async () => {
        const outputs: Map<string, Row[]>[] = [];
        for (const format of ["iso8601", "unixtime"]) {
          const name = `upstream_server_test_${pair}_${format}.json`;
          const store = await tempStore();
          const written = await transformResponseFiles(
            [{ name, body: await readFile(path.join(RECORDED, name)) }],
            store,
          );
          const rows = new Map<string, Row[]>();
          for (const { key } of written) rows.set(key, await readRows(store, key));
          outputs.push(rows);
        }
        const [iso, unix] = outputs as [Map<string, Row[]>, Map<string, Row[]>];
        expect([...unix.keys()]).to.deep.equal([...iso.keys()]);
        expect(iso.size).to.be.above(1);
        for (const [key, rows] of iso) expect(unix.get(key), key).to.deep.equal(rows);
      });
    }
  });

  describe("transformResponseFiles", () => {
    it("splits a negative-offset body by local date and stores UTC instants", async () => {
      const body = {
        latitude: 40.71,
        longitude: -74.01,
        utc_offset_seconds: -18000,
        hourly_units: { time: "iso8601", temperature_2m: "°C" },
        hourly: {
          time: ["2024-01-05T22:00", "2024-01-05T23:00", "2024-01-06T00:00", "2024-01-06T01:00"],
          temperature_2m: [1, 2, 3, null],
        },
      };
      const store = await tempStore();
      await transformResponseFiles([{ name: "ny.json", body: JSON.stringify(body) }], store);
      const row = (time: number, temperature_2m: number | null): Row => ({
        location: "40.71,-74.01",
        latitude: 40.71,
        longitude: -74.01,
        elevation: null,
        time,
        temperature_2m,
      });
      expect(await readRows(store, curatedObjectKey("weather_hourly", "2024-01-05"))).to.deep.equal([
        row(Date.UTC(2024, 0, 6, 3), 1),
        row(Date.UTC(2024, 0, 6, 4), 2),
      ]);
      expect(await readRows(store, curatedObjectKey("weather_hourly", "2024-01-06"))).to.deep.equal([
        row(Date.UTC(2024, 0, 6, 5), 3),
        row(Date.UTC(2024, 0, 6, 6), null),
      ]);
    });

    it("keeps the rows buffered across many open day files bounded and still writes every row", async () => {
      // 40 days x 24 hours, one file per day; a 50-row budget forces early row groups.
      const start = Date.UTC(2024, 0, 1);
      const time = Array.from({ length: 40 * 24 }, (_, h) => new Date(start + h * HOUR).toISOString().slice(0, 16));
      const body = {
        latitude: 1,
        longitude: 2,
        utc_offset_seconds: 0,
        hourly_units: { time: "iso8601", x: "mm" },
        hourly: { time, x: time.map((_, i) => i) },
      };
      const store = await tempStore();
      const written = await transformResponseFiles(
        [
          { name: "a.json", body: JSON.stringify(body) },
          { name: "b.json", body: JSON.stringify({ ...body, latitude: 3 }) },
        ],
        store,
        { rowGroupRows: 50 },
      );
      expect(written).to.have.lengthOf(40);
      expect(written.every((f) => f.rows === 48)).to.equal(true);
      // The budget moves rows to the spill (in the system's temporary folder), not into early row
      // groups: each day is still one row group.
      const metadata = await readMetadata(store, curatedObjectKey("weather_hourly", "2024-01-02"));
      expect(metadata.row_groups.map((g) => Number(g.num_rows))).to.deep.equal([48]);
      const day = await readRows(store, curatedObjectKey("weather_hourly", "2024-01-02"));
      expect(day.map((r) => [r["latitude"], r["x"]])).to.deep.equal([
        ...Array.from({ length: 24 }, (_, h) => [1, 24 + h]),
        ...Array.from({ length: 24 }, (_, h) => [3, 24 + h]),
      ]);
    });

    it("converts a body streamed in chunks, with a spill, into the rows of the body in memory, in whole row groups", async () => {
      const start = Date.UTC(2024, 0, 1);
      const time = Array.from({ length: 5 * 24 }, (_, h) => new Date(start + h * HOUR).toISOString().slice(0, 16));
      const element = (i: number) => ({
        latitude: 40 + i,
        longitude: 2,
        elevation: i === 1 ? null : 10 * i,
        utc_offset_seconds: 3600,
        ...(i > 0 ? { location_id: i } : {}),
        hourly_units: { time: "iso8601", temperature_2m: "°C", rain: "mm" },
        hourly: {
          time,
          temperature_2m: time.map((_, h) => (h % 7 === i ? null : (h * (i + 1)) / 10 - 3)),
          rain: time.map((_, h) => (h % 11 === 0 ? -0 : h / 100)),
        },
      });
      const bytes = new TextEncoder().encode(JSON.stringify([0, 1, 2, 3].map(element)));
      const inMemory = await tempStore();
      const written = await transformResponseFiles([{ name: "b.json", body: bytes }], inMemory);
      const chunks = (): Readable =>
        Readable.from(
          Array.from({ length: Math.ceil(bytes.length / 333) }, (_, i) => bytes.subarray(i * 333, (i + 1) * 333)),
        );
      const streamed = await tempStore();
      const spillDirectory = await mkdtemp(path.join(tmpdir(), "transform-spill-"));
      tempDirs.push(spillDirectory);
      // A budget of 30 rows across 6 open day files: rows move to the spill again and again.
      const options = { spillDirectory, rowGroupRows: 30 };
      const streamedFiles = await transformResponseFiles([{ name: "b.json", body: chunks() }], streamed, options);
      expect(streamedFiles.map((f) => [f.key, f.rows])).to.deep.equal(written.map((f) => [f.key, f.rows]));
      for (const file of written) {
        expect(await readRows(streamed, file.key), file.key).to.deep.equal(await readRows(inMemory, file.key));
        // Rows released to the spill come back as whole row groups: 2 x 48 rows, not 4 x 24.
        const groups = (await readMetadata(streamed, file.key)).row_groups.map((g) => Number(g.num_rows));
        expect(groups, file.key).to.deep.equal([48, 48]);
      }
      expect(readdirSync(spillDirectory), "the spill file is deleted").to.deep.equal([]);
    });

    it("refuses responses whose variables differ, since one file holds one set of columns", async () => {
      const body = (variable: string) => ({
        latitude: 1,
        longitude: 2,
        utc_offset_seconds: 0,
        hourly_units: { time: "iso8601", [variable]: "mm" },
        hourly: { time: ["2024-01-01T00:00"], [variable]: [1] },
      });
      const store = await tempStore();
      const message = await messageOf(
        transformResponseFiles(
          [
            { name: "a.json", body: JSON.stringify(body("rain")) },
            { name: "b.json", body: JSON.stringify(body("snowfall")) },
          ],
          store,
        ),
      );
      expect(message).to.equal(
        "b.json: hourly of location 1 (1,2) has variables snowfall, but the weather_hourly files have rain; " +
          "one file per dataset and date holds one set of columns: transform such responses separately",
      );
      expect(await store.listKeys("")).to.deep.equal([]);
    });

    it("refuses a variable whose unit differs between locations", async () => {
      const body = (unit: string) => ({
        latitude: 1,
        longitude: 2,
        utc_offset_seconds: 0,
        hourly_units: { time: "iso8601", temperature_2m: unit },
        hourly: { time: ["2024-01-01T00:00"], temperature_2m: [1] },
      });
      const store = await tempStore();
      const message = await messageOf(
        transformResponseFiles(
          [
            { name: "c.json", body: JSON.stringify(body("°C")) },
            { name: "f.json", body: JSON.stringify(body("°F")) },
          ],
          store,
        ),
      );
      expect(message).to.include(
        'f.json: hourly of location 1 (1,2): temperature_2m is in "°F", but earlier locations are in "°C"',
      );
    });
  });

  describe("transformRawObjects", () => {
    const DATE = "2024-03-10";
    const OFFSET = 3600;
    const settings: PipelineSettings = {
      ...DEFAULT_PIPELINE_SETTINGS,
      timezone: "Europe/Berlin",
      hourlyVariables: ["temperature_2m", "relative_humidity_2m"],
      dailyVariables: ["temperature_2m_max", "sunrise"],
    };
    const BATCHES: Location[][] = [
      [
        { name: "amsterdam", latitude: 52.37, longitude: 4.89 },
        { name: "berlin", latitude: 52.52, longitude: 13.41 },
      ],
      [{ name: "paris", latitude: 48.85, longitude: 2.35 }],
    ];
    const KEYS = [rawBodyKey("forecast", DATE, "0000-aaaaaaaaaaaa"), rawBodyKey("forecast", DATE, "0001-bbbbbbbbbbbb")];
    // The body covers 22:00 the day before to 00:00 the day after: only DATE's 24 hours are kept.
    const LABELS = [
      "2024-03-09T22:00",
      "2024-03-09T23:00",
      ...Array.from({ length: 24 }, (_, h) => `${DATE}T${String(h).padStart(2, "0")}:00`),
      "2024-03-11T00:00",
    ];

    /** Temperature of location `l` at label index `i`; `shift` changes the data between runs. */
    const temperature = (l: number, i: number, shift = 0): number | null =>
      i === 5 && l === 1 ? null : 10 * l + i / 4 + shift;
    const humidity = (l: number, i: number): number => 40 + l + i;

    /** A body element as element() builds it, always with an hourly block. */
    type BuiltElement = RawElement & { hourly: RawBlock };

    function element(location: Location, l: number, shift = 0): BuiltElement {
      return {
        latitude: location.latitude + 0.01,
        longitude: location.longitude - 0.01,
        utc_offset_seconds: OFFSET,
        timezone: "Europe/Berlin",
        elevation: 30 + l,
        ...(l > 0 ? { location_id: l } : {}),
        hourly_units: { time: "iso8601", temperature_2m: "°C", relative_humidity_2m: "%", precipitation: "mm" },
        hourly: {
          time: LABELS,
          temperature_2m: LABELS.map((_, i) => temperature(l, i, shift)),
          relative_humidity_2m: LABELS.map((_, i) => humidity(l, i)),
          precipitation: LABELS.map(() => 0),
        },
        daily_units: { time: "iso8601", temperature_2m_max: "°C", sunrise: "iso8601" },
        daily: { time: [DATE], temperature_2m_max: [15 + l + shift], sunrise: [`${DATE}T06:4${l}`] },
      };
    }

    function manifest(
      batch: number,
      hourlyVariables = [...settings.hourlyVariables, "precipitation"],
    ): RequestManifest {
      return {
        version: 1,
        endpoint: "forecast",
        date: DATE,
        requestId: KEYS[batch]!.split("/").at(-1)!.replace(".json", ""),
        url: "https://api.open-meteo.com/v1/forecast?...",
        locations: BATCHES[batch]!,
        hourlyVariables,
        dailyVariables: settings.dailyVariables,
        timezone: "Europe/Berlin",
        fetchedAt: "2024-03-11T01:00:00.000Z",
        bodyBytes: 0,
        bodySha256: "",
      };
    }

    /** Writes both raw bodies (batch 0 as a JSON array, batch 1 as a single object) and their manifests. */
    async function writeRaw(store: ObjectStore, shift = 0): Promise<void> {
      const bodies = [
        JSON.stringify(BATCHES[0]!.map((loc, i) => element(loc, i, shift))),
        JSON.stringify(element(BATCHES[1]![0]!, 0, shift)),
      ];
      for (const [i, key] of KEYS.entries()) {
        await store.putObject(key, bodies[i]!, { contentType: "application/json" });
        await store.putObject(requestManifestKey(key), JSON.stringify(manifest(i)), {
          contentType: "application/json",
        });
      }
    }

    function expectedHourly(shift = 0): Row[] {
      const rows: Row[] = [];
      for (const batch of BATCHES) {
        batch.forEach((location, l) => {
          LABELS.forEach((label, i) => {
            if (!label.startsWith(DATE)) return;
            const [, hh] = /T(\d\d)/.exec(label)!;
            rows.push({
              location: location.name,
              latitude: location.latitude + 0.01,
              longitude: location.longitude - 0.01,
              elevation: 30 + l,
              time: Date.UTC(2024, 2, 10, Number(hh)) - OFFSET * 1000,
              temperature_2m: temperature(l, i, shift),
              relative_humidity_2m: humidity(l, i),
            });
          });
        });
      }
      return rows;
    }

    async function stores(shift = 0) {
      const rawStore = await tempStore();
      const curatedStore = await tempStore();
      await writeRaw(rawStore, shift);
      return { settings, rawStore, curatedStore };
    }

    it("writes one hourly and one daily file for the date, with names from the manifests, in key order", async () => {
      const deps = await stores();
      const result = await transformRawObjects({ date: DATE, keys: [...KEYS].reverse() }, deps);

      const hourlyKey = curatedObjectKey("weather_hourly", DATE);
      const dailyKey = curatedObjectKey("weather_daily", DATE);
      expect(result.date).to.equal(DATE);
      expect(result.rawObjects).to.equal(2);
      expect(result.files.map((f: CuratedFile) => [f.dataset, f.key, f.rows])).to.deep.equal([
        ["weather_hourly", hourlyKey, 72],
        ["weather_daily", dailyKey, 3],
      ]);
      expect(await deps.curatedStore.listKeys("")).to.deep.equal([dailyKey, hourlyKey]);
      expect(await readRows(deps.curatedStore, hourlyKey)).to.deep.equal(expectedHourly());
      expect(await readRows(deps.curatedStore, dailyKey)).to.deep.equal(
        BATCHES.flatMap((batch) =>
          batch.map((location, l) => ({
            location: location.name,
            latitude: location.latitude + 0.01,
            longitude: location.longitude - 0.01,
            elevation: 30 + l,
            temperature_2m_max: 15 + l,
            sunrise: Date.UTC(2024, 2, 10, 6, 40 + l) - OFFSET * 1000,
          })),
        ),
      );
      for (const file of result.files) {
        expect((await deps.curatedStore.getObject(file.key)).body.byteLength).to.equal(file.bytes);
      }
    });

    it("declares the settings' variables as columns (not what else the request asked for) and records the sources", async () => {
      const deps = await stores();
      await transformRawObjects({ date: DATE, keys: KEYS }, deps);
      const metadata = await readMetadata(deps.curatedStore, curatedObjectKey("weather_hourly", DATE));
      expect(metadata.schema.slice(1).map((e) => e.name)).to.deep.equal([
        "location",
        "latitude",
        "longitude",
        "elevation",
        "time",
        "temperature_2m",
        "relative_humidity_2m",
      ]);
      const kv = Object.fromEntries(metadata.key_value_metadata!.map((e) => [e.key, e.value]));
      expect(JSON.parse(kv["open_meteo.units"]!)).to.deep.equal({ temperature_2m: "°C", relative_humidity_2m: "%" });
      // What the rows depend on, not which bodies they came from: a backfill writes the same bytes.
      expect(JSON.parse(kv["open_meteo.source"]!)).to.deep.equal(["open-meteo forecast timezone=Europe/Berlin"]);
      // The raw keys are in the object's metadata, outside the file's bytes.
      const { metadata: s3 } = await deps.curatedStore.getObject(curatedObjectKey("weather_hourly", DATE));
      expect(JSON.parse(s3["source-keys"]!)).to.deep.equal(KEYS);
    });

    it("stores the files as application/vnd.apache.parquet", async () => {
      const deps = await stores();
      const types: string[] = [];
      const curatedStore = {
        description: "recording",
        getObject: deps.curatedStore.getObject.bind(deps.curatedStore),
        getObjectStream: deps.curatedStore.getObjectStream.bind(deps.curatedStore),
        listKeys: deps.curatedStore.listKeys.bind(deps.curatedStore),
        deleteObject: deps.curatedStore.deleteObject.bind(deps.curatedStore),
        putObject: async (key: string, body: Uint8Array | string, options: { contentType: string }) => {
          types.push(options.contentType);
          await deps.curatedStore.putObject(key, body, options);
        },
      };
      await transformRawObjects({ date: DATE, keys: KEYS }, { ...deps, curatedStore });
      expect(types).to.deep.equal([PARQUET_CONTENT_TYPE, PARQUET_CONTENT_TYPE]);
      expect(PARQUET_CONTENT_TYPE).to.equal("application/vnd.apache.parquet");
    });

    it("replaces the date's file on a re-run", async () => {
      const deps = await stores();
      await transformRawObjects({ date: DATE, keys: KEYS }, deps);
      await writeRaw(deps.rawStore, 100);
      await transformRawObjects({ date: DATE, keys: KEYS }, deps);
      expect(await deps.curatedStore.listKeys("weather_hourly/")).to.deep.equal([
        curatedObjectKey("weather_hourly", DATE),
      ]);
      expect(await readRows(deps.curatedStore, curatedObjectKey("weather_hourly", DATE))).to.deep.equal(
        expectedHourly(100),
      );
    });

    it("skips a dataset without variables in the settings", async () => {
      const deps = await stores();
      const result = await transformRawObjects(
        { date: DATE, keys: KEYS },
        { ...deps, settings: { ...settings, dailyVariables: [] } },
      );
      expect(result.files.map((f) => f.dataset)).to.deep.equal(["weather_hourly"]);
      expect(await deps.curatedStore.listKeys("weather_daily/")).to.deep.equal([]);
    });

    it("refuses keys of another date, manifests as keys, and no keys at all", async () => {
      const deps = await stores();
      expect(await messageOf(transformRawObjects({ date: "2024-03-11", keys: KEYS }, deps))).to.equal(
        `${KEYS[0]}: its manifest is for ${DATE}, not 2024-03-11; pass the keys ingest returned for 2024-03-11`,
      );
      expect(
        await messageOf(transformRawObjects({ date: DATE, keys: [requestManifestKey(KEYS[0]!)] }, deps)),
      ).to.include("is not a raw body key");
      expect(await messageOf(transformRawObjects({ date: DATE, keys: [] }, deps))).to.equal(
        `no raw body keys to transform for ${DATE}; run ingest for that date first (it returns the keys)`,
      );
      expect(await deps.curatedStore.listKeys("")).to.deep.equal([]);
    });

    it("refuses to write an empty file when the bodies hold no rows of the date", async () => {
      const deps = await stores();
      for (const key of KEYS) {
        // Every label two days later: a body of another date behind a manifest of DATE.
        const text = (await deps.rawStore.getObject(key)).body
          .toString()
          .replaceAll('"2024-03-11', '"2024-03-13')
          .replaceAll('"2024-03-10', '"2024-03-12')
          .replaceAll('"2024-03-09', '"2024-03-11');
        await deps.rawStore.putObject(key, text, { contentType: "application/json" });
      }
      expect(await messageOf(transformRawObjects({ date: DATE, keys: KEYS }, deps))).to.equal(
        `none of the 2 raw bodies has weather_hourly rows for ${DATE}; they hold 2024-03-11 to 2024-03-13 ` +
          `(keys ${KEYS[0]} … ${KEYS[1]}); check the date and the keys`,
      );
      expect(await deps.curatedStore.listKeys("")).to.deep.equal([]);
    });

    it("refuses a body whose request lacks a variable the settings now list", async () => {
      const deps = await stores();
      await deps.rawStore.putObject(requestManifestKey(KEYS[1]!), JSON.stringify(manifest(1, ["temperature_2m"])), {
        contentType: "application/json",
      });
      expect(await messageOf(transformRawObjects({ date: DATE, keys: KEYS }, deps))).to.equal(
        `${KEYS[1]}: hourly variable(s) relative_humidity_2m are in the settings but were not requested for this body; ` +
          `re-run ingest for ${DATE} so the raw data holds them`,
      );
    });

    describe("a bad raw object fails the run, names the key, and leaves the earlier files byte-identical", () => {
      const good = JSON.stringify(element(BATCHES[1]![0]!, 0));
      const twoLocations = (edit: (e: BuiltElement) => void) =>
        JSON.stringify(
          BATCHES[0]!.map((loc, i) => {
            const e = element(loc, i);
            if (i === 1) edit(e);
            return e;
          }),
        );
      const cases: { name: string; key: 0 | 1; body?: string; deleteManifest?: boolean; message: string }[] = [
        {
          name: "not JSON (nan)",
          key: 1,
          body: good.replace('"temperature_2m":[0,', '"temperature_2m":[nan,'),
          message: "not valid JSON",
        },
        {
          name: "a requested variable missing",
          key: 0,
          body: twoLocations((e) => delete e.hourly.relative_humidity_2m),
          message: "hourly.relative_humidity_2m is missing from location 2 of 2; the request asked for it",
        },
        {
          name: "the wrong number of locations",
          key: 0,
          body: JSON.stringify([element(BATCHES[0]![0]!, 0)]),
          message: "expected 2 locations (one per requested coordinate), got 1",
        },
        {
          name: "an Open-Meteo error body",
          key: 1,
          body: '{"error":true,"reason":"Too many concurrent requests"}',
          message: "the body is an Open-Meteo error: Too many concurrent requests",
        },
        {
          name: "a variable shorter than time",
          key: 0,
          body: twoLocations((e) => e.hourly.temperature_2m!.pop()),
          message: "hourly.temperature_2m has 26 values but hourly.time has 27",
        },
        { name: "a missing manifest", key: 1, deleteManifest: true, message: "request manifest" },
      ];

      for (const c of cases) {
        it(`fails on ${c.name}`, async () => {
          const deps = await stores();
          await transformRawObjects({ date: DATE, keys: KEYS }, deps);
          const before = await Promise.all(
            (await deps.curatedStore.listKeys("")).map(
              async (k) => [k, (await deps.curatedStore.getObject(k)).body] as const,
            ),
          );
          const key = KEYS[c.key]!;
          if (c.body !== undefined) await deps.rawStore.putObject(key, c.body, { contentType: "application/json" });
          if (c.deleteManifest) await rm(path.join(deps.rawStore.root, requestManifestKey(key)));

          const message = await messageOf(transformRawObjects({ date: DATE, keys: KEYS }, deps));

          expect(message).to.match(new RegExp(`^${key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: `));
          expect(message).to.include(c.message);
          expect(await deps.curatedStore.listKeys("")).to.deep.equal(before.map(([k]) => k));
          for (const [k, bytes] of before) {
            expect(Buffer.from((await deps.curatedStore.getObject(k)).body).equals(bytes), k).to.equal(true);
          }
          const leftovers = await readdir(deps.curatedStore.root, { recursive: true });
          expect(leftovers.filter((f) => f.endsWith(".partial"))).to.deep.equal([]);
        });
      }

      it("says re-run ingest for a missing manifest that S3 answers with AccessDenied, as AWS does without s3:ListBucket", async () => {
        // AWS S3 answers a reader who may not list the bucket 403 for a missing key; so does this s3rver.
        const s3 = await startLocalS3({
          directory: (await tempStore()).root,
          buckets: ["raw"],
          withoutListBucket: ["raw"],
        });
        const client = s3.client();
        try {
          const rawStore = new S3ObjectStore(client, "raw");
          await writeRaw(rawStore);
          await rawStore.deleteObject(requestManifestKey(KEYS[1]!));
          const message = await messageOf(
            transformRawObjects({ date: DATE, keys: KEYS }, { settings, rawStore, curatedStore: await tempStore() }),
          );
          expect(message).to.equal(
            `${KEYS[1]}: its request manifest ${requestManifestKey(KEYS[1]!)} does not exist or may not be read ` +
              "(S3 answered AccessDenied, as it does for a missing key when the reader may not list the bucket); " +
              "ingest writes one beside every body, so re-run ingest for that date; if the manifest is there, " +
              "give the transform role s3:GetObject on it",
          );
        } finally {
          client.destroy();
          await s3.close();
        }
      });

      it("writes nothing at all when the first run already fails", async () => {
        const deps = await stores();
        await deps.rawStore.putObject(KEYS[1]!, "{nan}", { contentType: "application/json" });
        expect(await messageOf(transformRawObjects({ date: DATE, keys: KEYS }, deps))).to.include(
          `${KEYS[1]}: not valid JSON`,
        );
        expect(await deps.curatedStore.listKeys("")).to.deep.equal([]);
      });
    });
  });
});
