//! The Simulator screen (DESIGN §3.3, §11.7): run a stored version over a dataset (the
//! nine fixtures, synthetic cases from a count and seed, or a file), watch its progress
//! and cancel it, then read the counts, rates, effects chart, budgets, rule hits and
//! examples. In compare mode it runs two versions over the same cases and lists what
//! changed. The simulation runs in Rust; Ctrl+Enter (the shell's "simulate" command)
//! starts a run while this screen is shown.

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ApiError, api, type Run } from "../api";
import type { CompareOutcome } from "../bindings/CompareOutcome";
import type { SimOutcome } from "../bindings/SimOutcome";
import type { SimProgress } from "../bindings/SimProgress";
import { useScreenCommands } from "../commands";
import { Empty, Failed, Loading } from "../components/States";
import { type ErrorLike, toErrorLike } from "../errors";
import type { ScreenProps } from "../route";
import { useVersionIndex } from "./diff/useVersionIndex";
import { VersionPicker } from "./diff/VersionPicker";
import { isListed, previousOf } from "./diff/versions";
import { CompareResults } from "./sim/Compare";
import {
  acceptedDatasetFile,
  buildDataset,
  DATASET_EXTENSIONS,
  type DatasetKind,
  DEFAULT_COUNT,
  DEFAULT_SEED,
  parseCount,
  parseSeed,
} from "./sim/dataset";
import { formatSize, progressText } from "./sim/format";
import { SimResults } from "./sim/Results";
import "./sim/sim.css";

type Outcome =
  | { kind: "simulate"; outcome: SimOutcome }
  | { kind: "compare"; outcome: CompareOutcome };

type RunState =
  | { phase: "idle" }
  | {
      phase: "running";
      id: string;
      progress: SimProgress | null;
      cancelling: boolean;
      what: string;
    }
  | { phase: "cancelled"; message: string }
  | { phase: "failed"; error: ErrorLike; what: string }
  | { phase: "done"; result: Outcome };

export function SimulatorScreen({ route, navigate }: ScreenProps) {
  const index = useVersionIndex();
  const versions = index.versions ?? [];
  const routeReference = route.screen === "simulator" ? route.reference : undefined;
  const reference = routeReference ?? versions[0]?.reference ?? "";

  const [kind, setKind] = useState<DatasetKind>("synthetic");
  const [count, setCount] = useState(String(DEFAULT_COUNT));
  const [seed, setSeed] = useState(String(DEFAULT_SEED));
  const [file, setFile] = useState<{ name: string; text: string } | null>(null);
  const [fileError, setFileError] = useState<string | null>(null);
  const [compare, setCompare] = useState(false);
  const [against, setAgainst] = useState<string | null>(null);
  const [state, setState] = useState<RunState>({ phase: "idle" });
  const runRef = useRef<Run<unknown> | null>(null);

  // The baseline defaults to the version's predecessor until one is picked.
  const defaultAgainst = useMemo(
    () => previousOf(versions, reference)?.reference ?? "",
    [versions, reference],
  );
  const againstRef = against ?? defaultAgainst;
  useEffect(() => {
    if (against !== null && !isListed(versions, against) && index.versions) setAgainst(null);
  }, [against, versions, index.versions]);

  const dataset = buildDataset({ kind, count, seed, file });
  const running = state.phase === "running";
  let blocker: string | null = null;
  if (reference === "") blocker = "Choose a version to simulate.";
  else if (!dataset.ok) blocker = dataset.message;
  else if (compare && againstRef === "") blocker = "Choose a version to compare against.";

  const start = useCallback(() => {
    if (running || blocker !== null || !dataset.ok) return;
    const spec = dataset.spec;
    let run: Run<unknown>;
    const onProgress = (p: SimProgress) =>
      setState((s) => (s.phase === "running" && s.id === run.id ? { ...s, progress: p } : s));
    let what: string;
    let finish: Promise<Outcome>;
    if (compare) {
      what = `Comparing ${reference} with ${againstRef}`;
      const r = api.compare(
        { kind: "version", reference: againstRef },
        { kind: "version", reference },
        spec,
        onProgress,
      );
      run = r;
      finish = r.result.then((outcome) => ({ kind: "compare", outcome }));
    } else {
      what = `Simulating ${reference}`;
      const r = api.simulate({ kind: "version", reference }, spec, onProgress);
      run = r;
      finish = r.result.then((outcome) => ({ kind: "simulate", outcome }));
    }
    runRef.current = run;
    setState({ phase: "running", id: run.id, progress: null, cancelling: false, what });
    finish.then(
      (result) => {
        if (runRef.current?.id !== run.id) return;
        runRef.current = null;
        setState({ phase: "done", result });
      },
      (e: unknown) => {
        if (runRef.current?.id !== run.id) return;
        runRef.current = null;
        const error = toErrorLike(e);
        // A dataset file's error points into it: say where.
        if (e instanceof ApiError && e.line !== null) {
          error.message += ` (line ${e.line}${e.column !== null ? `, column ${e.column}` : ""})`;
        }
        if (error.code === "cancelled") setState({ phase: "cancelled", message: error.message });
        else
          setState({
            phase: "failed",
            error,
            what: compare ? "The comparison failed" : "The simulation failed",
          });
      },
    );
  }, [running, blocker, dataset, compare, reference, againstRef]);

  const cancel = useCallback(async () => {
    const run = runRef.current;
    if (!run) return;
    setState((s) => (s.phase === "running" && s.id === run.id ? { ...s, cancelling: true } : s));
    // The back end knows a run once its bundles are loaded: until then, ask again.
    for (let attempt = 0; attempt < 25 && runRef.current?.id === run.id; attempt++) {
      try {
        if (await run.cancel()) return;
      } catch {
        // The run may have just ended; its result says how.
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }, []);

  // Ctrl+Enter (the shell's "simulate" command) runs; a ref keeps the handler stable.
  const startRef = useRef(start);
  startRef.current = start;
  const commands = useMemo(() => ({ simulate: () => startRef.current() }), []);
  useScreenCommands(commands);

  // A run still going when the screen closes is stopped.
  useEffect(
    () => () => {
      void runRef.current?.cancel().catch(() => {});
      runRef.current = null;
    },
    [],
  );

  const onDatasetFile = async (e: React.ChangeEvent<HTMLInputElement>) => {
    const chosen = e.currentTarget.files?.[0];
    setFileError(null);
    if (!chosen) return;
    if (!acceptedDatasetFile(chosen.name)) {
      setFile(null);
      setFileError(`“${chosen.name}” is not a .json, .jsonl, .ndjson or .csv file.`);
      return;
    }
    try {
      setFile({ name: chosen.name, text: await chosen.text() });
    } catch (err) {
      setFile(null);
      setFileError(`“${chosen.name}” could not be read: ${toErrorLike(err).message}`);
    }
  };

  let body: React.ReactNode;
  if (index.loading && !index.versions) body = <Loading label="Loading versions…" />;
  else if (index.error && !index.versions) {
    body = (
      <Failed what="The versions could not be listed" error={index.error} onRetry={index.reload} />
    );
  } else if (versions.length === 0) {
    body = (
      <Empty title="Nothing to simulate yet">
        <p>Store a bundle first: load the examples or import a file from the welcome screen.</p>
        <button type="button" onClick={() => navigate({ screen: "welcome" })}>
          Go to welcome
        </button>
      </Empty>
    );
  } else if (state.phase === "running") {
    const p = state.progress;
    const { text, fraction } = p
      ? progressText(p.done, p.total)
      : { text: "Starting…", fraction: null };
    body = (
      <div className="sim-running">
        <p className="truncate" title={state.what}>
          {state.what}…
        </p>
        <div
          className="sim-progress"
          role="progressbar"
          aria-label="Simulation progress"
          aria-valuemin={0}
          aria-valuemax={p?.total ?? undefined}
          aria-valuenow={p?.done ?? 0}
          aria-valuetext={text}
        >
          <div
            className={`sim-progress-fill${fraction === null ? " indeterminate" : ""}`}
            style={fraction === null ? undefined : { width: `${fraction * 100}%` }}
          />
        </div>
        <p className="sim-progress-text">{text}</p>
        <button type="button" aria-label="Cancel run" onClick={cancel} disabled={state.cancelling}>
          {state.cancelling ? "Cancelling…" : "Cancel"}
        </button>
      </div>
    );
  } else if (state.phase === "cancelled") {
    body = (
      <div className="state" role="status">
        <h2>Cancelled</h2>
        <p>{state.message}</p>
      </div>
    );
  } else if (state.phase === "failed") {
    body = (
      <Failed
        what={state.what}
        error={state.error}
        onRetry={blocker === null ? start : undefined}
      />
    );
  } else if (state.phase === "done") {
    body =
      state.result.kind === "simulate" ? (
        <SimResults outcome={state.result.outcome} />
      ) : (
        <CompareResults outcome={state.result.outcome} />
      );
  } else {
    body = (
      <Empty title="Run a simulation">
        <p>
          Pick a version and a dataset, then Run (Ctrl+Enter). Compare with another version to see
          which cases change their effect.
        </p>
      </Empty>
    );
  }

  return (
    <section className="screen sim-screen" aria-label="Simulator" aria-busy={running}>
      <div className="toolbar sim-form">
        <h1>Simulator</h1>
        <VersionPicker
          label="Version"
          value={reference}
          versions={versions}
          disabled={!index.versions || running}
          onChange={(r) => navigate({ screen: "simulator", reference: r })}
        />
        <select
          aria-label="Dataset"
          value={kind}
          disabled={running}
          onChange={(e) => setKind(e.target.value as DatasetKind)}
        >
          <option value="fixtures">Fixtures (9 curated cases)</option>
          <option value="synthetic">Synthetic</option>
          <option value="file">File</option>
        </select>
        {kind === "synthetic" && (
          <>
            <label className="inline-field">
              <span>Cases</span>
              <input
                type="text"
                inputMode="numeric"
                aria-label="Case count"
                aria-invalid={!parseCount(count).ok}
                value={count}
                disabled={running}
                onChange={(e) => setCount(e.target.value)}
                style={{ width: 96 }}
              />
            </label>
            <label className="inline-field">
              <span>Seed</span>
              <input
                type="text"
                inputMode="numeric"
                aria-label="Seed"
                aria-invalid={!parseSeed(seed).ok}
                value={seed}
                disabled={running}
                onChange={(e) => setSeed(e.target.value)}
                style={{ width: 96 }}
              />
            </label>
          </>
        )}
        {/* Kept mounted while another dataset is chosen, so the chosen file stays chosen. */}
        <label
          className="inline-field file-field"
          title={
            file
              ? `${file.name} (${formatSize(file.text.length)})`
              : "A .json, .jsonl, .ndjson or .csv file of cases"
          }
          hidden={kind !== "file"}
        >
          <input
            type="file"
            aria-label="Dataset file"
            accept={DATASET_EXTENSIONS.join(",")}
            disabled={running}
            onChange={onDatasetFile}
          />
        </label>
        <label className="check">
          <input
            type="checkbox"
            aria-label="Compare with another version"
            checked={compare}
            disabled={running}
            onChange={(e) => setCompare(e.target.checked)}
          />
          Compare with
        </label>
        {compare && (
          <VersionPicker
            label="Compare against"
            value={againstRef}
            versions={versions}
            disabled={!index.versions || running}
            placeholder="Baseline version…"
            onChange={setAgainst}
          />
        )}
        <button
          type="button"
          className="primary sim-run"
          aria-label="Run simulation"
          title={blocker ?? "Run (Ctrl+Enter)"}
          disabled={running || blocker !== null}
          onClick={start}
        >
          {compare ? "Run comparison" : "Run"}
        </button>
      </div>
      {(blocker !== null || fileError !== null) && versions.length > 0 && !running && (
        <div className="sim-blocker" role="alert">
          {fileError ?? blocker}
        </div>
      )}
      <div className="sim-results">{body}</div>
    </section>
  );
}
