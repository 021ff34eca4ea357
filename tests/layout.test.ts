/**
 * The layout's rules, checked on every import of the program (README "Project layout"):
 * - core/ imports nothing of the pipeline but core/;
 * - a capability (any other folder of pipeline/ but infra/, cli/, local/, bench/) imports core/,
 *   its own folder, and other capabilities only through their named entry (`../ingest`, i.e.
 *   ingest/index.ts), never infra/, cli/, local/ or bench/; capabilities depend on each other
 *   without cycles;
 * - everything outside a capability reaches it through its named entry too;
 * - infra/ never imports cli/, local/ or bench/; local/ never imports cli/ or bench/; cli/ never
 *   imports bench/; nothing in the program imports tests/;
 * - `@pulumi/*` is imported only by infra/, local/ (the program under mocks) and index.ts.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { expect } from "chai";
import * as ts from "typescript";

const ROOT = path.resolve(__dirname, "..");
const PIPELINE = path.join(ROOT, "pipeline");
const LAYERS = ["core", "infra", "cli", "local", "bench"] as const;

interface Import {
  readonly from: string;
  readonly specifier: string;
  /** Resolved file, relative to the project root, for a relative import. */
  readonly target: string | undefined;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => path.join(dir, f));
}

function resolveRelative(from: string, specifier: string): string {
  const base = path.resolve(path.dirname(from), specifier);
  for (const candidate of [`${base}.ts`, path.join(base, "index.ts")]) {
    try {
      if (statSync(candidate).isFile()) return path.relative(ROOT, candidate);
    } catch {
      // try the next form
    }
  }
  throw new Error(`${path.relative(ROOT, from)} imports ${specifier}, which resolves to no file`);
}

function importsOf(file: string): Import[] {
  const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
  return info.importedFiles.map(({ fileName }) => ({
    from: path.relative(ROOT, file),
    specifier: fileName,
    target: fileName.startsWith(".") ? resolveRelative(file, fileName) : undefined,
  }));
}

/** The first folder under pipeline/ of a project-relative path ("" for index.ts and tests). */
function folderOf(file: string): string {
  const parts = file.split(path.sep);
  return parts[0] === "pipeline" && parts.length > 2 ? (parts[1] as string) : "";
}

function isCapability(folder: string): boolean {
  return folder !== "" && !(LAYERS as readonly string[]).includes(folder);
}

const PROGRAM = [path.join(ROOT, "index.ts"), ...sourceFiles(PIPELINE)];
const IMPORTS = PROGRAM.flatMap(importsOf);
const CAPABILITIES = [...new Set(PROGRAM.map((f) => folderOf(path.relative(ROOT, f))))].filter(isCapability).sort();

/** Every import that breaks a rule, as "<file> imports <specifier>: <why>". */
function violations(imports: readonly Import[]): string[] {
  const found: string[] = [];
  const breaks = (i: Import, why: string) => found.push(`${i.from} imports ${i.specifier}: ${why}`);
  for (const i of imports) {
    const from = folderOf(i.from);
    if (i.target === undefined) {
      if (i.specifier.startsWith("@pulumi/") && !["infra", "local", ""].includes(from)) {
        breaks(i, "only infra/, local/ and index.ts may import @pulumi/*; keep the data logic free of Pulumi");
      }
      continue;
    }
    if (i.target.startsWith(`tests${path.sep}`)) {
      breaks(i, "the program must not import tests");
      continue;
    }
    const to = folderOf(i.target);
    if (to === from) continue;
    if (from === "core" && to !== "core") breaks(i, "core/ imports only core/");
    if (isCapability(from) && ["infra", "cli", "local", "bench"].includes(to)) {
      breaks(i, `a capability (${from}/) must not import ${to}/`);
    }
    if (isCapability(to) && i.target !== path.join("pipeline", to, "index.ts")) {
      breaks(
        i,
        `reach ${to}/ through its named entry, "${path.posix.relative(path.posix.dirname(i.from.split(path.sep).join("/")), `pipeline/${to}`)}"`,
      );
    }
    if (from === "infra" && ["cli", "local", "bench"].includes(to)) breaks(i, `infra/ must not import ${to}/`);
    if (from === "local" && ["cli", "bench"].includes(to)) breaks(i, `local/ must not import ${to}/`);
    if (from === "cli" && to === "bench") breaks(i, "cli/ must not import bench/");
  }
  return found;
}

/** The capabilities' dependency cycles, each as "a -> b -> a". */
function capabilityCycles(imports: readonly Import[]): string[] {
  const edges = new Map<string, Set<string>>();
  for (const i of imports) {
    const from = folderOf(i.from);
    const to = i.target === undefined ? "" : folderOf(i.target);
    if (isCapability(from) && isCapability(to) && from !== to) {
      edges.set(from, (edges.get(from) ?? new Set()).add(to));
    }
  }
  const cycles: string[] = [];
  const visit = (node: string, trail: string[]): void => {
    if (trail.includes(node)) {
      cycles.push([...trail.slice(trail.indexOf(node)), node].join(" -> "));
      return;
    }
    for (const next of edges.get(node) ?? []) visit(next, [...trail, node]);
  };
  for (const start of edges.keys()) visit(start, []);
  return [...new Set(cycles)];
}

describe("the layout by capability", () => {
  it("finds the capabilities and the program's imports", () => {
    expect(CAPABILITIES).to.include.members(["catalog", "ingest", "operations", "transform"]);
    expect(IMPORTS.filter((i) => i.target !== undefined).length).to.be.greaterThan(100);
  });

  it("keeps every import within the rules", () => {
    expect(violations(IMPORTS)).to.deep.equal([]);
  });

  it("has no cycles between capabilities", () => {
    expect(capabilityCycles(IMPORTS)).to.deep.equal([]);
  });

  it("gives every capability a named entry", () => {
    for (const capability of CAPABILITIES) {
      expect(() => statSync(path.join(PIPELINE, capability, "index.ts")), capability).not.to.throw();
    }
  });

  it("matches the README's layout table: a row per folder, each file in its row, no file the tree lacks", () => {
    const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
    const start = readme.indexOf("\n## Project layout");
    const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
    const rows = new Map<string, string>();
    for (const line of section.split("\n")) {
      const row = /^\| `pipeline\/([^`/]+)\/`\s*\|(.*)\|\s*$/.exec(line);
      if (row) rows.set(row[1]!, row[2]!);
    }
    const folders = readdirSync(PIPELINE, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
    const problems: string[] = [];
    for (const folder of folders) if (!rows.has(folder)) problems.push(`pipeline/${folder}/ has no row`);
    for (const [folder, text] of rows) {
      if (!folders.includes(folder)) {
        problems.push(`the row pipeline/${folder}/ names a folder that does not exist`);
        continue;
      }
      const files = sourceFiles(path.join(PIPELINE, folder)).map((f) => path.relative(path.join(PIPELINE, folder), f));
      const named = [...text.matchAll(/`([\w./-]+\.ts)`/g)].map((m) => m[1]!);
      const isNamed = (file: string) => named.some((n) => n === file || path.basename(file) === path.basename(n));
      for (const n of named) {
        if (!files.some((f) => f === n || f.endsWith(`/${n}`)))
          problems.push(`pipeline/${folder}/${n} is in the README, not in the tree`);
      }
      for (const f of files) {
        if (path.basename(f) !== "index.ts" && !isNamed(f))
          problems.push(`pipeline/${folder}/${f} is not in its README row`);
      }
    }
    expect(problems).to.deep.equal([]);
  });

  it("catches each kind of broken rule", () => {
    const at = (from: string, specifier: string, target?: string): Import => ({
      from: path.join(...from.split("/")),
      specifier,
      target: target === undefined ? undefined : path.join(...target.split("/")),
    });
    expect(
      violations([
        at("pipeline/core/keys.ts", "../ingest", "pipeline/ingest/index.ts"),
        at("pipeline/ingest/ingest.ts", "../infra/config", "pipeline/infra/config.ts"),
        at("pipeline/operations/catch-up.ts", "../ingest/http", "pipeline/ingest/http.ts"),
        at("pipeline/cli/main.ts", "../transform/parquet", "pipeline/transform/parquet.ts"),
        at("pipeline/infra/alarms.ts", "../local/plan", "pipeline/local/plan.ts"),
        at("pipeline/local/plan.ts", "../cli/main", "pipeline/cli/main.ts"),
        at("pipeline/transform/transform.ts", "@pulumi/pulumi"),
        at("pipeline/core/dates.ts", "../../tests/support/plans", "tests/support/plans.ts"),
      ]).map((v) => v.split(": ")[1]),
    ).to.deep.equal([
      "core/ imports only core/",
      "a capability (ingest/) must not import infra/",
      'reach ingest/ through its named entry, "../ingest"',
      'reach transform/ through its named entry, "../transform"',
      "infra/ must not import local/",
      "local/ must not import cli/",
      "only infra/, local/ and index.ts may import @pulumi/*; keep the data logic free of Pulumi",
      "the program must not import tests",
    ]);
    expect(
      capabilityCycles([
        at("pipeline/ingest/a.ts", "../transform", "pipeline/transform/index.ts"),
        at("pipeline/transform/b.ts", "../ingest", "pipeline/ingest/index.ts"),
      ]),
    ).to.deep.equal(["ingest -> transform -> ingest", "transform -> ingest -> transform"]);
  });
});
