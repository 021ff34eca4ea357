/**
 * What the planning Lambda (the run's first state) does with an event: the dates to work on.
 */
import type { Location, PipelineSettings } from "../core/settings";
import type { ObjectStore } from "../core/storage";
import { parseIngestEvent } from "../ingest";
import { planRunDates, type RunPlan } from "./catch-up";

/** What the planning Lambda (the run's first state) is built from. */
export interface PlanHandlerDeps {
  readonly settings: PipelineSettings;
  readonly rawStore: ObjectStore;
  readonly curatedStore: ObjectStore;
  /** Days checked, ending with yesterday. */
  readonly catchUpDays: number;
  /** Most dates one scheduled run works on. */
  readonly maxDatesPerRun: number;
  /** The clock; default the real time. */
  readonly now?: () => Date;
  /** Where the plan's reasons go; default console.log. */
  readonly log?: (line: string) => void;
  /**
   * The locations of this run, read on each run (the config's and the applications registry's);
   * absent: settings.locations. The plan must use the ones ingest will, or its request ids differ.
   */
  readonly locations?: () => Promise<readonly Location[]>;
}

/** Builds the planning handler: `{}` (the schedule) or `{"date"}` (a manual run) -> RunPlan. */
export function createPlanHandler(deps: PlanHandlerDeps): (event: unknown) => Promise<RunPlan> {
  return async (event: unknown) => {
    const input = parseIngestEvent(event, {
      timezone: deps.settings.timezone,
      now: (deps.now ?? (() => new Date()))(),
    });
    return planRunDates(input, deps);
  };
}
