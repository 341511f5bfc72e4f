//! Accounts in memory and the choice of one for a request.
//!
//! An **account** is one operator-owned credential on one channel. The pool holds them per
//! channel and picks one per attempt: the lowest priority tier first, spread round-robin within
//! it. Selection reads only memory; the store (and its change feed) rebuild the pool.

use crate::channels::ChannelKind;
use crate::config::AccountSeed;
use crate::secret::Secret;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One upstream account.
#[derive(Debug)]
pub struct Account {
    pub id: u64,
    pub name: String,
    pub channel: ChannelKind,
    /// The API root the channel calls (official SDK convention).
    pub base_url: String,
    pub credential: Secret,
    pub weight: u32,
    pub priority: u32,
}

/// The accounts of every channel.
#[derive(Default)]
pub struct Pool {
    by_channel: HashMap<ChannelKind, Tier>,
}

/// The enabled accounts of one channel that share its lowest priority.
struct Tier {
    accounts: Vec<Arc<Account>>,
    next: AtomicUsize,
}

impl Pool {
    pub fn from_seeds(seeds: &[AccountSeed]) -> Pool {
        let mut by_channel: HashMap<ChannelKind, Vec<Arc<Account>>> = HashMap::new();
        for (i, seed) in seeds.iter().enumerate().filter(|(_, s)| s.enabled) {
            by_channel.entry(seed.channel).or_default().push(Arc::new(Account {
                id: i as u64 + 1,
                name: seed.name.clone(),
                channel: seed.channel,
                base_url: seed.base_url_or_default().unwrap_or_default().to_string(),
                credential: seed.credential.clone(),
                weight: seed.weight,
                priority: seed.priority,
            }));
        }
        let by_channel = by_channel
            .into_iter()
            .map(|(channel, accounts)| {
                let best = accounts.iter().map(|a| a.priority).min().unwrap_or(0);
                let accounts = accounts.into_iter().filter(|a| a.priority == best).collect();
                (channel, Tier { accounts, next: AtomicUsize::new(0) })
            })
            .collect();
        Pool { by_channel }
    }

    /// An account of `channel` for the next attempt.
    pub fn pick(&self, channel: ChannelKind) -> Option<Arc<Account>> {
        let tier = self.by_channel.get(&channel)?;
        let n = tier.next.fetch_add(1, Ordering::Relaxed);
        tier.accounts.get(n % tier.accounts.len().max(1)).cloned()
    }

    pub fn serves(&self, channel: ChannelKind) -> bool {
        self.by_channel.get(&channel).is_some_and(|t| !t.accounts.is_empty())
    }
}
