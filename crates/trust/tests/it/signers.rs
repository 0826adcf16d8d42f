//! The signing rule as `verify_by_owner` applies it: a payload names its
//! real signer (by name or key id), that signer holds the type's role (and
//! an approval's stated roles), and keys without the role are set aside
//! before any later reason of DESIGN §11.3's order is looked at.

use base64::Engine as _;
use ed25519_dalek::SigningKey;
use gavel_trust::{
    Format, PayloadKind, PublicKey, Reason, Role, Signer, SignerError, Verification, VerifyOptions,
    named_signer, sign_dsse, verify, verify_by_owner,
};
use serde_json::{Value, json};

use crate::{key, now, payload, public};

fn owner(doc: &Value, trusted: &[PublicKey]) -> Verification {
    owner_expecting(doc, trusted, None)
}

fn owner_expecting(doc: &Value, trusted: &[PublicKey], expected: Option<&str>) -> Verification {
    verify_by_owner(
        doc,
        &VerifyOptions {
            now: now(),
            trusted,
            secret: None,
            expected_type: expected,
        },
    )
}

fn plain(doc: &Value, trusted: &[PublicKey]) -> Verification {
    verify(
        doc,
        &VerifyOptions {
            now: now(),
            trusted,
            secret: None,
            expected_type: None,
        },
    )
}

/// A payload of `kind` valid around `now()`, naming `who` as its signer.
fn naming(kind: PayloadKind, who: &str) -> Value {
    let mut p = payload(kind, "2026-11-23T00:00:00Z", "2026-12-23T00:00:00Z");
    if let Some(field) = kind.signer_field() {
        p[field] = who.into();
    }
    p
}

fn envelope(kind: PayloadKind, p: &Value, keys: &[&SigningKey]) -> Value {
    sign_dsse(kind.media_type(), p, keys).unwrap()
}

fn names(v: &Verification) -> Vec<&str> {
    v.signers.iter().map(|s| s.name.as_str()).collect()
}

/// Every role a person can hold.
fn everything() -> Vec<Role> {
    Role::PEOPLE.to_vec()
}

/// Regression: `mal`, trusted with the author role, signed a bundle saying
/// `"author": "sam"` and it verified; likewise an approval's `approver` and
/// an override's `issued_by`. The payload must name a key that signed it.
#[test]
fn verify_by_owner_refuses_a_payload_naming_someone_who_did_not_sign_it() {
    let mal = key(80);
    let sam = key(81);
    let trusted = [
        public(&mal, "mal", everything()),
        public(&sam, "sam", everything()),
    ];
    for kind in [
        PayloadKind::Bundle,
        PayloadKind::Approval,
        PayloadKind::Override,
    ] {
        let field = kind.signer_field().unwrap();
        let mut forged = naming(kind, "sam");
        if kind == PayloadKind::Approval {
            forged["roles"] = json!(everything());
        }
        let v = owner(&envelope(kind, &forged, &[&mal]), &trusted);
        assert_eq!(
            (v.valid, v.reason),
            (false, Some(Reason::UnknownKey)),
            "{kind:?}: {}",
            v.message
        );
        assert_eq!(
            v.message,
            format!(
                "`{field}` says `sam`, but `sam` did not sign this {} payload (signed by `mal`); a payload can only name its own signer",
                kind.short()
            )
        );
        assert!(v.payload.is_none(), "{kind:?}: nothing to act on");
        // Signed by the one it names, by name or by key id: valid.
        let mut honest = forged.clone();
        honest[field] = "mal".into();
        let v = owner(&envelope(kind, &honest, &[&mal]), &trusted);
        assert!(v.valid, "{kind:?}: {}", v.message);
        assert_eq!(names(&v), ["mal"]);
        honest[field] = trusted[0].keyid.0.clone().into();
        let v = owner(&envelope(kind, &honest, &[&mal]), &trusted);
        assert!(v.valid, "{kind:?} by key id: {}", v.message);
        // Sam's own signature alongside makes the forged one true.
        let v = owner(&envelope(kind, &forged, &[&mal, &sam]), &trusted);
        assert!(v.valid, "{kind:?}: {}", v.message);
        assert_eq!(
            names(&v),
            ["sam"],
            "{kind:?}: only the named signer vouches"
        );
    }
}

/// The named signer's key must be trusted: an untrusted key of that name
/// is no signer at all.
#[test]
fn a_named_signer_whose_key_is_not_trusted_is_unknown() {
    let mal = key(82);
    let sam = key(83);
    let trusted = [public(&mal, "mal", vec![Role::Author])];
    let p = naming(PayloadKind::Bundle, "sam");
    let v = owner(&envelope(PayloadKind::Bundle, &p, &[&mal, &sam]), &trusted);
    assert_eq!(
        (v.valid, v.reason),
        (false, Some(Reason::UnknownKey)),
        "{}",
        v.message
    );
    assert!(v.message.contains("`sam` did not sign"), "{}", v.message);
}

/// Regression: an approval's `roles` could claim roles its approver has not
/// got. Claimed roles must be held (`malformed` otherwise); a role granted
/// after signing does not void the approval.
#[test]
fn an_approval_states_only_roles_its_approver_holds() {
    let ann = key(84);
    let approval = |roles: Value| {
        let mut p = naming(PayloadKind::Approval, "ann");
        p["roles"] = roles;
        envelope(PayloadKind::Approval, &p, &[&ann])
    };
    let only_approver = [public(&ann, "ann", vec![Role::Approver])];
    let forged = approval(json!(["approver", "security"]));
    let v = owner(&forged, &only_approver);
    assert_eq!(
        (v.valid, v.reason),
        (false, Some(Reason::Malformed)),
        "{}",
        v.message
    );
    assert_eq!(
        v.message,
        "`roles` says `approver,security`, but `ann` holds `approver`; an approval can only state roles its signer holds"
    );
    assert!(owner(&approval(json!(["approver"])), &only_approver).valid);
    let granted_since = [public(&ann, "ann", vec![Role::Approver, Role::Security])];
    assert!(owner(&approval(json!(["approver"])), &granted_since).valid);
    assert!(owner(&forged, &granted_since).valid);
}

/// A payload naming a co-signer who has not got the type's role: that
/// signer does not vouch, even though another key with the role signed.
#[test]
fn a_named_signer_without_the_role_does_not_vouch() {
    let mal = key(85);
    let ann = key(86);
    let trusted = [
        public(&mal, "mal", vec![Role::Author]),
        public(&ann, "ann", vec![Role::Analyst]),
    ];
    let p = naming(PayloadKind::Bundle, "ann");
    let v = owner(&envelope(PayloadKind::Bundle, &p, &[&mal, &ann]), &trusted);
    assert_eq!(
        (v.valid, v.reason),
        (false, Some(Reason::UnknownKey)),
        "{}",
        v.message
    );
    assert_eq!(
        v.message,
        "`author` says `ann`, who signed but has not got the `author` role; only that role signs bundle payloads"
    );
}

/// A rollout and a review name no signer: each key with the role vouches,
/// the others are left out of `signers`.
#[test]
fn a_payload_naming_no_signer_is_vouched_for_by_its_role() {
    let op = key(87);
    let ann = key(88);
    let trusted = [
        public(&op, "console", vec![Role::Operator]),
        public(&ann, "ann", vec![Role::Analyst]),
    ];
    let p = naming(PayloadKind::Rollout, "");
    let v = owner(&envelope(PayloadKind::Rollout, &p, &[&ann, &op]), &trusted);
    assert!(v.valid, "{}", v.message);
    assert_eq!(names(&v), ["console"]);
}

/// Regression (§11.3 order): keys without the type's role were dropped
/// only after every other check, so an approval signed only by an analyst
/// and already expired said `expired`. They are set aside right after the
/// signatures: `unknown_key` wins over every later reason.
#[test]
fn a_signer_without_the_role_is_unknown_key_before_any_later_reason() {
    let alice = key(89);
    let ann = key(90);
    let trusted = [
        public(&alice, "alice", vec![Role::Approver]),
        public(&ann, "ann", vec![Role::Analyst]),
    ];
    let kind = PayloadKind::Approval;
    let good = naming(kind, "alice");
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut p = good.clone();
        edit(&mut p);
        p
    };
    let expired = with(&|p| {
        p["issued_at"] = "2026-01-01T00:00:00Z".into();
        p["expires_at"] = "2026-02-01T00:00:00Z".into();
    });
    let early = with(&|p| p["issued_at"] = "2027-01-01T00:00:00Z".into());
    let not_well_formed = with(&|p| p["decision"] = "maybe".into());
    // (what, the envelope signed by `keys`, the type the caller expects,
    // the reason when alice (approver) signs)
    type Pairing = (&'static str, Value, Option<&'static str>, Reason);
    let pairings: Vec<Pairing> = vec![
        ("expired", expired, None, Reason::Expired),
        ("not yet valid", early, None, Reason::NotYetValid),
        ("not well formed", not_well_formed, None, Reason::Malformed),
        (
            "wrong payload type",
            good.clone(),
            Some(PayloadKind::Override.media_type()),
            Reason::WrongPayloadType,
        ),
    ];
    for (what, p, expected, by_owner) in pairings {
        let v = owner_expecting(&envelope(kind, &p, &[&alice]), &trusted, expected);
        assert_eq!(v.reason, Some(by_owner), "{what}, by alice: {}", v.message);
        let v = owner_expecting(&envelope(kind, &p, &[&ann]), &trusted, expected);
        assert_eq!(
            (v.valid, v.reason),
            (false, Some(Reason::UnknownKey)),
            "{what}, by ann: {}",
            v.message
        );
        assert!(
            v.message.contains("(signed by `ann`, without that role)"),
            "{what}: {}",
            v.message
        );
    }
    // A bundle whose digest does not match, and a review's.
    let mut mismatch = naming(PayloadKind::Bundle, "alice");
    mismatch["digest"] = format!("sha256:{}", "ef".repeat(32)).into();
    let authors = [
        public(&alice, "alice", vec![Role::Author]),
        public(&ann, "ann", vec![Role::Analyst]),
    ];
    let v = owner(
        &envelope(PayloadKind::Bundle, &mismatch, &[&alice]),
        &authors,
    );
    assert_eq!(v.reason, Some(Reason::DigestMismatch), "{}", v.message);
    let v = owner(&envelope(PayloadKind::Bundle, &mismatch, &[&ann]), &authors);
    assert_eq!(v.reason, Some(Reason::UnknownKey), "{}", v.message);
    // A bad signature by a key without the role: that key does not count,
    // so no key that counts signed (unknown_key comes first); by a key with
    // the role it is a bad signature.
    let corrupt = |env: Value| {
        let mut env = env;
        env["signatures"][0]["sig"] = base64::engine::general_purpose::STANDARD
            .encode([7u8; 64])
            .into();
        env
    };
    let bad_by_ann = corrupt(envelope(kind, &good, &[&ann]));
    assert_eq!(
        owner(&bad_by_ann, &trusted).reason,
        Some(Reason::UnknownKey)
    );
    assert_eq!(
        plain(&bad_by_ann, &trusted).reason,
        Some(Reason::BadSignature),
        "plain verify counts ann's key"
    );
    let bad_by_alice = corrupt(envelope(kind, &good, &[&alice]));
    assert_eq!(
        owner(&bad_by_alice, &trusted).reason,
        Some(Reason::BadSignature)
    );
    // A bad signature by a key without the role next to a good one by the
    // owner is still a tampered envelope.
    let mut both = envelope(kind, &good, &[&alice, &ann]);
    both["signatures"][1]["sig"] = base64::engine::general_purpose::STANDARD
        .encode([7u8; 64])
        .into();
    assert_eq!(owner(&both, &trusted).reason, Some(Reason::BadSignature));
}

/// The signer check comes after the payload is read and before its times:
/// a forged signer wins over expiry and a digest mismatch.
#[test]
fn a_forged_signer_is_reported_before_times_and_digests() {
    let mal = key(91);
    let sam = key(92);
    let trusted = [
        public(&mal, "mal", everything()),
        public(&sam, "sam", everything()),
    ];
    let mut old = naming(PayloadKind::Bundle, "sam");
    old["issued_at"] = "2026-01-01T00:00:00Z".into();
    old["expires_at"] = "2026-02-01T00:00:00Z".into();
    let v = owner(&envelope(PayloadKind::Bundle, &old, &[&mal]), &trusted);
    assert_eq!(v.reason, Some(Reason::UnknownKey), "{}", v.message);
    let mut mismatch = naming(PayloadKind::Bundle, "sam");
    mismatch["digest"] = format!("sha256:{}", "ef".repeat(32)).into();
    let v = owner(&envelope(PayloadKind::Bundle, &mismatch, &[&mal]), &trusted);
    assert_eq!(v.reason, Some(Reason::UnknownKey), "{}", v.message);
    // Forged roles are malformed, before expiry too.
    let mut roles = naming(PayloadKind::Approval, "mal");
    roles["roles"] = json!(["approver", "operator"]);
    roles["issued_at"] = "2026-01-01T00:00:00Z".into();
    roles["expires_at"] = "2026-02-01T00:00:00Z".into();
    let v = owner(&envelope(PayloadKind::Approval, &roles, &[&mal]), &trusted);
    assert_eq!(v.reason, Some(Reason::Malformed), "{}", v.message);
}

/// An owner whose key retired before the payload was issued does not
/// vouch, and a co-signer without the role does not stand in for it.
#[test]
fn a_retired_owner_is_not_replaced_by_a_signer_without_the_role() {
    let old = key(93);
    let ann = key(94);
    let mut retired = public(&old, "alice", vec![Role::Author]);
    retired.retired_at = Some("2026-11-01T00:00:00Z".into());
    let trusted = [retired, public(&ann, "ann", vec![Role::Analyst])];
    let p = naming(PayloadKind::Bundle, "alice");
    let v = owner(&envelope(PayloadKind::Bundle, &p, &[&old, &ann]), &trusted);
    assert_eq!(
        (v.valid, v.reason),
        (false, Some(Reason::UnknownKey)),
        "{}",
        v.message
    );
    assert!(v.message.contains("retired"), "{}", v.message);
}

/// Regression guard: a trusted entry whose public key does not decode
/// vouches for nothing, and the message says what to do.
#[test]
fn a_trusted_key_that_does_not_decode_vouches_for_nothing() {
    let k = key(95);
    let mut broken = public(&k, "alice", vec![Role::Author]);
    broken.public_key = "not base64".into();
    let p = naming(PayloadKind::Bundle, "alice");
    let env = envelope(PayloadKind::Bundle, &p, &[&k]);
    for v in [owner(&env, &[broken.clone()]), plain(&env, &[broken])] {
        assert_eq!((v.valid, v.reason), (false, Some(Reason::UnknownKey)));
        assert!(v.message.contains("does not decode"), "{}", v.message);
    }
}

fn signer(name: &str, keyid: &str, roles: Vec<Role>) -> Signer {
    Signer {
        keyid: keyid.into(),
        name: name.into(),
        roles,
    }
}

/// `named_signer` is the one reading of "who signed this" for callers that
/// verify with `verify` (the governance crate's overrides): each refusal
/// has its reason.
#[test]
fn named_signer_says_which_signer_vouches_and_why_not() {
    let sam = signer("sam", "00000000000000aa", vec![Role::Security]);
    let ann = signer("ann", "00000000000000bb", vec![Role::Analyst]);
    let signers = [ann.clone(), sam.clone()];
    let ovr = |who: &str| naming(PayloadKind::Override, who);
    let vouch = |p: &Value| {
        named_signer(PayloadKind::Override, p, &signers)
            .map(|s| s.into_iter().map(|s| s.name.clone()).collect::<Vec<_>>())
    };
    assert_eq!(vouch(&ovr("sam")), Ok(vec!["sam".to_string()]));
    assert_eq!(vouch(&ovr("00000000000000aa")), Ok(vec!["sam".to_string()]));
    let e = vouch(&ovr("bob")).unwrap_err();
    assert!(
        matches!(&e, SignerError::NotASigner { stated, signed_by, .. } if stated == "bob" && signed_by == "`ann`, `sam`"),
        "{e:?}"
    );
    assert_eq!(e.reason(), Reason::UnknownKey);
    let e = vouch(&ovr("ann")).unwrap_err();
    assert!(
        matches!(
            &e,
            SignerError::LacksRole {
                role: Role::Security,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.reason(), Reason::UnknownKey);
    let mut unnamed = ovr("sam");
    unnamed["issued_by"] = json!("  ");
    let e = vouch(&unnamed).unwrap_err();
    assert_eq!(
        e,
        SignerError::Unnamed {
            kind: "override",
            field: "issued_by"
        }
    );
    assert_eq!(e.reason(), Reason::Malformed);
    assert_eq!(
        e.to_string(),
        "an override payload must name its signer in `issued_by`"
    );
    unnamed.as_object_mut().unwrap().remove("issued_by");
    assert!(matches!(vouch(&unnamed), Err(SignerError::Unnamed { .. })));
    // A kind that names no signer: every key with its role, or none.
    let review = naming(PayloadKind::Review, "");
    let e = named_signer(PayloadKind::Review, &review, &signers).unwrap_err();
    assert_eq!(e.reason(), Reason::UnknownKey);
    assert_eq!(
        e.to_string(),
        "no key with the `author` role signed this review payload (signed by `ann`, `sam`); only that role signs review payloads"
    );
    let authors = [
        signer("a", "1", vec![Role::Author]),
        ann.clone(),
        signer("b", "2", vec![Role::Author]),
    ];
    let vouching = named_signer(PayloadKind::Review, &review, &authors).unwrap();
    assert_eq!(
        vouching.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    // Approval roles: each must be held, unknown names never are.
    let approver = signer("al", "3", vec![Role::Approver]);
    let mut approval = naming(PayloadKind::Approval, "al");
    approval["roles"] = json!(["approver", "root"]);
    let e = named_signer(
        PayloadKind::Approval,
        &approval,
        std::slice::from_ref(&approver),
    )
    .unwrap_err();
    assert_eq!(e.reason(), Reason::Malformed);
    approval["roles"] = json!([]);
    assert!(named_signer(PayloadKind::Approval, &approval, &[approver]).is_ok());
}

/// Regression: callers took a reason's or format's name by serializing it
/// through serde_json; `as_str` gives the same names.
#[test]
fn reason_and_format_names_are_their_json_names() {
    for r in [
        Reason::Malformed,
        Reason::UnknownKey,
        Reason::BadSignature,
        Reason::WrongPayloadType,
        Reason::NotYetValid,
        Reason::Expired,
        Reason::DigestMismatch,
        Reason::QuorumNotMet,
        Reason::Used,
    ] {
        assert_eq!(serde_json::to_value(r).unwrap(), json!(r.as_str()));
    }
    for f in [
        Format::Dsse,
        Format::TeamHmac,
        Format::LegacyExport,
        Format::LegacyOverride,
        Format::Unknown,
    ] {
        assert_eq!(serde_json::to_value(f).unwrap(), json!(f.as_str()));
    }
}

/// Under the signing rule, an envelope signed only by untrusted keys says
/// to trust the signer's key (naming it by key id), not that a role is
/// missing: no trusted key was there to lack one.
#[test]
fn an_envelope_signed_only_by_strangers_says_to_trust_the_signer_not_which_role_is_missing() {
    let alice = key(95);
    let stranger = key(96);
    let trusted = [public(&alice, "alice", vec![Role::Author])];
    let stranger_id = public(&stranger, "stranger", vec![Role::Author]).keyid.0;
    for kind in PayloadKind::ALL {
        let p = naming(kind, "alice");
        let v = owner(&envelope(kind, &p, &[&stranger]), &trusted);
        assert_eq!(
            (v.valid, v.reason),
            (false, Some(Reason::UnknownKey)),
            "{kind:?}: {}",
            v.message
        );
        assert!(
            v.message.contains(&format!(
                "no trusted key signed this (signed by `{stranger_id}`); trust the signer's public key first"
            )),
            "{kind:?}: {}",
            v.message
        );
        assert!(!v.message.contains("role"), "{kind:?}: {}", v.message);
    }
}
