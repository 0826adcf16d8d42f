//! The Overrides screen (DESIGN §1 the security engineer, §6, §11.3, §11.12): issue a
//! signed, scoped, expiring, single-use override (security role only; anyone else sees
//! why not), verify any override file, and the lists of overrides issued and used here,
//! read from the audit log.

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api } from "../api";
import { useAppInfo } from "../appInfo";
import type { OverrideLists } from "../bindings/OverrideLists";
import { Empty, Failed, Loading } from "../components/States";
import { VirtualList } from "../components/VirtualList";
import { type ErrorLike, toErrorLike } from "../errors";
import type { ScreenProps } from "../route";
import { IssueForm } from "./overrides/IssueForm";
import {
  filterRows,
  type IssuedRow,
  isPast,
  issuedRow,
  timeText,
  type UsedRow,
  usedRow,
} from "./overrides/overrides";
import { VerifyPanel } from "./overrides/VerifyPanel";

const ROW_HEIGHT = 46;

export function OverridesScreen(_props: ScreenProps) {
  const { info } = useAppInfo();
  const [lists, setLists] = useState<OverrideLists | null>(null);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    try {
      const next = await api.overrideLists();
      if (mine !== seq.current) return;
      setLists(next);
      setError(null);
    } catch (e) {
      if (mine !== seq.current) return;
      setError(toErrorLike(e));
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, []);

  // Whether one may issue depends on who acts: reload when that changes.
  const acting = info?.acting ?? null;
  // biome-ignore lint/correctness/useExhaustiveDependencies: `acting` is the reason to reload
  useEffect(() => {
    void load();
  }, [load, acting]);

  let issue: React.ReactNode;
  if (loading && !lists) issue = <Loading label="Loading overrides…" />;
  else if (error && !lists)
    issue = (
      <Failed what="The overrides could not be loaded" error={error} onRetry={() => void load()} />
    );
  else if (lists && !lists.can_issue)
    issue = (
      <section className="ovr-section ovr-why-not" aria-label="Why not">
        <h2>Issuing is for the security role</h2>
        <p>{lists.why_not ?? "The acting identity may not issue overrides."}</p>
        <p className="muted">You can still verify override files below.</p>
      </section>
    );
  else issue = <IssueForm onIssued={() => void load()} />;

  return (
    <section className="screen" aria-label="Overrides" aria-busy={loading}>
      <div className="toolbar">
        <h1>Overrides</h1>
        {acting && (
          <span className="muted truncate" title={`acting as ${acting}`}>
            acting as <strong>{acting}</strong>
          </span>
        )}
        {loading && lists && <span className="muted">Updating…</span>}
        <span className="grow" />
        <button
          type="button"
          aria-label="Refresh overrides"
          title="Refresh overrides"
          disabled={loading}
          onClick={() => void load()}
        >
          ↻ Refresh
        </button>
      </div>
      <div className="ovr">
        <div className="ovr-forms">
          {error && lists && (
            <p className="sev-error empty-inline" role="alert">
              {error.code}: {error.message}
            </p>
          )}
          {issue}
          <VerifyPanel />
        </div>
        <div className="ovr-lists">
          <IssuedList rows={lists?.issued.map(issuedRow) ?? null} />
          <UsedList rows={lists?.used.map(usedRow) ?? null} />
        </div>
      </div>
    </section>
  );
}

function ListFilter({
  label,
  value,
  onChange,
}: {
  label: string;
  value: string;
  onChange: (v: string) => void;
}) {
  return (
    <input
      type="search"
      className="ovr-filter"
      aria-label={label}
      placeholder="Filter by id, workflow, actor"
      value={value}
      onChange={(e) => onChange(e.target.value)}
    />
  );
}

function IssuedList({ rows }: { rows: IssuedRow[] | null }) {
  const [filter, setFilter] = useState("");
  const shown = useMemo(() => (rows ? filterRows(rows, filter) : []), [rows, filter]);
  const now = Date.now();
  return (
    <section className="ovr-list" aria-label="Issued overrides">
      <h2 className="panel-title">
        Issued <span className="count">{rows?.length ?? 0}</span>
        <span className="ovr-grow" />
        <ListFilter label="Filter issued overrides" value={filter} onChange={setFilter} />
      </h2>
      {rows === null ? null : rows.length === 0 ? (
        <Empty title="No override issued yet">
          <p>Overrides a security identity issues here are listed, newest first.</p>
        </Empty>
      ) : shown.length === 0 ? (
        <p className="empty-inline">No issued override matches “{filter}”.</p>
      ) : (
        <VirtualList
          label="Issued override rows"
          count={shown.length}
          rowHeight={ROW_HEIGHT}
          renderRow={(i) => {
            const r = shown[i];
            if (!r) return null;
            const expired = isPast(r.expiresAt, now);
            return (
              <div className="ovr-item" title={r.reason ? `reason: ${r.reason}` : undefined}>
                <span className="ovr-line">
                  <strong className="truncate" title={`workflow ${r.workflow}`}>
                    {r.workflow}
                  </strong>
                  <span className="badge badge-info truncate" title={r.effect}>
                    {r.effect}
                  </span>
                  <span className="mono muted truncate ovr-id" title={r.id}>
                    {r.id}
                  </span>
                </span>
                <span className="ovr-line muted">
                  <span className="truncate" title={`issued by ${r.actor} at ${r.at}`}>
                    by {r.actor} · {timeText(r.at)}
                  </span>
                  <span
                    className={expired ? "ovr-expiry expired" : "ovr-expiry"}
                    title={r.expiresAt ?? ""}
                  >
                    {expired ? "expired" : "expires"} {timeText(r.expiresAt)}
                  </span>
                </span>
              </div>
            );
          }}
        />
      )}
    </section>
  );
}

function UsedList({ rows }: { rows: UsedRow[] | null }) {
  const [filter, setFilter] = useState("");
  const shown = useMemo(() => (rows ? filterRows(rows, filter) : []), [rows, filter]);
  return (
    <section className="ovr-list" aria-label="Used overrides">
      <h2 className="panel-title">
        Used <span className="count">{rows?.length ?? 0}</span>
        <span className="ovr-grow" />
        <ListFilter label="Filter used overrides" value={filter} onChange={setFilter} />
      </h2>
      {rows === null ? null : rows.length === 0 ? (
        <Empty title="No override used yet">
          <p>A scorecard evaluation that applies an override records its use here.</p>
        </Empty>
      ) : shown.length === 0 ? (
        <p className="empty-inline">No used override matches “{filter}”.</p>
      ) : (
        <VirtualList
          label="Used override rows"
          count={shown.length}
          rowHeight={ROW_HEIGHT}
          renderRow={(i) => {
            const r = shown[i];
            if (!r) return null;
            return (
              <div className="ovr-item">
                <span className="ovr-line">
                  <strong className="truncate" title={`workflow ${r.workflow}`}>
                    {r.workflow}
                  </strong>
                  {r.verdict && (
                    <span className="badge badge-neutral" title={`verdict ${r.verdict}`}>
                      {r.verdict}
                    </span>
                  )}
                  {r.legacy && <span className="badge badge-warn">legacy</span>}
                  <span className="mono muted truncate ovr-id" title={r.id}>
                    {r.id}
                  </span>
                </span>
                <span className="ovr-line muted">
                  <span className="truncate" title={`used by ${r.actor} at ${r.at}`}>
                    by {r.actor} · {timeText(r.at)}
                  </span>
                </span>
              </div>
            );
          }}
        />
      )}
    </section>
  );
}
