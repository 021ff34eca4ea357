/**
 * Re-running what the run dead-letter queue holds. Each message is a failed run's input as JSON
 * (`{"date": "YYYY-MM-DD", ...}`); a redrive starts the state machine again for each date, once,
 * and deletes a message only after the run for its date has started, so a crash or a failed
 * start leaves the message in the queue for the next redrive. The queue and Step Functions come
 * in as two small interfaces; pipeline/local/redrive-aws.ts implements them with the AWS SDK.
 */
import { createHash } from "node:crypto";
import { assertIsoDate } from "../core/keys";

/** One message received from the dead-letter queue. */
export interface DeadLetter {
  readonly messageId: string;
  /** What deletes this receipt of the message (SQS ReceiptHandle). */
  readonly receiptHandle: string;
  readonly body: string;
}

/**
 * The input a redrive starts a run with: a date, `{}` for a scheduled run (yesterday and
 * catch-up), or a failed backfill window's `{from, to}`, which starts the backfill's state
 * machine for that window (its complete dates are skipped).
 */
export interface RedriveInput {
  readonly date?: string;
  /** The date's warehouse load failed, not its ingest or transform: the run only loads it again. */
  readonly loadOnly?: true;
  readonly from?: string;
  readonly to?: string;
  /** A failed window of an accepted location's history: its request, started again on the backfill. */
  readonly request?: string;
}

/** True for inputs of the backfill's state machine (a window, or a location's history). */
export function isBackfillInput(input: RedriveInput): boolean {
  return input.from !== undefined || input.request !== undefined;
}

/** A run the redrive started (or found already started under the same name). */
export interface StartedRun {
  readonly executionArn: string;
  /** True when an execution of that name existed already: an earlier redrive started it. */
  readonly alreadyStarted: boolean;
}

/**
 * How long a redrive hides the messages it received: long enough to start their runs and delete
 * them, so no other receiver takes them meanwhile.
 */
export const REDRIVE_HIDE_SECONDS = 300;

/**
 * How long a dry run hides what it received. SQS has no peek: a dry run must receive too. Hiding
 * the messages while it reads makes each receive return new ones (with 0, SQS hands the same
 * messages back and a dry run would miss the rest of a queue longer than one batch); it then
 * makes them all visible again at once, so this only matters if it is killed in between.
 */
export const DRY_RUN_HIDE_SECONDS = 30;

/** The queue, Step Functions and a log, as the redrive uses them. */
export interface RedriveClients {
  /** Receives up to `max` messages (at most 10), hiding them from other receivers for `hideSeconds`. */
  readonly receive: (max: number, hideSeconds: number) => Promise<readonly DeadLetter[]>;
  /** Makes received messages visible again at once (SQS ChangeMessageVisibility to 0). */
  readonly release: (messages: readonly DeadLetter[]) => Promise<void>;
  /** Starts the state machine with `input`; `name` makes the start idempotent. */
  readonly startRun: (input: RedriveInput, name: string) => Promise<StartedRun>;
  /** Deletes a received message. */
  readonly remove: (message: DeadLetter) => Promise<void>;
  readonly log: (line: string) => void;
}

/** Options of one redrive. */
export interface RedriveOptions {
  /** Most messages read in one call; default 100. */
  readonly maxMessages?: number;
  /** Say what would be started, start nothing and delete nothing. */
  readonly dryRun?: boolean;
}

/** What one redrive did. */
export interface RedriveResult {
  /** Messages received (each once). */
  readonly received: number;
  /** One entry per run input: its date (undefined: a scheduled run), how many messages it stood for. */
  readonly runs: readonly {
    readonly date: string | undefined;
    readonly messages: number;
    readonly executionArn?: string;
    readonly alreadyStarted?: boolean;
    /** Why the start failed; its messages stay in the queue. */
    readonly error?: string;
  }[];
  /** Messages deleted after their run started. */
  readonly deleted: number;
  /** Messages whose run started but whose delete failed: a later redrive finds the same run by name. */
  readonly undeleted: readonly { readonly messageId: string; readonly reason: string }[];
  /** Messages left in the queue because their body is not a run input, with the reason. */
  readonly unreadable: readonly { readonly messageId: string; readonly reason: string }[];
  /** Messages left in the queue that were made visible again at once (all of them on a dry run). */
  readonly released: number;
  /** True when nothing was started or deleted. */
  readonly dryRun: boolean;
}

/** Default of RedriveOptions.maxMessages. */
export const DEFAULT_MAX_REDRIVE_MESSAGES = 100;

/** SQS returns at most this many messages per receive. */
const RECEIVE_BATCH = 10;

/** Reads a message body as a run input; throws with the reason when it is not one. */
export function parseDeadLetterBody(body: string): RedriveInput {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new Error(`the body is not JSON: ${JSON.stringify(body.slice(0, 100))}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new Error(
      `the body is ${JSON.stringify(body.slice(0, 100))}; it must be a JSON object like {"date":"YYYY-MM-DD"}`,
    );
  }
  const { from, to, request } = parsed as { from?: unknown; to?: unknown; request?: unknown };
  if (request !== undefined) {
    if (typeof request !== "string" || !request.endsWith(".json")) {
      throw new Error(`its request is ${JSON.stringify(request)}; a location's history names its request object's key`);
    }
    return { request };
  }
  if (from !== undefined || to !== undefined) {
    if (typeof from !== "string" || typeof to !== "string") {
      throw new Error(
        `its window is ${JSON.stringify({ from, to })}; a backfill window needs "from" and "to" as "YYYY-MM-DD"`,
      );
    }
    assertIsoDate(from, "its window's from");
    assertIsoDate(to, "its window's to");
    return { from, to };
  }
  const date = (parsed as { date?: unknown }).date;
  // A failed scheduled run that had not planned its dates yet carries no date: run it again as one.
  if (date === undefined || date === null) return {};
  if (typeof date !== "string") throw new Error(`its date is ${JSON.stringify(date)}; it must be "YYYY-MM-DD"`);
  assertIsoDate(date, "its date");
  return (parsed as { loadOnly?: unknown }).loadOnly === true ? { date, loadOnly: true } : { date };
}

/**
 * The execution name of a redrive: the date and a hash of the messages it stands for. A second
 * redrive of the same messages (e.g. after the start succeeded but a delete failed) asks for the
 * same name, which Step Functions refuses to start twice.
 */
export function redriveExecutionName(input: RedriveInput, messageIds: readonly string[]): string {
  const hash = createHash("sha256")
    .update([...messageIds].sort().join("\n"))
    .digest("hex")
    .slice(0, 16);
  if (input.request !== undefined) {
    // Execution names allow [0-9A-Za-z_-] and 80 characters: the location id, cut, is enough with the hash.
    const id = (input.request.split("/").pop() ?? "").replace(/\.json$/, "").replace(/[^0-9A-Za-z_-]/g, "-");
    return `redrive-history-${id.slice(0, 40)}-${hash}`;
  }
  if (input.from !== undefined) return `redrive-backfill-${input.from}-${input.to ?? ""}-${hash}`;
  return `redrive-${input.date ?? "scheduled"}${input.loadOnly ? "-load" : ""}-${hash}`;
}

/**
 * Starts one run per distinct date found in the dead-letter queue and deletes each message once
 * its run has started. Bounded: reads at most maxMessages; a message whose body is not a run
 * input, or whose run could not start, stays in the queue, visible again at once, and is
 * reported. A dry run starts and deletes nothing and leaves every message visible.
 */
export async function redriveDeadLetters(
  clients: RedriveClients,
  options: RedriveOptions = {},
): Promise<RedriveResult> {
  const maxMessages = options.maxMessages ?? DEFAULT_MAX_REDRIVE_MESSAGES;
  if (!Number.isInteger(maxMessages) || maxMessages < 1) {
    throw new RangeError(`maxMessages is ${maxMessages}; it must be a whole number, 1 or more`);
  }
  const dryRun = options.dryRun ?? false;
  // What was received and not deleted, by message id (with its latest receipt handle).
  const held = new Map<string, DeadLetter>();
  const tracked: RedriveClients = {
    ...clients,
    receive: async (max, hideSeconds) => {
      const batch = await clients.receive(max, hideSeconds);
      for (const message of batch) held.set(message.messageId, message);
      return batch;
    },
    remove: async (message) => {
      await clients.remove(message);
      held.delete(message.messageId);
    },
  };
  // Whatever stays in the queue is handed back at once, not after the hiding time, so a redrive
  // right after (or after a dry run) sees it; also when this one failed part-way.
  const release = async (): Promise<number> => {
    const kept = [...held.values()];
    if (kept.length === 0) return 0;
    try {
      await clients.release(kept);
      return kept.length;
    } catch (error) {
      const hidden = dryRun ? DRY_RUN_HIDE_SECONDS : REDRIVE_HIDE_SECONDS;
      clients.log(
        `could not make ${kept.length} message(s) visible again (${error instanceof Error ? error.message : String(error)}); they reappear within ${hidden} s`,
      );
      return 0;
    }
  };
  let result: Omit<RedriveResult, "released">;
  try {
    result = await redriveOnce(tracked, maxMessages, dryRun);
  } catch (error) {
    await release();
    throw error;
  }
  return { ...result, released: await release() };
}

/** One pass of redriveDeadLetters: receive, group by date, start and delete (or, dry, only say). */
async function redriveOnce(
  clients: RedriveClients,
  maxMessages: number,
  dryRun: boolean,
): Promise<Omit<RedriveResult, "released">> {
  const seen = new Set<string>();
  const { log } = clients;
  const groups = new Map<string, { input: RedriveInput; messages: DeadLetter[] }>();
  const unreadable: { messageId: string; reason: string }[] = [];
  while (seen.size < maxMessages) {
    const batch = await clients.receive(
      Math.min(RECEIVE_BATCH, maxMessages - seen.size),
      dryRun ? DRY_RUN_HIDE_SECONDS : REDRIVE_HIDE_SECONDS,
    );
    const fresh = batch.filter((m) => !seen.has(m.messageId));
    // An empty queue, or one handing back what we already hold (a short visibility timeout).
    if (fresh.length === 0) break;
    for (const message of fresh) {
      seen.add(message.messageId);
      let input: RedriveInput;
      try {
        input = parseDeadLetterBody(message.body);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        unreadable.push({ messageId: message.messageId, reason });
        log(`message ${message.messageId} left in the queue: ${reason}`);
        continue;
      }
      const groupKey =
        input.request !== undefined
          ? `history ${input.request}`
          : input.from !== undefined
            ? `window ${input.from} ${input.to ?? ""}`
            : (input.date ?? "");
      const group = groups.get(groupKey) ?? { input, messages: [] };
      group.messages.push(message);
      // One run per date: a full run of it also loads it, so a load-only input gives way to a full one.
      if (group.input.loadOnly && !input.loadOnly) group.input = input;
      groups.set(groupKey, group);
    }
  }

  const runs: RedriveResult["runs"][number][] = [];
  let deleted = 0;
  const undeleted: { messageId: string; reason: string }[] = [];
  // Oldest date first; a scheduled run (no date) last, as it also fills recent gaps.
  const ordered = [...groups.entries()].sort(([a], [b]) => (a === "" ? 1 : b === "" ? -1 : a < b ? -1 : 1));
  for (const [, { input, messages }] of ordered) {
    const what =
      input.request !== undefined
        ? `the history of ${input.request}`
        : input.from !== undefined
          ? `the backfill window ${input.from} to ${input.to ?? ""}`
          : input.date
            ? `${input.date}${input.loadOnly ? " (load only)" : ""}`
            : "a scheduled run (yesterday and catch-up)";
    const count = `${messages.length} message(s)`;
    if (dryRun) {
      log(`would start ${what} for ${count}`);
      runs.push({ date: input.date, messages: messages.length });
      continue;
    }
    const name = redriveExecutionName(
      input,
      messages.map((m) => m.messageId),
    );
    let started: StartedRun;
    try {
      started = await clients.startRun(input, name);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      log(`could not start ${what} (${count} left in the queue): ${reason}`);
      runs.push({ date: input.date, messages: messages.length, error: reason });
      continue;
    }
    log(`${started.alreadyStarted ? "already started" : "started"} ${what}: ${started.executionArn} (${count})`);
    runs.push({
      date: input.date,
      messages: messages.length,
      executionArn: started.executionArn,
      alreadyStarted: started.alreadyStarted,
    });
    for (const message of messages) {
      try {
        await clients.remove(message);
        deleted++;
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        undeleted.push({ messageId: message.messageId, reason });
        log(`could not delete message ${message.messageId} after starting its run: ${reason}`);
      }
    }
  }
  return { received: seen.size, runs, deleted, undeleted, unreadable, dryRun };
}
