//! Input that could not be used: exit 2, a rustc-style message on stderr and,
//! with `--format json`, `{"error": {code, message, file, line, column,
//! pointer}}` on stdout (DESIGN §11.1).

use std::fmt::Write as _;
use std::process::ExitCode;

use gavel_policy::{Diagnostic, LoadError};
use serde::Serialize;

use crate::OutputFormat;

/// Every error code gavel prints, with its exit code and what it means. The
/// README's error table lists exactly these (a test holds it to that), and
/// reporting a code not listed here fails every debug build's tests.
#[rustfmt::skip]
pub const CODES: &[(&str, u8, &str)] = &[
    ("usage", 2, "the command line is wrong: a missing or unknown argument, a bad value"),
    ("unreadable", 2, "a file or standard input cannot be read: missing, no permission, not UTF-8"),
    ("file_too_large", 2, "a file over 16 MiB, refused before it is read"),
    ("line_too_long", 2, "a line of a JSON Lines or CSV input over 1 MiB"),
    ("empty_file", 2, "a bundle or policy file with no document in it"),
    ("syntax_error", 2, "not JSON or YAML (the location says where)"),
    ("invalid_bundle", 2, "a bundle that breaks the schema or a check of its own"),
    ("invalid_request", 2, "a decision request that is not `{agent, action, context, …}`"),
    ("invalid_cases", 2, "a case file that cannot be used, or `gavel test` cases that contradict the bundle"),
    ("invalid_log", 2, "a decision log line that is not a decision"),
    ("invalid_policy", 2, "a governance policy that breaks its schema or has a bad condition"),
    ("invalid_scorecard", 2, "a scorecard field of the wrong type, or statuses that disagree"),
    ("invalid_metrics", 2, "a canary metrics file (`gavel canary check`) with a field of the wrong type, an unknown field, or a count above `total_decisions`"),
    ("invalid_override", 2, "an override that forces a verdict no override may force (a document that is not an override is refused with exit 1: `wrong_payload_type` or `malformed`)"),
    ("invalid_payload", 2, "a payload to sign that is not well formed for its type"),
    ("invalid_key", 2, "a public key document that is not one"),
    ("invalid_secret", 2, "an empty shared secret"),
    ("invalid_passphrase", 2, "a key backup's passphrase that is empty, not UTF-8, or typed differently twice"),
    ("bad_passphrase", 2, "the passphrase does not decrypt the key backup (nothing was changed)"),
    ("invalid_backup", 2, "not a key backup written by `gavel keys backup`, or one whose secret is not the key it names"),
    ("invalid", 2, "input the console cannot act on: an identity without a name, several identities and no `--as`"),
    ("not_found", 2, "no such identity, key or secret"),
    ("symlink_loop", 2, "a scorecard directory whose symbolic links loop"),
    ("store", 2, "the SQLite store in `GAVEL_HOME` cannot be opened or used"),
    ("keychain", 2, "the OS keychain cannot be used (is a Secret Service running and unlocked?)"),
    ("unwritable", 2, "an output file (results, logs, a queue) cannot be written"),
    ("internal", 2, "gavel could not start its runtime; please report it"),
    ("ambiguous_reference", 2, "a `sha256:` prefix that matches several stored versions (the message lists them); give more digits or NAME@VERSION"),
    ("version_exists", 1, "`gavel bundle new` or `import` of a NAME@VERSION already stored (the message names its digest)"),
    ("not_a_draft", 1, "`gavel bundle edit` or `rm` of a version that is no longer a draft; create a new version"),
    ("import_refused", 1, "`gavel bundle import` of a document that does not verify: bad, expired or untrusted signature, digest mismatch (the message gives the reason)"),
    ("refused", 1, "refused: the acting identity lacks the role, or a precondition does not hold"),
    ("not_bound", 2, "`gavel push` or `pull` of a bundle not bound to a registry (`gavel bundle bind NAME REGISTRY`)"),
    ("tag_moved", 1, "`gavel push` of a version whose tag in the registry names another digest: version tags never move"),
    ("registry_refused", 1, "an artifact from the registry that does not verify (untrusted or bad signature, digest mismatch, over its size): nothing was stored"),
    ("registry_unreachable", 2, "the registry cannot be reached (after retries) or a download took too long; nothing local was changed"),
    ("registry_error", 2, "the registry answered with an error"),
    ("registry_unauthorized", 2, "the registry refused the credentials (`gavel registry add … --username`)"),
    ("invalid_config", 2, "an agent configuration with a missing, unknown or wrong key (the key, its line and why)"),
    ("agent_failed", 2, "the agent could not start or stopped: the address is taken, the registry password variable is unset"),
    ("invalid_setting", 2, "an environment setting out of range, or a name that is not an environment name"),
    ("ambiguous_bundle", 2, "`gavel rollback` without `--bundle` in an environment where several bundles are active"),
    ("environment_exists", 1, "`gavel env add` of a name that exists"),
    ("not_submitted", 1, "approving, rejecting or activating a draft: `gavel submit` it first"),
    ("author_cannot_approve", 1, "the author of a version approving or rejecting it"),
    ("not_an_approver", 1, "an identity without the approver role, or whose key is not trusted, approving or rejecting"),
    ("already_decided", 1, "the same key approving or rejecting one digest twice for one environment"),
    ("review_closed", 1, "approving or rejecting a version already rejected, active, rolled back or superseded in that environment"),
    ("comment_required", 1, "a rejection, rollback or incident resolution without at least 10 characters saying why"),
    ("stale_state", 1, "the environment is not in the state the command expected (`--expect-active`, `--expect-canary`, or what it read when it began): another change got there first"),
    ("quorum_not_met", 1, "activating without enough valid approvals (the message says how many more and which did not count)"),
    ("rejected", 1, "activating a version an approver rejected for that environment"),
    ("canary_running", 1, "activating while another canary runs in that environment: promote it or roll it back first"),
    ("already_active", 1, "activating a version that is already active or the canary there"),
    ("no_rollout", 1, "promoting, monitoring or rolling back where nothing is active"),
    ("no_canary", 1, "promoting or monitoring where no canary runs"),
    ("not_ready", 1, "`gavel promote` while a gate is not `pass` or bake time is left (every reason listed)"),
    ("nothing_to_roll_back", 1, "`gavel rollback` of the first version activated in an environment"),
    ("already_resolved", 1, "resolving an incident already resolved"),
    ("package_refused", 1, "`gavel review sign` (or `show`, which exits 1) of a review package that is expired, badly signed, not a review package, or whose digests, names, diff, impact or lint do not match its documents (the message names each)"),
    ("approval_refused", 1, "`gavel review import` of an approval that does not verify against the trust store (the message gives the reason: `bad_signature`, `unknown_key`, `expired`, …), carries more than one signature, or names a digest, version or environment this store does not have"),
];

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
        debug_assert!(
            CODES
                .iter()
                .any(|(code, exit, _)| *code == self.code && *exit == self.exit),
            "error code `{}` with exit {} is not in failure::CODES (and so not in the README)",
            self.code,
            self.exit
        );
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
    /// (a window of it when it is long) with a caret, and the JSON pointer.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let mut source = self.source.as_deref().map(Source::new);
        let file = self.file.as_deref().unwrap_or("<input>");
        for d in &self.diagnostics {
            let _ = writeln!(out, "error: {}", d.message);
            match (d.line, d.column) {
                (Some(line), column) => {
                    let _ = match column {
                        Some(col) => writeln!(out, "  --> {file}:{line}:{col}"),
                        None => writeln!(out, "  --> {file}:{line}"),
                    };
                    if let Some(snippet) = source.as_mut().and_then(|s| s.snippet(line, column)) {
                        snippet.render(&mut out, line);
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

/// The most characters of a source line shown; a longer line is cut to a
/// window around the column, marked `...` where cut (as rustc does).
pub const WINDOW: usize = 120;
/// How many characters of a cut line are shown before the column.
const BEFORE: usize = 40;
/// Lines longer than this many bytes get a sparse index of character
/// offsets, so that a column deep in a one-line file is found without
/// scanning the line again for each diagnostic.
const LONG_LINE: usize = 4096;
/// One mark every this many characters on a long line.
const MARK_EVERY: usize = 256;

/// A source text with its line starts found once (diagnostics ask for lines
/// in any order; scanning the file for each would make many diagnostics on
/// a large file quadratic).
#[derive(Debug)]
pub struct Source<'a> {
    text: &'a str,
    /// Byte offset of each line's start.
    starts: Vec<usize>,
    /// For long lines: the byte offset of every `MARK_EVERY`th character.
    marks: std::collections::HashMap<u32, Vec<usize>>,
}

/// A line as shown: the text (maybe a window of it) and the caret's
/// indentation under the column, when there is a column.
#[derive(Debug, PartialEq, Eq)]
pub struct Snippet {
    pub text: String,
    pub caret: Option<String>,
}

impl Snippet {
    /// ` |`, `N | text`, ` | ^` (the last only with a column).
    pub fn render(&self, out: &mut String, line: u32) {
        let pad = " ".repeat(line.to_string().len());
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{line} | {}", self.text);
        match &self.caret {
            Some(indent) => {
                let _ = writeln!(out, "{pad} | {indent}^");
            }
            None => {
                let _ = writeln!(out, "{pad} |");
            }
        }
    }
}

impl<'a> Source<'a> {
    pub fn new(text: &'a str) -> Source<'a> {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source {
            text,
            starts,
            marks: std::collections::HashMap::new(),
        }
    }

    /// Line `n` (1-based) without its line ending.
    fn line(&self, n: u32) -> Option<&'a str> {
        let i = usize::try_from(n).ok()?.checked_sub(1)?;
        let start = *self.starts.get(i)?;
        let end = self.starts.get(i + 1).map_or(self.text.len(), |e| e - 1);
        let line = self.text.get(start..end)?;
        Some(line.strip_suffix('\r').unwrap_or(line))
    }

    /// The byte offset of character `c` (0-based) of line `n`, or the
    /// line's length when it is shorter.
    fn byte_of_char(&mut self, n: u32, line: &str, c: usize) -> usize {
        let (mut byte, mut skip) = (0, c);
        if line.len() > LONG_LINE {
            let marks = self.marks.entry(n).or_insert_with(|| {
                line.char_indices()
                    .step_by(MARK_EVERY)
                    .map(|(b, _)| b)
                    .collect()
            });
            let k = (c / MARK_EVERY).min(marks.len().saturating_sub(1));
            byte = marks.get(k).copied().unwrap_or(0);
            skip = c - k * MARK_EVERY;
        }
        let rest = line.get(byte..).unwrap_or_default();
        byte + rest.char_indices().nth(skip).map_or(rest.len(), |(b, _)| b)
    }

    /// Line `n` as shown: whole when it has at most [`WINDOW`] characters,
    /// otherwise a window around `column` (1-based, in characters) cut at
    /// character boundaries, with the caret under that character.
    pub fn snippet(&mut self, n: u32, column: Option<u32>) -> Option<Snippet> {
        let line = self.line(n)?;
        let col = column.map(|c| usize::try_from(c.max(1) - 1).unwrap_or(usize::MAX));
        let short = line.len() <= WINDOW || line.chars().nth(WINDOW).is_none();
        let (first, text) = if short {
            (0, line.to_string())
        } else {
            let target = col.unwrap_or(0);
            let mut first = target.saturating_sub(BEFORE);
            let mut start = self.byte_of_char(n, line, first);
            let mut end = self.byte_of_char(n, line, first + WINDOW);
            if end == line.len() {
                // Near the end: show the last WINDOW characters.
                let shown = line.get(start..).map_or(0, |s| s.chars().count());
                if shown < WINDOW {
                    first = first.saturating_sub(WINDOW - shown);
                    start = self.byte_of_char(n, line, first);
                    end = line.len();
                }
            }
            let mut text = String::with_capacity(end - start + 6);
            if start > 0 {
                text.push_str("...");
            }
            text.push_str(line.get(start..end).unwrap_or_default());
            if end < line.len() {
                text.push_str("...");
            }
            (first, text)
        };
        let caret = col.map(|c| {
            // What precedes the caret on screen: the `...` mark, then the
            // shown characters before the column (tabs kept, so it lines up).
            let marked = if first > 0 { 3 } else { 0 };
            let before: String = text
                .chars()
                .skip(marked)
                .take(c.saturating_sub(first))
                .map(|ch| if ch == '\t' { '\t' } else { ' ' })
                .collect();
            let past_end = c
                .saturating_sub(first)
                .saturating_sub(before.chars().count());
            format!(
                "{}{before}{}",
                " ".repeat(marked),
                " ".repeat(past_end.min(1))
            )
        });
        Some(Snippet { text, caret })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's error table lists exactly the codes gavel prints, each
    /// with its exit code (`report` refuses unlisted codes in debug builds).
    #[test]
    fn readme_lists_every_error_code_with_its_exit() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
                .unwrap();
        let section = readme
            .split("### Errors\n")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .unwrap();
        let listed: Vec<(String, u8)> = section
            .lines()
            .filter_map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
                Some((code.to_string(), cells.get(2)?.parse().ok()?))
            })
            .collect();
        let known: Vec<(String, u8)> = CODES.iter().map(|(c, e, _)| (c.to_string(), *e)).collect();
        assert_eq!(listed, known);
    }
}
