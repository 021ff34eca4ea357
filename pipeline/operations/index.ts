/**
 * Operations: which dates a run works on (catch-up) and re-running failed runs (redrive).
 * (Values as plain constants: see ingest/index.ts.)
 */
import * as catchUp from "./catch-up";
import * as planHandler from "./plan-handler";
import * as redrive from "./redrive";

export const { planRunDates } = catchUp;
export type { RunPlan } from "./catch-up";
export const { createPlanHandler } = planHandler;
export type { PlanHandlerDeps } from "./plan-handler";
export const { isBackfillInput, redriveDeadLetters } = redrive;
export type { DeadLetter, RedriveClients, RedriveOptions, RedriveResult } from "./redrive";
