//! The Scorecards screen (DESIGN §1 the analyst, §4, §11.12): evaluate workflow
//! scorecards — one file, several, or pasted JSON Lines — against a governance policy;
//! read each verdict with its reason codes, overrides and forecast; the borderline
//! queue; the recorded runs; and a copy of the decision log. The evaluator runs in Rust.

import { useEffect, useRef, useState } from "react";
import { api } from "../api";
import type { ScorecardOutcome } from "../bindings/ScorecardOutcome";
import type { ScorecardRequest } from "../bindings/ScorecardRequest";
import { useNotify } from "../components/Toasts";
import type { ScreenProps } from "../route";
import { EMPTY_FORM, EvaluateForm, type FormState } from "./scorecards/EvaluateForm";
import { ExportLog } from "./scorecards/ExportLog";
import { History } from "./scorecards/History";
import { type LinedError, toLinedError } from "./scorecards/hints";
import { Queue } from "./scorecards/Queue";
import { Results } from "./scorecards/Results";

/** The form and the last outcome, kept while the app runs (the screen unmounts on leaving). */
const kept: { form: FormState; outcome: ScorecardOutcome | null } = {
  form: EMPTY_FORM,
  outcome: null,
};

export function ScorecardsScreen(_props: ScreenProps) {
  const notify = useNotify();
  const [form, setForm] = useState<FormState>(kept.form);
  const [outcome, setOutcome] = useState<ScorecardOutcome | null>(kept.outcome);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<LinedError | null>(null);
  const [reloadToken, setReloadToken] = useState(0);
  const mounted = useRef(true);
  const main = useRef<HTMLDivElement>(null);

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  const changeForm = (f: FormState) => {
    // A new policy is a reason to try again: its predecessor's error no longer applies.
    if (f.policy !== kept.form.policy) setError(null);
    kept.form = f;
    setForm(f);
  };

  const evaluate = async (request: ScorecardRequest) => {
    setBusy(true);
    setError(null);
    try {
      const next = await api.evaluateScorecards(request);
      kept.outcome = next;
      if (!mounted.current) return;
      setOutcome(next);
      setReloadToken((n) => n + 1);
      const read = next.summary.total;
      notify.info(
        `Evaluated ${read.toLocaleString("en")} scorecard${read === 1 ? "" : "s"}` +
          (next.invalid > 0 ? `; ${next.invalid} could not be read` : ""),
      );
    } catch (e) {
      if (mounted.current) setError(toLinedError(e));
    } finally {
      if (mounted.current) setBusy(false);
    }
  };

  const goTo = (label: string) => {
    const el = main.current?.querySelector<HTMLElement>(`[aria-label="${label}"]`);
    el?.scrollIntoView({ block: "start", behavior: "smooth" });
  };

  return (
    <section className="screen" aria-label="Scorecards" aria-busy={busy}>
      <div className="toolbar">
        <h1>Scorecards</h1>
        {busy && <span className="muted">Evaluating…</span>}
        <span className="grow" />
        <nav className="sc-jump" aria-label="Sections">
          <button type="button" aria-label="Go to results" onClick={() => goTo("Results")}>
            Results
          </button>
          <button
            type="button"
            aria-label="Go to borderline queue"
            onClick={() => goTo("Borderline queue")}
          >
            Borderline queue
          </button>
          <button type="button" aria-label="Go to run history" onClick={() => goTo("Run history")}>
            Run history
          </button>
        </nav>
      </div>
      <div className="scorecards">
        <div className="sc-side">
          <EvaluateForm
            form={form}
            onChange={changeForm}
            busy={busy}
            error={error}
            onEvaluate={(r) => void evaluate(r)}
          />
          <ExportLog />
        </div>
        <div className="sc-main" ref={main}>
          <Results outcome={outcome} busy={busy} onGoToQueue={() => goTo("Borderline queue")} />
          <Queue reloadToken={reloadToken} />
          <History reloadToken={reloadToken} />
        </div>
      </div>
    </section>
  );
}
