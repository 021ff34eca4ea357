/**
 * The identity of an accepted location: a name compared without regard to case, Unicode form
 * or runs of spaces, and an id derived from that name and the coordinates as requests write
 * them (at most 6 decimals), so the same application always gets the same id.
 */
import { createHash } from "node:crypto";
import { formatCoordinate } from "../ingest";

/** A name as compared for uniqueness: NFC, trimmed, runs of white space as one space, lower case. */
export function normalizeName(name: string): string {
  return name.normalize("NFC").trim().replace(/\s+/g, " ").toLowerCase();
}

/**
 * `loc-` and the first 16 hex of SHA-256 over `v1`, the normalized name and both coordinates
 * as formatCoordinate writes them, one per line: "Berlin", 52.520 and 13.41 give the same id
 * as "berlin", 52.52 and 13.410.
 */
export function locationIdOf(name: string, latitude: number, longitude: number): string {
  const text = ["v1", normalizeName(name), formatCoordinate(latitude), formatCoordinate(longitude)].join("\n");
  return `loc-${createHash("sha256").update(text).digest("hex").slice(0, 16)}`;
}

/** Mean Earth radius (IUGG), in km. */
const EARTH_RADIUS_KM = 6371.0088;

/** Great-circle distance in km between two points given in degrees (haversine). */
export function distanceKm(
  a: { latitude: number; longitude: number },
  b: { latitude: number; longitude: number },
): number {
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLon = (b.longitude - a.longitude) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}
