/**
 * The paths patches/hyparquet-writer+0.17.0.patch adds to hyparquet-writer, each written with
 * the library's own API and read back value by value by hyparquet and by DuckDB: typed arrays
 * with a validity bitmap for nulls, dictionaries keyed by the bits of a typed array, INT64
 * timestamps from a Float64Array, and page buffers sized from the value count. Every test here
 * fails on the unpatched 0.17.0 (checked by reverting node_modules/hyparquet-writer), except
 * those of the RLE/bit-packed hybrid over one kind of array, of Thrift structs without an array
 * per field and of a dictionary chunk's statistics from its dictionary, speed-ups whose tests
 * check that the bytes, values and statistics stay the same.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { expect } from "chai";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { ByteWriter, ParquetWriter, parquetWriteBuffer, type ColumnSource, type SchemaElement } from "hyparquet-writer";
import { writeRleBitPackedHybrid } from "hyparquet-writer/src/encoding.js";
import { serializeTCompactProtocol } from "hyparquet-writer/src/thrift.js";
import { typedDictionary } from "hyparquet-writer/src/typed.js";

const TIMESTAMP_MILLIS: SchemaElement = {
  name: "t",
  type: "INT64",
  converted_type: "TIMESTAMP_MILLIS",
  logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MILLIS" },
};

/** Doubles that a writer could get wrong: signed zeros, NaN, infinities, subnormals, extremes. */
const EDGE_DOUBLES = [
  0,
  -0,
  NaN,
  Infinity,
  -Infinity,
  Number.MIN_VALUE,
  -Number.MIN_VALUE,
  2.2250738585072014e-308 / 3,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.EPSILON,
  1.1,
  -273.15,
  1013.2,
];

let tempDirs: string[] = [];
afterEach(async () => {
  await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
  tempDirs = [];
});

function schemaOf(...columns: SchemaElement[]): SchemaElement[] {
  return [{ name: "root", num_children: columns.length }, ...columns];
}

/** A validity bitmap (bit set = value) of the rows for which `isValue` holds. */
function bitmap(rows: number, isValue: (row: number) => boolean): Uint8Array {
  const bits = new Uint8Array(Math.ceil(rows / 8));
  for (let i = 0; i < rows; i++) if (isValue(i)) bits[i >> 3] = (bits[i >> 3] as number) | (1 << (i & 7));
  return bits;
}

async function readWithHyparquet(file: ArrayBuffer): Promise<Record<string, unknown>[]> {
  return parquetReadObjects({ file });
}

/** Runs `sql` (with {file} for the file's path) in DuckDB, one thread, on `file` written to a temporary folder. */
async function duckDbRows(file: ArrayBuffer, sql: string): Promise<Record<string, unknown>[]> {
  const dir = await mkdtemp(path.join(tmpdir(), "hyparquet-writer-patch-"));
  tempDirs.push(dir);
  const target = path.join(dir, "test.parquet");
  await writeFile(target, new Uint8Array(file));
  const instance = await DuckDBInstance.create(":memory:", { threads: "1" });
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(sql.replaceAll("{file}", `'${target}'`));
    return reader.getRowObjectsJS();
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Rows as DuckDB reads the file: doubles as numbers, timestamps as epoch milliseconds (bigint). */
async function readWithDuckDb(file: ArrayBuffer, select: string): Promise<Record<string, unknown>[]> {
  return duckDbRows(file, `SELECT ${select} FROM read_parquet({file})`);
}

/** Object.is, so -0 is not 0 and NaN is NaN. */
function expectSameValues(actual: readonly unknown[], expected: readonly unknown[], what: string): void {
  const show = (v: unknown): string => (Object.is(v, -0) ? "-0" : String(v));
  expect(actual.length, `${what}: rows`).to.equal(expected.length);
  expected.forEach((value, i) => {
    if (!Object.is(actual[i], value)) expect.fail(`${what}: row ${i} is ${show(actual[i])}, expected ${show(value)}`);
  });
}

/** Counts calls of `name` on `target` while `run` runs. */
function countingCalls<T>(target: object, name: string, run: () => T): { result: T; calls: number } {
  const holder = target as Record<string, unknown>;
  const original = holder[name] as (...args: unknown[]) => unknown;
  let calls = 0;
  holder[name] = function (this: unknown, ...args: unknown[]) {
    calls++;
    return original.apply(this, args);
  };
  try {
    return { result: run(), calls };
  } finally {
    holder[name] = original;
  }
}

describe("hyparquet-writer patch", () => {
  describe("a typed array with a validity bitmap (OPTIONAL column)", () => {
    // 1,000 rows: the edge doubles again and again, a null every third row, NaN as a value too.
    const rows = 1000;
    const data = Float64Array.from({ length: rows }, (_, i) => EDGE_DOUBLES[i % EDGE_DOUBLES.length] as number);
    const isValue = (i: number): boolean => i % 3 !== 1;
    const validity = bitmap(rows, isValue);
    const expected = Array.from(data, (v, i) => (isValue(i) ? v : null));
    const schema = schemaOf({ name: "x", type: "DOUBLE", repetition_type: "OPTIONAL" });

    for (const encoding of [undefined, "PLAIN", "RLE_DICTIONARY"] as const) {
      for (const [pageSize, rowGroupSize] of [
        [0, rows],
        [256, 333],
      ] as const) {
        it(`reads back value by value (${encoding ?? "automatic"} encoding, pageSize ${pageSize}, row groups of ${rowGroupSize})`, async () => {
          const file = parquetWriteBuffer({
            schema,
            columnData: [{ name: "x", data, validity, encoding }],
            pageSize,
            rowGroupSize,
          });
          const hyparquet = (await readWithHyparquet(file)).map((r) => r["x"]);
          expectSameValues(hyparquet, expected, "hyparquet");
          const duckdb = (await readWithDuckDb(file, "x")).map((r) => r["x"]);
          expectSameValues(duckdb, expected, "DuckDB");
          const metadata = parquetMetadata(file);
          // Row groups of 333 rows start off a byte boundary of the bitmap.
          expect(metadata.row_groups.map((g) => Number(g.num_rows))).to.deep.equal(
            rowGroupSize === rows ? [rows] : [333, 333, 333, 1],
          );
          metadata.row_groups.forEach((group, g) => {
            const chunk = group.columns[0]?.meta_data;
            const start = g * rowGroupSize;
            const slice = expected.slice(start, start + Number(group.num_rows));
            expect(Number(chunk?.num_values), "num_values counts nulls").to.equal(slice.length);
            expect(Number(chunk?.statistics?.null_count), "null_count").to.equal(
              slice.filter((v) => v === null).length,
            );
            const numbers = slice.filter((v): v is number => typeof v === "number" && !Number.isNaN(v));
            expect(chunk?.statistics?.min_value, "min").to.equal(Math.min(...numbers));
            expect(chunk?.statistics?.max_value, "max").to.equal(Math.max(...numbers));
          });
        });
      }
    }

    it("gives every row of an all-null column a null", async () => {
      const file = parquetWriteBuffer({
        schema,
        columnData: [{ name: "x", data: new Float64Array(20).fill(7), validity: new Uint8Array(3) }],
      });
      expect((await readWithHyparquet(file)).map((r) => r["x"])).to.deep.equal(new Array(20).fill(null));
      expect((await readWithDuckDb(file, "x")).map((r) => r["x"])).to.deep.equal(new Array(20).fill(null));
    });

    it("refuses a bitmap that is too short, not a Uint8Array, on an array, or with a null in a REQUIRED column", () => {
      const column = (extra: Partial<ColumnSource>): ColumnSource => ({ name: "x", data, validity, ...extra });
      expect(() => parquetWriteBuffer({ schema, columnData: [column({ validity: new Uint8Array(10) })] })).to.throw(
        "parquet column x: validity has 80 bits for 1000 rows; it needs 125 bytes",
      );
      expect(() =>
        parquetWriteBuffer({ schema, columnData: [column({ validity: [1, 0] as unknown as Uint8Array })] }),
      ).to.throw("validity must be a Uint8Array bitmap");
      expect(() => parquetWriteBuffer({ schema, columnData: [column({ data: Array.from(data) })] })).to.throw(
        "validity needs data in a typed array",
      );
      const required = schemaOf({ name: "x", type: "DOUBLE", repetition_type: "REQUIRED" });
      expect(() => parquetWriteBuffer({ schema: required, columnData: [column({})] })).to.throw(
        "parquet required value is undefined",
      );
    });
  });

  describe("a dictionary from a typed array's bits", () => {
    it("keeps -0 and 0 apart, and NaN and the infinities, which a Map of numbers merges or boxes", async () => {
      const values = [0, -0, 5, -0, 0, NaN, Infinity, -Infinity, Number.MIN_VALUE, 5, -0];
      const data = Float64Array.from({ length: 2200 }, (_, i) => values[i % values.length] as number);
      const file = parquetWriteBuffer({
        schema: schemaOf({ name: "x", type: "DOUBLE", repetition_type: "REQUIRED" }),
        columnData: [{ name: "x", data, encoding: "RLE_DICTIONARY" }],
      });
      expect(parquetMetadata(file).row_groups[0]?.columns[0]?.meta_data?.encodings).to.include("RLE_DICTIONARY");
      expectSameValues(
        (await readWithHyparquet(file)).map((r) => r["x"]),
        Array.from(data),
        "hyparquet",
      );
      expectSameValues(
        (await readWithDuckDb(file, "x")).map((r) => r["x"]),
        Array.from(data),
        "DuckDB",
      );
    });

    it("builds the dictionary without a Map lookup per value, growing its table past thousands of entries", async () => {
      // 20,000 rows of 6,000 distinct values: the table starts small and grows several times.
      const rows = 20_000;
      const data = Float64Array.from({ length: rows }, (_, i) => ((i * 7919) % 6000) / 10 - 300);
      const { result: file, calls } = countingCalls(Map.prototype, "get", () =>
        parquetWriteBuffer({
          schema: schemaOf({ name: "x", type: "DOUBLE", repetition_type: "REQUIRED" }),
          columnData: [{ name: "x", data, encoding: "RLE_DICTIONARY" }],
        }),
      );
      expect(calls, "Map.prototype.get calls while writing").to.be.below(rows / 10);
      const chunk = parquetMetadata(file).row_groups[0]?.columns[0]?.meta_data;
      expect(chunk?.encodings).to.include("RLE_DICTIONARY");
      expectSameValues(
        (await readWithHyparquet(file)).map((r) => r["x"]),
        Array.from(data),
        "hyparquet",
      );
      expectSameValues(
        (await readWithDuckDb(file, "x")).map((r) => r["x"]),
        Array.from(data),
        "DuckDB",
      );
    });
    it("gives each call its own entries, in order of first occurrence, with one table reused from call to call", () => {
      // Columns of different sizes and kinds one after another: entries of an earlier call must not
      // leak into a later one, and a table grown by one call must serve a small one after it.
      const reference = (values: Float64Array | Int32Array): { dictionary: number[]; indexes: number[] } => {
        const seen = new Map<string, number>();
        const dictionary: number[] = [];
        const key = (v: number) => (Object.is(v, -0) ? "-0" : String(v));
        const indexes = Array.from(values, (v) => {
          let index = seen.get(key(v));
          if (index === undefined) {
            index = dictionary.push(v) - 1;
            seen.set(key(v), index);
          }
          return index;
        });
        return { dictionary, indexes };
      };
      const columns = [
        Float64Array.from({ length: 30_000 }, (_, i) => ((i * 7919) % 9000) / 10),
        Float64Array.from({ length: 50 }, (_, i) => [0, -0, 1.5][i % 3] as number),
        Int32Array.from({ length: 3000 }, (_, i) => (i * 37) % 1500),
        Float64Array.from({ length: 24 }, (_, i) => 1.7e12 + i * 3.6e6),
        Float64Array.from({ length: 30_000 }, (_, i) => ((i * 7919) % 9000) / 10 + 0.05),
      ];
      for (let round = 0; round < 2; round++) {
        columns.forEach((values, c) => {
          const built = typedDictionary(values);
          const expected = reference(values);
          expect(built, `column ${c}`).to.not.equal(undefined);
          expectSameValues(Array.from(built!.dictionary as ArrayLike<number>), expected.dictionary, `column ${c}`);
          expect(Array.from(built!.indexes), `column ${c}`).to.deep.equal(expected.indexes);
        });
      }
      // Past maxEntries it gives up, and the next call still starts empty.
      expect(
        typedDictionary(
          Float64Array.from({ length: 500 }, (_, i) => i),
          100,
        ),
      ).to.equal(undefined);
      expect(Array.from(typedDictionary(Float64Array.from([7, 7, 8]))!.dictionary as ArrayLike<number>)).to.deep.equal([
        7, 8,
      ]);
    });

    it("chooses automatically without a Map lookup per value: a dictionary for API-rounded values, PLAIN for all-distinct ones", async () => {
      const rows = 20_000;
      const rounded = Float64Array.from({ length: rows }, (_, i) => Math.round(100 * Math.sin(i / 50)) / 10);
      const distinct = Float64Array.from({ length: rows }, (_, i) => Math.sin(i) * 1e6 + i / 7);
      const schema = schemaOf(
        { name: "rounded", type: "DOUBLE", repetition_type: "REQUIRED" },
        { name: "spread", type: "DOUBLE", repetition_type: "REQUIRED" },
      );
      const { result: file, calls } = countingCalls(Map.prototype, "get", () =>
        parquetWriteBuffer({
          schema,
          columnData: [
            { name: "rounded", data: rounded },
            { name: "spread", data: distinct },
          ],
          rowGroupSize: rows,
        }),
      );
      expect(calls, "Map.prototype.get calls while writing").to.be.below(rows / 10);
      const [a, b] = parquetMetadata(file).row_groups[0]?.columns.map((c) => c.meta_data?.encodings) ?? [];
      expect(a, "rounded").to.deep.equal(["PLAIN", "RLE_DICTIONARY"]);
      expect(b, "spread").to.deep.equal(["PLAIN"]);
      const duckdb = await readWithDuckDb(file, "rounded, spread");
      expectSameValues(
        duckdb.map((r) => r["rounded"]),
        Array.from(rounded),
        "DuckDB rounded",
      );
      expectSameValues(
        duckdb.map((r) => r["spread"]),
        Array.from(distinct),
        "DuckDB distinct",
      );
    });
  });

  describe("statistics of a dictionary-encoded chunk from its dictionary", () => {
    /** Each chunk's statistics as hyparquet and DuckDB (parquet_metadata) read them. */
    async function statisticsOf(file: ArrayBuffer): Promise<{ hyparquet: unknown; duckdb: unknown }> {
      const { statistics, encodings } = parquetMetadata(file).row_groups[0]?.columns[0]?.meta_data ?? {};
      return {
        hyparquet: { statistics, dictionary: encodings?.includes("RLE_DICTIONARY") },
        duckdb: await duckDbRows(
          file,
          "SELECT stats_min, stats_max, stats_null_count FROM parquet_metadata({file}) ORDER BY row_group_id",
        ),
      };
    }

    const cases: Record<string, { values: number[]; nulls?: (row: number) => boolean }> = {
      "rounded measurements": {
        values: Array.from({ length: 2400 }, (_, i) => Math.round(Math.sin(i / 40) * 150) / 10),
      },
      "signed zeros and infinities": { values: [0, -0, 5, -Infinity, -0, 3, Infinity, 0] },
      "only zeros": { values: [0, -0, 0, -0] },
      "NaN among the values": { values: [1, NaN, 2, NaN, NaN, 1] },
      "nulls from a validity bitmap": {
        values: Array.from({ length: 1000 }, (_, i) => (i % 97) - 40),
        nulls: (row) => row % 13 === 0,
      },
    };
    for (const [name, { values, nulls }] of Object.entries(cases)) {
      it(`are those of the same chunk written PLAIN: ${name}`, async () => {
        const rows = Array.from({ length: 2000 }, (_, i) => values[i % values.length] as number);
        const data = Float64Array.from(rows);
        const validity = nulls ? bitmap(data.length, (row) => !nulls(row)) : undefined;
        const write = (encoding: "RLE_DICTIONARY" | "PLAIN") =>
          parquetWriteBuffer({
            schema: schemaOf({ name: "x", type: "DOUBLE", repetition_type: nulls ? "OPTIONAL" : "REQUIRED" }),
            columnData: [{ name: "x", data, encoding, ...(validity ? { validity } : {}) }],
          });
        const dictionary = await statisticsOf(write("RLE_DICTIONARY"));
        const plain = await statisticsOf(write("PLAIN"));
        expect((dictionary.hyparquet as { dictionary: boolean }).dictionary).to.equal(true);
        expect((plain.hyparquet as { dictionary: boolean }).dictionary).to.equal(false);
        expect((dictionary.hyparquet as { statistics: unknown }).statistics).to.deep.equal(
          (plain.hyparquet as { statistics: unknown }).statistics,
        );
        expect(dictionary.duckdb).to.deep.equal(plain.duckdb);
        // And they are the values' own: min and max of the non-null, non-NaN values.
        const present = rows.filter((v, i) => !nulls?.(i) && !Number.isNaN(v));
        const { statistics } = dictionary.hyparquet as { statistics: { min_value: number; max_value: number } };
        expect(statistics.min_value).to.equal(Math.min(...present));
        expect(statistics.max_value).to.equal(Math.max(...present));
      });
    }
  });

  describe("INT64 timestamps from a Float64Array", () => {
    // Before 1970 (negative, with a remainder), the epoch, year 1 and year 9999.
    const edges = [-62135596800000, -86400001, -1, 0, 1, 1700000000000, 253402300799999];
    const rows = 5000;
    const millis = Float64Array.from({ length: rows }, (_, i) =>
      i < edges.length ? (edges[i] as number) : 1672531200000 + (i % 24) * 3_600_000 - (i % 7) * 86_400_000 * 400,
    );

    it("writes them without a BigInt per value, with exact statistics, read back by hyparquet and DuckDB", async () => {
      const isValue = (i: number): boolean => i % 11 !== 5;
      const validity = bitmap(rows, isValue);
      const { result: file, calls } = countingCalls(globalThis, "BigInt", () =>
        parquetWriteBuffer({
          schema: schemaOf(
            { ...TIMESTAMP_MILLIS, repetition_type: "REQUIRED" },
            { ...TIMESTAMP_MILLIS, name: "u", repetition_type: "OPTIONAL" },
          ),
          columnData: [
            { name: "t", data: millis, encoding: "PLAIN" },
            { name: "u", data: millis, validity },
          ],
          rowGroupSize: rows,
        }),
      );
      expect(calls, "BigInt() calls while writing 2 x 5,000 timestamps").to.be.below(100);
      const expectedT = Array.from(millis);
      const expectedU = expectedT.map((v, i) => (isValue(i) ? v : null));
      const hyparquet = await readWithHyparquet(file);
      expectSameValues(
        hyparquet.map((r) => (r["t"] as Date).getTime()),
        expectedT,
        "hyparquet t",
      );
      expectSameValues(
        hyparquet.map((r) => (r["u"] === null ? null : (r["u"] as Date).getTime())),
        expectedU,
        "hyparquet u",
      );
      const duckdb = await readWithDuckDb(file, "epoch_ms(t) AS t, epoch_ms(u) AS u");
      expectSameValues(
        duckdb.map((r) => Number(r["t"])),
        expectedT,
        "DuckDB t",
      );
      expectSameValues(
        duckdb.map((r) => (r["u"] === null ? null : Number(r["u"]))),
        expectedU,
        "DuckDB u",
      );
      const [t, u] = parquetMetadata(file).row_groups[0]?.columns.map((c) => c.meta_data?.statistics) ?? [];
      expect((t?.min_value as Date).getTime()).to.equal(Math.min(...expectedT));
      expect((t?.max_value as Date).getTime()).to.equal(Math.max(...expectedT));
      expect(Number(u?.null_count)).to.equal(expectedU.filter((v) => v === null).length);
    });

    it("writes a BigInt64Array as is, and names a value that is not a whole number", async () => {
      const bigints = BigInt64Array.from(millis.subarray(0, 100), (v) => BigInt(v));
      const file = parquetWriteBuffer({
        schema: schemaOf({ ...TIMESTAMP_MILLIS, repetition_type: "REQUIRED" }),
        columnData: [{ name: "t", data: bigints }],
      });
      expect((await readWithHyparquet(file)).map((r) => (r["t"] as Date).getTime())).to.deep.equal(
        Array.from(millis.subarray(0, 100)),
      );
      const fractional = Float64Array.from([0, 1, 1.5]);
      expect(() =>
        parquetWriteBuffer({
          schema: schemaOf({ ...TIMESTAMP_MILLIS, repetition_type: "REQUIRED" }),
          columnData: [{ name: "t", data: fractional }],
        }),
      ).to.throw("parquet TIMESTAMP value at index 2 is 1.5; it must be a whole number of the column's unit");
    });
  });

  describe("DATA_PAGE (v1) pages on request", () => {
    it("writes every page as DATA_PAGE with dataPageVersion 1, nulls and several pages included", async () => {
      const rows = 3000;
      const data = Float64Array.from({ length: rows }, (_, i) => Math.round(Math.sin(i / 30) * 100) / 10);
      const isValue = (i: number): boolean => i % 7 !== 0;
      const names = Array.from({ length: rows }, (_, i) => `loc-${i % 50}`);
      const file = parquetWriteBuffer({
        schema: schemaOf(
          { name: "x", type: "DOUBLE", repetition_type: "OPTIONAL" },
          { name: "s", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "REQUIRED" },
        ),
        columnData: [
          { name: "x", data, validity: bitmap(rows, isValue) },
          { name: "s", data: names, encoding: "PLAIN" },
        ],
        pageSize: 2000,
        rowGroupSize: 1000,
        dataPageVersion: 1,
      });
      const pageTypes = parquetMetadata(file).row_groups.flatMap((g) =>
        g.columns.flatMap((c) => (c.meta_data?.encoding_stats ?? []).map((e) => e.page_type)),
      );
      expect(new Set(pageTypes)).to.deep.equal(new Set(["DICTIONARY_PAGE", "DATA_PAGE"]));
      const expected = Array.from(data, (v, i) => (isValue(i) ? v : null));
      const hyparquet = await readWithHyparquet(file);
      expectSameValues(
        hyparquet.map((r) => r["x"]),
        expected,
        "hyparquet x",
      );
      expect(hyparquet.map((r) => r["s"])).to.deep.equal(names);
      const duckdb = await readWithDuckDb(file, "x, s");
      expectSameValues(
        duckdb.map((r) => r["x"]),
        expected,
        "DuckDB x",
      );
      expect(duckdb.map((r) => r["s"])).to.deep.equal(names);
    });
  });

  describe("buffers sized from the value count", () => {
    it("writes a page of 100,000 doubles without growing a buffer, and the same bytes as an array of them", () => {
      const rows = 100_000;
      const data = Float64Array.from({ length: rows }, (_, i) => Math.sin(i) * 1000);
      const write = (values: ArrayLike<number>): { bytes: Uint8Array; grown: number } => {
        // The file's own buffer starts large enough: only the writer's page buffers may grow.
        const output = new ByteWriter(4 * 1024 * 1024);
        let grown = 0;
        const prototype = ByteWriter.prototype as { ensure: (this: ByteWriter, size: number) => void };
        const ensure = prototype.ensure;
        prototype.ensure = function (this: ByteWriter, size: number) {
          const before = this.buffer;
          ensure.call(this, size);
          if (this.buffer !== before && this !== output) grown++;
        };
        try {
          const writer = new ParquetWriter({
            writer: output,
            schema: schemaOf({ name: "x", type: "DOUBLE", repetition_type: "OPTIONAL" }),
          });
          void writer.write({ columnData: [{ name: "x", data: values as number[], encoding: "PLAIN" }], pageSize: 0 });
          void writer.finish();
          return { bytes: output.getBytes().slice(), grown };
        } finally {
          prototype.ensure = ensure;
        }
      };
      const typed = write(data);
      expect(typed.grown, "buffers grown while writing the Float64Array").to.equal(0);
      const array = write(Array.from(data));
      expect(array.grown, "buffers grown while writing the array").to.equal(0);
      expect(Buffer.from(typed.bytes).equals(Buffer.from(array.bytes)), "same bytes").to.equal(true);
    });
  });

  describe("Thrift structs without an array per field", () => {
    it("writes fields in order with the compact protocol's deltas, skips undefined ones, and names a bad field", () => {
      const bytes = (struct: Record<string, unknown>): string => {
        const writer = new ByteWriter();
        serializeTCompactProtocol(writer, struct);
        return Buffer.from(writer.getBytes()).toString("hex");
      };
      // field 1 i32 5: 0x15 0x0a; field 3 binary "ab": 0x28 0x02 0x61 0x62; field 20 true (delta > 15):
      // 0x01 then the id as a zigzag varint 0x28; a nested struct's fields count from 0 again; stop 0x00.
      const struct = { field_1: 5, field_2: undefined, field_3: "ab", field_20: true, field_21: { field_1: 1 } };
      expect(bytes(struct)).to.equal("150a2802616201281c150200" + "00");
      // Twice: the field ids parsed the first time give the same bytes.
      expect(bytes(struct)).to.equal(bytes({ ...struct }));
      expect(() => bytes({ field_1: 1, fieldTwo: 2 })).to.throw(/thrift invalid field name: fieldTwo/);
    });
  });

  describe("RLE/bit-packed hybrid over one kind of array", () => {
    it("writes the same runs and bit-packed groups from an array, a Uint8Array, booleans and an Int32Array", () => {
      // Runs of 8 and more, runs too short for RLE, a tail shorter than a group, widths 1 to 9.
      const values = [3, 3, 3, 3, 3, 3, 3, 3, 3, 1, 0, 2, 1, 1, 0, 5, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 4, 2];
      const encode = (input: ArrayLike<unknown>, bitWidth: number): string => {
        const writer = new ByteWriter();
        const written = writeRleBitPackedHybrid(writer, input as Int32Array, bitWidth);
        expect(written).to.equal(writer.offset);
        return Buffer.from(writer.getBytes()).toString("hex");
      };
      for (const bitWidth of [3, 9]) {
        const expected = encode(Int32Array.from(values), bitWidth);
        expect(encode(values, bitWidth), `array, width ${bitWidth}`).to.equal(expected);
        expect(encode(Uint8Array.from(values), bitWidth), `Uint8Array, width ${bitWidth}`).to.equal(expected);
      }
      const bits = values.map((v) => v % 2 === 1);
      expect(encode(bits, 1), "booleans").to.equal(encode(Int32Array.from(bits, Number), 1));
      // The layout itself: 9 threes as one run (header 9 << 1, value 3), then bit-packed groups.
      expect(encode(values, 3).slice(0, 4)).to.equal("1203");
    });

    it("reads back a BOOLEAN column, a dictionary-encoded string column and an OPTIONAL double column with nulls", async () => {
      const rows = 1000;
      const flags = Array.from({ length: rows }, (_, i) => (i % 97 === 0 ? null : i % 3 === 0));
      const names = Array.from({ length: rows }, (_, i) => (i % 89 === 0 ? null : `site-${i % 7}`));
      const doubles = Float64Array.from({ length: rows }, (_, i) => (i % 5) / 10);
      const validity = bitmap(rows, (i) => i % 13 !== 0);
      const file = parquetWriteBuffer({
        schema: schemaOf(
          { name: "flag", type: "BOOLEAN", repetition_type: "OPTIONAL" },
          { name: "name", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
          { name: "x", type: "DOUBLE", repetition_type: "OPTIONAL" },
        ),
        columnData: [
          { name: "flag", data: flags },
          { name: "name", data: names },
          { name: "x", data: doubles, validity },
        ] as ColumnSource[],
      });
      const read = await readWithHyparquet(file);
      expect(read.map((r) => r["flag"])).to.deep.equal(flags);
      expect(read.map((r) => r["name"])).to.deep.equal(names);
      expect(read.map((r) => r["x"])).to.deep.equal(Array.from(doubles, (v, i) => (i % 13 === 0 ? null : v)));
    });
  });
});
