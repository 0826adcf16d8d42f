//! Scorecard runs (table `scorecard_runs`): each evaluation with its
//! decision-log line, so the console can list and filter them; and the use
//! of an override, written with its run and its audit entry
//! (`override.use`) in the transaction that consumes it.
//!
//! Runs without an override are not audited one by one (a batch of
//! 100,000 scorecards would write 100,000 audit entries): they are inserted
//! in batches, [`RUNS_PER_STATEMENT`] rows a statement, one transaction a
//! batch.

use serde::Serialize;
use sqlx::{QueryBuilder, Row, Sqlite};

use crate::audit::{self, NewEntry};
use crate::{Store, StoreError};

/// Rows per `INSERT` (6 parameters each: well under SQLite's 32,766).
pub const RUNS_PER_STATEMENT: usize = 1000;

/// A run to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRun {
    /// RFC 3339 UTC with milliseconds (as the audit log writes `at`).
    pub at: String,
    /// The identity that ran it, when known.
    pub actor: Option<String>,
    pub workflow_id: Option<String>,
    pub verdict: String,
    /// How outputs name the override this run used.
    pub override_id: Option<String>,
    /// The decision-log record, one line of JSON.
    pub log_line: String,
}

/// A recorded run, newest first in lists.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ScorecardRun {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub at: String,
    pub actor: Option<String>,
    pub workflow_id: Option<String>,
    pub verdict: String,
    pub override_id: Option<String>,
    /// The decision-log record as written to the log.
    pub log_line: serde_json::Value,
}

/// Which runs to list. Times are RFC 3339 UTC with milliseconds (compared
/// as text, which orders them): `since` inclusive, `until` exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunQuery {
    pub workflow_id: Option<String>,
    pub verdict: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// How the ledger knows the override a run used (see
/// [`Store::record_override_use`]).
#[derive(Debug, Clone, Copy)]
pub struct OverrideUse<'a> {
    pub key: &'a str,
    pub override_id: Option<&'a str>,
    pub legacy: bool,
}

async fn insert_runs(
    conn: &mut sqlx::SqliteConnection,
    runs: &[NewRun],
) -> Result<Option<i64>, StoreError> {
    let mut last = None;
    for chunk in runs.chunks(RUNS_PER_STATEMENT) {
        let mut q: QueryBuilder<'_, Sqlite> = QueryBuilder::new(
            "INSERT INTO scorecard_runs (at, actor, workflow_id, verdict, override_id, log_line) ",
        );
        q.push_values(chunk, |mut b, r| {
            b.push_bind(&r.at)
                .push_bind(&r.actor)
                .push_bind(&r.workflow_id)
                .push_bind(&r.verdict)
                .push_bind(&r.override_id)
                .push_bind(&r.log_line);
        });
        last = Some(q.build().execute(&mut *conn).await?.last_insert_rowid());
    }
    Ok(last)
}

impl Store {
    /// Records runs in one transaction (none audited: see the module doc).
    pub async fn record_runs(&self, runs: &[NewRun]) -> Result<(), StoreError> {
        if runs.is_empty() {
            return Ok(());
        }
        let mut tx = self.write().await?;
        insert_runs(&mut tx, runs).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Consumes an override and records the run that used it, with its
    /// `override.use` audit entry (subject: the override's id), in one
    /// transaction. `None`, writing nothing, when the override was already
    /// used; else the run's id.
    pub async fn record_override_run(
        &self,
        used: OverrideUse<'_>,
        run: &NewRun,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.write().await?;
        let won = crate::consume_in(
            &mut tx,
            used.key,
            used.override_id,
            run.workflow_id.as_deref(),
            used.legacy,
        )
        .await?;
        if !won {
            return Ok(None);
        }
        let id = insert_runs(&mut tx, std::slice::from_ref(run))
            .await?
            .ok_or_else(|| StoreError::Corrupt("the run was not inserted".into()))?;
        audit::append(
            &mut tx,
            NewEntry {
                actor: run.actor.as_deref().unwrap_or("gavel"),
                action: "override.use",
                subject: used.override_id.unwrap_or(used.key),
                details: serde_json::json!({
                    "ledger_key": used.key,
                    "legacy": used.legacy,
                    "workflow_id": run.workflow_id,
                    "verdict": run.verdict,
                    "run_id": id,
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    /// Runs matching `query`, newest first.
    pub async fn runs(&self, query: &RunQuery) -> Result<Vec<ScorecardRun>, StoreError> {
        let mut q: QueryBuilder<'_, Sqlite> = QueryBuilder::new(
            "SELECT id, at, actor, workflow_id, verdict, override_id, log_line FROM scorecard_runs WHERE 1 = 1",
        );
        if let Some(w) = &query.workflow_id {
            q.push(" AND workflow_id = ").push_bind(w);
        }
        if let Some(v) = &query.verdict {
            q.push(" AND verdict = ").push_bind(v);
        }
        if let Some(s) = &query.since {
            q.push(" AND at >= ").push_bind(s);
        }
        if let Some(u) = &query.until {
            q.push(" AND at < ").push_bind(u);
        }
        q.push(" ORDER BY id DESC LIMIT ")
            .push_bind(query.limit)
            .push(" OFFSET ")
            .push_bind(query.offset);
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let line: String = r.try_get(6)?;
                Ok(ScorecardRun {
                    id: r.try_get(0)?,
                    at: r.try_get(1)?,
                    actor: r.try_get(2)?,
                    workflow_id: r.try_get(3)?,
                    verdict: r.try_get(4)?,
                    override_id: r.try_get(5)?,
                    log_line: serde_json::from_str(&line).map_err(|e| {
                        StoreError::Corrupt(format!("scorecard run's log line: {e}"))
                    })?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(at: &str, workflow: &str, verdict: &str) -> NewRun {
        NewRun {
            at: at.into(),
            actor: Some("alice".into()),
            workflow_id: Some(workflow.into()),
            verdict: verdict.into(),
            override_id: None,
            log_line: serde_json::json!({"workflow_id": workflow, "verdict": verdict}).to_string(),
        }
    }

    fn all() -> RunQuery {
        RunQuery {
            limit: 100_000,
            ..Default::default()
        }
    }

    async fn counts(s: &Store) -> (i64, i64, usize) {
        let n = |t: &'static str| {
            let s = s.clone();
            async move {
                sqlx::query(&format!("SELECT COUNT(*) FROM {t}"))
                    .fetch_one(&s.pool)
                    .await
                    .unwrap()
                    .get::<i64, _>(0)
            }
        };
        (
            n("scorecard_runs").await,
            n("consumed_overrides").await,
            s.audit_page(0, 1_000_000).await.unwrap().len(),
        )
    }

    #[tokio::test]
    async fn runs_are_recorded_with_their_log_line_and_filtered() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("gavel.db")).await.unwrap();
        // More than one statement's worth, in one call.
        let mut many: Vec<NewRun> = (0..RUNS_PER_STATEMENT + 5)
            .map(|i| run("2026-01-01T00:00:00.000Z", &format!("bulk-{i}"), "no_go"))
            .collect();
        many.push(run("2026-01-02T10:00:00.000Z", "wf-a", "promote"));
        many.push(run("2026-01-03T10:00:00.000Z", "wf-a", "demote"));
        many.push(run("2026-01-04T10:00:00.000Z", "wf-b", "promote"));
        s.record_runs(&many).await.unwrap();
        assert_eq!(
            counts(&s).await,
            (many.len() as i64, 0, 0),
            "no audit entry per run"
        );
        let got = s.runs(&all()).await.unwrap();
        assert_eq!(got.len(), many.len());
        assert_eq!(got[0].workflow_id.as_deref(), Some("wf-b"), "newest first");
        assert_eq!(got[0].log_line["verdict"], "promote");
        assert_eq!(got[0].actor.as_deref(), Some("alice"));
        let ids = |q: RunQuery| {
            let s = s.clone();
            async move {
                s.runs(&q)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| (r.workflow_id.unwrap(), r.verdict))
                    .collect::<Vec<_>>()
            }
        };
        let pair = |w: &str, v: &str| (w.to_string(), v.to_string());
        assert_eq!(
            ids(RunQuery {
                workflow_id: Some("wf-a".into()),
                ..all()
            })
            .await,
            [pair("wf-a", "demote"), pair("wf-a", "promote")]
        );
        assert_eq!(
            ids(RunQuery {
                verdict: Some("promote".into()),
                ..all()
            })
            .await,
            [pair("wf-b", "promote"), pair("wf-a", "promote")]
        );
        assert_eq!(
            ids(RunQuery {
                since: Some("2026-01-02T10:00:00.000Z".into()),
                until: Some("2026-01-04T10:00:00.000Z".into()),
                ..all()
            })
            .await,
            [pair("wf-a", "demote"), pair("wf-a", "promote")],
            "since inclusive, until exclusive"
        );
        assert_eq!(
            ids(RunQuery {
                limit: 2,
                offset: 1,
                ..all()
            })
            .await,
            [pair("wf-a", "demote"), pair("wf-a", "promote")]
        );
    }

    #[tokio::test]
    async fn an_override_run_is_consumed_recorded_and_audited_together_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("gavel.db")).await.unwrap();
        let used = OverrideUse {
            key: "sha256:abcd",
            override_id: Some("ovr-1"),
            legacy: false,
        };
        let mut r = run("2026-01-01T00:00:00.000Z", "wf-a", "promote");
        r.override_id = Some("ovr-1".into());
        let id = s.record_override_run(used, &r).await.unwrap().unwrap();
        assert_eq!(counts(&s).await, (1, 1, 1));
        let log = s.audit_page(0, 10).await.unwrap();
        assert_eq!(
            (
                log[0].actor.as_str(),
                log[0].action.as_str(),
                log[0].subject.as_str()
            ),
            ("alice", "override.use", "ovr-1")
        );
        assert_eq!(log[0].details["run_id"], id);
        assert_eq!(log[0].details["ledger_key"], "sha256:abcd");
        assert_eq!(
            s.runs(&all()).await.unwrap()[0].override_id.as_deref(),
            Some("ovr-1")
        );
        // Used again: refused, and nothing is written.
        let before = counts(&s).await;
        assert_eq!(s.record_override_run(used, &r).await.unwrap(), None);
        assert_eq!(counts(&s).await, before);
        assert_eq!(s.audit_page(0, 10).await.unwrap(), log);
    }
}
