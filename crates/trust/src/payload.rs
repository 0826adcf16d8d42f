//! What each Gavel payload type is: the role that signs it, how long it is
//! valid by default, and the fields a well-formed payload has (DESIGN §6,
//! §7, §8, §11.3), with their types. Signing (`stamp`, `check_signer`) and
//! verifying (`verify_by_owner`, through `named_signer`) apply the same
//! rules: a payload is well formed for its type, signed by a key holding
//! the type's role, and names that key's owner as its signer. The one
//! difference is time: an approval states its signer's roles exactly when
//! it is signed, and verifies while the signer still holds each of them (a
//! role granted later does not void it).
//!
//! Only types are checked here, not meaning: a forced verdict is a string or
//! null, and whether it is a verdict an override can force is the
//! governance crate's call.

use serde_json::{Map, Value};

use crate::envelope::{Reason, Signer, key_list};
use crate::keys::{Digest, Role};

const DAY: i64 = 86_400;

/// The longest validity Gavel signs for: 100 years.
pub const MAX_VALIDITY_SECONDS: i64 = 100 * 365 * DAY;

/// A kind of payload Gavel signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadKind {
    Bundle,
    Approval,
    Override,
    Rollout,
    Review,
    /// A team's trust document (DESIGN §11.11, §11.16): the keys it trusts
    /// and the quorum of security keys that signs the next one.
    Trust,
}

impl PayloadKind {
    pub const ALL: [PayloadKind; 6] = [
        PayloadKind::Bundle,
        PayloadKind::Approval,
        PayloadKind::Override,
        PayloadKind::Rollout,
        PayloadKind::Review,
        PayloadKind::Trust,
    ];

    /// The short name: `bundle`, `approval`, `override`, `rollout`,
    /// `review`, `trust`.
    pub fn short(self) -> &'static str {
        match self {
            PayloadKind::Bundle => "bundle",
            PayloadKind::Approval => "approval",
            PayloadKind::Override => "override",
            PayloadKind::Rollout => "rollout",
            PayloadKind::Review => "review",
            PayloadKind::Trust => "trust",
        }
    }

    /// The DSSE payload type, `application/vnd.gavel.<short>.v1+json`.
    pub const fn media_type(self) -> &'static str {
        match self {
            PayloadKind::Bundle => "application/vnd.gavel.bundle.v1+json",
            PayloadKind::Approval => "application/vnd.gavel.approval.v1+json",
            PayloadKind::Override => "application/vnd.gavel.override.v1+json",
            PayloadKind::Rollout => "application/vnd.gavel.rollout.v1+json",
            PayloadKind::Review => "application/vnd.gavel.review.v1+json",
            PayloadKind::Trust => "application/vnd.gavel.trust.v1+json",
        }
    }

    pub fn from_short(short: &str) -> Option<PayloadKind> {
        PayloadKind::ALL.into_iter().find(|k| k.short() == short)
    }

    pub fn from_media_type(media_type: &str) -> Option<PayloadKind> {
        PayloadKind::ALL
            .into_iter()
            .find(|k| k.media_type() == media_type)
    }

    /// The one role whose keys sign this kind. A review package goes with
    /// the author: it carries the author's proposal (two versions, their
    /// diff and simulation, the signatures so far) to an offline reviewer,
    /// whose answer is an approval of its own (an approver's `approval.v1`),
    /// never a signature on the package.
    pub fn signer_role(self) -> Role {
        match self {
            PayloadKind::Bundle | PayloadKind::Review => Role::Author,
            PayloadKind::Approval => Role::Approver,
            PayloadKind::Override | PayloadKind::Trust => Role::Security,
            PayloadKind::Rollout => Role::Operator,
        }
    }

    /// The field naming the person who signs, where the payload has one.
    pub fn signer_field(self) -> Option<&'static str> {
        match self {
            PayloadKind::Bundle => Some("author"),
            PayloadKind::Approval => Some("approver"),
            PayloadKind::Override => Some("issued_by"),
            PayloadKind::Rollout | PayloadKind::Review | PayloadKind::Trust => None,
        }
    }

    /// How long a signature is valid by default, in seconds (§11.3).
    pub fn default_validity(self) -> i64 {
        match self {
            PayloadKind::Bundle => 365 * DAY,
            PayloadKind::Approval => 30 * DAY,
            PayloadKind::Override => DAY,
            PayloadKind::Rollout => 7 * DAY,
            PayloadKind::Review => 14 * DAY,
            PayloadKind::Trust => 365 * DAY,
        }
    }

    fn fields(self) -> &'static [Field] {
        match self {
            PayloadKind::Bundle => BUNDLE,
            PayloadKind::Approval => APPROVAL,
            PayloadKind::Override => OVERRIDE,
            PayloadKind::Rollout => ROLLOUT,
            PayloadKind::Review => REVIEW,
            PayloadKind::Trust => TRUST,
        }
    }

    /// Whether `payload` is well formed for this kind: every field it
    /// needs, each of the right type, and no other.
    pub fn check(self, payload: &Value) -> Result<(), PayloadError> {
        match payload {
            Value::Object(map) => check_object(self.short(), "", map, self.fields()),
            other => Err(PayloadError::NotAnObject {
                kind: self.short(),
                found: describe(other),
            }),
        }
    }
}

/// Why a payload is not well formed for its type, or cannot be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("{} payload must be a JSON object, not {found}", with_article(kind))]
    NotAnObject {
        kind: &'static str,
        found: &'static str,
    },
    #[error("`{field}` is missing; {} payload needs it", with_article(kind))]
    Missing { kind: &'static str, field: String },
    #[error(
        "unknown field `{field}` in {} payload; the fields here are {expected}",
        with_article(kind)
    )]
    Unknown {
        kind: &'static str,
        field: String,
        expected: String,
    },
    #[error("`{field}` must be {expected}, not {found}")]
    WrongType {
        field: String,
        expected: String,
        found: String,
    },
    #[error(
        "`{field}` is set by Gavel when it signs; remove it from the payload (`--expires-in` changes how long the signature is valid)"
    )]
    SetByGavel { field: &'static str },
    #[error(
        "`{field}` says `{stated}`, but `{signer}` is signing; a payload can only name its own signer"
    )]
    NotTheSigner {
        field: String,
        stated: String,
        signer: String,
    },
    #[error("`roles` says `{stated}`, but the signer's roles are `{actual}`")]
    NotTheSignersRoles { stated: String, actual: String },
    #[error("a signature must be valid for between 1 second and 100 years, not {seconds} seconds")]
    Validity { seconds: i64 },
}

/// `a bundle`, `an approval`, …
fn with_article(kind: &str) -> String {
    match kind.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {kind}"),
        _ => format!("a {kind}"),
    }
}

impl PayloadError {
    /// The field at fault, dotted (`flags.forced_verdict`), where there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            PayloadError::Missing { field, .. }
            | PayloadError::Unknown { field, .. }
            | PayloadError::WrongType { field, .. }
            | PayloadError::NotTheSigner { field, .. } => Some(field),
            PayloadError::SetByGavel { field } => Some(field),
            PayloadError::NotTheSignersRoles { .. } => Some("roles"),
            PayloadError::NotAnObject { .. } | PayloadError::Validity { .. } => None,
        }
    }

    /// The field as a JSON pointer (`/flags/forced_verdict`).
    pub fn pointer(&self) -> Option<String> {
        self.field().map(|f| {
            f.split('.')
                .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
                .collect()
        })
    }
}

/// The payload Gavel signs: `statement` with `issued_at` = `now` and
/// `expires_at` = `now + validity_seconds` added (RFC 3339 UTC, whole
/// seconds), checked to be well formed for `kind`. A statement that brings
/// its own times is refused: Gavel sets them.
pub fn stamp(
    kind: PayloadKind,
    statement: &Value,
    now: jiff::Timestamp,
    validity_seconds: i64,
) -> Result<Value, PayloadError> {
    let Value::Object(map) = statement else {
        return Err(PayloadError::NotAnObject {
            kind: kind.short(),
            found: describe(statement),
        });
    };
    for field in ["issued_at", "expires_at"] {
        if map.contains_key(field) {
            return Err(PayloadError::SetByGavel { field });
        }
    }
    if !(1..=MAX_VALIDITY_SECONDS).contains(&validity_seconds) {
        return Err(PayloadError::Validity {
            seconds: validity_seconds,
        });
    }
    let expires = jiff::Timestamp::from_second(now.as_second().saturating_add(validity_seconds))
        .map_err(|_| PayloadError::Validity {
            seconds: validity_seconds,
        })?;
    let mut out = map.clone();
    out.insert(
        "issued_at".to_string(),
        Value::String(crate::envelope::rfc3339(now)),
    );
    out.insert(
        "expires_at".to_string(),
        Value::String(crate::envelope::rfc3339(expires)),
    );
    let out = Value::Object(out);
    kind.check(&out)?;
    Ok(out)
}

/// Whether the fields that name the signer name `signer`: `author` of a
/// bundle, `approver` (and its `roles`, which must be the signer's
/// `roles`) of an approval, `issued_by` of an override.
pub fn check_signer(
    kind: PayloadKind,
    payload: &Value,
    signer: &str,
    roles: &[Role],
) -> Result<(), PayloadError> {
    if let Some(field) = kind.signer_field() {
        let stated = payload.get(field).and_then(Value::as_str).unwrap_or("");
        if stated != signer {
            return Err(PayloadError::NotTheSigner {
                field: field.to_string(),
                stated: stated.to_string(),
                signer: signer.to_string(),
            });
        }
    }
    if kind == PayloadKind::Approval {
        let set = |list: Vec<Role>| {
            let mut list = list;
            list.sort();
            list.dedup();
            list
        };
        let stated = set(payload
            .get("roles")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|r| r.as_str().and_then(Role::parse))
                    .collect()
            })
            .unwrap_or_default());
        let actual = set(roles.to_vec());
        if stated != actual {
            return Err(PayloadError::NotTheSignersRoles {
                stated: role_list(&stated),
                actual: role_list(&actual),
            });
        }
    }
    Ok(())
}

/// Why a verified payload's signer does not vouch for it: the payload names
/// someone who did not sign it, or who lacks the role, or states roles its
/// signer does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerError {
    #[error("{} payload must name its signer in `{field}`", with_article(kind))]
    Unnamed {
        kind: &'static str,
        field: &'static str,
    },
    #[error(
        "`{field}` says `{stated}`, but `{stated}` did not sign this {kind} payload (signed by {signed_by}); a payload can only name its own signer"
    )]
    NotASigner {
        kind: &'static str,
        field: &'static str,
        stated: String,
        signed_by: String,
    },
    #[error(
        "`{field}` says `{stated}`, who signed but has not got the `{}` role; only that role signs {kind} payloads",
        role.as_str()
    )]
    LacksRole {
        kind: &'static str,
        field: &'static str,
        stated: String,
        role: Role,
    },
    #[error(
        "no key with the `{}` role signed this {kind} payload (signed by {signed_by}); only that role signs {kind} payloads",
        role.as_str()
    )]
    NoOwner {
        kind: &'static str,
        role: Role,
        signed_by: String,
    },
    #[error(
        "`roles` says `{stated}`, but `{signer}` holds `{held}`; an approval can only state roles its signer holds"
    )]
    RolesNotHeld {
        signer: String,
        stated: String,
        held: String,
    },
}

impl SignerError {
    /// The verification reason (DESIGN §11.3): a payload naming a signer
    /// whose key did not sign it, or without the role, has no trusted key
    /// behind it (`unknown_key`, as when no trusted key signed at all); a
    /// payload whose named signer did sign but which misstates who that is
    /// (no name, roles the signer has not got) is `malformed`.
    pub fn reason(&self) -> Reason {
        match self {
            SignerError::NotASigner { .. }
            | SignerError::LacksRole { .. }
            | SignerError::NoOwner { .. } => Reason::UnknownKey,
            SignerError::Unnamed { .. } | SignerError::RolesNotHeld { .. } => Reason::Malformed,
        }
    }
}

/// The signers that vouch for a verified payload of `kind`, given every
/// trusted key whose signature verified (`Verification::signers` of
/// `verify`): the one the payload names as its signer (bundle `author`,
/// approval `approver`, override `issued_by`), by name or key id, holding
/// the role that signs `kind`; for an approval, holding every role its
/// `roles` states. A kind that names no signer (rollout, review) is
/// vouched for by each signer holding its role. `verify_by_owner` applies
/// this; a caller that verifies with `verify` and reads the payload itself
/// (the governance crate's overrides) calls it with the signers `verify`
/// returned.
pub fn named_signer<'a>(
    kind: PayloadKind,
    payload: &Value,
    signers: &'a [Signer],
) -> Result<Vec<&'a Signer>, SignerError> {
    let role = kind.signer_role();
    let names = || key_list(signers.iter().map(|s| s.name.as_str()));
    let Some(field) = kind.signer_field() else {
        let owners: Vec<&Signer> = signers.iter().filter(|s| s.roles.contains(&role)).collect();
        if owners.is_empty() {
            return Err(SignerError::NoOwner {
                kind: kind.short(),
                role,
                signed_by: names(),
            });
        }
        return Ok(owners);
    };
    let Some(stated) = payload
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
    else {
        return Err(SignerError::Unnamed {
            kind: kind.short(),
            field,
        });
    };
    let named: Vec<&Signer> = signers
        .iter()
        .filter(|s| s.name == stated || s.keyid == stated)
        .collect();
    if named.is_empty() {
        return Err(SignerError::NotASigner {
            kind: kind.short(),
            field,
            stated: stated.to_string(),
            signed_by: names(),
        });
    }
    let mut owners: Vec<&Signer> = named
        .into_iter()
        .filter(|s| s.roles.contains(&role))
        .collect();
    let Some(first) = owners.first().copied() else {
        return Err(SignerError::LacksRole {
            kind: kind.short(),
            field,
            stated: stated.to_string(),
            role,
        });
    };
    if kind == PayloadKind::Approval {
        let claimed: Vec<&str> = payload
            .get("roles")
            .and_then(Value::as_array)
            .map(|list| list.iter().map(|r| r.as_str().unwrap_or("")).collect())
            .unwrap_or_default();
        let holds = |s: &Signer, r: &str| Role::parse(r).is_some_and(|r| s.roles.contains(&r));
        owners.retain(|s| claimed.iter().all(|r| holds(s, r)));
        if owners.is_empty() {
            return Err(SignerError::RolesNotHeld {
                signer: stated.to_string(),
                stated: claimed.join(","),
                held: role_list(&first.roles),
            });
        }
    }
    Ok(owners)
}

fn role_list(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// A field of a payload and its type.
#[derive(Debug)]
struct Field {
    name: &'static str,
    ty: Ty,
    required: bool,
}

const fn req(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: true,
    }
}

const fn opt(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: false,
    }
}

#[derive(Debug)]
enum Ty {
    /// Any string.
    Str,
    /// A string with something other than whitespace in it.
    Text,
    /// An RFC 3339 time in UTC, whole seconds: `2026-11-23T15:04:05Z`,
    /// one spelling per instant.
    Time,
    /// `sha256:` and 64 lowercase hex digits.
    Digest,
    Bool,
    /// A whole number, 0 or more.
    Count,
    /// A whole number from 0 to 100.
    Percent,
    /// A bundle document: an object, or a bare list of rules.
    Document,
    /// Any object (its contents belong to another part of Gavel).
    AnyObject,
    /// A role name.
    Role,
    /// A list of role names.
    Roles,
    /// An approval's decision: `approve` or `reject`.
    Decision,
    /// A list of objects.
    Objects,
    Object(&'static [Field]),
    OrNull(&'static Ty),
}

impl Ty {
    /// What a value of this type is, for messages.
    fn expected(&self) -> String {
        match self {
            Ty::Str => "a string".into(),
            Ty::Text => "a non-empty string".into(),
            Ty::Time => "an RFC 3339 time in UTC, whole seconds (`2026-11-23T15:04:05Z`)".into(),
            Ty::Digest => "`sha256:` and 64 lowercase hex digits".into(),
            Ty::Bool => "true or false".into(),
            Ty::Count => "a whole number, 0 or more".into(),
            Ty::Percent => "a whole number from 0 to 100".into(),
            Ty::Document => "a bundle document (an object or a list of rules)".into(),
            Ty::AnyObject | Ty::Object(_) => "an object".into(),
            Ty::Role => "a role (author, approver, analyst, security or operator)".into(),
            Ty::Roles => "a list of roles".into(),
            Ty::Decision => "`approve` or `reject`".into(),
            Ty::Objects => "a list of objects".into(),
            Ty::OrNull(inner) => format!("{}, or null", inner.expected()),
        }
    }
}

const ISSUED_AT: Field = req("issued_at", Ty::Time);
const EXPIRES_AT: Field = req("expires_at", Ty::Time);

const BUNDLE: &[Field] = &[
    req("name", Ty::OrNull(&Ty::Text)),
    req("version", Ty::OrNull(&Ty::Text)),
    req("digest", Ty::Digest),
    req("bundle", Ty::Document),
    req("author", Ty::Text),
    ISSUED_AT,
    EXPIRES_AT,
];

const IMPACT: &[Field] = &[
    req("allow_to_deny", Ty::Count),
    req("deny_to_allow", Ty::Count),
    req("other", Ty::Count),
];

const EVIDENCE: &[Field] = &[
    req("lint", Ty::AnyObject),
    req("impact", Ty::Object(IMPACT)),
    opt("gates", Ty::Objects),
];

const APPROVAL: &[Field] = &[
    req("digest", Ty::Digest),
    req("base_digest", Ty::OrNull(&Ty::Digest)),
    req("version", Ty::Text),
    req("environment", Ty::Text),
    req("decision", Ty::Decision),
    req("comment", Ty::Str),
    req("approver", Ty::Text),
    req("roles", Ty::Roles),
    req("evidence", Ty::Object(EVIDENCE)),
    ISSUED_AT,
    EXPIRES_AT,
];

const FLAGS: &[Field] = &[
    req("bypass_micro_pilot", Ty::Bool),
    req("forced_verdict", Ty::OrNull(&Ty::Text)),
];

const OVERRIDE: &[Field] = &[
    req("id", Ty::Text),
    req("workflow_id", Ty::Text),
    req("flags", Ty::Object(FLAGS)),
    req("reason", Ty::Text),
    req("issued_by", Ty::Text),
    ISSUED_AT,
    EXPIRES_AT,
];

const STABLE: &[Field] = &[
    req("version", Ty::Text),
    req("digest", Ty::Digest),
    req("activated_at", Ty::Time),
];

const CANARY: &[Field] = &[
    req("version", Ty::Text),
    req("digest", Ty::Digest),
    req("percent", Ty::Percent),
    req("activated_at", Ty::Time),
];

const ROLLOUT: &[Field] = &[
    req("bundle", Ty::Text),
    req("environment", Ty::Text),
    req("serial", Ty::Count),
    req("stable", Ty::Object(STABLE)),
    req("canary", Ty::OrNull(&Ty::Object(CANARY))),
    ISSUED_AT,
    EXPIRES_AT,
];

const VERSION: &[Field] = &[
    req("version", Ty::OrNull(&Ty::Text)),
    req("digest", Ty::Digest),
    req("bundle", Ty::Document),
];

/// A review package (`gavel review pack`): the bundle name, the two
/// versions with their documents, their diff, simulated impact and lint
/// summary, and the approvals recorded so far (`signatures`, each an
/// `approval.v1` envelope). `environment`, `author` (of the proposed
/// version), `lint` and `gates` (the last canary gate results, where a
/// canary of the bundle runs) are optional here so that a package signed
/// by hand with `gavel sign --type review` stays well formed; `gavel
/// review` itself refuses a package without the first three.
const REVIEW: &[Field] = &[
    req("bundle", Ty::Text),
    opt("environment", Ty::Text),
    opt("author", Ty::Text),
    req("base", Ty::OrNull(&Ty::Object(VERSION))),
    req("proposed", Ty::Object(VERSION)),
    req("diff", Ty::AnyObject),
    req("simulation", Ty::AnyObject),
    opt("lint", Ty::AnyObject),
    opt("gates", Ty::Objects),
    req("signatures", Ty::Objects),
    ISSUED_AT,
    EXPIRES_AT,
];

/// A trust document: its `version` (each newer one higher), the public
/// keys the team trusts with their roles (as `gavel keys export` writes
/// them), and `quorum`, how many of its security keys must sign the next
/// version for a console or agent that follows it to accept that one.
const TRUST: &[Field] = &[
    req("version", Ty::Count),
    req("keys", Ty::Objects),
    req("quorum", Ty::Count),
    ISSUED_AT,
    EXPIRES_AT,
];

fn check_object(
    kind: &'static str,
    prefix: &str,
    map: &Map<String, Value>,
    fields: &'static [Field],
) -> Result<(), PayloadError> {
    let path = |name: &str| {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        }
    };
    if let Some(extra) = map.keys().find(|k| !fields.iter().any(|f| f.name == *k)) {
        return Err(PayloadError::Unknown {
            kind,
            field: path(extra),
            expected: fields
                .iter()
                .map(|f| format!("`{}`", f.name))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    for f in fields {
        match map.get(f.name) {
            Some(v) => check_value(kind, &path(f.name), v, &f.ty)?,
            None if f.required => {
                return Err(PayloadError::Missing {
                    kind,
                    field: path(f.name),
                });
            }
            None => {}
        }
    }
    Ok(())
}

fn check_value(kind: &'static str, field: &str, v: &Value, ty: &Ty) -> Result<(), PayloadError> {
    let wrong = |at: String, ty: &Ty, v: &Value| PayloadError::WrongType {
        field: at,
        expected: ty.expected(),
        found: found(v),
    };
    let ok = match (ty, v) {
        (Ty::OrNull(_), Value::Null) => true,
        (Ty::OrNull(inner), _) => {
            return match check_value(kind, field, v, inner) {
                // Say that null would do too.
                Err(PayloadError::WrongType { field: at, .. }) if at == field => {
                    Err(wrong(at, ty, v))
                }
                other => other,
            };
        }
        (Ty::Str, Value::String(_)) => true,
        (Ty::Text, Value::String(s)) => !s.trim().is_empty(),
        (Ty::Time, Value::String(s)) => s
            .parse::<jiff::Timestamp>()
            .is_ok_and(|t| crate::envelope::rfc3339(t) == *s),
        // One spelling per digest: lowercase.
        (Ty::Digest, Value::String(s)) => Digest::parse(s).is_some_and(|d| d.to_string() == *s),
        (Ty::Bool, Value::Bool(_)) => true,
        (Ty::Count, Value::Number(n)) => n.is_u64(),
        (Ty::Percent, Value::Number(n)) => n.as_u64().is_some_and(|p| p <= 100),
        (Ty::Document, Value::Object(_) | Value::Array(_)) => true,
        (Ty::AnyObject, Value::Object(_)) => true,
        (Ty::Decision, Value::String(s)) => s == "approve" || s == "reject",
        (Ty::Object(fields), Value::Object(map)) => {
            return check_object(kind, field, map, fields);
        }
        (Ty::Roles, Value::Array(list)) => {
            for (i, r) in list.iter().enumerate() {
                if r.as_str().and_then(Role::parse).is_none() {
                    return Err(wrong(format!("{field}.{i}"), &Ty::Role, r));
                }
            }
            true
        }
        (Ty::Objects, Value::Array(list)) => {
            for (i, item) in list.iter().enumerate() {
                if !item.is_object() {
                    return Err(wrong(format!("{field}.{i}"), &Ty::AnyObject, item));
                }
            }
            true
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(wrong(field.to_string(), ty, v))
    }
}

/// A value as a message shows it: its kind.
fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// What was found instead, as a message shows it: strings and numbers
/// themselves (strings cut to a readable length), the kind of anything else.
fn found(v: &Value) -> String {
    const MAX: usize = 80;
    match v {
        Value::String(s) if s.is_empty() => "an empty string".to_string(),
        Value::String(s) => match s.char_indices().nth(MAX) {
            Some((cut, _)) => format!("`{}…`", s.get(..cut).unwrap_or(s)),
            None => format!("`{s}`"),
        },
        Value::Number(n) => format!("`{n}`"),
        other => describe(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A review package as `gavel review pack` writes it.
    fn package() -> Value {
        let digest = format!("sha256:{}", "ab".repeat(32));
        json!({
            "bundle": "inbox-triage", "environment": "prod", "author": "alice",
            "base": null,
            "proposed": {"version": "1.1.0", "digest": digest, "bundle": {"rules": []}},
            "diff": {}, "simulation": {"allow_to_deny": 0},
            "lint": {"errors": 0}, "gates": [{"name": "samples"}], "signatures": [],
            "issued_at": "2026-11-23T00:00:00Z", "expires_at": "2026-12-07T00:00:00Z",
        })
    }

    /// The fields `gavel review` adds are typed when present, and may be
    /// left out (a package signed by hand need not have them).
    #[test]
    fn review_packages_type_environment_author_lint_and_gates() {
        assert_eq!(PayloadKind::Review.check(&package()), Ok(()));
        for field in ["environment", "author", "lint", "gates"] {
            let mut p = package();
            p.as_object_mut().unwrap().remove(field);
            assert_eq!(PayloadKind::Review.check(&p), Ok(()), "without {field}");
        }
        for (field, bad, expected) in [
            ("environment", json!(" "), "a non-empty string"),
            ("author", json!(7), "a non-empty string"),
            ("lint", json!([]), "an object"),
            ("gates", json!([3]), "an object"),
        ] {
            let mut p = package();
            p[field] = bad;
            let e = PayloadKind::Review.check(&p).unwrap_err();
            assert!(
                e.field().is_some_and(|f| f.starts_with(field)),
                "{field}: {e}"
            );
            assert!(e.to_string().contains(expected), "{field}: {e}");
        }
        let mut p = package();
        p["reviewer"] = json!("bob");
        assert!(matches!(
            PayloadKind::Review.check(&p),
            Err(PayloadError::Unknown { .. })
        ));
    }
}
