/**
 * Regenerates pipeline/config/openmeteo-variables.data.ts from a checkout (or `git archive`)
 * of Open-Meteo's server, github.com/open-meteo/open-meteo:
 *
 *   ts-node scripts/extract-openmeteo-variables.ts <dir> <commit> <commit-date> \
 *     > pipeline/config/openmeteo-variables.data.ts && npx prettier --write pipeline/config/
 *
 * It reads the Swift enums that the server parses `hourly=` and `daily=` with, the ERA5 enums
 * behind /v1/archive, and the two OpenAPI specs kept in the same repository. It fails loudly when
 * an anchor it relies on is gone, rather than writing a shorter list: a refactor upstream should
 * stop the regeneration, not shrink the lists silently.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";

/** A Swift enum or struct body: from `enum Name` to its matching closing brace. */
export function swiftBlock(source: string, header: RegExp): string {
  const match = header.exec(source);
  if (!match) throw new Error(`${String(header)} not found`);
  const open = source.indexOf("{", match.index);
  let depth = 0;
  for (let i = open; i < source.length; i++) {
    if (source[i] === "{") depth++;
    else if (source[i] === "}" && --depth === 0) return source.slice(open + 1, i);
  }
  throw new Error(`${String(header)} is not closed`);
}

function stripComments(swift: string): string {
  return swift.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
}

/** The raw values of a `String` enum's cases (`case a` / `case a, b`), comments excluded. */
export function enumCases(source: string, name: string): string[] {
  const body = stripComments(swiftBlock(source, new RegExp(`\\benum ${name}\\b[^{]*\\{`)));
  const cases: string[] = [];
  for (const line of body.split("\n")) {
    const m = /^\s*case\s+([a-z_][a-z0-9_]*(?:\s*,\s*[a-z_][a-z0-9_]*)*)\s*$/.exec(line);
    if (m) cases.push(...m[1]!.split(",").map((c) => c.trim()));
    else if (/^\s*case\s+[a-z_][a-z0-9_]*\s*=/.test(line))
      throw new Error(`${name}: explicit raw values are not handled`);
  }
  if (cases.length === 0) throw new Error(`${name}: no cases`);
  return cases;
}

/** `case .a: return .b` pairs of a `switch` in the given block (the compatibility `remapped`). */
export function returnPairs(block: string, returns: RegExp): [string, string][] {
  const pairs: [string, string][] = [];
  const re = new RegExp(
    String.raw`case\s+((?:\.[a-z0-9_]+\s*,\s*)*\.[a-z0-9_]+)\s*:\s*return\s+` + returns.source,
    "g",
  );
  for (const m of stripComments(block).matchAll(re)) {
    for (const from of m[1]!.split(",")) pairs.push([from.trim().slice(1), m[2]!]);
  }
  return pairs;
}

/** The names of each `case .a, .b:` label of a `switch` in the block: names the server treats alike. */
export function caseGroups(block: string): string[][] {
  const re = /case\s+((?:\.[a-z0-9_]+\s*,\s*)*\.[a-z0-9_]+)\s*:/g;
  return [...stripComments(block).matchAll(re)].map((m) => m[1]!.split(",").map((n) => n.trim().slice(1)));
}

/** Per daily variable: how ForecastVariableDaily.aggregation computes it from hourly variables. */
export function dailyAggregations(source: string): Map<string, { kind: string; inputs: string[] }> {
  const body = stripComments(swiftBlock(source, /var aggregation: DailyAggregation<ForecastVariable>\s*\{/));
  const out = new Map<string, { kind: string; inputs: string[] }>();
  const re = /case\s+((?:\.[a-z0-9_]+\s*,\s*)*\.[a-z0-9_]+)\s*:\s*return\s+\.([a-zA-Z]+)([^\n]*)/g;
  for (const m of body.matchAll(re)) {
    const inputs = [...m[3]!.matchAll(/\.init\(\.([a-z0-9_]+),\s*0\)/g)].map((i) => i[1]!);
    for (const name of m[1]!.split(",")) out.set(name.trim().slice(1), { kind: m[2]!, inputs });
  }
  return out;
}

/**
 * Old spellings among names that share one case label: the one no spec lists is the old one when
 * exactly one of the group is listed, or when a known old prefix turns it into its partner
 * (cloudcover_max -> cloud_cover_max via cloudcover -> cloud_cover).
 */
export function aliasesFromGroups(
  groups: string[][],
  listed: ReadonlySet<string>,
  prefixes: ReadonlyMap<string, string>,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const group of groups) {
    if (group.length < 2) continue;
    const current = group.filter((n) => listed.has(n));
    for (const name of group) {
      // `x_spread` sharing a case with `x` is the ensemble spread of x, not an old name for it.
      if (listed.has(name) || name.endsWith("_spread")) continue;
      if (current.length === 1) {
        out.set(name, current[0]!);
        continue;
      }
      for (const [from, to] of prefixes) {
        if (!name.startsWith(from)) continue;
        const renamed = to + name.slice(from.length);
        if (renamed !== name && group.includes(renamed)) out.set(name, renamed);
      }
    }
  }
  return out;
}

interface OpenApiParameter {
  name: string;
  schema?: { items?: { enum?: string[] } };
}

/** The `hourly` and `daily` enums of one path of an OpenAPI spec in the repository. */
export function documented(yamlText: string, path: string): { hourly: string[]; daily: string[] } {
  const spec = parseYaml(yamlText) as { paths: Record<string, { get: { parameters: OpenApiParameter[] } }> };
  const parameters = spec.paths[path]?.get.parameters;
  if (!parameters) throw new Error(`${path} not in spec`);
  const list = (name: string) => {
    const values = parameters.find((p) => p.name === name)?.schema?.items?.enum;
    if (!values?.length) throw new Error(`${path}: no ${name} enum`);
    return values;
  };
  return { hourly: list("hourly"), daily: list("daily") };
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const sorted = (names: Iterable<string>) => [...new Set(names)].sort(byName);

function tsList(name: string, doc: string, values: readonly (string | number)[]): string {
  const items = values.map((v) => (typeof v === "number" ? String(v) : JSON.stringify(v)));
  const lines: string[] = [];
  let line = "";
  for (const item of items) {
    if (line && line.length + item.length + 2 > 112) {
      lines.push(line);
      line = "";
    }
    line += (line ? " " : "") + item + ",";
  }
  if (line) lines.push(line);
  return `/** ${doc} (${values.length}) */\n// prettier-ignore\nexport const ${name} = [\n${lines.map((l) => "  " + l).join("\n")}\n] as const;\n`;
}

function tsRecord(name: string, doc: string, pairs: [string, string][]): string {
  const body = pairs.map(([k, v]) => `  ${k}: ${JSON.stringify(v)},`).join("\n");
  return `/** ${doc} (${pairs.length}) */\n// prettier-ignore\nexport const ${name}: Readonly<Record<string, string>> = {\n${body}\n};\n`;
}

function main(dir: string, commit: string, date: string): string {
  const read = (path: string) => readFileSync(join(dir, path), "utf8");
  const HOURLY_FILE = "Sources/App/Controllers/VariableHourly.swift";
  const DAILY_FILE = "Sources/App/Controllers/VariableDaily.swift";
  const CONTROLLER_FILE = "Sources/App/Controllers/ForecastapiController.swift";
  const ERA5_VARIABLES_FILE = "Sources/App/Era5/Era5Variables.swift";
  const ERA5_CONTROLLER_FILE = "Sources/App/Era5/Era5Controller.swift";
  const hourlySource = read(HOURLY_FILE);
  const dailySource = read(DAILY_FILE);
  const controller = read(CONTROLLER_FILE);

  // Both endpoints are one WeatherApiController and parse with the same two types; check that
  // this still holds before treating the parse lists as shared.
  for (const anchor of [
    'categoriesRoute.getAndPost("archive", use: era5.query)',
    'categoriesRoute.getAndPost("forecast", use: WeatherApiController(',
    "let paramsHourly = try ForecastVariable.load(commaSeparatedOptional: params.hourly)",
    "let paramsDaily = try ForecastVariableDaily.load(commaSeparatedOptional: params.daily)",
    "typealias ForecastVariable = SurfacePressureAndHeightVariable<VariableAndPreviousDay, VariableOrSpread<ForecastPressureVariable>, ForecastHeightVariable>",
    "defaultModel: .archive_best_match",
    "return [try await Era5Factory.makeArchiveBestMatch(",
  ]) {
    if (!controller.includes(anchor) && !hourlySource.includes(anchor)) throw new Error(`anchor gone: ${anchor}`);
  }
  // Computed by the controller itself for any model (ForecastapiController.swift, hourly() and daily()).
  const computedHourly = ["is_day", "terrestrial_radiation", "terrestrial_radiation_instant"];
  const computedDaily = ["sunrise", "sunset", "moonrise", "moonset", "moon_phase", "daylight_duration"];
  for (const v of computedHourly) if (!controller.includes(`case .${v}:`)) throw new Error(`controller: ${v}`);
  for (const v of computedDaily) if (!controller.includes(`.${v}`)) throw new Error(`controller: ${v}`);

  const surface = enumCases(hourlySource, "ForecastSurfaceVariable");
  const pressureTypes = enumCases(hourlySource, "ForecastPressureVariableType");
  const heightTypes = enumCases(hourlySource, "ForecastHeightVariableType");
  const daily = enumCases(dailySource, "ForecastVariableDaily");
  const era5 = enumCases(read(ERA5_VARIABLES_FILE), "Era5Variable");
  const era5Derived = enumCases(read(ERA5_CONTROLLER_FILE), "Era5VariableDerived");

  const surfaceBlock = swiftBlock(hourlySource, /\benum ForecastSurfaceVariable\b[^{]*\{/);
  const pressureBlock = swiftBlock(hourlySource, /\benum ForecastPressureVariableType\b[^{]*\{/);
  const remapped = returnPairs(surfaceBlock, /\.([a-z0-9_]+)/);
  const pressureRemapped = returnPairs(pressureBlock, /\.([a-z0-9_]+)/);
  const deriverBlock = swiftBlock(hourlySource, /func getDeriverMap\(variable: ForecastSurfaceVariable\)[^{]*\{/);
  const deriverAliases = returnPairs(deriverBlock, /getDeriverMap\(variable: \.([a-z0-9_]+)\)/);
  const aggregations = dailyAggregations(dailySource);
  for (const d of daily) if (!aggregations.has(d)) throw new Error(`no aggregation parsed for daily ${d}`);

  const forecastDoc = documented(read("openapi/forecast.yml"), "/v1/forecast");
  const archiveDoc = documented(read("openapi/historical-weather.yml"), "/v1/archive");
  const documentedAnywhere = new Set([
    ...forecastDoc.hourly,
    ...forecastDoc.daily,
    ...archiveDoc.hourly,
    ...archiveDoc.daily,
  ]);

  // An old spelling the server maps onto a current name, and which neither spec lists any more.
  const hourlyAliases = new Map<string, string>();
  for (const [from, to] of [...remapped, ...deriverAliases]) {
    if (!documentedAnywhere.has(from) && surface.includes(to) && from !== to) hourlyAliases.set(from, to);
  }
  for (const [from, to] of aliasesFromGroups(caseGroups(deriverBlock), documentedAnywhere, hourlyAliases)) {
    if (!hourlyAliases.has(from)) hourlyAliases.set(from, to);
  }
  const aggregationBlock = swiftBlock(dailySource, /var aggregation: DailyAggregation<ForecastVariable>\s*\{/);
  const dailyAliases = aliasesFromGroups(caseGroups(aggregationBlock), documentedAnywhere, hourlyAliases);
  const pressureAliases = new Map(pressureRemapped.filter(([a, b]) => a !== b));
  for (const [from, to] of pressureAliases) if (!pressureTypes.includes(to)) throw new Error(`pressure alias ${from}`);

  // /v1/forecast: what its spec documents (best_match mixes every model, so no enum bounds it).
  const forecastPressure = forecastDoc.hourly.filter((n) => /_\d+hPa$/.test(n));
  const forecastPressureTypes = sorted(forecastPressure.map((n) => n.replace(/_\d+hPa$/, "")));
  const forecastPressureLevels = [...new Set(forecastPressure.map((n) => Number(/_(\d+)hPa$/.exec(n)![1])))].sort(
    (a, b) => a - b,
  );
  for (const t of forecastPressureTypes)
    if (!pressureTypes.includes(t)) throw new Error(`documented pressure type ${t}`);
  const withAliases = (names: Set<string>, aliases: Map<string, string>) => {
    for (const [from, to] of aliases) if (names.has(to)) names.add(from);
    return names;
  };
  const forecastHourly = withAliases(new Set(forecastDoc.hourly.filter((n) => !/_\d+hPa$/.test(n))), hourlyAliases);

  // /v1/archive: archive_best_match reads ERA5, ERA5-Land and IFS through Era5Reader, which knows
  // Era5Variable and Era5VariableDerived; the controller remaps old names first and computes a few
  // itself. The CdsDomains it mixes store no ensemble spread, so `_spread` names come back empty.
  const era5Names = new Set([...era5, ...era5Derived, ...computedHourly].filter((n) => !n.endsWith("_spread")));
  for (const [from, to] of remapped) if (era5Names.has(to)) era5Names.add(from);
  const archiveHourly = withAliases(new Set([...era5Names].filter((n) => surface.includes(n))), hourlyAliases);
  for (const n of archiveDoc.hourly)
    if (!archiveHourly.has(n)) throw new Error(`archive spec lists ${n}, ERA5 enums lack it`);
  for (const n of forecastDoc.hourly)
    if (!surface.includes(n) && !/_\d+hPa$/.test(n)) throw new Error(`spec ${n} not parsed`);

  // A daily variable is there when the hourly variables it aggregates are (any one of the two
  // for maxTwo/minTwo, all otherwise); .none aggregations are the controller's astronomy only.
  const dailyOn = (hourly: Set<string>) =>
    sorted(
      daily.filter((d) => {
        const a = aggregations.get(d)!;
        if (a.kind === "none") return computedDaily.includes(d);
        const ok = a.inputs.map((i) => hourly.has(i) || hourly.has(hourlyAliases.get(i) ?? ""));
        return a.kind === "maxTwo" || a.kind === "minTwo" ? ok.some(Boolean) : ok.every(Boolean);
      }),
    );
  const forecastDaily = dailyOn(forecastHourly);
  const archiveDaily = dailyOn(archiveHourly);
  for (const n of forecastDoc.daily)
    if (!forecastDaily.includes(n)) throw new Error(`forecast spec daily ${n} not derived`);
  for (const n of archiveDoc.daily)
    if (!archiveDaily.includes(n)) throw new Error(`archive spec daily ${n} not derived`);

  const at = `open-meteo/open-meteo@${commit} (${date})`;
  return [
    `// Generated by scripts/extract-openmeteo-variables.ts from ${at}.`,
    "// Do not edit by hand: regenerate from a newer snapshot (see the script's header).",
    "",
    `/** The server snapshot these lists were read from. */`,
    `export const OPEN_METEO_SOURCE = ${JSON.stringify({ repository: "open-meteo/open-meteo", commit, date })} as const;`,
    "",
    tsList(
      "HOURLY_SURFACE",
      `enum ForecastSurfaceVariable, ${HOURLY_FILE}: every surface name \`hourly=\` parses`,
      sorted(surface),
    ),
    tsList(
      "PRESSURE_TYPES",
      `enum ForecastPressureVariableType, ${HOURLY_FILE}: <type>_<level>hPa, any integer level`,
      sorted(pressureTypes),
    ),
    tsList(
      "HEIGHT_TYPES",
      `enum ForecastHeightVariableType, ${HOURLY_FILE}: <type>_<level>m, any integer level`,
      sorted(heightTypes),
    ),
    tsList("DAILY", `enum ForecastVariableDaily, ${DAILY_FILE}: every name \`daily=\` parses`, sorted(daily)),
    tsRecord(
      "HOURLY_ALIASES",
      `Old hourly spellings the server maps to a current one (\`remapped\` and one-line getDeriverMap cases, ${HOURLY_FILE}), listed in neither spec`,
      [...hourlyAliases].sort((a, b) => byName(a[0], b[0])),
    ),
    tsRecord(
      "PRESSURE_ALIASES",
      `Old pressure-level type spellings (ForecastPressureVariableType.remapped, ${HOURLY_FILE})`,
      [...pressureAliases].sort((a, b) => byName(a[0], b[0])),
    ),
    tsRecord(
      "DAILY_ALIASES",
      `Old daily spellings sharing an aggregation case with a current one (ForecastVariableDaily.aggregation, ${DAILY_FILE})`,
      [...dailyAliases].sort((a, b) => byName(a[0], b[0])),
    ),
    tsList(
      "FORECAST_HOURLY",
      "/v1/forecast surface variables documented in openapi/forecast.yml, with their old spellings",
      sorted(forecastHourly),
    ),
    tsList("FORECAST_PRESSURE_TYPES", "Pressure-level types openapi/forecast.yml documents", forecastPressureTypes),
    tsList("FORECAST_PRESSURE_LEVELS", "Pressure levels (hPa) openapi/forecast.yml documents", forecastPressureLevels),
    tsList(
      "FORECAST_DAILY",
      `/v1/forecast daily variables whose hourly inputs (ForecastVariableDaily.aggregation) it documents, or computed by ${CONTROLLER_FILE}`,
      forecastDaily,
    ),
    tsList(
      "ARCHIVE_HOURLY",
      `/v1/archive hourly variables: Era5Variable (${ERA5_VARIABLES_FILE}) and Era5VariableDerived (${ERA5_CONTROLLER_FILE}) without _spread, the controller's computed ones, old spellings`,
      sorted(archiveHourly),
    ),
    tsList(
      "ARCHIVE_DAILY",
      "/v1/archive daily variables whose hourly inputs ERA5 has, or computed by the controller",
      archiveDaily,
    ),
  ].join("\n");
}

if (require.main === module) {
  const [dir, commit, date] = process.argv.slice(2);
  if (!dir || !commit || !date) {
    console.error("usage: extract-openmeteo-variables.ts <open-meteo dir> <commit> <commit date>");
    process.exit(2);
  }
  process.stdout.write(main(dir, commit, date));
}
