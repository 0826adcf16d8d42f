//! The header's account area: who the app acts as (the store's only identity, or the
//! one picked among several), or a button to create one.

import { useState } from "react";
import { api } from "./api";
import { useAppInfo } from "./appInfo";
import { useNotify } from "./components/Toasts";
import { IdentityDialog } from "./IdentityDialog";

export function IdentityHeader() {
  const { info, error, loading, reload } = useAppInfo();
  const [creating, setCreating] = useState(false);
  const [switching, setSwitching] = useState(false);
  const notify = useNotify();

  let content: React.ReactNode;
  if (loading && !info) content = <span className="muted">Loading identity…</span>;
  else if (error && !info)
    content = (
      <span className="sev-error" title={error.message}>
        Back end unavailable
      </span>
    );
  else if (!info || info.identities.length === 0) {
    content = (
      <>
        <span className="muted">No identity</span>
        <button type="button" aria-label="Set up identity" onClick={() => setCreating(true)}>
          Set up identity
        </button>
      </>
    );
  } else if (info.identities.length === 1) {
    const me = info.identities[0];
    content = (
      <span
        className="identity"
        role="status"
        aria-label="Acting identity"
        title={me ? `${me.name} <${me.email}> (key ${me.keyid}) roles: ${me.roles.join(", ")}` : ""}
      >
        <span aria-hidden="true">●</span>
        <span className="truncate">
          <strong>{me?.name}</strong> <span className="muted">{me?.email}</span>
        </span>
      </span>
    );
  } else {
    content = (
      <label className="identity">
        <span className="muted">Acting as</span>
        <select
          aria-label="Acting identity"
          value={info.acting ?? ""}
          disabled={switching}
          onChange={async (e) => {
            const name = e.target.value;
            setSwitching(true);
            try {
              await api.setActing(name);
              await reload();
            } catch (err) {
              notify.error("Could not switch identity", err);
            } finally {
              setSwitching(false);
            }
          }}
        >
          {!info.acting && <option value="">Choose an identity…</option>}
          {info.identities.map((i) => (
            <option key={i.keyid} value={i.name}>
              {i.name} ({i.email})
            </option>
          ))}
        </select>
      </label>
    );
  }
  return (
    <div className="header-account">
      {content}
      {creating && (
        <IdentityDialog
          reason="Your identity is recorded as the author of what you save and sign."
          onCreated={() => setCreating(false)}
          onCancel={() => setCreating(false)}
        />
      )}
    </div>
  );
}
