/**
 * A private, encrypted, TLS-only S3 bucket with lifecycle rules: the raw and curated zones, the
 * query results, and the access logs.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { denyInsecureTransport } from "./deny-insecure-transport";
import { physicalName } from "./names";

/** Arguments of a DataBucket. */
export interface DataBucketArgs {
  /** Move objects to STANDARD_IA after this many days; 0 never moves them. Default 0. */
  readonly infrequentAccessDays?: number;
  /** Delete objects after this many days; 0 keeps them forever. Default 0. */
  readonly expirationDays?: number;
  /** Protect the bucket from deletion and never empty it on destroy. Default false. */
  readonly protectData?: boolean;
  /** Keep overwritten objects as noncurrent versions for this many days; 0 disables versioning. Default 0. */
  readonly noncurrentVersionDays?: number;
  /** Statements the bucket policy grants besides refusing plain HTTP, given the bucket's ARN. Default none. */
  readonly policyStatements?: (bucketArn: pulumi.Output<string>) => Record<string, unknown>[];
}

/** The S3 lifecycle rules for the given ages; empty when nothing should ever move or expire. */
export function lifecycleRules(args: DataBucketArgs): aws.types.input.s3.BucketLifecycleConfigurationRule[] {
  const rules: aws.types.input.s3.BucketLifecycleConfigurationRule[] = [];
  const ia = args.infrequentAccessDays ?? 0;
  const expire = args.expirationDays ?? 0;
  // A transition on or after the expiration day would never happen (and bills IA's 30-day minimum).
  if (ia > 0 && (expire === 0 || ia < expire)) {
    rules.push({
      id: "to-infrequent-access",
      status: "Enabled",
      filter: {},
      transitions: [{ days: ia, storageClass: "STANDARD_IA" }],
    });
  }
  if (expire > 0) {
    rules.push({
      id: "expire",
      status: "Enabled",
      filter: {},
      expiration: { days: expire },
    });
  }
  const noncurrent = args.noncurrentVersionDays ?? 0;
  if (noncurrent > 0) {
    rules.push({
      id: "expire-noncurrent-versions",
      status: "Enabled",
      filter: {},
      noncurrentVersionExpiration: { noncurrentDays: noncurrent },
    });
  }
  rules.push({
    id: "abort-incomplete-uploads",
    status: "Enabled",
    filter: {},
    abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
  });
  return rules;
}

/** One data zone: bucket, encryption, public access block, ownership, TLS-only policy, lifecycle. */
export class DataBucket extends pulumi.ComponentResource {
  public readonly bucket: aws.s3.Bucket;
  /** The bucket's name. */
  public readonly name: pulumi.Output<string>;
  /** The bucket's ARN. */
  public readonly arn: pulumi.Output<string>;
  /** The bucket policy: depend on it before asking a service to write to the bucket. */
  public readonly policy: aws.s3.BucketPolicy;

  constructor(name: string, args: DataBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super("weather-pipeline:storage:DataBucket", name, {}, opts);
    const protect = args.protectData ?? false;
    this.bucket = new aws.s3.Bucket(
      physicalName("s3-bucket", name, { autoNamed: true }),
      // Empty on destroy only where the stack says its data is disposable.
      { forceDestroy: !protect },
      { parent: this, protect },
    );
    const bucket = this.bucket.id;

    if ((args.noncurrentVersionDays ?? 0) > 0) {
      // A re-run overwrites a date's deterministic keys; versioning keeps the earlier answer.
      new aws.s3.BucketVersioning(
        `${name}-versioning`,
        { bucket, versioningConfiguration: { status: "Enabled" } },
        { parent: this },
      );
    }
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-encryption`,
      {
        bucket,
        rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }],
      },
      { parent: this },
    );
    const publicAccess = new aws.s3.BucketPublicAccessBlock(
      `${name}-public-access`,
      {
        bucket,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      { parent: this },
    );
    new aws.s3.BucketOwnershipControls(
      `${name}-ownership`,
      { bucket, rule: { objectOwnership: "BucketOwnerEnforced" } },
      { parent: this },
    );
    const grants = args.policyStatements?.(this.bucket.arn) ?? [];
    this.policy = new aws.s3.BucketPolicy(
      // The name of a policy that only refuses plain HTTP stays as it was, so it is not replaced.
      grants.length > 0 ? `${name}-policy` : `${name}-tls-only`,
      {
        bucket,
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [
            ...grants,
            denyInsecureTransport("s3:*", [this.bucket.arn, pulumi.interpolate`${this.bucket.arn}/*`]),
          ],
        }),
      },
      // S3 rejects a policy while the public access block is being written.
      { parent: this, dependsOn: [publicAccess] },
    );
    new aws.s3.BucketLifecycleConfiguration(
      `${name}-lifecycle`,
      { bucket, rules: lifecycleRules(args) },
      { parent: this },
    );

    this.name = this.bucket.bucket;
    this.arn = this.bucket.arn;
    this.registerOutputs({ name: this.name, arn: this.arn });
  }
}
