//! The SQLite connection that a step's writes go through.
//!
//! A pooled query costs two hand-offs to a connection's thread: the query, and the ping
//! sqlx sends when the connection goes back to the pool. The writes on every step's path
//! (its model calls and its node) instead take one connection kept for them alone, behind
//! an async mutex: SQLite admits one writer at a time anyway. In-memory stores, whose data
//! lives in their single pooled connection, use that connection instead.
//!
//! A transaction written as one command (`BEGIN IMMEDIATE; ...; COMMIT`) is tracked: if the
//! command fails it is rolled back, and if its future is dropped before the outcome is
//! known, the next user of the connection rolls back first (a pooled connection is closed
//! instead of going back to the pool inside an open transaction).

use sqlx::pool::PoolConnection;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

/// The dedicated connection (`None` once the store is closed).
pub(crate) struct Writer {
    connection: Mutex<Option<Dedicated>>,
}

pub(crate) struct Dedicated {
    connection: SqliteConnection,
    /// A one-command transaction began and its outcome was not seen.
    unsettled: bool,
}

impl Writer {
    pub(crate) async fn connect(options: &SqliteConnectOptions) -> Result<Writer, sqlx::Error> {
        Ok(Writer {
            connection: Mutex::new(Some(Dedicated {
                connection: SqliteConnection::connect_with(options).await?,
                unsettled: false,
            })),
        })
    }

    /// Closes the connection (rolling back a transaction left open); later writes go to
    /// the pool, which is closed with the store.
    pub(crate) async fn close(&self) {
        if let Some(dedicated) = self.connection.lock().await.take() {
            let _ = dedicated.connection.close().await;
        }
    }
}

/// A connection to write on, for one operation.
pub(crate) enum WriteConnection<'a> {
    Dedicated(MappedMutexGuard<'a, Dedicated>),
    Pooled {
        connection: PoolConnection<Sqlite>,
        unsettled: bool,
    },
}

impl WriteConnection<'_> {
    /// The dedicated writer if there is one, else a pooled connection.
    pub(crate) async fn acquire<'a>(
        writer: Option<&'a Writer>,
        pool: &SqlitePool,
    ) -> Result<WriteConnection<'a>, sqlx::Error> {
        if let Some(writer) = writer
            && let Ok(mut dedicated) =
                MutexGuard::try_map(writer.connection.lock().await, |c| c.as_mut())
        {
            if dedicated.unsettled {
                // "No transaction is active" is fine too: the command ended either way.
                let _ = sqlx::query("ROLLBACK")
                    .execute(&mut dedicated.connection)
                    .await;
                dedicated.unsettled = false;
            }
            return Ok(WriteConnection::Dedicated(dedicated));
        }
        Ok(WriteConnection::Pooled {
            connection: pool.acquire().await?,
            unsettled: false,
        })
    }

    pub(crate) fn connection(&mut self) -> &mut SqliteConnection {
        match self {
            WriteConnection::Dedicated(dedicated) => &mut dedicated.connection,
            WriteConnection::Pooled { connection, .. } => connection,
        }
    }

    /// Marks the start of a one-command transaction (`BEGIN IMMEDIATE; ...; COMMIT`).
    pub(crate) fn begin_command(&mut self) {
        self.set_unsettled(true);
    }

    /// Records the outcome of the command begun with [`begin_command`]; after a failure,
    /// rolls the transaction back.
    ///
    /// [`begin_command`]: WriteConnection::begin_command
    pub(crate) async fn settle<T>(&mut self, result: &Result<T, sqlx::Error>) {
        if result.is_ok()
            || sqlx::query("ROLLBACK")
                .execute(self.connection())
                .await
                .is_ok()
        {
            self.set_unsettled(false);
        }
    }

    fn set_unsettled(&mut self, value: bool) {
        match self {
            WriteConnection::Dedicated(dedicated) => dedicated.unsettled = value,
            WriteConnection::Pooled { unsettled, .. } => *unsettled = value,
        }
    }
}

impl Drop for WriteConnection<'_> {
    fn drop(&mut self) {
        if let WriteConnection::Pooled {
            connection,
            unsettled: true,
        } = self
        {
            connection.close_on_drop();
        }
    }
}
