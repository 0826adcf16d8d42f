//! `gavel registry add|list|rm`, `gavel bundle bind`, `gavel push` and
//! `gavel pull` (DESIGN §11.16): thin over `gavel-console`.

use std::io::Read as _;
use std::process::ExitCode;

use clap::Subcommand;
use gavel_console::{RegistryRow, RegistryUseError};
use gavel_trust::Sensitive;

use crate::OutputFormat;
use crate::failure::Failure;
use crate::keys::{console, runtime};

#[derive(Debug, Clone, Subcommand)]
pub enum RegistryCommand {
    /// Add a registry: oci://HOST/NAMESPACE (HTTPS), oci+http://HOST:PORT/NAMESPACE (plain HTTP, loopback), or dir:/PATH.
    #[command(after_help = crate::examples::REGISTRY_ADD)]
    Add {
        name: String,
        url: String,
        /// The user name; the password (or token) is read from standard input and kept in the OS keychain.
        #[arg(long)]
        username: Option<String>,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
    /// The registries and the bundles bound to each.
    #[command(after_help = crate::examples::REGISTRY_LIST)]
    List,
    /// Remove a registry no bundle is bound to (its password leaves the keychain).
    #[command(after_help = crate::examples::REGISTRY_RM)]
    Rm {
        name: String,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum TrustCommand {
    /// Sign the keys this console trusts, with their roles, and publish them as `trust` in every bound bundle's repository; a newer document waiting there with the same keys is co-signed instead.
    #[command(after_help = crate::examples::TRUST_PUBLISH)]
    Publish {
        /// Only this bundle's repository (default: every bound bundle's).
        #[arg(long)]
        bundle: Option<String>,
        /// Security signatures the next document needs (default: the current document's, or 1).
        #[arg(long)]
        quorum: Option<i64>,
        /// Validity with a unit: `30d`, `52w` (default 365d).
        #[arg(long)]
        expires_in: Option<String>,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
}

/// `gavel trust publish`.
pub fn trust(cmd: TrustCommand, format: OutputFormat) -> Result<ExitCode, Failure> {
    let TrustCommand::Publish {
        bundle,
        quorum,
        expires_in,
        actor,
    } = cmd;
    let validity = expires_in
        .as_deref()
        .map(crate::keys::duration)
        .transpose()?;
    let rt = runtime()?;
    rt.block_on(async {
        let c = console().await?;
        let r = c
            .trust_publish(bundle.as_deref(), quorum, validity, actor.as_deref())
            .await
            .map_err(rfail)?;
        match format {
            OutputFormat::Json => print_json(&r),
            _ => {
                println!(
                    "trust v{} ({} keys, quorum {}) signed by {}{}",
                    r.version,
                    r.keys,
                    r.quorum,
                    r.signers.join(", "),
                    if r.cosigned { " (co-signed)" } else { "" }
                );
                for p in &r.published {
                    println!("  published {p}");
                }
                if !r.complete {
                    println!(
                        "  waiting for more security signatures: another security identity runs `gavel trust publish` to co-sign it"
                    );
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn print_json(v: &impl serde::Serialize) {
    println!("{}", serde_json::to_string(v).unwrap_or_default());
}

/// A registry use case's error: its code, exit 1 for a refusal, 2 otherwise.
pub(crate) fn rfail(e: RegistryUseError) -> Failure {
    let mut f = Failure::new(e.code(), e.to_string());
    f.exit = if e.is_refusal() { 1 } else { 2 };
    f
}

fn show(r: &RegistryRow) {
    let user = r
        .username
        .as_deref()
        .map(|u| format!(" (as {u})"))
        .unwrap_or_default();
    let bound = if r.bundles.is_empty() {
        "no bundle bound".to_string()
    } else {
        format!("bound: {}", r.bundles.join(", "))
    };
    println!("{:<16} {}{user}  {bound}", r.name, r.url);
}

pub fn registry(cmd: RegistryCommand, format: OutputFormat) -> Result<ExitCode, Failure> {
    let rt = runtime()?;
    rt.block_on(async {
        let c = console().await?;
        match cmd {
            RegistryCommand::Add {
                name,
                url,
                username,
                actor,
            } => {
                let password = match &username {
                    Some(_) => {
                        let mut text = String::new();
                        std::io::stdin().read_to_string(&mut text).map_err(|e| {
                            Failure::new("unreadable", format!("cannot read the password from standard input: {e}"))
                        })?;
                        let text = text.trim_end_matches(['\r', '\n']).to_string();
                        if text.is_empty() {
                            return Err(Failure::usage(
                                "--username needs the password (or token) on standard input: `echo \"$TOKEN\" | gavel registry add …`",
                            ));
                        }
                        Some(Sensitive::new(text))
                    }
                    None => None,
                };
                let row = c
                    .registry_add(&name, &url, username.as_deref(), password.as_ref(), actor.as_deref())
                    .await
                    .map_err(rfail)?;
                match format {
                    OutputFormat::Json => print_json(&row),
                    _ => println!("added registry {} at {}", row.name, row.url),
                }
            }
            RegistryCommand::List => {
                let rows = c.registry_list().await.map_err(rfail)?;
                match format {
                    OutputFormat::Json => print_json(&rows),
                    _ if rows.is_empty() => {
                        println!("no registry: add one with `gavel registry add NAME URL`");
                    }
                    _ => rows.iter().for_each(show),
                }
            }
            RegistryCommand::Rm { name, actor } => {
                c.registry_rm(&name, actor.as_deref()).await.map_err(rfail)?;
                match format {
                    OutputFormat::Json => print_json(&serde_json::json!({"removed": name})),
                    _ => println!("removed registry {name}"),
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `gavel bundle bind NAME REGISTRY` (within `gavel bundle`'s runtime).
pub async fn bind(
    c: &gavel_console::Console,
    bundle: &str,
    registry: &str,
    actor: Option<&str>,
    format: OutputFormat,
) -> Result<(), Failure> {
    let row = c
        .bind_bundle(bundle, registry, actor)
        .await
        .map_err(rfail)?;
    match format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "bundle": bundle, "registry": row.name, "url": row.url,
        })),
        _ => println!("{bundle} is bound to {} ({})", row.name, row.url),
    }
    Ok(())
}

/// `gavel push REF [--dry-run]`.
pub fn push(
    reference: &str,
    dry_run: bool,
    actor: Option<&str>,
    format: OutputFormat,
) -> Result<ExitCode, Failure> {
    let rt = runtime()?;
    rt.block_on(async {
        let c = console().await?;
        let r = c.push(reference, dry_run, actor).await.map_err(rfail)?;
        match format {
            OutputFormat::Json => print_json(&r),
            _ => {
                let verb = if r.dry_run { "would push" } else { "pushed" };
                println!(
                    "{verb} {} ({}) to {} as {}",
                    r.reference, r.digest, r.registry, r.repository
                );
                for a in &r.artifacts {
                    let bytes: u64 = a.layers.iter().sum();
                    let note = if r.unchanged && a.artifact_type.ends_with("bundle.v1") {
                        " (already there: unchanged)"
                    } else {
                        ""
                    };
                    println!(
                        "  {:<90} {} layer(s), {bytes} bytes{note}",
                        format!("{}:{}", r.repository, a.tag),
                        a.layers.len()
                    );
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `gavel pull NAME@VERSION`.
pub fn pull(
    reference: &str,
    actor: Option<&str>,
    format: OutputFormat,
) -> Result<ExitCode, Failure> {
    let rt = runtime()?;
    rt.block_on(async {
        let c = console().await?;
        let v = c.pull(reference, actor).await.map_err(rfail)?;
        match format {
            OutputFormat::Json => print_json(&v),
            _ => println!(
                "pulled {} ({}), verified; stored as a draft",
                v.reference, v.digest
            ),
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// After a local change to a bound bundle: publishes it and says so on
/// standard error (so JSON output stays one object); a failure is a
/// warning, the local change stands, and `gavel sync` publishes later.
pub async fn publish_note(c: &gavel_console::Console, bundle: &str, actor: Option<&str>) {
    match c.publish_if_bound(bundle, actor).await {
        None => {}
        Some(Ok(r)) if r.published.is_empty() => {}
        Some(Ok(r)) => eprintln!("published to {}: {}", r.registry, r.published.join(", ")),
        Some(Err(e)) => eprintln!(
            "warning: not published to the registry ({e}); the change is recorded here: run `gavel sync --bundle {bundle}` to publish it"
        ),
    }
}

/// `gavel sync [--bundle NAME]`: exit 0 when everything fetched verified,
/// 1 when something was refused (listed), 2 when the registry cannot be
/// used.
pub fn sync(
    bundle: Option<&str>,
    actor: Option<&str>,
    format: OutputFormat,
) -> Result<ExitCode, Failure> {
    let rt = runtime()?;
    rt.block_on(async {
        let c = console().await?;
        let reports = c.sync_all(bundle, actor).await.map_err(rfail)?;
        match format {
            OutputFormat::Json => print_json(&reports),
            _ if reports.is_empty() => {
                println!("no bundle is bound to a registry: `gavel bundle bind NAME REGISTRY`");
            }
            _ => {
                for r in &reports {
                    println!(
                        "{} ({}): {} version(s) and {} approval(s) fetched, {} published",
                        r.bundle,
                        r.registry,
                        r.fetched_versions.len(),
                        r.fetched_approvals.len(),
                        r.published.len()
                    );
                    for v in r
                        .fetched_trust
                        .iter()
                        .chain(&r.fetched_versions)
                        .chain(&r.fetched_approvals)
                        .chain(&r.fetched_rollouts)
                    {
                        println!("  + {v}");
                    }
                    for p in &r.problems {
                        println!("  refused {}: {}", p.tag, p.reason);
                    }
                }
            }
        }
        Ok(if reports.iter().any(|r| !r.problems.is_empty()) {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    })
}
