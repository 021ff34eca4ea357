/**
 * The decision on one uploaded file: its kind and size, then parsing (parse.ts), then each
 * row's rules (rules.ts). A problem of the file as a whole rejects it whole.
 */
import { formatOfKey, type ApplicationFormat } from "./keys";
import { parseApplicationFile } from "./parse";
import type { Reason } from "./reasons";
import { decideRows, type DecisionContext, type RowDecisions } from "./rules";

/** What was decided for a file. */
export interface FileDecision extends RowDecisions {
  /** Undefined when the key names no known format. */
  readonly format?: ApplicationFormat;
  /** Reasons the whole file is rejected; then there are no rows. */
  readonly fileProblems: readonly Reason[];
}

/** An uploaded file as the decision sees it; `body` is absent when the file is too large to read. */
export interface UploadedFile {
  readonly key: string;
  readonly size: number;
  readonly body?: Uint8Array;
}

/** Decides a file (see the module comment). */
export function decideFile(file: UploadedFile, ctx: DecisionContext): FileDecision {
  const none = { accepted: [], rejected: [] };
  const format = formatOfKey(file.key);
  if (format === undefined) {
    return {
      ...none,
      fileProblems: [
        {
          field: "file",
          value: JSON.stringify(file.key.split("/").pop() ?? file.key),
          problem: "the file's name ends neither in .csv nor in .json",
          fix: "name a CSV file <something>.csv and a JSON file <something>.json",
        },
      ],
    };
  }
  const max = ctx.limits.maxBytes;
  if (file.size > max || file.body === undefined || file.body.byteLength > max) {
    return {
      ...none,
      format,
      fileProblems: [
        {
          field: "file",
          value: `${file.size.toLocaleString("en-US")} bytes`,
          problem: `the file is larger than applicationMaxBytes (${max.toLocaleString("en-US")} bytes)`,
          fix: "split it into smaller files",
        },
      ],
    };
  }
  const parsed = parseApplicationFile(file.body, format);
  if (!parsed.ok) return { ...none, format, fileProblems: parsed.problems };
  return { ...decideRows(parsed.rows, ctx), format, fileProblems: [] };
}
