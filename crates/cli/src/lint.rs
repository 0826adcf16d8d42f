//! `gavel lint FILE…`: text like compiler diagnostics, JSON `{passed,
//! summary, errors, warnings, info}`, or SARIF 2.1.0 for code scanning.

use std::fmt::Write as _;
use std::process::ExitCode;

use gavel_policy::{
    CHECKS, Finding, Format, LintConfig, Severity, Summary, describe_check, lint, parse_document,
};
use serde_json::{Value, json};

use crate::OutputFormat;
use crate::failure::Failure;
use crate::input::read_text;

/// 0 no error findings, 1 error findings, 2 a file that is not YAML/JSON.
pub fn run(files: &[String], format: OutputFormat) -> Result<ExitCode, Failure> {
    let mut summary = Summary::default();
    let mut findings: Vec<Finding> = Vec::new();
    let mut sources: Vec<(String, String)> = Vec::new();
    for file in files {
        let text = read_text(file)?;
        let doc = parse_document(&text, Format::detect(file, &text))
            .map_err(|e| Failure::load(file, Some(text.clone()), &e))?;
        let report = lint(&doc, &LintConfig::default());
        summary.add(&report.summary);
        findings.extend(report.findings.into_iter().map(|mut f| {
            f.file = Some(file.clone());
            f
        }));
        sources.push((file.clone(), text));
    }
    // One list for all files: severity, then check order, then file order.
    let order = |code: &str| {
        CHECKS
            .iter()
            .position(|c| *c == code)
            .unwrap_or(CHECKS.len())
    };
    findings.sort_by_key(|f| (f.severity, order(f.code)));
    let passed = summary.errors == 0;
    match format {
        OutputFormat::Json => {
            let of = |s: Severity| {
                findings
                    .iter()
                    .filter(|f| f.severity == s)
                    .collect::<Vec<_>>()
            };
            let out = json!({
                "passed": passed,
                "summary": summary,
                "errors": of(Severity::Error),
                "warnings": of(Severity::Warning),
                "info": of(Severity::Info),
            });
            println!("{out}");
        }
        OutputFormat::Sarif => println!("{}", sarif(&findings)),
        OutputFormat::Text => print!("{}", text(&findings, &summary, &sources, files.len())),
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn text(
    findings: &[Finding],
    summary: &Summary,
    sources: &[(String, String)],
    files: usize,
) -> String {
    let mut out = String::new();
    for f in findings {
        let severity = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        let _ = writeln!(out, "{severity}[{}]: {}", f.code, f.message);
        let file = f.file.as_deref().unwrap_or("<input>");
        match f.line {
            Some(line) => {
                let rule = match (&f.rule_id, f.index) {
                    (Some(id), Some(i)) => format!(" (rule `{id}`, #{i})"),
                    (None, Some(i)) => format!(" (rule #{i})"),
                    _ => String::new(),
                };
                let _ = writeln!(out, "  --> {file}:{line}{rule}");
                let source = sources
                    .iter()
                    .find(|(name, _)| name == file)
                    .and_then(|(_, text)| text.lines().nth(line.saturating_sub(1) as usize));
                if let Some(src) = source {
                    let pad = " ".repeat(line.to_string().len());
                    let _ = writeln!(out, "{pad} |");
                    let _ = writeln!(out, "{line} | {src}");
                    let _ = writeln!(out, "{pad} |");
                }
            }
            None => {
                let _ = writeln!(out, "  --> {file}");
            }
        }
        let _ = writeln!(out, "   = help: {}", f.suggestion);
        if let Some(w) = &f.witness {
            let _ = writeln!(out, "   = witness: {w}");
        }
        out.push('\n');
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let _ = writeln!(
        out,
        "lint {}: {}, {}, {} info in {} ({})",
        if summary.errors == 0 {
            "passed"
        } else {
            "failed"
        },
        plural(summary.errors, "error"),
        plural(summary.warnings, "warning"),
        summary.info,
        plural(files, "file"),
        plural(summary.total_rules, "rule"),
    );
    out
}

/// SARIF 2.1.0: one run, the checks as reporting descriptors, a result per
/// finding located at the rule's line.
fn sarif(findings: &[Finding]) -> Value {
    let rules: Vec<Value> = CHECKS
        .iter()
        .map(|code| {
            json!({
                "id": code,
                "name": code,
                "shortDescription": {"text": describe_check(code)},
                "defaultConfiguration": {"level": level(default_severity(code))},
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let mut location = json!({"physicalLocation": {"artifactLocation": {"uri": f.file.clone().unwrap_or_default()}}});
            if let Some(line) = f.line.filter(|l| *l > 0) {
                location["physicalLocation"]["region"] = json!({"startLine": line});
            }
            if let Some(id) = &f.rule_id {
                location["logicalLocations"] = json!([{"name": id, "kind": "member"}]);
            }
            let mut result = json!({
                "ruleId": f.code,
                "ruleIndex": CHECKS.iter().position(|c| *c == f.code).unwrap_or(0),
                "level": level(f.severity),
                "message": {"text": format!("{} ({})", f.message, f.suggestion)},
                "locations": [location],
                "properties": {"rule_id": f.rule_id, "index": f.index, "related_rules": f.related_rules},
            });
            if let Some(w) = &f.witness {
                result["properties"]["witness"] = w.clone();
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "gavel",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

fn default_severity(code: &str) -> Severity {
    match code {
        "short-reason"
        | "suspicious-operator"
        | "unsatisfiable"
        | "conflict"
        | "unreachable"
        | "missing-budget"
        | "high-cost" => Severity::Warning,
        "disabled" | "analysis-incomplete" => Severity::Info,
        _ => Severity::Error,
    }
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}
