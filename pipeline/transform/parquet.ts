/**
 * Incremental Parquet writing of one curated dataset file with hyparquet-writer: rows arrive a
 * location (or a body) at a time, are buffered up to one row group, written, and dropped, so the
 * memory a file needs is one row group of values plus the compressed bytes written so far. With
 * a RowGroupSpill (many files open at once, as in a backfill) even less: rows released early and
 * finished row groups wait in a temporary file.
 *
 * Buffered numbers live in one Float64Array per file (NaN for null), not in arrays of boxed
 * numbers: a year of hourly data is ~10^7 values, and boxing each one made garbage collection
 * the largest cost of a conversion.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ByteWriter, ParquetWriter, type ColumnSource } from "hyparquet-writer";
import { parquetSchemaElements, variableUnits, type ColumnDefinition, type TableSchema } from "../core/schema";

/** Key-value metadata key holding `{variable: unit}` as JSON. */
export const UNITS_METADATA_KEY = "open_meteo.units";
/** Key-value metadata key holding the raw object keys or file names the rows came from, as a JSON array. */
export const SOURCE_METADATA_KEY = "open_meteo.source";
/** Key-value metadata key holding the attribution the data's CC BY 4.0 licence asks for. */
export const ATTRIBUTION_METADATA_KEY = "open_meteo.attribution";

/** Bytes a RowGroupSpill gathers before it writes them. */
const SPILL_WRITE_BYTES = 1 << 20;

/** The default row group size, in rows. */
export const DEFAULT_ROW_GROUP_ROWS = 100_000;

/** Options of a DatasetParquetWriter. */
export interface ParquetFileOptions {
  /**
   * Rows buffered before they are written as one row group. Large enough that a day of a
   * thousand locations (24,000 hourly rows) is one row group, small enough that the buffered
   * values stay in the tens of MB. Default DEFAULT_ROW_GROUP_ROWS.
   */
  readonly rowGroupRows?: number;
  /**
   * Where rows given up by releaseBufferedRows wait for the rest of their row group, and finished
   * row groups for finish(). Default none: released rows become a row group of their own, and
   * finished row groups stay in memory.
   */
  readonly spill?: RowGroupSpill;
}

/**
 * The values of one column for a batch of rows: a run of an array, one value repeated, or a run
 * of a Float64Array in which NaN stands for null (what openmeteo-response's scanner produces).
 */
export type ColumnSlice =
  | { readonly values: ArrayLike<unknown>; readonly offset: number }
  | { readonly constant: unknown }
  | { readonly doubles: Float64Array; readonly offset: number };

/**
 * A temporary file for any number of Parquet files being written at once (a backfill of a year
 * has one per day open): the rows each releases before its row group is full, and its finished
 * row groups, so memory holds neither. close() deletes it.
 */
export class RowGroupSpill {
  private readonly directory: string;
  private readonly fd: number;
  private size: number;
  /** Buffers lent to the run's writers in turn (they write and read synchronously), by slot. */
  private readonly scratch: ArrayBuffer[];
  /** Appends not written yet: the last pendingLength bytes of the file's size. */
  private pending: Uint8Array | undefined;
  private pendingLength: number;

  constructor(parent: string = tmpdir()) {
    this.directory = mkdtempSync(path.join(parent, "weather-parquet-"));
    this.fd = openSync(path.join(this.directory, "row-groups.bin"), "w+");
    this.size = 0;
    this.scratch = [];
    this.pending = undefined;
    this.pendingLength = 0;
  }

  /**
   * A buffer of at least `bytes` bytes for slot `slot`, stale contents included, shared by every
   * writer of the run: the rows moved in and out of the spill would otherwise be as much garbage
   * as the whole body, left for the collector.
   */
  borrow(slot: number, bytes: number): ArrayBuffer {
    const buffer = this.scratch[slot];
    if (buffer && buffer.byteLength >= bytes) return buffer;
    const grown = new ArrayBuffer(Math.max(bytes, (buffer?.byteLength ?? 0) * 2, 64 * 1024));
    this.scratch[slot] = grown;
    return grown;
  }

  /**
   * Appends bytes; returns where they are. Small appends (a file's released rows, tens of KB)
   * are gathered and written 1 MB at a time: a year of 100 locations released ~3,000 times, a
   * system call each.
   */
  append(bytes: Uint8Array): { offset: number; length: number } {
    const offset = this.size;
    if (this.pendingLength + bytes.length > SPILL_WRITE_BYTES) this.flush();
    if (bytes.length >= SPILL_WRITE_BYTES) {
      this.writeAt(bytes, offset);
    } else {
      this.pending ??= new Uint8Array(SPILL_WRITE_BYTES);
      this.pending.set(bytes, this.pendingLength);
      this.pendingLength += bytes.length;
    }
    this.size += bytes.length;
    return { offset, length: bytes.length };
  }

  /** Reads bytes appended earlier into `target` at `at`. */
  read(segment: { offset: number; length: number }, target: Uint8Array, at: number): void {
    // Reads come once the rows are all in (a file's row group, its finished bytes): what is
    // still gathered is written first, once.
    if (this.pendingLength > 0) this.flush();
    let done = 0;
    while (done < segment.length) {
      const n = readSync(this.fd, target, at + done, segment.length - done, segment.offset + done);
      if (n === 0) throw new Error(`the row group spill file ended early (${segment.offset + done} of ${this.size})`);
      done += n;
    }
  }

  /** Writes the gathered appends. */
  private flush(): void {
    if (this.pendingLength === 0) return;
    this.writeAt((this.pending as Uint8Array).subarray(0, this.pendingLength), this.size - this.pendingLength);
    this.pendingLength = 0;
  }

  private writeAt(bytes: Uint8Array, offset: number): void {
    let written = 0;
    while (written < bytes.length) {
      written += writeSync(this.fd, bytes, written, bytes.length - written, offset + written);
    }
  }

  /** Deletes the file. */
  close(): void {
    closeSync(this.fd);
    rmSync(this.directory, { recursive: true, force: true });
  }
}

/**
 * How each column is written, chosen by measuring a year of hourly data for 100 locations with
 * realistic values (API-rounded smooth series) and with high-entropy ones (full-precision
 * noise): see pipeline/local/bench-input.ts and `npm run bench -- transform`.
 *
 * - hyparquet-writer's automatic choice (dictionary when it at least halves the PLAIN bytes,
 *   else PLAIN), for every column. On realistic values that is a dictionary everywhere: a
 *   location repeats its name and coordinates on every row, measurements of one to three
 *   decimals have few distinct values per day, and a day's `time` has 24 (dictionary: 290 bytes
 *   a day, PLAIN: 1,069). On high-entropy values the dictionary loses (22.7 KB against 19.1 KB
 *   PLAIN per column and day), and the automatic choice falls back to PLAIN, as DuckDB does.
 *   With the typed-array paths of patches/hyparquet-writer+0.17.0.patch, trying a dictionary
 *   costs little and gives up early on values that are nearly all distinct.
 *   BYTE_STREAM_SPLIT would take another 12-24% off high-entropy doubles, but Athena does not
 *   document reading it (Trino reads it since 2022), and the API never sends such values.
 * - Statistics (min/max per row group, i.e. per daily file) on every column: about 630 bytes a
 *   file (2%), and a query filtering on a measurement skips the days that cannot match (of 365
 *   days, `snowfall > 0` skips 224, `temperature_2m > 25` 277, `precipitation > 3` 236).
 */
function columnEncoding(_column: ColumnDefinition, allNull: boolean): Pick<ColumnSource, "encoding" | "statistics"> {
  // No values at all: nothing to build a dictionary of.
  if (allNull) return { encoding: "PLAIN", statistics: true };
  return { encoding: undefined, statistics: true };
}

/** Writes one Parquet file of a curated table, a batch of rows at a time, into memory (or a RowGroupSpill). */
export class DatasetParquetWriter {
  /** Rows appended so far (written or buffered). */
  rowCount = 0;
  private readonly output: ByteWriter;
  private readonly writer: ParquetWriter;
  private readonly rowGroupRows: number;
  private readonly spill: RowGroupSpill | undefined;
  /** Where this file's finished row groups are in the spill, in order. */
  private readonly spilledBytes: SpillSegment[] = [];
  /**
   * Where rows of the next row group are in the spill (their numeric columns), in order, as
   * (offset, length, rows) triples: plain numbers rather than an object per release.
   */
  private readonly spilledRowSegments: number[] = [];
  private spilledRows = 0;
  /** The numeric columns' rows in memory since the last row group (or release). */
  private readonly numbers: NumericRows;
  /**
   * Per column: its slot in `numbers`, or runs of values. Strings are runs; so is a numeric
   * column once it gets a value that is not a number. A location's coordinates are constants,
   * yet go to a slot (and with the rest of the row to the spill): kept as runs, a year of 400
   * locations held 584,000 runs in the heap until the end (365 files x 400 locations x 3
   * columns, plus their names), and peak RSS grew with the location count (the CLI's transform
   * of a year run alone: 207 MB at 400 locations against 163 MB at 25; 177 MB as slots).
   */
  private readonly columns: (number | PlainRuns)[];
  /** Per column: its slot in `numbers`, -1 for strings. */
  private readonly slots: number[];
  private buffered = 0;
  private finished = false;

  constructor(
    readonly schema: TableSchema,
    options: ParquetFileOptions = {},
  ) {
    this.rowGroupRows = options.rowGroupRows ?? DEFAULT_ROW_GROUP_ROWS;
    if (!(Number.isInteger(this.rowGroupRows) && this.rowGroupRows > 0)) {
      throw new Error(`rowGroupRows is ${this.rowGroupRows}; it must be a positive whole number of rows`);
    }
    this.spill = options.spill;
    const output: ByteWriter & { flush?: () => void } = new ByteWriter();
    // ParquetWriter calls flush() after each row group.
    if (this.spill) output.flush = () => this.spillOutput();
    this.output = output;
    // SNAPPY: what Athena and DuckDB read fastest, built into hyparquet-writer (no native code).
    this.writer = new ParquetWriter({ writer: this.output, schema: parquetSchemaElements(schema), codec: "SNAPPY" });
    let numeric = 0;
    this.slots = schema.columns.map((c) => (c.parquet.type === "BYTE_ARRAY" ? -1 : numeric++));
    this.columns = schema.columns.map(() => new PlainRuns());
    this.numbers = new NumericRows(numeric);
  }

  /** Rows held in memory for the next row group (rows moved to a spill do not count). */
  get bufferedRows(): number {
    return this.buffered;
  }

  /** Appends `rows` rows, one ColumnSlice per schema column; writes a row group once enough are waiting. */
  appendRows(rows: number, columns: readonly ColumnSlice[]): void {
    this.assertOpen();
    if (columns.length !== this.columns.length) {
      throw new Error(
        `${this.schema.table}: got ${columns.length} columns for a schema of ${this.columns.length} ` +
          `(${this.schema.columns.map((c) => c.name).join(", ")})`,
      );
    }
    const numbers = this.numbers;
    // A value that is neither a number nor null turns a column to runs; a numeric column's first
    // numbers (an array or a constant) turn it to its slot. Spilled rows hold the slots' columns only, so the
    // rows waiting are written first.
    for (let j = 0; j < columns.length; j++) {
      const column = this.columns[j] as number | PlainRuns;
      const slice = columns[j] as ColumnSlice;
      if (typeof column === "number") {
        if (holdsOnlyNumbers(slice, rows)) continue;
        if (this.spilledRows > 0) this.flushRowGroup();
        this.columns[j] = numbers.toRuns(column);
      } else if ((this.slots[j] as number) >= 0 && column.holdsOnlyNumbers) {
        if (!holdsOnlyNumbers(slice, rows)) continue;
        if (this.spilledRows > 0) this.flushRowGroup();
        this.columns[j] = numbers.fromRuns(this.slots[j] as number, column);
      }
    }
    numbers.reserve(rows);
    for (let j = 0; j < columns.length; j++) {
      const column = this.columns[j] as number | PlainRuns;
      if (typeof column === "number") numbers.append(column, columns[j] as ColumnSlice, rows);
      else column.append(columns[j] as ColumnSlice, rows);
    }
    numbers.commit(rows);
    this.buffered += rows;
    this.rowCount += rows;
    if (this.buffered + this.spilledRows >= this.rowGroupRows) this.flushRowGroup();
  }

  /**
   * Moves the rows held in memory to the spill, where they wait for the rest of their row group;
   * without a spill, writes them as a row group of their own. Either way memory is freed.
   */
  releaseBufferedRows(): void {
    this.assertOpen();
    if (!this.spill) {
      this.flushRowGroup();
      return;
    }
    if (this.buffered === 0) return;
    // Strings stay in memory as runs (a location name is one run); the numbers go in one write.
    const size = this.numbers.packedBytes();
    const bytes = new Uint8Array(this.spill.borrow(0, size), 0, size);
    this.numbers.packInto(bytes);
    const { offset, length } = this.spill.append(bytes);
    this.spilledRowSegments.push(offset, length, this.buffered);
    this.spilledRows += this.buffered;
    this.buffered = 0;
  }

  /** Writes the rows waiting (in memory and spilled) as one row group; nothing when there are none. */
  flushRowGroup(): void {
    this.assertOpen();
    const rows = this.spilledRows + this.buffered;
    if (rows === 0) return;
    if (this.spilledRows > 0) {
      this.numbers.unpack(this.spill as RowGroupSpill, this.spilledRowSegments);
      this.spilledRowSegments.length = 0;
      this.spilledRows = 0;
    }
    const utf8 = this.schema.columns.map((c) => c.parquet.converted_type === "UTF8");
    const columnData: ColumnSource[] = this.schema.columns.map((column, j) => {
      const source = this.columns[j] as number | PlainRuns;
      if (typeof source !== "number") {
        const allNull = source.allNull;
        const numbers =
          column.parquet.type !== "BYTE_ARRAY" && source.holdsOnlyNumbers ? source.takeNumbers() : undefined;
        if (numbers) return { name: column.name, ...numbers, ...columnEncoding(column, allNull) };
        return {
          name: column.name,
          data: source.take(utf8[j] === true) as ColumnSource["data"],
          ...columnEncoding(column, allNull),
        };
      }
      const { data, validity, nulls } = this.numbers.column(source);
      return { name: column.name, data, validity, ...columnEncoding(column, nulls === rows) };
    });
    this.numbers.clear();
    // A ByteWriter's flush() (the spill's) is synchronous, so write() returns nothing to await.
    // pageSize 0: one page per column chunk, so the writer does not estimate each value's size to
    // cut pages (a row group is about rowGroupRows rows at most; readers skip by row group).
    // dataPageVersion 1 (patches/hyparquet-writer+0.17.0.patch): DATA_PAGE, the page format
    // every reader reads (Athena's engines, Hive, DuckDB, older pandas), as DuckDB writes; the
    // writer's default DATA_PAGE_V2 is read by Trino and DuckDB too, and measured 0.4% larger here
    // (its levels are not compressed).
    void this.writer.write({ columnData, rowGroupSize: rows, pageSize: 0, dataPageVersion: 1 });
    this.buffered = 0;
  }

  /**
   * Writes what is waiting and the footer, and returns the file. `units` defaults to the
   * schema's; `sources` are the raw keys or file names the rows came from. `keyValueMetadata`
   * replaces the Open-Meteo entries (units, sources, attribution) with a file's own (a
   * configured source's file has another publisher).
   */
  finish(metadata: {
    readonly sources: readonly string[];
    readonly units?: Readonly<Record<string, string>>;
    readonly keyValueMetadata?: readonly { readonly key: string; readonly value: string }[];
  }): Uint8Array {
    this.flushRowGroup();
    this.finished = true;
    // Set here rather than in the constructor: the sources are known only at the end.
    this.writer.kvMetadata = metadata.keyValueMetadata
      ? metadata.keyValueMetadata.map((entry) => ({ key: entry.key, value: entry.value }))
      : [
          { key: UNITS_METADATA_KEY, value: JSON.stringify(metadata.units ?? variableUnits(this.schema)) },
          { key: SOURCE_METADATA_KEY, value: JSON.stringify(metadata.sources) },
          { key: ATTRIBUTION_METADATA_KEY, value: "Weather data by Open-Meteo.com (CC BY 4.0)" },
        ];
    void this.writer.finish();
    const tail = this.output.getBytes();
    if (!this.spill) {
      // A copy of exactly the written bytes, so the growth slack of the buffer can be freed.
      return tail.slice();
    }
    const file = new Uint8Array(this.output.offset);
    let at = 0;
    for (const segment of this.spilledBytes) {
      this.spill.read(segment, file, at);
      at += segment.length;
    }
    file.set(tail, at);
    return file;
  }

  /** Moves what the ByteWriter holds (a finished row group) into the spill; offsets stay the file's. */
  private spillOutput(): void {
    const output = this.output;
    if (!this.spill || output.index === 0) return;
    this.spilledBytes.push(this.spill.append(new Uint8Array(output.buffer, 0, output.index)));
    output.index = 0;
    if (output.buffer.byteLength > 64 * 1024) {
      output.buffer = new ArrayBuffer(1024);
      output.view = new DataView(output.buffer);
    }
  }

  private assertOpen(): void {
    if (this.finished) throw new Error(`${this.schema.table}: the Parquet file is already finished`);
  }
}

/**
 * A column source whose plain array is built when hyparquet-writer slices out a row group,
 * just before it encodes that column. The writer reads a column source only through `length`
 * and `slice()` (src/parquet-writer.js, write(), at 0.17.0, the version package.json pins), so
 * this is all it needs. Built up front, every column's array of a row group would stay alive
 * through the whole write, survive the young generation's collections and be promoted: with
 * row groups of ~10,000 rows that made the old generation, and peak RSS, grow with the size
 * of the input. Built here, each is garbage as soon as its column is written.
 */
function lazyColumn(length: number, slice: (from: number, to: number) => unknown[]): ArrayLike<unknown> {
  // The writer's ColumnSource type asks for an array; length and slice() are what it uses.
  const column = { length, slice: (from = 0, to = length) => slice(from, Math.min(to, length)) };
  return column;
}

/**
 * The validity bitmap (hyparquet-writer's `validity`, Arrow's layout: bit i % 8 of byte i >> 3
 * set where row i has a value) of doubles in which NaN stands for null, and the null count;
 * no bitmap when there are no nulls.
 */
function validityOf(data: Float64Array): { validity: Uint8Array | undefined; nulls: number } {
  const n = data.length;
  let nulls = 0;
  for (let i = 0; i < n; i++) if (Number.isNaN(data[i])) nulls++;
  if (nulls === 0) return { validity: undefined, nulls };
  const validity = new Uint8Array((n + 7) >> 3);
  for (let i = 0; i < n; i++)
    if (!Number.isNaN(data[i])) validity[i >> 3] = (validity[i >> 3] as number) | (1 << (i & 7));
  return { validity, nulls };
}

/** Whether a slice's values are all numbers or null (what NumericRows holds). */
function holdsOnlyNumbers(slice: ColumnSlice, rows: number): boolean {
  if ("doubles" in slice) return true;
  if ("constant" in slice) return isNumberOrNull(slice.constant);
  for (let i = 0; i < rows; i++) if (!isNumberOrNull(slice.values[slice.offset + i])) return false;
  return true;
}

/** What NumericRows holds: numbers other than NaN (which it uses for null), and null. */
function isNumberOrNull(value: unknown): boolean {
  return (typeof value === "number" && !Number.isNaN(value)) || value === null || value === undefined;
}

/** Bytes at a place in a RowGroupSpill. */
interface SpillSegment {
  readonly offset: number;
  readonly length: number;
}

/**
 * The rows of a file's numeric columns (doubles, timestamps) since the last row group, all in
 * one Float64Array (column k at k * capacity), so that buffering costs one allocation per row
 * group, not one per column. NaN stands for null: a NaN value given to appendRows turns its
 * column to PlainRuns, so NaN here never stands for a value.
 */
class NumericRows {
  private capacity = 0;
  private length = 0;
  private data: Float64Array;
  /** Columns that turned to runs of values; their slots are ignored. */
  private readonly dead: boolean[];

  constructor(private readonly columns: number) {
    this.data = new Float64Array(0);
    // Until a column gets its first array of numbers (see DatasetParquetWriter.columns).
    this.dead = new Array<boolean>(columns).fill(true);
  }

  /** Makes room for `rows` more rows. */
  reserve(rows: number): void {
    const needed = this.length + rows;
    if (needed <= this.capacity) return;
    // 1.5x, not 2x: hundreds of files each keep their buffer between releases.
    const capacity = Math.max(needed, Math.ceil(this.capacity * 1.5), 256);
    const data = new Float64Array(capacity * this.columns);
    for (let k = 0; k < this.columns; k++) {
      data.set(this.data.subarray(k * this.capacity, k * this.capacity + this.length), k * capacity);
    }
    this.capacity = capacity;
    this.data = data;
  }

  /** Writes a slice's rows (numbers and nulls only: see holdsOnlyNumbers) after the committed ones. */
  append(k: number, slice: ColumnSlice, rows: number): void {
    const at = k * this.capacity + this.length;
    if ("doubles" in slice) {
      const { doubles, offset } = slice;
      if (rows > 64) {
        this.data.set(doubles.subarray(offset, offset + rows), at);
      } else {
        // A day of hours: a loop is cheaper than creating a subarray for set().
        const data = this.data;
        for (let i = 0; i < rows; i++) data[at + i] = doubles[offset + i] as number;
      }
    } else if ("constant" in slice) {
      this.data.fill(typeof slice.constant === "number" ? slice.constant : NaN, at, at + rows);
    } else {
      const { values, offset } = slice;
      for (let i = 0; i < rows; i++) {
        const value = values[offset + i];
        this.data[at + i] = typeof value === "number" ? value : NaN;
      }
    }
  }

  /** Counts the appended rows in. */
  commit(rows: number): void {
    this.length += rows;
  }

  /** Puts the rows of `runs` (numbers and nulls only) into slot k, which then holds the column. */
  fromRuns(k: number, runs: PlainRuns): number {
    const data = this.data;
    let row = k * this.capacity;
    runs.forEach((value, count) => {
      data.fill(typeof value === "number" ? value : NaN, row, row + count);
      row += count;
    });
    this.dead[k] = false;
    return k;
  }

  /** Turns column k's rows into runs of values; the column then lives outside this buffer. */
  toRuns(k: number): PlainRuns {
    const runs = new PlainRuns();
    runs.append({ doubles: this.data, offset: k * this.capacity }, this.length);
    this.dead[k] = true;
    return runs;
  }

  /**
   * Column k's rows as hyparquet-writer takes them (patches/hyparquet-writer+0.17.0.patch): the
   * Float64Array itself, and for its nulls (NaN here) a validity bitmap, so no value is boxed.
   */
  column(k: number): { data: Float64Array; validity: Uint8Array | undefined; nulls: number } {
    const start = k * this.capacity;
    const n = this.length;
    const data = this.data.subarray(start, start + n);
    return { data, ...validityOf(data) };
  }

  /** Bytes packInto writes. */
  packedBytes(): number {
    return this.liveColumns().length * this.length * 8;
  }

  /** Writes the rows to `bytes` (each live column's doubles in turn) and empties the buffer. */
  packInto(bytes: Uint8Array): void {
    const live = this.liveColumns();
    const n = this.length;
    live.forEach((k, i) => bytes.set(new Uint8Array(this.data.buffer, k * this.capacity * 8, n * 8), i * n * 8));
    // The buffer stays for the next rows: it holds about one release, and releasing is what keeps
    // the rows of all open files within their budget.
    this.length = 0;
  }

  /**
   * Puts rows packed into the spill (`segments`: offset, length, rows triples) back in front of
   * the rows held, in order. The result lives
   * in the spill's scratch memory until the row group is written, which clear() ends.
   */
  unpack(spill: RowGroupSpill, segments: readonly number[]): void {
    const live = this.liveColumns();
    let earlier = 0;
    for (let s = 2; s < segments.length; s += 3) earlier += segments[s] as number;
    const held = this.length;
    const capacity = earlier + held;
    const data = new Float64Array(spill.borrow(1, capacity * this.columns * 8), 0, capacity * this.columns);
    let row = 0;
    for (let s = 0; s < segments.length; s += 3) {
      const segment = { offset: segments[s] as number, length: segments[s + 1] as number };
      const rows = segments[s + 2] as number;
      const bytes = new Uint8Array(spill.borrow(0, segment.length), 0, segment.length);
      spill.read(segment, bytes, 0);
      live.forEach((k, i) => data.set(new Float64Array(bytes.buffer, i * rows * 8, rows), k * capacity + row));
      row += rows;
    }
    for (const k of live) {
      data.set(this.data.subarray(k * this.capacity, k * this.capacity + held), k * capacity + earlier);
    }
    this.data = data;
    this.capacity = capacity;
    this.length = capacity;
  }

  /** Drops the rows and the buffer: a written row group may have been far larger than what comes next. */
  clear(): void {
    this.length = 0;
    this.capacity = 0;
    this.data = new Float64Array(0);
  }

  private liveColumns(): number[] {
    const live: number[] = [];
    for (let k = 0; k < this.columns; k++) if (!this.dead[k]) live.push(k);
    return live;
  }
}

/**
 * A column kept as its values (strings, or any value that is neither a number nor null), as
 * runs of equal values: a location's name repeated for all its rows is one run. hyparquet-writer
 * validates the values as it always did.
 */
class PlainRuns {
  // Two arrays rather than an object per run: a file of a backfill holds a run per location
  // until its row group is written, and hundreds of files are open.
  private values: unknown[] = [];
  private counts: number[] = [];
  private numbersOnly = true;

  get allNull(): boolean {
    return this.values.every((v) => v === null || v === undefined);
  }

  /** Whether every value is a number (not NaN) or null, what NumericRows can hold. */
  get holdsOnlyNumbers(): boolean {
    return this.numbersOnly;
  }

  /** Calls `each` with every run, in order. */
  forEach(each: (value: unknown, count: number) => void): void {
    this.values.forEach((value, r) => each(value, this.counts[r] as number));
  }

  append(slice: ColumnSlice, rows: number): void {
    if ("constant" in slice) {
      this.push(slice.constant, rows);
    } else if ("doubles" in slice) {
      for (let i = 0; i < rows; i++) {
        const v = slice.doubles[slice.offset + i] as number;
        this.push(Number.isNaN(v) ? null : v, 1);
      }
    } else {
      for (let i = 0; i < rows; i++) this.push(slice.values[slice.offset + i], 1);
    }
  }

  /**
   * The values as a Float64Array and a validity bitmap (runs of numbers and nulls only: see
   * holdsOnlyNumbers), and no runs left.
   */
  takeNumbers(): { data: Float64Array; validity: Uint8Array | undefined } {
    const rows = this.counts.reduce((sum, c) => sum + c, 0);
    const data = new Float64Array(rows);
    let row = 0;
    this.forEach((value, count) => {
      data.fill(typeof value === "number" ? value : NaN, row, row + count);
      row += count;
    });
    this.values = [];
    this.counts = [];
    this.numbersOnly = true;
    const { validity } = validityOf(data);
    return { data, validity };
  }

  /**
   * The values (as a lazyColumn), and no runs left. `utf8`: strings become UTF-8 bytes once per
   * run, not once per row.
   */
  take(utf8: boolean): ArrayLike<unknown> {
    const counts = this.counts;
    // Created per call: module-level objects do not survive Pulumi's closure serialization.
    const encoder = utf8 ? new TextEncoder() : undefined;
    const values = this.values.map((v) => (encoder && typeof v === "string" ? encoder.encode(v) : v));
    this.values = [];
    this.counts = [];
    this.numbersOnly = true;
    const rows = counts.reduce((sum, c) => sum + c, 0);
    return lazyColumn(rows, (from, to) => {
      const out = new Array<unknown>(to - from);
      let row = 0;
      let at = 0;
      counts.forEach((count, r) => {
        for (let i = Math.max(from, row); i < Math.min(to, row + count); i++) out[at++] = values[r];
        row += count;
      });
      return out;
    });
  }

  private push(value: unknown, count: number): void {
    if (count === 0) return;
    if (this.numbersOnly && !isNumberOrNull(value)) this.numbersOnly = false;
    const last = this.values.length - 1;
    if (last >= 0 && this.values[last] === value) this.counts[last] = (this.counts[last] as number) + count;
    else {
      this.values.push(value);
      this.counts.push(count);
    }
  }
}
