/**
 * AWS's naming rules, written down from AWS's documentation independently of
 * pipeline/infra/names.ts, so a wrong rule there fails a test here. Each rule checks a name as
 * AWS receives it (after Pulumi's auto-naming) and returns what is wrong, or undefined.
 */

/** A rule: length, characters, and anything else the documentation says. */
export interface AwsNameRule {
  readonly min: number;
  readonly max: number;
  /** The whole name, characters only. */
  readonly pattern: RegExp;
  readonly extra?: (name: string) => string | undefined;
  /** The service refuses two names that differ only by case (or folds case). */
  readonly caseInsensitive: boolean;
  readonly source: string;
}

/** What is wrong with `name` under `rule`, or undefined. */
export function brokenRule(rule: AwsNameRule, name: string): string | undefined {
  if (name.length < rule.min || name.length > rule.max) {
    return `${JSON.stringify(name)} is ${name.length} characters; ${rule.min} to ${rule.max} allowed (${rule.source})`;
  }
  if (!rule.pattern.test(name)) return `${JSON.stringify(name)} does not match ${rule.pattern} (${rule.source})`;
  const extra = rule.extra?.(name);
  return extra === undefined ? undefined : `${JSON.stringify(name)}: ${extra} (${rule.source})`;
}

const RDS_IDENTIFIER = (name: string) =>
  !/^[a-z]/.test(name)
    ? "the first character must be a letter"
    : /--/.test(name) || name.endsWith("-")
      ? "no two consecutive hyphens, no hyphen at the end"
      : undefined;

/** Rules by kind of name (the kinds of pipeline/infra/names.ts, but the rules from AWS). */
export const AWS_NAME_RULES = {
  // "3 (min) and 63 (max) characters; lowercase letters, numbers, dots (.), and hyphens (-); begin
  // and end with a letter or number; no two adjacent periods; not an IP address; not xn--,
  // sthree-, amzn-s3-demo-; not -s3alias, --ol-s3, .mrap, --x-s3, --table-s3."
  "s3-bucket": {
    min: 3,
    max: 63,
    pattern: /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/,
    extra: (name) =>
      name.includes("..")
        ? "two adjacent periods"
        : /^\d+\.\d+\.\d+\.\d+$/.test(name)
          ? "formatted as an IP address"
          : /^(xn--|sthree-|amzn-s3-demo-)/.test(name)
            ? "a reserved prefix"
            : /(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/.test(name)
              ? "a reserved suffix"
              : undefined,
    caseInsensitive: true,
    source: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
  },
  // RoleName: length 1-64, pattern [\w+=,.@-]+; "Names are not distinguished by case."
  "iam-role": {
    min: 1,
    max: 64,
    pattern: /^[\w+=,.@-]+$/,
    caseInsensitive: true,
    source: "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html",
  },
  // PolicyName: length 1-128, pattern [\w+=,.@-]+.
  "iam-role-policy": {
    min: 1,
    max: 128,
    pattern: /^[\w+=,.@-]+$/,
    caseInsensitive: true,
    source: "https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html",
  },
  // "If you specify only the function name, it is limited to 64 characters"; [a-zA-Z0-9-_]+.
  "lambda-function": {
    min: 1,
    max: 64,
    pattern: /^[a-zA-Z0-9_-]+$/,
    caseInsensitive: true,
    source: "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html",
  },
  // "between 1 and 512 characters: a-z, A-Z, 0-9, '_', '-', '/', '.' and '#'."
  "log-group": {
    min: 1,
    max: 512,
    pattern: /^[.\-_/#A-Za-z0-9]+$/,
    caseInsensitive: true,
    source: "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html",
  },
  // "up to 80 characters; alphanumeric characters, hyphens (-), and underscores (_)."
  "sqs-queue": {
    min: 1,
    max: 80,
    pattern: /^[A-Za-z0-9_-]+$/,
    caseInsensitive: false,
    source: "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html",
  },
  // "uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, 1 to 256 characters."
  "sns-topic": {
    min: 1,
    max: 256,
    pattern: /^[A-Za-z0-9_-]+$/,
    caseInsensitive: true,
    source: "https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html",
  },
  // Length 1-80; "To enable logging with CloudWatch Logs, the name should only contain 0-9, A-Z, a-z, - and _."
  "sfn-state-machine": {
    min: 1,
    max: 80,
    pattern: /^[0-9A-Za-z_-]+$/,
    caseInsensitive: true,
    source: "https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html",
  },
  // Name: length 1-64, pattern ^[0-9a-zA-Z-_.]+$.
  "scheduler-schedule": {
    min: 1,
    max: 64,
    pattern: /^[0-9a-zA-Z_.-]+$/,
    caseInsensitive: true,
    source: "https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html",
  },
  // Athena: lower case, 1 to 255; only lower-case letters, numbers and underscore are safe unquoted.
  "glue-database": {
    min: 1,
    max: 255,
    pattern: /^[a-z0-9][a-z0-9_]*$/,
    caseInsensitive: true,
    source: "https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html",
  },
  // Name: pattern [a-zA-Z0-9._-]{1,128}.
  "athena-workgroup": {
    min: 1,
    max: 128,
    pattern: /^[a-zA-Z0-9._-]+$/,
    caseInsensitive: true,
    source: "https://docs.aws.amazon.com/athena/latest/APIReference/API_CreateWorkGroup.html",
  },
  // AlarmName: 1-255, "only UTF-8 characters, and can't contain ASCII control characters".
  "cloudwatch-alarm": {
    min: 1,
    max: 255,
    // eslint-disable-next-line no-control-regex -- the rule is about control characters
    pattern: /^[^\x00-\x1f\x7f]+$/,
    caseInsensitive: true,
    source: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html",
  },
  // Name: 1-512, "ASCII letters, numbers, and the following characters: /_+=.@-".
  "secretsmanager-secret": {
    min: 1,
    max: 512,
    pattern: /^[A-Za-z0-9/_+=.@-]+$/,
    caseInsensitive: true,
    source: "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html",
  },
  // "The maximum length is 255, and valid characters are A-Z, a-z, 0-9, "-", and "_"."
  "cloudwatch-dashboard": {
    min: 1,
    max: 255,
    pattern: /^[A-Za-z0-9_-]+$/,
    caseInsensitive: true,
    source: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html",
  },
  // "1 to 63 letters, numbers, or hyphens; first character must be a letter; can't end with a
  // hyphen or contain two consecutive hyphens"; stored as lower case.
  "rds-cluster": {
    min: 1,
    max: 63,
    pattern: /^[a-z0-9-]+$/,
    extra: RDS_IDENTIFIER,
    caseInsensitive: true,
    source: "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html",
  },
  "rds-instance": {
    min: 1,
    max: 63,
    pattern: /^[a-z0-9-]+$/,
    extra: RDS_IDENTIFIER,
    caseInsensitive: true,
    source: "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html",
  },
  // "no more than 255 letters, numbers, periods, underscores, spaces, or hyphens; must not be
  // default; first character must be a letter"; stored as lower case.
  "rds-subnet-group": {
    min: 1,
    max: 255,
    pattern: /^[a-z][a-z0-9._ -]*$/,
    extra: (name) => (name === "default" ? "must not be default" : undefined),
    caseInsensitive: true,
    source: "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSubnetGroup.html",
  },
  // "1 to 255 letters, numbers, or hyphens; first character must be a letter; can't end with a
  // hyphen or contain two consecutive hyphens"; stored as lower case.
  "rds-parameter-group": {
    min: 1,
    max: 255,
    pattern: /^[a-z0-9-]+$/,
    extra: RDS_IDENTIFIER,
    caseInsensitive: true,
    source: "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBParameterGroup.html",
  },
  // "Up to 255 characters. Can't start with sg-. a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*";
  // "Names are case-insensitive".
  "security-group": {
    min: 1,
    max: 255,
    pattern: /^[a-zA-Z0-9 ._\-:/()#,@[\]+=&;{}!$*]+$/,
    extra: (name) => (/^sg-/i.test(name) ? "starts with sg-" : undefined),
    caseInsensitive: true,
    source: "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html",
  },
  // Name: length 1-64, pattern [\.\-_A-Za-z0-9]+.
  "eventbridge-rule": {
    min: 1,
    max: 64,
    pattern: /^[.\-_A-Za-z0-9]+$/,
    caseInsensitive: true,
    source: "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html",
  },
} as const satisfies Record<string, AwsNameRule>;

/** How a declared resource type gets its AWS name, and the rule it must follow. */
export interface NamedType {
  /** The input holding an explicit name; absent means Pulumi auto-names from the logical name. */
  readonly input: string;
  /** pulumi-aws lower-cases the logical name before adding its suffix (S3 buckets). */
  readonly autoNameLowerCase?: boolean;
  /** The input naming the scope the name is unique in (a role, a database, a workgroup). */
  readonly scope?: string;
  readonly rule: AwsNameRule;
}

const NAMED_QUERY: AwsNameRule = {
  min: 1,
  max: 128,
  pattern: /^.+$/,
  caseInsensitive: false,
  source: "https://docs.aws.amazon.com/athena/latest/APIReference/API_CreateNamedQuery.html",
};

/**
 * Every resource type the program may declare: how it is named (or null: AWS gives it no name
 * of ours, e.g. a bucket policy is keyed by its bucket, a KMS key by a generated id).
 */
export const RESOURCE_NAMING: Readonly<Record<string, NamedType | null>> = {
  "aws:s3/bucket:Bucket": { input: "bucket", autoNameLowerCase: true, rule: AWS_NAME_RULES["s3-bucket"] },
  "aws:iam/role:Role": { input: "name", rule: AWS_NAME_RULES["iam-role"] },
  "aws:iam/rolePolicy:RolePolicy": { input: "name", scope: "role", rule: AWS_NAME_RULES["iam-role-policy"] },
  "aws:lambda/function:Function": { input: "name", rule: AWS_NAME_RULES["lambda-function"] },
  "aws:cloudwatch/logGroup:LogGroup": { input: "name", rule: AWS_NAME_RULES["log-group"] },
  "aws:sfn/stateMachine:StateMachine": { input: "name", rule: AWS_NAME_RULES["sfn-state-machine"] },
  "aws:scheduler/schedule:Schedule": { input: "name", rule: AWS_NAME_RULES["scheduler-schedule"] },
  "aws:glue/catalogDatabase:CatalogDatabase": { input: "name", rule: AWS_NAME_RULES["glue-database"] },
  "aws:glue/catalogTable:CatalogTable": { input: "name", scope: "databaseName", rule: AWS_NAME_RULES["glue-database"] },
  "aws:athena/workgroup:Workgroup": { input: "name", rule: AWS_NAME_RULES["athena-workgroup"] },
  "aws:athena/namedQuery:NamedQuery": { input: "name", scope: "workgroup", rule: NAMED_QUERY },
  "aws:sns/topic:Topic": { input: "name", rule: AWS_NAME_RULES["sns-topic"] },
  "aws:sqs/queue:Queue": { input: "name", rule: AWS_NAME_RULES["sqs-queue"] },
  "aws:cloudwatch/metricAlarm:MetricAlarm": { input: "name", rule: AWS_NAME_RULES["cloudwatch-alarm"] },
  "aws:secretsmanager/secret:Secret": { input: "name", rule: AWS_NAME_RULES["secretsmanager-secret"] },
  "aws:cloudwatch/dashboard:Dashboard": { input: "dashboardName", rule: AWS_NAME_RULES["cloudwatch-dashboard"] },
  "aws:rds/cluster:Cluster": { input: "clusterIdentifier", rule: AWS_NAME_RULES["rds-cluster"] },
  "aws:rds/clusterInstance:ClusterInstance": { input: "identifier", rule: AWS_NAME_RULES["rds-instance"] },
  "aws:rds/subnetGroup:SubnetGroup": { input: "name", rule: AWS_NAME_RULES["rds-subnet-group"] },
  "aws:rds/clusterParameterGroup:ClusterParameterGroup": { input: "name", rule: AWS_NAME_RULES["rds-parameter-group"] },
  "aws:ec2/securityGroup:SecurityGroup": { input: "name", scope: "vpcId", rule: AWS_NAME_RULES["security-group"] },
  // Named by tags only (no AWS name of ours), or keyed by what they belong to.
  "aws:ec2/vpc:Vpc": null,
  "aws:ec2/subnet:Subnet": null,
  "aws:ec2/routeTable:RouteTable": null,
  "aws:ec2/routeTableAssociation:RouteTableAssociation": null,
  "aws:ec2/vpcEndpoint:VpcEndpoint": null,
  "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": null,
  "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": null,
  "aws:kms/key:Key": null,
  "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": null,
  "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": null,
  "aws:s3/bucketOwnershipControls:BucketOwnershipControls": null,
  "aws:s3/bucketPolicy:BucketPolicy": null,
  "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": null,
  "aws:s3/bucketVersioning:BucketVersioning": null,
  "aws:s3/bucketLogging:BucketLogging": null,
  "aws:sns/topicPolicy:TopicPolicy": null,
  "aws:sns/topicSubscription:TopicSubscription": null,
  "aws:sqs/queuePolicy:QueuePolicy": null,
  "aws:secretsmanager/secretVersion:SecretVersion": null,
  "aws:cloudwatch/eventRule:EventRule": { input: "name", rule: AWS_NAME_RULES["eventbridge-rule"] },
  // A target's id and a permission's statement id are generated per rule and per function.
  "aws:cloudwatch/eventTarget:EventTarget": null,
  "aws:lambda/permission:Permission": null,
  "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": null,
  "aws:s3/bucketNotification:BucketNotification": null,
  // The program's own components exist only in Pulumi's state.
  "weather-pipeline:index:WeatherPipeline": null,
  "weather-pipeline:storage:DataBucket": null,
  "weather-pipeline:compute:PipelineFunction": null,
  "weather-pipeline:alerting:Alerting": null,
  "weather-pipeline:applications:Applications": null,
  "weather-pipeline:query:QueryCatalog": null,
  "weather-pipeline:warehouse:Warehouse": null,
  "weather-pipeline:backfill:Backfill": null,
  "weather-pipeline:history:HistoryRequests": null,
};
