/**
 * The proxy's policy while it runs (docs/spec.md, sections 6, 7 and 9): compiled with the
 * proxy's store, the decision log and the mode; with `--watch` (and on SIGHUP) the file is read
 * again, validated, and swapped in for the next call, compiled with the same store and the first
 * policy's namespace so that budgets continue by identity. An invalid file is rejected with its
 * issues and the running policy stays.
 */

import {
  closeSync,
  createWriteStream,
  openSync,
  watch,
  watchFile,
  unwatchFile,
  type FSWatcher,
  type WriteStream,
} from "node:fs";
import { basename, dirname } from "node:path";
import {
  compilePolicy,
  PolicyError,
  type CompileOptions,
  type DecisionEvent,
  type Policy,
  type Session,
} from "toolgate";
import { isPlainObject } from "../shared/objects.js";
import { errorMessage } from "../shared/text.js";
import { readText } from "./files.js";
import { issueLines } from "./issues.js";

/** Lines waiting to be written beyond this many bytes are dropped (and counted) rather than kept. */
const MAX_LOG_BUFFER_BYTES = 16 * 1024 * 1024;
/** Coalesces the several events one save makes. */
const WATCH_SETTLE_MS = 50;
/** The stat poll beside the watcher, for file systems whose events do not come. */
const POLL_MS = 250;

/** How the proxy compiles every version of its policy. */
export type PolicyOptions = Pick<CompileOptions, "store" | "storeTimeoutMs" | "failOpen" | "mode" | "onDecision">;

/** A policy that can be replaced while the proxy runs; `view` always answers with the current one. */
export class LivePolicy {
  private active: Policy;
  private text: string;
  private watcher: FSWatcher | undefined;
  private settle: ReturnType<typeof setTimeout> | undefined;
  private polling = false;
  /** The policy the guards hold: every property read goes to the policy in force at that moment. */
  readonly view: Policy;

  private constructor(
    readonly file: string,
    first: Policy,
    text: string,
    private readonly options: PolicyOptions,
    private readonly report: (line: string) => void,
  ) {
    this.active = first;
    this.text = text;
    // A call's decide runs on the policy that was current when it was asked; a reload between a
    // call's decision and its refund gives the refund to the next policy, which shares the store
    // and namespace, so it lands in the same budget.
    this.view = new Proxy({} as Policy, {
      get: (_target, key) => {
        const value = Reflect.get(this.active, key) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(this.active) : value;
      },
    });
  }

  /** Compiles `file`; throws the `PolicyError` of an invalid one. */
  static load(file: string, options: PolicyOptions, report: (line: string) => void): LivePolicy {
    const text = readText(file);
    return new LivePolicy(file, compilePolicy(text, options), text, options, report);
  }

  /** The policy in force. */
  get current(): Policy {
    return this.active;
  }

  /**
   * Reads the file again. Unchanged text changes nothing; an invalid policy is reported with its
   * issues and changes nothing; a valid one is in force for the next call, and `onSwap` is told.
   */
  reload(onSwap: (previous: Policy, next: Policy) => void): "unchanged" | "invalid" | "swapped" {
    let text: string;
    try {
      text = readText(this.file);
    } catch (e) {
      this.report(
        `toolgate proxy: ${this.file} could not be read (${errorMessage(e)}); the running policy stays in force`,
      );
      return "invalid";
    }
    if (text === this.text) return "unchanged";
    let next: Policy;
    try {
      next = compilePolicy(text, { ...this.options, namespace: this.active.namespace });
    } catch (e) {
      if (!(e instanceof PolicyError)) throw e;
      this.text = text;
      this.report(`toolgate proxy: ${this.file} is not a valid policy; the running policy stays in force:`);
      for (const line of issueLines(this.file, e.issues)) this.report(`  ${line}`);
      return "invalid";
    }
    const previous = this.active;
    this.active = next;
    this.text = text;
    this.report(`toolgate proxy: ${this.file} reloaded (policy namespace ${JSON.stringify(next.namespace)})`);
    onSwap(previous, next);
    return "swapped";
  }

  /** Reloads on every change of the file (an editor's rename included) until {@link stop}. */
  watch(onSwap: (previous: Policy, next: Policy) => void): void {
    const changed = () => {
      clearTimeout(this.settle);
      this.settle = setTimeout(() => this.reload(onSwap), WATCH_SETTLE_MS);
    };
    const name = basename(this.file);
    try {
      this.watcher = watch(dirname(this.file), (_event, filename) => {
        if (filename === null || filename === name) changed();
      });
      this.watcher.on("error", () => {});
    } catch {
      // The poll below still sees changes.
    }
    watchFile(this.file, { interval: POLL_MS, persistent: false }, changed);
    this.polling = true;
  }

  /** Stops watching. */
  stop(): void {
    clearTimeout(this.settle);
    this.watcher?.close();
    if (this.polling) unwatchFile(this.file);
    this.polling = false;
  }
}

/**
 * Whether a session would see a different set of tools under `next` than under `previous`: each
 * of the upstream's last listed tools is asked of both, for every session seen lately.
 */
export function visibleToolsChanged(
  previous: Policy,
  next: Policy,
  tools: readonly ListedTool[],
  sessions: Iterable<Session>,
): boolean {
  for (const session of sessions) {
    for (const tool of tools) {
      const context = tool.annotations === undefined ? { session } : { session, annotations: tool.annotations };
      if (mayAllow(previous, tool.name, context) !== mayAllow(next, tool.name, context)) return true;
    }
  }
  return false;
}

/** A tool as the upstream listed it: its name and annotations. */
export interface ListedTool {
  name: string;
  annotations?: Record<string, unknown>;
}

/** The names and annotations of a tool list as the upstream returned it. */
export function listedTools(tools: unknown[]): ListedTool[] {
  const out: ListedTool[] = [];
  for (const tool of tools) {
    if (!isPlainObject(tool) || typeof tool.name !== "string") continue;
    out.push(
      isPlainObject(tool.annotations) ? { name: tool.name, annotations: { ...tool.annotations } } : { name: tool.name },
    );
  }
  return out;
}

function mayAllow(
  policy: Policy,
  tool: string,
  context: { session: Session; annotations?: Record<string, unknown> },
): boolean {
  try {
    return policy.mayAllow(tool, context);
  } catch {
    return false;
  }
}

/** The decision log's file: appended through a buffering stream, so a slow disk never blocks a call. */
export class LogFile {
  private readonly stream: WriteStream;
  private dropped = 0;
  private failed = false;

  /** Opens `file` for appending now, so a file that cannot be written is an error at start. */
  constructor(
    readonly file: string,
    private readonly report: (line: string) => void,
  ) {
    const fd = openSync(file, "a");
    this.stream = createWriteStream(file, { fd, flags: "a" });
    this.stream.on("error", (e) => {
      if (!this.failed)
        this.report(
          `toolgate proxy: the decision log ${file} cannot be written (${e.message}); decisions are no longer logged`,
        );
      this.failed = true;
    });
  }

  /** Queues one line; beyond the buffer's bound the line is dropped and counted. */
  write(line: string): void {
    if (this.failed) return;
    if (this.stream.writableLength > MAX_LOG_BUFFER_BYTES) {
      if (this.dropped++ === 0)
        this.report(`toolgate proxy: the decision log ${this.file} is not keeping up; lines are dropped until it does`);
      return;
    }
    if (this.dropped > 0) {
      this.report(`toolgate proxy: the decision log ${this.file} dropped ${this.dropped} lines`);
      this.dropped = 0;
    }
    this.stream.write(line);
  }

  /** Writes what is buffered, then closes the file. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.stream.end(() => resolve()));
    try {
      closeSync((this.stream as unknown as { fd: number }).fd);
    } catch {
      // Closed by the stream already.
    }
  }
}

/** Observers of one decision, in turn; one that throws does not keep the next from seeing it. */
export function observers(list: ((event: DecisionEvent) => void)[]): ((event: DecisionEvent) => void) | undefined {
  if (list.length === 0) return undefined;
  if (list.length === 1) return list[0];
  return (event) => {
    for (const observe of list) {
      try {
        observe(event);
      } catch {
        // Observers change nothing.
      }
    }
  };
}
