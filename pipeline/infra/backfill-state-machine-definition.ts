/**
 * The Amazon States Language definition of a backfill. Pure data, so tests validate it with
 * asl-validator, read it exactly, and run it locally (pipeline/local/run-state-machine.ts).
 *
 *   PlanBackfill          the windows still to do ({from, to} in; complete windows skipped)
 *   EachWindow (Distributed Map over $.windows, MaxConcurrency from config, no failure tolerated)
 *     HasNotBefore -> WaitForBudget      a window of a later day's budget waits for 00:00 UTC
 *     IngestWindow                       fetch the window (stored bodies are not fetched again)
 *     RateLimited? -> WaitForRateLimit   an hourly or daily 429: wait for the reset, then go on
 *     TransformWindow                    one Parquet file per dataset per date
 *     <Step>Failed -> AlertWindowFailure (SNS) -> DeadLetterWindow (SQS) -> WindowFailed
 *   a failed window fails the Map Run and the execution; redriving the execution re-runs only
 *   the windows that did not succeed, and running the backfill again skips complete windows.
 *
 * Distributed, not inline: each window is a child execution with its own history, so a backfill
 * of decades (thousands of windows, each waiting for rate limits several times) never meets the
 * 25,000-event limit of one execution's history, and a redrive re-runs only the failed children.
 * The items come from the state (the planner's output), not an S3 ItemReader, so the definition
 * runs as it is on aws-local-stepfunctions, which has no ItemReader (an inline Map there).
 */
import { failureStates, lambdaTask, RETRY_LAMBDA_SERVICE, RETRY_TRANSIENT } from "./state-machine-definition";

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
}

/** The Map Run label: child executions are named `<state machine>/Window:<id>`. */
export const WINDOW_MAP_LABEL = "Window";

/** Builds the backfill definition; the input is `{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD", "spread"?: true}`. */
export function buildBackfillDefinition(t: BackfillStateMachineTargets): Record<string, unknown> {
  if (!Number.isInteger(t.maxConcurrency) || t.maxConcurrency < 1) {
    throw new RangeError(`backfillMaxConcurrency is ${t.maxConcurrency}; it must be a whole number, 1 or more`);
  }
  const windowStates = {
    HasNotBefore: {
      Type: "Choice",
      Choices: [{ Variable: "$.notBefore", IsPresent: true, Next: "WaitForBudget" }],
      Default: "IngestWindow",
    },
    // The day's budget is used up: wait for the day this window was planned on.
    WaitForBudget: { Type: "Wait", TimestampPath: "$.notBefore", Next: "IngestWindow" },
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
      OutputPath: "$",
      Next: undefined,
      End: true,
    },
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
