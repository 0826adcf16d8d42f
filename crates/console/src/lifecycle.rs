//! How a version becomes active (DESIGN §7, §11.3, §11.8, §11.9):
//! environments, `submit`, `approve`/`reject` with signed `approval.v1`
//! envelopes carrying their evidence, `activate`, `promote`, `monitor`,
//! `rollback`, incidents and `status`, one function each.
//!
//! The unit of deployment is (bundle name, environment). Every change reads
//! the environment's state, checks what the caller expects of it (or takes
//! what it read as the expectation), signs what it must outside the
//! transaction, and hands the store one change that is refused, not
//! applied on top, when another got there first. Quorum is counted from
//! the signed envelopes themselves, against the trust store and the clock
//! of the moment: an expired approval, one from a key no longer trusted or
//! without the approver role, one by the author, one for another digest or
//! environment, or a second one from the same key or person, does not
//! count.

use std::collections::BTreeSet;

use gavel_governance::canary::{self, GateConfig, GateReport, Metrics};
use gavel_policy::sim::{CompareRun, SimConfig, SyntheticCases, fixture_cases};
use gavel_policy::{Bundle, Engine, Format, LintConfig};
pub use gavel_store::lifecycle::Decision;
use gavel_store::lifecycle::{
    Applied, CanarySlot, DeployState, Environment, GateCheck, Incident, NewApproval, NewGateCheck,
    NewIncident, NextRollout, Recorded, Resolved, Rollout, RolloutChange, Slot, StoredApproval,
};
use gavel_store::versions::{BundleVersion, DraftChange, VersionStatus};
use gavel_trust::{PayloadKind, VerifyOptions};
use serde::Serialize;
use serde_json::{Value, json};

use crate::versions::{VersionError, VersionRef};
use crate::{Console, ConsoleError};

/// The least a rejection's comment, a rollback's reason and an incident's
/// resolution say, in characters.
pub const MIN_COMMENT_CHARS: usize = 10;
/// The first canary step, and the ones after it.
pub const CANARY_STEPS: [u8; 2] = [10, 50];
/// Synthetic cases drawn from each bundle for an approval's evidence, with
/// a fixed seed, so that every approver of a version sees the same impact.
pub const EVIDENCE_CASES: usize = 1000;
pub const EVIDENCE_SEED: u64 = 20_261_201;
/// Environments a store holds at most, and the longest name.
pub const MAX_ENVIRONMENTS: usize = 100;
pub const MAX_ENV_NAME: usize = 64;
/// Who acts when the monitor rolls back on its own.
pub const MONITOR_ACTOR: &str = "monitor";

/// Why a lifecycle use case was refused or could not run. `code()` is what
/// the CLI's `{"error": {"code"}}` and the desktop app branch on.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Version(#[from] VersionError),
    #[error("no environment `{0}`; see `gavel env list`")]
    UnknownEnvironment(String),
    #[error("environment `{0}` already exists; change it with `gavel env set {0}`")]
    EnvironmentExists(String),
    #[error("{0}")]
    InvalidSetting(String),
    #[error("`{reference}` is a draft: submit it first with `gavel submit {reference}`")]
    NotSubmitted { reference: String },
    #[error(
        "`{name}` is the author of `{reference}`: an author never approves or rejects their own version"
    )]
    Author { name: String, reference: String },
    #[error("`{name}` cannot {what}: {why}")]
    NotAnApprover {
        name: String,
        what: &'static str,
        why: String,
    },
    #[error(
        "key {keyid} already {decision} `{reference}` for {environment} at {at}; each approver decides once per environment"
    )]
    AlreadyDecided {
        keyid: String,
        reference: String,
        environment: String,
        /// `approved` or `rejected`.
        decision: &'static str,
        at: String,
    },
    #[error(
        "`{reference}` is {} in {environment}: it takes no more approvals or rejections there",
        state.as_str()
    )]
    ReviewClosed {
        reference: String,
        environment: String,
        state: DeployState,
    },
    #[error(
        "{what} needs a comment of at least {MIN_COMMENT_CHARS} characters saying why (--{flag})"
    )]
    CommentTooShort {
        what: &'static str,
        flag: &'static str,
    },
    #[error("{0}; nothing was changed: look again with `gavel status` and retry")]
    Stale(String),
    #[error("{}", quorum_message(reference, environment, *have, *need, not_counted))]
    QuorumNotMet {
        reference: String,
        environment: String,
        have: u32,
        need: u32,
        not_counted: Vec<String>,
    },
    #[error("`{reference}` was rejected for {environment} by {by}: {comment}; make a new version")]
    Rejected {
        reference: String,
        environment: String,
        by: String,
        comment: String,
    },
    #[error(
        "a canary of `{running}` is running in {environment}: promote it or roll it back before activating another version"
    )]
    CanaryRunning {
        running: String,
        environment: String,
    },
    #[error("`{reference}` is already {} in {environment}", state.as_str())]
    AlreadyOut {
        reference: String,
        environment: String,
        state: DeployState,
    },
    #[error(
        "`{bundle}` has no active version in {environment}; activate one with `gavel activate`"
    )]
    NoRollout { bundle: String, environment: String },
    #[error("`{bundle}` has no canary running in {environment}: there is nothing to promote")]
    NoCanary { bundle: String, environment: String },
    #[error("cannot promote `{reference}` in {environment}: {}", reasons.join("; "))]
    NotReady {
        reference: String,
        environment: String,
        reasons: Vec<String>,
        report: Option<Box<GateReport>>,
        bake_time_left_seconds: i64,
    },
    #[error(
        "`{bundle}` has no earlier version in {environment} to roll back to: `{current}` is the first one activated there"
    )]
    NothingToRollBack {
        bundle: String,
        environment: String,
        current: String,
    },
    #[error(
        "several bundles are active in {environment} ({}): choose one with --bundle",
        bundles.join(", ")
    )]
    WhichBundle {
        environment: String,
        bundles: Vec<String>,
    },
    #[error("no incident {0}; see `gavel incidents`")]
    UnknownIncident(i64),
    #[error("incident {id} was already resolved by {by} at {at}")]
    AlreadyResolved { id: i64, by: String, at: String },
    #[error("invalid metrics: {0}")]
    Metrics(String),
}

fn quorum_message(
    reference: &str,
    environment: &str,
    have: u32,
    need: u32,
    not_counted: &[String],
) -> String {
    let plural = |n: u32| if n == 1 { "" } else { "s" };
    let more = need.saturating_sub(have);
    let mut m = format!(
        "`{reference}` has {have} valid approval{} for {environment} and needs {need}",
        plural(have)
    );
    if !not_counted.is_empty() {
        m.push_str(&format!(" (not counted: {})", not_counted.join("; ")));
    }
    m.push_str(&format!(
        ": {more} more approver{} must run `gavel approve {reference} --env {environment}`",
        plural(more)
    ));
    m
}

impl From<ConsoleError> for LifecycleError {
    fn from(e: ConsoleError) -> Self {
        LifecycleError::Version(VersionError::Console(e))
    }
}

impl From<gavel_store::StoreError> for LifecycleError {
    fn from(e: gavel_store::StoreError) -> Self {
        LifecycleError::Version(e.into())
    }
}

impl LifecycleError {
    /// Refusals (exit 1): the request was understood and a precondition,
    /// a permission or the expected state does not hold.
    pub fn is_refusal(&self) -> bool {
        match self {
            LifecycleError::Version(e) => e.is_refusal(),
            LifecycleError::UnknownEnvironment(_)
            | LifecycleError::InvalidSetting(_)
            | LifecycleError::WhichBundle { .. }
            | LifecycleError::UnknownIncident(_)
            | LifecycleError::Metrics(_) => false,
            _ => true,
        }
    }

    /// The error code (`None`: a version or console error, coded as theirs).
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            LifecycleError::Version(_) => return None,
            LifecycleError::UnknownEnvironment(_) | LifecycleError::UnknownIncident(_) => {
                "not_found"
            }
            LifecycleError::EnvironmentExists(_) => "environment_exists",
            LifecycleError::InvalidSetting(_) => "invalid_setting",
            LifecycleError::NotSubmitted { .. } => "not_submitted",
            LifecycleError::Author { .. } => "author_cannot_approve",
            LifecycleError::NotAnApprover { .. } => "not_an_approver",
            LifecycleError::AlreadyDecided { .. } => "already_decided",
            LifecycleError::ReviewClosed { .. } => "review_closed",
            LifecycleError::CommentTooShort { .. } => "comment_required",
            LifecycleError::Stale(_) => "stale_state",
            LifecycleError::QuorumNotMet { .. } => "quorum_not_met",
            LifecycleError::Rejected { .. } => "rejected",
            LifecycleError::CanaryRunning { .. } => "canary_running",
            LifecycleError::AlreadyOut { .. } => "already_active",
            LifecycleError::NoRollout { .. } => "no_rollout",
            LifecycleError::NoCanary { .. } => "no_canary",
            LifecycleError::NotReady { .. } => "not_ready",
            LifecycleError::NothingToRollBack { .. } => "nothing_to_roll_back",
            LifecycleError::WhichBundle { .. } => "ambiguous_bundle",
            LifecycleError::AlreadyResolved { .. } => "already_resolved",
            LifecycleError::Metrics(_) => "invalid_metrics",
        })
    }
}

/// Settings given to `env add` and `env set` (unset ones keep their value,
/// or take the defaults of a new environment: quorum 1, canary on, bake
/// time 1 h, 100 samples).
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvSettings {
    pub quorum: Option<u32>,
    pub canary: Option<bool>,
    pub bake_time_seconds: Option<i64>,
    pub min_samples: Option<u64>,
}

/// What a state change expects of the environment (§11.9): the active
/// version's digest, and the canary's (`Some(None)`: no canary). Unset
/// parts take the state the command read when it began.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    pub active: Option<String>,
    pub canary: Option<Option<String>>,
}

/// An approval's evidence (§7): what an approver saw.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct Evidence {
    pub lint: gavel_policy::Summary,
    pub impact: Impact,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gates: Option<Value>,
}

/// The simulated impact of a version against the environment's active one
/// (against no rules at all where nothing is active), over the curated
/// fixture cases and [`EVIDENCE_CASES`] synthetic ones from each bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Impact {
    #[ts(type = "number")]
    pub allow_to_deny: u64,
    #[ts(type = "number")]
    pub deny_to_allow: u64,
    #[ts(type = "number")]
    pub other: u64,
    /// Cases compared (not part of the signed statement).
    #[serde(skip)]
    pub cases: u64,
}

/// What an approver states about a version (DESIGN §7), less who signs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ApprovalStatement<'a> {
    pub digest: &'a str,
    pub base_digest: Option<&'a str>,
    pub version: &'a str,
    pub environment: &'a str,
    pub decision: Decision,
    pub comment: &'a str,
    pub evidence: &'a Evidence,
}

/// A recorded approval or rejection, as `approve`/`reject` print it.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ApprovalRecord {
    pub reference: String,
    pub digest: String,
    pub environment: String,
    pub decision: Decision,
    pub approver: String,
    pub keyid: String,
    pub comment: String,
    pub expires_at: String,
    /// The version's state in the environment afterwards.
    pub state: DeployState,
    pub approvals: usize,
    pub required: u32,
    pub evidence: Value,
    pub envelope: Value,
}

/// The quorum a version needs in an environment and what counts so far.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct Tally {
    pub required: u32,
    pub environment_quorum: u32,
    /// The largest `approvals_required` among the version's enabled rules.
    pub rules_require: u32,
    /// The approvers whose approvals count.
    pub counted: Vec<Approver>,
    /// Approvals that do not count, each with why.
    pub not_counted: Vec<String>,
    /// Valid rejections.
    pub rejections: Vec<Approver>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Approver {
    pub name: String,
    pub keyid: String,
    pub comment: String,
    pub expires_at: String,
}

/// A rollout as the commands print it: the serial and what serves.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct RolloutView {
    pub bundle: String,
    pub environment: String,
    #[ts(type = "number")]
    pub serial: i64,
    pub active: SlotView,
    pub canary: Option<CanaryView>,
    /// The signed `rollout.v1` envelope.
    pub document: Value,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct SlotView {
    pub reference: String,
    pub version: String,
    pub digest: String,
    pub activated_at: String,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct CanaryView {
    #[serde(flatten)]
    pub slot: SlotView,
    pub percent: u8,
    pub since: String,
    /// Bake time left in this step (0 when it has elapsed).
    #[ts(type = "number")]
    pub bake_time_left_seconds: i64,
}

/// What `activate`, `promote`, `rollback` and `monitor` did.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct Transition {
    /// `activate`, `promote`, `rollback`, `auto_rollback`, or `none` (a
    /// monitor pass that did not trip).
    pub action: &'static str,
    pub rollout: RolloutView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gates: Option<GateReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(type = "number | null")]
    pub incident: Option<i64>,
    /// Why the monitor rolled back (each threshold crossed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tripped: Vec<String>,
}

/// `gavel status`: per environment, per bundle.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct Status {
    pub environments: Vec<EnvStatus>,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct EnvStatus {
    #[serde(flatten)]
    pub settings: Environment,
    pub bundles: Vec<BundleStatus>,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct BundleStatus {
    pub bundle: String,
    #[ts(type = "number")]
    pub serial: i64,
    pub active: Option<SlotView>,
    pub canary: Option<CanaryView>,
    pub last_gates: Option<GateCheck>,
    /// Submitted versions still under review here.
    pub pending: Vec<PendingView>,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct PendingView {
    pub reference: String,
    pub digest: String,
    pub state: DeployState,
    pub approvals: usize,
    pub required: u32,
    /// Approvals still needed.
    pub needs: u32,
    pub approvers: Vec<String>,
}

/// The current state of a (bundle, environment), with the expectation it
/// meets.
pub(crate) struct Current {
    pub(crate) rollout: Option<Rollout>,
}

impl Current {
    pub(crate) fn serial(&self) -> i64 {
        self.rollout.as_ref().map_or(0, |r| r.serial)
    }

    pub(crate) fn active(&self) -> Option<&Slot> {
        self.rollout.as_ref().map(|r| &r.stable)
    }

    fn canary(&self) -> Option<&CanarySlot> {
        self.rollout.as_ref().and_then(|r| r.canary.as_ref())
    }

    /// Refused unless the state is what the caller expects.
    fn check(&self, expect: &Expect) -> Result<(), LifecycleError> {
        let shown = |d: Option<&str>| d.map_or_else(|| "none".to_string(), str::to_string);
        if let Some(want) = &expect.active {
            let have = self.active().map(|s| s.digest.as_str());
            if !digest_matches(want, have) {
                return Err(LifecycleError::Stale(format!(
                    "the active version is {}, not the expected {want}",
                    shown(have)
                )));
            }
        }
        if let Some(want) = &expect.canary {
            let have = self.canary().map(|c| c.slot.digest.as_str());
            let ok = match want {
                None => have.is_none(),
                Some(w) => digest_matches(w, have),
            };
            if !ok {
                return Err(LifecycleError::Stale(format!(
                    "the canary is {}, not the expected {}",
                    shown(have),
                    shown(want.as_deref())
                )));
            }
        }
        Ok(())
    }
}

/// A full digest, or `sha256:` with at least 8 hex digits of it, or `none`.
fn digest_matches(want: &str, have: Option<&str>) -> bool {
    match (want, have) {
        ("none", None) => true,
        (w, Some(h)) => w.len() >= "sha256:".len() + crate::MIN_DIGEST_DIGITS && h.starts_with(w),
        _ => false,
    }
}

fn reference(v: &BundleVersion) -> String {
    v.reference()
}

fn slot_view(bundle: &str, s: &Slot) -> SlotView {
    SlotView {
        reference: format!("{bundle}@{}", s.version),
        version: s.version.clone(),
        digest: s.digest.clone(),
        activated_at: s.activated_at.clone(),
    }
}

fn seconds_between(from: &str, to: jiff::Timestamp) -> i64 {
    from.parse::<jiff::Timestamp>()
        .map_or(0, |t| to.as_second() - t.as_second())
}

fn canary_view(
    bundle: &str,
    c: &CanarySlot,
    env: &Environment,
    now: jiff::Timestamp,
) -> CanaryView {
    let waited = seconds_between(&c.step_started_at, now);
    CanaryView {
        slot: slot_view(bundle, &c.slot),
        percent: c.percent,
        since: c.step_started_at.clone(),
        bake_time_left_seconds: (env.bake_time_seconds - waited).max(0),
    }
}

fn rollout_view(r: &Rollout, env: &Environment, now: jiff::Timestamp) -> RolloutView {
    RolloutView {
        bundle: r.bundle.clone(),
        environment: r.environment.clone(),
        serial: r.serial,
        active: slot_view(&r.bundle, &r.stable),
        canary: r
            .canary
            .as_ref()
            .map(|c| canary_view(&r.bundle, c, env, now)),
        document: r.envelope.clone(),
    }
}

fn comment_ok(text: &str) -> bool {
    text.trim().chars().count() >= MIN_COMMENT_CHARS
}

pub(crate) fn bundle_of(v: &BundleVersion) -> Result<Bundle, LifecycleError> {
    gavel_policy::parse_bundle(&v.document, crate::versions::policy_format(v.format)).map_err(|e| {
        gavel_store::StoreError::Corrupt(format!(
            "the stored document of `{}` no longer validates: {e}",
            v.reference()
        ))
        .into()
    })
}

/// The largest `approvals_required` among a bundle's enabled rules.
fn rules_require(b: &Bundle) -> u32 {
    b.rules
        .iter()
        .filter(|r| r.enabled)
        .map(|r| r.approvals_required)
        .max()
        .unwrap_or(0)
}

/// Lint summary and simulated impact of `candidate` against `base`.
pub fn evidence_of(candidate: &Bundle, base: Option<&Bundle>) -> Evidence {
    evidence_and_changes(candidate, base).0
}

/// [`evidence_of`], and the comparison its impact counts (whose listed
/// changes are the example cases a reviewer reads).
pub fn evidence_and_changes(
    candidate: &Bundle,
    base: Option<&Bundle>,
) -> (Evidence, gavel_policy::sim::Comparison) {
    let lint = gavel_policy::lint(candidate.document(), &LintConfig::default()).summary;
    let empty;
    let base = match base {
        Some(b) => b,
        None => {
            empty = gavel_policy::parse_bundle("[]", Format::Json)
                .unwrap_or_else(|_| candidate.clone());
            &empty
        }
    };
    let (ea, eb) = (Engine::compile(base), Engine::compile(candidate));
    let mut run = CompareRun::new(&ea, &eb, SimConfig::default());
    let mut none =
        |_: &gavel_policy::sim::Change| -> Result<(), std::convert::Infallible> { Ok(()) };
    let mut cases = fixture_cases();
    for (i, b) in [base, candidate].into_iter().enumerate() {
        cases.extend(
            SyntheticCases::new(b, EVIDENCE_SEED.wrapping_add(i as u64))
                .take(EVIDENCE_CASES)
                .map(|mut c| {
                    c.case_id = format!("{}-{i}", c.case_id);
                    c
                }),
        );
    }
    let count = cases.len() as u64;
    for c in cases {
        let Ok(()) = run.push(c, &mut none);
    }
    let Ok(cmp) = run.finish(&mut none);
    let t = |k: &str| cmp.transitions.get(k).copied().unwrap_or(0) as u64;
    let (a2d, d2a) = (t("allow->deny"), t("deny->allow"));
    let evidence = Evidence {
        lint,
        impact: Impact {
            allow_to_deny: a2d,
            deny_to_allow: d2a,
            other: (cmp.total_changes as u64).saturating_sub(a2d + d2a),
            cases: count,
        },
        gates: None,
    };
    (evidence, cmp)
}

/// Parses a duration for `--bake-time`: `0`, or a number with a unit
/// (`30m`, `1h`, `24h`, `2d`, `1w`, `90s`).
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if t == "0" {
        return Ok(0);
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: give a number and a unit, e.g. `1h`, `24h`, `30m`, `2d`, or `0`"))?;
    let per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "`{text}` has no unit Gavel knows: use s, m, h, d or w (e.g. `24h`), or `0`"
            ));
        }
    };
    n.checked_mul(per)
        .filter(|s| *s <= 366 * 86_400)
        .ok_or_else(|| format!("`{text}` is longer than a year"))
}

impl Console {
    pub(crate) async fn env(&self, name: &str) -> Result<Environment, LifecycleError> {
        self.store
            .environment(name)
            .await?
            .ok_or_else(|| LifecycleError::UnknownEnvironment(name.to_string()))
    }

    pub(crate) async fn current(&self, bundle: &str, env: &str) -> Result<Current, LifecycleError> {
        Ok(Current {
            rollout: self.store.rollout(bundle, env).await?,
        })
    }

    /// Every environment with its settings.
    pub async fn environments(&self) -> Result<Vec<Environment>, LifecycleError> {
        Ok(self.store.environments().await?)
    }

    /// `gavel env add NAME`: a new environment (quorum 1, canary on, bake
    /// time 1 h, 100 samples unless given).
    pub async fn add_environment(
        &self,
        name: &str,
        settings: EnvSettings,
        actor: Option<&str>,
    ) -> Result<Environment, LifecycleError> {
        let me = self.acting_identity(actor).await?;
        self.require_security(Some(&me.name), "add an environment")
            .await?;
        let valid = !name.is_empty()
            && name.len() <= MAX_ENV_NAME
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            && name.starts_with(|c: char| c.is_ascii_lowercase());
        if !valid {
            return Err(LifecycleError::InvalidSetting(format!(
                "`{name}` is not an environment name: use 1 to {MAX_ENV_NAME} lowercase letters, digits, `-` or `_`, starting with a letter"
            )));
        }
        if self.store.environments().await?.len() >= MAX_ENVIRONMENTS {
            return Err(LifecycleError::InvalidSetting(format!(
                "this store has {MAX_ENVIRONMENTS} environments, the most it holds"
            )));
        }
        let env = settled(
            Environment {
                name: name.to_string(),
                quorum: 1,
                canary: true,
                bake_time_seconds: 3600,
                min_samples: 100,
                created_at: String::new(),
            },
            settings,
        )?;
        if !self.store.add_environment(&env, &me.name).await? {
            return Err(LifecycleError::EnvironmentExists(name.to_string()));
        }
        self.env(name).await
    }

    /// `gavel env set NAME …`: changes the given settings.
    pub async fn set_environment(
        &self,
        name: &str,
        settings: EnvSettings,
        actor: Option<&str>,
    ) -> Result<Environment, LifecycleError> {
        let me = self.acting_identity(actor).await?;
        // A quorum lowered or a canary turned off weakens every approval:
        // the security role decides, as it decides roles.
        self.require_security(Some(&me.name), "change an environment's settings")
            .await?;
        let env = settled(self.env(name).await?, settings)?;
        self.store
            .set_environment(&env, &me.name)
            .await?
            .ok_or_else(|| LifecycleError::UnknownEnvironment(name.to_string()))?;
        self.env(name).await
    }

    /// `gavel submit REF`: freezes a draft.
    pub async fn submit(
        &self,
        reference: &str,
        actor: Option<&str>,
    ) -> Result<VersionRef, LifecycleError> {
        let me = self.acting_identity(actor).await?;
        let v = self.resolve_version(reference).await?;
        match self.store.submit_version(v.id, &me.name).await? {
            DraftChange::Done(v) => Ok(VersionRef::from(&v)),
            DraftChange::Missing => Err(VersionError::NotFound(reference.to_string()).into()),
            DraftChange::NotDraft(v) => Err(LifecycleError::Version(VersionError::NotDraft {
                reference: v.reference(),
                status: v.status,
            })),
        }
    }

    /// The active version of the version's bundle in `env`, parsed.
    pub(crate) async fn base_of(
        &self,
        current: &Current,
    ) -> Result<Option<(BundleVersion, Bundle)>, LifecycleError> {
        let Some(active) = current.active() else {
            return Ok(None);
        };
        let v = self
            .store
            .version(active.version_id)
            .await?
            .ok_or_else(|| {
                gavel_store::StoreError::Corrupt(format!(
                    "active version {} is gone",
                    active.digest
                ))
            })?;
        let b = bundle_of(&v)?;
        Ok(Some((v, b)))
    }

    /// The evidence an approver of `version` in `env` signs: lint summary,
    /// impact against the active version, and the last gate results where
    /// a canary of this bundle is running.
    pub async fn evidence(
        &self,
        version: &BundleVersion,
        env: &str,
    ) -> Result<(Evidence, Option<String>, i64), LifecycleError> {
        self.env(env).await?;
        let current = self.current(&version.name, env).await?;
        let candidate = bundle_of(version)?;
        let base = self.base_of(&current).await?;
        let mut evidence = evidence_of(&candidate, base.as_ref().map(|(_, b)| b));
        if current.canary().is_some() {
            if let Some(check) = self.store.last_gate_check(&version.name, env).await? {
                evidence.gates = check.report.get("gates").cloned();
            }
        }
        Ok((evidence, base.map(|(v, _)| v.digest), current.serial()))
    }

    /// Counts the approvals of `version` for `env` as activation counts
    /// them, now.
    pub async fn tally(
        &self,
        version: &BundleVersion,
        env: &Environment,
    ) -> Result<Tally, LifecycleError> {
        let bundle = bundle_of(version)?;
        let rules = rules_require(&bundle);
        let required = env.quorum.max(rules);
        let trusted = self.trusted_keys().await?;
        let now = jiff::Timestamp::now();
        let mut counted: Vec<Approver> = Vec::new();
        let mut rejections = Vec::new();
        let mut not_counted = Vec::new();
        let mut names = BTreeSet::new();
        for a in self
            .store
            .approvals(&version.digest, Some(&env.name))
            .await?
        {
            let check = gavel_trust::verify_by_owner(
                &a.envelope,
                &VerifyOptions {
                    now,
                    trusted: &trusted,
                    secret: None,
                    expected_type: Some(PayloadKind::Approval.media_type()),
                },
            );
            let who = format!("{} ({})", a.approver, a.keyid);
            if !check.valid {
                not_counted.push(format!("{who}: {}", check.message));
                continue;
            }
            let payload = check.payload.unwrap_or(Value::Null);
            let says = |k: &str| {
                payload
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            // The signer who vouches, by the key the row names: its name
            // comes from the trust store, not from the row.
            let signer = check
                .signers
                .iter()
                .find(|s| s.keyid == a.keyid)
                .map(|s| s.name.clone());
            let Some(signer) = signer.filter(|_| {
                says("digest") == version.digest
                    && says("environment") == env.name
                    && says("decision") == a.decision.as_str()
            }) else {
                not_counted.push(format!(
                    "{who}: the signed approval names another digest, environment, decision or key"
                ));
                continue;
            };
            if signer == version.author {
                not_counted.push(format!("{who}: the author of the version"));
                continue;
            }
            let approver = Approver {
                name: signer.clone(),
                keyid: a.keyid.clone(),
                comment: a.comment.clone(),
                expires_at: a.expires_at.clone(),
            };
            match a.decision {
                Decision::Reject => rejections.push(approver),
                Decision::Approve => {
                    if !names.insert(signer.clone()) {
                        not_counted.push(format!(
                            "{who}: `{signer}` already approved with another key"
                        ));
                        continue;
                    }
                    counted.push(approver);
                }
            }
        }
        Ok(Tally {
            required,
            environment_quorum: env.quorum,
            rules_require: rules,
            counted,
            not_counted,
            rejections,
        })
    }

    /// `gavel approve|reject REF --env ENV --comment TEXT`: signs an
    /// `approval.v1` envelope with the acting identity's key and records it.
    pub async fn decide(
        &self,
        reference: &str,
        env: &str,
        decision: Decision,
        comment: &str,
        validity_seconds: Option<i64>,
        actor: Option<&str>,
    ) -> Result<ApprovalRecord, LifecycleError> {
        if decision == Decision::Reject && !comment_ok(comment) {
            return Err(LifecycleError::CommentTooShort {
                what: "a rejection",
                flag: "comment",
            });
        }
        let environment = self.env(env).await?;
        let me = self.acting_identity(actor).await?;
        let version = self.resolve_version(reference).await?;
        self.check_reviewer(&version, &environment, &me.name, &me.keyid.0, decision)
            .await?;
        let (evidence, base_digest, serial) = self.evidence(&version, env).await?;
        let envelope = self
            .sign_approval(
                &me,
                ApprovalStatement {
                    digest: &version.digest,
                    base_digest: base_digest.as_deref(),
                    version: &version.version,
                    environment: env,
                    decision,
                    comment,
                    evidence: &evidence,
                },
                validity_seconds,
            )
            .await?;
        self.record_decision(&version, &environment, envelope, "local", serial)
            .await
    }

    /// Signs DESIGN §7's approval statement as `me`, with `me`'s roles in
    /// this store: the one shape `approve`, `reject` and `review sign` sign.
    pub(crate) async fn sign_approval(
        &self,
        me: &gavel_store::Identity,
        s: ApprovalStatement<'_>,
        validity_seconds: Option<i64>,
    ) -> Result<Value, LifecycleError> {
        let roles = self.roles_of(&me.keyid).await?;
        let statement = json!({
            "digest": s.digest,
            "base_digest": s.base_digest,
            "version": s.version,
            "environment": s.environment,
            "decision": s.decision.as_str(),
            "comment": s.comment,
            "approver": me.name,
            "roles": roles,
            "evidence": s.evidence,
        });
        Ok(self
            .sign_statement(
                PayloadKind::Approval,
                &statement,
                validity_seconds,
                Some(&me.keyid.0),
            )
            .await?)
    }

    /// Refused unless `name` (key `keyid`) may decide on `version` in `env`
    /// now: a submitted version, open for review there, not the author's,
    /// a trusted key with the approver role, not decided by this key yet.
    pub(crate) async fn check_reviewer(
        &self,
        version: &BundleVersion,
        env: &Environment,
        name: &str,
        keyid: &str,
        decision: Decision,
    ) -> Result<(), LifecycleError> {
        let what = match decision {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        };
        if version.status == VersionStatus::Draft {
            return Err(LifecycleError::NotSubmitted {
                reference: reference(version),
            });
        }
        if version.author == name {
            return Err(LifecycleError::Author {
                name: name.to_string(),
                reference: reference(version),
            });
        }
        match self.store.key(keyid).await? {
            None => {
                return Err(LifecycleError::NotAnApprover {
                    name: name.to_string(),
                    what,
                    why: format!(
                        "key {keyid} is not in the trust store; a security identity trusts it with `gavel keys trust`"
                    ),
                });
            }
            Some(k) if !k.key.roles.contains(&gavel_trust::Role::Approver) => {
                return Err(LifecycleError::NotAnApprover {
                    name: name.to_string(),
                    what,
                    why: "only an identity with the approver role approves or rejects; a security identity grants it with `gavel keys trust --roles approver`".into(),
                });
            }
            Some(k) if k.retired_at.is_some() => {
                return Err(LifecycleError::NotAnApprover {
                    name: name.to_string(),
                    what,
                    why: format!(
                        "key {keyid} was retired (rotated out); sign with the identity's current key"
                    ),
                });
            }
            Some(_) => {}
        }
        let state = self.store.deploy_state(version.id, &env.name).await?;
        if !state.open_for_review() {
            return Err(LifecycleError::ReviewClosed {
                reference: reference(version),
                environment: env.name.clone(),
                state,
            });
        }
        if let Some(a) = self
            .store
            .approvals(&version.digest, Some(&env.name))
            .await?
            .into_iter()
            .find(|a| a.keyid == keyid)
        {
            return Err(already(version, &a));
        }
        Ok(())
    }

    /// Records a signed approval envelope (checked by the caller or here).
    pub(crate) async fn record_decision(
        &self,
        version: &BundleVersion,
        env: &Environment,
        envelope: Value,
        source: &'static str,
        serial: i64,
    ) -> Result<ApprovalRecord, LifecycleError> {
        let payload = crate::overrides::dsse_payload(&envelope)
            .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
            .unwrap_or(Value::Null);
        let text = |k: &str| {
            payload
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let keyid = envelope
            .pointer("/signatures/0/keyid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let decision = Decision::parse(&text("decision"))
            .ok_or_else(|| ConsoleError::Invalid("the approval names no decision".into()))?;
        let tally = self.tally(version, env).await?;
        let new = NewApproval {
            version_id: version.id,
            digest: version.digest.clone(),
            environment: env.name.clone(),
            decision,
            keyid: keyid.clone(),
            approver: text("approver"),
            comment: text("comment"),
            issued_at: text("issued_at"),
            expires_at: text("expires_at"),
            envelope: envelope.clone(),
            source,
            expected_serial: serial,
            quorum: tally.required,
        };
        let recorded = self
            .store
            .record_approval(&new, &version.name, &reference(version))
            .await?;
        let state = match recorded {
            Recorded::Done { state, .. } => state,
            Recorded::Duplicate(a) => return Err(already(version, &a)),
            Recorded::NotSubmitted(_) => {
                return Err(LifecycleError::NotSubmitted {
                    reference: reference(version),
                });
            }
            Recorded::Closed(state) => {
                return Err(LifecycleError::ReviewClosed {
                    reference: reference(version),
                    environment: env.name.clone(),
                    state,
                });
            }
            Recorded::Stale { current } => {
                return Err(LifecycleError::Stale(format!(
                    "{} changed while the evidence was computed (serial {serial} → {current})",
                    env.name
                )));
            }
            Recorded::NoEnvironment => {
                return Err(LifecycleError::UnknownEnvironment(env.name.clone()));
            }
        };
        let after = self.tally(version, env).await?;
        Ok(ApprovalRecord {
            reference: reference(version),
            digest: version.digest.clone(),
            environment: env.name.clone(),
            decision,
            approver: new.approver,
            keyid,
            comment: new.comment,
            expires_at: new.expires_at,
            state,
            approvals: after.counted.len(),
            required: after.required,
            evidence: payload.get("evidence").cloned().unwrap_or(Value::Null),
            envelope,
        })
    }

    /// Signs the next `rollout.v1` document of a (bundle, environment).
    async fn rollout_document(
        &self,
        bundle: &str,
        env: &str,
        serial: i64,
        stable: &Slot,
        canary: Option<&CanarySlot>,
    ) -> Result<Value, LifecycleError> {
        let (_, key) = self.operator_signing_key().await?;
        let statement = json!({
            "bundle": bundle,
            "environment": env,
            "serial": serial,
            "stable": {"version": stable.version, "digest": stable.digest, "activated_at": stable.activated_at},
            "canary": canary.map(|c| json!({
                "version": c.slot.version, "digest": c.slot.digest,
                "percent": c.percent, "activated_at": c.slot.activated_at,
            })),
        });
        let kind = PayloadKind::Rollout;
        let payload = gavel_trust::stamp(
            kind,
            &statement,
            jiff::Timestamp::now(),
            kind.default_validity(),
        )
        .map_err(ConsoleError::from)?;
        Ok(gavel_trust::sign_dsse(kind.media_type(), &payload, &[&key])
            .map_err(|e| ConsoleError::Invalid(e.to_string()))?)
    }

    /// Signs and applies a rollout change; a lost race is refused as stale.
    #[allow(clippy::too_many_arguments)]
    async fn move_rollout(
        &self,
        bundle: &str,
        env: &Environment,
        current: &Current,
        stable: Slot,
        canary: Option<CanarySlot>,
        states: Vec<(i64, DeployState)>,
        incident: Option<NewIncident>,
        gate_check: Option<NewGateCheck>,
        actor: &str,
        action: &'static str,
        subject: String,
        details: Value,
    ) -> Result<(RolloutView, Option<i64>), LifecycleError> {
        let serial = current.serial() + 1;
        let envelope = self
            .rollout_document(bundle, &env.name, serial, &stable, canary.as_ref())
            .await?;
        let change = RolloutChange {
            bundle: bundle.to_string(),
            environment: env.name.clone(),
            expected_serial: current.serial(),
            next: NextRollout {
                stable,
                canary,
                envelope,
            },
            states,
            incident,
            gate_check,
            actor: actor.to_string(),
            action: format!("rollout.{action}"),
            subject,
            details,
        };
        match self.store.apply_rollout(&change).await? {
            Applied::Done { incident, .. } => {
                let r = self
                    .store
                    .rollout(bundle, &env.name)
                    .await?
                    .ok_or_else(|| gavel_store::StoreError::Corrupt("a rollout vanished".into()))?;
                Ok((rollout_view(&r, env, jiff::Timestamp::now()), incident))
            }
            Applied::Stale { current: now } => Err(LifecycleError::Stale(format!(
                "another change moved `{bundle}` in {} first (serial {} → {now})",
                env.name,
                current.serial()
            ))),
            Applied::Closed { version_id, state } => {
                let named = self
                    .store
                    .version(version_id)
                    .await?
                    .map_or_else(|| format!("version {version_id}"), |v| v.reference());
                Err(LifecycleError::Stale(format!(
                    "`{named}` became {} in {} after its state was read",
                    state.as_str(),
                    env.name
                )))
            }
        }
    }

    /// `gavel activate REF --env ENV`: needs the quorum of valid approvals
    /// for this digest and environment; starts a canary at 10%, or goes to
    /// 100% where nothing is active or the environment has no canary.
    pub async fn activate(
        &self,
        reference_text: &str,
        env: &str,
        expect: &Expect,
        actor: Option<&str>,
    ) -> Result<Transition, LifecycleError> {
        let environment = self.env(env).await?;
        let me = self.acting_identity(actor).await?;
        let version = self.resolve_version(reference_text).await?;
        if version.status == VersionStatus::Draft {
            return Err(LifecycleError::NotSubmitted {
                reference: reference(&version),
            });
        }
        let current = self.current(&version.name, env).await?;
        current.check(expect)?;
        let state = self.store.deploy_state(version.id, env).await?;
        match state {
            DeployState::Canary | DeployState::Active => {
                return Err(LifecycleError::AlreadyOut {
                    reference: reference(&version),
                    environment: env.to_string(),
                    state,
                });
            }
            // A veto stands even once its envelope has expired, and a
            // version rolled back here is not brought back on the
            // approvals of its first attempt: both need a new version.
            DeployState::Rejected => {
                let veto = self
                    .store
                    .approvals(&version.digest, Some(env))
                    .await?
                    .into_iter()
                    .find(|a| a.decision == Decision::Reject);
                return Err(LifecycleError::Rejected {
                    reference: reference(&version),
                    environment: env.to_string(),
                    by: veto
                        .as_ref()
                        .map_or_else(String::new, |a| a.approver.clone()),
                    comment: veto.map_or_else(String::new, |a| a.comment),
                });
            }
            DeployState::RolledBack => {
                return Err(LifecycleError::ReviewClosed {
                    reference: reference(&version),
                    environment: env.to_string(),
                    state,
                });
            }
            _ => {}
        }
        if let Some(c) = current.canary() {
            return Err(LifecycleError::CanaryRunning {
                running: format!("{}@{}", version.name, c.slot.version),
                environment: env.to_string(),
            });
        }
        let tally = self.tally(&version, &environment).await?;
        if let Some(r) = tally.rejections.first() {
            return Err(LifecycleError::Rejected {
                reference: reference(&version),
                environment: env.to_string(),
                by: r.name.clone(),
                comment: r.comment.clone(),
            });
        }
        if tally.counted.len() < tally.required as usize {
            return Err(LifecycleError::QuorumNotMet {
                reference: reference(&version),
                environment: env.to_string(),
                have: u32::try_from(tally.counted.len()).unwrap_or(u32::MAX),
                need: tally.required,
                not_counted: tally.not_counted,
            });
        }
        let now = gavel_trust::rfc3339(jiff::Timestamp::now());
        let slot = Slot {
            version_id: version.id,
            version: version.version.clone(),
            digest: version.digest.clone(),
            activated_at: now.clone(),
        };
        let approvers: Vec<&str> = tally.counted.iter().map(|a| a.keyid.as_str()).collect();
        let details = json!({"digest": version.digest, "approvals": approvers});
        let (stable, canary, states) = match current.active() {
            Some(active) if environment.canary => (
                active.clone(),
                Some(CanarySlot {
                    slot,
                    percent: CANARY_STEPS[0],
                    step_started_at: now,
                }),
                vec![(version.id, DeployState::Canary)],
            ),
            Some(active) => (
                slot,
                None,
                vec![
                    (active.version_id, DeployState::Superseded),
                    (version.id, DeployState::Active),
                ],
            ),
            None => (slot, None, vec![(version.id, DeployState::Active)]),
        };
        let (view, _) = self
            .move_rollout(
                &version.name,
                &environment,
                &current,
                stable,
                canary,
                states,
                None,
                None,
                &me.name,
                "activate",
                reference(&version),
                details,
            )
            .await?;
        Ok(Transition {
            action: "activate",
            rollout: view,
            gates: None,
            incident: None,
            tripped: Vec::new(),
        })
    }

    /// `gavel promote NAME --env ENV --metrics FILE`: the canary's next step
    /// (10 → 50 → 100) when every gate passes and the bake time of this
    /// step has elapsed; otherwise refused with every gate not `pass` and
    /// the time left (the gate results are recorded either way).
    pub async fn promote(
        &self,
        bundle: &str,
        env: &str,
        metrics: &Metrics,
        expect: &Expect,
        actor: Option<&str>,
    ) -> Result<Transition, LifecycleError> {
        let environment = self.env(env).await?;
        let me = self.acting_identity(actor).await?;
        let current = self.current(bundle, env).await?;
        current.check(expect)?;
        let (rollout, canary, report, check) = gated(&current, bundle, &environment, metrics)?;
        let now = jiff::Timestamp::now();
        let left =
            (environment.bake_time_seconds - seconds_between(&canary.step_started_at, now)).max(0);
        let reference = format!("{bundle}@{}", canary.slot.version);
        // Every gate must pass; `cost_increase` skipped is its pass for a
        // baseline cost of 0, but `vs_stable` skipped means the metrics
        // have no stable counters, and the lifecycle always compares.
        let mut reasons: Vec<String> = report
            .gates
            .iter()
            .filter(|g| match g.state {
                canary::GateState::Pass => false,
                canary::GateState::Skipped => g.name != "cost_increase",
                _ => true,
            })
            .map(|g| match (g.name, g.state) {
                ("vs_stable", canary::GateState::Skipped) => "gate `vs_stable` is skipped: the metrics have no `stable` counters, and promotion compares the canary with the stable version serving beside it".to_string(),
                _ => format!("gate `{}` is {}: {}", g.name, g.state.as_str(), g.message),
            })
            .collect();
        if left > 0 {
            reasons.push(format!(
                "bake time left in the {}% step: {}",
                canary.percent,
                human_seconds(left)
            ));
        }
        if !reasons.is_empty() {
            self.store
                .record_gate_check(bundle, env, rollout.serial, &me.name, &check)
                .await?;
            return Err(LifecycleError::NotReady {
                reference,
                environment: env.to_string(),
                reasons,
                report: Some(Box::new(report)),
                bake_time_left_seconds: left,
            });
        }
        let stamp = gavel_trust::rfc3339(now);
        let next_step = CANARY_STEPS.iter().copied().find(|p| *p > canary.percent);
        let (stable, next_canary, states) = match next_step {
            Some(p) => (
                rollout.stable.clone(),
                Some(CanarySlot {
                    percent: p,
                    step_started_at: stamp,
                    ..canary.clone()
                }),
                Vec::new(),
            ),
            None => (
                canary.slot.clone(),
                None,
                vec![
                    (rollout.stable.version_id, DeployState::Superseded),
                    (canary.slot.version_id, DeployState::Active),
                ],
            ),
        };
        let details = json!({
            "digest": canary.slot.digest,
            "from_percent": canary.percent,
            "to_percent": next_step.unwrap_or(100),
        });
        let (view, _) = self
            .move_rollout(
                bundle,
                &environment,
                &current,
                stable,
                next_canary,
                states,
                None,
                Some(check),
                &me.name,
                "promote",
                reference,
                details,
            )
            .await?;
        Ok(Transition {
            action: "promote",
            rollout: view,
            gates: Some(report),
            incident: None,
            tripped: Vec::new(),
        })
    }

    /// `gavel monitor --env ENV --bundle NAME --metrics FILE`: evaluates the
    /// gates and §7's automatic-rollback thresholds; when one trips, rolls
    /// the canary back (signed by the operator key) and opens an incident.
    pub async fn monitor(
        &self,
        bundle: &str,
        env: &str,
        metrics: &Metrics,
        expect: &Expect,
        actor: Option<&str>,
    ) -> Result<Transition, LifecycleError> {
        let environment = self.env(env).await?;
        let actor = match actor.filter(|a| !a.trim().is_empty()) {
            Some(a) => self.acting_identity(Some(a)).await?.name,
            None => MONITOR_ACTOR.to_string(),
        };
        let current = self.current(bundle, env).await?;
        // Metrics are of one canary: judged against another, they would
        // roll back the wrong version.
        current.check(expect)?;
        let (rollout, canary_slot, report, check) = gated(&current, bundle, &environment, metrics)?;
        let Some(trip) = canary::rollback_trip(metrics) else {
            self.store
                .record_gate_check(bundle, env, rollout.serial, &actor, &check)
                .await?;
            return Ok(Transition {
                action: "none",
                rollout: rollout_view(rollout, &environment, jiff::Timestamp::now()),
                gates: Some(report),
                incident: None,
                tripped: Vec::new(),
            });
        };
        let reason = format!("automatic rollback: {}", trip.reasons.join("; "));
        let reference = format!("{bundle}@{}", canary_slot.slot.version);
        let (view, incident) = self
            .move_rollout(
                bundle,
                &environment,
                &current,
                rollout.stable.clone(),
                None,
                vec![(canary_slot.slot.version_id, DeployState::RolledBack)],
                Some(NewIncident {
                    version_id: Some(canary_slot.slot.version_id),
                    severity: "high",
                    title: format!("{reference} rolled back automatically in {env}"),
                    reason: reason.clone(),
                }),
                Some(check),
                &actor,
                "auto_rollback",
                reference,
                json!({"digest": canary_slot.slot.digest, "reason": reason, "restored": rollout.stable.digest}),
            )
            .await?;
        Ok(Transition {
            action: "auto_rollback",
            rollout: view,
            gates: Some(report),
            incident,
            tripped: trip.reasons,
        })
    }

    /// `gavel rollback --env ENV --reason TEXT [--bundle NAME]`: the
    /// previous active version back at 100% (the stable one, where a canary
    /// runs), the current one `rolled_back`, and an incident of severity
    /// high.
    pub async fn rollback(
        &self,
        env: &str,
        bundle: Option<&str>,
        reason: &str,
        expect: &Expect,
        actor: Option<&str>,
    ) -> Result<Transition, LifecycleError> {
        if !comment_ok(reason) {
            return Err(LifecycleError::CommentTooShort {
                what: "a rollback",
                flag: "reason",
            });
        }
        let environment = self.env(env).await?;
        let me = self.acting_identity(actor).await?;
        let bundle = match bundle {
            Some(b) => b.to_string(),
            None => {
                let here: Vec<String> = self
                    .store
                    .rollouts()
                    .await?
                    .into_iter()
                    .filter(|r| r.environment == env)
                    .map(|r| r.bundle)
                    .collect();
                match here.as_slice() {
                    [one] => one.clone(),
                    [] => {
                        return Err(LifecycleError::NoRollout {
                            bundle: "any bundle".into(),
                            environment: env.to_string(),
                        });
                    }
                    _ => {
                        return Err(LifecycleError::WhichBundle {
                            environment: env.to_string(),
                            bundles: here,
                        });
                    }
                }
            }
        };
        let current = self.current(&bundle, env).await?;
        current.check(expect)?;
        let Some(rollout) = current.rollout.as_ref() else {
            return Err(LifecycleError::NoRollout {
                bundle,
                environment: env.to_string(),
            });
        };
        let (stable, rolled, restored) = match &rollout.canary {
            Some(c) => (rollout.stable.clone(), c.slot.clone(), None),
            None => {
                let history = self.store.rollout_history(&bundle, env).await?;
                let mut previous = None;
                for r in &history {
                    if r.stable.version_id == rollout.stable.version_id {
                        continue;
                    }
                    let state = self.store.deploy_state(r.stable.version_id, env).await?;
                    if state != DeployState::RolledBack {
                        previous = Some(r.stable.clone());
                        break;
                    }
                }
                let Some(previous) = previous else {
                    return Err(LifecycleError::NothingToRollBack {
                        bundle: bundle.clone(),
                        environment: env.to_string(),
                        current: format!("{bundle}@{}", rollout.stable.version),
                    });
                };
                (
                    previous.clone(),
                    rollout.stable.clone(),
                    Some(previous.version_id),
                )
            }
        };
        let mut states = vec![(rolled.version_id, DeployState::RolledBack)];
        if let Some(id) = restored {
            states.push((id, DeployState::Active));
        }
        let reference = format!("{bundle}@{}", rolled.version);
        let reason = reason.trim().to_string();
        let (view, incident) = self
            .move_rollout(
                &bundle,
                &environment,
                &current,
                stable.clone(),
                None,
                states,
                Some(NewIncident {
                    version_id: Some(rolled.version_id),
                    severity: "high",
                    title: format!("{reference} rolled back in {env}"),
                    reason: reason.clone(),
                }),
                None,
                &me.name,
                "rollback",
                reference,
                json!({"digest": rolled.digest, "reason": reason, "restored": stable.digest}),
            )
            .await?;
        Ok(Transition {
            action: "rollback",
            rollout: view,
            gates: None,
            incident,
            tripped: Vec::new(),
        })
    }

    /// `gavel incidents [--open]`, newest first.
    pub async fn incidents(&self, open: bool) -> Result<Vec<Incident>, LifecycleError> {
        Ok(self.store.incidents(open).await?)
    }

    /// `gavel incident resolve ID --comment TEXT`.
    pub async fn resolve_incident(
        &self,
        id: i64,
        comment: &str,
        actor: Option<&str>,
    ) -> Result<Incident, LifecycleError> {
        if !comment_ok(comment) {
            return Err(LifecycleError::CommentTooShort {
                what: "resolving an incident",
                flag: "comment",
            });
        }
        let me = self.acting_identity(actor).await?;
        match self
            .store
            .resolve_incident(id, &me.name, comment.trim())
            .await?
        {
            Resolved::Done(i) => Ok(i),
            Resolved::Missing => Err(LifecycleError::UnknownIncident(id)),
            Resolved::AlreadyResolved(i) => Err(LifecycleError::AlreadyResolved {
                id,
                by: i.resolved_by.unwrap_or_default(),
                at: i.resolved_at.unwrap_or_default(),
            }),
        }
    }

    /// `gavel status [--bundle NAME] [--env ENV]`.
    pub async fn status(
        &self,
        bundle: Option<&str>,
        env: Option<&str>,
    ) -> Result<Status, LifecycleError> {
        let environments = match env {
            Some(e) => vec![self.env(e).await?],
            None => self.store.environments().await?,
        };
        let rollouts = self.store.rollouts().await?;
        let awaiting = self.store.awaiting_review(bundle, 1000).await?;
        let now = jiff::Timestamp::now();
        let mut out = Vec::new();
        for e in environments {
            let mut names: BTreeSet<String> = rollouts
                .iter()
                .filter(|r| r.environment == e.name)
                .map(|r| r.bundle.clone())
                .collect();
            names.extend(awaiting.iter().map(|v| v.name.clone()));
            let mut bundles = Vec::new();
            for name in names.into_iter().filter(|n| bundle.is_none_or(|b| b == n)) {
                let r = rollouts
                    .iter()
                    .find(|r| r.environment == e.name && r.bundle == name);
                let mut pending = Vec::new();
                for v in awaiting.iter().filter(|v| v.name == name) {
                    let state = self.store.deploy_state(v.id, &e.name).await?;
                    if !state.open_for_review() {
                        continue;
                    }
                    let tally = self.tally(v, &e).await?;
                    let have = tally.counted.len();
                    pending.push(PendingView {
                        reference: v.reference(),
                        digest: v.digest.clone(),
                        state,
                        approvals: have,
                        required: tally.required,
                        needs: tally
                            .required
                            .saturating_sub(u32::try_from(have).unwrap_or(u32::MAX)),
                        approvers: tally.counted.into_iter().map(|a| a.name).collect(),
                    });
                }
                bundles.push(BundleStatus {
                    bundle: name.clone(),
                    serial: r.map_or(0, |r| r.serial),
                    active: r.map(|r| slot_view(&name, &r.stable)),
                    canary: r
                        .and_then(|r| r.canary.as_ref())
                        .map(|c| canary_view(&name, c, &e, now)),
                    last_gates: if r.is_some() {
                        self.store.last_gate_check(&name, &e.name).await?
                    } else {
                        None
                    },
                    pending,
                });
            }
            out.push(EnvStatus {
                settings: e,
                bundles,
            });
        }
        Ok(Status { environments: out })
    }

    /// The approvals recorded for a version (all environments).
    pub async fn approvals_of(
        &self,
        reference: &str,
    ) -> Result<Vec<StoredApproval>, LifecycleError> {
        let v = self.resolve_version(reference).await?;
        Ok(self.store.approvals(&v.digest, None).await?)
    }
}

/// The running canary of a (bundle, environment) and its gates evaluated
/// on `metrics`, with the results to record; refused where nothing is
/// active or no canary runs.
fn gated<'c>(
    current: &'c Current,
    bundle: &str,
    env: &Environment,
    metrics: &Metrics,
) -> Result<(&'c Rollout, CanarySlot, GateReport, NewGateCheck), LifecycleError> {
    let Some(rollout) = current.rollout.as_ref() else {
        return Err(LifecycleError::NoRollout {
            bundle: bundle.to_string(),
            environment: env.name.clone(),
        });
    };
    let Some(canary) = rollout.canary.clone() else {
        return Err(LifecycleError::NoCanary {
            bundle: bundle.to_string(),
            environment: env.name.clone(),
        });
    };
    let report = canary::check(
        metrics,
        &GateConfig {
            min_samples: env.min_samples,
        },
    );
    let check = NewGateCheck {
        digest: canary.slot.digest.clone(),
        passed: report.passed,
        report: serde_json::to_value(&report).unwrap_or(Value::Null),
    };
    Ok((rollout, canary, report, check))
}

fn already(version: &BundleVersion, a: &StoredApproval) -> LifecycleError {
    LifecycleError::AlreadyDecided {
        keyid: a.keyid.clone(),
        reference: reference(version),
        environment: a.environment.clone(),
        decision: match a.decision {
            Decision::Approve => "approved",
            Decision::Reject => "rejected",
        },
        at: a.recorded_at.clone(),
    }
}

/// `3h 20m`, `45s`.
pub fn human_seconds(s: i64) -> String {
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (sec, "s")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    if parts.is_empty() {
        "0s".into()
    } else {
        parts.join(" ")
    }
}

fn settled(mut env: Environment, s: EnvSettings) -> Result<Environment, LifecycleError> {
    if let Some(q) = s.quorum {
        if !(1..=100).contains(&q) {
            return Err(LifecycleError::InvalidSetting(format!(
                "--quorum {q}: give 1 to 100 approvals"
            )));
        }
        env.quorum = q;
    }
    if let Some(c) = s.canary {
        env.canary = c;
    }
    if let Some(b) = s.bake_time_seconds {
        if !(0..=366 * 86_400).contains(&b) {
            return Err(LifecycleError::InvalidSetting(format!(
                "--bake-time of {b} seconds: give 0 to a year"
            )));
        }
        env.bake_time_seconds = b;
    }
    if let Some(m) = s.min_samples {
        if !(1..=1_000_000_000).contains(&m) {
            return Err(LifecycleError::InvalidSetting(format!(
                "--min-samples {m}: give 1 to 1000000000 decisions"
            )));
        }
        env.min_samples = m;
    }
    Ok(env)
}
