//! One deployment unit (a bundle in an environment): what serves (active and canary),
//! the versions waiting, the last gate check (or the gates a promotion just returned),
//! and the changes a person can make.

import { useState } from "react";
import type { BundleIndex } from "../../bindings/BundleIndex";
import type { GateReport } from "../../bindings/GateReport";
import type { Transition } from "../../bindings/Transition";
import type { ErrorLike } from "../../errors";
import { ActivateAction, PromoteAction, RollbackAction } from "./Actions";
import {
  approvalsText,
  bakeText,
  durationText,
  gateBadgeClass,
  gateNumber,
  readGateReport,
  timeText,
  type Unit,
} from "./units";

export function UnitPanel({
  unit,
  index,
  indexError,
  loading,
  onChanged,
}: {
  unit: Unit;
  index: BundleIndex | null;
  indexError: ErrorLike | null;
  loading: boolean;
  onChanged: () => void;
}) {
  const { status, environment } = unit;
  const [promoted, setPromoted] = useState<Transition | null>(null);
  const last = status.last_gates;
  const lastReport = last ? readGateReport(last.report) : null;
  const gates: { report: GateReport; caption: string } | null =
    promoted?.gates != null
      ? { report: promoted.gates, caption: "The gates of the promotion just made" }
      : lastReport && last
        ? {
            report: lastReport,
            caption: `Last gate check, ${timeText(last.at)} by ${last.actor}`,
          }
        : null;

  return (
    <section
      className="rollout-detail"
      aria-label={`Rollout of ${status.bundle} in ${environment.name}`}
      aria-busy={loading}
    >
      <header className="rollout-section rollout-head">
        <strong className="truncate mono rollout-title" title={status.bundle}>
          {status.bundle}
        </strong>
        <span className="badge badge-info" title={`environment: ${environment.name}`}>
          {environment.name}
        </span>
        <span className="muted" title="The rollout document's serial (each change raises it)">
          serial <output aria-label="Serial">{status.serial}</output>
        </span>
        <span
          className="muted truncate"
          title={`quorum ${environment.quorum}, canary ${environment.canary ? "on" : "off"}, bake time ${durationText(environment.bake_time_seconds)}, ${environment.min_samples} samples`}
        >
          quorum {environment.quorum} · canary {environment.canary ? "on" : "off"}
          {environment.canary && ` · bake ${durationText(environment.bake_time_seconds)}`}
        </span>
        {loading && <span className="muted">Updating…</span>}
      </header>

      <div className="rollout-cards">
        <section className="rollout-card" aria-label="Active version">
          <h2>Active</h2>
          {status.active ? (
            <>
              <div
                className="truncate mono"
                title={`${status.active.reference} (${status.active.digest})`}
              >
                {status.active.reference}
              </div>
              <div className="muted truncate" title={status.active.activated_at}>
                since {timeText(status.active.activated_at)}
              </div>
              <div className="muted">
                serves {status.canary ? `${100 - status.canary.percent}%` : "100%"}
              </div>
            </>
          ) : (
            <p className="muted">Nothing is active here.</p>
          )}
        </section>
        <section className="rollout-card" aria-label="Canary version">
          <h2>Canary</h2>
          {status.canary ? (
            <>
              <div
                className="truncate mono"
                title={`${status.canary.reference} (${status.canary.digest})`}
              >
                {status.canary.reference}
              </div>
              <div className="rollout-percent">
                <Bar percent={status.canary.percent} />
                <output aria-label="Canary percent">{status.canary.percent}%</output>
              </div>
              <div className="muted" title={`step since ${status.canary.since}`}>
                <output aria-label="Bake time left">
                  {bakeText(status.canary.bake_time_left_seconds)}
                </output>
              </div>
            </>
          ) : (
            <p className="muted">No canary runs.</p>
          )}
        </section>
      </div>

      {status.pending.length > 0 && (
        <section className="rollout-section" aria-label="Pending versions">
          <h2>Waiting for approval or activation</h2>
          <ul className="rollout-list">
            {status.pending.map((p) => (
              <li key={p.reference}>
                <span className="truncate mono" title={`${p.reference} (${p.digest})`}>
                  {p.reference}
                </span>
                <span className={`badge badge-${p.state === "approved" ? "ok" : "info"}`}>
                  {p.state}
                </span>
                <span
                  className="muted"
                  title={
                    p.approvers.length ? `approved by ${p.approvers.join(", ")}` : "no approval yet"
                  }
                >
                  approvals {approvalsText(p.approvals, p.required)}
                </span>
              </li>
            ))}
          </ul>
        </section>
      )}

      <GatesSection gates={gates} canary={status.canary !== null} />

      <ActivateAction unit={unit} index={index} indexError={indexError} onChanged={onChanged} />
      <PromoteAction unit={unit} onChanged={onChanged} onGates={setPromoted} />
      <RollbackAction unit={unit} onChanged={onChanged} />
    </section>
  );
}

function Bar({ percent }: { percent: number }) {
  const p = Math.max(0, Math.min(100, percent));
  return (
    <span className="rollout-bar" aria-hidden="true">
      <span style={{ width: `${p}%` }} />
    </span>
  );
}

function GatesSection({
  gates,
  canary,
}: {
  gates: { report: GateReport; caption: string } | null;
  canary: boolean;
}) {
  if (!gates)
    return (
      <section className="rollout-section" aria-label="Gate check">
        <h2>Gates</h2>
        <p className="muted rollout-note">
          {canary
            ? "No gate check yet: promote with the canary's metrics to evaluate the gates."
            : "No gate check: gates are evaluated while a canary runs."}
        </p>
      </section>
    );
  const { report, caption } = gates;
  return (
    <section className="rollout-section" aria-label="Gate check">
      <h2>
        Gates{" "}
        <span className={`badge badge-${report.passed ? "ok" : "bad"}`}>
          {report.passed ? "passed" : "not passed"}
        </span>{" "}
        <span className="muted rollout-caption">{caption}</span>
      </h2>
      <table className="rollout-table" aria-label="Gates">
        <colgroup>
          <col style={{ width: "18%" }} />
          <col style={{ width: "14%" }} />
          <col style={{ width: "11%" }} />
          <col style={{ width: "11%" }} />
          <col />
        </colgroup>
        <thead>
          <tr>
            <th>Gate</th>
            <th>State</th>
            <th>Value</th>
            <th>Threshold</th>
            <th>Message</th>
          </tr>
        </thead>
        <tbody>
          {report.gates.map((g) => (
            <tr key={g.name} aria-label={`Gate ${g.name}`}>
              <td className="mono truncate" title={g.name}>
                {g.name}
              </td>
              <td>
                <span className={gateBadgeClass(g.state)}>{g.state}</span>
              </td>
              <td className="mono">{gateNumber(g.name, g.value)}</td>
              <td className="mono">{gateNumber(g.name, g.threshold)}</td>
              <td className="truncate" title={g.message}>
                {g.message}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {report.failures.length > 0 && (
        <ul className="rollout-failures" aria-label="Gate failures">
          {report.failures.map((f) => (
            <li key={f}>{f}</li>
          ))}
        </ul>
      )}
    </section>
  );
}
