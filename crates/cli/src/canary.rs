//! `gavel canary check --metrics FILE [--min-samples N]`: reads a canary's
//! metrics, runs `gavel_governance::canary::check`, prints one line per
//! gate (or the report as JSON) and exits 0 when every gate is `pass` or
//! `skipped`, 1 when any is `fail` or `inconclusive`, 2 when the metrics
//! cannot be used (DESIGN §11.1, §11.8).
//!
//! The file goes through Gavel's own JSON parser, which refuses a key given
//! twice (two `deny_count`s would otherwise let the last one win) and keeps
//! every value's line and column, so a bad field is shown where it is.

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::Subcommand;
use gavel_governance::canary::{
    DEFAULT_MIN_SAMPLES, Gate, GateConfig, GateReport, GateState, Metrics, MetricsError, check,
};
use gavel_policy::{Format, Node};

use crate::OutputFormat;
use crate::failure::Failure;
use crate::input::read_text;

#[derive(Debug, Clone, Subcommand)]
pub enum CanaryCommand {
    /// Judge a canary's metrics: samples, error rate, deny rate, cost increase, and against the stable version.
    ///
    /// Exit 0 when every gate passes or is skipped, 1 when any fails or is
    /// inconclusive, 2 when the metrics cannot be used.
    #[command(after_help = crate::examples::CANARY_CHECK)]
    Check {
        /// Metrics file (JSON), or `-` for standard input.
        #[arg(long, value_name = "FILE")]
        metrics: String,
        /// Decisions each side needs before its gates can pass (the environment's `min_samples`).
        #[arg(long, value_name = "N", default_value_t = DEFAULT_MIN_SAMPLES,
              value_parser = clap::value_parser!(u64).range(1..))]
        min_samples: u64,
    },
}

pub fn run(cmd: &CanaryCommand, format: OutputFormat) -> Result<ExitCode, Failure> {
    match cmd {
        CanaryCommand::Check {
            metrics,
            min_samples,
        } => {
            let m = load_metrics(metrics)?;
            let report = check(
                &m,
                &GateConfig {
                    min_samples: *min_samples,
                },
            );
            match format {
                OutputFormat::Json => println!(
                    "{}",
                    serde_json::to_string(&report).map_err(|e| Failure::new(
                        "internal",
                        format!("cannot print the report: {e}")
                    ))?
                ),
                _ => print!("{}", text(&report)),
            }
            Ok(if report.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// Reads and checks a metrics file: `syntax_error` or `empty_file` when it
/// is not JSON, `invalid_metrics` at the offending field otherwise.
pub(crate) fn load_metrics(path: &str) -> Result<Metrics, Failure> {
    let text = read_text(path)?;
    if text.trim().is_empty() {
        return Err(Failure::new(
            "empty_file",
            "the metrics file is empty: write the canary's counts and costs as a JSON object",
        )
        .in_file(path));
    }
    let doc = gavel_policy::parse_document(&text, Format::Json)
        .map_err(|e| Failure::load(path, Some(text.clone()), &e))?;
    Metrics::from_json(&doc.to_json()).map_err(|e| invalid(path, text, &doc, &e))
}

fn invalid(path: &str, text: String, doc: &Node, e: &MetricsError) -> Failure {
    let pointer = e.pointer();
    // An unknown field or a bad cost is its key: point at the key itself.
    let key = e
        .at_key()
        .then(|| {
            let (parent, last) = pointer.rsplit_once('/')?;
            let last = last.replace("~1", "/").replace("~0", "~");
            doc.pointer(parent)?.get_key(&last).map(|k| k.location)
        })
        .flatten();
    let at = key.unwrap_or_else(|| doc.locate(&pointer));
    let mut f = Failure::new("invalid_metrics", e.to_string()).in_file(path);
    if let Some(d) = f.diagnostics.first_mut() {
        d.pointer = Some(pointer);
        d.line = Some(at.line);
        d.column = Some(at.column);
    }
    f.source = Some(text);
    f
}

/// A gate's value against its threshold, in the gate's unit.
fn measure(g: &Gate) -> String {
    let show = |v: Option<f64>| match (g.name, v) {
        (_, None) => "-".to_string(),
        ("samples", Some(v)) => format!("{v}"),
        ("vs_stable", Some(v)) if v < 0.0001 => "p<0.0001".to_string(),
        ("vs_stable", Some(v)) => format!("p={v:.4}"),
        (_, Some(v)) => format!("{:.2}%", v * 100.0),
    };
    match (g.value, g.threshold) {
        (None, None) => "-".to_string(),
        (value, Some(t)) if g.name == "vs_stable" => format!("{} vs {t}", show(value)),
        (value, threshold) => format!("{} vs {}", show(value), show(threshold)),
    }
}

/// One line per gate (state, name, value vs threshold, message), then the
/// verdict.
fn text(r: &GateReport) -> String {
    let mut out = String::new();
    for g in &r.gates {
        let _ = writeln!(
            out,
            "{:<12}  {:<13}  {:<18}  {}",
            g.state.as_str(),
            g.name,
            measure(g),
            g.message
        );
    }
    let count = |s: GateState| r.gates.iter().filter(|g| g.state == s).count();
    if r.passed {
        let _ = writeln!(out, "passed: every gate passed or was skipped");
    } else {
        let _ = writeln!(
            out,
            "not passed: {} failed, {} inconclusive; hold the canary and tell a person",
            count(GateState::Fail),
            count(GateState::Inconclusive)
        );
    }
    out
}
