//! The small dialog that creates the identity to act as (name and email); the key pair
//! is made by the back end and its private half stays in the OS keychain.

import { useEffect, useRef, useState } from "react";
import { api } from "./api";
import { useAppInfo } from "./appInfo";
import { trapTab, useRestoreFocus } from "./components/focus";
import { toErrorLike } from "./errors";

export function IdentityDialog({
  reason,
  onCreated,
  onCancel,
}: {
  /** Why it is asked for ("Saving needs an identity…"). */
  reason: string;
  onCreated: () => void;
  onCancel: () => void;
}) {
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const { reload } = useAppInfo();
  const first = useRef<HTMLInputElement>(null);
  useRestoreFocus();

  useEffect(() => first.current?.focus(), []);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.createIdentity(name.trim(), email.trim());
      await reload();
      onCreated();
    } catch (err) {
      setError(toErrorLike(err).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="backdrop">
      <form
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-label="Your identity"
        onSubmit={submit}
        onKeyDown={(e) => {
          if (e.key === "Escape") onCancel();
          trapTab(e);
        }}
      >
        <h2>Create your identity</h2>
        <p>{reason}</p>
        <label className="field">
          <span>Name</span>
          <input
            ref={first}
            type="text"
            aria-label="Name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            autoComplete="name"
          />
        </label>
        <label className="field">
          <span>Email</span>
          <input
            type="email"
            aria-label="Email"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            autoComplete="email"
          />
        </label>
        {error && (
          <div className="form-error" role="alert">
            {error}
          </div>
        )}
        <div className="detail-actions" style={{ justifyContent: "flex-end" }}>
          <button type="button" onClick={onCancel} disabled={busy}>
            Cancel
          </button>
          <button type="submit" className="primary" aria-label="Create identity" disabled={busy}>
            {busy ? "Creating…" : "Create identity"}
          </button>
        </div>
      </form>
    </div>
  );
}
