import { expect } from "chai";
import { METRICS_NAMESPACE, STACK_DIMENSION, formatMetricLine } from "../../pipeline/core/metrics";

const AT = new Date("2025-07-20T06:01:02.345Z");

describe("CloudWatch Embedded Metric Format lines", () => {
  it("writes one JSON line with the namespace, the Stack dimension and each metric's unit", () => {
    const line = formatMetricLine({
      stack: "weather-pipeline-dev",
      timestamp: AT,
      metrics: [
        { name: "A", unit: "Count", value: 2 },
        { name: "B", unit: "Bytes", value: 1024 },
      ],
      properties: { date: "2025-07-19" },
    });
    expect(line).to.not.include("\n");
    expect(JSON.parse(line)).to.deep.equal({
      _aws: {
        Timestamp: AT.getTime(),
        CloudWatchMetrics: [
          {
            Namespace: "WeatherPipeline",
            Dimensions: [["Stack"]],
            Metrics: [
              { Name: "A", Unit: "Count" },
              { Name: "B", Unit: "Bytes" },
            ],
          },
        ],
      },
      Stack: "weather-pipeline-dev",
      A: 2,
      B: 1024,
      date: "2025-07-19",
    });
    expect(METRICS_NAMESPACE).to.equal("WeatherPipeline");
    expect(STACK_DIMENSION).to.equal("Stack");
  });

  it("refuses what CloudWatch would drop silently: no stack, a non-finite value, a name used twice", () => {
    const base = { stack: "s", timestamp: AT, metrics: [{ name: "A", unit: "Count" as const, value: 1 }] };
    expect(() => formatMetricLine({ ...base, stack: " " })).to.throw(/stack name is " "; it must be 1 to 1024/);
    expect(() => formatMetricLine({ ...base, metrics: [{ name: "A", unit: "Count", value: NaN }] })).to.throw(
      "metric A is NaN; it must be a finite number",
    );
    expect(() => formatMetricLine({ ...base, properties: { A: "x" } })).to.throw(/"A" is used twice/);
    expect(() => formatMetricLine({ ...base, properties: { Stack: "x" } })).to.throw(/"Stack" is used twice/);
    expect(() => formatMetricLine({ ...base, metrics: [] })).to.throw(/holds 0 metrics/);
    expect(() => formatMetricLine({ ...base, timestamp: new Date(NaN) })).to.throw(/invalid Date/);
  });

  it("adds further dimensions after Stack, each a root member, and refuses an empty one", () => {
    const line = formatMetricLine({
      stack: "s",
      timestamp: AT,
      dimensions: { Kind: "hourly" },
      metrics: [{ name: "OpenMeteoRateLimited", unit: "Count", value: 1 }],
    });
    const parsed = JSON.parse(line) as { _aws: { CloudWatchMetrics: { Dimensions: string[][] }[] }; Kind: string };
    expect(parsed._aws.CloudWatchMetrics[0]?.Dimensions).to.deep.equal([["Stack", "Kind"]]);
    expect(parsed.Kind).to.equal("hourly");
    const base = { stack: "s", timestamp: AT, metrics: [{ name: "A", unit: "Count" as const, value: 1 }] };
    expect(() => formatMetricLine({ ...base, dimensions: { Kind: "" } })).to.throw(/dimension Kind is ""/);
    expect(() => formatMetricLine({ ...base, dimensions: { A: "x" } })).to.throw(/"A" is used twice/);
  });
});
