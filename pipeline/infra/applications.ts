/**
 * The applications drop zone of a stack (README "Applications"): S3 sends "Object Created"
 * events of its bucket to EventBridge, a rule matches those under applications/incoming/ and
 * invokes the processing Lambda (with the permission that lets EventBridge do so), events that
 * keep failing land in a dead-letter queue, a notice per file goes to an SNS topic, and one IAM
 * role, named in the stack outputs, may put files into applications/incoming/ and do nothing else.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { SNSClient } from "@aws-sdk/client-sns";
import {
  ACCEPTED_PREFIX,
  ARCHIVE_PREFIX,
  BACKFILL_REQUESTS_PREFIX,
  createApplicationsHandler,
  INCOMING_PREFIX,
  objectBackfillQueue,
  REGISTRY_KEY,
  REJECTED_PREFIX,
  snsNotifier,
  type ApplicationLimits,
  type ProcessingResult,
} from "../applications";
import type { PipelineSettings } from "../core/settings";
import { createS3Client, S3ObjectStore } from "../core/storage";
import { MAX_RETENTION_SECONDS } from "./alerting";
import type { DataBucket } from "./data-bucket";
import { denyInsecureTransport } from "./deny-insecure-transport";
import { physicalName } from "./names";
import { PipelineFunction } from "./pipeline-function";
import type { PolicyStatement } from "./service-role";

/** The processor's timeout: a file of 1 MB is decided in well under a second; the rest is S3 and retries. */
export const PROCESSOR_TIMEOUT_SECONDS = 120;

/** Lambda retries a failed asynchronous invocation this often before it goes to the dead-letter queue. */
export const PROCESSOR_RETRY_ATTEMPTS = 2;

/** Arguments of the drop zone. */
export interface ApplicationsArgs {
  /** The stack's applications bucket (versioned: it keeps every version of the registry). */
  readonly bucket: DataBucket;
  readonly settings: PipelineSettings;
  readonly limits: ApplicationLimits;
  readonly logRetentionDays: number;
  /** Subscribed to the notice topic when set. */
  readonly noticeEmail?: string;
  /** The stack's customer-managed key, which encrypts the notice topic as it does the alert topic. */
  readonly keyArn: pulumi.Input<string>;
  readonly accountId: pulumi.Input<string>;
  /** Packages of other capabilities (the warehouse's) that the processor never loads, kept out of its package. */
  readonly excludePackages?: readonly string[];
}

/** The statements plan and ingest need to read the registry, and nothing else of the bucket. */
export function registryReadStatements(bucketArn: pulumi.Input<string>): PolicyStatement[] {
  return [
    {
      Sid: "ListApplicationRegistry",
      Effect: "Allow",
      Action: ["s3:ListBucket"],
      Resource: [bucketArn],
      // registry.ts lists exactly this prefix before it reads, so a missing registry is no 403.
      Condition: { StringEquals: { "s3:prefix": [REGISTRY_KEY] } },
    },
    {
      Sid: "ReadApplicationRegistry",
      Effect: "Allow",
      Action: ["s3:GetObject"],
      Resource: [pulumi.interpolate`${bucketArn}/${REGISTRY_KEY}`],
    },
  ];
}

/**
 * A dead-letter queue's policy for the events one EventBridge rule could not deliver: that rule
 * of this account may send (aws:SourceArn), over TLS only.
 */
export function ruleDeadLetterPolicy(
  queueArn: pulumi.Input<string>,
  ruleArn: pulumi.Input<string>,
): pulumi.Output<string> {
  return pulumi.jsonStringify({
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "RuleDeadLetters",
        Effect: "Allow",
        Principal: { Service: "events.amazonaws.com" },
        Action: "sqs:SendMessage",
        Resource: queueArn,
        Condition: { ArnEquals: { "aws:SourceArn": ruleArn } },
      },
      denyInsecureTransport("sqs:*", queueArn),
    ],
  });
}

/** The drop zone's rule, processor, queue, topic and submitter role. */
export class Applications extends pulumi.ComponentResource {
  public readonly processor: PipelineFunction<unknown, ProcessingResult>;
  public readonly rule: aws.cloudwatch.EventRule;
  public readonly deadLetters: aws.sqs.Queue;
  public readonly notices: aws.sns.Topic;
  public readonly submitterRole: aws.iam.Role;
  /** Sends every event of the bucket to EventBridge: a rule on the bucket's events depends on it. */
  public readonly notification: aws.s3.BucketNotification;

  /** `name` is the pipeline's (`<project>-<stack>`); resources are `<name>-applications…`. */
  constructor(name: string, args: ApplicationsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("weather-pipeline:applications:Applications", `${name}-applications`, {}, opts);
    const parent = { parent: this };
    const { bucket, settings, limits } = args;
    const bucketName = bucket.name;
    const objects = (prefix: string) => pulumi.interpolate`${bucket.arn}/${prefix}*`;

    // S3 sends every event of the bucket to EventBridge; the rule below picks the uploads.
    const notification = new aws.s3.BucketNotification(
      `${name}-intake-events`,
      { bucket: bucket.bucket.id, eventbridge: true },
      parent,
    );
    this.notification = notification;

    this.notices = new aws.sns.Topic(
      physicalName("sns-topic", `${name}-notices`, { autoNamed: true }),
      { kmsMasterKeyId: args.keyArn },
      parent,
    );
    new aws.sns.TopicPolicy(
      `${name}-notices-policy`,
      {
        arn: this.notices.arn,
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          // Publishing is granted to the processor's role; subscribing to the account's principals by their own policies.
          Statement: [denyInsecureTransport("sns:*", this.notices.arn)],
        }),
      },
      parent,
    );
    if (args.noticeEmail) {
      new aws.sns.TopicSubscription(
        `${name}-notices-email`,
        { topic: this.notices.arn, protocol: "email", endpoint: args.noticeEmail },
        parent,
      );
    }

    this.deadLetters = new aws.sqs.Queue(
      physicalName("sqs-queue", `${name}-intake-dlq`, { autoNamed: true }),
      { sqsManagedSseEnabled: true, messageRetentionSeconds: MAX_RETENTION_SECONDS },
      parent,
    );

    const noticeTopicArn = this.notices.arn;
    // "intake", not "applications": the role's name (<function>-role) must fit IAM's 64
    // characters with Pulumi's suffix for every stack name that deploys today.
    this.processor = new PipelineFunction(
      `${name}-intake`,
      {
        functionName: `${name}-intake`,
        description:
          "Decides each application dropped into applications/incoming/, updates the registry, archives the file",
        memoryMb: 256,
        timeoutSeconds: PROCESSOR_TIMEOUT_SECONDS,
        logRetentionDays: args.logRetentionDays,
        statements: [
          {
            Sid: "ReadAndRemoveIncoming",
            Effect: "Allow",
            // DeleteObjectVersion: the processor deletes the exact version it decided, never a newer upload.
            Action: ["s3:GetObject", "s3:DeleteObjectVersion"],
            Resource: [objects(INCOMING_PREFIX)],
          },
          {
            Sid: "WriteAndReadDecisions",
            Effect: "Allow",
            Action: ["s3:GetObject", "s3:PutObject"],
            Resource: [objects(ACCEPTED_PREFIX), objects(REJECTED_PREFIX), objects(ARCHIVE_PREFIX)],
          },
          {
            Sid: "QueueBackfills",
            Effect: "Allow",
            Action: ["s3:PutObject"],
            Resource: [objects(BACKFILL_REQUESTS_PREFIX)],
          },
          {
            Sid: "UpdateRegistry",
            Effect: "Allow",
            Action: ["s3:GetObject", "s3:PutObject"],
            Resource: [pulumi.interpolate`${bucket.arn}/${REGISTRY_KEY}`],
          },
          {
            Sid: "ListApplications",
            Effect: "Allow",
            Action: ["s3:ListBucket"],
            // Unconditioned: HEAD of a missing key answers 404 only to a caller that may list, and
            // s3:prefix is not in a HEAD's context. The bucket holds applications only.
            Resource: [bucket.arn],
          },
          { Sid: "PublishNotices", Effect: "Allow", Action: ["sns:Publish"], Resource: [this.notices.arn] },
          {
            Sid: "EncryptNotices",
            Effect: "Allow",
            Action: ["kms:Decrypt", "kms:GenerateDataKey"],
            Resource: [args.keyArn],
          },
          {
            Sid: "DeadLetterFailedEvents",
            Effect: "Allow",
            Action: ["sqs:SendMessage"],
            Resource: [this.deadLetters.arn],
          },
        ],
        excludePackages: ["ky", "hyparquet-writer", ...(args.excludePackages ?? [])],
        callbackFactory: () => {
          const store = new S3ObjectStore(createS3Client(), bucketName.get());
          return createApplicationsHandler({
            store,
            bucket: bucketName.get(),
            settings,
            limits,
            backfill: objectBackfillQueue(store),
            notify: snsNotifier(new SNSClient({}), noticeTopicArn.get()),
          });
        },
      },
      parent,
    );
    const fn = this.processor.function;

    // Lambda retries an invocation that failed, then hands the event to the dead-letter queue.
    new aws.lambda.FunctionEventInvokeConfig(
      `${name}-intake-retries`,
      {
        functionName: fn.name,
        maximumRetryAttempts: PROCESSOR_RETRY_ATTEMPTS,
        maximumEventAgeInSeconds: 6 * 3600,
        destinationConfig: { onFailure: { destination: this.deadLetters.arn } },
      },
      parent,
    );

    this.rule = new aws.cloudwatch.EventRule(
      physicalName("eventbridge-rule", `${name}-incoming`, { autoNamed: true }),
      {
        description: `Files put under ${INCOMING_PREFIX} of the applications bucket, to the processing Lambda`,
        eventPattern: pulumi.jsonStringify({
          source: ["aws.s3"],
          "detail-type": ["Object Created"],
          detail: { bucket: { name: [bucketName] }, object: { key: [{ prefix: INCOMING_PREFIX }] } },
        }),
      },
      { parent: this, dependsOn: [notification] },
    );
    // What lets EventBridge invoke the function: without it the rule fires and nothing runs.
    const permission = new aws.lambda.Permission(
      `${name}-intake-invoke`,
      {
        action: "lambda:InvokeFunction",
        function: fn.name,
        principal: "events.amazonaws.com",
        sourceArn: this.rule.arn,
      },
      parent,
    );
    new aws.cloudwatch.EventTarget(
      `${name}-intake-target`,
      {
        rule: this.rule.name,
        arn: fn.arn,
        // Events EventBridge could not deliver (e.g. throttled for a day) go to the same queue.
        retryPolicy: { maximumRetryAttempts: 185, maximumEventAgeInSeconds: 24 * 3600 },
        deadLetterConfig: { arn: this.deadLetters.arn },
      },
      { parent: this, dependsOn: [permission] },
    );
    new aws.sqs.QueuePolicy(
      `${name}-intake-dlq-policy`,
      {
        queueUrl: this.deadLetters.url,
        policy: ruleDeadLetterPolicy(this.deadLetters.arn, this.rule.arn),
      },
      parent,
    );

    // Who may drop files: any principal of the account allowed to assume this role, and it may only put.
    this.submitterRole = new aws.iam.Role(
      physicalName("iam-role", `${name}-submitter`, { autoNamed: true }),
      {
        description: `May put application files under ${INCOMING_PREFIX} of the applications bucket, and nothing else`,
        assumeRolePolicy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Principal: { AWS: pulumi.interpolate`arn:aws:iam::${args.accountId}:root` },
              Action: "sts:AssumeRole",
            },
          ],
        }),
      },
      parent,
    );
    new aws.iam.RolePolicy(
      physicalName("iam-role-policy", `${name}-submitter-policy`, { autoNamed: true }),
      {
        role: this.submitterRole.id,
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [
            { Sid: "PutApplications", Effect: "Allow", Action: ["s3:PutObject"], Resource: [objects(INCOMING_PREFIX)] },
          ],
        }),
      },
      parent,
    );
    this.registerOutputs({
      functionName: fn.name,
      submitterRoleArn: this.submitterRole.arn,
      noticeTopicArn: this.notices.arn,
      deadLetterQueueUrl: this.deadLetters.url,
    });
  }
}
