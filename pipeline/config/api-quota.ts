/**
 * How much of Open-Meteo's API quota a stack can use, worked out from its config before anything
 * deploys. The API counts weight, not calls: per location of a request max(1, V/10 x days/14)
 * (V = variables; pipeline/ingest/openmeteo-request.ts requestWeight), and the free tier allows
 * 600 a minute, 5,000 an hour and 10,000 a day per IP (/work/shared/open-meteo/README.md, from the
 * server's source). A stack over the limit would not fail at preview but every day, with a 429.
 *
 * The worst case is counted, as the quota must hold on the worst day, not the average: every
 * scheduled run fetches yesterday, and a run after an outage also ingests up to
 * maxDatesPerRun - 1 older dates (at most catchUpDays - 1 of them), all within minutes, so in
 * one clock hour. Not counted: redrives and runs started by hand, and retries (a failed request
 * counts 1), which happen when the API is failing anyway.
 */
import { requestWeight } from "../ingest";

/** Open-Meteo's free tier: API weight allowed per IP. */
export const FREE_TIER_WEIGHT = { perMinute: 600, perHour: 5_000, perDay: 10_000 } as const;

/** What the API use of a stack depends on. */
export interface ApiUseInput {
  readonly locationCount: number;
  /** Hourly and daily variables together. */
  readonly variableCount: number;
  /** The schedule's six cron fields (see scheduler-cron.ts); it must be valid. */
  readonly scheduleCron: string;
  readonly catchUpDays: number;
  readonly maxDatesPerRun: number;
}

/** The worst-case API weight of a stack, per clock hour and per day. */
export interface ApiUse {
  /** Weight of one date's ingest: every location once, one day each. */
  readonly perDate: number;
  readonly runsPerDay: number;
  /** Runs in the busiest clock hour. */
  readonly runsPerHour: number;
  /** Older dates a day's runs can ingest besides yesterday. */
  readonly catchUpDatesPerDay: number;
  readonly catchUpDatesPerHour: number;
  readonly perDay: number;
  readonly perHour: number;
}

/** How many values one cron field selects (minutes 0-59 or hours 0-23), for a valid field. */
function countFieldValues(field: string, min: number, max: number): number {
  const values = new Set<number>();
  for (const item of field.split(",")) {
    const [base = "*", stepText] = item.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    let from = min;
    let to = max;
    if (base !== "*") {
      const [a, b] = base.split("-").map(Number) as [number, number | undefined];
      from = a;
      // A value with a step runs to the end of the field; without one it is just itself.
      to = b ?? (stepText === undefined ? a : max);
    }
    // A range may wrap around, as AWS's own `20-2` hours example does.
    const span = to >= from ? to - from : max - from + 1 + to - min;
    for (let offset = 0; offset <= span; offset += step) {
      values.add(from + offset > max ? from + offset - (max - min + 1) : from + offset);
    }
  }
  return values.size;
}

/** Runs a day and in the busiest hour of a six-field cron (the day fields only pick the days). */
export function cronRunsPerDay(cron: string): { readonly perDay: number; readonly perHour: number } {
  const [minutes = "0", hours = "0"] = cron.trim().split(/\s+/);
  const perHour = countFieldValues(minutes, 0, 59);
  return { perDay: perHour * countFieldValues(hours, 0, 23), perHour };
}

/** The worst-case API weight of a stack per day and per clock hour (see the module comment). */
export function apiWeightUse(input: ApiUseInput): ApiUse {
  const perDate = input.locationCount * requestWeight(input.variableCount, 1);
  const runs = cronRunsPerDay(input.scheduleCron);
  const olderDates = Math.max(0, input.catchUpDays - 1);
  const catchUpPerRun = Math.max(0, Math.min(input.maxDatesPerRun, input.catchUpDays) - 1);
  const catchUpDatesPerDay = Math.min(olderDates, runs.perDay * catchUpPerRun);
  const catchUpDatesPerHour = Math.min(olderDates, runs.perHour * catchUpPerRun);
  return {
    perDate,
    runsPerDay: runs.perDay,
    runsPerHour: runs.perHour,
    catchUpDatesPerDay,
    catchUpDatesPerHour,
    perDay: (runs.perDay + catchUpDatesPerDay) * perDate,
    perHour: (runs.perHour + catchUpDatesPerHour) * perDate,
  };
}

/** A weight for messages: thousands separated, at most one decimal (weights are multiples of 0.1). */
export function formatWeight(weight: number): string {
  return weight.toLocaleString("en-US", { maximumFractionDigits: 1 });
}

/** One quota a stack's worst case exceeds, worded for the config key that sets it. */
export interface QuotaProblem {
  readonly key: "maxDailyWeight" | "maxHourlyWeight";
  readonly limit: number;
  readonly use: number;
  readonly message: string;
}

/**
 * The quotas `use` exceeds, each with a message naming both numbers, where they come from and
 * the fix. Weights are multiples of 0.1; the epsilon keeps float sums from tipping over a limit.
 */
export function apiQuotaProblems(
  input: ApiUseInput,
  limits: { readonly maxDailyWeight: number; readonly maxHourlyWeight: number },
): QuotaProblem[] {
  const use = apiWeightUse(input);
  const w = formatWeight;
  const oneDate = `one date weighs ${w(use.perDate)}: ${w(input.locationCount)} location(s) × ${w(requestWeight(input.variableCount, 1))} for ${input.variableCount} variable(s)`;
  const fix = (key: string, free: number) =>
    `list fewer locations or variables, lower maxDatesPerRun or catchUpDays, or raise ${key} if your Open-Meteo plan allows more (the free API allows ${w(free)})`;
  const problems: QuotaProblem[] = [];
  const over = (a: number, b: number) => a > b + 1e-6;
  if (over(use.perDay, limits.maxDailyWeight)) {
    problems.push({
      key: "maxDailyWeight",
      limit: limits.maxDailyWeight,
      use: use.perDay,
      message:
        `a day of this stack can use ${w(use.perDay)} API weight, more than maxDailyWeight ${w(limits.maxDailyWeight)}: ` +
        `${use.runsPerDay} scheduled run(s) fetching yesterday plus ${use.catchUpDatesPerDay} catch-up date(s), and ${oneDate}; ` +
        fix("maxDailyWeight", FREE_TIER_WEIGHT.perDay),
    });
  }
  if (over(use.perHour, limits.maxHourlyWeight)) {
    problems.push({
      key: "maxHourlyWeight",
      limit: limits.maxHourlyWeight,
      use: use.perHour,
      message:
        `one hour of this stack can use ${w(use.perHour)} API weight, more than maxHourlyWeight ${w(limits.maxHourlyWeight)}: ` +
        `${use.runsPerHour} scheduled run(s) fetching yesterday plus ${use.catchUpDatesPerHour} catch-up date(s) within minutes, and ${oneDate}; ` +
        fix("maxHourlyWeight", FREE_TIER_WEIGHT.perHour),
    });
  }
  return problems;
}
