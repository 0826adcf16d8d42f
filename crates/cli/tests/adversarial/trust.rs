//! Signed documents and trust files up to the size limit: an envelope that
//! repeats one valid signature, one with a hundred thousand unknown
//! signers, a trust file listing one key over and over, the most keys one
//! `keys trust` takes, and a 16 MiB payload to sign.

use std::time::Duration;

use gavel_trust::{PayloadKind, PublicKey, Role};
use serde_json::{Value, json};

use crate::*;

const LIMIT: usize = 16 << 20;

fn signing_key(seed: u8) -> gavel_trust::ed25519::SigningKey {
    gavel_trust::ed25519::SigningKey::from_bytes(&[seed; 32])
}

/// A valid bundle envelope by `key`, signed now.
fn envelope(key: &gavel_trust::ed25519::SigningKey) -> Value {
    let statement = gavel_trust::bundle_statement(&json!([]), "alice").unwrap();
    let payload = gavel_trust::stamp(
        PayloadKind::Bundle,
        &statement,
        jiff::Timestamp::now(),
        3600,
    )
    .unwrap();
    gavel_trust::sign_dsse(PayloadKind::Bundle.media_type(), &payload, &[key]).unwrap()
}

/// `env` with as many copies of `entry(i)` in `signatures` as fit in 16 MiB.
fn fill(mut env: Value, entry: impl Fn(usize) -> Value) -> Vec<u8> {
    let base = serde_json::to_vec(&env).unwrap().len();
    let each = serde_json::to_vec(&entry(0)).unwrap().len() + 1;
    let n = (LIMIT - base - 1024) / each;
    env["signatures"] = Value::Array((0..n).map(entry).collect());
    let text = serde_json::to_vec(&env).unwrap();
    assert!(
        text.len() <= LIMIT && text.len() > LIMIT - 64 * 1024,
        "{}",
        text.len()
    );
    text
}

/// Puts identities straight into the store of the case's `home`.
fn seed_identities(dir: &std::path::Path, identities: &[PublicKey]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        std::fs::create_dir_all(dir.join("home")).unwrap();
        let store = gavel_store::Store::open(&dir.join("home/gavel.db"))
            .await
            .unwrap();
        for k in identities {
            store.add_identity(k).await.unwrap();
        }
    });
}

/// Regression: one valid signature repeated to 16 MiB took 30 s to verify
/// (one Ed25519 check per copy); a repeated signature is checked once.
#[test]
fn verify_checks_a_repeated_signature_once() {
    let dir = workdir();
    let key = signing_key(80);
    let env = envelope(&key);
    let one = env["signatures"][0].clone();
    let file = write(dir.path(), "repeated.json", fill(env, |_| one.clone()));
    let public = PublicKey::new(
        &key.verifying_key(),
        "alice",
        "a@example.com",
        vec![Role::Author],
    );
    let pubfile = write(
        dir.path(),
        "alice.pub.json",
        serde_json::to_vec(&public).unwrap(),
    );
    let r = run(
        dir.path(),
        &["verify", &file, "--key", &pubfile, "--format", "json"],
        None,
    );
    r.assert_bounded(
        "verify 16 MiB of one repeated signature",
        Duration::from_secs(10),
    );
    assert_eq!(r.code, 0, "{}", r.stdout_text());
}

/// A hundred thousand unknown signers: `unknown_key`, with a short message.
#[test]
fn verify_names_a_few_unknown_signers_not_all() {
    let dir = workdir();
    let key = signing_key(81);
    let env = envelope(&key);
    let sig = env["signatures"][0]["sig"].clone();
    let file = write(
        dir.path(),
        "strangers.json",
        fill(env, |i| json!({"keyid": format!("{i:016x}"), "sig": sig})),
    );
    let public = PublicKey::new(
        &key.verifying_key(),
        "alice",
        "a@example.com",
        vec![Role::Author],
    );
    let pubfile = write(
        dir.path(),
        "alice.pub.json",
        serde_json::to_vec(&public).unwrap(),
    );
    let r = run(
        dir.path(),
        &["verify", &file, "--key", &pubfile, "--format", "json"],
        None,
    );
    r.assert_bounded("verify 16 MiB of unknown signers", Duration::from_secs(10));
    assert_eq!(r.code, 1);
    let v: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["reason"], "unknown_key");
    assert!(r.stdout.len() < 2048, "{} bytes", r.stdout.len());
}

/// Regression: a trust file listing one key seventy thousand times took
/// 40 s of store writes; a file lists at most 1000 keys, each once.
#[test]
fn keys_trust_refuses_a_flood_of_keys_before_writing() {
    let dir = workdir();
    let sam = PublicKey::new(
        &signing_key(82).verifying_key(),
        "sam",
        "s@example.com",
        vec![Role::Security],
    );
    seed_identities(dir.path(), &[sam]);
    let one = PublicKey::new(
        &signing_key(83).verifying_key(),
        "bob",
        "b@example.com",
        vec![],
    );
    let entry = serde_json::to_vec(&one).unwrap().len() + 1;
    let n = (LIMIT - 1024) / entry;
    let file = write(
        dir.path(),
        "flood.json",
        serde_json::to_vec(&json!({"version": 1, "keys": vec![one; n]})).unwrap(),
    );
    let r = run(
        dir.path(),
        &["keys", "trust", &file, "--format", "json"],
        None,
    );
    r.assert_bounded(
        "keys trust: one key listed to 16 MiB",
        Duration::from_secs(10),
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("at most 1000"), "{}", r.stderr);
}

/// The most keys one `keys trust` takes, all distinct: written in bounded
/// time.
#[test]
fn keys_trust_takes_a_thousand_keys_in_bounded_time() {
    let dir = workdir();
    let sam = PublicKey::new(
        &signing_key(84).verifying_key(),
        "sam",
        "s@example.com",
        vec![Role::Security],
    );
    seed_identities(dir.path(), &[sam]);
    let keys: Vec<PublicKey> = (0..1000u32)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..4].copy_from_slice(&i.to_be_bytes());
            seed[31] = 1;
            let k = gavel_trust::ed25519::SigningKey::from_bytes(&seed);
            PublicKey::new(
                &k.verifying_key(),
                &format!("key-{i}"),
                "k@example.com",
                vec![Role::Security],
            )
        })
        .collect();
    let file = write(
        dir.path(),
        "thousand.json",
        serde_json::to_vec(&json!({"version": 1, "keys": keys})).unwrap(),
    );
    let r = run(
        dir.path(),
        &["keys", "trust", &file, "--format", "json"],
        None,
    );
    r.assert_bounded("keys trust: 1000 distinct keys", Duration::from_secs(30));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(out.as_array().unwrap().len(), 1000);
    assert!(
        out[0]["roles"].as_array().unwrap().is_empty(),
        "no roles from the file"
    );
}

/// A 16 MiB payload to sign: parsed with locations and checked, then
/// refused for its unknown field, without reaching the keychain.
#[test]
fn sign_reads_a_16_mib_payload_within_bounds() {
    let dir = workdir();
    let alice = PublicKey::new(
        &signing_key(85).verifying_key(),
        "alice",
        "a@example.com",
        vec![Role::Author],
    );
    seed_identities(dir.path(), &[alice]);
    let bundle = json!([]);
    let filler = "x".repeat(100);
    let mut statement = json!({
        "bundle": "inbox-agents", "base": null,
        "proposed": {"version": "1.0.0", "digest": gavel_trust::bundle_digest(&bundle).unwrap().to_string(), "bundle": bundle},
        "diff": {}, "simulation": {}, "signatures": [],
    });
    let n = (LIMIT - 4096) / (filler.len() + 12);
    statement["diff"] = json!({"notes": vec![filler; n]});
    statement["zzz_unknown"] = json!(1);
    let file = write(
        dir.path(),
        "payload.json",
        serde_json::to_vec(&statement).unwrap(),
    );
    let r = run(
        dir.path(),
        &["sign", "--type", "review", &file, "--format", "json"],
        None,
    );
    r.assert_bounded("sign a 16 MiB review payload", Duration::from_secs(10));
    assert_eq!(r.code, 2);
    let e: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(e["error"]["pointer"], "/zzz_unknown");
}
