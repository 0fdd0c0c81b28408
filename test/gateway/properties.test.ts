/**
 * Invariants of the gateway's own parts, for any input: the token check never accepts a header
 * that is not a token signed with the right key, unexpired, for the right issuer and audience,
 * naming a principal (and never throws); `--listen` parsing accepts exactly [host:]port with a
 * port from 0 to 65535; a reload is reported as changing what a session sees exactly when some
 * listed tool's visibility differs.
 */

import fc from "fast-check";
import { SignJWT } from "jose";
import { compilePolicy } from "toolgate";
import { describe, expect, it } from "vitest";
import { tokenSettings, TokenVerifier } from "../../src/cli/proxy-auth.js";
import { listenAddress } from "../../src/cli/proxy.js";
import { visibleToolsChanged } from "../../src/cli/proxy-policy.js";

const SECRET = "property-test-secret-of-at-least-32-bytes";
const verifier = new TokenVerifier(
  tokenSettings({ secretEnv: "S", issuer: "iss-a", audience: "aud-a", env: { S: SECRET } }) ?? {},
);
const key = new TextEncoder().encode(SECRET);

describe("the token check", () => {
  it("refuses every header that is not a bearer JWT, without throwing", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.string().map((s) => `Bearer ${s}`),
          fc.base64String().map((s) => `Bearer ${s}.${s}.${s}`),
          fc.array(fc.string(), { maxLength: 3 }),
          fc.constant(undefined),
        ),
        async (header) => {
          const r = await verifier.verify(header);
          expect("status" in r && r.status === 401).toBe(true);
          if ("challenge" in r) expect(r.challenge).toMatch(/^Bearer realm="toolgate"/);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("accepts a signed token only when every check holds; its principal is sub, client_id or azp", async () => {
    const claim = fc.option(fc.oneof(fc.constantFrom("", "p-1", "p-2"), fc.integer()), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          sub: claim,
          client_id: claim,
          azp: claim,
          iss: fc.constantFrom("iss-a", "iss-b", undefined),
          aud: fc.constantFrom("aud-a", "aud-b", undefined),
          expired: fc.boolean(),
          rightKey: fc.boolean(),
        }),
        async ({ sub, client_id, azp, iss, aud, expired, rightKey }) => {
          const payload: Record<string, unknown> = {};
          if (sub !== undefined) payload.sub = sub;
          if (client_id !== undefined) payload.client_id = client_id;
          if (azp !== undefined) payload.azp = azp;
          if (iss !== undefined) payload.iss = iss;
          if (aud !== undefined) payload.aud = aud;
          const signing = rightKey ? key : new TextEncoder().encode(`${SECRET}-other`);
          const token = await new SignJWT(payload)
            .setProtectedHeader({ alg: "HS256" })
            .setExpirationTime(expired ? Math.floor(Date.now() / 1000) - 3600 : "1h")
            .sign(signing);
          const r = await verifier.verify(`Bearer ${token}`);
          const principal = ([sub, client_id, azp] as unknown[]).find(
            (v): v is string => typeof v === "string" && v.length > 0,
          );
          const valid = rightKey && !expired && iss === "iss-a" && aud === "aud-a" && principal !== undefined;
          if (valid) {
            expect(r).toMatchObject({ clientId: principal, extra: { sub: principal } });
          } else {
            expect(r).toMatchObject({ status: 401 });
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("--listen", () => {
  it("accepts [host:]port exactly, with a port from 0 to 65535", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 65535 }),
        fc.constantFrom(undefined, "127.0.0.1", "localhost", "[::1]", "0.0.0.0"),
        (port, host) => {
          const parsed = listenAddress(host === undefined ? String(port) : `${host}:${port}`);
          expect(parsed).toEqual({ host: host === undefined ? "127.0.0.1" : host.replace(/^\[(.*)\]$/, "$1"), port });
        },
      ),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        let parsed: { host: string; port: number } | undefined;
        try {
          parsed = listenAddress(text);
        } catch (e) {
          expect(String(e)).toMatch(/--listen must be \[host:\]port/);
          return;
        }
        expect(parsed.port).toBeGreaterThanOrEqual(0);
        expect(parsed.port).toBeLessThanOrEqual(65535);
        expect(text.endsWith(String(parsed.port))).toBe(true);
      }),
    );
    expect(() => listenAddress("65536")).toThrow(/--listen/);
    expect(() => listenAddress(`${"a".repeat(100_000)}:80`)).not.toThrow();
  });
});

describe("what a reload changes", () => {
  it("reports a change exactly when a listed tool's visibility differs for a session seen", () => {
    const tools = ["a", "b", "c"];
    const doc = (allowed: boolean[]) =>
      compilePolicy({
        version: "1",
        default: "deny",
        tools: Object.fromEntries(tools.flatMap((t, i) => (allowed[i] ? [[t, {}]] : []))),
      });
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
        fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
        (x, y) => {
          const changed = visibleToolsChanged(
            doc(x),
            doc(y),
            tools.map((name) => ({ name })),
            [{ id: "s" }],
          );
          expect(changed).toBe(x.some((v, i) => v !== y[i]));
        },
      ),
      { numRuns: 64 },
    );
  });
});
