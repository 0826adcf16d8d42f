-- Bundle versions (DESIGN §7, §9): each as its author wrote it, with the
-- digest of §11.3, who made it, where it came from, and its status.
CREATE TABLE bundle_versions (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    digest      TEXT NOT NULL,
    document    TEXT NOT NULL,          -- the file's text as written
    format      TEXT NOT NULL CHECK (format IN ('yaml', 'json')),
    author      TEXT NOT NULL,          -- identity name
    created_at  TEXT NOT NULL,          -- RFC 3339 UTC, milliseconds
    status      TEXT NOT NULL DEFAULT 'draft' CHECK (status IN
                ('draft', 'submitted', 'approved', 'rejected', 'active',
                 'superseded', 'rolled_back')),
    source      TEXT NOT NULL CHECK (source IN ('file', 'import', 'example')),
    provenance  TEXT NOT NULL DEFAULT '{}', -- JSON: {file} or {format, signers, signed_at}
    notes       TEXT NOT NULL DEFAULT '',
    UNIQUE (name, version)
);
CREATE INDEX bundle_versions_by_digest ON bundle_versions (digest);
CREATE INDEX bundle_versions_by_time ON bundle_versions (created_at, id);

-- The hash-chained audit log (§9, §11.13). Append-only: rows are never
-- updated or deleted by Gavel; `details` is the RFC 8785 form.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,    -- from 1, no gaps
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    details     TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_log_by_subject ON audit_log (subject, seq);

-- Scorecard evaluations and override uses, each with its decision-log line,
-- so the console can list and filter them.
CREATE TABLE scorecard_runs (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT,
    workflow_id TEXT,
    verdict     TEXT NOT NULL,
    override_id TEXT,                   -- an override used by this run
    log_line    TEXT NOT NULL           -- the decision-log record (JSON)
);
CREATE INDEX scorecard_runs_by_time ON scorecard_runs (at, id);
CREATE INDEX scorecard_runs_by_workflow ON scorecard_runs (workflow_id, id);
