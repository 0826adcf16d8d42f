//! The artifact formats of DESIGN §11.11, as pure functions: media types,
//! descriptors, the image manifest's bytes and digest, and tag names. No
//! I/O here, so every format is tested without a registry.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::RegistryError;

/// An OCI image manifest.
pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The empty config every Gavel artifact carries (`{}`).
pub const EMPTY_CONFIG_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The bytes of the empty config.
pub const EMPTY_CONFIG: &[u8] = b"{}";

/// A bundle version: one layer, the bundle's canonical JSON.
pub const BUNDLE_ARTIFACT: &str = "application/vnd.gavel.bundle.v1";
pub const BUNDLE_LAYER: &str = "application/vnd.gavel.bundle.v1+json";
/// Signatures (the bundle envelope, approvals): a layer per envelope.
pub const SIGNATURES_ARTIFACT: &str = "application/vnd.gavel.signatures.v1";
pub const DSSE_LAYER: &str = "application/vnd.dsse.envelope.v1+json";
/// A rollout document (tag `rollout-<env>`).
pub const ROLLOUT_ARTIFACT: &str = "application/vnd.gavel.rollout.v1";
/// The trust document (tag `trust`).
pub const TRUST_ARTIFACT: &str = "application/vnd.gavel.trust.v1";
/// The tag of the trust document.
pub const TRUST_TAG: &str = "trust";

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    let sum = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in sum {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The hex of a `sha256:` digest, checked (64 lowercase hex digits).
pub fn digest_hex(digest: &str) -> Result<&str, RegistryError> {
    digest
        .strip_prefix("sha256:")
        .filter(|h| {
            h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
        .ok_or_else(|| RegistryError::Invalid(format!("`{digest}` is not a sha256 digest")))
}

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
}

impl Descriptor {
    /// The descriptor of `bytes` as `media_type`.
    pub fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: digest(bytes),
            size: bytes.len() as u64,
            artifact_type: None,
            annotations: None,
        }
    }
}

/// An OCI image manifest as Gavel writes and reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    pub media_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
}

impl Manifest {
    /// A manifest of `artifact_type` over `layers`, with the empty config,
    /// and a `subject` (the artifact it refers to) when given.
    pub fn new(artifact_type: &str, layers: Vec<Descriptor>, subject: Option<Descriptor>) -> Self {
        Manifest {
            schema_version: 2,
            media_type: MANIFEST_TYPE.to_string(),
            artifact_type: Some(artifact_type.to_string()),
            config: Descriptor::of(EMPTY_CONFIG_TYPE, EMPTY_CONFIG),
            layers,
            subject,
            annotations: None,
        }
    }

    /// The bytes to push: compact JSON, fields in a fixed order, so one
    /// content has one digest.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain strings and numbers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The bytes to push and the descriptor that names them.
    pub fn encoded(&self) -> (Vec<u8>, Descriptor) {
        let bytes = self.to_bytes();
        let d = Descriptor {
            artifact_type: self.artifact_type.clone(),
            ..Descriptor::of(MANIFEST_TYPE, &bytes)
        };
        (bytes, d)
    }

    /// Reads manifest bytes, checking they are an OCI image manifest.
    pub fn from_bytes(bytes: &[u8]) -> Result<Manifest, RegistryError> {
        let m: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| RegistryError::Invalid(format!("not an OCI image manifest: {e}")))?;
        if m.schema_version != 2 || m.media_type != MANIFEST_TYPE {
            return Err(RegistryError::Invalid(format!(
                "not an OCI image manifest (schemaVersion {}, mediaType `{}`)",
                m.schema_version, m.media_type
            )));
        }
        for d in std::iter::once(&m.config).chain(&m.layers) {
            digest_hex(&d.digest)?;
        }
        Ok(m)
    }
}

/// Whether `tag` is a valid OCI tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let mut bytes = tag.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphanumeric() || b == b'_')
        && tag.len() <= 128
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A version's tag: the version itself (`1.2.0`); SemVer build metadata
/// (`+…`), which tags cannot hold, becomes `_`.
pub fn version_tag(version: &str) -> Result<String, RegistryError> {
    let tag = version.replace('+', "_");
    if valid_tag(&tag) {
        Ok(tag)
    } else {
        Err(RegistryError::Invalid(format!(
            "version `{version}` cannot be a registry tag"
        )))
    }
}

/// `sha256-<hex>.sig`: the signatures of a bundle digest.
pub fn sig_tag(bundle_digest: &str) -> Result<String, RegistryError> {
    Ok(format!("sha256-{}.sig", digest_hex(bundle_digest)?))
}

/// `sha256-<hex>.approval-<keyid>-<env>`: one approver's decision on a
/// digest for an environment, published alone so that two approvers never
/// overwrite each other.
pub fn approval_tag(bundle_digest: &str, keyid: &str, env: &str) -> Result<String, RegistryError> {
    let tag = format!(
        "sha256-{}.approval-{keyid}-{env}",
        digest_hex(bundle_digest)?
    );
    if valid_tag(&tag) {
        Ok(tag)
    } else {
        Err(RegistryError::Invalid(format!(
            "key id `{keyid}` and environment `{env}` do not make a registry tag"
        )))
    }
}

/// `rollout-<env>`.
pub fn rollout_tag(env: &str) -> Result<String, RegistryError> {
    let tag = format!("rollout-{env}");
    if valid_tag(&tag) {
        Ok(tag)
    } else {
        Err(RegistryError::Invalid(format!(
            "environment `{env}` does not make a registry tag"
        )))
    }
}

/// Whether `name` is a valid repository name: `/`-separated components,
/// each `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
pub fn valid_repository(name: &str) -> bool {
    fn component(part: &str) -> bool {
        let mut separator = String::new();
        let mut seen_alnum = false;
        for c in part.chars() {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                if !separator.is_empty() {
                    let ok = matches!(separator.as_str(), "." | "_" | "__")
                        || separator.chars().all(|s| s == '-');
                    if !ok || !seen_alnum {
                        return false;
                    }
                    separator.clear();
                }
                seen_alnum = true;
            } else if matches!(c, '.' | '_' | '-') {
                separator.push(c);
            } else {
                return false;
            }
        }
        seen_alnum && separator.is_empty()
    }
    !name.is_empty() && name.len() <= 255 && name.split('/').all(component)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_config_has_its_well_known_digest() {
        let d = Descriptor::of(EMPTY_CONFIG_TYPE, EMPTY_CONFIG);
        assert_eq!(
            d.digest,
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(d.size, 2);
    }

    #[test]
    fn a_manifest_is_written_once_and_read_back() {
        let layer = Descriptor::of(BUNDLE_LAYER, b"{\"rules\":[]}");
        let m = Manifest::new(BUNDLE_ARTIFACT, vec![layer.clone()], None);
        let bytes = m.to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with(
            "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"artifactType\":\"application/vnd.gavel.bundle.v1\",\"config\":{\"mediaType\":\"application/vnd.oci.empty.v1+json\""
        ), "{text}");
        assert!(!text.contains("subject"), "{text}");
        assert_eq!(Manifest::from_bytes(&bytes).unwrap(), m);
        // The same content, the same digest.
        assert_eq!(
            digest(&bytes),
            digest(&Manifest::new(BUNDLE_ARTIFACT, vec![layer], None).to_bytes())
        );
        let with_subject = Manifest::new(
            SIGNATURES_ARTIFACT,
            vec![],
            Some(Descriptor::of(MANIFEST_TYPE, &bytes)),
        );
        let text = String::from_utf8(with_subject.to_bytes()).unwrap();
        assert!(text.contains("\"subject\":{\"mediaType\""), "{text}");
    }

    #[test]
    fn manifests_that_are_not_oci_image_manifests_are_refused() {
        for bad in [
            &b"not json"[..],
            b"{\"schemaVersion\":1,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2},\"layers\":[]}",
            b"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2},\"layers\":[]}",
            b"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"x\",\"digest\":\"md5:00\",\"size\":2},\"layers\":[]}",
        ] {
            assert!(Manifest::from_bytes(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn tags_follow_the_scheme_and_the_oci_grammar() {
        let d = "sha256:b15bf27bf394395fd16df0225ae90c281e4b4318dfe524a81fb56256ad0fa7f3";
        assert_eq!(
            sig_tag(d).unwrap(),
            "sha256-b15bf27bf394395fd16df0225ae90c281e4b4318dfe524a81fb56256ad0fa7f3.sig"
        );
        assert_eq!(
            approval_tag(d, "0123456789abcdef", "prod").unwrap(),
            "sha256-b15bf27bf394395fd16df0225ae90c281e4b4318dfe524a81fb56256ad0fa7f3.approval-0123456789abcdef-prod"
        );
        assert_eq!(rollout_tag("staging").unwrap(), "rollout-staging");
        assert_eq!(version_tag("1.2.0").unwrap(), "1.2.0");
        assert_eq!(
            version_tag("1.2.0-rc.1+build.5").unwrap(),
            "1.2.0-rc.1_build.5"
        );
        assert!(version_tag("1 2").is_err());
        assert!(sig_tag("sha256:abc").is_err());
        assert!(sig_tag("sha512:00").is_err());
        assert!(valid_tag("latest") && valid_tag("_x") && !valid_tag(".x") && !valid_tag(""));
        assert!(!valid_tag(&"a".repeat(129)) && valid_tag(&"a".repeat(128)));
        assert!(valid_repository("gavel/inbox-triage"));
        assert!(valid_repository("a__b/c--d/e.f"));
        for bad in ["Gavel/x", "a//b", "-a", "a-", "a..b", "a___b", "a._b", ""] {
            assert!(!valid_repository(bad), "{bad}");
        }
    }
}
