import { expect } from "chai";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import {
  ATTRIBUTION_METADATA_KEY,
  DatasetParquetWriter,
  RowGroupSpill,
  SOURCE_METADATA_KEY,
  UNITS_METADATA_KEY,
  type ColumnSlice,
} from "../../pipeline/transform/parquet";
import { dailySchema, hourlySchema } from "../../pipeline/core/schema";

function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

async function readRows(bytes: Uint8Array): Promise<Record<string, unknown>[]> {
  const rows = await parquetReadObjects({ file: arrayBufferOf(bytes) });
  return rows.map((row) =>
    Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v instanceof Date ? v.getTime() : v])),
  );
}

/** The columns of `rows` hourly rows of one location, with time and temperature from the arrays. */
function hourlyBatch(
  name: string,
  time: readonly number[],
  temperature: readonly (number | null)[],
  offset = 0,
): ColumnSlice[] {
  return [
    { constant: name },
    { constant: 52.5 },
    { constant: 13.4 },
    { constant: null },
    { values: time, offset },
    { values: temperature, offset },
  ];
}

describe("parquet", () => {
  it("writes batches of rows that read back value for value, nulls and timestamps included", async () => {
    const writer = new DatasetParquetWriter(hourlySchema(["temperature_2m"], { temperature_2m: "°C" }));
    const t0 = Date.UTC(1953, 0, 31, 0);
    writer.appendRows(2, hourlyBatch("berlin", [t0, t0 + 3_600_000], [5.8, null]));
    writer.appendRows(1, hourlyBatch("paris", [0, t0 + 7_200_000, 99], [1, -0, 2], 1));
    const rows = await readRows(writer.finish({ sources: ["a.json"] }));
    expect(rows).to.deep.equal([
      { location: "berlin", latitude: 52.5, longitude: 13.4, elevation: null, time: t0, temperature_2m: 5.8 },
      {
        location: "berlin",
        latitude: 52.5,
        longitude: 13.4,
        elevation: null,
        time: t0 + 3_600_000,
        temperature_2m: null,
      },
      { location: "paris", latitude: 52.5, longitude: 13.4, elevation: null, time: t0 + 7_200_000, temperature_2m: -0 },
    ]);
  });

  it("writes a row group whenever the buffer reaches rowGroupRows, and the rest at finish", () => {
    const writer = new DatasetParquetWriter(dailySchema(["precipitation_sum"]), { rowGroupRows: 10 });
    const batch: ColumnSlice[] = [
      { constant: "x" },
      { constant: 1 },
      { constant: 2 },
      { constant: 3 },
      { values: new Array(7).fill(0.5), offset: 0 },
    ];
    writer.appendRows(7, batch);
    expect(writer.bufferedRows).to.equal(7);
    writer.appendRows(7, batch);
    expect(writer.bufferedRows, "flushed after reaching 10").to.equal(0);
    writer.appendRows(7, batch);
    const metadata = parquetMetadata(arrayBufferOf(writer.finish({ sources: [] })));
    expect(metadata.row_groups.map((g) => Number(g.num_rows))).to.deep.equal([14, 7]);
    expect(Number(metadata.num_rows)).to.equal(21);
    expect(writer.rowCount).to.equal(21);
  });

  it("writes the explicit schema, SNAPPY pages and units, sources and attribution as key-value metadata", () => {
    const writer = new DatasetParquetWriter(
      dailySchema(["temperature_2m_max", "sunrise"], { temperature_2m_max: "°C", sunrise: "iso8601" }),
    );
    writer.appendRows(1, [
      { constant: "x" },
      { constant: 1 },
      { constant: 2 },
      { constant: null },
      { constant: 20.5 },
      { constant: 0 },
    ]);
    const metadata = parquetMetadata(arrayBufferOf(writer.finish({ sources: ["k1.json", "k2.json"] })));
    expect(metadata.schema.map((e) => [e.name, e.type, e.repetition_type])).to.deep.equal([
      ["root", undefined, undefined],
      ["location", "BYTE_ARRAY", "REQUIRED"],
      ["latitude", "DOUBLE", "REQUIRED"],
      ["longitude", "DOUBLE", "REQUIRED"],
      ["elevation", "DOUBLE", "OPTIONAL"],
      ["temperature_2m_max", "DOUBLE", "OPTIONAL"],
      ["sunrise", "INT64", "OPTIONAL"],
    ]);
    expect(metadata.schema.at(-1)!.logical_type).to.deep.equal({
      type: "TIMESTAMP",
      isAdjustedToUTC: true,
      unit: "MILLIS",
    });
    const codecs = new Set(metadata.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data!.codec)));
    expect([...codecs]).to.deep.equal(["SNAPPY"]);
    const kv = Object.fromEntries((metadata.key_value_metadata ?? []).map(({ key, value }) => [key, value]));
    expect(JSON.parse(kv[UNITS_METADATA_KEY]!)).to.deep.equal({ temperature_2m_max: "°C", sunrise: "iso8601" });
    expect(JSON.parse(kv[SOURCE_METADATA_KEY]!)).to.deep.equal(["k1.json", "k2.json"]);
    expect(kv[ATTRIBUTION_METADATA_KEY]).to.include("Open-Meteo.com");
  });

  it("takes units given at finish over the schema's", () => {
    const writer = new DatasetParquetWriter(dailySchema(["precipitation_sum"], { precipitation_sum: "mm" }));
    writer.appendRows(1, [{ constant: "x" }, { constant: 1 }, { constant: 2 }, { constant: null }, { constant: 0 }]);
    const metadata = parquetMetadata(
      arrayBufferOf(writer.finish({ sources: [], units: { precipitation_sum: "inch" } })),
    );
    const units = metadata.key_value_metadata!.find((kv) => kv.key === UNITS_METADATA_KEY)!.value!;
    expect(JSON.parse(units)).to.deep.equal({ precipitation_sum: "inch" });
  });

  it("refuses a batch whose column count differs from the schema, and appends after finish", () => {
    const writer = new DatasetParquetWriter(dailySchema(["precipitation_sum"]));
    expect(() => writer.appendRows(1, [{ constant: "x" }])).to.throw("weather_daily: got 1 columns for a schema of 5");
    writer.finish({ sources: [] });
    expect(() => writer.appendRows(0, [])).to.throw("already finished");
  });

  it("takes doubles with NaN for null, and keeps a NaN given as a value", async () => {
    const writer = new DatasetParquetWriter(hourlySchema(["temperature_2m"]));
    const time = new Float64Array([0, 3_600_000, 7_200_000]);
    writer.appendRows(2, [
      { constant: "x" },
      { constant: 1 },
      { constant: 2 },
      { constant: null },
      { doubles: time, offset: 0 },
      { doubles: new Float64Array([NaN, -0]), offset: 0 },
    ]);
    writer.appendRows(1, [
      ...hourlyBatch("y", [], []).slice(0, 4),
      { doubles: time, offset: 2 },
      { values: [NaN], offset: 0 },
    ]);
    const rows = await readRows(writer.finish({ sources: [] }));
    expect(rows.map((r) => r["temperature_2m"])).to.deep.equal([null, -0, NaN]);
    expect(rows.map((r) => r["time"])).to.deep.equal([0, 3_600_000, 7_200_000]);
  });

  it("with a spill, moves released rows to disk and still writes them as one row group, in order", async () => {
    const spill = new RowGroupSpill();
    try {
      const spilled = new DatasetParquetWriter(hourlySchema(["temperature_2m"]), { spill });
      const inMemory = new DatasetParquetWriter(hourlySchema(["temperature_2m"]));
      const t0 = Date.UTC(2024, 0, 1);
      for (let i = 0; i < 6; i++) {
        const batch = hourlyBatch(
          `loc${i % 2}`,
          [t0 + i * 3_600_000, t0 + i * 3_600_000 + 1],
          [i === 3 ? null : i, -i],
          0,
        );
        // Coordinates differ by batch: constants go to the spill with the rest of the row.
        batch[1] = { constant: 50 + i };
        batch[3] = { constant: i === 2 ? null : i * 10 };
        spilled.appendRows(2, batch);
        inMemory.appendRows(2, batch);
        if (i % 2 === 1) spilled.releaseBufferedRows();
        expect(spilled.bufferedRows).to.equal(i % 2 === 1 ? 0 : 2);
      }
      const spilledFile = spilled.finish({ sources: [] });
      const metadata = parquetMetadata(arrayBufferOf(spilledFile));
      expect(metadata.row_groups.map((g) => Number(g.num_rows))).to.deep.equal([12]);
      const rows = await readRows(spilledFile);
      expect(rows).to.deep.equal(await readRows(inMemory.finish({ sources: [] })));
      expect(rows.map((r) => [r["latitude"], r["elevation"]])).to.deep.equal(
        [0, 1, 2, 3, 4, 5].flatMap((i) => {
          const row = [50 + i, i === 2 ? null : i * 10];
          return [row, row];
        }),
      );
    } finally {
      spill.close();
    }
  });

  it("reads back every spilled segment, appended in small and large pieces, between further appends", () => {
    const spill = new RowGroupSpill();
    try {
      const bytes = (length: number, seed: number) => Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
      // Small pieces are gathered before they are written, a large one is written at once.
      const lengths = [10, 70_000, 3, 2_000_000, 500_000, 600_000, 1];
      const segments: { offset: number; length: number }[] = [];
      const check = (k: number) => {
        const target = new Uint8Array((lengths[k] as number) + 2);
        spill.read(segments[k] as { offset: number; length: number }, target, 1);
        expect(Buffer.from(target.subarray(1, -1)).equals(Buffer.from(bytes(lengths[k] as number, k))), `segment ${k}`)
          .to.be.true;
      };
      lengths.forEach((length, k) => {
        segments.push(spill.append(bytes(length, k)));
        // A read in the middle, of a segment still gathered, then appends again.
        if (k === 2) check(1);
      });
      expect(segments.map((s) => s.offset)).to.deep.equal(
        lengths.map((_, k) => lengths.slice(0, k).reduce((sum, l) => sum + l, 0)),
      );
      lengths.forEach((_, k) => check(k));
    } finally {
      spill.close();
    }
  });

  it("writes a valid empty file when no rows were appended", async () => {
    const bytes = new DatasetParquetWriter(hourlySchema(["temperature_2m"])).finish({ sources: [] });
    expect(Number(parquetMetadata(arrayBufferOf(bytes)).num_rows)).to.equal(0);
    expect(await readRows(bytes)).to.deep.equal([]);
  });
});
