//! The "Results" section: the batch summary, the verdict / reason / text filters, the
//! rows in a virtual list (a batch can hold 200,000 scorecards), and the selected row's
//! detail — reason codes in plain words, overrides, and the foresight projections.

import { useEffect, useMemo, useState } from "react";
import type { Evaluation } from "../../bindings/Evaluation";
import type { ScorecardOutcome } from "../../bindings/ScorecardOutcome";
import type { ScorecardRow } from "../../bindings/ScorecardRow";
import { Empty } from "../../components/States";
import { VirtualList } from "../../components/VirtualList";
import { moveIndex } from "../../virtual";
import {
  elapsedText,
  explainReason,
  filterRows,
  NO_FILTER,
  numberText,
  projectionView,
  type RowFilter,
  reasonOptions,
  rowName,
  VERDICTS,
  verdictOptions,
  verdictText,
  verdictTone,
} from "./results";

const ROW_HEIGHT = 46;

/** A click on a row leaves the focus on the list, where the arrow keys move the selection. */
function keepListFocus(e: React.MouseEvent<HTMLElement>): void {
  e.preventDefault();
  (e.currentTarget.closest(".vlist") as HTMLElement | null)?.focus({ preventScroll: true });
}

export function VerdictBadge({ verdict }: { verdict: string }) {
  return (
    <span className={`badge badge-${verdictTone(verdict)}`} title={verdictText(verdict)}>
      {verdictText(verdict)}
    </span>
  );
}

export function Results({
  outcome,
  busy,
  onGoToQueue,
}: {
  outcome: ScorecardOutcome | null;
  busy: boolean;
  onGoToQueue: () => void;
}) {
  const [filter, setFilter] = useState<RowFilter>(NO_FILTER);
  const [selected, setSelected] = useState<number | null>(null);

  // A new batch starts unfiltered, nothing selected.
  // biome-ignore lint/correctness/useExhaustiveDependencies: the new outcome is the reason
  useEffect(() => {
    setFilter(NO_FILTER);
    setSelected(null);
  }, [outcome]);

  const rows = outcome?.rows ?? [];
  const shown = useMemo(() => filterRows(rows, filter), [rows, filter]);
  const position = selected === null ? -1 : shown.indexOf(selected);
  const selectedRow = selected === null ? undefined : rows[selected];

  if (!outcome)
    return (
      <section className="sc-section sc-results" aria-label="Results" aria-busy={busy}>
        <h2 className="panel-title">Results</h2>
        <Empty title={busy ? "Evaluating…" : "No results yet"}>
          <p>
            Choose a policy and scorecards, then Evaluate: each scorecard gets a verdict (promote,
            pilot, borderline, no go or demote) with the reason codes that decided it.
          </p>
        </Empty>
      </section>
    );

  const { summary } = outcome;
  const onKey = (e: React.KeyboardEvent<HTMLDivElement>) => {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (shown.length === 0) return;
      const next =
        position < 0 ? 0 : moveIndex(position, e.key === "ArrowDown" ? 1 : -1, shown.length);
      setSelected(shown[next] ?? null);
    } else if (e.key === "Home" || e.key === "End") {
      e.preventDefault();
      setSelected(shown[e.key === "Home" ? 0 : shown.length - 1] ?? null);
    } else if (e.key === "Escape") setSelected(null);
  };

  return (
    <section className="sc-section sc-results" aria-label="Results" aria-busy={busy}>
      <h2 className="panel-title">
        Results <span className="count">{summary.total + outcome.invalid}</span>
      </h2>
      <div className="sc-summary">
        <span>
          <strong>{summary.total.toLocaleString("en")}</strong> evaluated
        </span>
        {VERDICTS.filter((v) => (summary.verdicts[v] ?? 0) > 0).map((v) => (
          <span
            key={v}
            className={`badge badge-${verdictTone(v)}`}
            title={`${summary.verdicts[v]} ${verdictText(v)}`}
          >
            {verdictText(v)} {summary.verdicts[v]?.toLocaleString("en")}
          </span>
        ))}
        {outcome.invalid > 0 && (
          <span className="sc-unreadable">
            {outcome.invalid.toLocaleString("en")} could not be read
          </span>
        )}
        <span className="muted">in {elapsedText(outcome.elapsed_ms)}</span>
      </div>
      <p className="muted sc-note">
        {outcome.log_path ? (
          <span className="truncate sc-inline-truncate" title={outcome.log_path}>
            Logged to {outcome.log_path}.
          </span>
        ) : (
          "Not logged."
        )}
        {outcome.queued > 0 && (
          <>
            {" "}
            {outcome.queued} queued as borderline.{" "}
            <button
              type="button"
              className="sc-link"
              aria-label="Go to the borderline queue"
              onClick={onGoToQueue}
            >
              See the queue
            </button>
          </>
        )}
      </p>
      <div className="sc-filters">
        <select
          aria-label="Verdict filter"
          value={filter.verdict}
          onChange={(e) => setFilter({ ...filter, verdict: e.target.value })}
        >
          {verdictOptions(summary.verdicts, outcome.invalid).map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
        <select
          aria-label="Reason filter"
          value={filter.reason}
          onChange={(e) => setFilter({ ...filter, reason: e.target.value })}
        >
          {reasonOptions(summary.reason_codes).map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
        <input
          type="search"
          aria-label="Search workflows"
          placeholder="Search workflows or sources"
          value={filter.search}
          onChange={(e) => setFilter({ ...filter, search: e.target.value })}
        />
        <span className="muted sc-shown" role="status" aria-label="Shown results">
          Showing {shown.length.toLocaleString("en")} of {rows.length.toLocaleString("en")}
        </span>
      </div>
      {shown.length === 0 ? (
        <p className="empty-inline sc-list-empty">
          No result matches these filters.{" "}
          <button type="button" aria-label="Clear filters" onClick={() => setFilter(NO_FILTER)}>
            Clear filters
          </button>
        </p>
      ) : (
        <div
          className="sc-list-box sc-results-box"
          style={{ height: shown.length * ROW_HEIGHT + 2 }}
        >
          <VirtualList
            label="Result rows"
            role="listbox"
            className="sc-list"
            count={shown.length}
            rowHeight={ROW_HEIGHT}
            tabIndex={0}
            onKeyDown={onKey}
            scrollToIndex={position >= 0 ? position : undefined}
            activeDescendant={position >= 0 ? `sc-row-${position}` : undefined}
            renderRow={(i) => {
              const index = shown[i];
              const row = index === undefined ? undefined : rows[index];
              if (index === undefined || !row) return null;
              return (
                <ResultRow
                  id={`sc-row-${i}`}
                  row={row}
                  selected={index === selected}
                  onSelect={() => setSelected(index === selected ? null : index)}
                />
              );
            }}
          />
        </div>
      )}
      {selectedRow ? (
        <Detail row={selectedRow} onClose={() => setSelected(null)} />
      ) : (
        <p className="muted sc-note">
          Select a result to read its reasons, overrides and forecast.
        </p>
      )}
    </section>
  );
}

function ResultRow({
  id,
  row,
  selected,
  onSelect,
}: {
  id: string;
  row: ScorecardRow;
  selected: boolean;
  onSelect: () => void;
}) {
  const name = rowName(row);
  const e = row.evaluation;
  return (
    // biome-ignore lint/a11y/useKeyWithClickEvents: the list takes the arrow keys
    <div
      id={id}
      role="option"
      tabIndex={-1}
      aria-selected={selected}
      aria-label={`Result ${name}`}
      className={`list-row sc-result${selected ? " selected" : ""}${e ? "" : " sc-row-bad"}`}
      onMouseDown={keepListFocus}
      onClick={onSelect}
    >
      <span className="sc-row-line">
        <strong className="truncate" title={name}>
          {name}
        </strong>
        {e ? (
          <VerdictBadge verdict={e.verdict} />
        ) : (
          <span className="badge badge-bad">unreadable</span>
        )}
      </span>
      <span className="sc-row-line muted">
        {e ? (
          <span className="truncate mono sc-codes" title={e.reason_codes.join(", ")}>
            {e.reason_codes.length > 0 ? e.reason_codes.join(", ") : "no reason code"}
          </span>
        ) : (
          <span className="truncate sc-row-error" title={row.error ?? ""}>
            {row.error}
          </span>
        )}
        <span className="truncate sc-source" title={row.source}>
          {row.source}
        </span>
      </span>
    </div>
  );
}

function Detail({ row, onClose }: { row: ScorecardRow; onClose: () => void }) {
  const e = row.evaluation;
  const name = rowName(row);
  return (
    <section className="sc-detail" aria-label="Result detail">
      <div className="sc-detail-head">
        <h3 className="truncate" title={name}>
          {name}
        </h3>
        {e && <VerdictBadge verdict={e.verdict} />}
        <span className="sc-grow" />
        <button type="button" className="icon-button" aria-label="Close detail" onClick={onClose}>
          ×
        </button>
      </div>
      <p className="muted truncate" title={row.source}>
        From {row.source}
      </p>
      {e ? (
        <EvaluationDetail e={e} />
      ) : (
        <p className="sc-row-error">This scorecard could not be read: {row.error}</p>
      )}
    </section>
  );
}

function EvaluationDetail({ e }: { e: Evaluation }) {
  const o = e.overrides;
  const overrideFacts: [string, string][] = [];
  if (o.mode) overrideFacts.push(["mode", o.mode]);
  if (o.applied != null) overrideFacts.push(["applied", o.applied ? "yes" : "no"]);
  if (o.refused) overrideFacts.push(["refused", o.refused]);
  if (o.forced_verdict) overrideFacts.push(["forced verdict", verdictText(o.forced_verdict)]);
  if (o.bypass_micro_pilot != null)
    overrideFacts.push(["bypass micro-pilot", o.bypass_micro_pilot ? "yes" : "no"]);
  if (o.override_id) overrideFacts.push(["override", o.override_id]);
  if (o.legacy) overrideFacts.push(["legacy", "yes"]);
  const foresight = e.foresight;
  const projections = foresight ? projectionView(foresight.projections) : null;
  return (
    <>
      <h4>Reasons</h4>
      {e.reason_codes.length === 0 ? (
        <p className="muted">
          No reason code: every check passed{e.verdict === "promote" ? ", so it is promoted" : ""}.
        </p>
      ) : (
        <ul className="sc-reasons">
          {e.reason_codes.map((c) => (
            <li key={c}>
              <code>{c}</code> <span>{explainReason(c)}</span>
            </li>
          ))}
        </ul>
      )}
      <h4>Overrides</h4>
      {overrideFacts.length === 0 ? (
        <p className="muted">None.</p>
      ) : (
        <dl className="facts">
          {overrideFacts.map(([k, v]) => (
            <div key={k} style={{ display: "contents" }}>
              <dt>{k}</dt>
              <dd className="truncate" title={v}>
                {v}
              </dd>
            </div>
          ))}
        </dl>
      )}
      <h4>Foresight</h4>
      {!foresight ? (
        <p className="muted">The scorecard has no forecast.</p>
      ) : (
        <>
          <dl className="facts">
            <dt>recommendation</dt>
            <dd>
              <VerdictBadge verdict={foresight.recommendation} />
            </dd>
            <dt>confidence</dt>
            <dd>{foresight.confidence == null ? "—" : numberText(foresight.confidence)}</dd>
            <dt>findings</dt>
            <dd className="wrap">
              {foresight.reason_codes.length === 0
                ? "the forecast passes"
                : foresight.reason_codes.join(", ")}
            </dd>
          </dl>
          {projections?.kind === "table" && (
            <div className="sc-table-wrap">
              <table className="sc-table" aria-label="Projections">
                <thead>
                  <tr>
                    {projections.columns.map((c) => (
                      <th key={c} scope="col">
                        {c}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {projections.rows.map((r, i) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: rows of a fixed list
                    <tr key={i}>
                      {r.map((cell, j) => (
                        // biome-ignore lint/suspicious/noArrayIndexKey: cells of a fixed row
                        <td key={j} className="truncate" title={cell}>
                          {cell}
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {projections?.kind === "text" && (
            <section aria-label="Projections">
              <pre className="sc-json">{projections.text}</pre>
            </section>
          )}
          {projections?.kind === "empty" && <p className="muted">No projections.</p>}
        </>
      )}
    </>
  );
}
