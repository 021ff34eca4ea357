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

/** HTTP requests ingest sent to Open-Meteo: every attempt, retries included. */
export const OPEN_METEO_REQUESTS = "OpenMeteoRequests";

/** Attempts after the first of a request (the retry policy tried again). */
export const OPEN_METEO_RETRIES = "OpenMeteoRetries";

/** 429 answers of Open-Meteo, with the Kind dimension (see RATE_LIMIT_KINDS). */
export const OPEN_METEO_RATE_LIMITED = "OpenMeteoRateLimited";

/** Body bytes of Open-Meteo's successful answers, as stored in the raw bucket. */
export const OPEN_METEO_BYTES = "OpenMeteoBytes";

/**
 * API weight of the requests sent (Open-Meteo's unit for its limits), every attempt counted:
 * summed per minute, hour and day it is what the free limits are measured in.
 */
export const OPEN_METEO_WEIGHT = "OpenMeteoWeight";

/** The second dimension of OPEN_METEO_RATE_LIMITED: which limit the 429 named. */
export const KIND_DIMENSION = "Kind";

/** The kinds of 429 Open-Meteo answers, by the limit its reason names ("unnamed": a 429 naming none). */
export const RATE_LIMIT_KINDS = ["minutely", "hourly", "daily", "concurrency", "unnamed"] as const;

/** One of RATE_LIMIT_KINDS. */
export type RateLimitKind = (typeof RATE_LIMIT_KINDS)[number];

/** One metric of the catalogue: what the dashboard may show and the code must emit. */
export interface MetricDefinition {
  readonly name: string;
  readonly unit: MetricUnit;
  /** Dimension names beyond Stack, in order. */
  readonly dimensions: readonly string[];
  /** The Lambda whose EMF line carries it. */
  readonly emittedBy: "ingest" | "transform";
  /** One line for a person: what a data point counts. */
  readonly description: string;
}

/** Every metric the pipeline emits in METRICS_NAMESPACE, each with the Stack dimension. */
export const PIPELINE_METRICS: readonly MetricDefinition[] = [
  {
    name: CURATED_PARTITIONS_WRITTEN,
    unit: "Count",
    dimensions: [],
    emittedBy: "transform",
    description: "curated Parquet files written (the freshness alarm watches it)",
  },
  {
    name: CURATED_ROWS_WRITTEN,
    unit: "Count",
    dimensions: [],
    emittedBy: "transform",
    description: "rows in the curated files written",
  },
  {
    name: CURATED_BYTES_WRITTEN,
    unit: "Bytes",
    dimensions: [],
    emittedBy: "transform",
    description: "bytes of the curated files written",
  },
  {
    name: OPEN_METEO_REQUESTS,
    unit: "Count",
    dimensions: [],
    emittedBy: "ingest",
    description: "HTTP requests sent to Open-Meteo, retries included",
  },
  {
    name: OPEN_METEO_RETRIES,
    unit: "Count",
    dimensions: [],
    emittedBy: "ingest",
    description: "attempts after the first of a request",
  },
  {
    name: OPEN_METEO_RATE_LIMITED,
    unit: "Count",
    dimensions: [KIND_DIMENSION],
    emittedBy: "ingest",
    description: "429 answers, by the limit named (minutely, hourly, daily, concurrency, unnamed)",
  },
  {
    name: OPEN_METEO_BYTES,
    unit: "Bytes",
    dimensions: [],
    emittedBy: "ingest",
    description: "body bytes of successful answers",
  },
  {
    name: OPEN_METEO_WEIGHT,
    unit: "Count",
    dimensions: [],
    emittedBy: "ingest",
    description: "API weight of the requests sent, every attempt counted",
  },
];

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
  /** Dimensions after Stack, name to value (e.g. {Kind: "minutely"}); default none. */
  readonly dimensions?: Readonly<Record<string, string>>;
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
  const extra = Object.entries(line.dimensions ?? {});
  for (const [name, value] of extra) {
    if (value.trim() === "" || value.length > MAX_DIMENSION_VALUE_LENGTH) {
      throw new RangeError(
        `dimension ${name} is ${JSON.stringify(value.slice(0, 50))}; it must be 1 to ${MAX_DIMENSION_VALUE_LENGTH} characters`,
      );
    }
    claim(name, value, "the dimension");
  }
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
        Dimensions: [[STACK_DIMENSION, ...extra.map(([name]) => name)]],
        Metrics: metrics.map((m) => ({ Name: m.name, Unit: m.unit })),
      },
    ],
  };
  return JSON.stringify({ _aws: directive, ...root });
}
