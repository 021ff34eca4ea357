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
}

/** A run the redrive started (or found already started under the same name). */
export interface StartedRun {
  readonly executionArn: string;
  /** True when an execution of that name existed already: an earlier redrive started it. */
  readonly alreadyStarted: boolean;
}

/** The queue, Step Functions and a log, as the redrive uses them. */
export interface RedriveClients {
  /** Receives up to `max` messages (at most 10), hiding them from other receivers for a while. */
  readonly receive: (max: number) => Promise<readonly DeadLetter[]>;
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
  const { from, to } = parsed as { from?: unknown; to?: unknown };
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
  if (input.from !== undefined) return `redrive-backfill-${input.from}-${input.to ?? ""}-${hash}`;
  return `redrive-${input.date ?? "scheduled"}${input.loadOnly ? "-load" : ""}-${hash}`;
}

/**
 * Starts one run per distinct date found in the dead-letter queue and deletes each message once
 * its run has started. Bounded: reads at most maxMessages; a message whose body is not a run
 * input, or whose run could not start, stays in the queue (it reappears after the queue's
 * visibility timeout) and is reported.
 */
export async function redriveDeadLetters(
  clients: RedriveClients,
  options: RedriveOptions = {},
): Promise<RedriveResult> {
  const maxMessages = options.maxMessages ?? DEFAULT_MAX_REDRIVE_MESSAGES;
  if (!Number.isInteger(maxMessages) || maxMessages < 1) {
    throw new RangeError(`maxMessages is ${maxMessages}; it must be a whole number, 1 or more`);
  }
  const { log } = clients;

  const seen = new Set<string>();
  const groups = new Map<string, { input: RedriveInput; messages: DeadLetter[] }>();
  const unreadable: { messageId: string; reason: string }[] = [];
  while (seen.size < maxMessages) {
    const batch = await clients.receive(Math.min(RECEIVE_BATCH, maxMessages - seen.size));
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
      const groupKey = input.from !== undefined ? `window ${input.from} ${input.to ?? ""}` : (input.date ?? "");
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
      input.from !== undefined
        ? `the backfill window ${input.from} to ${input.to ?? ""}`
        : input.date
          ? `${input.date}${input.loadOnly ? " (load only)" : ""}`
          : "a scheduled run (yesterday and catch-up)";
    const count = `${messages.length} message(s)`;
    if (options.dryRun) {
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
  return { received: seen.size, runs, deleted, undeleted, unreadable };
}
