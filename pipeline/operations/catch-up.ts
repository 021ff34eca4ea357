/**
 * Which dates a run works on. A manual run does the date it names; a scheduled run does
 * yesterday and also heals recent dates an outage left incomplete, so a few bad days fix
 * themselves without anyone running a backfill. Pure logic over the two stores, and it only
 * lists keys under per-date prefixes (s3:ListBucket), never reads an object.
 */
import { addDays, chooseEndpoint, todayIn } from "../core/dates";
import {
  curatedObjectKey,
  curatedPartitionPrefix,
  DATASETS,
  rawBodyKey,
  rawDatePrefix,
  requestManifestKey,
  assertIsoDate,
  type Dataset,
} from "../core/keys";
import { planRequests } from "../ingest";
import type { Location, PipelineSettings } from "../core/settings";
import type { ObjectStore } from "../core/storage";

/** One date of a run: with `keys`, the raw data is complete and only the transform runs. */
export interface RunItem {
  readonly date: string;
  /** Raw body keys to transform; absent: ingest the date, then transform what it returns. */
  readonly keys?: readonly string[];
}

/** The dates of one run, in the order they should run (yesterday first, then newest first). */
export interface RunPlan {
  readonly dates: readonly RunItem[];
}

/** What planRunDates reads and how far it looks back. */
export interface CatchUpDeps {
  readonly settings: PipelineSettings;
  readonly rawStore: ObjectStore;
  readonly curatedStore: ObjectStore;
  /** The clock that defines "yesterday"; default the real time. */
  readonly now?: () => Date;
  /** Days checked, ending with (and including) yesterday; 1 checks only yesterday. */
  readonly catchUpDays: number;
  /** Most dates one run works on, yesterday included. */
  readonly maxDatesPerRun: number;
  /** Where the plan's reasons go, one line each; default console.log. */
  readonly log?: (line: string) => void;
  /**
   * The run's locations when they are read on each run (the config's and the applications
   * registry's), read alongside the curated listings; default settings.locations.
   */
  readonly locations?: () => Promise<readonly Location[]>;
}

/** The datasets the transform writes for these settings (one with no variables is skipped). */
export function datasetsWritten(settings: Pick<PipelineSettings, "hourlyVariables" | "dailyVariables">): Dataset[] {
  return DATASETS.filter((dataset) => {
    switch (dataset) {
      case "weather_hourly":
        return settings.hourlyVariables.length > 0;
      case "weather_daily":
        return settings.dailyVariables.length > 0;
    }
  });
}

function checkWholeNumber(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`${name} is ${value}; it must be a whole number, ${min} or more`);
  }
}

/** True when every curated file of `date` exists. */
async function isComplete(date: string, datasets: readonly Dataset[], curatedStore: ObjectStore): Promise<boolean> {
  const listed = await Promise.all(datasets.map((d) => curatedStore.listKeys(curatedPartitionPrefix(d, date))));
  return datasets.every((dataset, i) => listed[i]?.includes(curatedObjectKey(dataset, date)) ?? false);
}

/**
 * The raw body keys of `date` when every planned body and its manifest exist, else undefined.
 * The plan is the one ingest would make today, so raw data from other settings (other
 * locations, variables or API URLs give other request ids) does not count: that date is
 * ingested again.
 */
async function completeRawKeys(
  date: string,
  today: string,
  settings: PipelineSettings,
  rawStore: ObjectStore,
): Promise<string[] | undefined> {
  const endpoint = chooseEndpoint(date, today, settings.forecastPastDays);
  const bodyKeys = planRequests(settings, date, endpoint).map((r) => rawBodyKey(endpoint, date, r.requestId));
  const listed = new Set(await rawStore.listKeys(rawDatePrefix(endpoint, date)));
  const complete = bodyKeys.every((key) => listed.has(key) && listed.has(requestManifestKey(key)));
  return complete ? bodyKeys : undefined;
}

/**
 * Plans a run. An explicit date gives exactly that date, fully re-run. Without one (the
 * schedule): yesterday always (ingest and transform), then the older dates of the window that
 * have no complete curated output, newest first, at most maxDatesPerRun in all; such a date
 * whose raw bodies and manifests are all there is only transformed.
 */
export async function planRunDates(event: { readonly date?: string }, deps: CatchUpDeps): Promise<RunPlan> {
  if (event.date !== undefined) {
    assertIsoDate(event.date, "the run's date");
    return { dates: [{ date: event.date }] };
  }
  const { rawStore, curatedStore } = deps;
  checkWholeNumber("catchUpDays", deps.catchUpDays, 1);
  checkWholeNumber("maxDatesPerRun", deps.maxDatesPerRun, 1);
  const log = deps.log ?? ((line: string) => console.log(line));
  const today = todayIn(deps.settings.timezone, (deps.now ?? (() => new Date()))());
  const yesterday = addDays(today, -1);
  const datasets = datasetsWritten(deps.settings);

  const older = Array.from({ length: deps.catchUpDays - 1 }, (_, i) => addDays(yesterday, -(i + 1)));
  // One round trip: the locations (a registry read) while the curated dates are listed.
  const [completeness, locations] = await Promise.all([
    Promise.all(older.map((date) => isComplete(date, datasets, curatedStore))),
    deps.locations ? deps.locations() : deps.settings.locations,
  ]);
  const settings = { ...deps.settings, locations };
  const incomplete = older.filter((_, i) => completeness[i] === false);
  const chosen = incomplete.slice(0, deps.maxDatesPerRun - 1);

  const items: RunItem[] = [{ date: yesterday }];
  const rawKeys = await Promise.all(chosen.map((date) => completeRawKeys(date, today, settings, rawStore)));
  chosen.forEach((date, i) => {
    const keys = rawKeys[i];
    items.push(keys ? { date, keys } : { date });
    log(
      keys
        ? `catch-up ${date}: raw data complete (${keys.length} bodies) but curated output missing; transforming it`
        : `catch-up ${date}: raw data incomplete or missing; ingesting and transforming it`,
    );
  });
  const left = incomplete.slice(chosen.length);
  if (left.length > 0) {
    log(
      `catch-up: ${left.length} more incomplete date(s) (${left.join(", ")}) wait for later runs (maxDatesPerRun ${deps.maxDatesPerRun})`,
    );
  }
  return { dates: items };
}
