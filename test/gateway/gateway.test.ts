/**
 * `toolgate proxy --listen` end to end (docs/spec.md, sections 8 and 9), driven by the official
 * SDK clients of both lines over real loopback HTTP: both eras on one endpoint, a budget per
 * session, anonymous stateless clients sharing one budget, 401 without a valid token (HS256 and a
 * local JWKS server), budgets that follow `sub` across connections, host checks, and shutdown.
 */

import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import {
  client1,
  client2,
  outcomeOf,
  runCli,
  SLOW_UPSTREAM,
  startGateway,
  stopAll,
  writeTemp,
} from "./gateway-process.js";

const SECRET = "a-test-secret-that-is-long-enough-for-hs256!";
const POLICY = JSON.stringify({
  version: "1",
  name: "gateway-test",
  default: "deny",
  tools: {
    get_run: { rate_limit: { max: 2, window: "1h" } },
    get_experiments: { rate_limit: { max: 2, window: "1h", per: "/claims/team" } },
    delete_run: {
      rules: [{ when: { session: { required: ["claims"], properties: { claims: { required: ["admin"] } } } } }],
    },
  },
});

afterAll(stopAll);

const call = (
  c: { callTool: (p: { name: string; arguments: Record<string, unknown> }) => Promise<unknown> },
  name = "get_run",
) => c.callTool({ name, arguments: name === "get_experiments" ? {} : { run_id: "r1" } }).then(outcomeOf);

/** A POST to /mcp with headers fetch would not send as given (Host). */
function rawStatus(port: number, headers: Record<string, string>, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/mcp",
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function hs256(claims: Record<string, unknown>, expires = "1h", secret = SECRET): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt()
    .setExpirationTime(expires)
    .sign(new TextEncoder().encode(secret));
}

describe("toolgate proxy --listen, no authentication", () => {
  it("serves a 2.x client on 2026-07-28 and a 1.x client on a 2025 session, each within its own budget", async () => {
    const gw = await startGateway(["--policy", writeTemp("p.json", POLICY)]);
    expect(gw.stderr()).toMatch(
      /upstream .*\(stdio\); budgets in memory .*; policy namespace "gateway-test"; no authentication/,
    );
    const modern = await client2(gw.url);
    expect(modern.getNegotiatedProtocolVersion()).toBe("2026-07-28");
    // get_experiments is budgeted per "/claims/team", which an anonymous session lacks: hidden.
    expect((await modern.listTools()).tools.map((t) => t.name).sort()).toEqual(["get_run"]);
    expect([await call(modern), await call(modern), await call(modern)]).toEqual(["allow", "allow", "rate_limited"]);

    const legacyA = await client1(gw.url);
    const legacyB = await client1(gw.url);
    expect(legacyA.transport?.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(legacyA.transport?.sessionId).not.toBe(legacyB.transport?.sessionId);
    // Each 2025 session is its own budget (section 8 rule 3), apart from the anonymous one.
    expect([await call(legacyA), await call(legacyA), await call(legacyA)]).toEqual(["allow", "allow", "rate_limited"]);
    expect([await call(legacyB), await call(legacyB), await call(legacyB)]).toEqual(["allow", "allow", "rate_limited"]);
    await Promise.all([modern.close(), legacyA.close(), legacyB.close()]);
    expect(await gw.stop()).toBe(0);
  });

  it("gives stateless 2026-07-28 clients one shared anonymous budget, never a fresh one per client", async () => {
    const gw = await startGateway(["--policy", writeTemp("p.json", POLICY)]);
    const first = await client2(gw.url);
    expect(await call(first)).toBe("allow");
    await first.close();
    const second = await client2(gw.url);
    expect(await call(second)).toBe("allow");
    const third = await client2(gw.url);
    const refused = (await third.callTool({ name: "get_run", arguments: { run_id: "r1" } })) as {
      _meta?: Record<string, { reason?: string }>;
    };
    expect(outcomeOf(refused)).toBe("rate_limited");
    await Promise.all([second.close(), third.close()]);
    await gw.stop();
  });

  it("answers /healthz, 404 elsewhere, 403 to a foreign Host or Origin, 400 to a body that is not JSON", async () => {
    const gw = await startGateway(["--policy", writeTemp("p.json", POLICY)]);
    const base = `http://127.0.0.1:${gw.port}`;
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    expect((await fetch(`${base}/other`)).status).toBe(404);
    const post = (headers: Record<string, string>, body: string) =>
      fetch(`${base}/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
        body,
      });
    const init = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x", version: "1" } },
    });
    // DNS rebinding: a page served as evil.example that resolves to 127.0.0.1.
    expect(await rawStatus(gw.port, { host: `evil.example:${gw.port}` }, init)).toBe(403);
    expect(await rawStatus(gw.port, { origin: "http://evil.example" }, init)).toBe(403);
    expect(
      await rawStatus(gw.port, { host: `localhost:${gw.port}`, origin: `http://localhost:${gw.port}` }, init),
    ).toBe(200);
    expect((await post({}, "{not json")).status).toBe(400);
    // A session id that was never issued, and a request with none that is not an initialize.
    expect(
      (await post({ "mcp-session-id": "nope" }, JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" })))
        .status,
    ).toBe(404);
    expect((await post({}, JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }))).status).toBe(400);
    // Deep and huge bodies: a clear error in bounded time, and the gateway still serves.
    const deep = `${"[".repeat(50_000)}${"]".repeat(50_000)}`;
    expect((await post({}, deep)).status).toBeGreaterThanOrEqual(400);
    // Over the 4 MiB bound: 413, sent as soon as the bound is passed (the client may see the
    // connection closed while it is still sending, which is a refusal too).
    const huge = await post({}, `"${"x".repeat(5 * 1024 * 1024)}"`).then(
      (r) => r.status,
      (e: unknown) => String((e as { cause?: { code?: string } }).cause?.code ?? e),
    );
    expect([413, "EPIPE", "ECONNRESET"]).toContain(huge);
    const c = await client2(gw.url);
    expect(await call(c)).toBe("allow");
    await c.close();
    await gw.stop();
  });

  it(
    "in front of the everything server: relays resources and prompts, " + "offers nothing clients would share",
    async () => {
      const { createRequire } = await import("node:module");
      const everything = createRequire(import.meta.url).resolve(
        "@modelcontextprotocol/server-everything/dist/index.js",
      );
      const policy = writeTemp("p.json", JSON.stringify({ version: "1", default: "deny", tools: { echo: {} } }));
      const gw = await startGateway(["--policy", policy], { upstream: ["--", process.execPath, everything] });
      for (const c of [await client1(gw.url), await client2(gw.url)]) {
        const offered = c.getServerCapabilities() ?? {};
        // One upstream connection serves every client: tasks, the logging level and resource
        // subscriptions would be shared between them, so they are not offered.
        expect(offered.tasks).toBeUndefined();
        expect(offered.logging).toBeUndefined();
        expect(offered.resources?.subscribe).toBeUndefined();
        expect(offered.tools).toBeDefined();
        expect((await c.listTools()).tools.map((t) => t.name)).toEqual(["echo"]);
        expect((await c.listResources()).resources.length).toBeGreaterThan(0);
        expect((await c.listPrompts()).prompts.length).toBeGreaterThan(0);
        expect(await c.callTool({ name: "echo", arguments: { message: "m" } })).toMatchObject({
          content: [{ text: "Echo: m" }],
        });
        await c.close();
      }
      await gw.stop();
    },
  );

  it("finishes a call in flight on SIGTERM, then stops the upstream", async () => {
    const policy = writeTemp("p.json", JSON.stringify({ version: "1", default: "allow", tools: {} }));
    const gw = await startGateway(["--policy", policy], { upstream: ["--", process.execPath, SLOW_UPSTREAM] });
    const c = await client1(gw.url);
    const pending = c.callTool({ name: "slow", arguments: { ms: 1500 } });
    // The call reaches the upstream, then the gateway is told to stop.
    await new Promise((resolve) => setTimeout(resolve, 400));
    gw.child.kill("SIGTERM");
    const result = (await pending) as { content: { text: string }[] };
    expect(result.content[0]?.text).toBe('slow: {"ms":1500}');
    expect(await gw.exited).toBe(0);
    const pid = Number(/ready \(pid (\d+)\)/.exec(gw.stderr())?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(() => process.kill(pid, 0)).toThrow();
  });
});

describe("toolgate proxy --listen with tokens", () => {
  it("answers 401 with WWW-Authenticate to a missing, forged, expired or misdirected token", async () => {
    const gw = await startGateway(
      [
        "--policy",
        writeTemp("p.json", POLICY),
        "--auth-secret-env",
        "GW_SECRET",
        "--auth-issuer",
        "https://issuer.test",
        "--auth-audience",
        "toolgate",
      ],
      { env: { GW_SECRET: SECRET } },
    );
    expect(gw.stderr()).toMatch(/bearer tokens required/);
    const init = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x", version: "1" } },
    });
    const post = (authorization?: string) =>
      fetch(gw.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...(authorization === undefined ? {} : { authorization }),
        },
        body: init,
      });
    const good = { sub: "agent-1", iss: "https://issuer.test", aud: "toolgate" };
    const cases = [
      undefined,
      "Basic dXNlcjpwYXNz",
      "Bearer not.a.jwt",
      `Bearer ${await hs256(good, "1h", "another-secret-that-is-also-long-enough!!")}`,
      `Bearer ${await hs256(good, "-1m")}`,
      `Bearer ${await hs256({ ...good, aud: "someone-else" })}`,
      `Bearer ${await hs256({ ...good, iss: "https://elsewhere.test" })}`,
      `Bearer ${await hs256({ iss: good.iss, aud: good.aud })}`,
      `Bearer ${"a".repeat(12_000)}`,
      `Bearer ${await new SignJWT(good).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(SECRET))}`,
    ];
    for (const authorization of cases) {
      const res = await post(authorization);
      expect(res.status, String(authorization).slice(0, 60)).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="toolgate"/);
      expect(res.headers.get("mcp-session-id")).toBeNull();
    }
    // Beyond node's header limit the request is refused before it is read.
    expect((await post(`Bearer ${"a".repeat(40_000)}`)).status).toBe(431);
    // Nothing reached the upstream: no session was opened, no call decided.
    const ok = await post(`Bearer ${await hs256(good)}`);
    expect(ok.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${gw.port}/healthz`)).status).toBe(200);
    await gw.stop();
  });

  it("keys budgets by sub across connections and eras, and gives claims to per and when.session", async () => {
    const gw = await startGateway(["--policy", writeTemp("p.json", POLICY), "--auth-secret-env", "GW_SECRET"], {
      env: { GW_SECRET: SECRET },
    });
    const alice = await hs256({ sub: "alice", team: "red" });
    const bob = await hs256({ sub: "bob", team: "red", admin: true });
    const a1 = await client1(gw.url, alice);
    expect(await call(a1)).toBe("allow");
    await a1.close();
    // A new connection, in the other era: the same budget.
    const a2 = await client2(gw.url, alice);
    expect(await call(a2)).toBe("allow");
    expect(await call(a2)).toBe("rate_limited");
    const b = await client2(gw.url, bob);
    expect(await call(b)).toBe("allow");
    // per: "/claims/team": alice and bob share the red team's budget.
    expect([
      await call(a2, "get_experiments"),
      await call(b, "get_experiments"),
      await call(b, "get_experiments"),
    ]).toEqual(["allow", "allow", "rate_limited"]);
    // when.session on the claims: only bob's token says admin.
    expect((await a2.listTools()).tools.map((t) => t.name)).not.toContain("delete_run");
    expect((await b.listTools()).tools.map((t) => t.name)).toContain("delete_run");
    expect(await call(a2, "delete_run")).toBe("deny");
    expect(await call(b, "delete_run")).toBe("allow");
    // Alice cannot use bob's 2025 session.
    const b1 = await client1(gw.url, bob);
    const stolen = await fetch(gw.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        authorization: `Bearer ${alice}`,
        "mcp-session-id": String(b1.transport?.sessionId),
        "mcp-protocol-version": "2025-11-25",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/list" }),
    });
    expect(stolen.status).toBe(404);
    await Promise.all([a2.close(), b.close(), b1.close()]);
    await gw.stop();
  });

  it("reads claims as data: __proto__, constructor and deep claims grant nothing", async () => {
    const gw = await startGateway(["--policy", writeTemp("p.json", POLICY), "--auth-secret-env", "GW_SECRET"], {
      env: { GW_SECRET: SECRET },
    });
    // A payload whose own "__proto__" and "constructor" claims carry admin: true (JSON.parse
    // keeps them as own properties), and a deeply nested claim.
    const payload =
      `{"sub":"mallory","__proto__":{"admin":true},"constructor":{"admin":true},"team":"red",` +
      `"deep":${"[".repeat(500)}${"]".repeat(500)},"exp":${Math.floor(Date.now() / 1000) + 3600}}`;
    const b64 = (text: string) => Buffer.from(text).toString("base64url");
    const unsigned = `${b64('{"alg":"HS256","typ":"JWT"}')}.${b64(payload)}`;
    const { createHmac } = await import("node:crypto");
    const token = `${unsigned}.${createHmac("sha256", SECRET).update(unsigned).digest("base64url")}`;
    const c = await client2(gw.url, token);
    expect((await c.listTools()).tools.map((t) => t.name)).not.toContain("delete_run");
    expect(await call(c, "delete_run")).toBe("deny");
    expect(await call(c)).toBe("allow");
    await c.close();
    await gw.stop();
  });

  it("verifies RS256 tokens against a local JWKS server, fetching it again for an unknown kid", async () => {
    const keys: JWK[] = [];
    let fetches = 0;
    const jwks: Server = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
    try {
      const first = await generateKeyPair("RS256");
      keys.push({ ...(await exportJWK(first.publicKey)), kid: "k1", alg: "RS256", use: "sig" });
      const port = (jwks.address() as AddressInfo).port;
      const gw = await startGateway([
        "--policy",
        writeTemp("p.json", POLICY),
        "--auth-jwks",
        `http://127.0.0.1:${port}/jwks.json`,
      ]);
      const sign = (key: Parameters<SignJWT["sign"]>[0], kid: string, sub: string) =>
        new SignJWT({ sub }).setProtectedHeader({ alg: "RS256", kid }).setIssuedAt().setExpirationTime("1h").sign(key);
      const c = await client2(gw.url, await sign(first.privateKey, "k1", "carol"));
      expect(await call(c)).toBe("allow");
      // The key set rotates: a token under the new kid makes the gateway fetch the set again.
      const second = await generateKeyPair("RS256");
      keys.push({ ...(await exportJWK(second.publicKey)), kid: "k2", alg: "RS256", use: "sig" });
      // (jose fetches the set again at most once a second: the gateway's cooldown.)
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const before = fetches;
      const d = await client2(gw.url, await sign(second.privateKey, "k2", "carol"));
      expect(fetches).toBeGreaterThan(before);
      expect(await call(d)).toBe("allow");
      expect(await call(d)).toBe("rate_limited");
      // An HS256 token (alg confusion with the public key) and an unknown key are refused.
      const forged = await hs256({ sub: "carol" });
      const res = await fetch(gw.url, {
        method: "POST",
        headers: { authorization: `Bearer ${forged}`, "content-type": "application/json" },
        body: "{}",
      });
      expect(res.status).toBe(401);
      await Promise.all([c.close(), d.close()]);
      await gw.stop();
    } finally {
      await new Promise((resolve) => jwks.close(resolve));
    }
  });
});

describe("toolgate proxy --listen: flags checked at start", () => {
  const policy = () => writeTemp("p.json", POLICY);
  const cases: [string, string[], Record<string, string>, RegExp][] = [
    ["a bad address", ["--listen", "nowhere:99999"], {}, /--listen must be \[host:\]port/],
    ["--session with --listen", ["--listen", "0", "--session", '{"id":"x"}'], {}, /--session is for a stdio client/],
    ["a missing secret", ["--listen", "0", "--auth-secret-env", "NOPE_NOT_SET"], {}, /NOPE_NOT_SET is not set/],
    ["a short secret", ["--listen", "0", "--auth-secret-env", "SHORT"], { SHORT: "short" }, /at least 32 bytes/],
    [
      "both token sources",
      ["--listen", "0", "--auth-secret-env", "S", "--auth-jwks", "https://x/j"],
      { S: SECRET },
      /not both/,
    ],
    [
      "a JWKS that is not a URL",
      ["--listen", "0", "--auth-jwks", "not a url"],
      {},
      /--auth-jwks must be an http\(s\) URL/,
    ],
    ["tokens without --listen", ["--auth-secret-env", "S"], { S: SECRET }, /are for --listen/],
    ["a Redis URL of another scheme", ["--listen", "0", "--redis", "http://x"], {}, /--redis must be a redis:\/\//],
    ["--fail-open without --redis", ["--listen", "0", "--fail-open"], {}, /--fail-open is for --redis/],
    [
      "--log-args hmac without a key",
      ["--log", "/tmp/x.jsonl", "--log-args", "hmac"],
      { TOOLGATE_LOG_KEY: "" },
      /TOOLGATE_LOG_KEY/,
    ],
    ["an unknown --log-args", ["--log", "/tmp/x.jsonl", "--log-args", "some"], {}, /omit, hmac or clear/],
    ["--url without --listen", ["--url", "https://x.test/mcp"], {}, /--url needs --listen/],
    ["--max-sessions without --listen", ["--max-sessions", "5"], {}, /--max-sessions is for --listen/],
    ["a --max-sessions of 0", ["--listen", "0", "--max-sessions", "0"], {}, /--max-sessions must be a whole number/],
    [
      "a --store-timeout that is not a number",
      ["--store-timeout", "soon"],
      {},
      /--store-timeout must be a whole number/,
    ],
    ["--url and a command", ["--listen", "0", "--url", "https://x.test/mcp", "--command", "node"], {}, /not both/],
  ];
  for (const [what, args, env, message] of cases) {
    it(`refuses ${what} with exit status 2`, async () => {
      const upstream = args.includes("--url") ? [] : ["--", process.execPath, "-e", ""];
      const r = await runCli(["proxy", "--policy", policy(), ...args, ...upstream], env);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
    });
  }

  it("documents every flag with an example in --help", async () => {
    const r = await runCli(["proxy", "--help"]);
    expect(r.code).toBe(0);
    for (const flag of [
      "--listen",
      "--url",
      "--auth-jwks",
      "--auth-secret-env",
      "--auth-issuer",
      "--auth-audience",
      "--redis",
      "--store-timeout",
      "--fail-open",
      "--log",
      "--log-args",
      "--shadow",
      "--watch",
      "--session",
      "--start-timeout",
      "--approval-timeout",
      "--command",
    ]) {
      expect(r.stdout).toContain(flag);
    }
  });
});
