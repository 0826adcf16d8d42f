//! `gavel scorecard eval` and `gavel override issue|verify`: read files,
//! call `gavel-governance` (and `gavel-console` for keys, the ledger and
//! issuing), print, choose the exit code.
//!
//! Scorecards are evaluated, printed and logged as they are read: JSON
//! Lines files of any size are streamed line by line, so memory holds one
//! scorecard and the batch summary. Every JSON input (scorecards,
//! overrides; policies too) goes through Gavel's own parser, which refuses
//! duplicate keys: with `serde_json`, the last of two `security_status`
//! keys won, and a `fail` followed by a `pass` promoted.
//!
//! A scorecard's decision-log record is written before its result is
//! printed, as one write of the whole line: whatever stops the run (a
//! closed pipe ends it by SIGPIPE), the log holds every result the user
//! saw, and only whole lines, even with several runs appending at once.

use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use gavel_console::{
    CheckedOverride, Console, ConsoleError, NewRun, OverrideRequest, RunBatch, RunFilter,
    check_override_doc, run_time,
};
use gavel_governance::{
    BatchSummary, Evaluation, OverrideCheck, OverrideInput, Policy, Scope, Scorecard,
    ScorecardError, Verdict, borderline_record, decision_log_line, evaluate,
    write_decision_log_line,
};
use gavel_policy::{MAX_FILE_BYTES, Node, NodeValue};
use gavel_trust::Sensitive;
use serde_json::{Value, json};

use crate::OutputFormat;
use crate::failure::Failure;
use crate::input::{for_each_line, for_each_line_block, line_failure, read_public_keys, read_text};
use crate::keys::{console, fail, runtime, secret_file};

#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// Scorecard files (JSON), JSON Lines files of scorecards, or directories of `.json`/`.jsonl`/`.ndjson` scorecards.
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
    /// Who runs the scorecards, recorded with each run (default: the store's only identity, else nobody).
    #[arg(long = "as", env = "GAVEL_IDENTITY")]
    pub actor: Option<String>,
    /// Worker threads for JSON Lines files (default: all cores; an override is applied on one).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RunsArgs {
    /// Only this workflow's runs.
    #[arg(long)]
    pub workflow: Option<String>,
    /// Only runs with this verdict: promote, demote, pilot, no_go or borderline.
    #[arg(long)]
    pub verdict: Option<String>,
    /// Runs at or after this time (RFC 3339, or a date: midnight UTC).
    #[arg(long)]
    pub since: Option<String>,
    /// Runs before this time (RFC 3339, or a date: midnight UTC).
    #[arg(long)]
    pub until: Option<String>,
    /// At most this many runs (default 100, at most 10000), newest first.
    #[arg(long)]
    pub limit: Option<i64>,
    /// Skip this many of the newest matching runs.
    #[arg(long)]
    pub offset: Option<i64>,
}

/// Runs are handed to the store (one transaction, one commit: two
/// `fsync`s) once at least this many are held and a quarter of a second
/// has passed since the last hand-over, or once [`MAX_RUNS_HELD`] are
/// held: a batch of 100,000 scorecards is a few commits, not one each
/// 5,000 (each `fsync` takes milliseconds), and a run cut short loses at
/// most the runs held and the ones being written from the store (the
/// decision log file has every line).
const RUNS_PER_TRANSACTION: usize = 5000;
const HANDOVER_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);
const MAX_RUNS_HELD: usize = 20_000;

/// Whether the runs held are due to be handed to the store.
fn due(runs: &RunBatch, handed: std::time::Instant) -> bool {
    runs.len() >= MAX_RUNS_HELD
        || (runs.len() >= RUNS_PER_TRANSACTION && handed.elapsed() >= HANDOVER_INTERVAL)
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
    checked: CheckedOverride,
    doc: Value,
    path: String,
    /// Applied (and so used up) by an earlier scorecard of this run.
    consumed: bool,
}

/// Reads an override file as JSON, refusing duplicate keys (a `data`
/// or `signature` given twice is not one override), located on error.
fn read_override_doc(path: &str) -> Result<Value, Failure> {
    let text = read_text(path)?;
    match gavel_policy::parse_document(&text, gavel_policy::Format::Json) {
        Ok(doc) => Ok(doc.to_json()),
        Err(e) => Err(Failure::load(path, Some(text), &e)),
    }
}

/// Checks an override against the store's trusted keys and its
/// single-use ledger, the same way for `scorecard eval` and `override
/// verify`.
async fn check_in_store(
    c: &Console,
    doc: &Value,
    path: &str,
    secret_name: Option<&str>,
    secret_path: Option<&str>,
    now: jiff::Timestamp,
) -> Result<CheckedOverride, Failure> {
    let secret = legacy_secret(Some(c), secret_name, secret_path)?;
    c.check_override(doc, secret.as_ref(), now)
        .await
        .map_err(|e| match e {
            ConsoleError::InvalidOverride(m) => Failure::new("invalid_override", m).in_file(path),
            other => fail(other),
        })
}

async fn load_override(
    c: &Console,
    path: &str,
    secret_name: Option<&str>,
    secret_path: Option<&str>,
) -> Result<LoadedOverride, Failure> {
    let doc = read_override_doc(path)?;
    let checked = check_in_store(
        c,
        &doc,
        path,
        secret_name,
        secret_path,
        jiff::Timestamp::now(),
    )
    .await?;
    Ok(LoadedOverride {
        checked,
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

/// A JSON Lines file appended to one whole record at a time, opened on
/// first use (no empty files for empty runs).
///
/// Each record is one `write` of the whole line to a file opened for
/// appending, with no buffer held across records: a run ended at any point
/// (a closed pipe's SIGPIPE, a bad scorecard) leaves whole lines only, and
/// the lines of several runs appending at once never interleave.
struct Appender {
    path: PathBuf,
    file: Option<File>,
    /// Records not yet written, each ending in a line break.
    line: Vec<u8>,
}

impl Appender {
    fn new(path: PathBuf) -> Self {
        Appender {
            path,
            file: None,
            line: Vec::new(),
        }
    }

    fn append(&mut self, record: &Value) -> Result<(), Failure> {
        serde_json::to_writer(&mut self.line, record).map_err(|e| {
            Failure::new(
                "unwritable",
                format!("cannot write `{}`: {e}", self.path.display()),
            )
        })?;
        self.end_record()
    }

    /// Appends records already written as lines of JSON, each followed by
    /// a line break.
    fn append_lines(&mut self, lines: &str) -> Result<(), Failure> {
        self.line.extend_from_slice(lines.as_bytes());
        if self.line.len() >= APPEND_BLOCK {
            self.flush()?;
        }
        Ok(())
    }

    /// Appends a record already written as one line of JSON.
    fn append_line(&mut self, record: &str) -> Result<(), Failure> {
        self.line.extend_from_slice(record.as_bytes());
        self.end_record()
    }

    /// Ends the record in hand; records are written to the file in blocks
    /// of about 256 KiB (and by [`Appender::flush`]), not one by one.
    fn end_record(&mut self) -> Result<(), Failure> {
        self.line.push(b'\n');
        if self.line.len() >= APPEND_BLOCK {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the records held to the file (opened, and its directory
    /// made, the first time).
    fn flush(&mut self) -> Result<(), Failure> {
        if self.line.is_empty() {
            return Ok(());
        }
        let path = &self.path;
        let unwritable = |what: &str, e: std::io::Error| {
            Failure::new(
                "unwritable",
                format!("cannot {what} `{}`: {e}", path.display()),
            )
        };
        let file = match &mut self.file {
            Some(f) => f,
            None => {
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
                self.file.insert(f)
            }
        };
        let written = file.write_all(&self.line);
        self.line.clear();
        written.map_err(|e| unwritable("write", e))
    }
}

/// How much of a log or queue is held before it is written.
const APPEND_BLOCK: usize = 256 * 1024;

/// How much output is held before it is printed (after the log and the
/// queue it follows are written).
const OUTPUT_BLOCK: usize = 64 * 1024;

/// Where a scorecard came from, for messages.
struct Origin<'a> {
    file: &'a str,
    /// The line of a JSON Lines file.
    line: Option<usize>,
    /// The index in a file holding a JSON list of scorecards.
    index: Option<usize>,
    /// The scorecard as parsed, with the location of every value (within
    /// its line, for a JSON Lines file).
    /// (`None` for a line read in one pass: only a line that reads and
    /// evaluates takes that path, so nothing is ever located in it.)
    node: Option<&'a Node>,
    /// The whole file, to show the offending line (not for JSON Lines).
    text: Option<&'a str>,
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
        let at = self.node.map(|n| n.locate(e.pointer())).unwrap_or_default();
        if let Some(d) = f.diagnostics.first_mut() {
            d.pointer = Some(pointer);
            d.line = Some(match self.line {
                Some(l) => u32::try_from(l).unwrap_or(u32::MAX),
                None => at.line,
            });
            d.column = Some(at.column);
        }
        f.source = self.text.map(str::to_string);
        f
    }
}

/// Every directory and file a directory walk reached, by canonical path,
/// for the whole run: links that lead to one place twice (a diamond of
/// directory links, two links to one file) read it once.
#[derive(Debug, Default)]
struct Visited {
    dirs: HashSet<PathBuf>,
    files: HashSet<PathBuf>,
}

/// One run of `scorecard eval`: the policy, the override, the outputs.
struct Run<'a> {
    args: &'a EvalArgs,
    format: OutputFormat,
    policy: std::sync::Arc<Policy>,
    rt: &'a tokio::runtime::Runtime,
    console: Option<Console>,
    loaded: Option<LoadedOverride>,
    /// Output not yet printed: printed only after the log and the queue
    /// records of the same scorecards are written.
    out: Vec<u8>,
    stdout: std::io::StdoutLock<'static>,
    log: Option<Appender>,
    queue: Option<Appender>,
    summary: BatchSummary,
    any_refused: bool,
    now: jiff::Timestamp,
    visited: Visited,
    /// Runs to record in the store (`None` with `--no-log`, which skips
    /// the store as it skips the log, except for a run that uses an
    /// override: that use is always recorded).
    runs: Option<RunBatch>,
    /// `at` of this run's records, and who ran them.
    run_at: String,
    actor: Option<String>,
    /// The thread recording runs in the store, once there are some.
    writer: Option<RunWriter>,
    /// When runs were last handed to the writer (or the run started).
    handed: std::time::Instant,
}

/// Records batches of runs in the store on a thread of its own, in the
/// order given: the store's work (SQLite, on its connection's thread)
/// overlaps the evaluation of the next batch. One batch is written while
/// the next is gathered; handing over waits for the writer, so no more
/// than two batches are ever held.
struct RunWriter {
    batches: std::sync::mpsc::SyncSender<RunBatch>,
    thread: std::thread::JoinHandle<Result<(), Failure>>,
}

impl RunWriter {
    fn start(console: Console) -> Result<RunWriter, Failure> {
        let (batches, received) = std::sync::mpsc::sync_channel::<RunBatch>(0);
        let rt = runtime()?;
        let thread = std::thread::Builder::new()
            .name("gavel-runs".into())
            .spawn(move || {
                let written = received
                    .iter()
                    .try_for_each(|batch| rt.block_on(console.record_batch(&batch)).map_err(fail));
                // Let the store take its connection back before the
                // runtime goes.
                rt.block_on(async {
                    for _ in 0..4 {
                        tokio::task::yield_now().await;
                    }
                });
                written
            })
            .map_err(|e| Failure::new("internal", format!("cannot start a thread: {e}")))?;
        Ok(RunWriter { batches, thread })
    }

    /// Hands a batch over; `false` when the writer has stopped on an error.
    fn send(&self, batch: RunBatch) -> bool {
        self.batches.send(batch).is_ok()
    }

    /// Waits until every batch handed over is recorded.
    fn finish(self) -> Result<(), Failure> {
        drop(self.batches);
        self.thread.join().unwrap_or_else(|_| {
            Err(Failure::new(
                "internal",
                "recording the runs in the store failed unexpectedly; `gavel scorecard runs` shows what was recorded",
            ))
        })
    }
}

/// Prints one evaluation as the output format says (`label` names a
/// scorecard without a `workflow_id` in text).
fn render(
    format: OutputFormat,
    name: impl FnOnce() -> String,
    e: &Evaluation,
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    if format == OutputFormat::Json {
        gavel_governance::write_evaluation(out, e).map_err(std::io::Error::other)?;
        return out.write_all(b"\n");
    }
    let label;
    let id = match e.workflow_id.as_deref() {
        Some(id) => id,
        None => {
            label = name();
            &label
        }
    };
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
    writeln!(out, "{id}: {}{codes}{mode}", e.verdict)?;
    if let Some(r) = &e.overrides.refused {
        writeln!(out, "  override refused: {r}")?;
    } else if e.override_applied() {
        writeln!(
            out,
            "  override {} applied",
            e.overrides.override_id.as_deref().unwrap_or("")
        )?;
    }
    Ok(())
}

/// Lines of a JSON Lines file evaluated at a time on every core (when no
/// override is given: an override's single use is decided in order).
const LINES_PER_BLOCK: usize = 65_536;
const LINES_PER_SHARE: usize = 512;

/// What a worker made of its share of a block: each line's output, log
/// line and queue record, one after the other in its buffers (log lines
/// and queue records each followed by a line break, as their files hold
/// them).
#[derive(Default)]
struct Share<'l> {
    items: Vec<Item<'l>>,
    out: Vec<u8>,
    log: String,
    queue: String,
    summary: BatchSummary,
}

/// Where a line's pieces end in its share's buffers (past a log line's and
/// a queue record's line break).
#[derive(Clone, Copy, Default)]
struct Ends {
    out: usize,
    log: usize,
    queue: usize,
}

enum Item<'l> {
    /// Read in one pass and evaluated: where its pieces end in the
    /// share's buffers.
    Done {
        workflow_id: Option<&'l str>,
        verdict: Verdict,
        ends: Ends,
    },
    /// Left to [`Run::line`], in order (it says what is wrong, if anything).
    Other { number: usize, line: &'l str },
}

/// What the workers share: the run's settings, read only.
struct Shared<'a> {
    file: &'a str,
    format: OutputFormat,
    policy: &'a Policy,
    log: bool,
    queue: bool,
    unix_seconds: i64,
    now: String,
}

impl Shared<'_> {
    /// Evaluates the lines of `lines` that read in one pass.
    fn share<'l>(&self, lines: &[(usize, &'l str)]) -> std::io::Result<Share<'l>> {
        let mut s = Share {
            out: Vec::with_capacity(lines.len() * 160),
            ..Share::default()
        };
        let mut log = Vec::with_capacity(if self.log { lines.len() * 240 } else { 0 });
        let mut queue = Vec::new();
        for &(number, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            let Some(card) = Scorecard::from_line(line) else {
                s.items.push(Item::Other { number, line });
                continue;
            };
            let e = evaluate(&card, self.policy, &OverrideInput::default());
            s.summary.add(&e);
            if self.log {
                write_decision_log_line(&mut log, &card, &e, self.unix_seconds)
                    .map_err(std::io::Error::other)?;
                log.push(b'\n');
            }
            if self.queue && e.verdict == Verdict::Borderline {
                serde_json::to_writer(&mut queue, &borderline_record(&card, &e, &self.now))
                    .map_err(std::io::Error::other)?;
                queue.push(b'\n');
            }
            render(
                self.format,
                || format!("{}:{number}", self.file),
                &e,
                &mut s.out,
            )?;
            s.items.push(Item::Done {
                workflow_id: card.workflow_id,
                verdict: e.verdict,
                ends: Ends {
                    out: s.out.len(),
                    log: log.len(),
                    queue: queue.len(),
                },
            });
        }
        // Checked here, on the worker, so that the thread printing the
        // lines in order takes them as they are.
        s.log = String::from_utf8(log).map_err(std::io::Error::other)?;
        s.queue = String::from_utf8(queue).map_err(std::io::Error::other)?;
        Ok(s)
    }
}

fn unwritable_stdout(e: std::io::Error) -> Failure {
    Failure::new("unwritable", format!("cannot write the output: {e}"))
}

/// Files read as JSON Lines by their name, whatever their content.
fn json_lines_name(p: &str) -> bool {
    p.ends_with(".jsonl") || p.ends_with(".ndjson")
}

/// Whether `text` is JSON Lines: its first value parses (as JSON,
/// duplicate keys or not) within one line, and more text follows. A
/// pretty-printed scorecard that does not parse, or that has stray text
/// after it, is reported where it breaks instead of re-read line by line.
fn json_lines_content(text: &str) -> bool {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let start = text.len() - text.trim_start().len();
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<serde::de::IgnoredAny>();
    if !matches!(values.next(), Some(Ok(_))) {
        return false;
    }
    let end = values.byte_offset();
    text.get(start..end)
        .is_some_and(|first| !first.contains('\n'))
        && text.get(end..).is_some_and(|rest| !rest.trim().is_empty())
}

impl Run<'_> {
    /// A path: a directory, a JSON Lines file, or a JSON file.
    fn path(&mut self, p: &str) -> Result<(), Failure> {
        if p != "-" && Path::new(p).is_dir() {
            // The whole walk first: a loop is found before anything is
            // evaluated or logged.
            let mut files = Vec::new();
            walk(Path::new(p), &mut Vec::new(), &mut self.visited, &mut files)?;
            return files.iter().try_for_each(|f| self.file(f));
        }
        self.file(p)
    }

    /// A `.jsonl` or `.ndjson` file, or any file over the 16 MiB limit of
    /// a whole file, is streamed line by line; other files (and standard
    /// input) hold one scorecard, a list of them, or, when their first
    /// value sits on its first line and more follow, JSON Lines.
    fn file(&mut self, p: &str) -> Result<(), Failure> {
        let large =
            p != "-" && std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() > MAX_FILE_BYTES);
        if json_lines_name(p) || large {
            let threads = self.args.threads.map_or_else(
                || std::thread::available_parallelism().map_or(1, usize::from),
                usize::from,
            );
            if self.loaded.is_none() && threads > 1 {
                return for_each_line_block(p, LINES_PER_BLOCK, |block| {
                    self.lines_in_parallel(p, block, threads)
                });
            }
            return for_each_line(p, |n, line| self.line(p, n, line));
        }
        let text = read_text(p)?;
        if text.trim().is_empty() {
            return Ok(());
        }
        let doc = match gavel_policy::parse_document(&text, gavel_policy::Format::Json) {
            Ok(doc) => doc,
            Err(_) if json_lines_content(&text) => {
                for (i, line) in text.lines().enumerate() {
                    self.line(p, i + 1, line)?;
                }
                return Ok(());
            }
            Err(e) => return Err(Failure::load(p, Some(text), &e)),
        };
        match &doc.value {
            NodeValue::Seq(items) => items.iter().enumerate().try_for_each(|(i, node)| {
                let origin = Origin {
                    file: p,
                    line: None,
                    index: Some(i),
                    node: Some(node),
                    text: Some(&text),
                };
                self.card(&origin, &node.to_json())
            }),
            _ => {
                let origin = Origin {
                    file: p,
                    line: None,
                    index: None,
                    node: Some(&doc),
                    text: Some(&text),
                };
                self.card(&origin, &doc.to_json())
            }
        }
    }

    fn line(&mut self, p: &str, n: usize, line: &str) -> Result<(), Failure> {
        if line.trim().is_empty() {
            return Ok(());
        }
        // Most lines are flat, well-formed scorecards: read in one pass,
        // without a JSON tree. Others are read into a tree, and any that
        // is wrong again with locations, which says where.
        // (Only a line that reads and evaluates takes these paths, so
        // nothing is ever located in it.)
        let read = Origin {
            file: p,
            line: Some(n),
            index: None,
            node: None,
            text: None,
        };
        if let Some(card) = Scorecard::from_line(line) {
            return self.decide(&read, card);
        }
        if let Some(value) = gavel_policy::parse_json_value(line) {
            if let Ok(card) = Scorecard::from_json(&value) {
                return self.decide(&read, card);
            }
        }
        let node = gavel_policy::parse_document(line, gavel_policy::Format::Json).map_err(|e| {
            let d = e.diagnostics().into_iter().next();
            // Lines within the record are all line 1: a duplicate key says
            // so, not which line of the file.
            let message = d.as_ref().map_or_else(
                || e.to_string(),
                |d| d.message.replace(" (first at line 1)", " (given twice)"),
            );
            let mut f = line_failure(
                p,
                n,
                "invalid_scorecard",
                format!("line {n} is not a JSON scorecard: {message}"),
            );
            if let (Some(first), Some(d)) = (f.diagnostics.first_mut(), d) {
                first.column = d.column;
            }
            f
        })?;
        let origin = Origin {
            file: p,
            line: Some(n),
            index: None,
            node: Some(&node),
            text: None,
        };
        self.card(&origin, &node.to_json())
    }

    /// A block of JSON Lines lines, evaluated on `threads` workers (each a
    /// share of the lines), then logged, recorded, queued and printed here
    /// in file order. A line that does not read in one pass goes to
    /// [`Run::line`] in its place, so a bad one stops the run after the
    /// lines before it, as when read one by one.
    fn lines_in_parallel(
        &mut self,
        p: &str,
        block: &[(usize, &str)],
        threads: usize,
    ) -> Result<(), Failure> {
        let policy = std::sync::Arc::clone(&self.policy);
        let shared = Shared {
            file: p,
            format: self.format,
            policy: &policy,
            log: self.log.is_some() || self.runs.is_some(),
            queue: self.queue.is_some(),
            unix_seconds: self.now.as_second(),
            now: gavel_trust::rfc3339(self.now),
        };
        // Shares of a few hundred lines, taken in turn by the workers and
        // by this thread, which prints each as soon as the ones before it
        // are printed: the printing overlaps the evaluation of later shares.
        crate::input::in_order(
            block,
            LINES_PER_SHARE,
            threads,
            |chunk| shared.share(chunk),
            |share| self.emit_share(p, share),
        )
    }

    /// Logs, records, queues and prints a share's lines in order, each
    /// line left to [`Run::line`] in its place.
    fn emit_share(&mut self, p: &str, share: std::io::Result<Share<'_>>) -> Result<(), Failure> {
        let share =
            share.map_err(|e| Failure::new("internal", format!("cannot write a result: {e}")))?;
        let mut from = Ends::default();
        let mut first = 0;
        for (i, item) in share.items.iter().enumerate() {
            if let Item::Other { number, line } = *item {
                let done = share.items.get(first..i).unwrap_or_default();
                from = self.emit_done(&share, done, from)?;
                first = i + 1;
                self.line(p, number, line)?;
            }
        }
        let done = share.items.get(first..).unwrap_or_default();
        self.emit_done(&share, done, from)?;
        self.summary.merge(share.summary);
        Ok(())
    }

    /// Logs, records, queues and prints `items`, lines of `share` in a row
    /// that were evaluated there, whose pieces start at `from` in its
    /// buffers: each piece as one block. Where they end.
    fn emit_done(
        &mut self,
        share: &Share<'_>,
        items: &[Item<'_>],
        from: Ends,
    ) -> Result<Ends, Failure> {
        let Some(&Item::Done { ends: to, .. }) = items.last() else {
            return Ok(from);
        };
        let internal = |what: &str| Failure::new("internal", format!("{what} is out of place"));
        let lines = share
            .log
            .get(from.log..to.log)
            .ok_or_else(|| internal("a block of decision-log lines"))?;
        if let Some(l) = self.log.as_mut() {
            l.append_lines(lines)?;
        }
        if let Some(runs) = self.runs.as_mut() {
            let each = items.iter().filter_map(|item| match *item {
                Item::Done {
                    workflow_id,
                    verdict,
                    ends,
                } => Some((
                    workflow_id,
                    verdict.as_str(),
                    ends.log.wrapping_sub(from.log + 1),
                )),
                Item::Other { .. } => None,
            });
            if !runs.push_lines(lines, each) {
                return Err(internal("a decision-log line"));
            }
            if due(runs, self.handed) {
                self.flush_runs()?;
            }
        }
        if let Some(q) = self.queue.as_mut() {
            let records = share
                .queue
                .get(from.queue..to.queue)
                .ok_or_else(|| internal("a block of queue records"))?;
            q.append_lines(records)?;
        }
        let out = share
            .out
            .get(from.out..to.out)
            .ok_or_else(|| internal("a block of results"))?;
        self.out.extend_from_slice(out);
        if self.out.len() >= OUTPUT_BLOCK {
            self.flush()?;
        }
        Ok(to)
    }

    /// Evaluates one scorecard, consumes the override if it applied, and
    /// prints and logs the result.
    fn card(&mut self, origin: &Origin<'_>, value: &Value) -> Result<(), Failure> {
        let card = Scorecard::from_json(value).map_err(|e| origin.invalid(value, &e))?;
        self.decide(origin, card)
    }

    /// Evaluates a scorecard read (see [`Run::card`]).
    fn decide(&mut self, origin: &Origin<'_>, card: Scorecard<'_>) -> Result<(), Failure> {
        let workflow = card.workflow_id;
        let input = match &self.loaded {
            None => OverrideInput::default(),
            Some(o) => {
                let c = &o.checked;
                let mut input = OverrideInput::for_workflow(
                    &c.check,
                    c.id.as_deref().unwrap_or(""),
                    c.legacy,
                    workflow,
                );
                input.id.clone_from(&c.id);
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
        let mut recorded = false;
        if e.override_applied() && self.loaded.is_some() {
            // In order: the runs before this one go first.
            self.settle_runs()?;
        }
        if let (true, Some(o), Some(c)) =
            (e.override_applied(), self.loaded.as_mut(), &self.console)
        {
            // One use: recording the use (with this run and its audit
            // entry, in one transaction) is what grants it. If another run
            // recorded it first, this evaluation is as without it.
            let run = NewRun {
                at: self.run_at.clone(),
                actor: self.actor.clone(),
                workflow_id: e.workflow_id.clone(),
                verdict: e.verdict.as_str().to_string(),
                override_id: None,
                log_line: decision_log_line(&card, &e, self.now.as_second()),
            };
            let won = self
                .rt
                .block_on(c.use_override_for_run(&o.doc, o.checked.verification.format, &run))
                .map_err(fail)?;
            o.consumed = true;
            recorded = won;
            if !won {
                let refused = OverrideInput {
                    refused: Some("used".into()),
                    bypass_micro_pilot: false,
                    forced_verdict: None,
                    ..input
                };
                e = evaluate(&card, &self.policy, &refused);
            } else if o.checked.legacy && self.args.mark_used {
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
        let record = (self.log.is_some() || (self.runs.is_some() && !recorded))
            .then(|| decision_log_line(&card, &e, self.now.as_second()));
        let queued = (self.queue.is_some() && e.verdict == Verdict::Borderline)
            .then(|| borderline_record(&card, &e, &gavel_trust::rfc3339(self.now)));
        self.emit(origin, &e, recorded, record, queued.as_ref())
    }

    /// Counts, logs, records, queues and prints one evaluation; `record`
    /// is its decision-log line (when logged or recorded), `queued` its
    /// borderline record (when queued).
    fn emit(
        &mut self,
        origin: &Origin<'_>,
        e: &Evaluation,
        recorded: bool,
        record: Option<String>,
        queued: Option<&Value>,
    ) -> Result<(), Failure> {
        if e.overrides.applied == Some(false) && e.overrides.refused.is_some() {
            self.any_refused = true;
        }
        self.summary.add(e);
        if let (Some(log), Some(record)) = (self.log.as_mut(), &record) {
            log.append_line(record)?;
        }
        if let (Some(runs), false, Some(record)) = (self.runs.as_mut(), recorded, &record) {
            runs.push(e.workflow_id.as_deref(), e.verdict.as_str(), record);
            if due(runs, self.handed) {
                self.flush_runs()?;
            }
        }
        if let (Some(queue), Some(q)) = (self.queue.as_mut(), queued) {
            queue.append(q)?;
        }
        render(self.format, || origin.label(), e, &mut self.out).map_err(unwritable_stdout)?;
        if self.out.len() >= OUTPUT_BLOCK {
            self.flush()?;
        }
        Ok(())
    }

    /// Hands the runs not yet in the store to the writer, which records
    /// them in one transaction while the next ones are evaluated.
    fn flush_runs(&mut self) -> Result<(), Failure> {
        if let (Some(runs), Some(c)) = (self.runs.as_mut(), &self.console) {
            if !runs.is_empty() {
                // The next batch is likely the size of this one.
                let next = RunBatch::with_capacity(
                    self.run_at.clone(),
                    self.actor.clone(),
                    runs.len(),
                    runs.lines().len(),
                );
                let batch = std::mem::replace(runs, next);
                let writer = match &mut self.writer {
                    Some(w) => w,
                    none => none.insert(RunWriter::start(c.clone())?),
                };
                self.handed = std::time::Instant::now();
                if !writer.send(batch) {
                    // The writer stopped on an error: it says which.
                    return self.settle_runs();
                }
            }
        }
        Ok(())
    }

    /// Records every run evaluated so far, and waits until they are in the
    /// store (before an override's use, so runs keep their order, and at
    /// the end).
    fn settle_runs(&mut self) -> Result<(), Failure> {
        let handed = self.flush_runs();
        let written = self.writer.take().map_or(Ok(()), RunWriter::finish);
        written.and(handed)
    }

    /// Flushes the output printed so far (the log and the queue are
    /// written record by record, before the output).
    /// Writes the log and the queue, then prints the output held.
    fn flush(&mut self) -> Result<(), Failure> {
        let logged = self.log.as_mut().map_or(Ok(()), Appender::flush);
        let queued = self.queue.as_mut().map_or(Ok(()), Appender::flush);
        logged?;
        queued?;
        self.stdout
            .write_all(&self.out)
            .and_then(|()| self.stdout.flush())
            .map_err(unwritable_stdout)?;
        self.out.clear();
        Ok(())
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

/// The `.json`, `.jsonl` and `.ndjson` files of a directory and its
/// subdirectories (hidden ones left out), in name order. Symbolic links
/// are followed, each directory and each file once however many links
/// lead to it (`visited`, by canonical path, for the whole run): a diamond
/// of links costs one read per directory, not one per path, and a file
/// linked twice is evaluated once. A link back to a directory being read is
/// an error, not an endless walk.
fn walk(
    dir: &Path,
    ancestors: &mut Vec<PathBuf>,
    visited: &mut Visited,
    files: &mut Vec<String>,
) -> Result<(), Failure> {
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
    if !visited.dirs.insert(canonical.clone()) {
        return Ok(());
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
        let unreadable = |e: std::io::Error| {
            Failure::new("unreadable", format!("cannot read `{shown}`: {e}")).in_file(&shown)
        };
        // Follows links: a link to itself fails here (the OS reports the loop).
        let meta = std::fs::metadata(&path).map_err(unreadable)?;
        if meta.is_dir() {
            walk(&path, ancestors, visited, files)?;
        } else if path
            .extension()
            .is_some_and(|x| x == "json" || x == "jsonl" || x == "ndjson")
            && visited
                .files
                .insert(std::fs::canonicalize(&path).map_err(unreadable)?)
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
    // The store records every run (unless `--no-log`) and any override use.
    let needs_console = args.override_file.is_some() || !args.no_log;
    let console = if needs_console {
        Some(rt.block_on(console())?)
    } else {
        None
    };
    let actor = match &console {
        Some(c) => rt
            .block_on(c.run_actor(args.actor.as_deref()))
            .map_err(fail)?,
        None => None,
    };
    let now = jiff::Timestamp::now();
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
        (None, false, Some(c)) => Some(c.decision_log_path()),
        (None, false, None) => None,
    };
    let mut run = Run {
        args,
        format,
        policy: std::sync::Arc::new(policy),
        rt: &rt,
        console,
        loaded,
        out: Vec::with_capacity(OUTPUT_BLOCK * 2),
        stdout: std::io::stdout().lock(),
        log: log.map(Appender::new),
        queue: args
            .borderline_queue
            .as_ref()
            .map(|q| Appender::new(PathBuf::from(q))),
        summary: BatchSummary::default(),
        any_refused: false,
        now,
        visited: Visited::default(),
        runs: (!args.no_log).then(|| RunBatch::new(run_time(now), actor.clone())),
        run_at: run_time(now),
        actor,
        writer: None,
        handed: std::time::Instant::now(),
    };
    let read = args.scorecards.iter().try_for_each(|p| run.path(p));
    // What was evaluated is recorded, even when a bad scorecard stopped
    // the run.
    let stored = run.settle_runs();
    let flushed = run.flush();
    read?;
    stored?;
    flushed?;
    if run.summary.total == 0 {
        return Err(Failure::usage(
            "no scorecards found in the given paths (files, `.jsonl` files, or directories of `.json`/`.jsonl`/`.ndjson` files)",
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
    let checked = if key_files.is_empty() {
        let rt = runtime()?;
        rt.block_on(async {
            let c = console().await?;
            check_in_store(&c, &doc, file, secret, secret_path, now).await
        })?
    } else {
        // `--key`: exactly these keys, no store, no keychain, no ledger.
        let trusted = read_public_keys(key_files)?;
        let secret = legacy_secret(None, secret, secret_path)?;
        check_override_doc(&doc, &trusted, secret.as_ref(), now)
            .map_err(|e| Failure::new("invalid_override", e.to_string()).in_file(file))?
    };
    let v = &checked.verification;
    let out = checked.report();
    let (valid, ledger_checked) = (out.valid, out.ledger_checked);
    let reason = out.reason.as_deref();
    let message = &out.message;
    let ledger_note = "the single-use ledger was not consulted (--key): whether the override was already used is not known";
    match format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_value(&out).map_err(|e| Failure::new("internal", e.to_string()))?
        ),
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
                    println!(
                        "valid override {} for {target}: {what}",
                        checked.id.as_deref().unwrap_or("")
                    );
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
        } => {
            let validity_seconds = crate::keys::duration(expires_in)?;
            let rt = runtime()?;
            let issued = rt.block_on(async {
                let c = console().await?;
                c.issue_override(&OverrideRequest {
                    workflow_id: workflow,
                    forced_verdict: verdict.as_deref(),
                    bypass_micro_pilot: *bypass_micro_pilot,
                    reason,
                    actor: actor.as_deref(),
                    validity_seconds,
                })
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

/// `gavel scorecard runs`: the runs recorded in the store, newest first.
pub fn runs(args: &RunsArgs, format: OutputFormat) -> Result<ExitCode, Failure> {
    let rt = runtime()?;
    let list = rt.block_on(async {
        let c = console().await?;
        c.list_runs(&RunFilter {
            workflow_id: args.workflow.clone(),
            verdict: args.verdict.clone(),
            since: args.since.clone(),
            until: args.until.clone(),
            limit: args.limit,
            offset: args.offset,
        })
        .await
        .map_err(fail)
    })?;
    match format {
        OutputFormat::Json => {
            let text = serde_json::to_string(&list)
                .map_err(|e| Failure::new("internal", format!("cannot print the runs: {e}")))?;
            println!("{text}");
        }
        _ => {
            for r in &list {
                let with = r
                    .override_id
                    .as_deref()
                    .map(|o| format!("  override {o}"))
                    .unwrap_or_default();
                let by = r
                    .actor
                    .as_deref()
                    .map(|a| format!("  by {a}"))
                    .unwrap_or_default();
                println!(
                    "{:>6}  {}  {:<24} {}{with}{by}",
                    r.id,
                    r.at,
                    r.workflow_id.as_deref().unwrap_or("-"),
                    r.verdict
                );
            }
            if list.is_empty() {
                println!("no scorecard runs recorded match");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
