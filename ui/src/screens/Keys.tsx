//! The Keys and trust screen (DESIGN §5, §11.3): the identities of this store and the
//! other trusted keys with their roles; a key's roles, rotation, public key export,
//! untrusting and backup; generating an identity, trusting a key, exporting the trust
//! store and restoring a backup. Granting roles and trusting are a security identity's.

import { useCallback, useEffect, useRef, useState } from "react";
import { api } from "../api";
import { useAppInfo } from "../appInfo";
import type { KeyInfo } from "../bindings/KeyInfo";
import type { KeysView } from "../bindings/KeysView";
import { Empty, Loading } from "../components/States";
import { type ErrorLike, toErrorLike } from "../errors";
import type { ScreenProps } from "../route";
import { Problem } from "./audit/Problem";
import { ExportTrust, GenerateIdentity, RestoreKey, TrustKey } from "./keys/Forms";
import { KeyDetail } from "./keys/KeyDetail";
import { KeyRow } from "./keys/KeyRow";
import { keysHint, splitKeys } from "./keys/keys";

export function KeysScreen(_props: ScreenProps) {
  const { info, reload: reloadInfo } = useAppInfo();
  const [view, setView] = useState<KeysView | null>(null);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [loading, setLoading] = useState(true);
  const [selected, setSelected] = useState<string | null>(null);
  const seq = useRef(0);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    try {
      const next = await api.keys();
      if (mine !== seq.current) return;
      setView(next);
      setError(null);
    } catch (e) {
      if (mine !== seq.current) return;
      setError(toErrorLike(e));
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, []);

  // The acting identity (chosen in the header) decides who may grant roles.
  const acting = info?.acting ?? null;
  // biome-ignore lint/correctness/useExhaustiveDependencies: `acting` is the reason to reload
  useEffect(() => {
    void load();
  }, [load, acting]);

  const changed = () => {
    void load();
    void reloadInfo();
  };

  const { identities, trusted } = splitKeys(view?.keys ?? []);
  const chosen: KeyInfo | undefined = view?.keys.find((k) => k.keyid === selected);

  const group = (title: string, keys: KeyInfo[], empty: string) => (
    <section className="keys-group" aria-label={title}>
      <h2 className="panel-title">
        {title} <span className="count">{keys.length}</span>
      </h2>
      {keys.length === 0 ? (
        <p className="empty-inline">{empty}</p>
      ) : (
        <ul className="keys-list">
          {keys.map((k) => (
            <li key={k.keyid}>
              <KeyRow
                k={k}
                selected={k.keyid === selected}
                acting={k.identity && !k.retired && view?.acting === k.name}
                onSelect={setSelected}
              />
            </li>
          ))}
        </ul>
      )}
    </section>
  );

  let lists: React.ReactNode;
  if (loading && !view) lists = <Loading label="Loading keys…" />;
  else if (error && !view)
    lists = (
      <Problem
        what="The keys could not be loaded"
        error={error}
        hint={keysHint}
        onRetry={() => void load()}
      />
    );
  else
    lists = (
      <>
        {group(
          "Identities of this store",
          identities,
          "No identity yet: generate the first one (it gets every role).",
        )}
        {group(
          "Trusted keys",
          trusted,
          "No other key is trusted: trust a colleague's public key file to verify what they sign.",
        )}
      </>
    );

  return (
    <section className="screen" aria-label="Keys and trust" aria-busy={loading}>
      <div className="toolbar">
        <h1>Keys and trust</h1>
        {view && (
          <span className="muted truncate" title={view.acting ?? "no identity acts"}>
            {view.acting ? (
              <>
                acting as <strong>{view.acting}</strong>
                {view.can_grant ? " · may grant roles" : " · cannot grant roles"}
              </>
            ) : (
              "no identity acts"
            )}
          </span>
        )}
        {loading && view && <span className="muted">Updating…</span>}
        <span className="grow" />
        <button
          type="button"
          aria-label="Refresh keys"
          title="Refresh keys"
          disabled={loading}
          onClick={() => void load()}
        >
          ↻ Refresh
        </button>
      </div>
      <div className="keys">
        <nav className="keys-lists" aria-label="Keys">
          {error && view && (
            <Problem what="The keys could not be reloaded" error={error} hint={keysHint} />
          )}
          {lists}
        </nav>
        <div className="keys-side">
          {view && chosen ? (
            <KeyDetail
              key={chosen.keyid}
              k={chosen}
              view={view}
              onChanged={changed}
              onSelect={setSelected}
            />
          ) : (
            view && (
              <div className="keys-section">
                <Empty title="No key selected">
                  <p>
                    Choose a key on the left to see its roles and to export, rotate or back it up.
                  </p>
                </Empty>
              </div>
            )
          )}
          {view && (
            <>
              <GenerateIdentity
                view={view}
                onCreated={(keyid) => {
                  changed();
                  setSelected(keyid);
                }}
              />
              <TrustKey view={view} onTrusted={changed} />
              <ExportTrust />
            </>
          )}
          <RestoreKey
            onRestored={(keyid) => {
              changed();
              setSelected(keyid);
            }}
          />
        </div>
      </div>
    </section>
  );
}
