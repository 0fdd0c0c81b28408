/**
 * The proxy's observing flags (docs/spec.md, sections 6, 7 and 9), with the official SDK clients
 * driving real proxy processes: `--log` writes one JSON line per decision with nothing secret by
 * default (`--log-args hmac|clear` as asked), `--shadow` lets refused calls reach the upstream
 * and logs what enforcement would have done, `--watch` and SIGHUP swap in a valid policy within
 * a second (budgets kept, clients told their tools changed) and keep the running one when the
 * new file is invalid.
 */

import { createHmac } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, describe, expect, it } from "vitest";
import { eventually, startProxy, UPSTREAM } from "../mcp/proxy-process.js";
import { client1, client2, outcomeOf, startGateway, stopAll, tempDir, writeTemp } from "./gateway-process.js";

afterAll(stopAll);

const SECRET_ARG = "sk-live-do-not-log-me";
const policy = (getRunMax: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    version: "1",
    name: "observed",
    default: "deny",
    tools: { get_run: { rate_limit: { max: getRunMax, window: "1h", per: "global" } }, ...extra },
  });

type Caller = { callTool: (p: { name: string; arguments: Record<string, unknown> }) => Promise<unknown> };
const call = (c: Caller, name = "get_run", args: Record<string, unknown> = { run_id: SECRET_ARG }) =>
  c.callTool({ name, arguments: args });

/** The log's lines, once it has at least `n` (the proxy writes through a buffering stream). */
async function logLines(file: string, n: number): Promise<Record<string, unknown>[]> {
  const read = () =>
    existsSync(file)
      ? readFileSync(file, "utf8")
          .split("\n")
          .filter((l) => l !== "")
      : [];
  await eventually(() => read().length >= n, 5000);
  return read().map((l) => JSON.parse(l) as Record<string, unknown>);
}

const canonical = (v: unknown): string =>
  Array.isArray(v)
    ? `[${v.map(canonical).join(",")}]`
    : typeof v === "object" && v !== null
      ? `{${Object.keys(v)
          .sort()
          .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
          .join(",")}}`
      : JSON.stringify(v);

describe("toolgate proxy --log", () => {
  it("appends one line per decision, with no arguments by default", async () => {
    const log = join(tempDir(), "decisions.jsonl");
    writeFileSync(log, '{"earlier":"line"}\n');
    const gw = await startGateway(["--policy", writeTemp("p.json", policy(1)), "--log", log]);
    const c = await client2(gw.url);
    await call(c);
    await call(c);
    await call(c, "delete_run");
    const lines = await logLines(log, 4);
    expect(lines[0]).toEqual({ earlier: "line" });
    expect(lines.slice(1).map((l) => [l.tool, l.outcome, l.session, l.policy])).toEqual([
      ["get_run", "allow", "anonymous", "observed"],
      ["get_run", "rate_limited", "anonymous", "observed"],
      ["delete_run", "deny", "anonymous", "observed"],
    ]);
    expect(lines[3]?.cause).toBe("policy");
    expect(readFileSync(log, "utf8")).not.toContain(SECRET_ARG);
    for (const line of lines.slice(1)) expect(Object.keys(line)).not.toContain("args");
    await c.close();
    await gw.stop();
  });

  it("writes an HMAC of the arguments with --log-args hmac, and the arguments with clear", async () => {
    const key = "log-key-for-the-test";
    const hmacLog = join(tempDir(), "hmac.jsonl");
    const a = await startGateway(["--policy", writeTemp("p.json", policy(5)), "--log", hmacLog, "--log-args", "hmac"], {
      env: { TOOLGATE_LOG_KEY: key },
    });
    const ca = await client1(a.url);
    await call(ca);
    const [line] = await logLines(hmacLog, 1);
    expect(line?.argsHmac).toBe(
      createHmac("sha256", key)
        .update(canonical({ run_id: SECRET_ARG }))
        .digest("hex"),
    );
    expect(readFileSync(hmacLog, "utf8")).not.toContain(SECRET_ARG);
    await ca.close();
    await a.stop();

    const clearLog = join(tempDir(), "clear.jsonl");
    const b = await startGateway([
      "--policy",
      writeTemp("p.json", policy(5)),
      "--log",
      clearLog,
      "--log-args",
      "clear",
    ]);
    const cb = await client1(b.url);
    await call(cb);
    const [clear] = await logLines(clearLog, 1);
    expect(clear?.args).toEqual({ run_id: SECRET_ARG });
    expect(clear?.session).toMatch(/^[0-9a-f-]{36}$/);
    await cb.close();
    await b.stop();
  });

  it("is an error at start when the log file cannot be opened", async () => {
    const r = await startGateway([
      "--policy",
      writeTemp("p.json", policy(1)),
      "--log",
      join(tempDir(), "missing-dir", "x.jsonl"),
    ]).then(
      () => "started",
      (e: unknown) => String(e),
    );
    expect(r).toMatch(/--log .*cannot be opened for appending/);
  });
});

describe("toolgate proxy --shadow", () => {
  it("lets every well-formed call reach the upstream and logs what enforcement would have done", async () => {
    const log = join(tempDir(), "shadow.jsonl");
    const gw = await startGateway(["--policy", writeTemp("p.json", policy(1)), "--shadow", "--log", log]);
    const c = await client2(gw.url);
    // Shadow mode lists every tool the upstream has (none is refused).
    expect((await c.listTools()).tools.map((t) => t.name)).toContain("delete_run");
    const results = [await call(c), await call(c), await call(c, "delete_run", { run_id: "r2" })];
    for (const r of results) {
      expect(outcomeOf(r)).toBe("allow");
      expect((r as { content: { text: string }[] }).content[0]?.text).toMatch(/get_run|delete_run/);
    }
    const lines = await logLines(log, 3);
    expect(lines.map((l) => [l.tool, l.outcome, l.shadow])).toEqual([
      ["get_run", "allow", true],
      ["get_run", "rate_limited", true],
      ["delete_run", "deny", true],
    ]);
    await c.close();
    await gw.stop();
  });
});

describe("toolgate proxy --watch", () => {
  it("over HTTP: an edit decides the next call, keeps budgets, tells clients; an invalid one is refused", async () => {
    const file = writeTemp("p.json", policy(3));
    const gw = await startGateway(["--policy", file, "--watch"]);
    const c = await client1(gw.url);
    let changed = 0;
    c.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      changed++;
    });
    expect((await c.listTools()).tools.map((t) => t.name)).toEqual(["get_run"]);
    expect(outcomeOf(await call(c))).toBe("allow");
    expect(outcomeOf(await call(c))).toBe("allow");

    // An invalid file: its issues on stderr, the running policy stays.
    writeFileSync(file, '{"version": "1", "default": "maybe", "tools": {}}');
    expect(
      await eventually(() => /is not a valid policy; the running policy stays in force/.test(gw.stderr()), 3000),
    ).toBe(true);
    expect(gw.stderr()).toMatch(/\/default/);
    expect(outcomeOf(await call(c))).toBe("allow");

    // A valid edit: max 4 and a new tool. The budget (3 spent) continues under the new max.
    writeFileSync(file, policy(4, { delete_run: {} }));
    const written = Date.now();
    expect(await eventually(() => /reloaded/.test(gw.stderr()), 3000)).toBe(true);
    // Within a second of the write (generously checked: this is a bound, not a speed claim).
    expect(Date.now() - written).toBeLessThan(3000);
    expect(outcomeOf(await call(c))).toBe("allow");
    expect(outcomeOf(await call(c))).toBe("rate_limited");
    expect(outcomeOf(await call(c, "delete_run"))).toBe("allow");
    expect(await eventually(() => changed > 0, 3000)).toBe(true);
    expect((await c.listTools()).tools.map((t) => t.name).sort()).toEqual(["delete_run", "get_run"]);
    await c.close();
    await gw.stop();
  });

  it("over stdio: reloads on SIGHUP without --watch, and tells the client its tools changed", async () => {
    const file = writeTemp("p.json", policy(5));
    const run = await startProxy(["--policy", file, "--", process.execPath, UPSTREAM]);
    let changed = 0;
    run.client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      changed++;
    });
    expect((await run.client.listTools()).tools.map((t) => t.name)).toEqual(["get_run"]);
    expect(outcomeOf(await call(run.client, "delete_run"))).toBe("deny");
    writeFileSync(file, policy(5, { delete_run: {} }));
    // Without --watch a write changes nothing until SIGHUP.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(outcomeOf(await call(run.client, "delete_run"))).toBe("deny");
    run.child.kill("SIGHUP");
    expect(await eventually(() => /reloaded/.test(run.stderr()), 3000)).toBe(true);
    expect(outcomeOf(await call(run.client, "delete_run"))).toBe("allow");
    expect(await eventually(() => changed > 0, 3000)).toBe(true);
    // A reload that changes no visible tool sends no notification.
    const before = changed;
    writeFileSync(file, policy(6, { delete_run: {} }));
    run.child.kill("SIGHUP");
    expect(await eventually(() => (run.stderr().match(/reloaded/g) ?? []).length === 2, 3000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(changed).toBe(before);
    await run.client.close();
    expect(await run.exited).toBe(0);
  });
});
