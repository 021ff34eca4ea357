/**
 * Reading a source's times into UTC instants, with Luxon (zones from the runtime's Intl data).
 *
 * - `iso8601`: `2026-11-20T06:00`, `2026-11-20 06:00`, with seconds and fractions or without,
 *   and with an offset (`Z`, `+01:00`) or without; `2026-11-20` alone is local midnight.
 * - A Luxon pattern such as `dd/MM/yyyy HH:mm` or `yyyyMMddHHmm`; with an offset token (`ZZ`) the
 *   text carries its own offset.
 *
 * A time without an offset is wall-clock time in `timezone`, and daylight saving time makes
 * two kinds of wall-clock time special:
 * - a time that does not exist (in the hour the clocks skip in spring) is rejected: no reading
 *   can have been taken then, so the file is wrong about it, and guessing would invent an hour;
 * - a time that exists twice (in the hour repeated in autumn) is resolved by file order, as
 *   published series are written: for the same key (the key's other columns, e.g. a station),
 *   its first occurrence is the earlier instant (still summer time), a second one the later
 *   instant (winter time). A third is a duplicate key and rejected.
 */
import { DateTime } from "luxon";
import type { SourceTime } from "./definition";

/** A time read from the file. */
export type ReadTime =
  | {
      readonly ok: true;
      readonly millis: number;
      /** Set when the wall-clock time exists twice: the later instant. */ readonly later?: number;
    }
  | { readonly ok: false; readonly reason: string };

/** Reads a source's times and tells the date of an instant in the source's zone. */
export interface TimeReader {
  read(text: string): ReadTime;
  /** The calendar day (YYYY-MM-DD) of an instant in the source's time zone: its partition. */
  dateOf(millis: number): string;
}

const LOCALE = { locale: "en-US" } as const;

/** A trailing ISO 8601 offset: Z, ±hh, ±hhmm or ±hh:mm. */
const ISO_OFFSET = /(?:Z|[+-]\d{2}(?::?\d{2})?)$/i;
const ISO_SPACE = /^(\d{4}-\d{2}-\d{2}) (\d)/;

/** Whether a Luxon pattern carries an offset or zone (Z, ZZ, ZZZ, z), outside quoted literals. */
function patternHasOffset(format: string): boolean {
  return /[Zz]/.test(format.replace(/'[^']*'/g, ""));
}

/** Why a time format cannot be used (undefined when it can): for the config check. */
export function timeFormatProblem(format: string): string | undefined {
  if (format === "iso8601") return undefined;
  if (format.trim() === "") return "it is empty; use iso8601 or a Luxon pattern such as dd/MM/yyyy HH:mm";
  const sample = DateTime.fromObject(
    { year: 2026, month: 11, day: 20, hour: 13, minute: 45, second: 30 },
    { zone: "utc" },
  );
  let parsed: DateTime;
  let text: string;
  try {
    const parser = DateTime.buildFormatParser(format, LOCALE);
    text = sample.toFormat(format, LOCALE);
    parsed = DateTime.fromFormatParser(text, parser, { zone: "utc", setZone: true });
  } catch (error) {
    return `it is not a Luxon format pattern (${error instanceof Error ? error.message : String(error)}); use e.g. dd/MM/yyyy HH:mm`;
  }
  if (!parsed.isValid) {
    return `Luxon cannot read back what the pattern writes (${JSON.stringify(text)}: ${parsed.invalidExplanation ?? parsed.invalidReason}); use tokens such as yyyy, MM, dd, HH, mm, ss`;
  }
  if (parsed.year !== 2026 || parsed.month !== 11 || parsed.day !== 20) {
    return `it must name the year, month and day (yyyy, MM, dd): 2026-11-20 written with it reads back as ${parsed.toISODate()}`;
  }
  return undefined;
}

/** Why a zone cannot be used (undefined when it can). */
export function timeZoneProblem(zone: string): string | undefined {
  return DateTime.now().setZone(zone).isValid ? undefined : "it must be an IANA time zone such as UTC or Europe/Berlin";
}

/** The wall-clock fields of a DateTime read in UTC (i.e. as written, no zone applied). */
function fieldsOf(dt: DateTime) {
  return {
    year: dt.year,
    month: dt.month,
    day: dt.day,
    hour: dt.hour,
    minute: dt.minute,
    second: dt.second,
    millisecond: dt.millisecond,
  };
}

/** A wall-clock time in a zone as an instant, by the rules in this module's comment. */
function resolveLocal(text: string, wall: DateTime, zone: string): ReadTime {
  const fields = fieldsOf(wall);
  const local = DateTime.fromObject(fields, { zone });
  if (!local.isValid)
    return { ok: false, reason: `${JSON.stringify(text)} is not a time: ${local.invalidExplanation}` };
  if (local.hour !== fields.hour || local.minute !== fields.minute || local.day !== fields.day) {
    return {
      ok: false,
      reason: `${JSON.stringify(text)} does not exist in ${zone}: the clocks skip that time (daylight saving time begins)`,
    };
  }
  const possible = local
    .getPossibleOffsets()
    .map((dt) => dt.toMillis())
    .sort((a, b) => a - b);
  if (possible.length > 1)
    return { ok: true, millis: possible[0] as number, later: possible[possible.length - 1] as number };
  return { ok: true, millis: local.toMillis() };
}

/** A reader of the times of a source's file. */
export function createTimeReader(time: Pick<SourceTime, "format" | "timezone">): TimeReader {
  const zone = time.timezone;
  const dateOf = (millis: number): string => DateTime.fromMillis(millis, { zone }).toISODate() as string;
  if (time.format === "iso8601") {
    return {
      dateOf,
      read(raw: string): ReadTime {
        const text = raw.trim().replace(ISO_SPACE, "$1T$2");
        if (ISO_OFFSET.test(text) && /T/.test(text)) {
          const dt = DateTime.fromISO(text, { setZone: true });
          return dt.isValid
            ? { ok: true, millis: dt.toMillis() }
            : { ok: false, reason: `${JSON.stringify(raw)} is not an ISO 8601 time (${dt.invalidExplanation})` };
        }
        const wall = DateTime.fromISO(text, { zone: "utc" });
        if (!wall.isValid) {
          return { ok: false, reason: `${JSON.stringify(raw)} is not an ISO 8601 time (${wall.invalidExplanation})` };
        }
        return resolveLocal(raw, wall, zone);
      },
    };
  }
  const parser = DateTime.buildFormatParser(time.format, LOCALE);
  const absolute = patternHasOffset(time.format);
  return {
    dateOf,
    read(raw: string): ReadTime {
      const text = raw.trim();
      const dt = DateTime.fromFormatParser(text, parser, absolute ? { setZone: true } : { zone: "utc" });
      if (!dt.isValid) {
        return { ok: false, reason: `${JSON.stringify(raw)} is not a time in the format ${time.format}` };
      }
      return absolute ? { ok: true, millis: dt.toMillis() } : resolveLocal(raw, dt, zone);
    },
  };
}
