/**
 * Runs as the report sees them: a deployed stack's Step Functions executions, or the records
 * `npm start` keeps of its local runs, and which run wrote a curated file.
 *
 * What "the latest run" means: for a deployed stack, the state machine's newest execution
 * (scheduled, started by hand, or a redrive), whatever its status; locally, the newest
 * `npm start` run recorded in `<data-dir>/runs/`. A curated file was written by the run whose
 * start..stop interval holds the file's `written-at` time (the transform stamps it).
 */
import { assertIsoDate } from "../core/keys";
import type { ObjectStore } from "../core/storage";

/** A run's status, in Step Functions' words (local runs use SUCCEEDED and FAILED). */
export type RunStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED" | "PENDING_REDRIVE";

const STATUSES: readonly RunStatus[] = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"];

/** One run of the pipeline. */
export interface RunRecord {
  /** The execution name, or the local run's id. */
  readonly id: string;
  readonly status: RunStatus;
  readonly startedAt: string;
  /** Absent while it runs. */
  readonly stoppedAt?: string;
  /** The dates it worked on, when known (a local run's; an execution's input does not list them). */
  readonly dates?: readonly string[];
  /** Where the values came from, for a local run: "fake" (synthetic), "live", or a server's URL. */
  readonly api?: string;
  /** Why it failed, when it did (a local run's error message). */
  readonly error?: string;
}

/** The version of the local run record format. */
const RUN_RECORD_VERSION = 1;

/** The key of a local run's record in the runs store: start time first, so keys sort by start. */
export function runRecordKey(run: Pick<RunRecord, "id" | "startedAt">): string {
  return `${run.startedAt.replace(/[:.]/g, "-")}_${run.id}.json`;
}

/** A new local run's id, e.g. local-20261122T060102Z-3f9a. */
export function newLocalRunId(startedAt: Date, random: () => number = Math.random): string {
  const stamp = startedAt
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const suffix = Math.floor(random() * 0x10000)
    .toString(16)
    .padStart(4, "0");
  return `local-${stamp}-${suffix}`;
}

/** Stores a local run's record (written when it starts and again when it ends). */
export async function writeLocalRunRecord(store: ObjectStore, run: RunRecord): Promise<void> {
  await store.putObject(runRecordKey(run), `${JSON.stringify({ version: RUN_RECORD_VERSION, ...run }, null, 2)}\n`, {
    contentType: "application/json",
  });
}

function isIsoInstant(value: unknown): value is string {
  return typeof value === "string" && !Number.isNaN(Date.parse(value)) && /^\d{4}-\d{2}-\d{2}T/.test(value);
}

/** Checks one stored run record; the error names the key and the field. */
export function parseRunRecord(key: string, text: string): RunRecord {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`${key} is not JSON; delete it (it is only a local run's record)`);
  }
  const problem =
    value["version"] !== RUN_RECORD_VERSION
      ? `version is ${JSON.stringify(value["version"])}; this report reads version ${RUN_RECORD_VERSION}`
      : typeof value["id"] !== "string" || value["id"] === ""
        ? "id must be a non-empty string"
        : !STATUSES.includes(value["status"] as RunStatus)
          ? `status is ${JSON.stringify(value["status"])}; it must be one of ${STATUSES.join(", ")}`
          : !isIsoInstant(value["startedAt"])
            ? `startedAt is ${JSON.stringify(value["startedAt"])}; it must be an ISO 8601 time`
            : value["stoppedAt"] !== undefined && !isIsoInstant(value["stoppedAt"])
              ? `stoppedAt is ${JSON.stringify(value["stoppedAt"])}; it must be an ISO 8601 time`
              : undefined;
  if (problem) throw new Error(`${key}: ${problem}; delete the file or fix it`);
  const dates = value["dates"];
  if (dates !== undefined) {
    if (!Array.isArray(dates)) throw new Error(`${key}: dates must be a list of YYYY-MM-DD`);
    dates.forEach((d, i) => assertIsoDate(String(d), `${key}: dates[${i}]`));
  }
  const run: Record<string, unknown> = { ...value };
  delete run["version"];
  return run as unknown as RunRecord;
}

/** Every local run record in the runs store, oldest first. */
export async function readLocalRunRecords(store: ObjectStore): Promise<RunRecord[]> {
  const runs: RunRecord[] = [];
  for (const key of await store.listKeys("")) {
    if (!key.endsWith(".json")) continue;
    runs.push(parseRunRecord(key, new TextDecoder().decode((await store.getObject(key)).body)));
  }
  return runs.sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
}

/** The newest run by start time, or undefined when there is none. */
export function latestRun(runs: readonly RunRecord[]): RunRecord | undefined {
  return [...runs].sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt))[0];
}

/**
 * The run that wrote a file at `writtenAt`: the one whose start..stop holds that time (a run
 * still going counts up to `now`). Of several (a redrive beside the schedule), the newest start.
 */
export function runThatWrote(writtenAt: string, runs: readonly RunRecord[], now: Date): RunRecord | undefined {
  const at = Date.parse(writtenAt);
  if (Number.isNaN(at)) return undefined;
  return runs
    .filter((r) => Date.parse(r.startedAt) <= at && at <= (r.stoppedAt ? Date.parse(r.stoppedAt) : now.getTime()))
    .sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt))[0];
}
