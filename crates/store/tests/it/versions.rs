//! Bundle versions in the store: inserts, lookups, the newest-first list,
//! drafts-only edits and deletes guarded in the SQL, and the history of a
//! name with its audit entries.

use gavel_store::versions::{
    DocumentFormat, DraftChange, Inserted, NewVersion, VersionFilter, VersionSource, VersionStatus,
};

use crate::*;

fn new_version(name: &str, version: &str, digest: &str) -> NewVersion {
    NewVersion {
        name: name.into(),
        version: version.into(),
        digest: digest.into(),
        document: format!("metadata: {{name: {name}, version: {version}}}\nrules: []\n"),
        format: DocumentFormat::Yaml,
        author: "alice".into(),
        source: VersionSource::File,
        provenance: serde_json::json!({"file": "b.yaml"}),
        notes: String::new(),
    }
}

fn digest(fill: char) -> String {
    format!("sha256:{}", fill.to_string().repeat(64))
}

async fn insert(
    store: &Store,
    name: &str,
    version: &str,
    d: &str,
) -> gavel_store::versions::BundleVersion {
    match store
        .insert_version(&new_version(name, version, d), "alice", "bundle.create")
        .await
        .unwrap()
    {
        Inserted::New(v) => v,
        Inserted::Exists(v) => panic!("{} exists", v.reference()),
    }
}

async fn set_status(dir: &Path, id: i64, status: &str) {
    let pool = raw(dir).await;
    sqlx::query("UPDATE bundle_versions SET status = ? WHERE id = ?")
        .bind(status)
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

/// A new version is a draft, audited as `bundle.create` with its digest,
/// in the same transaction.
#[tokio::test]
async fn inserting_a_version_stores_a_draft_and_its_audit_entry() {
    let (_dir, store) = store().await;
    let v = insert(&store, "inbox", "1.0.0", &digest('a')).await;
    assert_eq!(v.status, VersionStatus::Draft);
    assert_eq!(store.version(v.id).await.unwrap(), Some(v.clone()));
    assert_eq!(
        store.version_by_name("inbox", "1.0.0").await.unwrap(),
        Some(v.clone())
    );
    let audit = store.audit_page(0, 10).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (
            audit[0].actor.as_str(),
            audit[0].action.as_str(),
            audit[0].subject.as_str()
        ),
        ("alice", "bundle.create", "inbox@1.0.0")
    );
    assert_eq!(audit[0].details["digest"], digest('a'));
    assert_eq!(audit[0].hash, audit[0].computed_hash().unwrap());
}

/// A NAME@VERSION that exists is reported with the existing row; nothing
/// is written, rows and audit chain identical.
#[tokio::test]
async fn a_duplicate_name_and_version_changes_nothing() {
    let (dir, store) = store().await;
    let first = insert(&store, "inbox", "1.0.0", &digest('a')).await;
    let before = snapshot(&store, dir.path()).await;
    let again = store
        .insert_version(
            &new_version("inbox", "1.0.0", &digest('b')),
            "bob",
            "bundle.create",
        )
        .await
        .unwrap();
    assert_eq!(again, Inserted::Exists(first));
    assert_eq!(snapshot(&store, dir.path()).await, before);
}

/// Several inserts in one call: the existing ones are skipped, the rest
/// written (what `init --examples` relies on to be idempotent).
#[tokio::test]
async fn inserting_several_skips_the_existing_ones() {
    let (_dir, store) = store().await;
    insert(&store, "a", "1.0.0", &digest('a')).await;
    let out = store
        .insert_versions(
            &[
                new_version("a", "1.0.0", &digest('a')),
                new_version("b", "1.0.0", &digest('b')),
            ],
            "gavel",
            "bundle.create",
        )
        .await
        .unwrap();
    assert!(matches!(out[0], Inserted::Exists(_)));
    assert!(matches!(out[1], Inserted::New(_)));
    assert_eq!(store.audit_page(0, 10).await.unwrap().len(), 2);
}

/// A digest prefix returns every match, so the caller can refuse an
/// ambiguous one listing them.
#[tokio::test]
async fn a_digest_prefix_finds_every_version_it_matches() {
    let (_dir, store) = store().await;
    let a = format!("sha256:abcdef01{}", "0".repeat(56));
    let b = format!("sha256:abcdef02{}", "0".repeat(56));
    insert(&store, "a", "1.0.0", &a).await;
    insert(&store, "b", "1.0.0", &b).await;
    let refs = |vs: Vec<gavel_store::versions::BundleVersion>| {
        vs.iter().map(|v| v.reference()).collect::<Vec<_>>()
    };
    assert_eq!(
        refs(
            store
                .versions_by_digest_prefix("sha256:abcdef")
                .await
                .unwrap()
        ),
        ["b@1.0.0", "a@1.0.0"]
    );
    assert_eq!(
        refs(
            store
                .versions_by_digest_prefix("sha256:abcdef01")
                .await
                .unwrap()
        ),
        ["a@1.0.0"]
    );
    assert!(
        store
            .versions_by_digest_prefix("sha256:ffffffff")
            .await
            .unwrap()
            .is_empty()
    );
}

/// Newest first (created_at, then id, descending), filtered by name and
/// status, paged by limit and offset, with the total that matched.
#[tokio::test]
async fn the_list_is_newest_first_filtered_and_paged() {
    let (dir, store) = store().await;
    for (i, (name, version)) in [
        ("a", "1.0.0"),
        ("b", "1.0.0"),
        ("a", "1.1.0"),
        ("a", "2.0.0"),
    ]
    .into_iter()
    .enumerate()
    {
        insert(&store, name, version, &digest(char::from(b'a' + i as u8))).await;
    }
    // Same created_at for all: the id breaks the tie.
    let pool = raw(dir.path()).await;
    sqlx::query("UPDATE bundle_versions SET created_at = '2026-01-01T00:00:00.000Z'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    set_status(dir.path(), 3, "approved").await;
    let list = |name: Option<&str>, status, limit, offset| {
        let store = store.clone();
        let filter = VersionFilter {
            name: name.map(str::to_string),
            status,
            limit,
            offset,
        };
        async move {
            let (vs, total) = store.list_versions(&filter).await.unwrap();
            (vs.iter().map(|v| v.reference()).collect::<Vec<_>>(), total)
        }
    };
    assert_eq!(
        list(None, None, 10, 0).await,
        (
            vec![
                "a@2.0.0".into(),
                "a@1.1.0".into(),
                "b@1.0.0".into(),
                "a@1.0.0".into()
            ],
            4
        )
    );
    assert_eq!(
        list(Some("a"), None, 1, 1).await,
        (vec!["a@1.1.0".to_string()], 3)
    );
    assert_eq!(list(None, Some(VersionStatus::Draft), 10, 0).await.1, 3);
    assert_eq!(
        list(Some("a"), Some(VersionStatus::Approved), 10, 0).await,
        (vec!["a@1.1.0".to_string()], 1)
    );
    assert_eq!(list(Some("zzz"), None, 10, 0).await, (vec![], 0));
}

/// A draft's document changes with its digest, audited as `bundle.edit`
/// naming both digests; a delete is audited as `bundle.delete`.
#[tokio::test]
async fn a_draft_is_edited_and_deleted_with_audit_page() {
    let (_dir, store) = store().await;
    let v = insert(&store, "a", "1.0.0", &digest('a')).await;
    let DraftChange::Done(after) = store
        .update_draft(
            v.id,
            "{\"metadata\": {}}",
            DocumentFormat::Json,
            &digest('b'),
            "bob",
        )
        .await
        .unwrap()
    else {
        panic!("not edited")
    };
    assert_eq!(
        (after.digest.as_str(), after.format),
        (digest('b').as_str(), DocumentFormat::Json)
    );
    assert_eq!(
        (after.name.as_str(), after.version.as_str()),
        ("a", "1.0.0")
    );
    assert!(matches!(
        store.delete_draft(v.id, "bob").await.unwrap(),
        DraftChange::Done(_)
    ));
    assert_eq!(store.version(v.id).await.unwrap(), None);
    let audit = store.audit_page(0, 10).await.unwrap();
    let actions: Vec<_> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["bundle.create", "bundle.edit", "bundle.delete"]);
    assert_eq!(audit[1].details["previous_digest"], digest('a'));
    assert_eq!(audit[2].details["digest"], digest('b'));
    assert_eq!(
        store.delete_draft(v.id, "bob").await.unwrap(),
        DraftChange::Missing
    );
}

/// The status guard is in the SQL: a version that is no longer a draft is
/// neither edited nor deleted, and nothing is written.
#[tokio::test]
async fn a_version_that_is_not_a_draft_is_neither_edited_nor_deleted() {
    let (dir, store) = store().await;
    let v = insert(&store, "a", "1.0.0", &digest('a')).await;
    for status in ["submitted", "approved", "active", "rolled_back"] {
        set_status(dir.path(), v.id, status).await;
        let before = snapshot(&store, dir.path()).await;
        let edited = store
            .update_draft(v.id, "x", DocumentFormat::Yaml, &digest('b'), "bob")
            .await
            .unwrap();
        assert!(
            matches!(edited, DraftChange::NotDraft(ref n) if n.status.as_str() == status),
            "{edited:?}"
        );
        assert!(matches!(
            store.delete_draft(v.id, "bob").await.unwrap(),
            DraftChange::NotDraft(_)
        ));
        assert_eq!(snapshot(&store, dir.path()).await, before, "{status}");
    }
}

/// The history of a name: its versions and every audit entry about any of
/// them (a deleted one's included), and nothing about another name that
/// merely starts the same.
#[tokio::test]
async fn the_history_of_a_name_has_its_versions_and_their_audit_page() {
    let (_dir, store) = store().await;
    let a1 = insert(&store, "inbox", "1.0.0", &digest('a')).await;
    insert(&store, "inbox", "1.1.0", &digest('b')).await;
    insert(&store, "inbox-triage", "1.0.0", &digest('c')).await;
    store.delete_draft(a1.id, "bob").await.unwrap();
    assert!(
        store
            .record_export(2, "alice", serde_json::json!({"keyid": "k"}))
            .await
            .unwrap()
    );
    let (versions, events) = store.version_history("inbox").await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.reference()).collect::<Vec<_>>(),
        ["inbox@1.1.0"]
    );
    let seen: Vec<_> = events
        .iter()
        .map(|e| (e.action.as_str(), e.subject.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("bundle.create", "inbox@1.0.0"),
            ("bundle.create", "inbox@1.1.0"),
            ("bundle.delete", "inbox@1.0.0"),
            ("bundle.export", "inbox@1.1.0"),
        ]
    );
    assert_eq!(events[3].details["digest"], digest('b'));
}
