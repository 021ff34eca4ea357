import { expect } from "chai";
import {
  LAMBDA_CONCURRENCY_QUOTA_CODE,
  minimumUnreserved,
  reservedConcurrencyProblem,
} from "../../pipeline/infra/reserved-concurrency";

const ingest = (executions: number | undefined) => ({ key: "weather-pipeline:ingestReservedConcurrency", executions });
const transform = (executions: number | undefined) => ({
  key: "weather-pipeline:transformReservedConcurrency",
  executions,
});

describe("reserved concurrency against the account's quota", () => {
  it("keeps 100 executions unreserved, or all of them on an account below that", () => {
    expect(minimumUnreserved(1000)).to.equal(100);
    expect(minimumUnreserved(50)).to.equal(50);
    expect(minimumUnreserved(10)).to.equal(10);
  });

  it("refuses any reservation on a new account (quota 10), naming the key, the quota and the fix", () => {
    const problem = reservedConcurrencyProblem(10, [ingest(1), transform(undefined)], "eu-west-1");
    expect(problem).to.contain("weather-pipeline:ingestReservedConcurrency is 1");
    expect(problem).to.not.contain("transformReservedConcurrency");
    expect(problem).to.contain("quota of concurrent executions in eu-west-1 is 10");
    expect(problem).to.contain(`Service Quotas ${LAMBDA_CONCURRENCY_QUOTA_CODE}`);
    expect(problem).to.contain("Lambda keeps 10 unreserved");
    expect(problem).to.contain("set it to 0");
  });

  it("accepts reservations that leave 100 of a 1,000 quota, and refuses one more", () => {
    expect(reservedConcurrencyProblem(1000, [ingest(899), transform(1)], "eu-west-1")).to.equal(undefined);
    const problem = reservedConcurrencyProblem(1000, [ingest(900), transform(1)], "eu-west-1");
    expect(problem).to.contain(
      "ingestReservedConcurrency is 900 and weather-pipeline:transformReservedConcurrency is 1",
    );
    expect(problem).to.contain("reserving 901 would fail pulumi up; set them to 0");
    expect(problem).to.contain("raised to at least 1001");
  });

  it("has nothing to say when nothing is reserved, whatever the quota", () => {
    expect(reservedConcurrencyProblem(10, [ingest(undefined), transform(0)], "eu-west-1")).to.equal(undefined);
  });
});
