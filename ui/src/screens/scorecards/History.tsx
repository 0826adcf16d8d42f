//! The "Run history" section: evaluations recorded in the store (newest first), by
//! workflow, verdict and date; the selected run's decision-log line.

import { useCallback, useEffect, useRef, useState } from "react";
import { api } from "../../api";
import type { ScorecardRun } from "../../bindings/ScorecardRun";
import { Empty, Failed, Loading } from "../../components/States";
import { VirtualList } from "../../components/VirtualList";
import { type ErrorLike, toErrorLike } from "../../errors";
import { scorecardHint } from "./hints";
import { VerdictBadge } from "./Results";
import { runReasons, sinceParam, timeText, untilParam, VERDICTS, verdictText } from "./results";

const ROW_HEIGHT = 30;
const MAX_HEIGHT = 320;
const FIRST_LIMIT = 1000;
const MAX_LIMIT = 10_000;

export function History({ reloadToken }: { reloadToken: number }) {
  const [workflow, setWorkflow] = useState("");
  const [query, setQuery] = useState("");
  const [verdict, setVerdict] = useState("");
  const [since, setSince] = useState("");
  const [until, setUntil] = useState("");
  const [limit, setLimit] = useState(FIRST_LIMIT);
  const [runs, setRuns] = useState<ScorecardRun[] | null>(null);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [loading, setLoading] = useState(true);
  const [selected, setSelected] = useState<number | null>(null);
  const seq = useRef(0);

  // The workflow filter is sent once typing pauses.
  useEffect(() => {
    const t = setTimeout(() => setQuery(workflow.trim()), 300);
    return () => clearTimeout(t);
  }, [workflow]);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    try {
      const next = await api.scorecardRuns({
        workflow_id: query === "" ? null : query,
        verdict: verdict === "" ? null : verdict,
        since: sinceParam(since),
        until: untilParam(until),
        limit,
      });
      if (mine !== seq.current) return;
      setRuns(next);
      setError(null);
    } catch (e) {
      if (mine === seq.current) setError(toErrorLike(e));
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, [query, verdict, since, until, limit]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: a new evaluation is a reason to reload
  useEffect(() => {
    void load();
  }, [load, reloadToken]);

  const filtered = query !== "" || verdict !== "" || since !== "" || until !== "";
  const selectedRun = runs?.find((r) => r.id === selected);

  let body: React.ReactNode;
  if (loading && !runs) body = <Loading label="Loading the run history…" />;
  else if (error && !runs)
    body = (
      <Failed
        what="The run history could not be loaded"
        error={error}
        onRetry={() => void load()}
      />
    );
  else if (!runs || runs.length === 0)
    body = filtered ? (
      <p className="empty-inline">No recorded run matches these filters.</p>
    ) : (
      <Empty title="No runs recorded yet">
        <p>
          Evaluations made with “Log the runs” checked (or by <code>gavel scorecard eval</code>) are
          listed here.
        </p>
      </Empty>
    );
  else
    body = (
      <>
        <div className="sc-grid sc-runs-grid sc-grid-head" aria-hidden="true">
          <span>when (UTC)</span>
          <span>workflow</span>
          <span>verdict</span>
          <span>reasons</span>
          <span>by</span>
        </div>
        <div
          className="sc-list-box"
          style={{ height: Math.min(MAX_HEIGHT, runs.length * ROW_HEIGHT) + 2 }}
        >
          <VirtualList
            label="Recorded runs"
            className="sc-list"
            count={runs.length}
            rowHeight={ROW_HEIGHT}
            renderRow={(i) => {
              const r = runs[i];
              if (!r) return null;
              const name = r.workflow_id ?? "(no workflow id)";
              const reasons = runReasons(r.log_line).join(", ");
              const isSel = r.id === selected;
              return (
                <button
                  type="button"
                  className={`sc-grid sc-runs-grid sc-grid-row sc-run${isSel ? " selected" : ""}`}
                  aria-label={`Run ${name}`}
                  aria-pressed={isSel}
                  onClick={() => setSelected(isSel ? null : r.id)}
                >
                  <span className="truncate" title={r.at}>
                    {timeText(r.at)}
                  </span>
                  <span className="truncate" title={name}>
                    {name}
                  </span>
                  <span>
                    <VerdictBadge verdict={r.verdict} />
                  </span>
                  <span className={`truncate${reasons ? " mono" : ""}`} title={reasons}>
                    {reasons || "—"}
                  </span>
                  <span className="truncate" title={r.actor ?? "no identity"}>
                    {r.actor ?? "—"}
                  </span>
                </button>
              );
            }}
          />
        </div>
        <p className="muted sc-note">
          {runs.length.toLocaleString("en")} run{runs.length === 1 ? "" : "s"}, newest first
          {runs.length >= limit && limit < MAX_LIMIT && (
            <>
              {" "}
              (the newest {limit.toLocaleString("en")} only){" "}
              <button type="button" aria-label="Show more runs" onClick={() => setLimit(MAX_LIMIT)}>
                Show up to {MAX_LIMIT.toLocaleString("en")}
              </button>
            </>
          )}
          {runs.length >= limit &&
            limit >= MAX_LIMIT &&
            " (the newest only: narrow the filters to see older runs)"}
        </p>
        {selectedRun && (
          <section className="sc-detail" aria-label="Run detail">
            <div className="sc-detail-head">
              <h3 className="truncate">Decision-log line of run {selectedRun.id}</h3>
              <span className="sc-grow" />
              <button
                type="button"
                className="icon-button"
                aria-label="Close run detail"
                onClick={() => setSelected(null)}
              >
                ×
              </button>
            </div>
            {selectedRun.override_id && (
              <p className="muted truncate" title={selectedRun.override_id}>
                Override {selectedRun.override_id}
              </p>
            )}
            <pre className="sc-json">{JSON.stringify(selectedRun.log_line, null, 2)}</pre>
          </section>
        )}
      </>
    );

  return (
    <section className="sc-section" aria-label="Run history" aria-busy={loading}>
      <div className="sc-section-head">
        <h2 className="panel-title">
          Run history {runs && <span className="count">{runs.length}</span>}
        </h2>
        {loading && runs && <span className="muted">Updating…</span>}
        <span className="sc-grow" />
        <button
          type="button"
          aria-label="Refresh run history"
          disabled={loading}
          onClick={() => void load()}
        >
          ↻ Refresh
        </button>
      </div>
      <div className="sc-filters">
        <input
          type="search"
          aria-label="Workflow filter"
          placeholder="Workflow id (exact)"
          title="Runs of this workflow id (the whole id, exactly)"
          value={workflow}
          onChange={(e) => setWorkflow(e.target.value)}
        />
        <select
          aria-label="Run verdict filter"
          value={verdict}
          onChange={(e) => setVerdict(e.target.value)}
        >
          <option value="">All verdicts</option>
          {VERDICTS.map((v) => (
            <option key={v} value={v}>
              {verdictText(v)}
            </option>
          ))}
        </select>
        <label className="sc-date">
          <span className="muted">since</span>
          <input
            type="date"
            aria-label="Runs since"
            value={since}
            onChange={(e) => setSince(e.target.value)}
          />
        </label>
        <label className="sc-date">
          <span className="muted">until</span>
          <input
            type="date"
            aria-label="Runs until"
            value={until}
            onChange={(e) => setUntil(e.target.value)}
          />
        </label>
        {filtered && (
          <button
            type="button"
            aria-label="Clear run filters"
            onClick={() => {
              setWorkflow("");
              setQuery("");
              setVerdict("");
              setSince("");
              setUntil("");
            }}
          >
            Clear
          </button>
        )}
      </div>
      {error && runs && (
        <div className="sc-error" role="alert">
          <p>{error.message}</p>
          {scorecardHint(error.code) && <p className="muted">{scorecardHint(error.code)}</p>}
        </div>
      )}
      {body}
    </section>
  );
}
