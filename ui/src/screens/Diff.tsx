//! The Diff screen: two stored versions rule by rule (DESIGN §3.4, §11.6). Pick the old
//! and new versions (the route may name them; with only the new one, the old one is its
//! predecessor), then the back end's diff: the overall class, the bump and suggested
//! version, counts, metadata changes, and every rule side by side with its status,
//! class and changed fields. The diff and its classes are computed in Rust.

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api } from "../api";
import type { DiffView } from "../bindings/DiffView";
import type { RulePair } from "../bindings/RulePair";
import { Empty, Failed, Loading } from "../components/States";
import { type ErrorLike, toErrorLike } from "../errors";
import type { ScreenProps } from "../route";
import "./diff/diff.css";
import {
  classTone,
  diffCounts,
  expandedByDefault,
  formatValue,
  isIdentical,
  ruleFieldLines,
  visiblePairs,
} from "./diff/fields";
import { RuleRows } from "./diff/RuleRows";
import { useVersionIndex } from "./diff/useVersionIndex";
import { VersionPicker } from "./diff/VersionPicker";
import { defaultDiffSides } from "./diff/versions";

type Fold = "default" | "all-open" | "all-closed";

export function DiffScreen({ route, navigate }: ScreenProps) {
  const index = useVersionIndex();
  const versions = index.versions ?? [];
  const routeOld = route.screen === "diff" ? route.old : undefined;
  const routeNew = route.screen === "diff" ? route.new : undefined;
  const sides = useMemo(
    () => defaultDiffSides(versions, routeOld, routeNew),
    [versions, routeOld, routeNew],
  );

  const [view, setView] = useState<DiffView | null>(null);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [loading, setLoading] = useState(false);
  const [showUnchanged, setShowUnchanged] = useState(false);
  const [fold, setFold] = useState<Fold>("default");
  const [toggled, setToggled] = useState<ReadonlySet<string>>(new Set());
  const seq = useRef(0);

  const load = useCallback(async (oldRef: string, newRef: string) => {
    const mine = ++seq.current;
    setLoading(true);
    setError(null);
    try {
      const v = await api.diff(oldRef, newRef);
      if (mine !== seq.current) return;
      setView(v);
      setToggled(new Set());
      setFold("default");
    } catch (e) {
      if (mine !== seq.current) return;
      setView(null);
      setError(toErrorLike(e));
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, []);

  const same = sides.old !== "" && sides.old === sides.new;
  useEffect(() => {
    if (sides.old === "" || sides.new === "" || sides.old === sides.new) {
      seq.current++;
      setView(null);
      setError(null);
      setLoading(false);
      return;
    }
    void load(sides.old, sides.new);
  }, [sides.old, sides.new, load]);

  const pick = (side: "old" | "new", reference: string) => {
    // A side the user picks is kept in the route; the other keeps its own (or its default).
    if (side === "old") navigate({ screen: "diff", old: reference, new: routeNew ?? sides.new });
    else navigate({ screen: "diff", old: routeOld, new: reference });
  };

  const shown = useMemo(
    () => (view ? visiblePairs(view.rules, showUnchanged) : []),
    [view, showUnchanged],
  );
  const lines = useMemo(() => shown.map((p) => ruleFieldLines(p)), [shown]);
  const isExpanded = useCallback(
    (p: RulePair) => {
      const base =
        fold === "all-open" ? true : fold === "all-closed" ? false : expandedByDefault(p.status);
      const key = `${p.status}:${p.id}`;
      return toggled.has(key) ? !base : base;
    },
    [fold, toggled],
  );
  const onToggle = useCallback((p: RulePair) => {
    const key = `${p.status}:${p.id}`;
    setToggled((t) => {
      const next = new Set(t);
      if (next.has(key)) next.delete(key);
      else next.add(key);
      return next;
    });
  }, []);
  const foldAll = (mode: Fold) => {
    setFold(mode);
    setToggled(new Set());
  };

  let body: React.ReactNode;
  if (index.loading && !index.versions) body = <Loading label="Loading versions…" />;
  else if (index.error && !index.versions) {
    body = (
      <Failed what="The versions could not be listed" error={index.error} onRetry={index.reload} />
    );
  } else if (versions.length === 0) {
    body = (
      <Empty title="No versions to compare">
        <p>Store a bundle first: load the examples or import a file from the welcome screen.</p>
        <button type="button" onClick={() => navigate({ screen: "welcome" })}>
          Go to welcome
        </button>
      </Empty>
    );
  } else if (sides.old === "" || sides.new === "") {
    body = (
      <Empty title="Choose two versions">
        <p>
          {sides.new !== "" && sides.old === ""
            ? `${sides.new} is its bundle's first version: choose an old version to compare it with.`
            : "Pick the old and the new version above."}
        </p>
      </Empty>
    );
  } else if (same) {
    body = (
      <Empty title="Identical">
        <p>
          Both sides are <span className="mono">{sides.old}</span>: the versions are identical.
        </p>
      </Empty>
    );
  } else if (error) {
    body = (
      <Failed
        what="The diff could not be computed"
        error={error}
        onRetry={() => load(sides.old, sides.new)}
      />
    );
  } else if (!view) {
    body = <Loading label="Comparing versions…" />;
  } else {
    body = (
      <DiffBody
        view={view}
        shown={shown}
        lines={lines}
        showUnchanged={showUnchanged}
        isExpanded={isExpanded}
        onToggle={onToggle}
        onShowUnchanged={() => setShowUnchanged(true)}
      />
    );
  }

  return (
    <section className="screen diff-screen" aria-label="Diff" aria-busy={loading}>
      <div className="toolbar">
        <h1>Diff</h1>
        <VersionPicker
          label="Old version"
          value={sides.old}
          versions={versions}
          onChange={(r) => pick("old", r)}
          disabled={!index.versions}
          placeholder="Old version…"
        />
        <button
          type="button"
          className="icon-button"
          aria-label="Swap versions"
          title="Swap old and new"
          disabled={sides.old === "" || sides.new === ""}
          onClick={() => navigate({ screen: "diff", old: sides.new, new: sides.old })}
        >
          ⇄
        </button>
        <VersionPicker
          label="New version"
          value={sides.new}
          versions={versions}
          onChange={(r) => pick("new", r)}
          disabled={!index.versions}
          placeholder="New version…"
        />
        {loading && view && <span className="muted">Updating…</span>}
        <span className="grow" />
        <label className="check">
          <input
            type="checkbox"
            aria-label="Show unchanged rules"
            checked={showUnchanged}
            onChange={(e) => setShowUnchanged(e.target.checked)}
          />
          Show unchanged
        </label>
        <button
          type="button"
          aria-label="Unfold all rules"
          disabled={!view}
          onClick={() => foldAll("all-open")}
        >
          Unfold all
        </button>
        <button
          type="button"
          aria-label="Fold all rules"
          disabled={!view}
          onClick={() => foldAll("all-closed")}
        >
          Fold all
        </button>
      </div>
      {body}
    </section>
  );
}

function DiffBody({
  view,
  shown,
  lines,
  showUnchanged,
  isExpanded,
  onToggle,
  onShowUnchanged,
}: {
  view: DiffView;
  shown: RulePair[];
  lines: ReturnType<typeof ruleFieldLines>[];
  showUnchanged: boolean;
  isExpanded: (p: RulePair) => boolean;
  onToggle: (p: RulePair) => void;
  onShowUnchanged: () => void;
}) {
  const counts = diffCounts(view);
  const identical = isIdentical(view);
  return (
    <>
      <section className="diff-summary" aria-label="Diff summary">
        <div className="diff-headline">
          <output
            className={`badge diff-class badge-${classTone(view.class)}`}
            aria-label="Overall class"
            title="What the changes do to decisions, taken together"
          >
            {view.class}
          </output>
          <span className="diff-bump">
            Bump: <output aria-label="Version bump">{view.bump}</output>
          </span>
          <output
            className="diff-suggested truncate"
            aria-label="Suggested version"
            title={view.suggested_version}
          >
            Suggested version: <strong className="mono">{view.suggested_version}</strong>
          </output>
          <span className="grow" />
          <span className="diff-counts">
            <Count label="Added" value={counts.added} tone="ok" />
            <Count label="Removed" value={counts.removed} tone="bad" />
            <Count label="Modified" value={counts.modified} tone="info" />
            <Count label="Unchanged" value={counts.unchanged} tone="muted" />
          </span>
        </div>
        {identical && (
          <p className="diff-identical" role="status">
            No rule or metadata differs: <span className="mono">{view.old.reference}</span> and{" "}
            <span className="mono">{view.new.reference}</span> are identical in everything the diff
            compares.
          </p>
        )}
        {view.metadata_changes.length > 0 && (
          <ul className="metadata-changes" aria-label="Metadata changes">
            {view.metadata_changes.map((m) => {
              const before = formatValue(m.before);
              const after = formatValue(m.after);
              return (
                <li key={m.field} aria-label={`Metadata ${m.field}`}>
                  <span className="mono field-name">metadata.{m.field}</span>
                  <span className="truncate mono" title={`${before} → ${after}`}>
                    {before} → {after}
                  </span>
                  <span className={`badge badge-${classTone(m.class)}`}>{m.class}</span>
                </li>
              );
            })}
          </ul>
        )}
      </section>
      <div className="diff-columns" aria-hidden="true">
        <span className="truncate" title={`${view.old.reference} (${view.old.digest})`}>
          Old: <strong>{view.old.reference}</strong>
        </span>
        <span className="truncate" title={`${view.new.reference} (${view.new.digest})`}>
          New: <strong>{view.new.reference}</strong>
        </span>
      </div>
      {shown.length === 0 ? (
        <Empty title={view.rules.length === 0 ? "Neither version has rules" : "No rule changed"}>
          {view.rules.length > 0 && !showUnchanged && (
            <>
              <p>
                All {view.rules.length} {view.rules.length === 1 ? "rule is" : "rules are"}{" "}
                unchanged
                {identical ? ": the versions are identical." : "."}
              </p>
              <button type="button" onClick={onShowUnchanged}>
                Show unchanged rules
              </button>
            </>
          )}
        </Empty>
      ) : (
        <RuleRows pairs={shown} lines={lines} isExpanded={isExpanded} onToggle={onToggle} />
      )}
    </>
  );
}

function Count({ label, value, tone }: { label: string; value: number; tone: string }) {
  return (
    <span className={`diff-count count-${tone}`}>
      <output aria-label={`${label} count`}>{value}</output> {label.toLowerCase()}
    </span>
  );
}
