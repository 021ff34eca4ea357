/**
 * One CommonJS file for each ES-module-only dependency the Lambdas load (ky, hyparquet,
 * hyparquet-writer), which their package.json `require` condition points to (patches/, applied
 * by patch-package at install), so `require("ky")` in a packaged Lambda, the CLI and the tests
 * reads one file instead of linking an ES module graph.
 *
 * Why: Node 22 loads an ES module package through `require` file by file (resolve, read, compile,
 * link each of hyparquet-writer's 25 modules and the hyparquet ones they import). That took 22-33
 * ms of the transform's cold start and ky's 10 ms of ingest's; the bundle of the same sources
 * loads in 4-5 ms (README, "What limits cold starts"). Pulumi's closure serializer maps the
 * bundle's path back to the package name through the same `exports` map, so the serialized code
 * still says `require("ky")`, and the packages ship only the bundle (ENTRY_FILES_ONLY in
 * infra/pipeline-function.ts).
 *
 * The bundles are built from the installed (patched) sources by esbuild at install (`npm run
 * build`, postinstall) and again whenever a source is newer than its bundle (rebuildIfStale); a
 * test checks that each bundle is exactly what esbuild makes of the sources now.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type * as Esbuild from "esbuild";

/** Where each bundle is, in its package: what the patched `exports` name for `require`. */
export const CJS_BUNDLE_PATH = "cjs/index.cjs";

/** A dependency bundled: its package and its Node entry (what `import` resolves to). */
export interface CjsBundle {
  readonly name: string;
  /** The ES module entry, relative to the package folder. */
  readonly entry: string;
}

/** The ES-module-only packages the Lambdas load, with the entry Node picks for `import`. */
export const CJS_BUNDLES: readonly CjsBundle[] = [
  { name: "ky", entry: "distribution/index.js" },
  { name: "hyparquet", entry: "src/node.js" },
  { name: "hyparquet-writer", entry: "src/node.js" },
];

/** The folder of package `name` under `projectDir`'s node_modules. */
export function packageDirOf(projectDir: string, name: string): string {
  return path.join(projectDir, "node_modules", name);
}

/** The esbuild options that make `bundle`'s file: one CommonJS file, Node's own modules left out. */
function buildOptions(projectDir: string, bundle: CjsBundle): Esbuild.BuildOptions {
  const dir = packageDirOf(projectDir, bundle.name);
  return {
    entryPoints: [path.join(dir, bundle.entry)],
    absWorkingDir: dir,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node22",
    // Not minified: stack traces of a failed run stay readable (it loaded as fast: it is the
    // module linking that costs, not the bytes).
    minify: false,
    legalComments: "inline",
    // Reproducible: no paths of this machine in the output.
    sourcemap: false,
    logLevel: "silent",
    banner: {
      js: `// ${bundle.name}'s ES modules as one CommonJS file, built from the installed sources by weather-pipeline's pipeline/local/cjs-bundles.ts.`,
    },
  };
}

/** The bundle's file. */
export function bundleFile(projectDir: string, bundle: CjsBundle): string {
  return path.join(packageDirOf(projectDir, bundle.name), CJS_BUNDLE_PATH);
}

/** The newest modification time among a package's JavaScript sources and its package.json. */
function newestSourceMs(dir: string): number {
  let newest = statSync(path.join(dir, "package.json")).mtimeMs;
  for (const entry of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    if (!entry.endsWith(".js") || entry.startsWith(path.dirname(CJS_BUNDLE_PATH) + path.sep)) continue;
    newest = Math.max(newest, statSync(path.join(dir, entry)).mtimeMs);
  }
  return newest;
}

/** The bundles that are missing or older than a source of their package. */
export function staleBundles(projectDir: string): CjsBundle[] {
  return CJS_BUNDLES.filter((bundle) => {
    const file = bundleFile(projectDir, bundle);
    if (!existsSync(file)) return true;
    return statSync(file).mtimeMs < newestSourceMs(packageDirOf(projectDir, bundle.name));
  });
}

/** What esbuild makes of `bundle`'s installed sources now, without writing it. */
export function bundleText(projectDir: string, bundle: CjsBundle): string {
  // Loaded only here: a build-time tool (a devDependency), never needed to run a command.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on use, see above
  const esbuild = require("esbuild") as typeof Esbuild;
  const result = esbuild.buildSync({ ...buildOptions(projectDir, bundle), write: false });
  const [output] = result.outputFiles;
  if (!output) throw new Error(`esbuild wrote nothing for ${bundle.name}`);
  return output.text;
}

/**
 * Writes the missing or stale bundles; returns them. Fails, naming the fix, when a package's
 * `exports` do not point `require` at the bundle (the patch was not applied).
 */
export function buildCjsBundles(projectDir: string): CjsBundle[] {
  const stale = staleBundles(projectDir);
  for (const bundle of stale) {
    assertRequireCondition(projectDir, bundle);
    const file = bundleFile(projectDir, bundle);
    const text = bundleText(projectDir, bundle);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  return stale;
}

/** Checks that `require(bundle.name)` resolves to the bundle, as the patch in patches/ makes it. */
export function assertRequireCondition(projectDir: string, bundle: CjsBundle): void {
  const manifest = readFileSync(path.join(packageDirOf(projectDir, bundle.name), "package.json"), "utf8");
  if (!manifest.includes(`"require": "./${CJS_BUNDLE_PATH}"`)) {
    throw new Error(
      `node_modules/${bundle.name}/package.json has no "require": "./${CJS_BUNDLE_PATH}" export; ` +
        `the patch in patches/ was not applied: run \`npx patch-package\` (npm install runs it)`,
    );
  }
}
