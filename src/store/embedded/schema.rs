//! Opens the database file with the connection settings the store relies on, and brings its
//! schema up to date with versioned migrations.
//!
//! The schema version is SQLite's `PRAGMA user_version`: 0 for a new file, `n` once migration
//! `n` has run. Each migration runs in one `BEGIN IMMEDIATE` transaction together with the
//! version bump, so a crash leaves the file at the old version or the new one, never between,
//! and two processes opening the file at once migrate it once. A file whose version is newer
//! than [`MIGRATIONS`] knows was written by a newer build: it is refused, not guessed at.

use super::sql_error;
use crate::store::{StoreError, StoreResult};
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// How long a statement waits for another connection's write lock (another process on the same
/// file) before it fails with `Unavailable`.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Migration `i + 1` is `MIGRATIONS[i]`. Append only: a released migration never changes.
const MIGRATIONS: &[&str] = &[
    // 1: everything. Ids are AUTOINCREMENT so a deleted record's id is never handed out again.
    // Usage rows use 0 for "no key" / "no account": ids start at 1, and a NULL in a primary
    // key would make every row distinct. No foreign keys: usage rows outlive the accounts and
    // keys they count, and sessions name an account the pool may already have dropped.
    "
    CREATE TABLE accounts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL,
        name TEXT NOT NULL,
        credential TEXT NOT NULL,
        base_url TEXT,
        weight INTEGER NOT NULL,
        priority INTEGER NOT NULL,
        enabled INTEGER NOT NULL,
        max_concurrency INTEGER NOT NULL,
        health_reason TEXT,
        cooldown_until INTEGER,
        health_message TEXT,
        quota_remaining INTEGER,
        quota_limit INTEGER,
        quota_reset_at INTEGER,
        state TEXT,
        last_used_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX accounts_channel_name ON accounts (channel, name);

    CREATE TABLE models (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        model_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        upstream TEXT,
        kind TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        display_name TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX models_channel_model_id ON models (channel, model_id);

    CREATE TABLE api_keys (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        hash TEXT NOT NULL,
        prefix TEXT NOT NULL,
        models TEXT NOT NULL,
        rpm INTEGER,
        max_concurrency INTEGER,
        expires_at INTEGER,
        enabled INTEGER NOT NULL,
        last_used_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX api_keys_name ON api_keys (name);
    CREATE UNIQUE INDEX api_keys_hash ON api_keys (hash);

    CREATE TABLE settings (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE usage (
        day INTEGER NOT NULL,
        key_id INTEGER NOT NULL,
        account_id INTEGER NOT NULL,
        model TEXT NOT NULL,
        requests INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        PRIMARY KEY (day, key_id, account_id, model)
    ) WITHOUT ROWID;

    CREATE TABLE sessions (
        key TEXT PRIMARY KEY,
        account_id INTEGER,
        data TEXT,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX sessions_expires_at ON sessions (expires_at);

    CREATE TABLE console_sessions (
        token TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX console_sessions_expires_at ON console_sessions (expires_at);

    CREATE TABLE locks (
        name TEXT PRIMARY KEY,
        token TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE windows (
        key TEXT NOT NULL,
        window_ms INTEGER NOT NULL,
        start INTEGER NOT NULL,
        count INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (key, window_ms)
    ) WITHOUT ROWID;

    CREATE TABLE meta (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    ",
];

/// Opens (creating if needed) the database at `path`, sets the connection up and migrates it.
/// Blocks: call it on the database thread.
pub(super) fn open(path: &Path) -> StoreResult<Connection> {
    let mut conn = Connection::open(path).map_err(|e| sql_error(e, "open the database"))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| sql_error(e, "set busy_timeout"))?;
    // WAL: readers never block the writer, and a commit is one append to the -wal file.
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(|e| sql_error(e, "set journal_mode"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "the database refused WAL mode (journal_mode is {mode})"
        )));
    }
    // NORMAL in WAL mode: a commit has reached the -wal file through write() before it returns,
    // so it survives the process being killed (the kernel holds the pages); only an OS crash or
    // power loss can take back the last commits, never corrupt the file. FULL would fsync every
    // commit to survive power loss too, at the cost of a disk flush per usage write.
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(|e| sql_error(e, "set synchronous"))?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// The schema version this build writes.
pub(super) fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}

fn version(conn: &Connection) -> StoreResult<i64> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| sql_error(e, "read user_version"))
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let known = current_version();
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sql_error(e, "begin a migration"))?;
        // Read inside the write transaction: another process may have migrated meanwhile.
        let at = version(&tx)?;
        if at > known {
            return Err(StoreError::Corrupt(format!(
                "the database has schema version {at}, newer than this build knows ({known}); \
                 it was written by a newer orchids2api: run that version or restore a backup"
            )));
        }
        if at == known {
            return Ok(());
        }
        let next = at + 1;
        tx.execute_batch(MIGRATIONS[at as usize]).map_err(|e| sql_error(e, "migrate the schema"))?;
        tx.pragma_update(None, "user_version", next).map_err(|e| sql_error(e, "write user_version"))?;
        tx.commit().map_err(|e| sql_error(e, "commit a migration"))?;
        tracing::info!(version = next, "store schema migrated");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_is_migrated_to_the_current_version_once() {
        let dir = crate::store::conformance::TempDir::new();
        let path = dir.path().join("t.db");
        let conn = open(&path).unwrap();
        assert_eq!(version(&conn).unwrap(), current_version());
        drop(conn);
        // Reopening runs nothing: migration 1 would fail on the existing tables.
        let conn = open(&path).unwrap();
        assert_eq!(version(&conn).unwrap(), current_version());
        let sync: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
        assert_eq!(sync, 1, "synchronous=NORMAL");
    }

    #[test]
    fn a_newer_schema_is_refused_with_a_clear_error() {
        let dir = crate::store::conformance::TempDir::new();
        let path = dir.path().join("t.db");
        let conn = open(&path).unwrap();
        conn.pragma_update(None, "user_version", current_version() + 1).unwrap();
        drop(conn);
        let err = open(&path).unwrap_err().to_string();
        assert!(err.contains("newer than this build knows"), "{err}");
    }
}
