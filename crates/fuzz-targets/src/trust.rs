//! Signed documents: every envelope format verified as found, and payloads
//! the fuzzer wrote signed with the test keys (DSSE, co-signed DSSE, the
//! team export, both legacy formats), written out as text and read back:
//! what was signed always verifies past the signature. Trust documents
//! followed (or refused) by the rules of `gavel-trust::team`.

use gavel_trust::{
    Following, PAYLOAD_TYPES, PayloadKind, Reason, Sensitive, TrustDocument, Verification,
    VerifyOptions, accept_trust_document, add_dsse_signature, canonicalize, legacy_export,
    legacy_override, python_dumps, sign_dsse, stamp, team_export, verify, verify_by_owner,
};
use serde_json::Value;

use crate::{Source, keys, now};

const SECRET: &[u8] = b"team-secret-\xc3\xa9";

/// A payload type: one of Gavel's, or one it does not sign.
fn payload_type(src: &mut Source<'_>) -> &'static str {
    src.pick(&PAYLOAD_TYPES)
        .filter(|_| src.below(8) != 0)
        .unwrap_or("application/vnd.in-toto+json")
}

/// What must hold of any verification.
fn consistent(v: &Verification, what: &str) {
    assert_eq!(
        v.valid,
        v.reason.is_none(),
        "{what}: valid and reason disagree: {v:?}"
    );
    if v.valid {
        assert!(
            v.payload.is_some(),
            "{what}: valid without a payload: {v:?}"
        );
        assert!(
            !v.signers.is_empty(),
            "{what}: valid without signers: {v:?}"
        );
    }
    let _ = serde_json::to_string(v);
}

/// Verifies `doc` every way a caller does and checks the results agree:
/// the signing rule (`verify_by_owner`) only ever refuses more.
fn verify_all(doc: &Value, secret: Option<&Sensitive<Vec<u8>>>) -> (Verification, Verification) {
    let trusted = keys::trusted();
    let opts = VerifyOptions {
        now: now(),
        trusted: &trusted,
        secret,
        expected_type: None,
    };
    let any = verify(doc, &opts);
    let owner = verify_by_owner(doc, &opts);
    consistent(&any, "verify");
    consistent(&owner, "verify_by_owner");
    assert_eq!(any.format, owner.format);
    assert!(
        !owner.valid || any.valid,
        "valid under the signing rule but not without it: {owner:?} / {any:?}"
    );
    (any, owner)
}

/// Written out and read back, as a file or a registry layer would be.
fn through_text(doc: &Value) -> Value {
    match serde_json::to_string(doc).map(|t| serde_json::from_str::<Value>(&t)) {
        Ok(Ok(v)) => v,
        other => panic!("a signed document does not read back: {other:?}"),
    }
}

fn not_forged(v: &Verification, what: &str, doc: &Value) {
    assert_ne!(
        v.reason,
        Some(Reason::BadSignature),
        "{what} signed here does not verify: {v:?}\n{doc}"
    );
}

/// The first byte chooses: a document as found (verified with and
/// without the secret, canonical JSON and Python's `json.dumps` read
/// back), or a payload signed here as DSSE (with a co-signature), a team
/// export, a legacy export or a legacy override.
pub fn envelope(data: &[u8]) {
    let mut src = Source::new(data);
    let secret = Sensitive::new(SECRET.to_vec());
    match src.byte() % 5 {
        0 => {
            let Ok(doc) = serde_json::from_slice::<Value>(src.rest()) else {
                return;
            };
            verify_all(&doc, None);
            verify_all(&doc, Some(&secret));
            if let Ok(text) = canonicalize(&doc) {
                let again = serde_json::from_str::<Value>(&text).map(|v| canonicalize(&v));
                assert_eq!(
                    again.as_ref().ok().and_then(|c| c.as_ref().ok()),
                    Some(&text),
                    "canonical JSON is not stable"
                );
            }
            let dumped = python_dumps(&doc, ", ", ": ");
            match serde_json::from_str::<Value>(&dumped) {
                Ok(back) => assert_eq!(
                    python_dumps(&back, ", ", ": "),
                    dumped,
                    "json.dumps does not read back"
                ),
                Err(e) => panic!("json.dumps wrote what is not JSON: {e}\n{dumped}"),
            }
        }
        1 => {
            let ptype = payload_type(&mut src);
            let mask = src.byte();
            let cosigner = src.below(keys::ALL.len());
            let stamped = src.bool();
            let Ok(mut payload) = serde_json::from_slice::<Value>(src.rest()) else {
                return;
            };
            if stamped {
                let kind = PayloadKind::from_media_type(ptype).unwrap_or(PayloadKind::Bundle);
                match stamp(kind, &payload, now(), 3600) {
                    Ok(p) => payload = p,
                    Err(_) => return,
                }
            }
            let signers = keys::chosen(mask);
            let refs: Vec<_> = signers.iter().collect();
            let Ok(doc) = sign_dsse(ptype, &payload, &refs) else {
                return;
            };
            let doc = through_text(&doc);
            let (any, _) = verify_all(&doc, None);
            if signers.is_empty() {
                return;
            }
            not_forged(&any, "a DSSE envelope", &doc);
            if mask & 0x7f != 0 {
                assert_ne!(any.reason, Some(Reason::UnknownKey), "{any:?}");
            }
            let key = keys::signing(keys::ALL.get(cosigner).map_or(1, |k| k.0));
            if let Ok(cosigned) = add_dsse_signature(&doc, &key) {
                let cosigned = through_text(&cosigned);
                let (again, _) = verify_all(&cosigned, None);
                not_forged(&again, "a co-signed DSSE envelope", &cosigned);
            }
        }
        2 => {
            let ptype = payload_type(&mut src);
            let validity = i64::from(src.byte()) * 3600 - 3600;
            let payload = src.rest();
            let issued = now();
            let expires =
                jiff::Timestamp::from_second(issued.as_second() + validity).unwrap_or(issued);
            let Ok(doc) = team_export(ptype, payload, issued, expires, "team", &secret) else {
                return;
            };
            let doc = through_text(&doc);
            let (any, _) = verify_all(&doc, Some(&secret));
            not_forged(&any, "a team export", &doc);
            let wrong = Sensitive::new(b"another secret".to_vec());
            let (other, _) = verify_all(&doc, Some(&wrong));
            assert_eq!(other.reason, Some(Reason::BadSignature), "{other:?}");
        }
        3 => {
            let Ok(bundle) = serde_json::from_slice::<Value>(src.rest()) else {
                return;
            };
            let doc = legacy_export(
                &bundle,
                "2026-01-01T00:00:00",
                "2099-01-01T00:00:00",
                &secret,
            );
            let doc = through_text(&doc);
            let (any, _) = verify_all(&doc, Some(&secret));
            not_forged(&any, "a legacy export", &doc);
            assert!(any.valid, "{any:?}\n{doc}");
        }
        _ => {
            let Ok(data) = serde_json::from_slice::<Value>(src.rest()) else {
                return;
            };
            let doc = legacy_override(&data, &secret);
            let doc = through_text(&doc);
            let (any, _) = verify_all(&doc, Some(&secret));
            not_forged(&any, "a legacy override", &doc);
        }
    }
}

/// The security keys trusted now, and the version and quorum followed.
fn following_keys() -> Vec<gavel_trust::PublicKey> {
    keys::ALL
        .iter()
        .filter(|(seed, _, _)| (4..=6).contains(seed))
        .map(|&(seed, name, role)| keys::public(seed, name, role))
        .collect()
}

/// The first byte chooses: a trust envelope as found, or one signed here
/// (the payload the fuzzer wrote, optionally with a version, a quorum and
/// keys chosen from the test keys put in, and the times stamped). Whatever
/// is followed is newer than the version followed, signed by the quorum of
/// security keys trusted now and by its own quorum; the version followed
/// itself is no change.
pub fn trust_document(data: &[u8]) {
    let mut src = Source::new(data);
    let mode = src.byte();
    let doc = if mode % 2 == 0 {
        let Ok(doc) = serde_json::from_slice::<Value>(src.rest()) else {
            return;
        };
        doc
    } else {
        let version = src.below(4);
        let quorum = src.below(4);
        let listed = src.byte();
        let signed_by = src.byte();
        let fill = src.byte();
        let stamped = src.bool();
        let rest = src.rest();
        let mut payload = if rest.is_empty() {
            Value::Object(serde_json::Map::new())
        } else {
            match serde_json::from_slice::<Value>(rest) {
                Ok(p) => p,
                Err(_) => return,
            }
        };
        if let Some(map) = payload.as_object_mut() {
            if fill & 1 != 0 {
                map.insert("version".into(), version.into());
            }
            if fill & 2 != 0 {
                map.insert("quorum".into(), quorum.into());
            }
            if fill & 4 != 0 {
                let listed: Vec<Value> = keys::ALL
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| listed & (1 << i) != 0)
                    .filter_map(|(_, &(seed, name, role))| {
                        serde_json::to_value(keys::public(seed, name, role)).ok()
                    })
                    .collect();
                map.insert("keys".into(), Value::Array(listed));
            }
        }
        if stamped {
            match stamp(PayloadKind::Trust, &payload, now(), 3600) {
                Ok(p) => payload = p,
                Err(_) => return,
            }
        }
        let signers = keys::chosen(signed_by);
        let refs: Vec<_> = signers.iter().collect();
        let Ok(doc) = sign_dsse(PayloadKind::Trust.media_type(), &payload, &refs) else {
            return;
        };
        through_text(&doc)
    };
    let trusted = following_keys();
    for (version, quorum) in [(1, Some(1)), (1, Some(2)), (0, None)] {
        let following = Following {
            trusted: &trusted,
            version,
            quorum,
        };
        let read = TrustDocument::read(&doc);
        match accept_trust_document(&doc, following, now()) {
            Ok(Some(accepted)) => {
                let d = &accepted.document;
                assert_eq!(read.as_ref().ok(), Some(d));
                assert!(d.version > version, "followed an older or equal {d:?}");
                let needed = quorum.unwrap_or(d.quorum);
                assert!(
                    i64::try_from(accepted.signers.len()).unwrap_or(0) >= needed,
                    "followed with {} signers, {needed} needed",
                    accepted.signers.len()
                );
                assert!(
                    (1..=gavel_trust::security_keys(&d.keys)).contains(&d.quorum),
                    "{d:?}"
                );
                for s in &accepted.signers {
                    assert!(
                        trusted
                            .iter()
                            .any(|k| &k.keyid.0 == s && k.has_role(gavel_trust::Role::Security)),
                        "signer {s} is not a security key trusted now"
                    );
                }
            }
            Ok(None) => assert_eq!(read.map(|d| d.version).ok(), Some(version)),
            Err(why) => assert!(!why.is_empty()),
        }
    }
}
