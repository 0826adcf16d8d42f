//! The lifecycle of a version (DESIGN §7, §11.8, §11.9): environments, the
//! state of each submitted version per environment, approvals, rollout
//! documents, gate results and incidents.
//!
//! Every change is one `BEGIN IMMEDIATE` transaction with its audit entry,
//! and names the state it expects: a rollout change carries the serial it
//! was computed from ([`RolloutChange::expected_serial`]) and is refused as
//! [`Applied::Stale`] when another change got there first, so serials only
//! grow and are never reused, and at most one change is built on any one
//! state. An approval names the serial of the environment it was evidenced
//! against, and the unique key (digest, environment, key id) refuses the
//! same key twice however many processes try.
//!
//! This layer checks states and writes; signatures, quorum and gates are
//! the console's.

use serde::Serialize;
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use crate::audit::{self, NewEntry};
use crate::versions::{BundleVersion, VersionStatus};
use crate::{Store, StoreError};

/// An environment and its settings (§11.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Environment {
    pub name: String,
    /// Distinct approvals a version needs here (at least; its rules may ask
    /// for more).
    pub quorum: u32,
    /// Whether an activation starts a canary (where a version is active).
    pub canary: bool,
    /// How long each canary step waits before it can be promoted.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub bake_time_seconds: i64,
    /// Decisions the `samples` gate needs.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub min_samples: u64,
    pub created_at: String,
}

/// A version's state in one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum DeployState {
    Pending,
    Approved,
    Rejected,
    Canary,
    Active,
    Superseded,
    RolledBack,
}

impl DeployState {
    pub const ALL: [DeployState; 7] = [
        DeployState::Pending,
        DeployState::Approved,
        DeployState::Rejected,
        DeployState::Canary,
        DeployState::Active,
        DeployState::Superseded,
        DeployState::RolledBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeployState::Pending => "pending",
            DeployState::Approved => "approved",
            DeployState::Rejected => "rejected",
            DeployState::Canary => "canary",
            DeployState::Active => "active",
            DeployState::Superseded => "superseded",
            DeployState::RolledBack => "rolled_back",
        }
    }

    pub fn parse(s: &str) -> Option<DeployState> {
        DeployState::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Whether approvals and rejections are still taken: the version has
    /// not been rejected, nor gone out.
    pub fn open_for_review(self) -> bool {
        matches!(self, DeployState::Pending | DeployState::Approved)
    }
}

/// A version in a rollout slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Slot {
    pub version_id: i64,
    pub version: String,
    pub digest: String,
    /// When this version was activated in the environment; kept when the
    /// document is refreshed or a rollback restores the version (§11.3).
    pub activated_at: String,
}

/// The canary slot: a version, its share of traffic and when its current
/// step began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CanarySlot {
    #[serde(flatten)]
    pub slot: Slot,
    pub percent: u8,
    pub step_started_at: String,
}

/// A (bundle, environment)'s rollout as of one serial.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rollout {
    pub bundle: String,
    pub environment: String,
    pub serial: i64,
    pub stable: Slot,
    pub canary: Option<CanarySlot>,
    /// The signed `rollout.v1` envelope.
    pub envelope: Value,
    /// What made this serial: `activate`, `promote`, `rollback`, …
    pub action: String,
    pub actor: String,
    pub created_at: String,
}

/// The next rollout state, as a change writes it (serial = expected + 1).
#[derive(Debug, Clone)]
pub struct NextRollout {
    pub stable: Slot,
    pub canary: Option<CanarySlot>,
    /// The signed `rollout.v1` envelope for serial `expected_serial + 1`.
    pub envelope: Value,
}

/// An incident a change opens.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub version_id: Option<i64>,
    pub severity: &'static str,
    pub title: String,
    pub reason: String,
}

/// Gate results to record.
#[derive(Debug, Clone)]
pub struct NewGateCheck {
    pub digest: String,
    pub passed: bool,
    pub report: Value,
}

/// One change to a (bundle, environment): a new rollout document, the
/// states of the versions it moves, perhaps an incident and gate results,
/// and its audit entry, written together or not at all.
#[derive(Debug, Clone)]
pub struct RolloutChange {
    pub bundle: String,
    pub environment: String,
    /// The serial the change was computed from (0: none yet).
    pub expected_serial: i64,
    pub next: NextRollout,
    /// New states per version in this environment.
    pub states: Vec<(i64, DeployState)>,
    pub incident: Option<NewIncident>,
    pub gate_check: Option<NewGateCheck>,
    pub actor: String,
    /// `rollout.activate`, `rollout.promote`, `rollout.rollback`, …
    pub action: String,
    pub subject: String,
    pub details: Value,
}

/// What a rollout change did.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    Done {
        serial: i64,
        incident: Option<i64>,
    },
    /// Another change got there first: the serial is now `current`.
    Stale {
        current: i64,
    },
    /// A version the change would make the canary or the active one is
    /// now `state` (rejected or rolled back) in the environment: a
    /// rejection recorded after the approvals were counted moves no
    /// serial, and must refuse the activation rather than be overridden.
    Closed {
        version_id: i64,
        state: DeployState,
    },
}

/// A signed approval or rejection to record.
#[derive(Debug, Clone)]
pub struct NewApproval {
    pub version_id: i64,
    pub digest: String,
    pub environment: String,
    pub decision: Decision,
    pub keyid: String,
    pub approver: String,
    pub comment: String,
    pub issued_at: String,
    pub expires_at: String,
    pub envelope: Value,
    /// `local` (signed here) or `review` (imported from a review package).
    pub source: &'static str,
    /// The environment's serial the evidence was computed against.
    pub expected_serial: i64,
    /// The approvals (unexpired, counting this one) at which the state
    /// becomes `approved`.
    pub quorum: u32,
}

/// An approval's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        }
    }

    pub fn parse(s: &str) -> Option<Decision> {
        match s {
            "approve" => Some(Decision::Approve),
            "reject" => Some(Decision::Reject),
            _ => None,
        }
    }
}

/// A recorded approval or rejection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredApproval {
    pub id: i64,
    pub version_id: i64,
    pub digest: String,
    pub environment: String,
    pub decision: Decision,
    pub keyid: String,
    pub approver: String,
    pub comment: String,
    pub issued_at: String,
    pub expires_at: String,
    pub envelope: Value,
    pub source: String,
    pub recorded_at: String,
}

/// What recording an approval did.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    Done {
        approval: StoredApproval,
        state: DeployState,
    },
    /// This key already decided on this digest for this environment.
    Duplicate(StoredApproval),
    /// The version is not submitted (a draft, or gone).
    NotSubmitted(Option<VersionStatus>),
    /// The version is past review in this environment.
    Closed(DeployState),
    /// The environment changed since the evidence was computed.
    Stale { current: i64 },
    /// No such environment.
    NoEnvironment,
}

/// An incident, as `gavel incidents` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Incident {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub bundle: String,
    pub environment: String,
    /// `NAME@VERSION` of the version it concerns, if any.
    pub version: Option<String>,
    pub severity: String,
    pub title: String,
    pub reason: String,
    pub opened_by: String,
    pub opened_at: String,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<String>,
    pub resolution: Option<String>,
}

/// Recorded gate results.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GateCheck {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub bundle: String,
    pub environment: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub serial: i64,
    pub digest: String,
    pub at: String,
    pub actor: String,
    pub passed: bool,
    pub report: Value,
}

/// What resolving an incident did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    Done(Incident),
    Missing,
    AlreadyResolved(Incident),
}

const ENV_COLUMNS: &str = "name, quorum, canary, bake_time_seconds, min_samples, created_at";

fn env_from_row(r: &SqliteRow) -> Result<Environment, StoreError> {
    let quorum: i64 = r.try_get("quorum")?;
    let min_samples: i64 = r.try_get("min_samples")?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("environment {what}"));
    Ok(Environment {
        name: r.try_get("name")?,
        quorum: u32::try_from(quorum).map_err(|_| corrupt("quorum"))?,
        canary: r.try_get::<i64, _>("canary")? != 0,
        bake_time_seconds: r.try_get("bake_time_seconds")?,
        min_samples: u64::try_from(min_samples).map_err(|_| corrupt("min_samples"))?,
        created_at: r.try_get("created_at")?,
    })
}

const APPROVAL_COLUMNS: &str = "id, version_id, digest, environment, decision, keyid, approver, comment, issued_at, expires_at, envelope, source, recorded_at";

fn approval_from_row(r: &SqliteRow) -> Result<StoredApproval, StoreError> {
    let decision: String = r.try_get("decision")?;
    let envelope: String = r.try_get("envelope")?;
    Ok(StoredApproval {
        id: r.try_get("id")?,
        version_id: r.try_get("version_id")?,
        digest: r.try_get("digest")?,
        environment: r.try_get("environment")?,
        decision: Decision::parse(&decision)
            .ok_or_else(|| StoreError::Corrupt(format!("approval decision `{decision}`")))?,
        keyid: r.try_get("keyid")?,
        approver: r.try_get("approver")?,
        comment: r.try_get("comment")?,
        issued_at: r.try_get("issued_at")?,
        expires_at: r.try_get("expires_at")?,
        envelope: json(&envelope, "approval envelope")?,
        source: r.try_get("source")?,
        recorded_at: r.try_get("recorded_at")?,
    })
}

fn json(text: &str, what: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn to_text(v: &Value, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// The rollout row's columns joined with its versions' names and digests.
const ROLLOUT_SELECT: &str = "SELECT r.bundle, r.environment, r.serial, r.stable_id, \
     s.version AS stable_version, s.digest AS stable_digest, r.stable_activated_at, \
     r.canary_id, c.version AS canary_version, c.digest AS canary_digest, r.canary_percent, \
     r.canary_activated_at, r.step_started_at, r.envelope, r.action, r.actor, r.created_at \
     FROM rollouts r JOIN bundle_versions s ON s.id = r.stable_id \
     LEFT JOIN bundle_versions c ON c.id = r.canary_id";

fn rollout_from_row(r: &SqliteRow) -> Result<Rollout, StoreError> {
    let canary_id: Option<i64> = r.try_get("canary_id")?;
    let canary = match canary_id {
        None => None,
        Some(id) => {
            let percent: i64 = r.try_get("canary_percent")?;
            Some(CanarySlot {
                slot: Slot {
                    version_id: id,
                    version: r.try_get("canary_version")?,
                    digest: r.try_get("canary_digest")?,
                    activated_at: r.try_get("canary_activated_at")?,
                },
                percent: u8::try_from(percent)
                    .map_err(|_| StoreError::Corrupt(format!("canary percent {percent}")))?,
                step_started_at: r
                    .try_get::<Option<String>, _>("step_started_at")?
                    .unwrap_or_default(),
            })
        }
    };
    let envelope: String = r.try_get("envelope")?;
    Ok(Rollout {
        bundle: r.try_get("bundle")?,
        environment: r.try_get("environment")?,
        serial: r.try_get("serial")?,
        stable: Slot {
            version_id: r.try_get("stable_id")?,
            version: r.try_get("stable_version")?,
            digest: r.try_get("stable_digest")?,
            activated_at: r.try_get("stable_activated_at")?,
        },
        canary,
        envelope: json(&envelope, "rollout envelope")?,
        action: r.try_get("action")?,
        actor: r.try_get("actor")?,
        created_at: r.try_get("created_at")?,
    })
}

async fn current_serial(
    conn: &mut SqliteConnection,
    bundle: &str,
    environment: &str,
) -> Result<i64, StoreError> {
    Ok(sqlx::query(
        "SELECT COALESCE(MAX(serial), 0) FROM rollouts WHERE bundle = ? AND environment = ?",
    )
    .bind(bundle)
    .bind(environment)
    .fetch_one(&mut *conn)
    .await?
    .try_get(0)?)
}

async fn set_state(
    conn: &mut SqliteConnection,
    version_id: i64,
    environment: &str,
    state: DeployState,
    at: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO deployments (version_id, environment, state, since) VALUES (?, ?, ?, ?) \
         ON CONFLICT (version_id, environment) DO UPDATE SET state = excluded.state, since = excluded.since",
    )
    .bind(version_id)
    .bind(environment)
    .bind(state.as_str())
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn state_of(
    conn: &mut SqliteConnection,
    version_id: i64,
    environment: &str,
) -> Result<DeployState, StoreError> {
    let state: Option<String> =
        sqlx::query("SELECT state FROM deployments WHERE version_id = ? AND environment = ?")
            .bind(version_id)
            .bind(environment)
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
    match state {
        None => Ok(DeployState::Pending),
        Some(s) => DeployState::parse(&s)
            .ok_or_else(|| StoreError::Corrupt(format!("deployment state `{s}`"))),
    }
}

async fn insert_gate_check(
    conn: &mut SqliteConnection,
    bundle: &str,
    environment: &str,
    serial: i64,
    actor: &str,
    check: &NewGateCheck,
) -> Result<i64, StoreError> {
    Ok(sqlx::query(
        "INSERT INTO gate_checks (bundle, environment, serial, digest, at, actor, passed, report) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(bundle)
    .bind(environment)
    .bind(serial)
    .bind(&check.digest)
    .bind(crate::now())
    .bind(actor)
    .bind(i64::from(check.passed))
    .bind(to_text(&check.report, "gate report")?)
    .fetch_one(&mut *conn)
    .await?
    .try_get(0)?)
}

const INCIDENT_SELECT: &str = "SELECT i.id, i.bundle, i.environment, \
     v.name || '@' || v.version AS version, i.severity, i.title, i.reason, i.opened_by, \
     i.opened_at, i.resolved_by, i.resolved_at, i.resolution \
     FROM incidents i LEFT JOIN bundle_versions v ON v.id = i.version_id";

fn incident_from_row(r: &SqliteRow) -> Result<Incident, StoreError> {
    Ok(Incident {
        id: r.try_get("id")?,
        bundle: r.try_get("bundle")?,
        environment: r.try_get("environment")?,
        version: r.try_get("version")?,
        severity: r.try_get("severity")?,
        title: r.try_get("title")?,
        reason: r.try_get("reason")?,
        opened_by: r.try_get("opened_by")?,
        opened_at: r.try_get("opened_at")?,
        resolved_by: r.try_get("resolved_by")?,
        resolved_at: r.try_get("resolved_at")?,
        resolution: r.try_get("resolution")?,
    })
}

async fn incident_by_id(
    conn: &mut SqliteConnection,
    id: i64,
) -> Result<Option<Incident>, StoreError> {
    sqlx::query(&format!("{INCIDENT_SELECT} WHERE i.id = ?"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(incident_from_row)
        .transpose()
}

impl Store {
    /// Every environment, in the order they were made: the path a version
    /// takes (dev, staging, prod, then any added).
    pub async fn environments(&self) -> Result<Vec<Environment>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ENV_COLUMNS} FROM environments ORDER BY rowid"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(env_from_row).collect()
    }

    pub async fn environment(&self, name: &str) -> Result<Option<Environment>, StoreError> {
        sqlx::query(&format!(
            "SELECT {ENV_COLUMNS} FROM environments WHERE name = ?"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(env_from_row)
        .transpose()
    }

    /// Adds an environment (`env.add`); `false` when the name exists.
    pub async fn add_environment(
        &self,
        env: &Environment,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "INSERT INTO environments (name, quorum, canary, bake_time_seconds, min_samples, created_at) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&env.name)
        .bind(i64::from(env.quorum))
        .bind(i64::from(env.canary))
        .bind(env.bake_time_seconds)
        .bind(i64::try_from(env.min_samples).unwrap_or(i64::MAX))
        .bind(crate::now())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        audit::append(
            &mut tx,
            NewEntry {
                actor,
                action: "env.add",
                subject: &env.name,
                details: env_details(env),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Replaces an environment's settings (`env.set`, with the old and new
    /// ones); `None` when there is no such environment.
    pub async fn set_environment(
        &self,
        env: &Environment,
        actor: &str,
    ) -> Result<Option<Environment>, StoreError> {
        let mut tx = self.write().await?;
        let Some(before) = sqlx::query(&format!(
            "SELECT {ENV_COLUMNS} FROM environments WHERE name = ?"
        ))
        .bind(&env.name)
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(env_from_row)
        .transpose()?
        else {
            return Ok(None);
        };
        sqlx::query(
            "UPDATE environments SET quorum = ?, canary = ?, bake_time_seconds = ?, min_samples = ? \
             WHERE name = ?",
        )
        .bind(i64::from(env.quorum))
        .bind(i64::from(env.canary))
        .bind(env.bake_time_seconds)
        .bind(i64::try_from(env.min_samples).unwrap_or(i64::MAX))
        .bind(&env.name)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            NewEntry {
                actor,
                action: "env.set",
                subject: &env.name,
                details: serde_json::json!({"before": env_details(&before), "after": env_details(env)}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Some(before))
    }

    /// Freezes a draft (`bundle.submit`, with its digest): it can no
    /// longer be edited, and approvals may name its digest.
    pub async fn submit_version(
        &self,
        id: i64,
        actor: &str,
    ) -> Result<crate::versions::DraftChange, StoreError> {
        use crate::versions::DraftChange;
        let mut tx = self.write().await?;
        let Some(before) = crate::versions::by_id(&mut tx, id).await? else {
            return Ok(DraftChange::Missing);
        };
        let done = sqlx::query(
            "UPDATE bundle_versions SET status = 'submitted' WHERE id = ? AND status = 'draft'",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(DraftChange::NotDraft(before));
        }
        audit::append(
            &mut tx,
            NewEntry {
                actor,
                action: "bundle.submit",
                subject: &before.reference(),
                details: serde_json::json!({"digest": before.digest}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(DraftChange::Done(BundleVersion {
            status: VersionStatus::Submitted,
            ..before
        }))
    }

    /// A version's state in `environment` (`pending` when nothing happened
    /// there yet).
    pub async fn deploy_state(
        &self,
        version_id: i64,
        environment: &str,
    ) -> Result<DeployState, StoreError> {
        let mut conn = self.pool.acquire().await?;
        state_of(&mut conn, version_id, environment).await
    }

    /// Records a signed approval or rejection (`approval.approve`,
    /// `approval.reject`), after checking in the same transaction that the
    /// version is submitted and still open for review here, that the
    /// environment is at `expected_serial`, and that this key has not
    /// decided on this digest here before. An approval that brings the
    /// unexpired approvals to the quorum makes the state `approved`; a
    /// rejection makes it `rejected`.
    pub async fn record_approval(
        &self,
        a: &NewApproval,
        bundle: &str,
        subject: &str,
    ) -> Result<Recorded, StoreError> {
        let mut tx = self.write().await?;
        let version = crate::versions::by_id(&mut tx, a.version_id).await?;
        match version.as_ref().map(|v| v.status) {
            Some(VersionStatus::Draft) | None => {
                return Ok(Recorded::NotSubmitted(version.map(|v| v.status)));
            }
            Some(_) => {}
        }
        let env_known: i64 = sqlx::query("SELECT COUNT(*) FROM environments WHERE name = ?")
            .bind(&a.environment)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if env_known == 0 {
            return Ok(Recorded::NoEnvironment);
        }
        let state = state_of(&mut tx, a.version_id, &a.environment).await?;
        if !state.open_for_review() {
            return Ok(Recorded::Closed(state));
        }
        let current = current_serial(&mut tx, bundle, &a.environment).await?;
        if current != a.expected_serial {
            return Ok(Recorded::Stale { current });
        }
        if let Some(existing) = sqlx::query(&format!(
            "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE digest = ? AND environment = ? AND keyid = ?"
        ))
        .bind(&a.digest)
        .bind(&a.environment)
        .bind(&a.keyid)
        .fetch_optional(&mut *tx)
        .await?
        {
            return Ok(Recorded::Duplicate(approval_from_row(&existing)?));
        }
        let recorded_at = crate::now();
        let id: i64 = sqlx::query(
            "INSERT INTO approvals (version_id, digest, environment, decision, keyid, approver, comment, \
             issued_at, expires_at, envelope, source, recorded_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(a.version_id)
        .bind(&a.digest)
        .bind(&a.environment)
        .bind(a.decision.as_str())
        .bind(&a.keyid)
        .bind(&a.approver)
        .bind(&a.comment)
        .bind(&a.issued_at)
        .bind(&a.expires_at)
        .bind(to_text(&a.envelope, "approval envelope")?)
        .bind(a.source)
        .bind(&recorded_at)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let new_state = match a.decision {
            Decision::Reject => DeployState::Rejected,
            Decision::Approve => {
                // Times are RFC 3339 UTC with a `Z`, so text order is time order.
                let now = jiff::Timestamp::now();
                let now = gavel_trust::rfc3339(now);
                let approvals: i64 = sqlx::query(
                    "SELECT COUNT(DISTINCT keyid) FROM approvals \
                     WHERE digest = ? AND environment = ? AND decision = 'approve' AND expires_at > ?",
                )
                .bind(&a.digest)
                .bind(&a.environment)
                .bind(&now)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
                if approvals >= i64::from(a.quorum) {
                    DeployState::Approved
                } else {
                    state
                }
            }
        };
        if new_state != state || new_state == DeployState::Pending {
            set_state(
                &mut tx,
                a.version_id,
                &a.environment,
                new_state,
                &recorded_at,
            )
            .await?;
        }
        audit::append(
            &mut tx,
            NewEntry {
                actor: &a.approver,
                action: match a.decision {
                    Decision::Approve => "approval.approve",
                    Decision::Reject => "approval.reject",
                },
                subject,
                details: serde_json::json!({
                    "digest": a.digest,
                    "environment": a.environment,
                    "keyid": a.keyid,
                    "comment": a.comment,
                    "source": a.source,
                    "expires_at": a.expires_at,
                    "state": new_state.as_str(),
                }),
            },
        )
        .await?;
        let approval = StoredApproval {
            id,
            version_id: a.version_id,
            digest: a.digest.clone(),
            environment: a.environment.clone(),
            decision: a.decision,
            keyid: a.keyid.clone(),
            approver: a.approver.clone(),
            comment: a.comment.clone(),
            issued_at: a.issued_at.clone(),
            expires_at: a.expires_at.clone(),
            envelope: a.envelope.clone(),
            source: a.source.to_string(),
            recorded_at,
        };
        tx.commit().await?;
        Ok(Recorded::Done {
            approval,
            state: new_state,
        })
    }

    /// The approvals and rejections of a digest, in one environment or all,
    /// oldest first.
    pub async fn approvals(
        &self,
        digest: &str,
        environment: Option<&str>,
    ) -> Result<Vec<StoredApproval>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {APPROVAL_COLUMNS} FROM approvals \
             WHERE digest = ?1 AND (?2 IS NULL OR environment = ?2) ORDER BY id"
        ))
        .bind(digest)
        .bind(environment)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(approval_from_row).collect()
    }

    /// Every recorded state of every version: `(version id, environment,
    /// state)`, for lists that badge each version.
    pub async fn all_deploy_states(&self) -> Result<Vec<(i64, String, DeployState)>, StoreError> {
        let rows = sqlx::query(
            "SELECT version_id, environment, state FROM deployments ORDER BY version_id, environment",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let s: String = r.try_get(2)?;
                Ok((
                    r.try_get(0)?,
                    r.try_get(1)?,
                    DeployState::parse(&s)
                        .ok_or_else(|| StoreError::Corrupt(format!("deployment state `{s}`")))?,
                ))
            })
            .collect()
    }

    /// Every state a version has, by environment (environments where
    /// nothing happened yet are left out: they are `pending`).
    pub async fn deploy_states(
        &self,
        version_id: i64,
    ) -> Result<Vec<(String, DeployState, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT environment, state, since FROM deployments WHERE version_id = ? ORDER BY environment",
        )
        .bind(version_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let s: String = r.try_get(1)?;
                Ok((
                    r.try_get(0)?,
                    DeployState::parse(&s)
                        .ok_or_else(|| StoreError::Corrupt(format!("deployment state `{s}`")))?,
                    r.try_get(2)?,
                ))
            })
            .collect()
    }

    /// The current rollout of a (bundle, environment): its newest serial.
    pub async fn rollout(
        &self,
        bundle: &str,
        environment: &str,
    ) -> Result<Option<Rollout>, StoreError> {
        sqlx::query(&format!(
            "{ROLLOUT_SELECT} WHERE r.bundle = ? AND r.environment = ? ORDER BY r.serial DESC LIMIT 1"
        ))
        .bind(bundle)
        .bind(environment)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(rollout_from_row)
        .transpose()
    }

    /// Every rollout document of a (bundle, environment), newest first.
    pub async fn rollout_history(
        &self,
        bundle: &str,
        environment: &str,
    ) -> Result<Vec<Rollout>, StoreError> {
        let rows = sqlx::query(&format!(
            "{ROLLOUT_SELECT} WHERE r.bundle = ? AND r.environment = ? ORDER BY r.serial DESC"
        ))
        .bind(bundle)
        .bind(environment)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rollout_from_row).collect()
    }

    /// The current rollout of every (bundle, environment) that has one.
    pub async fn rollouts(&self) -> Result<Vec<Rollout>, StoreError> {
        let rows = sqlx::query(&format!(
            "{ROLLOUT_SELECT} WHERE r.serial = (SELECT MAX(serial) FROM rollouts x \
             WHERE x.bundle = r.bundle AND x.environment = r.environment) \
             ORDER BY r.bundle, r.environment"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rollout_from_row).collect()
    }

    /// Applies a rollout change if the (bundle, environment) is still at
    /// `expected_serial`: the next document, the versions' states, the
    /// incident and gate results, and the audit entry, in one transaction.
    pub async fn apply_rollout(&self, change: &RolloutChange) -> Result<Applied, StoreError> {
        self.apply_rollout_at(change, None).await
    }

    /// [`Store::apply_rollout`] at serial `at` (a document another console
    /// published, recorded by `sync`): it must be newer than the current
    /// one, which must still be `expected_serial`.
    pub async fn apply_rollout_at(
        &self,
        change: &RolloutChange,
        at: Option<i64>,
    ) -> Result<Applied, StoreError> {
        let mut tx = self.write().await?;
        let current = current_serial(&mut tx, &change.bundle, &change.environment).await?;
        if current != change.expected_serial || at.is_some_and(|a| a <= current) {
            return Ok(Applied::Stale { current });
        }
        for (version_id, state) in &change.states {
            if matches!(state, DeployState::Canary | DeployState::Active) {
                let now = state_of(&mut tx, *version_id, &change.environment).await?;
                if matches!(now, DeployState::Rejected | DeployState::RolledBack) {
                    return Ok(Applied::Closed {
                        version_id: *version_id,
                        state: now,
                    });
                }
            }
        }
        let serial = at.unwrap_or(current + 1);
        let now = crate::now();
        let next = &change.next;
        let canary = next.canary.as_ref();
        sqlx::query(
            "INSERT INTO rollouts (bundle, environment, serial, stable_id, stable_activated_at, \
             canary_id, canary_percent, canary_activated_at, step_started_at, envelope, action, actor, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&change.bundle)
        .bind(&change.environment)
        .bind(serial)
        .bind(next.stable.version_id)
        .bind(&next.stable.activated_at)
        .bind(canary.map(|c| c.slot.version_id))
        .bind(canary.map(|c| i64::from(c.percent)))
        .bind(canary.map(|c| c.slot.activated_at.as_str()))
        .bind(canary.map(|c| c.step_started_at.as_str()))
        .bind(to_text(&next.envelope, "rollout envelope")?)
        .bind(&change.action)
        .bind(&change.actor)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        for (version_id, state) in &change.states {
            set_state(&mut tx, *version_id, &change.environment, *state, &now).await?;
        }
        let incident = match &change.incident {
            None => None,
            Some(i) => Some(
                sqlx::query(
                    "INSERT INTO incidents (bundle, environment, version_id, severity, title, reason, opened_by, opened_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                )
                .bind(&change.bundle)
                .bind(&change.environment)
                .bind(i.version_id)
                .bind(i.severity)
                .bind(&i.title)
                .bind(&i.reason)
                .bind(&change.actor)
                .bind(&now)
                .fetch_one(&mut *tx)
                .await?
                .try_get::<i64, _>(0)?,
            ),
        };
        if let Some(check) = &change.gate_check {
            insert_gate_check(
                &mut tx,
                &change.bundle,
                &change.environment,
                current,
                &change.actor,
                check,
            )
            .await?;
        }
        let mut details = change.details.clone();
        if let Some(o) = details.as_object_mut() {
            o.insert("serial".into(), serial.into());
            o.insert("environment".into(), change.environment.clone().into());
            if let Some(id) = incident {
                o.insert("incident".into(), id.into());
            }
        }
        audit::append(
            &mut tx,
            NewEntry {
                actor: &change.actor,
                action: &change.action,
                subject: &change.subject,
                details,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Applied::Done { serial, incident })
    }

    /// Records gate results that move nothing (a promotion refused, a
    /// monitor pass that did not trip), as `canary.gates`, if the rollout
    /// is still at `serial`; `false` when it moved meanwhile.
    pub async fn record_gate_check(
        &self,
        bundle: &str,
        environment: &str,
        serial: i64,
        actor: &str,
        check: &NewGateCheck,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        if current_serial(&mut tx, bundle, environment).await? != serial {
            return Ok(false);
        }
        let id = insert_gate_check(&mut tx, bundle, environment, serial, actor, check).await?;
        audit::append(
            &mut tx,
            NewEntry {
                actor,
                action: "canary.gates",
                subject: &format!("{bundle}/{environment}"),
                details: serde_json::json!({
                    "serial": serial, "digest": check.digest, "passed": check.passed, "check": id,
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The newest gate results of a (bundle, environment).
    pub async fn last_gate_check(
        &self,
        bundle: &str,
        environment: &str,
    ) -> Result<Option<GateCheck>, StoreError> {
        let row = sqlx::query(
            "SELECT id, bundle, environment, serial, digest, at, actor, passed, report FROM gate_checks \
             WHERE bundle = ? AND environment = ? ORDER BY id DESC LIMIT 1",
        )
        .bind(bundle)
        .bind(environment)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let report: String = r.try_get("report")?;
        Ok(Some(GateCheck {
            id: r.try_get("id")?,
            bundle: r.try_get("bundle")?,
            environment: r.try_get("environment")?,
            serial: r.try_get("serial")?,
            digest: r.try_get("digest")?,
            at: r.try_get("at")?,
            actor: r.try_get("actor")?,
            passed: r.try_get::<i64, _>("passed")? != 0,
            report: json(&report, "gate report")?,
        }))
    }

    /// Incidents, newest first; only the unresolved ones when `open`.
    pub async fn incidents(&self, open: bool) -> Result<Vec<Incident>, StoreError> {
        let rows = sqlx::query(&format!(
            "{INCIDENT_SELECT} WHERE (?1 = 0 OR i.resolved_at IS NULL) ORDER BY i.id DESC"
        ))
        .bind(i64::from(open))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(incident_from_row).collect()
    }

    /// Resolves an open incident (`incident.resolve`, with the comment).
    pub async fn resolve_incident(
        &self,
        id: i64,
        actor: &str,
        comment: &str,
    ) -> Result<Resolved, StoreError> {
        let mut tx = self.write().await?;
        let Some(before) = incident_by_id(&mut tx, id).await? else {
            return Ok(Resolved::Missing);
        };
        let now = crate::now();
        let done = sqlx::query(
            "UPDATE incidents SET resolved_by = ?, resolved_at = ?, resolution = ? \
             WHERE id = ? AND resolved_at IS NULL",
        )
        .bind(actor)
        .bind(&now)
        .bind(comment)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(Resolved::AlreadyResolved(before));
        }
        audit::append(
            &mut tx,
            NewEntry {
                actor,
                action: "incident.resolve",
                subject: &format!("incident-{id}"),
                details: serde_json::json!({"comment": comment, "bundle": before.bundle, "environment": before.environment}),
            },
        )
        .await?;
        let after = incident_by_id(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("incident {id} vanished")))?;
        tx.commit().await?;
        Ok(Resolved::Done(after))
    }

    /// Submitted versions with their state in each environment where they
    /// are `pending` or `approved` (the ones awaiting approval), newest
    /// first, at most `limit`.
    pub async fn awaiting_review(
        &self,
        name: Option<&str>,
        limit: i64,
    ) -> Result<Vec<BundleVersion>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM bundle_versions WHERE status = 'submitted' AND (?1 IS NULL OR name = ?1) \
             ORDER BY created_at DESC, id DESC LIMIT ?2",
            crate::versions::COLUMNS
        ))
        .bind(name)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(crate::versions::version_from_row).collect()
    }
}

fn env_details(env: &Environment) -> Value {
    serde_json::json!({
        "quorum": env.quorum,
        "canary": env.canary,
        "bake_time_seconds": env.bake_time_seconds,
        "min_samples": env.min_samples,
    })
}
