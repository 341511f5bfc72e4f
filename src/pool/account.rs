//! One account as the pool holds it: what rarely changes ([`AccountInfo`], rebuilt with the
//! snapshot) and what changes on every request ([`Live`], atomics that survive rebuilds).

use super::health::Reason;
use crate::channels::ChannelKind;
use crate::secret::Secret;
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU32, Ordering};

/// `cooldown_until` value meaning "out until an operator acts".
pub const UNTIL_FIXED: i64 = i64::MAX;
/// `quota_remaining` value meaning "unknown".
const QUOTA_UNKNOWN: i64 = i64::MIN;

/// An account's settings, as of the last snapshot.
#[derive(Debug, Clone)]
pub struct AccountInfo {
    pub id: u64,
    pub channel: ChannelKind,
    pub name: String,
    /// The API root the channel calls.
    pub base_url: String,
    pub credential: Secret,
    /// Share of traffic relative to the tier's other accounts (≥ 1).
    pub weight: u32,
    /// Lower tiers are used first; a higher tier only when no lower account can serve.
    pub priority: u32,
    pub enabled: bool,
    /// Requests in flight at once; 0 = unlimited.
    pub max_concurrency: u32,
    /// Models this account may serve; `None` = every model of its channel.
    pub models: Option<Vec<String>>,
    /// Channel-owned state (cached tokens, upstream ids), as the store holds it.
    pub state: Option<Secret>,
}

impl AccountInfo {
    pub fn serves(&self, model: &str) -> bool {
        self.models.as_ref().is_none_or(|m| m.iter().any(|x| x == model))
    }
}

/// The health an account starts a snapshot with (as the store last recorded it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealthState {
    pub reason: Option<Reason>,
    /// Unix ms; [`UNTIL_FIXED`] for "until an operator acts"; `None` = not cooling.
    pub cooldown_until: Option<i64>,
    pub quota_remaining: Option<i64>,
    pub quota_reset_at: Option<i64>,
}

/// Per-account state shared by every request: plain atomics, no locks.
#[derive(Debug)]
pub struct Live {
    pub(super) in_flight: AtomicU32,
    cooldown_until: AtomicI64,
    reason: AtomicU8,
    streak: AtomicU32,
    last_used: AtomicI64,
    quota_remaining: AtomicI64,
    quota_reset_at: AtomicI64,
    /// Quotas of parts of the account (grok's per-mode windows); replaced whole on update.
    scoped: ArcSwap<Vec<ScopedQuota>>,
}

/// What is left of one part of an account's quota (one grok mode), as its upstream last said.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScopedQuota {
    pub scope: String,
    pub remaining: i64,
    pub total: Option<i64>,
    /// Unix ms when an exhausted quota is expected back.
    pub reset_at: Option<i64>,
    /// Unix ms of the reading.
    pub checked_at: i64,
}

impl ScopedQuota {
    fn blocks(&self, now: i64) -> bool {
        self.remaining <= 0 && self.reset_at.is_none_or(|r| r > now)
    }
}

impl Default for Live {
    fn default() -> Self {
        Live {
            in_flight: AtomicU32::new(0),
            cooldown_until: AtomicI64::new(0),
            reason: AtomicU8::new(0),
            streak: AtomicU32::new(0),
            last_used: AtomicI64::new(0),
            quota_remaining: AtomicI64::new(QUOTA_UNKNOWN),
            quota_reset_at: AtomicI64::new(0),
            scoped: ArcSwap::default(),
        }
    }
}

impl Live {
    /// Not cooling down and with quota left (or a quota whose window has reset).
    pub fn is_available(&self, now: i64) -> bool {
        if self.cooldown_until.load(Ordering::Relaxed) > now {
            return false;
        }
        let remaining = self.quota_remaining.load(Ordering::Relaxed);
        !(remaining != QUOTA_UNKNOWN && remaining <= 0 && self.quota_reset_at.load(Ordering::Relaxed) > now)
    }

    /// [`Live::is_available`], and the quota of `scope` (when there is one) not used up.
    pub fn is_available_in(&self, now: i64, scope: Option<&str>) -> bool {
        self.is_available(now)
            && scope.is_none_or(|s| !self.scoped.load().iter().any(|q| q.scope == s && q.blocks(now)))
    }

    /// The per-scope quotas last recorded.
    pub fn scoped_quotas(&self) -> Arc<Vec<ScopedQuota>> {
        self.scoped.load_full()
    }

    pub(super) fn set_scoped_quota(&self, quota: ScopedQuota) {
        self.scoped.rcu(|current| {
            let mut next: Vec<ScopedQuota> =
                current.iter().filter(|q| q.scope != quota.scope).cloned().collect();
            next.push(quota.clone());
            next
        });
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// When the account is usable again (Unix ms), if it is cooling or out of quota.
    pub fn available_at(&self, now: i64, scope: Option<&str>) -> Option<i64> {
        let cooldown = self.cooldown_until.load(Ordering::Relaxed);
        let scoped = scope.and_then(|s| {
            let quotas = self.scoped.load();
            quotas.iter().find(|q| q.scope == s && q.blocks(now)).map(|q| q.reset_at.unwrap_or(i64::MAX))
        });
        let remaining = self.quota_remaining.load(Ordering::Relaxed);
        let reset = self.quota_reset_at.load(Ordering::Relaxed);
        let quota = (remaining != QUOTA_UNKNOWN && remaining <= 0 && reset > now).then_some(reset);
        // An account out until an operator acts has no comeback time.
        if cooldown == UNTIL_FIXED {
            return None;
        }
        if scoped == Some(i64::MAX) {
            return None;
        }
        [Some(cooldown).filter(|c| *c > now), quota, scoped].into_iter().flatten().max()
    }

    pub fn health(&self) -> HealthState {
        let remaining = self.quota_remaining.load(Ordering::Relaxed);
        let reset = self.quota_reset_at.load(Ordering::Relaxed);
        HealthState {
            reason: Reason::from_code(self.reason.load(Ordering::Relaxed)),
            cooldown_until: Some(self.cooldown_until.load(Ordering::Relaxed)).filter(|c| *c != 0),
            quota_remaining: (remaining != QUOTA_UNKNOWN).then_some(remaining),
            quota_reset_at: (reset != 0).then_some(reset),
        }
    }

    pub fn streak(&self) -> u32 {
        self.streak.load(Ordering::Relaxed)
    }

    pub fn last_used(&self) -> Option<i64> {
        Some(self.last_used.load(Ordering::Relaxed)).filter(|t| *t != 0)
    }

    pub(super) fn set_health(&self, health: &HealthState) {
        self.reason.store(health.reason.map(Reason::code).unwrap_or(0), Ordering::Relaxed);
        self.cooldown_until.store(health.cooldown_until.unwrap_or(0), Ordering::Relaxed);
        self.quota_remaining.store(health.quota_remaining.unwrap_or(QUOTA_UNKNOWN), Ordering::Relaxed);
        self.quota_reset_at.store(health.quota_reset_at.unwrap_or(0), Ordering::Relaxed);
        if health.reason.is_none() {
            self.streak.store(0, Ordering::Relaxed);
        }
    }

    pub(super) fn note_success(&self, now: i64) {
        self.streak.store(0, Ordering::Relaxed);
        self.last_used.store(now, Ordering::Relaxed);
        // A success proves a short `upstream_error` cooldown stale; other reasons keep their
        // deadlines (a rate-limited account may still answer one in-flight request).
        if Reason::from_code(self.reason.load(Ordering::Relaxed)) == Some(Reason::UpstreamError) {
            self.reason.store(0, Ordering::Relaxed);
        }
    }

    /// Counts a failure; returns the streak including it.
    pub(super) fn note_failure(&self, now: i64) -> u32 {
        self.last_used.store(now, Ordering::Relaxed);
        self.streak.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(super) fn cool_down(&self, reason: Reason, until: i64) {
        self.reason.store(reason.code(), Ordering::Relaxed);
        // Never shorten a longer cooldown another request set meanwhile.
        self.cooldown_until.fetch_max(until, Ordering::Relaxed);
    }

    pub(super) fn set_quota(&self, remaining: Option<i64>, reset_at: Option<i64>) {
        self.quota_remaining.store(remaining.unwrap_or(QUOTA_UNKNOWN), Ordering::Relaxed);
        self.quota_reset_at.store(reset_at.unwrap_or(0), Ordering::Relaxed);
    }
}
