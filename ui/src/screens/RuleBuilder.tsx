//! The rule builder: a side panel form for one rule. "Insert rule" sends the form to the
//! back end, which validates it and returns the document with the rule appended (the
//! YAML stays the source of truth); its validation errors are shown beside the form.

import { useEffect, useRef, useState } from "react";
import { api } from "../api";
import type { BudgetDraft } from "../bindings/BudgetDraft";
import type { Effect } from "../bindings/Effect";
import type { RuleDraft } from "../bindings/RuleDraft";
import type { RuleInsert } from "../bindings/RuleInsert";
import { toErrorLike } from "../errors";

export const OPERATORS = [
  "==",
  "!=",
  ">",
  ">=",
  "<",
  "<=",
  "in",
  "not_in",
  "contains",
  "matches",
  "exists",
] as const;

const EFFECTS: readonly Effect[] = ["allow", "deny", "needs_approval"];

interface ConditionRow {
  key: number;
  field: string;
  operator: string;
  value: string;
}

/** What each operator's value looks like, as a placeholder. */
function valueHint(operator: string): string {
  switch (operator) {
    case "in":
    case "not_in":
      return "a, b, c";
    case "exists":
      return "true or false";
    case "matches":
      return "regular expression";
    default:
      return "value";
  }
}

/** Turns the form's text fields into the draft the back end checks (numbers parsed, blanks as null). */
export function toDraft(form: {
  id: string;
  agent: string;
  action: string;
  effect: Effect;
  priority: string;
  reason: string;
  conditions: readonly { field: string; operator: string; value: string }[];
  withBudget: boolean;
  cost: string;
  compute: string;
  risk: string;
  enabled: boolean;
  approvals: string;
}): RuleDraft {
  const num = (s: string): number | null => (s.trim() === "" ? null : Number(s));
  const budget: BudgetDraft | null = form.withBudget
    ? {
        cost: num(form.cost),
        compute: num(form.compute),
        risk: form.risk === "" ? null : form.risk,
      }
    : null;
  return {
    id: form.id.trim(),
    agent: form.agent.trim(),
    action: form.action.trim(),
    effect: form.effect,
    priority: num(form.priority),
    reason: form.reason.trim(),
    conditions: form.conditions
      .filter((c) => c.field.trim() !== "" || c.value.trim() !== "")
      .map((c) => ({ field: c.field.trim(), operator: c.operator, value: c.value.trim() })),
    budget,
    enabled: form.enabled,
    approvals_required: form.effect === "needs_approval" ? num(form.approvals) : null,
  };
}

export function RuleBuilder({
  getDocument,
  fileName,
  onInserted,
  onClose,
}: {
  getDocument: () => string;
  fileName: string | undefined;
  onInserted: (result: RuleInsert) => void;
  onClose: () => void;
}) {
  const [id, setId] = useState("");
  const [agent, setAgent] = useState("");
  const [action, setAction] = useState("");
  const [effect, setEffect] = useState<Effect>("allow");
  const [priority, setPriority] = useState("50");
  const [reason, setReason] = useState("");
  const [conditions, setConditions] = useState<ConditionRow[]>([
    { key: 1, field: "", operator: "==", value: "" },
  ]);
  const [withBudget, setWithBudget] = useState(false);
  const [cost, setCost] = useState("");
  const [compute, setCompute] = useState("");
  const [risk, setRisk] = useState("");
  const [enabled, setEnabled] = useState(true);
  const [approvals, setApprovals] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const nextKey = useRef(2);
  const first = useRef<HTMLInputElement>(null);

  useEffect(() => first.current?.focus(), []);

  const updateCondition = (key: number, patch: Partial<ConditionRow>) =>
    setConditions((cs) => cs.map((c) => (c.key === key ? { ...c, ...patch } : c)));

  const addCondition = () => {
    const key = nextKey.current++;
    setConditions((cs) => [...cs, { key, field: "", operator: "==", value: "" }]);
  };

  const insert = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const draft = toDraft({
      id,
      agent,
      action,
      effect,
      priority,
      reason,
      conditions,
      withBudget,
      cost,
      compute,
      risk,
      enabled,
      approvals,
    });
    try {
      const result = await api.addRule(getDocument(), draft, fileName);
      onInserted(result);
      setId("");
      setReason("");
    } catch (err) {
      setError(toErrorLike(err).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <aside className="builder" aria-label="Rule builder">
      <div className="panel-title">
        Add rule
        <span style={{ flex: 1 }} />
        <button
          type="button"
          className="icon-button"
          aria-label="Close rule builder"
          onClick={onClose}
        >
          ×
        </button>
      </div>
      <form onSubmit={insert} aria-label="Rule form" noValidate>
        <label className="field">
          <span>Id</span>
          <input
            ref={first}
            type="text"
            aria-label="Rule id"
            placeholder="quarantine-high-risk"
            value={id}
            onChange={(e) => setId(e.target.value)}
          />
        </label>
        <div className="field-row">
          <label className="field">
            <span>Agent</span>
            <input
              type="text"
              aria-label="Agent"
              placeholder="inbox.triage"
              value={agent}
              onChange={(e) => setAgent(e.target.value)}
            />
          </label>
          <label className="field">
            <span>Action</span>
            <input
              type="text"
              aria-label="Action"
              placeholder="quarantine"
              value={action}
              onChange={(e) => setAction(e.target.value)}
            />
          </label>
        </div>
        <div className="field-row">
          <label className="field">
            <span>Effect</span>
            <select
              aria-label="Effect"
              value={effect}
              onChange={(e) => setEffect(e.target.value as Effect)}
            >
              {EFFECTS.map((x) => (
                <option key={x} value={x}>
                  {x}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>Priority</span>
            <input
              type="number"
              aria-label="Priority"
              min={0}
              max={100}
              step={1}
              value={priority}
              onChange={(e) => setPriority(e.target.value)}
            />
          </label>
        </div>
        {effect === "needs_approval" && (
          <label className="field">
            <span>Approvals required (default 1)</span>
            <input
              type="number"
              aria-label="Approvals required"
              min={1}
              step={1}
              placeholder="1"
              value={approvals}
              onChange={(e) => setApprovals(e.target.value)}
            />
          </label>
        )}
        <label className="field">
          <span>Reason</span>
          <input
            type="text"
            aria-label="Reason"
            placeholder="Why this rule exists"
            value={reason}
            onChange={(e) => setReason(e.target.value)}
          />
        </label>
        <fieldset>
          <legend>Conditions</legend>
          {conditions.length === 0 && (
            <div className="muted">No conditions: the rule matches every request.</div>
          )}
          {conditions.map((c, i) => (
            <div key={c.key} className="condition-row">
              <input
                type="text"
                aria-label={`Condition field ${i + 1}`}
                placeholder="risk_score"
                value={c.field}
                onChange={(e) => updateCondition(c.key, { field: e.target.value })}
              />
              <select
                aria-label={`Condition operator ${i + 1}`}
                value={c.operator}
                onChange={(e) => updateCondition(c.key, { operator: e.target.value })}
              >
                {OPERATORS.map((op) => (
                  <option key={op} value={op}>
                    {op}
                  </option>
                ))}
              </select>
              <input
                type="text"
                aria-label={`Condition value ${i + 1}`}
                placeholder={valueHint(c.operator)}
                value={c.value}
                onChange={(e) => updateCondition(c.key, { value: e.target.value })}
              />
              <button
                type="button"
                className="icon-button"
                aria-label={`Remove condition ${i + 1}`}
                onClick={() => setConditions((cs) => cs.filter((x) => x.key !== c.key))}
              >
                ×
              </button>
            </div>
          ))}
          <button
            type="button"
            aria-label="Add condition"
            onClick={addCondition}
            style={{ alignSelf: "flex-start" }}
          >
            + Add condition
          </button>
        </fieldset>
        <fieldset className={withBudget ? undefined : "collapsed"}>
          <legend>
            <label className="check">
              <input
                type="checkbox"
                aria-label="With budget"
                checked={withBudget}
                onChange={(e) => setWithBudget(e.target.checked)}
              />
              Budget (optional)
            </label>
          </legend>
          {withBudget && (
            <div className="field-row">
              <label className="field">
                <span>Cost (USD)</span>
                <input
                  type="number"
                  aria-label="Budget cost"
                  min={0}
                  step="any"
                  value={cost}
                  onChange={(e) => setCost(e.target.value)}
                />
              </label>
              <label className="field">
                <span>Compute</span>
                <input
                  type="number"
                  aria-label="Budget compute"
                  min={0}
                  step={1}
                  value={compute}
                  onChange={(e) => setCompute(e.target.value)}
                />
              </label>
              <label className="field">
                <span>Risk</span>
                <select
                  aria-label="Budget risk"
                  value={risk}
                  onChange={(e) => setRisk(e.target.value)}
                >
                  <option value="">—</option>
                  <option value="low">low</option>
                  <option value="medium">medium</option>
                  <option value="high">high</option>
                </select>
              </label>
            </div>
          )}
        </fieldset>
        <label className="check">
          <input
            type="checkbox"
            aria-label="Enabled"
            checked={enabled}
            onChange={(e) => setEnabled(e.target.checked)}
          />
          Enabled
        </label>
        {error && (
          <div className="form-error" role="alert" aria-label="Rule error">
            {error}
          </div>
        )}
      </form>
      <div className="form-actions">
        <button type="button" onClick={onClose}>
          Close
        </button>
        <button
          type="button"
          className="primary"
          aria-label="Insert rule"
          disabled={busy}
          onClick={(e) => void insert(e)}
        >
          {busy ? "Inserting…" : "Insert"}
        </button>
      </div>
    </aside>
  );
}
