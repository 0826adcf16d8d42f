import { describe, expect, it } from "vitest";
import type { InboxItem } from "../../bindings/InboxItem";
import {
  approvalsText,
  checkComment,
  contextText,
  groupInbox,
  moreNeeded,
  moreNeededText,
  refusalTitle,
} from "./inbox";

function item(bundle: string, version: string, environment: string): InboxItem {
  return {
    environment,
    bundle,
    reference: `${bundle}@${version}`,
    digest: "sha256:00",
    author: "ada",
    state: "pending",
    approvals: 0,
    required: 1,
    needs: 1,
    approvers: [],
  };
}

describe("groupInbox", () => {
  it("puts what awaits me first, then my submissions, sorted by bundle and environment order", () => {
    const groups = groupInbox(
      {
        me: "bob",
        awaiting: [
          item("b", "1.0.0", "prod"),
          item("a", "1.0.0", "prod"),
          item("a", "1.0.0", "dev"),
        ],
        submitted: [item("c", "2.0.0", "staging")],
      },
      ["dev", "staging", "prod"],
    );
    expect(groups.map((g) => g.key)).toEqual(["awaiting", "submitted"]);
    expect(groups[0]?.items.map((i) => `${i.reference} ${i.environment}`)).toEqual([
      "a@1.0.0 dev",
      "a@1.0.0 prod",
      "b@1.0.0 prod",
    ]);
    expect(groups[1]?.items).toHaveLength(1);
  });

  it("keeps empty groups, with what would appear there", () => {
    const groups = groupInbox({ me: null, awaiting: [], submitted: [] });
    expect(groups).toHaveLength(2);
    for (const g of groups) {
      expect(g.items).toEqual([]);
      expect(g.empty.length).toBeGreaterThan(10);
    }
  });

  it("puts unknown environments last", () => {
    const groups = groupInbox(
      { me: "x", awaiting: [item("a", "1.0.0", "qa"), item("a", "1.0.0", "dev")], submitted: [] },
      ["dev", "prod"],
    );
    expect(groups[0]?.items.map((i) => i.environment)).toEqual(["dev", "qa"]);
  });
});

describe("more needed", () => {
  it("counts what is missing, never below zero", () => {
    expect(moreNeeded(2, 0)).toBe(2);
    expect(moreNeeded(2, 1)).toBe(1);
    expect(moreNeeded(2, 2)).toBe(0);
    expect(moreNeeded(1, 3)).toBe(0);
  });
  it("says it", () => {
    expect(moreNeededText(2)).toBe("2 more needed");
    expect(moreNeededText(0)).toBe("quorum reached");
    expect(approvalsText(1, 2)).toBe("1 of 2");
  });
});

describe("checkComment", () => {
  it("lets an approval go without a comment", () => {
    expect(checkComment("approve", "")).toEqual({ ok: true });
  });
  it("asks a rejection for at least 10 characters, spaces trimmed", () => {
    expect(checkComment("reject", "").ok).toBe(false);
    expect(checkComment("reject", "   too short   ").ok).toBe(false);
    expect(checkComment("reject", "123456789").ok).toBe(false);
    expect(checkComment("reject", "1234567890")).toEqual({ ok: true });
  });
  it("says how many characters are missing", () => {
    const c = checkComment("reject", "abc");
    expect(c.ok ? "" : c.reason).toContain("7 more");
  });
  it("counts characters, not UTF-16 units", () => {
    expect(checkComment("reject", "😀😀😀😀😀😀😀😀😀").ok).toBe(false);
  });
});

describe("refusalTitle", () => {
  it("branches on the code", () => {
    expect(refusalTitle("author_cannot_approve")).toBe(
      "You submitted this version: another approver must decide",
    );
    expect(refusalTitle("comment_required")).toContain("comment");
    expect(refusalTitle("something_new")).toBe("The decision was refused");
  });
});

describe("contextText", () => {
  it("shortens long contexts", () => {
    expect(contextText({ a: 1 })).toBe('{"a":1}');
    expect(contextText({ a: "x".repeat(400) }, 20)).toHaveLength(20);
  });
});
