/**
 * The whole daily pipeline of one stack: raw and curated buckets, the plan, ingest and
 * transform Lambdas, a Step Functions state machine that runs them, the daily schedule, alerts
 * and dead-letter queues, alarms, and the Glue/Athena catalog over the curated data.
 */
import * as aws from "@pulumi/aws";
import type * as awsx from "@pulumi/awsx";
import * as pulumi from "@pulumi/pulumi";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { loadApiKey, createIngestHandler } from "../ingest";
import { type RunPlan, createPlanHandler } from "../operations";
import { createTransformHandler } from "../transform";
import { sourceRawPrefix, sourceTable, withSourceFetch, withSourceTransform } from "../sources";
import { DATASETS } from "../core/keys";
import { exampleQueries } from "../catalog";
import { createS3Client, S3ObjectStore } from "../core/storage";
import { locationsWithRegistry } from "../applications";
import { Applications, PROCESSOR_TIMEOUT_SECONDS, registryReadStatements } from "./applications";
import { createAlarms } from "./alarms";
import { Alerting, MAX_RETENTION_SECONDS } from "./alerting";
import { Backfill, BACKFILL_PLAN_TIMEOUT_SECONDS } from "./backfill";
import { createDashboard } from "./dashboard";
import { HistoryRequests } from "./history-requests";
import { applicationLimitsOf, type StackConfig } from "./config";
import { DataBucket } from "./data-bucket";
import { PipelineFunction } from "./pipeline-function";
import { physicalName } from "./names";
import { glueDatabaseName, QueryCatalog } from "./query-catalog";
import { checkedReservations } from "./reserved-concurrency";
import { createServiceRole, schedulerTrust, stateMachineTrust } from "./service-role";
import { buildStateMachineDefinition } from "./state-machine-definition";
import { Warehouse } from "./warehouse";

/** Prefix of every raw object key (see keys.ts). */
const RAW_PREFIX = "open-meteo/";

/** What only the warehouse's load function uses: the PostgreSQL driver, its COPY streams, the Parquet reader. */
const WAREHOUSE_PACKAGES = ["pg", "pg-copy-streams", "hyparquet"];

/** The plan Lambda only lists prefixes: a minute is plenty. */
const PLAN_TIMEOUT_SECONDS = 60;

/** Days an earlier version of the registry (and of any application object) is kept. */
const APPLICATIONS_NONCURRENT_VERSION_DAYS = 365;
/** The raw date prefixes (keys.rawDatePrefix): what the planner lists and the transform reads. */
const RAW_DATE_PREFIXES = [`${RAW_PREFIX}forecast/date=*`, `${RAW_PREFIX}archive/date=*`];

/** The schedule group the daily schedule is in: the account's default (the schedule names none). */
const SCHEDULE_GROUP = "default";

/** Packages only a source's transform uses: left out of every other function, and of all where there are no sources. */
const SOURCE_PACKAGES = ["csv-parse", "luxon"];

/** Days an overwritten raw object is kept as a noncurrent version. */
const RAW_NONCURRENT_VERSION_DAYS = 30;

/** How the stack is named, and its secrets (kept out of StackConfig, which Lambdas capture). */
export interface WeatherPipelineContext {
  readonly project: string;
  readonly stack: string;
  /** The Open-Meteo API key, a secret Output; undefined when the stack has none. */
  readonly apiKey?: pulumi.Output<string>;
}

/** The deployed pipeline and what a user needs from it. */
export class WeatherPipeline extends pulumi.ComponentResource {
  public readonly rawBucket: DataBucket;
  public readonly curatedBucket: DataBucket;
  /** The applications drop zone's bucket: incoming/, accepted/, rejected/, archive/ and the registry. */
  public readonly applicationsBucket: DataBucket;
  public readonly applications: Applications;
  /** Where S3 writes the raw and curated buckets' server access logs; undefined unless accessLogging. */
  public readonly accessLogs: DataBucket | undefined;
  public readonly plan: PipelineFunction<unknown, RunPlan>;
  /** Fetches Open-Meteo for a date, or a configured source (`{"source": name}`). */
  public readonly ingest: PipelineFunction<unknown, unknown>;
  /** Transforms a date's raw Open-Meteo bodies, or a fetched version of a source. */
  public readonly transform: PipelineFunction<unknown, unknown>;
  public readonly alerting: Alerting;
  public readonly stateMachine: aws.sfn.StateMachine;
  public readonly schedule: aws.scheduler.Schedule;
  public readonly catalog: QueryCatalog;
  /** The PostgreSQL warehouse; undefined where the stack leaves it off. */
  public readonly warehouse: Warehouse | undefined;
  public readonly backfill: Backfill;
  /** Starts the backfill of an accepted location's history when its request object is created. */
  public readonly history: HistoryRequests;
  /** The CloudWatch dashboard; its `url` opens it in the console. */
  public readonly dashboard: awsx.classic.cloudwatch.Dashboard;

  /** `name` prefixes every resource, and names the functions: use `<project>-<stack>`. */
  constructor(
    name: string,
    config: StackConfig,
    context: WeatherPipelineContext,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("weather-pipeline:index:WeatherPipeline", name, {}, opts);
    const parent = { parent: this };
    const settings = config.pipeline;
    const { catchUp, sources } = config;
    const { accountId } = aws.getCallerIdentityOutput({}, parent);
    const region = aws.getRegionOutput({}, parent).region;

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
    this.applicationsBucket = new DataBucket(
      `${name}-applications`,
      { protectData: config.protectData, noncurrentVersionDays: APPLICATIONS_NONCURRENT_VERSION_DAYS },
      parent,
    );
    const applicationsBucketName = this.applicationsBucket.name;
    this.accessLogs = config.accessLogs.enabled
      ? createAccessLogs(
          name,
          { raw: this.rawBucket, curated: this.curatedBucket },
          {
            accountId,
            expirationDays: config.accessLogs.expirationDays,
            protectData: config.protectData,
            parent: this,
          },
        )
      : undefined;
    const rawBucketName = this.rawBucket.name;
    const curatedBucketName = this.curatedBucket.name;
    const rawObjects = pulumi.interpolate`${this.rawBucket.arn}/${RAW_PREFIX}*`;
    const curatedObjects = DATASETS.map((dataset) => pulumi.interpolate`${this.curatedBucket.arn}/${dataset}/*`);
    const common = { logRetentionDays: config.logRetentionDays };
    const reserved = checkedReservations(
      {
        ingest: { key: `${context.project}:ingestReservedConcurrency`, executions: config.reservedConcurrency.ingest },
        transform: {
          key: `${context.project}:transformReservedConcurrency`,
          executions: config.reservedConcurrency.transform,
        },
      },
      region,
      parent,
    );

    // Exactly each configured source's objects; no statement at all without sources.
    const sourceRaw = sources.map((s) => pulumi.interpolate`${this.rawBucket.arn}/${sourceRawPrefix(s.name)}*`);
    const sourceCurated = sources.map((s) => pulumi.interpolate`${this.curatedBucket.arn}/${sourceTable(s.name)}/*`);
    const ingestSourceStatements =
      sources.length === 0
        ? []
        : [
            { Sid: "GetSourceState", Effect: "Allow" as const, Action: ["s3:GetObject"], Resource: sourceRaw },
            { Sid: "PutSourceObjects", Effect: "Allow" as const, Action: ["s3:PutObject"], Resource: sourceRaw },
            {
              // Without it S3 answers a missing state object with 403 AccessDenied, not 404 NoSuchKey.
              Sid: "TellMissingSourceObjects",
              Effect: "Allow" as const,
              Action: ["s3:ListBucket"],
              Resource: [this.rawBucket.arn],
              Condition: { StringLike: { "s3:prefix": sources.map((s) => `${sourceRawPrefix(s.name)}*`) } },
            },
          ];
    const transformSourceStatements =
      sources.length === 0
        ? []
        : [
            { Sid: "GetSourceObjects", Effect: "Allow" as const, Action: ["s3:GetObject"], Resource: sourceRaw },
            {
              Sid: "PutSourceRecords",
              Effect: "Allow" as const,
              Action: ["s3:PutObject"],
              Resource: sources.flatMap((s) => [
                pulumi.interpolate`${this.rawBucket.arn}/${sourceRawPrefix(s.name)}transformed.json`,
                pulumi.interpolate`${this.rawBucket.arn}/${sourceRawPrefix(s.name)}files/*.rejects.jsonl`,
              ]),
            },
            // A date's existing file is read to merge the new rows into it.
            {
              Sid: "ReadWriteSourceTables",
              Effect: "Allow" as const,
              Action: ["s3:GetObject", "s3:PutObject"],
              Resource: sourceCurated,
            },
            {
              Sid: "TellMissingSourceFiles",
              Effect: "Allow" as const,
              Action: ["s3:ListBucket"],
              Resource: [this.curatedBucket.arn],
              Condition: { StringLike: { "s3:prefix": sources.map((s) => `${sourceTable(s.name)}/date=*`) } },
            },
          ];

    const apiKeySecret = context.apiKey
      ? new aws.secretsmanager.Secret(
          physicalName("secretsmanager-secret", `${name}-api-key`, { autoNamed: true }),
          {
            description: "Open-Meteo API key, read by the ingest Lambda at cold start",
            // A disposable stack's secret goes at once, so the stack can be created again.
            recoveryWindowInDays: config.protectData ? 7 : 0,
          },
          parent,
        )
      : undefined;
    if (apiKeySecret && context.apiKey) {
      new aws.secretsmanager.SecretVersion(
        `${name}-api-key-value`,
        { secretId: apiKeySecret.id, secretString: context.apiKey },
        parent,
      );
    }
    const apiKeySecretArn = apiKeySecret?.arn;
    // Built here, not in the callback: a stack without a key serializes no Secrets Manager
    // client, so its ingest does not load one at each cold start.
    const readApiKey = apiKeySecretArn
      ? (secretId: string) => loadApiKey(secretId, new SecretsManagerClient({}))
      : undefined;

    this.plan = new PipelineFunction(
      `${name}-plan`,
      {
        ...common,
        functionName: `${name}-plan`,
        description: "Decides which dates a run fetches: the one asked for, or yesterday and missing recent dates",
        memoryMb: 128,
        timeoutSeconds: PLAN_TIMEOUT_SECONDS,
        statements: [
          {
            Sid: "ListRawDates",
            Effect: "Allow",
            Action: ["s3:ListBucket"],
            Resource: [this.rawBucket.arn],
            // Exactly the date prefixes catch-up.ts lists.
            Condition: { StringLike: { "s3:prefix": RAW_DATE_PREFIXES } },
          },
          {
            Sid: "ListCuratedDates",
            Effect: "Allow",
            Action: ["s3:ListBucket"],
            Resource: [this.curatedBucket.arn],
            Condition: { StringLike: { "s3:prefix": DATASETS.map((dataset) => `${dataset}/date=*`) } },
          },
          // The plan's locations are the config's and the registry's, as ingest's are.
          ...registryReadStatements(this.applicationsBucket.arn),
        ],
        excludePackages: ["ky", "hyparquet-writer", ...SOURCE_PACKAGES, ...WAREHOUSE_PACKAGES],
        callbackFactory: () => {
          const client = createS3Client();
          const applicationsStore = new S3ObjectStore(client, applicationsBucketName.get());
          return createPlanHandler({
            settings,
            rawStore: new S3ObjectStore(client, rawBucketName.get()),
            curatedStore: new S3ObjectStore(client, curatedBucketName.get()),
            catchUpDays: catchUp.days,
            maxDatesPerRun: catchUp.maxDatesPerRun,
            locations: () => locationsWithRegistry(settings, applicationsStore),
          });
        },
      },
      parent,
    );

    this.ingest = new PipelineFunction(
      `${name}-ingest`,
      {
        ...common,
        functionName: `${name}-ingest`,
        description: "Fetches a day of Open-Meteo data and stores each response unchanged in the raw bucket",
        memoryMb: config.ingest.memoryMb,
        timeoutSeconds: config.ingest.timeoutSeconds,
        reservedConcurrency: reserved.ingest,
        statements: [
          { Sid: "PutRawObjects", Effect: "Allow", Action: ["s3:PutObject"], Resource: [rawObjects] },
          {
            // A backfill window lists its own prefix to keep bodies stored before a rate limit.
            Sid: "ListBackfillWindows",
            Effect: "Allow",
            Action: ["s3:ListBucket"],
            Resource: [this.rawBucket.arn],
            Condition: {
              StringLike: { "s3:prefix": [`${RAW_PREFIX}forecast/backfill/*`, `${RAW_PREFIX}archive/backfill/*`] },
            },
          },
          ...(apiKeySecret
            ? [
                {
                  Sid: "ReadApiKey",
                  Effect: "Allow" as const,
                  Action: ["secretsmanager:GetSecretValue"],
                  Resource: [apiKeySecret.arn],
                },
              ]
            : []),
          ...registryReadStatements(this.applicationsBucket.arn),
          ...ingestSourceStatements,
        ],
        excludePackages: ["hyparquet-writer", ...SOURCE_PACKAGES, ...WAREHOUSE_PACKAGES],
        callbackFactory: () => {
          const client = createS3Client();
          const rawStore = new S3ObjectStore(client, rawBucketName.get());
          const applicationsStore = new S3ObjectStore(client, applicationsBucketName.get());
          // The ARN, never the key, is in the code; the key is read once per cold start.
          const secretId = apiKeySecretArn?.get();
          const openMeteo = createIngestHandler({
            settings,
            rawStore,
            stack: name,
            loadApiKey: secretId && readApiKey ? () => readApiKey(secretId) : undefined,
            locations: () => locationsWithRegistry(settings, applicationsStore),
          });
          // A source's fetch never carries the Open-Meteo key.
          return sources.length === 0
            ? openMeteo
            : withSourceFetch(openMeteo, { sources, http: settings.http, rawStore });
        },
      },
      parent,
    );

    this.transform = new PipelineFunction(
      `${name}-transform`,
      {
        ...common,
        functionName: `${name}-transform`,
        description: "Turns a day of raw Open-Meteo JSON into Parquet in the curated bucket",
        memoryMb: config.transform.memoryMb,
        timeoutSeconds: config.transform.timeoutSeconds,
        reservedConcurrency: reserved.transform,
        statements: [
          { Sid: "GetRawObjects", Effect: "Allow", Action: ["s3:GetObject"], Resource: [rawObjects] },
          {
            // Without it S3 answers a missing manifest with 403 AccessDenied, not 404 NoSuchKey; S3
            // checks s3:prefix against the key read, so the grant is exactly the prefixes read.
            Sid: "TellMissingRawObjects",
            Effect: "Allow",
            Action: ["s3:ListBucket"],
            Resource: [this.rawBucket.arn],
            Condition: { StringLike: { "s3:prefix": RAW_DATE_PREFIXES } },
          },
          { Sid: "PutCuratedObjects", Effect: "Allow", Action: ["s3:PutObject"], Resource: curatedObjects },
          // An accepted location's history reads each date's files' source-keys (add-locations.ts).
          { Sid: "GetCuratedObjects", Effect: "Allow", Action: ["s3:GetObject"], Resource: curatedObjects },
          {
            // So that a date without files is a 404, not an AccessDenied it could not tell apart.
            Sid: "TellMissingCuratedObjects",
            Effect: "Allow",
            Action: ["s3:ListBucket"],
            Resource: [this.curatedBucket.arn],
            Condition: { StringLike: { "s3:prefix": DATASETS.map((dataset) => `${dataset}/date=*`) } },
          },
          ...transformSourceStatements,
        ],
        // hyparquet (the reader) only for the sources' transform (sources/transform.ts); the
        // writer's bundle holds the parts of it the writer uses.
        excludePackages: [
          "ky",
          ...WAREHOUSE_PACKAGES.filter((p) => p !== "hyparquet"),
          ...(sources.length === 0 ? [...SOURCE_PACKAGES, "hyparquet"] : []),
        ],
        callbackFactory: () => {
          const client = createS3Client();
          const rawStore = new S3ObjectStore(client, rawBucketName.get());
          const curatedStore = new S3ObjectStore(client, curatedBucketName.get());
          const writtenBy = `${name}-transform`;
          const openMeteo = createTransformHandler({ settings, rawStore, curatedStore, stack: name, writtenBy });
          return sources.length === 0
            ? openMeteo
            : withSourceTransform(openMeteo, { sources, rawStore, curatedStore, writtenBy });
        },
      },
      parent,
    );

    this.warehouse = config.warehouse
      ? new Warehouse(
          name,
          {
            config: config.warehouse,
            protectData: config.protectData,
            settings,
            catchUp,
            logRetentionDays: config.logRetentionDays,
            curatedBucket: { name: curatedBucketName, arn: this.curatedBucket.arn },
            accountId,
            region,
            sources,
          },
          parent,
        )
      : undefined;
    const load = this.warehouse?.load;

    this.alerting = new Alerting(`${name}-alerts`, { accountId, region, email: config.alerts.email }, parent);

    this.applications = new Applications(
      name,
      {
        bucket: this.applicationsBucket,
        settings,
        limits: applicationLimitsOf(config),
        logRetentionDays: config.logRetentionDays,
        noticeEmail: config.applications.noticeEmail,
        keyArn: this.alerting.key.arn,
        accountId,
        excludePackages: [...WAREHOUSE_PACKAGES, "luxon"],
      },
      parent,
    );

    const functionArns = [this.plan, this.ingest, this.transform, ...(load ? [load] : [])].map((f) => f.function.arn);
    const runRole = createServiceRole(
      `${name}-run`,
      stateMachineTrust(accountId, region),
      [
        {
          Sid: "InvokePipelineFunctions",
          Effect: "Allow",
          Action: ["lambda:InvokeFunction"],
          // The unqualified ARN and its versions/aliases: the task invokes the unqualified one.
          Resource: functionArns.flatMap((arn) => [arn, pulumi.interpolate`${arn}:*`]),
        },
        { Sid: "PublishAlerts", Effect: "Allow", Action: ["sns:Publish"], Resource: [this.alerting.topic.arn] },
        {
          Sid: "EncryptAlerts",
          Effect: "Allow",
          Action: ["kms:Decrypt", "kms:GenerateDataKey"],
          Resource: [this.alerting.key.arn],
        },
        {
          Sid: "DeadLetterFailedRuns",
          Effect: "Allow",
          Action: ["sqs:SendMessage"],
          Resource: [this.alerting.runDeadLetters.arn],
        },
      ],
      parent,
    );
    this.stateMachine = new aws.sfn.StateMachine(
      physicalName("sfn-state-machine", `${name}-run`, { autoNamed: true }),
      {
        roleArn: runRole.role.arn,
        type: "STANDARD",
        definition: pulumi
          .all([
            this.plan.function.arn,
            this.ingest.function.arn,
            this.transform.function.arn,
            this.alerting.topic.arn,
            this.alerting.runDeadLetters.url,
            load ? load.function.arn : pulumi.output(""),
          ])
          .apply(
            ([planFunctionArn, ingestFunctionArn, transformFunctionArn, alertTopicArn, deadLetterQueueUrl, loadArn]) =>
              JSON.stringify(
                buildStateMachineDefinition({
                  stack: name,
                  planFunctionArn,
                  ingestFunctionArn,
                  transformFunctionArn,
                  alertTopicArn,
                  deadLetterQueueUrl,
                  ...(loadArn ? { loadFunctionArn: loadArn } : {}),
                  sources: sources.map((s) => s.name),
                }),
                null,
                2,
              ),
          ),
      },
      { parent: this, dependsOn: [runRole.policy] },
    );

    const scheduleRole = createServiceRole(
      `${name}-schedule`,
      schedulerTrust(accountId, region, SCHEDULE_GROUP),
      [
        { Sid: "StartDailyRun", Effect: "Allow", Action: ["states:StartExecution"], Resource: [this.stateMachine.arn] },
        {
          Sid: "DeadLetterUnstartedRuns",
          Effect: "Allow",
          Action: ["sqs:SendMessage"],
          Resource: [this.alerting.scheduleDeadLetters.arn],
        },
      ],
      parent,
    );
    this.schedule = new aws.scheduler.Schedule(
      physicalName("scheduler-schedule", `${name}-daily`, { autoNamed: true }),
      {
        description: `Starts the daily weather run (${config.schedule.cron}, ${settings.timezone})`,
        scheduleExpression: `cron(${config.schedule.cron})`,
        scheduleExpressionTimezone: settings.timezone,
        state: config.schedule.enabled ? "ENABLED" : "DISABLED",
        flexibleTimeWindow: { mode: "OFF" },
        target: {
          arn: this.stateMachine.arn,
          roleArn: scheduleRole.role.arn,
          // No date: the run plans yesterday plus any missing recent dates.
          input: JSON.stringify({}),
          retryPolicy: { maximumRetryAttempts: 3, maximumEventAgeInSeconds: 3600 },
          deadLetterConfig: { arn: this.alerting.scheduleDeadLetters.arn },
        },
      },
      { parent: this, dependsOn: [scheduleRole.policy] },
    );

    this.backfill = new Backfill(
      name,
      {
        settings,
        maxWeightPerDay: config.backfill.maxWeightPerDay,
        maxConcurrency: config.backfill.maxConcurrency,
        logRetentionDays: config.logRetentionDays,
        source: `Pulumi.${context.stack}.yaml`,
        curatedBucket: { name: curatedBucketName, arn: this.curatedBucket.arn },
        applicationsBucket: { name: applicationsBucketName, arn: this.applicationsBucket.arn },
        ingestFunctionArn: this.ingest.function.arn,
        transformFunctionArn: this.transform.function.arn,
        ...(load ? { loadFunctionArn: load.function.arn } : {}),
        alertTopicArn: this.alerting.topic.arn,
        alertKeyArn: this.alerting.key.arn,
        deadLetterQueueArn: this.alerting.runDeadLetters.arn,
        deadLetterQueueUrl: this.alerting.runDeadLetters.url,
        accountId,
        region,
      },
      parent,
    );

    // An accepted location's backfill request starts the backfill of its history.
    this.history = new HistoryRequests(
      name,
      {
        bucketName: applicationsBucketName,
        stateMachineArn: this.backfill.stateMachine.arn,
        accountId,
        dependsOn: [this.applications.notification],
      },
      parent,
    );

    const alarms = !config.alerts.alarmsEnabled
      ? []
      : createAlarms(
          `${name}-alarm`,
          {
            stack: name,
            topicArn: this.alerting.topic.arn,
            stateMachineArn: this.stateMachine.arn,
            functionNames: {
              plan: this.plan.function.name,
              ingest: this.ingest.function.name,
              transform: this.transform.function.name,
              intake: this.applications.processor.function.name,
              ...(load ? { load: load.function.name } : {}),
            },
            deadLetterQueueNames: {
              "run-dlq": this.alerting.runDeadLetters.name,
              "schedule-dlq": this.alerting.scheduleDeadLetters.name,
              "intake-dlq": this.applications.deadLetters.name,
              "history-dlq": this.history.deadLetters.name,
            },
            freshnessHours: config.alerts.freshnessHours,
          },
          parent,
        );

    this.dashboard = createDashboard(
      `${name}-dashboard`,
      {
        stack: name,
        region,
        stateMachineArn: this.stateMachine.arn,
        functions: {
          plan: { function: this.plan.function, timeoutSeconds: PLAN_TIMEOUT_SECONDS },
          ingest: {
            function: this.ingest.function,
            timeoutSeconds: config.ingest.timeoutSeconds,
            reservedConcurrency: config.reservedConcurrency.ingest,
          },
          transform: {
            function: this.transform.function,
            timeoutSeconds: config.transform.timeoutSeconds,
            reservedConcurrency: config.reservedConcurrency.transform,
          },
          intake: { function: this.applications.processor.function, timeoutSeconds: PROCESSOR_TIMEOUT_SECONDS },
          backfill: { function: this.backfill.plan.function, timeoutSeconds: BACKFILL_PLAN_TIMEOUT_SECONDS },
          ...(load && config.warehouse
            ? { load: { function: load.function, timeoutSeconds: config.warehouse.load.timeoutSeconds } }
            : {}),
        },
        deadLetterQueues: {
          run: this.alerting.runDeadLetters,
          schedule: this.alerting.scheduleDeadLetters,
          intake: this.applications.deadLetters,
          history: this.history.deadLetters,
        },
        deadLetterRetentionSeconds: MAX_RETENTION_SECONDS,
        alarms,
        freshnessHours: config.alerts.freshnessHours,
      },
      parent,
    );

    this.catalog = new QueryCatalog(
      `${name}-query`,
      {
        databaseName: glueDatabaseName(context.project, context.stack),
        curatedBucketName,
        hourlyVariables: settings.hourlyVariables,
        dailyVariables: settings.dailyVariables,
        columnNames: settings.columnNames,
        sources,
        resultsExpirationDays: config.athena.resultsExpirationDays,
        bytesScannedCutoffPerQuery: config.athena.bytesScannedCutoffPerQuery,
        exampleQueries: exampleQueries(settings),
      },
      parent,
    );

    this.registerOutputs({
      rawBucketName,
      curatedBucketName,
      stateMachineArn: this.stateMachine.arn,
      alertTopicArn: this.alerting.topic.arn,
      runDeadLetterQueueUrl: this.alerting.runDeadLetters.url,
    });
  }
}

/** Prefix of one data bucket's logs in the log bucket: "raw/" for `<name>-raw`. */
function accessLogPrefix(zone: string): string {
  return `${zone}/`;
}

/**
 * The log bucket and the logging of each data bucket into it under its own prefix. S3 writes
 * server access logs as the logging service, which the bucket policy lets write each prefix for
 * its source bucket of this account only (AWS's recommended aws:SourceArn and aws:SourceAccount).
 * Default encryption is SSE-S3: S3 cannot deliver access logs to a bucket whose default is SSE-KMS.
 */
function createAccessLogs(
  name: string,
  sources: Readonly<Record<string, DataBucket>>,
  options: {
    accountId: pulumi.Input<string>;
    expirationDays: number;
    protectData: boolean;
    parent: pulumi.Resource;
  },
): DataBucket {
  const zones = Object.entries(sources);
  const logs = new DataBucket(
    `${name}-access-logs`,
    {
      expirationDays: options.expirationDays,
      protectData: options.protectData,
      policyStatements: (logsArn) =>
        zones.map(([zone, source]) => ({
          Sid: `ServerAccessLogsOf${zone.charAt(0).toUpperCase()}${zone.slice(1)}`,
          Effect: "Allow",
          Principal: { Service: "logging.s3.amazonaws.com" },
          Action: "s3:PutObject",
          Resource: pulumi.interpolate`${logsArn}/${accessLogPrefix(zone)}*`,
          Condition: {
            ArnLike: { "aws:SourceArn": source.arn },
            StringEquals: { "aws:SourceAccount": options.accountId },
          },
        })),
    },
    { parent: options.parent },
  );
  for (const [zone, source] of zones) {
    new aws.s3.BucketLogging(
      `${name}-${zone}-access-logging`,
      {
        bucket: source.bucket.id,
        targetBucket: logs.bucket.id,
        targetPrefix: accessLogPrefix(zone),
        // Date-partitioned keys (<prefix><account>/<region>/<bucket>/YYYY/MM/DD/...), which Athena can project.
        targetObjectKeyFormat: { partitionedPrefix: { partitionDateSource: "EventTime" } },
      },
      // Logs written before the policy lets the logging service in would be lost.
      { parent: options.parent, dependsOn: [logs.policy] },
    );
  }
  return logs;
}
