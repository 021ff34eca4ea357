/**
 * What the load Lambda does with an event. Two kinds, from two states of the run:
 * - PlanLoads `{"plan": {...}, "input": {...}}`: the run's dates plus the warehouse's catch-up;
 * - Load `{"date": "YYYY-MM-DD"}`: load that date's curated files;
 * - LoadWindow `{"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}` (a backfill's): load each date of the
 *   window not already loaded as its files are now (see load-window.ts).
 * - LoadSource `{"source": "<name>", "dates": [...]}`: load a source's table (load-source.ts).
 * Each invocation opens its own connection and closes it at the end: an idle connection would
 * keep an Aurora Serverless v2 database from pausing.
 */
import { assertIsoDate } from "../core/keys";
import type { PipelineSettings } from "../core/settings";
import type { ObjectStore } from "../core/storage";
import { WarehouseUnavailableError, type WarehouseDatabase } from "./database";
import { loadDate, type LoadResult } from "./load";
import { loadWindow, parseLoadWindowEvent, type WindowLoadResult } from "./load-window";
import { loadSourceDates, type SourceLoadResult } from "./load-source";
import type { WarehouseTable } from "./tables";
import { explicitRunDates, parseLoadPlanEvent, planLoads, type LoadPlanEvent, type RunDate } from "./plan-loads";

/** What the load Lambda is built from. */
export interface LoadHandlerDeps {
  readonly settings: Pick<PipelineSettings, "hourlyVariables" | "dailyVariables" | "columnNames" | "timezone">;
  readonly curatedStore: ObjectStore;
  /** Opens a connection to the warehouse; closed after each invocation. */
  readonly connect: () => Promise<WarehouseDatabase>;
  readonly catchUpDays: number;
  readonly maxDatesPerRun: number;
  /** The stack's source tables (sourceWarehouseTable of each source); default none. */
  readonly sourceTables?: readonly WarehouseTable[];
  readonly now?: () => Date;
  readonly log?: (line: string) => void;
}

function describe(value: unknown): string {
  return JSON.stringify(value)?.slice(0, 200) ?? String(value);
}

/** Checks a Load event: `{"date": "YYYY-MM-DD", ...}` (the transform's result, or a load-only run item). */
export function parseLoadEvent(event: unknown): { date: string } {
  const date = (event as { date?: unknown } | null)?.date;
  if (typeof date !== "string") {
    throw new TypeError(`the load event is ${describe(event)}; it needs "date" ("YYYY-MM-DD")`);
  }
  assertIsoDate(date, "the load event's date");
  return { date };
}

/** Checks a LoadSource event: `{"source": "<name>", "dates": ["YYYY-MM-DD", ...]}` (dates may be empty). */
export function parseSourceLoadEvent(event: unknown): { source: string; dates: string[] } {
  const e = event as { source?: unknown; dates?: unknown };
  if (typeof e.source !== "string" || !(e.dates === undefined || Array.isArray(e.dates))) {
    throw new TypeError(
      `the source load event is ${describe(event)}; it needs "source" (a source's name) and "dates" (a list of YYYY-MM-DD)`,
    );
  }
  const dates = ((e.dates ?? []) as unknown[]).map((d) => {
    if (typeof d !== "string")
      throw new TypeError(`the source load event's dates hold ${describe(d)}; each is a "YYYY-MM-DD"`);
    assertIsoDate(d, "the source load event's date");
    return d;
  });
  return { source: e.source, dates };
}

/** Builds the load Lambda's handler. */
export function createLoadHandler(
  deps: LoadHandlerDeps,
): (event: unknown) => Promise<LoadResult | WindowLoadResult | SourceLoadResult | { dates: RunDate[] }> {
  const log = deps.log ?? ((line: string) => console.log(line));
  /**
   * The warehouse's catch-up must not keep a run from ingesting: with the database unreachable,
   * the run goes on with its own dates (their Load steps retry, then alert), and the next run
   * catches up what this one could not.
   */
  const plan = async (request: LoadPlanEvent): Promise<{ dates: RunDate[] }> => {
    const explicit = explicitRunDates(request);
    if (explicit) return { dates: explicit };
    let database: WarehouseDatabase | undefined;
    try {
      database = await deps.connect();
      return await planLoads(request, { ...deps, database, log });
    } catch (error) {
      if (!(error instanceof WarehouseUnavailableError)) throw error;
      log(`load catch-up skipped this run, the warehouse is unreachable: ${error.message}`);
      return { dates: [...request.plan.dates] };
    } finally {
      await database?.close();
    }
  };
  return async (event: unknown) => {
    const isPlan = event !== null && typeof event === "object" && "plan" in event;
    if (isPlan) return plan(parseLoadPlanEvent(event));
    // A backfill window has "from" and no "date"; a date's event may carry other fields.
    const isWindow = event !== null && typeof event === "object" && "from" in event && !("date" in event);
    if (isWindow) {
      const window = parseLoadWindowEvent(event);
      const database = await deps.connect();
      try {
        return await loadWindow(window, { ...deps, database, log });
      } finally {
        await database.close();
      }
    }
    if (event !== null && typeof event === "object" && "source" in event) {
      const { source, dates } = parseSourceLoadEvent(event);
      const database = await deps.connect();
      try {
        const result = await loadSourceDates(source, dates, {
          ...deps,
          sourceTables: deps.sourceTables ?? [],
          database,
          log,
        });
        for (const m of result.migrations) log(`migration: ${m}`);
        log(
          `loaded source ${source}: ${result.files.map((f) => `${f.dataset} ${f.key} ${f.rows} rows (replaced ${f.replacedRows})`).join(", ") || "nothing new"} into ${database.description}`,
        );
        return result;
      } finally {
        await database.close();
      }
    }
    const request = parseLoadEvent(event);
    const database = await deps.connect();
    try {
      const result = await loadDate(request.date, { ...deps, database });
      for (const m of result.migrations) log(`migration: ${m}`);
      log(
        `loaded ${request.date}: ${result.files.map((f) => `${f.dataset} ${f.rows} rows (replaced ${f.replacedRows})`).join(", ")} into ${database.description}`,
      );
      return result;
    } finally {
      await database.close();
    }
  };
}
