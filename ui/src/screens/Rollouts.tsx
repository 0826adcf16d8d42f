//! The Rollouts screen (DESIGN §7, §11.8, §11.9): on the left every deployment unit (a
//! bundle in an environment, environments in the store's order) with what serves there;
//! on the right the selected unit — active and canary versions, the last gate check,
//! activate, promote and roll back — and the incidents. Each change names the state the
//! screen showed, so a rollout that moved meanwhile is refused (`stale_state`).

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api } from "../api";
import type { BundleIndex } from "../bindings/BundleIndex";
import type { Status } from "../bindings/Status";
import { Empty, Failed, Loading } from "../components/States";
import { type ErrorLike, toErrorLike } from "../errors";
import type { ScreenProps } from "../route";
import { Incidents } from "./rollouts/Incidents";
import { UnitPanel } from "./rollouts/UnitPanel";
import {
  anythingActive,
  approvalsText,
  bakeText,
  findUnit,
  groupUnits,
  timeText,
  type Unit,
  unitKey,
} from "./rollouts/units";

export function RolloutsScreen({ route, navigate }: ScreenProps) {
  const [status, setStatus] = useState<Status | null>(null);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [loading, setLoading] = useState(true);
  const [index, setIndex] = useState<BundleIndex | null>(null);
  const [indexError, setIndexError] = useState<ErrorLike | null>(null);
  const [changes, setChanges] = useState(0);
  const seq = useRef(0);
  const detailPane = useRef<HTMLDivElement>(null);

  const bundle = route.screen === "rollouts" ? route.bundle : undefined;
  const environment = route.screen === "rollouts" ? route.environment : undefined;

  const load = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    // The version list (for Activate) loads beside the status; its failure only limits Activate.
    void api.bundleIndex().then(
      (i) => {
        if (mine !== seq.current) return;
        setIndex(i);
        setIndexError(null);
      },
      (e) => {
        if (mine === seq.current) setIndexError(toErrorLike(e));
      },
    );
    try {
      const next = await api.status();
      if (mine !== seq.current) return;
      setStatus(next);
      setError(null);
    } catch (e) {
      if (mine !== seq.current) return;
      setError(toErrorLike(e));
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const groups = useMemo(() => (status ? groupUnits(status) : []), [status]);
  const selected = findUnit(groups, bundle, environment);
  const selectedKey =
    bundle !== undefined && environment !== undefined ? unitKey(bundle, environment) : null;
  const active = anythingActive(groups);

  // A newly selected unit is read from its top.
  // biome-ignore lint/correctness/useExhaustiveDependencies: the selection is the reason to scroll
  useEffect(() => {
    detailPane.current?.scrollTo({ top: 0 });
  }, [selectedKey]);

  const select = (u: Unit) =>
    navigate({ screen: "rollouts", bundle: u.status.bundle, environment: u.environment.name });

  const changed = () => {
    setChanges((n) => n + 1);
    void load();
  };

  const toApprovals = (
    <button
      type="button"
      aria-label="Go to Approvals"
      onClick={() => navigate({ screen: "approvals" })}
    >
      Go to Approvals
    </button>
  );

  let list: React.ReactNode;
  if (loading && !status) list = <Loading label="Loading rollouts…" />;
  else if (error && !status)
    list = (
      <Failed what="The rollouts could not be loaded" error={error} onRetry={() => void load()} />
    );
  else if (groups.every((g) => g.units.length === 0))
    list = (
      <Empty title="No rollouts yet">
        <p>Nothing is active yet: approve a version in Approvals, then activate it here.</p>
        {toApprovals}
      </Empty>
    );
  else
    list = (
      <>
        {!active && (
          <div className="rollout-hint">
            <p>Nothing is active yet: approve a version in Approvals, then activate it here.</p>
            {toApprovals}
          </div>
        )}
        {groups.map((g) => (
          <section
            key={g.environment.name}
            className="rollout-group"
            aria-label={`Environment ${g.environment.name}`}
          >
            <h2 className="panel-title">
              {g.environment.name} <span className="count">{g.units.length}</span>
              <span className="muted rollout-env-settings">
                quorum {g.environment.quorum} · canary {g.environment.canary ? "on" : "off"}
              </span>
            </h2>
            {g.units.length === 0 ? (
              <p className="empty-inline">No bundle here yet.</p>
            ) : (
              <ul className="rollout-units">
                {g.units.map((u) => (
                  <li key={u.key}>
                    <UnitButton unit={u} selected={u.key === selectedKey} onSelect={select} />
                  </li>
                ))}
              </ul>
            )}
          </section>
        ))}
      </>
    );

  let detail: React.ReactNode;
  if (selected)
    detail = (
      <UnitPanel
        key={selected.key}
        unit={selected}
        index={index}
        indexError={indexError}
        loading={loading}
        onChanged={changed}
      />
    );
  else if (selectedKey !== null && status)
    detail = (
      <Empty title="Not found">
        <p>
          {bundle} has no rollout or pending version in {environment}: choose a unit on the left.
        </p>
      </Empty>
    );
  else if (selectedKey === null)
    detail = (
      <Empty title="Nothing selected">
        <p>
          Choose a bundle in an environment on the left to see what serves there, its gates, and to
          activate, promote or roll back.
        </p>
      </Empty>
    );

  return (
    <section className="screen" aria-label="Rollouts" aria-busy={loading}>
      <div className="toolbar">
        <h1>Rollouts</h1>
        {loading && status && <span className="muted">Updating…</span>}
        <span className="grow" />
        <button
          type="button"
          aria-label="Refresh rollouts"
          title="Refresh rollouts"
          disabled={loading}
          onClick={() => {
            setChanges((n) => n + 1);
            void load();
          }}
        >
          ↻ Refresh
        </button>
      </div>
      <div className="rollouts">
        <nav className="rollouts-list" aria-label="Deployment units">
          {error && status && (
            <p className="sev-error empty-inline" role="alert">
              {error.message}
            </p>
          )}
          {list}
        </nav>
        <div className="rollouts-detail" ref={detailPane}>
          {detail}
          <Incidents
            key={selected?.key ?? ""}
            unit={
              selected
                ? { bundle: selected.status.bundle, environment: selected.environment.name }
                : null
            }
            reloadToken={changes}
          />
        </div>
      </div>
    </section>
  );
}

function UnitButton({
  unit,
  selected,
  onSelect,
}: {
  unit: Unit;
  selected: boolean;
  onSelect: (u: Unit) => void;
}) {
  const { status, environment } = unit;
  return (
    <button
      type="button"
      className={`rollout-unit${selected ? " selected" : ""}`}
      aria-label={`Rollout ${status.bundle} in ${environment.name}`}
      aria-current={selected ? "true" : undefined}
      onClick={() => onSelect(unit)}
    >
      <span className="rollout-line">
        <strong className="truncate" title={status.bundle}>
          {status.bundle}
        </strong>
      </span>
      {status.active ? (
        <span className="rollout-line muted">
          <span className="badge badge-ok">active</span>
          <span className="truncate mono" title={status.active.reference}>
            {status.active.version}
          </span>
          <span className="rollout-at" title={status.active.activated_at}>
            {timeText(status.active.activated_at)}
          </span>
        </span>
      ) : (
        <span className="rollout-line muted">nothing active</span>
      )}
      {status.canary && (
        <span className="rollout-line muted">
          <span className="badge badge-warn">canary</span>
          <span className="truncate mono" title={status.canary.reference}>
            {status.canary.version}
          </span>
          <span className="rollout-bar small" aria-hidden="true">
            <span style={{ width: `${Math.max(0, Math.min(100, status.canary.percent))}%` }} />
          </span>
          <span>{status.canary.percent}%</span>
          <span className="rollout-at">{bakeText(status.canary.bake_time_left_seconds)}</span>
        </span>
      )}
      {status.pending.map((p) => (
        <span key={p.reference} className="rollout-line muted">
          <span className={`badge badge-${p.state === "approved" ? "info" : "muted"}`}>
            {p.state}
          </span>
          <span className="truncate mono" title={p.reference}>
            {p.reference.slice(status.bundle.length + 1) || p.reference}
          </span>
          <span
            className="rollout-at"
            title={`approvals ${approvalsText(p.approvals, p.required)}`}
          >
            {approvalsText(p.approvals, p.required)}
          </span>
        </span>
      ))}
    </button>
  );
}
