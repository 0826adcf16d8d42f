//! OCI manifests as a registry serves them: read (`Manifest::from_bytes`,
//! which both the remote and the directory target use), written back,
//! and their descriptors taken as the agent and the console take them.

use gavel_registry::artifact::{self, Manifest};

/// A manifest that reads is an OCI image manifest whose config and layers
/// name sha256 digests; written out and read again it is the same
/// manifest, and its bytes have one digest. The tags made from its
/// digests are valid tags.
pub fn oci_manifest(data: &[u8]) {
    let Ok(m) = Manifest::from_bytes(data) else {
        return;
    };
    assert_eq!(m.schema_version, 2);
    assert_eq!(m.media_type, artifact::MANIFEST_TYPE);
    let (bytes, d) = m.encoded();
    match Manifest::from_bytes(&bytes) {
        Ok(again) => assert_eq!(again, m, "a manifest reads back otherwise"),
        Err(e) => panic!("a manifest written out does not read back: {e}"),
    }
    assert_eq!(d.digest, artifact::digest(&bytes));
    assert_eq!(d.size, bytes.len() as u64);
    for layer in std::iter::once(&m.config).chain(&m.layers) {
        assert!(artifact::digest_hex(&layer.digest).is_ok());
        match artifact::sig_tag(&layer.digest) {
            Ok(tag) => assert!(artifact::valid_tag(&tag), "{tag}"),
            Err(e) => panic!("a layer digest that reads makes no tag: {e}"),
        }
        if let Ok(tag) = artifact::approval_tag(&layer.digest, "k", &layer.media_type) {
            assert!(artifact::valid_tag(&tag), "{tag}");
        }
    }
    if let Some(version) = m.annotations.as_ref().and_then(|a| a.values().next()) {
        if let Ok(tag) = artifact::version_tag(version) {
            assert!(artifact::valid_tag(&tag), "{tag}");
        }
    }
}
