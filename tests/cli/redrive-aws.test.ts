import { createHash } from "node:crypto";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SQSClient } from "@aws-sdk/client-sqs";
import { expect } from "chai";
import { readStackOutputs, redriveStack, regionOfArn } from "../../pipeline/cli/redrive-aws";

const STATE_MACHINE_ARN = "arn:aws:states:eu-central-1:123456789012:stateMachine:weather-pipeline-dev-run";

/** A message in the fake queue. */
interface QueuedMessage {
  readonly id: string;
  readonly body: string;
  received: number;
  /** Received with a visibility timeout that has not ended (the fake's clock never moves). */
  hidden?: boolean;
}

/**
 * SQS and Step Functions on 127.0.0.1, speaking the AWS JSON protocol the SDK clients use: the
 * operation is in X-Amz-Target, input and output are JSON.
 */
class FakeAws {
  readonly calls: { target: string; input: Record<string, unknown> }[] = [];
  readonly queue: QueuedMessage[] = [];
  readonly executions = new Map<string, string>();
  private server: Server | undefined;
  url = "";

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const target = String(request.headers["x-amz-target"] ?? "");
        const input = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
        this.calls.push({ target, input });
        const [status, body] = this.answer(target, input);
        response.writeHead(status, { "content-type": "application/x-amz-json-1.0" });
        response.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  private answer(target: string, input: Record<string, unknown>): [number, unknown] {
    switch (target) {
      case "AmazonSQS.ReceiveMessage": {
        const max = Number(input["MaxNumberOfMessages"] ?? 1);
        const batch = this.queue.filter((m) => m.hidden !== true).slice(0, max);
        for (const m of batch) {
          m.received++;
          m.hidden = Number(input["VisibilityTimeout"] ?? 30) > 0;
        }
        return [
          200,
          {
            Messages: batch.map((m) => ({
              MessageId: m.id,
              ReceiptHandle: `receipt-${m.id}`,
              MD5OfBody: createHash("md5").update(m.body).digest("hex"),
              Body: m.body,
            })),
          },
        ];
      }
      case "AmazonSQS.DeleteMessage": {
        const index = this.queue.findIndex((m) => `receipt-${m.id}` === input["ReceiptHandle"]);
        if (index === -1) return [400, { __type: "com.amazonaws.sqs#ReceiptHandleIsInvalid", message: "invalid" }];
        this.queue.splice(index, 1);
        return [200, {}];
      }
      case "AmazonSQS.ChangeMessageVisibilityBatch": {
        const entries = input["Entries"] as { Id: string; ReceiptHandle: string; VisibilityTimeout: number }[];
        const failed: unknown[] = [];
        const successful: unknown[] = [];
        for (const entry of entries) {
          const message = this.queue.find((m) => `receipt-${m.id}` === entry.ReceiptHandle);
          if (!message) {
            failed.push({ Id: entry.Id, Code: "ReceiptHandleIsInvalid", SenderFault: true });
            continue;
          }
          message.hidden = entry.VisibilityTimeout > 0;
          successful.push({ Id: entry.Id });
        }
        return [200, { Successful: successful, Failed: failed }];
      }
      case "AWSStepFunctions.StartExecution": {
        const name = String(input["name"]);
        if (this.executions.has(name)) {
          return [400, { __type: "ExecutionAlreadyExists", message: `Execution Already Exists: '${name}'` }];
        }
        this.executions.set(name, String(input["input"]));
        return [
          200,
          { executionArn: `arn:aws:states:eu-central-1:123456789012:execution:run:${name}`, startDate: 1.7e9 },
        ];
      }
      default:
        return [400, { __type: "UnknownOperationException", message: target }];
    }
  }
}

describe("redrive from a developer machine (SDK clients, Pulumi CLI)", function () {
  let aws: FakeAws;
  let bin: string;
  let argsFile: string;
  const credentials = { accessKeyId: "a", secretAccessKey: "b" };

  beforeEach(async () => {
    aws = new FakeAws();
    await aws.start();
    bin = await mkdtemp(path.join(tmpdir(), "redrive-aws-test-"));
    argsFile = path.join(bin, "args.txt");
  });

  afterEach(async () => {
    await aws.stop();
    await rm(bin, { recursive: true, force: true });
  });

  /** A `pulumi` on PATH that records its arguments and prints `stdout` (or fails). */
  async function fakePulumi(stdout: string, exitCode = 0, stderr = ""): Promise<NodeJS.ProcessEnv> {
    const script = [
      "#!/bin/sh",
      `echo "$@" > '${argsFile}'`,
      `cat <<'EOF'\n${stdout}\nEOF`,
      stderr ? `echo '${stderr}' >&2` : "",
      `exit ${exitCode}`,
    ].join("\n");
    await writeFile(path.join(bin, "pulumi"), `${script}\n`);
    await chmod(path.join(bin, "pulumi"), 0o755);
    return { ...process.env, PATH: `${bin}${path.delimiter}${process.env["PATH"] ?? ""}` };
  }

  const clients = (): { sqs: SQSClient; sfn: SFNClient } => ({
    sqs: new SQSClient({ region: "eu-central-1", endpoint: aws.url, credentials }),
    sfn: new SFNClient({ region: "eu-central-1", endpoint: aws.url, credentials }),
  });

  it("reads the stack's outputs, starts one run per date with input {date} and deletes the messages", async () => {
    const queueUrl = `${aws.url}/123456789012/weather-pipeline-dev-run-dlq`;
    const env = await fakePulumi(
      JSON.stringify({ runDeadLetterQueueUrl: queueUrl, stateMachineArn: STATE_MACHINE_ARN }),
    );
    aws.queue.push(
      { id: "m1", body: JSON.stringify({ date: "2025-07-18", keys: ["k"] }), received: 0 },
      { id: "m2", body: JSON.stringify({ date: "2025-07-18" }), received: 0 },
      { id: "m3", body: JSON.stringify({ date: "2025-07-16" }), received: 0 },
    );
    const lines: string[] = [];
    const result = await redriveStack("dev", { env, ...clients(), log: (l) => lines.push(l) });

    expect((await readFile(argsFile, "utf8")).trim()).to.equal("stack output --json --stack dev");
    expect([...aws.executions.values()]).to.eql([
      JSON.stringify({ date: "2025-07-16" }),
      JSON.stringify({ date: "2025-07-18" }),
    ]);
    const starts = aws.calls.filter((c) => c.target === "AWSStepFunctions.StartExecution");
    expect(starts.map((c) => c.input["stateMachineArn"])).to.eql([STATE_MACHINE_ARN, STATE_MACHINE_ARN]);
    const receive = aws.calls.find((c) => c.target === "AmazonSQS.ReceiveMessage");
    expect(receive?.input).to.include({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 300 });
    // Every delete comes after the start of its date.
    const order = aws.calls.map((c) => c.target.split(".")[1]);
    expect(order.indexOf("DeleteMessage")).to.be.above(order.indexOf("StartExecution"));
    expect(aws.queue).to.eql([]);
    expect(result.deleted).to.equal(3);
    expect(lines.at(-1)).to.equal(
      "redrive dev: 3 message(s), 2 run(s) started, 0 failed to start, 3 deleted, 0 unreadable",
    );
  });

  it("treats an execution name that already exists as the run an earlier redrive started", async () => {
    const queueUrl = `${aws.url}/123456789012/q`;
    const env = await fakePulumi(
      JSON.stringify({ runDeadLetterQueueUrl: queueUrl, stateMachineArn: STATE_MACHINE_ARN }),
    );
    aws.queue.push({ id: "m1", body: JSON.stringify({ date: "2025-07-18" }), received: 0 });
    const first = await redriveStack("dev", { env, ...clients(), dryRun: true, log: () => undefined });
    expect(first.runs).to.deep.equal([{ date: "2025-07-18", messages: 1 }]);
    expect(aws.queue[0]!.hidden).to.equal(false);
    // What an earlier redrive of this message started, before its delete failed.
    aws.executions.set(`redrive-2025-07-18-${createHash("sha256").update("m1").digest("hex").slice(0, 16)}`, "{}");
    const result = await redriveStack("dev", { env, ...clients(), log: () => undefined });
    expect(result.runs[0]).to.include({ alreadyStarted: true });
    expect(result.runs[0]?.executionArn).to.match(/:execution:weather-pipeline-dev-run:redrive-2025-07-18-/);
    expect(aws.executions.size).to.equal(1);
    expect(aws.queue).to.eql([]);
  });

  it("changes nothing on a dry run, says so, and leaves every message visible at once", async () => {
    const queueUrl = `${aws.url}/123456789012/weather-pipeline-dev-run-dlq`;
    const env = await fakePulumi(
      JSON.stringify({ runDeadLetterQueueUrl: queueUrl, stateMachineArn: STATE_MACHINE_ARN }),
    );
    for (let i = 1; i <= 12; i++) {
      aws.queue.push({
        id: `m${i}`,
        body: JSON.stringify({ date: `2025-07-${String(i).padStart(2, "0")}` }),
        received: 0,
      });
    }
    const lines: string[] = [];
    const result = await redriveStack("dev", { env, ...clients(), dryRun: true, log: (l) => lines.push(l) });

    expect(result).to.deep.include({ received: 12, deleted: 0, released: 12, dryRun: true });
    const targets = aws.calls.map((c) => c.target);
    expect(targets.filter((t) => t.endsWith("StartExecution") || t.endsWith("DeleteMessage"))).to.eql([]);
    // Read while hidden briefly (so each receive brings new messages), then all handed back at once.
    const receives = aws.calls.filter((c) => c.target === "AmazonSQS.ReceiveMessage");
    expect(receives.map((c) => c.input["VisibilityTimeout"])).to.satisfy((v: unknown[]) => v.every((t) => t === 30));
    const released = aws.calls
      .filter((c) => c.target === "AmazonSQS.ChangeMessageVisibilityBatch")
      .flatMap((c) => c.input["Entries"] as { ReceiptHandle: string; VisibilityTimeout: number }[]);
    expect(released.map((e) => [e.ReceiptHandle, e.VisibilityTimeout]).sort()).to.eql(
      aws.queue.map((m) => [`receipt-${m.id}`, 0]).sort(),
    );
    expect(aws.queue.every((m) => m.hidden === false)).to.equal(true);
    expect(lines.at(-1)).to.equal(
      "redrive dev: dry run: nothing started, nothing deleted; 12 message(s) would start 12 run(s), 0 unreadable; 12 message(s) visible in the queue again",
    );

    // A real redrive right after finds every message.
    const real = await redriveStack("dev", { env, ...clients(), log: () => undefined });
    expect(real).to.deep.include({ received: 12, deleted: 12 });
    expect(aws.queue).to.eql([]);
  });

  it("says what to do when the stack lacks the outputs", async () => {
    const env = await fakePulumi(JSON.stringify({ stateMachineArn: STATE_MACHINE_ARN }));
    let error: unknown;
    await redriveStack("dev", { env, ...clients() }).catch((e: unknown) => (error = e));
    expect(String(error)).to.equal(
      "Error: stack dev has no output runDeadLetterQueueUrl (its outputs: stateMachineArn); run `pulumi up --stack dev` with this version of the program first",
    );
    expect(aws.calls).to.eql([]);
  });

  it("passes on the CLI's own words when it fails, and says how to get it when it is missing", async () => {
    const env = await fakePulumi("", 255, "error: no stack named nope found");
    let failed: unknown;
    await readStackOutputs("nope", { env }).catch((e: unknown) => (failed = e));
    expect(String(failed)).to.equal(
      "Error: `pulumi stack output --json --stack nope` failed: error: no stack named nope found",
    );

    let missing: unknown;
    await readStackOutputs("dev", { env: { ...process.env, PATH: path.join(bin, "empty") } }).catch(
      (e: unknown) => (missing = e),
    );
    expect(String(missing)).to.include("the Pulumi CLI (`pulumi`) is not on PATH; install it");
  });

  it("reads the stack's region from the state machine ARN", () => {
    expect(regionOfArn(STATE_MACHINE_ARN)).to.equal("eu-central-1");
    expect(() => regionOfArn("arn:aws:sqs:eu-central-1:123456789012:q")).to.throw(
      /not a Step Functions state machine ARN/,
    );
  });
});
