/**
 * Why a file or a row was rejected, said so that the person who wrote it can fix it: where
 * (the row), what (the field and the value as given), the problem, and the fix.
 */

/** What a reason is about: the whole file, its header, a row as a whole, or one field. */
export type ReasonField = "file" | "header" | "row" | "name" | "latitude" | "longitude" | "start_date";

/** One reason a file or a row was rejected. */
export interface Reason {
  readonly field: ReasonField;
  /** The value as given, shown safely (see showValue); absent where there is none. */
  readonly value?: string;
  /** What is wrong, e.g. "it must be between -90 and 90". */
  readonly problem: string;
  /** What to do about it. */
  readonly fix: string;
}

/** Longest value shown in a reason; longer ones are cut with "…". */
const SHOWN_CHARACTERS = 80;

/**
 * A value as reasons show it: JSON text (strings quoted), cut to 80 characters, with every
 * control, format (e.g. the right-to-left override U+202E) and separator character written as
 * `\uXXXX`, so no value can reorder, hide or forge the text around it in a mail or terminal.
 */
export function showValue(value: unknown): string {
  let text: string;
  if (typeof value === "string")
    text = JSON.stringify(value.length > SHOWN_CHARACTERS ? `${value.slice(0, SHOWN_CHARACTERS)}…` : value);
  else if (typeof value === "number") text = Number.isFinite(value) ? String(value) : String(value);
  else if (value === undefined) text = "missing";
  else {
    text = JSON.stringify(value) ?? typeof value;
    if (text.length > SHOWN_CHARACTERS + 2) text = `${text.slice(0, SHOWN_CHARACTERS)}…`;
  }
  return text.replace(
    /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u{7f}-\u{9f}]/gu,
    (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, "0")}`,
  );
}

/**
 * A reason as one line, e.g. `row 3: latitude is "123.4"; it must be between -90 and 90; fix:
 * write the latitude in decimal degrees`.
 */
export function formatReason(reason: Reason, row?: number): string {
  const where = row === undefined ? "" : `row ${row}: `;
  const value = reason.value === undefined ? "" : reason.value;
  let what: string;
  switch (reason.field) {
    case "file":
      what = value === "" ? reason.problem : `${reason.problem} (${value})`;
      break;
    case "header":
      what = `header ${value}: ${reason.problem}`;
      break;
    case "row":
      what = reason.problem;
      break;
    default:
      what = `${reason.field} is ${value === "" ? "missing" : value}; ${reason.problem}`;
  }
  return `${where}${what}; fix: ${reason.fix}`;
}
