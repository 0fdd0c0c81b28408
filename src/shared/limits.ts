/** The documented size limits of a policy document. */

/** The deepest nesting a policy document may have. Real policies need a handful of levels. */
export const MAX_DEPTH = 128;

/** The most values (objects, arrays, strings, numbers…) a policy document may hold. */
export const MAX_NODES = 5_000_000;
