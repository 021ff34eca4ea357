/**
 * `npm run pipeline -- report`: the weather report of local runs (the curated bucket `npm start`
 * keeps under the data folder), or of a deployed stack (`--stack`: its curated bucket and state
 * machine, from `pulumi stack output`, read with the machine's AWS credentials).
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { ListExecutionsCommand, SFNClient, type ExecutionListItem } from "@aws-sdk/client-sfn";
import { addDays, yesterdayIn } from "../core/dates";
import { DirectoryObjectStore, S3ObjectStore, type ObjectStore } from "../core/storage";
import { openLocalCuratedBucket } from "../local/local-buckets";
import type { ColumnNames } from "../core/schema";
import type { SourceDefinition } from "../sources";
import {
  latestRun,
  readLocalRunRecords,
  readReportData,
  renderReportHtml,
  type ReportData,
  type RunRecord,
} from "../report";
import { readStackOutputs, regionOfArn, requireOutput, type PulumiCliOptions } from "./redrive-aws";

/** The folder under the data folder where `npm start` records its runs. */
export const LOCAL_RUNS_FOLDER = "runs";

/** What a report covers and where it goes. */
export interface ReportCommandOptions {
  readonly days: number;
  /** The last date; default: local, the newest date with data; deployed, yesterday in the stack's time zone. */
  readonly end?: string;
  /** The HTML file to write. */
  readonly out: string;
  /** The clock; default the real time. */
  readonly now?: Date;
  /** The stack's sources, each shown with its data or without; default: those found in the bucket. */
  readonly sources?: readonly SourceDefinition[];
  /** Renamed variables' columns (the stack's `columnNames`). */
  readonly columnNames?: ColumnNames;
}

/** What was written. */
export interface WrittenReport {
  readonly path: string;
  readonly bytes: number;
  readonly data: ReportData;
}

async function writeHtml(out: string, html: string): Promise<number> {
  await mkdir(path.dirname(path.resolve(out)), { recursive: true });
  await writeFile(out, html);
  return Buffer.byteLength(html);
}

/** The report of the local runs kept in `dataDir`. An empty or absent folder gives the no-data page. */
export async function writeLocalReport(dataDir: string, options: ReportCommandOptions): Promise<WrittenReport> {
  const now = options.now ?? new Date();
  const runs = await readLocalRunRecords(new DirectoryObjectStore(path.join(dataDir, LOCAL_RUNS_FOLDER)));
  const read = (store: ObjectStore) =>
    readReportData(store, {
      days: options.days,
      end: options.end,
      runs,
      latestRun: latestRun(runs),
      now,
      sources: options.sources,
      columnNames: options.columnNames,
    });
  let data: ReportData;
  if (existsSync(path.join(dataDir, "s3"))) {
    const local = await openLocalCuratedBucket(dataDir);
    try {
      data = await read(local.store);
    } finally {
      await local.close();
    }
  } else {
    // No local buckets yet: nothing was ever run here, which the page says.
    data = await read(new DirectoryObjectStore(path.join(dataDir, "s3")));
  }
  const html = await renderReportHtml(data, {
    title: `local runs in ${dataDir}`,
    howToGetData: [
      "npm start   # yesterday, from the embedded fake Open-Meteo (synthetic values)",
      "npm start -- --date YYYY-MM-DD   # another day",
      "npm start -- --live   # the real Open-Meteo API",
    ],
    latestRunMeaning: `The newest \`npm start\` run recorded in ${path.join(dataDir, LOCAL_RUNS_FOLDER)}.`,
    generatedAt: now,
  });
  return { path: path.resolve(options.out), bytes: await writeHtml(options.out, html), data };
}

/** A Step Functions execution as a run. */
function runOfExecution(e: ExecutionListItem): RunRecord {
  return {
    id: e.name ?? "(unnamed)",
    status: e.status ?? "RUNNING",
    startedAt: (e.startDate ?? new Date(0)).toISOString(),
    ...(e.stopDate ? { stoppedAt: e.stopDate.toISOString() } : {}),
  };
}

/** The state machine's executions that started on or after `since`, newest first (and at least the newest one). */
export async function listRuns(sfn: SFNClient, stateMachineArn: string, since: Date): Promise<RunRecord[]> {
  const runs: RunRecord[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 100, nextToken }));
    const items = page.executions ?? [];
    runs.push(...items.map(runOfExecution));
    // Newest first: once a page reaches back past `since`, older pages hold nothing we need.
    const oldest = items.at(-1)?.startDate;
    nextToken = oldest !== undefined && oldest < since ? undefined : page.nextToken;
  } while (nextToken);
  return runs.filter((r, i) => i === 0 || Date.parse(r.startedAt) >= since.getTime());
}

/** Where a stack's report reads, and with what. */
export interface StackReportOptions extends ReportCommandOptions, PulumiCliOptions {
  /** The stack's time zone, for "yesterday". */
  readonly timezone: string;
  /** Clients to use; default built for the state machine's region with the machine's credentials. */
  readonly s3?: S3Client;
  readonly sfn?: SFNClient;
}

/** The report of a deployed stack: its curated bucket and its executions. */
export async function writeStackReport(stack: string, options: StackReportOptions): Promise<WrittenReport> {
  const now = options.now ?? new Date();
  const outputs = await readStackOutputs(stack, options);
  const bucket = requireOutput(outputs, "curatedBucketName", stack);
  const stateMachineArn = requireOutput(outputs, "stateMachineArn", stack);
  const region = regionOfArn(stateMachineArn);
  const s3 = options.s3 ?? new S3Client({ region });
  const sfn = options.sfn ?? new SFNClient({ region });
  try {
    // A deployed stack runs daily: the period ends yesterday, so a missed run shows as missing.
    const end = options.end ?? yesterdayIn(options.timezone, now);
    const since = new Date(`${addDays(end, -options.days)}T00:00:00Z`);
    const runs = await listRuns(sfn, stateMachineArn, since);
    const data = await readReportData(new S3ObjectStore(s3, bucket), {
      days: options.days,
      end,
      runs,
      latestRun: latestRun(runs),
      now,
      sources: options.sources,
      columnNames: options.columnNames,
    });
    const html = await renderReportHtml(data, {
      title: `stack ${stack}`,
      howToGetData: [
        `aws stepfunctions start-execution --state-machine-arn ${stateMachineArn}   # yesterday, as the schedule does`,
        `aws stepfunctions start-execution --state-machine-arn ${stateMachineArn} --input '{"date":"YYYY-MM-DD"}'`,
      ],
      latestRunMeaning: `The newest execution of ${stateMachineArn}, scheduled or started by hand.`,
      generatedAt: now,
    });
    return { path: path.resolve(options.out), bytes: await writeHtml(options.out, html), data };
  } finally {
    if (!options.s3) s3.destroy();
    if (!options.sfn) sfn.destroy();
  }
}
