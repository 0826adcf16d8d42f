//! Each verification rule at its edges: retired keys, clock skew, the team
//! export's payload type, how a document's format is recognised, legacy
//! override expiry and ledger keys, and DSSE's PAE against the spec.

use gavel_trust::{
    Format, PayloadKind, PublicKey, Reason, Role, Sensitive, VerifyOptions, legacy_ledger_key,
    legacy_override, pae, sign_dsse, team_export, verify,
};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::{check, key, now, payload, public};

/// The DSSE specification's own example (protocol.md, "Test Vectors").
#[test]
fn pae_matches_the_dsse_spec_example() {
    assert_eq!(
        pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
    );
    // Lengths are in bytes, not characters.
    assert_eq!(
        pae("é", "ü!".as_bytes()),
        "DSSEv1 2 é 3 ü!".as_bytes().to_vec()
    );
    assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
}

fn retired(k: &ed25519_dalek::SigningKey, name: &str, at: &str) -> PublicKey {
    let mut p = public(k, name, vec![Role::Author]);
    p.retired_at = Some(at.to_string());
    p
}

/// A retired key vouches for what was issued up to its retirement, not after.
#[test]
fn a_retired_key_vouches_only_for_what_was_issued_before_it_retired() {
    let old = key(50);
    let other = key(51);
    // `other` comes first: the rule must look up the signer's own key.
    let trusted = [
        public(&other, "bob", vec![Role::Author]),
        retired(&old, "alice", "2026-11-20T00:00:00Z"),
    ];
    let at = |issued: &str| {
        let p = payload(PayloadKind::Review, issued, "2026-12-31T00:00:00Z");
        check(
            &sign_dsse(PayloadKind::Review.media_type(), &p, &[&old]).unwrap(),
            &trusted,
            None,
        )
    };
    assert!(at("2026-11-19T23:59:59Z").valid, "before retiring");
    assert!(at("2026-11-20T00:00:00Z").valid, "at the moment it retired");
    let late = at("2026-11-20T00:00:01Z");
    assert_eq!((late.valid, late.reason), (false, Some(Reason::UnknownKey)));
    assert!(late.message.contains("retired"), "{}", late.message);
    // With another, current signer the document stands, signed by that one.
    let p = payload(
        PayloadKind::Review,
        "2026-11-21T00:00:00Z",
        "2026-12-31T00:00:00Z",
    );
    let both = sign_dsse(PayloadKind::Review.media_type(), &p, &[&old, &other]).unwrap();
    let v = check(&both, &trusted, None);
    assert!(v.valid, "{}", v.message);
    let names: Vec<&str> = v.signers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["bob"]);
    // An unreadable retirement time does not retire the key.
    let odd = [retired(&old, "alice", "last week")];
    let p = payload(
        PayloadKind::Review,
        "2026-11-21T00:00:00Z",
        "2026-12-31T00:00:00Z",
    );
    let env = sign_dsse(PayloadKind::Review.media_type(), &p, &[&old]).unwrap();
    assert!(check(&env, &odd, None).valid);
}

/// Issued-at may be up to 60 seconds ahead of the verifier's clock.
#[test]
fn clock_skew_allows_sixty_seconds_and_not_one_more() {
    let k = key(52);
    let trusted = [public(&k, "alice", vec![Role::Author])];
    let ahead = |seconds: i64| {
        let issued = jiff::Timestamp::from_second(now().as_second() + seconds).unwrap();
        let p = payload(
            PayloadKind::Review,
            &gavel_trust::rfc3339(issued),
            "2026-12-31T00:00:00Z",
        );
        check(
            &sign_dsse(PayloadKind::Review.media_type(), &p, &[&k]).unwrap(),
            &trusted,
            None,
        )
    };
    assert!(ahead(60).valid);
    assert_eq!(ahead(61).reason, Some(Reason::NotYetValid));
    // Expiry has no allowance: expiring at this very second is expired.
    let p = payload(
        PayloadKind::Review,
        "2026-11-01T00:00:00Z",
        &gavel_trust::rfc3339(now()),
    );
    let env = sign_dsse(PayloadKind::Review.media_type(), &p, &[&k]).unwrap();
    assert_eq!(check(&env, &trusted, None).reason, Some(Reason::Expired));
    let p = payload(
        PayloadKind::Review,
        "2026-11-01T00:00:00Z",
        &gavel_trust::rfc3339(jiff::Timestamp::from_second(now().as_second() + 1).unwrap()),
    );
    let env = sign_dsse(PayloadKind::Review.media_type(), &p, &[&k]).unwrap();
    assert!(check(&env, &trusted, None).valid);
}

fn team(kind: &str, secret: &Sensitive<Vec<u8>>) -> Value {
    let p = payload(
        PayloadKind::Bundle,
        "2026-11-23T00:00:00Z",
        "2026-12-23T00:00:00Z",
    );
    team_export(
        kind,
        &serde_json::to_vec(&p).unwrap(),
        "2026-11-23T00:00:00Z".parse().unwrap(),
        "2026-12-23T00:00:00Z".parse().unwrap(),
        "team",
        secret,
    )
    .unwrap()
}

/// A team export of one type does not pass where another type is expected.
#[test]
fn a_team_export_is_held_to_the_expected_payload_type() {
    let secret = Sensitive::new(b"team".to_vec());
    let doc = team(PayloadKind::Bundle.media_type(), &secret);
    let with = |expected: Option<&str>| {
        verify(
            &doc,
            &VerifyOptions {
                now: now(),
                trusted: &[],
                secret: Some(&secret),
                expected_type: expected,
            },
        )
    };
    assert!(with(None).valid);
    assert!(with(Some(PayloadKind::Bundle.media_type())).valid);
    let v = with(Some(PayloadKind::Override.media_type()));
    assert_eq!((v.valid, v.reason), (false, Some(Reason::WrongPayloadType)));
    // A type Gavel does not sign is refused even without an expectation.
    let odd = team("text/plain", &secret);
    assert_eq!(
        check(&odd, &[], Some(&secret)).reason,
        Some(Reason::WrongPayloadType)
    );
}

/// The format is recognised by its fields; half an envelope is still that
/// format, malformed.
#[test]
fn formats_are_recognised_by_their_fields() {
    let k = key(53);
    let trusted = [public(&k, "alice", vec![Role::Author])];
    let cases = [
        (
            json!({"payloadType": "application/vnd.gavel.review.v1+json"}),
            Format::Dsse,
        ),
        (json!({"signatures": []}), Format::Dsse),
        (json!({"bundle": []}), Format::Unknown),
        (json!({"data": {}}), Format::Unknown),
        (json!({"signature": "00"}), Format::Unknown),
        (json!({"data": {}, "signature": 5}), Format::LegacyOverride),
        (json!({"bundle": [], "signature": 5}), Format::LegacyExport),
        (json!({"format": "gavel-team-export/1"}), Format::TeamHmac),
    ];
    for (doc, format) in cases {
        let v = check(&doc, &trusted, None);
        assert_eq!(
            (v.format, v.reason),
            (format, Some(Reason::Malformed)),
            "{doc}"
        );
    }
}

/// Regression: a legacy override whose `expires_at` is not a time (a number,
/// say) is malformed, never an override that does not expire.
#[test]
fn a_legacy_override_expiry_that_is_not_a_time_is_malformed() {
    let secret = Sensitive::new(b"shared".to_vec());
    for bad in [
        json!(4_102_444_800_u64),
        json!(true),
        json!({}),
        json!(["2099"]),
    ] {
        let doc = legacy_override(
            &json!({"forced_verdict": "promote", "workflow_id": "wf", "expires_at": bad}),
            &secret,
        );
        let v = check(&doc, &[], Some(&secret));
        assert_eq!(
            (v.valid, v.reason),
            (false, Some(Reason::Malformed)),
            "{bad}"
        );
    }
    let doc = legacy_override(
        &json!({"forced_verdict": "promote", "expires_at": "soon"}),
        &secret,
    );
    assert_eq!(
        check(&doc, &[], Some(&secret)).reason,
        Some(Reason::Malformed)
    );
    // Null or absent: no expiry stated (the seed's files have none).
    for data in [
        json!({"forced_verdict": "promote", "expires_at": null}),
        json!({"forced_verdict": "promote"}),
        json!({"forced_verdict": "promote", "expires_at": "2099-01-01T00:00:00"}),
        json!({"forced_verdict": "promote", "expires_at": "2099-01-01T00:00:00Z"}),
    ] {
        let v = check(&legacy_override(&data, &secret), &[], Some(&secret));
        assert!(v.valid, "{data}: {}", v.message);
    }
}

/// The ledger keys a legacy override by the SHA-256 of its signature text,
/// so the same file is recognised when it comes back.
#[test]
fn a_legacy_override_is_recorded_under_the_sha256_of_its_signature() {
    let secret = Sensitive::new(b"shared".to_vec());
    let doc = legacy_override(&json!({"forced_verdict": "promote"}), &secret);
    let sig = doc["signature"].as_str().unwrap();
    let expected: String = sha2::Sha256::digest(sig.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        legacy_ledger_key(&doc).map(|d| d.to_string()),
        Some(format!("sha256:{expected}"))
    );
    let other = legacy_override(&json!({"forced_verdict": "demote"}), &secret);
    assert_ne!(legacy_ledger_key(&doc), legacy_ledger_key(&other));
    assert_eq!(legacy_ledger_key(&json!({"data": {}})), None);
}

/// Regression: an envelope repeating one valid signature to fill 16 MiB
/// took 30 seconds to verify, one check per copy. A repeated signature is
/// checked once; a different signature by the same key still is checked.
#[test]
fn a_repeated_signature_counts_once_and_a_bad_one_still_fails() {
    let k = key(54);
    let trusted = [public(&k, "alice", vec![Role::Author])];
    let p = payload(
        PayloadKind::Review,
        "2026-11-23T00:00:00Z",
        "2026-12-23T00:00:00Z",
    );
    let mut env = sign_dsse(PayloadKind::Review.media_type(), &p, &[&k]).unwrap();
    let one = env["signatures"][0].clone();
    env["signatures"] = Value::Array(vec![one.clone(); 2000]);
    let v = check(&env, &trusted, None);
    assert!(v.valid && v.signers.len() == 1, "{}", v.message);
    let mut bad = one.clone();
    let sig = bad["sig"].as_str().unwrap().to_string();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    bad["sig"] = format!("{flipped}{}", &sig[1..]).into();
    env["signatures"] = json!([one, bad]);
    assert_eq!(
        check(&env, &trusted, None).reason,
        Some(Reason::BadSignature)
    );
}

/// An unknown-key message names at most five key ids, each once.
#[test]
fn unknown_signers_are_listed_briefly() {
    let k = key(55);
    let p = payload(
        PayloadKind::Review,
        "2026-11-23T00:00:00Z",
        "2026-12-23T00:00:00Z",
    );
    let mut env = sign_dsse(PayloadKind::Review.media_type(), &p, &[&k]).unwrap();
    let sig = env["signatures"][0]["sig"].clone();
    let ids: Vec<String> = (0..8).map(|i| format!("{i:016x}")).collect();
    let mut sigs: Vec<Value> = ids
        .iter()
        .map(|id| json!({"keyid": id, "sig": sig}))
        .collect();
    sigs.push(json!({"keyid": ids[0], "sig": sig}));
    env["signatures"] = Value::Array(sigs);
    let v = check(&env, &[], None);
    assert_eq!(v.reason, Some(Reason::UnknownKey));
    assert!(
        v.message.contains(
            "(signed by `0000000000000000`, `0000000000000001`, `0000000000000002`, `0000000000000003`, `0000000000000004` and 3 more)"
        ),
        "{}",
        v.message
    );
    env["signatures"] = json!([{"keyid": ids[0], "sig": sig}, {"keyid": ids[0], "sig": sig}]);
    let v = check(&env, &[], None);
    assert!(
        v.message.contains("(signed by `0000000000000000`)"),
        "{}",
        v.message
    );
}
