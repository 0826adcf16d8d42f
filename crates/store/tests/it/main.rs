//! The store through its public API on real SQLite files: bundle versions
//! (every refusal leaves the rows and the audit chain as they were) and
//! migrations from a database the first migration made.

mod migrations;
mod versions;

use std::path::Path;

use gavel_store::{AuditEntry, Store};
use sqlx::Row;

/// Opens a fresh store in a temp dir.
pub(crate) async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("gavel.db")).await.unwrap();
    (dir, store)
}

/// A raw connection to the database file, for what Gavel itself never does
/// (setting a status directly, counting rows).
pub(crate) async fn raw(dir: &Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.join("gavel.db").display()))
        .await
        .unwrap()
}

/// Row counts of the tables a version change touches, and the whole audit
/// chain: what "nothing changed" compares.
#[derive(Debug, PartialEq)]
pub(crate) struct Snapshot {
    versions: Vec<(i64, String, String, String, String)>,
    audit: Vec<AuditEntry>,
}

pub(crate) async fn snapshot(store: &Store, dir: &Path) -> Snapshot {
    let pool = raw(dir).await;
    let versions =
        sqlx::query("SELECT id, name, version, digest, status FROM bundle_versions ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect();
    pool.close().await;
    Snapshot {
        versions,
        audit: store.audit_page(0, i64::MAX).await.unwrap(),
    }
}
