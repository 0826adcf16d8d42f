//! The decision log's export: a copy of `governance/decision_log.jsonl` written by the
//! back end to a path (`~/` is the home directory), never replacing a file unasked.

import { useState } from "react";
import { api } from "../../api";
import { ErrorBox } from "./ErrorBox";
import { type LinedError, toLinedError } from "./hints";

export const DEFAULT_LOG_PATH = "~/gavel-decision-log.jsonl";

export function ExportLog() {
  const [path, setPath] = useState(DEFAULT_LOG_PATH);
  const [busy, setBusy] = useState(false);
  const [exists, setExists] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);
  const [error, setError] = useState<LinedError | null>(null);

  const save = async (overwrite: boolean) => {
    setBusy(true);
    setError(null);
    setSaved(null);
    try {
      setSaved(await api.exportDecisionLog(path.trim(), overwrite));
      setExists(false);
    } catch (e) {
      const err = toLinedError(e);
      if (err.code === "exists") setExists(true);
      else setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="sc-section sc-export" aria-labelledby="sc-export-title">
      <h2 id="sc-export-title" className="panel-title">
        Decision log
      </h2>
      <p className="muted sc-note">
        Every logged evaluation appends one JSON line (timestamp, workflow, verdict, reason codes,
        forecast). Save a copy of the whole log:
      </p>
      <div className="file-field-row">
        <input
          className="file-field-path"
          aria-label="Decision log path"
          value={path}
          onChange={(e) => {
            setPath(e.target.value);
            setExists(false);
          }}
          onKeyDown={(e) => {
            if (e.key === "Enter" && path.trim() && !busy) void save(false);
          }}
        />
        <button
          type="button"
          aria-label="Export decision log"
          disabled={busy || !path.trim()}
          onClick={() => void save(false)}
        >
          {busy ? "Exporting…" : "Export"}
        </button>
      </div>
      {exists && (
        <p role="alert" className="file-field-exists">
          A file is already there.{" "}
          <button
            type="button"
            aria-label="Replace decision log"
            disabled={busy}
            onClick={() => void save(true)}
          >
            Replace it
          </button>
        </p>
      )}
      {saved && (
        <p className="muted truncate" role="status" title={saved}>
          Exported to {saved}
        </p>
      )}
      {error && <ErrorBox what="The decision log could not be exported" error={error} />}
    </section>
  );
}
