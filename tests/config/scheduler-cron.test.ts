import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import { parse as parseYaml } from "yaml";
import { formatCronError, schedulerCronErrors } from "../../pipeline/config/scheduler-cron";

const ROOT = path.join(__dirname, "..", "..");

const messages = (expression: string) => schedulerCronErrors(expression).map((e) => formatCronError(e));

/** Expressions AWS's documentation gives, each with where it comes from. */
const AWS_EXAMPLES: [string, string][] = [
  // EventBridge "Cron expressions reference", Examples table (EventBridge Scheduler takes the same syntax).
  ["0 10 * * ? *", "10:00 every day"],
  ["15 12 * * ? *", "12:15 every day"],
  ["0 18 ? * MON-FRI *", "18:00 Monday through Friday"],
  ["0 8 1 * ? *", "08:00 on the 1st of each month"],
  ["0/15 * * * ? *", "every 15 minutes"],
  ["0/10 * ? * MON-FRI *", "every 10 minutes Monday through Friday"],
  ["0/5 8-17 ? * MON-FRI *", "every 5 minutes 08:00-17:55 Monday through Friday"],
  ["0/30 20-2 ? * MON-FRI *", "every 30 minutes 20:00-02:59: a range that wraps around midnight"],
  // The same guide's put-rule examples.
  ["0 12 * * ? *", "12:00 every day"],
  ["5,35 14 * * ? *", "14:05 and 14:35 every day"],
  ["15 10 ? * 6L 2019-2022", "10:15 on the last Friday of each month, 2019-2022"],
  // The wildcard descriptions, each put into a whole expression.
  ["0 0 1 JAN,FEB,MAR ? *", "comma: JAN,FEB,MAR"],
  ["0 0 1-15 * ? *", "dash: days 1 through 15"],
  ["0 * * * ? *", "asterisk: every hour"],
  ["1/10 * * * ? *", "slash: every tenth minute from minute 1"],
  ["0 0 7 * ? *", "question mark: day 7, any day of the week"],
  ["0 0 L * ? *", "L: last day of the month"],
  ["0 0 ? * L *", "L: last day of the week"],
  ["0 0 3W * ? *", "W: weekday closest to the 3rd"],
  ["0 0 ? * 3#2 *", "#: the second Tuesday of the month"],
];

const VALID: [string, string][] = [
  ["0 6 * * ? *", "the project's default: 06:00 daily"],
  ["30 6 * * ? *", "staging"],
  ["0 0 LW * ? *", "last weekday of the month (L and W together, Quartz)"],
  ["0 9 ? * 2#1 *", "first Monday"],
  ["0 9 ? * MON#1 *", "a name before #"],
  ["0 1 ? * FRI-MON *", "a weekday range that wraps, read like 20-2"],
  ["0 0 ? * 7L *", "last Saturday"],
  ["0 0 29 FEB ? *", "a leap day"],
  ["*/5 * * * ? *", "a step from *"],
  ["10-40/5 * * * ? *", "a step over a range"],
  ["0 0 1 */3 ? *", "every third month"],
  ["0 0 1 1 ? 2030/2", "a year step"],
  ["0 0 1 1 ? 2025-2030", "a year range"],
  ["0 0 1 1 ? 1970,2199", "the ends of the year range"],
  ["59 23 31 DEC ? 2199", "the last minute AWS can name"],
  ["00 06 * * ? *", "leading zeros"],
  ["0 0 ? * SUN-SAT *", "the whole week by name"],
  ["0 0 ? * 1-7 *", "the whole week by number"],
  ["0,15,30,45 * * * ? *", "a list"],
  ["0 22-2 * * ? *", "an hour range across midnight"],
  [" 0  6 * *\t? * ", "any white space between fields"],
];

/** [expression, every message expected, what it shows]. */
const INVALID: [string, string[], string][] = [
  ["0 24 * * ? *", ["scheduleCron field 2 (hours) is 24; hours are 0-23"], "hour out of range"],
  ["60 * * * ? *", ["scheduleCron field 1 (minutes) is 60; minutes are 0-59"], "minute out of range"],
  ["0 0 0 * ? *", ["scheduleCron field 3 (day-of-month) is 0; days of the month are 1-31"], "day 0"],
  ["0 0 32 * ? *", ["scheduleCron field 3 (day-of-month) is 32; days of the month are 1-31"], "day 32"],
  ["0 0 1 13 ? *", ["scheduleCron field 4 (month) is 13; months are 1-12 or JAN-DEC"], "month 13"],
  ["0 0 1 0 ? *", ["scheduleCron field 4 (month) is 0; months are 1-12 or JAN-DEC"], "month 0"],
  [
    "0 0 ? * 0 *",
    ["scheduleCron field 5 (day-of-week) is 0; days of the week are 1-7 or SUN-SAT (1 = SUN)"],
    "Unix's Sunday 0",
  ],
  [
    "0 0 ? * 8 *",
    ["scheduleCron field 5 (day-of-week) is 8; days of the week are 1-7 or SUN-SAT (1 = SUN)"],
    "weekday 8",
  ],
  ["0 0 1 1 ? 1969", ["scheduleCron field 6 (year) is 1969; years are 1970-2199"], "year before 1970"],
  ["0 0 1 1 ? 2200", ["scheduleCron field 6 (year) is 2200; years are 1970-2199"], "year after 2199"],
  [
    "0 6 * * * *",
    [
      'scheduleCron sets both field 3 (day-of-month) "*" and field 5 (day-of-week) "*"; exactly one of them must be "?", e.g. "0 6 * * ? *" or "0 6 ? * MON *"',
    ],
    "* in both day fields",
  ],
  [
    "0 6 ? * ? *",
    [
      'scheduleCron has "?" in both field 3 (day-of-month) and field 5 (day-of-week); exactly one of them is "?", e.g. "0 6 * * ? *" or "0 6 ? * MON *"',
    ],
    "? in both day fields",
  ],
  [
    "0 6 1 * MON *",
    ['scheduleCron sets both field 3 (day-of-month) "1" and field 5 (day-of-week) "MON"'],
    "both days set",
  ],
  [
    "0 6 * * *",
    [
      'scheduleCron has 5 fields; EventBridge Scheduler cron has six (minutes hours day-of-month month day-of-week year), e.g. "0 6 * * ? *" for 06:00 daily',
    ],
    "Unix cron's five fields",
  ],
  ["0 0 6 * * ? *", ["scheduleCron has 7 fields;"], "Quartz's seconds field"],
  ["", ["scheduleCron has 0 fields;"], "empty"],
  ["cron(0 6 * * ? *)", ['scheduleCron is written with "cron(...)"; give only the six fields'], "the cron( ) wrapper"],
  [
    "? 0 * * ? *",
    ['scheduleCron field 1 (minutes) is "?"; only day-of-month and day-of-week take "?"'],
    "? in minutes",
  ],
  ["0 0 ? ? ? *", ['scheduleCron field 4 (month) is "?"', 'scheduleCron has "?" in both'], "? in month"],
  [
    "0 0 ? * */2 *",
    ['scheduleCron field 5 (day-of-week) has "*/2"; the day-of-week field takes no "/" steps'],
    "/ in day-of-week",
  ],
  [
    "0 0 ? * 1-7/2 *",
    ['field 5 (day-of-week) has "1-7/2"; the day-of-week field takes no "/" steps'],
    "/ in day-of-week",
  ],
  [
    "0 0 ? * 3#1,6#3 *",
    [
      'scheduleCron field 5 (day-of-week) is 3#1,6#3; with "#" the day-of-week field holds one expression only (AWS: "3#1,6#3" is invalid)',
    ],
    "AWS's own invalid # example",
  ],
  ["0 0 ? * 3#6 *", ['field 5 (day-of-week) is 3#6; the number after "#" is the week of the month, 1-5'], "#6"],
  ["0 0 ? * 3#0 *", ['the number after "#" is the week of the month, 1-5'], "#0"],
  [
    "0 0 ? * 8#1 *",
    ['field 5 (day-of-week) is 8#1; n#k needs a day of the week (1-7 or SUN-SAT) before "#"'],
    "day 8 before #",
  ],
  ["0 0 ? * #2 *", ["field 5 (day-of-week) is #2;"], "# without a day"],
  ["0 0 ? * 8L *", ["field 5 (day-of-week) is 8L; nL needs a day of the week before L"], "8L"],
  ["0 0 ? * 6L,2 *", ["field 5 (day-of-week) is 6L,2; L and nL stand alone"], "L in a list"],
  ["0 0 15W,20 * ? *", ["field 3 (day-of-month) is 15W,20; L, LW and nW stand alone"], "W in a list"],
  ["0 0 1-15W * ? *", ["field 3 (day-of-month) is 1-15W; L, LW and nW stand alone"], "W in a range"],
  ["0 0 32W * ? *", ["field 3 (day-of-month) is 32W; W needs a day of the month 1-31 before it"], "32W"],
  ["0 0 W * ? *", ["field 3 (day-of-month) is W; the day-of-month field takes L (last day), LW"], "W alone"],
  ["0 0 5L * ? *", ["field 3 (day-of-month) is 5L;"], "nL belongs to day-of-week"],
  ["0 0 L-2 * ? *", ["field 3 (day-of-month) is L-2; AWS documents no offset from the last day"], "Quartz's L-n"],
  ["L 0 * * ? *", ['field 1 (minutes) has "L", which is not a value; minutes are 0-59'], "L in minutes"],
  ["0 0 ? * 2#1 W", ['field 6 (year) has "W", which is not a value'], "W in year"],
  [
    "0 0 1 JAN-XYZ ? *",
    ['field 4 (month) has "XYZ", which is not a value; months are 1-12 or JAN-DEC'],
    "unknown month name",
  ],
  ["0 0 1 jan ? *", ['field 4 (month) has "jan"; write names in capitals (JAN)'], "lower-case name"],
  ["0 0 ? * mon-fri *", ['field 5 (day-of-week) has "mon"; write names in capitals (MON)'], "lower-case names"],
  ["0 0 ? * MONDAY *", ['field 5 (day-of-week) has "MONDAY", which is not a value'], "a full day name"],
  ["0/0 * * * ? *", ['field 1 (minutes) has step "0" in "0/0"; a step is a whole number from 1'], "step 0"],
  [
    "0/60 * * * ? *",
    ['field 1 (minutes) has step 60 in "0/60"; a step of 60 or more selects only the start'],
    "step as big as the field",
  ],
  ["0 0/24 * * ? *", ['field 2 (hours) has step 24 in "0/24"'], "hour step 24"],
  ["0/x * * * ? *", ['field 1 (minutes) has step "x" in "0/x"'], "a step that is not a number"],
  ["0/5/5 * * * ? *", ['field 1 (minutes) has "0/5/5" with more than one "/"'], "two slashes"],
  ["/5 * * * ? *", ['field 1 (minutes) has "/5" without a start before "/"'], "a step without a start"],
  [
    "0 0 ? * MON-FRI 2030-2025",
    ["field 6 (year) has the range 2030-2025, which runs backwards; write the lower year first"],
    "years backwards",
  ],
  ["0 0 1,,2 * ? *", ["field 3 (day-of-month) has an empty item between commas"], "empty list item"],
  ["0 0 1, * ? *", ["field 3 (day-of-month) has an empty item between commas"], "trailing comma"],
  ["0 0 1- * ? *", ['field 3 (day-of-month) has "1-", a range without both ends'], "open range"],
  ["0 0 1-2-3 * ? *", ['field 3 (day-of-month) has "1-2-3" with more than one "-"'], "two dashes"],
  ["*,5 6 * * ? *", ['field 1 (minutes) has "*" together with other values; use "*" alone'], "* in a list"],
  ["0x1 6 * * ? *", ['field 1 (minutes) has "0x1", which is not a value'], "a hexadecimal number"],
  ["1.5 6 * * ? *", ['field 1 (minutes) has "1.5", which is not a value'], "a decimal"],
  ["-1 6 * * ? *", ['field 1 (minutes) has "-1", a range without both ends'], "a negative number"],
  [
    "60 24 32 13 ? 1969",
    [
      "scheduleCron field 1 (minutes) is 60; minutes are 0-59",
      "scheduleCron field 2 (hours) is 24; hours are 0-23",
      "scheduleCron field 3 (day-of-month) is 32; days of the month are 1-31",
      "scheduleCron field 4 (month) is 13; months are 1-12 or JAN-DEC",
      "scheduleCron field 6 (year) is 1969; years are 1970-2199",
    ],
    "every bad field, each named",
  ],
];

describe("EventBridge Scheduler cron expressions", () => {
  describe("accepts every example of AWS's documentation", () => {
    for (const [expression, meaning] of AWS_EXAMPLES) {
      it(`${expression}  (${meaning})`, () => expect(messages(expression)).to.deep.equal([]));
    }
  });

  describe("accepts", () => {
    for (const [expression, meaning] of VALID) {
      it(`${JSON.stringify(expression)}  (${meaning})`, () => expect(messages(expression)).to.deep.equal([]));
    }
  });

  describe("rejects, naming the field", () => {
    for (const [expression, expected, what] of INVALID) {
      it(`${JSON.stringify(expression)}  (${what})`, () => {
        const got = messages(expression);
        expect(got, JSON.stringify(got)).to.have.length.at.least(1);
        // Each expected text is (part of) one of the messages; a list of several is the whole set.
        for (const text of expected) {
          expect(
            got.some((m) => m.includes(text)),
            `${JSON.stringify(text)} in ${JSON.stringify(got)}`,
          ).to.equal(true);
        }
        if (expected.length > 1) expect(got).to.have.length(expected.length);
      });
    }
  });

  it("accepts the cron of every stack file and of Pulumi.yaml's default", () => {
    const crons: string[] = [];
    for (const file of readdirSync(ROOT).filter((f) => /^Pulumi\..+\.yaml$/.test(f))) {
      const config = (parseYaml(readFileSync(path.join(ROOT, file), "utf8")) as { config: Record<string, unknown> })
        .config;
      const cron = config["weather-pipeline:scheduleCron"];
      if (typeof cron === "string") crons.push(cron);
    }
    const project = parseYaml(readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as {
      config: Record<string, { default?: unknown }>;
    };
    crons.push(project.config["weather-pipeline:scheduleCron"]!.default as string);
    expect(crons.length).to.be.at.least(3);
    for (const cron of crons) expect(messages(cron), cron).to.deep.equal([]);
  });

  it("returns structured errors: 1-based field number and AWS's field name", () => {
    expect(schedulerCronErrors("0 24 * * ? *")).to.deep.equal([
      { field: 2, fieldName: "hours", message: "is 24; hours are 0-23" },
    ]);
    expect(formatCronError({ field: 2, fieldName: "hours", message: "is 24; hours are 0-23" }, "cron")).to.equal(
      "cron field 2 (hours) is 24; hours are 0-23",
    );
    expect(schedulerCronErrors("0 6 * *")[0]).to.not.have.property("field");
  });
});
