import { expect } from "chai";
import {
  aliasesFromGroups,
  caseGroups,
  dailyAggregations,
  documented,
  enumCases,
  returnPairs,
  swiftBlock,
} from "../../scripts/extract-openmeteo-variables";

// Shaped like the server's VariableHourly.swift / VariableDaily.swift, cut down.
const HOURLY = `
enum ForecastSurfaceVariable: String, GenericVariableMixable {
    /// Maps to \`temperature_2m\`
    case temperature
    case temperature_2m
    case windspeed_10m, wind_speed_10m
    /*case wind_u_component_10m
    case wind_v_component_10m*/
    // case commented_out
    case weathercode
    case weather_code

    var remapped: Self {
        switch self {
        case .temperature:
            return .temperature_2m
        case .weathercode:
            return .weather_code
        default:
            return self
        }
    }
}

enum Other: String {
    case unrelated
}
`;

describe("extracting Open-Meteo's variable lists from its Swift source", () => {
  it("reads an enum's cases, skipping comments and the switch inside it", () => {
    expect(enumCases(HOURLY, "ForecastSurfaceVariable")).to.deep.equal([
      "temperature",
      "temperature_2m",
      "windspeed_10m",
      "wind_speed_10m",
      "weathercode",
      "weather_code",
    ]);
    expect(enumCases(HOURLY, "Other")).to.deep.equal(["unrelated"]);
  });

  it("refuses what it cannot read instead of returning a shorter list", () => {
    expect(() => enumCases(HOURLY, "Missing")).to.throw("not found");
    expect(() => enumCases('enum E: String {\n  case a = "x"\n}', "E")).to.throw("explicit raw values");
    expect(() => swiftBlock("enum E {", /enum E/)).to.throw("not closed");
  });

  it("reads the compatibility remapping", () => {
    const block = swiftBlock(HOURLY, /enum ForecastSurfaceVariable[^{]*\{/);
    expect(returnPairs(block, /\.([a-z0-9_]+)/)).to.deep.equal([
      ["temperature", "temperature_2m"],
      ["weathercode", "weather_code"],
    ]);
  });

  it("reads daily aggregations and their hourly inputs", () => {
    const daily = `
    var aggregation: DailyAggregation<ForecastVariable> {
        switch self {
        case .temperature_2m_max:
            return .maxTwo(intervalMax: .surface(.init(.temperature_2m_max, 0)), hourly: .surface(.init(.temperature_2m, 0)))
        case .windspeed_10m_max, .wind_speed_10m_max:
            return .max(.surface(.init(.wind_speed_10m, 0)))
        case .sunrise:
            return .none
        }
    }`;
    const aggregations = dailyAggregations(daily);
    expect(aggregations.get("temperature_2m_max")).to.deep.equal({
      kind: "maxTwo",
      inputs: ["temperature_2m_max", "temperature_2m"],
    });
    expect(aggregations.get("windspeed_10m_max")).to.deep.equal({ kind: "max", inputs: ["wind_speed_10m"] });
    expect(aggregations.get("wind_speed_10m_max")).to.deep.equal({ kind: "max", inputs: ["wind_speed_10m"] });
    expect(aggregations.get("sunrise")).to.deep.equal({ kind: "none", inputs: [] });
    expect(caseGroups(daily)).to.deep.include(["windspeed_10m_max", "wind_speed_10m_max"]);
  });

  it("takes the name no spec lists, of names sharing a case, as the old spelling", () => {
    const groups = [
      ["windspeed_10m_max", "wind_speed_10m_max"],
      ["cloudcover_max", "cloud_cover_max"],
      ["direct_radiation", "direct_radiation_spread"],
      ["a", "b"],
    ];
    const aliases = aliasesFromGroups(
      groups,
      new Set(["wind_speed_10m_max"]),
      new Map([["cloudcover", "cloud_cover"]]),
    );
    expect([...aliases]).to.deep.equal([
      ["windspeed_10m_max", "wind_speed_10m_max"],
      ["cloudcover_max", "cloud_cover_max"],
    ]);
  });

  it("reads the hourly and daily enums of an OpenAPI path", () => {
    const yaml = `
paths:
  /v1/archive:
    get:
      parameters:
        - name: hourly
          schema: { type: array, items: { type: string, enum: [temperature_2m, rain] } }
        - name: daily
          schema: { type: array, items: { type: string, enum: [sunrise] } }
`;
    expect(documented(yaml, "/v1/archive")).to.deep.equal({ hourly: ["temperature_2m", "rain"], daily: ["sunrise"] });
    expect(() => documented(yaml, "/v1/forecast")).to.throw("not in spec");
  });
});
