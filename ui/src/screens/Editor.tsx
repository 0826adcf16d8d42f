//! The Editor screen: a CodeMirror YAML editor of one version's document (or of an
//! unsaved buffer), linted by the back end as you type (debounced, stale responses
//! dropped), findings inline and in a Problems panel, a rule outline, save with the
//! identity prompt, read-only versions with "New version from this", and the rule
//! builder.

import type { EditorView } from "@codemirror/view";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ApiError, api } from "../api";
import { useAppInfo } from "../appInfo";
import type { Finding } from "../bindings/Finding";
import type { LintResult } from "../bindings/LintResult";
import type { RuleInsert } from "../bindings/RuleInsert";
import type { VersionDetail } from "../bindings/VersionDetail";
import { type ScreenCommands, useScreenCommands } from "../commands";
import { StatusBadge } from "../components/Badge";
import { Empty, Failed, Loading } from "../components/States";
import { useNotify } from "../components/Toasts";
import { VirtualList } from "../components/VirtualList";
import { LatestRequest } from "../editor/latest";
import { type OutlineEntry, ruleOutline } from "../editor/outline";
import { countBySeverity, diagnosticSeverity, offsetOf } from "../editor/positions";
import { createEditor, jumpTo, replaceText, setReadOnly, showFindings } from "../editor/setup";
import { type ErrorLike, errorHint, toErrorLike } from "../errors";
import { IdentityDialog } from "../IdentityDialog";
import { NEW_BUNDLE_TEXT, type ScreenProps } from "../route";
import { RuleBuilder } from "./RuleBuilder";

const LINT_DELAY_MS = 250;
const PROBLEM_ROW = 26;
const OUTLINE_ROW = 26;

const SEVERITY_ICON: Record<string, string> = { error: "⨯", warning: "▲", info: "ℹ" };

interface SaveError extends ErrorLike {
  line: number | null;
  column: number | null;
}

/** What the editor holds: a stored version, or text not saved yet. */
interface Buffer {
  /** The draft a save edits; null: a save creates a new draft. */
  reference: string | null;
  /** The stored version shown (null for an unsaved buffer). */
  detail: VersionDetail | null;
  readOnly: boolean;
  /** Says what this is, in the toolbar ("inbox@1.2.0", "New bundle"). */
  title: string;
  fileName: string | undefined;
}

export interface EditorScreenProps extends ScreenProps {
  /** False while another screen is shown (the editor stays mounted to keep unsaved work). */
  active?: boolean;
  /** Told whenever the buffer becomes dirty or clean. */
  onDirtyChange?: (dirty: boolean) => void;
}

export function EditorScreen({ route, navigate, active = true, onDirtyChange }: EditorScreenProps) {
  const reference = route.screen === "editor" ? route.reference : undefined;
  const draftText = route.screen === "editor" ? route.draftText : undefined;
  const notify = useNotify();
  const { reload: reloadAppInfo } = useAppInfo();

  const [buffer, setBuffer] = useState<Buffer | null>(null);
  const [initialText, setInitialText] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<ErrorLike | null>(null);
  const [loading, setLoading] = useState(false);
  const [dirty, setDirty] = useState(false);
  const [lint, setLint] = useState<LintResult | null>(null);
  const [linting, setLinting] = useState(false);
  const [lintError, setLintError] = useState<ErrorLike | null>(null);
  const [outline, setOutline] = useState<OutlineEntry[]>([]);
  const [cursor, setCursor] = useState({ line: 1, column: 1 });
  const [showProblems, setShowProblems] = useState(true);
  const [showBuilder, setShowBuilder] = useState(false);
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<SaveError | null>(null);
  const [askIdentity, setAskIdentity] = useState(false);
  const [forking, setForking] = useState(false);
  const [savedAt, setSavedAt] = useState<Date | null>(null);

  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const savedText = useRef<string>("");
  const bufferRef = useRef<Buffer | null>(null);
  /** The latest lint result and the text it is for. */
  const lastLint = useRef<{ text: string; result: LintResult } | null>(null);
  bufferRef.current = buffer;

  // Load what the route names.
  const load = useCallback(async () => {
    setLoadError(null);
    if (reference) {
      setLoading(true);
      try {
        const detail = await api.showVersion(reference);
        savedText.current = detail.document;
        setBuffer({
          reference: detail.status === "draft" ? detail.reference : null,
          detail,
          readOnly: detail.status !== "draft",
          title: detail.reference,
          fileName: detail.format === "json" ? `${detail.name}.json` : `${detail.name}.yaml`,
        });
        setInitialText(detail.document);
      } catch (e) {
        setLoadError(toErrorLike(e));
      } finally {
        setLoading(false);
      }
    } else if (draftText !== undefined) {
      savedText.current = "";
      setBuffer({
        reference: null,
        detail: null,
        readOnly: false,
        title: draftText === NEW_BUNDLE_TEXT ? "New bundle" : "Unsaved bundle",
        fileName: undefined,
      });
      setInitialText(draftText);
    }
  }, [reference, draftText]);

  useEffect(() => {
    void load();
  }, [load]);

  const lintRequests = useMemo(
    () =>
      new LatestRequest<string, LintResult>({
        request: (text) => api.lint(text, bufferRef.current?.fileName),
        onResult: (result, text) => {
          lastLint.current = { text, result };
          setLint(result);
          setLintError(null);
          if (view.current) showFindings(view.current, result.findings);
        },
        onError: (e) => setLintError(toErrorLike(e)),
        onBusy: setLinting,
        delayMs: LINT_DELAY_MS,
      }),
    [],
  );
  useEffect(() => () => lintRequests.cancel(), [lintRequests]);

  // Through a ref, so that a new callback from the shell never recreates the editor.
  const onDirtyRef = useRef(onDirtyChange);
  onDirtyRef.current = onDirtyChange;
  const markDirty = useCallback((text: string) => {
    const isDirty = text !== savedText.current;
    setDirty(isDirty);
    onDirtyRef.current?.(isDirty);
  }, []);

  // Typing marks the buffer dirty at once; the copy of the text (for lint, the outline
  // and the exact dirty check) is made once per pause, when the debounce fires.
  const onTextChange = useCallback(() => {
    setDirty(true);
    onDirtyRef.current?.(true);
    lintRequests.scheduleWith(() => {
      const text = view.current?.state.doc.toString() ?? "";
      markDirty(text);
      setOutline(ruleOutline(text));
      return text;
    });
  }, [markDirty, lintRequests]);

  // Create the editor once there is text; recreate it when another document is loaded.
  useEffect(() => {
    if (initialText === null || !host.current) return;
    const v = createEditor(host.current, {
      doc: initialText,
      readOnly: bufferRef.current?.readOnly ?? false,
      onChange: onTextChange,
      onCursor: (line, column) => setCursor({ line, column }),
    });
    view.current = v;
    setCursor({ line: 1, column: 1 });
    markDirty(initialText);
    setOutline(ruleOutline(initialText));
    void lintRequests.now(initialText);
    return () => {
      v.destroy();
      view.current = null;
    };
  }, [initialText, onTextChange, markDirty, lintRequests]);

  useEffect(() => {
    if (view.current && buffer) setReadOnly(view.current, buffer.readOnly);
  }, [buffer]);

  // A hidden CodeMirror cannot measure; measure again when shown.
  useEffect(() => {
    if (active) view.current?.requestMeasure();
  }, [active]);

  const text = () => view.current?.state.doc.toString() ?? "";

  const save = useCallback(async () => {
    const b = bufferRef.current;
    if (!b || !view.current) return;
    if (b.readOnly) {
      notify.info("This version is read-only: use “New version from this” to edit a copy");
      return;
    }
    const document = view.current.state.doc.toString();
    setSaveError(null);
    // The back end's lint of this very text already says it cannot be saved: say so
    // at once, before any question about identity.
    const linted = lastLint.current;
    if (linted && linted.text === document && linted.result.blocked) {
      const first = linted.result.findings.find((f) => f.severity === "error");
      setSaveError({
        code: "invalid_bundle",
        message: `not saved: ${linted.result.blocked}`,
        line: first?.line ?? null,
        column: first?.column ?? null,
      });
      return;
    }
    setSaving(true);
    try {
      const saved = await api.saveDraft({ document, reference: b.reference, fileName: b.fileName });
      savedText.current = document;
      setSavedAt(new Date());
      markDirty(view.current?.state.doc.toString() ?? document);
      setBuffer({
        ...b,
        reference: saved.version.reference,
        detail: { ...saved.version, document },
        title: saved.version.reference,
      });
      notify.info(
        saved.created
          ? `Saved as new draft ${saved.version.reference}`
          : saved.changed
            ? `Saved ${saved.version.reference}`
            : `${saved.version.reference} is already saved`,
      );
      if (saved.created) void reloadAppInfo();
    } catch (e) {
      const err = toErrorLike(e);
      if (err.code === "no_identity") setAskIdentity(true);
      else {
        setSaveError({
          ...err,
          line: e instanceof ApiError ? e.line : null,
          column: e instanceof ApiError ? e.column : null,
        });
      }
    } finally {
      setSaving(false);
    }
  }, [markDirty, notify, reloadAppInfo]);

  const newVersionFrom = async () => {
    const b = bufferRef.current;
    const from = b?.detail?.reference;
    if (!b || !from) return;
    setForking(true);
    try {
      const draft = await api.newVersionFrom(from);
      savedText.current = "";
      setSavedAt(null);
      setSaveError(null);
      setBuffer({
        reference: null,
        detail: null,
        readOnly: false,
        title: `${draft.name}@${draft.version} (new, from ${draft.from})`,
        fileName: b.fileName,
      });
      setInitialText(draft.document);
    } catch (e) {
      notify.error("Could not start a new version", e);
    } finally {
      setForking(false);
    }
  };

  const jumpToLine = useCallback((line: number | null, column: number | null) => {
    const v = view.current;
    if (!v) return;
    jumpTo(v, offsetOf(v.state.doc, line ?? 1, column ?? 1));
  }, []);

  const onRuleInserted = (result: RuleInsert) => {
    const v = view.current;
    if (!v) return;
    const doc = result.document;
    const lines = doc.split("\n");
    let offset = 0;
    for (let i = 0; i < result.line - 1 && i < lines.length; i++)
      offset += (lines[i]?.length ?? 0) + 1;
    const lineText = lines[result.line - 1] ?? "";
    offset += lineText.length - lineText.trimStart().length;
    replaceText(v, doc, offset);
    notify.info("Rule added");
  };

  const simulate = useCallback(() => {
    const b = bufferRef.current;
    const ref = b?.reference ?? b?.detail?.reference;
    if (!ref) {
      notify.info("Save the bundle first: the simulator runs stored versions");
      return;
    }
    if (view.current && view.current.state.doc.toString() !== savedText.current) {
      notify.info(`Simulating ${ref} as saved: your unsaved changes are not included`);
    }
    navigate({ screen: "simulator", reference: ref });
  }, [navigate, notify]);

  const commands = useMemo<ScreenCommands>(() => {
    if (!buffer) return {};
    return {
      // Read-only versions still answer Ctrl+S, with why they cannot be saved.
      save: () => void save(),
      lint: () => void lintRequests.now(view.current?.state.doc.toString() ?? ""),
      simulate,
      toggleProblems: () => setShowProblems((s) => !s),
      addRule: buffer.readOnly ? undefined : () => setShowBuilder(true),
    };
  }, [buffer, save, lintRequests, simulate]);
  useScreenCommands(commands, active);

  const findings = lint?.findings ?? [];
  // The summary counts every finding, listed or not (the list is capped by the back end).
  const counts = lint
    ? { errors: lint.summary.errors, warnings: lint.summary.warnings }
    : countBySeverity(findings);

  if (!reference && draftText === undefined) {
    return (
      <section className="screen" aria-label="Editor">
        <Empty title="No bundle open">
          <p>Open a version from Bundles, or start a new bundle.</p>
          <div className="detail-actions">
            <button type="button" onClick={() => navigate({ screen: "bundles" })}>
              Go to Bundles
            </button>
            <button
              type="button"
              className="primary"
              onClick={() => navigate({ screen: "editor", draftText: NEW_BUNDLE_TEXT })}
            >
              New bundle
            </button>
          </div>
        </Empty>
      </section>
    );
  }
  if (loadError) {
    return (
      <section className="screen" aria-label="Editor">
        <Failed
          what={`Could not open ${reference ?? "the bundle"}`}
          error={loadError}
          onRetry={load}
        />
      </section>
    );
  }

  return (
    <section className="screen editor-screen" aria-label="Editor">
      <div className="toolbar">
        <h1
          className="truncate"
          title={buffer?.title ?? reference ?? ""}
          style={{ maxWidth: "40%" }}
        >
          {buffer?.title ?? reference ?? "Loading…"}
        </h1>
        {buffer?.detail && <StatusBadge status={buffer.detail.status} />}
        {dirty && (
          <span
            className="dirty"
            role="status"
            aria-label="Unsaved changes"
            title="Unsaved changes"
          >
            ● Unsaved
          </span>
        )}
        <span className="grow" />
        <button
          type="button"
          aria-label="Add rule"
          disabled={!buffer || buffer.readOnly}
          onClick={() => setShowBuilder((s) => !s)}
          aria-pressed={showBuilder}
        >
          Add rule
        </button>
        <button
          type="button"
          aria-label="Lint now"
          disabled={!buffer}
          onClick={() => void lintRequests.now(text())}
        >
          Lint now
        </button>
        <button type="button" aria-label="Simulate" disabled={!buffer} onClick={simulate}>
          Simulate
        </button>
        <button
          type="button"
          className="primary"
          aria-label="Save"
          disabled={!buffer || buffer.readOnly || saving}
          onClick={() => void save()}
        >
          {saving ? "Saving…" : "Save"}
        </button>
      </div>
      {buffer?.readOnly && buffer.detail && (
        <div className="banner" role="note">
          <span className="grow">
            {buffer.detail.reference} is {buffer.detail.status.replaceAll("_", " ")}: only drafts
            can be changed, so it is open read-only.
          </span>
          <button
            type="button"
            className="primary"
            aria-label="New version from this"
            disabled={forking}
            onClick={() => void newVersionFrom()}
          >
            {forking ? "Preparing…" : "New version from this"}
          </button>
        </div>
      )}
      {saveError && (
        <div className="banner error" role="alert" aria-label="Save error">
          <div className="grow">
            <strong>Could not save</strong>
            <div>{saveError.message}</div>
            {errorHint(saveError.code) && <div className="muted">{errorHint(saveError.code)}</div>}
          </div>
          {saveError.line !== null && (
            <button type="button" onClick={() => jumpToLine(saveError.line, saveError.column)}>
              Go to line {saveError.line}
            </button>
          )}
          {saveError.code === "not_a_draft" && buffer?.detail && (
            <button type="button" onClick={() => void newVersionFrom()}>
              New version from this
            </button>
          )}
          <button
            type="button"
            className="icon-button"
            aria-label="Dismiss save error"
            onClick={() => setSaveError(null)}
          >
            ×
          </button>
        </div>
      )}
      <div
        className={`editor-body${showBuilder && buffer && !buffer.readOnly ? " with-builder" : ""}`}
      >
        <nav className="outline" aria-label="Rule outline">
          <div className="outline-title">
            Rules <span className="count">{outline.length}</span>
          </div>
          {outline.length === 0 ? (
            <div className="empty-inline">No rules yet.</div>
          ) : (
            <VirtualList
              label="Rules"
              count={outline.length}
              rowHeight={OUTLINE_ROW}
              renderRow={(i) => {
                const entry = outline[i];
                if (!entry) return null;
                const label = entry.id ?? `rule ${entry.index + 1} (no id)`;
                return (
                  <button
                    type="button"
                    className="outline-row truncate"
                    aria-label={`Rule ${label}`}
                    title={label}
                    onClick={() => view.current && jumpTo(view.current, entry.from)}
                  >
                    <span className={`truncate${entry.id ? "" : " muted"}`}>{label}</span>
                  </button>
                );
              }}
            />
          )}
        </nav>
        <div className="editor-main">
          {loading && <Loading label={`Opening ${reference ?? ""}…`} />}
          <div className="cm-host" ref={host} hidden={loading} />
          {showProblems && (
            <ProblemsPanel
              findings={findings}
              lint={lint}
              onJump={jumpToLine}
              onClose={() => setShowProblems(false)}
            />
          )}
          <div className="statusbar" role="status" aria-label="Editor status">
            <button
              type="button"
              className="icon-button"
              style={{ fontSize: 12 }}
              aria-label="Toggle problems panel"
              aria-pressed={showProblems}
              onClick={() => setShowProblems((s) => !s)}
            >
              <span className="sev-error">
                {SEVERITY_ICON.error} {counts.errors} {counts.errors === 1 ? "error" : "errors"}
              </span>
              {"  "}
              <span className="sev-warning">
                {SEVERITY_ICON.warning} {counts.warnings}{" "}
                {counts.warnings === 1 ? "warning" : "warnings"}
              </span>
            </button>
            <span
              className="grow truncate"
              title={lintError?.message ?? (buffer?.readOnly ? "" : (lint?.blocked ?? ""))}
            >
              {linting
                ? "Linting…"
                : lintError
                  ? `Lint failed: ${lintError.message}`
                  : lint?.blocked && !buffer?.readOnly
                    ? `Cannot be saved yet: ${lint.blocked}`
                    : lint
                      ? `Lint passed in ${lint.elapsed_ms.toFixed(0)} ms`
                      : ""}
            </span>
            {dirty && <span className="dirty">Unsaved changes</span>}
            {!dirty && savedAt && (
              <span title={savedAt.toISOString()}>
                Saved at {savedAt.toLocaleTimeString(undefined, { timeStyle: "short" })}
              </span>
            )}
            {buffer?.readOnly && <span>Read-only</span>}
            <span>
              Ln {cursor.line}, Col {cursor.column}
            </span>
          </div>
        </div>
        {showBuilder && buffer && !buffer.readOnly && (
          <RuleBuilder
            getDocument={text}
            fileName={buffer.fileName}
            onInserted={onRuleInserted}
            onClose={() => setShowBuilder(false)}
          />
        )}
      </div>
      {askIdentity && (
        <IdentityDialog
          reason="Saving records you as the author, so it needs your identity (name and email). Its key is kept in the OS keychain."
          onCancel={() => setAskIdentity(false)}
          onCreated={() => {
            setAskIdentity(false);
            void save();
          }}
        />
      )}
    </section>
  );
}

function ProblemsPanel({
  findings,
  lint,
  onJump,
  onClose,
}: {
  findings: readonly Finding[];
  lint: LintResult | null;
  onJump: (line: number | null, column: number | null) => void;
  onClose: () => void;
}) {
  const leftOut = lint?.summary.left_out ?? 0;
  return (
    <section className="problems" aria-label="Problems">
      <div className="panel-title">
        Problems <span className="count">{findings.length}</span>
        {leftOut > 0 && <span className="count">({leftOut} more not listed)</span>}
        <span className="grow" style={{ flex: 1 }} />
        <button
          type="button"
          className="icon-button"
          aria-label="Close problems panel"
          onClick={onClose}
        >
          ×
        </button>
      </div>
      {findings.length === 0 ? (
        <div className="empty-inline">{lint ? "No problems." : "Not linted yet."}</div>
      ) : (
        <VirtualList
          label="Problem list"
          count={findings.length}
          rowHeight={PROBLEM_ROW}
          renderRow={(i) => {
            const f = findings[i];
            if (!f) return null;
            const sev = diagnosticSeverity(f.severity);
            const line = f.line ?? 1;
            const where = `${line}:${f.column ?? 1}`;
            const title = f.suggestion ? `${f.message}\nhelp: ${f.suggestion}` : f.message;
            return (
              // biome-ignore lint/a11y/useSemanticElements: a row of a virtual list, with role button as the tests expect
              <div
                role="button"
                tabIndex={0}
                aria-label={`Problem at line ${line}: ${f.code}`}
                className="problem-row"
                title={title}
                onClick={() => onJump(f.line, f.column)}
                onKeyDown={(e) => {
                  if (e.key === "Enter" || e.key === " ") {
                    e.preventDefault();
                    onJump(f.line, f.column);
                  }
                }}
              >
                <span className={`sev sev-${sev}`}>
                  <span aria-hidden="true">{SEVERITY_ICON[sev]}</span>{" "}
                  <span className="sev-text">{sev}</span>
                </span>
                <span className="code truncate">{f.code}</span>
                <span className="message truncate">{f.message}</span>
                <span className="where">{where}</span>
              </div>
            );
          }}
        />
      )}
    </section>
  );
}
