// ESLint for the whole repository: `npm run lint` (with `prettier --check`, which owns layout).
//
// typescript-eslint rather than Biome: its type-aware rules (floating promises, promises passed
// where a callback's result is ignored, awaits of non-promises, `any` flowing out of JSON) see
// the types the engine's guarantees depend on ("decide never rejects"), which a linter without
// the TypeScript checker cannot; eslint-plugin-jsdoc then requires TSDoc on every export.
//
// Three tiers, strictest first:
// - src/: the shipped package. Type-checked rules, TSDoc on every export.
// - test/: type-checked rules that catch tests which cannot fail (an unawaited `expect(…).rejects`
//   passes whatever happens); the `any`-hygiene rules are off, since tests feed hostile values on
//   purpose.
// - bench/, scripts/, examples/ (plain ESM JavaScript): ESLint's recommended rules only.

import js from "@eslint/js";
import jsdoc from "eslint-plugin-jsdoc";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

// The .mjs files run on node: its globals are exactly those of the node running ESLint, so they
// are read from it rather than from a list that could drift (and `require` is rightly undefined).
const nodeGlobals = Object.fromEntries(Object.getOwnPropertyNames(globalThis).map((name) => [name, "readonly"]));

const TS = ["**/*.ts", "**/*.mts", "**/*.cts"];
const JS = ["**/*.js", "**/*.mjs", "**/*.cjs"];

export default defineConfig(
  {
    ignores: ["dist/", "node_modules/", "coverage/", ".redis-test/", "**/*.cpuprofile"],
  },
  {
    linterOptions: { reportUnusedDisableDirectives: "error" },
  },

  // Everything: ESLint's own recommended rules and the line length of the project's standard.
  {
    files: [...TS, ...JS],
    extends: [js.configs.recommended],
    rules: {
      // prettier wraps code at 120 but cannot split a string, a template or a comment: this
      // catches the lines it leaves long. URLs and regular expressions cannot be split either.
      "max-len": ["error", { code: 120, ignoreUrls: true, ignoreRegExpLiterals: true }],
      eqeqeq: ["error", "always", { null: "ignore" }],
      // Hostile-input code checks for NUL and other control characters on purpose.
      "no-control-regex": "off",
    },
  },

  // Plain JavaScript (bench, scripts, examples, this file): node ESM.
  {
    files: JS,
    languageOptions: { ecmaVersion: "latest", sourceType: "module", globals: nodeGlobals },
    rules: {
      "no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },

  // TypeScript, type-aware: src and test (both are in tsconfig.json, which the project service reads).
  {
    files: TS,
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Real bugs, on everywhere. A promise nobody awaits loses its rejection (and in a test,
      // its assertion); a promise where a callback's result is ignored does the same.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      // `return promise` inside try/catch escapes the catch: "decide never rejects" depends on it.
      "@typescript-eslint/return-await": ["error", "in-try-catch"],
      // Decisions, causes and outcomes are unions: a switch that forgets a member is a bug.
      "@typescript-eslint/switch-exhaustiveness-check": [
        "error",
        { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: false },
      ],
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
      // Off: an `async` function without `await` is how this code turns a throw into a
      // rejection and keeps one return type; it is deliberate, not a mistake.
      "@typescript-eslint/require-await": "off",
      // Off: TypeScript itself reports undefined names, with the right globals for each file.
      "no-undef": "off",
    },
  },

  // The shipped package: TSDoc on every export, in TSDoc's syntax (no types in comments).
  {
    files: ["src/**/*.ts"],
    plugins: { jsdoc },
    settings: { jsdoc: { mode: "typescript" } },
    rules: {
      "jsdoc/require-jsdoc": [
        "error",
        {
          publicOnly: true,
          // An inserted empty comment would satisfy the rule and document nothing.
          enableFixer: false,
          require: { FunctionDeclaration: true, ClassDeclaration: true },
          contexts: [
            "TSInterfaceDeclaration",
            "TSTypeAliasDeclaration",
            "TSEnumDeclaration",
            "ExportNamedDeclaration > VariableDeclaration",
          ],
        },
      ],
      "jsdoc/check-tag-names": [
        "error",
        { definedTags: ["packageDocumentation", "remarks", "defaultValue", "typeParam", "internal", "privateRemarks"] },
      ],
      "jsdoc/check-param-names": "error",
      "jsdoc/check-alignment": "error",
      "jsdoc/empty-tags": "error",
      "jsdoc/multiline-blocks": "error",
      "jsdoc/no-multi-asterisks": ["error", { allowWhitespace: true }],
      // TypeScript has the types; a `{type}` in a comment can only disagree with them.
      "jsdoc/no-types": "error",
      // `/* @default 5 */` was meant as TSDoc and is invisible to editors.
      "jsdoc/no-bad-blocks": "error",
    },
  },

  // Tests feed `any`, hostile objects and methods pulled off instances on purpose.
  {
    files: ["test/**/*.ts", "test/**/*.mts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/unbound-method": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
);
