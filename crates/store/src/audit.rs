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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AuditEntry {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
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

/// What a signed audit checkpoint vouches for: the entry `seq`, its `hash`
/// and its `at`. A log that ends below `seq`, or whose entry `seq` has
/// another hash, was cut (and perhaps written again) after the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    pub at: String,
}

/// How the chain is broken at its first bad entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum BreakKind {
    /// An entry's content or hash was changed.
    Edited,
    /// Entries are missing from the middle (or the start) of the log.
    Removed,
    /// An entry is not where it belongs: the one that should come next
    /// sits later in the log.
    Reordered,
    /// The log ends below a checkpoint, or the entry a checkpoint names
    /// does not carry its hash.
    Truncated,
}

impl BreakKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakKind::Edited => "edited",
            BreakKind::Removed => "removed",
            BreakKind::Reordered => "reordered",
            BreakKind::Truncated => "truncated",
        }
    }
}

/// The first bad entry: the first `seq` at which the log is not what was
/// written, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChainBreak {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub seq: i64,
    pub kind: BreakKind,
    pub message: String,
}

/// The result of walking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainReport {
    pub valid: bool,
    /// Entries read.
    pub entries: u64,
    /// The last entry of the intact chain (seq 0 and the genesis hash when
    /// none is).
    pub last_seq: i64,
    pub last_hash: String,
    pub first_bad: Option<ChainBreak>,
}

/// The first entry that did not follow the intact chain, held until the end
/// of the walk decides how it broke.
#[derive(Debug, Clone)]
struct Suspect {
    seq: i64,
    linked: bool,
    self_valid: bool,
}

/// Walks the audit log one entry at a time, in the order given (the
/// store's `seq` order, or an export's line order), in constant memory,
/// and finds the first bad entry. Entry `n` of an intact log has `seq` `n`,
/// `prev_hash` the hash of entry `n - 1` (the genesis hash for the first),
/// and a `hash` that matches its content. The first entry where any of the
/// three fails is classified, in this order:
///
/// 1. its `prev_hash` is the hash of the entry before it: `edited` (its
///    content, seq or hash changed);
/// 2. the entry chained after the last good one comes later in the log:
///    `reordered`;
/// 3. its `seq` is at or below the last good one's: `reordered` (a
///    repeated or backward entry);
/// 4. its `seq` is above the next one expected: `removed`, naming the first
///    missing `seq`;
/// 5. otherwise it is chained to a hash nowhere in the log: if its own hash
///    matches its content, the entry before it was `edited` and its hash
///    recomputed; else this entry was `edited` (its `prev_hash` changed).
///
/// With a checkpoint, an intact chain that ends below the checkpoint's
/// `seq`, or whose entry at that `seq` has another hash, is `truncated`.
/// `tests/audit_verify.py` applies the same rules to an export.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    checkpoint: Option<Checkpoint>,
    entries: u64,
    last_seq: i64,
    last_hash: String,
    suspect: Option<Suspect>,
    successor_later: bool,
    found: Option<ChainBreak>,
}

impl ChainVerifier {
    pub fn new(checkpoint: Option<Checkpoint>) -> ChainVerifier {
        ChainVerifier {
            checkpoint,
            entries: 0,
            last_seq: 0,
            last_hash: GENESIS_HASH.to_string(),
            suspect: None,
            successor_later: false,
            found: None,
        }
    }

    /// Takes the next entry.
    pub fn push(&mut self, e: &AuditEntry) {
        self.entries += 1;
        if self.found.is_some() {
            return;
        }
        if self.suspect.is_some() {
            if e.prev_hash == self.last_hash {
                self.successor_later = true;
            }
            return;
        }
        let expected = self.last_seq + 1;
        let linked = e.prev_hash == self.last_hash;
        // Content that has no canonical form (an integer beyond 2^53, put
        // there by hand) cannot be what Gavel hashed.
        let self_valid = e.computed_hash().is_ok_and(|h| h == e.hash);
        if e.seq == expected && linked && self_valid {
            self.last_seq = e.seq;
            self.last_hash.clone_from(&e.hash);
            let Some(cp) = &self.checkpoint else { return };
            if cp.seq == e.seq && cp.hash != e.hash {
                self.found = Some(ChainBreak {
                    seq: cp.seq,
                    kind: BreakKind::Truncated,
                    message: format!(
                        "the entry at seq {} does not carry the checkpoint's hash: the log was cut below seq {} and written again",
                        cp.seq, cp.seq
                    ),
                });
            }
            return;
        }
        self.suspect = Some(Suspect {
            seq: e.seq,
            linked,
            self_valid,
        });
    }

    /// The verdict, once every entry was pushed.
    pub fn finish(self) -> ChainReport {
        let expected = self.last_seq + 1;
        let first_bad = if let Some(found) = self.found.clone() {
            Some(found)
        } else if let Some(s) = &self.suspect {
            Some(self.classify(s, expected))
        } else {
            match &self.checkpoint {
                Some(cp) if self.last_seq < cp.seq => Some(ChainBreak {
                    seq: expected,
                    kind: BreakKind::Truncated,
                    message: if self.last_seq == 0 {
                        format!(
                            "the log is empty but the checkpoint vouches for seq {}: it was truncated",
                            cp.seq
                        )
                    } else {
                        format!(
                            "the log ends at seq {} but the checkpoint vouches for seq {}: entries {expected} to {} were removed",
                            self.last_seq, cp.seq, cp.seq
                        )
                    },
                }),
                _ => None,
            }
        };
        ChainReport {
            valid: first_bad.is_none(),
            entries: self.entries,
            last_seq: self.last_seq,
            last_hash: self.last_hash,
            first_bad,
        }
    }

    fn classify(&self, s: &Suspect, expected: i64) -> ChainBreak {
        let last = self.last_seq;
        let brk = |seq: i64, kind: BreakKind, message: String| ChainBreak { seq, kind, message };
        if s.linked {
            let what = if s.seq == expected {
                "its hash does not match its content".to_string()
            } else {
                format!("it is chained to entry {last} but says seq {}", s.seq)
            };
            brk(
                expected,
                BreakKind::Edited,
                format!("entry {expected} was edited: {what}"),
            )
        } else if self.successor_later {
            brk(
                expected,
                BreakKind::Reordered,
                format!(
                    "entry {expected} is out of place: the entry chained after seq {last} comes later in the log (found seq {} here)",
                    s.seq
                ),
            )
        } else if s.seq <= last {
            brk(
                expected,
                BreakKind::Reordered,
                format!(
                    "entry {expected} is out of place: seq {} comes again after seq {last}",
                    s.seq
                ),
            )
        } else if s.seq > expected {
            let which = if s.seq - 1 == expected {
                format!("entry {expected} is missing")
            } else {
                format!("entries {expected} to {} are missing", s.seq - 1)
            };
            brk(
                expected,
                BreakKind::Removed,
                format!("{which}: the log goes from seq {last} to seq {}", s.seq),
            )
        } else if s.self_valid && last >= 1 {
            brk(
                last,
                BreakKind::Edited,
                format!(
                    "entry {last} was edited and its hash recomputed: entry {expected} is chained to another hash"
                ),
            )
        } else {
            brk(
                expected,
                BreakKind::Edited,
                format!(
                    "entry {expected} was edited: it is not chained to the entry before it and its hash does not match its content"
                ),
            )
        }
    }
}

/// Verifies entries given in order (see [`ChainVerifier`]).
pub fn verify_chain<'a>(
    entries: impl IntoIterator<Item = &'a AuditEntry>,
    checkpoint: Option<Checkpoint>,
) -> ChainReport {
    let mut v = ChainVerifier::new(checkpoint);
    for e in entries {
        v.push(e);
    }
    v.finish()
}

/// What `audit list` filters on; every field is optional. Times are
/// compared as stored (RFC 3339 UTC with milliseconds): `since` inclusive,
/// `until` exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub subject: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: i64,
}

/// The columns of an audit row, each read as text whatever was stored in
/// it, so a row changed by hand is read (and found not to match its hash)
/// rather than refused.
pub(crate) const RAW_COLUMNS: &str = "seq, CAST(at AS TEXT) AS at, CAST(actor AS TEXT) AS actor, \
     CAST(action AS TEXT) AS action, CAST(subject AS TEXT) AS subject, \
     CAST(details AS TEXT) AS details, CAST(prev_hash AS TEXT) AS prev_hash, \
     CAST(hash AS TEXT) AS hash";

/// A stored row as it is, `details` parsed as JSON, or kept as a JSON
/// string when it is not JSON (it then cannot match its hash).
pub(crate) fn raw_entry(row: &sqlx::sqlite::SqliteRow) -> Result<AuditEntry, StoreError> {
    let text = |col: &str| -> Result<String, StoreError> {
        Ok(row.try_get::<Option<String>, _>(col)?.unwrap_or_default())
    };
    let details = text("details")?;
    Ok(AuditEntry {
        seq: row.try_get("seq")?,
        at: text("at")?,
        actor: text("actor")?,
        action: text("action")?,
        subject: text("subject")?,
        details: serde_json::from_str(&details).unwrap_or(Value::String(details)),
        prev_hash: text("prev_hash")?,
        hash: text("hash")?,
    })
}

impl crate::Store {
    /// Audit entries matching `filter`, newest first, at most
    /// `filter.limit` (1 to 10,000).
    pub async fn audit_list(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {RAW_COLUMNS} FROM audit_log \
             WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR action = ?2) \
             AND (?3 IS NULL OR subject = ?3) AND (?4 IS NULL OR at >= ?4) \
             AND (?5 IS NULL OR at < ?5) \
             ORDER BY seq DESC LIMIT ?6"
        ))
        .bind(filter.actor.as_deref())
        .bind(filter.action.as_deref())
        .bind(filter.subject.as_deref())
        .bind(filter.since.as_deref())
        .bind(filter.until.as_deref())
        .bind(filter.limit.clamp(1, 10_000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(raw_entry).collect()
    }

    /// One page of the log for export and verification: the rows after
    /// `after_seq`, in `seq` order, at most `limit`, each as stored (see
    /// [`raw_entry`]). Page through with the last `seq` of each page, so a
    /// log of any length is never held in memory.
    pub async fn audit_page(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {RAW_COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?"
        ))
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(raw_entry).collect()
    }

    /// Trusted keys named `operator` holding the operator role, not
    /// retired: the console's service keys (DESIGN §11.3).
    pub async fn operator_keys(&self) -> Result<Vec<gavel_trust::PublicKey>, StoreError> {
        Ok(self
            .keys()
            .await?
            .into_iter()
            .filter(|k| {
                k.retired_at.is_none()
                    && k.key.name == OPERATOR
                    && k.key.roles == [gavel_trust::Role::Operator]
            })
            .map(|k| k.key)
            .collect())
    }

    /// Trusts `key` as the operator key, audited as `key.operator`, unless
    /// another process made one first: then that one is returned and
    /// nothing is written.
    pub async fn add_operator_key(
        &self,
        key: &gavel_trust::PublicKey,
    ) -> Result<Option<gavel_trust::PublicKey>, StoreError> {
        let mut tx = self.write().await?;
        let existing: Option<String> = sqlx::query(
            "SELECT keyid FROM trusted_keys WHERE name = ? AND roles = ? AND retired_at IS NULL \
             ORDER BY added_at, keyid LIMIT 1",
        )
        .bind(OPERATOR)
        .bind(r#"["operator"]"#)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        if let Some(keyid) = existing {
            drop(tx);
            return Ok(self.key(&keyid).await?.map(|k| k.key));
        }
        crate::insert_key(&mut *tx, key, Some("gavel"), false).await?;
        append(
            &mut tx,
            NewEntry {
                actor: "gavel",
                action: "key.operator",
                subject: &key.keyid.0,
                details: serde_json::json!({"name": key.name, "roles": key.roles}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(None)
    }

    /// The newest entry as a checkpoint, and an `audit.checkpoint` entry
    /// after it recording that `keyid` signed it, in one transaction. `None`
    /// when the log is empty. `sign` turns the checkpoint into the signed
    /// document; if it fails nothing is written.
    pub async fn checkpoint<T, E>(
        &self,
        keyid: &str,
        sign: impl FnOnce(&Checkpoint) -> Result<T, E>,
    ) -> Result<Option<(Checkpoint, Result<T, E>)>, StoreError> {
        let mut tx = self.write().await?;
        let Some(row) =
            sqlx::query("SELECT seq, hash, at FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?
        else {
            return Ok(None);
        };
        let cp = Checkpoint {
            seq: row.try_get(0)?,
            hash: row.try_get(1)?,
            at: row.try_get(2)?,
        };
        let signed = sign(&cp);
        if signed.is_ok() {
            append(
                &mut tx,
                NewEntry {
                    actor: "gavel",
                    action: "audit.checkpoint",
                    subject: &cp.seq.to_string(),
                    details: serde_json::json!({"seq": cp.seq, "hash": cp.hash, "keyid": keyid}),
                },
            )
            .await?;
            tx.commit().await?;
        }
        Ok(Some((cp, signed)))
    }
}

/// The name of the console's service key in the trust store.
pub const OPERATOR: &str = "operator";

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

#[cfg(test)]
mod chain_tests {
    use super::*;
    use crate::Store;

    /// A store whose log holds `n` entries (`key.trust` of distinct keys).
    async fn store_with(n: u8) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("gavel.db")).await.unwrap();
        for i in 0..n {
            let k = gavel_trust::ed25519::SigningKey::from_bytes(&[i + 1; 32]).verifying_key();
            let key = gavel_trust::PublicKey::new(&k, &format!("k{i}"), "k@example.com", vec![]);
            store.trust(&key, Some("alice")).await.unwrap();
        }
        (dir, store)
    }

    async fn all(store: &Store) -> Vec<AuditEntry> {
        let mut out = Vec::new();
        loop {
            // A small page, so paging itself is exercised.
            let page = store
                .audit_page(out.last().map_or(0, |e: &AuditEntry| e.seq), 3)
                .await
                .unwrap();
            if page.is_empty() {
                return out;
            }
            out.extend(page);
        }
    }

    async fn sql(store: &Store, statements: &[&str]) {
        for s in statements {
            sqlx::query(s).execute(&store.pool).await.unwrap();
        }
    }

    fn first_bad(report: &ChainReport) -> Option<(i64, BreakKind)> {
        report.first_bad.as_ref().map(|b| (b.seq, b.kind))
    }

    /// Each way of changing rows by hand in SQLite, and the first bad entry
    /// it must be reported as.
    #[tokio::test]
    async fn rows_changed_in_sqlite_are_found_naming_the_first_bad_entry() {
        use BreakKind::*;
        let cases: &[(&str, &[&str], (i64, BreakKind))] = &[
            (
                "details changed",
                &[r#"UPDATE audit_log SET details = '{"name":"mallory"}' WHERE seq = 4"#],
                (4, Edited),
            ),
            (
                "details not JSON",
                &["UPDATE audit_log SET details = 'oops' WHERE seq = 4"],
                (4, Edited),
            ),
            (
                "actor changed",
                &["UPDATE audit_log SET actor = 'bob' WHERE seq = 1"],
                (1, Edited),
            ),
            (
                "at changed",
                &["UPDATE audit_log SET at = '2020-01-01T00:00:00.000Z' WHERE seq = 8"],
                (8, Edited),
            ),
            (
                "at made a number",
                &["UPDATE audit_log SET at = 5 WHERE seq = 2"],
                (2, Edited),
            ),
            (
                "hash changed",
                // Its first digit always changed: a fixed `ab` prefix left one
                // hash in 256 (those starting with `ab`) as it was.
                &[
                    "UPDATE audit_log SET hash = (CASE substr(hash, 1, 1) WHEN '0' THEN '1' ELSE '0' END) || substr(hash, 2) WHERE seq = 5",
                ],
                (5, Edited),
            ),
            (
                "prev_hash changed",
                &["UPDATE audit_log SET prev_hash = hash WHERE seq = 6"],
                (6, Edited),
            ),
            (
                "a middle row deleted",
                &["DELETE FROM audit_log WHERE seq = 5"],
                (5, Removed),
            ),
            (
                "two middle rows deleted",
                &["DELETE FROM audit_log WHERE seq IN (3, 4)"],
                (3, Removed),
            ),
            (
                "the first row deleted",
                &["DELETE FROM audit_log WHERE seq = 1"],
                (1, Removed),
            ),
            (
                "two rows swapped by seq",
                &[
                    "UPDATE audit_log SET seq = -1 WHERE seq = 3",
                    "UPDATE audit_log SET seq = 3 WHERE seq = 6",
                    "UPDATE audit_log SET seq = 6 WHERE seq = -1",
                ],
                (3, Reordered),
            ),
            (
                "the last two rows swapped",
                &[
                    "UPDATE audit_log SET seq = -1 WHERE seq = 9",
                    "UPDATE audit_log SET seq = 9 WHERE seq = 10",
                    "UPDATE audit_log SET seq = 10 WHERE seq = -1",
                ],
                (9, Reordered),
            ),
            (
                "a row moved to the end",
                &["UPDATE audit_log SET seq = 50 WHERE seq = 2"],
                (2, Reordered),
            ),
            (
                "a row deleted and the rest renumbered",
                &[
                    "DELETE FROM audit_log WHERE seq = 4",
                    "UPDATE audit_log SET seq = seq - 1 WHERE seq > 4",
                ],
                (4, Edited),
            ),
        ];
        for (what, statements, expected) in cases {
            let (_dir, store) = store_with(10).await;
            assert!(verify_chain(&all(&store).await, None).valid);
            sql(&store, statements).await;
            let report = verify_chain(&all(&store).await, None);
            assert!(!report.valid, "{what}");
            assert_eq!(first_bad(&report), Some(*expected), "{what}: {report:?}");
        }
    }

    /// An entry rewritten with its hash recomputed breaks the link of the
    /// next one: the rewritten entry is named.
    #[tokio::test]
    async fn an_entry_rewritten_with_a_recomputed_hash_is_named() {
        let (_dir, store) = store_with(6).await;
        let mut log = all(&store).await;
        log[2].actor = "mallory".into();
        log[2].hash = log[2].computed_hash().unwrap();
        let report = verify_chain(&log, None);
        assert_eq!(
            first_bad(&report),
            Some((3, BreakKind::Edited)),
            "{report:?}"
        );
    }

    /// An export whose lines were swapped or repeated.
    #[tokio::test]
    async fn lines_out_of_order_are_reordered() {
        let (_dir, store) = store_with(6).await;
        let log = all(&store).await;
        let mut swapped = log.clone();
        swapped.swap(1, 4);
        assert_eq!(
            first_bad(&verify_chain(&swapped, None)),
            Some((2, BreakKind::Reordered))
        );
        let mut repeated = log.clone();
        repeated.insert(3, log[1].clone());
        assert_eq!(
            first_bad(&verify_chain(&repeated, None)),
            Some((4, BreakKind::Reordered))
        );
    }

    /// Removing the newest entries leaves a valid chain; only a checkpoint
    /// shows it, and also a log cut and written again past it.
    #[tokio::test]
    async fn truncation_is_found_only_below_a_checkpoint() {
        let (_dir, store) = store_with(8).await;
        let log = all(&store).await;
        let cp = Checkpoint {
            seq: 8,
            hash: log[7].hash.clone(),
            at: log[7].at.clone(),
        };
        assert!(verify_chain(&log, Some(cp.clone())).valid);
        sql(&store, &["DELETE FROM audit_log WHERE seq > 5"]).await;
        let cut = all(&store).await;
        assert!(
            verify_chain(&cut, None).valid,
            "undetectable without a checkpoint"
        );
        let report = verify_chain(&cut, Some(cp.clone()));
        assert_eq!(
            first_bad(&report),
            Some((6, BreakKind::Truncated)),
            "{report:?}"
        );
        // Written again past the checkpoint's seq: the entry there differs.
        for i in 0..4u8 {
            let k = gavel_trust::ed25519::SigningKey::from_bytes(&[100 + i; 32]).verifying_key();
            let key = gavel_trust::PublicKey::new(&k, "again", "a@example.com", vec![]);
            store.trust(&key, Some("mallory")).await.unwrap();
        }
        let regrown = all(&store).await;
        assert!(verify_chain(&regrown, None).valid);
        let report = verify_chain(&regrown, Some(cp.clone()));
        assert_eq!(
            first_bad(&report),
            Some((8, BreakKind::Truncated)),
            "{report:?}"
        );
        // Everything gone.
        assert_eq!(
            first_bad(&verify_chain(&[], Some(cp))),
            Some((1, BreakKind::Truncated))
        );
        // A break below the checkpoint is named as the break it is.
        sql(&store, &["DELETE FROM audit_log WHERE seq = 2"]).await;
        let report = verify_chain(
            &all(&store).await,
            Some(Checkpoint {
                seq: 8,
                hash: log[7].hash.clone(),
                at: log[7].at.clone(),
            }),
        );
        assert_eq!(first_bad(&report), Some((2, BreakKind::Removed)));
    }

    #[tokio::test]
    async fn list_filters_newest_first() {
        let (_dir, store) = store_with(5).await;
        let all_entries = store
            .audit_list(&AuditFilter {
                limit: 100,
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        let seqs: Vec<i64> = all_entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [5, 4, 3, 2, 1]);
        let f = |f: AuditFilter| {
            let store = store.clone();
            async move {
                store
                    .audit_list(&f)
                    .await
                    .unwrap()
                    .iter()
                    .map(|e| e.seq)
                    .collect::<Vec<_>>()
            }
        };
        let base = AuditFilter {
            limit: 100,
            ..AuditFilter::default()
        };
        assert_eq!(
            f(AuditFilter {
                limit: 2,
                ..base.clone()
            })
            .await,
            [5, 4]
        );
        assert_eq!(
            f(AuditFilter {
                subject: Some(all_entries[2].subject.clone()),
                ..base.clone()
            })
            .await,
            [3]
        );
        assert_eq!(
            f(AuditFilter {
                actor: Some("bob".into()),
                ..base.clone()
            })
            .await,
            Vec::<i64>::new()
        );
        assert_eq!(
            f(AuditFilter {
                action: Some("key.trust".into()),
                ..base.clone()
            })
            .await
            .len(),
            5
        );
        let at3 = all_entries[2].at.clone();
        let since = f(AuditFilter {
            since: Some(at3.clone()),
            ..base.clone()
        })
        .await;
        // Entries written in the same millisecond share their `at`.
        assert!(since.starts_with(&[5, 4, 3]), "{since:?}");
        assert!(
            since
                .iter()
                .all(|s| all_entries[5 - *s as usize].at >= all_entries[2].at),
            "{since:?}"
        );
        assert!(
            !f(AuditFilter {
                until: Some(at3),
                ..base.clone()
            })
            .await
            .contains(&3)
        );
        assert_eq!(
            f(AuditFilter {
                until: Some("2000-01-01T00:00:00.000Z".into()),
                ..base
            })
            .await,
            Vec::<i64>::new()
        );
    }
}
