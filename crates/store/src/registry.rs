//! Registries and the bundles bound to them (DESIGN §11.16). Each change is
//! one transaction with its audit entry; a registry a bundle is bound to is
//! not removed.

use serde::Serialize;
use sqlx::Row;

use crate::audit::{self, NewEntry};
use crate::{Store, StoreError};

/// A registry as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RegistryRow {
    pub name: String,
    pub url: String,
    pub username: Option<String>,
    pub added_at: String,
    /// The bundles bound to it.
    pub bundles: Vec<String>,
}

/// What removing a registry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    Removed,
    Missing,
    /// Bundles are still bound to it.
    InUse,
}

impl Store {
    /// Adds a registry; `false` when the name is taken.
    pub async fn add_registry(
        &self,
        name: &str,
        url: &str,
        username: Option<&str>,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "INSERT INTO registries (name, url, username, added_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(url)
        .bind(username)
        .bind(crate::now())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        audit::append(
            &mut tx,
            NewEntry {
                actor,
                action: "registry.add",
                subject: name,
                details: serde_json::json!({"url": url, "username": username}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every registry with its bound bundles, by name.
    pub async fn registries(&self) -> Result<Vec<RegistryRow>, StoreError> {
        let rows =
            sqlx::query("SELECT name, url, username, added_at FROM registries ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        let bindings = sqlx::query("SELECT bundle, registry FROM bundle_bindings ORDER BY bundle")
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let name: String = r.try_get("name")?;
            let bundles = bindings
                .iter()
                .filter(|b| b.try_get::<String, _>("registry").is_ok_and(|n| n == name))
                .filter_map(|b| b.try_get::<String, _>("bundle").ok())
                .collect();
            out.push(RegistryRow {
                url: r.try_get("url")?,
                username: r.try_get("username")?,
                added_at: r.try_get("added_at")?,
                name,
                bundles,
            });
        }
        Ok(out)
    }

    /// Removes a registry no bundle is bound to.
    pub async fn remove_registry(&self, name: &str, actor: &str) -> Result<Removed, StoreError> {
        let mut tx = self.write().await?;
        let bound: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM bundle_bindings WHERE registry = ?")
                .bind(name)
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
        if bound > 0 {
            return Ok(Removed::InUse);
        }
        let done = sqlx::query("DELETE FROM registries WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(Removed::Missing);
        }
        audit::append(
            &mut tx,
            NewEntry {
                actor,
                action: "registry.remove",
                subject: name,
                details: serde_json::json!({}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Removed::Removed)
    }

    /// Binds bundle `bundle` to registry `registry` (replacing a binding);
    /// `false` when there is no such registry.
    pub async fn bind_bundle(
        &self,
        bundle: &str,
        registry: &str,
        actor: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let known = sqlx::query("SELECT 1 FROM registries WHERE name = ?")
            .bind(registry)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !known {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO bundle_bindings (bundle, registry, bound_at) VALUES (?, ?, ?) \
             ON CONFLICT (bundle) DO UPDATE SET registry = excluded.registry, bound_at = excluded.bound_at",
        )
        .bind(bundle)
        .bind(registry)
        .bind(crate::now())
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            NewEntry {
                actor,
                action: "bundle.bind",
                subject: bundle,
                details: serde_json::json!({"registry": registry}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The registry bundle `bundle` is bound to.
    pub async fn binding(&self, bundle: &str) -> Result<Option<RegistryRow>, StoreError> {
        let name: Option<String> =
            sqlx::query("SELECT registry FROM bundle_bindings WHERE bundle = ?")
                .bind(bundle)
                .fetch_optional(&self.pool)
                .await?
                .map(|r| r.try_get("registry"))
                .transpose()?;
        Ok(match name {
            Some(n) => self.registries().await?.into_iter().find(|r| r.name == n),
            None => None,
        })
    }
}
