/**
 * The CommonJS bundles of the ES module packages the Lambdas load (pipeline/local/cjs-bundles.ts):
 * current, what `require` resolves to, self-contained, the same exports as the ES modules, and
 * rebuilt when a source changes. tests/infra/lambda-package.test.ts runs them packaged.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { expect } from "chai";
import {
  CJS_BUNDLES,
  buildCjsBundles,
  bundleFile,
  bundleText,
  packageDirOf,
  staleBundles,
} from "../../pipeline/local/cjs-bundles";
import { PROJECT_DIR } from "../../pipeline/local/plan";

describe("CommonJS bundles of the ES module dependencies", function () {
  this.timeout(120_000);

  for (const bundle of CJS_BUNDLES) {
    describe(bundle.name, () => {
      it("is exactly what esbuild makes of the installed (patched) sources now", () => {
        expect(readFileSync(bundleFile(PROJECT_DIR, bundle), "utf8")).to.equal(bundleText(PROJECT_DIR, bundle));
      });

      it("is what require() resolves the package to, and requires only Node's own modules", () => {
        expect(require.resolve(bundle.name, { paths: [PROJECT_DIR] })).to.equal(bundleFile(PROJECT_DIR, bundle));
        const required = [...readFileSync(bundleFile(PROJECT_DIR, bundle), "utf8").matchAll(/require\("([^"]+)"\)/g)];
        for (const [, name] of required) expect(builtinModules, `${bundle.name} requires ${name}`).to.include(name);
      });

      it("exports what the ES modules export", async () => {
        const esm = (await import(
          pathToFileURL(path.join(packageDirOf(PROJECT_DIR, bundle.name), bundle.entry)).href
        )) as Record<string, unknown>;
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- the CommonJS side is the subject
        const cjs = require(bundleFile(PROJECT_DIR, bundle)) as Record<string, unknown>;
        const names = (m: Record<string, unknown>) =>
          Object.keys(m)
            .filter((k) => k !== "__esModule")
            .sort();
        expect(names(cjs)).to.deep.equal(names(esm));
        expect(names(cjs)).to.have.length.greaterThan(0);
        for (const name of names(esm)) expect(typeof cjs[name], name).to.equal(typeof esm[name]);
      });
    });
  }

  describe("in a copy of the packages", () => {
    let project: string;

    before(() => {
      project = mkdtempSync(path.join(tmpdir(), "cjs-bundles-"));
      for (const { name } of CJS_BUNDLES) {
        cpSync(packageDirOf(PROJECT_DIR, name), packageDirOf(project, name), {
          recursive: true,
          preserveTimestamps: true,
        });
      }
    });

    after(() => rmSync(project, { recursive: true, force: true }));

    it("rebuilds a bundle whose sources changed, and only that one", () => {
      expect(staleBundles(project)).to.deep.equal([]);
      const writer = CJS_BUNDLES.find((b) => b.name === "hyparquet-writer")!;
      const source = path.join(packageDirOf(project, writer.name), writer.entry);
      writeFileSync(source, `${readFileSync(source, "utf8")}\nexport const addedByTheTest = 1\n`);
      // The bundle as it was before the edit: older than the source.
      const before = new Date(Date.now() - 3_600_000);
      utimesSync(bundleFile(project, writer), before, before);
      expect(staleBundles(project).map((b) => b.name)).to.deep.equal(["hyparquet-writer"]);
      expect(buildCjsBundles(project).map((b) => b.name)).to.deep.equal(["hyparquet-writer"]);
      expect(staleBundles(project)).to.deep.equal([]);
      expect(readFileSync(bundleFile(project, writer), "utf8")).to.include("addedByTheTest");
    });

    it("refuses to bundle a package whose patch is missing, naming the fix", () => {
      const ky = CJS_BUNDLES.find((b) => b.name === "ky")!;
      const manifest = path.join(packageDirOf(project, "ky"), "package.json");
      writeFileSync(manifest, readFileSync(manifest, "utf8").replace(/\s*"require": "[^"]+",/, ""));
      rmSync(bundleFile(project, ky));
      expect(() => buildCjsBundles(project)).to.throw(
        /node_modules\/ky\/package.json has no "require": ".\/cjs\/index.cjs" export; .*run `npx patch-package`/,
      );
    });
  });
});
