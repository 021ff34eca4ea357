/**
 * One pipeline Lambda: an inline callback serialized by Pulumi, with a role of its own that
 * grants exactly the statements given plus writing to its own log group, which the stack owns
 * (so retention is set and `pulumi destroy` removes it).
 */
import * as path from "node:path";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { physicalName } from "./names";
import { createServiceRole, type PolicyStatement } from "./service-role";

/** Clients of the AWS SDK v3 the Lambdas use, which the nodejs22.x runtime ships. */
export const RUNTIME_PROVIDED_PACKAGES = [
  "@aws-sdk/client-s3",
  "@aws-sdk/client-secrets-manager",
  "@aws-sdk/client-sns",
] as const;

/**
 * Packages in package.json `dependencies` that no Lambda package needs: the program's own (zod
 * reads config at deploy time, fastest-levenshtein suggests variable names there, yaml checks
 * the stack file) and the SDK clients the runtime already has.
 */
const NEVER_SHIPPED = ["zod", "fastest-levenshtein", "yaml", ...RUNTIME_PROVIDED_PACKAGES];

/**
 * Packages shipped as the one file Node's `require` loads, with their package.json and licence,
 * instead of whole. luxon and csv-parse publish several builds with source maps (luxon 3.7 MB,
 * csv-parse 2.4 MB unpacked), which took the transform's package of a stack with sources from
 * 230 KB to 1.6 MB zipped. ky, hyparquet and hyparquet-writer are ES modules whose `require`
 * loads the one CommonJS file bundled at install (local/cjs-bundles.ts): their sources are not
 * loaded. None of these entry files requires anything else (the packaged Lambdas' tests run
 * them all: a missing file fails them). Keys are the package, values the specifiers the code
 * imports and the files to keep beside them.
 */
export const ENTRY_FILES_ONLY: Readonly<Record<string, { specifiers: readonly string[]; keep: readonly string[] }>> = {
  luxon: { specifiers: ["luxon"], keep: ["package.json", "LICENSE.md"] },
  "csv-parse": { specifiers: ["csv-parse/sync"], keep: ["package.json", "LICENSE"] },
  ky: { specifiers: ["ky"], keep: ["package.json", "license"] },
  hyparquet: { specifiers: ["hyparquet"], keep: ["package.json", "LICENSE"] },
  "hyparquet-writer": { specifiers: ["hyparquet-writer"], keep: ["package.json", "LICENSE"] },
};

/**
 * The archive paths (relative to the program's folder, where Pulumi resolves them) of the files
 * of ENTRY_FILES_ONLY's packages that a function not excluding them ships.
 */
function entryFilePaths(excluded: ReadonlySet<string>): string[] {
  const paths: string[] = [];
  for (const [name, { specifiers, keep }] of Object.entries(ENTRY_FILES_ONLY)) {
    if (excluded.has(name)) continue;
    const entries = specifiers.map((s) => require.resolve(s));
    // Not require.resolve(`${name}/package.json`): csv-parse's exports do not allow it.
    const marker = `${path.sep}node_modules${path.sep}${name}${path.sep}`;
    const at = (entries[0] as string).lastIndexOf(marker);
    if (at < 0) throw new Error(`${name} resolves to ${entries[0]}, outside a node_modules/${name} folder`);
    const packageDir = (entries[0] as string).slice(0, at + marker.length);
    for (const file of [...keep.map((f) => path.join(packageDir, f)), ...entries]) {
      paths.push(path.relative(process.cwd(), file).split(path.sep).join("/"));
    }
  }
  return paths;
}

/** Arguments of a PipelineFunction. */
export interface PipelineFunctionArgs<E, R> {
  /** The deployed function's name (fitted to Lambda's rules by physicalName); also names its log group. */
  readonly functionName: string;
  readonly description: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly logRetentionDays: number;
  /** What the function may do besides logging. */
  readonly statements: readonly PolicyStatement[];
  /** Runs once per cold start and returns the handler; serialized with what it captures. */
  readonly callbackFactory: () => (event: E) => Promise<R>;
  /** Dependencies this function does not use, left out of its package. Default none. */
  readonly excludePackages?: readonly string[];
  /** Reserved concurrent executions; undefined leaves the function unreserved. Default undefined. */
  readonly reservedConcurrency?: pulumi.Input<number>;
  /**
   * Runs the function in these private subnets with these security groups; the statements must
   * then let it manage its network interfaces (see warehouse.ts). Default none: outside any VPC.
   */
  readonly vpcConfig?: {
    readonly subnetIds: pulumi.Input<pulumi.Input<string>[]>;
    readonly securityGroupIds: pulumi.Input<pulumi.Input<string>[]>;
  };
  /** Environment variables (never a secret value: they are plain in the function's configuration). */
  readonly environment?: Readonly<Record<string, pulumi.Input<string>>>;
}

/** A Lambda function built from an inline callback, with its least-privilege role and log group. */
export class PipelineFunction<E, R> extends pulumi.ComponentResource {
  public readonly function: aws.lambda.CallbackFunction<E, R>;
  public readonly role: aws.iam.Role;
  public readonly logGroup: aws.cloudwatch.LogGroup;

  constructor(name: string, args: PipelineFunctionArgs<E, R>, opts?: pulumi.ComponentResourceOptions) {
    super("weather-pipeline:compute:PipelineFunction", name, {}, opts);
    const functionName = physicalName("lambda-function", args.functionName);

    this.logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      { name: physicalName("log-group", `/aws/lambda/${functionName}`), retentionInDays: args.logRetentionDays },
      { parent: this },
    );
    const { role, policy } = createServiceRole(
      name,
      // No aws:SourceAccount/aws:SourceArn condition: AWS's Lambda guide gives the execution
      // role's trust policy without one (Lambda documents aws:SourceArn for the function's
      // resource policy, i.e. who may invoke it), and a key Lambda does not send would keep the
      // function from ever assuming its role.
      "lambda.amazonaws.com",
      [
        ...args.statements,
        {
          Sid: "WriteOwnLogs",
          Effect: "Allow",
          Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
          Resource: [pulumi.interpolate`${this.logGroup.arn}:log-stream:*`],
        },
      ],
      { parent: this },
    );
    this.role = role;

    this.function = new aws.lambda.CallbackFunction<E, R>(
      name,
      {
        name: functionName,
        description: args.description,
        callbackFactory: args.callbackFactory,
        role: this.role,
        runtime: aws.lambda.Runtime.NodeJS22dX,
        // Pure JavaScript dependencies: Graviton is cheaper per GB-second at the same speed.
        architectures: ["arm64"],
        memorySize: args.memoryMb,
        reservedConcurrentExecutions: args.reservedConcurrency ?? -1,
        timeout: args.timeoutSeconds,
        loggingConfig: { logFormat: "Text", logGroup: this.logGroup.name },
        codePathOptions: {
          extraExcludePackages: [...NEVER_SHIPPED, ...Object.keys(ENTRY_FILES_ONLY), ...(args.excludePackages ?? [])],
          extraIncludePaths: entryFilePaths(new Set(args.excludePackages ?? [])),
        },
        ...(args.vpcConfig ? { vpcConfig: args.vpcConfig } : {}),
        ...(args.environment ? { environment: { variables: { ...args.environment } } } : {}),
      },
      // Without the policy the first invocation could fail; without the group Lambda would create one.
      { parent: this, dependsOn: [policy, this.logGroup] },
    );
    this.registerOutputs({ functionName: this.function.name, roleArn: this.role.arn });
  }
}
