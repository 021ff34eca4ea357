/**
 * The proof that `pulumi up` would ship working code: each Lambda's package is built from the
 * code archive the program declares (Pulumi's serialized closure plus the packages
 * CallbackFunction picked), unzipped, and invoked in a fresh Node 22 process that sees only the
 * AWS SDK, against a real S3-protocol server and the fake Open-Meteo on 127.0.0.1.
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { parquetMetadata, parquetReadObjects, type SchemaElement } from "hyparquet";
import { unzipSync } from "fflate";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { addDays, todayIn } from "../../pipeline/core/dates";
import type { IngestResult } from "../../pipeline/ingest/ingest";
import { requestManifestKey } from "../../pipeline/core/keys";
import {
  buildLambdaPackage,
  extractLambdaPackage,
  invokeLambdaPackage,
  prepareRuntimeModules,
  type InvocationResult,
  type LambdaPackage,
} from "../../pipeline/local/lambda-package";
import { startFakeOpenMeteo } from "../../pipeline/local/fake-open-meteo";
import { PROJECT_DIR, mockPhysicalName, type PlannedResource } from "../../pipeline/local/plan";
import { LOCAL_S3_CREDENTIALS, startLocalS3, type LocalS3Server } from "../../pipeline/local/s3-server";
import type { RequestManifest } from "../../pipeline/core/manifest";
import { S3ObjectStore } from "../../pipeline/core/storage";
import type { TransformResult } from "../../pipeline/transform/transform";
import {
  CURATED_BYTES_WRITTEN,
  CURATED_PARTITIONS_WRITTEN,
  CURATED_ROWS_WRITTEN,
  OPEN_METEO_BYTES,
  OPEN_METEO_REQUESTS,
  OPEN_METEO_RETRIES,
  OPEN_METEO_WEIGHT,
} from "../../pipeline/core/metrics";
import { emfDatapointsOf } from "../support/emf";
import { parseStackConfigValues } from "../../pipeline/infra/config";
import { readStackConfigFile } from "../../pipeline/local/plan";
import {
  sourceCuratedKey,
  sourceStateKey,
  type SourceDefinition,
  type SourceFetchResult,
  type SourceTransformResult,
} from "../../pipeline/sources";
import { comparable, expectedRows } from "../support/expected-rows";
import { find, planOf } from "../support/plans";

const STACK = "dev";
const PREFIX = `weather-pipeline-${STACK}`;
const FUNCTION = "aws:lambda/function:Function";

/** The Athena type a reader infers from a Parquet column: what the Glue table must declare. */
function glueTypeOf(element: SchemaElement): string {
  if (element.type === "BYTE_ARRAY" && element.converted_type === "UTF8") return "string";
  if (element.type === "DOUBLE") return "double";
  if (element.type === "INT64" && element.logical_type?.type === "TIMESTAMP") return "timestamp";
  if (element.type === "INT64" && element.logical_type?.type === "INTEGER") return "bigint";
  if (element.type === "BOOLEAN") return "boolean";
  return `unexpected ${JSON.stringify(element)}`;
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

describe("the Lambdas as `pulumi up` would deploy them", function () {
  this.timeout(180_000);
  let fake: Awaited<ReturnType<typeof startFakeOpenMeteo>>;
  let s3: LocalS3Server;
  let work: string;
  let runtimeModules: string;
  const packages = new Map<string, LambdaPackage>();
  const taskDirs = new Map<string, string>();
  let rawStore: S3ObjectStore;
  let plan: PlannedResource[];
  let curatedStore: S3ObjectStore;
  /** The dev stack's sources as the program reads them, published by the fake. */
  let sources: readonly SourceDefinition[];
  const date = addDays(todayIn("UTC", new Date()), -2);

  /**
   * The EMF lines a packaged function printed, parsed as CloudWatch would: exactly `names`, each
   * with the stack's Stack dimension and graphed on the stack's dashboard with those dimensions.
   */
  const expectGraphedMetrics = (logs: string, names: readonly string[]): void => {
    const points = emfDatapointsOf(logs);
    expect(points.map((p) => p.name).sort()).to.deep.equal([...names].sort());
    const body = find(plan, "aws:cloudwatch/dashboard:Dashboard", `${PREFIX}-dashboard`).inputs["dashboardBody"];
    const graphed = JSON.stringify(JSON.parse(body as string));
    for (const point of points) {
      expect(point.dimensions).to.deep.equal({ Stack: PREFIX });
      expect(graphed, `${point.name} is not on the dashboard`).to.include(
        JSON.stringify([point.namespace, point.name, "Stack", PREFIX]).slice(0, -1),
      );
    }
  };

  const invoke = (role: "ingest" | "transform", event: unknown): Promise<InvocationResult> =>
    invokeLambdaPackage({
      taskDir: taskDirs.get(role)!,
      runtimeModulesDir: runtimeModules,
      functionName: `${PREFIX}-${role}`,
      event,
      env: {
        AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
        AWS_ENDPOINT_URL_S3: s3.endpoint,
      },
    });

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), "lambda-package-"));
    const devFile = path.join(PROJECT_DIR, `Pulumi.${STACK}.yaml`);
    const declared = parseStackConfigValues(readStackConfigFile(devFile), "weather-pipeline", devFile).sources;
    fake = await startFakeOpenMeteo({ sources: declared });
    sources = declared.map((source) => ({ ...source, url: fake.sourceUrl(source) }));
    // The dev stack's own config, with the API and the sources moved to the fake: the URLs are
    // part of the settings the callbacks capture, so they are baked into the serialized code.
    const stackFile = parseYaml(readFileSync(devFile, "utf8")) as {
      config: Record<string, unknown>;
    };
    stackFile.config["weather-pipeline:forecastApiUrl"] = fake.forecastUrl;
    stackFile.config["weather-pipeline:archiveApiUrl"] = fake.archiveUrl;
    const sourceConfig = stackFile.config["weather-pipeline:sources"] as { url: string }[];
    sourceConfig.forEach((entry, i) => (entry.url = sources[i]!.url));
    const configFile = path.join(work, `Pulumi.${STACK}.yaml`);
    writeFileSync(configFile, stringifyYaml(stackFile));
    plan = await planOf(STACK, configFile);

    runtimeModules = prepareRuntimeModules(path.join(work, "runtime"), PROJECT_DIR);
    for (const role of ["ingest", "transform"]) {
      const pkg = buildLambdaPackage(find(plan, FUNCTION, `${PREFIX}-${role}`), PROJECT_DIR);
      packages.set(role, pkg);
      const taskDir = path.join(work, role, "task");
      mkdirSync(taskDir, { recursive: true });
      extractLambdaPackage(pkg, taskDir);
      taskDirs.set(role, taskDir);
    }
    s3 = await startLocalS3({
      directory: path.join(work, "s3"),
      // The applications bucket too: ingest reads the registry there (none yet: config locations only).
      buckets: [
        mockPhysicalName(`${PREFIX}-raw`),
        mockPhysicalName(`${PREFIX}-curated`),
        mockPhysicalName(`${PREFIX}-applications`),
      ],
    });
    const client = s3.client();
    rawStore = new S3ObjectStore(client, mockPhysicalName(`${PREFIX}-raw`));
    curatedStore = new S3ObjectStore(client, mockPhysicalName(`${PREFIX}-curated`));
  });

  after(async () => {
    await s3?.close();
    await fake?.close();
  });

  it("packages only the serialized handler and the dependencies each function uses", () => {
    const listing = (role: string) => {
      const names = Object.keys(unzipSync(packages.get(role)!.zip));
      return new Set(names.map((n) => (n.startsWith("node_modules/") ? n.split("/")[1] : n)));
    };
    const ingest = listing("ingest");
    const transform = listing("transform");
    expect([...ingest].sort()).to.deep.equal(["__index.js", "ky"]);
    // The dev stack has a source: its transform parses CSV and times.
    expect([...transform].sort()).to.deep.equal(["__index.js", "csv-parse", "hyparquet", "hyparquet-writer", "luxon"]);
    // luxon and csv-parse as their CommonJS entry files only, not their other builds and maps.
    const files = (role: string, name: string) =>
      Object.keys(unzipSync(packages.get(role)!.zip))
        .filter((n) => n.startsWith(`node_modules/${name}/`))
        .sort();
    expect(files("transform", "luxon")).to.deep.equal([
      "node_modules/luxon/LICENSE.md",
      "node_modules/luxon/build/node/luxon.js",
      "node_modules/luxon/package.json",
    ]);
    expect(files("transform", "csv-parse")).to.deep.equal([
      "node_modules/csv-parse/LICENSE",
      "node_modules/csv-parse/dist/cjs/sync.cjs",
      "node_modules/csv-parse/package.json",
    ]);
    // The ES module packages as the one CommonJS file their `require` loads (local/cjs-bundles.ts),
    // which the serialized code still requires by the package's name.
    const index = (role: string) => Buffer.from(unzipSync(packages.get(role)!.zip)["__index.js"]!).toString();
    expect(index("ingest")).to.include('require("ky")');
    // dev has no API key: its ingest loads no Secrets Manager client (tests/infra/api-key-package.test.ts).
    expect(index("ingest")).to.not.include("client-secrets-manager");
    expect(index("transform")).to.include('require("hyparquet-writer")');
    expect(index("ingest") + index("transform")).not.to.include("cjs/index.cjs");
    for (const [role, name, licence] of [
      ["ingest", "ky", "license"],
      ["transform", "hyparquet", "LICENSE"],
      ["transform", "hyparquet-writer", "LICENSE"],
    ] as const) {
      expect(files(role, name), `${role}: ${name}`).to.deep.equal(
        [
          `node_modules/${name}/${licence}`,
          `node_modules/${name}/cjs/index.cjs`,
          `node_modules/${name}/package.json`,
        ].sort(),
      );
    }
    for (const [role, pkg] of packages) {
      expect(pkg.zip.byteLength, `${role}'s package`).to.be.at.most(1024 * 1024);
      console.log(
        `      ${role}: ${pkg.zip.byteLength} bytes zipped, ${pkg.fileCount} files, __index.js ${pkg.indexBytes} bytes`,
      );
    }
  });

  let ingested: IngestResult;

  it("ingest fetches a day for every configured location and stores each response unchanged", async () => {
    const run = await invoke("ingest", { date });
    expect(run.nodeVersion).to.match(/^v22\./);
    expect(run.ok, `${run.errorType}: ${run.errorMessage}\n${run.logs}`).to.equal(true);
    ingested = run.result as IngestResult;
    expect(ingested.date).to.equal(date);
    expect(ingested.endpoint).to.equal("forecast");
    expect(ingested.keys).to.have.length.greaterThan(0);
    expect(await rawStore.listKeys("open-meteo/")).to.deep.equal(
      [...ingested.keys, ...ingested.keys.map(requestManifestKey)].sort(),
    );
    const names: string[] = [];
    for (const key of ingested.keys) {
      const raw = await rawStore.getObject(key);
      const manifest = JSON.parse(
        Buffer.from((await rawStore.getObject(requestManifestKey(key))).body).toString(),
      ) as RequestManifest;
      expect(raw.metadata["fetched-at"]).to.equal(manifest.fetchedAt);
      expect(manifest.bodySha256).to.equal(createHash("sha256").update(raw.body).digest("hex"));
      // The fake is deterministic: the same request answers the same bytes.
      const again = new Uint8Array(await (await fetch(manifest.url)).arrayBuffer());
      expect(Buffer.compare(Buffer.from(raw.body), Buffer.from(again))).to.equal(0);
      names.push(...manifest.locations.map((l) => l.name));
    }
    expect(names).to.deep.equal(["amsterdam", "berlin"]);
    expectGraphedMetrics(run.logs, [OPEN_METEO_REQUESTS, OPEN_METEO_RETRIES, OPEN_METEO_BYTES, OPEN_METEO_WEIGHT]);
  });

  it("ingest run again for the same date writes the same keys", async () => {
    const run = await invoke("ingest", { date });
    expect(run.ok, run.errorMessage).to.equal(true);
    expect((run.result as IngestResult).keys).to.deep.equal(ingested.keys);
  });

  it("transform writes one Parquet file per dataset whose rows equal the raw JSON, value by value", async () => {
    const run = await invoke("transform", ingested);
    expect(run.ok, `${run.errorType}: ${run.errorMessage}\n${run.logs}`).to.equal(true);
    const result = run.result as TransformResult;
    expect(result.files.map((f) => f.key).sort()).to.deep.equal([
      `weather_daily/date=${date}/weather_daily_${date}.parquet`,
      `weather_hourly/date=${date}/weather_hourly_${date}.parquet`,
    ]);
    for (const file of result.files) {
      const expected = [];
      for (const key of ingested.keys) {
        const body = Buffer.from((await rawStore.getObject(key)).body).toString();
        const manifest = JSON.parse(
          Buffer.from((await rawStore.getObject(requestManifestKey(key))).body).toString(),
        ) as RequestManifest;
        expected.push(
          ...expectedRows(
            body,
            file.dataset,
            date,
            manifest.locations.map((l) => l.name),
          ),
        );
      }
      const curated = await curatedStore.getObject(file.key);
      // What wrote the file and when: the report attributes it to a run by this time.
      expect(curated.metadata["written-by"]).to.equal(`${PREFIX}-transform`);
      expect(Date.now() - Date.parse(curated.metadata["written-at"] ?? "")).to.be.within(0, 120_000);
      const parquet = toArrayBuffer(curated.body);
      const rows = await parquetReadObjects({ file: parquet });
      expect(rows.map(comparable)).to.deep.equal(expected.map(comparable));
      expect(file.rows).to.equal(expected.length);
      expect(parquetMetadata(parquet).num_rows).to.equal(BigInt(expected.length));
    }
    const hourly = result.files.find((f) => f.dataset === "weather_hourly")!;
    expect(hourly.rows).to.equal(2 * 24);
    expectGraphedMetrics(run.logs, [CURATED_PARTITIONS_WRITTEN, CURATED_ROWS_WRITTEN, CURATED_BYTES_WRITTEN]);
  });

  it("adds an accepted location's history to the date as packaged: ingest fetches it alone, transform writes the date again with it", async () => {
    const porto = { name: "porto", latitude: 41.15, longitude: -8.61 };
    const key = `weather_hourly/date=${date}/weather_hourly_${date}.parquet`;
    const before = await parquetReadObjects({ file: toArrayBuffer((await curatedStore.getObject(key)).body) });
    const fetched = await invoke("ingest", { from: date, to: date, locations: [porto] });
    expect(fetched.ok, `${fetched.errorType}: ${fetched.errorMessage}\n${fetched.logs}`).to.equal(true);
    const window = fetched.result as { keys: string[] };
    const run = await invoke("transform", { from: date, to: date, keys: window.keys, locations: [{ name: "porto" }] });
    expect(run.ok, `${run.errorType}: ${run.errorMessage}\n${run.logs}`).to.equal(true);
    expect((run.result as { addedDates: number }).addedDates).to.equal(1);
    const after = await parquetReadObjects({ file: toArrayBuffer((await curatedStore.getObject(key)).body) });
    expect(after.filter((r) => r["location"] === "porto")).to.have.length(24);
    // The stack's own rows, unchanged.
    expect(after.filter((r) => r["location"] !== "porto").map(comparable)).to.deep.equal(before.map(comparable));
  });

  it("writes exactly the columns and types the Glue tables declare", async () => {
    for (const dataset of ["weather_hourly", "weather_daily"]) {
      const table = find(plan, "aws:glue/catalogTable:CatalogTable", `${PREFIX}-query-${dataset}`);
      const declared = (table.inputs["storageDescriptor"] as { columns: { name: string; type: string }[] }).columns;
      const key = `${dataset}/date=${date}/${dataset}_${date}.parquet`;
      const { schema } = parquetMetadata(toArrayBuffer((await curatedStore.getObject(key)).body));
      const written = schema.slice(1).map((element) => ({ name: element.name, type: glueTypeOf(element) }));
      expect(written).to.deep.equal(declared);
    }
  });

  let fetched: SourceFetchResult;

  it("ingest fetches the stack's source as packaged and stores it unchanged, with its state", async () => {
    const source = sources[0]!;
    const run = await invoke("ingest", { source: source.name });
    expect(run.ok, `${run.errorType}: ${run.errorMessage}\n${run.logs}`).to.equal(true);
    fetched = run.result as SourceFetchResult;
    expect(fetched).to.deep.include({ source: source.name, status: 200, changed: true, transform: true });
    const published = await (await fetch(source.url)).arrayBuffer();
    const stored = (await rawStore.getObject(fetched.key)).body;
    expect(Buffer.compare(Buffer.from(stored), Buffer.from(published))).to.equal(0);
    expect((await rawStore.getObject(sourceStateKey(source.name))).body.byteLength).to.be.greaterThan(0);
    // A source's fetch prints no Open-Meteo metric.
    expect(emfDatapointsOf(run.logs)).to.deep.equal([]);
    const again = await invoke("ingest", { source: source.name });
    expect(again.ok, again.errorMessage).to.equal(true);
    expect(again.result).to.deep.include({ status: 304, changed: false, key: fetched.key });
  });

  it("transform turns the fetched source into one Parquet file per date, whose columns are the Glue table's", async () => {
    const source = sources[0]!;
    const run = await invoke("transform", fetched);
    expect(run.ok, `${run.errorType}: ${run.errorMessage}\n${run.logs}`).to.equal(true);
    const result = run.result as SourceTransformResult;
    expect(result.files.length).to.be.greaterThan(0);
    expect(result.rejectedRows).to.equal(0);
    const table = find(plan, "aws:glue/catalogTable:CatalogTable", `${PREFIX}-query-source_${source.name}`);
    const declared = (table.inputs["storageDescriptor"] as { columns: { name: string; type: string }[] }).columns.map(
      (c) => ({ name: c.name, type: c.type }),
    );
    for (const file of result.files) {
      expect(file.key).to.equal(sourceCuratedKey(source.name, file.date));
      const curated = await curatedStore.getObject(file.key);
      expect(curated.metadata["written-by"]).to.equal(`${PREFIX}-transform`);
      const parquet = toArrayBuffer(curated.body);
      const written = parquetMetadata(parquet)
        .schema.slice(1)
        .map((element) => ({ name: element.name, type: glueTypeOf(element) }));
      expect(written).to.deep.equal(declared);
      const rows = await parquetReadObjects({ file: parquet });
      expect(rows).to.have.length(file.rows);
      expect(new Set(rows.map((r) => String(r["station_id"]))).size).to.equal(3);
    }
  });

  it("transform fails with the missing key named, and writes nothing", async () => {
    const key = `open-meteo/forecast/date=${date}/9999-000000000000.json`;
    const before = await curatedStore.listKeys("");
    const run = await invoke("transform", { date, keys: [key] });
    expect(run.ok).to.equal(false);
    expect(run.errorMessage, run.errorMessage).to.contain(key);
    expect(await curatedStore.listKeys("")).to.deep.equal(before);
  });

  it("ingest rejects a malformed date with the value and the expected form", async () => {
    const run = await invoke("ingest", { date: "2026-13-01" });
    expect(run.ok).to.equal(false);
    expect(run.errorMessage).to.contain('"2026-13-01"').and.to.contain("YYYY-MM-DD");
  });
});
