//! Gavel's application layer: every user action is one function here, used
//! by the CLI now and by the desktop app later. For now: identities and
//! keys (private halves only in the OS keychain), signing and verifying.
//!
//! This crate does IO (the store, the keychain, randomness, the clock); the
//! rules it applies come from the pure crates.

mod audit;
mod backup;
pub mod desktop;
mod keychain;
mod lifecycle;
mod overrides;
mod registry;
mod review;
mod runs;
mod team_trust;
mod versions;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gavel_store::{Identity, Store, StoreError};
use gavel_trust::ed25519::SigningKey;
use gavel_trust::{KeyId, PayloadError, PayloadKind, PublicKey, Role, Sensitive, VerifyOptions};
use serde::Serialize;

pub use audit::{
    AuditExport, AuditQuery, AuditVerification, CHECKPOINT_TYPE, CHECKPOINT_VALIDITY_SECONDS,
    CheckpointCheck, DEFAULT_LIST_LIMIT as DEFAULT_AUDIT_LIST_LIMIT,
    MAX_LIST_LIMIT as MAX_AUDIT_LIST_LIMIT, OperatorKey, SignedCheckpoint,
};
pub use backup::{BACKUP_FORMAT, BackupError, KeyBackup, KeyRestore};
pub use gavel_store::lifecycle::{DeployState, Environment, GateCheck, Incident, StoredApproval};
pub use gavel_store::registry::RegistryRow;
pub use gavel_store::versions::{DocumentFormat, VersionSource, VersionStatus};
pub use gavel_store::{AuditEntry, NewRun, RunBatch, ScorecardRun};
pub use keychain::{Keychain, KeychainError, MemoryKeychain, OsKeychain};
pub use lifecycle::{
    ApprovalRecord, Approver, BundleStatus, CANARY_STEPS, CanaryView, Decision, EVIDENCE_CASES,
    EVIDENCE_SEED, EnvSettings, EnvStatus, Evidence, Expect, Impact, LifecycleError,
    MIN_COMMENT_CHARS, PendingView, RolloutView, SlotView, Status, Tally, Transition, evidence_of,
    human_seconds, parse_duration,
};
pub use overrides::{
    CheckedOverride, IssuedOverride, MIN_REASON_CHARS, OVERRIDE_TYPE, OverrideRequest,
    OverrideVerification, check_override_doc,
};
pub use registry::{
    PushReport, PushedArtifact, RegistryUseError, RolloutPublished, SyncProblem, SyncReport,
};
pub use review::{
    PackageSignature, PackedApproval, PackedVersion, REVIEW_TYPE, ReviewError, ReviewPackage,
    ReviewReport, SignedApproval,
};
pub use runs::{DEFAULT_RUNS_LIMIT, MAX_RUNS_LIMIT, RunFilter, run_time};
pub use team_trust::TrustPublished;
pub use versions::{
    EXAMPLE_AUTHOR, EXAMPLES, EditedVersion, ExampleLoad, ExportedVersion, InitReport, ListQuery,
    MAX_LIST_LIMIT, MIN_DIGEST_DIGITS, VersionDetail, VersionDiff, VersionError, VersionHistory,
    VersionList, VersionRef, VersionSummary,
};

/// Why a use case could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keychain(#[from] KeychainError),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Invalid(String),
    /// A payload that is not well formed for its type, or cannot be signed
    /// as given.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// An override that forces a verdict no override may force.
    #[error("{0}")]
    InvalidOverride(String),
    /// A key backup that cannot be made or read (`keys backup`, `restore`).
    #[error(transparent)]
    Backup(#[from] BackupError),
}

impl ConsoleError {
    /// Refusals are exit 1; bad input and missing things are exit 2.
    pub fn is_refusal(&self) -> bool {
        matches!(self, ConsoleError::Refused(_))
    }

    /// The error code the CLI's `{"error": {"code"}}` and the desktop app
    /// carry (the README's error table lists each).
    pub fn code(&self) -> &'static str {
        match self {
            ConsoleError::Refused(_) => "refused",
            ConsoleError::NotFound(_) => "not_found",
            ConsoleError::Invalid(_) => "invalid",
            ConsoleError::InvalidOverride(_) => "invalid_override",
            ConsoleError::Payload(_) => "invalid_payload",
            ConsoleError::Store(_) => "store",
            ConsoleError::Keychain(_) => "keychain",
            ConsoleError::Backup(BackupError::BadPassphrase) => "bad_passphrase",
            ConsoleError::Backup(BackupError::InvalidPassphrase(_)) => "invalid_passphrase",
            ConsoleError::Backup(BackupError::InvalidBackup(_)) => "invalid_backup",
        }
    }
}

/// Where Gavel keeps its data: `GAVEL_HOME`, else the platform's data
/// directory (`$XDG_DATA_HOME/gavel`, by default `~/.local/share/gavel`, on
/// Linux; `~/Library/Application Support/gavel` on macOS; `%APPDATA%\gavel`
/// on Windows), else `.gavel` in the working directory when the platform
/// has no home directory.
pub fn gavel_home() -> PathBuf {
    if let Some(h) = std::env::var_os("GAVEL_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    directories::ProjectDirs::from("", "", "gavel")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".gavel"))
}

/// The keychain service name: `GAVEL_KEYCHAIN_SERVICE`, else `gavel`.
pub fn keychain_service() -> String {
    std::env::var("GAVEL_KEYCHAIN_SERVICE")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "gavel".to_string())
}

fn key_account(keyid: &KeyId) -> String {
    format!("ed25519:{keyid}")
}

fn secret_account(name: &str) -> String {
    format!("hmac:{name}")
}

/// A key as `keys list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct KeyInfo {
    pub keyid: String,
    pub name: String,
    pub email: String,
    pub roles: Vec<Role>,
    /// An identity of this store (its private key is in the keychain).
    pub identity: bool,
    pub retired: bool,
    pub added_at: String,
}

/// The result of creating an identity.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct NewIdentity {
    pub public_key: PublicKey,
    /// The first identity of a new store gets every person role.
    pub bootstrap: bool,
}

/// The most keys one `trust_keys` call takes: a team's trust store is tens
/// of keys, and each is a write to the store.
pub const MAX_TRUST_KEYS: usize = 1000;

/// A key as `trust_keys` trusted it.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct TrustedKey {
    /// The key with the roles it now holds.
    #[serde(flatten)]
    pub key: PublicKey,
    /// Roles the file named that were not granted: roles come only from a
    /// `security` identity's `--roles`.
    pub ignored_roles: Vec<Role>,
}

/// The console: a store and a keychain.
#[derive(Debug, Clone)]
pub struct Console {
    store: Store,
    keychain: Arc<dyn Keychain>,
    home: PathBuf,
}

impl Console {
    /// Opens the store in `home` (creating it) with the given keychain.
    pub async fn open(home: &Path, keychain: Arc<dyn Keychain>) -> Result<Console, ConsoleError> {
        std::fs::create_dir_all(home).map_err(|e| {
            ConsoleError::Invalid(format!("cannot create `{}`: {e}", home.display()))
        })?;
        let store = Store::open(&home.join("gavel.db")).await?;
        Ok(Console {
            store,
            keychain,
            home: home.to_path_buf(),
        })
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The acting identity: `requested` (a name or key id), else the
    /// store's only identity (DESIGN §11.9). An empty request (say
    /// `GAVEL_IDENTITY=`, which clap passes on as `""`) counts as none.
    pub async fn acting_identity(&self, requested: Option<&str>) -> Result<Identity, ConsoleError> {
        let ids = self.store.identities().await?;
        match requested.filter(|who| !who.trim().is_empty()) {
            Some(who) => ids
                .into_iter()
                .find(|i| i.name == who || i.keyid.0 == who)
                .ok_or_else(|| ConsoleError::NotFound(format!("no identity `{who}` in this store; see `gavel keys list`"))),
            None => match ids.len() {
                1 => ids.into_iter().next().ok_or_else(|| ConsoleError::NotFound("no identity".into())),
                0 => Err(ConsoleError::NotFound(
                    "this store has no identity yet: create one with `gavel keys gen --name NAME --email EMAIL`".into(),
                )),
                _ => Err(ConsoleError::Invalid(format!(
                    "several identities ({}): choose one with --as NAME or GAVEL_IDENTITY",
                    ids.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ")
                ))),
            },
        }
    }

    async fn roles_of(&self, keyid: &KeyId) -> Result<Vec<Role>, ConsoleError> {
        Ok(self
            .store
            .key(&keyid.0)
            .await?
            .map(|k| k.key.roles)
            .unwrap_or_default())
    }

    /// Roles may be granted only by a `security` identity, except for the
    /// very first identity of a store (the bootstrap).
    async fn require_security(
        &self,
        actor: Option<&str>,
        what: &str,
    ) -> Result<Identity, ConsoleError> {
        if self.store.identities().await?.is_empty() {
            return Err(ConsoleError::Refused(format!(
                "only an identity with the security role can {what}, and this store has no identity yet: create one with `gavel keys gen --name NAME --email EMAIL`"
            )));
        }
        let me = self.acting_identity(actor).await?;
        if self.roles_of(&me.keyid).await?.contains(&Role::Security) {
            Ok(me)
        } else {
            Err(ConsoleError::Refused(format!(
                "only an identity with the security role can {what}; `{}` has not got it",
                me.name
            )))
        }
    }

    /// Creates an identity with a new Ed25519 key: the private half goes to
    /// the keychain, the public half and the roles to the trust store.
    pub async fn generate_identity(
        &self,
        name: &str,
        email: &str,
        roles: Option<Vec<Role>>,
        actor: Option<&str>,
    ) -> Result<NewIdentity, ConsoleError> {
        if name.trim().is_empty() {
            return Err(ConsoleError::Invalid(
                "an identity needs a name (--name)".into(),
            ));
        }
        let existing = self.store.identities().await?;
        if existing.iter().any(|i| i.name == name) {
            return Err(ConsoleError::Invalid(format!(
                "identity `{name}` already exists; use `gavel keys rotate {name}` for a new key"
            )));
        }
        let bootstrap = existing.is_empty() && self.store.keys().await?.is_empty();
        let roles = match (bootstrap, roles) {
            (true, Some(r)) => r,
            (true, None) => Role::PEOPLE.to_vec(),
            (false, Some(r)) if !r.is_empty() => {
                self.require_security(actor, "grant roles").await?;
                r
            }
            (false, _) => Vec::new(),
        };
        let signing = new_signing_key()?;
        let public = PublicKey::new(&signing.verifying_key(), name, email, roles);
        let account = key_account(&public.keyid);
        self.keychain
            .set(&account, &Sensitive::new(signing.to_bytes().to_vec()))?;
        if let Err(e) = self.store.add_identity(&public).await {
            // Nothing half-made: the private key goes again.
            let _ = self.keychain.delete(&account);
            return Err(e.into());
        }
        Ok(NewIdentity {
            public_key: public,
            bootstrap,
        })
    }

    /// Every trusted key, identities first.
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>, ConsoleError> {
        let ids = self.store.identities().await?;
        let mut out: Vec<KeyInfo> = self
            .store
            .keys()
            .await?
            .into_iter()
            .map(|k| KeyInfo {
                identity: ids.iter().any(|i| i.keyid == k.key.keyid),
                retired: k.retired_at.is_some(),
                keyid: k.key.keyid.0,
                name: k.key.name,
                email: k.key.email,
                roles: k.key.roles,
                added_at: k.added_at,
            })
            .collect();
        out.sort_by_key(|k| (!k.identity, k.retired, k.added_at.clone()));
        Ok(out)
    }

    /// The public key of an identity or trusted key (by name or key id).
    pub async fn export_key(&self, who: &str) -> Result<PublicKey, ConsoleError> {
        let keys = self.store.keys().await?;
        keys.iter()
            .filter(|k| k.retired_at.is_none())
            .find(|k| k.key.keyid.0 == who || k.key.name == who)
            .or_else(|| keys.iter().find(|k| k.key.keyid.0 == who))
            .map(|k| k.key.clone())
            .ok_or_else(|| {
                ConsoleError::NotFound(format!(
                    "no key `{who}` in the trust store; see `gavel keys list`"
                ))
            })
    }

    /// Trusts public keys, as a `security` identity (always: there is no
    /// bootstrap through a file). Roles come only from `roles`: the roles a
    /// file names are ignored and reported. Without `roles` a new key gets
    /// none, and a key already trusted keeps the roles it has; it also
    /// keeps its name and email. At most `MAX_TRUST_KEYS` keys at once,
    /// each listed once.
    pub async fn trust_keys(
        &self,
        keys: Vec<PublicKey>,
        roles: Option<Vec<Role>>,
        actor: Option<&str>,
    ) -> Result<Vec<TrustedKey>, ConsoleError> {
        if keys.len() > MAX_TRUST_KEYS {
            return Err(ConsoleError::Invalid(format!(
                "the file lists {} keys; at most {MAX_TRUST_KEYS} are trusted at once",
                keys.len()
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for k in &keys {
            k.verifying_key().map_err(|e| {
                ConsoleError::Invalid(format!("cannot trust key `{}`: {e}", k.keyid))
            })?;
            if !seen.insert(&k.keyid) {
                return Err(ConsoleError::Invalid(format!(
                    "key `{}` is listed more than once",
                    k.keyid
                )));
            }
        }
        let me = self.require_security(actor, "trust keys").await?;
        let mut out = Vec::new();
        for mut key in keys {
            let named = std::mem::take(&mut key.roles);
            let known = self.store.key(&key.keyid.0).await?;
            if let Some(k) = &known {
                // A file cannot rename a key this store already trusts (its
                // name is what verification reports as the signer).
                key.name.clone_from(&k.key.name);
                key.email.clone_from(&k.key.email);
            }
            key.roles = match &roles {
                Some(r) => r.clone(),
                None => known.map(|k| k.key.roles).unwrap_or_default(),
            };
            let ignored_roles: Vec<Role> = named
                .into_iter()
                .filter(|r| !key.roles.contains(r))
                .collect();
            self.store.trust(&key, Some(&me.name)).await?;
            out.push(TrustedKey { key, ignored_roles });
        }
        Ok(out)
    }

    /// The trust store as `{"version": 1, "keys": [...]}`.
    pub async fn export_trust(&self) -> Result<serde_json::Value, ConsoleError> {
        // Retired keys travel too, marked: they still verify what they
        // signed before they retired.
        let keys: Vec<PublicKey> = self
            .store
            .keys()
            .await?
            .into_iter()
            .map(|k| k.key)
            .collect();
        Ok(serde_json::json!({"version": 1, "keys": keys}))
    }

    pub async fn untrust_key(&self, keyid: &str, actor: Option<&str>) -> Result<(), ConsoleError> {
        let me = self.require_security(actor, "remove trusted keys").await?;
        if self.store.key(keyid).await?.is_none() {
            return Err(ConsoleError::NotFound(format!(
                "no key `{keyid}` in the trust store"
            )));
        }
        if !self.store.untrust(keyid, &me.name).await? {
            return Err(ConsoleError::Refused(format!(
                "key `{keyid}` belongs to an identity of this store; rotate it instead"
            )));
        }
        Ok(())
    }

    /// A new key for an identity; the old one is retired (it still verifies
    /// what it signed) and its private half leaves the keychain.
    pub async fn rotate(&self, name: &str) -> Result<(KeyId, PublicKey), ConsoleError> {
        let me = self.acting_identity(Some(name)).await?;
        let roles = self.roles_of(&me.keyid).await?;
        let signing = new_signing_key()?;
        let public = PublicKey::new(&signing.verifying_key(), &me.name, &me.email, roles);
        let account = key_account(&public.keyid);
        self.keychain
            .set(&account, &Sensitive::new(signing.to_bytes().to_vec()))?;
        let old = match self.store.rotate(name, &public).await {
            Ok(Some(old)) => old,
            Ok(None) => {
                let _ = self.keychain.delete(&account);
                return Err(ConsoleError::NotFound(format!("no identity `{name}`")));
            }
            Err(e) => {
                let _ = self.keychain.delete(&account);
                return Err(e.into());
            }
        };
        self.keychain.delete(&key_account(&old))?;
        Ok((old, public))
    }

    /// The signing key of an identity, read from the keychain.
    pub async fn signing_key(
        &self,
        who: Option<&str>,
    ) -> Result<(Identity, SigningKey), ConsoleError> {
        let me = self.acting_identity(who).await?;
        let secret = self.keychain.get(&key_account(&me.keyid))?.ok_or_else(|| {
            ConsoleError::NotFound(format!(
                "the private key of `{}` ({}) is not in the keychain; restore it or rotate the identity",
                me.name, me.keyid
            ))
        })?;
        let bytes: [u8; 32] = secret.expose().as_slice().try_into().map_err(|_| {
            ConsoleError::Invalid(format!(
                "the keychain entry of `{}` is not an Ed25519 key",
                me.name
            ))
        })?;
        Ok((me, SigningKey::from_bytes(&bytes)))
    }

    /// Stores a shared HMAC secret in the keychain.
    pub fn set_secret(&self, name: &str, secret: &Sensitive<Vec<u8>>) -> Result<(), ConsoleError> {
        if secret.expose().is_empty() {
            return Err(ConsoleError::Invalid("the secret is empty".into()));
        }
        Ok(self.keychain.set(&secret_account(name), secret)?)
    }

    /// A shared HMAC secret from the keychain.
    pub fn secret(&self, name: &str) -> Result<Sensitive<Vec<u8>>, ConsoleError> {
        self.keychain.get(&secret_account(name))?.ok_or_else(|| {
            ConsoleError::NotFound(format!(
                "no secret `{name}` in the keychain; add it with `gavel keys secret {name}`"
            ))
        })
    }

    /// Every key of the trust store (retired ones verify what they signed).
    pub async fn trusted_keys(&self) -> Result<Vec<PublicKey>, ConsoleError> {
        Ok(self
            .store
            .keys()
            .await?
            .into_iter()
            .map(|k| k.key)
            .collect())
    }

    /// Records an override as used; `false` when it already was.
    pub async fn consume_override(
        &self,
        id: &str,
        workflow_id: Option<&str>,
        legacy: bool,
    ) -> Result<bool, ConsoleError> {
        Ok(self.store.consume_override(id, workflow_id, legacy).await?)
    }

    pub async fn override_used(&self, id: &str) -> Result<bool, ConsoleError> {
        Ok(self.store.override_used(id).await?)
    }

    /// Whether the acting identity holds `role`.
    pub async fn has_role(&self, who: Option<&str>, role: Role) -> Result<bool, ConsoleError> {
        let me = self.acting_identity(who).await?;
        Ok(self.roles_of(&me.keyid).await?.contains(&role))
    }

    /// The acting identity and its roles, refused unless it holds the role
    /// that signs `kind`.
    async fn signer_for(
        &self,
        kind: PayloadKind,
        who: Option<&str>,
    ) -> Result<(Identity, Vec<Role>), ConsoleError> {
        let me = self.acting_identity(who).await?;
        let roles = self.roles_of(&me.keyid).await?;
        let role = kind.signer_role();
        if !roles.contains(&role) {
            return Err(ConsoleError::Refused(format!(
                "`{}` cannot sign {} payloads: only an identity with the {} role signs them",
                me.name,
                kind.short(),
                role.as_str()
            )));
        }
        Ok((me, roles))
    }

    /// Signs a statement of `kind` as the acting identity. Gavel sets
    /// `issued_at` (now) and `expires_at` (after `validity_seconds`, or
    /// the kind's default); a statement that brings its own is refused.
    pub async fn sign_statement(
        &self,
        kind: PayloadKind,
        statement: &serde_json::Value,
        validity_seconds: Option<i64>,
        who: Option<&str>,
    ) -> Result<serde_json::Value, ConsoleError> {
        let (me, roles) = self.signer_for(kind, who).await?;
        let payload = gavel_trust::stamp(
            kind,
            statement,
            jiff::Timestamp::now(),
            validity_seconds.unwrap_or_else(|| kind.default_validity()),
        )?;
        gavel_trust::check_signer(kind, &payload, &me.name, &roles)?;
        self.sign_as(&me, kind, &payload).await
    }

    /// Signs a bundle document as its author: `{name, version, digest,
    /// bundle, author, issued_at, expires_at}`.
    pub async fn sign_bundle(
        &self,
        document: &serde_json::Value,
        validity_seconds: Option<i64>,
        who: Option<&str>,
    ) -> Result<serde_json::Value, ConsoleError> {
        let (me, _) = self.signer_for(PayloadKind::Bundle, who).await?;
        let statement = gavel_trust::bundle_statement(document, &me.name)
            .map_err(|e| ConsoleError::Invalid(format!("the bundle has no digest: {e}")))?;
        self.sign_statement(
            PayloadKind::Bundle,
            &statement,
            validity_seconds,
            Some(&me.keyid.0),
        )
        .await
    }

    async fn sign_as(
        &self,
        me: &Identity,
        kind: PayloadKind,
        payload: &serde_json::Value,
    ) -> Result<serde_json::Value, ConsoleError> {
        let (_, key) = self.signing_key(Some(&me.keyid.0)).await?;
        gavel_trust::sign_dsse(kind.media_type(), payload, &[&key])
            .map_err(|e| ConsoleError::Invalid(e.to_string()))
    }

    /// Verifies a signed document against the trust store; a signature
    /// counts only from a key holding the role that signs its type.
    pub async fn verify(
        &self,
        doc: &serde_json::Value,
        secret: Option<&Sensitive<Vec<u8>>>,
        now: jiff::Timestamp,
    ) -> Result<gavel_trust::Verification, ConsoleError> {
        let trusted = self.trusted_keys().await?;
        Ok(gavel_trust::verify_by_owner(
            doc,
            &VerifyOptions {
                now,
                trusted: &trusted,
                secret,
                expected_type: None,
            },
        ))
    }
}

fn new_signing_key() -> Result<SigningKey, ConsoleError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| ConsoleError::Invalid(format!("no randomness from the OS: {e}")))?;
    Ok(SigningKey::from_bytes(&seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A well-formed review package statement (no times).
    fn review_statement() -> serde_json::Value {
        let bundle = serde_json::json!([]);
        let digest = gavel_trust::bundle_digest(&bundle).unwrap().to_string();
        serde_json::json!({
            "bundle": "inbox-agents", "base": null,
            "proposed": {"version": "1.0.0", "digest": digest, "bundle": bundle},
            "diff": {}, "simulation": {}, "signatures": [],
        })
    }

    fn review(issued: &str, expires: &str) -> serde_json::Value {
        let mut p = review_statement();
        p["issued_at"] = issued.into();
        p["expires_at"] = expires.into();
        p
    }

    async fn console() -> (tempfile::TempDir, Console, Arc<MemoryKeychain>) {
        let dir = tempfile::tempdir().unwrap();
        let kc = Arc::new(MemoryKeychain::default());
        let c = Console::open(dir.path(), kc.clone()).await.unwrap();
        (dir, c, kc)
    }

    #[tokio::test]
    async fn bootstrap_then_security_grants_roles() {
        let (_dir, c, _) = console().await;
        let first = c
            .generate_identity("alice", "alice@example.com", None, None)
            .await
            .unwrap();
        assert!(first.bootstrap);
        assert_eq!(first.public_key.roles, Role::PEOPLE.to_vec());
        // A second identity gets roles only from a security identity.
        let bob = c
            .generate_identity("bob", "bob@example.com", None, Some("alice"))
            .await
            .unwrap();
        assert!(!bob.bootstrap && bob.public_key.roles.is_empty());
        let err = c
            .generate_identity(
                "carol",
                "c@example.com",
                Some(vec![Role::Approver]),
                Some("bob"),
            )
            .await
            .unwrap_err();
        assert!(err.is_refusal(), "{err}");
        let carol = c
            .generate_identity(
                "carol",
                "c@example.com",
                Some(vec![Role::Approver]),
                Some("alice"),
            )
            .await
            .unwrap();
        assert_eq!(carol.public_key.roles, vec![Role::Approver]);
        assert!(
            c.acting_identity(None).await.is_err(),
            "several identities need --as"
        );
    }

    #[tokio::test]
    async fn sign_verify_rotate() {
        let (_dir, c, kc) = console().await;
        let alice = c
            .generate_identity("alice", "a@example.com", None, None)
            .await
            .unwrap()
            .public_key;
        let env = c
            .sign_statement(PayloadKind::Review, &review_statement(), None, None)
            .await
            .unwrap();
        let now = jiff::Timestamp::now();
        assert!(c.verify(&env, None, now).await.unwrap().valid);
        let old_seed: [u8; 32] = kc
            .get(&key_account(&alice.keyid))
            .unwrap()
            .unwrap()
            .expose()
            .as_slice()
            .try_into()
            .unwrap();
        let (old, new) = c.rotate("alice").await.unwrap();
        assert_eq!(old, alice.keyid);
        assert_ne!(new.keyid, alice.keyid);
        assert!(
            kc.get(&key_account(&old)).unwrap().is_none(),
            "the old private key left the keychain"
        );
        // The retired key still verifies what it signed before retiring...
        assert!(c.verify(&env, None, now).await.unwrap().valid);
        // ...but not what is issued after (a stolen old key signs nothing new).
        let later = jiff::Timestamp::from_second(now.as_second() + 86_400).unwrap();
        let fresh = review(
            &gavel_trust::rfc3339(later),
            &gavel_trust::rfc3339(
                jiff::Timestamp::from_second(later.as_second() + 86_400).unwrap(),
            ),
        );
        let old_signing = SigningKey::from_bytes(&old_seed);
        let forged = gavel_trust::sign_dsse(
            "application/vnd.gavel.review.v1+json",
            &fresh,
            &[&old_signing],
        )
        .unwrap();
        let v = c.verify(&forged, None, later).await.unwrap();
        assert_eq!(
            (v.valid, v.reason),
            (false, Some(gavel_trust::Reason::UnknownKey)),
            "{}",
            v.message
        );
        let listed = c.list_keys().await.unwrap();
        assert!(listed.iter().any(|k| k.keyid == old.0 && k.retired));
        assert_eq!(c.export_key("alice").await.unwrap().keyid, new.keyid);
    }

    /// Regression: `GAVEL_IDENTITY=` (set but empty) counts as unset.
    #[tokio::test]
    async fn an_empty_identity_request_means_the_only_identity() {
        let (_dir, c, _) = console().await;
        c.generate_identity("alice", "a@example.com", None, None)
            .await
            .unwrap();
        for empty in ["", "  "] {
            assert_eq!(c.acting_identity(Some(empty)).await.unwrap().name, "alice");
        }
        assert!(matches!(
            c.acting_identity(Some("bob")).await,
            Err(ConsoleError::NotFound(_))
        ));
    }

    /// Regression: a file's roles are never granted; roles come only from a
    /// security identity, and trusting needs one even in an empty store.
    #[tokio::test]
    async fn trusting_grants_only_the_roles_a_security_identity_gives() {
        let (_dir, c, _) = console().await;
        let stranger = PublicKey::new(
            &SigningKey::from_bytes(&[5; 32]).verifying_key(),
            "mallory",
            "m@example.com",
            vec![Role::Security, Role::Author],
        );
        // No identity, so no security identity: refused, nothing trusted.
        let err = c
            .trust_keys(vec![stranger.clone()], None, None)
            .await
            .unwrap_err();
        assert!(err.is_refusal(), "{err}");
        assert!(c.trusted_keys().await.unwrap().is_empty());
        c.generate_identity("alice", "a@example.com", None, None)
            .await
            .unwrap();
        let done = c
            .trust_keys(vec![stranger.clone()], None, None)
            .await
            .unwrap();
        assert_eq!(done[0].key.roles, Vec::<Role>::new());
        assert_eq!(done[0].ignored_roles, vec![Role::Security, Role::Author]);
        let stored = |c: Console| async move {
            c.trusted_keys()
                .await
                .unwrap()
                .into_iter()
                .find(|k| k.name == "mallory")
                .unwrap()
                .roles
        };
        assert!(stored(c.clone()).await.is_empty());
        // `--roles` by security: exactly those.
        let done = c
            .trust_keys(vec![stranger.clone()], Some(vec![Role::Approver]), None)
            .await
            .unwrap();
        assert_eq!(done[0].key.roles, vec![Role::Approver]);
        assert_eq!(stored(c.clone()).await, vec![Role::Approver]);
        // Trusted again without `--roles`: it keeps what it was granted.
        let done = c
            .trust_keys(vec![stranger.clone()], None, None)
            .await
            .unwrap();
        assert_eq!(done[0].key.roles, vec![Role::Approver]);
        assert_eq!(stored(c.clone()).await, vec![Role::Approver]);
        // A file cannot rename a trusted key, list one twice, or list too many.
        let mut renamed = stranger.clone();
        renamed.name = "alice".into();
        let done = c.trust_keys(vec![renamed], None, None).await.unwrap();
        assert_eq!(done[0].key.name, "mallory");
        let err = c
            .trust_keys(vec![stranger.clone(), stranger.clone()], None, None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("more than once"), "{err}");
        let err = c
            .trust_keys(vec![stranger.clone(); MAX_TRUST_KEYS + 1], None, None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, ConsoleError::Invalid(_)) && err.to_string().contains("at most 1000"),
            "{err}"
        );
        // A non-security identity cannot trust, with or without roles.
        c.generate_identity("bob", "b@example.com", None, Some("alice"))
            .await
            .unwrap();
        for roles in [None, Some(vec![Role::Approver])] {
            let err = c
                .trust_keys(vec![stranger.clone()], roles, Some("bob"))
                .await
                .unwrap_err();
            assert!(err.is_refusal(), "{err}");
        }
    }

    /// Regression: each payload type is signed only by its role, only well
    /// formed, with the times Gavel sets.
    #[tokio::test]
    async fn signing_checks_role_shape_and_times() {
        let (_dir, c, _) = console().await;
        c.generate_identity("alice", "a@example.com", None, None)
            .await
            .unwrap();
        c.generate_identity(
            "bob",
            "b@example.com",
            Some(vec![Role::Analyst]),
            Some("alice"),
        )
        .await
        .unwrap();
        let bundle = serde_json::json!([]);
        // Bob is no author: refused for a bundle and for a review.
        let err = c.sign_bundle(&bundle, None, Some("bob")).await.unwrap_err();
        assert!(err.is_refusal(), "{err}");
        assert!(err.to_string().contains("author role"), "{err}");
        let err = c
            .sign_statement(PayloadKind::Review, &review_statement(), None, Some("bob"))
            .await
            .unwrap_err();
        assert!(err.is_refusal(), "{err}");
        // Alice (every person role) signs; the times are Gavel's.
        let before = jiff::Timestamp::now().as_second();
        let env = c
            .sign_bundle(&bundle, Some(600), Some("alice"))
            .await
            .unwrap();
        let v = c.verify(&env, None, jiff::Timestamp::now()).await.unwrap();
        assert!(v.valid, "{}", v.message);
        let p = v.payload.unwrap();
        let t = |k: &str| {
            p[k].as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .unwrap()
                .as_second()
        };
        assert!(t("issued_at") >= before && t("issued_at") <= before + 5);
        assert_eq!(t("expires_at") - t("issued_at"), 600);
        assert_eq!(p["author"], "alice");
        let env = c
            .sign_statement(
                PayloadKind::Review,
                &review_statement(),
                None,
                Some("alice"),
            )
            .await
            .unwrap();
        let p = c
            .verify(&env, None, jiff::Timestamp::now())
            .await
            .unwrap()
            .payload
            .unwrap();
        let t = |k: &str| {
            p[k].as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .unwrap()
                .as_second()
        };
        assert_eq!(
            t("expires_at") - t("issued_at"),
            14 * 86_400,
            "review default"
        );
        // A caller's times, a malformed statement, another signer's name.
        let mut timed = review_statement();
        timed["expires_at"] = "2099-01-01T00:00:00Z".into();
        let err = c
            .sign_statement(PayloadKind::Review, &timed, None, Some("alice"))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ConsoleError::Payload(PayloadError::SetByGavel {
                    field: "expires_at"
                })
            ),
            "{err}"
        );
        let err = c
            .sign_statement(
                PayloadKind::Approval,
                &serde_json::json!({}),
                None,
                Some("alice"),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, ConsoleError::Payload(_)) && !err.is_refusal(),
            "{err}"
        );
        let err = c
            .sign_statement(
                PayloadKind::Override,
                &serde_json::json!({
                    "id": "o1", "workflow_id": "wf", "flags": {"bypass_micro_pilot": true, "forced_verdict": null},
                    "reason": "Board approved the launch", "issued_by": "sam",
                }),
                None,
                Some("alice"),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ConsoleError::Payload(PayloadError::NotTheSigner { .. })
            ),
            "{err}"
        );
        // An approval stating roles its approver has not got.
        let err = c
            .sign_statement(
                PayloadKind::Approval,
                &serde_json::json!({
                    "digest": gavel_trust::bundle_digest(&bundle).unwrap().to_string(),
                    "base_digest": null, "version": "1.0.0", "environment": "prod",
                    "decision": "approve", "comment": "", "approver": "alice", "roles": ["approver"],
                    "evidence": {"lint": {}, "impact": {"allow_to_deny": 0, "deny_to_allow": 0, "other": 0}},
                }),
                None,
                Some("alice"),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ConsoleError::Payload(PayloadError::NotTheSignersRoles { .. })
            ),
            "{err}"
        );
        // Verification counts only the owning role: bob's key, trusted,
        // signing a bundle by hand, does not make a valid bundle envelope.
        let (_, bob_key) = c.signing_key(Some("bob")).await.unwrap();
        let forged = gavel_trust::sign_dsse(
            PayloadKind::Bundle.media_type(),
            &gavel_trust::bundle_payload(
                &bundle,
                "bob",
                jiff::Timestamp::now(),
                jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() + 60).unwrap(),
            )
            .unwrap(),
            &[&bob_key],
        )
        .unwrap();
        let v = c
            .verify(&forged, None, jiff::Timestamp::now())
            .await
            .unwrap();
        assert_eq!(
            (v.valid, v.reason),
            (false, Some(gavel_trust::Reason::UnknownKey)),
            "{}",
            v.message
        );
    }
}
