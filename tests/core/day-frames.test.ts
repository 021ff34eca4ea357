import { expect } from "chai";
import { dayFrame, dayFrames, requestTimezoneFor } from "../../pipeline/core/day-frames";

const iso = (ms: number) => new Date(ms).toISOString();
const hours = (f: { startMs: number; endMs: number }) => (f.endMs - f.startMs) / 3_600_000;

describe("day frames", () => {
  it("requests a Berlin summer day as Etc/GMT-2 and a winter day as Etc/GMT-1, whenever the request is made", () => {
    const july = dayFrame("Europe/Berlin", "2024-07-01");
    expect(july).to.deep.include({ offsetSeconds: 7200, requestTimezone: "Etc/GMT-2", extraDays: 0 });
    expect(iso(july.startMs)).to.equal("2024-06-30T22:00:00.000Z");
    expect(hours(july)).to.equal(24);
    expect(dayFrame("Europe/Berlin", "2024-12-01")).to.deep.include({
      offsetSeconds: 3600,
      requestTimezone: "Etc/GMT-1",
    });
  });

  it("gives the spring switch day 23 hours in its starting offset, and the autumn one 25 hours and one extra day", () => {
    const [before, spring, after] = dayFrames("Europe/Berlin", "2024-03-30", "2024-04-01");
    expect(hours(spring!)).to.equal(23);
    expect(spring).to.deep.include({ offsetSeconds: 3600, requestTimezone: "Etc/GMT-1", extraDays: 0 });
    expect(before!.endMs).to.equal(spring!.startMs);
    expect(spring!.endMs).to.equal(after!.startMs);
    expect(iso(after!.startMs)).to.equal("2024-03-31T22:00:00.000Z");
    const fall = dayFrame("Europe/Berlin", "2024-10-27");
    expect(hours(fall)).to.equal(25);
    expect(fall).to.deep.include({ offsetSeconds: 7200, requestTimezone: "Etc/GMT-2", extraDays: 1 });
    expect(iso(fall.endMs)).to.equal("2024-10-27T23:00:00.000Z");
  });

  it("finds the start of a day whose midnight does not exist (Santiago skips 00:00 to 01:00)", () => {
    const day = dayFrame("America/Santiago", "2024-09-08");
    expect(iso(day.startMs)).to.equal("2024-09-08T04:00:00.000Z");
    expect(hours(day)).to.equal(23);
    expect(day.requestTimezone).to.equal("Etc/GMT+3");
  });

  it("sends fixed zones as they are, and a zone of half hours by its name (the transform checks its offset)", () => {
    expect(requestTimezoneFor("UTC", 0)).to.equal("UTC");
    expect(requestTimezoneFor("Etc/GMT+5", -18000)).to.equal("Etc/GMT+5");
    expect(requestTimezoneFor("Europe/London", 0)).to.equal("Etc/GMT");
    expect(requestTimezoneFor("America/New_York", -14400)).to.equal("Etc/GMT+4");
    expect(dayFrame("Australia/Adelaide", "2024-07-01").requestTimezone).to.equal("Australia/Adelaide");
  });

  it("tiles a range without gaps or overlaps, and refuses a reversed one", () => {
    const frames = dayFrames("Europe/Berlin", "2023-01-01", "2024-12-31");
    for (let i = 1; i < frames.length; i++) expect(frames[i]!.startMs).to.equal(frames[i - 1]!.endMs);
    expect(frames.filter((f) => hours(f) === 23).map((f) => f.date)).to.deep.equal(["2023-03-26", "2024-03-31"]);
    expect(frames.filter((f) => f.extraDays > 0).map((f) => f.date)).to.deep.equal(["2023-10-29", "2024-10-27"]);
    expect(() => dayFrames("Europe/Berlin", "2024-02-02", "2024-02-01")).to.throw(/ends before it starts/);
    expect(() => dayFrames("Mars/Olympus", "2024-02-01", "2024-02-01")).to.throw(/"Mars\/Olympus"/);
  });
});
