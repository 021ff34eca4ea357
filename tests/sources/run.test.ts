/**
 * Sources in the daily run: the real state machine definition (run by aws-local-stepfunctions)
 * with the handlers as the Lambdas build them, against s3rver and the fake's publisher on
 * 127.0.0.1. Each source is fetched once per run after the dates; an unchanged file is not
 * transformed again; a failing source alerts, is dead-lettered and fails the run while the other
 * sources still run, and a failing date still lets the sources run.
 */
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { DEFAULT_PIPELINE_SETTINGS, type PipelineSettings } from "../../pipeline/core/settings";
import { S3ObjectStore } from "../../pipeline/core/storage";
import {
  errorAnswer,
  fakeFile,
  startFakeOpenMeteo,
  type FakeAnswer,
  type FakeOpenMeteo,
  type FakeSourceFile,
} from "../../pipeline/local/fake-open-meteo";
import { createLocalFunctions, LocalStateMachine } from "../../pipeline/local/run-state-machine";
import { startLocalS3, type LocalS3Server } from "../../pipeline/local/s3-server";
import { sourceCuratedKey, type SourceDefinition } from "../../pipeline/sources";
import { jsonSource, portalCsvSource } from "./support";

const NOW = new Date("2026-11-21T06:30:00Z");
const STACK = "weather-pipeline-sources";

describe("sources in the daily run (the real state machine, locally)", function () {
  this.timeout(120_000);
  let dir: string;
  let s3: LocalS3Server;
  let fake: FakeOpenMeteo;
  let respond: ((p: string) => FakeAnswer | undefined) | undefined;
  let served: ((name: string) => FakeSourceFile | undefined) | undefined;
  let raw: S3ObjectStore;
  let curated: S3ObjectStore;
  let sources: SourceDefinition[];
  let settings: PipelineSettings;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "sources-run-"));
    s3 = await startLocalS3({ directory: path.join(dir, "s3"), buckets: ["raw", "curated"] });
    const declared = [portalCsvSource(), jsonSource("jsonl", { name: "feed" })];
    fake = await startFakeOpenMeteo({
      now: () => NOW,
      sources: declared,
      respond: (r) => respond?.(r.path),
      sourceFile: (name) => served?.(name),
    });
    sources = declared.map((s) => ({ ...s, url: fake.sourceUrl(s) }));
    settings = {
      ...DEFAULT_PIPELINE_SETTINGS,
      locations: DEFAULT_PIPELINE_SETTINGS.locations.slice(0, 1),
      forecastApiUrl: fake.forecastUrl,
      archiveApiUrl: fake.archiveUrl,
      http: { ...DEFAULT_PIPELINE_SETTINGS.http, timeoutMs: 2_000, retries: 1 },
    };
    raw = new S3ObjectStore(s3.client(), "raw");
    curated = new S3ObjectStore(s3.client(), "curated");
  });
  after(async () => {
    await fake?.close();
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const machine = () =>
    new LocalStateMachine({
      stack: STACK,
      sources: sources.map((s) => s.name),
      functions: createLocalFunctions({
        settings,
        sources,
        rawStore: raw,
        curatedStore: curated,
        stack: STACK,
        catchUpDays: 1,
        maxDatesPerRun: 1,
        now: () => NOW,
        retryTuning: { baseDelayMs: 1, maxDelayMs: 5, budgetMs: 5_000 },
      }),
    });

  it("fetches and transforms every source once after the dates", async () => {
    const run = machine();
    const outcome = await run.run({ date: "2026-11-20" });
    expect(outcome.status, outcome.cause).to.equal("SUCCEEDED");
    const calls = run.invocations.map((i) => `${i.state}:${(i.event as { source?: string }).source ?? "-"}`);
    expect(calls).to.deep.equal([
      "PlanRun:-",
      "Ingest:-",
      "Transform:-",
      "FetchSource:city_stations",
      "TransformSource:city_stations",
      "FetchSource:feed",
      "TransformSource:feed",
    ]);
    for (const source of sources) {
      const { body } = await curated.getObject(sourceCuratedKey(source.name, "2026-11-20"));
      expect(body.byteLength, source.name).to.be.greaterThan(0);
    }
    expect(run.topic).to.deep.equal([]);
  });

  it("does not transform a file the publisher has not changed", async () => {
    const run = machine();
    const before = await curated.listKeys("source_");
    const outcome = await run.run({ date: "2026-11-20" });
    expect(outcome.status, outcome.cause).to.equal("SUCCEEDED");
    expect(run.invocations.filter((i) => i.state === "TransformSource")).to.deep.equal([]);
    expect(run.invocations.filter((i) => i.state === "FetchSource").map((i) => i.ok)).to.deep.equal([true, true]);
    expect(await curated.listKeys("source_")).to.deep.equal(before);
  });

  it("alerts and dead-letters a failing source, runs the others, and fails the run", async () => {
    respond = (p) => (p.startsWith("/sources/city_stations") ? errorAnswer(404, "gone") : undefined);
    try {
      const run = machine();
      const outcome = await run.run({ date: "2026-11-20" });
      expect(outcome.status).to.equal("FAILED");
      expect(outcome.error).to.equal("WeatherRunFailed");
      expect(
        run.invocations
          .filter((i) => i.state === "FetchSource")
          .map((i) => [(i.event as { source: string }).source, i.ok]),
      ).to.deep.equal([
        ["city_stations", false],
        ["feed", true],
      ]);
      expect(run.topic).to.have.length(1);
      expect(run.topic[0]!.message)
        .to.contain("failed at step FetchSource city_stations")
        .and.to.contain("answered 404");
      expect(run.queue).to.have.length(1);
      expect(JSON.parse(run.queue[0]!.body)).to.deep.equal({ date: "2026-11-20" });
      expect(run.queue[0]!.attributes).to.deep.equal({ step: "FetchSource city_stations", error: "SourceError" });
    } finally {
      respond = undefined;
    }
  });

  it("fails a changed file with too many bad rows at its transform, alerting with the raw key, and keeps it for the next run", async () => {
    const bad = Buffer.from(
      'Station;Zeitpunkt;Name;Temperatur;Feuchte\r\na;20.11.2026 12:00;"A";warm;50\r\n',
      "latin1",
    );
    served = (name) =>
      name === "city_stations" ? fakeFile(bad, "text/csv", new Date("2026-11-21T06:00:00Z")) : undefined;
    try {
      const first = machine();
      const outcome = await first.run({ date: "2026-11-20" });
      expect(outcome.status).to.equal("FAILED");
      const failed = first.invocations.find((i) => i.state === "TransformSource" && !i.ok);
      expect(failed?.errorType).to.equal("SourceRejectsError");
      expect(first.topic[0]!.message).to.contain("failed at step TransformSource city_stations");
      const key = (failed!.event as { key: string }).key;
      expect(first.topic[0]!.message).to.contain(key);
      expect(first.queue[0]!.attributes).to.deep.equal({
        step: "TransformSource city_stations",
        error: "SourceRejectsError",
      });
      // Unchanged (304) but never transformed: the next run transforms the kept file again.
      const second = machine();
      await second.run({ date: "2026-11-20" });
      const fetched = second.invocations.find(
        (i) => i.state === "FetchSource" && (i.event as { source: string }).source === "city_stations",
      );
      expect(fetched?.ok).to.equal(true);
      expect(
        second.invocations.filter((i) => i.state === "TransformSource").map((i) => (i.event as { key: string }).key),
      ).to.include(key);
    } finally {
      served = undefined;
    }
  });

  it("still runs the sources when a date fails, and fails the run", async () => {
    respond = (p) =>
      p.startsWith("/v1/")
        ? errorAnswer(400, "Cannot initialize WeatherVariable from invalid String value nope")
        : undefined;
    try {
      const run = machine();
      const outcome = await run.run({ date: "2026-11-20" });
      expect(outcome.status).to.equal("FAILED");
      expect(run.invocations.filter((i) => i.state === "FetchSource").map((i) => i.ok)).to.deep.equal([true, true]);
      expect(run.topic.map((t) => t.message.slice(0, 80))).to.have.length(1);
      expect(outcome.states).to.include.members(["DatesFailed", "EachSource", "AllSucceeded"]);
    } finally {
      respond = undefined;
    }
  });
});
