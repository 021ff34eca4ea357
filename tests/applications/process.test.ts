/**
 * Processing against the patched s3rver on 127.0.0.1, as the Lambda does it: the corpus of bad
 * files (each rejected with its reason, archived, the registry unchanged), good files (accepted
 * with stable ids, one registry entry each, history queued), partial files, the quota, and
 * at-least-once delivery (the same object twice gives its outcome once).
 */
import { expect } from "chai";
import {
  ACCEPTED_FORMAT,
  BACKFILL_REQUESTS_PREFIX,
  INCOMING_PREFIX,
  REASONS_FORMAT,
  formatReason,
  locationIdOf,
  outputKeysOf,
  parseRegistry,
  processApplicationEvent,
  type Notice,
  type ProcessingResult,
} from "../../pipeline/applications";
import { rejectionOf } from "../support/rejection";
import { BAD_FILES, GOOD_FILES, GOOD_ROWS } from "./corpus";
import { contents, LIMITS, registryState, startDropZone, submit, upload, type DropZone } from "./drop-zone";

const read = async (zone: DropZone, bucket: string, key: string) =>
  Buffer.from((await zone.store(bucket).getObject(key)).body);
const readJson = async <T>(zone: DropZone, bucket: string, key: string) =>
  JSON.parse((await read(zone, bucket, key)).toString("utf8")) as T;

/** Every reason of a result as one text: file-level ones, then each row's. */
function reasonText(result: ProcessingResult): string {
  return [
    ...result.fileProblems.map((r) => formatReason(r)),
    ...result.rejected.flatMap((row) => row.reasons.map((r) => formatReason(r, row.row))),
  ].join("\n");
}

describe("applications: processing a drop zone (s3rver on 127.0.0.1)", function () {
  this.timeout(120_000);
  const BUCKETS = [
    "apps-corpus",
    "apps-good-0",
    "apps-good-1",
    "apps-good-2",
    "apps-mixed",
    "apps-quota",
    "apps-twice",
    "apps-edge",
  ];
  let zone: DropZone;

  before(async () => {
    zone = await startDropZone(BUCKETS);
  });
  after(async () => zone?.close());

  it("accepts good files (BOM and CRLF, LF with columns reordered, JSON) with the same ids in every stack", async () => {
    const expectedIds = GOOD_ROWS.map((r) => locationIdOf(r.name, r.latitude, r.longitude));
    for (const [i, file] of GOOD_FILES.entries()) {
      const bucket = `apps-good-${i}`;
      const notices: Notice[] = [];
      const result = await submit(zone.deps(bucket, notices), file.name, file.body);
      expect(result.status, file.name).to.equal("processed");
      expect(reasonText(result), file.name).to.equal("");
      expect([...result.accepted].map((r) => r.id).sort(), file.name).to.deep.equal([...expectedIds].sort());

      const registry = parseRegistry((await registryState(zone.store(bucket)))!.text);
      expect(registry.revision).to.equal(1);
      expect(registry.locations.map((e) => e.id).sort()).to.deep.equal([...expectedIds].sort());
      expect(
        registry.locations.every(
          (e) => e.source.key === `${INCOMING_PREFIX}${file.name}` && e.acceptedAt === "2026-11-20T08:00:00.000Z",
        ),
      ).to.equal(true);

      // The source is archived byte for byte and gone from incoming/; the decision is on record.
      const keys = outputKeysOf(`${INCOMING_PREFIX}${file.name}`, result.processingId!);
      const objects = await contents(zone.store(bucket));
      expect(objects.get(keys.archive)?.equals(file.body)).to.equal(true);
      expect([...objects.keys()].filter((k) => k.startsWith(INCOMING_PREFIX))).to.deep.equal([]);
      expect([...objects.keys()].filter((k) => k.startsWith("applications/rejected/"))).to.deep.equal([]);
      const accepted = await readJson<{ format: string; accepted: { id: string }[] }>(zone, bucket, keys.accepted);
      expect(accepted.format).to.equal(ACCEPTED_FORMAT);
      expect(accepted.accepted.map((r) => r.id)).to.deep.equal(result.accepted.map((r) => r.id));

      // berlin_mitte asked for history from 2024-01-01: one request, up to yesterday.
      const requests = [...objects.keys()].filter((k) => k.startsWith(BACKFILL_REQUESTS_PREFIX));
      const berlin = locationIdOf("berlin_mitte", 52.53, 13.38);
      expect(requests).to.deep.equal([`${BACKFILL_REQUESTS_PREFIX}${berlin}.json`]);
      expect(JSON.parse(objects.get(requests[0]!)!.toString())).to.deep.include({
        locationId: berlin,
        from: "2024-01-01",
        to: "2026-11-19",
        status: "pending",
      });

      expect(notices.map((n) => n.subject)).to.deep.equal([`Applications ${file.name}: accepted 3, rejected 0`]);
      expect(notices[0]!.message).to.contain("history from 2024-01-01 queued");
    }
  });

  it(`rejects each of the ${BAD_FILES.length} bad files with its reason, archives it, and leaves the registry unchanged`, async () => {
    expect(BAD_FILES.length).to.be.at.least(30);
    const bucket = "apps-corpus";
    const notices: Notice[] = [];
    const deps = zone.deps(bucket, notices);
    // A registry to leave unchanged: one good file first.
    await submit(deps, GOOD_FILES[0]!.name, GOOD_FILES[0]!.body);
    const registry = await registryState(deps.store);
    const failures: string[] = [];
    for (const file of BAD_FILES) {
      const result = await submit(deps, file.name, file.body);
      const text = reasonText(result);
      const keys = outputKeysOf(`${INCOMING_PREFIX}${file.name}`, result.processingId ?? "?");
      const problems = [
        result.status === "processed" ? "" : `status ${result.status}`,
        result.accepted.length === 0 ? "" : `accepted ${result.accepted.map((r) => r.name).join(", ")}`,
        file.reason.test(text) ? "" : `reasons do not match ${file.reason}:\n${text}`,
        (await read(zone, bucket, keys.archive)).equals(file.body) ? "" : "archive differs from the source",
        (await read(zone, bucket, keys.rejectedCopy)).equals(file.body)
          ? ""
          : "the rejected copy differs from the source",
        (await zone.store(bucket).headObject(`${INCOMING_PREFIX}${file.name}`)) === undefined
          ? ""
          : "still in incoming/",
        JSON.stringify(await registryState(deps.store)) === JSON.stringify(registry) ? "" : "the registry changed",
      ].filter((p) => p !== "");
      const reasons = await readJson<{
        format: string;
        file: { message: string }[];
        rows: { reasons: { message: string }[] }[];
      }>(zone, bucket, keys.reasons);
      const messages = [
        ...reasons.file.map((r) => r.message),
        ...reasons.rows.flatMap((r) => r.reasons.map((x) => x.message)),
      ];
      if (reasons.format !== REASONS_FORMAT || messages.length === 0) problems.push("the reasons file is empty");
      if (problems.length > 0) failures.push(`${file.name}: ${problems.join("; ")}`);
    }
    expect(failures).to.deep.equal([]);
    expect(notices.slice(1).map((n) => n.subject.replace(/^Applications \S+: /, ""))).to.satisfy((subjects: string[]) =>
      subjects.every((s) => /^accepted 0, rejected (\d+|the whole file)$/.test(s)),
    );
    expect(notices).to.have.length(BAD_FILES.length + 1);
  });

  it("decides each row of a partial file on its own and lists every rejected row in the notice", async () => {
    const bucket = "apps-mixed";
    const notices: Notice[] = [];
    const body = Buffer.from(
      "name,latitude,longitude\npotsdam,52.39,13.06\n=cmd,1,2\nleipzig,51.34,12.37\nleipzig_2,51.3401,12.3701\nhamburg,200,10\n",
    );
    const result = await submit(zone.deps(bucket, notices), "mixed.csv", body);
    expect(result.accepted.map((r) => [r.row, r.name])).to.deep.equal([
      [2, "potsdam"],
      [4, "leipzig"],
    ]);
    expect(result.rejected.map((r) => r.row)).to.deep.equal([3, 5, 6]);
    expect(parseRegistry((await registryState(zone.store(bucket)))!.text).locations.map((e) => e.name)).to.deep.equal([
      "potsdam",
      "leipzig",
    ]);
    const keys = outputKeysOf(`${INCOMING_PREFIX}mixed.csv`, result.processingId!);
    expect((await read(zone, bucket, keys.rejectedCopy)).equals(body)).to.equal(true);
    const message = notices[0]!.message;
    expect(notices[0]!.subject).to.equal("Applications mixed.csv: accepted 2, rejected 3");
    expect(message).to.match(/row 3: name is "=cmd"; it starts with "="/);
    expect(message).to.match(
      /row 5: \(51\.3401, 12\.3701\) is 0\.01 km from the existing location "leipzig" \(row 4 of this file\)/,
    );
    expect(message).to.match(/row 6: latitude is "200"/);
    expect(message).to.contain(`Reasons, as JSON: s3://${bucket}/${keys.reasons}`);
    expect(message).to.contain(`The file as received: s3://${bucket}/${keys.archive}`);
  });

  it("keeps the daily run within maxDailyWeight across files", async () => {
    const bucket = "apps-quota";
    const deps = zone.deps(bucket, [], { limits: { ...LIMITS, maxDailyWeight: 3 } });
    const first = await submit(deps, "one.csv", Buffer.from("name,latitude,longitude\na,1,1\n"));
    expect(first.accepted).to.have.length(1);
    const second = await submit(deps, "two.csv", Buffer.from("name,latitude,longitude\nb,2,2\n"));
    expect(second.accepted).to.have.length(0);
    expect(reasonText(second)).to.match(
      /could weigh 4 in Open-Meteo API weight \(1 scheduled run\(s\) fetching yesterday and 0 catch-up date\(s\), a date weighing 4\), more than its maxDailyWeight \(3\); 3 locations are fetched already/,
    );
  });

  it("gives the same object's outcome once when it is delivered twice, in turn or at once", async () => {
    const bucket = "apps-twice";
    const notices: Notice[] = [];
    const deps = zone.deps(bucket, notices);
    const event = await upload(
      deps.store,
      bucket,
      "twice.csv",
      Buffer.from("name,latitude,longitude\nlisbon_east,38.75,-9.1\n"),
    );
    const first = await processApplicationEvent(event, deps);
    const registry = await registryState(deps.store);
    const again = await processApplicationEvent(event, deps);
    expect(first.status).to.equal("processed");
    expect(again.status).to.equal("already-processed");
    expect(again.accepted).to.deep.equal(first.accepted);
    expect(await registryState(deps.store)).to.deep.equal(registry);
    expect(notices).to.have.length(1);

    // Two deliveries of one new object at the same moment: one set of registry entries.
    const both = await upload(
      deps.store,
      bucket,
      "at-once.csv",
      Buffer.from("name,latitude,longitude\nporto,41.15,-8.61\nfaro,37.02,-7.93\n"),
    );
    const results = await Promise.all([processApplicationEvent(both, deps), processApplicationEvent(both, deps)]);
    const entries = parseRegistry((await registryState(deps.store))!.text).locations;
    expect(entries.map((e) => e.name)).to.deep.equal(["lisbon_east", "porto", "faro"]);
    for (const result of results) expect(result.accepted.map((r) => r.name)).to.deep.equal(["porto", "faro"]);
    const keys = outputKeysOf(`${INCOMING_PREFIX}at-once.csv`, results[0].processingId!);
    expect((await readJson<{ accepted: unknown[] }>(zone, bucket, keys.accepted)).accepted).to.have.length(2);
  });

  it("skips an event whose object was replaced, or deleted unprocessed, or lies outside incoming/, and refuses another bucket's", async () => {
    const bucket = "apps-edge";
    const deps = zone.deps(bucket, []);
    const old = await upload(deps.store, bucket, "edit.csv", Buffer.from("name,latitude,longitude\nfirst,10,10\n"));
    const fresh = await upload(deps.store, bucket, "edit.csv", Buffer.from("name,latitude,longitude\nsecond,20,20\n"));
    expect((await processApplicationEvent(old, deps)).status).to.equal("superseded");
    expect((await processApplicationEvent(fresh, deps)).accepted.map((r) => r.name)).to.deep.equal(["second"]);

    const gone = await upload(deps.store, bucket, "gone.csv", Buffer.from("name,latitude,longitude\nthird,30,30\n"));
    await deps.store.deleteObject(`${INCOMING_PREFIX}gone.csv`);
    expect((await processApplicationEvent(gone, deps)).status).to.equal("missing");

    const outside = JSON.parse(
      JSON.stringify(fresh).replace(/applications\/incoming\//g, "applications/archive/"),
    ) as unknown;
    expect((await processApplicationEvent(outside, deps)).status).to.equal("ignored");
    const foreign = JSON.parse(JSON.stringify(fresh).replaceAll(bucket, "someone-elses")) as unknown;
    expect((await rejectionOf(processApplicationEvent(foreign, deps))).message).to.match(
      /bucket someone-elses; this processor handles apps-edge only/,
    );
    expect((await rejectionOf(processApplicationEvent({ hello: "world" }, deps))).message).to.match(
      /takes S3 "Object Created" events from EventBridge/,
    );
    expect(parseRegistry((await registryState(deps.store))!.text).locations.map((e) => e.name)).to.deep.equal([
      "second",
    ]);
  });
});
