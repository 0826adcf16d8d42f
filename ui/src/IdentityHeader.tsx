//! The header's account area: who the app acts as (the store's only identity), or a
//! button to create one.

import { useState } from "react";
import { useAppInfo } from "./appInfo";
import { IdentityDialog } from "./IdentityDialog";

export function IdentityHeader() {
  const { info, error, loading } = useAppInfo();
  const [creating, setCreating] = useState(false);

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
        <button type="button" aria-label="Create identity" onClick={() => setCreating(true)}>
          Create identity
        </button>
      </>
    );
  } else {
    const [me, ...others] = info.identities;
    const title = info.identities
      .map((i) => `${i.name} <${i.email}> (${i.keyid}) ${i.roles.join(", ")}`)
      .join("\n");
    content = (
      <span className="identity" role="status" aria-label="Acting identity" title={title}>
        <span aria-hidden="true">●</span>
        <span className="truncate">
          <strong>{me?.name}</strong> <span className="muted">{me?.email}</span>
        </span>
        {others.length > 0 && <span className="badge">+{others.length}</span>}
      </span>
    );
  }
  return (
    <div className="identity">
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
