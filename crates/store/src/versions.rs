//! Bundle versions (DESIGN §7, §9): each stored as its author wrote it,
//! with its digest (§11.3), author, source, provenance and status. Every
//! change is one `BEGIN IMMEDIATE` transaction holding the change and its
//! audit entry (`bundle.create`, `bundle.import`, `bundle.edit`,
//! `bundle.delete`, `bundle.export`; subject `NAME@VERSION`; details with
//! the digest). Edits and deletes name the status they expect in the SQL
//! (`… AND status = 'draft'`), so a version frozen by another process in
//! the meantime is never changed.
//!
//! This layer stores what it is given: parsing, validation and digests are
//! the console's (from `gavel-policy` and `gavel-trust`).

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::audit::{self, AuditEntry, NewEntry};
use crate::{Store, StoreError};

/// Where a version is in its lifecycle (§7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    Draft,
    Submitted,
    Approved,
    Rejected,
    Active,
    Superseded,
    RolledBack,
}

impl VersionStatus {
    pub const ALL: [VersionStatus; 7] = [
        VersionStatus::Draft,
        VersionStatus::Submitted,
        VersionStatus::Approved,
        VersionStatus::Rejected,
        VersionStatus::Active,
        VersionStatus::Superseded,
        VersionStatus::RolledBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::Draft => "draft",
            VersionStatus::Submitted => "submitted",
            VersionStatus::Approved => "approved",
            VersionStatus::Rejected => "rejected",
            VersionStatus::Active => "active",
            VersionStatus::Superseded => "superseded",
            VersionStatus::RolledBack => "rolled_back",
        }
    }

    pub fn parse(s: &str) -> Option<VersionStatus> {
        VersionStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Where a version came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum VersionSource {
    /// `gavel bundle new FILE`.
    File,
    /// `gavel bundle import FILE`: a verified signed export.
    Import,
    /// `gavel init --examples`.
    Example,
}

impl VersionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionSource::File => "file",
            VersionSource::Import => "import",
            VersionSource::Example => "example",
        }
    }

    fn parse(s: &str) -> Option<VersionSource> {
        [
            VersionSource::File,
            VersionSource::Import,
            VersionSource::Example,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// The syntax a document was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum DocumentFormat {
    Yaml,
    Json,
}

impl DocumentFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentFormat::Yaml => "yaml",
            DocumentFormat::Json => "json",
        }
    }

    fn parse(s: &str) -> Option<DocumentFormat> {
        match s {
            "yaml" => Some(DocumentFormat::Yaml),
            "json" => Some(DocumentFormat::Json),
            _ => None,
        }
    }
}

/// A stored bundle version, as `gavel bundle show --format json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BundleVersion {
    pub id: i64,
    pub name: String,
    pub version: String,
    pub digest: String,
    /// The document's text as written.
    pub document: String,
    pub format: DocumentFormat,
    /// The identity that made this version (for an import: the signer the
    /// signed payload names, when it names one).
    pub author: String,
    pub created_at: String,
    pub status: VersionStatus,
    pub source: VersionSource,
    /// `{file}` for a file or an example; `{format, signers, signed_at}`
    /// for an import.
    pub provenance: Value,
    pub notes: String,
}

impl BundleVersion {
    /// `NAME@VERSION`: the audit subject and the first kind of reference.
    pub fn reference(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// A version to insert.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub name: String,
    pub version: String,
    pub digest: String,
    pub document: String,
    pub format: DocumentFormat,
    pub author: String,
    pub source: VersionSource,
    pub provenance: Value,
    pub notes: String,
}

/// What inserting one version did.
#[derive(Debug, Clone, PartialEq)]
pub enum Inserted {
    /// Stored, with its audit entry.
    New(BundleVersion),
    /// A version with this name and version already exists; nothing written.
    Exists(BundleVersion),
}

/// What an edit or a delete of a draft did.
#[derive(Debug, Clone, PartialEq)]
pub enum DraftChange {
    Done(BundleVersion),
    /// No version with that id (deleted meanwhile).
    Missing,
    /// The version is not a draft (any more); nothing written.
    NotDraft(BundleVersion),
}

/// Filters of `gavel bundle list`.
#[derive(Debug, Clone, Default)]
pub struct VersionFilter {
    pub name: Option<String>,
    pub status: Option<VersionStatus>,
    pub limit: i64,
    pub offset: i64,
}

pub(crate) const COLUMNS: &str = "id, name, version, digest, document, format, author, created_at, status, source, provenance, notes";

pub(crate) fn version_from_row(r: &SqliteRow) -> Result<BundleVersion, StoreError> {
    let corrupt = |what: &str, v: &str| StoreError::Corrupt(format!("bundle version {what} `{v}`"));
    let format: String = r.try_get("format")?;
    let status: String = r.try_get("status")?;
    let source: String = r.try_get("source")?;
    let provenance: String = r.try_get("provenance")?;
    Ok(BundleVersion {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        version: r.try_get("version")?,
        digest: r.try_get("digest")?,
        document: r.try_get("document")?,
        format: DocumentFormat::parse(&format).ok_or_else(|| corrupt("format", &format))?,
        author: r.try_get("author")?,
        created_at: r.try_get("created_at")?,
        status: VersionStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        source: VersionSource::parse(&source).ok_or_else(|| corrupt("source", &source))?,
        provenance: serde_json::from_str(&provenance)
            .map_err(|_| corrupt("provenance", &provenance))?,
        notes: r.try_get("notes")?,
    })
}

async fn by_name_version(
    conn: &mut sqlx::SqliteConnection,
    name: &str,
    version: &str,
) -> Result<Option<BundleVersion>, StoreError> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM bundle_versions WHERE name = ? AND version = ?"
    ))
    .bind(name)
    .bind(version)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(version_from_row)
    .transpose()
}

pub(crate) async fn by_id(
    conn: &mut sqlx::SqliteConnection,
    id: i64,
) -> Result<Option<BundleVersion>, StoreError> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM bundle_versions WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .as_ref()
    .map(version_from_row)
    .transpose()
}

impl Store {
    /// Inserts versions in one transaction, each with its audit entry
    /// (`action`, by `actor`): `bundle.create`, `bundle.import`, or
    /// `bundle.create` for examples. A version whose name and version exist
    /// is left out and reported as [`Inserted::Exists`]; the others are
    /// written.
    pub async fn insert_versions(
        &self,
        versions: &[NewVersion],
        actor: &str,
        action: &str,
    ) -> Result<Vec<Inserted>, StoreError> {
        let mut tx = self.write().await?;
        let mut out = Vec::with_capacity(versions.len());
        for v in versions {
            if let Some(existing) = by_name_version(&mut tx, &v.name, &v.version).await? {
                out.push(Inserted::Exists(existing));
                continue;
            }
            let created_at = crate::now();
            let provenance = serde_json::to_string(&v.provenance)
                .map_err(|e| StoreError::Corrupt(format!("provenance: {e}")))?;
            let id: i64 = sqlx::query(
                "INSERT INTO bundle_versions \
                 (name, version, digest, document, format, author, created_at, status, source, provenance, notes) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, 'draft', ?, ?, ?) RETURNING id",
            )
            .bind(&v.name)
            .bind(&v.version)
            .bind(&v.digest)
            .bind(&v.document)
            .bind(v.format.as_str())
            .bind(&v.author)
            .bind(&created_at)
            .bind(v.source.as_str())
            .bind(&provenance)
            .bind(&v.notes)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
            let stored = BundleVersion {
                id,
                name: v.name.clone(),
                version: v.version.clone(),
                digest: v.digest.clone(),
                document: v.document.clone(),
                format: v.format,
                author: v.author.clone(),
                created_at,
                status: VersionStatus::Draft,
                source: v.source,
                provenance: v.provenance.clone(),
                notes: v.notes.clone(),
            };
            audit::append(
                &mut tx,
                NewEntry {
                    actor,
                    action,
                    subject: &stored.reference(),
                    details: serde_json::json!({
                        "digest": stored.digest,
                        "source": stored.source.as_str(),
                        "provenance": stored.provenance,
                    }),
                },
            )
            .await?;
            out.push(Inserted::New(stored));
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Inserts one version (see [`Store::insert_versions`]).
    pub async fn insert_version(
        &self,
        version: &NewVersion,
        actor: &str,
        action: &str,
    ) -> Result<Inserted, StoreError> {
        self.insert_versions(std::slice::from_ref(version), actor, action)
            .await?
            .pop()
            .ok_or_else(|| StoreError::Corrupt("an insert reported nothing".into()))
    }

    pub async fn version(&self, id: i64) -> Result<Option<BundleVersion>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        by_id(&mut conn, id).await
    }

    /// The version `NAME@VERSION`.
    pub async fn version_by_name(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<BundleVersion>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        by_name_version(&mut conn, name, version).await
    }

    /// Every version whose digest starts with `prefix` (`sha256:` and hex
    /// digits, lower case), newest first; the caller refuses more than one.
    pub async fn versions_by_digest_prefix(
        &self,
        prefix: &str,
    ) -> Result<Vec<BundleVersion>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM bundle_versions \
             WHERE substr(digest, 1, length(?1)) = ?1 ORDER BY created_at DESC, id DESC"
        ))
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(version_from_row).collect()
    }

    /// Every version without its document (`document` is empty), newest
    /// first: the desktop's bundle list, which shows thousands of versions
    /// and opens one document at a time.
    pub async fn version_index(&self) -> Result<Vec<BundleVersion>, StoreError> {
        let columns = COLUMNS.replace("document", "'' AS document");
        let rows = sqlx::query(&format!(
            "SELECT {columns} FROM bundle_versions ORDER BY created_at DESC, id DESC"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(version_from_row).collect()
    }

    /// Versions matching `filter`, newest first (`created_at`, then `id`,
    /// descending), and how many match in all.
    pub async fn list_versions(
        &self,
        filter: &VersionFilter,
    ) -> Result<(Vec<BundleVersion>, i64), StoreError> {
        const WHERE: &str = "WHERE (?1 IS NULL OR name = ?1) AND (?2 IS NULL OR status = ?2)";
        let status = filter.status.map(VersionStatus::as_str);
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM bundle_versions {WHERE} \
             ORDER BY created_at DESC, id DESC LIMIT ?3 OFFSET ?4"
        ))
        .bind(filter.name.as_deref())
        .bind(status)
        .bind(filter.limit)
        .bind(filter.offset)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM bundle_versions {WHERE}"))
            .bind(filter.name.as_deref())
            .bind(status)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        let list = rows
            .iter()
            .map(version_from_row)
            .collect::<Result<_, _>>()?;
        Ok((list, total))
    }

    /// Replaces a draft's document (and its digest and format), audited as
    /// `bundle.edit` with the old and new digests. The name and version are
    /// the row's own: the caller checks the new document names the same.
    pub async fn update_draft(
        &self,
        id: i64,
        document: &str,
        format: DocumentFormat,
        digest: &str,
        actor: &str,
    ) -> Result<DraftChange, StoreError> {
        let mut tx = self.write().await?;
        let Some(before) = by_id(&mut tx, id).await? else {
            return Ok(DraftChange::Missing);
        };
        let done = sqlx::query(
            "UPDATE bundle_versions SET document = ?, format = ?, digest = ? \
             WHERE id = ? AND status = 'draft'",
        )
        .bind(document)
        .bind(format.as_str())
        .bind(digest)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(DraftChange::NotDraft(before));
        }
        audit::append(
            &mut tx,
            NewEntry {
                actor,
                action: "bundle.edit",
                subject: &before.reference(),
                details: serde_json::json!({"digest": digest, "previous_digest": before.digest}),
            },
        )
        .await?;
        let after = by_id(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("version {id} vanished in an edit")))?;
        tx.commit().await?;
        Ok(DraftChange::Done(after))
    }

    /// Deletes a draft, audited as `bundle.delete` with its digest.
    pub async fn delete_draft(&self, id: i64, actor: &str) -> Result<DraftChange, StoreError> {
        let mut tx = self.write().await?;
        let Some(before) = by_id(&mut tx, id).await? else {
            return Ok(DraftChange::Missing);
        };
        let done = sqlx::query("DELETE FROM bundle_versions WHERE id = ? AND status = 'draft'")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(DraftChange::NotDraft(before));
        }
        audit::append(
            &mut tx,
            NewEntry {
                actor,
                action: "bundle.delete",
                subject: &before.reference(),
                details: serde_json::json!({"digest": before.digest}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(DraftChange::Done(before))
    }

    /// Records that a version was exported (signed and handed out), as
    /// `bundle.export` with its digest, the signer's key id and the
    /// envelope's expiry. `false` when the version is gone.
    pub async fn record_export(
        &self,
        id: i64,
        actor: &str,
        details: Value,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let Some(v) = by_id(&mut tx, id).await? else {
            return Ok(false);
        };
        let mut details = details;
        if let Some(o) = details.as_object_mut() {
            o.insert("digest".into(), v.digest.clone().into());
        }
        audit::append(
            &mut tx,
            NewEntry {
                actor,
                action: "bundle.export",
                subject: &v.reference(),
                details,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The versions of `name` (oldest first) and every audit entry about
    /// any version of it, deleted ones included (oldest first).
    pub async fn version_history(
        &self,
        name: &str,
    ) -> Result<(Vec<BundleVersion>, Vec<AuditEntry>), StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM bundle_versions WHERE name = ? ORDER BY created_at, id"
        ))
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        let versions = rows
            .iter()
            .map(version_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let prefix = format!("{name}@");
        let rows = sqlx::query(&format!(
            "SELECT {} FROM audit_log \
             WHERE substr(subject, 1, length(?1)) = ?1 AND action LIKE 'bundle.%' ORDER BY seq",
            audit::RAW_COLUMNS
        ))
        .bind(&prefix)
        .fetch_all(&self.pool)
        .await?;
        let events = rows
            .iter()
            .map(audit::raw_entry)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((versions, events))
    }
}
