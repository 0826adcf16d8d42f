//! `gavel review pack|show|sign|import`: offline review (issue 20), thin
//! over `gavel-console`'s review use cases. A package goes from the
//! console to a reviewer's machine, an approval envelope comes back.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use gavel_console::{Decision, ReviewError, ReviewReport};
use serde_json::{Value, json};

use crate::OutputFormat;
use crate::failure::Failure;
use crate::input::read_text;
use crate::keys::{console, duration, runtime};
use crate::lifecycle::lfail;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DecisionArg {
    Approve,
    Reject,
}

impl From<DecisionArg> for Decision {
    fn from(d: DecisionArg) -> Self {
        match d {
            DecisionArg::Approve => Decision::Approve,
            DecisionArg::Reject => Decision::Reject,
        }
    }
}

#[derive(Debug, Clone, Subcommand)]
pub enum ReviewCommand {
    /// Sign a review package (review.v1) of a submitted version for an environment: both documents, their diff, impact, lint and the approvals so far.
    #[command(after_help = crate::examples::REVIEW_PACK)]
    Pack {
        /// NAME@VERSION or sha256:<8+ hex digits>.
        reference: String,
        #[arg(long)]
        env: String,
        /// Write the package to FILE instead of standard output (a FILE already there is replaced once the package is made).
        #[arg(long, value_name = "FILE")]
        out: Option<String>,
        /// Validity with a unit: `30m`, `12h`, `7d`, `2w` (default 14d).
        #[arg(long)]
        expires_in: Option<String>,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
    /// Print a review package and whether it verifies and holds together (exit 1 when `review sign` would refuse it).
    #[command(after_help = crate::examples::REVIEW_SHOW)]
    Show {
        /// A package written by `gavel review pack`.
        file: String,
    },
    /// Approve or reject a review package offline: checked and recomputed first, then your approval.v1 envelope written to --out.
    #[command(after_help = crate::examples::REVIEW_SIGN)]
    Sign {
        /// A package written by `gavel review pack`.
        file: String,
        #[arg(long, value_enum)]
        decision: DecisionArg,
        /// Why (a rejection needs at least 10 characters).
        #[arg(long)]
        comment: String,
        /// Where to write the approval envelope (a FILE already there is replaced once it is signed).
        #[arg(long, value_name = "FILE")]
        out: String,
        /// Validity with a unit: `30m`, `12h`, `7d`, `2w` (default 30d).
        #[arg(long)]
        expires_in: Option<String>,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
    /// Record an approval signed offline with `review sign`, checked against the trust store and the environment first.
    #[command(after_help = crate::examples::REVIEW_IMPORT)]
    Import {
        /// An approval envelope written by `gavel review sign`.
        file: String,
    },
}

/// A review error as printed: its own code and exit (1 for a refusal), a
/// lifecycle error as the lifecycle commands print it.
fn rfail(e: ReviewError) -> Failure {
    match e {
        ReviewError::Lifecycle(l) => lfail(l),
        other => {
            let mut f = Failure::new(other.code().unwrap_or("refused"), other.to_string());
            f.exit = if other.is_refusal() { 1 } else { 2 };
            f
        }
    }
}

fn print_json(v: &impl serde::Serialize) {
    println!("{}", serde_json::to_string(v).unwrap_or_default());
}

/// A signed document read from `path`: exit 2 when it is not JSON.
fn read_json(path: &str) -> Result<Value, Failure> {
    let text = read_text(path)?;
    serde_json::from_str(&text).map_err(|e| {
        Failure::new(
            "syntax_error",
            format!("not JSON: {e}; give the file `gavel review` wrote"),
        )
        .in_file(path)
    })
}

fn unwritable(path: &str, why: impl std::fmt::Display) -> Failure {
    Failure::new("unwritable", format!("cannot write `{path}`: {why}")).in_file(path)
}

/// An output file written whole or not at all: a temporary file beside it
/// is made first (an unwritable place is found before anything is signed
/// or recorded) and renamed over it once the command has succeeded; a
/// command that fails leaves whatever was there as it was.
struct Output {
    path: String,
    tmp: PathBuf,
    file: Option<std::fs::File>,
}

impl Output {
    fn create(path: &str) -> Result<Output, Failure> {
        let target = Path::new(path);
        if target.is_dir() {
            return Err(unwritable(path, "it is a directory; give a file name"));
        }
        let name = target
            .file_name()
            .ok_or_else(|| unwritable(path, "it names no file"))?;
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let tmp = dir.join(format!(
            ".{}.gavel-{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| unwritable(path, e))?;
        Ok(Output {
            path: path.to_string(),
            tmp,
            file: Some(file),
        })
    }

    fn commit(mut self, text: &str) -> Result<(), Failure> {
        let mut file = self
            .file
            .take()
            .ok_or_else(|| unwritable(&self.path, "already written"))?;
        writeln!(file, "{text}")
            .and_then(|()| file.sync_all())
            .map_err(|e| unwritable(&self.path, e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(|e| unwritable(&self.path, e))
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        // Not committed, or the rename failed: no temporary file is left.
        let _ = std::fs::remove_file(&self.tmp);
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn short(digest: &str) -> &str {
    digest.get(..19).unwrap_or(digest)
}

/// `gavel review …`: 0 done; 1 refused (a draft or a version closed for
/// review, a package that does not verify or does not match its
/// documents, an approval that does not verify or is stale, the author,
/// a second decision) or, for `show`, a package `sign` would refuse; 2 bad
/// input (unreadable, not JSON, an unknown environment or reference).
pub fn review(cmd: ReviewCommand, format: OutputFormat) -> Result<ExitCode, Failure> {
    let rt = runtime()?;
    rt.block_on(async {
        match cmd {
            ReviewCommand::Pack {
                reference,
                env,
                out,
                expires_in,
                actor,
            } => {
                let validity = expires_in.as_deref().map(duration).transpose()?;
                let sink = out.as_deref().map(Output::create).transpose()?;
                let c = console().await?;
                let made = c
                    .pack_review(&reference, &env, validity, actor.as_deref())
                    .await
                    .map_err(rfail)?;
                match (sink, &out) {
                    (Some(sink), Some(path)) => {
                        sink.commit(&pretty(&made.envelope))?;
                        match format {
                            OutputFormat::Json => print_json(&json!({
                                "reference": made.reference,
                                "digest": made.digest,
                                "environment": made.environment,
                                "base_digest": made.base_digest,
                                "keyid": made.keyid,
                                "approvals": made.approvals,
                                "expires_at": made.expires_at,
                                "out": path,
                            })),
                            _ => {
                                println!(
                                    "packed {} ({}) for {} against {}, with {} approval{} so far; signed by {}, expires {}; wrote `{path}`",
                                    made.reference,
                                    short(&made.digest),
                                    made.environment,
                                    made.base_digest.as_deref().map_or("nothing active", short),
                                    made.approvals,
                                    if made.approvals == 1 { "" } else { "s" },
                                    made.keyid,
                                    made.expires_at
                                );
                                println!(
                                    "a reviewer runs `gavel review sign {path} --decision approve|reject --comment TEXT --out APPROVAL` and sends APPROVAL back for `gavel review import`"
                                );
                            }
                        }
                    }
                    _ => match format {
                        OutputFormat::Json => print_json(&made.envelope),
                        _ => println!("{}", pretty(&made.envelope)),
                    },
                }
                Ok(ExitCode::SUCCESS)
            }
            ReviewCommand::Show { file } => {
                let doc = read_json(&file)?;
                let c = console().await?;
                let report = c
                    .show_review(&doc)
                    .await
                    .map_err(|e| rfail(e).in_file(&file))?;
                match format {
                    OutputFormat::Json => print_json(&report),
                    _ => print!("{}", show_text(&report, &file)),
                }
                Ok(if report.valid {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                })
            }
            ReviewCommand::Sign {
                file,
                decision,
                comment,
                out,
                expires_in,
                actor,
            } => {
                let validity = expires_in.as_deref().map(duration).transpose()?;
                let doc = read_json(&file)?;
                let sink = Output::create(&out)?;
                let c = console().await?;
                let signed = c
                    .sign_review(
                        &doc,
                        decision.into(),
                        &comment,
                        validity,
                        actor.as_deref(),
                    )
                    .await
                    .map_err(|e| rfail(e).in_file(&file))?;
                sink.commit(&pretty(&signed.envelope))?;
                match format {
                    OutputFormat::Json => print_json(&json!({
                        "reference": signed.reference,
                        "digest": signed.digest,
                        "base_digest": signed.base_digest,
                        "environment": signed.environment,
                        "decision": signed.decision,
                        "approver": signed.approver,
                        "keyid": signed.keyid,
                        "comment": signed.comment,
                        "expires_at": signed.expires_at,
                        "package": signed.package,
                        "out": out,
                    })),
                    _ => {
                        println!(
                            "{} {} ({}) for {} as {} (key {}), valid until {}; wrote `{out}`",
                            match signed.decision {
                                Decision::Approve => "approved",
                                Decision::Reject => "rejected",
                            },
                            signed.reference,
                            short(&signed.digest),
                            signed.environment,
                            signed.approver,
                            signed.keyid,
                            signed.expires_at
                        );
                        println!("package signature: {}", signature_text(&signed.package));
                        println!(
                            "send `{out}` to the console, where `gavel review import {out}` records it"
                        );
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            ReviewCommand::Import { file } => {
                let doc = read_json(&file)?;
                let c = console().await?;
                let r = c
                    .import_review(&doc)
                    .await
                    .map_err(|e| rfail(e).in_file(&file))?;
                match format {
                    OutputFormat::Json => print_json(&r),
                    _ => {
                        println!(
                            "imported the {} of {} for {} by {} (key {}), valid until {}",
                            match r.decision {
                                Decision::Approve => "approval",
                                Decision::Reject => "rejection",
                            },
                            r.reference,
                            r.environment,
                            r.approver,
                            r.keyid,
                            r.expires_at
                        );
                        println!(
                            "state in {}: {}; {} of {} approvals",
                            r.environment,
                            r.state.as_str(),
                            r.approvals,
                            r.required
                        );
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

fn signature_text(s: &gavel_console::PackageSignature) -> String {
    match s.status {
        "verified" => format!(
            "verified, signed by {}",
            s.signers
                .iter()
                .map(|x| format!("{} ({})", x.name, x.keyid))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "unknown_signer" => format!(
            "unknown signer (key {} is not in this trust store); not needed here: an approval binds the digests, and the console checks them",
            s.keyids.join(", ")
        ),
        _ => format!("INVALID: {}", s.message),
    }
}

/// `n` of an object's field, for the text output.
fn num(v: &Value, k: &str) -> String {
    v.get(k).map_or_else(|| "?".into(), ToString::to_string)
}

/// A value of a diff as `gavel diff` prints it: compact JSON.
fn shown(v: &Value, k: &str) -> String {
    v.get(k).map_or_else(|| "null".into(), ToString::to_string)
}

fn text_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn show_text(r: &ReviewReport, file: &str) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "review of {}@{} for {} (author {})",
        r.bundle, r.proposed.version, r.environment, r.author
    );
    let _ = writeln!(
        o,
        "  proposed  {}  {}",
        r.proposed.version, r.proposed.digest
    );
    match &r.base {
        Some(b) => {
            let _ = writeln!(o, "  base      {}  {}", b.version, b.digest);
        }
        None => {
            let _ = writeln!(
                o,
                "  base      none (nothing active in {}; diffed against an empty bundle)",
                r.environment
            );
        }
    }
    let list = |k: &str| {
        r.diff
            .get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let _ = writeln!(
        o,
        "diff: {} added, {} removed, {} modified, {} unchanged; class {}, bump {}, suggested version {}",
        list("added").len(),
        list("removed").len(),
        list("modified").len(),
        num(&r.diff, "unchanged"),
        text_of(&r.diff, "class"),
        text_of(&r.diff, "bump"),
        text_of(&r.diff, "suggested_version")
    );
    for a in list("added") {
        let _ = writeln!(
            o,
            "  + added    {} ({}, {})",
            text_of(&a, "id"),
            text_of(&a, "effect"),
            text_of(&a, "class")
        );
    }
    for a in list("removed") {
        let _ = writeln!(
            o,
            "  - removed  {} ({}, {})",
            text_of(&a, "id"),
            text_of(&a, "effect"),
            text_of(&a, "class")
        );
    }
    for m in list("modified") {
        let _ = writeln!(
            o,
            "  ~ modified {} ({})",
            text_of(&m, "id"),
            text_of(&m, "class")
        );
        for c in m
            .get("changes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            let _ = writeln!(
                o,
                "      {}: {} -> {}",
                text_of(&c, "field"),
                shown(&c, "before"),
                shown(&c, "after")
            );
        }
    }
    for m in list("metadata_changes") {
        let _ = writeln!(
            o,
            "  ~ metadata.{}: {} -> {} ({})",
            text_of(&m, "field"),
            shown(&m, "before"),
            shown(&m, "after"),
            text_of(&m, "class")
        );
    }
    let s = &r.simulation;
    let _ = writeln!(
        o,
        "impact over {} cases (seed {}): {} allow->deny, {} deny->allow, {} other",
        num(s, "cases"),
        num(s, "seed"),
        num(s, "allow_to_deny"),
        num(s, "deny_to_allow"),
        num(s, "other")
    );
    let _ = writeln!(
        o,
        "lint: {} errors, {} warnings, {} info over {} rules",
        num(&r.lint, "errors"),
        num(&r.lint, "warnings"),
        num(&r.lint, "info"),
        num(&r.lint, "total_rules")
    );
    if let Some(gates) = r.gates.as_ref().and_then(Value::as_array) {
        let _ = writeln!(o, "last canary gates:");
        for g in gates {
            let _ = writeln!(
                o,
                "  {:<13} {:<12} {}",
                text_of(g, "name"),
                text_of(g, "state"),
                text_of(g, "message")
            );
        }
    }
    let _ = writeln!(o, "approvals so far: {}", r.approvals.len());
    for a in &r.approvals {
        let _ = writeln!(
            o,
            "  {} {} (key {}), until {}{}: {}",
            a.approver,
            a.decision,
            a.keyid,
            a.expires_at,
            if a.comment.is_empty() {
                String::new()
            } else {
                format!(", \"{}\"", a.comment)
            },
            if a.verified {
                "verified here".to_string()
            } else {
                format!("not verified here ({})", a.message)
            }
        );
    }
    let _ = writeln!(o, "issued {}, expires {}", r.issued_at, r.expires_at);
    let _ = writeln!(o, "signature: {}", signature_text(&r.signature));
    let _ = writeln!(
        o,
        "contents: {}",
        if r.consistent {
            "consistent (digests, names, diff, impact and lint recomputed from the documents)"
        } else {
            "INCONSISTENT with its documents"
        }
    );
    if r.valid {
        let _ = writeln!(
            o,
            "ready to review: `gavel review sign {file} --decision approve|reject --comment TEXT --out APPROVAL`"
        );
    } else {
        let _ = writeln!(o, "`gavel review sign` refuses this package:");
        for p in &r.problems {
            let _ = writeln!(o, "  - {p}");
        }
    }
    o
}
