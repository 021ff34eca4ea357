/**
 * The applications processor and ingest as `pulumi up` would ship them: each package built
 * from the code archive the program declares, unzipped, and invoked in a fresh Node 22 process
 * that sees only the AWS SDK, against s3rver and a stand-in for SNS's Publish on 127.0.0.1.
 * A file dropped into incoming/ is decided, routed and noticed; delivered again, nothing
 * changes; and the next ingest fetches the accepted location with the stack's own.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { unzipSync } from "fflate";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import {
  INCOMING_PREFIX,
  objectCreatedEvent,
  parseRegistry,
  REGISTRY_KEY,
  type ProcessingResult,
} from "../../pipeline/applications";
import { addDays, todayIn } from "../../pipeline/core/dates";
import { requestManifestKey } from "../../pipeline/core/keys";
import type { RequestManifest } from "../../pipeline/core/manifest";
import { bareEtag, S3ObjectStore } from "../../pipeline/core/storage";
import type { IngestResult } from "../../pipeline/ingest";
import { startFakeOpenMeteo } from "../../pipeline/local/fake-open-meteo";
import { startFakeSns, type FakeSns } from "../../pipeline/local/fake-sns";
import {
  buildLambdaPackage,
  extractLambdaPackage,
  invokeLambdaPackage,
  prepareRuntimeModules,
} from "../../pipeline/local/lambda-package";
import { MOCK_ACCOUNT, MOCK_REGION, PROJECT_DIR, mockPhysicalName } from "../../pipeline/local/plan";
import { LOCAL_S3_CREDENTIALS, startLocalS3, type LocalS3Server } from "../../pipeline/local/s3-server";
import { find, planOf } from "../support/plans";

const STACK = "dev";
const PREFIX = `weather-pipeline-${STACK}`;
const FUNCTION = "aws:lambda/function:Function";

describe("the applications Lambda as `pulumi up` would deploy it", function () {
  this.timeout(240_000);
  let work: string;
  let s3: LocalS3Server;
  let sns: FakeSns;
  let fake: Awaited<ReturnType<typeof startFakeOpenMeteo>>;
  let runtimeModules: string;
  let applications: S3ObjectStore;
  let raw: S3ObjectStore;
  const taskDirs = new Map<string, string>();
  const listings = new Map<string, string[]>();
  const bucket = mockPhysicalName(`${PREFIX}-applications`);

  const invoke = (role: "intake" | "ingest", event: unknown) =>
    invokeLambdaPackage({
      taskDir: taskDirs.get(role)!,
      runtimeModulesDir: runtimeModules,
      functionName: `${PREFIX}-${role}`,
      event,
      env: {
        AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_ENDPOINT_URL_SNS: sns.endpoint,
      },
    });

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), "applications-package-"));
    fake = await startFakeOpenMeteo();
    const stackFile = parseYaml(readFileSync(path.join(PROJECT_DIR, `Pulumi.${STACK}.yaml`), "utf8")) as {
      config: Record<string, unknown>;
    };
    stackFile.config["weather-pipeline:forecastApiUrl"] = fake.forecastUrl;
    stackFile.config["weather-pipeline:archiveApiUrl"] = fake.archiveUrl;
    const configFile = path.join(work, `Pulumi.${STACK}.yaml`);
    writeFileSync(configFile, stringifyYaml(stackFile));
    const plan = await planOf(STACK, configFile);
    runtimeModules = prepareRuntimeModules(path.join(work, "runtime"), PROJECT_DIR);
    for (const role of ["intake", "ingest"]) {
      const pkg = buildLambdaPackage(find(plan, FUNCTION, `${PREFIX}-${role}`), PROJECT_DIR);
      const taskDir = path.join(work, role, "task");
      mkdirSync(taskDir, { recursive: true });
      extractLambdaPackage(pkg, taskDir);
      taskDirs.set(role, taskDir);
      listings.set(
        role,
        [
          ...new Set(
            Object.keys(unzipSync(pkg.zip)).map((n) => (n.startsWith("node_modules/") ? n.split("/")[1]! : n)),
          ),
        ].sort(),
      );
    }
    s3 = await startLocalS3({
      directory: path.join(work, "s3"),
      buckets: [bucket, mockPhysicalName(`${PREFIX}-raw`), mockPhysicalName(`${PREFIX}-curated`)],
    });
    sns = await startFakeSns();
    const client = s3.client();
    applications = new S3ObjectStore(client, bucket);
    raw = new S3ObjectStore(client, mockPhysicalName(`${PREFIX}-raw`));
  });

  after(async () => {
    await s3?.close();
    await sns?.close();
    await fake?.close();
  });

  it("ships the serialized handler and csv-parse only (the SDK clients come with the runtime)", () => {
    expect(listings.get("intake")).to.deep.equal(["__index.js", "csv-parse"]);
    expect(listings.get("ingest")).to.deep.equal(["__index.js", "ky"]);
  });

  let event: Record<string, unknown>;
  let first: ProcessingResult;

  it("decides a dropped file, updates the registry, archives the file and publishes one notice", async () => {
    const key = `${INCOMING_PREFIX}team-a/new places.csv`;
    const body = "name,latitude,longitude\nleipzig,51.34,12.37\n=evil(),1,2\n";
    await applications.putObject(key, body, { contentType: "text/csv" });
    const head = (await applications.headObject(key))!;
    event = objectCreatedEvent({ bucket, key, etag: bareEtag(head.etag), size: head.size });
    const run = await invoke("intake", event);
    expect(run.nodeVersion).to.match(/^v22\./);
    expect(run.ok, `${run.errorType}: ${run.errorMessage}\n${run.logs}`).to.equal(true);
    first = run.result as ProcessingResult;
    expect(first.status).to.equal("processed");
    expect(first.accepted.map((r) => r.name)).to.deep.equal(["leipzig"]);
    expect(first.rejected.map((r) => r.row)).to.deep.equal([3]);
    const registry = parseRegistry(Buffer.from((await applications.getObject(REGISTRY_KEY)).body).toString());
    expect(registry.locations.map((e) => e.id)).to.deep.equal(first.accepted.map((r) => r.id));
    expect(await applications.headObject(key)).to.equal(undefined);
    expect(Buffer.from((await applications.getObject(first.outputs!.archive)).body).toString()).to.equal(body);
    expect(sns.published).to.have.length(1);
    expect(sns.published[0]).to.deep.include({
      topicArn: `arn:aws:sns:${MOCK_REGION}:${MOCK_ACCOUNT}:${mockPhysicalName(`${PREFIX}-notices`)}`,
      subject: "Applications new places.csv: accepted 1, rejected 1",
    });
    expect(sns.published[0]!.message).to.match(/row 3: name is "=evil\(\)"; it starts with "="/);
    expect(sns.published[0]!.attributes["processingId"]).to.equal(first.processingId);
  });

  it("delivered again, changes nothing and publishes nothing", async () => {
    const before = await applications.getObject(REGISTRY_KEY);
    const run = await invoke("intake", event);
    expect(run.ok, run.errorMessage).to.equal(true);
    expect((run.result as ProcessingResult).status).to.equal("already-processed");
    expect((await applications.getObject(REGISTRY_KEY)).etag).to.equal(before.etag);
    expect(sns.published).to.have.length(1);
  });

  it("the next ingest fetches the accepted location with the stack's own", async () => {
    const date = addDays(todayIn("UTC", new Date()), -2);
    const run = await invoke("ingest", { date });
    expect(run.ok, `${run.errorType}: ${run.errorMessage}\n${run.logs}`).to.equal(true);
    const names: string[] = [];
    for (const key of (run.result as IngestResult).keys) {
      const manifest = JSON.parse(
        Buffer.from((await raw.getObject(requestManifestKey(key))).body).toString(),
      ) as RequestManifest;
      names.push(...manifest.locations.map((l) => l.name));
    }
    expect(names.sort()).to.deep.equal(["amsterdam", "berlin", "leipzig"]);
    expect(run.logs).to.match(/locations: 2 from config, 1 from the registry \(revision 1\)/);
  });
});
