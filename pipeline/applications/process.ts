/**
 * Processing one uploaded file, in the order that loses nothing (each step idempotent, nothing
 * deleted before what it leads to exists):
 *
 * 1. read the registry and decide every row against it (decide.ts);
 * 2. write the decisions: `accepted/<stem>.<id>.json` for accepted rows, and for rejected ones
 *    a copy of the source in `rejected/` with `<stem>.<id>.reasons.json` beside it;
 * 3. append the accepted rows to the registry with a write conditioned on the ETag read in 1;
 *    if another file's write came first (412 or 409), go back to 1 with the new registry;
 * 4. ask for the history of each accepted row with a start_date (backfill-queue.ts);
 * 5. copy the source to `archive/`;
 * 6. publish the notice;
 * 7. delete the source from `incoming/`, only if it still is the object that was decided.
 *
 * The same object (key and ETag) delivered again gives the same outcome once: its processing
 * id names its outputs; if the registry already holds its rows it is not appended again, and
 * its decision is made again against the registry as it was before them, at the time it was
 * first made, so it comes out the same; a source already archived and gone is not done again.
 */
import { setTimeout as delay } from "node:timers/promises";
import { addDays, todayIn } from "../core/dates";
import type { PipelineSettings } from "../core/settings";
import { bareEtag, PreconditionFailedError, type ConditionalObjectStore } from "../core/storage";
import type { BackfillQueue } from "./backfill-queue";
import { decideFile, type FileDecision } from "./decide";
import { ApplicationsError } from "./errors";
import { parseObjectCreatedEvent } from "./event";
import { INCOMING_PREFIX, outputKeysOf, processingIdOf, REGISTRY_KEY, type OutputKeys } from "./keys";
import type { Notice } from "./notice";
import { noticeOf } from "./notice";
import { formatReason, type Reason } from "./reasons";
import { appendToRegistry, existingLocations, readRegistry, serializeRegistry, type RegistryEntry } from "./registry";
import type { AcceptedRow, ApplicationLimits, RejectedRow } from "./rules";

/** What processing a file needs. */
export interface ApplicationsDeps {
  /** The applications bucket. */
  readonly store: ConditionalObjectStore;
  /** Its name, to check events against; undefined accepts any (local runs). */
  readonly bucket?: string;
  /** The stack's settings: its own locations, variables and time zone. */
  readonly settings: PipelineSettings;
  readonly limits: ApplicationLimits;
  readonly backfill: BackfillQueue;
  /** Publishes a file's notice (SNS in AWS). */
  readonly notify: (notice: Notice) => Promise<void>;
  /** The clock; default the real time. */
  readonly now?: () => Date;
  readonly log?: (line: string) => void;
  /** Attempts at the registry write before giving up (the Lambda is then retried). Default 20. */
  readonly maxRegistryAttempts?: number;
}

/** What happened to an event's object. */
export type ProcessingStatus =
  /** Decided, routed, archived and removed from incoming/ now. */
  | "processed"
  /** Done by an earlier delivery: archived and gone from incoming/. */
  | "already-processed"
  /** The key holds a newer upload than the event's; that one has its own event. */
  | "superseded"
  /** Neither in incoming/ nor archived: deleted before it was processed. */
  | "missing"
  /** Not an application (outside incoming/, or a folder marker). */
  | "ignored";

/** The keys a processed file's outputs were written to. */
export interface WrittenOutputs {
  readonly accepted?: string;
  readonly rejectedCopy?: string;
  readonly reasons?: string;
  readonly archive: string;
}

/** The outcome of one event. */
export interface ProcessingResult {
  readonly status: ProcessingStatus;
  readonly key: string;
  readonly etag?: string;
  readonly processingId?: string;
  readonly decidedAt?: string;
  readonly accepted: readonly AcceptedRow[];
  readonly rejected: readonly RejectedRow[];
  readonly fileProblems: readonly Reason[];
  readonly outputs?: WrittenOutputs;
  /** Backfills asked for, with the request's reference. */
  readonly backfills: readonly {
    readonly locationId: string;
    readonly from: string;
    readonly to: string;
    readonly reference: string;
  }[];
}

/** Format tags of the decision documents. */
export const ACCEPTED_FORMAT = "weather-pipeline/applications-accepted/v1";
export const REASONS_FORMAT = "weather-pipeline/applications-rejected/v1";

const empty = (status: ProcessingStatus, key: string, extra: Partial<ProcessingResult> = {}): ProcessingResult => ({
  status,
  key,
  accepted: [],
  rejected: [],
  fileProblems: [],
  backfills: [],
  ...extra,
});

/** The source of a decision, as the documents name it. */
interface DecisionSource {
  readonly key: string;
  readonly etag: string;
  readonly processingId: string;
}

/** The rows a decision's documents hold, with each reason's one-line form. */
function documentsOf(decision: FileDecision, source: DecisionSource, decidedAt: string, keys: OutputKeys) {
  const hasRejections = decision.rejected.length > 0 || decision.fileProblems.length > 0;
  const withMessages = (reasons: readonly Reason[], row?: number) =>
    reasons.map((r) => ({ ...r, message: formatReason(r, row) }));
  const accepted =
    decision.accepted.length === 0
      ? undefined
      : {
          format: ACCEPTED_FORMAT,
          source,
          decidedAt,
          accepted: decision.accepted,
          rejectedRows: decision.rejected.length,
          ...(hasRejections ? { reasons: keys.reasons } : {}),
        };
  const reasons = !hasRejections
    ? undefined
    : {
        format: REASONS_FORMAT,
        source,
        decidedAt,
        acceptedRows: decision.accepted.length,
        ...(decision.accepted.length > 0 ? { acceptedDecisions: keys.accepted } : {}),
        file: withMessages(decision.fileProblems),
        rows: decision.rejected.map((r) => ({
          row: r.row,
          ...(r.name === undefined ? {} : { name: r.name }),
          reasons: withMessages(r.reasons, r.row),
        })),
      };
  return { accepted, reasons };
}

const JSON_TYPE = { contentType: "application/json" } as const;
const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** The time a prior delivery decided this object, from its decision documents, if it wrote any. */
async function priorDecidedAt(store: ConditionalObjectStore, keys: OutputKeys): Promise<string | undefined> {
  for (const key of [keys.accepted, keys.reasons]) {
    if (!(await store.headObject(key))) continue;
    const document = JSON.parse(Buffer.from((await store.getObject(key)).body).toString("utf8")) as {
      decidedAt?: unknown;
    };
    if (typeof document.decidedAt !== "string" || Number.isNaN(Date.parse(document.decidedAt))) {
      throw new ApplicationsError(
        `${store.description}/${key} has no decidedAt; it was not written by this processor: delete it and deliver the event again`,
      );
    }
    return document.decidedAt;
  }
  return undefined;
}

/** Reads a finished file's outcome back from its decision documents. */
async function outcomeOf(
  store: ConditionalObjectStore,
  keys: OutputKeys,
): Promise<Pick<ProcessingResult, "accepted" | "rejected" | "fileProblems" | "decidedAt">> {
  const read = async <T>(key: string): Promise<T | undefined> =>
    (await store.headObject(key))
      ? (JSON.parse(Buffer.from((await store.getObject(key)).body).toString("utf8")) as T)
      : undefined;
  const accepted = await read<{ accepted: AcceptedRow[]; decidedAt: string }>(keys.accepted);
  const reasons = await read<{ rows: RejectedRow[]; file: Reason[]; decidedAt: string }>(keys.reasons);
  return {
    accepted: accepted?.accepted ?? [],
    rejected: reasons?.rows ?? [],
    fileProblems: reasons?.file ?? [],
    ...((accepted ?? reasons) ? { decidedAt: (accepted ?? reasons)!.decidedAt } : {}),
  };
}

/** Processes the object of one "Object Created" event (see the module comment). */
export async function processApplicationEvent(event: unknown, deps: ApplicationsDeps): Promise<ProcessingResult> {
  const object = parseObjectCreatedEvent(event);
  const { store, settings, limits } = deps;
  const log = deps.log ?? ((line: string) => console.log(line));
  const now = deps.now ?? (() => new Date());
  if (deps.bucket !== undefined && object.bucket !== deps.bucket) {
    throw new ApplicationsError(
      `the event is about bucket ${object.bucket}; this processor handles ${deps.bucket} only (check the EventBridge rule's pattern)`,
    );
  }
  const { key } = object;
  if (!key.startsWith(INCOMING_PREFIX) || key.endsWith("/")) {
    log(`applications: ignored ${key}: not a file under ${INCOMING_PREFIX}`);
    return empty("ignored", key);
  }

  const head = await store.headObject(key);
  if (head === undefined) {
    if (object.etag !== undefined) {
      const processingId = processingIdOf(key, object.etag);
      const keys = outputKeysOf(key, processingId);
      if (await store.headObject(keys.archive)) {
        log(
          `applications: ${key} (${processingId}) was processed before and archived at ${keys.archive}; nothing to do`,
        );
        return empty("already-processed", key, {
          etag: object.etag,
          processingId,
          outputs: { archive: keys.archive },
          ...(await outcomeOf(store, keys)),
        });
      }
    }
    log(`applications: ${key} is gone and was not archived: deleted before it was processed; nothing to do`);
    return empty("missing", key, object.etag === undefined ? {} : { etag: object.etag });
  }
  const etag = bareEtag(head.etag);
  if (object.etag !== undefined && object.etag !== etag) {
    log(
      `applications: ${key} now holds another upload (ETag ${etag}, the event's ${object.etag}); its own event processes it`,
    );
    return empty("superseded", key, { etag: object.etag });
  }
  const processingId = processingIdOf(key, etag);
  const keys = outputKeysOf(key, processingId);
  const source: DecisionSource = { key, etag, processingId };

  // The bytes are read once, and only when small enough to be an application at all.
  let body: Uint8Array | undefined;
  if (head.size <= limits.maxBytes) {
    const read = await store.getObject(key);
    if (read.etag !== undefined && bareEtag(read.etag) !== etag) {
      log(`applications: ${key} was replaced while being read; its new upload's event processes it`);
      return empty("superseded", key, { etag });
    }
    body = read.body;
  }

  let decidedAt = (await priorDecidedAt(store, keys)) ?? now().toISOString();
  let decision: FileDecision | undefined;
  const attempts = deps.maxRegistryAttempts ?? 20;
  for (let attempt = 1; decision === undefined; attempt++) {
    const snapshot = await readRegistry(store);
    const entries = snapshot.registry.locations;
    const first = entries.findIndex((e) => e.source.processingId === processingId);
    const committed = first >= 0;
    if (committed) decidedAt = (entries[first] as RegistryEntry).acceptedAt;
    const basis = committed ? entries.slice(0, first) : entries;
    const candidate = decideFile(
      { key, size: head.size, ...(body === undefined ? {} : { body }) },
      {
        existing: existingLocations(settings.locations, basis),
        variableCount: settings.hourlyVariables.length + settings.dailyVariables.length,
        limits,
        today: todayIn(settings.timezone, new Date(decidedAt)),
        timezone: settings.timezone,
      },
    );
    if (committed) {
      const mine = entries.filter((e) => e.source.processingId === processingId).map((e) => e.id);
      const again = candidate.accepted.map((row) => row.id);
      if (mine.join(",") !== again.join(",")) {
        throw new ApplicationsError(
          `${key} (${processingId}) is in the registry with ${mine.join(", ")}, but deciding it again gives ${again.join(", ") || "none"} (did the stack's config change since?); ` +
            `its outputs are left as they are: compare ${REGISTRY_KEY} with ${keys.accepted} and finish by hand`,
        );
      }
    }
    const documents = documentsOf(candidate, source, decidedAt, keys);
    // Step 2, before the registry: a decision is on record before it takes effect.
    if (documents.accepted) await store.putObject(keys.accepted, json(documents.accepted), JSON_TYPE);
    if (documents.reasons) {
      if (body !== undefined)
        await store.putObject(keys.rejectedCopy, body, { contentType: "application/octet-stream" });
      else await store.copyObject(key, keys.rejectedCopy, { sourceEtag: etag });
      await store.putObject(keys.reasons, json(documents.reasons), JSON_TYPE);
    }
    if (committed || candidate.accepted.length === 0) {
      decision = candidate;
      break;
    }
    const appended = candidate.accepted.map((row): RegistryEntry => ({
      id: row.id,
      name: row.name,
      latitude: row.latitude,
      longitude: row.longitude,
      ...(row.startDate === undefined ? {} : { startDate: row.startDate }),
      acceptedAt: decidedAt,
      source: { key, etag, processingId, row: row.row },
    }));
    try {
      await store.putObjectIf(
        REGISTRY_KEY,
        serializeRegistry(appendToRegistry(snapshot.registry, appended)),
        JSON_TYPE,
        snapshot.etag === undefined ? { ifNoneMatch: "*" } : { ifMatch: snapshot.etag },
      );
      decision = candidate;
    } catch (error) {
      if (!(error instanceof PreconditionFailedError) || attempt >= attempts) throw error;
      // Another file's rows went in first: decide again against them, after a short random wait.
      log(
        `applications: ${key}: the registry changed while deciding (${error.outcome}); deciding again (attempt ${attempt + 1})`,
      );
      await delay(Math.min(1000, 10 * 2 ** Math.min(attempt, 6)) * Math.random());
    }
  }

  const backfills: ProcessingResult["backfills"][number][] = [];
  const yesterday = addDays(todayIn(settings.timezone, new Date(decidedAt)), -1);
  for (const row of decision.accepted) {
    if (row.startDate === undefined) continue;
    const queued = await deps.backfill.enqueueBackfill({
      locationId: row.id,
      location: { name: row.name, latitude: row.latitude, longitude: row.longitude },
      from: row.startDate,
      to: yesterday,
      requestedAt: decidedAt,
      source: { key, processingId, row: row.row },
    });
    backfills.push({ locationId: row.id, from: row.startDate, to: yesterday, reference: queued.reference });
  }

  if (body !== undefined) await store.putObject(keys.archive, body, { contentType: "application/octet-stream" });
  else await store.copyObject(key, keys.archive, { sourceEtag: etag });

  const hasRejections = decision.rejected.length > 0 || decision.fileProblems.length > 0;
  const result: ProcessingResult = {
    status: "processed",
    key,
    etag,
    processingId,
    decidedAt,
    accepted: decision.accepted,
    rejected: decision.rejected,
    fileProblems: decision.fileProblems,
    outputs: {
      ...(decision.accepted.length > 0 ? { accepted: keys.accepted } : {}),
      ...(hasRejections ? { rejectedCopy: keys.rejectedCopy, reasons: keys.reasons } : {}),
      archive: keys.archive,
    },
    backfills,
  };
  await deps.notify(noticeOf(result, store.description));
  if (!(await store.deleteObjectIf(key, head))) {
    log(`applications: ${key} was replaced after it was decided; the new upload stays in incoming/ for its own event`);
  }
  log(
    `applications: ${key} (${processingId}): accepted ${decision.accepted.length}, rejected ${
      decision.fileProblems.length > 0 ? "the whole file" : decision.rejected.length
    }; archived at ${keys.archive}`,
  );
  return result;
}
