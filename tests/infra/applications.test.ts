/**
 * The applications drop zone as the program declares it, under Pulumi mocks (prod's stack
 * file): the bucket and its EventBridge notifications, the rule and its target, the permission
 * that lets EventBridge invoke the processor, the retries and the dead-letter queue, the
 * notice topic, the submitter role's exact policy and the processor's exact IAM.
 */
import { expect } from "chai";
import { INCOMING_PREFIX, REGISTRY_KEY } from "../../pipeline/applications";
import { PROCESSOR_RETRY_ATTEMPTS } from "../../pipeline/infra/applications";
import { MOCK_ACCOUNT, MOCK_REGION, mockPhysicalName, type PlannedResource } from "../../pipeline/local/plan";
import { find, ofType, planOf } from "../support/plans";

const PREFIX = "weather-pipeline-prod";
const T = {
  bucket: "aws:s3/bucket:Bucket",
  versioning: "aws:s3/bucketVersioning:BucketVersioning",
  notification: "aws:s3/bucketNotification:BucketNotification",
  rule: "aws:cloudwatch/eventRule:EventRule",
  target: "aws:cloudwatch/eventTarget:EventTarget",
  permission: "aws:lambda/permission:Permission",
  invokeConfig: "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
  fn: "aws:lambda/function:Function",
  role: "aws:iam/role:Role",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  attachment: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
  queue: "aws:sqs/queue:Queue",
  queuePolicy: "aws:sqs/queuePolicy:QueuePolicy",
  topic: "aws:sns/topic:Topic",
  topicPolicy: "aws:sns/topicPolicy:TopicPolicy",
} as const;

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Principal?: unknown;
  Condition?: unknown;
}
const statementsOf = (policy: unknown) => (JSON.parse(policy as string) as { Statement: Statement[] }).Statement;

describe("the applications drop zone under Pulumi mocks (prod)", function () {
  this.timeout(180_000);
  let plan: PlannedResource[];
  const bucket = mockPhysicalName(`${PREFIX}-applications`);
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const functionName = `${PREFIX}-intake`;
  const functionArn = `arn:aws:lambda:${MOCK_REGION}:${MOCK_ACCOUNT}:function:${functionName}`;
  const ruleArn = `arn:aws:events:${MOCK_REGION}:${MOCK_ACCOUNT}:rule/${mockPhysicalName(`${PREFIX}-incoming`)}`;
  const queueArn = `arn:aws:sqs:${MOCK_REGION}:${MOCK_ACCOUNT}:${mockPhysicalName(`${PREFIX}-intake-dlq`)}`;
  const topicArn = `arn:aws:sns:${MOCK_REGION}:${MOCK_ACCOUNT}:${mockPhysicalName(`${PREFIX}-notices`)}`;
  const keyArn = `arn:aws:kms:${MOCK_REGION}:${MOCK_ACCOUNT}:key/${mockPhysicalName(`${PREFIX}-alerts-key`)}`;

  before(async () => {
    plan = await planOf("prod");
  });

  it("keeps applications in a versioned bucket of their own that sends its events to EventBridge", () => {
    expect(find(plan, T.bucket, `${PREFIX}-applications`).protect).to.equal(true);
    expect(
      find(plan, T.versioning, `${PREFIX}-applications-versioning`).inputs["versioningConfiguration"],
    ).to.deep.equal({
      status: "Enabled",
    });
    expect(find(plan, T.notification, `${PREFIX}-intake-events`).inputs).to.deep.include({
      bucket: `${PREFIX}-applications-id`,
      eventbridge: true,
    });
    // One notification resource per bucket replaces the bucket's whole configuration: only this one.
    expect(ofType(plan, T.notification)).to.have.length(1);
  });

  it("matches exactly the objects created under applications/incoming/ of that bucket", () => {
    const rule = find(plan, T.rule, `${PREFIX}-incoming`).inputs;
    expect(JSON.parse(rule["eventPattern"] as string)).to.deep.equal({
      source: ["aws.s3"],
      "detail-type": ["Object Created"],
      detail: { bucket: { name: [bucket] }, object: { key: [{ prefix: INCOMING_PREFIX }] } },
    });
    expect(rule["state"] ?? "ENABLED").to.equal("ENABLED");
  });

  it("targets the processor, retries delivery for a day, and dead-letters what it could not deliver", () => {
    const target = find(plan, T.target, `${PREFIX}-intake-target`).inputs;
    expect(target).to.deep.include({
      rule: mockPhysicalName(`${PREFIX}-incoming`),
      arn: functionArn,
      retryPolicy: { maximumRetryAttempts: 185, maximumEventAgeInSeconds: 86400 },
      deadLetterConfig: { arn: queueArn },
    });
  });

  it("lets EventBridge invoke the processor, from this rule only", () => {
    const permissions = ofType(plan, T.permission);
    expect(permissions).to.have.length(1);
    expect(permissions[0]!.inputs).to.deep.include({
      action: "lambda:InvokeFunction",
      function: functionName,
      principal: "events.amazonaws.com",
      sourceArn: ruleArn,
    });
  });

  it("retries a failed processing twice, then keeps the event in the dead-letter queue, which the rule may also send to", () => {
    const config = find(plan, T.invokeConfig, `${PREFIX}-intake-retries`).inputs;
    expect(config).to.deep.include({
      functionName,
      maximumRetryAttempts: PROCESSOR_RETRY_ATTEMPTS,
      destinationConfig: { onFailure: { destination: queueArn } },
    });
    const queue = find(plan, T.queue, `${PREFIX}-intake-dlq`).inputs;
    expect(queue).to.deep.include({ sqsManagedSseEnabled: true, messageRetentionSeconds: 14 * 24 * 3600 });
    const statements = statementsOf(find(plan, T.queuePolicy, `${PREFIX}-intake-dlq-policy`).inputs["policy"]);
    expect(statements.filter((s) => s.Effect === "Allow")).to.deep.equal([
      {
        Sid: "RuleDeadLetters",
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Action: "sqs:SendMessage",
        Resource: queueArn,
        Condition: { ArnEquals: { "aws:SourceArn": ruleArn } },
      },
    ]);
    expect(statements.filter((s) => s.Effect === "Deny").map((s) => s.Condition)).to.deep.equal([
      { Bool: { "aws:SecureTransport": "false" } },
    ]);
  });

  it("gives the processor exactly what it does to the bucket, the topic and the queue", () => {
    const objects = (prefix: string) => `${bucketArn}/applications/${prefix}/*`;
    const policy = statementsOf(find(plan, T.rolePolicy, `${PREFIX}-intake-policy`).inputs["policy"]);
    const summary = Object.fromEntries(
      policy.map((s): [string, unknown] => [
        String(s.Sid),
        { Action: s.Action, Resource: s.Resource, ...(s.Condition ? { Condition: s.Condition } : {}) },
      ]),
    );
    // Keyed by Sid: two statements of one Sid would hide one, and every statement allows.
    expect(policy.map((s) => s.Effect)).to.deep.equal(policy.map(() => "Allow"));
    expect(Object.keys(summary)).to.have.length(policy.length);
    expect(summary).to.deep.equal({
      ReadAndRemoveIncoming: { Action: ["s3:GetObject", "s3:DeleteObjectVersion"], Resource: [objects("incoming")] },
      WriteAndReadDecisions: {
        Action: ["s3:GetObject", "s3:PutObject"],
        Resource: [objects("accepted"), objects("rejected"), objects("archive")],
      },
      QueueBackfills: { Action: ["s3:PutObject"], Resource: [objects("backfill-requests")] },
      UpdateRegistry: { Action: ["s3:GetObject", "s3:PutObject"], Resource: [`${bucketArn}/${REGISTRY_KEY}`] },
      ListApplications: { Action: ["s3:ListBucket"], Resource: [bucketArn] },
      PublishNotices: { Action: ["sns:Publish"], Resource: [topicArn] },
      EncryptNotices: { Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: [keyArn] },
      DeadLetterFailedEvents: { Action: ["sqs:SendMessage"], Resource: [queueArn] },
      WriteOwnLogs: {
        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: [`arn:aws:logs:${MOCK_REGION}:${MOCK_ACCOUNT}:log-group:/aws/lambda/${functionName}:log-stream:*`],
      },
    });
    const role = find(plan, T.role, `${PREFIX}-intake-role`).inputs;
    expect(statementsOf(role["assumeRolePolicy"])).to.deep.equal([
      { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
    ]);
    expect(ofType(plan, T.attachment)).to.deep.equal([]);
  });

  it("names one submitter role that may only put under applications/incoming/, assumable within the account", () => {
    const role = find(plan, T.role, `${PREFIX}-submitter`).inputs;
    expect(statementsOf(role["assumeRolePolicy"])).to.deep.equal([
      { Effect: "Allow", Principal: { AWS: `arn:aws:iam::${MOCK_ACCOUNT}:root` }, Action: "sts:AssumeRole" },
    ]);
    const policy = statementsOf(find(plan, T.rolePolicy, `${PREFIX}-submitter-policy`).inputs["policy"]);
    expect(policy).to.deep.equal([
      {
        Sid: "PutApplications",
        Effect: "Allow",
        Action: ["s3:PutObject"],
        Resource: [`${bucketArn}/${INCOMING_PREFIX}*`],
      },
    ]);
    // Nothing else in the stack grants a put into incoming/.
    const writers = ofType(plan, T.rolePolicy).filter((p) =>
      statementsOf(p.inputs["policy"]).some(
        (s) =>
          [s.Action].flat().includes("s3:PutObject") &&
          [s.Resource].flat().some((r) => r.startsWith(`${bucketArn}/${INCOMING_PREFIX}`)),
      ),
    );
    expect(writers.map((p) => p.name)).to.deep.equal([`${PREFIX}-submitter-policy`]);
  });

  it("lets every other role of the stack at most list and read the registry (plan, ingest, the backfill's planner), and only the planner read history requests", () => {
    const touching = ofType(plan, T.rolePolicy).flatMap((p) =>
      statementsOf(p.inputs["policy"])
        .filter(
          (s) =>
            [s.Action].flat().some((a) => a.startsWith("s3:") || a === "*") &&
            [s.Resource].flat().some((r) => r === "*" || r === bucketArn || r.startsWith(`${bucketArn}/`)),
        )
        .map((s) => ({
          policy: p.name,
          Sid: s.Sid,
          Effect: s.Effect,
          Action: s.Action,
          Resource: s.Resource,
          Condition: s.Condition,
        })),
    );
    const others = touching.filter(
      (s) => ![`${PREFIX}-intake-policy`, `${PREFIX}-submitter-policy`].includes(s.policy),
    );
    const registryRead = (policy: string) => [
      {
        policy,
        Sid: "ListApplicationRegistry",
        Effect: "Allow",
        Action: ["s3:ListBucket"],
        Resource: [bucketArn],
        Condition: { StringEquals: { "s3:prefix": [REGISTRY_KEY] } },
      },
      {
        policy,
        Sid: "ReadApplicationRegistry",
        Effect: "Allow",
        Action: ["s3:GetObject"],
        Resource: [`${bucketArn}/${REGISTRY_KEY}`],
        Condition: undefined,
      },
    ];
    expect(others).to.deep.equal([
      ...registryRead(`${PREFIX}-plan-policy`),
      ...registryRead(`${PREFIX}-ingest-policy`),
      {
        policy: `${PREFIX}-backfill-policy`,
        Sid: "ReadHistoryRequests",
        Effect: "Allow",
        Action: ["s3:GetObject"],
        Resource: [`${bucketArn}/applications/backfill-requests/*`],
        Condition: undefined,
      },
      ...registryRead(`${PREFIX}-backfill-policy`),
    ]);
  });

  it("encrypts the notice topic with the stack's key and refuses plain HTTP", () => {
    expect(find(plan, T.topic, `${PREFIX}-notices`).inputs["kmsMasterKeyId"]).to.equal(keyArn);
    const statements = statementsOf(find(plan, T.topicPolicy, `${PREFIX}-notices-policy`).inputs["policy"]);
    expect(statements.map((s) => [s.Effect, s.Condition])).to.deep.equal([
      ["Deny", { Bool: { "aws:SecureTransport": "false" } }],
    ]);
  });

  it("runs the processor on Node 22 with its package: csv-parse, and no HTTP or Parquet library", () => {
    const fn = find(plan, T.fn, functionName).inputs;
    expect(fn).to.deep.include({ runtime: "nodejs22.x", memorySize: 256, timeout: 120 });
    const assets = Object.keys((fn["code"] as { assets: Record<string, unknown> }).assets);
    // csv-parse as its CommonJS entry file (see ENTRY_FILES_ONLY), luxon not at all.
    expect(assets.filter((a) => a.startsWith("node_modules/")).sort()).to.deep.equal([
      "node_modules/csv-parse/LICENSE",
      "node_modules/csv-parse/dist/cjs/sync.cjs",
      "node_modules/csv-parse/package.json",
    ]);
  });
});
