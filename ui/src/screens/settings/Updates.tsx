//! The updater's settings (DESIGN §11.14): the manifest's endpoint, the minisign public key
//! update artifacts must be signed with, whether to check at start, and a check now.

import { useCallback, useEffect, useRef, useState } from "react";
import { api } from "../../api";
import type { UpdateCheck } from "../../bindings/UpdateCheck";
import type { UpdateDownload } from "../../bindings/UpdateDownload";
import type { UpdaterSettings } from "../../bindings/UpdaterSettings";
import { Loading } from "../../components/States";
import { type ErrorLike, errorHint, toErrorLike } from "../../errors";
import { settingsHint, updateText } from "./settings";

const EMPTY: UpdaterSettings = { endpoint: "", pubkey: "", check_at_start: false };

function ErrorBox({ error, what }: { error: ErrorLike; what: string }) {
  const hint = settingsHint(error.code) ?? errorHint(error.code);
  return (
    <div className="ovr-refusal" role="alert" aria-label={what}>
      <strong>
        {what} <code>{error.code}</code>
      </strong>
      <p>{error.message}</p>
      {hint && hint !== error.message && <p className="muted">{hint}</p>}
    </div>
  );
}

export function Updates() {
  const [settings, setSettings] = useState<UpdaterSettings>(EMPTY);
  const [loaded, setLoaded] = useState(false);
  const [loadError, setLoadError] = useState<ErrorLike | null>(null);
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<ErrorLike | null>(null);
  const [saved, setSaved] = useState(false);
  const [checking, setChecking] = useState(false);
  const [check, setCheck] = useState<UpdateCheck | null>(null);
  const [checkError, setCheckError] = useState<ErrorLike | null>(null);
  const seq = useRef(0);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    setLoadError(null);
    try {
      const s = await api.updaterSettings();
      if (mine !== seq.current) return;
      setSettings(s);
    } catch (e) {
      if (mine === seq.current) setLoadError(toErrorLike(e));
    } finally {
      if (mine === seq.current) setLoaded(true);
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const set = (patch: Partial<UpdaterSettings>) => {
    setSettings((s) => ({ ...s, ...patch }));
    setSaved(false);
  };

  const save = async () => {
    setSaving(true);
    setSaveError(null);
    setSaved(false);
    try {
      await api.setUpdaterSettings({
        endpoint: settings.endpoint.trim(),
        pubkey: settings.pubkey.trim(),
        check_at_start: settings.check_at_start,
      });
      setSaved(true);
      // A download verified under the old settings is dropped by the back end too.
      setDownloaded(null);
      setInstalled(null);
    } catch (e) {
      setSaveError(toErrorLike(e));
    } finally {
      setSaving(false);
    }
  };

  const checkNow = async () => {
    setChecking(true);
    setCheck(null);
    setCheckError(null);
    try {
      setCheck(await api.checkForUpdate());
    } catch (e) {
      setCheckError(toErrorLike(e));
    } finally {
      setChecking(false);
    }
  };

  const [fetching, setFetching] = useState(false);
  const [downloaded, setDownloaded] = useState<UpdateDownload | null>(null);
  const [installed, setInstalled] = useState<string | null>(null);
  const [downloadError, setDownloadError] = useState<ErrorLike | null>(null);

  const download = async () => {
    setFetching(true);
    setDownloaded(null);
    setInstalled(null);
    setDownloadError(null);
    try {
      setDownloaded(await api.downloadUpdate());
    } catch (e) {
      setDownloadError(toErrorLike(e));
    } finally {
      setFetching(false);
    }
  };

  const install = async () => {
    setFetching(true);
    setDownloadError(null);
    try {
      setInstalled(await api.installUpdate());
      setDownloaded(null);
    } catch (e) {
      setDownloadError(toErrorLike(e));
    } finally {
      setFetching(false);
    }
  };

  const off = settings.endpoint.trim() === "" || settings.pubkey.trim() === "";
  return (
    <section className="ovr-section" aria-label="Updates">
      <h2>Updates</h2>
      <p className="muted ovr-note">
        Gavel asks the endpoint's manifest whether a newer version is offered. Each update artifact
        carries a signature that is checked against the public key below when it is downloaded: an
        artifact signed by another key, or changed, is refused. The manifest itself is not signed;
        the signature also names the version it was made for, and an artifact signed for another
        version than the manifest announces (an older build offered as newer) is refused too.
      </p>
      {!loaded && <Loading label="Loading update settings…" />}
      {loadError && <ErrorBox error={loadError} what="The update settings could not be loaded" />}
      <form
        className="ovr-form"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <label className="ovr-field">
          <span>Update endpoint</span>
          <input
            type="url"
            aria-label="Update endpoint"
            placeholder="https://updates.example.com/gavel/latest.json"
            value={settings.endpoint}
            disabled={saving}
            onChange={(e) => set({ endpoint: e.target.value })}
          />
        </label>
        <label className="ovr-field">
          <span>Update public key (minisign, as `tauri signer generate` prints it)</span>
          <textarea
            aria-label="Update public key"
            className="mono"
            rows={3}
            spellCheck={false}
            placeholder="dW50cnVzdGVkIGNvbW1lbnQ6IG1pbmlzaWduIHB1YmxpYyBrZXk6IC4uLg=="
            value={settings.pubkey}
            disabled={saving}
            onChange={(e) => set({ pubkey: e.target.value })}
          />
        </label>
        <label className="ovr-check">
          <input
            type="checkbox"
            aria-label="Check at start"
            checked={settings.check_at_start}
            disabled={saving}
            onChange={(e) => set({ check_at_start: e.target.checked })}
          />
          <span>Check at start</span>
        </label>
        <div className="detail-actions">
          <button
            type="submit"
            className="primary"
            aria-label="Save update settings"
            disabled={saving}
          >
            {saving ? "Saving…" : "Save update settings"}
          </button>
          <button
            type="button"
            aria-label="Check for updates"
            disabled={checking}
            title={off ? "Set and save the endpoint and the public key first" : undefined}
            onClick={() => void checkNow()}
          >
            {checking ? "Checking…" : "Check for updates"}
          </button>
          {off && <span className="muted">Updates are off until both are set.</span>}
        </div>
      </form>
      {saveError && <ErrorBox error={saveError} what="The update settings were not saved" />}
      {saved && (
        <output className="muted" aria-label="Update settings saved">
          Saved.
        </output>
      )}
      {checkError && <ErrorBox error={checkError} what="The check for updates failed" />}
      {check && (
        <output
          className={check.available ? "set-update available" : "set-update"}
          aria-label="Update check"
        >
          {updateText(check)}
          {check.available && check.date && (
            <span className="muted"> (published {check.date})</span>
          )}
        </output>
      )}
      {check?.available && (
        <div className="detail-actions">
          <button
            type="button"
            aria-label="Download update"
            disabled={fetching}
            onClick={() => void download()}
          >
            {fetching && downloaded === null ? "Downloading…" : "Download and verify"}
          </button>
          {downloaded !== null && (
            <button
              type="button"
              className="primary"
              aria-label="Install update"
              disabled={fetching}
              onClick={() => void install()}
            >
              Install {downloaded.version}
            </button>
          )}
        </div>
      )}
      {downloaded !== null && (
        <output className="muted" aria-label="Update downloaded">
          Downloaded Gavel {downloaded.version}, {downloaded.bytes.toLocaleString("en-US")} bytes;
          its signature, made for that version, verified against the saved public key.
        </output>
      )}
      {installed && (
        <output aria-label="Update installed">
          Gavel {installed} is installed: restart Gavel to use it.
        </output>
      )}
      {downloadError && <ErrorBox error={downloadError} what="The update was not installed" />}
    </section>
  );
}
