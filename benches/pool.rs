//! `Pool::pick` (and dropping its lease) with 1, 100 and 10 000 accounts, on one thread and from
//! every core at once, against the naive alternative: a `Mutex<Vec<_>>` scanned for the least
//! loaded account.
//!
//! Ids: `pool/pick/<n>_accounts/<threads>_threads`, `pool/mutex_scan/<n>_accounts/<threads>_threads`.
//! Figures are per pick, i.e. the time of one thread's pick under that contention.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use orchids2api::channels::ChannelKind;
use orchids2api::pool::{AccountInfo, AccountSpec, HealthState, Pool};
use orchids2api::secret::Secret;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SIZES: [usize; 3] = [1, 100, 10_000];
const TTL: Duration = Duration::from_secs(600);

fn spec(id: u64) -> AccountSpec {
    AccountSpec {
        info: AccountInfo {
            id,
            channel: ChannelKind::OpenAi,
            name: format!("account-{id}"),
            base_url: "http://127.0.0.1:1/v1".into(),
            credential: Secret::new("k"),
            weight: 1 + (id % 3) as u32,
            priority: 0,
            enabled: true,
            max_concurrency: 0,
            models: None,
            state: None,
        },
        health: HealthState::default(),
    }
}

fn pool_of(n: usize) -> Arc<Pool> {
    let pool = Pool::default();
    pool.replace((1..=n as u64).map(spec));
    Arc::new(pool)
}

/// The naive selector: lock, scan for the least loaded, count it in flight, unlock.
struct MutexPool(Mutex<Vec<(u64, u32, u32)>>);

impl MutexPool {
    fn pick(&self) -> u64 {
        let mut accounts = self.0.lock().unwrap();
        let best =
            accounts.iter_mut().min_by_key(|(_, in_flight, weight)| (*in_flight * 6) / *weight).unwrap();
        best.1 += 1;
        let id = best.0;
        drop(accounts);
        let mut accounts = self.0.lock().unwrap();
        if let Some(a) = accounts.iter_mut().find(|a| a.0 == id) {
            a.1 -= 1;
        }
        id
    }
}

/// Runs `per_thread` picks on each of `threads` threads at once; returns the mean time per pick
/// as one thread experiences it.
fn contended(threads: usize, iters: u64, pick: impl Fn() + Sync) -> Duration {
    let per_thread = iters.div_ceil(threads as u64);
    let barrier = std::sync::Barrier::new(threads);
    let total: Duration = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..per_thread {
                        pick();
                    }
                    start.elapsed()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    total / threads as u32
}

fn bench(c: &mut Criterion) {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let mut group = c.benchmark_group("pool");
    for n in SIZES {
        let pool = pool_of(n);
        let naive = MutexPool(Mutex::new((1..=n as u64).map(|id| (id, 0, 1 + (id % 3) as u32)).collect()));
        for threads in [1, cores] {
            let id = format!("{n}_accounts/{threads}_threads");
            group.bench_function(BenchmarkId::new("pick", &id), |b| {
                b.iter_custom(|iters| {
                    contended(threads, iters, || {
                        let lease = pool.pick(ChannelKind::OpenAi, "m", None, TTL, &[]).unwrap();
                        black_box(lease.account().id);
                    })
                })
            });
            group.bench_function(BenchmarkId::new("mutex_scan", &id), |b| {
                b.iter_custom(|iters| {
                    contended(threads, iters, || {
                        black_box(naive.pick());
                    })
                })
            });
        }
        // With a session: the bound account is looked up first.
        group.bench_function(BenchmarkId::new("pick_with_session", format!("{n}_accounts/1_threads")), |b| {
            b.iter(|| {
                let lease = pool.pick(ChannelKind::OpenAi, "m", Some("session-1"), TTL, &[]).unwrap();
                black_box(lease.account().id);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
