//! `gavel lint FILE…`: text like compiler diagnostics, JSON `{passed,
//! summary, errors, warnings, info}`, or SARIF 2.1.0 for code scanning.
//!
//! The report is bounded whatever the input: the linter lists at most
//! `--max-findings` findings per check (and counts the rest), and the report
//! is written as it is serialized, never built as a second tree in memory.

use std::io::Write;
use std::process::ExitCode;

use gavel_policy::{
    CHECKS, Finding, Format, LintConfig, LintReport, Linter, Severity, Summary, check_severity,
    describe_check, parse_document,
};
use serde::{Serialize, Serializer};
use serde_json::{Value, json};

use crate::OutputFormat;
use crate::failure::{Failure, Snippet, Source};
use crate::input::read_text;

/// The most findings `--max-findings` may ask for per check: past it, the
/// report of a bundle of many overlapping rules would outgrow memory
/// (each listed finding takes about a kilobyte).
pub const MAX_FINDINGS_LIMIT: usize = gavel_policy::KEPT_PROBLEMS_PER_CHECK;

/// Parses `--max-findings`: 1 to [`MAX_FINDINGS_LIMIT`].
pub fn parse_max_findings(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of findings"))?;
    if n == 0 {
        return Err(format!(
            "0 would list every finding, and their number grows with the square of the rules (every allow rule against every deny rule), so it is not allowed; give a number from 1 to {MAX_FINDINGS_LIMIT}"
        ));
    }
    if n > MAX_FINDINGS_LIMIT {
        return Err(format!(
            "`{n}` is over {MAX_FINDINGS_LIMIT}, the most findings listed per check; the summary counts every finding either way"
        ));
    }
    Ok(n)
}

/// 0 no error findings, 1 error findings, 2 a file that is not YAML/JSON.
pub fn run(
    files: &[String],
    max_findings: usize,
    format: OutputFormat,
) -> Result<ExitCode, Failure> {
    let config = LintConfig {
        max_findings,
        ..LintConfig::default()
    };
    let mut linter = Linter::new(config);
    // Standard input cannot be read twice: its text is kept for the source
    // lines of text output. Files are read again once findings are known.
    let mut stdin_text = None;
    for file in files {
        let text = read_text(file)?;
        let doc = match parse_document(&text, Format::detect(file, &text)) {
            Ok(doc) => doc,
            Err(e) => return Err(Failure::load(file, Some(text), &e)),
        };
        linter.add(Some(file), &doc);
        drop(doc);
        if file == "-" && format == OutputFormat::Text {
            stdin_text = Some(text);
        }
    }
    let report = linter.finish();
    let passed = report.passed();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = match format {
        OutputFormat::Json => json_report(&mut out, &report),
        OutputFormat::Sarif => serde_json::to_writer(&mut out, &Sarif(&report.findings))
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
        OutputFormat::Text => {
            let snippets = snippets(&report, stdin_text.as_deref());
            text(&mut out, &report, &snippets, files.len())
        }
    }
    .and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(Failure::new(
                "unwritable",
                format!("cannot write the lint report to standard output: {e}"),
            ));
        }
        _ => {}
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[derive(Serialize)]
struct JsonReport<'a> {
    passed: bool,
    summary: &'a Summary,
    errors: Vec<&'a Finding>,
    warnings: Vec<&'a Finding>,
    info: Vec<&'a Finding>,
}

fn json_report(out: &mut impl Write, report: &LintReport) -> std::io::Result<()> {
    let of = |s: Severity| {
        report
            .findings
            .iter()
            .filter(|f| f.severity == s)
            .collect::<Vec<_>>()
    };
    let json = JsonReport {
        passed: report.passed(),
        summary: &report.summary,
        errors: of(Severity::Error),
        warnings: of(Severity::Warning),
        info: of(Severity::Info),
    };
    serde_json::to_writer(&mut *out, &json)?;
    writeln!(out)
}

/// The source lines shown under each finding, by finding: each file with
/// a located finding is read again and indexed once, then dropped, so a
/// lint of many large files holds one file's text at a time rather than
/// all of them. A file that can no longer be read shows no lines.
fn snippets(report: &LintReport, stdin_text: Option<&str>) -> Vec<Option<Snippet>> {
    let mut shown: Vec<Option<Snippet>> = report.findings.iter().map(|_| None).collect();
    let mut by_file: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (i, f) in report.findings.iter().enumerate() {
        if let (Some(file), Some(_)) = (f.file.as_deref(), f.line) {
            by_file.entry(file).or_default().push(i);
        }
    }
    for (file, findings) in by_file {
        let text = match (file, stdin_text) {
            ("-", Some(t)) => std::borrow::Cow::Borrowed(t),
            ("-", None) => continue,
            _ => match read_text(file) {
                Ok(t) => std::borrow::Cow::Owned(t),
                Err(_) => continue,
            },
        };
        let mut source = Source::new(&text);
        for i in findings {
            let Some(f) = report.findings.get(i) else {
                continue;
            };
            if let (Some(line), Some(slot)) = (f.line, shown.get_mut(i)) {
                *slot = source.snippet(line, f.column);
            }
        }
    }
    shown
}

fn text(
    out: &mut impl Write,
    report: &LintReport,
    snippets: &[Option<Snippet>],
    files: usize,
) -> std::io::Result<()> {
    for (i, f) in report.findings.iter().enumerate() {
        let severity = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        writeln!(out, "{severity}[{}]: {}", f.code, f.message)?;
        let file = f.file.as_deref();
        match (file, f.line) {
            (file, Some(line)) => {
                let file = file.unwrap_or("<input>");
                let rule = match (&f.rule_id, f.index) {
                    (Some(id), Some(i)) => format!(" (rule `{id}`, #{i})"),
                    (None, Some(i)) => format!(" (rule #{i})"),
                    _ => String::new(),
                };
                let at = match f.column {
                    Some(col) => format!("{line}:{col}"),
                    None => line.to_string(),
                };
                writeln!(out, "  --> {file}:{at}{rule}")?;
                if let Some(Some(snippet)) = snippets.get(i) {
                    let mut block = String::new();
                    snippet.render(&mut block, line);
                    out.write_all(block.as_bytes())?;
                }
            }
            (Some(file), None) => writeln!(out, "  --> {file}")?,
            (None, None) => {}
        }
        writeln!(out, "   = help: {}", f.suggestion)?;
        if let Some(w) = &f.witness {
            writeln!(out, "   = witness: {w}")?;
        }
        writeln!(out)?;
    }
    let summary = &report.summary;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let left_out = if summary.left_out > 0 {
        format!(
            "; {} not listed (see `analysis-incomplete`)",
            plural(summary.left_out, "finding")
        )
    } else {
        String::new()
    };
    writeln!(
        out,
        "lint {}: {}, {}, {} info in {} ({}){left_out}",
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
    )
}

/// SARIF 2.1.0: one run, the checks as reporting descriptors, a result per
/// listed finding located at the rule's line and column. Results are
/// serialized one at a time.
struct Sarif<'a>(&'a [Finding]);

impl Serialize for Sarif<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Log<'a> {
            #[serde(rename = "$schema")]
            schema: &'static str,
            version: &'static str,
            runs: [Run<'a>; 1],
        }
        #[derive(Serialize)]
        struct Run<'a> {
            tool: Value,
            #[serde(rename = "columnKind")]
            column_kind: &'static str,
            results: Results<'a>,
        }
        let rules: Vec<Value> = CHECKS
            .iter()
            .map(|code| {
                json!({
                    "id": code,
                    "name": code,
                    "shortDescription": {"text": describe_check(code)},
                    "defaultConfiguration": {"level": level(check_severity(code))},
                })
            })
            .collect();
        Log {
            schema: "https://json.schemastore.org/sarif-2.1.0.json",
            version: "2.1.0",
            runs: [Run {
                tool: json!({"driver": {
                    "name": "gavel",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }}),
                column_kind: "unicodeCodePoints",
                results: Results(self.0),
            }],
        }
        .serialize(serializer)
    }
}

struct Results<'a>(&'a [Finding]);

impl Serialize for Results<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(sarif_result))
    }
}

fn sarif_result(f: &Finding) -> Value {
    let mut location = json!({"physicalLocation": {"artifactLocation": {"uri": f.file.clone().unwrap_or_default()}}});
    if let Some(line) = f.line.filter(|l| *l > 0) {
        let mut region = json!({"startLine": line});
        if let Some(col) = f.column.filter(|c| *c > 0) {
            region["startColumn"] = json!(col);
        }
        location["physicalLocation"]["region"] = region;
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
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}
