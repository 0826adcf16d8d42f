//! Gavel's SQLite store through sqlx, with migrations embedded at build
//! time: the trust store (public keys and their roles, identities), the
//! consumed-override ledger, bundle versions, scorecard runs and the
//! hash-chained audit log.
//!
//! Every change is one transaction begun with `BEGIN IMMEDIATE`
//! ([`Store::write`]), and its audit entry is appended in that same
//! transaction. Queries are checked at run time (`sqlx::query`), so building
//! never needs a live database. Private keys never reach this crate.

pub mod audit;
pub mod lifecycle;
pub mod registry;
pub mod runs;
pub mod trust_documents;
pub mod versions;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use gavel_trust::{KeyId, PublicKey, Role};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, SqliteConnection};

pub use audit::{
    AuditEntry, AuditFilter, BreakKind, ChainBreak, ChainReport, ChainVerifier, Checkpoint,
    GENESIS_HASH, NewEntry, OPERATOR, verify_chain,
};
pub use runs::{NewRun, OverrideUse, RunBatch, RunQuery, ScorecardRun};

/// How long a writer waits for another process's transaction to finish
/// before the store reports itself busy.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at `{path}`: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("cannot migrate the store: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database was migrated by a newer Gavel than this one.
    #[error(
        "the store at `{path}` was written by a newer Gavel (its schema has migration {found}; this gavel knows up to {known}): upgrade gavel, or set GAVEL_HOME to another directory"
    )]
    Newer {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("store query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("a stored row is corrupt: {0}")]
    Corrupt(String),
}

/// A trusted key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub key: PublicKey,
    pub added_at: String,
    pub added_by: Option<String>,
    pub retired_at: Option<String>,
}

/// An identity: a name with the key it signs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub email: String,
    pub keyid: KeyId,
    pub created_at: String,
}

/// What [`Store::restore_identity`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restored {
    /// The identity (and its key) is in the store, with these roles.
    Done {
        roles: Vec<Role>,
        /// False when the identity was already there with this key.
        identity_added: bool,
        /// The store was empty: the key got the roles it states.
        bootstrap: bool,
    },
    /// An identity of that name has another key (this one).
    NameTaken { keyid: String },
    /// The key belongs to an identity of another name.
    KeyTaken { name: String },
    /// The key was retired (rotated out) here, at this time.
    Retired { at: String },
}

/// The store. Cheap to clone (a connection pool).
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub(crate) fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

impl Store {
    /// Opens (creating if needed) the database file and brings it to the
    /// latest schema. WAL mode (synchronous `FULL`, so a committed change
    /// survives a power cut); foreign keys on; a writer waits up to
    /// [`BUSY_TIMEOUT`] for another.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(open_err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(open_err)?;
        match MIGRATOR.run(&pool).await {
            Ok(()) => {}
            Err(sqlx::migrate::MigrateError::VersionMissing(found)) => {
                return Err(StoreError::Newer {
                    path: path.display().to_string(),
                    found,
                    known: MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0),
                });
            }
            Err(e) => return Err(e.into()),
        }
        Ok(Store { pool })
    }

    /// A write transaction: `BEGIN IMMEDIATE` takes the write lock at once,
    /// so two processes never read the same audit head and both append
    /// after it (a deferred transaction would fail to upgrade instead).
    pub async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Trusted keys, retired ones included (they still verify old signatures).
    pub async fn keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT keyid, algorithm, public_key, name, email, roles, added_at, added_by, retired_at \
             FROM trusted_keys ORDER BY added_at, keyid",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored_key).collect()
    }

    pub async fn key(&self, keyid: &str) -> Result<Option<StoredKey>, StoreError> {
        let row = sqlx::query(
            "SELECT keyid, algorithm, public_key, name, email, roles, added_at, added_by, retired_at \
             FROM trusted_keys WHERE keyid = ?",
        )
        .bind(keyid)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(stored_key).transpose()
    }

    /// Adds a key (or replaces its name, email and roles if already there),
    /// audited as `key.trust` by `added_by` (`gavel` when none).
    pub async fn trust(&self, key: &PublicKey, added_by: Option<&str>) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        insert_key(&mut *tx, key, added_by, true).await?;
        audit::append(
            &mut tx,
            NewEntry {
                actor: added_by.unwrap_or("gavel"),
                action: "key.trust",
                subject: &key.keyid.0,
                details: serde_json::json!({"name": key.name, "email": key.email, "roles": key.roles}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a key, audited as `key.untrust` by `actor`; refused (false)
    /// while an identity still uses it.
    pub async fn untrust(&self, keyid: &str, actor: &str) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let used: i64 = sqlx::query("SELECT COUNT(*) FROM identities WHERE keyid = ?")
            .bind(keyid)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if used > 0 {
            return Ok(false);
        }
        let done = sqlx::query("DELETE FROM trusted_keys WHERE keyid = ?")
            .bind(keyid)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        audit::append(
            &mut tx,
            NewEntry {
                actor,
                action: "key.untrust",
                subject: keyid,
                details: serde_json::json!({}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Creates an identity and trusts its key, in one transaction, audited
    /// as `identity.create`.
    pub async fn add_identity(&self, key: &PublicKey) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        insert_key(&mut *tx, key, Some(&key.name), false).await?;
        insert_identity(&mut tx, key).await?;
        audit::append(
            &mut tx,
            NewEntry {
                actor: &key.name,
                action: "identity.create",
                subject: &key.name,
                details: serde_json::json!({"keyid": key.keyid.0, "email": key.email, "roles": key.roles}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes a restored key an identity (DESIGN §11.3 `keys restore`), in
    /// one transaction audited as `key.restore`: the key is trusted if it
    /// is not yet (with the roles it states only in an empty store, the
    /// bootstrap; otherwise with none: roles come from a security
    /// identity), and the identity is created if absent. Refused, writing
    /// nothing, when the name belongs to an identity with another key, the
    /// key to another identity, or the key was retired here.
    pub async fn restore_identity(&self, key: &PublicKey) -> Result<Restored, StoreError> {
        let mut tx = self.write().await?;
        let by_name: Option<String> = sqlx::query("SELECT keyid FROM identities WHERE name = ?")
            .bind(&key.name)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        if let Some(other) = by_name.as_ref().filter(|k| **k != key.keyid.0) {
            return Ok(Restored::NameTaken {
                keyid: other.clone(),
            });
        }
        let by_key: Option<String> = sqlx::query("SELECT name FROM identities WHERE keyid = ?")
            .bind(&key.keyid.0)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        if let Some(other) = by_key.filter(|n| *n != key.name) {
            return Ok(Restored::KeyTaken { name: other });
        }
        let known = sqlx::query(
            "SELECT keyid, algorithm, public_key, name, email, roles, added_at, added_by, retired_at \
             FROM trusted_keys WHERE keyid = ?",
        )
        .bind(&key.keyid.0)
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(stored_key)
        .transpose()?;
        if let Some(at) = known.as_ref().and_then(|k| k.retired_at.clone()) {
            return Ok(Restored::Retired { at });
        }
        let identity_added = by_name.is_none();
        let (roles, bootstrap) = match &known {
            Some(k) => (k.key.roles.clone(), false),
            None => {
                let count = |table: &'static str| format!("SELECT COUNT(*) FROM {table}");
                let ids: i64 = sqlx::query(&count("identities"))
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get(0)?;
                let keys: i64 = sqlx::query(&count("trusted_keys"))
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get(0)?;
                let bootstrap = ids == 0 && keys == 0;
                let roles = if bootstrap {
                    key.roles.clone()
                } else {
                    Vec::new()
                };
                let mut trusted = key.clone();
                trusted.roles.clone_from(&roles);
                trusted.retired_at = None;
                insert_key(&mut *tx, &trusted, Some(&key.name), false).await?;
                (roles, bootstrap)
            }
        };
        if identity_added {
            insert_identity(&mut tx, key).await?;
        }
        audit::append(
            &mut tx,
            NewEntry {
                actor: &key.name,
                action: "key.restore",
                subject: &key.name,
                details: serde_json::json!({
                    "keyid": key.keyid.0,
                    "identity_added": identity_added,
                    "key_trusted": known.is_none(),
                    "roles": roles,
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Restored::Done {
            roles,
            identity_added,
            bootstrap,
        })
    }

    /// Appends an audit entry for something that changes no table, such as
    /// a private key leaving the keychain in a backup (`key.backup`).
    pub async fn audit_event(&self, entry: NewEntry<'_>) -> Result<AuditEntry, StoreError> {
        let mut tx = self.write().await?;
        let appended = audit::append(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(appended)
    }

    /// Moves an identity to a new key and retires the old one, in one
    /// transaction.
    pub async fn rotate(
        &self,
        name: &str,
        new_key: &PublicKey,
    ) -> Result<Option<KeyId>, StoreError> {
        let mut tx = self.write().await?;
        let Some(row) = sqlx::query("SELECT keyid FROM identities WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let old: String = row.try_get(0)?;
        insert_key(&mut *tx, new_key, Some(name), false).await?;
        sqlx::query("UPDATE trusted_keys SET retired_at = ? WHERE keyid = ?")
            .bind(now())
            .bind(&old)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE identities SET keyid = ? WHERE name = ?")
            .bind(&new_key.keyid.0)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        audit::append(
            &mut tx,
            NewEntry {
                actor: name,
                action: "key.rotate",
                subject: name,
                details: serde_json::json!({"old_keyid": old, "new_keyid": new_key.keyid.0}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Some(KeyId(old)))
    }

    pub async fn identities(&self) -> Result<Vec<Identity>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, email, keyid, created_at FROM identities ORDER BY created_at, name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Identity {
                    name: r.try_get(0)?,
                    email: r.try_get(1)?,
                    keyid: KeyId(r.try_get(2)?),
                    created_at: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Records an override as used under `key`, what identifies the signed
    /// override (`sha256:` of its payload, or of a legacy file's
    /// signature); `override_id` is its payload's id, kept for display.
    /// `false` when it was already used: under `key`, or, for a row written
    /// before the ledger was keyed by digest, under `override_id`.
    pub async fn record_override_use(
        &self,
        key: &str,
        override_id: Option<&str>,
        workflow_id: Option<&str>,
        legacy: bool,
    ) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await?;
        consume_in(&mut conn, key, override_id, workflow_id, legacy).await
    }

    /// Whether the override recorded under `key` (see
    /// [`Store::record_override_use`]) was used.
    pub async fn override_use_recorded(
        &self,
        key: &str,
        override_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query(
            "SELECT COUNT(*) FROM consumed_overrides \
             WHERE id = ?1 OR (?2 IS NOT NULL AND legacy = 0 AND id = override_id AND id = ?2)",
        )
        .bind(key)
        .bind(override_id)
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        Ok(n > 0)
    }

    /// Records an override as used under `id` as given. `false` when it
    /// was already used. Prefer [`Store::record_override_use`], which keys
    /// a signed override by its digest.
    pub async fn consume_override(
        &self,
        id: &str,
        workflow_id: Option<&str>,
        legacy: bool,
    ) -> Result<bool, StoreError> {
        self.record_override_use(id, None, workflow_id, legacy)
            .await
    }

    /// Whether an override was recorded under `id` as given.
    pub async fn override_used(&self, id: &str) -> Result<bool, StoreError> {
        self.override_use_recorded(id, None).await
    }
}

/// Records an override as used (see [`Store::record_override_use`]) on
/// `conn`, alone or inside a transaction with what the use brings.
pub(crate) async fn consume_in(
    conn: &mut sqlx::SqliteConnection,
    key: &str,
    override_id: Option<&str>,
    workflow_id: Option<&str>,
    legacy: bool,
) -> Result<bool, StoreError> {
    // One statement: two runs racing for one override cannot both win.
    let done = sqlx::query(
        "INSERT INTO consumed_overrides (id, override_id, workflow_id, legacy, consumed_at) \
         SELECT ?1, ?2, ?3, ?4, ?5 WHERE NOT EXISTS (\
             SELECT 1 FROM consumed_overrides \
             WHERE ?2 IS NOT NULL AND legacy = 0 AND id = override_id AND id = ?2) \
         ON CONFLICT(id) DO NOTHING",
    )
    .bind(key)
    .bind(override_id)
    .bind(workflow_id)
    .bind(legacy)
    .bind(now())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Makes `key`'s owner an identity of this store (the key is trusted
/// already, in the same transaction).
async fn insert_identity(conn: &mut SqliteConnection, key: &PublicKey) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO identities (name, email, keyid, created_at) VALUES (?, ?, ?, ?)")
        .bind(&key.name)
        .bind(&key.email)
        .bind(&key.keyid.0)
        .bind(now())
        .execute(conn)
        .await?;
    Ok(())
}

/// Inserts a trusted key; with `upsert`, an existing key gets the new name,
/// email and roles.
async fn insert_key<'e, E>(
    e: E,
    key: &PublicKey,
    added_by: Option<&str>,
    upsert: bool,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    let conflict = if upsert {
        " ON CONFLICT(keyid) DO UPDATE SET name = excluded.name, email = excluded.email, roles = excluded.roles"
    } else {
        ""
    };
    sqlx::query(&format!(
        "INSERT INTO trusted_keys (keyid, algorithm, public_key, name, email, roles, added_at, added_by, retired_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?){conflict}"
    ))
    .bind(&key.keyid.0)
    .bind(&key.algorithm)
    .bind(&key.public_key)
    .bind(&key.name)
    .bind(&key.email)
    .bind(roles_json(&key.roles))
    .bind(now())
    .bind(added_by)
    .bind(key.retired_at.as_deref())
    .execute(e)
    .await?;
    Ok(())
}

fn roles_json(roles: &[Role]) -> String {
    serde_json::to_string(roles).unwrap_or_else(|_| "[]".to_string())
}

fn stored_key(r: &sqlx::sqlite::SqliteRow) -> Result<StoredKey, StoreError> {
    let roles: String = r.try_get(5)?;
    let roles: Vec<Role> = serde_json::from_str(&roles)
        .map_err(|e| StoreError::Corrupt(format!("roles `{roles}`: {e}")))?;
    Ok(StoredKey {
        key: PublicKey {
            keyid: KeyId(r.try_get(0)?),
            algorithm: r.try_get(1)?,
            public_key: r.try_get(2)?,
            name: r.try_get(3)?,
            email: r.try_get(4)?,
            roles,
            retired_at: r.try_get(8)?,
        },
        added_at: r.try_get(6)?,
        added_by: r.try_get(7)?,
        retired_at: r.try_get(8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8, name: &str, roles: Vec<Role>) -> PublicKey {
        let k = ed25519_dalek_key(seed);
        PublicKey::new(&k, name, &format!("{name}@example.com"), roles)
    }

    fn ed25519_dalek_key(seed: u8) -> gavel_trust::ed25519::VerifyingKey {
        gavel_trust::ed25519::SigningKey::from_bytes(&[seed; 32]).verifying_key()
    }

    /// Identity and key changes are audited in their own transaction, each
    /// entry chained to the one before it.
    #[tokio::test]
    async fn key_changes_append_a_chained_audit_entry_each() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("gavel.db")).await.unwrap();
        let alice = key(1, "alice", vec![Role::Security]);
        store.add_identity(&alice).await.unwrap();
        let bob = key(2, "bob", vec![Role::Approver]);
        store.trust(&bob, Some("alice")).await.unwrap();
        assert!(!store.untrust(&alice.keyid.0, "alice").await.unwrap());
        assert!(store.untrust(&bob.keyid.0, "alice").await.unwrap());
        store
            .rotate("alice", &key(3, "alice", vec![Role::Security]))
            .await
            .unwrap();
        let log = store.audit_page(0, 100).await.unwrap();
        let actions: Vec<(&str, &str, &str)> = log
            .iter()
            .map(|e| (e.actor.as_str(), e.action.as_str(), e.subject.as_str()))
            .collect();
        assert_eq!(
            actions,
            [
                ("alice", "identity.create", "alice"),
                ("alice", "key.trust", bob.keyid.0.as_str()),
                ("alice", "key.untrust", bob.keyid.0.as_str()),
                ("alice", "key.rotate", "alice"),
            ],
            "a refused untrust writes nothing"
        );
        let mut prev = GENESIS_HASH.to_string();
        for (i, e) in log.iter().enumerate() {
            assert_eq!(e.seq, i as i64 + 1);
            assert_eq!(e.prev_hash, prev);
            assert_eq!(e.computed_hash().unwrap(), e.hash);
            prev = e.hash.clone();
        }
    }

    #[tokio::test]
    async fn trust_store_round_trip_and_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gavel.db");
        let store = Store::open(&path).await.unwrap();
        let alice = key(1, "alice", vec![Role::Author, Role::Security]);
        store.add_identity(&alice).await.unwrap();
        let bob = key(2, "bob", vec![Role::Approver]);
        store.trust(&bob, Some("alice")).await.unwrap();
        drop(store);
        // Reopening runs no migration twice and finds everything.
        let store = Store::open(&path).await.unwrap();
        let keys = store.keys().await.unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys.iter().find(|k| k.key.name == "bob").unwrap().key, bob);
        assert!(
            !store.untrust(&alice.keyid.0, "alice").await.unwrap(),
            "an identity's key stays"
        );
        assert!(store.untrust(&bob.keyid.0, "alice").await.unwrap());
        let alice2 = key(3, "alice", alice.roles.clone());
        assert_eq!(
            store.rotate("alice", &alice2).await.unwrap(),
            Some(alice.keyid.clone())
        );
        assert_eq!(store.identities().await.unwrap()[0].keyid, alice2.keyid);
        assert!(
            store
                .key(&alice.keyid.0)
                .await
                .unwrap()
                .unwrap()
                .retired_at
                .is_some()
        );
        assert!(
            store
                .consume_override("ovr-1", Some("wf"), false)
                .await
                .unwrap()
        );
        assert!(
            !store
                .consume_override("ovr-1", Some("wf"), false)
                .await
                .unwrap()
        );
        assert!(store.override_used("ovr-1").await.unwrap());
    }

    /// Regression: the ledger was keyed by the payload's `id`, which the
    /// signer chooses, so using one override consumed every other with the
    /// same id. Keyed by digest, each is used once, whatever its id.
    #[tokio::test]
    async fn overrides_sharing_an_id_are_each_used_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("gavel.db")).await.unwrap();
        let (a, b) = ("sha256:aaaa", "sha256:bbbb");
        assert!(!store.override_use_recorded(a, Some("ovr-x")).await.unwrap());
        assert!(
            store
                .record_override_use(a, Some("ovr-x"), Some("wf"), false)
                .await
                .unwrap()
        );
        assert!(store.override_use_recorded(a, Some("ovr-x")).await.unwrap());
        // Another override with the same id is still unused, and usable once.
        assert!(!store.override_use_recorded(b, Some("ovr-x")).await.unwrap());
        assert!(
            store
                .record_override_use(b, Some("ovr-x"), Some("wf"), false)
                .await
                .unwrap()
        );
        assert!(
            !store
                .record_override_use(b, Some("ovr-x"), Some("wf"), false)
                .await
                .unwrap()
        );
        // A legacy file is known by its key alone.
        assert!(
            store
                .record_override_use("sha256:cccc", None, None, true)
                .await
                .unwrap()
        );
        assert!(
            store
                .override_use_recorded("sha256:cccc", None)
                .await
                .unwrap()
        );
    }

    /// A store a newer Gavel migrated is refused with a message that says
    /// so, not sqlx's "previously applied but missing".
    #[tokio::test]
    async fn a_store_from_a_newer_gavel_is_refused_saying_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gavel.db");
        let store = Store::open(&path).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
             VALUES (9999, 'from the future', CURRENT_TIMESTAMP, 1, x'00', 0)",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        store.pool.close().await;
        let e = Store::open(&path).await.unwrap_err();
        let known = MIGRATOR.iter().map(|m| m.version).max().unwrap();
        assert!(
            matches!(e, StoreError::Newer { found: 9999, known: k, .. } if k == known),
            "{e}"
        );
        assert!(e.to_string().contains("newer Gavel"), "{e}");
    }

    /// An override consumed before the ledger was keyed by digest (its row
    /// keyed by its id) stays consumed after the upgrade.
    #[tokio::test]
    async fn overrides_used_before_the_digest_ledger_stay_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gavel.db");
        // The schema as it was: the first migration alone.
        let only_first = dir.path().join("migrations");
        std::fs::create_dir_all(&only_first).unwrap();
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/0001_trust.sql"),
            only_first.join("0001_trust.sql"),
        )
        .unwrap();
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .unwrap()
            .create_if_missing(true);
        let pool = SqlitePool::connect_with(options).await.unwrap();
        sqlx::migrate::Migrator::new(only_first.as_path())
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        for (id, legacy) in [("ovr-old", false), ("sha256:dddd", true)] {
            sqlx::query(
                "INSERT INTO consumed_overrides (id, workflow_id, legacy, consumed_at) VALUES (?, 'wf', ?, 'then')",
            )
            .bind(id)
            .bind(legacy)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;
        let store = Store::open(&path).await.unwrap();
        assert!(
            store
                .override_use_recorded("sha256:eeee", Some("ovr-old"))
                .await
                .unwrap()
        );
        assert!(
            !store
                .record_override_use("sha256:eeee", Some("ovr-old"), Some("wf"), false)
                .await
                .unwrap()
        );
        assert!(
            !store
                .override_use_recorded("sha256:eeee", Some("ovr-new"))
                .await
                .unwrap()
        );
        assert!(
            store
                .override_use_recorded("sha256:dddd", None)
                .await
                .unwrap()
        );
        // A legacy row's key is never mistaken for a payload id.
        assert!(
            !store
                .override_use_recorded("sha256:ffff", Some("sha256:dddd"))
                .await
                .unwrap()
        );
    }
}
