//! `gavel`: the command line. Each command parses its arguments, calls the
//! library, prints, and chooses the exit code of DESIGN §11.1: 0 success,
//! 1 a check failed, 2 the input could not be used.

mod commands;
mod diff;
mod failure;
mod input;
mod lint;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::failure::Failure;

#[derive(Debug, Parser)]
#[command(
    name = "gavel",
    version,
    about = "Governance for the policies that govern AI agents' actions"
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
    /// SARIF 2.1.0 (`gavel lint` only).
    Sarif,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check that a bundle parses and follows the schema.
    Validate {
        /// Bundle file (YAML or JSON; a bare list of rules is a bundle too).
        file: String,
    },
    /// Decide one request against a bundle.
    Decide {
        /// Bundle file.
        #[arg(long)]
        bundle: String,
        /// Request file (JSON), or `-` for standard input.
        #[arg(long)]
        request: String,
    },
    /// Lint bundles: schema problems, conflicts, unreachable and unsatisfiable rules, and more.
    Lint {
        /// Bundle files; one report covers them all.
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Compare two versions of a bundle and suggest the next version.
    Diff {
        /// The older version.
        old: String,
        /// The newer version.
        new: String,
    },
    /// Version helpers.
    Version {
        #[command(subcommand)]
        command: VersionCommand,
    },
}

#[derive(Debug, Subcommand)]
enum VersionCommand {
    /// Print the version NEW should have, from its diff against OLD.
    Suggest { old: String, new: String },
}

fn main() -> ExitCode {
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
        Command::Decide { bundle, request } => commands::decide(bundle, request, cli.format),
        Command::Lint { files } => lint::run(files, cli.format),
        Command::Diff { old, new } => diff::run(old, new, cli.format),
        Command::Version {
            command: VersionCommand::Suggest { old, new },
        } => diff::suggest(old, new),
    };
    match result {
        Ok(code) => code,
        Err(failure) => failure.report(cli.format),
    }
}
