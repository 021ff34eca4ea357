/**
 * Calendar dates in the stack's time zone, and which Open-Meteo endpoint serves a date.
 * Dates are `YYYY-MM-DD` strings throughout (see keys.ts): a calendar day, not an instant.
 * Intl objects are built inside functions, never at module scope, so Pulumi's closure
 * serializer only ever captures plain values from this module.
 */
import { assertIsoDate } from "./keys";
import type { Endpoint } from "./settings";

const DAY_MS = 86_400_000;

/** Names of UTC itself (a pattern, not a Set: Pulumi's closure serializer turns a Set into an object). */
const UTC_NAME = /^(UTC|GMT|Etc\/(UTC|GMT|UCT|Universal|Zulu|Greenwich))$/;

/** IANA's fixed-offset zones: Etc/GMT-14 (UTC+14) to Etc/GMT+12 (UTC-12), POSIX signs. */
const ETC_GMT_OFFSET = /^Etc\/GMT([+-])(0|[1-9]\d?)$/;

/**
 * The UTC offset in seconds of a zone whose offset never changes (UTC and its aliases, Etc/GMT-2
 * for UTC+2), or undefined for any other zone. Dates and offsets in these zones are computed
 * without Intl: its first use loads ICU's data, 13-19 ms of a Lambda's cold start, and UTC is
 * the stacks' default zone. tests/core/dates.test.ts checks every such zone against Intl.
 */
export function fixedZoneOffsetSeconds(timezone: string): number | undefined {
  if (UTC_NAME.test(timezone)) return 0;
  const match = ETC_GMT_OFFSET.exec(timezone);
  if (!match) return undefined;
  const hours = Number(match[2]);
  if (match[1] === "+" ? hours > 12 : hours > 14) return undefined;
  return (match[1] === "+" ? -hours : hours) * 3600;
}

/** Throws unless `timezone` is an IANA time zone name this runtime knows (e.g. Europe/Berlin, UTC). */
export function assertTimeZone(timezone: string, what = "timezone"): void {
  if (fixedZoneOffsetSeconds(timezone) !== undefined) return;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
  } catch {
    throw new RangeError(
      `${what} is ${JSON.stringify(timezone)}; it must be an IANA time zone name such as "Europe/Berlin" or "UTC"`,
    );
  }
}

/** The wall-clock fields of an instant in a time zone; hour is 0-23. */
export interface WallClock {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

/** Reads the wall clock of `instant` in `timezone` (Gregorian calendar, latin digits, 24-hour). */
export function wallClockIn(timezone: string, instant: Date): WallClock {
  assertTimeZone(timezone);
  if (Number.isNaN(instant.getTime())) throw new RangeError("the instant is an invalid Date");
  const fixed = fixedZoneOffsetSeconds(timezone);
  if (fixed !== undefined) {
    const wall = new Date(instant.getTime() + fixed * 1000);
    return {
      year: wall.getUTCFullYear(),
      month: wall.getUTCMonth() + 1,
      day: wall.getUTCDate(),
      hour: wall.getUTCHours(),
      minute: wall.getUTCMinutes(),
      second: wall.getUTCSeconds(),
    };
  }
  // hourCycle h23: without it some runtimes print midnight as "24".
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone: timezone,
    calendar: "gregory",
    numberingSystem: "latn",
    hourCycle: "h23",
    era: "short",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  });
  const fields: Record<string, string> = {};
  for (const part of format.formatToParts(instant)) fields[part.type] = part.value;
  const field = (name: string): number => {
    const value = Number(fields[name]);
    if (!Number.isInteger(value)) throw new Error(`Intl gave no ${name} for ${instant.toISOString()} in ${timezone}`);
    return value;
  };
  // Years before 1 AD come back as era "BC" with a positive year; no weather data is that old,
  // but the arithmetic below stays correct for them anyway.
  const year = fields["era"] === "BC" ? 1 - field("year") : field("year");
  return {
    year,
    month: field("month"),
    day: field("day"),
    hour: field("hour"),
    minute: field("minute"),
    second: field("second"),
  };
}

/** Formats year, month and day as YYYY-MM-DD. */
export function formatIsoDate(year: number, month: number, day: number): string {
  return `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

/** The calendar date of `now` in `timezone`. */
export function todayIn(timezone: string, now: Date): string {
  const wall = wallClockIn(timezone, now);
  return formatIsoDate(wall.year, wall.month, wall.day);
}

/**
 * The calendar date before today in `timezone`. Computed on calendar dates, not by subtracting
 * 24 hours, so a 23- or 25-hour day at a DST change never skips or repeats a date.
 */
export function yesterdayIn(timezone: string, now: Date): string {
  return addDays(todayIn(timezone, now), -1);
}

/**
 * Throws unless `date` is over in `timezone` at `now`, i.e. before today there. Open-Meteo
 * answers today and future dates with forecasts; stored as a day's data they would pass for
 * observations. `what` names the value in the message (e.g. "--date").
 */
export function assertFinishedDate(date: string, timezone: string, now: Date, what = "the date"): void {
  assertIsoDate(date, what);
  const today = todayIn(timezone, now);
  if (date < today) return;
  const when = date === today ? `today in ${timezone}` : `in the future in ${timezone} (today is ${today} there)`;
  throw new RangeError(
    `${what} is ${date}, ${when}: the day is not over, so Open-Meteo would answer with forecasts, not observations; ` +
      `the latest date with data is ${addDays(today, -1)} (yesterday)`,
  );
}

/** The date `days` calendar days after `date` (negative: before). */
export function addDays(date: string, days: number): string {
  assertIsoDate(date);
  if (!Number.isInteger(days)) throw new RangeError(`days is ${days}; it must be a whole number`);
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** Whole calendar days from `from` to `to` (positive when `to` is later). */
export function daysBetween(from: string, to: string): number {
  assertIsoDate(from, "from");
  assertIsoDate(to, "to");
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}

/**
 * The offset of `timezone` from UTC at `instant`, in seconds (east positive), e.g. 34200 for
 * Australia/Adelaide in July and 37800 in January.
 */
export function utcOffsetSecondsAt(timezone: string, instant: Date): number {
  const wall = wallClockIn(timezone, instant);
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear undoes that for ancient dates.
  const fixed = new Date(asUtc);
  fixed.setUTCFullYear(wall.year);
  const instantSeconds = Math.floor(instant.getTime() / 1000) * 1000;
  return Math.round((fixed.getTime() - instantSeconds) / 1000);
}

/**
 * The endpoint that serves `date`: the archive for dates more than `forecastPastDays` days
 * before `today`, the forecast endpoint otherwise (recent days, today and future dates).
 */
export function chooseEndpoint(date: string, today: string, forecastPastDays: number): Endpoint {
  assertIsoDate(date);
  assertIsoDate(today, "today");
  if (!Number.isInteger(forecastPastDays) || forecastPastDays < 0) {
    throw new RangeError(`forecastPastDays is ${forecastPastDays}; it must be a whole number of days, 0 or more`);
  }
  return date < addDays(today, -forecastPastDays) ? "archive" : "forecast";
}
