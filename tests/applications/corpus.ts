/**
 * Files of applications for the tests: bad ones, each with the reason it must be rejected for
 * (every row of a bad file is bad, so the file as a whole accepts nothing), and good ones.
 */
const HEADER = "name,latitude,longitude";
const csv = (...lines: string[]) => Buffer.from(`${[HEADER, ...lines].join("\n")}\n`);
const csvWithStart = (...lines: string[]) =>
  Buffer.from(`${["name,latitude,longitude,start_date", ...lines].join("\n")}\n`);
const json = (text: string) => Buffer.from(text);

/** A bad file and what its rejection must say. */
export interface BadFile {
  readonly name: string;
  readonly body: Buffer;
  /** Matched against every reason line of the file (file-level and rows), joined by newlines. */
  readonly reason: RegExp;
}

/** A file of about `bytes` bytes of well-formed rows: too large to be read at all. */
function gigantic(bytes: number): Buffer {
  const lines = [HEADER];
  let size = HEADER.length + 1;
  for (let i = 0; size < bytes; i++) {
    const line = `place_${i},${((i % 1700) / 10 - 85).toFixed(4)},${((i % 3500) / 10 - 175).toFixed(4)}`;
    lines.push(line);
    size += line.length + 1;
  }
  return Buffer.from(`${lines.join("\n")}\n`);
}

/** At least one file for every kind of mistake the rules know. */
export const BAD_FILES: readonly BadFile[] = [
  { name: "empty.csv", body: Buffer.alloc(0), reason: /the file is empty/ },
  { name: "blank.csv", body: Buffer.from("\n  \r\n\t\n"), reason: /only white space/ },
  {
    name: "binary.csv",
    body: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48]),
    reason: /binary, not text/,
  },
  {
    name: "gigantic.csv",
    body: gigantic(1_200_000),
    reason: /larger than applicationMaxBytes \(1,048,576 bytes\).*fix: split it/,
  },
  {
    name: "latin1.csv",
    body: Buffer.from(`${HEADER}\nM\xfcnchen,48.14,11.58\n`, "latin1"),
    reason: /not UTF-8 \(as Latin-1 it would be "ü"\)/,
  },
  { name: "utf16.csv", body: Buffer.from(`\ufeff${HEADER}\nx,1,2\n`, "utf16le"), reason: /UTF-16/ },
  {
    name: "wrong-header.csv",
    body: Buffer.from("city,lat,lon\nx,1,2\n"),
    reason: /"city", which is not a known column; did you mean name\?/,
  },
  {
    name: "no-header.csv",
    body: Buffer.from("potsdam,52.39,13.06\n"),
    reason: /the first line is data, not the header/,
  },
  {
    name: "duplicated-header.csv",
    body: Buffer.from("name,latitude,longitude,latitude\nx,1,2,3\n"),
    reason: /column "latitude" appears twice \(columns 2 and 4\)/,
  },
  { name: "header-repeated-as-row.csv", body: csv(HEADER), reason: /row 2: the row repeats the header/ },
  { name: "semicolons.csv", body: Buffer.from("name;latitude;longitude\nx;1;2\n"), reason: /separated by semicolons/ },
  { name: "header-only.csv", body: csv(), reason: /a header but no rows/ },
  { name: "missing-column.csv", body: Buffer.from("name,latitude\nx,1\n"), reason: /the column longitude is missing/ },
  { name: "unclosed-quote.csv", body: csv('"open,1,2'), reason: /not well-formed CSV: Quote Not Closed/ },
  { name: "stray-quote.csv", body: csv('ab"c",1,2'), reason: /not well-formed CSV: Invalid Opening Quote/ },
  {
    name: "decimal-comma-unquoted.csv",
    body: csv("x,52,52,13,41"),
    reason: /the row has 5 values but the header has 3 columns/,
  },
  { name: "short-row.csv", body: csv("x,52.5"), reason: /the row has 2 values.*\n.*longitude is missing; it is empty/ },
  { name: "nan.csv", body: csv("x,NaN,13.4"), reason: /latitude is "NaN"; it is not a finite number/ },
  {
    name: "infinity.csv",
    body: csv("x,52.5,-Infinity"),
    reason: /longitude is "-Infinity"; it is not a finite number/,
  },
  { name: "1e999.csv", body: csv("x,1e999,13.4"), reason: /latitude is "1e999"; it is too large to be a number/ },
  {
    name: "latitude-range.csv",
    body: csv("x,90.0001,13.4"),
    reason: /latitude is "90.0001"; it must be between -90 and 90/,
  },
  {
    name: "longitude-range.csv",
    body: csv("x,52.5,180.5"),
    reason: /longitude is "180.5"; it must be between -180 and 180/,
  },
  { name: "decimal-comma.csv", body: csv('x,"52,5",13.4'), reason: /it has a decimal comma/ },
  { name: "text-coordinate.csv", body: csv("x,north,13.4"), reason: /latitude is "north"; it is not a number/ },
  { name: "empty-name.csv", body: csv(",52.5,13.4"), reason: /name is ""; it is empty/ },
  {
    name: "formula-equals.csv",
    body: csv('"=HYPERLINK(""http://evil.example"",""x"")",1,2'),
    reason: /starts with "=", which a spreadsheet would run as a formula/,
  },
  { name: "formula-plus.csv", body: csv("+cmd|' /C calc'!A0,1,2"), reason: /starts with "\+"/ },
  { name: "formula-minus.csv", body: csv("-2+3,1,2"), reason: /starts with "-"/ },
  { name: "formula-at.csv", body: csv("@SUM(A1:A9),1,2"), reason: /starts with "@"/ },
  { name: "path-traversal.csv", body: csv("../../etc/passwd,1,2"), reason: /holds a path separator/ },
  { name: "backslash.csv", body: csv("c:\\windows,1,2"), reason: /holds a path separator/ },
  { name: "sql-injection.csv", body: csv('"x\'; DROP TABLE weather_hourly;--",1,2'), reason: /holds "'" \(U\+0027\)/ },
  { name: "html-injection.csv", body: csv("<img src=x onerror=alert(1)>,1,2"), reason: /holds "<" \(U\+003C\)/ },
  {
    name: "bidi-override.csv",
    body: csv("invoice\u202egpj.exe,1,2"),
    reason: /invisible or control character "\\u202e"/,
  },
  { name: "newline-in-name.csv", body: csv('"two\nlines",1,2'), reason: /invisible or control character "\\n"/ },
  { name: "long-name.csv", body: csv(`${"n".repeat(65)},1,2`), reason: /65 characters long; the most is 64/ },
  {
    name: "same-name-twice.csv",
    body: csv("twin,1,2", "TWIN,3,4"),
    reason: /row 2: .*also on row 3[^]*row 3: .*also on row 2/,
  },
  {
    name: "existing-config-name.csv",
    body: csv("Berlin,40,40"),
    reason: /already has a location of that name: "berlin" \(in the stack's config\)/,
  },
  {
    name: "too-close.csv",
    body: csv("berlin_center,52.5201,13.4049"),
    reason: /km from the existing location "berlin".*closer than applicationMinDistanceKm \(1 km\)/,
  },
  {
    name: "start-before-1940.csv",
    body: csvWithStart("x,1,2,1939-12-31"),
    reason: /before 1940-01-01, the archive's first day/,
  },
  { name: "start-today.csv", body: csvWithStart("x,1,2,2026-11-20"), reason: /after yesterday \(2026-11-19 in UTC\)/ },
  { name: "start-not-a-date.csv", body: csvWithStart("x,1,2,2023-02-30"), reason: /not a calendar date/ },
  { name: "start-format.csv", body: csvWithStart("x,1,2,20/11/2020"), reason: /not written YYYY-MM-DD/ },
  {
    name: "invalid.json",
    body: json('[{"name": "x", "latitude": NaN, "longitude": 2}]'),
    reason: /the file is not valid JSON/,
  },
  {
    name: "infinity.json",
    body: json('[{"name": "x", "latitude": 1, "longitude": Infinity}]'),
    reason: /the file is not valid JSON/,
  },
  {
    name: "1e999.json",
    body: json('[{"name": "x", "latitude": 1e999, "longitude": 2}]'),
    reason: /latitude is 1e999; it is too large/,
  },
  {
    name: "object.json",
    body: json('{"name": "x", "latitude": 1, "longitude": 2}'),
    reason: /the JSON is not an array/,
  },
  { name: "empty-array.json", body: json("[]"), reason: /the JSON array is empty/ },
  {
    name: "not-objects.json",
    body: json('["potsdam", 52.39]'),
    reason: /row 1: the element is not an object[^]*row 2: the element is not an object/,
  },
  {
    name: "unknown-field.json",
    body: json('[{"name": "x", "lat": 1, "longitude": 2}]'),
    reason: /the field "lat" is not known; did you mean latitude\?/,
  },
  {
    name: "text-number.json",
    body: json('[{"name": "x", "latitude": "52.5", "longitude": 2}]'),
    reason: /it is text, not a JSON number/,
  },
  {
    name: "name-not-text.json",
    body: json('[{"name": 42, "latitude": 1, "longitude": 2}]'),
    reason: /name is 42; it is not text/,
  },
  { name: "applications.txt", body: csv("x,1,2"), reason: /ends neither in .csv nor in .json/ },
  {
    name: "spreadsheet.xlsx",
    body: Buffer.from("PK\x03\x04\x14\x00\x06\x00", "latin1"),
    reason: /ends neither in .csv nor in .json/,
  },
];

/** Good rows, the same in every good file (in other orders, spellings and formats). */
export const GOOD_ROWS = [
  { name: "berlin_mitte", latitude: 52.53, longitude: 13.38, startDate: "2024-01-01" },
  { name: "Potsdam", latitude: 52.39, longitude: 13.06 },
  { name: "São Paulo", latitude: -23.55, longitude: -46.63 },
] as const;

/** Good files that all apply for GOOD_ROWS. */
export const GOOD_FILES: readonly { readonly name: string; readonly body: Buffer }[] = [
  {
    name: "good-crlf-bom.csv",
    body: Buffer.from(
      '\ufeffname,latitude,longitude,start_date\r\nberlin_mitte,52.53,13.38,2024-01-01\r\n"Potsdam","52.39","13.06",\r\nSão Paulo,-23.55,-46.63,\r\n',
    ),
  },
  {
    name: "good-lf.csv",
    body: Buffer.from(
      "start_date,longitude,latitude,name\n,-46.630,-23.550,são paulo\n2024-01-01,13.38,52.53,BERLIN_MITTE\n,13.06,52.390,potsdam\n",
    ),
  },
  {
    name: "good.json",
    body: Buffer.from(
      JSON.stringify([
        { name: "Potsdam", latitude: 52.39, longitude: 13.06 },
        { name: "São Paulo", latitude: -23.55, longitude: -46.63, start_date: null },
        { name: "berlin_mitte", latitude: 52.53, longitude: 13.38, start_date: "2024-01-01" },
      ]),
    ),
  },
];
