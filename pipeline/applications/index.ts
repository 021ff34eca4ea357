/**
 * Applications: locations asked for through the S3 drop zone, validated row by row, accepted
 * into the registry with deterministic ids or rejected with reasons, the source archived.
 * (Values as plain constants: see ingest/index.ts.)
 */
import * as backfillQueue from "./backfill-queue";
import * as decide from "./decide";
import * as errors from "./errors";
import * as event from "./event";
import * as handler from "./handler";
import * as keys from "./keys";
import * as locationId from "./location-id";
import * as notice from "./notice";
import * as parse from "./parse";
import * as processing from "./process";
import * as reasons from "./reasons";
import * as registry from "./registry";
import * as rules from "./rules";

export const { BACKFILL_REQUEST_FORMAT, objectBackfillQueue, readBackfillRequest } = backfillQueue;
export type { BackfillQueue, BackfillRequest } from "./backfill-queue";
export const { decideFile } = decide;
export type { FileDecision, UploadedFile } from "./decide";
export const { ApplicationsError } = errors;
export type ApplicationsError = errors.ApplicationsError;
export const { objectCreatedEvent, parseObjectCreatedEvent } = event;
export type { CreatedObject } from "./event";
export const { createApplicationsHandler, snsNotifier } = handler;
export const {
  ACCEPTED_PREFIX,
  ARCHIVE_PREFIX,
  BACKFILL_REQUESTS_PREFIX,
  INCOMING_PREFIX,
  REGISTRY_KEY,
  REJECTED_PREFIX,
  backfillRequestKey,
  formatOfKey,
  outputKeysOf,
  processingIdOf,
  stemOf,
} = keys;
export type { ApplicationFormat, OutputKeys } from "./keys";
export const { distanceKm, locationIdOf, normalizeName } = locationId;
export const { noticeOf } = notice;
export type { Notice } from "./notice";
export const { EXPECTED_HEADER, NonFiniteNumber, decodeText, parseApplicationFile, parseCsvText, parseJsonText } =
  parse;
export type { ParsedFile, RawRow } from "./parse";
export const { ACCEPTED_FORMAT, REASONS_FORMAT, processApplicationEvent } = processing;
export type { ApplicationsDeps, ProcessingResult, ProcessingStatus, WrittenOutputs } from "./process";
export const { formatReason, showValue } = reasons;
export type { Reason, ReasonField } from "./reasons";
export const {
  EMPTY_REGISTRY,
  REGISTRY_FORMAT,
  appendToRegistry,
  existingLocations,
  locationsWithRegistry,
  mergeLocations,
  parseRegistry,
  readRegistry,
  serializeRegistry,
} = registry;
export type { MergedLocations, Registry, RegistryEntry, RegistrySnapshot, RegistrySource } from "./registry";
export const { FIRST_START_DATE, MAX_NAME_LENGTH, decideRows } = rules;
export type {
  AcceptedRow,
  ApplicationLimits,
  DecisionContext,
  ExistingLocation,
  RejectedRow,
  RowDecisions,
} from "./rules";
