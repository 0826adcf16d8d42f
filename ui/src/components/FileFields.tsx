//! Opening a file's text and saving text to a file, the same way on every screen:
//! "Choose file…" (the system's picker, which gives the text but not the path) or a
//! path typed or pasted (read and written by the back end, `~/` being the home
//! directory). Saving never replaces a file without asking.

import { useRef, useState } from "react";
import { api } from "../api";
import { type ErrorLike, toErrorLike } from "../errors";

export interface OpenedText {
  name: string;
  text: string;
}

/**
 * A file to read. `label` names it for people and in aria-labels: the path input is
 * `<label> path`, its button `Open <label>`, the picker button `Choose <label>`.
 */
export function OpenFile({
  label,
  accept,
  onOpen,
  opened,
}: {
  label: string;
  accept?: string;
  onOpen: (file: OpenedText) => void;
  /** The name of what is open now, shown beside the controls. */
  opened?: string | null;
}) {
  const [path, setPath] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorLike | null>(null);
  const input = useRef<HTMLInputElement>(null);

  const openPath = async () => {
    setBusy(true);
    setError(null);
    try {
      const file = await api.readTextFile(path);
      onOpen({ name: file.name, text: file.text });
    } catch (e) {
      setError(toErrorLike(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="file-field">
      <div className="file-field-row">
        <button
          type="button"
          aria-label={`Choose ${label}`}
          onClick={() => input.current?.click()}
          disabled={busy}
        >
          Choose file…
        </button>
        <input
          ref={input}
          type="file"
          hidden
          accept={accept}
          onChange={async (e) => {
            const chosen = e.target.files?.[0];
            e.target.value = "";
            if (!chosen) return;
            setError(null);
            try {
              onOpen({ name: chosen.name, text: await chosen.text() });
            } catch (err) {
              setError(toErrorLike(err));
            }
          }}
        />
        <span className="muted">or</span>
        <input
          className="file-field-path"
          aria-label={`${label} path`}
          placeholder="~/path/to/file"
          value={path}
          onChange={(e) => setPath(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && path.trim()) void openPath();
          }}
        />
        <button
          type="button"
          aria-label={`Open ${label}`}
          disabled={busy || !path.trim()}
          onClick={() => void openPath()}
        >
          Open
        </button>
      </div>
      {opened && (
        <p className="muted file-field-opened" title={opened}>
          Open: {opened}
        </p>
      )}
      {error && (
        <p role="alert" className="error-text">
          {error.message}
        </p>
      )}
    </div>
  );
}

/**
 * Saves text to a path. `text` is asked for when the user saves (it may call the
 * back end). The path input is `<label> path`, the button `Save <label>`, and when
 * the file exists, `Replace <label>`.
 */
export function SaveFile({
  label,
  defaultPath,
  text,
  onSaved,
  disabled,
}: {
  label: string;
  defaultPath: string;
  text: () => Promise<string> | string;
  onSaved?: (path: string) => void;
  disabled?: boolean;
}) {
  const [path, setPath] = useState(defaultPath);
  const [busy, setBusy] = useState(false);
  const [exists, setExists] = useState(false);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [saved, setSaved] = useState<string | null>(null);

  const save = async (overwrite: boolean) => {
    setBusy(true);
    setError(null);
    setSaved(null);
    try {
      const written = await api.writeTextFile(path, await text(), overwrite);
      setExists(false);
      setSaved(written);
      onSaved?.(written);
    } catch (e) {
      const err = toErrorLike(e);
      if (err.code === "exists") setExists(true);
      else setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="file-field">
      <div className="file-field-row">
        <input
          className="file-field-path"
          aria-label={`${label} path`}
          value={path}
          onChange={(e) => {
            setPath(e.target.value);
            setExists(false);
          }}
        />
        <button
          type="button"
          aria-label={`Save ${label}`}
          disabled={busy || disabled || !path.trim()}
          onClick={() => void save(false)}
        >
          {busy ? "Saving…" : "Save"}
        </button>
      </div>
      {exists && (
        <p role="alert" className="file-field-exists">
          A file is already there.{" "}
          <button
            type="button"
            aria-label={`Replace ${label}`}
            disabled={busy || disabled}
            onClick={() => void save(true)}
          >
            Replace it
          </button>
        </p>
      )}
      {saved && (
        <p className="muted" role="status" title={saved}>
          Saved to {saved}
        </p>
      )}
      {error && (
        <p role="alert" className="error-text">
          {error.message}
        </p>
      )}
    </div>
  );
}
