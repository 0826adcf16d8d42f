//! `gavel scorecard eval` and `gavel override issue|verify`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use gavel_governance::{
    BatchSummary, Evaluation, OverrideInput, Policy, Verdict, decision_log_record, evaluate,
    override_input,
};
use gavel_trust::{Reason, Role, Sensitive, VerifyOptions};
use serde_json::{Value, json};

use crate::OutputFormat;
use crate::failure::Failure;
use crate::input::read_text;
use crate::keys::{console, fail, runtime, secret_file};

const OVERRIDE_TYPE: &str = "application/vnd.gavel.override.v1+json";

#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// Scorecard files (JSON), JSON Lines files of scorecards, or directories of `.json` scorecards.
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
        /// The override id (default: derived from the workflow and the time).
        #[arg(long)]
        id: Option<String>,
    },
    /// Verify an override (signature, expiry, signer's role, whether it was used).
    Verify {
        file: String,
        #[arg(long, conflicts_with = "secret_file")]
        secret: Option<String>,
        #[arg(long)]
        secret_file: Option<String>,
    },
}

fn load_policy(path: &str) -> Result<Policy, Failure> {
    let text = read_text(path)?;
    let doc = gavel_policy::parse_document(&text, gavel_policy::Format::detect(path, &text))
        .map_err(|e| Failure::load(path, Some(text.clone()), &e))?;
    Policy::from_json(&doc.to_json()).map_err(|e| {
        let mut f = Failure::new("invalid_policy", format!("invalid policy: {e}")).in_file(path);
        f.diagnostics =
            e.0.iter()
                .map(|p| gavel_policy::Diagnostic {
                    message: p.to_string(),
                    pointer: p.rule.map(|r| format!("/rules/{r}/condition")),
                    line: None,
                    column: None,
                })
                .collect();
        f
    })
}

/// Scorecards from files, JSON Lines and directories, each with a label.
fn load_scorecards(paths: &[String]) -> Result<Vec<(String, Value)>, Failure> {
    let mut out = Vec::new();
    for p in paths {
        let path = Path::new(p);
        if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| {
                    Failure::new("unreadable", format!("cannot read directory `{p}`: {e}"))
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "json" || x == "jsonl"))
                .collect();
            files.sort();
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            out.extend(load_scorecards(&names)?);
            continue;
        }
        let text = read_text(p)?;
        let whole = if p.ends_with(".jsonl") {
            None
        } else {
            serde_json::from_str::<Value>(&text).ok()
        };
        match whole {
            Some(Value::Array(items)) => {
                for (i, c) in items.into_iter().enumerate() {
                    out.push((format!("{p}[{i}]"), check_card(c, p)?));
                }
            }
            Some(card) => out.push((p.clone(), check_card(card, p)?)),
            // Not one JSON value: JSON Lines, one scorecard a line.
            None => {
                for (i, line) in text.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let card: Value = serde_json::from_str(line).map_err(|e| {
                        let mut f =
                            Failure::new("invalid_scorecard", format!("not a JSON scorecard: {e}"))
                                .in_file(p);
                        if let Some(d) = f.diagnostics.first_mut() {
                            d.line = u32::try_from(i + 1).ok();
                        }
                        f
                    })?;
                    out.push((format!("{p}:{}", i + 1), check_card(card, p)?));
                }
            }
        }
    }
    Ok(out)
}

fn check_card(card: Value, file: &str) -> Result<Value, Failure> {
    if !card.is_object() {
        return Err(
            Failure::new("invalid_scorecard", "a scorecard is a JSON object").in_file(file),
        );
    }
    for k in ["raroi", "confidence", "sandbox_roi", "adapter_roi"] {
        if let Some(v) = card.get(k).filter(|v| !v.is_null() && !v.is_number()) {
            return Err(Failure::new(
                "invalid_scorecard",
                format!("`{k}` must be a number, found {v}"),
            )
            .in_file(file));
        }
    }
    Ok(card)
}

/// An override, read and verified once for the whole run.
struct LoadedOverride {
    id: String,
    legacy: bool,
    content: Value,
    signer_is_security: bool,
    refused: Option<String>,
    doc: Value,
    path: String,
    /// Applied (and so used up) by an earlier scorecard of this run.
    consumed: bool,
}

fn reason_name(r: Option<Reason>) -> String {
    r.and_then(|r| serde_json::to_value(r).ok())
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "invalid".into())
}

async fn load_override(
    c: &gavel_console::Console,
    path: &str,
    secret_name: Option<&str>,
    secret_path: Option<&str>,
) -> Result<LoadedOverride, Failure> {
    let text = read_text(path)?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| {
        Failure::new("syntax_error", format!("the override is not JSON: {e}")).in_file(path)
    })?;
    let secret: Option<Sensitive<Vec<u8>>> = match (secret_name, secret_path) {
        (Some(n), _) => Some(c.secret(n).map_err(fail)?),
        (None, Some(p)) => Some(secret_file(p)?),
        _ => None,
    };
    let trusted = c.trusted_keys().await.map_err(fail)?;
    let v = gavel_trust::verify(
        &doc,
        &VerifyOptions {
            now: jiff::Timestamp::now(),
            trusted: &trusted,
            secret: secret.as_ref(),
            expected_type: Some(OVERRIDE_TYPE),
        },
    );
    // What the document is, as verification established it: never guessed
    // from which fields happen to be present.
    let legacy_file = v.format == gavel_trust::Format::LegacyOverride;
    if !matches!(
        v.format,
        gavel_trust::Format::Dsse | gavel_trust::Format::LegacyOverride
    ) {
        return Err(Failure::new(
            "invalid_override",
            "not an override: expected a signed override envelope or a legacy `{data, signature}` file",
        )
        .in_file(path));
    }
    let content = v.payload.clone().unwrap_or(Value::Null);
    let id = if legacy_file {
        gavel_trust::legacy_ledger_key(&doc)
            .map(|d| d.to_string())
            .unwrap_or_default()
    } else {
        content
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut refused = (!v.valid).then(|| reason_name(v.reason));
    if refused.is_none() && !legacy_file && id.is_empty() {
        refused = Some("malformed".into());
    }
    if refused.is_none() && c.override_used(&id).await.map_err(fail)? {
        refused = Some("used".into());
    }
    Ok(LoadedOverride {
        signer_is_security: legacy_file
            || v.signers.iter().any(|s| s.roles.contains(&Role::Security)),
        id,
        legacy: legacy_file,
        content,
        refused,
        doc,
        path: path.to_string(),
        consumed: false,
    })
}

/// `gavel scorecard eval`: 0 evaluated, 1 a given override was refused, 2 bad input.
pub fn eval(args: &EvalArgs, format: OutputFormat) -> Result<ExitCode, Failure> {
    let mut policy = load_policy(&args.policy)?;
    if args.borderline_queue.is_some() {
        policy.borderline_queue = true;
    }
    let cards = load_scorecards(&args.scorecards)?;
    if cards.is_empty() {
        return Err(Failure::usage("no scorecards found in the given paths"));
    }
    let rt = runtime()?;
    rt.block_on(async {
        let needs_console = args.override_file.is_some() || (!args.no_log && args.log.is_none());
        let c = if needs_console {
            Some(console().await?)
        } else {
            None
        };
        let mut loaded = match (&args.override_file, &c) {
            (Some(path), Some(c)) => Some(
                load_override(c, path, args.secret.as_deref(), args.secret_file.as_deref()).await?,
            ),
            _ => None,
        };
        let log_path = match (&args.log, args.no_log, &c) {
            (_, true, _) => None,
            (Some(p), _, _) => Some(PathBuf::from(p)),
            (None, false, Some(c)) => Some(c.home().join("governance/decision_log.jsonl")),
            (None, false, None) => None,
        };
        let mut any_refused = false;
        let mut summary = BatchSummary::default();
        let mut outputs = Vec::new();
        let mut log_lines = Vec::new();
        let mut queue_lines = Vec::new();
        let now = jiff::Timestamp::now();
        for (label, card) in &cards {
            let workflow = card.get("workflow_id").and_then(Value::as_str);
            let input = match &loaded {
                None => OverrideInput::default(),
                // Refused by verification (bad signature, expired, used
                // before): evaluated as without it; its content is not read.
                Some(o) if o.refused.is_some() => OverrideInput {
                    id: Some(o.id.clone()),
                    legacy: o.legacy,
                    refused: o.refused.clone(),
                    ..OverrideInput::default()
                },
                Some(o) => {
                    let mut input =
                        override_input(&o.content, &o.id, o.legacy, o.signer_is_security, workflow)
                            .map_err(|e| {
                                Failure::new("invalid_override", e.to_string()).in_file(&o.path)
                            })?;
                    if input.refused.is_none() && o.consumed {
                        input.refused = Some("used".into());
                    }
                    input
                }
            };
            let mut e: Evaluation = evaluate(card, &policy, &input);
            if let (true, Some(o), Some(c)) = (e.override_applied(), loaded.as_mut(), &c) {
                // One use: recording the use is what grants it. If another
                // run recorded it first, this evaluation is as without it.
                let won = c
                    .consume_override(&o.id, workflow, o.legacy)
                    .await
                    .map_err(fail)?;
                o.consumed = true;
                if !won {
                    let mut refused = input.clone();
                    refused.refused = Some("used".into());
                    e = evaluate(card, &policy, &refused);
                }
                if won && o.legacy && args.mark_used {
                    let mut marked = o.doc.clone();
                    marked["used"] = json!(true);
                    std::fs::write(
                        &o.path,
                        serde_json::to_string_pretty(&marked).unwrap_or_default(),
                    )
                    .map_err(|err| {
                        Failure::new(
                            "unwritable",
                            format!("cannot mark `{}` used: {err}", o.path),
                        )
                    })?;
                }
            }
            if e.overrides.applied == Some(false) && e.overrides.refused.is_some() {
                any_refused = true;
            }
            summary.add(&e);
            log_lines.push(decision_log_record(card, &e, now.as_second()));
            if e.verdict == Verdict::Borderline {
                queue_lines.push(json!({
                    "workflow_id": e.workflow_id,
                    "raroi": [card.get("raroi").cloned().unwrap_or(Value::Null)],
                    "confidence": card.get("confidence").cloned().unwrap_or(Value::Null),
                    "status": "pending",
                    "created_at": gavel_trust::rfc3339(now),
                    "updated_at": gavel_trust::rfc3339(now),
                }));
            }
            outputs.push((label.clone(), e));
        }
        if let Some(p) = &log_path {
            append_jsonl(p, &log_lines)?;
        }
        if let Some(q) = &args.borderline_queue {
            append_jsonl(Path::new(q), &queue_lines)?;
        }
        match format {
            OutputFormat::Json => {
                for (_, e) in &outputs {
                    println!("{}", serde_json::to_string(e).unwrap_or_default());
                }
            }
            _ => {
                for (label, e) in &outputs {
                    let id = e.workflow_id.as_deref().unwrap_or(label);
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
                    println!("{id}: {}{codes}{mode}", e.verdict);
                    if let Some(r) = &e.overrides.refused {
                        println!("  override refused: {r}");
                    } else if e.override_applied() {
                        println!(
                            "  override {} applied",
                            e.overrides.override_id.as_deref().unwrap_or("")
                        );
                    }
                }
                if outputs.len() > 1 {
                    println!("\n{} scorecards", summary.total);
                    for (v, n) in &summary.verdicts {
                        println!("  {v:<12} {n}");
                    }
                    if !summary.reason_codes.is_empty() {
                        println!("reason codes:");
                        for (r, n) in &summary.reason_codes {
                            println!("  {r:<32} {n}");
                        }
                    }
                }
            }
        }
        Ok(if any_refused {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    })
}

fn append_jsonl(path: &Path, lines: &[Value]) -> Result<(), Failure> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure::new(
                "unwritable",
                format!("cannot create `{}`: {e}", dir.display()),
            )
        })?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| {
            Failure::new(
                "unwritable",
                format!("cannot open `{}`: {e}", path.display()),
            )
        })?;
    let mut text = String::new();
    for l in lines {
        text.push_str(&serde_json::to_string(l).unwrap_or_default());
        text.push('\n');
    }
    f.write_all(text.as_bytes()).map_err(|e| {
        Failure::new(
            "unwritable",
            format!("cannot write `{}`: {e}", path.display()),
        )
    })
}

pub fn overrides(cmd: &OverrideCommand, format: OutputFormat) -> Result<ExitCode, Failure> {
    let rt = runtime()?;
    rt.block_on(async {
        let c = console().await?;
        match cmd {
            OverrideCommand::Issue { workflow, verdict, bypass_micro_pilot, reason, actor, expires_in, id } => {
                let forced = match verdict {
                    Some(v) => Some(Verdict::forceable(v).ok_or_else(|| {
                        Failure::usage(&format!("`{v}` is not a verdict an override can force; use promote, demote, pilot or no_go"))
                    })?),
                    None => None,
                };
                if forced.is_none() && !bypass_micro_pilot {
                    return Err(Failure::usage("an override needs --verdict or --bypass-micro-pilot"));
                }
                if reason.trim().chars().count() < 10 {
                    return Err(Failure::usage("--reason must say why, in at least 10 characters"));
                }
                if !c.has_role(actor.as_deref(), Role::Security).await.map_err(fail)? {
                    let mut f = Failure::new("refused", "only an identity with the security role can issue overrides");
                    f.exit = 1;
                    return Err(f);
                }
                let (me, _) = c.signing_key(actor.as_deref()).await.map_err(fail)?;
                let now = jiff::Timestamp::now();
                let secs = crate::keys::duration(expires_in)?;
                let expires = jiff::Timestamp::from_second(now.as_second() + secs).map_err(|_| Failure::usage("expiry out of range"))?;
                let id = id.clone().unwrap_or_else(|| format!("ovr-{workflow}-{}", now.as_second()));
                let payload = json!({
                    "id": id,
                    "workflow_id": workflow,
                    "flags": {"bypass_micro_pilot": bypass_micro_pilot, "forced_verdict": forced},
                    "reason": reason,
                    "issued_by": me.name,
                    "issued_at": gavel_trust::rfc3339(now),
                    "expires_at": gavel_trust::rfc3339(expires),
                });
                let env = c.sign(OVERRIDE_TYPE, &payload, Some(&me.name)).await.map_err(fail)?;
                println!("{}", serde_json::to_string_pretty(&env).unwrap_or_default());
                Ok(ExitCode::SUCCESS)
            }
            OverrideCommand::Verify { file, secret, secret_file: sf } => {
                let o = load_override(&c, file, secret.as_deref(), sf.as_deref()).await?;
                // An unknown verdict makes the override unusable input.
                override_input(&o.content, &o.id, o.legacy, o.signer_is_security, None)
                    .map_err(|e| Failure::new("invalid_override", e.to_string()).in_file(file))?;
                let refused = o.refused.clone().or_else(|| (!o.signer_is_security).then(|| "signer_not_security".to_string()));
                let out = json!({
                    "valid": refused.is_none(),
                    "legacy": o.legacy,
                    "override_id": o.id,
                    "workflow_id": o.content.get("workflow_id"),
                    "reason": refused,
                    "expiry_covered": !o.legacy,
                });
                match format {
                    OutputFormat::Json => println!("{out}"),
                    _ => match &refused {
                        None => println!("valid override {} for {}", o.id, o.content.get("workflow_id").and_then(Value::as_str).unwrap_or("any workflow")),
                        Some(r) => println!("INVALID override: {r}"),
                    },
                }
                Ok(if refused.is_none() { ExitCode::SUCCESS } else { ExitCode::from(1) })
            }
        }
    })
}
