import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import { parse as parseYaml } from "yaml";
import {
  BOTH_ENDPOINTS,
  checkVariables,
  currentName,
  describeVariableProblem,
  isAvailableOn,
  isParsedByServer,
  suggestVariable,
  unknownVariables,
  type Endpoint,
  type VariableKind,
  type VariableProblem,
} from "../../pipeline/config/openmeteo-variables";
import * as data from "../../pipeline/config/openmeteo-variables.data";
import { DEFAULT_PIPELINE_SETTINGS } from "../../pipeline/core/settings";

const ROOT = path.join(__dirname, "..", "..");
const RECORDED = path.join(ROOT, "tests", "fixtures", "open-meteo", "recorded");
const NS = "weather-pipeline";

function only(kind: VariableKind, name: string, endpoints?: readonly Endpoint[]): VariableProblem {
  const problems = checkVariables(kind, [name], endpoints);
  expect(problems, `${kind} ${name}`).to.have.length(1);
  return problems[0]!;
}

/** The hourly and daily variable names of every stack file and of Pulumi.yaml's defaults. */
function stackVariables(): { file: string; kind: VariableKind; names: string[] }[] {
  const out: { file: string; kind: VariableKind; names: string[] }[] = [];
  for (const file of readdirSync(ROOT).filter((f) => /^Pulumi\..+\.yaml$/.test(f))) {
    const config = (parseYaml(readFileSync(path.join(ROOT, file), "utf8")) as { config: Record<string, unknown> })
      .config;
    for (const kind of ["hourly", "daily"] as const) {
      const names = config[`${NS}:${kind}Variables`];
      if (names !== undefined) out.push({ file, kind, names: names as string[] });
    }
  }
  const project = parseYaml(readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as {
    config: Record<string, { default?: unknown }>;
  };
  for (const kind of ["hourly", "daily"] as const) {
    out.push({ file: "Pulumi.yaml", kind, names: project.config[`${NS}:${kind}Variables`]!.default as string[] });
  }
  return out;
}

/** The variable names of each section of a recorded body (a location object or an array of them). */
function recordedVariables(file: string): Record<VariableKind, string[]> {
  const body = JSON.parse(readFileSync(path.join(RECORDED, file), "utf8")) as unknown;
  const locations = (Array.isArray(body) ? body : [body]) as Record<string, Record<string, unknown> | undefined>[];
  const names: Record<VariableKind, Set<string>> = { hourly: new Set(), daily: new Set() };
  for (const location of locations) {
    for (const kind of ["hourly", "daily"] as const) {
      for (const key of Object.keys(location[kind] ?? {})) if (key !== "time") names[kind].add(key);
    }
  }
  return { hourly: [...names.hourly], daily: [...names.daily] };
}

describe("Open-Meteo variable names", () => {
  describe("the lists from the server's source", () => {
    it("record the snapshot they were read from", () => {
      expect(data.OPEN_METEO_SOURCE.repository).to.equal("open-meteo/open-meteo");
      expect(data.OPEN_METEO_SOURCE.commit).to.match(/^[0-9a-f]{40}$/);
      expect(data.OPEN_METEO_SOURCE.date).to.match(/^\d{4}-\d\d-\d\dT/);
    });

    it("are sorted and free of repeats", () => {
      const lists = Object.entries(data).filter(([, v]) => Array.isArray(v)) as [
        string,
        readonly (string | number)[],
      ][];
      expect(lists.length).to.be.at.least(10);
      for (const [name, list] of lists) {
        const copy = [...list].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        expect(list, name).to.deep.equal(copy);
        expect(new Set(list).size, name).to.equal(list.length);
      }
    });

    it("only call available what the server parses, and map old names onto parsed ones", () => {
      for (const name of [...data.FORECAST_HOURLY, ...data.ARCHIVE_HOURLY]) {
        expect(isParsedByServer("hourly", name), name).to.equal(true);
      }
      for (const name of [...data.FORECAST_DAILY, ...data.ARCHIVE_DAILY]) {
        expect(isParsedByServer("daily", name), name).to.equal(true);
      }
      for (const [old, current] of Object.entries(data.HOURLY_ALIASES)) {
        expect(isParsedByServer("hourly", old), old).to.equal(true);
        expect(isParsedByServer("hourly", current), current).to.equal(true);
        expect(currentName("hourly", current), current).to.equal(undefined);
      }
      for (const [old, current] of Object.entries(data.DAILY_ALIASES)) {
        expect(isParsedByServer("daily", old), old).to.equal(true);
        expect(isParsedByServer("daily", current), current).to.equal(true);
      }
    });
  });

  describe("names the project uses", () => {
    it("every variable of the stack files and Pulumi.yaml is known and has data on both endpoints", () => {
      const lists = stackVariables();
      expect(lists.map((l) => l.file)).to.include.members(["Pulumi.dev.yaml", "Pulumi.prod.yaml", "Pulumi.yaml"]);
      for (const { file, kind, names } of lists) {
        expect(names, `${file} ${kind}`).to.not.be.empty;
        expect(checkVariables(kind, names), `${file} ${kind}Variables`).to.deep.equal([]);
      }
    });

    it("the pipeline's default settings are known and have data on both endpoints", () => {
      expect(checkVariables("hourly", DEFAULT_PIPELINE_SETTINGS.hourlyVariables)).to.deep.equal([]);
      expect(checkVariables("daily", DEFAULT_PIPELINE_SETTINGS.dailyVariables)).to.deep.equal([]);
    });

    it("every variable of the recorded API bodies is known to the server and has data where it was recorded", () => {
      const files = readdirSync(RECORDED).filter((f) => f.endsWith(".json"));
      expect(files.length).to.be.at.least(8);
      let seen = 0;
      for (const file of files) {
        const names = recordedVariables(file);
        // The upstream serializer tests ran on mock values, against no particular endpoint.
        const endpoint: Endpoint | undefined = /archive|historical/.test(file)
          ? "archive"
          : /forecast/.test(file)
            ? "forecast"
            : undefined;
        for (const kind of ["hourly", "daily"] as const) {
          seen += names[kind].length;
          for (const name of names[kind])
            expect(isParsedByServer(kind, name), `${file}: ${kind} ${name}`).to.equal(true);
          if (endpoint) expect(unknownVariables(kind, names[kind], endpoint), file).to.deep.equal([]);
        }
      }
      expect(seen).to.be.at.least(20);
    });

    it("knows the recorded old spellings as old spellings", () => {
      expect(recordedVariables("upstream_server_test_single_location_iso8601.json").hourly).to.include("windspeed_10m");
      expect(only("hourly", "windspeed_10m")).to.deep.equal({
        code: "deprecated",
        name: "windspeed_10m",
        kind: "hourly",
        current: "wind_speed_10m",
      });
      expect(only("daily", "windspeed_10m_mean")).to.include({ code: "deprecated", current: "wind_speed_10m_mean" });
      expect(only("hourly", "weathercode")).to.include({ code: "deprecated", current: "weather_code" });
      expect(only("daily", "weathercode")).to.include({ code: "deprecated", current: "weather_code" });
      expect(unknownVariables("hourly", ["weathercode", "windspeed_10m", "temperature"])).to.deep.equal([]);
    });
  });

  describe("typos", () => {
    const cases: [VariableKind, string, string][] = [
      ["hourly", "temperatur_2m", "temperature_2m"],
      ["hourly", "Temperature_2m", "temperature_2m"],
      ["hourly", "temperature_2", "temperature_2m"],
      ["hourly", "relative_humidty_2m", "relative_humidity_2m"],
      ["hourly", "precipitaton", "precipitation"],
      ["hourly", "wind_sped_10m", "wind_speed_10m"],
      ["hourly", "weather-code", "weather_code"],
      ["daily", "temperature_2m_maxx", "temperature_2m_max"],
      ["daily", "precipitation_summ", "precipitation_sum"],
      ["daily", "sun_rise", "sunrise"],
    ];
    for (const [kind, typo, meant] of cases) {
      it(`${kind} "${typo}" is rejected, suggesting "${meant}"`, () => {
        const problem = only(kind, typo);
        expect(problem.code).to.equal("unknown");
        expect(unknownVariables(kind, [typo])).to.deep.equal([typo]);
        expect(suggestVariable(kind, typo)).to.equal(meant);
        expect(describeVariableProblem(problem)).to.equal(
          `Open-Meteo has no ${kind} variable of that name and would answer HTTP 400; the closest known name is "${meant}"`,
        );
      });
    }

    it("suggests nothing when no name is close", () => {
      expect(suggestVariable("hourly", "zzz")).to.equal(undefined);
      expect(describeVariableProblem(only("hourly", "zzz"))).to.equal(
        "Open-Meteo has no hourly variable of that name and would answer HTTP 400",
      );
    });

    it("suggests a name both endpoints have over a closer one only one has", () => {
      // "precipitation_probabilty" is one letter from a forecast-only name.
      expect(suggestVariable("hourly", "precipitation_probabilty", ["forecast"])).to.equal("precipitation_probability");
      const hint = only("hourly", "precipitation_probabilty");
      expect(describeVariableProblem(hint)).to.contain('"precipitation_probability", which /v1/archive lacks too');
    });
  });

  describe("pressure levels, as patterns", () => {
    for (const name of [
      "temperature_850hPa",
      "temperature_1000hPa",
      "temperature_10hPa",
      "geopotential_height_500hPa",
      "wind_speed_250hPa",
      "dew_point_925hPa",
      "vertical_velocity_700hPa",
    ]) {
      it(`accepts ${name} on /v1/forecast`, () => {
        expect(isParsedByServer("hourly", name)).to.equal(true);
        expect(isAvailableOn("hourly", name, "forecast")).to.equal(true);
        expect(checkVariables("hourly", [name], ["forecast"])).to.deep.equal([]);
      });
    }

    it("rejects levels /v1/forecast does not document, naming the ones it does", () => {
      for (const name of ["temperature_851hPa", "temperature_975hPa", "temperature_5hPa", "temperature_2000hPa"]) {
        const problem = only("hourly", name, ["forecast"]);
        expect(problem, name).to.deep.include({ code: "unavailable", endpoints: ["forecast"] });
        expect(describeVariableProblem(problem)).to.contain("at 10, 50, 100, 125").and.contain("950, 1000 hPa");
      }
    });

    it("rejects pressure levels on /v1/archive, whose ERA5 has none", () => {
      const problem = only("hourly", "temperature_850hPa");
      expect(problem).to.deep.include({ code: "unavailable", endpoints: ["archive"] });
      expect(describeVariableProblem(problem)).to.contain("ERA5 behind /v1/archive has no pressure levels");
    });

    it("parses the server's other pressure forms but finds no documented data for them", () => {
      for (const name of ["wind_u_component_850hPa", "temperature_850hPa_spread"]) {
        expect(isParsedByServer("hourly", name), name).to.equal(true);
        expect(only("hourly", name, ["forecast"]), name).to.include({ code: "unavailable" });
      }
    });

    it("maps old type spellings onto current ones", () => {
      expect(currentName("hourly", "relativehumidity_850hPa")).to.equal("relative_humidity_850hPa");
      expect(only("hourly", "windspeed_500hPa", ["forecast"])).to.include({
        code: "deprecated",
        current: "wind_speed_500hPa",
      });
    });

    it("rejects what the server would not parse: other units, cases, signs and types", () => {
      for (const name of [
        "temperature_850hpa",
        "temperature_850",
        "temperature_-850hPa",
        "temprature_850hPa",
        "_850hPa",
      ]) {
        expect(isParsedByServer("hourly", name), name).to.equal(false);
        expect(only("hourly", name).code, name).to.equal("unknown");
      }
      expect(suggestVariable("hourly", "temperature_850hpa")).to.equal("temperature_850hPa");
    });
  });

  describe("a variable of the other kind", () => {
    it("a daily-only name in the hourly list is rejected as daily", () => {
      const problem = only("hourly", "precipitation_sum");
      expect(problem.code).to.equal("unknown");
      expect(describeVariableProblem(problem)).to.equal(
        'Open-Meteo has no hourly variable of that name and would answer HTTP 400; "precipitation_sum" is a daily variable: list it under dailyVariables',
      );
      expect(describeVariableProblem(only("hourly", "sunrise"))).to.contain('"sunrise" is a daily variable');
    });

    it("temperature_2m_max, which some forecast models also store hourly, is rejected for the archive with the same hint", () => {
      const problem = only("hourly", "temperature_2m_max");
      expect(problem).to.deep.include({ code: "unavailable", endpoints: ["archive"] });
      expect(describeVariableProblem(problem)).to.contain('"temperature_2m_max" is a daily variable');
    });

    it("an hourly name in the daily list is rejected, listing its daily aggregates", () => {
      expect(describeVariableProblem(only("daily", "temperature_2m"))).to.contain(
        '"temperature_2m" is an hourly variable; its daily aggregates are temperature_2m_max, temperature_2m_mean, temperature_2m_min',
      );
      expect(describeVariableProblem(only("daily", "is_day"))).to.contain('"is_day" is an hourly variable');
    });
  });

  describe("a variable only one endpoint has", () => {
    it("is rejected for the pipeline, naming the endpoint that lacks it", () => {
      const problem = only("hourly", "precipitation_probability");
      expect(problem).to.deep.include({ code: "unavailable", endpoints: ["archive"] });
      expect(describeVariableProblem(problem)).to.equal(
        "Open-Meteo does not provide this hourly variable on /v1/archive: the server accepts the name and answers with an all-null column",
      );
      expect(unknownVariables("hourly", ["precipitation_probability"], "archive")).to.deep.equal([
        "precipitation_probability",
      ]);
      expect(checkVariables("hourly", ["precipitation_probability"], ["forecast"])).to.deep.equal([]);
      expect(only("daily", "precipitation_probability_max")).to.deep.include({ endpoints: ["archive"] });
    });

    it("works the other way round: an ERA5 variable the forecast spec does not list", () => {
      expect(only("hourly", "soil_moisture_index_0_to_7cm")).to.deep.include({ endpoints: ["forecast"] });
      expect(unknownVariables("hourly", ["soil_moisture_index_0_to_7cm"], "archive")).to.deep.equal([]);
    });

    it("counts daily aggregates as available where their hourly inputs are", () => {
      // temperature_2m_mean is absent from openapi/forecast.yml's daily list, but is mean(temperature_2m).
      expect(data.FORECAST_DAILY).to.include("temperature_2m_mean");
      expect(checkVariables("daily", ["temperature_2m_mean", "sunrise", "daylight_duration"])).to.deep.equal([]);
    });

    it("variables of other Open-Meteo APIs parse, but neither endpoint has them", () => {
      expect(isParsedByServer("hourly", "pm10")).to.equal(true);
      expect(only("hourly", "pm10")).to.deep.include({ code: "unavailable", endpoints: [...BOTH_ENDPOINTS] });
      expect(only("daily", "river_discharge")).to.deep.include({ code: "unavailable", endpoints: [...BOTH_ENDPOINTS] });
      expect(describeVariableProblem(only("hourly", "pm10"))).to.contain("on /v1/forecast and /v1/archive");
    });
  });

  it("reports every problem of a list in its order", () => {
    const problems = checkVariables("hourly", ["temperature_2m", "temperatur_2m", "weathercode", "rain", "pm10"]);
    expect(problems.map((p) => [p.name, p.code])).to.deep.equal([
      ["temperatur_2m", "unknown"],
      ["weathercode", "deprecated"],
      ["pm10", "unavailable"],
    ]);
  });
});
