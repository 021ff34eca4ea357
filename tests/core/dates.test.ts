import { expect } from "chai";
import {
  addDays,
  assertFinishedDate,
  chooseEndpoint,
  daysBetween,
  fixedZoneOffsetSeconds,
  todayIn,
  utcOffsetSecondsAt,
  wallClockIn,
  yesterdayIn,
} from "../../pipeline/core/dates";
import { dayFrames } from "../../pipeline/core/day-frames";

const at = (iso: string): Date => new Date(iso);

describe("dates", () => {
  describe("assertFinishedDate", () => {
    it("accepts yesterday and refuses today and later, in the given zone", () => {
      const now = at("2024-03-10T03:30:00Z"); // the 10th in UTC and Auckland, the 9th in Los Angeles
      expect(() => assertFinishedDate("2024-03-09", "UTC", now)).not.to.throw();
      expect(() => assertFinishedDate("2024-03-10", "UTC", now, "--date")).to.throw(
        "--date is 2024-03-10, today in UTC: the day is not over",
      );
      expect(() => assertFinishedDate("2024-03-09", "America/Los_Angeles", now)).to.throw(
        "today in America/Los_Angeles",
      );
      expect(() => assertFinishedDate("2024-03-08", "America/Los_Angeles", now)).not.to.throw();
      expect(() => assertFinishedDate("2030-01-01", "Pacific/Auckland", now)).to.throw(
        "the date is 2030-01-01, in the future in Pacific/Auckland (today is 2024-03-10 there)",
      );
    });
  });

  describe("yesterdayIn", () => {
    it("gives the previous calendar day in UTC", () => {
      expect(yesterdayIn("UTC", at("2024-05-02T00:00:00Z"))).to.equal("2024-05-01");
      expect(yesterdayIn("UTC", at("2024-05-02T23:59:59.999Z"))).to.equal("2024-05-01");
    });

    it("depends on the zone: one instant is a different date in Auckland, UTC and Los Angeles", () => {
      const instant = at("2024-03-10T03:30:00Z");
      expect(yesterdayIn("Pacific/Auckland", instant)).to.equal("2024-03-09"); // 16:30 on the 10th
      expect(yesterdayIn("UTC", instant)).to.equal("2024-03-09");
      expect(yesterdayIn("America/Los_Angeles", instant)).to.equal("2024-03-08"); // 19:30 on the 9th
    });

    it("changes exactly at local midnight, not UTC midnight", () => {
      expect(yesterdayIn("America/New_York", at("2024-01-01T04:59:59Z"))).to.equal("2023-12-30");
      expect(yesterdayIn("America/New_York", at("2024-01-01T05:00:00Z"))).to.equal("2023-12-31");
    });

    it("is right just after a 23-hour day (spring forward), where now minus 24 h lands two days back", () => {
      // 2024-04-01 00:30 CEST; 24 h earlier is 2024-03-30 23:30 CET.
      expect(yesterdayIn("Europe/Berlin", at("2024-03-31T22:30:00Z"))).to.equal("2024-03-31");
    });

    it("is right late on a 25-hour day (fall back), where now minus 24 h is still today", () => {
      // 2024-10-27 23:30 CET; 24 h earlier is 2024-10-27 00:30 CEST.
      expect(yesterdayIn("Europe/Berlin", at("2024-10-27T22:30:00Z"))).to.equal("2024-10-26");
    });

    it("handles half-hour zones and the year boundary", () => {
      expect(yesterdayIn("Asia/Kolkata", at("2024-12-31T18:30:00Z"))).to.equal("2024-12-31"); // 00:00 Jan 1
      expect(yesterdayIn("Asia/Kolkata", at("2024-12-31T18:29:59Z"))).to.equal("2024-12-30");
      expect(yesterdayIn("Australia/Adelaide", at("2025-01-09T13:30:00Z"))).to.equal("2025-01-09"); // 00:00 Jan 10 ACDT
    });

    it("rejects an unknown time zone, naming it", () => {
      expect(() => yesterdayIn("Europe/Berlinn", new Date())).to.throw(/"Europe\/Berlinn".*IANA time zone/);
      expect(() => todayIn("", new Date())).to.throw(/timezone is ""/);
    });
  });

  describe("addDays and daysBetween", () => {
    it("walks over month ends, leap days and years", () => {
      expect(addDays("2024-02-28", 1)).to.equal("2024-02-29");
      expect(addDays("2023-02-28", 1)).to.equal("2023-03-01");
      expect(addDays("2024-12-31", 1)).to.equal("2025-01-01");
      expect(addDays("2024-03-01", -1)).to.equal("2024-02-29");
      expect(addDays("2024-05-01", -91)).to.equal("2024-01-31");
      expect(daysBetween("2024-01-31", "2024-05-01")).to.equal(91);
      expect(daysBetween("2024-05-01", "2024-01-31")).to.equal(-91);
    });

    it("rejects a date that is not a calendar date, and fractional days", () => {
      expect(() => addDays("2024-02-30", 1)).to.throw(/"2024-02-30".*YYYY-MM-DD/);
      expect(() => addDays("2024-02-01", 0.5)).to.throw(/days is 0.5/);
    });
  });

  describe("utcOffsetSecondsAt", () => {
    it("gives the offset in force at the instant, DST included", () => {
      expect(utcOffsetSecondsAt("Australia/Adelaide", at("2025-01-10T00:00:00Z"))).to.equal(37800);
      expect(utcOffsetSecondsAt("Australia/Adelaide", at("2025-07-10T00:00:00Z"))).to.equal(34200);
      expect(utcOffsetSecondsAt("Asia/Kolkata", at("2025-07-10T00:00:00Z"))).to.equal(19800);
      expect(utcOffsetSecondsAt("America/New_York", at("2025-01-10T00:00:00Z"))).to.equal(-18000);
      expect(utcOffsetSecondsAt("UTC", at("2025-01-10T00:00:00.750Z"))).to.equal(0);
    });
  });

  describe("chooseEndpoint", () => {
    const today = "2024-06-30";

    it("uses the forecast endpoint up to forecastPastDays days back, the archive before that", () => {
      expect(chooseEndpoint(addDays(today, -90), today, 90)).to.equal("forecast");
      expect(chooseEndpoint(addDays(today, -91), today, 90)).to.equal("archive");
      expect(chooseEndpoint("1950-01-01", today, 90)).to.equal("archive");
    });

    it("uses the forecast endpoint for yesterday, today and future dates", () => {
      expect(chooseEndpoint(addDays(today, -1), today, 90)).to.equal("forecast");
      expect(chooseEndpoint(today, today, 0)).to.equal("forecast");
      expect(chooseEndpoint(addDays(today, 3), today, 90)).to.equal("forecast");
      expect(chooseEndpoint(addDays(today, -1), today, 0)).to.equal("archive");
    });

    it("rejects a negative or fractional forecastPastDays and a bad date", () => {
      expect(() => chooseEndpoint(today, today, -1)).to.throw(/forecastPastDays is -1/);
      expect(() => chooseEndpoint(today, today, 1.5)).to.throw(/forecastPastDays is 1.5/);
      expect(() => chooseEndpoint("2024-6-30", today, 90)).to.throw(/date is "2024-6-30"/);
    });
  });

  describe("fixed-offset zones, computed without Intl", () => {
    const intlKnows = (zone: string): boolean => {
      try {
        new Intl.DateTimeFormat("en-US", { timeZone: zone });
        return true;
      } catch {
        return false;
      }
    };
    const etcZones = ["+", "-"].flatMap((sign) =>
      Array.from({ length: 21 }, (_, n) => [`Etc/GMT${sign}${n}`, `Etc/GMT${sign}0${n}`]).flat(),
    );
    const candidates = [
      ...["UTC", "GMT", "Etc/UTC", "Etc/GMT", "Etc/UCT", "Etc/Universal", "Etc/Zulu", "Etc/Greenwich"],
      ...etcZones,
      "Etc/GMT+1.5",
      "Europe/Berlin",
      "utc",
    ];
    const instants = [
      "2024-03-31T00:59:59.999Z",
      "2024-10-27T01:00:00Z",
      "2023-12-31T23:30:00Z",
      "1970-01-01T00:00:00Z",
      "1900-02-28T22:00:00Z",
    ].map((iso) => new Date(iso));

    it("covers exactly the fixed-offset zones Intl knows, with Intl's offsets", () => {
      const fixed = candidates.filter((zone) => fixedZoneOffsetSeconds(zone) !== undefined);
      // Every Etc/GMT±N that ICU has, none it lacks (Etc/GMT+13, Etc/GMT-15, Etc/GMT+05, ...).
      for (const zone of etcZones) {
        expect(fixedZoneOffsetSeconds(zone) !== undefined, zone).to.equal(intlKnows(zone));
      }
      expect(fixed).to.include.members(["UTC", "Etc/GMT-14", "Etc/GMT+12", "Etc/GMT-0"]);
      expect(fixed).not.to.include.members(["Etc/GMT+13", "Etc/GMT-15", "Etc/GMT+05", "Europe/Berlin", "utc"]);
      for (const zone of fixed) {
        for (const instant of instants) {
          // Intl matches names without regard to case; the lower-case name takes the Intl path.
          expect(fixedZoneOffsetSeconds(zone.toLowerCase()), zone.toLowerCase()).to.equal(undefined);
          expect(wallClockIn(zone, instant), `${zone} at ${instant.toISOString()}`).to.deep.equal(
            wallClockIn(zone.toLowerCase(), instant),
          );
          expect(fixedZoneOffsetSeconds(zone)).to.equal(utcOffsetSecondsAt(zone.toLowerCase(), instant));
        }
      }
    });

    it("frames days as Intl does", () => {
      for (const zone of ["UTC", "Etc/GMT-2", "Etc/GMT+12", "Etc/GMT-14"]) {
        const withoutIntl = dayFrames(zone, "2024-02-27", "2024-03-02");
        const withIntl = dayFrames(zone.toLowerCase(), "2024-02-27", "2024-03-02");
        expect(
          withoutIntl.map(({ requestTimezone: _, ...frame }) => frame),
          zone,
        ).to.deep.equal(withIntl.map(({ requestTimezone: _, ...frame }) => frame));
        expect(withoutIntl.map((f) => f.requestTimezone)).to.deep.equal(withoutIntl.map(() => zone));
      }
    });
  });
});
