/**
 * The backfill of one stack: its planner Lambda and its own state machine (a Distributed Map
 * over windows, see backfill-state-machine-definition.ts), running the stack's ingest and
 * transform Lambdas, and the warehouse's load Lambda where the stack has one. Started by hand
 * (`npm run pipeline -- backfill`), never scheduled.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { BACKFILL_REQUESTS_PREFIX } from "../applications";
import { createBackfillPlanHandler, type BackfillRunPlan } from "../backfill";
import { DATASETS } from "../core/keys";
import type { PipelineSettings } from "../core/settings";
import { createS3Client, S3ObjectStore } from "../core/storage";
import { registryReadStatements } from "./applications";
import { buildBackfillDefinition, WINDOW_MAP_LABEL } from "./backfill-state-machine-definition";
import { physicalName } from "./names";
import { PipelineFunction } from "./pipeline-function";
import { createServiceRole } from "./service-role";

/** The planner's timeout: it lists the curated dates of the range once. */
export const BACKFILL_PLAN_TIMEOUT_SECONDS = 120;

/** What the backfill is built from. */
export interface BackfillArgs {
  readonly settings: PipelineSettings;
  readonly maxWeightPerDay: number;
  readonly maxConcurrency: number;
  readonly logRetentionDays: number;
  /** The stack file, for the planner's messages. */
  readonly source: string;
  readonly curatedBucket: { readonly name: pulumi.Output<string>; readonly arn: pulumi.Output<string> };
  /** The applications bucket: the planner reads an accepted location's history request and the registry there. */
  readonly applicationsBucket: { readonly name: pulumi.Output<string>; readonly arn: pulumi.Output<string> };
  readonly ingestFunctionArn: pulumi.Output<string>;
  readonly transformFunctionArn: pulumi.Output<string>;
  /** The warehouse's load function; undefined where the stack has no warehouse. */
  readonly loadFunctionArn?: pulumi.Output<string>;
  readonly alertTopicArn: pulumi.Output<string>;
  readonly alertKeyArn: pulumi.Output<string>;
  readonly deadLetterQueueArn: pulumi.Output<string>;
  readonly deadLetterQueueUrl: pulumi.Output<string>;
  readonly accountId: pulumi.Output<string>;
  readonly region: pulumi.Output<string>;
}

/** The backfill's planner and state machine. */
export class Backfill extends pulumi.ComponentResource {
  public readonly plan: PipelineFunction<unknown, BackfillRunPlan>;
  public readonly stateMachine: aws.sfn.StateMachine;

  /** `name` is the pipeline's (`<project>-<stack>`); resources are `<name>-backfill...`. */
  constructor(name: string, args: BackfillArgs, opts?: pulumi.ComponentResourceOptions) {
    super("weather-pipeline:backfill:Backfill", `${name}-backfill`, {}, opts);
    const parent = { parent: this };
    const { settings } = args;
    const curatedBucketName = args.curatedBucket.name;
    const applicationsBucketName = args.applicationsBucket.name;

    this.plan = new PipelineFunction(
      `${name}-backfill`,
      {
        functionName: `${name}-backfill`,
        description: "Plans a backfill: the windows of a range of past dates still to fetch, paced by the daily budget",
        memoryMb: 256,
        timeoutSeconds: BACKFILL_PLAN_TIMEOUT_SECONDS,
        logRetentionDays: args.logRetentionDays,
        statements: [
          {
            Sid: "ListCuratedDates",
            Effect: "Allow",
            Action: ["s3:ListBucket"],
            Resource: [args.curatedBucket.arn],
            // Exactly the partitions plan.ts lists to skip complete windows.
            Condition: { StringLike: { "s3:prefix": DATASETS.map((dataset) => `${dataset}/date=*`) } },
          },
          // An accepted location's history: its request object, and the registry to size its windows.
          {
            Sid: "ReadHistoryRequests",
            Effect: "Allow",
            Action: ["s3:GetObject"],
            Resource: [pulumi.interpolate`${args.applicationsBucket.arn}/${BACKFILL_REQUESTS_PREFIX}*`],
          },
          ...registryReadStatements(args.applicationsBucket.arn),
        ],
        excludePackages: ["ky", "hyparquet-writer", "csv-parse", "luxon"],
        callbackFactory: () => {
          const client = createS3Client();
          return createBackfillPlanHandler({
            settings,
            curatedStore: new S3ObjectStore(client, curatedBucketName.get()),
            applicationsStore: new S3ObjectStore(client, applicationsBucketName.get()),
            maxWeightPerDay: args.maxWeightPerDay,
            source: args.source,
            loadCompleteWindows: args.loadFunctionArn !== undefined,
          });
        },
      },
      parent,
    );

    // Named, so the role can name the state machine's own ARN (child executions of the Map).
    const stateMachineName = physicalName("sfn-state-machine", `${name}-backfill`);
    const stateMachineArn = pulumi.interpolate`arn:aws:states:${args.region}:${args.accountId}:stateMachine:${stateMachineName}`;
    const childExecutions = pulumi.interpolate`arn:aws:states:${args.region}:${args.accountId}:execution:${stateMachineName}/*`;
    const mapRunChildren = pulumi.interpolate`arn:aws:states:${args.region}:${args.accountId}:execution:${stateMachineName}/${WINDOW_MAP_LABEL}:*`;
    const functionArns = [
      this.plan.function.arn,
      args.ingestFunctionArn,
      args.transformFunctionArn,
      // Only where it exists: a stack without a warehouse may invoke no load function.
      ...(args.loadFunctionArn ? [args.loadFunctionArn] : []),
    ];
    const role = createServiceRole(
      // Short: with `-role` and Pulumi's suffix it fits IAM's 64 characters for every stack deployed today.
      `${name}-bf-run`,
      // Assumed by Step Functions for this state machine only (confused deputy).
      {
        service: "states.amazonaws.com",
        condition: pulumi.output({ accountId: args.accountId, arn: stateMachineArn }).apply(({ accountId, arn }) => ({
          ArnLike: { "aws:SourceArn": arn },
          StringEquals: { "aws:SourceAccount": accountId },
        })),
      },
      [
        {
          Sid: "InvokePipelineFunctions",
          Effect: "Allow",
          Action: ["lambda:InvokeFunction"],
          Resource: functionArns.flatMap((arn) => [arn, pulumi.interpolate`${arn}:*`]),
        },
        // A Distributed Map runs each window as a child execution of this state machine.
        {
          Sid: "StartWindowExecutions",
          Effect: "Allow",
          Action: ["states:StartExecution"],
          Resource: [stateMachineArn],
        },
        {
          Sid: "FollowWindowExecutions",
          Effect: "Allow",
          Action: ["states:DescribeExecution", "states:StopExecution"],
          Resource: [childExecutions],
        },
        // Redriving the execution redrives the Map Run's failed children.
        {
          Sid: "RedriveWindowExecutions",
          Effect: "Allow",
          Action: ["states:RedriveExecution"],
          Resource: [mapRunChildren],
        },
        { Sid: "PublishAlerts", Effect: "Allow", Action: ["sns:Publish"], Resource: [args.alertTopicArn] },
        {
          Sid: "EncryptAlerts",
          Effect: "Allow",
          Action: ["kms:Decrypt", "kms:GenerateDataKey"],
          Resource: [args.alertKeyArn],
        },
        {
          Sid: "DeadLetterFailedWindows",
          Effect: "Allow",
          Action: ["sqs:SendMessage"],
          Resource: [args.deadLetterQueueArn],
        },
      ],
      parent,
    );
    this.stateMachine = new aws.sfn.StateMachine(
      `${name}-backfill`,
      {
        name: stateMachineName,
        roleArn: role.role.arn,
        type: "STANDARD",
        definition: pulumi
          .all([
            this.plan.function.arn,
            args.ingestFunctionArn,
            args.transformFunctionArn,
            args.alertTopicArn,
            args.deadLetterQueueUrl,
            args.loadFunctionArn ?? pulumi.output(""),
          ])
          .apply(
            ([planFunctionArn, ingestFunctionArn, transformFunctionArn, alertTopicArn, deadLetterQueueUrl, loadArn]) =>
              JSON.stringify(
                buildBackfillDefinition({
                  stack: name,
                  planFunctionArn,
                  ingestFunctionArn,
                  transformFunctionArn,
                  alertTopicArn,
                  deadLetterQueueUrl,
                  maxConcurrency: args.maxConcurrency,
                  ...(loadArn ? { loadFunctionArn: loadArn } : {}),
                }),
                null,
                2,
              ),
          ),
      },
      { parent: this, dependsOn: [role.policy] },
    );
    this.registerOutputs({ stateMachineArn: this.stateMachine.arn, planFunctionName: this.plan.function.name });
  }
}
