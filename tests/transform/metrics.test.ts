import { expect } from "chai";
import { CURATED_BYTES_WRITTEN, CURATED_PARTITIONS_WRITTEN, CURATED_ROWS_WRITTEN } from "../../pipeline/core/metrics";
import { formatTransformMetricLine } from "../../pipeline/transform/metrics";
import type { TransformResult } from "../../pipeline/transform/transform";

const AT = new Date("2025-07-20T06:01:02.345Z");

describe("the transform's metric line", () => {
  it("sums a transform's files into one line per run", () => {
    const result: TransformResult = {
      date: "2025-07-19",
      rawObjects: 3,
      files: [
        { dataset: "weather_hourly", key: "weather_hourly/date=2025-07-19/x.parquet", rows: 48, bytes: 5000 },
        { dataset: "weather_daily", key: "weather_daily/date=2025-07-19/y.parquet", rows: 2, bytes: 900 },
      ],
    };
    const parsed = JSON.parse(formatTransformMetricLine(result, "s", AT)) as Record<string, unknown>;
    expect(parsed[CURATED_PARTITIONS_WRITTEN]).to.equal(2);
    expect(parsed[CURATED_ROWS_WRITTEN]).to.equal(50);
    expect(parsed[CURATED_BYTES_WRITTEN]).to.equal(5900);
    expect(parsed["date"]).to.equal("2025-07-19");
    expect(parsed["datasets"]).to.equal("weather_hourly,weather_daily");
    expect((parsed["_aws"] as { CloudWatchMetrics: { Metrics: unknown[] }[] }).CloudWatchMetrics[0]?.Metrics).to.eql([
      { Name: "CuratedPartitionsWritten", Unit: "Count" },
      { Name: "CuratedRowsWritten", Unit: "Count" },
      { Name: "CuratedBytesWritten", Unit: "Bytes" },
    ]);
  });
});
