/**
 * The Amazon States Language definition of a daily run: Ingest, then Transform, each with
 * Retry policies. Pure data, so tests can validate it with asl-validator and read it exactly.
 */
import { TRANSIENT_ERROR_NAME } from "../errors";

/** The ARNs the definition invokes. */
export interface StateMachineTargets {
  readonly ingestFunctionArn: string;
  readonly transformFunctionArn: string;
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
 * Errors our code throws for conditions that can clear up by themselves (the API overloaded or
 * rate-limited per minute, a timeout, a network error); their `name` becomes the Step Functions
 * error name. A 400 or a malformed body is not among them: retrying cannot fix it.
 */
export const TRANSIENT_ERRORS = [TRANSIENT_ERROR_NAME, "States.Timeout"] as const;

function lambdaTask(functionArn: string, next: string | undefined): Record<string, unknown> {
  return {
    Type: "Task",
    Resource: "arn:aws:states:::lambda:invoke",
    // The whole state is the payload: `$.date` would be a runtime error when a scheduled run has none.
    Parameters: { FunctionName: functionArn, "Payload.$": "$" },
    // The function's return value, without the invoke envelope.
    OutputPath: "$.Payload",
    Retry: [
      {
        ErrorEquals: [...LAMBDA_SERVICE_ERRORS],
        IntervalSeconds: 2,
        MaxAttempts: 6,
        BackoffRate: 2,
        JitterStrategy: "FULL",
      },
      {
        ErrorEquals: [...TRANSIENT_ERRORS],
        IntervalSeconds: 60,
        MaxAttempts: 3,
        BackoffRate: 2,
        MaxDelaySeconds: 600,
        JitterStrategy: "FULL",
      },
    ],
    ...(next ? { Next: next } : { End: true }),
  };
}

/** Builds the definition; the input may carry `{"date": "YYYY-MM-DD"}`, else ingest takes yesterday. */
export function buildStateMachineDefinition(targets: StateMachineTargets): Record<string, unknown> {
  return {
    Comment: "Daily weather run: fetch Open-Meteo into the raw bucket, then write Parquet to the curated bucket.",
    QueryLanguage: "JSONPath",
    StartAt: "Ingest",
    States: {
      // Ingest returns {date, keys, ...}: exactly the input Transform takes.
      Ingest: lambdaTask(targets.ingestFunctionArn, "Transform"),
      Transform: lambdaTask(targets.transformFunctionArn, undefined),
    },
  };
}
