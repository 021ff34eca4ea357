import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { startFakeOpenMeteo } from "../../pipeline/local/fake-open-meteo";
import { apiUrlsFromBase, runLocalDay } from "../../pipeline/cli/run";
import { isRawBodyKey } from "../../pipeline/core/keys";
import { S3ObjectStore } from "../../pipeline/core/storage";
import { LOCAL_BUCKETS } from "../../pipeline/local/local-buckets";
import { startLocalS3 } from "../../pipeline/local/s3-server";
import { DEFAULT_PIPELINE_SETTINGS } from "../../pipeline/core/settings";

describe("a local run (npm start)", function () {
  this.timeout(60_000);

  it("takes --api-url as the base of both endpoints", () => {
    expect(apiUrlsFromBase("http://127.0.0.1:8080")).to.deep.equal({
      forecastApiUrl: "http://127.0.0.1:8080/v1/forecast",
      archiveApiUrl: "http://127.0.0.1:8080/v1/archive",
    });
    expect(apiUrlsFromBase("https://weather.example.org/open-meteo/")).to.deep.equal({
      forecastApiUrl: "https://weather.example.org/open-meteo/v1/forecast",
      archiveApiUrl: "https://weather.example.org/open-meteo/v1/archive",
    });
  });

  it("refuses an --api-url that is not a server's base address, saying what to pass", () => {
    const cases: [string, string][] = [
      ["localhost:8080", `--api-url is "localhost:8080"; it must start with http:// or https://`],
      ["not a url", `--api-url is "not a url"; it must be a URL such as http://127.0.0.1:8080`],
      ["ftp://host", `--api-url is "ftp://host"; it must start with http:// or https://`],
      [
        "http://127.0.0.1:8080/v1/forecast",
        `--api-url is "http://127.0.0.1:8080/v1/forecast"; pass the server's base (e.g. http://127.0.0.1:8080): /v1/forecast and /v1/archive are added to it`,
      ],
      ["http://h/?x=1", `--api-url is "http://h/?x=1"; it must have no query (?...) or fragment (#...)`],
      [
        "https://customer-api.open-meteo.com/?apikey=SECRET",
        "--api-url holds an apikey parameter; pass the server's base address only (the key is a stack secret)",
      ],
      ["http://user:pw@h", "--api-url holds a user name or password; pass the server's address only"],
    ];
    for (const [value, message] of cases) expect(() => apiUrlsFromBase(value), value).to.throw(message);
  });

  it("fails at once, with the reason, when nothing listens at --api-url", async () => {
    const server = await startFakeOpenMeteo();
    const base = server.url;
    await server.close(); // the port is free again: a server the user forgot to start
    const dataDir = await mkdtemp(path.join(tmpdir(), "run-refused-"));
    const lines: string[] = [];
    const log = console.log;
    console.log = (line: string) => lines.push(line);
    let error: unknown;
    try {
      await runLocalDay({
        settings: DEFAULT_PIPELINE_SETTINGS,
        dataDir,
        date: "2026-11-01",
        live: false,
        apiUrl: base,
        previewRows: 1,
        print: () => undefined,
      }).catch((e: unknown) => (error = e));
    } finally {
      console.log = log;
      await rm(dataDir, { recursive: true, force: true });
    }
    const { host } = new URL(base);
    expect(String(error)).to.contain(
      `not retried: nothing listens on ${host} (ECONNREFUSED), and on this machine waiting will not change that; start your Open-Meteo server there or fix the URL (--api-url)`,
    );
    // One attempt: no retry was logged.
    expect(lines.filter((l) => l.includes("retrying"))).to.deep.equal([]);
  });

  it("runs a day against the server at --api-url instead of the embedded fake", async () => {
    const server = await startFakeOpenMeteo();
    const dataDir = await mkdtemp(path.join(tmpdir(), "run-test-"));
    const lines: string[] = [];
    const table = console.table;
    console.table = () => undefined;
    try {
      const result = await runLocalDay({
        settings: DEFAULT_PIPELINE_SETTINGS,
        dataDir,
        live: false,
        apiUrl: server.url,
        previewRows: 1,
        print: (line) => lines.push(line),
      });
      expect(server.requests).to.have.lengthOf(1);
      expect(server.requests[0]?.path).to.equal("/v1/forecast");
      expect(result.synthetic).to.equal(false);
      expect(result.transform.files).to.have.lengthOf(2);
      expect(lines[0]).to.equal(
        `Open-Meteo: server at ${server.url}/v1/forecast and ${server.url}/v1/archive (--api-url)`,
      );
    } finally {
      console.table = table;
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("stores the same keys and bytes on a second run, though the embedded fake's port changes (the host is not in a key)", async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), "run-twice-"));
    const table = console.table;
    console.table = () => undefined;
    /** Every object of both local buckets, key -> bytes (manifests, which hold the URL and fetch time, aside). */
    const contents = async (): Promise<Map<string, string>> => {
      const s3 = await startLocalS3({
        directory: path.join(dataDir, "s3"),
        buckets: [LOCAL_BUCKETS.raw, LOCAL_BUCKETS.curated],
      });
      const client = s3.client();
      const out = new Map<string, string>();
      try {
        for (const bucket of [LOCAL_BUCKETS.raw, LOCAL_BUCKETS.curated]) {
          const store = new S3ObjectStore(client, bucket);
          for (const key of await store.listKeys("")) {
            if (key.endsWith(".json") && !isRawBodyKey(key)) out.set(`${bucket}/${key}`, "(manifest)");
            else out.set(`${bucket}/${key}`, Buffer.from((await store.getObject(key)).body).toString("base64"));
          }
        }
      } finally {
        client.destroy();
        await s3.close();
      }
      return out;
    };
    try {
      const run = () =>
        runLocalDay({
          settings: DEFAULT_PIPELINE_SETTINGS,
          dataDir,
          date: "2026-11-01",
          live: false,
          previewRows: 1,
          print: () => undefined,
        });
      const first = await run();
      const afterFirst = await contents();
      const second = await run();
      const afterSecond = await contents();
      expect(second.ingest.keys).to.deep.equal(first.ingest.keys);
      expect([...afterSecond.keys()]).to.deep.equal([...afterFirst.keys()]);
      for (const [key, bytes] of afterFirst) expect(afterSecond.get(key), key).to.equal(bytes);
    } finally {
      console.table = table;
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("refuses --live together with --api-url before starting anything", async () => {
    let error: unknown;
    await runLocalDay({
      settings: DEFAULT_PIPELINE_SETTINGS,
      dataDir: path.join(tmpdir(), "never-created"),
      live: true,
      apiUrl: "http://127.0.0.1:9",
      previewRows: 1,
      print: () => undefined,
    }).catch((e: unknown) => (error = e));
    expect(String(error)).to.equal("RangeError: --live and --api-url both choose the API; use one");
  });
});
