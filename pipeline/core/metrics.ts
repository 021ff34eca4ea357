/**
 * Metrics as CloudWatch Embedded Metric Format (EMF): one JSON log line that CloudWatch Logs
 * turns into metrics, with no PutMetricData call, no extra permission and no SDK. Pure: the
 * handlers decide where the line goes (stdout in the Lambda).
 */

/** The CloudWatch namespace of every pipeline metric. */
export const METRICS_NAMESPACE = "WeatherPipeline";

/** The one dimension: the Pulumi stack, so stacks sharing an account keep separate metrics. */
export const STACK_DIMENSION = "Stack";

/** Curated Parquet files (one per dataset and date) a transform wrote; the freshness alarm watches it. */
export const CURATED_PARTITIONS_WRITTEN = "CuratedPartitionsWritten";

/** Rows in the curated files a transform wrote. */
export const CURATED_ROWS_WRITTEN = "CuratedRowsWritten";

/** Bytes of the curated files a transform wrote. */
export const CURATED_BYTES_WRITTEN = "CuratedBytesWritten";

/** The units CloudWatch accepts that the pipeline uses. */
export type MetricUnit = "Count" | "Bytes" | "Milliseconds";

/** One metric value of a line. */
export interface MetricValue {
  readonly name: string;
  readonly unit: MetricUnit;
  readonly value: number;
}

/** What one EMF line holds. */
export interface MetricLine {
  /** The stack name, the value of the Stack dimension. */
  readonly stack: string;
  /** When the values were measured. */
  readonly timestamp: Date;
  readonly metrics: readonly MetricValue[];
  /** Extra fields for CloudWatch Logs Insights (e.g. the date); not metrics, not dimensions. */
  readonly properties?: Readonly<Record<string, string | number>>;
}

/** CloudWatch's limit of metrics in one EMF directive. */
const MAX_METRICS_PER_LINE = 100;

/** CloudWatch's limit on a dimension value's length. */
const MAX_DIMENSION_VALUE_LENGTH = 1024;

/** Formats one EMF JSON line (no newline) with the Stack dimension. */
export function formatMetricLine(line: MetricLine): string {
  const { stack, timestamp, metrics } = line;
  if (stack.trim() === "" || stack.length > MAX_DIMENSION_VALUE_LENGTH) {
    throw new RangeError(
      `the metric stack name is ${JSON.stringify(stack.slice(0, 50))}; it must be 1 to ${MAX_DIMENSION_VALUE_LENGTH} characters`,
    );
  }
  if (Number.isNaN(timestamp.getTime())) throw new RangeError("the metric timestamp is an invalid Date");
  if (metrics.length === 0 || metrics.length > MAX_METRICS_PER_LINE) {
    throw new RangeError(`a metric line holds ${metrics.length} metrics; it must hold 1 to ${MAX_METRICS_PER_LINE}`);
  }
  const root: Record<string, unknown> = {};
  const claim = (name: string, value: unknown, what: string): void => {
    if (name === "_aws" || Object.hasOwn(root, name)) {
      throw new RangeError(`${what} ${JSON.stringify(name)} is used twice in one metric line; names must be unique`);
    }
    root[name] = value;
  };
  claim(STACK_DIMENSION, stack, "the dimension");
  for (const metric of metrics) {
    if (!Number.isFinite(metric.value)) {
      throw new RangeError(`metric ${metric.name} is ${metric.value}; it must be a finite number`);
    }
    claim(metric.name, metric.value, "the metric");
  }
  for (const [name, value] of Object.entries(line.properties ?? {})) claim(name, value, "the property");
  const directive = {
    Timestamp: timestamp.getTime(),
    CloudWatchMetrics: [
      {
        Namespace: METRICS_NAMESPACE,
        Dimensions: [[STACK_DIMENSION]],
        Metrics: metrics.map((m) => ({ Name: m.name, Unit: m.unit })),
      },
    ],
  };
  return JSON.stringify({ _aws: directive, ...root });
}
