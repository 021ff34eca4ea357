import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { parse as parseYaml } from "yaml";
import {
  ConfigError,
  SECRET_CONFIG_KEYS,
  parseStackConfig,
  parseStackConfigValues,
  stackConfigSchema,
} from "../../pipeline/infra/config";
import { PROJECT_DIR, readStackConfigFile } from "../../pipeline/local/plan";

const NS = "weather-pipeline";
const STACKS = ["dev", "staging", "prod"] as const;

function stackValues(stack: string): Record<string, string> {
  return readStackConfigFile(path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`));
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError, but the config was accepted");
}

describe("stack configuration", () => {
  for (const stack of STACKS) {
    it(`accepts Pulumi.${stack}.yaml and keeps its values`, () => {
      const values = stackValues(stack);
      const config = parseStackConfigValues(values, NS, `Pulumi.${stack}.yaml`);
      const file = parseYaml(readFileSync(path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`), "utf8")) as {
        config: Record<string, unknown>;
      };
      expect(config.pipeline.locations).to.deep.equal(file.config[`${NS}:locations`]);
      expect(config.pipeline.hourlyVariables).to.deep.equal(file.config[`${NS}:hourlyVariables`]);
      expect(config.ingest.memoryMb).to.equal(file.config[`${NS}:ingestMemoryMb`]);
      expect(config.logRetentionDays).to.equal(file.config[`${NS}:logRetentionDays`]);
      expect(config.protectData).to.equal(file.config[`${NS}:protectData`]);
    });
  }

  it("makes dev and staging scaled-down copies of prod", () => {
    const [dev, staging, prod] = STACKS.map((s) => parseStackConfigValues(stackValues(s), NS, s));
    for (const small of [dev!, staging!]) {
      expect(small.pipeline.locations.length).to.be.lessThan(prod!.pipeline.locations.length);
      expect(small.transform.memoryMb).to.be.lessThan(prod!.transform.memoryMb);
      expect(small.logRetentionDays).to.be.lessThan(prod!.logRetentionDays);
      expect(small.rawExpirationDays).to.be.greaterThan(0);
      expect(small.protectData).to.equal(false);
    }
    expect(prod!.protectData).to.equal(true);
    expect(prod!.rawExpirationDays).to.equal(0);
    expect(dev!.schedule.enabled).to.equal(false);
  });

  it("gives a stack with no config file a scaled-down copy from the defaults", () => {
    const config = parseStackConfigValues({}, NS, "Pulumi.new.yaml");
    expect(config.pipeline.locations.length).to.be.within(1, 3);
    expect(config.protectData).to.equal(false);
    expect(config.schedule.enabled).to.equal(true);
    expect(config.ingest.memoryMb).to.be.at.most(256);
  });

  it("declares every key in Pulumi.yaml with the same default as the schema", () => {
    const project = parseYaml(readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8")) as {
      config: Record<string, { type: string; default: unknown; description: string; secret?: boolean }>;
    };
    const defaults = stackConfigSchema.parse({}) as Record<string, unknown>;
    const declared = Object.keys(project.config)
      .map((k) => k.slice(`${NS}:`.length))
      .filter((k) => !(SECRET_CONFIG_KEYS as readonly string[]).includes(k));
    // locations is a list of objects, which Pulumi.yaml cannot declare.
    expect(declared.sort()).to.deep.equal(
      Object.keys(defaults)
        .filter((k) => k !== "locations")
        .sort(),
    );
    for (const key of SECRET_CONFIG_KEYS) {
      expect(project.config[`${NS}:${key}`], key).to.deep.include({ secret: true });
    }
    for (const key of declared) {
      const declaration = project.config[`${NS}:${key}`]!;
      expect(declaration.description, key).to.be.a("string").and.not.empty;
      expect(declaration.default, key).to.deep.equal(defaults[key]);
    }
  });

  describe("rejects bad values with the key, the value and the fix", () => {
    const base = () => ({ locations: [{ name: "a", latitude: 1, longitude: 2 }] });

    it("a latitude out of range", () => {
      const message = errorOf(() =>
        parseStackConfig(
          { locations: [base().locations[0], { name: "b", latitude: 123.4, longitude: 0 }] },
          NS,
          "Pulumi.dev.yaml",
        ),
      );
      expect(message).to.contain(
        "weather-pipeline:locations[1].latitude is 123.4; it must be between -90 and 90 (Pulumi.dev.yaml)",
      );
    });

    it("a key that is not the project's (a typo or a mis-indented block)", () => {
      const message = errorOf(() => parseStackConfig({ ...base(), schedule: { cron: "x" } }, NS, "Pulumi.dev.yaml"));
      expect(message).to.contain("weather-pipeline:schedule is not a config key of this project");
      expect(message).to.contain("scheduleCron");
    });

    it("a cron EventBridge Scheduler would refuse", () => {
      const message = errorOf(() => parseStackConfig({ ...base(), scheduleCron: "0 6 * * *" }, NS, "x"));
      expect(message).to.contain('weather-pipeline:scheduleCron is "0 6 * * *"; it has 5 fields');
      expect(message).to.contain('e.g. "0 6 * * ? *"');
    });

    it("a cron field out of range, naming the field and its range", () => {
      const message = errorOf(() =>
        parseStackConfig({ ...base(), scheduleCron: "0 24 * * ? *" }, NS, "Pulumi.dev.yaml"),
      );
      expect(message).to.equal(
        "Invalid configuration:\n" +
          '- weather-pipeline:scheduleCron is "0 24 * * ? *"; field 2 (hours) is 24; hours are 0-23 (Pulumi.dev.yaml)',
      );
    });

    it("every bad cron field, and both day fields set", () => {
      const message = errorOf(() => parseStackConfig({ ...base(), scheduleCron: "61 6 * 13 MON *" }, NS, "x"));
      expect(message).to.contain("field 1 (minutes) is 61; minutes are 0-59");
      expect(message).to.contain("field 4 (month) is 13; months are 1-12 or JAN-DEC");
      expect(message).to.contain('sets both field 3 (day-of-month) "*" and field 5 (day-of-week) "MON"');
    });

    it("hands AWS the cron with single spaces between its fields", () => {
      const config = parseStackConfig({ ...base(), scheduleCron: " 30  6 * * ? * " }, NS, "x");
      expect(config.schedule.cron).to.equal("30 6 * * ? *");
    });

    it("a misspelt variable, with the closest name and the escape hatch", () => {
      const message = errorOf(() =>
        parseStackConfig({ ...base(), hourlyVariables: ["temperature_2m", "temperatur_2m"] }, NS, "Pulumi.dev.yaml"),
      );
      expect(message).to.contain(
        'weather-pipeline:hourlyVariables[1] is "temperatur_2m"; Open-Meteo has no hourly variable of that name and would answer HTTP 400; the closest known name is "temperature_2m"; if Open-Meteo added it after this project\'s lists (open-meteo@ba13de1c of 2026-08-20), add it to extraVariables (Pulumi.dev.yaml)',
      );
    });

    it("a daily variable in the hourly list", () => {
      const message = errorOf(() => parseStackConfig({ ...base(), hourlyVariables: ["precipitation_sum"] }, NS, "x"));
      expect(message).to.contain('weather-pipeline:hourlyVariables[0] is "precipitation_sum"');
      expect(message).to.contain('"precipitation_sum" is a daily variable: list it under dailyVariables');
    });

    it("a variable the archive endpoint has no data for, naming it", () => {
      const message = errorOf(() =>
        parseStackConfig({ ...base(), dailyVariables: ["precipitation_probability_max"] }, NS, "x"),
      );
      expect(message).to.contain('weather-pipeline:dailyVariables[0] is "precipitation_probability_max"');
      expect(message).to.contain("does not provide this daily variable on /v1/archive");
      expect(message).to.contain("to request it anyway, add it to extraVariables");
    });

    it("an old spelling Open-Meteo keeps only for compatibility", () => {
      const message = errorOf(() => parseStackConfig({ ...base(), dailyVariables: ["weathercode"] }, NS, "x"));
      expect(message).to.contain(
        'weather-pipeline:dailyVariables[0] is "weathercode"; it is Open-Meteo\'s old spelling of "weather_code"',
      );
      expect(message).to.contain("or add it to extraVariables to keep the old column name");
    });

    it("a variable newer than the lists passes when it is in extraVariables", () => {
      const config = parseStackConfig(
        {
          ...base(),
          hourlyVariables: ["temperature_2m", "brand_new_variable"],
          extraVariables: ["brand_new_variable"],
        },
        NS,
        "x",
      );
      expect(config.pipeline.hourlyVariables).to.deep.equal(["temperature_2m", "brand_new_variable"]);
      const old = parseStackConfig(
        { ...base(), dailyVariables: ["weathercode"], extraVariables: ["weathercode"] },
        NS,
        "x",
      );
      expect(old.pipeline.dailyVariables).to.deep.equal(["weathercode"]);
    });

    it("extraVariables entries that are unused or not needed", () => {
      const message = errorOf(() =>
        parseStackConfig(
          { ...base(), hourlyVariables: ["temperature_2m"], extraVariables: ["temperature_2m", "gone_variable"] },
          NS,
          "x",
        ),
      );
      expect(message).to.contain(
        'weather-pipeline:extraVariables[0] is "temperature_2m"; it passes the check without extraVariables; remove it from extraVariables',
      );
      expect(message).to.contain(
        'weather-pipeline:extraVariables[1] is "gone_variable"; it is in neither hourlyVariables nor dailyVariables',
      );
    });

    it("a bad variable together with other bad keys", () => {
      const message = errorOf(() =>
        parseStackConfig(
          { ...base(), timezone: 5, ingestMemoryMb: "lots", hourlyVariables: ["temperatur_2m"] },
          NS,
          "x",
        ),
      );
      expect(message).to.contain("weather-pipeline:timezone").and.to.contain("weather-pipeline:ingestMemoryMb");
      expect(message).to.contain('weather-pipeline:hourlyVariables[0] is "temperatur_2m"');
    });

    it("an unknown time zone", () => {
      const message = errorOf(() => parseStackConfig({ ...base(), timezone: "Mars/Olympus" }, NS, "x"));
      expect(message).to.contain('weather-pipeline:timezone is "Mars/Olympus"; it must be an IANA time zone');
    });

    it("a retention CloudWatch does not offer", () => {
      const message = errorOf(() => parseStackConfig({ ...base(), logRetentionDays: 10 }, NS, "x"));
      expect(message).to.contain("weather-pipeline:logRetentionDays is 10; it must be one of");
    });

    it("duplicate location names, naming the duplicate and its first use, not the whole list", () => {
      const loc = (name: string) => ({ name, latitude: 1, longitude: 2 });
      const locations = [loc("a"), loc("b"), loc("c"), loc("b"), loc("d")];
      const message = errorOf(() => parseStackConfig({ locations }, NS, "Pulumi.dev.yaml"));
      expect(message).to.equal(
        "Invalid configuration:\n" +
          '- weather-pipeline:locations[3].name is "b"; locations[1] has the same name; location names must be unique (they become the `location` column); rename or remove one (Pulumi.dev.yaml)',
      );
    });

    it("a repeated variable, naming the repeat", () => {
      const message = errorOf(() =>
        parseStackConfig(
          { ...base(), hourlyVariables: ["temperature_2m", "precipitation", "temperature_2m"] },
          NS,
          "x",
        ),
      );
      expect(message).to.contain(
        'weather-pipeline:hourlyVariables[2] is "temperature_2m"; hourlyVariables[0] has the same name; hourly variables must not repeat',
      );
      expect(message).to.not.contain("precipitation");
    });

    it("a misspelt project key, with the key it was meant to be", () => {
      const message = errorOf(() => parseStackConfig({ ...base(), timezon: "UTC" }, NS, "x"));
      expect(message).to.contain("weather-pipeline:timezon is not a config key of this project");
      expect(message).to.contain("did you mean timezone?");
    });

    it("a block under a misspelt namespace, which would otherwise leave the defaults in place", () => {
      const message = errorOf(() =>
        parseStackConfigValues(
          { "aws:region": "eu-west-1", "weather-pipelin:locations": JSON.stringify(base().locations) },
          NS,
          "Pulumi.dev.yaml",
        ),
      );
      expect(message).to.contain(
        "weather-pipelin:locations is in namespace weather-pipelin:, which neither this project (weather-pipeline:) nor its providers (aws:, awsx:, pulumi:) read",
      );
      expect(message).to.contain("did you mean weather-pipeline:locations? (Pulumi.dev.yaml)");
    });

    it("a variable name that is not snake_case", () => {
      const message = errorOf(() => parseStackConfig({ ...base(), hourlyVariables: ["Temperature 2m"] }, NS, "x"));
      expect(message).to.contain('weather-pipeline:hourlyVariables[0] is "Temperature 2m"');
    });

    it("no variables at all", () => {
      const message = errorOf(() => parseStackConfig({ ...base(), hourlyVariables: [], dailyVariables: [] }, NS, "x"));
      expect(message).to.contain("list at least one variable");
    });

    it("an infrequent-access transition S3 does not allow", () => {
      const message = errorOf(() => parseStackConfig({ ...base(), rawInfrequentAccessDays: 7 }, NS, "x"));
      expect(message).to.contain("weather-pipeline:rawInfrequentAccessDays is 7; it must be at least 30 days");
    });

    it("protected data that would still expire", () => {
      const message = errorOf(() => parseStackConfig({ ...base(), protectData: true, rawExpirationDays: 7 }, NS, "x"));
      expect(message).to.contain("protectData is true but an expiration deletes data");
    });

    it("thousands of locations that exceed the free API's daily quota, naming both numbers and the fix", () => {
      const locations = Array.from({ length: 3_000 }, (_, i) => ({ name: `p${i}`, latitude: 0, longitude: i / 100 }));
      const message = errorOf(() => parseStackConfig({ locations }, NS, "Pulumi.dev.yaml"));
      expect(message).to.contain(
        "weather-pipeline:maxDailyWeight is 10000; a day of this stack can use 21,000 API weight, more than maxDailyWeight 10,000",
      );
      expect(message).to.contain("raise maxDailyWeight if your Open-Meteo plan allows more");
      expect(message).to.contain("weather-pipeline:maxHourlyWeight is 5000");
      // A commercial plan's quota, set as the keys say.
      const paid = parseStackConfig({ locations, maxDailyWeight: 1_000_000, maxHourlyWeight: 100_000 }, NS, "x");
      expect(paid.apiWeightLimits).to.deep.equal({ perDay: 1_000_000, perHour: 100_000 });
    });

    it("a number given as text in a stack file", () => {
      const message = errorOf(() =>
        parseStackConfigValues({ [`${NS}:ingestMemoryMb`]: "lots" }, NS, "Pulumi.dev.yaml"),
      );
      expect(message).to.contain('weather-pipeline:ingestMemoryMb is "lots"; it must be a whole number of MB');
    });

    it("every problem at once, not only the first", () => {
      const message = errorOf(() => parseStackConfig({ ...base(), timezone: "Nowhere", ingestMemoryMb: 64 }, NS, "x"));
      expect(message).to.contain("timezone").and.to.contain("ingestMemoryMb");
    });
  });
});

/**
 * Runs the program's config reader in a child process with the environment the Pulumi CLI's
 * Node.js language host gives a program: PULUMI_CONFIG holds every key of every namespace.
 */
async function loadAsUnderPulumiUp(
  config: Record<string, string>,
  stackFile?: { text: string; dir?: string },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const root = mkdtempSync(path.join(tmpdir(), "pulumi-root-"));
  writeFileSync(
    path.join(root, "Pulumi.yaml"),
    `name: ${NS}\nruntime: nodejs\n${stackFile?.dir ? `stackConfigDir: ${stackFile.dir}\n` : ""}`,
  );
  if (stackFile) {
    const dir = path.join(root, stackFile.dir ?? "");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "Pulumi.demo.yaml"), stackFile.text);
  }
  const script =
    'try { require("./pipeline/infra/config").loadStackConfig(); } catch (e) { process.stderr.write(e.message); process.exitCode = 3; }';
  return promisify(execFile)(process.execPath, ["-r", "ts-node/register", "-e", script], {
    cwd: PROJECT_DIR,
    env: {
      ...process.env,
      PULUMI_NODEJS_PROJECT: NS,
      PULUMI_NODEJS_STACK: "demo",
      PULUMI_NODEJS_ROOT_DIRECTORY: root,
      PULUMI_CONFIG: JSON.stringify(config),
    },
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
}

describe("the program's config, as `pulumi up` hands it over", function () {
  this.timeout(60_000);

  it("refuses a block under a misspelt namespace instead of deploying the defaults", async () => {
    const { code, stderr } = await loadAsUnderPulumiUp({
      "aws:region": "eu-west-1",
      "weather-pipelin:locations": '[{"name":"x","latitude":1,"longitude":2}]',
    });
    expect(code).to.equal(3);
    expect(stderr).to.contain("weather-pipelin:locations is in namespace weather-pipelin:");
    expect(stderr).to.contain("did you mean weather-pipeline:locations? (Pulumi.demo.yaml)");
  });

  it("refuses what the CLI dropped from the stack file: a configs: block, keys beside config:", async () => {
    const { code, stderr } = await loadAsUnderPulumiUp(
      { "aws:region": "eu-west-1" },
      { text: "config:\n  aws:region: eu-west-1\nconfigs:\n  weather-pipeline:timezone: UTC\n", dir: "stacks" },
    );
    expect(code).to.equal(3);
    expect(stderr).to.contain(
      "- configs: is not a stack file key, so Pulumi ignores all of it; did you mean config:? (Pulumi.demo.yaml)",
    );
  });

  it("says in one line that a stack which changes nothing deploys the defaults", async () => {
    const { code, stdout } = await loadAsUnderPulumiUp({
      "aws:region": "eu-west-1",
      "weather-pipeline:timezone": "UTC",
    });
    expect(code).to.equal(0);
    expect(stdout.trim().split("\n")).to.have.length(1);
    expect(stdout).to.contain(
      "stack demo changes none of the weather-pipeline: defaults, so it deploys them: 2 location(s)",
    );
    const own = await loadAsUnderPulumiUp({ "weather-pipeline:timezone": "Europe/Berlin" });
    expect(own.stdout).to.equal("");
  });
});
