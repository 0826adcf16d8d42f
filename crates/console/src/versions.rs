//! Bundle versions in the store (DESIGN §7, §9, §11.3, §11.9): `gavel
//! init`, and `gavel bundle new|list|show|edit|rm|diff|history|export|
//! import`, one function each, for the CLI and the desktop app.
//!
//! A version's name and version come from its document's `metadata`; the
//! document must validate before it is stored, and its digest is §11.3's
//! (`gavel_trust::bundle_digest`, what `gavel sign` signs). Only drafts are
//! edited or removed. An import is verified against the trust store before
//! anything is written. A reference is `NAME@VERSION` or `sha256:` with at
//! least 8 hex digits of a digest, and must name exactly one version.

use base64::Engine as _;
use gavel_policy::{Bundle, Diff, Format, LoadError};
use gavel_store::versions::{
    BundleVersion, DocumentFormat, DraftChange, Inserted, NewVersion, VersionFilter, VersionSource,
    VersionStatus,
};
use gavel_store::{AuditEntry, StoreError};
use gavel_trust::{PayloadKind, Reason, Sensitive, VerifyOptions};
use serde::Serialize;
use serde_json::Value;

use crate::{Console, ConsoleError};

/// The example bundles `gavel init --examples` loads, embedded so that an
/// installed binary has them: `(path in the repository, text)`. The bare
/// rule list `fixtures/bundles/legacy-rules.yaml` is left out: it has no
/// name or version to store it under.
pub const EXAMPLES: &[(&str, &str)] = &[
    (
        "fixtures/bundles/budgets.json",
        include_str!("../../../fixtures/bundles/budgets.json"),
    ),
    (
        "fixtures/bundles/deployment-safety.yaml",
        include_str!("../../../fixtures/bundles/deployment-safety.yaml"),
    ),
    (
        "fixtures/bundles/inbox-triage.yaml",
        include_str!("../../../fixtures/bundles/inbox-triage.yaml"),
    ),
    (
        "fixtures/bundles/knowledge-management.yaml",
        include_str!("../../../fixtures/bundles/knowledge-management.yaml"),
    ),
    (
        "fixtures/bundles/progressive-thresholds.yaml",
        include_str!("../../../fixtures/bundles/progressive-thresholds.yaml"),
    ),
    (
        "fixtures/bundles/two-approver.yaml",
        include_str!("../../../fixtures/bundles/two-approver.yaml"),
    ),
    (
        "fixtures/bundles/weekday-only.yaml",
        include_str!("../../../fixtures/bundles/weekday-only.yaml"),
    ),
];

/// Who records the example bundles: they come with Gavel, not from a person.
pub const EXAMPLE_AUTHOR: &str = "gavel";

/// The most versions one `list_versions` call returns.
pub const MAX_LIST_LIMIT: i64 = 1000;

/// Why a version use case could not be carried out. `code()` is what the
/// CLI's `{"error": {"code"}}` and the desktop app branch on.
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    #[error(transparent)]
    Console(#[from] ConsoleError),
    /// The document does not parse or validate.
    #[error("{0}")]
    Bundle(LoadError),
    /// A bare rule list, or metadata without a name or version.
    #[error(
        "the bundle has no {missing}: a stored version takes its name and version from the document; add `metadata.name` and `metadata.version`"
    )]
    NoNameOrVersion { missing: &'static str },
    /// A digest prefix that matches more than one version.
    #[error("`{reference}` matches {} versions: {}; give more digits or NAME@VERSION", candidates.len(), list(candidates))]
    AmbiguousReference {
        reference: String,
        candidates: Vec<VersionRef>,
    },
    #[error("no bundle version `{0}` in this store; see `gavel bundle list`")]
    NotFound(String),
    #[error(
        "`{}` already exists (digest {}); versions are never overwritten: raise `metadata.version` and create a new version",
        existing.reference, existing.digest
    )]
    Exists { existing: VersionRef },
    #[error(
        "`{reference}` is {}, not a draft: only drafts can be edited or removed; create a new version with `gavel bundle new`",
        status.as_str()
    )]
    NotDraft {
        reference: String,
        status: VersionStatus,
    },
    /// An import whose signature, expiry or digest does not hold.
    #[error("cannot import: {} ({}); nothing was written", message, reason.map_or("invalid", Reason::as_str))]
    NotVerified {
        reason: Option<Reason>,
        message: String,
    },
}

fn list(candidates: &[VersionRef]) -> String {
    candidates
        .iter()
        .map(|c| format!("`{}` ({})", c.reference, c.digest))
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<StoreError> for VersionError {
    fn from(e: StoreError) -> Self {
        VersionError::Console(e.into())
    }
}

impl VersionError {
    /// Refusals of a state change are exit 1; bad input, unknown or
    /// ambiguous references exit 2.
    pub fn is_refusal(&self) -> bool {
        match self {
            VersionError::Console(e) => e.is_refusal(),
            VersionError::Exists { .. }
            | VersionError::NotDraft { .. }
            | VersionError::NotVerified { .. } => true,
            _ => false,
        }
    }

    /// The error code, for the ones this module adds (`None`: a console
    /// error, coded as the console's are).
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            VersionError::Console(_) => return None,
            VersionError::Bundle(e) => e.code(),
            VersionError::NoNameOrVersion { .. } => "invalid_bundle",
            VersionError::AmbiguousReference { .. } => "ambiguous_reference",
            VersionError::NotFound(_) => "not_found",
            VersionError::Exists { .. } => "version_exists",
            VersionError::NotDraft { .. } => "not_a_draft",
            VersionError::NotVerified { .. } => "import_refused",
        })
    }
}

/// A version named by its reference and digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct VersionRef {
    /// `NAME@VERSION`.
    pub reference: String,
    pub digest: String,
}

impl From<&BundleVersion> for VersionRef {
    fn from(v: &BundleVersion) -> Self {
        VersionRef {
            reference: v.reference(),
            digest: v.digest.clone(),
        }
    }
}

/// A version without its document, as `bundle list` prints each.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct VersionSummary {
    #[ts(type = "number")]
    pub id: i64,
    /// `NAME@VERSION`.
    pub reference: String,
    pub name: String,
    pub version: String,
    pub digest: String,
    pub format: DocumentFormat,
    pub author: String,
    pub created_at: String,
    pub status: VersionStatus,
    pub source: VersionSource,
    pub provenance: Value,
    pub notes: String,
}

impl From<&BundleVersion> for VersionSummary {
    fn from(v: &BundleVersion) -> Self {
        VersionSummary {
            id: v.id,
            reference: v.reference(),
            name: v.name.clone(),
            version: v.version.clone(),
            digest: v.digest.clone(),
            format: v.format,
            author: v.author.clone(),
            created_at: v.created_at.clone(),
            status: v.status,
            source: v.source,
            provenance: v.provenance.clone(),
            notes: v.notes.clone(),
        }
    }
}

/// A version with its document as written (`bundle show`).
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct VersionDetail {
    #[serde(flatten)]
    pub summary: VersionSummary,
    pub document: String,
}

impl From<&BundleVersion> for VersionDetail {
    fn from(v: &BundleVersion) -> Self {
        VersionDetail {
            summary: v.into(),
            document: v.document.clone(),
        }
    }
}

/// `bundle list`: a page of versions, newest first, and how many match.
#[derive(Debug, Clone, Serialize)]
pub struct VersionList {
    pub versions: Vec<VersionSummary>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// What `bundle list` asks for.
#[derive(Debug, Clone, Default)]
pub struct ListQuery<'a> {
    pub name: Option<&'a str>,
    pub status: Option<VersionStatus>,
    /// 1 to [`MAX_LIST_LIMIT`].
    pub limit: i64,
    pub offset: i64,
}

/// One example bundle `init --examples` looked at.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ExampleLoad {
    pub file: String,
    pub reference: String,
    pub digest: String,
    /// False when that name and version was already in the store.
    pub added: bool,
}

/// `gavel init`.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct InitReport {
    pub home: String,
    pub database: String,
    /// Empty without `--examples`.
    pub examples: Vec<ExampleLoad>,
}

/// `bundle edit`: the version after the edit.
#[derive(Debug, Clone, Serialize)]
pub struct EditedVersion {
    #[serde(flatten)]
    pub version: VersionSummary,
    pub previous_digest: String,
    /// False when the new text is the stored text: nothing was written.
    pub changed: bool,
}

/// `bundle diff`: the two versions and the diff of `gavel diff` (§11.6).
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct VersionDiff {
    pub old: VersionRef,
    pub new: VersionRef,
    #[serde(flatten)]
    pub diff: Diff,
}

/// `bundle history`: the versions of a name (oldest first) and every audit
/// entry about them, deleted versions' included.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct VersionHistory {
    pub name: String,
    pub versions: Vec<VersionSummary>,
    pub events: Vec<AuditEntry>,
}

/// `bundle export`: the signed `bundle.v1` envelope.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedVersion {
    pub reference: String,
    pub digest: String,
    /// Key id of the signer.
    pub keyid: String,
    pub expires_at: String,
    pub envelope: Value,
}

/// A parsed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reference {
    Named { name: String, version: String },
    Digest(String),
}

/// The fewest hex digits a digest reference gives.
pub const MIN_DIGEST_DIGITS: usize = 8;

fn parse_reference(text: &str) -> Result<Reference, VersionError> {
    let bad = || {
        ConsoleError::Invalid(format!(
            "`{text}` is not a version reference: use NAME@VERSION or `sha256:` with at least {MIN_DIGEST_DIGITS} hex digits of the digest"
        ))
    };
    let text = text.trim();
    if let Some(hex) = text.strip_prefix("sha256:") {
        if hex.len() < MIN_DIGEST_DIGITS
            || hex.len() > 64
            || !hex.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(bad().into());
        }
        return Ok(Reference::Digest(format!(
            "sha256:{}",
            hex.to_ascii_lowercase()
        )));
    }
    match text.split_once('@') {
        Some((name, version))
            if !name.is_empty() && !version.is_empty() && !version.contains('@') =>
        {
            Ok(Reference::Named {
                name: name.to_string(),
                version: version.to_string(),
            })
        }
        _ => Err(bad().into()),
    }
}

fn document_format(f: Format) -> DocumentFormat {
    match f {
        Format::Json => DocumentFormat::Json,
        Format::Yaml => DocumentFormat::Yaml,
    }
}

pub(crate) fn policy_format(f: DocumentFormat) -> Format {
    match f {
        DocumentFormat::Json => Format::Json,
        DocumentFormat::Yaml => Format::Yaml,
    }
}

/// A document checked for storing: validated, named and digested.
struct Checked {
    name: String,
    version: String,
    digest: String,
    format: DocumentFormat,
}

fn check_document(text: &str, format: Format) -> Result<(Checked, Bundle), VersionError> {
    let bundle = gavel_policy::parse_bundle(text, format).map_err(VersionError::Bundle)?;
    let (name, version) = match (&bundle.metadata.name, &bundle.metadata.version) {
        (Some(n), Some(v)) => (n.clone(), v.clone()),
        (None, Some(_)) => return Err(VersionError::NoNameOrVersion { missing: "name" }),
        (Some(_), None) => return Err(VersionError::NoNameOrVersion { missing: "version" }),
        (None, None) => {
            return Err(VersionError::NoNameOrVersion {
                missing: "name or version",
            });
        }
    };
    let digest = gavel_trust::bundle_digest(&bundle.document().to_json())
        .map_err(|e| ConsoleError::Invalid(format!("the bundle has no digest: {e}")))?
        .to_string();
    Ok((
        Checked {
            name,
            version,
            digest,
            format: document_format(format),
        },
        bundle,
    ))
}

/// A stored version's document, parsed again (it validated when stored).
/// A stored version's document in the JSON data model its digest is taken
/// over (§11.3).
pub(crate) fn stored_document_json(v: &BundleVersion) -> Result<Value, VersionError> {
    Ok(stored_bundle(v)?.document().to_json())
}

fn stored_bundle(v: &BundleVersion) -> Result<Bundle, VersionError> {
    gavel_policy::parse_bundle(&v.document, policy_format(v.format)).map_err(|e| {
        StoreError::Corrupt(format!(
            "the stored document of `{}` no longer validates: {e}",
            v.reference()
        ))
        .into()
    })
}

impl Console {
    /// `gavel init [--examples]`: the store is created and migrated by
    /// [`Console::open`]; with `examples`, the example bundles are stored
    /// as drafts (source `example`, author `gavel`) in one transaction.
    /// Running it again adds nothing: a name and version already stored is
    /// left as it is.
    pub async fn init(&self, examples: bool) -> Result<InitReport, VersionError> {
        let mut loads = Vec::new();
        if examples {
            let mut new = Vec::new();
            for (file, text) in EXAMPLES {
                let (c, _) = check_document(text, Format::detect(file, text))?;
                new.push(NewVersion {
                    name: c.name,
                    version: c.version,
                    digest: c.digest,
                    document: (*text).to_string(),
                    format: c.format,
                    author: EXAMPLE_AUTHOR.to_string(),
                    source: VersionSource::Example,
                    provenance: serde_json::json!({"file": file}),
                    notes: String::new(),
                });
            }
            let done = self
                .store
                .insert_versions(&new, EXAMPLE_AUTHOR, "bundle.create")
                .await?;
            for ((file, _), outcome) in EXAMPLES.iter().zip(done) {
                let (v, added) = match outcome {
                    Inserted::New(v) => (v, true),
                    Inserted::Exists(v) => (v, false),
                };
                loads.push(ExampleLoad {
                    file: (*file).to_string(),
                    reference: v.reference(),
                    digest: v.digest,
                    added,
                });
            }
        }
        Ok(InitReport {
            home: self.home.display().to_string(),
            database: self.home.join("gavel.db").display().to_string(),
            examples: loads,
        })
    }

    /// The one version `reference` names.
    pub async fn resolve_version(&self, reference: &str) -> Result<BundleVersion, VersionError> {
        let found = match parse_reference(reference)? {
            Reference::Named { name, version } => {
                self.store.version_by_name(&name, &version).await?
            }
            Reference::Digest(prefix) => {
                let mut all = self.store.versions_by_digest_prefix(&prefix).await?;
                if all.len() > 1 {
                    return Err(VersionError::AmbiguousReference {
                        reference: reference.to_string(),
                        candidates: all.iter().map(VersionRef::from).collect(),
                    });
                }
                all.pop()
            }
        };
        found.ok_or_else(|| VersionError::NotFound(reference.to_string()))
    }

    /// `gavel bundle new FILE [--notes TEXT]`: a draft by the acting
    /// identity. `file` names the file (its extension chooses YAML or
    /// JSON); `text` is its content.
    pub async fn create_version(
        &self,
        file: &str,
        text: &str,
        notes: Option<&str>,
        actor: Option<&str>,
    ) -> Result<VersionSummary, VersionError> {
        let me = self.acting_identity(actor).await?;
        let (c, _) = check_document(text, Format::detect(file, text))?;
        let new = NewVersion {
            name: c.name,
            version: c.version,
            digest: c.digest,
            document: text.to_string(),
            format: c.format,
            author: me.name.clone(),
            source: VersionSource::File,
            provenance: serde_json::json!({"file": file}),
            notes: notes.unwrap_or_default().to_string(),
        };
        match self
            .store
            .insert_version(&new, &me.name, "bundle.create")
            .await?
        {
            Inserted::New(v) => Ok((&v).into()),
            Inserted::Exists(v) => Err(VersionError::Exists {
                existing: (&v).into(),
            }),
        }
    }

    /// `gavel bundle list`: newest first.
    pub async fn list_versions(&self, query: &ListQuery<'_>) -> Result<VersionList, VersionError> {
        if !(1..=MAX_LIST_LIMIT).contains(&query.limit) {
            return Err(ConsoleError::Invalid(format!(
                "--limit {} is out of range: give 1 to {MAX_LIST_LIMIT}",
                query.limit
            ))
            .into());
        }
        if query.offset < 0 {
            return Err(
                ConsoleError::Invalid(format!("--offset {} is negative", query.offset)).into(),
            );
        }
        let (versions, total) = self
            .store
            .list_versions(&VersionFilter {
                name: query.name.map(str::to_string),
                status: query.status,
                limit: query.limit,
                offset: query.offset,
            })
            .await?;
        Ok(VersionList {
            versions: versions.iter().map(VersionSummary::from).collect(),
            total,
            limit: query.limit,
            offset: query.offset,
        })
    }

    /// `gavel bundle show REF`.
    pub async fn show_version(&self, reference: &str) -> Result<VersionDetail, VersionError> {
        Ok((&self.resolve_version(reference).await?).into())
    }

    /// `gavel bundle edit REF FILE`: a draft gets a new document, which
    /// must validate and name the same name and version.
    pub async fn edit_version(
        &self,
        reference: &str,
        file: &str,
        text: &str,
        actor: Option<&str>,
    ) -> Result<EditedVersion, VersionError> {
        let me = self.acting_identity(actor).await?;
        let v = self.resolve_version(reference).await?;
        if v.status != VersionStatus::Draft {
            return Err(VersionError::NotDraft {
                reference: v.reference(),
                status: v.status,
            });
        }
        let (c, _) = check_document(text, Format::detect(file, text))?;
        if (c.name.as_str(), c.version.as_str()) != (v.name.as_str(), v.version.as_str()) {
            return Err(ConsoleError::Invalid(format!(
                "`{file}` is `{}@{}`, not `{}`: an edit keeps the name and version; for another version use `gavel bundle new`",
                c.name,
                c.version,
                v.reference()
            ))
            .into());
        }
        if text == v.document {
            return Ok(EditedVersion {
                previous_digest: v.digest.clone(),
                version: (&v).into(),
                changed: false,
            });
        }
        match self
            .store
            .update_draft(v.id, text, c.format, &c.digest, &me.name)
            .await?
        {
            DraftChange::Done(after) => Ok(EditedVersion {
                version: (&after).into(),
                previous_digest: v.digest,
                changed: true,
            }),
            DraftChange::NotDraft(now) => Err(VersionError::NotDraft {
                reference: now.reference(),
                status: now.status,
            }),
            DraftChange::Missing => Err(VersionError::NotFound(reference.to_string())),
        }
    }

    /// `gavel bundle rm REF`: deletes a draft.
    pub async fn remove_version(
        &self,
        reference: &str,
        actor: Option<&str>,
    ) -> Result<VersionSummary, VersionError> {
        let me = self.acting_identity(actor).await?;
        let v = self.resolve_version(reference).await?;
        if v.status != VersionStatus::Draft {
            return Err(VersionError::NotDraft {
                reference: v.reference(),
                status: v.status,
            });
        }
        match self.store.delete_draft(v.id, &me.name).await? {
            DraftChange::Done(gone) => Ok((&gone).into()),
            DraftChange::NotDraft(now) => Err(VersionError::NotDraft {
                reference: now.reference(),
                status: now.status,
            }),
            DraftChange::Missing => Err(VersionError::NotFound(reference.to_string())),
        }
    }

    /// `gavel bundle diff OLD NEW`: `gavel diff` over two stored versions.
    pub async fn diff_versions(&self, old: &str, new: &str) -> Result<VersionDiff, VersionError> {
        let (a, b) = (
            self.resolve_version(old).await?,
            self.resolve_version(new).await?,
        );
        let diff = gavel_policy::diff(&stored_bundle(&a)?, &stored_bundle(&b)?);
        Ok(VersionDiff {
            old: (&a).into(),
            new: (&b).into(),
            diff,
        })
    }

    /// `gavel bundle history NAME`: every version of `name` with its status,
    /// and who did what (the audit entries about it).
    pub async fn history(&self, name: &str) -> Result<VersionHistory, VersionError> {
        let (versions, events) = self.store.version_history(name).await?;
        if versions.is_empty() && events.is_empty() {
            return Err(VersionError::NotFound(name.to_string()));
        }
        Ok(VersionHistory {
            name: name.to_string(),
            versions: versions.iter().map(VersionSummary::from).collect(),
            events,
        })
    }

    /// `gavel bundle export REF`: the `bundle.v1` DSSE envelope signed by
    /// the acting identity (who needs the author role), audited as
    /// `bundle.export`.
    pub async fn export_version(
        &self,
        reference: &str,
        validity_seconds: Option<i64>,
        actor: Option<&str>,
    ) -> Result<ExportedVersion, VersionError> {
        let me = self.acting_identity(actor).await?;
        let v = self.resolve_version(reference).await?;
        let document = stored_bundle(&v)?.document().to_json();
        let envelope = self
            .sign_bundle(&document, validity_seconds, Some(&me.keyid.0))
            .await?;
        let payload: Value = envelope
            .get("payload")
            .and_then(Value::as_str)
            .and_then(|p| base64::engine::general_purpose::STANDARD.decode(p).ok())
            .and_then(|p| serde_json::from_slice(&p).ok())
            .unwrap_or_default();
        let expires_at = payload
            .get("expires_at")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let recorded = self
            .store
            .record_export(
                v.id,
                &me.name,
                serde_json::json!({"keyid": me.keyid.0, "expires_at": expires_at}),
            )
            .await?;
        if !recorded {
            return Err(VersionError::NotFound(reference.to_string()));
        }
        Ok(ExportedVersion {
            reference: v.reference(),
            digest: v.digest,
            keyid: me.keyid.0,
            expires_at,
            envelope,
        })
    }

    /// `gavel bundle import FILE`: a `bundle.v1` DSSE envelope, a team
    /// export (with `secret`) or a legacy export (with `secret`), verified
    /// against the trust store first; refused with the verification's
    /// reason, and nothing written, unless it is valid. It becomes a draft
    /// (source `import`) with provenance `{format, signers, signed_at}`;
    /// its author is the signer the payload names (the importer for a
    /// legacy export, which names none).
    pub async fn import_version(
        &self,
        text: &str,
        secret: Option<&Sensitive<Vec<u8>>>,
        actor: Option<&str>,
    ) -> Result<VersionSummary, VersionError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| {
            ConsoleError::Invalid(format!(
                "not JSON: {e}; an import is a DSSE envelope, a team export or a legacy export"
            ))
        })?;
        self.import_envelope(&doc, secret, None, actor).await
    }

    /// [`Console::import_version`] of a parsed document; `origin` joins the
    /// provenance (where it was pulled from).
    pub(crate) async fn import_envelope(
        &self,
        doc: &Value,
        secret: Option<&Sensitive<Vec<u8>>>,
        origin: Option<Value>,
        actor: Option<&str>,
    ) -> Result<VersionSummary, VersionError> {
        let me = self.acting_identity(actor).await?;
        let doc = doc.clone();
        let trusted = self.trusted_keys().await?;
        let v = gavel_trust::verify_by_owner(
            &doc,
            &VerifyOptions {
                now: jiff::Timestamp::now(),
                trusted: &trusted,
                secret,
                expected_type: Some(PayloadKind::Bundle.media_type()),
            },
        );
        let refuse = |reason, message: String| VersionError::NotVerified { reason, message };
        if !v.valid {
            return Err(refuse(v.reason, v.message));
        }
        let payload = v.payload.clone().unwrap_or_default();
        let (bundle, author) = match v.format {
            gavel_trust::Format::Dsse | gavel_trust::Format::TeamHmac => (
                payload.get("bundle").cloned().unwrap_or_default(),
                payload
                    .get("author")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            ),
            gavel_trust::Format::LegacyExport => (payload, None),
            other => {
                return Err(refuse(
                    Some(Reason::WrongPayloadType),
                    format!("a {} is not a bundle export", other.as_str()),
                ));
            }
        };
        let document = serde_json::to_string_pretty(&bundle)
            .map_err(|e| ConsoleError::Invalid(format!("the bundle cannot be written: {e}")))?;
        let (c, _) = check_document(&document, Format::Json)?;
        // The digest of what is stored is the digest that was signed (for
        // a DSSE or team export, the payload's `digest`, which verify
        // checked against its bundle).
        let signed_digest = match v.format {
            gavel_trust::Format::LegacyExport => gavel_trust::bundle_digest(&bundle)
                .map(|d| d.to_string())
                .unwrap_or_default(),
            _ => v
                .payload
                .as_ref()
                .and_then(|p| p.get("digest"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        };
        if c.digest != signed_digest {
            return Err(refuse(
                Some(Reason::DigestMismatch),
                format!(
                    "the signed digest is {signed_digest} but the bundle stored would be {}",
                    c.digest
                ),
            ));
        }
        for (field, stated) in [("name", &c.name), ("version", &c.version)] {
            if let Some(said) = v
                .payload
                .as_ref()
                .and_then(|p| p.get(field))
                .and_then(Value::as_str)
            {
                if v.format != gavel_trust::Format::LegacyExport && said != stated {
                    return Err(refuse(
                        Some(Reason::Malformed),
                        format!("the payload's {field} is `{said}` but its bundle's is `{stated}`"),
                    ));
                }
            }
        }
        let new = NewVersion {
            name: c.name,
            version: c.version,
            digest: c.digest,
            document,
            format: c.format,
            author: author.unwrap_or_else(|| me.name.clone()),
            source: VersionSource::Import,
            provenance: {
                let mut p = serde_json::json!({
                    "format": v.format.as_str(),
                    "signers": v.signers.iter().map(|s| s.keyid.clone()).collect::<Vec<_>>(),
                    "signed_at": v.issued_at,
                    "imported_by": me.name,
                });
                if let Some(origin) = origin {
                    p["from"] = origin;
                }
                p
            },
            notes: String::new(),
        };
        match self
            .store
            .insert_version(&new, &me.name, "bundle.import")
            .await?
        {
            Inserted::New(v) => Ok((&v).into()),
            Inserted::Exists(v) => Err(VersionError::Exists {
                existing: (&v).into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_name_at_version_or_a_digest_prefix_of_8_digits_or_more() {
        assert_eq!(
            parse_reference("inbox-triage@1.0.0").unwrap(),
            Reference::Named {
                name: "inbox-triage".into(),
                version: "1.0.0".into()
            }
        );
        assert_eq!(
            parse_reference("sha256:ABCDEF01").unwrap(),
            Reference::Digest("sha256:abcdef01".into())
        );
        for bad in [
            "inbox-triage",
            "@1.0.0",
            "inbox@",
            "a@b@c",
            "sha256:abcdef0",
            "sha256:abcdefgh",
            "sha256:",
            "",
        ] {
            assert!(parse_reference(bad).is_err(), "{bad}");
        }
        let long = format!("sha256:{}", "a".repeat(65));
        assert!(parse_reference(&long).is_err());
    }

    #[test]
    fn every_example_validates_with_a_name_and_version() {
        for (file, text) in EXAMPLES {
            let (c, _) = check_document(text, Format::detect(file, text))
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(file.contains(&c.name), "{file}: {}", c.name);
        }
    }

    use std::sync::Arc;

    use crate::MemoryKeychain;

    const V1: &str = "apiVersion: gavel/v1\nkind: PolicyBundle\nmetadata: {name: inbox, version: 1.0.0}\nrules:\n  - {id: read-all, agent: \"*\", action: reindex, effect: allow, reason: Reading is always safe}\n";

    fn v1_with(reason: &str) -> String {
        V1.replace("Reading is always safe", reason)
    }

    async fn console() -> (tempfile::TempDir, Console) {
        let dir = tempfile::tempdir().unwrap();
        let c = Console::open(dir.path(), Arc::new(MemoryKeychain::default()))
            .await
            .unwrap();
        c.generate_identity("alice", "a@example.com", None, None)
            .await
            .unwrap();
        (dir, c)
    }

    /// Every version row and the whole audit chain: what "nothing changed"
    /// compares.
    async fn snapshot(c: &Console) -> (Vec<VersionSummary>, Vec<AuditEntry>) {
        let q = ListQuery {
            limit: MAX_LIST_LIMIT,
            ..Default::default()
        };
        (
            c.list_versions(&q).await.unwrap().versions,
            c.store.audit_page(0, i64::MAX).await.unwrap(),
        )
    }

    #[tokio::test]
    async fn a_version_is_created_edited_diffed_and_removed_with_its_history() {
        let (_dir, c) = console().await;
        let made = c
            .create_version("inbox.yaml", V1, Some("first"), None)
            .await
            .unwrap();
        assert_eq!(
            (
                made.reference.as_str(),
                made.author.as_str(),
                made.status,
                made.source
            ),
            (
                "inbox@1.0.0",
                "alice",
                VersionStatus::Draft,
                VersionSource::File
            )
        );
        let expected = gavel_trust::bundle_digest(
            &gavel_policy::parse_bundle(V1, Format::Yaml)
                .unwrap()
                .document()
                .to_json(),
        )
        .unwrap()
        .to_string();
        assert_eq!(made.digest, expected);
        let shown = c.show_version(&made.digest[..15]).await.unwrap();
        assert_eq!(shown.document, V1);
        let edited = c
            .edit_version(
                "inbox@1.0.0",
                "inbox.yaml",
                &v1_with("Reads change nothing"),
                None,
            )
            .await
            .unwrap();
        assert!(edited.changed);
        assert_eq!(edited.previous_digest, made.digest);
        assert_ne!(edited.version.digest, made.digest);
        let again = c
            .edit_version(
                "inbox@1.0.0",
                "inbox.yaml",
                &v1_with("Reads change nothing"),
                None,
            )
            .await
            .unwrap();
        assert!(!again.changed, "the same text again writes nothing");
        let v2 = V1
            .replace("1.0.0", "1.1.0")
            .replace("effect: allow", "effect: deny");
        c.create_version("inbox.yaml", &v2, None, None)
            .await
            .unwrap();
        let d = c.diff_versions("inbox@1.0.0", "inbox@1.1.0").await.unwrap();
        assert_eq!(d.diff.modified.len(), 1);
        assert_eq!(d.new.reference, "inbox@1.1.0");
        c.remove_version("inbox@1.0.0", None).await.unwrap();
        let h = c.history("inbox").await.unwrap();
        assert_eq!(h.versions.len(), 1);
        let actions: Vec<_> = h.events.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "bundle.create",
                "bundle.edit",
                "bundle.create",
                "bundle.delete"
            ]
        );
        assert!(matches!(
            c.history("nothing").await,
            Err(VersionError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn refused_creates_edits_and_references_change_nothing() {
        let (_dir, c) = console().await;
        let made = c
            .create_version("inbox.yaml", V1, None, None)
            .await
            .unwrap();
        let before = snapshot(&c).await;
        let err = c
            .create_version("again.yaml", &v1_with("Other text"), None, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, VersionError::Exists { existing } if existing.digest == made.digest),
            "{err}"
        );
        assert!(
            err.is_refusal() && err.to_string().contains(&made.digest),
            "{err}"
        );
        let err = c.remove_version("inbox", None).await.unwrap_err();
        assert!(
            matches!(err, VersionError::Console(ConsoleError::Invalid(_))),
            "{err}"
        );
        let err = c
            .edit_version("sha256:abcdef", "x.yaml", V1, None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, VersionError::Console(_)),
            "6 digits are too few: {err}"
        );
        let err = c.remove_version("nothing@1.0.0", None).await.unwrap_err();
        assert_eq!(err.code(), Some("not_found"), "{err}");
        assert!(!err.is_refusal());
        let err = c
            .diff_versions("sha256:ABCDEF00", "inbox@1.0.0")
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("not_found"));
        // The bare list and a metadata without version are refused.
        let err = c
            .create_version(
                "l.yaml",
                "- {id: read-all, agent: \"*\", action: reindex, effect: allow, reason: Reading is safe}\n",
                None,
                None,
            )
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("add `metadata.name` and `metadata.version`"),
            "{err}"
        );
        let err = c
            .create_version("bad.yaml", "rules: [{id: 1}]\n", None, None)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("invalid_bundle"), "{err}");
        // An edit must keep the name and version.
        let err = c
            .edit_version("inbox@1.0.0", "x.yaml", &V1.replace("1.0.0", "9.0.0"), None)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("keeps the name and version"),
            "{err}"
        );
        assert_eq!(snapshot(&c).await, before);
    }

    #[tokio::test]
    async fn an_ambiguous_digest_prefix_lists_its_candidates() {
        let (_dir, c) = console().await;
        for (name, digest) in [("a", "sha256:abcdef0011"), ("b", "sha256:abcdef0022")] {
            c.store
                .insert_version(
                    &NewVersion {
                        name: name.into(),
                        version: "1.0.0".into(),
                        digest: digest.into(),
                        document: String::new(),
                        format: DocumentFormat::Yaml,
                        author: "alice".into(),
                        source: VersionSource::File,
                        provenance: serde_json::json!({}),
                        notes: String::new(),
                    },
                    "alice",
                    "bundle.create",
                )
                .await
                .unwrap();
        }
        let before = snapshot(&c).await;
        let err = c.remove_version("sha256:abcdef0", None).await.unwrap_err();
        assert!(
            matches!(err, VersionError::Console(ConsoleError::Invalid(_))),
            "7 digits: {err}"
        );
        let err = c.remove_version("sha256:abcdef00", None).await.unwrap_err();
        let VersionError::AmbiguousReference { candidates, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(candidates.len(), 2);
        assert_eq!(err.code(), Some("ambiguous_reference"));
        assert!(!err.is_refusal());
        assert!(
            err.to_string().contains("`a@1.0.0`") && err.to_string().contains("`b@1.0.0`"),
            "{err}"
        );
        assert_eq!(
            c.show_version("sha256:abcdef001")
                .await
                .unwrap()
                .summary
                .reference,
            "a@1.0.0"
        );
        assert_eq!(snapshot(&c).await, before);
    }

    #[tokio::test]
    async fn init_with_examples_twice_adds_them_once() {
        let (_dir, c) = console().await;
        let first = c.init(true).await.unwrap();
        assert_eq!(first.examples.len(), EXAMPLES.len());
        assert!(first.examples.iter().all(|e| e.added));
        let before = snapshot(&c).await;
        let second = c.init(true).await.unwrap();
        assert!(second.examples.iter().all(|e| !e.added));
        assert_eq!(snapshot(&c).await, before);
        let listed = &before.0;
        assert!(
            listed
                .iter()
                .all(|v| v.source == VersionSource::Example && v.author == EXAMPLE_AUTHOR)
        );
        assert!(c.init(false).await.unwrap().examples.is_empty());
    }

    /// An export by alice imports into another store that trusts her key:
    /// the same digest, a draft with provenance; a second import of it is
    /// refused as a duplicate.
    #[tokio::test]
    async fn an_export_imports_into_a_store_that_trusts_its_signer() {
        let (_dir, c) = console().await;
        let made = c
            .create_version("inbox.yaml", V1, None, None)
            .await
            .unwrap();
        let out = c
            .export_version("inbox@1.0.0", Some(3600), None)
            .await
            .unwrap();
        assert_eq!(out.digest, made.digest);
        let audit = c.store.audit_page(0, 100).await.unwrap();
        let last = audit.last().unwrap();
        assert_eq!(
            (last.action.as_str(), last.subject.as_str()),
            ("bundle.export", "inbox@1.0.0")
        );
        assert_eq!(last.details["digest"], made.digest);

        let (_dir2, other) = {
            let dir = tempfile::tempdir().unwrap();
            let o = Console::open(dir.path(), Arc::new(MemoryKeychain::default()))
                .await
                .unwrap();
            o.generate_identity("bob", "b@example.com", None, None)
                .await
                .unwrap();
            (dir, o)
        };
        let text = serde_json::to_string(&out.envelope).unwrap();
        let before = snapshot(&other).await;
        let err = other.import_version(&text, None, None).await.unwrap_err();
        assert!(
            matches!(
                err,
                VersionError::NotVerified {
                    reason: Some(Reason::UnknownKey),
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(snapshot(&other).await, before);
        let alice = c.export_key("alice").await.unwrap();
        other
            .trust_keys(
                vec![alice.clone()],
                Some(vec![gavel_trust::Role::Author]),
                None,
            )
            .await
            .unwrap();
        let imported = other.import_version(&text, None, None).await.unwrap();
        assert_eq!(imported.digest, made.digest);
        assert_eq!(
            (imported.author.as_str(), imported.source),
            ("alice", VersionSource::Import)
        );
        assert_eq!(imported.provenance["format"], "dsse");
        assert_eq!(
            imported.provenance["signers"],
            serde_json::json!([alice.keyid.0])
        );
        assert!(imported.provenance["signed_at"].is_string());
        let before = snapshot(&other).await;
        let err = other.import_version(&text, None, None).await.unwrap_err();
        assert!(matches!(err, VersionError::Exists { .. }), "{err}");
        assert_eq!(snapshot(&other).await, before);
    }
}
