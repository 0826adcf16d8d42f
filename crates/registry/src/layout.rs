//! A directory target: one OCI image layout per repository (`oci-layout`,
//! `index.json`, `blobs/sha256/`), which `skopeo` reads (`oci:DIR:TAG`),
//! for teams that carry artifacts by hand. Every file is written whole
//! (a temporary file, then a rename), blobs before the index that names
//! them.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::artifact::{self, Descriptor, MANIFEST_TYPE, Manifest};
use crate::{MAX_BLOB_BYTES, MAX_MANIFEST_BYTES, RegistryError, check_content};

/// The index's annotation that names a tag.
const REF_NAME: &str = "org.opencontainers.image.ref.name";

#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

fn io(path: &Path, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(path, e)
        })
}

impl Layout {
    pub fn new(root: &Path) -> Layout {
        Layout {
            root: root.to_path_buf(),
        }
    }

    fn repo_dir(&self, repo: &str) -> Result<PathBuf, RegistryError> {
        if !artifact::valid_repository(repo) {
            return Err(RegistryError::Invalid(format!(
                "`{repo}` is not a repository name"
            )));
        }
        Ok(self.root.join(repo))
    }

    fn blob_path(dir: &Path, digest: &str) -> Result<PathBuf, RegistryError> {
        Ok(dir.join("blobs/sha256").join(artifact::digest_hex(digest)?))
    }

    fn index(dir: &Path) -> Result<Value, RegistryError> {
        let path = dir.join("index.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| io(&path, format!("not an OCI index: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [],
            })),
            Err(e) => Err(io(&path, e)),
        }
    }

    fn put_blob(dir: &Path, bytes: &[u8]) -> Result<Descriptor, RegistryError> {
        let d = Descriptor::of("application/octet-stream", bytes);
        let path = Self::blob_path(dir, &d.digest)?;
        if !path.exists() {
            write_whole(&path, bytes)?;
        }
        Ok(d)
    }

    pub fn push(
        &self,
        repo: &str,
        manifest: &Manifest,
        blobs: &[&[u8]],
        tag: Option<&str>,
    ) -> Result<Descriptor, RegistryError> {
        let dir = self.repo_dir(repo)?;
        write_whole(
            &dir.join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )?;
        Self::put_blob(&dir, artifact::EMPTY_CONFIG)?;
        for b in blobs {
            Self::put_blob(&dir, b)?;
        }
        let bytes = manifest.to_bytes();
        Self::put_blob(&dir, &bytes)?;
        let d = Descriptor {
            artifact_type: manifest.artifact_type.clone(),
            ..Descriptor::of(MANIFEST_TYPE, &bytes)
        };
        let mut index = Self::index(&dir)?;
        let mut entries: Vec<Value> = index["manifests"].as_array().cloned().unwrap_or_default();
        // A tag names one manifest: an older entry with it goes.
        if let Some(tag) = tag {
            entries.retain(|e| e["annotations"][REF_NAME].as_str() != Some(tag));
        } else if entries.iter().any(|e| e["digest"] == d.digest.as_str()) {
            return Ok(d);
        }
        let mut entry = serde_json::to_value(&d).map_err(|e| io(&dir, e))?;
        if let Some(tag) = tag {
            entry["annotations"] = json!({ REF_NAME: tag });
        }
        entries.push(entry);
        index["manifests"] = Value::Array(entries);
        let text = serde_json::to_vec_pretty(&index).map_err(|e| io(&dir, e))?;
        write_whole(&dir.join("index.json"), &text)?;
        Ok(d)
    }

    pub fn manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<(Manifest, Descriptor)>, RegistryError> {
        let dir = self.repo_dir(repo)?;
        let index = Self::index(&dir)?;
        let entries = index["manifests"].as_array().cloned().unwrap_or_default();
        let found = entries.iter().find(|e| {
            e["annotations"][REF_NAME].as_str() == Some(reference) || e["digest"] == reference
        });
        let Some(entry) = found else { return Ok(None) };
        let d: Descriptor =
            serde_json::from_value(entry.clone()).map_err(|e| io(&dir.join("index.json"), e))?;
        if d.size > MAX_MANIFEST_BYTES {
            return Err(RegistryError::TooLarge {
                what: format!("manifest `{reference}`"),
                limit: MAX_MANIFEST_BYTES,
            });
        }
        let path = Self::blob_path(&dir, &d.digest)?;
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        check_content(&format!("manifest `{reference}`"), &d, &bytes)?;
        let m = Manifest::from_bytes(&bytes)?;
        Ok(Some((
            m,
            Descriptor {
                annotations: None,
                ..d
            },
        )))
    }

    pub fn blob(&self, repo: &str, d: &Descriptor) -> Result<Vec<u8>, RegistryError> {
        if d.size > MAX_BLOB_BYTES {
            return Err(RegistryError::TooLarge {
                what: format!("blob {}", d.digest),
                limit: MAX_BLOB_BYTES,
            });
        }
        let dir = self.repo_dir(repo)?;
        let path = Self::blob_path(&dir, &d.digest)?;
        let meta = std::fs::metadata(&path).map_err(|e| io(&path, e))?;
        if meta.len() > d.size {
            return Err(RegistryError::TooLarge {
                what: format!("blob {}", d.digest),
                limit: d.size,
            });
        }
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        check_content(&format!("blob {}", d.digest), d, &bytes)?;
        Ok(bytes)
    }

    pub fn tags(&self, repo: &str) -> Result<Vec<String>, RegistryError> {
        let dir = self.repo_dir(repo)?;
        let index = Self::index(&dir)?;
        Ok(index["manifests"]
            .as_array()
            .map(|es| {
                es.iter()
                    .filter_map(|e| e["annotations"][REF_NAME].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }
}
