import { expect } from "chai";
import {
  dailySchema,
  datasetSchema,
  hourlySchema,
  parquetSchemaElements,
  variableGlueType,
  variableUnits,
} from "../../pipeline/core/schema";

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected an error, none was thrown");
}

const TIMESTAMP_MILLIS_UTC = {
  type: "INT64",
  converted_type: "TIMESTAMP_MILLIS",
  logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MILLIS" },
};

describe("schema", () => {
  it("declares weather_hourly as location, coordinates, UTC time, then the variables in request order", () => {
    const schema = hourlySchema(["temperature_2m", "relative_humidity_2m", "weather_code"], {
      temperature_2m: "°C",
      relative_humidity_2m: "%",
      weather_code: "wmo code",
    });
    expect(schema.dataset).to.equal("weather_hourly");
    expect(schema.columns.map((c) => [c.name, c.glueType, c.nullable])).to.deep.equal([
      ["location", "string", false],
      ["latitude", "double", false],
      ["longitude", "double", false],
      ["elevation", "double", true],
      ["time", "timestamp", false],
      ["temperature_2m", "double", true],
      ["relative_humidity_2m", "double", true],
      ["weather_code", "double", true],
    ]);
    expect(schema.columns.find((c) => c.name === "time")!.parquet).to.deep.equal({
      name: "time",
      ...TIMESTAMP_MILLIS_UTC,
      repetition_type: "REQUIRED",
    });
    expect(schema.columns.find((c) => c.name === "location")!.parquet).to.deep.equal({
      name: "location",
      type: "BYTE_ARRAY",
      converted_type: "UTF8",
      logical_type: { type: "STRING" },
      repetition_type: "REQUIRED",
    });
  });

  it("makes every measurement a nullable DOUBLE, integers like humidity and weather_code too", () => {
    const schema = hourlySchema(["relative_humidity_2m", "weather_code", "is_day"]);
    for (const column of schema.columns.filter((c) => c.isVariable)) {
      expect(column.parquet, column.name).to.deep.equal({
        name: column.name,
        type: "DOUBLE",
        repetition_type: "OPTIONAL",
      });
    }
  });

  it("declares weather_daily without a time or date column, sunrise and sunset as UTC timestamps", () => {
    const schema = dailySchema(["temperature_2m_max", "sunrise", "sunset"], { sunrise: "iso8601", sunset: "unixtime" });
    expect(schema.columns.map((c) => c.name)).to.deep.equal([
      "location",
      "latitude",
      "longitude",
      "elevation",
      "temperature_2m_max",
      "sunrise",
      "sunset",
    ]);
    for (const name of ["sunrise", "sunset"]) {
      const column = schema.columns.find((c) => c.name === name)!;
      expect(column.glueType).to.equal("timestamp");
      expect(column.parquet).to.deep.equal({ name, ...TIMESTAMP_MILLIS_UTC, repetition_type: "OPTIONAL" });
    }
  });

  it("declares a variable's type from its name alone, so the Glue table needs no response", () => {
    expect(dailySchema(["sunrise"]).columns.at(-1)!.glueType).to.equal("timestamp");
    expect(variableGlueType("sunset")).to.equal("timestamp");
    expect(variableGlueType("daylight_duration")).to.equal("double");
  });

  it("builds the explicit Parquet schema with the root first", () => {
    const schema = datasetSchema("weather_daily", ["precipitation_sum"]);
    const elements = parquetSchemaElements(schema);
    expect(elements[0]).to.deep.equal({ name: "root", num_children: 5 });
    expect(elements.slice(1).map((e) => e.name)).to.deep.equal(schema.columns.map((c) => c.name));
  });

  it("keeps units of the variable columns only", () => {
    const schema = hourlySchema(["temperature_2m", "precipitation"], {
      temperature_2m: "°C",
      precipitation: "mm",
      time: "iso8601",
    });
    expect(variableUnits(schema)).to.deep.equal({ temperature_2m: "°C", precipitation: "mm" });
    expect(schema.columns.find((c) => c.name === "precipitation")!.unit).to.equal("mm");
  });

  it("rejects a time unit on a variable declared double, naming the fix", () => {
    expect(errorOf(() => dailySchema(["moonrise"], { moonrise: "iso8601" }))).to.equal(
      'daily_units.moonrise is "iso8601" (a point in time), but moonrise is declared a double column; add it to ' +
        "TIME_VALUED_VARIABLES in pipeline/schema.ts so the Parquet files and the Glue table both declare it a timestamp",
    );
  });

  it("rejects names that are not column names, duplicates, and clashes with fixed or partition columns", () => {
    expect(errorOf(() => hourlySchema(["Temperature 2m"]))).to.include(
      'hourly variable "Temperature 2m" is not a valid column name',
    );
    expect(errorOf(() => hourlySchema(["rain", "rain"]))).to.include(
      'hourly variable "rain" is listed twice or collides',
    );
    expect(errorOf(() => hourlySchema(["time"]))).to.include('hourly variable "time" is listed twice or collides');
    expect(errorOf(() => dailySchema(["date"]))).to.include('daily variable "date" is listed twice or collides');
    expect(errorOf(() => dailySchema(["elevation"]))).to.include("collides with the weather_daily column");
  });
});
