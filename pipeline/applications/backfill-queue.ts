/**
 * How an accepted start_date asks for history: a small interface in front of the backfill
 * capability, so the processor does not depend on how backfills run. The one implementation
 * today writes a request object per location (`applications/backfill-requests/<id>.json`),
 * created once (If-None-Match: *), so a repeated delivery never asks twice; the backfill
 * picks the requests up and paces them under the stack's quota budget.
 */
import type { Location } from "../core/settings";
import { PreconditionFailedError, type ConditionalObjectStore, type ObjectStore } from "../core/storage";
import { ApplicationsError } from "./errors";
import { BACKFILL_REQUESTS_PREFIX, backfillRequestKey } from "./keys";

/** The history of one accepted location. */
export interface BackfillRequest {
  readonly locationId: string;
  readonly location: Location;
  /** First and last date to fetch (YYYY-MM-DD in the stack's time zone); `to` is the day before acceptance. */
  readonly from: string;
  readonly to: string;
  /** When the location was accepted. */
  readonly requestedAt: string;
  readonly source: { readonly key: string; readonly processingId: string; readonly row: number };
}

/** Where backfill requests go. */
export interface BackfillQueue {
  /** For messages, e.g. s3://bucket/applications/backfill-requests/. */
  readonly description: string;
  /** Asks for a location's history; asking again for the same location is a no-op. */
  enqueueBackfill(request: BackfillRequest): Promise<{ readonly reference: string; readonly alreadyQueued: boolean }>;
}

/** The format tag of a request object. */
export const BACKFILL_REQUEST_FORMAT = "weather-pipeline/backfill-request/v1";

/** A BackfillQueue of request objects in the applications bucket. */
export function objectBackfillQueue(store: ConditionalObjectStore): BackfillQueue {
  return {
    description: `${store.description}/${backfillRequestKey("<location id>")}`,
    async enqueueBackfill(request) {
      const key = backfillRequestKey(request.locationId);
      const body = `${JSON.stringify({ format: BACKFILL_REQUEST_FORMAT, status: "pending", ...request }, null, 2)}\n`;
      try {
        await store.putObjectIf(key, body, { contentType: "application/json" }, { ifNoneMatch: "*" });
        return { reference: `${store.description}/${key}`, alreadyQueued: false };
      } catch (error) {
        if (error instanceof PreconditionFailedError)
          return { reference: `${store.description}/${key}`, alreadyQueued: true };
        throw error;
      }
    },
  };
}

/** Reads and checks a request object (what the backfill's planner gets the key of). */
export async function readBackfillRequest(store: ObjectStore, key: string): Promise<BackfillRequest> {
  if (!key.startsWith(BACKFILL_REQUESTS_PREFIX) || !key.endsWith(".json")) {
    throw new ApplicationsError(
      `${key} is not a backfill request; requests are ${BACKFILL_REQUESTS_PREFIX}<location id>.json in ${store.description}`,
    );
  }
  const where = `${store.description}/${key}`;
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode((await store.getObject(key)).body));
  } catch (error) {
    if (error instanceof SyntaxError) throw new ApplicationsError(`${where} is not JSON: ${error.message}`);
    throw error;
  }
  const r = (value ?? {}) as Partial<Record<keyof BackfillRequest | "format", unknown>>;
  const location = (r.location ?? {}) as Partial<Record<keyof Location, unknown>>;
  const problems: string[] = [];
  if (r.format !== BACKFILL_REQUEST_FORMAT)
    problems.push(`format is ${JSON.stringify(r.format)}, not ${BACKFILL_REQUEST_FORMAT}`);
  if (typeof r.locationId !== "string" || r.locationId === "") problems.push("locationId is missing");
  if (typeof location.name !== "string" || location.name === "") problems.push("location.name is missing");
  for (const [field, limit] of [
    ["latitude", 90],
    ["longitude", 180],
  ] as const) {
    const v = location[field];
    if (typeof v !== "number" || !(Math.abs(v) <= limit)) problems.push(`location.${field} is ${JSON.stringify(v)}`);
  }
  for (const field of ["from", "to"] as const) {
    if (typeof r[field] !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(r[field]))
      problems.push(`${field} is ${JSON.stringify(r[field])}`);
  }
  if (problems.length > 0) {
    throw new ApplicationsError(
      `${where} is not a backfill request the intake writes: ${problems.join("; ")}; accept the location again through the drop zone`,
    );
  }
  return value as BackfillRequest;
}
