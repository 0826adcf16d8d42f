//! Key backup and restore (DESIGN §11.3): the only way a private key leaves
//! the keychain. A backup is the identity's public key document and its
//! 32-byte Ed25519 secret, as JSON, encrypted with a passphrase in the
//! `age` format (scrypt recipient, ASCII-armored) by the `age` crate.
//!
//! The passphrase is held in a [`Sensitive`] and handed only to `age`: it
//! is never printed, logged or stored. The plaintext document exists only
//! in memory, and nothing of it but the public key is returned.

use age::secrecy::SecretString;
use base64::Engine as _;
use gavel_store::{NewEntry, Restored};
use gavel_trust::ed25519::SigningKey;
use gavel_trust::{PublicKey, Role, Sensitive};
use serde::{Deserialize, Serialize};

use crate::{Console, ConsoleError, key_account};

/// What the plaintext of a backup says it is.
pub const BACKUP_FORMAT: &str = "gavel-key-backup/1";

/// Why a backup could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The passphrase does not decrypt the backup.
    #[error("the passphrase does not decrypt this backup; check it and try again")]
    BadPassphrase,
    /// An empty passphrase, or one that is not UTF-8.
    #[error("{0}")]
    InvalidPassphrase(String),
    /// Not a Gavel key backup, or one whose content does not hold together.
    #[error("{0}")]
    InvalidBackup(String),
}

/// The plaintext inside the encryption.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupDocument {
    format: String,
    public_key: PublicKey,
    /// Standard base64 of the 32-byte Ed25519 secret key.
    secret_key: String,
}

/// A backup made by [`Console::backup_key`].
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct KeyBackup {
    /// The key backed up, with the roles it holds in this store.
    pub public_key: PublicKey,
    /// The `age` file (ASCII armor): write it where the user asked.
    #[serde(skip)]
    pub armored: Vec<u8>,
}

/// What [`Console::restore_key`] did.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct KeyRestore {
    /// The restored key with the roles it holds in this store now.
    pub public_key: PublicKey,
    /// False when the identity was already in this store with this key
    /// (the private key went back to the keychain all the same).
    pub identity_added: bool,
    /// The store was empty: the key got the roles the backup states.
    pub bootstrap: bool,
    /// Roles the backup states that were not granted here: only a
    /// `security` identity grants roles (`gavel keys trust --roles`).
    pub ignored_roles: Vec<Role>,
}

fn secret(passphrase: &Sensitive<String>) -> Result<SecretString, BackupError> {
    if passphrase.expose().trim().is_empty() {
        return Err(BackupError::InvalidPassphrase(
            "the passphrase is empty".into(),
        ));
    }
    Ok(SecretString::from(passphrase.expose().clone()))
}

/// Encrypts `document` with `passphrase`; `work_factor` (scrypt's log2 N)
/// is age's calibrated default (about a second of work) unless given.
fn encrypt(
    document: &BackupDocument,
    passphrase: &Sensitive<String>,
    work_factor: Option<u8>,
) -> Result<Vec<u8>, ConsoleError> {
    let mut recipient = age::scrypt::Recipient::new(secret(passphrase)?);
    if let Some(log_n) = work_factor {
        recipient.set_work_factor(log_n);
    }
    let plaintext = Sensitive::new(
        serde_json::to_vec(document)
            .map_err(|e| ConsoleError::Invalid(format!("cannot write the backup: {e}")))?,
    );
    age::encrypt_and_armor(&recipient, plaintext.expose())
        .map(String::into_bytes)
        .map_err(|e| ConsoleError::Invalid(format!("cannot encrypt the backup: {e}")))
}

/// Decrypts and reads a backup, checking that its secret is the key it
/// names. Returns the public key document and the signing key.
fn decrypt(
    bytes: &[u8],
    passphrase: &Sensitive<String>,
) -> Result<(PublicKey, SigningKey), BackupError> {
    let identity = age::scrypt::Identity::new(secret(passphrase)?);
    let plaintext = age::decrypt(&identity, bytes).map(Sensitive::new).map_err(|e| match e {
        age::DecryptError::DecryptionFailed | age::DecryptError::KeyDecryptionFailed => {
            BackupError::BadPassphrase
        }
        age::DecryptError::NoMatchingKeys => BackupError::InvalidBackup(
            "this age file is not encrypted with a passphrase, so it is no Gavel key backup (`gavel keys backup` writes one)".into(),
        ),
        other => BackupError::InvalidBackup(format!(
            "not a Gavel key backup (an age file written by `gavel keys backup`): {other}"
        )),
    })?;
    let doc: BackupDocument = serde_json::from_slice(plaintext.expose()).map_err(|e| {
        BackupError::InvalidBackup(format!(
            "the file decrypts, but not to a Gavel key backup: {e}"
        ))
    })?;
    if doc.format != BACKUP_FORMAT {
        return Err(BackupError::InvalidBackup(format!(
            "unknown backup format `{}`; this Gavel reads `{BACKUP_FORMAT}`",
            doc.format
        )));
    }
    let seed = Sensitive::new(
        base64::engine::general_purpose::STANDARD
            .decode(&doc.secret_key)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .ok_or_else(|| {
                BackupError::InvalidBackup(
                    "the backup's `secret_key` is not standard base64 of 32 bytes".into(),
                )
            })?,
    );
    let signing = SigningKey::from_bytes(seed.expose());
    let derived = PublicKey::new(&signing.verifying_key(), "", "", Vec::new());
    doc.public_key.verifying_key().map_err(|e| {
        BackupError::InvalidBackup(format!("the backup's public key cannot be used: {e}"))
    })?;
    if derived.keyid != doc.public_key.keyid || derived.public_key != doc.public_key.public_key {
        return Err(BackupError::InvalidBackup(format!(
            "the backup's secret key is not the key it names: it derives `{}`, the backup says `{}`",
            derived.keyid, doc.public_key.keyid
        )));
    }
    if doc.public_key.name.trim().is_empty() {
        return Err(BackupError::InvalidBackup(
            "the backup's public key has no name".into(),
        ));
    }
    Ok((doc.public_key, signing))
}

impl Console {
    /// Backs up the private key of identity `who` (a name or key id):
    /// the `age` file encrypted with `passphrase`. Audited as `key.backup`
    /// (a private key left the keychain); the store changes no other way.
    pub async fn backup_key(
        &self,
        who: &str,
        passphrase: &Sensitive<String>,
    ) -> Result<KeyBackup, ConsoleError> {
        self.backup_key_with(who, passphrase, None).await
    }

    pub(crate) async fn backup_key_with(
        &self,
        who: &str,
        passphrase: &Sensitive<String>,
        work_factor: Option<u8>,
    ) -> Result<KeyBackup, ConsoleError> {
        secret(passphrase)?;
        let (me, signing) = self.signing_key(Some(who)).await?;
        let roles = self.roles_of(&me.keyid).await?;
        let public_key = PublicKey::new(&signing.verifying_key(), &me.name, &me.email, roles);
        let document = BackupDocument {
            format: BACKUP_FORMAT.to_string(),
            public_key: public_key.clone(),
            secret_key: base64::engine::general_purpose::STANDARD.encode(signing.to_bytes()),
        };
        let armored = encrypt(&document, passphrase, work_factor)?;
        self.store
            .audit_event(NewEntry {
                actor: &me.name,
                action: "key.backup",
                subject: &me.name,
                details: serde_json::json!({"keyid": public_key.keyid.0}),
            })
            .await?;
        Ok(KeyBackup {
            public_key,
            armored,
        })
    }

    /// Restores a backup made by [`Console::backup_key`]: its secret goes
    /// to the keychain, and the identity (with its key) to the store if it
    /// is not there, audited as `key.restore`. A wrong passphrase or a
    /// file that is not a backup changes nothing; so does a refusal (an
    /// identity of that name with another key, the key of another
    /// identity, a key retired here).
    pub async fn restore_key(
        &self,
        bytes: &[u8],
        passphrase: &Sensitive<String>,
    ) -> Result<KeyRestore, ConsoleError> {
        let (key, signing) = decrypt(bytes, passphrase)?;
        // Checked before the keychain is touched (and again in the store's
        // transaction, which is what decides).
        let refused = |r: Restored| match r {
            Restored::NameTaken { keyid } => Some(ConsoleError::Refused(format!(
                "identity `{}` already exists here with another key ({keyid}); the backup holds {}: restore it into another store, or rotate there instead",
                key.name, key.keyid
            ))),
            Restored::KeyTaken { name } => Some(ConsoleError::Refused(format!(
                "key {} is already the key of identity `{name}` here",
                key.keyid
            ))),
            Restored::Retired { at } => Some(ConsoleError::Refused(format!(
                "key {} was retired here at {at} (rotated out); a retired key signs nothing new",
                key.keyid
            ))),
            Restored::Done { .. } => None,
        };
        if let Some(e) = self.restore_precheck(&key).await?.and_then(refused) {
            return Err(e);
        }
        let account = key_account(&key.keyid);
        let before = self.keychain.get(&account)?;
        self.keychain
            .set(&account, &Sensitive::new(signing.to_bytes().to_vec()))?;
        let undo = |this: &Console| {
            if before.is_none() {
                let _ = this.keychain.delete(&account);
            }
        };
        let outcome = match self.store.restore_identity(&key).await {
            Ok(o) => o,
            Err(e) => {
                undo(self);
                return Err(e.into());
            }
        };
        match outcome {
            Restored::Done {
                roles,
                identity_added,
                bootstrap,
            } => {
                let ignored_roles = key
                    .roles
                    .iter()
                    .filter(|r| !roles.contains(r))
                    .copied()
                    .collect();
                let mut public_key = key;
                public_key.roles = roles;
                public_key.retired_at = None;
                Ok(KeyRestore {
                    public_key,
                    identity_added,
                    bootstrap,
                    ignored_roles,
                })
            }
            other => {
                undo(self);
                Err(refused(other).unwrap_or_else(|| {
                    ConsoleError::Invalid("the key could not be restored".into())
                }))
            }
        }
    }

    /// What the store would refuse, read without writing.
    async fn restore_precheck(&self, key: &PublicKey) -> Result<Option<Restored>, ConsoleError> {
        let ids = self.store.identities().await?;
        if let Some(i) = ids
            .iter()
            .find(|i| i.name == key.name && i.keyid != key.keyid)
        {
            return Ok(Some(Restored::NameTaken {
                keyid: i.keyid.0.clone(),
            }));
        }
        if let Some(i) = ids
            .iter()
            .find(|i| i.keyid == key.keyid && i.name != key.name)
        {
            return Ok(Some(Restored::KeyTaken {
                name: i.name.clone(),
            }));
        }
        if let Some(at) = self
            .store
            .key(&key.keyid.0)
            .await?
            .and_then(|k| k.retired_at)
        {
            return Ok(Some(Restored::Retired { at }));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{Keychain, MemoryKeychain};

    /// scrypt's cheapest work factor: the format is the same, the tests fast.
    const FAST: Option<u8> = Some(1);

    fn pass(p: &str) -> Sensitive<String> {
        Sensitive::new(p.to_string())
    }

    async fn console() -> (tempfile::TempDir, Console, Arc<MemoryKeychain>) {
        let dir = tempfile::tempdir().unwrap();
        let kc = Arc::new(MemoryKeychain::default());
        let c = Console::open(dir.path(), kc.clone()).await.unwrap();
        (dir, c, kc)
    }

    async fn counts(c: &Console) -> (usize, usize, Vec<gavel_store::AuditEntry>) {
        (
            c.store.identities().await.unwrap().len(),
            c.store.keys().await.unwrap().len(),
            c.store.audit_page(0, 10_000).await.unwrap(),
        )
    }

    #[tokio::test]
    async fn a_backup_restores_the_same_key_into_a_fresh_store_and_keychain() {
        let (_a, c, kc) = console().await;
        let made = c
            .generate_identity("alice", "a@example.com", None, None)
            .await
            .unwrap();
        let backup = c
            .backup_key_with("alice", &pass("correct horse battery"), FAST)
            .await
            .unwrap();
        assert_eq!(backup.public_key, made.public_key);
        let text = String::from_utf8(backup.armored.clone()).unwrap();
        assert!(
            text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"),
            "{text}"
        );
        // Neither the secret nor the passphrase is in the file.
        let seed = kc
            .get(&key_account(&made.public_key.keyid))
            .unwrap()
            .unwrap();
        let seed_b64 = base64::engine::general_purpose::STANDARD.encode(seed.expose());
        assert!(!text.contains(&seed_b64) && !text.contains("correct horse"));
        let log = c.store.audit_page(0, 100).await.unwrap();
        let last = log.last().unwrap();
        assert_eq!(
            (last.action.as_str(), last.subject.as_str()),
            ("key.backup", "alice")
        );
        assert_eq!(last.details["keyid"], made.public_key.keyid.0.as_str());

        let (_b, fresh, fresh_kc) = console().await;
        let restored = fresh
            .restore_key(&backup.armored, &pass("correct horse battery"))
            .await
            .unwrap();
        assert!(restored.identity_added && restored.bootstrap);
        assert_eq!(
            restored.public_key, made.public_key,
            "roles kept: bootstrap"
        );
        assert!(restored.ignored_roles.is_empty());
        assert_eq!(
            fresh_kc
                .get(&key_account(&made.public_key.keyid))
                .unwrap()
                .unwrap()
                .expose(),
            seed.expose()
        );
        let (_, key) = fresh.signing_key(Some("alice")).await.unwrap();
        assert_eq!(key.to_bytes().as_slice(), seed.expose().as_slice());
        let log = fresh.store.audit_page(0, 100).await.unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(
            (log[0].action.as_str(), &log[0].details["identity_added"]),
            ("key.restore", &serde_json::json!(true))
        );
        // Restoring again: the identity is there with that key; nothing
        // added, the restore audited all the same.
        let again = fresh
            .restore_key(&backup.armored, &pass("correct horse battery"))
            .await
            .unwrap();
        assert!(!again.identity_added && !again.bootstrap);
        assert_eq!(fresh.store.identities().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_wrong_passphrase_or_a_foreign_file_is_refused_and_changes_nothing() {
        let (_a, c, _) = console().await;
        c.generate_identity("alice", "a@example.com", None, None)
            .await
            .unwrap();
        let backup = c
            .backup_key_with("alice", &pass("right one"), FAST)
            .await
            .unwrap();
        let (_b, fresh, fresh_kc) = console().await;
        let before = counts(&fresh).await;
        let e = fresh
            .restore_key(&backup.armored, &pass("wrong one"))
            .await
            .unwrap_err();
        assert!(
            matches!(e, ConsoleError::Backup(BackupError::BadPassphrase)),
            "{e:?}"
        );
        assert!(!e.is_refusal());
        for junk in [&b"not an age file"[..], b"", &backup.armored[..40]] {
            let e = fresh
                .restore_key(junk, &pass("right one"))
                .await
                .unwrap_err();
            assert!(
                matches!(e, ConsoleError::Backup(BackupError::InvalidBackup(_))),
                "{e:?}"
            );
        }
        // An age file of something else, under the right passphrase.
        let mut r = age::scrypt::Recipient::new(SecretString::from("right one".to_string()));
        r.set_work_factor(1);
        let other = age::encrypt(&r, br#"{"hello": "world"}"#).unwrap();
        let e = fresh
            .restore_key(&other, &pass("right one"))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("not to a Gavel key backup"), "{e}");
        for empty in ["", "  "] {
            let e = fresh
                .restore_key(&backup.armored, &pass(empty))
                .await
                .unwrap_err();
            assert!(
                matches!(e, ConsoleError::Backup(BackupError::InvalidPassphrase(_))),
                "{e:?}"
            );
            let e = c
                .backup_key_with("alice", &pass(empty), FAST)
                .await
                .unwrap_err();
            assert!(
                matches!(e, ConsoleError::Backup(BackupError::InvalidPassphrase(_))),
                "{e:?}"
            );
        }
        assert_eq!(counts(&fresh).await, before);
        assert!(fresh.store.keys().await.unwrap().is_empty());
        assert!(
            fresh_kc
                .get(&key_account(&backup.public_key.keyid))
                .unwrap()
                .is_none(),
            "the keychain stays empty"
        );
    }

    /// A backup whose secret is not the key it names (made by hand: age
    /// protects a real backup's content) is refused.
    #[tokio::test]
    async fn a_backup_whose_secret_is_not_its_key_is_refused() {
        let (_a, c, _) = console().await;
        let mallory = SigningKey::from_bytes(&[7; 32]);
        let alice = PublicKey::new(
            &SigningKey::from_bytes(&[8; 32]).verifying_key(),
            "alice",
            "a@example.com",
            vec![Role::Security],
        );
        let doc = BackupDocument {
            format: BACKUP_FORMAT.into(),
            public_key: alice,
            secret_key: base64::engine::general_purpose::STANDARD.encode(mallory.to_bytes()),
        };
        let forged = encrypt(&doc, &pass("p"), FAST).unwrap();
        let before = counts(&c).await;
        let e = c.restore_key(&forged, &pass("p")).await.unwrap_err();
        assert!(e.to_string().contains("is not the key it names"), "{e}");
        assert_eq!(counts(&c).await, before);
    }

    #[tokio::test]
    async fn restoring_over_another_key_of_the_same_name_is_refused_and_changes_nothing() {
        let (_a, c, _) = console().await;
        c.generate_identity("alice", "a@example.com", None, None)
            .await
            .unwrap();
        let backup = c
            .backup_key_with("alice", &pass("p4ss"), FAST)
            .await
            .unwrap();
        // Elsewhere, another alice.
        let (_b, other, other_kc) = console().await;
        let theirs = other
            .generate_identity("alice", "a2@example.com", None, None)
            .await
            .unwrap();
        let before = counts(&other).await;
        let e = other
            .restore_key(&backup.armored, &pass("p4ss"))
            .await
            .unwrap_err();
        assert!(e.is_refusal(), "{e:?}");
        assert!(
            e.to_string()
                .contains("already exists here with another key"),
            "{e}"
        );
        assert_eq!(counts(&other).await, before);
        assert!(
            other_kc
                .get(&key_account(&backup.public_key.keyid))
                .unwrap()
                .is_none(),
            "the refused key did not stay in the keychain"
        );
        assert_eq!(
            other.signing_key(Some("alice")).await.unwrap().0.keyid,
            theirs.public_key.keyid
        );
        // Rotated here: alice's old key is retired, and alice has another.
        c.rotate("alice").await.unwrap();
        let before = counts(&c).await;
        let e = c
            .restore_key(&backup.armored, &pass("p4ss"))
            .await
            .unwrap_err();
        assert!(e.is_refusal(), "{e:?}");
        assert_eq!(counts(&c).await, before);
    }

    /// Roles come from a security identity: a backup restored into a store
    /// that has identities brings its key without the roles it states.
    #[tokio::test]
    async fn a_restore_into_a_populated_store_grants_no_roles() {
        let (_a, c, _) = console().await;
        c.generate_identity("alice", "a@example.com", None, None)
            .await
            .unwrap();
        let backup = c
            .backup_key_with("alice", &pass("p4ss"), FAST)
            .await
            .unwrap();
        let (_b, other, _) = console().await;
        other
            .generate_identity("bob", "b@example.com", None, None)
            .await
            .unwrap();
        let done = other
            .restore_key(&backup.armored, &pass("p4ss"))
            .await
            .unwrap();
        assert!(done.identity_added && !done.bootstrap);
        assert!(done.public_key.roles.is_empty());
        assert_eq!(done.ignored_roles, Role::PEOPLE.to_vec());
        let stored = other
            .store
            .key(&backup.public_key.keyid.0)
            .await
            .unwrap()
            .unwrap();
        assert!(stored.key.roles.is_empty());
    }
}
