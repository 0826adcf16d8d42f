//! The commands: parse arguments → call the library → print → exit code.

use std::process::ExitCode;

use gavel_policy::{Decision, Diagnostic, Engine, Request};

use crate::OutputFormat;
use crate::failure::Failure;
use crate::input::{load_bundle, read_text};

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
/// current time.
pub fn decide(bundle: &str, request: &str, format: OutputFormat) -> Result<ExitCode, Failure> {
    let engine = Engine::compile(&load_bundle(bundle)?);
    let text = read_text(request)?;
    let mut req: Request<'_> =
        serde_json::from_str(&text).map_err(|e| request_error(request, &text, &e))?;
    if req.timestamp.is_none() {
        req.timestamp = Some(jiff::Timestamp::now());
    }
    let decision = engine.decide(&req);
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string(&decision).unwrap_or_default()),
        OutputFormat::Text | OutputFormat::Sarif => print!("{}", render_decision(&decision)),
    }
    Ok(ExitCode::SUCCESS)
}

fn request_error(file: &str, text: &str, e: &serde_json::Error) -> Failure {
    let message = e.to_string();
    // serde_json appends " at line L column C"; the location is reported apart.
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_string();
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
