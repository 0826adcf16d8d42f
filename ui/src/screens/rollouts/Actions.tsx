//! The changes a person makes to one deployment unit: activate an approved version,
//! promote the canary on its metrics, roll back (with a reason, a typed confirmation in
//! prod, and a confirmation dialog). Each names the state the screen showed
//! (`expected`), so a rollout that moved meanwhile is refused as `stale_state`.

import { useEffect, useRef, useState } from "react";
import { api } from "../../api";
import type { BundleIndex } from "../../bindings/BundleIndex";
import type { Transition } from "../../bindings/Transition";
import { trapTab, useRestoreFocus } from "../../components/focus";
import { type ErrorLike, toErrorLike } from "../../errors";
import { Refusal } from "./Refusal";
import {
  activationText,
  candidates,
  checkReason,
  expectedOf,
  needsConfirmation,
  reasonCount,
  rollbackReady,
  type Unit,
} from "./units";

export interface ActionProps {
  unit: Unit;
  /** Called after a change or a stale refusal: the status reloads. */
  onChanged: () => void;
}

/** Runs a change: refusals kept by code; `stale_state` also reloads the screen. */
function useChange(onChanged: () => void) {
  const [busy, setBusy] = useState(false);
  const [refusal, setRefusal] = useState<ErrorLike | null>(null);
  const run = async <T,>(change: () => Promise<T>): Promise<T | null> => {
    setBusy(true);
    setRefusal(null);
    try {
      const out = await change();
      onChanged();
      return out;
    } catch (e) {
      const err = toErrorLike(e);
      setRefusal(err);
      // The screen is stale, or the refusal recorded something (a gate check): reload.
      if (err.code === "stale_state" || err.code === "not_ready") onChanged();
      return null;
    } finally {
      setBusy(false);
    }
  };
  return { busy, refusal, setRefusal, run };
}

export function ActivateAction({
  unit,
  index,
  indexError,
  onChanged,
}: ActionProps & { index: BundleIndex | null; indexError: ErrorLike | null }) {
  const options = candidates(unit.status, unit.environment.name, index);
  const [chosen, setChosen] = useState("");
  const [done, setDone] = useState<Transition | null>(null);
  const { busy, refusal, run } = useChange(onChanged);
  const reference = options.some((o) => o.reference === chosen)
    ? chosen
    : (options[0]?.reference ?? "");

  const activate = async () => {
    setDone(null);
    const t = await run(() =>
      api.activate(reference, unit.environment.name, expectedOf(unit.status)),
    );
    if (t) setDone(t);
  };

  return (
    <section className="rollout-section rollout-action" aria-label="Activate a version">
      <h2>Activate</h2>
      {options.length === 0 ? (
        <p className="muted rollout-note">
          No version of {unit.status.bundle} is approved for {unit.environment.name} and waiting:
          versions appear here once they reach their quorum in Approvals.
          {indexError && ` (The version list could not be loaded: ${indexError.message})`}
        </p>
      ) : (
        <>
          <div className="rollout-row">
            <select
              aria-label="Version to activate"
              value={reference}
              disabled={busy}
              onChange={(e) => setChosen(e.target.value)}
            >
              {options.map((o) => (
                <option key={o.reference} value={o.reference} title={`${o.digest} — ${o.detail}`}>
                  {o.reference} ({o.detail})
                </option>
              ))}
            </select>
            <button
              type="button"
              className="primary"
              aria-label="Activate"
              disabled={busy || reference === ""}
              onClick={() => void activate()}
            >
              {busy ? "Activating…" : "Activate"}
            </button>
          </div>
          <p className="muted rollout-note">
            What will happen: <strong>{activationText(unit.environment, unit.status)}</strong>
          </p>
        </>
      )}
      {refusal && <Refusal error={refusal} />}
      {done && (
        <output className="rollout-result" aria-label="Activation result">
          {done.rollout.canary
            ? `${done.rollout.canary.reference} is a canary at ${done.rollout.canary.percent}%.`
            : `${done.rollout.active.reference} is active at 100%.`}
        </output>
      )}
    </section>
  );
}

export function PromoteAction({
  unit,
  onChanged,
  onGates,
}: ActionProps & {
  /** The gates a promotion returned (null: none to show). */
  onGates: (t: Transition | null) => void;
}) {
  const [metrics, setMetrics] = useState("");
  const [done, setDone] = useState<Transition | null>(null);
  const [fileError, setFileError] = useState<string | null>(null);
  const file = useRef<HTMLInputElement>(null);
  const { busy, refusal, run } = useChange(onChanged);
  const canary = unit.status.canary;

  const promote = async () => {
    setDone(null);
    onGates(null);
    const t = await run(() =>
      api.promote(unit.status.bundle, unit.environment.name, metrics, expectedOf(unit.status)),
    );
    if (t) {
      setDone(t);
      onGates(t);
    }
  };

  const [watched, setWatched] = useState<Transition | null>(null);
  const watch = async () => {
    setDone(null);
    setWatched(null);
    onGates(null);
    const t = await run(() =>
      api.monitor(unit.status.bundle, unit.environment.name, metrics, expectedOf(unit.status)),
    );
    if (t) {
      setWatched(t);
      onGates(t);
    }
  };

  const load = async (f: File | undefined) => {
    if (!f) return;
    setFileError(null);
    try {
      setMetrics(await f.text());
    } catch (e) {
      setFileError(toErrorLike(e).message);
    }
  };

  return (
    <section className="rollout-section rollout-action" aria-label="Promote the canary">
      <h2>Promote</h2>
      {canary === null ? (
        <p className="muted rollout-note">
          No canary runs here: promotion moves a canary 10% → 50% → 100%.
        </p>
      ) : (
        <p className="muted rollout-note">
          Every gate must pass on these metrics and the bake time must have elapsed; the canary then
          goes from {canary.percent}% to {canary.percent < 50 ? "50%" : "100%"}.
        </p>
      )}
      <textarea
        aria-label="Metrics"
        className="mono"
        placeholder='{"total_decisions": 1200, "error_count": 3, "deny_count": 140, "baseline_avg_cost": 0.02, "canary_avg_cost": 0.021, "stable": {"total_decisions": 9000, "error_count": 20, "deny_count": 1000, "no_match_count": 0}}'
        value={metrics}
        disabled={busy || canary === null}
        spellCheck={false}
        onChange={(e) => setMetrics(e.target.value)}
      />
      <div className="rollout-row">
        <button
          type="button"
          aria-label="Load metrics file"
          disabled={busy || canary === null}
          onClick={() => file.current?.click()}
        >
          Load metrics file…
        </button>
        <input
          ref={file}
          type="file"
          accept=".json,application/json"
          aria-label="Metrics file"
          hidden
          onChange={(e) => {
            void load(e.target.files?.[0]);
            e.target.value = "";
          }}
        />
        <button
          type="button"
          className="primary"
          aria-label="Promote"
          disabled={busy || canary === null || metrics.trim() === ""}
          title={metrics.trim() === "" ? "Paste or load the canary's metrics first" : "Promote"}
          onClick={() => void promote()}
        >
          {busy ? "Promoting…" : "Promote"}
        </button>
        <button
          type="button"
          aria-label="Check for rollback"
          disabled={busy || canary === null || metrics.trim() === ""}
          title="The monitor: record the gates, and roll the canary back itself if a threshold trips (50 canary decisions at least)"
          onClick={() => void watch()}
        >
          Check for rollback
        </button>
      </div>
      {fileError && (
        <p className="sev-error" role="alert">
          The file could not be read: {fileError}
        </p>
      )}
      {refusal && <Refusal error={refusal} />}
      {refusal?.code === "not_ready" && (
        <p className="muted rollout-note">The gates of this attempt are shown under Gates.</p>
      )}
      {watched && (
        <output className="rollout-result" aria-label="Monitor result">
          {watched.action === "auto_rollback"
            ? `Rolled back automatically: ${watched.tripped.join("; ")}${
                watched.incident != null ? ` (incident #${watched.incident})` : ""
              }.`
            : "No threshold tripped: the canary keeps running."}
        </output>
      )}
      {done && (
        <output className="rollout-result" aria-label="Promotion result">
          {done.rollout.canary
            ? `Promoted: ${done.rollout.canary.reference} now serves ${done.rollout.canary.percent}%.`
            : `Promoted: ${done.rollout.active.reference} now serves 100%.`}
        </output>
      )}
    </section>
  );
}

export function RollbackAction({ unit, onChanged }: ActionProps) {
  const env = unit.environment.name;
  const [reason, setReason] = useState("");
  const [typed, setTyped] = useState("");
  const [confirming, setConfirming] = useState(false);
  const [done, setDone] = useState<Transition | null>(null);
  const { busy, refusal, run } = useChange(onChanged);
  const ready = rollbackReady(env, reason, typed);
  const reasonCheck = checkReason(reason);
  const { active, canary } = unit.status;

  const rollback = async () => {
    setConfirming(false);
    setDone(null);
    const t = await run(() =>
      api.rollback(env, reason.trim(), unit.status.bundle, expectedOf(unit.status)),
    );
    if (t) {
      setDone(t);
      setReason("");
      setTyped("");
    }
  };

  const what = canary
    ? `The canary ${canary.reference} stops; ${active?.reference ?? "the active version"} serves 100%.`
    : `${active?.reference ?? "The active version"} is rolled back; the previous active version serves 100% again.`;

  return (
    <section className="rollout-section rollout-action" aria-label="Roll back the rollout">
      <h2>Roll back</h2>
      {active === null ? (
        <p className="muted rollout-note">Nothing is active here: there is nothing to roll back.</p>
      ) : (
        <p className="muted rollout-note">{what} An incident of severity high is opened.</p>
      )}
      <label className="field">
        <span>
          Reason (at least 10 characters){" "}
          <output
            className={reasonCheck.ok ? "muted" : "sev-warning"}
            aria-label="Reason length"
            title="Characters, trimmed"
          >
            {reasonCount(reason)}
          </output>
        </span>
        <input
          type="text"
          aria-label="Reason"
          value={reason}
          disabled={busy || active === null}
          placeholder="Why: what went wrong, where it was seen"
          onChange={(e) => setReason(e.target.value)}
        />
      </label>
      {needsConfirmation(env) && (
        <label className="field">
          <span>
            Type <strong className="mono">{env}</strong> to confirm
          </span>
          <input
            type="text"
            aria-label="Confirm environment"
            value={typed}
            disabled={busy || active === null}
            autoComplete="off"
            spellCheck={false}
            onChange={(e) => setTyped(e.target.value)}
          />
        </label>
      )}
      <div className="rollout-row">
        <button
          type="button"
          className="danger"
          aria-label="Roll back"
          disabled={busy || active === null || !ready.ok}
          title={ready.ok ? "Roll back (asks for confirmation)" : ready.reason}
          onClick={() => setConfirming(true)}
        >
          {busy ? "Rolling back…" : "Roll back…"}
        </button>
        {active !== null && !ready.ok && (reason !== "" || typed !== "") && (
          <span className="muted">{ready.reason}</span>
        )}
      </div>
      {refusal && <Refusal error={refusal} />}
      {done && (
        <output className="rollout-result" aria-label="Rollback result">
          Rolled back: {done.rollout.active.reference} serves 100%.
          {done.incident !== null && (
            <>
              {" "}
              Incident <output aria-label="Incident opened">#{done.incident}</output> opened.
            </>
          )}
        </output>
      )}
      {confirming && (
        <ConfirmRollback
          bundle={unit.status.bundle}
          environment={env}
          what={what}
          reason={reason.trim()}
          onConfirm={() => void rollback()}
          onCancel={() => setConfirming(false)}
        />
      )}
    </section>
  );
}

function ConfirmRollback({
  bundle,
  environment,
  what,
  reason,
  onConfirm,
  onCancel,
}: {
  bundle: string;
  environment: string;
  what: string;
  reason: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const cancel = useRef<HTMLButtonElement>(null);
  useRestoreFocus();
  useEffect(() => cancel.current?.focus(), []);
  return (
    <div className="backdrop">
      <div
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-label={`Roll back ${bundle} in ${environment}`}
        onKeyDown={(e) => {
          if (e.key === "Escape") onCancel();
          trapTab(e);
        }}
      >
        <h2>
          Roll back {bundle} in {environment}?
        </h2>
        <p>{what}</p>
        <p>
          Reason: <em>{reason}</em>
        </p>
        <div className="form-actions">
          <button ref={cancel} type="button" aria-label="Cancel roll back" onClick={onCancel}>
            Cancel
          </button>
          <button
            type="button"
            className="danger"
            aria-label="Confirm roll back"
            onClick={onConfirm}
          >
            Roll back
          </button>
        </div>
      </div>
    </div>
  );
}
