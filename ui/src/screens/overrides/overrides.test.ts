import { describe, expect, it } from "vitest";
import type { AuditEntry } from "../../bindings/AuditEntry";
import type { OverrideVerification } from "../../bindings/OverrideVerification";
import {
  checkDraft,
  checkExpiresIn,
  EMPTY_DRAFT,
  effectText,
  filterRows,
  formOf,
  hasProblems,
  isPast,
  issuedRow,
  overrideFileName,
  reasonHint,
  reasonLength,
  timeText,
  usedRow,
  verificationText,
} from "./overrides";

const entry = (over: Partial<AuditEntry>): AuditEntry => ({
  seq: 1,
  at: "2026-05-01T14:03:05.123Z",
  actor: "sam",
  action: "override.issue",
  subject: "wf-1",
  details: {},
  prev_hash: "0",
  hash: "1",
  ...over,
});

describe("the issue form", () => {
  const good = {
    ...EMPTY_DRAFT,
    workflow: " wf-1 ",
    verdict: "promote",
    reason: "incident 42 needs it",
  };

  it("accepts a complete form and sends it trimmed", () => {
    expect(hasProblems(checkDraft(good))).toBe(false);
    expect(formOf(good)).toEqual({
      workflow_id: "wf-1",
      forced_verdict: "promote",
      bypass_micro_pilot: false,
      reason: "incident 42 needs it",
      expires_in: "24h",
    });
  });

  it("needs a workflow, an effect and a reason of 10 characters", () => {
    const p = checkDraft({ ...EMPTY_DRAFT, reason: " short    " });
    expect(p.workflow).toBeDefined();
    expect(p.flags).toBeDefined();
    expect(p.reason).toContain("5 so far");
    expect(checkDraft({ ...good, verdict: "", bypass: true }).flags).toBeUndefined();
  });

  it("counts the reason by characters, trimmed", () => {
    expect(reasonLength("  éé€€😀  ")).toBe(5);
  });

  it("reads the expiry as the back end does", () => {
    expect(checkExpiresIn("24h")).toBeUndefined();
    expect(checkExpiresIn("90m")).toBeUndefined();
    expect(checkExpiresIn("7d")).toBeUndefined();
    expect(checkExpiresIn("")).toBeUndefined();
    expect(checkExpiresIn("1 day")).toBeDefined();
    expect(checkExpiresIn("0h")).toBeDefined();
    expect(checkExpiresIn("400d")).toBeDefined();
    expect(formOf({ ...good, expiresIn: " " }).expires_in).toBeNull();
  });

  it("names the file after the id", () => {
    expect(overrideFileName("ovr-wf-1-20260501")).toBe("~/ovr-wf-1-20260501.override.json");
    expect(overrideFileName("a/b c")).toBe("~/a-b-c.override.json");
  });
});

describe("the lists", () => {
  it("reads an issued entry", () => {
    const r = issuedRow(
      entry({
        details: {
          id: "ovr-1",
          forced_verdict: "no_go",
          bypass_micro_pilot: true,
          reason: "why",
          expires_at: "2026-05-02T14:03:05Z",
        },
      }),
    );
    expect(r).toMatchObject({
      id: "ovr-1",
      workflow: "wf-1",
      actor: "sam",
      expiresAt: "2026-05-02T14:03:05Z",
      effect: "forces no_go · bypasses micro-pilot",
    });
  });

  it("survives details it does not expect", () => {
    const r = issuedRow(entry({ seq: 7, details: null }));
    expect(r.id).toBe("#7");
    expect(r.effect).toBe("no effect named");
  });

  it("reads a used entry", () => {
    const r = usedRow(
      entry({
        action: "override.use",
        subject: "ovr-1",
        details: { workflow_id: "wf-9", verdict: "promote", legacy: true },
      }),
    );
    expect(r).toMatchObject({ id: "ovr-1", workflow: "wf-9", verdict: "promote", legacy: true });
    expect(usedRow(entry({ details: {} })).workflow).toBe("any workflow");
  });

  it("filters by id, workflow, actor or reason", () => {
    const rows = [
      { id: "a", workflow: "Invoices", actor: "sam", reason: "x" },
      { id: "b", workflow: "refunds", actor: "ada", reason: "incident" },
    ];
    expect(filterRows(rows, "inv").map((r) => r.id)).toEqual(["a"]);
    expect(filterRows(rows, "ADA").map((r) => r.id)).toEqual(["b"]);
    expect(filterRows(rows, "incident").map((r) => r.id)).toEqual(["b"]);
    expect(filterRows(rows, " ")).toHaveLength(2);
  });

  it("formats times and expiry", () => {
    expect(timeText("2026-05-01T14:03:05.123Z")).toBe("2026-05-01 14:03 UTC");
    expect(timeText(null)).toBe("—");
    expect(isPast("2000-01-01T00:00:00Z", Date.now())).toBe(true);
    expect(isPast("2999-01-01T00:00:00Z", Date.now())).toBe(false);
    expect(effectText(null, false)).toBe("no effect named");
  });
});

describe("a verification", () => {
  const base: OverrideVerification = {
    valid: true,
    format: "dsse",
    legacy: false,
    payload_type: "application/vnd.gavel.override.v1+json",
    override_id: "ovr-1",
    workflow_id: "wf-1",
    scope: "workflow",
    forced_verdict: "promote",
    bypass_micro_pilot: false,
    signers: [{ keyid: "ab", name: "sam", roles: ["security"] }],
    issued_at: "2026-05-01T14:03:05Z",
    expires_at: "2026-05-02T14:03:05Z",
    expiry_covered: true,
    reason: null,
    message: "valid",
    ledger_checked: true,
  };

  it("says what a valid one does", () => {
    expect(verificationText(base)).toBe(
      "Valid: forces promote for workflow wf-1, signed by sam, expires 2026-05-02 14:03 UTC",
    );
    expect(
      verificationText({ ...base, legacy: true, signers: [], scope: "any_workflow" }),
    ).toContain("for any workflow, signed by the shared secret (legacy)");
  });

  it("tells a legacy file's reader to name its secret", () => {
    expect(reasonHint("unknown_key", true)).toContain("Legacy secret name");
    expect(reasonHint("unknown_key")).toContain("Keys");
    expect(reasonHint(null)).toBeUndefined();
  });

  it("gives the message of an invalid one", () => {
    expect(
      verificationText({ ...base, valid: false, reason: "used", message: "already used" }),
    ).toBe("already used");
  });
});
