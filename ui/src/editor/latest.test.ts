import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LatestRequest } from "./latest";

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("LatestRequest", () => {
  it("debounces: only the last input within the delay is requested", async () => {
    const request = vi.fn(async (s: string) => s.length);
    const onResult = vi.fn();
    const lr = new LatestRequest({ request, onResult, delayMs: 250 });
    lr.schedule("a");
    vi.advanceTimersByTime(100);
    lr.schedule("ab");
    vi.advanceTimersByTime(249);
    expect(request).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    await vi.runAllTimersAsync();
    expect(request).toHaveBeenCalledTimes(1);
    expect(request).toHaveBeenCalledWith("ab");
    expect(onResult).toHaveBeenCalledWith(2, "ab");
  });

  it("scheduleWith reads the input only when the timer fires", async () => {
    let text = "a";
    const read = vi.fn(() => text);
    const request = vi.fn(async (s: string) => s);
    const lr = new LatestRequest({ request, onResult: () => {}, delayMs: 250 });
    lr.scheduleWith(read);
    text = "ab";
    lr.scheduleWith(read);
    text = "abc";
    expect(read).not.toHaveBeenCalled();
    await vi.runAllTimersAsync();
    expect(read).toHaveBeenCalledTimes(1);
    expect(request.mock.calls).toEqual([["abc"]]);
  });

  it("drops a stale response that arrives after a newer one", async () => {
    const first = deferred<string>();
    const second = deferred<string>();
    const pending = [first, second];
    const onResult = vi.fn();
    const lr = new LatestRequest({ request: () => pending.shift()!.promise, onResult, delayMs: 0 });
    const p1 = lr.now("one");
    const p2 = lr.now("two");
    second.resolve("result two");
    await p2;
    first.resolve("result one");
    await p1;
    expect(onResult).toHaveBeenCalledTimes(1);
    expect(onResult).toHaveBeenCalledWith("result two", "two");
  });

  it("drops a stale failure and reports the latest one", async () => {
    const first = deferred<string>();
    const second = deferred<string>();
    const pending = [first, second];
    const onError = vi.fn();
    const onResult = vi.fn();
    const lr = new LatestRequest({
      request: () => pending.shift()!.promise,
      onResult,
      onError,
      delayMs: 0,
    });
    const p1 = lr.now("one");
    const p2 = lr.now("two");
    first.reject(new Error("old"));
    await p1;
    expect(onError).not.toHaveBeenCalled();
    second.reject(new Error("new"));
    await p2;
    expect(onError).toHaveBeenCalledTimes(1);
  });

  it("now() cancels a pending debounce", async () => {
    const request = vi.fn(async (s: string) => s);
    const lr = new LatestRequest({ request, onResult: () => {}, delayMs: 250 });
    lr.schedule("typed");
    await lr.now("flushed");
    await vi.runAllTimersAsync();
    expect(request.mock.calls).toEqual([["flushed"]]);
  });

  it("cancel() drops the timer and any in-flight response", async () => {
    const d = deferred<string>();
    const onResult = vi.fn();
    const lr = new LatestRequest({ request: () => d.promise, onResult, delayMs: 250 });
    const p = lr.now("x");
    lr.cancel();
    d.resolve("late");
    await p;
    expect(onResult).not.toHaveBeenCalled();
  });

  it("reports busy only for the latest request", async () => {
    const first = deferred<string>();
    const second = deferred<string>();
    const pending = [first, second];
    const busy: boolean[] = [];
    const lr = new LatestRequest({
      request: () => pending.shift()!.promise,
      onResult: () => {},
      onBusy: (b) => busy.push(b),
      delayMs: 0,
    });
    const p1 = lr.now("1");
    const p2 = lr.now("2");
    first.resolve("a");
    await p1;
    expect(busy).toEqual([true, true]);
    second.resolve("b");
    await p2;
    expect(busy).toEqual([true, true, false]);
  });
});
