/**
 * Where applications live, all under `applications/` of the stack's applications bucket: the
 * drop zone, the two decision areas, the archive of sources, the registry and the queue of
 * backfill requests. The one place that knows the layout.
 */
import { createHash } from "node:crypto";

/** Where submitters put files; the only prefix the submitter role may write. */
export const INCOMING_PREFIX = "applications/incoming/";
/** Decisions of accepted rows: `<stem>.<processing id>.json`. */
export const ACCEPTED_PREFIX = "applications/accepted/";
/** A copy of each source with rejected rows, and `<stem>.<processing id>.reasons.json` beside it. */
export const REJECTED_PREFIX = "applications/rejected/";
/** Every processed source, byte for byte: `<stem>.<processing id>.<ext>`. */
export const ARCHIVE_PREFIX = "applications/archive/";
/** The one registry object of accepted locations (see registry.ts). */
export const REGISTRY_KEY = "applications/registry.json";
/** Backfill requests of accepted rows with a start_date: `<location id>.json`. */
export const BACKFILL_REQUESTS_PREFIX = "applications/backfill-requests/";

/** The file kinds an application can be. */
export type ApplicationFormat = "csv" | "json";

/**
 * The processing id of one uploaded object: the first 12 hex of SHA-256 over its key and ETag.
 * The same object delivered twice has the same id (so its outputs have the same keys); a new
 * upload of other bytes under the same name has another.
 */
export function processingIdOf(key: string, etag: string): string {
  return createHash("sha256")
    .update(`${key}\n${etag.replace(/"/g, "")}`)
    .digest("hex")
    .slice(0, 12);
}

/** The format named by a key's extension (case-insensitive), or undefined for any other. */
export function formatOfKey(key: string): ApplicationFormat | undefined {
  const match = /\.(csv|json)$/i.exec(key);
  return match ? (match[1]!.toLowerCase() as ApplicationFormat) : undefined;
}

/**
 * The part of an incoming key the output keys keep: the path under incoming/ without its
 * extension, each character outside `A-Z a-z 0-9 . _ - /` replaced by `_`, empty or dot-only
 * segments replaced too, so an output key is readable and never leaves its prefix.
 */
export function stemOf(incomingKey: string): string {
  const relative = incomingKey.startsWith(INCOMING_PREFIX) ? incomingKey.slice(INCOMING_PREFIX.length) : incomingKey;
  const withoutExtension = relative.replace(/\.[^./]*$/, "");
  const segments = withoutExtension
    .split("/")
    .map((segment) => segment.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 100))
    .map((segment) => (/^\.*$/.test(segment) ? "_" : segment));
  return segments.join("/");
}

/** The keys of everything one processed file leads to. */
export interface OutputKeys {
  readonly accepted: string;
  readonly rejectedCopy: string;
  readonly reasons: string;
  readonly archive: string;
}

/** The output keys of an incoming object with the given processing id. */
export function outputKeysOf(incomingKey: string, processingId: string): OutputKeys {
  const stem = `${stemOf(incomingKey)}.${processingId}`;
  const extension = formatOfKey(incomingKey) ?? "bin";
  return {
    accepted: `${ACCEPTED_PREFIX}${stem}.json`,
    rejectedCopy: `${REJECTED_PREFIX}${stem}.${extension}`,
    reasons: `${REJECTED_PREFIX}${stem}.reasons.json`,
    archive: `${ARCHIVE_PREFIX}${stem}.${extension}`,
  };
}

/** The key of a location's backfill request. */
export function backfillRequestKey(locationId: string): string {
  return `${BACKFILL_REQUESTS_PREFIX}${locationId}.json`;
}
