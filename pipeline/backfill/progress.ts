/**
 * Where a backfill stands, from what can be seen from outside it: its plan, the dates whose
 * curated files exist, and the windows that failed. The same numbers for a deployed backfill
 * (read from Step Functions and the curated bucket) and a local one.
 */
import type { BackfillRunPlan } from "./plan";

/** One snapshot of a backfill's progress. */
export interface BackfillProgress {
  /** Dates of the range. */
  readonly dates: number;
  /** Dates whose curated files all exist (skipped ones included). */
  readonly done: number;
  /** Dates of failed windows, not complete. */
  readonly failed: number;
  /** Dates neither done nor failed. */
  readonly waiting: number;
  readonly windows: number;
  readonly windowsDone: number;
  /** Requests and weight of the windows of this run that are done, and of all of them. */
  readonly requests: number;
  readonly requestsTotal: number;
  readonly weight: number;
  readonly weightTotal: number;
  /** Seconds left at the pace seen so far; undefined until a date was done. */
  readonly etaSeconds: number | undefined;
}

/**
 * The progress of `plan` given the complete dates, the failed windows and the pace since
 * `doneAtStart` dates were complete `elapsedMs` ago.
 */
export function progressOf(
  plan: BackfillRunPlan,
  complete: ReadonlySet<string>,
  failedWindows: readonly { readonly from: string; readonly to: string }[],
  pace: { readonly elapsedMs: number; readonly doneAtStart: number },
): BackfillProgress {
  const dates = plan.windows.reduce((sum, w) => sum + w.dates, 0) + plan.skippedDates;
  let done = 0;
  for (const date of complete) if (date >= plan.from && date <= plan.to) done++;
  let failed = 0;
  for (const w of failedWindows) {
    for (const item of plan.windows) {
      if (item.from !== w.from || item.to !== w.to) continue;
      let left = item.dates;
      for (const date of complete) if (date >= item.from && date <= item.to) left--;
      failed += left;
    }
  }
  const doneWindows = plan.windows.filter((w) => {
    let count = 0;
    for (const date of complete) if (date >= w.from && date <= w.to) count++;
    return count === w.dates;
  });
  const rate = pace.elapsedMs > 0 ? (done - pace.doneAtStart) / pace.elapsedMs : 0;
  const waiting = Math.max(0, dates - done - failed);
  return {
    dates,
    done,
    failed,
    waiting,
    windows: plan.windows.length,
    windowsDone: doneWindows.length,
    requests: doneWindows.reduce((sum, w) => sum + w.requests, 0),
    requestsTotal: plan.requests,
    weight: doneWindows.reduce((sum, w) => sum + w.weight, 0),
    weightTotal: plan.weight,
    etaSeconds: rate > 0 ? Math.round(waiting / rate / 1000) : waiting === 0 ? 0 : undefined,
  };
}

/** A duration as people read it: "45 s", "12 min", "3 h 20 min", "2 d 4 h". */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined) return "estimating";
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** One line of progress, for logs and terminals without a progress bar. */
export function describeProgress(p: BackfillProgress): string {
  return (
    `dates ${p.done}/${p.dates} done, ${p.failed} failed, ${p.waiting} waiting | ` +
    `windows ${p.windowsDone}/${p.windows} | requests ${p.requests}/${p.requestsTotal} | ` +
    `quota ${Math.round(p.weight).toLocaleString("en-US")}/${Math.round(p.weightTotal).toLocaleString("en-US")} | ETA ${formatDuration(p.etaSeconds)}`
  );
}
