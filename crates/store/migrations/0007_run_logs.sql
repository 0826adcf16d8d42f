-- Scorecard runs are recorded a block at a time (DESIGN §4: a batch of
-- scorecards gives "the same log"): one row holds the runs evaluated
-- together (up to 65,536), who ran them and when, each run's workflow,
-- verdict and override, and their decision-log lines, compressed. A batch
-- of 100,000 scorecards writes twenty rows and a few megabytes instead of
-- 100,000 rows and an index entry each (issue 25). Run `first_id + i` is
-- the i-th run of its block; ids keep rising from block to block.
CREATE TABLE scorecard_run_blocks (
    id       INTEGER PRIMARY KEY,
    first_id INTEGER NOT NULL UNIQUE,
    count    INTEGER NOT NULL CHECK (count BETWEEN 1 AND 65536),
    at       TEXT NOT NULL,
    actor    TEXT,
    -- 'lz4': each of `runs` and `lines` is an LZ4 block after its
    -- uncompressed length (u32, little endian); 'text': as written.
    encoding TEXT NOT NULL CHECK (encoding IN ('lz4', 'text')),
    -- A JSON list of `[workflow_id, verdict, override_id]`, a run each.
    runs     BLOB NOT NULL,
    -- The runs' decision-log lines, in order, each followed by a line
    -- break.
    lines    BLOB NOT NULL
);
CREATE INDEX scorecard_run_blocks_by_time ON scorecard_run_blocks (at, id);

-- Runs recorded before: a block each, with the run's id.
INSERT INTO scorecard_run_blocks (first_id, count, at, actor, encoding, runs, lines)
    SELECT id, 1, at, actor, 'text',
           CAST(json_array(json_array(workflow_id, verdict, override_id)) AS BLOB),
           CAST(log_line || char(10) AS BLOB)
    FROM scorecard_runs ORDER BY id;

DROP TABLE scorecard_runs;
