//! Offline review through the console (issue 20): two homes, each with its
//! own store and keychain, the console's (A: alice the author, carol an
//! approver) and a reviewer's (B: rita, whose key A's security identity
//! trusts as an approver). A package travels from A to B, an approval from
//! B to A; every refusal leaves A's store rows and audit chain as they were.

use std::sync::Arc;

use base64::Engine as _;
use gavel_console::{
    Console, Decision, Expect, LifecycleError, MemoryKeychain, ReviewError, VersionError,
};
use gavel_store::{AuditEntry, Store};
use gavel_trust::{PayloadKind, Role};
use serde_json::{Value, json};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

const V1: &str = include_str!("../../../fixtures/bundles/inbox-triage.yaml");

/// Version `version` of the inbox-triage bundle, its phishing threshold at
/// `threshold` (90 in the fixture).
fn inbox(version: &str, threshold: u32) -> String {
    V1.replace("version: 1.0.0", &format!("version: {version}"))
        .replace(
            "{\">=risk_score\": 90, \"category\": \"phishing\"}",
            &format!("{{\">=risk_score\": {threshold}, \"category\": \"phishing\"}}"),
        )
}

struct Home {
    dir: tempfile::TempDir,
    c: Console,
}

async fn home() -> Home {
    let dir = tempfile::tempdir().unwrap();
    let c = Console::open(dir.path(), Arc::new(MemoryKeychain::default()))
        .await
        .unwrap();
    Home { dir, c }
}

/// The console (alice: every person role; carol: approver) and the
/// reviewer's machine (rita: approver only), rita's key trusted in A as an
/// approver by alice (security).
async fn homes() -> (Home, Home) {
    let a = home().await;
    a.c.generate_identity("alice", "alice@example.com", None, None)
        .await
        .unwrap();
    a.c.generate_identity(
        "carol",
        "carol@example.com",
        Some(vec![Role::Approver]),
        Some("alice"),
    )
    .await
    .unwrap();
    let b = home().await;
    b.c.generate_identity("rita", "rita@example.com", Some(vec![Role::Approver]), None)
        .await
        .unwrap();
    let rita = b.c.export_key("rita").await.unwrap();
    a.c.trust_keys(vec![rita], Some(vec![Role::Approver]), Some("alice"))
        .await
        .unwrap();
    (a, b)
}

/// A submitted version of inbox-triage by alice.
async fn submitted(a: &Home, version: &str, threshold: u32) -> String {
    let v =
        a.c.create_version(
            "inbox.yaml",
            &inbox(version, threshold),
            None,
            Some("alice"),
        )
        .await
        .unwrap();
    a.c.submit(&v.reference, Some("alice")).await.unwrap();
    v.reference
}

fn payload(envelope: &Value) -> Value {
    let bytes = B64.decode(envelope["payload"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The envelope with its payload edited and encoded again, the signature
/// left as it was.
fn edited(envelope: &Value, edit: impl FnOnce(&mut Value)) -> Value {
    let mut p = payload(envelope);
    edit(&mut p);
    let mut out = envelope.clone();
    out["payload"] = B64.encode(serde_json::to_vec(&p).unwrap()).into();
    out
}

/// What a refusal must leave as it was: every audit entry, and every
/// approval and state of every version.
async fn snapshot(h: &Home) -> (Vec<AuditEntry>, Vec<String>) {
    let store = Store::open(&h.dir.path().join("gavel.db")).await.unwrap();
    let audit = store.audit_page(0, i64::MAX).await.unwrap();
    let mut rows = Vec::new();
    for v in
        h.c.list_versions(&gavel_console::ListQuery {
            name: None,
            status: None,
            limit: 1000,
            offset: 0,
        })
        .await
        .unwrap()
        .versions
    {
        rows.push(format!("{} {}", v.reference, v.status.as_str()));
        for a in store.approvals(&v.digest, None).await.unwrap() {
            rows.push(format!(
                "{} {} {}",
                a.environment,
                a.keyid,
                a.decision.as_str()
            ));
        }
        for (env, state, _) in store.deploy_states(v.id).await.unwrap() {
            rows.push(format!("{} {env} {}", v.reference, state.as_str()));
        }
    }
    (audit, rows)
}

async fn env(h: &Home, name: &str) -> gavel_console::Environment {
    h.c.environments()
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.name == name)
        .unwrap()
}

fn problems(e: ReviewError) -> Vec<String> {
    match e {
        ReviewError::PackageRefused { problems } => problems,
        other => panic!("expected a refused package, got: {other}"),
    }
}

#[tokio::test]
async fn offline_review_end_to_end_counts_toward_quorum() {
    let (a, b) = homes().await;
    let v1 = submitted(&a, "1.0.0", 90).await;
    let pack =
        a.c.pack_review(&v1, "prod", None, Some("alice"))
            .await
            .unwrap();
    assert_eq!(pack.reference, "inbox-triage@1.0.0");
    assert_eq!(pack.base_digest, None);
    assert_eq!(pack.approvals, 0);
    let p = payload(&pack.envelope);
    assert_eq!(p["environment"], "prod");
    assert_eq!(p["author"], "alice");
    assert_eq!(p["base"], Value::Null);
    assert_eq!(p["proposed"]["digest"], pack.digest.as_str());
    assert_eq!(
        p["proposed"]["bundle"]["metadata"]["name"], "inbox-triage",
        "the document in the JSON data model"
    );
    assert_eq!(p["simulation"]["seed"], gavel_console::EVIDENCE_SEED);
    let issued: jiff::Timestamp = p["issued_at"].as_str().unwrap().parse().unwrap();
    let expires: jiff::Timestamp = p["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires.as_second() - issued.as_second(), 14 * 86_400);
    // Packing is audited; nothing else changed.
    let audit = snapshot(&a).await.0;
    let last = audit.last().unwrap();
    assert_eq!(
        (
            last.action.as_str(),
            last.subject.as_str(),
            last.actor.as_str()
        ),
        ("review.pack", "inbox-triage@1.0.0", "alice")
    );
    assert_eq!(last.details["environment"], "prod");

    // The reviewer's machine: no copy of the bundle, no key of alice's.
    let shown = b.c.show_review(&pack.envelope).await.unwrap();
    assert!(shown.valid && shown.consistent, "{:?}", shown.problems);
    assert_eq!(shown.signature.status, "unknown_signer");
    assert_eq!(
        shown.signature.reason,
        Some(gavel_trust::Reason::UnknownKey)
    );
    assert!(shown.signature.signers.is_empty());
    assert!(
        shown
            .signature
            .message
            .contains("trust the signer's public key"),
        "{}",
        shown.signature.message
    );
    assert_eq!(shown.signature.keyids, vec![pack.keyid.clone()]);
    assert_eq!(shown.proposed.digest, pack.digest);
    // The console's own store knows who signed it.
    let here = a.c.show_review(&pack.envelope).await.unwrap();
    assert_eq!(here.signature.status, "verified");
    assert_eq!(here.signature.signers[0].name, "alice");
    assert_eq!(
        (here.signature.reason, here.signature.message.as_str()),
        (None, "valid")
    );

    let signed =
        b.c.sign_review(
            &pack.envelope,
            Decision::Approve,
            "read the diff offline",
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(signed.approver, "rita");
    assert_eq!(signed.package.status, "unknown_signer");
    let statement = payload(&signed.envelope);
    assert_eq!(statement["digest"], pack.digest.as_str());
    assert_eq!(statement["base_digest"], Value::Null);
    assert_eq!(statement["roles"], json!(["approver"]));
    // The evidence is the lifecycle's, to the number.
    let version = a.c.resolve_version(&v1).await.unwrap();
    let (evidence, base, _) = a.c.evidence(&version, "prod").await.unwrap();
    assert_eq!(base, None);
    assert_eq!(
        statement["evidence"],
        serde_json::to_value(&evidence).unwrap()
    );
    // Nothing was written on the reviewer's machine.
    assert!(
        snapshot(&b)
            .await
            .0
            .iter()
            .all(|e| e.action == "identity.create"),
        "the reviewer's store records only rita"
    );

    let record = a.c.import_review(&signed.envelope).await.unwrap();
    assert_eq!(
        (record.approver.as_str(), record.approvals, record.required),
        ("rita", 1, 2)
    );
    let tally = a.c.tally(&version, &env(&a, "prod").await).await.unwrap();
    assert_eq!(tally.counted.len(), 1);
    assert_eq!(tally.counted[0].name, "rita");
    let stored = a.c.approvals_of(&v1).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].source, "review");
    // One approval of two: not yet.
    let err =
        a.c.activate(&v1, "prod", &Expect::default(), Some("alice"))
            .await
            .unwrap_err();
    assert!(
        matches!(
            err,
            LifecycleError::QuorumNotMet {
                have: 1,
                need: 2,
                ..
            }
        ),
        "{err}"
    );
    // A package made now carries rita's approval, which A verifies.
    let again =
        a.c.pack_review(&v1, "prod", None, Some("alice"))
            .await
            .unwrap();
    assert_eq!(again.approvals, 1);
    let shown = a.c.show_review(&again.envelope).await.unwrap();
    assert_eq!(shown.approvals.len(), 1);
    assert!(
        shown.approvals[0].verified,
        "{}",
        shown.approvals[0].message
    );
    assert_eq!(shown.approvals[0].approver, "rita");
    // The reviewer does not decide twice from a newer package.
    let err =
        b.c.sign_review(&again.envelope, Decision::Approve, "", None, None)
            .await
            .unwrap_err();
    assert!(
        matches!(
            err,
            ReviewError::Lifecycle(LifecycleError::AlreadyDecided { .. })
        ),
        "{err}"
    );
    // The second approval reaches the quorum: activation works.
    a.c.decide(
        &v1,
        "prod",
        Decision::Approve,
        "fine by me",
        None,
        Some("carol"),
    )
    .await
    .unwrap();
    let t =
        a.c.activate(&v1, "prod", &Expect::default(), Some("alice"))
            .await
            .unwrap();
    assert_eq!(t.rollout.active.digest, pack.digest);

    // The next version is reviewed against the active one.
    let v2 = submitted(&a, "1.1.0", 80).await;
    let pack2 =
        a.c.pack_review(&v2, "prod", None, Some("alice"))
            .await
            .unwrap();
    assert_eq!(pack2.base_digest.as_deref(), Some(pack.digest.as_str()));
    let p2 = payload(&pack2.envelope);
    assert_eq!(p2["base"]["version"], "1.0.0");
    assert_eq!(p2["diff"]["modified"][0]["id"], "quarantine-high-risk");
    let shown = b.c.show_review(&pack2.envelope).await.unwrap();
    assert!(shown.valid, "{:?}", shown.problems);
    let signed2 =
        b.c.sign_review(&pack2.envelope, Decision::Approve, "", None, Some("rita"))
            .await
            .unwrap();
    assert_eq!(
        payload(&signed2.envelope)["base_digest"],
        pack.digest.as_str()
    );
    let version2 = a.c.resolve_version(&v2).await.unwrap();
    let (evidence2, _, _) = a.c.evidence(&version2, "prod").await.unwrap();
    assert_eq!(
        payload(&signed2.envelope)["evidence"],
        serde_json::to_value(&evidence2).unwrap()
    );
    let record = a.c.import_review(&signed2.envelope).await.unwrap();
    assert_eq!(record.approvals, 1);
}

/// Every example bundle makes a package that a reviewer's machine finds
/// consistent, with the evidence the console computes from its stored
/// (mostly YAML) documents.
#[tokio::test]
async fn every_example_packs_consistently() {
    let (a, b) = homes().await;
    let loaded = a.c.init(true).await.unwrap();
    assert!(loaded.examples.len() >= 5);
    for e in &loaded.examples {
        a.c.submit(&e.reference, Some("alice")).await.unwrap();
        let pack =
            a.c.pack_review(&e.reference, "dev", None, Some("alice"))
                .await
                .unwrap();
        let shown = b.c.show_review(&pack.envelope).await.unwrap();
        assert!(shown.valid, "{}: {:?}", e.reference, shown.problems);
        let version = a.c.resolve_version(&e.reference).await.unwrap();
        let (evidence, _, _) = a.c.evidence(&version, "dev").await.unwrap();
        let p = payload(&pack.envelope);
        assert_eq!(
            p["lint"],
            serde_json::to_value(evidence.lint).unwrap(),
            "{}",
            e.reference
        );
        for k in ["allow_to_deny", "deny_to_allow", "other"] {
            assert_eq!(
                p["simulation"][k],
                serde_json::to_value(&evidence.impact).unwrap()[k],
                "{}: {k}",
                e.reference
            );
        }
        assert_eq!(p["simulation"]["cases"], evidence.impact.cases);
    }
}

#[tokio::test]
async fn an_edited_package_is_refused_at_sign_naming_what_does_not_match() {
    let (a, b) = homes().await;
    let v1 = submitted(&a, "1.0.0", 90).await;
    let pack =
        a.c.pack_review(&v1, "prod", None, Some("alice"))
            .await
            .unwrap();
    let before = snapshot(&b).await;
    // A byte of the proposed document, the payload encoded again.
    let p = refused_sign(
        &b,
        edited(&pack.envelope, |p| {
            p["proposed"]["bundle"]["rules"][3]["conditions"][">=risk_score"] = json!(9);
        }),
    )
    .await;
    assert!(
        p.iter().any(|m| m.starts_with("`proposed.digest` says")
            && m.contains("the proposed document's digest is")),
        "{p:?}"
    );
    // The digest alone.
    let other = format!("sha256:{}", "0".repeat(64));
    let p = refused_sign(
        &b,
        edited(&pack.envelope, |p| {
            p["proposed"]["digest"] = other.clone().into();
        }),
    )
    .await;
    assert_eq!(
        p,
        vec![format!(
            "`proposed.digest` says {other} but the proposed document's digest is {}",
            pack.digest
        )]
    );
    // Document and digest edited together: the impact gives it away.
    let p = refused_sign(
        &b,
        edited(&pack.envelope, |p| {
            p["proposed"]["bundle"]["rules"][3]["conditions"][">=risk_score"] = json!(9);
            p["proposed"]["digest"] = gavel_trust::bundle_digest(&p["proposed"]["bundle"])
                .unwrap()
                .to_string()
                .into();
        }),
    )
    .await;
    assert!(
        p.iter()
            .any(|m| m.starts_with("`simulation` does not match")),
        "{p:?}"
    );
    assert!(p.iter().all(|m| !m.contains("digest")), "{p:?}");
    // An edit that changes none of them (a rule's reason) with its digest
    // recomputed is a package for another document: a reviewer who does
    // not know the console's key signs it, and the approval binds a
    // digest the console never submitted.
    let forged = edited(&pack.envelope, |p| {
        p["proposed"]["bundle"]["rules"][3]["reason"] = json!("Quarantine phishing, said mallory");
        p["proposed"]["digest"] = gavel_trust::bundle_digest(&p["proposed"]["bundle"])
            .unwrap()
            .to_string()
            .into();
    });
    let signed =
        b.c.sign_review(&forged, Decision::Approve, "", None, None)
            .await
            .unwrap();
    assert_eq!(signed.package.status, "unknown_signer");
    assert_ne!(signed.digest, pack.digest);
    let m = refused_import(&a, &signed.envelope, "approval_refused").await;
    assert!(m.contains("no version of this store has digest"), "{m}");
    // A document that is no bundle, its digest recomputed: named, with
    // where it is wrong.
    for (doc, says) in [
        (
            json!({"rules": [{"id": "abc", "agent": "inbox.*", "action": "allow", "effect": "maybe", "reason": "r"}]}),
            "the proposed document is not a valid bundle: `effect` must be one of `allow`, `deny`, `needs_approval`, found string `maybe` (at `/rules/0/effect`)",
        ),
        (
            json!({}),
            "the proposed document is not a valid bundle: object is missing required field `rules`",
        ),
    ] {
        let p = refused_sign(
            &b,
            edited(&pack.envelope, |p| {
                p["proposed"]["bundle"] = doc.clone();
                p["proposed"]["digest"] =
                    gavel_trust::bundle_digest(&doc).unwrap().to_string().into();
            }),
        )
        .await;
        assert_eq!(p, vec![says.to_string()]);
    }
    // The impact, the lint summary, the diff, the names.
    for (edit, named) in [
        (
            json!({"/simulation/allow_to_deny": 7}),
            "`simulation` does not match the impact simulated from the documents (the package says allow_to_deny 7, deny_to_allow ",
        ),
        (
            json!({"/simulation/seed": 1}),
            "`simulation` does not match",
        ),
        (
            json!({"/lint/errors": 3}),
            "`lint` does not match the lint summary of the proposed document (the package says total_rules 10, errors 3, warnings 1, info 1; recomputed: total_rules 10, errors 0, warnings 1, info 1)",
        ),
        (
            json!({"/diff/added": []}),
            "`diff` does not match the diff of the documents (the package says 0 added, 0 removed, 0 modified, class loosening; recomputed: 10 added, 0 removed, 0 modified, class loosening)",
        ),
        (json!({"/diff/unchanged": 99}), "`diff` does not match"),
        (
            json!({"/proposed/version": "9.9.9"}),
            "`proposed.version` says `9.9.9`",
        ),
        (json!({"/bundle": "other"}), "`bundle` says `other`"),
    ] {
        let (pointer, value) = edit.as_object().unwrap().iter().next().unwrap();
        let p = refused_sign(
            &b,
            edited(&pack.envelope, |p| {
                *p.pointer_mut(pointer).unwrap() = value.clone();
            }),
        )
        .await;
        assert!(p.iter().any(|m| m.starts_with(named)), "{pointer}: {p:?}");
    }
    // Where the reviewer trusts the console's author key, an edited
    // package is also a bad signature.
    let b2 = home().await;
    b2.c.generate_identity(
        "vera",
        "v@example.com",
        Some(vec![Role::Approver, Role::Security]),
        None,
    )
    .await
    .unwrap();
    let alice = a.c.export_key("alice").await.unwrap();
    b2.c.trust_keys(vec![alice], Some(vec![Role::Author]), None)
        .await
        .unwrap();
    let p = refused_sign(
        &b2,
        edited(&pack.envelope, |p| {
            p["lint"]["warnings"] = json!(0);
        }),
    )
    .await;
    assert!(
        p.iter()
            .any(|m| m.starts_with("its signature does not verify") && m.contains("bad_signature")),
        "{p:?}"
    );
    let shown = b2.c.show_review(&pack.envelope).await.unwrap();
    assert_eq!(shown.signature.status, "verified");
    assert!(shown.valid);
    // Not a review package at all.
    for doc in [
        json!({"payloadType": PayloadKind::Approval.media_type(), "payload": "", "signatures": []}),
        json!({"hello": "world"}),
        json!({"payloadType": PayloadKind::Review.media_type(), "payload": "%%", "signatures": []}),
    ] {
        let err = b.c.show_review(&doc).await.unwrap_err();
        assert_eq!(err.code(), Some("package_refused"), "{err}");
    }
    // A review payload signed under another payload type: refused before
    // anything else is read, whoever signed it.
    let (_, alice_key) = a.c.signing_key(Some("alice")).await.unwrap();
    let retyped = gavel_trust::sign_dsse(
        PayloadKind::Approval.media_type(),
        &payload(&pack.envelope),
        &[&alice_key],
    )
    .unwrap();
    for h in [&a, &b] {
        let err = h.c.show_review(&retyped).await.unwrap_err();
        assert!(err.to_string().contains("(wrong_payload_type)"), "{err}");
    }
    // An expired package, signed by alice's own key: refused at sign.
    let (_, key) = a.c.signing_key(Some("alice")).await.unwrap();
    let mut old = payload(&pack.envelope);
    let o = old.as_object_mut().unwrap();
    o.remove("issued_at");
    o.remove("expires_at");
    let past = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(48))
        .unwrap();
    let stamped = gavel_trust::stamp(PayloadKind::Review, &old, past, 3600).unwrap();
    let expired = gavel_trust::sign_dsse(REVIEW, &stamped, &[&key]).unwrap();
    let p = refused_sign(&b, expired.clone()).await;
    assert!(p.iter().any(|m| m.starts_with("it expired at")), "{p:?}");
    // Where the signer is known, an expired package still shows who
    // signed it: the signature verified, the time did not.
    let shown = b2.c.show_review(&expired).await.unwrap();
    assert_eq!(shown.signature.status, "verified");
    assert_eq!(shown.signature.reason, None);
    assert_eq!(shown.signature.message, "valid");
    assert_eq!(shown.problems.len(), 1, "{:?}", shown.problems);
    assert!(shown.consistent);
    // Issued in the future: a minute of clock skew is fine, more is not.
    let at = |seconds: i64| {
        let t = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() + seconds).unwrap();
        let stamped = gavel_trust::stamp(PayloadKind::Review, &old, t, 3600).unwrap();
        gavel_trust::sign_dsse(REVIEW, &stamped, &[&key]).unwrap()
    };
    let p = refused_sign(&b, at(600)).await;
    assert!(
        p.iter().any(|m| m.starts_with("it is not valid before")),
        "{p:?}"
    );
    assert!(b.c.show_review(&at(30)).await.unwrap().valid);
    // Refusals wrote nothing on the reviewer's machine.
    assert_eq!(snapshot(&b).await, before);
}

const REVIEW: &str = gavel_console::REVIEW_TYPE;

/// Signs `doc` on `h` (the reviewer's machine), expecting the package to
/// be refused there and by `show`; returns the problems named.
async fn refused_sign(h: &Home, doc: Value) -> Vec<String> {
    let err =
        h.c.sign_review(&doc, Decision::Approve, "", None, None)
            .await
            .unwrap_err();
    assert!(err.is_refusal(), "{err}");
    assert_eq!(err.code(), Some("package_refused"));
    assert!(err.to_string().contains("nothing was signed"), "{err}");
    let shown = h.c.show_review(&doc).await.unwrap();
    assert!(!shown.valid);
    problems(err)
}

/// Rita's approval of a fresh package of `reference` for `env`.
async fn approval(a: &Home, b: &Home, reference: &str, env: &str) -> Value {
    let pack =
        a.c.pack_review(reference, env, None, Some("alice"))
            .await
            .unwrap();
    b.c.sign_review(&pack.envelope, Decision::Approve, "", None, None)
        .await
        .unwrap()
        .envelope
}

/// Imports `doc` into A, expecting a refusal with `code` that changes
/// nothing; returns the message.
async fn refused_import(a: &Home, doc: &Value, code: &str) -> String {
    let before = snapshot(a).await;
    let err = a.c.import_review(doc).await.unwrap_err();
    assert_eq!(err.code(), Some(code), "{err}");
    assert!(err.is_refusal(), "{err}");
    assert_eq!(snapshot(a).await, before, "{err}");
    err.to_string()
}

#[tokio::test]
async fn an_edited_approval_is_refused_at_import() {
    let (a, b) = homes().await;
    let v1 = submitted(&a, "1.0.0", 90).await;
    let signed = approval(&a, &b, &v1, "prod").await;
    for edit in [
        Box::new(|p: &mut Value| p["comment"] = json!("edited after signing"))
            as Box<dyn Fn(&mut Value)>,
        Box::new(|p: &mut Value| p["evidence"]["impact"]["allow_to_deny"] = json!(5)),
        Box::new(|p: &mut Value| p["environment"] = json!("staging")),
        Box::new(|p: &mut Value| p["expires_at"] = json!("2099-01-01T00:00:00Z")),
    ] {
        let doc = edited(&signed, |p| edit(p));
        let m = refused_import(&a, &doc, "approval_refused").await;
        assert!(
            m.contains("(bad_signature)") && m.contains("nothing was recorded"),
            "{m}"
        );
    }
    // Two signatures, rita's and another of hers.
    let mut twice = signed.clone();
    let sig = twice["signatures"][0].clone();
    twice["signatures"].as_array_mut().unwrap().push(sig);
    let m = refused_import(&a, &twice, "approval_refused").await;
    assert!(m.contains("exactly one signature"), "{m}");
    // The untouched one is recorded.
    a.c.import_review(&signed).await.unwrap();
}

#[tokio::test]
async fn imports_that_must_be_refused_change_nothing() {
    let (a, b) = homes().await;
    let v1 = submitted(&a, "1.0.0", 90).await;
    let signed = approval(&a, &b, &v1, "prod").await;

    // An untrusted key: mallory, an approver on her own machine only.
    let m_home = home().await;
    m_home
        .c
        .generate_identity("mallory", "m@example.com", Some(vec![Role::Approver]), None)
        .await
        .unwrap();
    let pack =
        a.c.pack_review(&v1, "prod", None, Some("alice"))
            .await
            .unwrap();
    let by_mallory = m_home
        .c
        .sign_review(&pack.envelope, Decision::Approve, "", None, None)
        .await
        .unwrap()
        .envelope;
    let m = refused_import(&a, &by_mallory, "approval_refused").await;
    assert!(m.contains("(unknown_key)"), "{m}");

    // The author, with her own key (she holds the approver role).
    let statement = {
        let mut s = payload(&signed);
        let o = s.as_object_mut().unwrap();
        o.remove("issued_at");
        o.remove("expires_at");
        s["approver"] = json!("alice");
        s["roles"] = json!(["author", "approver", "analyst", "security"]);
        s
    };
    let by_alice =
        a.c.sign_statement(PayloadKind::Approval, &statement, None, Some("alice"))
            .await
            .unwrap();
    let m = refused_import(&a, &by_alice, "author_cannot_approve").await;
    assert!(m.contains("`alice` is the author"), "{m}");
    // Stating roles the console has not granted her: refused as malformed.
    let mut s = statement.clone();
    s["approver"] = json!("rita");
    s["roles"] = json!(["approver", "security"]);
    let (_, rita_key) = b.c.signing_key(Some("rita")).await.unwrap();
    let stamped =
        gavel_trust::stamp(PayloadKind::Approval, &s, jiff::Timestamp::now(), 3600).unwrap();
    let overclaimed =
        gavel_trust::sign_dsse(PayloadKind::Approval.media_type(), &stamped, &[&rita_key]).unwrap();
    let m = refused_import(&a, &overclaimed, "approval_refused").await;
    assert!(
        m.contains("(malformed)") && m.contains("holds `approver`"),
        "{m}"
    );

    // Recorded once; the second import is refused.
    a.c.import_review(&signed).await.unwrap();
    let m = refused_import(&a, &signed, "already_decided").await;
    assert!(m.contains("already approved"), "{m}");

    // A draft: rita signs an approval of its digest by hand.
    let draft =
        a.c.create_version("inbox.yaml", &inbox("1.5.0", 70), None, Some("alice"))
            .await
            .unwrap();
    let err =
        a.c.pack_review(&draft.reference, "prod", None, Some("alice"))
            .await
            .unwrap_err();
    assert_eq!(err.code(), Some("not_submitted"), "{err}");
    let mut s = payload(&signed);
    let o = s.as_object_mut().unwrap();
    o.remove("issued_at");
    o.remove("expires_at");
    s["digest"] = json!(draft.digest);
    s["version"] = json!("1.5.0");
    let for_draft =
        b.c.sign_statement(PayloadKind::Approval, &s, None, Some("rita"))
            .await
            .unwrap();
    refused_import(&a, &for_draft, "not_submitted").await;
    // A digest this store does not have, an environment it does not have.
    let mut s2 = s.clone();
    s2["digest"] = json!(format!("sha256:{}", "7".repeat(64)));
    let unknown =
        b.c.sign_statement(PayloadKind::Approval, &s2, None, Some("rita"))
            .await
            .unwrap();
    let m = refused_import(&a, &unknown, "approval_refused").await;
    assert!(m.contains("no version of this store has digest"), "{m}");
    let mut s3 = payload(&signed);
    let o = s3.as_object_mut().unwrap();
    o.remove("issued_at");
    o.remove("expires_at");
    s3["environment"] = json!("moon");
    let moon =
        b.c.sign_statement(PayloadKind::Approval, &s3, None, Some("rita"))
            .await
            .unwrap();
    let m = refused_import(&a, &moon, "approval_refused").await;
    assert!(m.contains("environment `moon`"), "{m}");
    // A rejection without a reason, signed by hand.
    let mut s4 = payload(&signed);
    let o = s4.as_object_mut().unwrap();
    o.remove("issued_at");
    o.remove("expires_at");
    s4["environment"] = json!("staging");
    s4["decision"] = json!("reject");
    s4["comment"] = json!("no");
    let curt =
        b.c.sign_statement(PayloadKind::Approval, &s4, None, Some("rita"))
            .await
            .unwrap();
    refused_import(&a, &curt, "comment_required").await;
    // Not an approval: the package itself.
    let m = refused_import(&a, &pack.envelope, "approval_refused").await;
    assert!(
        m.contains("(unknown_key)") || m.contains("(wrong_payload_type)"),
        "{m}"
    );
}

/// The active version moved between packing and importing: the approval
/// was of a change against another base.
#[tokio::test]
async fn an_approval_against_another_base_is_refused_as_stale() {
    let (a, b) = homes().await;
    let v1 = submitted(&a, "1.0.0", 90).await;
    a.c.decide(&v1, "dev", Decision::Approve, "ok", None, Some("carol"))
        .await
        .unwrap();
    a.c.activate(&v1, "dev", &Expect::default(), Some("alice"))
        .await
        .unwrap();
    let v2 = submitted(&a, "1.1.0", 80).await;
    let v3 = submitted(&a, "1.2.0", 85).await;
    let for_v2 = approval(&a, &b, &v2, "dev").await;
    assert_eq!(
        payload(&for_v2)["base_digest"],
        a.c.resolve_version(&v1).await.unwrap().digest.as_str()
    );
    a.c.decide(&v3, "dev", Decision::Approve, "ok", None, Some("carol"))
        .await
        .unwrap();
    a.c.activate(&v3, "dev", &Expect::default(), Some("alice"))
        .await
        .unwrap();
    let m = refused_import(&a, &for_v2, "stale_state").await;
    assert!(
        m.contains("another base") && m.contains("gavel review pack inbox-triage@1.1.0 --env dev"),
        "{m}"
    );
    // Packed again against the new base, it goes in.
    let again = approval(&a, &b, &v2, "dev").await;
    let record = a.c.import_review(&again).await.unwrap();
    assert_eq!(record.state.as_str(), "approved");
    // And the active version itself takes no package.
    let err =
        a.c.pack_review(&v3, "dev", None, Some("alice"))
            .await
            .unwrap_err();
    assert_eq!(err.code(), Some("review_closed"), "{err}");
    assert!(err.is_refusal());
}

#[tokio::test]
async fn signing_needs_the_approver_role_a_reason_to_reject_and_not_the_author() {
    let (a, b) = homes().await;
    let v1 = submitted(&a, "1.0.0", 90).await;
    let pack =
        a.c.pack_review(&v1, "prod", None, Some("alice"))
            .await
            .unwrap();
    // A rejection needs at least 10 characters.
    let err =
        b.c.sign_review(&pack.envelope, Decision::Reject, "  nope   ", None, None)
            .await
            .unwrap_err();
    assert_eq!(err.code(), Some("comment_required"), "{err}");
    // An identity without the approver role here signs nothing.
    let c = home().await;
    c.c.generate_identity("sam", "s@example.com", Some(vec![Role::Analyst]), None)
        .await
        .unwrap();
    let err =
        c.c.sign_review(&pack.envelope, Decision::Approve, "", None, None)
            .await
            .unwrap_err();
    assert!(
        err.is_refusal() && err.to_string().contains("approver role"),
        "{err}"
    );
    // The author reviewing her own version offline.
    let d = home().await;
    d.c.generate_identity("alice", "a@example.com", Some(vec![Role::Approver]), None)
        .await
        .unwrap();
    let err =
        d.c.sign_review(&pack.envelope, Decision::Approve, "", None, None)
            .await
            .unwrap_err();
    assert_eq!(err.code(), Some("author_cannot_approve"), "{err}");
    assert!(
        err.to_string()
            .starts_with("`alice` is the author of `inbox-triage@1.0.0`"),
        "{err}"
    );
    // A rejection signed offline and imported closes the review.
    let no =
        b.c.sign_review(
            &pack.envelope,
            Decision::Reject,
            "quarantines too much",
            Some(3600),
            None,
        )
        .await
        .unwrap();
    let p = payload(&no.envelope);
    let t = |k: &str| {
        p[k].as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_second()
    };
    assert_eq!(t("expires_at") - t("issued_at"), 3600);
    let record = a.c.import_review(&no.envelope).await.unwrap();
    assert_eq!(record.state.as_str(), "rejected");
    let err =
        a.c.pack_review(&v1, "prod", None, Some("alice"))
            .await
            .unwrap_err();
    assert_eq!(err.code(), Some("review_closed"), "{err}");
    let err =
        a.c.activate(&v1, "prod", &Expect::default(), Some("alice"))
            .await
            .unwrap_err();
    assert!(matches!(err, LifecycleError::Rejected { .. }), "{err}");
}

#[tokio::test]
async fn packing_needs_an_author_an_environment_and_a_known_version() {
    let (a, _b) = homes().await;
    let v1 = submitted(&a, "1.0.0", 90).await;
    let before = snapshot(&a).await;
    let err =
        a.c.pack_review(&v1, "prod", None, Some("carol"))
            .await
            .unwrap_err();
    assert_eq!(err.code(), None, "a console refusal: {err}");
    assert!(
        err.is_refusal() && err.to_string().contains("author role"),
        "{err}"
    );
    let err =
        a.c.pack_review(&v1, "moon", None, Some("alice"))
            .await
            .unwrap_err();
    assert_eq!(err.code(), Some("not_found"));
    assert!(!err.is_refusal());
    let err =
        a.c.pack_review("inbox-triage@9.9.9", "prod", None, Some("alice"))
            .await
            .unwrap_err();
    assert!(
        matches!(
            err,
            ReviewError::Lifecycle(LifecycleError::Version(VersionError::NotFound(_)))
        ),
        "{err}"
    );
    assert_eq!(snapshot(&a).await, before);
}

/// Regression: numbers written as floats (`1.0`, `90.0`) reach the
/// reviewer in canonical JSON (`1`, `90`); the diff, impact and lint
/// recomputed there still match what the console packed.
#[tokio::test]
async fn whole_numbers_written_as_floats_survive_the_trip() {
    let (a, b) = homes().await;
    let floats = |version: &str, threshold: &str, cost: &str| {
        inbox(version, 90)
            .replace(
                "\">=risk_score\": 90,",
                &format!("\">=risk_score\": {threshold},"),
            )
            .replace("budget: {cost: 0.05,", &format!("budget: {{cost: {cost},"))
    };
    let v1 =
        a.c.create_version(
            "v1.yaml",
            &floats("1.0.0", "90.0", "1.0"),
            None,
            Some("alice"),
        )
        .await
        .unwrap();
    a.c.submit(&v1.reference, Some("alice")).await.unwrap();
    a.c.decide(
        &v1.reference,
        "dev",
        Decision::Approve,
        "ok",
        None,
        Some("carol"),
    )
    .await
    .unwrap();
    a.c.activate(&v1.reference, "dev", &Expect::default(), Some("alice"))
        .await
        .unwrap();
    let v2 =
        a.c.create_version(
            "v2.yaml",
            &floats("1.1.0", "80.5", "2.0"),
            None,
            Some("alice"),
        )
        .await
        .unwrap();
    a.c.submit(&v2.reference, Some("alice")).await.unwrap();
    let pack =
        a.c.pack_review(&v2.reference, "dev", None, Some("alice"))
            .await
            .unwrap();
    let p = payload(&pack.envelope);
    assert_eq!(
        p["diff"]["modified"].as_array().unwrap().len(),
        2,
        "{}",
        p["diff"]
    );
    let shown = b.c.show_review(&pack.envelope).await.unwrap();
    assert!(shown.valid, "{:?}", shown.problems);
    let signed =
        b.c.sign_review(&pack.envelope, Decision::Approve, "", None, None)
            .await
            .unwrap();
    a.c.import_review(&signed.envelope).await.unwrap();
}

/// A package carrying approvals for another environment or digest (made
/// by hand, signed by the console's author): shown as not verified, and
/// no reason for the reviewer not to decide.
#[tokio::test]
async fn approvals_a_package_carries_are_shown_for_what_they_are() {
    let (a, b) = homes().await;
    let v1 = submitted(&a, "1.0.0", 90).await;
    let staging = approval(&a, &b, &v1, "staging").await;
    let v2 = submitted(&a, "1.1.0", 80).await;
    let other = approval(&a, &b, &v2, "prod").await;
    let pack =
        a.c.pack_review(&v1, "prod", None, Some("alice"))
            .await
            .unwrap();
    let mut p = payload(&pack.envelope);
    let o = p.as_object_mut().unwrap();
    o.remove("issued_at");
    o.remove("expires_at");
    p["signatures"] = json!([staging, other]);
    let (_, key) = a.c.signing_key(Some("alice")).await.unwrap();
    let stamped =
        gavel_trust::stamp(PayloadKind::Review, &p, jiff::Timestamp::now(), 3600).unwrap();
    let carrying = gavel_trust::sign_dsse(REVIEW, &stamped, &[&key]).unwrap();
    let shown = a.c.show_review(&carrying).await.unwrap();
    assert!(shown.valid, "{:?}", shown.problems);
    assert_eq!(shown.approvals.len(), 2);
    for a in &shown.approvals {
        assert!(!a.verified);
        assert_eq!(
            a.message,
            "it names another digest or environment than the package"
        );
        assert_eq!(a.approver, "rita");
    }
    // Rita's own machine knows her key, and finds the same.
    let there = b.c.show_review(&carrying).await.unwrap();
    assert_eq!(there.approvals, shown.approvals);
    // Rita decided elsewhere, not here: she may sign.
    let signed =
        b.c.sign_review(&carrying, Decision::Approve, "", None, None)
            .await
            .unwrap();
    a.c.import_review(&signed.envelope).await.unwrap();
}

/// A package carrying the reviewer's own decision on it (by hand: the
/// console packs nothing once a version is rejected) is refused, naming
/// that decision.
#[tokio::test]
async fn a_reviewer_does_not_decide_twice_from_a_package() {
    let (a, b) = homes().await;
    let v1 = submitted(&a, "1.0.0", 90).await;
    let pack =
        a.c.pack_review(&v1, "prod", None, Some("alice"))
            .await
            .unwrap();
    let no =
        b.c.sign_review(
            &pack.envelope,
            Decision::Reject,
            "quarantines too much",
            None,
            None,
        )
        .await
        .unwrap();
    let mut p = payload(&pack.envelope);
    let o = p.as_object_mut().unwrap();
    o.remove("issued_at");
    o.remove("expires_at");
    p["signatures"] = json!([no.envelope]);
    let (_, key) = a.c.signing_key(Some("alice")).await.unwrap();
    let stamped =
        gavel_trust::stamp(PayloadKind::Review, &p, jiff::Timestamp::now(), 3600).unwrap();
    let carrying = gavel_trust::sign_dsse(REVIEW, &stamped, &[&key]).unwrap();
    let err =
        b.c.sign_review(&carrying, Decision::Approve, "", None, None)
            .await
            .unwrap_err();
    assert_eq!(err.code(), Some("already_decided"), "{err}");
    let m = err.to_string();
    assert!(
        m.contains("already rejected") && m.contains("`inbox-triage@1.0.0` for prod"),
        "{m}"
    );
}

/// An approval naming a digest of this store but another version.
#[tokio::test]
async fn an_approval_naming_another_version_is_refused() {
    let (a, b) = homes().await;
    let v1 = submitted(&a, "1.0.0", 90).await;
    let signed = approval(&a, &b, &v1, "prod").await;
    let mut s = payload(&signed);
    let o = s.as_object_mut().unwrap();
    o.remove("issued_at");
    o.remove("expires_at");
    s["version"] = json!("1.0.1");
    let renamed =
        b.c.sign_statement(PayloadKind::Approval, &s, None, Some("rita"))
            .await
            .unwrap();
    let m = refused_import(&a, &renamed, "approval_refused").await;
    assert!(m.contains("it names version `1.0.1`, but digest"), "{m}");
    assert!(m.contains("is `inbox-triage@1.0.0`"), "{m}");
}

/// An approval signed with a key that has since been rotated out is not
/// taken: the approver signs again with the identity's current key.
#[tokio::test]
async fn an_approval_by_a_key_retired_since_is_refused_at_import() {
    let (a, _b) = homes().await;
    let v1 = submitted(&a, "1.0.0", 90).await;
    let pack =
        a.c.pack_review(&v1, "prod", None, Some("alice"))
            .await
            .unwrap();
    let signed =
        a.c.sign_review(&pack.envelope, Decision::Approve, "", None, Some("carol"))
            .await
            .unwrap()
            .envelope;
    a.c.rotate("carol").await.unwrap();
    let m = refused_import(&a, &signed, "not_an_approver").await;
    assert!(m.contains("retired"), "{m}");
}

/// A recorded approval stops counting once its key is no longer trusted:
/// quorum is counted from the signed envelopes against the trust store of
/// the moment, not from what was recorded.
#[tokio::test]
async fn an_approval_stops_counting_when_its_key_is_untrusted() {
    let (a, b) = homes().await;
    let v1 = submitted(&a, "1.0.0", 90).await;
    let signed = approval(&a, &b, &v1, "dev").await;
    a.c.import_review(&signed).await.unwrap();
    let version = a.c.resolve_version(&v1).await.unwrap();
    let dev = env(&a, "dev").await;
    assert_eq!(a.c.tally(&version, &dev).await.unwrap().counted.len(), 1);
    let rita = b.c.export_key("rita").await.unwrap();
    a.c.untrust_key(&rita.keyid.0, Some("alice")).await.unwrap();
    let tally = a.c.tally(&version, &dev).await.unwrap();
    assert!(tally.counted.is_empty());
    assert!(
        tally.not_counted[0].contains("rita"),
        "{:?}",
        tally.not_counted
    );
    let e =
        a.c.activate(&v1, "dev", &gavel_console::Expect::default(), Some("alice"))
            .await
            .unwrap_err();
    assert_eq!(e.code(), Some("quorum_not_met"), "{e}");
}
