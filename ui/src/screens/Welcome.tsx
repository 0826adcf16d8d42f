//! The first-run screen, shown while the store holds no version: what Gavel is, and two
//! ways to get a bundle in — the example bundles, or a bundle file of one's own (YAML or
//! JSON, read in the browser and stored as a draft by the back end). Importing needs an
//! identity to record as the author; without one the identity dialog opens and the
//! import is retried once it is made.

import { type CSSProperties, useRef, useState } from "react";
import { ApiError, api } from "../api";
import { useAppInfo } from "../appInfo";
import { useNotify } from "../components/Toasts";
import { type ErrorLike, errorHint, toErrorLike } from "../errors";
import { IdentityDialog } from "../IdentityDialog";
import type { ScreenProps } from "../route";

interface ImportFailure {
  what: string;
  error: ErrorLike;
  /** Where in the file the problem is, when the back end says. */
  at: string | null;
  /** The file, when the editor can show what is wrong with it. */
  file?: PendingFile;
}

interface PendingFile {
  name: string;
  text: string;
}

const styles: Record<string, CSSProperties> = {
  screen: { overflowY: "auto", alignItems: "center", padding: "40px 24px" },
  card: { width: "min(720px, 100%)", display: "flex", flexDirection: "column", gap: 16 },
  title: { fontSize: 26 },
  lead: { margin: 0, fontSize: 15, lineHeight: 1.5, color: "var(--muted)" },
  choices: {
    display: "grid",
    gridTemplateColumns: "repeat(auto-fit, minmax(260px, 1fr))",
    gap: 14,
  },
  choice: {
    display: "flex",
    flexDirection: "column",
    alignItems: "flex-start",
    gap: 6,
    padding: "18px 20px",
    minHeight: 110,
    whiteSpace: "normal",
    textAlign: "left",
    borderRadius: 10,
  },
  choiceTitle: { fontSize: 17, fontWeight: 600 },
  choiceText: { fontSize: 13, opacity: 0.85 },
};

function where(e: unknown): string | null {
  if (e instanceof ApiError && e.line !== null) {
    return e.column !== null ? `line ${e.line}, column ${e.column}` : `line ${e.line}`;
  }
  return null;
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function WelcomeScreen({ navigate }: ScreenProps) {
  const notify = useNotify();
  const { info, reload } = useAppInfo();
  const [busy, setBusy] = useState<"examples" | "import" | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const [failure, setFailure] = useState<ImportFailure | null>(null);
  const [needsIdentity, setNeedsIdentity] = useState<PendingFile | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);

  const loadExamples = async () => {
    setBusy("examples");
    setFailure(null);
    setStatus("Loading the example bundles…");
    try {
      const report = await api.loadExamples();
      const added = report.examples.filter((e) => e.added).length;
      const text =
        added > 0
          ? `Added ${plural(added, "example bundle", "example bundles")}.`
          : `No example bundle added: all ${report.examples.length} were already stored.`;
      setStatus(text);
      notify.info(text);
      await reload();
      navigate({ screen: "bundles" });
    } catch (e) {
      setStatus(null);
      setFailure({
        what: "The example bundles could not be loaded",
        error: toErrorLike(e),
        at: null,
      });
    } finally {
      setBusy(null);
    }
  };

  const importFile = async (file: PendingFile) => {
    setBusy("import");
    setFailure(null);
    setStatus(`Importing “${file.name}”…`);
    try {
      const saved = await api.importBundle(file.name, file.text);
      const reference = saved.version.reference;
      setStatus(`Imported ${reference} as a draft.`);
      notify.info(`Imported ${reference} as a draft.`);
      await reload();
      navigate({ screen: "editor", reference });
    } catch (e) {
      setStatus(null);
      const error = toErrorLike(e);
      if (error.code === "no_identity") setNeedsIdentity(file);
      else {
        const fixable = error.code === "invalid_bundle" || error.code === "invalid";
        setFailure({
          what: `“${file.name}” could not be imported`,
          error,
          at: where(e),
          file: fixable ? file : undefined,
        });
      }
    } finally {
      setBusy(null);
    }
  };

  const onFileChosen = async (e: React.ChangeEvent<HTMLInputElement>) => {
    const input = e.currentTarget;
    const file = input.files?.[0];
    // Cleared so that choosing the same file again (after fixing it) fires again.
    input.value = "";
    if (!file) return;
    let text: string;
    try {
      text = await file.text();
    } catch (err) {
      setFailure({ what: `“${file.name}” could not be read`, error: toErrorLike(err), at: null });
      return;
    }
    await importFile({ name: file.name, text });
  };

  const hint = failure?.file
    ? "Open it in the editor to see every problem and fix it; saving there stores it."
    : failure
      ? errorHint(failure.error.code)
      : undefined;
  const fixing = failure?.file;
  return (
    <section className="screen" aria-label="Welcome" style={styles.screen}>
      <div style={styles.card}>
        <h1 style={styles.title}>Welcome to Gavel</h1>
        <p style={styles.lead}>
          Gavel is where your team writes, lints, simulates, reviews and approves the policy bundles
          that decide which actions your AI agents may take, and under which conditions.
        </p>
        <div style={styles.choices}>
          <button
            type="button"
            className="primary"
            aria-label="Load example bundles"
            style={styles.choice}
            disabled={busy !== null}
            onClick={loadExamples}
          >
            <span style={styles.choiceTitle}>
              {busy === "examples" ? "Loading examples…" : "Load example bundles"}
            </span>
            <span style={styles.choiceText}>
              Inbox triage, deployment safety, budgets and more, stored as drafts to explore.
            </span>
          </button>
          <button
            type="button"
            aria-label="Import a bundle file"
            style={styles.choice}
            disabled={busy !== null}
            onClick={() => fileInput.current?.click()}
          >
            <span style={styles.choiceTitle}>
              {busy === "import" ? "Importing…" : "Import a bundle file"}
            </span>
            <span style={styles.choiceText}>
              A YAML or JSON bundle of your own; it opens in the editor as a draft.
            </span>
          </button>
        </div>
        <input
          ref={fileInput}
          type="file"
          accept=".yaml,.yml,.json"
          aria-label="Bundle file"
          hidden
          onChange={onFileChosen}
        />
        {status && (
          <p role="status" className="muted" style={{ margin: 0 }}>
            {status}
          </p>
        )}
        {failure && (
          <div className="form-error" role="alert">
            <strong>{failure.what}</strong>
            <div style={{ overflowWrap: "anywhere" }}>
              {failure.at && <span className="mono">{failure.at}: </span>}
              {failure.error.message}
            </div>
            {hint && <div className="muted">{hint}</div>}
            {fixing && (
              <div style={{ marginTop: 6 }}>
                <button
                  type="button"
                  aria-label="Open the file in the editor"
                  onClick={() => navigate({ screen: "editor", draftText: fixing.text })}
                >
                  Open in the editor
                </button>
              </div>
            )}
          </div>
        )}
        {info && info.versions > 0 && (
          <p className="muted" style={{ margin: 0 }}>
            The store already holds {plural(info.versions, "version", "versions")}.{" "}
            <button type="button" onClick={() => navigate({ screen: "bundles" })}>
              Go to Bundles
            </button>
          </p>
        )}
      </div>
      {needsIdentity && (
        <IdentityDialog
          reason={`Importing “${needsIdentity.name}” records you as its author. Create the identity to act as; the import then continues.`}
          onCreated={() => {
            const file = needsIdentity;
            setNeedsIdentity(null);
            void importFile(file);
          }}
          onCancel={() => {
            setNeedsIdentity(null);
            setFailure({
              what: `“${needsIdentity.name}” was not imported`,
              error: { code: "no_identity", message: "an identity is needed to record the author" },
              at: null,
            });
          }}
        />
      )}
    </section>
  );
}
