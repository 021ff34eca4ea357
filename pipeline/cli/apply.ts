/**
 * `npm run pipeline -- apply <file>...`: the drop zone on this machine. Each file is put into
 * applications/incoming/ of the local applications bucket (s3rver under <data-dir>/s3, as
 * `npm start` uses) and its "Object Created" event handed to the same processing the Lambda
 * runs; each row's decision is printed. The next `npm start` fetches the accepted locations, and
 * the history of those accepted with a start_date is fetched at once (as the backfill EventBridge
 * starts on AWS), unless --no-history.
 */
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import {
  backfillRequestKey,
  INCOMING_PREFIX,
  formatReason,
  objectBackfillQueue,
  objectCreatedEvent,
  processApplicationEvent,
  showValue,
  type ApplicationLimits,
  type Notice,
  type ProcessingResult,
  type Reason,
} from "../applications";
import type { PipelineSettings } from "../core/settings";
import { bareEtag, S3ObjectStore } from "../core/storage";
import { LOCAL_BUCKETS } from "../local/local-buckets";
import { startLocalS3 } from "../local/s3-server";
import { runLocalHistory } from "./backfill";

/** One row's decision, as `--json` prints it. */
export interface AppliedRow {
  readonly file: string;
  /** The row (CSV: its line, the header being 1; JSON: its position from 1); null for the whole file. */
  readonly row: number | null;
  readonly name: string | null;
  readonly decision: "accepted" | "rejected";
  readonly id?: string;
  readonly reasons?: readonly (Reason & { readonly message: string })[];
}

/** Options of a local apply. */
export interface ApplyOptions {
  readonly files: readonly string[];
  readonly settings: PipelineSettings;
  readonly limits: ApplicationLimits;
  readonly dataDir: string;
  /** Where the human-readable lines go (not used for --json). */
  readonly print: (line: string) => void;
  /**
   * Fetch the history of locations accepted with a start_date right away, as the backfill
   * EventBridge starts on AWS (runLocalHistory), under this daily budget; absent: only queued.
   */
  readonly history?: { readonly maxWeightPerDay: number };
}

/** The rows of one processed file, in row order, a whole-file rejection as one row. */
export function appliedRows(file: string, result: ProcessingResult): AppliedRow[] {
  const withMessages = (reasons: readonly Reason[], row?: number) =>
    reasons.map((r) => ({ ...r, message: formatReason(r, row) }));
  if (result.fileProblems.length > 0) {
    return [{ file, row: null, name: null, decision: "rejected", reasons: withMessages(result.fileProblems) }];
  }
  const rows: AppliedRow[] = [
    ...result.accepted.map((r): AppliedRow => ({ file, row: r.row, name: r.name, decision: "accepted", id: r.id })),
    ...result.rejected.map((r): AppliedRow => ({
      file,
      row: r.row,
      name: r.name ?? null,
      decision: "rejected",
      reasons: withMessages(r.reasons, r.row),
    })),
  ];
  return rows.sort((a, b) => (a.row ?? 0) - (b.row ?? 0));
}

/** Puts each file into the local drop zone, processes it, and returns every row's decision. */
export async function applyLocalFiles(options: ApplyOptions): Promise<AppliedRow[]> {
  const s3 = await startLocalS3({
    directory: path.join(options.dataDir, "s3"),
    buckets: [LOCAL_BUCKETS.raw, LOCAL_BUCKETS.curated, LOCAL_BUCKETS.applications],
  });
  const client = s3.client();
  const store = new S3ObjectStore(client, LOCAL_BUCKETS.applications);
  const rows: AppliedRow[] = [];
  const requests: string[] = [];
  try {
    for (const file of options.files) {
      const body = await readFile(file);
      const key = `${INCOMING_PREFIX}${path.basename(file)}`;
      await store.putObject(key, body, { contentType: "application/octet-stream" });
      const head = await store.headObject(key);
      if (!head) throw new Error(`${store.description}/${key} was not stored`);
      const notices: Notice[] = [];
      const result = await processApplicationEvent(
        objectCreatedEvent({ bucket: LOCAL_BUCKETS.applications, key, etag: bareEtag(head.etag), size: head.size }),
        {
          store,
          bucket: LOCAL_BUCKETS.applications,
          settings: options.settings,
          limits: options.limits,
          backfill: objectBackfillQueue(store),
          notify: (notice) => {
            notices.push(notice);
            return Promise.resolve();
          },
          log: () => undefined,
        },
      );
      requests.push(...result.backfills.map((b) => backfillRequestKey(b.locationId)));
      const fileRows = appliedRows(file, result);
      rows.push(...fileRows);
      for (const row of fileRows) {
        const where = row.row === null ? `${file}` : `${file} row ${row.row} ${showValue(row.name ?? "")}`;
        if (row.decision === "accepted") {
          const backfill = result.backfills.find((b) => b.locationId === row.id);
          options.print(`${where}: accepted as ${row.id}${backfill ? ` (history from ${backfill.from} queued)` : ""}`);
        } else {
          for (const reason of row.reasons ?? []) options.print(`${where}: rejected: ${formatReason(reason)}`);
        }
      }
      const outputs = result.outputs;
      if (outputs?.reasons) options.print(`  reasons: s3://${LOCAL_BUCKETS.applications}/${outputs.reasons}`);
      if (outputs) options.print(`  archived: s3://${LOCAL_BUCKETS.applications}/${outputs.archive}`);
      for (const notice of notices) options.print(`  notice: ${notice.subject}`);
    }
  } finally {
    client.destroy();
    await s3.close();
  }
  if (options.history && requests.length > 0) {
    await runLocalHistory({
      settings: options.settings,
      maxWeightPerDay: options.history.maxWeightPerDay,
      dataDir: options.dataDir,
      requests: [...new Set(requests)],
      print: options.print,
    });
  }
  return rows;
}
