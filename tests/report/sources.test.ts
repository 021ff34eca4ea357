/**
 * The report's sources: each source's card made from the Parquet files the real source
 * transform wrote, its figures equal to the rows read back with hyparquet, a declared source
 * without data and a table only in the bucket both shown, and the page checked in headless
 * Chromium (Debian's chromium, driven by playwright-core).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { expect } from "chai";
import { parquetReadObjects } from "hyparquet";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { DirectoryObjectStore } from "../../pipeline/core/storage";
import { readReportData, renderReportHtml, type ReportData } from "../../pipeline/report";
import { sourceBodyKey, sourceCuratedKey, transformSource, type SourceDefinition } from "../../pipeline/sources";
import { jsonSource, latin1Crlf, portalCsvSource } from "../sources/support";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

describe("the weather report's sources", function () {
  this.timeout(120_000);
  let directory: string;
  let curated: DirectoryObjectStore;
  let data: ReportData;
  const stations = portalCsvSource({ attribution: "Stations: City of Example, dl-de/by-2-0" });
  // Declared, never fetched: the report says it has no data yet.
  const quiet = jsonSource("json", { name: "quiet_feed" });
  // Written by an earlier config: only in the bucket.
  const former = jsonSource("jsonl", { name: "former_feed" });

  async function transform(source: SourceDefinition, bytes: Uint8Array, raw: DirectoryObjectStore): Promise<void> {
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const key = sourceBodyKey(source, sha256);
    await raw.putObject(key, bytes, { contentType: "text/plain" });
    await transformSource(
      { source: source.name, key, sha256 },
      { source, rawStore: raw, curatedStore: curated, log: () => undefined, writtenBy: "report test" },
    );
  }

  async function rows(name: string, date: string): Promise<Record<string, unknown>[]> {
    const { body } = await curated.getObject(sourceCuratedKey(name, date));
    return (await parquetReadObjects({ file: toArrayBuffer(body) })) as Record<string, unknown>[];
  }

  before(async () => {
    directory = mkdtempSync(path.join(tmpdir(), "report-sources-"));
    const raw = new DirectoryObjectStore(path.join(directory, "raw"));
    curated = new DirectoryObjectStore(path.join(directory, "curated"));
    await transform(
      stations,
      latin1Crlf([
        "Station;Zeitpunkt;Name;Temperatur;Feuchte",
        "a;20.11.2026 10:00;Ä;1,5;80",
        "b;20.11.2026 10:00;Bé;-2,25;",
        "a;22.11.2026 10:00;Ä;7,5;60",
      ]),
      raw,
    );
    await transform(
      former,
      Buffer.from('{"id":"x","observed":"2026-11-22T08:00:00Z","temp":3.5,"gusts":true}\n', "utf8"),
      raw,
    );
    data = await readReportData(curated, { days: 3, runs: [], sources: [stations, quiet] });
  });

  after(async () => rm(directory, { recursive: true, force: true }));

  describe("its data", () => {
    it("lists the declared sources in order, then a table found only in the bucket", () => {
      expect(data.sources.map((s) => [s.table, s.declared])).to.deep.equal([
        ["source_city_stations", true],
        ["source_quiet_feed", true],
        ["source_former_feed", false],
      ]);
    });

    it("gives a source's dates with their row counts, a date without a file as none", async () => {
      const report = data.sources[0]!;
      expect([report.start, report.end]).to.deep.equal(["2026-11-20", "2026-11-22"]);
      const counts = await Promise.all(
        ["2026-11-20", "2026-11-22"].map(async (d) => (await rows(stations.name, d)).length),
      );
      expect(report.days.map((d) => [d.date, d.hasFile, d.rows])).to.deep.equal([
        ["2026-11-20", true, counts[0]],
        ["2026-11-21", false, 0],
        ["2026-11-22", true, counts[1]],
      ]);
      expect(report.days[0]!.writtenBy).to.equal("report test");
    });

    it("summarizes the declared numeric columns from the Parquet rows, nulls not counted as zero", async () => {
      const all = [...(await rows(stations.name, "2026-11-20")), ...(await rows(stations.name, "2026-11-22"))];
      const temperatures = all.map((r) => r["air_temperature_c"] as number);
      const humidity = all
        .map((r) => r["humidity_pct"])
        .filter((v) => v !== null && v !== undefined)
        .map(Number);
      const [t, h] = data.sources[0]!.columns;
      expect(t).to.deep.equal({
        column: "air_temperature_c",
        unit: "°C",
        values: temperatures.length,
        min: Math.min(...temperatures),
        mean: temperatures.reduce((a, b) => a + b, 0) / temperatures.length,
        max: Math.max(...temperatures),
      });
      expect(h!.column).to.equal("humidity_pct");
      expect(h!.values).to.equal(2);
      expect([h!.min, h!.max]).to.deep.equal([Math.min(...humidity), Math.max(...humidity)]);
      // Strings are not summarized: only double and integer columns are.
      expect(data.sources[0]!.columns.map((c) => c.column)).to.deep.equal(["air_temperature_c", "humidity_pct"]);
    });

    it("shows a declared source without files as having no data, and keeps the attribution", () => {
      expect(data.sources[1]!.days.every((d) => !d.hasFile)).to.equal(true);
      expect(data.sources[0]!.attribution).to.equal("Stations: City of Example, dl-de/by-2-0");
    });
  });

  describe("its page in headless Chromium", function () {
    let context: BrowserContext;
    let page: Page;
    const problems: string[] = [];
    const requests: string[] = [];
    let fileUrl: string;

    before(async function () {
      if (!existsSync(CHROMIUM)) {
        throw new Error(
          `${CHROMIUM} does not exist; install Debian's chromium (apt-get install -y chromium), as .ci/run does`,
        );
      }
      const html = await renderReportHtml(data, {
        title: "sources test",
        howToGetData: ["npm start"],
        latestRunMeaning: "none",
        generatedAt: new Date("2026-11-23T06:00:00Z"),
      });
      const file = path.join(directory, "report.html");
      writeFileSync(file, html);
      fileUrl = pathToFileURL(file).href;
      context = await chromium.launchPersistentContext(mkdtempSync(path.join(tmpdir(), "chromium-profile-")), {
        executablePath: CHROMIUM,
        args: CHROMIUM_ARGS,
        headless: true,
        viewport: { width: 390, height: 900 },
      });
      await context.route("**/*", (route) => (route.request().url() === fileUrl ? route.continue() : route.abort()));
      page = context.pages()[0] ?? (await context.newPage());
      page.on("request", (r) => requests.push(r.url()));
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      await page.goto(fileUrl, { waitUntil: "load" });
    });

    after(async () => {
      await context?.close();
    });

    it("shows a card per source, its figures as the data has them, with no console error or request", async () => {
      expect(problems).to.deep.equal([]);
      expect(requests).to.deep.equal([fileUrl]);
      expect(await page.locator("#sources article[data-source-card]").count()).to.equal(3);
      const bars = page.locator(
        'figure[data-chart="source-rows"][data-source="city_stations"] [aria-roledescription="bar"]',
      );
      expect(await bars.count()).to.equal(2);
      const cell = (column: string, field: string) =>
        page.locator(`td[data-source="city_stations"][data-column="${column}"][data-field="${field}"]`).innerText();
      const t = data.sources[0]!.columns[0]!;
      expect(await cell("air_temperature_c", "min")).to.equal(String(t.min));
      expect(await cell("air_temperature_c", "max")).to.equal(String(t.max));
      expect(await cell("humidity_pct", "values")).to.equal("2");
      expect(await page.locator('[data-source="quiet_feed"][data-field="no-data"]').innerText()).to.contain(
        "No data for quiet_feed yet",
      );
      expect(await page.locator('[data-source-card="former_feed"]').innerText()).to.contain(
        "Not in this stack's sources",
      );
      expect(await page.locator('[data-source-card="city_stations"] [data-field="attribution"]').innerText()).to.equal(
        "Stations: City of Example, dl-de/by-2-0",
      );
    });

    it("fits 390 px without sideways scrolling", async () => {
      interface PageGlobals {
        innerWidth: number;
        document: { documentElement: { scrollWidth: number } };
      }
      const layout = await page.evaluate(() => {
        const g = globalThis as unknown as PageGlobals;
        return { scrollWidth: g.document.documentElement.scrollWidth, innerWidth: g.innerWidth };
      });
      expect(layout.scrollWidth).to.be.at.most(layout.innerWidth);
    });
  });
});
