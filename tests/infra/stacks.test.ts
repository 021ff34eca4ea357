import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import validateAsl from "asl-validator";
import { expect } from "chai";
import { parseStackConfigValues, type StackConfig } from "../../pipeline/infra/config";
import {
  MOCK_ACCOUNT,
  MOCK_REGION,
  PROJECT_DIR,
  SECRET_PLACEHOLDER,
  mockPhysicalName,
  readStackConfigFile,
  type PlannedResource,
} from "../../pipeline/local/plan";
import { curatedPartitionPrefix, rawBodyKey, requestManifestKey } from "../../pipeline/core/keys";
import { failedPlanOf, find, ofType, planOf } from "../support/plans";

const PROJECT = "weather-pipeline";
const STACKS = ["dev", "staging", "prod"] as const;

const T = {
  bucket: "aws:s3/bucket:Bucket",
  encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  publicAccess: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  ownership: "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
  bucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
  lifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
  versioning: "aws:s3/bucketVersioning:BucketVersioning",
  fn: "aws:lambda/function:Function",
  logGroup: "aws:cloudwatch/logGroup:LogGroup",
  role: "aws:iam/role:Role",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  attachment: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
  stateMachine: "aws:sfn/stateMachine:StateMachine",
  schedule: "aws:scheduler/schedule:Schedule",
  database: "aws:glue/catalogDatabase:CatalogDatabase",
  table: "aws:glue/catalogTable:CatalogTable",
  workgroup: "aws:athena/workgroup:Workgroup",
  topic: "aws:sns/topic:Topic",
  topicPolicy: "aws:sns/topicPolicy:TopicPolicy",
  subscription: "aws:sns/topicSubscription:TopicSubscription",
  key: "aws:kms/key:Key",
  queue: "aws:sqs/queue:Queue",
  queuePolicy: "aws:sqs/queuePolicy:QueuePolicy",
  alarm: "aws:cloudwatch/metricAlarm:MetricAlarm",
  logging: "aws:s3/bucketLogging:BucketLogging",
} as const;

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Principal?: unknown;
  Condition?: unknown;
}

function statementsOf(policy: unknown): Statement[] {
  return (JSON.parse(policy as string) as { Statement: Statement[] }).Statement;
}

/** Sid -> "action,action on resource,resource", to compare whole policies exactly. */
function policySummary(policy: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of statementsOf(policy)) {
    out[s.Sid ?? "?"] = `${[s.Action].flat().join(",")} on ${[s.Resource].flat().join(",")}`;
  }
  return out;
}

function configOf(stack: string): StackConfig {
  return parseStackConfigValues(readStackConfigFile(path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`)), PROJECT, stack);
}

const arnOfBucket = (logical: string) => `arn:aws:s3:::${mockPhysicalName(logical)}`;
const arnOfFunction = (name: string) => `arn:aws:lambda:${MOCK_REGION}:${MOCK_ACCOUNT}:function:${name}`;
const arnOf = (kind: "topic" | "key" | "queue" | "stateMachine", logical: string) => {
  const physical = mockPhysicalName(logical);
  switch (kind) {
    case "topic":
      return `arn:aws:sns:${MOCK_REGION}:${MOCK_ACCOUNT}:${physical}`;
    case "key":
      return `arn:aws:kms:${MOCK_REGION}:${MOCK_ACCOUNT}:key/${physical}`;
    case "queue":
      return `arn:aws:sqs:${MOCK_REGION}:${MOCK_ACCOUNT}:${physical}`;
    case "stateMachine":
      return `arn:aws:states:${MOCK_REGION}:${MOCK_ACCOUNT}:stateMachine:${physical}`;
  }
};
const urlOfQueue = (logical: string) =>
  `https://sqs.${MOCK_REGION}.amazonaws.com/${MOCK_ACCOUNT}/${mockPhysicalName(logical)}`;
const arnOfLogGroup = (name: string) => `arn:aws:logs:${MOCK_REGION}:${MOCK_ACCOUNT}:log-group:${name}`;

describe("infrastructure under Pulumi mocks", function () {
  // Each stack's program runs in its own process (ts-node and @pulumi/aws take a few seconds,
  // minutes when the shared machine is busy).
  this.timeout(600_000);
  const plans = new Map<string, PlannedResource[]>();

  before(async () => {
    const results = await Promise.all(STACKS.map((stack) => planOf(stack)));
    STACKS.forEach((stack, i) => plans.set(stack, results[i]!));
  });

  for (const stack of STACKS) {
    describe(`stack ${stack}`, () => {
      const prefix = `${PROJECT}-${stack}`;
      const plan = () => plans.get(stack)!;
      const config = configOf(stack);

      it("declares the data buckets, emptied on destroy only where data is not protected", () => {
        const buckets = ofType(plan(), T.bucket);
        expect(buckets.map((b) => b.name).sort()).to.deep.equal(
          [
            ...(config.accessLogs.enabled ? [`${prefix}-access-logs`] : []),
            `${prefix}-applications`,
            `${prefix}-curated`,
            `${prefix}-query-results`,
            `${prefix}-raw`,
          ].sort(),
        );
        for (const bucket of buckets) {
          // Query results are disposable in every stack.
          const keepsData = config.protectData && !bucket.name.endsWith("-query-results");
          expect(bucket.inputs["forceDestroy"], bucket.name).to.equal(!keepsData);
          expect(bucket.protect, bucket.name).to.equal(keepsData);
        }
      });

      for (const zone of ["raw", "curated", "query-results"]) {
        it(`encrypts the ${zone} bucket, blocks public access, enforces ownership and denies non-TLS requests`, () => {
          const bucket = `${prefix}-${zone}`;
          const encryption = find(plan(), T.encryption, `${bucket}-encryption`).inputs;
          expect(encryption["rules"]).to.deep.equal([
            { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true },
          ]);
          const pab = find(plan(), T.publicAccess, `${bucket}-public-access`).inputs;
          for (const flag of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]) {
            expect(pab[flag], flag).to.equal(true);
          }
          const ownership = find(plan(), T.ownership, `${bucket}-ownership`).inputs;
          expect(ownership["rule"]).to.deep.equal({ objectOwnership: "BucketOwnerEnforced" });
          const [deny, ...others] = statementsOf(find(plan(), T.bucketPolicy, `${bucket}-tls-only`).inputs["policy"]);
          expect(others).to.be.empty;
          expect(deny).to.deep.include({
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          });
          expect(deny!.Resource).to.deep.equal([arnOfBucket(bucket), `${arnOfBucket(bucket)}/*`]);
        });
      }

      it("logs every request to the raw and curated buckets where the stack says (prod)", () => {
        const logging = ofType(plan(), T.logging);
        if (!config.accessLogs.enabled) {
          expect(logging).to.be.empty;
          return;
        }
        const logs = `${prefix}-access-logs`;
        for (const zone of ["raw", "curated"]) {
          expect(find(plan(), T.logging, `${prefix}-${zone}-access-logging`).inputs).to.deep.equal({
            // The mocks give a resource the id <logical name>-id.
            bucket: `${prefix}-${zone}-id`,
            targetBucket: `${logs}-id`,
            targetPrefix: `${zone}/`,
            targetObjectKeyFormat: { partitionedPrefix: { partitionDateSource: "EventTime" } },
          });
        }
        expect(logging).to.have.length(2);
        // Server access logs can only be delivered to a bucket whose default encryption is SSE-S3.
        expect(find(plan(), T.encryption, `${logs}-encryption`).inputs["rules"]).to.deep.equal([
          { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true },
        ]);
        const pab = find(plan(), T.publicAccess, `${logs}-public-access`).inputs;
        for (const flag of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"]) {
          expect(pab[flag], flag).to.equal(true);
        }
        expect(find(plan(), T.ownership, `${logs}-ownership`).inputs["rule"]).to.deep.equal({
          objectOwnership: "BucketOwnerEnforced",
        });
        const statements = statementsOf(find(plan(), T.bucketPolicy, `${logs}-policy`).inputs["policy"]);
        const logsArn = arnOfBucket(logs);
        expect(statements.slice(0, 2)).to.deep.equal(
          ["raw", "curated"].map((zone) => ({
            Sid: `ServerAccessLogsOf${zone === "raw" ? "Raw" : "Curated"}`,
            Effect: "Allow",
            Principal: { Service: "logging.s3.amazonaws.com" },
            Action: "s3:PutObject",
            Resource: `${logsArn}/${zone}/*`,
            Condition: {
              ArnLike: { "aws:SourceArn": arnOfBucket(`${prefix}-${zone}`) },
              StringEquals: { "aws:SourceAccount": MOCK_ACCOUNT },
            },
          })),
        );
        expect(statements.slice(2).map((st) => st.Sid)).to.deep.equal(["DenyInsecureTransport"]);
        type Rule = { id: string; expiration?: { days: number } };
        const rules = find(plan(), T.lifecycle, `${logs}-lifecycle`).inputs["rules"] as Rule[];
        expect(rules.find((r) => r.id === "expire")?.expiration?.days).to.equal(config.accessLogs.expirationDays);
        const bucket = find(plan(), T.bucket, logs);
        expect(bucket.protect).to.equal(config.protectData);
        // Nothing but the logging service writes there: no role of the stack is granted the bucket.
        for (const rp of ofType(plan(), T.rolePolicy)) {
          expect(JSON.stringify(rp.inputs["policy"]), rp.name).to.not.contain(logsArn);
        }
      });

      it("catalogs both datasets in Glue with the stack's variables as columns and date projected", () => {
        const database = find(plan(), T.database, `${prefix}-query-database`).inputs;
        expect(database["name"]).to.equal(`weather_pipeline_${stack}`);
        const curated = mockPhysicalName(`${prefix}-curated`);
        const fixed = [
          { name: "location", type: "string" },
          { name: "latitude", type: "double" },
          { name: "longitude", type: "double" },
          { name: "elevation", type: "double" },
        ];
        const asColumns = (variables: readonly string[]) =>
          variables.map((v) => ({ name: v, type: ["sunrise", "sunset"].includes(v) ? "timestamp" : "double" }));
        const expected = {
          weather_hourly: [
            ...fixed,
            { name: "time", type: "timestamp" },
            ...asColumns(config.pipeline.hourlyVariables),
          ],
          weather_daily: [...fixed, ...asColumns(config.pipeline.dailyVariables)],
        };
        for (const dataset of ["weather_hourly", "weather_daily"] as const) {
          const table = find(plan(), T.table, `${prefix}-query-${dataset}`).inputs;
          expect(table["databaseName"]).to.equal(`weather_pipeline_${stack}`);
          expect(table["name"]).to.equal(dataset);
          expect(table["partitionKeys"]).to.deep.equal([
            { name: "date", type: "date", comment: "calendar day in the stack's time zone" },
          ]);
          const storage = table["storageDescriptor"] as {
            location: string;
            columns: { name: string; type: string }[];
            serDeInfo: { serializationLibrary: string };
          };
          expect(storage.columns).to.deep.equal(expected[dataset]);
          expect(storage.location).to.equal(`s3://${curated}/${dataset}/`);
          expect(storage.serDeInfo.serializationLibrary).to.equal(
            "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
          );
          const parameters = table["parameters"] as Record<string, string>;
          expect(parameters).to.include({
            "projection.enabled": "true",
            "projection.date.type": "date",
            "projection.date.format": "yyyy-MM-dd",
            "projection.date.interval": "1",
            "projection.date.interval.unit": "DAYS",
          });
          expect(parameters["projection.date.range"]).to.match(/^\d{4}-\d{2}-\d{2},NOW$/);
          // The template must point where the transform writes a date's file.
          expect(parameters["storage.location.template"]!.replace("${date}", "2026-11-20")).to.equal(
            `s3://${curated}/${curatedPartitionPrefix(dataset, "2026-11-20")}`,
          );
        }
      });

      it("catalogs each source in Glue from its declared columns, with date projected in the source's zone", () => {
        const curated = mockPhysicalName(`${prefix}-curated`);
        const tables = ofType(plan(), T.table).map((t) => t.inputs["name"] as string);
        expect(tables.sort()).to.deep.equal(
          ["weather_daily", "weather_hourly", ...config.sources.map((s) => `source_${s.name}`)].sort(),
        );
        const glueType = {
          double: "double",
          integer: "bigint",
          string: "string",
          boolean: "boolean",
          timestamp: "timestamp",
        };
        for (const source of config.sources) {
          const table = find(plan(), T.table, `${prefix}-query-source_${source.name}`).inputs;
          const storage = table["storageDescriptor"] as { location: string; columns: unknown[] };
          expect(storage.columns).to.deep.equal([
            { name: "time", type: "timestamp" },
            ...source.columns.map((c) => ({
              name: c.name,
              type: glueType[c.type],
              ...(c.unit === undefined ? {} : { comment: c.unit }),
            })),
          ]);
          expect(storage.location).to.equal(`s3://${curated}/source_${source.name}/`);
          expect(table["partitionKeys"]).to.deep.equal([
            { name: "date", type: "date", comment: `calendar day in ${source.time.timezone}` },
          ]);
          const parameters = table["parameters"] as Record<string, string>;
          expect(parameters).to.include({ "projection.enabled": "true", "projection.date.type": "date" });
          expect(parameters["storage.location.template"]!.replace("${date}", "2026-11-20")).to.equal(
            `s3://${curated}/source_${source.name}/date=2026-11-20/`,
          );
        }
      });

      it("gives Athena a workgroup with enforced settings, the stack's scan cutoff and expiring results", () => {
        const workgroup = find(plan(), T.workgroup, `${prefix}-query-workgroup`).inputs;
        const configuration = workgroup["configuration"] as {
          enforceWorkgroupConfiguration: boolean;
          bytesScannedCutoffPerQuery: number;
          resultConfiguration: { outputLocation: string; encryptionConfiguration: unknown };
        };
        expect(configuration.enforceWorkgroupConfiguration).to.equal(true);
        expect(configuration.bytesScannedCutoffPerQuery).to.equal(config.athena.bytesScannedCutoffPerQuery);
        expect(configuration.resultConfiguration.outputLocation).to.equal(
          `s3://${mockPhysicalName(`${prefix}-query-results`)}/results/`,
        );
        expect(configuration.resultConfiguration.encryptionConfiguration).to.deep.equal({ encryptionOption: "SSE_S3" });
        const rules = find(plan(), T.lifecycle, `${prefix}-query-results-lifecycle`).inputs["rules"] as {
          id: string;
          expiration?: { days: number };
        }[];
        expect(rules.find((r) => r.id === "expire")?.expiration?.days).to.equal(config.athena.resultsExpirationDays);
      });

      it("moves raw data to infrequent access and expires data as the stack says", () => {
        type Rule = { id: string; transitions?: unknown; expiration?: { days: number } };
        const raw = find(plan(), T.lifecycle, `${prefix}-raw-lifecycle`).inputs["rules"] as Rule[];
        const curated = find(plan(), T.lifecycle, `${prefix}-curated-lifecycle`).inputs["rules"] as Rule[];
        const ia = raw.find((r) => r.id === "to-infrequent-access");
        const movesToIa = config.rawExpirationDays === 0 || config.rawInfrequentAccessDays < config.rawExpirationDays;
        expect(ia?.transitions ?? null).to.deep.equal(
          movesToIa ? [{ days: config.rawInfrequentAccessDays, storageClass: "STANDARD_IA" }] : null,
        );
        const expiry = (rules: Rule[]) => rules.find((r) => r.id === "expire")?.expiration?.days ?? 0;
        expect(expiry(raw)).to.equal(config.rawExpirationDays);
        expect(expiry(curated)).to.equal(config.curatedExpirationDays);
        expect(find(plan(), T.versioning, `${prefix}-raw-versioning`).inputs["versioningConfiguration"]).to.deep.equal({
          status: "Enabled",
        });
      });

      for (const role of ["ingest", "transform"] as const) {
        it(`runs ${role} on nodejs22.x with the stack's memory, timeout and its own role and log group`, () => {
          const name = `${prefix}-${role}`;
          const fn = find(plan(), T.fn, name).inputs;
          expect(fn["runtime"]).to.equal("nodejs22.x");
          expect(fn["memorySize"]).to.equal(config[role].memoryMb);
          expect(fn["timeout"]).to.equal(config[role].timeoutSeconds);
          expect(fn["handler"]).to.equal("__index.handler");
          expect(fn["role"]).to.equal(`arn:aws:iam::${MOCK_ACCOUNT}:role/${mockPhysicalName(`${name}-role`)}`);
          const logGroup = find(plan(), T.logGroup, `${name}-logs`).inputs;
          expect(logGroup["name"]).to.equal(`/aws/lambda/${name}`);
          expect(logGroup["retentionInDays"]).to.equal(config.logRetentionDays);
          expect(fn["loggingConfig"]).to.deep.include({ logGroup: `/aws/lambda/${name}` });
          const trust = statementsOf(find(plan(), T.role, `${name}-role`).inputs["assumeRolePolicy"]);
          expect(trust).to.deep.equal([
            { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
          ]);
        });
      }

      it("grants each role exactly the actions and resources it uses", () => {
        const raw = arnOfBucket(`${prefix}-raw`);
        const curated = arnOfBucket(`${prefix}-curated`);
        const applications = arnOfBucket(`${prefix}-applications`);
        const logs = (fn: string) => `${arnOfLogGroup(`/aws/lambda/${prefix}-${fn}`)}:log-stream:*`;
        const policy = (name: string) => policySummary(find(plan(), T.rolePolicy, name).inputs["policy"]);
        // Plan and ingest read the applications registry, and nothing else of its bucket.
        const registry = {
          ListApplicationRegistry: `s3:ListBucket on ${applications}`,
          ReadApplicationRegistry: `s3:GetObject on ${applications}/applications/registry.json`,
        };
        expect(policy(`${prefix}-plan-policy`)).to.deep.equal({
          ListRawDates: `s3:ListBucket on ${raw}`,
          ListCuratedDates: `s3:ListBucket on ${curated}`,
          ...registry,
          WriteOwnLogs: `logs:CreateLogStream,logs:PutLogEvents on ${logs("plan")}`,
        });
        // A source's objects, and only where the stack has sources.
        const names = config.sources.map((s) => s.name);
        const sourceRaw = names.map((n) => `${raw}/sources/${n}/*`).join(",");
        const ingestSources =
          names.length === 0
            ? {}
            : {
                GetSourceState: `s3:GetObject on ${sourceRaw}`,
                PutSourceObjects: `s3:PutObject on ${sourceRaw}`,
                TellMissingSourceObjects: `s3:ListBucket on ${raw}`,
              };
        const transformSources =
          names.length === 0
            ? {}
            : {
                GetSourceObjects: `s3:GetObject on ${sourceRaw}`,
                PutSourceRecords: `s3:PutObject on ${names
                  .flatMap((n) => [`${raw}/sources/${n}/transformed.json`, `${raw}/sources/${n}/files/*.rejects.jsonl`])
                  .join(",")}`,
                ReadWriteSourceTables: `s3:GetObject,s3:PutObject on ${names.map((n) => `${curated}/source_${n}/*`).join(",")}`,
                TellMissingSourceFiles: `s3:ListBucket on ${curated}`,
              };
        expect(names.length > 0, "dev and staging have the sample source").to.equal(stack !== "prod");
        expect(policy(`${prefix}-ingest-policy`)).to.deep.equal({
          PutRawObjects: `s3:PutObject on ${raw}/open-meteo/*`,
          ...registry,
          ListBackfillWindows: `s3:ListBucket on ${raw}`,
          WriteOwnLogs: `logs:CreateLogStream,logs:PutLogEvents on ${logs("ingest")}`,
          ...ingestSources,
        });
        const ingestListing = statementsOf(find(plan(), T.rolePolicy, `${prefix}-ingest-policy`).inputs["policy"]);
        expect(ingestListing.find((st) => st.Sid === "ListBackfillWindows")?.Condition).to.deep.equal({
          StringLike: { "s3:prefix": ["open-meteo/forecast/backfill/*", "open-meteo/archive/backfill/*"] },
        });
        // The backfill: its planner lists curated partitions, reads history requests and the
        // registry (an accepted location's history); its state machine starts its own children
        // (Distributed Map) and nothing else.
        expect(policy(`${prefix}-backfill-policy`)).to.deep.equal({
          ListCuratedDates: `s3:ListBucket on ${curated}`,
          ReadHistoryRequests: `s3:GetObject on ${applications}/applications/backfill-requests/*`,
          ...registry,
          WriteOwnLogs: `logs:CreateLogStream,logs:PutLogEvents on ${logs("backfill")}`,
        });
        const backfillArn = `arn:aws:states:${MOCK_REGION}:${MOCK_ACCOUNT}:stateMachine:${prefix}-backfill`;
        const children = `arn:aws:states:${MOCK_REGION}:${MOCK_ACCOUNT}:execution:${prefix}-backfill`;
        // The warehouse's load function only where the stack has one (staging and prod, not dev).
        const backfillFns = ["backfill", "ingest", "transform", ...(config.warehouse ? ["load"] : [])].map((f) =>
          arnOfFunction(`${prefix}-${f}`),
        );
        expect(backfillFns.some((f) => f.endsWith("-load"))).to.equal(stack !== "dev");
        expect(policy(`${prefix}-bf-run-policy`)).to.deep.equal({
          InvokePipelineFunctions: `lambda:InvokeFunction on ${backfillFns.flatMap((f) => [f, `${f}:*`]).join(",")}`,
          StartWindowExecutions: `states:StartExecution on ${backfillArn}`,
          FollowWindowExecutions: `states:DescribeExecution,states:StopExecution on ${children}/*`,
          RedriveWindowExecutions: `states:RedriveExecution on ${children}/Window:*`,
          PublishAlerts: `sns:Publish on ${arnOf("topic", `${prefix}-alerts-topic`)}`,
          EncryptAlerts: `kms:Decrypt,kms:GenerateDataKey on ${arnOf("key", `${prefix}-alerts-key`)}`,
          DeadLetterFailedWindows: `sqs:SendMessage on ${arnOf("queue", `${prefix}-alerts-run-dlq`)}`,
        });
        expect(find(plan(), T.stateMachine, `${prefix}-backfill`).inputs["name"]).to.equal(`${prefix}-backfill`);
        expect(policy(`${prefix}-transform-policy`)).to.deep.equal({
          GetRawObjects: `s3:GetObject on ${raw}/open-meteo/*`,
          TellMissingRawObjects: `s3:ListBucket on ${raw}`,
          PutCuratedObjects: `s3:PutObject on ${curated}/weather_hourly/*,${curated}/weather_daily/*`,
          // A location's history writes the dates again from the raw keys their files list.
          GetCuratedObjects: `s3:GetObject on ${curated}/weather_hourly/*,${curated}/weather_daily/*`,
          TellMissingCuratedObjects: `s3:ListBucket on ${curated}`,
          WriteOwnLogs: `logs:CreateLogStream,logs:PutLogEvents on ${logs("transform")}`,
          ...transformSources,
        });
        const conditions = (role: string) =>
          statementsOf(find(plan(), T.rolePolicy, `${prefix}-${role}-policy`).inputs["policy"])
            .filter((st) => st.Condition !== undefined)
            .map((st) => st.Condition);
        expect(conditions("ingest")).to.deep.equal([
          // The backfill's windows (ListBackfillWindows), the applications' registry (its one key),
          // then each source's own prefix.
          { StringLike: { "s3:prefix": ["open-meteo/forecast/backfill/*", "open-meteo/archive/backfill/*"] } },
          { StringEquals: { "s3:prefix": ["applications/registry.json"] } },
          ...(names.length === 0 ? [] : [{ StringLike: { "s3:prefix": names.map((n) => `sources/${n}/*`) } }]),
        ]);
        expect(conditions("transform")).to.deep.equal([
          { StringLike: { "s3:prefix": ["open-meteo/forecast/date=*", "open-meteo/archive/date=*"] } },
          { StringLike: { "s3:prefix": ["weather_hourly/date=*", "weather_daily/date=*"] } },
          ...(names.length === 0 ? [] : [{ StringLike: { "s3:prefix": names.map((n) => `source_${n}/date=*`) } }]),
        ]);
        // The warehouse's load function where the stack has one (its own policy: tests/infra/warehouse.test.ts).
        const roles = config.warehouse ? ["plan", "ingest", "transform", "load"] : ["plan", "ingest", "transform"];
        const fns = roles.map((f) => arnOfFunction(`${prefix}-${f}`));
        expect(policy(`${prefix}-run-policy`)).to.deep.equal({
          InvokePipelineFunctions: `lambda:InvokeFunction on ${fns.flatMap((f) => [f, `${f}:*`]).join(",")}`,
          PublishAlerts: `sns:Publish on ${arnOf("topic", `${prefix}-alerts-topic`)}`,
          EncryptAlerts: `kms:Decrypt,kms:GenerateDataKey on ${arnOf("key", `${prefix}-alerts-key`)}`,
          DeadLetterFailedRuns: `sqs:SendMessage on ${arnOf("queue", `${prefix}-alerts-run-dlq`)}`,
        });
        expect(policy(`${prefix}-schedule-policy`)).to.deep.equal({
          StartDailyRun: `states:StartExecution on ${arnOf("stateMachine", `${prefix}-run`)}`,
          DeadLetterUnstartedRuns: `sqs:SendMessage on ${arnOf("queue", `${prefix}-alerts-schedule-dlq`)}`,
        });
        // The planner may list only the prefixes the pipeline writes.
        const listing = statementsOf(find(plan(), T.rolePolicy, `${prefix}-plan-policy`).inputs["policy"]);
        expect(listing.map((st) => st.Condition)).to.deep.equal([
          { StringLike: { "s3:prefix": ["open-meteo/forecast/date=*", "open-meteo/archive/date=*"] } },
          { StringLike: { "s3:prefix": ["weather_hourly/date=*", "weather_daily/date=*"] } },
          { StringEquals: { "s3:prefix": ["applications/registry.json"] } },
          undefined,
          undefined,
        ]);
        // The transform may list exactly the prefixes it reads: S3 then answers a missing manifest
        // with 404 (its clear "re-run ingest" error), as it does only to a reader allowed to list.
        const transform = statementsOf(find(plan(), T.rolePolicy, `${prefix}-transform-policy`).inputs["policy"]);
        expect(transform.find((st) => st.Sid === "TellMissingCuratedObjects")?.Condition).to.deep.equal({
          StringLike: { "s3:prefix": ["weather_hourly/date=*", "weather_daily/date=*"] },
        });
        expect(transform.find((st) => st.Sid === "TellMissingRawObjects")?.Condition).to.deep.equal({
          StringLike: { "s3:prefix": ["open-meteo/forecast/date=*", "open-meteo/archive/date=*"] },
        });
        // Every key the transform reads falls under one of those prefixes.
        const read = rawBodyKey("archive", "2026-11-20", "abc");
        for (const key of [read, requestManifestKey(read)]) {
          expect(
            ["open-meteo/forecast/date=", "open-meteo/archive/date="].some((p) => key.startsWith(p)),
            key,
          ).to.equal(true);
        }
      });

      it("encrypts the alert topic and both dead-letter queues, and lets only CloudWatch alarms publish", () => {
        const topic = find(plan(), T.topic, `${prefix}-alerts-topic`).inputs;
        expect(topic["kmsMasterKeyId"]).to.equal(arnOf("key", `${prefix}-alerts-key`));
        const topicStatements = statementsOf(
          find(plan(), T.topicPolicy, `${prefix}-alerts-topic-policy`).inputs["policy"],
        );
        const allows = topicStatements.filter((st) => st.Effect === "Allow");
        expect(allows).to.deep.equal([
          {
            Sid: "AlarmsOfThisAccountPublish",
            Effect: "Allow",
            Principal: { Service: "cloudwatch.amazonaws.com" },
            Action: "sns:Publish",
            Resource: arnOf("topic", `${prefix}-alerts-topic`),
            Condition: {
              StringEquals: { "aws:SourceAccount": MOCK_ACCOUNT },
              ArnLike: { "aws:SourceArn": `arn:aws:cloudwatch:${MOCK_REGION}:${MOCK_ACCOUNT}:alarm:*` },
            },
          },
        ]);
        const key = statementsOf(find(plan(), T.key, `${prefix}-alerts-key`).inputs["policy"]);
        expect(key.map((st) => st.Principal)).to.deep.equal([
          { AWS: `arn:aws:iam::${MOCK_ACCOUNT}:root` },
          { Service: "cloudwatch.amazonaws.com" },
        ]);
        for (const dlq of ["run-dlq", "schedule-dlq"]) {
          const queue = find(plan(), T.queue, `${prefix}-alerts-${dlq}`).inputs;
          expect(queue["sqsManagedSseEnabled"], dlq).to.equal(true);
          expect(queue["messageRetentionSeconds"], dlq).to.equal(14 * 24 * 3600);
          const queueStatements = statementsOf(
            find(plan(), T.queuePolicy, `${prefix}-alerts-${dlq}-policy`).inputs["policy"],
          );
          // No resource policy grants anyone: senders are allowed by their own roles only.
          expect(
            queueStatements.filter((st) => st.Effect === "Allow"),
            dlq,
          ).to.be.empty;
        }
        const subscriptions = ofType(plan(), T.subscription);
        expect(subscriptions.map((sub) => sub.inputs["endpoint"])).to.deep.equal(
          config.alerts.email ? [config.alerts.email] : [],
        );
      });

      it("alarms on failed runs, Lambda errors and throttles, waiting dead letters and stale data, where enabled", () => {
        const alarms = ofType(plan(), T.alarm);
        if (!config.alerts.alarmsEnabled) {
          expect(alarms).to.be.empty;
          return;
        }
        expect(alarms.map((a) => a.name.slice(`${prefix}-alarm-`.length)).sort()).to.deep.equal(
          [
            "data-stale",
            "history-dlq-waiting",
            "ingest-errors",
            "ingest-throttles",
            "intake-dlq-waiting",
            "intake-errors",
            "intake-throttles",
            "plan-errors",
            "plan-throttles",
            "run-dlq-waiting",
            "run-failed",
            "schedule-dlq-waiting",
            "transform-errors",
            "transform-throttles",
            ...(config.warehouse ? ["load-errors", "load-throttles"] : []),
          ].sort(),
        );
        for (const alarm of alarms) {
          expect(alarm.inputs["alarmActions"], alarm.name).to.deep.equal([arnOf("topic", `${prefix}-alerts-topic`)]);
        }
        const stale = find(plan(), T.alarm, `${prefix}-alarm-data-stale`).inputs;
        expect(stale).to.deep.include({
          namespace: "WeatherPipeline",
          metricName: "CuratedPartitionsWritten",
          dimensions: { Stack: prefix },
          evaluationPeriods: config.alerts.freshnessHours,
          period: 3600,
          treatMissingData: "breaching",
        });
      });

      it("reserves concurrency where the stack asks, and leaves the rest unreserved", () => {
        for (const role of ["ingest", "transform"] as const) {
          const fn = find(plan(), T.fn, `${prefix}-${role}`).inputs;
          expect(fn["reservedConcurrentExecutions"], role).to.equal(config.reservedConcurrency[role] ?? -1);
        }
      });

      it("uses no wildcard action, no bare wildcard resource and no managed policy", () => {
        expect(ofType(plan(), T.attachment), "managed policy attachments").to.be.empty;
        for (const rp of ofType(plan(), T.rolePolicy)) {
          for (const s of statementsOf(rp.inputs["policy"])) {
            for (const action of [s.Action].flat()) {
              expect(action, `${rp.name} ${s.Sid}`).to.match(/^[a-z0-9-]+:[A-Za-z]+$/);
            }
            for (const resource of [s.Resource].flat()) {
              // EC2's Describe actions accept no resource but "*" (a function in a VPC needs two of them).
              const describeOnly = [s.Action].flat().every((a) => /^ec2:Describe[A-Za-z]+$/.test(a));
              if (resource === "*" && describeOnly) continue;
              expect(resource, `${rp.name} ${s.Sid}`).to.match(/^arn:aws:[a-z0-9-]+:/);
            }
          }
        }
      });

      it("declares a valid state machine where every task retries and every failure alerts and dead-letters", () => {
        type State = {
          Type: string;
          Next?: string;
          End?: boolean;
          Default?: string;
          Choices?: { Next: string }[];
          Parameters?: Record<string, unknown>;
          Retry?: { BackoffRate: number; MaxAttempts: number }[];
          Catch?: { Next: string }[];
          ItemProcessor?: { StartAt: string; States: Record<string, State> };
        };
        // Confused deputy: only a state machine of this account and region may assume the role.
        expect(statementsOf(find(plan(), T.role, `${prefix}-run-role`).inputs["assumeRolePolicy"])).to.deep.equal([
          {
            Effect: "Allow",
            Principal: { Service: "states.amazonaws.com" },
            Action: "sts:AssumeRole",
            Condition: {
              ArnLike: { "aws:SourceArn": `arn:aws:states:${MOCK_REGION}:${MOCK_ACCOUNT}:stateMachine:*` },
              StringEquals: { "aws:SourceAccount": MOCK_ACCOUNT },
            },
          },
        ]);
        const definition = JSON.parse(find(plan(), T.stateMachine, `${prefix}-run`).inputs["definition"] as string) as {
          StartAt: string;
          States: Record<string, State>;
        };
        const result = validateAsl(definition, { checkPaths: true, checkArn: true });
        expect(result.errors, JSON.stringify(result.errors)).to.be.empty;
        expect(definition.StartAt).to.equal("PlanRun");
        const each = definition.States["EachDate"]!;
        // One date at a time, so one request in flight per run, with no reserved concurrency.
        expect((each as { MaxConcurrency?: number }).MaxConcurrency).to.equal(1);
        const inner = each.ItemProcessor!.States;
        expect(definition.States["PlanRun"]?.Parameters?.["FunctionName"]).to.equal(arnOfFunction(`${prefix}-plan`));
        expect(inner["Ingest"]?.Parameters?.["FunctionName"]).to.equal(arnOfFunction(`${prefix}-ingest`));
        expect(inner["Transform"]?.Parameters?.["FunctionName"]).to.equal(arnOfFunction(`${prefix}-transform`));
        // From every Catch, the path must reach an SNS publish, then an SQS send, then a Fail.
        const walk = (states: Record<string, State>, from: string): string[] => {
          const path: string[] = [];
          for (let name: string | undefined = from; name; name = states[name]?.Next) path.push(name);
          return path.map((n) => {
            const state = states[n]!;
            return state.Type === "Task" ? String((state as { Resource?: string }).Resource) : state.Type;
          });
        };
        const failurePath = ["Pass", "arn:aws:states:::sns:publish", "arn:aws:states:::sqs:sendMessage", "Fail"];
        // A source's failure alerts and dead-letters, then ends its iteration marked failed (the
        // other sources still run), and the run then fails (checked below).
        const sourcePath = ["Pass", "arn:aws:states:::sns:publish", "arn:aws:states:::sqs:sendMessage", "Pass"];
        const perSource = definition.States["EachSource"]?.ItemProcessor?.States ?? {};
        expect(Object.keys(perSource).length > 0, "sources states").to.equal(config.sources.length > 0);
        for (const [scope, states, path] of [
          ["top", definition.States, failurePath],
          ["per date", inner, failurePath],
          ["per source", perSource, sourcePath],
        ] as const) {
          for (const [name, state] of Object.entries(states)) {
            if (state.Type !== "Task" || !String((state as { Resource?: string }).Resource).includes("lambda"))
              continue;
            expect(state.Retry, `${scope} ${name}`).to.not.be.empty;
            for (const retry of state.Retry!) expect(retry.BackoffRate).to.be.greaterThan(1);
            expect(walk(states, state.Catch![0]!.Next), `${scope} ${name}`).to.deep.equal(path);
          }
        }
        if (config.sources.length > 0) {
          expect(perSource["FetchSource"]?.Parameters?.["FunctionName"]).to.equal(arnOfFunction(`${prefix}-ingest`));
          expect(perSource["TransformSource"]?.Parameters?.["FunctionName"]).to.equal(
            arnOfFunction(`${prefix}-transform`),
          );
          expect((perSource["SourceFailed"] as { Result?: unknown }).Result).to.equal(true);
          expect((definition.States["ListSources"] as { Result?: unknown }).Result).to.deep.equal(
            config.sources.map((s) => ({ source: s.name })),
          );
          // A failed date still lets the sources run, and either failure fails the run.
          expect(definition.States["EachDate"]!.Catch![0]!.Next).to.equal("DatesFailed");
          expect(walk(definition.States, "DatesFailed")).to.deep.equal(["Pass", "Pass", "Map", "Pass", "Choice"]);
          const outcome = definition.States["AllSucceeded"]!;
          expect(outcome.Choices![0]!.Next).to.equal("RunFailed");
          expect(outcome.Default).to.equal("RunSucceeded");
        }
        const deadLetter = inner["DeadLetterDate"]!.Parameters!;
        expect(deadLetter["QueueUrl"]).to.equal(urlOfQueue(`${prefix}-alerts-run-dlq`));
        expect(inner["AlertDateFailure"]!.Parameters!["TopicArn"]).to.equal(arnOf("topic", `${prefix}-alerts-topic`));
      });

      it("declares a valid backfill state machine: a Distributed Map with the stack's concurrency, no failure tolerated, every failure alerting", () => {
        type State = Record<string, unknown> & { Type: string; Next?: string; Catch?: { Next: string }[] };
        const definition = JSON.parse(
          find(plan(), T.stateMachine, `${prefix}-backfill`).inputs["definition"] as string,
        ) as { StartAt: string; States: Record<string, State> };
        const result = validateAsl(definition, { checkPaths: true, checkArn: true });
        expect(result.errors, JSON.stringify(result.errors)).to.be.empty;
        const map = definition.States["EachWindow"]!;
        expect(map).to.deep.include({
          Type: "Map",
          ItemsPath: "$.windows",
          MaxConcurrency: config.backfill.maxConcurrency,
          ToleratedFailurePercentage: 0,
          ToleratedFailureCount: 0,
          Label: "Window",
        });
        const processor = map["ItemProcessor"] as { ProcessorConfig: unknown; States: Record<string, State> };
        expect(processor.ProcessorConfig).to.deep.equal({ Mode: "DISTRIBUTED", ExecutionType: "STANDARD" });
        const inner = processor.States;
        expect(inner["WaitForRateLimit"]).to.deep.include({
          Type: "Wait",
          TimestampPath: "$.resumeAt",
          Next: "IngestWindow",
        });
        expect((inner["IngestWindow"]!["Parameters"] as Record<string, unknown>)["FunctionName"]).to.equal(
          arnOfFunction(`${prefix}-ingest`),
        );
        for (const name of ["IngestWindow", "TransformWindow"]) {
          let next: string | undefined = inner[name]!.Catch![0]!.Next;
          const path: string[] = [];
          while (next) {
            const state: State = inner[next]!;
            path.push(state.Type === "Task" ? String(state["Resource"]) : state.Type);
            next = state.Next;
          }
          expect(path, name).to.deep.equal([
            "Pass",
            "arn:aws:states:::sns:publish",
            "arn:aws:states:::sqs:sendMessage",
            "Fail",
          ]);
        }
        expect((inner["DeadLetterWindow"]!["Parameters"] as Record<string, unknown>)["QueueUrl"]).to.equal(
          urlOfQueue(`${prefix}-alerts-run-dlq`),
        );
      });

      it("schedules the run with the stack's cron and time zone, through a role allowed to start it", () => {
        const schedule = find(plan(), T.schedule, `${prefix}-daily`).inputs;
        expect(schedule["scheduleExpression"]).to.equal(`cron(${config.schedule.cron})`);
        expect(schedule["scheduleExpressionTimezone"]).to.equal(config.pipeline.timezone);
        expect(schedule["state"]).to.equal(config.schedule.enabled ? "ENABLED" : "DISABLED");
        const target = schedule["target"] as { arn: string; roleArn: string; input: string };
        expect(target.arn).to.equal(
          `arn:aws:states:${MOCK_REGION}:${MOCK_ACCOUNT}:stateMachine:${mockPhysicalName(`${prefix}-run`)}`,
        );
        expect(target.roleArn).to.equal(
          `arn:aws:iam::${MOCK_ACCOUNT}:role/${mockPhysicalName(`${prefix}-schedule-role`)}`,
        );
        expect(JSON.parse(target.input)).to.deep.equal({});
        expect((schedule["target"] as { deadLetterConfig: unknown }).deadLetterConfig).to.deep.equal({
          arn: arnOf("queue", `${prefix}-alerts-schedule-dlq`),
        });
        // Confused deputy: only a schedule of this account's default group may assume the role.
        const trust = statementsOf(find(plan(), T.role, `${prefix}-schedule-role`).inputs["assumeRolePolicy"]);
        expect(trust).to.deep.equal([
          {
            Effect: "Allow",
            Principal: { Service: "scheduler.amazonaws.com" },
            Action: "sts:AssumeRole",
            Condition: {
              StringEquals: {
                "aws:SourceAccount": MOCK_ACCOUNT,
                "aws:SourceArn": `arn:aws:scheduler:${MOCK_REGION}:${MOCK_ACCOUNT}:schedule-group/default`,
              },
            },
          },
        ]);
        expect(schedule["groupName"] ?? "default").to.equal("default");
      });
    });
  }

  it("names every resource after project and stack, so stacks never collide", () => {
    const seen = new Map<string, string>();
    for (const stack of STACKS) {
      for (const r of plans.get(stack)!) {
        expect(r.name.startsWith(`${PROJECT}-${stack}`), `${r.type} ${r.name}`).to.equal(true);
        // What AWS keys the resource by: Glue tables and saved queries live inside a database or workgroup.
        const scope = r.inputs["databaseName"] ?? r.inputs["workgroup"] ?? "";
        const physical = `${r.type}|${JSON.stringify(scope)}|${mockPhysicalName(r.name, r.inputs)}`;
        expect(seen.get(physical), `${physical} in ${stack}`).to.equal(undefined);
        seen.set(physical, stack);
      }
    }
  });

  it("reserves no concurrency in any stack it ships: new accounts (quota 10) could not deploy it", () => {
    for (const stack of STACKS) {
      for (const fn of ofType(plans.get(stack)!, T.fn)) {
        expect(fn.inputs["reservedConcurrentExecutions"], `${stack} ${fn.name}`).to.equal(-1);
      }
    }
  });

  describe("with reserved concurrency", () => {
    const stackFile = (lines: string[]) => {
      const dir = mkdtempSync(path.join(tmpdir(), "reserved-"));
      const file = path.join(dir, "Pulumi.reserved.yaml");
      writeFileSync(file, ["config:", ...lines.map((l) => `  ${l}`)].join("\n"));
      return file;
    };

    it("reserves what the stack asks when the account's quota leaves Lambda's 100 unreserved", async () => {
      const plan = await planOf("reserved", stackFile(["weather-pipeline:ingestReservedConcurrency: 1"]));
      expect(find(plan, T.fn, "weather-pipeline-reserved-ingest").inputs["reservedConcurrentExecutions"]).to.equal(1);
      expect(find(plan, T.fn, "weather-pipeline-reserved-transform").inputs["reservedConcurrentExecutions"]).to.equal(
        -1,
      );
    });

    it("fails the plan, naming the keys, the quota and the fix, when too few would stay unreserved", async () => {
      // The plan answers Service Quotas with AWS's default quota, 1,000.
      const { exitCode, stderr } = await failedPlanOf(
        "reserved",
        stackFile([
          "weather-pipeline:ingestReservedConcurrency: 600",
          "weather-pipeline:transformReservedConcurrency: 301",
        ]),
      );
      expect(exitCode).to.not.equal(0);
      expect(stderr).to.contain(
        "weather-pipeline:ingestReservedConcurrency is 600 and weather-pipeline:transformReservedConcurrency is 301, " +
          "but the account's Lambda quota of concurrent executions in eu-west-1 is 1000",
      );
      expect(stderr).to.contain("set them to 0");
    });
  });

  it("plans a stack that has no config file, on the defaults", async () => {
    const plan = await planOf("sandbox");
    expect(
      ofType(plan, T.fn)
        .map((f) => f.name)
        .sort(),
    ).to.deep.equal([
      "weather-pipeline-sandbox-backfill",
      "weather-pipeline-sandbox-ingest",
      "weather-pipeline-sandbox-intake",
      "weather-pipeline-sandbox-plan",
      "weather-pipeline-sandbox-transform",
    ]);
    expect(ofType(plan, T.bucket).every((b) => !b.protect && b.inputs["forceDestroy"] === true)).to.equal(true);
    // A new stack fetches no source: no source table, no source state.
    expect(
      ofType(plan, T.table)
        .map((t) => t.inputs["name"] as string)
        .sort(),
    ).to.deep.equal(["weather_daily", "weather_hourly"]);
    const definition = find(plan, T.stateMachine, "weather-pipeline-sandbox-run").inputs["definition"] as string;
    expect(Object.keys((JSON.parse(definition) as { States: object }).States)).to.not.include("EachSource");
  });

  describe("with an Open-Meteo API key", () => {
    const KEY = "om-test-key-7f3a9c2e";
    const stackFile = (apiKey: unknown) => {
      const dir = mkdtempSync(path.join(tmpdir(), "api-key-"));
      const file = path.join(dir, "Pulumi.keyed.yaml");
      const base = readFileSync(path.join(PROJECT_DIR, "Pulumi.staging.yaml"), "utf8");
      writeFileSync(file, `${base.trimEnd()}\n  weather-pipeline:apiKey: ${JSON.stringify(apiKey)}\n`);
      return file;
    };

    it("keeps the key in Secrets Manager only, readable by ingest alone, and nowhere else in the program", async () => {
      const plan = await planOf("keyed", stackFile({ secure: KEY }));
      const prefix = "weather-pipeline-keyed";
      const version = find(plan, "aws:secretsmanager/secretVersion:SecretVersion", `${prefix}-api-key-value`);
      // The value reaches Secrets Manager as a secret, and the plan (like a preview) never shows it.
      expect(version.inputs["secretString"]).to.equal(SECRET_PLACEHOLDER);
      // Every input of every resource, Lambda code included, is searched for the value.
      for (const resource of plan) {
        expect(JSON.stringify(resource.inputs), `${resource.type} ${resource.name}`).to.not.contain(KEY);
      }
      // A secret Output anywhere else (an environment variable, captured in code) would show as a
      // placeholder too: the SecretVersion must be the only one.
      const secretInputs = plan.filter((r) => JSON.stringify(r.inputs).includes(SECRET_PLACEHOLDER));
      expect(secretInputs.map((r) => r.name)).to.deep.equal([`${prefix}-api-key-value`]);
      const secretArn = `arn:aws:secretsmanager:${MOCK_REGION}:${MOCK_ACCOUNT}:secret:${mockPhysicalName(`${prefix}-api-key`)}`;
      const readers = ofType(plan, T.rolePolicy).filter((rp) =>
        statementsOf(rp.inputs["policy"]).some(
          (st) =>
            [st.Action].flat().includes("secretsmanager:GetSecretValue") && [st.Resource].flat().includes(secretArn),
        ),
      );
      expect(readers.map((rp) => rp.name)).to.deep.equal([`${prefix}-ingest-policy`]);
      expect(policySummary(readers[0]!.inputs["policy"])["ReadApiKey"]).to.equal(
        `secretsmanager:GetSecretValue on ${secretArn}`,
      );
      // The ingest code carries the secret's ARN, never its value.
      const code = find(plan, T.fn, `${prefix}-ingest`).inputs["code"] as { assets: Record<string, { text?: string }> };
      expect(code.assets["__index.js"]!.text).to.contain(secretArn);
    });

    it("refuses a key set in plain text, which would sit unencrypted in the stack file", async () => {
      const { stderr } = await failedPlanOf("keyed", stackFile(KEY));
      expect(stderr).to.contain("weather-pipeline:apiKey is set in plain text");
      expect(stderr).to.contain("pulumi config set --secret apiKey");
      expect(stderr).to.not.contain(KEY);
    });
  });

  it("fails the plan on a bad config value, naming the key, the value and the fix", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "bad-config-"));
    const file = path.join(dir, "Pulumi.bad.yaml");
    writeFileSync(
      file,
      [
        "config:",
        "  weather-pipeline:locations:",
        "    - { name: nowhere, latitude: 123.4, longitude: 0 }",
        "  weather-pipeline:schedule:",
        "    cron: 0 6 * * ? *",
      ].join("\n"),
    );
    const { exitCode, stderr } = await failedPlanOf("bad", file);
    expect(exitCode).to.not.equal(0);
    expect(stderr).to.contain("weather-pipeline:locations[0].latitude is 123.4; it must be between -90 and 90");
    expect(stderr).to.contain("weather-pipeline:schedule is not a config key of this project");
  });
});
