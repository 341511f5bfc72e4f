//! Durable state: accounts, models, API keys, settings, usage, sessions — behind one [`Store`]
//! trait with two backends that pass one conformance suite.
//!
//! - [`embedded`]: one SQLite file under `data_dir` (WAL, versioned migrations). The default; no
//!   other service needed; one gateway instance.
//! - [`redis`]: every instance behind a load balancer shares it; changes reach every instance
//!   through a pub/sub change feed.
//!
//! **No read-modify-write of whole records.** Every write names the fields it changes
//! ([`AccountPatch`], ...) and counters are increments, so concurrent writers (two admins, two
//! instances, a request recording usage while an admin edits the account) never lose each
//! other's changes.
//!
//! **The hot path never reads the store.** The pool and the key policies live in memory and are
//! rebuilt from the store when the [`Change`] feed says something changed.
//!
//! Both backends store records through `fields` (one named scalar per value) and seal
//! credentials and channel state with [`crypto::Cipher`] when `secret_key` is set. [`open`]
//! picks the backend the configuration names. `docs/store.md` has the guarantees, the SQLite
//! settings and the Redis key layout.
//!
//! Times are Unix milliseconds (`i64`). Ids are assigned by the store and never reused.

pub mod crypto;
pub mod embedded;
mod fields;
pub mod redis;
mod types;

#[cfg(test)]
mod conformance;

pub use types::*;

use crate::config::{Config, StoreKind};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// What can go wrong with the store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Occurs when the backend cannot be reached (Redis down, database locked for too long).
    /// Admin writes answer 503; serving continues from memory.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// Occurs when a record with the same unique name already exists.
    #[error("{0} already exists")]
    Conflict(String),
    /// Occurs when stored data cannot be read back (corrupt row, wrong `secret_key`).
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The durable state of the gateway. Every method is one atomic operation on the backend.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    // --- accounts ------------------------------------------------------------------------------
    async fn list_accounts(&self) -> StoreResult<Vec<Account>>;
    async fn get_account(&self, id: u64) -> StoreResult<Option<Account>>;
    /// Fails with `Conflict` if the channel already has an account of that name.
    async fn create_account(&self, new: NewAccount) -> StoreResult<Account>;
    /// Changes only the fields set in `patch`; `None` if there is no such account.
    async fn update_account(&self, id: u64, patch: AccountPatch) -> StoreResult<Option<Account>>;
    async fn delete_account(&self, id: u64) -> StoreResult<bool>;
    /// Creates the account, or updates the seed's fields of the one with the same channel and
    /// name (health, quota, state and usage are kept).
    async fn upsert_account(&self, seed: NewAccount) -> StoreResult<Account>;

    // --- models --------------------------------------------------------------------------------
    async fn list_models(&self) -> StoreResult<Vec<Model>>;
    async fn get_model(&self, id: u64) -> StoreResult<Option<Model>>;
    /// Fails with `Conflict` if the channel already has this model id.
    async fn create_model(&self, new: NewModel) -> StoreResult<Model>;
    async fn update_model(&self, id: u64, patch: ModelPatch) -> StoreResult<Option<Model>>;
    async fn delete_model(&self, id: u64) -> StoreResult<bool>;
    /// Creates or updates by (channel, model id).
    async fn upsert_model(&self, seed: NewModel) -> StoreResult<Model>;
    /// Seeds a channel's default catalogue once: creates the models if this channel's catalogue
    /// was never seeded, and remembers that it was, so models an operator deletes stay deleted.
    /// Returns whether it seeded.
    async fn seed_catalogue(
        &self,
        channel: crate::channels::ChannelKind,
        models: Vec<NewModel>,
    ) -> StoreResult<bool>;

    // --- API keys ------------------------------------------------------------------------------
    async fn list_keys(&self) -> StoreResult<Vec<ApiKey>>;
    async fn get_key(&self, id: u64) -> StoreResult<Option<ApiKey>>;
    async fn find_key(&self, hash: &KeyHash) -> StoreResult<Option<ApiKey>>;
    /// Fails with `Conflict` if the name or the hash is taken.
    async fn create_key(&self, new: NewApiKey) -> StoreResult<ApiKey>;
    async fn update_key(&self, id: u64, patch: ApiKeyPatch) -> StoreResult<Option<ApiKey>>;
    async fn delete_key(&self, id: u64) -> StoreResult<bool>;
    /// Creates or updates by name.
    async fn upsert_key(&self, seed: NewApiKey) -> StoreResult<ApiKey>;

    // --- settings ------------------------------------------------------------------------------
    async fn settings(&self) -> StoreResult<Settings>;
    /// Sets (`Some`) or clears (`None`) each named setting; other settings are untouched.
    async fn update_settings(
        &self,
        changes: Vec<(String, Option<serde_json::Value>)>,
    ) -> StoreResult<Settings>;

    // --- usage ---------------------------------------------------------------------------------
    /// Adds the deltas to their (day, key, account, model) rows.
    async fn record_usage(&self, deltas: Vec<UsageDelta>) -> StoreResult<()>;
    async fn query_usage(&self, query: UsageQuery) -> StoreResult<Vec<UsageRow>>;

    // --- sessions (conversation state with a TTL) ----------------------------------------------
    async fn get_session(&self, key: &str) -> StoreResult<Option<Session>>;
    async fn put_session(&self, key: &str, session: Session, ttl: Duration) -> StoreResult<()>;
    async fn delete_session(&self, key: &str) -> StoreResult<()>;

    // --- console sessions ----------------------------------------------------------------------
    async fn get_console_session(&self, token: &KeyHash) -> StoreResult<Option<ConsoleSession>>;
    async fn put_console_session(&self, token: &KeyHash, session: ConsoleSession) -> StoreResult<()>;
    async fn delete_console_session(&self, token: &KeyHash) -> StoreResult<()>;

    // --- coordination between instances --------------------------------------------------------
    /// Takes the named lock for `ttl` if nobody holds it; `None` if somebody does.
    async fn try_lock(&self, name: &str, ttl: Duration) -> StoreResult<Option<LockToken>>;
    /// Releases a lock this holder still owns (a lock whose TTL ran out may belong to another).
    async fn unlock(&self, name: &str, token: LockToken) -> StoreResult<()>;
    /// Counts one more event in the current fixed window of length `window` for `key` and returns
    /// the window's count (rate limits shared by every instance).
    async fn count_in_window(&self, key: &str, window: Duration) -> StoreResult<u64>;

    /// Changes made by this instance or, for a shared backend, any instance. A receiver that
    /// gets [`Change::Resync`] or falls behind (`RecvError::Lagged`) may have missed changes and
    /// must re-read everything it keeps in memory.
    fn changes(&self) -> broadcast::Receiver<Change>;
}

/// Opens the backend `config.store` names: the SQLite file under `data_dir`, or Redis at
/// `redis_url` under `redis_prefix`. Credentials and channel state are sealed with
/// `secret_key` when it is set.
pub async fn open(config: &Config) -> StoreResult<Arc<dyn Store>> {
    let cipher = crypto::Cipher::new(config.secret_key.as_ref());
    Ok(match config.store {
        StoreKind::Embedded => Arc::new(embedded::EmbeddedStore::open(&config.data_dir, cipher).await?),
        StoreKind::Redis => {
            Arc::new(self::redis::RedisStore::connect(&config.redis_url, &config.redis_prefix, cipher).await?)
        }
    })
}

pub(crate) use crate::time::now_ms;

/// A TTL or window in milliseconds, at least 1 (a zero TTL would mean "forever" to Redis and a
/// zero window would divide by zero).
pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}
