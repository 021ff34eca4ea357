/**
 * The stack's configuration: the only module that reads Pulumi config. Every key is declared
 * here once, with its default and its check; `pulumi preview` fails on the first bad value
 * with a message that names the key, the value and the fix.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import {
  ConfigError,
  FREE_TIER_WEIGHT,
  OPEN_METEO_SOURCE,
  apiQuotaProblems,
  checkVariables,
  closestName,
  describeVariableProblem,
  parseStackFile,
  schedulerCronErrors,
  unknownNamespaceProblems,
  type VariableKind,
  type VariableProblem,
} from "../config";
import type { ApplicationLimits } from "../applications";
import { DEFAULT_PIPELINE_SETTINGS, type PipelineSettings } from "../core/settings";
import {
  DECLARED_TYPES,
  MAX_SOURCE_BYTES,
  MIN_SOURCE_BYTES,
  SOURCE_DEFAULTS,
  SOURCE_ENCODINGS,
  SOURCE_FORMATS,
  columnNamesProblems,
  sourceProblems,
  type SourceDefinition,
} from "../sources";

/** CloudWatch Logs accepts only these retention periods. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const VARIABLE = /^[a-z][a-z0-9_]*$/;

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Adds one issue per repeated entry, at the repeat, naming the first: a message about the whole
 * list would leave the reader to find the duplicate among thousands.
 */
function flagRepeats(
  names: readonly string[],
  ctx: z.RefinementCtx,
  first: (index: number) => string,
  where: (index: number) => PropertyKey[],
  rule: string,
): void {
  const seen = new Map<string, number>();
  names.forEach((name, index) => {
    const earlier = seen.get(name);
    if (earlier === undefined) {
      seen.set(name, index);
      return;
    }
    ctx.addIssue({
      code: "custom",
      path: where(index),
      input: name,
      message: `${first(earlier)} has the same name; ${rule}`,
    });
  });
}

/** A private (RFC 1918) IPv4 block from /16 to /24: room for the warehouse's two subnets. */
function isPrivateCidr(cidr: string): boolean {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!match) return false;
  const [a, b, c, d, bits] = match.slice(1).map(Number) as [number, number, number, number, number];
  if ([a, b, c, d].some((o) => o > 255) || bits < 16 || bits > 24) return false;
  const value = ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
  if (value % 2 ** (32 - bits) !== 0) return false;
  return a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
}

const variables = (what: string) =>
  z
    .array(
      z.string().regex(VARIABLE, {
        error: `each ${what} variable must be an Open-Meteo variable name in snake_case, e.g. temperature_2m`,
      }),
    )
    .superRefine((list, ctx) =>
      flagRepeats(
        list,
        ctx,
        (i) => `${what}Variables[${i}]`,
        (i) => [i],
        `${what} variables must not repeat; remove one`,
      ),
    );

const integer = (min: number, max: number, unit: string) =>
  z
    .number({ error: `it must be a whole number of ${unit}` })
    .int({ error: `it must be a whole number of ${unit}` })
    .min(min, { error: `it must be at least ${min} ${unit}` })
    .max(max, { error: `it must be at most ${max} ${unit}` });

const url = z.url({ protocol: /^https?$/, error: "it must be an http(s) URL" });

const VARIABLE_KEYS = ["hourlyVariables", "dailyVariables", "extraVariables"];
const LISTS_FROM = `open-meteo@${OPEN_METEO_SOURCE.commit.slice(0, 8)} of ${OPEN_METEO_SOURCE.date.slice(0, 10)}`;

/**
 * Checks hourlyVariables and dailyVariables against the names Open-Meteo's server parses and has
 * data for on both endpoints the pipeline calls (forecast for recent dates, archive for older
 * ones); names listed in extraVariables skip the check, and must be needed there.
 */
function checkVariableNames(
  c: { hourlyVariables: string[]; dailyVariables: string[]; extraVariables: string[] },
  ctx: z.RefinementCtx,
): void {
  const extra = new Set(c.extraVariables);
  const hatch: Record<VariableProblem["code"], string> = {
    unknown: `if Open-Meteo added it after this project's lists (${LISTS_FROM}), add it to extraVariables`,
    unavailable: `to request it anyway, add it to extraVariables (the lists are of ${LISTS_FROM})`,
    deprecated: "or add it to extraVariables to keep the old column name",
  };
  const needed = new Set<string>();
  for (const [key, kind] of [
    ["hourlyVariables", "hourly"],
    ["dailyVariables", "daily"],
  ] as const satisfies readonly (readonly [string, VariableKind])[]) {
    const names = c[key];
    for (const problem of checkVariables(kind, names)) {
      if (extra.has(problem.name)) {
        needed.add(problem.name);
        continue;
      }
      ctx.addIssue({
        code: "custom",
        path: [key, names.indexOf(problem.name)],
        input: problem.name,
        message: `${describeVariableProblem(problem)}; ${hatch[problem.code]}`,
      });
    }
  }
  c.extraVariables.forEach((name, index) => {
    const used = c.hourlyVariables.includes(name) || c.dailyVariables.includes(name);
    if (used && needed.has(name)) return;
    ctx.addIssue({
      code: "custom",
      path: ["extraVariables", index],
      input: name,
      message: used
        ? "it passes the check without extraVariables; remove it from extraVariables"
        : "it is in neither hourlyVariables nor dailyVariables; remove it from extraVariables or add it to one of them",
    });
  });
}

/** The keys the API quota check reads; it runs once all of them parsed. */
const QUOTA_KEYS = [
  "locations",
  "hourlyVariables",
  "dailyVariables",
  "scheduleCron",
  "catchUpDays",
  "maxDatesPerRun",
  "maxDailyWeight",
  "maxHourlyWeight",
];

/** Refuses a stack whose worst day or hour would exceed the Open-Meteo quota it is given. */
function checkApiQuota(
  c: {
    locations: readonly unknown[];
    hourlyVariables: readonly string[];
    dailyVariables: readonly string[];
    scheduleCron: string;
    catchUpDays: number;
    maxDatesPerRun: number;
    maxDailyWeight: number;
    maxHourlyWeight: number;
  },
  ctx: z.RefinementCtx,
): void {
  const problems = apiQuotaProblems(
    {
      locationCount: c.locations.length,
      variableCount: c.hourlyVariables.length + c.dailyVariables.length,
      scheduleCron: c.scheduleCron,
      catchUpDays: c.catchUpDays,
      maxDatesPerRun: c.maxDatesPerRun,
    },
    c,
  );
  for (const problem of problems) {
    ctx.addIssue({ code: "custom", path: [problem.key], input: problem.limit, message: problem.message });
  }
}

const d = DEFAULT_PIPELINE_SETTINGS;

/** A source's field: a header or JSON key, or a column number for CSV without a header. */
const sourceField = z.union([z.string().min(1), z.number().int().min(1)], {
  error: "it must be the file's name for the field (or, without a header, its column number)",
});

/** One entry of `sources` (see pipeline/sources/definition.ts and the README's Sources section). */
const sourceConfigSchema = z.strictObject({
  name: z.string({ error: "a source needs a name, e.g. city_stations" }),
  url,
  format: z.enum(SOURCE_FORMATS, { error: `it must be one of ${SOURCE_FORMATS.join(", ")}` }),
  delimiter: z.string({ error: 'it must be one character, e.g. ";"' }).optional(),
  decimal: z.enum([".", ","], { error: 'it must be "." or ","' }).optional(),
  encoding: z.enum(SOURCE_ENCODINGS, { error: `it must be one of ${SOURCE_ENCODINGS.join(", ")}` }).optional(),
  header: z.boolean({ error: "it must be true (the first line names the columns) or false" }).optional(),
  time: z.strictObject(
    {
      column: sourceField,
      format: z.string({ error: "it must be iso8601 or a pattern such as dd/MM/yyyy HH:mm" }),
      timezone: z.string({ error: "it must be an IANA time zone such as UTC or Europe/Berlin" }),
    },
    { error: "it must be {column, format, timezone}: where the time is, how it is written, and its zone" },
  ),
  columns: z
    .array(
      z.strictObject({
        name: z.string({ error: "a column needs a name" }),
        from: sourceField,
        type: z.enum(DECLARED_TYPES, { error: `it must be one of ${DECLARED_TYPES.join(", ")}` }),
        unit: z.string().optional(),
      }),
      { error: "it must be a list of {name, from, type, unit?}" },
    )
    .min(1, { error: "declare at least one column" }),
  key: z.array(z.string(), { error: "it must be a list of column names, e.g. [station_id, time]" }),
  nullValues: z.array(z.string(), { error: 'it must be a list of texts, e.g. ["", "-999"]' }).optional(),
  maxRejectedFraction: z
    .number({ error: "it must be a number from 0 to 1" })
    .min(0, { error: "it must be a number from 0 to 1" })
    .max(1, { error: "it must be a number from 0 to 1" })
    .default(SOURCE_DEFAULTS.maxRejectedFraction),
  maxBytes: integer(MIN_SOURCE_BYTES, MAX_SOURCE_BYTES, "bytes").default(SOURCE_DEFAULTS.maxBytes),
  attribution: z.string().optional(),
});

type SourceInput = z.output<typeof sourceConfigSchema>;

/** A parsed entry of `sources` with the defaults of the CSV keys applied. */
function sourceDefinitionOf(input: SourceInput): SourceDefinition {
  const { delimiter, decimal, encoding, header, nullValues, attribution, ...rest } = input;
  return {
    ...rest,
    delimiter: delimiter ?? SOURCE_DEFAULTS.delimiter,
    decimal: decimal ?? SOURCE_DEFAULTS.decimal,
    encoding: encoding ?? SOURCE_DEFAULTS.encoding,
    header: header ?? SOURCE_DEFAULTS.header,
    nullValues: nullValues ?? [...SOURCE_DEFAULTS.nullValues],
    ...(attribution === undefined ? {} : { attribution }),
  };
}

/**
 * Every config key of the project (`weather-pipeline:<key>`), with its default.
 * Pulumi.yaml declares the same keys and defaults for the CLI; a test keeps them equal.
 */
export const stackConfigSchema = z
  .strictObject({
    locations: z
      .array(
        z.strictObject({
          name: z
            .string()
            .trim()
            .min(1, { error: "a location needs a name" })
            .max(100, { error: "a location name must be at most 100 characters" }),
          latitude: z
            .number({ error: "it must be a number" })
            .min(-90, { error: "it must be between -90 and 90" })
            .max(90, { error: "it must be between -90 and 90" }),
          longitude: z
            .number({ error: "it must be a number" })
            .min(-180, { error: "it must be between -180 and 180" })
            .max(180, { error: "it must be between -180 and 180" }),
        }),
      )
      .min(1, { error: "list at least one location" })
      .max(10_000, { error: "at most 10,000 locations per stack" })
      .superRefine((list, ctx) =>
        flagRepeats(
          list.map((l) => l.name),
          ctx,
          (i) => `locations[${i}]`,
          (i) => [i, "name"],
          "location names must be unique (they become the `location` column); rename or remove one",
        ),
      )
      .default(d.locations.map((l) => ({ ...l }))),
    hourlyVariables: variables("hourly").default([...d.hourlyVariables]),
    dailyVariables: variables("daily").default([...d.dailyVariables]),
    // Names passed to Open-Meteo without checking them against the known lists: for a variable
    // newer than the lists, or an old spelling kept on purpose.
    extraVariables: variables("extra").default([]),
    timezone: z
      .string()
      .refine(isTimeZone, { error: "it must be an IANA time zone such as UTC or Europe/Berlin" })
      .default(d.timezone),
    scheduleCron: z
      .string()
      .superRefine((cron, ctx) => {
        for (const e of schedulerCronErrors(cron)) {
          ctx.addIssue({
            code: "custom",
            input: cron,
            message: e.field === undefined ? `it ${e.message}` : `field ${e.field} (${e.fieldName}) ${e.message}`,
          });
        }
      })
      // AWS gets the fields as cron(<fields>): one space between them, whatever the stack file had.
      .transform((cron) => cron.trim().split(/\s+/).join(" "))
      .default("0 6 * * ? *"),
    scheduleEnabled: z.boolean({ error: "it must be true or false" }).default(true),
    forecastApiUrl: url.default(d.forecastApiUrl),
    archiveApiUrl: url.default(d.archiveApiUrl),
    forecastPastDays: integer(1, 92, "days").default(d.forecastPastDays),
    httpTimeoutMs: integer(1_000, 120_000, "milliseconds").default(d.http.timeoutMs),
    httpRetries: integer(0, 10, "retries").default(d.http.retries),
    maxWeightPerRequest: integer(1, 600, "API calls").default(d.http.maxWeightPerRequest),
    httpConcurrency: integer(1, 16, "requests").default(d.http.concurrency),
    ingestMemoryMb: integer(128, 10_240, "MB").default(256),
    ingestTimeoutSeconds: integer(10, 900, "seconds").default(120),
    transformMemoryMb: integer(128, 10_240, "MB").default(512),
    transformTimeoutSeconds: integer(10, 900, "seconds").default(300),
    logRetentionDays: z
      .number()
      .refine((n) => (LOG_RETENTION_DAYS as readonly number[]).includes(n), {
        error: `it must be one of CloudWatch's retention periods: ${LOG_RETENTION_DAYS.join(", ")}`,
      })
      .default(14),
    rawInfrequentAccessDays: integer(30, 36_500, "days").default(30),
    rawExpirationDays: integer(0, 36_500, "days (0 keeps raw data forever)").default(0),
    curatedExpirationDays: integer(0, 36_500, "days (0 keeps curated data forever)").default(0),
    protectData: z.boolean({ error: "it must be true or false" }).default(false),
    // Athena refuses a cutoff below 10 MB.
    athenaBytesScannedCutoffMb: integer(10, 10_000_000, "MB").default(1024),
    athenaResultsExpirationDays: integer(1, 3650, "days").default(7),
    alarmsEnabled: z.boolean({ error: "it must be true or false" }).default(true),
    alertEmail: z
      .union([z.literal(""), z.email({ error: "it must be an e-mail address, or empty for none" })])
      .default(""),
    freshnessHours: integer(25, 168, "hours").default(36),
    catchUpDays: integer(1, 92, "days").default(7),
    maxDatesPerRun: integer(1, 31, "dates").default(7),
    // 0 leaves a function on the account's unreserved pool: reserving fails on new accounts
    // whose whole limit is 10.
    ingestReservedConcurrency: integer(0, 1000, "concurrent executions (0 = unreserved)").default(0),
    transformReservedConcurrency: integer(0, 1000, "concurrent executions (0 = unreserved)").default(0),
    // Open-Meteo's quota for the stack's IP (the free tier's by default), checked against the
    // worst case of the schedule and catch-up (pipeline/config/api-quota.ts); accepted
    // applications keep the daily run within maxDailyWeight too.
    maxDailyWeight: integer(1, 1_000_000_000, "API weight").default(FREE_TIER_WEIGHT.perDay),
    maxHourlyWeight: integer(1, 1_000_000_000, "API weight").default(FREE_TIER_WEIGHT.perHour),
    applicationMaxBytes: integer(1_024, 10_485_760, "bytes").default(1_048_576),
    // Whole km: Pulumi.yaml declares config types string, integer, boolean and array only.
    applicationMinDistanceKm: integer(0, 1_000, "km").default(1),
    applicationNoticeEmail: z
      .union([z.literal(""), z.email({ error: "it must be an e-mail address, or empty for none" })])
      .default(""),
    // The warehouse (README "Warehouse"): off unless a stack turns it on.
    warehouseEnabled: z.boolean({ error: "it must be true or false" }).default(false),
    // Aurora Serverless v2 capacity in ACUs; a minimum of 0 lets the database pause when idle.
    warehouseMinCapacityAcu: integer(0, 256, "ACUs (0 lets the database pause)").default(0),
    warehouseMaxCapacityAcu: integer(1, 256, "ACUs").default(1),
    warehouseAutoPauseSeconds: integer(300, 86_400, "seconds").default(300),
    warehouseBackupRetentionDays: integer(1, 35, "days").default(1),
    warehouseDatabaseName: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,62}$/, {
        error: "it must be a PostgreSQL database name: lower-case letters, digits and _, starting with a letter",
      })
      .default("weather"),
    warehouseEngineVersion: z
      .string()
      .regex(/^\d+\.\d+$/, { error: 'it must be an Aurora PostgreSQL version such as "16.6"' })
      .default("16.6"),
    warehouseVpcCidr: z
      .string()
      .refine(isPrivateCidr, { error: "it must be a private IPv4 CIDR block from /16 to /24, e.g. 10.64.0.0/16" })
      .default("10.64.0.0/16"),
    warehouseVpcId: z
      .union([
        z.literal(""),
        z.string().regex(/^vpc-[0-9a-f]+$/, { error: "it must be a VPC id (vpc-...), or empty to create one" }),
      ])
      .default(""),
    warehouseSubnetIds: z
      .array(z.string().regex(/^subnet-[0-9a-f]+$/, { error: "each must be a subnet id (subnet-...)" }))
      .default([]),
    warehouseLoadMemoryMb: integer(128, 10_240, "MB").default(256),
    // Long enough for a paused database to resume (about 15 s) and a large date to load.
    warehouseLoadTimeoutSeconds: integer(30, 900, "seconds").default(120),
    // Of the free API's 10,000 a day; the rest is left for the daily runs.
    backfillMaxWeightPerDay: integer(1, 100_000_000, "API calls (Open-Meteo weight)").default(8_000),
    backfillMaxConcurrency: integer(1, 100, "windows at once").default(1),
    accessLogging: z.boolean({ error: "it must be true or false" }).default(false),
    accessLogExpirationDays: integer(1, 36_500, "days").default(365),
    // Published files fetched each run beside Open-Meteo, one table each (pipeline/sources).
    sources: z
      .array(sourceConfigSchema, {
        error: "it must be a list of sources, each {name, url, format, time, columns, key}",
      })
      .default([])
      .superRefine((list, ctx) => {
        const given = list.map((source) =>
          Object.keys(source).filter((k) => source[k as keyof SourceInput] !== undefined),
        );
        for (const problem of sourceProblems(list.map(sourceDefinitionOf), given)) {
          ctx.addIssue({ code: "custom", path: [...problem.path], input: problem.value, message: problem.message });
        }
      }),
    // Variable -> column name, e.g. temperature_2m: air_temperature_c.
    columnNames: z
      .record(z.string(), z.string({ error: "it must be a column name" }), {
        error: "it must be a map from Open-Meteo variable to column name, e.g. {temperature_2m: air_temperature_c}",
      })
      .default({}),
  })
  // zod skips an object's refinements once any key has a type error; this one needs only the
  // variable keys, so it runs whenever they parsed and every problem is listed at once.
  .superRefine(checkVariableNames, {
    when: (payload) => !payload.issues.some((i) => VARIABLE_KEYS.includes(String(i.path?.[0]))),
  })
  .superRefine(
    (c, ctx) => {
      for (const problem of columnNamesProblems(c.columnNames, c.hourlyVariables, c.dailyVariables)) {
        ctx.addIssue({
          code: "custom",
          path: ["columnNames", ...problem.path],
          input: problem.value,
          message: problem.message,
        });
      }
    },
    {
      when: (payload) => !payload.issues.some((i) => ["columnNames", ...VARIABLE_KEYS].includes(String(i.path?.[0]))),
    },
  )
  .superRefine(checkApiQuota, {
    when: (payload) => !payload.issues.some((i) => QUOTA_KEYS.includes(String(i.path?.[0]))),
  })
  .superRefine((c, ctx) => {
    if (c.hourlyVariables.length === 0 && c.dailyVariables.length === 0) {
      ctx.addIssue({
        code: "custom",
        path: ["hourlyVariables"],
        input: c.hourlyVariables,
        message: "hourlyVariables and dailyVariables are both empty; list at least one variable",
      });
    }
    if (c.warehouseMinCapacityAcu > c.warehouseMaxCapacityAcu) {
      ctx.addIssue({
        code: "custom",
        path: ["warehouseMinCapacityAcu"],
        input: c.warehouseMinCapacityAcu,
        message: `it is above warehouseMaxCapacityAcu (${c.warehouseMaxCapacityAcu}); lower it or raise the maximum`,
      });
    }
    if ((c.warehouseVpcId === "") !== (c.warehouseSubnetIds.length === 0)) {
      ctx.addIssue({
        code: "custom",
        path: [c.warehouseVpcId === "" ? "warehouseSubnetIds" : "warehouseVpcId"],
        input: c.warehouseVpcId === "" ? c.warehouseSubnetIds : c.warehouseVpcId,
        message:
          "warehouseVpcId and warehouseSubnetIds go together: set both to use an existing VPC (two or more private subnets in different zones), or neither to let the stack create one",
      });
    } else if (c.warehouseSubnetIds.length === 1) {
      ctx.addIssue({
        code: "custom",
        path: ["warehouseSubnetIds"],
        input: c.warehouseSubnetIds,
        message: "RDS needs subnets in at least two availability zones; list two or more",
      });
    }
    if (c.protectData && (c.rawExpirationDays > 0 || c.curatedExpirationDays > 0)) {
      ctx.addIssue({
        code: "custom",
        path: ["protectData"],
        input: c.protectData,
        message:
          "protectData is true but an expiration deletes data; set rawExpirationDays and curatedExpirationDays to 0, or protectData to false",
      });
    }
  });

/** The raw values of the config keys, as parsed from the stack file. */
export type StackConfigInput = z.input<typeof stackConfigSchema>;

/** The validated configuration of one stack. */
export interface StackConfig {
  readonly pipeline: PipelineSettings;
  /** The published files fetched beside Open-Meteo, one curated table each. */
  readonly sources: readonly SourceDefinition[];
  readonly schedule: { readonly cron: string; readonly enabled: boolean };
  readonly ingest: FunctionSizing;
  readonly transform: FunctionSizing;
  readonly logRetentionDays: number;
  readonly rawInfrequentAccessDays: number;
  /** 0 keeps objects forever. */
  readonly rawExpirationDays: number;
  /** 0 keeps objects forever. */
  readonly curatedExpirationDays: number;
  /** Protect the buckets: `pulumi destroy` refuses to delete them, and never empties them. */
  readonly protectData: boolean;
  readonly alerts: {
    readonly alarmsEnabled: boolean;
    /** Subscribed to the alert topic when set. */
    readonly email: string | undefined;
    /** Alarm when no curated partition was written for this many hours. */
    readonly freshnessHours: number;
  };
  readonly catchUp: { readonly days: number; readonly maxDatesPerRun: number };
  /** Open-Meteo API weight the stack may use (its plan's quota); the config is checked against it. */
  readonly apiWeightLimits: { readonly perDay: number; readonly perHour: number };
  /** Reserved concurrency per function; undefined leaves it unreserved. */
  readonly reservedConcurrency: { readonly ingest: number | undefined; readonly transform: number | undefined };
  /** The applications drop zone (README "Applications"). */
  readonly applications: {
    /** Largest file processed, in bytes. */
    readonly maxBytes: number;
    /** A new location must be at least this far from every existing one. */
    readonly minDistanceKm: number;
    /** Subscribed to the notice topic when set. */
    readonly noticeEmail: string | undefined;
  };
  /** The PostgreSQL warehouse; undefined where warehouseEnabled is false. */
  readonly warehouse: WarehouseConfig | undefined;
  /** How backfills are paced: Open-Meteo weight per UTC day, and windows fetched at once. */
  readonly backfill: { readonly maxWeightPerDay: number; readonly maxConcurrency: number };
  /** S3 server access logs of the raw and curated buckets, in a log bucket of the stack. */
  readonly accessLogs: { readonly enabled: boolean; readonly expirationDays: number };
  readonly athena: {
    /** A query that would scan more than this is cancelled. */
    readonly bytesScannedCutoffPerQuery: number;
    readonly resultsExpirationDays: number;
  };
}

/** The warehouse of a stack (see pipeline/infra/warehouse.ts). */
export interface WarehouseConfig {
  readonly minCapacityAcu: number;
  readonly maxCapacityAcu: number;
  readonly autoPauseSeconds: number;
  readonly backupRetentionDays: number;
  readonly databaseName: string;
  readonly engineVersion: string;
  /** Create a VPC with this block, or use an existing one. */
  readonly network: { readonly cidr: string } | { readonly vpcId: string; readonly subnetIds: readonly string[] };
  readonly load: FunctionSizing;
}

/** Memory and timeout of one Lambda function. */
export interface FunctionSizing {
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
}

export { ConfigError };

function formatPath(namespace: string, path: readonly PropertyKey[]): string {
  const [key, ...rest] = path;
  let out = `${namespace}:${String(key ?? "")}`;
  for (const part of rest) out += typeof part === "number" ? `[${part}]` : `.${String(part)}`;
  return out;
}

function describeIssue(namespace: string, issue: z.core.$ZodIssue, source: string): string {
  const where = formatPath(namespace, issue.path);
  if (issue.code === "unrecognized_keys") {
    const known = Object.keys(stackConfigSchema.shape);
    const keys = issue.keys.map((k) => formatPath(namespace, [...issue.path, k])).join(", ");
    const near = issue.keys.length === 1 ? closestName(issue.keys[0]!, known) : undefined;
    const hint = near === undefined ? "" : `did you mean ${near}? `;
    return issue.path.length === 0
      ? `${keys} is not a config key of this project (a typo or mis-indented block?); ${hint}known keys: ${known.join(", ")} (${source})`
      : `${keys} is not a field here; remove it (${source})`;
  }
  const value = "input" in issue && issue.input !== undefined ? JSON.stringify(issue.input) : "missing";
  return `${where} is ${value}; ${issue.message} (${source})`;
}

/**
 * Validates raw config values (keys without the project prefix) and returns the typed config.
 * `source` names where the values came from, for the messages (e.g. Pulumi.dev.yaml).
 */
export function parseStackConfig(raw: Record<string, unknown>, namespace: string, source: string): StackConfig {
  return parseWithProblems(raw, namespace, source, []);
}

/** parseStackConfig, listing `problems` (already worded, without the source) before the schema's. */
function parseWithProblems(
  raw: Record<string, unknown>,
  namespace: string,
  source: string,
  problems: readonly string[],
): StackConfig {
  const result = stackConfigSchema.safeParse(raw, { reportInput: true });
  if (!result.success || problems.length > 0) {
    const lines = [
      ...problems.map((p) => `- ${p} (${source})`),
      ...(result.error?.issues ?? []).map((issue) => `- ${describeIssue(namespace, issue, source)}`),
    ];
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const c = result.data;
  return {
    pipeline: {
      locations: c.locations,
      hourlyVariables: c.hourlyVariables,
      dailyVariables: c.dailyVariables,
      timezone: c.timezone,
      forecastApiUrl: c.forecastApiUrl,
      archiveApiUrl: c.archiveApiUrl,
      forecastPastDays: c.forecastPastDays,
      http: {
        timeoutMs: c.httpTimeoutMs,
        retries: c.httpRetries,
        maxWeightPerRequest: c.maxWeightPerRequest,
        concurrency: c.httpConcurrency,
      },
      // Only when set: a stack without it keeps the settings (and the Lambda code) it had.
      ...(Object.keys(c.columnNames).length > 0 ? { columnNames: c.columnNames } : {}),
    },
    sources: c.sources.map(sourceDefinitionOf),
    schedule: { cron: c.scheduleCron, enabled: c.scheduleEnabled },
    ingest: { memoryMb: c.ingestMemoryMb, timeoutSeconds: c.ingestTimeoutSeconds },
    transform: { memoryMb: c.transformMemoryMb, timeoutSeconds: c.transformTimeoutSeconds },
    logRetentionDays: c.logRetentionDays,
    rawInfrequentAccessDays: c.rawInfrequentAccessDays,
    rawExpirationDays: c.rawExpirationDays,
    curatedExpirationDays: c.curatedExpirationDays,
    protectData: c.protectData,
    alerts: {
      alarmsEnabled: c.alarmsEnabled,
      email: c.alertEmail === "" ? undefined : c.alertEmail,
      freshnessHours: c.freshnessHours,
    },
    catchUp: { days: c.catchUpDays, maxDatesPerRun: c.maxDatesPerRun },
    apiWeightLimits: { perDay: c.maxDailyWeight, perHour: c.maxHourlyWeight },
    reservedConcurrency: {
      ingest: c.ingestReservedConcurrency || undefined,
      transform: c.transformReservedConcurrency || undefined,
    },
    applications: {
      maxBytes: c.applicationMaxBytes,
      minDistanceKm: c.applicationMinDistanceKm,
      noticeEmail: c.applicationNoticeEmail === "" ? undefined : c.applicationNoticeEmail,
    },
    warehouse: c.warehouseEnabled
      ? {
          minCapacityAcu: c.warehouseMinCapacityAcu,
          maxCapacityAcu: c.warehouseMaxCapacityAcu,
          autoPauseSeconds: c.warehouseAutoPauseSeconds,
          backupRetentionDays: c.warehouseBackupRetentionDays,
          databaseName: c.warehouseDatabaseName,
          engineVersion: c.warehouseEngineVersion,
          network:
            c.warehouseVpcId === ""
              ? { cidr: c.warehouseVpcCidr }
              : { vpcId: c.warehouseVpcId, subnetIds: c.warehouseSubnetIds },
          load: { memoryMb: c.warehouseLoadMemoryMb, timeoutSeconds: c.warehouseLoadTimeoutSeconds },
        }
      : undefined,
    backfill: { maxWeightPerDay: c.backfillMaxWeightPerDay, maxConcurrency: c.backfillMaxConcurrency },
    accessLogs: { enabled: c.accessLogging, expirationDays: c.accessLogExpirationDays },
    athena: {
      bytesScannedCutoffPerQuery: c.athenaBytesScannedCutoffMb * 1024 * 1024,
      resultsExpirationDays: c.athenaResultsExpirationDays,
    },
  };
}

/** Pulumi hands every config value over as a string; structured and scalar values are JSON. */
function decodeConfigValue(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/**
 * Config keys read apart from the schema because their values are secrets: they never enter
 * StackConfig (whose pipeline settings the Lambdas capture), only a secret Output.
 */
export const SECRET_CONFIG_KEYS = ["apiKey"] as const;

/**
 * Validates config as Pulumi hands it to a program (`<namespace>:<key>` -> string value). Keys
 * of the providers' namespaces (e.g. aws:region) are left to their owners; a namespace no one
 * reads (e.g. a misspelt `weather-pipelin:`) is an error, since its keys would silently not apply.
 */
/**
 * What the applications' rules are decided against: the drop zone's limits and the stack's API
 * weight limits and runs, which the quota rule counts as this file's own quota check does.
 */
export function applicationLimitsOf(config: StackConfig): ApplicationLimits {
  return {
    maxBytes: config.applications.maxBytes,
    minDistanceKm: config.applications.minDistanceKm,
    maxDailyWeight: config.apiWeightLimits.perDay,
    maxHourlyWeight: config.apiWeightLimits.perHour,
    runs: {
      scheduleCron: config.schedule.cron,
      catchUpDays: config.catchUp.days,
      maxDatesPerRun: config.catchUp.maxDatesPerRun,
    },
  };
}

export function parseStackConfigValues(
  values: Readonly<Record<string, string>>,
  namespace: string,
  source: string,
): StackConfig {
  const prefix = `${namespace}:`;
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    const name = key.slice(prefix.length);
    if (!key.startsWith(prefix) || (SECRET_CONFIG_KEYS as readonly string[]).includes(name)) continue;
    raw[name] = decodeConfigValue(value);
  }
  return parseWithProblems(raw, namespace, source, unknownNamespaceProblems(Object.keys(values), namespace));
}

/**
 * Throws unless the API key, when set, is a secret: a key in plain text would sit unencrypted in
 * the stack file. `values` and `secretKeys` as Pulumi hands them to a program.
 */
export function checkApiKeyIsSecret(
  values: Readonly<Record<string, string>>,
  secretKeys: readonly string[],
  namespace: string,
  source: string,
): void {
  const key = `${namespace}:apiKey`;
  if (values[key] !== undefined && !secretKeys.includes(key)) {
    throw new ConfigError(
      `${key} is set in plain text in ${source}; ` +
        `set it with \`pulumi config set --secret apiKey <key>\` so it is stored encrypted`,
    );
  }
}

/**
 * The optional Open-Meteo API key (`pulumi config set --secret apiKey ...`), as a secret Output.
 * Refuses a key that was set in plain text, which would sit unencrypted in the stack file.
 */
export function readApiKeyConfig(): pulumi.Output<string> | undefined {
  const config = new pulumi.Config();
  const plain = config.get("apiKey");
  if (plain === undefined) return undefined;
  // isConfigSecret is exported by @pulumi/pulumi's runtime but left out of its typings.
  const runtime = pulumi.runtime as unknown as { isConfigSecret(key: string): boolean };
  const key = `${pulumi.getProject()}:apiKey`;
  checkApiKeyIsSecret(
    { [key]: plain },
    runtime.isConfigSecret(key) ? [key] : [],
    pulumi.getProject(),
    `Pulumi.${pulumi.getStack()}.yaml`,
  );
  return config.requireSecret("apiKey");
}

/**
 * True when none of the project's keys in `values` differs from its default: the stack deploys
 * the defaults. (The CLI passes Pulumi.yaml's defaults along with the stack's own values.)
 */
export function setsOnlyDefaults(values: Readonly<Record<string, string>>, namespace: string): boolean {
  const defaults = stackConfigSchema.parse({}) as Record<string, unknown>;
  const prefix = `${namespace}:`;
  return Object.entries(values).every(([key, value]) => {
    const name = key.slice(prefix.length);
    if (!key.startsWith(prefix) || (SECRET_CONFIG_KEYS as readonly string[]).includes(name)) return true;
    return name in defaults && JSON.stringify(decodeConfigValue(value)) === JSON.stringify(defaults[name]);
  });
}

/** The one line a stack on the defaults gets, so a missing or empty stack file is never silent. */
export function defaultsNotice(stack: string, namespace: string, config: StackConfig): string {
  const p = config.pipeline;
  return (
    `stack ${stack} changes none of the ${namespace}: defaults, so it deploys them: ` +
    `${p.locations.length} location(s) (${p.locations.map((l) => l.name).join(", ")}), ` +
    `${p.hourlyVariables.length} hourly and ${p.dailyVariables.length} daily variable(s), ` +
    `schedule ${config.schedule.cron} ${p.timezone}; set keys with \`pulumi config set --stack ${stack} <key> <value>\``
  );
}

/**
 * Where the Pulumi CLI looks for a stack's file by default: the project folder (the root directory
 * the CLI gives the program), or its stackConfigDir. Undefined when there is no Pulumi.yaml
 * there (the program runs under mocks, whose caller reads the file itself).
 */
function defaultStackFile(stack: string): string | undefined {
  const root = pulumi.runtime.getRootDirectory();
  let project: { stackConfigDir?: unknown };
  try {
    project = (parseYaml(readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) ?? {}) as typeof project;
  } catch {
    return undefined;
  }
  const dir = typeof project.stackConfigDir === "string" ? path.resolve(root, project.stackConfigDir) : root;
  return path.join(dir, `Pulumi.${stack}.yaml`);
}

/**
 * Reads and validates this project's keys from the running stack's config. The CLI drops what a
 * stack file holds outside `config:` without a word, so the file itself is checked too, when
 * it is where the CLI looks by default; a stack on the defaults gets one line saying so.
 */
export function loadStackConfig(): StackConfig {
  const project = pulumi.getProject();
  const stack = pulumi.getStack();
  const source = `Pulumi.${stack}.yaml`;
  const file = defaultStackFile(stack);
  if (file !== undefined && existsSync(file)) parseStackFile(readFileSync(file, "utf8"), project, source);
  const values = pulumi.runtime.allConfig();
  const config = parseStackConfigValues(values, project, source);
  if (setsOnlyDefaults(values, project)) void pulumi.log.info(defaultsNotice(stack, project, config));
  return config;
}
