/**
 * How an accepted start_date asks for history: a small interface in front of the backfill
 * capability, so the processor does not depend on how backfills run. The one implementation
 * today writes a request object per location (`applications/backfill-requests/<id>.json`),
 * created once (If-None-Match: *), so a repeated delivery never asks twice; the backfill
 * picks the requests up and paces them under the stack's quota budget.
 */
import type { Location } from "../core/settings";
import { PreconditionFailedError, type ConditionalObjectStore } from "../core/storage";
import { backfillRequestKey } from "./keys";

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
