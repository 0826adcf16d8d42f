//! The Audit screen (DESIGN §9, §11.13): the hash-chained audit log, newest first, with
//! filters; an entry's details and hashes; verifying the chain (against a signed
//! checkpoint when one is given); exporting the log; making a checkpoint.

import { useCallback, useEffect, useRef, useState } from "react";
import { api } from "../api";
import type { AuditEntry } from "../bindings/AuditEntry";
import type { AuditFilters } from "../bindings/AuditFilters";
import { Empty, Loading } from "../components/States";
import { VirtualList } from "../components/VirtualList";
import { type ErrorLike, toErrorLike } from "../errors";
import type { ScreenProps } from "../route";
import { moveIndex } from "../virtual";
import {
  actionTone,
  auditHint,
  DEFAULT_LIMIT,
  detailsText,
  emptyForm,
  type FilterForm,
  indexOfSeq,
  isFiltered,
  LIMITS,
  limitToReach,
  locate,
  shortHash,
  timeText,
  toFilters,
} from "./audit/audit";
import { Problem } from "./audit/Problem";
import { VerifyPanel } from "./audit/VerifyPanel";

const ROW_HEIGHT = 30;

function keepListFocus(e: React.MouseEvent<HTMLElement>): void {
  e.preventDefault();
  (e.currentTarget.closest(".vlist") as HTMLElement | null)?.focus({ preventScroll: true });
}

export function AuditScreen({ route }: ScreenProps) {
  const routeSubject = route.screen === "audit" ? route.subject : undefined;
  const [form, setForm] = useState<FilterForm>(() => emptyForm(routeSubject));
  const [limit, setLimit] = useState<number>(DEFAULT_LIMIT);
  const [applied, setApplied] = useState<AuditFilters>(
    () => toFilters(emptyForm(routeSubject), DEFAULT_LIMIT).filters,
  );
  const [formErrors, setFormErrors] = useState<string[]>([]);
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [loading, setLoading] = useState(true);
  const [selectedSeq, setSelectedSeq] = useState<number | null>(null);
  const [missing, setMissing] = useState<{ seq: number; beyond: boolean } | null>(null);
  const pendingShow = useRef<number | null>(null);
  const side = useRef<HTMLDivElement>(null);
  const seq = useRef(0);

  const load = useCallback(async (filters: AuditFilters) => {
    const mine = ++seq.current;
    setLoading(true);
    try {
      const next = await api.auditList(filters);
      if (mine !== seq.current) return;
      setEntries(next);
      setError(null);
      const show = pendingShow.current;
      pendingShow.current = null;
      if (show !== null) {
        const at = locate(next, show, filters.limit ?? DEFAULT_LIMIT);
        setSelectedSeq(next[at.row]?.seq ?? null);
        setMissing(at.state === "found" ? null : { seq: show, beyond: at.state === "beyond" });
        side.current?.scrollTo({ top: 0 });
      }
    } catch (e) {
      if (mine !== seq.current) return;
      setError(toErrorLike(e));
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, []);

  useEffect(() => {
    void load(applied);
  }, [load, applied]);

  // Coming to the screen for another subject (from a version's history) filters on it.
  const shownSubject = useRef(routeSubject);
  useEffect(() => {
    if (routeSubject === undefined || routeSubject === shownSubject.current) return;
    shownSubject.current = routeSubject;
    setForm((f) => ({ ...emptyForm(routeSubject), since: f.since, until: f.until }));
    setApplied((a) => ({ ...a, actor: null, action: null, subject: routeSubject }));
  }, [routeSubject]);

  const apply = (nextForm = form, nextLimit = limit) => {
    const check = toFilters(nextForm, nextLimit);
    const problems = Object.values(check.errors);
    setFormErrors(problems);
    if (problems.length > 0) return;
    setMissing(null);
    setApplied(check.filters);
  };

  const clear = () => {
    const blank = emptyForm();
    setForm(blank);
    apply(blank);
  };

  const showEntry = async (target: number, lastSeq: number) => {
    // The newest entry of the whole log, to ask for enough entries to reach back to `target`.
    let newest = lastSeq;
    try {
      const top = await api.auditList({ ...toFilters(emptyForm(), 1).filters });
      newest = Math.max(newest, top[0]?.seq ?? 0);
    } catch {
      // The list's own load reports the failure.
    }
    const nextLimit = limitToReach(target, newest, limit);
    const blank = emptyForm();
    setForm(blank);
    setFormErrors([]);
    setLimit(nextLimit);
    pendingShow.current = target;
    const filters = toFilters(blank, nextLimit).filters;
    setApplied(filters);
    // The same filters as before do not reload by themselves.
    if (JSON.stringify(filters) === JSON.stringify(applied)) void load(filters);
  };

  const list = entries ?? [];
  const selectedRow = selectedSeq === null ? -1 : indexOfSeq(list, selectedSeq);
  const selected = selectedRow >= 0 ? list[selectedRow] : undefined;

  const onListKey = (e: React.KeyboardEvent<HTMLDivElement>) => {
    const page = Math.max(1, Math.floor(e.currentTarget.clientHeight / ROW_HEIGHT) - 1);
    const steps: Record<string, number> = {
      ArrowDown: 1,
      ArrowUp: -1,
      PageDown: page,
      PageUp: -page,
      End: list.length,
      Home: -list.length,
    };
    const step = steps[e.key];
    if (step === undefined) return;
    e.preventDefault();
    const i = moveIndex(
      selectedRow < 0 ? (step > 0 ? -1 : list.length) : selectedRow,
      step,
      list.length,
    );
    const entry = list[i];
    if (entry) {
      setSelectedSeq(entry.seq);
      setMissing(null);
    }
  };

  const field = (key: keyof FilterForm, label: string, placeholder: string, wide = false) => (
    <input
      type="text"
      aria-label={label}
      placeholder={placeholder}
      className={`audit-filter${wide ? " wide" : ""}`}
      value={form[key]}
      aria-invalid={
        (key === "since" || key === "until") && formErrors.some((m) => m.startsWith(label))
      }
      onChange={(e) => setForm({ ...form, [key]: e.target.value })}
      onKeyDown={(e) => {
        if (e.key === "Enter") {
          e.preventDefault();
          apply();
        }
      }}
    />
  );

  let body: React.ReactNode;
  if (loading && !entries) body = <Loading label="Loading the audit log…" />;
  else if (error && !entries)
    body = (
      <Problem
        what="The audit log could not be loaded"
        error={error}
        hint={auditHint}
        onRetry={() => void load(applied)}
      />
    );
  else if (list.length === 0)
    body = isFiltered(applied) ? (
      <Empty title="No entry matches">
        <p>
          Filters match exactly (actor, action, subject as written). Clear them to see every entry.
        </p>
        <button type="button" aria-label="Clear filters" onClick={clear}>
          Clear filters
        </button>
      </Empty>
    ) : (
      <Empty title="The audit log is empty">
        <p>
          Every change — a draft saved, an approval, an activation, a key trusted — is recorded
          here.
        </p>
      </Empty>
    );
  else
    body = (
      <>
        <div className="audit-head" aria-hidden="true">
          <span className="audit-seq">#</span>
          <span>Time</span>
          <span>Actor</span>
          <span>Action</span>
          <span>Subject</span>
        </div>
        <VirtualList
          label="Audit entries"
          role="listbox"
          className="audit-vlist"
          count={list.length}
          rowHeight={ROW_HEIGHT}
          scrollToIndex={selectedRow}
          tabIndex={0}
          onKeyDown={onListKey}
          activeDescendant={selectedRow >= 0 ? `audit-row-${selectedRow}` : undefined}
          renderRow={(i) => {
            const e = list[i];
            if (!e) return null;
            const isSel = i === selectedRow;
            return (
              // biome-ignore lint/a11y/useKeyWithClickEvents: the list handles arrow keys
              <div
                id={`audit-row-${i}`}
                role="option"
                tabIndex={-1}
                aria-selected={isSel}
                aria-label={`Audit entry ${e.seq}`}
                className={`list-row audit-row${isSel ? " selected" : ""}`}
                onMouseDown={keepListFocus}
                onClick={() => {
                  setSelectedSeq(e.seq);
                  setMissing(null);
                }}
              >
                <span className="mono audit-seq">{e.seq}</span>
                <span className="audit-time" title={e.at}>
                  {timeText(e.at)}
                </span>
                <span className="truncate" title={e.actor}>
                  {e.actor}
                </span>
                <span className="audit-action">
                  <span className={`badge badge-${actionTone(e.action)}`} title={e.action}>
                    {e.action}
                  </span>
                </span>
                <span className="truncate" title={e.subject}>
                  {e.subject}
                </span>
              </div>
            );
          }}
        />
      </>
    );

  const atLimit = entries !== null && entries.length >= (applied.limit ?? DEFAULT_LIMIT);

  return (
    <section className="screen" aria-label="Audit" aria-busy={loading}>
      <div className="toolbar">
        <h1>Audit</h1>
        {entries && (
          <span className="muted">
            {entries.length.toLocaleString("en-US")} {entries.length === 1 ? "entry" : "entries"},
            newest first{atLimit ? " (the limit: older ones are not shown)" : ""}
          </span>
        )}
        {loading && entries && <span className="muted">Updating…</span>}
        <span className="grow" />
        <label className="audit-limit">
          <span className="muted">Show</span>
          <select
            aria-label="Limit"
            value={limit}
            onChange={(e) => {
              const next = Number(e.target.value);
              setLimit(next);
              apply(form, next);
            }}
          >
            {LIMITS.map((l) => (
              <option key={l} value={l}>
                {l.toLocaleString("en-US")}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          aria-label="Refresh audit log"
          title="Refresh audit log"
          disabled={loading}
          onClick={() => void load(applied)}
        >
          ↻ Refresh
        </button>
      </div>
      <div className="audit-filters">
        {field("actor", "Actor filter", "Actor")}
        {field("action", "Action filter", "Action (bundle.create)")}
        {field("subject", "Subject filter", "Subject (name@1.0.0)", true)}
        {field("since", "Since", "Since (2026-11-23)")}
        {field("until", "Until", "Until (before)")}
        <button
          type="button"
          className="primary"
          aria-label="Apply filters"
          onClick={() => apply()}
        >
          Apply filters
        </button>
        <button type="button" aria-label="Clear filters" onClick={clear}>
          Clear filters
        </button>
      </div>
      {formErrors.length > 0 && (
        <p className="audit-form-error" role="alert">
          {formErrors.join("; ")}
        </p>
      )}
      <div className="audit">
        <div className="audit-list">
          {error && entries && (
            <Problem what="The audit log could not be reloaded" error={error} hint={auditHint} />
          )}
          {body}
        </div>
        <div className="audit-side" ref={side}>
          <section className="audit-section" aria-label="Entry details">
            {missing !== null && (
              <p className="audit-note audit-bad" role="status">
                {missing.beyond
                  ? `Entry #${missing.seq} is older than the ${list.length.toLocaleString("en-US")} entries a list can show; the oldest one shown is selected. Export the log to read it.`
                  : `Entry #${missing.seq} is not in the log (it was removed); the nearest older entry is selected.`}
              </p>
            )}
            {selected ? (
              <EntryDetail entry={selected} />
            ) : (
              <p className="muted audit-note">
                Select an entry to read its details and hashes (arrow keys move in the list).
              </p>
            )}
          </section>
          <VerifyPanel
            onShowEntry={(seq, last) => void showEntry(seq, last)}
            onChanged={() => void load(applied)}
          />
        </div>
      </div>
    </section>
  );
}

function EntryDetail({ entry }: { entry: AuditEntry }) {
  return (
    <>
      <h2>
        Entry #{entry.seq}{" "}
        <span className={`badge badge-${actionTone(entry.action)}`} title={entry.action}>
          {entry.action}
        </span>
      </h2>
      <dl className="audit-dl">
        <dt>Time</dt>
        <dd title={entry.at}>
          {timeText(entry.at)} <span className="muted mono">{entry.at}</span>
        </dd>
        <dt>Actor</dt>
        <dd className="truncate" title={entry.actor}>
          {entry.actor}
        </dd>
        <dt>Subject</dt>
        <dd className="truncate" title={entry.subject}>
          {entry.subject}
        </dd>
        <dt>Hash</dt>
        <dd className="mono truncate" title={entry.hash}>
          {shortHash(entry.hash, 24)}
        </dd>
        <dt>Previous</dt>
        <dd className="mono truncate" title={entry.prev_hash}>
          {shortHash(entry.prev_hash, 24)}
        </dd>
      </dl>
      <pre className="audit-details mono">{detailsText(entry.details)}</pre>
    </>
  );
}
