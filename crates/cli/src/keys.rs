//! `gavel keys …`, `gavel sign` and `gavel verify`: thin over
//! `gavel-console` and `gavel-trust`.

use std::io::Read as _;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;
use gavel_console::{Console, ConsoleError, OsKeychain, gavel_home, keychain_service};
use gavel_trust::{PayloadKind, PublicKey, Role, Sensitive, VerifyOptions};

use crate::OutputFormat;
use crate::failure::Failure;
use crate::input::read_text;

#[derive(Debug, Clone, Subcommand)]
pub enum KeysCommand {
    /// Create an identity with a new Ed25519 key (the private half stays in the OS keychain).
    #[command(after_help = crate::examples::KEYS_GEN)]
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
    #[command(after_help = crate::examples::KEYS_LIST)]
    List,
    /// Print a public key as JSON (`{keyid, algorithm, public_key, name, email, roles}`).
    #[command(after_help = crate::examples::KEYS_EXPORT)]
    Export {
        /// An identity (name or key id).
        #[arg(required_unless_present = "operator", conflicts_with = "operator")]
        who: Option<String>,
        /// The console's operator key (made on first use), which signs its rollout documents: teammates trust it with `--roles operator`.
        #[arg(long)]
        operator: bool,
    },
    /// Trust a public key (a JSON file as `keys export` prints it) or a trust store export.
    #[command(after_help = crate::examples::KEYS_TRUST)]
    Trust {
        file: String,
        #[arg(long, value_delimiter = ',')]
        roles: Option<Vec<String>>,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
    /// Print the whole trust store as `{"version": 1, "keys": [...]}` (for `keys trust` elsewhere).
    #[command(after_help = crate::examples::KEYS_EXPORT_TRUST)]
    ExportTrust,
    /// Stop trusting a key.
    #[command(after_help = crate::examples::KEYS_UNTRUST)]
    Untrust {
        keyid: String,
        #[arg(long = "as", env = "GAVEL_IDENTITY")]
        actor: Option<String>,
    },
    /// Give an identity a new key; the old one is retired.
    #[command(after_help = crate::examples::KEYS_ROTATE)]
    Rotate { name: String },
    /// Back up an identity's private key to FILE, encrypted with a passphrase (age format).
    #[command(after_help = crate::examples::KEYS_BACKUP)]
    Backup {
        /// The identity (name or key id).
        name: String,
        /// Where to write the backup (an existing file is not overwritten).
        #[arg(long)]
        out: String,
        /// Read the passphrase from this file (surrounding whitespace stripped) instead of a prompt.
        #[arg(long)]
        passphrase_file: Option<String>,
    },
    /// Restore a key backup: the private key into the keychain, the identity into this store.
    #[command(after_help = crate::examples::KEYS_RESTORE)]
    Restore {
        /// A file written by `gavel keys backup`.
        file: String,
        /// Read the passphrase from this file (surrounding whitespace stripped) instead of a prompt.
        #[arg(long)]
        passphrase_file: Option<String>,
    },
    /// Store a shared HMAC secret in the keychain (read from standard input or --from-file).
    #[command(after_help = crate::examples::KEYS_SECRET)]
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

/// Refusals (permission, state) are exit 1 (`refused`); the rest exit 2:
/// `not_found`, `invalid`, `invalid_payload`, `store`, `keychain`.
pub(crate) fn fail(e: ConsoleError) -> Failure {
    let code = e.code();
    let mut f = Failure::new(code, e.to_string());
    f.exit = if e.is_refusal() { 1 } else { 2 };
    f
}

/// A console error about the payload in `file`: a payload error points at
/// its field (and, where the file has it, its line and column).
fn payload_fail(
    e: ConsoleError,
    file: &str,
    located: Option<(&str, &gavel_policy::Node)>,
) -> Failure {
    let pointer = match &e {
        ConsoleError::Payload(p) => p.pointer(),
        _ => return fail(e),
    };
    let mut f = fail(e).in_file(file);
    if let Some(d) = f.diagnostics.first_mut() {
        d.pointer = pointer.clone();
        if let (Some(ptr), Some((text, node))) = (&pointer, located) {
            let at = node.locate(ptr);
            d.line = Some(at.line);
            d.column = Some(at.column);
            f.source = Some(text.to_string());
        }
    }
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
            KeysCommand::Export { who, operator } => match (who, operator) {
                (_, true) => print_json(&c.operator_key().await.map_err(fail)?.public_key),
                (Some(who), false) => print_json(&c.export_key(&who).await.map_err(fail)?),
                (None, false) => {
                    return Err(Failure::usage("name an identity, or give --operator"));
                }
            },
            KeysCommand::Trust { file, roles: r, actor } => {
                let text = read_text(&file)?;
                let mut doc: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| Failure::new("syntax_error", format!("not JSON: {e}")).in_file(&file))?;
                drop(text);
                // One public key, or a trust store export `{version, keys}`.
                let list = match doc.get_mut("keys").map(serde_json::Value::take) {
                    Some(keys) => serde_json::from_value::<Vec<PublicKey>>(keys),
                    None => serde_json::from_value::<PublicKey>(doc).map(|k| vec![k]),
                }
                .map_err(|e| Failure::new("invalid_key", format!("not a public key document: {e}")).in_file(&file))?;
                let keys = c.trust_keys(list, roles(r)?, actor.as_deref()).await.map_err(fail)?;
                match format {
                    OutputFormat::Json => print_json(&keys),
                    _ => {
                        for t in &keys {
                            println!("trusted {} ({}) with roles {}", t.key.keyid, t.key.name, role_list(&t.key.roles));
                            if !t.ignored_roles.is_empty() {
                                println!(
                                    "  ignored the roles the file names ({}): roles come only from --roles, given by a security identity",
                                    role_list(&t.ignored_roles)
                                );
                            }
                        }
                    }
                }
            }
            KeysCommand::ExportTrust => print_json(&c.export_trust().await.map_err(fail)?),
            KeysCommand::Untrust { keyid, actor } => {
                c.untrust_key(&keyid, actor.as_deref()).await.map_err(fail)?;
                match format {
                    OutputFormat::Json => print_json(&serde_json::json!({"untrusted": keyid})),
                    _ => println!("no longer trusted: {keyid}"),
                }
            }
            KeysCommand::Rotate { name } => {
                let (old, new) = c.rotate(&name).await.map_err(fail)?;
                match format {
                    OutputFormat::Json => print_json(&serde_json::json!({"retired": old, "public_key": new})),
                    _ => println!("`{name}` now signs with {}; {old} is retired (it still verifies what it signed)", new.keyid),
                }
            }
            KeysCommand::Backup { name, out, passphrase_file } => {
                // The file is made first (never over another), so a backup
                // that cannot be written is not made, nor audited.
                let mut file = create_new(&out)?;
                let made = match passphrase(passphrase_file.as_deref(), true) {
                    Ok(p) => c.backup_key(&name, &p).await.map_err(fail),
                    Err(f) => Err(f),
                };
                let made = match made {
                    Ok(m) => m,
                    Err(f) => {
                        drop(file);
                        let _ = std::fs::remove_file(&out);
                        return Err(f);
                    }
                };
                std::io::Write::write_all(&mut file, &made.armored)
                    .and_then(|()| file.sync_all())
                    .map_err(|e| Failure::new("unwritable", format!("cannot write `{out}`: {e}")).in_file(&out))?;
                match format {
                    OutputFormat::Json => print_json(&serde_json::json!({"public_key": made.public_key, "out": out})),
                    _ => {
                        println!("backed up the private key of `{}` ({}) to `{out}`, encrypted with the passphrase", made.public_key.name, made.public_key.keyid);
                        println!("keep the file and the passphrase apart: together they sign as `{}`", made.public_key.name);
                    }
                }
            }
            KeysCommand::Restore { file, passphrase_file } => {
                let bytes = read_backup(&file)?;
                let p = passphrase(passphrase_file.as_deref(), false)?;
                let done = c.restore_key(&bytes, &p).await.map_err(|e| fail(e).in_file(&file))?;
                match format {
                    OutputFormat::Json => print_json(&done),
                    _ => {
                        let k = &done.public_key;
                        println!("restored the private key of `{}` ({}) into the OS keychain (service `{}`)", k.name, k.keyid, keychain_service());
                        if done.identity_added {
                            println!("added identity `{}` to this store, with roles {}{}", k.name, role_list(&k.roles), if done.bootstrap { " (bootstrap: the store was empty)" } else { "" });
                        } else {
                            println!("identity `{}` was already in this store with this key", k.name);
                        }
                        if !done.ignored_roles.is_empty() {
                            println!(
                                "  not granted the roles the backup names ({}): a security identity grants them with `gavel keys trust --roles`",
                                role_list(&done.ignored_roles)
                            );
                        }
                    }
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
                match format {
                    OutputFormat::Json => print_json(&serde_json::json!({"secret": name, "stored": true})),
                    _ => println!("secret `{name}` stored in the OS keychain"),
                }
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

/// Creates `path` for a key backup, refusing to replace a file, readable
/// by its owner only.
fn create_new(path: &str) -> Result<std::fs::File, Failure> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::AlreadyExists {
            "it exists, and a key backup never replaces a file; choose another --out".to_string()
        } else {
            e.to_string()
        };
        Failure::new("unwritable", format!("cannot write `{path}`: {why}")).in_file(path)
    })
}

/// A backup file's bytes (ASCII armor or binary age), at most 16 MiB.
fn read_backup(path: &str) -> Result<Vec<u8>, Failure> {
    let unreadable = |e: std::io::Error| {
        Failure::new("unreadable", format!("cannot read `{path}`: {e}")).in_file(path)
    };
    let len = std::fs::metadata(path).map_err(unreadable)?.len();
    if len > gavel_policy::MAX_FILE_BYTES {
        return Err(Failure::new(
            "file_too_large",
            format!("`{path}` is {len} bytes, over 16 MiB: not a key backup"),
        )
        .in_file(path));
    }
    std::fs::read(path).map_err(unreadable)
}

/// The passphrase of a key backup: from `--passphrase-file` (its bytes,
/// surrounding whitespace stripped, UTF-8, not empty), else typed at the
/// terminal without echo, twice when `confirm` (a backup). It is never
/// printed: errors say what is wrong with it, not what it is.
fn passphrase(file: Option<&str>, confirm: bool) -> Result<Sensitive<String>, Failure> {
    let invalid = |m: &str| Failure::new("invalid_passphrase", m.to_string());
    let text = match file {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| {
                Failure::new("unreadable", format!("cannot read `{path}`: {e}")).in_file(path)
            })?;
            let bytes = trimmed(bytes)
                .ok_or_else(|| invalid("the passphrase file is empty").in_file(path))?;
            String::from_utf8(bytes.expose().clone())
                .map_err(|_| invalid("the passphrase file is not UTF-8 text").in_file(path))?
        }
        None => {
            let ask = |prompt: &str| {
                rpassword::prompt_password(prompt).map_err(|e| {
                    invalid(&format!(
                        "cannot read a passphrase from the terminal ({e}); give one with --passphrase-file"
                    ))
                })
            };
            let first = Sensitive::new(ask("passphrase: ")?);
            if confirm {
                let again = Sensitive::new(ask("passphrase (again): ")?);
                if again != first {
                    return Err(invalid("the two passphrases differ; nothing was written"));
                }
            }
            first.expose().trim().to_string()
        }
    };
    if text.is_empty() {
        return Err(invalid("the passphrase is empty"));
    }
    Ok(Sensitive::new(text))
}

/// `--expires-in`: a positive duration with explicit units, read by
/// jiff's parser (`30m`, `12h`, `7d`, `2w`, also `1h30m` or `2 weeks`); a
/// day is 24 hours and a week 7 days. A bare number (is `90` days or
/// minutes?), zero, a negative duration, months, years and fractions of a
/// second are refused. Returns seconds.
pub(crate) fn duration(text: &str) -> Result<i64, Failure> {
    const FORMS: &str = "use a number with a unit: `30m`, `12h`, `7d` or `2w`";
    let refuse = |why: &str| Failure::usage(&format!("`{text}` {why}; {FORMS}"));
    let span: jiff::Span = text
        .trim()
        .parse()
        .map_err(|_| refuse("is not a duration"))?;
    if span.is_negative() || span.is_zero() {
        return Err(refuse("is not a positive duration"));
    }
    let exact = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .map_err(|_| refuse("uses months or years, whose length varies"))?;
    if exact.subsec_nanos() != 0 {
        return Err(refuse("is not a whole number of seconds"));
    }
    let seconds = exact.as_secs();
    if seconds > gavel_trust::MAX_VALIDITY_SECONDS {
        return Err(refuse("is too long: at most 100 years"));
    }
    Ok(seconds)
}

/// `gavel sign --type TYPE FILE`: prints the DSSE envelope. The acting
/// identity must hold the role that signs TYPE (exit 1 otherwise); the
/// payload must be well formed for TYPE and bring no times of its own
/// (exit 2): Gavel sets `issued_at` and `expires_at`.
pub fn sign(
    kind: &str,
    file: &str,
    who: Option<&str>,
    expires_in: Option<&str>,
    format: OutputFormat,
) -> Result<ExitCode, Failure> {
    let kind = PayloadKind::from_short(kind).ok_or_else(|| {
        Failure::usage(&format!(
            "unknown type `{kind}`; use bundle, approval, override, rollout, review or trust"
        ))
    })?;
    let validity = expires_in.map(duration).transpose()?;
    let text = read_text(file)?;
    let (document, located) = if kind == PayloadKind::Bundle {
        let fmt = gavel_policy::Format::detect(file, &text);
        let bundle = gavel_policy::parse_bundle(&text, fmt)
            .map_err(|e| Failure::load(file, Some(text.clone()), &e))?;
        (bundle.document().to_json(), None)
    } else {
        // The located parser: duplicate keys are refused, and a payload
        // error can point at its line.
        let node = gavel_policy::parse_document(&text, gavel_policy::Format::Json)
            .map_err(|e| Failure::load(file, Some(text.clone()), &e))?;
        (node.to_json(), Some(node))
    };
    let rt = runtime()?;
    let env = rt.block_on(async {
        let c = console().await?;
        let signed = if kind == PayloadKind::Bundle {
            c.sign_bundle(&document, validity, who).await
        } else {
            c.sign_statement(kind, &document, validity, who).await
        };
        signed.map_err(|e| payload_fail(e, file, located.as_ref().map(|n| (text.as_str(), n))))
    })?;
    match format {
        OutputFormat::Json => print_json(&env),
        _ => println!("{}", serde_json::to_string_pretty(&env).unwrap_or_default()),
    }
    Ok(ExitCode::SUCCESS)
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
        gavel_trust::verify_by_owner(
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
                println!(
                    "valid {}, signed by {}",
                    result.format.as_str(),
                    who.join(", ")
                );
                if let (Some(i), Some(e)) = (&result.issued_at, &result.expires_at) {
                    println!("issued {i}, expires {e}");
                }
                if result.legacy {
                    println!("legacy format: {}", result.message);
                }
            } else {
                let reason = result.reason.map_or("", gavel_trust::Reason::as_str);
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

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn expires_in_reads_explicit_units_as_seconds() {
        for (text, seconds) in [
            ("1s", 1),
            ("30m", 1800),
            ("12h", 43_200),
            ("7d", 604_800),
            ("2w", 1_209_600),
            ("1h30m", 5400),
            (" 90m ", 5400),
            ("36500d", 36_500 * 86_400),
        ] {
            assert_eq!(duration(text).ok(), Some(seconds), "{text}");
        }
        for text in ["90", "0s", "-1h", "1mo", "0.5s", "36501d"] {
            assert!(duration(text).is_err(), "{text}");
        }
    }
}
