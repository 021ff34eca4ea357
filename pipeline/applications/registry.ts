/**
 * The registry: one JSON object (`applications/registry.json` in the versioned applications
 * bucket) listing every accepted location, in the order they were accepted. It is only ever
 * appended to, by a write conditioned on the ETag that was read (If-Match, or If-None-Match: *
 * for the first), so concurrent files never lose an update; `revision` counts the writes and
 * the bucket keeps each earlier version.
 *
 * Append-only is also what makes a decision repeatable: the entries before a file's own are
 * exactly the registry its rows were decided against.
 */
import type { Location, PipelineSettings } from "../core/settings";
import type { ObjectStore } from "../core/storage";
import { ApplicationsError } from "./errors";
import { REGISTRY_KEY } from "./keys";
import { locationIdOf, normalizeName } from "./location-id";
import type { ExistingLocation } from "./rules";

/** The format tag of the registry object. */
export const REGISTRY_FORMAT = "weather-pipeline/location-registry/v1";

/** Where an accepted location came from. */
export interface RegistrySource {
  /** The incoming key the file was uploaded to. */
  readonly key: string;
  /** Its ETag, without quotes. */
  readonly etag: string;
  readonly processingId: string;
  /** The row of the file (see RawRow.row). */
  readonly row: number;
}

/** One accepted location. */
export interface RegistryEntry {
  readonly id: string;
  readonly name: string;
  readonly latitude: number;
  readonly longitude: number;
  /** The first day of history asked for, when one was. */
  readonly startDate?: string;
  /** When its file was decided (ISO-8601 UTC); the same for every row of the file. */
  readonly acceptedAt: string;
  readonly source: RegistrySource;
}

/** The registry's content. */
export interface Registry {
  readonly format: typeof REGISTRY_FORMAT;
  /** Writes so far; 0 for a registry not yet written. */
  readonly revision: number;
  readonly locations: readonly RegistryEntry[];
}

/** The registry as read, with the ETag a conditional write must name (undefined: not written yet). */
export interface RegistrySnapshot {
  readonly registry: Registry;
  readonly etag?: string;
}

/** The registry before any application was accepted. */
export const EMPTY_REGISTRY: Registry = { format: REGISTRY_FORMAT, revision: 0, locations: [] };

function fail(where: string, problem: string): never {
  throw new ApplicationsError(
    `${where} ${problem}; the registry is written only by the applications processor: restore its previous version (the bucket keeps them) rather than editing it by hand`,
  );
}

/** Checks a registry object's JSON text and returns its content. */
export function parseRegistry(text: string, where = REGISTRY_KEY): Registry {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    return fail(where, `is not valid JSON (${(error as Error).message})`);
  }
  const d = document as Partial<Registry> | null;
  if (d === null || typeof d !== "object" || d.format !== REGISTRY_FORMAT) {
    return fail(where, `has format ${JSON.stringify(d?.format)}; expected ${JSON.stringify(REGISTRY_FORMAT)}`);
  }
  if (!Number.isInteger(d.revision) || (d.revision as number) < 1)
    fail(where, `has revision ${JSON.stringify(d.revision)}; expected a whole number from 1`);
  if (!Array.isArray(d.locations)) return fail(where, "has no locations list");
  const ids = new Set<string>();
  const names = new Set<string>();
  d.locations.forEach((entry: Partial<RegistryEntry>, i) => {
    const at = `${where} locations[${i}]`;
    if (typeof entry?.name !== "string" || typeof entry.id !== "string") fail(at, "has no name or id");
    const { latitude, longitude } = entry as RegistryEntry;
    if (
      typeof latitude !== "number" ||
      !(Math.abs(latitude) <= 90) ||
      typeof longitude !== "number" ||
      !(Math.abs(longitude) <= 180)
    ) {
      fail(
        at,
        `has coordinates ${JSON.stringify([latitude, longitude])}; latitude must be within ±90 and longitude within ±180`,
      );
    }
    if (entry.id !== locationIdOf(entry.name, latitude, longitude)) {
      fail(at, `has id ${JSON.stringify(entry.id)}, which is not the id of its name and coordinates`);
    }
    if (ids.has(entry.id)) fail(at, `repeats id ${entry.id}`);
    const key = normalizeName(entry.name);
    if (names.has(key)) fail(at, `repeats the name ${JSON.stringify(entry.name)}`);
    ids.add(entry.id);
    names.add(key);
    const source = entry.source;
    if (
      typeof source?.processingId !== "string" ||
      typeof source.key !== "string" ||
      typeof entry.acceptedAt !== "string"
    ) {
      fail(at, "has no source or acceptedAt");
    }
  });
  return d as Registry;
}

/** The registry as stored: one entry per line, so versions diff line by line. */
export function serializeRegistry(registry: Registry): string {
  const lines = registry.locations.map((entry) => `    ${JSON.stringify(entry)}`);
  return `{\n  "format": ${JSON.stringify(registry.format)},\n  "revision": ${registry.revision},\n  "locations": [\n${lines.join(",\n")}${lines.length > 0 ? "\n" : ""}  ]\n}\n`;
}

/** The registry with `entries` appended, one revision later. */
export function appendToRegistry(registry: Registry, entries: readonly RegistryEntry[]): Registry {
  return { format: REGISTRY_FORMAT, revision: registry.revision + 1, locations: [...registry.locations, ...entries] };
}

/**
 * Reads the registry. It lists the key first and reads it only when listed: a reader allowed
 * s3:ListBucket on the registry key alone (plan, ingest) would get 403, not 404, for a GET of
 * a registry not yet written.
 */
export async function readRegistry(store: ObjectStore): Promise<RegistrySnapshot> {
  const listed = await store.listKeys(REGISTRY_KEY);
  if (!listed.includes(REGISTRY_KEY)) return { registry: EMPTY_REGISTRY };
  const object = await store.getObject(REGISTRY_KEY);
  const registry = parseRegistry(Buffer.from(object.body).toString("utf8"), `${store.description}/${REGISTRY_KEY}`);
  return { registry, ...(object.etag === undefined ? {} : { etag: object.etag }) };
}

/** The locations a stack fetches: its config's, then the registry's whose names the config does not use. */
export interface MergedLocations {
  readonly locations: readonly Location[];
  /** Registry entries left out because the config has a location of the same name (config wins). */
  readonly shadowed: readonly RegistryEntry[];
}

/** Merges config and registry locations; on a name clash (compared as normalizeName does) the config wins. */
export function mergeLocations(config: readonly Location[], entries: readonly RegistryEntry[]): MergedLocations {
  const names = new Set(config.map((l) => normalizeName(l.name)));
  const locations: Location[] = [...config];
  const shadowed: RegistryEntry[] = [];
  for (const entry of entries) {
    const key = normalizeName(entry.name);
    if (names.has(key)) {
      shadowed.push(entry);
      continue;
    }
    names.add(key);
    locations.push({ name: entry.name, latitude: entry.latitude, longitude: entry.longitude });
  }
  return { locations, shadowed };
}

/** The existing locations a decision is made against: config's and the given registry entries. */
export function existingLocations(config: readonly Location[], entries: readonly RegistryEntry[]): ExistingLocation[] {
  const { shadowed } = mergeLocations(config, entries);
  const left = new Set(shadowed);
  return [
    ...config.map((l): ExistingLocation => ({ ...l, origin: "config" })),
    ...entries
      .filter((e) => !left.has(e))
      .map((e): ExistingLocation => ({
        name: e.name,
        latitude: e.latitude,
        longitude: e.longitude,
        origin: "registry",
        id: e.id,
      })),
  ];
}

/**
 * What the plan and ingest call on each run: the stack's locations with the registry's added
 * (config wins on a clash, which is logged).
 */
export async function locationsWithRegistry(
  settings: Pick<PipelineSettings, "locations">,
  store: ObjectStore,
  log: (line: string) => void = (line) => console.log(line),
): Promise<readonly Location[]> {
  const { registry } = await readRegistry(store);
  const merged = mergeLocations(settings.locations, registry.locations);
  for (const entry of merged.shadowed) {
    log(
      `registry location ${entry.name} (${entry.id}) is left out: the stack's config has a location of that name, and config wins`,
    );
  }
  if (registry.locations.length > 0) {
    log(
      `locations: ${settings.locations.length} from config, ${registry.locations.length - merged.shadowed.length} from the registry (revision ${registry.revision})`,
    );
  }
  return merged.locations;
}
