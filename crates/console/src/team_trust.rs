//! The team's trust document (DESIGN §11.11, §11.16): `gavel trust publish`
//! signs the keys this console trusts, with their roles, as a DSSE
//! `trust.v1` document and publishes it as the `trust` tag of every bound
//! bundle's repository, where agents and teammates' consoles follow it.
//! A newer document is accepted only when a quorum of the security keys
//! trusted now signed it, and a quorum of its own security keys did too, as
//! TUF rotates its root: a single stolen key cannot rewrite who is trusted.
//! A document short of its quorum waits in the registry for another
//! security identity to co-sign it with `gavel trust publish`.

use std::collections::BTreeSet;

use jiff::Timestamp;

use gavel_registry::artifact::{self, DSSE_LAYER, TRUST_ARTIFACT};
use gavel_registry::{Descriptor, Manifest, RegistryError, Target};
use gavel_trust::{PayloadKind, PublicKey, TrustDocument, security_keys};
use serde::Serialize;
use serde_json::Value;

use crate::registry::{RegistryUseError, SyncProblem};
use crate::{Console, ConsoleError};

/// What `gavel trust publish` did.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct TrustPublished {
    pub version: i64,
    pub quorum: i64,
    /// How many keys the document lists.
    pub keys: u32,
    /// The security identities whose signatures it carries.
    pub signers: Vec<String>,
    /// It already waited in the registry, signed by others: this console
    /// added its signature.
    pub cosigned: bool,
    /// It carries enough signatures to be accepted (otherwise another
    /// security identity co-signs it with `gavel trust publish`).
    pub complete: bool,
    /// Each `<repository>:trust` it was published as.
    pub published: Vec<String>,
}

/// The set of keys a document lists, for comparing two documents: key id,
/// public key, roles (sorted) and retirement.
fn key_set(keys: &[PublicKey]) -> BTreeSet<String> {
    keys.iter()
        .map(|k| {
            let mut roles: Vec<&str> = k.roles.iter().map(|r| r.as_str()).collect();
            roles.sort_unstable();
            format!(
                "{} {} {} {}",
                k.keyid,
                k.public_key,
                roles.join(","),
                k.retired_at.as_deref().unwrap_or("-")
            )
        })
        .collect()
}

/// Of two waiting documents, the newer; of two copies of one document
/// (the same payload), one carrying every signature either has, so a
/// co-signature gathered in one repository is not lost in another.
fn newest_with_signatures(a: Value, b: Value) -> Value {
    let version = |d: &Value| TrustDocument::read(d).map_or(0, |t| t.version);
    let (va, vb) = (version(&a), version(&b));
    if va != vb {
        return if vb > va { b } else { a };
    }
    if a.get("payload") != b.get("payload") {
        return a;
    }
    let mut merged = a;
    let extra: Vec<Value> = b
        .get("signatures")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(sigs) = merged.get_mut("signatures").and_then(Value::as_array_mut) {
        for sig in extra {
            if !sigs.iter().any(|s| s.get("keyid") == sig.get("keyid")) {
                sigs.push(sig);
            }
        }
    }
    merged
}

impl Console {
    /// The bundles whose repositories carry the trust document: `bundle`
    /// alone, or every bound one.
    async fn trust_repositories(
        &self,
        bundle: Option<&str>,
    ) -> Result<Vec<(Target, String)>, RegistryUseError> {
        let bundles = self.bound_bundles(bundle).await?;
        if bundles.is_empty() {
            return Err(ConsoleError::Invalid(
                "no bundle is bound to a registry, so there is nowhere to publish the trust document: bind one with `gavel bundle bind NAME REGISTRY`".into(),
            )
            .into());
        }
        let mut out = Vec::with_capacity(bundles.len());
        for b in bundles {
            let (target, repo, _) = self.bound(&b).await?;
            out.push((target, repo));
        }
        Ok(out)
    }

    /// `gavel trust publish`: the keys this console trusts (retired ones
    /// marked), with their roles, signed by the acting security identity
    /// and published as `trust` in every bound bundle's repository (or
    /// `bundle`'s). When a registry already holds a newer document listing
    /// exactly these keys (and `quorum`, when given), this console co-signs
    /// it instead of starting another. `quorum` defaults to the current
    /// document's, or 1. A document with enough signatures is recorded here as the
    /// current one.
    pub async fn trust_publish(
        &self,
        bundle: Option<&str>,
        quorum: Option<i64>,
        validity_seconds: Option<i64>,
        actor: Option<&str>,
    ) -> Result<TrustPublished, RegistryUseError> {
        let me = self
            .require_security(actor, "publish the trust document")
            .await?;
        let keys = self.trusted_keys().await?;
        let current = self.store.trust_document().await?;
        let security = security_keys(&keys);
        if let Some(quorum) = quorum.filter(|q| *q < 1 || *q > security) {
            return Err(ConsoleError::Invalid(format!(
                "a quorum of {quorum} cannot be met: this console trusts {security} security key(s) that are not retired; give --quorum from 1 to {security}"
            ))
            .into());
        }
        let repos = self.trust_repositories(bundle).await?;
        let local_version = current.as_ref().map_or(0, |c| c.version);
        // What the registries hold: a newer document with these very keys
        // and quorum is co-signed; otherwise the next version starts.
        let mut newest_remote = 0;
        let mut to_cosign: Option<Value> = None;
        for (target, repo) in &repos {
            let Some(doc) = crate::registry::envelope_at(target, repo, artifact::TRUST_TAG).await?
            else {
                continue;
            };
            let Ok(p) = TrustDocument::read(&doc) else {
                continue;
            };
            // Only a document some key trusted here signed counts, even for
            // numbering: anyone with push rights could write a huge version.
            if gavel_trust::security_signers(&doc, &keys, Timestamp::now()).is_err() {
                continue;
            }
            newest_remote = newest_remote.max(p.version);
            if p.version > local_version
                && quorum.is_none_or(|q| q == p.quorum)
                && key_set(&p.keys) == key_set(&keys)
            {
                to_cosign = Some(match to_cosign.take() {
                    None => doc,
                    Some(have) => newest_with_signatures(have, doc),
                });
            }
        }
        let (_, signing) = self.signing_key(Some(&me.keyid.0)).await?;
        let cosigned = to_cosign.is_some();
        let envelope = match to_cosign {
            Some(doc) => gavel_trust::add_dsse_signature(&doc, &signing)
                .map_err(|e| ConsoleError::Invalid(e.to_string()))?,
            None => {
                let version = local_version.max(newest_remote) + 1;
                let quorum = quorum
                    .or(current.as_ref().map(|c| c.quorum))
                    .unwrap_or(1)
                    .min(security);
                let statement = serde_json::json!({
                    "version": version,
                    "keys": keys,
                    "quorum": quorum,
                });
                let payload = gavel_trust::stamp(
                    PayloadKind::Trust,
                    &statement,
                    jiff::Timestamp::now(),
                    validity_seconds.unwrap_or_else(|| PayloadKind::Trust.default_validity()),
                )
                .map_err(ConsoleError::from)?;
                gavel_trust::sign_dsse(PayloadKind::Trust.media_type(), &payload, &[&signing])
                    .map_err(|e| ConsoleError::Invalid(e.to_string()))?
            }
        };
        let p = TrustDocument::read(&envelope).map_err(ConsoleError::Invalid)?;
        let signers = gavel_trust::security_signers(&envelope, &keys, Timestamp::now())
            .map_err(ConsoleError::Invalid)?;
        let needed = current
            .as_ref()
            .map_or(p.quorum, |c| c.quorum)
            .max(p.quorum);
        let complete = i64::try_from(signers.len()).unwrap_or(i64::MAX) >= needed;
        let bytes = envelope.to_string().into_bytes();
        let m = Manifest::new(
            TRUST_ARTIFACT,
            vec![Descriptor::of(DSSE_LAYER, &bytes)],
            None,
        );
        let mut published = Vec::with_capacity(repos.len());
        for (target, repo) in &repos {
            target
                .push(repo, &m, &[&bytes], Some(artifact::TRUST_TAG))
                .await?;
            published.push(format!("{repo}:{}", artifact::TRUST_TAG));
        }
        if complete {
            self.store
                .record_trust_document(p.version, &envelope, p.quorum, None, &me.name)
                .await?;
        }
        let mut names: Vec<String> = keys
            .iter()
            .filter(|k| signers.contains(&k.keyid.0))
            .map(|k| k.name.clone())
            .collect();
        names.sort();
        Ok(TrustPublished {
            version: p.version,
            quorum: p.quorum,
            keys: u32::try_from(p.keys.len()).unwrap_or(u32::MAX),
            signers: names,
            cosigned,
            complete,
            published,
        })
    }

    /// During `sync`: the `trust` tag of `repo`, accepted when newer than
    /// this console's document and signed by a quorum of the security keys
    /// trusted now (the current document's quorum, or the new one's when
    /// there is none yet) and by a quorum of its own security keys. The
    /// trust store then becomes the keys it lists (an identity's own key is
    /// kept). Answers what was accepted, or a problem; `Ok(None)` when there
    /// is nothing newer.
    pub(crate) async fn sync_trust(
        &self,
        target: &Target,
        repo: &str,
    ) -> Result<Option<Result<String, SyncProblem>>, RegistryUseError> {
        let Some(doc) = (match crate::registry::envelope_at(target, repo, artifact::TRUST_TAG).await
        {
            Ok(d) => d,
            Err(e @ RegistryError::Unreachable { .. }) => return Err(e.into()),
            Err(e) => {
                return Ok(Some(Err(SyncProblem {
                    tag: artifact::TRUST_TAG.into(),
                    reason: e.to_string(),
                })));
            }
        }) else {
            return Ok(None);
        };
        let problem = |reason: String| {
            Ok(Some(Err(SyncProblem {
                tag: artifact::TRUST_TAG.into(),
                reason,
            })))
        };
        let current = self.store.trust_document().await?;
        let trusted = self.trusted_keys().await?;
        let following = gavel_trust::Following {
            trusted: &trusted,
            version: current.as_ref().map_or(0, |c| c.version),
            quorum: current.as_ref().map(|c| c.quorum),
        };
        let (p, now_signers) =
            match gavel_trust::accept_trust_document(&doc, following, Timestamp::now()) {
                Ok(Some(a)) => (a.document, a.signers),
                Ok(None) => return Ok(None),
                Err(why) => return problem(why),
            };
        let mut names: Vec<String> = trusted
            .iter()
            .filter(|k| now_signers.contains(&k.keyid.0))
            .map(|k| k.name.clone())
            .collect();
        names.sort();
        let Some(changes) = self
            .store
            .record_trust_document(p.version, &doc, p.quorum, Some(&p.keys), &names.join(","))
            .await?
        else {
            return Ok(None);
        };
        let mut said = format!(
            "trust v{} signed by {}: {} key(s) trusted or changed, {} removed",
            p.version,
            names.join(", "),
            changes.trusted.len(),
            changes.untrusted.len()
        );
        if !changes.kept.is_empty() {
            said.push_str(&format!(
                "; kept {} (an identity of this console uses it, though the document leaves it out)",
                changes.kept.join(", ")
            ));
        }
        Ok(Some(Ok(said)))
    }
}

#[cfg(test)]
mod tests {
    use gavel_trust::Role;

    use super::*;

    fn key(seed: u8, roles: Vec<Role>) -> (gavel_trust::ed25519::SigningKey, PublicKey) {
        let s = gavel_trust::ed25519::SigningKey::from_bytes(&[seed; 32]);
        let p = PublicKey::new(&s.verifying_key(), &format!("k{seed}"), "", roles);
        (s, p)
    }

    #[test]
    fn key_sets_ignore_order_and_see_roles() {
        let (_, pa) = key(1, vec![Role::Security, Role::Approver]);
        let (_, pb) = key(2, vec![Role::Approver]);
        let mut pa2 = pa.clone();
        pa2.roles.reverse();
        assert_eq!(
            key_set(&[pa.clone(), pb.clone()]),
            key_set(&[pb.clone(), pa2])
        );
        let mut pb2 = pb.clone();
        pb2.roles.push(Role::Security);
        assert_ne!(key_set(&[pa.clone(), pb]), key_set(&[pa, pb2]));
    }
}
