//! `gavel scorecard eval` and `gavel override issue|verify`: read files,
//! call `gavel-governance` (and `gavel-console` for keys, the ledger and
//! issuing), print, choose the exit code.
//!
//! Scorecards are evaluated, printed and logged as they are read: JSON
//! Lines files of any size are streamed line by line, so memory holds one
//! scorecard and the batch summary.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use gavel_console::{Console, OVERRIDE_TYPE, OverrideRequest};
use gavel_governance::{
    BatchSummary, OverrideCheck, OverrideInput, OverrideSigner, Policy, Refusal, Scope, Scorecard,
    ScorecardError, Verdict, check_override, decision_log_record, evaluate,
};
use gavel_policy::MAX_FILE_BYTES;
use gavel_trust::{PublicKey, Reason, Role, Sensitive, Verification, VerifyOptions};
use serde_json::{Value, json};

use crate::OutputFormat;
use crate::failure::Failure;
use crate::input::{for_each_line, line_failure, read_text};
use crate::keys::{console, fail, runtime, secret_file};

#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// Scorecard files (JSON), JSON Lines files of scorecards, or directories of `.json`/`.jsonl` scorecards.
    #[arg(required = true)]
    pub scorecards: Vec<String>,
    /// The governance policy (YAML or JSON; a bare list of rules is a policy too).
    #[arg(long)]
    pub policy: String,
    /// A signed override (DSSE) or a legacy `{data, signature}` override file.
    #[arg(long = "override")]
    pub override_file: Option<String>,
    /// The shared secret of a legacy override, by keychain name.
    #[arg(long, conflicts_with = "secret_file")]
    pub secret: Option<String>,
    /// The shared secret of a legacy override, from a file.
    #[arg(long)]
    pub secret_file: Option<String>,
    /// Decision log (JSONL) to append to (default `$GAVEL_HOME/governance/decision_log.jsonl`).
    #[arg(long, conflicts_with = "no_log")]
    pub log: Option<String>,
    /// Do not write the decision log.
    #[arg(long)]
    pub no_log: bool,
    /// Use a borderline queue (JSONL) and append borderline verdicts to it.
    #[arg(long)]
    pub borderline_queue: Option<String>,
    /// Also mark a consumed legacy override file `"used": true`.
    #[arg(long)]
    pub mark_used: bool,
}

#[derive(Debug, Clone, Subcommand)]
pub enum OverrideCommand {
    /// Issue a signed, single-use override for one workflow (the signer needs the security role).
    #[command(after_help = crate::examples::OVERRIDE_ISSUE)]
    Issue {
        #[arg(long)]
        workflow: String,
        /// Force this verdict: promote, demote, pilot or no_go.
        #[arg(long)]
        verdict: Option<String>,
        /// Skip the micro-pilot.
        #[arg(long)]
        bypass_micro_pilot: bool,
        /// Why (at least 10 characters).
        #[arg(long)]
        reason: String,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
        /// Validity (default 24h).
        #[arg(long, default_value = "24h")]
        expires_in: String,
        /// The override id (default: the workflow, the time and a random suffix).
        #[arg(long)]
        id: Option<String>,
    },
    /// Verify an override: signature, expiry, issuer and role, content, and whether it was used.
    #[command(after_help = crate::examples::OVERRIDE_VERIFY)]
    Verify {
        file: String,
        #[arg(long, conflicts_with = "secret_file")]
        secret: Option<String>,
        #[arg(long)]
        secret_file: Option<String>,
        /// Trust exactly these public keys (JSON as `keys export` prints), without a store or keychain; the single-use ledger is then not consulted.
        #[arg(long = "key")]
        keys: Vec<String>,
    },
}

fn load_policy(path: &str) -> Result<Policy, Failure> {
    let text = read_text(path)?;
    let doc = gavel_policy::parse_document(&text, gavel_policy::Format::detect(path, &text))
        .map_err(|e| Failure::load(path, Some(text.clone()), &e))?;
    Policy::from_document(&doc, &text).map_err(|e| {
        let mut f = Failure::new("invalid_policy", "invalid policy").in_file(path);
        f.diagnostics = e.diagnostics();
        f.source = Some(text);
        f
    })
}

/// An override read and checked once for the whole run.
struct LoadedOverride {
    /// The payload's id, or a legacy file's ledger key.
    id: String,
    legacy: bool,
    check: OverrideCheck,
    doc: Value,
    path: String,
    /// Applied (and so used up) by an earlier scorecard of this run.
    consumed: bool,
}

/// What `override verify` reports, and what `scorecard eval` uses.
struct CheckedOverride {
    verification: Verification,
    id: String,
    legacy: bool,
    check: OverrideCheck,
}

fn reason_name(r: Reason) -> &'static str {
    match r {
        Reason::Malformed => "malformed",
        Reason::UnknownKey => "unknown_key",
        Reason::BadSignature => "bad_signature",
        Reason::WrongPayloadType => "wrong_payload_type",
        Reason::NotYetValid => "not_yet_valid",
        Reason::Expired => "expired",
        Reason::DigestMismatch => "digest_mismatch",
        Reason::QuorumNotMet => "quorum_not_met",
        Reason::Used => "used",
    }
}

fn refused(reason: &'static str, message: impl Into<String>) -> OverrideCheck {
    OverrideCheck::Refused(Refusal {
        reason,
        message: message.into(),
    })
}

fn read_override_doc(path: &str) -> Result<Value, Failure> {
    let text = read_text(path)?;
    serde_json::from_str(&text).map_err(|e| {
        let mut f = line_failure(
            path,
            e.line().max(1),
            "syntax_error",
            format!("the override is not JSON: {e}"),
        );
        if let Some(d) = f.diagnostics.first_mut() {
            d.column = u32::try_from(e.column().max(1)).ok();
        }
        f.source = Some(text);
        f
    })
}

/// Verifies an override against `trusted` keys (and a legacy secret), then
/// reads its content with the rules `scorecard eval` applies. Exit 2 only
/// for an unknown forced verdict; every other failure is a refusal.
fn check_override_doc(
    doc: &Value,
    path: &str,
    trusted: &[PublicKey],
    secret: Option<&Sensitive<Vec<u8>>>,
    now: jiff::Timestamp,
) -> Result<CheckedOverride, Failure> {
    let v = gavel_trust::verify(
        doc,
        &VerifyOptions {
            now,
            trusted,
            secret,
            expected_type: Some(OVERRIDE_TYPE),
        },
    );
    // What the document is, as verification established it: never guessed
    // from which fields happen to be present.
    let legacy = v.format == gavel_trust::Format::LegacyOverride;
    let id = if legacy {
        gavel_trust::legacy_ledger_key(doc)
            .map(|d| d.to_string())
            .unwrap_or_default()
    } else {
        v.payload
            .as_ref()
            .and_then(|p| p.get("id"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let is_override = matches!(
        v.format,
        gavel_trust::Format::Dsse | gavel_trust::Format::LegacyOverride
    );
    let check = match (&v.payload, v.reason) {
        (_, Some(r)) if !v.valid => refused(reason_name(r), v.message.clone()),
        (Some(p), _) if v.valid && is_override => {
            let signers: Vec<OverrideSigner<'_>> = v
                .signers
                .iter()
                .map(|s| OverrideSigner {
                    name: &s.name,
                    keyid: &s.keyid,
                    security: s.roles.contains(&Role::Security),
                })
                .collect();
            check_override(p, legacy, &signers)
                .map_err(|e| Failure::new("invalid_override", e.to_string()).in_file(path))?
        }
        _ => refused(
            "wrong_payload_type",
            "not an override: expected a signed override envelope (`application/vnd.gavel.override.v1+json`) or a legacy `{data, signature}` file",
        ),
    };
    Ok(CheckedOverride {
        verification: v,
        id,
        legacy,
        check,
    })
}

async fn load_override(
    c: &Console,
    path: &str,
    secret_name: Option<&str>,
    secret_path: Option<&str>,
) -> Result<LoadedOverride, Failure> {
    let doc = read_override_doc(path)?;
    let secret = legacy_secret(Some(c), secret_name, secret_path)?;
    let trusted = c.trusted_keys().await.map_err(fail)?;
    let checked = check_override_doc(
        &doc,
        path,
        &trusted,
        secret.as_ref(),
        jiff::Timestamp::now(),
    )?;
    let mut check = checked.check;
    if matches!(check, OverrideCheck::Usable(_))
        && c.override_used(&checked.id).await.map_err(fail)?
    {
        check = refused(
            "used",
            format!("override `{}` was already used", checked.id),
        );
    }
    Ok(LoadedOverride {
        id: checked.id,
        legacy: checked.legacy,
        check,
        doc,
        path: path.to_string(),
        consumed: false,
    })
}

fn legacy_secret(
    c: Option<&Console>,
    name: Option<&str>,
    path: Option<&str>,
) -> Result<Option<Sensitive<Vec<u8>>>, Failure> {
    match (name, path, c) {
        (Some(n), _, Some(c)) => Ok(Some(c.secret(n).map_err(fail)?)),
        (Some(_), _, None) => Err(Failure::usage(
            "--key verifies without the keychain: use --secret-file, not --secret",
        )),
        (None, Some(p), _) => Ok(Some(secret_file(p)?)),
        (None, None, _) => Ok(None),
    }
}

/// A JSONL writer opened on first use (no empty files for empty runs).
struct Appender {
    path: PathBuf,
    file: Option<BufWriter<File>>,
}

impl Appender {
    fn new(path: PathBuf) -> Self {
        Appender { path, file: None }
    }

    fn append(&mut self, record: &Value) -> Result<(), Failure> {
        let path = &self.path;
        let unwritable = |what: &str, e: std::io::Error| {
            Failure::new(
                "unwritable",
                format!("cannot {what} `{}`: {e}", path.display()),
            )
        };
        if self.file.is_none() {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    Failure::new(
                        "unwritable",
                        format!("cannot create `{}`: {e}", dir.display()),
                    )
                })?;
            }
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| unwritable("open", e))?;
            self.file = Some(BufWriter::new(f));
        }
        if let Some(f) = self.file.as_mut() {
            serde_json::to_writer(&mut *f, record)
                .map_err(|e| unwritable("write", std::io::Error::other(e)))?;
            f.write_all(b"\n").map_err(|e| unwritable("write", e))?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Failure> {
        match self.file.as_mut() {
            Some(f) => f.flush().map_err(|e| {
                Failure::new(
                    "unwritable",
                    format!("cannot write `{}`: {e}", self.path.display()),
                )
            }),
            None => Ok(()),
        }
    }
}

/// Where a scorecard came from, for messages.
struct Origin<'a> {
    file: &'a str,
    /// The line of a JSON Lines file.
    line: Option<usize>,
    /// The index in a file holding a JSON list of scorecards.
    index: Option<usize>,
    /// The text the scorecard was read from (the file, or its line).
    text: &'a str,
}

impl Origin<'_> {
    fn label(&self) -> String {
        match (self.line, self.index) {
            (Some(l), _) => format!("{}:{l}", self.file),
            (None, Some(i)) => format!("{}[{i}]", self.file),
            (None, None) => self.file.to_string(),
        }
    }

    /// A scorecard field of the wrong type: exit 2 naming the scorecard,
    /// the field and what was expected, at its line and column.
    fn invalid(&self, card: &Value, e: &ScorecardError) -> Failure {
        let name = card
            .get("workflow_id")
            .and_then(Value::as_str)
            .map(|w| format!("scorecard `{w}`"))
            .unwrap_or_else(|| "scorecard".to_string());
        let pointer = match self.index {
            Some(i) => format!("/{i}{}", e.pointer()),
            None => e.pointer().to_string(),
        };
        let mut f = Failure::new(
            "invalid_scorecard",
            format!("{name} in `{}`: {e}", self.label()),
        )
        .in_file(self.file);
        let located = gavel_policy::parse_document(self.text, gavel_policy::Format::Json)
            .ok()
            .map(|doc| doc.locate(&pointer));
        if let Some(d) = f.diagnostics.first_mut() {
            d.pointer = Some(pointer);
            if let Some(at) = located {
                d.line = Some(match self.line {
                    Some(l) => u32::try_from(l).unwrap_or(u32::MAX),
                    None => at.line,
                });
                d.column = Some(at.column);
            }
        }
        if self.line.is_none() {
            f.source = Some(self.text.to_string());
        }
        f
    }
}

/// One run of `scorecard eval`: the policy, the override, the outputs.
struct Run<'a> {
    args: &'a EvalArgs,
    format: OutputFormat,
    policy: Policy,
    rt: &'a tokio::runtime::Runtime,
    console: Option<Console>,
    loaded: Option<LoadedOverride>,
    out: BufWriter<std::io::StdoutLock<'static>>,
    log: Option<Appender>,
    queue: Option<Appender>,
    summary: BatchSummary,
    any_refused: bool,
    now: jiff::Timestamp,
}

fn unwritable_stdout(e: std::io::Error) -> Failure {
    Failure::new("unwritable", format!("cannot write the output: {e}"))
}

impl Run<'_> {
    /// A path: a directory, a JSON Lines file, or a JSON file.
    fn path(&mut self, p: &str) -> Result<(), Failure> {
        if p != "-" && Path::new(p).is_dir() {
            // The whole walk first: a loop is found before anything is
            // evaluated or logged.
            let mut files = Vec::new();
            walk(Path::new(p), &mut Vec::new(), &mut files)?;
            return files.iter().try_for_each(|f| self.file(f));
        }
        self.file(p)
    }

    /// A `.jsonl` file, or any file over the 16 MiB limit of a whole
    /// file, is streamed line by line; other files (and standard input)
    /// hold one scorecard, a list of them, or JSON Lines.
    fn file(&mut self, p: &str) -> Result<(), Failure> {
        let large =
            p != "-" && std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() > MAX_FILE_BYTES);
        if p.ends_with(".jsonl") || large {
            return for_each_line(p, |n, line| self.line(p, n, line));
        }
        let text = read_text(p)?;
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Array(items)) => {
                for (i, card) in items.iter().enumerate() {
                    let origin = Origin {
                        file: p,
                        line: None,
                        index: Some(i),
                        text: &text,
                    };
                    self.card(&origin, card)?;
                }
                Ok(())
            }
            Ok(card) => {
                let origin = Origin {
                    file: p,
                    line: None,
                    index: None,
                    text: &text,
                };
                self.card(&origin, &card)
            }
            // Not one JSON value: JSON Lines, one scorecard a line.
            Err(_) => {
                for (i, line) in text.lines().enumerate() {
                    self.line(p, i + 1, line)?;
                }
                Ok(())
            }
        }
    }

    fn line(&mut self, p: &str, n: usize, line: &str) -> Result<(), Failure> {
        if line.trim().is_empty() {
            return Ok(());
        }
        let card: Value = serde_json::from_str(line).map_err(|e| {
            let mut f = line_failure(
                p,
                n,
                "invalid_scorecard",
                format!("line {n} is not a JSON scorecard: {e}"),
            );
            if let Some(d) = f.diagnostics.first_mut() {
                d.column = u32::try_from(e.column()).ok();
            }
            f
        })?;
        let origin = Origin {
            file: p,
            line: Some(n),
            index: None,
            text: line,
        };
        self.card(&origin, &card)
    }

    /// Evaluates one scorecard, consumes the override if it applied, and
    /// prints and logs the result.
    fn card(&mut self, origin: &Origin<'_>, value: &Value) -> Result<(), Failure> {
        let card = Scorecard::from_json(value).map_err(|e| origin.invalid(value, &e))?;
        let workflow = card.workflow_id;
        let input = match &self.loaded {
            None => OverrideInput::default(),
            Some(o) => {
                let mut input = OverrideInput::for_workflow(&o.check, &o.id, o.legacy, workflow);
                if input.refused.is_none() && o.consumed {
                    input = OverrideInput {
                        refused: Some("used".into()),
                        bypass_micro_pilot: false,
                        forced_verdict: None,
                        ..input
                    };
                }
                input
            }
        };
        let mut e = evaluate(&card, &self.policy, &input);
        if let (true, Some(o), Some(c)) =
            (e.override_applied(), self.loaded.as_mut(), &self.console)
        {
            // One use: recording the use is what grants it. If another run
            // recorded it first, this evaluation is as without it.
            let won = self
                .rt
                .block_on(c.consume_override(&o.id, workflow, o.legacy))
                .map_err(fail)?;
            o.consumed = true;
            if !won {
                let refused = OverrideInput {
                    refused: Some("used".into()),
                    bypass_micro_pilot: false,
                    forced_verdict: None,
                    ..input
                };
                e = evaluate(&card, &self.policy, &refused);
            } else if o.legacy && self.args.mark_used {
                let mut marked = o.doc.clone();
                marked["used"] = json!(true);
                let text = serde_json::to_string_pretty(&marked).map_err(|err| {
                    Failure::new("internal", format!("cannot write the override: {err}"))
                })?;
                std::fs::write(&o.path, text).map_err(|err| {
                    Failure::new(
                        "unwritable",
                        format!("cannot mark `{}` used: {err}", o.path),
                    )
                })?;
            }
        }
        if e.overrides.applied == Some(false) && e.overrides.refused.is_some() {
            self.any_refused = true;
        }
        self.summary.add(&e);
        if let Some(log) = self.log.as_mut() {
            log.append(&decision_log_record(&card, &e, self.now.as_second()))?;
        }
        if let (Some(queue), Verdict::Borderline) = (self.queue.as_mut(), e.verdict) {
            queue.append(&json!({
                "workflow_id": e.workflow_id,
                "raroi": [card.raroi],
                "confidence": card.confidence,
                "status": "pending",
                "created_at": gavel_trust::rfc3339(self.now),
                "updated_at": gavel_trust::rfc3339(self.now),
            }))?;
        }
        match self.format {
            OutputFormat::Json => {
                serde_json::to_writer(&mut self.out, &e)
                    .map_err(|err| unwritable_stdout(std::io::Error::other(err)))?;
                self.out.write_all(b"\n").map_err(unwritable_stdout)?;
            }
            _ => {
                let label = origin.label();
                let id = e.workflow_id.as_deref().unwrap_or(&label);
                let codes = if e.reason_codes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", e.reason_codes.join(", "))
                };
                let mode = e
                    .overrides
                    .mode
                    .as_deref()
                    .map(|m| format!(" [{m}]"))
                    .unwrap_or_default();
                writeln!(self.out, "{id}: {}{codes}{mode}", e.verdict)
                    .map_err(unwritable_stdout)?;
                if let Some(r) = &e.overrides.refused {
                    writeln!(self.out, "  override refused: {r}").map_err(unwritable_stdout)?;
                } else if e.override_applied() {
                    writeln!(
                        self.out,
                        "  override {} applied",
                        e.overrides.override_id.as_deref().unwrap_or("")
                    )
                    .map_err(unwritable_stdout)?;
                }
            }
        }
        Ok(())
    }

    /// Flushes what was written so far: the log and the queue keep every
    /// evaluation that was printed, even when a later scorecard is bad.
    fn flush(&mut self) -> Result<(), Failure> {
        let out = self.out.flush().map_err(unwritable_stdout);
        let log = self.log.as_mut().map_or(Ok(()), Appender::flush);
        let queue = self.queue.as_mut().map_or(Ok(()), Appender::flush);
        out.and(log).and(queue)
    }

    fn print_summary(&mut self) -> Result<(), Failure> {
        if self.format == OutputFormat::Json || self.summary.total < 2 {
            return Ok(());
        }
        let s = &self.summary;
        let mut text = format!("\n{} scorecards\n", s.total);
        for (v, n) in &s.verdicts {
            text.push_str(&format!("  {v:<12} {n}\n"));
        }
        if !s.reason_codes.is_empty() {
            text.push_str("reason codes:\n");
            for (r, n) in &s.reason_codes {
                text.push_str(&format!("  {r:<32} {n}\n"));
            }
        }
        self.out
            .write_all(text.as_bytes())
            .map_err(unwritable_stdout)
    }
}

/// The `.json` and `.jsonl` files of a directory and its subdirectories
/// (hidden ones left out), in name order. A symbolic link that leads
/// back to a directory being read is an error, not an endless walk.
fn walk(dir: &Path, ancestors: &mut Vec<PathBuf>, files: &mut Vec<String>) -> Result<(), Failure> {
    let shown = dir.display().to_string();
    let unreadable = |e: std::io::Error| {
        Failure::new(
            "unreadable",
            format!("cannot read directory `{shown}`: {e}"),
        )
        .in_file(&shown)
    };
    let canonical = std::fs::canonicalize(dir).map_err(unreadable)?;
    if let Some(seen) = ancestors.iter().find(|a| **a == canonical) {
        return Err(Failure::new(
            "symlink_loop",
            format!(
                "`{shown}` leads back to `{}`, a directory being read (a symbolic link loop); remove the link or name the directories to read",
                seen.display()
            ),
        )
        .in_file(&shown));
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(unreadable)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(unreadable)?;
    entries.sort();
    ancestors.push(canonical);
    for path in entries {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.as_deref().is_none_or(|n| n.starts_with('.')) {
            continue;
        }
        let shown = path.display().to_string();
        // Follows links: a link to itself fails here (the OS reports the loop).
        let meta = std::fs::metadata(&path).map_err(|e| {
            Failure::new("unreadable", format!("cannot read `{shown}`: {e}")).in_file(&shown)
        })?;
        if meta.is_dir() {
            walk(&path, ancestors, files)?;
        } else if path
            .extension()
            .is_some_and(|x| x == "json" || x == "jsonl")
        {
            files.push(shown);
        }
    }
    ancestors.pop();
    Ok(())
}

/// `gavel scorecard eval`: 0 evaluated, 1 a given override was refused, 2 bad input.
pub fn eval(args: &EvalArgs, format: OutputFormat) -> Result<ExitCode, Failure> {
    let mut policy = load_policy(&args.policy)?;
    if args.borderline_queue.is_some() {
        policy.borderline_queue = true;
    }
    let rt = runtime()?;
    let needs_console = args.override_file.is_some() || (!args.no_log && args.log.is_none());
    let console = if needs_console {
        Some(rt.block_on(console())?)
    } else {
        None
    };
    let loaded = match (&args.override_file, &console) {
        (Some(path), Some(c)) => Some(rt.block_on(load_override(
            c,
            path,
            args.secret.as_deref(),
            args.secret_file.as_deref(),
        ))?),
        _ => None,
    };
    let log = match (&args.log, args.no_log, &console) {
        (_, true, _) => None,
        (Some(p), _, _) => Some(PathBuf::from(p)),
        (None, false, Some(c)) => Some(c.home().join("governance/decision_log.jsonl")),
        (None, false, None) => None,
    };
    let mut run = Run {
        args,
        format,
        policy,
        rt: &rt,
        console,
        loaded,
        out: BufWriter::new(std::io::stdout().lock()),
        log: log.map(Appender::new),
        queue: args
            .borderline_queue
            .as_ref()
            .map(|q| Appender::new(PathBuf::from(q))),
        summary: BatchSummary::default(),
        any_refused: false,
        now: jiff::Timestamp::now(),
    };
    let read = args.scorecards.iter().try_for_each(|p| run.path(p));
    let flushed = run.flush();
    read?;
    flushed?;
    if run.summary.total == 0 {
        return Err(Failure::usage(
            "no scorecards found in the given paths (files, `.jsonl` files, or directories of `.json`/`.jsonl` files)",
        ));
    }
    run.print_summary()?;
    run.flush()?;
    Ok(if run.any_refused {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn read_keys(files: &[String]) -> Result<Vec<PublicKey>, Failure> {
    files
        .iter()
        .map(|k| {
            let text = read_text(k)?;
            let key: PublicKey = serde_json::from_str(&text).map_err(|e| {
                Failure::new("invalid_key", format!("not a public key document: {e}")).in_file(k)
            })?;
            key.verifying_key()
                .map_err(|e| Failure::new("invalid_key", e.to_string()).in_file(k))?;
            Ok(key)
        })
        .collect()
}

/// `gavel override verify`: 0 valid, 1 invalid or used, 2 unreadable, not
/// JSON, or an unknown forced verdict.
fn verify(
    file: &str,
    secret: Option<&str>,
    secret_path: Option<&str>,
    key_files: &[String],
    format: OutputFormat,
) -> Result<ExitCode, Failure> {
    let doc = read_override_doc(file)?;
    let now = jiff::Timestamp::now();
    let (checked, ledger_checked) = if key_files.is_empty() {
        let rt = runtime()?;
        rt.block_on(async {
            let c = console().await?;
            let secret = legacy_secret(Some(&c), secret, secret_path)?;
            let trusted = c.trusted_keys().await.map_err(fail)?;
            let mut checked = check_override_doc(&doc, file, &trusted, secret.as_ref(), now)?;
            if matches!(checked.check, OverrideCheck::Usable(_))
                && c.override_used(&checked.id).await.map_err(fail)?
            {
                checked.check = refused(
                    "used",
                    format!("override `{}` was already used", checked.id),
                );
            }
            Ok::<_, Failure>((checked, true))
        })?
    } else {
        // `--key`: exactly these keys, no store, no keychain, no ledger.
        let trusted = read_keys(key_files)?;
        let secret = legacy_secret(None, secret, secret_path)?;
        (
            check_override_doc(&doc, file, &trusted, secret.as_ref(), now)?,
            false,
        )
    };
    let v = &checked.verification;
    let (valid, reason, message, workflow, scope) = match &checked.check {
        OverrideCheck::Usable(c) => {
            let (workflow, scope) = match &c.scope {
                Scope::AnyWorkflow => (None, "any_workflow"),
                Scope::Workflow(w) => (Some(w.clone()), "workflow"),
            };
            (true, None, v.message.clone(), workflow, Some(scope))
        }
        OverrideCheck::Refused(r) => (false, Some(r.reason), r.message.clone(), None, None),
    };
    let content = match &checked.check {
        OverrideCheck::Usable(c) => Some(c),
        OverrideCheck::Refused(_) => None,
    };
    let out = json!({
        "valid": valid,
        "legacy": checked.legacy,
        "override_id": (!checked.id.is_empty()).then_some(&checked.id),
        "workflow_id": workflow,
        "scope": scope,
        "forced_verdict": content.and_then(|c| c.forced_verdict),
        "bypass_micro_pilot": content.map(|c| c.bypass_micro_pilot),
        "signers": v.signers,
        "issued_at": v.issued_at,
        "expires_at": v.expires_at,
        "expiry_covered": v.expiry_covered,
        "reason": reason,
        "message": message,
        "ledger_checked": ledger_checked,
    });
    let ledger_note = "the single-use ledger was not consulted (--key): whether the override was already used is not known";
    match format {
        OutputFormat::Json => println!("{out}"),
        _ => {
            match (&checked.check, reason) {
                (OverrideCheck::Usable(c), _) => {
                    let target = match &c.scope {
                        Scope::AnyWorkflow => "any workflow (legacy, no `workflow_id`)".to_string(),
                        Scope::Workflow(w) => format!("workflow `{w}`"),
                    };
                    let what = match (c.forced_verdict, c.bypass_micro_pilot) {
                        (Some(v), true) => format!("forces {v} and bypasses the micro-pilot"),
                        (Some(v), false) => format!("forces {v}"),
                        (None, _) => "bypasses the micro-pilot".to_string(),
                    };
                    println!("valid override {} for {target}: {what}", checked.id);
                    let by: Vec<&str> = v.signers.iter().map(|s| s.name.as_str()).collect();
                    println!("signed by {}", by.join(", "));
                    if let Some(e) = &v.expires_at {
                        println!("expires {e}");
                    }
                    if checked.legacy {
                        println!("legacy format: {}", v.message);
                    }
                }
                (OverrideCheck::Refused(_), r) => {
                    println!("INVALID override ({}): {message}", r.unwrap_or("invalid"));
                }
            }
            if !ledger_checked {
                println!("{ledger_note}");
            }
        }
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn overrides(cmd: &OverrideCommand, format: OutputFormat) -> Result<ExitCode, Failure> {
    match cmd {
        OverrideCommand::Issue {
            workflow,
            verdict,
            bypass_micro_pilot,
            reason,
            actor,
            expires_in,
            id,
        } => {
            let validity_seconds = crate::keys::duration(expires_in)?;
            let rt = runtime()?;
            let issued = rt.block_on(async {
                let c = console().await?;
                c.issue_override(
                    &OverrideRequest {
                        workflow_id: workflow,
                        forced_verdict: verdict.as_deref(),
                        bypass_micro_pilot: *bypass_micro_pilot,
                        reason,
                        actor: actor.as_deref(),
                        validity_seconds,
                        id: id.as_deref(),
                    },
                    jiff::Timestamp::now(),
                )
                .await
                .map_err(fail)
            })?;
            let text = serde_json::to_string_pretty(&issued.envelope)
                .map_err(|e| Failure::new("internal", format!("cannot print the override: {e}")))?;
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        OverrideCommand::Verify {
            file,
            secret,
            secret_file: sf,
            keys,
        } => verify(file, secret.as_deref(), sf.as_deref(), keys, format),
    }
}
