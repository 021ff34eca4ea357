/**
 * The errors of the applications capability.
 */
import { PipelineError } from "../core/errors";

/** A registry object, event or stored decision that is not what this code writes or AWS sends. */
export class ApplicationsError extends PipelineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ApplicationsError", message, options);
  }
}
