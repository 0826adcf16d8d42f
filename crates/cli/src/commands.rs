//! The commands: parse arguments → call the library → print → exit code.

use std::process::ExitCode;

use std::io::Write as _;

use gavel_policy::{Decision, Diagnostic, Engine, Request, Step};

use crate::OutputFormat;
use crate::failure::Failure;
use crate::input::{for_each_line, load_bundle, read_text};

/// `gavel validate FILE`: 0 valid, 2 invalid or unreadable.
pub fn validate(file: &str, format: OutputFormat) -> Result<ExitCode, Failure> {
    let bundle = load_bundle(file)?;
    let enabled = bundle.rules.iter().filter(|r| r.enabled).count();
    match format {
        OutputFormat::Json => {
            let out = serde_json::json!({
                "valid": true,
                "file": file,
                "name": bundle.metadata.name,
                "version": bundle.metadata.version,
                "rules": bundle.rules.len(),
                "enabled_rules": enabled,
            });
            println!("{out}");
        }
        OutputFormat::Text | OutputFormat::Sarif => {
            let name = match (&bundle.metadata.name, &bundle.metadata.version) {
                (Some(n), Some(v)) => format!("bundle `{n}` {v}"),
                (Some(n), None) => format!("bundle `{n}`"),
                _ if bundle.bare_list => "rule list".to_string(),
                _ => "bundle".to_string(),
            };
            println!(
                "{file}: valid {name}, {} rule{} ({enabled} enabled)",
                bundle.rules.len(),
                if bundle.rules.len() == 1 { "" } else { "s" }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `gavel decide --bundle FILE --request FILE|-`: 0 for any decision, 2 for a
/// bad bundle or request. A request without a timestamp is decided at the
/// current time. `--explain` adds every rule tried and why it did not match.
pub fn decide(
    bundle: &str,
    request: &str,
    explain: bool,
    format: OutputFormat,
) -> Result<ExitCode, Failure> {
    let engine = Engine::compile(&load_bundle(bundle)?);
    let text = read_text(request)?;
    let mut req: Request<'_> =
        serde_json::from_str(&text).map_err(|e| request_error(request, &text, &e))?;
    if req.timestamp.is_none() {
        req.timestamp = Some(jiff::Timestamp::now());
    }
    let out = &mut std::io::stdout().lock();
    if explain {
        let e = engine.explain(&req);
        match format {
            OutputFormat::Json => {
                let mut v = serde_json::to_value(&e.decision).unwrap_or_default();
                v["explain"] = serde_json::to_value(&e.steps).unwrap_or_default();
                writeln!(out, "{v}")
            }
            _ => write!(
                out,
                "{}{}",
                render_decision(&e.decision),
                render_steps(&e.steps)
            ),
        }
    } else {
        let decision = engine.decide(&req);
        match format {
            OutputFormat::Json => writeln!(
                out,
                "{}",
                serde_json::to_string(&decision).unwrap_or_default()
            ),
            _ => write!(out, "{}", render_decision(&decision)),
        }
    }
    .map_err(write_failure)?;
    Ok(ExitCode::SUCCESS)
}

/// `gavel decide --bundle FILE --requests FILE|-`: one request a line (JSON
/// Lines), one decision a line, streamed. A line that is not a request gets
/// an error in its place and the run goes on; the exit code is then 2.
pub fn decide_batch(
    bundle: &str,
    requests: &str,
    explain: bool,
    format: OutputFormat,
) -> Result<ExitCode, Failure> {
    let engine = Engine::compile(&load_bundle(bundle)?);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let (mut decided, mut refused) = (0usize, 0usize);
    for_each_line(requests, |line, text| {
        if text.trim().is_empty() {
            return Ok(());
        }
        let written = match Request::from_json(text) {
            Ok(mut req) => {
                decided += 1;
                if req.timestamp.is_none() {
                    req.timestamp = Some(jiff::Timestamp::now());
                }
                let (decision, steps) = if explain {
                    let e = engine.explain(&req);
                    (e.decision, Some(e.steps))
                } else {
                    (engine.decide(&req), None)
                };
                match format {
                    OutputFormat::Json => {
                        let mut v = serde_json::to_value(&decision).unwrap_or_default();
                        v["line"] = line.into();
                        if let Some(id) = &req.request_id {
                            v["request_id"] = id.as_ref().into();
                        }
                        if let Some(steps) = &steps {
                            v["explain"] = serde_json::to_value(steps).unwrap_or_default();
                        }
                        writeln!(out, "{v}")
                    }
                    _ => {
                        let by = decision
                            .rule_id()
                            .map_or("no rule matched".to_string(), |r| format!("rule `{r}`"));
                        let id = req
                            .request_id
                            .as_deref()
                            .map(|id| format!(" ({id})"))
                            .unwrap_or_default();
                        writeln!(out, "{line}{id}: {} by {by}", decision.effect).and_then(|()| {
                            match &steps {
                                Some(steps) => write!(out, "{}", render_steps(steps)),
                                None => Ok(()),
                            }
                        })
                    }
                }
            }
            Err(e) => {
                refused += 1;
                let message = format!("invalid request: {}", serde_message(&e));
                // The line is one request: serde's column is within it.
                let column = Some(e.column()).filter(|&c| c > 0);
                let at = column.map_or(line.to_string(), |c| format!("{line}:{c}"));
                eprintln!("error: {requests}:{at}: {message}");
                match format {
                    OutputFormat::Json => {
                        let mut error = serde_json::json!({
                            "code": if e.is_syntax() || e.is_eof() { "syntax_error" } else { "invalid_request" },
                            "message": message,
                        });
                        if let Some(c) = column {
                            error["column"] = c.into();
                        }
                        writeln!(out, "{}", serde_json::json!({"line": line, "error": error}))
                    }
                    _ => writeln!(out, "{at}: error: {message}"),
                }
            }
        };
        written.map_err(write_failure)
    })?;
    out.flush().map_err(write_failure)?;
    if refused > 0 {
        eprintln!(
            "{refused} of {} line{} could not be used as a request",
            decided + refused,
            if decided + refused == 1 { "" } else { "s" }
        );
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

fn write_failure(e: std::io::Error) -> Failure {
    Failure::new("unwritable", format!("cannot write the output: {e}"))
}

/// serde_json's message without the " at line L column C" it appends (the
/// location is reported apart).
fn serde_message(e: &serde_json::Error) -> String {
    let message = e.to_string();
    message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_string()
}

fn request_error(file: &str, text: &str, e: &serde_json::Error) -> Failure {
    let message = serde_message(e);
    let code = if e.is_syntax() || e.is_eof() {
        "syntax_error"
    } else {
        "invalid_request"
    };
    let mut failure = Failure::new(code, format!("invalid request: {message}")).in_file(file);
    failure.source = Some(text.to_string());
    if let Some(d) = failure.diagnostics.first_mut() {
        *d = Diagnostic {
            line: u32::try_from(e.line()).ok().filter(|&l| l > 0),
            column: u32::try_from(e.column()).ok().filter(|&c| c > 0),
            ..d.clone()
        };
    }
    failure
}

fn render_decision(d: &Decision<'_>) -> String {
    let mut out = match d.rule_id() {
        Some(id) => format!("{} by rule `{id}`\n", d.effect),
        None => format!("{} (no rule matched: the bundle's default)\n", d.effect),
    };
    out.push_str(&format!("reason: {}\n", d.reason()));
    if let Some(b) = d.budget() {
        let mut parts = Vec::new();
        if let Some(c) = b.cost {
            parts.push(format!("cost ${c:.2}"));
        }
        if let Some(c) = b.compute {
            parts.push(format!("compute {c}"));
        }
        if let Some(r) = b.risk {
            parts.push(format!(
                "risk {}",
                serde_json::to_value(r)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            ));
        }
        out.push_str(&format!("budget: {}\n", parts.join(", ")));
    }
    if let Some(n) = d.approvals_required() {
        out.push_str(&format!("approvals required: {n}\n"));
    }
    for e in &d.errors {
        out.push_str(&format!("evaluation error in rule `{}`: {e}\n", e.rule_id));
    }
    out
}

/// The rules `--explain` lists: each tried rule, and why it did not decide.
fn render_steps(steps: &[Step<'_>]) -> String {
    let mut out = format!("rules tried, in order ({}):\n", steps.len());
    if steps.is_empty() {
        out.push_str("  none: no enabled rule is for this agent and action\n");
    }
    for s in steps {
        let what = match &s.message {
            None => "matched".to_string(),
            Some(m) => format!("no: {m}"),
        };
        out.push_str(&format!(
            "  {} `{}` (#{}, priority {}, {}): {what}\n",
            if s.matched { "✓" } else { "✗" },
            s.rule_id,
            s.index,
            s.priority,
            s.effect
        ));
    }
    out
}
