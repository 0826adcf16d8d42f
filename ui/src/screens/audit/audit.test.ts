import { describe, expect, it } from "vitest";
import type { AuditEntry } from "../../bindings/AuditEntry";
import type { AuditVerification } from "../../bindings/AuditVerification";
import {
  actionTone,
  auditHint,
  checkpointText,
  checkTime,
  detailsText,
  emptyForm,
  indexOfSeq,
  isFiltered,
  limitToReach,
  locate,
  rowForSeq,
  shortHash,
  timeText,
  toFilters,
  verdict,
} from "./audit";

const entry = (seq: number): AuditEntry => ({
  seq,
  at: "2026-11-23T15:04:05.123Z",
  actor: "ada",
  action: "bundle.create",
  subject: "inbox@1.0.0",
  details: {},
  prev_hash: "0".repeat(64),
  hash: "a".repeat(64),
});

const verification = (over: Partial<AuditVerification>): AuditVerification => ({
  valid: true,
  entries: 12,
  last_seq: 12,
  last_hash: "b".repeat(64),
  first_bad: null,
  checkpoint: null,
  ...over,
});

describe("filters", () => {
  it("accepts empty, dates and RFC 3339 times", () => {
    expect(checkTime("")).toBeNull();
    expect(checkTime(" 2026-11-23 ")).toBeNull();
    expect(checkTime("2026-11-23T15:04:05Z")).toBeNull();
    expect(checkTime("2026-11-23T15:04:05.123+02:00")).toBeNull();
  });

  it("refuses other times with an example", () => {
    expect(checkTime("yesterday")).toContain("2026-11-23");
    expect(checkTime("2026-11-23T15:04")).not.toBeNull();
    expect(checkTime("23/11/2026")).not.toBeNull();
  });

  it("sends blanks as null, trimmed, with the limit", () => {
    const { filters, errors } = toFilters(
      { actor: " ada ", action: "", subject: "x@1", since: "2026-01-01", until: "  " },
      100,
    );
    expect(errors).toEqual({});
    expect(filters).toEqual({
      actor: "ada",
      action: null,
      subject: "x@1",
      since: "2026-01-01",
      until: null,
      limit: 100,
    });
  });

  it("names the time fields that are wrong", () => {
    const { errors } = toFilters({ ...emptyForm(), since: "soon", until: "later" }, 100);
    expect(errors.since).toMatch(/^Since: /);
    expect(errors.until).toMatch(/^Until: /);
  });

  it("prefills the subject and knows when a filter narrows", () => {
    expect(emptyForm("b@1.0.0").subject).toBe("b@1.0.0");
    expect(isFiltered(toFilters(emptyForm(), 100).filters)).toBe(false);
    expect(isFiltered(toFilters(emptyForm("b@1"), 100).filters)).toBe(true);
  });
});

describe("formatting", () => {
  it("shortens hashes and keeps short ones", () => {
    expect(shortHash("abcdef0123456789")).toBe("abcdef012345…");
    expect(shortHash("abc")).toBe("abc");
  });

  it("shows a time to the second, and unknown text as is", () => {
    expect(timeText("2026-11-23T15:04:05.123Z")).toMatch(/^2026-11-2\d \d\d:\d\d:05$/);
    expect(timeText("not a time")).toBe("not a time");
  });

  it("pretty-prints details", () => {
    expect(detailsText({ a: 1 })).toBe('{\n  "a": 1\n}');
    expect(detailsText(null)).toBe("null");
    expect(detailsText("raw")).toBe("raw");
  });

  it("colours actions", () => {
    expect(actionTone("approval.reject")).toBe("bad");
    expect(actionTone("approval.approve")).toBe("ok");
    expect(actionTone("override.issue")).toBe("warn");
    expect(actionTone("key.trust")).toBe("info");
    expect(actionTone("bundle.create")).toBe("neutral");
  });
});

describe("finding an entry", () => {
  const list = [entry(9), entry(8), entry(6), entry(5)];

  it("finds a seq, or the nearest older entry when it is missing", () => {
    expect(indexOfSeq(list, 8)).toBe(1);
    expect(indexOfSeq(list, 7)).toBe(-1);
    expect(rowForSeq(list, 7)).toBe(2);
    expect(rowForSeq(list, 10)).toBe(0);
    expect(rowForSeq(list, 1)).toBe(3);
  });

  it("tells a removed entry from one older than the list reaches", () => {
    expect(locate(list, 8, 4)).toEqual({ row: 1, state: "found" });
    expect(locate(list, 7, 4)).toEqual({ row: 2, state: "missing" });
    expect(locate(list, 2, 4)).toEqual({ row: 3, state: "beyond" });
    expect(locate(list, 2, 100)).toEqual({ row: 3, state: "missing" });
    expect(locate([entry(3), entry(1)], 2, 2).state).toBe("missing");
    expect(locate([], 2, 100)).toEqual({ row: -1, state: "missing" });
  });

  it("raises the limit just enough to reach back", () => {
    expect(limitToReach(95, 100, 100)).toBe(100);
    expect(limitToReach(1, 500, 100)).toBe(1000);
    expect(limitToReach(1, 5000, 1000)).toBe(10000);
    expect(limitToReach(1, 50000, 1000)).toBe(10000);
    expect(limitToReach(1, 50, 10000)).toBe(10000);
  });
});

describe("verification", () => {
  it("says intact with the count and last seq", () => {
    expect(verdict(verification({})).headline).toBe("Intact: 12 entries, last #12");
    expect(verdict(verification({ entries: 0, last_seq: 0 })).headline).toBe(
      "Intact: 0 entries, the log is empty",
    );
  });

  it("says broken when an entry is bad", () => {
    const v = verification({
      valid: false,
      first_bad: { seq: 3, kind: "edited", message: "entry 3 was edited" },
    });
    expect(verdict(v)).toEqual({ tone: "bad", headline: "Broken at entry #" });
  });

  it("explains checkpoints", () => {
    expect(
      checkpointText({
        valid: true,
        seq: 7,
        hash: "c".repeat(64),
        at: "2026-11-23T15:04:05Z",
        signed_by: ["0123456789abcdef"],
        reason: null,
        message: "valid checkpoint of seq 7",
      }),
    ).toContain("vouches for entry #7");
    expect(
      checkpointText({
        valid: false,
        seq: null,
        hash: null,
        at: null,
        signed_by: [],
        reason: "unknown_key",
        message: "",
      }),
    ).toContain("not signed by a trusted operator key");
  });

  it("has hints for its codes and falls back to the app's", () => {
    expect(auditHint("invalid")).toContain("RFC 3339");
    expect(auditHint("stale_state")).toBeDefined();
    expect(auditHint("nope")).toBeUndefined();
  });
});
