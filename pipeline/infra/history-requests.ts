/**
 * What starts an accepted location's history on AWS (README "Applications"): the intake writes
 * `applications/backfill-requests/<location id>.json` once; S3 sends its "Object Created" event
 * to EventBridge, and a rule starts the backfill state machine with `{"request": "<that key>"}`,
 * through a role that may start that state machine and nothing else. Events EventBridge could
 * not deliver go to a dead-letter queue of their own.
 *
 * A queue of its own rather than the intake's: the intake queue's messages are redriven to the
 * intake Lambda (README), which would take a request's event for an application file; and an
 * SQS queue has one policy, which the drop zone writes before this rule exists.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { BACKFILL_REQUESTS_PREFIX } from "../applications";
import { MAX_RETENTION_SECONDS } from "./alerting";
import { ruleDeadLetterPolicy } from "./applications";
import { physicalName } from "./names";
import { createServiceRole } from "./service-role";

/** The input transformer's one variable: where the event names the request object. */
export const REQUEST_KEY_PATH = "$.detail.object.key";

/**
 * The backfill's input: `{"request": "<key>"}`. EventBridge puts the key in verbatim, without
 * escaping; a request key is `applications/backfill-requests/loc-<16 hex>.json`, nothing to escape.
 */
export const REQUEST_INPUT_TEMPLATE = '{"request": "<key>"}';

/** EventBridge retries a delivery this often (with back-off) within the event's age, then dead-letters it. */
export const HISTORY_DELIVERY_RETRIES = 185;
/** How long EventBridge keeps trying to start the backfill for one event: a day, as the intake's rule does. */
export const HISTORY_DELIVERY_MAX_AGE_SECONDS = 24 * 3600;

/** What the rule connects. */
export interface HistoryRequestsArgs {
  /** The applications bucket, whose events S3 already sends to EventBridge (Applications' notification). */
  readonly bucketName: pulumi.Input<string>;
  /** The backfill state machine the rule starts. */
  readonly stateMachineArn: pulumi.Input<string>;
  readonly accountId: pulumi.Input<string>;
  /** Create the rule after this: the bucket's EventBridge notification. */
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** The rule, its target, the role it starts the backfill with, and the dead-letter queue. */
export class HistoryRequests extends pulumi.ComponentResource {
  public readonly rule: aws.cloudwatch.EventRule;
  public readonly target: aws.cloudwatch.EventTarget;
  public readonly role: aws.iam.Role;
  public readonly deadLetters: aws.sqs.Queue;

  /** `name` is the pipeline's (`<project>-<stack>`); resources are `<name>-history…`. */
  constructor(name: string, args: HistoryRequestsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("weather-pipeline:history:HistoryRequests", `${name}-history`, {}, opts);
    const parent = { parent: this };

    // "history", not "backfill-requests": with Pulumi's suffix the names fit EventBridge's and
    // IAM's 64 characters unchanged for every stack name that deploys today.
    this.rule = new aws.cloudwatch.EventRule(
      physicalName("eventbridge-rule", `${name}-history`, { autoNamed: true }),
      {
        description: `Backfill requests created under ${BACKFILL_REQUESTS_PREFIX} of the applications bucket, to the backfill state machine`,
        eventPattern: pulumi.jsonStringify({
          source: ["aws.s3"],
          "detail-type": ["Object Created"],
          detail: { bucket: { name: [args.bucketName] }, object: { key: [{ prefix: BACKFILL_REQUESTS_PREFIX }] } },
        }),
      },
      { parent: this, ...(args.dependsOn ? { dependsOn: args.dependsOn } : {}) },
    );

    this.deadLetters = new aws.sqs.Queue(
      physicalName("sqs-queue", `${name}-history-dlq`, { autoNamed: true }),
      { sqsManagedSseEnabled: true, messageRetentionSeconds: MAX_RETENTION_SECONDS },
      parent,
    );
    const queuePolicy = new aws.sqs.QueuePolicy(
      `${name}-history-dlq-policy`,
      {
        queueUrl: this.deadLetters.url,
        policy: ruleDeadLetterPolicy(this.deadLetters.arn, this.rule.arn),
      },
      parent,
    );

    const ruleArn = this.rule.arn;
    const starter = createServiceRole(
      `${name}-history`,
      // Assumed by EventBridge for this rule of this account only (confused deputy).
      {
        service: "events.amazonaws.com",
        condition: pulumi.output({ accountId: args.accountId, ruleArn }).apply(({ accountId, ruleArn: arn }) => ({
          ArnEquals: { "aws:SourceArn": arn },
          StringEquals: { "aws:SourceAccount": accountId },
        })),
      },
      [
        {
          Sid: "StartBackfill",
          Effect: "Allow",
          Action: ["states:StartExecution"],
          Resource: [args.stateMachineArn],
        },
      ],
      parent,
    );
    this.role = starter.role;

    this.target = new aws.cloudwatch.EventTarget(
      `${name}-history-target`,
      {
        rule: this.rule.name,
        arn: args.stateMachineArn,
        roleArn: starter.role.arn,
        inputTransformer: { inputPaths: { key: REQUEST_KEY_PATH }, inputTemplate: REQUEST_INPUT_TEMPLATE },
        retryPolicy: {
          maximumRetryAttempts: HISTORY_DELIVERY_RETRIES,
          maximumEventAgeInSeconds: HISTORY_DELIVERY_MAX_AGE_SECONDS,
        },
        deadLetterConfig: { arn: this.deadLetters.arn },
      },
      // The role's permission and the queue's policy first: a delivery before them would fail.
      { parent: this, dependsOn: [starter.policy, queuePolicy] },
    );

    this.registerOutputs({ ruleArn: this.rule.arn, deadLetterQueueUrl: this.deadLetters.url });
  }
}
