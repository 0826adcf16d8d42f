//! Gavel's trust primitives: canonical JSON (RFC 8785), digests, key ids,
//! DSSE envelopes signed with Ed25519, the HMAC-SHA256 team export, and the
//! two legacy HMAC formats, with one `verify` that fails closed.
//!
//! Pure computation: no keychain, files, clock or randomness. Keys arrive as
//! values, time as a parameter (`VerifyOptions::now`).
//!
//! ```
//! use gavel_trust::{PublicKey, Role, VerifyOptions, sign_dsse, verify};
//!
//! let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
//! let public = PublicKey::new(&key.verifying_key(), "alice", "alice@example.com", vec![Role::Author]);
//! let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
//! let payload = serde_json::json!({"issued_at": "2027-01-15T08:00:00Z", "expires_at": "2028-01-15T08:00:00Z"});
//! let envelope = sign_dsse("application/vnd.gavel.review.v1+json", &payload, &[&key]).unwrap();
//! let v = verify(&envelope, &VerifyOptions { now, trusted: &[public], secret: None, expected_type: None });
//! assert!(v.valid, "{}", v.message);
//! assert_eq!(v.signers[0].name, "alice");
//! ```
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod canonical;
mod envelope;
mod keys;
mod sensitive;

pub use canonical::{CanonicalError, canonicalize, python_dumps, python_float_repr};
pub use envelope::{
    Format, PAYLOAD_TYPES, Reason, Signer, Verification, VerifyOptions, bundle_payload,
    default_validity, legacy_export, legacy_ledger_key, legacy_override, pae, payload_type,
    rfc3339, sign_dsse, team_export, verify,
};
pub use keys::{Digest, KeyId, PublicKey, PublicKeyError, Role, bundle_digest, hex};
pub use sensitive::Sensitive;

/// The Ed25519 implementation keys are made with.
pub use ed25519_dalek as ed25519;
