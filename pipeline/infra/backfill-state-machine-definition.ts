/**
 * The Amazon States Language definition of a backfill. Pure data, so tests validate it with
 * asl-validator, read it exactly, and run it locally (pipeline/local/run-state-machine.ts).
 *
 *   PlanBackfill          the windows still to do ({from, to} in; complete windows skipped)
 *   EachWindow (Distributed Map over $.windows, MaxConcurrency from config, no failure tolerated)
 *     HasNotBefore -> WaitForBudget      a window of a later day's budget waits for 00:00 UTC
 *     WhichLocations -> IngestLocations, LocationsRateLimited, TransformLocations
 *                                        an accepted location's history ({request} in): its window
 *                                        fetched for it alone, then added to the dates' files
 *     IngestWindow                       fetch the window (stored bodies are not fetched again)
 *     RateLimited? -> WaitForRateLimit   an hourly or daily 429: wait for the reset, then go on
 *     TransformWindow                    one Parquet file per dataset per date
 *     LoadWindow (with a warehouse)      each date not loaded as it is now, into PostgreSQL
 *     <Step>Failed -> AlertWindowFailure (SNS) -> DeadLetterWindow (SQS) -> WindowFailed
 *   a failed window fails the Map Run and the execution; redriving the execution re-runs only
 *   the windows that did not succeed, and running the backfill again skips complete windows.
 *
 * Distributed, not inline: each window is a child execution with its own history, so a backfill
 * of decades (thousands of windows, each waiting for rate limits several times) never meets the
 * 25,000-event limit of one execution's history, and a redrive re-runs only the failed children.
 * The items come from the state (the planner's output), not an S3 ItemReader, so the definition
 * runs as it is on aws-local-stepfunctions, which has no ItemReader (an inline Map there).
 *
 * With a warehouse (loadFunctionArn), LoadWindow follows TransformWindow, and a window the
 * planner found complete (`loadOnly`) goes straight to it; it retries like the daily Load and a
 * final failure alerts and dead-letters the window's `{from, to}`, whose redrive plans it
 * complete, so load-only: the load is done again, not the fetch.
 */
import {
  failureStates,
  lambdaTask,
  RETRY_LAMBDA_SERVICE,
  RETRY_TRANSIENT,
  RETRY_WAREHOUSE,
} from "./state-machine-definition";

/** What the backfill definition invokes and where failures go. */
export interface BackfillStateMachineTargets {
  readonly stack: string;
  readonly planFunctionArn: string;
  readonly ingestFunctionArn: string;
  readonly transformFunctionArn: string;
  readonly alertTopicArn: string;
  readonly deadLetterQueueUrl: string;
  /** Windows run at once (1 for the free API, which serves one request per IP at a time). */
  readonly maxConcurrency: number;
  /** The warehouse's load function; absent where the stack has none. */
  readonly loadFunctionArn?: string;
}

/** The Map Run label: child executions are named `<state machine>/Window:<id>`. */
export const WINDOW_MAP_LABEL = "Window";

/**
 * Builds the backfill definition; the input is `{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD", "spread"?: true}`,
 * or `{"request": "applications/backfill-requests/<id>.json"}` for an accepted location's history.
 */
export function buildBackfillDefinition(t: BackfillStateMachineTargets): Record<string, unknown> {
  if (!Number.isInteger(t.maxConcurrency) || t.maxConcurrency < 1) {
    throw new RangeError(`backfillMaxConcurrency is ${t.maxConcurrency}; it must be a whole number, 1 or more`);
  }
  const load = t.loadFunctionArn;
  const loadStates = load
    ? {
        LoadWindow: {
          ...lambdaTask(load, [RETRY_LAMBDA_SERVICE, RETRY_WAREHOUSE], "", "LoadWindowFailed"),
          // The window only: the load reads the dates' files from the curated bucket.
          Parameters: { FunctionName: load, Payload: { "from.$": "$.from", "to.$": "$.to" } },
          ResultSelector: {
            "from.$": "$.Payload.from",
            "loadedDates.$": "$.Payload.loadedDates",
            "skippedFiles.$": "$.Payload.skippedFiles",
          },
          OutputPath: "$",
          Next: undefined,
          End: true,
        },
        LoadWindowFailed: {
          Type: "Pass",
          // Redriven, the window is complete, so planned load-only: nothing is fetched again.
          Parameters: {
            step: "LoadWindow",
            input: { "from.$": "$.from", "to.$": "$.to" },
            keys: [],
            "failure.$": "$.failure",
          },
          Next: "AlertWindowFailure",
        },
      }
    : {};
  // Beside the item, not in place of it: `$.locations` and `$.request` stay for the transform and a failure.
  const locationStates = {
    IngestLocations: {
      ...lambdaTask(
        t.ingestFunctionArn,
        [RETRY_LAMBDA_SERVICE, RETRY_TRANSIENT],
        "LocationsRateLimited",
        "IngestLocationsFailed",
      ),
      Parameters: {
        FunctionName: t.ingestFunctionArn,
        Payload: { "from.$": "$.from", "to.$": "$.to", "locations.$": "$.locations" },
      },
      // The output as it is (resumeAt may be absent, which a selected path may not be).
      ResultSelector: { "Payload.$": "$.Payload" },
      ResultPath: "$.ingested",
      OutputPath: "$",
    },
    LocationsRateLimited: {
      Type: "Choice",
      Choices: [{ Variable: "$.ingested.Payload.resumeAt", IsPresent: true, Next: "WaitForLocationsRateLimit" }],
      Default: "TransformLocations",
    },
    WaitForLocationsRateLimit: { Type: "Wait", TimestampPath: "$.ingested.Payload.resumeAt", Next: "IngestLocations" },
    TransformLocations: {
      ...lambdaTask(t.transformFunctionArn, [RETRY_LAMBDA_SERVICE, RETRY_TRANSIENT], "", "TransformLocationsFailed"),
      Parameters: {
        FunctionName: t.transformFunctionArn,
        Payload: {
          "from.$": "$.from",
          "to.$": "$.to",
          "keys.$": "$.ingested.Payload.keys",
          "locations.$": "$.locations",
        },
      },
      ResultSelector: { "from.$": "$.Payload.date", "files.$": "States.ArrayLength($.Payload.files)" },
      ...(load ? { ResultPath: "$.transformed", Next: "LoadWindow" } : { Next: undefined, End: true }),
      OutputPath: "$",
    },
    // Redriven, the request is planned again: dates already holding the location are skipped.
    IngestLocationsFailed: {
      Type: "Pass",
      Parameters: { step: "IngestLocations", input: { "request.$": "$.request" }, keys: [], "failure.$": "$.failure" },
      Next: "AlertWindowFailure",
    },
    TransformLocationsFailed: {
      Type: "Pass",
      Parameters: {
        step: "TransformLocations",
        input: { "request.$": "$.request" },
        "keys.$": "$.ingested.Payload.keys",
        "failure.$": "$.failure",
      },
      Next: "AlertWindowFailure",
    },
  };
  const windowStates = {
    HasNotBefore: {
      Type: "Choice",
      Choices: [
        // A complete window of a stack with a warehouse: only its load is left.
        ...(load ? [{ Variable: "$.loadOnly", IsPresent: true, Next: "LoadWindow" }] : []),
        { Variable: "$.notBefore", IsPresent: true, Next: "WaitForBudget" },
      ],
      Default: "WhichLocations",
    },
    // The day's budget is used up: wait for the day this window was planned on.
    WaitForBudget: { Type: "Wait", TimestampPath: "$.notBefore", Next: "WhichLocations" },
    // An accepted location's history: its own states, which keep the item (its locations and request).
    WhichLocations: {
      Type: "Choice",
      Choices: [{ Variable: "$.locations", IsPresent: true, Next: "IngestLocations" }],
      Default: "IngestWindow",
    },
    ...locationStates,
    IngestWindow: lambdaTask(
      t.ingestFunctionArn,
      [RETRY_LAMBDA_SERVICE, RETRY_TRANSIENT],
      "RateLimited",
      "IngestFailed",
    ),
    RateLimited: {
      Type: "Choice",
      // Ingest returns resumeAt instead of failing when an hourly or daily limit is reached.
      Choices: [{ Variable: "$.resumeAt", IsPresent: true, Next: "WaitForRateLimit" }],
      Default: "TransformWindow",
    },
    WaitForRateLimit: { Type: "Wait", TimestampPath: "$.resumeAt", Next: "IngestWindow" },
    TransformWindow: {
      ...lambdaTask(t.transformFunctionArn, [RETRY_LAMBDA_SERVICE, RETRY_TRANSIENT], "", "TransformFailed"),
      Parameters: {
        FunctionName: t.transformFunctionArn,
        Payload: { "from.$": "$.from", "to.$": "$.to", "keys.$": "$.keys" },
      },
      // The child's output is all the Map keeps of it: a few fields, whatever the window's size.
      ResultSelector: { "from.$": "$.Payload.date", "files.$": "States.ArrayLength($.Payload.files)" },
      // With a load to follow, the window's from and to stay in the state for it.
      ...(load ? { ResultPath: "$.transformed", Next: "LoadWindow" } : { Next: undefined, End: true }),
      OutputPath: "$",
    },
    ...loadStates,
    IngestFailed: {
      Type: "Pass",
      Parameters: {
        step: "IngestWindow",
        input: { "from.$": "$.from", "to.$": "$.to" },
        keys: [],
        "failure.$": "$.failure",
      },
      Next: "AlertWindowFailure",
    },
    TransformFailed: {
      Type: "Pass",
      Parameters: {
        step: "TransformWindow",
        input: { "from.$": "$.from", "to.$": "$.to" },
        "keys.$": "$.keys",
        "failure.$": "$.failure",
      },
      Next: "AlertWindowFailure",
    },
    ...failureStates(t, { alert: "AlertWindowFailure", deadLetter: "DeadLetterWindow", fail: "WindowFailed" }),
  };
  const definition = {
    Comment: `Backfill of ${t.stack}: plan the windows of a range of past dates, then fetch and write each, pacing itself by Open-Meteo's limits.`,
    QueryLanguage: "JSONPath",
    StartAt: "PlanBackfill",
    States: {
      PlanBackfill: lambdaTask(t.planFunctionArn, [RETRY_LAMBDA_SERVICE], "EachWindow", "PlanFailed"),
      EachWindow: {
        Type: "Map",
        ItemsPath: "$.windows",
        MaxConcurrency: t.maxConcurrency,
        // A failed window stops the run (it alerted and dead-lettered itself): nothing is skipped silently.
        ToleratedFailurePercentage: 0,
        ToleratedFailureCount: 0,
        Label: WINDOW_MAP_LABEL,
        ItemProcessor: {
          ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "STANDARD" },
          StartAt: "HasNotBefore",
          States: windowStates,
        },
        ResultPath: null,
        Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "BackfillFailed" }],
        Next: "BackfillDone",
      },
      BackfillDone: {
        Type: "Pass",
        Parameters: {
          "from.$": "$.from",
          "to.$": "$.to",
          "windows.$": "States.ArrayLength($.windows)",
          "skippedWindows.$": "$.skippedWindows",
        },
        End: true,
      },
      PlanFailed: {
        Type: "Pass",
        Parameters: { step: "PlanBackfill", "input.$": "$$.Execution.Input", keys: [], "failure.$": "$.failure" },
        Next: "AlertPlanFailure",
      },
      ...failureStates(t, { alert: "AlertPlanFailure", deadLetter: "DeadLetterPlanInput", fail: "PlanFailedEnd" }),
      BackfillFailed: {
        Type: "Fail",
        Error: "BackfillFailed",
        Cause:
          "A window failed after its retries; see the alert. Redrive this execution to re-run only the failed windows, or run the backfill again (complete windows are skipped).",
      },
    },
  };
  return JSON.parse(JSON.stringify(definition)) as Record<string, unknown>;
}
