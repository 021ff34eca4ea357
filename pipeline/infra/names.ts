/**
 * Physical names of AWS resources, fitted to each service's rules. Every name the program hands
 * AWS, or lets Pulumi derive from a logical name, goes through physicalName, so any stack name
 * Pulumi accepts (^[A-Za-z0-9_.-]{1,100}$) either deploys or fails at preview with a message
 * that names the rule.
 *
 * A name that already fits is returned unchanged: the stacks that deploy today (dev, staging,
 * prod, any lowercase name of up to 24 characters) keep their names byte for byte, so no bucket
 * of theirs is replaced. Only a name that could not deploy is changed: normalized to the
 * service's characters, and marked with a stable hash of the original, so two inputs that
 * normalize alike (FeatureX and featurex, my_stack and my-stack) still get different names.
 */
import { createHash } from "node:crypto";

/** What AWS accepts as one kind of name, with the page it comes from. */
export interface NameRule {
  /** For messages, e.g. "S3 bucket". */
  readonly service: string;
  readonly minLength: number;
  readonly maxLength: number;
  /** Tests one character. */
  readonly allowed: RegExp;
  /** The service refuses upper-case letters, or folds them to lower case (so two names could meet). */
  readonly lowerCaseOnly: boolean;
  /** The service's documentation says names that differ only by case are different names. */
  readonly caseSensitive: boolean;
  /** Replaces characters the service refuses, and joins the hash on. */
  readonly separator: string;
  /** What Pulumi's auto-naming does to a logical name before adding its suffix. */
  readonly autoNameTransform?: (name: string) => string;
  /** Further rules; returns the broken one, or undefined. */
  readonly check?: (name: string) => string | undefined;
  readonly source: string;
}

const lowerCase = (name: string) => name.toLowerCase();

/** RDS identifiers: a letter first, no `--`, no `-` at the end. */
function rdsIdentifier(name: string): string | undefined {
  if (!/^[a-z]/.test(name)) return "it must start with a letter";
  if (name.includes("--")) return "it must not contain two hyphens in a row";
  if (name.endsWith("-")) return "it must not end with a hyphen";
  return undefined;
}

/** Reserved prefixes and suffixes of general purpose bucket names, and the first and last character. */
function s3BucketName(name: string): string | undefined {
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return "it must begin and end with a letter or digit";
  const prefix = ["xn--", "sthree-", "amzn-s3-demo-"].find((p) => name.startsWith(p));
  if (prefix) return `it must not start with ${prefix}, which S3 reserves`;
  const suffix = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"].find((s) => name.endsWith(s));
  if (suffix) return `it must not end with ${suffix}, which S3 reserves`;
  return undefined;
}

/**
 * The rules per kind of name. Kinds the program does not use yet (dashboard, RDS, security
 * group, EventBridge rule) are here for the features that will need them.
 */
export const NAME_RULES = {
  "s3-bucket": {
    service: "S3 bucket",
    minLength: 3,
    maxLength: 63,
    // S3 allows dots too, but a dotted name breaks HTTPS to virtual-hosted-style URLs, the SDK's default.
    allowed: /[a-z0-9-]/,
    lowerCaseOnly: true,
    caseSensitive: false,
    separator: "-",
    // pulumi-aws lowercases a bucket's logical name before adding the suffix.
    autoNameTransform: lowerCase,
    check: s3BucketName,
    source: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
  },
  "iam-role": {
    service: "IAM role",
    minLength: 1,
    maxLength: 64,
    allowed: /[A-Za-z0-9_+=,.@-]/,
    lowerCaseOnly: false,
    // "Names are not distinguished by case."
    caseSensitive: false,
    separator: "-",
    source: "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html",
  },
  "iam-role-policy": {
    service: "IAM inline policy",
    minLength: 1,
    maxLength: 128,
    allowed: /[A-Za-z0-9_+=,.@-]/,
    lowerCaseOnly: false,
    caseSensitive: false,
    separator: "-",
    source: "https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html",
  },
  "lambda-function": {
    service: "Lambda function",
    minLength: 1,
    maxLength: 64,
    allowed: /[A-Za-z0-9_-]/,
    lowerCaseOnly: false,
    caseSensitive: false,
    separator: "-",
    source: "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html",
  },
  "log-group": {
    service: "CloudWatch Logs log group",
    minLength: 1,
    maxLength: 512,
    allowed: /[A-Za-z0-9._/#-]/,
    lowerCaseOnly: false,
    caseSensitive: false,
    separator: "-",
    source: "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html",
  },
  "sqs-queue": {
    service: "SQS queue",
    minLength: 1,
    maxLength: 80,
    allowed: /[A-Za-z0-9_-]/,
    lowerCaseOnly: false,
    // "Queue URLs and names are case-sensitive."
    caseSensitive: true,
    separator: "-",
    source: "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html",
  },
  "sns-topic": {
    service: "SNS topic",
    minLength: 1,
    maxLength: 256,
    allowed: /[A-Za-z0-9_-]/,
    lowerCaseOnly: false,
    caseSensitive: false,
    separator: "-",
    source: "https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html",
  },
  "sfn-state-machine": {
    service: "Step Functions state machine",
    minLength: 1,
    maxLength: 80,
    // The API refuses fewer characters, but logging to CloudWatch Logs needs exactly these.
    allowed: /[A-Za-z0-9_-]/,
    lowerCaseOnly: false,
    caseSensitive: false,
    separator: "-",
    source: "https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html",
  },
  "scheduler-schedule": {
    service: "EventBridge Scheduler schedule",
    minLength: 1,
    maxLength: 64,
    allowed: /[A-Za-z0-9_.-]/,
    lowerCaseOnly: false,
    caseSensitive: false,
    separator: "-",
    source: "https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html",
  },
  "glue-database": {
    service: "Glue database (queried by Athena)",
    minLength: 1,
    maxLength: 255,
    // Athena: lower-case letters, digits and underscores.
    allowed: /[a-z0-9_]/,
    lowerCaseOnly: true,
    caseSensitive: false,
    separator: "_",
    check: (name) => (name.startsWith("_") ? "it must not start with _, which Athena needs quoted" : undefined),
    source: "https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html",
  },
  "athena-workgroup": {
    service: "Athena workgroup",
    minLength: 1,
    maxLength: 128,
    allowed: /[A-Za-z0-9._-]/,
    lowerCaseOnly: false,
    caseSensitive: false,
    separator: "-",
    source: "https://docs.aws.amazon.com/athena/latest/APIReference/API_CreateWorkGroup.html",
  },
  "cloudwatch-alarm": {
    service: "CloudWatch alarm",
    minLength: 1,
    maxLength: 255,
    // UTF-8 without ASCII control characters.
    // eslint-disable-next-line no-control-regex -- the rule is about control characters
    allowed: /[^\u0000-\u001f\u007f]/,
    lowerCaseOnly: false,
    caseSensitive: false,
    separator: "-",
    source: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html",
  },
  "secretsmanager-secret": {
    service: "Secrets Manager secret",
    minLength: 1,
    maxLength: 512,
    allowed: /[A-Za-z0-9/_+=.@-]/,
    lowerCaseOnly: false,
    caseSensitive: false,
    separator: "-",
    // Secrets Manager adds "-" and six characters to the ARN; a name ending so confuses partial ARNs.
    check: (name) =>
      /-[^-]{6}$/.test(name) ? "it must not end with a hyphen and six characters, as ARNs do" : undefined,
    source: "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html",
  },
  "cloudwatch-dashboard": {
    service: "CloudWatch dashboard",
    minLength: 1,
    maxLength: 255,
    allowed: /[A-Za-z0-9_-]/,
    lowerCaseOnly: false,
    caseSensitive: false,
    separator: "-",
    source: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html",
  },
  "rds-cluster": {
    service: "RDS DB cluster identifier",
    minLength: 1,
    // 63 for Aurora; a Multi-AZ DB cluster allows only 52.
    maxLength: 63,
    allowed: /[a-z0-9-]/,
    // Stored as a lower-case string.
    lowerCaseOnly: true,
    caseSensitive: false,
    separator: "-",
    check: rdsIdentifier,
    source: "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html",
  },
  "rds-instance": {
    service: "RDS DB instance identifier",
    minLength: 1,
    // 15 for SQL Server.
    maxLength: 63,
    allowed: /[a-z0-9-]/,
    lowerCaseOnly: true,
    caseSensitive: false,
    separator: "-",
    check: rdsIdentifier,
    source: "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html",
  },
  "rds-subnet-group": {
    service: "RDS DB subnet group",
    minLength: 1,
    maxLength: 255,
    // Spaces are allowed too, and left out here.
    allowed: /[a-z0-9._-]/,
    lowerCaseOnly: true,
    caseSensitive: false,
    separator: "-",
    check: (name) =>
      !/^[a-z]/.test(name) ? "it must start with a letter" : name === "default" ? "it must not be default" : undefined,
    source: "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSubnetGroup.html",
  },
  "rds-parameter-group": {
    service: "RDS DB parameter group",
    minLength: 1,
    maxLength: 255,
    allowed: /[a-z0-9-]/,
    lowerCaseOnly: true,
    caseSensitive: false,
    separator: "-",
    check: rdsIdentifier,
    source: "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBParameterGroup.html",
  },
  "security-group": {
    service: "EC2 security group",
    minLength: 1,
    maxLength: 255,
    // Spaces are allowed too, and left out here.
    allowed: /[A-Za-z0-9._\-:/()#,@[\]+=&;{}!$*]/,
    lowerCaseOnly: false,
    // "Names are case-insensitive and must be unique within the VPC."
    caseSensitive: false,
    separator: "-",
    check: (name) => (name.toLowerCase().startsWith("sg-") ? "it must not start with sg-" : undefined),
    source: "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html",
  },
  "eventbridge-rule": {
    service: "EventBridge rule",
    minLength: 1,
    maxLength: 64,
    allowed: /[A-Za-z0-9._-]/,
    lowerCaseOnly: false,
    caseSensitive: false,
    separator: "-",
    source: "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html",
  },
} as const satisfies Record<string, NameRule>;

/** A kind of physical name, e.g. "s3-bucket". */
export type NameKind = keyof typeof NAME_RULES;

/** Options of physicalName. */
export interface PhysicalNameOptions {
  /**
   * The name is a logical name Pulumi auto-names from: AWS sees it (after the provider's
   * transform, e.g. lower case for buckets) plus "-" and 7 random characters. Default false.
   */
  readonly autoNamed?: boolean;
}

/** Pulumi's auto-naming adds "-" and 7 random hex characters. */
export const AUTO_NAME_SUFFIX_LENGTH = 8;
/** Stands in for the random suffix when checking an auto-named name. */
const SAMPLE_SUFFIX = "-0a1b2c3";

/** Characters of the hash that marks a changed name: 32 bits of SHA-256. */
const HASH_LENGTH = 8;

/** Thrown when no name of a kind can be made from the input (a rule hashing cannot satisfy). */
export class PhysicalNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PhysicalNameError";
  }
}

function ruleOf(kind: NameKind): NameRule {
  const rule: NameRule | undefined = NAME_RULES[kind];
  if (!rule)
    throw new PhysicalNameError(
      `${JSON.stringify(kind)} is not a kind of name; known: ${Object.keys(NAME_RULES).join(", ")}`,
    );
  return rule;
}

/**
 * Why `name` is not a valid name of this kind as AWS will see it, or undefined when it is.
 * An explicit name with upper-case letters fails where the service does not tell names apart
 * by case: another stack's lower-case twin would take the same name.
 */
export function nameProblem(kind: NameKind, name: string, options: PhysicalNameOptions = {}): string | undefined {
  const rule = ruleOf(kind);
  const seen = options.autoNamed ? `${(rule.autoNameTransform ?? ((n: string) => n))(name)}${SAMPLE_SUFFIX}` : name;
  const limit = options.autoNamed
    ? `${rule.maxLength - AUTO_NAME_SUFFIX_LENGTH} characters before Pulumi's suffix`
    : `${rule.maxLength} characters`;
  if (seen.length > rule.maxLength) return `it is ${name.length} characters; at most ${limit} fit`;
  if (seen.length < rule.minLength) return `it is ${name.length} characters; at least ${rule.minLength} are needed`;
  const refused = [...new Set([...seen].filter((c) => !rule.allowed.test(c)))];
  if (refused.length > 0) return `it contains ${refused.map((c) => JSON.stringify(c)).join(", ")}`;
  if (rule.lowerCaseOnly && /[A-Z]/.test(seen)) return "it has upper-case letters";
  if (!options.autoNamed && !rule.caseSensitive && /[A-Z]/.test(name)) {
    return "it has upper-case letters, and the service does not tell names apart by case";
  }
  return rule.check?.(seen);
}

function stableHash(name: string): string {
  return createHash("sha256").update(name).digest("hex").slice(0, HASH_LENGTH);
}

function trimSeparators(text: string, separator: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && text[start] === separator) start++;
  while (end > start && text[end - 1] === separator) end--;
  return text.slice(start, end);
}

/**
 * The one character the service refuses in `name`, mapped to the separator, when that loses
 * nothing: the separator does not occur in `name`, so the mapping can be undone and no two
 * inputs meet. It keeps today's Glue names: weather-pipeline-dev -> weather_pipeline_dev.
 */
function reversibleMapping(rule: NameRule, name: string, options: PhysicalNameOptions): string | undefined {
  const refused = [...new Set([...name].filter((c) => !rule.allowed.test(c)))];
  if (refused.length !== 1 || /[A-Za-z]/.test(refused[0]!) || name.includes(rule.separator)) return undefined;
  if (/[A-Z]/.test(name) && (rule.lowerCaseOnly || (!options.autoNamed && !rule.caseSensitive))) return undefined;
  return name.split(refused[0]!).join(rule.separator);
}

/**
 * The physical name of `kind` for `name`: `name` itself when it fits the service's rules as
 * AWS will see it; else the name normalized to the service's characters (lower case where
 * needed, refused characters replaced by the separator) with a stable 8-character hash of the
 * original appended, cut in the middle to fit the length (its start and end stay readable).
 * Throws PhysicalNameError, naming the rule, when no name of the kind can be made.
 */
export function physicalName(kind: NameKind, name: string, options: PhysicalNameOptions = {}): string {
  const rule = ruleOf(kind);
  if (options.autoNamed && !rule.allowed.test("-")) {
    throw new PhysicalNameError(
      `a ${rule.service} cannot be auto-named: Pulumi's suffix starts with "-", which it refuses; give it an explicit name`,
    );
  }
  if (nameProblem(kind, name, options) === undefined) return name;
  const mapped = reversibleMapping(rule, name, options);
  if (mapped !== undefined && nameProblem(kind, mapped, options) === undefined) return mapped;

  const sep = rule.separator;
  const lower = rule.lowerCaseOnly || (!options.autoNamed && !rule.caseSensitive);
  const replaced = [...(lower ? name.toLowerCase() : name)].map((c) => (rule.allowed.test(c) ? c : sep)).join("");
  const normalized = trimSeparators(replaced.replace(new RegExp(`${escapeRegExp(sep)}+`, "g"), sep), sep);
  const hash = stableHash(name);
  const budget = rule.maxLength - (options.autoNamed ? AUTO_NAME_SUFFIX_LENGTH : 0);
  let candidate = normalized ? `${normalized}${sep}${hash}` : hash;
  if (candidate.length > budget) {
    const keep = budget - hash.length - 2 * sep.length;
    const headLength = Math.ceil(keep / 2);
    const head = trimSeparators(normalized.slice(0, headLength), sep);
    const tail = trimSeparators(normalized.slice(normalized.length - (keep - headLength)), sep);
    candidate = [head, hash, tail].filter((part) => part.length > 0).join(sep);
  }
  const problem = nameProblem(kind, candidate, options);
  if (problem !== undefined) {
    throw new PhysicalNameError(
      `cannot make a ${rule.service} name from ${JSON.stringify(name)}: the nearest, ${JSON.stringify(candidate)}, ` +
        `is refused because ${problem} (${rule.source})`,
    );
  }
  return candidate;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
