#!/usr/bin/env node
/**
 * `npm run lockfile`: brings package-lock.json in step with package.json, the one safe way.
 * `npm run lockfile -- --check`: fails (exit 1) when package-lock.json is not what that would write.
 *
 * Why not `npm install`: npm writes the lockfile from the packages it finds in node_modules, and
 * node_modules holds only this platform's native builds (rollup's, esbuild's). A lockfile written
 * in a working tree can therefore lack every other platform's optional packages, which npm 11's
 * own `npm ci` then refuses ("Missing: @rollup/rollup-darwin-arm64 from lock file", npm/cli#4828),
 * and the next `npm install` on a fresh clone adds them back, dirtying the clone. Here npm works
 * in a temporary directory holding only package.json and the current lockfile: with no
 * node_modules it resolves from the registry's metadata, keeps every locked version, and lists
 * every platform's packages. Nothing in node_modules is touched, so it is safe while others work.
 */

import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const check = process.argv.includes("--check");
const unknown = process.argv.slice(2).filter((a) => a !== "--check");
if (unknown.length > 0) {
  console.error(`lockfile: unknown argument ${unknown[0]} (the only option is --check)`);
  process.exit(2);
}

const lockPath = join(root, "package-lock.json");
const before = existsSync(lockPath) ? readFileSync(lockPath, "utf8") : undefined;
const work = mkdtempSync(join(tmpdir(), "toolgate-lockfile-"));
let after;
try {
  copyFileSync(join(root, "package.json"), join(work, "package.json"));
  if (before !== undefined) writeFileSync(join(work, "package-lock.json"), before);
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const args = ["install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"];
  const result = spawnSync(npm, args, { cwd: work, stdio: ["ignore", "inherit", "inherit"] });
  if (result.status !== 0) {
    const why = result.error?.message ?? `exit ${String(result.status)}`;
    console.error(`lockfile: npm ${args.join(" ")} failed (${why})`);
    process.exit(1);
  }
  after = readFileSync(join(work, "package-lock.json"), "utf8");
} finally {
  rmSync(work, { recursive: true, force: true });
}

if (after === before) {
  console.log("lockfile: package-lock.json is in step with package.json");
} else if (check) {
  console.error("lockfile: package-lock.json is not what package.json gives: run `npm run lockfile` and commit it");
  process.exit(1);
} else {
  writeFileSync(lockPath, after);
  console.log("lockfile: package-lock.json updated; run `npm ci` (or `npm install`) to install it");
}
