/**
 * Incremental Parquet writing of one curated dataset file with hyparquet-writer: rows arrive a
 * location (or a body) at a time, are buffered up to one row group, written, and dropped, so the
 * memory a file needs is one row group of values plus the compressed bytes written so far.
 */
import { ByteWriter, ParquetWriter, type ColumnSource } from "hyparquet-writer";
import { parquetSchemaElements, variableUnits, type DatasetSchema } from "./schema";

/** Key-value metadata key holding `{variable: unit}` as JSON. */
export const UNITS_METADATA_KEY = "open_meteo.units";
/** Key-value metadata key holding the raw object keys or file names the rows came from, as a JSON array. */
export const SOURCE_METADATA_KEY = "open_meteo.source";
/** Key-value metadata key holding the attribution the data's CC BY 4.0 licence asks for. */
export const ATTRIBUTION_METADATA_KEY = "open_meteo.attribution";

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
}

/** The values of one column for a batch of rows: a run of an array, or one value repeated. */
export type ColumnSlice =
  { readonly values: ArrayLike<unknown>; readonly offset: number } | { readonly constant: unknown };

/** Writes one Parquet file of a dataset, a batch of rows at a time, into memory. */
export class DatasetParquetWriter {
  /** Rows appended so far (written or buffered). */
  rowCount = 0;
  private readonly output = new ByteWriter();
  private readonly writer: ParquetWriter;
  private readonly rowGroupRows: number;
  /** Per column, the slices appended since the last row group (joined once, at flush). */
  private chunks: ArrayLike<unknown>[][];
  private buffered = 0;
  private finished = false;

  constructor(
    readonly schema: DatasetSchema,
    options: ParquetFileOptions = {},
  ) {
    this.rowGroupRows = options.rowGroupRows ?? DEFAULT_ROW_GROUP_ROWS;
    if (!(Number.isInteger(this.rowGroupRows) && this.rowGroupRows > 0)) {
      throw new Error(`rowGroupRows is ${this.rowGroupRows}; it must be a positive whole number of rows`);
    }
    // SNAPPY: what Athena and DuckDB read fastest, built into hyparquet-writer (no native code).
    this.writer = new ParquetWriter({ writer: this.output, schema: parquetSchemaElements(schema), codec: "SNAPPY" });
    this.chunks = schema.columns.map(() => []);
  }

  /** Rows waiting to be written as the next row group. */
  get bufferedRows(): number {
    return this.buffered;
  }

  /** Appends `rows` rows, one ColumnSlice per schema column; writes a row group once enough are buffered. */
  appendRows(rows: number, columns: readonly ColumnSlice[]): void {
    this.assertOpen();
    if (columns.length !== this.chunks.length) {
      throw new Error(
        `${this.schema.dataset}: got ${columns.length} columns for a schema of ${this.chunks.length} ` +
          `(${this.schema.columns.map((c) => c.name).join(", ")})`,
      );
    }
    for (let j = 0; j < columns.length; j++) {
      (this.chunks[j] as ArrayLike<unknown>[]).push(copyRows(columns[j] as ColumnSlice, rows));
    }
    this.buffered += rows;
    this.rowCount += rows;
    if (this.buffered >= this.rowGroupRows) this.flushRowGroup();
  }

  /** Writes the buffered rows as one row group (nothing when the buffer is empty). */
  flushRowGroup(): void {
    this.assertOpen();
    if (this.buffered === 0) return;
    const columnData: ColumnSource[] = this.schema.columns.map((column, j) => ({
      name: column.name,
      data: joinChunks(this.chunks[j] as ArrayLike<unknown>[], this.buffered) as ColumnSource["data"],
    }));
    // A ByteWriter has no flush(), so write() is synchronous and returns nothing.
    void this.writer.write({ columnData, rowGroupSize: this.buffered });
    this.chunks = this.schema.columns.map(() => []);
    this.buffered = 0;
  }

  /**
   * Writes what is buffered and the footer, and returns the file. `units` defaults to the
   * schema's; `sources` are the raw keys or file names the rows came from.
   */
  finish(metadata: {
    readonly sources: readonly string[];
    readonly units?: Readonly<Record<string, string>>;
  }): Uint8Array {
    this.flushRowGroup();
    this.finished = true;
    // Set here rather than in the constructor: the sources are known only at the end.
    this.writer.kvMetadata = [
      { key: UNITS_METADATA_KEY, value: JSON.stringify(metadata.units ?? variableUnits(this.schema)) },
      { key: SOURCE_METADATA_KEY, value: JSON.stringify(metadata.sources) },
      { key: ATTRIBUTION_METADATA_KEY, value: "Weather data by Open-Meteo.com (CC BY 4.0)" },
    ];
    void this.writer.finish();
    // A copy of exactly the written bytes, so the growth slack of the buffer can be freed.
    return new Uint8Array(this.output.getBuffer());
  }

  private assertOpen(): void {
    if (this.finished) throw new Error(`${this.schema.dataset}: the Parquet file is already finished`);
  }
}

/**
 * A copy of a slice's rows. Copied, not referenced, so the caller's arrays (a whole parsed body)
 * can be dropped; slice() copies pointers (or raw doubles), without boxing a number per value.
 */
function copyRows(slice: ColumnSlice, rows: number): ArrayLike<unknown> {
  if ("constant" in slice) return new Array<unknown>(rows).fill(slice.constant);
  const { values, offset } = slice;
  if (values instanceof Float64Array || Array.isArray(values)) return values.slice(offset, offset + rows);
  return Array.from({ length: rows }, (_, i) => values[offset + i]);
}

/** One array of a column's buffered slices: a Float64Array when all are, else a plain array. */
function joinChunks(chunks: readonly ArrayLike<unknown>[], total: number): ArrayLike<unknown> {
  if (chunks.length === 1) return chunks[0] as ArrayLike<unknown>;
  if (chunks.every((c) => c instanceof Float64Array)) {
    const out = new Float64Array(total);
    let at = 0;
    for (const chunk of chunks as Float64Array[]) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
  const out = new Array<unknown>(total);
  let at = 0;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i++) out[at++] = chunk[i];
  }
  return out;
}
