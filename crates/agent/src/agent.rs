//! The agent: polls its bundle's `rollout-<env>`, fetches and verifies what
//! it names, swaps the versions serving as one value, keeps the last good
//! rollout on disk (served at start and while the registry is down), tells
//! `/v1/events` listeners, and logs every refusal with its reason.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use gavel_registry::artifact::{self, DSSE_LAYER};
use gavel_registry::{Credentials, Location, Target};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{Notify, broadcast};

use crate::config::{Config, LogFormat};
use crate::serve::{Cache, Loaded, Served};
use crate::verify::{self, Named, Refusal, RolloutDoc, refuse};

/// The last poll: when, whether it went well, and why not.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LastPoll {
    pub at: Option<String>,
    pub ok: bool,
    pub error: Option<String>,
}

/// A version as kept on disk: its bundle bytes and its envelopes.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeptVersion {
    digest: String,
    bundle: String,
    envelopes: Vec<Value>,
}

/// The last good rollout, as kept on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LastGood {
    rollout: Value,
    versions: Vec<KeptVersion>,
}

#[derive(Debug)]
pub struct Agent {
    pub config: Config,
    target: Target,
    repo: String,
    pub loaded: ArcSwapOption<Loaded>,
    pub events: broadcast::Sender<String>,
    pub poll_now: Notify,
    pub last_poll: Mutex<LastPoll>,
    pub policy_updates: AtomicU64,
    pub policy_errors: AtomicU64,
    stale_logged: AtomicBool,
    /// The keys trusted now: the configured ones, or those of the trust
    /// document followed.
    trusted: arc_swap::ArcSwap<Vec<gavel_trust::PublicKey>>,
    /// The version and quorum of the trust document followed.
    following: Mutex<(i64, Option<i64>)>,
    pub metrics: crate::http::Metrics,
    pub decision_log: Option<std::sync::mpsc::Sender<String>>,
}

fn now_text() -> String {
    gavel_trust::rfc3339(jiff::Timestamp::now())
}

impl Agent {
    /// An agent for `config`, not yet polling. The registry password comes
    /// from the variable `registry.password_env` names.
    pub fn new(config: Config) -> Result<Agent, String> {
        let location = Location::parse(&config.registry.url).map_err(|e| e.to_string())?;
        let credentials = match &config.registry.username {
            Some(u) => {
                let password = match &config.registry.password_env {
                    Some(var) => std::env::var(var).map_err(|_| {
                        format!("registry.password_env names `{var}`, which is not set")
                    })?,
                    None => String::new(),
                };
                Some(Credentials {
                    username: u.clone(),
                    password,
                })
            }
            None => None,
        };
        let repo = location
            .repository(&config.bundle)
            .map_err(|e| e.to_string())?;
        let target = Target::open(&location, credentials).map_err(|e| e.to_string())?;
        let root = config.trust.keys.clone();
        let decision_log = match &config.decision_log {
            Some(path) => Some(decision_log_writer(path.clone())?),
            None => None,
        };
        Ok(Agent {
            config,
            target,
            repo,
            loaded: ArcSwapOption::empty(),
            events: broadcast::channel(64).0,
            poll_now: Notify::new(),
            last_poll: Mutex::new(LastPoll::default()),
            policy_updates: AtomicU64::new(0),
            policy_errors: AtomicU64::new(0),
            stale_logged: AtomicBool::new(false),
            trusted: arc_swap::ArcSwap::from_pointee(root),
            following: Mutex::new((0, None)),
            metrics: crate::http::Metrics::default(),
            decision_log,
        })
    }

    /// A JSON (or text) log line on standard error.
    pub fn log(&self, level: &str, message: &str, fields: Value) {
        let line = match self.config.log_format {
            LogFormat::Json => {
                let mut v = serde_json::json!({"ts": now_text(), "level": level, "msg": message});
                if let (Some(o), Value::Object(f)) = (v.as_object_mut(), fields) {
                    o.extend(f);
                }
                v.to_string()
            }
            LogFormat::Text => {
                let extra = match fields {
                    Value::Object(f) if !f.is_empty() => format!(" {}", Value::Object(f)),
                    _ => String::new(),
                };
                format!("{} {level:5} {message}{extra}", now_text())
            }
        };
        eprintln!("{line}");
    }

    /// The keys trusted now.
    pub fn trusted(&self) -> Arc<Vec<gavel_trust::PublicKey>> {
        self.trusted.load_full()
    }

    fn trust_file(&self) -> PathBuf {
        self.config.state_dir.join("trust.json")
    }

    /// Follows a trust document: its keys are trusted from now on, and it
    /// is kept on disk for the next start.
    fn follow(&self, doc: &Value, accepted: gavel_trust::Accepted) {
        let version = accepted.document.version;
        if let Ok(mut f) = self.following.lock() {
            *f = (version, Some(accepted.document.quorum));
        }
        let keys = accepted.document.keys.len();
        self.trusted.store(Arc::new(accepted.document.keys));
        if let Err(e) = write_whole(&self.trust_file(), doc.to_string().as_bytes()) {
            self.log(
                "error",
                "cannot keep the trust document on disk",
                serde_json::json!({"why": e.to_string()}),
            );
        }
        self.log(
            "info",
            "trust document followed",
            serde_json::json!({"version": version, "keys": keys, "signers": accepted.signers}),
        );
    }

    /// At start: the trust document followed before, checked against its
    /// own keys (it was verified against the keys trusted then).
    fn load_trust(&self) {
        let Ok(bytes) = std::fs::read(self.trust_file()) else {
            return;
        };
        let doc: Value = match serde_json::from_slice(&bytes) {
            Ok(d) => d,
            Err(e) => {
                self.log(
                    "error",
                    "the kept trust document is not JSON",
                    serde_json::json!({"why": e.to_string()}),
                );
                return;
            }
        };
        let own = gavel_trust::TrustDocument::read(&doc)
            .map(|d| d.keys)
            .unwrap_or_default();
        let following = gavel_trust::Following {
            trusted: &own,
            version: 0,
            quorum: None,
        };
        // Its own quorum of its own keys, at any time it was valid.
        let at = issued_at(&doc).unwrap_or_else(jiff::Timestamp::now);
        match gavel_trust::accept_trust_document(&doc, following, at) {
            Ok(Some(a)) => self.follow(&doc, a),
            Ok(None) => {}
            Err(why) => self.log(
                "error",
                "the kept trust document does not verify; using the configured keys",
                serde_json::json!({"why": why}),
            ),
        }
    }

    /// During a poll: the `trust` tag, followed when a quorum of the keys
    /// trusted now signed a newer version. A refusal is logged; the keys
    /// trusted now stay.
    async fn poll_trust(&self) -> Result<(), Refusal> {
        let Some((m, _)) = self
            .timed(
                "the trust document",
                self.target.manifest(&self.repo, artifact::TRUST_TAG),
            )
            .await?
        else {
            return Ok(());
        };
        let Some(layer) = m.layers.first() else {
            return Err(refuse("malformed", "the trust artifact has no layer"));
        };
        if layer.size > 1 << 20 {
            return Err(refuse("too_large", "the trust document is over 1 MiB"));
        }
        let bytes = self
            .timed("the trust document", self.target.blob(&self.repo, layer))
            .await?;
        let doc: Value = serde_json::from_slice(&bytes)
            .map_err(|e| refuse("malformed", format!("the trust document is not JSON: {e}")))?;
        let trusted = self.trusted();
        let (version, quorum) = self.following.lock().map(|f| *f).unwrap_or((0, None));
        let following = gavel_trust::Following {
            trusted: &trusted,
            version,
            quorum,
        };
        match gavel_trust::accept_trust_document(&doc, following, jiff::Timestamp::now()) {
            Ok(Some(a)) => {
                self.follow(&doc, a);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(why) => Err(refuse("untrusted", why)),
        }
    }

    fn state_file(&self) -> PathBuf {
        self.config.state_dir.join("last-good.json")
    }

    /// At start: the last good rollout from disk, verified again (an
    /// expired document is served as stale rather than nothing), or else
    /// a bundle from the fallback directory.
    pub fn load_from_disk(&self) {
        if self.config.trust.follow_document {
            self.load_trust();
        }
        match std::fs::read(self.state_file()) {
            Ok(bytes) => match self.load_kept(&bytes) {
                Ok(serial) => {
                    self.log(
                        "info",
                        "serving the last good version from disk",
                        serde_json::json!({"serial": serial}),
                    );
                    return;
                }
                Err(r) => self.log(
                    "error",
                    "the last good version on disk does not verify; not served",
                    serde_json::json!({"reason": r.code, "why": r.message}),
                ),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => self.log(
                "error",
                "cannot read the last good version",
                serde_json::json!({"why": e.to_string()}),
            ),
        }
        if let Some(dir) = &self.config.fallback_dir {
            match load_fallback(dir, &self.config.bundle) {
                Ok(loaded) => {
                    self.log(
                        "warn",
                        "serving the fallback bundle until a signed version verifies",
                        serde_json::json!({"version": loaded.stable.version, "digest": loaded.stable.digest}),
                    );
                    self.loaded.store(Some(Arc::new(loaded)));
                }
                Err(why) => self.log(
                    "error",
                    "the fallback directory has no usable bundle",
                    serde_json::json!({"why": why}),
                ),
            }
        }
    }

    fn load_kept(&self, bytes: &[u8]) -> Result<u64, Refusal> {
        let kept: LastGood = serde_json::from_slice(bytes)
            .map_err(|e| refuse("malformed", format!("last-good.json: {e}")))?;
        let now = jiff::Timestamp::now();
        let doc = match self.check_rollout(&kept.rollout, None, now) {
            Ok(d) => d,
            // An expired document on disk is served as stale (§11.11):
            // checked as of its own issue time.
            Err(r) if r.code == "expired" => {
                let issued = issued_at(&kept.rollout)
                    .ok_or_else(|| refuse("malformed", "the kept rollout has no issue time"))?;
                self.check_rollout(&kept.rollout, None, issued)?
            }
            Err(r) => return Err(r),
        }
        .ok_or_else(|| refuse("malformed", "nothing in the kept rollout"))?;
        let find = |n: &Named| {
            kept.versions
                .iter()
                .find(|v| v.digest == n.digest)
                .ok_or_else(|| refuse("not_named", format!("{} is not kept", n.version)))
        };
        let stable = find(&doc.stable)?;
        let canary = doc
            .canary
            .as_ref()
            .map(|c| find(c).map(|k| (c, k)))
            .transpose()?;
        let loaded = self.build(
            &doc,
            (&doc.stable, stable.bundle.as_bytes(), &stable.envelopes),
            canary.map(|(c, k)| (c, k.bundle.as_bytes(), k.envelopes.as_slice())),
        )?;
        let serial = loaded.serial;
        self.loaded.store(Some(Arc::new(loaded)));
        Ok(serial)
    }

    fn check_rollout(
        &self,
        doc: &Value,
        current: Option<(u64, &Value)>,
        now: jiff::Timestamp,
    ) -> Result<Option<RolloutDoc>, Refusal> {
        verify::rollout(
            doc,
            &self.trusted(),
            &self.config.bundle,
            &self.config.environment,
            current,
            now,
        )
    }

    fn build(
        &self,
        doc: &RolloutDoc,
        stable: (&Named, &[u8], &[Value]),
        canary: Option<(&Named, &[u8], &[Value])>,
    ) -> Result<Loaded, Refusal> {
        let served = |(n, bytes, envs): (&Named, &[u8], &[Value])| -> Result<Served, Refusal> {
            let engine = verify::version(
                n,
                bytes,
                envs,
                &self.trusted(),
                self.config.trust.quorum,
                &self.config.environment,
            )?;
            Ok(Served::new(
                n.version.clone(),
                n.digest.clone(),
                n.activated_at.clone(),
                engine,
                Cache::new(self.config.cache.capacity, self.config.cache.ttl),
            ))
        };
        let stable = served(stable)?;
        let canary = match canary {
            Some(c) => {
                let percent = c.0.percent.unwrap_or(0);
                Some((served(c)?, percent))
            }
            None => None,
        };
        Ok(Loaded {
            bundle: self.config.bundle.clone(),
            serial: doc.serial,
            expires_at: doc.expires_at.parse().ok(),
            envelope: doc.envelope.clone(),
            stable,
            canary,
        })
    }

    /// Fetches within the configured time.
    async fn timed<T>(
        &self,
        what: &str,
        f: impl std::future::Future<Output = Result<T, gavel_registry::RegistryError>>,
    ) -> Result<T, Refusal> {
        match tokio::time::timeout(self.config.limits.fetch_timeout, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(refuse(
                if matches!(e, gavel_registry::RegistryError::DigestMismatch { .. }) {
                    "digest_mismatch"
                } else {
                    "registry"
                },
                format!("{what}: {e}"),
            )),
            Err(_) => Err(refuse(
                "timeout",
                format!(
                    "{what} took longer than {:?} (a slow or endless download)",
                    self.config.limits.fetch_timeout
                ),
            )),
        }
    }

    /// One version the document names: the bundle manifest under its
    /// version tag must name exactly the digest the document gives (a
    /// version tag pointing elsewhere is a version the document does not
    /// name), its layer within the size limit; then its signatures.
    async fn fetch_version(&self, n: &Named) -> Result<(Vec<u8>, Vec<Value>), Refusal> {
        let tag =
            artifact::version_tag(&n.version).map_err(|e| refuse("malformed", e.to_string()))?;
        let (m, _) = self
            .timed(
                &format!("{}:{tag}", self.repo),
                self.target.manifest(&self.repo, &tag),
            )
            .await?
            .ok_or_else(|| {
                refuse(
                    "not_named",
                    format!("{}:{tag} is not in the registry", self.repo),
                )
            })?;
        let layer = m
            .layers
            .first()
            .ok_or_else(|| refuse("malformed", format!("{}:{tag} has no layer", self.repo)))?;
        if layer.digest != n.digest {
            return Err(refuse(
                "not_named",
                format!(
                    "{}:{tag} is {}, but the rollout document names {}: a version the document does not name is never served",
                    self.repo, layer.digest, n.digest
                ),
            ));
        }
        if layer.size > self.config.limits.max_bundle_bytes {
            return Err(refuse(
                "too_large",
                format!(
                    "{} is {} bytes, over the limit of {}",
                    n.version, layer.size, self.config.limits.max_bundle_bytes
                ),
            ));
        }
        let bundle = self
            .timed(
                &format!("the bundle {}", n.version),
                self.target.blob(&self.repo, layer),
            )
            .await?;
        let sig_tag =
            artifact::sig_tag(&n.digest).map_err(|e| refuse("malformed", e.to_string()))?;
        let mut envelopes = Vec::new();
        if let Some((m, _)) = self
            .timed("the signatures", self.target.manifest(&self.repo, &sig_tag))
            .await?
        {
            for d in m
                .layers
                .iter()
                .filter(|d| d.media_type == DSSE_LAYER)
                .take(256)
            {
                let bytes = self
                    .timed("a signature", self.target.blob(&self.repo, d))
                    .await?;
                if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
                    envelopes.push(v);
                }
            }
        }
        Ok((bundle, envelopes))
    }

    /// One poll. Keeps serving whatever happens; a refusal is logged with
    /// its reason and counted.
    pub async fn poll(&self) {
        let outcome = self.poll_once().await;
        let mut last = LastPoll {
            at: Some(now_text()),
            ok: outcome.is_ok(),
            error: None,
        };
        match outcome {
            Ok(Some(changed)) => {
                self.policy_updates.fetch_add(1, Ordering::Relaxed);
                self.log("info", "policy changed", changed.clone());
                let _ = self.events.send(changed.to_string());
            }
            Ok(None) => {}
            Err(r) => {
                self.policy_errors.fetch_add(1, Ordering::Relaxed);
                let level = if r.code == "registry" || r.code == "timeout" {
                    "warn"
                } else {
                    "error"
                };
                self.log(
                    level,
                    "refused; the version loaded keeps serving",
                    serde_json::json!({"reason": r.code, "why": r.message}),
                );
                last.error = Some(r.to_string());
            }
        }
        if let Ok(mut l) = self.last_poll.lock() {
            *l = last;
        }
        self.check_stale();
    }

    fn check_stale(&self) {
        let stale = self
            .loaded
            .load()
            .as_ref()
            .is_some_and(|l| l.stale(jiff::Timestamp::now()));
        if stale && !self.stale_logged.swap(true, Ordering::Relaxed) {
            self.log(
                "error",
                "the rollout document serving has expired: still serving it, as stale; the console re-signs it with `gavel rollout refresh`",
                serde_json::json!({}),
            );
        }
        if !stale {
            self.stale_logged.store(false, Ordering::Relaxed);
        }
    }

    async fn poll_once(&self) -> Result<Option<Value>, Refusal> {
        if self.config.trust.follow_document {
            // An unreachable registry is reported by the rollout's fetch.
            if let Err(r) = self
                .poll_trust()
                .await
                .or_else(|r| if r.code == "registry" { Ok(()) } else { Err(r) })
            {
                self.policy_errors.fetch_add(1, Ordering::Relaxed);
                self.log(
                    "error",
                    "trust document refused; the keys trusted now stay",
                    serde_json::json!({"reason": format!("trust_{}", r.code), "why": r.message}),
                );
            }
        }
        let tag = artifact::rollout_tag(&self.config.environment)
            .map_err(|e| refuse("malformed", e.to_string()))?;
        let Some((m, _)) = self
            .timed(
                "the rollout document",
                self.target.manifest(&self.repo, &tag),
            )
            .await?
        else {
            return Ok(None);
        };
        let layer = m
            .layers
            .first()
            .ok_or_else(|| refuse("malformed", "the rollout artifact has no layer"))?;
        let bytes = self
            .timed("the rollout document", self.target.blob(&self.repo, layer))
            .await?;
        let doc: Value = serde_json::from_slice(&bytes).map_err(|e| {
            refuse(
                "malformed",
                format!("the rollout document is not JSON: {e}"),
            )
        })?;
        let current = self.loaded.load_full();
        let serving = current
            .as_ref()
            .filter(|l| l.serial > 0)
            .map(|l| (l.serial, &l.envelope));
        let Some(r) = self.check_rollout(&doc, serving, jiff::Timestamp::now())? else {
            return Ok(None);
        };
        let (sb, se) = self.fetch_version(&r.stable).await?;
        let canary = match &r.canary {
            Some(c) => Some((c, self.fetch_version(c).await?)),
            None => None,
        };
        let loaded = self.build(
            &r,
            (&r.stable, &sb, &se),
            canary
                .as_ref()
                .map(|(c, (b, e))| (*c, b.as_slice(), e.as_slice())),
        )?;
        let kept = LastGood {
            rollout: doc.clone(),
            versions: std::iter::once((&r.stable, sb, se))
                .chain(canary.map(|(c, (b, e))| (c, b, e)))
                .map(|(n, b, e)| KeptVersion {
                    digest: n.digest.clone(),
                    bundle: String::from_utf8_lossy(&b).into_owned(),
                    envelopes: e,
                })
                .collect(),
        };
        if let Err(e) = write_whole(
            &self.state_file(),
            &serde_json::to_vec(&kept).unwrap_or_default(),
        ) {
            self.log(
                "error",
                "cannot keep the last good version on disk",
                serde_json::json!({"why": e.to_string()}),
            );
        }
        let changed = serde_json::json!({
            "environment": self.config.environment,
            "version": r.stable.version,
            "digest": r.stable.digest,
            "serial": r.serial,
            "canary": r.canary.as_ref().map(|c| serde_json::json!({"version": c.version, "digest": c.digest, "percent": c.percent})),
        });
        self.loaded.store(Some(Arc::new(loaded)));
        Ok(Some(changed))
    }

    /// Polls every `poll_interval`, and at once when asked (`/v1/reload`).
    pub async fn run_poller(self: Arc<Self>) {
        loop {
            self.poll().await;
            tokio::select! {
                () = tokio::time::sleep(self.config.poll_interval) => {}
                () = self.poll_now.notified() => {}
            }
        }
    }
}

fn issued_at(doc: &Value) -> Option<jiff::Timestamp> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(doc.get("payload")?.as_str()?)
        .ok()?;
    let p: Value = serde_json::from_slice(&bytes).ok()?;
    p.get("issued_at")?.as_str()?.parse().ok()
}

/// Writes a file whole: a temporary file beside it, then a rename.
fn write_whole(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

fn load_fallback(dir: &std::path::Path, bundle: &str) -> Result<Loaded, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read `{}`: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect();
    files.sort();
    let file = files
        .first()
        .ok_or_else(|| format!("no .yaml or .json bundle in `{}`", dir.display()))?;
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let format = if file.extension().and_then(|e| e.to_str()) == Some("json") {
        gavel_policy::Format::Json
    } else {
        gavel_policy::Format::Yaml
    };
    let b = gavel_policy::parse_bundle(&text, format)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let doc = gavel_policy::parse_document(&text, format).map_err(|e| e.to_string())?;
    let digest = gavel_trust::bundle_digest(&doc.to_json())
        .map(|d| d.to_string())
        .unwrap_or_default();
    Ok(Loaded {
        bundle: bundle.to_string(),
        serial: 0,
        expires_at: None,
        envelope: Value::Null,
        stable: Served::new(
            b.metadata
                .version
                .clone()
                .unwrap_or_else(|| "fallback".into()),
            digest,
            String::new(),
            gavel_policy::Engine::compile(&b),
            Cache::new(0, std::time::Duration::from_secs(1)),
        ),
        canary: None,
    })
}

/// The decision log: lines sent to a thread that appends them, buffered.
fn decision_log_writer(path: PathBuf) -> Result<std::sync::mpsc::Sender<String>, String> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("decision_log: {e}"))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("decision_log: cannot open `{}`: {e}", path.display()))?;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut out = std::io::BufWriter::new(file);
        while let Ok(line) = rx.recv() {
            let _ = writeln!(out, "{line}");
            while let Ok(more) = rx.try_recv() {
                let _ = writeln!(out, "{more}");
            }
            let _ = out.flush();
        }
    });
    Ok(tx)
}
