/**
 * Where a source's objects live. Raw (beside Open-Meteo's `open-meteo/` prefix):
 *
 *   sources/<name>/state.json                 the last 200's validators (ETag, Last-Modified) and body
 *   sources/<name>/files/<sha256>.<ext>       each version of the file, unchanged
 *   sources/<name>/files/<sha256>.headers.json  the response headers it came with
 *   sources/<name>/files/<sha256>.rejects.jsonl rows of that version that failed conversion
 *   sources/<name>/transformed.json           which version the curated table holds
 *
 * Curated: `source_<name>/date=YYYY-MM-DD/source_<name>_<date>.parquet`, one file per date in the
 * source's time zone. A body's key is its content's hash: the same bytes always land on the
 * same key, so a retried fetch overwrites instead of adding a copy.
 */
import { assertIsoDate } from "../core/keys";
import { sourceTable, type SourceDefinition, type SourceFormat } from "./definition";

/** Prefix of every raw object of every source. */
export const SOURCES_RAW_PREFIX = "sources/";

const SHA256 = /^[0-9a-f]{64}$/;

const EXTENSION: Readonly<Record<SourceFormat, string>> = { csv: "csv", json: "json", jsonl: "jsonl" };

/** Prefix of a source's raw objects. */
export function sourceRawPrefix(name: string): string {
  return `${SOURCES_RAW_PREFIX}${name}/`;
}

/** The fetch state of a source (validators of the last stored version). */
export function sourceStateKey(name: string): string {
  return `${sourceRawPrefix(name)}state.json`;
}

/** What the last successful transform of a source read. */
export function sourceTransformedKey(name: string): string {
  return `${sourceRawPrefix(name)}transformed.json`;
}

function assertSha256(sha256: string): void {
  if (!SHA256.test(sha256)) throw new Error(`${JSON.stringify(sha256)} is not a SHA-256 in lower-case hex`);
}

/** Key of one stored version of a source's file. */
export function sourceBodyKey(source: Pick<SourceDefinition, "name" | "format">, sha256: string): string {
  assertSha256(sha256);
  return `${sourceRawPrefix(source.name)}files/${sha256}.${EXTENSION[source.format]}`;
}

/** The response headers stored beside a body. */
export function sourceHeadersKey(bodyKey: string): string {
  return `${withoutExtension(bodyKey)}.headers.json`;
}

/** The rejects of a body's transform. */
export function sourceRejectsKey(bodyKey: string): string {
  return `${withoutExtension(bodyKey)}.rejects.jsonl`;
}

function withoutExtension(bodyKey: string): string {
  const match = /^(sources\/[a-z][a-z0-9_]*\/files\/[0-9a-f]{64})\.(csv|json|jsonl)$/.exec(bodyKey);
  if (!match) throw new Error(`${bodyKey} is not a source body key (sources/<name>/files/<sha256>.<csv|json|jsonl>)`);
  return match[1] as string;
}

/** Whether a key is a body of the named source (not its state, headers or rejects). */
export function isSourceBodyKey(name: string, key: string): boolean {
  return new RegExp(`^sources/${name}/files/[0-9a-f]{64}\\.(csv|json|jsonl)$`).test(key);
}

/** Prefix of a source's date partition in the curated bucket. */
export function sourcePartitionPrefix(name: string, date: string): string {
  assertIsoDate(date);
  return `${sourceTable(name)}/date=${date}/`;
}

/** Key of the one Parquet file of a source and date. */
export function sourceCuratedKey(name: string, date: string): string {
  return `${sourcePartitionPrefix(name, date)}${sourceTable(name)}_${date}.parquet`;
}
