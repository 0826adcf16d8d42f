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
    use gavel_trust::ed25519::SigningKey;
    use serde_json::json;

    const INBOX: &str = include_str!("../../../fixtures/bundles/inbox-triage.yaml");
    const TWO: &str = include_str!("../../../fixtures/bundles/two-approver.yaml");

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn public(k: &SigningKey, name: &str, role: Role) -> PublicKey {
        PublicKey::new(&k.verifying_key(), name, "", vec![role])
    }

    fn t(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    fn sign(kind: PayloadKind, statement: &Value, at: &str, secs: i64, k: &[&SigningKey]) -> Value {
        let p = gavel_trust::stamp(kind, statement, t(at), secs).unwrap();
        gavel_trust::sign_dsse(kind.media_type(), &p, k).unwrap()
    }

    /// A rollout document for inbox-triage in prod, signed at noon for a day.
    fn doc(serial: u64, bundle: &str, env: &str, k: &SigningKey) -> Value {
        let stable = json!({"version": "1.0.0", "digest": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "activated_at": "2026-01-01T00:00:00Z"});
        sign(
            PayloadKind::Rollout,
            &json!({"bundle": bundle, "environment": env, "serial": serial, "stable": stable,
                    "canary": {"version": "1.1.0", "digest": "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                               "activated_at": "2026-01-01T00:00:00Z", "percent": 10}}),
            "2026-01-01T12:00:00Z",
            86_400,
            &[k],
        )
    }

    fn trusted() -> Vec<PublicKey> {
        vec![
            public(&key(1), "op", Role::Operator),
            public(&key(2), "ann", Role::Approver),
            public(&key(3), "bo", Role::Approver),
        ]
    }

    const NOW: &str = "2026-01-01T13:00:00Z";

    fn code(r: Result<Option<RolloutDoc>, Refusal>) -> &'static str {
        r.map(|_| "ok").unwrap_or_else(|e| e.code)
    }

    #[test]
    fn a_rollout_document_is_checked_for_key_time_target_and_serial() {
        let k = trusted();
        let good = doc(5, "inbox-triage", "prod", &key(1));
        let check = |d: &Value, current: Option<(u64, &Value)>, now: &str| {
            rollout(d, &k, "inbox-triage", "prod", current, t(now))
        };
        let r = check(&good, None, NOW).unwrap().unwrap();
        assert_eq!((r.serial, r.stable.version.as_str()), (5, "1.0.0"));
        assert_eq!(r.canary.as_ref().and_then(|c| c.percent), Some(10));
        assert_eq!(r.expires_at, "2026-01-02T12:00:00Z");
        // Keys: an approver's key, or no trusted key, is not an operator's.
        assert_eq!(
            code(check(&doc(5, "inbox-triage", "prod", &key(2)), None, NOW)),
            "untrusted"
        );
        assert_eq!(
            code(check(&doc(5, "inbox-triage", "prod", &key(9)), None, NOW)),
            "untrusted"
        );
        let mut forged = good.clone();
        forged["signatures"][0]["sig"] =
            doc(6, "inbox-triage", "prod", &key(1))["signatures"][0]["sig"].clone();
        assert_eq!(code(check(&forged, None, NOW)), "bad_signature");
        assert_eq!(code(check(&json!({"not": "dsse"}), None, NOW)), "malformed");
        // Time: expired, and not yet valid.
        assert_eq!(code(check(&good, None, "2026-01-02T12:00:01Z")), "expired");
        assert_eq!(code(check(&good, None, "2026-01-01T11:00:00Z")), "expired");
        // Target: another bundle or another environment.
        for (b, e) in [("other", "prod"), ("inbox-triage", "staging")] {
            let r = check(&doc(5, b, e, &key(1)), None, NOW).unwrap_err();
            assert_eq!(r.code, "wrong_target", "{b} {e}");
            assert!(
                r.message.contains(&format!("is for {b} in {e}")),
                "{}",
                r.message
            );
        }
        // Serial: lower refused; the same only as the very document serving.
        let four = doc(4, "inbox-triage", "prod", &key(1));
        assert_eq!(code(check(&good, Some((6, &four)), NOW)), "lower_serial");
        assert!(check(&good, Some((5, &good)), NOW).unwrap().is_none());
        assert_eq!(code(check(&good, Some((5, &four)), NOW)), "lower_serial");
        assert_eq!(
            check(&good, Some((4, &four)), NOW).unwrap().unwrap().serial,
            5
        );
    }

    struct Version {
        named: Named,
        bytes: Vec<u8>,
        json: Value,
    }

    fn version_of(yaml: &str) -> Version {
        let json = gavel_policy::parse_document(yaml, gavel_policy::Format::Yaml)
            .unwrap()
            .to_json();
        Version {
            named: Named {
                version: "1.0.0".into(),
                digest: gavel_trust::bundle_digest(&json).unwrap().to_string(),
                activated_at: "2026-01-01T12:00:00Z".into(),
                percent: None,
            },
            bytes: gavel_trust::canonicalize(&json).unwrap().into_bytes(),
            json,
        }
    }

    /// The name a test key goes by (a payload names its own signer).
    fn name(k: &SigningKey) -> &'static str {
        match k.to_bytes()[0] {
            2 => "ann",
            3 => "bo",
            4 => "ops",
            _ => "eve",
        }
    }

    fn approval(digest: &str, env: &str, decision: &str, at: &str, k: &SigningKey) -> Value {
        sign(
            PayloadKind::Approval,
            &json!({"digest": digest, "base_digest": null, "version": "1.0.0", "environment": env,
                    "decision": decision, "comment": "", "approver": name(k), "roles": ["approver"],
                    "evidence": {"lint": {}, "impact": {"allow_to_deny": 0, "deny_to_allow": 0, "other": 0}}}),
            at,
            86_400,
            &[k],
        )
    }

    /// The bundle envelope of `v`, signed by `k` as "al".
    fn authored(v: &Version, k: &SigningKey) -> Value {
        sign(
            PayloadKind::Bundle,
            &json!({"digest": v.named.digest, "name": "inbox-triage", "version": "1.0.0",
                    "author": "al", "bundle": v.json}),
            "2026-01-01T00:00:00Z",
            86_400,
            &[k],
        )
    }

    #[test]
    fn a_version_needs_its_digest_and_a_quorum_of_approvals_for_its_environment() {
        let v = version_of(INBOX);
        let d = v.named.digest.as_str();
        let k = trusted();
        let at = "2026-01-01T06:00:00Z";
        let check = |envelopes: &[Value], quorum: u32| {
            version(&v.named, &v.bytes, envelopes, &k, quorum, "prod")
                .map(|_| "ok")
                .unwrap_or_else(|e| e.code)
        };
        let ann = approval(d, "prod", "approve", at, &key(2));
        let bo = approval(d, "prod", "approve", at, &key(3));
        assert_eq!(check(std::slice::from_ref(&ann), 1), "ok");
        assert_eq!(check(std::slice::from_ref(&ann), 0), "ok");
        assert_eq!(
            check(&[], 0),
            "too_few_approvals",
            "its needs_approval rules ask one"
        );
        assert_eq!(check(&[], 1), "too_few_approvals");
        assert_eq!(check(&[ann.clone(), bo.clone()], 2), "ok");
        assert_eq!(
            check(&[ann.clone(), ann.clone()], 2),
            "too_few_approvals",
            "one key twice"
        );
        assert_eq!(check(&[ann.clone(), bo.clone()], 3), "too_few_approvals");
        // Not counted: another digest, a rejection, another environment,
        // a key that is not an approver's, one not trusted, a rollout.
        let other = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
        assert_eq!(
            check(
                &[approval(other, "prod", "approve", at, &key(3)), ann.clone()],
                2
            ),
            "too_few_approvals"
        );
        assert_eq!(
            check(
                &[approval(d, "prod", "reject", at, &key(3)), ann.clone()],
                2
            ),
            "too_few_approvals"
        );
        let staging = version(
            &v.named,
            &v.bytes,
            &[approval(d, "staging", "approve", at, &key(3)), ann.clone()],
            &k,
            2,
            "prod",
        )
        .unwrap_err();
        assert_eq!(staging.code, "too_few_approvals");
        assert!(
            staging.message.contains("is for staging, not prod"),
            "{}",
            staging.message
        );
        assert!(
            staging.message.contains("has 1 approval(s) for prod"),
            "{}",
            staging.message
        );
        let mut k_op = k.clone();
        k_op.push(public(&key(4), "ops", Role::Operator));
        let by_operator = version(
            &v.named,
            &v.bytes,
            &[approval(d, "prod", "approve", at, &key(4)), ann.clone()],
            &k_op,
            2,
            "prod",
        );
        assert_eq!(
            by_operator.map(|_| "ok").unwrap_or_else(|e| e.code),
            "too_few_approvals"
        );
        assert_eq!(
            check(
                &[approval(d, "prod", "approve", at, &key(9)), ann.clone()],
                2
            ),
            "too_few_approvals"
        );
        assert_eq!(
            check(&[doc(1, "inbox-triage", "prod", &key(1)), ann.clone()], 2),
            "too_few_approvals"
        );
        // Valid at `activated_at`, not now: signed a day before, expired at
        // activation; signed after activation (past the minute of clock
        // skew allowed), not yet valid then.
        assert_eq!(
            check(
                &[
                    approval(d, "prod", "approve", "2025-12-30T12:00:00Z", &key(3)),
                    ann.clone()
                ],
                2
            ),
            "too_few_approvals"
        );
        assert_eq!(
            check(
                &[
                    approval(d, "prod", "approve", "2026-01-01T12:01:01Z", &key(3)),
                    ann.clone()
                ],
                2
            ),
            "too_few_approvals"
        );
        assert_eq!(
            check(
                &[
                    approval(d, "prod", "approve", "2026-01-01T00:00:00Z", &key(3)),
                    ann.clone()
                ],
                2
            ),
            "ok"
        );
        // The bytes must be the digest named.
        let mut named = v.named.clone();
        named.digest = other.into();
        let e = version(&named, &v.bytes, std::slice::from_ref(&ann), &k, 1, "prod").unwrap_err();
        assert_eq!(e.code, "digest_mismatch");
        assert_eq!(
            version(
                &v.named,
                &[0xff, 0xfe],
                std::slice::from_ref(&ann),
                &k,
                1,
                "prod"
            )
            .unwrap_err()
            .code,
            "invalid_bundle"
        );
    }

    /// Regression (found by the `envelope` fuzz target): a bundle holding
    /// an integral float past 2^53 (`1e16`) was pushed as canonical JSON,
    /// which writes it `10000000000000000`; read back, that integer had
    /// no digest and was no valid bundle, so the agent refused the version
    /// as `invalid_bundle`.
    #[test]
    fn a_bundle_with_a_large_integral_float_loads_from_its_canonical_bytes() {
        let v = version_of(&INBOX.replace(
            "conditions: {\">=risk_score\": 90",
            "conditions: {\"<=risk_score\": 1e16, \">=risk_score\": 90",
        ));
        assert!(
            String::from_utf8_lossy(&v.bytes).contains("10000000000000000"),
            "the fixture changed: the condition is gone"
        );
        let ann = approval(
            &v.named.digest,
            "prod",
            "approve",
            "2026-01-01T06:00:00Z",
            &key(2),
        );
        let loaded = version(&v.named, &v.bytes, &[ann], &trusted(), 1, "prod");
        assert!(loaded.is_ok(), "{:?}", loaded.err());
    }

    #[test]
    fn a_bundle_asking_two_approvals_gets_them_and_an_author_key_is_enforced() {
        let v = version_of(TWO);
        let d = v.named.digest.as_str();
        let at = "2026-01-01T06:00:00Z";
        let ann = approval(d, "prod", "approve", at, &key(2));
        let bo = approval(d, "prod", "approve", at, &key(3));
        let check = |envelopes: &[Value], k: &[PublicKey]| {
            version(&v.named, &v.bytes, envelopes, k, 1, "prod")
                .map(|_| "ok")
                .unwrap_or_else(|e| e.code)
        };
        let k = trusted();
        assert_eq!(
            check(std::slice::from_ref(&ann), &k),
            "too_few_approvals",
            "the bundle asks 2"
        );
        assert_eq!(check(&[ann.clone(), bo.clone()], &k), "ok");
        // With an author key trusted, the bundle envelope must be there,
        // for this digest, by that key.
        let mut with_author = k.clone();
        with_author.push(public(&key(5), "al", Role::Author));
        assert_eq!(check(&[ann.clone(), bo.clone()], &with_author), "untrusted");
        assert_eq!(
            check(
                &[
                    ann.clone(),
                    bo.clone(),
                    authored(&version_of(INBOX), &key(5))
                ],
                &with_author
            ),
            "untrusted"
        );
        assert_eq!(
            check(
                &[ann.clone(), bo.clone(), authored(&v, &key(6))],
                &with_author
            ),
            "untrusted"
        );
        assert_eq!(
            check(
                &[ann.clone(), bo.clone(), authored(&v, &key(5))],
                &with_author
            ),
            "ok"
        );
    }

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
        // A subject whose bucket is exactly the bound stays on stable.
        let edge = (0..1_000_000)
            .map(|i| format!("s{i}"))
            .find(|s| bucket("inbox-triage", s) == 1_000)
            .unwrap();
        assert!(!to_canary("inbox-triage", Some(&edge), None, 10));
        assert!(to_canary("inbox-triage", Some(&edge), None, 11));
    }
}
