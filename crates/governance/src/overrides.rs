//! Reading a verified override's content (DESIGN §6, §11.12), the same way
//! for `scorecard eval` and `override verify`: what it forces, which
//! workflows it is for, and whether the keys that signed it may issue it.
//!
//! Signatures, expiry and the single-use ledger are checked before (by
//! `gavel-trust` and the store); this reads only what they vouched for.

use serde_json::Value;

use crate::Verdict;

/// The shortest reason a signed override may give, in characters (spaces
/// around it not counted). Issuing refuses a shorter one, and so does
/// reading: an override signed some other way (`gavel sign --type
/// override`) holds to the same rule.
pub const MIN_REASON_CHARS: usize = 10;

/// Why an override cannot be used at all (exit 2): its verdict is not one
/// an override may force (§11.12).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the override forces verdict {0}; an override forces one of promote, demote, pilot, no_go")]
pub struct UnknownVerdict(pub String);

/// Why a verified override is refused; the evaluation then runs as
/// without it, and `override verify` exits 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `malformed`, `issuer_mismatch` or `signer_not_security`.
    pub reason: &'static str,
    pub message: String,
}

/// The workflows an override is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A legacy override without `workflow_id` (§11.12).
    AnyWorkflow,
    Workflow(String),
}

/// What a usable override does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideContent {
    /// The payload's `id` (a DSSE override); a legacy override is known by
    /// its ledger key instead.
    pub id: Option<String>,
    pub scope: Scope,
    pub bypass_micro_pilot: bool,
    pub forced_verdict: Option<Verdict>,
    /// Who the payload says issued it (a DSSE override).
    pub issued_by: Option<String>,
}

impl OverrideContent {
    /// Whether it applies to a scorecard with this `workflow_id` (a
    /// scorecard without one matches only an override for any workflow).
    pub fn applies_to(&self, workflow_id: Option<&str>) -> bool {
        match &self.scope {
            Scope::AnyWorkflow => true,
            Scope::Workflow(w) => workflow_id == Some(w.as_str()),
        }
    }
}

/// A key that signed the override, as verification established it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverrideSigner<'a> {
    pub name: &'a str,
    pub keyid: &'a str,
    pub security: bool,
}

/// The outcome of reading a verified override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverrideCheck {
    Usable(OverrideContent),
    Refused(Refusal),
}

fn malformed(message: impl Into<String>) -> OverrideCheck {
    OverrideCheck::Refused(Refusal {
        reason: "malformed",
        message: message.into(),
    })
}

/// A value that is there and not `null`.
fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

fn verdict(v: &Value) -> Result<Verdict, UnknownVerdict> {
    let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
    Verdict::forceable(&text).ok_or(UnknownVerdict(format!("`{text}`")))
}

/// Reads a verified override: a DSSE `override.v1` payload (`{id,
/// workflow_id, flags {bypass_micro_pilot, forced_verdict}, reason,
/// issued_by, issued_at, expires_at}`) or a legacy `data` object (flat:
/// `bypass_micro_pilot`, `forced_verdict` or `verdict`, optional
/// `workflow_id`), and checks it against the keys that signed it.
///
/// A DSSE override is for one workflow and names its issuer, who must be a
/// signer (by name or key id) with the security role. Holding a legacy
/// override's secret stands in for the security role.
pub fn check_override(
    content: &Value,
    legacy: bool,
    signers: &[OverrideSigner<'_>],
) -> Result<OverrideCheck, UnknownVerdict> {
    let Some(body) = content.as_object() else {
        return Ok(malformed("an override's content is a JSON object"));
    };
    let flags = if legacy {
        content
    } else {
        match present(body.get("flags")) {
            None => &Value::Null,
            Some(f) if f.is_object() => f,
            Some(_) => {
                return Ok(malformed(
                    "`flags` must be an object `{bypass_micro_pilot, forced_verdict}`",
                ));
            }
        }
    };
    let forced = present(flags.get("forced_verdict"));
    let plain = present(flags.get("verdict")).or_else(|| present(body.get("verdict")));
    let forced_verdict = match (forced, plain) {
        (None, None) => None,
        (Some(v), None) | (None, Some(v)) => Some(verdict(v)?),
        (Some(a), Some(b)) => {
            let (a, b) = (verdict(a)?, verdict(b)?);
            if a != b {
                return Ok(malformed(format!(
                    "the override forces both `{a}` and `{b}`; it may force one verdict"
                )));
            }
            Some(a)
        }
    };
    let bypass_micro_pilot = match present(flags.get("bypass_micro_pilot")) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Ok(malformed(format!(
                "`bypass_micro_pilot` must be true or false, found `{other}`"
            )));
        }
    };
    if forced_verdict.is_none() && !bypass_micro_pilot {
        return Ok(malformed(if legacy {
            "the override neither forces a verdict nor bypasses the micro-pilot (`forced_verdict`, `bypass_micro_pilot`)"
        } else {
            "the override neither forces a verdict nor bypasses the micro-pilot (`flags.forced_verdict`, `flags.bypass_micro_pilot`)"
        }));
    }
    let text = |k: &str| -> Result<Option<String>, OverrideCheck> {
        match present(body.get(k)) {
            None => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
            Some(other) => Err(malformed(format!(
                "`{k}` must be a non-empty string, found `{other}`"
            ))),
        }
    };
    let read = (|| Ok((text("workflow_id")?, text("id")?, text("issued_by")?)))();
    let (workflow, id, issued_by) = match read {
        Ok(fields) => fields,
        Err(refusal) => return Ok(refusal),
    };
    let scope = match (workflow, legacy) {
        (Some(w), _) => Scope::Workflow(w),
        (None, true) => Scope::AnyWorkflow,
        (None, false) => {
            return Ok(malformed(
                "a signed override names the one workflow it is for (`workflow_id`); this one names none",
            ));
        }
    };
    if !legacy {
        let Some(id) = &id else {
            return Ok(malformed(
                "a signed override needs an `id` (its single use is recorded under it)",
            ));
        };
        let reason = body.get("reason").and_then(Value::as_str).unwrap_or("");
        if reason.trim().chars().count() < MIN_REASON_CHARS {
            return Ok(malformed(format!(
                "override `{id}` must say why in its `reason`, in at least {MIN_REASON_CHARS} characters"
            )));
        }
        let Some(issuer) = &issued_by else {
            return Ok(malformed(format!(
                "override `{id}` does not say who issued it (`issued_by`)"
            )));
        };
        let by_issuer: Vec<&OverrideSigner<'_>> = signers
            .iter()
            .filter(|s| s.name == issuer || s.keyid == issuer)
            .collect();
        if by_issuer.is_empty() {
            let names: Vec<String> = signers
                .iter()
                .map(|s| format!("`{}` ({})", s.name, s.keyid))
                .collect();
            return Ok(OverrideCheck::Refused(Refusal {
                reason: "issuer_mismatch",
                message: format!(
                    "override `{id}` says it was issued by `{issuer}`, but it is signed by {}",
                    if names.is_empty() {
                        "no trusted key".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            }));
        }
        if !by_issuer.iter().any(|s| s.security) {
            return Ok(OverrideCheck::Refused(Refusal {
                reason: "signer_not_security",
                message: format!(
                    "override `{id}` is signed by `{issuer}`, who has not got the security role"
                ),
            }));
        }
    }
    Ok(OverrideCheck::Usable(OverrideContent {
        id,
        scope,
        bypass_micro_pilot,
        forced_verdict,
        issued_by,
    }))
}
