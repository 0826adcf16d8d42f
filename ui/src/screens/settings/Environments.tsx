//! The environments and their settings (DESIGN §11.8): quorum, canary on/off, bake time
//! and the samples the gate needs; each row edits inline, and a form adds one. Changes are
//! the back end's `env set` / `env add`, audited there.

import { useCallback, useEffect, useRef, useState } from "react";
import { api } from "../../api";
import type { Environment } from "../../bindings/Environment";
import { Empty, Failed, Loading } from "../../components/States";
import { type ErrorLike, errorHint, toErrorLike } from "../../errors";
import {
  bakeText,
  checkEnvDraft,
  checkEnvName,
  draftOf,
  type EnvDraft,
  type EnvProblems,
  NEW_ENV_DRAFT,
  settingsHint,
} from "./settings";

function ErrorBox({ error, label }: { error: ErrorLike; label: string }) {
  const hint = settingsHint(error.code) ?? errorHint(error.code);
  return (
    <div className="ovr-refusal" role="alert" aria-label={label}>
      <strong>
        {label} <code>{error.code}</code>
      </strong>
      <p>{error.message}</p>
      {hint && hint !== error.message && <p className="muted">{hint}</p>}
    </div>
  );
}

/** The four settings' inputs, used by a row's edit and by the add form. */
function Fields({
  draft,
  problems,
  disabled,
  onChange,
}: {
  draft: EnvDraft;
  problems: EnvProblems;
  disabled: boolean;
  onChange: (patch: Partial<EnvDraft>) => void;
}) {
  return (
    <>
      <label className="ovr-field set-num">
        <span>Quorum</span>
        <input
          type="text"
          inputMode="numeric"
          aria-label="Quorum"
          aria-invalid={problems.quorum ? true : undefined}
          value={draft.quorum}
          disabled={disabled}
          onChange={(e) => onChange({ quorum: e.target.value })}
        />
        {problems.quorum && (
          <span className="ovr-problem" role="alert">
            {problems.quorum}
          </span>
        )}
      </label>
      <label className="ovr-check">
        <input
          type="checkbox"
          aria-label="Canary"
          checked={draft.canary}
          disabled={disabled}
          onChange={(e) => onChange({ canary: e.target.checked })}
        />
        <span>Canary</span>
      </label>
      <label className="ovr-field set-bake">
        <span>Bake time</span>
        <input
          type="text"
          aria-label="Bake time"
          placeholder="24h, 1h 30m"
          title="Hours and minutes: 24h, 1h 30m, 90m, 1:30, or 0"
          aria-invalid={problems.bake ? true : undefined}
          value={draft.bake}
          disabled={disabled}
          onChange={(e) => onChange({ bake: e.target.value })}
        />
        {problems.bake && (
          <span className="ovr-problem" role="alert">
            {problems.bake}
          </span>
        )}
      </label>
      <label className="ovr-field set-num">
        <span>Minimum samples</span>
        <input
          type="text"
          inputMode="numeric"
          aria-label="Minimum samples"
          aria-invalid={problems.samples ? true : undefined}
          value={draft.samples}
          disabled={disabled}
          onChange={(e) => onChange({ samples: e.target.value })}
        />
        {problems.samples && (
          <span className="ovr-problem" role="alert">
            {problems.samples}
          </span>
        )}
      </label>
    </>
  );
}

export function Environments() {
  const [envs, setEnvs] = useState<Environment[] | null>(null);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [loading, setLoading] = useState(true);
  const [editing, setEditing] = useState<string | null>(null);
  const seq = useRef(0);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    try {
      const next = await api.environments();
      if (mine !== seq.current) return;
      setEnvs(next);
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

  const replace = (env: Environment) => {
    setEnvs((list) => list?.map((e) => (e.name === env.name ? env : e)) ?? [env]);
    void load();
  };

  let table: React.ReactNode;
  if (loading && !envs) table = <Loading label="Loading environments…" />;
  else if (error && !envs)
    table = (
      <Failed
        what="The environments could not be loaded"
        error={error}
        onRetry={() => void load()}
      />
    );
  else if (envs && envs.length === 0)
    table = (
      <Empty title="No environment yet">
        <p>Add one below: each has its own quorum, canary, bake time and minimum samples.</p>
      </Empty>
    );
  else if (envs)
    table = (
      <table className="set-table" aria-label="Environments">
        <colgroup>
          <col style={{ width: "24%" }} />
          <col style={{ width: "12%" }} />
          <col style={{ width: "12%" }} />
          <col style={{ width: "16%" }} />
          <col style={{ width: "16%" }} />
          <col />
        </colgroup>
        <thead>
          <tr>
            <th>Name</th>
            <th>Quorum</th>
            <th>Canary</th>
            <th>Bake time</th>
            <th>Min samples</th>
            <th>
              <span className="set-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {envs.map((e) =>
            editing === e.name ? (
              <EditRow
                key={e.name}
                env={e}
                onCancel={() => setEditing(null)}
                onSaved={(env) => {
                  setEditing(null);
                  replace(env);
                }}
              />
            ) : (
              <tr key={e.name} aria-label={`Environment ${e.name}`}>
                <td className="truncate" title={e.name}>
                  <strong>{e.name}</strong>
                </td>
                <td>{e.quorum}</td>
                <td>
                  <span className={`badge ${e.canary ? "badge-info" : ""}`}>
                    {e.canary ? "on" : "off"}
                  </span>
                </td>
                <td title={`${e.bake_time_seconds} seconds`}>{bakeText(e.bake_time_seconds)}</td>
                <td>{e.min_samples}</td>
                <td className="set-actions">
                  <button
                    type="button"
                    aria-label={`Edit ${e.name}`}
                    onClick={() => setEditing(e.name)}
                  >
                    Edit
                  </button>
                </td>
              </tr>
            ),
          )}
        </tbody>
      </table>
    );

  return (
    <section className="ovr-section" aria-label="Environments settings">
      <h2>Environments {loading && envs && <span className="muted">Updating…</span>}</h2>
      <p className="muted ovr-note">
        A version needs the environment's quorum of approvals (or more, when its rules ask). With
        the canary on, an activation starts at 10%, and each step waits the bake time and for every
        gate to pass, the samples gate counting at least the minimum of decisions.
      </p>
      {error && envs && <ErrorBox error={error} label="Environments error" />}
      {table}
      <AddEnvironment
        onAdded={(env) => {
          setEnvs((list) => [...(list ?? []), env]);
          void load();
        }}
      />
    </section>
  );
}

function EditRow({
  env,
  onCancel,
  onSaved,
}: {
  env: Environment;
  onCancel: () => void;
  onSaved: (env: Environment) => void;
}) {
  const [draft, setDraft] = useState<EnvDraft>(() => draftOf(env));
  const [problems, setProblems] = useState<EnvProblems>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorLike | null>(null);

  const save = async () => {
    setError(null);
    const checked = checkEnvDraft(draft);
    if (!checked.ok) {
      setProblems(checked.problems);
      return;
    }
    setProblems({});
    setBusy(true);
    try {
      onSaved(await api.setEnvironment(env.name, checked.form));
    } catch (e) {
      setError(toErrorLike(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <tr className="set-editing" aria-label={`Editing ${env.name}`}>
      <td colSpan={6}>
        <form
          className="set-edit"
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
          onKeyDown={(e) => {
            if (e.key === "Escape") onCancel();
          }}
        >
          <strong className="truncate set-edit-name" title={env.name}>
            {env.name}
          </strong>
          <Fields
            draft={draft}
            problems={problems}
            disabled={busy}
            onChange={(p) => setDraft((d) => ({ ...d, ...p }))}
          />
          <div className="detail-actions">
            <button
              type="submit"
              className="primary"
              aria-label={`Save ${env.name}`}
              disabled={busy}
            >
              {busy ? "Saving…" : "Save"}
            </button>
            <button type="button" aria-label={`Cancel ${env.name}`} onClick={onCancel}>
              Cancel
            </button>
          </div>
        </form>
        {error && <ErrorBox error={error} label={`Saving ${env.name} failed`} />}
      </td>
    </tr>
  );
}

function AddEnvironment({ onAdded }: { onAdded: (env: Environment) => void }) {
  const [name, setName] = useState("");
  const [draft, setDraft] = useState<EnvDraft>(NEW_ENV_DRAFT);
  const [problems, setProblems] = useState<EnvProblems>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [added, setAdded] = useState<string | null>(null);

  const add = async () => {
    setError(null);
    setAdded(null);
    const checked = checkEnvDraft(draft);
    const nameProblem = checkEnvName(name);
    if (!checked.ok || nameProblem) {
      setProblems({ ...(checked.ok ? {} : checked.problems), name: nameProblem });
      return;
    }
    setProblems({});
    setBusy(true);
    try {
      const env = await api.addEnvironment(name.trim(), checked.form);
      setAdded(env.name);
      setName("");
      setDraft(NEW_ENV_DRAFT);
      onAdded(env);
    } catch (e) {
      setError(toErrorLike(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="set-add"
      aria-label="Add environment form"
      onSubmit={(e) => {
        e.preventDefault();
        void add();
      }}
    >
      <h3>Add an environment</h3>
      <div className="set-edit">
        <label className="ovr-field set-name">
          <span>Environment name</span>
          <input
            type="text"
            aria-label="Environment name"
            placeholder="e.g. eu-prod"
            aria-invalid={problems.name ? true : undefined}
            value={name}
            disabled={busy}
            onChange={(e) => setName(e.target.value)}
          />
          {problems.name && (
            <span className="ovr-problem" role="alert">
              {problems.name}
            </span>
          )}
        </label>
        <Fields
          draft={draft}
          problems={problems}
          disabled={busy}
          onChange={(p) => setDraft((d) => ({ ...d, ...p }))}
        />
        <div className="detail-actions">
          <button type="submit" className="primary" aria-label="Add environment" disabled={busy}>
            {busy ? "Adding…" : "Add environment"}
          </button>
        </div>
      </div>
      {error && <ErrorBox error={error} label="Adding the environment failed" />}
      {added && (
        <output className="muted" aria-label="Environment added">
          Added {added}.
        </output>
      )}
    </form>
  );
}
