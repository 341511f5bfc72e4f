//! The embedded backend: the whole store in one SQLite file, `data_dir/orchids2api.db`, for a
//! single gateway instance.
//!
//! **One database thread.** rusqlite is synchronous, so the connection lives on a dedicated OS
//! thread (`o2a-store`) and never on the async runtime. Each [`Store`] call boxes a closure, sends
//! it down a bounded channel and awaits a oneshot with its result; the thread runs the closures
//! one at a time, in arrival order. That serialises every operation on the file, which SQLite
//! does for writers anyway, and makes each call atomic with respect to every other without a
//! lock on the async side. A full queue ([`QUEUE`] calls) makes callers wait, not block a
//! runtime worker. Per call this allocates the boxed closure, the oneshot and the result.
//!
//! **Cancellation.** Dropping a call's future after it was queued does not cancel it: the
//! closure still runs (a write still commits) and its result is dropped.
//!
//! **Durability.** WAL with `synchronous = NORMAL` (see `schema.rs`): a call's result is sent
//! only after its transaction committed to the -wal file, so an acknowledged write survives the
//! process being killed.
//!
//! **Expiry.** Sessions, console sessions, locks and rate windows carry an `expires_at`; reads
//! ignore expired rows, and the thread deletes them at most once a minute, before an operation.
//!
//! **Change feed.** A local `broadcast` channel; the thread sends after each commit. Another
//! process writing the same file is not heard: this backend is for one instance.
//!
//! The thread ends when the last [`EmbeddedStore`] handle is dropped (the queue closes).

mod db;
mod schema;

use super::crypto::Cipher;
use super::{
    Account, AccountPatch, ApiKey, ApiKeyPatch, Change, ConsoleSession, KeyHash, LockToken, Model,
    ModelPatch, NewAccount, NewApiKey, NewModel, Session, Settings, Store, StoreError, StoreResult,
    UsageDelta, UsageQuery, UsageRow, duration_ms,
};
use crate::channels::ChannelKind;
use db::Db;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

/// The database file's name under `data_dir`.
pub const FILE_NAME: &str = "orchids2api.db";

/// Calls that may wait for the database thread before callers wait to queue theirs.
const QUEUE: usize = 1024;

/// Changes a slow receiver may fall behind by before it sees `Lagged`.
const FEED_CAPACITY: usize = 1024;

type Job = Box<dyn FnOnce(&mut Db) + Send>;

/// The SQLite store. Cheap to share behind an `Arc`; every clone of the channel talks to the one
/// database thread.
pub struct EmbeddedStore {
    jobs: mpsc::Sender<Job>,
    changes: broadcast::Sender<Change>,
}

/// Maps a rusqlite error to the store's: a damaged file is `Corrupt`, everything else
/// (locked, disk full, I/O) `Unavailable`. SQLite's messages never hold bound values.
fn sql_error(err: rusqlite::Error, action: &str) -> StoreError {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    match &err {
        rusqlite::Error::SqliteFailure(e, _) if matches!(e.code, DatabaseCorrupt | NotADatabase) => {
            StoreError::Corrupt(format!("cannot {action}: {err}"))
        }
        _ => StoreError::Unavailable(format!("cannot {action}: {err}")),
    }
}

impl EmbeddedStore {
    /// Opens `data_dir/orchids2api.db`, creating the directory and the file if missing, and
    /// migrates it. Fails with `Corrupt` when the file's schema is newer than this build's.
    pub async fn open(data_dir: &Path, cipher: Cipher) -> StoreResult<EmbeddedStore> {
        let (jobs, mut queue) = mpsc::channel::<Job>(QUEUE);
        let (changes, _) = broadcast::channel(FEED_CAPACITY);
        let (ready_tx, ready) = oneshot::channel();
        let dir = data_dir.to_path_buf();
        let file = data_dir.join(FILE_NAME);
        let feed = changes.clone();
        std::thread::Builder::new()
            .name("o2a-store".into())
            .spawn(move || {
                let opened = std::fs::create_dir_all(&dir)
                    .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))
                    .and_then(|()| schema::open(&file));
                let mut db = match opened {
                    Ok(conn) => Db::new(conn, cipher, feed),
                    Err(err) => {
                        let _ = ready_tx.send(Err(err));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                while let Some(job) = queue.blocking_recv() {
                    db.prune_if_due();
                    // A panicking job drops its oneshot (its caller sees Unavailable) and rolls
                    // back its open transaction; the thread goes on serving the others.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut db)));
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the database thread: {e}")))?;
        ready
            .await
            .map_err(|_| StoreError::Unavailable("the database thread stopped while opening".into()))??;
        Ok(EmbeddedStore { jobs, changes })
    }

    /// Runs `op` on the database thread and returns its result.
    async fn call<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut Db) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |db| {
            let _ = tx.send(op(db));
        });
        let stopped = || StoreError::Unavailable("the database thread has stopped".into());
        self.jobs.send(job).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

#[async_trait::async_trait]
impl Store for EmbeddedStore {
    async fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        self.call(|db| db.list_accounts()).await
    }

    async fn get_account(&self, id: u64) -> StoreResult<Option<Account>> {
        self.call(move |db| db.get_account(id)).await
    }

    async fn create_account(&self, new: NewAccount) -> StoreResult<Account> {
        self.call(move |db| db.create_account(new)).await
    }

    async fn update_account(&self, id: u64, patch: AccountPatch) -> StoreResult<Option<Account>> {
        self.call(move |db| db.update_account(id, patch)).await
    }

    async fn delete_account(&self, id: u64) -> StoreResult<bool> {
        self.call(move |db| db.delete_account(id)).await
    }

    async fn upsert_account(&self, seed: NewAccount) -> StoreResult<Account> {
        self.call(move |db| db.upsert_account(seed)).await
    }

    async fn list_models(&self) -> StoreResult<Vec<Model>> {
        self.call(|db| db.list_models()).await
    }

    async fn get_model(&self, id: u64) -> StoreResult<Option<Model>> {
        self.call(move |db| db.get_model(id)).await
    }

    async fn create_model(&self, new: NewModel) -> StoreResult<Model> {
        self.call(move |db| db.create_model(new)).await
    }

    async fn update_model(&self, id: u64, patch: ModelPatch) -> StoreResult<Option<Model>> {
        self.call(move |db| db.update_model(id, patch)).await
    }

    async fn delete_model(&self, id: u64) -> StoreResult<bool> {
        self.call(move |db| db.delete_model(id)).await
    }

    async fn upsert_model(&self, seed: NewModel) -> StoreResult<Model> {
        self.call(move |db| db.upsert_model(seed)).await
    }

    async fn seed_catalogue(&self, channel: ChannelKind, models: Vec<NewModel>) -> StoreResult<bool> {
        self.call(move |db| db.seed_catalogue(channel, models)).await
    }

    async fn list_keys(&self) -> StoreResult<Vec<ApiKey>> {
        self.call(|db| db.list_keys()).await
    }

    async fn get_key(&self, id: u64) -> StoreResult<Option<ApiKey>> {
        self.call(move |db| db.get_key(id)).await
    }

    async fn find_key(&self, hash: &KeyHash) -> StoreResult<Option<ApiKey>> {
        let hash = hash.clone();
        self.call(move |db| db.find_key(&hash)).await
    }

    async fn create_key(&self, new: NewApiKey) -> StoreResult<ApiKey> {
        self.call(move |db| db.create_key(new)).await
    }

    async fn update_key(&self, id: u64, patch: ApiKeyPatch) -> StoreResult<Option<ApiKey>> {
        self.call(move |db| db.update_key(id, patch)).await
    }

    async fn delete_key(&self, id: u64) -> StoreResult<bool> {
        self.call(move |db| db.delete_key(id)).await
    }

    async fn upsert_key(&self, seed: NewApiKey) -> StoreResult<ApiKey> {
        self.call(move |db| db.upsert_key(seed)).await
    }

    async fn settings(&self) -> StoreResult<Settings> {
        self.call(|db| db.settings()).await
    }

    async fn update_settings(
        &self,
        changes: Vec<(String, Option<serde_json::Value>)>,
    ) -> StoreResult<Settings> {
        self.call(move |db| db.update_settings(changes)).await
    }

    async fn record_usage(&self, deltas: Vec<UsageDelta>) -> StoreResult<()> {
        if deltas.is_empty() {
            return Ok(());
        }
        self.call(move |db| db.record_usage(deltas)).await
    }

    async fn query_usage(&self, query: UsageQuery) -> StoreResult<Vec<UsageRow>> {
        self.call(move |db| db.query_usage(query)).await
    }

    async fn get_session(&self, key: &str) -> StoreResult<Option<Session>> {
        let key = key.to_string();
        self.call(move |db| db.get_session(&key)).await
    }

    async fn put_session(&self, key: &str, session: Session, ttl: Duration) -> StoreResult<()> {
        let key = key.to_string();
        let ttl = duration_ms(ttl);
        self.call(move |db| db.put_session(&key, session, ttl)).await
    }

    async fn delete_session(&self, key: &str) -> StoreResult<()> {
        let key = key.to_string();
        self.call(move |db| db.delete_session(&key)).await
    }

    async fn get_console_session(&self, token: &KeyHash) -> StoreResult<Option<ConsoleSession>> {
        let token = token.clone();
        self.call(move |db| db.get_console_session(&token)).await
    }

    async fn put_console_session(&self, token: &KeyHash, session: ConsoleSession) -> StoreResult<()> {
        let token = token.clone();
        self.call(move |db| db.put_console_session(&token, session)).await
    }

    async fn delete_console_session(&self, token: &KeyHash) -> StoreResult<()> {
        let token = token.clone();
        self.call(move |db| db.delete_console_session(&token)).await
    }

    async fn try_lock(&self, name: &str, ttl: Duration) -> StoreResult<Option<LockToken>> {
        let name = name.to_string();
        let ttl = duration_ms(ttl);
        let token = LockToken::random();
        self.call(move |db| db.try_lock(&name, token, ttl)).await
    }

    async fn unlock(&self, name: &str, token: LockToken) -> StoreResult<()> {
        let name = name.to_string();
        self.call(move |db| db.unlock(&name, token)).await
    }

    async fn count_in_window(&self, key: &str, window: Duration) -> StoreResult<u64> {
        let key = key.to_string();
        let window = duration_ms(window);
        self.call(move |db| db.count_in_window(&key, window)).await
    }

    fn changes(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }
}
