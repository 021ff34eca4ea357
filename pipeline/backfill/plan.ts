/**
 * The backfill's first step (a Lambda on AWS, the same function locally): from `{from, to}` to
 * the windows still to do. Windows whose every date already has its curated files are skipped,
 * so running a backfill again completes what is missing and rewrites nothing complete; the rest
 * are paced over UTC days under the stack's budget. The windows go into the state machine's
 * input of the Map (not an S3 item file), so the definition runs unchanged locally.
 */
import { todayIn } from "../core/dates";
import { curatedObjectKey, DATASETS, type Dataset } from "../core/keys";
import type { PipelineSettings } from "../core/settings";
import type { ObjectStore } from "../core/storage";
import { checkBudget, dayStart, estimateQuota } from "./quota";
import { BackfillRangeError, checkBackfillRange, planWindows, type WindowPlan } from "./windows";

/** What a backfill is started with. */
export interface BackfillEvent {
  readonly from: string;
  readonly to: string;
  /** Agree to spread a backfill heavier than a day's budget over several days. */
  readonly spread?: boolean;
}

/** One window as the Map runs it; the ingest and transform Lambdas read `from` and `to`. */
export interface BackfillItem {
  readonly from: string;
  readonly to: string;
  readonly dates: number;
  readonly requests: number;
  readonly weight: number;
  /** Not before this instant (ISO-8601 UTC): the window belongs to a later day's budget. */
  readonly notBefore?: string;
}

/** The plan a backfill execution runs. */
export interface BackfillRunPlan {
  readonly from: string;
  readonly to: string;
  /** The windows still to do, in date order. */
  readonly windows: readonly BackfillItem[];
  /** Windows of the whole range, done ones included. */
  readonly plannedWindows: number;
  /** Windows skipped because all their dates are complete. */
  readonly skippedWindows: number;
  readonly skippedDates: number;
  /** Requests and weight of the windows still to do. */
  readonly requests: number;
  readonly weight: number;
  /** The formula's minimum for the whole range (see WindowPlan.minimumWeight). */
  readonly minimumWeight: number;
  /** Of the whole range. */
  readonly fullWeight: number;
  /** UTC days the windows to do are spread over. */
  readonly days: number;
}

/** What the plan reads and how it paces. */
export interface BackfillPlanDeps {
  readonly settings: PipelineSettings;
  readonly curatedStore: ObjectStore;
  /** backfillMaxWeightPerDay of the stack. */
  readonly maxWeightPerDay: number;
  /** Where the budget comes from, for messages (e.g. Pulumi.prod.yaml). */
  readonly source?: string;
  /** The clock: yesterday, endpoints and pacing; default the real time. */
  readonly now?: () => Date;
  readonly log?: (line: string) => void;
}

/**
 * Step Functions holds a state of at most 256 KiB; the windows list stays well under it (about
 * 100 bytes a window, some 2,000 windows). A longer backfill is split by the caller.
 */
const MAX_ITEMS_BYTES = 200_000;

function describe(value: unknown): string {
  return JSON.stringify(value)?.slice(0, 200) ?? String(value);
}

/** Checks a backfill event: `{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD", "spread"?: true}`. */
export function parseBackfillEvent(event: unknown): BackfillEvent {
  const e = (event ?? {}) as { from?: unknown; to?: unknown; spread?: unknown };
  if (typeof e.from !== "string" || typeof e.to !== "string") {
    throw new BackfillRangeError(
      `the backfill input is ${describe(event)}; send {"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"} (and "spread": true to allow several days)`,
    );
  }
  if (e.spread !== undefined && typeof e.spread !== "boolean") {
    throw new BackfillRangeError(`the backfill input's spread is ${describe(e.spread)}; it must be true or false`);
  }
  return { from: e.from, to: e.to, ...(e.spread === undefined ? {} : { spread: e.spread }) };
}

/** The datasets the transform writes for these settings. */
function datasetsOf(settings: PipelineSettings): Dataset[] {
  return DATASETS.filter((d) =>
    d === "weather_hourly" ? settings.hourlyVariables.length > 0 : settings.dailyVariables.length > 0,
  );
}

/**
 * The dates from `from` to `to` whose curated files all exist, by listing each dataset's
 * partitions once (the planner may list exactly these prefixes).
 */
export async function completeDates(
  settings: PipelineSettings,
  curatedStore: ObjectStore,
  range: { readonly from: string; readonly to: string },
): Promise<Set<string>> {
  const datasets = datasetsOf(settings);
  const listed = await Promise.all(datasets.map((d) => curatedStore.listKeys(`${d}/date=`)));
  const sets = listed.map((keys) => new Set(keys));
  const complete = new Set<string>();
  const first = sets[0];
  if (!first) return complete;
  for (const key of first) {
    const date = /date=(\d{4}-\d{2}-\d{2})\//.exec(key)?.[1];
    if (date === undefined || date < range.from || date > range.to) continue;
    if (datasets.every((d, i) => sets[i]?.has(curatedObjectKey(d, date)))) complete.add(date);
  }
  return complete;
}

/** True when every date of a window is complete. */
function isDone(window: { from: string; to: string; dates: number }, complete: ReadonlySet<string>): boolean {
  let count = 0;
  for (const date of complete) if (date >= window.from && date <= window.to) count++;
  return count === window.dates;
}

/** Plans one backfill execution (see the module comment). */
export async function planBackfillRun(event: BackfillEvent, deps: BackfillPlanDeps): Promise<BackfillRunPlan> {
  const { settings } = deps;
  const now = (deps.now ?? (() => new Date()))();
  const log = deps.log ?? ((line: string) => console.log(line));
  checkBackfillRange(event, settings, now);
  const plan: WindowPlan = planWindows(settings, event, todayIn(settings.timezone, now));
  const complete = await completeDates(settings, deps.curatedStore, event);
  const todo = plan.windows.filter((w) => !isDone(w, complete));
  const weight = todo.reduce((sum, w) => sum + w.weight, 0);
  const estimate = estimateQuota({ windows: todo }, deps.maxWeightPerDay, now);
  checkBudget(weight, estimate, event.spread === true, deps.source ?? "the stack's config");
  const windows: BackfillItem[] = todo.map((w, i) => {
    const day = estimate.windowDays[i] as number;
    return {
      from: w.from,
      to: w.to,
      dates: w.dates,
      requests: w.requests,
      weight: Math.round(w.weight * 1000) / 1000,
      ...(day > 0 ? { notBefore: dayStart(now, day).toISOString() } : {}),
    };
  });
  const bytes = JSON.stringify(windows).length;
  if (bytes > MAX_ITEMS_BYTES) {
    throw new BackfillRangeError(
      `${event.from} to ${event.to} makes ${windows.length} windows (${bytes} bytes), more than one execution's input holds; backfill it in parts of a few decades`,
    );
  }
  const skippedDates = plan.windows.filter((w) => isDone(w, complete)).reduce((sum, w) => sum + w.dates, 0);
  log(
    `backfill ${event.from} to ${event.to}: ${plan.windows.length} window(s), ${plan.windows.length - todo.length} complete and skipped; ` +
      `${todo.length} to do: ${todo.reduce((s, w) => s + w.requests, 0)} request(s), weight ${Math.round(weight * 100) / 100} over ${estimate.days} day(s)`,
  );
  return {
    from: event.from,
    to: event.to,
    windows,
    plannedWindows: plan.windows.length,
    skippedWindows: plan.windows.length - todo.length,
    skippedDates,
    requests: todo.reduce((sum, w) => sum + w.requests, 0),
    weight,
    minimumWeight: plan.minimumWeight,
    fullWeight: plan.weight,
    days: estimate.days,
  };
}

/** Builds the backfill planner's handler (the Lambda's, and the local run's). */
export function createBackfillPlanHandler(deps: BackfillPlanDeps): (event: unknown) => Promise<BackfillRunPlan> {
  return async (event: unknown) => planBackfillRun(parseBackfillEvent(event), deps);
}
