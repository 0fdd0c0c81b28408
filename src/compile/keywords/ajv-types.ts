/** The ajv types the keywords use that ajv's 2020 entry does not re-export. */

import type { FuncKeywordDefinition } from "ajv/dist/2020.js";

/** What a keyword's `compile` returns: a data check that may set `errors` on itself. */
export type DataValidateFunction = ReturnType<NonNullable<FuncKeywordDefinition["compile"]>>;
