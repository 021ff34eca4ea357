import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { Readable } from "node:stream";
import { expect } from "chai";
import {
  OpenMeteoResponseError,
  dayOfIsoDate,
  daysFromCivil,
  isoDateOfDay,
  scanOpenMeteoStream,
  type ResponseExpectation,
  type ScannedLocation,
} from "../../pipeline/transform/openmeteo-response";
import { rejectionOf } from "../support/rejection";

const FIXTURES = path.join(__dirname, "..", "fixtures", "open-meteo");
const SOURCE = "open-meteo/forecast/date=2026-11-21/0000-ab12cd34ef56.json";
const HOUR = 3_600_000;
const CHUNK_SIZES = [1, 7, 100, 1 << 20];

function fixture(folder: string, name: string): string {
  return readFileSync(path.join(FIXTURES, folder, name), "utf8");
}

function fixtures(folder: string): [string, string][] {
  return readdirSync(path.join(FIXTURES, folder))
    .sort()
    .map((f): [string, string] => [f, fixture(folder, f)]);
}

/** A location as plain data: typed arrays as arrays, null for NaN (-0 kept). */
type PlainLocation = Record<string, unknown>;

function plainLocation(location: ScannedLocation): PlainLocation {
  const block = (b: ScannedLocation["hourly"]) =>
    b && {
      ...b,
      utcMillis: Array.from(b.utcMillis),
      localDays: Array.from(b.localDays),
      values: b.values.map((v) => Array.from(v, (x) => (Number.isNaN(x) ? null : x))),
    };
  return { ...location, hourly: block(location.hourly), daily: block(location.daily) };
}

/** The body as a stream of chunks of `size` bytes; one chunk in an array for Infinity. */
function chunked(body: string | Uint8Array, size: number): Iterable<Uint8Array> | Readable {
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  if (size === Infinity) return [bytes];
  return Readable.from(
    Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size)),
  );
}

/** The scanner's locations, copied in the callback (it reuses its arrays for the next location). */
async function scan(
  body: string | Uint8Array,
  expectation: ResponseExpectation = {},
  size = 1 << 20,
): Promise<PlainLocation[]> {
  const out: PlainLocation[] = [];
  const count = await scanOpenMeteoStream(chunked(body, size), SOURCE, expectation, (l) => out.push(plainLocation(l)));
  expect(count).to.equal(out.length);
  return out;
}

async function errorOf(body: string | Uint8Array, expectation: ResponseExpectation = {}, size = 1 << 20) {
  return (await rejectionOf(scan(body, expectation, size))).message;
}

// ---- the oracle: what a body holds, decoded with JSON.parse and Date.UTC, independently of the scanner ----

interface RawElement {
  latitude: number;
  longitude: number;
  elevation?: number | null;
  utc_offset_seconds: number;
  location_id?: number;
  [key: string]: unknown;
}

/** Epoch ms of an Open-Meteo time value: epoch seconds, or a local label minus the offset. */
function utcOf(value: string | number, format: string, offsetSeconds: number): number {
  if (format === "unixtime") return (value as number) * 1000;
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?$/.exec(value as string);
  if (!m) throw new Error(`test oracle: ${value} is not an iso8601 label`);
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +(m[4] ?? 0), +(m[5] ?? 0)) - offsetSeconds * 1000;
}

/** Day number of the local date of a time value: the label's date, or the date of t + offset. */
function localDayOf(value: string | number, format: string, offsetSeconds: number): number {
  const date =
    format === "unixtime"
      ? new Date(((value as number) + offsetSeconds) * 1000).toISOString().slice(0, 10)
      : (value as string).slice(0, 10);
  return Date.UTC(+date.slice(0, 4), +date.slice(5, 7) - 1, +date.slice(8, 10)) / 86_400_000;
}

/** What the scanner should give for a body, from JSON.parse of it. */
function oracle(text: string, expectation: ResponseExpectation): PlainLocation[] {
  const json = JSON.parse(text) as RawElement | RawElement[];
  const elements = Array.isArray(json) ? json : [json];
  const block = (e: RawElement, name: "hourly" | "daily") => {
    const request = expectation[name];
    if (request === undefined || (request !== "all" && request.length === 0)) return undefined;
    if (request === "all" && e[name] === undefined) return undefined;
    const data = e[name] as Record<string, (string | number | null)[]>;
    const units = e[`${name}_units`] as Record<string, string>;
    const format = units["time"]!;
    const offset = e.utc_offset_seconds;
    const variables = request === "all" ? Object.keys(data).filter((k) => k !== "time") : [...request];
    const time = data["time"] as (string | number)[];
    return {
      timeFormat: format,
      variables,
      units: Object.fromEntries(variables.map((v) => [v, units[v]])),
      utcMillis: time.map((t) => utcOf(t, format, offset)),
      localDays: time.map((t) => localDayOf(t, format, offset)),
      values: variables.map((v) =>
        data[v]!.map((x) =>
          x === null ? null : units[v] === "iso8601" || units[v] === "unixtime" ? utcOf(x, units[v], offset) : x,
        ),
      ),
    };
  };
  return elements.map((e, index) => ({
    index,
    latitude: e.latitude,
    longitude: e.longitude,
    elevation: e.elevation ?? null,
    utcOffsetSeconds: e.utc_offset_seconds,
    locationId: e.location_id,
    hourly: block(e, "hourly"),
    daily: block(e, "daily"),
  }));
}

// ---- bodies the tests build ----

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
  [key: string]: unknown;
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

const text = (body: unknown): string => JSON.stringify(body);
const TEMPERATURE = { hourly: ["temperature_2m"] } as const;

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

    it("reads a local label as if it were UTC, before 1970 too, and rejects labels that are not YYYY-MM-DDTHH:MM", async () => {
      const labels = (time: string[]) =>
        text(
          hourlyBody((b) =>
            Object.assign(b, { utc_offset_seconds: 0, hourly: { time, temperature_2m: time.map(() => 1) } }),
          ),
        );
      const [location] = await scan(labels(["1953-01-31T02:00", "2024-02-29T23:59"]), TEMPERATURE);
      expect((location!.hourly as { utcMillis: number[] }).utcMillis).to.deep.equal([
        Date.UTC(1953, 0, 31, 2, 0),
        Date.UTC(2024, 1, 29, 23, 59),
      ]);
      for (const label of [
        "2024-01-01T24:00",
        "2024-01-01 00:00",
        "2024-01-01T00:00:00",
        "2024-01-01T0a:00",
        "2024-01-01",
        "2023-02-29T00:00",
      ]) {
        expect(await errorOf(labels([label]), TEMPERATURE), label).to.equal(
          `${SOURCE}: hourly.time[0] is ${JSON.stringify(label)}; with unit "iso8601" it must be a local time YYYY-MM-DDTHH:MM`,
        );
      }
    });
  });

  describe("every recorded body, in chunks of any size, holds what JSON.parse finds in it", () => {
    const expectations: ResponseExpectation[] = [
      { hourly: "all", daily: "all" },
      { hourly: "all" },
      { daily: "all" },
      {},
    ];
    for (const [name, body] of fixtures("recorded")) {
      it(name, async () => {
        for (const expectation of expectations) {
          const expected = oracle(body, expectation);
          for (const size of CHUNK_SIZES) {
            expect(
              await scan(body, expectation, size),
              `${JSON.stringify(expectation)} in chunks of ${size}`,
            ).to.deep.equal(expected);
          }
        }
        // With a list of variables (the first hourly one), and the location count of the request.
        const json = JSON.parse(body) as RawElement | RawElement[];
        const elements = Array.isArray(json) ? json : [json];
        const hourly = elements[0]!["hourly"] as object | undefined;
        const listed: ResponseExpectation = {
          hourly: hourly
            ? Object.keys(hourly)
                .filter((k) => k !== "time")
                .slice(0, 1)
            : [],
          locations: elements.length,
        };
        expect(await scan(body, listed, 64)).to.deep.equal(oracle(body, listed));
      });
    }
  });

  describe("time conversion", () => {
    it("subtracts a half-hour offset (34200 s, Adelaide) from iso8601 labels", async () => {
      const body = fixture("recorded", "vinea_archive_hourly_6vars_3days_adelaide_ms.json");
      const [location] = await scan(body, TEMPERATURE);
      expect(location!["utcOffsetSeconds"]).to.equal(34200);
      // 00:00 in Adelaide is 14:30 UTC of the day before.
      const { utcMillis, localDays } = location!.hourly as { utcMillis: number[]; localDays: number[] };
      expect(new Date(utcMillis[0]!).toISOString()).to.equal("2025-01-09T14:30:00.000Z");
      expect(isoDateOfDay(localDays[0]!)).to.equal("2025-01-10");
    });

    it("adds a negative offset and keeps the local date as the row's date", async () => {
      const body = hourlyBody((b) => {
        b.utc_offset_seconds = -18000;
        b.hourly.time = ["2024-01-05T22:00", "2024-01-05T23:00", "2024-01-06T00:00", "2024-01-06T01:00"];
      });
      const [location] = await scan(text(body), TEMPERATURE);
      const { utcMillis, localDays } = location!.hourly as { utcMillis: number[]; localDays: number[] };
      expect(utcMillis).to.deep.equal([3, 4, 5, 6].map((h) => Date.UTC(2024, 0, 6, h)));
      expect(localDays.map(isoDateOfDay)).to.deep.equal(["2024-01-05", "2024-01-05", "2024-01-06", "2024-01-06"]);
    });

    it("takes unixtime as UTC seconds and dates a step by t + offset", async () => {
      const t0 = Date.UTC(2024, 0, 6, 3) / 1000;
      const body = hourlyBody((b) => {
        b.utc_offset_seconds = -18000;
        b.hourly_units.time = "unixtime";
        b.hourly.time = [t0, t0 + 3600, t0 + 7200, t0 + 10800];
        b.daily_units = { time: "unixtime", sunrise: "unixtime" };
        // Open-Meteo's daily unixtime is local midnight as a UTC instant.
        b.daily = { time: [Date.UTC(2024, 0, 5) / 1000 + 18000], sunrise: [Date.UTC(2024, 0, 5, 12, 20) / 1000] };
      });
      const [location] = await scan(text(body), { hourly: ["temperature_2m"], daily: ["sunrise"] });
      const hourly = location!.hourly as { utcMillis: number[]; localDays: number[] };
      const daily = location!.daily as { localDays: number[]; values: number[][] };
      expect(hourly.utcMillis).to.deep.equal([0, 1, 2, 3].map((h) => (t0 + h * 3600) * 1000));
      expect(hourly.localDays.map(isoDateOfDay)).to.deep.equal([
        "2024-01-05",
        "2024-01-05",
        "2024-01-06",
        "2024-01-06",
      ]);
      expect(daily.localDays.map(isoDateOfDay)).to.deep.equal(["2024-01-05"]);
      expect(daily.values[0]).to.deep.equal([Date.UTC(2024, 0, 5, 12, 20)]);
    });

    it("converts daily sunrise labels to UTC instants and keeps nulls", async () => {
      const [location] = await scan(fixture("recorded", "frenck_forecast_16_days_trailing_nulls_trimmed.json"), {
        daily: "all",
      });
      const daily = location!.daily as { variables: string[]; values: (number | null)[][]; localDays: number[] };
      expect(daily.variables).to.deep.equal(["temperature_2m_max", "weather_code", "sunrise"]);
      expect(daily.values[0]).to.deep.equal([18.3, null]);
      expect(daily.values[2]).to.deep.equal([Date.UTC(2026, 9, 17, 6, 1), Date.UTC(2026, 9, 18, 6, 2)]);
      expect(daily.localDays.map(isoDateOfDay)).to.deep.equal(["2026-10-17", "2026-10-18"]);
    });
  });

  describe("shape", () => {
    it("reads one location from an object and several, in order, from an array", async () => {
      const single = await scan(fixture("recorded", "upstream_server_test_single_location_iso8601.json"), {
        hourly: "all",
      });
      const multi = await scan(fixture("recorded", "upstream_server_test_multi_location_iso8601.json"), {
        hourly: "all",
      });
      expect(single).to.have.lengthOf(1);
      expect(single[0]!["elevation"]).to.equal(null);
      expect(multi.map((l) => [l["index"], l["locationId"]])).to.deep.equal([
        [0, undefined],
        [1, 1],
      ]);
    });

    it('takes every variable of a block with "all" and ignores blocks it was not asked for', async () => {
      const [location] = await scan(fixture("recorded", "upstream_server_test_single_location_iso8601.json"), {
        hourly: "all",
      });
      const hourly = location!.hourly as { variables: string[]; units: Record<string, string> };
      expect(hourly.variables).to.deep.equal(["temperature_2m", "windspeed_10m"]);
      expect(hourly.units).to.deep.equal({ temperature_2m: "°C", windspeed_10m: "km/h" });
      expect(location!.daily).to.equal(undefined);
    });

    it("accepts what JSON.parse accepts: escapes, non-ASCII, __proto__, exponents, odd whitespace, nested extras", async () => {
      const bodies = [
        text({ ...hourlyBody(), 'k\\"ey': "°\u00b0\u2028", "\u00e9": ["\ud83d\ude00", "\\u0041"] }),
        text(hourlyBody()).replace('"latitude"', '"__proto__":{"a":1},"latitude"'),
        text(hourlyBody()).replace('"elevation":38', '"elevation":3.8e1,"extra":[[[{"x":[-1E-2,true,false,null]}]]]'),
        JSON.stringify(hourlyBody(), null, " \t\r\n"),
        text(hourlyBody((b) => (b.hourly_units["time"] = "\u0069so8601"))).replace("iso8601", "\\u0069so8601"),
        ` \n[${text(hourlyBody())} , ${text(hourlyBody((b) => (b.latitude = -33.9)))}]\n `,
      ];
      for (const body of bodies) {
        expect(await scan(body, { hourly: "all" }, 3), body.slice(0, 80)).to.deep.equal(
          oracle(body, { hourly: "all" }),
        );
      }
    });

    it("reads numbers exactly as JSON.parse does, -0, exponents and long ones included", async () => {
      const numbers = [
        "0",
        "-0",
        "-0.0",
        "12.3",
        "-12.3",
        "0.05",
        "85",
        "1e5",
        "-1.5E-2",
        "123456789012345678",
        "0.1234567890123456789",
      ];
      const body = text(
        hourlyBody((b) => {
          b.hourly = {
            time: numbers.map((_, i) => `2024-03-10T${String(i).padStart(2, "0")}:00`),
            temperature_2m: ["VALUES"],
          };
        }),
      ).replace('["VALUES"]', `[${numbers.join(",")}]`);
      const [location] = await scan(body, TEMPERATURE);
      const scanned = (location!.hourly as { values: number[][] }).values[0]!;
      const values = numbers.map((n) => JSON.parse(n) as number);
      expect(scanned.map((v) => Object.is(v, -0))).to.deep.equal(values.map((v) => Object.is(v, -0)));
      expect(scanned).to.deep.equal(values);
    });

    it("reads full-precision numbers exactly as JSON.parse does, on both sides of 2^53", async () => {
      // Digits below 2^53 take the exact fast path, the rest Number(): both must give JSON.parse's double.
      const edges = [
        "9007199254740991",
        "9007199254740992",
        "9007199254740993",
        "900719925474099.3",
        "900719925474099.5",
        "-9.007199254740993",
        "0.9007199254740993",
        "0.09637440341614609",
        "-4.257165872173306",
        "-3.9435463990532638",
        "1.7976931348623157",
        "0.30000000000000004",
        "123.45678901234567890123",
      ];
      let seed = 7;
      const random = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
      const numbers = [...edges];
      while (numbers.length < 24 * 365) {
        const scale = 10 ** Math.floor(random() * 8 - 3);
        numbers.push(String((random() - 0.5) * scale));
      }
      const body = text(
        hourlyBody((b) => {
          b.hourly = {
            time: numbers.map((_, i) => new Date(Date.UTC(2024, 0, 1) + i * HOUR).toISOString().slice(0, 16)),
            temperature_2m: ["VALUES"],
          };
        }),
      ).replace('["VALUES"]', `[${numbers.join(",")}]`);
      const [location] = await scan(body, TEMPERATURE);
      const scanned = (location!.hourly as { values: number[][] }).values[0]!;
      const values = numbers.map((n) => JSON.parse(n) as number);
      const wrong = values.flatMap((v, i) => (Object.is(scanned[i], v) ? [] : [`${numbers[i]} -> ${scanned[i]}`]));
      expect(wrong).to.deep.equal([]);
    });

    it("finds the end of long arrays of numbers and strings holding brackets and quotes, in chunks of any size", async () => {
      // Arrays far longer than the splitter's byte-by-byte stretch, next to strings that hold every
      // structural byte (escaped quotes too), and a number array as the last member of an element.
      const hours = 200;
      const time = Array.from({ length: hours }, (_, h) =>
        new Date(Date.UTC(2024, 0, 1) + h * HOUR).toISOString().slice(0, 16),
      );
      const element = (l: number): Record<string, unknown> => ({
        latitude: l,
        longitude: 2,
        note: 'a ] } [ { \\" "x" \\\\',
        utc_offset_seconds: 0,
        hourly_units: { time: "iso8601", temperature_2m: "°C", precipitation: "mm" },
        hourly: {
          time,
          temperature_2m: time.map((_, i) => (i % 31 === 0 ? null : -12.25 + i / 8 + l)),
          label: "[{]}",
          precipitation: time.map((_, i) => i * 1000.5),
        },
        tail: [1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5, 11.5, 12.5, 13.5, 14.5, 15.5],
      });
      // A plain stretch longer than that (a long number, spaces) right before a string of brackets.
      const body = text([element(0), element(1), element(2)]).replace(
        /"longitude":2,/g,
        `"longitude":2,"pad":${"1234567890".repeat(5)},${" ".repeat(40)}"brackets":"]]}}[",`,
      );
      const expectation = { hourly: ["temperature_2m", "precipitation"], locations: 3 };
      for (const size of [...CHUNK_SIZES, 31, 33, 4096]) {
        expect(await scan(body, expectation, size), `chunks of ${size}`).to.deep.equal(oracle(body, expectation));
      }
    });

    it("streams a year of hourly data x 12 variables for 10 locations in small chunks, every value as generated", async function () {
      // 6 MB of JSON, and JSON.parse of it for the oracle: seconds, more on a busy machine.
      this.timeout(120_000);
      const hours = 8760;
      const time = Array.from({ length: hours }, (_, h) =>
        new Date(Date.UTC(2023, 0, 1) + h * HOUR).toISOString().slice(0, 16),
      );
      const variables = Array.from({ length: 12 }, (_, i) => `v${i}`);
      const elements = Array.from({ length: 10 }, (_, l) => ({
        latitude: l,
        longitude: 2,
        utc_offset_seconds: 3600,
        hourly_units: Object.fromEntries<string>([
          ["time", "iso8601"],
          ...variables.map((v): [string, string] => [v, "°C"]),
        ]),
        hourly: Object.fromEntries<BlockValues>([
          ["time", time],
          ...variables.map((v, k): [string, BlockValues] => [
            v,
            time.map((_, i) => ((i + k + l) % 97 === 0 ? null : (i - 4000) / 10 + k)),
          ]),
        ]),
      }));
      const body = text(elements);
      const expectation = { hourly: variables, locations: 10 };
      expect(await scan(body, expectation, 65_536)).to.deep.equal(oracle(body, expectation));
    });
  });

  describe("errors name the source, the location, the field and the value, and the fix", () => {
    it("reports nan as not JSON, where it is, and what to check", async () => {
      const body = text([hourlyBody(), hourlyBody()]).replace("-0.5", "nan");
      const message = await errorOf(body, { ...TEMPERATURE, locations: 2 }, 7);
      expect(message).to.match(
        new RegExp(
          `^${SOURCE}: not valid JSON at byte \\d+ \\(location 1 of 2, hourly\\.temperature_2m\\[2\\]\\): nan, `,
        ),
      );
      expect(message).to.include("null,nan,2");
      expect(message).to.include("Open-Meteo has been seen to write nan for a coordinate outside a model's domain");
      expect(message).to.include("check location 1's coordinates (52.52, 13.419998) against the endpoint's models");
      // The byte named is the n of nan.
      const at = Number(/at byte (\d+)/.exec(message)![1]);
      expect(
        Buffer.from(body)
          .subarray(at, at + 3)
          .toString(),
      ).to.equal("nan");
    });

    it("reports a truncated body as cut off, wherever it is cut", async () => {
      const body = text([hourlyBody(), hourlyBody()]);
      for (let end = 0; end < body.length; end++) {
        const message = await errorOf(body.slice(0, end), TEMPERATURE, 5);
        expect(message, `cut at ${end}`).to.match(
          end === 0
            ? new RegExp(`^${SOURCE}: not valid JSON: the body is empty`)
            : new RegExp(`^${SOURCE}: not valid JSON`),
        );
      }
      const cut = Buffer.from(body).indexOf('"2024-03-10T02:00"') + 5;
      expect(await errorOf(Buffer.from(body).subarray(0, cut), TEMPERATURE)).to.equal(
        `${SOURCE}: not valid JSON: the body ends at byte ${cut}, inside location 1, hourly.time[2]; it was cut off: fetch it again`,
      );
      expect(await errorOf(`${text(hourlyBody())}`.slice(0, -1), TEMPERATURE)).to.match(
        /: not valid JSON: the body ends at byte \d+; it was cut off: fetch it again$/,
      );
      expect(await errorOf(body.slice(0, -1), TEMPERATURE)).to.equal(
        `${SOURCE}: not valid JSON: the body ends at byte ${Buffer.byteLength(body) - 1} after location 2, before the array's closing ]; it was cut off: fetch it again`,
      );
    });

    it("rejects every body JSON.parse rejects, as not valid JSON", async () => {
      const good = text(hourlyBody());
      const broken = [
        good.replace('"latitude"', "latitude"),
        good.replace('"latitude"', "'latitude'"),
        good.replace("]", ",]"),
        good.replace("}", ",}"),
        good.replace(":", "::"),
        good.replace("38", "038"),
        good.replace("38", "+38"),
        good.replace("38", "38."),
        good.replace("38", ".38"),
        good.replace("38", "3e"),
        good.replace("38", "Infinity"),
        good.replace("38", "-Infinity"),
        good.replace("38", "NaN"),
        good.replace("38", "tru"),
        good.replace("null", "nul"),
        good.replace("null", "None"),
        good.replace("°C", "\t°C"),
        good.replace("°C", "\\x41"),
        good.replace("°C", "\\u00e"),
        good.replace("mm", "mm\\"),
        `${good} x`,
        `${good}${good}`,
        `[${good},]`,
        `[,${good}]`,
        `[${good}}`,
        `{${good}`,
        "<!DOCTYPE html><html><body>Back soon</body></html>",
        "[]]",
        "{}{}",
        "   ",
        `\ufeff${good}`,
        `/* c */${good}`,
      ];
      for (const body of broken) {
        expect(() => JSON.parse(body) as unknown, body).to.throw(SyntaxError);
        for (const size of [1, 1 << 20]) {
          expect(await errorOf(body, TEMPERATURE, size), body).to.match(new RegExp(`^${SOURCE}: not valid JSON`));
        }
      }
    });

    it("rejects every byte deleted from a recorded body where JSON.parse does, and reads it alike where JSON.parse does not", async function () {
      // ~4,700 bodies: seconds alone, far more on a busy machine.
      this.timeout(180_000);
      for (const name of [
        "frenck_forecast_16_days_trailing_nulls_trimmed.json",
        "upstream_server_test_multi_location_unixtime.json",
      ]) {
        const body = fixture("recorded", name);
        const expectation: ResponseExpectation = { hourly: "all", daily: "all" };
        for (let at = 0; at < body.length; at++) {
          const edited = body.slice(0, at) + body.slice(at + 1);
          let valid = true;
          try {
            JSON.parse(edited);
          } catch {
            valid = false;
          }
          const result = await scan(edited, expectation, Infinity).catch((error: Error) => error.message);
          if (!valid) {
            expect(result, `${name} without byte ${at}`)
              .to.be.a("string")
              .and.match(new RegExp(`^${SOURCE}: not valid JSON`));
          } else if (typeof result === "string") {
            // Valid JSON, not a valid body (a label or name broken): never reported as bad JSON.
            expect(result, `${name} without byte ${at}`).to.not.match(/not valid JSON/);
          } else {
            expect(result, `${name} without byte ${at}`).to.deep.equal(oracle(edited, expectation));
          }
        }
      }
    });

    it("reports bytes that are not UTF-8, inside strings and out", async () => {
      const good = new TextEncoder().encode(text(hourlyBody()));
      const degree = good.indexOf(0xb0); // the second byte of "°"
      const cases: [string, Uint8Array][] = [
        [
          "a lone continuation byte",
          Uint8Array.from([...good.subarray(0, degree - 1), 0xb0, ...good.subarray(degree + 1)]),
        ],
        [
          "an overlong encoding",
          Uint8Array.from([...good.subarray(0, degree - 1), 0xc0, 0x80, ...good.subarray(degree + 1)]),
        ],
        [
          "an encoded surrogate",
          Uint8Array.from([...good.subarray(0, degree - 1), 0xed, 0xa0, 0x80, ...good.subarray(degree + 1)]),
        ],
        ["Latin-1", Uint8Array.from([...good.subarray(0, degree - 1), 0xb0, ...good.subarray(degree + 1)])],
        ["0xff between members", Uint8Array.from([0x7b, 0xff, 0x7d])],
        ["0xff between elements", Uint8Array.from([0x5b, ...good, 0xff, 0x5d])],
      ];
      for (const [name, body] of cases) {
        expect(() => new TextDecoder("utf-8", { fatal: true }).decode(body), name).to.throw();
        expect(await errorOf(body, TEMPERATURE, 3), name).to.match(
          new RegExp(
            `^${SOURCE}: not valid UTF-8 at byte \\d+.*; Open-Meteo sends UTF-8 JSON \\(was the body re-encoded\\?\\)$`,
          ),
        );
      }
    });

    it("names a variable missing from one location of a multi-location body, with the count of the whole body", async () => {
      const body = text([hourlyBody(), hourlyBody((b) => delete b.hourly["temperature_2m"]), hourlyBody()]);
      for (const expectation of [TEMPERATURE, { ...TEMPERATURE, locations: 3 }]) {
        expect(await errorOf(body, expectation, 16)).to.equal(
          `${SOURCE}: hourly.temperature_2m is missing from location 2 of 3; the request asked for it ` +
            "(is the variable name right for this endpoint?)",
        );
      }
    });

    it("names a missing block", async () => {
      expect(await errorOf(text(hourlyBody()), { daily: ["sunrise"] })).to.equal(
        `${SOURCE}: the daily block is missing; the request asked for daily variables (sunrise)`,
      );
    });

    for (const [file, body] of fixtures("errors")) {
      it(`reports an Open-Meteo error body with its reason (${file})`, async () => {
        expect(await errorOf(body, { ...TEMPERATURE, locations: 1 }, 7)).to.equal(
          `${SOURCE}: the body is an Open-Meteo error: ${(JSON.parse(body) as { reason: string }).reason}`,
        );
      });
    }

    it("reports a location count that does not match the request", async () => {
      expect(await errorOf(text([hourlyBody(), hourlyBody()]), { ...TEMPERATURE, locations: 3 })).to.equal(
        `${SOURCE}: expected 3 locations (one per requested coordinate), got 2`,
      );
      expect(await errorOf(text(hourlyBody()), { locations: 2 })).to.equal(
        `${SOURCE}: expected 2 locations (one per requested coordinate), got 1 (a single object)`,
      );
      expect(await errorOf("[]", { locations: 2 })).to.equal(
        `${SOURCE}: expected 2 locations (one per requested coordinate), got 0`,
      );
    });

    it("ranks errors as a whole-body parse would: bad JSON, then an error body, then the count, then a location", async () => {
      const missing = hourlyBody((b) => delete b.hourly["temperature_2m"]);
      const error = { error: true, reason: "Too many concurrent requests" };
      const cases: [unknown[], string, string][] = [
        [[missing, hourlyBody(), "NAN"], "not valid JSON", "a location that is not JSON after a bad one"],
        [
          [missing, error],
          "the body is an Open-Meteo error: Too many concurrent requests",
          "an error body after a bad location",
        ],
        [[missing, hourlyBody(), hourlyBody()], "expected 2 locations", "too many locations after a bad one"],
        [[hourlyBody(), missing], "hourly.temperature_2m is missing from location 2 of 2", "a bad location"],
      ];
      for (const [elements, message, name] of cases) {
        expect(
          await errorOf(text(elements).replace('"NAN"', "NAN"), { ...TEMPERATURE, locations: 2 }),
          name,
        ).to.include(message);
      }
    });

    it("reports a variable whose length differs from time", async () => {
      const body = hourlyBody((b) => b.hourly["precipitation"]!.pop());
      expect(await errorOf(text(body), { hourly: ["temperature_2m", "precipitation"] })).to.equal(
        `${SOURCE}: hourly.precipitation has 3 values but hourly.time has 4; every variable must have one value ` +
          "per time step (was the body truncated?)",
      );
      const longer = hourlyBody((b) => b.hourly["temperature_2m"]!.push(3));
      expect(await errorOf(text(longer), TEMPERATURE)).to.include(
        "hourly.temperature_2m has 5 values but hourly.time has 4",
      );
    });

    it("reports a value that is not a number or null, with its index and location", async () => {
      for (const value of ["12.5", "2024-03-10T00:00", true, { v: 1 }, [1]]) {
        const body = [hourlyBody(), hourlyBody((b) => (b.hourly["temperature_2m"]![1] = value as string))];
        expect(await errorOf(text(body), TEMPERATURE, 9), JSON.stringify(value)).to.equal(
          `${SOURCE}: hourly.temperature_2m[1] is ${typeof value === "object" ? (Array.isArray(value) ? "an array of 1" : "an object") : JSON.stringify(value)} ` +
            `in location 2 of 2; values must be numbers or null (unit "°C"; only "iso8601"/"unixtime" variables may hold times)`,
        );
      }
    });

    it("reports time-valued variables that are not times", async () => {
      const daily = (sunrise: BlockValues, unit = "iso8601") =>
        text(
          hourlyBody((b) => {
            b.daily_units = { time: "iso8601", sunrise: unit };
            b.daily = { time: ["2024-03-10", "2024-03-11"], sunrise };
          }),
        );
      expect(await errorOf(daily(["2024-03-10T06:01", 5]), { daily: ["sunrise"] })).to.equal(
        `${SOURCE}: daily.sunrise[1] is 5; with unit "iso8601" values must be local times YYYY-MM-DDTHH:MM or null`,
      );
      expect(await errorOf(daily([null, "2024-03-11"]), { daily: ["sunrise"] })).to.equal(
        `${SOURCE}: daily.sunrise[1] is "2024-03-11"; with unit "iso8601" values must be local times YYYY-MM-DDTHH:MM or null`,
      );
      expect(await errorOf(daily([1710050460, 1.5], "unixtime"), { daily: ["sunrise"] })).to.equal(
        `${SOURCE}: daily.sunrise[1] is 1.5; with unit "unixtime" values must be whole epoch seconds or null`,
      );
    });

    it("reports malformed, null and out-of-order time labels", async () => {
      const withTime = (i: number, label: string | number | null, unit = "iso8601") =>
        text(
          hourlyBody((b) => {
            b.hourly_units["time"] = unit;
            b.hourly["time"]![i] = label;
          }),
        );
      expect(await errorOf(withTime(2, "2024-03-10 02:00"), TEMPERATURE)).to.equal(
        `${SOURCE}: hourly.time[2] is "2024-03-10 02:00"; with unit "iso8601" it must be a local time YYYY-MM-DDTHH:MM`,
      );
      expect(await errorOf(withTime(1, null), TEMPERATURE)).to.equal(
        `${SOURCE}: hourly.time[1] is null; with unit "iso8601" it must be a local time YYYY-MM-DDTHH:MM`,
      );
      expect(await errorOf(withTime(0, "2024-03-10T00:00", "unixtime"), TEMPERATURE)).to.equal(
        `${SOURCE}: hourly.time[0] is "2024-03-10T00:00"; with unit "unixtime" it must be whole epoch seconds`,
      );
      expect(await errorOf(withTime(2, "2024-03-10T01:00"), TEMPERATURE)).to.equal(
        `${SOURCE}: hourly.time[2] ("2024-03-10T01:00") is not after hourly.time[1] ("2024-03-10T01:00"); ` +
          "Open-Meteo sends strictly ascending times: was the body edited or concatenated?",
      );
      expect(
        await errorOf(text(hourlyBody((b) => (b.hourly["time"] = "now" as unknown as string[]))), TEMPERATURE),
      ).to.equal(`${SOURCE}: hourly.time is "now"; expected an array of time labels`);
    });

    it("reports missing units, coordinates, offsets and non-objects", async () => {
      const noUnits = hourlyBody((b) => delete b.hourly_units["temperature_2m"]);
      expect(await errorOf(text(noUnits), TEMPERATURE)).to.equal(
        `${SOURCE}: hourly_units.temperature_2m is missing; every variable comes with its unit`,
      );
      const noOffset = [hourlyBody(), hourlyBody((b) => delete b.utc_offset_seconds)];
      expect(await errorOf(text(noOffset))).to.equal(
        `${SOURCE}: utc_offset_seconds is missing in location 2 of 2; expected a number (is this an Open-Meteo forecast/archive body?)`,
      );
      const halfSecond = hourlyBody((b) => (b.utc_offset_seconds = 0.5));
      expect(await errorOf(text(halfSecond))).to.equal(
        `${SOURCE}: utc_offset_seconds is 0.5; expected whole seconds within one day`,
      );
      const latitude = hourlyBody((b) => (b.latitude = "52.5" as unknown as number));
      expect(await errorOf(text(latitude))).to.match(new RegExp(`^${SOURCE}: latitude is "52.5"; expected a number`));
      expect(await errorOf(text([hourlyBody(), 5]))).to.equal(`${SOURCE}: location 2 of 2 is 5; expected an object`);
      expect(
        await errorOf(text(hourlyBody((b) => (b["hourly"] = [1] as unknown as TestBody["hourly"]))), TEMPERATURE),
      ).to.equal(`${SOURCE}: hourly is an array of 1; expected an object of arrays`);
    });

    it("throws OpenMeteoResponseError carrying the source", async () => {
      const error = await rejectionOf(scan("["));
      expect(error).to.be.instanceOf(OpenMeteoResponseError);
      expect((error as OpenMeteoResponseError).source).to.equal(SOURCE);
    });

    it("lets an error of the consumer through at once", async () => {
      const consumer = new Error("the consumer failed");
      const error = await rejectionOf(
        scanOpenMeteoStream(chunked(text([hourlyBody(), hourlyBody()]), 5), SOURCE, TEMPERATURE, () => {
          throw consumer;
        }),
      );
      expect(error).to.equal(consumer);
    });
  });
});
