// Starts the gateway of examples/gateway/README.md: `toolgate proxy --listen` in front of the
// reference "everything" MCP server, with bearer tokens (HS256) and a decision log, and budgets in
// Redis when REDIS_URL is set. Run `npm run build` once, then:
//
//   TOOLGATE_JWT_SECRET=$(openssl rand -base64 32) node examples/gateway/start.mjs
//
// PORT (default 8080) and LOG (default decisions.jsonl in this directory) change the defaults.
// The gateway runs until Ctrl-C (SIGINT) or SIGTERM; calls in flight finish first.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const require = createRequire(import.meta.url);
const everything = require.resolve("@modelcontextprotocol/server-everything/dist/index.js");

if (!process.env.TOOLGATE_JWT_SECRET) {
  console.error("Set TOOLGATE_JWT_SECRET to a secret of at least 32 bytes, e.g. $(openssl rand -base64 32)");
  process.exit(2);
}
const args = [
  here("../../dist/cli.js"),
  "proxy",
  "--policy",
  here("policy.json"),
  "--listen",
  `127.0.0.1:${process.env.PORT ?? "8080"}`,
  "--auth-secret-env",
  "TOOLGATE_JWT_SECRET",
  "--auth-audience",
  "toolgate-example",
  "--log",
  process.env.LOG ?? here("decisions.jsonl"),
  ...(process.env.REDIS_URL ? ["--redis", process.env.REDIS_URL] : []),
  "--",
  process.execPath,
  everything,
];
const gateway = spawn(process.execPath, args, { stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => gateway.kill(signal));
gateway.on("exit", (code) => process.exit(code ?? 1));
