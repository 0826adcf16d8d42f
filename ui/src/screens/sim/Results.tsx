//! A finished simulation: counts and rates per outcome, the effects chart, the
//! estimated cost and compute with any budget breach, the rule hits (sorted, with bars,
//! virtualised when long), the first case of each outcome, and the time it took.

import type { Example } from "../../bindings/Example";
import type { SimOutcome } from "../../bindings/SimOutcome";
import type { SimSummary } from "../../bindings/SimSummary";
import { VirtualList } from "../../components/VirtualList";
import { type Bar, EffectsChart } from "./EffectsChart";
import {
  effectLabel,
  formatCount,
  formatElapsed,
  formatMoney,
  formatRate,
  formatUnits,
  sortedRuleHits,
} from "./format";

const HIT_ROW = 26;
const HIT_ROWS_SHOWN = 12;

/** The outcomes in the order they are shown, with their labels (aria-labels are `<label> count`). */
export const OUTCOMES = [
  { key: "allow", label: "Allow", title: "Allow", tone: "bar-allow" },
  { key: "deny", label: "Deny", title: "Deny", tone: "bar-deny" },
  { key: "approval", label: "Approval", title: "Needs approval", tone: "bar-approval" },
  { key: "no_match", label: "No match", title: "No match", tone: "bar-nomatch" },
] as const;

export function countOf(s: SimSummary, key: (typeof OUTCOMES)[number]["key"]): number {
  switch (key) {
    case "allow":
      return s.allow_count;
    case "deny":
      return s.deny_count;
    case "approval":
      return s.approval_count;
    case "no_match":
      return s.no_match_count;
  }
}

export function rateOf(s: SimSummary, key: (typeof OUTCOMES)[number]["key"]): number {
  switch (key) {
    case "allow":
      return s.allow_rate;
    case "deny":
      return s.deny_rate;
    case "approval":
      return s.approval_rate;
    case "no_match":
      return s.no_match_rate;
  }
}

export function effectBars(s: SimSummary): Bar[] {
  return OUTCOMES.map((o) => ({ label: o.title, value: countOf(s, o.key), tone: o.tone }));
}

function Counts({ summary }: { summary: SimSummary }) {
  return (
    <div className="sim-counts">
      {OUTCOMES.map((o) => (
        <div key={o.key} className={`sim-count ${o.tone}`}>
          <span className="sim-count-title">{o.title}</span>
          <output className="sim-count-value" aria-label={`${o.label} count`}>
            {countOf(summary, o.key)}
          </output>
          <output className="sim-count-rate" aria-label={`${o.label} rate`}>
            {formatRate(rateOf(summary, o.key))}
          </output>
        </div>
      ))}
      <div className={`sim-count ${summary.error_count > 0 ? "bar-error" : ""}`}>
        <span className="sim-count-title">Errors</span>
        <output className="sim-count-value" aria-label="Error count">
          {summary.error_count}
        </output>
        <span className="sim-count-rate muted">evaluation errors</span>
      </div>
    </div>
  );
}

export function Budget({ summary }: { summary: SimSummary }) {
  return (
    <div className="sim-budget">
      <h3>Budget</h3>
      <dl className="facts">
        <dt>Estimated cost</dt>
        <dd>
          <output aria-label="Estimated cost">{formatMoney(summary.estimated_cost)}</output>
        </dd>
        <dt>Estimated compute</dt>
        <dd>
          <output aria-label="Estimated compute">{formatUnits(summary.estimated_compute)}</output>{" "}
          {summary.estimated_compute === 1 ? "unit" : "units"}
        </dd>
      </dl>
      <p className="muted sim-note">Budgets add up over the cases that need approval.</p>
      {summary.breaches.length === 0 ? (
        <p className="sim-ok">No budget breached.</p>
      ) : (
        <ul className="sim-breaches" aria-label="Budget breaches">
          {summary.breaches.map((b) => (
            <li key={b} className="mono">
              {b}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function RuleHits({ hits }: { hits: Record<string, number> }) {
  const rows = sortedRuleHits(hits);
  const max = Math.max(1, ...rows.map((r) => r.hits));
  if (rows.length === 0) {
    return <p className="empty-inline">The bundle has no enabled rule.</p>;
  }
  return (
    <div
      className="rule-hits"
      style={{ height: Math.min(rows.length, HIT_ROWS_SHOWN) * HIT_ROW + 2 }}
    >
      <VirtualList
        label="Rule hit list"
        count={rows.length}
        rowHeight={HIT_ROW}
        renderRow={(i) => {
          const r = rows[i];
          if (!r) return null;
          return (
            // biome-ignore lint/a11y/useSemanticElements: a row of a virtual list, which places it itself (no <ul> around it)
            <div role="listitem" className="hit-row" aria-label={`Hits of ${r.id}`}>
              <span className="hit-id truncate mono" title={r.id}>
                {r.id}
              </span>
              <span className="hit-count">{formatCount(r.hits)}</span>
              <span className="hit-bar-track" aria-hidden="true">
                <span
                  className={`hit-bar${r.hits === 0 ? " zero" : ""}`}
                  style={{ width: `${(r.hits / max) * 100}%` }}
                />
              </span>
            </div>
          );
        }}
      />
    </div>
  );
}

export function ContextJson({ value }: { value: unknown }) {
  const text = JSON.stringify(value, null, 2) ?? "null";
  return <pre className="context-json">{text}</pre>;
}

function ExampleCard({ example }: { example: Example }) {
  const outcome = example.no_match ? "no match" : effectLabel(example.effect);
  return (
    <article className="example" aria-label={`Example ${outcome}`}>
      <header>
        <span className={`badge ${example.no_match ? "" : `badge-${example.effect}`}`}>
          {outcome}
        </span>
        <span className="truncate mono" title={example.case_id}>
          {example.case_id}
        </span>
      </header>
      <dl className="facts">
        <dt>Rule</dt>
        <dd className="mono" title={example.matched_rule ?? undefined}>
          {example.matched_rule ?? (
            <span className="muted">none (default effect: {effectLabel(example.effect)})</span>
          )}
        </dd>
        <dt>Reason</dt>
        <dd title={example.reason}>{example.reason || <span className="muted">—</span>}</dd>
      </dl>
      <ContextJson value={example.context} />
    </article>
  );
}

export function SimResults({ outcome }: { outcome: SimOutcome }) {
  const { summary, examples, rule_hits } = outcome.report;
  return (
    <div className="sim-results-body">
      <div className="sim-headline">
        <span>
          <strong>{formatCount(summary.total_cases)}</strong>{" "}
          {summary.total_cases === 1 ? "case" : "cases"} from{" "}
          <span title={outcome.dataset}>{outcome.dataset}</span>
        </span>
        <span className="grow" />
        <span className="muted">
          Elapsed: <output aria-label="Elapsed time">{formatElapsed(outcome.elapsed_ms)}</output>
        </span>
      </div>
      <Counts summary={summary} />
      <div className="sim-panels">
        <section className="sim-panel" aria-label="Effects">
          <h3>Effects</h3>
          <EffectsChart bars={effectBars(summary)} title="Effects" />
        </section>
        <section className="sim-panel" aria-label="Budget">
          <Budget summary={summary} />
        </section>
      </div>
      <section className="sim-panel" aria-label="Rule hits">
        <h3>
          Rule hits{" "}
          <span className="count">
            {formatCount(Object.keys(rule_hits).length)} enabled{" "}
            {Object.keys(rule_hits).length === 1 ? "rule" : "rules"}, most hit first
          </span>
        </h3>
        <RuleHits hits={rule_hits} />
      </section>
      <section className="sim-panel" aria-label="Examples">
        <h3>
          Examples <span className="count">the first case of each outcome</span>
        </h3>
        {examples.length === 0 ? (
          <p className="empty-inline">No case was run.</p>
        ) : (
          <div className="examples">
            {examples.map((e) => (
              <ExampleCard key={`${e.no_match ? "no_match" : e.effect}:${e.case_id}`} example={e} />
            ))}
          </div>
        )}
      </section>
    </div>
  );
}
