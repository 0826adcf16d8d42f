//! The agent's configuration (DESIGN §8, §11.11): a YAML file, each key
//! overridable by a `GAVEL_AGENT_` variable named by its path in capitals
//! with `__` between levels (`GAVEL_AGENT_CACHE__CAPACITY=10000`). Every
//! error names the key, the line where the file has one, and why.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gavel_policy::{Format, Node};
use gavel_trust::{PublicKey, Role};
use serde_json::Value;

/// The prefix of the variables that override the file.
pub const ENV_PREFIX: &str = "GAVEL_AGENT_";

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub registry: RegistryConfig,
    pub bundle: String,
    pub environment: String,
    pub poll_interval: Duration,
    pub trust: TrustConfig,
    pub cache: CacheConfig,
    /// Where the last good version is kept (served at start and while the
    /// registry is down).
    pub state_dir: PathBuf,
    /// A directory with a bundle file to serve until a signed version has
    /// been verified (never after).
    pub fallback_dir: Option<PathBuf>,
    /// A JSON Lines file of every decision, each with the digest that made
    /// it, in the shape `gavel sim replay` reads.
    pub decision_log: Option<PathBuf>,
    pub log_format: LogFormat,
    /// `POST /v1/reload` needs `Authorization: Bearer <admin_token>`;
    /// without one it is refused.
    pub admin_token: Option<String>,
    pub limits: Limits,
    /// Serve HTTPS with this certificate chain and key (PEM files).
    pub tls: Option<TlsConfig>,
}

#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// `oci://host/namespace`, `oci+http://127.0.0.1:PORT/namespace` or
    /// `dir:/path`.
    pub url: String,
    pub username: Option<String>,
    /// The variable that holds the password (never the file itself).
    pub password_env: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TrustConfig {
    /// The operator keys that sign rollout documents and the approvers'
    /// keys, with their roles.
    pub keys: Vec<PublicKey>,
    /// Distinct approvals a version needs at least (a version's own
    /// `approvals_required` may ask for more).
    pub quorum: u32,
    /// Follow the team's trust document (tag `trust`): `keys` are then the
    /// root, and each newer document signed by a quorum of the security
    /// keys trusted at the time replaces them.
    pub follow_document: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct CacheConfig {
    pub capacity: usize,
    pub ttl: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_bundle_bytes: u64,
    pub fetch_timeout: Duration,
    /// How long a client may take to send a request's headers, and then
    /// its body; also how long a kept-alive connection may sit idle.
    pub read_timeout: Duration,
    /// Connections served at once; past it, new ones wait to be accepted.
    pub max_connections: usize,
}

/// `limits.max_connections` when the file leaves it out, and its ceiling.
pub const DEFAULT_MAX_CONNECTIONS: u64 = 1024;
pub const MAX_CONNECTIONS: u64 = 65_536;

/// The batch limits of §11.11.
pub const MAX_BATCH_REQUESTS: usize = 10_000;
pub const MAX_BATCH_BYTES: usize = 8 << 20;

/// Why a configuration cannot be used: the key, its line when the file has
/// it, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", key, line.map(|l| format!(" (line {l})")).unwrap_or_default())]
pub struct ConfigError {
    pub key: String,
    pub line: Option<u32>,
    pub message: String,
}

fn err(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.to_string(),
        line: None,
        message: message.into(),
    }
}

const KEYS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "listen",
            "registry",
            "bundle",
            "environment",
            "poll_interval",
            "trust",
            "cache",
            "state_dir",
            "fallback_dir",
            "decision_log",
            "log_format",
            "admin_token",
            "limits",
            "tls",
        ],
    ),
    ("registry", &["url", "username", "password_env"]),
    ("trust", &["keys", "document", "quorum"]),
    ("cache", &["capacity", "ttl"]),
    (
        "limits",
        &[
            "max_body_bytes",
            "max_bundle_bytes",
            "fetch_timeout",
            "read_timeout",
            "max_connections",
        ],
    ),
    ("tls", &["cert", "key"]),
];

/// `30s`, `500ms`, `5m`, `1h`: a whole number and a unit.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().map_err(|_| {
        format!(
            "`{text}` is not a duration: use a whole number and a unit (`500ms`, `30s`, `5m`, `1h`)"
        )
    })?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => {
            return Err(format!(
                "`{text}` has no known unit: use `ms`, `s`, `m` or `h`"
            ));
        }
    };
    if d.is_zero() {
        return Err(format!("`{text}` is zero; give a positive duration"));
    }
    Ok(d)
}

/// The configuration in `text` (YAML or JSON), with the `GAVEL_AGENT_`
/// variables of `env` applied over it. `base` resolves relative paths (the
/// file's directory).
pub fn parse(text: &str, env: &[(String, String)], base: &Path) -> Result<Config, ConfigError> {
    let node = gavel_policy::parse_document(text, Format::Yaml).map_err(|e| ConfigError {
        key: "(file)".into(),
        line: None,
        message: e.to_string(),
    })?;
    let mut doc = node.to_json();
    if !doc.is_object() {
        return Err(err("(file)", "the configuration must be a mapping of keys"));
    }
    let located = |key: &str, e: ConfigError| -> ConfigError {
        let pointer = format!("/{}", key.replace('.', "/"));
        let line = node.pointer(&pointer).map(|n: &Node| n.location.line);
        ConfigError {
            line: e.line.or(line),
            ..e
        }
    };
    for (name, value) in env {
        let Some(path) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let keys: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
        set_path(&mut doc, &keys, scalar(value)).map_err(|m| err(name, m))?;
    }
    check_keys(&doc).map_err(|e| {
        let key = e.key.clone();
        located(&key, e)
    })?;
    build(&doc, base).map_err(|e| {
        let key = e.key.clone();
        located(&key, e)
    })
}

/// A variable's text as the YAML scalar it would be in the file.
fn scalar(text: &str) -> Value {
    if let Ok(n) = text.parse::<u64>() {
        return Value::from(n);
    }
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(text.to_string()),
    }
}

fn set_path(doc: &mut Value, keys: &[String], value: Value) -> Result<(), String> {
    let Some((last, parents)) = keys.split_last() else {
        return Err("names no key".into());
    };
    let mut at = doc;
    for k in parents {
        let obj = at
            .as_object_mut()
            .ok_or_else(|| format!("`{k}` is not a mapping"))?;
        at = obj
            .entry(k.clone())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
    }
    at.as_object_mut()
        .ok_or_else(|| format!("cannot set `{last}` inside a value that is not a mapping"))?
        .insert(last.clone(), value);
    Ok(())
}

fn check_keys(doc: &Value) -> Result<(), ConfigError> {
    for (section, allowed) in KEYS {
        let at = if section.is_empty() {
            Some(doc)
        } else {
            doc.get(*section)
        };
        let Some(at) = at else { continue };
        let Some(map) = at.as_object() else {
            return Err(err(section, "must be a mapping"));
        };
        for k in map.keys() {
            if !allowed.contains(&k.as_str()) {
                let key = if section.is_empty() {
                    k.clone()
                } else {
                    format!("{section}.{k}")
                };
                return Err(err(
                    &key,
                    format!("unknown key; the keys here are {}", allowed.join(", ")),
                ));
            }
        }
    }
    Ok(())
}

fn text<'a>(doc: &'a Value, key: &str) -> Result<Option<&'a str>, ConfigError> {
    match doc.pointer(&format!("/{}", key.replace('.', "/"))) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s)),
        Some(_) => Err(err(key, "must be a non-empty string")),
    }
}

fn required<'a>(doc: &'a Value, key: &str) -> Result<&'a str, ConfigError> {
    text(doc, key)?.ok_or_else(|| err(key, "is required"))
}

fn count(doc: &Value, key: &str, default: u64, max: u64) -> Result<u64, ConfigError> {
    match doc.pointer(&format!("/{}", key.replace('.', "/"))) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| err(key, format!("must be a whole number from 1 to {max}"))),
    }
}

fn duration(doc: &Value, key: &str, default: Duration) -> Result<Duration, ConfigError> {
    match text(doc, key)? {
        None => Ok(default),
        Some(t) => parse_duration(t).map_err(|m| err(key, m)),
    }
}

fn path(doc: &Value, key: &str, base: &Path) -> Result<Option<PathBuf>, ConfigError> {
    Ok(text(doc, key)?.map(|p| base.join(p)))
}

fn build(doc: &Value, base: &Path) -> Result<Config, ConfigError> {
    let listen = match text(doc, "listen")? {
        None => SocketAddr::from(([127, 0, 0, 1], 8181)),
        Some(l) => l.parse().map_err(|_| {
            err(
                "listen",
                format!("`{l}` is not an address and port like `127.0.0.1:8181`"),
            )
        })?,
    };
    let url = required(doc, "registry.url")?;
    gavel_registry::Location::parse(url).map_err(|e| err("registry.url", e.to_string()))?;
    let bundle = required(doc, "bundle")?;
    let environment = required(doc, "environment")?;
    let follow_document = match doc.pointer("/trust/document") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(_) => return Err(err("trust.document", "must be true or false")),
    };
    let tls = match (path(doc, "tls.cert", base)?, path(doc, "tls.key", base)?) {
        (None, None) => None,
        (Some(cert), Some(key)) => {
            for (k, p) in [("tls.cert", &cert), ("tls.key", &key)] {
                if !p.is_file() {
                    return Err(err(k, format!("`{}` is not a file", p.display())));
                }
            }
            Some(TlsConfig { cert, key })
        }
        (Some(_), None) => return Err(err("tls.key", "is required with `tls.cert`")),
        (None, Some(_)) => return Err(err("tls.cert", "is required with `tls.key`")),
    };
    let keys = trust_keys(doc, base)?;
    if !keys.iter().any(|k| k.has_role(Role::Operator)) {
        return Err(err(
            "trust.keys",
            "no key has the `operator` role, so no rollout document could verify; add the console's operator key (`gavel keys export --operator`)",
        ));
    }
    if follow_document && !keys.iter().any(|k| k.has_role(Role::Security)) {
        return Err(err(
            "trust.document",
            "following the trust document needs at least one key with the `security` role in `trust.keys`, to verify the first document",
        ));
    }
    let quorum = u32::try_from(count(doc, "trust.quorum", 1, 100)?).unwrap_or(1);
    let approvers = keys.iter().filter(|k| k.has_role(Role::Approver)).count();
    if (quorum as usize) > approvers {
        return Err(err(
            "trust.quorum",
            format!(
                "is {quorum}, but only {approvers} key(s) have the `approver` role: no version could ever be approved"
            ),
        ));
    }
    let log_format = match text(doc, "log_format")? {
        None | Some("json") => LogFormat::Json,
        Some("text") => LogFormat::Text,
        Some(other) => {
            return Err(err(
                "log_format",
                format!("`{other}` is neither `json` nor `text`"),
            ));
        }
    };
    Ok(Config {
        listen,
        registry: RegistryConfig {
            url: url.to_string(),
            username: text(doc, "registry.username")?.map(str::to_string),
            password_env: text(doc, "registry.password_env")?.map(str::to_string),
        },
        bundle: bundle.to_string(),
        environment: environment.to_string(),
        poll_interval: duration(doc, "poll_interval", Duration::from_secs(30))?,
        trust: TrustConfig {
            keys,
            quorum,
            follow_document,
        },
        cache: CacheConfig {
            capacity: usize::try_from(count(doc, "cache.capacity", 10_000, 10_000_000)?)
                .unwrap_or(10_000),
            ttl: duration(doc, "cache.ttl", Duration::from_secs(60))?,
        },
        state_dir: path(doc, "state_dir", base)?.unwrap_or_else(|| base.join("gavel-agent-state")),
        fallback_dir: path(doc, "fallback_dir", base)?,
        decision_log: path(doc, "decision_log", base)?,
        log_format,
        admin_token: text(doc, "admin_token")?.map(str::to_string),
        limits: Limits {
            max_body_bytes: usize::try_from(count(
                doc,
                "limits.max_body_bytes",
                64 << 10,
                8 << 20,
            )?)
            .unwrap_or(64 << 10),
            max_bundle_bytes: count(doc, "limits.max_bundle_bytes", 16 << 20, 16 << 20)?,
            fetch_timeout: duration(doc, "limits.fetch_timeout", Duration::from_secs(30))?,
            read_timeout: duration(doc, "limits.read_timeout", Duration::from_secs(30))?,
            max_connections: usize::try_from(count(
                doc,
                "limits.max_connections",
                DEFAULT_MAX_CONNECTIONS,
                MAX_CONNECTIONS,
            )?)
            .unwrap_or(usize::MAX),
        },
        tls,
    })
}

/// `trust.keys`: each item a public key as `gavel keys export` prints it,
/// or a path to a file holding one, a list of them, or a trust-store
/// export (`{"version": 1, "keys": [...]}`).
fn trust_keys(doc: &Value, base: &Path) -> Result<Vec<PublicKey>, ConfigError> {
    let Some(items) = doc.pointer("/trust/keys").and_then(Value::as_array) else {
        return Err(err(
            "trust.keys",
            "is required: the operator key that signs rollout documents and the approvers' keys",
        ));
    };
    let mut keys: Vec<PublicKey> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let key = format!("trust.keys.{i}");
        let values: Vec<Value> = match item {
            Value::String(p) => {
                let file = base.join(p);
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| err(&key, format!("cannot read `{}`: {e}", file.display())))?;
                let v: Value = serde_json::from_str(&text)
                    .map_err(|e| err(&key, format!("`{}` is not JSON: {e}", file.display())))?;
                match v {
                    Value::Array(list) => list,
                    Value::Object(ref o) if o.contains_key("keys") => {
                        o["keys"].as_array().cloned().unwrap_or_default()
                    }
                    other => vec![other],
                }
            }
            other => vec![other.clone()],
        };
        for v in values {
            let k: PublicKey = serde_json::from_value(v)
                .map_err(|e| err(&key, format!("is not a public key: {e}")))?;
            k.verifying_key().map_err(|e| err(&key, e.to_string()))?;
            if k.roles.is_empty() {
                return Err(err(
                    &key,
                    format!(
                        "key `{}` has no roles; give it `operator` or `approver`",
                        k.keyid
                    ),
                ));
            }
            if !keys.iter().any(|have| have.keyid == k.keyid) {
                keys.push(k);
            }
        }
    }
    Ok(keys)
}

/// The configuration file at `file`, with the process's `GAVEL_AGENT_`
/// variables over it.
pub fn load(file: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|e| ConfigError {
        key: "(file)".into(),
        line: None,
        message: format!("cannot read `{}`: {e}", file.display()),
    })?;
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect();
    let base = file.parent().unwrap_or(Path::new("."));
    parse(&text, &env, base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_json() -> (String, String) {
        let op = gavel_trust::ed25519::SigningKey::from_bytes(&[1; 32]);
        let ap = gavel_trust::ed25519::SigningKey::from_bytes(&[2; 32]);
        let op = PublicKey::new(&op.verifying_key(), "console", "", vec![Role::Operator]);
        let ap = PublicKey::new(&ap.verifying_key(), "bob", "", vec![Role::Approver]);
        (
            serde_json::to_string(&op).unwrap(),
            serde_json::to_string(&ap).unwrap(),
        )
    }

    fn config(extra: &str) -> String {
        let (op, ap) = keys_json();
        format!(
            "registry: {{url: 'oci+http://127.0.0.1:5000/team'}}\nbundle: inbox-triage\nenvironment: prod\ntrust:\n  keys:\n    - {op}\n    - {ap}\n{extra}"
        )
    }

    #[test]
    fn defaults_fill_what_the_file_leaves_out() {
        let c = parse(&config(""), &[], Path::new("/etc/gavel")).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8181");
        assert_eq!(c.poll_interval, Duration::from_secs(30));
        assert_eq!(c.cache.capacity, 10_000);
        assert_eq!(c.trust.quorum, 1);
        assert_eq!(c.trust.keys.len(), 2);
        assert_eq!(c.limits.max_body_bytes, 64 << 10);
        assert_eq!(c.limits.read_timeout, Duration::from_secs(30));
        assert_eq!(c.limits.max_connections, 1024);
        assert_eq!(c.state_dir, Path::new("/etc/gavel/gavel-agent-state"));
        assert_eq!(c.log_format, LogFormat::Json);
    }

    #[test]
    fn variables_override_the_file_by_path() {
        let env = vec![
            ("GAVEL_AGENT_CACHE__CAPACITY".to_string(), "500".to_string()),
            ("GAVEL_AGENT_POLL_INTERVAL".to_string(), "2s".to_string()),
            ("GAVEL_AGENT_ENVIRONMENT".to_string(), "staging".to_string()),
            ("OTHER".to_string(), "x".to_string()),
        ];
        let c = parse(&config("cache: {capacity: 10}\n"), &env, Path::new(".")).unwrap();
        assert_eq!(c.cache.capacity, 500);
        assert_eq!(c.poll_interval, Duration::from_secs(2));
        assert_eq!(c.environment, "staging");
    }

    #[test]
    fn slow_client_limits_are_read_and_checked() {
        let c = parse(
            &config("limits: {read_timeout: 2s, max_connections: 3}\n"),
            &[(
                "GAVEL_AGENT_LIMITS__MAX_CONNECTIONS".to_string(),
                "5".to_string(),
            )],
            Path::new("."),
        )
        .unwrap();
        assert_eq!(c.limits.read_timeout, Duration::from_secs(2));
        assert_eq!(c.limits.max_connections, 5);
        for (bad, says) in [
            ("limits: {max_connections: 0}\n", "1 to 65536"),
            ("limits: {max_connections: 70000}\n", "1 to 65536"),
            ("limits: {read_timeout: 0s}\n", "zero"),
        ] {
            let e = parse(&config(bad), &[], Path::new(".")).unwrap_err();
            assert!(e.key.starts_with("limits."), "{e}");
            assert!(e.message.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn errors_name_the_key_the_line_and_why() {
        let e = parse(&config("cache: {capacity: 0}\n"), &[], Path::new(".")).unwrap_err();
        assert_eq!(e.key, "cache.capacity");
        assert!(e.message.contains("1 to"), "{e}");
        assert_eq!(e.line, Some(8), "{e}");
        let e = parse(&config("cahce: {}\n"), &[], Path::new(".")).unwrap_err();
        assert_eq!(e.key, "cahce");
        assert!(e.message.contains("unknown key"), "{e}");
        let e = parse(&config("poll_interval: 10\n"), &[], Path::new(".")).unwrap_err();
        assert_eq!(e.key, "poll_interval");
        let e = parse(&config("poll_interval: 10y\n"), &[], Path::new(".")).unwrap_err();
        assert!(e.message.contains("unit"), "{e}");
        let e = parse(
            &config("trust: {quorum: 2}\n").replace("trust:\n  keys", "tr:\n  keys"),
            &[],
            Path::new("."),
        );
        assert!(e.is_err());
        let e = parse(
            &config("").replace("bundle: inbox-triage\n", ""),
            &[],
            Path::new("."),
        )
        .unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.message.as_str()),
            ("bundle", "is required")
        );
        let e = parse(
            &config("")
                .replace("    - {", "    - {\"x\": 1, ")
                .lines()
                .take(6)
                .collect::<Vec<_>>()
                .join("\n"),
            &[],
            Path::new("."),
        )
        .unwrap_err();
        assert!(e.key.starts_with("trust.keys"), "{e}");
    }

    #[test]
    fn a_quorum_no_set_of_keys_can_meet_is_refused() {
        let e = parse(
            &config("").replace("trust:\n", "trust:\n  quorum: 2\n"),
            &[],
            Path::new("."),
        )
        .unwrap_err();
        assert_eq!(e.key, "trust.quorum");
        assert!(e.message.contains("only 1 key"), "{e}");
    }

    /// The configuration the README shows is one this agent takes.
    #[test]
    fn the_readme_example_is_valid() {
        let readme = include_str!("../../../README.md");
        let start = readme.find("# agent.yaml").unwrap();
        let example = &readme[start..];
        let example = &example[..example.find("```").unwrap()];
        let dir = tempfile::tempdir().unwrap();
        let (op, ap) = keys_json();
        std::fs::write(dir.path().join("console-operator.pub.json"), op).unwrap();
        std::fs::write(dir.path().join("approvers.json"), format!("[{ap}]")).unwrap();
        for f in ["agent.crt", "agent.key"] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        let e = parse(example, &[], dir.path()).unwrap_err();
        // It asks for two approvals; the test files hold one approver.
        assert_eq!(e.key, "trust.quorum", "{e}");
        let c = parse(&example.replace("quorum: 2", "quorum: 1"), &[], dir.path()).unwrap();
        assert_eq!(c.environment, "prod");
        assert_eq!(c.registry.password_env.as_deref(), Some("REGISTRY_TOKEN"));
        assert_eq!(c.cache.capacity, 10_000);
        assert_eq!(c.tls.map(|t| t.cert), Some(dir.path().join("agent.crt")));
    }

    #[test]
    fn durations_take_one_unit() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("5 d").is_err());
    }
}
