//! `gavel env|submit|approve|reject|activate|promote|monitor|rollback|
//! incidents|incident|status`: the lifecycle of a version (DESIGN §7,
//! §11.8, §11.9), thin over `gavel-console`'s lifecycle use cases.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use gavel_console::{
    Decision, EnvSettings, Expect, LifecycleError, Transition, human_seconds, parse_duration,
};

use crate::OutputFormat;
use crate::bundle::vfail;
use crate::failure::Failure;
use crate::keys::{console, duration, runtime};

#[derive(Debug, Clone, Subcommand)]
pub enum EnvCommand {
    /// Every environment with its settings.
    #[command(after_help = crate::examples::ENV)]
    List,
    /// Add an environment (quorum 1, canary on, bake time 1h, 100 samples unless given).
    #[command(after_help = crate::examples::ENV_ADD)]
    Add {
        name: String,
        #[command(flatten)]
        settings: SettingArgs,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
    /// Change an environment's settings.
    #[command(after_help = crate::examples::ENV_SET)]
    Set {
        name: String,
        #[command(flatten)]
        settings: SettingArgs,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Debug, Clone, Args)]
pub struct SettingArgs {
    /// Distinct approvals a version needs here (its rules' `approvals_required` may ask for more).
    #[arg(long)]
    quorum: Option<u32>,
    /// Whether activation starts a canary at 10% (where a version is active).
    #[arg(long, value_enum)]
    canary: Option<OnOff>,
    /// How long each canary step bakes before promotion: `0`, `30m`, `1h`, `24h`, `2d`.
    #[arg(long, value_parser = parse_duration)]
    bake_time: Option<i64>,
    /// Decisions the `samples` gate needs.
    #[arg(long)]
    min_samples: Option<u64>,
}

impl SettingArgs {
    fn settings(&self) -> EnvSettings {
        EnvSettings {
            quorum: self.quorum,
            canary: self.canary.map(|c| c == OnOff::On),
            bake_time_seconds: self.bake_time,
            min_samples: self.min_samples,
        }
    }
}

/// What a state change expects (§11.9); unset, the state read when the
/// command began.
#[derive(Debug, Clone, Args)]
pub struct ExpectArgs {
    /// The digest (or `sha256:` and 8+ hex digits) of the version the command expects to be active, or `none`.
    #[arg(long, value_name = "DIGEST")]
    expect_active: Option<String>,
    /// The digest the command expects the canary to have, or `none`.
    #[arg(long, value_name = "DIGEST|none")]
    expect_canary: Option<String>,
}

impl ExpectArgs {
    fn expect(&self) -> Expect {
        Expect {
            active: self.expect_active.clone(),
            canary: self
                .expect_canary
                .as_ref()
                .map(|c| (c != "none").then(|| c.clone())),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct DecideArgs {
    /// NAME@VERSION or sha256:<8+ hex digits>.
    reference: String,
    #[arg(long)]
    env: String,
    /// Why (a rejection needs at least 10 characters).
    #[arg(long)]
    comment: String,
    /// Validity with a unit: `30m`, `12h`, `7d`, `2w` (default 30d).
    #[arg(long)]
    expires_in: Option<String>,
    #[arg(long = "as", env = "GAVEL_IDENTITY")]
    actor: Option<String>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum IncidentCommand {
    /// Close an incident with what was done about it.
    #[command(after_help = crate::examples::INCIDENT_RESOLVE)]
    Resolve {
        id: i64,
        /// What was done (at least 10 characters).
        #[arg(long)]
        comment: String,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum LifecycleCommand {
    /// Freeze a draft (its digest) so that it can be approved.
    #[command(after_help = crate::examples::SUBMIT)]
    Submit {
        reference: String,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
    /// Approve a submitted version for an environment: an approval.v1 envelope signed with your key.
    #[command(after_help = crate::examples::APPROVE)]
    Approve(DecideArgs),
    /// Reject a submitted version for an environment (a comment of at least 10 characters).
    #[command(after_help = crate::examples::REJECT)]
    Reject(DecideArgs),
    /// Activate an approved version: a canary at 10%, or 100% where nothing is active or canary is off.
    #[command(after_help = crate::examples::ACTIVATE)]
    Activate {
        reference: String,
        #[arg(long)]
        env: String,
        #[command(flatten)]
        expect: ExpectArgs,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
    /// Move a canary 10 → 50 → 100 when every gate passes and the bake time has elapsed.
    #[command(after_help = crate::examples::PROMOTE)]
    Promote {
        /// The bundle name.
        bundle: String,
        #[arg(long)]
        env: String,
        /// The canary's counters (`gavel canary check`'s metrics file), or `-`.
        #[arg(long)]
        metrics: String,
        #[command(flatten)]
        expect: ExpectArgs,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
    /// Check a canary's counters against the automatic-rollback thresholds; roll back when one trips.
    #[command(after_help = crate::examples::MONITOR)]
    Monitor {
        #[arg(long)]
        env: String,
        #[arg(long)]
        bundle: String,
        #[arg(long)]
        metrics: String,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
    /// Restore the previous active version at 100% and open an incident.
    #[command(after_help = crate::examples::ROLLBACK)]
    Rollback {
        #[arg(long)]
        env: String,
        /// Why (at least 10 characters).
        #[arg(long)]
        reason: String,
        /// The bundle (needed when several are active in the environment).
        #[arg(long)]
        bundle: Option<String>,
        #[command(flatten)]
        expect: ExpectArgs,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
    /// Incidents, newest first.
    #[command(after_help = crate::examples::INCIDENTS)]
    Incidents {
        /// Only the unresolved ones.
        #[arg(long)]
        open: bool,
    },
    /// Resolve an incident.
    #[command(after_help = crate::examples::INCIDENT_RESOLVE)]
    Incident {
        #[command(subcommand)]
        command: IncidentCommand,
    },
    /// Per environment: active and canary versions, bake time left, gates, and what pending versions still need.
    #[command(after_help = crate::examples::STATUS)]
    Status {
        #[arg(long)]
        bundle: Option<String>,
        #[arg(long)]
        env: Option<String>,
    },
}

/// A lifecycle error as printed: its own code and exit (1 for a refusal,
/// 2 for bad input), a version or console error as theirs.
pub(crate) fn lfail(e: LifecycleError) -> Failure {
    match e {
        LifecycleError::Version(v) => vfail(v, None),
        other => {
            let mut f = Failure::new(other.code().unwrap_or("invalid"), other.to_string());
            f.exit = if other.is_refusal() { 1 } else { 2 };
            f
        }
    }
}

fn print_json(v: &impl serde::Serialize) {
    println!("{}", serde_json::to_string(v).unwrap_or_default());
}

fn short(digest: &str) -> &str {
    digest.get(..19).unwrap_or(digest)
}

fn print_transition(t: &Transition, format: OutputFormat) {
    if format == OutputFormat::Json {
        return print_json(t);
    }
    let r = &t.rollout;
    if !t.tripped.is_empty() {
        println!("rolled back automatically: {}", t.tripped.join("; "));
    }
    if let Some(g) = &t.gates {
        for gate in &g.gates {
            println!(
                "  {:<13} {:<12} {}",
                gate.name,
                gate.state.as_str(),
                gate.message
            );
        }
    }
    println!(
        "{} in {}: serial {}, active {} ({}){}",
        r.bundle,
        r.environment,
        r.serial,
        r.active.reference,
        short(&r.active.digest),
        match &r.canary {
            Some(c) => format!(
                ", canary {} ({}) at {}%, bake time left {}",
                c.slot.reference,
                short(&c.slot.digest),
                c.percent,
                human_seconds(c.bake_time_left_seconds)
            ),
            None => ", no canary".into(),
        }
    );
    if let Some(i) = t.incident {
        println!("incident {i} opened (severity high): see `gavel incidents --open`");
    }
}

pub fn env(cmd: EnvCommand, format: OutputFormat) -> Result<ExitCode, Failure> {
    runtime()?.block_on(async {
        let c = console().await?;
        let shown = match cmd {
            EnvCommand::List => c.environments().await.map_err(lfail)?,
            EnvCommand::Add {
                name,
                settings,
                actor,
            } => vec![
                c.add_environment(&name, settings.settings(), actor.as_deref())
                    .await
                    .map_err(lfail)?,
            ],
            EnvCommand::Set {
                name,
                settings,
                actor,
            } => vec![
                c.set_environment(&name, settings.settings(), actor.as_deref())
                    .await
                    .map_err(lfail)?,
            ],
        };
        match format {
            OutputFormat::Json => print_json(&shown),
            _ => {
                println!(
                    "{:<16} {:>6} {:<6} {:>10} {:>11}",
                    "environment", "quorum", "canary", "bake time", "min samples"
                );
                for e in &shown {
                    println!(
                        "{:<16} {:>6} {:<6} {:>10} {:>11}",
                        e.name,
                        e.quorum,
                        if e.canary { "on" } else { "off" },
                        human_seconds(e.bake_time_seconds),
                        e.min_samples
                    );
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub fn run(cmd: LifecycleCommand, format: OutputFormat) -> Result<ExitCode, Failure> {
    runtime()?.block_on(async {
        let c = console().await?;
        match cmd {
            LifecycleCommand::Submit { reference, actor } => {
                let v = c
                    .submit(&reference, actor.as_deref())
                    .await
                    .map_err(lfail)?;
                match format {
                    OutputFormat::Json => print_json(&v),
                    _ => println!(
                        "submitted {} ({}): approvers can now run `gavel approve {} --env ENV`",
                        v.reference, v.digest, v.reference
                    ),
                }
                let bundle = v.reference.split('@').next().unwrap_or_default();
                crate::registry::publish_note(&c, bundle, actor.as_deref()).await;
            }
            LifecycleCommand::Approve(a) => decide(&c, a, Decision::Approve, format).await?,
            LifecycleCommand::Reject(a) => decide(&c, a, Decision::Reject, format).await?,
            LifecycleCommand::Activate {
                reference,
                env,
                expect,
                actor,
            } => {
                let bundle = reference.split('@').next().unwrap_or_default();
                let expect = expect.expect();
                let change = c.activate(&reference, &env, &expect, actor.as_deref());
                shared(&c, Some(bundle), &env, change, actor.as_deref(), format).await?;
            }
            LifecycleCommand::Promote {
                bundle,
                env,
                metrics: file,
                expect,
                actor,
            } => {
                let m = crate::canary::load_metrics(&file)?;
                let expect = expect.expect();
                let change = c.promote(&bundle, &env, &m, &expect, actor.as_deref());
                shared(&c, Some(&bundle), &env, change, actor.as_deref(), format).await?;
            }
            LifecycleCommand::Monitor {
                env,
                bundle,
                metrics: file,
                actor,
            } => {
                let m = crate::canary::load_metrics(&file)?;
                let expect = Expect::default();
                let change = c.monitor(&bundle, &env, &m, &expect, actor.as_deref());
                shared(&c, Some(&bundle), &env, change, actor.as_deref(), format).await?;
            }
            LifecycleCommand::Rollback {
                env,
                reason,
                bundle,
                expect,
                actor,
            } => {
                let expect = expect.expect();
                let change =
                    c.rollback(&env, bundle.as_deref(), &reason, &expect, actor.as_deref());
                shared(
                    &c,
                    bundle.as_deref(),
                    &env,
                    change,
                    actor.as_deref(),
                    format,
                )
                .await?;
            }
            LifecycleCommand::Incidents { open } => {
                let list = c.incidents(open).await.map_err(lfail)?;
                match format {
                    OutputFormat::Json => print_json(&list),
                    _ if list.is_empty() => {
                        println!("no {}incidents", if open { "open " } else { "" })
                    }
                    _ => {
                        for i in &list {
                            println!(
                                "{:>4} {:<6} {:<8} {}  {} ({} by {}){}",
                                i.id,
                                i.severity,
                                if i.resolved_at.is_some() {
                                    "resolved"
                                } else {
                                    "open"
                                },
                                i.title,
                                i.reason,
                                i.opened_at,
                                i.opened_by,
                                match (&i.resolved_by, &i.resolution) {
                                    (Some(by), Some(r)) => format!("; resolved by {by}: {r}"),
                                    _ => String::new(),
                                }
                            );
                        }
                    }
                }
            }
            LifecycleCommand::Incident {
                command: IncidentCommand::Resolve { id, comment, actor },
            } => {
                let i = c
                    .resolve_incident(id, &comment, actor.as_deref())
                    .await
                    .map_err(lfail)?;
                match format {
                    OutputFormat::Json => print_json(&i),
                    _ => println!("incident {} resolved", i.id),
                }
            }
            LifecycleCommand::Status { bundle, env } => {
                let s = c
                    .status(bundle.as_deref(), env.as_deref())
                    .await
                    .map_err(lfail)?;
                match format {
                    OutputFormat::Json => print_json(&s),
                    _ => print_status(&s),
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

async fn decide(
    c: &gavel_console::Console,
    a: DecideArgs,
    decision: Decision,
    format: OutputFormat,
) -> Result<(), Failure> {
    let validity = a.expires_in.as_deref().map(duration).transpose()?;
    let actor = a.actor.clone();
    let r = c
        .decide(
            &a.reference,
            &a.env,
            decision,
            &a.comment,
            validity,
            a.actor.as_deref(),
        )
        .await
        .map_err(lfail)?;
    match format {
        OutputFormat::Json => print_json(&r),
        _ => {
            println!(
                "{} {} for {} as {} (key {}), valid until {}",
                match decision {
                    Decision::Approve => "approved",
                    Decision::Reject => "rejected",
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
    let bundle = r.reference.split('@').next().unwrap_or_default();
    crate::registry::publish_note(c, bundle, actor.as_deref()).await;
    Ok(())
}

/// A state change as a team makes it (`Console::shared_change`): printed,
/// and what publishing did said on standard error (a failure or a lost
/// race is a warning: the change stands, `gavel sync` repairs).
async fn shared(
    c: &gavel_console::Console,
    bundle: Option<&str>,
    env: &str,
    change: impl std::future::Future<Output = Result<Transition, LifecycleError>>,
    actor: Option<&str>,
    format: OutputFormat,
) -> Result<(), Failure> {
    let (t, published) =
        c.shared_change(bundle, env, change, actor)
            .await
            .map_err(|e| match e {
                gavel_console::RegistryUseError::Lifecycle(l) => lfail(l),
                other => crate::registry::rfail(other),
            })?;
    print_transition(&t, format);
    match published {
        None => {}
        Some(Ok(p)) => {
            eprintln!("published: {}", p.tags.join(", "));
            if let Some(conflict) = p.conflict {
                eprintln!("warning: {conflict}; run `gavel sync`");
            }
        }
        Some(Err(e)) => eprintln!(
            "warning: the rollout is recorded here but not published ({e}); run `gavel sync --bundle {}`",
            t.rollout.bundle
        ),
    }
    Ok(())
}

fn print_status(s: &gavel_console::Status) {
    for e in &s.environments {
        println!(
            "{} (quorum {}, canary {}, bake time {}, min samples {})",
            e.settings.name,
            e.settings.quorum,
            if e.settings.canary { "on" } else { "off" },
            human_seconds(e.settings.bake_time_seconds),
            e.settings.min_samples
        );
        if e.bundles.is_empty() {
            println!("  nothing active or awaiting approval");
        }
        for b in &e.bundles {
            match &b.active {
                Some(a) => println!(
                    "  {:<28} active {} ({}) since {}, serial {}",
                    b.bundle,
                    a.reference,
                    short(&a.digest),
                    a.activated_at,
                    b.serial
                ),
                None => println!("  {:<28} nothing active", b.bundle),
            }
            if let Some(c) = &b.canary {
                println!(
                    "  {:<28} canary {} at {}% since {}, bake time left {}",
                    "",
                    c.slot.reference,
                    c.percent,
                    c.since,
                    human_seconds(c.bake_time_left_seconds)
                );
            }
            if let Some(g) = &b.last_gates {
                println!(
                    "  {:<28} last gates at {}: {}",
                    "",
                    g.at,
                    if g.passed { "passed" } else { "not passed" }
                );
            }
            for p in &b.pending {
                println!(
                    "  {:<28} {} {}: {} of {} approvals{}{}",
                    "",
                    p.state.as_str(),
                    p.reference,
                    p.approvals,
                    p.required,
                    if p.approvers.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", p.approvers.join(", "))
                    },
                    if p.needs > 0 {
                        format!(
                            ", needs {} more approver{}",
                            p.needs,
                            if p.needs == 1 { "" } else { "s" }
                        )
                    } else {
                        String::new()
                    }
                );
            }
        }
    }
}
