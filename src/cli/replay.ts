/**
 * `toolgate replay --policy <policy.json> <decisions.jsonl>`: decides every logged call again
 * under another policy and prints the calls whose outcome changes (docs/spec.md, "Replay").
 * The log is streamed in bounded memory: a line is at most {@link MAX_LINE_BYTES}, and
 * differences are printed as they are found, never collected.
 */

import { compilePolicy, MemoryStore, PolicyError, type Decision, type Policy, type ToolCall } from "toolgate";
import { quoteName } from "../shared/text.js";
import { parseCommand } from "./args.js";
import { EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError } from "./errors.js";
import { readText } from "./files.js";
import { issueLines } from "./issues.js";
import { readLines } from "./lines.js";
import { readLogLine, type LoggedDecision } from "./log-line.js";
import { err, out, outText } from "./output.js";

/** The help text of `toolgate replay`. */
export const REPLAY_HELP = `usage: toolgate replay --policy <policy.json> <decisions.jsonl> [--json]

Decides again, under the given policy, every call of a decision log written with
decisionLog({ args: "clear" }), at its logged time, on a fresh memory store, in file order, and
prints each call whose outcome differs from the log: time, tool, session, the logged outcome and
rule, then the new ones. A call is replayed with the session attributes, annotations and
"approved" its line carries. Lines without arguments in clear (logged with args "omit" or
"hmac") are counted as skipped; malformed lines too, each reported on standard error with its
line number. Blank lines are ignored.

options:
  --policy <file>   the policy to replay under (required)
  --json            print one JSON document: {"differences": [...], "replayed": N, "skipped": N}
  -h, --help        show this help

exit status: 0 no outcome differs; 1 some do; 2 bad usage, an unreadable file, or a policy that
does not validate (its issues on standard error).`;

/** The longest log line read, in bytes; a longer one is skipped as malformed (a line is not a dump). */
export const MAX_LINE_BYTES = 8 * 1024 * 1024;

/** Malformed lines reported one by one; the rest are counted in one more line. */
const MAX_REPORTED = 20;

/** One call whose outcome changed, as `--json` prints it. */
interface Difference {
  time: string;
  tool: string | null;
  session: string | null;
  old: { outcome: string; rule: string };
  new: { outcome: string; rule: string };
}

/** Runs `toolgate replay`; returns the exit status. */
export async function replayCommand(argv: readonly string[]): Promise<number> {
  const { values, positionals, help } = parseCommand(
    "replay",
    argv,
    { policy: { type: "string" }, json: { type: "boolean" } },
    true,
  );
  if (help) {
    out(REPLAY_HELP);
    return EXIT_OK;
  }
  if (typeof values.policy !== "string")
    throw new UsageError("--policy <file> is required (see toolgate replay --help)");
  if (positionals.length !== 1) throw new UsageError("name exactly one decision log (see toolgate replay --help)");
  const policyFile = values.policy;
  const logFile = positionals[0]!;
  const json = values.json === true;

  // The replay's own clock: each line sets it to the line's time before its call is decided.
  let now = 0;
  let policy: Policy;
  try {
    // The text, so it is read strictly (a duplicate key is an issue, with line and column).
    policy = compilePolicy(readText(policyFile), { store: new MemoryStore(), clock: () => now });
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    for (const line of issueLines(policyFile, e.issues)) err(line);
    err(`toolgate replay: ${policyFile} is not a valid policy`);
    return EXIT_USAGE;
  }

  let replayed = 0;
  let differing = 0;
  let hmacOnly = 0;
  let noArgs = 0;
  let malformed = 0;
  const malformedLine = (number: number, problem: string) => {
    malformed++;
    if (malformed <= MAX_REPORTED) err(`${logFile}:${number}: skipped: ${problem}`);
  };
  const report = (d: Difference) => {
    if (json) outText(`${differing === 1 ? "\n" : ",\n"}    ${JSON.stringify(d)}`);
    else out(differenceText(d));
  };

  // Opened before anything is written, so a log that cannot be read leaves standard output empty.
  const lines = await readLines(logFile, MAX_LINE_BYTES);
  process.stdout.on("error", () => {
    outputFailed = true;
  });
  if (json) outText('{\n  "differences": [');
  for await (const line of lines) {
    if (line.tooLong) {
      malformedLine(line.number, `longer than ${MAX_LINE_BYTES} bytes (${line.bytes})`);
      continue;
    }
    if (line.text.trim() === "") continue;
    const read = readLogLine(line.text);
    if (read.kind === "malformed") {
      malformedLine(line.number, read.problem);
      continue;
    }
    if (read.kind === "no_args") {
      if (read.hmac) hmacOnly++;
      else noArgs++;
      continue;
    }
    // Times that go backwards are the engine's to handle: within a budget a call counts at the
    // latest counted time (docs/spec.md, "Clocks"), as it would have on the live clock.
    now = read.at;
    const decision = policy.decideSync(read.call as unknown as ToolCall);
    replayed++;
    if (decision.outcome !== read.logged.outcome) {
      differing++;
      report(differenceOf(read.logged, decision));
      await drained();
    }
  }
  const skipped = hmacOnly + noArgs + malformed;

  if (json) {
    outText(`${differing === 0 ? "]" : "\n  ]"},\n  "replayed": ${replayed},\n  "skipped": ${skipped}\n}\n`);
  } else {
    const differ =
      differing === 0
        ? "no outcome differs"
        : `${differing} ${plural(differing, "outcome differs", "outcomes differ")}`;
    const skippedLines = `${skipped} ${plural(skipped, "line", "lines")} skipped`;
    out(`${differ} in ${replayed} replayed ${plural(replayed, "call", "calls")}; ${skippedLines}`);
  }
  if (malformed > MAX_REPORTED) err(`${logFile}: skipped ${malformed - MAX_REPORTED} more malformed lines`);
  if (skipped > 0) err(skippedText(logFile, hmacOnly, noArgs, malformed));
  return differing === 0 ? EXIT_OK : EXIT_FINDINGS;
}

/** Set once standard output has failed (its reader left): nothing more is written, nor waited for. */
let outputFailed = false;

/**
 * Waits while standard output holds more than its buffer: a pipe read slowly (`| less`) must
 * hold the replay back, not fill the memory with differences. Never once the output has failed:
 * standard output's own flags do not say so reliably (a failed write leaves it "needing a drain"
 * that never comes), so its first error is what tells.
 */
async function drained(): Promise<void> {
  const s = process.stdout;
  if (outputFailed || !s.writableNeedDrain || s.destroyed) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      s.off("drain", done);
      s.off("close", done);
      s.off("error", done);
      resolve();
    };
    s.on("drain", done);
    s.on("close", done);
    s.on("error", done);
  });
}

function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}

function differenceOf(logged: LoggedDecision, d: Decision): Difference {
  return {
    time: logged.time,
    tool: logged.tool,
    session: logged.session,
    old: { outcome: logged.outcome, rule: logged.rule },
    new: { outcome: d.outcome, rule: d.rule },
  };
}

/** `2026-03-01T09:00:00.000Z "create_run" session "s1": allow /tools/create_run -> rate_limited /limits/0` */
function differenceText(d: Difference): string {
  const name = (v: string | null) => (v === null ? "(none)" : quoteName(v));
  const rule = (r: string) => (r === "" ? '""' : quoteName(r).slice(1, -1));
  return (
    `${d.time} ${name(d.tool)} session ${name(d.session)}: ` +
    `${d.old.outcome} ${rule(d.old.rule)} -> ${d.new.outcome} ${rule(d.new.rule)}`
  );
}

function skippedText(file: string, hmacOnly: number, noArgs: number, malformed: number): string {
  const parts: string[] = [];
  if (hmacOnly > 0) parts.push(`${hmacOnly} with arguments logged only as an HMAC`);
  if (noArgs > 0) parts.push(`${noArgs} without logged arguments`);
  if (malformed > 0) parts.push(`${malformed} malformed`);
  const total = hmacOnly + noArgs + malformed;
  const hint = hmacOnly + noArgs > 0 ? '; only lines logged with args "clear" can be replayed' : "";
  return `${file}: skipped ${total} ${total === 1 ? "line" : "lines"} (${parts.join(", ")})${hint}`;
}
