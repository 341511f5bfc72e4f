//! Client API keys in memory: looked up by hash on every request, with the policy each key
//! carries (allowed models, requests per minute, concurrency, expiry, enabled).
//!
//! Keys are stored only as SHA-256 hashes; a presented key is hashed and looked up. The set is
//! rebuilt from the store when a key changes; the per-key concurrency semaphores live outside it
//! so that a rebuild does not forget requests in flight.

use crate::config::AuthMode;
use crate::store::{ApiKey, KeyHash, now_ms};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

/// A client key's identity and policy.
#[derive(Debug)]
pub struct ClientKey {
    pub id: u64,
    pub name: String,
    /// Model ids this key may use; empty = all.
    pub models: Vec<String>,
    pub rpm: Option<u32>,
    pub max_concurrency: Option<u32>,
    pub expires_at: Option<i64>,
    pub enabled: bool,
    /// Requests of this key in flight, when it has a concurrency limit.
    pub slots: Option<Arc<Semaphore>>,
}

impl ClientKey {
    pub fn allows(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| m == model)
    }

    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// Why a presented key is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Missing,
    Unknown,
    Disabled,
    Expired,
}

/// Every client key, by hash.
pub struct KeySet {
    mode: AuthMode,
    by_hash: HashMap<KeyHash, Arc<ClientKey>>,
}

/// Per-key semaphores, kept across rebuilds: (size, semaphore) by key id.
#[derive(Default)]
pub struct KeySlots(Mutex<HashMap<u64, (u32, Arc<Semaphore>)>>);

impl KeySlots {
    fn slots(&self, key: &ApiKey) -> Option<Arc<Semaphore>> {
        let limit = key.max_concurrency.filter(|n| *n > 0)?;
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let entry = all.entry(key.id).or_insert_with(|| (limit, Arc::new(Semaphore::new(limit as usize))));
        if entry.0 != limit {
            // A new limit starts a new semaphore; requests holding the old one finish on it.
            *entry = (limit, Arc::new(Semaphore::new(limit as usize)));
        }
        Some(entry.1.clone())
    }
}

impl KeySet {
    pub fn new(mode: AuthMode, keys: &[ApiKey], slots: &KeySlots) -> KeySet {
        let by_hash = keys
            .iter()
            .map(|k| {
                let client = ClientKey {
                    id: k.id,
                    name: k.name.clone(),
                    models: k.models.clone(),
                    rpm: k.rpm.filter(|n| *n > 0),
                    max_concurrency: k.max_concurrency,
                    expires_at: k.expires_at,
                    enabled: k.enabled,
                    slots: slots.slots(k),
                };
                (k.hash.clone(), Arc::new(client))
            })
            .collect();
        KeySet { mode, by_hash }
    }

    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// The key among `presented` that is known, enabled and unexpired; `Ok(None)` when
    /// authentication is off.
    pub fn check<'a>(
        &self,
        presented: impl IntoIterator<Item = &'a str>,
    ) -> Result<Option<Arc<ClientKey>>, Refusal> {
        if self.mode == AuthMode::None {
            return Ok(None);
        }
        let mut refusal = Refusal::Missing;
        for candidate in presented {
            let Some(key) = self.by_hash.get(&KeyHash::of(candidate)) else {
                refusal = refusal.max_with(Refusal::Unknown);
                continue;
            };
            if !key.enabled {
                refusal = refusal.max_with(Refusal::Disabled);
            } else if key.is_expired(now_ms()) {
                refusal = refusal.max_with(Refusal::Expired);
            } else {
                return Ok(Some(key.clone()));
            }
        }
        Err(refusal)
    }
}

impl Refusal {
    /// The most specific reason wins: a disabled or expired key says so even if another header
    /// carried garbage.
    fn max_with(self, other: Refusal) -> Refusal {
        let rank = |r: Refusal| match r {
            Refusal::Missing => 0,
            Refusal::Unknown => 1,
            Refusal::Expired => 2,
            Refusal::Disabled => 3,
        };
        if rank(other) > rank(self) { other } else { self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u64, secret: &str, f: impl FnOnce(&mut ApiKey)) -> ApiKey {
        let mut k = ApiKey {
            id,
            name: format!("k{id}"),
            hash: KeyHash::of(secret),
            prefix: "sk-o2a-…".into(),
            models: vec![],
            rpm: None,
            max_concurrency: None,
            expires_at: None,
            enabled: true,
            last_used_at: None,
            created_at: 0,
            updated_at: 0,
        };
        f(&mut k);
        k
    }

    #[test]
    fn keys_are_found_by_hash_and_refused_for_cause() {
        let slots = KeySlots::default();
        let set = KeySet::new(
            AuthMode::ApiKey,
            &[
                key(1, "good", |_| {}),
                key(2, "off", |k| k.enabled = false),
                key(3, "old", |k| k.expires_at = Some(1)),
                key(4, "limited", |k| k.max_concurrency = Some(2)),
            ],
            &slots,
        );
        assert_eq!(set.check(["good"]).unwrap().unwrap().id, 1);
        assert_eq!(set.check(["nope", "good"]).unwrap().unwrap().id, 1);
        assert_eq!(set.check([]).unwrap_err(), Refusal::Missing);
        assert_eq!(set.check(["nope"]).unwrap_err(), Refusal::Unknown);
        assert_eq!(set.check(["off"]).unwrap_err(), Refusal::Disabled);
        assert_eq!(set.check(["nope", "old"]).unwrap_err(), Refusal::Expired);
        let limited = set.check(["limited"]).unwrap().unwrap();
        assert_eq!(limited.slots.as_ref().unwrap().available_permits(), 2);
        let open = KeySet::new(AuthMode::None, &[], &slots);
        assert!(open.check([]).unwrap().is_none());
    }

    #[test]
    fn concurrency_slots_survive_a_rebuild() {
        let slots = KeySlots::default();
        let k = key(1, "s", |k| k.max_concurrency = Some(1));
        let first = KeySet::new(AuthMode::ApiKey, std::slice::from_ref(&k), &slots);
        let held = first.check(["s"]).unwrap().unwrap().slots.clone().unwrap().try_acquire_owned().unwrap();
        let again = KeySet::new(AuthMode::ApiKey, &[k], &slots);
        assert_eq!(again.check(["s"]).unwrap().unwrap().slots.as_ref().unwrap().available_permits(), 0);
        drop(held);
    }
}
