//! The use cases the desktop app adds to the CLI's, and the types it
//! exchanges with its front end (DESIGN §2, §10): the bundle index with
//! each version's state per environment, lint of a text as it is typed,
//! the rule builder, "new version from this", the diff laid out rule by
//! rule, and simulations that report progress and can be cancelled.
//!
//! Nothing here knows Tauri: `src-tauri` calls these functions, and the
//! types derive `ts_rs::TS` so that the front end's TypeScript types are
//! generated from them (`ui/src/bindings/`, see [`export_bindings`]).
//! 64-bit integers cross as `number`: ids, counts and seeds stay below
//! 2^53.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use gavel_policy::sim::{
    self, Case, CaseFormat, CompareRun, Comparison, Report, SimConfig, SimRun, fixture_cases,
    parse_cases,
};
use gavel_policy::{
    Bump, Bundle, Class, Diff, Effect, Engine, Finding, Format, LintConfig, LintReport, LoadError,
    Node, NodeValue, Severity, Summary as LintSummary, lint, next_version, parse_bundle,
    parse_document,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use ts_rs::TS;

mod admin;
mod scorecards;

pub use admin::{
    AuditFilters, AuditText, BackupText, EnvForm, FileText, KeysView, OverrideForm, OverrideLists,
    Rotation, SyncStatus, UpdateCheck, UpdateDownload, UpdaterSettings, public_keys_of,
    read_text_file, write_text_file,
};
pub use scorecards::{
    BorderlineItem, EXAMPLE_POLICY, NamedText, RunsQuery, ScorecardExamples, ScorecardOutcome,
    ScorecardRequest, ScorecardRow, policy_of, scorecard_examples,
};

use crate::lifecycle::LifecycleError;
use crate::versions::{EditedVersion, VersionDiff, VersionError, VersionSummary};
use crate::{Console, ConsoleError, DeployState};

/// An error as the front end receives it: `code` is what it branches on
/// (the codes of the CLI's `{"error": {"code"}}`, plus `no_identity`,
/// `cancelled`, `invalid_rule`, `invalid_dataset`, and the desktop shell's
/// `store_unavailable`); `message` says what
/// was wrong and what to do; `line` and `column` point into the document
/// when the error is in one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

impl ErrorBody {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ErrorBody {
            code: code.to_string(),
            message: message.into(),
            line: None,
            column: None,
        }
    }
}

impl From<ConsoleError> for ErrorBody {
    fn from(e: ConsoleError) -> Self {
        ErrorBody::new(e.code(), e.to_string())
    }
}

impl From<VersionError> for ErrorBody {
    fn from(e: VersionError) -> Self {
        match e {
            VersionError::Console(c) => c.into(),
            VersionError::Bundle(load) => load_error(&load),
            other => ErrorBody::new(other.code().unwrap_or("invalid"), other.to_string()),
        }
    }
}

impl From<LifecycleError> for ErrorBody {
    fn from(e: LifecycleError) -> Self {
        match e {
            LifecycleError::Version(v) => v.into(),
            other => ErrorBody::new(other.code().unwrap_or("invalid"), other.to_string()),
        }
    }
}

impl From<gavel_store::StoreError> for ErrorBody {
    fn from(e: gavel_store::StoreError) -> Self {
        ConsoleError::from(e).into()
    }
}

/// A document that does not load: its code, and where its first problem is.
fn load_error(e: &LoadError) -> ErrorBody {
    let mut body = ErrorBody::new(e.code(), e.to_string());
    let first = match e {
        LoadError::Syntax(d) => Some(d),
        LoadError::Invalid(ds) => ds.first(),
        _ => None,
    };
    if let Some(d) = first {
        body.line = d.line;
        body.column = d.column;
    }
    body
}

/// An identity of this store, as the app's header and dialogs show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct IdentityInfo {
    pub name: String,
    pub email: String,
    pub keyid: String,
    pub roles: Vec<String>,
}

/// What the app needs at start: where its data is, who may act, and
/// whether the store is still empty (the first-run screen).
#[derive(Debug, Clone, Serialize, TS)]
pub struct AppInfo {
    pub home: String,
    pub app_version: String,
    pub identities: Vec<IdentityInfo>,
    /// The name of the identity acting in this window, if one is chosen
    /// (the only identity acts by default).
    pub acting: Option<String>,
    /// Stored bundle versions; 0 shows the welcome screen.
    #[ts(type = "number")]
    pub versions: i64,
    /// Environment names, in the order the store lists them.
    pub environments: Vec<String>,
}

/// A version's state in one environment, as a badge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct EnvBadge {
    pub environment: String,
    pub state: DeployState,
}

/// A version in the bundle list: its summary and its state in each
/// environment where something happened.
#[derive(Debug, Clone, Serialize, TS)]
pub struct VersionRow {
    #[serde(flatten)]
    pub summary: VersionSummary,
    pub environments: Vec<EnvBadge>,
}

/// Every stored version, newest first, with its badges.
#[derive(Debug, Clone, Serialize, TS)]
pub struct BundleIndex {
    pub versions: Vec<VersionRow>,
    pub environments: Vec<String>,
}

/// Lint of a document as it is typed: the linter's findings, or the one
/// syntax error that stops parsing; and whether the document can be saved
/// (`blocked` says why not).
#[derive(Debug, Clone, Serialize, TS)]
pub struct LintResult {
    pub findings: Vec<Finding>,
    pub summary: LintSummary,
    pub name: Option<String>,
    pub version: Option<String>,
    /// Why the document cannot be saved as a version, if it cannot.
    pub blocked: Option<String>,
    /// Time the lint took in Rust, in milliseconds.
    pub elapsed_ms: f64,
}

/// One condition of the rule builder: `field`, an operator of DESIGN §3
/// (`==`, `!=`, `>`, `>=`, `<`, `<=`, `in`, `not_in`, `contains`,
/// `matches`, `exists`) and the value as typed (`in`/`not_in`: a comma
/// separated list; `exists`: `true` or `false`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, TS)]
pub struct ConditionDraft {
    pub field: String,
    pub operator: String,
    pub value: String,
}

/// An optional budget of the rule builder.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, TS)]
pub struct BudgetDraft {
    pub cost: Option<f64>,
    #[ts(type = "number | null")]
    pub compute: Option<u64>,
    /// `low`, `medium` or `high`.
    pub risk: Option<String>,
}

/// The rule builder's form.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, TS)]
pub struct RuleDraft {
    pub id: String,
    pub agent: String,
    pub action: String,
    pub effect: Effect,
    #[ts(type = "number | null")]
    pub priority: Option<i64>,
    pub reason: String,
    pub conditions: Vec<ConditionDraft>,
    pub budget: Option<BudgetDraft>,
    pub enabled: bool,
    pub approvals_required: Option<u32>,
}

/// A document with a rule added: the new text and the 1-based line where
/// the rule starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct RuleInsert {
    pub document: String,
    pub line: u32,
}

/// "New version from this": the document with `metadata.version` raised
/// to the next patch version that is not stored yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct NewDraft {
    pub document: String,
    pub name: String,
    pub version: String,
    pub from: String,
}

/// What a save did: a new draft, or an edit of the open one.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SavedDraft {
    pub version: VersionSummary,
    /// True when a new draft was created, false when the open one changed.
    pub created: bool,
    /// False when the text was already the stored one.
    pub changed: bool,
}

/// How a rule differs between the two sides of a diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RuleStatus {
    Added,
    Removed,
    Modified,
    Unchanged,
}

/// One rule side by side: its JSON in each version (absent where it is
/// not there), its class and the fields that changed.
#[derive(Debug, Clone, Serialize, TS)]
pub struct RulePair {
    pub id: String,
    pub status: RuleStatus,
    pub class: Class,
    pub old: Option<Value>,
    pub new: Option<Value>,
    pub changed_fields: Vec<String>,
}

/// The diff of two stored versions with every rule laid out side by side
/// (the new version's order, then the removed rules).
#[derive(Debug, Clone, Serialize, TS)]
pub struct DiffView {
    #[serde(flatten)]
    pub diff: VersionDiff,
    pub rules: Vec<RulePair>,
}

/// What to simulate: a stored version, or a document as it stands in the
/// editor (saved or not).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SimSource {
    Version { reference: String },
    Document { document: String },
}

/// Where cases come from: the nine curated cases, synthetic cases drawn
/// from the bundle, or a file's text (JSON array, JSON Lines or CSV, told
/// by its name, then its first character).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DatasetSpec {
    Fixtures,
    Synthetic {
        #[ts(type = "number")]
        count: u64,
        #[ts(type = "number")]
        seed: u64,
    },
    File {
        name: String,
        text: String,
    },
}

/// The most synthetic cases one run draws.
pub const MAX_SYNTHETIC_CASES: u64 = 10_000_000;

/// Progress of a run: cases decided so far, of `total` when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
pub struct SimProgress {
    #[ts(type = "number")]
    pub done: u64,
    #[ts(type = "number | null")]
    pub total: Option<u64>,
}

/// A finished simulation.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SimOutcome {
    /// `fixtures`, `synthetic N (seed S)` or the file's name.
    pub dataset: String,
    pub report: Report,
    pub elapsed_ms: f64,
}

/// A finished comparison of two versions (A the first, B the second).
#[derive(Debug, Clone, Serialize, TS)]
pub struct CompareOutcome {
    pub dataset: String,
    pub a: String,
    pub b: String,
    pub comparison: Comparison,
    pub elapsed_ms: f64,
}

/// A version under review in one environment, as the approvals inbox
/// lists it.
#[derive(Debug, Clone, Serialize, TS)]
pub struct InboxItem {
    pub environment: String,
    pub bundle: String,
    pub reference: String,
    pub digest: String,
    pub author: String,
    pub state: DeployState,
    pub approvals: usize,
    pub required: u32,
    /// Approvals still needed.
    pub needs: u32,
    /// Whose approvals count so far.
    pub approvers: Vec<String>,
}

/// The approvals inbox of the acting identity: what waits for its
/// decision, and what it submitted (with how far each has come).
#[derive(Debug, Clone, Serialize, TS)]
pub struct Inbox {
    /// The acting identity (`None`: the store has none yet).
    pub me: Option<String>,
    /// Submitted by others, not yet approved by me, in environments where
    /// it is still open.
    pub awaiting: Vec<InboxItem>,
    /// My own submissions still under review.
    pub submitted: Vec<InboxItem>,
}

/// What a reviewer reads before approving a version for an environment:
/// the diff against the version active there, the simulated impact with
/// example cases (the evidence an approval signs), the lint summary, and
/// the approvals so far against the quorum.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ReviewView {
    pub reference: String,
    pub digest: String,
    pub environment: String,
    pub author: String,
    pub state: DeployState,
    /// The version active in the environment (`None`: nothing is).
    pub active: Option<String>,
    /// The diff against the active version (`None`: nothing is active).
    pub diff: Option<DiffView>,
    pub lint: LintSummary,
    pub impact: crate::Impact,
    /// Cases the impact was computed over.
    #[ts(type = "number")]
    pub cases: u64,
    /// The first cases whose effect changed.
    pub changes: Vec<gavel_policy::sim::Change>,
    pub tally: crate::Tally,
}

/// The most example cases a review lists.
pub const REVIEW_EXAMPLES: usize = 50;

/// The state a rollout change expects, as the screen showed it: a digest,
/// `none` (nothing there), or absent (not checked). A change against
/// another state is refused as `stale_state`, so two people acting on one
/// environment never undo each other unknowingly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, TS)]
pub struct Expected {
    pub active: Option<String>,
    pub canary: Option<String>,
}

impl From<&Expected> for crate::Expect {
    fn from(e: &Expected) -> Self {
        crate::Expect {
            active: e.active.clone(),
            canary: e.canary.as_ref().map(|c| (c != "none").then(|| c.clone())),
        }
    }
}

/// Canary metrics from a file's text (DESIGN §11.8), for promote and the
/// monitor.
pub fn metrics_from_text(text: &str) -> Result<gavel_governance::canary::Metrics, ErrorBody> {
    if text.trim().is_empty() {
        return Err(ErrorBody::new(
            "empty_file",
            "the metrics file is empty: write the canary's counts and costs as a JSON object",
        ));
    }
    let doc = parse_document(text, Format::Json).map_err(|e| load_error(&e))?;
    gavel_governance::canary::Metrics::from_json(&doc.to_json()).map_err(|e| {
        ErrorBody::new(
            "invalid_metrics",
            format!("the metrics are not usable: {e}"),
        )
    })
}

/// Writes every type the front end uses to `dir` (one `.ts` file each).
pub fn export_bindings(dir: &std::path::Path) -> Result<(), ts_rs::ExportError> {
    AppInfo::export_all_to(dir)?;
    BundleIndex::export_all_to(dir)?;
    LintResult::export_all_to(dir)?;
    RuleDraft::export_all_to(dir)?;
    RuleInsert::export_all_to(dir)?;
    NewDraft::export_all_to(dir)?;
    SavedDraft::export_all_to(dir)?;
    DiffView::export_all_to(dir)?;
    SimSource::export_all_to(dir)?;
    DatasetSpec::export_all_to(dir)?;
    SimProgress::export_all_to(dir)?;
    SimOutcome::export_all_to(dir)?;
    CompareOutcome::export_all_to(dir)?;
    ErrorBody::export_all_to(dir)?;
    crate::VersionDetail::export_all_to(dir)?;
    crate::VersionHistory::export_all_to(dir)?;
    crate::InitReport::export_all_to(dir)?;
    IdentityInfo::export_all_to(dir)?;
    Inbox::export_all_to(dir)?;
    ReviewView::export_all_to(dir)?;
    Expected::export_all_to(dir)?;
    gavel_store::lifecycle::Incident::export_all_to(dir)?;
    crate::Status::export_all_to(dir)?;
    crate::ApprovalRecord::export_all_to(dir)?;
    crate::Transition::export_all_to(dir)?;
    crate::Decision::export_all_to(dir)?;
    // The governance screens.
    FileText::export_all_to(dir)?;
    KeysView::export_all_to(dir)?;
    Rotation::export_all_to(dir)?;
    BackupText::export_all_to(dir)?;
    OverrideLists::export_all_to(dir)?;
    OverrideForm::export_all_to(dir)?;
    AuditFilters::export_all_to(dir)?;
    AuditText::export_all_to(dir)?;
    EnvForm::export_all_to(dir)?;
    crate::Environment::export_all_to(dir)?;
    crate::TrustedKey::export_all_to(dir)?;
    crate::KeyRestore::export_all_to(dir)?;
    crate::AuditVerification::export_all_to(dir)?;
    crate::SignedCheckpoint::export_all_to(dir)?;
    crate::IssuedOverride::export_all_to(dir)?;
    crate::OverrideVerification::export_all_to(dir)?;
    crate::ReviewPackage::export_all_to(dir)?;
    crate::ReviewReport::export_all_to(dir)?;
    crate::SignedApproval::export_all_to(dir)?;
    ScorecardRequest::export_all_to(dir)?;
    ScorecardOutcome::export_all_to(dir)?;
    ScorecardExamples::export_all_to(dir)?;
    BorderlineItem::export_all_to(dir)?;
    RunsQuery::export_all_to(dir)?;
    crate::ScorecardRun::export_all_to(dir)?;
    UpdaterSettings::export_all_to(dir)?;
    UpdateCheck::export_all_to(dir)?;
    UpdateDownload::export_all_to(dir)?;
    SyncStatus::export_all_to(dir)?;
    crate::RegistryRow::export_all_to(dir)?;
    crate::PushReport::export_all_to(dir)?;
    Ok(())
}

/// Lints `text` as the editor holds it (`file_name` tells YAML from JSON
/// when the text alone does not).
pub fn lint_text(text: &str, file_name: &str) -> LintResult {
    lint_text_cached(text, file_name, &mut ParseCache::default())
}

/// [`lint_text`] for an editor: `cache` holds the last text's parse, so a
/// change inside one rule parses that rule again, not the whole document.
pub fn lint_text_cached(text: &str, file_name: &str, cache: &mut ParseCache) -> LintResult {
    let started = Instant::now();
    let format = Format::detect(file_name, text);
    let mut out = LintResult {
        findings: Vec::new(),
        summary: LintSummary::default(),
        name: None,
        version: None,
        blocked: None,
        elapsed_ms: 0.0,
    };
    match cache.parse(text, format) {
        Err(e) => {
            let body = load_error(&e);
            out.findings.push(finding(
                e.code(),
                body.line,
                body.column,
                e.to_string(),
                "fix the document's syntax here; nothing after it was checked",
            ));
            out.summary.errors = 1;
            out.summary.total_issues = 1;
            out.blocked = Some(format!("the document does not parse: {e}"));
        }
        Ok(doc) => {
            let report: LintReport = lint(&doc, &LintConfig::default());
            out.summary = report.summary;
            out.findings = report.findings;
            let meta = doc.get("metadata");
            out.name = meta
                .and_then(|m| m.get("name"))
                .and_then(Node::as_str)
                .map(str::to_string);
            out.version = meta
                .and_then(|m| m.get("version"))
                .and_then(Node::as_str)
                .map(str::to_string);
            let metadata_at = doc.get_key("metadata").map(|k| k.location);
            // The loader's verdict, once: what blocks saving, and where.
            let loaded = Bundle::from_document(doc).map(drop);
            if let Err(LoadError::Invalid(diagnostics)) = &loaded {
                locate_invalid_rules(diagnostics, &mut out.findings);
            }
            out.blocked = blocked(&loaded, &out);
            if out.summary.errors == 0 {
                // What the linter passes but the loader refuses (metadata,
                // the schema's other checks): shown where it is.
                if let Err(e) = &loaded {
                    add_load_findings(&mut out, e);
                } else if out.name.is_none() || out.version.is_none() {
                    out.findings.push(finding(
                        "invalid_bundle",
                        Some(metadata_at.map_or(1, |l| l.line)),
                        Some(metadata_at.map_or(1, |l| l.column)),
                        "the bundle has no `metadata.name` or `metadata.version`".to_string(),
                        "add both: a stored version is named by them",
                    ));
                    out.summary.errors += 1;
                    out.summary.total_issues += 1;
                }
            }
        }
    }
    out.elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    out
}

/// An `invalid-rule` finding points at its rule; the loader knows the
/// field: each such finding takes the place of the loader's diagnostic for
/// that rule, so the editor marks the very value that is wrong.
fn locate_invalid_rules(diagnostics: &[gavel_policy::Diagnostic], findings: &mut [Finding]) {
    for f in findings.iter_mut().filter(|f| f.code == "invalid-rule") {
        let Some(index) = f.index else { continue };
        let (exact, within) = (format!("/rules/{index}"), format!("/rules/{index}/"));
        let found = diagnostics.iter().find(|d| {
            d.pointer
                .as_deref()
                .is_some_and(|p| p == exact || p.starts_with(&within))
                && f.message.contains(&d.message)
        });
        if let Some(d) = found {
            if d.line.is_some() {
                f.line = d.line;
                f.column = d.column;
            }
        }
    }
}

fn blocked(loaded: &Result<(), LoadError>, out: &LintResult) -> Option<String> {
    if out.summary.errors > 0 {
        let n = out.summary.errors;
        return Some(format!(
            "{n} lint error{} must be fixed first (see Problems)",
            if n == 1 { "" } else { "s" }
        ));
    }
    if let Err(e) = loaded {
        return Some(format!("the bundle is not valid: {e}"));
    }
    match (&out.name, &out.version) {
        (Some(_), Some(_)) => None,
        _ => Some(
            "a stored version takes its name and version from `metadata.name` and `metadata.version`: add both"
                .to_string(),
        ),
    }
}

fn add_load_findings(out: &mut LintResult, e: &LoadError) {
    let diags: Vec<_> = match e {
        LoadError::Invalid(ds) => ds.iter().collect(),
        LoadError::Syntax(d) => vec![d],
        _ => Vec::new(),
    };
    for d in diags {
        out.findings.push(finding(
            e.code(),
            d.line,
            d.column,
            d.message.clone(),
            "see the bundle schema (README, \"A bundle\")",
        ));
        out.summary.errors += 1;
        out.summary.total_issues += 1;
    }
}

fn finding(
    code: &'static str,
    line: Option<u32>,
    column: Option<u32>,
    message: String,
    help: &str,
) -> Finding {
    Finding {
        code,
        severity: Severity::Error,
        rule_id: None,
        index: None,
        line,
        column,
        message,
        suggestion: help.to_string(),
        related_rules: Vec::new(),
        witness: None,
        file: None,
    }
}

/// The operators of the rule builder, and how each is written as a
/// condition key (`None`: the field alone, which means `==`).
const OPERATORS: [(&str, Option<&str>); 11] = [
    ("==", None),
    ("!=", Some("!=")),
    (">", Some(">")),
    (">=", Some(">=")),
    ("<", Some("<")),
    ("<=", Some("<=")),
    ("in", Some("in:")),
    ("not_in", Some("not_in:")),
    ("contains", Some("contains:")),
    ("matches", Some("matches:")),
    ("exists", Some("exists:")),
];

fn invalid_rule(message: impl Into<String>) -> ErrorBody {
    ErrorBody::new("invalid_rule", message)
}

/// A value as typed: a number, `true`/`false`, or else the text.
fn scalar(text: &str) -> Value {
    let t = text.trim();
    match t {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => serde_json::from_str::<serde_json::Number>(t)
            .map(Value::Number)
            .unwrap_or_else(|_| Value::String(t.to_string())),
    }
}

/// A rule's fields in the order people write them.
type RuleFields = Vec<(&'static str, Value)>;

/// The rule's fields, checked by the bundle loader (alone, so that other
/// problems of the open document do not stop the builder).
pub fn rule_json(draft: &RuleDraft) -> Result<Vec<(&'static str, Value)>, ErrorBody> {
    let mut rule: RuleFields = Vec::new();
    for (key, value) in [
        ("id", &draft.id),
        ("agent", &draft.agent),
        ("action", &draft.action),
    ] {
        if value.trim().is_empty() {
            return Err(invalid_rule(format!("the rule needs {key}: fill it in")));
        }
        rule.push((key, Value::String(value.trim().to_string())));
    }
    rule.push(("effect", json!(draft.effect)));
    let mut conditions = serde_json::Map::new();
    for (i, c) in draft.conditions.iter().enumerate() {
        let n = i + 1;
        let field = c.field.trim();
        if field.is_empty() {
            return Err(invalid_rule(format!(
                "condition {n} has no field: name the context field it tests, or remove the row"
            )));
        }
        let Some((_, prefix)) = OPERATORS.iter().find(|(op, _)| *op == c.operator) else {
            return Err(invalid_rule(format!(
                "condition {n}: `{}` is not an operator; use one of {}",
                c.operator,
                OPERATORS.map(|(o, _)| o).join(" ")
            )));
        };
        let value = match c.operator.as_str() {
            "in" | "not_in" => Value::Array(
                c.value
                    .split(',')
                    .filter(|v| !v.trim().is_empty())
                    .map(scalar)
                    .collect(),
            ),
            "exists" => match c.value.trim() {
                "" | "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                other => {
                    return Err(invalid_rule(format!(
                        "condition {n}: `exists` takes true or false, not `{other}`"
                    )));
                }
            },
            "matches" | "contains" => Value::String(c.value.clone()),
            _ => scalar(&c.value),
        };
        let key = format!("{}{field}", prefix.unwrap_or(""));
        if conditions.insert(key.clone(), value).is_some() {
            return Err(invalid_rule(format!(
                "condition {n} repeats `{key}`: a rule tests each field and operator once"
            )));
        }
    }
    if !conditions.is_empty() {
        rule.push(("conditions", Value::Object(conditions)));
    }
    rule.push(("reason", Value::String(draft.reason.trim().to_string())));
    if let Some(p) = draft.priority {
        rule.push(("priority", json!(p)));
    }
    if !draft.enabled {
        rule.push(("enabled", Value::Bool(false)));
    }
    if let Some(a) = draft.approvals_required {
        rule.push(("approvals_required", json!(a)));
    }
    if let Some(b) = &draft.budget {
        let mut budget = serde_json::Map::new();
        if let Some(c) = b.cost {
            budget.insert("cost".into(), json!(c));
        }
        if let Some(c) = b.compute {
            budget.insert("compute".into(), json!(c));
        }
        if let Some(r) = b.risk.as_deref().filter(|r| !r.is_empty()) {
            budget.insert("risk".into(), Value::String(r.to_string()));
        }
        if !budget.is_empty() {
            rule.push(("budget", Value::Object(budget)));
        }
    }
    let object: serde_json::Map<String, Value> = rule
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let alone = json!({
        "apiVersion": "gavel/v1",
        "kind": "PolicyBundle",
        "metadata": {"name": "rule-builder", "version": "0.0.0"},
        "rules": [object],
    });
    if let Err(e) = parse_bundle(&alone.to_string(), Format::Json) {
        let message = match &e {
            LoadError::Invalid(ds) => ds
                .iter()
                .map(|d| match &d.pointer {
                    Some(p) => format!("{} ({})", d.message, p.trim_start_matches("/rules/0")),
                    None => d.message.clone(),
                })
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        };
        return Err(invalid_rule(message));
    }
    Ok(rule)
}

/// The rule as YAML lines under a sequence dash at `indent` spaces: each
/// value is written as JSON, which YAML reads as a flow value.
fn rule_yaml(rule: &[(&str, Value)], indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    for (i, (k, v)) in rule.iter().enumerate() {
        let lead = if i == 0 { "- " } else { "  " };
        out.push_str(&format!("{pad}{lead}{k}: {v}\n"));
    }
    out
}

/// The rule as one line of JSON, its fields in order.
fn rule_json_text(rule: &[(&str, Value)]) -> String {
    let fields: Vec<String> = rule
        .iter()
        .map(|(k, v)| format!("{}: {v}", Value::String(k.to_string())))
        .collect();
    format!("{{{}}}", fields.join(", "))
}

/// Adds the rule built from `draft` at the end of the document's rules,
/// keeping the rest of the text as written.
pub fn add_rule(
    document: &str,
    file_name: &str,
    draft: &RuleDraft,
) -> Result<RuleInsert, ErrorBody> {
    let rule = rule_json(draft)?;
    let format = Format::detect(file_name, document);
    let doc = parse_document(document, format).map_err(|e| {
        let mut b = load_error(&e);
        b.message = format!(
            "the document must parse before a rule is added to it: {}",
            b.message
        );
        b
    })?;
    if format == Format::Json {
        return add_rule_json(document, &doc, &rule);
    }
    let lines: Vec<&str> = document.lines().collect();
    let (rules, is_bare) = match &doc.value {
        NodeValue::Seq(_) => (&doc, true),
        NodeValue::Map(_) => match doc.get("rules") {
            Some(r) => (r, false),
            None => {
                let mut text = document.to_string();
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                let line = text.lines().count() as u32 + 2;
                text.push_str("rules:\n");
                text.push_str(&rule_yaml(&rule, 2));
                return Ok(RuleInsert {
                    document: text,
                    line,
                });
            }
        },
        _ => {
            return Err(ErrorBody::new(
                "invalid_bundle",
                "the document is neither a bundle nor a list of rules",
            ));
        }
    };
    let items = match &rules.value {
        NodeValue::Seq(items) => items,
        NodeValue::Null => &Vec::new(),
        _ => {
            return Err(invalid_rule(
                "`rules` is not a list: make it one before adding a rule",
            ));
        }
    };
    let flow = lines
        .get(rules.location.line.saturating_sub(1) as usize)
        .and_then(|l| {
            l.chars()
                .nth(rules.location.column.saturating_sub(1) as usize)
        })
        == Some('[');
    if flow && !items.is_empty() {
        return Err(invalid_rule(
            "the rules are written as a flow list (`[...]`): write them one per `- ` item to use the rule builder",
        ));
    }
    // The dash's column: from the first item's line, else two spaces in.
    let indent = items
        .first()
        .and_then(|first| lines.get(first.location.line.saturating_sub(1) as usize))
        .and_then(|l| l.find('-'))
        .unwrap_or(if is_bare { 0 } else { 2 });
    // Insert after the rules: before the next top-level key, or at the end.
    let after_line = if is_bare {
        None
    } else {
        doc.as_map().and_then(|m| {
            m.iter()
                .map(|(k, _)| k.location.line)
                .filter(|l| *l > rules.location.line)
                .min()
        })
    };
    let mut text = String::with_capacity(document.len() + 256);
    // Step back over the blank lines and comments that lead the next key
    // (or end the document): they belong to what follows the rules.
    let mut insert_at = after_line.map_or(lines.len(), |l| l.saturating_sub(1) as usize);
    let last_rule_line = items.last().map_or(0, |r| r.location.line as usize);
    while insert_at > last_rule_line && {
        let t = lines[insert_at - 1].trim();
        t.is_empty() || t.starts_with('#')
    } {
        insert_at -= 1;
    }
    let empty_flow = flow && items.is_empty();
    for (i, line) in lines.iter().enumerate() {
        if i == insert_at {
            break;
        }
        if empty_flow && i + 1 == rules.location.line as usize {
            // `rules: []` becomes a block list.
            let cut = rules.location.column.saturating_sub(1) as usize;
            let head: String = line.chars().take(cut).collect();
            text.push_str(head.trim_end());
            text.push('\n');
            continue;
        }
        text.push_str(line);
        text.push('\n');
    }
    let line = insert_at as u32 + 1;
    text.push_str(&rule_yaml(&rule, indent));
    for line in lines.iter().skip(insert_at) {
        text.push_str(line);
        text.push('\n');
    }
    if !document.ends_with('\n') && insert_at < lines.len() {
        text.pop();
    }
    Ok(RuleInsert {
        document: text,
        line,
    })
}

/// The byte offset of the `]` that closes the array opening at `open`.
fn closing_bracket(text: &str, open: usize) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, c) in text[open..].char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => depth += 1,
            ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The byte offset of a 1-based line and column (in characters).
fn offset(text: &str, line: u32, column: u32) -> Option<usize> {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1) as usize)
        .map(str::len)
        .sum();
    let rest = text.get(start..)?;
    let col = rest
        .char_indices()
        .nth(column.saturating_sub(1) as usize)
        .map_or(rest.len(), |(b, _)| b);
    Some(start + col)
}

/// Adds the rule to a JSON document's rules array, as text: the rest of the
/// document keeps its layout and key order.
fn add_rule_json(
    document: &str,
    doc: &Node,
    rule: &[(&str, Value)],
) -> Result<RuleInsert, ErrorBody> {
    let rules = match &doc.value {
        NodeValue::Seq(_) => doc,
        _ => doc.get("rules").ok_or_else(|| {
            invalid_rule("the JSON bundle has no `rules` list: add `\"rules\": []` first")
        })?,
    };
    let open = offset(document, rules.location.line, rules.location.column)
        .filter(|&o| document[o..].starts_with('['))
        .ok_or_else(|| invalid_rule("`rules` is not a list: make it one before adding a rule"))?;
    let close = closing_bracket(document, open)
        .ok_or_else(|| invalid_rule("the `rules` list does not close"))?;
    let empty = document[open + 1..close].trim().is_empty();
    let before = document[..close].trim_end();
    let line = before.lines().count() as u32 + 1;
    let text = format!(
        "{before}{}\n    {}\n{}",
        if empty { "" } else { "," },
        rule_json_text(rule),
        &document[close..]
    );
    Ok(RuleInsert {
        document: text,
        line,
    })
}

/// The text of a scalar that starts at `col` (0-based, in characters) of
/// `line`: a quoted string with its quotes, or a plain one up to a comment.
fn scalar_span(line: &str, col: usize) -> Option<(usize, usize)> {
    let start = line.char_indices().nth(col).map(|(b, _)| b)?;
    let rest = &line[start..];
    let len = match rest.chars().next()? {
        q @ ('"' | '\'') => rest[1..].find(q).map(|e| e + 2)?,
        _ => {
            let end = rest.find(" #").unwrap_or(rest.len());
            let end = rest[..end].find([',', '}']).unwrap_or(end);
            rest[..end].trim_end().len()
        }
    };
    Some((start, start + len))
}

/// `text` with `metadata.version` set to `version`, the rest as written.
fn set_version(text: &str, format: Format, version: &str) -> Option<String> {
    let doc = parse_document(text, format).ok()?;
    let node = doc.get("metadata")?.get("version")?;
    let line_no = node.location.line.checked_sub(1)? as usize;
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let line = lines.get(line_no)?;
    let (a, b) = scalar_span(line, node.location.column.checked_sub(1)? as usize)?;
    let replacement = serde_json::to_string(version).ok()?;
    let new_line = format!("{}{}{}", &line[..a], replacement, &line[b..]);
    lines[line_no] = new_line;
    Some(lines.join("\n"))
}

impl Console {
    /// The app's start: its data directory, identities, and whether the
    /// store is empty.
    pub async fn app_info(
        &self,
        app_version: &str,
        acting: Option<&str>,
    ) -> Result<AppInfo, ErrorBody> {
        let identities: Vec<IdentityInfo> = self
            .list_keys()
            .await?
            .into_iter()
            .filter(|k| k.identity && !k.retired)
            .map(|k| IdentityInfo {
                name: k.name,
                email: k.email,
                keyid: k.keyid,
                roles: k.roles.iter().map(|r| r.as_str().to_string()).collect(),
            })
            .collect();
        let versions = self.store.version_index().await?.len() as i64;
        let environments = self.environment_names().await?;
        let acting = match acting {
            Some(a) => identities
                .iter()
                .find(|i| i.name == a || i.keyid == a)
                .map(|i| i.name.clone()),
            None if identities.len() == 1 => identities.first().map(|i| i.name.clone()),
            None => None,
        };
        Ok(AppInfo {
            home: self.home().display().to_string(),
            app_version: app_version.to_string(),
            identities,
            acting,
            versions,
            environments,
        })
    }

    async fn environment_names(&self) -> Result<Vec<String>, ErrorBody> {
        Ok(self
            .store
            .environments()
            .await?
            .into_iter()
            .map(|e| e.name)
            .collect())
    }

    /// The approvals inbox of `actor` (else the store's only identity).
    pub async fn inbox(&self, actor: Option<&str>) -> Result<Inbox, ErrorBody> {
        let me = match self.acting_identity(actor).await {
            Ok(me) => me,
            Err(ConsoleError::NotFound(_)) if actor.is_none() => {
                return Ok(Inbox {
                    me: None,
                    awaiting: Vec::new(),
                    submitted: Vec::new(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let status = self.status(None, None).await?;
        let (mut awaiting, mut submitted) = (Vec::new(), Vec::new());
        for env in status.environments {
            for b in env.bundles {
                for p in b.pending {
                    let author = self.resolve_version(&p.reference).await?.author;
                    let item = InboxItem {
                        environment: env.settings.name.clone(),
                        bundle: b.bundle.clone(),
                        reference: p.reference,
                        digest: p.digest,
                        author,
                        state: p.state,
                        approvals: p.approvals,
                        required: p.required,
                        needs: p.needs,
                        approvers: p.approvers,
                    };
                    if item.author == me.name {
                        submitted.push(item);
                    } else if !item.approvers.contains(&me.name) {
                        awaiting.push(item);
                    }
                }
            }
        }
        Ok(Inbox {
            me: Some(me.name),
            awaiting,
            submitted,
        })
    }

    /// The review of `reference` for `environment` (see [`ReviewView`]).
    pub async fn review(
        &self,
        reference: &str,
        environment: &str,
    ) -> Result<ReviewView, ErrorBody> {
        let v = self.resolve_version(reference).await?;
        let env = self.store.environment(environment).await?.ok_or_else(|| {
            ErrorBody::new(
                "not_found",
                format!("no environment `{environment}`; see Settings"),
            )
        })?;
        let status = self.status(Some(&v.name), Some(environment)).await?;
        let active = status
            .environments
            .first()
            .and_then(|e| e.bundles.first())
            .and_then(|b| b.active.as_ref())
            .map(|a| a.reference.clone());
        let candidate = crate::lifecycle::bundle_of(&v)?;
        let base = match &active {
            Some(r) => Some(crate::lifecycle::bundle_of(
                &self.resolve_version(r).await?,
            )?),
            None => None,
        };
        let diff = match &active {
            Some(r) => Some(self.diff_view(r, reference).await?),
            None => None,
        };
        let (evidence, mut comparison) =
            crate::lifecycle::evidence_and_changes(&candidate, base.as_ref());
        comparison.changes.truncate(REVIEW_EXAMPLES);
        let tally = self.tally(&v, &env).await?;
        let state = self.store.deploy_state(v.id, environment).await?;
        Ok(ReviewView {
            reference: v.reference(),
            digest: v.digest.clone(),
            environment: environment.to_string(),
            author: v.author.clone(),
            state,
            active,
            diff,
            lint: evidence.lint,
            cases: evidence.impact.cases,
            impact: evidence.impact,
            changes: comparison.changes,
            tally,
        })
    }

    /// Every version, newest first, each with its state per environment.
    pub async fn bundle_index(&self) -> Result<BundleIndex, ErrorBody> {
        let mut states: HashMap<i64, Vec<EnvBadge>> = HashMap::new();
        for (id, environment, state) in self.store.all_deploy_states().await? {
            states
                .entry(id)
                .or_default()
                .push(EnvBadge { environment, state });
        }
        let versions = self
            .store
            .version_index()
            .await?
            .iter()
            .map(|v| VersionRow {
                environments: states.remove(&v.id).unwrap_or_default(),
                summary: v.into(),
            })
            .collect();
        let environments = self.environment_names().await?;
        Ok(BundleIndex {
            versions,
            environments,
        })
    }

    /// Saves the editor's text: a new draft when `reference` is `None` or
    /// names another name or version than the text's, else an edit of
    /// that draft. Refused with `no_identity` when nobody can author it.
    pub async fn save_draft(
        &self,
        document: &str,
        file_name: &str,
        reference: Option<&str>,
        notes: &str,
        actor: Option<&str>,
    ) -> Result<SavedDraft, ErrorBody> {
        if self.store.identities().await?.is_empty() {
            return Err(ErrorBody::new(
                "no_identity",
                "saving needs an identity to record as the author: create yours (name and email); its key stays in the OS keychain",
            ));
        }
        let lint = lint_text(document, file_name);
        if let Some(why) = lint.blocked {
            let mut body = ErrorBody::new("invalid_bundle", format!("not saved: {why}"));
            if let Some(f) = lint.findings.iter().find(|f| f.severity == Severity::Error) {
                body.line = f.line;
                body.column = f.column;
            }
            return Err(body);
        }
        let same = match (reference, &lint.name, &lint.version) {
            (Some(r), Some(n), Some(v)) => r == format!("{n}@{v}"),
            _ => false,
        };
        if same {
            let r = reference.unwrap_or_default();
            let EditedVersion {
                version, changed, ..
            } = self.edit_version(r, file_name, document, actor).await?;
            return Ok(SavedDraft {
                version,
                created: false,
                changed,
            });
        }
        let v = self
            .create_version(file_name, document, Some(notes), actor)
            .await?;
        Ok(SavedDraft {
            version: v,
            created: true,
            changed: true,
        })
    }

    /// "New version from this": the stored document with its version
    /// raised to the next patch number not stored yet.
    pub async fn new_version_from(&self, reference: &str) -> Result<NewDraft, ErrorBody> {
        let v = self.resolve_version(reference).await?;
        let format = crate::versions::policy_format(v.format);
        let mut next = next_version(Some(&v.version), Bump::Patch);
        for _ in 0..1000 {
            if self.store.version_by_name(&v.name, &next).await?.is_none() {
                break;
            }
            next = next_version(Some(&next), Bump::Patch);
        }
        let document = set_version(&v.document, format, &next).ok_or_else(|| {
            ErrorBody::new(
                "invalid_bundle",
                format!(
                    "`{}` has no `metadata.version` to raise; copy it by hand",
                    v.reference()
                ),
            )
        })?;
        Ok(NewDraft {
            document,
            name: v.name.clone(),
            version: next,
            from: v.reference(),
        })
    }

    /// The diff of two stored versions, every rule side by side.
    pub async fn diff_view(&self, old: &str, new: &str) -> Result<DiffView, ErrorBody> {
        let diff = self.diff_versions(old, new).await?;
        let (a, b) = (
            self.resolve_version(old).await?,
            self.resolve_version(new).await?,
        );
        let rules_of = |v: &gavel_store::versions::BundleVersion| -> Vec<(String, Value)> {
            crate::lifecycle::bundle_of(v)
                .map(|b| b.document().to_json())
                .ok()
                .and_then(|j| match j {
                    Value::Object(mut m) => m.remove("rules"),
                    list @ Value::Array(_) => Some(list),
                    _ => None,
                })
                .and_then(|r| match r {
                    Value::Array(items) => Some(items),
                    _ => None,
                })
                .unwrap_or_default()
                .into_iter()
                .map(|r| {
                    let id = r
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    (id, r)
                })
                .collect()
        };
        let (old_rules, new_rules) = (rules_of(&a), rules_of(&b));
        let old_by_id: HashMap<&str, &Value> =
            old_rules.iter().map(|(i, r)| (i.as_str(), r)).collect();
        let new_ids: std::collections::HashSet<&str> =
            new_rules.iter().map(|(i, _)| i.as_str()).collect();
        let d: &Diff = &diff.diff;
        let added: HashMap<&str, &gavel_policy::RuleEntry> =
            d.added.iter().map(|e| (e.id.as_str(), e)).collect();
        let modified: HashMap<&str, &gavel_policy::RuleChange> =
            d.modified.iter().map(|m| (m.id.as_str(), m)).collect();
        let removed: HashMap<&str, &gavel_policy::RuleEntry> =
            d.removed.iter().map(|e| (e.id.as_str(), e)).collect();
        let mut rules = Vec::with_capacity(new_rules.len() + d.removed.len());
        for (id, rule) in &new_rules {
            let pair = if let Some(e) = added.get(id.as_str()) {
                RulePair {
                    id: id.clone(),
                    status: RuleStatus::Added,
                    class: e.class,
                    old: None,
                    new: Some(rule.clone()),
                    changed_fields: Vec::new(),
                }
            } else if let Some(m) = modified.get(id.as_str()) {
                RulePair {
                    id: id.clone(),
                    status: RuleStatus::Modified,
                    class: m.class,
                    old: old_by_id.get(id.as_str()).map(|r| (*r).clone()),
                    new: Some(rule.clone()),
                    changed_fields: m.changes.iter().map(|c| c.field.clone()).collect(),
                }
            } else {
                RulePair {
                    id: id.clone(),
                    status: RuleStatus::Unchanged,
                    class: Class::None,
                    old: old_by_id.get(id.as_str()).map(|r| (*r).clone()),
                    new: Some(rule.clone()),
                    changed_fields: Vec::new(),
                }
            };
            rules.push(pair);
        }
        for (id, rule) in &old_rules {
            if new_ids.contains(id.as_str()) {
                continue;
            }
            let class = removed.get(id.as_str()).map_or(Class::None, |e| e.class);
            rules.push(RulePair {
                id: id.clone(),
                status: RuleStatus::Removed,
                class,
                old: Some(rule.clone()),
                new: None,
                changed_fields: Vec::new(),
            });
        }
        Ok(DiffView { diff, rules })
    }

    /// The bundle a simulation runs, and its name (`NAME@VERSION`, marked
    /// `(editor)` for the editor's text).
    pub async fn source_bundle(&self, source: &SimSource) -> Result<(String, Bundle), ErrorBody> {
        match source {
            SimSource::Version { reference } => {
                let v = self.resolve_version(reference).await?;
                Ok((v.reference(), crate::lifecycle::bundle_of(&v)?))
            }
            SimSource::Document { document } => {
                let b = parse_bundle(document, Format::detect("", document)).map_err(|e| {
                    let mut body = load_error(&e);
                    body.message = format!("the editor's bundle is not valid: {}", body.message);
                    body
                })?;
                let name = match (&b.metadata.name, &b.metadata.version) {
                    (Some(n), Some(v)) => format!("{n}@{v} (editor)"),
                    _ => "the editor's bundle".to_string(),
                };
                Ok((name, b))
            }
        }
    }

    /// Simulates a version or the editor's document over a dataset,
    /// reporting progress and stopping with `cancelled` when `cancel` is
    /// set.
    pub async fn simulate(
        &self,
        source: &SimSource,
        dataset: &DatasetSpec,
        progress: &(dyn Fn(SimProgress) + Sync),
        cancel: &AtomicBool,
    ) -> Result<SimOutcome, ErrorBody> {
        let (_, bundle) = self.source_bundle(source).await?;
        simulate_bundle(&bundle, dataset, progress, cancel)
    }

    /// Compares two versions (or the editor's document) over one dataset.
    pub async fn compare(
        &self,
        a: &SimSource,
        b: &SimSource,
        dataset: &DatasetSpec,
        progress: &(dyn Fn(SimProgress) + Sync),
        cancel: &AtomicBool,
    ) -> Result<CompareOutcome, ErrorBody> {
        let first = self.source_bundle(a).await?;
        let second = self.source_bundle(b).await?;
        compare_bundles(first, second, dataset, progress, cancel)
    }
}

/// Compares two named bundles over one dataset (see [`Console::compare`]).
pub fn compare_bundles(
    (name_a, bundle_a): (String, Bundle),
    (name_b, bundle_b): (String, Bundle),
    dataset: &DatasetSpec,
    progress: &(dyn Fn(SimProgress) + Sync),
    cancel: &AtomicBool,
) -> Result<CompareOutcome, ErrorBody> {
    let started = Instant::now();
    let (ea, eb) = (Engine::compile(&bundle_a), Engine::compile(&bundle_b));
    let config = SimConfig {
        threads: threads(),
        progress: None,
    };
    let mut run = CompareRun::new(&ea, &eb, config);
    let mut none = |_: &sim::Change| Ok::<(), ErrorBody>(());
    let total = dataset_total(dataset);
    let mut done = 0u64;
    for_each_case(dataset, &[&bundle_a, &bundle_b], |case| {
        step(&mut done, total, progress, cancel)?;
        run.push(case, &mut none)
    })?;
    let comparison = run.finish(&mut none)?;
    progress(SimProgress {
        done,
        total: Some(done),
    });
    Ok(CompareOutcome {
        dataset: dataset_name(dataset),
        a: name_a,
        b: name_b,
        comparison,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

fn threads() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
}

/// How often progress is reported, in cases.
const PROGRESS_EVERY: u64 = 4096;

fn step(
    done: &mut u64,
    total: Option<u64>,
    progress: &(dyn Fn(SimProgress) + Sync),
    cancel: &AtomicBool,
) -> Result<(), ErrorBody> {
    *done += 1;
    if *done % PROGRESS_EVERY == 0 {
        if cancel.load(Ordering::Relaxed) {
            return Err(ErrorBody::new(
                "cancelled",
                format!("the run was cancelled after {done} cases; nothing was kept"),
            ));
        }
        progress(SimProgress { done: *done, total });
    }
    Ok(())
}

fn dataset_total(dataset: &DatasetSpec) -> Option<u64> {
    match dataset {
        DatasetSpec::Fixtures => Some(fixture_cases().len() as u64),
        DatasetSpec::Synthetic { count, .. } => Some(*count),
        DatasetSpec::File { .. } => None,
    }
}

fn dataset_name(dataset: &DatasetSpec) -> String {
    match dataset {
        DatasetSpec::Fixtures => "fixtures (the nine curated cases)".to_string(),
        DatasetSpec::Synthetic { count, seed } => format!("synthetic, {count} cases, seed {seed}"),
        DatasetSpec::File { name, .. } => format!("file `{name}`"),
    }
}

/// Feeds every case of `dataset` to `each`, in order.
fn for_each_case(
    dataset: &DatasetSpec,
    bundles: &[&Bundle],
    mut each: impl FnMut(Case) -> Result<(), ErrorBody>,
) -> Result<(), ErrorBody> {
    match dataset {
        DatasetSpec::Fixtures => fixture_cases().into_iter().try_for_each(each),
        DatasetSpec::Synthetic { count, seed } => {
            if *count == 0 || *count > MAX_SYNTHETIC_CASES {
                return Err(ErrorBody::new(
                    "invalid_dataset",
                    format!(
                        "{count} synthetic cases: give a count from 1 to {MAX_SYNTHETIC_CASES}"
                    ),
                ));
            }
            sim::synthetic_dataset(bundles, *count as usize, *seed).try_for_each(&mut each)
        }
        DatasetSpec::File { name, text } => {
            if text.len() as u64 > gavel_policy::MAX_FILE_BYTES {
                return Err(ErrorBody::new(
                    "file_too_large",
                    format!(
                        "`{name}` is {} bytes, over the 16 MiB a dataset file may have; use `gavel sim --dataset FILE`, which streams",
                        text.len()
                    ),
                ));
            }
            let cases =
                parse_cases(text, CaseFormat::detect(name, text)).map_err(|e| ErrorBody {
                    code: "invalid_cases".to_string(),
                    message: format!("`{name}`: {}", e.message),
                    line: e.line.map(|l| l as u32),
                    column: e.column.map(|c| c as u32),
                })?;
            cases.into_iter().try_for_each(each)
        }
    }
}

/// Simulates one bundle over a dataset (see [`Console::simulate`]).
pub fn simulate_bundle(
    bundle: &Bundle,
    dataset: &DatasetSpec,
    progress: &(dyn Fn(SimProgress) + Sync),
    cancel: &AtomicBool,
) -> Result<SimOutcome, ErrorBody> {
    let started = Instant::now();
    let engine = Engine::compile(bundle);
    let config = SimConfig {
        threads: threads(),
        progress: None,
    };
    let mut run = SimRun::new(&engine, config);
    let mut none = |_: &Case, _: &sim::ResultRow<'_>| Ok::<(), ErrorBody>(());
    let total = dataset_total(dataset);
    let mut done = 0u64;
    for_each_case(dataset, &[bundle], |case| {
        step(&mut done, total, progress, cancel)?;
        run.push(case, &mut none)
    })?;
    let report = run.finish(&mut none)?;
    progress(SimProgress {
        done,
        total: Some(done),
    });
    Ok(SimOutcome {
        dataset: dataset_name(dataset),
        report,
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

mod incremental;

pub use incremental::ParseCache;

#[cfg(test)]
mod tests;
