//! Issuing a signed override (DESIGN §6, §11.3): one use case for the CLI
//! and the desktop app, so both apply the same checks (the security role, a
//! verdict an override may force, a reason) and the same unique ids.

use gavel_governance::Verdict;
use serde::Serialize;

use crate::{Console, ConsoleError};

/// The payload type of a signed override.
pub const OVERRIDE_TYPE: &str = "application/vnd.gavel.override.v1+json";

/// The shortest reason an override may give.
pub const MIN_REASON_CHARS: usize = 10;

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
    /// Seconds from `now` until it expires.
    pub validity_seconds: i64,
    /// An id of the caller's choosing; a unique one is made otherwise.
    pub id: Option<&'a str>,
}

/// A signed override.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedOverride {
    pub id: String,
    pub payload: serde_json::Value,
    /// The DSSE envelope.
    pub envelope: serde_json::Value,
}

/// `ovr-<workflow>-<unix seconds>-<16 hex digits from the OS>`: two
/// overrides issued in the same second never share an id (and so never
/// share a single use).
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

impl Console {
    /// Issues an override for one workflow, signed by the acting identity,
    /// which needs the security role.
    pub async fn issue_override(
        &self,
        request: &OverrideRequest<'_>,
        now: jiff::Timestamp,
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
        if let Some(id) = request.id.filter(|id| id.trim().is_empty()) {
            return Err(ConsoleError::Invalid(format!(
                "the override id `{id}` is empty (--id)"
            )));
        }
        self.require_security(request.actor, "issue overrides")
            .await?;
        let (me, key) = self.signing_key(request.actor).await?;
        let expires =
            jiff::Timestamp::from_second(now.as_second().saturating_add(request.validity_seconds))
                .map_err(|_| {
                    ConsoleError::Invalid("the expiry is out of range (--expires-in)".into())
                })?;
        let id = match request.id {
            Some(id) => id.to_string(),
            None => new_id(workflow_id, now)?,
        };
        let payload = serde_json::json!({
            "id": id,
            "workflow_id": workflow_id,
            "flags": {"bypass_micro_pilot": request.bypass_micro_pilot, "forced_verdict": forced},
            "reason": request.reason.trim(),
            "issued_by": me.name,
            "issued_at": gavel_trust::rfc3339(now),
            "expires_at": gavel_trust::rfc3339(expires),
        });
        let envelope = gavel_trust::sign_dsse(OVERRIDE_TYPE, &payload, &[&key])
            .map_err(|e| ConsoleError::Invalid(e.to_string()))?;
        Ok(IssuedOverride {
            id,
            payload,
            envelope,
        })
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

    fn now() -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_900_000_000).unwrap()
    }

    #[tokio::test]
    async fn overrides_issued_in_the_same_second_get_different_ids() {
        let (_dir, c) = console().await;
        let a = c.issue_override(&request(), now()).await.unwrap();
        let b = c.issue_override(&request(), now()).await.unwrap();
        assert_ne!(a.id, b.id);
        assert!(a.id.starts_with("ovr-wf-1-1900000000-"), "{}", a.id);
        assert_eq!(a.id.len(), "ovr-wf-1-1900000000-".len() + 16);
        // The payload says what was asked, and it verifies as sam's.
        assert_eq!(a.payload["id"], a.id.as_str());
        assert_eq!(a.payload["workflow_id"], "wf-1");
        assert_eq!(a.payload["issued_by"], "sam");
        assert_eq!(a.payload["flags"]["forced_verdict"], "promote");
        assert_eq!(a.payload["flags"]["bypass_micro_pilot"], false);
        assert_eq!(a.payload["expires_at"], "2030-03-17T18:46:40Z");
        let v = c.verify(&a.envelope, None, now()).await.unwrap();
        assert!(v.valid, "{}", v.message);
        assert_eq!(v.payload_type.as_deref(), Some(OVERRIDE_TYPE));
        assert_eq!(v.signers[0].name, "sam");
        // A chosen id is kept.
        let chosen = OverrideRequest {
            id: Some("ovr-mine"),
            ..request()
        };
        assert_eq!(
            c.issue_override(&chosen, now()).await.unwrap().id,
            "ovr-mine"
        );
    }

    #[tokio::test]
    async fn only_a_security_identity_issues_overrides() {
        let (_dir, c) = console().await;
        let by_ann = OverrideRequest {
            actor: Some("ann"),
            ..request()
        };
        let e = c.issue_override(&by_ann, now()).await.unwrap_err();
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
            (
                OverrideRequest {
                    id: Some(""),
                    ..request()
                },
                "--id",
            ),
        ];
        for (req, expected) in cases {
            let e = c.issue_override(&req, now()).await.unwrap_err();
            assert!(!e.is_refusal(), "{e}");
            assert!(e.to_string().contains(expected), "{expected}: {e}");
        }
        // The bypass alone is an override.
        let bypass = OverrideRequest {
            forced_verdict: None,
            bypass_micro_pilot: true,
            ..request()
        };
        let o = c.issue_override(&bypass, now()).await.unwrap();
        assert_eq!(
            o.payload["flags"]["forced_verdict"],
            serde_json::Value::Null
        );
        assert_eq!(o.payload["flags"]["bypass_micro_pilot"], true);
    }
}
