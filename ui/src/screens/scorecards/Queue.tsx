//! The "Borderline queue" section: the records of `governance/borderline_queue.jsonl`
//! (newest first) — workflow, RAROI, confidence, status, when it was queued.

import { useCallback, useEffect, useRef, useState } from "react";
import { api } from "../../api";
import type { BorderlineItem } from "../../bindings/BorderlineItem";
import { Empty, Failed, Loading } from "../../components/States";
import { VirtualList } from "../../components/VirtualList";
import { type ErrorLike, toErrorLike } from "../../errors";
import { numberText, timeText } from "./results";

const ROW_HEIGHT = 30;
const MAX_HEIGHT = 280;

export function Queue({ reloadToken }: { reloadToken: number }) {
  const [items, setItems] = useState<BorderlineItem[] | null>(null);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    try {
      const next = await api.borderlineQueue();
      if (mine !== seq.current) return;
      setItems([...next].reverse());
      setError(null);
    } catch (e) {
      if (mine === seq.current) setError(toErrorLike(e));
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, []);

  // biome-ignore lint/correctness/useExhaustiveDependencies: a new evaluation is the reason to reload
  useEffect(() => {
    void load();
  }, [load, reloadToken]);

  let body: React.ReactNode;
  if (loading && !items) body = <Loading label="Loading the borderline queue…" />;
  else if (error && !items)
    body = (
      <Failed
        what="The borderline queue could not be read"
        error={error}
        onRetry={() => void load()}
      />
    );
  else if (!items || items.length === 0)
    body = (
      <Empty title="The queue is empty">
        <p>
          A scorecard lands here when its forecast fails the foresight gate only narrowly — a
          projected ROI or the forecast's confidence within 0.05 of the policy's threshold — and the
          borderline queue is in use (the policy says <code>borderline_queue: true</code>, or “Use
          the borderline queue” is checked). Otherwise such a scorecard is a pilot.
        </p>
      </Empty>
    );
  else
    body = (
      <>
        <div className="sc-grid sc-queue-grid sc-grid-head" aria-hidden="true">
          <span>workflow</span>
          <span>raroi</span>
          <span>confidence</span>
          <span>status</span>
          <span>created</span>
        </div>
        <div
          className="sc-list-box"
          style={{ height: Math.min(MAX_HEIGHT, items.length * ROW_HEIGHT) + 2 }}
        >
          <VirtualList
            label="Queued scorecards"
            className="sc-list"
            count={items.length}
            rowHeight={ROW_HEIGHT}
            renderRow={(i) => {
              const it = items[i];
              if (!it) return null;
              const name = it.workflow_id ?? "(no workflow id)";
              const raroi = it.raroi.map((r) => (r == null ? "—" : numberText(r))).join(", ");
              return (
                <div className="sc-grid sc-queue-grid sc-grid-row" title={name}>
                  <span className="truncate" title={name}>
                    {name}
                  </span>
                  <span className="truncate mono" title={raroi}>
                    {raroi}
                  </span>
                  <span className="mono">
                    {it.confidence == null ? "—" : numberText(it.confidence)}
                  </span>
                  <span>
                    <span
                      className={`badge badge-${it.status === "pending" ? "warn" : "neutral"}`}
                      title={it.status}
                    >
                      {it.status}
                    </span>
                  </span>
                  <span
                    className="truncate"
                    title={`created ${it.created_at}, updated ${it.updated_at}`}
                  >
                    {timeText(it.created_at)}
                  </span>
                </div>
              );
            }}
          />
        </div>
      </>
    );

  return (
    <section className="sc-section" aria-label="Borderline queue" aria-busy={loading}>
      <div className="sc-section-head">
        <h2 className="panel-title">
          Borderline queue {items && <span className="count">{items.length}</span>}
        </h2>
        {loading && items && <span className="muted">Updating…</span>}
        <span className="sc-grow" />
        <button
          type="button"
          aria-label="Refresh borderline queue"
          disabled={loading}
          onClick={() => void load()}
        >
          ↻ Refresh
        </button>
      </div>
      {error && items && (
        <p className="sev-error empty-inline" role="alert">
          {error.message}
        </p>
      )}
      {body}
    </section>
  );
}
