/**
 * What starts an accepted location's history on AWS, as the program declares it under Pulumi
 * mocks (prod's stack file): the rule on backfill requests created in the applications bucket,
 * its target (the backfill state machine, with `{"request": key}` as input), the role EventBridge
 * starts it with, and the dead-letter queue for events it could not deliver.
 */
import { expect } from "chai";
import {
  BACKFILL_REQUESTS_PREFIX,
  INCOMING_PREFIX,
  backfillRequestKey,
  locationIdOf,
  objectCreatedEvent,
} from "../../pipeline/applications";
import { REQUEST_INPUT_TEMPLATE, REQUEST_KEY_PATH } from "../../pipeline/infra/history-requests";
import { MOCK_ACCOUNT, MOCK_REGION, mockPhysicalName, type PlannedResource } from "../../pipeline/local/plan";
import { find, ofType, planOf } from "../support/plans";

const PREFIX = "weather-pipeline-prod";
const T = {
  rule: "aws:cloudwatch/eventRule:EventRule",
  target: "aws:cloudwatch/eventTarget:EventTarget",
  role: "aws:iam/role:Role",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  attachment: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
  queue: "aws:sqs/queue:Queue",
  queuePolicy: "aws:sqs/queuePolicy:QueuePolicy",
  alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
  stateMachine: "aws:sfn/stateMachine:StateMachine",
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

interface InputTransformer {
  inputPaths: Record<string, string>;
  inputTemplate: string;
}

/**
 * What EventBridge hands the target: each variable's JSON path (dot notation, the only syntax
 * used here) read from the event, put into the template verbatim, without escaping (AWS:
 * "EventBridge doesn't escape values extracted by Input Path").
 */
function transformedInput(transformer: InputTransformer, event: unknown): string {
  let text = transformer.inputTemplate;
  for (const [variable, path] of Object.entries(transformer.inputPaths)) {
    expect(path, `${variable}'s path`).to.match(/^\$(\.[A-Za-z0-9_-]+)+$/);
    const value = path
      .split(".")
      .slice(1)
      .reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], event);
    expect(value, `${path} of the event`).to.be.a("string");
    text = text.split(`<${variable}>`).join(value as string);
  }
  return text;
}

/** The key prefix an S3 "Object Created" rule of the applications bucket matches. */
function keyPrefixOf(rule: PlannedResource): string {
  const pattern = JSON.parse(rule.inputs["eventPattern"] as string) as {
    detail: { object: { key: [{ prefix: string }] } };
  };
  return pattern.detail.object.key[0].prefix;
}

describe("what starts an accepted location's history, under Pulumi mocks (prod)", function () {
  this.timeout(180_000);
  let plan: PlannedResource[];
  const bucket = mockPhysicalName(`${PREFIX}-applications`);
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const ruleName = mockPhysicalName(`${PREFIX}-history`);
  const ruleArn = `arn:aws:events:${MOCK_REGION}:${MOCK_ACCOUNT}:rule/${ruleName}`;
  const queueName = mockPhysicalName(`${PREFIX}-history-dlq`);
  const queueArn = `arn:aws:sqs:${MOCK_REGION}:${MOCK_ACCOUNT}:${queueName}`;
  const roleArn = `arn:aws:iam::${MOCK_ACCOUNT}:role/${mockPhysicalName(`${PREFIX}-history-role`)}`;
  // The backfill's state machine is named (not auto-named): `<project>-<stack>-backfill`.
  const backfillArn = `arn:aws:states:${MOCK_REGION}:${MOCK_ACCOUNT}:stateMachine:${PREFIX}-backfill`;
  const requestKey = backfillRequestKey(locationIdOf("leipzig", 51.34, 12.37));

  before(async () => {
    plan = await planOf("prod");
  });

  it("matches exactly the objects created under applications/backfill-requests/ of the applications bucket", () => {
    const rule = find(plan, T.rule, `${PREFIX}-history`).inputs;
    expect(JSON.parse(rule["eventPattern"] as string)).to.deep.equal({
      source: ["aws.s3"],
      "detail-type": ["Object Created"],
      detail: { bucket: { name: [bucket] }, object: { key: [{ prefix: BACKFILL_REQUESTS_PREFIX }] } },
    });
    expect(BACKFILL_REQUESTS_PREFIX).to.equal("applications/backfill-requests/");
    expect(rule["state"] ?? "ENABLED").to.equal("ENABLED");
  });

  it("leaves application files to the intake rule and requests to this one: the prefixes do not overlap", () => {
    const history = keyPrefixOf(find(plan, T.rule, `${PREFIX}-history`));
    const intake = keyPrefixOf(find(plan, T.rule, `${PREFIX}-incoming`));
    expect(intake).to.equal(INCOMING_PREFIX);
    expect(history.startsWith(intake) || intake.startsWith(history)).to.equal(false);
    expect(requestKey.startsWith(history) && !requestKey.startsWith(intake)).to.equal(true);
    // Only these two rules watch the bucket.
    const onBucket = ofType(plan, T.rule).filter((r) => String(r.inputs["eventPattern"]).includes(bucket));
    expect(onBucket.map((r) => r.name).sort()).to.deep.equal([`${PREFIX}-history`, `${PREFIX}-incoming`]);
  });

  it("starts the backfill state machine with exactly {request: <the created key>}", () => {
    const target = find(plan, T.target, `${PREFIX}-history-target`).inputs;
    expect(find(plan, T.stateMachine, `${PREFIX}-backfill`).inputs["name"]).to.equal(`${PREFIX}-backfill`);
    expect(target).to.deep.include({ rule: ruleName, arn: backfillArn, roleArn });
    const transformer = target["inputTransformer"] as InputTransformer;
    expect(transformer).to.deep.equal({
      inputPaths: { key: "$.detail.object.key" },
      inputTemplate: '{"request": "<key>"}',
    });
    expect(transformer).to.deep.equal({ inputPaths: { key: REQUEST_KEY_PATH }, inputTemplate: REQUEST_INPUT_TEMPLATE });
    // The template is JSON itself, and stays JSON with a key put in.
    expect(JSON.parse(transformer.inputTemplate)).to.deep.equal({ request: "<key>" });
    const event = objectCreatedEvent({ bucket, key: requestKey, etag: "3c5b5df7c262f6457b678daa47f66514", size: 412 });
    expect(JSON.parse(transformedInput(transformer, event))).to.deep.equal({ request: requestKey });
    expect(requestKey).to.match(/^applications\/backfill-requests\/loc-[0-9a-f]{16}\.json$/);
  });

  it("only ever puts keys that need no escaping into the template", () => {
    // EventBridge inserts the key verbatim: a quote or backslash would break the JSON. Every
    // request key is the prefix, loc- and 16 hex, whatever the name the submitter wrote.
    for (const [name, latitude, longitude] of [
      ["São Paulo", -23.55, -46.63],
      ['a "quoted" \\ name', 0, 0],
      ["x".repeat(64), 90, -180],
    ] as const) {
      const key = backfillRequestKey(locationIdOf(name, latitude, longitude));
      expect(key, name).to.match(/^applications\/backfill-requests\/loc-[0-9a-f]{16}\.json$/);
    }
  });

  it("retries delivery for a day, then dead-letters the event in a queue of its own", () => {
    const target = find(plan, T.target, `${PREFIX}-history-target`).inputs;
    expect(target).to.deep.include({
      retryPolicy: { maximumRetryAttempts: 185, maximumEventAgeInSeconds: 86400 },
      deadLetterConfig: { arn: queueArn },
    });
    const queue = find(plan, T.queue, `${PREFIX}-history-dlq`).inputs;
    expect(queue).to.deep.include({ sqsManagedSseEnabled: true, messageRetentionSeconds: 14 * 24 * 3600 });
  });

  it("lets only this rule send to its dead-letter queue, and only over TLS", () => {
    const policy = find(plan, T.queuePolicy, `${PREFIX}-history-dlq-policy`).inputs;
    expect(policy["queueUrl"]).to.equal(`https://sqs.${MOCK_REGION}.amazonaws.com/${MOCK_ACCOUNT}/${queueName}`);
    expect(statementsOf(policy["policy"])).to.deep.equal([
      {
        Sid: "RuleDeadLetters",
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Action: "sqs:SendMessage",
        Resource: queueArn,
        Condition: { ArnEquals: { "aws:SourceArn": ruleArn } },
      },
      {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "sqs:*",
        Resource: queueArn,
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
    ]);
    // One policy per queue (SQS keeps one): the intake's queue keeps its own, for its own rule.
    const policies = ofType(plan, T.queuePolicy).filter((p) => String(p.inputs["policy"]).includes(queueArn));
    expect(policies.map((p) => p.name)).to.deep.equal([`${PREFIX}-history-dlq-policy`]);
  });

  it("starts the backfill through a role EventBridge assumes for this rule of this account only", () => {
    const role = find(plan, T.role, `${PREFIX}-history-role`).inputs;
    expect(statementsOf(role["assumeRolePolicy"])).to.deep.equal([
      {
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: {
          ArnEquals: { "aws:SourceArn": ruleArn },
          StringEquals: { "aws:SourceAccount": MOCK_ACCOUNT },
        },
      },
    ]);
  });

  it("lets that role start the backfill state machine, and nothing else", () => {
    const policies = ofType(plan, T.rolePolicy).filter((p) => p.inputs["role"] === `${PREFIX}-history-role-id`);
    expect(policies.map((p) => p.name)).to.deep.equal([`${PREFIX}-history-policy`]);
    expect(statementsOf(policies[0]!.inputs["policy"])).to.deep.equal([
      { Sid: "StartBackfill", Effect: "Allow", Action: ["states:StartExecution"], Resource: [backfillArn] },
    ]);
    expect(ofType(plan, T.attachment)).to.deep.equal([]);
    // The only role EventBridge rules assume: the intake rule invokes its Lambda by a permission.
    const assumedByEvents = ofType(plan, T.role).filter((r) =>
      statementsOf(r.inputs["assumeRolePolicy"]).some(
        (s) => (s.Principal as { Service?: string } | undefined)?.Service === "events.amazonaws.com",
      ),
    );
    expect(assumedByEvents.map((r) => r.name)).to.deep.equal([`${PREFIX}-history-role`]);
  });

  it("lets only the intake create requests: any other write there would start a backfill", () => {
    const writers = ofType(plan, T.rolePolicy).filter((p) =>
      statementsOf(p.inputs["policy"]).some(
        (s) =>
          [s.Action].flat().some((a) => a === "s3:PutObject" || a === "s3:*" || a === "*") &&
          [s.Resource]
            .flat()
            .some(
              (r) => r === "*" || r === `${bucketArn}/*` || r.startsWith(`${bucketArn}/${BACKFILL_REQUESTS_PREFIX}`),
            ),
      ),
    );
    expect(writers.map((p) => p.name)).to.deep.equal([`${PREFIX}-intake-policy`]);
  });

  it("alarms on a dead letter waiting in its queue", () => {
    const alarm = find(plan, T.alarm, `${PREFIX}-alarm-history-dlq-waiting`).inputs;
    expect(alarm).to.deep.include({
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: queueName },
      comparisonOperator: "GreaterThanThreshold",
      threshold: 0,
    });
    // Each queue's alarm says how its messages run again: these are S3 events, not run inputs.
    expect(alarm["alarmDescription"]).to.contain('start the backfill with {"request": <its detail.object.key>}');
    const intake = find(plan, T.alarm, `${PREFIX}-alarm-intake-dlq-waiting`).inputs;
    expect(intake["alarmDescription"]).to.contain("redeliver it to the applications Lambda");
    expect(find(plan, T.alarm, `${PREFIX}-alarm-run-dlq-waiting`).inputs["alarmDescription"]).to.contain(
      "npm run pipeline -- redrive --stack <name>",
    );
  });
});
