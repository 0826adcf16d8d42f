//! The audit log's use cases (DESIGN §9, §11.13): list with filters,
//! verify the chain (against a signed checkpoint when given), export it as
//! JSON Lines, and checkpoint it with the operator key (§11.3), the
//! console's service key, created in the keychain on first use.
//!
//! A checkpoint is a DSSE envelope of type [`CHECKPOINT_TYPE`] whose
//! payload is `{seq, hash, at, issued_at, expires_at}`: the newest entry's
//! `seq`, `hash` and `at` when it was taken. Only a trusted key holding the
//! `operator` role signs one.

use std::io::Write;

use gavel_store::{AuditEntry, AuditFilter, ChainBreak, ChainVerifier, Checkpoint, OPERATOR};
use gavel_trust::ed25519::SigningKey;
use gavel_trust::{PublicKey, Reason, Role, Sensitive, VerifyOptions};
use serde::Serialize;

use crate::{Console, ConsoleError, key_account, new_signing_key};

/// The DSSE payload type of an audit checkpoint.
pub const CHECKPOINT_TYPE: &str = "application/vnd.gavel.audit-checkpoint.v1+json";

/// How long a checkpoint's signature is valid: ten years. A checkpoint
/// guards the log's past, so it is kept for long; every payload still
/// carries an expiry (DESIGN §6).
pub const CHECKPOINT_VALIDITY_SECONDS: i64 = 10 * 365 * 86_400;

/// `audit list` shows at most this many entries unless `limit` says.
pub const DEFAULT_LIST_LIMIT: u32 = 100;
/// The most `audit list` shows at once.
pub const MAX_LIST_LIMIT: u32 = 10_000;

/// Entries read per page when verifying or exporting: the log is never
/// held in memory whole.
const PAGE: i64 = 1000;

/// What `audit list` filters on, as the user gave it. Times are RFC 3339
/// (`2026-11-23T15:04:05Z`, any offset) or a date (`2026-11-23`, midnight
/// UTC); `since` is inclusive, `until` exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub subject: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<u32>,
}

/// What `audit verify` found: `{valid, entries, last_seq, last_hash,
/// first_bad: {seq, kind, message} | null, checkpoint: {…} | null}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct AuditVerification {
    /// The chain is intact and, when a checkpoint was given, the checkpoint
    /// is valid and the log reaches it with its hash.
    pub valid: bool,
    #[ts(type = "number")]
    pub entries: u64,
    #[ts(type = "number")]
    pub last_seq: i64,
    pub last_hash: String,
    pub first_bad: Option<ChainBreak>,
    pub checkpoint: Option<CheckpointCheck>,
}

/// The checkpoint given to `audit verify`: `{valid, seq, hash, at,
/// signed_by, reason, message}`; `seq`, `hash` and `at` are null when the
/// signature did not verify (an unverified payload is not read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct CheckpointCheck {
    pub valid: bool,
    #[ts(type = "number | null")]
    pub seq: Option<i64>,
    pub hash: Option<String>,
    pub at: Option<String>,
    /// Key ids of the operator keys whose signatures verified.
    pub signed_by: Vec<String>,
    pub reason: Option<Reason>,
    pub message: String,
}

/// What `audit export` wrote: `{entries, last_seq}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct AuditExport {
    #[ts(type = "number")]
    pub entries: u64,
    #[ts(type = "number")]
    pub last_seq: i64,
}

/// A checkpoint as `audit checkpoint` made it: `{seq, hash, at, keyid,
/// operator_key_created, envelope}`.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct SignedCheckpoint {
    #[ts(type = "number")]
    pub seq: i64,
    pub hash: String,
    pub at: String,
    /// The operator key that signed it.
    pub keyid: String,
    /// This call created the operator key (its first use).
    pub operator_key_created: bool,
    /// The DSSE envelope, the checkpoint file's content.
    pub envelope: serde_json::Value,
}

/// The operator key: its public half (trusted with the `operator` role
/// only) and whether this call created it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorKey {
    pub public_key: PublicKey,
    pub created: bool,
}

/// An RFC 3339 time or a date, as the store writes times (UTC,
/// milliseconds), so they compare as text.
fn stored_time(flag: &str, text: &str) -> Result<String, ConsoleError> {
    let t = text
        .parse::<jiff::Timestamp>()
        .ok()
        .or_else(|| {
            text.parse::<jiff::civil::Date>()
                .ok()
                .and_then(|d| format!("{d}T00:00:00Z").parse::<jiff::Timestamp>().ok())
        })
        .ok_or_else(|| {
            ConsoleError::Invalid(format!(
                "--{flag} `{text}` is not a time: give RFC 3339 (`2026-11-23T15:04:05Z`) or a date (`2026-11-23`)"
            ))
        })?;
    Ok(t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

impl Console {
    /// Audit entries matching `query`, newest first.
    pub async fn audit_list(&self, query: AuditQuery) -> Result<Vec<AuditEntry>, ConsoleError> {
        let limit = query.limit.unwrap_or(DEFAULT_LIST_LIMIT);
        if !(1..=MAX_LIST_LIMIT).contains(&limit) {
            return Err(ConsoleError::Invalid(format!(
                "--limit must be from 1 to {MAX_LIST_LIMIT}, not {limit}"
            )));
        }
        let filter = AuditFilter {
            actor: query.actor,
            action: query.action,
            subject: query.subject,
            since: query
                .since
                .as_deref()
                .map(|t| stored_time("since", t))
                .transpose()?,
            until: query
                .until
                .as_deref()
                .map(|t| stored_time("until", t))
                .transpose()?,
            limit: i64::from(limit),
        };
        Ok(self.store.audit_list(&filter).await?)
    }

    /// Verifies the whole chain, page by page; with `checkpoint` (the text
    /// of a checkpoint file), first its signature against the trusted
    /// operator keys, then that the log reaches its `seq` with its hash.
    pub async fn audit_verify(
        &self,
        checkpoint: Option<&str>,
    ) -> Result<AuditVerification, ConsoleError> {
        let check = match checkpoint {
            Some(text) => Some(self.check_checkpoint(text).await?),
            None => None,
        };
        let vouched = check
            .as_ref()
            .and_then(|c| match (c.valid, c.seq, &c.hash, &c.at) {
                (true, Some(seq), Some(hash), Some(at)) => Some(Checkpoint {
                    seq,
                    hash: hash.clone(),
                    at: at.clone(),
                }),
                _ => None,
            });
        let mut walk = ChainVerifier::new(vouched);
        let mut after = 0;
        loop {
            let page = self.store.audit_page(after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for e in &page {
                walk.push(e);
            }
        }
        let report = walk.finish();
        Ok(AuditVerification {
            valid: report.valid && check.as_ref().is_none_or(|c| c.valid),
            entries: report.entries,
            last_seq: report.last_seq,
            last_hash: report.last_hash,
            first_bad: report.first_bad,
            checkpoint: check,
        })
    }

    async fn check_checkpoint(&self, text: &str) -> Result<CheckpointCheck, ConsoleError> {
        let doc: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| ConsoleError::Invalid(format!("the checkpoint is not JSON: {e}")))?;
        let operators: Vec<PublicKey> = self
            .trusted_keys()
            .await?
            .into_iter()
            .filter(|k| k.has_role(Role::Operator))
            .collect();
        let v = gavel_trust::verify(
            &doc,
            &VerifyOptions {
                now: jiff::Timestamp::now(),
                trusted: &operators,
                secret: None,
                expected_type: Some(CHECKPOINT_TYPE),
            },
        );
        let mut check = CheckpointCheck {
            valid: false,
            seq: None,
            hash: None,
            at: None,
            signed_by: v.signers.iter().map(|s| s.keyid.clone()).collect(),
            reason: v.reason,
            message: v.message.clone(),
        };
        if !v.valid {
            if v.reason == Some(Reason::UnknownKey) {
                check.message = format!(
                    "{}; a checkpoint counts only when signed by a trusted key with the operator role",
                    v.message
                );
            }
            return Ok(check);
        }
        let payload = v.payload.unwrap_or_default();
        let fields = ["seq", "hash", "at", "issued_at", "expires_at"];
        let seq = payload.get("seq").and_then(serde_json::Value::as_i64);
        let hash = payload.get("hash").and_then(serde_json::Value::as_str);
        let at = payload.get("at").and_then(serde_json::Value::as_str);
        let only_those = payload
            .as_object()
            .is_some_and(|o| o.keys().all(|k| fields.contains(&k.as_str())));
        let hash_ok = hash.is_some_and(|h| {
            h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        match (seq, hash, at) {
            (Some(seq), Some(hash), Some(at)) if seq >= 1 && hash_ok && only_those => {
                check.valid = true;
                check.seq = Some(seq);
                check.hash = Some(hash.to_string());
                check.at = Some(at.to_string());
                check.message = format!("valid checkpoint of seq {seq}");
            }
            _ => {
                check.reason = Some(Reason::Malformed);
                check.message = "the checkpoint payload must be exactly {seq (1 or more), hash (64 lowercase hex digits), at, issued_at, expires_at}".to_string();
            }
        }
        Ok(check)
    }

    /// Writes the log to `out` as JSON Lines, oldest first, one entry a
    /// line with exactly the stored fields: `{seq, at, actor, action,
    /// subject, details, prev_hash, hash}` (`details` as JSON; a stored
    /// `details` that is not JSON as a string).
    pub async fn audit_export<W: Write + ?Sized>(
        &self,
        out: &mut W,
    ) -> Result<AuditExport, ConsoleError> {
        let mut done = AuditExport {
            entries: 0,
            last_seq: 0,
        };
        let io = |e: std::io::Error| ConsoleError::Invalid(format!("cannot write the export: {e}"));
        loop {
            let page = self.store.audit_page(done.last_seq, PAGE).await?;
            let Some(last) = page.last() else { break };
            done.last_seq = last.seq;
            for e in &page {
                serde_json::to_writer(&mut *out, e).map_err(|e| io(e.into()))?;
                out.write_all(b"\n").map_err(io)?;
                done.entries += 1;
            }
        }
        out.flush().map_err(io)?;
        Ok(done)
    }

    /// Signs a checkpoint of the newest entry with the operator key
    /// (creating it on first use), audited as `audit.checkpoint` in the
    /// same transaction that reads the newest entry. Refused while the
    /// store has no identity: the operator key is a trusted key, and the
    /// first identity of a store must still find it empty (the bootstrap).
    pub async fn audit_checkpoint(&self) -> Result<SignedCheckpoint, ConsoleError> {
        if self.store.identities().await?.is_empty() {
            return Err(ConsoleError::Refused(
                "this store has no identity yet, so there is nothing to checkpoint: create one with `gavel keys gen --name NAME --email EMAIL` first".into(),
            ));
        }
        let (operator, key) = self.operator_signing_key().await?;
        let keyid = operator.public_key.keyid.0.clone();
        let now = jiff::Timestamp::now();
        let expires =
            jiff::Timestamp::from_second(now.as_second() + CHECKPOINT_VALIDITY_SECONDS)
                .map_err(|e| ConsoleError::Invalid(format!("cannot date the checkpoint: {e}")))?;
        let signed = self
            .store
            .checkpoint(&keyid, |cp| {
                let payload = serde_json::json!({
                    "seq": cp.seq, "hash": cp.hash, "at": cp.at,
                    "issued_at": gavel_trust::rfc3339(now),
                    "expires_at": gavel_trust::rfc3339(expires),
                });
                gavel_trust::sign_dsse(CHECKPOINT_TYPE, &payload, &[&key])
            })
            .await?;
        let Some((cp, envelope)) = signed else {
            return Err(ConsoleError::Refused(
                "the audit log is empty: there is nothing to checkpoint".into(),
            ));
        };
        let envelope = envelope.map_err(|e| ConsoleError::Invalid(e.to_string()))?;
        Ok(SignedCheckpoint {
            seq: cp.seq,
            hash: cp.hash,
            at: cp.at,
            keyid,
            operator_key_created: operator.created,
            envelope,
        })
    }

    /// The operator key, created on first use: a new Ed25519 key in the
    /// keychain (account `ed25519:<keyid>`), trusted as `operator` with the
    /// `operator` role only, audited as `key.operator`.
    pub async fn operator_key(&self) -> Result<OperatorKey, ConsoleError> {
        Ok(self.operator_signing_key().await?.0)
    }

    pub(crate) async fn operator_signing_key(
        &self,
    ) -> Result<(OperatorKey, SigningKey), ConsoleError> {
        if let Some(found) = self.known_operator_key().await? {
            return Ok(found);
        }
        let signing = new_signing_key()?;
        let public = PublicKey::new(&signing.verifying_key(), OPERATOR, "", vec![Role::Operator]);
        let account = key_account(&public.keyid);
        self.keychain
            .set(&account, &Sensitive::new(signing.to_bytes().to_vec()))?;
        match self.store.add_operator_key(&public).await {
            Ok(None) => Ok((
                OperatorKey {
                    public_key: public,
                    created: true,
                },
                signing,
            )),
            // Another process made one first: use it, drop ours.
            Ok(Some(_)) => {
                self.keychain.delete(&account)?;
                self.known_operator_key().await?.ok_or_else(|| {
                    ConsoleError::NotFound(
                        "the operator key another process created is not in this keychain".into(),
                    )
                })
            }
            Err(e) => {
                let _ = self.keychain.delete(&account);
                Err(e.into())
            }
        }
    }

    /// The trusted operator key whose private half this keychain holds;
    /// refused when the store has one but the keychain has not got it (a
    /// second operator key would split who signs).
    async fn known_operator_key(&self) -> Result<Option<(OperatorKey, SigningKey)>, ConsoleError> {
        let keys = self.store.operator_keys().await?;
        for k in &keys {
            if let Some(secret) = self.keychain.get(&key_account(&k.keyid))? {
                let bytes: [u8; 32] = secret.expose().as_slice().try_into().map_err(|_| {
                    ConsoleError::Invalid(format!(
                        "the keychain entry of the operator key {} is not an Ed25519 key",
                        k.keyid
                    ))
                })?;
                return Ok(Some((
                    OperatorKey {
                        public_key: k.clone(),
                        created: false,
                    },
                    SigningKey::from_bytes(&bytes),
                )));
            }
        }
        match keys.first() {
            Some(k) => Err(ConsoleError::NotFound(format!(
                "the operator key {} is trusted by this store but its private key is not in the keychain; restore it into the keychain (account `ed25519:{}`)",
                k.keyid, k.keyid
            ))),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use gavel_store::BreakKind;

    use super::*;
    use crate::{Keychain, MemoryKeychain};

    async fn console() -> (tempfile::TempDir, Console, Arc<MemoryKeychain>) {
        let dir = tempfile::tempdir().unwrap();
        let kc = Arc::new(MemoryKeychain::default());
        let c = Console::open(dir.path(), kc.clone()).await.unwrap();
        (dir, c, kc)
    }

    async fn log(c: &Console) -> Vec<AuditEntry> {
        c.store.audit_page(0, 1_000_000).await.unwrap()
    }

    fn sign_checkpoint(key: &SigningKey, payload: serde_json::Value) -> String {
        gavel_trust::sign_dsse(CHECKPOINT_TYPE, &payload, &[key])
            .unwrap()
            .to_string()
    }

    fn times() -> (String, String) {
        let now = jiff::Timestamp::now().as_second();
        let t = |s| gavel_trust::rfc3339(jiff::Timestamp::from_second(s).unwrap());
        (t(now - 60), t(now + 3600))
    }

    #[tokio::test]
    async fn a_checkpoint_is_signed_by_the_operator_key_made_once_and_audited() {
        let (_dir, c, kc) = console().await;
        c.generate_identity("alice", "a@example.com", None, None)
            .await
            .unwrap();
        let first = c.audit_checkpoint().await.unwrap();
        assert!(first.operator_key_created);
        assert_eq!(
            first.seq, 2,
            "the checkpoint names the newest entry before it: the operator key's creation"
        );
        let operator = c.operator_key().await.unwrap();
        assert!(!operator.created);
        assert_eq!(operator.public_key.keyid.0, first.keyid);
        assert_eq!(operator.public_key.name, "operator");
        assert_eq!(operator.public_key.roles, vec![Role::Operator]);
        assert!(
            kc.get(&key_account(&operator.public_key.keyid))
                .unwrap()
                .is_some()
        );
        let second = c.audit_checkpoint().await.unwrap();
        assert!(!second.operator_key_created);
        assert_eq!(second.keyid, first.keyid);
        let actions: Vec<String> = log(&c).await.into_iter().map(|e| e.action).collect();
        assert_eq!(
            actions,
            [
                "identity.create",
                "key.operator",
                "audit.checkpoint",
                "audit.checkpoint"
            ]
        );
        assert_eq!(second.seq, 3);
        let v = c
            .audit_verify(Some(&second.envelope.to_string()))
            .await
            .unwrap();
        assert!(v.valid, "{v:?}");
        assert_eq!(v.entries, 4);
        let check = v.checkpoint.unwrap();
        assert_eq!(
            (check.seq, check.signed_by),
            (Some(3), vec![first.keyid.clone()])
        );
        // The operator key signs checkpoints, nothing a person signs.
        let listed = c.list_keys().await.unwrap();
        let op = listed.iter().find(|k| k.keyid == first.keyid).unwrap();
        assert!(!op.identity);
        assert_eq!(c.acting_identity(None).await.unwrap().name, "alice");
    }

    #[tokio::test]
    async fn a_checkpoint_without_an_identity_is_refused_and_changes_nothing() {
        let (_dir, c, _kc) = console().await;
        let err = c.audit_checkpoint().await.unwrap_err();
        assert!(err.is_refusal(), "{err}");
        assert!(log(&c).await.is_empty());
        assert!(c.trusted_keys().await.unwrap().is_empty());
        // So the first identity is still the bootstrap.
        let first = c
            .generate_identity("alice", "a@example.com", None, None)
            .await
            .unwrap();
        assert!(first.bootstrap);
    }

    #[tokio::test]
    async fn a_checkpoint_beyond_the_log_shows_truncation() {
        let (_dir, c, kc) = console().await;
        c.generate_identity("alice", "a@example.com", None, None)
            .await
            .unwrap();
        let cp = c.audit_checkpoint().await.unwrap();
        let account = key_account(&gavel_trust::KeyId(cp.keyid.clone()));
        let seed: [u8; 32] = kc
            .get(&account)
            .unwrap()
            .unwrap()
            .expose()
            .as_slice()
            .try_into()
            .unwrap();
        let operator = SigningKey::from_bytes(&seed);
        let (issued, expires) = times();
        // As if entries 4 to 7 had been written, checkpointed, then cut.
        let ahead = sign_checkpoint(
            &operator,
            serde_json::json!({"seq": 7, "hash": "ab".repeat(32), "at": cp.at,
                "issued_at": issued, "expires_at": expires}),
        );
        let v = c.audit_verify(Some(&ahead)).await.unwrap();
        assert!(!v.valid);
        let bad = v.first_bad.unwrap();
        assert_eq!(
            (bad.seq, bad.kind),
            (4, BreakKind::Truncated),
            "{}",
            bad.message
        );
        assert!(
            c.audit_verify(None).await.unwrap().valid,
            "undetectable without it"
        );
        // The entry at the checkpoint's seq with another hash.
        let other = sign_checkpoint(
            &operator,
            serde_json::json!({"seq": 1, "hash": "ab".repeat(32), "at": cp.at,
                "issued_at": issued, "expires_at": expires}),
        );
        let bad = c
            .audit_verify(Some(&other))
            .await
            .unwrap()
            .first_bad
            .unwrap();
        assert_eq!((bad.seq, bad.kind), (1, BreakKind::Truncated));
    }

    #[tokio::test]
    async fn a_checkpoint_not_signed_by_the_operator_key_is_refused() {
        let (_dir, c, _kc) = console().await;
        c.generate_identity("alice", "a@example.com", None, None)
            .await
            .unwrap();
        let good = c.audit_checkpoint().await.unwrap();
        let (_, alice) = c.signing_key(None).await.unwrap();
        let (issued, expires) = times();
        let payload = serde_json::json!({"seq": good.seq, "hash": good.hash, "at": good.at,
            "issued_at": issued, "expires_at": expires});
        let cases = [
            (sign_checkpoint(&alice, payload.clone()), Reason::UnknownKey),
            (
                sign_checkpoint(&SigningKey::from_bytes(&[9; 32]), payload.clone()),
                Reason::UnknownKey,
            ),
            (
                gavel_trust::sign_dsse(PAYLOAD_REVIEW, &payload, &[&alice])
                    .unwrap()
                    .to_string(),
                Reason::UnknownKey,
            ),
            (
                {
                    let mut env = good.envelope.clone();
                    env["payload"] = base64_of(&serde_json::json!({"seq": 1}));
                    env.to_string()
                },
                Reason::BadSignature,
            ),
        ];
        for (doc, reason) in cases {
            let v = c.audit_verify(Some(&doc)).await.unwrap();
            assert!(!v.valid);
            let check = v.checkpoint.unwrap();
            assert_eq!(
                (check.valid, check.reason),
                (false, Some(reason)),
                "{}",
                check.message
            );
            assert_eq!(check.seq, None, "an unverified payload is not read");
        }
        assert!(matches!(
            c.audit_verify(Some("not json")).await,
            Err(ConsoleError::Invalid(_))
        ));
    }

    const PAYLOAD_REVIEW: &str = "application/vnd.gavel.review.v1+json";

    fn base64_of(v: &serde_json::Value) -> serde_json::Value {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .encode(v.to_string())
            .into()
    }

    /// Two consoles on one store making the operator key at once end with
    /// one operator key.
    #[tokio::test]
    async fn the_operator_key_is_made_once_under_a_race() {
        let dir = tempfile::tempdir().unwrap();
        let kc = Arc::new(MemoryKeychain::default());
        let a = Console::open(dir.path(), kc.clone()).await.unwrap();
        let b = Console::open(dir.path(), kc.clone()).await.unwrap();
        let (x, y) = tokio::join!(a.operator_key(), b.operator_key());
        let (x, y) = (x.unwrap(), y.unwrap());
        assert_eq!(x.public_key.keyid, y.public_key.keyid);
        assert_eq!(a.store.operator_keys().await.unwrap().len(), 1);
        let made: Vec<_> = log(&a)
            .await
            .into_iter()
            .filter(|e| e.action == "key.operator")
            .collect();
        assert_eq!(made.len(), 1);
    }

    #[tokio::test]
    async fn export_writes_exactly_the_stored_entries_one_a_line() {
        let (_dir, c, _kc) = console().await;
        for name in ["alice", "bob", "carol"] {
            c.generate_identity(name, "x@example.com", None, Some("alice"))
                .await
                .unwrap();
        }
        let mut out = Vec::new();
        let done = c.audit_export(&mut out).await.unwrap();
        assert_eq!((done.entries, done.last_seq), (3, 3));
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<AuditEntry> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines, log(&c).await);
        let keys: Vec<String> = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(
            text.lines().next().unwrap(),
        )
        .unwrap()
        .keys()
        .cloned()
        .collect();
        let mut expected = [
            "seq",
            "at",
            "actor",
            "action",
            "subject",
            "details",
            "prev_hash",
            "hash",
        ];
        expected.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, expected);
    }

    #[tokio::test]
    async fn list_refuses_a_bad_limit_or_time_and_filters() {
        let (_dir, c, _kc) = console().await;
        c.generate_identity("alice", "a@example.com", None, None)
            .await
            .unwrap();
        c.generate_identity("bob", "b@example.com", None, Some("alice"))
            .await
            .unwrap();
        for q in [
            AuditQuery {
                limit: Some(0),
                ..AuditQuery::default()
            },
            AuditQuery {
                limit: Some(MAX_LIST_LIMIT + 1),
                ..AuditQuery::default()
            },
            AuditQuery {
                since: Some("yesterday".into()),
                ..AuditQuery::default()
            },
            AuditQuery {
                until: Some("2026-13-01".into()),
                ..AuditQuery::default()
            },
        ] {
            assert!(matches!(
                c.audit_list(q).await,
                Err(ConsoleError::Invalid(_))
            ));
        }
        let all = c.audit_list(AuditQuery::default()).await.unwrap();
        assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 1]);
        let bob = c
            .audit_list(AuditQuery {
                subject: Some("bob".into()),
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(bob.len(), 1);
        let future = c
            .audit_list(AuditQuery {
                since: Some("2999-01-01".into()),
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert!(future.is_empty());
        let past = c
            .audit_list(AuditQuery {
                since: Some("2000-01-01T00:00:00+02:00".into()),
                ..AuditQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(past.len(), 2);
    }
}
