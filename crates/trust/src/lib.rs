//! Gavel's trust primitives: canonical JSON (RFC 8785), digests, key ids,
//! DSSE envelopes signed with Ed25519, the HMAC-SHA256 team export, and the
//! two legacy HMAC formats, with one `verify` that fails closed.
//!
//! Which role signs each payload type and whether a payload is well formed
//! for its type live in `PayloadKind`; `stamp` makes a payload to sign
//! (Gavel sets its times) and `check_signer` checks it names its signer;
//! `verify_by_owner` refuses a payload that is not well formed, not signed
//! by a key holding its type's role, or naming a signer who did not sign it
//! (`named_signer`), so both sides apply the same rules. Plain `verify`
//! checks signatures only, for callers that apply `named_signer` themselves.
//!
//! Pure computation: no keychain, files, clock or randomness. Keys arrive as
//! values, time as a parameter (`VerifyOptions::now`).
//!
//! ```
//! use gavel_trust::{PayloadKind, PublicKey, Role, VerifyOptions, bundle_statement, sign_dsse, stamp, verify_by_owner};
//!
//! let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
//! let public = PublicKey::new(&key.verifying_key(), "alice", "alice@example.com", vec![Role::Author]);
//! let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
//! // Gavel sets the times; the payload must be well formed for its kind.
//! let statement = bundle_statement(&serde_json::json!([]), "alice").unwrap();
//! let payload = stamp(PayloadKind::Bundle, &statement, now, 3600).unwrap();
//! let envelope = sign_dsse(PayloadKind::Bundle.media_type(), &payload, &[&key]).unwrap();
//! let v = verify_by_owner(&envelope, &VerifyOptions { now, trusted: &[public], secret: None, expected_type: None });
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
mod payload;
mod sensitive;
mod team;

pub use canonical::{CanonicalError, canonicalize, python_dumps, python_float_repr};
pub use envelope::{
    CosignError, Format, PAYLOAD_TYPES, Reason, Signer, Verification, VerifyOptions,
    add_dsse_signature, bundle_payload, bundle_statement, default_validity, legacy_export,
    legacy_ledger_key, legacy_override, pae, payload_type, rfc3339, sign_dsse, team_export, verify,
    verify_by_owner,
};
pub use keys::{Digest, KeyId, PublicKey, PublicKeyError, Role, bundle_digest, hex};
pub use payload::{
    MAX_VALIDITY_SECONDS, PayloadError, PayloadKind, SignerError, check_signer, named_signer, stamp,
};
pub use sensitive::Sensitive;
pub use team::{
    Accepted, Following, TrustDocument, accept as accept_trust_document, security_keys,
    security_signers,
};

/// The Ed25519 implementation keys are made with.
pub use ed25519_dalek as ed25519;
