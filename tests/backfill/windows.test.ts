import { expect } from "chai";
import {
  checkBackfillRange,
  planOneDatePerRequest,
  planWindows,
  MAX_WINDOW_ROWS,
} from "../../pipeline/backfill/windows";
import { checkBudget, estimateQuota, simulateFreeTier, spreadOverDays } from "../../pipeline/backfill/quota";
import { requestWeight } from "../../pipeline/ingest/openmeteo-request";
import { DEFAULT_PIPELINE_SETTINGS, type PipelineSettings } from "../../pipeline/core/settings";

const HOURLY_12 = [
  "temperature_2m",
  "relative_humidity_2m",
  "dew_point_2m",
  "apparent_temperature",
  "precipitation",
  "rain",
  "snowfall",
  "weather_code",
  "pressure_msl",
  "cloud_cover",
  "wind_speed_10m",
  "wind_direction_10m",
];

function settings(locations: number, overrides: Partial<PipelineSettings> = {}): PipelineSettings {
  return {
    ...DEFAULT_PIPELINE_SETTINGS,
    locations: Array.from({ length: locations }, (_, i) => ({
      name: `loc-${String(i).padStart(4, "0")}`,
      latitude: 40 + (i % 50) * 0.2,
      longitude: -5 + Math.floor(i / 50) * 0.3,
    })),
    hourlyVariables: HOURLY_12,
    dailyVariables: [],
    ...overrides,
  };
}

const TODAY = "2026-01-10";

describe("backfill windows", () => {
  it("costs exactly the formula's minimum for 10 years x 100 locations x 12 variables, in the fewest requests", function () {
    // The naive plan frames 3,653 dates one by one: about 2 s alone, far more on a busy machine.
    this.timeout(180_000);
    const s = settings(100);
    const plan = planWindows(s, { from: "2015-01-01", to: "2024-12-31" }, TODAY);
    console.log(
      `      weight ${plan.weight.toFixed(2)}, minimum ${plan.minimumWeight.toFixed(2)}, ratio ${(plan.weight / plan.minimumWeight).toFixed(4)}, ${plan.requests} requests`,
    );
    expect(plan.dates).to.equal(3653);
    expect(plan.minimumWeight).to.be.closeTo(100 * 1.2 * (3653 / 14), 1e-6);
    expect(plan.weight).to.be.closeTo(plan.minimumWeight, 1e-6);
    expect(plan.requests).to.equal(Math.ceil(plan.minimumWeight / s.http.maxWeightPerRequest - 1e-9));
    for (const w of plan.windows) {
      expect(w.weight / w.requests).to.be.at.most(s.http.maxWeightPerRequest + 1e-9);
      expect(w.dates * w.locations * 24).to.be.at.most(MAX_WINDOW_ROWS);
    }
    // The windows tile the range.
    expect(plan.windows[0]!.from).to.equal("2015-01-01");
    expect(plan.windows.at(-1)!.to).to.equal("2024-12-31");
    // The naive way: a request (and the floor of V/10 per location) every date.
    const naive = planOneDatePerRequest(s, { from: "2015-01-01", to: "2024-12-31" }, TODAY);
    expect(naive.requests).to.equal(3653);
    expect(naive.weight).to.be.closeTo(3653 * 100 * 1.2, 1e-6);
  });

  it("keeps every request under maxWeightPerRequest and reaches the minimum for other shapes too", () => {
    for (const [locations, variables, maxWeightPerRequest, days] of [
      [1, 1, 300, 400],
      [7, 4, 50, 100],
      [1000, 18, 600, 60],
      [3, 7, 4, 70],
    ] as const) {
      const s = settings(locations, {
        hourlyVariables: HOURLY_12.slice(0, Math.min(12, variables)),
        dailyVariables: [
          "temperature_2m_max",
          "temperature_2m_min",
          "precipitation_sum",
          "rain_sum",
          "snowfall_sum",
          "sunshine_duration",
        ].slice(0, Math.max(0, variables - 12)),
        http: { ...DEFAULT_PIPELINE_SETTINGS.http, maxWeightPerRequest },
      });
      const to = new Date(Date.parse("2020-01-01") + (days - 1) * 86_400_000).toISOString().slice(0, 10);
      const plan = planWindows(s, { from: "2020-01-01", to }, TODAY);
      const label = `${locations} locations, ${variables} variables, ${days} days, max ${maxWeightPerRequest}`;
      expect(plan.weight, label).to.be.closeTo(plan.minimumWeight, 1e-6);
      for (const w of plan.windows) expect(w.weight / w.requests, label).to.be.at.most(maxWeightPerRequest + 1e-9);
    }
  });

  it("never spans a DST change in Europe/Berlin; each fall-back day costs one day more than the formula", () => {
    const s = settings(100, { timezone: "Europe/Berlin" });
    const plan = planWindows(s, { from: "2015-01-01", to: "2024-12-31" }, TODAY);
    const fallBacks = plan.windows.filter((w) => w.days > w.dates);
    expect(fallBacks).to.have.length(10);
    expect(new Set(plan.windows.map((w) => w.timezone))).to.deep.equal(new Set(["Etc/GMT-1", "Etc/GMT-2"]));
    const extra = 10 * 100 * (requestWeight(12, 28) - requestWeight(12, 27));
    expect(plan.weight).to.be.closeTo(plan.minimumWeight + extra, 1e-6);
    console.log(
      `      Europe/Berlin: weight ${plan.weight.toFixed(2)}, minimum ${plan.minimumWeight.toFixed(2)}, ratio ${(plan.weight / plan.minimumWeight).toFixed(4)} (10 fall-back days)`,
    );
  });

  it("uses the forecast endpoint for the dates within forecastPastDays, as the daily run does", () => {
    const s = settings(2);
    const plan = planWindows(s, { from: "2025-09-01", to: "2026-01-09" }, TODAY);
    const endpoints = plan.windows.map((w) => [w.endpoint, w.from, w.to]);
    expect(endpoints.at(-1)).to.deep.equal(["forecast", "2025-10-12", "2026-01-09"]);
    expect(plan.windows.filter((w) => w.endpoint === "archive").at(-1)!.to).to.equal("2025-10-11");
  });

  it("refuses bad ranges with a message naming the value and the fix", () => {
    const now = new Date("2026-01-10T12:00:00Z");
    const check = (from: string, to: string) => () => checkBackfillRange({ from, to }, { timezone: "UTC" }, now);
    expect(check("2024-02-01", "2024-01-01")).to.throw("--from 2024-02-01 is after --to 2024-01-01; swap them");
    expect(check("1939-12-31", "1940-01-31")).to.throw(
      /--from is 1939-12-31; Open-Meteo's archive starts on 1940-01-01/,
    );
    expect(check("2024-1-01", "2024-02-01")).to.throw(
      /--from is "2024-1-01"; it must be a calendar date written YYYY-MM-DD/,
    );
    expect(check("2024-02-30", "2024-03-01")).to.throw(/--from is "2024-02-30"/);
    expect(check("2025-12-01", "2026-01-10")).to.throw(
      /--to is 2026-01-10, later than yesterday \(2026-01-09 in UTC\)/,
    );
    expect(check("2025-12-01", "2026-01-09")).to.not.throw();
  });

  it("spreads over days under the budget and refuses a heavier backfill unless spread", () => {
    expect(spreadOverDays([{ weight: 3000 }, { weight: 3000 }, { weight: 3000 }, { weight: 500 }], 8000)).to.deep.equal(
      [0, 0, 1, 1],
    );
    const plan = planWindows(settings(100), { from: "2015-01-01", to: "2024-12-31" }, TODAY);
    const estimate = estimateQuota(plan, 8000, new Date("2026-01-10T00:00:00Z"));
    expect(estimate.days).to.be.greaterThan(3);
    expect(() => checkBudget(plan.weight, estimate, false, "Pulumi.prod.yaml")).to.throw(
      /weighs 31,311.43, more than backfillMaxWeightPerDay 8,000 \(Pulumi.prod.yaml\); add --spread to run it over \d+ days/,
    );
    expect(() => checkBudget(plan.weight, estimate, true, "Pulumi.prod.yaml")).to.not.throw();
  });

  it("paces requests as the free tier counts: 600 a minute, 5,000 an hour, the budget a day", () => {
    const start = Date.parse("2026-01-10T00:00:00Z");
    // Two of 300 fill a minute: the third waits for the next minute.
    expect(simulateFreeTier([300, 300, 300], start, 8000) - start).to.equal(60_000);
    // 17 x 300 pass 5,000 only with the 17th (sent while usage is 4,800): the 18th waits for the hour.
    const hour = simulateFreeTier(
      Array.from({ length: 18 }, () => 300),
      start,
      8000,
    );
    expect(hour - start).to.equal(3_600_000);
    const day = simulateFreeTier(
      Array.from({ length: 28 }, () => 300),
      start,
      8000,
    );
    expect(day - start).to.equal(86_400_000);
  });
});
