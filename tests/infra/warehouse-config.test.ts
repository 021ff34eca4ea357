/**
 * The warehouse keys of the stack config: each stack's values, and bad values refused with the
 * key, the value and the fix.
 */
import { expect } from "chai";
import { ConfigError, parseStackConfig } from "../../pipeline/infra/config";

const NS = "weather-pipeline";
const base = { locations: [{ name: "a", latitude: 1, longitude: 2 }] };

function errorOf(raw: Record<string, unknown>): string {
  try {
    parseStackConfig({ ...base, ...raw }, NS, "Pulumi.x.yaml");
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError, but the config was accepted");
}

describe("warehouse configuration", () => {
  it("is off by default, and on with a created VPC or an existing one", () => {
    expect(parseStackConfig(base, NS, "x").warehouse).to.equal(undefined);
    expect(parseStackConfig({ ...base, warehouseEnabled: true }, NS, "x").warehouse).to.deep.equal({
      minCapacityAcu: 0,
      maxCapacityAcu: 1,
      autoPauseSeconds: 300,
      backupRetentionDays: 1,
      databaseName: "weather",
      engineVersion: "16.6",
      network: { cidr: "10.64.0.0/16" },
      load: { memoryMb: 256, timeoutSeconds: 120 },
    });
    const existing = parseStackConfig(
      { ...base, warehouseEnabled: true, warehouseVpcId: "vpc-0abc", warehouseSubnetIds: ["subnet-01", "subnet-02"] },
      NS,
      "x",
    );
    expect(existing.warehouse?.network).to.deep.equal({ vpcId: "vpc-0abc", subnetIds: ["subnet-01", "subnet-02"] });
  });

  it("refuses bad values, naming the key, the value and the fix", () => {
    expect(errorOf({ warehouseMinCapacityAcu: 4, warehouseMaxCapacityAcu: 2 })).to.contain(
      "weather-pipeline:warehouseMinCapacityAcu is 4; it is above warehouseMaxCapacityAcu (2); lower it or raise the maximum (Pulumi.x.yaml)",
    );
    expect(errorOf({ warehouseVpcId: "vpc-0abc" })).to.contain(
      'weather-pipeline:warehouseVpcId is "vpc-0abc"; warehouseVpcId and warehouseSubnetIds go together',
    );
    expect(errorOf({ warehouseVpcId: "vpc-0abc", warehouseSubnetIds: ["subnet-01"] })).to.contain(
      "RDS needs subnets in at least two availability zones",
    );
    expect(errorOf({ warehouseVpcCidr: "8.8.0.0/16" })).to.contain(
      'weather-pipeline:warehouseVpcCidr is "8.8.0.0/16"; it must be a private IPv4 CIDR block from /16 to /24',
    );
    expect(errorOf({ warehouseVpcCidr: "10.64.0.1/16" })).to.contain('warehouseVpcCidr is "10.64.0.1/16"');
    expect(errorOf({ warehouseVpcCidr: "10.0.0.0/8" })).to.contain("warehouseVpcCidr");
    expect(errorOf({ warehouseDatabaseName: "Weather-DB" })).to.contain(
      'weather-pipeline:warehouseDatabaseName is "Weather-DB"; it must be a PostgreSQL database name',
    );
    expect(errorOf({ warehouseAutoPauseSeconds: 60 })).to.contain(
      "warehouseAutoPauseSeconds is 60; it must be at least 300 seconds",
    );
    expect(errorOf({ warehouseSubnetIds: ["sub-1"], warehouseVpcId: "vpc-0abc" })).to.contain(
      'warehouseSubnetIds[0] is "sub-1"; each must be a subnet id',
    );
  });
});
