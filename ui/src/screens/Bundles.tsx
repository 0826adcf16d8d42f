//! The Bundles screen: every bundle with its versions (newest first), their status and
//! per-environment state; search and a status filter over a virtualised list (smooth
//! at 10,000 versions); the selected bundle's history from the audit log, and actions
//! on the selected version.

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api } from "../api";
import type { BundleIndex } from "../bindings/BundleIndex";
import type { EnvBadge as EnvBadgeData } from "../bindings/EnvBadge";
import type { VersionHistory } from "../bindings/VersionHistory";
import type { VersionRow } from "../bindings/VersionRow";
import type { VersionStatus } from "../bindings/VersionStatus";
import { useScreenCommands } from "../commands";
import { EnvBadge, StatusBadge } from "../components/Badge";
import { Empty, Failed, Loading } from "../components/States";
import { useNotify } from "../components/Toasts";
import { VirtualList } from "../components/VirtualList";
import { LatestRequest } from "../editor/latest";
import { type ErrorLike, toErrorLike } from "../errors";
import { NEW_BUNDLE_TEXT, type ScreenProps } from "../route";
import { moveIndex } from "../virtual";
import { type BundleRow, bundleRows, previousVersion, rowIndexOf } from "./bundleRows";
import { RegistryActions } from "./bundles/RegistryActions";

const ROW_HEIGHT = 30;

const STATUSES: readonly VersionStatus[] = [
  "draft",
  "submitted",
  "approved",
  "rejected",
  "active",
  "superseded",
  "rolled_back",
];

/** `badges` in the store's order of environments (dev, staging, prod), unknown ones last. */
function inOrder(badges: readonly EnvBadgeData[], order: readonly string[]): EnvBadgeData[] {
  const rank = (e: string) => {
    const i = order.indexOf(e);
    return i < 0 ? order.length : i;
  };
  return [...badges].sort((a, b) => rank(a.environment) - rank(b.environment));
}

/**
 * Rows come and go as the list scrolls, so focus stays on the list itself (which takes
 * the arrow keys) rather than on a row that may be unmounted.
 */
function keepListFocus(e: React.MouseEvent<HTMLElement>): void {
  e.preventDefault();
  (e.currentTarget.closest(".vlist") as HTMLElement | null)?.focus({ preventScroll: true });
}

/** What the screen showed when last left, so that coming back from the editor keeps it. */
let remembered: { query: string; status: string; selected: string | null } = {
  query: "",
  status: "",
  selected: null,
};

export function formatTime(at: string): string {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return at;
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, "").slice(0, 12);
}

export function BundlesScreen({ navigate }: ScreenProps) {
  const [index, setIndex] = useState<BundleIndex | null>(null);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [loading, setLoading] = useState(true);
  const [query, setQuery] = useState(remembered.query);
  const [status, setStatus] = useState(remembered.status);
  const [selected, setSelected] = useState<string | null>(remembered.selected);
  useEffect(() => {
    remembered = { query, status, selected };
  }, [query, status, selected]);

  const load = useCallback(async () => {
    setLoading(true);
    try {
      setIndex(await api.bundleIndex());
      setError(null);
    } catch (e) {
      setError(toErrorLike(e));
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const versions = index?.versions ?? [];
  const environments = index?.environments ?? [];
  const rows = useMemo(() => bundleRows(versions, query, status), [versions, query, status]);
  const selectedVersion = useMemo(
    () => versions.find((v) => v.reference === selected) ?? null,
    [versions, selected],
  );
  const selectedRow = rowIndexOf(rows, selected);

  const simulate = useMemo(
    () =>
      selectedVersion
        ? {
            simulate: () => navigate({ screen: "simulator", reference: selectedVersion.reference }),
          }
        : {},
    [selectedVersion, navigate],
  );
  useScreenCommands(simulate);

  const selectRow = (row: BundleRow<VersionRow> | undefined) => {
    if (!row) return;
    if (row.kind === "version") setSelected(row.version.reference);
    else {
      const newest = versions.find((v) => v.name === row.name);
      if (newest) setSelected(newest.reference);
    }
  };

  const onListKey = (e: React.KeyboardEvent) => {
    const page = Math.max(1, Math.floor(e.currentTarget.clientHeight / ROW_HEIGHT) - 1);
    const steps: Record<string, number> = {
      ArrowDown: 1,
      ArrowUp: -1,
      PageDown: page,
      PageUp: -page,
      End: rows.length,
      Home: -rows.length,
    };
    const step = steps[e.key];
    if (step !== undefined) {
      e.preventDefault();
      const delta = step > 0 ? 1 : -1;
      let i = moveIndex(selectedRow, step, rows.length);
      // Skip group headers: they select their newest version anyway.
      while (rows[i]?.kind === "group" && i + delta >= 0 && i + delta < rows.length) i += delta;
      selectRow(rows[i]);
    } else if (e.key === "Enter" && selectedVersion) {
      e.preventDefault();
      navigate({ screen: "editor", reference: selectedVersion.reference });
    }
  };

  let list: React.ReactNode;
  if (loading && !index) list = <Loading label="Loading bundles…" />;
  else if (error && !index)
    list = <Failed what="The bundles could not be listed" error={error} onRetry={load} />;
  else if (versions.length === 0) {
    list = (
      <Empty title="No bundles yet">
        <p>Start a new bundle, or add the example bundles from the welcome screen.</p>
        <div className="detail-actions">
          <button
            type="button"
            className="primary"
            onClick={() => navigate({ screen: "editor", draftText: NEW_BUNDLE_TEXT })}
          >
            Start a new bundle
          </button>
          <button type="button" onClick={() => navigate({ screen: "welcome" })}>
            Go to welcome
          </button>
        </div>
      </Empty>
    );
  } else if (rows.length === 0) {
    list = (
      <Empty title="Nothing matches">
        <p>
          No version matches “{query}”{status ? ` with status ${status.replaceAll("_", " ")}` : ""}.
        </p>
        <button
          type="button"
          onClick={() => {
            setQuery("");
            setStatus("");
          }}
        >
          Clear search and filter
        </button>
      </Empty>
    );
  } else {
    list = (
      <VirtualList
        label="Bundle versions"
        role="listbox"
        count={rows.length}
        rowHeight={ROW_HEIGHT}
        scrollToIndex={selectedRow}
        tabIndex={0}
        onKeyDown={onListKey}
        activeDescendant={selected ? `bundle-row-${selectedRow}` : undefined}
        renderRow={(i) => {
          const row = rows[i];
          if (!row) return null;
          if (row.kind === "group") {
            const isSel = selectedVersion?.name === row.name;
            return (
              // biome-ignore lint/a11y/useKeyWithClickEvents: the list handles arrow keys and Enter
              <div
                id={`bundle-row-${i}`}
                role="option"
                tabIndex={-1}
                aria-selected={false}
                aria-label={`Bundle ${row.name}`}
                className={`list-row group-row${isSel ? " selected-group" : ""}`}
                title={row.name}
                onMouseDown={keepListFocus}
                onClick={() => selectRow(row)}
              >
                <span className="truncate">{row.name}</span>
                <span className="count">
                  {row.shown === row.total ? `${row.total}` : `${row.shown} of ${row.total}`}{" "}
                  {row.total === 1 ? "version" : "versions"}
                </span>
              </div>
            );
          }
          const v = row.version;
          return (
            // biome-ignore lint/a11y/useKeyWithClickEvents: the list handles arrow keys and Enter
            <div
              id={`bundle-row-${i}`}
              role="option"
              tabIndex={-1}
              aria-selected={v.reference === selected}
              aria-label={v.reference}
              className={`list-row version-row${v.reference === selected ? " selected" : ""}`}
              onMouseDown={keepListFocus}
              onClick={() => setSelected(v.reference)}
              onDoubleClick={() => navigate({ screen: "editor", reference: v.reference })}
            >
              <span className="version truncate" title={v.version}>
                {v.version}
              </span>
              <span className="status">
                <StatusBadge status={v.status} />
              </span>
              <span className="author truncate" title={v.author}>
                {v.author}
              </span>
              <span className="digest mono" title={v.digest}>
                {shortDigest(v.digest)}
              </span>
              <span
                className="badges"
                title={v.environments
                  .map((b) => `${b.environment}: ${b.state.replaceAll("_", " ")}`)
                  .join(", ")}
              >
                {inOrder(v.environments, environments).map((b) => (
                  <EnvBadge key={b.environment} env={b.environment} state={b.state} />
                ))}
              </span>
            </div>
          );
        }}
      />
    );
  }

  return (
    <section className="screen" aria-label="Bundles">
      <div className="toolbar">
        <h1>Bundles</h1>
        <input
          type="search"
          aria-label="Search bundles"
          placeholder="Search name, version, author, digest…"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          style={{ width: 280 }}
        />
        <select
          aria-label="Filter by status"
          value={status}
          onChange={(e) => setStatus(e.target.value)}
        >
          <option value="">All statuses</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s.replaceAll("_", " ")}
            </option>
          ))}
        </select>
        <span className="grow" />
        {index && (
          <span className="muted" aria-live="polite">
            {versions.length} {versions.length === 1 ? "version" : "versions"}
          </span>
        )}
        <button type="button" aria-label="Refresh bundles" onClick={load} disabled={loading}>
          {loading && index ? "Refreshing…" : "Refresh"}
        </button>
        <button
          type="button"
          className="primary"
          aria-label="New bundle"
          onClick={() => navigate({ screen: "editor", draftText: NEW_BUNDLE_TEXT })}
        >
          New bundle
        </button>
      </div>
      <div className="bundles">
        <div className="bundles-list">{list}</div>
        <BundleDetail
          version={selectedVersion}
          previous={selectedVersion ? previousVersion(versions, selectedVersion) : undefined}
          environments={environments}
          onChanged={() => void load()}
          navigate={navigate}
        />
      </div>
    </section>
  );
}

function BundleDetail({
  version,
  previous,
  environments,
  navigate,
  onChanged,
}: {
  version: VersionRow | null;
  previous: VersionRow | undefined;
  environments: readonly string[];
  navigate: ScreenProps["navigate"];
  onChanged: () => void;
}) {
  const notify = useNotify();
  const [submitting, setSubmitting] = useState(false);
  const submit = async (reference: string) => {
    setSubmitting(true);
    try {
      await api.submit(reference);
      notify.info(`${reference} is submitted: approvers see it in their inbox`);
      onChanged();
    } catch (e) {
      notify.error(`Submitting ${reference} failed`, e);
    } finally {
      setSubmitting(false);
    }
  };
  const [history, setHistory] = useState<VersionHistory | null>(null);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [loading, setLoading] = useState(false);
  const name = version?.name ?? null;
  // A change to the version (submitted, say) adds to its history: read it again.
  const status = version?.status ?? null;
  const requests = useRef<LatestRequest<string, VersionHistory> | null>(null);
  if (requests.current === null) {
    requests.current = new LatestRequest<string, VersionHistory>({
      request: (n) => api.history(n),
      onResult: (h) => {
        setHistory(h);
        setError(null);
      },
      onError: (e) => setError(toErrorLike(e)),
      onBusy: setLoading,
      delayMs: 120,
    });
  }

  useEffect(() => {
    const r = requests.current;
    if (!r) return;
    setHistory(null);
    setError(null);
    if (name !== null && status !== null) r.schedule(name);
    else r.cancel();
    return () => r.cancel();
  }, [name, status]);

  if (!version) {
    return (
      <aside className="detail" aria-label="Bundle details">
        <Empty title="No bundle selected">
          <p>Select a version to see its bundle's history and actions.</p>
        </Empty>
      </aside>
    );
  }

  const events = history ? [...history.events].reverse() : [];
  return (
    <aside className="detail" aria-label="Bundle details">
      <div className="detail-head">
        <h2 className="truncate" title={version.name}>
          {version.name}
        </h2>
        <dl className="facts">
          <dt>Version</dt>
          <dd title={version.version}>{version.version}</dd>
          <dt>Status</dt>
          <dd>
            <StatusBadge status={version.status} />
          </dd>
          <dt>Environments</dt>
          <dd className="wrap">
            {version.environments.length === 0 ? (
              <span className="muted">not deployed</span>
            ) : (
              inOrder(version.environments, environments).map((b) => (
                <EnvBadge key={b.environment} env={b.environment} state={b.state} />
              ))
            )}
          </dd>
          <dt>Author</dt>
          <dd title={version.author}>{version.author}</dd>
          <dt>Created</dt>
          <dd title={version.created_at}>{formatTime(version.created_at)}</dd>
          <dt>Digest</dt>
          <dd className="mono" title={version.digest}>
            {version.digest}
          </dd>
          {version.notes && (
            <>
              <dt>Notes</dt>
              <dd title={version.notes}>{version.notes}</dd>
            </>
          )}
        </dl>
        <div className="detail-actions">
          <button
            type="button"
            className="primary"
            aria-label="Open in editor"
            onClick={() => navigate({ screen: "editor", reference: version.reference })}
          >
            Open in editor
          </button>
          {version.status === "draft" && (
            <button
              type="button"
              aria-label="Submit for approval"
              title="Freeze this draft and send it to the approvers' inbox"
              disabled={submitting}
              onClick={() => void submit(version.reference)}
            >
              {submitting ? "Submitting…" : "Submit for approval"}
            </button>
          )}
          <button
            type="button"
            aria-label="Diff with previous"
            disabled={!previous}
            title={
              previous ? `Compare with ${previous.reference}` : "This is the bundle's first version"
            }
            onClick={() =>
              previous &&
              navigate({ screen: "diff", old: previous.reference, new: version.reference })
            }
          >
            Diff with previous
          </button>
          <button
            type="button"
            aria-label="Simulate"
            onClick={() => navigate({ screen: "simulator", reference: version.reference })}
          >
            Simulate
          </button>
        </div>
        <RegistryActions
          bundle={version.name}
          reference={version.reference}
          status={version.status}
          navigate={navigate}
        />
      </div>
      <div className="panel-title">History</div>
      {loading && !history && <Loading label="Loading history…" />}
      {error && (
        <Failed
          what="The history could not be read"
          error={error}
          onRetry={() => requests.current?.now(version.name)}
        />
      )}
      {history && events.length === 0 && <div className="empty-inline">No recorded events.</div>}
      {history && events.length > 0 && (
        <ol className="history" aria-label="History">
          {events.map((e) => (
            <li key={e.seq}>
              <strong className="truncate" title={`${e.actor} ${e.action}`}>
                {e.actor} <span className="muted">·</span> {e.action}
              </strong>
              <time dateTime={e.at} title={e.at}>
                {formatTime(e.at)}
              </time>
              <span className="truncate" title={e.subject} style={{ gridColumn: "1 / -1" }}>
                {e.subject}
              </span>
              <span className="details truncate" title={JSON.stringify(e.details, null, 2)}>
                {describeDetails(e.details)}
              </span>
            </li>
          ))}
        </ol>
      )}
    </aside>
  );
}

/** A one-line summary of an audit entry's details: `key: value` pairs. */
function describeDetails(details: unknown): string {
  if (details === null || details === undefined) return "";
  if (typeof details !== "object" || Array.isArray(details)) return JSON.stringify(details);
  return Object.entries(details as Record<string, unknown>)
    .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" · ");
}
