/**
 * Fetching a source from a real HTTP server on 127.0.0.1 (the fake's publisher): the
 * conditional GET, what is stored and what is not, the size limit, and Open-Meteo's retry
 * policy applied to a publisher.
 */
import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { DirectoryObjectStore } from "../../pipeline/core/storage";
import {
  errorAnswer,
  fakeFile,
  isNotModified,
  overloadedAnswer,
  renderFakeSourceFile,
  startFakeOpenMeteo,
  type FakeOpenMeteo,
  type FakeSourceFile,
} from "../../pipeline/local/fake-open-meteo";
import {
  SourceError,
  SourceUnavailableError,
  fetchSource,
  sourceHeadersKey,
  sourceStateKey,
  sourceTransformedKey,
  type SourceDefinition,
  type SourceFetchDeps,
  type SourceState,
  type StoredHeaders,
} from "../../pipeline/sources";
import { rejectionOf } from "../support/rejection";
import { portalCsvSource } from "./support";

const FAST_RETRIES = { baseDelayMs: 5, maxDelayMs: 20, budgetMs: 20_000 };

describe("sources: fetch", function () {
  this.timeout(60_000);
  let dir: string;
  let raw: DirectoryObjectStore;
  let fake: FakeOpenMeteo;
  let source: SourceDefinition;
  /** What the publisher serves next; undefined: the rendered file. */
  let served: FakeSourceFile | undefined;
  let respond: ((path: string) => ReturnType<typeof overloadedAnswer> | undefined) | undefined;
  const now = new Date("2026-11-20T07:30:00Z");

  before(async () => {
    fake = await startFakeOpenMeteo({
      now: () => now,
      sources: [portalCsvSource()],
      sourceFile: () => served,
      respond: (request) => respond?.(request.path),
    });
  });
  after(async () => fake.close());
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "sources-fetch-"));
    raw = new DirectoryObjectStore(dir);
    source = { ...portalCsvSource(), url: fake.sourceUrl(portalCsvSource()) };
    served = undefined;
    respond = undefined;
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  const deps = (overrides: Partial<SourceFetchDeps> = {}): SourceFetchDeps => ({
    source,
    http: { timeoutMs: 5_000, retries: 3 },
    rawStore: raw,
    retryTuning: FAST_RETRIES,
    now: () => now,
    log: () => undefined,
    ...overrides,
  });
  const requestsFor = () => fake.requests.filter((r) => r.path === new URL(source.url).pathname);
  const json = async <T>(key: string): Promise<T> =>
    JSON.parse(Buffer.from((await raw.getObject(key)).body).toString()) as T;

  it("stores a new file unchanged under its hash, with its response headers and its validators", async () => {
    const published = renderFakeSourceFile(source, now);
    const result = await fetchSource(deps());
    const sha256 = createHash("sha256").update(published.body).digest("hex");
    expect(result).to.deep.include({
      status: 200,
      changed: true,
      transform: true,
      sha256,
      bytes: published.body.length,
    });
    expect(result.key).to.equal(`sources/city_stations/files/${sha256}.csv`);
    expect(Buffer.compare(Buffer.from((await raw.getObject(result.key)).body), Buffer.from(published.body))).to.equal(
      0,
    );
    const headers = await json<StoredHeaders>(sourceHeadersKey(result.key));
    expect(headers).to.deep.include({ status: 200, url: source.url, sha256, bytes: published.body.length });
    expect(headers.headers).to.include({ etag: published.etag, "last-modified": published.lastModified });
    expect(headers.headers["content-type"]).to.equal("text/csv; charset=ISO-8859-1");
    const state = await json<SourceState>(sourceStateKey(source.name));
    expect(state).to.deep.include({
      etag: published.etag,
      lastModified: published.lastModified,
      key: result.key,
      sha256,
    });
    // The first request had nothing to be conditional on.
    expect(requestsFor()[0]!.headers).to.not.have.any.keys("if-none-match", "if-modified-since");
  });

  it("stores nothing for an unchanged file: the server answers 304 to the stored validators", async () => {
    const first = await fetchSource(deps());
    const keys = await raw.listKeys("");
    const state = (await raw.getObject(sourceStateKey(source.name))).body;
    await raw.putObject(sourceTransformedKey(source.name), JSON.stringify({ sha256: first.sha256 }), {
      contentType: "application/json",
    });
    const before = requestsFor().length;
    const second = await fetchSource(deps());
    const request = requestsFor()[before]!;
    expect(request.headers["if-none-match"]).to.equal(renderFakeSourceFile(source, now).etag);
    expect(request.headers["if-modified-since"]).to.equal(renderFakeSourceFile(source, now).lastModified);
    expect(request.answer?.status).to.equal(304);
    expect(second).to.deep.include({ status: 304, changed: false, transform: false, key: first.key });
    expect(await raw.listKeys("")).to.deep.equal([...keys, sourceTransformedKey(source.name)].sort());
    expect(
      Buffer.compare(Buffer.from((await raw.getObject(sourceStateKey(source.name))).body), Buffer.from(state)),
    ).to.equal(0);
  });

  it("asks for the transform again when the unchanged version was never transformed", async () => {
    const first = await fetchSource(deps());
    const again = await fetchSource(deps());
    expect(again).to.deep.include({ status: 304, changed: false, transform: true, key: first.key });
  });

  it("stores a changed file as a new version beside the old one", async () => {
    const first = await fetchSource(deps());
    served = fakeFile(
      Buffer.from("Station;Zeitpunkt\r\nnew;20.11.2026 08:00\r\n", "latin1"),
      "text/csv",
      new Date("2026-11-20T08:00:00Z"),
    );
    const second = await fetchSource(deps());
    expect(second).to.deep.include({ status: 200, changed: true, transform: true });
    expect(second.key).to.not.equal(first.key);
    expect((await raw.getObject(first.key)).body.byteLength).to.be.greaterThan(0);
    expect(Buffer.from((await raw.getObject(second.key)).body).toString("latin1")).to.equal(
      "Station;Zeitpunkt\r\nnew;20.11.2026 08:00\r\n",
    );
    expect(await json<SourceState>(sourceStateKey(source.name))).to.deep.include({
      key: second.key,
      etag: served.etag,
    });
  });

  it("stores nothing when a server without validators sends the same bytes again", async () => {
    const bytes = Buffer.from("Station;Zeitpunkt\r\n", "latin1");
    served = { body: bytes, contentType: "text/csv" };
    const first = await fetchSource(deps());
    const keys = await raw.listKeys("");
    const second = await fetchSource(deps());
    expect(requestsFor().at(-1)!.headers).to.not.have.any.keys("if-none-match", "if-modified-since");
    expect(second).to.deep.include({ status: 200, changed: false, key: first.key });
    expect(await raw.listKeys("")).to.deep.equal(keys);
  });

  it("answers If-Modified-Since as RFC 9110 says when there is no If-None-Match", () => {
    const file = fakeFile(Buffer.from("x"), "text/csv", new Date("2026-11-20T08:00:00Z"));
    expect(isNotModified(file, { ifModifiedSince: "Fri, 20 Nov 2026 08:00:00 GMT" })).to.equal(true);
    expect(isNotModified(file, { ifModifiedSince: "Fri, 20 Nov 2026 07:59:59 GMT" })).to.equal(false);
    expect(isNotModified(file, { ifNoneMatch: '"other"', ifModifiedSince: "Fri, 20 Nov 2026 09:00:00 GMT" })).to.equal(
      false,
    );
    expect(isNotModified(file, { ifNoneMatch: `W/${file.etag}` })).to.equal(true);
  });

  it("refuses a file larger than maxBytes, stored nowhere, whether or not the size is announced", async () => {
    const size = renderFakeSourceFile(source, now).body.length;
    for (const gzip of [false, true]) {
      // Unzipped, the Content-Length announces the size; gzipped, only the bytes read tell.
      const identity: typeof fetch = (input, init) => {
        const request = new Request(input, init);
        request.headers.set("accept-encoding", "identity");
        return fetch(request);
      };
      const error = await rejectionOf(
        fetchSource(deps({ source: { ...source, maxBytes: 1024 }, ...(gzip ? {} : { fetch: identity }) })),
      );
      expect(error).to.be.instanceOf(SourceError);
      expect(error.name).to.equal("SourceError");
      expect(error.message).to.contain("maxBytes 1024").and.to.contain("nothing was stored");
      expect(error.message).to.contain(gzip ? "is larger than maxBytes" : `is ${size} bytes, more than maxBytes`);
      expect(requestsFor().at(-1)!.headers["accept-encoding"]).to.equal(gzip ? "gzip, deflate" : "identity");
      expect(await raw.listKeys(""), `gzip ${gzip}`).to.deep.equal([]);
    }
  });

  it("retries a publisher's 503 with Open-Meteo's policy, then stores the file", async () => {
    let failures = 0;
    respond = (p) => (p.startsWith("/sources/") && failures++ < 2 ? overloadedAnswer() : undefined);
    const result = await fetchSource(deps());
    expect(result.attempts).to.equal(3);
    expect(result.changed).to.equal(true);
  });

  it("fails a 404 at once with the URL named, and a publisher down for good as retryable", async () => {
    respond = (p) => (p.startsWith("/sources/") ? errorAnswer(404, "Not Found") : undefined);
    const missing = await rejectionOf(fetchSource(deps()));
    expect(missing).to.be.instanceOf(SourceError);
    expect(missing.name).to.equal("SourceError");
    expect(missing.message).to.contain(source.url).and.to.contain("answered 404").and.to.contain("not retried");
    expect(requestsFor().at(-1)!.answer?.status).to.equal(404);

    respond = (p) => (p.startsWith("/sources/") ? overloadedAnswer() : undefined);
    const down = await rejectionOf(fetchSource(deps({ http: { timeoutMs: 5_000, retries: 2 } })));
    expect(down).to.be.instanceOf(SourceUnavailableError);
    expect(down.name).to.equal("SourceUnavailableError");
    expect(down.message).to.contain("3 attempt(s)").and.to.contain("the run will be retried");
    expect(await raw.listKeys("")).to.deep.equal([]);
  });
});
