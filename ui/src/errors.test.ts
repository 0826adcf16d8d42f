import { describe, expect, it } from "vitest";
import { errorHint, toErrorLike } from "./errors";

describe("toErrorLike", () => {
  it("keeps {code, message}", () => {
    expect(toErrorLike({ code: "not_found", message: "no such bundle" })).toEqual({
      code: "not_found",
      message: "no such bundle",
    });
  });
  it("wraps errors, strings and unknowns", () => {
    expect(toErrorLike(new Error("boom"))).toEqual({ code: "internal", message: "boom" });
    expect(toErrorLike("plain")).toEqual({ code: "internal", message: "plain" });
    expect(toErrorLike(42).code).toBe("internal");
    expect(toErrorLike(null).message).toMatch(/no details/);
  });
});

describe("errorHint", () => {
  it("says what to do for known codes only", () => {
    expect(errorHint("version_exists")).toMatch(/metadata\.version/);
    expect(errorHint("something_else")).toBeUndefined();
  });
});
