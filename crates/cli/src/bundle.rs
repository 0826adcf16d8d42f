//! `gavel init [--examples]` and `gavel bundle new|list|show|edit|rm|diff|
//! history|export|import`: bundle versions in the store, thin over
//! `gavel-console`'s version use cases.

use std::process::ExitCode;

use clap::Subcommand;
use gavel_console::{ListQuery, VersionError, VersionStatus, VersionSummary};

use crate::OutputFormat;
use crate::failure::Failure;
use crate::input::read_text;
use crate::keys::{console, duration, fail, runtime, secret_file};

#[derive(Debug, Clone, Subcommand)]
pub enum BundleCommand {
    /// Store a bundle file as a new draft version; name and version come from its `metadata`.
    #[command(after_help = crate::examples::BUNDLE_NEW)]
    New {
        /// Bundle file (YAML or JSON), or `-` for standard input.
        file: String,
        #[arg(long)]
        notes: Option<String>,
        /// The acting identity (the version's author).
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
    /// List stored versions, newest first.
    #[command(after_help = crate::examples::BUNDLE_LIST)]
    List {
        /// Only versions of this bundle name.
        #[arg(long)]
        name: Option<String>,
        /// Only versions in this status: draft, submitted, approved, rejected, active, superseded, rolled_back.
        #[arg(long)]
        status: Option<String>,
        /// At most N versions (1 to 1000).
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Skip the first N.
        #[arg(long, default_value_t = 0)]
        offset: i64,
    },
    /// Show a version with its document (REF: NAME@VERSION or sha256:<8+ hex digits>).
    #[command(after_help = crate::examples::BUNDLE_SHOW)]
    Show { reference: String },
    /// Replace a draft's document (same name and version); other statuses are refused.
    #[command(after_help = crate::examples::BUNDLE_EDIT)]
    Edit {
        reference: String,
        file: String,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
    /// Bind a bundle to a registry: its versions, approvals and rollouts travel through `<registry>/<namespace>/<NAME>`.
    #[command(after_help = crate::examples::BUNDLE_BIND)]
    Bind {
        name: String,
        registry: String,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
    /// Remove a draft; other statuses are refused.
    #[command(after_help = crate::examples::BUNDLE_RM)]
    Rm {
        reference: String,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
    /// `gavel diff` over two stored versions.
    #[command(after_help = crate::examples::BUNDLE_DIFF)]
    Diff { old: String, new: String },
    /// Every version of a bundle name with its status, and who did what.
    #[command(after_help = crate::examples::BUNDLE_HISTORY)]
    History { name: String },
    /// Sign a version as a `bundle.v1` DSSE envelope with the acting identity's key.
    #[command(after_help = crate::examples::BUNDLE_EXPORT)]
    Export {
        reference: String,
        /// Write the envelope to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<String>,
        /// Validity with a unit: `30m`, `12h`, `7d`, `2w` (default 365d).
        #[arg(long)]
        expires_in: Option<String>,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
    /// Import a signed bundle (DSSE envelope, team export or legacy export) as a draft, verified first.
    #[command(after_help = crate::examples::BUNDLE_IMPORT)]
    Import {
        file: String,
        /// Name of a shared HMAC secret in the keychain (team and legacy exports).
        #[arg(long, conflicts_with = "secret_file")]
        secret: Option<String>,
        /// A file holding the shared HMAC secret (surrounding whitespace stripped).
        #[arg(long)]
        secret_file: Option<String>,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
}

/// A version error as printed: its own code and exit (1 for a refused
/// change, 2 for bad input), a console error as `keys` maps them, a bundle
/// that does not validate located in its file.
pub(crate) fn vfail(e: VersionError, file: Option<(&str, &str)>) -> Failure {
    match e {
        VersionError::Console(c) => fail(c),
        VersionError::Bundle(load) => match file {
            Some((name, text)) => Failure::load(name, Some(text.to_string()), &load),
            None => Failure::new(load.code(), load.to_string()),
        },
        other => {
            let refusal = other.is_refusal();
            let mut f = Failure::new(other.code().unwrap_or("invalid"), other.to_string());
            f.exit = if refusal { 1 } else { 2 };
            if let (Some((name, _)), "invalid_bundle") = (file, f.code) {
                f = f.in_file(name);
            }
            f
        }
    }
}

fn print_json(v: &impl serde::Serialize) {
    println!("{}", serde_json::to_string(v).unwrap_or_default());
}

fn line(v: &VersionSummary) -> String {
    format!(
        "{:<32} {:<12} {}  {:<10} {}",
        v.reference,
        v.status.as_str(),
        v.digest.get(..19).unwrap_or(&v.digest),
        v.author,
        v.created_at
    )
}

/// `gavel init [--examples]`.
pub fn init(examples: bool, format: OutputFormat) -> Result<ExitCode, Failure> {
    runtime()?.block_on(async {
        let c = console().await?;
        let report = c.init(examples).await.map_err(|e| vfail(e, None))?;
        match format {
            OutputFormat::Json => print_json(&report),
            _ => {
                println!("store ready: {}", report.database);
                for e in &report.examples {
                    let what = if e.added { "added" } else { "already there" };
                    println!("{what}: {} ({}) from {}", e.reference, e.digest, e.file);
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `gavel bundle …`: 0 done, 1 refused (a duplicate version, a version
/// that is not a draft, an import that does not verify), 2 bad input (an
/// invalid bundle, an unknown or ambiguous reference, no identity).
pub fn bundle(cmd: BundleCommand, format: OutputFormat) -> Result<ExitCode, Failure> {
    let rt = runtime()?;
    rt.block_on(async {
        match cmd {
            BundleCommand::New { file, notes, actor } => {
                let text = read_text(&file)?;
                let c = console().await?;
                let v = c
                    .create_version(&file, &text, notes.as_deref(), actor.as_deref())
                    .await
                    .map_err(|e| vfail(e, Some((&file, &text))))?;
                match format {
                    OutputFormat::Json => print_json(&v),
                    _ => println!("created draft {} ({})", v.reference, v.digest),
                }
            }
            BundleCommand::List {
                name,
                status,
                limit,
                offset,
            } => {
                let status = status
                    .map(|s| {
                        VersionStatus::parse(&s).ok_or_else(|| {
                            Failure::usage(&format!(
                                "unknown status `{s}`; use one of {}",
                                VersionStatus::ALL.map(VersionStatus::as_str).join(", ")
                            ))
                        })
                    })
                    .transpose()?;
                let c = console().await?;
                let page = c
                    .list_versions(&ListQuery {
                        name: name.as_deref(),
                        status,
                        limit,
                        offset,
                    })
                    .await
                    .map_err(|e| vfail(e, None))?;
                match format {
                    OutputFormat::Json => print_json(&page),
                    _ => {
                        for v in &page.versions {
                            println!("{}", line(v));
                        }
                        if page.versions.is_empty() && page.total == 0 {
                            println!(
                                "no versions yet: `gavel bundle new FILE` or `gavel init --examples`"
                            );
                        } else {
                            println!(
                                "{} of {} (offset {})",
                                page.versions.len(),
                                page.total,
                                page.offset
                            );
                        }
                    }
                }
            }
            BundleCommand::Show { reference } => {
                let c = console().await?;
                let v = c
                    .show_version(&reference)
                    .await
                    .map_err(|e| vfail(e, None))?;
                match format {
                    OutputFormat::Json => print_json(&v),
                    _ => {
                        let s = &v.summary;
                        println!("{}  {}", s.reference, s.digest);
                        println!(
                            "status: {}; source: {}; author: {}; created: {}",
                            s.status.as_str(),
                            s.source.as_str(),
                            s.author,
                            s.created_at
                        );
                        if !s.notes.is_empty() {
                            println!("notes: {}", s.notes);
                        }
                        println!("provenance: {}", s.provenance);
                        println!();
                        print!("{}", v.document);
                        if !v.document.ends_with('\n') {
                            println!();
                        }
                    }
                }
            }
            BundleCommand::Edit {
                reference,
                file,
                actor,
            } => {
                let text = read_text(&file)?;
                let c = console().await?;
                let v = c
                    .edit_version(&reference, &file, &text, actor.as_deref())
                    .await
                    .map_err(|e| vfail(e, Some((&file, &text))))?;
                match format {
                    OutputFormat::Json => print_json(&v),
                    _ if v.changed => println!(
                        "edited draft {}: {} (was {})",
                        v.version.reference, v.version.digest, v.previous_digest
                    ),
                    _ => println!("{} is unchanged", v.version.reference),
                }
            }
            BundleCommand::Bind {
                name,
                registry,
                actor,
            } => {
                let c = console().await?;
                crate::registry::bind(&c, &name, &registry, actor.as_deref(), format).await?;
            }
            BundleCommand::Rm { reference, actor } => {
                let c = console().await?;
                let v = c
                    .remove_version(&reference, actor.as_deref())
                    .await
                    .map_err(|e| vfail(e, None))?;
                match format {
                    OutputFormat::Json => print_json(&serde_json::json!({"removed": v})),
                    _ => println!("removed draft {} ({})", v.reference, v.digest),
                }
            }
            BundleCommand::Diff { old, new } => {
                let c = console().await?;
                let d = c
                    .diff_versions(&old, &new)
                    .await
                    .map_err(|e| vfail(e, None))?;
                match format {
                    OutputFormat::Json => print_json(&d),
                    _ => {
                        println!(
                            "{} ({}) -> {} ({})",
                            d.old.reference, d.old.digest, d.new.reference, d.new.digest
                        );
                        print!("{}", crate::diff::text(&d.diff));
                    }
                }
            }
            BundleCommand::History { name } => {
                let c = console().await?;
                let h = c.history(&name).await.map_err(|e| vfail(e, None))?;
                match format {
                    OutputFormat::Json => print_json(&h),
                    _ => {
                        println!("versions of `{}`:", h.name);
                        for v in &h.versions {
                            println!("  {}", line(v));
                        }
                        println!("what happened:");
                        for e in &h.events {
                            println!(
                                "  #{} {} {:<14} {:<28} by {}",
                                e.seq, e.at, e.action, e.subject, e.actor
                            );
                        }
                    }
                }
            }
            BundleCommand::Export {
                reference,
                out,
                expires_in,
                actor,
            } => {
                let validity = expires_in.as_deref().map(duration).transpose()?;
                // The output file is created before anything is signed or
                // recorded, so an unwritable path changes nothing.
                let mut sink = out
                    .as_deref()
                    .map(|path| {
                        std::fs::File::create(path).map_err(|e| {
                            Failure::new("unwritable", format!("cannot write `{path}`: {e}"))
                                .in_file(path)
                        })
                    })
                    .transpose()?;
                let c = console().await?;
                let exported = match c
                    .export_version(&reference, validity, actor.as_deref())
                    .await
                {
                    Ok(x) => x,
                    Err(e) => {
                        if let Some(path) = &out {
                            drop(sink.take());
                            let _ = std::fs::remove_file(path);
                        }
                        return Err(vfail(e, None));
                    }
                };
                match (&mut sink, &out) {
                    (Some(f), Some(path)) => {
                        use std::io::Write as _;
                        let text = serde_json::to_string_pretty(&exported.envelope)
                            .unwrap_or_default();
                        writeln!(f, "{text}").map_err(|e| {
                            Failure::new("unwritable", format!("cannot write `{path}`: {e}"))
                                .in_file(path)
                        })?;
                        match format {
                            OutputFormat::Json => print_json(&serde_json::json!({
                                "reference": exported.reference,
                                "digest": exported.digest,
                                "keyid": exported.keyid,
                                "expires_at": exported.expires_at,
                                "out": path,
                            })),
                            _ => println!(
                                "exported {} ({}) signed by {}, expires {}, to {path}",
                                exported.reference,
                                exported.digest,
                                exported.keyid,
                                exported.expires_at
                            ),
                        }
                    }
                    _ => match format {
                        OutputFormat::Json => print_json(&exported.envelope),
                        _ => println!(
                            "{}",
                            serde_json::to_string_pretty(&exported.envelope).unwrap_or_default()
                        ),
                    },
                }
            }
            BundleCommand::Import {
                file,
                secret,
                secret_file: secret_path,
                actor,
            } => {
                let text = read_text(&file)?;
                let file_secret = secret_path.as_deref().map(secret_file).transpose()?;
                let c = console().await?;
                let secret = match secret {
                    Some(name) => Some(c.secret(&name).map_err(fail)?),
                    None => file_secret,
                };
                let v = c
                    .import_version(&text, secret.as_ref(), actor.as_deref())
                    .await
                    .map_err(|e| vfail(e, None).in_file(&file))?;
                match format {
                    OutputFormat::Json => print_json(&v),
                    _ => println!(
                        "imported draft {} ({}) by {}, verified ({})",
                        v.reference, v.digest, v.author, v.provenance["format"]
                    ),
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
