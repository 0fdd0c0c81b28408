/**
 * `toolgate replay` (docs/spec.md §6 "Replay"), through the built CLI: a decision log written by
 * `decisionLog({ args: "clear" })` from a real run of one policy, replayed against a stricter
 * one, finds exactly the calls whose outcome the stricter policy changes — computed here
 * independently, by deciding every logged call under both policies — through limits, `per`
 * attributes, `when.session`, annotations and approvals; skipped lines are counted; exit
 * statuses and hostile logs (malformed lines, a 100 MB line, 1,000,000 lines) are bounded.
 */

import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { compilePolicy, decisionLog, MemoryStore, type Decision, type DecisionLogArgs, type ToolCall } from "toolgate";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CLI, lines, tempDir, toolgate } from "./run.js";

const ADMIN = { properties: { role: { const: "admin" } }, required: ["role"] };
const GOLD = { properties: { tier: { const: "gold" } }, required: ["tier"] };
const READ_ONLY = { properties: { readOnlyHint: { const: true } }, required: ["readOnlyHint"] };

/** The policy the log was written under. */
const LOOSE = {
  version: "1",
  name: "replayed",
  default: "deny",
  tools: {
    search: { rate_limit: { max: 10, window: "1m" } },
    create: { rate_limit: { max: 6, window: "1m", per: "/org" } },
    "admin_*": { rules: [{ when: { session: ADMIN } }, { action: "deny", reason: "Admins only." }] },
    write: { rules: [{ when: { annotations: READ_ONLY } }, { action: "require_approval" }] },
    delete: { action: "require_approval", reason: "A person decides." },
    drop: {},
  },
};

/** The same tools, tighter: lower limits, a second session condition, no writes without approval, no drop. */
const STRICT = {
  version: "1",
  name: "replayed",
  default: "deny",
  tools: {
    search: { rate_limit: { max: 3, window: "1m" } },
    create: { rate_limit: { max: 2, window: "1m", per: "/org" } },
    "admin_*": {
      rules: [{ when: { session: { allOf: [ADMIN, GOLD] } } }, { action: "deny", reason: "Gold admins only." }],
    },
    write: { action: "require_approval" },
    delete: { action: "require_approval", reason: "A person decides." },
  },
};

const T0 = Date.UTC(2026, 2, 1, 9, 0, 0);

const SESSIONS = [
  { id: "s1", org: "acme", role: "admin", tier: "gold" },
  { id: "s2", org: "acme", role: "admin" },
  { id: "s3", org: "globex" },
  { id: "s4", org: "globex", role: "user" },
];

/** A deterministic agent's day from `seed`: `n` calls and their times (the clock steps back at 50, 120…). */
function traffic(seed = 7, n = 160): { at: number; call: ToolCall }[] {
  // mulberry32: small, seeded, and uniform in its low bits too.
  const next = (n: number) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
  const out: { at: number; call: ToolCall }[] = [];
  let at = T0;
  for (let i = 0; i < n; i++) {
    at += next(9) * 1000 + next(1000);
    if (i % 70 === 50) at -= 20_000;
    const session = SESSIONS[next(SESSIONS.length)]!;
    const kind = next(8);
    let call: ToolCall;
    if (kind <= 2) call = { tool: "search", args: { q: `q${i}` }, session };
    else if (kind === 3) call = { tool: "create", args: { name: `run-${i}`, tags: { b: 1, a: [i] } }, session };
    else if (kind === 4) call = { tool: next(2) === 0 ? "admin_reset" : "admin_purge", session };
    else if (kind === 5)
      call = { tool: "write", args: { path: `/w/${i}` }, session, annotations: { readOnlyHint: next(2) === 0 } };
    else if (kind === 6) call = { tool: "delete", args: { id: i }, session, approved: next(2) === 0 };
    else call = { tool: next(3) === 0 ? "drop" : "nope", args: {}, session };
    out.push({ at, call });
  }
  return out;
}

interface Difference {
  time: string;
  tool: string | null;
  session: string | null;
  old: { outcome: string; rule: string };
  new: { outcome: string; rule: string };
}

/** Runs `policy` over the traffic with a decision log; returns the log's text and the decisions. */
function run(doc: unknown, args: DecisionLogArgs, mode: "enforce" | "shadow" = "enforce", seed = 7, n = 160) {
  let now = 0;
  let text = "";
  const policy = compilePolicy(doc, {
    store: new MemoryStore(),
    clock: () => now,
    mode,
    onDecision: decisionLog({ write: (line) => (text += line), args, key: "log key" }),
  });
  const decisions: Decision[] = [];
  for (const { at, call } of traffic(seed, n)) {
    now = at;
    decisions.push(policy.decideSync(call));
  }
  return { text, decisions };
}

/** The differences replay must find, from deciding every call under both policies here. */
function expectedDifferences(seed = 7, n = 160): Difference[] {
  const enforce = (doc: unknown) => {
    let now = 0;
    const policy = compilePolicy(doc, { store: new MemoryStore(), clock: () => now });
    return traffic(seed, n).map(({ at, call }) => {
      now = at;
      return policy.decideSync(call);
    });
  };
  const before = enforce(LOOSE);
  const after = enforce(STRICT);
  const calls = traffic(seed, n);
  const out: Difference[] = [];
  before.forEach((d, i) => {
    const a = after[i]!;
    if (a.outcome === d.outcome) return;
    const { at, call } = calls[i]!;
    out.push({
      time: new Date(at).toISOString(),
      tool: call.tool,
      session: call.session.id,
      old: { outcome: d.outcome, rule: d.rule },
      new: { outcome: a.outcome, rule: a.rule },
    });
  });
  return out;
}

interface Report {
  differences: Difference[];
  replayed: number;
  skipped: number;
}

function replayJson(
  dir: string,
  policy = "strict.json",
  log = "log.jsonl",
): { status: number | null; report: Report; stderr: string } {
  const r = toolgate(["replay", "--policy", policy, log, "--json"], dir);
  return { status: r.status, report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
}

const line = (fields: Record<string, unknown>) => `${JSON.stringify({ policy: "p", ...fields })}\n`;

describe("toolgate replay", () => {
  const expected = expectedDifferences();
  const clear = run(LOOSE, "clear");

  it("the traffic exercises every kind of change, and leaves some calls as they were", () => {
    const rules = new Set(expected.map((d) => `${d.old.outcome} ${d.new.rule}`));
    expect(rules).toContain("allow /tools/search/rate_limit"); // a lower limit in a window
    expect(rules).toContain("allow /tools/create/rate_limit"); // a lower per-org limit
    expect(rules).toContain("allow /tools/admin_*/rules/1"); // when.session
    expect(rules).toContain("allow /tools/write"); // annotations
    expect(rules).toContain("allow /default"); // a tool taken away
    expect(expected.length).toBeLessThan(clear.decisions.length / 2);
    // Approved deletes stay allowed under the strict policy, so they are no difference: only
    // if replay passes "approved" on.
    const approved = traffic().filter(({ call }) => call.tool === "delete" && call.approved === true);
    expect(approved.length).toBeGreaterThan(3);
    expect(expected.some((d) => d.tool === "delete")).toBe(false);
  });

  it("finds exactly the calls whose outcome the stricter policy changes (--json)", () => {
    const dir = tempDir({ "strict.json": STRICT, "loose.json": LOOSE, "log.jsonl": clear.text });
    const { status, report, stderr } = replayJson(dir);
    expect(Object.keys(report)).toEqual(["differences", "replayed", "skipped"]);
    expect(report.differences).toEqual(expected);
    expect(report.replayed).toBe(clear.decisions.length);
    expect(report.skipped).toBe(0);
    expect(status).toBe(1);
    expect(stderr).toBe("");
  });

  it("prints each difference as one line, then a summary, in words", () => {
    const dir = tempDir({ "strict.json": STRICT, "log.jsonl": clear.text });
    const r = toolgate(["replay", "--policy", "strict.json", "log.jsonl"], dir);
    expect(r.status).toBe(1);
    const out = lines(r.stdout);
    expect(out).toHaveLength(expected.length + 1);
    expected.forEach((d, i) => {
      expect(out[i]).toBe(
        `${d.time} ${JSON.stringify(d.tool)} session ${JSON.stringify(d.session)}: ` +
          `${d.old.outcome} ${d.old.rule} -> ${d.new.outcome} ${d.new.rule}`,
      );
    });
    expect(out.at(-1)).toBe(
      `${expected.length} outcomes differ in ${clear.decisions.length} replayed calls; 0 lines skipped`,
    );
  });

  it("under the policy that wrote the log, nothing differs: exit 0", () => {
    const dir = tempDir({ "loose.json": LOOSE, "log.jsonl": clear.text });
    const { status, report } = replayJson(dir, "loose.json");
    expect(report).toEqual({ differences: [], replayed: clear.decisions.length, skipped: 0 });
    expect(status).toBe(0);
    const r = toolgate(["replay", "--policy", "loose.json", "log.jsonl"], dir);
    expect(lines(r.stdout)).toEqual([
      `no outcome differs in ${clear.decisions.length} replayed calls; 0 lines skipped`,
    ]);
    expect(r.status).toBe(0);
  });

  it("a log written in shadow mode is compared with what enforcement decided, and finds the same differences", () => {
    const shadow = run(LOOSE, "clear", "shadow");
    expect(
      shadow.text
        .split("\n")
        .filter(Boolean)
        .every((l) => (JSON.parse(l) as { shadow?: unknown }).shadow === true),
    ).toBe(true);
    const dir = tempDir({ "strict.json": STRICT, "loose.json": LOOSE, "log.jsonl": shadow.text });
    expect(replayJson(dir).report.differences).toEqual(expected);
    expect(replayJson(dir, "loose.json").report.differences).toEqual([]);
  });

  it("counts lines without arguments in clear, and malformed lines, as skipped", () => {
    const omitted = run(LOOSE, "omit");
    const hashed = run(LOOSE, "hmac");
    const n = clear.decisions.length;
    const mixed = clear.text + omitted.text + hashed.text + "{not json\n[1,2]\n\n   \n";
    const dir = tempDir({ "strict.json": STRICT, "log.jsonl": mixed });
    const { status, report, stderr } = replayJson(dir);
    expect(report.replayed).toBe(n);
    expect(report.skipped).toBe(2 * n + 2);
    expect(report.differences).toEqual(expected);
    expect(status).toBe(1);
    expect(lines(stderr)).toEqual([
      `log.jsonl:${3 * n + 1}: skipped: not JSON`,
      `log.jsonl:${3 * n + 2}: skipped: not a JSON object`,
      `log.jsonl: skipped ${2 * n + 2} lines (${n} with arguments logged only as an HMAC, ` +
        `${n} without logged arguments, 2 malformed); ` +
        'only lines logged with args "clear" can be replayed',
    ]);
    // A log with no replayable line differs in nothing.
    const onlyOmitted = tempDir({ "strict.json": STRICT, "log.jsonl": omitted.text });
    expect(replayJson(onlyOmitted)).toMatchObject({ status: 0, report: { differences: [], replayed: 0, skipped: n } });
  });

  it("passes approved, attributes and annotations on; a line without them is replayed without them", () => {
    const policy = {
      version: "1",
      default: "deny",
      tools: {
        gated: { action: "require_approval" },
        by_org: { rate_limit: { max: 5, window: "1m", per: "/org" } },
        annotated: { rules: [{ when: { annotations: READ_ONLY } }, { action: "deny" }] },
      },
    };
    const at = "2026-03-01T09:00:00.000Z";
    const log = [
      line({
        time: at,
        tool: "gated",
        session: "s1",
        outcome: "allow",
        rule: "/tools/gated",
        approved: true,
        args: {},
      }),
      line({
        time: at,
        tool: "gated",
        session: "s1",
        outcome: "allow",
        rule: "/tools/gated",
        approved: false,
        args: {},
      }),
      line({
        time: at,
        tool: "by_org",
        session: "s1",
        outcome: "allow",
        rule: "/tools/by_org",
        args: {},
        attributes: { org: "a" },
      }),
      line({ time: at, tool: "by_org", session: "s1", outcome: "allow", rule: "/tools/by_org", args: {} }),
      line({
        time: at,
        tool: "annotated",
        session: "s1",
        outcome: "allow",
        rule: "/tools/annotated",
        args: {},
        annotations: { readOnlyHint: true },
      }),
      line({ time: at, tool: "annotated", session: "s1", outcome: "allow", rule: "/tools/annotated", args: {} }),
    ].join("");
    const dir = tempDir({ "p.json": policy, "log.jsonl": log });
    const { report } = replayJson(dir, "p.json");
    expect(report.differences.map((d) => [d.tool, d.new.outcome, d.new.rule])).toEqual([
      ["gated", "needs_approval", "/tools/gated"],
      ["by_org", "deny", "/tools/by_org/rate_limit"],
      ["annotated", "deny", "/tools/annotated/rules/1"],
    ]);
    expect(report.replayed).toBe(6);
  });

  it("replays lines in file order on one clock; a time earlier than the last counts at the latest counted time", () => {
    const policy = { version: "1", default: "deny", tools: { t: { rate_limit: { max: 1, window: "1m" } } } };
    const log = [
      line({
        time: "2026-03-01T09:01:00.000Z",
        tool: "t",
        session: "s1",
        outcome: "allow",
        rule: "/tools/t",
        args: {},
      }),
      // Logged earlier than the line before it: within the budget it counts at 09:01:00, so the
      // window is still full.
      line({
        time: "2026-03-01T09:00:30.000Z",
        tool: "t",
        session: "s1",
        outcome: "allow",
        rule: "/tools/t",
        args: {},
      }),
      line({
        time: "2026-03-01T09:02:00+00:00",
        tool: "t",
        session: "s1",
        outcome: "allow",
        rule: "/tools/t",
        args: {},
      }),
    ].join("");
    const dir = tempDir({ "p.json": policy, "log.jsonl": log });
    const { report, status } = replayJson(dir, "p.json");
    expect(report.differences).toEqual([
      {
        time: "2026-03-01T09:00:30.000Z",
        tool: "t",
        session: "s1",
        old: { outcome: "allow", rule: "/tools/t" },
        new: { outcome: "rate_limited", rule: "/tools/t/rate_limit" },
      },
    ]);
    expect(status).toBe(1);
  });

  it("for any traffic: under the policy that wrote the log nothing differs, under another what both decide", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 150 }),
        fc.constantFrom("enforce" as const, "shadow" as const),
        (seed, n, mode) => {
          const log = run(LOOSE, "clear", mode, seed, n);
          const dir = tempDir({ "strict.json": STRICT, "loose.json": LOOSE, "log.jsonl": log.text });
          expect(replayJson(dir, "loose.json").report).toEqual({ differences: [], replayed: n, skipped: 0 });
          expect(replayJson(dir).report.differences).toEqual(expectedDifferences(seed, n));
        },
      ),
      { numRuns: 6 },
    );
  }, 180_000);

  it("replays a logged malformed call (tool or session null) as the malformed call it was", () => {
    const log = [
      line({ time: "2026-03-01T09:00:00.000Z", tool: null, session: "s1", outcome: "deny", rule: "", args: {} }),
      line({ time: "2026-03-01T09:00:00.000Z", tool: "search", session: null, outcome: "deny", rule: "", args: {} }),
      line({
        time: "2026-03-01T09:00:00.000Z",
        tool: "search",
        session: null,
        outcome: "deny",
        rule: "",
        args: {},
        attributes: { org: "a" },
      }),
      line({ time: "2026-03-01T09:00:00.000Z", tool: "search", session: "s1", outcome: "deny", rule: "", args: [] }),
    ].join("");
    const dir = tempDir({ "strict.json": STRICT, "log.jsonl": log });
    expect(replayJson(dir)).toMatchObject({ status: 0, report: { differences: [], replayed: 4, skipped: 0 } });
  });
});

describe("toolgate replay: usage and exit status 2", () => {
  const dir = tempDir({
    "strict.json": STRICT,
    "invalid.json": '{\n  "version": "1",\n  "default": "maybe",\n  "tools": {}\n}\n',
    "dup.json": '{"version":"1","default":"deny","default":"allow","tools":{}}',
    "log.jsonl": "",
  });
  const cases: [string, string[], RegExp][] = [
    ["no --policy", ["replay", "log.jsonl"], /^toolgate replay: --policy <file> is required/],
    ["no log", ["replay", "--policy", "strict.json"], /^toolgate replay: name exactly one decision log/],
    ["two logs", ["replay", "--policy", "strict.json", "log.jsonl", "log.jsonl"], /name exactly one decision log/],
    ["an unknown option", ["replay", "--policy", "strict.json", "log.jsonl", "--jsno"], /unknown option --jsno/],
    ["--policy without a value", ["replay", "log.jsonl", "--policy"], /option --policy needs a value/],
    [
      "a missing log",
      ["replay", "--policy", "strict.json", "missing.jsonl"],
      /^toolgate replay: cannot read missing\.jsonl: no such file$/,
    ],
    [
      "a missing log with --json (nothing on standard output)",
      ["replay", "--policy", "strict.json", "missing.jsonl", "--json"],
      /^toolgate replay: cannot read missing\.jsonl: no such file$/,
    ],
    [
      "a directory for a log",
      ["replay", "--policy", "strict.json", ".", "--json"],
      /^toolgate replay: cannot read \.: is a directory$/,
    ],
    [
      "a missing policy",
      ["replay", "--policy", "none.json", "log.jsonl"],
      /^toolgate replay: cannot read none\.json: no such file$/,
    ],
    [
      "an invalid policy",
      ["replay", "--policy", "invalid.json", "log.jsonl"],
      /^invalid\.json:3:\d+ \/default: [^\n]+\ntoolgate replay: invalid\.json is not a valid policy$/,
    ],
    ["a duplicate key", ["replay", "--policy", "dup.json", "log.jsonl"], /^dup\.json:1:\d+ \/default: [^\n]*\n/],
  ];
  for (const [name, args, message] of cases) {
    it(name, () => {
      const r = toolgate(args, dir);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr.trimEnd()).toMatch(message);
    });
  }

  it("--help prints the usage and exits 0; the main help lists replay", () => {
    const r = toolgate(["replay", "--help"], dir);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: toolgate replay --policy <policy\.json> <decisions\.jsonl> \[--json\]/);
    expect(toolgate(["--help"]).stdout).toMatch(/^ {2}replay --policy <policy\.json> /m);
  });

  it("an empty log replays nothing and differs in nothing", () => {
    const r = toolgate(["replay", "--policy", "strict.json", "log.jsonl", "--json"], dir);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ differences: [], replayed: 0, skipped: 0 });
  });
});

describe("toolgate replay: hostile logs", () => {
  const ok = (i: number) =>
    line({
      time: new Date(T0 + i).toISOString(),
      tool: "drop",
      session: "s1",
      outcome: "allow",
      rule: "/tools/drop",
      args: { i },
    });

  /** Runs the CLI with a small heap, so a log read whole would fail the run. */
  function smallHeap(dir: string, log: string) {
    const r = spawnSync(
      process.execPath,
      ["--max-old-space-size=64", CLI, "replay", "--policy", "strict.json", log, "--json"],
      {
        cwd: dir,
        encoding: "utf8",
        timeout: 120_000,
      },
    );
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it("reports each malformed line with its number and skips it; __proto__ keys are data", () => {
    let deep = "";
    for (let i = 0; i < 100_000; i++) deep += "[";
    const log = [
      "{not json\n",
      "42\n",
      "null\n",
      '"text"\n',
      "[]\n",
      line({ tool: "drop", session: "s1", outcome: "allow", rule: "", args: {} }),
      line({ time: "yesterday", tool: "drop", session: "s1", outcome: "allow", rule: "", args: {} }),
      line({ time: "2026-03-01", tool: "drop", session: "s1", outcome: "allow", rule: "", args: {} }),
      line({ time: "2026-03-01T09:00:00Z", tool: 7, session: "s1", outcome: "allow", rule: "", args: {} }),
      line({ time: "2026-03-01T09:00:00Z", tool: "drop", session: { id: "s1" }, outcome: "allow", rule: "", args: {} }),
      line({ time: "2026-03-01T09:00:00Z", tool: "drop", session: "s1", outcome: "maybe", rule: "", args: {} }),
      line({ time: "2026-03-01T09:00:00Z", tool: "drop", session: "s1", outcome: "allow", args: {} }),
      line({
        time: "2026-03-01T09:00:00Z",
        tool: "drop",
        session: "s1",
        outcome: "allow",
        rule: "",
        approved: "yes",
        args: {},
      }),
      line({
        time: "2026-03-01T09:00:00Z",
        tool: "drop",
        session: "s1",
        outcome: "allow",
        rule: "",
        attributes: [],
        args: {},
      }),
      `${deep}${"]".repeat(100_000)}\n`,
      // Valid lines whose data is hostile: prototype names, deep nesting in the arguments.
      '{"time":"2026-03-01T09:00:00Z","tool":"search","session":"s1","outcome":"allow","rule":"/tools/search",' +
        '"__proto__":{"polluted":1},"args":{"__proto__":{"x":1},"constructor":1},' +
        '"attributes":{"__proto__":{"id":"x"},"id":"s9"}}\n',
      '{"time":"2026-03-01T09:00:01Z","tool":"search","session":"s1","outcome":"allow","rule":"/tools/search",' +
        `"args":{"q":${deep}${"]".repeat(100_000)}}}\n`,
      "\u001b[31m\n",
    ].join("");
    const dir = tempDir({ "strict.json": STRICT, "log.jsonl": log });
    const { status, report, stderr } = replayJson(dir);
    expect(report).toEqual({ differences: [], replayed: 2, skipped: 16 });
    expect(status).toBe(0);
    expect(lines(stderr)).toEqual([
      "log.jsonl:1: skipped: not JSON",
      "log.jsonl:2: skipped: not a JSON object",
      "log.jsonl:3: skipped: not a JSON object",
      "log.jsonl:4: skipped: not a JSON object",
      "log.jsonl:5: skipped: not a JSON object",
      'log.jsonl:6: skipped: no "time" string',
      'log.jsonl:7: skipped: "time" is not an ISO 8601 time',
      'log.jsonl:8: skipped: "time" is not an ISO 8601 time',
      'log.jsonl:9: skipped: "tool" must be a string or null',
      'log.jsonl:10: skipped: "session" must be a string or null',
      'log.jsonl:11: skipped: "outcome" must be allow, deny, needs_approval or rate_limited',
      'log.jsonl:12: skipped: no "rule" string',
      'log.jsonl:13: skipped: "approved" must be true or false',
      'log.jsonl:14: skipped: "attributes" must be an object',
      "log.jsonl:15: skipped: not a JSON object",
      "log.jsonl:18: skipped: not a JSON object",
      "log.jsonl: skipped 16 lines (16 malformed)",
    ]);
  });

  it("a reader that leaves early (| head -1) ends the output quietly; the status still says what differs", async () => {
    const dir = tempDir({ "strict.json": STRICT });
    const parts: string[] = [];
    for (let i = 0; i < 100_000; i++) parts.push(ok(i));
    writeFileSync(join(dir, "log.jsonl"), parts.join(""));
    for (const json of [[], ["--json"]]) {
      const child = spawn(process.execPath, [CLI, "replay", "--policy", "strict.json", "log.jsonl", ...json], {
        cwd: dir,
      });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.stdout.once("data", () => child.stdout.destroy());
      const code = await new Promise<number | null>((resolve) => child.on("exit", (status) => resolve(status)));
      expect(code, stderr).toBe(1);
      expect(stderr).toBe("");
    }
  }, 120_000);

  it("a tool name with terminal escapes is printed escaped", () => {
    const log = line({
      time: "2026-03-01T09:00:00Z",
      tool: "\u001b[2Jx\nfake",
      session: "\u0007",
      outcome: "allow",
      rule: "/x",
      args: {},
    });
    const dir = tempDir({ "strict.json": STRICT, "log.jsonl": log });
    const r = toolgate(["replay", "--policy", "strict.json", "log.jsonl"], dir);
    expect(r.status).toBe(1);
    expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    expect(lines(r.stdout)[0]).toBe(
      '2026-03-01T09:00:00Z "\\u001b[2Jx\\nfake" session "\\u0007": allow /x -> deny /default',
    );
  });

  it("a 100 MB line is skipped without being held, and the lines after it are replayed", () => {
    const dir = tempDir({ "strict.json": STRICT });
    const file = join(dir, "log.jsonl");
    const big =
      '{"time":"2026-03-01T09:00:00Z","tool":"drop","session":"s1","outcome":"allow","rule":"",' +
      `"args":{"x":"${"a".repeat(100 * 1024 * 1024)}"}}\n`;
    writeFileSync(file, ok(0) + big + ok(1));
    const r = smallHeap(dir, "log.jsonl");
    expect(r.status, r.stderr.slice(0, 2000)).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ replayed: 2, skipped: 1 });
    expect(lines(r.stderr)[0]).toBe(`log.jsonl:2: skipped: longer than ${8 * 1024 * 1024} bytes (${big.length - 1})`);
  }, 120_000);

  it("1,000,000 lines stream through in bounded memory; malformed ones are reported up to a bound", () => {
    const dir = tempDir({ "strict.json": STRICT });
    const parts: string[] = [];
    for (let i = 0; i < 1_000_000; i++) parts.push(i % 1000 === 0 ? ok(i) : "x\n");
    writeFileSync(join(dir, "log.jsonl"), parts.join(""));
    const r = smallHeap(dir, "log.jsonl");
    expect(r.status, r.stderr.slice(0, 2000)).toBe(1);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.replayed).toBe(1000);
    expect(report.skipped).toBe(999_000);
    expect(report.differences).toHaveLength(1000);
    const err = lines(r.stderr);
    expect(err).toHaveLength(22);
    expect(err[0]).toBe("log.jsonl:2: skipped: not a JSON object");
    expect(err[20]).toBe("log.jsonl: skipped 998980 more malformed lines");
    expect(err[21]).toBe("log.jsonl: skipped 999000 lines (999000 malformed)");
  }, 120_000);
});
