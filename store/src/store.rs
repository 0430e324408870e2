//! The [`Store`] handle: opening SQLite or PostgreSQL, running migrations, and shared plumbing.

mod calls;
mod checkpoint;
mod embeddings;
pub(crate) mod leases;
mod nodes;
pub use nodes::TreeColumns;
pub(crate) mod queue;
pub(crate) mod runs;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{PgPool, Row, SqlitePool};

use crate::RunId;
use crate::error::{Error, Result};
use crate::lineage::Lineage;
use crate::schema::{self, SCHEMA_VERSION};

/// Where the lineage repository lives.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LineageLocation {
    /// `lineage.git` beside the SQLite file; no lineage for PostgreSQL.
    #[default]
    BesideDatabase,
    /// A bare repository at this path (created on first commit).
    At(PathBuf),
    /// No lineage repository: [`Store::record_lineage`] does nothing.
    Disabled,
}

/// How hard SQLite works to keep an acknowledged write. In WAL mode both keep the database
/// consistent and both keep every commit through a killed process; they differ only on a
/// power loss or an OS crash. Select with `sqlite://PATH?synchronous=full`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: a commit also survives a power loss (an fsync per commit).
    Full,
    /// `synchronous=NORMAL` (the default): a commit survives a killed process; a power loss
    /// may lose the last few commits, never the database's consistency. Half the cost of a
    /// one-node transaction.
    #[default]
    Normal,
}

/// How to open a store. Build with [`StoreConfig::new`] and adjust the public fields.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// A SQLite path, `sqlite://PATH`, `sqlite:PATH`, or `postgres://...`/`postgresql://...`.
    pub url: String,
    pub lineage: LineageLocation,
    /// Open for reading only (`hone status`): writes fail with [`Error::ReadOnly`] and no
    /// migration is attempted.
    pub read_only: bool,
    /// Create the SQLite file (not its directory) if it does not exist. Ignored when read-only.
    pub create_if_missing: bool,
    /// How long a SQLite writer waits for another writer's lock.
    pub busy_timeout: Duration,
    pub durability: Durability,
    pub max_connections: u32,
    /// How long to wait for a PostgreSQL connection.
    pub connect_timeout: Duration,
}

impl StoreConfig {
    /// Defaults: lineage beside the database, read-write, create if missing, 10 s busy timeout,
    /// [`Durability::Normal`] (or what the URL's `?synchronous=` says), 4 connections.
    pub fn new(url: impl Into<String>) -> StoreConfig {
        StoreConfig {
            url: url.into(),
            lineage: LineageLocation::BesideDatabase,
            read_only: false,
            create_if_missing: true,
            busy_timeout: Duration::from_secs(10),
            durability: Durability::default(),
            max_connections: 4,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// The database behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

pub(crate) struct Inner {
    pub(crate) db: Db,
    /// SQLite file stores open for writing: the connection a step's writes take.
    pub(crate) writer: Option<writer::Writer>,
    /// The store's name in messages: the SQLite path or the URL without its password.
    pub(crate) name: String,
    pub(crate) lineage: Option<Arc<Lineage>>,
    pub(crate) read_only: bool,
}

/// The WAL size (4 KiB pages) at which a commit checkpoints by itself (SQLite's default is
/// 1,000): only a safety net, since the background checkpointer keeps the WAL well below.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 16_384;

/// A handle to one store: cheap to clone, safe to share between tasks.
///
/// All methods are async (tokio). Writes are transactions: when a method returns `Ok`, the
/// data is committed and survives a kill of the process.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("name", &self.inner.name)
            .field("backend", &self.backend())
            .finish()
    }
}

/// Runs `$body` with `$pool` bound to the SQLite or the PostgreSQL pool. The body is
/// type-checked once per backend, so it can use backend-specific types without generics.
macro_rules! on_db {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.inner.db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_db;

/// Begins a write transaction. SQLite takes the write lock up front (`BEGIN IMMEDIATE`) so a
/// transaction that reads before it writes never fails with a stale snapshot.
pub(crate) trait BeginWrite {
    type Database: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>> + Send;
}

impl BeginWrite for SqlitePool {
    type Database = sqlx::Sqlite;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error>> + Send
    {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl BeginWrite for PgPool {
    type Database = sqlx::Postgres;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error>> + Send
    {
        self.begin()
    }
}

/// Typed column access shared by both row types.
pub(crate) trait RowExt {
    fn i64(&self, column: &str) -> Result<i64, sqlx::Error>;
    fn opt_i64(&self, column: &str) -> Result<Option<i64>, sqlx::Error>;
    fn f64(&self, column: &str) -> Result<f64, sqlx::Error>;
    fn opt_f64(&self, column: &str) -> Result<Option<f64>, sqlx::Error>;
    fn string(&self, column: &str) -> Result<String, sqlx::Error>;
    fn opt_string(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
    fn bool(&self, column: &str) -> Result<bool, sqlx::Error>;
}

impl RowExt for SqliteRow {
    fn i64(&self, column: &str) -> Result<i64, sqlx::Error> {
        self.try_get(column)
    }
    fn opt_i64(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(column)
    }
    // SQLite converts integers to doubles itself; an aggregate over a REAL column can come
    // back as an INTEGER value.
    fn f64(&self, column: &str) -> Result<f64, sqlx::Error> {
        self.try_get_unchecked(column)
    }
    fn opt_f64(&self, column: &str) -> Result<Option<f64>, sqlx::Error> {
        self.try_get_unchecked(column)
    }
    fn string(&self, column: &str) -> Result<String, sqlx::Error> {
        self.try_get(column)
    }
    fn opt_string(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        self.try_get(column)
    }
    fn bool(&self, column: &str) -> Result<bool, sqlx::Error> {
        self.try_get(column)
    }
}

impl RowExt for PgRow {
    fn i64(&self, column: &str) -> Result<i64, sqlx::Error> {
        self.try_get(column)
    }
    fn opt_i64(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(column)
    }
    fn f64(&self, column: &str) -> Result<f64, sqlx::Error> {
        self.try_get(column)
    }
    fn opt_f64(&self, column: &str) -> Result<Option<f64>, sqlx::Error> {
        self.try_get(column)
    }
    fn string(&self, column: &str) -> Result<String, sqlx::Error> {
        self.try_get(column)
    }
    fn opt_string(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        self.try_get(column)
    }
    fn bool(&self, column: &str) -> Result<bool, sqlx::Error> {
        self.try_get(column)
    }
}

/// Why a row could not be turned into a record.
pub(crate) enum RowError {
    Sql(sqlx::Error),
    Json(serde_json::Error),
    /// A column holds a name this version does not know.
    UnknownValue {
        column: &'static str,
        value: String,
    },
}

impl From<sqlx::Error> for RowError {
    fn from(e: sqlx::Error) -> Self {
        RowError::Sql(e)
    }
}

impl From<serde_json::Error> for RowError {
    fn from(e: serde_json::Error) -> Self {
        RowError::Json(e)
    }
}

enum Location {
    /// The path, and the durability the URL asks for.
    Sqlite(PathBuf, Option<Durability>),
    Postgres(String),
}

/// The options after `?` in a SQLite URL.
fn sqlite_options(url: &str, query: Option<&str>) -> Result<Option<Durability>> {
    let mut durability = None;
    for option in query
        .unwrap_or_default()
        .split('&')
        .filter(|o| !o.is_empty())
    {
        durability = Some(match option.to_ascii_lowercase().as_str() {
            "synchronous=normal" => Durability::Normal,
            "synchronous=full" => Durability::Full,
            _ => {
                return Err(Error::UnknownOption {
                    store: url.to_string(),
                    option: option.to_string(),
                });
            }
        });
    }
    Ok(durability)
}

fn parse_location(url: &str) -> Result<Location> {
    let trimmed = url.trim();
    if let Some(rest) = trimmed
        .strip_prefix("sqlite://")
        .or_else(|| trimmed.strip_prefix("sqlite:"))
    {
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        let durability = sqlite_options(trimmed, query)?;
        return Ok(Location::Sqlite(PathBuf::from(path), durability));
    }
    if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
        return Ok(Location::Postgres(trimmed.to_string()));
    }
    if let Some((scheme, _)) = trimmed.split_once("://") {
        return Err(Error::UnknownScheme {
            store: redact(trimmed),
            scheme: scheme.to_string(),
        });
    }
    Ok(Location::Sqlite(PathBuf::from(trimmed), None))
}

/// The URL with any password replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

impl Store {
    /// Opens (creating and migrating if needed) the store at `url` with default settings.
    pub async fn open(url: &str) -> Result<Store> {
        Store::open_with(StoreConfig::new(url)).await
    }

    /// Opens `WORK_DIR/.hone/hone.db`, creating `.hone/` if needed; lineage in
    /// `WORK_DIR/.hone/lineage.git`.
    pub async fn open_default(work_dir: impl AsRef<Path>) -> Result<Store> {
        let dir = work_dir.as_ref().join(".hone");
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            context: "cannot create the store directory",
            source,
        })?;
        Store::open_with(StoreConfig::new(dir.join("hone.db").to_string_lossy())).await
    }

    /// Opens a store with explicit settings.
    pub async fn open_with(config: StoreConfig) -> Result<Store> {
        let location = parse_location(&config.url)?;
        let (db, name, beside, writer) = match location {
            Location::Sqlite(path, durability) => {
                let name = path.display().to_string();
                let mut config = config.clone();
                if let Some(durability) = durability {
                    config.durability = durability;
                }
                let (pool, options) = open_sqlite(&path, &config, &name).await?;
                let beside = if is_memory(&path) {
                    None
                } else {
                    Some(
                        path.parent()
                            .map(|p| p.join("lineage.git"))
                            .unwrap_or_else(|| PathBuf::from("lineage.git")),
                    )
                };
                let writer = match options {
                    Some(options) if !config.read_only => {
                        Some(writer::Writer::connect(&options).await.map_err(|source| {
                            Error::Unreachable {
                                store: name.clone(),
                                hint: "the database opened, but its write connection did not"
                                    .into(),
                                source,
                            }
                        })?)
                    }
                    _ => None,
                };
                (Db::Sqlite(pool), name, beside, writer)
            }
            Location::Postgres(url) => {
                let name = redact(&url);
                let unreachable = |source| Error::Unreachable {
                    store: name.clone(),
                    hint: "check that the PostgreSQL server is running, and the host, port, \
                           user and database in the URL"
                        .into(),
                    source,
                };
                let options = url
                    .parse::<sqlx::postgres::PgConnectOptions>()
                    .map_err(unreachable)?;
                let pool = PgPoolOptions::new()
                    .max_connections(config.max_connections.max(1))
                    .acquire_timeout(config.connect_timeout)
                    .connect_with(statement_logging(options))
                    .await
                    .map_err(unreachable)?;
                (Db::Postgres(pool), name, None, None)
            }
        };
        let lineage = match &config.lineage {
            LineageLocation::BesideDatabase => beside,
            LineageLocation::At(path) => Some(path.clone()),
            LineageLocation::Disabled => None,
        }
        .map(|path| Arc::new(Lineage::new(path, config.read_only)));
        let store = Store {
            inner: Arc::new(Inner {
                db,
                writer,
                name,
                lineage,
                read_only: config.read_only,
            }),
        };
        store.migrate().await?;
        if store.inner.writer.is_some() {
            checkpoint::start(Arc::downgrade(&store.inner));
        }
        Ok(store)
    }

    /// The store's name in messages (SQLite path, or URL without password).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Which database this store uses.
    pub fn backend(&self) -> Backend {
        match self.inner.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// The lineage repository's path, if lineage is enabled.
    pub fn lineage_path(&self) -> Option<&Path> {
        self.inner.lineage.as_deref().map(Lineage::path)
    }

    /// Closes the connections (waits for in-flight queries). Other clones become unusable.
    pub async fn close(&self) {
        if let Some(writer) = &self.inner.writer {
            writer.close().await;
        }
        on_db!(self, pool => pool.close().await)
    }

    /// The schema version recorded in the store.
    pub async fn schema_version(&self) -> Result<i64> {
        let version: Option<i64> = on_db!(self, pool => {
            sqlx::query_scalar("SELECT version FROM hone_schema WHERE id = 1")
                .fetch_optional(pool)
                .await
        })
        .map_err(self.db_err("read the schema version", None))?;
        Ok(version.unwrap_or(0))
    }

    async fn migrate(&self) -> Result<()> {
        let found = self.read_version_for_open().await?;
        if found > SCHEMA_VERSION {
            return Err(Error::SchemaTooNew {
                store: self.inner.name.clone(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        if self.inner.read_only {
            return Err(Error::ReadOnly {
                store: self.inner.name.clone(),
                context: format!(
                    "its schema is at version {found} and needs migrating to {SCHEMA_VERSION}, which a read-only open cannot do"
                ),
            });
        }
        let name = self.inner.name.clone();
        for migration in schema::migrations() {
            let version = migration.version;
            let fail = |source: sqlx::Error| {
                classify(&name, None, source, |source| Error::Migration {
                    store: name.clone(),
                    version,
                    source,
                })
            };
            // Each step re-reads the version under the write lock, so concurrent openers
            // apply each migration exactly once.
            on_db!(self, pool => {
                let mut tx = pool.begin_write().await.map_err(fail)?;
                if matches!(self.inner.db, Db::Postgres(_)) {
                    sqlx::query("SELECT pg_advisory_xact_lock(7415551)")
                        .execute(&mut *tx)
                        .await
                        .map_err(fail)?;
                }
                sqlx::raw_sql(schema::VERSION_TABLE).execute(&mut *tx).await.map_err(fail)?;
                let current: Option<i64> =
                    sqlx::query_scalar("SELECT version FROM hone_schema WHERE id = 1")
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(fail)?;
                let current = current.unwrap_or(0);
                if current > SCHEMA_VERSION {
                    return Err(Error::SchemaTooNew {
                        store: name.clone(),
                        found: current,
                        supported: SCHEMA_VERSION,
                    });
                }
                if current < version {
                    let script = match self.inner.db {
                        Db::Sqlite(_) => migration.sqlite,
                        Db::Postgres(_) => migration.postgres,
                    };
                    if !script.is_empty() {
                        sqlx::raw_sql(script).execute(&mut *tx).await.map_err(fail)?;
                    }
                    sqlx::query(
                        "INSERT INTO hone_schema (id, version) VALUES (1, $1) \
                         ON CONFLICT (id) DO UPDATE SET version = excluded.version",
                    )
                    .bind(version)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
                }
                tx.commit().await.map_err(fail)?;
            });
            tracing::debug!(store = %name, version, "schema migrated");
        }
        Ok(())
    }

    /// Reads the schema version without writing: 0 for an empty database.
    async fn read_version_for_open(&self) -> Result<i64> {
        let exists_sql = match self.inner.db {
            Db::Sqlite(_) => {
                "SELECT CAST(COUNT(*) AS BIGINT) FROM sqlite_master WHERE type = 'table' AND name = 'hone_schema'"
            }
            Db::Postgres(_) => {
                "SELECT CAST(COUNT(*) AS BIGINT) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'hone_schema'"
            }
        };
        let exists: i64 = on_db!(self, pool => {
            sqlx::query_scalar(exists_sql).fetch_one(pool).await
        })
        .map_err(|source| {
            let hint = match self.inner.db {
                Db::Sqlite(_) => "check that the file is a SQLite database and readable",
                Db::Postgres(_) => "check that the user may read the database",
            };
            Error::Unreachable {
                store: self.inner.name.clone(),
                hint: hint.into(),
                source,
            }
        })?;
        if exists == 0 {
            return Ok(0);
        }
        self.schema_version().await
    }

    /// Maps a sqlx error to the store's error, recognising read-only refusals.
    pub(crate) fn db_err(
        &self,
        context: &'static str,
        run: Option<RunId>,
    ) -> impl Fn(sqlx::Error) -> Error + '_ {
        move |source| {
            classify(&self.inner.name, run, source, |source| Error::Database {
                store: self.inner.name.clone(),
                run,
                context,
                source,
            })
        }
    }

    /// Maps a row decoding error.
    pub(crate) fn row_err(
        &self,
        context: &'static str,
        run: Option<RunId>,
    ) -> impl Fn(RowError) -> Error + '_ {
        move |e| match e {
            RowError::Sql(source) => Error::Database {
                store: self.inner.name.clone(),
                run,
                context,
                source,
            },
            RowError::Json(source) => Error::Json {
                store: self.inner.name.clone(),
                run,
                context,
                source,
            },
            RowError::UnknownValue { column, value } => Error::UnknownValue {
                store: self.inner.name.clone(),
                run,
                context,
                column,
                value,
            },
        }
    }

    pub(crate) fn json_err(
        &self,
        context: &'static str,
        run: Option<RunId>,
    ) -> impl Fn(serde_json::Error) -> Error + '_ {
        move |source| Error::Json {
            store: self.inner.name.clone(),
            run,
            context,
            source,
        }
    }
}

/// Turns read-only refusals into [`Error::ReadOnly`]; everything else goes through `other`.
fn classify(
    name: &str,
    _run: Option<RunId>,
    source: sqlx::Error,
    other: impl FnOnce(sqlx::Error) -> Error,
) -> Error {
    if let Some(db) = source.as_database_error() {
        let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
        let sqlite_read_only = code.parse::<i64>().map(|c| c & 0xff == 8).unwrap_or(false);
        // 25006: read_only_sql_transaction; 42501: insufficient_privilege.
        let postgres_read_only = code == "25006" || code == "42501";
        if sqlite_read_only || postgres_read_only {
            return Error::ReadOnly {
                store: name.to_string(),
                context: db.message().to_string(),
            };
        }
    }
    other(source)
}

/// sqlx logs every statement at debug (kept) and one slower than a second as a warning:
/// under load a statement waiting for SQLite's write lock is a busy machine, not something
/// to print in the middle of a run (or before a command's error), so those go to info.
fn statement_logging<O: sqlx::ConnectOptions>(options: O) -> O {
    options
        .log_statements(log::LevelFilter::Debug)
        .log_slow_statements(log::LevelFilter::Info, Duration::from_secs(1))
}

/// The pool, and the options its connections were opened with, to open the writer alike
/// (`None` for an in-memory database, whose data lives in its one pooled connection).
async fn open_sqlite(
    path: &Path,
    config: &StoreConfig,
    name: &str,
) -> Result<(SqlitePool, Option<SqliteConnectOptions>)> {
    let mut options = statement_logging(SqliteConnectOptions::new())
        .filename(path)
        .read_only(config.read_only)
        .create_if_missing(config.create_if_missing && !config.read_only)
        .busy_timeout(config.busy_timeout)
        .foreign_keys(true)
        // Let the SQLite worker thread run ahead of the reader: loading a large tree is
        // dominated by per-row hand-offs otherwise.
        .row_buffer_size(4096)
        // A bigger page cache keeps a resume load and status queries off the disk.
        .pragma("cache_size", "-65536")
        // Read pages through a memory map rather than a read call and a copy each.
        .pragma("mmap_size", "1073741824");
    if !config.read_only {
        options = options
            // Checkpoints are the background checkpointer's job (see `checkpoint`); a
            // commit only checkpoints when the WAL outgrows this many pages, if that
            // task is not keeping up or not running.
            .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string())
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match config.durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Normal => SqliteSynchronous::Normal,
            });
    }
    let directory = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // An in-memory database lives as long as its one connection: keep exactly one, forever.
    let memory = is_memory(path);
    let pool_options = if memory {
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        SqlitePoolOptions::new()
            .max_connections(config.max_connections.max(1))
            // A local file does not go stale: skip the ping round trip on every acquire.
            .test_before_acquire(false)
    };
    let pool = pool_options
        .acquire_timeout(config.busy_timeout.max(Duration::from_secs(1)))
        .connect_with(options.clone())
        .await
        .map_err(|source| {
            classify(name, None, source, |source| {
                let hint = if !directory.is_dir() {
                    format!(
                        "the directory `{}` does not exist; create it or choose another --store",
                        directory.display()
                    )
                } else if !path.exists() {
                    "the database file does not exist (it is only created when opened for writing)"
                        .to_string()
                } else {
                    format!(
                        "check that `{}` is a SQLite database and that its directory is writable",
                        path.display()
                    )
                };
                Error::Unreachable {
                    store: name.to_string(),
                    hint,
                    source,
                }
            })
        })?;
    Ok((pool, (!memory).then_some(options)))
}

/// `:memory:` (from `sqlite::memory:` or the bare path): a private in-memory database, for
/// tests. It has one connection, so concurrent operations wait for each other.
fn is_memory(path: &Path) -> bool {
    path.as_os_str() == ":memory:"
}

/// Converts a score for storage: not-finite scores are stored as NULL.
pub(crate) fn finite(score: f64) -> Option<f64> {
    score.is_finite().then_some(score)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        assert!(
            matches!(parse_location("a/b.db"), Ok(Location::Sqlite(p, None)) if p == Path::new("a/b.db"))
        );
        assert!(
            matches!(parse_location("sqlite://x.db"), Ok(Location::Sqlite(p, None)) if p == Path::new("x.db"))
        );
        assert!(matches!(
            parse_location("sqlite:x.db?synchronous=full"),
            Ok(Location::Sqlite(p, Some(Durability::Full))) if p == Path::new("x.db")
        ));
        assert!(matches!(
            parse_location("sqlite://x.db?synchronous=NORMAL"),
            Ok(Location::Sqlite(_, Some(Durability::Normal)))
        ));
        assert!(matches!(
            parse_location("sqlite:x.db?mode=rwc"),
            Err(Error::UnknownOption { option, .. }) if option == "mode=rwc"
        ));
        assert!(matches!(
            parse_location("postgres://u@h/d"),
            Ok(Location::Postgres(_))
        ));
        assert!(matches!(
            parse_location("postgresql://u@h/d"),
            Ok(Location::Postgres(_))
        ));
        assert!(matches!(
            parse_location("mysql://u:p@h/d"),
            Err(Error::UnknownScheme { scheme, store }) if scheme == "mysql" && store == "mysql://u:***@h/d"
        ));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://me:secret@host:5432/db"),
            "postgres://me:***@host:5432/db"
        );
        assert_eq!(redact("postgres://me@host/db"), "postgres://me@host/db");
        assert_eq!(redact("a/b.db"), "a/b.db");
    }
}
