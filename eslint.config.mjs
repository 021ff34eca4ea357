// One linter for all TypeScript, type-aware; Prettier owns formatting.
import js from "@eslint/js";
import pulumi from "@pulumi/eslint-plugin";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", ".local-data/", "bench-out/"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { "@pulumi": pulumi },
    rules: {
      // An Output in a template literal prints "Calling [toString] on an Output<T>", not the value.
      "@pulumi/no-output-in-template-literal": "error",
      "@pulumi/no-output-instance-in-template-literal": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
    },
  },
  {
    // Code the Lambdas run (core and the capabilities) is serialized by Pulumi, which cannot
    // carry native private fields.
    files: ["pipeline/**/*.ts"],
    ignores: ["pipeline/infra/**", "pipeline/cli/**", "pipeline/local/**", "pipeline/bench/**"],
    rules: {
      "no-restricted-syntax": [
        "error",
        { selector: "PrivateIdentifier", message: "Use `private x`: Pulumi cannot serialize #private fields." },
        { selector: "StaticBlock", message: "Pulumi cannot serialize static blocks; initialize in the class body." },
        {
          selector: "ClassDeclaration[superClass.name='Error']:not([id.name='PipelineError'])",
          message: "Extend PipelineError (errors.ts): a serialized subclass of Error loses its message.",
        },
      ],
    },
  },
  {
    files: ["tests/**/*.ts"],
    rules: {
      // chai's `expect(x).to.be.empty` style reads as an unused expression.
      "@typescript-eslint/no-unused-expressions": "off",
    },
  },
  { files: ["**/*.mjs"], ...tseslint.configs.disableTypeChecked },
);
