//! The client against a real registry on loopback (the CNCF distribution
//! registry, Debian's `docker-registry`, started per test on a free port)
//! and a directory target, with `skopeo` as an independent client reading
//! what was pushed.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use gavel_registry::artifact::{
    self, BUNDLE_ARTIFACT, BUNDLE_LAYER, DSSE_LAYER, MANIFEST_TYPE, SIGNATURES_ARTIFACT,
};
use gavel_registry::testing::{Auth, LoopbackRegistry, free_port};
use gavel_registry::{Descriptor, Location, Manifest, RegistryError, Remote, Target};
use serde_json::Value;

fn registry() -> LoopbackRegistry {
    LoopbackRegistry::start()
}

fn target(reg: &LoopbackRegistry) -> Target {
    Target::open(&Location::parse(&reg.url("team")).unwrap(), None).unwrap()
}

fn skopeo(args: &[&str]) -> Value {
    let out = Command::new("skopeo")
        .args(args)
        .output()
        .expect("skopeo runs (cargo xtask installs it)");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("skopeo prints JSON")
}

const BUNDLE: &[u8] = br#"{"apiVersion":"gavel/v1","kind":"PolicyBundle","metadata":{"name":"inbox-triage","version":"1.0.0"},"rules":[]}"#;

/// A bundle and its signatures, pushed as Gavel pushes them.
async fn push_bundle(t: &Target, repo: &str) -> (Descriptor, Descriptor) {
    let layer = Descriptor::of(BUNDLE_LAYER, BUNDLE);
    let bundle = Manifest::new(BUNDLE_ARTIFACT, vec![layer], None);
    let pushed = t
        .push(repo, &bundle, &[BUNDLE], Some("1.0.0"))
        .await
        .unwrap();
    let envelope = br#"{"payloadType":"application/vnd.gavel.bundle.v1+json","payload":"e30=","signatures":[]}"#;
    let sigs = Manifest::new(
        SIGNATURES_ARTIFACT,
        vec![Descriptor::of(DSSE_LAYER, envelope)],
        Some(pushed.clone()),
    );
    let tag = artifact::sig_tag(&artifact::digest(BUNDLE)).unwrap();
    let sig = t.push(repo, &sigs, &[envelope], Some(&tag)).await.unwrap();
    (pushed, sig)
}

#[tokio::test(flavor = "multi_thread")]
async fn pushed_artifacts_read_back_and_skopeo_reads_them_too() {
    let reg = registry();
    let t = target(&reg);
    let repo = "team/inbox-triage";
    let (pushed, _) = push_bundle(&t, repo).await;

    // Read back by tag: the manifest, its digest, the layer's bytes.
    let (m, d) = t.manifest(repo, "1.0.0").await.unwrap().expect("tagged");
    assert_eq!(d.digest, pushed.digest);
    assert_eq!(m.artifact_type.as_deref(), Some(BUNDLE_ARTIFACT));
    assert_eq!(t.blob(repo, &m.layers[0]).await.unwrap(), BUNDLE);
    // By digest too; nothing under an unknown tag.
    assert!(t.manifest(repo, &pushed.digest).await.unwrap().is_some());
    assert!(t.manifest(repo, "9.9.9").await.unwrap().is_none());

    // Pushing the same content again changes nothing.
    let (again, _) = push_bundle(&t, repo).await;
    assert_eq!(again.digest, pushed.digest);

    // skopeo, independently: media types, the empty config, the layer, tags.
    let url = format!("docker://127.0.0.1:{}/{repo}", reg.port);
    let raw = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--raw",
        &format!("{url}:1.0.0"),
    ]);
    assert_eq!(raw["mediaType"], MANIFEST_TYPE);
    assert_eq!(raw["artifactType"], BUNDLE_ARTIFACT);
    assert_eq!(
        raw["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert_eq!(raw["layers"][0]["mediaType"], BUNDLE_LAYER);
    assert_eq!(raw["layers"][0]["digest"], artifact::digest(BUNDLE));
    let sig_tag = artifact::sig_tag(&artifact::digest(BUNDLE)).unwrap();
    let sig = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--raw",
        &format!("{url}:{sig_tag}"),
    ]);
    assert_eq!(sig["artifactType"], SIGNATURES_ARTIFACT);
    assert_eq!(sig["subject"]["digest"], pushed.digest.as_str());
    assert_eq!(sig["layers"][0]["mediaType"], DSSE_LAYER);
    let tags = skopeo(&["list-tags", "--tls-verify=false", &url]);
    let mut listed: Vec<&str> = tags["Tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    listed.sort_unstable();
    assert_eq!(listed, ["1.0.0", sig_tag.as_str()]);
    let mut ours = t.tags(repo).await.unwrap();
    ours.sort();
    assert_eq!(ours, listed);
    // This registry has no referrers API: the tag scheme carries them.
    assert_eq!(t.referrers(repo, &pushed.digest).await.unwrap(), None);
    assert!(t.tags("team/nothing-here").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_blob_goes_up_in_chunks_and_comes_back_whole() {
    let reg = registry();
    let t = target(&reg);
    let big: Vec<u8> = (0..(9u32 << 20)).map(|i| (i % 251) as u8).collect();
    let layer = Descriptor::of(BUNDLE_LAYER, &big);
    let m = Manifest::new(BUNDLE_ARTIFACT, vec![layer.clone()], None);
    t.push("team/big", &m, &[&big], Some("1.0.0"))
        .await
        .unwrap();
    assert_eq!(t.blob("team/big", &layer).await.unwrap(), big);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_layer_and_a_lying_descriptor_are_refused() {
    let reg = registry();
    let t = target(&reg);
    let repo = "team/inbox-triage";
    push_bundle(&t, repo).await;
    let (m, _) = t.manifest(repo, "1.0.0").await.unwrap().unwrap();
    // The stored bytes changed behind the registry's back.
    let file = reg.blob_file(&m.layers[0].digest);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[20] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    let e = t.blob(repo, &m.layers[0]).await.unwrap_err();
    assert!(matches!(e, RegistryError::DigestMismatch { .. }), "{e}");
    assert_eq!(e.code(), "registry_refused");
    // A descriptor that claims less than the blob holds: never read past it.
    let short = Descriptor {
        size: 10,
        ..m.layers[0].clone()
    };
    let e = t.blob(repo, &short).await.unwrap_err();
    assert!(
        matches!(
            e,
            RegistryError::TooLarge { .. } | RegistryError::DigestMismatch { .. }
        ),
        "{e}"
    );
    // One that claims more than any layer may weigh is not even fetched.
    let huge = Descriptor {
        size: gavel_registry::MAX_BLOB_BYTES + 1,
        ..m.layers[0].clone()
    };
    assert!(matches!(
        t.blob(repo, &huge).await.unwrap_err(),
        RegistryError::TooLarge { .. }
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_that_is_down_is_reported_after_retries() {
    let port = free_port();
    let remote = Remote::new(&format!("http://127.0.0.1:{port}"), None)
        .unwrap()
        .with_backoff(Duration::from_millis(10));
    let started = Instant::now();
    let e = Target::Remote(remote).tags("team/x").await.unwrap_err();
    assert!(matches!(e, RegistryError::Unreachable { .. }), "{e}");
    assert_eq!(e.code(), "registry_unreachable");
    assert!(e.to_string().contains("try again"), "{e}");
    // Three pauses: 10 + 20 + 40 ms.
    assert!(started.elapsed() >= Duration::from_millis(70));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_directory_target_is_an_oci_layout_skopeo_reads() {
    let dir = tempfile::tempdir().unwrap();
    let t = Target::open(&Location::Dir(dir.path().to_path_buf()), None).unwrap();
    let (pushed, _) = push_bundle(&t, "inbox-triage").await;
    let (m, d) = t.manifest("inbox-triage", "1.0.0").await.unwrap().unwrap();
    assert_eq!(d.digest, pushed.digest);
    assert_eq!(t.blob("inbox-triage", &m.layers[0]).await.unwrap(), BUNDLE);
    let layout = dir.path().join("inbox-triage");
    assert!(Path::new(&layout.join("oci-layout")).exists());
    let raw = skopeo(&[
        "inspect",
        "--raw",
        &format!("oci:{}:1.0.0", layout.display()),
    ]);
    assert_eq!(raw["artifactType"], BUNDLE_ARTIFACT);
    assert_eq!(raw["layers"][0]["digest"], artifact::digest(BUNDLE));
    // (Debian 12's skopeo lists tags of registries only: each is read.)
    let sig_tag = artifact::sig_tag(&artifact::digest(BUNDLE)).unwrap();
    let sig = skopeo(&[
        "inspect",
        "--raw",
        &format!("oci:{}:{sig_tag}", layout.display()),
    ]);
    assert_eq!(sig["artifactType"], SIGNATURES_ARTIFACT);
    assert_eq!(sig["subject"]["digest"], pushed.digest.as_str());
    // A tag pushed again names the new manifest only.
    let other = br#"{"rules":[1]}"#;
    let m2 = Manifest::new(
        BUNDLE_ARTIFACT,
        vec![Descriptor::of(BUNDLE_LAYER, other)],
        None,
    );
    t.push("inbox-triage", &m2, &[other], Some("1.0.0"))
        .await
        .unwrap();
    let (now, _) = t.manifest("inbox-triage", "1.0.0").await.unwrap().unwrap();
    assert_eq!(now.layers[0].digest, artifact::digest(other));
    assert_eq!(t.tags("inbox-triage").await.unwrap().len(), 2);
}

fn with_credentials(reg: &LoopbackRegistry, username: &str, password: &str) -> Target {
    Target::open(
        &Location::parse(&reg.url("team")).unwrap(),
        Some(gavel_registry::Credentials {
            username: username.into(),
            password: password.into(),
        }),
    )
    .unwrap()
}

/// What `skopeo inspect --raw` reads with `creds`, or its error.
fn skopeo_with(creds: Option<&str>, image: &str) -> Result<Value, String> {
    let mut args = vec!["inspect", "--raw", "--tls-verify=false"];
    if let Some(c) = creds {
        args.extend(["--creds", c]);
    } else {
        args.push("--no-creds");
    }
    args.push(image);
    let out = Command::new("skopeo").args(&args).output().unwrap();
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A registry behind basic auth (htpasswd): the right credentials push and
/// read back; none, or a wrong password, are refused with
/// `registry_unauthorized` — and skopeo agrees on both.
#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_pushes_with_credentials_and_refuses_without() {
    let reg = LoopbackRegistry::start_with(Auth::Basic {
        username: "alice".into(),
        password: "s3cret-pass".into(),
    });
    let t = with_credentials(&reg, "alice", "s3cret-pass");
    let (bundle, _) = push_bundle(&t, "team/inbox-triage").await;
    let (_, read) = t
        .manifest("team/inbox-triage", "1.0.0")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.digest, bundle.digest);
    for t in [target(&reg), with_credentials(&reg, "alice", "wrong")] {
        let e = t.tags("team/inbox-triage").await.unwrap_err();
        assert_eq!(e.code(), "registry_unauthorized", "{e}");
    }
    let image = format!("docker://127.0.0.1:{}/team/inbox-triage:1.0.0", reg.port);
    let raw = skopeo_with(Some("alice:s3cret-pass"), &image).unwrap();
    assert_eq!(raw["artifactType"], BUNDLE_ARTIFACT);
    assert!(skopeo_with(None, &image).is_err());
}

/// A registry that takes bearer tokens (the Docker token protocol): the
/// client answers its challenge at the token server with the user's
/// credentials, pushes and reads back with the token it got, and reuses it
/// rather than asking again per request; a wrong password gets no token
/// and is refused with `registry_unauthorized`. skopeo, through the same
/// token server, reads what was pushed.
#[tokio::test(flavor = "multi_thread")]
async fn bearer_tokens_come_from_the_token_server_and_are_reused() {
    let reg = LoopbackRegistry::start_with(Auth::Token {
        username: "bo".into(),
        password: "token-pass".into(),
    });
    let t = with_credentials(&reg, "bo", "token-pass");
    let (bundle, sig) = push_bundle(&t, "team/inbox-triage").await;
    let tags = t.tags("team/inbox-triage").await.unwrap();
    assert!(tags.contains(&"1.0.0".to_string()), "{tags:?}");
    let (_, read) = t
        .manifest("team/inbox-triage", "1.0.0")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.digest, bundle.digest);
    // Two artifacts (four blobs, two manifests), tags and a manifest read:
    // far fewer tokens than requests.
    let issued = reg.tokens_issued();
    assert!((1..=3).contains(&issued), "{issued} tokens");

    let e = with_credentials(&reg, "bo", "wrong")
        .tags("team/inbox-triage")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "registry_unauthorized", "{e}");
    let e = target(&reg).tags("team/inbox-triage").await.unwrap_err();
    assert_eq!(e.code(), "registry_unauthorized", "{e}");

    let image = format!(
        "docker://127.0.0.1:{}/team/inbox-triage:{}",
        reg.port,
        artifact::sig_tag(&artifact::digest(BUNDLE)).unwrap()
    );
    let raw = skopeo_with(Some("bo:token-pass"), &image).unwrap();
    assert_eq!(raw["artifactType"], SIGNATURES_ARTIFACT);
    assert_eq!(raw["subject"]["digest"], bundle.digest);
    let (_, read) = t
        .manifest(
            "team/inbox-triage",
            &artifact::sig_tag(&artifact::digest(BUNDLE)).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.digest, sig.digest);
}
