//! Metadata in SQL: the only module that imports sqlx. One `Db` type serves every backend; each
//! query is written once in portable SQL (`$n` placeholders, `ON CONFLICT`, `RETURNING`) and run on
//! whichever pool the database URL chose.

mod accounts;
mod browse;
mod error;
mod fsck;
mod gc;
mod models;
mod registry;
mod usage;

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, SqlitePool};

use crate::pause::Pauses;

pub use accounts::*;
pub use browse::*;
pub use error::DbError;
pub use fsck::*;
pub use gc::*;
pub use models::*;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// The connection pool of the configured backend.
#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool, whatever the backend.
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match &$db.pool {
            $crate::db::Pool::Sqlite($pool) => $body,
            $crate::db::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Handle to the metadata database.
#[derive(Clone)]
pub struct Db {
    pub(crate) pool: Pool,
    pauses: Pauses,
}

impl Db {
    /// Connects to `url` (`sqlite://path` or `postgres://…`), creating the database if needed, and
    /// runs migrations (several instances starting at once is fine: sqlx takes a lock).
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, DbError> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: a commit is on disk before the client hears 201, so a completed push survives
                // a power loss too (NORMAL survives only a process crash); see docs/architecture.md.
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections.max(1))
                .connect_with(opts)
                .await?;
            SQLITE_MIGRATIONS.run(&pool).await?;
            Ok(Db {
                pool: Pool::Sqlite(pool),
                pauses: Pauses::default(),
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            if !Postgres::database_exists(url).await? {
                // Another instance may create it at the same moment; that is fine.
                if let Err(e) = Postgres::create_database(url).await {
                    if !Postgres::database_exists(url).await? {
                        return Err(e.into());
                    }
                }
            }
            let pool = PgPoolOptions::new()
                .max_connections(max_connections.max(1))
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await?;
            POSTGRES_MIGRATIONS.run(&pool).await?;
            Ok(Db {
                pool: Pool::Postgres(pool),
                pauses: Pauses::default(),
            })
        } else {
            Err(DbError::UnsupportedUrl(url.split(':').next().unwrap_or("").to_owned()))
        }
    }

    /// The pause points of this handle (for tests that force interleavings; inert otherwise).
    pub fn pauses(&self) -> &Pauses {
        &self.pauses
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<(), DbError> {
        with_pool!(self, p => sqlx::query("SELECT 1").execute(p).await.map(|_| ()).map_err(DbError::from))
    }
}

/// The current time in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
