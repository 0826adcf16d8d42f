//! `gavel`: the command line. Each command parses its arguments, calls the
//! library, prints, and chooses the exit code of DESIGN §11.1: 0 success,
//! 1 a check failed, 2 the input could not be used.

mod agent;
mod alloc;
mod audit;
mod bundle;
mod canary;
mod commands;
mod diff;
mod examples;
mod failure;
mod governance;
mod input;
mod keys;
mod lifecycle;
mod lint;
mod migrate;
mod registry;
mod review;
mod sim;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::failure::Failure;

/// Batch paths (`sim`, `scorecard eval`, `decide --requests`) allocate
/// cases on worker threads and free them on the main one; mimalloc does
/// that in a fraction of glibc's time.
#[global_allocator]
static ALLOCATOR: alloc::Mimalloc = alloc::Mimalloc;

#[derive(Debug, Parser)]
#[command(
    name = "gavel",
    version,
    about = "Governance for the policies that govern AI agents' actions",
    after_help = examples::ROOT
)]
struct Cli {
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text, global = true)]
    format: OutputFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    /// SARIF 2.1.0, for code-scanning tools: `gavel lint` only, so it is
    /// not offered in every command's help.
    #[value(hide = true)]
    Sarif,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check that a bundle parses and follows the schema.
    #[command(after_help = crate::examples::VALIDATE)]
    Validate {
        /// Bundle file (YAML or JSON; a bare list of rules is a bundle too).
        file: String,
    },
    /// Decide a request against a bundle (or a stream of them, one a line).
    #[command(after_help = crate::examples::DECIDE)]
    Decide {
        /// Bundle file.
        #[arg(long)]
        bundle: String,
        /// Request file (JSON), or `-` for standard input.
        #[arg(
            long,
            required_unless_present = "requests",
            conflicts_with = "requests"
        )]
        request: Option<String>,
        /// JSON Lines of requests (a file, or `-` for standard input): one
        /// decision a line, printed as each is decided.
        #[arg(long)]
        requests: Option<String>,
        /// Also list every rule tried, in order, with the first condition
        /// that failed and why, or that it matched.
        #[arg(long)]
        explain: bool,
    },
    /// Lint bundles: schema problems, conflicts, unreachable and unsatisfiable rules, and more.
    ///
    /// Besides `--format text|json`, lint takes `--format sarif` (SARIF 2.1.0,
    /// for code-scanning tools).
    #[command(after_help = crate::examples::LINT)]
    Lint {
        /// Bundle files; one report covers them all.
        #[arg(required = true)]
        files: Vec<String>,
        /// Findings listed per check (1 to 10000); the summary counts the rest, and an `analysis-incomplete` finding says how many were left out.
        #[arg(long, value_name = "N", default_value = "1000", value_parser = lint::parse_max_findings)]
        max_findings: usize,
    },
    /// Compare two versions of a bundle and suggest the next version.
    #[command(after_help = crate::examples::DIFF)]
    Diff {
        /// The older version.
        old: String,
        /// The newer version.
        new: String,
    },
    /// Identities, keys (private halves in the OS keychain) and the trust store.
    #[command(after_help = crate::examples::KEYS)]
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Sign a document as a DSSE envelope with the acting identity's key.
    #[command(after_help = crate::examples::SIGN)]
    Sign {
        /// bundle, approval, override, rollout, review or trust.
        #[arg(long = "type")]
        kind: String,
        /// The bundle (for `bundle`) or the JSON payload, without `issued_at`/`expires_at` (Gavel sets them).
        file: String,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
        /// Validity with a unit: `30m`, `12h`, `7d`, `2w` (default by type: bundle 365d, approval 30d, override 24h, rollout 7d, review 14d).
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// Verify a signed document (DSSE, team export, or a legacy format).
    #[command(after_help = crate::examples::VERIFY)]
    Verify {
        file: String,
        /// Name of a shared HMAC secret in the keychain.
        #[arg(long, conflicts_with = "secret_file")]
        secret: Option<String>,
        /// A file holding the shared HMAC secret (surrounding whitespace stripped).
        #[arg(long)]
        secret_file: Option<String>,
        /// Trust exactly these public keys (JSON as `keys export` prints), without a store or keychain.
        #[arg(long = "key")]
        keys: Vec<String>,
    },
    /// Workflow scorecards (risk-adjusted ROI).
    #[command(after_help = crate::examples::SCORECARD)]
    Scorecard {
        #[command(subcommand)]
        command: ScorecardCommand,
    },
    /// Signed, scoped, single-use overrides.
    #[command(after_help = crate::examples::OVERRIDE)]
    Override {
        #[command(subcommand)]
        command: governance::OverrideCommand,
    },
    /// Canary gates: judge a canary's metrics before it is promoted.
    #[command(after_help = crate::examples::CANARY)]
    Canary {
        #[command(subcommand)]
        command: canary::CanaryCommand,
    },
    /// Simulate a bundle over a dataset (or compare two bundles, or replay a decision log).
    #[command(after_help = crate::examples::SIM)]
    Sim(SimArgs),
    /// Run a bundle's test cases (cases with `expected_effect`); exit 1 on any mismatch.
    #[command(after_help = crate::examples::TEST)]
    Test {
        /// Bundle file.
        bundle: String,
        /// Case files (JSON array, JSONL or CSV).
        #[arg(required = true)]
        cases: Vec<String>,
    },
    /// Create and migrate the store; `--examples` loads the example bundles as drafts.
    #[command(after_help = crate::examples::INIT)]
    Init {
        /// Also store the example bundles as drafts (running it again adds nothing).
        #[arg(long)]
        examples: bool,
    },
    /// Bundle versions in the store: new, list, show, edit, rm, diff, history, export, import.
    #[command(after_help = crate::examples::BUNDLE)]
    Bundle {
        #[command(subcommand)]
        command: bundle::BundleCommand,
    },
    /// Registries a team shares versions through: add, list, rm.
    #[command(after_help = crate::examples::REGISTRY)]
    Registry {
        #[command(subcommand)]
        command: registry::RegistryCommand,
    },
    /// The team's trust document: publish the keys this console trusts, signed by security identities.
    #[command(after_help = crate::examples::TRUST)]
    Trust {
        #[command(subcommand)]
        command: registry::TrustCommand,
    },
    /// Push a version to its bundle's registry: the bundle, tagged with its version, and its signatures.
    #[command(after_help = crate::examples::PUSH)]
    Push {
        /// NAME@VERSION or a digest prefix.
        reference: String,
        /// Show what would be uploaded, and upload nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
    /// Pull a version from its bundle's registry, verified against the trust store before it is stored.
    #[command(after_help = crate::examples::PULL)]
    Pull {
        /// NAME@VERSION.
        reference: String,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
    /// The engine daemon: run it, or check its configuration.
    #[command(after_help = crate::examples::AGENT)]
    Agent {
        #[command(subcommand)]
        command: agent::AgentCommand,
    },
    /// Fetch what the team published (versions, approvals), verify it, record what verifies, list what does not; publish what this console has.
    #[command(after_help = crate::examples::SYNC)]
    Sync {
        /// Only this bundle (default: every bound bundle).
        #[arg(long)]
        bundle: Option<String>,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
    /// The hash-chained audit log: list, verify, export, checkpoint.
    #[command(after_help = crate::examples::AUDIT)]
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Environments and their settings: list, add, set.
    #[command(after_help = crate::examples::ENV)]
    Env {
        #[command(subcommand)]
        command: lifecycle::EnvCommand,
    },
    #[command(flatten)]
    Lifecycle(lifecycle::LifecycleCommand),
    /// Offline review: pack a version for a reviewer, show and sign the package on their machine, import the approval.
    #[command(after_help = crate::examples::REVIEW)]
    Review {
        #[command(subcommand)]
        command: review::ReviewCommand,
    },
    /// Rewrite a file of a seed project (ApplyLens rules, a menace deployment policy) into Gavel's format, listing every change.
    #[command(after_help = crate::examples::MIGRATE)]
    Migrate {
        #[command(subcommand)]
        command: migrate::MigrateCommand,
    },
    /// Version helpers.
    #[command(after_help = crate::examples::VERSION)]
    Version {
        #[command(subcommand)]
        command: VersionCommand,
    },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct SimArgs {
    #[command(subcommand)]
    command: Option<SimCommand>,
    /// Bundle file.
    #[arg(required = true)]
    bundle: Option<String>,
    #[command(flatten)]
    dataset: sim::DatasetArgs,
}

#[derive(Debug, Subcommand)]
enum SimCommand {
    /// Run two bundles over the same dataset and list every case that changed.
    #[command(after_help = crate::examples::SIM_COMPARE)]
    Compare {
        old: String,
        new: String,
        #[command(flatten)]
        dataset: sim::DatasetArgs,
    },
    /// Run a bundle over a decision log (JSONL) and report what would change.
    #[command(after_help = crate::examples::SIM_REPLAY)]
    Replay {
        bundle: String,
        log: String,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Write every change to FILE as JSON Lines.
        #[arg(long, value_name = "FILE")]
        results: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ScorecardCommand {
    /// Evaluate scorecards against a policy: a verdict with reason codes each.
    #[command(after_help = crate::examples::SCORECARD_EVAL)]
    Eval(governance::EvalArgs),
    /// List the scorecard runs recorded in the store, newest first.
    #[command(after_help = crate::examples::SCORECARD_RUNS)]
    Runs(governance::RunsArgs),
}

#[derive(Debug, Subcommand)]
enum VersionCommand {
    /// Print the version NEW should have, from its diff against OLD.
    #[command(after_help = crate::examples::VERSION_SUGGEST)]
    Suggest { old: String, new: String },
}

/// Output into a closed pipe (`gavel sim … | head -1`) ends gavel quietly,
/// as it ends `cat` or `grep`, instead of a panic in `println!` (exit 101).
/// Rust ignores SIGPIPE by default; this restores the default.
#[cfg(unix)]
fn quiet_on_closed_pipe() {
    #[allow(
        unsafe_code,
        reason = "one call to restore a signal's default action, before any thread starts"
    )]
    // SAFETY: `signal` with `SIG_DFL` changes no memory; called first in
    // `main`, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn quiet_on_closed_pipe() {}

fn main() -> ExitCode {
    quiet_on_closed_pipe();
    let args: Vec<String> = std::env::args().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                print!("{e}");
                return ExitCode::SUCCESS;
            }
            let wants_json = args
                .windows(2)
                .any(|w| w[0] == "--format" && w[1] == "json")
                || args.iter().any(|a| a == "--format=json");
            let text = e.to_string();
            let first_line = text.lines().next().unwrap_or_default();
            let failure = Failure::usage(first_line.trim_start_matches("error: "));
            return failure.report(if wants_json {
                OutputFormat::Json
            } else {
                OutputFormat::Text
            });
        }
    };
    if cli.format == OutputFormat::Sarif && !matches!(cli.command, Command::Lint { .. }) {
        return Failure::usage("`--format sarif` is only for `gavel lint`; use text or json")
            .report(OutputFormat::Text);
    }
    let result = match &cli.command {
        Command::Validate { file } => commands::validate(file, cli.format),
        Command::Decide {
            bundle,
            request,
            requests,
            explain,
        } => match (request, requests) {
            (_, Some(batch)) => commands::decide_batch(bundle, batch, *explain, cli.format),
            (Some(one), None) => commands::decide(bundle, one, *explain, cli.format),
            (None, None) => Err(Failure::usage(
                "`gavel decide` needs --request or --requests",
            )),
        },
        Command::Lint {
            files,
            max_findings,
        } => lint::run(files, *max_findings, cli.format),
        Command::Diff { old, new } => diff::run(old, new, cli.format),
        Command::Review { command } => review::review(command.clone(), cli.format),
        Command::Version {
            command: VersionCommand::Suggest { old, new },
        } => diff::suggest(old, new, cli.format),
        Command::Sim(args) => match (&args.command, &args.bundle) {
            (Some(SimCommand::Compare { old, new, dataset }), _) => {
                sim::compare(old, new, dataset, cli.format)
            }
            (
                Some(SimCommand::Replay {
                    bundle,
                    log,
                    threads,
                    results,
                }),
                _,
            ) => sim::replay(bundle, log, *threads, results.as_deref(), cli.format),
            (None, Some(bundle)) => sim::run(bundle, &args.dataset, cli.format),
            (None, None) => Err(Failure::usage(
                "`gavel sim` needs a bundle file (or `compare`/`replay`)",
            )),
        },
        Command::Test { bundle, cases } => sim::test(bundle, cases, cli.format),
        Command::Scorecard {
            command: ScorecardCommand::Eval(args),
        } => governance::eval(args, cli.format),
        Command::Scorecard {
            command: ScorecardCommand::Runs(args),
        } => governance::runs(args, cli.format),
        Command::Override { command } => governance::overrides(command, cli.format),
        Command::Canary { command } => canary::run(command, cli.format),
        Command::Migrate { command } => migrate::run(command, cli.format),
        Command::Keys { command } => keys::keys(command.clone(), cli.format),
        Command::Init { examples } => bundle::init(*examples, cli.format),
        Command::Bundle { command } => bundle::bundle(command.clone(), cli.format),
        Command::Audit { command } => audit::audit(command.clone(), cli.format),
        Command::Registry { command } => registry::registry(command.clone(), cli.format),
        Command::Agent { command } => agent::agent(command.clone(), cli.format),
        Command::Trust { command } => registry::trust(command.clone(), cli.format),
        Command::Push {
            reference,
            dry_run,
            actor,
        } => registry::push(reference, *dry_run, actor.as_deref(), cli.format),
        Command::Sync { bundle, actor } => {
            registry::sync(bundle.as_deref(), actor.as_deref(), cli.format)
        }
        Command::Pull { reference, actor } => {
            registry::pull(reference, actor.as_deref(), cli.format)
        }
        Command::Env { command } => lifecycle::env(command.clone(), cli.format),
        Command::Lifecycle(command) => lifecycle::run(command.clone(), cli.format),
        Command::Sign {
            kind,
            file,
            actor,
            expires_in,
        } => keys::sign(
            kind,
            file,
            actor.as_deref(),
            expires_in.as_deref(),
            cli.format,
        ),
        Command::Verify {
            file,
            secret,
            secret_file,
            keys: key_files,
        } => keys::verify(
            file,
            secret.as_deref(),
            secret_file.as_deref(),
            key_files,
            cli.format,
        ),
    };
    match result {
        Ok(code) => code,
        Err(failure) => failure.report(cli.format),
    }
}
