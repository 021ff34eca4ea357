/**
 * The stack's quota budget: what the daily run weighs in Open-Meteo's API weight, with the
 * rule ingest batches by (requestWeight), so an accepted location can never push the daily
 * run over `maxDailyWeight`.
 */
import { requestWeight } from "../ingest";

/** Default of maxDailyWeight: the free API's daily limit. */
export const DEFAULT_MAX_DAILY_WEIGHT = 10_000;

/**
 * The API weight of one daily run (one date) for `locationCount` locations and `variableCount`
 * hourly and daily variables. Weight adds up per location, so it is the same however the
 * locations are batched (tests compare it with planRequests' batches).
 */
export function dailyRunWeight(variableCount: number, locationCount: number): number {
  return locationCount * requestWeight(variableCount, 1);
}
