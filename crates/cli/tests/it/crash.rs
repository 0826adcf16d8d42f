//! Crash safety and concurrency of the store, end to end (issue 19's
//! acceptance): `gavel` killed with SIGKILL at random points of 1,000 mixed
//! operations on a file database leaves a store that opens, whose every
//! version's digest matches its document, with no half-written operation
//! (the audit log, replayed, gives exactly the versions and keys stored)
//! and a chain that verifies; four processes creating versions at once
//! lose nothing and repeat no `seq`.
//!
//! Identities are seeded straight into the store (no keychain): every
//! operation here is one a store's only identity does without signing.

use super::*;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use gavel_trust::ed25519::SigningKey;
use gavel_trust::{PublicKey, Role};

/// SplitMix64: a seeded generator, enough to pick operations and delays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// 0 to `n - 1`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.below(items.len() as u64) as usize)
        }
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

const ALICE_SEED: [u8; 32] = [90; 32];

/// A store whose only identity is alice (every person role).
fn alice_home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let key = SigningKey::from_bytes(&ALICE_SEED);
    let public = PublicKey::new(
        &key.verifying_key(),
        "alice",
        "a@example.com",
        Role::PEOPLE.to_vec(),
    );
    rt().block_on(async {
        let store = gavel_store::Store::open(&home.path().join("gavel.db"))
            .await
            .unwrap();
        store.add_identity(&public).await.unwrap();
    });
    home
}

/// A small valid bundle; `salt` changes its text and so its digest.
fn bundle_text(name: &str, version: &str, salt: u64) -> String {
    format!(
        "apiVersion: gavel/v1\nkind: PolicyBundle\nmetadata:\n  name: {name}\n  version: {version}\n  notes: generated {salt}\n  default_effect: deny\nrules:\n  - id: rule-{salt}\n    agent: \"*\"\n    action: deploy\n    effect: allow\n    reason: generated rule {salt}\n    priority: {}\n",
        salt % 100
    )
}

fn digest_of(text: &str, format: gavel_policy::Format) -> String {
    let doc = gavel_policy::parse_bundle(text, format)
        .unwrap_or_else(|e| panic!("a stored document does not parse: {e}\n{text}"))
        .document()
        .to_json();
    gavel_trust::bundle_digest(&doc).unwrap().to_string()
}

/// What the store holds: versions (`NAME@VERSION` → digest) and trusted
/// key ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct State {
    versions: BTreeMap<String, String>,
    keys: BTreeSet<String>,
}

/// Reads the store straight from SQLite and checks it is consistent:
/// every version's digest is its document's, the audit `seq`s run 1..n,
/// and the audit log replayed gives exactly the versions and keys stored
/// (each version has its one `bundle.create`/`bundle.import`, then edits
/// chaining from its digest; a deleted one a `bundle.delete` of its last
/// digest; no entry without its change, no change without its entry).
fn consistent_state(home: &Path) -> State {
    use sqlx::Row;
    rt().block_on(async {
        let url = format!("sqlite://{}", home.join("gavel.db").display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let mut stored = State::default();
        for r in sqlx::query("SELECT name, version, digest, document, format FROM bundle_versions")
            .fetch_all(&pool)
            .await
            .unwrap()
        {
            let (name, version, digest, document, format): (
                String,
                String,
                String,
                String,
                String,
            ) = (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
            let format = match format.as_str() {
                "yaml" => gavel_policy::Format::Yaml,
                "json" => gavel_policy::Format::Json,
                other => panic!("format `{other}`"),
            };
            let reference = format!("{name}@{version}");
            assert_eq!(
                digest_of(&document, format),
                digest,
                "`{reference}`: the stored digest is not its document's"
            );
            stored.versions.insert(reference, digest);
        }
        for r in sqlx::query("SELECT keyid FROM trusted_keys")
            .fetch_all(&pool)
            .await
            .unwrap()
        {
            stored.keys.insert(r.get(0));
        }
        let mut replayed = State::default();
        let entries =
            sqlx::query("SELECT seq, action, subject, details FROM audit_log ORDER BY seq")
                .fetch_all(&pool)
                .await
                .unwrap();
        pool.close().await;
        for (i, r) in entries.iter().enumerate() {
            let (seq, action, subject, details): (i64, String, String, String) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            assert_eq!(seq, i as i64 + 1, "audit seq has a gap or a repeat");
            let details: Value = serde_json::from_str(&details).unwrap();
            let digest = details["digest"].as_str().map(str::to_string);
            let at = format!("seq {seq} {action} `{subject}`");
            match action.as_str() {
                "bundle.create" | "bundle.import" => {
                    let old = replayed.versions.insert(subject, digest.unwrap());
                    assert!(old.is_none(), "{at}: created twice");
                }
                "bundle.edit" => {
                    let now = replayed.versions.get_mut(&subject);
                    let now = now.unwrap_or_else(|| panic!("{at}: edits a missing version"));
                    assert_eq!(
                        Some(now.as_str()),
                        details["previous_digest"].as_str(),
                        "{at}"
                    );
                    *now = digest.unwrap();
                }
                "bundle.delete" => {
                    let gone = replayed.versions.remove(&subject);
                    assert_eq!(gone, digest, "{at}: deletes what is not there");
                }
                "key.trust" => {
                    replayed.keys.insert(subject);
                }
                "identity.create" => {
                    replayed
                        .keys
                        .insert(details["keyid"].as_str().unwrap().to_string());
                }
                "key.untrust" => {
                    assert!(replayed.keys.remove(&subject), "{at}: not trusted");
                }
                other => panic!("{at}: unexpected action `{other}`"),
            }
        }
        assert_eq!(
            replayed, stored,
            "the audit log replayed is not the store: a half-written operation"
        );
        stored
    })
}

/// The restart after a crash: the store opens, the chain verifies, and
/// what is stored is consistent with itself and its audit log.
fn check_store(home: &Path) -> State {
    let out = gavel_in(home, &["audit", "verify", "--format", "json"]);
    assert_eq!(
        code(&out),
        0,
        "audit verify: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["valid"], true);
    consistent_state(home)
}

/// A `gavel` run that was either left to finish or killed.
enum Run {
    Finished(Output),
    Killed,
}

fn run(home: &Path, args: &[&str], kill_after: Option<Duration>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gavel"))
        .args(args)
        .args(["--format", "json"])
        .current_dir(root())
        .env("GAVEL_HOME", home)
        .env_remove("GAVEL_IDENTITY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(delay) = kill_after {
        std::thread::sleep(delay);
        // SIGKILL on Unix; a child that already exited is left as it was.
        child.kill().unwrap();
    }
    let out = child.wait_with_output().unwrap();
    if out.status.signal() == Some(libc::SIGKILL) {
        return Run::Killed;
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert!(
        !stderr.contains("locked") && !stderr.contains("busy"),
        "{args:?}: {stderr}"
    );
    Run::Finished(out)
}

/// Expects `args` to have exited with `exit`; its JSON output.
fn finished(out: &Output, args: &[&str], exit: i32) -> Value {
    assert_eq!(
        code(out),
        exit,
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    json(out)
}

#[test]
fn a_store_killed_at_random_points_stays_consistent() {
    const OPERATIONS: usize = 1000;
    const CHECK_EVERY: usize = 20;
    let seed = std::env::var("GAVEL_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6a76_656c_0019_u64);
    eprintln!("crash test seed {seed} (set GAVEL_CRASH_SEED to repeat a run)");
    let started = Instant::now();
    let mut rng = Rng(seed);
    let home = alice_home();
    let home = home.path();
    let files = tempfile::tempdir().unwrap();
    let alice = SigningKey::from_bytes(&ALICE_SEED);
    let alice_keyid = PublicKey::new(&alice.verifying_key(), "alice", "", vec![])
        .keyid
        .0;
    let mut model = check_store(home);
    let mut next = 0u64;
    let (mut attempts, mut kills, mut committed, mut checks) = (0, 0, 0, 0);
    for op in 0..OPERATIONS {
        next += 1;
        let base = files.path().join(format!("op-{op}"));
        let (yaml, file) = (
            format!("{}.yaml", base.display()),
            format!("{}.json", base.display()),
        );
        let drafts: Vec<String> = model.versions.keys().cloned().collect();
        let others: Vec<String> = model
            .keys
            .iter()
            .filter(|k| **k != alice_keyid)
            .cloned()
            .collect();
        // The operation: args, the exit expected, and the change it makes.
        type Apply = Box<dyn FnOnce(&mut State, &Value)>;
        let (args, exit, apply): (Vec<String>, i32, Apply) = match rng.below(12) {
            0..=3 => {
                // A new name or a new version of an existing name.
                let name = format!("crash-{}", rng.below(next.max(1) / 3 + 1));
                let version = format!("1.{}.{next}", rng.below(3));
                std::fs::write(&yaml, bundle_text(&name, &version, next)).unwrap();
                let reference = format!("{name}@{version}");
                (
                    vec!["bundle".into(), "new".into(), yaml.clone()],
                    0,
                    Box::new(move |m: &mut State, v: &Value| {
                        assert_eq!(v["reference"], reference.as_str());
                        m.versions
                            .insert(reference, v["digest"].as_str().unwrap().into());
                    }),
                )
            }
            4..=5 if !drafts.is_empty() => {
                let reference = rng.pick(&drafts).unwrap().clone();
                let (name, version) = reference.split_once('@').unwrap();
                std::fs::write(&yaml, bundle_text(name, version, next)).unwrap();
                (
                    vec![
                        "bundle".into(),
                        "edit".into(),
                        reference.clone(),
                        yaml.clone(),
                    ],
                    0,
                    Box::new(move |m: &mut State, v: &Value| {
                        assert_eq!(v["changed"], true);
                        m.versions
                            .insert(reference, v["digest"].as_str().unwrap().into());
                    }),
                )
            }
            6..=7 if !drafts.is_empty() => {
                let reference = rng.pick(&drafts).unwrap().clone();
                (
                    vec!["bundle".into(), "rm".into(), reference.clone()],
                    0,
                    Box::new(move |m: &mut State, v: &Value| {
                        let gone = m.versions.remove(&reference);
                        assert_eq!(gone.as_deref(), v["removed"]["digest"].as_str());
                    }),
                )
            }
            8 if !drafts.is_empty() => {
                // A duplicate NAME@VERSION: refused, nothing changes.
                let reference = rng.pick(&drafts).unwrap().clone();
                let (name, version) = reference.split_once('@').unwrap();
                std::fs::write(&yaml, bundle_text(name, version, next)).unwrap();
                (
                    vec!["bundle".into(), "new".into(), yaml.clone()],
                    1,
                    Box::new(|_: &mut State, v: &Value| {
                        assert_eq!(v["error"]["code"], "version_exists");
                    }),
                )
            }
            9 => {
                // An import of an envelope alice signed.
                let name = format!("imported-{next}");
                let doc = gavel_policy::parse_bundle(
                    &bundle_text(&name, "2.0.0", next),
                    gavel_policy::Format::Yaml,
                )
                .unwrap()
                .document()
                .to_json();
                let now = jiff::Timestamp::now().as_second();
                let t = |s: i64| jiff::Timestamp::from_second(now + s).unwrap();
                let payload = gavel_trust::bundle_payload(&doc, "alice", t(-60), t(3600)).unwrap();
                let env = gavel_trust::sign_dsse(
                    "application/vnd.gavel.bundle.v1+json",
                    &payload,
                    &[&alice],
                )
                .unwrap();
                std::fs::write(&file, env.to_string()).unwrap();
                let reference = format!("{name}@2.0.0");
                (
                    vec!["bundle".into(), "import".into(), file.clone()],
                    0,
                    Box::new(move |m: &mut State, v: &Value| {
                        assert_eq!(v["reference"], reference.as_str());
                        m.versions
                            .insert(reference, v["digest"].as_str().unwrap().into());
                    }),
                )
            }
            10 if !others.is_empty() => {
                let keyid = rng.pick(&others).unwrap().clone();
                (
                    vec!["keys".into(), "untrust".into(), keyid.clone()],
                    0,
                    Box::new(move |m: &mut State, _: &Value| {
                        assert!(m.keys.remove(&keyid));
                    }),
                )
            }
            _ => {
                let mut bytes = [0u8; 32];
                for chunk in bytes.chunks_mut(8) {
                    chunk.copy_from_slice(&rng.next().to_le_bytes());
                }
                let key = PublicKey::new(
                    &SigningKey::from_bytes(&bytes).verifying_key(),
                    &format!("k{next}"),
                    "k@example.com",
                    vec![],
                );
                std::fs::write(&file, serde_json::to_string(&key).unwrap()).unwrap();
                let keyid = key.keyid.0;
                (
                    vec!["keys".into(), "trust".into(), file.clone()],
                    0,
                    Box::new(move |m: &mut State, _: &Value| {
                        m.keys.insert(keyid);
                    }),
                )
            }
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let kill_after = (rng.below(3) == 0).then(|| Duration::from_millis(rng.below(31)));
        attempts += usize::from(kill_after.is_some());
        match run(home, &args, kill_after) {
            Run::Finished(out) => {
                let v = finished(&out, &args, exit);
                apply(&mut model, &v);
            }
            Run::Killed => {
                kills += 1;
                // Whether it committed is unknown: the store, once checked,
                // is the model from here on.
                let after = check_store(home);
                committed += usize::from(after != model);
                model = after;
                checks += 1;
                continue;
            }
        }
        if kill_after.is_some() || op % CHECK_EVERY == CHECK_EVERY - 1 {
            // Nothing was killed since the last look: no write was lost.
            assert_eq!(check_store(home), model, "after operation {op} {args:?}");
            checks += 1;
        }
    }
    let listed = gavel_in(
        home,
        &["bundle", "list", "--limit", "1000", "--format", "json"],
    );
    assert_eq!(json(&listed)["total"], model.versions.len());
    eprintln!(
        "crash test: {OPERATIONS} operations, {attempts} kill attempts, {kills} killed mid-run ({committed} of them after their change committed), {checks} full checks, {} versions at the end, {:.1?}",
        model.versions.len(),
        started.elapsed()
    );
    assert!(
        kills > 0,
        "no run was killed mid-way: the delays are too long"
    );
}

#[test]
fn four_processes_creating_versions_at_once_lose_nothing() {
    const STREAMS: usize = 4;
    const EACH: usize = 25;
    let home = alice_home();
    let files = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let streams: Vec<_> = (0..STREAMS)
        .map(|s| {
            let home = home.path().to_path_buf();
            let dir = files.path().to_path_buf();
            std::thread::spawn(move || {
                for i in 0..EACH {
                    let file = dir.join(format!("s{s}-{i}.yaml"));
                    let name = format!("stream-{s}-{i}");
                    std::fs::write(&file, bundle_text(&name, "1.0.0", (s * 100 + i) as u64))
                        .unwrap();
                    let args = ["bundle", "new", file.to_str().unwrap()];
                    let out = gavel_in(&home, &[&args[..], &["--format", "json"][..]].concat());
                    let v = finished(&out, &args, 0);
                    assert_eq!(v["reference"], format!("{name}@1.0.0"));
                }
            })
        })
        .collect();
    for s in streams {
        s.join().unwrap();
    }
    eprintln!(
        "{} versions from {STREAMS} processes at once in {:.1?}",
        STREAMS * EACH,
        started.elapsed()
    );
    // Every version stored, each with its one audit entry, seq 1..n.
    let state = check_store(home.path());
    let expected: BTreeSet<String> = (0..STREAMS)
        .flat_map(|s| (0..EACH).map(move |i| format!("stream-{s}-{i}@1.0.0")))
        .collect();
    assert_eq!(
        state.versions.keys().cloned().collect::<BTreeSet<_>>(),
        expected
    );
    let list = gavel_in(
        home.path(),
        &["bundle", "list", "--limit", "1000", "--format", "json"],
    );
    assert_eq!(code(&list), 0);
    let list = json(&list);
    assert_eq!(list["total"], STREAMS * EACH);
    let listed: BTreeSet<String> = list["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["reference"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, expected);
}
