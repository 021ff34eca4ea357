/**
 * The report page: one self-contained HTML file (styles inline, charts as inline SVG, no
 * script, no request) from ReportData.
 */
import {
  completenessSpec,
  precipitationSpec,
  renderSvg,
  sourceRowsSpec,
  STATUS_COLOURS,
  temperatureSpec,
} from "./charts";
import type { CompletenessCell, DayValues, ReportData, SourceReport } from "./report-data";
import type { RunRecord } from "./runs";

/** What the page says beside the data. */
export interface PageContext {
  /** e.g. "local runs (.local-data)" or "stack prod". */
  readonly title: string;
  /** What to do when there is no data yet: one or more commands, shown as code. */
  readonly howToGetData: readonly string[];
  /** What "latest run" means here, in one sentence. */
  readonly latestRunMeaning: string;
  readonly generatedAt: Date;
}

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );
}

/** One decimal, or an en dash for no value: a missing value never shows as 0. */
export function formatValue(value: number | null | undefined): string {
  return value === null || value === undefined ? "–" : value.toFixed(1);
}

const STYLE = `
:root { color-scheme: light; --ink: #1d1d1f; --muted: #5f6368; --line: #e3e3e3; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #f6f7f9; }
main { max-width: 1180px; margin: 0 auto; padding: 16px; }
h1 { font-size: 1.45rem; margin: 0 0 4px; }
h2 { font-size: 1.1rem; margin: 28px 0 10px; }
h3 { font-size: 1rem; margin: 0 0 6px; }
.card > h2:first-child { margin-top: 0; }
p, li { overflow-wrap: anywhere; }
.muted { color: var(--muted); }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px; }
.banner { background: #fff4d6; border: 1px solid #f2a900; border-radius: 8px; padding: 10px 12px; margin: 12px 0; }
.grid { display: grid; gap: 12px; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); }
.chart svg { display: block; max-width: 100%; height: auto; }
.scroll-none { max-width: 100%; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.status { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-weight: 600; font-size: 0.85rem; }
.status-SUCCEEDED { background: ${STATUS_COLOURS.complete}; }
.status-RUNNING, .status-PENDING_REDRIVE { background: #2f6db3; }
.status-FAILED, .status-TIMED_OUT, .status-ABORTED { background: ${STATUS_COLOURS.missing}; }
.missing-note { color: ${STATUS_COLOURS.missing}; font-weight: 600; }
code { font-size: 0.88em; background: #eef0f3; padding: 1px 4px; border-radius: 4px; overflow-wrap: anywhere; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 8px 0 0; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
footer { margin: 32px 0 8px; font-size: 0.85rem; color: var(--muted); }
@media (max-width: 480px) { main { padding: 10px; } table { font-size: 0.8rem; } th, td { padding: 3px 3px; } }
`;

function runBlock(run: RunRecord | undefined, meaning: string): string {
  if (!run) {
    return `<section id="latest-run" class="card"><h2>Latest run</h2><p>No run recorded yet. ${escapeHtml(meaning)}</p></section>`;
  }
  const seconds =
    run.stoppedAt !== undefined ? (Date.parse(run.stoppedAt) - Date.parse(run.startedAt)) / 1000 : undefined;
  const rows: [string, string][] = [
    ["run", escapeHtml(run.id)],
    ["started", escapeHtml(run.startedAt)],
    ["stopped", run.stoppedAt ? escapeHtml(run.stoppedAt) : "still running"],
  ];
  if (seconds !== undefined) rows.push(["took", `${seconds.toFixed(1)} s`]);
  if (run.dates && run.dates.length > 0) rows.push(["dates", escapeHtml(run.dates.join(", "))]);
  if (run.api) rows.push(["Open-Meteo", escapeHtml(apiDescription(run.api))]);
  if (run.error) rows.push(["error", escapeHtml(run.error)]);
  return `<section id="latest-run" class="card">
<h2>Latest run <span class="status status-${escapeHtml(run.status)}" data-field="latest-run-status">${escapeHtml(run.status)}</span></h2>
<p class="muted">${escapeHtml(meaning)}</p>
<dl>${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("")}</dl>
</section>`;
}

function apiDescription(api: string): string {
  if (api === "fake") return "the embedded fake (SYNTHETIC values, not real weather)";
  if (api === "live") return "the live API";
  return api;
}

interface LocationSummary {
  readonly min: number | null;
  readonly mean: number | null;
  readonly max: number | null;
  readonly precipitation: number | null;
  readonly complete: number;
}

function summarize(location: string, days: readonly DayValues[], cells: readonly CompletenessCell[]): LocationSummary {
  const own = days.filter((d) => d.location === location);
  const pick = (values: (number | null)[]) => values.filter((v): v is number => v !== null);
  const mins = pick(own.map((d) => d.temperatureMin));
  const means = pick(own.map((d) => d.temperatureMean));
  const maxes = pick(own.map((d) => d.temperatureMax));
  const rain = pick(own.map((d) => d.precipitation));
  return {
    min: mins.length > 0 ? Math.min(...mins) : null,
    mean: means.length > 0 ? means.reduce((a, b) => a + b, 0) / means.length : null,
    max: maxes.length > 0 ? Math.max(...maxes) : null,
    precipitation: rain.length > 0 ? rain.reduce((a, b) => a + b, 0) : null,
    complete: cells.filter((c) => c.location === location && c.status === "complete").length,
  };
}

function summaryTable(data: ReportData): string {
  const t = escapeHtml(data.units.temperature ?? "°C");
  const p = escapeHtml(data.units.precipitation ?? "mm");
  const rows = data.locations.map((location) => {
    const s = summarize(location, data.days, data.cells);
    const cell = (field: string, value: number | null) =>
      `<td class="num" data-location="${escapeHtml(location)}" data-field="${field}">${formatValue(value)}</td>`;
    return `<tr><th scope="row">${escapeHtml(location)}</th>${cell("temperature-min", s.min)}${cell("temperature-mean", s.mean)}${cell("temperature-max", s.max)}${cell("precipitation-total", s.precipitation)}<td class="num" data-location="${escapeHtml(location)}" data-field="complete-days">${s.complete}/${data.dates.length}</td></tr>`;
  });
  return `<section id="summary"><h2>Summary, ${escapeHtml(data.start)} to ${escapeHtml(data.end)}</h2>
<div class="card"><table>
<thead><tr><th>location</th><th class="num">min ${t}</th><th class="num">mean ${t}</th><th class="num">max ${t}</th><th class="num">precip. ${p}</th><th class="num">complete days</th></tr></thead>
<tbody>${rows.join("\n")}</tbody></table>
<p class="muted">From the hourly data: min and max of the hours, mean of the daily means, precipitation summed. A dash is no data, never zero.</p></div></section>`;
}

async function locationCards(data: ReportData): Promise<string> {
  const cards: string[] = [];
  const missingVariables =
    data.missingVariables.length > 0
      ? `<p class="banner">The hourly data has no ${data.missingVariables.map((v) => `<code>${escapeHtml(v)}</code>`).join(" or ")} column: add it to the stack's <code>hourlyVariables</code> to chart it.</p>`
      : "";
  for (const location of data.locations) {
    const days = data.days.filter((d) => d.location === location);
    const name = escapeHtml(location);
    const hasTemperature = days.some((d) => d.temperatureMean !== null);
    const hasPrecipitation = days.some((d) => d.precipitation !== null);
    const parts = [`<h3>${name}</h3>`];
    if (!hasTemperature && !hasPrecipitation) {
      parts.push(
        `<p class="missing-note" data-location="${name}" data-field="no-data">No values for ${name} in this period: missing, not zero (see the completeness grid).</p>`,
      );
    } else {
      const temperature = hasTemperature
        ? await renderSvg(temperatureSpec(days, data.dates, data.units.temperature))
        : `<p class="missing-note">No temperature values: missing, not zero.</p>`;
      const precipitation = hasPrecipitation
        ? await renderSvg(precipitationSpec(days, data.dates, data.units.precipitation))
        : `<p class="missing-note">No precipitation values: missing, not zero.</p>`;
      parts.push(
        `<figure class="chart" data-chart="temperature" data-location="${name}" style="margin:0"><figcaption class="muted">Temperature: min–max band, daily mean</figcaption>${temperature}</figure>`,
        `<figure class="chart" data-chart="precipitation" data-location="${name}" style="margin:8px 0 0"><figcaption class="muted">Precipitation per day</figcaption>${precipitation}</figure>`,
      );
    }
    cards.push(`<article class="card" data-location-card="${name}">${parts.join("\n")}</article>`);
  }
  return `<section id="locations"><h2>Per location</h2>${missingVariables}<div class="grid">${cards.join("\n")}</div></section>`;
}

async function completenessSection(data: ReportData): Promise<string> {
  const svg = await renderSvg(completenessSpec(data.cells, data.locations, data.dates));
  const byDate = data.dates.map((date) => {
    const cells = data.cells.filter((c) => c.date === date);
    const first = cells[0];
    const counts = (["complete", "partial", "missing"] as const)
      .map((s) => [s, cells.filter((c) => c.status === s).length] as const)
      .filter(([, n]) => n > 0)
      .map(([s, n]) => `${n} ${s}`)
      .join(", ");
    const issues = cells
      .filter((c) => c.status !== "complete")
      .map((c) => `${escapeHtml(c.location)}: ${escapeHtml(c.detail)}`)
      .join("; ");
    const run = first?.run ? `${escapeHtml(first.run.id)} (${escapeHtml(first.run.status.toLowerCase())})` : "–";
    return `<tr><td>${escapeHtml(date)}</td><td>${counts}</td><td>${escapeHtml(first?.writtenBy ?? "–")}</td><td>${escapeHtml(first?.writtenAt ?? "–")}</td><td>${run}</td><td>${issues}</td></tr>`;
  });
  return `<section id="completeness"><h2>Completeness</h2>
<div class="card"><figure class="chart" data-chart="completeness" style="margin:0">${svg}</figure>
<p class="muted">A cell is complete when the location has every value of every dataset that date, partial when some are null or a dataset is missing, missing when it has no file, no rows or only nulls.</p>
<details><summary>Per date: what wrote the files, and in which run</summary>
<div style="overflow-x:auto"><table><thead><tr><th>date</th><th>locations</th><th>written by</th><th>written at</th><th>run</th><th>not complete</th></tr></thead>
<tbody>${byDate.join("\n")}</tbody></table></div></details></div></section>`;
}

/** A number for a table: up to two decimals, or an en dash for no value. */
function formatStat(value: number | null): string {
  return value === null ? "–" : String(Math.round(value * 100) / 100);
}

async function sourceCard(source: SourceReport): Promise<string> {
  const name = escapeHtml(source.name);
  const parts = [`<h3>${escapeHtml(source.table)}</h3>`];
  if (source.url) parts.push(`<p class="muted">From <code>${escapeHtml(source.url)}</code></p>`);
  if (!source.declared) {
    parts.push(`<p class="muted">Not in this stack's sources: its files are still in the bucket.</p>`);
  }
  const withFiles = source.days.filter((d) => d.hasFile);
  if (withFiles.length === 0) {
    parts.push(
      `<p class="missing-note" data-source="${name}" data-field="no-data">No data for ${name} yet: its first run that finds the file writes it.</p>`,
    );
  } else {
    const dates = source.days.map((d) => d.date);
    parts.push(
      `<figure class="chart" data-chart="source-rows" data-source="${name}" style="margin:0"><figcaption class="muted">Rows per date, ${escapeHtml(source.start)} to ${escapeHtml(source.end)}</figcaption>${await renderSvg(sourceRowsSpec(source.days, dates))}</figure>`,
    );
    if (source.columns.length > 0) {
      const rows = source.columns.map((c) => {
        const cell = (field: string, value: number | null) =>
          `<td class="num" data-source="${name}" data-column="${escapeHtml(c.column)}" data-field="${field}">${formatStat(value)}</td>`;
        return `<tr><th scope="row">${escapeHtml(c.column)}${c.unit ? ` <span class="muted">${escapeHtml(c.unit)}</span>` : ""}</th>${cell("min", c.min)}${cell("mean", c.mean)}${cell("max", c.max)}<td class="num" data-source="${name}" data-column="${escapeHtml(c.column)}" data-field="values">${c.values}</td></tr>`;
      });
      parts.push(
        `<div style="overflow-x:auto"><table><thead><tr><th>column</th><th class="num">min</th><th class="num">mean</th><th class="num">max</th><th class="num">values</th></tr></thead><tbody>${rows.join("")}</tbody></table></div>`,
      );
    }
    const perDate = source.days.map(
      (d) =>
        `<tr><td>${escapeHtml(d.date)}</td><td class="num" data-source="${name}" data-date="${escapeHtml(d.date)}" data-field="rows">${d.hasFile ? d.rows : "–"}</td><td>${escapeHtml(d.writtenBy ?? "–")}</td><td>${escapeHtml(d.writtenAt ?? "–")}</td></tr>`,
    );
    parts.push(
      `<details><summary>Per date</summary><div style="overflow-x:auto"><table><thead><tr><th>date</th><th class="num">rows</th><th>written by</th><th>written at</th></tr></thead><tbody>${perDate.join("")}</tbody></table></div></details>`,
    );
  }
  if (source.attribution) parts.push(`<p class="muted" data-field="attribution">${escapeHtml(source.attribution)}</p>`);
  return `<article class="card" data-source-card="${name}">${parts.join("\n")}</article>`;
}

async function sourcesSection(data: ReportData): Promise<string> {
  if (data.sources.length === 0) return "";
  const cards = await Promise.all(data.sources.map(sourceCard));
  return `<section id="sources"><h2>Sources</h2><p class="muted">Published files the pipeline fetches beside Open-Meteo, one table each (dates in each source's time zone).</p><div class="grid">${cards.join("\n")}</div></section>`;
}

function attribution(): string {
  return `<footer id="attribution">Weather data by <a href="https://open-meteo.com/">Open-Meteo.com</a>, licensed under <a href="https://creativecommons.org/licenses/by/4.0/">CC BY 4.0</a>. Charts made with Vega-Lite.</footer>`;
}

function page(title: string, body: string, context: PageContext): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body><main>
<header><h1>${escapeHtml(title)}</h1><p class="muted">Generated ${escapeHtml(context.generatedAt.toISOString())}.</p></header>
${body}
${attribution()}
</main></body>
</html>
`;
}

/** Renders the whole page. */
export async function renderReportHtml(data: ReportData, context: PageContext): Promise<string> {
  const title = `Weather report: ${context.title}`;
  const latest = runBlock(data.latestRun, context.latestRunMeaning);
  if (data.dates.length === 0 || data.locations.length === 0) {
    const how = context.howToGetData.map((c) => `<li><code>${escapeHtml(c)}</code></li>`).join("");
    const body = `<section id="no-data" class="card"><h2>No data yet</h2>
<p>There is no curated data in <code>${escapeHtml(data.source)}</code>${data.dates.length > 0 ? ` between ${escapeHtml(data.start)} and ${escapeHtml(data.end)}` : ""}${data.newestDate ? ` (the newest date with data is ${escapeHtml(data.newestDate)})` : ""}. To get some:</p>
<ul>${how}</ul></section>
${latest}
${await sourcesSection(data)}`;
    return page(title, body, context);
  }
  const synthetic = data.runs.some(
    (r) => r.api === "fake" && data.cells.some((c) => c.run?.id === r.id && c.status !== "missing"),
  );
  const banner = synthetic
    ? `<p class="banner" id="synthetic"><strong>Synthetic values.</strong> Some of this data was fetched from the embedded fake Open-Meteo that <code>npm start</code> uses by default: it is made up, not real weather. <code>npm start -- --live</code> fetches the real API.</p>`
    : "";
  const body = [
    `<p>Curated data of <code>${escapeHtml(data.source)}</code>, ${data.dates.length} day(s) from ${escapeHtml(data.start)} to ${escapeHtml(data.end)}, ${data.locations.length} location(s).</p>`,
    banner,
    latest,
    summaryTable(data),
    await locationCards(data),
    await completenessSection(data),
    await sourcesSection(data),
  ].join("\n");
  return page(title, body, context);
}
