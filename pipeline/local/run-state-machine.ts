/**
 * The daily run's real state machine, executed on this machine: the definition
 * buildStateMachineDefinition gives AWS, interpreted by aws-local-stepfunctions (a full ASL
 * interpreter: Retry, Catch, Map, Choice, intrinsics, the context object). The three Lambda tasks
 * run the handler factories in-process (against s3rver and the fake Open-Meteo, or any stores),
 * and the SNS and SQS tasks land in two in-memory arrays, `topic` and `queue`.
 *
 * Faithful where it matters for failure handling: each Retry keeps its ErrorEquals and
 * MaxAttempts (only the waits are shortened), a thrown error reaches Retry and Catch under its
 * name as Lambda's errorType, with a Lambda-style JSON Cause, and a task's input and output cross
 * the boundary as JSON. Where the interpreter differs from AWS, see `docs/reliability.md`.
 */
import { randomUUID } from "node:crypto";
import { StateMachine, type StateMachineDefinition } from "aws-local-stepfunctions";
import { createIngestHandler, type RetryTuning } from "../ingest";
import {
  createPlanHandler,
  redriveDeadLetters,
  type DeadLetter,
  type RedriveOptions,
  type RedriveResult,
} from "../operations";
import { createTransformHandler } from "../transform";
import { sourceSchema, withSourceFetch, withSourceTransform, type SourceDefinition } from "../sources";
import { createLoadHandler, sourceWarehouseTable, type WarehouseDatabase } from "../warehouse";
import { locationsWithRegistry } from "../applications";
import { createBackfillPlanHandler } from "../backfill";
import { buildBackfillDefinition } from "../infra/backfill-state-machine-definition";
import { buildStateMachineDefinition, type StateMachineTargets } from "../infra/state-machine-definition";
import type { PipelineSettings } from "../core/settings";
import type { ObjectStore } from "../core/storage";

/** The functions of a run, by their role in the definitions; "load" only with a warehouse, the backfill's planner is its own. */
export type FunctionRole = "plan" | "ingest" | "transform" | "load" | "backfillPlan";

/** One deployed version of a function: an event in, a JSON-able result out (or a thrown error). */
export type LocalFunction = (event: unknown) => Promise<unknown>;

/** The code each function runs now; `deploy` replaces it between invocations. A `load` adds the warehouse steps. */
export type LocalFunctions = Readonly<Record<Exclude<FunctionRole, "load" | "backfillPlan">, LocalFunction>> & {
  readonly load?: LocalFunction;
  readonly backfillPlan?: LocalFunction;
};

/** A message the alert task published to the topic. */
export interface PublishedAlert {
  readonly topicArn: string;
  readonly subject: string;
  readonly message: string;
}

/** A message the dead-letter task sent to the queue. */
export interface QueuedMessage {
  readonly messageId: string;
  readonly queueUrl: string;
  readonly body: string;
  /** String message attributes, e.g. `step` and `error`. */
  readonly attributes: Readonly<Record<string, string>>;
}

/** One Lambda invocation and how it ended, in the order they ran. */
export interface Invocation {
  /** The Task state that invoked it. */
  readonly state: string;
  readonly role: FunctionRole;
  readonly event: unknown;
  readonly ok: boolean;
  /** Lambda's errorType (the error's name) when it failed. */
  readonly errorType?: string;
  readonly errorMessage?: string;
}

/** How an execution ended. */
export interface ExecutionOutcome {
  readonly executionArn: string;
  readonly status: "SUCCEEDED" | "FAILED" | "ABORTED";
  readonly input: unknown;
  readonly output?: unknown;
  /** The Fail state's (or the uncaught) error and cause, when it failed. */
  readonly error?: string;
  readonly cause?: string;
  /** States entered, in order, Map iterations included. */
  readonly states: readonly string[];
}

/** A started execution. */
export interface RunningExecution {
  readonly executionArn: string;
  /** Stops the execution, like StopExecution: in-flight invocations run on, their results are dropped. */
  abort(): void;
  readonly done: Promise<ExecutionOutcome>;
}

/** What the local state machine is built from. */
export interface LocalStateMachineOptions {
  /** The stack name, in resource names and the alert. */
  readonly stack: string;
  /** The code of the three functions. */
  readonly functions: LocalFunctions;
  /** The wait before every retry, in milliseconds, instead of the definition's intervals; default 10. */
  readonly retryIntervalMs?: number;
  /** Names of the configured sources, as the deployed definition lists them; default none. */
  readonly sources?: readonly string[];
  /** Which state machine: the daily run (default) or the backfill. */
  readonly definition?: "daily" | "backfill";
  /** The backfill's MaxConcurrency; default 1. */
  readonly maxConcurrency?: number;
  /** Every Wait state waits this many milliseconds instead of until its timestamp; default: as defined. */
  readonly waitMs?: number;
}

/** Lambda service integration resources of the definition's Task states. */
const LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke";
const SNS_PUBLISH = "arn:aws:states:::sns:publish";
const SQS_SEND = "arn:aws:states:::sqs:sendMessage";

/** ARNs and URLs of a local stack's resources: shaped like AWS's, pointing nowhere. */
export function localTargets(
  stack: string,
  sources: readonly string[] = [],
): StateMachineTargets & {
  readonly stateMachineArn: string;
  readonly backfillPlanFunctionArn: string;
  readonly backfillStateMachineArn: string;
} {
  const arn = (service: string, rest: string) => `arn:aws:${service}:us-east-1:000000000000:${rest}`;
  return {
    stack,
    backfillPlanFunctionArn: arn("lambda", `function:${stack}-backfill`),
    backfillStateMachineArn: arn("states", `stateMachine:${stack}-backfill`),
    planFunctionArn: arn("lambda", `function:${stack}-plan`),
    ingestFunctionArn: arn("lambda", `function:${stack}-ingest`),
    transformFunctionArn: arn("lambda", `function:${stack}-transform`),
    loadFunctionArn: arn("lambda", `function:${stack}-load`),
    alertTopicArn: arn("sns", `${stack}-alerts`),
    deadLetterQueueUrl: `https://sqs.us-east-1.amazonaws.com/000000000000/${stack}-run-dlq`,
    stateMachineArn: arn("states", `stateMachine:${stack}-run`),
    sources,
  };
}

/** What the three handler factories need for a local run. */
export interface LocalPipelineDeps {
  readonly settings: PipelineSettings;
  readonly rawStore: ObjectStore;
  readonly curatedStore: ObjectStore;
  readonly stack: string;
  /** Days the scheduled run checks for missing output, ending with yesterday. */
  readonly catchUpDays: number;
  /** Most dates one scheduled run works on. */
  readonly maxDatesPerRun: number;
  /** The clock of all three; default the real time. */
  readonly now?: () => Date;
  /** Backoff of ingest's HTTP retries; default DEFAULT_RETRY_TUNING. */
  readonly retryTuning?: Partial<RetryTuning>;
  /** Where the functions' log lines go; default nowhere. */
  readonly log?: (line: string) => void;
  /** The configured sources; default none. */
  readonly sources?: readonly SourceDefinition[];
  /** The fetch the functions' HTTP requests go through; default globalThis.fetch. */
  readonly fetch?: typeof fetch;
  /** The warehouse the load function connects to (a connection per invocation); absent: no load step. */
  readonly warehouse?: { readonly connect: () => Promise<WarehouseDatabase> };
  /** The backfill planner's budget (backfillMaxWeightPerDay); default 8,000. */
  readonly backfillMaxWeightPerDay?: number;
  /** The applications bucket, where the backfill's planner reads a location's history request; default none. */
  readonly applicationsStore?: ObjectStore;
}

/** Builds the functions exactly as the Lambda callbacks do (one cold start each). */
export function createLocalFunctions(deps: LocalPipelineDeps): LocalFunctions {
  const log = deps.log ?? (() => undefined);
  const { settings, rawStore, curatedStore, now, applicationsStore } = deps;
  const sources = deps.sources ?? [];
  const functions = {
    backfillPlan: createBackfillPlanHandler({
      settings,
      curatedStore,
      maxWeightPerDay: deps.backfillMaxWeightPerDay ?? 8_000,
      now,
      log,
      // As the stack's planner: complete windows are loaded where there is a warehouse.
      loadCompleteWindows: deps.warehouse !== undefined,
      ...(deps.applicationsStore ? { applicationsStore: deps.applicationsStore } : {}),
    }),
    plan: createPlanHandler({
      settings,
      rawStore,
      curatedStore,
      catchUpDays: deps.catchUpDays,
      maxDatesPerRun: deps.maxDatesPerRun,
      now,
      log,
    }),
    ingest: createIngestHandler({
      settings,
      rawStore,
      now,
      retryTuning: deps.retryTuning,
      log,
      stack: deps.stack,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
      // As the Lambda's: the registry's locations with the config's, read on each invocation.
      ...(applicationsStore ? { locations: () => locationsWithRegistry(settings, applicationsStore, log) } : {}),
    }),
    transform: createTransformHandler({ settings, rawStore, curatedStore, stack: deps.stack, now, log }),
    ...(deps.warehouse
      ? {
          load: createLoadHandler({
            settings,
            curatedStore,
            connect: deps.warehouse.connect,
            sourceTables: sources.map((s) => sourceWarehouseTable(sourceSchema(s), s.key)),
            catchUpDays: deps.catchUpDays,
            maxDatesPerRun: deps.maxDatesPerRun,
            now,
            log,
          }),
        }
      : {}),
  };
  if (sources.length === 0) return functions;
  // As the Lambda callbacks put them in front (infra/weather-pipeline.ts).
  return {
    ...functions,
    ingest: withSourceFetch(functions.ingest, {
      sources,
      http: settings.http,
      rawStore,
      now,
      log,
      retryTuning: deps.retryTuning,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
    }),
    transform: withSourceTransform(functions.transform, { sources, rawStore, curatedStore, now, log }),
  };
}

/** A thrown function error as Step Functions sees it: named by errorType, with Lambda's JSON as the cause. */
class LambdaFunctionError extends Error {
  constructor(errorType: string, errorMessage: string) {
    super(JSON.stringify({ errorType, errorMessage }));
    this.name = errorType;
  }
}

interface TaskState {
  readonly name: string;
  readonly resource: string;
}

/** Every Task state of a definition, Map iterations included. */
function taskStatesOf(definition: Record<string, unknown>): TaskState[] {
  const tasks: TaskState[] = [];
  const states = (definition["States"] ?? {}) as Record<string, Record<string, unknown>>;
  for (const [name, state] of Object.entries(states)) {
    if (state["Type"] === "Task") tasks.push({ name, resource: String(state["Resource"]) });
    const processor = (state["ItemProcessor"] ?? state["Iterator"]) as Record<string, unknown> | undefined;
    if (processor) tasks.push(...taskStatesOf(processor));
  }
  return tasks;
}

/** Every Wait state of a definition, Map iterations included. */
function waitStatesOf(definition: Record<string, unknown>): string[] {
  const waits: string[] = [];
  const states = (definition["States"] ?? {}) as Record<string, Record<string, unknown>>;
  for (const [name, state] of Object.entries(states)) {
    if (state["Type"] === "Wait") waits.push(name);
    const processor = (state["ItemProcessor"] ?? state["Iterator"]) as Record<string, unknown> | undefined;
    if (processor) waits.push(...waitStatesOf(processor));
  }
  return waits;
}

function toJson(value: unknown): unknown {
  return value === undefined ? null : (JSON.parse(JSON.stringify(value)) as unknown);
}

/**
 * The state machine of one local stack. Executions share the functions, the topic and the
 * queue, as executions of one deployed state machine share its Lambdas, topic and queue.
 */
export class LocalStateMachine {
  readonly definition: Record<string, unknown>;
  readonly targets: ReturnType<typeof localTargets>;
  /** Alerts published, oldest first. */
  readonly topic: PublishedAlert[];
  /** Messages in the dead-letter queue, oldest first; a redrive deletes what it started. */
  readonly queue: QueuedMessage[];
  /** Every Lambda invocation of every execution, in order. */
  readonly invocations: Invocation[];
  private functions: LocalFunctions;
  private readonly machine: StateMachine;
  private readonly handlers: Record<string, (input: unknown) => Promise<unknown>>;
  private readonly retryIntervals: Record<string, number>;
  private executions: number;

  private readonly waitOverrides: Record<string, number>;
  private readonly stateMachineArn: string;
  private readonly stateMachineName: string;

  constructor(options: LocalStateMachineOptions) {
    const { loadFunctionArn, ...withoutLoad } = localTargets(options.stack, options.sources);
    // The warehouse's states exist where the stack has a load function, as in AWS.
    this.targets = options.functions.load ? { ...withoutLoad, loadFunctionArn } : withoutLoad;
    const backfill = options.definition === "backfill";
    this.definition = backfill
      ? buildBackfillDefinition({
          ...this.targets,
          planFunctionArn: this.targets.backfillPlanFunctionArn,
          maxConcurrency: options.maxConcurrency ?? 1,
        })
      : buildStateMachineDefinition(this.targets);
    this.stateMachineArn = backfill ? this.targets.backfillStateMachineArn : this.targets.stateMachineArn;
    this.stateMachineName = `${options.stack}-${backfill ? "backfill" : "run"}`;
    this.waitOverrides = {};
    if (options.waitMs !== undefined) {
      for (const name of waitStatesOf(this.definition)) this.waitOverrides[name] = options.waitMs;
    }
    this.machine = new StateMachine(this.definition as unknown as StateMachineDefinition);
    this.functions = options.functions;
    this.topic = [];
    this.queue = [];
    this.invocations = [];
    this.executions = 0;
    const roles = new Map<string, FunctionRole>([
      [this.targets.backfillPlanFunctionArn, "backfillPlan"],
      [this.targets.planFunctionArn, "plan"],
      [this.targets.ingestFunctionArn, "ingest"],
      [this.targets.transformFunctionArn, "transform"],
      [loadFunctionArn as string, "load"],
    ]);
    this.handlers = {};
    this.retryIntervals = {};
    for (const task of taskStatesOf(this.definition)) {
      this.retryIntervals[task.name] = options.retryIntervalMs ?? 10;
      switch (task.resource) {
        case LAMBDA_INVOKE:
          this.handlers[task.name] = (input) => this.invoke(task.name, roles, input);
          break;
        case SNS_PUBLISH:
          this.handlers[task.name] = (input) => Promise.resolve(this.publish(input));
          break;
        case SQS_SEND:
          this.handlers[task.name] = (input) => Promise.resolve(this.sendMessage(input));
          break;
        default:
          throw new Error(`state ${task.name} uses ${task.resource}, which the local state machine does not implement`);
      }
    }
  }

  /** Replaces the code of some functions; invocations already running keep the code they started with. */
  deploy(functions: Partial<LocalFunctions>): void {
    this.functions = { ...this.functions, ...functions };
  }

  /** Starts an execution, like states:StartExecution. */
  start(input: unknown, name = `local-${++this.executions}`): RunningExecution {
    const executionArn = `${this.stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;
    const execution = this.machine.run(toJson(input) as never, {
      noThrowOnAbort: true,
      context: {
        Execution: { Id: executionArn, Name: name },
        StateMachine: { Id: this.stateMachineArn, Name: this.stateMachineName },
      },
      overrides: {
        taskResourceLocalHandlers: this.handlers as never,
        retryIntervalOverrides: this.retryIntervals,
        waitTimeOverrides: this.waitOverrides,
      },
    });
    const states: string[] = [];
    const logged = (async () => {
      for await (const event of execution.eventLogs) {
        if (event.type === "StateEntered") states.push(event.state.name);
      }
    })();
    const done = execution.result.then(
      async (output): Promise<ExecutionOutcome> => {
        await logged;
        // noThrowOnAbort: an aborted execution resolves with null.
        return output === null
          ? { executionArn, status: "ABORTED", input, states }
          : { executionArn, status: "SUCCEEDED", input, output, states };
      },
      async (error: unknown): Promise<ExecutionOutcome> => {
        await logged;
        const failure = error instanceof Error && error.cause instanceof Error ? error.cause : error;
        return {
          executionArn,
          status: "FAILED",
          input,
          error: failure instanceof Error ? failure.name : String(failure),
          cause: failure instanceof Error ? failure.message : undefined,
          states,
        };
      },
    );
    return { executionArn, abort: () => execution.abort(), done };
  }

  /** Runs an execution to its end. */
  run(input: unknown): Promise<ExecutionOutcome> {
    return this.start(input).done;
  }

  /**
   * Redrives the dead-letter queue with the project's redrive (pipeline/redrive.ts): one
   * execution per date, each message deleted once its run has started; then waits for those runs.
   */
  async redrive(
    options: RedriveOptions = {},
    log: (line: string) => void = () => undefined,
  ): Promise<{ result: RedriveResult; outcomes: ExecutionOutcome[] }> {
    const received = new Set<string>();
    const started: Promise<ExecutionOutcome>[] = [];
    const result = await redriveDeadLetters(
      {
        receive: (max) => {
          const batch = this.queue.filter((m) => !received.has(m.messageId)).slice(0, max);
          batch.forEach((m) => received.add(m.messageId));
          return Promise.resolve(
            batch.map((m): DeadLetter => ({ messageId: m.messageId, receiptHandle: m.messageId, body: m.body })),
          );
        },
        release: (messages) => {
          messages.forEach((m) => received.delete(m.messageId));
          return Promise.resolve();
        },
        startRun: (input, name) => {
          const execution = this.start(input, name);
          started.push(execution.done);
          return Promise.resolve({ executionArn: execution.executionArn, alreadyStarted: false });
        },
        remove: (message) => {
          const index = this.queue.findIndex((m) => m.messageId === message.receiptHandle);
          if (index >= 0) this.queue.splice(index, 1);
          return Promise.resolve();
        },
        log,
      },
      options,
    );
    return { result, outcomes: await Promise.all(started) };
  }

  /** A lambda:invoke task: `{FunctionName, Payload}` in, `{Payload: result}` out, as the service integration does. */
  private async invoke(state: string, roles: ReadonlyMap<string, FunctionRole>, input: unknown): Promise<unknown> {
    const { FunctionName, Payload } = (input ?? {}) as { FunctionName?: string; Payload?: unknown };
    const role = roles.get(String(FunctionName));
    if (role === undefined)
      throw new Error(`state ${state} invokes ${String(FunctionName)}, which is not deployed here`);
    // The code deployed when the invocation starts is the code it runs to its end.
    const run = this.functions[role];
    if (run === undefined)
      throw new Error(`state ${state} invokes the ${role} function, which this stack does not have`);
    const event = toJson(Payload);
    try {
      const result = toJson(await run(event));
      this.invocations.push({ state, role, event, ok: true });
      return { StatusCode: 200, ExecutedVersion: "$LATEST", Payload: result };
    } catch (error) {
      const errorType = error instanceof Error && error.name !== "" ? error.name : "Error";
      const errorMessage = error instanceof Error ? error.message : String(error);
      this.invocations.push({ state, role, event, ok: false, errorType, errorMessage });
      throw new LambdaFunctionError(errorType, errorMessage);
    }
  }

  private publish(input: unknown): unknown {
    const { TopicArn, Subject, Message } = input as { TopicArn: string; Subject: string; Message: string };
    this.topic.push({ topicArn: TopicArn, subject: Subject, message: Message });
    return { MessageId: randomUUID() };
  }

  private sendMessage(input: unknown): unknown {
    const { QueueUrl, MessageBody, MessageAttributes } = input as {
      QueueUrl: string;
      MessageBody: string;
      MessageAttributes?: Record<string, { StringValue?: string }>;
    };
    const attributes: Record<string, string> = {};
    for (const [name, value] of Object.entries(MessageAttributes ?? {})) {
      if (value.StringValue !== undefined) attributes[name] = value.StringValue;
    }
    const messageId = randomUUID();
    this.queue.push({ messageId, queueUrl: QueueUrl, body: MessageBody, attributes });
    return { MessageId: messageId };
  }
}
