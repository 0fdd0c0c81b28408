/**
 * Pinned tool definitions (docs/spec.md, section 8, "Tool definitions are pinned").
 *
 * An upstream server the operator does not control can change a tool after it was looked at
 * and approved — a new description that instructs the model, a schema that takes more, an
 * annotation that now claims to be read-only ("rug pulls"). The proxy keeps, per upstream, the
 * first definition it saw of each tool (name, description, input schema, annotations); a tool
 * whose later definition differs is left out of `tools/list` and its calls are refused with
 * `cause: "tool_changed"`. A tool first seen later is pinned when first seen.
 *
 * The pins are bounded in entries and in bytes: a tool that cannot be pinned any more is
 * treated as changed (hidden and refused), never let through unpinned.
 */

import { canonicalJson } from "./approval-state.js";
import { isPlainObject } from "../shared/objects.js";
import { quoteName } from "../shared/text.js";
import type { DenyDecision } from "toolgate";

/** The parts of a definition that are pinned. */
const PINNED_FIELDS = ["description", "inputSchema", "annotations"] as const;

/** Options of {@link ToolPins}. */
export interface ToolPinsOptions {
  /**
   * Called once for each tool each time its listed definition starts to differ from its pin
   * (not again for the same changed definition): the tool and the fields that changed.
   */
  onChange?: (tool: string, fields: readonly string[]) => void;
  /** @default 10000 */
  maxTools?: number;
  /** The most bytes of pinned definitions kept (UTF-16 code units, doubled). @default 33554432 */
  maxBytes?: number;
}

interface Pin {
  /** Canonical JSON of each pinned field (`undefined` when absent). */
  fields: (string | undefined)[];
  /** Whether the last listed definition differs from the pin. */
  changed: boolean;
  /** The canonical form of the last changed definition reported, so a change is reported once. */
  reported: string | undefined;
}

/** The first definitions seen of an upstream's tools. */
export class ToolPins {
  private readonly pins = new Map<string, Pin>();
  /** Set once the bounds are reached: from then on, a tool without a pin is refused. */
  private full = false;
  private bytes = 0;
  private readonly maxTools: number;
  private readonly maxBytes: number;
  private readonly onChange: ToolPinsOptions["onChange"];

  constructor(options: ToolPinsOptions = {}) {
    this.maxTools = options.maxTools ?? 10_000;
    this.maxBytes = options.maxBytes ?? 32 * 1024 * 1024;
    this.onChange = options.onChange;
  }

  /**
   * Checks a listed page of tools against the pins (pinning new ones) and returns the tools
   * whose definitions are unchanged, in order.
   */
  review(tools: readonly unknown[]): unknown[] {
    const kept: unknown[] = [];
    for (const tool of tools) {
      if (!isPlainObject(tool) || typeof tool.name !== "string") continue;
      if (this.check(tool.name, tool)) kept.push(tool);
    }
    return kept;
  }

  /**
   * `true` when the last listed definition of `tool` differs from its pin, or when the pins are
   * full and `tool` has none (it could not be pinned).
   */
  isChanged(tool: string): boolean {
    const pin = this.pins.get(tool);
    return pin === undefined ? this.full : pin.changed;
  }

  private check(name: string, tool: Record<string, unknown>): boolean {
    const fields = PINNED_FIELDS.map((f) =>
      tool[f] === undefined ? undefined : (canonicalJson(tool[f]) ?? "\u0000unreadable"),
    );
    const pin = this.pins.get(name);
    if (pin === undefined) {
      const size = 2 * (name.length + fields.reduce((n, f) => n + (f?.length ?? 0), 0));
      if (this.pins.size >= this.maxTools || this.bytes + size > this.maxBytes) {
        this.full = true;
        return false;
      }
      this.bytes += size;
      this.pins.set(name, { fields, changed: false, reported: undefined });
      return true;
    }
    const differing = PINNED_FIELDS.filter((_, i) => pin.fields[i] !== fields[i]);
    pin.changed = differing.length > 0;
    if (pin.changed) {
      const form = fields.map((f) => f ?? "").join("\u0000");
      if (pin.reported !== form) {
        pin.reported = form;
        this.onChange?.(name, differing);
      }
    }
    return !pin.changed;
  }
}

/**
 * The deny for a call of a tool whose definition changed since it was first listed (`cause:
 * "tool_changed"`), or `undefined` when it did not (or nothing is pinned). Both relays use it.
 */
export function changedToolRefusal(pins: ToolPins | undefined, tool: string): DenyDecision | undefined {
  if (pins?.isChanged(tool) !== true) return undefined;
  return {
    outcome: "deny",
    rule: "",
    cause: "tool_changed",
    reason:
      `The definition of the tool ${quoteName(tool)} changed since it was first listed, ` +
      "so this proxy refuses to call it.",
  };
}
