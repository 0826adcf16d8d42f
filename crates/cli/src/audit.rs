//! `gavel audit …`: list, verify, export and checkpoint the hash-chained
//! audit log; thin over `gavel-console`.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Subcommand;
use gavel_console::AuditQuery;

use crate::OutputFormat;
use crate::failure::Failure;
use crate::input::read_text;
use crate::keys::{console, fail, runtime};

#[derive(Debug, Clone, Subcommand)]
pub enum AuditCommand {
    /// List audit entries, newest first.
    #[command(after_help = crate::examples::AUDIT_LIST)]
    List {
        /// Only entries by this actor (an identity name, or `gavel`).
        #[arg(long)]
        actor: Option<String>,
        /// Only this action (`identity.create`, `key.trust`, `audit.checkpoint`, …).
        #[arg(long)]
        action: Option<String>,
        /// Only entries about this subject (a name, key id, `NAME@VERSION`, …).
        #[arg(long)]
        subject: Option<String>,
        /// Entries at or after this time (RFC 3339, or a date meaning midnight UTC).
        #[arg(long)]
        since: Option<String>,
        /// Entries before this time (RFC 3339, or a date meaning midnight UTC).
        #[arg(long)]
        until: Option<String>,
        /// At most this many entries (1 to 10000; default 100).
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Verify the hash chain; exit 1 naming the first bad entry.
    #[command(after_help = crate::examples::AUDIT_VERIFY)]
    Verify {
        /// A checkpoint (from `gavel audit checkpoint`): also detects entries removed from the end below it.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<String>,
    },
    /// Write the log as JSON Lines, oldest first, one entry a line with `prev_hash` and `hash`.
    #[command(after_help = crate::examples::AUDIT_EXPORT)]
    Export {
        /// Write to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<String>,
    },
    /// Sign a checkpoint of the newest entry with the operator key (created on first use).
    #[command(after_help = crate::examples::AUDIT_CHECKPOINT)]
    Checkpoint {
        /// Write the checkpoint (a DSSE envelope) to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<String>,
    },
}

fn print_json(v: &impl serde::Serialize) {
    println!("{}", serde_json::to_string(v).unwrap_or_default());
}

fn unwritable(path: &str, e: impl std::fmt::Display) -> Failure {
    Failure::new("unwritable", format!("cannot write `{path}`: {e}")).in_file(path)
}

pub fn audit(cmd: AuditCommand, format: OutputFormat) -> Result<ExitCode, Failure> {
    let rt = runtime()?;
    rt.block_on(async {
        let c = console().await?;
        match cmd {
            AuditCommand::List {
                actor,
                action,
                subject,
                since,
                until,
                limit,
            } => {
                let entries = c
                    .audit_list(AuditQuery {
                        actor,
                        action,
                        subject,
                        since,
                        until,
                        limit,
                    })
                    .await
                    .map_err(fail)?;
                match format {
                    OutputFormat::Json => print_json(&entries),
                    _ => {
                        for e in &entries {
                            let details = gavel_trust::canonicalize(&e.details)
                                .unwrap_or_else(|_| e.details.to_string());
                            println!(
                                "{:>6}  {}  {:<12} {:<18} {}  {}",
                                e.seq, e.at, e.actor, e.action, e.subject, details
                            );
                        }
                        if entries.is_empty() {
                            println!("no audit entries match");
                        }
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            AuditCommand::Verify { checkpoint } => {
                let text = checkpoint.as_deref().map(read_text).transpose()?;
                let v = c.audit_verify(text.as_deref()).await.map_err(|e| {
                    let f = fail(e);
                    match &checkpoint {
                        Some(path) => f.in_file(path),
                        None => f,
                    }
                })?;
                match format {
                    OutputFormat::Json => print_json(&v),
                    _ => {
                        if let Some(cp) = &v.checkpoint {
                            match (cp.valid, cp.seq) {
                                (true, Some(seq)) => println!(
                                    "checkpoint of seq {seq} signed by operator key {}: valid",
                                    cp.signed_by.join(", ")
                                ),
                                _ => println!(
                                    "checkpoint not valid ({}): {}",
                                    cp.reason.map_or("invalid", |r| r.as_str()),
                                    cp.message
                                ),
                            }
                        }
                        match &v.first_bad {
                            Some(b) => println!(
                                "audit log broken at seq {}: {} ({})",
                                b.seq,
                                b.kind.as_str(),
                                b.message
                            ),
                            None => println!(
                                "audit chain intact: {} entries, last seq {} (hash {})",
                                v.entries, v.last_seq, v.last_hash
                            ),
                        }
                        if v.first_bad.is_none() && v.checkpoint.is_none() {
                            println!(
                                "without a checkpoint, entries removed from the end cannot be detected (see `gavel audit checkpoint`)"
                            );
                        }
                    }
                }
                Ok(if v.valid {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                })
            }
            AuditCommand::Export { out } => {
                match &out {
                    Some(path) => {
                        let file = std::fs::File::create(path).map_err(|e| unwritable(path, e))?;
                        let mut w = std::io::BufWriter::new(file);
                        let done = c.audit_export(&mut w).await.map_err(fail)?;
                        w.into_inner()
                            .map_err(|e| unwritable(path, e.error()))?
                            .sync_all()
                            .map_err(|e| unwritable(path, e))?;
                        match format {
                            OutputFormat::Json => print_json(&serde_json::json!({
                                "entries": done.entries, "last_seq": done.last_seq, "out": path,
                            })),
                            _ => println!(
                                "exported {} audit entries (last seq {}) to {path}",
                                done.entries, done.last_seq
                            ),
                        }
                    }
                    None => {
                        let stdout = std::io::stdout();
                        let mut w = std::io::BufWriter::new(stdout.lock());
                        c.audit_export(&mut w).await.map_err(fail)?;
                        w.flush().map_err(|e| unwritable("standard output", e))?;
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            AuditCommand::Checkpoint { out } => {
                let cp = c.audit_checkpoint().await.map_err(fail)?;
                if cp.operator_key_created {
                    eprintln!(
                        "created the operator key {} (in the OS keychain; trusted with the operator role only)",
                        cp.keyid
                    );
                }
                let envelope = serde_json::to_string(&cp.envelope).unwrap_or_default();
                if let Some(path) = &out {
                    std::fs::write(path, format!("{envelope}\n")).map_err(|e| unwritable(path, e))?;
                }
                match (format, &out) {
                    (OutputFormat::Json, _) => print_json(&cp),
                    (_, Some(path)) => println!(
                        "checkpoint of seq {} (hash {}) signed by operator key {}, written to {path}",
                        cp.seq, cp.hash, cp.keyid
                    ),
                    (_, None) => println!("{envelope}"),
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}
