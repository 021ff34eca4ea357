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

/** Accepted and rejected rows listed in the message itself; the rest are in the JSON files. */
const LISTED_ROWS = 100;

/** SNS takes messages of up to 256 KiB; the message is cut well below, at a line. */
const MAX_MESSAGE_BYTES = 200_000;

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
    for (const row of result.accepted.slice(0, LISTED_ROWS)) {
      const history = row.startDate === undefined ? "" : `, history from ${row.startDate} queued`;
      lines.push(`  row ${row.row}: ${showValue(row.name)} (${row.latitude}, ${row.longitude}) as ${row.id}${history}`);
    }
    if (accepted > LISTED_ROWS) lines.push(`  … and ${accepted - LISTED_ROWS} more rows: see the accepted rows file`);
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
  let message = `${lines.join("\n")}\n`;
  if (Buffer.byteLength(message) > MAX_MESSAGE_BYTES) {
    const where = lines.filter((line) => /^(Reasons|Accepted rows|The file as received)/.test(line)).join("\n");
    const cut = message.slice(0, MAX_MESSAGE_BYTES - Buffer.byteLength(where) - 200);
    message = `${cut.slice(0, cut.lastIndexOf("\n"))}\n  … (cut to fit a notice: see the JSON files)\n\n${where}\n`;
  }
  return {
    subject,
    message,
    attributes: {
      processingId: result.processingId ?? "",
      accepted: String(accepted),
      rejected: String(result.rejected.length),
    },
  };
}
