//! Scorecard runs recorded in the store (issue 19): each evaluation with
//! its decision-log line, listed and filtered for the console. Recording
//! goes in batches (one transaction each, no audit entry per run); the use
//! of an override is recorded with its run and audited, in the transaction
//! that consumes it ([`Console::use_override_for_run`]).

use gavel_governance::Verdict;
use gavel_store::{NewRun, RunBatch, RunQuery, ScorecardRun};

use crate::{Console, ConsoleError};

/// Runs listed when no `limit` is given.
pub const DEFAULT_RUNS_LIMIT: i64 = 100;
/// The most runs one list returns.
pub const MAX_RUNS_LIMIT: i64 = 10_000;

/// Which runs to list, as the user gives it: times are RFC 3339
/// (`2026-11-23T15:04:05Z`) or a date (`2026-11-23`, midnight UTC);
/// `since` inclusive, `until` exclusive.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub workflow_id: Option<String>,
    pub verdict: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// How a run's `at` is written: RFC 3339 UTC with milliseconds, as the
/// audit log writes it (the text orders as the time does).
pub fn run_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn parse_time(flag: &str, text: &str) -> Result<String, ConsoleError> {
    let t = text.trim();
    let parsed = t.parse::<jiff::Timestamp>().ok().or_else(|| {
        t.parse::<jiff::civil::Date>().ok().and_then(|d| {
            jiff::tz::TimeZone::UTC
                .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                .ok()
        })
    });
    parsed.map(run_time).ok_or_else(|| {
        ConsoleError::Invalid(format!(
            "`{text}` is not a time ({flag}); use RFC 3339 (`2026-11-23T15:04:05Z`) or a date (`2026-11-23`)"
        ))
    })
}

impl RunFilter {
    fn query(&self) -> Result<RunQuery, ConsoleError> {
        if let Some(v) = self
            .verdict
            .as_deref()
            .filter(|v| Verdict::parse(v).is_none())
        {
            return Err(ConsoleError::Invalid(format!(
                "`{v}` is not a verdict (--verdict); use promote, demote, pilot, no_go or borderline"
            )));
        }
        let limit = self.limit.unwrap_or(DEFAULT_RUNS_LIMIT);
        if !(1..=MAX_RUNS_LIMIT).contains(&limit) {
            return Err(ConsoleError::Invalid(format!(
                "--limit `{limit}` is out of range; use 1 to {MAX_RUNS_LIMIT}"
            )));
        }
        let offset = self.offset.unwrap_or(0);
        if offset < 0 {
            return Err(ConsoleError::Invalid(format!(
                "--offset `{offset}` is negative"
            )));
        }
        Ok(RunQuery {
            workflow_id: self.workflow_id.clone(),
            verdict: self.verdict.clone(),
            since: self
                .since
                .as_deref()
                .map(|t| parse_time("--since", t))
                .transpose()?,
            until: self
                .until
                .as_deref()
                .map(|t| parse_time("--until", t))
                .transpose()?,
            limit,
            offset,
        })
    }
}

impl Console {
    /// Records runs that used no override, in one transaction.
    pub async fn record_runs(&self, runs: &[NewRun]) -> Result<(), ConsoleError> {
        Ok(self.store.record_runs(runs).await?)
    }

    /// Records a batch of runs that used no override, in one transaction.
    pub async fn record_batch(&self, batch: &RunBatch) -> Result<(), ConsoleError> {
        Ok(self.store.record_batch(batch).await?)
    }

    /// Records one run that used no override.
    pub async fn record_run(&self, run: &NewRun) -> Result<(), ConsoleError> {
        self.record_runs(std::slice::from_ref(run)).await
    }

    /// Who runs scorecards, for the record: `requested` (a name or key id,
    /// which must be an identity here), else the store's only identity,
    /// else nobody (evaluating needs no identity, DESIGN §11.12).
    pub async fn run_actor(&self, requested: Option<&str>) -> Result<Option<String>, ConsoleError> {
        match requested.filter(|r| !r.trim().is_empty()) {
            Some(_) => Ok(Some(self.acting_identity(requested).await?.name)),
            None => Ok(self.acting_identity(None).await.ok().map(|i| i.name)),
        }
    }

    /// Recorded runs matching `filter`, newest first.
    pub async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<ScorecardRun>, ConsoleError> {
        Ok(self.store.runs(&filter.query()?).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_filters_are_checked_and_times_read_as_utc() {
        let q = RunFilter {
            since: Some("2026-11-23".into()),
            until: Some("2026-11-23T16:04:05+01:00".into()),
            verdict: Some("no_go".into()),
            ..Default::default()
        }
        .query()
        .unwrap();
        assert_eq!(q.since.as_deref(), Some("2026-11-23T00:00:00.000Z"));
        assert_eq!(q.until.as_deref(), Some("2026-11-23T15:04:05.000Z"));
        assert_eq!((q.limit, q.offset), (DEFAULT_RUNS_LIMIT, 0));
        for (bad, says) in [
            (
                RunFilter {
                    verdict: Some("maybe".into()),
                    ..Default::default()
                },
                "not a verdict",
            ),
            (
                RunFilter {
                    since: Some("yesterday".into()),
                    ..Default::default()
                },
                "--since",
            ),
            (
                RunFilter {
                    limit: Some(0),
                    ..Default::default()
                },
                "--limit",
            ),
            (
                RunFilter {
                    limit: Some(MAX_RUNS_LIMIT + 1),
                    ..Default::default()
                },
                "--limit",
            ),
            (
                RunFilter {
                    offset: Some(-1),
                    ..Default::default()
                },
                "--offset",
            ),
        ] {
            let e = bad.query().unwrap_err();
            assert!(
                matches!(e, ConsoleError::Invalid(_)) && e.to_string().contains(says),
                "{e}"
            );
        }
    }
}
