/**
 * The backfill's progress bar (cli-progress), the same for a deployed and a local backfill.
 * On a terminal it redraws one line; elsewhere (a pipe, CI) it prints a line when the numbers
 * change, so logs stay readable.
 */
import { SingleBar } from "cli-progress";
import { describeProgress, formatDuration, formatWeight, type BackfillProgress } from "../backfill";

/** Shows progress snapshots until stop(). */
export interface ProgressView {
  update(progress: BackfillProgress): void;
  stop(): void;
}

/** The bar's line: what the issue asks to see, dates, requests, quota, ETA. */
const FORMAT =
  "{bar} {percentage}% | dates {value}/{total} done, {failed} failed, {waiting} waiting | requests {requests} | quota {quota} | ETA {eta}";

function payloadOf(p: BackfillProgress) {
  return {
    failed: p.failed,
    waiting: p.waiting,
    requests: `${p.requests}/${p.requestsTotal}`,
    quota: `${formatWeight(Math.round(p.weight))}/${formatWeight(Math.round(p.weightTotal))}`,
    eta: formatDuration(p.etaSeconds),
  };
}

/** A progress view on `stream`: a redrawn bar on a terminal, else one line per change. */
export function createProgressView(stream: NodeJS.WriteStream = process.stderr): ProgressView {
  if (!stream.isTTY) {
    let last = "";
    return {
      update: (p) => {
        const line = describeProgress(p);
        if (line !== last) stream.write(`${line}\n`);
        last = line;
      },
      stop: () => undefined,
    };
  }
  const bar = new SingleBar({ format: FORMAT, stream, hideCursor: true, barsize: 24, etaBuffer: 1 });
  let started = false;
  return {
    update: (p) => {
      if (!started) {
        bar.start(p.dates, p.done, payloadOf(p));
        started = true;
      }
      bar.setTotal(p.dates);
      bar.update(p.done, payloadOf(p));
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
