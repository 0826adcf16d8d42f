//! The review of one version in one environment: who submitted it and what is active
//! there, the approvals so far against the quorum, the simulated impact with its example
//! changed cases, the lint summary, the diff against the active version (the Diff
//! screen's rule rows), and the decision. Everything shown is computed in Rust.

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api } from "../../api";
import type { ApprovalRecord } from "../../bindings/ApprovalRecord";
import type { Decision } from "../../bindings/Decision";
import type { DiffView } from "../../bindings/DiffView";
import type { ReviewView } from "../../bindings/ReviewView";
import type { RulePair } from "../../bindings/RulePair";
import { StatusBadge } from "../../components/Badge";
import { Empty, Failed, Loading } from "../../components/States";
import { type ErrorLike, errorHint, toErrorLike } from "../../errors";
import "../diff/diff.css";
import { classTone, expandedByDefault, ruleFieldLines, visiblePairs } from "../diff/fields";
import { RuleRows } from "../diff/RuleRows";
import {
  approvalsText,
  checkComment,
  contextText,
  moreNeeded,
  moreNeededText,
  refusalTitle,
} from "./inbox";

export function ReviewPanel({
  reference,
  environment,
  onDecided,
}: {
  reference: string;
  environment: string;
  /** Called after a decision was recorded (the inbox reloads). */
  onDecided: () => void;
}) {
  const [view, setView] = useState<ReviewView | null>(null);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    try {
      const v = await api.review(reference, environment);
      if (mine !== seq.current) return;
      setView(v);
      setError(null);
    } catch (e) {
      if (mine !== seq.current) return;
      setError(toErrorLike(e));
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, [reference, environment]);

  useEffect(() => {
    void load();
  }, [load]);

  if (loading && !view) return <Loading label="Loading the review…" />;
  if (error && !view)
    return (
      <Failed
        what={`The review of ${reference} in ${environment} could not be loaded`}
        error={error}
        onRetry={() => void load()}
      />
    );
  if (!view) return null;

  const needed = moreNeeded(view.tally.required, view.tally.counted.length);
  return (
    <section
      className="review"
      aria-label={`Review of ${view.reference} in ${view.environment}`}
      aria-busy={loading}
    >
      <header className="review-section review-head">
        <strong className="review-ref truncate mono" title={`${view.reference} (${view.digest})`}>
          {view.reference}
        </strong>
        <StatusBadge status={view.state} />
        <span className="badge badge-info" title={`environment: ${view.environment}`}>
          {view.environment}
        </span>
        <span className="muted truncate" title={`submitted by ${view.author}`}>
          by {view.author}
        </span>
        <output className="muted truncate" aria-label="Active version" title={view.active ?? ""}>
          {view.active ? (
            <>
              active here: <span className="mono">{view.active}</span>
            </>
          ) : (
            "nothing active here"
          )}
        </output>
        {loading && <span className="muted">Updating…</span>}
      </header>

      <Approvals view={view} needed={needed} />
      <Decide
        reference={view.reference}
        environment={view.environment}
        onDecided={() => {
          void load();
          onDecided();
        }}
      />
      <ImpactSection view={view} />
      <section className="review-section" aria-label="Lint">
        <h2>Lint</h2>
        <div className="review-counts">
          <span className={view.lint.errors > 0 ? "sev-error" : undefined}>
            <output aria-label="Lint errors">{view.lint.errors}</output> errors
          </span>
          <span>
            <output aria-label="Lint warnings">{view.lint.warnings}</output> warnings
          </span>
          <span>
            <output aria-label="Lint info">{view.lint.info}</output> info
          </span>
          <span className="muted">over {view.lint.total_rules} rules</span>
          {view.lint.analysis_incomplete > 0 && (
            <span className="muted">
              {view.lint.analysis_incomplete} rules not fully analysed (work budget)
            </span>
          )}
        </div>
      </section>
      <DiffSection diff={view.diff} />
    </section>
  );
}

function Approvals({ view, needed }: { view: ReviewView; needed: number }) {
  const { tally } = view;
  return (
    <section className="review-section" aria-label="Approvals so far">
      <h2>
        Approvals {approvalsText(tally.counted.length, tally.required)} ·{" "}
        <span
          title={`environment quorum ${tally.environment_quorum}, rules require ${tally.rules_require}`}
        >
          {needed === 0 ? (
            <output aria-label="Approvals needed">0</output>
          ) : (
            <>
              <output aria-label="Approvals needed">{needed}</output> more needed
            </>
          )}
        </span>
      </h2>
      <p className="muted" style={{ margin: "0 0 6px" }}>
        {moreNeededText(needed)} — quorum {tally.required} (environment {tally.environment_quorum},
        rules {tally.rules_require})
      </p>
      {tally.counted.length === 0 &&
      tally.rejections.length === 0 &&
      tally.not_counted.length === 0 ? (
        <p className="muted" style={{ margin: 0 }}>
          No decision yet.
        </p>
      ) : (
        <ul className="review-list" aria-label="Decisions">
          {tally.counted.map((a) => (
            <li key={`ok-${a.keyid}`}>
              <span className="badge badge-ok">approved</span>
              <strong className="truncate" title={`${a.name} (key ${a.keyid})`}>
                {a.name}
              </strong>
              <span className="truncate muted" title={a.comment}>
                {a.comment || "no comment"}
              </span>
            </li>
          ))}
          {tally.rejections.map((a) => (
            <li key={`no-${a.keyid}`}>
              <span className="badge badge-bad">rejected</span>
              <strong className="truncate" title={`${a.name} (key ${a.keyid})`}>
                {a.name}
              </strong>
              <span className="truncate muted" title={a.comment}>
                {a.comment}
              </span>
            </li>
          ))}
          {tally.not_counted.map((reason) => (
            <li key={`nc-${reason}`}>
              <span className="badge badge-muted">not counted</span>
              <span className="truncate muted" title={reason}>
                {reason}
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function Decide({
  reference,
  environment,
  onDecided,
}: {
  reference: string;
  environment: string;
  onDecided: () => void;
}) {
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState<Decision | null>(null);
  const [refusal, setRefusal] = useState<ErrorLike | null>(null);
  const [result, setResult] = useState<ApprovalRecord | null>(null);
  const rejectCheck = checkComment("reject", comment);

  const decide = async (decision: Decision) => {
    setRefusal(null);
    setResult(null);
    const check = checkComment(decision, comment);
    if (!check.ok) {
      setRefusal({ code: "comment_required", message: check.reason });
      return;
    }
    setBusy(decision);
    try {
      const record = await api.decide(reference, environment, decision, comment.trim());
      setResult(record);
      setComment("");
      onDecided();
    } catch (e) {
      setRefusal(toErrorLike(e));
    } finally {
      setBusy(null);
    }
  };

  const hint = refusal ? errorHint(refusal.code) : undefined;
  return (
    <section className="review-section decide" aria-label="Decide">
      <h2>Decide</h2>
      <textarea
        aria-label="Comment"
        placeholder="Comment (a rejection needs at least 10 characters saying why)"
        value={comment}
        disabled={busy !== null}
        onChange={(e) => setComment(e.target.value)}
      />
      <div className="detail-actions">
        <button
          type="button"
          className="primary"
          aria-label="Approve"
          disabled={busy !== null}
          onClick={() => void decide("approve")}
        >
          {busy === "approve" ? "Approving…" : "Approve"}
        </button>
        <button
          type="button"
          className="danger"
          aria-label="Reject"
          disabled={busy !== null}
          title={rejectCheck.ok ? "Reject this version here" : rejectCheck.reason}
          onClick={() => void decide("reject")}
        >
          {busy === "reject" ? "Rejecting…" : "Reject"}
        </button>
        {!rejectCheck.ok && comment.trim() !== "" && (
          <span className="muted">{rejectCheck.reason}</span>
        )}
      </div>
      {refusal && (
        <div className="decide-refusal" role="alert" aria-label="Decision refused">
          <strong>{refusalTitle(refusal.code)}</strong>
          <p>{refusal.message}</p>
          {hint && hint !== refusal.message && <p className="muted">{hint}</p>}
        </div>
      )}
      {result && (
        <output className="decide-result" aria-label="Decision result">
          {result.decision === "approve" ? "Approved" : "Rejected"} as {result.approver}: approvals
          now {approvalsText(result.approvals, result.required)} (
          {result.state.replaceAll("_", " ")}
          ).
        </output>
      )}
    </section>
  );
}

function ImpactSection({ view }: { view: ReviewView }) {
  const { impact } = view;
  return (
    <section className="review-section" aria-label="Impact">
      <h2>Simulated impact</h2>
      <div className="review-counts">
        <span>
          <output aria-label="Allow to deny">{impact.allow_to_deny}</output> allow → deny
        </span>
        <span>
          <output aria-label="Deny to allow">{impact.deny_to_allow}</output> deny → allow
        </span>
        <span>
          <output aria-label="Other changes">{impact.other}</output> other
        </span>
        <span className="muted">
          out of <output aria-label="Cases">{view.cases}</output> cases
          {view.active ? ` against ${view.active}` : " (against no rules: nothing is active)"}
        </span>
      </div>
      {view.changes.length === 0 ? (
        <p className="muted" style={{ margin: "6px 0 0" }}>
          No case changed its effect.
        </p>
      ) : (
        <table className="review-changes" aria-label="Changed cases">
          <colgroup>
            <col style={{ width: "20%" }} />
            <col style={{ width: "20%" }} />
            <col style={{ width: "25%" }} />
            <col />
          </colgroup>
          <thead>
            <tr>
              <th>Case</th>
              <th>Effect</th>
              <th>Rules</th>
              <th>Context</th>
            </tr>
          </thead>
          <tbody>
            {view.changes.map((c) => {
              const rules = `${c.before_rule ?? "—"} → ${c.after_rule ?? "—"}`;
              const context = contextText(c.context, 400);
              return (
                <tr key={c.case_id} aria-label={`Case ${c.case_id}`}>
                  <td className="mono" title={c.case_id}>
                    {c.case_id}
                  </td>
                  <td title={`${c.before} → ${c.after}`}>
                    {c.before} → {c.after}
                  </td>
                  <td className="mono" title={rules}>
                    {rules}
                  </td>
                  <td className="mono" title={context}>
                    {context}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

function DiffSection({ diff }: { diff: DiffView | null }) {
  const shown = useMemo(() => (diff ? visiblePairs(diff.rules, false) : []), [diff]);
  const lines = useMemo(() => shown.map((p) => ruleFieldLines(p)), [shown]);
  const [toggled, setToggled] = useState<ReadonlySet<string>>(new Set());
  const isExpanded = useCallback(
    (p: RulePair) => {
      const key = `${p.status}:${p.id}`;
      const base = expandedByDefault(p.status);
      return toggled.has(key) ? !base : base;
    },
    [toggled],
  );
  const onToggle = useCallback((p: RulePair) => {
    const key = `${p.status}:${p.id}`;
    setToggled((t) => {
      const next = new Set(t);
      if (next.has(key)) next.delete(key);
      else next.add(key);
      return next;
    });
  }, []);

  if (!diff)
    return (
      <section className="review-section" aria-label="Diff against active">
        <h2>Diff</h2>
        <p className="muted" style={{ margin: 0 }}>
          Nothing is active in this environment: there is nothing to compare with.
        </p>
      </section>
    );
  return (
    <section className="review-section review-diff" aria-label="Diff against active">
      <h2>
        Diff against <span className="mono">{diff.old.reference}</span>{" "}
        <output
          className={`badge badge-${classTone(diff.class)}`}
          aria-label="Overall class"
          title="What the changes do to decisions, taken together"
        >
          {diff.class}
        </output>{" "}
        <span className="muted">
          {diff.added.length} added, {diff.removed.length} removed, {diff.modified.length} modified,{" "}
          {diff.unchanged} unchanged
        </span>
      </h2>
      {shown.length === 0 ? (
        <Empty title="No rule changed" />
      ) : (
        <RuleRows pairs={shown} lines={lines} isExpanded={isExpanded} onToggle={onToggle} />
      )}
    </section>
  );
}
