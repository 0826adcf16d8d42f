//! The governance side of the desktop app (DESIGN §10): keys and trust,
//! the audit log, overrides, environments, the offline review, and the
//! files a user names to read from or write to. Each use case is the
//! CLI's, called with what a screen holds (texts rather than paths) and
//! answering with types the front end shares.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use gavel_policy::MAX_FILE_BYTES;
use gavel_store::AuditEntry;
use gavel_trust::{PublicKey, Role, Sensitive};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use super::ErrorBody;
use crate::lifecycle::EnvSettings;
use crate::review::ReviewError;
use crate::{AuditQuery, Console, Decision, KeyInfo, OverrideRequest, OverrideVerification};

impl From<crate::RegistryUseError> for ErrorBody {
    fn from(e: crate::RegistryUseError) -> Self {
        match e {
            crate::RegistryUseError::Lifecycle(l) => l.into(),
            crate::RegistryUseError::Version(v) => v.into(),
            crate::RegistryUseError::Console(c) => c.into(),
            other => ErrorBody::new(other.code(), other.to_string()),
        }
    }
}

/// The last sync of this window: when, and what each bound bundle got.
#[derive(Debug, Clone, Default, Serialize, TS)]
pub struct SyncStatus {
    /// RFC 3339; null before the first sync.
    pub at: Option<String>,
    pub reports: Vec<crate::SyncReport>,
    /// Why the last sync failed as a whole (the registry down, …).
    pub error: Option<ErrorBody>,
}

impl From<ReviewError> for ErrorBody {
    fn from(e: ReviewError) -> Self {
        match e {
            ReviewError::Lifecycle(l) => l.into(),
            other => ErrorBody::new(other.code().unwrap_or("invalid"), other.to_string()),
        }
    }
}

/// A file's text, read for a screen.
#[derive(Debug, Clone, Serialize, TS)]
pub struct FileText {
    /// The file's name, without its directory.
    pub name: String,
    /// The path as read (`~` expanded).
    pub path: String,
    pub text: String,
}

/// `~/…` is the user's home directory, as a shell would read it.
fn expand(path: &str) -> PathBuf {
    let path = path.trim();
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// Reads a text file the user named, at most 16 MiB, as UTF-8.
pub fn read_text_file(path: &str) -> Result<FileText, ErrorBody> {
    if path.trim().is_empty() {
        return Err(ErrorBody::new("invalid", "give the path of a file to open"));
    }
    let p = expand(path);
    let shown = p.display().to_string();
    let unreadable = |e: std::io::Error| {
        ErrorBody::new(
            "unreadable",
            format!("cannot read `{shown}`: {e}; check the path and its permissions"),
        )
    };
    let meta = std::fs::metadata(&p).map_err(unreadable)?;
    if meta.is_dir() {
        return Err(ErrorBody::new(
            "unreadable",
            format!("`{shown}` is a directory: name a file in it"),
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(ErrorBody::new(
            "too_large",
            format!(
                "`{shown}` has {} bytes, more than the {} MiB a file may have here",
                meta.len(),
                MAX_FILE_BYTES >> 20
            ),
        ));
    }
    let bytes = std::fs::read(&p).map_err(unreadable)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        ErrorBody::new(
            "unreadable",
            format!("`{shown}` is not UTF-8 text: open the text file it was exported as"),
        )
    })?;
    Ok(FileText {
        name: p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        path: shown,
        text,
    })
}

/// Writes `text` to the file the user named, whole or not at all (a
/// temporary file beside it, then renamed). An existing file is replaced
/// only with `overwrite` (code `exists` otherwise, so the screen can ask).
/// Answers the path written.
pub fn write_text_file(path: &str, text: &str, overwrite: bool) -> Result<String, ErrorBody> {
    if path.trim().is_empty() {
        return Err(ErrorBody::new(
            "invalid",
            "give the path of a file to save to",
        ));
    }
    let p = expand(path);
    let shown = p.display().to_string();
    if p.is_dir() {
        return Err(ErrorBody::new(
            "unwritable",
            format!("`{shown}` is a directory: add a file name"),
        ));
    }
    if p.exists() && !overwrite {
        return Err(ErrorBody::new(
            "exists",
            format!("`{shown}` already exists: replace it, or choose another name"),
        ));
    }
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let unwritable = |e: std::io::Error| {
        ErrorBody::new(
            "unwritable",
            format!("cannot write `{shown}`: {e}; check that its folder exists and can be written"),
        )
    };
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // One temporary name per write, so two saves at once do not collide.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.gavel-{}-{n}.tmp", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, &p));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(unwritable(e));
    }
    Ok(shown)
}

/// The keys screen: every key, who acts, and whether they may grant roles.
#[derive(Debug, Clone, Serialize, TS)]
pub struct KeysView {
    pub keys: Vec<KeyInfo>,
    pub acting: Option<String>,
    /// The acting identity holds the security role: it may grant roles,
    /// trust and untrust keys, and issue overrides.
    pub can_grant: bool,
}

/// A rotation: the retired key and the new one.
#[derive(Debug, Clone, Serialize, TS)]
pub struct Rotation {
    pub retired_keyid: String,
    pub key: PublicKey,
}

/// A backup for the screen to save: the key and the `age` file's text.
#[derive(Debug, Clone, Serialize, TS)]
pub struct BackupText {
    pub public_key: PublicKey,
    pub armored: String,
}

/// The public keys in `text`: one key (as `keys export` writes it) or a
/// trust store export (`{"version": 1, "keys": [...]}`), each checked.
pub fn public_keys_of(text: &str) -> Result<Vec<PublicKey>, ErrorBody> {
    let invalid = |m: String| ErrorBody::new("invalid_key", m);
    let doc: Value = serde_json::from_str(text).map_err(|e| {
        invalid(format!(
            "not a public key document (JSON as `gavel keys export` writes it): {e}"
        ))
    })?;
    let keys: Vec<PublicKey> = match doc.get("keys") {
        Some(list) => serde_json::from_value(list.clone())
            .map_err(|e| invalid(format!("`keys` of the trust store export: {e}")))?,
        None => vec![
            serde_json::from_value(doc)
                .map_err(|e| invalid(format!("not a public key document: {e}")))?,
        ],
    };
    if keys.is_empty() {
        return Err(invalid("the trust store export lists no keys".into()));
    }
    for k in &keys {
        k.verifying_key()
            .map_err(|e| invalid(format!("key `{}`: {e}", k.keyid.0)))?;
    }
    Ok(keys)
}

/// Roles by name, each known.
fn roles_of(names: &[String]) -> Result<Vec<Role>, ErrorBody> {
    names
        .iter()
        .map(|n| {
            Role::parse(n).ok_or_else(|| {
                ErrorBody::new(
                    "invalid",
                    format!(
                        "`{n}` is not a role: use author, approver, analyst, security or operator"
                    ),
                )
            })
        })
        .collect()
}

/// Issued and used overrides, from the audit log, newest first.
#[derive(Debug, Clone, Serialize, TS)]
pub struct OverrideLists {
    pub issued: Vec<AuditEntry>,
    pub used: Vec<AuditEntry>,
    /// The acting identity may issue overrides (the security role).
    pub can_issue: bool,
    /// Why not, when it may not.
    pub why_not: Option<String>,
}

/// What the override form sends.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct OverrideForm {
    pub workflow_id: String,
    pub forced_verdict: Option<String>,
    pub bypass_micro_pilot: bool,
    pub reason: String,
    /// `24h`, `90m`, `7d` (default 24 h).
    pub expires_in: Option<String>,
}

/// The audit screen's filters, as typed.
#[derive(Debug, Clone, Default, Deserialize, TS)]
pub struct AuditFilters {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub subject: Option<String>,
    /// RFC 3339 or a date, inclusive.
    pub since: Option<String>,
    /// RFC 3339 or a date, exclusive.
    pub until: Option<String>,
    pub limit: Option<u32>,
}

/// The audit log as exported: one JSON line per entry.
#[derive(Debug, Clone, Serialize, TS)]
pub struct AuditText {
    #[ts(type = "number")]
    pub entries: u64,
    pub text: String,
}

/// Settings for an environment; unset ones keep their value.
#[derive(Debug, Clone, Copy, Default, Deserialize, TS)]
pub struct EnvForm {
    pub quorum: Option<u32>,
    pub canary: Option<bool>,
    /// `1h`, `30m`, `24h`, `0`.
    #[ts(type = "number | null")]
    pub bake_time_seconds: Option<i64>,
    #[ts(type = "number | null")]
    pub min_samples: Option<u64>,
}

impl From<EnvForm> for EnvSettings {
    fn from(f: EnvForm) -> Self {
        EnvSettings {
            quorum: f.quorum,
            canary: f.canary,
            bake_time_seconds: f.bake_time_seconds,
            min_samples: f.min_samples,
        }
    }
}

fn none_if_blank(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// A JSON document the user opened, read with duplicate keys refused.
fn json_doc(text: &str, what: &str) -> Result<Value, ErrorBody> {
    gavel_policy::parse_document(text, gavel_policy::Format::Json)
        .map(|d| d.to_json())
        .map_err(|e| {
            let mut body = ErrorBody::new("invalid", format!("the {what} is not JSON: {e}"));
            if let Some(d) = e.diagnostics().first() {
                body.line = d.line;
                body.column = d.column;
            }
            body
        })
}

impl Console {
    /// Every key, the acting identity and whether it may grant roles.
    pub async fn keys_view(&self, actor: Option<&str>) -> Result<KeysView, ErrorBody> {
        let keys = self.list_keys().await?;
        let me = self.acting_identity(actor).await.ok();
        let can_grant = match &me {
            Some(me) => self.has_role(Some(&me.name), Role::Security).await?,
            None => false,
        };
        Ok(KeysView {
            keys,
            acting: me.map(|m| m.name),
            can_grant,
        })
    }

    /// A new identity; roles other than the bootstrap's are granted by a
    /// security identity only.
    pub async fn create_identity_with_roles(
        &self,
        name: &str,
        email: &str,
        roles: &[String],
        actor: Option<&str>,
    ) -> Result<PublicKey, ErrorBody> {
        let roles = if roles.is_empty() {
            None
        } else {
            Some(roles_of(roles)?)
        };
        Ok(self
            .generate_identity(name.trim(), email.trim(), roles, actor)
            .await?
            .public_key)
    }

    /// Sets the roles of a trusted key (a security identity's act).
    pub async fn set_roles(
        &self,
        keyid: &str,
        roles: &[String],
        actor: Option<&str>,
    ) -> Result<KeyInfo, ErrorBody> {
        let roles = roles_of(roles)?;
        let key = self.export_key(keyid).await?;
        let granted = self.trust_keys(vec![key], Some(roles), actor).await?;
        let id = granted
            .first()
            .map(|k| k.key.keyid.0.clone())
            .unwrap_or_default();
        self.list_keys()
            .await?
            .into_iter()
            .find(|k| k.keyid == id)
            .ok_or_else(|| ErrorBody::new("not_found", format!("key `{keyid}` is not trusted")))
    }

    /// Trusts the keys in `text` (a key or a trust store export), with
    /// `roles` when given (a security identity's grant).
    pub async fn trust_text(
        &self,
        text: &str,
        roles: Option<&[String]>,
        actor: Option<&str>,
    ) -> Result<Vec<crate::TrustedKey>, ErrorBody> {
        let keys = public_keys_of(text)?;
        let roles = roles.map(roles_of).transpose()?;
        Ok(self.trust_keys(keys, roles, actor).await?)
    }

    /// A new key for `name`; the old one is retired.
    pub async fn rotate_key(&self, name: &str) -> Result<Rotation, ErrorBody> {
        let (old, key) = self.rotate(name).await?;
        Ok(Rotation {
            retired_keyid: old.0,
            key,
        })
    }

    /// A passphrase-encrypted backup of `who`'s private key, as text.
    pub async fn backup_text(&self, who: &str, passphrase: &str) -> Result<BackupText, ErrorBody> {
        let backup = self
            .backup_key(who, &Sensitive::new(passphrase.to_string()))
            .await?;
        let armored = String::from_utf8(backup.armored).map_err(|_| {
            ErrorBody::new("internal", "the backup is not ASCII armor; report this")
        })?;
        Ok(BackupText {
            public_key: backup.public_key,
            armored,
        })
    }

    /// Restores a backup from its text.
    pub async fn restore_text(
        &self,
        text: &str,
        passphrase: &str,
    ) -> Result<crate::KeyRestore, ErrorBody> {
        Ok(self
            .restore_key(text.as_bytes(), &Sensitive::new(passphrase.to_string()))
            .await?)
    }

    /// Audit entries matching the screen's filters, newest first.
    pub async fn audit_entries(&self, f: AuditFilters) -> Result<Vec<AuditEntry>, ErrorBody> {
        Ok(self
            .audit_list(AuditQuery {
                actor: none_if_blank(f.actor),
                action: none_if_blank(f.action),
                subject: none_if_blank(f.subject),
                since: none_if_blank(f.since),
                until: none_if_blank(f.until),
                limit: f.limit,
            })
            .await?)
    }

    /// The whole log as JSON Lines, for the screen to save.
    pub async fn audit_text(&self) -> Result<AuditText, ErrorBody> {
        let mut out = Vec::new();
        let done = self.audit_export(&mut out).await?;
        let text = String::from_utf8(out)
            .map_err(|_| ErrorBody::new("internal", "the audit export is not UTF-8"))?;
        Ok(AuditText {
            entries: done.entries,
            text,
        })
    }

    /// The overrides issued here and those used, from the audit log, and
    /// whether the acting identity may issue one (and why not).
    pub async fn override_lists(&self, actor: Option<&str>) -> Result<OverrideLists, ErrorBody> {
        let list = |action: &str| AuditQuery {
            action: Some(action.to_string()),
            limit: Some(crate::MAX_AUDIT_LIST_LIMIT),
            ..AuditQuery::default()
        };
        let issued = self.audit_list(list("override.issue")).await?;
        let used = self.audit_list(list("override.use")).await?;
        let (can_issue, why_not) = match self.acting_identity(actor).await {
            Err(_) if self.list_keys().await?.iter().any(|k| k.identity) => (
                false,
                Some("no identity acts in this window: choose one in the header".into()),
            ),
            Err(_) => (
                false,
                Some("this store has no identity yet: create one (Keys, or the header)".into()),
            ),
            Ok(me) => {
                if self.has_role(Some(&me.name), Role::Security).await? {
                    (true, None)
                } else {
                    (
                        false,
                        Some(format!(
                            "{} does not hold the security role: only a security identity issues overrides (a security identity grants the role in Keys)",
                            me.name
                        )),
                    )
                }
            }
        };
        Ok(OverrideLists {
            issued,
            used,
            can_issue,
            why_not,
        })
    }

    /// Issues an override from the screen's form.
    pub async fn issue_override_form(
        &self,
        form: &OverrideForm,
        actor: Option<&str>,
    ) -> Result<crate::IssuedOverride, ErrorBody> {
        let validity = match form.expires_in.as_deref().map(str::trim) {
            None | Some("") => 86_400,
            Some(text) => crate::parse_duration(text)
                .map_err(|e| ErrorBody::new("invalid", format!("expires in: {e}")))?,
        };
        let verdict = form
            .forced_verdict
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty());
        Ok(self
            .issue_override(&OverrideRequest {
                workflow_id: &form.workflow_id,
                forced_verdict: verdict,
                bypass_micro_pilot: form.bypass_micro_pilot,
                reason: &form.reason,
                actor,
                validity_seconds: validity,
            })
            .await?)
    }

    /// Verifies an override file's text against the trust store and the
    /// single-use ledger (a legacy override with the keychain secret
    /// named `secret`).
    pub async fn verify_override_text(
        &self,
        text: &str,
        secret: Option<&str>,
    ) -> Result<OverrideVerification, ErrorBody> {
        let doc = json_doc(text, "override")?;
        let secret = match secret.map(str::trim).filter(|s| !s.is_empty()) {
            Some(name) => Some(self.secret(name)?),
            None => None,
        };
        Ok(self
            .check_override(&doc, secret.as_ref(), jiff::Timestamp::now())
            .await?
            .report())
    }

    /// `env add` from the settings screen.
    pub async fn add_environment_form(
        &self,
        name: &str,
        form: EnvForm,
        actor: Option<&str>,
    ) -> Result<crate::Environment, ErrorBody> {
        Ok(self
            .add_environment(name.trim(), form.into(), actor)
            .await?)
    }

    /// `env set` from the settings screen.
    pub async fn set_environment_form(
        &self,
        name: &str,
        form: EnvForm,
        actor: Option<&str>,
    ) -> Result<crate::Environment, ErrorBody> {
        Ok(self.set_environment(name, form.into(), actor).await?)
    }

    /// Packs a version for an offline reviewer.
    pub async fn pack_review_for(
        &self,
        reference: &str,
        environment: &str,
        actor: Option<&str>,
    ) -> Result<crate::ReviewPackage, ErrorBody> {
        Ok(self
            .pack_review(reference, environment, None, actor)
            .await?)
    }

    /// What a review package holds and whether it can be signed here.
    pub async fn show_review_text(&self, text: &str) -> Result<crate::ReviewReport, ErrorBody> {
        let doc = json_doc(text, "review package")?;
        Ok(self.show_review(&doc).await?)
    }

    /// Signs a review package with the acting identity's key.
    pub async fn sign_review_text(
        &self,
        text: &str,
        decision: Decision,
        comment: &str,
        actor: Option<&str>,
    ) -> Result<crate::SignedApproval, ErrorBody> {
        let doc = json_doc(text, "review package")?;
        Ok(self
            .sign_review(&doc, decision, comment, None, actor)
            .await?)
    }

    /// Imports a signed approval file made by `sign_review_text`.
    pub async fn import_approval_text(
        &self,
        text: &str,
    ) -> Result<crate::ApprovalRecord, ErrorBody> {
        let doc = json_doc(text, "approval")?;
        Ok(self.import_review(&doc).await?)
    }
}

/// The updater's settings (DESIGN §11.14): where the update manifest is
/// and the minisign public key its artifacts must be signed with. Kept in
/// `desktop.json` in the data directory; off until both are set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct UpdaterSettings {
    /// The manifest's URL (`https://…/latest.json`).
    #[serde(default)]
    pub endpoint: String,
    /// The public key (minisign, as `tauri signer generate` prints it).
    #[serde(default)]
    pub pubkey: String,
    /// Check when the app starts (off by default).
    #[serde(default)]
    pub check_at_start: bool,
}

/// What a check for updates found.
#[derive(Debug, Clone, Serialize, TS)]
pub struct UpdateCheck {
    pub current_version: String,
    /// A newer version is offered (its artifact is verified at download).
    pub available: bool,
    pub version: Option<String>,
    pub notes: Option<String>,
    pub date: Option<String>,
}

/// `http://` to this machine only: the host (before any port or path) is
/// exactly `127.0.0.1`, `localhost` or `[::1]`, with no user part.
fn loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let host = match authority.strip_prefix("[::1]") {
        Some(port) => return port.is_empty() || valid_port(port),
        None => authority,
    };
    let (name, port) = match host.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    matches!(name, "127.0.0.1" | "localhost") && port.is_none_or(|p| valid_port(&format!(":{p}")))
}

fn valid_port(text: &str) -> bool {
    text.strip_prefix(':')
        .is_some_and(|p| !p.is_empty() && p.parse::<u16>().is_ok())
}

/// An update downloaded and verified, waiting to be installed.
#[derive(Debug, Clone, Serialize, TS)]
pub struct UpdateDownload {
    /// The version the artifact was signed for (and the manifest offers).
    pub version: String,
    #[ts(type = "number")]
    pub bytes: u64,
}

impl UpdaterSettings {
    fn path(home: &Path) -> PathBuf {
        home.join("desktop.json")
    }

    /// The settings saved in `home`, or the defaults (off).
    pub fn load(home: &Path) -> Result<UpdaterSettings, ErrorBody> {
        let path = Self::path(home);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let doc: Value = serde_json::from_str(&text).map_err(|e| {
                    ErrorBody::new(
                        "invalid",
                        format!(
                            "`{}` is not JSON ({e}): fix it or remove it to start from the defaults",
                            path.display()
                        ),
                    )
                })?;
                match doc.get("updater") {
                    Some(u) => serde_json::from_value(u.clone()).map_err(|e| {
                        ErrorBody::new("invalid", format!("`updater` in `{}`: {e}", path.display()))
                    }),
                    None => Ok(UpdaterSettings::default()),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UpdaterSettings::default()),
            Err(e) => Err(ErrorBody::new(
                "unreadable",
                format!("cannot read `{}`: {e}", path.display()),
            )),
        }
    }

    /// Checks and saves the settings in `home` (an https endpoint, or plain
    /// http on loopback only; a public key that is base64).
    pub fn save(&self, home: &Path) -> Result<(), ErrorBody> {
        let endpoint = self.endpoint.trim();
        if !endpoint.is_empty() && !endpoint.starts_with("https://") && !loopback_http(endpoint) {
            return Err(ErrorBody::new(
                "invalid",
                format!(
                    "the update endpoint `{endpoint}` must be an https:// URL (plain http only to this machine, http://127.0.0.1, localhost or [::1], for tests)"
                ),
            ));
        }
        let key = self.pubkey.trim();
        if !key.is_empty() {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(key)
                .map_err(|_| {
                    ErrorBody::new(
                        "invalid",
                        "the update public key is not base64: paste the public key as `tauri signer generate` printed it",
                    )
                })?;
        }
        let path = Self::path(home);
        // Other settings in the file are kept; a file that is not a JSON
        // object is not overwritten without a word.
        let mut doc = match std::fs::read_to_string(&path) {
            Ok(text) => match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(map)) => map,
                _ => {
                    return Err(ErrorBody::new(
                        "invalid",
                        format!(
                            "`{}` is not a JSON object of settings: fix it or remove it, then save again",
                            path.display()
                        ),
                    ));
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::Map::new(),
            Err(e) => {
                return Err(ErrorBody::new(
                    "unreadable",
                    format!("cannot read `{}`: {e}", path.display()),
                ));
            }
        };
        doc.insert(
            "updater".into(),
            serde_json::json!({
                "endpoint": endpoint,
                "pubkey": key,
                "check_at_start": self.check_at_start,
            }),
        );
        let text = serde_json::to_string_pretty(&Value::Object(doc))
            .map_err(|e| ErrorBody::new("internal", e.to_string()))?;
        write_text_file(&path.display().to_string(), &text, true).map(|_| ())
    }
}
