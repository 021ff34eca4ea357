/**
 * The compiled program in dist/, which `npm start`, `npm run pipeline` and `npm run bench` run
 * with plain Node, so that no TypeScript compiler loads when a command starts (ts-node took
 * seconds). Each source is transpiled on its own by the TypeScript compiler with tsconfig.json's
 * options, which is what Pulumi's ts-node (transpileOnly) does with index.ts under `pulumi up`:
 * the Lambda code the local tools serialize is the code a deployment serializes. Types are
 * checked by `npm run typecheck`, not here.
 *
 * `npm run build` (run at install too) writes every output that is missing or older than its
 * source, and the CommonJS bundles of ES-module-only dependencies (cjs-bundles.ts); a command
 * started from dist/ does the same first (see rebuildIfStale), so what runs is never older than
 * the sources.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type * as TypeScript from "typescript";
import { buildCjsBundles } from "./cjs-bundles";

/** The folder of package.json, the Pulumi files and node_modules, whether run from sources or dist/. */
export const PROJECT_DIR = projectDirOf(__dirname);

/** Where the compiled program is. */
export const DIST_DIR = path.join(PROJECT_DIR, "dist");

/** The compiled CLI, what `npm run pipeline` runs. */
export const CLI_ENTRY = path.join(DIST_DIR, "pipeline", "cli", "main.js");

/** The folder the running code is in: PROJECT_DIR from sources (ts-node), DIST_DIR compiled. */
export const CODE_DIR = path.resolve(__dirname, "..", "..");

function projectDirOf(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json in ${from} or above it`);
  }
}

/** The program's sources, relative to PROJECT_DIR: index.ts and pipeline/**\/*.ts. */
function sources(): string[] {
  const pipeline = readdirSync(path.join(PROJECT_DIR, "pipeline"), { recursive: true, encoding: "utf8" });
  return [
    "index.ts",
    ...pipeline.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts")).map((f) => path.join("pipeline", f)),
  ];
}

function outputOf(source: string): string {
  return path.join(DIST_DIR, source.replace(/\.ts$/, ".js"));
}

/** The sources whose output is missing or older than they are. */
export function staleSources(): string[] {
  return sources().filter((source) => {
    const output = statSync(outputOf(source), { throwIfNoEntry: false });
    return !output || output.mtimeMs < statSync(path.join(PROJECT_DIR, source)).mtimeMs;
  });
}

/** Transpiles the stale sources into dist/; returns them. */
export function build(): string[] {
  const stale = staleSources();
  if (stale.length === 0) return stale;
  // Loaded only here: loading the compiler is the cost dist/ exists to avoid.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on use, see above
  const ts = require("typescript") as typeof TypeScript;
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(PROJECT_DIR, "tsconfig.json"),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(`tsconfig.json: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
      },
    },
  );
  if (!config) throw new Error(`tsconfig.json in ${PROJECT_DIR} could not be read`);
  for (const source of stale) {
    const { outputText, diagnostics } = ts.transpileModule(readFileSync(path.join(PROJECT_DIR, source), "utf8"), {
      compilerOptions: config.options,
      fileName: source,
      reportDiagnostics: true,
    });
    const [problem] = diagnostics ?? [];
    if (problem) {
      throw new Error(`${source} does not compile: ${ts.flattenDiagnosticMessageText(problem.messageText, "\n")}`);
    }
    mkdirSync(path.dirname(outputOf(source)), { recursive: true });
    writeFileSync(outputOf(source), outputText);
  }
  return stale;
}

/**
 * For an entry point of dist/ (bench, the CLI): when a source changed since the build, compiles
 * what changed and runs this process's command again on the new build (returning its exit
 * code); returns undefined when the build is fresh, or when running from sources.
 */
export function rebuildIfStale(): number | undefined {
  if (CODE_DIR !== DIST_DIR) return undefined;
  const bundled = buildCjsBundles(PROJECT_DIR);
  if (bundled.length > 0) {
    process.stderr.write(
      `bundled ${bundled.map((b) => b.name).join(", ")} again: a source was newer (cjs-bundles.ts)\n`,
    );
  }
  if (staleSources().length === 0 && bundled.length === 0) return undefined;
  const rebuilt = build();
  if (rebuilt.length > 0) {
    process.stderr.write(`dist/ was older than ${rebuilt.length} source(s) (${rebuilt[0]}, …): compiled them again\n`);
  }
  const rerun = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: "inherit" });
  return rerun.status ?? 1;
}

if (require.main === module) {
  const bundled = buildCjsBundles(PROJECT_DIR);
  console.log(
    `CommonJS bundles: ${bundled.length === 0 ? "up to date" : `built ${bundled.map((b) => b.name).join(", ")}`}`,
  );
  const written = build();
  console.log(`dist/: ${written.length} file(s) compiled, the others were up to date`);
}
