/**
 * The sample source of local runs on embedded defaults: `sample_stations`, a station file as
 * German open-data portals publish them (`;` between fields, decimal commas, Latin-1, quoted
 * names, CRLF, a header, local Berlin time), served by the embedded fake with SYNTHETIC values.
 * `npm start` without --stack adds it, so the whole path of a source shows without a stack file.
 */
import { SOURCE_DEFAULTS, type SourceDefinition } from "../sources";

/** The sample source, its URL to be replaced by the fake's (see FakeOpenMeteo.sourceUrl). */
export const LOCAL_SAMPLE_SOURCE: SourceDefinition = {
  name: "sample_stations",
  url: "http://127.0.0.1/sources/sample_stations.csv",
  format: "csv",
  delimiter: ";",
  decimal: ",",
  encoding: "latin1",
  header: true,
  time: { column: "MESS_DATUM", format: "dd.MM.yyyy HH:mm", timezone: "Europe/Berlin" },
  columns: [
    { name: "station_id", from: "Stations_ID", type: "string" },
    { name: "station_name", from: "Stationsname", type: "string" },
    { name: "air_temperature_c", from: "Lufttemperatur", type: "double", unit: "°C" },
    { name: "relative_humidity_pct", from: "Relative Feuchte", type: "double", unit: "%" },
    { name: "precipitation_mm", from: "Niederschlagshöhe", type: "double", unit: "mm" },
  ],
  key: ["station_id", "time"],
  nullValues: ["", "-999"],
  maxRejectedFraction: SOURCE_DEFAULTS.maxRejectedFraction,
  maxBytes: SOURCE_DEFAULTS.maxBytes,
  attribution: "Synthetic stations of the embedded fake: not real weather",
};
