//! The engine as a library (DESIGN §8, §11.2), for a Rust service that
//! decides in-process: a policy file, a decision cache with a time to live,
//! and reload, around the pure `gavel_policy::Engine`.
//!
//! ```no_run
//! let engine = gavel_agent::embed::Engine::builder()
//!     .with_policy_file("policies/inbox-triage.yaml")
//!     .with_cache_capacity(10_000)
//!     .build()?;
//! let request = serde_json::from_str(r#"{"agent": "knowledge.search", "action": "reindex", "context": {}}"#)?;
//! let decision = engine.decide(&request);
//! println!("{decision}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use gavel_policy::{Format, LoadError, Request};

use crate::serve::{Cache, Served};

/// Why a policy file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("no policy file: call `with_policy_file(path)`")]
    NoFile,
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("`{path}`: {source}")]
    Invalid { path: String, source: LoadError },
}

#[derive(Debug, Clone)]
pub struct Builder {
    file: Option<PathBuf>,
    capacity: usize,
    ttl: Duration,
}

/// An engine over a policy file, with a decision cache, reloadable while
/// other threads decide.
#[derive(Debug)]
pub struct Engine {
    file: PathBuf,
    capacity: usize,
    ttl: Duration,
    current: ArcSwap<Served>,
}

impl Engine {
    pub fn builder() -> Builder {
        Builder {
            file: None,
            capacity: 10_000,
            ttl: Duration::from_secs(60),
        }
    }

    /// The decision's JSON (`{effect, rule_id, reason, …, version,
    /// digest}`), from the cache when the same request (but for its
    /// `request_id`) was decided within the time to live.
    pub fn decide(&self, request: &Request<'_>) -> Arc<str> {
        let served = self.current.load();
        let mut r = request.clone();
        crate::serve::decide(&served, &mut r, std::time::Instant::now()).0
    }

    /// Reads the policy file again; on success the new version serves (and
    /// the cache starts empty), on failure the old one keeps serving.
    pub fn reload(&self) -> Result<(), EmbedError> {
        let served = load(&self.file, self.capacity, self.ttl)?;
        self.current.store(Arc::new(served));
        Ok(())
    }

    /// The version and digest serving.
    pub fn version(&self) -> (String, String) {
        let s = self.current.load();
        (s.version.clone(), s.digest.clone())
    }
}

impl Builder {
    pub fn with_policy_file(mut self, path: impl AsRef<Path>) -> Self {
        self.file = Some(path.as_ref().to_path_buf());
        self
    }

    /// How many decisions the cache keeps (0: no cache).
    pub fn with_cache_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    pub fn build(self) -> Result<Engine, EmbedError> {
        let file = self.file.ok_or(EmbedError::NoFile)?;
        let served = load(&file, self.capacity, self.ttl)?;
        Ok(Engine {
            file,
            capacity: self.capacity,
            ttl: self.ttl,
            current: ArcSwap::from_pointee(served),
        })
    }
}

fn load(file: &Path, capacity: usize, ttl: Duration) -> Result<Served, EmbedError> {
    let path = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|source| EmbedError::Read {
        path: path.clone(),
        source,
    })?;
    let format = if file.extension().and_then(|e| e.to_str()) == Some("json") {
        Format::Json
    } else {
        Format::Yaml
    };
    let invalid = |source| EmbedError::Invalid {
        path: path.clone(),
        source,
    };
    let bundle = gavel_policy::parse_bundle(&text, format).map_err(invalid)?;
    let doc = gavel_policy::parse_document(&text, format).map_err(invalid)?;
    let digest = gavel_trust::bundle_digest(&doc.to_json())
        .map(|d| d.to_string())
        .unwrap_or_default();
    Ok(Served::new(
        bundle.metadata.version.clone().unwrap_or_default(),
        digest,
        String::new(),
        gavel_policy::Engine::compile(&bundle),
        Cache::new(capacity, ttl),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "apiVersion: gavel/v1\nkind: PolicyBundle\nmetadata: {name: t, version: 1.0.0}\nrules:\n  - id: allow-read\n    agent: knowledge.search\n    action: reindex\n    effect: allow\n    reason: Reading is fine\n";

    #[test]
    fn decides_caches_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.yaml");
        std::fs::write(&file, V1).unwrap();
        let e = Engine::builder()
            .with_policy_file(&file)
            .with_cache_capacity(10)
            .build()
            .unwrap();
        let r: Request<'_> = serde_json::from_str(
            r#"{"agent": "knowledge.search", "action": "reindex", "request_id": "1"}"#,
        )
        .unwrap();
        let d = e.decide(&r);
        assert!(
            d.contains("\"effect\":\"allow\"") && d.contains("\"version\":\"1.0.0\""),
            "{d}"
        );
        let again: Request<'_> = serde_json::from_str(
            r#"{"agent": "knowledge.search", "action": "reindex", "request_id": "2"}"#,
        )
        .unwrap();
        assert!(
            Arc::ptr_eq(&e.decide(&r), &e.decide(&again)),
            "the cache ignores request_id"
        );

        std::fs::write(
            &file,
            V1.replace("1.0.0", "1.1.0")
                .replace("effect: allow", "effect: deny"),
        )
        .unwrap();
        e.reload().unwrap();
        let d = e.decide(&r);
        assert!(
            d.contains("\"effect\":\"deny\"") && d.contains("1.1.0"),
            "{d}"
        );
        // A broken file leaves the old version serving.
        std::fs::write(&file, "rules: [{id: x}]").unwrap();
        assert!(matches!(e.reload(), Err(EmbedError::Invalid { .. })));
        assert_eq!(e.version().0, "1.1.0");
        assert!(matches!(Engine::builder().build(), Err(EmbedError::NoFile)));
    }
}
