/**
 * The CloudWatch alarms of a stack, each alerting the SNS topic when it fires and when it clears.
 */
import * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";
import { CURATED_PARTITIONS_WRITTEN, METRICS_NAMESPACE, STACK_DIMENSION } from "../core/metrics";
import { physicalName } from "./names";

/** How each dead-letter queue's messages are run again: each queue goes back to its own consumer. */
const REDRIVE_HOW: Readonly<Record<string, string>> = {
  "run-dlq": "redrive them: npm run pipeline -- redrive --stack <name> (README: Redrive).",
  "schedule-dlq":
    "each is a run the schedule could not start: the next run's catch-up fetches the missed dates, or start one now with aws stepfunctions start-execution and the input {} (README: Reliability).",
  "intake-dlq":
    "each is an S3 event: redeliver it to the applications Lambda with aws lambda invoke (README: Applications).",
  "history-dlq":
    'each is an S3 event of a history request: start the backfill with {"request": <its detail.object.key>} (README: Applications).',
};

/** What the alarms watch. */
export interface AlarmTargets {
  readonly stack: string;
  readonly topicArn: pulumi.Input<string>;
  readonly stateMachineArn: pulumi.Input<string>;
  /** Lambda function names, keyed by role (ingest, transform, plan). */
  readonly functionNames: Readonly<Record<string, pulumi.Input<string>>>;
  /** Dead-letter queue names, keyed by role. */
  readonly deadLetterQueueNames: Readonly<Record<string, pulumi.Input<string>>>;
  /** Fire when no curated partition was written for this many hours. */
  readonly freshnessHours: number;
}

/** Creates the alarms: failed runs, Lambda errors and throttles, dead letters waiting, stale data. */
export function createAlarms(
  name: string,
  t: AlarmTargets,
  opts: pulumi.CustomResourceOptions,
): aws.cloudwatch.MetricAlarm[] {
  const actions = { alarmActions: [t.topicArn], okActions: [t.topicArn] };
  const alarm = (suffix: string, args: Omit<aws.cloudwatch.MetricAlarmArgs, "alarmActions" | "okActions">) =>
    new aws.cloudwatch.MetricAlarm(
      physicalName("cloudwatch-alarm", `${name}-${suffix}`, { autoNamed: true }),
      { ...args, ...actions },
      opts,
    );
  const anyInFiveMinutes = {
    comparisonOperator: "GreaterThanOrEqualToThreshold",
    threshold: 1,
    statistic: "Sum",
    period: 300,
    evaluationPeriods: 1,
    // No data means nothing happened: not an alarm.
    treatMissingData: "notBreaching",
  } as const;

  const alarms = [
    alarm("run-failed", {
      alarmDescription: `${t.stack}: a daily run failed. The alert mail has the date, step and error; the input is in the run dead-letter queue.`,
      namespace: "AWS/States",
      metricName: "ExecutionsFailed",
      dimensions: { StateMachineArn: t.stateMachineArn },
      ...anyInFiveMinutes,
    }),
  ];
  for (const [role, functionName] of Object.entries(t.functionNames)) {
    for (const metricName of ["Errors", "Throttles"]) {
      alarms.push(
        alarm(`${role}-${metricName.toLowerCase()}`, {
          alarmDescription: `${t.stack}: the ${role} Lambda reported ${metricName.toLowerCase()}.`,
          namespace: "AWS/Lambda",
          metricName,
          dimensions: { FunctionName: functionName },
          ...anyInFiveMinutes,
        }),
      );
    }
  }
  for (const [role, queueName] of Object.entries(t.deadLetterQueueNames)) {
    alarms.push(
      alarm(`${role}-waiting`, {
        alarmDescription: `${t.stack}: the ${role} dead-letter queue holds messages; ${REDRIVE_HOW[role] ?? "redrive them (README: Redrive)."}`,
        namespace: "AWS/SQS",
        metricName: "ApproximateNumberOfMessagesVisible",
        dimensions: { QueueName: queueName },
        comparisonOperator: "GreaterThanThreshold",
        threshold: 0,
        statistic: "Maximum",
        period: 300,
        evaluationPeriods: 1,
        treatMissingData: "notBreaching",
      }),
    );
  }
  alarms.push(
    alarm("data-stale", {
      alarmDescription: `${t.stack}: no curated partition was written for ${t.freshnessHours} hours.`,
      namespace: METRICS_NAMESPACE,
      metricName: CURATED_PARTITIONS_WRITTEN,
      dimensions: { [STACK_DIMENSION]: t.stack },
      comparisonOperator: "LessThanThreshold",
      threshold: 1,
      statistic: "Sum",
      period: 3600,
      evaluationPeriods: t.freshnessHours,
      datapointsToAlarm: t.freshnessHours,
      // The transform reports only when it writes: silence is exactly the staleness to catch.
      treatMissingData: "breaching",
    }),
  );
  return alarms;
}
