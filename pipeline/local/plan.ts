/**
 * Runs the Pulumi program under Pulumi's own mocks (pulumi.runtime.setMocks) with one stack's
 * config file, and records every resource it declares: what `pulumi preview` would plan,
 * without AWS or the Pulumi CLI. Pulumi's runtime is global, so runs in one process follow one
 * another: each resets the runtime (setMocks does) and loads the program afresh.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { parse as parseYaml } from "yaml";
import { ConfigError, closestName, parseStackFile, type StackFileConfig } from "../config";
import { checkApiKeyIsSecret, parseStackConfigValues } from "../infra/config";
import { CODE_DIR, PROJECT_DIR } from "./build";

/** A declared resource with its inputs, as the engine would receive them. */
export interface PlannedResource {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
  /** The `protect` resource option: `pulumi destroy` refuses to delete the resource. */
  readonly protect: boolean;
}

/** An asset of a Lambda code archive, as recorded by the plan. */
export type PlannedAsset = { readonly text: string } | { readonly path: string };

/** Where the plan looks for the stack files (the program is the one in CODE_DIR). */
export { PROJECT_DIR };

export const MOCK_ACCOUNT = "123456789012";
export const MOCK_REGION = "eu-west-1";

/**
 * What the plan answers for a Service Quotas lookup: AWS's default quota, since a plan cannot
 * know the account's (a new account's Lambda concurrency is 10, not 1,000).
 */
export const MOCK_SERVICE_QUOTA_DEFAULTS: Readonly<Record<string, number>> = {
  // Lambda: concurrent executions.
  "L-B99A9384": 1000,
};

/** The project name from Pulumi.yaml. */
export function readProjectName(projectDir = PROJECT_DIR): string {
  const project = parseYaml(readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8")) as { name?: unknown };
  if (typeof project.name !== "string") throw new Error(`${projectDir}/Pulumi.yaml has no project name`);
  return project.name;
}

/** A stack file's config as the CLI passes it to a program. */
export type StackConfigFile = StackFileConfig;

/**
 * Reads a stack file's `config:` block as the Pulumi CLI hands it to a program: every value a
 * string, structured values as JSON, un-namespaced keys in the project's namespace. What the CLI
 * would silently drop (a `configs:` block, keys beside `config:`) and YAML syntax errors are
 * ConfigErrors naming `file`, and so is a file that does not exist. A secret
 * (`{secure: <ciphertext>}`) cannot be decrypted without the CLI: its text is passed on as the
 * value, marked secret, so a plan shows ciphertext, never a key.
 */
export function readStackConfigWithSecrets(file: string, project = readProjectName(), source = file): StackConfigFile {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new ConfigError(`${source} does not exist`);
    throw error;
  }
  return parseStackFile(text, project, source);
}

/** The values of readStackConfigWithSecrets, for callers that need no secrets. */
export function readStackConfigFile(file: string): Record<string, string> {
  return readStackConfigWithSecrets(file).values;
}

/** The stacks that have a file in the project folder (`Pulumi.<stack>.yaml`), sorted. */
export function stacksWithFiles(projectDir = PROJECT_DIR): string[] {
  return readdirSync(projectDir)
    .map((name) => /^Pulumi\.(.+)\.ya?ml$/.exec(name)?.[1])
    .filter((stack): stack is string => stack !== undefined)
    .sort();
}

/** "did you mean --stack prod?" when `stack` is a near miss of a stack that has a file, else "". */
export function stackHint(stack: string, projectDir = PROJECT_DIR): string {
  const near = closestName(stack, stacksWithFiles(projectDir));
  return near === undefined ? "" : `did you mean --stack ${near}? `;
}

const BUCKET = "aws:s3/bucket:Bucket";

/**
 * The physical name the mocks give a resource: its name input (`bucket` for a bucket, else
 * `name`), else auto-naming's `<name>-<7 hex>`, lower-cased for a bucket as pulumi-aws does.
 */
export function mockPhysicalName(name: string, inputs: Record<string, unknown> = {}, type?: string): string {
  const explicit = inputs[type === BUCKET ? "bucket" : "name"];
  if (typeof explicit === "string") return explicit;
  // A deterministic stand-in for the random suffix Pulumi's auto-naming adds.
  const suffix = createHash("sha256").update(name).digest("hex").slice(0, 7);
  return `${type === BUCKET ? name.toLowerCase() : name}-${suffix}`;
}

/** The outputs AWS would compute for a resource, enough for the program's Outputs to resolve. */
function mockOutputs(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  const physical = mockPhysicalName(name, inputs, type);
  switch (type) {
    case BUCKET:
      return { bucket: physical, arn: `arn:aws:s3:::${physical}` };
    case "aws:iam/role:Role":
      return { name: physical, arn: `arn:aws:iam::${MOCK_ACCOUNT}:role/${physical}` };
    case "aws:lambda/function:Function":
      return { name: physical, arn: `arn:aws:lambda:${MOCK_REGION}:${MOCK_ACCOUNT}:function:${physical}` };
    case "aws:cloudwatch/logGroup:LogGroup":
      return { name: physical, arn: `arn:aws:logs:${MOCK_REGION}:${MOCK_ACCOUNT}:log-group:${physical}` };
    case "aws:sfn/stateMachine:StateMachine":
      return { name: physical, arn: `arn:aws:states:${MOCK_REGION}:${MOCK_ACCOUNT}:stateMachine:${physical}` };
    case "aws:sns/topic:Topic":
      return { name: physical, arn: `arn:aws:sns:${MOCK_REGION}:${MOCK_ACCOUNT}:${physical}` };
    case "aws:sqs/queue:Queue":
      return {
        name: physical,
        arn: `arn:aws:sqs:${MOCK_REGION}:${MOCK_ACCOUNT}:${physical}`,
        url: `https://sqs.${MOCK_REGION}.amazonaws.com/${MOCK_ACCOUNT}/${physical}`,
      };
    case "aws:kms/key:Key":
      return { arn: `arn:aws:kms:${MOCK_REGION}:${MOCK_ACCOUNT}:key/${physical}`, keyId: physical };
    case "aws:secretsmanager/secret:Secret":
      return { name: physical, arn: `arn:aws:secretsmanager:${MOCK_REGION}:${MOCK_ACCOUNT}:secret:${physical}` };
    case "aws:rds/cluster:Cluster":
      return {
        arn: `arn:aws:rds:${MOCK_REGION}:${MOCK_ACCOUNT}:cluster:${physical}`,
        clusterIdentifier: physical,
        endpoint: `${physical}.cluster-abcdefghijkl.${MOCK_REGION}.rds.amazonaws.com`,
        readerEndpoint: `${physical}.cluster-ro-abcdefghijkl.${MOCK_REGION}.rds.amazonaws.com`,
        port: 5432,
        // The secret RDS creates and rotates for manageMasterUserPassword: only its ARN is an output.
        masterUserSecrets: [
          {
            secretArn: `arn:aws:secretsmanager:${MOCK_REGION}:${MOCK_ACCOUNT}:secret:rds!cluster-${physical}-AbCdEf`,
            secretStatus: "active",
            kmsKeyId: "",
          },
        ],
      };
    case "aws:ec2/vpcEndpoint:VpcEndpoint":
      return { arn: `arn:aws:ec2:${MOCK_REGION}:${MOCK_ACCOUNT}:vpc-endpoint/${name}-id`, prefixListId: "pl-6da54004" };
    case "aws:cloudwatch/metricAlarm:MetricAlarm":
      return { name: physical, arn: `arn:aws:cloudwatch:${MOCK_REGION}:${MOCK_ACCOUNT}:alarm:${physical}` };
    case "aws:cloudwatch/dashboard:Dashboard":
      return { dashboardArn: `arn:aws:cloudwatch::${MOCK_ACCOUNT}:dashboard/${String(inputs["dashboardName"])}` };
    case "aws:scheduler/schedule:Schedule":
      return { name: physical, arn: `arn:aws:scheduler:${MOCK_REGION}:${MOCK_ACCOUNT}:schedule/default/${physical}` };
    default:
      return {};
  }
}

/** Turns Pulumi asset objects into plain data: a StringAsset's text, a file's or folder's path. */
/** What a plan shows for a secret input, as `pulumi preview` does. */
export const SECRET_PLACEHOLDER = "[secret]";

async function describeInputs(value: unknown): Promise<unknown> {
  // Secrets reach the mocks in Pulumi's secret envelope: never print what is inside.
  if ((value as Record<string, unknown> | null)?.[specialSigKey] === specialSecretSig) return SECRET_PLACEHOLDER;
  // isInstance only says "some asset" or "some archive"; the kind shows in the property it carries.
  if (pulumi.asset.Asset.isInstance(value) || pulumi.asset.Archive.isInstance(value)) {
    const kind = value as { text?: Promise<string>; path?: Promise<string>; assets?: Promise<Record<string, unknown>> };
    if (kind.text !== undefined) return { text: await kind.text };
    if (kind.path !== undefined) return { path: await kind.path };
    if (kind.assets !== undefined) {
      const out: Record<string, unknown> = {};
      for (const [key, asset] of Object.entries(await kind.assets)) out[key] = await describeInputs(asset);
      return { assets: out };
    }
    throw new Error("the plan cannot describe a remote asset or archive; the program declares none");
  }
  if (Array.isArray(value)) return Promise.all((value as unknown[]).map(describeInputs));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) out[key] = await describeInputs(inner);
    return out;
  }
  return value;
}

/** `<type>::<name>` of the resources the current run registered with `protect`. */
let protectedResources = new Set<string>();
let protectRecorderInstalled = false;

/**
 * Resource options never reach the mocks' newResource; the monitor's request carries them.
 * Installs (once per process) a recorder of `protect`, and starts a fresh record for this run.
 */
function recordProtectOption(): Set<string> {
  protectedResources = new Set<string>();
  if (!protectRecorderInstalled) {
    type Request = { getType(): string; getName(): string; getProtect(): boolean };
    const monitor = MockMonitor.prototype as unknown as {
      registerResource: (this: unknown, req: Request, cb: unknown) => unknown;
    };
    const register = monitor.registerResource;
    monitor.registerResource = function (this: unknown, req: Request, callback: unknown) {
      if (req.getProtect()) protectedResources.add(`${req.getType()}::${req.getName()}`);
      return register.call(this, req, callback);
    };
    protectRecorderInstalled = true;
  }
  return protectedResources;
}

/**
 * Runs the program for `stack` (config from Pulumi.<stack>.yaml, or `configFile`) under mocks
 * and returns the resources it declares. Config errors surface as the program's own exception.
 */
export async function planStack(options: {
  stack: string;
  configFile?: string;
  /** How the user wrote configFile, for messages; default configFile. */
  configFileShown?: string;
  /** Where notes go (never stdout, which carries the plan); default stderr. */
  note?: (line: string) => void;
}): Promise<PlannedResource[]> {
  const note = options.note ?? ((line: string) => process.stderr.write(`${line}\n`));
  const project = readProjectName();
  const defaultFile = path.join(PROJECT_DIR, `Pulumi.${options.stack}.yaml`);
  let source = path.basename(defaultFile);
  let stackConfig: StackConfigFile = { values: {}, secretKeys: [] };
  if (options.configFile !== undefined) {
    source = options.configFileShown ?? options.configFile;
    stackConfig = readStackConfigWithSecrets(options.configFile, project, `--config-file ${source}`);
  } else if (existsSync(defaultFile)) {
    stackConfig = readStackConfigWithSecrets(defaultFile, project, source);
  } else {
    // A new stack has no file and gets the defaults (the program says so); a near miss of an
    // existing stack's name is more likely a typo.
    const hint = stackHint(options.stack);
    if (hint !== "")
      note(`${source} does not exist, so stack ${options.stack} is planned as a new stack; ${hint.trim()}`);
  }
  const { values, secretKeys } = stackConfig;
  // Checked here too, so messages name the file actually read (the program can only name
  // Pulumi.<stack>.yaml).
  parseStackConfigValues(values, project, source);
  checkApiKeyIsSecret(values, secretKeys, project, source);
  pulumi.runtime.setAllConfig(values, secretKeys);

  const recorded: Promise<PlannedResource>[] = [];
  const protectedThisRun = recordProtectOption();
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        recorded.push(
          describeInputs(args.inputs as Record<string, unknown>).then((inputs) => ({
            type: args.type,
            name: args.name,
            inputs: inputs as Record<string, unknown>,
            protect: protectedThisRun.has(`${args.type}::${args.name}`),
          })),
        );
        const inputs = args.inputs as Record<string, unknown>;
        return { id: `${args.name}-id`, state: { ...inputs, ...mockOutputs(args.type, args.name, inputs) } };
      },
      call(args) {
        // Anything the program asks AWS for must be listed here, so nothing unmocked slips through.
        switch (args.token) {
          case "aws:index/getCallerIdentity:getCallerIdentity":
            return { accountId: MOCK_ACCOUNT, arn: `arn:aws:iam::${MOCK_ACCOUNT}:user/plan`, userId: "plan" };
          case "aws:index/getRegion:getRegion":
            return { name: MOCK_REGION, region: MOCK_REGION, id: MOCK_REGION };
          case "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {
              names: ["a", "b", "c"].map((z) => `${MOCK_REGION}${z}`),
              zoneIds: ["1", "2", "3"].map((z) => `euw1-az${z}`),
              id: MOCK_REGION,
            };
          case "aws:servicequotas/getServiceQuota:getServiceQuota": {
            // A plan cannot know the account's quota: it answers with AWS's default.
            const inputs = args.inputs as Record<string, unknown>;
            return { ...inputs, value: MOCK_SERVICE_QUOTA_DEFAULTS[String(inputs["quotaCode"])] ?? 0 };
          }
          default:
            throw new Error(`the plan does not mock the provider function ${args.token}`);
        }
      },
    },
    project,
    options.stack,
    false,
  );
  // The program registers its resources when loaded, as under `pulumi up`; an earlier run in
  // this process loaded it already, so it is loaded again (the modules it imports hold no state).
  // Without an engine, pulumi.log prints with console.log: kept off stdout, which carries the plan.
  const program = require.resolve(path.join(CODE_DIR, "index"));
  delete require.cache[program];
  const log = console.log;
  console.log = (...args: unknown[]) => note(args.map(String).join(" "));
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded as the Pulumi CLI loads it: require() of index.ts
    require(program);
    await (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs?.();
    await new Promise((resolve) => setImmediate(resolve));
    let settled = 0;
    // Registrations may start further registrations (components); wait until none are added.
    while (settled !== recorded.length) {
      settled = recorded.length;
      await Promise.all(recorded);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return await Promise.all(recorded);
  } finally {
    console.log = log;
  }
}
