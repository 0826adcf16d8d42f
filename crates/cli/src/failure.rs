//! Input that could not be used: exit 2, a rustc-style message on stderr and,
//! with `--format json`, `{"error": {code, message, file, line, column,
//! pointer}}` on stdout (DESIGN §11.1).

use std::fmt::Write as _;
use std::process::ExitCode;

use gavel_policy::{Diagnostic, LoadError};
use serde::Serialize;

use crate::OutputFormat;

/// Why a command could not use its input.
#[derive(Debug)]
pub struct Failure {
    pub code: &'static str,
    pub file: Option<String>,
    /// Source text, to show the offending line.
    pub source: Option<String>,
    pub diagnostics: Vec<Diagnostic>,
    /// The exit code: 2 (input not usable) unless a refusal says 1.
    pub exit: u8,
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pointer: Option<&'a str>,
    /// Every problem found, when there are several.
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [Diagnostic]>,
}

impl Failure {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Failure {
            code,
            file: None,
            source: None,
            exit: 2,
            diagnostics: vec![Diagnostic {
                message: message.into(),
                pointer: None,
                line: None,
                column: None,
            }],
        }
    }

    pub fn usage(message: &str) -> Self {
        Failure::new("usage", message)
    }

    pub fn in_file(mut self, file: &str) -> Self {
        self.file = Some(file.to_string());
        self
    }

    /// A bundle that could not be loaded, with its text for context lines.
    pub fn load(file: &str, source: Option<String>, error: &LoadError) -> Self {
        Failure {
            code: error.code(),
            file: Some(file.to_string()),
            source,
            exit: 2,
            diagnostics: error.diagnostics(),
        }
    }

    /// Prints the failure and returns its exit code (2 unless set).
    pub fn report(&self, format: OutputFormat) -> ExitCode {
        eprint!("{}", self.render_text());
        if format == OutputFormat::Json {
            let first = self.diagnostics.first();
            let message = first.map_or("", |d| d.message.as_str());
            let json = serde_json::json!({
                "error": ErrorJson {
                    code: self.code,
                    message,
                    file: self.file.as_deref(),
                    line: first.and_then(|d| d.line),
                    column: first.and_then(|d| d.column),
                    pointer: first.and_then(|d| d.pointer.as_deref()),
                    errors: (self.diagnostics.len() > 1).then_some(self.diagnostics.as_slice()),
                }
            });
            println!("{json}");
        }
        ExitCode::from(self.exit)
    }

    /// rustc-style: `error: message`, ` --> file:line:col`, the source line
    /// with a caret, and the JSON pointer.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for d in &self.diagnostics {
            let _ = writeln!(out, "error: {}", d.message);
            let file = self.file.as_deref().unwrap_or("<input>");
            match (d.line, d.column) {
                (Some(line), Some(col)) => {
                    let _ = writeln!(out, "  --> {file}:{line}:{col}");
                    let text = self
                        .source
                        .as_deref()
                        .and_then(|s| s.lines().nth(line.saturating_sub(1) as usize));
                    if let Some(text) = text {
                        let width = line.to_string().len();
                        let pad = " ".repeat(width);
                        let caret = " ".repeat(col.saturating_sub(1) as usize);
                        let _ = writeln!(out, "{pad} |");
                        let _ = writeln!(out, "{line} | {text}");
                        let _ = writeln!(out, "{pad} | {caret}^");
                    }
                }
                _ if self.file.is_some() => {
                    let _ = writeln!(out, "  --> {file}");
                }
                _ => {}
            }
            if let Some(p) = d.pointer.as_deref().filter(|p| !p.is_empty()) {
                let _ = writeln!(out, "   = at {p}");
            }
        }
        out
    }
}
