/**
 * Backfill: years of past dates for every location, in windows sized by Open-Meteo's weight
 * rule, paced under a daily budget, resumable. The planner Lambda's code and the quota
 * arithmetic live here; the windows are fetched and written by the ingest and transform Lambdas.
 * (Values as plain constants: see ingest/index.ts.)
 */
import * as plan from "./plan";
import * as progress from "./progress";
import * as quota from "./quota";
import * as windows from "./windows";

export const { completeDates, createBackfillPlanHandler, parseBackfillEvent, planBackfillRun, planLocationBackfill } =
  plan;
export type { BackfillEvent, BackfillItem, BackfillPlanDeps, BackfillRunPlan, LocationBackfillEvent } from "./plan";
export const {
  DEFAULT_MAX_WEIGHT_PER_DAY,
  FREE_TIER_LIMITS,
  checkBudget,
  estimateQuota,
  formatWeight,
  simulateFreeTier,
} = quota;
export type { QuotaEstimate } from "./quota";
export const {
  ARCHIVE_FIRST_DATE,
  BackfillRangeError,
  MAX_WINDOW_DAYS,
  checkBackfillRange,
  planOneDatePerRequest,
  planWindows,
} = windows;
export type BackfillRangeError = windows.BackfillRangeError;
export type { BackfillWindow, WindowPlan } from "./windows";
export const { describeProgress, formatDuration, progressOf } = progress;
export type { BackfillProgress } from "./progress";
