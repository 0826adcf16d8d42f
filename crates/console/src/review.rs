//! Offline review (issue 20): `review pack` signs a `review.v1` package of a
//! submitted version for one environment (both documents with their
//! digests, their diff, the simulated impact, the lint summary and the
//! approvals so far); `review show` reads one; `review sign` runs on a
//! reviewer's machine with only the reviewer's identity, recomputes every
//! digest, the diff, the impact and the lint summary from the documents in
//! the package, and signs an `approval.v1` exactly as `gavel approve`
//! would; `review import` checks that approval against this store and
//! records it through the lifecycle's own checks.
//!
//! What an approval binds is the digests: the package's own signature is
//! checked where the reviewer's trust store knows its key (and a bad one
//! refuses the package), but a reviewer who does not know the console's
//! key can still review, because everything the package says is recomputed
//! from its documents and the console accepts the approval only for a
//! submitted version with that digest, against the base that is active
//! when it is imported.

use gavel_policy::{Bundle, Format};
use gavel_store::NewEntry;
use gavel_store::versions::{BundleVersion, VersionStatus};
use gavel_trust::{PayloadKind, Reason, Signer, VerifyOptions};
use serde::Serialize;
use serde_json::{Value, json};

use crate::lifecycle::{
    ApprovalRecord, ApprovalStatement, Decision, EVIDENCE_CASES, EVIDENCE_SEED, Evidence,
    LifecycleError, MIN_COMMENT_CHARS, bundle_of, evidence_of,
};
use crate::versions::VersionError;
use crate::{Console, ConsoleError};

/// The DSSE payload type of a review package.
pub const REVIEW_TYPE: &str = PayloadKind::Review.media_type();

/// How far in the future a package's `issued_at` may be (clock skew
/// between the console and the reviewer's machine), as `verify` allows.
const SKEW_SECONDS: i64 = 60;

/// Why an offline review step was refused or could not run. `code()` is
/// what the CLI's `{"error": {"code"}}` and the desktop app branch on.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// A package that cannot be read as one, does not verify, has expired,
    /// or whose contents do not match its documents: each problem named.
    #[error(
        "review package refused: {}; nothing was signed: ask the console for a new package (`gavel review pack REF --env ENV`)",
        problems.join("; ")
    )]
    PackageRefused { problems: Vec<String> },
    /// An approval envelope that does not verify against the trust store,
    /// or that names a version or environment this store does not have.
    #[error(
        "cannot import the approval: {message} ({}); nothing was recorded",
        reason.map_or("refused", Reason::as_str)
    )]
    ApprovalRefused {
        reason: Option<Reason>,
        message: String,
    },
}

impl From<ConsoleError> for ReviewError {
    fn from(e: ConsoleError) -> Self {
        ReviewError::Lifecycle(e.into())
    }
}

impl From<VersionError> for ReviewError {
    fn from(e: VersionError) -> Self {
        ReviewError::Lifecycle(e.into())
    }
}

impl From<gavel_store::StoreError> for ReviewError {
    fn from(e: gavel_store::StoreError) -> Self {
        ReviewError::Lifecycle(e.into())
    }
}

impl ReviewError {
    /// Refusals (exit 1): the package or approval was read and does not
    /// hold, or a precondition of the lifecycle does not.
    pub fn is_refusal(&self) -> bool {
        match self {
            ReviewError::Lifecycle(e) => e.is_refusal(),
            ReviewError::PackageRefused { .. } | ReviewError::ApprovalRefused { .. } => true,
        }
    }

    /// The error code (`None`: a version or console error, coded as theirs).
    pub fn code(&self) -> Option<&'static str> {
        match self {
            ReviewError::Lifecycle(e) => e.code(),
            ReviewError::PackageRefused { .. } => Some("package_refused"),
            ReviewError::ApprovalRefused { .. } => Some("approval_refused"),
        }
    }
}

/// What `review pack` made.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ReviewPackage {
    pub reference: String,
    pub digest: String,
    pub environment: String,
    /// The active version's digest the package was made against.
    pub base_digest: Option<String>,
    /// Key id of the signer.
    pub keyid: String,
    pub expires_at: String,
    /// Approval envelopes carried (recorded so far for this digest here).
    pub approvals: usize,
    /// The signed `review.v1` envelope.
    pub envelope: Value,
}

/// A version as a package names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct PackedVersion {
    pub version: String,
    pub digest: String,
}

/// How the package's signature fares against this store's trust store.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct PackageSignature {
    /// `verified` (a trusted key with the author role signed it),
    /// `unknown_signer` (no such key here: not fatal, the digests are what
    /// an approval binds) or `invalid` (a bad signature, or not a DSSE
    /// review envelope).
    pub status: &'static str,
    /// The signers that vouch for it (`verified` only).
    pub signers: Vec<Signer>,
    /// Every key id the envelope names.
    pub keyids: Vec<String>,
    pub reason: Option<Reason>,
    pub message: String,
}

/// An approval carried in a package, as this store sees it.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct PackedApproval {
    pub approver: String,
    pub keyid: String,
    pub decision: String,
    pub comment: String,
    pub expires_at: String,
    /// It verifies against this store's trust store now and names the
    /// package's digest and environment.
    pub verified: bool,
    pub message: String,
}

/// `review show`: what a reviewer needs, and whether the package holds.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ReviewReport {
    pub bundle: String,
    pub environment: String,
    /// The author of the proposed version.
    pub author: String,
    pub proposed: PackedVersion,
    pub base: Option<PackedVersion>,
    /// `gavel diff`'s object, base → proposed, as the package states it.
    pub diff: Value,
    pub simulation: Value,
    pub lint: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gates: Option<Value>,
    pub approvals: Vec<PackedApproval>,
    pub issued_at: String,
    pub expires_at: String,
    pub signature: PackageSignature,
    /// The digests, names, diff, impact and lint summary match the
    /// documents.
    pub consistent: bool,
    /// Every reason `review sign` would refuse the package (empty: it
    /// would sign it).
    pub problems: Vec<String>,
    pub valid: bool,
}

/// What `review sign` made: an `approval.v1` envelope for the console.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct SignedApproval {
    /// `NAME@VERSION` of the proposed version.
    pub reference: String,
    pub digest: String,
    pub base_digest: Option<String>,
    pub environment: String,
    pub decision: Decision,
    pub approver: String,
    pub keyid: String,
    pub comment: String,
    pub expires_at: String,
    /// How the package's signature fared here.
    pub package: PackageSignature,
    pub envelope: Value,
}

/// One side of a package: a version and its document.
#[derive(Debug, Clone)]
struct Side {
    version: String,
    digest: String,
    document: Value,
}

/// A review package's payload, read.
#[derive(Debug, Clone)]
struct Package {
    bundle: String,
    environment: String,
    author: String,
    proposed: Side,
    base: Option<Side>,
    diff: Value,
    simulation: Value,
    lint: Value,
    gates: Option<Value>,
    signatures: Vec<Value>,
    issued_at: String,
    expires_at: String,
}

impl Package {
    /// Reads a payload already checked to be well formed for `review.v1`,
    /// needing what `review pack` always writes.
    fn read(p: &Value) -> Result<Package, String> {
        let text = |k: &str| -> Result<String, String> {
            p.get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| {
                    format!("`{k}` is missing: this is not a package `gavel review pack` made")
                })
        };
        let object = |k: &str| -> Result<Value, String> {
            p.get(k).filter(|v| v.is_object()).cloned().ok_or_else(|| {
                format!("`{k}` is missing: this is not a package `gavel review pack` made")
            })
        };
        let side = |k: &str| -> Result<Option<Side>, String> {
            let Some(s) = p.get(k).filter(|s| !s.is_null()) else {
                return Ok(None);
            };
            let version = s
                .get("version")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("`{k}.version` is null: a stored version always has one"))?;
            Ok(Some(Side {
                version: version.to_string(),
                digest: s
                    .get("digest")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                document: s.get("bundle").cloned().unwrap_or(Value::Null),
            }))
        };
        Ok(Package {
            bundle: text("bundle")?,
            environment: text("environment")?,
            author: text("author")?,
            proposed: side("proposed")?.ok_or_else(|| "`proposed` is missing".to_string())?,
            base: side("base")?,
            diff: object("diff")?,
            simulation: object("simulation")?,
            lint: object("lint")?,
            gates: p.get("gates").cloned(),
            signatures: p
                .get("signatures")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            issued_at: text("issued_at")?,
            expires_at: text("expires_at")?,
        })
    }

    fn reference(&self) -> String {
        format!("{}@{}", self.bundle, self.proposed.version)
    }
}

/// What a package states about its documents, recomputed from them.
#[derive(Debug, Clone)]
struct Facts {
    diff: Value,
    simulation: Value,
    lint: Value,
    evidence: Evidence,
}

/// A document of the JSON data model read as a bundle (as the reviewer's
/// machine reads it, so that both sides compute from the same input).
fn parse_document(doc: &Value, what: &str) -> Result<Bundle, String> {
    let text = serde_json::to_string(doc)
        .map_err(|e| format!("the {what} document cannot be read: {e}"))?;
    gavel_policy::parse_bundle(&text, Format::Json).map_err(|e| {
        let all = e.diagnostics();
        let first = all.first().map_or_else(
            || e.to_string(),
            |d| match d.pointer.as_deref() {
                Some(p) if !p.is_empty() => format!("{} (at `{p}`)", d.message),
                _ => d.message.clone(),
            },
        );
        let more = match all.len() {
            0 | 1 => String::new(),
            n => format!(" and {} more problem(s)", n - 1),
        };
        format!("the {what} document is not a valid bundle: {first}{more}")
    })
}

/// The diff (base → proposed, against an empty bundle where nothing is
/// active), the simulated impact and the lint summary of the proposed
/// version: deterministic (the evidence's cases have a fixed seed).
fn facts(proposed: &Bundle, base: Option<&Bundle>) -> Result<Facts, String> {
    let empty = gavel_policy::parse_bundle("[]", Format::Json)
        .map_err(|e| format!("no empty bundle to compare with: {e}"))?;
    let diff = gavel_policy::diff(base.unwrap_or(&empty), proposed);
    let evidence = evidence_of(proposed, base);
    let i = &evidence.impact;
    Ok(Facts {
        diff: serde_json::to_value(&diff)
            .map_err(|e| format!("the diff cannot be written: {e}"))?,
        simulation: json!({
            "allow_to_deny": i.allow_to_deny,
            "deny_to_allow": i.deny_to_allow,
            "other": i.other,
            "cases": i.cases,
            "seed": EVIDENCE_SEED,
            "synthetic_cases": EVIDENCE_CASES,
        }),
        lint: serde_json::to_value(evidence.lint)
            .map_err(|e| format!("the lint summary cannot be written: {e}"))?,
        evidence,
    })
}

/// `a=1, b=2` of the numbers in an object, for messages.
fn counts(v: &Value, keys: &[&str]) -> String {
    keys.iter()
        .map(|k| match v.get(*k) {
            Some(n) => format!("{k} {n}"),
            None => format!("{k} none"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `N added, N removed, N modified` of a diff object.
fn diff_counts(d: &Value) -> String {
    let n = |k: &str| d.get(k).and_then(Value::as_array).map_or(0, Vec::len);
    format!(
        "{} added, {} removed, {} modified, class {}",
        n("added"),
        n("removed"),
        n("modified"),
        d.get("class").and_then(Value::as_str).unwrap_or("none")
    )
}

const IMPACT_KEYS: [&str; 5] = ["allow_to_deny", "deny_to_allow", "other", "cases", "seed"];
const LINT_KEYS: [&str; 4] = ["total_rules", "errors", "warnings", "info"];

/// Whether two values are the same once signed: compared as their RFC
/// 8785 forms, in which `1.0` and `1` are one number (a package's payload
/// reaches the reviewer in that form).
fn same(a: &Value, b: &Value) -> bool {
    match (gavel_trust::canonicalize(a), gavel_trust::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Every way the package's contents disagree with its documents.
fn mismatches(p: &Package) -> (Vec<String>, Option<Facts>) {
    let mut out = Vec::new();
    let sides = [("proposed", Some(&p.proposed)), ("base", p.base.as_ref())];
    for (at, side) in sides {
        let Some(side) = side else { continue };
        match gavel_trust::bundle_digest(&side.document) {
            Ok(d) if d.to_string() == side.digest => {}
            Ok(d) => out.push(format!(
                "`{at}.digest` says {} but the {at} document's digest is {d}",
                side.digest
            )),
            Err(e) => out.push(format!("the {at} document has no digest: {e}")),
        }
    }
    let proposed = parse_document(&p.proposed.document, "proposed");
    let base = p
        .base
        .as_ref()
        .map(|b| parse_document(&b.document, "base"))
        .transpose();
    let (proposed, base) = match (proposed, base) {
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => {
            out.extend(a.err());
            out.extend(b.err());
            return (out, None);
        }
    };
    let named = [
        ("proposed", Some((&proposed, &p.proposed))),
        ("base", base.as_ref().zip(p.base.as_ref())),
    ];
    for (at, side) in named {
        let Some((b, side)) = side else { continue };
        let name = b.metadata.name.as_deref().unwrap_or("");
        if name != p.bundle {
            out.push(format!(
                "`bundle` says `{}` but the {at} document's `metadata.name` is `{name}`",
                p.bundle
            ));
        }
        let version = b.metadata.version.as_deref().unwrap_or("");
        if version != side.version {
            out.push(format!(
                "`{at}.version` says `{}` but the {at} document's `metadata.version` is `{version}`",
                side.version
            ));
        }
    }
    let f = match facts(&proposed, base.as_ref()) {
        Ok(f) => f,
        Err(e) => {
            out.push(e);
            return (out, None);
        }
    };
    if !same(&f.diff, &p.diff) {
        out.push(format!(
            "`diff` does not match the diff of the documents (the package says {}; recomputed: {})",
            diff_counts(&p.diff),
            diff_counts(&f.diff)
        ));
    }
    if !same(&f.simulation, &p.simulation) {
        out.push(format!(
            "`simulation` does not match the impact simulated from the documents (the package says {}; recomputed: {})",
            counts(&p.simulation, &IMPACT_KEYS),
            counts(&f.simulation, &IMPACT_KEYS)
        ));
    }
    if !same(&f.lint, &p.lint) {
        out.push(format!(
            "`lint` does not match the lint summary of the proposed document (the package says {}; recomputed: {})",
            counts(&p.lint, &LINT_KEYS),
            counts(&f.lint, &LINT_KEYS)
        ));
    }
    (out, Some(f))
}

/// Whether the package is valid at `now`: `None`, or why not.
fn time_problem(p: &Package, now: jiff::Timestamp) -> Option<String> {
    let at = |t: &str| t.parse::<jiff::Timestamp>().ok().map(|t| t.as_second());
    match (at(&p.issued_at), at(&p.expires_at)) {
        (Some(i), _) if i > now.as_second() + SKEW_SECONDS => Some(format!(
            "it is not valid before {} (check this machine's clock)",
            p.issued_at
        )),
        (_, Some(e)) if e <= now.as_second() => Some(format!("it expired at {}", p.expires_at)),
        (Some(_), Some(_)) => None,
        _ => Some("its `issued_at` and `expires_at` are not RFC 3339 times".into()),
    }
}

fn comment_ok(text: &str) -> bool {
    text.trim().chars().count() >= MIN_COMMENT_CHARS
}

/// The key ids an envelope's signatures name.
fn keyids(envelope: &Value) -> Vec<String> {
    envelope
        .get("signatures")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|s| s.get("keyid").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A DSSE envelope's payload, parsed, where it has one.
fn payload_of(envelope: &Value) -> Option<Value> {
    crate::overrides::dsse_payload(envelope).and_then(|p| serde_json::from_slice(&p).ok())
}

/// A package read and checked: what `show` prints and `sign` acts on.
#[derive(Debug)]
struct Examined {
    package: Package,
    signature: PackageSignature,
    consistent: bool,
    problems: Vec<String>,
    facts: Option<Facts>,
}

impl Console {
    /// `gavel review pack REF --env ENV`: a `review.v1` envelope signed by
    /// the acting identity (who needs the author role) of a submitted
    /// version still open for review in `env`, against the version active
    /// there; audited as `review.pack`.
    pub async fn pack_review(
        &self,
        reference: &str,
        env: &str,
        validity_seconds: Option<i64>,
        actor: Option<&str>,
    ) -> Result<ReviewPackage, ReviewError> {
        let environment = self.env(env).await?;
        let me = self.acting_identity(actor).await?;
        let version = self.resolve_version(reference).await?;
        if version.status == VersionStatus::Draft {
            return Err(LifecycleError::NotSubmitted {
                reference: version.reference(),
            }
            .into());
        }
        let state = self.store.deploy_state(version.id, env).await?;
        if !state.open_for_review() {
            return Err(LifecycleError::ReviewClosed {
                reference: version.reference(),
                environment: env.to_string(),
                state,
            }
            .into());
        }
        let current = self.current(&version.name, env).await?;
        let base = self.base_of(&current).await?;
        let proposed_doc = bundle_of(&version)?.document().to_json();
        let corrupt = |m: String| ReviewError::from(gavel_store::StoreError::Corrupt(m));
        let digest = gavel_trust::bundle_digest(&proposed_doc)
            .map_err(|e| corrupt(format!("`{}` has no digest: {e}", version.reference())))?
            .to_string();
        if digest != version.digest {
            return Err(corrupt(format!(
                "the stored document of `{}` has digest {digest}, not its recorded {}",
                version.reference(),
                version.digest
            )));
        }
        let base = base.map(|(v, b)| (v, b.document().to_json()));
        let proposed = parse_document(&proposed_doc, "proposed").map_err(corrupt)?;
        let base_bundle = base
            .as_ref()
            .map(|(_, d)| parse_document(d, "base"))
            .transpose()
            .map_err(corrupt)?;
        let f = facts(&proposed, base_bundle.as_ref()).map_err(corrupt)?;
        let gates = match current.rollout.as_ref().and_then(|r| r.canary.as_ref()) {
            Some(_) => self
                .store
                .last_gate_check(&version.name, env)
                .await?
                .and_then(|c| c.report.get("gates").cloned())
                .filter(|g| g.as_array().is_some_and(|l| l.iter().all(Value::is_object))),
            None => None,
        };
        let signatures: Vec<Value> = self
            .store
            .approvals(&version.digest, Some(env))
            .await?
            .into_iter()
            .map(|a| a.envelope)
            .collect();
        let mut statement = json!({
            "bundle": version.name,
            "environment": environment.name,
            "author": version.author,
            "proposed": {"version": version.version, "digest": version.digest, "bundle": proposed_doc},
            "base": base.as_ref().map(|(v, d)| json!({"version": v.version, "digest": v.digest, "bundle": d})),
            "diff": f.diff,
            "simulation": f.simulation,
            "lint": f.lint,
            "signatures": signatures,
        });
        if let (Some(g), Some(o)) = (gates, statement.as_object_mut()) {
            o.insert("gates".into(), g);
        }
        let envelope = self
            .sign_statement(
                PayloadKind::Review,
                &statement,
                validity_seconds,
                Some(&me.keyid.0),
            )
            .await?;
        let expires_at = payload_of(&envelope)
            .and_then(|p| {
                p.get("expires_at")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_default();
        let base_digest = base.as_ref().map(|(v, _)| v.digest.clone());
        self.store
            .audit_event(NewEntry {
                actor: &me.name,
                action: "review.pack",
                subject: &version.reference(),
                details: json!({
                    "digest": version.digest,
                    "environment": env,
                    "base_digest": base_digest,
                    "keyid": me.keyid.0,
                    "approvals": signatures.len(),
                    "expires_at": expires_at,
                }),
            })
            .await?;
        Ok(ReviewPackage {
            reference: version.reference(),
            digest: version.digest,
            environment: env.to_string(),
            base_digest,
            keyid: me.keyid.0,
            expires_at,
            approvals: signatures.len(),
            envelope,
        })
    }

    /// Reads a package and checks it as `review sign` does: refused only
    /// when it cannot be read as a review package at all.
    async fn examine(&self, doc: &Value, now: jiff::Timestamp) -> Result<Examined, ReviewError> {
        let refuse = |m: String| ReviewError::PackageRefused { problems: vec![m] };
        match doc.get("payloadType").and_then(Value::as_str) {
            Some(t) if t == REVIEW_TYPE => {}
            Some(t) => {
                return Err(refuse(format!(
                    "its payload type is `{t}`, not `{REVIEW_TYPE}`: this is not a review package (wrong_payload_type)"
                )));
            }
            None => {
                return Err(refuse(
                    "it is not a DSSE envelope (`payloadType`, `payload`, `signatures`): this is not a review package (malformed)".into(),
                ));
            }
        }
        let payload = crate::overrides::dsse_payload(doc)
            .ok_or_else(|| refuse("its `payload` is not standard base64 (malformed)".into()))?;
        let payload: Value = serde_json::from_slice(&payload)
            .map_err(|e| refuse(format!("its payload is not JSON: {e} (malformed)")))?;
        PayloadKind::Review
            .check(&payload)
            .map_err(|e| refuse(format!("its payload is not well formed: {e} (malformed)")))?;
        let package = Package::read(&payload).map_err(|e| refuse(format!("{e} (malformed)")))?;
        let trusted = self.trusted_keys().await?;
        let v = gavel_trust::verify_by_owner(
            doc,
            &VerifyOptions {
                now,
                trusted: &trusted,
                secret: None,
                expected_type: Some(REVIEW_TYPE),
            },
        );
        // Times and digests are checked below whoever signed; a failure of
        // theirs here still means the signature itself verified.
        let status = match v.reason {
            None | Some(Reason::Expired | Reason::NotYetValid | Reason::DigestMismatch) => {
                "verified"
            }
            Some(Reason::UnknownKey) => "unknown_signer",
            Some(_) => "invalid",
        };
        let signature = PackageSignature {
            status,
            signers: if status == "verified" {
                v.signers.clone()
            } else {
                Vec::new()
            },
            keyids: keyids(doc),
            reason: v.reason.filter(|_| status != "verified"),
            message: if status == "verified" {
                "valid".into()
            } else {
                v.message.clone()
            },
        };
        let mut problems = Vec::new();
        if status == "invalid" {
            problems.push(format!(
                "its signature does not verify: {} ({})",
                v.message,
                v.reason.map_or("invalid", Reason::as_str)
            ));
        }
        problems.extend(time_problem(&package, now));
        let (mismatched, facts) = mismatches(&package);
        let consistent = mismatched.is_empty();
        problems.extend(mismatched);
        Ok(Examined {
            package,
            signature,
            consistent,
            problems,
            facts,
        })
    }

    /// The approvals a package carries, each checked against this store's
    /// trust store now and against the package's digest and environment.
    async fn packed_approvals(
        &self,
        p: &Package,
        now: jiff::Timestamp,
    ) -> Result<Vec<PackedApproval>, ReviewError> {
        let trusted = self.trusted_keys().await?;
        let mut out = Vec::new();
        for envelope in &p.signatures {
            let payload = payload_of(envelope).unwrap_or(Value::Null);
            let text = |k: &str| {
                payload
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let v = gavel_trust::verify_by_owner(
                envelope,
                &VerifyOptions {
                    now,
                    trusted: &trusted,
                    secret: None,
                    expected_type: Some(PayloadKind::Approval.media_type()),
                },
            );
            let (verified, message) = if !v.valid {
                (false, v.message)
            } else if text("digest") != p.proposed.digest || text("environment") != p.environment {
                (
                    false,
                    "it names another digest or environment than the package".into(),
                )
            } else {
                (true, "valid".into())
            };
            out.push(PackedApproval {
                approver: text("approver"),
                keyid: keyids(envelope).into_iter().next().unwrap_or_default(),
                decision: text("decision"),
                comment: text("comment"),
                expires_at: text("expires_at"),
                verified,
                message,
            });
        }
        Ok(out)
    }

    /// `gavel review show FILE`: the package as a reviewer reads it, with
    /// how its signature fares here and every reason `review sign` would
    /// refuse it.
    pub async fn show_review(&self, doc: &Value) -> Result<ReviewReport, ReviewError> {
        let now = jiff::Timestamp::now();
        let ex = self.examine(doc, now).await?;
        let approvals = self.packed_approvals(&ex.package, now).await?;
        let p = ex.package;
        let side = |s: &Side| PackedVersion {
            version: s.version.clone(),
            digest: s.digest.clone(),
        };
        Ok(ReviewReport {
            proposed: side(&p.proposed),
            base: p.base.as_ref().map(side),
            bundle: p.bundle,
            environment: p.environment,
            author: p.author,
            diff: p.diff,
            simulation: p.simulation,
            lint: p.lint,
            gates: p.gates,
            approvals,
            issued_at: p.issued_at,
            expires_at: p.expires_at,
            signature: ex.signature,
            consistent: ex.consistent,
            valid: ex.problems.is_empty(),
            problems: ex.problems,
        })
    }

    /// `gavel review sign FILE --decision D --comment TEXT`: on a
    /// reviewer's machine, with only the acting identity (who needs the
    /// approver role here) and no copy of the bundle: checks the package as
    /// `show` does, refuses it on any problem, and signs the `approval.v1`
    /// statement `gavel approve` would sign, evidence recomputed from the
    /// documents. Nothing is written to the store.
    pub async fn sign_review(
        &self,
        doc: &Value,
        decision: Decision,
        comment: &str,
        validity_seconds: Option<i64>,
        actor: Option<&str>,
    ) -> Result<SignedApproval, ReviewError> {
        if decision == Decision::Reject && !comment_ok(comment) {
            return Err(LifecycleError::CommentTooShort {
                what: "a rejection",
                flag: "comment",
            }
            .into());
        }
        let me = self.acting_identity(actor).await?;
        let ex = self.examine(doc, jiff::Timestamp::now()).await?;
        let (p, facts) = match (ex.problems.is_empty(), ex.facts) {
            (true, Some(f)) => (ex.package, f),
            _ => {
                return Err(ReviewError::PackageRefused {
                    problems: ex.problems,
                });
            }
        };
        if p.author == me.name {
            return Err(LifecycleError::Author {
                name: me.name,
                reference: p.reference(),
            }
            .into());
        }
        // This key's own decision already in the package: the console
        // would refuse a second one.
        for envelope in &p.signatures {
            let payload = payload_of(envelope).unwrap_or(Value::Null);
            let said = |k: &str| payload.get(k).and_then(Value::as_str).unwrap_or_default();
            if keyids(envelope).contains(&me.keyid.0)
                && said("digest") == p.proposed.digest
                && said("environment") == p.environment
            {
                return Err(LifecycleError::AlreadyDecided {
                    keyid: me.keyid.0,
                    reference: p.reference(),
                    environment: p.environment,
                    decision: match said("decision") {
                        "reject" => "rejected",
                        _ => "approved",
                    },
                    at: said("issued_at").to_string(),
                }
                .into());
            }
        }
        let mut evidence = facts.evidence;
        evidence.gates = p.gates.clone();
        let envelope = self
            .sign_approval(
                &me,
                ApprovalStatement {
                    digest: &p.proposed.digest,
                    base_digest: p.base.as_ref().map(|b| b.digest.as_str()),
                    version: &p.proposed.version,
                    environment: &p.environment,
                    decision,
                    comment,
                    evidence: &evidence,
                },
                validity_seconds,
            )
            .await?;
        let expires_at = payload_of(&envelope)
            .and_then(|p| {
                p.get("expires_at")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_default();
        Ok(SignedApproval {
            reference: p.reference(),
            digest: p.proposed.digest,
            base_digest: p.base.as_ref().map(|b| b.digest.clone()),
            environment: p.environment,
            decision,
            approver: me.name,
            keyid: me.keyid.0,
            comment: comment.to_string(),
            expires_at,
            package: ex.signature,
            envelope,
        })
    }

    /// `gavel review import FILE`: an approval envelope verified against
    /// the trust store (a trusted, unexpired key with the approver role,
    /// stating only roles it holds; one signature), for a submitted
    /// version of this store with that digest and version, signed against
    /// the environment's active version of now, by someone other than its
    /// author who has not decided on it here; recorded (source `review`)
    /// with its audit entry, or refused with nothing written.
    pub async fn import_review(&self, doc: &Value) -> Result<ApprovalRecord, ReviewError> {
        self.import_approval_as(doc, "review").await
    }

    /// [`Console::import_review`] of an approval that came by `source`
    /// (`review`: a file; `registry`: a team's registry).
    pub(crate) async fn import_approval_as(
        &self,
        doc: &Value,
        source: &'static str,
    ) -> Result<ApprovalRecord, ReviewError> {
        let refuse = |reason, message: String| ReviewError::ApprovalRefused { reason, message };
        let trusted = self.trusted_keys().await?;
        let v = gavel_trust::verify_by_owner(
            doc,
            &VerifyOptions {
                now: jiff::Timestamp::now(),
                trusted: &trusted,
                secret: None,
                expected_type: Some(PayloadKind::Approval.media_type()),
            },
        );
        if !v.valid {
            return Err(refuse(v.reason, v.message));
        }
        // One signature (a valid envelope's one signer is its key): the key
        // recorded is the key that vouches.
        let ids = keyids(doc);
        let signer = match (ids.as_slice(), v.signers.as_slice()) {
            ([_], [signer]) => signer.clone(),
            _ => {
                return Err(refuse(
                    Some(Reason::Malformed),
                    format!(
                        "an approval carries exactly one signature, its approver's; this one has {}",
                        ids.len()
                    ),
                ));
            }
        };
        let payload = v.payload.unwrap_or(Value::Null);
        let said = |k: &str| payload.get(k).and_then(Value::as_str).unwrap_or_default();
        let (digest, env) = (said("digest"), said("environment"));
        let decision = Decision::parse(said("decision")).ok_or_else(|| {
            refuse(
                Some(Reason::Malformed),
                "the approval names no decision".into(),
            )
        })?;
        let Some(environment) = self.store.environment(env).await? else {
            return Err(refuse(
                None,
                format!("it is for environment `{env}`, which this store does not have"),
            ));
        };
        let version: BundleVersion = self
            .store
            .versions_by_digest_prefix(digest)
            .await?
            .into_iter()
            .find(|v| v.digest == digest)
            .ok_or_else(|| {
                refuse(
                    None,
                    format!("no version of this store has digest {digest}: the approval is for a version this console did not pack"),
                )
            })?;
        if said("version") != version.version {
            return Err(refuse(
                None,
                format!(
                    "it names version `{}`, but digest {digest} is `{}`",
                    said("version"),
                    version.reference()
                ),
            ));
        }
        if decision == Decision::Reject && !comment_ok(said("comment")) {
            return Err(LifecycleError::CommentTooShort {
                what: "a rejection",
                flag: "comment",
            }
            .into());
        }
        self.check_reviewer(
            &version,
            &environment,
            &signer.name,
            &signer.keyid,
            decision,
        )
        .await?;
        let current = self.current(&version.name, env).await?;
        let active = current.active().map(|s| s.digest.clone());
        let signed_base = payload
            .get("base_digest")
            .and_then(Value::as_str)
            .map(str::to_string);
        if signed_base != active {
            let shown = |d: &Option<String>| d.clone().unwrap_or_else(|| "none".into());
            return Err(LifecycleError::Stale(format!(
                "the approval of `{}` was signed against base {} but the active version in {env} is now {}: the review was against another base; pack it again with `gavel review pack {} --env {env}` for a new review",
                version.reference(),
                shown(&signed_base),
                shown(&active),
                version.reference()
            ))
            .into());
        }
        let record = self
            .record_decision(
                &version,
                &environment,
                doc.clone(),
                source,
                current.serial(),
            )
            .await?;
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_the_same_as_signed() {
        assert!(same(
            &json!({"a": 1.0, "b": [2]}),
            &json!({"b": [2], "a": 1})
        ));
        assert!(!same(&json!({"a": 1}), &json!({"a": 2})));
        assert!(!same(&json!([1]), &json!([1, 1])));
    }

    fn package(issued_at: &str, expires_at: &str) -> Package {
        let side = Side {
            version: "1.0.0".into(),
            digest: String::new(),
            document: Value::Null,
        };
        Package {
            bundle: "b".into(),
            environment: "prod".into(),
            author: "alice".into(),
            proposed: side,
            base: None,
            diff: json!({}),
            simulation: json!({}),
            lint: json!({}),
            gates: None,
            signatures: Vec::new(),
            issued_at: issued_at.into(),
            expires_at: expires_at.into(),
        }
    }

    /// A package is valid from 60 seconds before its `issued_at` (clock
    /// skew) until just before its `expires_at`.
    #[test]
    fn a_package_is_valid_between_its_times_with_a_minute_of_skew() {
        let now: jiff::Timestamp = "2026-11-23T15:00:00Z".parse().unwrap();
        let p = |i: &str, e: &str| time_problem(&package(i, e), now);
        assert_eq!(p("2026-11-23T14:00:00Z", "2026-11-23T15:00:01Z"), None);
        assert_eq!(p("2026-11-23T15:01:00Z", "2026-11-24T00:00:00Z"), None);
        assert_eq!(
            p("2026-11-23T15:01:01Z", "2026-11-24T00:00:00Z").as_deref(),
            Some("it is not valid before 2026-11-23T15:01:01Z (check this machine's clock)")
        );
        assert_eq!(
            p("2026-11-23T14:00:00Z", "2026-11-23T15:00:00Z").as_deref(),
            Some("it expired at 2026-11-23T15:00:00Z")
        );
        assert_eq!(
            p("yesterday", "2026-11-24T00:00:00Z").as_deref(),
            Some("its `issued_at` and `expires_at` are not RFC 3339 times")
        );
        assert_eq!(
            p("2026-11-23T14:00:00Z", "never").as_deref(),
            Some("its `issued_at` and `expires_at` are not RFC 3339 times")
        );
    }

    #[test]
    fn messages_count_what_they_compare() {
        assert_eq!(counts(&json!({"a": 1, "b": 2}), &["a", "c"]), "a 1, c none");
        assert_eq!(
            diff_counts(&json!({"added": [1, 2], "modified": [3], "class": "tightening"})),
            "2 added, 0 removed, 1 modified, class tightening"
        );
        assert_eq!(
            keyids(&json!({"signatures": [{"keyid": "k1"}, {"sig": "x"}, {"keyid": "k2"}]})),
            vec!["k1", "k2"]
        );
    }
}
