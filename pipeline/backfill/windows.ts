/**
 * Backfill windows: a range of past dates cut into runs of dates fetched together, sized by
 * Open-Meteo's own weight rule so the whole backfill costs the formula's minimum.
 *
 * A location's weight in one request is max(1, V/10 * max(1, days/14)) (requestWeight): flat up
 * to 14 days (and up to 140/V days), linear after. So one date per request pays the floor every
 * day, while a window of d >= max(14, 140/V) days pays exactly V/10 * d/14 per location: the
 * windows' weights then add up to the weight of a single request over the whole range, the
 * minimum. Windows are balanced within each segment (one endpoint, one UTC offset: see
 * ingest's segmentDates), as long as each request fits maxWeightPerRequest with as many
 * locations as possible, so the request count is the least the weight limit allows too.
 */
import { addDays, daysBetween, yesterdayIn } from "../core/dates";
import { PipelineError } from "../core/errors";
import { assertIsoDate } from "../core/keys";
import type { Endpoint, PipelineSettings } from "../core/settings";
import {
  MAX_LOCATIONS_PER_REQUEST,
  planSegmentRequests,
  requestWeight,
  segmentDates,
  type DateSegment,
} from "../ingest";

/** The archive's first date: Open-Meteo's historical data starts in 1940. */
export const ARCHIVE_FIRST_DATE = "1940-01-01";

/**
 * The longest window, in days. Longer windows cost no less weight (it is linear past 14 days)
 * but hold more dates, and the transform of a window keeps all its dates' files open at once.
 */
export const MAX_WINDOW_DAYS = 366;

/**
 * Hourly rows one window may hold (locations x dates x 24): the transform of a window holds them
 * all before writing its dates' files, so this bounds its memory whatever the range's length.
 * Never below what the weight rule needs (windows of at least 14 days and 140/V days).
 */
export const MAX_WINDOW_ROWS = 500_000;

/** One window: dates fetched together, and what they cost. */
export interface BackfillWindow {
  readonly from: string;
  readonly to: string;
  readonly endpoint: Endpoint;
  /** The `timezone` sent: the fixed-offset zone of the window's dates. */
  readonly timezone: string;
  /** Dates in the window. */
  readonly dates: number;
  /** Days requested: the dates, plus one after a fall-back day. */
  readonly days: number;
  readonly locations: number;
  readonly requests: number;
  /** Open-Meteo weight of the window's requests. */
  readonly weight: number;
}

/** The windows of a backfill and their totals. */
export interface WindowPlan {
  readonly from: string;
  readonly to: string;
  readonly windows: readonly BackfillWindow[];
  readonly dates: number;
  readonly locations: number;
  /** Variables per location (hourly + daily): the V of the weight rule. */
  readonly variables: number;
  readonly requests: number;
  readonly weight: number;
  /**
   * The formula's minimum for these dates, locations and variables: each location as if all its
   * dates were one request, L * max(1, V/10 * max(1, dates/14)).
   */
  readonly minimumWeight: number;
}

/** A bad backfill range or budget; the message names the value and the fix. Never retried. */
export class BackfillRangeError extends PipelineError {
  constructor(message: string) {
    super("BackfillRangeError", message);
  }
}

/**
 * Throws unless `from` to `to` is a range a backfill can fetch: real dates, in order, none
 * before the archive's first date, none after yesterday in the stack's time zone (today and
 * later would store forecasts as data).
 */
export function checkBackfillRange(
  range: { readonly from: string; readonly to: string },
  settings: Pick<PipelineSettings, "timezone">,
  now: Date,
): void {
  const { from, to } = range;
  for (const [name, value] of [
    ["--from", from],
    ["--to", to],
  ] as const) {
    try {
      assertIsoDate(value, name);
    } catch (error) {
      throw new BackfillRangeError((error as Error).message);
    }
  }
  if (from > to) throw new BackfillRangeError(`--from ${from} is after --to ${to}; swap them`);
  if (from < ARCHIVE_FIRST_DATE) {
    throw new BackfillRangeError(
      `--from is ${from}; Open-Meteo's archive starts on ${ARCHIVE_FIRST_DATE}, so start there or later`,
    );
  }
  const yesterday = yesterdayIn(settings.timezone, now);
  if (to > yesterday) {
    throw new BackfillRangeError(
      `--to is ${to}, later than yesterday (${yesterday} in ${settings.timezone}); a backfill fetches only past days, ` +
        `never forecasts as data: end it on ${yesterday} at the latest (the daily run does the days after)`,
    );
  }
}

/** Weights are multiples of 0.1 x days/14; the epsilon keeps exact fits from being refused. */
const EPSILON = 1e-9;

/** Locations one request of `days` days can hold under the weight limit (0: not even one). */
function locationsPerRequest(variables: number, days: number, maxWeight: number): number {
  return Math.min(MAX_LOCATIONS_PER_REQUEST, Math.floor((maxWeight + EPSILON) / requestWeight(variables, days)));
}

/** Sizes of `count` balanced windows over `dates` dates: the first ones one date longer. */
function balancedSizes(dates: number, count: number): number[] {
  const base = Math.floor(dates / count);
  const longer = dates % count;
  return Array.from({ length: count }, (_, i) => base + (i < longer ? 1 : 0));
}

/**
 * Cuts a segment into windows: of all balanced cuts whose requests fit the weight limit and
 * whose windows are at most MAX_WINDOW_DAYS long, the one of least weight, then fewest requests,
 * then shortest windows.
 */
function cutSegment(
  segment: DateSegment,
  locations: number,
  variables: number,
  maxWeight: number,
  rowLocations: number,
): number[] {
  const dates = segment.frames.length;
  const extra = segment.frames[dates - 1]?.extraDays ?? 0;
  const usefulDays = Math.max(14, Math.ceil(140 / Math.max(1, variables)));
  const longest = Math.min(MAX_WINDOW_DAYS, Math.max(usefulDays, Math.floor(MAX_WINDOW_ROWS / (24 * rowLocations))));
  let best: { sizes: number[]; weight: number; requests: number } | undefined;
  for (let count = Math.ceil(dates / longest); count <= dates; count++) {
    const sizes = balancedSizes(dates, count);
    let weight = 0;
    let requests = 0;
    let fits = true;
    sizes.forEach((size, i) => {
      const days = size + (i === sizes.length - 1 ? extra : 0);
      const perRequest = locationsPerRequest(variables, days, maxWeight);
      if (perRequest < 1) fits = false;
      weight += locations * requestWeight(variables, days);
      requests += Math.ceil(locations / Math.max(1, perRequest));
    });
    if (!fits) continue;
    // Ties go to more, shorter windows (counts only grow here): a window's transform then holds
    // the same whatever the range's length, and a window retried costs less.
    const better =
      !best ||
      weight < best.weight - EPSILON ||
      (Math.abs(weight - best.weight) <= EPSILON && requests <= best.requests);
    if (better) best = { sizes, weight, requests };
    // More windows than this only add floors of 1 (windows under 14 days): nothing to gain.
    if (Math.floor(dates / count) < usefulDays && best) break;
  }
  if (!best) {
    throw new BackfillRangeError(
      `one location for one day already weighs more than maxWeightPerRequest (${maxWeight}); raise it or request fewer variables`,
    );
  }
  return best.sizes;
}

/**
 * Plans the windows of a backfill from `from` to `to` (see checkBackfillRange): dates cut into
 * segments of one endpoint and offset, each segment into balanced windows, each window planned
 * with the ingest's own request planner, so the weight and requests here are what it sends.
 */
export function planWindows(
  settings: PipelineSettings,
  range: { readonly from: string; readonly to: string },
  today: string,
  options: {
    /**
     * Locations the window's transform holds, when more than it fetches: a location backfill
     * writes each date again with the stack's locations too. Default settings.locations.length.
     */
    readonly rowLocations?: number;
  } = {},
): WindowPlan {
  const { from, to } = range;
  const variables = settings.hourlyVariables.length + settings.dailyVariables.length;
  const locations = settings.locations.length;
  const rowLocations = Math.max(locations, options.rowLocations ?? 0);
  const windows: BackfillWindow[] = [];
  for (const segment of segmentDates(settings, from, to, today)) {
    let offset = 0;
    for (const size of cutSegment(segment, locations, variables, settings.http.maxWeightPerRequest, rowLocations)) {
      const frames = segment.frames.slice(offset, offset + size);
      offset += size;
      const window: DateSegment = {
        from: (frames[0] as { date: string }).date,
        to: (frames[frames.length - 1] as { date: string }).date,
        endpoint: segment.endpoint,
        frames,
      };
      const requests = planSegmentRequests(settings, window);
      const first = requests[0];
      windows.push({
        from: window.from,
        to: window.to,
        endpoint: window.endpoint,
        timezone: first?.timezone ?? settings.timezone,
        dates: frames.length,
        days: first?.days ?? frames.length,
        locations,
        requests: requests.length,
        weight: requests.reduce((sum, r) => sum + r.weight, 0),
      });
    }
  }
  const dates = daysBetween(from, to) + 1;
  return {
    from,
    to,
    windows,
    dates,
    locations,
    variables,
    requests: windows.reduce((sum, w) => sum + w.requests, 0),
    weight: windows.reduce((sum, w) => sum + w.weight, 0),
    minimumWeight: locations * requestWeight(variables, dates),
  };
}

/** The plan of the naive way: one request (batch) per date, as the daily run fetches a date. */
export function planOneDatePerRequest(
  settings: PipelineSettings,
  range: { readonly from: string; readonly to: string },
  today: string,
): { readonly requests: number; readonly weight: number } {
  let requests = 0;
  let weight = 0;
  for (let date = range.from; date <= range.to; date = addDays(date, 1)) {
    for (const segment of segmentDates(settings, date, date, today)) {
      const plan = planSegmentRequests(settings, segment);
      requests += plan.length;
      weight += plan.reduce((sum, r) => sum + r.weight, 0);
    }
  }
  return { requests, weight };
}
