#!/usr/bin/env node
/**
 * `npm pack` / `npm publish` run this first (the `prepack` script): a clean, complete build.
 *
 * tsup.config.ts does not clean `dist/` on purpose (several development builds may run at once,
 * and a clean would delete files another process is importing), so a tarball built from a
 * working tree could carry files left by an older layout. Here nothing else is building: remove
 * `dist/`, build with declarations whatever the shell says (`TOOLGATE_NO_DTS` is for quick local
 * builds and must never reach a tarball), then check that every file package.json points at
 * exists, so a tarball can never ship an entry point or a declaration file that is missing.
 */

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

rmSync(join(root, "dist"), { recursive: true, force: true });

const env = { ...process.env };
delete env.TOOLGATE_NO_DTS;
// tsup's own entry, run by this node: no shell, no PATH lookup, the same on every platform.
const require = createRequire(import.meta.url);
const tsupManifest = require.resolve("tsup/package.json");
const tsup = join(dirname(tsupManifest), JSON.parse(readFileSync(tsupManifest, "utf8")).bin.tsup);
const built = spawnSync(process.execPath, [tsup], { cwd: root, env, stdio: "inherit" });
if (built.status !== 0) {
  console.error(`prepack: the build failed (${built.error?.message ?? `exit ${String(built.status)}`})`);
  process.exit(1);
}

/** Every relative file path in the manifest's entry points: exports (any depth), main, module, types, bin. */
function targets(pkg) {
  const found = [];
  const walk = (v) => {
    if (typeof v === "string") found.push(v);
    else if (v !== null && typeof v === "object") for (const x of Object.values(v)) walk(x);
  };
  walk(pkg.exports);
  walk(pkg.bin);
  for (const key of ["main", "module", "types"]) walk(pkg[key]);
  return [...new Set(found)];
}

const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const missing = targets(pkg).filter((p) => !p.includes("*") && !existsSync(join(root, p)));
if (missing.length > 0) {
  console.error(`prepack: package.json points at files the build did not make:\n  ${missing.join("\n  ")}`);
  process.exit(1);
}
