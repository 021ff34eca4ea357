/**
 * The warehouse of one stack: a private network, an Aurora PostgreSQL Serverless v2 cluster in
 * it, and the load Lambda beside it.
 *
 * - Network: a VPC (or an existing one by config) with two private subnets in two zones, no
 *   internet gateway and no NAT. S3 is reached through a gateway endpoint (free) whose policy
 *   allows only reading the curated bucket; Secrets Manager through an interface endpoint in one
 *   zone (the only network part with an hourly price).
 * - Database: encrypted storage, not publicly accessible, TLS required (rds.force_ssl = 1 in its
 *   cluster parameter group), automated backups; deletion protection and a final snapshot only
 *   where protectData; the master password created, kept and rotated by RDS in Secrets Manager
 *   (manageMasterUserPassword), so no password is in the program, its state or its logs.
 * - Security groups: only the load function's group may reach the database port, and only it may
 *   reach the Secrets Manager endpoint; the database's group has no egress at all.
 * - The load function: an inline callback like the others, in the private subnets, whose role
 *   may read the curated Parquet, list its date prefixes, read the database secret, and manage
 *   its own network interfaces; nothing else.
 */
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DATASETS } from "../core/keys";
import type { PipelineSettings } from "../core/settings";
import { createS3Client, S3ObjectStore } from "../core/storage";
import {
  WAREHOUSE_ENVIRONMENT,
  createLoadHandler,
  deployedDatabaseConnector,
  deployedDatabaseFromEnvironment,
  sourceWarehouseTable,
  type LoadResult,
  type RunDate,
} from "../warehouse";
import { sourceSchema, sourceTable, type SourceDefinition } from "../sources";
import type { WarehouseConfig } from "./config";
import { physicalName } from "./names";
import { PipelineFunction } from "./pipeline-function";
import type { PolicyStatement } from "./service-role";

/** PostgreSQL's port, the only one the database's security group opens. */
export const DATABASE_PORT = 5432;

/** The master user RDS creates; its password lives only in the RDS-managed secret. */
export const MASTER_USERNAME = "weather_admin";

/** Aurora's parameter group family of an engine version, e.g. aurora-postgresql16 for 16.6. */
export function parameterGroupFamily(engineVersion: string): string {
  return `aurora-postgresql${engineVersion.split(".")[0]}`;
}

/** The first `count` subnets of `cidr`, each a quarter of it (a /16 gives four /18s). */
export function privateSubnetCidrs(cidr: string, count: number): string[] {
  const [address, bitsText] = cidr.split("/") as [string, string];
  const bits = Number(bitsText) + 2;
  const base = address.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
  return Array.from({ length: count }, (_, i) => {
    const value = base + i * 2 ** (32 - bits);
    return `${[24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".")}/${bits}`;
  });
}

/** What the warehouse needs from the rest of the stack. */
export interface WarehouseArgs {
  readonly config: WarehouseConfig;
  readonly protectData: boolean;
  readonly settings: PipelineSettings;
  readonly catchUp: { readonly days: number; readonly maxDatesPerRun: number };
  readonly logRetentionDays: number;
  readonly curatedBucket: { readonly name: pulumi.Output<string>; readonly arn: pulumi.Output<string> };
  readonly accountId: pulumi.Input<string>;
  readonly region: pulumi.Input<string>;
  /** The stack's sources: a table `source_<name>` each, loaded from `source_<name>/` of the curated bucket. */
  readonly sources?: readonly SourceDefinition[];
}

/** The deployed warehouse and what a user needs to reach it. */
export class Warehouse extends pulumi.ComponentResource {
  public readonly vpcId: pulumi.Output<string>;
  public readonly subnetIds: pulumi.Output<string>[];
  public readonly loadSecurityGroup: aws.ec2.SecurityGroup;
  public readonly databaseSecurityGroup: aws.ec2.SecurityGroup;
  public readonly cluster: aws.rds.Cluster;
  public readonly instance: aws.rds.ClusterInstance;
  public readonly secretArn: pulumi.Output<string>;
  public readonly load: PipelineFunction<unknown, LoadResult | { dates: RunDate[] }>;

  /** `name` is the stack's prefix, `<project>-<stack>`. */
  constructor(name: string, args: WarehouseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("weather-pipeline:warehouse:Warehouse", name, {}, opts);
    // What the load reads: the datasets' prefixes, then each source's table.
    const curatedTables = [...DATASETS, ...(args.sources ?? []).map((s) => sourceTable(s.name))];
    const parent = { parent: this };
    const { config } = args;
    const network = config.network;

    let endpointSecurityGroup: aws.ec2.SecurityGroup | undefined;
    let s3PrefixListId: pulumi.Output<string> | undefined;
    if ("cidr" in network) {
      const vpc = new aws.ec2.Vpc(
        `${name}-vpc`,
        // DNS support and host names: the Secrets Manager endpoint's private DNS name needs both.
        {
          cidrBlock: network.cidr,
          enableDnsSupport: true,
          enableDnsHostnames: true,
          tags: { Name: `${name}-warehouse` },
        },
        parent,
      );
      const zones = aws.getAvailabilityZonesOutput({ state: "available" }, parent);
      const subnets = privateSubnetCidrs(network.cidr, 2).map(
        (cidrBlock, i) =>
          new aws.ec2.Subnet(
            `${name}-private-${i + 1}`,
            {
              vpcId: vpc.id,
              cidrBlock,
              availabilityZone: zones.names.apply((names) => names[i] as string),
              mapPublicIpOnLaunch: false,
              tags: { Name: `${name}-private-${i + 1}` },
            },
            parent,
          ),
      );
      // Only the VPC's local route, and S3's through the gateway endpoint: nothing leaves for the internet.
      const routes = new aws.ec2.RouteTable(
        `${name}-private-routes`,
        { vpcId: vpc.id, tags: { Name: `${name}-private` } },
        parent,
      );
      subnets.forEach(
        (subnet, i) =>
          new aws.ec2.RouteTableAssociation(
            `${name}-private-${i + 1}-routes`,
            { subnetId: subnet.id, routeTableId: routes.id },
            parent,
          ),
      );
      this.vpcId = vpc.id;
      this.subnetIds = subnets.map((s) => s.id);
      const s3 = new aws.ec2.VpcEndpoint(
        `${name}-s3`,
        {
          vpcId: vpc.id,
          serviceName: pulumi.interpolate`com.amazonaws.${args.region}.s3`,
          vpcEndpointType: "Gateway",
          routeTableIds: [routes.id],
          // What anything in this VPC may do with S3 through it: read the curated data.
          policy: pulumi.jsonStringify({
            Version: "2012-10-17",
            Statement: [
              {
                Sid: "ReadCuratedData",
                Effect: "Allow",
                Principal: "*",
                Action: ["s3:GetObject", "s3:ListBucket"],
                Resource: [
                  args.curatedBucket.arn,
                  ...curatedTables.map((d) => pulumi.interpolate`${args.curatedBucket.arn}/${d}/*`),
                ],
              },
            ],
          }),
        },
        parent,
      );
      s3PrefixListId = s3.prefixListId;
      endpointSecurityGroup = new aws.ec2.SecurityGroup(
        `${name}-secrets-endpoint-sg`,
        {
          name: physicalName("security-group", `${name}-secrets-endpoint-sg`),
          vpcId: vpc.id,
          description: "Secrets Manager endpoint: HTTPS from the load function only",
        },
        parent,
      );
      new aws.ec2.VpcEndpoint(
        `${name}-secretsmanager`,
        {
          vpcId: vpc.id,
          serviceName: pulumi.interpolate`com.amazonaws.${args.region}.secretsmanager`,
          vpcEndpointType: "Interface",
          privateDnsEnabled: true,
          // One zone: an endpoint is billed per zone and hour, and a daily load can wait for a zone to return.
          subnetIds: [subnets[0]!.id],
          securityGroupIds: [endpointSecurityGroup.id],
        },
        parent,
      );
    } else {
      this.vpcId = pulumi.output(network.vpcId);
      this.subnetIds = network.subnetIds.map((id) => pulumi.output(id));
    }

    this.loadSecurityGroup = new aws.ec2.SecurityGroup(
      `${name}-load-sg`,
      {
        name: physicalName("security-group", `${name}-load-sg`),
        vpcId: this.vpcId,
        description: "The load function: to the database, Secrets Manager and S3 only",
      },
      parent,
    );
    this.databaseSecurityGroup = new aws.ec2.SecurityGroup(
      `${name}-db-sg`,
      {
        name: physicalName("security-group", `${name}-db-sg`),
        vpcId: this.vpcId,
        description: "The warehouse database: PostgreSQL from the load function only",
      },
      parent,
    );
    const loadGroupId = this.loadSecurityGroup.id;
    new aws.vpc.SecurityGroupIngressRule(
      `${name}-db-from-load`,
      {
        securityGroupId: this.databaseSecurityGroup.id,
        description: "PostgreSQL from the load function",
        ipProtocol: "tcp",
        fromPort: DATABASE_PORT,
        toPort: DATABASE_PORT,
        referencedSecurityGroupId: loadGroupId,
      },
      parent,
    );
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-load-to-db`,
      {
        securityGroupId: loadGroupId,
        description: "PostgreSQL to the warehouse database",
        ipProtocol: "tcp",
        fromPort: DATABASE_PORT,
        toPort: DATABASE_PORT,
        referencedSecurityGroupId: this.databaseSecurityGroup.id,
      },
      parent,
    );
    if (endpointSecurityGroup && s3PrefixListId) {
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-secrets-from-load`,
        {
          securityGroupId: endpointSecurityGroup.id,
          description: "HTTPS from the load function",
          ipProtocol: "tcp",
          fromPort: 443,
          toPort: 443,
          referencedSecurityGroupId: loadGroupId,
        },
        parent,
      );
      new aws.vpc.SecurityGroupEgressRule(
        `${name}-load-to-secrets`,
        {
          securityGroupId: loadGroupId,
          description: "HTTPS to the Secrets Manager endpoint",
          ipProtocol: "tcp",
          fromPort: 443,
          toPort: 443,
          referencedSecurityGroupId: endpointSecurityGroup.id,
        },
        parent,
      );
      new aws.vpc.SecurityGroupEgressRule(
        `${name}-load-to-s3`,
        {
          securityGroupId: loadGroupId,
          description: "HTTPS to S3 through the gateway endpoint",
          ipProtocol: "tcp",
          fromPort: 443,
          toPort: 443,
          prefixListId: s3PrefixListId,
        },
        parent,
      );
    } else {
      // An existing VPC: S3 and Secrets Manager are reached however it routes them (NAT or endpoints).
      new aws.vpc.SecurityGroupEgressRule(
        `${name}-load-to-https`,
        {
          securityGroupId: loadGroupId,
          description: "HTTPS to S3 and Secrets Manager, routed by the existing VPC",
          ipProtocol: "tcp",
          fromPort: 443,
          toPort: 443,
          cidrIpv4: "0.0.0.0/0",
        },
        parent,
      );
    }

    const subnetGroup = new aws.rds.SubnetGroup(
      `${name}-db-subnets`,
      {
        name: physicalName("rds-subnet-group", `${name}-db-subnets`),
        subnetIds: this.subnetIds,
        description: `Private subnets of the ${name} warehouse`,
      },
      parent,
    );
    const parameters = new aws.rds.ClusterParameterGroup(
      `${name}-db-params`,
      {
        name: physicalName("rds-parameter-group", `${name}-db-params`),
        family: parameterGroupFamily(config.engineVersion),
        description: `${name} warehouse: TLS required`,
        parameters: [{ name: "rds.force_ssl", value: "1" }],
      },
      parent,
    );
    // A snapshot identifier follows the cluster identifier's rules, and is the stack's own.
    const finalSnapshot = physicalName("rds-cluster", `${name}-db-final`);
    this.cluster = new aws.rds.Cluster(
      `${name}-db`,
      {
        clusterIdentifier: physicalName("rds-cluster", `${name}-db`),
        engine: "aurora-postgresql",
        engineMode: "provisioned",
        engineVersion: config.engineVersion,
        databaseName: config.databaseName,
        masterUsername: MASTER_USERNAME,
        manageMasterUserPassword: true,
        storageEncrypted: true,
        dbSubnetGroupName: subnetGroup.name,
        vpcSecurityGroupIds: [this.databaseSecurityGroup.id],
        dbClusterParameterGroupName: parameters.name,
        port: DATABASE_PORT,
        backupRetentionPeriod: config.backupRetentionDays,
        preferredBackupWindow: "02:00-03:00",
        copyTagsToSnapshot: true,
        deletionProtection: args.protectData,
        skipFinalSnapshot: !args.protectData,
        ...(args.protectData ? { finalSnapshotIdentifier: finalSnapshot } : {}),
        serverlessv2ScalingConfiguration: {
          minCapacity: config.minCapacityAcu,
          maxCapacity: config.maxCapacityAcu,
          ...(config.minCapacityAcu === 0 ? { secondsUntilAutoPause: config.autoPauseSeconds } : {}),
        },
        applyImmediately: !args.protectData,
      },
      { parent: this, protect: args.protectData },
    );
    this.instance = new aws.rds.ClusterInstance(
      `${name}-db-1`,
      {
        identifier: physicalName("rds-instance", `${name}-db-1`),
        clusterIdentifier: this.cluster.id,
        instanceClass: "db.serverless",
        engine: "aurora-postgresql",
        engineVersion: this.cluster.engineVersion,
        publiclyAccessible: false,
        dbSubnetGroupName: subnetGroup.name,
        autoMinorVersionUpgrade: true,
      },
      { parent: this, protect: args.protectData },
    );
    this.secretArn = this.cluster.masterUserSecrets.apply((secrets) => {
      const arn = secrets?.[0]?.secretArn;
      if (!arn)
        throw new Error(
          `the ${name} warehouse cluster reports no master user secret; manageMasterUserPassword must be on`,
        );
      return arn;
    });

    const ec2Arn = (resource: pulumi.Input<string>) =>
      pulumi.interpolate`arn:aws:ec2:${args.region}:${args.accountId}:${resource}`;
    const curatedObjects = curatedTables.map((table) => pulumi.interpolate`${args.curatedBucket.arn}/${table}/*`);
    const statements: PolicyStatement[] = [
      { Sid: "GetCuratedObjects", Effect: "Allow", Action: ["s3:GetObject"], Resource: curatedObjects },
      {
        Sid: "ListCuratedDates",
        Effect: "Allow",
        Action: ["s3:ListBucket"],
        Resource: [args.curatedBucket.arn],
        Condition: { StringLike: { "s3:prefix": curatedTables.map((table) => `${table}/date=*`) } },
      },
      {
        Sid: "ReadDatabaseSecret",
        Effect: "Allow",
        Action: ["secretsmanager:GetSecretValue"],
        Resource: [this.secretArn],
      },
      // What Lambda does with the role to attach the function to the subnets (AWS's documented minimum).
      {
        Sid: "CreateFunctionNetworkInterfaces",
        Effect: "Allow",
        Action: ["ec2:CreateNetworkInterface"],
        Resource: [
          ec2Arn("network-interface/*"),
          ...this.subnetIds.map((id) => ec2Arn(pulumi.interpolate`subnet/${id}`)),
          ec2Arn(pulumi.interpolate`security-group/${loadGroupId}`),
        ],
      },
      {
        Sid: "ManageFunctionNetworkInterfaces",
        Effect: "Allow",
        Action: ["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"],
        Resource: [ec2Arn("network-interface/*")],
      },
      // EC2's Describe actions take no resource ARN: "*" is the only resource they accept.
      {
        Sid: "DescribeFunctionNetwork",
        Effect: "Allow",
        Action: ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
        Resource: ["*"],
      },
    ];

    const settings = args.settings;
    const catchUp = args.catchUp;
    const sourceTables = (args.sources ?? []).map((s) => sourceWarehouseTable(sourceSchema(s), s.key));
    const curatedBucketName = args.curatedBucket.name;
    this.load = new PipelineFunction(
      `${name}-load`,
      {
        functionName: `${name}-load`,
        description:
          "Loads a date's curated Parquet into the PostgreSQL warehouse (delete the date, COPY, in one transaction)",
        memoryMb: config.load.memoryMb,
        timeoutSeconds: config.load.timeoutSeconds,
        logRetentionDays: args.logRetentionDays,
        statements,
        // The sources' tables are plain data (sourceTables): their parsers stay out too.
        excludePackages: ["ky", "hyparquet-writer", "csv-parse", "luxon"],
        vpcConfig: { subnetIds: this.subnetIds, securityGroupIds: [loadGroupId] },
        environment: {
          [WAREHOUSE_ENVIRONMENT.host]: this.cluster.endpoint,
          [WAREHOUSE_ENVIRONMENT.port]: this.cluster.port.apply(String),
          [WAREHOUSE_ENVIRONMENT.database]: config.databaseName,
          // The ARN of the secret, never its value: the function reads the value at run time.
          [WAREHOUSE_ENVIRONMENT.secretId]: this.secretArn,
        },
        callbackFactory: () => {
          const curatedStore = new S3ObjectStore(createS3Client(), curatedBucketName.get());
          return createLoadHandler({
            settings,
            curatedStore,
            connect: deployedDatabaseConnector(
              deployedDatabaseFromEnvironment(process.env),
              new SecretsManagerClient({}),
            ),
            catchUpDays: catchUp.days,
            maxDatesPerRun: catchUp.maxDatesPerRun,
            sourceTables,
          });
        },
      },
      { parent: this, dependsOn: [this.instance] },
    );
    this.registerOutputs({
      endpoint: this.cluster.endpoint,
      secretArn: this.secretArn,
      loadFunctionName: this.load.function.name,
    });
  }
}
