/**
 * `npm run pipeline -- redrive --stack <name>` from a developer machine: reads the stack's
 * dead-letter queue URL and state machine ARN from `pulumi stack output`, then runs
 * redriveDeadLetters (pipeline/redrive.ts) with SQS and Step Functions clients from the AWS SDK,
 * using the machine's AWS credentials.
 */
import { execFile } from "node:child_process";
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import {
  isBackfillInput,
  redriveDeadLetters,
  type RedriveClients,
  type RedriveOptions,
  type RedriveResult,
} from "../operations";
import { PROJECT_DIR } from "../local/build";

/** The stack output holding the run dead-letter queue's URL. */
export const RUN_DEAD_LETTER_QUEUE_OUTPUT = "runDeadLetterQueueUrl";

/** The stack output holding the state machine's ARN. */
export const STATE_MACHINE_OUTPUT = "stateMachineArn";

/** Long polling asks every SQS server, so a short queue is not reported empty by chance. */
const WAIT_TIME_SECONDS = 2;

/** How to run the Pulumi CLI. */
export interface PulumiCliOptions {
  /** Folder of Pulumi.yaml; default the project's. */
  readonly cwd?: string;
  /** Environment of the CLI (PATH finds it); default this process's. */
  readonly env?: NodeJS.ProcessEnv;
}

/** Runs `pulumi stack output --json --stack <stack>` and returns the outputs. */
export async function readStackOutputs(
  stack: string,
  options: PulumiCliOptions = {},
): Promise<Record<string, unknown>> {
  if (!/^[\w.\-/]+$/.test(stack)) {
    throw new Error(`the stack name is ${JSON.stringify(stack)}; use the name \`pulumi stack ls\` shows`);
  }
  const args = ["stack", "output", "--json", "--stack", stack];
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      "pulumi",
      args,
      { cwd: options.cwd ?? PROJECT_DIR, env: options.env ?? process.env, maxBuffer: 16 * 1024 * 1024 },
      (error, out, stderr) => {
        if (!error) return resolve(out);
        if ((error as NodeJS.ErrnoException).code === "ENOENT") {
          return reject(
            new Error(
              "the Pulumi CLI (`pulumi`) is not on PATH; install it (https://www.pulumi.com/docs/install/) and log in to the backend that holds the stack",
              { cause: error },
            ),
          );
        }
        const detail = stderr.trim() || error.message;
        reject(new Error(`\`pulumi ${args.join(" ")}\` failed: ${detail}`, { cause: error }));
      },
    );
  });
  let outputs: unknown;
  try {
    outputs = JSON.parse(stdout);
  } catch {
    throw new Error(`\`pulumi ${args.join(" ")}\` printed no JSON: ${JSON.stringify(stdout.slice(0, 200))}`);
  }
  if (outputs === null || typeof outputs !== "object" || Array.isArray(outputs)) {
    throw new Error(`\`pulumi ${args.join(" ")}\` printed ${JSON.stringify(stdout.slice(0, 200))}, not an object`);
  }
  return outputs as Record<string, unknown>;
}

/** Reads one string output, or says which is missing and how to get it. */
export function requireOutput(outputs: Record<string, unknown>, name: string, stack: string): string {
  const value = outputs[name];
  if (typeof value === "string" && value !== "") return value;
  const present = Object.keys(outputs).sort().join(", ") || "none";
  throw new Error(
    `stack ${stack} has no output ${name} (its outputs: ${present}); run \`pulumi up --stack ${stack}\` with this version of the program first`,
  );
}

/** The region of a state machine ARN: arn:aws:states:<region>:<account>:stateMachine:<name>. */
export function regionOfArn(arn: string): string {
  const region = /^arn:aws[\w-]*:states:([a-z0-9-]+):\d{12}:stateMachine:[^:]+$/.exec(arn)?.[1];
  if (region === undefined) throw new Error(`${arn} is not a Step Functions state machine ARN`);
  return region;
}

/** The ARN of a named execution of a state machine. */
function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;
}

/** The stack output holding the backfill state machine's ARN. */
export const BACKFILL_STATE_MACHINE_OUTPUT = "backfillStateMachineArn";

/** Where the redrive reads and starts. */
export interface AwsRedriveTargets {
  readonly queueUrl: string;
  readonly stateMachineArn: string;
  /** Where a failed backfill window's message is redriven; absent on stacks from before the backfill. */
  readonly backfillStateMachineArn?: string;
  readonly sqs: SQSClient;
  readonly sfn: SFNClient;
  readonly log: (line: string) => void;
}

/** RedriveClients over SQS and Step Functions. */
export function createAwsRedriveClients(targets: AwsRedriveTargets): RedriveClients {
  const { queueUrl, sqs, sfn } = targets;
  return {
    receive: async (max, hideSeconds) => {
      const out = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: max,
          VisibilityTimeout: hideSeconds,
          WaitTimeSeconds: WAIT_TIME_SECONDS,
        }),
      );
      return (out.Messages ?? []).flatMap((m) =>
        m.MessageId && m.ReceiptHandle
          ? [{ messageId: m.MessageId, receiptHandle: m.ReceiptHandle, body: m.Body ?? "" }]
          : [],
      );
    },
    startRun: async (input, name) => {
      const window = isBackfillInput(input);
      const stateMachineArn = window ? targets.backfillStateMachineArn : targets.stateMachineArn;
      if (stateMachineArn === undefined) {
        throw new Error(
          `the message is a backfill window but the stack has no ${BACKFILL_STATE_MACHINE_OUTPUT} output; run pulumi up with this version first`,
        );
      }
      try {
        const out = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
        return { executionArn: out.executionArn ?? executionArnOf(stateMachineArn, name), alreadyStarted: false };
      } catch (error) {
        // Names are unique per state machine for 90 days: an earlier redrive of these messages ran.
        if (error instanceof ExecutionAlreadyExists) {
          return { executionArn: executionArnOf(stateMachineArn, name), alreadyStarted: true };
        }
        throw error;
      }
    },
    remove: async (message) => {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.receiptHandle }));
    },
    release: async (messages) => {
      // A visibility timeout of 0 makes a message receivable again at once (ChangeMessageVisibility).
      const failed: string[] = [];
      for (let i = 0; i < messages.length; i += 10) {
        const entries = messages.slice(i, i + 10).map((m, j) => ({
          Id: String(i + j),
          ReceiptHandle: m.receiptHandle,
          VisibilityTimeout: 0,
        }));
        const out = await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
        for (const f of out.Failed ?? [])
          failed.push(`${messages[Number(f.Id)]?.messageId}: ${f.Code} ${f.Message ?? ""}`.trim());
      }
      if (failed.length > 0) throw new Error(`SQS did not release ${failed.join("; ")}`);
    },
    log: targets.log,
  };
}

/** Options of redriveStack. */
export interface RedriveStackOptions extends RedriveOptions, PulumiCliOptions {
  /** Where progress goes; default console.log. */
  readonly log?: (line: string) => void;
  /** The output holding the queue URL; default runDeadLetterQueueUrl (scheduleDeadLetterQueueUrl for the schedule's). */
  readonly queueOutput?: string;
  /** Clients to use; default built for the state machine's region with the machine's credentials. */
  readonly sqs?: SQSClient;
  readonly sfn?: SFNClient;
}

/** The last line of a redrive: what it did, and on a dry run that it changed nothing. */
export function summarizeRedrive(stack: string, result: RedriveResult): string {
  const unreadable = `${result.unreadable.length} unreadable`;
  if (result.dryRun) {
    return (
      `redrive ${stack}: dry run: nothing started, nothing deleted; ${result.received} message(s) would start ` +
      `${result.runs.length} run(s), ${unreadable}; ${result.released} message(s) visible in the queue again`
    );
  }
  const failed = result.runs.filter((r) => r.error !== undefined).length;
  return (
    `redrive ${stack}: ${result.received} message(s), ${result.runs.length - failed} run(s) started, ` +
    `${failed} failed to start, ${result.deleted} deleted, ${unreadable}`
  );
}

/** Re-runs what a stack's dead-letter queue holds (see redriveDeadLetters). */
export async function redriveStack(stack: string, options: RedriveStackOptions = {}): Promise<RedriveResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const outputs = await readStackOutputs(stack, options);
  const queueUrl = requireOutput(outputs, options.queueOutput ?? RUN_DEAD_LETTER_QUEUE_OUTPUT, stack);
  const stateMachineArn = requireOutput(outputs, STATE_MACHINE_OUTPUT, stack);
  const backfill = outputs[BACKFILL_STATE_MACHINE_OUTPUT];
  const backfillStateMachineArn = typeof backfill === "string" && backfill !== "" ? backfill : undefined;
  // The stack's region, not the machine's default one.
  const region = regionOfArn(stateMachineArn);
  const sqs = options.sqs ?? new SQSClient({ region });
  const sfn = options.sfn ?? new SFNClient({ region });
  try {
    log(`redrive ${stack}: reading ${queueUrl}, starting ${stateMachineArn}${options.dryRun ? " (dry run)" : ""}`);
    const result = await redriveDeadLetters(
      createAwsRedriveClients({ queueUrl, stateMachineArn, backfillStateMachineArn, sqs, sfn, log }),
      options,
    );
    log(summarizeRedrive(stack, result));
    return result;
  } finally {
    if (!options.sqs) sqs.destroy();
    if (!options.sfn) sfn.destroy();
  }
}
