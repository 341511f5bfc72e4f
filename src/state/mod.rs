//! What the gateway holds in memory — accounts (the pool), models, client keys, runtime
//! settings — loaded from the store at start and kept in step with it by the change feed.
//!
//! The request path reads only this: an `ArcSwap` load per table, no store access (except a
//! key's shared per-minute counter). A write anywhere (this instance's admin API, another
//! instance, a cooldown) becomes a [`Change`] on the feed; [`Live::spawn_sync`] applies it here
//! within milliseconds: one account, model list or key set re-read and swapped in. After a gap in
//! the feed (`Resync`, or a lagging receiver) everything is re-read.

pub mod keys;
pub mod refresh;
mod seed;
pub mod settings;
pub mod usage;

pub use seed::display_prefix;

use crate::config::{Config, default_base_url};
use crate::models::ModelTable;
use crate::pool::{AccountInfo, AccountSpec, HealthState, Pool, UNTIL_FIXED};
use crate::store::{Account, ApiKey, Change, Store, StoreResult};
use arc_swap::ArcSwap;
use keys::{KeySet, KeySlots};
use settings::Runtime;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

pub struct Live {
    pub store: Arc<dyn Store>,
    pub pool: Arc<Pool>,
    pub models: ArcSwap<ModelTable>,
    pub keys: ArcSwap<KeySet>,
    pub runtime: ArcSwap<Runtime>,
    config_runtime: Runtime,
    auth: crate::config::AuthMode,
    /// The stored keys, to rebuild the set when one changes.
    stored_keys: Mutex<HashMap<u64, ApiKey>>,
    key_slots: KeySlots,
}

/// Changes arriving within this long of one another are applied together.
const DEBOUNCE: Duration = Duration::from_millis(5);

impl Live {
    /// Seeds the store from the config, then reads everything into memory.
    pub async fn load(store: Arc<dyn Store>, config: &Config) -> StoreResult<Arc<Live>> {
        seed::seed(store.as_ref(), config).await?;
        let config_runtime = Runtime::from_config(config);
        let live = Arc::new(Live {
            store,
            pool: Arc::new(Pool::default()),
            models: ArcSwap::from_pointee(ModelTable::default()),
            keys: ArcSwap::from_pointee(KeySet::new(config.auth, &[], &KeySlots::default())),
            runtime: ArcSwap::from_pointee(config_runtime),
            config_runtime,
            auth: config.auth,
            stored_keys: Mutex::new(HashMap::new()),
            key_slots: KeySlots::default(),
        });
        live.reload_all().await?;
        Ok(live)
    }

    /// Re-reads every table.
    pub async fn reload_all(&self) -> StoreResult<()> {
        let accounts = self.store.list_accounts().await?;
        self.pool.replace(accounts.iter().map(spec));
        self.reload_models().await?;
        let keys = self.store.list_keys().await?;
        *self.stored_keys.lock().unwrap_or_else(|e| e.into_inner()) =
            keys.into_iter().map(|k| (k.id, k)).collect();
        self.rebuild_keys();
        self.reload_settings().await
    }

    async fn reload_account(&self, id: u64) -> StoreResult<()> {
        match self.store.get_account(id).await? {
            Some(account) => self.pool.upsert(spec(&account)),
            None => self.pool.remove(id),
        }
        Ok(())
    }

    async fn reload_models(&self) -> StoreResult<()> {
        let models = self.store.list_models().await?;
        self.models.store(Arc::new(ModelTable::from_stored(&models)));
        Ok(())
    }

    async fn reload_key(&self, id: u64) -> StoreResult<()> {
        let key = self.store.get_key(id).await?;
        {
            let mut stored = self.stored_keys.lock().unwrap_or_else(|e| e.into_inner());
            match key {
                Some(k) => stored.insert(id, k),
                None => stored.remove(&id),
            };
        }
        self.rebuild_keys();
        Ok(())
    }

    fn rebuild_keys(&self) {
        let stored = self.stored_keys.lock().unwrap_or_else(|e| e.into_inner());
        let keys: Vec<ApiKey> = stored.values().cloned().collect();
        self.keys.store(Arc::new(KeySet::new(self.auth, &keys, &self.key_slots)));
    }

    async fn reload_settings(&self) -> StoreResult<()> {
        let stored = self.store.settings().await?;
        self.runtime.store(Arc::new(Runtime::with_stored(self.config_runtime, &stored)));
        Ok(())
    }

    /// The runtime settings as the config file sets them, before stored overrides.
    pub fn config_runtime(&self) -> Runtime {
        self.config_runtime
    }

    /// Applies the store's change feed until `shutdown` turns true.
    pub fn spawn_sync(self: &Arc<Self>, mut shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        let live = self.clone();
        let mut changes = self.store.changes();
        tokio::spawn(async move {
            loop {
                let first = tokio::select! {
                    change = changes.recv() => change,
                    _ = usage::stopped(&mut shutdown) => return,
                };
                let mut batch = vec![first];
                tokio::time::sleep(DEBOUNCE).await;
                loop {
                    match changes.try_recv() {
                        Ok(c) => batch.push(Ok(c)),
                        Err(broadcast::error::TryRecvError::Empty) => break,
                        Err(e) => {
                            batch.push(Err(match e {
                                broadcast::error::TryRecvError::Lagged(n) => {
                                    broadcast::error::RecvError::Lagged(n)
                                }
                                _ => broadcast::error::RecvError::Closed,
                            }));
                            break;
                        }
                    }
                }
                if let Err(e) = live.apply(batch).await {
                    // The next change, or the next resync, tries again.
                    tracing::warn!(error = %e, "could not apply a store change");
                }
            }
        })
    }

    async fn apply(&self, batch: Vec<Result<Change, broadcast::error::RecvError>>) -> StoreResult<()> {
        let mut accounts = Vec::new();
        let mut keys = Vec::new();
        let (mut models, mut settings) = (false, false);
        for change in batch {
            match change {
                Ok(Change::Account(id)) => accounts.push(id),
                Ok(Change::Key(id)) => keys.push(id),
                Ok(Change::Model(_)) => models = true,
                Ok(Change::Settings) => settings = true,
                Ok(Change::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    return self.reload_all().await;
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            }
        }
        accounts.sort_unstable();
        accounts.dedup();
        for id in accounts {
            self.reload_account(id).await?;
        }
        keys.sort_unstable();
        keys.dedup();
        for id in keys {
            self.reload_key(id).await?;
        }
        if models {
            self.reload_models().await?;
        }
        if settings {
            self.reload_settings().await?;
        }
        Ok(())
    }
}

/// A stored account as the pool takes it.
pub fn spec(a: &Account) -> AccountSpec {
    AccountSpec {
        info: AccountInfo {
            id: a.id,
            channel: a.channel,
            name: a.name.clone(),
            base_url: a
                .base_url
                .clone()
                .or_else(|| default_base_url(a.channel).map(str::to_string))
                .unwrap_or_default(),
            credential: a.credential.clone(),
            weight: a.weight.max(1),
            priority: a.priority,
            enabled: a.enabled,
            max_concurrency: a.max_concurrency,
            models: None,
            state: a.state.clone(),
        },
        health: HealthState {
            reason: a.health.reason,
            // A reason without a deadline means "until an operator acts".
            cooldown_until: match (a.health.reason, a.health.cooldown_until) {
                (Some(_), None) => Some(UNTIL_FIXED),
                (_, until) => until,
            },
            quota_remaining: a.quota.remaining,
            quota_reset_at: a.quota.reset_at,
        },
    }
}
