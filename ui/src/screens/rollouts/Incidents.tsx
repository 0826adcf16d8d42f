//! Incidents (opened by rollbacks, manual or automatic): the open ones, or all, for the
//! selected unit or every unit; each open one resolved with a comment of 10+ characters.

import { useCallback, useEffect, useRef, useState } from "react";
import { api } from "../../api";
import type { Incident } from "../../bindings/Incident";
import { Failed, Loading } from "../../components/States";
import { type ErrorLike, toErrorLike } from "../../errors";
import { Refusal } from "./Refusal";
import { checkReason, reasonCount, timeText } from "./units";

export function Incidents({
  unit,
  reloadToken,
}: {
  /** The selected unit, if any (the list can show it alone). */
  unit: { bundle: string; environment: string } | null;
  /** Changes when the incidents may have changed (a rollback): they reload. */
  reloadToken: number;
}) {
  const [showAll, setShowAll] = useState(false);
  const [onlyUnit, setOnlyUnit] = useState(true);
  const [list, setList] = useState<Incident[] | null>(null);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [loading, setLoading] = useState(true);
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState<number | null>(null);
  const [refusal, setRefusal] = useState<ErrorLike | null>(null);
  const [resolved, setResolved] = useState<Incident | null>(null);
  const seq = useRef(0);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    try {
      const next = await api.incidents(!showAll);
      if (mine !== seq.current) return;
      setList(next);
      setError(null);
    } catch (e) {
      if (mine !== seq.current) return;
      setError(toErrorLike(e));
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, [showAll]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `reloadToken` is the reason to reload
  useEffect(() => {
    void load();
  }, [load, reloadToken]);

  const scoped = unit !== null && onlyUnit;
  const shown = (list ?? []).filter(
    (i) => !scoped || (i.bundle === unit.bundle && i.environment === unit.environment),
  );
  const check = checkReason(comment, "Resolving an incident");

  const resolve = async (id: number) => {
    setBusy(id);
    setRefusal(null);
    setResolved(null);
    try {
      const i = await api.resolveIncident(id, comment.trim());
      setResolved(i);
      setComment("");
    } catch (e) {
      setRefusal(toErrorLike(e));
    } finally {
      setBusy(null);
      void load();
    }
  };

  let body: React.ReactNode;
  if (loading && !list) body = <Loading label="Loading incidents…" />;
  else if (error && !list)
    body = (
      <Failed what="The incidents could not be loaded" error={error} onRetry={() => void load()} />
    );
  else if (shown.length === 0)
    body = (
      <p className="muted rollout-note">
        {showAll ? "No incident" : "No open incident"}
        {scoped ? ` for ${unit.bundle} in ${unit.environment}` : ""}.
      </p>
    );
  else
    body = (
      <table className="rollout-table" aria-label="Incident list">
        <colgroup>
          <col style={{ width: "3.5em" }} />
          <col style={{ width: "18%" }} />
          <col style={{ width: "11%" }} />
          <col style={{ width: "17%" }} />
          <col />
          <col style={{ width: "13em" }} />
        </colgroup>
        <thead>
          <tr>
            <th>#</th>
            <th>Bundle</th>
            <th>Env</th>
            <th>Opened</th>
            <th>Reason</th>
            <th>State</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((i) => {
            const open = i.resolved_at === null;
            return (
              <tr key={i.id} aria-label={`Incident ${i.id}`}>
                <td className="mono">{i.id}</td>
                <td className="truncate" title={i.version ?? i.bundle}>
                  {i.version ?? i.bundle}
                </td>
                <td className="truncate" title={i.environment}>
                  {i.environment}
                </td>
                <td title={`${i.opened_at} by ${i.opened_by}`}>{timeText(i.opened_at)}</td>
                <td className="truncate" title={`${i.title}: ${i.reason}`}>
                  {i.reason}
                </td>
                <td>
                  {open ? (
                    <span className="rollout-cell-row">
                      <span className="badge badge-bad">open · {i.severity}</span>
                      <button
                        type="button"
                        aria-label={`Resolve incident ${i.id}`}
                        disabled={busy !== null || !check.ok}
                        title={
                          check.ok ? `Resolve incident ${i.id} with the comment` : check.reason
                        }
                        onClick={() => void resolve(i.id)}
                      >
                        {busy === i.id ? "Resolving…" : "Resolve"}
                      </button>
                    </span>
                  ) : (
                    <span
                      className="badge badge-ok"
                      title={`resolved by ${i.resolved_by ?? "?"} at ${i.resolved_at}: ${i.resolution ?? ""}`}
                    >
                      resolved
                    </span>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    );

  const anyOpen = shown.some((i) => i.resolved_at === null);
  return (
    <section className="rollout-section" aria-label="Incidents" aria-busy={loading}>
      <div className="rollout-row">
        <h2>Incidents</h2>
        <span className="grow" />
        {unit !== null && (
          <label className="check">
            <input
              type="checkbox"
              aria-label="Only this rollout"
              checked={onlyUnit}
              onChange={(e) => setOnlyUnit(e.target.checked)}
            />
            only {unit.bundle} in {unit.environment}
          </label>
        )}
        <label className="check">
          <input
            type="checkbox"
            aria-label="Show resolved incidents"
            checked={showAll}
            onChange={(e) => setShowAll(e.target.checked)}
          />
          show resolved
        </label>
        <button
          type="button"
          aria-label="Refresh incidents"
          title="Refresh incidents"
          disabled={loading}
          onClick={() => void load()}
        >
          ↻
        </button>
      </div>
      {error && list && (
        <p className="sev-error" role="alert">
          {error.message}
        </p>
      )}
      {body}
      {anyOpen && (
        <label className="field">
          <span>
            Resolution comment (at least 10 characters, for the incident you resolve){" "}
            <span className={check.ok ? "muted" : "sev-warning"}>{reasonCount(comment)}</span>
          </span>
          <input
            type="text"
            aria-label="Resolution comment"
            value={comment}
            disabled={busy !== null}
            placeholder="What was done about it"
            onChange={(e) => setComment(e.target.value)}
          />
        </label>
      )}
      {refusal && <Refusal error={refusal} />}
      {resolved && (
        <output className="rollout-result" aria-label="Resolution result">
          Incident #{resolved.id} resolved by {resolved.resolved_by}.
        </output>
      )}
    </section>
  );
}
