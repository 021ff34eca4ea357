/**
 * The backfill's first step (a Lambda on AWS, the same function locally): from `{from, to}` to
 * the windows still to do. Windows whose every date already has its curated files are skipped,
 * so running a backfill again completes what is missing and rewrites nothing complete; the rest
 * are paced over UTC days under the stack's budget. The windows go into the state machine's
 * input of the Map (not an S3 item file), so the definition runs unchanged locally.
 * Where the stack has a warehouse, a complete window is not dropped but planned `loadOnly`: the
 * Map sends it straight to LoadWindow, which skips every date already loaded as its files are
 * now. So a backfill run again (or a failed window's redrive) loads what an earlier run wrote
 * but did not load (its load failed, or the warehouse came later), without fetching it again.
 */
import { todayIn } from "../core/dates";
import { curatedObjectKey, DATASETS, type Dataset } from "../core/keys";
import type { Location, PipelineSettings } from "../core/settings";
import { locationsWithRegistry, readBackfillRequest } from "../applications";
import type { ObjectStore } from "../core/storage";
import { checkBudget, dayStart, estimateQuota, type QuotaEstimate } from "./quota";
import { BackfillRangeError, checkBackfillRange, planWindows, type BackfillWindow, type WindowPlan } from "./windows";

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
  /** The window is complete: only its warehouse load runs (stacks with a warehouse). */
  readonly loadOnly?: true;
  /** A location backfill's window: ingest fetches these only, the transform adds them to the dates' files. */
  readonly locations?: readonly Location[];
  /** The request object a location backfill was planned from: what a failed window is redriven with. */
  readonly request?: string;
}

/** What EventBridge starts a location backfill with: the key of a request the intake wrote. */
export interface LocationBackfillEvent {
  readonly request: string;
}

/** The plan a backfill execution runs. */
export interface BackfillRunPlan {
  readonly from: string;
  readonly to: string;
  /** The windows still to do, in date order (load-only ones included, see loadOnlyWindows). */
  readonly windows: readonly BackfillItem[];
  /** Complete windows of `windows` planned for their warehouse load only (counted in skippedWindows too). */
  readonly loadOnlyWindows: number;
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
  /** A location backfill's location (README "Applications"); absent for the stack's own. */
  readonly location?: { readonly id: string; readonly name: string; readonly request: string };
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
  /** The stack has a warehouse: complete windows are planned loadOnly instead of dropped. */
  readonly loadCompleteWindows?: boolean;
  /** The applications bucket: location backfill requests and the registry; absent, none are planned. */
  readonly applicationsStore?: ObjectStore;
}

/**
 * Step Functions holds a state of at most 256 KiB; the windows list stays well under it (about
 * 100 bytes a window, some 2,000 windows). A longer backfill is split by the caller.
 */
const MAX_ITEMS_BYTES = 200_000;

function describe(value: unknown): string {
  return JSON.stringify(value)?.slice(0, 200) ?? String(value);
}

/**
 * Checks a backfill event: `{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD", "spread"?: true}`, or a
 * location backfill's `{"request": "applications/backfill-requests/<id>.json"}`.
 */
export function parseBackfillEvent(event: unknown): BackfillEvent | LocationBackfillEvent {
  const e = (event ?? {}) as { from?: unknown; to?: unknown; spread?: unknown; request?: unknown };
  if (e.request !== undefined) {
    if (typeof e.request !== "string" || e.from !== undefined || e.to !== undefined) {
      throw new BackfillRangeError(
        `the backfill input is ${describe(event)}; a location backfill is {"request": "<key of its request object>"} alone`,
      );
    }
    return { request: e.request };
  }
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

/**
 * The windows to do as the Map's items, each after its day's budget (notBefore), with their
 * weight and the pace; refuses a weight over the budget unless `spread`.
 */
function pacedItems(
  todo: readonly BackfillWindow[],
  deps: BackfillPlanDeps,
  now: Date,
  spread: boolean,
): { items: BackfillItem[]; weight: number; estimate: QuotaEstimate } {
  const weight = todo.reduce((sum, w) => sum + w.weight, 0);
  const estimate = estimateQuota({ windows: todo }, deps.maxWeightPerDay, now);
  checkBudget(weight, estimate, spread, deps.source ?? "the stack's config");
  const items = todo.map((w, i): BackfillItem => {
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
  return { items, weight, estimate };
}

/** Plans one backfill execution (see the module comment). */
export async function planBackfillRun(event: BackfillEvent, deps: BackfillPlanDeps): Promise<BackfillRunPlan> {
  const now = (deps.now ?? (() => new Date()))();
  const log = deps.log ?? ((line: string) => console.log(line));
  // The registry's locations too, as ingest fetches them: a window written again keeps every location.
  const settings = deps.applicationsStore
    ? { ...deps.settings, locations: await locationsWithRegistry(deps.settings, deps.applicationsStore, log) }
    : deps.settings;
  checkBackfillRange(event, settings, now);
  const plan: WindowPlan = planWindows(settings, event, todayIn(settings.timezone, now));
  const complete = await completeDates(settings, deps.curatedStore, event);
  const todo = plan.windows.filter((w) => !isDone(w, complete));
  const { items: fetched, weight, estimate } = pacedItems(todo, deps, now, event.spread === true);
  // Complete windows cost no request: loaded first, in date order, while the budget is spent on the rest.
  const loadOnly: BackfillItem[] = deps.loadCompleteWindows
    ? plan.windows
        .filter((w) => isDone(w, complete))
        .map((w) => ({ from: w.from, to: w.to, dates: w.dates, requests: 0, weight: 0, loadOnly: true as const }))
    : [];
  const windows = [...loadOnly, ...fetched];
  const bytes = JSON.stringify(windows).length;
  if (bytes > MAX_ITEMS_BYTES) {
    throw new BackfillRangeError(
      `${event.from} to ${event.to} makes ${windows.length} windows (${bytes} bytes), more than one execution's input holds; backfill it in parts of a few decades`,
    );
  }
  const skippedDates = plan.windows.filter((w) => isDone(w, complete)).reduce((sum, w) => sum + w.dates, 0);
  log(
    `backfill ${event.from} to ${event.to}: ${plan.windows.length} window(s), ${plan.windows.length - todo.length} complete and skipped; ` +
      `${todo.length} to do: ${todo.reduce((s, w) => s + w.requests, 0)} request(s), weight ${Math.round(weight * 100) / 100} over ${estimate.days} day(s)` +
      (loadOnly.length > 0 ? `; ${loadOnly.length} complete window(s) to load into the warehouse` : ""),
  );
  return {
    from: event.from,
    to: event.to,
    windows,
    loadOnlyWindows: loadOnly.length,
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

/**
 * Plans an accepted location's history (README "Applications"): its request's dates, fetched for
 * that location only, in windows paced under the same daily budget as any backfill (spread over
 * days when heavier: nobody is there to agree), sized for the rows of every location the
 * transform writes each date with. Windows without any curated date are left out: their dates
 * belong to the stack's own backfill, which fetches every location. A location of the config's
 * name (config wins) or already in every date gets nothing to do.
 */
export async function planLocationBackfill(
  event: LocationBackfillEvent,
  deps: BackfillPlanDeps,
): Promise<BackfillRunPlan> {
  const { settings } = deps;
  const store = deps.applicationsStore;
  if (!store) {
    throw new BackfillRangeError(
      `the backfill got ${event.request}, but this stack's planner has no applications bucket to read it from`,
    );
  }
  const now = (deps.now ?? (() => new Date()))();
  const log = deps.log ?? ((line: string) => console.log(line));
  const request = await readBackfillRequest(store, event.request);
  const range = { from: request.from, to: request.to };
  checkBackfillRange(range, settings, now);
  const location = { id: request.locationId, name: request.location.name, request: event.request };
  const empty = {
    ...range,
    windows: [],
    loadOnlyWindows: 0,
    plannedWindows: 0,
    skippedWindows: 0,
    skippedDates: 0,
    requests: 0,
    weight: 0,
    minimumWeight: 0,
    fullWeight: 0,
    days: 0,
    location,
  };
  if (settings.locations.some((l) => l.name === request.location.name)) {
    log(
      `${event.request}: the stack's config has a location named ${request.location.name}; config wins, nothing to fetch`,
    );
    return empty;
  }
  const stackLocations = await locationsWithRegistry(settings, store, log);
  const own = {
    ...settings,
    locations: [
      { name: request.location.name, latitude: request.location.latitude, longitude: request.location.longitude },
    ],
  };
  const plan = planWindows(own, range, todayIn(settings.timezone, now), { rowLocations: stackLocations.length + 1 });
  const withFiles = await completeDates(settings, deps.curatedStore, range);
  const hasFiles = (w: { from: string; to: string }) => {
    for (const d of withFiles) if (d >= w.from && d <= w.to) return true;
    return false;
  };
  const todo = plan.windows.filter(hasFiles);
  const paced = pacedItems(todo, deps, now, true);
  const { weight, estimate } = paced;
  const windows: BackfillItem[] = paced.items.map((item) => ({
    ...item,
    locations: own.locations,
    request: event.request,
  }));
  // Every date of the range without files is left (the transform skips those inside windows too).
  const skippedDates = plan.dates - withFiles.size;
  log(
    `history of ${request.location.name} (${request.locationId}) ${range.from} to ${range.to}: ${plan.windows.length} window(s), ` +
      `${plan.windows.length - todo.length} without curated dates left to the stack's backfill; ${todo.length} to do: ` +
      `${todo.reduce((s, w) => s + w.requests, 0)} request(s), weight ${Math.round(weight * 100) / 100} over ${estimate.days} day(s)`,
  );
  return {
    ...empty,
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
  return async (event: unknown) => {
    const parsed = parseBackfillEvent(event);
    return "request" in parsed ? planLocationBackfill(parsed, deps) : planBackfillRun(parsed, deps);
  };
}
