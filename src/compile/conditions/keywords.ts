/**
 * The keywords a `when` schema may use, each with where its value holds subschemas: one
 * own-property table (a `Map`) that both the audit and the rewrite for ajv walk by.
 */

/** Where a keyword's value holds subschemas. */
export const enum Kind {
  /** No subschema: a number, a string, a list of names, a constant. */
  Value,
  Schema,
  SchemaList,
  /** A schema, or (for `items`, as ajv still reads it) a list of schemas. */
  SchemaOrList,
  SchemaMap,
  /** `dependencies`: each member a schema or a list of names. */
  SchemaOrNames,
}

/** Every keyword a `when` schema may use: draft 2020-12 as ajv implements it, and ajv-formats' limits. */
export const KEYWORDS: ReadonlyMap<string, Kind> = new Map<string, Kind>([
  // Core and applicators.
  ["$schema", Kind.Value],
  ["$id", Kind.Value],
  ["$ref", Kind.Value],
  ["$anchor", Kind.Value],
  ["$dynamicRef", Kind.Value],
  ["$dynamicAnchor", Kind.Value],
  ["$vocabulary", Kind.Value],
  ["$comment", Kind.Value],
  ["$defs", Kind.SchemaMap],
  ["definitions", Kind.SchemaMap],
  ["allOf", Kind.SchemaList],
  ["anyOf", Kind.SchemaList],
  ["oneOf", Kind.SchemaList],
  ["not", Kind.Schema],
  ["if", Kind.Schema],
  ["then", Kind.Schema],
  ["else", Kind.Schema],
  ["properties", Kind.SchemaMap],
  ["patternProperties", Kind.SchemaMap],
  ["additionalProperties", Kind.Schema],
  ["propertyNames", Kind.Schema],
  ["dependentSchemas", Kind.SchemaMap],
  ["dependencies", Kind.SchemaOrNames],
  ["prefixItems", Kind.SchemaList],
  ["items", Kind.SchemaOrList],
  ["contains", Kind.Schema],
  ["unevaluatedItems", Kind.Schema],
  ["unevaluatedProperties", Kind.Schema],
  ["contentSchema", Kind.Schema],
  // Validation.
  ["type", Kind.Value],
  ["enum", Kind.Value],
  ["const", Kind.Value],
  ["multipleOf", Kind.Value],
  ["maximum", Kind.Value],
  ["exclusiveMaximum", Kind.Value],
  ["minimum", Kind.Value],
  ["exclusiveMinimum", Kind.Value],
  ["maxLength", Kind.Value],
  ["minLength", Kind.Value],
  ["pattern", Kind.Value],
  ["format", Kind.Value],
  ["maxItems", Kind.Value],
  ["minItems", Kind.Value],
  ["uniqueItems", Kind.Value],
  ["maxContains", Kind.Value],
  ["minContains", Kind.Value],
  ["maxProperties", Kind.Value],
  ["minProperties", Kind.Value],
  ["required", Kind.Value],
  ["dependentRequired", Kind.Value],
  ["nullable", Kind.Value],
  // Annotations.
  ["title", Kind.Value],
  ["description", Kind.Value],
  ["default", Kind.Value],
  ["deprecated", Kind.Value],
  ["readOnly", Kind.Value],
  ["writeOnly", Kind.Value],
  ["examples", Kind.Value],
  ["contentMediaType", Kind.Value],
  ["contentEncoding", Kind.Value],
  // ajv-formats: bounds on formatted values (dates, times).
  ["formatMaximum", Kind.Value],
  ["formatMinimum", Kind.Value],
  ["formatExclusiveMaximum", Kind.Value],
  ["formatExclusiveMinimum", Kind.Value],
]);

/** Deeper than any policy document can be (its own limit is 128 levels); a guard for direct callers. */
export const MAX_SCHEMA_DEPTH = 256;
