/**
 * The notice of one processed file: what an SNS subscriber (the submitter's team) reads.
 * Plain text, the counts first, every rejected row with its reasons (the first 100 of them;
 * the rest are in the reasons file), and where the reasons and the archived source are.
 */
import { formatReason, showValue } from "./reasons";
import type { ProcessingResult } from "./process";

/** One message to publish. */
export interface Notice {
  /** At most 100 characters (SNS's limit for mail subjects), ASCII. */
  readonly subject: string;
  readonly message: string;
  /** Message attributes: the processing id lets a subscriber drop a repeated notice. */
  readonly attributes: Readonly<Record<string, string>>;
}

/** Rejected rows listed in the message itself. */
const LISTED_ROWS = 100;

/** The notice of a processed file, with keys shown under `location` (e.g. s3://bucket). */
export function noticeOf(result: ProcessingResult, location: string): Notice {
  const file = result.key.split("/").pop() ?? result.key;
  const ascii = file.replace(/[^\x20-\x7e]/g, "_");
  const accepted = result.accepted.length;
  const rejected = result.fileProblems.length > 0 ? "the whole file" : String(result.rejected.length);
  const subject = `Applications ${ascii}: accepted ${accepted}, rejected ${rejected}`.slice(0, 100);
  const lines = [
    `File ${location}/${result.key} (ETag ${result.etag ?? "?"}, processing id ${result.processingId ?? "?"}).`,
    `Accepted ${accepted}, rejected ${rejected}.`,
  ];
  if (result.fileProblems.length > 0) {
    lines.push("", "The file was rejected as a whole:");
    for (const reason of result.fileProblems) lines.push(`  ${formatReason(reason)}`);
  }
  if (accepted > 0) {
    lines.push("", "Accepted (fetched daily from the next run on):");
    for (const row of result.accepted) {
      const history = row.startDate === undefined ? "" : `, history from ${row.startDate} queued`;
      lines.push(`  row ${row.row}: ${showValue(row.name)} (${row.latitude}, ${row.longitude}) as ${row.id}${history}`);
    }
  }
  if (result.rejected.length > 0) {
    lines.push("", "Rejected:");
    for (const row of result.rejected.slice(0, LISTED_ROWS)) {
      for (const reason of row.reasons) lines.push(`  ${formatReason(reason, row.row)}`);
    }
    if (result.rejected.length > LISTED_ROWS)
      lines.push(`  … and ${result.rejected.length - LISTED_ROWS} more rows: see the reasons file`);
  }
  lines.push("");
  if (result.outputs?.reasons) lines.push(`Reasons, as JSON: ${location}/${result.outputs.reasons}`);
  if (result.outputs?.accepted) lines.push(`Accepted rows, as JSON: ${location}/${result.outputs.accepted}`);
  if (result.outputs?.archive) lines.push(`The file as received: ${location}/${result.outputs.archive}`);
  lines.push("To apply again, fix the rejected rows and upload them in a new file.");
  return {
    subject,
    message: `${lines.join("\n")}\n`,
    attributes: {
      processingId: result.processingId ?? "",
      accepted: String(accepted),
      rejected: String(result.rejected.length),
    },
  };
}
