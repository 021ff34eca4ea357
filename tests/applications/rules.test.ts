/**
 * The pure part of applications: parsing (encodings, line ends, quoting, header), every rule
 * with its reason, the deterministic ids, the quota arithmetic, and the registry merge.
 */
import { createHash } from "node:crypto";
import { expect } from "chai";
import {
  decideRows,
  decodeText,
  existingLocations,
  formatReason,
  locationIdOf,
  mergeLocations,
  parseApplicationFile,
  parseJsonText,
  parseRegistry,
  serializeRegistry,
  appendToRegistry,
  EMPTY_REGISTRY,
  noticeOf,
  showValue,
  type DecisionContext,
  type RawRow,
  type RegistryEntry,
} from "../../pipeline/applications";
import { planRequests } from "../../pipeline/ingest";
import { apiQuotaProblems, apiWeightUse } from "../../pipeline/config";
import { DEFAULT_PIPELINE_SETTINGS } from "../../pipeline/core/settings";

const CONTEXT: DecisionContext = {
  existing: existingLocations(DEFAULT_PIPELINE_SETTINGS.locations, []),
  variableCount: 7,
  limits: {
    maxBytes: 1_048_576,
    minDistanceKm: 1,
    maxDailyWeight: 10_000,
    maxHourlyWeight: 5_000,
    runs: { scheduleCron: "0 6 * * ? *", catchUpDays: 1, maxDatesPerRun: 1 },
  },
  today: "2026-11-20",
  timezone: "UTC",
};

const utf8 = (text: string) => new TextEncoder().encode(text);

function rowsOf(text: string, format: "csv" | "json" = "csv"): readonly RawRow[] {
  const parsed = parseApplicationFile(utf8(text), format);
  if (!parsed.ok) throw new Error(`expected rows, got ${JSON.stringify(parsed.problems)}`);
  return parsed.rows;
}

/** The one-line reasons of a file's rows, or of the file. */
function reasonsOf(text: string, format: "csv" | "json" = "csv", ctx: DecisionContext = CONTEXT): string[] {
  const parsed = parseApplicationFile(utf8(text), format);
  if (!parsed.ok) return parsed.problems.map((r) => formatReason(r));
  return decideRows(parsed.rows, ctx).rejected.flatMap((r) => r.reasons.map((reason) => formatReason(reason, r.row)));
}

/** The id as README documents it, computed here independently of the code. */
function documentedId(name: string, latitude: string, longitude: string): string {
  return `loc-${createHash("sha256").update(`v1\n${name}\n${latitude}\n${longitude}`).digest("hex").slice(0, 16)}`;
}

describe("applications: parsing", () => {
  const rows = [
    { name: "berlin_mitte", latitude: "52.53", longitude: "13.38" },
    { name: "Potsdam", latitude: "52.39", longitude: "13.06" },
  ];

  it("reads UTF-8 with and without a BOM, with CRLF, LF or CR line ends, the same", () => {
    const lines = ["name,latitude,longitude", "berlin_mitte,52.53,13.38", "Potsdam,52.39,13.06"];
    for (const text of [
      lines.join("\n"),
      `${lines.join("\r\n")}\r\n`,
      `\ufeff${lines.join("\r\n")}`,
      `\ufeff${lines.join("\n")}\n\n`,
      lines.join("\r"),
    ]) {
      expect(
        rowsOf(text).map((r) => r.values),
        JSON.stringify(text),
      ).to.deep.equal(rows);
    }
  });

  it("reads quoted fields, columns in any order and header names in any case, and numbers rows as lines", () => {
    const parsed = rowsOf('Longitude,"NAME",latitude\n"13.38","berlin_mitte",52.53\n\n,,\n13.06,"Potsdam",  52.39  \n');
    expect(parsed.map((r) => r.values.name)).to.deep.equal(["berlin_mitte", "Potsdam"]);
    // The header is line 1; an empty line and a ",," line are skipped but counted.
    expect(parsed.map((r) => r.row)).to.deep.equal([2, 5]);
  });

  it("numbers a row by the line it starts on when a quoted field spans lines", () => {
    const parsed = rowsOf('name,latitude,longitude\n"two\nlines",1,2\nnext,3,4\n');
    expect(parsed.map((r) => r.row)).to.deep.equal([2, 4]);
  });

  it("rejects a file that is not UTF-8 and says which byte, instead of guessing Latin-1", () => {
    const latin1 = Buffer.from("name,latitude,longitude\nM\xfcnchen,48.14,11.58\n", "latin1");
    const decoded = decodeText(latin1);
    expect("problem" in decoded && formatReason(decoded.problem)).to.match(
      /not UTF-8 \(as Latin-1 it would be "ü"\).*\(byte 0xfc at offset 25\); fix: save the file as UTF-8/,
    );
  });

  it("rejects empty, blank, binary, UTF-16 and control-character files", () => {
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(), /the file is empty/],
      [utf8(" \n\t\n"), /only white space/],
      [
        Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
        /binary, not text \(a zero byte at offset 8\)/,
      ],
      [Buffer.from("\ufeffname,latitude,longitude\n", "utf16le"), /UTF-16/],
      [utf8("name,latitude,longitude\nx\x07,1,2\n"), /control character.*"\\u0007" on line 2/],
    ];
    for (const [bytes, reason] of cases) {
      const decoded = decodeText(bytes);
      expect("problem" in decoded ? formatReason(decoded.problem) : "decoded").to.match(reason);
    }
  });

  it("checks the header: missing, unknown (with a suggestion), repeated, data first, other separators", () => {
    expect(reasonsOf("name,latitude\nx,1\n")).to.deep.equal([
      'header "name,latitude": the column longitude is missing; fix: use exactly the columns name,latitude,longitude (and optionally ,start_date)',
    ]);
    expect(reasonsOf("name,lat,lon\nx,1,2\n").join("\n")).to.match(
      /column 2 is "lat", which is not a known column; did you mean latitude\?/,
    );
    expect(reasonsOf("name,latitude,longitude,name\nx,1,2,y\n").join("\n")).to.match(
      /column "name" appears twice \(columns 1 and 4\)/,
    );
    expect(reasonsOf("berlin,52.5,13.4\n").join("\n")).to.match(/the first line is data, not the header/);
    expect(reasonsOf("name;latitude;longitude\nx;1;2\n").join("\n")).to.match(
      /separated by semicolons; fix: separate columns with commas/,
    );
    expect(reasonsOf("name,latitude,longitude\n").join("\n")).to.match(/a header but no rows/);
  });

  it("rejects malformed CSV quoting with the line", () => {
    expect(reasonsOf('name,latitude,longitude\nok,1,2\n"open,1,2\n').join("\n")).to.match(
      /not well-formed CSV: Quote Not Closed.*\(line 3\); fix: close the double quote/,
    );
    expect(reasonsOf('name,latitude,longitude\nab"c",1,2\n').join("\n")).to.match(
      /not well-formed CSV: Invalid Opening Quote/,
    );
  });

  it("reads a JSON array of objects and keeps 1e999 as written", () => {
    const parsed = parseJsonText('[{"name": "x", "latitude": 1e999, "longitude": 2, "start_date": "2020-01-01"}]');
    expect(parsed.ok).to.equal(true);
    expect(reasonsOf('[{"name": "x", "latitude": 1e999, "longitude": 2}]', "json")).to.deep.equal([
      "row 1: latitude is 1e999; it is too large to be a number (it reads as Infinity); fix: write the latitude in decimal degrees, e.g. 52.52",
    ]);
  });

  it("rejects JSON that is invalid, not an array, empty, or holds non-objects, unknown fields and text numbers", () => {
    expect(reasonsOf('[{"name": "x", "latitude": NaN, "longitude": 2}]', "json").join("\n")).to.match(
      /the file is not valid JSON: .*; fix: .*JSON has no NaN, Infinity/,
    );
    expect(reasonsOf('{"name": "x"}', "json").join("\n")).to.match(/the JSON is not an array/);
    expect(reasonsOf("[]", "json").join("\n")).to.match(/the JSON array is empty/);
    expect(reasonsOf('["berlin"]', "json").join("\n")).to.match(/row 1: the element is not an object/);
    expect(reasonsOf('[{"name": "x", "lat": 1, "longitude": 2}]', "json").join("\n")).to.match(
      /the field "lat" is not known; did you mean latitude\?.*\n.*latitude is missing; it is empty/,
    );
    expect(reasonsOf('[{"name": "x", "latitude": "52.5", "longitude": 2}]', "json").join("\n")).to.match(
      /latitude is "52.5"; it is text, not a JSON number/,
    );
  });
});

describe("applications: the rules", () => {
  it("accepts good rows with the documented deterministic ids", () => {
    const { accepted, rejected } = decideRows(
      rowsOf("name,latitude,longitude,start_date\nberlin_mitte,52.53,13.38,2024-01-01\nSão Paulo,-23.55,-46.63,\n"),
      CONTEXT,
    );
    expect(rejected).to.deep.equal([]);
    expect(accepted).to.deep.equal([
      {
        row: 2,
        id: documentedId("berlin_mitte", "52.53", "13.38"),
        name: "berlin_mitte",
        latitude: 52.53,
        longitude: 13.38,
        startDate: "2024-01-01",
      },
      {
        row: 3,
        id: documentedId("são paulo", "-23.55", "-46.63"),
        name: "São Paulo",
        latitude: -23.55,
        longitude: -46.63,
      },
    ]);
  });

  it("gives the same id whatever the case, spacing, Unicode form, trailing zeros or -0", () => {
    const id = locationIdOf("São Paulo", -23.55, -46.63);
    expect(locationIdOf("  são   PAULO ", -23.55, -46.63)).to.equal(id);
    expect(locationIdOf("Sa\u0303o Paulo", -23.55, -46.63)).to.equal(id);
    expect(locationIdOf("São Paulo", Number("-23.5500"), Number("-46.630000001"))).to.equal(id);
    expect(locationIdOf("equator", -0, 0)).to.equal(locationIdOf("equator", 0, 0));
    expect(locationIdOf("São Paulo", -23.56, -46.63)).to.not.equal(id);
    expect(id).to.match(/^loc-[0-9a-f]{16}$/);
  });

  it("rejects coordinates that are not decimal numbers in range, saying why", () => {
    const text = [
      "name,latitude,longitude",
      "a,NaN,1",
      "b,1,Infinity",
      "c,1e999,1",
      "d,1e2,1",
      "e,91,1",
      "f,1,-180.5",
      'g,"52,52",1',
      "h,,1",
      "i,north,1",
      "j,0x10,1",
    ].join("\n");
    expect(reasonsOf(text)).to.deep.equal([
      'row 2: latitude is "NaN"; it is not a finite number; fix: write the latitude in decimal degrees, e.g. 52.52',
      'row 3: longitude is "Infinity"; it is not a finite number; fix: write the longitude in decimal degrees, e.g. 13.41',
      'row 4: latitude is "1e999"; it is too large to be a number (it reads as Infinity); fix: write the latitude as a plain decimal, e.g. 52.52',
      'row 5: latitude is "1e2"; it is written with an exponent; fix: write the latitude as a plain decimal, e.g. 52.52',
      'row 6: latitude is "91"; it must be between -90 and 90; fix: write the latitude in decimal degrees (south and west negative)',
      'row 6: latitude is "91"; it looks like a longitude; fix: check that latitude and longitude are not swapped',
      'row 7: longitude is "-180.5"; it must be between -180 and 180; fix: write the longitude in decimal degrees (south and west negative)',
      'row 8: latitude is "52,52"; it has a decimal comma; fix: write decimals with a point, e.g. 52.52',
      'row 9: latitude is ""; it is empty; fix: write the latitude in decimal degrees, e.g. 52.52',
      'row 10: latitude is "north"; it is not a number; fix: write the latitude in decimal degrees, e.g. 52.52 (south and west negative)',
      'row 11: latitude is "0x10"; it is not a number; fix: write the latitude in decimal degrees, e.g. 52.52 (south and west negative)',
    ]);
  });

  it("rejects names a spreadsheet would run, paths, injections, invisible characters and long names", () => {
    const names = [
      '=HYPERLINK("http://x")',
      "+cmd",
      "-2+3",
      "@SUM(A1)",
      "../../etc/passwd",
      "a\\b",
      "x'; DROP TABLE weather_hourly;--",
      "<img src=x onerror=alert(1)>",
      "abc\u202etxt.exe",
      "_hidden",
      "x".repeat(65),
    ];
    const rows: RawRow[] = names.map((name, i) => ({
      row: i + 2,
      values: { name, latitude: "1", longitude: String(i * 10) },
      problems: [],
    }));
    const { accepted, rejected } = decideRows(rows, CONTEXT);
    expect(accepted).to.deep.equal([]);
    const problems = rejected.map((r) => r.reasons.map((reason) => reason.problem).join(" | "));
    expect(problems).to.deep.equal([
      'it starts with "=", which a spreadsheet would run as a formula | it holds a path separator (/ or \\)',
      'it starts with "+", which a spreadsheet would run as a formula',
      'it starts with "-", which a spreadsheet would run as a formula',
      'it starts with "@", which a spreadsheet would run as a formula',
      "it holds a path separator (/ or \\)",
      "it holds a path separator (/ or \\)",
      `it holds "'" (U+0027), which a name may not hold`,
      'it holds "<" (U+003C), which a name may not hold',
      'it holds the invisible or control character "\\u202e"',
      'it starts with "_"',
      "it is 65 characters long; the most is 64",
    ]);
    // The value is shown escaped: a right-to-left override cannot reorder the message.
    expect(rejected[8]?.reasons[0]?.value).to.equal('"abc\\u202etxt.exe"');
  });

  it("rejects a name used twice in the file (every time), an existing name, and a place too close to one", () => {
    const text = [
      "name,latitude,longitude",
      "twin,10,10",
      "other,20,20",
      "Twin,30,30",
      "Berlin,40,40",
      "near_berlin,52.521,13.411",
      "a,1,1",
      "b,1.005,1",
    ].join("\n");
    expect(reasonsOf(text)).to.deep.equal([
      'row 2: name is "twin"; the same name is also on row 4 of this file; fix: give each location its own name, and apply for each place once',
      'row 4: name is "Twin"; the same name is also on row 2 of this file; fix: give each location its own name, and apply for each place once',
      'row 5: name is "Berlin"; the stack already has a location of that name: "berlin" (in the stack\'s config); fix: its data is already fetched; apply only for a new place, under a name of its own',
      "row 6: (52.521, 13.411) is 0.13 km from the existing location \"berlin\" (in the stack's config), closer than applicationMinDistanceKm (1 km); fix: use that location's data, or apply for a place farther away",
      'row 8: (1.005, 1) is 0.56 km from the existing location "a" (row 7 of this file), closer than applicationMinDistanceKm (1 km); fix: use that location\'s data, or apply for a place farther away',
    ]);
  });

  it("checks start_date: a calendar date from 1940-01-01 to yesterday in the stack's zone", () => {
    const text = [
      "name,latitude,longitude,start_date",
      "a,1,1,1939-12-31",
      "b,2,2,2026-11-20",
      "c,3,3,2023-02-30",
      "d,4,4,01/02/2020",
      "e,5,5,1940-01-01",
      "f,6,6,2026-11-19",
    ].join("\n");
    expect(reasonsOf(text)).to.deep.equal([
      'row 2: start_date is "1939-12-31"; it is before 1940-01-01, the archive\'s first day; fix: write a date from 1940-01-01 to 2026-11-19 as YYYY-MM-DD, or leave it empty for no history',
      'row 3: start_date is "2026-11-20"; it is after yesterday (2026-11-19 in UTC); history ends yesterday; fix: write a date from 1940-01-01 to 2026-11-19 as YYYY-MM-DD, or leave it empty for no history',
      'row 4: start_date is "2023-02-30"; it is not a calendar date; fix: write a date from 1940-01-01 to 2026-11-19 as YYYY-MM-DD, or leave it empty for no history',
      'row 5: start_date is "01/02/2020"; it is not written YYYY-MM-DD; fix: write a date from 1940-01-01 to 2026-11-19 as YYYY-MM-DD, or leave it empty for no history',
    ]);
  });

  it("keeps the daily run within maxDailyWeight, deciding rows in order", () => {
    // Two config locations at weight 1 each (7 variables); a budget of 4 leaves room for two more.
    const ctx = { ...CONTEXT, limits: { ...CONTEXT.limits, maxDailyWeight: 4 } };
    const { accepted, rejected } = decideRows(rowsOf("name,latitude,longitude\na,1,1\nb,2,2\nc,3,3\n"), ctx);
    expect(accepted.map((r) => r.name)).to.deep.equal(["a", "b"]);
    expect(rejected.map((r) => formatReason(r.reasons[0]!, r.row))).to.deep.equal([
      "row 4: with \"c\" a day of the stack's runs could weigh 5 in Open-Meteo API weight (1 scheduled run(s) fetching yesterday and 0 catch-up date(s), a date weighing 5), more than its maxDailyWeight (4); 4 locations are fetched already; fix: ask the stack's operator to raise maxDailyWeight or to remove locations",
    ]);
  });

  it("counts the stack's worst day and hour as its config check does: every run and its catch-up dates", () => {
    // Four runs a day (two in the 06:00 hour), up to 3 dates per run, 7 catch-up days: a day is
    // 4 runs + 6 older dates = 10 dates, the 06:00 hour 2 runs + 4 older dates = 6 dates.
    const runs = { scheduleCron: "0,30 6,18 * * ? *", catchUpDays: 7, maxDatesPerRun: 3 };
    const text = "name,latitude,longitude\na,1,1\nb,2,2\n";
    // 3 locations: a day weighs 30, an hour 18; 4 locations: 40 and 24.
    const byDay = decideRows(rowsOf(text), { ...CONTEXT, limits: { ...CONTEXT.limits, runs, maxDailyWeight: 35 } });
    expect(byDay.accepted.map((r) => r.name)).to.deep.equal(["a"]);
    expect(formatReason(byDay.rejected[0]!.reasons[0]!, 3)).to.equal(
      "row 3: with \"b\" a day of the stack's runs could weigh 40 in Open-Meteo API weight (4 scheduled run(s) fetching yesterday and 6 catch-up date(s), a date weighing 4), more than its maxDailyWeight (35); 3 locations are fetched already; fix: ask the stack's operator to raise maxDailyWeight or to remove locations",
    );
    const byHour = decideRows(rowsOf(text), { ...CONTEXT, limits: { ...CONTEXT.limits, runs, maxHourlyWeight: 20 } });
    expect(byHour.accepted.map((r) => r.name)).to.deep.equal(["a"]);
    expect(formatReason(byHour.rejected[0]!.reasons[0]!, 3)).to.match(
      /an hour of the stack's runs could weigh 24 .*\(2 scheduled run\(s\) fetching yesterday and 4 catch-up date\(s\), a date weighing 4\), more than its maxHourlyWeight \(20\)/,
    );
    // The config's own check agrees at the limit: 3 locations fit, 4 do not.
    for (const [count, fits] of [
      [3, true],
      [4, false],
    ] as const) {
      const problems = apiQuotaProblems(
        { ...runs, locationCount: count, variableCount: CONTEXT.variableCount },
        { maxDailyWeight: 35, maxHourlyWeight: 5_000 },
      );
      expect(problems.length === 0, `${count} locations`).to.equal(fits);
    }
  });

  it("weighs the daily run exactly as ingest's batches do", () => {
    for (const [variables, count] of [
      [7, 2],
      [18, 12],
      [30, 250],
    ] as const) {
      const hourly = Array.from({ length: variables }, (_, i) => `temperature_${i}`);
      const locations = Array.from({ length: count }, (_, i) => ({
        name: `l${i}`,
        latitude: i / 10,
        longitude: i / 10,
      }));
      const settings = { ...DEFAULT_PIPELINE_SETTINGS, hourlyVariables: hourly, dailyVariables: [], locations };
      const batches = planRequests(settings, "2026-11-19", "forecast");
      const sum = batches.reduce((total, r) => total + r.weight, 0);
      const use = apiWeightUse({
        scheduleCron: "0 6 * * ? *",
        catchUpDays: 1,
        maxDatesPerRun: 1,
        locationCount: count,
        variableCount: variables,
      });
      expect(use.perDate).to.be.closeTo(sum, 1e-9);
    }
  });

  it("shows values safely: quoted, cut, with control and format characters escaped", () => {
    expect(showValue("a\u0000b\u202ec\n")).to.equal('"a\\u0000b\\u202ec\\n"');
    expect(showValue("x".repeat(100))).to.equal(`"${"x".repeat(80)}…"`);
    expect(showValue(undefined)).to.equal("missing");
  });
});

describe("applications: the registry", () => {
  const entry = (name: string, latitude: number, longitude: number, processingId = "p1"): RegistryEntry => ({
    id: locationIdOf(name, latitude, longitude),
    name,
    latitude,
    longitude,
    acceptedAt: "2026-11-20T08:00:00.000Z",
    source: { key: "applications/incoming/a.csv", etag: "e", processingId, row: 2 },
  });

  it("round-trips through its text, one entry per line, and counts revisions", () => {
    const registry = appendToRegistry(appendToRegistry(EMPTY_REGISTRY, [entry("a", 1, 1)]), [entry("b", 2, 2, "p2")]);
    const text = serializeRegistry(registry);
    expect(parseRegistry(text)).to.deep.equal(registry);
    expect(registry.revision).to.equal(2);
    expect(text.split("\n").filter((line) => line.startsWith('    {"id"'))).to.have.length(2);
  });

  it("refuses a registry edited into something this code does not write, naming the entry", () => {
    const good = serializeRegistry(appendToRegistry(EMPTY_REGISTRY, [entry("a", 1, 1)]));
    expect(() => parseRegistry(good.replace('"latitude":1', '"latitude":2'))).to.throw(
      /locations\[0\] has id .*which is not the id of its name and coordinates; .*restore its previous version/,
    );
    expect(() => parseRegistry(good.replace('"latitude":1', '"latitude":91'))).to.throw(
      /locations\[0\] has coordinates \[91,1\]/,
    );
    expect(() => parseRegistry("{")).to.throw(/is not valid JSON/);
    expect(() => parseRegistry('{"format": "other"}')).to.throw(/has format "other"/);
  });

  it("merges registry locations after the config's; the config wins on a name clash", () => {
    const config = [{ name: "Berlin", latitude: 52.52, longitude: 13.41 }];
    const merged = mergeLocations(config, [entry("berlin", 52.6, 13.5), entry("potsdam", 52.39, 13.06)]);
    expect(merged.locations).to.deep.equal([...config, { name: "potsdam", latitude: 52.39, longitude: 13.06 }]);
    expect(merged.shadowed.map((e) => e.name)).to.deep.equal(["berlin"]);
  });
});

describe("applications: the notice", () => {
  it("lists at most 100 rows of each kind and stays within SNS's message size", () => {
    const accepted = Array.from({ length: 5000 }, (_, i) => ({
      row: i + 2,
      id: `loc-${String(i).padStart(16, "0")}`,
      name: `place_${i}`,
      latitude: 1,
      longitude: 2,
    }));
    const rejected = Array.from({ length: 5000 }, (_, i) => ({
      row: i + 5002,
      name: "x".repeat(64),
      reasons: [
        { field: "name" as const, value: showValue("x".repeat(300)), problem: "p".repeat(200), fix: "f".repeat(200) },
      ],
    }));
    const notice = noticeOf(
      {
        status: "processed",
        key: "applications/incoming/big.csv",
        etag: "e",
        processingId: "abc",
        accepted,
        rejected,
        fileProblems: [],
        backfills: [],
        outputs: { archive: "applications/archive/big.abc.csv", reasons: "applications/rejected/big.abc.reasons.json" },
      },
      "s3://b",
    );
    expect(notice.subject).to.equal("Applications big.csv: accepted 5000, rejected 5000");
    expect(Buffer.byteLength(notice.message)).to.be.below(256 * 1024);
    expect(notice.message).to.contain("… and 4900 more rows: see the accepted rows file");
    expect(notice.message).to.contain("… and 4900 more rows: see the reasons file");
    expect(notice.message).to.contain("Reasons, as JSON: s3://b/applications/rejected/big.abc.reasons.json");
  });
});
