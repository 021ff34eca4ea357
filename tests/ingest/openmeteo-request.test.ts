import { createHash } from "node:crypto";
import { expect } from "chai";
import {
  MAX_LOCATIONS_PER_REQUEST,
  MAX_URL_LENGTH,
  buildRequestUrl,
  formatCoordinate,
  planRequests,
  requestWeight,
} from "../../pipeline/ingest/openmeteo-request";
import { DEFAULT_PIPELINE_SETTINGS, type Location, type PipelineSettings } from "../../pipeline/core/settings";

const DATE = "2024-05-01";

function settingsWith(overrides: Partial<PipelineSettings> & { maxWeight?: number }): PipelineSettings {
  const { maxWeight, ...rest } = overrides;
  return {
    ...DEFAULT_PIPELINE_SETTINGS,
    ...rest,
    http: { ...DEFAULT_PIPELINE_SETTINGS.http, ...(maxWeight === undefined ? {} : { maxWeightPerRequest: maxWeight }) },
  };
}

/** `count` locations named loc-000.. with distinct coordinates, in scrambled order. */
function manyLocations(count: number): Location[] {
  const locations = Array.from({ length: count }, (_, i) => ({
    name: `loc-${String(i).padStart(3, "0")}`,
    latitude: -60 + ((i * 7.31) % 120),
    longitude: -170 + ((i * 13.77) % 340),
  }));
  // Reverse every other block so the input is not already sorted.
  return locations.map((_, i) => locations[(i * 37) % count] as Location);
}

function variables(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `var_${i}`);
}

describe("openmeteo-request", () => {
  describe("requestWeight", () => {
    it("follows max(1, V/10, V/10 * days/14) per location", () => {
      const cases: [number, number, number][] = [
        [0, 1, 1],
        [7, 1, 1],
        [10, 1, 1],
        [15, 1, 1.5],
        [25, 1, 2.5],
        [5, 28, 1],
        [20, 14, 2],
        [20, 28, 4],
        [10, 30, 30 / 14],
      ];
      for (const [v, days, weight] of cases) {
        expect(requestWeight(v, days), `V=${v} days=${days}`).to.be.closeTo(weight, 1e-12);
      }
    });

    it("rejects negative or fractional counts", () => {
      expect(() => requestWeight(-1, 1)).to.throw(/variableCount is -1/);
      expect(() => requestWeight(3, 0)).to.throw(/days is 0/);
      expect(() => requestWeight(2.5, 1)).to.throw(/variableCount is 2.5/);
    });
  });

  describe("formatCoordinate", () => {
    it("writes coordinates compactly: at most 6 decimals, no exponent, no -0", () => {
      expect(formatCoordinate(52.52)).to.equal("52.52");
      expect(formatCoordinate(52.520000001)).to.equal("52.52");
      expect(formatCoordinate(-33.8688)).to.equal("-33.8688");
      expect(formatCoordinate(13.4050001234)).to.equal("13.405");
      expect(formatCoordinate(1e-7)).to.equal("0");
      expect(formatCoordinate(-0)).to.equal("0");
      expect(formatCoordinate(-1e-7)).to.equal("0");
      expect(formatCoordinate(0.000001)).to.equal("0.000001");
      expect(formatCoordinate(180)).to.equal("180");
      expect(() => formatCoordinate(Number.NaN)).to.throw(/NaN/);
    });
  });

  describe("planRequests", () => {
    it("builds one GET URL with the coordinates in name order and every parameter", () => {
      const [request, ...rest] = planRequests(DEFAULT_PIPELINE_SETTINGS, DATE, "forecast");
      expect(rest).to.have.lengthOf(0);
      expect(request?.url).to.equal(
        "https://api.open-meteo.com/v1/forecast?latitude=52.37,52.52&longitude=4.89,13.41" +
          "&hourly=temperature_2m,relative_humidity_2m,precipitation,wind_speed_10m" +
          "&daily=temperature_2m_max,temperature_2m_min,precipitation_sum" +
          "&timezone=UTC&start_date=2024-05-01&end_date=2024-05-01",
      );
      expect(request?.locations.map((l) => l.name)).to.eql(["amsterdam", "berlin"]);
      expect(request?.weight).to.equal(2);
      expect(request?.endpoint).to.equal("forecast");
      expect(request?.date).to.equal(DATE);
    });

    it("names each request by batch index and the first 12 hex of the sha256 of its path and query", () => {
      const [request] = planRequests(DEFAULT_PIPELINE_SETTINGS, DATE, "forecast");
      const url = new URL(request?.url ?? "");
      const hash = createHash("sha256").update(`${url.pathname}${url.search}`).digest("hex").slice(0, 12);
      expect(request?.requestId).to.equal(`0000-${hash}`);
    });

    it("gives the same request id on any host: the fake's port, a self-hosted server or a customer host", () => {
      const ids = [
        "https://api.open-meteo.com/v1/forecast",
        "http://127.0.0.1:41234/v1/forecast",
        "http://127.0.0.1:50999/v1/forecast",
        "https://customer-api.open-meteo.com/v1/forecast",
      ].map((forecastApiUrl) => planRequests(settingsWith({ forecastApiUrl }), DATE, "forecast")[0]?.requestId);
      expect(new Set(ids).size).to.equal(1);
      // The path is part of the request: another model's endpoint is another request.
      const other = planRequests(
        settingsWith({ forecastApiUrl: "https://api.open-meteo.com/v1/dwd-icon" }),
        DATE,
        "forecast",
      );
      expect(other[0]?.requestId).to.not.equal(ids[0]);
    });

    it("uses the archive base URL for the archive endpoint", () => {
      const [request] = planRequests(DEFAULT_PIPELINE_SETTINGS, DATE, "archive");
      expect(request?.url.startsWith("https://archive-api.open-meteo.com/v1/archive?latitude=")).to.equal(true);
      expect(request?.endpoint).to.equal("archive");
    });

    it("leaves out hourly or daily when its list is empty", () => {
      const noDaily = planRequests(settingsWith({ dailyVariables: [] }), DATE, "forecast")[0]?.url ?? "";
      expect(noDaily).to.include("&hourly=").and.not.include("daily=");
      const noHourly = planRequests(settingsWith({ hourlyVariables: [] }), DATE, "forecast")[0]?.url ?? "";
      expect(noHourly).to.include("&daily=").and.not.include("hourly=");
    });

    it("keeps slashes of a time zone readable and escapes what a query would misread", () => {
      const slash = buildRequestUrl(
        "https://api.open-meteo.com/v1/forecast",
        [{ name: "x", latitude: 1, longitude: 2 }],
        { hourlyVariables: ["temperature_2m"], dailyVariables: [], timezone: "America/Argentina/Buenos_Aires" },
        DATE,
      );
      expect(slash).to.include("&timezone=America/Argentina/Buenos_Aires&");
      // A literal "+" would reach the server as a space.
      const plus = planRequests(settingsWith({ timezone: "Etc/GMT+5" }), DATE, "forecast")[0];
      expect(plus?.url).to.include("&timezone=Etc/GMT%2B5&");
    });

    it("appends to a base URL that already has a query", () => {
      const url = buildRequestUrl(
        "https://example.test/v1/forecast?models=icon_seamless",
        DEFAULT_PIPELINE_SETTINGS.locations,
        DEFAULT_PIPELINE_SETTINGS,
        DATE,
      );
      expect(url).to.match(/^https:\/\/example\.test\/v1\/forecast\?models=icon_seamless&latitude=52\.52,52\.37&/);
    });

    it("packs batches up to the weight limit, in as few requests as possible", () => {
      const light = planRequests(settingsWith({ locations: manyLocations(25), maxWeight: 10 }), DATE, "forecast");
      expect(light.map((r) => r.locations.length)).to.eql([10, 10, 5]);
      expect(light.map((r) => r.weight)).to.eql([10, 10, 5]);

      // 15 variables weigh 1.5 per location: 6 fit in 10 (9), 7 do not (10.5).
      const heavy = planRequests(
        settingsWith({
          locations: manyLocations(25),
          hourlyVariables: variables(12),
          dailyVariables: variables(3),
          maxWeight: 10,
        }),
        DATE,
        "forecast",
      );
      expect(heavy.map((r) => r.locations.length)).to.eql([6, 6, 6, 6, 1]);
      for (const r of heavy) expect(r.weight).to.be.at.most(10);
    });

    it("does not let floating-point error split a batch that exactly fits", () => {
      // 13 variables weigh 1.3; 3 x 1.3 is 3.9000000000000004 in floating point.
      const plan = planRequests(
        settingsWith({
          locations: manyLocations(6),
          hourlyVariables: variables(13),
          dailyVariables: [],
          maxWeight: 3.9,
        }),
        DATE,
        "forecast",
      );
      expect(plan.map((r) => r.locations.length)).to.eql([3, 3]);
    });

    it("keeps every URL under the length limit and fills each batch as far as that allows", () => {
      const settings = settingsWith({ locations: manyLocations(900), maxWeight: 100_000 });
      const plan = planRequests(settings, DATE, "forecast");
      expect(plan.length).to.be.above(1);
      const sorted = [...settings.locations].sort((a, b) => (a.name < b.name ? -1 : 1));
      let offset = 0;
      for (const request of plan) {
        expect(request.url.length).to.be.at.most(MAX_URL_LENGTH);
        expect(request.locations.length).to.be.at.most(MAX_LOCATIONS_PER_REQUEST);
        offset += request.locations.length;
        const next = sorted[offset];
        if (next) {
          // One more location would have broken the limit: the batch was full.
          const longer = buildRequestUrl(settings.forecastApiUrl, [...request.locations, next], settings, DATE);
          expect(longer.length).to.be.above(MAX_URL_LENGTH);
        }
      }
      expect(offset).to.equal(900);
    });

    it("keeps location order across batches, and key order follows it past batch 10", () => {
      const settings = settingsWith({ locations: manyLocations(120), maxWeight: 10 });
      const plan = planRequests(settings, DATE, "forecast");
      expect(plan).to.have.lengthOf(12);
      const names = plan.flatMap((r) => r.locations.map((l) => l.name));
      expect(names).to.eql([...names].sort());
      expect(plan.map((r) => r.batchIndex)).to.eql(Array.from({ length: 12 }, (_, i) => i));
      const ids = plan.map((r) => r.requestId);
      expect(ids).to.eql([...ids].sort());
      expect(ids[10]?.startsWith("0010-")).to.equal(true);
    });

    it("sorts by code unit, not by locale, so the order is the same on every machine", () => {
      const locations = [
        { name: "Ålesund", latitude: 62.47, longitude: 6.15 },
        { name: "amsterdam", latitude: 52.37, longitude: 4.89 },
        { name: "Zurich", latitude: 47.37, longitude: 8.54 },
      ];
      const [request] = planRequests(settingsWith({ locations }), DATE, "forecast");
      expect(request?.locations.map((l) => l.name)).to.eql(["Zurich", "amsterdam", "Ålesund"]);
    });

    it("gives the same URLs and ids for the same input, whatever the order of the locations", () => {
      const locations = manyLocations(40);
      const a = planRequests(settingsWith({ locations, maxWeight: 15 }), DATE, "forecast");
      const b = planRequests(settingsWith({ locations: [...locations].reverse(), maxWeight: 15 }), DATE, "forecast");
      expect(b).to.eql(a);
      const otherDate = planRequests(settingsWith({ locations, maxWeight: 15 }), "2024-05-02", "forecast");
      expect(otherDate.map((r) => r.requestId)).to.not.eql(a.map((r) => r.requestId));
    });

    it("refuses settings that cannot make a valid request, saying which value and why", () => {
      const plan = (overrides: Partial<PipelineSettings> & { maxWeight?: number }, date = DATE): unknown =>
        planRequests(settingsWith(overrides), date, "forecast");
      expect(() => plan({ locations: [] })).to.throw(/settings.locations is empty/);
      expect(() => plan({ hourlyVariables: [], dailyVariables: [] })).to.throw(/both empty/);
      expect(() => plan({ hourlyVariables: ["temperature 2m"] })).to.throw(/hourlyVariables\[0\] is "temperature 2m"/);
      expect(() =>
        plan({
          locations: [
            { name: "x", latitude: 0, longitude: 0 },
            { name: "y", latitude: 123.4, longitude: 0 },
          ],
        }),
      ).to.throw(/locations\[1\].latitude is 123.4; it must be between -90 and 90/);
      expect(() =>
        plan({
          locations: [
            { name: "x", latitude: 0, longitude: 0 },
            { name: "x", latitude: 1, longitude: 1 },
          ],
        }),
      ).to.throw(/locations\[1\].name is "x", the same as locations\[0\]/);
      expect(() => plan({ hourlyVariables: variables(25), dailyVariables: [], maxWeight: 2 })).to.throw(
        /weighs 2.5 \(25 variables, 1 day\(s\)\).*maxWeightPerRequest is 2; raise it to at least 2.5/,
      );
      expect(() => plan({ timezone: "Mars/Olympus" })).to.throw(/settings.timezone is "Mars\/Olympus"/);
      expect(() => plan({}, "2024-02-30")).to.throw(/date is "2024-02-30"/);
    });
  });
});
