//! Credential refresh: one refresh of an account at a time across every instance, rotated
//! secrets persisted before anyone uses them, and refreshes run ahead of expiry.
//!
//! A **refresh** exchanges an account's long-lived credential (a refresh token, a session cookie)
//! for a fresh session through its channel ([`Channel::refresh`]). Upstreams that rotate the
//! long-lived secret invalidate the old one on use, so two refreshes racing would lose the
//! account: [`Refresher::refresh`] serialises them — a per-account gate inside the instance, a
//! store lock with expiry across instances — and a caller that had to wait re-reads the account
//! instead of refreshing again. The result is written to the store *before* it is returned, so a
//! crash right after cannot strand an account with a secret nobody kept.
//!
//! The scheduler refreshes an account ahead of the expiry its channel reported
//! ([`Refreshed::expires_at`]), [`AHEAD`] before it (at least [`MIN_AHEAD`]).

use crate::channels::{Channels, Refreshed};
use crate::ir::{ErrorKind, UpstreamError};
use crate::pool::{AccountInfo, Pool};
use crate::store::{Account, AccountPatch, Store};
use crate::time::now_ms;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// How long the cross-instance lock is held at most (a refresh that takes longer is abandoned
/// by the lock, not by the refresher).
pub const LOCK_TTL: Duration = Duration::from_secs(30);
/// Refresh this share of a session's lifetime before it ends…
const AHEAD: f64 = 0.1;
/// …and at least this long before.
pub const MIN_AHEAD: Duration = Duration::from_secs(60);
/// How often a caller waiting on another instance's refresh re-reads the account.
const POLL: Duration = Duration::from_millis(100);

pub struct Refresher {
    store: Arc<dyn Store>,
    channels: Channels,
    /// One gate per account: a refresh inside this instance holds it.
    gates: Mutex<HashMap<u64, Arc<tokio::sync::Mutex<()>>>>,
    /// (due time, account id) of the scheduled refreshes.
    schedule: Mutex<BTreeSet<(i64, u64)>>,
    wake: Notify,
}

impl Refresher {
    pub fn new(store: Arc<dyn Store>, channels: Channels) -> Arc<Refresher> {
        Arc::new(Refresher {
            store,
            channels,
            gates: Mutex::new(HashMap::new()),
            schedule: Mutex::new(BTreeSet::new()),
            wake: Notify::new(),
        })
    }

    /// Refreshes `account`, or waits for the refresh already running here or on another instance,
    /// and returns the account as it is afterwards. `Ok(None)`: its channel has no refresh.
    pub async fn refresh(&self, account: &AccountInfo) -> Result<Option<Arc<AccountInfo>>, UpstreamError> {
        let Some(channel) = self.channels.get(account.channel).cloned() else { return Ok(None) };
        if channel.refresh(Arc::new(account.clone())).is_none() {
            return Ok(None);
        }
        let gate = self.gate(account.id);
        let _inside = gate.lock().await;
        // Someone may have refreshed while this caller waited at the gate.
        let stored = self.read(account.id).await?;
        if renewed(&stored, account) {
            return Ok(Some(Arc::new(crate::state::spec(&stored).info)));
        }
        let lock_name = format!("refresh:{}", account.id);
        let token = loop {
            match self.store.try_lock(&lock_name, LOCK_TTL).await.map_err(unavailable)? {
                Some(token) => break token,
                None => {
                    // Another instance is refreshing: wait for its result to reach the store.
                    tokio::time::sleep(POLL).await;
                    let stored = self.read(account.id).await?;
                    if renewed(&stored, account) {
                        return Ok(Some(Arc::new(crate::state::spec(&stored).info)));
                    }
                }
            }
        };
        let current = Arc::new(crate::state::spec(&stored).info);
        let result = match channel.refresh(current.clone()) {
            Some(refreshing) => refreshing.await,
            None => Err(UpstreamError::new(ErrorKind::Unauthorized)),
        };
        let outcome = match result {
            Ok(refreshed) => self.persist(&current, refreshed).await,
            Err(e) => Err(e),
        };
        if let Err(e) = self.store.unlock(&lock_name, token).await {
            tracing::warn!(account = account.id, error = %e, "could not release a refresh lock; it expires by itself");
        }
        outcome.map(Some)
    }

    /// Writes the refreshed secrets to the store and schedules the next refresh; returns the
    /// account with them.
    async fn persist(
        &self,
        current: &AccountInfo,
        refreshed: Refreshed,
    ) -> Result<Arc<AccountInfo>, UpstreamError> {
        let patch = AccountPatch {
            credential: refreshed.credential.clone(),
            state: refreshed.state.clone().map(Some),
            // A fresh session clears an auth failure.
            health: Some(Default::default()),
            ..AccountPatch::default()
        };
        let stored =
            self.store.update_account(current.id, patch).await.map_err(unavailable)?.ok_or_else(|| {
                UpstreamError::new(ErrorKind::Unauthorized).with_message("the account was deleted")
            })?;
        if let Some(expires_at) = refreshed.expires_at {
            self.schedule(current.id, expires_at);
        }
        tracing::info!(account = %current.name, rotated = refreshed.credential.is_some(), "credential refreshed");
        Ok(Arc::new(crate::state::spec(&stored).info))
    }

    /// Refreshes `account` ahead of `expires_at`.
    pub fn schedule(&self, account: u64, expires_at: i64) {
        let now = now_ms();
        let life = (expires_at - now).max(0);
        let ahead = ((life as f64 * AHEAD) as i64).max(MIN_AHEAD.as_millis() as i64);
        let due = (expires_at - ahead).max(now);
        let mut schedule = self.schedule.lock().unwrap_or_else(|e| e.into_inner());
        schedule.retain(|(_, id)| *id != account);
        schedule.insert((due, account));
        drop(schedule);
        self.wake.notify_one();
    }

    /// Runs scheduled refreshes until `shutdown` turns true. The account is taken from the pool
    /// as it is when the refresh is due.
    pub fn spawn_scheduler(
        self: &Arc<Self>,
        pool: Arc<Pool>,
        mut shutdown: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                let next = this.schedule.lock().unwrap_or_else(|e| e.into_inner()).first().copied();
                let wait = next.map(|(due, _)| Duration::from_millis((due - now_ms()).max(0) as u64));
                tokio::select! {
                    _ = crate::state::usage::stopped(&mut shutdown) => return,
                    _ = this.wake.notified() => continue,
                    _ = sleep_or_forever(wait) => {}
                }
                let Some((due, id)) = next else { continue };
                this.schedule.lock().unwrap_or_else(|e| e.into_inner()).remove(&(due, id));
                let Some(account) = pool.account(id) else { continue };
                if let Err(e) = this.refresh(&account).await {
                    tracing::warn!(account = %account.name, error = %e, "scheduled refresh failed; the next request will try again");
                }
            }
        })
    }

    fn gate(&self, id: u64) -> Arc<tokio::sync::Mutex<()>> {
        self.gates.lock().unwrap_or_else(|e| e.into_inner()).entry(id).or_default().clone()
    }

    async fn read(&self, id: u64) -> Result<Account, UpstreamError> {
        self.store.get_account(id).await.map_err(unavailable)?.ok_or_else(|| {
            UpstreamError::new(ErrorKind::Unauthorized).with_message("the account was deleted")
        })
    }
}

async fn sleep_or_forever(wait: Option<Duration>) {
    match wait {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// Has the stored account new secrets compared with the copy a caller holds?
fn renewed(stored: &Account, held: &AccountInfo) -> bool {
    stored.credential != held.credential || stored.state != held.state
}

impl crate::relay::Renew for Refresher {
    fn renew<'a>(
        &'a self,
        account: &'a AccountInfo,
    ) -> futures_util::future::BoxFuture<'a, Result<Option<Arc<AccountInfo>>, UpstreamError>> {
        Box::pin(self.refresh(account))
    }
}

fn unavailable(e: crate::store::StoreError) -> UpstreamError {
    UpstreamError::new(ErrorKind::Connect).with_message(format!("cannot refresh the credential: {e}"))
}

#[cfg(test)]
mod tests;
