/**
 * toolgate's keywords beyond JSON Schema, `pathWithin` and `urlHostIn` (docs/spec.md, "Two
 * keywords beyond JSON Schema"), registered on the ajv instance that compiles `when` schemas.
 *
 * Their values are checked by a meta-schema that extends draft 2020-12's, made the instance's
 * default: ajv's `validateSchema` then reports a bad listed path or host at its own JSON Pointer
 * (`.../pathWithin/1`), at any depth, like every other bad keyword value, where a keyword's
 * own compile step could only throw an error that names no place.
 */

import type { Ajv2020, ErrorObject, FuncKeywordDefinition, SchemaObject } from "ajv/dist/2020.js";
import type { DataValidateFunction } from "./ajv-types.js";
import { pathWithinIssues, pathWithinKeyword } from "./path-within.js";
import { urlHostInIssues, urlHostInKeyword } from "./url-host-in.js";

export { MAX_PATH_LENGTH } from "./path-within.js";
export { MAX_URL_LENGTH } from "./url-host-in.js";

/** The names of the keywords toolgate adds to `when` schemas. */
export const TOOLGATE_KEYWORDS = ["pathWithin", "urlHostIn"] as const;

const META_ID = "https://toolgate.dev/schemas/when-meta.json";
const DRAFT_2020 = "https://json-schema.org/draft/2020-12/schema";

// Used only inside META: its compile step refuses every other schema, so it never becomes a
// keyword a policy can write (a policy that tries gets "unknown keyword").
const LISTED = "toolgate:listedValues";

/**
 * Draft 2020-12's meta-schema plus the two keywords. `$dynamicAnchor: "meta"` at the root makes
 * every `$dynamicRef: "#meta"` inside the draft's vocabularies (the subschemas of `properties`,
 * `items`, `anyOf`, …) come back here, so the values are checked at any depth.
 */
const META: SchemaObject = {
  $schema: DRAFT_2020,
  $id: META_ID,
  $dynamicAnchor: "meta",
  allOf: [{ $ref: DRAFT_2020 }],
  properties: {
    pathWithin: { [LISTED]: "pathWithin" },
    urlHostIn: { [LISTED]: "urlHostIn" },
  },
};

const ISSUES: Record<string, (schema: unknown) => { at: string; message: string }[]> = {
  pathWithin: pathWithinIssues,
  urlHostIn: urlHostInIssues,
};

const listedValuesKeyword: FuncKeywordDefinition = {
  keyword: LISTED,
  schemaType: "string",
  errors: true,
  compile(kind: string, _parent: unknown, it: { schemaEnv: { root: { schema: unknown } } }): DataValidateFunction {
    const issuesOf = ISSUES[kind];
    // ajv keeps the meta-schema object it was given as the root of its environment.
    if (it.schemaEnv.root.schema !== META || issuesOf === undefined) throw new Error(`unknown keyword: "${LISTED}"`);
    const validate: DataValidateFunction = (data, cxt) => {
      const issues = issuesOf(data);
      if (issues.length === 0) return true;
      const base = cxt?.instancePath ?? "";
      validate.errors = issues.map(
        (i) =>
          ({ keyword: kind, instancePath: base + i.at, message: i.message, params: {} }) satisfies Partial<ErrorObject>,
      );
      return false;
    };
    return validate;
  },
};

/**
 * Adds `pathWithin` and `urlHostIn` to `ajv`, and makes the meta-schema that checks their values
 * its default. Call once, right after creating the instance, before compiling any schema.
 */
export function addToolgateKeywords(ajv: Ajv2020): Ajv2020 {
  ajv.addKeyword(pathWithinKeyword);
  ajv.addKeyword(urlHostInKeyword);
  ajv.addKeyword(listedValuesKeyword);
  ajv.addMetaSchema(META);
  ajv.opts.defaultMeta = META_ID;
  return ajv;
}
