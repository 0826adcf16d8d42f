//! Integration tests of `gavel-trust`: the Python-made legacy vectors,
//! tamper tests over every byte, moved signatures, edited expiry, and bad
//! input; `payloads` checks what each payload type must hold and who signs
//! it, `rules` each verification rule at its edges, `signers` the signing
//! rule of `verify_by_owner`.

mod payloads;
mod rules;
mod signers;

use base64::Engine as _;
use ed25519_dalek::SigningKey;
use gavel_trust::{
    Format, PayloadKind, PublicKey, Reason, Role, Sensitive, Verification, VerifyOptions,
    bundle_digest, bundle_payload, bundle_statement, legacy_export, legacy_override, python_dumps,
    sign_dsse, team_export, verify,
};
use serde_json::{Value, json};

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn now() -> jiff::Timestamp {
    "2026-11-23T15:00:00Z".parse().unwrap()
}

pub(crate) fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// A small bare-list bundle.
pub(crate) fn small_bundle() -> Value {
    json!([{"id": "allow-small-reindex", "agent": "knowledge.search", "action": "reindex", "effect": "allow", "reason": "Small reindex jobs are safe"}])
}

pub(crate) fn digest(bundle: &Value) -> String {
    bundle_digest(bundle).unwrap().to_string()
}

/// A well-formed statement of each kind, signed by `alice`, without times.
pub(crate) fn statement(kind: PayloadKind) -> Value {
    let bundle = small_bundle();
    let d = digest(&bundle);
    let other = format!("sha256:{}", "ab".repeat(32));
    match kind {
        PayloadKind::Bundle => bundle_statement(&bundle, "alice").unwrap(),
        PayloadKind::Approval => json!({
            "digest": d, "base_digest": null, "version": "1.0.0", "environment": "prod",
            "decision": "approve", "comment": "", "approver": "alice", "roles": ["approver"],
            "evidence": {"lint": {"errors": 0, "warnings": 1}, "impact": {"allow_to_deny": 0, "deny_to_allow": 1, "other": 2}},
        }),
        PayloadKind::Override => json!({
            "id": "ovr-1", "workflow_id": "wf-42",
            "flags": {"bypass_micro_pilot": false, "forced_verdict": "promote"},
            "reason": "Board approved the launch", "issued_by": "alice",
        }),
        PayloadKind::Rollout => json!({
            "bundle": "inbox-agents", "environment": "prod", "serial": 3,
            "stable": {"version": "1.0.0", "digest": d, "activated_at": "2026-11-01T00:00:00Z"},
            "canary": {"version": "1.1.0", "digest": other, "percent": 10, "activated_at": "2026-11-20T00:00:00Z"},
        }),
        PayloadKind::Trust => json!({
            "version": 2, "quorum": 1,
            "keys": [{"keyid": "0123456789abcdef", "algorithm": "ed25519", "public_key": "", "name": "alice", "roles": ["security"]}],
        }),
        PayloadKind::Review => json!({
            "bundle": "inbox-agents", "base": null,
            "proposed": {"version": "1.0.0", "digest": d, "bundle": bundle},
            "diff": {"added": ["allow-small-reindex"]}, "simulation": {"total_cases": 9}, "signatures": [],
        }),
    }
}

/// A well-formed payload of `kind`, valid from `issued` until `expires`.
pub(crate) fn payload(kind: PayloadKind, issued: &str, expires: &str) -> Value {
    let mut p = statement(kind);
    p["issued_at"] = issued.into();
    p["expires_at"] = expires.into();
    p
}

/// A well-formed review payload valid around `now()`.
pub(crate) fn review() -> Value {
    payload(
        PayloadKind::Review,
        "2026-11-23T00:00:00Z",
        "2026-12-23T00:00:00Z",
    )
}

pub(crate) fn public(k: &SigningKey, name: &str, roles: Vec<Role>) -> PublicKey {
    PublicKey::new(
        &k.verifying_key(),
        name,
        &format!("{name}@example.com"),
        roles,
    )
}

pub(crate) fn check(
    doc: &Value,
    trusted: &[PublicKey],
    secret: Option<&Sensitive<Vec<u8>>>,
) -> Verification {
    verify(
        doc,
        &VerifyOptions {
            now: now(),
            trusted,
            secret,
            expected_type: None,
        },
    )
}

/// Verifies file text the way `gavel verify` does: text that is not JSON is
/// rejected before verification.
fn accepted(text: &[u8], trusted: &[PublicKey], secret: Option<&Sensitive<Vec<u8>>>) -> bool {
    match serde_json::from_slice::<Value>(text) {
        Ok(doc) => check(&doc, trusted, secret).valid,
        Err(_) => false,
    }
}

fn signed_bundle() -> (Value, PublicKey) {
    let text = std::fs::read_to_string(root().join("fixtures/bundles/budgets.json")).unwrap();
    let bundle: Value = serde_json::from_str(&text).unwrap();
    let author = key(1);
    let payload = bundle_payload(
        &bundle,
        "alice",
        "2026-11-01T00:00:00Z".parse().unwrap(),
        "2027-11-01T00:00:00Z".parse().unwrap(),
    )
    .unwrap();
    let env = sign_dsse("application/vnd.gavel.bundle.v1+json", &payload, &[&author]).unwrap();
    (env, public(&author, "alice", vec![Role::Author]))
}

#[test]
fn python_legacy_vectors() {
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/vectors/legacy_vectors.json")).unwrap(),
    )
    .unwrap();
    let secret = Sensitive::new(file["secret"].as_str().unwrap().as_bytes().to_vec());
    for v in file["vectors"].as_array().unwrap() {
        let value = &v["value"];
        let (doc, dumps) = match v["kind"].as_str().unwrap() {
            "export" => (
                legacy_export(
                    value,
                    "2026-11-01T00:00:00",
                    "2099-01-01T00:00:00.5",
                    &secret,
                ),
                python_dumps(value, ", ", ": "),
            ),
            _ => (
                legacy_override(value, &secret),
                python_dumps(value, ",", ":"),
            ),
        };
        assert_eq!(dumps, v["dumps"].as_str().unwrap(), "json.dumps differs");
        assert_eq!(
            doc["signature"], v["signature"],
            "HMAC differs for {}",
            v["dumps"]
        );
        let r = check(&doc, &[], Some(&secret));
        assert!(r.valid && r.legacy && !r.expiry_covered, "{r:?}");
    }
}

#[test]
fn every_byte_of_a_signed_bundle_envelope_matters() {
    let (env, alice) = signed_bundle();
    let text = serde_json::to_vec(&env).unwrap();
    let trusted = [alice];
    assert!(accepted(&text, &trusted, None));
    for i in 0..text.len() {
        let mut t = text.clone();
        t[i] ^= 0x01;
        assert!(
            !accepted(&t, &trusted, None),
            "a change at byte {i} was accepted"
        );
    }
}

#[test]
fn every_byte_of_a_decoded_payload_matters() {
    let (env, alice) = signed_bundle();
    let payload = base64::engine::general_purpose::STANDARD
        .decode(env["payload"].as_str().unwrap())
        .unwrap();
    let trusted = [alice];
    for i in 0..payload.len() {
        let mut p = payload.clone();
        p[i] ^= 0x20;
        let mut e = env.clone();
        e["payload"] = base64::engine::general_purpose::STANDARD.encode(&p).into();
        let r = check(&e, &trusted, None);
        assert!(!r.valid, "a payload change at byte {i} was accepted");
        assert_eq!(r.reason, Some(Reason::BadSignature));
    }
}

#[test]
fn every_byte_of_an_override_envelope_matters() {
    let security = key(3);
    let payload = json!({
        "id": "ovr-1", "workflow_id": "wf-42", "flags": {"bypass_micro_pilot": false, "forced_verdict": "promote"},
        "reason": "Board approved the launch", "issued_by": "sam",
        "issued_at": "2026-11-23T14:00:00Z", "expires_at": "2026-11-24T14:00:00Z",
    });
    let env = sign_dsse(
        "application/vnd.gavel.override.v1+json",
        &payload,
        &[&security],
    )
    .unwrap();
    let trusted = [public(&security, "sam", vec![Role::Security])];
    let text = serde_json::to_vec(&env).unwrap();
    assert!(accepted(&text, &trusted, None));
    for i in 0..text.len() {
        let mut t = text.clone();
        t[i] ^= 0x01;
        assert!(
            !accepted(&t, &trusted, None),
            "a change at byte {i} was accepted"
        );
    }
}

#[test]
fn every_covered_byte_of_a_legacy_export_matters() {
    let secret = Sensitive::new(b"shared".to_vec());
    let bundle = json!([{"id": "abc", "agent": "inbox.triage", "action": "quarantine", "effect": "allow", "reason": "Quarantine phishing", "priority": 80}]);
    let doc = legacy_export(
        &bundle,
        "2026-11-01T00:00:00",
        "2099-01-01T00:00:00",
        &secret,
    );
    let text = serde_json::to_string(&doc).unwrap();
    assert!(accepted(text.as_bytes(), &[], Some(&secret)));
    // The MAC covers `bundle` and is `signature`: change each of their bytes.
    let ranges: Vec<(usize, usize)> = ["\"bundle\":", "\"signature\":"]
        .iter()
        .map(|k| {
            let start = text.find(k).unwrap() + k.len();
            let value_len = if *k == "\"bundle\":" {
                serde_json::to_string(&bundle).unwrap().len()
            } else {
                66
            };
            (start, start + value_len)
        })
        .collect();
    for (start, end) in ranges {
        for i in start..end {
            let mut t = text.clone().into_bytes();
            t[i] ^= 0x01;
            assert!(
                !accepted(&t, &[], Some(&secret)),
                "a change at byte {i} ({:?}) was accepted",
                &text[start..end]
            );
        }
    }
    let r = check(&doc, &[], Some(&secret));
    assert_eq!(
        (r.format, r.legacy, r.expiry_covered),
        (Format::LegacyExport, true, false)
    );
    assert!(
        r.message.contains("not `exported_at`, `expires_at`"),
        "{}",
        r.message
    );
}

#[test]
fn a_signature_moved_to_another_payload_is_rejected() {
    let k = key(5);
    let trusted = [public(&k, "alice", vec![Role::Approver])];
    let times = payload(
        PayloadKind::Approval,
        "2026-11-23T00:00:00Z",
        "2026-12-23T00:00:00Z",
    );
    let mut a = times.clone();
    a["decision"] = "approve".into();
    let mut b = times.clone();
    b["decision"] = "reject".into();
    let ea = sign_dsse("application/vnd.gavel.approval.v1+json", &a, &[&k]).unwrap();
    let mut eb = sign_dsse("application/vnd.gavel.approval.v1+json", &b, &[&k]).unwrap();
    eb["signatures"] = ea["signatures"].clone();
    let r = check(&eb, &trusted, None);
    assert_eq!((r.valid, r.reason), (false, Some(Reason::BadSignature)));
    // Nor onto another payload type with the same bytes.
    let mut ec = ea.clone();
    ec["payloadType"] = "application/vnd.gavel.review.v1+json".into();
    assert_eq!(
        check(&ec, &trusted, None).reason,
        Some(Reason::BadSignature)
    );
}

#[test]
fn expiry_is_enforced_and_covered() {
    let k = key(6);
    let trusted = [public(&k, "alice", vec![Role::Author])];
    let expired = payload(
        PayloadKind::Review,
        "2026-01-01T00:00:00Z",
        "2026-02-01T00:00:00Z",
    );
    let env = sign_dsse("application/vnd.gavel.review.v1+json", &expired, &[&k]).unwrap();
    assert_eq!(check(&env, &trusted, None).reason, Some(Reason::Expired));
    // Editing the expiry inside the signed payload breaks the signature.
    let mut edited = expired.clone();
    edited["expires_at"] = "2099-01-01T00:00:00Z".into();
    let mut e = env.clone();
    e["payload"] = base64::engine::general_purpose::STANDARD
        .encode(serde_json::to_vec(&edited).unwrap())
        .into();
    assert_eq!(check(&e, &trusted, None).reason, Some(Reason::BadSignature));
    // The team export covers its expiry with the MAC.
    let secret = Sensitive::new(b"team".to_vec());
    let t = team_export(
        "application/vnd.gavel.review.v1+json",
        &serde_json::to_vec(&expired).unwrap(),
        "2026-01-01T00:00:00Z".parse().unwrap(),
        "2026-02-01T00:00:00Z".parse().unwrap(),
        "team",
        &secret,
    )
    .unwrap();
    assert_eq!(check(&t, &[], Some(&secret)).reason, Some(Reason::Expired));
    let mut t2 = t.clone();
    t2["expires_at"] = "2099-01-01T00:00:00Z".into();
    assert_eq!(
        check(&t2, &[], Some(&secret)).reason,
        Some(Reason::BadSignature)
    );
    // A legacy export's expiry is checked but not covered, and says so.
    let legacy = legacy_export(
        &json!([]),
        "2026-01-01T00:00:00",
        "2026-02-01T00:00:00",
        &secret,
    );
    let r = check(&legacy, &[], Some(&secret));
    assert_eq!(
        (r.reason, r.expiry_covered),
        (Some(Reason::Expired), false),
        "{}",
        r.message
    );
    assert!(r.message.contains("not covered"), "{}", r.message);
}

#[test]
fn reasons_in_order() {
    let k = key(7);
    let stranger = key(8);
    let trusted = [public(&k, "alice", vec![Role::Author])];
    let ok = review();
    let env = sign_dsse("application/vnd.gavel.review.v1+json", &ok, &[&k]).unwrap();
    assert!(check(&env, &trusted, None).valid);
    let by_stranger = sign_dsse("application/vnd.gavel.review.v1+json", &ok, &[&stranger]).unwrap();
    assert_eq!(
        check(&by_stranger, &trusted, None).reason,
        Some(Reason::UnknownKey)
    );
    let odd = sign_dsse("text/plain", &ok, &[&k]).unwrap();
    assert_eq!(
        check(&odd, &trusted, None).reason,
        Some(Reason::WrongPayloadType)
    );
    let v = verify(
        &env,
        &VerifyOptions {
            now: now(),
            trusted: &trusted,
            secret: None,
            expected_type: Some("application/vnd.gavel.bundle.v1+json"),
        },
    );
    assert_eq!(v.reason, Some(Reason::WrongPayloadType));
    let future = payload(
        PayloadKind::Review,
        "2027-11-23T00:00:00Z",
        "2028-12-23T00:00:00Z",
    );
    let env = sign_dsse("application/vnd.gavel.review.v1+json", &future, &[&k]).unwrap();
    assert_eq!(
        check(&env, &trusted, None).reason,
        Some(Reason::NotYetValid)
    );
    // A bundle payload whose digest does not match its bundle.
    let mut p = bundle_payload(
        &json!([]),
        "alice",
        "2026-11-01T00:00:00Z".parse().unwrap(),
        "2027-11-01T00:00:00Z".parse().unwrap(),
    )
    .unwrap();
    p["digest"] = "sha256:0000000000000000000000000000000000000000000000000000000000000000".into();
    let env = sign_dsse("application/vnd.gavel.bundle.v1+json", &p, &[&k]).unwrap();
    assert_eq!(
        check(&env, &trusted, None).reason,
        Some(Reason::DigestMismatch)
    );
    // Two signers: both reported.
    let bob = key(9);
    let both = sign_dsse("application/vnd.gavel.review.v1+json", &ok, &[&k, &bob]).unwrap();
    let two = [
        trusted[0].clone(),
        public(&bob, "bob", vec![Role::Approver]),
    ];
    let names: Vec<String> = check(&both, &two, None)
        .signers
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["alice", "bob"]);
}

#[test]
fn bad_input_is_malformed_not_a_panic() {
    let (env, alice) = signed_bundle();
    let trusted = [alice];
    let payload = env["payload"].as_str().unwrap();
    let sig = env["signatures"][0]["sig"].as_str().unwrap();
    let cases = [
        ("truncated payload base64", {
            let mut e = env.clone();
            e["payload"] = payload[..payload.len() - 3].into();
            e
        }),
        ("truncated signature", {
            let mut e = env.clone();
            e["signatures"][0]["sig"] = sig[..40].into();
            e
        }),
        ("long signature", {
            let mut e = env.clone();
            e["signatures"][0]["sig"] = base64::engine::general_purpose::STANDARD
                .encode([0u8; 65])
                .into();
            e
        }),
        ("no signatures", {
            let mut e = env.clone();
            e["signatures"] = json!([]);
            e
        }),
        ("signature not an object", {
            let mut e = env.clone();
            e["signatures"] = json!(["x"]);
            e
        }),
        ("payload type missing", {
            let mut e = env.clone();
            e.as_object_mut().unwrap().remove("payloadType");
            e
        }),
        ("not a signed document", json!({"hello": "world"})),
        ("a list", json!([1, 2, 3])),
    ];
    for (what, doc) in cases {
        let r = check(&doc, &trusted, None);
        assert!(!r.valid, "{what}");
        assert_eq!(r.reason, Some(Reason::Malformed), "{what}: {r:?}");
        assert!(!r.message.is_empty());
    }
    // A payload that is not JSON, properly signed, is malformed too.
    let k = key(1);
    let body = b"not json at all";
    let pae = gavel_trust::pae("application/vnd.gavel.review.v1+json", body);
    use ed25519_dalek::Signer as _;
    let env = json!({
        "payloadType": "application/vnd.gavel.review.v1+json",
        "payload": base64::engine::general_purpose::STANDARD.encode(body),
        "signatures": [{"keyid": trusted[0].keyid.0, "sig": base64::engine::general_purpose::STANDARD.encode(k.sign(&pae).to_bytes())}],
    });
    assert_eq!(check(&env, &trusted, None).reason, Some(Reason::Malformed));
}

#[test]
fn every_covered_byte_of_a_legacy_override_matters() {
    let secret = Sensitive::new(b"shared".to_vec());
    let data =
        json!({"workflow_id": "wf-42", "forced_verdict": "promote", "bypass_micro_pilot": false});
    let doc = legacy_override(&data, &secret);
    let text = serde_json::to_string(&doc).unwrap();
    assert!(accepted(text.as_bytes(), &[], Some(&secret)));
    for (key, len) in [
        ("\"data\":", serde_json::to_string(&data).unwrap().len()),
        ("\"signature\":", 66),
    ] {
        let start = text.find(key).unwrap() + key.len();
        for i in start..start + len {
            let mut t = text.clone().into_bytes();
            t[i] ^= 0x01;
            assert!(
                !accepted(&t, &[], Some(&secret)),
                "a change at byte {i} was accepted"
            );
        }
    }
    // Marked used: refused.
    let mut used = doc.clone();
    used["used"] = true.into();
    assert_eq!(check(&used, &[], Some(&secret)).reason, Some(Reason::Used));
}

/// Regression: fields outside a format's closed set (unsigned) are refused,
/// so a DSSE envelope cannot also pose as a legacy override.
#[test]
fn fields_outside_the_format_are_malformed() {
    let k = key(11);
    let trusted = [public(&k, "mallory", vec![Role::Author])];
    let mut env = sign_dsse("application/vnd.gavel.review.v1+json", &review(), &[&k]).unwrap();
    assert!(check(&env, &trusted, None).valid);
    env["data"] = json!({});
    env["signature"] = "anything".into();
    let r = check(&env, &trusted, None);
    assert_eq!(
        (r.valid, r.reason),
        (false, Some(Reason::Malformed)),
        "{}",
        r.message
    );
}

/// Regression: one MAC, one spelling (the ledger keys legacy overrides by it).
#[test]
fn legacy_mac_spellings_other_than_lowercase_hex_are_rejected() {
    let secret = Sensitive::new(b"shared".to_vec());
    let doc = legacy_override(
        &json!({"forced_verdict": "promote", "workflow_id": "a"}),
        &secret,
    );
    let sig = doc["signature"].as_str().unwrap().to_string();
    assert!(check(&doc, &[], Some(&secret)).valid);
    let mut upper = doc.clone();
    upper["signature"] = sig.to_uppercase().into();
    assert!(!check(&upper, &[], Some(&secret)).valid);
    if let Some(pos) = sig.find('0') {
        let mut plus = sig.clone();
        plus.replace_range(pos..pos + 1, "+");
        let mut p = doc.clone();
        p["signature"] = plus.into();
        assert!(!check(&p, &[], Some(&secret)).valid);
    }
}

/// Regression: §11.3 puts `expired` before `used`; any truthy `used` counts;
/// a legacy export needs its expiry.
#[test]
fn legacy_checks_in_order() {
    let secret = Sensitive::new(b"shared".to_vec());
    let mut doc = legacy_override(
        &json!({"bypass_micro_pilot": true, "expires_at": "2000-01-01T00:00:00"}),
        &secret,
    );
    doc["used"] = true.into();
    assert_eq!(
        check(&doc, &[], Some(&secret)).reason,
        Some(Reason::Expired)
    );
    let mut fresh = legacy_override(&json!({"bypass_micro_pilot": true}), &secret);
    fresh["used"] = 1.into();
    assert_eq!(check(&fresh, &[], Some(&secret)).reason, Some(Reason::Used));
    let mut export = legacy_export(
        &json!([]),
        "2026-01-01T00:00:00",
        "2099-01-01T00:00:00",
        &secret,
    );
    export.as_object_mut().unwrap().remove("expires_at");
    assert_eq!(
        check(&export, &[], Some(&secret)).reason,
        Some(Reason::Malformed)
    );
}
