/**
 * The base of every error the Lambda code throws.
 */

/**
 * The error name of a failure a later attempt can get past (Open-Meteo overloaded, unreachable
 * or rate-limited per minute). Step Functions retries by error name, and retries this one.
 */
export const TRANSIENT_ERROR_NAME = "OpenMeteoUnavailableError";

/**
 * The error name of an hourly or daily 429: the limit resets at the next full hour or at 00:00
 * UTC, long after the state machine's retries, so it is caught, alerted and dead-lettered at
 * once (not retried); a redrive after the reset, or the next scheduled run's catch-up, does the date.
 */
export const RATE_LIMITED_ERROR_NAME = "OpenMeteoRateLimitedError";

/**
 * The error name of a configured source's fetch that a later attempt can get past (the
 * publisher overloaded or unreachable); Step Functions retries it like TRANSIENT_ERROR_NAME.
 */
export const SOURCE_UNAVAILABLE_ERROR_NAME = "SourceUnavailableError";

/**
 * An Error that survives Pulumi's closure serializer, which the Lambda code is shipped through.
 * The serializer (@pulumi/pulumi 3.x, runtime/closure/createClosure.js) breaks subclasses of
 * Error in two ways, each fixed here once for every error class:
 * - it turns `super(message)` into `Error.call(this, message)`, which sets nothing on `this`,
 *   so name, message and cause are assigned explicitly and the stack captured by hand;
 * - it drops a class's prototype when it holds only a constructor, so instances of such a
 *   subclass are neither `instanceof` their class nor of Error. The constructors still chain
 *   (it keeps `Object.setPrototypeOf(Child, Parent)`), so the prototypes are re-linked along it.
 * tests/errors.test.ts serializes every error class and checks both.
 */
export class PipelineError extends Error {
  constructor(name: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    relinkPrototypes(this);
    this.name = name;
    this.message = message;
    if (options && "cause" in options) this.cause = options.cause;
    Error.captureStackTrace(this, (Object.getPrototypeOf(this) as { constructor: new () => unknown }).constructor);
  }
}

/** Links each class's prototype to its parent class's, from the instance's class up to Error. */
function relinkPrototypes(instance: object): void {
  type Constructor = { prototype: object };
  // The serialized constructor runs through a wrapper, where new.target is undefined.
  let ctor = (Object.getPrototypeOf(instance) as { constructor: Constructor }).constructor;
  while ((ctor as unknown) !== Error) {
    const parent = Object.getPrototypeOf(ctor) as Constructor | null;
    if (!parent?.prototype) return;
    if (Object.getPrototypeOf(ctor.prototype) !== parent.prototype) {
      Object.setPrototypeOf(ctor.prototype, parent.prototype);
    }
    ctor = parent;
  }
}
