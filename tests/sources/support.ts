/** Source definitions for the sources tests: written out in full, as a stack file's would be after defaults. */
import { SOURCE_DEFAULTS, type SourceDefinition } from "../../pipeline/sources";

/** A CSV as German portals publish it: `;`, decimal commas, Latin-1, local Berlin time. */
export function portalCsvSource(overrides: Partial<SourceDefinition> = {}): SourceDefinition {
  return {
    name: "city_stations",
    url: "http://127.0.0.1:9/stations.csv",
    format: "csv",
    delimiter: ";",
    decimal: ",",
    encoding: "latin1",
    header: true,
    time: { column: "Zeitpunkt", format: "dd.MM.yyyy HH:mm", timezone: "Europe/Berlin" },
    columns: [
      { name: "station_id", from: "Station", type: "string" },
      { name: "station_name", from: "Name", type: "string" },
      { name: "air_temperature_c", from: "Temperatur", type: "double", unit: "°C" },
      { name: "humidity_pct", from: "Feuchte", type: "integer", unit: "%" },
    ],
    key: ["station_id", "time"],
    nullValues: ["", "-999"],
    maxRejectedFraction: SOURCE_DEFAULTS.maxRejectedFraction,
    maxBytes: SOURCE_DEFAULTS.maxBytes,
    ...overrides,
  };
}

/** A JSON source (array or JSON Lines) with ISO 8601 times. */
export function jsonSource(format: "json" | "jsonl", overrides: Partial<SourceDefinition> = {}): SourceDefinition {
  return {
    name: "feed",
    url: "http://127.0.0.1:9/feed.json",
    format,
    delimiter: SOURCE_DEFAULTS.delimiter,
    decimal: SOURCE_DEFAULTS.decimal,
    encoding: SOURCE_DEFAULTS.encoding,
    header: true,
    time: { column: "observed", format: "iso8601", timezone: "UTC" },
    columns: [
      { name: "station_id", from: "id", type: "string" },
      { name: "temperature", from: "temp", type: "double", unit: "°C" },
      { name: "gusts", from: "gusts", type: "boolean" },
    ],
    key: ["station_id", "time"],
    nullValues: [""],
    maxRejectedFraction: SOURCE_DEFAULTS.maxRejectedFraction,
    maxBytes: SOURCE_DEFAULTS.maxBytes,
    ...overrides,
  };
}

/** The text as Latin-1 bytes, with CRLF line ends. */
export function latin1Crlf(lines: readonly string[]): Uint8Array {
  return Buffer.from(`${lines.join("\r\n")}\r\n`, "latin1");
}
