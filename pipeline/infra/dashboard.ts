/**
 * The stack's CloudWatch dashboard: daily runs, each Lambda, the dead-letter queues, curated
 * data freshness, and Open-Meteo usage against the free limits, with every alarm's state on top.
 *
 * Built with `awsx.classic.cloudwatch`: its typed widgets lay out the grid, and its ready-made
 * Lambda and SQS metrics name those namespaces and dimensions for us. Step Functions has no
 * ready-made metrics there, and its run totals need `setPeriodToTimeRange`, which awsx's typed
 * widgets cannot say; those widgets are written as plain dashboard JSON (JsonMetricWidget, an
 * awsx Widget). The pipeline's own metrics come from the catalogue in core/metrics.ts, the names
 * the Lambdas' EMF lines carry.
 */
import type * as aws from "@pulumi/aws";
import * as awsx from "@pulumi/awsx";
import type * as pulumi from "@pulumi/pulumi";
import {
  CURATED_BYTES_WRITTEN,
  CURATED_PARTITIONS_WRITTEN,
  CURATED_ROWS_WRITTEN,
  KIND_DIMENSION,
  METRICS_NAMESPACE,
  OPEN_METEO_BYTES,
  OPEN_METEO_RATE_LIMITED,
  OPEN_METEO_REQUESTS,
  OPEN_METEO_RETRIES,
  OPEN_METEO_WEIGHT,
  RATE_LIMIT_KINDS,
  STACK_DIMENSION,
} from "../core/metrics";
import { OPEN_METEO_FREE_LIMITS } from "../ingest";
import { physicalName } from "./names";

const cw = awsx.classic.cloudwatch;
type Widget = awsx.classic.cloudwatch.Widget;
type WidgetJson = awsx.classic.cloudwatch.WidgetJson;

/** One Lambda on the dashboard, with the limits its graphs are drawn against. */
export interface DashboardFunction {
  readonly function: aws.lambda.Function;
  readonly timeoutSeconds: number;
  /** Reserved concurrency, or undefined when unreserved. */
  readonly reservedConcurrency?: number;
}

/** What the dashboard shows. */
export interface DashboardTargets {
  /** The Stack dimension of the pipeline's metrics (the resource name prefix). */
  readonly stack: string;
  readonly region: pulumi.Input<string>;
  readonly stateMachineArn: pulumi.Input<string>;
  /** The Lambdas, keyed by role (plan, ingest, transform, and load with a warehouse), in display order. */
  readonly functions: Readonly<Record<string, DashboardFunction>>;
  /** The dead-letter queues, keyed by role. */
  readonly deadLetterQueues: Readonly<Record<string, aws.sqs.Queue>>;
  /** Messages in a dead-letter queue are deleted after this long. */
  readonly deadLetterRetentionSeconds: number;
  /** Every alarm of the stack; empty when alarms are off. */
  readonly alarms: readonly aws.cloudwatch.MetricAlarm[];
  readonly freshnessHours: number;
}

/**
 * A metric widget written as CloudWatch's own JSON (Dashboard Body Structure), placed by awsx's
 * grid like any of its widgets; `region` is added as awsx adds it.
 */
export class JsonMetricWidget implements Widget {
  constructor(
    private readonly size: { readonly width: number; readonly height: number },
    private readonly properties: Record<string, unknown>,
  ) {}

  width(): number {
    return this.size.width;
  }

  height(): number {
    return this.size.height;
  }

  addWidgetJson(widgetJsons: WidgetJson[], x: number, y: number, region: pulumi.Output<aws.Region>): void {
    widgetJsons.push({
      type: "metric",
      x,
      y,
      width: this.size.width,
      height: this.size.height,
      properties: { ...this.properties, region },
    });
  }
}

/** Step Functions publishes these per state machine (AWS/States, dimension StateMachineArn). */
const RUN_OUTCOMES = ["ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut"] as const;

const DAY = 86_400;
const HOUR = 3_600;

/** The widgets of the dashboard, row by row (exported for tests to read the layout). */
export function dashboardRows(t: DashboardTargets): awsx.classic.cloudwatch.RowWidget[] {
  const pipelineMetric = (name: string, change: awsx.classic.cloudwatch.MetricChange = {}) =>
    new cw.Metric({ namespace: METRICS_NAMESPACE, name, dimensions: { [STACK_DIMENSION]: t.stack } }).with(change);
  const stateMachine = (name: string): (string | pulumi.Input<string>)[] => [
    "AWS/States",
    name,
    "StateMachineArn",
    t.stateMachineArn,
  ];

  const header = new cw.TextWidget({
    width: 10,
    height: 5,
    markdown: [
      `# Weather pipeline ${t.stack}`,
      "Daily runs, the three Lambdas, the dead-letter queues, curated data freshness, and Open-Meteo usage " +
        `against the free limits (${OPEN_METEO_FREE_LIMITS.perMinute} per minute, ` +
        `${OPEN_METEO_FREE_LIMITS.perHour.toLocaleString("en-US")} per hour, ` +
        `${OPEN_METEO_FREE_LIMITS.perDay.toLocaleString("en-US")} per day, in API weight).`,
      "",
      "A failed date is in the run dead-letter queue: `npm run pipeline -- redrive --stack <name>` (README: Redrive).",
    ].join("\n"),
  });
  const alarms =
    t.alarms.length > 0
      ? new cw.AlarmWidget({
          width: 14,
          height: 5,
          title: `Alarms of ${t.stack} (${t.alarms.length})`,
          alarms: t.alarms.map((a) => a.arn),
          sortBy: "stateUpdatedTimestamp",
        })
      : new cw.TextWidget({
          width: 14,
          height: 5,
          markdown: "## Alarms\nThis stack has none: `alarmsEnabled` is false in its config.",
        });

  // Step Functions: plain JSON (see the file comment).
  const runs = [
    new JsonMetricWidget(
      { width: 6, height: 6 },
      {
        title: "Runs in the time range",
        view: "singleValue",
        setPeriodToTimeRange: true,
        stat: "Sum",
        period: DAY,
        metrics: RUN_OUTCOMES.map(stateMachine),
      },
    ),
    new JsonMetricWidget(
      { width: 9, height: 6 },
      {
        title: "Runs per day",
        view: "timeSeries",
        stat: "Sum",
        period: DAY,
        metrics: RUN_OUTCOMES.map(stateMachine),
      },
    ),
    new JsonMetricWidget(
      { width: 9, height: 6 },
      {
        title: "Run duration (ms)",
        view: "timeSeries",
        period: DAY,
        metrics: ["p50", "p95", "Maximum"].map((stat) => [...stateMachine("ExecutionTime"), { stat, label: stat }]),
      },
    ),
  ];

  const lambdaRows = Object.entries(t.functions).map(([role, f]) => {
    const change = { function: f.function };
    const m = awsx.classic.lambda.metrics;
    return new cw.RowWidget(
      new cw.LineGraphMetricWidget({
        width: 8,
        title: `${role}: invocations, errors, throttles`,
        statistic: "Sum",
        period: 300,
        metrics: [
          m.invocations({ ...change, label: "invocations" }),
          m.errors({ ...change, label: "errors" }),
          m.throttles({ ...change, label: "throttles" }),
        ],
      }),
      new cw.LineGraphMetricWidget({
        width: 8,
        title: `${role}: duration (ms), timeout ${f.timeoutSeconds} s`,
        period: 300,
        metrics: [
          m.duration({ ...change, extendedStatistic: 50, label: "p50" }),
          m.duration({ ...change, extendedStatistic: 95, label: "p95" }),
          m.duration({ ...change, statistic: "Maximum", label: "max" }),
        ],
        annotations: new cw.HorizontalAnnotation({
          aboveEdge: { value: f.timeoutSeconds * 1000, label: "timeout" },
          fill: "above",
        }),
      }),
      new cw.LineGraphMetricWidget({
        width: 8,
        title: `${role}: concurrent executions`,
        period: 60,
        metrics: [m.concurrentExecutions({ ...change, statistic: "Maximum", label: "max concurrent" })],
        ...(f.reservedConcurrency !== undefined
          ? {
              annotations: new cw.HorizontalAnnotation({
                aboveEdge: { value: f.reservedConcurrency, label: "reserved concurrency" },
              }),
            }
          : {}),
      }),
    );
  });

  const q = awsx.classic.sqs.metrics;
  const queues = Object.entries(t.deadLetterQueues);
  const deadLetters = [
    new cw.LineGraphMetricWidget({
      width: 12,
      title: "Dead letters waiting (redrive them)",
      period: 300,
      metrics: queues.map(([role, queue]) =>
        q.approximateNumberOfMessagesVisible({ queue, statistic: "Maximum", label: role }),
      ),
      annotations: new cw.HorizontalAnnotation({ aboveEdge: { value: 1, label: "alarm" }, fill: "above" }),
    }),
    new cw.LineGraphMetricWidget({
      width: 12,
      title: "Oldest dead letter (s)",
      period: 300,
      metrics: queues.map(([role, queue]) =>
        q.approximateAgeOfOldestMessage({ queue, statistic: "Maximum", label: role }),
      ),
      annotations: new cw.HorizontalAnnotation({
        aboveEdge: { value: t.deadLetterRetentionSeconds, label: "deleted (retention)" },
      }),
    }),
  ];

  const freshness = [
    new cw.LineGraphMetricWidget({
      width: 12,
      title: `Curated partitions written per hour (stale after ${t.freshnessHours} h without)`,
      statistic: "Sum",
      period: HOUR,
      metrics: [pipelineMetric(CURATED_PARTITIONS_WRITTEN, { label: "partitions" })],
    }),
    new cw.LineGraphMetricWidget({
      width: 12,
      title: "Curated rows and bytes written per day",
      statistic: "Sum",
      period: DAY,
      metrics: [
        pipelineMetric(CURATED_ROWS_WRITTEN, { label: "rows" }),
        pipelineMetric(CURATED_BYTES_WRITTEN, { label: "bytes", yAxis: "right" }),
      ],
    }),
  ];

  const usage = [
    new cw.LineGraphMetricWidget({
      width: 8,
      title: "Open-Meteo requests and retries",
      statistic: "Sum",
      period: 300,
      metrics: [
        pipelineMetric(OPEN_METEO_REQUESTS, { label: "requests" }),
        pipelineMetric(OPEN_METEO_RETRIES, { label: "retries" }),
      ],
    }),
    new cw.StackedAreaGraphMetricWidget({
      width: 8,
      title: "Open-Meteo 429 answers by limit",
      statistic: "Sum",
      period: 300,
      metrics: RATE_LIMIT_KINDS.map(
        (kind) =>
          new cw.Metric({
            namespace: METRICS_NAMESPACE,
            name: OPEN_METEO_RATE_LIMITED,
            dimensions: { [STACK_DIMENSION]: t.stack, [KIND_DIMENSION]: kind },
            label: kind,
          }),
      ),
    }),
    new cw.LineGraphMetricWidget({
      width: 8,
      title: "Open-Meteo body bytes received per day",
      statistic: "Sum",
      period: DAY,
      metrics: [pipelineMetric(OPEN_METEO_BYTES, { label: "bytes" })],
    }),
  ];

  const limits = OPEN_METEO_FREE_LIMITS;
  const quota = (
    [
      ["minute", 60, limits.perMinute],
      ["hour", HOUR, limits.perHour],
      ["day (resets 00:00 UTC)", DAY, limits.perDay],
    ] as const
  ).map(
    ([per, period, limit]) =>
      new cw.LineGraphMetricWidget({
        width: 8,
        title: `API weight per ${per}: free limit ${limit.toLocaleString("en-US")}`,
        statistic: "Sum",
        period,
        metrics: [pipelineMetric(OPEN_METEO_WEIGHT, { label: "weight used" })],
        annotations: new cw.HorizontalAnnotation({ aboveEdge: { value: limit, label: "free limit" }, fill: "above" }),
        yAxis: { left: { min: 0 } },
      }),
  );

  return [
    new cw.RowWidget(header, alarms),
    new cw.RowWidget(...runs),
    ...lambdaRows,
    new cw.RowWidget(...deadLetters),
    new cw.RowWidget(...freshness),
    new cw.RowWidget(...usage),
    new cw.RowWidget(...quota),
  ];
}

/** Creates the stack's dashboard; its `url` is a stack output. */
export function createDashboard(
  name: string,
  t: DashboardTargets,
  opts: pulumi.CustomResourceOptions,
): awsx.classic.cloudwatch.Dashboard {
  return new cw.Dashboard(
    name,
    {
      name: physicalName("cloudwatch-dashboard", name),
      region: t.region as pulumi.Input<aws.Region>,
      // The last week when the dashboard opens: seven daily runs.
      start: "-P7D",
      widgets: dashboardRows(t),
    },
    opts,
  );
}
