//! The "Evaluate" section: the governance policy, the scorecard files (several, added
//! one by one, or the examples), pasted JSON / JSON Lines, the log and queue options,
//! and the Evaluate button. The form is kept while the app runs, so leaving the screen
//! and coming back finds it as it was.

import { useState } from "react";
import { api } from "../../api";
import type { NamedText } from "../../bindings/NamedText";
import type { ScorecardExamples } from "../../bindings/ScorecardExamples";
import type { ScorecardRequest } from "../../bindings/ScorecardRequest";
import { OpenFile } from "../../components/FileFields";
import { ErrorBox } from "./ErrorBox";
import { type LinedError, toLinedError } from "./hints";
import { addFiles, linesText, scorecardFiles } from "./results";

export interface FormState {
  policy: NamedText | null;
  files: NamedText[];
  pasted: string;
  log: boolean;
  queue: boolean;
}

export const EMPTY_FORM: FormState = {
  policy: null,
  files: [],
  pasted: "",
  log: true,
  queue: false,
};

let examples: Promise<ScorecardExamples> | null = null;
function loadExamples(): Promise<ScorecardExamples> {
  if (!examples) {
    examples = api.scorecardExamples();
    examples.catch(() => {
      examples = null;
    });
  }
  return examples;
}

export function EvaluateForm({
  form,
  onChange,
  busy,
  error,
  onEvaluate,
}: {
  form: FormState;
  onChange: (f: FormState) => void;
  busy: boolean;
  error: LinedError | null;
  onEvaluate: (request: ScorecardRequest) => void;
}) {
  const [exampleError, setExampleError] = useState<LinedError | null>(null);
  const [showPolicy, setShowPolicy] = useState(false);
  const set = (patch: Partial<FormState>) => onChange({ ...form, ...patch });
  const files = scorecardFiles(form.files, form.pasted);

  const takeExample = async (what: "policy" | "scorecards") => {
    setExampleError(null);
    try {
      const ex = await loadExamples();
      if (what === "policy") set({ policy: ex.policy });
      else set({ files: addFiles(form.files, ex.scorecards) });
    } catch (e) {
      setExampleError(toLinedError(e));
    }
  };

  const missing = !form.policy
    ? "Open a policy first."
    : files.length === 0
      ? "Add scorecard files or paste scorecards."
      : null;

  const evaluate = () => {
    if (!form.policy || files.length === 0 || busy) return;
    onEvaluate({
      policy: form.policy,
      scorecards: files,
      borderline_queue: form.queue,
      log: form.log,
    });
  };

  return (
    <section className="sc-section sc-evaluate" aria-labelledby="sc-evaluate-title">
      <h2 id="sc-evaluate-title" className="panel-title">
        Evaluate
      </h2>

      <div className="sc-group">
        <h3>Policy</h3>
        <OpenFile label="Policy" accept=".yaml,.yml,.json" onOpen={(f) => set({ policy: f })} />
        <div className="sc-row">
          <button
            type="button"
            aria-label="Use example policy"
            onClick={() => void takeExample("policy")}
          >
            Use example policy
          </button>
          {form.policy ? (
            <>
              <span className="sc-policy-name truncate mono" title={form.policy.name}>
                {form.policy.name}
              </span>
              <button
                type="button"
                className="sc-link"
                aria-label={showPolicy ? "Hide policy text" : "Show policy text"}
                aria-expanded={showPolicy}
                title={linesText(form.policy.text)}
                onClick={() => setShowPolicy((s) => !s)}
              >
                {showPolicy ? "Hide text" : "Show text"}
              </button>
            </>
          ) : (
            <span className="muted">No policy yet</span>
          )}
        </div>
        {form.policy && showPolicy && (
          <section className="sc-policy-text" aria-label="Policy text">
            <pre>{form.policy.text}</pre>
          </section>
        )}
      </div>

      <div className="sc-group">
        <h3>
          Scorecards <span className="count">{form.files.length}</span>
        </h3>
        <OpenFile
          label="Scorecards"
          accept=".json,.jsonl,.ndjson"
          onOpen={(f) => set({ files: addFiles(form.files, [f]) })}
        />
        <div className="sc-row">
          <button
            type="button"
            aria-label="Use example scorecards"
            onClick={() => void takeExample("scorecards")}
          >
            Use example scorecards
          </button>
          {form.files.length > 1 && (
            <button
              type="button"
              aria-label="Remove all scorecards"
              onClick={() => set({ files: [] })}
            >
              Remove all
            </button>
          )}
        </div>
        {form.files.length === 0 ? (
          <p className="muted sc-note">
            No files yet: open JSON files (one scorecard, or a list) or JSON Lines files, one at a
            time; each is added to the batch.
          </p>
        ) : (
          <ul className="sc-files" aria-label="Scorecard files">
            {form.files.map((f) => (
              <li key={f.name}>
                <span className="truncate mono" title={f.name}>
                  {f.name}
                </span>
                <span className="muted sc-file-size">{linesText(f.text)}</span>
                <button
                  type="button"
                  className="icon-button"
                  aria-label={`Remove ${f.name}`}
                  title={`Remove ${f.name}`}
                  onClick={() => set({ files: form.files.filter((x) => x.name !== f.name) })}
                >
                  ×
                </button>
              </li>
            ))}
          </ul>
        )}
        <label className="sc-paste">
          <span className="muted">Or paste scorecards (JSON, or JSON Lines: one per line)</span>
          <textarea
            aria-label="Scorecards text"
            rows={4}
            spellCheck={false}
            placeholder={'{"workflow_id": "invoice-triage", "raroi": 1.3, "confidence": 0.85}'}
            value={form.pasted}
            onChange={(e) => set({ pasted: e.target.value })}
          />
        </label>
      </div>

      {exampleError && <ErrorBox what="The examples could not be loaded" error={exampleError} />}

      <div className="sc-group">
        <label className="check">
          <input
            type="checkbox"
            aria-label="Log the runs"
            checked={form.log}
            onChange={(e) => set({ log: e.target.checked })}
          />
          Log the runs
          <span className="muted">(run history and decision log)</span>
        </label>
        <label className="check">
          <input
            type="checkbox"
            aria-label="Use the borderline queue"
            checked={form.queue}
            onChange={(e) => set({ queue: e.target.checked })}
          />
          Use the borderline queue
        </label>
        {form.queue && (
          <p className="muted sc-note">
            A forecast that fails foresight only narrowly (ROI or confidence within 0.05 of its
            threshold) is then borderline and queued for review, instead of a pilot.
          </p>
        )}
      </div>

      <div className="sc-row">
        <button
          type="button"
          className="primary"
          aria-label="Evaluate"
          disabled={busy || missing !== null}
          title={missing ?? undefined}
          onClick={evaluate}
        >
          {busy ? "Evaluating…" : "Evaluate"}
        </button>
        {missing && <span className="muted">{missing}</span>}
      </div>

      {error && (
        <ErrorBox
          what={
            error.code === "invalid_policy"
              ? "The policy is not valid"
              : "The scorecards could not be evaluated"
          }
          error={error}
        />
      )}
    </section>
  );
}
