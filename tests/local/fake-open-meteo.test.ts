import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import {
  OPEN_METEO_REASONS,
  answerOpenMeteoQuery,
  formatFloat32,
  listFakeVariables,
  queryWeight,
  rateLimitAnswer,
  startFakeOpenMeteo,
  type FakeOpenMeteo,
} from "../../pipeline/local/fake-open-meteo";

const FIXTURES = path.join(__dirname, "..", "fixtures", "open-meteo");
const readFixture = (dir: string, file: string): string => readFileSync(path.join(FIXTURES, dir, file), "utf8");

/** The fake's clock in these tests: mid-July, so Adelaide is on standard time (+9:30). */
const JULY = new Date("2025-07-20T06:00:00Z");

type Body = Record<string, unknown> & {
  hourly?: Record<string, unknown[]>;
  hourly_units?: Record<string, string>;
  daily?: Record<string, unknown[]>;
  daily_units?: Record<string, string>;
};

function answer(pathName: string, query: string, now = JULY): { status: number; body: string; json: unknown } {
  const params = Object.fromEntries(new URLSearchParams(query));
  const result = answerOpenMeteoQuery(pathName, params, { now });
  return { ...result, json: JSON.parse(result.body) as unknown };
}

function objectOf(json: unknown): Body {
  expect(json).to.be.an("object");
  return json as Body;
}

describe("fake Open-Meteo", () => {
  describe("response format", () => {
    it("has the recorded single-location body's top-level keys, in the same order", () => {
      const recorded = JSON.parse(
        readFixture("recorded", "frenck_historical_weather_hourly3h_daily2d_trimmed.json"),
      ) as Body;
      const { status, json } = answer(
        "/v1/archive",
        "latitude=52.27&longitude=6.82&hourly=temperature_2m,wind_speed_10m&daily=precipitation_sum&timezone=Europe/Amsterdam&start_date=1953-01-31&end_date=1953-02-01",
      );
      expect(status).to.equal(200);
      const body = objectOf(json);
      expect(Object.keys(body)).to.eql(Object.keys(recorded));
      expect(Object.keys(body)).to.eql([
        "latitude",
        "longitude",
        "generationtime_ms",
        "utc_offset_seconds",
        "timezone",
        "timezone_abbreviation",
        "elevation",
        "hourly_units",
        "hourly",
        "daily_units",
        "daily",
      ]);
      expect(Object.keys(body.hourly_units ?? {})).to.eql(["time", "temperature_2m", "wind_speed_10m"]);
      expect(body.hourly?.["time"]).to.have.lengthOf(48);
      expect(body.daily?.["time"]).to.eql(["1953-01-31", "1953-02-01"]);
    });

    it("answers several coordinates with an array in input order, location_id from the second element on", () => {
      const recorded = JSON.parse(
        readFixture("recorded", "upstream_server_test_multi_location_iso8601.json"),
      ) as Body[];
      const { json } = answer(
        "/v1/forecast",
        "latitude=41,42,43&longitude=2,3,4&hourly=temperature_2m&daily=temperature_2m_mean&start_date=2025-07-12&end_date=2025-07-13",
      );
      expect(json).to.be.an("array").with.lengthOf(3);
      const [first, second, third] = json as Body[];
      expect(first).to.not.have.property("location_id");
      expect(second?.["location_id"]).to.equal(1);
      expect(third?.["location_id"]).to.equal(2);
      expect(first?.["latitude"]).to.be.closeTo(41, 0.02);
      expect(third?.["latitude"]).to.be.closeTo(43, 0.02);
      // Same order as the server's own test output, leaving out the blocks we did not ask for.
      for (const [ours, theirs] of [
        [first, recorded[0]],
        [second, recorded[1]],
      ] as const) {
        const shared = (keys: string[], other: object): string[] => keys.filter((k) => k in other);
        expect(shared(Object.keys(ours ?? {}), theirs ?? {})).to.eql(shared(Object.keys(theirs ?? {}), ours ?? {}));
      }
    });

    it("prints compact JSON with fixed decimals per unit, like the real server", () => {
      const { body } = answer(
        "/v1/forecast",
        "latitude=52.52&longitude=13.41&hourly=temperature_2m,relative_humidity_2m,weather_code,precipitation&timezone=UTC&start_date=2025-07-01&end_date=2025-07-01",
      );
      // No line breaks or spaces between tokens (a space inside a string such as "wmo code" is fine).
      expect(body).to.not.match(/[\n\r\t]|":\s|,\s"|\[\s/);
      const column = (name: string): string[] => {
        const match = new RegExp(`"${name}":\\[([^\\]]*)\\]`).exec(body.slice(body.indexOf('"hourly":')));
        return (match?.[1] ?? "").split(",");
      };
      expect(column("temperature_2m")).to.have.lengthOf(24);
      for (const v of column("temperature_2m")) expect(v).to.match(/^-?\d+\.\d$/);
      for (const v of column("precipitation")) expect(v).to.match(/^\d+\.\d$/);
      for (const v of column("relative_humidity_2m")) expect(v).to.match(/^\d+$/);
      for (const v of column("weather_code")) expect(v).to.match(/^\d+$/);
      expect(body).to.match(/"elevation":\d+\.\d,/);
    });

    it("reports the units the recorded bodies report, for every variable both know", () => {
      const known = new Set([...listFakeVariables("forecast").hourly, ...listFakeVariables("archive").hourly]);
      const knownDaily = new Set([...listFakeVariables("forecast").daily, ...listFakeVariables("archive").daily]);
      let compared = 0;
      for (const file of readdirSync(path.join(FIXTURES, "recorded"))) {
        const parsed = JSON.parse(readFixture("recorded", file)) as Body | Body[];
        const recorded = Array.isArray(parsed) ? parsed[0] : parsed;
        const endpoint = /archive|historical/.test(file) ? "archive" : "forecast";
        for (const section of ["hourly", "daily"] as const) {
          const units = recorded?.[`${section}_units`] ?? {};
          const names = Object.keys(units).filter(
            (n) => n !== "time" && (section === "hourly" ? known : knownDaily).has(n),
          );
          const names_ = names.filter((n) => listFakeVariables(endpoint)[section].includes(n));
          if (names_.length === 0) continue;
          const speed = Object.values(units).includes("m/s") ? "&wind_speed_unit=ms" : "";
          const { json } = answer(
            `/v1/${endpoint}`,
            `latitude=50&longitude=5&${section}=${names_.join(",")}&start_date=2025-07-01&end_date=2025-07-01${speed}`,
          );
          const ours = objectOf(json)[`${section}_units`] as Record<string, string>;
          for (const name of names_) {
            expect(ours[name], `${file} ${section}.${name}`).to.equal(units[name]);
            compared++;
          }
        }
      }
      expect(compared).to.be.at.least(12);
    });

    it("switches time to epoch seconds with timeformat=unixtime, UTC-based as the API documents", () => {
      const { json } = answer(
        "/v1/archive",
        "latitude=-34.76&longitude=138.65&hourly=temperature_2m&daily=sunrise&timezone=Australia/Adelaide&start_date=2025-01-10&end_date=2025-01-10&timeformat=unixtime",
      );
      const body = objectOf(json);
      const localMidnight = Date.UTC(2025, 0, 10) / 1000 - 34200;
      expect(body.hourly?.["time"]?.[0]).to.equal(localMidnight);
      expect(body.hourly?.["time"]?.[23]).to.equal(localMidnight + 23 * 3600);
      expect(body.hourly_units?.["time"]).to.equal("unixtime");
      expect(body.daily?.["time"]).to.eql([localMidnight]);
      expect(body.daily_units?.["sunrise"]).to.equal("unixtime");
      expect(body.daily?.["sunrise"]?.[0]).to.be.a("number");
    });
  });

  describe("time zones", () => {
    const adelaide = (now: Date): Body =>
      objectOf(
        answer(
          "/v1/archive",
          "latitude=-34.76&longitude=138.65&hourly=temperature_2m&daily=sunrise,sunset&timezone=Australia/Adelaide&start_date=2025-01-10&end_date=2025-01-12",
          now,
        ).json,
      );

    it("takes utc_offset_seconds at request time, as the recorded January Adelaide body (34200) shows", () => {
      const recorded = JSON.parse(readFixture("recorded", "vinea_archive_hourly_6vars_3days_adelaide_ms.json")) as Body;
      const body = adelaide(JULY);
      expect(body["utc_offset_seconds"]).to.equal(34200);
      expect(body["utc_offset_seconds"]).to.equal(recorded["utc_offset_seconds"]);
      expect(body["timezone_abbreviation"]).to.equal("GMT+9:30");
      expect(body["timezone_abbreviation"]).to.equal(recorded["timezone_abbreviation"]);
      expect(body.hourly?.["time"]?.slice(0, 2)).to.eql(recorded.hourly?.["time"]?.slice(0, 2));
      expect(body.hourly?.["time"]).to.have.lengthOf(72);
    });

    it("gives Adelaide's summer offset (37800) when the request is made in January", () => {
      const body = adelaide(new Date("2025-01-20T00:00:00Z"));
      expect(body["utc_offset_seconds"]).to.equal(37800);
      expect(body["timezone_abbreviation"]).to.equal("GMT+10:30");
    });

    it("puts sunrise and sunset on the local day, in local time", () => {
      const body = adelaide(JULY);
      const sunrise = body.daily?.["sunrise"] as string[];
      const sunset = body.daily?.["sunset"] as string[];
      expect(sunrise.map((s) => s.slice(0, 10))).to.eql(["2025-01-10", "2025-01-11", "2025-01-12"]);
      // January in Adelaide, at a fixed +9:30: sunrise about 05:15, sunset about 19:10.
      for (const s of sunrise) expect(Number(s.slice(11, 13))).to.be.within(4, 6);
      for (const s of sunset) expect(Number(s.slice(11, 13))).to.be.within(18, 20);
    });

    it("names UTC, GMT, the default and auto as the API does", () => {
      const zone = (tz: string | undefined, longitude = 13.41): [unknown, unknown, unknown] => {
        const body = objectOf(
          answer(
            "/v1/forecast",
            `latitude=52.52&longitude=${longitude}&hourly=temperature_2m${tz ? `&timezone=${tz}` : ""}`,
          ).json,
        );
        return [body["timezone"], body["timezone_abbreviation"], body["utc_offset_seconds"]];
      };
      expect(zone("UTC")).to.eql(["UTC", "UTC", 0]);
      expect(zone("GMT")).to.eql(["GMT", "GMT", 0]);
      expect(zone(undefined)).to.eql(["GMT", "GMT", 0]);
      expect(zone("Europe/Berlin")).to.eql(["Europe/Berlin", "GMT+2", 7200]);
      expect(zone("auto")).to.eql(["Etc/GMT-1", "GMT+1", 3600]);
      expect(zone("auto", -74)).to.eql(["Etc/GMT+5", "GMT-5", -18000]);
    });
  });

  describe("daylight saving time, as open-meteo issues 261, 488 and 1764 report it", () => {
    const DECEMBER = new Date("2024-12-10T07:00:00Z");
    const SUMMER = new Date("2024-07-15T07:00:00Z");
    const query = (timezone: string, start: string, end: string, extra = "") =>
      `latitude=52.52&longitude=13.41&hourly=temperature_2m&daily=temperature_2m_max&timezone=${timezone}&start_date=${start}&end_date=${end}${extra}`;

    it("applies December's offset to a Berlin July day requested in December: its day starts at 23:00Z", () => {
      const body = objectOf(answer("/v1/archive", query("Europe/Berlin", "2024-07-01", "2024-07-01"), DECEMBER).json);
      expect(body["utc_offset_seconds"]).to.equal(3600);
      expect(body["timezone_abbreviation"]).to.equal("GMT+1");
      expect(body.hourly?.["time"]?.[0]).to.equal("2024-07-01T00:00");
      expect(body.hourly?.["time"]).to.have.length(24);
      // The same instants in UTC: label 00:00 at +01:00 is 23:00Z, an hour after the true local midnight.
      const utc = objectOf(answer("/v1/archive", query("GMT", "2024-06-30", "2024-07-01"), DECEMBER).json);
      const utcTemps = utc.hourly?.["temperature_2m"] as number[];
      expect(body.hourly?.["temperature_2m"]).to.deep.equal(utcTemps.slice(23, 47));
      // Its daily maximum covers 23:00Z to 23:00Z, not the Berlin day.
      expect(body.daily?.["temperature_2m_max"]?.[0]).to.equal(Math.max(...utcTemps.slice(23, 47)));
    });

    it("gives the offset of the request's zone at any request time with a fixed-offset zone (Etc/GMT-2)", () => {
      const winter = objectOf(answer("/v1/archive", query("Etc/GMT-2", "2024-07-01", "2024-07-01"), DECEMBER).json);
      const summer = objectOf(answer("/v1/archive", query("Etc/GMT-2", "2024-07-01", "2024-07-01"), SUMMER).json);
      expect(winter["utc_offset_seconds"]).to.equal(7200);
      expect(winter.hourly).to.deep.equal(summer.hourly);
      expect(winter.daily).to.deep.equal(summer.daily);
    });

    it("keeps one offset and 24 labels a day across both switch days, the 02:00 that does not exist included", () => {
      const spring = objectOf(answer("/v1/archive", query("Europe/Berlin", "2024-03-30", "2024-04-01"), DECEMBER).json);
      const labels = spring.hourly?.["time"] as string[];
      expect(labels).to.have.length(72);
      expect(labels).to.include("2024-03-31T02:00");
      expect(spring["utc_offset_seconds"]).to.equal(3600);
      // The previous autumn's switch, asked in summer: +02:00 all along, 02:00 once, no 25th hour.
      const fall = objectOf(answer("/v1/archive", query("Europe/Berlin", "2023-10-28", "2023-10-30"), SUMMER).json);
      const fallLabels = fall.hourly?.["time"] as string[];
      expect(fallLabels).to.have.length(72);
      expect(fallLabels.filter((l) => l === "2023-10-29T02:00")).to.have.length(1);
      expect(fall["utc_offset_seconds"]).to.equal(7200);
      // With unixtime, the daily times are the fixed-offset midnights (issue 1545's 23:00 after the change).
      const unix = objectOf(
        answer("/v1/archive", query("Europe/Berlin", "2023-10-28", "2023-10-30", "&timeformat=unixtime"), SUMMER).json,
      );
      expect(unix.daily?.["time"]).to.deep.equal([
        Date.UTC(2023, 9, 27, 22) / 1000,
        Date.UTC(2023, 9, 28, 22) / 1000,
        Date.UTC(2023, 9, 29, 22) / 1000,
      ]);
    });
  });

  describe("weight and quota, as the server counts them", () => {
    it("weighs each location max(1, V/10, V/10 * days/14) in Float32, like calculateQueryWeight", () => {
      // The server's own test cases (OutputformatTests.swift).
      expect(queryWeight(1, [7671])).to.equal(Math.fround(54.79286));
      expect(queryWeight(2, [7671])).to.equal(Math.fround(109.58572));
      expect(queryWeight(1, [7])).to.equal(1);
      expect(queryWeight(15, [7])).to.equal(1.5);
      expect(queryWeight(30, [7])).to.equal(3);
      expect(queryWeight(1, [31, 31])).to.equal(2);
      expect(queryWeight(15, [31, 31])).to.equal(Math.fround(6.6428566));
      expect(queryWeight(30, [31, 31])).to.equal(Math.fround(13.285713));
    });

    let server: FakeOpenMeteo | undefined;
    afterEach(async () => {
      await server?.close();
      server = undefined;
    });

    it("counts each answer's weight and 1 per error, and refuses with the real 429s when a limit is reached, until it resets", async () => {
      let clock = new Date("2024-12-10T07:59:00Z");
      server = await startFakeOpenMeteo({ now: () => clock, quota: { minutely: 100, hourly: 10, daily: 15 } });
      const get = async (q: string) => {
        const response = await fetch(`${server!.archiveUrl}?${q}`);
        return { status: response.status, body: (await response.json()) as { reason?: string } };
      };
      // 2 locations x 12 variables x 35 days: 2 x 1.2 x 35/14 = 6.
      const vars =
        "temperature_2m,relative_humidity_2m,dew_point_2m,apparent_temperature,precipitation,rain,snowfall,weather_code,pressure_msl,cloud_cover,wind_speed_10m,wind_direction_10m";
      const heavy = `latitude=1,2&longitude=3,4&hourly=${vars}&start_date=2024-01-01&end_date=2024-02-04`;
      expect((await get(heavy)).status).to.equal(200);
      expect(server.usage()).to.deep.equal({ requests: 1, weight: 6, refused: 0 });
      expect(
        (await get("latitude=1&longitude=2&hourly=nope&start_date=2024-01-01&end_date=2024-01-01")).status,
      ).to.equal(400);
      expect(server.usage().weight).to.equal(7);
      expect((await get(heavy)).status).to.equal(200); // usage 7 < 10: served, now 13
      const refused = await get(heavy);
      expect(refused).to.deep.equal({ status: 429, body: { error: true, reason: OPEN_METEO_REASONS.hourly } });
      expect(server.usage()).to.deep.equal({ requests: 3, weight: 13, refused: 1 });
      clock = new Date("2024-12-10T08:00:30Z"); // the next hour: the hourly counter is clear, the daily one is not
      expect((await get(heavy)).status).to.equal(200); // daily 13 < 15: served, now 19
      expect((await get(heavy)).body.reason).to.equal(OPEN_METEO_REASONS.daily);
      clock = new Date("2024-12-11T00:00:10Z");
      expect((await get(heavy)).status).to.equal(200);
    });

    it("answers a request heavier than the hourly limit with the server's 400", async () => {
      server = await startFakeOpenMeteo({ now: () => JULY, quota: { hourly: 3 } });
      // One variable for 731 days: 0.1 x 731/14 = 5.2.
      const response = await fetch(
        `${server.archiveUrl}?latitude=1&longitude=2&hourly=temperature_2m&start_date=2020-01-01&end_date=2021-12-31`,
      );
      expect(response.status).to.equal(400);
      expect(((await response.json()) as { reason: string }).reason).to.match(/requests too much data/);
    });
  });

  describe("values", () => {
    const query =
      "latitude=52.52,-33.87,64.13,1.29&longitude=13.41,151.21,-21.9,103.85&hourly=temperature_2m,relative_humidity_2m,precipitation,wind_speed_10m,weather_code,is_day" +
      "&daily=temperature_2m_max,temperature_2m_min,precipitation_sum,weather_code&timezone=UTC&start_date=2025-06-01&end_date=2025-06-14";

    it("gives the same bytes for the same request and clock", () => {
      expect(answer("/v1/forecast", query).body).to.equal(answer("/v1/forecast", query).body);
    });

    it("gives different values for different places and days", () => {
      const bodies = answer("/v1/forecast", query).json as Body[];
      const temps = bodies.map((b) => JSON.stringify(b.hourly?.["temperature_2m"]?.slice(0, 24)));
      expect(new Set(temps).size).to.equal(4);
      const berlin = bodies[0]?.hourly?.["temperature_2m"] as number[];
      expect(JSON.stringify(berlin.slice(0, 24))).to.not.equal(JSON.stringify(berlin.slice(24, 48)));
    });

    it("keeps values in plausible ranges: integer humidity 0-100, WMO codes, precipitation >= 0 with dry and wet hours", () => {
      const bodies = answer("/v1/forecast", query).json as Body[];
      const all = (name: string): number[] => bodies.flatMap((b) => b.hourly?.[name] as number[]);
      for (const h of all("relative_humidity_2m"))
        expect(Number.isInteger(h) && h >= 0 && h <= 100, String(h)).to.equal(true);
      const codes = new Set([0, 1, 2, 3, 45, 51, 61, 63, 71, 73, 75, 80, 81, 95]);
      for (const c of all("weather_code")) expect(codes.has(c), String(c)).to.equal(true);
      const precipitation = all("precipitation");
      expect(precipitation.every((p) => p >= 0)).to.equal(true);
      expect(precipitation.some((p) => p === 0)).to.equal(true);
      expect(precipitation.some((p) => p > 0)).to.equal(true);
      for (const t of all("temperature_2m")) expect(t).to.be.within(-60, 60);
      for (const w of all("wind_speed_10m")) expect(w).to.be.within(0, 200);
      expect(new Set(all("is_day"))).to.eql(new Set([0, 1]));
    });

    it("derives daily values from the hourly ones it prints", () => {
      const bodies = answer("/v1/forecast", query).json as Body[];
      for (const body of bodies) {
        const hourly = body.hourly as Record<string, number[]>;
        const daily = body.daily as Record<string, number[]>;
        for (let d = 0; d < 14; d++) {
          const day = (name: string): number[] => (hourly[name] ?? []).slice(d * 24, d * 24 + 24);
          expect(daily["temperature_2m_max"]?.[d]).to.equal(Math.max(...day("temperature_2m")));
          expect(daily["temperature_2m_min"]?.[d]).to.equal(Math.min(...day("temperature_2m")));
          expect(daily["precipitation_sum"]?.[d]).to.be.closeTo(
            day("precipitation").reduce((a, b) => a + b, 0),
            0.051,
          );
          expect(daily["weather_code"]?.[d]).to.equal(Math.max(...day("weather_code")));
        }
      }
    });

    it("converts units on request", () => {
      const base =
        "latitude=52.52&longitude=13.41&hourly=temperature_2m,wind_speed_10m,precipitation&start_date=2025-07-01&end_date=2025-07-01";
      const metric = objectOf(answer("/v1/forecast", base).json);
      const imperial = objectOf(
        answer("/v1/forecast", `${base}&temperature_unit=fahrenheit&wind_speed_unit=mph&precipitation_unit=inch`).json,
      );
      expect(imperial.hourly_units).to.include({ temperature_2m: "°F", wind_speed_10m: "mp/h", precipitation: "inch" });
      const c = metric.hourly?.["temperature_2m"]?.[12] as number;
      expect(imperial.hourly?.["temperature_2m"]?.[12]).to.be.closeTo((c * 9) / 5 + 32, 0.15);
    });

    it("leaves the archive's latest days null, as the real archive lags by days", () => {
      const recent = objectOf(
        answer(
          "/v1/archive",
          "latitude=52.52&longitude=13.41&hourly=temperature_2m&daily=temperature_2m_max&start_date=2025-07-19&end_date=2025-07-19",
        ).json,
      );
      expect(recent.hourly?.["temperature_2m"]?.every((v) => v === null)).to.equal(true);
      expect(recent.daily?.["temperature_2m_max"]).to.eql([null]);
      const older = objectOf(
        answer(
          "/v1/archive",
          "latitude=52.52&longitude=13.41&hourly=temperature_2m&start_date=2025-07-01&end_date=2025-07-01",
        ).json,
      );
      expect(older.hourly?.["temperature_2m"]?.every((v) => typeof v === "number")).to.equal(true);
    });

    it("snaps coordinates to float32 grid cells and prints them as Swift does", () => {
      expect(formatFloat32(29)).to.equal("29.0");
      expect(formatFloat32(52.52)).to.equal("52.52");
      expect(formatFloat32(13.419998)).to.equal("13.419998");
      const body = objectOf(answer("/v1/forecast", "latitude=52.5234&longitude=13.4114&hourly=temperature_2m").json);
      expect(body["latitude"]).to.be.closeTo(52.52, 0.011);
      expect(body["longitude"]).to.be.closeTo(13.42, 0.011);
    });
  });

  describe("bad parameters", () => {
    it("answers an unknown variable with the real API's 400 body, byte for byte", () => {
      const result = answer("/v1/forecast", "latitude=52.52&longitude=13.41&hourly=lksdfj");
      expect(result.status).to.equal(400);
      expect(result.body).to.equal(readFixture("errors", "error400_body_from_tpisel_hourly_variable.json").trim());
      expect(answer("/v1/forecast", "latitude=52.52&longitude=13.41&daily=nope").body).to.match(
        /^\{"error":true,"reason":"Cannot initialize ForecastVariableDaily from invalid String value nope for key "\}$/,
      );
    });

    it("answers a bad unit and an out-of-range date with the real API's 400 bodies", () => {
      const unit = answer("/v1/forecast", "latitude=1&longitude=2&temperature_unit=asdfsfd");
      expect(unit.body).to.equal(readFixture("errors", "error400_body_from_tpisel_temperature_unit.json").trim());
      const range = answer(
        "/v1/archive",
        "latitude=1&longitude=2&start_date=1939-12-31&end_date=1940-01-02",
        new Date("2026-09-20T10:00:00Z"),
      );
      expect(range.body).to.equal(readFixture("errors", "error400_out_of_range_per_source_example.json").trim());
    });

    it("rejects out-of-range coordinates, malformed dates and inconsistent lists", () => {
      const reason = (pathName: string, q: string): unknown =>
        (answer(pathName, q).json as { reason?: unknown }).reason;
      expect(reason("/v1/forecast", "latitude=91&longitude=0")).to.equal(
        "Latitude must be in range of -90 to 90°. Given: 91.",
      );
      expect(reason("/v1/forecast", "latitude=0&longitude=-181")).to.equal(
        "Longitude must be in range of -180 to 180°. Given: -181.",
      );
      expect(reason("/v1/forecast", "latitude=1,2&longitude=1")).to.match(/must have the same number of elements/);
      expect(reason("/v1/forecast", "latitude=abc&longitude=1")).to.equal(
        "Value of type 'Float' required for key 'latitude'.",
      );
      expect(reason("/v1/forecast", "longitude=1")).to.equal("Value required for key 'latitude'.");
      expect(reason("/v1/forecast", "latitude=1&longitude=1&start_date=2025-7-1&end_date=2025-07-01")).to.match(
        /Invalid date format/,
      );
      expect(reason("/v1/forecast", "latitude=1&longitude=1&start_date=2025-07-02&end_date=2025-07-01")).to.equal(
        "End-date must be larger or equals than start-date",
      );
      expect(reason("/v1/archive", "latitude=1&longitude=1&hourly=temperature_2m")).to.equal(
        "Both 'start_date' and 'end_date' must be set in the url",
      );
      expect(reason("/v1/forecast", "latitude=1&longitude=1&timezone=Mars/Olympus")).to.equal("Invalid timezone");
      expect(reason("/v1/forecast", "latitude=nan&longitude=1")).to.match(/Latitude must be in range/);
      expect(answer("/v1/nowhere", "").status).to.equal(404);
    });
  });

  describe("the HTTP server", () => {
    let fake: FakeOpenMeteo | undefined;
    afterEach(async () => {
      await fake?.close();
      fake = undefined;
    });

    it("serves both endpoints on 127.0.0.1 and records every request with its parameters", async () => {
      fake = await startFakeOpenMeteo({ now: () => JULY });
      expect(fake.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      const forecast = await fetch(
        `${fake.forecastUrl}?latitude=1&longitude=2&hourly=temperature_2m&hourly=precipitation`,
      );
      const archive = await fetch(
        `${fake.archiveUrl}?latitude=1&longitude=2&daily=temperature_2m_max&start_date=2025-07-01&end_date=2025-07-02`,
      );
      expect([forecast.status, archive.status]).to.eql([200, 200]);
      expect(forecast.headers.get("content-type")).to.equal("application/json; charset=utf-8");
      expect(fake.requests.map((r) => [r.index, r.path])).to.eql([
        [0, "/v1/forecast"],
        [1, "/v1/archive"],
      ]);
      // A repeated parameter counts like a comma-separated one.
      expect(fake.requests[0]?.params["hourly"]).to.equal("temperature_2m,precipitation");
      expect(fake.requests[0]?.receivedAt).to.be.instanceOf(Date);
      expect(
        Buffer.from(await archive.arrayBuffer()).equals(Buffer.from(fake.requests[1]?.answer?.body ?? [])),
      ).to.equal(true);
    });

    it("gzips for clients that accept it and records the uncompressed bytes", async () => {
      fake = await startFakeOpenMeteo({ now: () => JULY });
      const response = await fetch(`${fake.forecastUrl}?latitude=1&longitude=2&hourly=temperature_2m`, {
        headers: { "accept-encoding": "gzip" },
      });
      expect(response.headers.get("content-encoding")).to.equal("gzip");
      const text = await response.text(); // fetch decodes gzip
      expect(text).to.equal(Buffer.from(fake.requests[0]?.answer?.body ?? []).toString("utf8"));
    });

    it("accepts a POST form with the same parameters as GET", async () => {
      fake = await startFakeOpenMeteo({ now: () => JULY });
      const query = "latitude=1,3&longitude=2,4&hourly=temperature_2m&start_date=2025-07-01&end_date=2025-07-01";
      const get = await (await fetch(`${fake.forecastUrl}?${query}`)).text();
      const post = await (
        await fetch(fake.forecastUrl, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: query,
        })
      ).text();
      expect(post).to.equal(get);
    });

    it("plays scripted answers: recorded error bodies, raw text, and a delayed normal answer", async () => {
      fake = await startFakeOpenMeteo({
        now: () => JULY,
        respond: ({ index }) =>
          [
            rateLimitAnswer("minutely"),
            { kind: "text", status: 200, body: "nan" } as const,
            { kind: "delay", delayMs: 30 } as const,
          ][index],
      });
      const url = `${fake.forecastUrl}?latitude=1&longitude=2&hourly=temperature_2m`;
      const limited = await fetch(url);
      expect(limited.status).to.equal(429);
      expect(await limited.text()).to.equal(readFixture("errors", "error429_minutely_per_source.json").trim());
      expect(await (await fetch(url)).text()).to.equal("nan");
      const started = Date.now();
      const late = await fetch(url);
      expect(Date.now() - started).to.be.at.least(25);
      expect(late.status).to.equal(200);
      expect(fake.requests.map((r) => r.answer?.scripted)).to.eql([true, true, false]);
    });

    it("uses the real reasons for every rate limit", () => {
      for (const limit of ["minutely", "hourly", "daily", "concurrency"] as const) {
        const recorded = readFixture("errors", `error429_${limit}_per_source.json`).trim();
        const scripted = rateLimitAnswer(limit);
        expect(scripted.kind === "json" ? JSON.stringify(scripted.body) : "").to.equal(recorded);
      }
      expect(OPEN_METEO_REASONS.overloaded).to.equal("The service is overloaded");
    });

    it("can hang, reset and stall, and close() still returns promptly", async () => {
      fake = await startFakeOpenMeteo({
        now: () => JULY,
        respond: ({ index }) =>
          [{ kind: "hang" } as const, { kind: "reset" } as const, { kind: "stall", afterBytes: 10 } as const][index],
      });
      const url = `${fake.forecastUrl}?latitude=1&longitude=2&hourly=temperature_2m`;
      const hang = await fetch(url, { signal: AbortSignal.timeout(100) }).then(
        () => "answered",
        (e: Error) => e.name,
      );
      expect(hang).to.equal("TimeoutError");
      const reset = await fetch(url).then(
        () => "answered",
        (e: Error) => e.message,
      );
      expect(reset).to.equal("fetch failed");
      const stalled = await fetch(url, { signal: AbortSignal.timeout(150) });
      expect(stalled.status).to.equal(200);
      const body = await stalled.text().then(
        () => "complete",
        (e: Error) => e.name,
      );
      expect(body).to.equal("TimeoutError");
      expect(fake.requests).to.have.lengthOf(3);
      const started = Date.now();
      await fake.close();
      fake = undefined;
      expect(Date.now() - started).to.be.below(1000);
    });

    it("answers 429 'Too many concurrent requests' beyond maxConcurrentRequests", async () => {
      fake = await startFakeOpenMeteo({ now: () => JULY, latencyMs: 100, maxConcurrentRequests: 1 });
      const url = `${fake.forecastUrl}?latitude=1&longitude=2&hourly=temperature_2m`;
      const statuses = await Promise.all([fetch(url), fetch(url)].map(async (p) => (await p).status));
      expect(statuses.sort()).to.eql([200, 429]);
      expect((await fetch(url)).status).to.equal(200);
    });
  });
});
