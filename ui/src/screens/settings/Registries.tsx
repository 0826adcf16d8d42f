//! The team's registries (DESIGN §11.16, §11.11): where bundles, approvals and rollout
//! documents travel between consoles. The list with the bundles bound to each, removal
//! (refused while bundles are bound), and a form to add one, its password going to the
//! OS keychain.

import { useCallback, useEffect, useRef, useState } from "react";
import { api } from "../../api";
import type { RegistryRow } from "../../bindings/RegistryRow";
import { Empty, Loading } from "../../components/States";
import { type ErrorLike, errorHint, toErrorLike } from "../../errors";
import { formatTime } from "../Bundles";
import { ConfirmDialog } from "../keys/ConfirmDialog";
import {
  checkRegistryDraft,
  checkRegistryUrl,
  type RegistryDraft,
  type RegistryProblems,
  registryHint,
  URL_FORMS_TEXT,
} from "./registries";

export function RegistryError({
  error,
  label,
  onRetry,
}: {
  error: ErrorLike;
  label: string;
  onRetry?: () => void;
}) {
  const hint = registryHint(error.code) ?? errorHint(error.code);
  return (
    <div className="ovr-refusal" role="alert" aria-label={label}>
      <strong>
        {label} <code>{error.code}</code>
      </strong>
      <p>{error.message}</p>
      {hint && hint !== error.message && <p className="reg-hint">{hint}</p>}
      {onRetry && (
        <button type="button" aria-label="Try again" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Registries() {
  const [rows, setRows] = useState<RegistryRow[] | null>(null);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [loading, setLoading] = useState(true);
  const [removing, setRemoving] = useState<RegistryRow | null>(null);
  const [removeBusy, setRemoveBusy] = useState(false);
  const [removeError, setRemoveError] = useState<ErrorLike | null>(null);
  const seq = useRef(0);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    try {
      const next = await api.registries();
      if (mine !== seq.current) return;
      setRows(next);
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

  const remove = async (row: RegistryRow) => {
    setRemoveBusy(true);
    setRemoveError(null);
    try {
      await api.removeRegistry(row.name);
      setRemoving(null);
      setRows((list) => list?.filter((r) => r.name !== row.name) ?? null);
      void load();
    } catch (e) {
      setRemoving(null);
      setRemoveError(toErrorLike(e));
    } finally {
      setRemoveBusy(false);
    }
  };

  let table: React.ReactNode;
  if (loading && !rows) table = <Loading label="Loading registries…" />;
  else if (error && !rows)
    table = (
      <RegistryError
        error={error}
        label="The registries could not be loaded"
        onRetry={() => void load()}
      />
    );
  else if (rows && rows.length === 0)
    table = (
      <Empty title="No registry yet">
        <p>
          Add the registry your team shares below, then bind bundles to it from Bundles: their
          versions and approvals then reach every teammate's inbox.
        </p>
      </Empty>
    );
  else if (rows)
    table = (
      <div className="reg-scroll">
        <table className="set-table" aria-label="Registries list">
          <colgroup>
            <col style={{ width: "16%" }} />
            <col style={{ width: "34%" }} />
            <col style={{ width: "14%" }} />
            <col style={{ width: "26%" }} />
            <col />
          </colgroup>
          <thead>
            <tr>
              <th>Name</th>
              <th>URL</th>
              <th>User</th>
              <th>Bound bundles</th>
              <th>
                <span className="set-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const bundles = r.bundles.join(", ");
              return (
                <tr key={r.name} aria-label={`Registry ${r.name}`}>
                  <td className="truncate" title={`${r.name}, added ${formatTime(r.added_at)}`}>
                    <strong>{r.name}</strong>
                  </td>
                  <td
                    className="mono truncate"
                    title={`${r.url} — ${checkRegistryUrl(r.url).text}`}
                  >
                    {r.url}
                  </td>
                  <td className="truncate" title={r.username ?? "no user (anonymous)"}>
                    {r.username ?? <span className="muted">anonymous</span>}
                  </td>
                  <td className="truncate" title={bundles || "no bundle bound"}>
                    {r.bundles.length === 0 ? <span className="muted">none</span> : bundles}
                  </td>
                  <td className="set-actions">
                    <button
                      type="button"
                      aria-label={`Remove ${r.name}`}
                      title={
                        r.bundles.length > 0
                          ? `Bound to ${r.bundles.length} bundle(s): the registry keeps them, so it cannot be removed`
                          : `Remove ${r.name} (and its password from the keychain)`
                      }
                      onClick={() => {
                        setRemoveError(null);
                        setRemoving(r);
                      }}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    );

  return (
    <section className="ovr-section" aria-label="Registries">
      <h2>Registries {loading && rows && <span className="muted">Updating…</span>}</h2>
      <p className="muted ovr-note">
        A team shares versions, approvals and environment state through a registry: each bundle
        bound to one lives at its own repository there, and Sync (in Approvals) fetches what
        teammates published, verified against your trusted keys.
      </p>
      {error && rows && (
        <RegistryError error={error} label="Registries error" onRetry={() => void load()} />
      )}
      {removeError && <RegistryError error={removeError} label="Removing the registry failed" />}
      {table}
      <AddRegistry
        onAdded={(row) => {
          setRows((list) => [...(list ?? []).filter((r) => r.name !== row.name), row]);
          void load();
        }}
      />
      {removing && (
        <ConfirmDialog
          title={`Remove registry ${removing.name}?`}
          confirmLabel="Confirm remove"
          confirmText="Remove"
          busy={removeBusy}
          onConfirm={() => void remove(removing)}
          onCancel={() => setRemoving(null)}
        >
          <p className="wrap">
            This console stops sharing through <code>{removing.url}</code>; what was published there
            stays.{" "}
            {removing.bundles.length > 0 && (
              <strong>
                Bundles are bound to it ({removing.bundles.join(", ")}): removal will be refused.
              </strong>
            )}
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}

const EMPTY: RegistryDraft = { name: "", url: "", username: "", password: "" };

function AddRegistry({ onAdded }: { onAdded: (row: RegistryRow) => void }) {
  const [draft, setDraft] = useState<RegistryDraft>(EMPTY);
  const [problems, setProblems] = useState<RegistryProblems>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [added, setAdded] = useState<string | null>(null);
  const urlCheck = draft.url.trim() === "" ? null : checkRegistryUrl(draft.url);

  const change = (patch: Partial<RegistryDraft>) => {
    setDraft((d) => ({ ...d, ...patch }));
    setAdded(null);
  };

  const add = async () => {
    setError(null);
    setAdded(null);
    const found = checkRegistryDraft(draft);
    setProblems(found);
    if (Object.keys(found).length > 0) return;
    setBusy(true);
    try {
      const row = await api.addRegistry(
        draft.name.trim(),
        draft.url.trim(),
        draft.username.trim() || undefined,
        draft.password || undefined,
      );
      setDraft(EMPTY);
      setAdded(row.name);
      onAdded(row);
    } catch (e) {
      setError(toErrorLike(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="set-add"
      aria-label="Add registry form"
      onSubmit={(e) => {
        e.preventDefault();
        void add();
      }}
    >
      <h3>Add a registry</h3>
      <div className="set-edit">
        <label className="ovr-field reg-name">
          <span>Name</span>
          <input
            type="text"
            aria-label="Registry name"
            placeholder="team"
            autoComplete="off"
            aria-invalid={problems.name ? true : undefined}
            value={draft.name}
            disabled={busy}
            onChange={(e) => change({ name: e.target.value })}
          />
          {problems.name && (
            <span className="ovr-problem" role="alert">
              {problems.name}
            </span>
          )}
        </label>
        <label className="ovr-field reg-url">
          <span>URL</span>
          <input
            type="text"
            aria-label="Registry URL"
            placeholder="oci://registry.example.com/team"
            autoComplete="off"
            spellCheck={false}
            aria-invalid={problems.url ? true : undefined}
            value={draft.url}
            disabled={busy}
            onChange={(e) => change({ url: e.target.value })}
          />
          {problems.url ? (
            <span className="ovr-problem" role="alert">
              {problems.url}
            </span>
          ) : (
            urlCheck && (
              <span
                className={urlCheck.ok ? "muted reg-form" : "ovr-problem"}
                title={urlCheck.text}
              >
                {urlCheck.text}
              </span>
            )
          )}
        </label>
        <label className="ovr-field reg-user">
          <span>User (optional)</span>
          <input
            type="text"
            aria-label="Registry username"
            autoComplete="off"
            aria-invalid={problems.username ? true : undefined}
            value={draft.username}
            disabled={busy}
            onChange={(e) => change({ username: e.target.value })}
          />
          {problems.username && (
            <span className="ovr-problem" role="alert">
              {problems.username}
            </span>
          )}
        </label>
        <label className="ovr-field reg-user">
          <span>Password (optional)</span>
          <input
            type="password"
            aria-label="Registry password"
            autoComplete="new-password"
            value={draft.password}
            disabled={busy}
            onChange={(e) => change({ password: e.target.value })}
          />
          <span className="muted reg-form">Kept in the OS keychain, never in the store.</span>
        </label>
        <div className="detail-actions">
          <button type="submit" className="primary" aria-label="Add registry" disabled={busy}>
            {busy ? "Adding…" : "Add registry"}
          </button>
        </div>
      </div>
      <p className="muted ovr-note">{URL_FORMS_TEXT}</p>
      {error && <RegistryError error={error} label="Adding the registry failed" />}
      {added && (
        <output className="muted" aria-label="Registry added">
          Added {added}. Bind bundles to it from Bundles.
        </output>
      )}
    </form>
  );
}
