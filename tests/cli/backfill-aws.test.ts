/**
 * A deployed backfill followed from a developer machine: the SDK's Step Functions client
 * against a stand-in of the service's JSON API on 127.0.0.1, the curated bucket as a folder.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { SFNClient } from "@aws-sdk/client-sfn";
import { expect } from "chai";
import type { BackfillProgress, BackfillRunPlan } from "../../pipeline/backfill";
import { runDeployedBackfill } from "../../pipeline/cli/backfill";
import { addDays } from "../../pipeline/core/dates";
import { curatedObjectKey } from "../../pipeline/core/keys";
import { DEFAULT_PIPELINE_SETTINGS } from "../../pipeline/core/settings";
import { DirectoryObjectStore } from "../../pipeline/core/storage";

const MACHINE = "arn:aws:states:eu-central-1:123456789012:stateMachine:weather-pipeline-dev-backfill";
const RANGE = { from: "2024-01-01", to: "2024-01-30" };
const PLAN: BackfillRunPlan = {
  from: RANGE.from,
  to: RANGE.to,
  windows: [
    { from: "2024-01-01", to: "2024-01-15", dates: 15, requests: 1, weight: 1.5 },
    { from: "2024-01-16", to: "2024-01-30", dates: 15, requests: 1, weight: 1.5 },
  ],
  plannedWindows: 2,
  skippedWindows: 0,
  skippedDates: 0,
  requests: 2,
  weight: 3,
  minimumWeight: 3,
  fullWeight: 3,
  days: 1,
};

/** Step Functions' JSON API, as much as the follower uses; executions advance when described. */
class FakeSfn {
  readonly calls: string[] = [];
  readonly executions = new Map<string, { input: string; status: string; describes: number }>();
  /** Runs when an execution is described the nth time: what "the backfill" does meanwhile. */
  onDescribe: (arn: string, count: number) => Promise<void> = () => Promise.resolve();
  private server: Server | undefined;
  url = "";

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (c: Buffer) => chunks.push(c));
      request.on("end", () => {
        const target = String(request.headers["x-amz-target"] ?? "").replace("AWSStepFunctions.", "");
        const input = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
        this.calls.push(target);
        void this.answer(target, input).then(([status, body]) => {
          response.writeHead(status, { "content-type": "application/x-amz-json-1.0" });
          response.end(JSON.stringify(body));
        });
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  private async answer(target: string, input: Record<string, unknown>): Promise<[number, unknown]> {
    switch (target) {
      case "ListExecutions": {
        if (input["mapRunArn"]) return [200, { executions: [] }];
        const running = [...this.executions.entries()].filter(([, e]) => e.status === "RUNNING");
        return [
          200,
          {
            executions: running.map(([arn]) => ({
              executionArn: arn,
              stateMachineArn: MACHINE,
              name: arn.split(":").at(-1),
              status: "RUNNING",
              startDate: 1.7e9,
            })),
          },
        ];
      }
      case "StartExecution": {
        const arn = `${MACHINE.replace(":stateMachine:", ":execution:")}:${String(input["name"])}`;
        this.executions.set(arn, { input: String(input["input"]), status: "RUNNING", describes: 0 });
        return [200, { executionArn: arn, startDate: 1.7e9 }];
      }
      case "DescribeExecution": {
        const arn = String(input["executionArn"]);
        const execution = this.executions.get(arn);
        if (!execution) return [400, { __type: "ExecutionDoesNotExist", message: arn }];
        execution.describes++;
        await this.onDescribe(arn, execution.describes);
        return [
          200,
          {
            executionArn: arn,
            stateMachineArn: MACHINE,
            status: execution.status,
            input: execution.input,
            startDate: 1.7e9,
          },
        ];
      }
      case "GetExecutionHistory":
        return [
          200,
          {
            events: [
              { id: 1, type: "ExecutionStarted", timestamp: 1.7e9 },
              {
                id: 5,
                type: "TaskSucceeded",
                timestamp: 1.7e9,
                taskSucceededEventDetails: {
                  resourceType: "lambda",
                  resource: "invoke",
                  output: JSON.stringify({ StatusCode: 200, Payload: PLAN }),
                },
              },
            ],
          },
        ];
      case "ListMapRuns":
        return [200, { mapRuns: [] }];
      default:
        return [400, { __type: "UnknownOperationException", message: target }];
    }
  }
}

describe("a deployed backfill, followed from a developer machine", function () {
  this.timeout(60_000);
  let sfn: FakeSfn;
  let directory: string;
  let curatedStore: DirectoryObjectStore;
  const snapshots: BackfillProgress[] = [];
  const lines: string[] = [];
  const view = { update: (p: BackfillProgress) => snapshots.push(p), stop: () => undefined };

  beforeEach(async () => {
    sfn = new FakeSfn();
    await sfn.start();
    directory = await mkdtemp(path.join(tmpdir(), "backfill-aws-"));
    curatedStore = new DirectoryObjectStore(directory);
    snapshots.length = 0;
    lines.length = 0;
  });
  afterEach(async () => {
    await sfn.stop();
    await rm(directory, { recursive: true, force: true });
  });

  const client = () =>
    new SFNClient({
      region: "eu-central-1",
      endpoint: sfn.url,
      credentials: { accessKeyId: "a", secretAccessKey: "b" },
    });

  /** Writes the curated files of `count` dates from the range's start, as the windows would. */
  async function complete(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const date = addDays(RANGE.from, i);
      for (const dataset of ["weather_hourly", "weather_daily"] as const) {
        await curatedStore.putObject(curatedObjectKey(dataset, date), "PAR1", {
          contentType: "application/octet-stream",
        });
      }
    }
  }

  const follow = (interrupted?: Promise<void>) =>
    runDeployedBackfill({
      ...RANGE,
      spread: true,
      stack: "dev",
      settings: DEFAULT_PIPELINE_SETTINGS,
      print: (line) => lines.push(line),
      progress: view,
      pollMs: 5,
      sfn: client(),
      curatedStore,
      outputs: { backfillStateMachineArn: MACHINE, curatedBucketName: "unused" },
      interrupted,
    });

  it("starts one execution with the range, follows it to the end and shows dates, requests and quota", async () => {
    sfn.onDescribe = async (arn, count) => {
      if (count === 2) await complete(15);
      if (count === 3) {
        await complete(30);
        sfn.executions.get(arn)!.status = "SUCCEEDED";
      }
    };
    const status = await follow();
    expect(status).to.equal("SUCCEEDED");
    expect(sfn.calls.filter((c) => c === "StartExecution")).to.have.length(1);
    const [execution] = [...sfn.executions.values()];
    expect(JSON.parse(execution!.input)).to.deep.equal({ ...RANGE, spread: true });
    expect(snapshots.map((p) => [p.done, p.windowsDone, p.requests, p.weight])).to.deep.equal([
      [0, 0, 0, 0],
      [15, 1, 1, 1.5],
      [30, 2, 2, 3],
    ]);
    expect(snapshots.at(-1)).to.include({ dates: 30, failed: 0, waiting: 0, requestsTotal: 2, weightTotal: 3 });
    expect(lines.at(-1)).to.equal("Backfill 2024-01-01 to 2024-01-30: complete.");
  });

  it("attaches to the execution already running for the range instead of starting another", async () => {
    const arn = `${MACHINE.replace(":stateMachine:", ":execution:")}:by-hand`;
    sfn.executions.set(arn, { input: JSON.stringify(RANGE), status: "RUNNING", describes: 0 });
    sfn.onDescribe = async (a, count) => {
      if (count >= 3) {
        await complete(30);
        sfn.executions.get(a)!.status = "SUCCEEDED";
      }
    };
    expect(await follow()).to.equal("SUCCEEDED");
    expect(sfn.calls).to.not.include("StartExecution");
    expect(lines[0]).to.equal(`Attached to the backfill already running for 2024-01-01 to 2024-01-30: ${arn}`);
  });

  it("stops following on Ctrl-C and leaves the backfill running, saying how to follow or stop it", async () => {
    let interrupt: () => void = () => undefined;
    const interrupted = new Promise<void>((resolve) => (interrupt = resolve));
    sfn.onDescribe = (_arn, count) => {
      if (count === 2) interrupt();
      return Promise.resolve();
    };
    expect(await follow(interrupted)).to.equal("RUNNING");
    const [execution] = [...sfn.executions.values()];
    expect(execution!.status).to.equal("RUNNING");
    expect(sfn.calls).to.not.include("StopExecution");
    expect(lines.at(-1)).to.match(
      /^Stopped following; the backfill goes on in AWS \(arn:aws:states:.*\)\. Run the same command to follow it again, or stop it with: aws stepfunctions stop-execution --execution-arn /,
    );
  });
});
