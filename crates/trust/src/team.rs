//! The team's trust document (DESIGN §11.11, §11.16): `{version, keys,
//! quorum}` signed by security keys. A follower (a console's `sync`, an
//! agent) accepts a newer one only when a quorum of the security keys it
//! trusts now signed it, and a quorum of the document's own security keys
//! did too, as TUF rotates its root: one stolen key cannot rewrite who is
//! trusted. Pure: the caller brings the keys, the current document and the
//! clock.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::envelope::{VerifyOptions, verify_by_owner};
use crate::keys::{PublicKey, Role};
use crate::payload::PayloadKind;

/// A trust document as its envelope states it (shape checked, signatures
/// not yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustDocument {
    pub version: i64,
    pub quorum: i64,
    pub keys: Vec<PublicKey>,
}

fn decode_payload(doc: &Value) -> Option<Value> {
    use base64::Engine as _;
    let payload = doc.get("payload")?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// How many of `keys` hold the security role and are not retired.
pub fn security_keys(keys: &[PublicKey]) -> i64 {
    let n = keys
        .iter()
        .filter(|k| k.has_role(Role::Security) && k.retired_at.is_none())
        .count();
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl TrustDocument {
    /// The version, quorum and keys a trust envelope states: each key a
    /// valid Ed25519 key listed once, a quorum from 1 to the number of its
    /// security keys that are not retired.
    pub fn read(doc: &Value) -> Result<TrustDocument, String> {
        if doc.get("payloadType").and_then(Value::as_str) != Some(PayloadKind::Trust.media_type()) {
            return Err("it is not a trust document".into());
        }
        let p = decode_payload(doc).ok_or("its payload is not base64 of JSON")?;
        PayloadKind::Trust.check(&p).map_err(|e| e.to_string())?;
        let keys: Vec<PublicKey> = p
            .get("keys")
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| format!("`keys` is not a list of public keys: {e}"))?
            .unwrap_or_default();
        let mut seen = BTreeSet::new();
        for k in &keys {
            k.verifying_key()
                .map_err(|e| format!("key `{}`: {e}", k.keyid))?;
            if !seen.insert(k.keyid.0.clone()) {
                return Err(format!("key `{}` is listed twice", k.keyid));
            }
        }
        let number = |k: &str| {
            p.get(k)
                .and_then(Value::as_i64)
                .ok_or_else(|| format!("`{k}` is too large"))
        };
        let version = number("version")?;
        let quorum = number("quorum")?;
        let security = security_keys(&keys);
        if quorum < 1 || quorum > security {
            return Err(format!(
                "its quorum is {quorum}, but it lists {security} security key(s) that are not retired: a quorum is 1 to that number"
            ));
        }
        Ok(TrustDocument {
            version,
            quorum,
            keys,
        })
    }
}

/// The distinct key ids among `trusted` holding the security role whose
/// signatures on `doc` verify at `now` (`Err` with why when none does, or
/// the document has expired).
pub fn security_signers(
    doc: &Value,
    trusted: &[PublicKey],
    now: jiff::Timestamp,
) -> Result<Vec<String>, String> {
    let v = verify_by_owner(
        doc,
        &VerifyOptions {
            now,
            trusted,
            secret: None,
            expected_type: Some(PayloadKind::Trust.media_type()),
        },
    );
    if !v.valid {
        return Err(v.message);
    }
    let ids: BTreeSet<String> = v.signers.into_iter().map(|s| s.keyid).collect();
    Ok(ids.into_iter().collect())
}

/// What a follower has now: the keys it trusts, and the version and
/// quorum of the document it follows (none before the first).
#[derive(Debug, Clone, Copy)]
pub struct Following<'a> {
    pub trusted: &'a [PublicKey],
    pub version: i64,
    pub quorum: Option<i64>,
}

/// A newer trust document, accepted: its contents and the key ids of the
/// security keys trusted now that signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub document: TrustDocument,
    pub signers: Vec<String>,
}

/// Whether to follow `doc`: `Ok(None)` when it is the version followed;
/// refused (with why) when it is older, not signed by the current quorum
/// of security keys trusted now (the document's own quorum before the
/// first one), or not by its own quorum.
pub fn accept(
    doc: &Value,
    now_following: Following<'_>,
    now: jiff::Timestamp,
) -> Result<Option<Accepted>, String> {
    let p = TrustDocument::read(doc)?;
    let local = now_following.version;
    if p.version < local {
        return Err(format!(
            "trust v{} is older than the v{local} followed here: not followed",
            p.version
        ));
    }
    if p.version == local {
        return Ok(None);
    }
    let signers = security_signers(doc, now_following.trusted, now).map_err(|why| {
        format!(
            "trust v{}: no security key trusted here vouches for it: {why}",
            p.version
        )
    })?;
    let needed = now_following.quorum.unwrap_or(p.quorum);
    let have = i64::try_from(signers.len()).unwrap_or(i64::MAX);
    if have < needed {
        return Err(format!(
            "trust v{} is signed by {have} of the {needed} security keys trusted here that it needs: another security identity co-signs it with `gavel trust publish`",
            p.version
        ));
    }
    let own = security_signers(doc, &p.keys, now).unwrap_or_default();
    let have_own = i64::try_from(own.len()).unwrap_or(i64::MAX);
    if have_own < p.quorum {
        return Err(format!(
            "trust v{} is signed by {have_own} of its own security keys, under its quorum of {}",
            p.version, p.quorum
        ));
    }
    Ok(Some(Accepted {
        document: p,
        signers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::sign_dsse;
    use crate::payload::stamp;

    fn key(seed: u8, roles: Vec<Role>) -> (ed25519_dalek::SigningKey, PublicKey) {
        let s = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        let p = PublicKey::new(&s.verifying_key(), &format!("k{seed}"), "", roles);
        (s, p)
    }

    fn now() -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_800_000_000).unwrap()
    }

    fn envelope(
        version: i64,
        quorum: i64,
        keys: &[PublicKey],
        signers: &[&ed25519_dalek::SigningKey],
    ) -> Value {
        let payload = stamp(
            PayloadKind::Trust,
            &serde_json::json!({"version": version, "keys": keys, "quorum": quorum}),
            now(),
            3600,
        )
        .unwrap();
        sign_dsse(PayloadKind::Trust.media_type(), &payload, signers).unwrap()
    }

    #[test]
    fn a_quorum_beyond_the_security_keys_listed_is_refused() {
        let (a, pa) = key(1, vec![Role::Security]);
        let (_, pb) = key(2, vec![Role::Approver]);
        let keys = [pa, pb];
        assert_eq!(
            TrustDocument::read(&envelope(2, 1, &keys, &[&a]))
                .unwrap()
                .version,
            2
        );
        let e = TrustDocument::read(&envelope(2, 2, &keys, &[&a])).unwrap_err();
        assert!(e.contains("1 security key"), "{e}");
        let e = TrustDocument::read(&envelope(2, 0, &keys, &[&a])).unwrap_err();
        assert!(e.contains("quorum is 0"), "{e}");
    }

    #[test]
    fn signers_are_the_distinct_security_keys_trusted() {
        let (a, pa) = key(1, vec![Role::Security]);
        let (b, pb) = key(2, vec![Role::Security]);
        let (c, pc) = key(3, vec![Role::Approver]);
        let keys = [pa.clone(), pb.clone(), pc.clone()];
        let doc = envelope(2, 2, &keys, &[&a, &b, &c]);
        let mut both = vec![pa.keyid.0.clone(), pb.keyid.0.clone()];
        both.sort();
        assert_eq!(security_signers(&doc, &keys, now()).unwrap(), both);
        assert_eq!(
            security_signers(&doc, &[pa.clone(), pc], now()).unwrap(),
            vec![pa.keyid.0.clone()]
        );
        let (_, stranger) = key(9, vec![Role::Security]);
        assert!(security_signers(&doc, &[stranger], now()).is_err());
    }

    #[test]
    fn a_newer_document_needs_the_quorum_trusted_now_and_its_own() {
        let (a, pa) = key(1, vec![Role::Security]);
        let (b, pb) = key(2, vec![Role::Security]);
        let (c, pc) = key(3, vec![Role::Security]);
        let now_keys = [pa.clone(), pb.clone()];
        let following = |quorum| Following {
            trusted: &now_keys,
            version: 1,
            quorum,
        };
        // Signed by one of the two needed now: refused.
        let doc = envelope(2, 1, &[pa.clone(), pc.clone()], &[&a]);
        let e = accept(&doc, following(Some(2)), now()).unwrap_err();
        assert!(e.contains("signed by 1 of the 2"), "{e}");
        // Both trusted now signed, but the new document's own quorum (two
        // of a and c) is met by a alone only: refused.
        let doc = envelope(2, 2, &[pa.clone(), pc.clone()], &[&a, &b]);
        let e = accept(&doc, following(Some(2)), now()).unwrap_err();
        assert!(e.contains("of its own security keys"), "{e}");
        // Both quorums met: accepted, with the signers trusted now.
        let doc = envelope(2, 2, &[pa.clone(), pc.clone()], &[&a, &b, &c]);
        let ok = accept(&doc, following(Some(2)), now()).unwrap().unwrap();
        assert_eq!(ok.document.version, 2);
        assert_eq!(ok.signers.len(), 2);
        // The version followed is no change; an older one is refused.
        assert_eq!(
            accept(
                &envelope(1, 1, std::slice::from_ref(&pa), &[&a]),
                following(Some(1)),
                now()
            ),
            Ok(None)
        );
        let e = accept(
            &envelope(0, 1, std::slice::from_ref(&pa), &[&a]),
            following(Some(1)),
            now(),
        )
        .unwrap_err();
        assert!(e.contains("older"), "{e}");
        // Before any document, the new one's quorum is what it needs.
        let first = Following {
            trusted: &now_keys,
            version: 0,
            quorum: None,
        };
        let doc = envelope(1, 2, &[pa.clone(), pb.clone()], &[&a]);
        assert!(accept(&doc, first, now()).is_err());
        let doc = envelope(1, 1, &[pa.clone(), pb.clone()], &[&a]);
        assert!(accept(&doc, first, now()).unwrap().is_some());
        // An expired document is refused.
        let later = jiff::Timestamp::from_second(1_800_000_000 + 7200).unwrap();
        assert!(accept(&doc, first, later).is_err());
    }
}
