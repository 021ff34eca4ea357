/**
 * The quota arithmetic of a backfill: how its windows are spread over days under the stack's
 * daily budget (backfillMaxWeightPerDay), and how long it takes at the free API's limits.
 *
 * Open-Meteo's free tier counts weight per client: 600 a minute, 5,000 an hour, 10,000 a day
 * (RateLimiter.swift); a request is refused while the current period's usage has reached its
 * limit, and the counters reset on the minute, the hour and at 00:00 UTC. The budget keeps the
 * backfill under the daily limit with room for the daily runs (8,000 of 10,000 by default).
 */
import { BackfillRangeError, type WindowPlan } from "./windows";

/** The free API's limits, in weight. */
export const FREE_TIER_LIMITS = { minutely: 600, hourly: 5_000, daily: 10_000 } as const;

/** Default of backfillMaxWeightPerDay. */
export const DEFAULT_MAX_WEIGHT_PER_DAY = 8_000;

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** Open-Meteo clears its counters in the first minute of a period: a margin past the boundary. */
const RESET_MARGIN_MS = 60_000;

/** Which UTC day (0 = the start's) each window runs on so that no day passes the budget. */
export function spreadOverDays(windows: readonly { readonly weight: number }[], maxWeightPerDay: number): number[] {
  if (!(maxWeightPerDay > 0))
    throw new BackfillRangeError(`backfillMaxWeightPerDay is ${maxWeightPerDay}; it must be more than 0`);
  const days: number[] = [];
  let day = 0;
  let used = 0;
  for (const window of windows) {
    if (used > 0 && used + window.weight > maxWeightPerDay + 1e-9) {
      day++;
      used = 0;
    }
    used += window.weight;
    days.push(day);
  }
  return days;
}

/** When a window of day `day` (see spreadOverDays) may start: 00:00 UTC of that day after `now`, plus a margin. */
export function dayStart(now: Date, day: number): Date {
  return new Date((Math.floor(now.getTime() / DAY_MS) + day) * DAY_MS + RESET_MARGIN_MS);
}

/**
 * Simulates sending requests of these weights one after another from `startMs` under the free
 * tier's limits and a daily budget (the lower of the two counts), as the server counts them, not
 * counting the time of the requests themselves. Returns when the last one is sent.
 */
export function simulateFreeTier(weights: readonly number[], startMs: number, maxWeightPerDay: number): number {
  const dailyLimit = Math.min(FREE_TIER_LIMITS.daily, maxWeightPerDay);
  const periods = [
    { ms: MINUTE_MS, limit: FREE_TIER_LIMITS.minutely, index: -1, used: 0 },
    { ms: HOUR_MS, limit: FREE_TIER_LIMITS.hourly, index: -1, used: 0 },
    { ms: DAY_MS, limit: dailyLimit, index: -1, used: 0 },
  ];
  let t = startMs;
  for (const weight of weights) {
    for (;;) {
      for (const p of periods) {
        const index = Math.floor(t / p.ms);
        if (index !== p.index) {
          p.index = index;
          p.used = 0;
        }
      }
      const full = periods.find((p) => p.used >= p.limit);
      if (!full) break;
      t = (Math.floor(t / full.ms) + 1) * full.ms;
    }
    for (const p of periods) p.used += weight;
  }
  return t;
}

/** What a backfill costs and how it is paced: the dry run's figures. */
export interface QuotaEstimate {
  /** UTC days the backfill is spread over under the budget (1 when it fits one day's). */
  readonly days: number;
  /** Hours from start to the last request at the free tier's limits (request time not counted). */
  readonly hoursAtFreeTier: number;
  /** The day (0-based) each window runs on. */
  readonly windowDays: readonly number[];
  readonly maxWeightPerDay: number;
}

/** The quota figures of a plan, started at `now`. */
export function estimateQuota(plan: Pick<WindowPlan, "windows">, maxWeightPerDay: number, now: Date): QuotaEstimate {
  const windowDays = spreadOverDays(plan.windows, maxWeightPerDay);
  const weights = plan.windows.flatMap((w) => Array.from({ length: w.requests }, () => w.weight / w.requests));
  const end = simulateFreeTier(weights, now.getTime(), maxWeightPerDay);
  return {
    days: windowDays.length === 0 ? 0 : (windowDays[windowDays.length - 1] as number) + 1,
    hoursAtFreeTier: (end - now.getTime()) / HOUR_MS,
    windowDays,
    maxWeightPerDay,
  };
}

/**
 * Throws unless the backfill fits one day's budget or the caller agreed to spread it over days;
 * the message gives the arithmetic and the ways out.
 */
export function checkBudget(weight: number, estimate: QuotaEstimate, spread: boolean, source: string): void {
  if (spread || weight <= estimate.maxWeightPerDay + 1e-9) return;
  throw new BackfillRangeError(
    `the backfill weighs ${formatWeight(weight)}, more than backfillMaxWeightPerDay ${formatWeight(estimate.maxWeightPerDay)} (${source}); ` +
      `add --spread to run it over ${estimate.days} days (at most ${formatWeight(estimate.maxWeightPerDay)} a day), ` +
      "raise backfillMaxWeightPerDay (the free API allows 10,000 a day), or backfill a shorter range",
  );
}

/** A weight as people read it: thousands separated, at most two decimals. */
export function formatWeight(weight: number): string {
  return weight.toLocaleString("en-US", { maximumFractionDigits: 2 });
}
