//! The Keys screen's forms: generate an identity, trust a key from its file, export the
//! trust store, restore a key backup.

import { useState } from "react";
import { api } from "../../api";
import type { KeyRestore } from "../../bindings/KeyRestore";
import type { KeysView } from "../../bindings/KeysView";
import type { TrustedKey } from "../../bindings/TrustedKey";
import { type OpenedText, OpenFile, SaveFile } from "../../components/FileFields";
import { useNotify } from "../../components/Toasts";
import { type ErrorLike, toErrorLike } from "../../errors";
import { Problem } from "../audit/Problem";
import {
  checkIdentity,
  GRANT_REASON,
  keysHint,
  newIdentityRoles,
  type PersonRole,
  rolesText,
} from "./keys";
import { RoleBoxes } from "./RoleBoxes";

export function GenerateIdentity({
  view,
  onCreated,
}: {
  view: KeysView;
  onCreated: (keyid: string) => void;
}) {
  const notify = useNotify();
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [roles, setRoles] = useState<PersonRole[]>([]);
  const [tried, setTried] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [created, setCreated] = useState<string | null>(null);
  const choice = newIdentityRoles(view);
  const problems = checkIdentity(name, email);
  const shown = choice.fixed ?? roles;

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setTried(true);
    if (problems.name || problems.email) return;
    setBusy(true);
    setError(null);
    setCreated(null);
    try {
      const id = await api.createIdentity(
        name.trim(),
        email.trim(),
        choice.editable && roles.length > 0 ? roles : undefined,
      );
      setCreated(`${id.name} (${id.keyid}) was created with ${rolesText(id.roles)}.`);
      notify.info(`Identity ${id.name} created`);
      setName("");
      setEmail("");
      setRoles([]);
      setTried(false);
      onCreated(id.keyid);
    } catch (err) {
      setError(toErrorLike(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="keys-section" aria-label="New identity" onSubmit={submit} noValidate>
      <h2>Generate an identity</h2>
      <p className="muted keys-note">
        A key pair for a person of this console; the private key stays in the OS keychain.
      </p>
      <div className="keys-fields">
        <input
          type="text"
          aria-label="Identity name"
          placeholder="Name (ada)"
          value={name}
          aria-invalid={tried && problems.name !== undefined}
          onChange={(e) => setName(e.target.value)}
        />
        <input
          type="email"
          aria-label="Identity email"
          placeholder="Email (ada@example.com)"
          value={email}
          aria-invalid={tried && problems.email !== undefined}
          onChange={(e) => setEmail(e.target.value)}
        />
      </div>
      {tried && (problems.name || problems.email) && (
        <p className="keys-note audit-bad" role="alert">
          {[problems.name, problems.email].filter(Boolean).join(" ")}
        </p>
      )}
      <RoleBoxes
        roles={shown}
        onChange={setRoles}
        disabled={!choice.editable || busy}
        reason={choice.editable ? undefined : (choice.note ?? GRANT_REASON)}
      />
      {choice.note && <p className="muted keys-note">{choice.note}</p>}
      <div className="keys-actions">
        <button type="submit" className="primary" aria-label="Generate identity" disabled={busy}>
          {busy ? "Generating…" : "Generate identity"}
        </button>
      </div>
      {error && <Problem what="The identity could not be created" error={error} hint={keysHint} />}
      {created && (
        <output className="keys-result">
          {created} The identity that acts in this window is chosen in the header.
        </output>
      )}
    </form>
  );
}

export function TrustKey({ view, onTrusted }: { view: KeysView; onTrusted: () => void }) {
  const notify = useNotify();
  const [file, setFile] = useState<OpenedText | null>(null);
  const [roles, setRoles] = useState<PersonRole[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [done, setDone] = useState<TrustedKey[] | null>(null);

  const trust = async () => {
    if (!file) return;
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const keys = await api.trustKeys(file.text, roles.length > 0 ? roles : undefined);
      setDone(keys);
      setFile(null);
      setRoles([]);
      notify.info(`${keys.length} ${keys.length === 1 ? "key" : "keys"} trusted`);
      onTrusted();
    } catch (e) {
      setError(toErrorLike(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="keys-section" aria-label="Trust a key">
      <h2>Trust a key</h2>
      <p className="muted keys-note">
        A public key file (Export public key on the other console) or a trust store export. Roles
        come only from here: the roles a file names are ignored. Without roles, a new key gets none
        and a known key keeps its own.
      </p>
      <OpenFile
        label="Public key file"
        accept=".json,application/json"
        opened={file?.name ?? null}
        onOpen={(f) => {
          setFile(f);
          setDone(null);
          setError(null);
        }}
      />
      <RoleBoxes
        prefix="Trust role"
        roles={roles}
        onChange={setRoles}
        disabled={!view.can_grant || busy}
        reason={GRANT_REASON}
      />
      <div className="keys-actions">
        <button
          type="button"
          className="primary"
          aria-label="Trust key"
          disabled={busy || !file || !view.can_grant}
          title={view.can_grant ? undefined : "Only a security identity trusts keys"}
          onClick={() => void trust()}
        >
          {busy ? "Trusting…" : "Trust key"}
        </button>
        {!view.can_grant && (
          <span className="muted keys-note">Only a security identity trusts keys.</span>
        )}
      </div>
      {error && <Problem what="The key could not be trusted" error={error} hint={keysHint} />}
      {done && (
        <output className="keys-result" aria-label="Trusted keys result">
          <ul>
            {done.map((k) => (
              <li key={k.keyid}>
                <strong>{k.name}</strong> <span className="mono">{k.keyid}</span>:{" "}
                {rolesText(k.roles)}
                {k.ignored_roles.length > 0 && (
                  <span className="audit-warn">
                    {" "}
                    — ignored the roles the file named: {k.ignored_roles.join(", ")} (grant them
                    with Edit roles)
                  </span>
                )}
              </li>
            ))}
          </ul>
        </output>
      )}
    </section>
  );
}

export function ExportTrust() {
  const notify = useNotify();
  return (
    <section className="keys-section" aria-label="Export the trust store">
      <h2>Export the trust store</h2>
      <p className="muted keys-note">
        Every trusted key with its roles (retired ones marked), for another console or a CI
        pipeline.
      </p>
      <SaveFile
        label="Trust store"
        defaultPath="~/gavel-trust.json"
        text={async () => `${JSON.stringify(await api.exportTrust(), null, 2)}\n`}
        onSaved={(p) => notify.info(`Trust store saved to ${p}`)}
      />
    </section>
  );
}

export function RestoreKey({ onRestored }: { onRestored: (keyid: string) => void }) {
  const [file, setFile] = useState<OpenedText | null>(null);
  const [passphrase, setPassphrase] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [done, setDone] = useState<KeyRestore | null>(null);

  const restore = async () => {
    if (!file) return;
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const r = await api.restoreKey(file.text, passphrase);
      setDone(r);
      setPassphrase("");
      onRestored(r.public_key.keyid);
    } catch (e) {
      setError(toErrorLike(e));
    } finally {
      setBusy(false);
    }
  };

  const k = done?.public_key;
  return (
    <section className="keys-section" aria-label="Restore a backup">
      <h2>Restore a key backup</h2>
      <p className="muted keys-note">
        A file saved by Back up key: the private key goes back to this machine's OS keychain.
      </p>
      <OpenFile
        label="Backup file"
        accept=".age,text/plain"
        opened={file?.name ?? null}
        onOpen={(f) => {
          setFile(f);
          setDone(null);
          setError(null);
        }}
      />
      <div className="keys-fields">
        <input
          type="password"
          aria-label="Backup passphrase"
          placeholder="Passphrase of the backup"
          autoComplete="off"
          value={passphrase}
          onChange={(e) => setPassphrase(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && file && passphrase) void restore();
          }}
        />
        <button
          type="button"
          className="primary"
          aria-label="Restore key"
          disabled={busy || !file || passphrase === ""}
          onClick={() => void restore()}
        >
          {busy ? "Restoring…" : "Restore key"}
        </button>
      </div>
      {error && <Problem what="The key could not be restored" error={error} hint={keysHint} />}
      {done && k && (
        <output className="keys-result" aria-label="Restore result">
          {done.identity_added
            ? `${k.name} (${k.keyid}) is now an identity of this store`
            : `${k.name} (${k.keyid}) was already here: its private key is back in the keychain`}{" "}
          with {rolesText(k.roles)}.
          {done.bootstrap && " The store was empty: it got the roles the backup states."}
          {done.ignored_roles.length > 0 &&
            ` Not granted here: ${done.ignored_roles.join(", ")} (only a security identity grants roles).`}
        </output>
      )}
    </section>
  );
}
