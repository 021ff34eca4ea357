/**
 * Why a source's fetch or transform failed. Step Functions retries by name: only
 * SourceUnavailableError (the publisher down or unreachable) is retried; a wrong file or
 * mapping fails at once, alerts and is dead-lettered, and its raw object stays for a re-run.
 */
import { PipelineError, SOURCE_UNAVAILABLE_ERROR_NAME } from "../core/errors";

/** A source failed for a reason a retry cannot fix (a 4xx, a file too big, bad rows, a wrong event). */
export class SourceError extends PipelineError {
  constructor(
    message: string,
    /** The source's name. */
    readonly source: string,
    options?: { cause?: unknown; name?: string },
  ) {
    super(options?.name ?? "SourceError", message, options);
  }
}

/** The publisher could not be reached or answered 5xx/429 through every retry; a later run can succeed. */
export class SourceUnavailableError extends SourceError {
  constructor(message: string, source: string, options?: { cause?: unknown }) {
    super(message, source, { ...options, name: SOURCE_UNAVAILABLE_ERROR_NAME });
  }
}

/** The file no longer holds a declared column: the publisher changed it, the mapping must follow. */
export class SourceDriftError extends SourceError {
  constructor(message: string, source: string) {
    super(message, source, { name: "SourceDriftError" });
  }
}

/** More rows failed conversion than the source's maxRejectedFraction allows. */
export class SourceRejectsError extends SourceError {
  constructor(
    message: string,
    source: string,
    /** Where the rejected rows are listed. */
    readonly rejectsKey: string,
  ) {
    super(message, source, { name: "SourceRejectsError" });
  }
}
