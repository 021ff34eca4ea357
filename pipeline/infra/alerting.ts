/**
 * Where failures go: an encrypted SNS topic for alerts (optionally mailed), a dead-letter queue
 * that keeps every failed run's input for redrive, and one for runs the schedule could not start.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { denyInsecureTransport } from "./deny-insecure-transport";
import { physicalName } from "./names";

/** Arguments of Alerting. */
export interface AlertingArgs {
  readonly accountId: pulumi.Input<string>;
  readonly region: pulumi.Input<string>;
  /** Subscribed to the topic when set (the address must confirm). Default none. */
  readonly email?: string;
}

/** SQS keeps a message at most 14 days: the longest a failed run can wait for its redrive. */
export const MAX_RETENTION_SECONDS = 14 * 24 * 3600;

/** The alert topic, its key, and the dead-letter queues of one stack. */
export class Alerting extends pulumi.ComponentResource {
  public readonly key: aws.kms.Key;
  public readonly topic: aws.sns.Topic;
  /** Failed runs' inputs, sent by the state machine; `pipeline redrive` re-runs them. */
  public readonly runDeadLetters: aws.sqs.Queue;
  /** Runs EventBridge Scheduler could not start. */
  public readonly scheduleDeadLetters: aws.sqs.Queue;

  constructor(name: string, args: AlertingArgs, opts?: pulumi.ComponentResourceOptions) {
    super("weather-pipeline:alerting:Alerting", name, {}, opts);
    const parent = { parent: this };
    const root = pulumi.interpolate`arn:aws:iam::${args.accountId}:root`;

    // A customer-managed key: CloudWatch alarms cannot publish to a topic encrypted with the
    // AWS-managed SNS key, whose policy cannot be changed to let them.
    this.key = new aws.kms.Key(
      `${name}-key`,
      {
        description: `Encrypts the alert topic of ${name}`,
        enableKeyRotation: true,
        deletionWindowInDays: 7,
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "AccountAdministersKey",
              Effect: "Allow",
              Principal: { AWS: root },
              Action: "kms:*",
              Resource: "*",
            },
            {
              Sid: "CloudWatchAlarmsPublish",
              Effect: "Allow",
              Principal: { Service: "cloudwatch.amazonaws.com" },
              Action: ["kms:Decrypt", "kms:GenerateDataKey"],
              Resource: "*",
              Condition: { StringEquals: { "aws:SourceAccount": args.accountId } },
            },
          ],
        }),
      },
      parent,
    );
    this.topic = new aws.sns.Topic(
      physicalName("sns-topic", `${name}-topic`, { autoNamed: true }),
      { kmsMasterKeyId: this.key.arn },
      parent,
    );
    new aws.sns.TopicPolicy(
      `${name}-topic-policy`,
      {
        arn: this.topic.arn,
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "AlarmsOfThisAccountPublish",
              Effect: "Allow",
              Principal: { Service: "cloudwatch.amazonaws.com" },
              Action: "sns:Publish",
              Resource: this.topic.arn,
              Condition: {
                StringEquals: { "aws:SourceAccount": args.accountId },
                ArnLike: {
                  "aws:SourceArn": pulumi.interpolate`arn:aws:cloudwatch:${args.region}:${args.accountId}:alarm:*`,
                },
              },
            },
            denyInsecureTransport("sns:Publish", this.topic.arn),
          ],
        }),
      },
      parent,
    );
    if (args.email) {
      new aws.sns.TopicSubscription(
        `${name}-email`,
        { topic: this.topic.arn, protocol: "email", endpoint: args.email },
        parent,
      );
    }

    const queue = (suffix: string) =>
      new aws.sqs.Queue(
        physicalName("sqs-queue", `${name}-${suffix}`, { autoNamed: true }),
        { sqsManagedSseEnabled: true, messageRetentionSeconds: MAX_RETENTION_SECONDS },
        parent,
      );
    this.runDeadLetters = queue("run-dlq");
    this.scheduleDeadLetters = queue("schedule-dlq");
    for (const [suffix, dlq] of [
      ["run-dlq", this.runDeadLetters],
      ["schedule-dlq", this.scheduleDeadLetters],
    ] as const) {
      // Senders are granted by their own roles; the queue itself only refuses plain HTTP.
      new aws.sqs.QueuePolicy(
        `${name}-${suffix}-policy`,
        {
          queueUrl: dlq.url,
          policy: pulumi.jsonStringify({
            Version: "2012-10-17",
            Statement: [denyInsecureTransport("sqs:*", dlq.arn)],
          }),
        },
        parent,
      );
    }
    this.registerOutputs({ topicArn: this.topic.arn, runDeadLetterQueueUrl: this.runDeadLetters.url });
  }
}
