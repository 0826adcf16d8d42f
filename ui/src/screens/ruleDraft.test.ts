import { describe, expect, it } from "vitest";
import { toDraft } from "./RuleBuilder";

const base = {
  id: " quarantine-high ",
  agent: "inbox.triage",
  action: "quarantine",
  effect: "allow" as const,
  priority: "80",
  reason: " Quarantine phishing ",
  conditions: [
    { field: "risk_score", operator: ">=", value: "90" },
    { field: " ", operator: "==", value: "" },
  ],
  withBudget: false,
  cost: "",
  compute: "",
  risk: "",
  enabled: true,
  approvals: "2",
};

describe("toDraft", () => {
  it("trims text, parses the priority and drops blank condition rows", () => {
    const d = toDraft(base);
    expect(d.id).toBe("quarantine-high");
    expect(d.reason).toBe("Quarantine phishing");
    expect(d.priority).toBe(80);
    expect(d.conditions).toEqual([{ field: "risk_score", operator: ">=", value: "90" }]);
    expect(d.budget).toBeNull();
    expect(d.approvals_required).toBeNull();
  });
  it("sends a blank priority as null for the back end's default", () => {
    expect(toDraft({ ...base, priority: "" }).priority).toBeNull();
  });
  it("sends the budget only when asked, blanks as null", () => {
    expect(
      toDraft({ ...base, withBudget: true, cost: "0.5", compute: "", risk: "low" }).budget,
    ).toEqual({
      cost: 0.5,
      compute: null,
      risk: "low",
    });
  });
  it("sends approvals only for needs_approval", () => {
    expect(toDraft(base).approvals_required).toBeNull();
    expect(toDraft({ ...base, effect: "needs_approval" }).approvals_required).toBe(2);
    expect(
      toDraft({ ...base, effect: "needs_approval", approvals: "" }).approvals_required,
    ).toBeNull();
  });
  it("leaves validation to the back end (an empty id is sent as is)", () => {
    expect(toDraft({ ...base, id: "" }).id).toBe("");
  });
});
