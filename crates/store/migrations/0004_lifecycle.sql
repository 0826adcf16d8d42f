-- The lifecycle of a version (DESIGN §7, §11.8, §11.9): environments with
-- their settings, a state per (version, environment), the approvals people
-- signed, every rollout document the console signed (one row per serial),
-- the canary gate results and the incidents.

CREATE TABLE environments (
    name              TEXT PRIMARY KEY NOT NULL,
    quorum            INTEGER NOT NULL CHECK (quorum >= 1),
    canary            INTEGER NOT NULL CHECK (canary IN (0, 1)),
    bake_time_seconds INTEGER NOT NULL CHECK (bake_time_seconds >= 0),
    min_samples       INTEGER NOT NULL CHECK (min_samples >= 1),
    created_at        TEXT NOT NULL
);
INSERT INTO environments (name, quorum, canary, bake_time_seconds, min_samples, created_at) VALUES
    ('dev', 1, 0, 0, 100, '1970-01-01T00:00:00.000Z'),
    ('staging', 1, 1, 3600, 100, '1970-01-01T00:00:00.000Z'),
    ('prod', 2, 1, 86400, 100, '1970-01-01T00:00:00.000Z');

-- A submitted version's state in one environment; no row means `pending`.
CREATE TABLE deployments (
    version_id  INTEGER NOT NULL REFERENCES bundle_versions(id),
    environment TEXT NOT NULL REFERENCES environments(name),
    state       TEXT NOT NULL CHECK (state IN
                ('pending', 'approved', 'rejected', 'canary', 'active',
                 'superseded', 'rolled_back')),
    since       TEXT NOT NULL,
    PRIMARY KEY (version_id, environment)
);

-- One `approval.v1` envelope per approver, digest and environment: the
-- unique key is what refuses the same key approving twice, even when two
-- processes try at once.
CREATE TABLE approvals (
    id          INTEGER PRIMARY KEY,
    version_id  INTEGER NOT NULL REFERENCES bundle_versions(id),
    digest      TEXT NOT NULL,
    environment TEXT NOT NULL REFERENCES environments(name),
    decision    TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
    keyid       TEXT NOT NULL,
    approver    TEXT NOT NULL,
    comment     TEXT NOT NULL,
    issued_at   TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    envelope    TEXT NOT NULL,          -- the DSSE envelope, as signed
    source      TEXT NOT NULL CHECK (source IN ('local', 'review')),
    recorded_at TEXT NOT NULL,
    UNIQUE (digest, environment, keyid)
);
CREATE INDEX approvals_by_version ON approvals (version_id, environment);

-- Every rollout document of a (bundle, environment), one row per serial:
-- the newest row is the current state. Serials are never reused.
CREATE TABLE rollouts (
    bundle              TEXT NOT NULL,
    environment         TEXT NOT NULL REFERENCES environments(name),
    serial              INTEGER NOT NULL CHECK (serial >= 1),
    stable_id           INTEGER NOT NULL REFERENCES bundle_versions(id),
    stable_activated_at TEXT NOT NULL,
    canary_id           INTEGER REFERENCES bundle_versions(id),
    canary_percent      INTEGER CHECK (canary_percent BETWEEN 1 AND 99),
    canary_activated_at TEXT,
    step_started_at     TEXT,           -- when the canary's current step began
    envelope            TEXT NOT NULL,  -- the signed rollout.v1 document
    action              TEXT NOT NULL,  -- what made it: activate, promote, rollback…
    actor               TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    PRIMARY KEY (bundle, environment, serial),
    CHECK ((canary_id IS NULL) = (canary_percent IS NULL)),
    CHECK ((canary_id IS NULL) = (canary_activated_at IS NULL))
);

-- Canary gate evaluations (`promote`, `monitor`), newest last.
CREATE TABLE gate_checks (
    id          INTEGER PRIMARY KEY,
    bundle      TEXT NOT NULL,
    environment TEXT NOT NULL,
    serial      INTEGER NOT NULL,
    digest      TEXT NOT NULL,          -- the canary's
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    passed      INTEGER NOT NULL CHECK (passed IN (0, 1)),
    report      TEXT NOT NULL           -- JSON {passed, failures, gates}
);
CREATE INDEX gate_checks_by_rollout ON gate_checks (bundle, environment, id);

CREATE TABLE incidents (
    id          INTEGER PRIMARY KEY,
    bundle      TEXT NOT NULL,
    environment TEXT NOT NULL,
    version_id  INTEGER REFERENCES bundle_versions(id),
    severity    TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    title       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    opened_by   TEXT NOT NULL,
    opened_at   TEXT NOT NULL,
    resolved_by TEXT,
    resolved_at TEXT,
    resolution  TEXT
);
CREATE INDEX incidents_open ON incidents (resolved_at, id);
