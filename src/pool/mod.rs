//! Accounts in memory and the choice of one per attempt, in well under a microsecond.
//!
//! An **account** is one operator-owned credential on one channel. The pool keeps, per channel,
//! an immutable [`Snapshot`] of the accounts' settings, swapped atomically when the store says
//! something changed, and per account a [`Live`] record of atomics (requests in flight, cooldown
//! deadline, failure streak, quota) that survives snapshot swaps. [`Pool::pick`] only loads the
//! snapshot and reads atomics: no lock, no allocation on the common path.
//!
//! **Pick**: among accounts that are enabled, serve the model, are not cooling down, are under
//! their concurrency cap, have quota left and were not tried yet for this request → the lowest
//! priority tier that has any → weighted least-in-flight by power of two random choices. A
//! session id, when given, sticks to its bound account while that account can serve
//! ([`affinity`]).
//!
//! A [`Lease`] is the right to use an account for one attempt: it counts as in flight until it is
//! dropped, and carries the attempt's outcome back ([`Lease::succeed`], [`Lease::fail`]). A lease
//! dropped without an outcome (the client went away) costs the account nothing.
//!
//! Races: two requests may both see an account under its cap; the second `fetch_add` notices and
//! backs off. A snapshot swap during a pick lets that pick use the previous snapshot — harmless,
//! the [`Live`] records are shared.

pub mod account;
pub mod affinity;
pub mod health;

pub use crate::time::now_ms;
pub use account::{AccountInfo, HealthState, Live, ScopedQuota, UNTIL_FIXED};
pub use health::{Reason, Verdict};

use crate::channels::ChannelKind;
use crate::ir::UpstreamError;
use arc_swap::ArcSwap;
use std::cell::Cell;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Random probes of a tier before falling back to a scan of it.
const PROBES: usize = 8;

/// An account in a snapshot: its settings and its live state.
#[derive(Clone, Debug)]
struct Entry {
    info: Arc<AccountInfo>,
    live: Arc<Live>,
}

/// The accounts of one channel, sorted by priority, with the tiers' ranges.
#[derive(Debug, Default)]
pub struct Snapshot {
    entries: Vec<Entry>,
    tiers: Vec<Range<usize>>,
    by_id: HashMap<u64, usize>,
}

/// An account with the health it starts with.
#[derive(Debug, Clone)]
pub struct AccountSpec {
    pub info: AccountInfo,
    pub health: HealthState,
}

/// No account can serve the attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoAccount {
    /// The earliest time (Unix ms) an account of the channel that serves the model becomes
    /// usable again, if one is only cooling down.
    pub retry_at: Option<i64>,
}

pub struct Pool {
    channels: HashMap<ChannelKind, ArcSwap<Snapshot>>,
    /// Live records by account id, kept across rebuilds.
    lives: Mutex<HashMap<u64, Arc<Live>>>,
    affinity: affinity::Affinity,
}

impl Default for Pool {
    fn default() -> Self {
        Pool {
            channels: ChannelKind::ALL
                .into_iter()
                .map(|k| (k, ArcSwap::from_pointee(Snapshot::default())))
                .collect(),
            lives: Mutex::new(HashMap::new()),
            affinity: affinity::Affinity::default(),
        }
    }
}

impl Pool {
    /// Replaces every channel's accounts. Live state of accounts that stay is kept, except the
    /// health, which is taken from the specs (the store's latest word: an operator's reset or
    /// another instance's cooldown).
    pub fn replace(&self, specs: impl IntoIterator<Item = AccountSpec>) {
        let mut lives = self.lives.lock().unwrap_or_else(|e| e.into_inner());
        let mut by_channel: HashMap<ChannelKind, Vec<Entry>> = HashMap::new();
        let mut kept = HashMap::new();
        for spec in specs {
            let live = lives.remove(&spec.info.id).unwrap_or_default();
            live.set_health(&spec.health);
            kept.insert(spec.info.id, live.clone());
            by_channel.entry(spec.info.channel).or_default().push(Entry { info: Arc::new(spec.info), live });
        }
        *lives = kept;
        for (kind, slot) in &self.channels {
            slot.store(Arc::new(Snapshot::build(by_channel.remove(kind).unwrap_or_default())));
        }
    }

    /// Puts one account in, new or replacing the one with its id (its channel may have
    /// changed); every other account stays as it is. Its health is taken from the spec.
    pub fn upsert(&self, spec: AccountSpec) {
        let mut lives = self.lives.lock().unwrap_or_else(|e| e.into_inner());
        let id = spec.info.id;
        let live = lives.entry(id).or_default().clone();
        live.set_health(&spec.health);
        for (kind, slot) in &self.channels {
            let current = slot.load();
            let mut entries: Vec<Entry> =
                current.entries.iter().filter(|e| e.info.id != id).cloned().collect();
            if *kind == spec.info.channel {
                entries.push(Entry { info: Arc::new(spec.info.clone()), live: live.clone() });
            } else if entries.len() == current.entries.len() {
                continue;
            }
            slot.store(Arc::new(Snapshot::build(entries)));
        }
    }

    /// Takes an account out (deleted). Requests holding its lease finish normally.
    pub fn remove(&self, id: u64) {
        let mut lives = self.lives.lock().unwrap_or_else(|e| e.into_inner());
        lives.remove(&id);
        for slot in self.channels.values() {
            let current = slot.load();
            if current.by_id.contains_key(&id) {
                let entries = current.entries.iter().filter(|e| e.info.id != id).cloned().collect();
                slot.store(Arc::new(Snapshot::build(entries)));
            }
        }
    }

    /// Applies health learned elsewhere (another instance, an operator) to one account.
    pub fn set_health(&self, id: u64, health: &HealthState) {
        if let Some(live) = self.lives.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
            live.set_health(health);
        }
    }

    /// Records what the upstream says is left of an account's quota.
    pub fn set_quota(&self, id: u64, remaining: Option<i64>, reset_at: Option<i64>) {
        if let Some(live) = self.lives.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
            live.set_quota(remaining, reset_at);
        }
    }

    /// Does `channel` have an enabled account that serves `model`, cooling or not?
    pub fn serves(&self, channel: ChannelKind, model: &str) -> bool {
        self.snapshot(channel).entries.iter().any(|e| e.info.enabled && e.info.serves(model))
    }

    /// The account with this id, as of the current snapshot.
    pub fn account(&self, id: u64) -> Option<Arc<AccountInfo>> {
        self.channels.values().find_map(|slot| {
            let snapshot = slot.load();
            snapshot.by_id.get(&id).map(|&i| snapshot.entries[i].info.clone())
        })
    }

    /// Every account of `channel` with its live state, for admin views.
    pub fn accounts(&self, channel: ChannelKind) -> Vec<(Arc<AccountInfo>, Arc<Live>)> {
        self.snapshot(channel).entries.iter().map(|e| (e.info.clone(), e.live.clone())).collect()
    }

    fn snapshot(&self, channel: ChannelKind) -> arc_swap::Guard<Arc<Snapshot>> {
        self.channels[&channel].load()
    }

    /// Records what is left of one scope of an account's quota (one grok mode).
    pub fn set_scoped_quota(&self, id: u64, quota: ScopedQuota) {
        if let Some(live) = self.lives.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
            live.set_scoped_quota(quota);
        }
    }

    /// The last reading of one scope of an account's quota.
    pub fn scoped_quota(&self, id: u64, scope: &str) -> Option<ScopedQuota> {
        let lives = self.lives.lock().unwrap_or_else(|e| e.into_inner());
        lives.get(&id)?.scoped_quotas().iter().find(|q| q.scope == scope).cloned()
    }

    /// Chooses an account of `channel` for one attempt at `model`, skipping `tried` accounts.
    /// With a `session`, the session's bound account is preferred and the choice is bound for
    /// `session_ttl`.
    pub fn pick(
        &self,
        channel: ChannelKind,
        model: &str,
        session: Option<&str>,
        session_ttl: Duration,
        tried: &[u64],
    ) -> Result<Lease, NoAccount> {
        let snapshot = self.snapshot(channel);
        let now = now_ms();
        let scope = crate::channels::quota_scope(channel, model);
        let usable = |e: &Entry| {
            e.info.enabled
                && e.info.serves(model)
                && e.live.is_available_in(now, scope)
                && !tried.contains(&e.info.id)
        };
        if let Some(session) = session
            && let Some(bound) = self.affinity.get(session)
        {
            if let Some(entry) = snapshot.by_id.get(&bound).map(|&i| &snapshot.entries[i])
                && usable(entry)
                && let Some(lease) = Lease::acquire(entry)
            {
                return Ok(lease);
            }
            self.affinity.unbind(session, bound);
        }
        for tier in &snapshot.tiers {
            // A full account is found unusable at acquire time; a few retries find another.
            for _ in 0..PROBES {
                let Some(entry) = choose(&snapshot.entries[tier.clone()], &usable) else { break };
                if let Some(lease) = Lease::acquire(entry) {
                    if let Some(session) = session {
                        self.affinity.bind(session, entry.info.id, session_ttl);
                    }
                    return Ok(lease);
                }
            }
        }
        let retry_at = snapshot
            .entries
            .iter()
            .filter(|e| e.info.enabled && e.info.serves(model))
            .filter_map(|e| e.live.available_at(now, scope))
            .min();
        Err(NoAccount { retry_at })
    }

    /// The account `session` is bound to on this instance, if any.
    pub fn bound(&self, session: &str) -> Option<u64> {
        self.affinity.get(session)
    }

    /// Binds `session` to `account` (a binding learned from another instance).
    pub fn bind(&self, session: &str, account: u64, ttl: Duration) {
        self.affinity.bind(session, account, ttl);
    }

    /// Forgets a session's binding to `account` (it failed; the next pick rebinds).
    pub fn unbind(&self, session: &str, account: u64) {
        self.affinity.unbind(session, account);
    }
}

impl Snapshot {
    fn build(mut entries: Vec<Entry>) -> Snapshot {
        entries.sort_by_key(|e| (e.info.priority, e.info.id));
        let mut tiers: Vec<Range<usize>> = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            match tiers.last_mut() {
                Some(t) if entries[t.start].info.priority == e.info.priority => t.end = i + 1,
                _ => tiers.push(i..i + 1),
            }
        }
        let by_id = entries.iter().enumerate().map(|(i, e)| (e.info.id, i)).collect();
        Snapshot { entries, tiers, by_id }
    }
}

/// Power of two random choices among the usable entries of a tier, weighted by least in flight.
fn choose<'a>(tier: &'a [Entry], usable: &impl Fn(&Entry) -> bool) -> Option<&'a Entry> {
    let (a, b) = match tier {
        [] => return None,
        [only] => return usable(only).then_some(only),
        _ => sample_two(tier, usable)?,
    };
    Some(match b {
        Some(b) if lighter(b, a) => b,
        _ => a,
    })
}

/// Two distinct usable entries (or one, if only one is usable): random probes first, a scan
/// with reservoir sampling when the probes miss (most of the tier unusable).
fn sample_two<'a>(
    tier: &'a [Entry],
    usable: &impl Fn(&Entry) -> bool,
) -> Option<(&'a Entry, Option<&'a Entry>)> {
    let n = tier.len();
    let mut found: [Option<usize>; 2] = [None, None];
    for _ in 0..PROBES {
        let i = random_below(n);
        if found[0] == Some(i) || !usable(&tier[i]) {
            continue;
        }
        if found[0].is_none() {
            found[0] = Some(i);
        } else {
            found[1] = Some(i);
            break;
        }
    }
    if found[0].is_none() {
        let mut seen = 0usize;
        for (i, e) in tier.iter().enumerate() {
            if !usable(e) {
                continue;
            }
            seen += 1;
            if seen <= 2 {
                found[seen - 1] = Some(i);
            } else {
                let r = random_below(seen);
                if r < 2 {
                    found[r] = Some(i);
                }
            }
        }
    }
    let first = &tier[found[0]?];
    Some((first, found[1].map(|i| &tier[i])))
}

/// Is `a` less loaded than `b`, relative to their weights?
fn lighter(a: &Entry, b: &Entry) -> bool {
    let (la, lb) = (u64::from(a.live.in_flight()), u64::from(b.live.in_flight()));
    la * u64::from(b.info.weight.max(1)) < lb * u64::from(a.info.weight.max(1))
}

/// A fast per-thread random number below `n` (xorshift; selection needs spread, not secrecy).
fn random_below(n: usize) -> usize {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(rand::random::<u64>() | 1);
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        ((x >> 32) as usize * n) >> 32
    })
}

/// The use of one account for one attempt. Counts as in flight until dropped.
#[derive(Debug)]
pub struct Lease {
    info: Arc<AccountInfo>,
    live: Arc<Live>,
}

impl Lease {
    /// Takes a slot under the account's concurrency cap, if there is one free.
    fn acquire(entry: &Entry) -> Option<Lease> {
        let before = entry.live.in_flight.fetch_add(1, Ordering::AcqRel);
        let cap = entry.info.max_concurrency;
        if cap > 0 && before >= cap {
            entry.live.in_flight.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Lease { info: entry.info.clone(), live: entry.live.clone() })
    }

    pub fn account(&self) -> &Arc<AccountInfo> {
        &self.info
    }

    pub fn live(&self) -> &Live {
        &self.live
    }

    /// The attempt succeeded: the failure streak ends.
    pub fn succeed(&self) {
        self.live.note_success(now_ms());
    }

    /// The attempt failed with `error`: judges it and cools the account down accordingly.
    /// Returns the verdict (to persist and log), `None` if the request itself was at fault.
    pub fn fail(&self, error: &UpstreamError) -> Option<Verdict> {
        let now = now_ms();
        let streak = self.live.note_failure(now);
        let verdict = health::judge(error, streak)?;
        match verdict.cooldown {
            Some(d) if d.is_zero() => {}
            Some(d) => self.live.cool_down(verdict.reason, now.saturating_add(d.as_millis() as i64)),
            None => self.live.cool_down(verdict.reason, UNTIL_FIXED),
        }
        Some(verdict)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.live.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests;
