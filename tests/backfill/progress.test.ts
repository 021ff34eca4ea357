/**
 * The backfill's progress from its plan, the complete dates and the failed windows: a window the
 * planner kept load-only (complete, on a stack with a warehouse) counts as skipped, not twice.
 */
import { expect } from "chai";
import { progressOf, type BackfillRunPlan } from "../../pipeline/backfill";

const PLAN: BackfillRunPlan = {
  from: "2024-01-01",
  to: "2024-01-30",
  windows: [
    { from: "2024-01-01", to: "2024-01-15", dates: 15, requests: 0, weight: 0, loadOnly: true },
    { from: "2024-01-16", to: "2024-01-30", dates: 15, requests: 1, weight: 1.5 },
  ],
  loadOnlyWindows: 1,
  plannedWindows: 2,
  skippedWindows: 1,
  skippedDates: 15,
  requests: 1,
  weight: 1.5,
  minimumWeight: 3,
  fullWeight: 3,
  days: 1,
};

function days(from: number, to: number): Set<string> {
  const out = new Set<string>();
  for (let d = from; d <= to; d++) out.add(`2024-01-${String(d).padStart(2, "0")}`);
  return out;
}

describe("backfill progress", () => {
  it("counts a load-only window's dates once, as skipped, and only the fetched windows as windows", () => {
    const start = progressOf(PLAN, days(1, 15), [], { elapsedMs: 0, doneAtStart: 15 });
    expect(start).to.deep.include({ dates: 30, done: 15, failed: 0, waiting: 15, windows: 1, windowsDone: 0 });
    const failed = progressOf(PLAN, days(1, 20), [{ from: "2024-01-16", to: "2024-01-30" }], {
      elapsedMs: 1_000,
      doneAtStart: 15,
    });
    expect(failed).to.deep.include({ dates: 30, done: 20, failed: 10, waiting: 0, requestsTotal: 1 });
    const done = progressOf(PLAN, days(1, 30), [], { elapsedMs: 2_000, doneAtStart: 15 });
    expect(done).to.deep.include({ done: 30, waiting: 0, windows: 1, windowsDone: 1, requests: 1, weight: 1.5 });
  });
});
