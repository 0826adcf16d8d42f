//! One key: who it is, its roles, and what can be done with it — edit its roles (a
//! security identity's act), rotate it (identities), export its public half, untrust it
//! (other keys), back up its private half (identities).

import { useState } from "react";
import { api } from "../../api";
import type { KeyInfo } from "../../bindings/KeyInfo";
import type { KeysView } from "../../bindings/KeysView";
import { SaveFile } from "../../components/FileFields";
import { useNotify } from "../../components/Toasts";
import { type ErrorLike, toErrorLike } from "../../errors";
import { Problem } from "../audit/Problem";
import { ConfirmDialog } from "./ConfirmDialog";
import { RoleBadges } from "./KeyRow";
import {
  backupPath,
  checkPassphrase,
  dateText,
  GRANT_REASON,
  isOperatorKey,
  keysHint,
  MIN_PASSPHRASE,
  type PersonRole,
  personRoles,
  publicKeyPath,
  sameRoles,
} from "./keys";
import { RoleBoxes } from "./RoleBoxes";

type Panel = "roles" | "export" | "backup" | null;

export function KeyDetail({
  k,
  view,
  onChanged,
  onSelect,
}: {
  k: KeyInfo;
  view: KeysView;
  /** The keys changed: reload them (and the header's identities). */
  onChanged: () => void;
  /** Selects another key (after a rotation, the new one; null after untrusting). */
  onSelect: (keyid: string | null) => void;
}) {
  const notify = useNotify();
  const [panel, setPanel] = useState<Panel>(null);
  const [confirm, setConfirm] = useState<"rotate" | "untrust" | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ what: string; error: ErrorLike } | null>(null);

  const operator = isOperatorKey(k);
  const current = !k.retired;
  const rolesBlocked = !view.can_grant
    ? GRANT_REASON
    : operator
      ? "The console's service key keeps its operator role"
      : k.retired
        ? "A retired key signs nothing new"
        : null;
  const untrustBlocked = !view.can_grant ? "Only a security identity untrusts keys" : null;

  const toggle = (p: Panel) => {
    setError(null);
    setPanel(panel === p ? null : p);
  };

  const run = async (what: string, change: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await change();
    } catch (e) {
      setError({ what, error: toErrorLike(e) });
    } finally {
      setBusy(false);
      setConfirm(null);
    }
  };

  const rotate = () =>
    run("The key could not be rotated", async () => {
      const r = await api.rotateKey(k.name);
      notify.info(`${k.name} has a new key ${r.key.keyid}; ${r.retired_keyid} is retired`);
      onChanged();
      onSelect(r.key.keyid);
    });

  const untrust = () =>
    run("The key could not be untrusted", async () => {
      await api.untrustKey(k.keyid);
      notify.info(`${k.name} (${k.keyid}) is no longer trusted`);
      onChanged();
      onSelect(null);
    });

  return (
    <section className="keys-section keys-detail" aria-label={`Key details ${k.name}`}>
      <div className="keys-detail-head">
        <h2 className="truncate" title={k.name}>
          {k.name}
        </h2>
        {k.identity && <span className="badge badge-info">identity</span>}
        {k.retired && <span className="badge badge-muted">retired</span>}
        {view.acting === k.name && current && k.identity && (
          <span className="badge badge-ok">acting</span>
        )}
      </div>
      <dl className="keys-dl">
        <dt>Email</dt>
        <dd className="truncate" title={k.email}>
          {k.email || "—"}
        </dd>
        <dt>Key id</dt>
        <dd className="mono">{k.keyid}</dd>
        <dt>Roles</dt>
        <dd>
          <RoleBadges roles={k.roles} />
        </dd>
        <dt>Added</dt>
        <dd title={k.added_at}>{dateText(k.added_at)}</dd>
      </dl>
      {k.retired && (
        <p className="muted keys-note">
          Retired by a rotation: it still verifies what it signed before, and nothing issued after.
        </p>
      )}
      <div className="keys-actions">
        <button
          type="button"
          aria-label="Edit roles"
          aria-expanded={panel === "roles"}
          disabled={rolesBlocked !== null}
          title={rolesBlocked ?? "Change the roles this key holds"}
          onClick={() => toggle("roles")}
        >
          Edit roles
        </button>
        {k.identity && current && (
          <button
            type="button"
            aria-label="Rotate key"
            title="Make a new key pair; this one is retired"
            onClick={() => setConfirm("rotate")}
          >
            Rotate key
          </button>
        )}
        <button
          type="button"
          aria-label="Export public key"
          aria-expanded={panel === "export"}
          onClick={() => toggle("export")}
        >
          Export public key
        </button>
        {k.identity && current && (
          <button
            type="button"
            aria-label="Back up key"
            aria-expanded={panel === "backup"}
            title="Save the private key encrypted with a passphrase"
            onClick={() => toggle("backup")}
          >
            Back up key
          </button>
        )}
        {!k.identity && (
          <button
            type="button"
            className="danger"
            aria-label="Untrust key"
            disabled={untrustBlocked !== null}
            title={untrustBlocked ?? "Stop trusting what this key signs"}
            onClick={() => setConfirm("untrust")}
          >
            Untrust key
          </button>
        )}
      </div>
      {(rolesBlocked === GRANT_REASON || untrustBlocked) && (
        <p className="muted keys-note">
          {GRANT_REASON}, trusts and untrusts keys
          {view.acting ? ` (${view.acting} is not one)` : " (no identity acts)"}: choose a security
          identity in the header.
        </p>
      )}
      {error && <Problem what={error.what} error={error.error} hint={keysHint} />}
      {panel === "roles" && rolesBlocked === null && (
        <EditRoles k={k} view={view} onSaved={onChanged} onDone={() => setPanel(null)} />
      )}
      {panel === "export" && (
        <div className="keys-panel">
          <p className="keys-note">
            The public half only, to send to another console or to a CI pipeline that verifies with{" "}
            <span className="mono">--key</span>.
          </p>
          <SaveFile
            key={k.keyid}
            label="Public key"
            defaultPath={publicKeyPath(k.name)}
            text={async () => `${JSON.stringify(await api.exportKey(k.keyid), null, 2)}\n`}
            onSaved={(p) => notify.info(`Public key saved to ${p}`)}
          />
        </div>
      )}
      {panel === "backup" && <Backup k={k} />}
      {confirm === "rotate" && (
        <ConfirmDialog
          title={`Rotate ${k.name}'s key?`}
          confirmLabel="Confirm rotate"
          confirmText="Rotate"
          busy={busy}
          onConfirm={() => void rotate()}
          onCancel={() => setConfirm(null)}
        >
          <p>
            A new key pair replaces {k.keyid} in the OS keychain, with the same roles. The old key
            is retired: it still verifies what it signed, and signs nothing more. Give the new
            public key to other consoles and CI pipelines, and back the new key up.
          </p>
        </ConfirmDialog>
      )}
      {confirm === "untrust" && (
        <ConfirmDialog
          title={`Untrust ${k.name}?`}
          confirmLabel="Confirm untrust"
          confirmText="Untrust"
          busy={busy}
          onConfirm={() => void untrust()}
          onCancel={() => setConfirm(null)}
        >
          <p>
            Key {k.keyid} ({k.email || "no email"}) leaves the trust store: what it signed no longer
            verifies here, approvals included. Trusting it again needs its public key file.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function EditRoles({
  k,
  view,
  onSaved,
  onDone,
}: {
  k: KeyInfo;
  view: KeysView;
  onSaved: () => void;
  onDone: () => void;
}) {
  const notify = useNotify();
  const [roles, setRoles] = useState<PersonRole[]>(() => personRoles(k.roles));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorLike | null>(null);
  const unchanged = sameRoles(roles, personRoles(k.roles));
  const selfDemotion =
    k.identity &&
    view.acting === k.name &&
    k.roles.includes("security") &&
    !roles.includes("security");

  const save = async () => {
    setBusy(true);
    setError(null);
    try {
      const saved = await api.setRoles(k.keyid, roles);
      notify.info(`${saved.name}: ${saved.roles.length ? saved.roles.join(", ") : "no role"}`);
      onSaved();
      onDone();
    } catch (e) {
      setError(toErrorLike(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <fieldset className="keys-panel">
      <legend>Roles of {k.name}</legend>
      <RoleBoxes roles={roles} onChange={setRoles} disabled={busy} />
      {selfDemotion && (
        <p className="keys-note audit-warn">
          Without the security role, {k.name} can no longer grant roles or trust keys.
        </p>
      )}
      <div className="keys-actions">
        <button
          type="button"
          className="primary"
          aria-label="Save roles"
          disabled={busy || unchanged}
          onClick={() => void save()}
        >
          {busy ? "Saving…" : "Save roles"}
        </button>
        <button type="button" aria-label="Cancel editing roles" onClick={onDone}>
          Cancel
        </button>
      </div>
      {error && <Problem what="The roles could not be saved" error={error} hint={keysHint} />}
    </fieldset>
  );
}

function Backup({ k }: { k: KeyInfo }) {
  const notify = useNotify();
  const [passphrase, setPassphrase] = useState("");
  const [repeat, setRepeat] = useState("");
  const problem = checkPassphrase(passphrase, repeat);
  const started = passphrase !== "" || repeat !== "";

  return (
    <div className="keys-panel">
      <p className="keys-note">
        The private key leaves the keychain encrypted with this passphrase (the{" "}
        <span className="mono">age</span> format). Keep the file and the passphrase apart: whoever
        has both can sign as {k.name}. Restore it with Restore key on another console.
      </p>
      <div className="keys-fields">
        <input
          type="password"
          aria-label="Passphrase"
          placeholder={`Passphrase (${MIN_PASSPHRASE}+ characters)`}
          autoComplete="new-password"
          value={passphrase}
          onChange={(e) => setPassphrase(e.target.value)}
        />
        <input
          type="password"
          aria-label="Repeat passphrase"
          placeholder="Repeat passphrase"
          autoComplete="new-password"
          value={repeat}
          onChange={(e) => setRepeat(e.target.value)}
        />
      </div>
      {started && problem && <p className="keys-note muted">{problem}</p>}
      <SaveFile
        key={k.keyid}
        label="Key backup"
        defaultPath={backupPath(k.name)}
        disabled={problem !== null}
        text={async () => (await api.backupKey(k.name, passphrase)).armored}
        onSaved={(p) => {
          setPassphrase("");
          setRepeat("");
          notify.info(`Backup of ${k.name} saved to ${p}`);
        }}
      />
    </div>
  );
}
