/**
 * Ingest of a stack with an Open-Meteo API key, as `pulumi up` would ship it: staging's config
 * with a secret apiKey, its package built from the plan's code archive and run in a fresh Node 22
 * process against a Secrets Manager stand-in (holding the key under the secret's ARN), s3rver and
 * the fake Open-Meteo. A stack without a key ships no Secrets Manager client at all
 * (tests/infra/lambda-package.test.ts).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { unzipSync } from "fflate";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { addDays, todayIn } from "../../pipeline/core/dates";
import { S3ObjectStore } from "../../pipeline/core/storage";
import type { IngestResult } from "../../pipeline/ingest";
import { startFakeOpenMeteo } from "../../pipeline/local/fake-open-meteo";
import {
  buildLambdaPackage,
  extractLambdaPackage,
  invokeLambdaPackage,
  prepareRuntimeModules,
} from "../../pipeline/local/lambda-package";
import { MOCK_ACCOUNT, MOCK_REGION, PROJECT_DIR, mockPhysicalName } from "../../pipeline/local/plan";
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from "../../pipeline/local/s3-server";
import { startLocalSecretsManager } from "../../pipeline/local/secrets-manager";
import { find, planOf } from "../support/plans";

const STACK = "keyed";
const PREFIX = `weather-pipeline-${STACK}`;
const KEY = "om-package-key-3b9d1f";

describe("ingest with an API key, as `pulumi up` would deploy it", function () {
  this.timeout(180_000);

  it("reads the key from Secrets Manager once and sends it to Open-Meteo, and stores nothing of it", async () => {
    const work = mkdtempSync(path.join(tmpdir(), "api-key-package-"));
    const fake = await startFakeOpenMeteo();
    const secretArn = `arn:aws:secretsmanager:${MOCK_REGION}:${MOCK_ACCOUNT}:secret:${mockPhysicalName(`${PREFIX}-api-key`)}`;
    const secrets = await startLocalSecretsManager({ [secretArn]: KEY });
    const raw = mockPhysicalName(`${PREFIX}-raw`);
    const s3 = await startLocalS3({
      directory: path.join(work, "s3"),
      buckets: [raw, mockPhysicalName(`${PREFIX}-curated`), mockPhysicalName(`${PREFIX}-applications`)],
    });
    try {
      // Staging's config with a key, and the API moved to the fake (the URLs are baked into the code).
      const stackFile = parseYaml(readFileSync(path.join(PROJECT_DIR, "Pulumi.staging.yaml"), "utf8")) as {
        config: Record<string, unknown>;
      };
      stackFile.config["weather-pipeline:apiKey"] = { secure: KEY };
      stackFile.config["weather-pipeline:forecastApiUrl"] = fake.forecastUrl;
      stackFile.config["weather-pipeline:archiveApiUrl"] = fake.archiveUrl;
      const configFile = path.join(work, `Pulumi.${STACK}.yaml`);
      writeFileSync(configFile, stringifyYaml(stackFile));
      const plan = await planOf(STACK, configFile);
      const pkg = buildLambdaPackage(find(plan, "aws:lambda/function:Function", `${PREFIX}-ingest`), PROJECT_DIR);
      const index = Buffer.from(unzipSync(pkg.zip)["__index.js"]!).toString();
      expect(index).to.include('require("@aws-sdk/client-secrets-manager');
      expect(index).to.not.include(KEY);
      const taskDir = path.join(work, "task");
      mkdirSync(taskDir, { recursive: true });
      extractLambdaPackage(pkg, taskDir);

      const date = addDays(todayIn("Europe/Berlin", new Date()), -2);
      const run = await invokeLambdaPackage({
        taskDir,
        runtimeModulesDir: prepareRuntimeModules(path.join(work, "runtime"), PROJECT_DIR),
        functionName: `${PREFIX}-ingest`,
        event: { date },
        env: {
          AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
          AWS_ENDPOINT_URL_S3: s3.endpoint,
          AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
        },
      });
      expect(run.ok, `${run.errorType}: ${run.errorMessage}\n${run.logs}`).to.equal(true);
      expect(secrets.requests).to.deep.equal([secretArn]);
      expect(fake.requests.length).to.be.greaterThan(0);
      for (const request of fake.requests) expect(request.params["apikey"]).to.equal(KEY);
      const result = run.result as IngestResult;
      expect(result.keys.length).to.be.greaterThan(0);
      const store = new S3ObjectStore(s3.client(), raw);
      for (const key of await store.listKeys("")) {
        const object = await store.getObject(key);
        expect(`${key} ${Buffer.from(object.body).toString()} ${JSON.stringify(object.metadata)}`).to.not.include(KEY);
      }
      expect(run.logs).to.not.include(KEY);
    } finally {
      await s3.close();
      await secrets.close();
      await fake.close();
      rmSync(work, { recursive: true, force: true });
    }
  });
});
