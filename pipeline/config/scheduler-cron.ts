/**
 * Checks an EventBridge Scheduler cron expression (the six fields inside `cron(...)`) field by
 * field, as AWS documents the syntax (EventBridge user guide, "Cron expressions reference", the
 * syntax the Scheduler guide's "Schedule types on EventBridge Scheduler" page uses too):
 *
 *   field  name          values            wildcards
 *   1      minutes       0-59              , - * /
 *   2      hours         0-23              , - * /
 *   3      day-of-month  1-31              , - * ? / L W
 *   4      month         1-12 or JAN-DEC   , - * /
 *   5      day-of-week   1-7 or SUN-SAT    , - * ? L #
 *   6      year          1970-2199         , - * /
 *
 * and: exactly one of day-of-month and day-of-week is `?`; `#` allows only one expression in
 * day-of-week ("3#1,6#3" is invalid); `3W` is the weekday nearest the 3rd; `L` is the last day
 * of the month or week, `6L` the last Friday; `1/10` counts from 1 in steps of 10.
 *
 * Where the documentation is silent, this follows the Quartz dialect it comes from, and says so:
 * ranges may wrap around (AWS's own example `0/30 20-2 ? * MON-FRI *` runs 20:00-02:59, so
 * FRI-MON is read the same way), except in the year field; `LW` (last weekday) is accepted; `W`,
 * `L` and `#` forms stand alone in their field; `*` does not mix with other values; `/` takes a
 * start (`*`, a value or a range) and a step of at least 1 that fits the field; `L-3` (Quartz's
 * offset) is not documented by AWS and is refused, as are lower-case names (AWS writes JAN, MON).
 *
 * Why not a library: the npm packages that know AWS's dialect were run on the 41 valid and 57
 * invalid cases of tests/config-checks/scheduler-cron.test.ts. cron-validate 1.5.3 (preset
 * aws-cloud-watch, the closest) rejects AWS's own documented `0/30 20-2 ? * MON-FRI *` (and any
 * wrapping numeric range, while it lets FRI-MON through), accepts `/` in day-of-week, `3#0` and
 * `0x1`, and words errors by its own field names ("daysOfWeek field"), so it would need a patch
 * and a rewrite of every message. aws-cron-parser 1.1.12 accepts 36 of the 57 invalid cases,
 * among them both day fields set, `15W,20`, `3#1,6#3` and `cron(...)` around the fields.
 */

/** One problem of a cron expression; `field` is 1-based, absent for the expression as a whole. */
export interface CronError {
  readonly field?: number;
  readonly fieldName?: string;
  /** What is wrong, continuing "field N (name) ...", e.g. "is 24; hours are 0-23". */
  readonly message: string;
}

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names for the values min.. in order (JAN = 1, SUN = 1). */
  readonly names?: readonly string[];
  readonly step: boolean;
  readonly wrap: boolean;
  readonly unit: string;
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"] as const;
const WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] as const;

const FIELDS: readonly FieldSpec[] = [
  { name: "minutes", min: 0, max: 59, step: true, wrap: true, unit: "minutes are 0-59" },
  { name: "hours", min: 0, max: 23, step: true, wrap: true, unit: "hours are 0-23" },
  { name: "day-of-month", min: 1, max: 31, step: true, wrap: true, unit: "days of the month are 1-31" },
  { name: "month", min: 1, max: 12, names: MONTHS, step: true, wrap: true, unit: "months are 1-12 or JAN-DEC" },
  {
    name: "day-of-week",
    min: 1,
    max: 7,
    names: WEEKDAYS,
    step: false,
    wrap: true,
    unit: "days of the week are 1-7 or SUN-SAT (1 = SUN)",
  },
  { name: "year", min: 1970, max: 2199, step: true, wrap: false, unit: "years are 1970-2199" },
];

const DAY_OF_MONTH = 2;
const DAY_OF_WEEK = 4;

/** The fields' names in order, for messages: minutes hours day-of-month month day-of-week year. */
export const CRON_FIELD_NAMES: readonly string[] = FIELDS.map((f) => f.name);

/** Reads one value (a number or, where the field has them, a name); a message when it is not one. */
function readValue(text: string, spec: FieldSpec): number | string {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n >= spec.min && n <= spec.max ? n : `is ${text}; ${spec.unit}`;
  }
  if (spec.names) {
    const upper = text.toUpperCase();
    const index = spec.names.indexOf(upper);
    if (index >= 0) return upper === text ? spec.min + index : `has "${text}"; write names in capitals (${upper})`;
  }
  return `has "${text}", which is not a value; ${spec.unit}`;
}

/** Checks one comma-separated item of a plain field: `*`, a value, a range, each with an optional step. */
function checkItem(item: string, spec: FieldSpec, alone: boolean): string | undefined {
  if (item === "") return "has an empty item between commas";
  const [base, step, ...more] = item.split("/");
  if (more.length > 0) return `has "${item}" with more than one "/"`;
  if (step !== undefined) {
    if (!spec.step) return `has "${item}"; the ${spec.name} field takes no "/" steps (AWS allows , - * ? L # there)`;
    if (!/^\d+$/.test(step) || Number(step) < 1)
      return `has step "${step}" in "${item}"; a step is a whole number from 1`;
    const span = spec.max - spec.min + 1;
    if (Number(step) >= span) return `has step ${step} in "${item}"; a step of ${span} or more selects only the start`;
  }
  if (base === "*") return alone ? undefined : `has "*" together with other values; use "*" alone`;
  if (base === undefined || base === "") return `has "${item}" without a start before "/"`;
  const range = base.split("-");
  if (range.length > 2) return `has "${base}" with more than one "-"`;
  const values: number[] = [];
  for (const part of range) {
    if (part === "") return `has "${base}", a range without both ends`;
    const value = readValue(part, spec);
    if (typeof value === "string") return value;
    values.push(value);
  }
  if (values.length === 2 && values[0]! > values[1]! && !spec.wrap) {
    return `has the range ${base}, which runs backwards; write the lower year first`;
  }
  return undefined;
}

/** The special forms of day-of-month (`L`, `LW`, `15W`), or undefined when the field has none. */
function checkDayOfMonthSpecial(text: string, spec: FieldSpec): string | undefined | null {
  if (text === "L" || text === "LW") return undefined;
  if (/^L-\d+$/.test(text))
    return `is ${text}; AWS documents no offset from the last day (Quartz's L-n): use L, LW or day numbers`;
  const weekday = /^(\d+)W$/.exec(text);
  if (weekday) {
    const n = Number(weekday[1]);
    return n >= 1 && n <= 31 ? undefined : `is ${text}; W needs a day of the month 1-31 before it, e.g. 15W`;
  }
  if (/[LW]/.test(text)) {
    if (text.includes(",") || text.includes("-") || text.includes("/")) {
      return `is ${text}; L, LW and nW stand alone in the day-of-month field (no lists, ranges or steps)`;
    }
    return `is ${text}; the day-of-month field takes L (last day), LW (last weekday) or nW (weekday nearest day n), e.g. 15W; ${spec.unit}`;
  }
  return null;
}

/** The special forms of day-of-week (`L`, `6L`, `2#3`), or null when the field has none. */
function checkDayOfWeekSpecial(text: string, spec: FieldSpec): string | undefined | null {
  if (!/[L#]/.test(text)) return null;
  if (text.includes(",") || text.includes("-") || text.includes("/")) {
    return text.includes("#")
      ? `is ${text}; with "#" the day-of-week field holds one expression only (AWS: "3#1,6#3" is invalid)`
      : `is ${text}; L and nL stand alone in the day-of-week field (no lists or ranges)`;
  }
  if (text === "L") return undefined;
  const last = /^(.+)L$/.exec(text);
  if (last) {
    const day = readValue(last[1]!, spec);
    return typeof day === "string"
      ? `is ${text}; nL needs a day of the week before L (1-7 or SUN-SAT), e.g. 6L`
      : undefined;
  }
  const nth = /^(.+)#(.*)$/.exec(text);
  if (nth) {
    const day = readValue(nth[1]!, spec);
    if (typeof day === "string") return `is ${text}; n#k needs a day of the week (1-7 or SUN-SAT) before "#", e.g. 2#3`;
    if (!/^[1-5]$/.test(nth[2]!)) return `is ${text}; the number after "#" is the week of the month, 1-5`;
    return undefined;
  }
  return `is ${text}; the day-of-week field takes L, nL (last day n of the month) or n#k (k-th day n), e.g. 6L or 2#3`;
}

function checkField(text: string, index: number): string | undefined {
  const spec = FIELDS[index]!;
  if (text === "?") {
    return index === DAY_OF_MONTH || index === DAY_OF_WEEK
      ? undefined
      : `is "?"; only day-of-month and day-of-week take "?"`;
  }
  if (index === DAY_OF_MONTH) {
    const special = checkDayOfMonthSpecial(text, spec);
    if (special !== null) return special;
  }
  if (index === DAY_OF_WEEK) {
    const special = checkDayOfWeekSpecial(text, spec);
    if (special !== null) return special;
  }
  const items = text.split(",");
  for (const item of items) {
    const problem = checkItem(item, spec, items.length === 1);
    if (problem) return problem;
  }
  return undefined;
}

/**
 * The problems of an EventBridge Scheduler cron expression written as its six fields, without
 * `cron(` `)` (e.g. "0 6 * * ? *"). Empty when AWS's documented syntax accepts it.
 */
export function schedulerCronErrors(expression: string): CronError[] {
  const trimmed = expression.trim();
  if (/^cron\s*\(/i.test(trimmed)) {
    return [
      {
        message: `is written with "cron(...)"; give only the six fields, e.g. "0 6 * * ? *" (the stack adds cron(...))`,
      },
    ];
  }
  const fields = trimmed === "" ? [] : trimmed.split(/\s+/);
  if (fields.length !== 6) {
    return [
      {
        message: `has ${fields.length} field${fields.length === 1 ? "" : "s"}; EventBridge Scheduler cron has six (${CRON_FIELD_NAMES.join(" ")}), e.g. "0 6 * * ? *" for 06:00 daily`,
      },
    ];
  }
  const errors: CronError[] = [];
  fields.forEach((text, index) => {
    const message = checkField(text, index);
    if (message) errors.push({ field: index + 1, fieldName: FIELDS[index]!.name, message });
  });
  const dom = fields[DAY_OF_MONTH]!;
  const dow = fields[DAY_OF_WEEK]!;
  if ((dom === "?") === (dow === "?")) {
    errors.push({
      message:
        dom === "?"
          ? `has "?" in both field 3 (day-of-month) and field 5 (day-of-week); exactly one of them is "?", e.g. "0 6 * * ? *" or "0 6 ? * MON *"`
          : `sets both field 3 (day-of-month) "${dom}" and field 5 (day-of-week) "${dow}"; exactly one of them must be "?", e.g. "0 6 * * ? *" or "0 6 ? * MON *"`,
    });
  }
  return errors;
}

/** A cron error as one sentence: `scheduleCron field 2 (hours) is 24; hours are 0-23`. */
export function formatCronError(error: CronError, label = "scheduleCron"): string {
  const where = error.field === undefined ? label : `${label} field ${error.field} (${error.fieldName})`;
  return `${where} ${error.message}`;
}
