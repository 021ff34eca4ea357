/**
 * Sources in the Lambdas. A source is fetched by the ingest function and transformed by the
 * transform function, the two Open-Meteo already has, so it gets the same packaging, timeouts,
 * retries, alarms and dashboard: withSourceFetch and withSourceTransform put a source's handler
 * in front of Open-Meteo's, by the event. A source event names its source
 * (`{"source": "sample_stations"}`, then what the fetch returned); an Open-Meteo event never has
 * a `source`.
 */
import type { HttpSettings } from "../core/settings";
import type { ObjectStore } from "../core/storage";
import type { RetryTuning } from "../ingest";
import type { SourceDefinition } from "./definition";
import { SourceError } from "./errors";
import { fetchSource, type SourceFetchResult } from "./fetch";
import { isSourceBodyKey } from "./keys";
import { transformSource, type SourceTransformResult } from "./transform";

/** A Lambda handler: an event in, a JSON-able result out. */
export type Handler<R = unknown> = (event: unknown) => Promise<R>;

function describe(value: unknown): string {
  return JSON.stringify(value)?.slice(0, 200) ?? String(value);
}

/** Whether an event is a source's (it names a source). */
export function isSourceEvent(event: unknown): boolean {
  return event !== null && typeof event === "object" && !Array.isArray(event) && "source" in event;
}

function findSource(event: unknown, sources: readonly SourceDefinition[], what: string): SourceDefinition {
  const name = (event as { source?: unknown }).source;
  if (typeof name !== "string") {
    throw new SourceError(`the ${what} event's source is ${describe(name)}; it must be a source's name`, String(name));
  }
  const source = sources.find((s) => s.name === name);
  if (!source) {
    const known = sources.map((s) => s.name).join(", ") || "none";
    throw new SourceError(
      `the ${what} event names source ${JSON.stringify(name)}, which this stack does not configure (its sources: ${known}); ` +
        "redeploy after adding it to the stack's sources, or send the name of a configured one",
      name,
    );
  }
  return source;
}

/** Checks a source transform event: what the fetch returned (`source`, `key`, `sha256`). */
export function parseSourceTransformEvent(
  event: unknown,
  sources: readonly SourceDefinition[],
): { source: SourceDefinition; key: string; sha256: string } {
  const source = findSource(event, sources, "source transform");
  const { key, sha256 } = event as { key?: unknown; sha256?: unknown };
  if (typeof key !== "string" || !isSourceBodyKey(source.name, key)) {
    throw new SourceError(
      `the source transform event's key is ${describe(key)}; pass what the fetch of ${source.name} returned (key sources/${source.name}/files/<sha256>.<ext>)`,
      source.name,
    );
  }
  if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256)) {
    throw new SourceError(
      `the source transform event's sha256 is ${describe(sha256)}; pass what the fetch returned`,
      source.name,
    );
  }
  return { source, key, sha256 };
}

/** What fetching sources needs. */
export interface SourceFetchHandlerDeps {
  readonly sources: readonly SourceDefinition[];
  readonly http: Pick<HttpSettings, "timeoutMs" | "retries">;
  readonly rawStore: ObjectStore;
  readonly fetch?: typeof fetch;
  readonly retryTuning?: Partial<RetryTuning>;
  readonly now?: () => Date;
  readonly log?: (line: string) => void;
}

/** The fetch of one source by its event `{"source": "<name>"}`. */
export function createSourceFetchHandler(deps: SourceFetchHandlerDeps): Handler<SourceFetchResult> {
  return async (event: unknown) => {
    const source = findSource(event, deps.sources, "source fetch");
    return fetchSource({ ...deps, source });
  };
}

/** What transforming sources needs. */
export interface SourceTransformHandlerDeps {
  readonly sources: readonly SourceDefinition[];
  readonly rawStore: ObjectStore;
  readonly curatedStore: ObjectStore;
  readonly writtenBy?: string;
  readonly now?: () => Date;
  readonly log?: (line: string) => void;
}

/** The transform of one fetched version by its event (what the fetch returned). */
export function createSourceTransformHandler(deps: SourceTransformHandlerDeps): Handler<SourceTransformResult> {
  return async (event: unknown) => {
    const { source, key, sha256 } = parseSourceTransformEvent(event, deps.sources);
    return transformSource({ source: source.name, key, sha256 }, { ...deps, source });
  };
}

/** The ingest handler with sources: a source event is fetched, any other goes to Open-Meteo's handler. */
export function withSourceFetch(openMeteo: Handler, deps: SourceFetchHandlerDeps): Handler {
  const sources = createSourceFetchHandler(deps);
  return (event: unknown) => (isSourceEvent(event) ? sources(event) : openMeteo(event));
}

/** The transform handler with sources: a source event is transformed, any other goes to Open-Meteo's. */
export function withSourceTransform(openMeteo: Handler, deps: SourceTransformHandlerDeps): Handler {
  const sources = createSourceTransformHandler(deps);
  return (event: unknown) => (isSourceEvent(event) ? sources(event) : openMeteo(event));
}
