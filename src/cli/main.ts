/**
 * The `toolgate` command: validate, test, explain, check and init policies, replay decision logs,
 * and run the MCP proxy. Each command parses its own options strictly; problems that keep a
 * command from running are one line on standard error and exit status 2.
 */

import { readFileSync } from "node:fs";
import { checkCommand } from "./check.js";
import { EXIT_OK, EXIT_USAGE, UsageError } from "./errors.js";
import { explainCommand } from "./explain.js";
import { initCommand } from "./init.js";
import { endQuietlyOnClosedPipes, err, out } from "./output.js";
import { runProxy } from "./proxy.js";
import { replayCommand } from "./replay.js";
import { testCommand } from "./test.js";
import { validateCommand } from "./validate.js";

/** The help text of `toolgate` itself. */
export const MAIN_HELP = `usage: toolgate <command> [options]

commands:
  validate <policy.json>...                 check policy files (issues with line and column)
  test <cases.json>...                      run policy test cases, with coverage
  explain <policy.json> --tool <name> ...   show one decision and how it was reached
  check <policy.json> --tools <tools.json>  check a policy against a server's tool list
  init --tools <tools.json>                 write a starting policy from a server's tool list
  proxy ...                                 run an MCP proxy that enforces a policy
  replay --policy <policy.json> <log.jsonl> decide a decision log's calls again under a policy

Run "toolgate <command> --help" for a command's options.
exit status: 0 success; 1 the command found a problem; 2 it could not run.`;

const COMMANDS: Record<string, (argv: readonly string[]) => number | Promise<number>> = {
  validate: validateCommand,
  test: testCommand,
  explain: explainCommand,
  check: checkCommand,
  init: initCommand,
  proxy: (argv) => runProxy([...argv]),
  replay: replayCommand,
};

/** Runs the CLI with `argv` (without `node` and the script); returns the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined) {
      err("toolgate: name a command (see toolgate --help)");
      return EXIT_USAGE;
    }
    if (command === "--help" || command === "-h" || command === "help") {
      out(MAIN_HELP);
      return EXIT_OK;
    }
    if (command === "--version" || command === "-v") {
      out(version());
      return EXIT_OK;
    }
    const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (run === undefined) {
      err(`toolgate: unknown command ${JSON.stringify(command)} (see toolgate --help)`);
      return EXIT_USAGE;
    }
    // The proxy's standard output is its MCP connection, which its transport owns; every other
    // command writes reports that a reader such as head may stop reading at any line.
    if (command !== "proxy") endQuietlyOnClosedPipes();
    return await run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      // One line, whatever the message quotes (JSON.parse quotes the text it failed on).
      err(`toolgate ${command}: ${e.message.replace(/\s*\n\s*/g, " ")}`);
      return EXIT_USAGE;
    }
    throw e;
  }
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (e: unknown) => {
    err(`toolgate: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 70;
  },
);
