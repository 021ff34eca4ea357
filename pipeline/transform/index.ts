/**
 * Transform: raw Open-Meteo bodies of a date into typed, date-partitioned Parquet files.
 * (Values as plain constants: see ingest/index.ts.)
 */
import * as addLocations from "./add-locations";
import * as handler from "./handler";
import * as parquet from "./parquet";
import * as transform from "./transform";

export const { createTransformHandler, handleTransformEvent, parseTransformEvent } = handler;
export type { TransformEvent, TransformHandlerDeps } from "./handler";
export const { addLocationsToDates } = addLocations;
export type { AddLocationsInput, AddLocationsResult } from "./add-locations";
export const {
  DatasetParquetWriter,
  DEFAULT_ROW_GROUP_ROWS,
  SOURCE_METADATA_KEY,
  UNITS_METADATA_KEY,
  ATTRIBUTION_METADATA_KEY,
} = parquet;
export type DatasetParquetWriter = parquet.DatasetParquetWriter;
export type { ColumnSlice, ParquetFileOptions } from "./parquet";
export const {
  PARQUET_CONTENT_TYPE,
  TransformError,
  WRITTEN_AT_METADATA,
  WRITTEN_BY_METADATA,
  sourceDescription,
  transformRawObjects,
  transformResponseFiles,
} = transform;
export type TransformError = transform.TransformError;
export type { CuratedFile, TransformResult } from "./transform";
