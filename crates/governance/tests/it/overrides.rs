//! Reading a verified override: the same rules for `scorecard eval` and
//! `override verify`.

use gavel_governance::{
    OverrideCheck, OverrideInput, OverrideSigner, Scope, UnknownVerdict, Verdict, check_override,
    override_input,
};
use serde_json::{Value, json};

const SAM: OverrideSigner<'static> = OverrideSigner {
    name: "sam",
    keyid: "00aa11bb22cc33dd",
    security: true,
};
const ANN: OverrideSigner<'static> = OverrideSigner {
    name: "ann",
    keyid: "44ee55ff66007711",
    security: false,
};

fn signed(flags: Value) -> Value {
    json!({"id": "ovr-1", "workflow_id": "wf-1", "flags": flags, "reason": "board approved",
           "issued_by": "sam", "issued_at": "2030-01-01T00:00:00Z", "expires_at": "2030-01-02T00:00:00Z"})
}

fn refusal(check: Result<OverrideCheck, UnknownVerdict>) -> (&'static str, String) {
    match check.unwrap() {
        OverrideCheck::Refused(r) => (r.reason, r.message),
        OverrideCheck::Usable(c) => panic!("usable: {c:?}"),
    }
}

fn usable(check: Result<OverrideCheck, UnknownVerdict>) -> gavel_governance::OverrideContent {
    match check.unwrap() {
        OverrideCheck::Usable(c) => c,
        OverrideCheck::Refused(r) => panic!("refused: {r:?}"),
    }
}

#[test]
fn a_signed_override_is_for_its_workflow_only() {
    let c = usable(check_override(
        &signed(json!({"forced_verdict": "promote"})),
        false,
        &[SAM],
    ));
    assert_eq!(c.scope, Scope::Workflow("wf-1".into()));
    assert_eq!(
        (c.id.as_deref(), c.issued_by.as_deref(), c.forced_verdict),
        (Some("ovr-1"), Some("sam"), Some(Verdict::Promote))
    );
    assert!(c.applies_to(Some("wf-1")));
    assert!(!c.applies_to(Some("wf-2")));
    assert!(
        !c.applies_to(None),
        "a card without a workflow id matches no scoped override"
    );
    // Through override_input: another workflow is refused, and refused
    // means nothing forced or bypassed.
    let content = signed(json!({"forced_verdict": "promote", "bypass_micro_pilot": true}));
    let other = override_input(&content, "ovr-1", false, &[SAM], Some("wf-2")).unwrap();
    assert_eq!(
        other,
        OverrideInput {
            id: Some("ovr-1".into()),
            legacy: false,
            bypass_micro_pilot: false,
            forced_verdict: None,
            refused: Some("other_workflow".into()),
        }
    );
    let mine = override_input(&content, "ovr-1", false, &[SAM], Some("wf-1")).unwrap();
    assert_eq!(
        (mine.refused, mine.bypass_micro_pilot, mine.forced_verdict),
        (None, true, Some(Verdict::Promote))
    );
}

#[test]
fn a_signed_override_without_a_workflow_is_malformed_a_legacy_one_is_for_any() {
    let mut content = signed(json!({"forced_verdict": "demote"}));
    content.as_object_mut().unwrap().remove("workflow_id");
    let (reason, message) = refusal(check_override(&content, false, &[SAM]));
    assert_eq!(reason, "malformed");
    assert!(message.contains("`workflow_id`"), "{message}");
    // The same refusal when evaluating a card.
    assert_eq!(
        override_input(&content, "ovr-1", false, &[SAM], Some("wf-1"))
            .unwrap()
            .refused
            .as_deref(),
        Some("malformed")
    );
    let legacy = json!({"bypass_micro_pilot": true});
    let c = usable(check_override(&legacy, true, &[]));
    assert_eq!(c.scope, Scope::AnyWorkflow);
    assert!(c.applies_to(Some("anything")) && c.applies_to(None));
    let scoped = json!({"bypass_micro_pilot": true, "workflow_id": "a"});
    assert_eq!(
        override_input(&scoped, "k", true, &[], Some("b"))
            .unwrap()
            .refused
            .as_deref(),
        Some("other_workflow")
    );
    assert_eq!(
        override_input(&scoped, "k", true, &[], Some("a"))
            .unwrap()
            .refused,
        None
    );
    // A workflow id that is not a string is malformed, not a wildcard.
    let odd = json!({"bypass_micro_pilot": true, "workflow_id": 123});
    assert_eq!(refusal(check_override(&odd, true, &[])).0, "malformed");
}

#[test]
fn the_issuer_must_be_a_signer_with_the_security_role() {
    let content = signed(json!({"forced_verdict": "promote"}));
    // Signed by ann, but says sam issued it.
    let (reason, message) = refusal(check_override(&content, false, &[ANN]));
    assert_eq!(reason, "issuer_mismatch");
    assert!(
        message.contains("`sam`") && message.contains("`ann` (44ee55ff66007711)"),
        "{message}"
    );
    let (reason, _) = refusal(check_override(&content, false, &[]));
    assert_eq!(reason, "issuer_mismatch");
    // Issued by ann and signed by ann: ann is not security.
    let mut by_ann = content.clone();
    by_ann["issued_by"] = json!("ann");
    assert_eq!(
        refusal(check_override(&by_ann, false, &[ANN, SAM])).0,
        "signer_not_security"
    );
    // By key id, and with a co-signer.
    let mut by_keyid = content.clone();
    by_keyid["issued_by"] = json!(SAM.keyid);
    usable(check_override(&by_keyid, false, &[ANN, SAM]));
    usable(check_override(&content, false, &[ANN, SAM]));
    // No issuer at all.
    let mut anonymous = content.clone();
    anonymous.as_object_mut().unwrap().remove("issued_by");
    assert_eq!(
        refusal(check_override(&anonymous, false, &[SAM])).0,
        "malformed"
    );
    // A legacy override's secret stands in for the role and the issuer.
    usable(check_override(
        &json!({"forced_verdict": "promote", "issued_by": "someone"}),
        true,
        &[],
    ));
}

#[test]
fn verdicts_are_read_strictly() {
    // Unknown or borderline: unusable input (exit 2), not a refusal.
    for v in [
        json!("launch"),
        json!("borderline"),
        json!(5),
        json!("PROMOTE"),
    ] {
        let e = check_override(&signed(json!({"forced_verdict": v})), false, &[SAM]).unwrap_err();
        assert!(
            e.to_string().contains("promote, demote, pilot, no_go"),
            "{e}"
        );
        assert!(check_override(&json!({"verdict": v}), true, &[]).is_err());
    }
    // `forced_verdict: null` falls back to `verdict`; the two must agree.
    let c = usable(check_override(
        &json!({"forced_verdict": null, "verdict": "promote"}),
        true,
        &[],
    ));
    assert_eq!(c.forced_verdict, Some(Verdict::Promote));
    let c = usable(check_override(
        &json!({"forced_verdict": "no_go", "verdict": "no_go"}),
        true,
        &[],
    ));
    assert_eq!(c.forced_verdict, Some(Verdict::NoGo));
    let (reason, message) = refusal(check_override(
        &json!({"forced_verdict": "promote", "verdict": "demote"}),
        true,
        &[],
    ));
    assert_eq!(reason, "malformed");
    assert!(message.contains("`promote` and `demote`"), "{message}");
    // A DSSE payload's top-level `verdict` counts too.
    let mut top = signed(json!({}));
    top["verdict"] = json!("pilot");
    assert_eq!(
        usable(check_override(&top, false, &[SAM])).forced_verdict,
        Some(Verdict::Pilot)
    );
}

#[test]
fn malformed_content_is_refused_with_what_is_wrong() {
    let cases = [
        (json!({"forced_verdict": "promote"}), "flags", false),
        (signed(json!("promote")), "`flags` must be an object", false),
        (
            signed(json!({"bypass_micro_pilot": "yes"})),
            "`bypass_micro_pilot` must be true or false",
            false,
        ),
        (
            signed(json!({"bypass_micro_pilot": false})),
            "neither forces",
            false,
        ),
        (signed(json!({})), "neither forces", false),
        (json!({"workflow_id": "a"}), "neither forces", true),
        (json!("promote"), "a JSON object", true),
    ];
    for (content, expected, legacy) in cases {
        let (reason, message) = refusal(check_override(&content, legacy, &[SAM]));
        assert_eq!(reason, "malformed", "{content}");
        assert!(message.contains(expected), "{content}: {message}");
    }
    for field in ["id", "issued_by", "workflow_id"] {
        for bad in [json!(""), json!(7), json!(["x"])] {
            let mut content = signed(json!({"forced_verdict": "promote"}));
            content[field] = bad.clone();
            let (reason, message) = refusal(check_override(&content, false, &[SAM]));
            assert_eq!(reason, "malformed", "{field}: {bad}");
            assert!(message.contains(&format!("`{field}`")), "{message}");
        }
    }
    let mut no_id = signed(json!({"forced_verdict": "promote"}));
    no_id.as_object_mut().unwrap().remove("id");
    let (reason, message) = refusal(check_override(&no_id, false, &[SAM]));
    assert_eq!(reason, "malformed");
    assert!(message.contains("needs an `id`"), "{message}");
    // The bypass alone is enough.
    let c = usable(check_override(
        &signed(json!({"bypass_micro_pilot": true, "forced_verdict": null})),
        false,
        &[SAM],
    ));
    assert_eq!((c.bypass_micro_pilot, c.forced_verdict), (true, None));
}

/// An override must say why in at least ten characters, however it was
/// signed: `override issue` refuses a shorter reason, and so does reading
/// one made by `gavel sign --type override`. A legacy file has no reason.
#[test]
fn a_signed_override_without_a_ten_character_reason_is_malformed() {
    for (reason, ok) in [
        (json!("board approved"), true),
        (json!("ten chars!"), true),
        (json!("  nine ch  "), false),
        (json!("because"), false),
        (json!(""), false),
        (json!(42), false),
        (Value::Null, false),
    ] {
        let mut content = signed(json!({"forced_verdict": "promote"}));
        content["reason"] = reason.clone();
        let check = check_override(&content, false, &[SAM]);
        if ok {
            usable(check);
        } else {
            let (r, message) = refusal(check);
            assert_eq!(r, "malformed", "{reason}");
            assert!(
                message.contains("`reason`, in at least 10 characters"),
                "{reason}: {message}"
            );
        }
    }
    usable(check_override(
        &json!({"forced_verdict": "promote"}),
        true,
        &[],
    ));
}

#[test]
fn a_refused_check_gives_a_refused_input_whatever_its_content() {
    let content = signed(json!({"forced_verdict": "promote"}));
    let input = override_input(&content, "ovr-1", false, &[ANN], Some("wf-1")).unwrap();
    assert_eq!(
        input,
        OverrideInput {
            id: Some("ovr-1".into()),
            legacy: false,
            bypass_micro_pilot: false,
            forced_verdict: None,
            refused: Some("issuer_mismatch".into()),
        }
    );
    // A refused legacy override stays marked legacy.
    let other = override_input(
        &json!({"verdict": "demote", "workflow_id": "a"}),
        "k",
        true,
        &[],
        Some("b"),
    )
    .unwrap();
    assert_eq!(
        (other.legacy, other.refused.as_deref()),
        (true, Some("other_workflow"))
    );
    let legacy = override_input(&json!({"verdict": "demote"}), "k", true, &[], None).unwrap();
    assert_eq!(
        legacy,
        OverrideInput {
            id: Some("k".into()),
            legacy: true,
            bypass_micro_pilot: false,
            forced_verdict: Some(Verdict::Demote),
            refused: None,
        }
    );
}
