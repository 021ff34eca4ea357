/**
 * The report's charts as Vega-Lite specifications, rendered to SVG in Node by Vega (no canvas,
 * no browser, no script in the page): the page opens anywhere, offline.
 */
import type { TopLevelSpec } from "vega-lite";
import type { CompletenessCell, DayValues, SourceDay } from "./report-data";

/** Colours of the completeness grid, by status. */
export const STATUS_COLOURS = { complete: "#2e7d32", partial: "#f2a900", missing: "#c62828" } as const;

const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

const CONFIG = {
  font: FONT,
  background: "#ffffff",
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 11, labelColor: "#444", titleColor: "#444", gridColor: "#e6e6e6" },
  legend: { labelFontSize: 11, titleFontSize: 11 },
} as const;

/** Width of the per-location charts, in CSS pixels at 100 %: one column on a phone, three on a laptop. */
export const LOCATION_CHART_WIDTH = 340;

/** The day after an ISO date. */
function nextDay(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/**
 * x as the day, in UTC (the date strings are calendar days, not instants of this machine's
 * zone), over the whole period: each day is a band from its midnight to the next, points at
 * its middle, also where the first or last days have no data.
 */
function dayEncoding(dates: readonly string[]) {
  return {
    field: "date",
    type: "temporal" as const,
    timeUnit: "utcyearmonthdate" as const,
    axis: { title: null, format: "%b %d", labelAngle: 0, labelOverlap: "greedy" as const },
    scale: { domain: [`${dates[0]}T00:00:00Z`, `${nextDay(dates[dates.length - 1] as string)}T00:00:00Z`] },
  };
}

/** The temperature of one location: the min..max band, the mean as a line, and a point per day with data. */
export function temperatureSpec(days: readonly DayValues[], dates: readonly string[], unit = "°C"): TopLevelSpec {
  const x = dayEncoding(dates);
  const y = { type: "quantitative", title: unit, scale: { zero: false } } as const;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    width: LOCATION_CHART_WIDTH,
    height: 120,
    autosize: { type: "fit", contains: "padding" },
    config: CONFIG,
    data: { values: days.map((d) => ({ ...d })) },
    layer: [
      {
        // A day without data breaks the band and the line instead of being drawn across.
        mark: { type: "area", color: "#e8833a", opacity: 0.25, invalid: "break-paths-show-domains" },
        encoding: { x, y: { ...y, field: "temperatureMin" }, y2: { field: "temperatureMax" } },
      },
      {
        mark: { type: "line", color: "#c4511b", strokeWidth: 1.5, invalid: "break-paths-show-domains" },
        encoding: { x, y: { ...y, field: "temperatureMean" } },
      },
      {
        mark: { type: "point", filled: true, size: 18, color: "#c4511b" },
        encoding: {
          x,
          y: { ...y, field: "temperatureMean" },
          tooltip: [
            { field: "date", type: "nominal", title: "date" },
            { field: "temperatureMin", type: "quantitative", title: "min", format: ".1f" },
            { field: "temperatureMean", type: "quantitative", title: "mean", format: ".1f" },
            { field: "temperatureMax", type: "quantitative", title: "max", format: ".1f" },
          ],
        },
      },
    ],
  };
}

/** The precipitation of one location: a bar per day with data (a dry day is a bar of height 0). */
export function precipitationSpec(days: readonly DayValues[], dates: readonly string[], unit = "mm"): TopLevelSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    width: LOCATION_CHART_WIDTH,
    height: 70,
    autosize: { type: "fit", contains: "padding" },
    config: CONFIG,
    data: { values: days.filter((d) => d.precipitation !== null).map((d) => ({ ...d })) },
    mark: { type: "bar", color: "#2f6db3", width: { band: 0.8 } },
    encoding: {
      x: dayEncoding(dates),
      y: {
        field: "precipitation",
        type: "quantitative",
        title: unit,
        // At least 1 mm tall, so a dry period shows as dry (flat bars), not as an axis of zeros.
        scale: { domain: [0, Math.max(1, ...days.map((d) => d.precipitation ?? 0))] },
        axis: { format: ".1f", tickCount: 3 },
      },
      tooltip: [
        { field: "date", type: "nominal", title: "date" },
        { field: "precipitation", type: "quantitative", title: `precipitation (${unit})`, format: ".1f" },
      ],
    },
  };
}

/** A source's rows per date: a bar per date with a file (a date without one has no bar). */
export function sourceRowsSpec(days: readonly SourceDay[], dates: readonly string[]): TopLevelSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    width: LOCATION_CHART_WIDTH,
    height: 70,
    autosize: { type: "fit", contains: "padding" },
    config: CONFIG,
    data: { values: days.filter((d) => d.hasFile).map((d) => ({ date: d.date, rows: d.rows })) },
    mark: { type: "bar", color: "#6a4c93", width: { band: 0.8 } },
    encoding: {
      x: dayEncoding(dates),
      y: { field: "rows", type: "quantitative", title: "rows", axis: { tickCount: 3 } },
      tooltip: [
        { field: "date", type: "nominal", title: "date" },
        { field: "rows", type: "quantitative", title: "rows" },
      ],
    },
  };
}

/** The completeness grid: a cell per location and date, coloured complete, partial or missing. */
export function completenessSpec(
  cells: readonly CompletenessCell[],
  locations: readonly string[],
  dates: readonly string[],
): TopLevelSpec {
  const values = cells.map((c) => ({
    location: c.location,
    date: c.date,
    status: c.status,
    detail: c.detail,
    run: c.run ? `${c.run.id} (${c.run.status.toLowerCase()})` : "no run found",
  }));
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    width: { step: 16 },
    height: { step: 18 },
    config: CONFIG,
    data: { values },
    mark: { type: "rect", stroke: "#ffffff", strokeWidth: 1 },
    encoding: {
      x: {
        field: "date",
        type: "ordinal",
        sort: [...dates],
        scale: { domain: [...dates] },
        axis: { title: null, labelAngle: -90, labelExpr: "slice(datum.value, 5)", labelOverlap: "greedy" },
      },
      y: { field: "location", type: "nominal", sort: [...locations], axis: { title: null } },
      color: {
        field: "status",
        type: "nominal",
        scale: { domain: Object.keys(STATUS_COLOURS), range: Object.values(STATUS_COLOURS) },
        legend: { orient: "bottom", title: null, direction: "horizontal" },
      },
      tooltip: [
        { field: "location", type: "nominal" },
        { field: "date", type: "nominal" },
        { field: "status", type: "nominal" },
        { field: "detail", type: "nominal" },
        { field: "run", type: "nominal" },
      ],
    },
  };
}

/** Compiles a Vega-Lite spec and renders it to an SVG string, offline. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  // Both are ES modules (vega-lite with top-level await), so they are imported, not required.
  const [vl, vega] = await Promise.all([import("vega-lite"), import("vega")]);
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
