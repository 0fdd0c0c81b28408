/**
 * `contains` without one retained error object per item. ajv's own keeps the errors of every
 * item that fails the subschema until the loop ends (it resets them only then): an array of a
 * million non-matching items held a million error objects (~160 bytes each, with their
 * `instancePath` strings) at once, so 1 MB of arguments cost tens of MB and the collector's
 * time grew faster than the array. This is ajv's definition, with the errors of each failing
 * item dropped as soon as that item is counted; what the keyword decides is unchanged.
 */

import { _, type Ajv2020, type CodeKeywordDefinition, type KeywordCxt, type Name } from "ajv/dist/2020.js";
import containsModule from "ajv/dist/vocabularies/applicator/contains.js";

// A CommonJS module: depending on the loader its definition is the default or the module's.
const original: CodeKeywordDefinition =
  (containsModule as unknown as { default?: CodeKeywordDefinition }).default ??
  (containsModule as unknown as CodeKeywordDefinition);

const definition: CodeKeywordDefinition = {
  ...original,
  code(cxt: KeywordCxt) {
    const subschema = cxt.subschema.bind(cxt);
    // ajv's contains evaluates each item through cxt.subschema; right after, a failing item's
    // errors are reset to the count the keyword started with (trackErrors gives that count).
    cxt.subschema = (appl: Parameters<KeywordCxt["subschema"]>[0], valid: Name) => {
      const sub = subschema(appl, valid);
      cxt.gen.if(_`!${valid}`, () => cxt.reset());
      return sub;
    };
    original.code(cxt);
  },
};

/** Replaces ajv's `contains` with the one above, on `ajv`. Call before compiling any schema. */
export function addLeanContains(ajv: Ajv2020): void {
  ajv.removeKeyword("contains");
  ajv.addKeyword(definition);
}
