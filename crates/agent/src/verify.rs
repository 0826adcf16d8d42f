//! What the agent accepts (DESIGN §8, §11.11), as pure functions of the
//! documents it fetched, its trusted keys and the clock: a rollout document
//! signed by a trusted operator key, for this bundle and environment, newer
//! than the one serving and not expired; each version it names by digest,
//! with its bundle bytes hashing to that digest, and approved by
//! max(quorum, the version's `approvals_required`) distinct trusted
//! approver keys for that digest and environment, valid at the version's
//! `activated_at`. Each refusal has a code and says why.

use std::collections::BTreeSet;

use gavel_trust::{PayloadKind, PublicKey, Role, VerifyOptions};
use serde_json::Value;

/// Why something fetched was not loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Refusal {
    /// `bad_signature`, `untrusted`, `wrong_target`, `lower_serial`,
    /// `expired`, `digest_mismatch`, `not_named`, `too_few_approvals`,
    /// `invalid_bundle`, `malformed`, `registry`.
    pub code: &'static str,
    pub message: String,
}

pub(crate) fn refuse(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

/// A version a rollout document names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub version: String,
    pub digest: String,
    pub activated_at: String,
    /// For the canary: its percent (1–99).
    pub percent: Option<u8>,
}

/// A verified rollout document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutDoc {
    pub serial: u64,
    pub issued_at: String,
    pub expires_at: String,
    pub stable: Named,
    pub canary: Option<Named>,
    pub envelope: Value,
}

fn verification_reason(v: &gavel_trust::Verification) -> &'static str {
    match v.reason {
        Some(gavel_trust::Reason::Expired) | Some(gavel_trust::Reason::NotYetValid) => "expired",
        Some(gavel_trust::Reason::UnknownKey) => "untrusted",
        Some(gavel_trust::Reason::BadSignature) => "bad_signature",
        _ => "malformed",
    }
}

fn named(v: &Value, what: &str, canary: bool) -> Result<Named, Refusal> {
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| refuse("malformed", format!("the {what} has no `{k}`")))
    };
    let percent = if canary {
        Some(
            v.get("percent")
                .and_then(Value::as_u64)
                .and_then(|p| u8::try_from(p).ok())
                .filter(|p| (1..=99).contains(p))
                .ok_or_else(|| refuse("malformed", "the canary's percent is not 1 to 99"))?,
        )
    } else {
        None
    };
    Ok(Named {
        version: s("version")?,
        digest: s("digest")?,
        activated_at: s("activated_at")?,
        percent,
    })
}

/// A rollout document: signed by a trusted operator key, valid `now`, for
/// `bundle` in `environment`, with a serial above `current` (the same
/// serial is accepted only as the very document serving, `Ok(None)`).
pub fn rollout(
    doc: &Value,
    trusted: &[PublicKey],
    bundle: &str,
    environment: &str,
    current: Option<(u64, &Value)>,
    now: jiff::Timestamp,
) -> Result<Option<RolloutDoc>, Refusal> {
    let v = gavel_trust::verify_by_owner(
        doc,
        &VerifyOptions {
            now,
            trusted,
            secret: None,
            expected_type: Some(PayloadKind::Rollout.media_type()),
        },
    );
    if !v.valid {
        return Err(refuse(
            verification_reason(&v),
            format!("rollout-{environment}: {}", v.message),
        ));
    }
    let p = v.payload.unwrap_or_default();
    let said = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default();
    if said("bundle") != bundle || said("environment") != environment {
        return Err(refuse(
            "wrong_target",
            format!(
                "the rollout document is for {} in {}, this agent serves {bundle} in {environment}",
                said("bundle"),
                said("environment")
            ),
        ));
    }
    let serial = p.get("serial").and_then(Value::as_u64).unwrap_or(0);
    if let Some((have, serving)) = current {
        if serial < have {
            return Err(refuse(
                "lower_serial",
                format!(
                    "serial {serial} is lower than the {have} serving (a rollback attack, or an old document)"
                ),
            ));
        }
        if serial == have {
            return if serving == doc {
                Ok(None)
            } else {
                Err(refuse(
                    "lower_serial",
                    format!(
                        "another document with serial {serial}, the serial serving: two documents cannot share one"
                    ),
                ))
            };
        }
    }
    let stable = named(
        p.get("stable").unwrap_or(&Value::Null),
        "stable version",
        false,
    )?;
    let canary = match p.get("canary") {
        None | Some(Value::Null) => None,
        Some(c) => Some(named(c, "canary", true)?),
    };
    Ok(Some(RolloutDoc {
        serial,
        issued_at: v.issued_at.unwrap_or_default(),
        expires_at: v.expires_at.unwrap_or_default(),
        stable,
        canary,
        envelope: doc.clone(),
    }))
}

/// A version's bundle bytes and signature envelopes, checked: the bytes are
/// the canonical JSON whose digest the document names, and distinct
/// trusted approver keys approved that digest for `environment`, valid at
/// its `activated_at`, at least max(`quorum`, the bundle's
/// `approvals_required`). When an author key is trusted, the bundle
/// envelope must verify against one. Answers the compiled engine.
pub fn version(
    named: &Named,
    bundle_bytes: &[u8],
    envelopes: &[Value],
    trusted: &[PublicKey],
    quorum: u32,
    environment: &str,
) -> Result<gavel_policy::Engine, Refusal> {
    let text = std::str::from_utf8(bundle_bytes)
        .map_err(|_| refuse("invalid_bundle", format!("{} is not UTF-8", named.version)))?;
    let json: Value = serde_json::from_str(text).map_err(|e| {
        refuse(
            "invalid_bundle",
            format!("{} is not JSON: {e}", named.version),
        )
    })?;
    let digest = gavel_trust::bundle_digest(&json)
        .map_err(|e| refuse("invalid_bundle", e.to_string()))?
        .to_string();
    if digest != named.digest {
        return Err(refuse(
            "digest_mismatch",
            format!(
                "{} has digest {digest}, the rollout document names {}",
                named.version, named.digest
            ),
        ));
    }
    let bundle = gavel_policy::parse_bundle(text, gavel_policy::Format::Json)
        .map_err(|e| refuse("invalid_bundle", format!("{}: {e}", named.version)))?;
    let at: jiff::Timestamp = named.activated_at.parse().map_err(|_| {
        refuse(
            "malformed",
            format!("`activated_at` of {} is not a time", named.version),
        )
    })?;
    let opts = VerifyOptions {
        now: at,
        trusted,
        secret: None,
        expected_type: None,
    };
    let mut approvers = BTreeSet::new();
    let mut author_signed = false;
    let mut first_problem: Option<String> = None;
    for e in envelopes {
        let v = gavel_trust::verify_by_owner(e, &opts);
        if !v.valid {
            first_problem.get_or_insert(v.message);
            continue;
        }
        let p = v.payload.unwrap_or_default();
        let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or_default();
        match v.payload_type.as_deref() {
            Some(t) if t == PayloadKind::Bundle.media_type() && s("digest") == named.digest => {
                author_signed = true;
            }
            Some(t) if t == PayloadKind::Approval.media_type() => {
                if s("digest") != named.digest {
                    continue;
                }
                if s("environment") != environment {
                    first_problem.get_or_insert(format!(
                        "an approval by {} is for {}, not {environment}",
                        s("approver"),
                        s("environment")
                    ));
                    continue;
                }
                if s("decision") != "approve" {
                    continue;
                }
                approvers.extend(
                    v.signers
                        .iter()
                        .filter(|k| k.roles.contains(&Role::Approver))
                        .map(|k| k.keyid.clone()),
                );
            }
            _ => {}
        }
    }
    let engine = gavel_policy::Engine::compile(&bundle);
    let required = engine
        .rules()
        .iter()
        .map(gavel_policy::CompiledRule::approvals_required)
        .max()
        .unwrap_or(0)
        .max(quorum);
    let have = u32::try_from(approvers.len()).unwrap_or(u32::MAX);
    if have < required {
        let why = first_problem
            .map(|p| format!(" (set aside: {p})"))
            .unwrap_or_default();
        return Err(refuse(
            "too_few_approvals",
            format!(
                "{} has {have} approval(s) for {environment} from distinct trusted approver keys, {required} needed{why}",
                named.version
            ),
        ));
    }
    if trusted.iter().any(|k| k.has_role(Role::Author)) && !author_signed {
        return Err(refuse(
            "untrusted",
            format!(
                "{} has no bundle envelope signed by a trusted author key",
                named.version
            ),
        ));
    }
    Ok(engine)
}

/// The canary bucket of §11.11: the first 8 bytes of SHA-256(bundle ‖ 0x00
/// ‖ key) as a big-endian `u64`, modulo 10,000.
pub fn bucket(bundle: &str, key: &str) -> u16 {
    use sha2::{Digest as _, Sha256};
    let mut h = Sha256::new();
    h.update(bundle.as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u16::try_from(u64::from_be_bytes(first) % 10_000).unwrap_or(0)
}

/// Whether a request with `subject` (or, without one, `request_id`) goes
/// to a canary at `percent`: stable when it has neither.
pub fn to_canary(
    bundle: &str,
    subject: Option<&str>,
    request_id: Option<&str>,
    percent: u8,
) -> bool {
    match subject.or(request_id) {
        Some(key) => bucket(bundle, key) < u16::from(percent) * 100,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_the_design_formula() {
        use sha2::{Digest as _, Sha256};
        let d = Sha256::digest(b"inbox-triage\0user-42");
        let n = u64::from_be_bytes(d[..8].try_into().unwrap()) % 10_000;
        assert_eq!(u64::from(bucket("inbox-triage", "user-42")), n);
        // Another bundle's canary reaches other subjects.
        let moved = (0..1000)
            .filter(|i| {
                let s = format!("s{i}");
                bucket("a", &s) != bucket("b", &s)
            })
            .count();
        assert!(moved > 990, "{moved}");
    }

    #[test]
    fn a_ten_percent_canary_takes_about_ten_percent_of_subjects() {
        let n = (0..10_000)
            .filter(|i| to_canary("inbox-triage", Some(&format!("subject-{i}")), None, 10))
            .count();
        assert!((850..=1150).contains(&n), "{n}");
        assert!(!to_canary("inbox-triage", None, None, 99));
        assert!(to_canary("inbox-triage", None, Some("r"), 100));
    }
}
