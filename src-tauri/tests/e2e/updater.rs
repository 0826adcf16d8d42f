//! The updater against a loopback update server (DESIGN §11.14): the
//! manifest and the artifact are served over plain HTTP (allowed only in
//! the end-to-end build), and the artifact's minisign signature decides.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::driver::App;

/// What the server answers: the manifest and the artifact.
#[derive(Clone, Default)]
struct Served {
    manifest: String,
    artifact: Vec<u8>,
}

/// A loopback HTTP server for `/latest.json` and `/artifact`; answers
/// until the test ends.
fn serve(served: Arc<Mutex<Served>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().expect("its address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("stream"));
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            // The rest of the request head.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let now = served.lock().expect("served").clone();
            let (kind, body) = if request.contains(" /latest.json ") {
                ("application/json", now.manifest.into_bytes())
            } else if request.contains(" /artifact ") {
                ("application/octet-stream", now.artifact)
            } else {
                ("text/plain", b"not found".to_vec())
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    port
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The artifact's signature by `key`, for `version`, as `tauri signer
/// sign` writes it (base64 of the minisign signature file).
fn signature(key: &minisign::KeyPair, artifact: &[u8], version: &str) -> String {
    let sig = minisign::sign(
        Some(&key.pk),
        &key.sk,
        std::io::Cursor::new(artifact),
        Some(&format!(
            "timestamp:1764547200\tfile:gavel.tar.gz\tversion:{version}"
        )),
        Some("signature from tauri secret key"),
    )
    .expect("signs");
    b64(&sig.to_string())
}

fn manifest(port: u16, version: &str, signature: &str) -> String {
    json!({
        "version": version,
        "notes": "Faster lint; a fix to the audit view",
        "pub_date": "2026-12-01T00:00:00Z",
        "platforms": {"linux-x86_64": {
            "signature": signature,
            "url": format!("http://127.0.0.1:{port}/artifact"),
        }},
    })
    .to_string()
}

fn call(app: &App, command: &str, args: Value) -> Value {
    app.invoke(command, args)
}

/// A correctly signed artifact downloads and verifies; a tampered one, one
/// signed by another key, and one signed for another version than the
/// manifest announces are refused at download.
#[test]
fn the_updater_downloads_only_what_the_configured_key_signed() {
    let ours = minisign::KeyPair::generate_unencrypted_keypair().expect("our key");
    let theirs = minisign::KeyPair::generate_unencrypted_keypair().expect("another key");
    let artifact = b"gavel 9.9.9 for linux-x86_64".repeat(64);
    let served = Arc::new(Mutex::new(Served::default()));
    let port = serve(served.clone());
    let offer = |sig: String, artifact: Vec<u8>, announced: &str| {
        *served.lock().expect("served") = Served {
            manifest: manifest(port, announced, &sig),
            artifact,
        };
    };

    let app = App::start("updater");
    app.label("Load example bundles");
    // Off until configured.
    assert_eq!(
        call(&app, "check_for_update", json!({}))["code"],
        "updater_off"
    );
    let pubkey = b64(&ours.pk.to_box().expect("public key box").to_string());
    offer(
        signature(&ours, &artifact, "9.9.9"),
        artifact.clone(),
        "9.9.9",
    );

    // Configured in Settings; checked, downloaded and verified there.
    app.press("Settings");
    app.fill(
        "Update endpoint",
        &format!("http://127.0.0.1:{port}/latest.json"),
    );
    app.paste("Update public key", &pubkey);
    app.press("Save update settings");
    app.label("Update settings saved");
    app.press("Check for updates");
    let check = app.wait_for("the check", || app.text_of("Update check"));
    assert!(check.contains("9.9.9"), "{check}");
    app.press("Download update");
    let done = app.wait_for("the download", || app.text_of("Update downloaded"));
    assert!(done.contains("1,792"), "{done}");
    app.screenshot("updater-verified");
    let check = call(&app, "check_for_update", json!({}));
    assert_eq!(check["ok"]["available"], true, "{check}");
    assert_eq!(check["ok"]["version"], "9.9.9");
    let downloaded = call(&app, "download_update", json!({}));
    assert_eq!(downloaded["ok"]["bytes"], artifact.len(), "{downloaded}");
    assert_eq!(downloaded["ok"]["version"], "9.9.9", "{downloaded}");

    // One byte of the artifact changed after signing.
    let mut tampered = artifact.clone();
    tampered[10] ^= 1;
    offer(signature(&ours, &artifact, "9.9.9"), tampered, "9.9.9");
    let refused = call(&app, "download_update", json!({}));
    assert_eq!(refused["code"], "update_refused", "{refused}");
    // The refused download replaced the good one: nothing to install.
    let nothing = call(&app, "install_update", json!({}));
    assert_eq!(nothing["code"], "not_found", "{nothing}");

    // Signed, but by a key the app does not trust.
    offer(
        signature(&theirs, &artifact, "9.9.9"),
        artifact.clone(),
        "9.9.9",
    );
    let refused = call(&app, "download_update", json!({}));
    assert_eq!(refused["code"], "update_refused", "{refused}");

    // An older signed build announced as newer.
    offer(
        signature(&ours, &artifact, "9.9.8"),
        artifact.clone(),
        "9.9.9",
    );
    let refused = call(&app, "download_update", json!({}));
    assert_eq!(refused["code"], "update_refused", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("9.9.8")),
        "{refused}"
    );
    // The same refusal, as the screen shows it.
    app.press("Download update");
    app.wait_for("the refusal", || {
        app.page_text()
            .contains("the update was refused")
            .then_some(())
    });

    // "Check at start": the next time the window opens, it says so.
    offer(
        signature(&ours, &artifact, "9.9.9"),
        artifact.clone(),
        "9.9.9",
    );
    app.press("Check at start");
    app.press("Save update settings");
    app.label("Update settings saved");
    app.reload();
    app.wait_for("the notice at start", || {
        app.page_text()
            .contains("Gavel 9.9.9 is available")
            .then_some(())
    });
}
