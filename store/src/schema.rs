//! Schema migrations for SQLite and PostgreSQL, and the schema version check.
//!
//! The version lives in the one-row table `hone_schema`. Each migration is a pair of SQL
//! scripts (SQLite, PostgreSQL) applied in one transaction together with the version bump, so
//! a store is always at exactly one version. Column types are spelled so that both databases
//! read them the same way: `BIGINT` ids and times (Unix milliseconds), `DOUBLE PRECISION`
//! scores and costs, `BOOLEAN` flags, and JSON as `TEXT`.

/// One schema step.
pub(crate) struct Migration {
    pub version: i64,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// The newest schema version this binary knows.
pub const SCHEMA_VERSION: i64 = 8;

/// Created before anything else, in both databases.
pub(crate) const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS hone_schema (\
    id INTEGER PRIMARY KEY CHECK (id = 1), \
    version BIGINT NOT NULL)";

const V1_TABLES: &str = r#"
CREATE TABLE runs (
    id {ID},
    task_name TEXT NOT NULL,
    task_dir TEXT NOT NULL,
    task_hash TEXT NOT NULL,
    kind TEXT NOT NULL,
    config TEXT NOT NULL,
    seed BIGINT NOT NULL,
    strategy TEXT NOT NULL,
    budget_evaluations BIGINT,
    budget_llm_calls BIGINT,
    budget_tokens BIGINT,
    budget_dollars DOUBLE PRECISION,
    budget_wall_seconds DOUBLE PRECISION,
    status TEXT NOT NULL,
    status_detail TEXT,
    started_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT,
    active_seconds DOUBLE PRECISION NOT NULL DEFAULT 0
);

CREATE TABLE llm_calls (
    id {ID},
    run_id BIGINT NOT NULL REFERENCES runs(id),
    node_id BIGINT,
    parent_node_id BIGINT,
    operator TEXT NOT NULL,
    model TEXT NOT NULL,
    system TEXT NOT NULL,
    prompt TEXT NOT NULL,
    reply TEXT,
    tokens_in BIGINT NOT NULL,
    tokens_out BIGINT NOT NULL,
    tokens_estimated BOOLEAN NOT NULL,
    cost_dollars DOUBLE PRECISION NOT NULL,
    latency_ms DOUBLE PRECISION NOT NULL,
    error TEXT,
    parse_error TEXT,
    replayed BOOLEAN NOT NULL,
    attempt BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX llm_calls_run ON llm_calls (run_id, id);
CREATE INDEX llm_calls_node ON llm_calls (node_id);
-- Covers the spend query, so counting a run's budgets never reads prompts and replies.
CREATE INDEX llm_calls_spend ON llm_calls (run_id, tokens_in, tokens_out, cost_dollars);

CREATE TABLE nodes (
    id {ID},
    run_id BIGINT NOT NULL REFERENCES runs(id),
    parent_id BIGINT REFERENCES nodes(id),
    operator TEXT NOT NULL,
    tree BIGINT,
    island BIGINT,
    depth BIGINT NOT NULL,
    files TEXT NOT NULL,
    param_values TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    duplicate_of BIGINT REFERENCES nodes(id),
    llm_call_id BIGINT REFERENCES llm_calls(id),
    lineage_commit TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX nodes_run ON nodes (run_id, id);
CREATE INDEX nodes_content_hash ON nodes (run_id, content_hash);
CREATE INDEX nodes_parent ON nodes (parent_id);
-- Covers the evaluation/duplicate counts, so they never read candidate files.
CREATE INDEX nodes_duplicates ON nodes (run_id, duplicate_of);

CREATE TABLE evaluations (
    node_id BIGINT PRIMARY KEY REFERENCES nodes(id),
    run_id BIGINT NOT NULL REFERENCES runs(id),
    status TEXT NOT NULL,
    valid BOOLEAN NOT NULL,
    score DOUBLE PRECISION,
    metrics TEXT NOT NULL,
    feedback TEXT NOT NULL,
    trace TEXT NOT NULL,
    fuel BIGINT,
    wall_ms DOUBLE PRECISION
);
CREATE INDEX evaluations_rank ON evaluations (run_id, valid, score);

CREATE TABLE final_evaluations (
    id {ID},
    run_id BIGINT NOT NULL REFERENCES runs(id),
    node_id BIGINT NOT NULL REFERENCES nodes(id),
    label TEXT NOT NULL,
    status TEXT NOT NULL,
    valid BOOLEAN NOT NULL,
    score DOUBLE PRECISION,
    metrics TEXT NOT NULL,
    feedback TEXT NOT NULL,
    trace TEXT NOT NULL,
    fuel BIGINT,
    wall_ms DOUBLE PRECISION,
    created_at BIGINT NOT NULL
);
CREATE INDEX final_evaluations_run ON final_evaluations (run_id, id);

CREATE TABLE events (
    id {ID},
    run_id BIGINT NOT NULL REFERENCES runs(id),
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX events_run ON events (run_id, id);
"#;

/// Version 2: the evaluation queue of `hone run --workers` and `hone worker`. Only
/// PostgreSQL uses it (claims need `FOR UPDATE SKIP LOCKED`), but the tables exist on SQLite
/// too so both schemas stay the same.
///
/// - `task_folders` / `task_files`: a task folder by its content hash (`hash_folder`), one
///   row per file; the folder row is written last in the same transaction, so its presence
///   means every file is there.
/// - `workers`: one row per `hone worker` process (host, pid, jobs done, last seen).
/// - `eval_jobs`: one evaluation of one candidate of one run. `status` is `pending`,
///   `leased`, `done`, `failed` or `cancelled`; `attempts` counts claims and is the lease
///   token a completion must present.
/// - `job_attempts`: one row per claim: who held the job, when, and how it ended.
const V2_TABLES: &str = r#"
CREATE TABLE task_folders (
    hash TEXT PRIMARY KEY,
    files BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE task_files (
    hash TEXT NOT NULL,
    path TEXT NOT NULL,
    content {BLOB} NOT NULL,
    PRIMARY KEY (hash, path)
);

CREATE TABLE workers (
    id {ID},
    host TEXT NOT NULL,
    pid BIGINT NOT NULL,
    status TEXT NOT NULL,
    current_job BIGINT,
    jobs_done BIGINT NOT NULL DEFAULT 0,
    started_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL
);

CREATE TABLE eval_jobs (
    id {ID},
    run_id BIGINT NOT NULL REFERENCES runs(id),
    task_hash TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    candidate TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    worker_id BIGINT REFERENCES workers(id),
    lease_expires_at BIGINT,
    result TEXT,
    error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX eval_jobs_queue ON eval_jobs (status, id);
CREATE INDEX eval_jobs_run ON eval_jobs (run_id, content_hash);

CREATE TABLE job_attempts (
    job_id BIGINT NOT NULL REFERENCES eval_jobs(id),
    attempt BIGINT NOT NULL,
    worker_id BIGINT NOT NULL REFERENCES workers(id),
    claimed_at BIGINT NOT NULL,
    finished_at BIGINT,
    outcome TEXT,
    PRIMARY KEY (job_id, attempt)
);
"#;

/// v3: drops two indexes no query reads (`nodes (parent_id)`, `llm_calls (node_id)`): each
/// cost a page write on every step's commits.
const V3_DROP_UNREAD_INDEXES: &str = "DROP INDEX IF EXISTS nodes_parent; \
    DROP INDEX IF EXISTS llm_calls_node;";

/// v4, SQLite only: `evaluations.node_id` becomes `INTEGER PRIMARY KEY`, the table's rowid.
/// As `BIGINT PRIMARY KEY` SQLite kept it as a separate index beside the rowid: one more page
/// written by every node's commit. The table is rebuilt (SQLite cannot change a primary key
/// in place); PostgreSQL's `BIGINT PRIMARY KEY` is already the table's key and stays.
const V4_SQLITE_EVALUATIONS_KEYED_BY_NODE: &str = r#"
CREATE TABLE evaluations_v4 (
    node_id INTEGER PRIMARY KEY REFERENCES nodes(id),
    run_id BIGINT NOT NULL REFERENCES runs(id),
    status TEXT NOT NULL,
    valid BOOLEAN NOT NULL,
    score DOUBLE PRECISION,
    metrics TEXT NOT NULL,
    feedback TEXT NOT NULL,
    trace TEXT NOT NULL,
    fuel BIGINT,
    wall_ms DOUBLE PRECISION
);
INSERT INTO evaluations_v4 (node_id, run_id, status, valid, score, metrics, feedback, trace,
    fuel, wall_ms)
    SELECT node_id, run_id, status, valid, score, metrics, feedback, trace, fuel, wall_ms
    FROM evaluations ORDER BY node_id;
DROP TABLE evaluations;
ALTER TABLE evaluations_v4 RENAME TO evaluations;
CREATE INDEX evaluations_rank ON evaluations (run_id, valid, score);
"#;

/// v5: a node's private evaluation (its score on held-out cases, which the run reports and
/// ranks by) in `private_evaluations`, one row per node, keyed by the node (SQLite's rowid).
/// Only the numbers are kept: no metrics, feedback or trace, so nothing of the held-out
/// cases can reach a prompt or an export through the store. `held_out` is false when the
/// task has no held-out cases and the row repeats the public result. The rows of
/// `final_evaluations` (the best node's held-out re-check, the latest per node) move here,
/// and that table is dropped.
const V5_PRIVATE_EVALUATIONS: &str = r#"
CREATE TABLE private_evaluations (
    node_id {KEY} REFERENCES nodes(id),
    run_id BIGINT NOT NULL REFERENCES runs(id),
    held_out BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    valid BOOLEAN NOT NULL,
    score DOUBLE PRECISION,
    fuel BIGINT,
    wall_ms DOUBLE PRECISION,
    created_at BIGINT NOT NULL
);
CREATE INDEX private_evaluations_run ON private_evaluations (run_id);
INSERT INTO private_evaluations (node_id, run_id, held_out, status, valid, score, fuel,
    wall_ms, created_at)
    SELECT f.node_id, f.run_id, TRUE, f.status, f.valid, f.score, f.fuel, f.wall_ms,
        f.created_at
    FROM final_evaluations f
    WHERE f.id = (SELECT MAX(g.id) FROM final_evaluations g WHERE g.node_id = f.node_id)
    ORDER BY f.node_id;
DROP TABLE final_evaluations;
"#;

/// v6: run ownership and job passing.
///
/// - `run_leases`: the one process driving a run (`hone run`, `hone resume`, a bench row):
///   its host, pid and random token, when it took the run, its last heartbeat, and how long
///   after that heartbeat the lease counts as abandoned. No row: nobody drives the run.
/// - `job_attempts.detail`: why a worker passed a job back to the queue (the task does not
///   load there); such an attempt's outcome is `passed`.
const V6_RUN_LEASES_AND_JOB_PASSES: &str = r#"
CREATE TABLE run_leases (
    run_id BIGINT PRIMARY KEY REFERENCES runs(id),
    host TEXT NOT NULL,
    pid BIGINT NOT NULL,
    token TEXT NOT NULL,
    acquired_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    stale_after_ms BIGINT NOT NULL
);
ALTER TABLE job_attempts ADD COLUMN detail TEXT;
"#;

/// v7: `eval_jobs.kind`: `public` (the evaluation the search sees) or `private` (the
/// held-out one, whose result holds only its numbers).
const V7_JOB_KINDS: &str = "ALTER TABLE eval_jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'public';";

/// v8: `embeddings`, one vector per (model, content hash): a candidate's code embedded by a
/// model (`--novelty` with `--embeddings-model`), stored once for every node of that content
/// in any run, so the same code is never embedded twice. `vector` holds `dimensions`
/// little-endian `f32`s.
const V8_EMBEDDINGS: &str = r#"
CREATE TABLE embeddings (
    model TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    dimensions BIGINT NOT NULL,
    vector {BLOB} NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (model, content_hash)
);
"#;

/// All migrations, oldest first. Versions are consecutive from 1.
pub(crate) fn migrations() -> Vec<Migration> {
    vec![
        Migration {
            version: 1,
            sqlite: SQLITE_V1.get_or_init(|| V1_TABLES.replace("{ID}", "INTEGER PRIMARY KEY")),
            postgres: POSTGRES_V1
                .get_or_init(|| V1_TABLES.replace("{ID}", "BIGSERIAL PRIMARY KEY")),
        },
        Migration {
            version: 2,
            sqlite: SQLITE_V2.get_or_init(|| {
                V2_TABLES
                    .replace("{ID}", "INTEGER PRIMARY KEY")
                    .replace("{BLOB}", "BLOB")
            }),
            postgres: POSTGRES_V2.get_or_init(|| {
                V2_TABLES
                    .replace("{ID}", "BIGSERIAL PRIMARY KEY")
                    .replace("{BLOB}", "BYTEA")
            }),
        },
        Migration {
            version: 3,
            sqlite: V3_DROP_UNREAD_INDEXES,
            postgres: V3_DROP_UNREAD_INDEXES,
        },
        Migration {
            version: 4,
            sqlite: V4_SQLITE_EVALUATIONS_KEYED_BY_NODE,
            postgres: "",
        },
        Migration {
            version: 5,
            sqlite: SQLITE_V5
                .get_or_init(|| V5_PRIVATE_EVALUATIONS.replace("{KEY}", "INTEGER PRIMARY KEY")),
            postgres: POSTGRES_V5
                .get_or_init(|| V5_PRIVATE_EVALUATIONS.replace("{KEY}", "BIGINT PRIMARY KEY")),
        },
        Migration {
            version: 6,
            sqlite: V6_RUN_LEASES_AND_JOB_PASSES,
            postgres: V6_RUN_LEASES_AND_JOB_PASSES,
        },
        Migration {
            version: 7,
            sqlite: V7_JOB_KINDS,
            postgres: V7_JOB_KINDS,
        },
        Migration {
            version: 8,
            sqlite: SQLITE_V8.get_or_init(|| V8_EMBEDDINGS.replace("{BLOB}", "BLOB")),
            postgres: POSTGRES_V8.get_or_init(|| V8_EMBEDDINGS.replace("{BLOB}", "BYTEA")),
        },
    ]
}

static SQLITE_V1: std::sync::OnceLock<String> = std::sync::OnceLock::new();
static POSTGRES_V1: std::sync::OnceLock<String> = std::sync::OnceLock::new();
static SQLITE_V2: std::sync::OnceLock<String> = std::sync::OnceLock::new();
static POSTGRES_V2: std::sync::OnceLock<String> = std::sync::OnceLock::new();
static SQLITE_V5: std::sync::OnceLock<String> = std::sync::OnceLock::new();
static POSTGRES_V5: std::sync::OnceLock<String> = std::sync::OnceLock::new();
static SQLITE_V8: std::sync::OnceLock<String> = std::sync::OnceLock::new();
static POSTGRES_V8: std::sync::OnceLock<String> = std::sync::OnceLock::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_consecutive_and_end_at_the_current_version() {
        let all = migrations();
        for (i, m) in all.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1);
            assert!(!m.sqlite.contains("{ID}"));
            assert!(!m.postgres.contains("{ID}"));
            assert!(!m.sqlite.contains("{BLOB}"));
            assert!(!m.postgres.contains("{BLOB}"));
            assert!(!m.sqlite.contains("{KEY}"));
            assert!(!m.postgres.contains("{KEY}"));
        }
        assert_eq!(all.last().map(|m| m.version), Some(SCHEMA_VERSION));
    }
}
