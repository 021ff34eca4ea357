/**
 * A stack file (`Pulumi.<stack>.yaml`) read as the Pulumi CLI reads it, with the mistakes the CLI
 * lets through turned into errors. The CLI (sdk/go/common/workspace/loaders.go,
 * LoadProjectStackBytes) decodes the file without strict field checks, so a `configs:` block or
 * a key written beside `config:` instead of under it is dropped without a word; it gives an
 * un-namespaced key under `config:` the project's namespace; and it passes every key of every
 * namespace to the program, so a block under a misspelt namespace reaches the program but no one
 * reads it. Each of those would deploy the defaults in place of what the file says.
 */
import { distance } from "fastest-levenshtein";
import { parseDocument } from "yaml";
import { PipelineError } from "../core/errors";

/** Thrown for invalid configuration; the message lists every problem and names the file. */
export class ConfigError extends PipelineError {
  constructor(message: string) {
    super("ConfigError", message);
  }
}

/** The top-level keys of a stack file the Pulumi CLI reads (workspace.ProjectStack). */
export const STACK_FILE_KEYS = ["config", "environment", "secretsprovider", "encryptedkey", "encryptionsalt"] as const;

/**
 * Config namespaces other than the project's that a stack of this program may set: those of the
 * provider packages it uses (`aws:region`, awsx's) and Pulumi's own (`pulumi:tags`, ...). A test
 * keeps them in step with the `@pulumi/*` packages in package.json.
 */
export const KNOWN_CONFIG_NAMESPACES = ["aws", "awsx", "pulumi"] as const;

/** A stack file's config as the Pulumi CLI hands it to a program. */
export interface StackFileConfig {
  /** `<namespace>:<key>` -> value; every value a string, structured values as JSON. */
  readonly values: Record<string, string>;
  /** Keys whose values are secrets (`key: {secure: ...}` in the file). */
  readonly secretKeys: string[];
}

/** The closest of `candidates` to `word` when it is a plausible typo (a few edits), else undefined. */
export function closestName(word: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(2, Math.floor(word.length / 4));
  let best: { name: string; d: number } | undefined;
  for (const name of candidates) {
    const d = distance(word.toLowerCase(), name.toLowerCase());
    if (d <= limit && (best === undefined || d < best.d)) best = { name, d };
  }
  return best?.name;
}

/** Pulumi's old `<namespace>:config:<name>` form means `<namespace>:<name>` (runtime/config.js cleanKey). */
function cleanKey(key: string): string {
  const i = key.indexOf(":");
  return i > 0 && key.startsWith("config:", i + 1) ? `${key.slice(0, i)}:${key.slice(i + 1 + "config:".length)}` : key;
}

/** Why a top-level key of a stack file is not read, and what to do instead. */
function describeTopLevelKey(key: string, project: string): string {
  if (key.includes(":")) {
    return `${key} is written beside config:, not under it, so Pulumi ignores it; indent it under config:`;
  }
  const near = closestName(key, STACK_FILE_KEYS);
  if (near !== undefined) return `${key}: is not a stack file key, so Pulumi ignores all of it; did you mean ${near}:?`;
  return `${key}: is not a stack file key, so Pulumi ignores all of it; project settings go under config: as ${project}:<key>`;
}

/**
 * Reads a stack file's text as the Pulumi CLI does and refuses what the CLI would silently
 * ignore: YAML syntax errors, unknown top-level keys (`configs:`, keys beside `config:`), a
 * `config:` that is not a mapping, and a key given both with and without the namespace.
 * Un-namespaced keys get the project's namespace, as the CLI gives them. `source` names the file
 * in messages.
 */
export function parseStackFile(text: string, project: string, source: string): StackFileConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const [first] = doc.errors;
    throw new ConfigError(`${source} is not valid YAML: ${first?.message ?? "unknown error"}`);
  }
  const parsed: unknown = doc.toJS();
  if (parsed === null || parsed === undefined) return { values: {}, secretKeys: [] };
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConfigError(
      `${source} holds ${JSON.stringify(parsed).slice(0, 80)}; a stack file is a mapping with a config: block`,
    );
  }
  const problems: string[] = [];
  for (const key of Object.keys(parsed)) {
    if (!(STACK_FILE_KEYS as readonly string[]).includes(key)) problems.push(describeTopLevelKey(key, project));
  }
  const config = (parsed as { config?: unknown }).config ?? {};
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    problems.push(
      `config: holds ${JSON.stringify(config).slice(0, 80)}; it must be a mapping of <namespace>:<key>: <value>`,
    );
  }
  const values: Record<string, string> = {};
  const secretKeys: string[] = [];
  const given = new Map<string, string>();
  for (const [written, value] of Object.entries(problems.length === 0 ? config : {})) {
    const key = cleanKey(written.includes(":") ? written : `${project}:${written}`);
    const earlier = given.get(key);
    if (earlier !== undefined) {
      problems.push(`${written} and ${earlier} set the same key ${key}; keep one`);
      continue;
    }
    given.set(key, written);
    const secure = (value as { secure?: unknown } | null)?.secure;
    if (typeof secure === "string") {
      values[key] = secure;
      secretKeys.push(key);
    } else {
      values[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(`Invalid stack file:\n${problems.map((p) => `- ${p} (${source})`).join("\n")}`);
  }
  return { values, secretKeys };
}

/**
 * The problems of config keys whose namespace is neither the project's nor a known one (e.g. a
 * block under `weather-pipelin:`), one message each, with the closest namespace when there is one.
 */
export function unknownNamespaceProblems(keys: Iterable<string>, project: string): string[] {
  const known = [project, ...KNOWN_CONFIG_NAMESPACES];
  const byNamespace = new Map<string, string[]>();
  for (const key of keys) {
    const i = key.indexOf(":");
    const namespace = i < 0 ? "" : key.slice(0, i);
    if (known.includes(namespace)) continue;
    byNamespace.set(namespace, [...(byNamespace.get(namespace) ?? []), key]);
  }
  return [...byNamespace.entries()].map(([namespace, names]) => {
    const near = closestName(namespace, known);
    const shown = names.length > 3 ? `${names.slice(0, 3).join(", ")}, … (${names.length} keys)` : names.join(", ");
    const readers = `neither this project (${project}:) nor its providers (${KNOWN_CONFIG_NAMESPACES.join(":, ")}:) read`;
    const where = namespace === "" ? "has no namespace, which" : `is in namespace ${namespace}:, which`;
    const fix =
      near !== undefined
        ? `did you mean ${near}:${names[0]!.slice(namespace.length + 1)}?`
        : `write it as ${project}:<key> if it is this project's, or remove it`;
    return `${shown} ${where} ${readers}, so it would not apply; ${fix}`;
  });
}
