//! The hash-chained audit log (DESIGN §9, §11.13): each entry's `hash` is
//! the SHA-256 of the previous entry's hash (ASCII hex) followed by the
//! RFC 8785 form of `{seq, at, actor, action, subject, details}`. Entries
//! are appended inside the transaction of the change they record, so a
//! change and its entry are written together or not at all.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use sqlx::{Row, SqliteConnection};

use crate::StoreError;

/// `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry as stored and exported (one JSON line of `gavel audit export`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub details: Value,
    pub prev_hash: String,
    pub hash: String,
}

/// What a change records: who did what to which subject, and the details.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub actor: &'a str,
    /// `noun.verb`, e.g. `bundle.create`, `key.trust`.
    pub action: &'a str,
    pub subject: &'a str,
    pub details: Value,
}

/// The hash of an entry: lowercase hex SHA-256 of `prev_hash` followed by
/// the RFC 8785 form of `{seq, at, actor, action, subject, details}`.
pub fn entry_hash(
    prev_hash: &str,
    seq: i64,
    at: &str,
    actor: &str,
    action: &str,
    subject: &str,
    details: &Value,
) -> Result<String, StoreError> {
    let body = serde_json::json!({
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
    });
    let canonical = gavel_trust::canonicalize(&body)
        .map_err(|e| StoreError::Corrupt(format!("audit details cannot be canonicalized: {e}")))?;
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(canonical.as_bytes());
    Ok(gavel_trust::hex(&h.finalize()))
}

impl AuditEntry {
    /// This entry's hash recomputed from its content and `prev_hash`.
    pub fn computed_hash(&self) -> Result<String, StoreError> {
        entry_hash(
            &self.prev_hash,
            self.seq,
            &self.at,
            &self.actor,
            &self.action,
            &self.subject,
            &self.details,
        )
    }
}

/// Appends `entry` after the newest one, on `conn`, which must be inside a
/// write transaction begun with `BEGIN IMMEDIATE` ([`crate::Store::write`])
/// so that no other writer takes the same `seq`.
pub async fn append(
    conn: &mut SqliteConnection,
    entry: NewEntry<'_>,
) -> Result<AuditEntry, StoreError> {
    let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?;
    let (seq, prev_hash) = match last {
        Some(row) => (row.try_get::<i64, _>(0)? + 1, row.try_get::<String, _>(1)?),
        None => (1, GENESIS_HASH.to_string()),
    };
    let at = crate::now();
    let hash = entry_hash(
        &prev_hash,
        seq,
        &at,
        entry.actor,
        entry.action,
        entry.subject,
        &entry.details,
    )?;
    let details = gavel_trust::canonicalize(&entry.details)
        .map_err(|e| StoreError::Corrupt(format!("audit details cannot be canonicalized: {e}")))?;
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(seq)
    .bind(&at)
    .bind(entry.actor)
    .bind(entry.action)
    .bind(entry.subject)
    .bind(&details)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    Ok(AuditEntry {
        seq,
        at,
        actor: entry.actor.to_string(),
        action: entry.action.to_string(),
        subject: entry.subject.to_string(),
        details: entry.details,
        prev_hash,
        hash,
    })
}

/// Reads a stored row back into an entry (details parsed from its JSON).
pub(crate) fn from_row(row: &sqlx::sqlite::SqliteRow) -> Result<AuditEntry, StoreError> {
    let details: String = row.try_get("details")?;
    Ok(AuditEntry {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        subject: row.try_get("subject")?,
        details: serde_json::from_str(&details)
            .map_err(|e| StoreError::Corrupt(format!("audit entry details: {e}")))?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DESIGN §11.13's test vector.
    #[test]
    fn the_first_entry_hashes_to_the_design_test_vector() {
        let h = entry_hash(
            GENESIS_HASH,
            1,
            "2026-11-23T15:04:05.123Z",
            "alice",
            "bundle.create",
            "inbox-agents@1.0.0",
            &serde_json::json!({"digest": "sha256:00"}),
        )
        .unwrap();
        assert_eq!(
            h,
            "a22d400ef28c427c98dca28b4c24b6956a62b5e44d49e1d8119140ca754d2b99"
        );
    }
}
