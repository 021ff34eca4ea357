/**
 * A source's file into typed rows: CSV dialects, JSON arrays and JSON Lines, times and their
 * zones, the declared types, rejects, and drift, on files written out byte by byte here.
 */
import { expect } from "chai";
import {
  SourceDriftError,
  SourceError,
  convertRecords,
  createTimeReader,
  parseSourceFile,
  sourceSchema,
  type Converted,
  type SourceDefinition,
} from "../../pipeline/sources";
import { jsonSource, latin1Crlf, portalCsvSource } from "./support";

function convert(bytes: Uint8Array, source: SourceDefinition): Converted {
  return convertRecords(parseSourceFile(bytes, source), source, sourceSchema(source));
}

const ms = (iso: string) => Date.parse(iso);

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected an error, none was thrown");
}

describe("sources: reading a file", () => {
  describe("CSV as portals publish it", () => {
    const source = portalCsvSource();
    // Latin-1 bytes: "ü" is 0xFC, "ß" 0xDF; quoted fields with the delimiter, doubled quotes
    // and a line break inside; CRLF line ends; decimal commas; a BOM-less header.
    const file = latin1Crlf([
      "Station;Zeitpunkt;Name;Temperatur;Feuchte",
      '00433;20.11.2026 07:00;"Berlin; Tempelhof";-1,5;93',
      '01262;20.11.2026 07:00;"München ""Flughafen""";2,25;-999',
      '01684;20.11.2026 07:00;"Görlitz\r\nOst, Neiße";,5;88',
    ]);

    it("decodes Latin-1, splits on ; with quotes and CRLF, and reads decimal commas", () => {
      const converted = convert(file, source);
      expect(converted.rejects).to.deep.equal([]);
      expect(converted.warnings).to.deep.equal([]);
      expect(converted.rows.map((r) => r.values)).to.deep.equal([
        [ms("2026-11-20T06:00:00Z"), "00433", "Berlin; Tempelhof", -1.5, 93],
        [ms("2026-11-20T06:00:00Z"), "01262", 'München "Flughafen"', 2.25, null],
        [ms("2026-11-20T06:00:00Z"), "01684", "Görlitz\r\nOst, Neiße", 0.5, 88],
      ]);
      expect(file.includes(0xfc), "the fixture is Latin-1, not UTF-8").to.equal(true);
    });

    it("reads the same file as UTF-8 only when it is one, and says to set encoding: latin1", () => {
      const error = thrown(() => parseSourceFile(file, { ...source, encoding: "utf-8" }));
      expect(error).to.be.instanceOf(SourceError);
      expect(error.message).to.contain("not valid UTF-8").and.to.contain("encoding: latin1");
      const utf8 = Buffer.from(Buffer.from(file).toString("latin1"), "utf8");
      expect(convert(utf8, { ...source, encoding: "utf-8" }).rows[1]!.values[2]).to.equal('München "Flughafen"');
    });

    it("reads a file without a header by column numbers", () => {
      const headless: SourceDefinition = {
        ...source,
        header: false,
        time: { ...source.time, column: 2 },
        columns: [
          { name: "station_id", from: 1, type: "string" },
          { name: "air_temperature_c", from: 4, type: "double" },
        ],
      };
      const converted = convert(latin1Crlf(['00433;20.11.2026 07:00;"x";-1,5;93']), headless);
      expect(converted.rows.map((r) => r.values)).to.deep.equal([[ms("2026-11-20T06:00:00Z"), "00433", -1.5]]);
      expect(converted.warnings[0]).to.contain("column 3").and.to.contain("column 5");
    });
  });

  describe("JSON", () => {
    it("reads a JSON array of objects", () => {
      const source = jsonSource("json");
      const body = Buffer.from(
        JSON.stringify([
          { id: "a", observed: "2026-11-20T06:00:00Z", temp: 1.5, gusts: false },
          { id: "b", observed: "2026-11-20T07:00:00+01:00", temp: null, gusts: true },
        ]),
      );
      const converted = convert(body, source);
      expect(converted.rejects).to.deep.equal([]);
      expect(converted.rows.map((r) => r.values)).to.deep.equal([
        [ms("2026-11-20T06:00:00Z"), "a", 1.5, false],
        [ms("2026-11-20T06:00:00Z"), "b", null, true],
      ]);
    });

    it("reads JSON Lines, rejecting a line that is not JSON with its line number", () => {
      const source = jsonSource("jsonl");
      const body = Buffer.from(
        [
          '{"id":"a","observed":"2026-11-20T06:00:00Z","temp":1.5,"gusts":false}',
          "",
          '{"id":"b","observed":"2026-11-20T06:00:00Z","temp":2',
          '{"id":"c","observed":"2026-11-20T06:00:00Z","temp":"3.25","gusts":1}',
        ].join("\r\n"),
      );
      const converted = convert(body, source);
      expect(converted.rows.map((r) => r.values)).to.deep.equal([
        [ms("2026-11-20T06:00:00Z"), "a", 1.5, false],
        [ms("2026-11-20T06:00:00Z"), "c", 3.25, true],
      ]);
      expect(converted.totalRows).to.equal(3);
      expect(converted.rejects).to.have.length(1);
      expect(converted.rejects[0]).to.deep.include({ row: 2, line: 3, column: "(row)" });
      expect(converted.rejects[0]!.reason).to.match(/^line 3 is not JSON/);
    });

    it("refuses a file that is not a JSON array, naming what it is", () => {
      const error = thrown(() => parseSourceFile(Buffer.from('{"rows": []}'), jsonSource("json")));
      expect(error.message).to.contain("a JSON object, not an array").and.to.contain("jsonl");
    });
  });

  describe("the declared schema, not the file, decides each column's type", () => {
    const source = portalCsvSource({
      columns: [
        { name: "station_id", from: "Station", type: "string" },
        { name: "reading", from: "Wert", type: "double" },
        { name: "count", from: "Anzahl", type: "integer" },
        { name: "flag", from: "Gestört", type: "boolean" },
        { name: "empty", from: "Leer", type: "double" },
      ],
    });
    const csv = (rows: string[]) => latin1Crlf(["Station;Zeitpunkt;Wert;Anzahl;Gestört;Leer", ...rows]);

    it("keeps leading zeros of a string column and reads whole numbers of a double column as doubles", () => {
      const converted = convert(csv(["00123;20.11.2026 07:00;12;7;ja;", "00124;20.11.2026 07:00;13;8;no;"]), source);
      // "ja" is not a boolean this reader knows: the row is rejected, never a guess.
      expect(converted.rejects.map((r) => [r.row, r.column, r.value, r.reason])).to.deep.equal([
        [1, "flag", "ja", "not a boolean (true/false, 1/0 or yes/no)"],
      ]);
      expect(converted.rows.map((r) => r.values)).to.deep.equal([
        [ms("2026-11-20T06:00:00Z"), "00124", 13, 8, false, null],
      ]);
    });

    it("refuses a fraction in an integer column and a dot in a decimal-comma file", () => {
      const converted = convert(csv(["a;20.11.2026 07:00;1.5;2;1;", "b;20.11.2026 07:00;1;2,5;0;"]), source);
      expect(converted.rejects.map((r) => [r.row, r.column, r.field, r.value, r.reason])).to.deep.equal([
        [1, "reading", "Wert", "1.5", 'not a number (decimal separator ",")'],
        [2, "count", "Anzahl", "2,5", "not a whole number"],
      ]);
    });

    it("turns a JSON number into text for a string column, and refuses text for a boolean", () => {
      const json = jsonSource("json", {
        columns: [
          { name: "station_id", from: "id", type: "string" },
          { name: "temperature", from: "temp", type: "double" },
          { name: "gusts", from: "gusts", type: "boolean" },
        ],
      });
      const converted = convert(
        Buffer.from(
          JSON.stringify([
            { id: 10381, observed: "2026-11-20T06:00Z", temp: 4, gusts: "maybe" },
            { id: 10382, observed: "2026-11-20T06:00Z", temp: 4, gusts: "TRUE" },
            { id: 10383, observed: "2026-11-20T06:00Z", temp: { v: 4 }, gusts: null },
          ]),
        ),
        json,
      );
      expect(converted.rows.map((r) => r.values)).to.deep.equal([[ms("2026-11-20T06:00:00Z"), "10382", 4, true]]);
      expect(converted.rejects.map((r) => [r.row, r.column, r.reason])).to.deep.equal([
        [1, "gusts", "not a boolean (true/false, 1/0 or yes/no)"],
        [3, "temperature", "an object, not a double"],
      ]);
    });
  });

  describe("rejects", () => {
    const source = portalCsvSource();
    it("lists the row, line, column, field, value and reason of each failed value, and rows without a key or with one twice", () => {
      const file = latin1Crlf([
        "Station;Zeitpunkt;Name;Temperatur;Feuchte",
        'a;20.11.2026 07:00;"A";warm;93',
        ';20.11.2026 07:00;"no id";1;93',
        'b;20.11.2026 07:00;"B";1;93',
        'b;20.11.2026 07:00;"B again";2;93',
        'c;20.11.2026 07:00;"C";1;93;extra',
        'd;2026-11-20 07:00;"D";1;93',
      ]);
      const converted = convert(file, source);
      expect(converted.totalRows).to.equal(6);
      expect(converted.rejectedRows).to.equal(5);
      expect(converted.rows.map((r) => r.values[1])).to.deep.equal(["b"]);
      expect(converted.rejects).to.deep.equal([
        {
          row: 1,
          line: 2,
          column: "air_temperature_c",
          field: "Temperatur",
          value: "warm",
          reason: 'not a number (decimal separator ",")',
        },
        {
          row: 2,
          line: 3,
          column: "station_id",
          field: "Station",
          value: "",
          reason: "no value, but station_id is part of the key (station_id, time)",
        },
        {
          row: 4,
          line: 5,
          column: "(row)",
          reason: 'duplicate key (station_id="b", time=2026-11-20T06:00:00.000Z) of row 3',
        },
        {
          row: 5,
          line: 6,
          column: "(row)",
          reason: "the row has 6 field(s), the header 5: a value may hold an unquoted delimiter",
        },
        {
          row: 6,
          line: 7,
          column: "time",
          field: "Zeitpunkt",
          value: "2026-11-20 07:00",
          reason: '"2026-11-20 07:00" is not a time in the format dd.MM.yyyy HH:mm',
        },
      ]);
    });
  });

  describe("drift", () => {
    const source = portalCsvSource();
    it("ignores a column the mapping does not declare, with a warning naming it", () => {
      const converted = convert(
        latin1Crlf(["Station;Zeitpunkt;Name;Temperatur;Feuchte;Windböen", 'a;20.11.2026 07:00;"A";1;90;33']),
        source,
      );
      expect(converted.rows).to.have.length(1);
      expect(converted.warnings).to.deep.equal([
        'source city_stations: the file has 1 field(s) the mapping does not declare, ignored: "Windböen" (declare them under columns to keep them)',
      ]);
    });

    it("fails when a declared column is gone, naming it, where it is declared, and what the file has", () => {
      const error = thrown(() =>
        convert(latin1Crlf(["Station;Zeitpunkt;Name;Temp;Feuchte", 'a;20.11.2026 07:00;"A";1;90']), source),
      );
      expect(error).to.be.instanceOf(SourceDriftError);
      expect(error.name).to.equal("SourceDriftError");
      expect(error.message).to.contain(
        'the file has no "Temperatur" (declared as columns[2].from (column air_temperature_c))',
      );
      expect(error.message).to.contain('"Temp"').and.to.contain("update the mapping");
    });

    it("fails on a JSON feed whose objects all lack a declared field", () => {
      const error = thrown(() =>
        convert(
          Buffer.from(JSON.stringify([{ id: "a", observed: "2026-11-20T06:00Z", temperature: 1, gusts: true }])),
          jsonSource("json"),
        ),
      );
      expect(error).to.be.instanceOf(SourceDriftError);
      expect(error.message).to.contain('no "temp" (declared as columns[1].from (column temperature))');
    });
  });

  describe("times", () => {
    it("reads ISO 8601 with and without an offset, the latter in the source's zone", () => {
      const berlin = createTimeReader({ format: "iso8601", timezone: "Europe/Berlin" });
      expect(berlin.read("2026-07-01T12:00:00+02:00")).to.deep.equal({ ok: true, millis: ms("2026-07-01T10:00:00Z") });
      expect(berlin.read("2026-07-01T12:00Z")).to.deep.equal({ ok: true, millis: ms("2026-07-01T12:00:00Z") });
      expect(berlin.read("2026-07-01 12:00")).to.deep.equal({ ok: true, millis: ms("2026-07-01T10:00:00Z") });
      expect(berlin.read("2026-01-15T12:00:30.5")).to.deep.equal({ ok: true, millis: ms("2026-01-15T11:00:30.500Z") });
      expect(berlin.read("2026-01-15")).to.deep.equal({ ok: true, millis: ms("2026-01-14T23:00:00Z") });
      expect(berlin.read("15.01.2026").ok).to.equal(false);
      expect(berlin.dateOf(ms("2026-01-14T23:30:00Z"))).to.equal("2026-01-15");
    });

    it("reads a pattern with an offset token as an instant", () => {
      const reader = createTimeReader({ format: "yyyyMMddHHmm ZZ", timezone: "Europe/Berlin" });
      expect(reader.read("202611200700 +05:00")).to.deep.equal({ ok: true, millis: ms("2026-11-20T02:00:00Z") });
    });

    it("rejects a local time in the spring gap, which never happened", () => {
      const reader = createTimeReader({ format: "dd/MM/yyyy HH:mm", timezone: "Europe/Berlin" });
      const gap = reader.read("29/03/2026 02:30");
      expect(gap.ok).to.equal(false);
      expect((gap as { reason: string }).reason).to.equal(
        '"29/03/2026 02:30" does not exist in Europe/Berlin: the clocks skip that time (daylight saving time begins)',
      );
    });

    it("gives the repeated autumn hour its earlier instant first and its later one the second time, per station", () => {
      const source = portalCsvSource({
        time: { column: "Zeitpunkt", format: "dd.MM.yyyy HH:mm", timezone: "Europe/Berlin" },
      });
      const file = latin1Crlf([
        "Station;Zeitpunkt;Name;Temperatur;Feuchte",
        'a;25.10.2026 01:30;"A";1;90',
        'a;25.10.2026 02:30;"A";2;90',
        'b;25.10.2026 02:30;"B";5;90',
        'a;25.10.2026 02:30;"A";3;90',
        'b;25.10.2026 02:30;"B";6;90',
        'a;25.10.2026 02:30;"A";4;90',
        'a;25.10.2026 03:30;"A";5;90',
      ]);
      const converted = convert(file, source);
      expect(
        converted.rows.map((r) => [r.values[1], new Date(r.values[0] as number).toISOString(), r.values[3]]),
      ).to.deep.equal([
        ["a", "2026-10-24T23:30:00.000Z", 1],
        ["a", "2026-10-25T00:30:00.000Z", 2],
        ["b", "2026-10-25T00:30:00.000Z", 5],
        ["a", "2026-10-25T01:30:00.000Z", 3],
        ["b", "2026-10-25T01:30:00.000Z", 6],
        ["a", "2026-10-25T02:30:00.000Z", 5],
      ]);
      // A third 02:30 for station a has no instant left: it is a duplicate of the second.
      expect(converted.rejects.map((r) => [r.row, r.reason])).to.deep.equal([
        [6, 'duplicate key (station_id="a", time=2026-10-25T01:30:00.000Z) of row 4'],
      ]);
    });
  });
});
