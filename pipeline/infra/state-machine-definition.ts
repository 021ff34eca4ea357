/**
 * The Amazon States Language definition of a daily run. Pure data, so tests validate it with
 * asl-validator, run it with a local interpreter, and read it exactly.
 *
 *   PlanRun            which dates: the one asked for, or yesterday plus missing recent dates
 *   EachDate (Map)     one date at a time, oldest last:
 *     NeedsIngest      raw data complete? then Transform only
 *     Ingest -> Transform, each retried with backoff; on final failure:
 *     <Step>Failed -> AlertDateFailure (SNS) -> DeadLetterDate (SQS) -> DateFailed
 *   a failed date fails the run (visible as failed); later dates wait for the next run's catch-up.
 *
 * With a warehouse (loadFunctionArn), PlanLoads follows PlanRun (adding dates whose Parquet
 * exists but is not loaded, as `{date, loadOnly}`), Load follows Transform, and a load-only
 * date goes straight to Load; a failed Load dead-letters `{date, loadOnly: true}`, so its
 * redrive loads the date again without fetching it again.
 *
 * With configured sources, the dates are followed (also when one failed) by
 *   EachSource (Map)   one source at a time, each once per run:
 *     FetchSource (ingest function) -> SourceChanged? -> TransformSource (transform function),
 *     each retried like Ingest and Transform; on final failure:
 *     <Step>Failed -> AlertSourceFailure (SNS) -> DeadLetterSource (SQS) -> SourceFailed,
 *     which ends that source's iteration so the other sources still run;
 *   then the run fails if a date or a source failed. With a warehouse, each source's iteration
 *   ends with LoadSource (load function, retried like Load): the dates its transform wrote, or
 *   none when unchanged (the load still catches up dates its ledger lacks).
 */
import { SOURCE_UNAVAILABLE_ERROR_NAME, TRANSIENT_ERROR_NAME } from "../core/errors";
import { WAREHOUSE_UNAVAILABLE_ERROR_NAME } from "../warehouse";

/** What the definition invokes and where failures go. */
export interface StateMachineTargets {
  readonly stack: string;
  readonly planFunctionArn: string;
  readonly ingestFunctionArn: string;
  readonly transformFunctionArn: string;
  readonly alertTopicArn: string;
  readonly deadLetterQueueUrl: string;
  /** Names of the configured sources, fetched in this order each run; default none. */
  readonly sources?: readonly string[];
  /** The load function of the warehouse; absent where the stack has none. */
  readonly loadFunctionArn?: string;
}

/** Errors Lambda itself raises when an invocation could not run; always worth retrying. */
export const LAMBDA_SERVICE_ERRORS = [
  "Lambda.ServiceException",
  "Lambda.AWSLambdaException",
  "Lambda.SdkClientException",
  "Lambda.TooManyRequestsException",
  "Lambda.Unknown",
] as const;

/**
 * Failures a later attempt can get past: the API overloaded, unreachable or rate-limited per
 * minute; a function timeout; S3 throttling or a network error (SDK errors are named by code;
 * Node's network errors are plain `Error`s). Known permanent failures have names of their own
 * (a 400 is IngestError, a malformed body OpenMeteoResponseError) and are not retried.
 */
export const TRANSIENT_ERRORS = [
  TRANSIENT_ERROR_NAME,
  SOURCE_UNAVAILABLE_ERROR_NAME,
  "States.Timeout",
  "Sandbox.Timedout",
  "Error",
  "TimeoutError",
  "SlowDown",
  "ServiceUnavailable",
  "InternalError",
] as const;

export const RETRY_LAMBDA_SERVICE = {
  ErrorEquals: [...LAMBDA_SERVICE_ERRORS],
  IntervalSeconds: 2,
  MaxAttempts: 6,
  BackoffRate: 2,
  JitterStrategy: "FULL",
};

export const RETRY_TRANSIENT = {
  ErrorEquals: [...TRANSIENT_ERRORS],
  IntervalSeconds: 60,
  MaxAttempts: 3,
  BackoffRate: 2,
  MaxDelaySeconds: 600,
  JitterStrategy: "FULL",
};

/**
 * Load failures a later attempt can get past: the database unreachable, resuming from a pause
 * (about 15 s), shutting down or out of connections (the loader names them
 * WarehouseUnavailableError), a timeout, or a network error on the way to S3.
 */
export const RETRY_WAREHOUSE = {
  ErrorEquals: [
    WAREHOUSE_UNAVAILABLE_ERROR_NAME,
    "States.Timeout",
    "Sandbox.Timedout",
    "Error",
    "TimeoutError",
    "SlowDown",
    "InternalError",
  ],
  IntervalSeconds: 30,
  MaxAttempts: 4,
  BackoffRate: 2,
  MaxDelaySeconds: 300,
  JitterStrategy: "FULL",
};

/** A Lambda invoke task whose payload is the whole state and whose output is the function's result. */
export function lambdaTask(
  functionArn: string,
  retry: object[],
  next: string,
  onFailure: string,
): Record<string, unknown> {
  return {
    Type: "Task",
    Resource: "arn:aws:states:::lambda:invoke",
    // The whole state is the payload: `$.date` would be a runtime error when a scheduled run has none.
    Parameters: { FunctionName: functionArn, "Payload.$": "$" },
    // The function's return value, without the invoke envelope.
    OutputPath: "$.Payload",
    Retry: retry,
    Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: onFailure }],
    Next: next,
  };
}

/**
 * Alert, then dead-letter, then fail: what every failure goes through. The state before it puts
 * `{step, input, keys, failure}` in the state: `input` is what a redrive starts the run with.
 */
export function failureStates(
  t: Pick<StateMachineTargets, "stack" | "alertTopicArn" | "deadLetterQueueUrl">,
  names: { alert: string; deadLetter: string; fail: string },
) {
  return {
    [names.alert]: {
      Type: "Task",
      Resource: "arn:aws:states:::sns:publish",
      Parameters: {
        TopicArn: t.alertTopicArn,
        Subject: `Weather pipeline ${t.stack}: a run failed`,
        "Message.$":
          // One paragraph: a line break inside an intrinsic's string is not valid ASL.
          `States.Format('Weather pipeline ${t.stack} failed at step {} for input {}. ` +
          `Error: {}. Cause: {}. Raw objects the step was given: {} (a failed ingest lists the bodies it stored in the cause). ` +
          `The input is kept in the dead-letter queue ${t.deadLetterQueueUrl}. ` +
          `Redrive it with: npm run pipeline -- redrive --stack ${t.stack} ` +
          `(or aws stepfunctions start-execution --state-machine-arn {} --input <the input above>)', ` +
          `$.step, States.JsonToString($.input), $.failure.Error, $.failure.Cause, ` +
          `States.JsonToString($.keys), $$.StateMachine.Id)`,
      },
      ResultPath: null,
      Retry: [{ ErrorEquals: ["States.ALL"], IntervalSeconds: 5, MaxAttempts: 3, BackoffRate: 2 }],
      // The dead letter matters more than the mail: keep going if SNS is down.
      Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: null, Next: names.deadLetter }],
      Next: names.deadLetter,
    },
    [names.deadLetter]: {
      Type: "Task",
      Resource: "arn:aws:states:::sqs:sendMessage",
      Parameters: {
        QueueUrl: t.deadLetterQueueUrl,
        "MessageBody.$": "States.JsonToString($.input)",
        MessageAttributes: {
          step: { DataType: "String", "StringValue.$": "$.step" },
          error: { DataType: "String", "StringValue.$": "$.failure.Error" },
        },
      },
      ResultPath: null,
      Retry: [{ ErrorEquals: ["States.ALL"], IntervalSeconds: 5, MaxAttempts: 5, BackoffRate: 2 }],
      Next: names.fail,
    },
    [names.fail]: {
      Type: "Fail",
      Error: "WeatherRunFailed",
      Cause: "A step failed after its retries; see the alert. The input is in the dead-letter queue.",
    },
  };
}

/**
 * The states that fetch and transform the sources after the dates, and decide the run's
 * outcome: each source's iteration ends in `false` (done) or `true` (failed, alerted and
 * dead-lettered), so one failing source never keeps the others from running.
 */
function sourceStates(t: StateMachineTargets, sources: readonly string[]): Record<string, unknown> {
  // A source's iteration keeps its item ({source, runInput}) and adds what each task returned,
  // so a failure late in it still knows the run's input (for the dead letter) and the raw key.
  const load = t.loadFunctionArn;
  const task = (
    functionArn: string,
    payload: Record<string, unknown>,
    resultPath: string | null,
    next: string,
    onFailure: string,
    select: Record<string, string> = { "result.$": "$.Payload" },
    retry: object[] = [RETRY_LAMBDA_SERVICE, RETRY_TRANSIENT],
  ) => ({
    Type: "Task",
    Resource: "arn:aws:states:::lambda:invoke",
    Parameters: { FunctionName: functionArn, ...payload },
    ...(resultPath === null ? { ResultPath: null } : { ResultSelector: select, ResultPath: resultPath }),
    Retry: retry,
    Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: onFailure }],
    Next: next,
  });
  const perSource = {
    FetchSource: task(
      t.ingestFunctionArn,
      { Payload: { "source.$": "$.source" } },
      "$.fetch",
      "SourceChanged",
      "FetchSourceFailed",
    ),
    SourceChanged: {
      Type: "Choice",
      // The fetch says whether the version the table should hold still needs its transform.
      Choices: [{ Variable: "$.fetch.result.transform", BooleanEquals: true, Next: "TransformSource" }],
      Default: load ? "NothingToLoad" : "SourceDone",
    },
    // With a warehouse, the dates the transform wrote are what LoadSource loads.
    TransformSource: load
      ? task(
          t.transformFunctionArn,
          { "Payload.$": "$.fetch.result" },
          "$.transformed",
          "LoadSource",
          "TransformSourceFailed",
          { "dates.$": "$.Payload.dates" },
        )
      : task(t.transformFunctionArn, { "Payload.$": "$.fetch.result" }, null, "SourceDone", "TransformSourceFailed"),
    ...(load
      ? {
          NothingToLoad: { Type: "Pass", Result: { dates: [] }, ResultPath: "$.transformed", Next: "LoadSource" },
          LoadSource: task(
            load,
            { Payload: { "source.$": "$.source", "dates.$": "$.transformed.dates" } },
            null,
            "SourceDone",
            "LoadSourceFailed",
            undefined,
            [RETRY_LAMBDA_SERVICE, RETRY_WAREHOUSE],
          ),
          LoadSourceFailed: {
            Type: "Pass",
            Parameters: {
              "step.$": "States.Format('LoadSource {}', $.source)",
              "input.$": "$.runInput",
              keys: [],
              "failure.$": "$.failure",
            },
            Next: "AlertSourceFailure",
          },
        }
      : {}),
    SourceDone: { Type: "Pass", Result: false, End: true },
    FetchSourceFailed: {
      Type: "Pass",
      Parameters: {
        "step.$": "States.Format('FetchSource {}', $.source)",
        // A redrive re-runs the whole run: its dates again (idempotently) and every source once.
        "input.$": "$.runInput",
        keys: [],
        "failure.$": "$.failure",
      },
      Next: "AlertSourceFailure",
    },
    TransformSourceFailed: {
      Type: "Pass",
      Parameters: {
        "step.$": "States.Format('TransformSource {}', $.source)",
        "input.$": "$.runInput",
        "keys.$": "States.Array($.fetch.result.key)",
        "failure.$": "$.failure",
      },
      Next: "AlertSourceFailure",
    },
    ...failureStates(t, { alert: "AlertSourceFailure", deadLetter: "DeadLetterSource", fail: "SourceFailed" }),
  };
  // The iteration ends, failed, after its alert and dead letter: the run fails after the others ran.
  (perSource as Record<string, unknown>)["SourceFailed"] = { Type: "Pass", Result: true, End: true };
  return {
    DatesDone: { Type: "Pass", Result: false, ResultPath: "$.datesFailed", Next: "ListSources" },
    DatesFailed: { Type: "Pass", Result: true, ResultPath: "$.datesFailed", Next: "ListSources" },
    ListSources: {
      Type: "Pass",
      Result: sources.map((source) => ({ source })),
      ResultPath: "$.sourceEvents",
      Next: "EachSource",
    },
    EachSource: {
      Type: "Map",
      ItemsPath: "$.sourceEvents",
      // Read here, in the run's own context: the run's input, what a dead letter redrives.
      ItemSelector: { "source.$": "$$.Map.Item.Value.source", "runInput.$": "$$.Execution.Input" },
      // One publisher at a time, each asked once per run.
      MaxConcurrency: 1,
      ItemProcessor: { ProcessorConfig: { Mode: "INLINE" }, StartAt: "FetchSource", States: perSource },
      ResultPath: "$.sourceFailed",
      Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "RunFailed" }],
      Next: "RunOutcome",
    },
    RunOutcome: {
      Type: "Pass",
      Parameters: { "datesFailed.$": "$.datesFailed", "sourcesFailed.$": "States.ArrayContains($.sourceFailed, true)" },
      ResultPath: "$.outcome",
      Next: "AllSucceeded",
    },
    AllSucceeded: {
      Type: "Choice",
      Choices: [
        {
          Or: [
            { Variable: "$.outcome.datesFailed", BooleanEquals: true },
            { Variable: "$.outcome.sourcesFailed", BooleanEquals: true },
          ],
          Next: "RunFailed",
        },
      ],
      Default: "RunSucceeded",
    },
    RunSucceeded: { Type: "Succeed" },
  };
}

/** Builds the definition; the input may carry `{"date": "YYYY-MM-DD"}`, else the run plans its dates. */
export function buildStateMachineDefinition(t: StateMachineTargets): Record<string, unknown> {
  const load = t.loadFunctionArn;
  const warehouseStates = load
    ? {
        Load: {
          ...lambdaTask(load, [RETRY_LAMBDA_SERVICE, RETRY_WAREHOUSE], "", "LoadFailed"),
          // Only the date: the transform's result is not the load's business.
          Parameters: { FunctionName: load, Payload: { "date.$": "$.date" } },
          Next: undefined,
          End: true,
        },
        LoadFailed: {
          Type: "Pass",
          // Redriven, this input loads the date again (its Parquet exists) without fetching it again.
          Parameters: {
            step: "Load",
            input: { "date.$": "$.date", loadOnly: true },
            keys: [],
            "failure.$": "$.failure",
          },
          Next: "AlertDateFailure",
        },
      }
    : {};
  const dateStates = {
    NeedsIngest: {
      Type: "Choice",
      Choices: [
        // A date of the warehouse's catch-up: its Parquet exists and only the load is missing.
        ...(load ? [{ Variable: "$.loadOnly", IsPresent: true, Next: "Load" }] : []),
        // The planner lists keys only where the date's raw data is complete: transform them again.
        { Variable: "$.keys", IsPresent: true, Next: "Transform" },
      ],
      Default: "Ingest",
    },
    Ingest: lambdaTask(t.ingestFunctionArn, [RETRY_LAMBDA_SERVICE, RETRY_TRANSIENT], "Transform", "IngestFailed"),
    Transform: load
      ? lambdaTask(t.transformFunctionArn, [RETRY_LAMBDA_SERVICE, RETRY_TRANSIENT], "Load", "TransformFailed")
      : {
          ...lambdaTask(t.transformFunctionArn, [RETRY_LAMBDA_SERVICE, RETRY_TRANSIENT], "", "TransformFailed"),
          Next: undefined,
          End: true,
        },
    ...warehouseStates,
    IngestFailed: {
      Type: "Pass",
      Parameters: { step: "Ingest", input: { "date.$": "$.date" }, keys: [], "failure.$": "$.failure" },
      Next: "AlertDateFailure",
    },
    TransformFailed: {
      Type: "Pass",
      Parameters: { step: "Transform", input: { "date.$": "$.date" }, "keys.$": "$.keys", "failure.$": "$.failure" },
      Next: "AlertDateFailure",
    },
    ...failureStates(t, { alert: "AlertDateFailure", deadLetter: "DeadLetterDate", fail: "DateFailed" }),
  };
  const sources = t.sources ?? [];
  const definition = {
    Comment:
      `Daily weather run of ${t.stack}: plan the dates, then for each fetch Open-Meteo into the raw bucket and write Parquet to the curated bucket${load ? ", then load it into the warehouse" : ""}` +
      (sources.length > 0 ? `; then fetch and transform each source (${sources.join(", ")}).` : "."),
    QueryLanguage: "JSONPath",
    StartAt: "PlanRun",
    States: {
      PlanRun: lambdaTask(t.planFunctionArn, [RETRY_LAMBDA_SERVICE], load ? "PlanLoads" : "EachDate", "PlanFailed"),
      ...(load
        ? {
            PlanLoads: {
              ...lambdaTask(load, [RETRY_LAMBDA_SERVICE, RETRY_WAREHOUSE], "EachDate", "PlanLoadsFailed"),
              // The plan, and the run's own input: whether it is scheduled, one date, or a load's redrive.
              Parameters: { FunctionName: load, Payload: { "plan.$": "$", "input.$": "$$.Execution.Input" } },
            },
            PlanLoadsFailed: {
              Type: "Pass",
              Parameters: { step: "PlanLoads", "input.$": "$$.Execution.Input", keys: [], "failure.$": "$.failure" },
              Next: "AlertPlanFailure",
            },
          }
        : {}),
      EachDate: {
        Type: "Map",
        ItemsPath: "$.dates",
        // One date at a time: the free API allows one request in flight.
        MaxConcurrency: 1,
        ItemProcessor: { ProcessorConfig: { Mode: "INLINE" }, StartAt: "NeedsIngest", States: dateStates },
        ResultPath: null,
        // The failed date already alerted and dead-lettered itself.
        Catch: [
          {
            ErrorEquals: ["States.ALL"],
            ResultPath: "$.failure",
            Next: sources.length > 0 ? "DatesFailed" : "RunFailed",
          },
        ],
        ...(sources.length > 0 ? { Next: "DatesDone" } : { End: true }),
      },
      ...(sources.length > 0 ? sourceStates(t, sources) : {}),
      PlanFailed: {
        Type: "Pass",
        Parameters: { step: "Plan", "input.$": "$$.Execution.Input", keys: [], "failure.$": "$.failure" },
        Next: "AlertPlanFailure",
      },
      ...failureStates(t, { alert: "AlertPlanFailure", deadLetter: "DeadLetterPlanInput", fail: "PlanRunFailed" }),
      RunFailed: {
        Type: "Fail",
        Error: "WeatherRunFailed",
        Cause:
          sources.length > 0
            ? "A date or a source failed after its retries; see the alert. The run's input is in the dead-letter queue."
            : "A date failed after its retries; see the alert. Its input is in the dead-letter queue.",
      },
    },
  };
  // Drop the `undefined`s the spreads above leave, so the JSON is exactly what AWS reads.
  return JSON.parse(JSON.stringify(definition)) as Record<string, unknown>;
}
