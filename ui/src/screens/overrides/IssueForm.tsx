//! The form that issues an override (security role): workflow, forced verdict, bypass of
//! the micro-pilot, reason and expiry; the signed file to save afterwards. A refusal of
//! the back end (e.g. the signer lacks the security role) shows as `Override refused`.

import { useState } from "react";
import { api } from "../../api";
import type { IssuedOverride } from "../../bindings/IssuedOverride";
import { SaveFile } from "../../components/FileFields";
import { type ErrorLike, errorHint, toErrorLike } from "../../errors";
import {
  checkDraft,
  EMPTY_DRAFT,
  FORCEABLE,
  formOf,
  hasProblems,
  type IssueDraft,
  MIN_REASON,
  overrideFileName,
  overrideHint,
  reasonLength,
  refusalTitle,
  timeText,
} from "./overrides";

export function IssueForm({ onIssued }: { onIssued: () => void }) {
  const [draft, setDraft] = useState<IssueDraft>(EMPTY_DRAFT);
  const [tried, setTried] = useState(false);
  const [busy, setBusy] = useState(false);
  const [refusal, setRefusal] = useState<ErrorLike | null>(null);
  const [issued, setIssued] = useState<IssuedOverride | null>(null);

  const problems = checkDraft(draft);
  const set = (patch: Partial<IssueDraft>) => setDraft((d) => ({ ...d, ...patch }));
  const reasonCount = reasonLength(draft.reason);

  const issue = async () => {
    setTried(true);
    setRefusal(null);
    if (hasProblems(problems)) return;
    setBusy(true);
    try {
      const result = await api.issueOverride(formOf(draft));
      setIssued(result);
      setDraft(EMPTY_DRAFT);
      setTried(false);
      onIssued();
    } catch (e) {
      setRefusal(toErrorLike(e));
    } finally {
      setBusy(false);
    }
  };

  const show = (p: string | undefined) =>
    tried && p ? (
      <span className="ovr-problem" role="alert">
        {p}
      </span>
    ) : null;

  const hint = refusal ? (overrideHint(refusal.code) ?? errorHint(refusal.code)) : undefined;
  const expiresAt =
    issued && typeof issued.payload === "object" && issued.payload && !Array.isArray(issued.payload)
      ? (issued.payload as Record<string, unknown>).expires_at
      : null;

  return (
    <section className="ovr-section" aria-label="Issue an override">
      <h2>Issue an override</h2>
      <form
        className="ovr-form"
        onSubmit={(e) => {
          e.preventDefault();
          void issue();
        }}
      >
        <label className="ovr-field">
          <span>Workflow</span>
          <input
            type="text"
            aria-label="Workflow"
            placeholder="workflow id, e.g. wf-invoice-triage"
            value={draft.workflow}
            disabled={busy}
            onChange={(e) => set({ workflow: e.target.value })}
          />
          {show(problems.workflow)}
        </label>
        <div className="ovr-row">
          <label className="ovr-field">
            <span>Forced verdict</span>
            <select
              aria-label="Forced verdict"
              value={draft.verdict}
              disabled={busy}
              onChange={(e) => set({ verdict: e.target.value })}
            >
              <option value="">none</option>
              {FORCEABLE.map((v) => (
                <option key={v} value={v}>
                  {v}
                </option>
              ))}
            </select>
          </label>
          <label className="ovr-check">
            <input
              type="checkbox"
              aria-label="Bypass micro-pilot"
              checked={draft.bypass}
              disabled={busy}
              onChange={(e) => set({ bypass: e.target.checked })}
            />
            <span>Bypass micro-pilot</span>
          </label>
          <label className="ovr-field ovr-expires">
            <span>Expires in</span>
            <input
              type="text"
              aria-label="Expires in"
              placeholder="24h"
              value={draft.expiresIn}
              disabled={busy}
              onChange={(e) => set({ expiresIn: e.target.value })}
            />
          </label>
        </div>
        {show(problems.flags)}
        {show(problems.expiresIn)}
        <label className="ovr-field">
          <span>
            Reason{" "}
            <span
              className={reasonCount < MIN_REASON ? "ovr-counter short" : "ovr-counter"}
              aria-live="polite"
            >
              {reasonCount} / {MIN_REASON}+ characters
            </span>
          </span>
          <textarea
            aria-label="Reason"
            placeholder="Why this workflow needs an exception (recorded in the audit log)"
            value={draft.reason}
            disabled={busy}
            onChange={(e) => set({ reason: e.target.value })}
          />
          {show(problems.reason)}
        </label>
        <div className="detail-actions">
          <button type="submit" className="primary" aria-label="Issue override" disabled={busy}>
            {busy ? "Signing…" : "Issue override"}
          </button>
          <span className="muted">
            Signed with your key from the OS keychain; valid for one use, for one workflow.
          </span>
        </div>
      </form>
      {refusal && (
        <div className="ovr-refusal" role="alert" aria-label="Override refused">
          <strong>
            {refusalTitle(refusal.code)} <code>{refusal.code}</code>
          </strong>
          <p>{refusal.message}</p>
          {hint && hint !== refusal.message && <p className="muted">{hint}</p>}
        </div>
      )}
      {issued && (
        <section className="ovr-issued" aria-label="Issued override">
          <span>
            Issued{" "}
            <span className="mono truncate" title={issued.id}>
              {issued.id}
            </span>
            {typeof expiresAt === "string" && <>, expires {timeText(expiresAt)}</>}. Save the file
            and give it to whoever runs the scorecard.
          </span>
          <SaveFile
            key={issued.id}
            label="Override file"
            defaultPath={overrideFileName(issued.id)}
            text={() => JSON.stringify(issued.envelope, null, 2)}
          />
        </section>
      )}
    </section>
  );
}
