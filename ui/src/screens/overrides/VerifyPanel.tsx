//! Verifies an override file against the trust store and the single-use ledger, for
//! anyone (no role needed): valid (what it forces, for which workflow, who signed it,
//! until when) or not, with the reason code as text.

import { useRef, useState } from "react";
import { api } from "../../api";
import type { OverrideVerification } from "../../bindings/OverrideVerification";
import { type OpenedText, OpenFile } from "../../components/FileFields";
import { type ErrorLike, errorHint, toErrorLike } from "../../errors";
import {
  formatText,
  overrideHint,
  reasonHint,
  refusalTitle,
  timeText,
  verificationText,
} from "./overrides";

export function VerifyPanel() {
  const [file, setFile] = useState<OpenedText | null>(null);
  const [secret, setSecret] = useState("");
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<OverrideVerification | null>(null);
  const [error, setError] = useState<ErrorLike | null>(null);
  // Only the latest request's answer is shown: a file opened (or a secret
  // changed) while one runs makes its answer stale.
  const latest = useRef(0);
  const forget = () => {
    latest.current += 1;
    setResult(null);
    setError(null);
    setBusy(false);
  };

  const verify = async () => {
    if (!file) return;
    const mine = ++latest.current;
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const v = await api.verifyOverride(file.text, secret.trim() || undefined);
      if (mine === latest.current) setResult(v);
    } catch (e) {
      if (mine === latest.current) setError(toErrorLike(e));
    } finally {
      if (mine === latest.current) setBusy(false);
    }
  };

  const hint = error ? (overrideHint(error.code) ?? errorHint(error.code)) : undefined;
  return (
    <section className="ovr-section" aria-label="Verify an override">
      <h2>Verify an override</h2>
      <p className="muted ovr-note">
        Anyone can check an override file: its signature against the trusted keys (the signer needs
        the security role), its expiry, and whether it was already used here.
      </p>
      <OpenFile
        label="Override to verify"
        accept=".json,application/json"
        opened={file?.name}
        onOpen={(f) => {
          setFile(f);
          forget();
        }}
      />
      <div className="ovr-row">
        <label className="ovr-field ovr-grow">
          <span>Legacy secret name (only for legacy {"{data, signature}"} files)</span>
          <input
            type="text"
            aria-label="Legacy secret name"
            placeholder="keychain secret name, e.g. team-overrides"
            value={secret}
            onChange={(e) => {
              setSecret(e.target.value);
              forget();
            }}
          />
        </label>
        <button
          type="button"
          className="primary"
          aria-label="Verify override"
          disabled={!file || busy}
          title={file ? "Verify the opened file" : "Open an override file first"}
          onClick={() => void verify()}
        >
          {busy ? "Verifying…" : "Verify override"}
        </button>
      </div>
      {error && (
        <div className="ovr-refusal" role="alert" aria-label="Override verification">
          <strong>
            {refusalTitle(error.code)} <code>{error.code}</code>
          </strong>
          <p>{error.message}</p>
          {hint && hint !== error.message && <p className="muted">{hint}</p>}
        </div>
      )}
      {result && <Verification v={result} />}
    </section>
  );
}

function Verification({ v }: { v: OverrideVerification }) {
  const reason = v.reason ?? "invalid";
  const hint = v.valid ? undefined : reasonHint(v.reason, v.legacy);
  return (
    <Box valid={v.valid}>
      <strong>
        {v.valid ? (
          verificationText(v)
        ) : (
          <>
            Not valid: <code>{reason}</code>
          </>
        )}
      </strong>
      {!v.valid && <p>{v.message}</p>}
      {hint && <p className="muted">{hint}</p>}
      <dl className="ovr-facts">
        <dt>Format</dt>
        <dd>
          {formatText(v.format)}
          {v.legacy && (
            <span className="badge badge-warn" title="its signature does not cover its expiry">
              legacy
            </span>
          )}
        </dd>
        {v.override_id && (
          <>
            <dt>Id</dt>
            <dd className="mono truncate" title={v.override_id}>
              {v.override_id}
            </dd>
          </>
        )}
        <dt>Workflow</dt>
        <dd className="truncate" title={v.workflow_id ?? ""}>
          {v.scope === "any_workflow" ? "any workflow" : (v.workflow_id ?? "—")}
        </dd>
        <dt>Signed by</dt>
        <dd className="truncate" title={v.signers.map((s) => `${s.name} (${s.keyid})`).join(", ")}>
          {v.signers.length === 0
            ? "—"
            : v.signers.map((s) => `${s.name} (${s.roles.join(", ") || "no role"})`).join(", ")}
        </dd>
        <dt>Issued</dt>
        <dd>{timeText(v.issued_at)}</dd>
        <dt>Expires</dt>
        <dd>
          {timeText(v.expires_at)}
          {!v.expiry_covered && v.expires_at && (
            <span className="muted"> (not covered by the signature)</span>
          )}
        </dd>
        <dt>Single use</dt>
        <dd>{v.ledger_checked ? "checked against this store's ledger" : "not checked"}</dd>
      </dl>
      {v.valid && v.message && <p className="muted">{v.message}</p>}
    </Box>
  );
}

/** The result's frame: a status when valid, an alert when not. */
function Box({ valid, children }: { valid: boolean; children: React.ReactNode }) {
  return valid ? (
    <output className="ovr-verification valid" aria-label="Override verification">
      {children}
    </output>
  ) : (
    <div className="ovr-verification invalid" role="alert" aria-label="Override verification">
      {children}
    </div>
  );
}
