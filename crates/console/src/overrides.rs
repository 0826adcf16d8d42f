//! Overrides (DESIGN §6, §11.3, §11.12), one set of use cases for the CLI
//! and the desktop app: issuing through the same checked path as `gavel
//! sign --type override` (the security role, a well-formed payload with
//! times set by Gavel, a verdict an override may force, a reason, a unique
//! id), and the single-use ledger, keyed by what identifies the signed
//! override rather than by the id its signer chose.

use base64::Engine as _;
use gavel_governance::{OverrideCheck, OverrideSigner, Refusal, Scope, Verdict, check_override};
use gavel_trust::{
    Digest, Format, PayloadKind, PublicKey, Role, Sensitive, Signer, Verification, VerifyOptions,
};
use serde::Serialize;
use serde_json::Value;

use crate::{Console, ConsoleError};

pub use gavel_governance::MIN_REASON_CHARS;

/// The payload type of a signed override.
pub const OVERRIDE_TYPE: &str = PayloadKind::Override.media_type();

/// What to issue.
#[derive(Debug, Clone, Default)]
pub struct OverrideRequest<'a> {
    pub workflow_id: &'a str,
    /// A verdict to force: `promote`, `demote`, `pilot` or `no_go`.
    pub forced_verdict: Option<&'a str>,
    pub bypass_micro_pilot: bool,
    pub reason: &'a str,
    /// The issuing identity (name or key id); the store's only identity
    /// when not given.
    pub actor: Option<&'a str>,
    /// Seconds until it expires.
    pub validity_seconds: i64,
}

/// A signed override.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct IssuedOverride {
    pub id: String,
    pub payload: Value,
    /// The DSSE envelope.
    pub envelope: Value,
}

/// An override verified once, for `override verify` and for the
/// scorecards it is used on.
#[derive(Debug, Clone)]
pub struct CheckedOverride {
    pub verification: Verification,
    /// How outputs name it: the payload's `id` (known once its signature
    /// verified, even when it has expired), or a legacy file's ledger
    /// digest. The ledger keys it by digest, never by this id.
    pub id: Option<String>,
    pub legacy: bool,
    pub check: OverrideCheck,
    /// Whether the single-use ledger was consulted (not with keys given
    /// for one call, without a store).
    pub ledger_checked: bool,
}

/// What `override verify` prints (`--format json`) and the desktop app
/// shows.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct OverrideVerification {
    pub valid: bool,
    pub format: Format,
    pub legacy: bool,
    pub payload_type: Option<String>,
    pub override_id: Option<String>,
    pub workflow_id: Option<String>,
    /// `workflow`, or `any_workflow` for a legacy override without one.
    pub scope: Option<String>,
    pub forced_verdict: Option<Verdict>,
    pub bypass_micro_pilot: Option<bool>,
    pub signers: Vec<Signer>,
    pub issued_at: Option<String>,
    pub expires_at: Option<String>,
    pub expiry_covered: bool,
    pub reason: Option<String>,
    pub message: String,
    pub ledger_checked: bool,
}

impl CheckedOverride {
    /// The report of `override verify`.
    pub fn report(&self) -> OverrideVerification {
        let v = &self.verification;
        let (valid, reason, message, workflow, scope, content) = match &self.check {
            OverrideCheck::Usable(c) => {
                let (workflow, scope) = match &c.scope {
                    Scope::AnyWorkflow => (None, "any_workflow"),
                    Scope::Workflow(w) => (Some(w.clone()), "workflow"),
                };
                (
                    true,
                    None,
                    v.message.clone(),
                    workflow,
                    Some(scope),
                    Some(c),
                )
            }
            OverrideCheck::Refused(r) => (
                false,
                Some(r.reason.to_string()),
                r.message.clone(),
                None,
                None,
                None,
            ),
        };
        OverrideVerification {
            valid,
            format: v.format,
            legacy: self.legacy,
            payload_type: v.payload_type.clone(),
            override_id: self.id.clone(),
            workflow_id: workflow,
            scope: scope.map(str::to_string),
            forced_verdict: content.and_then(|c| c.forced_verdict),
            bypass_micro_pilot: content.map(|c| c.bypass_micro_pilot),
            signers: v.signers.clone(),
            issued_at: v.issued_at.clone(),
            expires_at: v.expires_at.clone(),
            expiry_covered: v.expiry_covered,
            reason,
            message,
            ledger_checked: self.ledger_checked,
        }
    }
}

fn refused(reason: &'static str, message: impl Into<String>) -> OverrideCheck {
    OverrideCheck::Refused(Refusal {
        reason,
        message: message.into(),
    })
}

/// Verifies an override against `trusted` keys (and a legacy secret), then
/// reads its content with the rules `scorecard eval` applies. An error only
/// for an unknown forced verdict; every other failure is a refusal. The
/// ledger is not consulted ([`Console::check_override`] does).
pub fn check_override_doc(
    doc: &Value,
    trusted: &[PublicKey],
    secret: Option<&Sensitive<Vec<u8>>>,
    now: jiff::Timestamp,
) -> Result<CheckedOverride, gavel_governance::UnknownVerdict> {
    let v = gavel_trust::verify(
        doc,
        &VerifyOptions {
            now,
            trusted,
            secret,
            expected_type: Some(OVERRIDE_TYPE),
        },
    );
    // What the document is, as verification established it: never guessed
    // from which fields happen to be present.
    let legacy = v.format == Format::LegacyOverride;
    // A payload's id is shown once a trusted key's signature over it
    // verified (so also when it expired), never from a payload nobody
    // vouched for.
    let id = (legacy || !v.signers.is_empty())
        .then(|| Console::override_id(doc, v.format))
        .flatten();
    let is_override = matches!(v.format, Format::Dsse | Format::LegacyOverride);
    let check = match (&v.payload, v.reason) {
        (_, Some(r)) if !v.valid => refused(r.as_str(), v.message.clone()),
        (Some(p), _) if v.valid && is_override => {
            let signers: Vec<OverrideSigner<'_>> = v
                .signers
                .iter()
                .map(|s| OverrideSigner {
                    name: &s.name,
                    keyid: &s.keyid,
                    security: s.roles.contains(&Role::Security),
                })
                .collect();
            check_override(p, legacy, &signers)?
        }
        _ => refused(
            "wrong_payload_type",
            "not an override: expected a signed override envelope (`application/vnd.gavel.override.v1+json`) or a legacy `{data, signature}` file",
        ),
    };
    Ok(CheckedOverride {
        verification: v,
        id,
        legacy,
        check,
        ledger_checked: false,
    })
}

/// `ovr-<workflow>-<unix seconds>-<16 hex digits from the OS>`: two
/// overrides issued in the same second never share an id. (The ledger
/// does not rely on it: it keys each override by its digest.)
fn new_id(workflow_id: &str, now: jiff::Timestamp) -> Result<String, ConsoleError> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random)
        .map_err(|e| ConsoleError::Invalid(format!("no randomness from the OS: {e}")))?;
    Ok(format!(
        "ovr-{workflow_id}-{}-{}",
        now.as_second(),
        gavel_trust::hex(&random)
    ))
}

/// The bytes a DSSE envelope's signatures cover, when its `payload` is
/// standard base64.
pub(crate) fn dsse_payload(envelope: &Value) -> Option<Vec<u8>> {
    let b64 = envelope.get("payload")?.as_str()?;
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// What the single-use ledger knows an override by.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LedgerKey {
    /// `sha256:` of a DSSE envelope's payload bytes (what its signatures
    /// cover: the same override re-signed, or signed by several keys, is
    /// still one override), or of a legacy file's signature (§11.12).
    digest: String,
    /// The payload's `id`, for display: never what the ledger is keyed by,
    /// since whoever signs may choose it. A legacy file has none.
    override_id: Option<String>,
    legacy: bool,
}

impl LedgerKey {
    /// The key of an override document as verification classified it
    /// (`format`); `None` for anything but a DSSE envelope or a legacy
    /// override file, or one without a payload or signature to key it by.
    fn of(doc: &Value, format: Format) -> Option<LedgerKey> {
        match format {
            Format::Dsse => {
                let bytes = dsse_payload(doc)?;
                let override_id = serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .and_then(|p| p.get("id").and_then(Value::as_str).map(str::to_string));
                Some(LedgerKey {
                    digest: Digest::of(&bytes).to_string(),
                    override_id,
                    legacy: false,
                })
            }
            Format::LegacyOverride => Some(LedgerKey {
                digest: gavel_trust::legacy_ledger_key(doc)?.to_string(),
                override_id: None,
                legacy: true,
            }),
            _ => None,
        }
    }

    fn of_override(doc: &Value, format: Format) -> Result<LedgerKey, ConsoleError> {
        LedgerKey::of(doc, format).ok_or_else(|| {
            ConsoleError::Invalid(
                "not an override: the single-use ledger knows a signed override envelope or a legacy `{data, signature}` file".into(),
            )
        })
    }
}

impl Console {
    /// Issues an override for one workflow, signed by the acting identity,
    /// which needs the security role. The payload goes through the checks
    /// every signed override goes through (`sign_statement`): its shape,
    /// its signer, and times set by Gavel.
    pub async fn issue_override(
        &self,
        request: &OverrideRequest<'_>,
    ) -> Result<IssuedOverride, ConsoleError> {
        let workflow_id = request.workflow_id.trim();
        if workflow_id.is_empty() {
            return Err(ConsoleError::Invalid(
                "an override is for one workflow: give its id (--workflow)".into(),
            ));
        }
        let forced = request
            .forced_verdict
            .map(|v| {
                Verdict::forceable(v).ok_or_else(|| {
                    ConsoleError::Invalid(format!(
                        "`{v}` is not a verdict an override can force; use promote, demote, pilot or no_go"
                    ))
                })
            })
            .transpose()?;
        if forced.is_none() && !request.bypass_micro_pilot {
            return Err(ConsoleError::Invalid(
                "an override must force a verdict (--verdict) or bypass the micro-pilot (--bypass-micro-pilot)".into(),
            ));
        }
        if request.reason.trim().chars().count() < MIN_REASON_CHARS {
            return Err(ConsoleError::Invalid(format!(
                "the reason must say why, in at least {MIN_REASON_CHARS} characters (--reason)"
            )));
        }
        if request.validity_seconds <= 0 {
            return Err(ConsoleError::Invalid(
                "an override must be valid for some time (--expires-in)".into(),
            ));
        }
        let me = self.acting_identity(request.actor).await?;
        let id = new_id(workflow_id, jiff::Timestamp::now())?;
        let statement = serde_json::json!({
            "id": id,
            "workflow_id": workflow_id,
            "flags": {"bypass_micro_pilot": request.bypass_micro_pilot, "forced_verdict": forced},
            "reason": request.reason.trim(),
            "issued_by": me.name,
        });
        let envelope = self
            .sign_statement(
                PayloadKind::Override,
                &statement,
                Some(request.validity_seconds),
                Some(&me.keyid.0),
            )
            .await?;
        let payload: Value = dsse_payload(&envelope)
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| ConsoleError::Invalid("the signed override has no payload".into()))?;
        // Who issued what, for the security team's list of overrides.
        self.store
            .audit_event(gavel_store::NewEntry {
                actor: &me.name,
                action: "override.issue",
                subject: workflow_id,
                details: serde_json::json!({
                    "id": id,
                    "keyid": me.keyid.0,
                    "forced_verdict": forced,
                    "bypass_micro_pilot": request.bypass_micro_pilot,
                    "reason": request.reason.trim(),
                    "expires_at": payload.get("expires_at"),
                }),
            })
            .await?;
        Ok(IssuedOverride {
            id,
            payload,
            envelope,
        })
    }

    /// How outputs name an override `doc` (as verification classified it,
    /// `format`): its payload's `id`, or a legacy file's ledger digest.
    /// Display only: the ledger never goes by the id, which whoever signs
    /// may choose.
    pub fn override_id(doc: &Value, format: Format) -> Option<String> {
        LedgerKey::of(doc, format).map(|k| k.override_id.unwrap_or(k.digest))
    }

    /// Records one use of the override `doc` (as verification classified
    /// it, `format`): `false` when it was already used, by this run or
    /// another (recording the use is what grants it).
    pub async fn use_override(
        &self,
        doc: &Value,
        format: Format,
        workflow_id: Option<&str>,
    ) -> Result<bool, ConsoleError> {
        let key = LedgerKey::of_override(doc, format)?;
        Ok(self
            .store
            .record_override_use(
                &key.digest,
                key.override_id.as_deref(),
                workflow_id,
                key.legacy,
            )
            .await?)
    }

    /// Uses the override `doc` (as verification classified it, `format`)
    /// for `run`: its consumption, the run (with the override's id) and
    /// an `override.use` audit entry, in one transaction. `false`, writing
    /// nothing, when it was already used; the caller then evaluates and
    /// records the run as without it.
    pub async fn use_override_for_run(
        &self,
        doc: &Value,
        format: Format,
        run: &gavel_store::NewRun,
    ) -> Result<bool, ConsoleError> {
        let key = LedgerKey::of_override(doc, format)?;
        let mut run = run.clone();
        run.override_id = Some(
            key.override_id
                .clone()
                .unwrap_or_else(|| key.digest.clone()),
        );
        let used = gavel_store::OverrideUse {
            key: &key.digest,
            override_id: run.override_id.as_deref(),
            legacy: key.legacy,
        };
        Ok(self.store.record_override_run(used, &run).await?.is_some())
    }

    /// Checks the override `doc` against the trust store and the
    /// single-use ledger, as `scorecard eval` and `override verify` do.
    pub async fn check_override(
        &self,
        doc: &Value,
        secret: Option<&Sensitive<Vec<u8>>>,
        now: jiff::Timestamp,
    ) -> Result<CheckedOverride, ConsoleError> {
        let trusted = self.trusted_keys().await?;
        let mut checked = check_override_doc(doc, &trusted, secret, now)
            .map_err(|e| ConsoleError::InvalidOverride(e.to_string()))?;
        checked.ledger_checked = true;
        if matches!(checked.check, OverrideCheck::Usable(_))
            && self
                .override_spent(doc, checked.verification.format)
                .await?
        {
            checked.check = refused(
                "used",
                format!(
                    "override `{}` was already used",
                    checked.id.as_deref().unwrap_or("")
                ),
            );
        }
        Ok(checked)
    }

    /// Whether the override `doc` was already used.
    pub async fn override_spent(&self, doc: &Value, format: Format) -> Result<bool, ConsoleError> {
        let key = LedgerKey::of_override(doc, format)?;
        Ok(self
            .store
            .override_use_recorded(&key.digest, key.override_id.as_deref())
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::MemoryKeychain;

    async fn console() -> (tempfile::TempDir, Console) {
        let dir = tempfile::tempdir().unwrap();
        let c = Console::open(dir.path(), Arc::new(MemoryKeychain::default()))
            .await
            .unwrap();
        c.generate_identity("sam", "sam@example.com", None, None)
            .await
            .unwrap();
        c.generate_identity("ann", "ann@example.com", None, Some("sam"))
            .await
            .unwrap();
        (dir, c)
    }

    fn request<'a>() -> OverrideRequest<'a> {
        OverrideRequest {
            workflow_id: "wf-1",
            forced_verdict: Some("promote"),
            reason: "the board approved the launch",
            actor: Some("sam"),
            validity_seconds: 3600,
            ..Default::default()
        }
    }

    /// An override statement carried in a team export (an HMAC, not a
    /// security identity's signature) verifies as a team export but is not
    /// an override: refused as `wrong_payload_type`, never read for its
    /// flags.
    #[test]
    fn an_override_in_a_team_export_is_not_an_override() {
        let secret = Sensitive::new(b"team secret".to_vec());
        let now = jiff::Timestamp::now();
        let later = jiff::Timestamp::from_second(now.as_second() + 3600).unwrap();
        let payload = serde_json::json!({
            "id": "ovr-wf-1", "workflow_id": "wf-1", "issued_by": "sam",
            "flags": {"bypass_micro_pilot": true, "forced_verdict": "promote"},
            "reason": "the board approved the launch",
            "issued_at": gavel_trust::rfc3339(now), "expires_at": gavel_trust::rfc3339(later),
        });
        let doc = gavel_trust::team_export(
            OVERRIDE_TYPE,
            payload.to_string().as_bytes(),
            now,
            later,
            "team",
            &secret,
        )
        .unwrap();
        let checked = check_override_doc(&doc, &[], Some(&secret), now).unwrap();
        assert!(checked.verification.valid, "{:?}", checked.verification);
        let report = checked.report();
        assert!(!report.valid);
        assert_eq!(report.reason.as_deref(), Some("wrong_payload_type"));
        assert_eq!(report.forced_verdict, None);
    }

    fn time(payload: &Value, field: &str) -> i64 {
        payload[field]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_second()
    }

    #[tokio::test]
    async fn overrides_issued_in_the_same_second_get_different_ids() {
        let (_dir, c) = console().await;
        let before = jiff::Timestamp::now().as_second();
        let a = c.issue_override(&request()).await.unwrap();
        let b = c.issue_override(&request()).await.unwrap();
        assert_ne!(a.id, b.id);
        let (stem, random) = a.id.rsplit_once('-').unwrap();
        assert!(stem.starts_with("ovr-wf-1-"), "{}", a.id);
        assert!(
            stem["ovr-wf-1-".len()..].parse::<i64>().unwrap() >= before,
            "{}",
            a.id
        );
        assert_eq!(random.len(), 16, "{}", a.id);
        // The payload says what was asked, with times set by Gavel, and it
        // verifies as sam's.
        assert_eq!(a.payload["id"], a.id.as_str());
        assert_eq!(a.payload["workflow_id"], "wf-1");
        assert_eq!(a.payload["issued_by"], "sam");
        assert_eq!(a.payload["reason"], "the board approved the launch");
        assert_eq!(a.payload["flags"]["forced_verdict"], "promote");
        assert_eq!(a.payload["flags"]["bypass_micro_pilot"], false);
        assert!(time(&a.payload, "issued_at") >= before);
        assert_eq!(
            time(&a.payload, "expires_at") - time(&a.payload, "issued_at"),
            3600
        );
        let v = c
            .verify(&a.envelope, None, jiff::Timestamp::now())
            .await
            .unwrap();
        assert!(v.valid, "{}", v.message);
        assert_eq!(v.payload_type.as_deref(), Some(OVERRIDE_TYPE));
        assert_eq!(v.signers[0].name, "sam");
        assert_eq!(v.payload.as_ref(), Some(&a.payload));
    }

    #[tokio::test]
    async fn only_a_security_identity_issues_overrides() {
        let (_dir, c) = console().await;
        let by_ann = OverrideRequest {
            actor: Some("ann"),
            ..request()
        };
        let e = c.issue_override(&by_ann).await.unwrap_err();
        assert!(e.is_refusal(), "{e}");
        assert!(e.to_string().contains("security role"), "{e}");
    }

    #[tokio::test]
    async fn bad_requests_are_invalid_and_say_which_flag() {
        let (_dir, c) = console().await;
        let cases = [
            (
                OverrideRequest {
                    forced_verdict: Some("borderline"),
                    ..request()
                },
                "`borderline` is not a verdict",
            ),
            (
                OverrideRequest {
                    forced_verdict: None,
                    ..request()
                },
                "--bypass-micro-pilot",
            ),
            (
                OverrideRequest {
                    reason: "  because  ",
                    ..request()
                },
                "at least 10 characters",
            ),
            (
                OverrideRequest {
                    workflow_id: " ",
                    ..request()
                },
                "--workflow",
            ),
            (
                OverrideRequest {
                    validity_seconds: 0,
                    ..request()
                },
                "--expires-in",
            ),
        ];
        for (req, expected) in cases {
            let e = c.issue_override(&req).await.unwrap_err();
            assert!(!e.is_refusal(), "{e}");
            assert!(e.to_string().contains(expected), "{expected}: {e}");
        }
        // The bypass alone is an override.
        let bypass = OverrideRequest {
            forced_verdict: None,
            bypass_micro_pilot: true,
            ..request()
        };
        let o = c.issue_override(&bypass).await.unwrap();
        assert_eq!(o.payload["flags"]["forced_verdict"], Value::Null);
        assert_eq!(o.payload["flags"]["bypass_micro_pilot"], true);
    }

    /// Regression: `issue_override` signed with `sign_dsse` directly,
    /// skipping the checks `gavel sign --type override` applies (here, the
    /// longest validity Gavel signs for).
    #[tokio::test]
    async fn issuing_goes_through_the_checked_signing_path() {
        let (_dir, c) = console().await;
        let forever = OverrideRequest {
            validity_seconds: gavel_trust::MAX_VALIDITY_SECONDS + 1,
            ..request()
        };
        let e = c.issue_override(&forever).await.unwrap_err();
        assert!(matches!(e, ConsoleError::Payload(_)), "{e:?}");
        assert!(e.to_string().contains("100 years"), "{e}");
    }

    /// Regression: the ledger was keyed by the payload's `id`, so using one
    /// override consumed any other the signer gave the same id. Each signed
    /// override is now used once, whatever its id; the id is for display.
    #[tokio::test]
    async fn overrides_sharing_an_id_are_used_once_each() {
        let (_dir, c) = console().await;
        let issued = c.issue_override(&request()).await.unwrap();
        let mut statement = issued.payload.clone();
        let body = statement.as_object_mut().unwrap();
        body.remove("issued_at");
        body.remove("expires_at");
        body.insert("workflow_id".into(), "wf-2".into());
        let twin = c
            .sign_statement(PayloadKind::Override, &statement, Some(600), Some("sam"))
            .await
            .unwrap();
        let dsse = Format::Dsse;
        assert_eq!(
            Console::override_id(&twin, dsse).as_deref(),
            Some(issued.id.as_str())
        );
        assert!(!c.override_spent(&issued.envelope, dsse).await.unwrap());
        assert!(
            c.use_override(&issued.envelope, dsse, Some("wf-1"))
                .await
                .unwrap()
        );
        assert!(c.override_spent(&issued.envelope, dsse).await.unwrap());
        assert!(
            !c.use_override(&issued.envelope, dsse, Some("wf-1"))
                .await
                .unwrap()
        );
        // The twin shares the id, not the use.
        assert!(!c.override_spent(&twin, dsse).await.unwrap());
        assert!(c.use_override(&twin, dsse, Some("wf-2")).await.unwrap());
        // A legacy file is known by the digest of its signature.
        let secret = gavel_trust::Sensitive::new(b"s3cret".to_vec());
        let legacy =
            gavel_trust::legacy_override(&serde_json::json!({"forced_verdict": "pilot"}), &secret);
        let key = Console::override_id(&legacy, Format::LegacyOverride).unwrap();
        assert_eq!(
            key,
            gavel_trust::legacy_ledger_key(&legacy).unwrap().to_string()
        );
        assert!(
            c.use_override(&legacy, Format::LegacyOverride, None)
                .await
                .unwrap()
        );
        assert!(
            c.override_spent(&legacy, Format::LegacyOverride)
                .await
                .unwrap()
        );
        // Anything else is not an override the ledger knows.
        assert!(
            c.override_spent(&issued.envelope, Format::TeamHmac)
                .await
                .is_err()
        );
    }
}
