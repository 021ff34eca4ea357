/**
 * Catch-up of the warehouse: which dates a scheduled run loads besides the ones it ingests or
 * transforms. "Loaded" is recorded in the database itself: the ledger row of a dataset and date
 * (warehouse_loads) is written in the same transaction as its rows and holds the SHA-256 of the
 * file it loaded, so the ledger can never claim rows that are not there. A date of the catch-up
 * window whose curated files all exist but whose ledger lacks one of them, or names another
 * version of it (the transform re-ran after the last load), is loaded by the run.
 */
import { createHash } from "node:crypto";
import { addDays, todayIn } from "../core/dates";
import { assertIsoDate, curatedObjectKey, curatedPartitionPrefix, type Dataset } from "../core/keys";
import type { PipelineSettings } from "../core/settings";
import type { ObjectStore } from "../core/storage";
import type { WarehouseDatabase } from "./database";
import { migrateWarehouse, warehouseTables } from "./migrate";
import { LOAD_LEDGER_TABLE, quoteIdentifier } from "./tables";

/** One date of a run as the state machine's Map sees it. */
export interface RunDate {
  readonly date: string;
  readonly keys?: readonly string[];
  /** Only the Load step runs: the curated files exist. */
  readonly loadOnly?: boolean;
}

/** What the PlanLoads step sends: the plan step's output and the execution's input. */
export interface LoadPlanEvent {
  readonly plan: { readonly dates: readonly RunDate[] };
  /** `{}` for a scheduled run, `{"date"}` for one date, `{"date", "loadOnly": true}` for a redrive of a failed load. */
  readonly input: unknown;
}

/** What planLoads reads. */
export interface LoadPlanDeps {
  readonly settings: Pick<PipelineSettings, "hourlyVariables" | "dailyVariables" | "columnNames" | "timezone">;
  readonly curatedStore: ObjectStore;
  readonly database: WarehouseDatabase;
  /** Days checked, ending with yesterday (the plan step's catchUpDays). */
  readonly catchUpDays: number;
  /** Most load-only dates added to one run. */
  readonly maxDatesPerRun: number;
  readonly now?: () => Date;
  readonly log?: (line: string) => void;
}

function describe(value: unknown): string {
  return JSON.stringify(value)?.slice(0, 200) ?? String(value);
}

/** Checks a PlanLoads event. */
export function parseLoadPlanEvent(event: unknown): LoadPlanEvent {
  const e = (event ?? {}) as { plan?: { dates?: unknown }; input?: unknown };
  if (!Array.isArray(e.plan?.dates)) {
    throw new TypeError(
      `the load plan event is ${describe(event)}; it needs "plan" (the plan step's {"dates": [...]}) and "input"`,
    );
  }
  return { plan: { dates: e.plan.dates as RunDate[] }, input: e.input ?? {} };
}

/**
 * The dates of a run that names its date, which need no database: the plan as it is, or, for
 * the redrive of a failed load, the date to load alone. Undefined for a scheduled run.
 */
export function explicitRunDates(event: LoadPlanEvent): RunDate[] | undefined {
  const input = (event.input ?? {}) as { date?: unknown; loadOnly?: unknown };
  if (typeof input.date !== "string") return undefined;
  assertIsoDate(input.date, "the run's date");
  // A redrive of a failed load loads the date again, without ingesting it again.
  return input.loadOnly === true ? [{ date: input.date, loadOnly: true }] : [...event.plan.dates];
}

/** The run's dates with the warehouse's catch-up added (see the module comment). */
export async function planLoads(event: LoadPlanEvent, deps: LoadPlanDeps): Promise<{ dates: RunDate[] }> {
  const log = deps.log ?? ((line: string) => console.log(line));
  const explicit = explicitRunDates(event);
  if (explicit) return { dates: explicit };
  const planned = new Set(event.plan.dates.map((d) => d.date));
  const yesterday = addDays(todayIn(deps.settings.timezone, (deps.now ?? (() => new Date()))()), -1);
  const window = Array.from({ length: Math.max(0, deps.catchUpDays - 1) }, (_, i) =>
    addDays(yesterday, -(i + 1)),
  ).filter((date) => !planned.has(date));
  const datasets = warehouseTables(deps.settings).map((t) => t.dataset);
  // The ledger exists before the first load.
  await migrateWarehouse(deps.database, deps.settings);
  const ledger = await deps.database.query<{ dataset: Dataset; date: string; source_sha256: string }>(
    `SELECT "dataset", "date", "source_sha256" FROM ${quoteIdentifier(LOAD_LEDGER_TABLE)} WHERE "date" = ANY($1::date[])`,
    [window],
  );
  const loaded = new Map(ledger.map((r) => [`${r.dataset}|${r.date}`, r.source_sha256]));
  const toLoad: string[] = [];
  for (const date of window) {
    const reasons: string[] = [];
    let complete = true;
    for (const dataset of datasets) {
      const key = curatedObjectKey(dataset, date);
      if (!(await deps.curatedStore.listKeys(curatedPartitionPrefix(dataset, date))).includes(key)) {
        complete = false;
        break;
      }
      const sha = loaded.get(`${dataset}|${date}`);
      if (sha === undefined) {
        reasons.push(`${dataset} not loaded`);
        continue;
      }
      const body = (await deps.curatedStore.getObject(key)).body;
      if (createHash("sha256").update(body).digest("hex") !== sha) reasons.push(`${dataset} changed since its load`);
    }
    // A date without all its files is the plan step's to transform; it is loaded after that.
    if (complete && reasons.length > 0) {
      toLoad.push(date);
      log(`load catch-up ${date}: ${reasons.join(", ")}; loading it`);
    }
  }
  const chosen = toLoad.slice(0, deps.maxDatesPerRun);
  if (toLoad.length > chosen.length) {
    log(
      `load catch-up: ${toLoad.length - chosen.length} more date(s) (${toLoad.slice(chosen.length).join(", ")}) wait for later runs`,
    );
  }
  return { dates: [...event.plan.dates, ...chosen.map((date) => ({ date, loadOnly: true }))] };
}
