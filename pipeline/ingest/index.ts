/**
 * Ingest: which requests a date needs (batched by API weight), fetching them politely, and
 * keeping each body unchanged in the raw bucket with its request manifest.
 *
 * Values are re-exported as plain constants, not `export { x } from`: TypeScript emits those as
 * getters, which Pulumi's closure serializer ships as a function each.
 */
import * as apiKey from "./api-key";
import * as handler from "./handler";
import * as http from "./http";
import * as ingest from "./ingest";
import * as metrics from "./metrics";
import * as request from "./openmeteo-request";

export const { hasApiKeyParameter, loadApiKey } = apiKey;
export const { createIngestHandler, handleIngestEvent, parseIngestEvent, parseWindowEvent } = handler;
export type { EventClock, IngestEvent, IngestHandlerDeps, IngestOutcome } from "./handler";
export const { DEFAULT_RETRY_TUNING, decideRetry, canSucceedSoon, describeCause, formatSeconds, redactUrl } = http;
export type { AttemptFailure, RetryPolicy, RetryTuning } from "./http";
export const { ingestDate, ingestWindow, limitResetAt } = ingest;
export type { IngestResult, WindowIngestInput, WindowIngestResult } from "./ingest";
export const { OPEN_METEO_FREE_LIMITS, formatIngestMetricLines } = metrics;
export type { IngestTotals } from "./metrics";
export const {
  MAX_LOCATIONS_PER_REQUEST,
  formatCoordinate,
  planRequests,
  planSegmentRequests,
  requestIdentity,
  requestWeight,
  segmentDates,
} = request;
export type { DateSegment, PlannedRequest } from "./openmeteo-request";
