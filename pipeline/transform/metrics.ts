/**
 * The metric line a successful transform prints (CloudWatch EMF), from core/metrics' catalogue.
 */
import {
  CURATED_BYTES_WRITTEN,
  CURATED_PARTITIONS_WRITTEN,
  CURATED_ROWS_WRITTEN,
  formatMetricLine,
} from "../core/metrics";
import type { TransformResult } from "./transform";

/**
 * The line a successful transform emits: one per run, summed over its datasets. A transform
 * writes every dataset of its date or fails, so one line per run loses nothing, and the
 * freshness alarm needs a single metric per stack (no Dataset dimension to match).
 */
export function formatTransformMetricLine(result: TransformResult, stack: string, timestamp: Date): string {
  return formatMetricLine({
    stack,
    timestamp,
    metrics: [
      { name: CURATED_PARTITIONS_WRITTEN, unit: "Count", value: result.files.length },
      { name: CURATED_ROWS_WRITTEN, unit: "Count", value: result.files.reduce((sum, f) => sum + f.rows, 0) },
      { name: CURATED_BYTES_WRITTEN, unit: "Bytes", value: result.files.reduce((sum, f) => sum + f.bytes, 0) },
    ],
    properties: {
      date: result.date,
      datasets: result.files.map((f) => f.dataset).join(","),
      rawObjects: result.rawObjects,
    },
  });
}
