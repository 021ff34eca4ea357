/**
 * Sources: published weather files (CSV, JSON arrays, JSON Lines) listed in the stack's config,
 * fetched once per run with a conditional GET, kept unchanged in raw, and turned by a declared
 * mapping into one typed curated table each (`source_<name>`), beside Open-Meteo's datasets and
 * declared from the same kind of schema.
 * (Values as plain constants: see ingest/index.ts.)
 */
import * as check from "./check";
import * as convert from "./convert";
import * as definition from "./definition";
import * as errors from "./errors";
import * as fetching from "./fetch";
import * as handler from "./handler";
import * as keys from "./keys";
import * as parse from "./parse";
import * as schema from "./schema";
import * as time from "./time";
import * as transform from "./transform";

export const { sourceProblems, columnNamesProblems } = check;
export type { SourceProblem } from "./check";
export const { convertRecords } = convert;
export type { Converted, Reject, TypedRow, TypedValue } from "./convert";
export const {
  DECLARED_TYPES,
  MAX_SOURCE_BYTES,
  MIN_SOURCE_BYTES,
  SOURCE_DEFAULTS,
  SOURCE_ENCODINGS,
  SOURCE_FORMATS,
  TIME_COLUMN,
  describeField,
  sourceTable,
} = definition;
export type { SourceColumn, SourceDefinition, SourceEncoding, SourceFormat, SourceTime } from "./definition";
export const { SourceDriftError, SourceError, SourceRejectsError, SourceUnavailableError } = errors;
export type SourceError = errors.SourceError;
export const { fetchSource } = fetching;
export type { SourceFetchDeps, SourceFetchResult, SourceState, StoredHeaders } from "./fetch";
export const {
  createSourceFetchHandler,
  createSourceTransformHandler,
  isSourceEvent,
  parseSourceTransformEvent,
  withSourceFetch,
  withSourceTransform,
} = handler;
export type { Handler, SourceFetchHandlerDeps, SourceTransformHandlerDeps } from "./handler";
export const {
  SOURCES_RAW_PREFIX,
  isSourceBodyKey,
  sourceBodyKey,
  sourceCuratedKey,
  sourceHeadersKey,
  sourcePartitionPrefix,
  sourceRawPrefix,
  sourceRejectsKey,
  sourceStateKey,
  sourceTransformedKey,
} = keys;
export const { decodeText, parseSourceFile } = parse;
export type { FileRecord, ParsedFile } from "./parse";
export const { curatedTables, sourceSchema } = schema;
export type { CuratedTablesInput } from "./schema";
export const { createTimeReader, timeFormatProblem, timeZoneProblem } = time;
export type { ReadTime, TimeReader } from "./time";
export const {
  SOURCE_ATTRIBUTION_METADATA_KEY,
  SOURCE_NAME_METADATA_KEY,
  SOURCE_RAW_METADATA_KEY,
  SOURCE_UNITS_METADATA_KEY,
  SOURCE_URL_METADATA_KEY,
  transformSource,
} = transform;
export type { SourceCuratedFile, SourceTransformInput, SourceTransformResult, TransformedRecord } from "./transform";
