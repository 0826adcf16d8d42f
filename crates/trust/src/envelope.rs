//! Signed documents: DSSE envelopes with Ed25519, the HMAC team export, and
//! the two legacy HMAC formats; one `verify` that recognises each and fails
//! closed with the first reason in the order DESIGN §11.3 fixes.

use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::canonical::{canonicalize, python_dumps};
use crate::keys::{Digest, KeyId, PublicKey, Role, bundle_digest, hex};
use crate::payload::{PayloadKind, named_signer};
use crate::sensitive::Sensitive;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The payload types Gavel signs.
pub const PAYLOAD_TYPES: [&str; 6] = [
    PayloadKind::Bundle.media_type(),
    PayloadKind::Approval.media_type(),
    PayloadKind::Override.media_type(),
    PayloadKind::Rollout.media_type(),
    PayloadKind::Review.media_type(),
    PayloadKind::Trust.media_type(),
];

/// The payload type of a short name (`bundle`, `approval`, …).
pub fn payload_type(short: &str) -> Option<&'static str> {
    PayloadKind::from_short(short).map(PayloadKind::media_type)
}

/// How long a payload type is valid by default, in seconds; `None` for a
/// type Gavel does not sign.
pub fn default_validity(payload_type: &str) -> Option<i64> {
    PayloadKind::from_media_type(payload_type).map(PayloadKind::default_validity)
}

/// DSSE's pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Signs `payload` (serialized as RFC 8785 JSON) into a DSSE envelope with
/// one signature per key.
pub fn sign_dsse(
    payload_type: &str,
    payload: &Value,
    keys: &[&SigningKey],
) -> Result<Value, crate::canonical::CanonicalError> {
    let body = canonicalize(payload)?;
    let to_sign = pae(payload_type, body.as_bytes());
    let signatures: Vec<Value> = keys
        .iter()
        .map(|k| {
            json!({
                "keyid": KeyId::of(k.verifying_key().as_bytes()).0,
                "sig": B64.encode(k.sign(&to_sign).to_bytes()),
            })
        })
        .collect();
    Ok(json!({
        "payloadType": payload_type,
        "payload": B64.encode(body.as_bytes()),
        "signatures": signatures,
    }))
}

/// Adds `key`'s signature to a DSSE envelope over the same payload bytes
/// (a co-signature: the payload is not re-serialized, so every earlier
/// signature stays valid). An envelope `key` already signed comes back as
/// it is.
pub fn add_dsse_signature(envelope: &Value, key: &SigningKey) -> Result<Value, CosignError> {
    let (Some(ptype), Some(payload_b64), Some(sigs)) = (
        str_field(envelope, "payloadType"),
        str_field(envelope, "payload"),
        envelope.get("signatures").and_then(Value::as_array),
    ) else {
        return Err(CosignError::Malformed);
    };
    let payload = B64
        .decode(payload_b64)
        .map_err(|_| CosignError::Malformed)?;
    let keyid = KeyId::of(key.verifying_key().as_bytes()).0;
    if sigs
        .iter()
        .any(|s| str_field(s, "keyid") == Some(keyid.as_str()))
    {
        return Ok(envelope.clone());
    }
    let mut sigs = sigs.clone();
    sigs.push(json!({
        "keyid": keyid,
        "sig": B64.encode(key.sign(&pae(ptype, &payload)).to_bytes()),
    }));
    Ok(json!({
        "payloadType": ptype,
        "payload": payload_b64,
        "signatures": sigs,
    }))
}

/// Why an envelope cannot be co-signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignError {
    #[error("not a DSSE envelope: it needs `payloadType`, `payload` (base64) and `signatures`")]
    Malformed,
}

/// RFC 3339, UTC, whole seconds.
pub fn rfc3339(t: jiff::Timestamp) -> String {
    let whole = jiff::Timestamp::from_second(t.as_second()).unwrap_or(t);
    whole.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// What an author states about a bundle version, before Gavel stamps the
/// times: `{name, version, digest, bundle, author}`, the name and version
/// from the bundle's metadata (null for a bare rule list).
pub fn bundle_statement(
    bundle: &Value,
    author: &str,
) -> Result<Value, crate::canonical::CanonicalError> {
    let meta = bundle.get("metadata");
    let field = |k: &str| meta.and_then(|m| m.get(k)).cloned().unwrap_or(Value::Null);
    Ok(json!({
        "name": field("name"),
        "version": field("version"),
        "digest": bundle_digest(bundle)?.to_string(),
        "bundle": bundle,
        "author": author,
    }))
}

/// The signed statement about a bundle version, with its times.
pub fn bundle_payload(
    bundle: &Value,
    author: &str,
    issued_at: jiff::Timestamp,
    expires_at: jiff::Timestamp,
) -> Result<Value, crate::canonical::CanonicalError> {
    let mut out = bundle_statement(bundle, author)?;
    if let Some(o) = out.as_object_mut() {
        o.insert("issued_at".to_string(), rfc3339(issued_at).into());
        o.insert("expires_at".to_string(), rfc3339(expires_at).into());
    }
    Ok(out)
}

/// The team export: `{format, payloadType, payload, issued_at, expires_at,
/// keyid: "hmac:<name>", mac}` with `mac` over everything else.
pub fn team_export(
    payload_type: &str,
    payload: &[u8],
    issued_at: jiff::Timestamp,
    expires_at: jiff::Timestamp,
    secret_name: &str,
    secret: &Sensitive<Vec<u8>>,
) -> Result<Value, crate::canonical::CanonicalError> {
    let mut doc = json!({
        "format": "gavel-team-export/1",
        "payloadType": payload_type,
        "payload": B64.encode(payload),
        "issued_at": rfc3339(issued_at),
        "expires_at": rfc3339(expires_at),
        "keyid": format!("hmac:{secret_name}"),
    });
    let mac = hmac_hex(secret.expose(), canonicalize(&doc)?.as_bytes());
    if let Some(o) = doc.as_object_mut() {
        o.insert("mac".to_string(), Value::String(mac));
    }
    Ok(doc)
}

/// The policy-studio export, for tests and migrations: the signature is hex
/// HMAC-SHA256 over `json.dumps(bundle, sort_keys=True)`.
pub fn legacy_export(
    bundle: &Value,
    exported_at: &str,
    expires_at: &str,
    secret: &Sensitive<Vec<u8>>,
) -> Value {
    json!({
        "bundle": bundle,
        "exported_at": exported_at,
        "expires_at": expires_at,
        "format_version": "1.0",
        "signature": hmac_hex(secret.expose(), python_dumps(bundle, ", ", ": ").as_bytes()),
    })
}

/// The legacy override file `{data, signature}`.
pub fn legacy_override(data: &Value, secret: &Sensitive<Vec<u8>>) -> Value {
    json!({
        "data": data,
        "signature": hmac_hex(secret.expose(), python_dumps(data, ",", ":").as_bytes()),
    })
}

type HmacSha256 = Hmac<Sha256>;

fn hmac_hex(secret: &[u8], message: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac =
        <HmacSha256 as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable_hmac());
    mac.update(message);
    hex(&mac.finalize().into_bytes())
}

#[expect(
    clippy::panic,
    reason = "HMAC accepts every key length, so this cannot happen"
)]
fn unreachable_hmac() -> HmacSha256 {
    panic!("HMAC rejected a key")
}

/// Constant-time comparison of a hex MAC with the expected MAC.
fn mac_matches(secret: &[u8], message: &[u8], given_hex: &str) -> bool {
    let Some(given) = unhex(given_hex) else {
        return false;
    };
    let Ok(mut mac) = <HmacSha256 as Mac>::new_from_slice(secret) else {
        return false;
    };
    mac.update(message);
    mac.verify_slice(&given).is_ok()
}

/// Lowercase hex only: one MAC has exactly one accepted spelling (the
/// ledger keys legacy overrides by it).
fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

/// Which kind of signed document it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Format {
    Dsse,
    TeamHmac,
    LegacyExport,
    LegacyOverride,
    Unknown,
}

impl Format {
    /// The name `verify --format json` prints: `dsse`, `team-hmac`,
    /// `legacy-export`, `legacy-override`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Dsse => "dsse",
            Format::TeamHmac => "team-hmac",
            Format::LegacyExport => "legacy-export",
            Format::LegacyOverride => "legacy-override",
            Format::Unknown => "unknown",
        }
    }
}

/// Why verification failed, in the order checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Reason {
    Malformed,
    UnknownKey,
    BadSignature,
    WrongPayloadType,
    NotYetValid,
    Expired,
    DigestMismatch,
    QuorumNotMet,
    Used,
}

impl Reason {
    /// The name `verify --format json` prints (`unknown_key`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::UnknownKey => "unknown_key",
            Reason::BadSignature => "bad_signature",
            Reason::WrongPayloadType => "wrong_payload_type",
            Reason::NotYetValid => "not_yet_valid",
            Reason::Expired => "expired",
            Reason::DigestMismatch => "digest_mismatch",
            Reason::QuorumNotMet => "quorum_not_met",
            Reason::Used => "used",
        }
    }
}

/// A key that signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Signer {
    pub keyid: String,
    pub name: String,
    pub roles: Vec<Role>,
}

/// The result: `{valid, format, legacy, payload_type, signers, issued_at,
/// expires_at, expiry_covered, reason, message}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Verification {
    pub valid: bool,
    pub format: Format,
    pub legacy: bool,
    pub payload_type: Option<String>,
    pub signers: Vec<Signer>,
    pub issued_at: Option<String>,
    pub expires_at: Option<String>,
    pub expiry_covered: bool,
    pub reason: Option<Reason>,
    pub message: String,
    /// The verified payload (for callers that act on it).
    #[serde(skip)]
    pub payload: Option<Value>,
}

/// What verification may use.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions<'a> {
    pub now: jiff::Timestamp,
    /// The trusted public keys, with their roles.
    pub trusted: &'a [PublicKey],
    /// The HMAC secret for the team export and legacy formats.
    pub secret: Option<&'a Sensitive<Vec<u8>>>,
    /// Refuse any other payload type.
    pub expected_type: Option<&'a str>,
}

/// Issued-at may be this far in the future (clock skew between machines).
const SKEW_SECONDS: i64 = 60;

impl Verification {
    fn new(format: Format) -> Self {
        Verification {
            valid: false,
            format,
            legacy: matches!(format, Format::LegacyExport | Format::LegacyOverride),
            payload_type: None,
            signers: Vec::new(),
            issued_at: None,
            expires_at: None,
            expiry_covered: matches!(format, Format::Dsse | Format::TeamHmac),
            reason: None,
            message: String::new(),
            payload: None,
        }
    }

    fn fail(mut self, reason: Reason, message: impl Into<String>) -> Self {
        self.valid = false;
        self.reason = Some(reason);
        self.message = message.into();
        self
    }
}

/// Which signatures make a DSSE envelope valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counting {
    /// Any trusted key's: the signing rule is the caller's.
    AnyTrusted,
    /// The signing rule of Gavel's payload types: a trusted key holding the
    /// role that signs the type, owned by the signer the payload names.
    Owner,
}

/// Verifies a signed document given as parsed JSON, counting a DSSE
/// signature from any trusted key, whatever its roles and whatever signer
/// the payload names: for a caller that applies the signing rule itself,
/// with `named_signer` (the governance crate's overrides). Everything else
/// uses `verify_by_owner`.
pub fn verify(doc: &Value, opts: &VerifyOptions<'_>) -> Verification {
    verify_counting(doc, opts, Counting::AnyTrusted)
}

/// `verify` with the signing rule of DSSE payloads: a signature counts only
/// from a trusted key holding the role that signs the payload's type
/// (bundle and review: author; approval: approver; override: security;
/// rollout: operator), and the payload must name that key's owner as its
/// signer (bundle `author`, approval `approver`, by name or key id, and the
/// approval's `roles` held by it; override `issued_by`): see
/// `named_signer`. Keys without the role are set aside right after the
/// signatures are checked, so the reason is the first in DESIGN §11.3's
/// order: an envelope signed only by keys without the role is
/// `unknown_key` whether or not it has also expired. `signers` lists only
/// the keys that vouch. The shared-secret formats have no roles and pass
/// through as `verify` reads them.
pub fn verify_by_owner(doc: &Value, opts: &VerifyOptions<'_>) -> Verification {
    verify_counting(doc, opts, Counting::Owner)
}

fn verify_counting(doc: &Value, opts: &VerifyOptions<'_>, counting: Counting) -> Verification {
    let has = |k: &str| doc.get(k).is_some();
    // Each format has a closed set of fields: a field its signature does not
    // cover cannot smuggle meaning in (say, a DSSE envelope that also
    // carries a legacy `data`).
    let only = |format: Format, allowed: &[&str]| -> Option<Verification> {
        let extra = doc
            .as_object()?
            .keys()
            .find(|k| !allowed.contains(&k.as_str()))?;
        Some(Verification::new(format).fail(
            Reason::Malformed,
            format!("unexpected field `{extra}` in this signed document"),
        ))
    };
    if doc.get("format").and_then(Value::as_str) == Some("gavel-team-export/1") {
        only(
            Format::TeamHmac,
            &[
                "format",
                "payloadType",
                "payload",
                "issued_at",
                "expires_at",
                "keyid",
                "mac",
            ],
        )
        .unwrap_or_else(|| verify_team(doc, opts))
    } else if has("payloadType") || has("signatures") {
        only(Format::Dsse, &["payloadType", "payload", "signatures"])
            .unwrap_or_else(|| verify_dsse(doc, opts, counting))
    } else if has("bundle") && has("signature") {
        only(
            Format::LegacyExport,
            &[
                "bundle",
                "exported_at",
                "expires_at",
                "format_version",
                "signature",
            ],
        )
        .unwrap_or_else(|| verify_legacy_export(doc, opts))
    } else if has("data") && has("signature") {
        only(Format::LegacyOverride, &["data", "signature", "used"])
            .unwrap_or_else(|| verify_legacy_override(doc, opts))
    } else {
        Verification::new(Format::Unknown).fail(
            Reason::Malformed,
            "not a signed document Gavel knows: expected a DSSE envelope, a team export, a legacy export or a legacy override",
        )
    }
}

fn str_field<'a>(doc: &'a Value, k: &str) -> Option<&'a str> {
    doc.get(k).and_then(Value::as_str)
}

fn signer_of(key: &PublicKey) -> Signer {
    Signer {
        keyid: key.keyid.0.clone(),
        name: key.name.clone(),
        roles: key.roles.clone(),
    }
}

fn verify_dsse(doc: &Value, opts: &VerifyOptions<'_>, counting: Counting) -> Verification {
    let v = Verification::new(Format::Dsse);
    let (Some(ptype), Some(payload_b64), Some(sigs)) = (
        str_field(doc, "payloadType"),
        str_field(doc, "payload"),
        doc.get("signatures").and_then(Value::as_array),
    ) else {
        return v.fail(
            Reason::Malformed,
            "a DSSE envelope needs `payloadType`, `payload` and `signatures`",
        );
    };
    let mut v = v;
    v.payload_type = Some(ptype.to_string());
    let Ok(payload) = B64.decode(payload_b64) else {
        return v.fail(Reason::Malformed, "`payload` is not valid standard base64");
    };
    if sigs.is_empty() {
        return v.fail(Reason::Malformed, "`signatures` is empty");
    }
    let mut parsed = Vec::new();
    for (i, s) in sigs.iter().enumerate() {
        let (Some(keyid), Some(sig)) = (str_field(s, "keyid"), str_field(s, "sig")) else {
            return v.fail(
                Reason::Malformed,
                format!("signature {i} needs `keyid` and `sig`"),
            );
        };
        let Some(bytes) = B64
            .decode(sig)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
        else {
            return v.fail(
                Reason::Malformed,
                format!("signature {i} is not base64 of 64 bytes"),
            );
        };
        parsed.push((keyid, ed25519_dalek::Signature::from_bytes(&bytes)));
    }
    // The payload type is covered by every signature (through the PAE), so
    // it may choose which keys count before they are checked.
    let owned = match counting {
        Counting::Owner => PayloadKind::from_media_type(ptype),
        Counting::AnyTrusted => None,
    };
    let counts = |key: &PublicKey| owned.is_none_or(|kind| key.has_role(kind.signer_role()));
    let mut by_id: std::collections::HashMap<&str, &PublicKey> = std::collections::HashMap::new();
    for k in opts.trusted {
        by_id.entry(k.keyid.0.as_str()).or_insert(k);
    }
    // unknown_key comes before bad_signature (§11.3): an envelope no key
    // that counts has signed is refused before any signature is checked.
    if !parsed
        .iter()
        .any(|(keyid, _)| by_id.get(keyid).is_some_and(|k| counts(k)))
    {
        return v.fail(Reason::UnknownKey, no_key_counts(&parsed, &by_id, owned));
    }
    let message = pae(ptype, &payload);
    // Every trusted key that verified, the role-less included (the payload
    // may name one of them); only those that count go in `signers`.
    let mut verified_keys: Vec<Signer> = Vec::new();
    // A signature already verified is not checked again: an envelope that
    // repeats one valid signature to fill 16 MiB costs one check, not
    // a hundred thousand.
    let mut verified: std::collections::HashMap<&str, [u8; 64]> = std::collections::HashMap::new();
    for (keyid, sig) in &parsed {
        if verified.get(keyid) == Some(&sig.to_bytes()) {
            continue;
        }
        let Some(key) = by_id.get(keyid) else {
            continue;
        };
        let Ok(vk) = key.verifying_key() else {
            continue;
        };
        if vk.verify_strict(&message, sig).is_err() {
            return v.fail(
                Reason::BadSignature,
                format!("the signature by key `{keyid}` does not match the payload"),
            );
        }
        verified.insert(keyid, sig.to_bytes());
        if !verified_keys.iter().any(|s| s.keyid == key.keyid.0) {
            verified_keys.push(signer_of(key));
        }
    }
    let counting_signers = |all: &[Signer]| -> Vec<Signer> {
        all.iter()
            .filter(|s| by_id.get(s.keyid.as_str()).is_some_and(|k| counts(k)))
            .cloned()
            .collect()
    };
    v.signers = counting_signers(&verified_keys);
    if v.signers.is_empty() {
        // Only a trusted key whose public key does not decode claimed it.
        return v.fail(
            Reason::UnknownKey,
            format!(
                "no usable trusted key signed this (signed by {}); the trusted public key does not decode: trust it again from its owner's export",
                key_list(parsed.iter().map(|(k, _)| *k))
            ),
        );
    }
    let type_ok = match opts.expected_type {
        Some(t) => t == ptype,
        None => PAYLOAD_TYPES.contains(&ptype),
    };
    if !type_ok {
        let want = opts
            .expected_type
            .map_or("a Gavel payload type".to_string(), |t| format!("`{t}`"));
        return v.fail(
            Reason::WrongPayloadType,
            format!("payload type `{ptype}` where {want} was expected"),
        );
    }
    let Ok(body) = serde_json::from_slice::<Value>(&payload) else {
        return v.fail(Reason::Malformed, "the payload is not JSON");
    };
    if let Err(e) = well_formed(ptype, &body) {
        return v.fail(Reason::Malformed, e);
    }
    // A retired key vouches only for what was issued before it retired.
    if let Some(issued) =
        str_field(&body, "issued_at").and_then(|t| t.parse::<jiff::Timestamp>().ok())
    {
        let retired_after = |keyid: &str| {
            by_id
                .get(keyid)
                .and_then(|k| k.retired_at.as_deref())
                .and_then(|r| r.parse::<jiff::Timestamp>().ok())
                .is_some_and(|r| issued > r)
        };
        let late: Vec<String> = v
            .signers
            .iter()
            .filter(|s| retired_after(&s.keyid))
            .map(|s| s.keyid.clone())
            .collect();
        verified_keys.retain(|s| !retired_after(&s.keyid));
        v.signers = counting_signers(&verified_keys);
        if v.signers.is_empty() {
            return v.fail(
                Reason::UnknownKey,
                format!(
                    "signed only by retired key(s) {} after they were retired",
                    late.join(", ")
                ),
            );
        }
    }
    if let Some(kind) = owned {
        match named_signer(kind, &body, &verified_keys) {
            Ok(owners) => v.signers = owners.into_iter().cloned().collect(),
            Err(e) => return v.fail(e.reason(), e.to_string()),
        }
    }
    check_times(v, body, opts.now)
}

/// Why no signature of the envelope counts: no trusted key signed it, or
/// (under the signing rule) only trusted keys without the type's role.
fn no_key_counts(
    parsed: &[(&str, ed25519_dalek::Signature)],
    by_id: &std::collections::HashMap<&str, &PublicKey>,
    owned: Option<PayloadKind>,
) -> String {
    let role_less = || {
        parsed
            .iter()
            .filter_map(|(keyid, _)| by_id.get(keyid).map(|k| k.name.as_str()))
    };
    match owned {
        Some(kind) if role_less().next().is_some() => format!(
            "no trusted key with the `{}` role signed this {} payload (signed by {}, without that role); only that role signs {} payloads",
            kind.signer_role().as_str(),
            kind.short(),
            key_list(role_less()),
            kind.short()
        ),
        _ => format!(
            "no trusted key signed this (signed by {}); trust the signer's public key first",
            key_list(parsed.iter().map(|(k, _)| *k))
        ),
    }
}

/// Key ids (or names) for a message: each once, at most five, then how
/// many more.
pub(crate) fn key_list<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    const SHOWN: usize = 5;
    let mut seen = std::collections::HashSet::new();
    let mut shown = Vec::new();
    for id in ids {
        if seen.insert(id) && shown.len() < SHOWN {
            shown.push(format!("`{id}`"));
        }
    }
    let more = seen.len() - shown.len();
    let mut text = shown.join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

/// A payload of a type Gavel signs must be well formed for that type.
fn well_formed(payload_type: &str, body: &Value) -> Result<(), String> {
    match PayloadKind::from_media_type(payload_type) {
        Some(kind) => kind
            .check(body)
            .map_err(|e| format!("the {} payload is not well formed: {e}", kind.short())),
        None => Ok(()),
    }
}

/// Times from the payload, then the bundle digest when the payload has one.
fn check_times(mut v: Verification, body: Value, now: jiff::Timestamp) -> Verification {
    let (Some(issued), Some(expires)) = (
        str_field(&body, "issued_at"),
        str_field(&body, "expires_at"),
    ) else {
        return v.fail(
            Reason::Malformed,
            "the payload needs `issued_at` and `expires_at`",
        );
    };
    v.issued_at = Some(issued.to_string());
    v.expires_at = Some(expires.to_string());
    let (Ok(issued_t), Ok(expires_t)) = (
        issued.parse::<jiff::Timestamp>(),
        expires.parse::<jiff::Timestamp>(),
    ) else {
        return v.fail(
            Reason::Malformed,
            "`issued_at` and `expires_at` must be RFC 3339 times",
        );
    };
    if issued_t.as_second() > now.as_second() + SKEW_SECONDS {
        return v.fail(Reason::NotYetValid, format!("not valid before {issued}"));
    }
    if expires_t.as_second() <= now.as_second() {
        return v.fail(Reason::Expired, format!("expired at {expires}"));
    }
    // A bundle payload names its bundle's digest; a review package, each of
    // its two versions'.
    let versions = [Some(&body), body.get("base"), body.get("proposed")];
    for (at, entry) in ["", "base.", "proposed."].iter().zip(versions) {
        let Some(entry) = entry else { continue };
        let (Some(stated), Some(bundle)) = (str_field(entry, "digest"), entry.get("bundle")) else {
            continue;
        };
        match bundle_digest(bundle) {
            Ok(d) if d.to_string() == stated => {}
            Ok(d) => {
                return v.fail(
                    Reason::DigestMismatch,
                    format!("`{at}digest` says {stated} but the bundle's digest is {d}"),
                );
            }
            Err(e) => {
                return v.fail(
                    Reason::DigestMismatch,
                    format!("the bundle in `{at}bundle` has no digest: {e}"),
                );
            }
        }
    }
    v.valid = true;
    v.message = "valid".to_string();
    v.payload = Some(body);
    v
}

fn verify_team(doc: &Value, opts: &VerifyOptions<'_>) -> Verification {
    let mut v = Verification::new(Format::TeamHmac);
    let (Some(ptype), Some(payload_b64), Some(keyid), Some(mac)) = (
        str_field(doc, "payloadType"),
        str_field(doc, "payload"),
        str_field(doc, "keyid"),
        str_field(doc, "mac"),
    ) else {
        return v.fail(
            Reason::Malformed,
            "a team export needs `payloadType`, `payload`, `keyid` and `mac`",
        );
    };
    v.payload_type = Some(ptype.to_string());
    let Some(secret) = opts.secret else {
        return v.fail(
            Reason::UnknownKey,
            format!(
                "signed with the shared secret `{keyid}`; pass it with --secret or --secret-file"
            ),
        );
    };
    let mut unsigned = doc.clone();
    if let Some(o) = unsigned.as_object_mut() {
        o.remove("mac");
    }
    let Ok(text) = canonicalize(&unsigned) else {
        return v.fail(Reason::Malformed, "the export has no canonical form");
    };
    if !mac_matches(secret.expose(), text.as_bytes(), mac) {
        return v.fail(
            Reason::BadSignature,
            "the MAC does not match: wrong secret, or the export was changed",
        );
    }
    v.signers = vec![Signer {
        keyid: keyid.to_string(),
        name: keyid.to_string(),
        roles: Vec::new(),
    }];
    if opts.expected_type.is_some_and(|t| t != ptype) || !PAYLOAD_TYPES.contains(&ptype) {
        return v.fail(
            Reason::WrongPayloadType,
            format!("unexpected payload type `{ptype}`"),
        );
    }
    let Some(body) = B64
        .decode(payload_b64)
        .ok()
        .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
    else {
        return v.fail(Reason::Malformed, "the payload is not base64 of JSON");
    };
    if let Err(e) = well_formed(ptype, &body) {
        return v.fail(Reason::Malformed, e);
    }
    // The MAC covers the envelope's own times; they are the ones checked.
    let mut body_times = body.clone();
    if let Some(o) = body_times.as_object_mut() {
        for k in ["issued_at", "expires_at"] {
            if let Some(t) = doc.get(k) {
                o.insert(k.to_string(), t.clone());
            }
        }
    }
    let mut checked = check_times(v, body_times, opts.now);
    if checked.valid {
        checked.payload = Some(body);
    }
    checked
}

/// Naive ISO 8601 in UTC (`2099-01-01T00:00:00`, fractions allowed).
fn naive_utc(text: &str) -> Option<jiff::Timestamp> {
    let dt: jiff::civil::DateTime = text.trim().parse().ok()?;
    jiff::tz::TimeZone::UTC.to_timestamp(dt).ok()
}

fn verify_legacy_export(doc: &Value, opts: &VerifyOptions<'_>) -> Verification {
    let mut v = Verification::new(Format::LegacyExport);
    let (Some(bundle), Some(sig)) = (doc.get("bundle"), str_field(doc, "signature")) else {
        return v.fail(
            Reason::Malformed,
            "a legacy export needs `bundle` and `signature`",
        );
    };
    let Some(secret) = opts.secret else {
        return v.fail(Reason::UnknownKey, "a legacy export is signed with a shared secret; pass it with --secret or --secret-file");
    };
    if !mac_matches(
        secret.expose(),
        python_dumps(bundle, ", ", ": ").as_bytes(),
        sig,
    ) {
        return v.fail(
            Reason::BadSignature,
            "the signature does not match: wrong secret, or the bundle was changed",
        );
    }
    v.signers = vec![Signer {
        keyid: "hmac".to_string(),
        name: "shared secret".to_string(),
        roles: Vec::new(),
    }];
    v.issued_at = str_field(doc, "exported_at").map(str::to_string);
    v.expires_at = str_field(doc, "expires_at").map(str::to_string);
    if v.expires_at.is_none() {
        return v.fail(
            Reason::Malformed,
            "a legacy export needs `expires_at` (naive ISO 8601 in UTC)",
        );
    }
    if let Some(exp) = v.expires_at.clone() {
        match naive_utc(&exp) {
            Some(t) if t.as_second() <= opts.now.as_second() => {
                return v.fail(
                    Reason::Expired,
                    format!(
                        "expired at {exp} (legacy: the expiry is not covered by the signature)"
                    ),
                );
            }
            Some(_) => {}
            None => {
                return v.fail(
                    Reason::Malformed,
                    format!("`expires_at` `{exp}` is not an ISO 8601 time"),
                );
            }
        }
    }
    v.valid = true;
    v.message = "valid, legacy: the signature covers `bundle` only, not `exported_at`, `expires_at` or whitespace".to_string();
    v.payload = Some(bundle.clone());
    v
}

fn verify_legacy_override(doc: &Value, opts: &VerifyOptions<'_>) -> Verification {
    let mut v = Verification::new(Format::LegacyOverride);
    let (Some(data), Some(sig)) = (doc.get("data"), str_field(doc, "signature")) else {
        return v.fail(
            Reason::Malformed,
            "a legacy override needs `data` and `signature`",
        );
    };
    if !data.is_object() {
        return v.fail(Reason::Malformed, "`data` must be an object");
    }
    let Some(secret) = opts.secret else {
        return v.fail(Reason::UnknownKey, "a legacy override is signed with a shared secret; pass it with --secret or --secret-file");
    };
    if !mac_matches(
        secret.expose(),
        python_dumps(data, ",", ":").as_bytes(),
        sig,
    ) {
        return v.fail(
            Reason::BadSignature,
            "the signature does not match: wrong secret, or the override was changed",
        );
    }
    v.signers = vec![Signer {
        keyid: "hmac".to_string(),
        name: "shared secret".to_string(),
        roles: vec![Role::Security],
    }];
    if data
        .get("expires_at")
        .is_some_and(|e| !e.is_string() && !e.is_null())
    {
        return v.fail(Reason::Malformed, "`expires_at` must be a time");
    }
    v.expires_at = str_field(data, "expires_at").map(str::to_string);
    if let Some(exp) = v.expires_at.clone() {
        let t = exp
            .parse::<jiff::Timestamp>()
            .ok()
            .or_else(|| naive_utc(&exp));
        match t {
            Some(t) if t.as_second() <= opts.now.as_second() => {
                return v.fail(Reason::Expired, format!("expired at {exp}"));
            }
            Some(_) => {}
            None => {
                return v.fail(
                    Reason::Malformed,
                    format!("`expires_at` `{exp}` is not a time"),
                );
            }
        }
    }
    // Marked used in any way (`true`, `1`, `"true"`): refused. §11.3 puts
    // expiry before use, so this comes after the time check.
    if doc
        .get("used")
        .is_some_and(|u| !matches!(u, Value::Null | Value::Bool(false)))
    {
        return v.fail(Reason::Used, "this override file is marked used");
    }
    v.valid = true;
    v.message = "valid, legacy: the signature covers `data` only; `used` and the file around it are not covered".to_string();
    v.payload = Some(data.clone());
    v
}

/// The digest a legacy override is recorded under when consumed.
pub fn legacy_ledger_key(doc: &Value) -> Option<Digest> {
    str_field(doc, "signature").map(|s| Digest::of(s.as_bytes()))
}
