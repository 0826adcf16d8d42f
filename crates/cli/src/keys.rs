//! `gavel keys …`, `gavel sign` and `gavel verify`: thin over
//! `gavel-console` and `gavel-trust`.

use std::io::Read as _;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;
use gavel_console::{Console, ConsoleError, OsKeychain, gavel_home, keychain_service};
use gavel_trust::{PublicKey, Role, Sensitive, VerifyOptions};

use crate::OutputFormat;
use crate::failure::Failure;
use crate::input::read_text;

#[derive(Debug, Clone, Subcommand)]
pub enum KeysCommand {
    /// Create an identity with a new Ed25519 key (the private half stays in the OS keychain).
    Gen {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        email: String,
        /// Roles to grant (author, approver, analyst, security, operator), comma-separated.
        #[arg(long, value_delimiter = ',')]
        roles: Option<Vec<String>>,
        /// The identity granting the roles (needs the security role).
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
    /// List trusted keys and identities.
    List,
    /// Print a public key as JSON (`{keyid, algorithm, public_key, name, email, roles}`).
    Export { who: String },
    /// Trust a public key (a JSON file as `keys export` prints it) or a trust store export.
    Trust {
        file: String,
        #[arg(long, value_delimiter = ',')]
        roles: Option<Vec<String>>,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
    /// Print the whole trust store as `{"version": 1, "keys": [...]}` (for `keys trust` elsewhere).
    ExportTrust,
    /// Stop trusting a key.
    Untrust {
        keyid: String,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
    /// Give an identity a new key; the old one is retired.
    Rotate { name: String },
    /// Store a shared HMAC secret in the keychain (read from standard input or --from-file).
    Secret {
        name: String,
        #[arg(long)]
        from_file: Option<String>,
    },
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new("internal", format!("cannot start the runtime: {e}")))
}

pub(crate) async fn console() -> Result<Console, Failure> {
    Console::open(
        &gavel_home(),
        Arc::new(OsKeychain::new(&keychain_service())),
    )
    .await
    .map_err(|e| Failure::new("store", e.to_string()))
}

/// Refusals (permission, state) are exit 1; the rest exit 2.
pub(crate) fn fail(e: ConsoleError) -> Failure {
    let mut f = Failure::new(
        if e.is_refusal() { "refused" } else { "invalid" },
        e.to_string(),
    );
    f.exit = if e.is_refusal() { 1 } else { 2 };
    f
}

fn roles(names: Option<Vec<String>>) -> Result<Option<Vec<Role>>, Failure> {
    names
        .map(|list| {
            list.iter()
                .filter(|r| !r.trim().is_empty())
                .map(|r| {
                    Role::parse(r.trim()).ok_or_else(|| {
                        Failure::usage(&format!("unknown role `{r}`; use author, approver, analyst, security or operator"))
                    })
                })
                .collect()
        })
        .transpose()
}

fn print_json(v: &impl serde::Serialize) {
    println!("{}", serde_json::to_string(v).unwrap_or_default());
}

pub fn keys(cmd: KeysCommand, format: OutputFormat) -> Result<ExitCode, Failure> {
    let rt = runtime()?;
    rt.block_on(async {
        let c = console().await?;
        match cmd {
            KeysCommand::Gen { name, email, roles: r, actor } => {
                let made = c.generate_identity(&name, &email, roles(r)?, actor.as_deref()).await.map_err(fail)?;
                match format {
                    OutputFormat::Json => print_json(&made),
                    _ => {
                        println!("created identity `{name}` with key {}", made.public_key.keyid);
                        if made.bootstrap {
                            println!("bootstrap: the first identity of a new store gets every person role ({})", role_list(&made.public_key.roles));
                        } else {
                            println!("roles: {}", role_list(&made.public_key.roles));
                        }
                        println!("the private key is in the OS keychain (service `{}`)", keychain_service());
                    }
                }
            }
            KeysCommand::List => {
                let list = c.list_keys().await.map_err(fail)?;
                match format {
                    OutputFormat::Json => print_json(&list),
                    _ => {
                        for k in &list {
                            let mut tags = Vec::new();
                            if k.identity {
                                tags.push("identity");
                            }
                            if k.retired {
                                tags.push("retired");
                            }
                            println!("{}  {:<16} {:<28} {:<32} {}", k.keyid, k.name, k.email, role_list(&k.roles), tags.join(","));
                        }
                        if list.is_empty() {
                            println!("no keys yet: `gavel keys gen --name NAME --email EMAIL`");
                        }
                    }
                }
            }
            KeysCommand::Export { who } => print_json(&c.export_key(&who).await.map_err(fail)?),
            KeysCommand::Trust { file, roles: r, actor } => {
                let text = read_text(&file)?;
                let doc: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| Failure::new("syntax_error", format!("not JSON: {e}")).in_file(&file))?;
                // One public key, or a trust store export `{version, keys}`.
                let list = match doc.get("keys") {
                    Some(keys) => serde_json::from_value::<Vec<PublicKey>>(keys.clone()),
                    None => serde_json::from_value::<PublicKey>(doc).map(|k| vec![k]),
                }
                .map_err(|e| Failure::new("invalid_key", format!("not a public key document: {e}")).in_file(&file))?;
                let keys = c.trust_keys(list, roles(r)?, actor.as_deref()).await.map_err(fail)?;
                match format {
                    OutputFormat::Json => print_json(&keys),
                    _ => {
                        for key in &keys {
                            println!("trusted {} ({}) with roles {}", key.keyid, key.name, role_list(&key.roles));
                        }
                    }
                }
            }
            KeysCommand::ExportTrust => print_json(&c.export_trust().await.map_err(fail)?),
            KeysCommand::Untrust { keyid, actor } => {
                c.untrust_key(&keyid, actor.as_deref()).await.map_err(fail)?;
                println!("no longer trusted: {keyid}");
            }
            KeysCommand::Rotate { name } => {
                let (old, new) = c.rotate(&name).await.map_err(fail)?;
                match format {
                    OutputFormat::Json => print_json(&serde_json::json!({"retired": old, "public_key": new})),
                    _ => println!("`{name}` now signs with {}; {old} is retired (it still verifies what it signed)", new.keyid),
                }
            }
            KeysCommand::Secret { name, from_file } => {
                let secret = match from_file {
                    Some(path) => secret_file(&path)?,
                    None => {
                        let mut buf = Vec::new();
                        std::io::stdin()
                            .read_to_end(&mut buf)
                            .map_err(|e| Failure::new("unreadable", format!("cannot read standard input: {e}")))?;
                        trimmed(buf).ok_or_else(|| Failure::usage("the secret on standard input is empty"))?
                    }
                };
                c.set_secret(&name, &secret).map_err(fail)?;
                println!("secret `{name}` stored in the OS keychain");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn role_list(roles: &[Role]) -> String {
    if roles.is_empty() {
        "-".to_string()
    } else {
        roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn trimmed(bytes: Vec<u8>) -> Option<Sensitive<Vec<u8>>> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let end = bytes.iter().rposition(|b| !b.is_ascii_whitespace())?;
    Some(Sensitive::new(bytes.get(start..=end)?.to_vec()))
}

/// `--secret-file`: the file's bytes with surrounding whitespace stripped.
pub(crate) fn secret_file(path: &str) -> Result<Sensitive<Vec<u8>>, Failure> {
    let bytes = std::fs::read(path).map_err(|e| {
        Failure::new("unreadable", format!("cannot read `{path}`: {e}")).in_file(path)
    })?;
    trimmed(bytes)
        .ok_or_else(|| Failure::new("invalid_secret", "the secret file is empty").in_file(path))
}

/// `30d`, `24h`, `90m`, `3600s`.
pub(crate) fn duration(text: &str) -> Result<i64, Failure> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: i64 = n.parse().map_err(|_| {
        Failure::usage(&format!(
            "`{text}` is not a duration like `30d`, `24h` or `90m`"
        ))
    })?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" | "" => 86_400,
        _ => {
            return Err(Failure::usage(&format!(
                "unknown unit in `{text}`; use s, m, h or d"
            )));
        }
    };
    n.checked_mul(seconds)
        .filter(|s| *s <= 100 * 365 * 86_400)
        .ok_or_else(|| Failure::usage(&format!("`{text}` is too long; at most 100 years")))
}

/// `gavel sign --type TYPE FILE`: prints the DSSE envelope.
pub fn sign(
    kind: &str,
    file: &str,
    who: Option<&str>,
    expires_in: Option<&str>,
) -> Result<ExitCode, Failure> {
    let payload_type = gavel_trust::payload_type(kind).ok_or_else(|| {
        Failure::usage(&format!(
            "unknown type `{kind}`; use bundle, approval, override, rollout or review"
        ))
    })?;
    let validity = match expires_in {
        Some(d) => duration(d)?,
        None => gavel_trust::default_validity(payload_type),
    };
    let now = jiff::Timestamp::now();
    let expires = jiff::Timestamp::from_second(now.as_second() + validity)
        .map_err(|_| Failure::usage("the expiry is out of range"))?;
    let text = read_text(file)?;
    let rt = runtime()?;
    rt.block_on(async {
        let c = console().await?;
        let (me, _) = c.signing_key(who).await.map_err(fail)?;
        let payload = if kind == "bundle" {
            let fmt = gavel_policy::Format::detect(file, &text);
            let bundle = gavel_policy::parse_bundle(&text, fmt)
                .map_err(|e| Failure::load(file, Some(text.clone()), &e))?;
            gavel_trust::bundle_payload(&bundle.document().to_json(), &me.name, now, expires)
                .map_err(|e| Failure::new("invalid_bundle", e.to_string()).in_file(file))?
        } else {
            let mut v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                Failure::new("syntax_error", format!("the payload is not JSON: {e}")).in_file(file)
            })?;
            let Some(obj) = v.as_object_mut() else {
                return Err(
                    Failure::new("invalid_payload", "the payload must be a JSON object")
                        .in_file(file),
                );
            };
            obj.entry("issued_at")
                .or_insert_with(|| gavel_trust::rfc3339(now).into());
            obj.entry("expires_at")
                .or_insert_with(|| gavel_trust::rfc3339(expires).into());
            v
        };
        let env = c
            .sign(payload_type, &payload, Some(&me.name))
            .await
            .map_err(fail)?;
        println!("{}", serde_json::to_string_pretty(&env).unwrap_or_default());
        Ok(ExitCode::SUCCESS)
    })
}

/// `gavel verify FILE`: 0 valid, 1 invalid, 2 unreadable or not JSON.
pub fn verify(
    file: &str,
    secret_name: Option<&str>,
    secret_path: Option<&str>,
    keys: &[String],
    format: OutputFormat,
) -> Result<ExitCode, Failure> {
    let text = read_text(file)?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Failure::new("syntax_error", format!("not JSON: {e}")).in_file(file))?;
    let now = jiff::Timestamp::now();
    let file_secret = secret_path.map(secret_file).transpose()?;
    let result = if !keys.is_empty() {
        // `--key`: trust exactly these keys, without a store or keychain.
        let mut trusted = Vec::new();
        for k in keys {
            let t = read_text(k)?;
            let key: PublicKey = serde_json::from_str(&t).map_err(|e| {
                Failure::new("invalid_key", format!("not a public key document: {e}")).in_file(k)
            })?;
            key.verifying_key()
                .map_err(|e| Failure::new("invalid_key", e.to_string()).in_file(k))?;
            trusted.push(key);
        }
        let secret = match (secret_name, &file_secret) {
            (Some(_), _) => {
                return Err(Failure::usage(
                    "--key verifies without the keychain: use --secret-file, not --secret",
                ));
            }
            (None, s) => s.as_ref(),
        };
        gavel_trust::verify(
            &doc,
            &VerifyOptions {
                now,
                trusted: &trusted,
                secret,
                expected_type: None,
            },
        )
    } else {
        let rt = runtime()?;
        rt.block_on(async {
            let c = console().await?;
            let secret = match secret_name {
                Some(name) => Some(c.secret(name).map_err(fail)?),
                None => file_secret,
            };
            c.verify(&doc, secret.as_ref(), now).await.map_err(fail)
        })?
    };
    match format {
        OutputFormat::Json => print_json(&result),
        _ => {
            if result.valid {
                let who: Vec<String> = result
                    .signers
                    .iter()
                    .map(|s| {
                        format!(
                            "{} ({}{})",
                            s.name,
                            s.keyid,
                            if s.roles.is_empty() {
                                String::new()
                            } else {
                                format!(": {}", role_list(&s.roles))
                            }
                        )
                    })
                    .collect();
                let format = serde_json::to_value(result.format)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                println!("valid {format}, signed by {}", who.join(", "));
                if let (Some(i), Some(e)) = (&result.issued_at, &result.expires_at) {
                    println!("issued {i}, expires {e}");
                }
                if result.legacy {
                    println!("legacy format: {}", result.message);
                }
            } else {
                let reason = result
                    .reason
                    .map(|r| {
                        serde_json::to_value(r)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default()
                    })
                    .unwrap_or_default();
                println!("INVALID ({reason}): {}", result.message);
            }
        }
    }
    Ok(if result.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
