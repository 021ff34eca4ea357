/**
 * The warehouse under Pulumi's mocks, per stack: where it exists, the database is private,
 * encrypted, TLS-only and backed up, protected exactly where data is; the security groups open
 * exactly the database port to the load function; the load function's role grants exactly what
 * it calls; no password or secret value is in any input; and the state machine's Load step
 * retries, and alerts and dead-letters a final failure.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
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
import { find, ofType, planOf } from "../support/plans";

const PROJECT = "weather-pipeline";
const T = {
  vpc: "aws:ec2/vpc:Vpc",
  subnet: "aws:ec2/subnet:Subnet",
  routeTable: "aws:ec2/routeTable:RouteTable",
  route: "aws:ec2/route:Route",
  endpoint: "aws:ec2/vpcEndpoint:VpcEndpoint",
  sg: "aws:ec2/securityGroup:SecurityGroup",
  ingress: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
  egress: "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
  cluster: "aws:rds/cluster:Cluster",
  instance: "aws:rds/clusterInstance:ClusterInstance",
  params: "aws:rds/clusterParameterGroup:ClusterParameterGroup",
  subnetGroup: "aws:rds/subnetGroup:SubnetGroup",
  fn: "aws:lambda/function:Function",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  stateMachine: "aws:sfn/stateMachine:StateMachine",
} as const;

function configOf(stack: string, file = path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`)): StackConfig {
  // A new stack has no file: the defaults.
  return parseStackConfigValues(existsSync(file) ? readStackConfigFile(file) : {}, PROJECT, stack);
}

interface Statement {
  Sid: string;
  Action: string[];
  Resource: string[];
  Condition?: unknown;
}
const statementsOf = (policy: unknown) => (JSON.parse(policy as string) as { Statement: Statement[] }).Statement;

/** A stack file: staging's, with lines added. */
function stagingWith(name: string, lines: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "warehouse-plan-"));
  const file = path.join(dir, `Pulumi.${name}.yaml`);
  writeFileSync(file, `${readFileSync(path.join(PROJECT_DIR, "Pulumi.staging.yaml"), "utf8").trimEnd()}\n${lines}`);
  return file;
}

describe("the warehouse under Pulumi mocks", function () {
  this.timeout(240_000);
  const plans = new Map<string, { plan: PlannedResource[]; config: StackConfig }>();
  const existingVpc = stagingWith(
    "byovpc",
    "  weather-pipeline:warehouseVpcId: vpc-0abc1234\n  weather-pipeline:warehouseSubnetIds: [subnet-0aaa1111, subnet-0bbb2222]\n",
  );

  before(async () => {
    const stacks: [string, string | undefined][] = [
      ["dev", undefined],
      ["staging", undefined],
      ["prod", undefined],
      ["sandbox", undefined],
      ["byovpc", existingVpc],
    ];
    const results = await Promise.all(stacks.map(([stack, file]) => planOf(stack, file)));
    stacks.forEach(([stack, file], i) => plans.set(stack, { plan: results[i]!, config: configOf(stack, file) }));
  });

  it("is on in prod and staging (staging at the smallest capacity), off in dev and in a new stack", () => {
    const enabled = (stack: string) => plans.get(stack)!.config.warehouse;
    expect(enabled("dev")).to.equal(undefined);
    expect(enabled("sandbox")).to.equal(undefined);
    expect(enabled("prod")).to.include({ minCapacityAcu: 0, maxCapacityAcu: 2, backupRetentionDays: 7 });
    expect(enabled("staging")).to.include({ minCapacityAcu: 0, maxCapacityAcu: 1, backupRetentionDays: 1 });
    for (const stack of ["dev", "sandbox"]) {
      const plan = plans.get(stack)!.plan;
      const types = new Set(plan.map((r) => r.type));
      for (const type of [T.vpc, T.cluster, T.instance, T.sg, T.endpoint])
        expect(types.has(type), `${stack} ${type}`).to.equal(false);
      expect(
        plan.some((r) => r.name.endsWith("-load")),
        stack,
      ).to.equal(false);
      const definition = JSON.parse(
        find(plan, T.stateMachine, `${PROJECT}-${stack}-run`).inputs["definition"] as string,
      ) as {
        States: Record<string, unknown>;
      };
      expect(JSON.stringify(definition)).to.not.contain("Load");
      const backfill = find(plan, T.stateMachine, `${PROJECT}-${stack}-backfill`).inputs["definition"] as string;
      expect(backfill, `${stack} backfill`).to.not.contain("Load");
    }
  });

  for (const stack of ["staging", "prod"] as const) {
    describe(`stack ${stack}`, () => {
      const prefix = `${PROJECT}-${stack}`;
      // Exactly the stack's tables: the two datasets, then each configured source's (staging's sample).
      const tables = () => [
        "weather_hourly",
        "weather_daily",
        ...plans.get(stack)!.config.sources.map((s) => `source_${s.name}`),
      ];
      const plan = () => plans.get(stack)!.plan;
      const config = () => plans.get(stack)!.config;
      const sgId = (name: string) => `${prefix}-${name}-id`;

      it("keeps the database private, encrypted, TLS-only and backed up; protected only where data is", () => {
        const protectData = config().protectData;
        const cluster = find(plan(), T.cluster, `${prefix}-db`);
        expect(cluster.inputs).to.deep.include({
          engine: "aurora-postgresql",
          engineMode: "provisioned",
          storageEncrypted: true,
          manageMasterUserPassword: true,
          backupRetentionPeriod: config().warehouse!.backupRetentionDays,
          deletionProtection: protectData,
          skipFinalSnapshot: !protectData,
          vpcSecurityGroupIds: [sgId("db-sg")],
          port: 5432,
        });
        expect(cluster.inputs["finalSnapshotIdentifier"]).to.equal(protectData ? `${prefix}-db-final` : undefined);
        expect(cluster.protect).to.equal(protectData);
        expect(cluster.inputs["serverlessv2ScalingConfiguration"]).to.deep.equal({
          minCapacity: 0,
          maxCapacity: config().warehouse!.maxCapacityAcu,
          secondsUntilAutoPause: 300,
        });
        const instance = find(plan(), T.instance, `${prefix}-db-1`);
        expect(instance.inputs).to.deep.include({ publiclyAccessible: false, instanceClass: "db.serverless" });
        expect(instance.protect).to.equal(protectData);
        const params = find(plan(), T.params, `${prefix}-db-params`).inputs;
        expect(params["family"]).to.equal("aurora-postgresql16");
        expect(params["parameters"]).to.deep.equal([{ name: "rds.force_ssl", value: "1" }]);
        expect(find(plan(), T.subnetGroup, `${prefix}-db-subnets`).inputs["subnetIds"]).to.deep.equal([
          `${prefix}-private-1-id`,
          `${prefix}-private-2-id`,
        ]);
      });

      it("builds a private network: two subnets in two zones, no internet route, S3 through a gateway that only reads curated data", () => {
        const subnets = ofType(plan(), T.subnet);
        expect(
          subnets.map((s) => [s.inputs["cidrBlock"], s.inputs["availabilityZone"], s.inputs["mapPublicIpOnLaunch"]]),
        ).to.deep.equal([
          ["10.64.0.0/18", `${MOCK_REGION}a`, false],
          ["10.64.64.0/18", `${MOCK_REGION}b`, false],
        ]);
        const types = new Set(plan().map((r) => r.type));
        for (const type of [
          "aws:ec2/internetGateway:InternetGateway",
          "aws:ec2/natGateway:NatGateway",
          "aws:ec2/eip:Eip",
          T.route,
        ]) {
          expect(types.has(type), type).to.equal(false);
        }
        expect(find(plan(), T.routeTable, `${prefix}-private-routes`).inputs["routes"] ?? []).to.deep.equal([]);
        const s3 = find(plan(), T.endpoint, `${prefix}-s3`).inputs;
        expect(s3).to.deep.include({
          vpcEndpointType: "Gateway",
          serviceName: `com.amazonaws.${MOCK_REGION}.s3`,
          routeTableIds: [`${prefix}-private-routes-id`],
        });
        const curated = `arn:aws:s3:::${mockPhysicalName(`${prefix}-curated`)}`;
        expect(JSON.parse(s3["policy"] as string)).to.deep.equal({
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "ReadCuratedData",
              Effect: "Allow",
              Principal: "*",
              Action: ["s3:GetObject", "s3:ListBucket"],
              Resource: [curated, ...tables().map((t) => `${curated}/${t}/*`)],
            },
          ],
        });
        const secrets = find(plan(), T.endpoint, `${prefix}-secretsmanager`).inputs;
        expect(secrets).to.deep.include({
          vpcEndpointType: "Interface",
          privateDnsEnabled: true,
          subnetIds: [`${prefix}-private-1-id`],
          securityGroupIds: [sgId("secrets-endpoint-sg")],
        });
      });

      it("opens exactly the database port to the load function, and nothing else to anyone", () => {
        for (const group of ofType(plan(), T.sg)) {
          // No inline rules: every rule is one of the rule resources below.
          expect(group.inputs["ingress"] ?? [], group.name).to.deep.equal([]);
          expect(group.inputs["egress"] ?? [], group.name).to.deep.equal([]);
        }
        const rule = (r: PlannedResource) =>
          [
            r.inputs["securityGroupId"],
            r.inputs["ipProtocol"],
            r.inputs["fromPort"],
            r.inputs["toPort"],
            r.inputs["referencedSecurityGroupId"] ?? r.inputs["prefixListId"] ?? r.inputs["cidrIpv4"],
          ].join(" ");
        expect(ofType(plan(), T.ingress).map(rule).sort()).to.deep.equal(
          [
            `${sgId("db-sg")} tcp 5432 5432 ${sgId("load-sg")}`,
            `${sgId("secrets-endpoint-sg")} tcp 443 443 ${sgId("load-sg")}`,
          ].sort(),
        );
        expect(ofType(plan(), T.egress).map(rule).sort()).to.deep.equal(
          [
            `${sgId("load-sg")} tcp 5432 5432 ${sgId("db-sg")}`,
            `${sgId("load-sg")} tcp 443 443 ${sgId("secrets-endpoint-sg")}`,
            `${sgId("load-sg")} tcp 443 443 pl-6da54004`,
          ].sort(),
        );
      });

      it("grants the load function exactly what it calls", () => {
        const secret = `arn:aws:secretsmanager:${MOCK_REGION}:${MOCK_ACCOUNT}:secret:rds!cluster-${mockPhysicalName(`${prefix}-db`)}-AbCdEf`;
        const curated = `arn:aws:s3:::${mockPhysicalName(`${prefix}-curated`)}`;
        const ec2 = (r: string) => `arn:aws:ec2:${MOCK_REGION}:${MOCK_ACCOUNT}:${r}`;
        const logs = `arn:aws:logs:${MOCK_REGION}:${MOCK_ACCOUNT}:log-group:/aws/lambda/${prefix}-load:log-stream:*`;
        const summary = statementsOf(find(plan(), T.rolePolicy, `${prefix}-load-policy`).inputs["policy"]).map(
          (s) =>
            `${s.Sid}: ${s.Action.join(",")} on ${s.Resource.join(",")}${s.Condition ? ` if ${JSON.stringify(s.Condition)}` : ""}`,
        );
        expect(summary).to.deep.equal([
          `GetCuratedObjects: s3:GetObject on ${tables()
            .map((t) => `${curated}/${t}/*`)
            .join(",")}`,
          `ListCuratedDates: s3:ListBucket on ${curated} if {"StringLike":{"s3:prefix":${JSON.stringify(tables().map((t) => `${t}/date=*`))}}}`,
          `ReadDatabaseSecret: secretsmanager:GetSecretValue on ${secret}`,
          `CreateFunctionNetworkInterfaces: ec2:CreateNetworkInterface on ${ec2("network-interface/*")},${ec2(`subnet/${prefix}-private-1-id`)},${ec2(`subnet/${prefix}-private-2-id`)},${ec2(`security-group/${sgId("load-sg")}`)}`,
          `ManageFunctionNetworkInterfaces: ec2:DeleteNetworkInterface,ec2:AssignPrivateIpAddresses,ec2:UnassignPrivateIpAddresses on ${ec2("network-interface/*")}`,
          "DescribeFunctionNetwork: ec2:DescribeNetworkInterfaces,ec2:DescribeSubnets on *",
          `WriteOwnLogs: logs:CreateLogStream,logs:PutLogEvents on ${logs}`,
        ]);
        const fn = find(plan(), T.fn, `${prefix}-load`).inputs;
        expect(fn["vpcConfig"]).to.deep.equal({
          subnetIds: [`${prefix}-private-1-id`, `${prefix}-private-2-id`],
          securityGroupIds: [sgId("load-sg")],
        });
        expect(fn["environment"]).to.deep.equal({
          variables: {
            WAREHOUSE_HOST: `${mockPhysicalName(`${prefix}-db`)}.cluster-abcdefghijkl.${MOCK_REGION}.rds.amazonaws.com`,
            WAREHOUSE_PORT: "5432",
            WAREHOUSE_DATABASE: "weather",
            WAREHOUSE_SECRET_ARN: secret,
          },
        });
        expect(fn).to.deep.include({
          memorySize: config().warehouse!.load.memoryMb,
          timeout: config().warehouse!.load.timeoutSeconds,
        });
      });

      it("puts no password or secret value in any input", () => {
        for (const resource of plan()) {
          const text = JSON.stringify(resource.inputs);
          expect(text, `${resource.type} ${resource.name}`).to.not.contain(SECRET_PLACEHOLDER);
          expect(
            Object.keys(resource.inputs).filter((k) => /password/i.test(k) && k !== "manageMasterUserPassword"),
            resource.name,
          ).to.deep.equal([]);
        }
        expect(ofType(plan(), "aws:secretsmanager/secretVersion:SecretVersion")).to.deep.equal([]);
        // The load code and its environment name the secret by ARN; RDS keeps and rotates the value.
        const code = (
          find(plan(), T.fn, `${prefix}-load`).inputs["code"] as { assets: Record<string, { text?: string }> }
        ).assets["__index.js"]!.text!;
        expect(code).to.contain("WAREHOUSE_SECRET_ARN");
        // No password literal: the only quoted value next to a password is the SQLSTATE of a wrong one.
        expect(code.match(/\w*password\w*\s*[:=]\s*["'][^"']*["']/gi) ?? []).to.deep.equal([
          'INVALID_PASSWORD: "28P01"',
        ]);
      });

      it("runs Load after Transform and for load-only dates, with Retry, and Catch -> alert -> dead letter; valid ASL", () => {
        const definition = JSON.parse(find(plan(), T.stateMachine, `${prefix}-run`).inputs["definition"] as string) as {
          StartAt: string;
          States: Record<string, Record<string, unknown>>;
        };
        const result = validateAsl(definition, { checkPaths: true, checkArn: true });
        expect(result.errors, JSON.stringify(result.errors)).to.be.empty;
        const loadArn = `arn:aws:lambda:${MOCK_REGION}:${MOCK_ACCOUNT}:function:${prefix}-load`;
        const top = definition.States;
        expect(top["PlanRun"]!["Next"]).to.equal("PlanLoads");
        expect(top["PlanLoads"]).to.deep.include({
          Parameters: { FunctionName: loadArn, Payload: { "plan.$": "$", "input.$": "$$.Execution.Input" } },
          Next: "EachDate",
        });
        const inner = (top["EachDate"]!["ItemProcessor"] as { States: Record<string, Record<string, unknown>> }).States;
        expect((inner["NeedsIngest"]!["Choices"] as unknown[])[0]).to.deep.equal({
          Variable: "$.loadOnly",
          IsPresent: true,
          Next: "Load",
        });
        expect(inner["Transform"]!["Next"]).to.equal("Load");
        const load = inner["Load"]!;
        expect(load).to.deep.include({
          Parameters: { FunctionName: loadArn, Payload: { "date.$": "$.date" } },
          End: true,
        });
        const retries = load["Retry"] as { ErrorEquals: string[] }[];
        expect(retries.flatMap((r) => r.ErrorEquals)).to.include.members([
          "WarehouseUnavailableError",
          "Lambda.ServiceException",
          "States.Timeout",
        ]);
        expect(retries.flatMap((r) => r.ErrorEquals)).to.not.include("WarehouseError");
        expect(load["Catch"]).to.deep.equal([
          { ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "LoadFailed" },
        ]);
        expect(inner["LoadFailed"]).to.deep.include({
          Type: "Pass",
          Parameters: {
            step: "Load",
            input: { "date.$": "$.date", loadOnly: true },
            keys: [],
            "failure.$": "$.failure",
          },
          Next: "AlertDateFailure",
        });
      });

      it("runs LoadWindow after TransformWindow and for complete windows, with the Load's Retry, and Catch -> alert -> dead letter of the window; valid ASL", () => {
        const definition = JSON.parse(
          find(plan(), T.stateMachine, `${prefix}-backfill`).inputs["definition"] as string,
        ) as { States: Record<string, Record<string, unknown>> };
        const result = validateAsl(definition, { checkPaths: true, checkArn: true });
        expect(result.errors, JSON.stringify(result.errors)).to.be.empty;
        const loadArn = `arn:aws:lambda:${MOCK_REGION}:${MOCK_ACCOUNT}:function:${prefix}-load`;
        const inner = (
          definition.States["EachWindow"]!["ItemProcessor"] as { States: Record<string, Record<string, unknown>> }
        ).States;
        expect((inner["HasNotBefore"]!["Choices"] as unknown[])[0]).to.deep.equal({
          Variable: "$.loadOnly",
          IsPresent: true,
          Next: "LoadWindow",
        });
        // The transform's result beside the window, so the load gets the window's from and to.
        expect(inner["TransformWindow"]).to.deep.include({ ResultPath: "$.transformed", Next: "LoadWindow" });
        expect(inner["TransformWindow"]).to.not.have.property("End");
        const load = inner["LoadWindow"]!;
        expect(load).to.deep.include({
          Parameters: { FunctionName: loadArn, Payload: { "from.$": "$.from", "to.$": "$.to" } },
          End: true,
        });
        // The daily Load's retries, exactly.
        const daily = JSON.parse(find(plan(), T.stateMachine, `${prefix}-run`).inputs["definition"] as string) as {
          States: { EachDate: { ItemProcessor: { States: Record<string, Record<string, unknown>> } } };
        };
        expect(load["Retry"]).to.deep.equal(daily.States.EachDate.ItemProcessor.States["Load"]!["Retry"]);
        expect(load["Catch"]).to.deep.equal([
          { ErrorEquals: ["States.ALL"], ResultPath: "$.failure", Next: "LoadWindowFailed" },
        ]);
        expect(inner["LoadWindowFailed"]).to.deep.include({
          Type: "Pass",
          Parameters: {
            step: "LoadWindow",
            input: { "from.$": "$.from", "to.$": "$.to" },
            keys: [],
            "failure.$": "$.failure",
          },
          Next: "AlertWindowFailure",
        });
        expect(inner["AlertWindowFailure"]!["Next"]).to.equal("DeadLetterWindow");
      });

      it("ends each source's iteration with LoadSource where the stack has sources, retried like Load", () => {
        const definition = JSON.parse(find(plan(), T.stateMachine, `${prefix}-run`).inputs["definition"] as string) as {
          States: Record<string, Record<string, unknown>>;
        };
        const sources = plans.get(stack)!.config.sources;
        expect(sources.length > 0, "staging has its sample source, prod none").to.equal(stack === "staging");
        if (sources.length === 0) {
          expect(definition.States["EachSource"]).to.equal(undefined);
          return;
        }
        const loadArn = `arn:aws:lambda:${MOCK_REGION}:${MOCK_ACCOUNT}:function:${prefix}-load`;
        const inner = (
          definition.States["EachSource"]!["ItemProcessor"] as { States: Record<string, Record<string, unknown>> }
        ).States;
        expect(inner["TransformSource"]).to.deep.include({
          ResultSelector: { "dates.$": "$.Payload.dates" },
          ResultPath: "$.transformed",
          Next: "LoadSource",
        });
        expect(inner["SourceChanged"]!["Default"]).to.equal("NothingToLoad");
        expect(inner["NothingToLoad"]).to.deep.include({ Result: { dates: [] }, Next: "LoadSource" });
        expect(inner["LoadSource"]).to.deep.include({
          Parameters: { FunctionName: loadArn, Payload: { "source.$": "$.source", "dates.$": "$.transformed.dates" } },
          Next: "SourceDone",
        });
        const retries = inner["LoadSource"]!["Retry"] as { ErrorEquals: string[] }[];
        expect(retries.flatMap((r) => r.ErrorEquals)).to.include("WarehouseUnavailableError");
        expect((inner["LoadSourceFailed"]!["Parameters"] as Record<string, unknown>)["step.$"]).to.equal(
          "States.Format('LoadSource {}', $.source)",
        );
      });
    });
  }

  it("uses an existing VPC by config: its subnets, no network of its own, the same exact database port rule", () => {
    const { plan } = plans.get("byovpc")!;
    const prefix = `${PROJECT}-byovpc`;
    for (const type of [T.vpc, T.subnet, T.endpoint, T.routeTable]) expect(ofType(plan, type), type).to.deep.equal([]);
    expect(find(plan, T.subnetGroup, `${prefix}-db-subnets`).inputs["subnetIds"]).to.deep.equal([
      "subnet-0aaa1111",
      "subnet-0bbb2222",
    ]);
    for (const sg of ofType(plan, T.sg)) expect(sg.inputs["vpcId"]).to.equal("vpc-0abc1234");
    const ingress = ofType(plan, T.ingress).map((r) => [
      r.inputs["securityGroupId"],
      r.inputs["fromPort"],
      r.inputs["referencedSecurityGroupId"],
    ]);
    expect(ingress).to.deep.equal([[`${prefix}-db-sg-id`, 5432, `${prefix}-load-sg-id`]]);
    expect(find(plan, T.fn, `${prefix}-load`).inputs["vpcConfig"]).to.deep.equal({
      subnetIds: ["subnet-0aaa1111", "subnet-0bbb2222"],
      securityGroupIds: [`${prefix}-load-sg-id`],
    });
  });
});
