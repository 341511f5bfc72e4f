//! What attempts teach, written to the store off the request path: account health after a
//! failure, and usage counters per (day, key, account, model).
//!
//! [`StoreObserver`] is the relay's [`Observer`]. A judged account's health is written at once
//! (in a spawned task: other instances should skip it too). Usage goes through a bounded channel
//! to one [`Recorder`] task, which adds it up and writes it every [`FLUSH_EVERY`] (and at
//! shutdown), together with the `last_used_at` of the accounts and keys it saw — at most once per
//! [`TOUCH_EVERY`] per record, since every record write is announced to every instance. If the
//! channel is full (the store is slow), usage is dropped with a warning rather than slowing
//! requests.

use crate::ir::{UpstreamError, Usage};
use crate::models::Model;
use crate::pool::{AccountInfo, HealthState, UNTIL_FIXED, Verdict};
use crate::relay::Observer;
use crate::store::{AccountPatch, ApiKeyPatch, Health, Session, Store, UsageDelta};
use crate::time::{day_of, now_ms};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How often gathered usage is written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// `last_used_at` is written at most this often per account or key.
pub const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// Attempts waiting to be counted; beyond this, counts are dropped (and logged).
const QUEUE: usize = 65_536;

pub struct StoreObserver {
    store: Arc<dyn Store>,
    usage: mpsc::Sender<UsageDelta>,
}

impl StoreObserver {
    /// The observer and the task that writes what it gathers; the task ends (after a last
    /// write) when `shutdown` turns true.
    pub fn start(
        store: Arc<dyn Store>,
        shutdown: watch::Receiver<bool>,
    ) -> (Arc<StoreObserver>, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let recorder = Recorder {
            store: store.clone(),
            rx,
            rows: HashMap::new(),
            accounts: HashSet::new(),
            keys: HashSet::new(),
            touched: HashMap::new(),
        };
        let task = tokio::spawn(recorder.run(shutdown));
        (Arc::new(StoreObserver { store, usage: tx }), task)
    }
}

impl Observer for StoreObserver {
    fn judged(&self, account: &AccountInfo, verdict: &Verdict, health: &HealthState, error: &UpstreamError) {
        // A failure that does not cool the account yet stays local: no write per flaky answer.
        if verdict.cooldown.is_some_and(|d| d.is_zero()) {
            return;
        }
        let health = Health {
            reason: health.reason,
            cooldown_until: health.cooldown_until.filter(|c| *c != UNTIL_FIXED),
            message: Some(error.kind().code().to_string()),
        };
        let patch = AccountPatch { health: Some(health), ..AccountPatch::default() };
        let (store, id) = (self.store.clone(), account.id);
        tokio::spawn(async move {
            if let Err(e) = store.update_account(id, patch).await {
                tracing::warn!(account = id, error = %e, "could not store an account's health");
            }
        });
    }

    fn session_bound(&self, session: &str, account: u64, ttl: Duration) {
        let (store, key) = (self.store.clone(), affinity_key(session));
        let session = Session { account_id: Some(account), data: None };
        tokio::spawn(async move {
            if let Err(e) = store.put_session(&key, session, ttl).await {
                tracing::warn!(error = %e, "could not share a session binding");
            }
        });
    }

    fn attempted(
        &self,
        account: &AccountInfo,
        model: &Model,
        key: Option<u64>,
        usage: &Usage,
        error: Option<&UpstreamError>,
    ) {
        let delta = UsageDelta {
            day: day_of(now_ms()),
            key_id: key,
            account_id: Some(account.id),
            model: model.id.clone(),
            requests: 1,
            errors: u64::from(error.is_some()),
            input_tokens: usage.input.unwrap_or(0),
            output_tokens: usage.output.unwrap_or(0),
            cache_read_tokens: usage.cache_read.unwrap_or(0),
            cache_write_tokens: usage.cache_write.unwrap_or(0),
        };
        if self.usage.try_send(delta).is_err() {
            tracing::warn!("usage queue full: an attempt was not counted");
        }
    }
}

/// Resolves once `shutdown` turns true (or its sender is gone).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// The store key of a session's account binding.
pub fn affinity_key(session: &str) -> String {
    format!("affinity:{session}")
}

/// Adds usage up between writes.
struct Recorder {
    store: Arc<dyn Store>,
    rx: mpsc::Receiver<UsageDelta>,
    rows: HashMap<(u32, Option<u64>, Option<u64>, String), UsageDelta>,
    accounts: HashSet<u64>,
    keys: HashSet<u64>,
    /// When each (is_key, id) last had its `last_used_at` written.
    touched: HashMap<(bool, u64), i64>,
}

impl Recorder {
    async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                delta = self.rx.recv() => match delta {
                    Some(delta) => self.add(delta),
                    None => break,
                },
                _ = tick.tick() => self.flush().await,
                _ = stopped(&mut shutdown) => break,
            }
        }
        while let Ok(delta) = self.rx.try_recv() {
            self.add(delta);
        }
        self.flush().await;
    }

    fn add(&mut self, d: UsageDelta) {
        self.accounts.extend(d.account_id);
        self.keys.extend(d.key_id);
        let row =
            self.rows.entry((d.day, d.key_id, d.account_id, d.model.clone())).or_insert_with(|| UsageDelta {
                day: d.day,
                key_id: d.key_id,
                account_id: d.account_id,
                model: d.model.clone(),
                ..UsageDelta::default()
            });
        row.requests += d.requests;
        row.errors += d.errors;
        row.input_tokens += d.input_tokens;
        row.output_tokens += d.output_tokens;
        row.cache_read_tokens += d.cache_read_tokens;
        row.cache_write_tokens += d.cache_write_tokens;
    }

    async fn flush(&mut self) {
        if self.rows.is_empty() {
            return;
        }
        let rows: Vec<UsageDelta> = std::mem::take(&mut self.rows).into_values().collect();
        if let Err(e) = self.store.record_usage(rows.clone()).await {
            tracing::warn!(error = %e, "could not store usage; keeping it for the next write");
            for row in rows {
                self.add(row);
            }
            return;
        }
        let now = now_ms();
        for id in std::mem::take(&mut self.accounts) {
            if self.due((false, id), now) {
                let patch = AccountPatch { last_used_at: Some(now), ..AccountPatch::default() };
                let _ = self.store.update_account(id, patch).await;
            }
        }
        for id in std::mem::take(&mut self.keys) {
            if self.due((true, id), now) {
                let patch = ApiKeyPatch { last_used_at: Some(now), ..ApiKeyPatch::default() };
                let _ = self.store.update_key(id, patch).await;
            }
        }
    }

    fn due(&mut self, what: (bool, u64), now: i64) -> bool {
        let last = self.touched.entry(what).or_insert(i64::MIN);
        if now.saturating_sub(*last) < TOUCH_EVERY.as_millis() as i64 {
            return false;
        }
        *last = now;
        true
    }
}
