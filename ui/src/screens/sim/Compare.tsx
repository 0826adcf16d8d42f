//! A finished comparison of two versions over one dataset (A the baseline, B the version
//! under study): both summaries side by side with the deltas (B minus A, signed and
//! coloured), the transitions between effects, and the cases whose effect changed
//! (virtualised; the back end lists the first thousand and counts them all).

import type { Change } from "../../bindings/Change";
import type { CompareOutcome } from "../../bindings/CompareOutcome";
import type { Deltas } from "../../bindings/Deltas";
import type { SimSummary } from "../../bindings/SimSummary";
import { VirtualList } from "../../components/VirtualList";
import { EffectsChart } from "./EffectsChart";
import {
  type DeltaKey,
  deltaTone,
  effectLabel,
  formatCostDelta,
  formatCount,
  formatElapsed,
  formatMoney,
  formatRate,
  formatRateDelta,
  formatUnits,
  transitionRows,
} from "./format";
import { countOf, effectBars, OUTCOMES, rateOf } from "./Results";

const CHANGE_ROW = 30;
const CHANGE_ROWS_SHOWN = 12;

const RATE_DELTA: Record<(typeof OUTCOMES)[number]["key"], DeltaKey> = {
  allow: "allow_rate",
  deny: "deny_rate",
  approval: "approval_rate",
  no_match: "no_match_rate",
};

function Delta({ deltas, k, label }: { deltas: Deltas; k: DeltaKey; label: string }) {
  const value = deltas[k];
  const text = k === "cost" ? formatCostDelta(value) : formatRateDelta(value);
  return (
    <output className={`delta delta-${deltaTone(k, value)}`} aria-label={label}>
      {text}
    </output>
  );
}

function SummaryTable({
  a,
  b,
  outcome,
}: {
  a: SimSummary;
  b: SimSummary;
  outcome: CompareOutcome;
}) {
  const { deltas } = outcome.comparison;
  return (
    <table className="compare-table" aria-label="Summaries side by side">
      <thead>
        <tr>
          <th scope="col">Outcome</th>
          <th scope="col" className="truncate" title={`A: ${outcome.a}`}>
            A: {outcome.a}
          </th>
          <th scope="col" className="truncate" title={`B: ${outcome.b}`}>
            B: {outcome.b}
          </th>
          <th scope="col">B − A</th>
        </tr>
      </thead>
      <tbody>
        {OUTCOMES.map((o) => (
          <tr key={o.key}>
            <th scope="row">{o.title}</th>
            <td>
              <output aria-label={`${o.label} count A`}>{formatCount(countOf(a, o.key))}</output>{" "}
              <span className="muted">({formatRate(rateOf(a, o.key))})</span>
            </td>
            <td>
              <output aria-label={`${o.label} count B`}>{formatCount(countOf(b, o.key))}</output>{" "}
              <span className="muted">({formatRate(rateOf(b, o.key))})</span>
            </td>
            <td>
              <Delta deltas={deltas} k={RATE_DELTA[o.key]} label={`${o.label} rate delta`} />
            </td>
          </tr>
        ))}
        <tr>
          <th scope="row">Errors</th>
          <td>{formatCount(a.error_count)}</td>
          <td>{formatCount(b.error_count)}</td>
          <td />
        </tr>
        <tr>
          <th scope="row">Estimated cost</th>
          <td>{formatMoney(a.estimated_cost)}</td>
          <td>{formatMoney(b.estimated_cost)}</td>
          <td>
            <Delta deltas={deltas} k="cost" label="Cost delta" />
          </td>
        </tr>
        <tr>
          <th scope="row">Estimated compute</th>
          <td>{formatUnits(a.estimated_compute)} units</td>
          <td>{formatUnits(b.estimated_compute)} units</td>
          <td />
        </tr>
        <tr>
          <th scope="row">Breaches</th>
          <td className="mono" title={a.breaches.join("\n")}>
            {a.breaches.length === 0 ? "none" : a.breaches.join("; ")}
          </td>
          <td className="mono" title={b.breaches.join("\n")}>
            {b.breaches.length === 0 ? "none" : b.breaches.join("; ")}
          </td>
          <td />
        </tr>
      </tbody>
    </table>
  );
}

function ChangeRow({ change }: { change: Change }) {
  const context = JSON.stringify(change.context) ?? "null";
  return (
    // biome-ignore lint/a11y/useSemanticElements: a row of a virtual list, which places it itself (no <ul> around it)
    <div role="listitem" className="change-row" aria-label={`Changed case ${change.case_id}`}>
      <span className="change-id truncate mono" title={change.case_id}>
        {change.case_id}
      </span>
      <span className="change-effects">
        <span className={`badge badge-${change.before}`}>{effectLabel(change.before)}</span>
        <span aria-hidden="true"> → </span>
        <span className="visually-hidden"> to </span>
        <span className={`badge badge-${change.after}`}>{effectLabel(change.after)}</span>
      </span>
      <span
        className="change-rules truncate mono"
        title={`rule before: ${change.before_rule ?? "none (default)"}\nrule after: ${change.after_rule ?? "none (default)"}`}
      >
        {change.before_rule ?? "default"} → {change.after_rule ?? "default"}
      </span>
      <span
        className="change-context truncate mono"
        title={JSON.stringify(change.context, null, 2)}
      >
        {context}
      </span>
    </div>
  );
}

export function CompareResults({ outcome }: { outcome: CompareOutcome }) {
  const c = outcome.comparison;
  const transitions = transitionRows(c.transitions);
  return (
    <div className="sim-results-body">
      <div className="sim-headline">
        <span className="truncate" title={`${outcome.a} → ${outcome.b} over ${outcome.dataset}`}>
          <strong>{formatCount(c.summary_a.total_cases)}</strong> cases from {outcome.dataset}
        </span>
        <span className="grow" />
        <span>
          Changed cases: <output aria-label="Changed cases">{c.total_changes}</output>
        </span>
        <span className="muted">
          Elapsed: <output aria-label="Elapsed time">{formatElapsed(outcome.elapsed_ms)}</output>
        </span>
      </div>
      <SummaryTable a={c.summary_a} b={c.summary_b} outcome={outcome} />
      <div className="sim-panels">
        <section className="sim-panel" aria-label="Effects of A">
          <h3 className="truncate" title={outcome.a}>
            A: {outcome.a}
          </h3>
          <EffectsChart bars={effectBars(c.summary_a)} title={`Effects of ${outcome.a}`} />
        </section>
        <section className="sim-panel" aria-label="Effects of B">
          <h3 className="truncate" title={outcome.b}>
            B: {outcome.b}
          </h3>
          <EffectsChart bars={effectBars(c.summary_b)} title={`Effects of ${outcome.b}`} />
        </section>
      </div>
      <section className="sim-panel" aria-label="Transitions">
        <h3>Transitions</h3>
        {transitions.length === 0 ? (
          <p className="sim-ok">No case changed its effect.</p>
        ) : (
          <ul className="transitions">
            {transitions.map((t) => (
              <li key={t.key} aria-label={`Transition ${t.key}`}>
                <span className="mono">
                  {t.from} → {t.to}
                </span>
                : <strong>{formatCount(t.count)}</strong>
              </li>
            ))}
          </ul>
        )}
      </section>
      <section className="sim-panel" aria-label="Case changes">
        <h3>
          Changed cases{" "}
          <span className="count">
            {c.changes.length < c.total_changes
              ? `the first ${formatCount(c.changes.length)} of ${formatCount(c.total_changes)}`
              : `${formatCount(c.total_changes)}`}
          </span>
        </h3>
        {c.changes.length === 0 ? (
          <p className="empty-inline">No case changed.</p>
        ) : (
          <>
            <div className="change-row change-head" aria-hidden="true">
              <span className="change-id">Case</span>
              <span className="change-effects">Before → after</span>
              <span className="change-rules">Rule before → after</span>
              <span className="change-context">Context</span>
            </div>
            <div
              className="changes"
              style={{ height: Math.min(c.changes.length, CHANGE_ROWS_SHOWN) * CHANGE_ROW + 2 }}
            >
              <VirtualList
                label="Changed case list"
                count={c.changes.length}
                rowHeight={CHANGE_ROW}
                renderRow={(i) => {
                  const change = c.changes[i];
                  return change ? <ChangeRow change={change} /> : null;
                }}
              />
            </div>
          </>
        )}
      </section>
    </div>
  );
}
