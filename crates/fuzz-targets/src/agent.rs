//! The agent: `/v1/decide` and batch bodies read as the server reads them
//! (`gavel_agent::body`) and decided as it decides them (the embedded
//! engine goes through the same serving code), and rollout documents and
//! versions checked by `gavel_agent::verify`.

use std::sync::OnceLock;

use gavel_agent::body::{Batch, BodyError, DecideBody, decode_batch_body, decode_decide_body};
use gavel_agent::verify::{self, Named};
use gavel_policy::{Engine, Format, Request};
use gavel_trust::{PayloadKind, sign_dsse, stamp};
use serde_json::{Value, json};

use crate::{Source, keys, now};

/// The bundle bodies are decided with: the inbox-triage example.
const BUNDLE_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/bundles/inbox-triage.yaml"
);
const BUNDLE: &str = include_str!("../../../fixtures/bundles/inbox-triage.yaml");

struct Engines {
    /// With a decision cache, as the server decides.
    served: gavel_agent::embed::Engine,
    /// Without one.
    fresh: gavel_agent::embed::Engine,
    plain: Engine,
}

fn embedded(capacity: usize) -> gavel_agent::embed::Engine {
    match gavel_agent::embed::Engine::builder()
        .with_policy_file(BUNDLE_FILE)
        .with_cache_capacity(capacity)
        .build()
    {
        Ok(e) => e,
        Err(e) => panic!("the fixture bundle does not load: {e}"),
    }
}

fn engines() -> &'static Engines {
    static ENGINES: OnceLock<Engines> = OnceLock::new();
    ENGINES.get_or_init(|| {
        let plain = match gavel_policy::parse_bundle(BUNDLE, Format::Yaml) {
            Ok(b) => Engine::compile(&b),
            Err(e) => panic!("the fixture bundle does not load: {e}"),
        };
        Engines {
            served: embedded(64),
            fresh: embedded(0),
            plain,
        }
    })
}

/// Decides `request` as the server does; the answer is one JSON object
/// naming the version, and when the request has its own time the plain
/// engine decides the same; the cache answers as deciding afresh does
/// (the example bundle reads no clock, so even without a time), and asked
/// again it answers the same.
fn decide(request: &Request<'_>) {
    let e = engines();
    let answer = e.served.decide(request);
    let parsed: Value = match serde_json::from_str(&answer) {
        Ok(v) => v,
        Err(err) => panic!("the decision is not JSON: {err}\n{answer}"),
    };
    let field = |k: &str| parsed.get(k).and_then(Value::as_str);
    assert_eq!(field("version"), Some("1.0.0"), "{answer}");
    if request.timestamp.is_some() {
        let d = e.plain.decide(request);
        assert_eq!(field("effect"), Some(d.effect.as_str()), "{answer}");
        assert_eq!(field("rule_id"), d.rule_id(), "{answer}");
    }
    assert_eq!(
        e.fresh.decide(request),
        answer,
        "the cache answers for another request"
    );
    assert_eq!(
        e.served.decide(request),
        answer,
        "the cache answers otherwise"
    );
}

/// A `/v1/decide` body: refused with a code, or read into a request that
/// reads the same once its line breaks are spaces (as the decision log
/// writes it), and decided.
pub fn decide_body(data: &[u8]) {
    match decode_decide_body(data) {
        Ok(DecideBody { text, request }) => {
            let one_line = text.replace(['\n', '\r'], " ");
            match serde_json::from_str::<Request<'_>>(&one_line) {
                Ok(again) => assert_eq!(again, request, "one line reads otherwise"),
                Err(e) => panic!("the request on one line does not read: {e}"),
            }
            decide(&request);
        }
        Err(e) => {
            assert_eq!(e.code(), "invalid_request");
            let _ = e.to_string();
        }
    }
}

/// A batch body read both ways the server reads it: in one pass, and item
/// by item. When one pass reads every request, item by item reads the
/// same requests; when neither reads the body they refuse it alike; each
/// item reads as the same body sent alone to `/v1/decide` would.
pub fn batch_body(data: &[u8]) {
    let whole = decode_batch_body(data, true);
    let items = decode_batch_body(data, false);
    match (&whole, &items) {
        (Ok(Batch::Whole(requests)), Ok(Batch::Items(items))) => {
            assert_eq!(requests.len(), items.len());
            for (r, item) in requests.iter().zip(items) {
                assert_eq!(item.request.as_ref(), Ok(r), "item {}", item.text);
            }
        }
        (Ok(Batch::Items(a)), Ok(Batch::Items(b))) => assert_eq!(a, b),
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("the two readings of a batch differ: {whole:?} / {items:?}"),
    }
    if let Ok(Batch::Items(items)) = &items {
        for item in items {
            let alone = decode_decide_body(item.text.as_bytes());
            match (&item.request, &alone) {
                (Ok(a), Ok(b)) => assert_eq!(a, &b.request),
                (Err(_), Err(BodyError::Invalid(_))) => {}
                _ => panic!("an item reads otherwise alone: {item:?} / {alone:?}"),
            }
            if let Ok(r) = &item.request {
                decide(r);
            }
        }
    }
}

const DIGEST: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// A rollout payload signed here: the fuzzer's object with the fields
/// the first bytes choose put in, stamped and signed by the keys a mask
/// chooses.
fn signed_rollout(src: &mut Source<'_>) -> Option<Value> {
    let fill = src.byte();
    let serial = src.byte();
    let percent = src.byte() % 102;
    let mask = src.byte();
    let stamped = src.bool();
    let rest = src.rest();
    let mut payload = if rest.is_empty() {
        json!({})
    } else {
        serde_json::from_slice::<Value>(rest).ok()?
    };
    if let Some(map) = payload.as_object_mut() {
        let named =
            json!({"version": "1.0.0", "digest": DIGEST, "activated_at": "2026-01-01T00:00:00Z"});
        for (bit, key, value) in [
            (1, "bundle", json!("inbox-triage")),
            (2, "environment", json!("prod")),
            (4, "serial", json!(serial)),
            (8, "stable", named),
            (
                16,
                "canary",
                json!({"version": "1.1.0", "digest": DIGEST, "activated_at": "2026-01-01T00:00:00Z", "percent": percent}),
            ),
        ] {
            if fill & bit != 0 {
                map.insert(key.into(), value);
            }
        }
    }
    if stamped {
        payload = stamp(PayloadKind::Rollout, &payload, now(), 3600).ok()?;
    }
    let signers = keys::chosen(mask);
    let refs: Vec<_> = signers.iter().collect();
    sign_dsse(PayloadKind::Rollout.media_type(), &payload, &refs).ok()
}

/// The first byte chooses: a rollout document as found, one signed here,
/// or a version's bundle bytes with approvals signed here for their
/// digest. A document is accepted only above the serial serving (the same
/// serial only as the very document serving), with a canary's percent
/// from 1 to 99; a version is accepted only as a valid bundle.
pub fn rollout_document(data: &[u8]) {
    let mut src = Source::new(data);
    let trusted = keys::trusted();
    let doc = match src.byte() % 3 {
        0 => match serde_json::from_slice::<Value>(src.rest()) {
            Ok(d) => d,
            Err(_) => return,
        },
        1 => match signed_rollout(&mut src) {
            Some(d) => d,
            None => return,
        },
        _ => return version(&mut src, &trusted),
    };
    let other = json!({"payloadType": PayloadKind::Rollout.media_type()});
    for current in [None, Some((3, &doc)), Some((3, &other)), Some((0, &other))] {
        match verify::rollout(&doc, &trusted, "inbox-triage", "prod", current, now()) {
            Ok(Some(r)) => {
                if let Some((serving, _)) = current {
                    assert!(r.serial > serving, "serial {} over {serving}", r.serial);
                }
                if let Some(c) = &r.canary {
                    assert!(c.percent.is_some_and(|p| (1..=99).contains(&p)), "{c:?}");
                }
                assert_eq!(r.envelope, doc);
            }
            Ok(None) => assert!(
                current.is_some_and(|(_, serving)| serving == &doc),
                "no change, but not the document serving"
            ),
            Err(refusal) => assert!(
                [
                    "bad_signature",
                    "untrusted",
                    "wrong_target",
                    "lower_serial",
                    "expired",
                    "malformed",
                ]
                .contains(&refusal.code),
                "{refusal}"
            ),
        }
    }
}

fn version(src: &mut Source<'_>, trusted: &[gavel_trust::PublicKey]) {
    let quorum = u32::from(src.byte() % 4);
    let approvers = src.byte();
    let bytes = src.rest();
    let digest = std::str::from_utf8(bytes)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .and_then(|v| gavel_trust::bundle_digest(&v).ok())
        .map_or_else(|| DIGEST.to_string(), |d| d.to_string());
    let named = Named {
        version: "1.0.0".into(),
        digest: digest.clone(),
        activated_at: "2027-01-15T08:00:00Z".into(),
        percent: None,
    };
    let envelopes: Vec<Value> = [(2, "ann"), (3, "bo")]
        .into_iter()
        .enumerate()
        .filter(|(i, _)| approvers & (1 << i) != 0)
        .filter_map(|(_, (seed, name))| {
            let statement = json!({"digest": digest, "base_digest": null, "version": "1.0.0",
                "environment": "prod", "decision": "approve", "comment": "", "approver": name,
                "roles": ["approver"],
                "evidence": {"lint": {}, "impact": {"allow_to_deny": 0, "deny_to_allow": 0, "other": 0}}});
            let p = stamp(PayloadKind::Approval, &statement, now(), 3600).ok()?;
            sign_dsse(PayloadKind::Approval.media_type(), &p, &[&keys::signing(seed)]).ok()
        })
        .collect();
    // Without an author key trusted, no bundle envelope is needed.
    let approvers_only: Vec<_> = trusted
        .iter()
        .filter(|k| !k.has_role(gavel_trust::Role::Author))
        .cloned()
        .collect();
    match verify::version(&named, bytes, &envelopes, &approvers_only, quorum, "prod") {
        Ok(engine) => {
            let text = std::str::from_utf8(bytes).unwrap_or_default();
            assert!(gavel_policy::parse_bundle(text, Format::Json).is_ok());
            let needed = engine
                .rules()
                .iter()
                .map(gavel_policy::CompiledRule::approvals_required)
                .max()
                .unwrap_or(0)
                .max(quorum);
            assert!(
                envelopes.len() >= needed as usize,
                "accepted with too few approvals"
            );
        }
        Err(refusal) => assert!(!refusal.message.is_empty()),
    }
}
