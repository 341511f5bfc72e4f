//! Session affinity: a conversation keeps using the account it started on, so upstream prompt
//! caches and server-side conversations stay warm.
//!
//! A **binding** maps a session id (Claude Code's session header, `metadata.user_id`, OpenAI's
//! `prompt_cache_key`, ...) to an account id until it expires. The pool consults it before
//! choosing, binds the account it chose, and rebinds when the bound account cannot serve.
//!
//! **Limits**: at most [`MAX_BINDINGS`] bindings; past that, expired ones are dropped first, then
//! the oldest of the shard. The map is split in [`SHARDS`] locked shards, so concurrent requests
//! rarely wait for one another; a lock is held for one hash-map operation.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const SHARDS: usize = 16;
pub const MAX_BINDINGS: usize = 200_000;

pub struct Affinity {
    shards: Vec<Mutex<HashMap<Box<str>, Binding>>>,
    hasher: RandomState,
}

#[derive(Clone, Copy)]
struct Binding {
    account: u64,
    expires: Instant,
    created: Instant,
}

impl Default for Affinity {
    fn default() -> Self {
        Affinity {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl Affinity {
    fn shard(&self, session: &str) -> &Mutex<HashMap<Box<str>, Binding>> {
        &self.shards[self.hasher.hash_one(session) as usize % SHARDS]
    }

    /// The account `session` is bound to, if the binding has not expired.
    pub fn get(&self, session: &str) -> Option<u64> {
        let shard = self.shard(session).lock().unwrap_or_else(|e| e.into_inner());
        shard.get(session).filter(|b| b.expires > Instant::now()).map(|b| b.account)
    }

    /// Binds (or rebinds) `session` to `account` for `ttl`.
    pub fn bind(&self, session: &str, account: u64, ttl: Duration) {
        let now = Instant::now();
        let mut shard = self.shard(session).lock().unwrap_or_else(|e| e.into_inner());
        if shard.len() >= MAX_BINDINGS / SHARDS && !shard.contains_key(session) {
            shard.retain(|_, b| b.expires > now);
            if shard.len() >= MAX_BINDINGS / SHARDS
                && let Some(oldest) = shard.iter().min_by_key(|(_, b)| b.created).map(|(k, _)| k.clone())
            {
                shard.remove(&oldest);
            }
        }
        shard.insert(session.into(), Binding { account, expires: now + ttl, created: now });
    }

    /// Drops the binding if it still points at `account`.
    pub fn unbind(&self, session: &str, account: u64) {
        let mut shard = self.shard(session).lock().unwrap_or_else(|e| e.into_inner());
        if shard.get(session).is_some_and(|b| b.account == account) {
            shard.remove(session);
        }
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_expire_rebind_and_unbind_only_their_account() {
        let a = Affinity::default();
        a.bind("s1", 7, Duration::from_secs(60));
        assert_eq!(a.get("s1"), Some(7));
        a.unbind("s1", 8);
        assert_eq!(a.get("s1"), Some(7), "unbinding another account leaves it");
        a.bind("s1", 8, Duration::from_secs(60));
        assert_eq!(a.get("s1"), Some(8));
        a.unbind("s1", 8);
        assert_eq!(a.get("s1"), None);
        a.bind("s2", 1, Duration::ZERO);
        assert_eq!(a.get("s2"), None, "expired");
    }

    #[test]
    fn the_map_stays_bounded() {
        let a = Affinity::default();
        for i in 0..(MAX_BINDINGS + 5_000) {
            a.bind(&format!("session-{i}"), i as u64, Duration::from_secs(60));
        }
        assert!(a.len() <= MAX_BINDINGS, "{}", a.len());
        assert_eq!(a.get(&format!("session-{}", MAX_BINDINGS + 4_999)), Some((MAX_BINDINGS + 4_999) as u64));
    }
}
