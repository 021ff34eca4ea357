import { createServer, type Server } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { inspect } from "node:util";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { expect } from "chai";
import { ApiKeyError, loadApiKey, withApiKey } from "../../pipeline/ingest/api-key";
import { createIngestHandler, type IngestHandlerDeps } from "../../pipeline/ingest/handler";
import {
  errorAnswer,
  overloadedAnswer,
  startFakeOpenMeteo,
  type FakeAnswer,
  type FakeOpenMeteo,
  type FakeRequest,
} from "../../pipeline/local/fake-open-meteo";
import { startLocalS3, type LocalS3Server } from "../../pipeline/local/s3-server";
import { planRequests } from "../../pipeline/ingest/openmeteo-request";
import { DEFAULT_PIPELINE_SETTINGS, type PipelineSettings } from "../../pipeline/core/settings";
import { S3ObjectStore, type ObjectStore } from "../../pipeline/core/storage";
import { rejectionOf } from "../support/rejection";

const NOW = new Date("2025-07-20T06:00:00Z");
const FAST = { baseDelayMs: 5, maxDelayMs: 20, budgetMs: 5_000 };
/** A key with characters that change when URL-encoded, so both spellings are searched for. */
const KEY = "om-TEST/k3y+with=odd&chars";
const KEY_FORMS = [KEY, encodeURIComponent(KEY)];

/** Fails when `text` holds the key in either spelling. */
function expectNoKey(text: string, where: string): void {
  for (const form of KEY_FORMS)
    expect(text.includes(form), `${where} holds the API key: ${text.slice(0, 300)}`).to.equal(false);
}

/** Everything an error shows: messages, stacks and fields of it and its causes. */
function everythingShownBy(error: unknown): string {
  const parts: string[] = [inspect(error, { depth: 10 })];
  let current: unknown = error;
  for (let i = 0; i < 10 && current instanceof Error; i++) {
    parts.push(current.message, current.stack ?? "", JSON.stringify({ ...current }));
    current = current.cause;
  }
  return parts.join("\n");
}

describe("the Open-Meteo API key", function () {
  let s3: LocalS3Server;
  let directory: string;
  let fake: FakeOpenMeteo | undefined;
  let store: ObjectStore;
  let bucketIndex = 0;
  const buckets = Array.from({ length: 16 }, (_, i) => `api-key-${i}`);

  before(async () => {
    directory = await mkdtemp(path.join(tmpdir(), "api-key-test-"));
    s3 = await startLocalS3({ directory, buckets });
  });

  after(async () => {
    await s3.close();
    await rm(directory, { recursive: true, force: true });
  });

  beforeEach(() => {
    const client = s3.client();
    store = new S3ObjectStore(client, buckets[bucketIndex++] as string);
  });

  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  async function setUp(
    respond?: (request: FakeRequest) => FakeAnswer | undefined,
    overrides: Partial<PipelineSettings> = {},
  ): Promise<{ server: FakeOpenMeteo; settings: PipelineSettings; log: string[]; deps: IngestHandlerDeps }> {
    const server = await startFakeOpenMeteo({ now: () => NOW, ...(respond ? { respond } : {}) });
    fake = server;
    const settings: PipelineSettings = {
      ...DEFAULT_PIPELINE_SETTINGS,
      forecastApiUrl: server.forecastUrl,
      archiveApiUrl: server.archiveUrl,
      ...overrides,
      http: { ...DEFAULT_PIPELINE_SETTINGS.http, timeoutMs: 2_000, retries: 2, ...overrides.http },
    };
    const log: string[] = [];
    const deps: IngestHandlerDeps = {
      settings,
      rawStore: store,
      now: () => NOW,
      retryTuning: FAST,
      log: (line) => log.push(line),
      stack: "api-key-test",
      loadApiKey: () => Promise.resolve(KEY),
    };
    return { server, settings, log, deps };
  }

  /** Every stored object's key, body and metadata, as text. */
  async function everythingStored(): Promise<string[]> {
    const keys = await store.listKeys("");
    const texts: string[] = [];
    for (const key of keys) {
      const object = await store.getObject(key);
      texts.push(key, Buffer.from(object.body).toString("utf8"), JSON.stringify(object.metadata));
    }
    return texts;
  }

  it("reaches the server as apikey, while keys, metadata, manifests, the result and the logs stay key-free", async () => {
    const { server, settings, log, deps } = await setUp();
    const result = await createIngestHandler(deps)({ date: "2025-07-19" });

    expect(server.requests).to.have.lengthOf(1);
    expect(server.requests[0]?.params["apikey"]).to.equal(KEY);
    expect(server.requests[0]?.query.endsWith(`&apikey=${encodeURIComponent(KEY)}`)).to.equal(true);
    // Ids come from the planned, key-free URL: the same keys as a run without a key.
    const [plan] = planRequests(settings, "2025-07-19", "forecast");
    expect(result.keys).to.eql([`open-meteo/forecast/date=2025-07-19/${plan?.requestId}.json`]);
    // The 2xx body passes through the wrapper untouched.
    const stored = await store.getObject(result.keys[0] ?? "");
    expect(Buffer.from(stored.body).equals(Buffer.from(server.requests[0]?.answer?.body ?? []))).to.equal(true);
    expect(stored.metadata["request-url"]).to.equal(plan?.url);

    const texts = await everythingStored();
    expect(texts.length).to.equal(6); // body and manifest: key, content, metadata each
    texts.forEach((text, i) => expectNoKey(text, `stored item ${i}`));
    expectNoKey(JSON.stringify(result), "the result");
    expect(log.length).to.be.above(0);
    log.forEach((line) => expectNoKey(line, "a log line"));
  });

  it("reads the key and the registry's locations at once, not one after the other", async () => {
    const { server, settings, deps } = await setUp();
    let locationsAsked = (): void => {};
    const asked = new Promise<void>((resolve) => (locationsAsked = resolve));
    const tooLate = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error("the key read waited for the locations, or they for it")), 5_000).unref(),
    );
    const handler = createIngestHandler({
      ...deps,
      // The key comes only once the locations have been asked for: read in turn, neither would.
      loadApiKey: () => Promise.race([asked.then(() => KEY), tooLate]),
      locations: () => {
        locationsAsked();
        return Promise.resolve(settings.locations);
      },
    });
    await handler({ date: "2025-07-19" });
    expect(server.requests[0]?.params["apikey"]).to.equal(KEY);
  });

  it("fails with the key's error when both the key and the registry cannot be read", async () => {
    const { deps } = await setUp();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const handler = createIngestHandler({
        ...deps,
        loadApiKey: () => Promise.reject(new ApiKeyError("secret unreadable")),
        locations: () => Promise.reject(new Error("registry unreadable")),
      });
      expect((await rejectionOf(handler({ date: "2025-07-19" }))).message).to.equal("secret unreadable");
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).to.deep.equal([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("sends no apikey when no key is configured", async () => {
    const { server, deps } = await setUp();
    await createIngestHandler({ ...deps, loadApiKey: undefined })({ date: "2025-07-19" });
    expect(server.requests[0]?.params).to.not.have.property("apikey");
  });

  for (const [name, respond, expected] of [
    [
      "a 400 whose reason echoes the request's parameters",
      (r: FakeRequest) => errorAnswer(400, `Parameter error in ${JSON.stringify(r.params)}`),
      "Open-Meteo answered 400",
    ],
    ["a 503 on every attempt", () => overloadedAnswer(), 'answered 503 "The service is overloaded" 3 times'],
    [
      "a proxy's 502 HTML page quoting the URL",
      (r: FakeRequest) => ({
        kind: "text" as const,
        status: 502,
        contentType: "text/html",
        // The key first, so it falls inside the part of the page an error message quotes.
        body: `<html><body>502 for ${r.path}?apikey=${encodeURIComponent(r.params["apikey"] ?? "")}&latitude=${r.params["latitude"]}</body></html>`,
      }),
      "answered 502",
    ],
    ["an answer that never comes", () => ({ kind: "hang" as const }), "did not answer within"],
  ] as const) {
    it(`keeps the key out of the error, its causes and the logs for ${name}`, async () => {
      const { server, log, deps } = await setUp(respond, {
        http: { ...DEFAULT_PIPELINE_SETTINGS.http, timeoutMs: 300, retries: 2 },
      });
      const error = await rejectionOf(createIngestHandler(deps)({ date: "2025-07-19" }));
      expect(error.message).to.include(expected);
      // The key did reach the server, and the server said it back.
      expect(server.requests[0]?.params["apikey"]).to.equal(KEY);
      expectNoKey(everythingShownBy(error), "the error");
      log.forEach((line) => expectNoKey(line, "a log line"));
      expect(await store.listKeys("")).to.eql([]);
    });
  }

  it("keeps the key out of the error when the server cannot be reached", async () => {
    const { server, settings, log, deps } = await setUp();
    await server.close();
    const error = await rejectionOf(createIngestHandler({ ...deps, settings })({ date: "2025-07-19" }));
    expect(error.message).to.include("could not be reached");
    expectNoKey(everythingShownBy(error), "the error");
    log.forEach((line) => expectNoKey(line, "a log line"));
  });

  it("scrubs the key from an error the underlying fetch throws with the URL in it, keeping the error itself", async () => {
    const thrown = new TypeError("placeholder");
    const failing = ((input: string | URL | Request) => {
      thrown.message = `Failed to parse URL from ${input instanceof Request ? input.url : String(input)}`;
      thrown.stack = `TypeError: ${thrown.message}\n    at somewhere`;
      return Promise.reject(thrown);
    }) as typeof fetch;
    const error = await rejectionOf(withApiKey(failing, KEY)("http://127.0.0.1:9/v1/forecast?latitude=1"));
    expect(error).to.equal(thrown);
    expect(error.message).to.equal("Failed to parse URL from http://127.0.0.1:9/v1/forecast?latitude=1&apikey=***");
    expectNoKey(everythingShownBy(error), "the error");
  });

  it("adds the key to a Request, keeping its headers, and to a URL without a query", async () => {
    const { server } = await setUp();
    const keyed = withApiKey(fetch, KEY);
    const request = new Request(`${server.forecastUrl}?latitude=52.52&longitude=13.41`, { headers: { "x-test": "1" } });
    expect((await keyed(request)).status).to.equal(200);
    expect(server.requests[0]?.params).to.include({ latitude: "52.52", apikey: KEY });
    await (await keyed(new URL(server.forecastUrl))).arrayBuffer();
    expect(server.requests[1]?.query).to.equal(`apikey=${encodeURIComponent(KEY)}`);
    expect(withApiKey(fetch, undefined)).to.equal(fetch);
  });

  it("refuses API URLs that already carry a key, without repeating it", () => {
    const settings = {
      ...DEFAULT_PIPELINE_SETTINGS,
      forecastApiUrl: `https://customer-api.open-meteo.com/v1/forecast?apikey=${encodeURIComponent(KEY)}`,
    };
    let error: unknown;
    try {
      createIngestHandler({ settings, rawStore: store, stack: "api-key-test" });
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(ApiKeyError);
    expect((error as Error).message).to.include(
      "forecastApiUrl (https://customer-api.open-meteo.com/v1/forecast?apikey=***) holds an apikey parameter",
    );
    expectNoKey(everythingShownBy(error), "the error");
  });

  it("reads the key once per container, and again after a failed read", async () => {
    const { deps } = await setUp();
    let reads = 0;
    let fail = true;
    const handler = createIngestHandler({
      ...deps,
      loadApiKey: () => {
        reads++;
        if (fail) return Promise.reject(new ApiKeyError("secret unreadable"));
        return Promise.resolve(KEY);
      },
    });
    expect((await rejectionOf(handler({ date: "2025-07-19" }))).message).to.equal("secret unreadable");
    fail = false;
    await handler({ date: "2025-07-19" });
    await handler({ date: "2025-07-18" });
    expect(reads).to.equal(2);
  });

  describe("loadApiKey with the Secrets Manager client", () => {
    let server: Server;
    let endpoint: string;
    let answer: { status: number; body: unknown };
    const received: { target: string | undefined; body: Record<string, unknown> }[] = [];

    before(async () => {
      server = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on("data", (chunk: Buffer) => chunks.push(chunk));
        request.on("end", () => {
          received.push({
            target: request.headers["x-amz-target"] as string | undefined,
            body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>,
          });
          response.writeHead(answer.status, { "content-type": "application/x-amz-json-1.1" });
          response.end(JSON.stringify(answer.body));
        });
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    after(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    const client = (): SecretsManagerClient =>
      new SecretsManagerClient({
        region: "eu-central-1",
        endpoint,
        credentials: { accessKeyId: "a", secretAccessKey: "b" },
      });
    const ARN = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:weather-pipeline-dev-api-key-AbCdEf";

    it("asks for the secret by ARN and returns its value without surrounding whitespace", async () => {
      answer = { status: 200, body: { ARN, Name: "x", SecretString: `${KEY}\n` } };
      received.length = 0;
      expect(await loadApiKey(ARN, client())).to.equal(KEY);
      expect(received).to.have.lengthOf(1);
      expect(received[0]?.target).to.equal("secretsmanager.GetSecretValue");
      expect(received[0]?.body).to.deep.equal({ SecretId: ARN });
    });

    it("names the secret and the permission when the read fails", async () => {
      answer = {
        status: 400,
        body: { __type: "ResourceNotFoundException", message: "Secrets Manager can't find the specified secret." },
      };
      const error = await rejectionOf(loadApiKey(ARN, client()));
      expect(error).to.be.instanceOf(ApiKeyError);
      expect(error.message).to.equal(
        `could not read the Open-Meteo API key from Secrets Manager secret ${ARN} (ResourceNotFoundException: Secrets Manager can't find the specified secret.); check that the secret exists and that this function's role may secretsmanager:GetSecretValue on it`,
      );
    });

    it("refuses a value that is not a usable key without showing it", async () => {
      for (const [body, message] of [
        [
          { ARN, SecretBinary: "AAEC" },
          `Secrets Manager secret ${ARN} has no string value; store the API key as a string`,
        ],
        [
          { ARN, SecretString: " \n" },
          `the Open-Meteo API key in Secrets Manager secret ${ARN} is empty; store the key as plain text`,
        ],
        [{ ARN, SecretString: `{"apikey": "${KEY}"}` }, "holds spaces, line breaks or non-ASCII characters"],
      ] as const) {
        answer = { status: 200, body };
        const error = await rejectionOf(loadApiKey(ARN, client()));
        expect(error.message).to.include(message);
        expectNoKey(everythingShownBy(error), "the error");
      }
    });
  });
});
