/**
 * `toolgate/testing`: helpers to unit-test policies under vitest (or jest), and the
 * conformance suite that every store implementation must pass.
 *
 * @packageDocumentation
 */

