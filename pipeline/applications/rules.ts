/**
 * The rules an application must pass, each row decided on its own, each rejection with a
 * reason a person can act on. Pure: the same rows, existing locations, limits and day give the
 * same decisions.
 *
 * A row is accepted when all of these hold, checked in this order:
 * 1. its fields: a name that is a safe identifier, latitude and longitude written as decimal
 *    numbers in range, an optional start_date from 1940-01-01 to yesterday;
 * 2. its name appears on no other row of the file;
 * 3. it is not an existing location: not the same name, not within minDistanceKm of one (or of
 *    a row accepted earlier in the same file);
 * 4. the stack's runs, with it and the rows accepted before it, stay within maxDailyWeight and
 *    maxHourlyWeight on their worst day and hour, counted as the config's check counts them.
 */
import { addDays } from "../core/dates";
import type { Location } from "../core/settings";
import { distanceKm, locationIdOf, normalizeName } from "./location-id";
import { NonFiniteNumber, type FieldName, type RawRow } from "./parse";
import { apiWeightUse, formatWeight } from "../config";
import { showValue, type Reason } from "./reasons";

/** The archive's first day: Open-Meteo's historical data starts here. */
export const FIRST_START_DATE = "1940-01-01";

/** Longest accepted name. */
export const MAX_NAME_LENGTH = 64;

/** The limits of a stack (config keys applicationMaxBytes, applicationMinDistanceKm, maxDailyWeight, maxHourlyWeight). */
export interface ApplicationLimits {
  /** Largest file accepted, in bytes. */
  readonly maxBytes: number;
  /** A new location must be at least this far from every existing one, in km. */
  readonly minDistanceKm: number;
  /** A day of the stack's runs (its worst: every scheduled run and its catch-up dates) must stay at most this API weight. */
  readonly maxDailyWeight: number;
  /** And its busiest clock hour at most this. */
  readonly maxHourlyWeight: number;
  /** The stack's runs, as its config checks them at deploy (config/api-quota.ts): the same worst case. */
  readonly runs: { readonly scheduleCron: string; readonly catchUpDays: number; readonly maxDatesPerRun: number };
}

/** A location the stack already fetches. */
export interface ExistingLocation extends Location {
  /** Where it comes from: the stack's config, or the registry (then with its id and source). */
  readonly origin: "config" | "registry";
  readonly id?: string;
}

/** What the decisions are made against. */
export interface DecisionContext {
  readonly existing: readonly ExistingLocation[];
  /** Hourly plus daily variables of the stack: a location's weight depends on it. */
  readonly variableCount: number;
  readonly limits: ApplicationLimits;
  /** Today in the stack's time zone, at the decision's time: start_date must be before it. */
  readonly today: string;
  /** The stack's time zone, for messages. */
  readonly timezone: string;
}

/** A row that passed every rule. */
export interface AcceptedRow {
  readonly row: number;
  readonly id: string;
  readonly name: string;
  readonly latitude: number;
  readonly longitude: number;
  readonly startDate?: string;
}

/** A row that did not, with every reason found. */
export interface RejectedRow {
  readonly row: number;
  /** The name as given, when it was text. */
  readonly name?: string;
  readonly reasons: readonly Reason[];
}

/** The decision of every row of a file. */
export interface RowDecisions {
  readonly accepted: readonly AcceptedRow[];
  readonly rejected: readonly RejectedRow[];
}

/** A row's fields once they passed their checks. */
interface ValidFields {
  readonly name: string;
  readonly latitude: number;
  readonly longitude: number;
  readonly startDate?: string;
}

const FORMULA_START = /^[=+\-@\t\r]/;
const PATH_SEPARATOR = /[/\\]/;
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
/** Letters and digits of any script, with marks, and `_ - .` and single spaces between them. */
const ALLOWED_CHARACTER = /[\p{L}\p{M}\p{N}_.\- ]/u;
const NAME_FIX = `use letters, digits, spaces, "_", "-" and "." only, starting with a letter or digit, at most ${MAX_NAME_LENGTH} characters (e.g. berlin_mitte)`;

/** The problems of a name, or its normalized form (NFC, trimmed, single spaces). */
function checkName(value: unknown): { name: string } | { reasons: Reason[] } {
  if (value === undefined || value === null || value === "") {
    return {
      reasons: [
        {
          field: "name",
          value: value === undefined ? undefined : showValue(value),
          problem: "it is empty",
          fix: "give the location a name",
        },
      ],
    };
  }
  if (typeof value !== "string") {
    return {
      reasons: [
        {
          field: "name",
          value: showValue(value),
          problem: "it is not text",
          fix: 'write the name as a JSON string, e.g. "berlin"',
        },
      ],
    };
  }
  const shown = showValue(value);
  const name = value.normalize("NFC").trim().replace(/ {2,}/g, " ");
  const reasons: Reason[] = [];
  if (name === "")
    return {
      reasons: [{ field: "name", value: shown, problem: "it is only white space", fix: "give the location a name" }],
    };
  if (FORMULA_START.test(name)) {
    reasons.push({
      field: "name",
      value: shown,
      problem: `it starts with ${showValue(name[0])}, which a spreadsheet would run as a formula`,
      fix: "start the name with a letter or digit",
    });
  }
  if (PATH_SEPARATOR.test(name)) {
    reasons.push({ field: "name", value: shown, problem: "it holds a path separator (/ or \\)", fix: NAME_FIX });
  }
  const invisible = INVISIBLE.exec(name);
  if (invisible) {
    reasons.push({
      field: "name",
      value: shown,
      problem: `it holds the invisible or control character ${showValue(invisible[0])}`,
      fix: NAME_FIX,
    });
  }
  if (reasons.length === 0) {
    const other = [...name].find((c) => !ALLOWED_CHARACTER.test(c));
    if (other !== undefined) {
      reasons.push({
        field: "name",
        value: shown,
        problem: `it holds ${showValue(other)} (U+${other.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}), which a name may not hold`,
        fix: NAME_FIX,
      });
    } else if (!/^[\p{L}\p{N}]/u.test(name)) {
      reasons.push({
        field: "name",
        value: shown,
        problem: `it starts with ${showValue(name[0])}`,
        fix: "start the name with a letter or digit",
      });
    }
  }
  if ([...name].length > MAX_NAME_LENGTH) {
    reasons.push({
      field: "name",
      value: shown,
      problem: `it is ${[...name].length} characters long; the most is ${MAX_NAME_LENGTH}`,
      fix: "shorten the name",
    });
  }
  return reasons.length > 0 ? { reasons } : { name };
}

/** A decimal number as written in CSV: digits with an optional sign and point, nothing else. */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;

/** A coordinate's problems, or its value. */
function checkCoordinate(
  field: "latitude" | "longitude",
  value: unknown,
  typed: boolean,
): { value: number } | { reason: Reason } {
  const limit = field === "latitude" ? 90 : 180;
  const example = field === "latitude" ? "52.52" : "13.41";
  const range = `it must be between -${limit} and ${limit}`;
  const fail = (problem: string, fix: string): { reason: Reason } => ({
    reason: { field, value: showValue(value), problem, fix },
  });
  let number: number;
  if (value === undefined || value === null || value === "") {
    return fail("it is empty", `write the ${field} in decimal degrees, e.g. ${example}`);
  }
  if (value instanceof NonFiniteNumber) {
    return {
      reason: {
        field,
        value: value.text,
        problem: "it is too large to be a number (it reads as Infinity)",
        fix: `write the ${field} in decimal degrees, e.g. ${example}`,
      },
    };
  }
  if (typeof value === "number") {
    number = value;
  } else if (typeof value === "string" && typed) {
    return fail("it is text, not a JSON number", `write the ${field} as a number without quotes, e.g. ${example}`);
  } else if (typeof value === "string") {
    const text = value.trim();
    if (/^[+-]?(nan|inf|infinity)$/i.test(text))
      return fail("it is not a finite number", `write the ${field} in decimal degrees, e.g. ${example}`);
    if (/^[+-]?\d+,\d+$/.test(text))
      return fail("it has a decimal comma", `write decimals with a point, e.g. ${example}`);
    if (/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)e[+-]?\d+$/i.test(text)) {
      const parsed = Number(text);
      return fail(
        Number.isFinite(parsed)
          ? "it is written with an exponent"
          : "it is too large to be a number (it reads as Infinity)",
        `write the ${field} as a plain decimal, e.g. ${example}`,
      );
    }
    if (!DECIMAL.test(text))
      return fail(
        "it is not a number",
        `write the ${field} in decimal degrees, e.g. ${example} (south and west negative)`,
      );
    number = Number(text);
  } else {
    return fail("it is not a number", `write the ${field} as a JSON number, e.g. ${example}`);
  }
  if (!Number.isFinite(number))
    return fail("it is not a finite number", `write the ${field} in decimal degrees, e.g. ${example}`);
  if (number < -limit || number > limit)
    return fail(range, `write the ${field} in decimal degrees (south and west negative)`);
  // -0 and 0 are one place.
  return { value: number === 0 ? 0 : number };
}

/** A start_date's problems, or its value (undefined: no backfill asked for). */
function checkStartDate(value: unknown, ctx: DecisionContext): { value?: string } | { reason: Reason } {
  if (value === undefined || value === null || (typeof value === "string" && value.trim() === "")) return {};
  const yesterday = addDays(ctx.today, -1);
  const fix = `write a date from ${FIRST_START_DATE} to ${yesterday} as YYYY-MM-DD, or leave it empty for no history`;
  const fail = (problem: string): { reason: Reason } => ({
    reason: { field: "start_date", value: showValue(value), problem, fix },
  });
  if (typeof value !== "string") return fail("it is not text");
  const text = value.trim();
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return fail("it is not written YYYY-MM-DD");
  const parsed = new Date(`${text}T00:00:00Z`);
  if (Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== text)
    return fail("it is not a calendar date");
  if (text < FIRST_START_DATE) return fail(`it is before ${FIRST_START_DATE}, the archive's first day`);
  if (text > yesterday) return fail(`it is after yesterday (${yesterday} in ${ctx.timezone}); history ends yesterday`);
  return { value: text };
}

/** Every field's problems, or the valid fields. */
function checkFields(row: RawRow, ctx: DecisionContext): ValidFields | Reason[] {
  // A row that is not a row at all (a repeated header, a JSON element that is no object) has no fields to check.
  if (row.problems.length > 0 && Object.keys(row.values).length === 0) return [...row.problems];
  const reasons: Reason[] = [...row.problems];
  const name = checkName(row.values.name);
  if ("reasons" in name) reasons.push(...name.reasons);
  const latitude = checkCoordinate("latitude", row.values.latitude, row.typed === true);
  const longitude = checkCoordinate("longitude", row.values.longitude, row.typed === true);
  if ("reason" in latitude) reasons.push(latitude.reason);
  if ("reason" in longitude) reasons.push(longitude.reason);
  if (
    "reason" in latitude &&
    latitude.reason.problem.startsWith("it must be between") &&
    "value" in longitude &&
    Math.abs(longitude.value) <= 90
  ) {
    const lat = Number(typeof row.values.latitude === "string" ? row.values.latitude.trim() : row.values.latitude);
    if (Number.isFinite(lat) && Math.abs(lat) <= 180) {
      reasons.push({
        field: "latitude",
        value: showValue(row.values.latitude),
        problem: "it looks like a longitude",
        fix: "check that latitude and longitude are not swapped",
      });
    }
  }
  const startDate = checkStartDate(row.values.start_date, ctx);
  if ("reason" in startDate) reasons.push(startDate.reason);
  if (
    reasons.length > 0 ||
    "reasons" in name ||
    "reason" in latitude ||
    "reason" in longitude ||
    "reason" in startDate
  ) {
    return reasons;
  }
  return {
    name: name.name,
    latitude: latitude.value,
    longitude: longitude.value,
    ...(startDate.value === undefined ? {} : { startDate: startDate.value }),
  };
}

/** Places sorted by latitude, to find those near a point without comparing with all. */
class NearbyIndex {
  private readonly places: { latitude: number; longitude: number; label: string }[] = [];

  add(place: { latitude: number; longitude: number; label: string }): void {
    let low = 0;
    let high = this.places.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((this.places[mid] as { latitude: number }).latitude < place.latitude) low = mid + 1;
      else high = mid;
    }
    this.places.splice(low, 0, place);
  }

  /** The closest place within `km` of the point, if any. */
  nearest(point: { latitude: number; longitude: number }, km: number): { label: string; km: number } | undefined {
    // A degree of latitude is at least 110.5 km: nothing farther in latitude can be within km.
    const band = km / 110.5;
    let low = 0;
    let high = this.places.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((this.places[mid] as { latitude: number }).latitude < point.latitude - band) low = mid + 1;
      else high = mid;
    }
    let best: { label: string; km: number } | undefined;
    for (let i = low; i < this.places.length; i++) {
      const place = this.places[i] as { latitude: number; longitude: number; label: string };
      if (place.latitude > point.latitude + band) break;
      const d = distanceKm(point, place);
      if (d < km && (best === undefined || d < best.km)) best = { label: place.label, km: d };
    }
    return best;
  }
}

function describeExisting(e: ExistingLocation): string {
  return e.origin === "config"
    ? `${showValue(e.name)} (in the stack's config)`
    : `${showValue(e.name)} (${e.id}, accepted earlier)`;
}

function formatKm(km: number): string {
  return km < 10 ? km.toFixed(2) : km.toFixed(1);
}

/** Decides every row of a parsed file (see the module comment for the rules and their order). */
export function decideRows(rows: readonly RawRow[], ctx: DecisionContext): RowDecisions {
  const accepted: AcceptedRow[] = [];
  const rejected: RejectedRow[] = [];
  const { limits } = ctx;

  const existingByName = new Map<string, ExistingLocation>();
  const nearby = new NearbyIndex();
  for (const e of ctx.existing) {
    existingByName.set(normalizeName(e.name), e);
    nearby.add({ latitude: e.latitude, longitude: e.longitude, label: describeExisting(e) });
  }
  // Rule 2 looks at the whole file first: which rows share a name.
  const rowsByName = new Map<string, number[]>();
  const fields = rows.map((row) => checkFields(row, ctx));
  fields.forEach((f, i) => {
    const raw = rows[i]?.values.name;
    const key = !Array.isArray(f)
      ? normalizeName(f.name)
      : typeof raw === "string" && raw.trim() !== ""
        ? normalizeName(raw)
        : undefined;
    if (key !== undefined) rowsByName.set(key, [...(rowsByName.get(key) ?? []), (rows[i] as RawRow).row]);
  });
  let locationCount = ctx.existing.length;

  rows.forEach((row, i) => {
    const f = fields[i] as ValidFields | Reason[];
    const givenName = typeof row.values.name === "string" ? row.values.name : undefined;
    const rejectWith = (reasons: readonly Reason[]) =>
      rejected.push({ row: row.row, ...(givenName === undefined ? {} : { name: givenName }), reasons });
    if (Array.isArray(f)) return rejectWith(f);
    const key = normalizeName(f.name);
    const others = (rowsByName.get(key) ?? []).filter((r) => r !== row.row);
    if (others.length > 0) {
      return rejectWith([
        {
          field: "name",
          value: showValue(f.name),
          problem: `the same name is also on row${others.length > 1 ? "s" : ""} ${others.join(", ")} of this file`,
          fix: "give each location its own name, and apply for each place once",
        },
      ]);
    }
    const same = existingByName.get(key);
    if (same) {
      return rejectWith([
        {
          field: "name",
          value: showValue(f.name),
          problem: `the stack already has a location of that name: ${describeExisting(same)}`,
          fix: "its data is already fetched; apply only for a new place, under a name of its own",
        },
      ]);
    }
    const near = nearby.nearest(f, limits.minDistanceKm);
    if (near) {
      return rejectWith([
        {
          field: "row",
          value: `(${f.latitude}, ${f.longitude})`,
          problem: `(${f.latitude}, ${f.longitude}) is ${formatKm(near.km)} km from the existing location ${near.label}, closer than applicationMinDistanceKm (${limits.minDistanceKm} km)`,
          fix: "use that location's data, or apply for a place farther away",
        },
      ]);
    }
    // The worst day and hour the config's own check counts (scheduled runs and their catch-up dates).
    const use = apiWeightUse({ ...limits.runs, locationCount: locationCount + 1, variableCount: ctx.variableCount });
    const over = [
      {
        key: "maxDailyWeight",
        limit: limits.maxDailyWeight,
        weight: use.perDay,
        span: "a day",
        runs: use.runsPerDay,
        dates: use.catchUpDatesPerDay,
      },
      {
        key: "maxHourlyWeight",
        limit: limits.maxHourlyWeight,
        weight: use.perHour,
        span: "an hour",
        runs: use.runsPerHour,
        dates: use.catchUpDatesPerHour,
      },
    ].find((q) => q.weight > q.limit + 1e-6);
    if (over) {
      return rejectWith([
        {
          field: "row",
          value: showValue(f.name),
          problem:
            `with ${showValue(f.name)} ${over.span} of the stack's runs could weigh ${formatWeight(over.weight)} in Open-Meteo API weight ` +
            `(${over.runs} scheduled run(s) fetching yesterday and ${over.dates} catch-up date(s), a date weighing ${formatWeight(use.perDate)}), ` +
            `more than its ${over.key} (${formatWeight(over.limit)}); ` +
            `${locationCount} locations are fetched already`,
          fix: `ask the stack's operator to raise ${over.key} or to remove locations`,
        },
      ]);
    }
    const id = locationIdOf(f.name, f.latitude, f.longitude);
    accepted.push({ row: row.row, id, ...f });
    locationCount++;
    nearby.add({
      latitude: f.latitude,
      longitude: f.longitude,
      label: `${showValue(f.name)} (row ${row.row} of this file)`,
    });
    existingByName.set(key, { name: f.name, latitude: f.latitude, longitude: f.longitude, origin: "registry", id });
    return undefined;
  });
  return { accepted, rejected };
}

/** Keys a row's reasons may name as fields. */
export type { FieldName };
