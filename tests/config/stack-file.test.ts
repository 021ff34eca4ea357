import { readFileSync } from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import {
  ConfigError,
  KNOWN_CONFIG_NAMESPACES,
  parseStackFile,
  unknownNamespaceProblems,
} from "../../pipeline/config/stack-file";
import { PROJECT_DIR } from "../../pipeline/local/plan";

const P = "weather-pipeline";

function problemOf(text: string): string {
  try {
    parseStackFile(text, P, "Pulumi.dev.yaml");
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError, but the stack file was accepted");
}

describe("stack files, read as the Pulumi CLI reads them", () => {
  it("hands every value over as a string, structured values as JSON, secrets marked", () => {
    const config = parseStackFile(
      [
        "config:",
        "  aws:region: eu-west-1",
        "  weather-pipeline:ingestMemoryMb: 128",
        "  weather-pipeline:locations:",
        "    - { name: berlin, latitude: 52.52, longitude: 13.41 }",
        "  weather-pipeline:apiKey:",
        "    secure: AAABAC0ffee",
      ].join("\n"),
      P,
      "Pulumi.dev.yaml",
    );
    expect(config.values).to.deep.equal({
      "aws:region": "eu-west-1",
      "weather-pipeline:ingestMemoryMb": "128",
      "weather-pipeline:locations": '[{"name":"berlin","latitude":52.52,"longitude":13.41}]',
      "weather-pipeline:apiKey": "AAABAC0ffee",
    });
    expect(config.secretKeys).to.deep.equal(["weather-pipeline:apiKey"]);
  });

  it("gives an un-namespaced key the project's namespace, as the CLI does", () => {
    const config = parseStackFile("config:\n  timezone: Europe/Berlin\n", P, "Pulumi.dev.yaml");
    expect(config.values).to.deep.equal({ "weather-pipeline:timezone": "Europe/Berlin" });
  });

  it("reads an empty file, or one without config:, as no config", () => {
    expect(parseStackFile("", P, "x").values).to.deep.equal({});
    expect(parseStackFile("encryptionsalt: v1:abc\n", P, "x").values).to.deep.equal({});
  });

  it("refuses a file under configs:, which the CLI would drop without a word", () => {
    expect(problemOf("configs:\n  weather-pipeline:timezone: UTC\n")).to.equal(
      "Invalid stack file:\n- configs: is not a stack file key, so Pulumi ignores all of it; did you mean config:? (Pulumi.dev.yaml)",
    );
  });

  it("refuses keys written beside config: instead of under it", () => {
    const message = problemOf("config:\n  aws:region: eu-west-1\nweather-pipeline:timezone: UTC\n");
    expect(message).to.contain(
      "weather-pipeline:timezone is written beside config:, not under it, so Pulumi ignores it; indent it under config: (Pulumi.dev.yaml)",
    );
  });

  it("refuses a key given with and without its namespace", () => {
    const message = problemOf("config:\n  timezone: UTC\n  weather-pipeline:timezone: Europe/Berlin\n");
    expect(message).to.contain("weather-pipeline:timezone and timezone set the same key weather-pipeline:timezone");
  });

  it("refuses a config: that is not a mapping", () => {
    expect(problemOf("config:\n  - weather-pipeline:timezone\n")).to.contain("config: holds");
  });

  it("names the file and the line of a YAML syntax error", () => {
    const message = problemOf("config:\n  weather-pipeline:locations: [\n");
    expect(message).to.match(/^Pulumi\.dev\.yaml is not valid YAML: .* at line \d+, column \d+/);
  });

  it("refuses a key set twice, which YAML would resolve by keeping one", () => {
    expect(problemOf("config:\n  aws:region: a\n  aws:region: b\n")).to.match(
      /^Pulumi\.dev\.yaml is not valid YAML: .*unique/i,
    );
  });
});

describe("config namespaces", () => {
  it("accepts the project's, the AWS providers' and Pulumi's own", () => {
    const keys = ["weather-pipeline:timezone", "aws:region", "awsx:x", "pulumi:tags"];
    expect(unknownNamespaceProblems(keys, P)).to.deep.equal([]);
  });

  it("refuses a misspelt namespace, with the key it was meant to be", () => {
    expect(unknownNamespaceProblems(["weather-pipelin:locations", "weather-pipelin:timezone"], P)).to.deep.equal([
      "weather-pipelin:locations, weather-pipelin:timezone is in namespace weather-pipelin:, which neither this project (weather-pipeline:) nor its providers (aws:, awsx:, pulumi:) read, so it would not apply; did you mean weather-pipeline:locations?",
    ]);
  });

  it("refuses a namespace far from every known one, saying how to write the key", () => {
    const [problem] = unknownNamespaceProblems(["gcp:project"], P);
    expect(problem).to.contain("gcp:project is in namespace gcp:");
    expect(problem).to.contain("write it as weather-pipeline:<key> if it is this project's, or remove it");
  });

  it("knows the namespace of every provider package the program depends on", () => {
    const pkg = JSON.parse(readFileSync(path.join(PROJECT_DIR, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    const providers = Object.keys(pkg.dependencies)
      .filter((name) => name.startsWith("@pulumi/") && name !== "@pulumi/pulumi")
      .map((name) => name.slice("@pulumi/".length));
    expect([...KNOWN_CONFIG_NAMESPACES].sort()).to.deep.equal([...providers, "pulumi"].sort());
  });
});
