//! `gavel sim`, `gavel sim compare`, `gavel sim replay` and `gavel test`.
//!
//! Cases are streamed: synthetic ones generated as they are decided, JSON
//! Lines and CSV files read a line (a row) at a time, and each outcome goes
//! straight to the report's totals and, with `--results FILE`, to a JSON
//! Lines file. Memory does not grow with the number of cases (DESIGN §11.7);
//! only a JSON array file is read whole, under the 16 MiB limit.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{IsTerminal, Read as _, Write as _};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gavel_policy::sim::{
    self, CHUNK_CASES, Case, CaseFormat, Change, CompareRun, CsvCases, DatasetError,
    MAX_INLINE_RESULTS, ReplayRun, Report, ResultRow, SimConfig, SimRun, Summary, fixture_cases,
    parse_case_line, parse_cases, parse_logged_decision,
};
use gavel_policy::{Bundle, Engine, did_you_mean};
use serde::Serialize;

use crate::OutputFormat;
use crate::failure::Failure;
use crate::input::{
    MAX_LINE_BYTES, for_each_line, for_each_line_block, line_failure, load_bundle, open_lines,
    parallel_map, read_text,
};

/// Where cases come from.
#[derive(Debug, Clone, clap::Args)]
pub struct DatasetArgs {
    /// `synthetic` (`--count` cases drawn from the bundle with `--seed`), `fixtures` (the nine curated cases), or a file (JSON array, JSONL or CSV).
    #[arg(long, default_value = "synthetic")]
    pub dataset: String,
    /// Synthetic cases to generate.
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// Seed of the synthetic generator: the same seed gives the same cases everywhere.
    #[arg(long, default_value_t = 1337)]
    pub seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Write every case's result (for `compare`, every change) to FILE as JSON Lines.
    #[arg(long, value_name = "FILE")]
    pub results: Option<String>,
}

fn threads(requested: Option<usize>) -> usize {
    requested
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1)
        .max(1)
}

/// The dataset a run uses, as the output names it.
#[derive(Debug, Clone, Copy)]
enum Dataset<'a> {
    Fixtures,
    Synthetic { count: usize, seed: u64 },
    File(&'a str),
}

impl<'a> Dataset<'a> {
    fn of(args: &'a DatasetArgs) -> Self {
        match args.dataset.as_str() {
            "fixtures" => Dataset::Fixtures,
            "synthetic" => Dataset::Synthetic {
                count: args.count,
                seed: args.seed,
            },
            file => Dataset::File(file),
        }
    }

    /// How many cases, when known before reading them.
    fn count(self) -> Option<usize> {
        match self {
            Dataset::Fixtures => Some(9),
            Dataset::Synthetic { count, .. } => Some(count),
            Dataset::File(_) => None,
        }
    }

    /// `{"kind": "synthetic", "count": N, "seed": S}`, `{"kind": "fixtures"}`
    /// or `{"kind": "file", "path": P}`.
    fn json(self) -> serde_json::Value {
        match self {
            Dataset::Fixtures => serde_json::json!({"kind": "fixtures"}),
            Dataset::Synthetic { count, seed } => {
                serde_json::json!({"kind": "synthetic", "count": count, "seed": seed})
            }
            Dataset::File(path) => serde_json::json!({"kind": "file", "path": path}),
        }
    }

    fn text(self) -> String {
        match self {
            Dataset::Fixtures => "dataset: fixtures (the nine curated cases)".to_string(),
            Dataset::Synthetic { count, seed } => format!(
                "dataset: synthetic, {count} cases drawn from the bundle with seed {seed} (--dataset fixtures|synthetic|FILE)"
            ),
            Dataset::File(path) => format!("dataset: file `{path}`"),
        }
    }
}

/// Feeds every case of the dataset to `each`, in order, without holding
/// them (except a JSON array, which is one document).
fn for_each_case(
    dataset: Dataset<'_>,
    bundles: &[&Bundle],
    threads: usize,
    each: impl FnMut(Case) -> Result<(), Failure>,
) -> Result<(), Failure> {
    match dataset {
        Dataset::Fixtures => fixture_cases().into_iter().try_for_each(each),
        // Compare draws half of the cases from each bundle.
        Dataset::Synthetic { count, seed } => {
            sim::synthetic_dataset(bundles, count, seed).try_for_each(each)
        }
        Dataset::File(file) => for_each_file_case(file, threads, each),
    }
}

fn cases_failure(file: &str, e: &DatasetError, source: Option<String>) -> Failure {
    let mut f =
        Failure::new("invalid_cases", format!("invalid case file: {}", e.message)).in_file(file);
    f.source = source;
    if let Some(d) = f.diagnostics.first_mut() {
        d.line = e.line.and_then(|l| u32::try_from(l).ok());
        d.column = e.column.and_then(|c| u32::try_from(c).ok());
    }
    f
}

/// The format of a case file: by extension, else by its first character.
fn file_format(file: &str) -> Result<CaseFormat, Failure> {
    let by_name = CaseFormat::detect(file, "x");
    let lower = file.to_ascii_lowercase();
    if [".json", ".jsonl", ".ndjson", ".csv"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        return Ok(by_name);
    }
    let mut start = Vec::new();
    open_lines(file)?
        .take(4096)
        .read_to_end(&mut start)
        .map_err(|e| {
            Failure::new("unreadable", format!("cannot read `{file}`: {e}")).in_file(file)
        })?;
    Ok(CaseFormat::detect(file, &String::from_utf8_lossy(&start)))
}

fn for_each_file_case(
    file: &str,
    threads: usize,
    mut each: impl FnMut(Case) -> Result<(), Failure>,
) -> Result<(), Failure> {
    // Standard input cannot be read twice (once to tell its format): it is
    // read whole, under the size limit.
    let format = if file == "-" {
        None
    } else {
        Some(file_format(file)?)
    };
    match format {
        None | Some(CaseFormat::JsonArray) => {
            let text = read_text(file)?;
            let format = format.unwrap_or_else(|| CaseFormat::detect(file, &text));
            let cases = parse_cases(&text, format)
                .map_err(|e| cases_failure(file, &e, Some(text.clone())))?;
            cases.into_iter().try_for_each(each)
        }
        Some(CaseFormat::JsonLines) if threads > 1 => json_lines_ahead(file, threads, each),
        Some(CaseFormat::JsonLines) => json_lines_blocks(file, 1, |block| {
            block.drain(..).try_for_each(&mut each)?;
            Ok(std::mem::take(block))
        }),
        Some(CaseFormat::Csv) => {
            for case in CsvCases::new(open_lines(file)?, MAX_LINE_BYTES) {
                each(case.map_err(|e| cases_failure(file, &e, None))?)?;
            }
            Ok(())
        }
    }
}

/// The cases of a JSON Lines file a block at a time, lines parsed on
/// `threads` workers: `emit` gets each block's cases in file order (an
/// empty list, to fill, comes back from it). A bad line stops the read
/// after the cases before it are emitted.
fn json_lines_blocks(
    file: &str,
    threads: usize,
    mut emit: impl FnMut(&mut Vec<Case>) -> Result<Vec<Case>, Failure>,
) -> Result<(), Failure> {
    let mut ordinal = 0;
    let mut ordinals = Vec::new();
    let mut parsed = Vec::new();
    let mut cases = Vec::new();
    for_each_line_block(file, CHUNK_CASES, |block| {
        ordinals.clear();
        for (_, line) in block {
            if !line.trim().is_empty() {
                ordinal += 1;
            }
            ordinals.push(ordinal);
        }
        parallel_map(block, threads, &mut parsed, |i, &(n, line)| {
            parse_case_line(line, n, ordinals.get(i).copied().unwrap_or(0))
        });
        let mut bad = None;
        for case in parsed.drain(..).flatten() {
            match case {
                Ok(Some(case)) => cases.push(case),
                Ok(None) => {}
                Err(e) => {
                    bad = Some(cases_failure(file, &e, None));
                    break;
                }
            }
        }
        cases = emit(&mut cases)?;
        bad.map_or(Ok(()), Err)
    })
}

/// [`json_lines_blocks`] on a thread of its own, a block ahead: lines
/// are read and parsed there while the cases before them are decided and
/// written here, so the two halves of the work overlap. At most two
/// blocks are held: the one handed over and the one being parsed.
fn json_lines_ahead(
    file: &str,
    threads: usize,
    mut each: impl FnMut(Case) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let (blocks, received) = std::sync::mpsc::sync_channel::<Vec<Case>>(0);
    let (spares, spare) = std::sync::mpsc::sync_channel::<Vec<Case>>(2);
    std::thread::scope(|s| {
        let reader = s.spawn(move || {
            json_lines_blocks(file, threads, |block| {
                blocks
                    .send(std::mem::take(block))
                    .map_err(|_| Failure::new("stopped", "the run stopped"))?;
                Ok(spare.try_recv().unwrap_or_default())
            })
        });
        let mut done = Ok(());
        for mut block in &received {
            done = block.drain(..).try_for_each(&mut each);
            if done.is_err() {
                break;
            }
            let _ = spares.try_send(block);
        }
        // A stop here ends the reader at its next block.
        drop(received);
        let read = reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        done.and(read)
    })
}

/// `gavel sim` over a JSON Lines file: blocks of lines read here, each
/// read and decided in shares on every thread of the run, borrowing the
/// lines (no copy of a case), and folded into the run in file order. A
/// bad line stops the run after the cases before it are folded.
fn json_lines_run(
    file: &str,
    engine: &Engine,
    run: &mut SimRun<'_, '_>,
    tick: &impl Fn(usize),
    sink: &mut impl FnMut(&ResultRow<'_>) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let threads = run.threads();
    let mut ordinal = 0;
    let mut decided = 0;
    for_each_line_block(file, LINES_PER_BLOCK, |block| {
        let numbered: Vec<(usize, &str, usize)> = block
            .iter()
            .map(|&(number, line)| {
                if !line.trim().is_empty() {
                    ordinal += 1;
                }
                (number, line, ordinal)
            })
            .collect();
        crate::input::in_order(
            &numbered,
            CASES_PER_SHARE,
            threads,
            |share| {
                let mut out = Vec::with_capacity(share.len());
                let bad = sim::decide_lines(engine, share, &mut out);
                (out, bad)
            },
            |(cases, bad)| {
                for case in &cases {
                    run.add_line(case, sink)?;
                }
                decided += cases.len();
                tick(decided);
                bad.map_or(Ok(()), |e| Err(cases_failure(file, &e, None)))
            },
        )
    })
}

/// Cases a thread reads and decides at a time in [`json_lines_run`].
const CASES_PER_SHARE: usize = 1024;
/// Lines read at a time in [`json_lines_run`] (or 4 MiB): the threads
/// wait for each block's last share, so few blocks keep them busy.
const LINES_PER_BLOCK: usize = 65_536;

/// A JSON Lines file of results or changes, written as they come.
struct LinesFile {
    path: String,
    out: std::io::BufWriter<std::fs::File>,
}

impl LinesFile {
    fn create(path: &str) -> Result<LinesFile, Failure> {
        if path == "-" {
            return Err(Failure::usage(
                "`--results` needs a file: standard output carries the report",
            ));
        }
        let file = std::fs::File::create(path).map_err(|e| unwritable(path, &e))?;
        Ok(LinesFile {
            path: path.to_string(),
            out: std::io::BufWriter::with_capacity(1 << 20, file),
        })
    }

    fn write(&mut self, item: &impl Serialize) -> Result<(), Failure> {
        serde_json::to_writer(&mut self.out, item)
            .map_err(std::io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(|e| unwritable(&self.path, &e))
    }

    fn finish(mut self) -> Result<(), Failure> {
        self.out.flush().map_err(|e| unwritable(&self.path, &e))
    }
}

fn unwritable(path: &str, e: &std::io::Error) -> Failure {
    Failure::new(
        "unwritable",
        format!("cannot write `{path}`: {e}; check the path and free space"),
    )
    .in_file(path)
}

/// A progress bar on standard error, drawn only on a terminal and only for
/// runs long enough to need one (a count alone when the total is unknown).
struct Progress {
    total: Option<usize>,
    started: Instant,
    last: Mutex<Instant>,
}

impl Progress {
    const MIN_CASES: usize = 50_000;

    fn new(total: Option<usize>) -> Option<Progress> {
        (total.is_none_or(|t| t >= Self::MIN_CASES) && std::io::stderr().is_terminal()).then(|| {
            Progress {
                total,
                started: Instant::now(),
                last: Mutex::new(Instant::now()),
            }
        })
    }

    fn tick(&self, done: usize) {
        if self.total.is_none() && done < Self::MIN_CASES {
            return;
        }
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        let finished = self.total.is_some_and(|t| done >= t);
        if last.elapsed() < Duration::from_millis(100) && !finished {
            return;
        }
        *last = Instant::now();
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        match self.total {
            Some(total) => {
                let width = 30;
                let filled = (done.min(total) * width) / total.max(1);
                eprint!(
                    "\r[{}{}] {done}/{total} cases, {rate:.0}/s",
                    "#".repeat(filled),
                    " ".repeat(width - filled),
                );
                if finished {
                    eprintln!();
                }
            }
            None => eprint!("\r{done} cases, {rate:.0}/s"),
        }
        let _ = std::io::stderr().flush();
    }

    /// Ends the line of a count-only display.
    fn done(&self, total: usize) {
        if self.total.is_none() && total >= Self::MIN_CASES {
            eprintln!();
        }
    }
}

/// `gavel sim --format json`.
#[derive(Serialize)]
struct SimJson<'a> {
    dataset: serde_json::Value,
    summary: &'a Summary,
    /// Up to [`MAX_INLINE_RESULTS`] cases; above that, `--results FILE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    results: Option<&'a [ResultRow<'static>]>,
    examples: &'a [sim::Example],
    rule_hits: &'a sim::RuleHits,
}

/// `gavel sim BUNDLE`: 0 done, 2 bad input.
pub fn run(bundle: &str, args: &DatasetArgs, format: OutputFormat) -> Result<ExitCode, Failure> {
    let b = load_bundle(bundle)?;
    let engine = Engine::compile(&b);
    let dataset = Dataset::of(args);
    let mut file = args.results.as_deref().map(LinesFile::create).transpose()?;
    let bar = Progress::new(dataset.count());
    let tick = |n: usize| {
        if let Some(p) = &bar {
            p.tick(n);
        }
    };
    let config = SimConfig {
        threads: threads(args.threads),
        progress: Some(&tick),
    };
    // The first results are kept for the JSON report; past the limit they
    // are dropped, and only the file (if any) has them.
    let mut inline: Option<Vec<ResultRow<'static>>> = (format == OutputFormat::Json).then(Vec::new);
    let mut sink = |row: &ResultRow<'_>| -> Result<(), Failure> {
        if let Some(f) = file.as_mut() {
            f.write(row)?;
        }
        if let Some(rows) = inline.as_mut() {
            if rows.len() < MAX_INLINE_RESULTS {
                rows.push(row.clone().into_owned());
            } else {
                inline = None;
            }
        }
        Ok(())
    };
    let mut run = SimRun::new(&engine, config);
    match dataset {
        Dataset::File(file) if file != "-" && file_format(file)? == CaseFormat::JsonLines => {
            json_lines_run(file, &engine, &mut run, &tick, &mut sink)?;
        }
        _ => {
            let mut each = |_: &Case, row: &ResultRow<'_>| sink(row);
            for_each_case(dataset, &[&b], config.threads, |case| {
                run.push(case, &mut each)
            })?;
        }
    }
    let report = run.finish(&mut |_: &Case, row: &ResultRow<'_>| sink(row))?;
    if let Some(f) = file {
        f.finish()?;
    }
    if let Some(p) = &bar {
        p.done(report.summary.total_cases);
    }
    match format {
        OutputFormat::Json => {
            let out = SimJson {
                dataset: dataset.json(),
                summary: &report.summary,
                results: inline.as_deref(),
                examples: &report.examples,
                rule_hits: &report.rule_hits,
            };
            println!("{}", serde_json::to_string(&out).unwrap_or_default());
        }
        _ => print!("{}", text(&report, dataset, args.results.as_deref())),
    }
    Ok(ExitCode::SUCCESS)
}

fn summary_lines(out: &mut String, s: &Summary) {
    let pct = |r: f64| format!("{:.1}%", r * 100.0);
    let _ = writeln!(
        out,
        "  allow            {:>8}  {:>6}",
        s.allow_count,
        pct(s.allow_rate)
    );
    let _ = writeln!(
        out,
        "  deny             {:>8}  {:>6}",
        s.deny_count,
        pct(s.deny_rate)
    );
    let _ = writeln!(
        out,
        "  needs_approval   {:>8}  {:>6}",
        s.approval_count,
        pct(s.approval_rate)
    );
    let _ = writeln!(
        out,
        "  no match         {:>8}  {:>6}",
        s.no_match_count,
        pct(s.no_match_rate)
    );
    let _ = writeln!(out, "  with errors      {:>8}", s.error_count);
    let _ = writeln!(
        out,
        "  estimated cost   ${:.2}, compute {} units (approvals only)",
        s.estimated_cost, s.estimated_compute
    );
    if s.breaches.is_empty() {
        let _ = writeln!(out, "  breaches         none");
    }
    for b in &s.breaches {
        let _ = writeln!(out, "  BREACH           {b}");
    }
}

fn text(report: &Report, dataset: Dataset<'_>, results: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", dataset.text());
    let _ = writeln!(out, "{} cases", report.summary.total_cases);
    summary_lines(&mut out, &report.summary);
    if !report.examples.is_empty() {
        let _ = writeln!(out, "examples:");
        for e in &report.examples {
            let (label, by) = match e.matched_rule.as_deref() {
                Some(r) => (e.effect.to_string(), format!("rule `{r}`")),
                None => (
                    "no match".to_string(),
                    format!("no rule matched: the default effect, {}", e.effect),
                ),
            };
            let _ = writeln!(out, "  {label:<15} {}  ({by})", e.case_id);
        }
    }
    let _ = writeln!(out, "rule hits:");
    for (id, n) in &report.rule_hits.0 {
        let _ = writeln!(out, "  {n:>8}  {id}");
    }
    if report.tested > 0 {
        let _ = writeln!(
            out,
            "expectations: {} met, {} not met",
            report.tested - report.failed,
            report.failed
        );
        for f in &report.failures {
            let _ = writeln!(
                out,
                "  {}: expected {}, got {}",
                f.case_id, f.expected, f.actual
            );
        }
        if report.failed > report.failures.len() {
            let _ = writeln!(
                out,
                "  … and {} more",
                report.failed - report.failures.len()
            );
        }
    }
    if let Some(path) = results {
        let _ = writeln!(out, "results: every case in `{path}` (JSON Lines)");
    }
    out
}

/// `gavel sim compare --format json`.
#[derive(Serialize)]
struct CompareJson<'a> {
    dataset: serde_json::Value,
    #[serde(flatten)]
    comparison: &'a sim::Comparison,
}

/// `gavel sim compare OLD NEW`: 0 done, 2 bad input.
pub fn compare(
    old: &str,
    new: &str,
    args: &DatasetArgs,
    format: OutputFormat,
) -> Result<ExitCode, Failure> {
    let (a, b) = (load_bundle(old)?, load_bundle(new)?);
    let (ea, eb) = (Engine::compile(&a), Engine::compile(&b));
    let dataset = Dataset::of(args);
    let mut file = args.results.as_deref().map(LinesFile::create).transpose()?;
    let mut sink = |c: &Change| -> Result<(), Failure> {
        match file.as_mut() {
            Some(f) => f.write(c),
            None => Ok(()),
        }
    };
    let config = SimConfig {
        threads: threads(args.threads),
        progress: None,
    };
    let mut run = CompareRun::new(&ea, &eb, config);
    for_each_case(dataset, &[&a, &b], config.threads, |case| {
        run.push(case, &mut sink)
    })?;
    let c = run.finish(&mut sink)?;
    if let Some(f) = file {
        f.finish()?;
    }
    match format {
        OutputFormat::Json => {
            let out = CompareJson {
                dataset: dataset.json(),
                comparison: &c,
            };
            println!("{}", serde_json::to_string(&out).unwrap_or_default());
        }
        _ => {
            let mut out = String::new();
            let _ = writeln!(out, "{}", dataset.text());
            let _ = writeln!(out, "A: {old}");
            summary_lines(&mut out, &c.summary_a);
            let _ = writeln!(out, "B: {new}");
            summary_lines(&mut out, &c.summary_b);
            let d = &c.deltas;
            let _ = writeln!(
                out,
                "deltas (B - A): allow {:+.3}, deny {:+.3}, approval {:+.3}, no match {:+.3}, cost {:+.2}",
                d.allow_rate, d.deny_rate, d.approval_rate, d.no_match_rate, d.cost
            );
            changes_text(&mut out, &c.changes, c.total_changes, &c.transitions);
            if let Some(path) = &args.results {
                let _ = writeln!(out, "changes: every one in `{path}` (JSON Lines)");
            }
            print!("{out}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn changes_text(
    out: &mut String,
    changes: &[Change],
    total: usize,
    transitions: &std::collections::BTreeMap<String, usize>,
) {
    let _ = writeln!(
        out,
        "{total} case{} changed",
        if total == 1 { "" } else { "s" }
    );
    for (t, n) in transitions {
        let _ = writeln!(out, "  {t}: {n}");
    }
    let shown = 50;
    for c in changes.iter().take(shown) {
        let rule = |r: &Option<String>| {
            r.as_deref()
                .map_or("no rule".to_string(), |r| format!("`{r}`"))
        };
        let _ = writeln!(
            out,
            "  {}: {} ({}) -> {} ({})",
            c.case_id,
            c.before,
            rule(&c.before_rule),
            c.after,
            rule(&c.after_rule)
        );
    }
    if total > shown {
        let _ = writeln!(
            out,
            "  … and {} more (--format json lists the first {}, --results FILE every one)",
            total - shown,
            sim::MAX_LISTED_CHANGES
        );
    }
}

/// `gavel sim replay BUNDLE LOG`: 0 done, 2 bad input.
pub fn replay(
    bundle: &str,
    log: &str,
    threads_arg: Option<usize>,
    results: Option<&str>,
    format: OutputFormat,
) -> Result<ExitCode, Failure> {
    let b = load_bundle(bundle)?;
    let engine = Engine::compile(&b);
    let mut file = results.map(LinesFile::create).transpose()?;
    let mut sink = |c: &Change| -> Result<(), Failure> {
        match file.as_mut() {
            Some(f) => f.write(c),
            None => Ok(()),
        }
    };
    let config = SimConfig {
        threads: threads(threads_arg),
        progress: None,
    };
    let mut run = ReplayRun::new(&engine, config);
    for_each_line(log, |n, line| {
        let logged = parse_logged_decision(line, n).map_err(|e| {
            let mut f = line_failure(
                log,
                e.line.unwrap_or(n),
                "invalid_log",
                format!("invalid decision log: {}", e.message),
            );
            if let Some(d) = f.diagnostics.first_mut() {
                d.column = e.column.and_then(|c| u32::try_from(c).ok());
            }
            f
        })?;
        match logged {
            Some(l) => run.push(l, &mut sink),
            None => Ok(()),
        }
    })?;
    let r = run.finish(&mut sink)?;
    if let Some(f) = file {
        f.finish()?;
    }
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string(&r).unwrap_or_default()),
        _ => {
            let mut out = String::new();
            let _ = writeln!(
                out,
                "replayed {} decisions against {bundle}",
                r.total_decisions
            );
            summary_lines(&mut out, &r.summary);
            changes_text(&mut out, &r.changes, r.total_changes, &r.transitions);
            if let Some(path) = results {
                let _ = writeln!(out, "changes: every one in `{path}` (JSON Lines)");
            }
            print!("{out}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A case of `gavel test` that cannot be run: exit 2, naming the file, the
/// line when known, and the case.
fn bad_case(file: &str, case: &Case, message: String) -> Failure {
    match case.line {
        Some(line) => line_failure(file, line, "invalid_cases", message),
        None => Failure::new("invalid_cases", message).in_file(file),
    }
}

/// Checks what `gavel test` needs of a case: an `expected_rule` naming a
/// rule of the bundle, and a `case_id` no other case of the run has.
fn check_test_case(
    file: &str,
    case: &Case,
    rule_ids: &[&str],
    seen: &mut CaseIds,
) -> Result<(), Failure> {
    if let Some(Some(rule)) = &case.expected_rule {
        if !rule_ids.contains(&rule.as_str()) {
            let hint = match did_you_mean(rule, rule_ids) {
                Some(near) => format!("; did you mean `{near}`?"),
                None => "; use a rule id of the bundle, or `null` for no rule".to_string(),
            };
            return Err(bad_case(
                file,
                case,
                format!(
                    "case `{}`: `expected_rule` `{rule}` names no rule of the bundle{hint}",
                    case.case_id
                ),
            ));
        }
    }
    if case.id_given {
        if let Some((first_file, first_line)) = seen.insert(file, case)? {
            let at = match first_line {
                Some(l) => format!("{first_file}:{l}"),
                None => format!("`{first_file}`"),
            };
            return Err(bad_case(
                file,
                case,
                format!(
                    "case `{}` is defined twice (first at {at}); give each case its own `case_id`",
                    case.case_id
                ),
            ));
        }
    }
    Ok(())
}

/// The most cases of one `gavel test` run whose ids are remembered (to
/// refuse an id given twice): about 30 bytes each, so at most ~300 MB.
pub const MAX_TEST_CASES: usize = 10_000_000;

/// The most failures `gavel test` lists; all are counted.
pub const MAX_LISTED_FAILURES: usize = 1_000;

/// The `case_id`s of a `gavel test` run, each remembered by a 128-bit hash
/// (two SipHash keys chosen at random per run, so ids cannot be crafted to
/// collide) with where it was first given, not by its text.
struct CaseIds<'f> {
    files: &'f [String],
    keys: (std::hash::RandomState, std::hash::RandomState),
    first: HashMap<u128, (u32, u32)>,
}

impl<'f> CaseIds<'f> {
    fn new(files: &'f [String]) -> Self {
        CaseIds {
            files,
            keys: Default::default(),
            first: HashMap::new(),
        }
    }

    /// Records `case`'s id; where it was first given if it was already.
    fn insert(
        &mut self,
        file: &str,
        case: &Case,
    ) -> Result<Option<(&'f str, Option<usize>)>, Failure> {
        use std::hash::BuildHasher as _;
        let id = case.case_id.as_str();
        let hash =
            u128::from(self.keys.0.hash_one(id)) << 64 | u128::from(self.keys.1.hash_one(id));
        let file_index = self.files.iter().position(|f| f == file).unwrap_or(0);
        // Line 0: a case of a file without lines (a JSON array).
        let line = case
            .line
            .map_or(0, |l| u32::try_from(l).unwrap_or(u32::MAX));
        if let Some(&(f, l)) = self.first.get(&hash) {
            let first_file = self.files.get(f as usize).map_or("", String::as_str);
            return Ok(Some((first_file, (l > 0).then_some(l as usize))));
        }
        if self.first.len() >= MAX_TEST_CASES {
            return Err(bad_case(
                file,
                case,
                format!(
                    "a test run checks at most {MAX_TEST_CASES} cases with a `case_id`; split the cases across runs"
                ),
            ));
        }
        self.first
            .insert(hash, (u32::try_from(file_index).unwrap_or(u32::MAX), line));
        Ok(None)
    }
}

/// `gavel test BUNDLE CASES…`: 0 every case as expected, 1 any mismatch,
/// 2 bad input (including a file without a single expectation, an
/// `expected_rule` naming no rule, a `case_id` used twice).
pub fn test(bundle: &str, files: &[String], format: OutputFormat) -> Result<ExitCode, Failure> {
    let b = load_bundle(bundle)?;
    let engine = Engine::compile(&b);
    let rule_ids: Vec<&str> = b.rules.iter().map(|r| r.id.as_str()).collect();
    let mut seen = CaseIds::new(files);
    let mut total = 0;
    let mut failed = 0;
    let mut failures = Vec::new();
    for file in files {
        let mut run = SimRun::new(&engine, SimConfig::default());
        let mut sink = |case: &Case, row: &ResultRow<'_>| -> Result<(), Failure> {
            if let Some(f) = sim::Failure::of(case, row) {
                failed += 1;
                if failures.len() < MAX_LISTED_FAILURES {
                    failures.push((file.clone(), f));
                }
            }
            Ok(())
        };
        for_each_case(Dataset::File(file), &[&b], 1, |case| {
            check_test_case(file, &case, &rule_ids, &mut seen)?;
            run.push(case, &mut sink)
        })?;
        let report = run.finish(&mut sink)?;
        if report.tested == 0 {
            return Err(Failure::new(
                "invalid_cases",
                "no case has `expected_effect` or `expected_rule`, so nothing is tested; add expectations",
            )
            .in_file(file));
        }
        total += report.tested;
    }
    match format {
        OutputFormat::Json => {
            let list: Vec<serde_json::Value> = failures
                .iter()
                .map(|(file, f)| {
                    let mut v = serde_json::to_value(f).unwrap_or_default();
                    v["file"] = file.clone().into();
                    v
                })
                .collect();
            let out = serde_json::json!({
                "passed": failed == 0,
                "total": total,
                "failed": failed,
                "failures": list,
            });
            println!("{out}");
        }
        _ => {
            for (file, f) in &failures {
                let rule = |r: &Option<String>| {
                    r.as_deref()
                        .map_or("no rule".to_string(), |r| format!("rule `{r}`"))
                };
                let expected = match &f.expected_rule {
                    Some(r) => format!("{} by {}", f.expected, rule(r)),
                    None => f.expected.to_string(),
                };
                println!(
                    "FAIL {file}: {}: expected {expected}, got {} by {}",
                    f.case_id,
                    f.actual,
                    rule(&f.actual_rule)
                );
            }
            if failed > failures.len() {
                println!(
                    "… and {} more failures not listed (the first {MAX_LISTED_FAILURES} are)",
                    failed - failures.len()
                );
            }
            println!("{bundle}: {} passed, {failed} failed", total - failed);
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
