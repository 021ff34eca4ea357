import { expect } from "chai";
import { FREE_TIER_WEIGHT, apiQuotaProblems, apiWeightUse, cronRunsPerDay } from "../../pipeline/config/api-quota";
import { DEFAULT_PIPELINE_SETTINGS, type PipelineSettings } from "../../pipeline/core/settings";
import { planRequests } from "../../pipeline/ingest/openmeteo-request";

const DAILY = "0 6 * * ? *";

describe("Open-Meteo API quota of a stack", () => {
  it("weighs one date as the sum of the weights of the requests ingest plans for it", () => {
    for (const [count, hourly] of [
      [2, 4],
      [350, 4],
      [1_000, 15],
    ] as const) {
      const settings: PipelineSettings = {
        ...DEFAULT_PIPELINE_SETTINGS,
        locations: Array.from({ length: count }, (_, i) => ({ name: `l${i}`, latitude: i / 100, longitude: i / 50 })),
        hourlyVariables: DEFAULT_PIPELINE_SETTINGS.hourlyVariables.concat(
          Array.from({ length: hourly - 4 }, (_, i) => `v${i}`),
        ),
      };
      const planned = planRequests(settings, "2026-11-01", "forecast").reduce((sum, r) => sum + r.weight, 0);
      const use = apiWeightUse({
        locationCount: count,
        variableCount: settings.hourlyVariables.length + settings.dailyVariables.length,
        scheduleCron: DAILY,
        catchUpDays: 7,
        maxDatesPerRun: 7,
      });
      expect(use.perDate).to.be.closeTo(planned, 1e-9);
    }
  });

  it("counts the runs of a cron per day and in its busiest hour", () => {
    expect(cronRunsPerDay("0 6 * * ? *")).to.deep.equal({ perDay: 1, perHour: 1 });
    expect(cronRunsPerDay("0/15 * * * ? *")).to.deep.equal({ perDay: 96, perHour: 4 });
    expect(cronRunsPerDay("5/20 8-10 ? * MON-FRI *")).to.deep.equal({ perDay: 9, perHour: 3 });
    // AWS's own example: every 30 minutes from 20:00 to 02:59, a range that wraps.
    expect(cronRunsPerDay("0/30 20-2 ? * MON-FRI *")).to.deep.equal({ perDay: 14, perHour: 2 });
    expect(cronRunsPerDay("0,30 6,18 * * ? *")).to.deep.equal({ perDay: 4, perHour: 2 });
  });

  it("counts the worst day: every run's yesterday plus the catch-up dates, at most catchUpDays - 1", () => {
    const base = { locationCount: 100, variableCount: 7, catchUpDays: 7, maxDatesPerRun: 3 };
    const daily = apiWeightUse({ ...base, scheduleCron: DAILY });
    expect(daily).to.include({ perDate: 100, runsPerDay: 1, catchUpDatesPerDay: 2, perDay: 300, perHour: 300 });
    const hourly = apiWeightUse({ ...base, scheduleCron: "0 * * * ? *" });
    // 24 runs, each with yesterday; only 6 older dates exist to catch up.
    expect(hourly).to.include({ runsPerDay: 24, catchUpDatesPerDay: 6, perDay: 3_000, perHour: 300 });
  });

  it("passes the shipped stacks' sizes on the free tier, and refuses a thousand locations with many variables", () => {
    const limits = { maxDailyWeight: FREE_TIER_WEIGHT.perDay, maxHourlyWeight: FREE_TIER_WEIGHT.perHour };
    const prodLike = { locationCount: 12, variableCount: 18, scheduleCron: DAILY, catchUpDays: 7, maxDatesPerRun: 7 };
    expect(apiQuotaProblems(prodLike, limits)).to.deep.equal([]);

    const problems = apiQuotaProblems({ ...prodLike, locationCount: 1_000 }, limits);
    expect(problems.map((p) => [p.key, p.use, p.limit])).to.deep.equal([
      ["maxDailyWeight", 12_600, 10_000],
      ["maxHourlyWeight", 12_600, 5_000],
    ]);
    expect(problems[0]!.message).to.equal(
      "a day of this stack can use 12,600 API weight, more than maxDailyWeight 10,000: 1 scheduled run(s) fetching yesterday plus 6 catch-up date(s), " +
        "and one date weighs 1,800: 1,000 location(s) × 1.8 for 18 variable(s); list fewer locations or variables, lower maxDatesPerRun or catchUpDays, " +
        "or raise maxDailyWeight if your Open-Meteo plan allows more (the free API allows 10,000)",
    );
  });

  it("fits the hourly quota again when maxDatesPerRun is lowered, as the message suggests", () => {
    const limits = { maxDailyWeight: FREE_TIER_WEIGHT.perDay, maxHourlyWeight: FREE_TIER_WEIGHT.perHour };
    const big = { locationCount: 1_000, variableCount: 7, scheduleCron: DAILY, catchUpDays: 7 };
    expect(apiQuotaProblems({ ...big, maxDatesPerRun: 7 }, limits).map((p) => p.key)).to.deep.equal([
      "maxHourlyWeight",
    ]);
    expect(apiQuotaProblems({ ...big, maxDatesPerRun: 5 }, limits)).to.deep.equal([]);
  });
});
