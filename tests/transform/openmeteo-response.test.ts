import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import { expect } from "chai";
import {
  OpenMeteoResponseError,
  dayOfIsoDate,
  daysFromCivil,
  isoDateOfDay,
  millisOfLocalLabel,
  parseOpenMeteoResponse,
  scanOpenMeteoResponse,
  scanOpenMeteoStream,
  type ParsedLocation,
  type ResponseExpectation,
  type ScannedLocation,
} from "../../pipeline/transform/openmeteo-response";

const FIXTURES = path.join(__dirname, "..", "fixtures", "open-meteo");
const SOURCE = "open-meteo/forecast/date=2026-11-21/0000-ab12cd34ef56.json";
const HOUR = 3_600_000;

function fixture(folder: string, name: string): string {
  return readFileSync(path.join(FIXTURES, folder, name), "utf8");
}

/** Independent of the code under test: UTC instant of a local label and an offset, via Date.UTC. */
function utcOfLabel(label: string, offsetSeconds: number): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(label);
  if (!m) throw new Error(`test fixture label ${label} is not YYYY-MM-DDTHH:MM`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5])) - offsetSeconds * 1000;
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected an error, none was thrown");
}

/** Values of a block; a string among them lets a test send a value of the wrong type. */
type BlockValues = (number | string | null)[];

/** The body the tests build, loose enough that a test can break any part of it. */
interface TestBody {
  latitude: number;
  longitude: number;
  utc_offset_seconds?: number;
  elevation: number;
  hourly_units: Record<string, string>;
  hourly: Record<string, BlockValues>;
  daily_units?: Record<string, string>;
  daily?: Record<string, BlockValues>;
}

/** The part of a recorded hourly fixture the tests read. */
interface HourlyFixture {
  hourly: { time: string[] };
}

/** An Open-Meteo error body. */
interface ErrorFixture {
  reason: string;
}

/** A small hourly body; `patch` edits the object before it is serialized. */
function hourlyBody(patch: (body: TestBody) => void = () => {}): TestBody {
  const body: TestBody = {
    latitude: 52.52,
    longitude: 13.419998,
    utc_offset_seconds: 3600,
    elevation: 38,
    hourly_units: { time: "iso8601", temperature_2m: "°C", precipitation: "mm" },
    hourly: {
      time: ["2024-03-10T00:00", "2024-03-10T01:00", "2024-03-10T02:00", "2024-03-10T03:00"],
      temperature_2m: [1.5, null, -0.5, 2],
      precipitation: [0, 0.1, null, 0],
    },
  };
  patch(body);
  return body;
}

/** A parsed or scanned location as plain data: typed arrays as arrays, null for NaN, -0 kept. */
function plainLocation(location: ParsedLocation | ScannedLocation): unknown {
  const block = (b: ParsedLocation["hourly"] | ScannedLocation["hourly"]) =>
    b && {
      ...b,
      utcMillis: Array.from(b.utcMillis),
      localDays: Array.from(b.localDays),
      values: b.values.map((v) => Array.from(v as ArrayLike<number | null>, (x) => (Number.isNaN(x) ? null : x))),
    };
  return { ...location, hourly: block(location.hourly), daily: block(location.daily) };
}

/** The reference parser's locations, or its error message. */
function parsedOrError(body: string, expect: ResponseExpectation): unknown {
  try {
    return parseOpenMeteoResponse(body, SOURCE, expect).map(plainLocation);
  } catch (error) {
    return (error as Error).message;
  }
}

/** The byte scanner's locations (body in memory), or its error message. */
function scannedOrError(body: string, expect: ResponseExpectation): unknown {
  try {
    return scanOpenMeteoResponse(new TextEncoder().encode(body), SOURCE, expect).map(plainLocation);
  } catch (error) {
    return (error as Error).message;
  }
}

/** The stream scanner's locations (body in chunks of `size` bytes), or its error message. */
async function streamedOrError(body: string, expect: ResponseExpectation, size: number): Promise<unknown> {
  const bytes = new TextEncoder().encode(body);
  const chunks = (): Readable =>
    Readable.from(
      Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size)),
    );
  const out: unknown[] = [];
  try {
    // Copied in the callback: the stream scanner reuses its arrays for the next location.
    await scanOpenMeteoStream(chunks(), SOURCE, expect, (location) => out.push(plainLocation(location)));
    return out;
  } catch (error) {
    return (error as Error).message;
  }
}

describe("openmeteo-response", () => {
  describe("calendar arithmetic", () => {
    it("daysFromCivil agrees with Date.UTC for every day from 1600 to 2400", () => {
      const mismatches: string[] = [];
      for (let ms = Date.UTC(1600, 0, 1); ms < Date.UTC(2400, 0, 1); ms += 86_400_000) {
        const d = new Date(ms);
        const days = daysFromCivil(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
        if (days !== ms / 86_400_000) mismatches.push(d.toISOString());
      }
      expect(mismatches).to.deep.equal([]);
    });

    it("round-trips dates before and after 1970 through day numbers", () => {
      for (const date of ["1940-01-01", "1953-01-31", "1969-12-31", "1970-01-01", "2000-02-29", "2026-11-21"]) {
        expect(dayOfIsoDate(date)).to.equal(
          Date.UTC(+date.slice(0, 4), +date.slice(5, 7) - 1, +date.slice(8, 10)) / 86_400_000,
        );
        expect(isoDateOfDay(dayOfIsoDate(date))).to.equal(date);
      }
    });

    it("rejects dates that do not exist or are not YYYY-MM-DD", () => {
      for (const date of ["2023-02-29", "2024-13-01", "2024-04-31", "2024-1-01", "2024/01/01", "20240101xx"]) {
        expect(dayOfIsoDate(date), date).to.be.NaN;
      }
    });

    it("reads a local label as if it were UTC, before 1970 too", () => {
      expect(millisOfLocalLabel("1953-01-31T02:00")).to.equal(Date.UTC(1953, 0, 31, 2, 0));
      expect(millisOfLocalLabel("2024-02-29T23:59")).to.equal(Date.UTC(2024, 1, 29, 23, 59));
      for (const label of [
        "2024-01-01T24:00",
        "2024-01-01 00:00",
        "2024-01-01T00:00:00",
        "2024-01-01T0a:00",
        "2024-01-01",
      ]) {
        expect(millisOfLocalLabel(label), label).to.be.NaN;
      }
    });
  });

  describe("time conversion", () => {
    it("subtracts a half-hour offset (34200 s, Adelaide) from iso8601 labels", () => {
      const text = fixture("recorded", "vinea_archive_hourly_6vars_3days_adelaide_ms.json");
      const raw = JSON.parse(text) as HourlyFixture;
      const [location] = parseOpenMeteoResponse(text, "vinea", { hourly: ["temperature_2m"] });
      const block = location!.hourly!;
      expect(location!.utcOffsetSeconds).to.equal(34200);
      expect(Array.from(block.utcMillis)).to.deep.equal(raw.hourly.time.map((t: string) => utcOfLabel(t, 34200)));
      expect(Array.from(block.localDays, isoDateOfDay)).to.deep.equal(
        raw.hourly.time.map((t: string) => t.slice(0, 10)),
      );
      // 00:00 in Adelaide is 14:30 UTC of the day before.
      expect(new Date(block.utcMillis[0]!).toISOString()).to.equal("2025-01-09T14:30:00.000Z");
    });

    it("adds a negative offset and keeps the local date as the row's date", () => {
      const body = hourlyBody((b) => {
        b.utc_offset_seconds = -18000;
        b.hourly.time = ["2024-01-05T22:00", "2024-01-05T23:00", "2024-01-06T00:00", "2024-01-06T01:00"];
      });
      const [location] = parseOpenMeteoResponse(JSON.stringify(body), SOURCE, { hourly: ["temperature_2m"] });
      expect(Array.from(location!.hourly!.utcMillis)).to.deep.equal([
        Date.UTC(2024, 0, 6, 3),
        Date.UTC(2024, 0, 6, 4),
        Date.UTC(2024, 0, 6, 5),
        Date.UTC(2024, 0, 6, 6),
      ]);
      expect(Array.from(location!.hourly!.localDays, isoDateOfDay)).to.deep.equal([
        "2024-01-05",
        "2024-01-05",
        "2024-01-06",
        "2024-01-06",
      ]);
    });

    it("takes unixtime as UTC seconds and dates a step by t + offset", () => {
      const t0 = Date.UTC(2024, 0, 6, 3) / 1000;
      const body = hourlyBody((b) => {
        b.utc_offset_seconds = -18000;
        b.hourly_units.time = "unixtime";
        b.hourly.time = [t0, t0 + 3600, t0 + 7200, t0 + 10800];
        b.daily_units = { time: "unixtime", sunrise: "unixtime" };
        // Open-Meteo's daily unixtime is local midnight as a UTC instant.
        b.daily = { time: [Date.UTC(2024, 0, 5) / 1000 + 18000], sunrise: [Date.UTC(2024, 0, 5, 12, 20) / 1000] };
      });
      const [location] = parseOpenMeteoResponse(JSON.stringify(body), SOURCE, {
        hourly: ["temperature_2m"],
        daily: ["sunrise"],
      });
      expect(Array.from(location!.hourly!.utcMillis)).to.deep.equal([0, 1, 2, 3].map((h) => (t0 + h * 3600) * 1000));
      expect(Array.from(location!.hourly!.localDays, isoDateOfDay)).to.deep.equal([
        "2024-01-05",
        "2024-01-05",
        "2024-01-06",
        "2024-01-06",
      ]);
      expect(Array.from(location!.daily!.localDays, isoDateOfDay)).to.deep.equal(["2024-01-05"]);
      expect(location!.daily!.values[0]).to.deep.equal([Date.UTC(2024, 0, 5, 12, 20)]);
    });

    it("converts daily sunrise labels to UTC instants and keeps nulls", () => {
      const text = fixture("recorded", "frenck_forecast_16_days_trailing_nulls_trimmed.json");
      const [location] = parseOpenMeteoResponse(text, "frenck", { daily: "all" });
      const daily = location!.daily!;
      expect(daily.variables).to.deep.equal(["temperature_2m_max", "weather_code", "sunrise"]);
      expect(daily.values[0]).to.deep.equal([18.3, null]);
      expect(daily.values[2]).to.deep.equal([utcOfLabel("2026-10-17T06:01", 0), utcOfLabel("2026-10-18T06:02", 0)]);
      expect(Array.from(daily.localDays, isoDateOfDay)).to.deep.equal(["2026-10-17", "2026-10-18"]);
    });
  });

  describe("shape", () => {
    it("reads one location from an object and several, in order, from an array", () => {
      const single = parseOpenMeteoResponse(
        fixture("recorded", "upstream_server_test_single_location_iso8601.json"),
        "s",
        { hourly: "all" },
      );
      const multi = parseOpenMeteoResponse(
        fixture("recorded", "upstream_server_test_multi_location_iso8601.json"),
        "m",
        { hourly: "all" },
      );
      expect(single).to.have.lengthOf(1);
      expect(multi.map((l) => [l.index, l.locationId])).to.deep.equal([
        [0, undefined],
        [1, 1],
      ]);
      expect(single[0]!.elevation).to.equal(null);
    });

    it('takes every variable of a block with "all" and ignores blocks it was not asked for', () => {
      const [location] = parseOpenMeteoResponse(
        fixture("recorded", "upstream_server_test_single_location_iso8601.json"),
        "s",
        {
          hourly: "all",
        },
      );
      expect(location!.hourly!.variables).to.deep.equal(["temperature_2m", "windspeed_10m"]);
      expect(location!.hourly!.units).to.deep.equal({ temperature_2m: "°C", windspeed_10m: "km/h" });
      expect(location!.daily).to.equal(undefined);
    });

    it("accepts bytes as well as text", () => {
      const text = JSON.stringify(hourlyBody());
      const [location] = parseOpenMeteoResponse(new TextEncoder().encode(text), SOURCE, { hourly: ["temperature_2m"] });
      expect(location!.hourly!.values[0]).to.deep.equal([1.5, null, -0.5, 2]);
    });
  });

  describe("errors name the source, the path and the fix", () => {
    it("reports nan as invalid JSON and points at it", () => {
      const text = JSON.stringify(hourlyBody()).replace("-0.5", "nan");
      const message = errorOf(() => parseOpenMeteoResponse(text, SOURCE, { hourly: ["temperature_2m"] }));
      expect(message).to.match(new RegExp(`^${SOURCE}: not valid JSON \\(`));
      expect(message).to.include("null,nan,2");
      expect(message).to.include("outside a model's domain");
    });

    it("reports truncated JSON", () => {
      const message = errorOf(() => parseOpenMeteoResponse('{"latitude": 1', SOURCE));
      expect(message).to.match(new RegExp(`^${SOURCE}: not valid JSON \\(.+\\)$`));
    });

    it("names a variable missing from one location of a multi-location body", () => {
      const body = [hourlyBody(), hourlyBody((b) => delete b.hourly.temperature_2m), hourlyBody()];
      const message = errorOf(() =>
        parseOpenMeteoResponse(JSON.stringify(body), SOURCE, { hourly: ["temperature_2m"], locations: 3 }),
      );
      expect(message).to.equal(
        `${SOURCE}: hourly.temperature_2m is missing from location 2 of 3; the request asked for it ` +
          "(is the variable name right for this endpoint?)",
      );
    });

    it("names a missing block", () => {
      const message = errorOf(() =>
        parseOpenMeteoResponse(JSON.stringify(hourlyBody()), SOURCE, { daily: ["sunrise"] }),
      );
      expect(message).to.equal(
        `${SOURCE}: the daily block is missing; the request asked for daily variables (sunrise)`,
      );
    });

    for (const file of readdirSync(path.join(FIXTURES, "errors")).sort()) {
      it(`reports an Open-Meteo error body with its reason (${file})`, () => {
        const text = fixture("errors", file);
        const message = errorOf(() =>
          parseOpenMeteoResponse(text, SOURCE, { hourly: ["temperature_2m"], locations: 1 }),
        );
        expect(message).to.equal(
          `${SOURCE}: the body is an Open-Meteo error: ${(JSON.parse(text) as ErrorFixture).reason}`,
        );
      });
    }

    it("reports a location count that does not match the request", () => {
      const message = errorOf(() =>
        parseOpenMeteoResponse(JSON.stringify([hourlyBody(), hourlyBody()]), SOURCE, {
          hourly: ["temperature_2m"],
          locations: 3,
        }),
      );
      expect(message).to.equal(`${SOURCE}: expected 3 locations (one per requested coordinate), got 2`);
      const single = errorOf(() => parseOpenMeteoResponse(JSON.stringify(hourlyBody()), SOURCE, { locations: 2 }));
      expect(single).to.equal(
        `${SOURCE}: expected 2 locations (one per requested coordinate), got 1 (a single object)`,
      );
    });

    it("reports a variable whose length differs from time", () => {
      const body = hourlyBody((b) => b.hourly.precipitation!.pop());
      const message = errorOf(() =>
        parseOpenMeteoResponse(JSON.stringify(body), SOURCE, { hourly: ["temperature_2m", "precipitation"] }),
      );
      expect(message).to.equal(
        `${SOURCE}: hourly.precipitation has 3 values but hourly.time has 4; every variable must have one value ` +
          "per time step (was the body truncated?)",
      );
    });

    it("reports a value that is not a number or null, with its index and location", () => {
      const body = [hourlyBody(), hourlyBody((b) => (b.hourly.temperature_2m![1] = "12.5"))];
      const message = errorOf(() =>
        parseOpenMeteoResponse(JSON.stringify(body), SOURCE, { hourly: ["temperature_2m"] }),
      );
      expect(message).to.include(
        `${SOURCE}: hourly.temperature_2m[1] is "12.5" in location 2 of 2; values must be numbers or null`,
      );
    });

    it("reports malformed and out-of-order time labels", () => {
      const bad = hourlyBody((b) => (b.hourly.time![2] = "2024-03-10 02:00"));
      expect(
        errorOf(() => parseOpenMeteoResponse(JSON.stringify(bad), SOURCE, { hourly: ["temperature_2m"] })),
      ).to.equal(
        `${SOURCE}: hourly.time[2] is "2024-03-10 02:00"; with unit "iso8601" it must be a local time YYYY-MM-DDTHH:MM`,
      );
      const repeated = hourlyBody((b) => (b.hourly.time![2] = "2024-03-10T01:00"));
      expect(
        errorOf(() => parseOpenMeteoResponse(JSON.stringify(repeated), SOURCE, { hourly: ["temperature_2m"] })),
      ).to.include(`${SOURCE}: hourly.time[2] ("2024-03-10T01:00") is not after hourly.time[1] ("2024-03-10T01:00")`);
    });

    it("reports missing units and coordinates", () => {
      const noUnits = hourlyBody((b) => delete b.hourly_units.temperature_2m);
      expect(
        errorOf(() => parseOpenMeteoResponse(JSON.stringify(noUnits), SOURCE, { hourly: ["temperature_2m"] })),
      ).to.equal(`${SOURCE}: hourly_units.temperature_2m is missing; every variable comes with its unit`);
      const noOffset = hourlyBody((b) => delete b.utc_offset_seconds);
      expect(errorOf(() => parseOpenMeteoResponse(JSON.stringify(noOffset), SOURCE))).to.match(
        new RegExp(`^${SOURCE}: utc_offset_seconds is missing; expected a number`),
      );
    });

    it("throws OpenMeteoResponseError carrying the source", () => {
      let caught: unknown;
      try {
        parseOpenMeteoResponse("[", SOURCE);
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(OpenMeteoResponseError);
      expect((caught as OpenMeteoResponseError).source).to.equal(SOURCE);
    });

    it("reports bytes that are not UTF-8", () => {
      const message = errorOf(() => parseOpenMeteoResponse(new Uint8Array([0x7b, 0xff, 0x7d]), SOURCE));
      expect(message).to.match(new RegExp(`^${SOURCE}: not valid UTF-8`));
    });
  });

  describe("the byte scanners agree with the reference parser", () => {
    const expectations: ResponseExpectation[] = [{ hourly: "all", daily: "all" }, { hourly: ["temperature_2m"] }, {}];
    const bodies = (): [string, string][] => [
      ...readdirSync(path.join(FIXTURES, "recorded"))
        .sort()
        .map((f): [string, string] => [f, fixture("recorded", f)]),
      ...readdirSync(path.join(FIXTURES, "errors"))
        .sort()
        .map((f): [string, string] => [f, fixture("errors", f)]),
      ["a multi-location body", JSON.stringify([hourlyBody(), hourlyBody((b) => (b.latitude = -33.9))])],
      ["nan", JSON.stringify(hourlyBody()).replace("-0.5", "nan")],
      ["truncated", JSON.stringify([hourlyBody(), hourlyBody()]).slice(0, -30)],
      [
        "a string among the values",
        JSON.stringify([hourlyBody(), hourlyBody((b) => (b.hourly.temperature_2m![1] = "1"))]),
      ],
      ["an unsorted time", JSON.stringify(hourlyBody((b) => (b.hourly.time![2] = "2024-03-10T01:00")))],
      ["escapes and non-ASCII", JSON.stringify({ ...hourlyBody(), 'k\\"ey': "°\u00b0" })],
    ];

    it("on every recorded body and broken ones: same values, or the same error", () => {
      for (const [name, body] of bodies()) {
        for (const expect of expectations) {
          // Written out: chai's expect is shadowed by the expectation in this loop.
          const scanned = scannedOrError(body, expect);
          const parsed = parsedOrError(body, expect);
          if (JSON.stringify(scanned) !== JSON.stringify(parsed)) {
            throw new Error(`${name} with ${JSON.stringify(expect)}: ${JSON.stringify(scanned)?.slice(0, 300)}`);
          }
        }
      }
    });

    it("on a body streamed in chunks of any size: the same locations; the same errors, found in body order", async () => {
      for (const [name, body] of bodies()) {
        const reference = parsedOrError(body, { hourly: "all", daily: "all" });
        for (const size of [1, 7, 100, 1 << 20]) {
          const streamed = await streamedOrError(body, { hourly: "all", daily: "all" }, size);
          if (typeof reference === "string") {
            expect(streamed, `${name} in chunks of ${size}`)
              .to.be.a("string")
              .and.match(new RegExp(`^${SOURCE}: `));
          } else {
            expect(streamed, `${name} in chunks of ${size}`).to.deep.equal(reference);
          }
        }
      }
    });

    it("names the location of a bad element of a stream, with the count of the whole body", async () => {
      const body = JSON.stringify([hourlyBody(), hourlyBody((b) => delete b.hourly.temperature_2m), hourlyBody()]);
      expect(await streamedOrError(body, { hourly: ["temperature_2m"] }, 16)).to.equal(
        `${SOURCE}: hourly.temperature_2m is missing from location 2 of 3; the request asked for it ` +
          "(is the variable name right for this endpoint?)",
      );
      expect(await streamedOrError(body, { hourly: ["temperature_2m"], locations: 2 }, 16)).to.include(
        "location 2 of 2",
      );
    });

    it("reads numbers exactly as JSON.parse does, -0 and exponents included", () => {
      const numbers = ["0", "-0", "-0.0", "12.3", "-12.3", "0.05", "85", "1e5", "-1.5E-2", "123456789012345678"];
      // The values as raw JSON text, where the placeholder was.
      const bodyWith = (values: readonly string[]): string =>
        JSON.stringify(
          hourlyBody((b) => {
            b.hourly = {
              time: values.map((_, i) => `2024-03-10T${String(i).padStart(2, "0")}:00`),
              temperature_2m: ["VALUES"],
            };
          }),
        ).replace('["VALUES"]', `[${values.join(",")}]`);
      const expectation = { hourly: ["temperature_2m"] };
      const [location] = scanOpenMeteoResponse(new TextEncoder().encode(bodyWith(numbers)), SOURCE, expectation);
      const scanned = Array.from(location!.hourly!.values[0]!);
      const values = numbers.map((n) => JSON.parse(n) as number);
      expect(scanned.map((v) => Object.is(v, -0))).to.deep.equal(values.map((v) => Object.is(v, -0)));
      expect(scanned).to.deep.equal(values);
      for (const bad of ["01", "1.", ".5", "-", "+1", "1e"]) {
        const text = bodyWith([bad, ...numbers.slice(1)]);
        expect(scannedOrError(text, expectation), bad).to.equal(parsedOrError(text, expectation));
      }
    });
  });

  it("parses a year of hourly data x 12 variables for 100 locations (876,000 rows) within seconds", function () {
    // 876,000 rows x 12 variables, the size later benchmarks use.
    this.timeout(60_000);
    const hours = 8760;
    const time: string[] = [];
    for (let h = 0; h < hours; h++) time.push(new Date(Date.UTC(2023, 0, 1) + h * HOUR).toISOString().slice(0, 16));
    const variables = Array.from({ length: 12 }, (_, i) => `v${i}`);
    const element = {
      latitude: 1,
      longitude: 2,
      utc_offset_seconds: 3600,
      hourly_units: Object.fromEntries<string>([["time", "iso8601"], ...variables.map((v) => [v, "°C"] as const)]),
      hourly: Object.fromEntries<BlockValues>([
        ["time", time],
        ...variables.map((v) => [v, time.map((_, i) => (i % 97 === 0 ? null : i / 10))] as const),
      ]),
    };
    const text = JSON.stringify(Array.from({ length: 100 }, () => element));
    const started = performance.now();
    const locations = parseOpenMeteoResponse(text, SOURCE, { hourly: variables, locations: 100 });
    const elapsed = performance.now() - started;
    expect(locations.reduce((n, l) => n + l.hourly!.utcMillis.length, 0)).to.equal(876_000);
    expect(elapsed, `${elapsed.toFixed(0)} ms`).to.be.below(5_000);
  });
});
