//! The offline review (DESIGN §1 the offline reviewer, §6, §7), in three parts: pack a
//! submitted version for a reviewer without network (a signed review package to save);
//! on the reviewer's machine, open a package, read what it holds and sign an approval
//! or a rejection (a file to carry back); and import a signed approval here, where it
//! counts towards the quorum. Every check is the back end's; refusals show by code.

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api } from "../../api";
import type { ApprovalRecord } from "../../bindings/ApprovalRecord";
import type { BundleIndex } from "../../bindings/BundleIndex";
import type { Decision } from "../../bindings/Decision";
import type { ReviewPackage } from "../../bindings/ReviewPackage";
import type { ReviewReport } from "../../bindings/ReviewReport";
import type { SignedApproval } from "../../bindings/SignedApproval";
import { type OpenedText, OpenFile, SaveFile } from "../../components/FileFields";
import { Failed, Loading } from "../../components/States";
import { type ErrorLike, errorHint, toErrorLike } from "../../errors";
import { checkComment } from "./inbox";
import {
  defaultEnvironment,
  diffText,
  importText,
  num,
  offlineHint,
  offlineTitle,
  packCandidates,
  reviewFileName,
  signatureText,
  signatureTone,
  splitReference,
  str,
} from "./offline";

export function OfflineReview({
  environments,
  reference,
  environment,
  onImported,
  onClose,
}: {
  /** The store's environments, in its order. */
  environments: readonly string[];
  /** The version selected in the inbox, packed by default. */
  reference?: string;
  environment?: string;
  /** Called after an approval was imported (the inbox reloads). */
  onImported: () => void;
  onClose: () => void;
}) {
  return (
    <section className="offline" aria-label="Offline review">
      <header className="review-section offline-head">
        <h2>Offline review</h2>
        <span className="muted">
          For a reviewer on a machine without network: pack, review and sign there, import here.
        </span>
        <span className="ovr-grow" />
        <button type="button" aria-label="Close offline review" onClick={onClose}>
          Close
        </button>
      </header>
      <Pack environments={environments} reference={reference} environment={environment} />
      <ReviewPackageFile />
      <ImportApproval onImported={onImported} />
    </section>
  );
}

function Refusal({ error, label }: { error: ErrorLike; label: string }) {
  const hint = offlineHint(error.code) ?? errorHint(error.code);
  return (
    <div className="ovr-refusal" role="alert" aria-label={label}>
      <strong>
        {offlineTitle(error.code)} <code>{error.code}</code>
      </strong>
      <p>{error.message}</p>
      {hint && hint !== error.message && <p className="muted">{hint}</p>}
    </div>
  );
}

function Pack({
  environments,
  reference,
  environment,
}: {
  environments: readonly string[];
  reference?: string;
  environment?: string;
}) {
  const [index, setIndex] = useState<BundleIndex | null>(null);
  const [loadError, setLoadError] = useState<ErrorLike | null>(null);
  const [ref, setRef] = useState(reference ?? "");
  const [env, setEnv] = useState(environment ?? "");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [packed, setPacked] = useState<ReviewPackage | null>(null);
  const seq = useRef(0);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    setLoadError(null);
    try {
      const next = await api.bundleIndex();
      if (mine === seq.current) setIndex(next);
    } catch (e) {
      if (mine === seq.current) setLoadError(toErrorLike(e));
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const candidates = useMemo(() => (index ? packCandidates(index) : []), [index]);
  const order = environments.length > 0 ? environments : (index?.environments ?? []);
  // A reference the list does not hold (the inbox's, say) is still offered.
  const options = useMemo(() => {
    const refs = candidates.map((c) => c.reference);
    if (reference && !refs.includes(reference)) refs.unshift(reference);
    return refs;
  }, [candidates, reference]);
  const chosen = ref || options[0] || "";
  const chosenEnv =
    env ||
    defaultEnvironment(
      candidates.find((c) => c.reference === chosen),
      order,
      environment,
    );

  const pack = async () => {
    setBusy(true);
    setError(null);
    setPacked(null);
    try {
      setPacked(await api.packReview(chosen, chosenEnv));
    } catch (e) {
      setError(toErrorLike(e));
    } finally {
      setBusy(false);
    }
  };

  let body: React.ReactNode;
  if (!index && !loadError) body = <Loading label="Loading versions…" />;
  else if (loadError && !index)
    body = (
      <Failed
        what="The versions could not be loaded"
        error={loadError}
        onRetry={() => void load()}
      />
    );
  else if (options.length === 0)
    body = (
      <p className="muted ovr-note">
        No version is under review: submit a version first, then pack it for a reviewer.
      </p>
    );
  else {
    const [bundle, version] = packed ? splitReference(packed.reference) : ["", ""];
    body = (
      <>
        <div className="ovr-row">
          <label className="ovr-field ovr-grow">
            <span>Version</span>
            <select
              aria-label="Package reference"
              value={chosen}
              disabled={busy}
              onChange={(e) => {
                setRef(e.target.value);
                setEnv("");
                setPacked(null);
              }}
            >
              {options.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
          <label className="ovr-field">
            <span>Environment</span>
            <select
              aria-label="Package environment"
              value={chosenEnv}
              disabled={busy}
              onChange={(e) => {
                setEnv(e.target.value);
                setPacked(null);
              }}
            >
              {order.map((e) => (
                <option key={e} value={e}>
                  {e}
                </option>
              ))}
            </select>
          </label>
          <button
            type="button"
            className="primary"
            aria-label="Pack review"
            disabled={busy || !chosen || !chosenEnv}
            onClick={() => void pack()}
          >
            {busy ? "Packing…" : "Pack review"}
          </button>
        </div>
        {error && <Refusal error={error} label="Pack refused" />}
        {packed && (
          <section className="ovr-issued" aria-label="Packed review">
            <span>
              Packed <strong className="mono">{packed.reference}</strong> for{" "}
              <strong>{packed.environment}</strong>, with {packed.approvals} approval
              {packed.approvals === 1 ? "" : "s"} so far; valid until{" "}
              {packed.expires_at.replace("T", " ").replace("Z", " UTC")}.
            </span>
            <span className="muted mono truncate" title={packed.digest}>
              {packed.digest}
            </span>
            <SaveFile
              key={`${packed.reference} ${packed.environment}`}
              label="Review package"
              defaultPath={reviewFileName(bundle, version, packed.environment, "review")}
              text={() => JSON.stringify(packed.envelope, null, 2)}
            />
          </section>
        )}
      </>
    );
  }

  return (
    <section className="ovr-section" aria-label="Pack for an offline reviewer">
      <h2>Pack for an offline reviewer</h2>
      <p className="muted ovr-note">
        A signed package of the version, the one active there, their diff, the simulated impact,
        lint and the approvals so far. Carry the file to the reviewer's machine.
      </p>
      {body}
    </section>
  );
}

function ReviewPackageFile() {
  const [file, setFile] = useState<OpenedText | null>(null);
  const [report, setReport] = useState<ReviewReport | null>(null);
  const [reading, setReading] = useState(false);
  const [readError, setReadError] = useState<ErrorLike | null>(null);
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState<Decision | null>(null);
  const [refusal, setRefusal] = useState<ErrorLike | null>(null);
  const [signed, setSigned] = useState<SignedApproval | null>(null);

  const open = async (f: OpenedText) => {
    setFile(f);
    setReport(null);
    setReadError(null);
    setRefusal(null);
    setSigned(null);
    setReading(true);
    try {
      setReport(await api.showReview(f.text));
    } catch (e) {
      setReadError(toErrorLike(e));
    } finally {
      setReading(false);
    }
  };

  const sign = async (decision: Decision) => {
    if (!file) return;
    setRefusal(null);
    setSigned(null);
    const check = checkComment(decision, comment);
    if (!check.ok) {
      setRefusal({ code: "comment_required", message: check.reason });
      return;
    }
    setBusy(decision);
    try {
      setSigned(await api.signReview(file.text, decision, comment.trim()));
    } catch (e) {
      setRefusal(toErrorLike(e));
    } finally {
      setBusy(null);
    }
  };

  const [bundle, version] = signed ? splitReference(signed.reference) : ["", ""];
  return (
    <section className="ovr-section" aria-label="Review a package">
      <h2>Review a package</h2>
      <p className="muted ovr-note">
        On the reviewer's machine: open the package, read it, and sign with your own key. Every
        digest, the diff, the impact and lint are recomputed from the documents it carries.
      </p>
      <OpenFile
        label="Review package file"
        accept=".json,application/json"
        opened={file?.name}
        onOpen={(f) => void open(f)}
      />
      {reading && <Loading label="Reading the package…" />}
      {readError && <Refusal error={readError} label="Package refused" />}
      {report && <Report report={report} />}
      {report && (
        <div className="decide">
          <textarea
            aria-label="Offline comment"
            placeholder="Comment (a rejection needs at least 10 characters saying why)"
            value={comment}
            disabled={busy !== null}
            onChange={(e) => setComment(e.target.value)}
          />
          <div className="detail-actions">
            <button
              type="button"
              className="primary"
              aria-label="Sign approval"
              disabled={busy !== null}
              onClick={() => void sign("approve")}
            >
              {busy === "approve" ? "Signing…" : "Sign approval"}
            </button>
            <button
              type="button"
              className="danger"
              aria-label="Sign rejection"
              disabled={busy !== null}
              onClick={() => void sign("reject")}
            >
              {busy === "reject" ? "Signing…" : "Sign rejection"}
            </button>
            {!report.valid && (
              <span className="sev-error">This package would be refused: see its problems.</span>
            )}
          </div>
        </div>
      )}
      {refusal && <Refusal error={refusal} label="Signing refused" />}
      {signed && (
        <section className="ovr-issued" aria-label="Signed decision">
          <span>
            {signed.decision === "approve" ? "Approval" : "Rejection"} of{" "}
            <strong className="mono">{signed.reference}</strong> for{" "}
            <strong>{signed.environment}</strong> signed by {signed.approver} (key{" "}
            <span className="mono">{signed.keyid}</span>). Carry this file back to the console and
            import it there.
          </span>
          <SaveFile
            key={`${signed.reference} ${signed.environment} ${signed.decision}`}
            label="Signed approval"
            defaultPath={reviewFileName(bundle, version, signed.environment, "approval")}
            text={() => JSON.stringify(signed.envelope, null, 2)}
          />
        </section>
      )}
    </section>
  );
}

function Report({ report: r }: { report: ReviewReport }) {
  const sim = r.simulation;
  const cases = num(sim, "cases");
  const lintErrors = num(r.lint, "errors");
  return (
    <section className="offline-report" aria-label="Package report">
      <div className="review-head">
        <strong className="review-ref truncate mono" title={`${r.bundle}@${r.proposed.version}`}>
          {r.bundle}@{r.proposed.version}
        </strong>
        <span className="badge badge-info" title={`environment: ${r.environment}`}>
          {r.environment}
        </span>
        <span className="muted truncate" title={`author ${r.author}`}>
          by {r.author}
        </span>
        <span
          className={`badge badge-${r.valid ? "ok" : "bad"}`}
          title={r.valid ? "it can be signed here" : "it would be refused"}
        >
          {r.valid ? "can be signed" : "would be refused"}
        </span>
      </div>
      <dl className="ovr-facts">
        <dt>Signature</dt>
        <dd>
          <span className={`badge badge-${signatureTone(r.signature.status)}`}>
            {r.signature.status.replaceAll("_", " ")}
          </span>
          <span className="truncate" title={r.signature.message}>
            {r.signature.signers.length > 0
              ? `by ${r.signature.signers.map((s) => s.name).join(", ")}`
              : signatureText(r.signature.status)}
          </span>
        </dd>
        <dt>Contents</dt>
        <dd>
          {r.consistent ? (
            <span className="badge badge-ok">consistent</span>
          ) : (
            <span className="badge badge-bad">inconsistent</span>
          )}
          <span className="muted">digests, diff, impact and lint recomputed</span>
        </dd>
        <dt>Digest</dt>
        <dd className="mono truncate" title={r.proposed.digest}>
          {r.proposed.digest}
        </dd>
        <dt>Replaces</dt>
        <dd className="mono truncate" title={r.base?.digest ?? ""}>
          {r.base ? `${r.bundle}@${r.base.version}` : "nothing active there"}
        </dd>
        <dt>Impact</dt>
        <dd>
          {num(sim, "allow_to_deny") ?? "?"} allow → deny, {num(sim, "deny_to_allow") ?? "?"} deny →
          allow, {num(sim, "other") ?? "?"} other{cases !== null ? ` over ${cases} cases` : ""}
        </dd>
        <dt>Lint</dt>
        <dd className={lintErrors ? "sev-error" : undefined}>
          {lintErrors ?? "?"} errors, {num(r.lint, "warnings") ?? "?"} warnings,{" "}
          {num(r.lint, "info") ?? "?"} info over {num(r.lint, "total_rules") ?? "?"} rules
        </dd>
        <dt>Diff</dt>
        <dd>
          {diffText(r.diff)}
          {str(r.diff, "class") && (
            <span className="badge" title="what the changes do to decisions">
              {str(r.diff, "class")}
            </span>
          )}
        </dd>
        <dt>Valid</dt>
        <dd>
          {r.issued_at.replace("T", " ")} → {r.expires_at.replace("T", " ")}
        </dd>
      </dl>
      {r.problems.length > 0 && (
        <ul className="offline-problems" aria-label="Package problems">
          {r.problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
      <h3>Approvals carried ({r.approvals.length})</h3>
      {r.approvals.length === 0 ? (
        <p className="muted ovr-note">No approval yet.</p>
      ) : (
        <ul className="review-list" aria-label="Approvals carried">
          {r.approvals.map((a) => (
            <li key={`${a.keyid}-${a.decision}`}>
              <span className={`badge badge-${a.decision === "approve" ? "ok" : "bad"}`}>
                {a.decision === "approve" ? "approved" : "rejected"}
              </span>
              <strong className="truncate" title={`${a.approver} (key ${a.keyid})`}>
                {a.approver}
              </strong>
              {!a.verified && (
                <span className="badge badge-warn" title={a.message}>
                  not verified here
                </span>
              )}
              <span className="truncate muted" title={a.comment}>
                {a.comment || "no comment"}
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function ImportApproval({ onImported }: { onImported: () => void }) {
  const [file, setFile] = useState<OpenedText | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorLike | null>(null);
  const [record, setRecord] = useState<ApprovalRecord | null>(null);

  const importIt = async () => {
    if (!file) return;
    setBusy(true);
    setError(null);
    setRecord(null);
    try {
      setRecord(await api.importApproval(file.text));
      onImported();
    } catch (e) {
      setError(toErrorLike(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="ovr-section" aria-label="Import a signed approval">
      <h2>Import a signed approval</h2>
      <p className="muted ovr-note">
        Back at the console: the reviewer's key must be trusted here with the approver role.
      </p>
      <OpenFile
        label="Approval file"
        accept=".json,application/json"
        opened={file?.name}
        onOpen={(f) => {
          setFile(f);
          setError(null);
          setRecord(null);
        }}
      />
      <div className="detail-actions">
        <button
          type="button"
          className="primary"
          aria-label="Import approval"
          disabled={!file || busy}
          title={file ? "Record the approval in this store" : "Open an approval file first"}
          onClick={() => void importIt()}
        >
          {busy ? "Importing…" : "Import approval"}
        </button>
      </div>
      {error && <Refusal error={error} label="Import refused" />}
      {record && (
        <output className="decide-result" aria-label="Import result">
          {importText(record)}.{" "}
          <span>
            {record.decision === "approve" ? "Approval" : "Rejection"} by {record.approver} of{" "}
            <span className="mono">{record.reference}</span> in {record.environment} (
            {record.state.replaceAll("_", " ")}).
          </span>
        </output>
      )}
    </section>
  );
}
