//! What each payload type must hold (fields, types, nothing else), who signs
//! it, how Gavel stamps its times, and `verify` applying the same rules.

use gavel_trust::{
    MAX_VALIDITY_SECONDS, PayloadError, PayloadKind, Reason, Role, Sensitive, VerifyOptions,
    check_signer, sign_dsse, stamp, team_export, verify, verify_by_owner,
};
use serde_json::{Value, json};

use crate::{check, key, now, payload, public, statement};

/// A well-formed payload of `kind` with `edit` applied.
fn edited(kind: PayloadKind, edit: &dyn Fn(&mut Value)) -> Value {
    let mut p = payload(kind, "2026-11-23T00:00:00Z", "2026-12-23T00:00:00Z");
    edit(&mut p);
    p
}

fn set(pointer: &'static str, value: Value) -> impl Fn(&mut Value) {
    move |p: &mut Value| {
        let (parent, last) = pointer.rsplit_once('/').unwrap();
        let target = if parent.is_empty() {
            p
        } else {
            p.pointer_mut(parent).unwrap()
        };
        target
            .as_object_mut()
            .unwrap()
            .insert(last.to_string(), value.clone());
    }
}

fn remove(pointer: &'static str) -> impl Fn(&mut Value) {
    move |p: &mut Value| {
        let (parent, last) = pointer.rsplit_once('/').unwrap();
        let target = if parent.is_empty() {
            p
        } else {
            p.pointer_mut(parent).unwrap()
        };
        target.as_object_mut().unwrap().remove(last);
    }
}

/// `kind.check` on the edited payload: `None` for well formed, else the
/// field the error names.
fn field_at_fault(kind: PayloadKind, edit: &dyn Fn(&mut Value)) -> Option<String> {
    kind.check(&edited(kind, edit))
        .err()
        .map(|e| e.field().unwrap_or("<none>").to_string())
}

#[test]
fn every_kind_has_a_well_formed_example_and_its_own_fields() {
    for kind in PayloadKind::ALL {
        let p = edited(kind, &|_| {});
        assert_eq!(kind.check(&p), Ok(()), "{kind:?}");
        // Another kind's payload is not well formed for this kind.
        for other in PayloadKind::ALL.into_iter().filter(|o| *o != kind) {
            assert!(
                other.check(&p).is_err(),
                "a {kind:?} payload passed as {other:?}"
            );
        }
    }
}

/// A kind, an edit of its well-formed payload, the field at fault (or none).
type Case = (PayloadKind, Box<dyn Fn(&mut Value)>, Option<&'static str>);

#[test]
fn payload_fields_are_checked_by_name_and_type() {
    use PayloadKind::*;
    let d = || json!(format!("sha256:{}", "cd".repeat(32)));
    // (kind, edit, the field at fault or None for well formed)
    let cases: Vec<Case> = vec![
        (Bundle, Box::new(remove("/name")), Some("name")),
        (Bundle, Box::new(set("/name", json!(3))), Some("name")),
        (Bundle, Box::new(set("/name", json!("  "))), Some("name")),
        (Bundle, Box::new(set("/name", json!("inbox"))), None),
        (
            Bundle,
            Box::new(set("/version", json!([]))),
            Some("version"),
        ),
        (
            Bundle,
            Box::new(set("/digest", json!("sha256:00"))),
            Some("digest"),
        ),
        (
            Bundle,
            Box::new(set("/digest", json!(format!("sha256:{}", "AB".repeat(32))))),
            Some("digest"),
        ),
        (Bundle, Box::new(set("/digest", json!(5))), Some("digest")),
        (
            Bundle,
            Box::new(set("/bundle", json!("rules"))),
            Some("bundle"),
        ),
        (Bundle, Box::new(set("/bundle", json!({"rules": []}))), None),
        (Bundle, Box::new(set("/author", json!(""))), Some("author")),
        (
            Bundle,
            Box::new(set("/author", Value::Null)),
            Some("author"),
        ),
        (
            Bundle,
            Box::new(set("/issued_at", json!("yesterday"))),
            Some("issued_at"),
        ),
        (
            Bundle,
            Box::new(set("/expires_at", json!(1_800_000_000))),
            Some("expires_at"),
        ),
        (Bundle, Box::new(remove("/expires_at")), Some("expires_at")),
        (Bundle, Box::new(set("/note", json!("hi"))), Some("note")),
        (
            Approval,
            Box::new(set("/base_digest", json!("nope"))),
            Some("base_digest"),
        ),
        (Approval, Box::new(set("/base_digest", d())), None),
        (
            Approval,
            Box::new(set("/decision", json!("maybe"))),
            Some("decision"),
        ),
        (Approval, Box::new(set("/decision", json!("reject"))), None),
        (
            Approval,
            Box::new(set("/decision", json!(1))),
            Some("decision"),
        ),
        (
            Approval,
            Box::new(set("/comment", json!(5))),
            Some("comment"),
        ),
        (Approval, Box::new(set("/comment", json!("  "))), None),
        (
            Approval,
            Box::new(remove("/environment")),
            Some("environment"),
        ),
        (
            Approval,
            Box::new(set("/roles", json!("approver"))),
            Some("roles"),
        ),
        (
            Approval,
            Box::new(set("/roles", json!(["approver", "boss"]))),
            Some("roles.1"),
        ),
        (
            Approval,
            Box::new(set("/roles", json!([1]))),
            Some("roles.0"),
        ),
        (Approval, Box::new(set("/roles", json!([]))), None),
        (Approval, Box::new(remove("/evidence")), Some("evidence")),
        (
            Approval,
            Box::new(set("/evidence", json!([]))),
            Some("evidence"),
        ),
        (
            Approval,
            Box::new(set("/evidence/lint", json!([]))),
            Some("evidence.lint"),
        ),
        (
            Approval,
            Box::new(set("/evidence/impact/other", json!(-1))),
            Some("evidence.impact.other"),
        ),
        (
            Approval,
            Box::new(set("/evidence/impact/other", json!(1.5))),
            Some("evidence.impact.other"),
        ),
        (
            Approval,
            Box::new(remove("/evidence/impact/deny_to_allow")),
            Some("evidence.impact.deny_to_allow"),
        ),
        (
            Approval,
            Box::new(set("/evidence/gates", json!("pass"))),
            Some("evidence.gates"),
        ),
        (
            Approval,
            Box::new(set("/evidence/gates", json!([{"name": "samples"}, 1]))),
            Some("evidence.gates.1"),
        ),
        (
            Approval,
            Box::new(set("/evidence/gates", json!([{"name": "samples"}]))),
            None,
        ),
        (
            Approval,
            Box::new(set("/evidence/extra", json!(1))),
            Some("evidence.extra"),
        ),
        (
            Override,
            Box::new(set("/flags/bypass_micro_pilot", json!("yes"))),
            Some("flags.bypass_micro_pilot"),
        ),
        (
            Override,
            Box::new(set("/flags/forced_verdict", json!(3))),
            Some("flags.forced_verdict"),
        ),
        (
            Override,
            Box::new(set("/flags/forced_verdict", Value::Null)),
            None,
        ),
        (
            Override,
            Box::new(set("/flags/verdict", json!("promote"))),
            Some("flags.verdict"),
        ),
        (
            Override,
            Box::new(set("/flags", json!("promote"))),
            Some("flags"),
        ),
        (Override, Box::new(set("/id", json!(""))), Some("id")),
        (
            Override,
            Box::new(remove("/workflow_id")),
            Some("workflow_id"),
        ),
        (Override, Box::new(remove("/reason")), Some("reason")),
        (Override, Box::new(set("/used", json!(false))), Some("used")),
        (Rollout, Box::new(set("/serial", json!(-1))), Some("serial")),
        (
            Rollout,
            Box::new(set("/serial", json!(1.0))),
            Some("serial"),
        ),
        (Rollout, Box::new(set("/serial", json!(0))), None),
        (
            Rollout,
            Box::new(set("/stable", Value::Null)),
            Some("stable"),
        ),
        (
            Rollout,
            Box::new(remove("/stable/activated_at")),
            Some("stable.activated_at"),
        ),
        (Rollout, Box::new(set("/canary", Value::Null)), None),
        (Rollout, Box::new(set("/canary", json!(10))), Some("canary")),
        (
            Rollout,
            Box::new(set("/canary/percent", json!(101))),
            Some("canary.percent"),
        ),
        (Rollout, Box::new(set("/canary/percent", json!(100))), None),
        (Rollout, Box::new(set("/canary/percent", json!(0))), None),
        (
            Rollout,
            Box::new(set("/canary/percent", json!("10"))),
            Some("canary.percent"),
        ),
        (
            Rollout,
            Box::new(set("/canary/activated_at", json!("soon"))),
            Some("canary.activated_at"),
        ),
        (
            Review,
            Box::new(set(
                "/base",
                json!({"version": null, "digest": d(), "bundle": []}),
            )),
            None,
        ),
        (
            Review,
            Box::new(set("/base", json!({"version": "0.9.0"}))),
            Some("base.digest"),
        ),
        (Review, Box::new(remove("/proposed")), Some("proposed")),
        (
            Review,
            Box::new(set("/proposed/bundle", json!(3))),
            Some("proposed.bundle"),
        ),
        (Review, Box::new(set("/diff", json!([]))), Some("diff")),
        (
            Review,
            Box::new(set("/simulation", Value::Null)),
            Some("simulation"),
        ),
        (
            Review,
            Box::new(set("/signatures", json!({}))),
            Some("signatures"),
        ),
        (
            Review,
            Box::new(set("/signatures", json!([{"keyid": "k"}, "sig"]))),
            Some("signatures.1"),
        ),
    ];
    for (i, (kind, edit, expected)) in cases.iter().enumerate() {
        assert_eq!(
            field_at_fault(*kind, edit.as_ref()).as_deref(),
            *expected,
            "case {i} ({kind:?})"
        );
    }
}

#[test]
fn payload_errors_say_what_was_expected_and_what_was_found() {
    let msg = |kind: PayloadKind, edit: &dyn Fn(&mut Value)| {
        kind.check(&edited(kind, edit)).unwrap_err().to_string()
    };
    assert_eq!(
        msg(PayloadKind::Rollout, &set("/serial", json!(-1))),
        "`serial` must be a whole number, 0 or more, not `-1`"
    );
    assert_eq!(
        msg(PayloadKind::Bundle, &set("/name", json!(3))),
        "`name` must be a non-empty string, or null, not `3`"
    );
    assert_eq!(
        msg(PayloadKind::Bundle, &set("/author", json!(""))),
        "`author` must be a non-empty string, not an empty string"
    );
    // Inside a field that may be null, the inner field's own type is named.
    assert_eq!(
        msg(PayloadKind::Rollout, &set("/canary/percent", json!(101))),
        "`canary.percent` must be a whole number from 0 to 100, not `101`"
    );
    assert_eq!(
        msg(PayloadKind::Rollout, &set("/canary", json!([]))),
        "`canary` must be an object, or null, not a list"
    );
    assert_eq!(
        msg(PayloadKind::Approval, &set("/decision", json!("maybe"))),
        "`decision` must be `approve` or `reject`, not `maybe`"
    );
    assert_eq!(
        msg(PayloadKind::Approval, &set("/roles", json!(["boss"]))),
        "`roles.0` must be a role (author, approver, analyst, security or operator), not `boss`"
    );
    assert_eq!(
        msg(
            PayloadKind::Override,
            &set("/flags/bypass_micro_pilot", json!({}))
        ),
        "`flags.bypass_micro_pilot` must be true or false, not an object"
    );
    assert_eq!(
        msg(PayloadKind::Override, &remove("/reason")),
        "`reason` is missing; an override payload needs it"
    );
    assert_eq!(
        msg(PayloadKind::Bundle, &remove("/author")),
        "`author` is missing; a bundle payload needs it"
    );
    let unknown = msg(PayloadKind::Override, &set("/note", json!(1)));
    assert!(
        unknown.starts_with("unknown field `note` in an override payload; the fields here are `id`, `workflow_id`, `flags`,"),
        "{unknown}"
    );
    // Long strings are cut, short ones shown whole.
    let long = "x".repeat(100);
    let cut = msg(PayloadKind::Bundle, &set("/digest", json!(long)));
    assert!(
        cut.ends_with(&format!("not `{}…`", "x".repeat(80))),
        "{cut}"
    );
    let exact = "y".repeat(80);
    let whole = msg(PayloadKind::Bundle, &set("/digest", json!(exact)));
    assert!(whole.ends_with(&format!("not `{exact}`")), "{whole}");
    for (value, found) in [
        (Value::Null, "null"),
        (json!(true), "a boolean"),
        (json!(1), "a number"),
        (json!("s"), "a string"),
        (json!([]), "a list"),
        (json!({}), "an object"),
    ] {
        let e = PayloadKind::Review.check(&value);
        if found == "an object" {
            assert_eq!(
                e.unwrap_err().field(),
                Some("bundle"),
                "an empty object misses its first field"
            );
        } else {
            assert_eq!(
                e.unwrap_err().to_string(),
                format!("a review payload must be a JSON object, not {found}")
            );
        }
    }
    assert_eq!(
        msg(PayloadKind::Bundle, &set("/bundle", json!(true))),
        "`bundle` must be a bundle document (an object or a list of rules), not a boolean"
    );
    assert_eq!(
        msg(PayloadKind::Review, &set("/signatures", json!([{}, []]))),
        "`signatures.1` must be an object, not a list"
    );
    assert_eq!(
        msg(PayloadKind::Approval, &set("/comment", json!(null))),
        "`comment` must be a string, not null"
    );
    assert_eq!(
        msg(PayloadKind::Bundle, &set("/issued_at", json!("noon"))),
        "`issued_at` must be an RFC 3339 time in UTC, whole seconds (`2026-11-23T15:04:05Z`), not `noon`"
    );
    assert_eq!(
        msg(PayloadKind::Bundle, &set("/digest", json!("sha256:0"))),
        "`digest` must be `sha256:` and 64 lowercase hex digits, not `sha256:0`"
    );
    assert_eq!(
        msg(PayloadKind::Review, &set("/signatures", json!("none"))),
        "`signatures` must be a list of objects, not `none`"
    );
    assert_eq!(
        msg(PayloadKind::Approval, &set("/roles", json!({}))),
        "`roles` must be a list of roles, not an object"
    );
}

#[test]
fn payload_error_pointers_are_json_pointers() {
    let e = PayloadKind::Approval
        .check(&edited(
            PayloadKind::Approval,
            &set("/evidence/impact/other", json!(-1)),
        ))
        .unwrap_err();
    assert_eq!(e.pointer().as_deref(), Some("/evidence/impact/other"));
    let e = PayloadKind::Override
        .check(&edited(PayloadKind::Override, &|p: &mut Value| {
            p["a~b/c"] = json!(1);
        }))
        .unwrap_err();
    assert_eq!(e.field(), Some("a~b/c"));
    assert_eq!(e.pointer().as_deref(), Some("/a~0b~1c"));
    let e = PayloadKind::Override.check(&json!([])).unwrap_err();
    assert_eq!((e.field(), e.pointer()), (None, None));
}

#[test]
fn each_payload_type_has_one_signing_role_and_a_default_validity() {
    use PayloadKind::*;
    let day = 86_400;
    let table = [
        (Bundle, "bundle", Role::Author, Some("author"), 365 * day),
        (
            Approval,
            "approval",
            Role::Approver,
            Some("approver"),
            30 * day,
        ),
        (Override, "override", Role::Security, Some("issued_by"), day),
        (Rollout, "rollout", Role::Operator, None, 7 * day),
        (Review, "review", Role::Author, None, 14 * day),
    ];
    for (kind, short, role, field, validity) in table {
        let media = format!("application/vnd.gavel.{short}.v1+json");
        assert_eq!(kind.short(), short);
        assert_eq!(kind.media_type(), media);
        assert_eq!(PayloadKind::from_short(short), Some(kind));
        assert_eq!(PayloadKind::from_media_type(&media), Some(kind));
        assert_eq!(kind.signer_role(), role, "{short}");
        assert_eq!(kind.signer_field(), field, "{short}");
        assert_eq!(kind.default_validity(), validity, "{short}");
        assert_eq!(gavel_trust::payload_type(short), Some(media.as_str()));
        assert_eq!(gavel_trust::default_validity(&media), Some(validity));
        assert!(gavel_trust::PAYLOAD_TYPES.contains(&media.as_str()));
    }
    assert_eq!(PayloadKind::from_short("policy"), None);
    assert_eq!(PayloadKind::from_media_type("application/json"), None);
    assert_eq!(gavel_trust::payload_type(""), None);
    assert_eq!(gavel_trust::payload_type("xyzzy"), None);
    assert_eq!(gavel_trust::default_validity("text/plain"), None);
}

#[test]
fn stamp_sets_the_times_and_refuses_callers_times() {
    let now: jiff::Timestamp = "2026-11-23T15:00:00.75Z".parse().unwrap();
    let p = stamp(
        PayloadKind::Override,
        &statement(PayloadKind::Override),
        now,
        3600,
    )
    .unwrap();
    assert_eq!(p["issued_at"], "2026-11-23T15:00:00Z", "whole seconds");
    assert_eq!(p["expires_at"], "2026-11-23T16:00:00Z");
    let one = stamp(
        PayloadKind::Override,
        &statement(PayloadKind::Override),
        now,
        1,
    )
    .unwrap();
    assert_eq!(one["expires_at"], "2026-11-23T15:00:01Z");
    let max = stamp(
        PayloadKind::Bundle,
        &statement(PayloadKind::Bundle),
        now,
        MAX_VALIDITY_SECONDS,
    );
    assert!(max.is_ok(), "{max:?}");
    for field in ["issued_at", "expires_at"] {
        let mut s = statement(PayloadKind::Review);
        s[field] = "2099-01-01T00:00:00Z".into();
        let e = stamp(PayloadKind::Review, &s, now, 60).unwrap_err();
        assert_eq!(e, PayloadError::SetByGavel { field });
        let text = e.to_string();
        assert!(
            text.contains(&format!("`{field}` is set by Gavel")) && text.contains("`--expires-in`"),
            "{text}"
        );
        assert_eq!(e.field(), Some(field));
    }
    // At most 100 years (of 365 days).
    let century = 100 * 365 * 86_400;
    assert!(
        stamp(
            PayloadKind::Review,
            &statement(PayloadKind::Review),
            now,
            century
        )
        .is_ok()
    );
    assert_eq!(MAX_VALIDITY_SECONDS, century);
    for seconds in [0, -1, century + 1, MAX_VALIDITY_SECONDS + 1, i64::MIN] {
        let e = stamp(
            PayloadKind::Review,
            &statement(PayloadKind::Review),
            now,
            seconds,
        );
        assert_eq!(e, Err(PayloadError::Validity { seconds }), "{seconds}");
    }
    // An expiry past the last time there is.
    let late = jiff::Timestamp::MAX;
    assert!(matches!(
        stamp(
            PayloadKind::Review,
            &statement(PayloadKind::Review),
            late,
            60
        ),
        Err(PayloadError::Validity { seconds: 60 })
    ));
    // The statement must be an object, and well formed once stamped.
    assert!(matches!(
        stamp(PayloadKind::Review, &json!("hi"), now, 60),
        Err(PayloadError::NotAnObject {
            kind: "review",
            found: "a string"
        })
    ));
    let e = stamp(PayloadKind::Approval, &json!({}), now, 60).unwrap_err();
    assert_eq!(e.field(), Some("digest"));
}

#[test]
fn a_payload_names_only_its_own_signer() {
    let roles = [Role::Approver];
    for kind in PayloadKind::ALL {
        let p = statement(kind);
        assert_eq!(check_signer(kind, &p, "alice", &roles), Ok(()), "{kind:?}");
        let other = check_signer(kind, &p, "bob", &roles);
        match kind.signer_field() {
            Some(field) => assert_eq!(
                other,
                Err(PayloadError::NotTheSigner {
                    field: field.to_string(),
                    stated: "alice".to_string(),
                    signer: "bob".to_string(),
                }),
                "{kind:?}"
            ),
            None => assert_eq!(other, Ok(()), "{kind:?} names no signer"),
        }
    }
    let mut p = statement(PayloadKind::Override);
    p.as_object_mut().unwrap().remove("issued_by");
    assert!(check_signer(PayloadKind::Override, &p, "alice", &roles).is_err());
    // An approval states the approver's roles as they are.
    let approval = statement(PayloadKind::Approval);
    let e = check_signer(
        PayloadKind::Approval,
        &approval,
        "alice",
        &[Role::Approver, Role::Security],
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "`roles` says `approver`, but the signer's roles are `approver,security`"
    );
    assert_eq!(e.field(), Some("roles"));
    let mut twice = approval.clone();
    twice["roles"] = json!(["security", "approver", "approver"]);
    assert_eq!(
        check_signer(
            PayloadKind::Approval,
            &twice,
            "alice",
            &[Role::Approver, Role::Security]
        ),
        Ok(()),
        "order and repeats do not matter"
    );
}

#[test]
fn verify_refuses_a_signed_payload_that_is_not_well_formed() {
    let k = key(30);
    let trusted = [public(&k, "alice", vec![Role::Approver])];
    let mut bad = edited(PayloadKind::Approval, &|_| {});
    bad["decision"] = "maybe".into();
    let env = sign_dsse(PayloadKind::Approval.media_type(), &bad, &[&k]).unwrap();
    let v = check(&env, &trusted, None);
    assert_eq!((v.valid, v.reason), (false, Some(Reason::Malformed)));
    assert!(
        v.message
            .starts_with("the approval payload is not well formed: `decision`"),
        "{}",
        v.message
    );
    assert!(v.payload.is_none());
    // `{}` signed as an approval: malformed too.
    let env = sign_dsse(PayloadKind::Approval.media_type(), &json!({}), &[&k]).unwrap();
    assert_eq!(check(&env, &trusted, None).reason, Some(Reason::Malformed));
    // The same rule holds in a team export.
    let secret = Sensitive::new(b"team".to_vec());
    let t = team_export(
        PayloadKind::Approval.media_type(),
        &serde_json::to_vec(&bad).unwrap(),
        "2026-11-23T00:00:00Z".parse().unwrap(),
        "2026-12-23T00:00:00Z".parse().unwrap(),
        "team",
        &secret,
    )
    .unwrap();
    let v = check(&t, &[], Some(&secret));
    assert_eq!(
        (v.valid, v.reason),
        (false, Some(Reason::Malformed)),
        "{}",
        v.message
    );
    // A payload type the caller asked for but Gavel does not define is not
    // checked for fields (it has none here).
    let custom = sign_dsse(
        "application/x-custom",
        &edited(PayloadKind::Review, &|_| {}),
        &[&k],
    )
    .unwrap();
    let v = verify(
        &custom,
        &VerifyOptions {
            now: now(),
            trusted: &trusted,
            secret: None,
            expected_type: Some("application/x-custom"),
        },
    );
    assert!(v.valid, "{}", v.message);
}

#[test]
fn a_review_package_names_the_digests_of_its_bundles() {
    let k = key(31);
    let trusted = [public(&k, "alice", vec![Role::Author])];
    let good = edited(PayloadKind::Review, &|_| {});
    let env = sign_dsse(PayloadKind::Review.media_type(), &good, &[&k]).unwrap();
    assert!(check(&env, &trusted, None).valid);
    for at in ["base", "proposed"] {
        let mut p = good.clone();
        p[at] = json!({"version": "1.0.0", "digest": format!("sha256:{}", "ef".repeat(32)), "bundle": []});
        let env = sign_dsse(PayloadKind::Review.media_type(), &p, &[&k]).unwrap();
        let v = check(&env, &trusted, None);
        assert_eq!(
            v.reason,
            Some(Reason::DigestMismatch),
            "{at}: {}",
            v.message
        );
        assert!(
            v.message.starts_with(&format!("`{at}.digest` says")),
            "{}",
            v.message
        );
    }
}

fn opts<'a>(
    trusted: &'a [gavel_trust::PublicKey],
    secret: Option<&'a Sensitive<Vec<u8>>>,
) -> VerifyOptions<'a> {
    VerifyOptions {
        now: now(),
        trusted,
        secret,
        expected_type: None,
    }
}

#[test]
fn only_the_owning_role_vouches_for_a_payload() {
    let author = key(40);
    let analyst = key(41);
    let trusted = [
        public(&author, "alice", vec![Role::Author]),
        public(&analyst, "ann", vec![Role::Analyst, Role::Approver]),
    ];
    let bundle = edited(PayloadKind::Bundle, &|_| {});
    let by_analyst = sign_dsse(PayloadKind::Bundle.media_type(), &bundle, &[&analyst]).unwrap();
    // Plain `verify` checks signatures; `verify_by_owner` also the role.
    assert!(verify(&by_analyst, &opts(&trusted, None)).valid);
    let v = verify_by_owner(&by_analyst, &opts(&trusted, None));
    assert_eq!((v.valid, v.reason), (false, Some(Reason::UnknownKey)));
    assert!(v.payload.is_none());
    assert!(
        v.message.contains("`author` role")
            && v.message.contains("(signed by `ann`, without that role)"),
        "{}",
        v.message
    );
    let both = sign_dsse(
        PayloadKind::Bundle.media_type(),
        &bundle,
        &[&analyst, &author],
    )
    .unwrap();
    let v = verify_by_owner(&both, &opts(&trusted, None));
    assert!(v.valid, "{}", v.message);
    let names: Vec<&str> = v.signers.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["alice"], "only the owner vouches");
    // Each type by its role: an approval by the approver.
    let approval = edited(PayloadKind::Approval, &|p| p["approver"] = "ann".into());
    let env = sign_dsse(PayloadKind::Approval.media_type(), &approval, &[&analyst]).unwrap();
    let v = verify_by_owner(&env, &opts(&trusted, None));
    assert!(v.valid, "{}", v.message);
    let env = sign_dsse(PayloadKind::Approval.media_type(), &approval, &[&author]).unwrap();
    assert_eq!(
        verify_by_owner(&env, &opts(&trusted, None)).reason,
        Some(Reason::UnknownKey)
    );
    // A failure that comes later in §11.3's order keeps its own reason.
    let old = payload(
        PayloadKind::Bundle,
        "2026-01-01T00:00:00Z",
        "2026-02-01T00:00:00Z",
    );
    let env = sign_dsse(PayloadKind::Bundle.media_type(), &old, &[&author]).unwrap();
    assert_eq!(
        verify_by_owner(&env, &opts(&trusted, None)).reason,
        Some(Reason::Expired)
    );
    // The shared-secret formats have no roles: unchanged.
    let secret = Sensitive::new(b"team".to_vec());
    let t = team_export(
        PayloadKind::Bundle.media_type(),
        &serde_json::to_vec(&bundle).unwrap(),
        "2026-11-23T00:00:00Z".parse().unwrap(),
        "2026-12-23T00:00:00Z".parse().unwrap(),
        "team",
        &secret,
    )
    .unwrap();
    assert!(verify_by_owner(&t, &opts(&[], Some(&secret))).valid);
    // A type Gavel does not define has no owner.
    let custom = sign_dsse(
        "application/x-custom",
        &json!({"issued_at": "2026-11-23T00:00:00Z", "expires_at": "2026-12-23T00:00:00Z"}),
        &[&analyst],
    )
    .unwrap();
    let v = verify_by_owner(
        &custom,
        &VerifyOptions {
            expected_type: Some("application/x-custom"),
            ..opts(&trusted, None)
        },
    );
    assert!(v.valid && v.signers.len() == 1, "{}", v.message);
}

/// Regression: a payload time took any offset and fractional seconds;
/// §11.3 wants RFC 3339 in UTC, whole seconds, so each instant has one
/// spelling. Others are refused naming the field, when signing and when
/// verifying.
#[test]
fn payload_times_are_utc_whole_seconds_naming_the_field() {
    let k = key(32);
    let trusted = [public(&k, "alice", vec![Role::Operator])];
    for bad in [
        "2026-11-23T16:00:00+01:00",
        "2026-11-23T15:00:00+00:00",
        "2026-11-23T15:00:00.5Z",
        "2026-11-23T15:00:00.000Z",
        "2026-11-23 15:00:00Z",
        "2026-11-23t15:00:00z",
        "2026-11-23T15:00Z",
        "2026-11-23",
    ] {
        for pointer in ["/issued_at", "/expires_at", "/stable/activated_at"] {
            let p = edited(PayloadKind::Rollout, &set(pointer, json!(bad)));
            let field = pointer.trim_start_matches('/').replace('/', ".");
            let e = PayloadKind::Rollout.check(&p).unwrap_err();
            assert_eq!(e.field(), Some(field.as_str()), "{bad} at {pointer}");
            assert_eq!(
                e.to_string(),
                format!(
                    "`{field}` must be an RFC 3339 time in UTC, whole seconds (`2026-11-23T15:04:05Z`), not `{bad}`"
                )
            );
            let env = sign_dsse(PayloadKind::Rollout.media_type(), &p, &[&k]).unwrap();
            let v = verify_by_owner(&env, &opts(&trusted, None));
            assert_eq!(
                (v.valid, v.reason),
                (false, Some(Reason::Malformed)),
                "{bad} at {pointer}"
            );
            assert!(
                v.message.contains(&format!("`{field}` must be")),
                "{}",
                v.message
            );
        }
    }
    // The canonical spelling, as `stamp` writes it, passes.
    let good = edited(
        PayloadKind::Rollout,
        &set("/stable/activated_at", json!("2026-11-23T15:04:05Z")),
    );
    assert_eq!(PayloadKind::Rollout.check(&good), Ok(()));
    let stamped = stamp(
        PayloadKind::Rollout,
        &statement(PayloadKind::Rollout),
        "2026-11-23T15:04:05.75Z".parse().unwrap(),
        60,
    )
    .unwrap();
    assert_eq!(stamped["issued_at"], "2026-11-23T15:04:05Z");
    assert_eq!(stamped["expires_at"], "2026-11-23T15:05:05Z");
}
