/**
 * The request manifest: a small JSON object stored beside every raw response body
 * (see keys.requestManifestKey). The body is kept byte for byte as Open-Meteo sent it, so
 * what was asked for, and for which named locations, has to live next to it: S3 user
 * metadata is capped at 2 KB, too small for the coordinate list of a large batch.
 */
import type { Endpoint, Location } from "./settings";

/** What one Open-Meteo request asked for; body element i belongs to locations[i]. */
export interface RequestManifest {
  readonly version: 1;
  readonly endpoint: Endpoint;
  /** The (first) calendar date the body serves, YYYY-MM-DD. */
  readonly date: string;
  /**
   * The last date it serves, for a backfill window; absent for a daily run's body (one date).
   * The request's end_date is one day later after a fall-back day (see core/day-frames.ts).
   */
  readonly lastDate?: string;
  /** `NNNN-<12 hex of sha256(path and query)>`: batch index first, so key order is location order. */
  readonly requestId: string;
  /** The request URL. Never contains a secret: an API key is added only when sending. */
  readonly url: string;
  /** The locations in request order, sorted by name across batches. */
  readonly locations: readonly Location[];
  readonly hourlyVariables: readonly string[];
  readonly dailyVariables: readonly string[];
  /** The `timezone` parameter sent: a fixed-offset zone such as Etc/GMT-2 (see core/day-frames.ts). */
  readonly timezone: string;
  /** The UTC offset the body must carry for its dates, in seconds; absent in bodies from before it was recorded. */
  readonly utcOffsetSeconds?: number;
  /** When the response arrived, ISO-8601 UTC. */
  readonly fetchedAt: string;
  readonly bodyBytes: number;
  readonly bodySha256: string;
}
