/**
 * Config checks: what a stack's settings must pass before anything deploys (Open-Meteo variable
 * names, the schedule's cron), as pure functions the config reader (infra/config.ts) calls.
 */
export {
  BOTH_ENDPOINTS,
  OPEN_METEO_SOURCE,
  checkVariables,
  describeVariableProblem,
  suggestVariable,
  unknownVariables,
  type VariableKind,
  type VariableProblem,
} from "./openmeteo-variables";
export { CRON_FIELD_NAMES, formatCronError, schedulerCronErrors, type CronError } from "./scheduler-cron";
export {
  ConfigError,
  KNOWN_CONFIG_NAMESPACES,
  STACK_FILE_KEYS,
  closestName,
  parseStackFile,
  unknownNamespaceProblems,
  type StackFileConfig,
} from "./stack-file";
export {
  FREE_TIER_WEIGHT,
  apiQuotaProblems,
  apiWeightUse,
  cronRunsPerDay,
  formatWeight,
  type ApiUse,
  type ApiUseInput,
  type QuotaProblem,
} from "./api-quota";
