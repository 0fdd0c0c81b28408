// The engine's store deadlines (src/decide/deadlines.ts): one timer for every waiting call, due in
// the order they started; a settled call leaves at once and never expires.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Deadlines } from "../../src/decide/deadlines.js";

describe("Deadlines", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("expires what is still waiting after timeoutMs, in the order started, and nothing settled", () => {
    const d = new Deadlines(100);
    const fired: string[] = [];
    const a = d.start(() => fired.push("a"));
    vi.advanceTimersByTime(30);
    d.start(() => fired.push("b"));
    const c = d.start(() => fired.push("c"));
    d.settle(a);
    d.settle(c);
    d.settle(c);
    expect(d.size).toBe(1);
    vi.advanceTimersByTime(69);
    expect(fired).toEqual([]);
    // a's deadline (t = 100) finds a settled: the timer waits on for b (t = 130).
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(30);
    expect(fired).toEqual(["b"]);
    expect(d.size).toBe(0);
    vi.advanceTimersByTime(1_000);
    expect(fired).toEqual(["b"]);
  });

  it("holds only the calls still waiting, however many have come and gone", () => {
    const d = new Deadlines(5_000);
    let expired = 0;
    for (let i = 0; i < 100_000; i++) d.settle(d.start(() => expired++));
    const waiting = Array.from({ length: 3 }, () => d.start(() => expired++));
    expect(d.size).toBe(3);
    d.settle(waiting[1]!);
    vi.advanceTimersByTime(5_000);
    expect(expired).toBe(2);
    expect(d.size).toBe(0);
  });

  it("expires a call only once, even if settled afterwards", () => {
    const d = new Deadlines(10);
    let expired = 0;
    const a = d.start(() => expired++);
    vi.advanceTimersByTime(10);
    d.settle(a);
    vi.advanceTimersByTime(100);
    expect(expired).toBe(1);
  });
});
