/**
 * The whole daily pipeline of one stack: raw and curated buckets, the ingest and transform
 * Lambdas, a Step Functions state machine that runs them in order, and the daily schedule.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { handleIngestEvent, handleTransformEvent } from "../handlers";
import type { IngestResult } from "../ingest";
import { DATASETS } from "../keys";
import { createS3Client, S3ObjectStore } from "../storage";
import type { TransformResult } from "../transform";
import type { StackConfig } from "./config";
import { DataBucket } from "./data-bucket";
import { PipelineFunction } from "./pipeline-function";
import { glueDatabaseName, QueryCatalog } from "./query-catalog";
import { createServiceRole } from "./service-role";
import { buildStateMachineDefinition } from "./state-machine-definition";

/** Prefix of every raw object key (see keys.ts). */
const RAW_PREFIX = "open-meteo/";

/** Days an overwritten raw object is kept as a noncurrent version. */
const RAW_NONCURRENT_VERSION_DAYS = 30;

/** The deployed pipeline and what a user needs from it. */
export class WeatherPipeline extends pulumi.ComponentResource {
  public readonly rawBucket: DataBucket;
  public readonly curatedBucket: DataBucket;
  public readonly ingest: PipelineFunction<unknown, IngestResult>;
  public readonly transform: PipelineFunction<unknown, TransformResult>;
  public readonly stateMachine: aws.sfn.StateMachine;
  public readonly schedule: aws.scheduler.Schedule;
  public readonly catalog: QueryCatalog;

  /** `name` prefixes every resource, and names the functions: use `<project>-<stack>`. */
  constructor(
    name: string,
    config: StackConfig,
    naming: { project: string; stack: string },
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("weather-pipeline:index:WeatherPipeline", name, {}, opts);
    const parent = { parent: this };
    const settings = config.pipeline;

    this.rawBucket = new DataBucket(
      `${name}-raw`,
      {
        infrequentAccessDays: config.rawInfrequentAccessDays,
        expirationDays: config.rawExpirationDays,
        protectData: config.protectData,
        noncurrentVersionDays: RAW_NONCURRENT_VERSION_DAYS,
      },
      parent,
    );
    this.curatedBucket = new DataBucket(
      `${name}-curated`,
      { expirationDays: config.curatedExpirationDays, protectData: config.protectData },
      parent,
    );
    const rawBucketName = this.rawBucket.name;
    const curatedBucketName = this.curatedBucket.name;

    this.ingest = new PipelineFunction(
      `${name}-ingest`,
      {
        functionName: `${name}-ingest`,
        description: "Fetches a day of Open-Meteo data and stores each response unchanged in the raw bucket",
        memoryMb: config.ingest.memoryMb,
        timeoutSeconds: config.ingest.timeoutSeconds,
        logRetentionDays: config.logRetentionDays,
        statements: [
          {
            Sid: "PutRawObjects",
            Effect: "Allow",
            Action: ["s3:PutObject"],
            Resource: [pulumi.interpolate`${this.rawBucket.arn}/${RAW_PREFIX}*`],
          },
        ],
        excludePackages: ["hyparquet-writer"],
        callbackFactory: () => {
          const rawStore = new S3ObjectStore(createS3Client(), rawBucketName.get());
          return (event: unknown) => handleIngestEvent(event, { settings, rawStore });
        },
      },
      parent,
    );

    this.transform = new PipelineFunction(
      `${name}-transform`,
      {
        functionName: `${name}-transform`,
        description: "Turns a day of raw Open-Meteo JSON into Parquet in the curated bucket",
        memoryMb: config.transform.memoryMb,
        timeoutSeconds: config.transform.timeoutSeconds,
        logRetentionDays: config.logRetentionDays,
        statements: [
          {
            Sid: "GetRawObjects",
            Effect: "Allow",
            Action: ["s3:GetObject"],
            Resource: [pulumi.interpolate`${this.rawBucket.arn}/${RAW_PREFIX}*`],
          },
          {
            Sid: "PutCuratedObjects",
            Effect: "Allow",
            Action: ["s3:PutObject"],
            Resource: DATASETS.map((dataset) => pulumi.interpolate`${this.curatedBucket.arn}/${dataset}/*`),
          },
        ],
        excludePackages: ["ky"],
        callbackFactory: () => {
          const client = createS3Client();
          const rawStore = new S3ObjectStore(client, rawBucketName.get());
          const curatedStore = new S3ObjectStore(client, curatedBucketName.get());
          return (event: unknown) => handleTransformEvent(event, { settings, rawStore, curatedStore });
        },
      },
      parent,
    );

    const functionArns = [this.ingest.function.arn, this.transform.function.arn];
    const runRole = createServiceRole(
      `${name}-run`,
      "states.amazonaws.com",
      [
        {
          Sid: "InvokePipelineFunctions",
          Effect: "Allow",
          Action: ["lambda:InvokeFunction"],
          // The unqualified ARN and its versions/aliases: the task invokes the unqualified one.
          Resource: functionArns.flatMap((arn) => [arn, pulumi.interpolate`${arn}:*`]),
        },
      ],
      parent,
    );
    this.stateMachine = new aws.sfn.StateMachine(
      `${name}-run`,
      {
        roleArn: runRole.role.arn,
        type: "STANDARD",
        definition: pulumi
          .all([this.ingest.function.arn, this.transform.function.arn])
          .apply(([ingestFunctionArn, transformFunctionArn]) =>
            JSON.stringify(buildStateMachineDefinition({ ingestFunctionArn, transformFunctionArn }), null, 2),
          ),
      },
      { parent: this, dependsOn: [runRole.policy] },
    );

    const scheduleRole = createServiceRole(
      `${name}-schedule`,
      "scheduler.amazonaws.com",
      [{ Sid: "StartDailyRun", Effect: "Allow", Action: ["states:StartExecution"], Resource: [this.stateMachine.arn] }],
      parent,
    );
    this.schedule = new aws.scheduler.Schedule(
      `${name}-daily`,
      {
        description: `Starts the daily weather run (${config.schedule.cron}, ${settings.timezone})`,
        scheduleExpression: `cron(${config.schedule.cron})`,
        scheduleExpressionTimezone: settings.timezone,
        state: config.schedule.enabled ? "ENABLED" : "DISABLED",
        flexibleTimeWindow: { mode: "OFF" },
        target: {
          arn: this.stateMachine.arn,
          roleArn: scheduleRole.role.arn,
          // No date: ingest takes yesterday in the stack's time zone.
          input: JSON.stringify({}),
          retryPolicy: { maximumRetryAttempts: 3, maximumEventAgeInSeconds: 3600 },
        },
      },
      { parent: this, dependsOn: [scheduleRole.policy] },
    );

    this.catalog = new QueryCatalog(
      `${name}-query`,
      {
        databaseName: glueDatabaseName(naming.project, naming.stack),
        curatedBucketName,
        hourlyVariables: settings.hourlyVariables,
        dailyVariables: settings.dailyVariables,
        resultsExpirationDays: config.athena.resultsExpirationDays,
        bytesScannedCutoffPerQuery: config.athena.bytesScannedCutoffPerQuery,
      },
      parent,
    );

    this.registerOutputs({
      rawBucketName,
      curatedBucketName,
      stateMachineArn: this.stateMachine.arn,
    });
  }
}
