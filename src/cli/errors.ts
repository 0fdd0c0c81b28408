/**
 * The CLI's one error type: the command could not run (bad usage, a missing or malformed input
 * file). It is printed as one line and the process exits with status 2.
 */

/** A problem with how the command was called or with its input files; exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Exit statuses: 0 all good, 1 the command ran and found a problem, 2 it could not run. */
export const EXIT_OK = 0;
/** The command ran and found a problem (invalid policy, failed case, finding under `--strict`). */
export const EXIT_FINDINGS = 1;
/** The command could not run: bad usage, a missing file, a malformed cases or tools file. */
export const EXIT_USAGE = 2;
