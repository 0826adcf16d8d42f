//! A bundle's registry actions (DESIGN §11.16): bind it to one of the team's registries
//! (its versions and approvals then travel there), and push a frozen version, or see with
//! a dry run what would go up.

import { useCallback, useEffect, useRef, useState } from "react";
import { api } from "../../api";
import type { PushReport } from "../../bindings/PushReport";
import type { RegistryRow } from "../../bindings/RegistryRow";
import type { VersionStatus } from "../../bindings/VersionStatus";
import { type ErrorLike, toErrorLike } from "../../errors";
import type { Navigate } from "../../route";
import { RegistryError } from "../settings/Registries";
import { artifactKind, bindingOf, canPush, layersText } from "./registry";

export function RegistryActions({
  bundle,
  reference,
  status,
  navigate,
}: {
  bundle: string;
  reference: string;
  status: VersionStatus;
  navigate: Navigate;
}) {
  const [registries, setRegistries] = useState<RegistryRow[] | null>(null);
  const [loadError, setLoadError] = useState<ErrorLike | null>(null);
  const [choice, setChoice] = useState("");
  const [binding, setBinding] = useState(false);
  const [pushing, setPushing] = useState(false);
  const [dryRun, setDryRun] = useState(false);
  const [report, setReport] = useState<PushReport | null>(null);
  const [error, setError] = useState<{ what: string; error: ErrorLike } | null>(null);
  const seq = useRef(0);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    try {
      const rows = await api.registries();
      if (mine !== seq.current) return;
      setRegistries(rows);
      setLoadError(null);
    } catch (e) {
      if (mine === seq.current) setLoadError(toErrorLike(e));
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  // A new version or bundle: the last push's report and error belong to the old one.
  // biome-ignore lint/correctness/useExhaustiveDependencies: `reference` is the reason to clear
  useEffect(() => {
    setReport(null);
    setError(null);
  }, [reference]);

  const bound = registries ? bindingOf(registries, bundle) : undefined;
  const selected = choice || bound?.name || registries?.[0]?.name || "";

  const bind = async () => {
    if (!selected) return;
    setBinding(true);
    setError(null);
    try {
      await api.bindBundle(bundle, selected);
      setChoice("");
      await load();
    } catch (e) {
      setError({ what: "Binding failed", error: toErrorLike(e) });
    } finally {
      setBinding(false);
    }
  };

  const push = async () => {
    setPushing(true);
    setError(null);
    setReport(null);
    try {
      setReport(await api.pushVersion(reference, dryRun));
    } catch (e) {
      setError({ what: dryRun ? "Dry run failed" : "Push failed", error: toErrorLike(e) });
    } finally {
      setPushing(false);
    }
  };

  if (loadError && !registries)
    return (
      <section className="reg-actions" aria-label="Registry">
        <RegistryError
          error={loadError}
          label="The registries could not be read"
          onRetry={() => void load()}
        />
      </section>
    );
  if (!registries)
    return (
      <section className="reg-actions muted" aria-label="Registry">
        Reading the registries…
      </section>
    );
  if (registries.length === 0)
    return (
      <section className="reg-actions" aria-label="Registry">
        <span className="muted">Not shared: no registry yet.</span>
        <button
          type="button"
          aria-label="Add a registry in Settings"
          onClick={() => navigate({ screen: "settings" })}
        >
          Add a registry…
        </button>
      </section>
    );

  return (
    <section className="reg-actions" aria-label="Registry">
      <div className="reg-line">
        {bound ? (
          <span className="truncate reg-bound" title={`${bound.name}: ${bound.url}`}>
            Shared through <strong>{bound.name}</strong>
          </span>
        ) : (
          <span className="muted">Not shared</span>
        )}
        <select
          aria-label="Registry to bind"
          value={selected}
          disabled={binding}
          onChange={(e) => setChoice(e.target.value)}
        >
          {registries.map((r) => (
            <option key={r.name} value={r.name} title={r.url}>
              {r.name}
            </option>
          ))}
        </select>
        <button
          type="button"
          aria-label="Bind to registry"
          title={`Share ${bundle}'s versions and approvals through ${selected}`}
          disabled={binding || !selected || selected === bound?.name}
          onClick={() => void bind()}
        >
          {binding ? "Binding…" : "Bind"}
        </button>
      </div>
      {bound && (
        <div className="reg-line">
          <button
            type="button"
            aria-label="Push version"
            title={
              canPush(status)
                ? `Send ${reference} and its signatures to ${bound.name}`
                : "A draft can still change: submit it first (submitting publishes it)"
            }
            disabled={pushing || !canPush(status)}
            onClick={() => void push()}
          >
            {pushing ? "Pushing…" : "Push"}
          </button>
          <label className="ovr-check">
            <input
              type="checkbox"
              aria-label="Dry run"
              checked={dryRun}
              disabled={pushing}
              onChange={(e) => setDryRun(e.target.checked)}
            />
            <span>Dry run</span>
          </label>
          {!canPush(status) && <span className="muted">Drafts are not pushed.</span>}
        </div>
      )}
      {error && <RegistryError error={error.error} label={error.what} />}
      {report && <PushResult report={report} />}
    </section>
  );
}

function PushResult({ report }: { report: PushReport }) {
  const where = `${report.registry}/${report.repository}`;
  return (
    <section className="reg-report" aria-label="Push report">
      <strong className="truncate" title={`${report.reference} → ${where}`}>
        {report.dry_run ? "Would push" : report.unchanged ? "Unchanged" : "Pushed"}{" "}
        {report.reference} → {where}
      </strong>
      {report.unchanged && (
        <p className="muted">
          unchanged: the registry's tag already names this digest, so nothing new{" "}
          {report.dry_run ? "would be" : "was"} sent.
        </p>
      )}
      <ul aria-label="Pushed artifacts">
        {report.artifacts.map((a) => (
          <li className="reg-artifact" key={`${a.tag} ${a.digest}`}>
            <span className="badge">{artifactKind(a)}</span>
            <span className="mono truncate" title={`${a.tag}\n${a.artifact_type}\n${a.digest}`}>
              {a.tag}
            </span>
            <span className="muted">{layersText(a.layers)}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
