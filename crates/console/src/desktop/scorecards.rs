//! Scorecards in the desktop app (DESIGN §4, §11.12): a batch of
//! scorecard files evaluated against a governance policy, each result with
//! where it came from; a scorecard that does not read is a row with its
//! error, and the rest of the batch is still evaluated. Runs go to the
//! store and the decision log as `gavel scorecard eval` writes them;
//! borderline verdicts to the queue when the policy (or the screen) uses it.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use gavel_governance::{
    BatchSummary, Evaluation, OverrideInput, Policy, Scorecard, Verdict, borderline_record,
    decision_log_line, evaluate,
};
use gavel_policy::{Format, NodeValue};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;

use super::ErrorBody;
use crate::{Console, NewRun, RunFilter, ScorecardRun, run_time};

/// The example policy `gavel init --examples` users start from.
pub const EXAMPLE_POLICY: &str = include_str!("../../../../fixtures/governance/policy.yaml");

/// Example scorecards, one per file, to try a policy on.
pub const EXAMPLE_SCORECARDS: [(&str, &str); 5] = [
    (
        "code-migration.json",
        include_str!("../../../../fixtures/governance/scorecards/code-migration.json"),
    ),
    (
        "forecast-dip.json",
        include_str!("../../../../fixtures/governance/scorecards/forecast-dip.json"),
    ),
    (
        "invoice-triage.json",
        include_str!("../../../../fixtures/governance/scorecards/invoice-triage.json"),
    ),
    (
        "outbound-email.json",
        include_str!("../../../../fixtures/governance/scorecards/outbound-email.json"),
    ),
    (
        "support-summaries.json",
        include_str!("../../../../fixtures/governance/scorecards/support-summaries.json"),
    ),
];

/// The most scorecards one evaluation in the app takes; the CLI streams
/// files of any size.
pub const MAX_APP_SCORECARDS: usize = 200_000;

/// A file as the screen read it.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct NamedText {
    pub name: String,
    pub text: String,
}

/// What to evaluate.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct ScorecardRequest {
    pub policy: NamedText,
    /// Files of one scorecard, a JSON list of them, or JSON Lines.
    pub scorecards: Vec<NamedText>,
    /// Use the borderline queue even when the policy does not say so.
    pub borderline_queue: bool,
    /// Record the runs in the store and append the decision log.
    pub log: bool,
}

/// One scorecard's result, or why it could not be read.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ScorecardRow {
    /// `file`, `file:line` (JSON Lines) or `file[index]` (a list).
    pub source: String,
    pub evaluation: Option<Evaluation>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct ScorecardOutcome {
    pub rows: Vec<ScorecardRow>,
    pub summary: BatchSummary,
    /// Scorecards that could not be read.
    pub invalid: usize,
    /// The decision log appended to, when the runs were logged.
    pub log_path: Option<String>,
    /// Borderline verdicts added to the queue.
    pub queued: usize,
    #[ts(type = "number")]
    pub elapsed_ms: u64,
}

/// A record of the borderline queue (§11.12).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct BorderlineItem {
    pub workflow_id: Option<String>,
    pub raroi: Vec<Option<f64>>,
    pub confidence: Option<f64>,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

/// Run history filters, as the screen sends them.
#[derive(Debug, Clone, Default, Deserialize, TS)]
pub struct RunsQuery {
    pub workflow_id: Option<String>,
    pub verdict: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    #[ts(type = "number | null")]
    pub limit: Option<i64>,
}

/// The example policy and scorecards, to start from.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ScorecardExamples {
    pub policy: NamedText,
    pub scorecards: Vec<NamedText>,
}

pub fn scorecard_examples() -> ScorecardExamples {
    ScorecardExamples {
        policy: NamedText {
            name: "policy.yaml".into(),
            text: EXAMPLE_POLICY.into(),
        },
        scorecards: EXAMPLE_SCORECARDS
            .iter()
            .map(|(name, text)| NamedText {
                name: (*name).into(),
                text: (*text).into(),
            })
            .collect(),
    }
}

/// Reads a governance policy from its text; problems carry their line.
pub fn policy_of(file: &NamedText) -> Result<Policy, ErrorBody> {
    let doc = gavel_policy::parse_document(&file.text, Format::detect(&file.name, &file.text))
        .map_err(|e| {
            let mut body = ErrorBody::new("invalid_policy", format!("`{}`: {e}", file.name));
            if let Some(d) = e.diagnostics().first() {
                body.line = d.line;
                body.column = d.column;
            }
            body
        })?;
    Policy::from_document(&doc, &file.text).map_err(|e| {
        let ds = e.diagnostics();
        let first = ds.first();
        let message = ds
            .iter()
            .map(|d| match d.line {
                Some(l) => format!("line {l}: {}", d.message),
                None => d.message.clone(),
            })
            .collect::<Vec<_>>()
            .join("; ");
        ErrorBody {
            code: "invalid_policy".into(),
            message: format!(
                "`{}` is not a valid governance policy: {message}",
                file.name
            ),
            line: first.and_then(|d| d.line),
            column: first.and_then(|d| d.column),
        }
    })
}

/// Each scorecard of a file with where it came from: a JSON list, one
/// scorecard, or JSON Lines (by name, or when the whole text is not one
/// document and its first non-empty line is a value of its own); a text
/// that is none of these is one row with where it stops being JSON.
fn cards_of(file: &NamedText, out: &mut Vec<(String, Result<Value, String>)>) {
    let text = file.text.strip_prefix('\u{feff}').unwrap_or(&file.text);
    if text.trim().is_empty() {
        return;
    }
    let by_name = file.name.ends_with(".jsonl") || file.name.ends_with(".ndjson");
    let whole = (!by_name)
        .then(|| gavel_policy::parse_document(text, Format::Json))
        .and_then(Result::ok);
    match whole {
        Some(doc) => match &doc.value {
            NodeValue::Seq(items) => {
                for (i, node) in items.iter().enumerate() {
                    out.push((format!("{}[{i}]", file.name), Ok(node.to_json())));
                }
            }
            _ => out.push((file.name.clone(), Ok(doc.to_json()))),
        },
        None => {
            // JSON Lines: by name, or when the first non-empty line is a
            // value of its own. Anything else is one document that does not
            // parse, reported where it breaks.
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default();
            let lines_file = by_name || gavel_policy::parse_document(first, Format::Json).is_ok();
            if !lines_file {
                let message = gavel_policy::parse_document(text, Format::Json)
                    .err()
                    .map_or_else(
                        || "not JSON".to_string(),
                        |e| match e.diagnostics().first() {
                            Some(d) => format!(
                                "not JSON at line {}, column {}: {}",
                                d.line.unwrap_or(1),
                                d.column.unwrap_or(1),
                                d.message
                            ),
                            None => format!("not JSON: {e}"),
                        },
                    );
                out.push((file.name.clone(), Err(message)));
                return;
            }
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let source = format!("{}:{}", file.name, i + 1);
                let value = gavel_policy::parse_document(line, Format::Json)
                    .map(|d| d.to_json())
                    .map_err(|e| format!("not a JSON scorecard: {e}"));
                out.push((source, value));
            }
        }
    }
}

/// Appends whole lines to a JSON Lines file, creating its folder.
fn append_lines(path: &Path, lines: &[String]) -> Result<(), ErrorBody> {
    if lines.is_empty() {
        return Ok(());
    }
    let unwritable = |e: std::io::Error| {
        ErrorBody::new(
            "unwritable",
            format!("cannot append to `{}`: {e}", path.display()),
        )
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(unwritable)?;
    }
    // One write per whole line, as `gavel scorecard eval` writes: runs
    // appending at once never interleave within a line.
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(unwritable)?;
    let mut line = String::new();
    for l in lines {
        line.clear();
        line.push_str(l);
        line.push('\n');
        file.write_all(line.as_bytes()).map_err(unwritable)?;
    }
    Ok(())
}

impl Console {
    /// The decision log the app and `gavel scorecard eval` append to.
    pub fn decision_log_path(&self) -> PathBuf {
        self.home().join("governance/decision_log.jsonl")
    }

    /// The borderline queue the app appends to.
    pub fn borderline_queue_path(&self) -> PathBuf {
        self.home().join("governance/borderline_queue.jsonl")
    }

    /// Evaluates a batch: every scorecard that reads is evaluated, logged
    /// and recorded; one that does not is a row with its error.
    pub async fn evaluate_scorecards(
        &self,
        request: &ScorecardRequest,
        actor: Option<&str>,
    ) -> Result<ScorecardOutcome, ErrorBody> {
        let started = Instant::now();
        let mut policy = policy_of(&request.policy)?;
        if request.borderline_queue {
            policy.borderline_queue = true;
        }
        let mut cards = Vec::new();
        for f in &request.scorecards {
            cards_of(f, &mut cards);
            if cards.len() > MAX_APP_SCORECARDS {
                return Err(ErrorBody::new(
                    "too_large",
                    format!(
                        "more than {MAX_APP_SCORECARDS} scorecards: evaluate a batch this large with `gavel scorecard eval`, which streams it"
                    ),
                ));
            }
        }
        if cards.is_empty() {
            return Err(ErrorBody::new(
                "invalid",
                "no scorecards: choose JSON or JSON Lines files of scorecards",
            ));
        }
        let now = jiff::Timestamp::now();
        let at = run_time(now);
        let actor = if request.log {
            self.run_actor(actor).await?
        } else {
            None
        };
        let mut summary = BatchSummary::default();
        let mut rows = Vec::with_capacity(cards.len());
        let mut log_lines = Vec::new();
        let mut runs = Vec::new();
        let mut queue = Vec::new();
        let mut invalid = 0;
        for (source, value) in cards {
            let parsed = value.and_then(|v| {
                Scorecard::from_json(&v)
                    .map(|card| {
                        let e = evaluate(&card, &policy, &OverrideInput::default());
                        let record = decision_log_line(&card, &e, now.as_second());
                        let queued = (e.verdict == Verdict::Borderline && policy.borderline_queue)
                            .then(|| {
                                borderline_record(&card, &e, &gavel_trust::rfc3339(now)).to_string()
                            });
                        (e, record, queued)
                    })
                    .map_err(|e| {
                        let name = v
                            .get("workflow_id")
                            .and_then(Value::as_str)
                            .map(|w| format!("scorecard `{w}`: "))
                            .unwrap_or_default();
                        format!("{name}{e}")
                    })
            });
            match parsed {
                Ok((e, record, queued)) => {
                    summary.add(&e);
                    if request.log {
                        runs.push(NewRun {
                            at: at.clone(),
                            actor: actor.clone(),
                            workflow_id: e.workflow_id.clone(),
                            verdict: e.verdict.as_str().to_string(),
                            override_id: None,
                            log_line: record.clone(),
                        });
                        log_lines.push(record);
                    }
                    queue.extend(queued);
                    rows.push(ScorecardRow {
                        source,
                        evaluation: Some(e),
                        error: None,
                    });
                }
                Err(message) => {
                    invalid += 1;
                    rows.push(ScorecardRow {
                        source,
                        evaluation: None,
                        error: Some(message),
                    });
                }
            }
        }
        // The store first: a batch it refuses leaves no log lines behind
        // (the log is appended once the runs are recorded).
        let log_path = if request.log {
            self.record_runs(&runs).await?;
            let path = self.decision_log_path();
            append_lines(&path, &log_lines)?;
            Some(path.display().to_string())
        } else {
            None
        };
        append_lines(&self.borderline_queue_path(), &queue)?;
        Ok(ScorecardOutcome {
            rows,
            summary,
            invalid,
            log_path,
            queued: queue.len(),
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// The borderline queue's records, newest last; lines that do not read
    /// are left out.
    pub fn borderline_queue(&self) -> Result<Vec<BorderlineItem>, ErrorBody> {
        let path = self.borderline_queue_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(ErrorBody::new(
                    "unreadable",
                    format!("cannot read `{}`: {e}", path.display()),
                ));
            }
        };
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }

    /// Recorded runs, newest first.
    pub async fn scorecard_runs(&self, q: RunsQuery) -> Result<Vec<ScorecardRun>, ErrorBody> {
        let blank = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
        Ok(self
            .list_runs(&RunFilter {
                workflow_id: blank(q.workflow_id),
                verdict: blank(q.verdict),
                since: blank(q.since),
                until: blank(q.until),
                limit: q.limit,
                offset: None,
            })
            .await?)
    }

    /// Copies the decision log to `to` (whole or not at all).
    pub fn export_decision_log(&self, to: &str, overwrite: bool) -> Result<String, ErrorBody> {
        let from = self.decision_log_path();
        let text = match std::fs::read_to_string(&from) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ErrorBody::new(
                    "not_found",
                    "the decision log is empty: evaluate scorecards with logging on first",
                ));
            }
            Err(e) => {
                return Err(ErrorBody::new(
                    "unreadable",
                    format!("cannot read `{}`: {e}", from.display()),
                ));
            }
        };
        super::write_text_file(to, &text, overwrite)
    }
}
