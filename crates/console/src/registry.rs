//! Registries in the console (DESIGN §8, §11.11, §11.16): registries by
//! name (the password in the keychain, never in the store), a bundle bound
//! to one, `push` of a version (the bundle artifact, tagged with its
//! version, and its signatures: the author's bundle envelope and the
//! approvals recorded for its digest) and `pull` of one (verified against
//! the trust store before anything is stored).

use gavel_registry::artifact::{
    self, BUNDLE_ARTIFACT, BUNDLE_LAYER, DSSE_LAYER, SIGNATURES_ARTIFACT,
};
use gavel_registry::{Credentials, Descriptor, Location, Manifest, RegistryError, Target};
use gavel_store::registry::{RegistryRow, Removed};
use gavel_trust::Sensitive;
use serde::Serialize;
use serde_json::Value;

use crate::versions::{VersionError, VersionSummary};
use crate::{Console, ConsoleError};

fn registry_account(name: &str) -> String {
    format!("registry:{name}")
}

/// What a push sent (or, with `dry_run`, would send).
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct PushReport {
    pub reference: String,
    pub digest: String,
    pub registry: String,
    pub repository: String,
    /// Each artifact: its tag, type, manifest digest and layers.
    pub artifacts: Vec<PushedArtifact>,
    /// The version tag already named this digest: nothing new for it.
    pub unchanged: bool,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct PushedArtifact {
    pub tag: String,
    pub artifact_type: String,
    pub digest: String,
    /// Bytes of each layer.
    #[ts(type = "Array<number>")]
    pub layers: Vec<u64>,
}

/// Why a registry use case failed: the console's errors and the
/// registry's, each with its code.
#[derive(Debug, thiserror::Error)]
pub enum RegistryUseError {
    #[error(transparent)]
    Lifecycle(#[from] crate::LifecycleError),
    #[error(transparent)]
    Console(#[from] ConsoleError),
    #[error(transparent)]
    Version(#[from] VersionError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A version tag that names another digest: tags never move.
    #[error(
        "`{repository}:{tag}` already names {existing}, not {digest}: a version tag never moves; publish this content as a new version"
    )]
    TagMoved {
        repository: String,
        tag: String,
        existing: String,
        digest: String,
    },
    /// The bundle is not bound to a registry.
    #[error(
        "bundle `{0}` is not bound to a registry: bind it with `gavel bundle bind {0} REGISTRY`"
    )]
    NotBound(String),
    /// A pulled artifact that does not verify: nothing was stored.
    #[error("{what} from the registry was refused: {why}; nothing was stored")]
    Refused { what: String, why: String },
}

impl From<gavel_store::StoreError> for RegistryUseError {
    fn from(e: gavel_store::StoreError) -> Self {
        RegistryUseError::Console(e.into())
    }
}

impl From<crate::KeychainError> for RegistryUseError {
    fn from(e: crate::KeychainError) -> Self {
        RegistryUseError::Console(e.into())
    }
}

impl RegistryUseError {
    pub fn code(&self) -> &'static str {
        match self {
            RegistryUseError::Console(c) => c.code(),
            RegistryUseError::Lifecycle(l) => l.code().unwrap_or("invalid"),
            RegistryUseError::Version(v) => v.code().unwrap_or("invalid"),
            RegistryUseError::Registry(r) => r.code(),
            RegistryUseError::TagMoved { .. } => "tag_moved",
            RegistryUseError::NotBound(_) => "not_bound",
            RegistryUseError::Refused { .. } => "registry_refused",
        }
    }

    /// Refusals exit 1; everything else 2.
    pub fn is_refusal(&self) -> bool {
        match self {
            RegistryUseError::TagMoved { .. } | RegistryUseError::Refused { .. } => true,
            RegistryUseError::Console(c) => c.is_refusal(),
            RegistryUseError::Lifecycle(l) => l.is_refusal(),
            RegistryUseError::Version(v) => v.is_refusal(),
            RegistryUseError::Registry(r) => {
                matches!(
                    r,
                    RegistryError::DigestMismatch { .. } | RegistryError::TooLarge { .. }
                )
            }
            RegistryUseError::NotBound(_) => false,
        }
    }
}

/// The DSSE envelope the artifact tagged `tag` carries (its envelope
/// layer), `None` when there is no such tag.
pub(crate) async fn envelope_at(
    target: &Target,
    repo: &str,
    tag: &str,
) -> Result<Option<Value>, RegistryError> {
    let Some((m, _)) = target.manifest(repo, tag).await? else {
        return Ok(None);
    };
    let layer = m
        .layers
        .iter()
        .find(|d| d.media_type == DSSE_LAYER)
        .ok_or_else(|| RegistryError::Invalid(format!("{repo}:{tag} has no envelope layer")))?;
    let bytes = target.blob(repo, layer).await?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| RegistryError::Invalid(format!("{repo}:{tag} is not JSON: {e}")))
}

/// The `digest` a DSSE bundle envelope's payload states (unverified: only
/// to match it with the layer before the import verifies it).
fn envelope_digest(doc: &Value) -> Option<String> {
    use base64::Engine as _;
    let payload = doc.get("payload")?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .ok()?;
    let payload: Value = serde_json::from_slice(&bytes).ok()?;
    payload.get("digest")?.as_str().map(str::to_string)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

impl Console {
    /// `gavel registry add NAME URL`: the URL checked, the password (when
    /// given) to the keychain.
    pub async fn registry_add(
        &self,
        name: &str,
        url: &str,
        username: Option<&str>,
        password: Option<&Sensitive<String>>,
        actor: Option<&str>,
    ) -> Result<RegistryRow, RegistryUseError> {
        let me = self.acting_identity(actor).await?;
        if !valid_name(name) {
            return Err(ConsoleError::Invalid(format!(
                "`{name}` is not a registry name: 1 to 64 lowercase letters, digits, `-` or `_`, starting with a letter"
            ))
            .into());
        }
        Location::parse(url)?;
        if password.is_some() && username.is_none() {
            return Err(ConsoleError::Invalid(
                "a password goes with a user name (--username)".into(),
            )
            .into());
        }
        if let Some(p) = password {
            self.keychain.set(
                &registry_account(name),
                &Sensitive::new(p.expose().as_bytes().to_vec()),
            )?;
        }
        if !self
            .store
            .add_registry(name, url.trim(), username, &me.name)
            .await?
        {
            return Err(ConsoleError::Refused(format!(
                "a registry named `{name}` exists: remove it first (`gavel registry rm {name}`)"
            ))
            .into());
        }
        self.store
            .registries()
            .await?
            .into_iter()
            .find(|r| r.name == name)
            .ok_or_else(|| ConsoleError::NotFound(format!("registry `{name}`")).into())
    }

    pub async fn registry_list(&self) -> Result<Vec<RegistryRow>, RegistryUseError> {
        Ok(self.store.registries().await?)
    }

    /// `gavel registry rm NAME`: refused while bundles are bound to it.
    pub async fn registry_rm(
        &self,
        name: &str,
        actor: Option<&str>,
    ) -> Result<(), RegistryUseError> {
        let me = self.acting_identity(actor).await?;
        match self.store.remove_registry(name, &me.name).await? {
            Removed::Removed => {
                let _ = self.keychain.delete(&registry_account(name));
                Ok(())
            }
            Removed::Missing => {
                Err(ConsoleError::NotFound(format!("no registry named `{name}`")).into())
            }
            Removed::InUse => Err(ConsoleError::Refused(format!(
                "bundles are bound to registry `{name}`: bind them elsewhere first"
            ))
            .into()),
        }
    }

    /// `gavel bundle bind NAME REGISTRY`.
    pub async fn bind_bundle(
        &self,
        bundle: &str,
        registry: &str,
        actor: Option<&str>,
    ) -> Result<RegistryRow, RegistryUseError> {
        let me = self.acting_identity(actor).await?;
        let row = self
            .store
            .registries()
            .await?
            .into_iter()
            .find(|r| r.name == registry)
            .ok_or_else(|| ConsoleError::NotFound(format!("no registry named `{registry}`")))?;
        Location::parse(&row.url)?.repository(bundle)?;
        self.store.bind_bundle(bundle, registry, &me.name).await?;
        Ok(row)
    }

    /// The target and repository of a bound bundle.
    pub(crate) async fn bound(
        &self,
        bundle: &str,
    ) -> Result<(Target, String, RegistryRow), RegistryUseError> {
        let row = self
            .store
            .binding(bundle)
            .await?
            .ok_or_else(|| RegistryUseError::NotBound(bundle.to_string()))?;
        let location = Location::parse(&row.url)?;
        let credentials = match &row.username {
            Some(user) => self
                .keychain
                .get(&registry_account(&row.name))?
                .map(|p| Credentials {
                    username: user.clone(),
                    password: String::from_utf8_lossy(p.expose()).into_owned(),
                }),
            None => None,
        };
        let repo = location.repository(bundle)?;
        Ok((Target::open(&location, credentials)?, repo, row))
    }

    /// `gavel push REF [--dry-run]`: the bundle artifact tagged with its
    /// version and the signatures artifact (`sha256-<hex>.sig`, with the
    /// bundle as `subject`): the bundle envelope signed now by the acting
    /// identity (the author role) and every approval recorded for the
    /// digest. The same digest again changes nothing; a version tag naming
    /// another digest is refused.
    pub async fn push(
        &self,
        reference: &str,
        dry_run: bool,
        actor: Option<&str>,
    ) -> Result<PushReport, RegistryUseError> {
        let v = self.resolve_version(reference).await?;
        let (target, repo, row) = self.bound(&v.name).await?;
        let document = crate::versions::stored_document_json(&v)?;
        let layer = gavel_trust::canonicalize(&document)
            .map_err(|e| ConsoleError::Invalid(format!("the bundle cannot be canonicalised: {e}")))?
            .into_bytes();
        if artifact::digest(&layer) != v.digest {
            return Err(ConsoleError::Invalid(format!(
                "the stored document of {} no longer has its digest {}; it was changed outside Gavel",
                v.reference(),
                v.digest
            ))
            .into());
        }
        let tag = artifact::version_tag(&v.version)?;
        let bundle = Manifest::new(
            BUNDLE_ARTIFACT,
            vec![Descriptor::of(BUNDLE_LAYER, &layer)],
            None,
        );
        let (_, bundle_desc) = bundle.encoded();
        let existing = target.manifest(&repo, &tag).await?;
        let unchanged = match &existing {
            Some((m, _))
                if m.layers.first().map(|l| l.digest.as_str()) == Some(v.digest.as_str()) =>
            {
                true
            }
            Some((m, _)) => {
                return Err(RegistryUseError::TagMoved {
                    repository: repo,
                    tag,
                    existing: m
                        .layers
                        .first()
                        .map(|l| l.digest.clone())
                        .unwrap_or_else(|| "another artifact".into()),
                    digest: v.digest,
                });
            }
            None => false,
        };
        // The bundle envelope already published is kept (whoever pushes
        // later, an approver activating for instance, need not be an
        // author); only a version never published is signed now.
        let published = self
            .published_bundle_envelope(&target, &repo, &v.digest)
            .await?;
        let envelope = match published {
            Some(bytes) => bytes,
            None => self
                .sign_bundle(&document, None, actor)
                .await?
                .to_string()
                .into_bytes(),
        };
        let mut envelopes: Vec<Vec<u8>> = vec![envelope];
        for a in self.store.approvals(&v.digest, None).await? {
            envelopes.push(a.envelope.to_string().into_bytes());
        }
        let sigs = Manifest::new(
            SIGNATURES_ARTIFACT,
            envelopes
                .iter()
                .map(|e| Descriptor::of(DSSE_LAYER, e))
                .collect(),
            Some(bundle_desc.clone()),
        );
        let sig_tag = artifact::sig_tag(&v.digest)?;
        let (_, sig_desc) = sigs.encoded();
        if !dry_run {
            if !unchanged {
                target.push(&repo, &bundle, &[&layer], Some(&tag)).await?;
            }
            let blobs: Vec<&[u8]> = envelopes.iter().map(Vec::as_slice).collect();
            target.push(&repo, &sigs, &blobs, Some(&sig_tag)).await?;
            let me = self.acting_identity(actor).await?;
            self.store
                .audit_event(gavel_store::NewEntry {
                    actor: &me.name,
                    action: "bundle.push",
                    subject: &v.reference(),
                    details: serde_json::json!({
                        "digest": v.digest, "registry": row.name, "repository": repo,
                        "signatures": envelopes.len(),
                    }),
                })
                .await?;
        }
        Ok(PushReport {
            reference: v.reference(),
            digest: v.digest.clone(),
            registry: row.name,
            repository: repo,
            artifacts: vec![
                PushedArtifact {
                    tag,
                    artifact_type: BUNDLE_ARTIFACT.into(),
                    digest: bundle_desc.digest,
                    layers: vec![layer.len() as u64],
                },
                PushedArtifact {
                    tag: sig_tag,
                    artifact_type: SIGNATURES_ARTIFACT.into(),
                    digest: sig_desc.digest,
                    layers: envelopes.iter().map(|e| e.len() as u64).collect(),
                },
            ],
            unchanged,
            dry_run,
        })
    }

    /// The bundle envelope of the signatures artifact published for
    /// `digest`, as its bytes (`None` when nothing is published).
    async fn published_bundle_envelope(
        &self,
        target: &Target,
        repo: &str,
        digest: &str,
    ) -> Result<Option<Vec<u8>>, RegistryUseError> {
        let Some((sigs, _)) = target.manifest(repo, &artifact::sig_tag(digest)?).await? else {
            return Ok(None);
        };
        for d in sigs.layers.iter().filter(|d| d.media_type == DSSE_LAYER) {
            let bytes = target.blob(repo, d).await?;
            let is_bundle = serde_json::from_slice::<Value>(&bytes)
                .ok()
                .is_some_and(|doc| {
                    doc.get("payloadType").and_then(Value::as_str)
                        == Some(gavel_trust::PayloadKind::Bundle.media_type())
                        && envelope_digest(&doc).as_deref() == Some(digest)
                });
            if is_bundle {
                return Ok(Some(bytes));
            }
        }
        Ok(None)
    }

    /// `gavel pull NAME@VERSION`: the version from its bundle's registry,
    /// stored as a draft only when its bundle envelope verifies against
    /// the trust store and names the digest of the layer fetched.
    pub async fn pull(
        &self,
        reference: &str,
        actor: Option<&str>,
    ) -> Result<VersionSummary, RegistryUseError> {
        let (name, version) = reference
            .split_once('@')
            .ok_or_else(|| ConsoleError::Invalid(format!("`{reference}` is not NAME@VERSION")))?;
        let (target, repo, row) = self.bound(name).await?;
        let tag = artifact::version_tag(version)?;
        let refused = |why: String| RegistryUseError::Refused {
            what: format!("{repo}:{tag}"),
            why,
        };
        let (manifest, _) = target.manifest(&repo, &tag).await?.ok_or_else(|| {
            ConsoleError::NotFound(format!("{repo}:{tag} is not in registry `{}`", row.name))
        })?;
        if manifest.artifact_type.as_deref() != Some(BUNDLE_ARTIFACT) || manifest.layers.len() != 1
        {
            return Err(refused("not a Gavel bundle artifact".into()));
        }
        let layer = target.blob(&repo, &manifest.layers[0]).await?;
        let digest = artifact::digest(&layer);
        let (sigs, _) = target
            .manifest(&repo, &artifact::sig_tag(&digest)?)
            .await?
            .ok_or_else(|| refused("no signatures artifact names its digest".into()))?;
        // The first envelope that is a bundle envelope for this digest.
        let mut last = String::from("no bundle envelope among its signatures");
        for d in sigs.layers.iter().filter(|d| d.media_type == DSSE_LAYER) {
            let bytes = target.blob(&repo, d).await?;
            let Ok(doc) = serde_json::from_slice::<Value>(&bytes) else {
                continue;
            };
            if doc.get("payloadType").and_then(Value::as_str)
                != Some(gavel_trust::PayloadKind::Bundle.media_type())
            {
                continue;
            }
            // The digest the envelope states must be the layer's, before
            // anything is stored (the import checks its signature and that
            // the digest is its bundle's).
            let stated = envelope_digest(&doc);
            if stated.as_deref() != Some(digest.as_str()) {
                last = format!(
                    "its bundle envelope names {} but the layer fetched is {digest}",
                    stated.unwrap_or_else(|| "no digest".into())
                );
                continue;
            }
            let origin = serde_json::json!({"registry": row.name, "repository": repo, "tag": tag});
            match self.import_envelope(&doc, None, Some(origin), actor).await {
                Ok(v) => return Ok(v),
                Err(VersionError::NotVerified { message, .. }) => last = message,
                Err(e) => return Err(e.into()),
            }
        }
        Err(refused(last))
    }
}

/// What `sync` did for one bound bundle.
#[derive(Debug, Clone, Default, Serialize, ts_rs::TS)]
pub struct SyncReport {
    pub bundle: String,
    pub registry: String,
    /// Versions fetched, verified and recorded (submitted, as their author
    /// published them).
    pub fetched_versions: Vec<String>,
    /// Approvals and rejections fetched, verified and recorded.
    pub fetched_approvals: Vec<String>,
    /// Rollout documents recorded (`rollout-<env> serial N`).
    pub fetched_rollouts: Vec<String>,
    /// A newer trust document accepted, and what it changed.
    pub fetched_trust: Vec<String>,
    /// Local versions and approvals published.
    pub published: Vec<String>,
    /// What did not verify or could not be recorded, with why: never
    /// imported.
    pub problems: Vec<SyncProblem>,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct SyncProblem {
    pub tag: String,
    pub reason: String,
}

/// A tag's kind in a bundle's repository.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TagKind {
    Version,
    Signatures,
    /// `sha256-<hex>.approval-<keyid>-<env>`.
    Approval {
        digest: String,
        keyid: String,
        env: String,
    },
    Other,
}

fn tag_kind(tag: &str) -> TagKind {
    if let Some(rest) = tag.strip_prefix("sha256-") {
        let Some((hex, what)) = rest.split_once('.') else {
            return TagKind::Other;
        };
        if what == "sig" {
            return TagKind::Signatures;
        }
        if let Some(ke) = what.strip_prefix("approval-") {
            if let Some((keyid, env)) = ke.split_once('-') {
                return TagKind::Approval {
                    digest: format!("sha256:{hex}"),
                    keyid: keyid.to_string(),
                    env: env.to_string(),
                };
            }
        }
        return TagKind::Other;
    }
    if tag.starts_with("rollout-") || tag == artifact::TRUST_TAG {
        TagKind::Other
    } else {
        TagKind::Version
    }
}

impl Console {
    /// Publishes what this console has and the registry lacks for a bound
    /// bundle: its submitted versions (signed by the acting author) and
    /// the approvals recorded here, each approval as an artifact of its
    /// own (`sha256-<hex>.approval-<keyid>-<env>`), so that approvers
    /// publishing at once never overwrite each other.
    pub async fn publish(
        &self,
        bundle: &str,
        actor: Option<&str>,
    ) -> Result<SyncReport, RegistryUseError> {
        let (target, repo, row) = self.bound(bundle).await?;
        let mut report = SyncReport {
            bundle: bundle.to_string(),
            registry: row.name.clone(),
            ..SyncReport::default()
        };
        let tags: std::collections::HashSet<String> =
            target.tags(&repo).await?.into_iter().collect();
        let (versions, _) = self.store.version_history(bundle).await?;
        for v in versions
            .iter()
            .filter(|v| v.status != gavel_store::versions::VersionStatus::Draft)
        {
            let tag = artifact::version_tag(&v.version)?;
            if !tags.contains(&tag) {
                match self.push(&v.reference(), false, actor).await {
                    Ok(_) => report.published.push(format!("{repo}:{tag}")),
                    Err(e @ RegistryUseError::Registry(_)) => return Err(e),
                    Err(e) => report.problems.push(SyncProblem {
                        tag: tag.clone(),
                        reason: e.to_string(),
                    }),
                }
            }
            let subject = target.manifest(&repo, &tag).await?.map(|(_, d)| d);
            for a in self.store.approvals(&v.digest, None).await? {
                if a.source == "registry" {
                    continue;
                }
                let atag = artifact::approval_tag(&v.digest, &a.keyid, &a.environment)?;
                if tags.contains(&atag) {
                    continue;
                }
                let bytes = a.envelope.to_string().into_bytes();
                let m = Manifest::new(
                    SIGNATURES_ARTIFACT,
                    vec![Descriptor::of(DSSE_LAYER, &bytes)],
                    subject.clone(),
                );
                target.push(&repo, &m, &[&bytes], Some(&atag)).await?;
                report.published.push(format!("{repo}:{atag}"));
            }
        }
        Ok(report)
    }

    /// After a change to a version of `bundle` (submit, approve, reject):
    /// publishes it when the bundle is bound (`None` when it is not). A
    /// failure leaves the local change as it is; `sync` publishes later.
    pub async fn publish_if_bound(
        &self,
        bundle: &str,
        actor: Option<&str>,
    ) -> Option<Result<SyncReport, RegistryUseError>> {
        match self.store.binding(bundle).await {
            Ok(Some(_)) => Some(self.publish(bundle, actor).await),
            Ok(None) => None,
            Err(e) => Some(Err(e.into())),
        }
    }

    /// `gavel sync [--bundle NAME]` for one bound bundle: fetches the
    /// versions and approvals this store lacks, verifies each against the
    /// trust store, records what verifies (versions as submitted by their
    /// author; approvals with source `registry`), lists what does not with
    /// why, then publishes what this console has and the registry lacks.
    pub async fn sync(
        &self,
        bundle: &str,
        actor: Option<&str>,
    ) -> Result<SyncReport, RegistryUseError> {
        let (target, repo, row) = self.bound(bundle).await?;
        let mut report = SyncReport {
            bundle: bundle.to_string(),
            registry: row.name.clone(),
            ..SyncReport::default()
        };
        let tags = target.tags(&repo).await?;
        // The team's keys first: versions and approvals may be signed by a
        // key the new trust document brings.
        if tags.iter().any(|t| t == artifact::TRUST_TAG) {
            match self.sync_trust(&target, &repo).await? {
                Some(Ok(said)) => report.fetched_trust.push(said),
                Some(Err(problem)) => report.problems.push(problem),
                None => {}
            }
        }
        let (local, _) = self.store.version_history(bundle).await?;
        let have: std::collections::HashSet<String> = local
            .iter()
            .filter_map(|v| artifact::version_tag(&v.version).ok())
            .collect();
        // Versions first, so that their approvals find them.
        for tag in tags.iter().filter(|t| tag_kind(t) == TagKind::Version) {
            if have.contains(tag) {
                // A version tag never moves: one naming another digest than
                // the version this console has is listed, never followed.
                let mine = local.iter().find(|v| {
                    artifact::version_tag(&v.version).ok().as_deref() == Some(tag.as_str())
                });
                if let (Some(v), Some((m, _))) = (mine, target.manifest(&repo, tag).await?) {
                    let theirs = m
                        .layers
                        .first()
                        .map(|l| l.digest.clone())
                        .unwrap_or_default();
                    if theirs != v.digest {
                        report.problems.push(SyncProblem {
                            tag: tag.clone(),
                            reason: format!(
                                "the tag now names {theirs}, but {} is {} here: a version tag never moves; refused",
                                v.reference(),
                                v.digest
                            ),
                        });
                    }
                }
                continue;
            }
            let reference = format!("{bundle}@{}", tag.replace('_', "+"));
            match self.pull(&reference, actor).await {
                Ok(v) => {
                    let stored = self.resolve_version(&v.reference).await?;
                    self.store.submit_version(stored.id, &v.author).await?;
                    report.fetched_versions.push(v.reference);
                }
                Err(e @ RegistryUseError::Registry(RegistryError::Unreachable { .. })) => {
                    return Err(e);
                }
                Err(e) => report.problems.push(SyncProblem {
                    tag: tag.clone(),
                    reason: e.to_string(),
                }),
            }
        }
        for tag in &tags {
            let TagKind::Approval { digest, keyid, env } = tag_kind(tag) else {
                continue;
            };
            let known = self.store.approvals(&digest, Some(&env)).await?;
            if known.iter().any(|a| a.keyid == keyid) {
                continue;
            }
            let has_version = self
                .store
                .versions_by_digest_prefix(&digest)
                .await?
                .iter()
                .any(|v| v.digest == digest);
            if !has_version {
                report.problems.push(SyncProblem {
                    tag: tag.clone(),
                    reason: format!("no version here has digest {digest}"),
                });
                continue;
            }
            let doc = match envelope_at(&target, &repo, tag).await {
                Ok(Some(doc)) => doc,
                Ok(None) => continue,
                Err(e) => {
                    report.problems.push(SyncProblem {
                        tag: tag.clone(),
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            match self.import_approval_as(&doc, "registry").await {
                Ok(r) => report.fetched_approvals.push(format!(
                    "{} {} {} by {}",
                    r.reference,
                    r.environment,
                    r.decision.as_str(),
                    r.approver
                )),
                Err(e) => report.problems.push(SyncProblem {
                    tag: tag.clone(),
                    reason: e.to_string(),
                }),
            }
        }
        for tag in tags.iter().filter(|t| t.starts_with("rollout-")) {
            let env = &tag["rollout-".len()..];
            let outcome = match envelope_at(&target, &repo, tag).await {
                Err(e) => Err(RegistryUseError::from(e)),
                Ok(None) => Ok(None),
                Ok(Some(doc)) => self.import_rollout(bundle, env, &doc).await,
            };
            match outcome {
                Ok(Some(serial)) => report
                    .fetched_rollouts
                    .push(format!("{tag} serial {serial}")),
                Ok(None) => {}
                Err(e) => report.problems.push(SyncProblem {
                    tag: tag.clone(),
                    reason: e.to_string(),
                }),
            }
        }
        let published = self.publish(bundle, actor).await?;
        report.published = published.published;
        report.problems.extend(published.problems);
        Ok(report)
    }

    /// `bundle` alone, or every bundle bound to a registry.
    pub(crate) async fn bound_bundles(
        &self,
        bundle: Option<&str>,
    ) -> Result<Vec<String>, RegistryUseError> {
        Ok(match bundle {
            Some(b) => vec![b.to_string()],
            None => self
                .store
                .registries()
                .await?
                .into_iter()
                .flat_map(|r| r.bundles)
                .collect(),
        })
    }

    /// [`Console::sync`] for every bound bundle (or just `bundle`).
    pub async fn sync_all(
        &self,
        bundle: Option<&str>,
        actor: Option<&str>,
    ) -> Result<Vec<SyncReport>, RegistryUseError> {
        let bundles = self.bound_bundles(bundle).await?;
        let mut out = Vec::with_capacity(bundles.len());
        for b in bundles {
            out.push(self.sync(&b, actor).await?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_told_apart() {
        let hex = "b15bf27bf394395fd16df0225ae90c281e4b4318dfe524a81fb56256ad0fa7f3";
        assert_eq!(tag_kind("1.0.0"), TagKind::Version);
        assert_eq!(tag_kind("1.0.0-rc.1_b.5"), TagKind::Version);
        assert_eq!(tag_kind(&format!("sha256-{hex}.sig")), TagKind::Signatures);
        assert_eq!(
            tag_kind(&format!("sha256-{hex}.approval-0123456789abcdef-prod")),
            TagKind::Approval {
                digest: format!("sha256:{hex}"),
                keyid: "0123456789abcdef".into(),
                env: "prod".into()
            }
        );
        assert_eq!(tag_kind("rollout-prod"), TagKind::Other);
        assert_eq!(tag_kind("trust"), TagKind::Other);
        assert_eq!(tag_kind("sha256-zz"), TagKind::Other);
    }
}

/// What publishing a rollout sent.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct RolloutPublished {
    /// Tags written (`sha256-<hex>.sig` of each version serving, then
    /// `rollout-<env>`).
    pub tags: Vec<String>,
    /// The tag read back names another document: another console published
    /// at the same time. Agents take the higher serial; run `sync`.
    pub conflict: Option<String>,
}

/// The `serial` a rollout envelope's payload states (read without
/// verifying: the caller verifies it before acting on it).
fn rollout_serial(doc: &Value) -> Option<i64> {
    use base64::Engine as _;
    let payload = doc.get("payload")?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()?
        .get("serial")?
        .as_i64()
}

impl Console {
    /// Before a state change of a bound bundle in `env`: the registry's
    /// `rollout-<env>`, when it verifies against a trusted operator key and
    /// states a serial newer than this store's, means another console
    /// moved the environment: refused as stale until `sync`. An unbound
    /// bundle, or nothing published yet, passes.
    pub async fn check_remote_rollout(
        &self,
        bundle: &str,
        env: &str,
    ) -> Result<(), RegistryUseError> {
        if self.store.binding(bundle).await?.is_none() {
            return Ok(());
        }
        let (target, repo, row) = self.bound(bundle).await?;
        let Some((m, _)) = target.manifest(&repo, &artifact::rollout_tag(env)?).await? else {
            return Ok(());
        };
        let Some(layer) = m.layers.first() else {
            return Ok(());
        };
        let bytes = target.blob(&repo, layer).await?;
        let doc: Value = serde_json::from_slice(&bytes).map_err(|e| RegistryUseError::Refused {
            what: format!("{repo}:rollout-{env}"),
            why: format!("not JSON: {e}"),
        })?;
        let verified = self.verify(&doc, None, jiff::Timestamp::now()).await?;
        if !verified.valid {
            return Err(RegistryUseError::Refused {
                what: format!("{repo}:rollout-{env}"),
                why: verified.message,
            });
        }
        let remote = rollout_serial(&doc).unwrap_or(0);
        let local = self
            .status(Some(bundle), Some(env))
            .await?
            .environments
            .first()
            .and_then(|e| e.bundles.first())
            .map_or(0, |b| b.serial);
        if remote > local {
            return Err(crate::LifecycleError::Stale(format!(
                "registry `{}` has rollout serial {remote} of {bundle} in {env}, this console {local}: another console moved it; run `gavel sync --bundle {bundle}` first",
                row.name
            ))
            .into());
        }
        Ok(())
    }

    /// A state change of `bundle` in `env` as a team makes it: refused as
    /// stale while the registry holds a newer rollout (when the bundle is
    /// known before the change), then `change`, then the rollout published
    /// when the bundle is bound and the change moved it. The change stands
    /// whatever publishing does: its outcome comes back beside it.
    pub async fn shared_change(
        &self,
        bundle: Option<&str>,
        env: &str,
        change: impl std::future::Future<Output = Result<crate::Transition, crate::LifecycleError>>,
        actor: Option<&str>,
    ) -> Result<
        (
            crate::Transition,
            Option<Result<RolloutPublished, RegistryUseError>>,
        ),
        RegistryUseError,
    > {
        if let Some(b) = bundle {
            self.check_remote_rollout(b, env).await?;
        }
        let t = change.await?;
        let published = if t.action == "none" {
            None
        } else {
            self.publish_if_bound_rollout(&t, actor).await
        };
        Ok((t, published))
    }

    /// [`Console::publish_rollout`] when the transition's bundle is bound
    /// (`None` when it is not).
    pub async fn publish_if_bound_rollout(
        &self,
        t: &crate::Transition,
        actor: Option<&str>,
    ) -> Option<Result<RolloutPublished, RegistryUseError>> {
        match self.store.binding(&t.rollout.bundle).await {
            Ok(Some(_)) => Some(self.publish_rollout(t, actor).await),
            Ok(None) => None,
            Err(e) => Some(Err(e.into())),
        }
    }

    /// After activate, promote, rollback or an automatic rollback of a
    /// bound bundle: the signatures artifact of each version serving
    /// (its bundle envelope and the approvals counted), then the signed
    /// rollout document as `rollout-<env>`, read back to catch a console
    /// that published at the same moment.
    pub async fn publish_rollout(
        &self,
        t: &crate::Transition,
        actor: Option<&str>,
    ) -> Result<RolloutPublished, RegistryUseError> {
        let bundle = t.rollout.bundle.as_str();
        let env = t.rollout.environment.as_str();
        let (target, repo, _) = self.bound(bundle).await?;
        let mut tags = Vec::new();
        let serving =
            std::iter::once(&t.rollout.active).chain(t.rollout.canary.as_ref().map(|c| &c.slot));
        for slot in serving {
            let r = self.push(&slot.reference, false, actor).await?;
            tags.extend(r.artifacts.into_iter().map(|a| a.tag));
        }
        let bytes = t.rollout.document.to_string().into_bytes();
        let m = Manifest::new(
            artifact::ROLLOUT_ARTIFACT,
            vec![Descriptor::of(DSSE_LAYER, &bytes)],
            None,
        );
        let tag = artifact::rollout_tag(env)?;
        let (_, sent) = m.encoded();
        target.push(&repo, &m, &[&bytes], Some(&tag)).await?;
        tags.push(tag.clone());
        let conflict = match target.manifest(&repo, &tag).await? {
            Some((_, now)) if now.digest != sent.digest => Some(format!(
                "{repo}:{tag} names another rollout document than the one just published (serial {}): another console published at the same moment",
                t.rollout.serial
            )),
            _ => None,
        };
        Ok(RolloutPublished { tags, conflict })
    }
}

impl Console {
    /// Records a rollout document another console published for `bundle`
    /// in `env`: verified against a trusted operator key, for this bundle
    /// and environment, naming versions this store has, with a serial
    /// newer than this store's. Answers the serial recorded, or `None` when
    /// this store already has it. A lower serial, or another document with
    /// the serial this store has, is refused.
    pub async fn import_rollout(
        &self,
        bundle: &str,
        env: &str,
        doc: &Value,
    ) -> Result<Option<i64>, RegistryUseError> {
        use gavel_store::lifecycle::{CanarySlot, DeployState, NextRollout, RolloutChange, Slot};

        let refused = |why: String| RegistryUseError::Refused {
            what: format!("rollout-{env} of {bundle}"),
            why,
        };
        let v = self.verify(doc, None, jiff::Timestamp::now()).await?;
        if !v.valid {
            return Err(refused(v.message));
        }
        if v.payload_type.as_deref() != Some(gavel_trust::PayloadKind::Rollout.media_type()) {
            return Err(refused("not a rollout document".into()));
        }
        let p = v.payload.unwrap_or_default();
        let said = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default();
        if said("bundle") != bundle || said("environment") != env {
            return Err(refused(format!(
                "it is for {} in {}",
                said("bundle"),
                said("environment")
            )));
        }
        let serial = p.get("serial").and_then(Value::as_i64).unwrap_or(0);
        let current = self.store.rollout(bundle, env).await?;
        let local = current.as_ref().map_or(0, |r| r.serial);
        if serial < local {
            return Err(refused(format!(
                "its serial {serial} is lower than this console's {local} (a rollback attack, or an old document)"
            )));
        }
        if serial == local {
            return match &current {
                Some(r) if r.envelope == *doc => Ok(None),
                _ => Err(refused(format!(
                    "another document with serial {serial} than this console's: two consoles published one serial"
                ))),
            };
        }
        let find = |digest: String| async move {
            self.store
                .versions_by_digest_prefix(&digest)
                .await
                .map(|vs| vs.into_iter().find(|v| v.digest == digest))
        };
        let stable_doc = p.get("stable").cloned().unwrap_or_default();
        let stable_digest = stable_doc
            .get("digest")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let stable_v = find(stable_digest.clone())
            .await?
            .ok_or_else(|| refused(format!("it serves {stable_digest}, which this console does not have: sync its versions first")))?;
        let stable = Slot {
            version_id: stable_v.id,
            version: stable_v.version.clone(),
            digest: stable_v.digest.clone(),
            activated_at: stable_doc
                .get("activated_at")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        };
        let canary = match p.get("canary").filter(|c| !c.is_null()) {
            None => None,
            Some(c) => {
                let digest = c
                    .get("digest")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let cv = find(digest.clone()).await?.ok_or_else(|| {
                    refused(format!(
                        "its canary {digest} is not in this console: sync its versions first"
                    ))
                })?;
                let percent = c
                    .get("percent")
                    .and_then(Value::as_u64)
                    .and_then(|n| u8::try_from(n).ok())
                    .filter(|n| (1..=99).contains(n))
                    .ok_or_else(|| refused("its canary percent is not 1 to 99".into()))?;
                Some(CanarySlot {
                    slot: Slot {
                        version_id: cv.id,
                        version: cv.version.clone(),
                        digest: cv.digest.clone(),
                        activated_at: c
                            .get("activated_at")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    },
                    percent,
                    step_started_at: v.issued_at.clone().unwrap_or_default(),
                })
            }
        };
        // The states follow the document: what serves is active or canary;
        // a canary no longer named was rolled back unless it became the
        // stable one; a stable one replaced is superseded.
        let mut states = vec![(stable.version_id, DeployState::Active)];
        if let Some(c) = &canary {
            states.push((c.slot.version_id, DeployState::Canary));
        }
        if let Some(r) = &current {
            let named = |id: i64| {
                id == stable.version_id || canary.as_ref().is_some_and(|c| c.slot.version_id == id)
            };
            if let Some(c) = &r.canary {
                if !named(c.slot.version_id) {
                    states.push((c.slot.version_id, DeployState::RolledBack));
                }
            }
            if !named(r.stable.version_id) {
                states.push((r.stable.version_id, DeployState::Superseded));
            }
        }
        let signer = v
            .signers
            .first()
            .map_or("registry", |s| s.name.as_str())
            .to_string();
        let change = RolloutChange {
            bundle: bundle.to_string(),
            environment: env.to_string(),
            expected_serial: local,
            next: NextRollout {
                stable,
                canary,
                envelope: doc.clone(),
            },
            states,
            incident: None,
            gate_check: None,
            actor: signer,
            action: "rollout.sync".into(),
            subject: format!("{bundle}@{}", stable_v.version),
            details: serde_json::json!({"serial": serial, "environment": env}),
        };
        match self.store.apply_rollout_at(&change, Some(serial)).await? {
            gavel_store::lifecycle::Applied::Done { serial, .. } => Ok(Some(serial)),
            gavel_store::lifecycle::Applied::Stale { current } => Err(refused(format!(
                "this console moved to serial {current} meanwhile: sync again"
            ))),
            gavel_store::lifecycle::Applied::Closed { state, .. } => Err(refused(format!(
                "a version it serves is {} here",
                state.as_str()
            ))),
        }
    }
}
