//! Push and pull through a real registry on loopback (DESIGN §8, §11.16):
//! the author's console (A: alice) pushes; a teammate's (B: bob, who
//! trusts alice's key) pulls and verifies; a console that does not trust
//! her (C) and a layer changed in the registry are refused with nothing
//! stored; a moved version tag is refused; a registry that is down says so.

use std::sync::Arc;

use gavel_console::{Console, MemoryKeychain, RegistryUseError};
use gavel_registry::artifact::{self, BUNDLE_ARTIFACT, BUNDLE_LAYER, DSSE_LAYER};
use gavel_registry::testing::{LoopbackRegistry, free_port};
use gavel_registry::{Descriptor, Location, Manifest, Target};
use gavel_store::Store;
use gavel_trust::Role;
use serde_json::Value;

struct Home {
    dir: tempfile::TempDir,
    c: Console,
}

async fn home(who: &str, url: &str) -> Home {
    let dir = tempfile::tempdir().unwrap();
    let c = Console::open(dir.path(), Arc::new(MemoryKeychain::default()))
        .await
        .unwrap();
    c.generate_identity(who, &format!("{who}@example.com"), None, None)
        .await
        .unwrap();
    c.registry_add("team", url, None, None, None).await.unwrap();
    Home { dir, c }
}

/// The author's console with the examples, inbox-triage bound to `url`.
async fn author(url: &str) -> Home {
    let a = home("alice", url).await;
    a.c.init(true).await.unwrap();
    a.c.bind_bundle("inbox-triage", "team", None).await.unwrap();
    a
}

/// A console whose identity trusts alice's key as an author.
async fn teammate(who: &str, url: &str, a: &Home) -> Home {
    let b = home(who, url).await;
    let alice = a.c.export_key("alice").await.unwrap();
    b.c.trust_keys(vec![alice], Some(vec![Role::Author]), None)
        .await
        .unwrap();
    b.c.bind_bundle("inbox-triage", "team", None).await.unwrap();
    b
}

async fn versions(h: &Home) -> usize {
    let store = Store::open(&h.dir.path().join("gavel.db")).await.unwrap();
    store.version_index().await.unwrap().len()
}

fn skopeo_raw(url: &str) -> Value {
    let out = std::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--raw", url])
        .output()
        .expect("skopeo runs (cargo xtask installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn target(url: &str) -> Target {
    Target::open(&Location::parse(url).unwrap(), None).unwrap()
}

#[tokio::test]
async fn a_pushed_version_is_pulled_and_verified_by_a_teammate() {
    let reg = LoopbackRegistry::start();
    let url = reg.url("team");
    let a = author(&url).await;

    // What would go up, without sending it.
    let dry = a.c.push("inbox-triage@1.0.0", true, None).await.unwrap();
    assert!(dry.dry_run);
    assert_eq!(dry.repository, "team/inbox-triage");
    assert_eq!(dry.artifacts[0].tag, "1.0.0");
    assert!(
        target(&url)
            .tags("team/inbox-triage")
            .await
            .unwrap()
            .is_empty()
    );

    let pushed = a.c.push("inbox-triage@1.0.0", false, None).await.unwrap();
    assert!(!pushed.unchanged);
    let t = target(&url);
    let (m, _) = t
        .manifest("team/inbox-triage", "1.0.0")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.artifact_type.as_deref(), Some(BUNDLE_ARTIFACT));
    // The layer is the canonical bundle: its digest is the version's.
    assert_eq!(m.layers[0].digest, pushed.digest);
    let sig_tag = artifact::sig_tag(&pushed.digest).unwrap();
    let (sigs, _) = t
        .manifest("team/inbox-triage", &sig_tag)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sigs.layers.len(), 1);
    assert_eq!(sigs.layers[0].media_type, DSSE_LAYER);
    assert_eq!(
        sigs.subject.as_ref().map(|s| s.digest.as_str()),
        Some(pushed.artifacts[0].digest.as_str())
    );
    // The same digest again: nothing new, the published envelope kept (the
    // signatures artifact is byte for byte the same).
    let again = a.c.push("inbox-triage@1.0.0", false, None).await.unwrap();
    assert!(again.unchanged);
    assert_eq!(again.artifacts[1].digest, pushed.artifacts[1].digest);

    // Bob trusts alice: the version arrives, verified, from the registry.
    let b = teammate("bob", &url, &a).await;
    let before = versions(&b).await;
    let pulled = b.c.pull("inbox-triage@1.0.0", None).await.unwrap();
    assert_eq!(pulled.digest, pushed.digest);
    assert_eq!(versions(&b).await, before + 1);
    let shown = b.c.show_version("inbox-triage@1.0.0").await.unwrap();
    let from: Value = serde_json::to_value(&shown).unwrap();
    assert_eq!(from["provenance"]["from"]["registry"], "team", "{from}");
    // Twice is refused: the version exists.
    let again = b.c.pull("inbox-triage@1.0.0", None).await.unwrap_err();
    assert_eq!(again.code(), "version_exists", "{again}");

    // Carol does not trust alice: refused, nothing stored.
    let c = home("carol", &url).await;
    c.c.bind_bundle("inbox-triage", "team", None).await.unwrap();
    let before = versions(&c).await;
    let refused = c.c.pull("inbox-triage@1.0.0", None).await.unwrap_err();
    assert_eq!(refused.code(), "registry_refused", "{refused}");
    assert!(refused.is_refusal());
    assert_eq!(versions(&c).await, before);
}

#[tokio::test]
async fn a_changed_layer_and_a_moved_tag_are_refused() {
    let reg = LoopbackRegistry::start();
    let url = reg.url("team");
    let a = author(&url).await;
    let pushed = a.c.push("inbox-triage@1.0.0", false, None).await.unwrap();

    // The layer changed behind the registry's back.
    let file = reg.blob_file(&pushed.digest);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[30] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    let b = teammate("bob", &url, &a).await;
    let before = versions(&b).await;
    let e = b.c.pull("inbox-triage@1.0.0", None).await.unwrap_err();
    assert_eq!(e.code(), "registry_refused", "{e}");
    assert!(e.to_string().contains("digest"), "{e}");
    assert_eq!(versions(&b).await, before);

    // Someone re-tagged 1.2.0 of knowledge-management to other content.
    a.c.bind_bundle("knowledge-management", "team", None)
        .await
        .unwrap();
    let other = br#"{"apiVersion":"gavel/v1","kind":"PolicyBundle","metadata":{},"rules":[]}"#;
    let m = Manifest::new(
        BUNDLE_ARTIFACT,
        vec![Descriptor::of(BUNDLE_LAYER, other)],
        None,
    );
    target(&url)
        .push("team/knowledge-management", &m, &[other], Some("1.2.0"))
        .await
        .unwrap();
    let e =
        a.c.push("knowledge-management@1.2.0", false, None)
            .await
            .unwrap_err();
    assert!(matches!(e, RegistryUseError::TagMoved { .. }), "{e}");
    assert_eq!(e.code(), "tag_moved");
    assert!(e.is_refusal());

    // Something else than a bundle under a version tag is not pulled.
    let sigs = Manifest::new(
        artifact::SIGNATURES_ARTIFACT,
        vec![Descriptor::of(DSSE_LAYER, other)],
        None,
    );
    target(&url)
        .push("team/inbox-triage", &sigs, &[other], Some("9.0.0"))
        .await
        .unwrap();
    let e = b.c.pull("inbox-triage@9.0.0", None).await.unwrap_err();
    assert_eq!(e.code(), "registry_refused", "{e}");
    assert!(e.to_string().contains("not a Gavel bundle"), "{e}");

    // A version tag moved after this console had the version: sync lists
    // it and changes nothing.
    target(&url)
        .push("team/inbox-triage", &m, &[other], Some("1.0.0"))
        .await
        .unwrap();
    let before = versions(&a).await;
    let r = a.c.sync("inbox-triage", None).await.unwrap();
    assert!(
        r.problems
            .iter()
            .any(|p| p.tag == "1.0.0" && p.reason.contains("never moves")),
        "{r:?}"
    );
    assert_eq!(versions(&a).await, before);
}

#[tokio::test]
async fn a_registry_that_is_down_fails_clearly_and_nothing_is_recorded() {
    let url = format!("oci+http://127.0.0.1:{}/team", free_port());
    let a = author(&url).await;
    let e =
        a.c.push("inbox-triage@1.0.0", false, None)
            .await
            .unwrap_err();
    assert_eq!(e.code(), "registry_unreachable", "{e}");
    assert!(e.to_string().contains("try again"), "{e}");
    let pushes =
        a.c.audit_list(gavel_console::AuditQuery {
            action: Some("bundle.push".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(pushes.is_empty());
    // Sync too: nothing fetched, nothing written.
    let before = versions(&a).await;
    let e = a.c.sync("inbox-triage", None).await.unwrap_err();
    assert_eq!(e.code(), "registry_unreachable", "{e}");
    assert_eq!(versions(&a).await, before);
    let synced =
        a.c.audit_list(gavel_console::AuditQuery {
            action: Some("bundle.import".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(synced.is_empty());
    // Unbound bundles say how to bind them.
    let e = a.c.push("budgets@0.9.0", false, None).await.unwrap_err();
    assert_eq!(e.code(), "not_bound");
    assert!(e.to_string().contains("gavel bundle bind budgets"), "{e}");
}

#[tokio::test]
async fn registries_are_named_checked_and_not_removed_while_bound() {
    let reg = LoopbackRegistry::start();
    let a = author(&reg.url("team")).await;
    for (name, url) in [
        ("Team", "oci://r.example.com/x"),
        ("other", "http://r.example.com/x"),
        ("other", "oci://r.example.com/Bad"),
    ] {
        let e =
            a.c.registry_add(name, url, None, None, None)
                .await
                .unwrap_err();
        assert_eq!(e.code(), "invalid", "{name} {url}: {e}");
    }
    let e =
        a.c.registry_add("team", "oci://r.example.com/x", None, None, None)
            .await
            .unwrap_err();
    assert_eq!(e.code(), "refused");
    let e = a.c.registry_rm("team", None).await.unwrap_err();
    assert_eq!(e.code(), "refused", "{e}");
    a.c.registry_add("spare", "dir:/tmp/gavel-spare", None, None, None)
        .await
        .unwrap();
    a.c.registry_rm("spare", None).await.unwrap();
    let listed = a.c.registry_list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].bundles, ["inbox-triage"]);
}

const INBOX: &str = include_str!("../../../fixtures/bundles/inbox-triage.yaml");

/// A console of one person with `roles`, bound to the team's registry.
async fn member(who: &str, roles: Vec<Role>, url: &str) -> Home {
    let dir = tempfile::tempdir().unwrap();
    let c = Console::open(dir.path(), Arc::new(MemoryKeychain::default()))
        .await
        .unwrap();
    c.generate_identity(who, &format!("{who}@example.com"), Some(roles), None)
        .await
        .unwrap();
    c.registry_add("team", url, None, None, None).await.unwrap();
    c.bind_bundle("inbox-triage", "team", None).await.unwrap();
    Home { dir, c }
}

/// `grantor` (a security identity) trusts each of `homes`' keys with the
/// roles that person holds in their own console: an approval states its
/// signer's roles, and a console refuses one stating roles it did not
/// grant.
async fn trust_all(homes: &[(&Home, &str, Vec<Role>)], grantor: &Home, grantor_name: &str) {
    for (h, who, roles) in homes {
        let key = h.c.export_key(who).await.unwrap();
        grantor
            .c
            .trust_keys(vec![key], Some(roles.clone()), Some(grantor_name))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_team_of_three_shares_a_submission_its_approvals_and_the_activation() {
    let reg = LoopbackRegistry::start();
    let url = reg.url("team");
    let approver = vec![Role::Approver, Role::Security];
    let author = member("alice", Role::PEOPLE.to_vec(), &url).await;
    let bob = member("bob", approver.clone(), &url).await;
    let carol = member("carol", approver.clone(), &url).await;
    let team = [
        (&author, "alice", Role::PEOPLE.to_vec()),
        (&bob, "bob", approver.clone()),
        (&carol, "carol", approver.clone()),
    ];
    // Each trusts the others with the roles they hold.
    for (h, me, _) in &team {
        let others: Vec<(&Home, &str, Vec<Role>)> = team
            .iter()
            .filter(|(_, who, _)| who != me)
            .cloned()
            .collect();
        trust_all(&others, h, me).await;
    }

    // Alice submits; with a bound registry her version is published.
    author
        .c
        .create_version("inbox-triage.yaml", INBOX, None, None)
        .await
        .unwrap();
    author.c.submit("inbox-triage@1.0.0", None).await.unwrap();
    let published = author.c.publish("inbox-triage", None).await.unwrap();
    assert_eq!(
        published.published,
        ["team/inbox-triage:1.0.0"],
        "{published:?}"
    );
    assert_eq!(
        (published.bundle.as_str(), published.registry.as_str()),
        ("inbox-triage", "team")
    );

    // Both approvers sync and see it in their inbox.
    for h in [&bob, &carol] {
        let r = h.c.sync("inbox-triage", None).await.unwrap();
        assert_eq!(
            (r.bundle.as_str(), r.registry.as_str()),
            ("inbox-triage", "team")
        );
        assert_eq!(r.fetched_versions, ["inbox-triage@1.0.0"], "{r:?}");
        assert!(r.problems.is_empty(), "{r:?}");
        let inbox = h.c.inbox(None).await.unwrap();
        assert!(
            inbox
                .awaiting
                .iter()
                .any(|i| i.reference == "inbox-triage@1.0.0" && i.environment == "prod"),
            "{inbox:?}"
        );
    }

    // They approve for prod at the same moment and publish at once.
    let (b, c) = tokio::join!(
        bob.c.decide(
            "inbox-triage@1.0.0",
            "prod",
            gavel_console::Decision::Approve,
            "fine for prod",
            None,
            None
        ),
        carol.c.decide(
            "inbox-triage@1.0.0",
            "prod",
            gavel_console::Decision::Approve,
            "looks right",
            None,
            None
        ),
    );
    b.unwrap();
    c.unwrap();
    let (pb, pc) = tokio::join!(
        bob.c.publish("inbox-triage", None),
        carol.c.publish("inbox-triage", None)
    );
    assert_eq!(pb.unwrap().published.len(), 1);
    assert_eq!(pc.unwrap().published.len(), 1);

    // Alice syncs: both approvals survive and count; she activates in prod.
    let r = author.c.sync("inbox-triage", None).await.unwrap();
    assert_eq!(r.fetched_approvals.len(), 2, "{r:?}");
    assert!(r.problems.is_empty(), "{r:?}");
    let t = author
        .c
        .activate(
            "inbox-triage@1.0.0",
            "prod",
            &gavel_console::Expect::default(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(t.rollout.active.version, "1.0.0");
    // Published: the signatures with both approvals counted, and the
    // signed rollout document.
    let sent = author.c.publish_rollout(&t, None).await.unwrap();
    assert!(sent.conflict.is_none(), "{sent:?}");
    assert!(sent.tags.iter().any(|t| t == "rollout-prod"), "{sent:?}");
    let sig_tag = artifact::sig_tag(&t.rollout.active.digest).unwrap();
    let (sigs, _) = target(&url)
        .manifest("team/inbox-triage", &sig_tag)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        sigs.layers.len(),
        3,
        "the bundle envelope and two approvals"
    );
    let (rollout, _) = target(&url)
        .manifest("team/inbox-triage", "rollout-prod")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        rollout.artifact_type.as_deref(),
        Some(artifact::ROLLOUT_ARTIFACT)
    );
    // skopeo, an independent client, reads the rollout and each approval.
    let base = format!("docker://127.0.0.1:{}/team/inbox-triage", reg.port);
    let raw = skopeo_raw(&format!("{base}:rollout-prod"));
    assert_eq!(raw["artifactType"], artifact::ROLLOUT_ARTIFACT);
    assert_eq!(raw["layers"][0]["mediaType"], DSSE_LAYER);
    for h in [&bob, &carol] {
        let keyid = h.c.list_keys().await.unwrap()[0].keyid.clone();
        let tag = artifact::approval_tag(&t.rollout.active.digest, &keyid, "prod").unwrap();
        let raw = skopeo_raw(&format!("{base}:{tag}"));
        assert_eq!(raw["artifactType"], artifact::SIGNATURES_ARTIFACT);
        assert_eq!(raw["layers"][0]["mediaType"], DSSE_LAYER);
    }

    // A fourth console that trusts the team sees the same approvals.
    let dave = member("dave", vec![Role::Security, Role::Approver], &url).await;
    trust_all(&team, &dave, "dave").await;
    let r = dave.c.sync("inbox-triage", None).await.unwrap();
    assert_eq!(r.fetched_versions, ["inbox-triage@1.0.0"]);
    assert_eq!(r.fetched_approvals.len(), 2, "{r:?}");
    // Dave's console knows serial 0 in prod; the registry says 1. Until he
    // trusts alice's console's operator key the document is refused; then
    // a change of his is refused as stale.
    let e = dave
        .c
        .check_remote_rollout("inbox-triage", "prod")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "registry_refused", "{e}");
    let operator = author.c.operator_key().await.unwrap().public_key;
    dave.c
        .trust_keys(vec![operator], Some(vec![Role::Operator]), Some("dave"))
        .await
        .unwrap();
    let e = dave
        .c
        .check_remote_rollout("inbox-triage", "prod")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "stale_state", "{e}");
    assert!(e.to_string().contains("gavel sync"), "{e}");
    // Synced, dave's console records the document and serves what it says.
    let r = dave.c.sync("inbox-triage", None).await.unwrap();
    assert_eq!(r.fetched_rollouts, ["rollout-prod serial 1"], "{r:?}");
    dave.c
        .check_remote_rollout("inbox-triage", "prod")
        .await
        .unwrap();
    let status = dave
        .c
        .status(Some("inbox-triage"), Some("prod"))
        .await
        .unwrap();
    let unit = &status.environments[0].bundles[0];
    assert_eq!(unit.serial, 1);
    assert_eq!(
        unit.active.as_ref().map(|a| a.version.as_str()),
        Some("1.0.0")
    );
    // Again: nothing new.
    let r = dave.c.sync("inbox-triage", None).await.unwrap();
    assert!(
        r.fetched_rollouts.is_empty() && r.problems.is_empty(),
        "{r:?}"
    );
    // The console that published it is not stale.
    author
        .c
        .check_remote_rollout("inbox-triage", "prod")
        .await
        .unwrap();

    // An approval by a key nobody trusts is listed and never imported.
    let eve = member("eve", approver.clone(), &url).await;
    trust_all(&team[..1], &eve, "eve").await;
    eve.c.sync("inbox-triage", None).await.unwrap();
    eve.c
        .decide(
            "inbox-triage@1.0.0",
            "staging",
            gavel_console::Decision::Approve,
            "sneaky approval",
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        eve.c
            .publish("inbox-triage", None)
            .await
            .unwrap()
            .published
            .len(),
        1
    );
    let r = author.c.sync("inbox-triage", None).await.unwrap();
    assert!(
        r.problems
            .iter()
            .any(|p| p.tag.contains(".approval-") && p.tag.ends_with("-staging")),
        "{r:?}"
    );
    let staging = author
        .c
        .approvals_of("inbox-triage@1.0.0")
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.environment == "staging")
        .count();
    assert_eq!(staging, 0);
}

/// Bob (author and approver, granted by alice) in alice's console, and
/// 1.0.0 (by the examples' author, approved by alice) active in staging:
/// serial 1.
async fn base_in_staging(a: &Home) -> gavel_console::Transition {
    a.c.generate_identity(
        "bob",
        "bob@example.com",
        Some(vec![Role::Author, Role::Approver]),
        Some("alice"),
    )
    .await
    .unwrap();
    a.c.submit("inbox-triage@1.0.0", Some("alice"))
        .await
        .unwrap();
    a.c.decide(
        "inbox-triage@1.0.0",
        "staging",
        gavel_console::Decision::Approve,
        "base version",
        None,
        Some("alice"),
    )
    .await
    .unwrap();
    let first =
        a.c.activate(
            "inbox-triage@1.0.0",
            "staging",
            &gavel_console::Expect::default(),
            Some("alice"),
        )
        .await
        .unwrap();
    assert_eq!(first.rollout.serial, 1);
    first
}

/// 1.0.1 by bob, approved by alice, a canary beside 1.0.0: serial 2.
async fn canary_in_staging(a: &Home) -> gavel_console::Transition {
    let text = INBOX.replace("version: 1.0.0", "version: 1.0.1");
    a.c.create_version("inbox-triage.yaml", &text, None, Some("bob"))
        .await
        .unwrap();
    a.c.submit("inbox-triage@1.0.1", Some("bob")).await.unwrap();
    a.c.decide(
        "inbox-triage@1.0.1",
        "staging",
        gavel_console::Decision::Approve,
        "next version",
        None,
        Some("alice"),
    )
    .await
    .unwrap();
    let second =
        a.c.activate(
            "inbox-triage@1.0.1",
            "staging",
            &gavel_console::Expect::default(),
            Some("alice"),
        )
        .await
        .unwrap();
    assert_eq!(second.rollout.serial, 2);
    assert!(second.rollout.canary.is_some());
    second
}

/// A rollout document older than the console's (a rollback attack, or an
/// old copy), or a second one with the console's serial, is refused and
/// nothing changes; the console's own is recognised.
#[tokio::test]
async fn rollout_documents_with_a_lower_or_a_doubled_serial_are_refused() {
    let reg = LoopbackRegistry::start();
    let a = author(&reg.url("team")).await;
    let first = base_in_staging(&a).await;
    let old = first.rollout.document.clone();
    // A teammate's console records serial 1 from the registry.
    a.c.publish_rollout(&first, Some("alice")).await.unwrap();
    let mate = member(
        "mia",
        vec![Role::Security, Role::Approver],
        &reg.url("team"),
    )
    .await;
    let alice = a.c.export_key("alice").await.unwrap();
    let operator = a.c.operator_key().await.unwrap().public_key;
    mate.c
        .trust_keys(vec![alice], Some(Role::PEOPLE.to_vec()), Some("mia"))
        .await
        .unwrap();
    mate.c
        .trust_keys(vec![operator], Some(vec![Role::Operator]), Some("mia"))
        .await
        .unwrap();
    let r = mate.c.sync("inbox-triage", None).await.unwrap();
    assert_eq!(r.fetched_rollouts, ["rollout-staging serial 1"], "{r:?}");
    let second = canary_in_staging(&a).await;
    // Published, serial 2 makes the teammate's serial 1 stale until sync.
    a.c.publish_rollout(&second, Some("alice")).await.unwrap();
    let e = mate
        .c
        .check_remote_rollout("inbox-triage", "staging")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "stale_state", "{e}");
    let r = mate.c.sync("inbox-triage", None).await.unwrap();
    assert!(
        r.fetched_rollouts
            .iter()
            .any(|t| t == "rollout-staging serial 2"),
        "{r:?}"
    );
    mate.c
        .check_remote_rollout("inbox-triage", "staging")
        .await
        .unwrap();

    let e =
        a.c.import_rollout("inbox-triage", "staging", &old)
            .await
            .unwrap_err();
    assert_eq!(e.code(), "registry_refused");
    assert!(e.to_string().contains("lower"), "{e}");
    // Its own current document: nothing to do.
    assert_eq!(
        a.c.import_rollout("inbox-triage", "staging", &second.rollout.document)
            .await
            .unwrap(),
        None
    );
    // A document for another environment is not this one's.
    let e =
        a.c.import_rollout("inbox-triage", "prod", &second.rollout.document)
            .await
            .unwrap_err();
    assert!(e.to_string().contains("staging"), "{e}");
    let status =
        a.c.status(Some("inbox-triage"), Some("staging"))
            .await
            .unwrap();
    assert_eq!(status.environments[0].bundles[0].serial, 2);
}

/// A rollout document signed by an operator key `mia`'s console trusts,
/// for inbox-triage in staging.
fn operator_document(
    key: &gavel_trust::ed25519::SigningKey,
    serial: i64,
    stable: &Value,
    canary: Value,
) -> Value {
    let statement = serde_json::json!({
        "bundle": "inbox-triage", "environment": "staging", "serial": serial,
        "stable": stable, "canary": canary,
    });
    let kind = gavel_trust::PayloadKind::Rollout;
    let payload = gavel_trust::stamp(kind, &statement, jiff::Timestamp::now(), 3600).unwrap();
    gavel_trust::sign_dsse(kind.media_type(), &payload, &[key]).unwrap()
}

/// Documents from another operator the console trusts: a second one with
/// the serial it has is refused; a newer one whose stable version was the
/// canary promotes it (active here, not rolled back), and supersedes the
/// old stable one.
#[tokio::test]
async fn rollout_documents_from_another_operator_are_recorded_or_refused_by_serial() {
    let reg = LoopbackRegistry::start();
    let a = author(&reg.url("team")).await;
    base_in_staging(&a).await;
    let second = canary_in_staging(&a).await;
    let p = &second.rollout.document;

    // Another operator, trusted here.
    let key = gavel_trust::ed25519::SigningKey::from_bytes(&[7; 32]);
    let public = gavel_trust::PublicKey::new(&key.verifying_key(), "ops", "", vec![Role::Operator]);
    a.c.trust_keys(vec![public], Some(vec![Role::Operator]), Some("alice"))
        .await
        .unwrap();
    let slot = |r: &gavel_console::SlotView| serde_json::json!({"version": r.version, "digest": r.digest, "activated_at": r.activated_at});
    let old_stable = slot(&second.rollout.active);
    let canary = second.rollout.canary.as_ref().unwrap();
    // Serial 2 again, but another document: refused, nothing changes.
    let twin = operator_document(
        &key,
        2,
        &old_stable,
        serde_json::json!({
            "version": canary.slot.version, "digest": canary.slot.digest,
            "percent": 50, "activated_at": canary.slot.activated_at,
        }),
    );
    assert_ne!(&twin, p);
    let e =
        a.c.import_rollout("inbox-triage", "staging", &twin)
            .await
            .unwrap_err();
    assert!(e.to_string().contains("serial 2"), "{e}");
    // Serial 3: the canary a step further, still the canary.
    let step = operator_document(
        &key,
        3,
        &old_stable,
        serde_json::json!({
            "version": canary.slot.version, "digest": canary.slot.digest,
            "percent": 50, "activated_at": canary.slot.activated_at,
        }),
    );
    assert_eq!(
        a.c.import_rollout("inbox-triage", "staging", &step)
            .await
            .unwrap(),
        Some(3)
    );
    let index = a.c.bundle_index().await.unwrap();
    let canary_state = index
        .versions
        .iter()
        .find(|v| v.summary.version == "1.0.1" && v.summary.name == "inbox-triage")
        .and_then(|v| v.environments.iter().find(|b| b.environment == "staging"))
        .map(|b| b.state);
    assert_eq!(canary_state, Some(gavel_console::DeployState::Canary));
    let stable_state = index
        .versions
        .iter()
        .find(|v| v.summary.version == "1.0.0" && v.summary.name == "inbox-triage")
        .and_then(|v| v.environments.iter().find(|b| b.environment == "staging"))
        .map(|b| b.state);
    assert_eq!(stable_state, Some(gavel_console::DeployState::Active));
    // Serial 4: the canary is the stable version now.
    let promoted = operator_document(&key, 4, &slot(&canary.slot), Value::Null);
    assert_eq!(
        a.c.import_rollout("inbox-triage", "staging", &promoted)
            .await
            .unwrap(),
        Some(4)
    );
    let index = a.c.bundle_index().await.unwrap();
    let state = |version: &str| {
        index
            .versions
            .iter()
            .find(|v| v.summary.version == version && v.summary.name == "inbox-triage")
            .and_then(|v| v.environments.iter().find(|b| b.environment == "staging"))
            .map(|b| b.state)
    };
    assert_eq!(state("1.0.1"), Some(gavel_console::DeployState::Active));
    assert_eq!(state("1.0.0"), Some(gavel_console::DeployState::Superseded));
}

/// The keys a console trusts, by name, with their roles.
async fn trusted(h: &Home) -> Vec<(String, Vec<Role>)> {
    let mut keys: Vec<(String, Vec<Role>)> =
        h.c.trusted_keys()
            .await
            .unwrap()
            .into_iter()
            .map(|k| (k.name, k.roles))
            .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn trust_documents_need_a_quorum_of_the_security_keys_trusted_now() {
    let reg = LoopbackRegistry::start();
    let url = reg.url("team");
    let security = vec![Role::Approver, Role::Security];
    let alice = member("alice", security.clone(), &url).await;
    let bob = member("bob", security.clone(), &url).await;
    trust_all(&[(&bob, "bob", security.clone())], &alice, "alice").await;
    trust_all(&[(&alice, "alice", security.clone())], &bob, "bob").await;

    // Alice proposes the team's keys with a quorum of two: one signature
    // is not enough, for her console or for Bob's.
    let first = alice
        .c
        .trust_publish(None, Some(2), None, None)
        .await
        .unwrap();
    assert_eq!(
        (first.version, first.quorum, first.keys, first.complete),
        (1, 2, 2, false),
        "{first:?}"
    );
    assert_eq!(first.signers, ["alice"]);
    assert_eq!(first.published, ["team/inbox-triage:trust"]);
    let raw = skopeo_raw(&format!(
        "docker://127.0.0.1:{}/team/inbox-triage:trust",
        reg.port
    ));
    assert_eq!(raw["artifactType"], artifact::TRUST_ARTIFACT, "{raw}");
    assert_eq!(raw["layers"][0]["mediaType"], DSSE_LAYER);
    let r = bob.c.sync("inbox-triage", None).await.unwrap();
    assert!(r.fetched_trust.is_empty(), "{r:?}");
    assert!(
        r.problems
            .iter()
            .any(|p| p.tag == "trust" && p.reason.contains("signed by 1 of the 2")),
        "{r:?}"
    );

    // Bob, with the same keys, co-signs the waiting document: complete.
    let cosigned = bob.c.trust_publish(None, None, None, None).await.unwrap();
    assert_eq!(
        (cosigned.version, cosigned.cosigned, cosigned.complete),
        (1, true, true),
        "{cosigned:?}"
    );
    assert_eq!(cosigned.signers, ["alice", "bob"]);
    let r = alice.c.sync("inbox-triage", None).await.unwrap();
    assert_eq!(r.fetched_trust.len(), 1, "{r:?}");
    assert!(
        r.fetched_trust[0]
            .starts_with("trust v1 signed by alice, bob: 0 key(s) trusted or changed, 0 removed"),
        "{r:?}"
    );
    assert!(r.problems.is_empty(), "{r:?}");

    // Rotation: Alice adds Dave's key and proposes v2. Bob's console does
    // not follow it on her signature alone; when he makes the same change
    // and co-signs, a new console that trusted only the two of them and a
    // stranger's key follows it: Dave trusted, the stranger removed, its
    // own key kept.
    let dave = member("dave", vec![Role::Author], &url).await;
    trust_all(&[(&dave, "dave", vec![Role::Author])], &alice, "alice").await;
    let second = alice.c.trust_publish(None, None, None, None).await.unwrap();
    assert_eq!(
        (second.version, second.quorum, second.complete),
        (2, 2, false),
        "{second:?}"
    );
    let r = bob.c.sync("inbox-triage", None).await.unwrap();
    assert!(r.fetched_trust.is_empty(), "{r:?}");
    assert!(!trusted(&bob).await.iter().any(|(n, _)| n == "dave"));
    trust_all(&[(&dave, "dave", vec![Role::Author])], &bob, "bob").await;
    let done = bob.c.trust_publish(None, None, None, None).await.unwrap();
    assert_eq!((done.version, done.complete), (2, true), "{done:?}");

    let carol = member("carol", Role::PEOPLE.to_vec(), &url).await;
    let stranger = member("mallory", vec![Role::Security], &url).await;
    trust_all(
        &[
            (&alice, "alice", security.clone()),
            (&bob, "bob", security.clone()),
            (&stranger, "mallory", vec![Role::Security]),
        ],
        &carol,
        "carol",
    )
    .await;
    let r = carol.c.sync("inbox-triage", None).await.unwrap();
    assert_eq!(r.fetched_trust.len(), 1, "{r:?}");
    assert!(
        r.fetched_trust[0].contains("1 key(s) trusted or changed, 1 removed")
            && r.fetched_trust[0].contains("kept"),
        "{r:?}"
    );
    let names: Vec<String> = trusted(&carol).await.into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["alice", "bob", "carol", "dave"]);
    assert!(
        trusted(&carol)
            .await
            .contains(&("dave".to_string(), vec![Role::Author]))
    );

    // A document from a key nobody trusts, with a higher version, is
    // listed and changes nothing.
    let forged = mallory_document(&stranger, 3).await;
    let bytes = forged.to_string().into_bytes();
    let m = Manifest::new(
        artifact::TRUST_ARTIFACT,
        vec![Descriptor::of(DSSE_LAYER, &bytes)],
        None,
    );
    target(&url)
        .push("team/inbox-triage", &m, &[&bytes], Some("trust"))
        .await
        .unwrap();
    let before = trusted(&alice).await;
    let r = alice.c.sync("inbox-triage", None).await.unwrap();
    assert!(r.fetched_trust.is_empty(), "{r:?}");
    assert!(
        r.problems
            .iter()
            .any(|p| p.tag == "trust" && p.reason.contains("no security key trusted here")),
        "{r:?}"
    );
    assert_eq!(trusted(&alice).await, before);
    // And a quorum that this console's keys cannot meet is refused.
    let e = alice
        .c
        .trust_publish(None, Some(5), None, None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("quorum of 5 cannot be met"), "{e}");
}

/// A trust document of `version` listing only mallory, signed by her.
async fn mallory_document(mallory: &Home, version: i64) -> Value {
    let key = mallory.c.export_key("mallory").await.unwrap();
    mallory
        .c
        .sign_statement(
            gavel_trust::PayloadKind::Trust,
            &serde_json::json!({"version": version, "keys": [key], "quorum": 1}),
            None,
            None,
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn trust_publish_cosigns_only_the_newest_matching_document() {
    let reg = LoopbackRegistry::start();
    let url = reg.url("team");
    let security = vec![Role::Approver, Role::Security];
    let alice = member("alice", security.clone(), &url).await;
    let bob = member("bob", security.clone(), &url).await;
    trust_all(&[(&bob, "bob", security.clone())], &alice, "alice").await;
    trust_all(&[(&alice, "alice", security.clone())], &bob, "bob").await;
    for h in [&alice, &bob] {
        h.c.bind_bundle("budgets", "team", None).await.unwrap();
    }
    for q in [0, 3] {
        let e = alice
            .c
            .trust_publish(None, Some(q), None, None)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("cannot be met"), "{q}: {e}");
    }
    let v1 = alice
        .c
        .trust_publish(None, Some(2), None, None)
        .await
        .unwrap();
    assert_eq!((v1.version, v1.complete, v1.published.len()), (1, false, 2));
    // Bob asks for another quorum: a document of his own, not a signature
    // on Alice's.
    let v2 = bob
        .c
        .trust_publish(None, Some(1), None, None)
        .await
        .unwrap();
    assert_eq!((v2.version, v2.cosigned, v2.complete), (2, false, true));
    // Alice, asking for that quorum, co-signs his.
    let co = alice
        .c
        .trust_publish(None, Some(1), None, None)
        .await
        .unwrap();
    assert_eq!((co.version, co.cosigned), (2, true), "{co:?}");
    assert_eq!(co.signers, ["alice", "bob"]);
    // Published again with the same keys: the next version, not the one
    // already accepted.
    let v3 = alice.c.trust_publish(None, None, None, None).await.unwrap();
    assert_eq!(
        (v3.version, v3.cosigned, v3.quorum),
        (3, false, 1),
        "{v3:?}"
    );
    // Two repositories with different documents: the newest is co-signed.
    let v4 = alice
        .c
        .trust_publish(Some("inbox-triage"), None, None, None)
        .await
        .unwrap();
    assert_eq!(v4.published, ["team/inbox-triage:trust"]);
    let mine = bob.c.trust_publish(None, None, None, None).await.unwrap();
    assert_eq!((mine.version, mine.cosigned), (4, true), "{mine:?}");
    assert_eq!(mine.published.len(), 2);
}

/// Signatures gathered in different repositories are all kept when the
/// next security identity co-signs.
#[tokio::test]
async fn co_signatures_from_different_repositories_are_merged() {
    let reg = LoopbackRegistry::start();
    let url = reg.url("team");
    let security = vec![Role::Approver, Role::Security];
    let homes = [
        member("alice", security.clone(), &url).await,
        member("bob", security.clone(), &url).await,
        member("carol", security.clone(), &url).await,
    ];
    let names = ["alice", "bob", "carol"];
    for (h, me) in homes.iter().zip(names) {
        h.c.bind_bundle("budgets", "team", None).await.unwrap();
        let others: Vec<(&Home, &str, Vec<Role>)> = homes
            .iter()
            .zip(names)
            .filter(|(_, n)| *n != me)
            .map(|(o, n)| (o, n, security.clone()))
            .collect();
        trust_all(&others, h, me).await;
    }
    let [alice, bob, carol] = &homes;
    let v1 = alice
        .c
        .trust_publish(None, Some(3), None, None)
        .await
        .unwrap();
    assert_eq!((v1.version, v1.complete), (1, false));
    // Carol co-signs the copy in one repository only.
    let c = carol
        .c
        .trust_publish(Some("inbox-triage"), None, None, None)
        .await
        .unwrap();
    assert_eq!((c.cosigned, c.signers.len()), (true, 2), "{c:?}");
    // Bob's co-signature keeps Carol's, whichever copy he reads first.
    let b = bob.c.trust_publish(None, None, None, None).await.unwrap();
    assert_eq!(b.signers, ["alice", "bob", "carol"], "{b:?}");
    assert!(b.complete);
    let r = alice.c.sync("inbox-triage", None).await.unwrap();
    assert_eq!(r.fetched_trust.len(), 1, "{r:?}");
}
