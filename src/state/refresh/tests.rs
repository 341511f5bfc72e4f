use super::*;
use crate::channels::{Call, Channel, ChannelKind, EventStream};
use crate::secret::Secret;
use crate::store::NewAccount;
use crate::store::crypto::Cipher;
use crate::store::embedded::EmbeddedStore;
use crate::store::redis::RedisStore;
use futures_util::future::BoxFuture;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A channel whose refresh rotates the credential (`gen-N`) and takes a while, counting calls.
struct Rotating {
    refreshes: Arc<AtomicUsize>,
}

impl Channel for Rotating {
    fn call(&self, _call: Call) -> BoxFuture<'static, Result<EventStream, UpstreamError>> {
        Box::pin(async { Err(UpstreamError::new(ErrorKind::Unauthorized)) })
    }
    fn check(&self, _account: Arc<AccountInfo>) -> BoxFuture<'static, Result<(), UpstreamError>> {
        Box::pin(async { Ok(()) })
    }
    fn refresh(
        &self,
        _account: Arc<AccountInfo>,
    ) -> Option<BoxFuture<'static, Result<Refreshed, UpstreamError>>> {
        let refreshes = self.refreshes.clone();
        Some(Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let n = refreshes.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(Refreshed {
                credential: Some(Secret::new(format!("gen-{n}"))),
                state: Some(Secret::new(format!("session-{n}"))),
                expires_at: Some(now_ms() + 3_600_000),
            })
        }))
    }
}

fn channels(refreshes: &Arc<AtomicUsize>) -> Channels {
    let mut channels = Channels::default();
    channels.insert(ChannelKind::Warp, Arc::new(Rotating { refreshes: refreshes.clone() }));
    channels
}

async fn account(store: &dyn Store) -> AccountInfo {
    let a = store
        .create_account(NewAccount {
            channel: ChannelKind::Warp,
            name: "w".into(),
            credential: Secret::new("refresh-token-0"),
            base_url: None,
            weight: 1,
            priority: 0,
            enabled: true,
            max_concurrency: 0,
        })
        .await
        .unwrap();
    crate::state::spec(&a).info
}

fn temp_dir() -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("o2a-refresh-{}-{:x}", std::process::id(), rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn concurrent_refreshes_of_one_account_run_once_and_persist_before_use() {
    let dir = temp_dir();
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&dir, Cipher::plain()).await.unwrap());
    let refreshes = Arc::new(AtomicUsize::new(0));
    let refresher = Refresher::new(store.clone(), channels(&refreshes));
    let stale = account(store.as_ref()).await;
    let results = futures_util::future::join_all((0..10).map(|_| refresher.refresh(&stale))).await;
    assert_eq!(refreshes.load(Ordering::SeqCst), 1, "one refresh for ten callers");
    for r in results {
        assert_eq!(r.unwrap().unwrap().credential.expose(), "gen-1");
    }
    let stored = store.get_account(stale.id).await.unwrap().unwrap();
    assert_eq!(stored.credential.expose(), "gen-1");
    assert_eq!(stored.state.as_ref().map(|s| s.expose().to_string()).as_deref(), Some("session-1"));
    assert_eq!(refresher.schedule.lock().unwrap().len(), 1, "the next refresh is scheduled ahead of expiry");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn two_instances_refresh_an_account_once_between_them() {
    let prefix = format!("o2a-test-{:016x}:", rand::random::<u64>());
    let url = Secret::new("redis://127.0.0.1:6379/0");
    let a: Arc<dyn Store> =
        Arc::new(RedisStore::connect(&url, &prefix, Cipher::plain()).await.expect("the local Redis"));
    let b: Arc<dyn Store> = Arc::new(RedisStore::connect(&url, &prefix, Cipher::plain()).await.unwrap());
    let refreshes = Arc::new(AtomicUsize::new(0));
    let (ra, rb) =
        (Refresher::new(a.clone(), channels(&refreshes)), Refresher::new(b.clone(), channels(&refreshes)));
    let stale = account(a.as_ref()).await;
    let (x, y) = tokio::join!(ra.refresh(&stale), rb.refresh(&stale));
    assert_eq!(refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(x.unwrap().unwrap().credential, y.unwrap().unwrap().credential);
    // Clean the prefix up.
    if let Ok(mut conn) = ::redis::Client::open("redis://127.0.0.1:6379/0").and_then(|c| c.get_connection()) {
        let keys: Vec<String> =
            ::redis::cmd("KEYS").arg(format!("{prefix}*")).query(&mut conn).unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = ::redis::cmd("DEL").arg(&keys).query(&mut conn);
        }
    }
}

#[tokio::test]
async fn channels_without_refresh_say_so() {
    let dir = temp_dir();
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&dir, Cipher::plain()).await.unwrap());
    let refresher = Refresher::new(store.clone(), Channels::default());
    let a = account(store.as_ref()).await;
    assert!(refresher.refresh(&a).await.unwrap().is_none());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_scheduler_refreshes_ahead_of_expiry() {
    let dir = temp_dir();
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&dir, Cipher::plain()).await.unwrap());
    let refreshes = Arc::new(AtomicUsize::new(0));
    let refresher = Refresher::new(store.clone(), channels(&refreshes));
    let a = account(store.as_ref()).await;
    let pool = Arc::new(Pool::default());
    pool.replace([crate::pool::AccountSpec { info: a.clone(), health: Default::default() }]);
    let (stop, shutdown) = watch::channel(false);
    let task = refresher.spawn_scheduler(pool, shutdown);
    // Expiring within the minimum lead time: due at once.
    refresher.schedule(a.id, now_ms() + 30_000);
    for _ in 0..50 {
        if refreshes.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(refreshes.load(Ordering::SeqCst), 1);
    // An expiry an hour away waits: a tenth of the lifetime ahead of it.
    refresher.schedule(a.id, now_ms() + 3_600_000);
    let due = refresher.schedule.lock().unwrap().first().unwrap().0;
    let lead = now_ms() + 3_600_000 - due;
    assert!((359_000..=361_000).contains(&lead), "{lead}");
    let _ = stop.send(true);
    task.await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}
