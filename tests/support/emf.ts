/**
 * Reads CloudWatch Embedded Metric Format lines back as CloudWatch Logs would, checking the
 * rules of the specification (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
 * CloudWatch_Embedded_Metric_Format_Specification.html) so a line CloudWatch would drop fails
 * the test instead of passing it. Written apart from pipeline/core/metrics.ts on purpose: it
 * checks the formatter, so it must not share its code.
 */

/** One data point CloudWatch would extract. */
export interface EmfDatapoint {
  readonly namespace: string;
  readonly name: string;
  readonly unit: string | undefined;
  readonly value: number;
  /** The dimension set this point was published under, name to value, in the directive's order. */
  readonly dimensions: Readonly<Record<string, string>>;
}

const UNITS = new Set([
  "Seconds",
  "Microseconds",
  "Milliseconds",
  "Bytes",
  "Kilobytes",
  "Megabytes",
  "Gigabytes",
  "Terabytes",
  "Bits",
  "Kilobits",
  "Megabits",
  "Gigabits",
  "Terabits",
  "Percent",
  "Count",
  "Bytes/Second",
  "Kilobytes/Second",
  "Megabytes/Second",
  "Gigabytes/Second",
  "Terabytes/Second",
  "Bits/Second",
  "Kilobits/Second",
  "Megabits/Second",
  "Gigabits/Second",
  "Terabits/Second",
  "Count/Second",
  "None",
]);

function fail(line: string, why: string): never {
  throw new Error(`not a valid EMF line (${why}): ${line.slice(0, 300)}`);
}

/** Whether a log line is meant as EMF: a JSON object with an `_aws` member. */
export function looksLikeEmf(line: string): boolean {
  const text = line.trim();
  if (!text.startsWith("{")) return false;
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed !== null && typeof parsed === "object" && "_aws" in parsed;
  } catch {
    return false;
  }
}

/** Parses one EMF line into the data points it publishes; throws naming the broken rule. */
export function parseEmfLine(line: string): EmfDatapoint[] {
  let root: Record<string, unknown>;
  try {
    root = JSON.parse(line) as Record<string, unknown>;
  } catch {
    fail(line, "not JSON");
  }
  if (root === null || typeof root !== "object" || Array.isArray(root)) fail(line, "not a JSON object");
  const aws = root["_aws"] as Record<string, unknown> | undefined;
  if (aws === undefined || typeof aws !== "object") fail(line, "no _aws object");
  if (typeof aws["Timestamp"] !== "number" || !Number.isInteger(aws["Timestamp"])) {
    fail(line, "_aws.Timestamp must be epoch milliseconds");
  }
  const directives = aws["CloudWatchMetrics"];
  if (!Array.isArray(directives) || directives.length === 0)
    fail(line, "_aws.CloudWatchMetrics must be a non-empty array");
  const points: EmfDatapoint[] = [];
  for (const directive of directives as Record<string, unknown>[]) {
    const namespace = directive["Namespace"];
    if (typeof namespace !== "string" || namespace === "" || namespace.length > 1024) fail(line, "bad Namespace");
    const sets = directive["Dimensions"];
    if (!Array.isArray(sets)) fail(line, "Dimensions must be an array of dimension sets");
    const metrics = directive["Metrics"];
    if (!Array.isArray(metrics) || metrics.length === 0 || metrics.length > 100) {
      fail(line, "Metrics must hold 1 to 100 definitions");
    }
    for (const set of sets as unknown[]) {
      if (!Array.isArray(set) || set.length > 30 || !set.every((d) => typeof d === "string")) {
        fail(line, "a dimension set must be up to 30 names");
      }
      for (const name of set) {
        const value = root[name];
        if (typeof value !== "string" || value === "" || value.length > 1024) {
          fail(line, `dimension ${name} must be a string member of 1 to 1024 characters`);
        }
      }
    }
    for (const metric of metrics as Record<string, unknown>[]) {
      const name = metric["Name"];
      if (typeof name !== "string" || name === "" || name.length > 1024) fail(line, "bad metric Name");
      const unit = metric["Unit"];
      if (unit !== undefined && (typeof unit !== "string" || !UNITS.has(unit)))
        fail(line, `bad Unit ${JSON.stringify(unit)}`);
      const raw = root[name];
      const values = Array.isArray(raw) ? raw : [raw];
      if (
        values.length === 0 ||
        values.length > 100 ||
        !values.every((v) => typeof v === "number" && Number.isFinite(v))
      ) {
        fail(line, `metric ${name} must be a finite number (or up to 100 of them)`);
      }
      for (const set of sets as string[][]) {
        const dimensions: Record<string, string> = {};
        for (const dimension of set) dimensions[dimension] = root[dimension] as string;
        for (const value of values as number[]) {
          points.push({ namespace, name, unit: unit, value, dimensions });
        }
      }
    }
  }
  return points;
}

/** Every data point of the EMF lines in some log text (other lines are ignored). */
export function emfDatapointsOf(logs: string | readonly string[]): EmfDatapoint[] {
  const lines = typeof logs === "string" ? logs.split("\n") : logs.flatMap((l) => l.split("\n"));
  return lines.filter(looksLikeEmf).flatMap((line) => parseEmfLine(line.trim()));
}

/** The sum of one metric's values over the points matching `dimensions` exactly. */
export function sumOf(points: readonly EmfDatapoint[], name: string, dimensions?: Record<string, string>): number {
  return points
    .filter((p) => p.name === name)
    .filter((p) => dimensions === undefined || JSON.stringify(p.dimensions) === JSON.stringify(dimensions))
    .reduce((sum, p) => sum + p.value, 0);
}
