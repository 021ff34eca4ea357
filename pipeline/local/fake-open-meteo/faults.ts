/**
 * Scripted answers of the fake Open-Meteo: the real server's error bodies (429 per limit, 503),
 * and network faults (delays, hangs, stalls, resets) that tests ask for per request.
 */

// ---------------------------------------------------------------------------------------------
// Error reasons, as the real server words them
// ---------------------------------------------------------------------------------------------

/** Reasons of the real API's 429 and 503 answers (see shared/open-meteo/errors). */
export const OPEN_METEO_REASONS = {
  minutely: "Minutely API request limit exceeded. Please try again in one minute.",
  hourly: "Hourly API request limit exceeded. Please try again in the next hour.",
  daily: "Daily API request limit exceeded. Please try again tomorrow.",
  concurrency: "Too many concurrent requests",
  overloaded: "The service is overloaded",
} as const;

/** What the `respond` hook sees of a request. */
export interface FakeRequest {
  readonly index: number;
  readonly method: string;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
}

/** A scripted answer; `undefined` from the hook means "answer like the real API". */
export type FakeAnswer =
  /** A JSON body (serialized with JSON.stringify), e.g. a recorded 429 or 503 body. */
  | { readonly kind: "json"; readonly status: number; readonly body: unknown; readonly delayMs?: number }
  /** Any bytes: an HTML error page, `nan`, a truncated body. */
  | {
      readonly kind: "text";
      readonly status: number;
      readonly body: string | Uint8Array;
      readonly contentType?: string;
      readonly delayMs?: number;
    }
  /** The normal answer, late. */
  | { readonly kind: "delay"; readonly delayMs: number }
  /** Never answer; the connection stays open until the client gives up or the server closes. */
  | { readonly kind: "hang" }
  /** Status 200 and the first `afterBytes` bytes of the normal body, then silence. */
  | { readonly kind: "stall"; readonly afterBytes: number }
  /**
   * Drop the connection (the client sees a network error): without an answer, or with
   * `afterBytes`, after status 200 and that many bytes of the normal body (a reset mid-body).
   */
  | { readonly kind: "reset"; readonly delayMs?: number; readonly afterBytes?: number };

/** An Open-Meteo error answer: `{"error":true,"reason":...}` with a status. */
export function errorAnswer(status: number, reason: string): FakeAnswer {
  return { kind: "json", status, body: { error: true, reason } };
}

/** The real API's 429 for a limit. */
export function rateLimitAnswer(limit: "minutely" | "hourly" | "daily" | "concurrency"): FakeAnswer {
  return errorAnswer(429, OPEN_METEO_REASONS[limit]);
}

/** The real API's 503. */
export function overloadedAnswer(): FakeAnswer {
  return errorAnswer(503, OPEN_METEO_REASONS.overloaded);
}
