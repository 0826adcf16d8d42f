//! A database made by the first migration alone (`tests/fixtures/v1.db`,
//! with keys, an identity, a retired key and consumed overrides in it)
//! upgrades to the latest schema with its data intact.
//!
//! The fixture is made by [`make_v1`] below. To make it again (say, after
//! changing what it holds), run
//! `GAVEL_UPDATE_FIXTURES=1 cargo nextest run -p gavel-store -E 'test(v1_fixture)'`;
//! without the variable, the test checks the committed file holds exactly
//! what the generator makes.

use std::str::FromStr;

use gavel_trust::{PublicKey, Role};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

use crate::*;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/v1.db");

fn key(seed: u8, name: &str, roles: Vec<Role>) -> PublicKey {
    let k = gavel_trust::ed25519::SigningKey::from_bytes(&[seed; 32]);
    PublicKey::new(
        &k.verifying_key(),
        name,
        &format!("{name}@example.com"),
        roles,
    )
}

/// The keys in the fixture: alice (an identity, her first key retired),
/// and bob, trusted by alice.
fn fixture_keys() -> [(PublicKey, &'static str, Option<&'static str>); 3] {
    [
        (
            key(1, "alice", vec![Role::Author, Role::Security]),
            "2026-01-01T00:00:00.000Z",
            Some("2026-02-01T00:00:00.000Z"),
        ),
        (
            key(2, "alice", vec![Role::Author, Role::Security]),
            "2026-02-01T00:00:00.000Z",
            None,
        ),
        (
            key(3, "bob", vec![Role::Approver]),
            "2026-01-02T00:00:00.000Z",
            None,
        ),
    ]
}

/// Writes a database made by migration 0001 only, with data, to `path`.
async fn make_v1(path: &Path) {
    let scratch = tempfile::tempdir().unwrap();
    let only_first = scratch.path().join("migrations");
    std::fs::create_dir_all(&only_first).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/0001_trust.sql"),
        only_first.join("0001_trust.sql"),
    )
    .unwrap();
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .unwrap()
        .create_if_missing(true);
    let pool = SqlitePool::connect_with(options).await.unwrap();
    sqlx::migrate::Migrator::new(only_first.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    for (k, added_at, retired_at) in fixture_keys() {
        sqlx::query(
            "INSERT INTO trusted_keys (keyid, algorithm, public_key, name, email, roles, added_at, added_by, retired_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&k.keyid.0)
        .bind(&k.algorithm)
        .bind(&k.public_key)
        .bind(&k.name)
        .bind(&k.email)
        .bind(serde_json::to_string(&k.roles).unwrap())
        .bind(added_at)
        .bind("alice")
        .bind(retired_at)
        .execute(&pool)
        .await
        .unwrap();
    }
    sqlx::query("INSERT INTO identities (name, email, keyid, created_at) VALUES ('alice', 'alice@example.com', ?, '2026-01-01T00:00:00.000Z')")
        .bind(&fixture_keys()[1].0.keyid.0)
        .execute(&pool)
        .await
        .unwrap();
    for (id, workflow, legacy) in [
        ("ovr-invoice-1", "invoice-triage", false),
        ("sha256:1111", "refunds", true),
    ] {
        sqlx::query("INSERT INTO consumed_overrides (id, workflow_id, legacy, consumed_at) VALUES (?, ?, ?, '2026-01-03T00:00:00.000Z')")
            .bind(id)
            .bind(workflow)
            .bind(legacy)
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
}

/// Every row of every table but sqlx's (whose `installed_on` is a time),
/// as text.
async fn dump(path: &Path) -> Vec<String> {
    let pool = SqlitePool::connect(&format!("sqlite://{}?mode=ro", path.display()))
        .await
        .unwrap();
    let mut out = Vec::new();
    for table in ["trusted_keys", "identities", "consumed_overrides"] {
        let rows = sqlx::query(&format!("SELECT * FROM {table} ORDER BY 1"))
            .fetch_all(&pool)
            .await
            .unwrap();
        for r in rows {
            let cells: Vec<String> = (0..r.len())
                .map(|i| {
                    r.try_get::<Option<String>, _>(i)
                        .map(|c| c.unwrap_or_else(|| "NULL".into()))
                        .or_else(|_| r.try_get::<i64, _>(i).map(|n| n.to_string()))
                        .unwrap()
                })
                .collect();
            out.push(format!("{table}: {}", cells.join(" | ")));
        }
    }
    let migrations =
        sqlx::query("SELECT version, description, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    for r in migrations {
        out.push(format!(
            "migration {} {} {}",
            r.get::<i64, _>(0),
            r.get::<String, _>(1),
            r.get::<bool, _>(2)
        ));
    }
    pool.close().await;
    out
}

/// The committed fixture is exactly what `make_v1` makes: the first
/// migration only, and the rows below.
#[tokio::test]
async fn the_v1_fixture_is_what_its_generator_makes() {
    let dir = tempfile::tempdir().unwrap();
    let made = dir.path().join("v1.db");
    make_v1(&made).await;
    if std::env::var_os("GAVEL_UPDATE_FIXTURES").is_some() {
        std::fs::copy(&made, FIXTURE).unwrap();
    }
    let expected = dump(&made).await;
    assert!(
        expected.iter().any(|l| l == "migration 1 trust true"),
        "{expected:?}"
    );
    assert_eq!(
        expected
            .iter()
            .filter(|l| l.starts_with("migration"))
            .count(),
        1
    );
    assert_eq!(dump(Path::new(FIXTURE)).await, expected);
}

/// Opening the first schema's database runs every later migration and
/// keeps its keys, identity and consumed overrides as they were.
#[tokio::test]
async fn a_v1_database_upgrades_to_the_latest_schema_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gavel.db");
    std::fs::copy(FIXTURE, &path).unwrap();
    let store = Store::open(&path).await.unwrap();

    // Every migration file is applied.
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sql")
        })
        .count();
    let pool = raw(dir.path()).await;
    let applied: Vec<(i64, bool)> =
        sqlx::query("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    assert_eq!(applied.len(), files);
    assert!(applied.iter().all(|(_, ok)| *ok));
    // 0002 kept the overrides' ids for display.
    let ids: Vec<(String, Option<String>)> =
        sqlx::query("SELECT id, override_id FROM consumed_overrides ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    assert_eq!(
        ids,
        [
            ("ovr-invoice-1".into(), Some("ovr-invoice-1".into())),
            ("sha256:1111".into(), None)
        ]
    );
    pool.close().await;

    // The keys, as they were.
    let keys = store.keys().await.unwrap();
    assert_eq!(keys.len(), 3);
    for (k, added_at, retired_at) in fixture_keys() {
        let stored = store.key(&k.keyid.0).await.unwrap().unwrap();
        assert_eq!(stored.key.public_key, k.public_key);
        assert_eq!(stored.key.roles, k.roles);
        assert_eq!(
            (stored.key.name.as_str(), stored.key.email.as_str()),
            (k.name.as_str(), k.email.as_str())
        );
        assert_eq!(stored.added_at, added_at);
        assert_eq!(stored.retired_at.as_deref(), retired_at);
        assert_eq!(stored.added_by.as_deref(), Some("alice"));
    }
    let ids = store.identities().await.unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!(
        (ids[0].name.as_str(), &ids[0].keyid),
        ("alice", &fixture_keys()[1].0.keyid)
    );

    // The overrides used before stay used.
    assert!(
        store
            .override_use_recorded("sha256:9999", Some("ovr-invoice-1"))
            .await
            .unwrap()
    );
    assert!(
        store
            .override_use_recorded("sha256:1111", None)
            .await
            .unwrap()
    );
    assert!(
        !store
            .override_use_recorded("sha256:9999", Some("ovr-other"))
            .await
            .unwrap()
    );

    // The new tables are there and empty, and work.
    assert!(store.audit_page(0, 10).await.unwrap().is_empty());
    let (list, total) = store
        .list_versions(&gavel_store::versions::VersionFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(list.is_empty() && total == 0);
    store
        .trust(&key(4, "carol", vec![]), Some("alice"))
        .await
        .unwrap();
    assert_eq!(store.audit_page(0, 10).await.unwrap().len(), 1);
}
