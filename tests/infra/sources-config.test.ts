/**
 * The stack's `sources` and `columnNames` keys: a bad value is refused with the key's full path,
 * the value and the fix, every problem at once; a good one gets its defaults.
 */
import { expect } from "chai";
import { ConfigError, parseStackConfig } from "../../pipeline/infra/config";

const NS = "weather-pipeline";
const FILE = "Pulumi.test.yaml";

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError, but the config was accepted");
}

/** A complete CSV source as a stack file would declare it. */
function csvSource(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: "city_stations",
    url: "https://opendata.example.org/stations.csv",
    format: "csv",
    delimiter: ";",
    decimal: ",",
    encoding: "latin1",
    time: { column: "Zeitpunkt", format: "dd.MM.yyyy HH:mm", timezone: "Europe/Berlin" },
    columns: [
      { name: "station_id", from: "Station", type: "string" },
      { name: "air_temperature_c", from: "Lufttemperatur", type: "double", unit: "°C" },
    ],
    key: ["station_id", "time"],
    ...overrides,
  };
}

function parse(sources: unknown[], extra: Record<string, unknown> = {}) {
  return parseStackConfig({ sources, ...extra }, NS, FILE);
}

describe("stack configuration: sources and columnNames", () => {
  it("accepts a complete CSV source and applies the defaults of the keys it leaves out", () => {
    const [source] = parse([csvSource()]).sources;
    expect(source).to.deep.include({ name: "city_stations", delimiter: ";", decimal: ",", encoding: "latin1" });
    expect(source!.header).to.equal(true);
    expect(source!.maxRejectedFraction).to.equal(0.01);
    expect(source!.nullValues).to.deep.equal([""]);
  });

  it("has no sources on a new stack", () => {
    expect(parseStackConfig({}, NS, FILE).sources).to.deep.equal([]);
  });

  it("names a key column that is not declared, with the columns it could be", () => {
    const message = errorOf(() => parse([csvSource({ key: ["station", "time"] })]));
    expect(message).to.contain(
      `${NS}:sources[0].key[0] is "station"; it is not a column of this source; a key lists column names (time, station_id, air_temperature_c) (${FILE})`,
    );
  });

  it("names a mapping whose type is not one of the declared types", () => {
    const columns = [{ name: "station_id", from: "Station", type: "float" }];
    const message = errorOf(() => parse([csvSource({ columns, key: ["station_id"] })]));
    expect(message).to.contain(
      `${NS}:sources[0].columns[0].type is "float"; it must be one of double, integer, string, boolean, timestamp`,
    );
  });

  it("names a CSV-only key on a JSON source and says to remove it", () => {
    const message = errorOf(() =>
      parse([csvSource({ format: "json", delimiter: ";", decimal: undefined, encoding: undefined })]),
    );
    expect(message).to.contain(`${NS}:sources[0].delimiter is ";"; delimiter applies to format csv only; remove it`);
  });

  it("names a time format and a zone it cannot read", () => {
    const message = errorOf(() =>
      parse([csvSource({ time: { column: "Zeitpunkt", format: "HH:mm", timezone: "Europe/Berlln" } })]),
    );
    expect(message).to.match(
      /weather-pipeline:sources\[0\]\.time\.format is "HH:mm"; it must name the year, month and day/,
    );
    expect(message).to.match(/weather-pipeline:sources\[0\]\.time\.timezone is "Europe\/Berlln"; .+/);
  });

  it("refuses a column named time or date, a duplicate source and an unsafe name, all at once", () => {
    const message = errorOf(() =>
      parse([
        csvSource({
          columns: [
            { name: "station_id", from: "Station", type: "string" },
            { name: "time", from: "Zeit", type: "timestamp" },
          ],
        }),
        csvSource(),
        csvSource({ name: "City-Stations" }),
      ]),
    );
    expect(message).to.contain(`${NS}:sources[0].columns[1].name is "time"; every source table has a time column`);
    expect(message).to.contain(`${NS}:sources[1].name is "city_stations"; sources[0] has the same name`);
    expect(message).to.contain(`${NS}:sources[2].name is "City-Stations"; a source name must be lower-case letters`);
  });

  it("refuses the same character as delimiter and decimal separator", () => {
    const message = errorOf(() => parse([csvSource({ delimiter: "," })]));
    expect(message).to.contain(`${NS}:sources[0].decimal is ","; it is the delimiter too`);
  });

  it("refuses an unknown key of a source, naming it", () => {
    const message = errorOf(() => parse([csvSource({ seperator: ";" })]));
    expect(message).to.contain(`${NS}:sources[0].seperator is not a field here; remove it (${FILE})`);
  });

  it("refuses a rejects threshold outside 0..1", () => {
    const message = errorOf(() => parse([csvSource({ maxRejectedFraction: 5 })]));
    expect(message).to.contain(`${NS}:sources[0].maxRejectedFraction is 5; it must be a number from 0 to 1`);
  });

  it("names a columnNames entry for a variable the stack does not request, and a clash with a fixed column", () => {
    const message = errorOf(() =>
      parseStackConfig(
        {
          hourlyVariables: ["temperature_2m", "precipitation"],
          columnNames: { dew_point_2m: "dew_point_c", temperature_2m: "location" },
        },
        NS,
        FILE,
      ),
    );
    expect(message).to.match(
      /weather-pipeline:columnNames\.dew_point_2m is "dew_point_c"; dew_point_2m is in neither hourlyVariables nor dailyVariables/,
    );
    expect(message).to.match(/weather-pipeline:columnNames\.temperature_2m is "location"; location is a fixed column/);
  });
});
