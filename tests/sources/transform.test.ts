/**
 * A stored version of a source's file into its curated table, read back with hyparquet: one
 * Parquet file per date in the source's zone, typed by the declaration, rejects listed, the
 * threshold enforced, and a later version merged into the dates it shares with the table.
 */
import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { parquetMetadata, parquetReadObjects } from "hyparquet";
import { DirectoryObjectStore } from "../../pipeline/core/storage";
import {
  SOURCE_RAW_METADATA_KEY,
  SOURCE_UNITS_METADATA_KEY,
  SourceRejectsError,
  sourceBodyKey,
  sourceCuratedKey,
  sourceRejectsKey,
  sourceTransformedKey,
  transformSource,
  type SourceDefinition,
  type SourceTransformResult,
} from "../../pipeline/sources";
import { rejectionOf } from "../support/rejection";
import { latin1Crlf, portalCsvSource } from "./support";

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

const HEADER = "Station;Zeitpunkt;Name;Temperatur;Feuchte";

describe("sources: transform", () => {
  let dir: string;
  let raw: DirectoryObjectStore;
  let curated: DirectoryObjectStore;
  const logs: string[] = [];
  const source = portalCsvSource();

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "sources-transform-"));
    raw = new DirectoryObjectStore(path.join(dir, "raw"));
    curated = new DirectoryObjectStore(path.join(dir, "curated"));
    logs.length = 0;
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  /** Stores a version as the fetch does and transforms it. */
  async function store(
    bytes: Uint8Array,
    definition: SourceDefinition = source,
  ): Promise<{ key: string; sha256: string }> {
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const key = sourceBodyKey(definition, sha256);
    await raw.putObject(key, bytes, { contentType: "text/csv" });
    return { key, sha256 };
  }
  async function run(bytes: Uint8Array, definition: SourceDefinition = source): Promise<SourceTransformResult> {
    const { key, sha256 } = await store(bytes, definition);
    return transformSource(
      { source: definition.name, key, sha256 },
      { source: definition, rawStore: raw, curatedStore: curated, log: (line) => logs.push(line), writtenBy: "test" },
    );
  }
  async function rowsOf(date: string): Promise<Record<string, unknown>[]> {
    const { body } = await curated.getObject(sourceCuratedKey(source.name, date));
    return (await parquetReadObjects({ file: toArrayBuffer(body) })) as Record<string, unknown>[];
  }

  it("writes one Parquet file per date in the source's zone, typed as declared, rows sorted by the key", async () => {
    const result = await run(
      latin1Crlf([
        HEADER,
        'b;20.11.2026 23:30;"Bé";1,5;80',
        'a;21.11.2026 00:30;"Ä";-0,5;',
        'a;20.11.2026 23:30;"Ä";2;81',
        'a;20.11.2026 00:30;"Ä";3;82',
      ]),
    );
    expect(result.files.map((f) => [f.date, f.rows])).to.deep.equal([
      ["2026-11-20", 3],
      ["2026-11-21", 1],
    ]);
    // 00:30 Berlin on the 21st is 23:30 UTC on the 20th: the partition is the source's day.
    expect(await rowsOf("2026-11-21")).to.deep.equal([
      {
        time: new Date("2026-11-20T23:30:00Z"),
        station_id: "a",
        station_name: "Ä",
        air_temperature_c: -0.5,
        humidity_pct: null,
      },
    ]);
    expect((await rowsOf("2026-11-20")).map((r) => [r["station_id"], (r["time"] as Date).toISOString()])).to.deep.equal(
      [
        ["a", "2026-11-19T23:30:00.000Z"],
        ["a", "2026-11-20T22:30:00.000Z"],
        ["b", "2026-11-20T22:30:00.000Z"],
      ],
    );
    const { body } = await curated.getObject(sourceCuratedKey(source.name, "2026-11-20"));
    const metadata = parquetMetadata(toArrayBuffer(body));
    expect(metadata.schema.slice(1).map((e) => [e.name, e.type, e.repetition_type])).to.deep.equal([
      ["time", "INT64", "REQUIRED"],
      ["station_id", "BYTE_ARRAY", "REQUIRED"],
      ["station_name", "BYTE_ARRAY", "OPTIONAL"],
      // 2 is written as a double: the declaration says double, whatever the values look like.
      ["air_temperature_c", "DOUBLE", "OPTIONAL"],
      ["humidity_pct", "INT64", "OPTIONAL"],
    ]);
    const kv = Object.fromEntries((metadata.key_value_metadata ?? []).map((e) => [e.key, e.value]));
    expect(JSON.parse(kv[SOURCE_UNITS_METADATA_KEY]!)).to.deep.equal({ air_temperature_c: "°C", humidity_pct: "%" });
    expect(JSON.parse(kv[SOURCE_RAW_METADATA_KEY]!)).to.deep.equal([result.key]);
    const transformed = JSON.parse(
      Buffer.from((await raw.getObject(sourceTransformedKey(source.name))).body).toString(),
    ) as { sha256: string };
    expect(transformed).to.deep.include({
      sha256: result.sha256,
      key: result.key,
      dates: ["2026-11-20", "2026-11-21"],
    });
  });

  it("lists rows under the threshold in a rejects file and writes the others", async () => {
    const lines = [HEADER];
    for (let i = 0; i < 199; i++) lines.push(`s${String(i).padStart(3, "0")};20.11.2026 12:00;"S";1,${i % 10};50`);
    lines.push('bad;20.11.2026 12:00;"S";n/a;50');
    const result = await run(latin1Crlf(lines));
    expect(result).to.deep.include({ totalRows: 200, rejectedRows: 1 });
    expect(result.files[0]!.rows).to.equal(199);
    const rejects = Buffer.from((await raw.getObject(sourceRejectsKey(result.key))).body)
      .toString()
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as unknown);
    expect(rejects).to.deep.equal([
      {
        row: 200,
        line: 201,
        column: "air_temperature_c",
        field: "Temperatur",
        value: "n/a",
        reason: 'not a number (decimal separator ",")',
      },
    ]);
    expect(logs.join("\n")).to.contain("1 of 200 rows (0.50 %) rejected, within maxRejectedFraction 0.01");
  });

  it("fails over the threshold with nothing curated written, the rejects listed and the raw file kept", async () => {
    const ok = await run(latin1Crlf([HEADER, 'a;20.11.2026 12:00;"A";1;50']));
    const before = await curated.listKeys("");
    const lines = [HEADER];
    for (let i = 0; i < 97; i++) lines.push(`s${i};20.11.2026 13:00;"S";1;50`);
    for (let i = 0; i < 3; i++) lines.push(`t${i};20.11.2026 13:00;"S";1;fifty`);
    const { key, sha256 } = await store(latin1Crlf(lines));
    const error = await rejectionOf(
      transformSource(
        { source: source.name, key, sha256 },
        { source, rawStore: raw, curatedStore: curated, log: () => undefined },
      ),
    );
    expect(error).to.be.instanceOf(SourceRejectsError);
    expect(error.name).to.equal("SourceRejectsError");
    expect(error.message).to.contain("3 of 100 rows (3.00 %) failed conversion, more than maxRejectedFraction 0.01");
    expect(error.message)
      .to.contain(sourceRejectsKey(key))
      .and.to.contain('row 98 (line 99) humidity_pct "fifty": not a whole number');
    expect(await curated.listKeys("")).to.deep.equal(before);
    expect((await raw.getObject(key)).body.byteLength).to.be.greaterThan(0);
    expect((await raw.getObject(sourceRejectsKey(key))).body.byteLength).to.be.greaterThan(0);
    // The table still records the last good version, so the next fetch transforms this one again.
    const transformed = JSON.parse(
      Buffer.from((await raw.getObject(sourceTransformedKey(source.name))).body).toString(),
    ) as { sha256: string };
    expect(transformed.sha256).to.equal(ok.sha256);
    // Allowed more rejects, the same stored file goes through.
    const again = await transformSource(
      { source: source.name, key, sha256 },
      { source: { ...source, maxRejectedFraction: 0.05 }, rawStore: raw, curatedStore: curated, log: () => undefined },
    );
    expect(again.files.map((f) => f.rows)).to.deep.equal([98]);
  });

  it("merges a new version into the dates the table has: one row per key, the new version winning", async () => {
    const first = await run(
      latin1Crlf([HEADER, 'a;19.11.2026 12:00;"A";1;50', 'a;20.11.2026 06:00;"A";2;50', 'a;20.11.2026 12:00;"A";3;50']),
    );
    const second = await run(
      latin1Crlf([
        HEADER,
        'a;20.11.2026 12:00;"A";30;50',
        'a;20.11.2026 18:00;"A";4;50',
        'a;21.11.2026 06:00;"A";5;50',
      ]),
    );
    expect(second.files.map((f) => [f.date, f.rows, f.fromThisFile])).to.deep.equal([
      ["2026-11-20", 3, 2],
      ["2026-11-21", 1, 1],
    ]);
    expect((await rowsOf("2026-11-19")).map((r) => r["air_temperature_c"])).to.deep.equal([1]);
    expect((await rowsOf("2026-11-20")).map((r) => r["air_temperature_c"])).to.deep.equal([2, 30, 4]);
    const { body } = await curated.getObject(sourceCuratedKey(source.name, "2026-11-20"));
    const kv = parquetMetadata(toArrayBuffer(body)).key_value_metadata ?? [];
    expect(JSON.parse(kv.find((e) => e.key === SOURCE_RAW_METADATA_KEY)!.value!)).to.deep.equal([
      first.key,
      second.key,
    ]);
  });

  it("refuses a transform event whose hash is not the stored file's", async () => {
    const { key } = await store(latin1Crlf([HEADER, 'a;20.11.2026 12:00;"A";1;50']));
    const error = await rejectionOf(
      transformSource(
        { source: source.name, key, sha256: "0".repeat(64) },
        { source, rawStore: raw, curatedStore: curated },
      ),
    );
    expect(error.message).to.contain(`not ${"0".repeat(64)}`);
  });
});
