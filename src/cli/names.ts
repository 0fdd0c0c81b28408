/**
 * The words of a tool or argument name, however it is written (`get-env`, `getEnv`,
 * `GET_ENV`, `source_path`, `targetURL`), for the CLI's checks that read names.
 */

/** Lower-case words of `name`: split at every non-alphanumeric run and at case changes. */
export function nameWords(name: string): string[] {
  // Bounded: names come from a server's tool list, which anyone can write.
  const text = name.length > 256 ? name.slice(0, 256) : name;
  return text
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w !== "")
    .map((w) => w.toLowerCase());
}
