//! Run leases: which process drives a run. One row per driven run (`run_leases`): the
//! driver's host, pid and random token, when it took the run and its last heartbeat.
//!
//! Taking a lease is one conditional upsert, atomic on both databases: it succeeds only if
//! no row exists, the row is already the caller's (same token), the caller names the
//! token it replaces (a dead or displaced driver it has looked at), or the holder's last
//! heartbeat is older than the holder's own `stale_after`. Renewal and release present the
//! token, so a driver whose lease was taken over learns it at its next renewal. Times come
//! from the database's clock on PostgreSQL (drivers on several machines agree on staleness)
//! and from this machine's clock on SQLite (one machine).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::{Db, RowExt, on_db};
use crate::{RunId, Store, Timestamp};

/// The current time in Unix milliseconds, as SQL, for each backend.
const SQLITE_NOW: &str = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS BIGINT)";
const POSTGRES_NOW: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

/// The process driving a run, as its lease records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunDriver {
    pub run: RunId,
    pub host: String,
    pub pid: i64,
    /// The driver's random token: whoever presents it holds the lease.
    pub token: String,
    /// When the driver took the run.
    pub acquired_at: Timestamp,
    /// The driver's last renewal.
    pub heartbeat_at: Timestamp,
    /// How long after `heartbeat_at` the lease counts as abandoned.
    pub stale_after_ms: i64,
    /// The clock the lease is judged by (the database's on PostgreSQL) when this was read.
    pub read_at: Timestamp,
}

impl RunDriver {
    /// Milliseconds since the last heartbeat, when this was read.
    pub fn silent_ms(&self) -> i64 {
        (self.read_at.0 - self.heartbeat_at.0).max(0)
    }

    /// True if the driver has not renewed within its own `stale_after`.
    pub fn is_stale(&self) -> bool {
        self.read_at.0 - self.heartbeat_at.0 > self.stale_after_ms
    }
}

/// Who asks for a run's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRequest {
    pub host: String,
    pub pid: i64,
    /// A fresh random token for this driver.
    pub token: String,
    /// How long after its last renewal this driver's lease counts as abandoned (a few
    /// renewal periods).
    pub stale_after: Duration,
    /// The token of a holder the caller takes the lease from (a driver it found dead, or
    /// one it displaces on purpose); the upsert succeeds only if that is still the holder.
    pub replacing: Option<String>,
}

/// What [`Store::acquire_run_lease`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseAcquisition {
    /// The caller now holds the lease.
    Acquired,
    /// Another driver holds it (live, as far as the store can tell).
    Held(RunDriver),
}

fn driver_from_row(row: &impl RowExt) -> Result<RunDriver, sqlx::Error> {
    Ok(RunDriver {
        run: RunId(row.i64("run_id")?),
        host: row.string("host")?,
        pid: row.i64("pid")?,
        token: row.string("token")?,
        acquired_at: Timestamp(row.i64("acquired_at")?),
        heartbeat_at: Timestamp(row.i64("heartbeat_at")?),
        stale_after_ms: row.i64("stale_after_ms")?,
        read_at: Timestamp(row.i64("read_at")?),
    })
}

impl Store {
    fn now_sql(&self) -> &'static str {
        match self.inner.db {
            Db::Sqlite(_) => SQLITE_NOW,
            Db::Postgres(_) => POSTGRES_NOW,
        }
    }

    /// Takes the run's lease for `request`, atomically: it succeeds if nobody holds it, the
    /// caller already does (same token), the holder is `request.replacing`, or the holder's
    /// heartbeat is stale. Otherwise returns the holder.
    pub async fn acquire_run_lease(
        &self,
        run: RunId,
        request: &LeaseRequest,
    ) -> Result<LeaseAcquisition> {
        self.get_run(run).await?;
        let now = self.now_sql();
        let stale_ms = request.stale_after.as_millis().min(i64::MAX as u128) as i64;
        let sql = format!(
            "INSERT INTO run_leases (run_id, host, pid, token, acquired_at, heartbeat_at, \
             stale_after_ms) VALUES ($1, $2, $3, $4, {now}, {now}, $5) \
             ON CONFLICT (run_id) DO UPDATE SET host = excluded.host, pid = excluded.pid, \
             token = excluded.token, acquired_at = excluded.acquired_at, \
             heartbeat_at = excluded.heartbeat_at, stale_after_ms = excluded.stale_after_ms \
             WHERE run_leases.token = $4 OR run_leases.token = $6 \
             OR run_leases.heartbeat_at < {now} - run_leases.stale_after_ms \
             RETURNING run_id"
        );
        // The holder can release between a refused upsert and the read: try again then.
        for _ in 0..5 {
            let taken: Option<i64> = on_db!(self, pool => {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(run.0)
                    .bind(&request.host)
                    .bind(request.pid)
                    .bind(&request.token)
                    .bind(stale_ms)
                    .bind(request.replacing.as_deref().unwrap_or(""))
                    .fetch_optional(pool)
                    .await
            })
            .map_err(self.db_err("take the run's lease", Some(run)))?;
            if taken.is_some() {
                return Ok(LeaseAcquisition::Acquired);
            }
            if let Some(driver) = self.run_driver(run).await? {
                return Ok(LeaseAcquisition::Held(driver));
            }
        }
        Err(Error::LeaseContended {
            store: self.inner.name.clone(),
            run,
        })
    }

    /// Renews the lease held with `token`. False if the caller no longer holds it (another
    /// driver took it over, or it was released).
    pub async fn renew_run_lease(&self, run: RunId, token: &str) -> Result<bool> {
        let sql = format!(
            "UPDATE run_leases SET heartbeat_at = {} WHERE run_id = $1 AND token = $2",
            self.now_sql()
        );
        let affected = on_db!(self, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(run.0)
                .bind(token)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(self.db_err("renew the run's lease", Some(run)))?;
        Ok(affected == 1)
    }

    /// Releases the lease held with `token`. False if the caller did not hold it.
    pub async fn release_run_lease(&self, run: RunId, token: &str) -> Result<bool> {
        let affected = on_db!(self, pool => {
            sqlx::query("DELETE FROM run_leases WHERE run_id = $1 AND token = $2")
                .bind(run.0)
                .bind(token)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(self.db_err("release the run's lease", Some(run)))?;
        Ok(affected == 1)
    }

    /// The run's driver, if a lease is recorded (stale or not; see [`RunDriver::is_stale`]).
    pub async fn run_driver(&self, run: RunId) -> Result<Option<RunDriver>> {
        let sql = format!(
            "SELECT run_id, host, pid, token, acquired_at, heartbeat_at, stale_after_ms, \
             {} AS read_at FROM run_leases WHERE run_id = $1",
            self.now_sql()
        );
        on_db!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(run.0)
                .fetch_optional(pool)
                .await
                .map_err(self.db_err("read the run's lease", Some(run)))?;
            row.as_ref()
                .map(driver_from_row)
                .transpose()
                .map_err(self.db_err("read the run's lease", Some(run)))
        })
    }
}
