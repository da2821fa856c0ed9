//! Test databases: a fresh SQLite file or a fresh PostgreSQL schema per test, so tests never share
//! state and never assume a clean shared database.
//!
//! PostgreSQL: `WINDOWDESK_TEST_DATABASE_URL` names the database to create schemas in (`.ci/run` creates
//! one per run). Without it, a database named `windowdesk_test` is created on the local server
//! (`postgres://root@127.0.0.1:5432`). A test that cannot reach PostgreSQL fails; it never skips.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng;
use sqlx::Connection;

use crate::StoreError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database for one test. SQLite files live in a temporary directory removed on drop; PostgreSQL
/// schemas are dropped by [`TestDb::cleanup`].
pub struct TestDb {
    pub backend: Backend,
    /// The URL to open it with (`windowdesk_store::open`, or a desk's `database.url`).
    pub url: String,
    schema: Option<String>,
    admin_url: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

const LOCAL_SERVER: &str = "postgres://root@127.0.0.1:5432";

impl TestDb {
    pub async fn new(backend: Backend) -> Result<TestDb, StoreError> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().map_err(|e| StoreError::Config(format!("tempdir: {e}")))?;
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Ok(TestDb { backend, url, schema: None, admin_url: None, _dir: Some(dir) })
            }
            Backend::Postgres => {
                let base = match std::env::var("WINDOWDESK_TEST_DATABASE_URL") {
                    Ok(url) if !url.is_empty() => url,
                    _ => ensure_local_database().await?,
                };
                let n = COUNTER.fetch_add(1, Ordering::Relaxed);
                let schema = format!("t_{}_{}_{:08x}", std::process::id(), n, rand::thread_rng().gen::<u32>());
                let mut conn = sqlx::PgConnection::connect(&base).await.map_err(|e| pg_unreachable(&base, e))?;
                sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut conn).await?;
                conn.close().await?;
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
                Ok(TestDb { backend, url, schema: Some(schema), admin_url: Some(base), _dir: None })
            }
        }
    }

    /// Runs SQL on the test database behind the desk's back (e.g. a trigger that makes writes fail,
    /// the way a full disk does).
    pub async fn execute(&self, sql: &str) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => {
                let path = self.url.trim_start_matches("sqlite://").to_owned();
                let sql = sql.to_owned();
                tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
                    let conn = rusqlite::Connection::open(path)?;
                    conn.busy_timeout(std::time::Duration::from_secs(5))?;
                    conn.execute_batch(&sql)?;
                    Ok(())
                })
                .await
                .map_err(|e| StoreError::Config(format!("test SQL task: {e}")))?
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await?;
                sqlx::raw_sql(sql).execute(&mut conn).await?;
                conn.close().await?;
                Ok(())
            }
        }
    }

    /// Drops the PostgreSQL schema (the SQLite directory goes with the value).
    pub async fn cleanup(self) {
        if let (Some(schema), Some(admin)) = (&self.schema, &self.admin_url) {
            if let Ok(mut conn) = sqlx::PgConnection::connect(admin).await {
                let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&mut conn).await;
                let _ = conn.close().await;
            }
        }
    }
}

fn pg_unreachable(url: &str, e: sqlx::Error) -> StoreError {
    StoreError::Config(format!(
        "PostgreSQL tests need a server: could not connect to {} ({e}). Start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` or set WINDOWDESK_TEST_DATABASE_URL.",
        crate::redact_url(url)
    ))
}

async fn ensure_local_database() -> Result<String, StoreError> {
    let admin = format!("{LOCAL_SERVER}/postgres");
    let mut conn = sqlx::PgConnection::connect(&admin).await.map_err(|e| pg_unreachable(&admin, e))?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'windowdesk_test')").fetch_one(&mut conn).await?;
    if !exists {
        // Two test processes may race here; the loser's "already exists" is fine.
        if let Err(e) = sqlx::query("CREATE DATABASE windowdesk_test").execute(&mut conn).await {
            let dup =
                matches!(&e, sqlx::Error::Database(db) if db.code().as_deref() == Some("42P04") || db.code().as_deref() == Some("23505"));
            if !dup {
                return Err(e.into());
            }
        }
    }
    conn.close().await?;
    let url = format!("{LOCAL_SERVER}/windowdesk_test");
    // Tests migrate many schemas of this database at once: create the search migration's extension
    // once here, so that they do not race to create it.
    let mut conn = sqlx::PgConnection::connect(&url).await.map_err(|e| pg_unreachable(&url, e))?;
    if let Err(e) = sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public").execute(&mut conn).await {
        let dup = matches!(&e, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") || db.code().as_deref() == Some("42710"));
        if !dup {
            return Err(e.into());
        }
    }
    conn.close().await?;
    Ok(url)
}

/// Sets how many messages make a word common for ticket search (20,000 by default), and on
/// PostgreSQL how many tickets the common-word walk checks before the words' index finds the rest
/// (1,000), so a test can run every plan on small data. Every plan finds the same tickets.
pub fn search_plans(rare_word_messages: i64, walk_tickets: i64) {
    crate::search_model::RARE_MESSAGES.store(rare_word_messages, std::sync::atomic::Ordering::Relaxed);
    crate::search_model::WALK_TICKETS.store(walk_tickets, std::sync::atomic::Ordering::Relaxed);
}
