//! Digests, key ids and public keys as they travel.

use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::canonical::{CanonicalError, canonicalize};

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A SHA-256 digest, written `sha256:<hex>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    pub fn hex(&self) -> String {
        hex(&self.0)
    }

    /// Reads `sha256:<64 hex digits>`.
    pub fn parse(text: &str) -> Option<Digest> {
        let h = text.strip_prefix("sha256:")?;
        if h.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = u8::from_str_radix(h.get(i * 2..i * 2 + 2)?, 16).ok()?;
        }
        Some(Digest(out))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

/// A bundle's digest: SHA-256 of the RFC 8785 form of its document in the
/// JSON data model; a bare rule list is wrapped as `{"apiVersion":
/// "gavel/v1", "kind": "PolicyBundle", "metadata": {}, "rules": [...]}`.
/// Defaults are not filled in.
pub fn bundle_digest(document: &serde_json::Value) -> Result<Digest, CanonicalError> {
    let wrapped;
    let doc = match document {
        serde_json::Value::Array(rules) => {
            wrapped = serde_json::json!({
                "apiVersion": "gavel/v1",
                "kind": "PolicyBundle",
                "metadata": {},
                "rules": rules,
            });
            &wrapped
        }
        other => other,
    };
    Ok(Digest::of(canonicalize(doc)?.as_bytes()))
}

/// A key id: the first 16 hex digits of SHA-256 of the raw public key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeyId(pub String);

impl KeyId {
    pub fn of(public_key: &[u8; 32]) -> KeyId {
        KeyId(hex(&Sha256::digest(public_key)).chars().take(16).collect())
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A role a key can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Role {
    Author,
    Approver,
    Analyst,
    Security,
    Operator,
}

impl Role {
    pub const PEOPLE: [Role; 4] = [Role::Author, Role::Approver, Role::Analyst, Role::Security];

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "author" => Some(Role::Author),
            "approver" => Some(Role::Approver),
            "analyst" => Some(Role::Analyst),
            "security" => Some(Role::Security),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Author => "author",
            Role::Approver => "approver",
            Role::Analyst => "analyst",
            Role::Security => "security",
            Role::Operator => "operator",
        }
    }
}

/// A public key as it travels: `{keyid, algorithm: "ed25519", public_key
/// (base64), name, email, roles}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PublicKey {
    pub keyid: KeyId,
    pub algorithm: String,
    pub public_key: String,
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub roles: Vec<Role>,
    /// When the key was rotated out (RFC 3339): it still verifies what it
    /// signed before then, and nothing issued after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<String>,
}

/// Why a public key document cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublicKeyError {
    #[error("unsupported algorithm `{0}`; only `ed25519` keys are accepted")]
    Algorithm(String),
    #[error("`public_key` is not standard base64 of 32 bytes")]
    Encoding,
    #[error("`public_key` is not a valid Ed25519 point")]
    Point,
    #[error("`keyid` `{stated}` does not match the key, whose id is `{actual}`")]
    KeyIdMismatch { stated: String, actual: String },
}

impl PublicKey {
    pub fn new(
        key: &ed25519_dalek::VerifyingKey,
        name: &str,
        email: &str,
        roles: Vec<Role>,
    ) -> PublicKey {
        PublicKey {
            keyid: KeyId::of(key.as_bytes()),
            algorithm: "ed25519".to_string(),
            public_key: base64::engine::general_purpose::STANDARD.encode(key.as_bytes()),
            name: name.to_string(),
            email: email.to_string(),
            roles,
            retired_at: None,
        }
    }

    /// The verifying key, checked against the stated key id.
    pub fn verifying_key(&self) -> Result<ed25519_dalek::VerifyingKey, PublicKeyError> {
        if self.algorithm != "ed25519" {
            return Err(PublicKeyError::Algorithm(self.algorithm.clone()));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(self.public_key.trim())
            .map_err(|_| PublicKeyError::Encoding)?;
        let raw: [u8; 32] = bytes.try_into().map_err(|_| PublicKeyError::Encoding)?;
        let actual = KeyId::of(&raw);
        if actual != self.keyid {
            return Err(PublicKeyError::KeyIdMismatch {
                stated: self.keyid.0.clone(),
                actual: actual.0,
            });
        }
        ed25519_dalek::VerifyingKey::from_bytes(&raw).map_err(|_| PublicKeyError::Point)
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_test_vector_digest() {
        let bare: serde_json::Value = serde_json::from_str(
            r#"[{"id": "allow-small-reindex", "agent": "knowledge.search", "action": "reindex", "effect": "allow", "conditions": {"<=index_size_gb": 10}, "reason": "Small reindex jobs are safe"}]"#,
        )
        .unwrap();
        assert_eq!(
            bundle_digest(&bare).unwrap().to_string(),
            "sha256:b15bf27bf394395fd16df0225ae90c281e4b4318dfe524a81fb56256ad0fa7f3"
        );
        let d = bundle_digest(&bare).unwrap();
        assert_eq!(Digest::parse(&d.to_string()), Some(d));
        assert_eq!(Digest::parse("sha256:00"), None);
    }
}
