/**
 * The load Lambda as `pulumi up` would ship it: its package built from the code archive of the
 * staging plan, unzipped, and run in a fresh Node 22 process that sees only the runtime's AWS SDK,
 * against a real PostgreSQL server that accepts TLS only (its certificate from a test CA, which
 * WAREHOUSE_CA_FILE points at where AWS uses the runtime's bundle), a Secrets Manager stand-in
 * holding the master secret, and s3rver holding the curated Parquet.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { unzipSync } from "fflate";
import { PROJECT_DIR, mockPhysicalName } from "../../pipeline/local/plan";
import {
  buildLambdaPackage,
  extractLambdaPackage,
  invokeLambdaPackage,
  prepareRuntimeModules,
  type LambdaPackage,
} from "../../pipeline/local/lambda-package";
import { LOCAL_S3_CREDENTIALS, startLocalS3, type LocalS3Server } from "../../pipeline/local/s3-server";
import { createTestCertificates, startPostgresServer, type PostgresServer } from "../../pipeline/local/postgres-server";
import { startLocalSecretsManager, type LocalSecretsManager } from "../../pipeline/local/secrets-manager";
import { parseStackConfigValues } from "../../pipeline/infra/config";
import { readStackConfigFile } from "../../pipeline/local/plan";
import { S3ObjectStore } from "../../pipeline/core/storage";
import { connectPostgres } from "../../pipeline/warehouse";
import { dailyRows, hourlyRows, putCuratedFile } from "../support/warehouse";
import { find, planOf } from "../support/plans";

const STACK = "staging";
const PREFIX = `weather-pipeline-${STACK}`;
const SECRET = `arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!cluster-${PREFIX}-AbCdEf`;

describe("the load Lambda as `pulumi up` would deploy it", function () {
  this.timeout(240_000);
  let work: string;
  let pkg: LambdaPackage;
  let taskDir: string;
  let runtimeModules: string;
  let s3: LocalS3Server;
  let server: PostgresServer;
  let secrets: LocalSecretsManager;
  let caFile: string;
  const config = parseStackConfigValues(
    readStackConfigFile(path.join(PROJECT_DIR, `Pulumi.${STACK}.yaml`)),
    "weather-pipeline",
    STACK,
  );
  const bucket = mockPhysicalName(`${PREFIX}-curated`);

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), "load-package-"));
    const plan = await planOf(STACK);
    pkg = buildLambdaPackage(find(plan, "aws:lambda/function:Function", `${PREFIX}-load`), PROJECT_DIR);
    taskDir = path.join(work, "task");
    mkdirSync(taskDir, { recursive: true });
    extractLambdaPackage(pkg, taskDir);
    runtimeModules = prepareRuntimeModules(path.join(work, "runtime"), PROJECT_DIR);
    const certs = await createTestCertificates(work, "rds");
    caFile = certs.caFile;
    server = await startPostgresServer({ tls: { certFile: certs.certFile, keyFile: certs.keyFile, required: true } });
    secrets = await startLocalSecretsManager({
      [SECRET]: JSON.stringify({ username: server.user, password: server.password }),
    });
    s3 = await startLocalS3({ directory: path.join(work, "s3"), buckets: [bucket] });
  });
  after(async () => {
    await s3?.close();
    await secrets?.close();
    await server?.close();
    rmSync(work, { recursive: true, force: true });
  });

  const invoke = (event: unknown) =>
    invokeLambdaPackage({
      taskDir,
      runtimeModulesDir: runtimeModules,
      functionName: `${PREFIX}-load`,
      event,
      env: {
        AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
        // What the stack sets from the cluster (tests/infra/warehouse.test.ts checks those values).
        WAREHOUSE_HOST: "127.0.0.1",
        WAREHOUSE_PORT: String(server.port),
        WAREHOUSE_DATABASE: server.database,
        WAREHOUSE_SECRET_ARN: SECRET,
        WAREHOUSE_CA_FILE: caFile,
      },
    });

  it("ships the serialized handler with pg, pg-copy-streams and hyparquet, and not the writer or the HTTP client", () => {
    const top = new Set(
      Object.keys(unzipSync(pkg.zip)).map((n) => (n.startsWith("node_modules/") ? n.split("/")[1] : n)),
    );
    expect([...top]).to.include.members(["__index.js", "pg", "pg-copy-streams", "hyparquet", "pg-protocol"]);
    expect([...top]).to.not.include.members(["hyparquet-writer", "ky", "@aws-sdk", "@electric-sql", "zod"]);
    console.log(
      `      load: ${pkg.zip.byteLength} bytes zipped, ${pkg.fileCount} files, __index.js ${pkg.indexBytes} bytes`,
    );
  });

  it("loads a date's Parquet from S3 over verified TLS with the secret's credentials, and the rows are there", async () => {
    const store = new S3ObjectStore(s3.client(), bucket);
    const date = "2026-11-19";
    const places = config.pipeline.locations.map((l) => l.name);
    await putCuratedFile(
      store,
      "weather_hourly",
      date,
      config.pipeline,
      hourlyRows(date, places, config.pipeline.hourlyVariables),
    );
    await putCuratedFile(
      store,
      "weather_daily",
      date,
      config.pipeline,
      dailyRows(date, places, config.pipeline.dailyVariables),
    );
    const run = await invoke({ date, files: [], rawObjects: 2 });
    expect(run.nodeVersion).to.match(/^v22\./);
    expect(run.ok, `${run.errorType}: ${run.errorMessage}\n${run.logs}`).to.equal(true);
    expect(
      (run.result as { files: { dataset: string; rows: number }[] }).files.map((f) => [f.dataset, f.rows]),
    ).to.deep.equal([
      ["weather_hourly", places.length * 24],
      ["weather_daily", places.length],
    ]);
    expect(secrets.requests).to.deep.equal([SECRET]);
    expect(run.logs).to.not.contain(server.password);
    const db = await connectPostgres({
      host: "127.0.0.1",
      port: server.port,
      database: server.database,
      user: server.user,
      password: server.password,
      caPem: readFileSync(caFile, "utf8"),
    });
    try {
      expect(
        await db.query(
          `SELECT count(*)::bigint AS n, count(DISTINCT location)::bigint AS l FROM weather_hourly WHERE "date" = $1`,
          [date],
        ),
      ).to.deep.equal([{ n: places.length * 24, l: places.length }]);
      // Its session ended with the invocation: nothing keeps a paused database awake.
      const sessions = await db.query<{ n: number }>(
        "SELECT count(*)::bigint AS n FROM pg_stat_activity WHERE application_name = 'weather-pipeline-load' AND pid <> pg_backend_pid()",
      );
      expect(sessions).to.deep.equal([{ n: 0 }]);
    } finally {
      await db.close();
    }
    // The scheduled run's PlanLoads, as the state machine sends it.
    const planned = await invoke({ plan: { dates: [{ date: "2099-01-01" }] }, input: {} });
    expect(planned.ok, `${planned.errorType}: ${planned.errorMessage}\n${planned.logs}`).to.equal(true);
    expect((planned.result as { dates: unknown[] }).dates[0]).to.deep.equal({ date: "2099-01-01" });
  });

  it("refuses the server when the CA bundle does not vouch for it", async () => {
    const other = await createTestCertificates(work, "other");
    const run = await invokeLambdaPackage({
      taskDir,
      runtimeModulesDir: runtimeModules,
      functionName: `${PREFIX}-load`,
      event: { date: "2026-11-19" },
      env: {
        AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
        WAREHOUSE_HOST: "127.0.0.1",
        WAREHOUSE_PORT: String(server.port),
        WAREHOUSE_DATABASE: server.database,
        WAREHOUSE_SECRET_ARN: SECRET,
        WAREHOUSE_CA_FILE: other.caFile,
      },
    });
    expect(run.ok).to.equal(false);
    expect(run.errorType).to.equal("WarehouseError");
    expect(run.errorMessage).to.match(/certificate/);
  });
});
