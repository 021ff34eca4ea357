/**
 * The metric lines an ingest prints (CloudWatch EMF), from core/metrics' catalogue: how many
 * requests it sent, how often it retried and was rate-limited, how many bytes came back, and the
 * API weight it used, which the dashboard sets against Open-Meteo's free limits.
 */
import {
  KIND_DIMENSION,
  OPEN_METEO_BYTES,
  OPEN_METEO_RATE_LIMITED,
  OPEN_METEO_REQUESTS,
  OPEN_METEO_RETRIES,
  OPEN_METEO_WEIGHT,
  RATE_LIMIT_KINDS,
  formatMetricLine,
  type RateLimitKind,
} from "../core/metrics";
import { rateLimitKind } from "./http";
import type { IngestAttempt } from "./ingest";

/**
 * Open-Meteo's free-tier limits, in API weight (open-meteo.com/en/terms): per minute, per
 * hour and per day (reset at 00:00 UTC). The dashboard draws them as lines.
 */
export const OPEN_METEO_FREE_LIMITS = { perMinute: 600, perHour: 5_000, perDay: 10_000 } as const;

/** What one ingest invocation sent and got, summed over its attempts. */
export interface IngestTotals {
  requests: number;
  retries: number;
  bytes: number;
  weight: number;
  readonly rateLimited: Record<RateLimitKind, number>;
}

/** Totals of nothing yet. */
export function emptyIngestTotals(): IngestTotals {
  const rateLimited = {} as Record<RateLimitKind, number>;
  for (const kind of RATE_LIMIT_KINDS) rateLimited[kind] = 0;
  return { requests: 0, retries: 0, bytes: 0, weight: 0, rateLimited };
}

/**
 * Adds one attempt. Every attempt counts as a request and weighs its request's weight: the API
 * may count a request it then refused, so the weight is what the limits could have seen, never
 * less.
 */
export function addAttempt(totals: IngestTotals, attempt: IngestAttempt): void {
  totals.requests += 1;
  totals.weight += attempt.weight;
  if (attempt.attempt > 1) totals.retries += 1;
  if (attempt.ok) {
    totals.bytes += attempt.bytes;
  } else if (attempt.failure.kind === "status" && attempt.failure.status === 429) {
    totals.rateLimited[rateLimitKind(attempt.failure.reason)] += 1;
  }
}

/**
 * The lines an ingest invocation prints, successful or not (a failed one is the one whose 429s
 * matter): one with requests, retries, bytes and weight, then one per kind of 429 it got, with
 * the Kind dimension (one EMF object holds one value per dimension). Nothing when no request
 * was sent (the event was refused before any).
 */
export function formatIngestMetricLines(
  totals: IngestTotals,
  stack: string,
  timestamp: Date,
  properties: Readonly<Record<string, string | number>> = {},
): string[] {
  if (totals.requests === 0) return [];
  const lines = [
    formatMetricLine({
      stack,
      timestamp,
      metrics: [
        { name: OPEN_METEO_REQUESTS, unit: "Count", value: totals.requests },
        { name: OPEN_METEO_RETRIES, unit: "Count", value: totals.retries },
        { name: OPEN_METEO_BYTES, unit: "Bytes", value: totals.bytes },
        // Weights are multiples of 0.1: round off the float sum's noise.
        { name: OPEN_METEO_WEIGHT, unit: "Count", value: Math.round(totals.weight * 1000) / 1000 },
      ],
      properties,
    }),
  ];
  for (const kind of RATE_LIMIT_KINDS) {
    const count = totals.rateLimited[kind];
    if (count === 0) continue;
    lines.push(
      formatMetricLine({
        stack,
        timestamp,
        dimensions: { [KIND_DIMENSION]: kind },
        metrics: [{ name: OPEN_METEO_RATE_LIMITED, unit: "Count", value: count }],
        properties,
      }),
    );
  }
  return lines;
}
