/**
 * `npm run bench -- backfill`: a backfill of 10 years x 100 locations x 12 hourly variables,
 * run as `npm start -- --from ... --to ...` runs it (the backfill state machine on
 * aws-local-stepfunctions, the planner, ingest and transform handlers) against the fake
 * Open-Meteo with a fixed latency per request, folder stores; beside it the same range the
 * naive way, one request per date, as the daily run fetches a date. Printed side by side:
 * requests, weight (counted by the fake, as the server counts it) against the formula's minimum,
 * wall time, and the peak RSS of the transform of one window, measured in a process of its own
 * for backfills of 1, 5 and 10 years (flat: windows have the same size whatever the range).
 */
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import * as path from "node:path";
import { planOneDatePerRequest, planWindows, type BackfillRunPlan } from "../backfill";
import { addDays, daysBetween } from "../core/dates";
import { DEFAULT_PIPELINE_SETTINGS, type PipelineSettings } from "../core/settings";
import { DirectoryObjectStore } from "../core/storage";
import { ingestDate, type IngestResult } from "../ingest";
import { transformRawObjects } from "../transform";
import { startFakeOpenMeteo } from "../local/fake-open-meteo";
import { createLocalFunctions, LocalStateMachine } from "../local/run-state-machine";
import { BENCH_HOURLY_VARIABLES, benchLocations } from "./bench-input";

/** One row of bench.ts's table. */
type AddRow = (row: {
  metric: string;
  ours?: string;
  reference?: string;
  ratio?: string;
  target?: string;
  met?: string;
}) => void;

const LATENCY_MS = 200;
const FROM = "2015-01-01";
const TO = "2024-12-31";
/** The naive way is measured on this year and scaled to the range (3,653 requests would take 12 min of latency alone). */
const NAIVE_SAMPLE = { from: "2024-01-01", to: "2024-12-31" };
/** The fake's clock: after the range, so every date is archive data. */
const NOW = new Date("2026-01-10T06:00:00Z");

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function megabytes(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)} MB`;
}

/** Runs a transpiled child script and returns its stdout. */
function runChild(args: readonly string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`child exited ${code}: ${stderr}`))));
  });
}

/** The bench's backfill section; `childScript` is the transpiled bench-backfill-window.js. */
export async function benchBackfill(options: {
  readonly out: string;
  readonly childScript: string;
  readonly projectDir: string;
  readonly addRow: AddRow;
  readonly log: (line: string) => void;
}): Promise<void> {
  const { out, addRow, log } = options;
  const work = path.join(out, "backfill");
  rmSync(work, { recursive: true, force: true });
  const base: PipelineSettings = {
    ...DEFAULT_PIPELINE_SETTINGS,
    timezone: "UTC",
    locations: benchLocations(100),
    hourlyVariables: BENCH_HOURLY_VARIABLES.map((v) => v.name),
    dailyVariables: [],
    // The fake renders a window's 5 MB body in JavaScript, slower than the real API on a busy
    // machine: a timed-out attempt would be retried and its weight counted twice.
    http: { ...DEFAULT_PIPELINE_SETTINGS.http, timeoutMs: 300_000 },
  };
  const fake = await startFakeOpenMeteo({ latencyMs: LATENCY_MS, now: () => NOW });
  try {
    const settings = { ...base, forecastApiUrl: fake.forecastUrl, archiveApiUrl: fake.archiveUrl };
    // The backfill, as the local command runs it.
    const rawStore = new DirectoryObjectStore(path.join(work, "raw"));
    const curatedStore = new DirectoryObjectStore(path.join(work, "curated"));
    const functions = createLocalFunctions({
      settings,
      rawStore,
      curatedStore,
      stack: "bench",
      catchUpDays: 1,
      maxDatesPerRun: 1,
      now: () => NOW,
      backfillMaxWeightPerDay: 1e9,
      // See http.timeoutMs above: one attempt may take minutes here.
      retryTuning: { budgetMs: 600_000 },
    });
    let plan: BackfillRunPlan | undefined;
    const planner = functions.backfillPlan!;
    const machine = new LocalStateMachine({
      stack: "bench",
      definition: "backfill",
      functions: {
        ...functions,
        backfillPlan: async (event) => (plan = (await planner(event)) as BackfillRunPlan),
      },
    });
    log(`  backfill ${FROM} to ${TO}: 100 locations x 12 hourly variables, ${LATENCY_MS} ms per request …`);
    const started = performance.now();
    const outcome = await machine.run({ from: FROM, to: TO });
    const wallMs = performance.now() - started;
    if (outcome.status !== "SUCCEEDED") throw new Error(`the backfill ${outcome.status}: ${outcome.cause ?? ""}`);
    const usage = fake.usage();
    const minimum = plan?.minimumWeight ?? NaN;
    const dates = daysBetween(FROM, TO) + 1;
    log(`  backfill: ${usage.requests} requests, weight ${usage.weight.toFixed(2)}, ${seconds(wallMs)}`);

    // The naive way: one request per date (the daily run's ingest and transform), on a sample year.
    const naiveRaw = new DirectoryObjectStore(path.join(work, "naive-raw"));
    const naiveCurated = new DirectoryObjectStore(path.join(work, "naive-curated"));
    const before = fake.usage();
    const naiveStarted = performance.now();
    for (let date = NAIVE_SAMPLE.from; date <= NAIVE_SAMPLE.to; date = addDays(date, 1)) {
      const ingest: IngestResult = await ingestDate(
        { date },
        { settings, rawStore: naiveRaw, now: () => NOW, log: () => undefined },
      );
      await transformRawObjects(ingest, { settings, rawStore: naiveRaw, curatedStore: naiveCurated });
    }
    const naiveMs = performance.now() - naiveStarted;
    const sampleDates = daysBetween(NAIVE_SAMPLE.from, NAIVE_SAMPLE.to) + 1;
    const naiveSample = {
      requests: fake.usage().requests - before.requests,
      weight: fake.usage().weight - before.weight,
    };
    const naive = planOneDatePerRequest(base, { from: FROM, to: TO }, "2026-01-10");
    log(`  naive: ${naiveSample.requests} requests for ${sampleDates} dates, ${seconds(naiveMs)}`);

    addRow({
      metric: `backfill 10 y x 100 loc x 12 var (${dates} dates): requests`,
      ours: `${usage.requests}`,
      reference: `1/date: ${naive.requests}`,
      ratio: (usage.requests / naive.requests).toFixed(3),
      target: "fewest maxWeightPerRequest allows",
      met: usage.requests === Math.ceil(minimum / settings.http.maxWeightPerRequest - 1e-9) ? "yes" : "no",
    });
    addRow({
      metric: "same: weight counted by the fake vs the formula's minimum",
      ours: `${usage.weight.toFixed(2)} (minimum ${minimum.toFixed(2)})`,
      reference: `1/date: ${naive.weight.toFixed(0)}`,
      ratio: (usage.weight / minimum).toFixed(2),
      target: "ratio 1.00",
      met: Math.abs(usage.weight / minimum - 1) < 0.005 ? "yes" : "no",
    });
    addRow({
      metric: `same: wall (${LATENCY_MS} ms per request)`,
      ours: seconds(wallMs),
      reference: `1/date: ${seconds((naiveMs * dates) / sampleDates)} (${seconds(naiveMs)} for ${sampleDates} dates, x ${(dates / sampleDates).toFixed(2)})`,
      ratio: (wallMs / ((naiveMs * dates) / sampleDates)).toFixed(3),
    });

    // Peak RSS of one window's transform, by the length of the backfill.
    const rss: string[] = [];
    const peaks: number[] = [];
    for (const years of [1, 5, 10]) {
      const from = `${2025 - years}-01-01`;
      const windows = planWindows(base, { from, to: TO }, "2026-01-10").windows;
      // The longest window of that plan, fetched into a store of its own and transformed in a fresh process.
      const window = [...windows].sort((a, b) => b.dates - a.dates)[0]!;
      const raw = new DirectoryObjectStore(path.join(work, `rss-${years}y-raw`));
      const ingest = (await functions.ingest({ from: window.from, to: window.to })) as { keys: string[] };
      // The window's bodies are in the backfill's raw store already: copy them over.
      for (const key of ingest.keys) {
        for (const k of [key, key.replace(/\.json$/, ".request.json")]) {
          const object = await rawStore.getObject(k);
          await raw.putObject(k, object.body, { contentType: "application/json" });
        }
      }
      const line = await runChild(
        [
          options.childScript,
          raw.root,
          path.join(work, `rss-${years}y-curated`),
          window.from,
          window.to,
          JSON.stringify(settings),
          ...ingest.keys,
        ],
        options.projectDir,
      );
      const result = JSON.parse(line) as { peakRssBytes: number; rows: number; wallMs: number };
      peaks.push(result.peakRssBytes);
      rss.push(
        `${years} y: ${megabytes(result.peakRssBytes)} (${window.dates} dates, ${result.rows.toLocaleString("en-US")} rows)`,
      );
      log(`  window transform of a ${years}-year backfill: ${megabytes(result.peakRssBytes)}`);
    }
    addRow({
      metric: "same: peak RSS of one window's transform, by backfill length",
      ours: rss.join("; "),
      ratio: ((peaks[2] as number) / (peaks[0] as number)).toFixed(2),
      target: "flat in years",
      met: (peaks[2] as number) / (peaks[0] as number) < 1.2 ? "yes" : "no",
    });
  } finally {
    await fake.close();
  }
}
