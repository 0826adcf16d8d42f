//! Scorecard runs (table `scorecard_runs`): each evaluation with its
//! decision-log line, so the console can list and filter them; and the use
//! of an override, written with its run and its audit entry
//! (`override.use`) in the transaction that consumes it.
//!
//! Runs are recorded a batch at a time ([`RunBatch`]): who ran them and
//! when, once; their decision-log lines as one block, compressed (table
//! `scorecard_run_logs`); and a small row a run (workflow, verdict, where
//! its line lies in the block), indexed by workflow. Runs without an
//! override are not audited one by one (a batch of 100,000 scorecards
//! would write 100,000 audit entries).

use std::borrow::Cow;

use serde::Serialize;
use sqlx::{QueryBuilder, Row, Sqlite};

use crate::audit::{self, NewEntry};
use crate::{Store, StoreError};

/// Rows per `INSERT` (6 parameters each: well under SQLite's 32,766).
pub const RUNS_PER_STATEMENT: usize = 1000;

/// A run to record on its own (see [`RunBatch`] for many).
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

/// Runs evaluated together, by one actor at one time, to record in one
/// transaction with one block of decision-log lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunBatch {
    /// RFC 3339 UTC with milliseconds (as the audit log writes `at`).
    pub at: String,
    /// The identity that ran them, when known.
    pub actor: Option<String>,
    /// The runs' decision-log lines, each followed by a line break, in
    /// the order of `runs`: byte for byte what the decision log gets.
    lines: String,
    runs: Vec<BatchRun>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct BatchRun {
    workflow_id: Option<String>,
    verdict: Cow<'static, str>,
    override_id: Option<String>,
    /// Its line is `lines[start..end]`.
    start: usize,
    end: usize,
}

impl RunBatch {
    pub fn new(at: String, actor: Option<String>) -> RunBatch {
        RunBatch {
            at,
            actor,
            lines: String::new(),
            runs: Vec::new(),
        }
    }

    /// A batch with room for `runs` runs whose lines take `bytes` in all
    /// (a batch of thousands of runs then grows its block of lines once,
    /// not a dozen times, each a copy of what it holds).
    pub fn with_capacity(at: String, actor: Option<String>, runs: usize, bytes: usize) -> RunBatch {
        RunBatch {
            at,
            actor,
            lines: String::with_capacity(bytes),
            runs: Vec::with_capacity(runs),
        }
    }

    /// Adds a run with its decision-log line (one line of JSON).
    pub fn push(
        &mut self,
        workflow_id: Option<&str>,
        verdict: impl Into<Cow<'static, str>>,
        log_line: &str,
    ) {
        let start = self.lines.len();
        self.lines.push_str(log_line);
        let end = self.lines.len();
        self.lines.push('\n');
        self.runs.push(BatchRun {
            workflow_id: workflow_id.map(str::to_string),
            verdict: verdict.into(),
            override_id: None,
            start,
            end,
        });
    }

    /// Adds runs whose decision-log lines are `lines`, in order, each
    /// followed by a line break (as the decision log holds them); `runs`
    /// gives each one's workflow, verdict, and where its line ends in
    /// `lines` (at its line break). One copy of the block, not one a line.
    /// `false`, and nothing added, when the ends do not cut `lines` into
    /// one line a run.
    #[must_use]
    pub fn push_lines<'w>(
        &mut self,
        lines: &str,
        runs: impl IntoIterator<Item = (Option<&'w str>, &'static str, usize)>,
    ) -> bool {
        let base = self.lines.len();
        let count = self.runs.len();
        let mut start = 0;
        for (workflow_id, verdict, end) in runs {
            if end < start || lines.as_bytes().get(end) != Some(&b'\n') {
                self.runs.truncate(count);
                return false;
            }
            self.runs.push(BatchRun {
                workflow_id: workflow_id.map(str::to_string),
                verdict: Cow::Borrowed(verdict),
                override_id: None,
                start: base + start,
                end: base + end,
            });
            start = end + 1;
        }
        if start != lines.len() {
            self.runs.truncate(count);
            return false;
        }
        self.lines.push_str(lines);
        true
    }

    /// The decision-log lines of the runs, each followed by a line break.
    pub fn lines(&self) -> &str {
        &self.lines
    }

    pub fn len(&self) -> usize {
        self.runs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// The runs of `runs` that share an actor and a time, in order, as
    /// batches.
    fn group(runs: &[NewRun]) -> Vec<RunBatch> {
        let mut out: Vec<RunBatch> = Vec::new();
        for r in runs {
            if !out
                .last()
                .is_some_and(|b| b.at == r.at && b.actor == r.actor)
            {
                out.push(RunBatch::new(r.at.clone(), r.actor.clone()));
            }
            if let Some(batch) = out.last_mut() {
                batch.push(r.workflow_id.as_deref(), r.verdict.clone(), &r.log_line);
                if let Some(last) = batch.runs.last_mut() {
                    last.override_id.clone_from(&r.override_id);
                }
            }
        }
        out
    }
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
/// [`Store::record_override_run`]).
#[derive(Debug, Clone, Copy)]
pub struct OverrideUse<'a> {
    pub key: &'a str,
    pub override_id: Option<&'a str>,
    pub legacy: bool,
}

/// The most runs a block holds (run ids are `first_id + i`).
pub const MAX_RUNS_PER_BLOCK: usize = 65_536;

/// The most an LZ4 block expands (255 bytes a byte, and a little).
fn fits(uncompressed: usize, compressed: usize) -> bool {
    uncompressed <= compressed.saturating_mul(255).saturating_add(64)
}

fn compress(bytes: &[u8]) -> Vec<u8> {
    lz4_flex::block::compress_prepend_size(bytes)
}

/// What a block stored: its id (for messages), encoding, and one column.
fn decode(block: i64, encoding: &str, what: &str, bytes: Vec<u8>) -> Result<Vec<u8>, StoreError> {
    let corrupt = |why: String| {
        StoreError::Corrupt(format!(
            "scorecard_run_blocks row {block}, `{what}`: {why}; restore the database from a backup"
        ))
    };
    match encoding {
        "text" => Ok(bytes),
        "lz4" => {
            let claimed = bytes
                .get(..4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_le_bytes)
                .ok_or_else(|| corrupt("shorter than its length".into()))?;
            if !fits(claimed as usize, bytes.len()) {
                return Err(corrupt(format!(
                    "claims {claimed} bytes, more than {} compressed bytes hold",
                    bytes.len()
                )));
            }
            lz4_flex::block::decompress_size_prepended(&bytes)
                .map_err(|e| corrupt(format!("does not decompress: {e}")))
        }
        other => Err(corrupt(format!("unknown encoding `{other}`"))),
    }
}

/// Records a batch as blocks of at most [`MAX_RUNS_PER_BLOCK`] runs; the
/// id of its first run (`None` for an empty batch).
async fn insert_batch(
    conn: &mut sqlx::SqliteConnection,
    batch: &RunBatch,
) -> Result<Option<i64>, StoreError> {
    let mut first = None;
    for runs in batch.runs.chunks(MAX_RUNS_PER_BLOCK) {
        let (Some(head), Some(tail)) = (runs.first(), runs.last()) else {
            continue;
        };
        let lines = batch.lines.get(head.start..=tail.end).unwrap_or_default();
        let list: Vec<_> = runs
            .iter()
            .map(|r| (&r.workflow_id, &r.verdict, &r.override_id))
            .collect();
        let list = serde_json::to_vec(&list)
            .map_err(|e| StoreError::Corrupt(format!("cannot write the runs: {e}")))?;
        // The run ids go on from the last block's (within this write
        // transaction, no other writer takes them).
        let next: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(first_id + count), 1) FROM \
             (SELECT first_id, count FROM scorecard_run_blocks ORDER BY first_id DESC LIMIT 1)",
        )
        .fetch_one(&mut *conn)
        .await?;
        sqlx::query(
            "INSERT INTO scorecard_run_blocks (first_id, count, at, actor, encoding, runs, lines) \
             VALUES (?, ?, ?, ?, 'lz4', ?, ?)",
        )
        .bind(next)
        .bind(i64::try_from(runs.len()).unwrap_or(i64::MAX))
        .bind(&batch.at)
        .bind(&batch.actor)
        .bind(compress(&list))
        .bind(compress(lines.as_bytes()))
        .execute(&mut *conn)
        .await?;
        first.get_or_insert(next);
    }
    Ok(first)
}

/// Blocks read at a time when listing runs.
const BLOCKS_PER_PAGE: i64 = 16;

/// One run of a block, as listed in its `runs` column.
type ListedRun = (Option<String>, String, Option<String>);

impl Store {
    /// Records runs in one transaction (none audited: see the module doc),
    /// a block for each stretch of runs with the same actor and time.
    pub async fn record_runs(&self, runs: &[NewRun]) -> Result<(), StoreError> {
        if runs.is_empty() {
            return Ok(());
        }
        let mut tx = self.write().await?;
        for batch in RunBatch::group(runs) {
            insert_batch(&mut tx, &batch).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records a batch of runs in one transaction (none audited).
    pub async fn record_batch(&self, batch: &RunBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.write().await?;
        insert_batch(&mut tx, batch).await?;
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
        let mut batches = RunBatch::group(std::slice::from_ref(run));
        let batch = batches
            .pop()
            .ok_or_else(|| StoreError::Corrupt("the run was not inserted".into()))?;
        let id = insert_batch(&mut tx, &batch)
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

    /// Runs matching `query`, newest first: blocks are read newest first
    /// (those outside the times left out by the index), each block's list
    /// of runs filtered, until `offset + limit` runs match; only blocks
    /// holding a run returned have their lines decompressed.
    pub async fn runs(&self, query: &RunQuery) -> Result<Vec<ScorecardRun>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let mut skip = usize::try_from(query.offset).unwrap_or(0);
        let limit = usize::try_from(query.limit).unwrap_or(0);
        let filtered = query.workflow_id.is_some() || query.verdict.is_some();
        // The runs chosen: (block, index in block, run).
        let mut chosen: Vec<(i64, usize, ScorecardRun)> = Vec::new();
        let mut before = i64::MAX;
        'pages: while chosen.len() < limit {
            let mut q: QueryBuilder<'_, Sqlite> = QueryBuilder::new(
                "SELECT id, first_id, count, at, actor, encoding, runs FROM scorecard_run_blocks WHERE first_id < ",
            );
            q.push_bind(before);
            if let Some(s) = &query.since {
                q.push(" AND at >= ").push_bind(s);
            }
            if let Some(u) = &query.until {
                q.push(" AND at < ").push_bind(u);
            }
            q.push(" ORDER BY first_id DESC LIMIT ")
                .push_bind(BLOCKS_PER_PAGE);
            let page = q.build().fetch_all(&mut *conn).await?;
            if page.is_empty() {
                break;
            }
            for row in &page {
                let block: i64 = row.try_get(0)?;
                let first_id: i64 = row.try_get(1)?;
                let count: i64 = row.try_get(2)?;
                before = first_id;
                // Whole blocks within the offset need no reading.
                let whole = usize::try_from(count).unwrap_or(usize::MAX);
                if !filtered && skip >= whole {
                    skip -= whole;
                    continue;
                }
                let encoding: String = row.try_get(5)?;
                let list = decode(block, &encoding, "runs", row.try_get(6)?)?;
                let list: Vec<ListedRun> = serde_json::from_slice(&list).map_err(|e| {
                    StoreError::Corrupt(format!(
                        "scorecard_run_blocks row {block}, `runs`: {e}; restore the database from a backup"
                    ))
                })?;
                if i64::try_from(list.len()).ok() != Some(count) {
                    return Err(StoreError::Corrupt(format!(
                        "scorecard_run_blocks row {block} lists {} runs where it says {count}; restore the database from a backup",
                        list.len()
                    )));
                }
                let (at, actor): (String, Option<String>) = (row.try_get(3)?, row.try_get(4)?);
                for (i, (workflow_id, verdict, override_id)) in list.into_iter().enumerate().rev() {
                    if query
                        .workflow_id
                        .as_ref()
                        .is_some_and(|w| workflow_id.as_ref() != Some(w))
                        || query.verdict.as_ref().is_some_and(|v| *v != verdict)
                    {
                        continue;
                    }
                    if skip > 0 {
                        skip -= 1;
                        continue;
                    }
                    chosen.push((
                        block,
                        i,
                        ScorecardRun {
                            id: first_id.saturating_add(i64::try_from(i).unwrap_or(i64::MAX)),
                            at: at.clone(),
                            actor: actor.clone(),
                            workflow_id,
                            verdict,
                            override_id,
                            log_line: serde_json::Value::Null,
                        },
                    ));
                    if chosen.len() == limit {
                        break 'pages;
                    }
                }
            }
        }
        let mut out = Vec::with_capacity(chosen.len());
        // Each chosen run's line, from its block's lines.
        let mut lines: Option<(i64, Vec<u8>, Vec<usize>)> = None;
        for (block, i, mut run) in chosen {
            if lines.as_ref().is_none_or(|(b, ..)| *b != block) {
                let row =
                    sqlx::query("SELECT encoding, lines FROM scorecard_run_blocks WHERE id = ?")
                        .bind(block)
                        .fetch_one(&mut *conn)
                        .await?;
                let encoding: String = row.try_get(0)?;
                let text = decode(block, &encoding, "lines", row.try_get(1)?)?;
                let starts = std::iter::once(0)
                    .chain(
                        text.iter()
                            .enumerate()
                            .filter(|(_, c)| **c == b'\n')
                            .map(|(k, _)| k + 1),
                    )
                    .collect();
                lines = Some((block, text, starts));
            }
            let line = lines.as_ref().and_then(|(_, text, starts)| {
                let (s, e) = (*starts.get(i)?, starts.get(i + 1)?.checked_sub(1)?);
                text.get(s..e)
            });
            let id = run.id;
            let line = line.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "scorecard run {id}: its block {block} holds no line {i}; restore the database from a backup"
                ))
            })?;
            run.log_line = serde_json::from_slice(line)
                .map_err(|e| StoreError::Corrupt(format!("scorecard run {id}'s log line: {e}")))?;
            out.push(run);
        }
        Ok(out)
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

    #[test]
    fn lines_pushed_as_a_block_make_the_batch_pushing_them_one_by_one_makes() {
        let records = [
            (Some("wf-1"), "promote", "{\"a\":1}"),
            (None, "no_go", "{}"),
            (Some("wf-é"), "pilot", "{\"b\":\"é\"}"),
        ];
        let mut one_by_one = RunBatch::new("t".into(), None);
        one_by_one.push(Some("wf-0"), "demote", "{\"first\":0}");
        let mut block = one_by_one.clone();
        for (w, v, line) in records {
            one_by_one.push(w, v, line);
        }
        let mut lines = String::new();
        let mut ends = Vec::new();
        for (w, v, line) in records {
            lines.push_str(line);
            ends.push((w, v, lines.len()));
            lines.push('\n');
        }
        assert!(block.push_lines(&lines, ends.clone()));
        assert_eq!(block, one_by_one);

        // Ends that do not cut the block into lines add nothing.
        let before = block.clone();
        let wrong = [
            // A line's end is not at a line break.
            vec![(None, "promote", 3), (None, "promote", lines.len() - 1)],
            // A line left over.
            ends[..2].to_vec(),
            // Out of order, and past the end.
            vec![(None, "promote", ends[1].2), (None, "promote", ends[0].2)],
            vec![(None, "promote", lines.len() + 5)],
        ];
        for ends in wrong {
            assert!(!block.push_lines(&lines, ends.clone()), "{ends:?}");
            assert_eq!(block, before);
        }
        assert!(block.push_lines("", []));
        assert_eq!(block, before);
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
                sqlx::query(t)
                    .fetch_one(&s.pool)
                    .await
                    .unwrap()
                    .get::<i64, _>(0)
            }
        };
        (
            n("SELECT COALESCE(SUM(count), 0) FROM scorecard_run_blocks").await,
            n("SELECT COUNT(*) FROM consumed_overrides").await,
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

    /// A batch keeps each run's line byte for byte, with the batch's time
    /// and actor; the block is stored compressed.
    #[tokio::test]
    async fn a_batch_is_one_compressed_block_and_each_run_reads_its_own_line() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("gavel.db")).await.unwrap();
        let mut batch = RunBatch::new("2026-12-02T10:00:00.000Z".into(), Some("bob".into()));
        let lines: Vec<String> = (0..3000)
            .map(|i| {
                format!(
                    r#"{{"decision":false,"reason_codes":["raroi_below_threshold"],"verdict":"no_go","workflow_id":"wf-{i}","x":"é\u2028{i}"}}"#
                )
            })
            .collect();
        for (i, l) in lines.iter().enumerate() {
            let w = (i % 7 != 0).then(|| format!("wf-{i}"));
            batch.push(w.as_deref(), "no_go", l);
        }
        assert_eq!(batch.len(), 3000);
        assert!(batch.lines().ends_with("\n") && batch.lines().lines().count() == 3000);
        s.record_batch(&batch).await.unwrap();
        // One block, stored smaller than the lines.
        let (blocks, stored): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), SUM(length(lines)) FROM scorecard_run_blocks WHERE encoding = 'lz4'",
        )
        .fetch_one(&s.pool)
        .await
        .unwrap();
        assert_eq!(blocks, 1);
        assert!(
            (stored as usize) < batch.lines().len() / 3,
            "{stored} of {}",
            batch.lines().len()
        );
        let got = s.runs(&all()).await.unwrap();
        assert_eq!(got.len(), 3000);
        for (r, (i, l)) in got.iter().rev().zip(lines.iter().enumerate()) {
            assert_eq!(
                r.log_line,
                serde_json::from_str::<serde_json::Value>(l).unwrap()
            );
            assert_eq!(r.workflow_id, (i % 7 != 0).then(|| format!("wf-{i}")));
            assert_eq!(
                (r.at.as_str(), r.actor.as_deref(), r.verdict.as_str()),
                ("2026-12-02T10:00:00.000Z", Some("bob"), "no_go")
            );
        }
        // Filters read the batch's time.
        let q = |since: &str| RunQuery {
            since: Some(since.into()),
            workflow_id: Some("wf-1".into()),
            ..all()
        };
        assert_eq!(
            s.runs(&q("2026-12-02T10:00:00.000Z")).await.unwrap().len(),
            1
        );
        assert!(
            s.runs(&q("2026-12-02T10:00:00.001Z"))
                .await
                .unwrap()
                .is_empty()
        );
        // An empty batch writes nothing.
        s.record_batch(&RunBatch::new("t".into(), None))
            .await
            .unwrap();
        assert_eq!(counts(&s).await.0, 3000);
    }

    /// Runs given one by one are grouped by time and actor; each keeps its
    /// own, and its override.
    #[tokio::test]
    async fn runs_given_apart_keep_their_own_time_actor_and_override() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("gavel.db")).await.unwrap();
        let mut runs = vec![
            run("2026-01-01T00:00:00.000Z", "a", "promote"),
            run("2026-01-01T00:00:00.000Z", "b", "demote"),
            run("2026-01-02T00:00:00.000Z", "c", "pilot"),
        ];
        runs[1].override_id = Some("ovr-9".into());
        runs[2].actor = None;
        let mut last = run("2026-01-02T00:00:00.000Z", "d", "no_go");
        last.actor = Some("carol".into());
        runs.push(last);
        s.record_runs(&runs).await.unwrap();
        let blocks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM scorecard_run_blocks")
            .fetch_one(&s.pool)
            .await
            .unwrap();
        assert_eq!(blocks, 3, "one block a stretch of the same time and actor");
        let got = s.runs(&all()).await.unwrap();
        let seen: Vec<_> = got
            .iter()
            .rev()
            .map(|r| {
                (
                    r.at.clone(),
                    r.actor.clone(),
                    r.workflow_id.clone().unwrap(),
                    r.verdict.clone(),
                    r.override_id.clone(),
                    r.log_line["workflow_id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let want: Vec<_> = runs
            .iter()
            .map(|r| {
                (
                    r.at.clone(),
                    r.actor.clone(),
                    r.workflow_id.clone().unwrap(),
                    r.verdict.clone(),
                    r.override_id.clone(),
                    r.workflow_id.clone().unwrap(),
                )
            })
            .collect();
        assert_eq!(seen, want);
    }

    /// A damaged block is reported as such, naming the row, not read as
    /// other runs' lines; a block stored as text reads as compressed.
    #[tokio::test]
    async fn a_damaged_block_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("gavel.db")).await.unwrap();
        let two = vec![
            run("2026-01-01T00:00:00.000Z", "a", "promote"),
            run("2026-01-01T00:00:00.000Z", "b", "demote"),
        ];
        s.record_runs(&two).await.unwrap();
        let before = s.runs(&all()).await.unwrap();
        let runs = br#"[["a","promote",null],["b","demote",null]]"#.to_vec();
        let lines: Vec<u8> = two
            .iter()
            .map(|r| r.log_line.clone() + "\n")
            .collect::<String>()
            .into_bytes();
        let set = |encoding: &'static str, runs: Vec<u8>, lines: Vec<u8>| {
            let s = s.clone();
            async move {
                sqlx::query("UPDATE scorecard_run_blocks SET encoding = ?, runs = ?, lines = ?")
                    .bind(encoding)
                    .bind(runs)
                    .bind(lines)
                    .execute(&s.pool)
                    .await
                    .unwrap();
            }
        };
        for (encoding, runs, lines, says) in [
            (
                "lz4",
                compress(&runs),
                vec![0xff, 0xff, 0xff, 0x7f, 1, 2],
                "claims",
            ),
            (
                "lz4",
                compress(&runs),
                vec![1, 0],
                "shorter than its length",
            ),
            (
                "lz4",
                compress(&runs),
                vec![40, 0, 0, 0, 0xf0],
                "does not decompress",
            ),
            ("text", runs.clone(), b"{}\n".to_vec(), "holds no line 1"),
            ("text", runs.clone(), b"{}\n{\n".to_vec(), "log line"),
            (
                "text",
                b"[]".to_vec(),
                lines.clone(),
                "lists 0 runs where it says 2",
            ),
            ("text", b"[1, 2]".to_vec(), lines.clone(), "`runs`"),
        ] {
            set(encoding, runs, lines).await;
            let e = s.runs(&all()).await.unwrap_err();
            assert!(matches!(e, StoreError::Corrupt(_)), "{e}");
            assert!(e.to_string().contains(says), "{says}: {e}");
        }
        set("text", runs, lines).await;
        assert_eq!(s.runs(&all()).await.unwrap(), before);
    }

    /// Offsets and limits count runs across blocks, with and without a
    /// filter.
    #[tokio::test]
    async fn pages_run_across_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("gavel.db")).await.unwrap();
        // 40 blocks of 3 runs, verdicts in turn.
        let verdicts = ["promote", "demote", "no_go"];
        for b in 0..40 {
            let mut batch = RunBatch::new(format!("2026-01-01T00:00:{b:02}.000Z"), None);
            for (i, v) in verdicts.iter().enumerate() {
                let w = format!("wf-{b}-{i}");
                batch.push(Some(&w), *v, &format!(r#"{{"workflow_id":"{w}"}}"#));
            }
            s.record_batch(&batch).await.unwrap();
        }
        let ids = |q: RunQuery| {
            let s = s.clone();
            async move {
                s.runs(&q)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| (r.id, r.workflow_id.unwrap()))
                    .collect::<Vec<_>>()
            }
        };
        let every = ids(all()).await;
        assert_eq!(every.len(), 120);
        assert!(
            every.windows(2).all(|w| w[0].0 == w[1].0 + 1),
            "ids rise by one"
        );
        assert_eq!(every[0].1, "wf-39-2");
        for (offset, limit) in [(0, 1), (2, 5), (50, 7), (119, 10), (120, 1), (61, 59)] {
            let page = ids(RunQuery {
                offset,
                limit,
                ..all()
            })
            .await;
            let want: Vec<_> = every
                .iter()
                .skip(offset as usize)
                .take(limit as usize)
                .cloned()
                .collect();
            assert_eq!(page, want, "offset {offset} limit {limit}");
        }
        let demoted = ids(RunQuery {
            verdict: Some("demote".into()),
            offset: 30,
            limit: 4,
            ..all()
        })
        .await;
        assert_eq!(
            demoted.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
            ["wf-9-1", "wf-8-1", "wf-7-1", "wf-6-1"]
        );
        let timed = ids(RunQuery {
            since: Some("2026-01-01T00:00:10.000Z".into()),
            until: Some("2026-01-01T00:00:12.000Z".into()),
            ..all()
        })
        .await;
        assert_eq!(
            timed.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
            [
                "wf-11-2", "wf-11-1", "wf-11-0", "wf-10-2", "wf-10-1", "wf-10-0"
            ]
        );
        assert!(ids(RunQuery { limit: 0, ..all() }).await.is_empty());
    }

    /// Runs recorded before blocks (one row a run with its line) are read
    /// the same after the upgrade.
    #[tokio::test]
    async fn runs_recorded_before_the_blocks_read_the_same_after_the_upgrade() {
        use std::str::FromStr as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gavel.db");
        let before = dir.path().join("migrations");
        std::fs::create_dir_all(&before).unwrap();
        let source = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"));
        for e in std::fs::read_dir(source).unwrap() {
            let name = e.unwrap().file_name();
            if name.to_string_lossy().as_ref() < "0007" {
                std::fs::copy(source.join(&name), before.join(&name)).unwrap();
            }
        }
        let options =
            sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
                .unwrap()
                .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        sqlx::migrate::Migrator::new(before.as_path())
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        let old = [
            (
                7,
                "2026-01-01T00:00:00.000Z",
                Some("alice"),
                Some("wf-a"),
                "promote",
                None,
                r#"{"verdict":"promote","workflow_id":"wf-a"}"#,
            ),
            (
                9,
                "2026-01-02T00:00:00.000Z",
                None,
                None,
                "no_go",
                Some("ovr-1"),
                r#"{"reason_codes":["x"],"verdict":"no_go","workflow_id":null}"#,
            ),
        ];
        for (id, at, actor, w, v, o, line) in old {
            sqlx::query("INSERT INTO scorecard_runs (id, at, actor, workflow_id, verdict, override_id, log_line) VALUES (?, ?, ?, ?, ?, ?, ?)")
                .bind(id).bind(at).bind(actor).bind(w).bind(v).bind(o).bind(line)
                .execute(&pool).await.unwrap();
        }
        pool.close().await;
        let s = Store::open(&path).await.unwrap();
        let got = s.runs(&all()).await.unwrap();
        let want: Vec<ScorecardRun> = old
            .iter()
            .rev()
            .map(|(id, at, actor, w, v, o, line)| ScorecardRun {
                id: *id,
                at: at.to_string(),
                actor: actor.map(str::to_string),
                workflow_id: w.map(str::to_string),
                verdict: v.to_string(),
                override_id: o.map(str::to_string),
                log_line: serde_json::from_str(line).unwrap(),
            })
            .collect();
        assert_eq!(got, want);
        // New runs come after them.
        s.record_runs(&[run("2026-01-03T00:00:00.000Z", "wf-b", "demote")])
            .await
            .unwrap();
        let got = s.runs(&all()).await.unwrap();
        assert_eq!(got.len(), 3);
        assert!(got[0].id > 9 && got[0].workflow_id.as_deref() == Some("wf-b"));
        assert_eq!(
            s.runs(&RunQuery {
                workflow_id: Some("wf-a".into()),
                ..all()
            })
            .await
            .unwrap(),
            want[1..]
        );
    }
}
