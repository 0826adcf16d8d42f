//! Verifying the audit log (DESIGN §9, §11.13): the chain alone, or against a signed
//! checkpoint; exporting it as JSON Lines; making a checkpoint to keep elsewhere.

import { useState } from "react";
import { api } from "../../api";
import type { AuditVerification } from "../../bindings/AuditVerification";
import type { SignedCheckpoint } from "../../bindings/SignedCheckpoint";
import { type OpenedText, OpenFile, SaveFile } from "../../components/FileFields";
import { useNotify } from "../../components/Toasts";
import { type ErrorLike, toErrorLike } from "../../errors";
import {
  auditHint,
  checkpointText,
  KIND_TEXT,
  NO_CHECKPOINT_NOTE,
  shortHash,
  timeText,
  verdict,
} from "./audit";
import { Problem } from "./Problem";

export function VerifyPanel({
  onShowEntry,
  onChanged,
}: {
  /** Selects an entry in the list (clearing the filters). */
  onShowEntry: (seq: number, lastSeq: number) => void;
  /** The log grew (a checkpoint is audited). */
  onChanged: () => void;
}) {
  const [checkpoint, setCheckpoint] = useState<OpenedText | null>(null);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<AuditVerification | null>(null);
  const [usedCheckpoint, setUsedCheckpoint] = useState<string | null>(null);
  const [error, setError] = useState<ErrorLike | null>(null);

  const verify = async () => {
    setBusy(true);
    setError(null);
    try {
      const v = await api.auditVerify(checkpoint?.text);
      setResult(v);
      setUsedCheckpoint(checkpoint?.name ?? null);
    } catch (e) {
      setResult(null);
      setError(toErrorLike(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <section className="audit-section" aria-label="Verify">
        <h2>Verify the chain</h2>
        <p className="muted audit-note">
          Each entry carries the hash of the one before it, so an edited, removed or reordered entry
          breaks the chain. Give a checkpoint to also detect the newest entries being cut off.
        </p>
        <div className="audit-field">
          <span className="audit-field-label">Checkpoint (optional)</span>
          <OpenFile
            label="Checkpoint"
            accept=".json,application/json"
            opened={checkpoint?.name ?? null}
            onOpen={(f) => {
              setCheckpoint(f);
              setResult(null);
            }}
          />
          {checkpoint && (
            <button
              type="button"
              className="audit-link"
              aria-label="Remove checkpoint"
              onClick={() => {
                setCheckpoint(null);
                setResult(null);
              }}
            >
              Verify without it
            </button>
          )}
        </div>
        <div className="audit-buttons">
          <button
            type="button"
            className="primary"
            aria-label="Verify audit log"
            disabled={busy}
            onClick={() => void verify()}
          >
            {busy ? "Verifying…" : "Verify audit log"}
          </button>
        </div>
        {error && <Problem what="Verification could not run" error={error} hint={auditHint} />}
        {result && (
          <Result
            v={result}
            checkpointName={usedCheckpoint}
            onShowEntry={(seq) => onShowEntry(seq, result.last_seq)}
          />
        )}
      </section>
      <section className="audit-section" aria-label="Export">
        <h2>Export</h2>
        <p className="muted audit-note">
          The whole log as JSON Lines, one entry a line, which a short script can re-verify without
          Gavel.
        </p>
        <SaveFile
          label="Audit log"
          defaultPath="~/gavel-audit.jsonl"
          text={async () => (await api.auditExport()).text}
        />
      </section>
      <CheckpointMaker onChanged={onChanged} />
    </>
  );
}

function Result({
  v,
  checkpointName,
  onShowEntry,
}: {
  v: AuditVerification;
  checkpointName: string | null;
  onShowEntry: (seq: number) => void;
}) {
  const head = verdict(v);
  const bad = v.first_bad;
  return (
    <section
      className={`audit-result audit-result-${v.valid ? "ok" : "bad"}`}
      aria-label="Verification result"
      aria-live="polite"
    >
      {bad ? (
        <>
          <p className="audit-verdict audit-bad">
            {head.headline}
            <output aria-label="First bad entry">{bad.seq}</output> ({bad.kind}): {bad.message}
          </p>
          <p className="audit-note">This means {KIND_TEXT[bad.kind]}.</p>
          <div className="audit-buttons">
            <button
              type="button"
              aria-label={`Show entry ${bad.seq}`}
              onClick={() => onShowEntry(bad.seq)}
            >
              Show entry {bad.seq}
            </button>
            <span className="muted audit-note">
              Checked {v.entries.toLocaleString("en-US")} entries; the chain holds up to #
              {Math.max(0, bad.seq - 1)}.
            </span>
          </div>
        </>
      ) : (
        <p className="audit-verdict audit-ok">
          {head.headline}
          {v.entries > 0 && (
            <span className="mono audit-hash" title={v.last_hash}>
              {" "}
              · hash {shortHash(v.last_hash)}
            </span>
          )}
        </p>
      )}
      {v.checkpoint ? (
        <p
          className={`audit-note ${v.checkpoint.valid ? "audit-ok" : "audit-bad"}`}
          title={checkpointName ?? undefined}
        >
          {checkpointText(v.checkpoint)}
          {!v.checkpoint.valid && v.checkpoint.message && (
            <span className="muted"> ({v.checkpoint.message})</span>
          )}
        </p>
      ) : (
        <p className="audit-note audit-warn">{NO_CHECKPOINT_NOTE}</p>
      )}
    </section>
  );
}

function CheckpointMaker({ onChanged }: { onChanged: () => void }) {
  const notify = useNotify();
  const [busy, setBusy] = useState(false);
  const [made, setMade] = useState<SignedCheckpoint | null>(null);
  const [error, setError] = useState<ErrorLike | null>(null);

  const make = async () => {
    setBusy(true);
    setError(null);
    try {
      setMade(await api.auditCheckpoint());
      onChanged();
    } catch (e) {
      setMade(null);
      setError(toErrorLike(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="audit-section" aria-label="Make a checkpoint">
      <h2>Checkpoint</h2>
      <p className="muted audit-note">
        A checkpoint states the newest entry and its hash, signed by this console's operator key.
        Keep the file somewhere the log's owner cannot change (a ticket, another machine): verifying
        against it detects entries removed from the end.
      </p>
      <div className="audit-buttons">
        <button
          type="button"
          aria-label="Make checkpoint"
          disabled={busy}
          onClick={() => void make()}
        >
          {busy ? "Signing…" : "Make checkpoint"}
        </button>
      </div>
      {error && <Problem what="The checkpoint could not be made" error={error} hint={auditHint} />}
      {made && (
        <>
          <p className="audit-note audit-ok">
            Checkpoint of entry #{made.seq} (hash{" "}
            <span className="mono" title={made.hash}>
              {shortHash(made.hash)}
            </span>
            ) at {timeText(made.at)}, signed by operator key{" "}
            <span className="mono">{made.keyid}</span>
            {made.operator_key_created && " (created now, in the OS keychain)"}. Save it:
          </p>
          <SaveFile
            key={`${made.seq}-${made.hash}`}
            label="Checkpoint file"
            defaultPath="~/gavel-checkpoint.json"
            text={() => JSON.stringify(made.envelope, null, 2)}
            onSaved={(p) => notify.info(`Checkpoint saved to ${p}`)}
          />
        </>
      )}
    </section>
  );
}
