/**
 * The dashboard as the plan declares it, per stack file: valid dashboard JSON within
 * CloudWatch's limits; every metric on it is one AWS publishes for a resource the stack
 * declares, or one the pipeline's own code prints (the EMF lines of the real handlers, parsed
 * back); every alarm is on it, and every alarm's metric is graphed.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import {
  KIND_DIMENSION,
  METRICS_NAMESPACE,
  PIPELINE_METRICS,
  RATE_LIMIT_KINDS,
  STACK_DIMENSION,
} from "../../pipeline/core/metrics";
import { DEFAULT_PIPELINE_SETTINGS, type PipelineSettings } from "../../pipeline/core/settings";
import { DirectoryObjectStore } from "../../pipeline/core/storage";
import { createIngestHandler } from "../../pipeline/ingest/handler";
import { OPEN_METEO_FREE_LIMITS } from "../../pipeline/ingest/metrics";
import {
  errorAnswer,
  rateLimitAnswer,
  startFakeOpenMeteo,
  type FakeAnswer,
} from "../../pipeline/local/fake-open-meteo";
import { MOCK_ACCOUNT, MOCK_REGION, mockPhysicalName, type PlannedResource } from "../../pipeline/local/plan";
import { createTransformHandler } from "../../pipeline/transform/handler";
import { emfDatapointsOf, type EmfDatapoint } from "../support/emf";
import { ofType, planOf } from "../support/plans";

const STACKS = ["dev", "staging", "prod"] as const;
const DASHBOARD = "aws:cloudwatch/dashboard:Dashboard";

/** Metrics AWS publishes, per namespace: the dimension that names the resource, and the metric names. */
const AWS_PUBLISHED: Readonly<Record<string, { dimension: string; type: string; metrics: readonly string[] }>> = {
  // docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
  "AWS/Lambda": {
    dimension: "FunctionName",
    type: "aws:lambda/function:Function",
    metrics: ["Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions"],
  },
  // docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
  "AWS/SQS": {
    dimension: "QueueName",
    type: "aws:sqs/queue:Queue",
    metrics: ["ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"],
  },
  // docs.aws.amazon.com/step-functions/latest/dg/procedure-cw-metrics.html
  "AWS/States": {
    dimension: "StateMachineArn",
    type: "aws:sfn/stateMachine:StateMachine",
    metrics: ["ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut", "ExecutionTime"],
  },
};

interface Widget {
  type: string;
  x: number;
  y: number;
  width: number;
  height: number;
  properties: Record<string, unknown>;
}

/** One metric of a widget's `metrics` array: [namespace, name, dim, value, ..., {rendering}]. */
interface GraphedMetric {
  readonly widget: string;
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Record<string, string>;
  readonly stat: string | undefined;
  readonly period: number | undefined;
}

function metricsOf(widget: Widget): GraphedMetric[] {
  const title = String(widget.properties["title"]);
  return ((widget.properties["metrics"] ?? []) as unknown[][]).map((entry) => {
    const rendering =
      typeof entry[entry.length - 1] === "object" ? (entry[entry.length - 1] as Record<string, unknown>) : {};
    const parts = typeof entry[entry.length - 1] === "object" ? entry.slice(0, -1) : entry;
    expect(
      parts.every((p) => typeof p === "string" && p !== ""),
      `${title}: ${JSON.stringify(entry)}`,
    ).to.equal(true);
    expect(parts.length % 2, `${title}: a metric is namespace, name, then name/value pairs`).to.equal(0);
    const [namespace, name, ...pairs] = parts as string[];
    const dimensions: Record<string, string> = {};
    for (let i = 0; i < pairs.length; i += 2) dimensions[pairs[i] as string] = pairs[i + 1] as string;
    expect(Object.keys(dimensions).length, `${title}: at most 30 dimensions`).to.be.at.most(30);
    return {
      widget: title,
      namespace: namespace as string,
      name: name as string,
      dimensions,
      stat: (rendering["stat"] as string | undefined) ?? (widget.properties["stat"] as string | undefined),
      period: (rendering["period"] as number | undefined) ?? (widget.properties["period"] as number | undefined),
    };
  });
}

/** The physical name (or ARN) the mocks give a declared resource, as AWS would name it in metrics. */
function identityOf(resource: PlannedResource, dimension: string): string {
  const physical = mockPhysicalName(resource.name, resource.inputs);
  return dimension === "StateMachineArn"
    ? `arn:aws:states:${MOCK_REGION}:${MOCK_ACCOUNT}:stateMachine:${physical}`
    : physical;
}

/** What the real handlers print in EMF: an ingest that met each kind of 429, one that got through, a transform. */
async function emittedDatapoints(stack: string): Promise<EmfDatapoint[]> {
  const now = new Date("2025-07-20T06:00:00Z");
  const date = "2025-07-19";
  const directory = await mkdtemp(path.join(tmpdir(), "dashboard-emf-"));
  const lines: string[] = [];
  const answers: (FakeAnswer | undefined)[] = [
    ...RATE_LIMIT_KINDS.map((kind) => (kind === "unnamed" ? errorAnswer(429, "Slow down") : rateLimitAnswer(kind))),
  ];
  const fake = await startFakeOpenMeteo({ now: () => now, respond: ({ index }) => answers[index] });
  try {
    const settings: PipelineSettings = {
      ...DEFAULT_PIPELINE_SETTINGS,
      forecastApiUrl: fake.forecastUrl,
      archiveApiUrl: fake.archiveUrl,
      http: { ...DEFAULT_PIPELINE_SETTINGS.http, retries: 0 },
    };
    const rawStore = new DirectoryObjectStore(path.join(directory, "raw"));
    const curatedStore = new DirectoryObjectStore(path.join(directory, "curated"));
    const log = (line: string) => lines.push(line);
    const ingest = createIngestHandler({ settings, rawStore, now: () => now, log, stack });
    for (let i = 0; i < answers.length; i++) await ingest({ date }).catch(() => undefined);
    const ingested = await ingest({ date });
    await createTransformHandler({ settings, rawStore, curatedStore, stack, now: () => now, log })(ingested);
  } finally {
    await fake.close();
    await rm(directory, { recursive: true, force: true });
  }
  return emfDatapointsOf(lines);
}

/** name|dimension names=values, the identity of a time series. */
const seriesKey = (namespace: string, name: string, dimensions: Record<string, string>) =>
  `${namespace}|${name}|${Object.entries(dimensions)
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join(",")}`;

for (const stack of STACKS) {
  describe(`the dashboard of ${stack}`, function () {
    this.timeout(180_000);
    const prefix = `weather-pipeline-${stack}`;
    let plan: PlannedResource[];
    let widgets: Widget[];
    let graphed: GraphedMetric[];
    let body: Record<string, unknown>;

    before(async () => {
      plan = await planOf(stack);
      const dashboards = ofType(plan, DASHBOARD);
      expect(dashboards.map((d) => d.name)).to.deep.equal([`${prefix}-dashboard`]);
      const dashboard = dashboards[0] as PlannedResource;
      expect(dashboard.inputs["dashboardName"]).to.equal(`${prefix}-dashboard`);
      body = JSON.parse(dashboard.inputs["dashboardBody"] as string) as Record<string, unknown>;
      widgets = body["widgets"] as Widget[];
      graphed = widgets.filter((w) => w.type === "metric").flatMap(metricsOf);
    });

    it("is a dashboard body CloudWatch accepts: known fields, a 24-column grid without overlaps, limits kept", () => {
      const name = `${prefix}-dashboard`;
      expect(name).to.match(/^[A-Za-z0-9_-]{1,255}$/);
      expect(Object.keys(body).filter((k) => body[k] !== undefined)).to.have.members(["widgets", "start"]);
      expect(body["start"]).to.equal("-P7D");
      expect(widgets.length).to.be.within(1, 500);
      const taken = new Set<string>();
      for (const w of widgets) {
        const title = String(w.properties["title"] ?? w.properties["markdown"]).slice(0, 60);
        expect(["metric", "text", "alarm"], title).to.include(w.type);
        expect(Number.isInteger(w.x) && w.x >= 0 && w.x <= 23, `${title}: x`).to.equal(true);
        expect(Number.isInteger(w.width) && w.width >= 1 && w.x + w.width <= 24, `${title}: width`).to.equal(true);
        expect(Number.isInteger(w.height) && w.height >= 1 && w.height <= 1000, `${title}: height`).to.equal(true);
        for (let x = w.x; x < w.x + w.width; x++) {
          for (let y = w.y; y < w.y + w.height; y++) {
            expect(taken.has(`${x},${y}`), `${title} overlaps another widget at ${x},${y}`).to.equal(false);
            taken.add(`${x},${y}`);
          }
        }
        if (w.type === "metric") {
          expect(w.properties["region"], title).to.equal(MOCK_REGION);
          expect(w.properties["title"], "every graph has a title").to.be.a("string");
          const count = (w.properties["metrics"] as unknown[]).length;
          expect(count, `${title}: metrics per widget`).to.be.within(1, 500);
          expect(["timeSeries", "singleValue"]).to.include(w.properties["view"]);
        }
        if (w.type === "text") expect(w.properties["markdown"]).to.be.a("string").and.not.equal("");
      }
      expect(graphed.length, "metrics per dashboard").to.be.within(1, 2500);
      for (const m of graphed) {
        expect(m.period, `${m.widget}: ${m.name} period`).to.be.a("number");
        expect((m.period as number) % 60, `${m.widget}: ${m.name} period is a multiple of 60`).to.equal(0);
        expect(m.stat, `${m.widget}: ${m.name} statistic`).to.match(
          /^(Sum|Average|Maximum|Minimum|SampleCount|p\d{1,2}(\.\d+)?)$/,
        );
      }
    });

    it("graphs only metrics AWS publishes for a declared resource, or that the pipeline's code emits", async () => {
      const emitted = await emittedDatapoints(prefix);
      const emittedSeries = new Set(emitted.map((p) => seriesKey(p.namespace, p.name, p.dimensions)));
      for (const m of graphed) {
        const where = `${m.widget}: ${m.namespace} ${m.name} ${JSON.stringify(m.dimensions)}`;
        if (m.namespace === METRICS_NAMESPACE) {
          expect(
            emittedSeries.has(seriesKey(m.namespace, m.name, m.dimensions)),
            `${where} is printed by no handler`,
          ).to.equal(true);
          continue;
        }
        const published = AWS_PUBLISHED[m.namespace];
        expect(published, `${where}: not a namespace of a resource the stack declares`).to.not.equal(undefined);
        expect(published!.metrics, where).to.include(m.name);
        expect(Object.keys(m.dimensions), where).to.deep.equal([published!.dimension]);
        const declared = ofType(plan, published!.type).map((r) => identityOf(r, published!.dimension));
        expect(declared, `${where}: no declared ${published!.type} has that name`).to.include(
          m.dimensions[published!.dimension],
        );
      }
      // And the other way: every series the handlers print is on the dashboard.
      const onDashboard = new Set(graphed.map((m) => seriesKey(m.namespace, m.name, m.dimensions)));
      for (const series of emittedSeries) expect(onDashboard.has(series), `${series} is not graphed`).to.equal(true);
      // The catalogue and the code agree: every catalogued metric was printed.
      const printed = new Set(emitted.map((p) => p.name));
      for (const metric of PIPELINE_METRICS) expect(printed.has(metric.name), metric.name).to.equal(true);
      expect(
        new Set(emitted.filter((p) => KIND_DIMENSION in p.dimensions).map((p) => p.dimensions[KIND_DIMENSION])),
      ).to.deep.equal(new Set(RATE_LIMIT_KINDS));
      expect(new Set(emitted.map((p) => p.dimensions[STACK_DIMENSION]))).to.deep.equal(new Set([prefix]));
    });

    it("shows each Lambda, every dead-letter queue and the state machine", () => {
      // Every function the stack declares, whatever it is for: a new one must get its row.
      const functions = ofType(plan, "aws:lambda/function:Function").map((f) => String(f.inputs["name"]));
      expect(functions).to.include.members(
        ["plan", "ingest", "transform", "intake", "backfill"].map((r) => `${prefix}-${r}`),
      );
      for (const name of functions) {
        for (const metric of ["Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions"]) {
          expect(
            graphed.some((m) => m.name === metric && m.dimensions["FunctionName"] === name),
            `${name} ${metric}`,
          ).to.equal(true);
        }
        const stats = graphed
          .filter((m) => m.name === "Duration" && m.dimensions["FunctionName"] === name)
          .map((m) => m.stat);
        expect(stats).to.have.members(["p50", "p95", "Maximum"]);
      }
      const queues = ofType(plan, "aws:sqs/queue:Queue").map((q) => mockPhysicalName(q.name, q.inputs));
      // The run's and the schedule's, the applications intake's, and the history requests'.
      expect(ofType(plan, "aws:sqs/queue:Queue").map((q) => q.name.slice(`${prefix}-`.length))).to.have.members([
        "alerts-run-dlq",
        "alerts-schedule-dlq",
        "intake-dlq",
        "history-dlq",
      ]);
      for (const queue of queues) {
        for (const metric of AWS_PUBLISHED["AWS/SQS"]!.metrics) {
          expect(
            graphed.some((m) => m.name === metric && m.dimensions["QueueName"] === queue),
            `${queue} ${metric}`,
          ).to.equal(true);
        }
      }
      for (const metric of AWS_PUBLISHED["AWS/States"]!.metrics) {
        expect(
          graphed.some((m) => m.namespace === "AWS/States" && m.name === metric),
          metric,
        ).to.equal(true);
      }
    });

    it("draws the free Open-Meteo limits against the weight used per minute, hour and day", () => {
      const quota = widgets.filter((w) => String(w.properties["title"]).startsWith("API weight per"));
      const drawn = quota.map((w) => ({
        period: w.properties["period"],
        limit: ((w.properties["annotations"] as { horizontal: { value: number }[] }).horizontal[0] as { value: number })
          .value,
        metric: metricsOf(w).map((m) => m.name),
      }));
      expect(drawn).to.deep.equal([
        { period: 60, limit: OPEN_METEO_FREE_LIMITS.perMinute, metric: ["OpenMeteoWeight"] },
        { period: 3600, limit: OPEN_METEO_FREE_LIMITS.perHour, metric: ["OpenMeteoWeight"] },
        { period: 86400, limit: OPEN_METEO_FREE_LIMITS.perDay, metric: ["OpenMeteoWeight"] },
      ]);
      expect(OPEN_METEO_FREE_LIMITS).to.deep.equal({ perMinute: 600, perHour: 5000, perDay: 10000 });
    });

    it("lists every alarm of the stack in its alarm widget, and graphs every alarm's metric", () => {
      const alarms = ofType(plan, "aws:cloudwatch/metricAlarm:MetricAlarm");
      const alarmWidgets = widgets.filter((w) => w.type === "alarm");
      if (alarms.length === 0) {
        expect(stack).to.equal("dev"); // the one stack file with alarmsEnabled: false
        expect(alarmWidgets).to.deep.equal([]);
        expect(widgets.some((w) => String(w.properties["markdown"]).includes("`alarmsEnabled` is false"))).to.equal(
          true,
        );
        return;
      }
      expect(alarmWidgets).to.have.length(1);
      const arns = (alarmWidgets[0] as Widget).properties["alarms"] as string[];
      expect(arns.length).to.be.within(1, 100);
      expect([...arns].sort()).to.deep.equal(
        alarms
          .map((a) => `arn:aws:cloudwatch:${MOCK_REGION}:${MOCK_ACCOUNT}:alarm:${mockPhysicalName(a.name, a.inputs)}`)
          .sort(),
      );
      for (const alarm of alarms) {
        const dimensions = alarm.inputs["dimensions"] as Record<string, string>;
        const series = seriesKey(alarm.inputs["namespace"] as string, alarm.inputs["metricName"] as string, dimensions);
        expect(
          graphed.some((m) => seriesKey(m.namespace, m.name, m.dimensions) === series),
          `${alarm.name} watches ${series}, which no widget graphs`,
        ).to.equal(true);
      }
    });
  });
}
