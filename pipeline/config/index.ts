/**
 * Config checks: what a stack's settings must pass before anything deploys (Open-Meteo variable
 * names, the schedule's cron, the API quota), as pure functions the config reader
 * (infra/config.ts) calls, and the applications' quota rule too. (Values as plain constants,
 * not `export ... from` getters: see ingest/index.ts; a Lambda capturing apiWeightUse must not
 * pull in the stack-file reader and its packages.)
 */
import * as apiQuota from "./api-quota";
import * as cron from "./scheduler-cron";
import * as stackFile from "./stack-file";
import * as variables from "./openmeteo-variables";

export const {
  BOTH_ENDPOINTS,
  OPEN_METEO_SOURCE,
  checkVariables,
  describeVariableProblem,
  suggestVariable,
  unknownVariables,
} = variables;
export type { VariableKind, VariableProblem } from "./openmeteo-variables";
export const { CRON_FIELD_NAMES, formatCronError, schedulerCronErrors } = cron;
export type { CronError } from "./scheduler-cron";
export const {
  ConfigError,
  KNOWN_CONFIG_NAMESPACES,
  STACK_FILE_KEYS,
  closestName,
  parseStackFile,
  unknownNamespaceProblems,
} = stackFile;
export type ConfigError = stackFile.ConfigError;
export type { StackFileConfig } from "./stack-file";
export const { FREE_TIER_WEIGHT, apiQuotaProblems, apiWeightUse, cronRunsPerDay, formatWeight } = apiQuota;
export type { ApiUse, ApiUseInput, QuotaProblem } from "./api-quota";
