/**
 * The weather report: its data read from curated files the real transform wrote, and the page
 * as a person sees it, in headless Chromium (Debian's chromium, driven by playwright-core).
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { expect } from "chai";
import { parquetReadObjects } from "hyparquet";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { curatedObjectKey } from "../../pipeline/core/keys";
import { DirectoryObjectStore } from "../../pipeline/core/storage";
import { PROJECT_DIR } from "../../pipeline/local/plan";
import { latestRun, readReportData, renderReportHtml, type ReportData, type PageContext } from "../../pipeline/report";
import {
  NULL_LOCATION,
  PARTIAL,
  REPORT_DAYS,
  REPORT_END,
  REPORT_NOW,
  SKIPPED_DATE,
  makeReportData,
  type ReportFixture,
} from "../support/report-data";

const CHROMIUM = "/usr/bin/chromium";
/** Flags for a closed network: without the background-networking ones Chromium's own calls are refused en masse. */
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
const ARTIFACTS = path.join(PROJECT_DIR, "test-artifacts");

const CONTEXT: PageContext = {
  title: "report test",
  howToGetData: ["npm start"],
  latestRunMeaning: "The newest run of the fixture.",
  generatedAt: REPORT_NOW,
};

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** Every hourly row of the period, read straight from the Parquet files (not through the report's code). */
async function hourlyRows(fixture: ReportFixture): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const date of fixture.dates) {
    if (date === SKIPPED_DATE) continue;
    const { body } = await fixture.curatedStore.getObject(curatedObjectKey("weather_hourly", date));
    rows.push(...((await parquetReadObjects({ file: toArrayBuffer(body) })) as Record<string, unknown>[]));
  }
  return rows;
}

describe("the weather report", function () {
  this.timeout(120_000);
  let directory: string;
  let fixture: ReportFixture;
  let data: ReportData;

  before(async () => {
    directory = mkdtempSync(path.join(tmpdir(), "report-test-"));
    fixture = await makeReportData(directory);
    data = await readReportData(fixture.curatedStore, {
      days: REPORT_DAYS,
      runs: fixture.runs,
      latestRun: latestRun(fixture.runs),
      now: REPORT_NOW,
    });
  });

  after(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  describe("its data", () => {
    it("covers the period ending with the newest date, every location, every date", () => {
      expect(data.end).to.equal(REPORT_END);
      expect(data.dates).to.deep.equal(fixture.dates);
      expect(data.locations).to.deep.equal(["amsterdam", "berlin", NULL_LOCATION]);
      expect(data.cells).to.have.length(3 * REPORT_DAYS);
      expect(data.units).to.deep.equal({ temperature: "°C", precipitation: "mm" });
    });

    it("shows an all-null location as missing with no values, never as zero", () => {
      const cells = data.cells.filter((c) => c.location === NULL_LOCATION);
      expect(new Set(cells.map((c) => c.status))).to.deep.equal(new Set(["missing"]));
      expect(cells.find((c) => c.date === REPORT_END)?.detail).to.match(/^all \d+ values null$/);
      for (const day of data.days.filter((d) => d.location === NULL_LOCATION)) {
        expect([day.temperatureMin, day.temperatureMean, day.temperatureMax, day.precipitation]).to.deep.equal([
          null,
          null,
          null,
          null,
        ]);
      }
    });

    it("tells complete, partial and missing cells apart, and why", () => {
      const cell = (location: string, date: string) =>
        data.cells.find((c) => c.location === location && c.date === date);
      expect(cell("berlin", REPORT_END)?.status).to.equal("complete");
      const partial = cell(PARTIAL.location, PARTIAL.date);
      expect(partial?.status).to.equal("partial");
      // 6 hours x 4 hourly variables.
      expect(partial?.detail).to.match(new RegExp(`^${PARTIAL.nullHours * 4} of \\d+ values null$`));
      expect(cell("berlin", SKIPPED_DATE)).to.include({ status: "missing", detail: "no file" });
    });

    it("names what wrote each date's files and the run whose interval holds the write", () => {
      const cell = data.cells.find((c) => c.location === "berlin" && c.date === REPORT_END)!;
      expect(cell.writtenBy).to.equal(`local run run-${REPORT_END}`);
      expect(cell.run?.id).to.equal(`run-${REPORT_END}`);
      expect(data.latestRun?.id).to.equal("run-failed");
      expect(data.cells.find((c) => c.date === SKIPPED_DATE)?.run).to.equal(undefined);
    });

    it("computes the chart values from the hourly rows", async () => {
      const rows = (await hourlyRows(fixture)).filter(
        (r) => r["location"] === "berlin" && r["temperature_2m"] !== null,
      );
      const max = Math.max(...rows.map((r) => r["temperature_2m"] as number));
      expect(
        Math.max(...data.days.filter((d) => d.location === "berlin").map((d) => d.temperatureMax ?? -Infinity)),
      ).to.equal(max);
    });

    it("gives a page that says there is no data yet, and how to get some, for an empty store", async () => {
      const empty = await readReportData(new DirectoryObjectStore(path.join(directory, "nothing")), {
        days: 30,
        runs: [],
      });
      expect(empty.dates).to.deep.equal([]);
      const html = await renderReportHtml(empty, { ...CONTEXT, howToGetData: ["npm start"] });
      expect(html).to.contain("No data yet").and.to.contain("<code>npm start</code>");
      expect(html).to.contain("No run recorded yet");
      expect(html).to.contain("Open-Meteo.com").and.to.contain("CC BY 4.0");
      expect(html).to.not.contain("<svg");
    });

    it("refuses a period it cannot cover, naming the value", async () => {
      const store = fixture.curatedStore;
      const days = (n: number) => readReportData(store, { days: n, runs: [] });
      await days(0).then(
        () => expect.fail("accepted 0 days"),
        (e: Error) => expect(e.message).to.equal("--days is 0; it must be a whole number from 1 to 366"),
      );
      await readReportData(store, { days: 3, end: "2025-02-30", runs: [] }).then(
        () => expect.fail("accepted a bad date"),
        (e: Error) => expect(e.message).to.contain('--end is "2025-02-30"'),
      );
    });
  });

  describe("its page in headless Chromium", function () {
    let context: BrowserContext;
    let page: Page;
    let fileUrl: string;
    let html: string;
    const requests: string[] = [];
    const blocked: string[] = [];
    const problems: string[] = [];

    before(async function () {
      if (!existsSync(CHROMIUM)) {
        throw new Error(
          `${CHROMIUM} does not exist; install Debian's chromium (apt-get install -y chromium), as .ci/run does`,
        );
      }
      html = await renderReportHtml(data, CONTEXT);
      const file = path.join(directory, "report.html");
      writeFileSync(file, html);
      fileUrl = pathToFileURL(file).href;
      context = await chromium.launchPersistentContext(mkdtempSync(path.join(tmpdir(), "chromium-profile-")), {
        executablePath: CHROMIUM,
        args: CHROMIUM_ARGS,
        headless: true,
        viewport: { width: 1280, height: 900 },
      });
      // Anything but the file itself is counted and refused: the page must need nothing else.
      await context.route("**/*", (route) => {
        const url = route.request().url();
        if (url === fileUrl) return route.continue();
        blocked.push(url);
        return route.abort();
      });
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

    it("opens from the file with no console error and no request leaving it", () => {
      expect(problems).to.deep.equal([]);
      expect(requests).to.deep.equal([fileUrl]);
      expect(blocked).to.deep.equal([]);
      expect(html).to.not.match(/<script|<link |src="http|url\(http/i);
    });

    it("draws each chart with a mark per data point", async () => {
      const count = (selector: string) => page.locator(selector).count();
      const withData = (location: string) =>
        data.days.filter((d) => d.location === location && d.temperatureMean !== null).length;
      for (const location of ["amsterdam", "berlin"]) {
        const temperature = `figure[data-chart="temperature"][data-location="${location}"]`;
        const precipitation = `figure[data-chart="precipitation"][data-location="${location}"]`;
        expect(withData(location)).to.equal(REPORT_DAYS - 1);
        expect(await count(`${temperature} [aria-roledescription="point"]`)).to.equal(withData(location));
        expect(await count(`${temperature} [aria-roledescription="area mark"]`)).to.equal(1);
        expect(await count(`${temperature} [aria-roledescription="line mark"]`)).to.equal(1);
        expect(await count(`${precipitation} [aria-roledescription="bar"]`)).to.equal(withData(location));
      }
      expect(await count('figure[data-chart="completeness"] [aria-roledescription="rect mark"]')).to.equal(
        data.locations.length * REPORT_DAYS,
      );
      expect(await count(`figure[data-location="${NULL_LOCATION}"]`)).to.equal(0);
      expect(await page.locator(`[data-location="${NULL_LOCATION}"][data-field="no-data"]`).innerText()).to.contain(
        "missing, not zero",
      );
    });

    it("shows values equal to the curated data, and a dash, not 0, for the all-null location", async () => {
      const rows = await hourlyRows(fixture);
      const berlin = rows.filter((r) => r["location"] === "berlin");
      const temperatures = berlin.map((r) => r["temperature_2m"]).filter((v): v is number => typeof v === "number");
      const rain = berlin.map((r) => r["precipitation"]).filter((v): v is number => typeof v === "number");
      const field = (location: string, name: string) =>
        page.locator(`td[data-location="${location}"][data-field="${name}"]`).innerText();
      expect(await field("berlin", "temperature-max")).to.equal(Math.max(...temperatures).toFixed(1));
      expect(await field("berlin", "temperature-min")).to.equal(Math.min(...temperatures).toFixed(1));
      expect(await field("berlin", "precipitation-total")).to.equal(rain.reduce((a, b) => a + b, 0).toFixed(1));
      expect(await field(NULL_LOCATION, "temperature-max")).to.equal("–");
      expect(await field(NULL_LOCATION, "precipitation-total")).to.equal("–");
      expect(await field(NULL_LOCATION, "complete-days")).to.equal(`0/${REPORT_DAYS}`);
      const cells = await page.locator('figure[data-chart="completeness"] [aria-roledescription="rect mark"]').all();
      const labels = await Promise.all(cells.map(async (cell) => (await cell.getAttribute("aria-label")) ?? ""));
      expect(
        labels.filter((l) => l.includes(`location: ${NULL_LOCATION}`) && l.includes("status: missing")),
      ).to.have.length(REPORT_DAYS);
      expect(
        labels.some(
          (l) =>
            l.includes(`date: ${PARTIAL.date}`) &&
            l.includes(`location: ${PARTIAL.location}`) &&
            l.includes("status: partial"),
        ),
      ).to.equal(true);
      expect(await page.locator('[data-field="latest-run-status"]').innerText()).to.equal("FAILED");
      expect(await page.locator("#attribution").innerText())
        .to.contain("Open-Meteo.com")
        .and.to.contain("CC BY 4.0");
      expect(await page.locator("#synthetic").count()).to.equal(1);
    });

    for (const width of [390, 1280]) {
      it(`is usable ${width} px wide: no sideways scrolling, every chart on screen, a screenshot kept`, async () => {
        await page.setViewportSize({ width, height: 900 });
        // Runs in the page; typed by hand, the project compiles without the DOM library.
        interface Box {
          left: number;
          right: number;
          width: number;
          height: number;
        }
        interface PageGlobals {
          innerWidth: number;
          document: {
            documentElement: { scrollWidth: number };
            querySelectorAll(selector: string): Iterable<{ getBoundingClientRect(): Box }>;
          };
        }
        const layout = await page.evaluate(() => {
          const g = globalThis as unknown as PageGlobals;
          return {
            scrollWidth: g.document.documentElement.scrollWidth,
            innerWidth: g.innerWidth,
            charts: [...g.document.querySelectorAll("figure.chart svg")].map((svg) => {
              const box = svg.getBoundingClientRect();
              return { left: box.left, right: box.right, width: box.width, height: box.height };
            }),
          };
        });
        expect(layout.scrollWidth, "the page scrolls sideways").to.be.at.most(layout.innerWidth);
        expect(layout.charts).to.have.length(2 * 2 + 1);
        for (const chart of layout.charts) {
          expect(chart.width).to.be.greaterThan(100);
          expect(chart.height).to.be.greaterThan(30);
          expect(chart.left).to.be.at.least(0);
          expect(chart.right).to.be.at.most(width);
        }
        mkdirSync(ARTIFACTS, { recursive: true });
        const shot = path.join(ARTIFACTS, `report-${width}.png`);
        await page.screenshot({ path: shot, fullPage: true });
        expect((await readFile(shot)).subarray(1, 4).toString()).to.equal("PNG");
        if (width === 1280 && process.env["WRITE_DOCS_SCREENSHOT"] === "1") {
          // The README's picture: `WRITE_DOCS_SCREENSHOT=1 npm test -- --grep "weather report"`.
          await page.screenshot({ path: path.join(PROJECT_DIR, "docs", "report.png"), fullPage: true });
        }
      });
    }
  });
});
