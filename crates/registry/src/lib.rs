//! Gavel's registry client (DESIGN §8, §11.11, §11.16): bundle versions,
//! their signatures, approvals, rollout and trust documents as OCI
//! artifacts, pushed to and pulled from an OCI Distribution registry or a
//! directory holding OCI image layouts.
//!
//! `artifact` holds the formats as pure functions (manifest bytes,
//! digests, tag names); `remote` speaks the Distribution API over HTTP
//! (blob uploads, manifests, tags, referrers; bearer and basic auth;
//! retries with backoff on 429 and 5xx; every download bounded in size and
//! time); `layout` reads and writes a directory. [`Target`] is either, with
//! one set of operations.

pub mod artifact;
pub mod layout;
pub mod remote;
#[cfg(feature = "testing")]
pub mod testing;

use std::path::PathBuf;

pub use artifact::{Descriptor, Manifest};
pub use layout::Layout;
pub use remote::{Credentials, Remote};

/// The most a manifest may weigh.
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// The most a layer (a bundle, an envelope, a document) may weigh.
pub const MAX_BLOB_BYTES: u64 = 16 << 20;

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Bad input: a location, a tag, a manifest that is not one.
    #[error("{0}")]
    Invalid(String),
    /// The registry cannot be reached (after retries).
    #[error(
        "the registry at {url} cannot be reached: {message}; check that it is running and the address is right, then try again"
    )]
    Unreachable { url: String, message: String },
    /// The registry answered with an error status.
    #[error("{method} {url}: the registry answered {status}: {message}")]
    Status {
        method: &'static str,
        url: String,
        status: u16,
        message: String,
    },
    /// Credentials refused, or none given where they are needed.
    #[error(
        "the registry at {url} refused the credentials (status {status}); set them with `gavel registry add NAME URL --username USER`"
    )]
    Unauthorized { url: String, status: u16 },
    /// Content over its bound.
    #[error("{what} is larger than the {limit} bytes allowed; refused")]
    TooLarge { what: String, limit: u64 },
    /// Content whose digest is not the one asked for.
    #[error("{what} does not match its digest: expected {expected}, got {actual}; refused")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    /// A download that did not finish in time.
    #[error("{what} took longer than {seconds} s to download; refused")]
    Timeout { what: String, seconds: u64 },
    /// A directory target that cannot be read or written.
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

impl RegistryError {
    /// The error code the CLI and the app carry.
    pub fn code(&self) -> &'static str {
        match self {
            RegistryError::Invalid(_) => "invalid",
            RegistryError::Unreachable { .. } | RegistryError::Timeout { .. } => {
                "registry_unreachable"
            }
            RegistryError::Status { .. } => "registry_error",
            RegistryError::Unauthorized { .. } => "registry_unauthorized",
            RegistryError::TooLarge { .. } | RegistryError::DigestMismatch { .. } => {
                "registry_refused"
            }
            RegistryError::Io { .. } => "unwritable",
        }
    }
}

/// Where a team's artifacts go: `oci://host[:port]/namespace` (HTTPS),
/// `oci+http://host[:port]/namespace` (plain HTTP, for loopback and
/// tests), or a directory (`dir:PATH`, or an absolute path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Remote {
        /// `https://host:port` or `http://host:port`.
        base: String,
        namespace: String,
    },
    Dir(PathBuf),
}

impl Location {
    pub fn parse(text: &str) -> Result<Location, RegistryError> {
        let text = text.trim();
        let remote = |rest: &str, scheme: &str| {
            let (host, namespace) = rest.split_once('/').unwrap_or((rest, ""));
            let namespace = namespace.trim_end_matches('/');
            if host.is_empty() || host.contains('@') || host.contains(['?', '#', ' ']) {
                return Err(RegistryError::Invalid(format!(
                    "`{text}` has no registry host: write oci://HOST[:PORT]/NAMESPACE"
                )));
            }
            if !namespace.is_empty() && !artifact::valid_repository(namespace) {
                return Err(RegistryError::Invalid(format!(
                    "`{namespace}` is not a repository namespace: lowercase letters, digits and `.`, `_`, `-` between them, `/` between parts"
                )));
            }
            Ok(Location::Remote {
                base: format!("{scheme}://{host}"),
                namespace: namespace.to_string(),
            })
        };
        if let Some(rest) = text.strip_prefix("oci://") {
            remote(rest, "https")
        } else if let Some(rest) = text.strip_prefix("oci+http://") {
            remote(rest, "http")
        } else if let Some(path) = text.strip_prefix("dir:") {
            Ok(Location::Dir(PathBuf::from(path)))
        } else if text.starts_with('/') {
            Ok(Location::Dir(PathBuf::from(text)))
        } else {
            Err(RegistryError::Invalid(format!(
                "`{text}` is not a registry: write oci://HOST/NAMESPACE (HTTPS), oci+http://HOST:PORT/NAMESPACE (plain HTTP, loopback), or dir:/PATH"
            )))
        }
    }

    /// The repository of bundle `name` at this location.
    pub fn repository(&self, name: &str) -> Result<String, RegistryError> {
        if !artifact::valid_repository(name) {
            return Err(RegistryError::Invalid(format!(
                "bundle name `{name}` cannot be a repository name"
            )));
        }
        Ok(match self {
            Location::Remote { namespace, .. } if !namespace.is_empty() => {
                format!("{namespace}/{name}")
            }
            _ => name.to_string(),
        })
    }
}

/// A registry or a directory, with one set of operations.
#[derive(Debug, Clone)]
pub enum Target {
    Remote(Remote),
    Dir(Layout),
}

impl Target {
    /// Opens `location` (`credentials` for a remote that needs them).
    pub fn open(
        location: &Location,
        credentials: Option<Credentials>,
    ) -> Result<Target, RegistryError> {
        Ok(match location {
            Location::Remote { base, .. } => Target::Remote(Remote::new(base, credentials)?),
            Location::Dir(path) => Target::Dir(Layout::new(path)),
        })
    }

    /// Pushes an artifact (its blobs, then its manifest, tagged when `tag`
    /// is given). Answers the manifest's descriptor.
    pub async fn push(
        &self,
        repo: &str,
        manifest: &Manifest,
        blobs: &[&[u8]],
        tag: Option<&str>,
    ) -> Result<Descriptor, RegistryError> {
        match self {
            Target::Remote(r) => r.push(repo, manifest, blobs, tag).await,
            Target::Dir(d) => d.push(repo, manifest, blobs, tag),
        }
    }

    /// The manifest a tag or digest names, with its digest; `None` when
    /// there is none.
    pub async fn manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<(Manifest, Descriptor)>, RegistryError> {
        match self {
            Target::Remote(r) => r.manifest(repo, reference).await,
            Target::Dir(d) => d.manifest(repo, reference),
        }
    }

    /// A blob's bytes, checked against its descriptor (digest and size).
    pub async fn blob(&self, repo: &str, d: &Descriptor) -> Result<Vec<u8>, RegistryError> {
        match self {
            Target::Remote(r) => r.blob(repo, d).await,
            Target::Dir(l) => l.blob(repo, d),
        }
    }

    /// Every tag of a repository (none when it does not exist).
    pub async fn tags(&self, repo: &str) -> Result<Vec<String>, RegistryError> {
        match self {
            Target::Remote(r) => r.tags(repo).await,
            Target::Dir(d) => d.tags(repo),
        }
    }

    /// The artifacts referring to `digest`, where the registry serves the
    /// referrers API (`None` where it does not: use the tag scheme).
    pub async fn referrers(
        &self,
        repo: &str,
        digest: &str,
    ) -> Result<Option<Vec<Descriptor>>, RegistryError> {
        match self {
            Target::Remote(r) => r.referrers(repo, digest).await,
            Target::Dir(_) => Ok(None),
        }
    }
}

/// Reads `bytes` as the content `d` describes: size and digest.
pub(crate) fn check_content(what: &str, d: &Descriptor, bytes: &[u8]) -> Result<(), RegistryError> {
    let actual = artifact::digest(bytes);
    if actual != d.digest || bytes.len() as u64 != d.size {
        return Err(RegistryError::DigestMismatch {
            what: what.to_string(),
            expected: d.digest.clone(),
            actual,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_read_as_written() {
        assert_eq!(
            Location::parse("oci://registry.example.com/policies").unwrap(),
            Location::Remote {
                base: "https://registry.example.com".into(),
                namespace: "policies".into()
            }
        );
        assert_eq!(
            Location::parse("oci+http://127.0.0.1:5055/team/gavel/").unwrap(),
            Location::Remote {
                base: "http://127.0.0.1:5055".into(),
                namespace: "team/gavel".into()
            }
        );
        assert_eq!(
            Location::parse("dir:/mnt/usb/gavel").unwrap(),
            Location::Dir("/mnt/usb/gavel".into())
        );
        assert_eq!(
            Location::parse("/mnt/usb").unwrap(),
            Location::Dir("/mnt/usb".into())
        );
        for bad in [
            "http://x/y",
            "oci:///ns",
            "oci://user@host/ns",
            "oci://host/Bad",
            "relative/path",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
        let l = Location::parse("oci://r.example.com/policies").unwrap();
        assert_eq!(
            l.repository("inbox-triage").unwrap(),
            "policies/inbox-triage"
        );
        assert!(l.repository("Inbox").is_err());
        let bare = Location::parse("oci://r.example.com").unwrap();
        assert_eq!(bare.repository("inbox-triage").unwrap(), "inbox-triage");
    }
}
