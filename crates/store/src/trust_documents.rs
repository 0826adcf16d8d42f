//! The team's trust documents (DESIGN §11.11, §11.16): the newest one this
//! console published or accepted, and accepting one, which changes the
//! trust store to the keys it lists in the same transaction.

use gavel_trust::PublicKey;
use sqlx::Row;

use crate::audit::{self, NewEntry};
use crate::{Store, StoreError};

/// A trust document as the store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustDocument {
    pub version: i64,
    pub envelope: serde_json::Value,
    pub quorum: i64,
    /// `local` (published here) or `registry` (accepted from the team).
    pub source: String,
    pub recorded_at: String,
}

/// What accepting a trust document changed in the trust store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustChanges {
    /// Keys added, or whose roles or retirement changed.
    pub trusted: Vec<String>,
    /// Keys removed because the document no longer lists them.
    pub untrusted: Vec<String>,
    /// Keys the document leaves out but an identity of this store uses:
    /// kept (an identity's key is rotated, never untrusted).
    pub kept: Vec<String>,
}

impl Store {
    /// The newest trust document recorded, if any.
    pub async fn trust_document(&self) -> Result<Option<TrustDocument>, StoreError> {
        let row = sqlx::query(
            "SELECT version, envelope, quorum, source, recorded_at FROM trust_documents \
             ORDER BY version DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let envelope: String = r.try_get("envelope")?;
            Ok(TrustDocument {
                version: r.try_get("version")?,
                envelope: serde_json::from_str(&envelope)
                    .map_err(|e| StoreError::Corrupt(format!("trust document envelope: {e}")))?,
                quorum: r.try_get("quorum")?,
                source: r.try_get("source")?,
                recorded_at: r.try_get("recorded_at")?,
            })
        })
        .transpose()
    }

    /// Records a trust document newer than any recorded, and, when `keys`
    /// is given (a document accepted from the team), makes the trust store
    /// exactly those keys: each listed key trusted with its roles (and its
    /// retirement), each other key removed unless an identity of this store
    /// uses it. One transaction, audited as `trust.publish` or
    /// `trust.accept`. `None` when a document with this version or a newer
    /// one is already recorded.
    pub async fn record_trust_document(
        &self,
        version: i64,
        envelope: &serde_json::Value,
        quorum: i64,
        keys: Option<&[PublicKey]>,
        actor: &str,
    ) -> Result<Option<TrustChanges>, StoreError> {
        let mut tx = self.write().await?;
        let newest: Option<i64> = sqlx::query("SELECT MAX(version) FROM trust_documents")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if newest.is_some_and(|n| n >= version) {
            return Ok(None);
        }
        let source = if keys.is_some() { "registry" } else { "local" };
        sqlx::query(
            "INSERT INTO trust_documents (version, envelope, quorum, source, recorded_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(version)
        .bind(envelope.to_string())
        .bind(quorum)
        .bind(source)
        .bind(crate::now())
        .execute(&mut *tx)
        .await?;
        let mut changes = TrustChanges::default();
        if let Some(keys) = keys {
            let before: Vec<crate::StoredKey> = sqlx::query("SELECT * FROM trusted_keys")
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(crate::stored_key)
                .collect::<Result<_, _>>()?;
            for k in keys {
                let same = before.iter().any(|b| {
                    b.key.keyid == k.keyid
                        && b.key.roles == k.roles
                        && b.key.retired_at == k.retired_at
                        && b.key.public_key == k.public_key
                });
                if same {
                    continue;
                }
                sqlx::query(
                    "INSERT INTO trusted_keys (keyid, algorithm, public_key, name, email, roles, added_at, added_by, retired_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
                     ON CONFLICT(keyid) DO UPDATE SET roles = excluded.roles, retired_at = excluded.retired_at",
                )
                .bind(&k.keyid.0)
                .bind(&k.algorithm)
                .bind(&k.public_key)
                .bind(&k.name)
                .bind(&k.email)
                .bind(crate::roles_json(&k.roles))
                .bind(crate::now())
                .bind(actor)
                .bind(k.retired_at.as_deref())
                .execute(&mut *tx)
                .await?;
                changes.trusted.push(k.keyid.0.clone());
            }
            for b in &before {
                if keys.iter().any(|k| k.keyid == b.key.keyid) {
                    continue;
                }
                let used: i64 = sqlx::query("SELECT COUNT(*) FROM identities WHERE keyid = ?")
                    .bind(&b.key.keyid.0)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get(0)?;
                if used > 0 {
                    changes.kept.push(b.key.keyid.0.clone());
                    continue;
                }
                sqlx::query("DELETE FROM trusted_keys WHERE keyid = ?")
                    .bind(&b.key.keyid.0)
                    .execute(&mut *tx)
                    .await?;
                changes.untrusted.push(b.key.keyid.0.clone());
            }
        }
        audit::append(
            &mut tx,
            NewEntry {
                actor,
                action: if keys.is_some() {
                    "trust.accept"
                } else {
                    "trust.publish"
                },
                subject: &format!("trust v{version}"),
                details: serde_json::json!({
                    "version": version,
                    "quorum": quorum,
                    "trusted": changes.trusted,
                    "untrusted": changes.untrusted,
                    "kept": changes.kept,
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Some(changes))
    }
}

#[cfg(test)]
mod tests {
    use gavel_trust::{PublicKey, Role};

    use crate::Store;

    fn key(seed: u8, name: &str, roles: Vec<Role>) -> PublicKey {
        let k = gavel_trust::ed25519::SigningKey::from_bytes(&[seed; 32]).verifying_key();
        PublicKey::new(&k, name, "", roles)
    }

    /// Each version is recorded once, newest highest; accepting one makes
    /// the trust store its keys (new keys and changed roles trusted,
    /// unlisted keys removed, an identity's key kept), audited.
    #[tokio::test]
    async fn documents_are_recorded_once_and_rewrite_the_trust_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("gavel.db")).await.unwrap();
        let me = key(1, "me", vec![Role::Security]);
        store.add_identity(&me).await.unwrap();
        let same = key(2, "same", vec![Role::Approver]);
        let gone = key(3, "gone", vec![Role::Approver]);
        let promoted = key(4, "promoted", vec![Role::Approver]);
        for k in [&same, &gone, &promoted] {
            store.trust(k, Some("me")).await.unwrap();
        }
        assert_eq!(store.trust_document().await.unwrap(), None);
        let doc = serde_json::json!({"v": 1});
        let first = store
            .record_trust_document(1, &doc, 1, None, "me")
            .await
            .unwrap();
        assert_eq!(first, Some(super::TrustChanges::default()));
        for older in [1, 0] {
            assert_eq!(
                store
                    .record_trust_document(older, &doc, 1, None, "me")
                    .await
                    .unwrap(),
                None,
                "version {older}"
            );
        }
        let new = key(5, "new", vec![Role::Author]);
        let mut promoted2 = promoted.clone();
        promoted2.roles.push(Role::Security);
        let listed = [same.clone(), promoted2.clone(), new.clone()];
        let changes = store
            .record_trust_document(2, &serde_json::json!({"v": 2}), 2, Some(&listed), "sec")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            changes.trusted,
            [promoted.keyid.0.clone(), new.keyid.0.clone()]
        );
        assert_eq!(changes.untrusted, std::slice::from_ref(&gone.keyid.0));
        assert_eq!(changes.kept, std::slice::from_ref(&me.keyid.0));
        let now = store.trust_document().await.unwrap().unwrap();
        assert_eq!(
            (now.version, now.quorum, now.source.as_str()),
            (2, 2, "registry")
        );
        assert_eq!(now.envelope, serde_json::json!({"v": 2}));
        let mut names: Vec<(String, Vec<Role>)> = store
            .keys()
            .await
            .unwrap()
            .into_iter()
            .map(|k| (k.key.name, k.key.roles))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                ("me".to_string(), vec![Role::Security]),
                ("new".to_string(), vec![Role::Author]),
                ("promoted".to_string(), vec![Role::Approver, Role::Security]),
                ("same".to_string(), vec![Role::Approver]),
            ]
        );
        let log = store.audit_page(0, 100).await.unwrap();
        let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
        assert!(
            actions.ends_with(&["trust.publish", "trust.accept"]),
            "{actions:?}"
        );
    }
}
