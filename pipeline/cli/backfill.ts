/**
 * `npm run pipeline -- backfill` and `npm start -- --from ... --to ...`: a backfill planned
 * offline (--dry-run), run on this machine (the real backfill state machine on
 * aws-local-stepfunctions, against s3rver and the fake Open-Meteo, with the Lambdas' code), or
 * started and followed on a deployed stack.
 */
import * as path from "node:path";
import {
  DescribeExecutionCommand,
  DescribeMapRunCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  ListMapRunsCommand,
  SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import {
  checkBackfillRange,
  checkBudget,
  completeDates,
  estimateQuota,
  formatWeight,
  planWindows,
  progressOf,
  type BackfillRunPlan,
  type BackfillWindow,
} from "../backfill";
import { daysBetween, todayIn } from "../core/dates";
import type { PipelineSettings } from "../core/settings";
import { createS3Client, S3ObjectStore, type ObjectStore } from "../core/storage";
import type { WarehouseDatabase, WindowLoadResult } from "../warehouse";
import { startFakeOpenMeteo } from "../local/fake-open-meteo";
import { openLocalWarehouse } from "../local/local-warehouse";
import { LOCAL_BUCKETS } from "../local/local-buckets";
import { createLocalFunctions, LocalStateMachine, type LocalFunctions } from "../local/run-state-machine";
import { startLocalS3 } from "../local/s3-server";
import { createProgressView, type ProgressView } from "./backfill-progress";
import { readStackOutputs, regionOfArn } from "./redrive-aws";
import { apiUrlsFromBase } from "./run";

/** A backfill's range and whether it may take several days. */
export interface BackfillRequest {
  readonly from: string;
  readonly to: string;
  /** Allow a backfill heavier than a day's budget, spread over days. */
  readonly spread: boolean;
}

/** What `--dry-run --json` prints: the plan, its cost and its pace. */
export interface DryRunReport {
  readonly from: string;
  readonly to: string;
  readonly windows: readonly {
    readonly from: string;
    readonly to: string;
    readonly dates: number;
    readonly endpoint: string;
    readonly timezone: string;
    readonly locations: number;
    readonly requests: number;
    readonly weight: number;
  }[];
  readonly dates: number;
  readonly locations: number;
  readonly variables: number;
  readonly requests: number;
  readonly weight: number;
  readonly minimumWeight: number;
  /** weight / minimumWeight: 1 for a zone without DST changes. */
  readonly ratio: number;
  /** UTC days under the budget. */
  readonly days: number;
  readonly maxWeightPerDay: number;
  /** Hours to the last request at the free tier's limits (600/min, 5,000/h, 10,000/day). */
  readonly hoursAtFreeTier: number;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * Plans a backfill offline, from the stack's settings only (no AWS, no Pulumi CLI): the windows
 * of the whole range, what they cost, how long they take; refuses a bad range, and one heavier
 * than the budget unless `spread`.
 */
export function dryRunBackfill(
  settings: PipelineSettings,
  request: BackfillRequest,
  budget: { readonly maxWeightPerDay: number; readonly source: string },
  now: Date,
): DryRunReport {
  checkBackfillRange(request, settings, now);
  const plan = planWindows(settings, request, todayIn(settings.timezone, now));
  const estimate = estimateQuota(plan, budget.maxWeightPerDay, now);
  checkBudget(plan.weight, estimate, request.spread, budget.source);
  return {
    from: request.from,
    to: request.to,
    windows: plan.windows.map((w: BackfillWindow) => ({
      from: w.from,
      to: w.to,
      dates: w.dates,
      endpoint: w.endpoint,
      timezone: w.timezone,
      locations: w.locations,
      requests: w.requests,
      weight: round(w.weight, 3),
    })),
    dates: plan.dates,
    locations: plan.locations,
    variables: plan.variables,
    requests: plan.requests,
    weight: round(plan.weight, 3),
    minimumWeight: round(plan.minimumWeight, 3),
    ratio: round(plan.weight / plan.minimumWeight, 4),
    days: estimate.days,
    maxWeightPerDay: budget.maxWeightPerDay,
    hoursAtFreeTier: round(estimate.hoursAtFreeTier, 1),
  };
}

/** The dry run for people. */
export function formatDryRun(report: DryRunReport, source: string): string {
  const lines = [
    `Backfill ${report.from} to ${report.to} (${source}): ${report.dates.toLocaleString("en-US")} dates x ${report.locations} locations x ${report.variables} variables`,
    `${report.windows.length} window(s):`,
    ...report.windows.map(
      (w) =>
        `  ${w.from} to ${w.to}  ${w.endpoint.padEnd(8)} ${w.timezone.padEnd(10)} ${String(w.dates).padStart(4)} dates  ${String(w.requests).padStart(3)} request(s)  weight ${formatWeight(w.weight)}`,
    ),
    `requests: ${report.requests.toLocaleString("en-US")}`,
    `weight: ${formatWeight(report.weight)}; the formula's minimum for these dates, locations and variables: ${formatWeight(report.minimumWeight)} (ratio ${report.ratio.toFixed(4)}${report.ratio > 1.00005 ? ": a fall-back day of a DST zone is requested one day longer" : ""})`,
    `budget: ${formatWeight(report.maxWeightPerDay)} a day (backfillMaxWeightPerDay): ${report.days} day(s)`,
    `at the free tier's limits (600/min, 5,000/h, 10,000/day): about ${report.hoursAtFreeTier} h to the last request`,
    "(offline: dates already complete in the stack are skipped when it runs)",
  ];
  return `${lines.join("\n")}\n`;
}

/** Options of a local backfill. */
export interface LocalBackfillOptions extends BackfillRequest {
  readonly settings: PipelineSettings;
  readonly maxWeightPerDay: number;
  readonly dataDir: string;
  readonly live: boolean;
  readonly apiUrl?: string;
  readonly print: (line: string) => void;
  /** Where the progress bar goes; default stderr. */
  readonly progress?: ProgressView;
  /** Refresh interval of the progress, ms; default 500. */
  readonly refreshMs?: number;
  /** Also load the dates into a warehouse: true for the embedded PGlite in `<dataDir>/warehouse`, or a postgres:// URL. */
  readonly warehouse?: string | true;
}

/** What a local backfill did. */
export interface LocalBackfillResult {
  readonly status: string;
  readonly plan: BackfillRunPlan | undefined;
  readonly failedWindows: readonly { from: string; to: string }[];
}

/**
 * Runs a backfill on this machine: s3rver keeps the buckets in `<dataDir>/s3`, Open-Meteo is the
 * embedded fake (or the real API, or `apiUrl`), and the real backfill definition runs with the
 * Lambdas' handlers. Interrupted and run again, the planner skips complete windows and ingest
 * keeps the bodies already stored.
 */
export async function runLocalBackfill(options: LocalBackfillOptions): Promise<LocalBackfillResult> {
  const { print } = options;
  if (options.apiUrl !== undefined && options.live)
    throw new RangeError("--live and --api-url both choose the API; use one");
  checkBackfillRange(options, options.settings, new Date());
  const custom = options.apiUrl === undefined ? undefined : apiUrlsFromBase(options.apiUrl);
  const s3 = await startLocalS3({
    directory: path.join(options.dataDir, "s3"),
    buckets: [LOCAL_BUCKETS.raw, LOCAL_BUCKETS.curated, LOCAL_BUCKETS.applications],
  });
  const fake = options.live || custom ? undefined : await startFakeOpenMeteo();
  const view = options.progress ?? createProgressView();
  let timer: NodeJS.Timeout | undefined;
  // The embedded warehouse is one process-wide PGlite: opened once, shared by every load.
  let embedded: WarehouseDatabase | undefined;
  try {
    const target = options.warehouse;
    if (target === true) embedded = await openLocalWarehouse(true, options.dataDir);
    // A bad URL or an unreachable server is said now, before anything is fetched.
    else if (target !== undefined) await (await openLocalWarehouse(target, options.dataDir)).close();
    const warehouse =
      target === undefined
        ? undefined
        : {
            connect: async (): Promise<WarehouseDatabase> =>
              embedded
                ? Object.assign(Object.create(embedded) as WarehouseDatabase, { close: () => Promise.resolve() })
                : openLocalWarehouse(target, options.dataDir),
          };
    const settings: PipelineSettings = fake
      ? { ...options.settings, forecastApiUrl: fake.forecastUrl, archiveApiUrl: fake.archiveUrl }
      : { ...options.settings, ...custom };
    print(
      fake
        ? `Open-Meteo: embedded fake at ${fake.url} -- SYNTHETIC values, NOT real weather (use --live for the real API)`
        : `Open-Meteo: ${settings.archiveApiUrl} and ${settings.forecastApiUrl}`,
    );
    print(`S3: s3rver at ${s3.endpoint}, data in ${s3.directory}`);
    if (target !== undefined) print(`Warehouse: ${embedded ? embedded.description : "the server at --warehouse"}`);
    const client = s3.client();
    const rawStore = new S3ObjectStore(client, LOCAL_BUCKETS.raw);
    const curatedStore = new S3ObjectStore(client, LOCAL_BUCKETS.curated);
    const functions = createLocalFunctions({
      settings,
      rawStore,
      curatedStore,
      // Locations accepted through `pipeline apply` are backfilled with the config's.
      applicationsStore: new S3ObjectStore(client, LOCAL_BUCKETS.applications),
      stack: "local",
      catchUpDays: 1,
      maxDatesPerRun: 1,
      backfillMaxWeightPerDay: options.maxWeightPerDay,
      ...(warehouse ? { warehouse } : {}),
    });
    let plan: BackfillRunPlan | undefined;
    const planning = functions.backfillPlan as NonNullable<LocalFunctions["backfillPlan"]>;
    const machine = new LocalStateMachine({
      stack: "local",
      definition: "backfill",
      functions: {
        ...functions,
        backfillPlan: async (event) => {
          plan = (await planning(event)) as BackfillRunPlan;
          print(
            `Plan: ${plan.plannedWindows} window(s), ${plan.skippedWindows} already complete` +
              (plan.loadOnlyWindows > 0 ? ` (${plan.loadOnlyWindows} to load into the warehouse)` : "") +
              `; ${plan.windows.length - plan.loadOnlyWindows} to do: ` +
              `${plan.requests} request(s), weight ${formatWeight(plan.weight)} (the formula's minimum for the range: ${formatWeight(plan.minimumWeight)})`,
          );
          return plan;
        },
        ...(functions.load ? { load: printingLoad(functions.load, print) } : {}),
      },
    });
    const started = Date.now();
    let doneAtStart: number | undefined;
    const refresh = async (): Promise<void> => {
      if (!plan) return;
      const complete = await completeDates(settings, curatedStore, plan);
      doneAtStart ??= complete.size;
      const failed = machine.queue.map((m) => JSON.parse(m.body) as { from: string; to: string });
      view.update(progressOf(plan, complete, failed, { elapsedMs: Date.now() - started, doneAtStart }));
    };
    let refreshing = Promise.resolve();
    timer = setInterval(() => {
      refreshing = refreshing.then(refresh).catch(() => undefined);
    }, options.refreshMs ?? 500);
    const outcome = await machine.run({ from: options.from, to: options.to, spread: options.spread });
    clearInterval(timer);
    timer = undefined;
    await refreshing;
    await refresh();
    view.stop();
    const failedWindows = machine.queue.map((m) => JSON.parse(m.body) as { from: string; to: string });
    if (outcome.status === "SUCCEEDED") {
      print(
        `Backfill ${options.from} to ${options.to}: complete; data in s3://${LOCAL_BUCKETS.curated} (${s3.directory})`,
      );
      if (target !== undefined) {
        print(
          `  and loaded into the warehouse; query it: npm run pipeline -- query --warehouse${target === true ? "" : " <url>"} "SELECT ..."`,
        );
      }
    } else {
      const why = machine.topic.map((a) => a.message).join("\n") || outcome.cause || outcome.error || "";
      print(`Backfill ${options.from} to ${options.to}: ${outcome.status}. ${why}`);
      print("Run the same command again: complete windows are skipped, stored bodies are kept.");
    }
    client.destroy();
    return { status: outcome.status, plan, failedWindows };
  } finally {
    if (timer) clearInterval(timer);
    view.stop();
    await fake?.close();
    await s3.close();
    await embedded?.close();
  }
}

/** The load function, printing what each window's load wrote. */
function printingLoad(
  load: NonNullable<LocalFunctions["load"]>,
  print: (line: string) => void,
): NonNullable<LocalFunctions["load"]> {
  return async (event) => {
    const result = (await load(event)) as WindowLoadResult;
    print(
      `Load ${result.from} to ${result.to}: ${result.loadedDates} of ${result.dates} date(s) loaded, ${result.rows} rows; ` +
        `${result.skippedFiles} file(s) already loaded as they are`,
    );
    return result;
  };
}

/** Outputs of a deployed stack the backfill needs. */
const BACKFILL_OUTPUT = "backfillStateMachineArn";
const CURATED_OUTPUT = "curatedBucketName";

/** How the deployed backfill is reached; clients are injectable (tests use a local fake of the APIs). */
export interface DeployedBackfillOptions extends BackfillRequest {
  readonly stack: string;
  readonly settings: PipelineSettings;
  readonly print: (line: string) => void;
  readonly progress?: ProgressView;
  readonly pollMs?: number;
  readonly sfn?: SFNClient;
  readonly curatedStore?: ObjectStore;
  /** Outputs instead of `pulumi stack output` (tests). */
  readonly outputs?: Record<string, unknown>;
  /** Resolves when following should stop (Ctrl-C); default: SIGINT. */
  readonly interrupted?: Promise<void>;
}

function requireOutput(outputs: Record<string, unknown>, name: string, stack: string): string {
  const value = outputs[name];
  if (typeof value === "string" && value !== "") return value;
  throw new Error(
    `stack ${stack} has no output ${name}; run \`pulumi up --stack ${stack}\` with this version of the program first`,
  );
}

/** The running execution of the same range, if there is one. */
async function findRunning(
  sfn: SFNClient,
  stateMachineArn: string,
  range: BackfillRequest,
): Promise<string | undefined> {
  const running = await sfn.send(
    new ListExecutionsCommand({ stateMachineArn, statusFilter: "RUNNING", maxResults: 50 }),
  );
  for (const execution of running.executions ?? []) {
    if (!execution.executionArn) continue;
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn: execution.executionArn }));
    const input = JSON.parse(described.input ?? "{}") as { from?: string; to?: string };
    if (input.from === range.from && input.to === range.to) return execution.executionArn;
  }
  return undefined;
}

/** The planner's output, from the execution's history (its PlanBackfill task). */
async function planOfExecution(sfn: SFNClient, executionArn: string): Promise<BackfillRunPlan | undefined> {
  let token: string | undefined;
  for (let page = 0; page < 5; page++) {
    const history = await sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken: token, maxResults: 100 }));
    for (const event of history.events ?? []) {
      const output = event.taskSucceededEventDetails?.output;
      if (event.type === "TaskSucceeded" && output) {
        const payload = (JSON.parse(output) as { Payload?: BackfillRunPlan }).Payload;
        if (payload && Array.isArray(payload.windows)) return payload;
      }
    }
    token = history.nextToken;
    if (!token) break;
  }
  return undefined;
}

/** The windows whose child executions failed. */
async function failedWindowsOf(sfn: SFNClient, executionArn: string): Promise<{ from: string; to: string }[]> {
  const runs = await sfn.send(new ListMapRunsCommand({ executionArn }));
  const failed: { from: string; to: string }[] = [];
  for (const run of runs.mapRuns ?? []) {
    if (!run.mapRunArn) continue;
    const counts = (await sfn.send(new DescribeMapRunCommand({ mapRunArn: run.mapRunArn }))).itemCounts;
    if (!counts || (counts.failed ?? 0) + (counts.timedOut ?? 0) + (counts.aborted ?? 0) === 0) continue;
    const children = await sfn.send(new ListExecutionsCommand({ mapRunArn: run.mapRunArn, statusFilter: "FAILED" }));
    for (const child of children.executions ?? []) {
      if (!child.executionArn) continue;
      const input = (await sfn.send(new DescribeExecutionCommand({ executionArn: child.executionArn }))).input;
      const window = JSON.parse(input ?? "{}") as { from?: string; to?: string };
      if (window.from && window.to) failed.push({ from: window.from, to: window.to });
    }
  }
  return failed;
}

/**
 * Starts a backfill on a deployed stack, or attaches to the one already running for the same
 * range, and follows it with the progress bar until it ends. Ctrl-C stops following, not the
 * backfill (it runs in Step Functions); running the command again attaches to it.
 */
export async function runDeployedBackfill(options: DeployedBackfillOptions): Promise<string> {
  const { print, stack } = options;
  checkBackfillRange(options, options.settings, new Date());
  const outputs = options.outputs ?? (await readStackOutputs(stack));
  const stateMachineArn = requireOutput(outputs, BACKFILL_OUTPUT, stack);
  const sfn = options.sfn ?? new SFNClient({ region: regionOfArn(stateMachineArn) });
  const curatedStore =
    options.curatedStore ??
    new S3ObjectStore(
      createS3Client({ region: regionOfArn(stateMachineArn) }),
      requireOutput(outputs, CURATED_OUTPUT, stack),
    );
  const view = options.progress ?? createProgressView();
  let executionArn = await findRunning(sfn, stateMachineArn, options);
  if (executionArn) {
    print(`Attached to the backfill already running for ${options.from} to ${options.to}: ${executionArn}`);
  } else {
    const name = `backfill-${options.from}-${options.to}-${new Date().toISOString().replace(/[-:]|\.\d+/g, "")}`;
    const started = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn,
        name,
        input: JSON.stringify({ from: options.from, to: options.to, ...(options.spread ? { spread: true } : {}) }),
      }),
    );
    if (!started.executionArn) throw new Error(`StartExecution on ${stateMachineArn} returned no execution ARN`);
    executionArn = started.executionArn;
    print(`Started ${executionArn}`);
  }
  print(`Stop it with: aws stepfunctions stop-execution --execution-arn ${executionArn}`);
  let stop = false;
  const onSigint = (): void => {
    stop = true;
  };
  if (!options.interrupted) process.once("SIGINT", onSigint);
  void options.interrupted?.then(() => {
    stop = true;
  });
  const began = Date.now();
  let doneAtStart: number | undefined;
  let status = "RUNNING";
  try {
    while (!stop) {
      const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      status = described.status ?? "RUNNING";
      const plan = await planOfExecution(sfn, executionArn);
      if (plan) {
        const complete = await completeDates(options.settings, curatedStore, plan);
        doneAtStart ??= complete.size;
        const failed = await failedWindowsOf(sfn, executionArn);
        view.update(progressOf(plan, complete, failed, { elapsedMs: Date.now() - began, doneAtStart }));
      }
      if (status !== "RUNNING") break;
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 10_000));
    }
  } finally {
    view.stop();
    process.removeListener("SIGINT", onSigint);
    if (!options.sfn) sfn.destroy();
  }
  if (stop && status === "RUNNING") {
    print(
      `Stopped following; the backfill goes on in AWS (${executionArn}). Run the same command to follow it again, ` +
        `or stop it with: aws stepfunctions stop-execution --execution-arn ${executionArn}`,
    );
  } else if (status === "SUCCEEDED") {
    print(`Backfill ${options.from} to ${options.to}: complete.`);
  } else {
    print(
      `Backfill ${options.from} to ${options.to}: ${status}; see the alert. Re-run only what failed with: ` +
        `aws stepfunctions redrive-execution --execution-arn ${executionArn} (or run this command again: complete windows are skipped).`,
    );
  }
  return status;
}

/** Options of the local history of accepted locations. */
export interface LocalHistoryOptions {
  readonly settings: PipelineSettings;
  readonly maxWeightPerDay: number;
  readonly dataDir: string;
  /** Keys of request objects in the local applications bucket, as the intake wrote them. */
  readonly requests: readonly string[];
  readonly print: (line: string) => void;
}

/**
 * Fetches the history of accepted locations on this machine, as EventBridge starts it on AWS
 * for each request object the intake writes: the real backfill definition with `{request}`,
 * against s3rver and the embedded fake Open-Meteo. Returns each execution's status.
 */
export async function runLocalHistory(options: LocalHistoryOptions): Promise<string[]> {
  const { print } = options;
  const s3 = await startLocalS3({
    directory: path.join(options.dataDir, "s3"),
    buckets: [LOCAL_BUCKETS.raw, LOCAL_BUCKETS.curated, LOCAL_BUCKETS.applications],
  });
  const fake = await startFakeOpenMeteo();
  const client = s3.client();
  try {
    const settings = { ...options.settings, forecastApiUrl: fake.forecastUrl, archiveApiUrl: fake.archiveUrl };
    const functions = createLocalFunctions({
      settings,
      rawStore: new S3ObjectStore(client, LOCAL_BUCKETS.raw),
      curatedStore: new S3ObjectStore(client, LOCAL_BUCKETS.curated),
      applicationsStore: new S3ObjectStore(client, LOCAL_BUCKETS.applications),
      stack: "local",
      catchUpDays: 1,
      maxDatesPerRun: 1,
      backfillMaxWeightPerDay: options.maxWeightPerDay,
    });
    const statuses: string[] = [];
    for (const request of options.requests) {
      let plan: BackfillRunPlan | undefined;
      const planning = functions.backfillPlan as NonNullable<LocalFunctions["backfillPlan"]>;
      const machine = new LocalStateMachine({
        stack: "local",
        definition: "backfill",
        functions: {
          ...functions,
          backfillPlan: async (event) => (plan = (await planning(event)) as BackfillRunPlan),
        },
      });
      const outcome = await machine.run({ request });
      const name = plan?.location?.name ?? request;
      if (outcome.status === "SUCCEEDED") {
        print(
          `History of ${name} (${plan?.from} to ${plan?.to}, embedded fake Open-Meteo: SYNTHETIC values): ` +
            `added to the ${plan ? daysBetween(plan.from, plan.to) + 1 - plan.skippedDates : 0} date(s) that have files (${plan?.windows.length ?? 0} window(s)); ` +
            `${plan?.skippedDates ?? 0} date(s) without files left to the stack's backfill`,
        );
      } else {
        const why = machine.topic.map((a) => a.message).join("\n") || outcome.cause || outcome.error || "";
        print(`History of ${name}: ${outcome.status}. ${why}`);
      }
      statuses.push(outcome.status);
    }
    return statuses;
  } finally {
    client.destroy();
    await fake.close();
    await s3.close();
  }
}
