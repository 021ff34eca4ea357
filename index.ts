/**
 * The Pulumi program: one daily weather pipeline per stack, shaped by Pulumi.<stack>.yaml.
 */
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig, readApiKeyConfig } from "./pipeline/infra/config";
import { WeatherPipeline } from "./pipeline/infra/weather-pipeline";

const config = loadStackConfig();
// Project and stack in every name: several stacks share one account and region.
const project = pulumi.getProject();
const stack = pulumi.getStack();
const pipeline = new WeatherPipeline(`${project}-${stack}`, config, { project, stack, apiKey: readApiKeyConfig() });

export const rawBucketName = pipeline.rawBucket.name;
export const curatedBucketName = pipeline.curatedBucket.name;
/** Server access logs of both data buckets (who read or wrote what); undefined unless accessLogging. */
export const accessLogBucketName = pipeline.accessLogs?.name;
export const stateMachineArn = pipeline.stateMachine.arn;
export const planFunctionName = pipeline.plan.function.name;
export const ingestFunctionName = pipeline.ingest.function.name;
export const transformFunctionName = pipeline.transform.function.name;
export const scheduleState = pipeline.schedule.state;
export const alertTopicArn = pipeline.alerting.topic.arn;
/** Failed runs' inputs; `npm run pipeline -- redrive --stack <name>` re-runs them. */
export const runDeadLetterQueueUrl = pipeline.alerting.runDeadLetters.url;
export const scheduleDeadLetterQueueUrl = pipeline.alerting.scheduleDeadLetters.url;
export const glueDatabaseName = pipeline.catalog.database.name;
export const glueTables = [
  pipeline.catalog.tables.weather_hourly.name,
  pipeline.catalog.tables.weather_daily.name,
  ...Object.values(pipeline.catalog.sourceTables).map((table) => table.name),
];
export const athenaWorkgroup = pipeline.catalog.workgroup.name;
/** Runs a query in the stack's workgroup; read the result with `aws athena get-query-results --query-execution-id <id>`. */
export const exampleQueryCommand = pulumi.interpolate`aws athena start-query-execution --work-group ${pipeline.catalog.workgroup.name} --query-execution-context Database=${pipeline.catalog.database.name} --query-string 'SELECT "date", count(*) AS row_count FROM weather_hourly WHERE "date" >= current_date - INTERVAL '"'"'7'"'"' DAY GROUP BY 1 ORDER BY 1'`;
/** Starts a run by hand; drop --input for yesterday. */
export const startRunCommand = pulumi.interpolate`aws stepfunctions start-execution --state-machine-arn ${pipeline.stateMachine.arn} --input '{"date":"YYYY-MM-DD"}'`;
/** The warehouse (where warehouseEnabled): where it is and the ARN of its master user secret (never the password). */
export const warehouseEndpoint = pipeline.warehouse?.cluster.endpoint;
export const warehouseDatabase = pipeline.warehouse?.cluster.databaseName;
export const warehouseSecretArn = pipeline.warehouse?.secretArn;
export const warehouseLoadFunctionName = pipeline.warehouse?.load.function.name;
export const warehouseLoadSecurityGroupId = pipeline.warehouse?.loadSecurityGroup.id;
export const warehouseSubnetIds = pipeline.warehouse?.subnetIds;
/** The backfill's state machine; `npm run pipeline -- backfill --stack <name> --from ... --to ...` starts and follows it. */
export const backfillStateMachineArn = pipeline.backfill.stateMachine.arn;
/** Starts a backfill by hand (add "spread": true when it weighs more than backfillMaxWeightPerDay). */
export const startBackfillCommand = pulumi.interpolate`aws stepfunctions start-execution --state-machine-arn ${pipeline.backfill.stateMachine.arn} --input '{"from":"YYYY-MM-DD","to":"YYYY-MM-DD"}'`;
/** The stack's CloudWatch dashboard in the console: runs, Lambdas, dead letters, freshness, Open-Meteo usage, alarms. */
export const dashboardUrl = pipeline.dashboard.url;
/** The applications drop zone (README "Applications"): its bucket, who may drop files, where notices go. */
export const applicationsBucketName = pipeline.applicationsBucket.name;
/** The one role that may put files under applications/incoming/ (and do nothing else). */
export const applicationSubmitterRoleArn = pipeline.applications.submitterRole.arn;
export const applicationNoticeTopicArn = pipeline.applications.notices.arn;
export const applicationsFunctionName = pipeline.applications.processor.function.name;
export const applicationsDeadLetterQueueUrl = pipeline.applications.deadLetters.url;
/** Backfill requests' events EventBridge could not deliver to the backfill state machine (README "Applications"). */
export const historyDeadLetterQueueUrl = pipeline.history.deadLetters.url;
