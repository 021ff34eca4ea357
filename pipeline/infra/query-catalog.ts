/**
 * What makes the curated bucket queryable: a Glue database with one table per dataset, whose
 * columns come from the same schema the Parquet writer uses, partition projection on `date` (a
 * new day is queryable the moment its file lands: no crawler, no MSCK REPAIR), and an Athena
 * workgroup with its own short-lived results bucket and a per-query scan cutoff.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DATASETS, type Dataset } from "../core/keys";
import { datasetSchema, PARTITION_COLUMN, type ColumnNames, type TableSchema } from "../core/schema";
import { sourceSchema, type SourceDefinition } from "../sources";
import { DataBucket } from "./data-bucket";
import { physicalName } from "./names";

/** A saved query offered in the Athena console. */
export interface ExampleQuery {
  readonly name: string;
  readonly description: string;
  readonly sql: string;
}

/** Arguments of a QueryCatalog. */
export interface QueryCatalogArgs {
  /** Glue database name: lower-case letters, digits and underscores. */
  readonly databaseName: string;
  readonly curatedBucketName: pulumi.Input<string>;
  readonly hourlyVariables: readonly string[];
  readonly dailyVariables: readonly string[];
  /** Column names of renamed variables (the stack's `columnNames`); default none. */
  readonly columnNames?: ColumnNames;
  /** Configured sources: one table `source_<name>` each, from the same kind of schema; default none. */
  readonly sources?: readonly SourceDefinition[];
  /** Query results are deleted after this many days. */
  readonly resultsExpirationDays: number;
  /** A query that would scan more than this many bytes is cancelled. */
  readonly bytesScannedCutoffPerQuery: number;
  /** Saved queries for the workgroup. Default none. */
  readonly exampleQueries?: readonly ExampleQuery[];
}

/** First day partition projection offers: the start of Open-Meteo's historical archive. */
export const PROJECTION_START_DATE = "1940-01-01";

/**
 * The Glue database name of a project's stack: Athena wants [a-z0-9_], so weather-pipeline-dev
 * is weather_pipeline_dev; a stack name that cannot map so without meeting another's gets a hash.
 */
export function glueDatabaseName(project: string, stack: string): string {
  return physicalName("glue-database", `${project}-${stack}`);
}

/** The Glue table properties of a curated table: Parquet, and `date` projected from the key layout. */
export function tableParameters(bucket: string, dataset: string): Record<string, string> {
  return {
    EXTERNAL: "TRUE",
    classification: "parquet",
    "parquet.compression": "SNAPPY",
    "projection.enabled": "true",
    [`projection.${PARTITION_COLUMN}.type`]: "date",
    [`projection.${PARTITION_COLUMN}.format`]: "yyyy-MM-dd",
    [`projection.${PARTITION_COLUMN}.range`]: `${PROJECTION_START_DATE},NOW`,
    [`projection.${PARTITION_COLUMN}.interval`]: "1",
    [`projection.${PARTITION_COLUMN}.interval.unit`]: "DAYS",
    // Mirrors keys.curatedPartitionPrefix.
    "storage.location.template": `s3://${bucket}/${dataset}/${PARTITION_COLUMN}=\${${PARTITION_COLUMN}}/`,
  };
}

/** The Glue database, tables and Athena workgroup of one stack. */
export class QueryCatalog extends pulumi.ComponentResource {
  public readonly database: aws.glue.CatalogDatabase;
  public readonly tables: Record<Dataset, aws.glue.CatalogTable>;
  /** One table per configured source, by source name. */
  public readonly sourceTables: Record<string, aws.glue.CatalogTable>;
  public readonly workgroup: aws.athena.Workgroup;
  public readonly resultsBucket: DataBucket;

  constructor(name: string, args: QueryCatalogArgs, opts?: pulumi.ComponentResourceOptions) {
    super("weather-pipeline:query:QueryCatalog", name, {}, opts);
    const parent = { parent: this };

    this.database = new aws.glue.CatalogDatabase(
      `${name}-database`,
      { name: args.databaseName, description: "Daily Open-Meteo weather, curated Parquet" },
      parent,
    );
    const variables: Record<Dataset, readonly string[]> = {
      weather_hourly: args.hourlyVariables,
      weather_daily: args.dailyVariables,
    };
    // Every table from its schema, Open-Meteo's datasets and the sources alike.
    const declare = (schema: TableSchema, partitionComment: string, withUnits: boolean) =>
      new aws.glue.CatalogTable(
        `${name}-${schema.table}`,
        {
          databaseName: this.database.name,
          name: schema.table,
          tableType: "EXTERNAL_TABLE",
          description: schema.description,
          parameters: pulumi.output(args.curatedBucketName).apply((bucket) => tableParameters(bucket, schema.table)),
          partitionKeys: [{ name: PARTITION_COLUMN, type: "date", comment: partitionComment }],
          storageDescriptor: {
            location: pulumi.interpolate`s3://${args.curatedBucketName}/${schema.table}/`,
            inputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            outputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            serDeInfo: {
              serializationLibrary: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
              parameters: { "serialization.format": "1" },
            },
            columns: schema.columns.map((c) => ({
              name: c.name,
              type: c.glueType,
              ...(withUnits && c.unit !== undefined ? { comment: c.unit } : {}),
            })),
          },
        },
        parent,
      );
    const tables = {} as Record<Dataset, aws.glue.CatalogTable>;
    for (const dataset of DATASETS) {
      tables[dataset] = declare(
        datasetSchema(dataset, variables[dataset], {}, args.columnNames),
        "calendar day in the stack's time zone",
        false,
      );
    }
    this.tables = tables;
    this.sourceTables = {};
    for (const source of args.sources ?? []) {
      this.sourceTables[source.name] = declare(sourceSchema(source), `calendar day in ${source.time.timezone}`, true);
    }

    this.resultsBucket = new DataBucket(
      `${name}-results`,
      { expirationDays: args.resultsExpirationDays, protectData: false },
      parent,
    );
    this.workgroup = new aws.athena.Workgroup(
      `${name}-workgroup`,
      {
        name: physicalName("athena-workgroup", name),
        description: "Queries over this stack's curated weather data",
        // Saved queries and history go with the stack.
        forceDestroy: true,
        configuration: {
          enforceWorkgroupConfiguration: true,
          publishCloudwatchMetricsEnabled: true,
          bytesScannedCutoffPerQuery: args.bytesScannedCutoffPerQuery,
          engineVersion: { selectedEngineVersion: "Athena engine version 3" },
          resultConfiguration: {
            outputLocation: pulumi.interpolate`s3://${this.resultsBucket.name}/results/`,
            encryptionConfiguration: { encryptionOption: "SSE_S3" },
          },
        },
      },
      parent,
    );
    for (const query of args.exampleQueries ?? []) {
      new aws.athena.NamedQuery(
        `${name}-${query.name}`,
        {
          name: query.name,
          description: query.description,
          database: this.database.name,
          workgroup: this.workgroup.name,
          query: query.sql,
        },
        parent,
      );
    }
    this.registerOutputs({ database: this.database.name, workgroup: this.workgroup.name });
  }
}
