/**
 * How a calendar date of the stack's time zone is asked of Open-Meteo, and cut back out of the
 * answer, whatever the date and whenever the request is made.
 *
 * Open-Meteo applies the UTC offset valid at REQUEST time to every date of a request
 * (open-meteo issues 261, 488, 1764): `timezone=Europe/Berlin` sent in December labels a July
 * day from 23:00Z, an hour late, and its daily aggregates cover the wrong 24 hours. So a date is
 * requested in a fixed-offset zone with the offset the date starts with (`Etc/GMT-2` for a
 * Berlin summer day), which means the same thing in every season, and the transform keeps the
 * hours whose instants fall in the date's true local day:
 * - a normal day: the frame's 24 hours are exactly the local day;
 * - a spring-forward day (23 h): the frame holds one hour of the next day, which is dropped;
 * - a fall-back day (25 h): the frame lacks the last hour, so the request runs one day longer
 *   (`extraDays`) and that hour comes from it; the daily aggregates of such a day cover the
 *   24 hours from its local midnight (Open-Meteo aggregates fixed 24-hour days).
 * Zones whose offset is not whole hours have no fixed-offset IANA zone; they are requested by
 * name, and the transform checks the offset of each body against the date's real one.
 *
 * Intl objects are built inside functions, never at module scope (see dates.ts).
 */
import { addDays, fixedZoneOffsetSeconds } from "./dates";
import { assertIsoDate } from "./keys";

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

/** One date as it is requested and cut. */
export interface DayFrame {
  readonly date: string;
  /** First instant of the date in the zone, epoch milliseconds. */
  readonly startMs: number;
  /** First instant of the next date (usually 24 hours later; 23 or 25 on DST days). */
  readonly endMs: number;
  /** The fixed UTC offset the date is requested in: the zone's offset at startMs, in seconds. */
  readonly offsetSeconds: number;
  /** The `timezone` parameter that gives this offset at any request time. */
  readonly requestTimezone: string;
  /** Days the request must run past the date to hold all of it (1 on a fall-back day, else 0). */
  readonly extraDays: number;
}

/** Zone names whose offset never changes: sent as they are. */
const FIXED_ZONE = /^(UTC|GMT|Etc\/(UTC|UCT|GMT|Universal|Zulu|Greenwich|GMT[+-]\d{1,2}))$/;

/**
 * The `timezone` parameter for a fixed offset: the stack's zone if it is fixed already, else the
 * IANA `Etc/GMT∓N` zone (POSIX signs: Etc/GMT-2 is UTC+2), else the stack's zone itself.
 */
export function requestTimezoneFor(timezone: string, offsetSeconds: number): string {
  if (FIXED_ZONE.test(timezone)) return timezone;
  if (offsetSeconds % 3600 !== 0) return timezone;
  const hours = offsetSeconds / 3600;
  return hours === 0 ? "Etc/GMT" : `Etc/GMT${hours > 0 ? "-" : "+"}${Math.abs(hours)}`;
}

/** Reads dates and offsets of instants in one zone with one formatter (frames need thousands). */
function zoneReader(timezone: string): { offsetAt(ms: number): number; dateAt(ms: number): string } {
  const fixed = fixedZoneOffsetSeconds(timezone);
  if (fixed !== undefined) {
    return {
      offsetAt: () => fixed,
      dateAt: (ms) => new Date(Math.floor(ms / 1000) * 1000 + fixed * 1000).toISOString().slice(0, 10),
    };
  }
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: timezone,
      calendar: "gregory",
      numberingSystem: "latn",
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
  } catch {
    throw new RangeError(
      `timezone is ${JSON.stringify(timezone)}; it must be an IANA time zone name such as "Europe/Berlin" or "UTC"`,
    );
  }
  const wallAsUtc = (ms: number): number => {
    const f: Record<string, number> = {};
    for (const part of format.formatToParts(new Date(ms))) f[part.type] = Number(part.value);
    return Date.UTC(f["year"] as number, (f["month"] as number) - 1, f["day"], f["hour"], f["minute"], f["second"]);
  };
  return {
    offsetAt: (ms) => Math.round((wallAsUtc(ms) - Math.floor(ms / 1000) * 1000) / 1000),
    dateAt: (ms) => new Date(wallAsUtc(ms)).toISOString().slice(0, 10),
  };
}

/** The first instant whose local date is `date` or later. */
function startOf(zone: ReturnType<typeof zoneReader>, date: string): number {
  const midnight = Date.parse(`${date}T00:00:00Z`);
  // Usually local midnight exists: midnight minus the offset there, with the second before it
  // on the previous date.
  const guess = midnight - zone.offsetAt(midnight) * 1000;
  if (zone.dateAt(guess) === date && zone.dateAt(guess - 1000) < date) return guess;
  // A change at or around midnight: search, to the second, between 15 hours before and after.
  let lo = midnight - 15 * HOUR_MS;
  let hi = midnight + 15 * HOUR_MS;
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (zone.dateAt(mid) >= date) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The frames of every date from `from` to `to` (inclusive) in `timezone`. */
export function dayFrames(timezone: string, from: string, to: string): DayFrame[] {
  assertIsoDate(from, "from");
  assertIsoDate(to, "to");
  if (to < from) throw new RangeError(`the range ${from} to ${to} ends before it starts`);
  const zone = zoneReader(timezone);
  const frames: DayFrame[] = [];
  let start = startOf(zone, from);
  for (let date = from; date <= to; date = addDays(date, 1)) {
    const next = addDays(date, 1);
    const end = startOf(zone, next);
    const offsetSeconds = zone.offsetAt(start);
    // Where the frame's last label day ends; a longer local day needs more label days.
    const frameEnd = Date.parse(`${next}T00:00:00Z`) - offsetSeconds * 1000;
    const extraDays = end > frameEnd ? Math.ceil((end - frameEnd) / DAY_MS) : 0;
    frames.push({
      date,
      startMs: start,
      endMs: end,
      offsetSeconds,
      requestTimezone: requestTimezoneFor(timezone, offsetSeconds),
      extraDays,
    });
    start = end;
  }
  return frames;
}

/** The frame of one date. */
export function dayFrame(timezone: string, date: string): DayFrame {
  return dayFrames(timezone, date, date)[0] as DayFrame;
}
