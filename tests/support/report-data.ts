/**
 * Curated data for the report tests, made by the real ingest and transform from the fake
 * Open-Meteo: a few days of three locations, one date skipped (missing), one location's values
 * all null ("nowhere", missing not zero), and a few null hours of another on one date (partial).
 */
import * as path from "node:path";
import { addDays } from "../../pipeline/core/dates";
import { DEFAULT_PIPELINE_SETTINGS, type PipelineSettings } from "../../pipeline/core/settings";
import { DirectoryObjectStore } from "../../pipeline/core/storage";
import { ingestDate } from "../../pipeline/ingest";
import { answerOpenMeteoQuery, startFakeOpenMeteo, type FakeRequest } from "../../pipeline/local/fake-open-meteo";
import type { RunRecord } from "../../pipeline/report";
import { transformRawObjects } from "../../pipeline/transform";

/** The fake's clock: "today" for the dates below. */
export const REPORT_NOW = new Date("2025-07-20T06:00:00Z");
export const REPORT_END = "2025-07-19";
export const REPORT_DAYS = 8;
/** Dates of the period with no run at all. */
export const SKIPPED_DATE = "2025-07-15";
/** The location every value of which is null. */
export const NULL_LOCATION = "nowhere";
/** The location and date with a few null hours. */
export const PARTIAL = { location: "amsterdam", date: "2025-07-17", nullHours: 6 } as const;

/** What makeReportData made. */
export interface ReportFixture {
  readonly curatedStore: DirectoryObjectStore;
  readonly curatedDir: string;
  readonly runs: RunRecord[];
  readonly dates: string[];
  readonly settings: PipelineSettings;
}

type Body = Record<string, unknown> & { hourly?: Record<string, unknown[]>; daily?: Record<string, unknown[]> };

function nullValues(block: Record<string, unknown[]> | undefined, count?: number): void {
  for (const [name, values] of Object.entries(block ?? {})) {
    if (name === "time") continue;
    for (let i = 0; i < (count ?? values.length); i++) values[i] = null;
  }
}

/** The fake's own answer, with values nulled where the fixture wants gaps. */
function answerWithGaps(request: FakeRequest) {
  const answer = answerOpenMeteoQuery(request.path, request.params, { now: REPORT_NOW });
  const parsed = JSON.parse(answer.body) as Body | Body[];
  const elements = Array.isArray(parsed) ? parsed : [parsed];
  // Locations are requested sorted by name: amsterdam, berlin, nowhere.
  const [amsterdam, , nowhere] = elements;
  nullValues(nowhere?.hourly);
  nullValues(nowhere?.daily);
  if (request.params["start_date"] === PARTIAL.date) nullValues(amsterdam?.hourly, PARTIAL.nullHours);
  return {
    kind: "text" as const,
    status: answer.status,
    body: JSON.stringify(parsed),
    contentType: "application/json",
  };
}

/** Ingests and transforms each date of the period but SKIPPED_DATE into `directory`, one recorded run each. */
export async function makeReportData(directory: string): Promise<ReportFixture> {
  const fake = await startFakeOpenMeteo({ now: () => REPORT_NOW, respond: answerWithGaps });
  try {
    const settings: PipelineSettings = {
      ...DEFAULT_PIPELINE_SETTINGS,
      locations: [
        { name: "berlin", latitude: 52.52, longitude: 13.41 },
        { name: "amsterdam", latitude: 52.37, longitude: 4.89 },
        { name: NULL_LOCATION, latitude: -10, longitude: -20 },
      ],
      forecastApiUrl: fake.forecastUrl,
      archiveApiUrl: fake.archiveUrl,
    };
    const rawStore = new DirectoryObjectStore(path.join(directory, "raw"));
    const curatedDir = path.join(directory, "curated");
    const curatedStore = new DirectoryObjectStore(curatedDir);
    const dates = Array.from({ length: REPORT_DAYS }, (_, i) => addDays(REPORT_END, i - REPORT_DAYS + 1));
    const runs: RunRecord[] = [];
    for (const [i, date] of dates.entries()) {
      if (date === SKIPPED_DATE) continue;
      const at = new Date(REPORT_NOW.getTime() + i * 60_000);
      const id = `run-${date}`;
      const ingested = await ingestDate({ date }, { settings, rawStore, now: () => at, log: () => undefined });
      await transformRawObjects(ingested, {
        settings,
        rawStore,
        curatedStore,
        writtenBy: `local run ${id}`,
        now: () => at,
      });
      runs.push({
        id,
        status: "SUCCEEDED",
        startedAt: new Date(at.getTime() - 5_000).toISOString(),
        stoppedAt: new Date(at.getTime() + 5_000).toISOString(),
        dates: [date],
        api: "fake",
      });
    }
    // The latest run failed before writing anything: the page must say so.
    const last = new Date(REPORT_NOW.getTime() + REPORT_DAYS * 60_000);
    runs.push({
      id: "run-failed",
      status: "FAILED",
      startedAt: last.toISOString(),
      stoppedAt: new Date(last.getTime() + 2_000).toISOString(),
      dates: [REPORT_END],
      api: "fake",
      error: 'Open-Meteo answered 429 "Daily API request limit exceeded"',
    });
    return { curatedStore, curatedDir, runs, dates, settings };
  } finally {
    await fake.close();
  }
}
