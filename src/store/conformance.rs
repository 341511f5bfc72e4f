//! The conformance suite: one set of tests that every [`Store`] backend passes.
//!
//! Each test is an `async fn(&Harness)` written against the trait; [`conformance!`] runs it
//! once on the embedded backend (a fresh temp dir) and once on Redis (a fresh random key
//! prefix). Tests that only make sense for one backend (two Redis instances sharing a prefix,
//! a Redis server going away) sit at the end.
//!
//! Redis tests need a server at `TEST_REDIS_URL` (default `redis://127.0.0.1:6379/`) and fail,
//! naming that URL, when there is none. Each uses its own prefix `o2a-test-<random>:` and
//! deletes every key under it when it ends, even by a panic. Every test is bounded by
//! [`TEST_TIMEOUT`]; expiry tests use TTLs of 0.3 to 1 s, long enough that a loaded machine
//! still reads a value before it expires.

use super::crypto::Cipher;
use super::embedded::EmbeddedStore;
use super::redis::RedisStore;
use super::*;
use crate::channels::ChannelKind;
use crate::secret::Secret;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::TryRecvError;

/// The longest one conformance test may take.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a change may take to arrive on the feed (Redis: through pub/sub).
const FEED_WAIT: Duration = Duration::from_secs(1);

const KEY_A: &str = "conformance-key-a-0123456789abcdef0123";
const KEY_B: &str = "conformance-key-b-0123456789abcdef0123";

/// A directory under the system temp dir, removed with everything in it on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new() -> TempDir {
        let path = std::env::temp_dir().join(format!("o2a-store-test-{:032x}", rand::random::<u128>()));
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

/// A fresh random key prefix on the Redis at `url`; every key under it is deleted on drop,
/// panicking or not.
struct RedisKeys {
    url: String,
    prefix: String,
}

impl RedisKeys {
    fn new(url: String) -> RedisKeys {
        RedisKeys { url, prefix: format!("o2a-test-{:016x}:", rand::random::<u64>()) }
    }
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        delete_redis_keys(&self.url, &self.prefix);
    }
}

/// Deletes every key under `prefix` (SCAN + DEL) with a blocking connection, so it can run in
/// `Drop`.
fn delete_redis_keys(url: &str, prefix: &str) {
    let Ok(mut conn) = ::redis::Client::open(url).and_then(|c| c.get_connection()) else { return };
    let mut cursor = 0u64;
    loop {
        let Ok((next, keys)): Result<(u64, Vec<String>), _> = ::redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query(&mut conn)
        else {
            return;
        };
        if !keys.is_empty() {
            let _: Result<(), _> = ::redis::cmd("DEL").arg(&keys).query(&mut conn);
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}

/// Where a harness keeps its data.
enum Place {
    Embedded(TempDir),
    Redis(RedisKeys),
}

/// A store under test, and the means to open more handles on the same data.
struct Harness {
    store: Arc<dyn Store>,
    place: Place,
}

impl Harness {
    async fn embedded(cipher: Cipher) -> Harness {
        let dir = TempDir::new();
        let store = EmbeddedStore::open(dir.path(), cipher).await.expect("open the embedded store");
        Harness { store: Arc::new(store), place: Place::Embedded(dir) }
    }

    async fn redis(cipher: Cipher) -> Harness {
        let keys = RedisKeys::new(redis_url());
        let store = connect_redis(&keys.url, &keys.prefix, cipher).await;
        Harness { store: Arc::new(store), place: Place::Redis(keys) }
    }

    /// Another handle on the same data, with `cipher`.
    async fn reopen(&self, cipher: Cipher) -> Arc<dyn Store> {
        match &self.place {
            Place::Embedded(dir) => Arc::new(EmbeddedStore::open(dir.path(), cipher).await.expect("reopen")),
            Place::Redis(keys) => Arc::new(connect_redis(&keys.url, &keys.prefix, cipher).await),
        }
    }

    /// The credential of account `id` exactly as stored.
    async fn raw_credential(&self, id: u64) -> String {
        match &self.place {
            Place::Embedded(dir) => {
                let conn =
                    rusqlite::Connection::open(dir.path().join(crate::store::embedded::FILE_NAME)).unwrap();
                conn.query_row("SELECT credential FROM accounts WHERE id = ?1", [id as i64], |r| r.get(0))
                    .unwrap()
            }
            Place::Redis(keys) => {
                let mut conn = ::redis::Client::open(keys.url.as_str()).unwrap().get_connection().unwrap();
                let hash = format!("{}account:{id}", keys.prefix);
                ::redis::cmd("HGET").arg(hash).arg("credential").query(&mut conn).unwrap()
            }
        }
    }
}

async fn connect_redis(url: &str, prefix: &str, cipher: Cipher) -> RedisStore {
    match RedisStore::connect(&Secret::new(url), prefix, cipher).await {
        Ok(store) => store,
        Err(err) => panic!(
            "the Redis conformance tests need a Redis server at {url} (set TEST_REDIS_URL to use another; \
             start one with `redis-server --save '' --appendonly no`): {err}"
        ),
    }
}

/// Runs one test body within [`TEST_TIMEOUT`].
async fn bounded(test: impl Future<Output = ()>) {
    tokio::time::timeout(TEST_TIMEOUT, test).await.expect("the test finished within its time limit");
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let harness = super::Harness::embedded(super::Cipher::plain()).await;
                    super::bounded(super::$name(&harness)).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let harness = super::Harness::redis(super::Cipher::plain()).await;
                    super::bounded(super::$name(&harness)).await;
                }
            )*
        }
    };
}

conformance!(
    accounts_crud,
    account_patches_change_only_the_named_fields,
    models_crud,
    keys_crud,
    unique_names_conflict,
    upserts_keep_health_quota_state_and_usage,
    seed_catalogue_seeds_once,
    settings_are_set_and_cleared_one_by_one,
    usage_increments_and_filters,
    sessions_expire,
    console_sessions_expire,
    locks_exclude_and_expire,
    unlock_checks_the_token,
    count_in_window_counts_per_fixed_window,
    change_feed_reports_every_write,
    concurrent_patches_of_one_account_lose_nothing,
    concurrent_usage_increments_lose_nothing,
    concurrent_creates_of_one_name_admit_one,
    credentials_are_sealed_at_rest_and_a_wrong_key_is_corrupt,
);

// --- fixtures ----------------------------------------------------------------------------------

fn account(channel: ChannelKind, name: &str) -> NewAccount {
    NewAccount {
        channel,
        name: name.into(),
        credential: Secret::new(format!("cred-{name}")),
        base_url: Some("https://api.example.test/v1".into()),
        weight: 1,
        priority: 0,
        enabled: true,
        max_concurrency: 0,
    }
}

fn model(channel: ChannelKind, id: &str) -> NewModel {
    NewModel {
        model_id: id.into(),
        channel,
        upstream: None,
        kind: ModelKind::Chat,
        enabled: true,
        display_name: Some(format!("{id} (test)")),
    }
}

fn key(name: &str) -> NewApiKey {
    let secret = format!("sk-o2a-{name}");
    NewApiKey {
        name: name.into(),
        hash: KeyHash::of(&secret),
        prefix: secret.chars().take(10).collect(),
        models: vec!["gpt-4o".into()],
        rpm: Some(60),
        max_concurrency: None,
        expires_at: None,
        enabled: true,
    }
}

fn usage(day: u32, key_id: Option<u64>, account_id: Option<u64>, model: &str, requests: u64) -> UsageDelta {
    UsageDelta {
        day,
        key_id,
        account_id,
        model: model.into(),
        requests,
        errors: 0,
        input_tokens: 10 * requests,
        output_tokens: 20 * requests,
        cache_read_tokens: 0,
        cache_write_tokens: 1,
    }
}

fn conflict<T: std::fmt::Debug>(result: StoreResult<T>) -> String {
    match result {
        Err(StoreError::Conflict(what)) => what,
        other => panic!("expected a Conflict, got {other:?}"),
    }
}

/// The next change on the feed, waiting at most [`FEED_WAIT`].
async fn next_change(rx: &mut broadcast::Receiver<Change>) -> Change {
    tokio::time::timeout(FEED_WAIT, rx.recv())
        .await
        .expect("a change arrived within a second")
        .expect("the feed is open and not lagging")
}

// --- records -----------------------------------------------------------------------------------

async fn accounts_crud(h: &Harness) {
    let s = &h.store;
    assert!(s.list_accounts().await.unwrap().is_empty());
    let a = s.create_account(account(ChannelKind::OpenAi, "a")).await.unwrap();
    assert_eq!((a.channel, a.name.as_str(), a.credential.expose()), (ChannelKind::OpenAi, "a", "cred-a"));
    assert_eq!(a.base_url.as_deref(), Some("https://api.example.test/v1"));
    assert_eq!(
        (a.health.clone(), a.quota, a.state.clone(), a.last_used_at),
        (Health::default(), Quota::default(), None, None)
    );
    assert!(a.created_at > 0 && a.updated_at >= a.created_at);
    let b = s.create_account(account(ChannelKind::Grok, "b")).await.unwrap();
    assert!(b.id > a.id);
    assert_eq!(s.get_account(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(s.list_accounts().await.unwrap(), vec![a.clone(), b.clone()]);

    let patch = AccountPatch { enabled: Some(false), ..AccountPatch::default() };
    let updated = s.update_account(a.id, patch).await.unwrap().expect("the account exists");
    assert!(!updated.enabled);
    assert_eq!(s.get_account(a.id).await.unwrap(), Some(updated));

    assert!(s.delete_account(a.id).await.unwrap());
    assert!(!s.delete_account(a.id).await.unwrap());
    assert_eq!(s.get_account(a.id).await.unwrap(), None);
    assert_eq!(
        s.update_account(a.id, AccountPatch { weight: Some(2), ..AccountPatch::default() }).await.unwrap(),
        None
    );
    assert_eq!(s.list_accounts().await.unwrap(), vec![b.clone()]);
    // Ids are never reused, and a deleted account's name is free again.
    let again = s.create_account(account(ChannelKind::OpenAi, "a")).await.unwrap();
    assert!(again.id > b.id);
    assert_eq!(s.get_account(999_999).await.unwrap(), None);
}

async fn account_patches_change_only_the_named_fields(h: &Harness) {
    let s = &h.store;
    let a = s.create_account(account(ChannelKind::Warp, "w")).await.unwrap();
    let health = Health {
        reason: Some(Reason::RateLimited),
        cooldown_until: Some(1_900_000_000_000),
        message: Some("upstream 429".into()),
    };
    let quota = Quota { remaining: Some(5), limit: Some(100), reset_at: Some(1_900_000_000_000) };
    let full = AccountPatch {
        name: Some("w2".into()),
        credential: Some(Secret::new("cred-new")),
        base_url: Some(None),
        weight: Some(7),
        priority: Some(2),
        enabled: Some(false),
        max_concurrency: Some(3),
        health: Some(health.clone()),
        quota: Some(quota),
        state: Some(Some(Secret::new("{\"token\":\"t\"}"))),
        last_used_at: Some(1_800_000_000_000),
    };
    let b = s.update_account(a.id, full).await.unwrap().unwrap();
    let expected = Account {
        name: "w2".into(),
        credential: Secret::new("cred-new"),
        base_url: None,
        weight: 7,
        priority: 2,
        enabled: false,
        max_concurrency: 3,
        health: health.clone(),
        quota,
        state: Some(Secret::new("{\"token\":\"t\"}")),
        last_used_at: Some(1_800_000_000_000),
        updated_at: b.updated_at,
        ..a.clone()
    };
    assert_eq!(b, expected);
    assert!(b.updated_at >= a.updated_at);

    // One field at a time: the others stay as they are.
    let c = s
        .update_account(a.id, AccountPatch { weight: Some(9), ..AccountPatch::default() })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c, Account { weight: 9, updated_at: c.updated_at, ..b.clone() });
    let d = s
        .update_account(a.id, AccountPatch { state: Some(None), ..AccountPatch::default() })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d, Account { state: None, updated_at: d.updated_at, ..c.clone() });
    let healthy = AccountPatch { health: Some(Health::default()), ..AccountPatch::default() };
    let e = s.update_account(a.id, healthy).await.unwrap().unwrap();
    assert_eq!(e, Account { health: Health::default(), updated_at: e.updated_at, ..d.clone() });
    // An empty patch changes nothing.
    assert_eq!(s.update_account(a.id, AccountPatch::default()).await.unwrap(), Some(e.clone()));
    assert_eq!(s.get_account(a.id).await.unwrap(), Some(e));
}

async fn models_crud(h: &Harness) {
    let s = &h.store;
    let m = s.create_model(model(ChannelKind::Grok, "grok-3")).await.unwrap();
    assert_eq!(
        (m.model_id.as_str(), m.channel, m.kind, m.enabled),
        ("grok-3", ChannelKind::Grok, ModelKind::Chat, true)
    );
    assert_eq!(m.display_name.as_deref(), Some("grok-3 (test)"));
    let n = s
        .create_model(NewModel { kind: ModelKind::Image, ..model(ChannelKind::Grok, "grok-imagine") })
        .await
        .unwrap();
    assert_eq!(s.list_models().await.unwrap(), vec![m.clone(), n.clone()]);

    let patch = ModelPatch {
        upstream: Some(Some("grok-3-0401".into())),
        display_name: Some(None),
        ..ModelPatch::default()
    };
    let m2 = s.update_model(m.id, patch).await.unwrap().unwrap();
    assert_eq!(
        m2,
        Model {
            upstream: Some("grok-3-0401".into()),
            display_name: None,
            updated_at: m2.updated_at,
            ..m.clone()
        }
    );
    let rename = ModelPatch {
        model_id: Some("grok-3-beta".into()),
        kind: Some(ModelKind::Video),
        ..ModelPatch::default()
    };
    let m3 = s.update_model(m.id, rename).await.unwrap().unwrap();
    assert_eq!(
        (m3.model_id.as_str(), m3.kind, m3.upstream.as_deref()),
        ("grok-3-beta", ModelKind::Video, Some("grok-3-0401"))
    );
    // The old id is free again after the rename.
    s.create_model(model(ChannelKind::Grok, "grok-3")).await.unwrap();

    assert!(s.delete_model(n.id).await.unwrap());
    assert!(!s.delete_model(n.id).await.unwrap());
    assert_eq!(s.get_model(n.id).await.unwrap(), None);
    assert_eq!(
        s.update_model(n.id, ModelPatch { enabled: Some(false), ..ModelPatch::default() }).await.unwrap(),
        None
    );
    assert_eq!(s.get_model(m.id).await.unwrap(), Some(m3));
}

async fn keys_crud(h: &Harness) {
    let s = &h.store;
    let k = s.create_key(key("dev")).await.unwrap();
    assert_eq!(
        (k.name.as_str(), k.models.clone(), k.rpm, k.max_concurrency),
        ("dev", vec!["gpt-4o".to_string()], Some(60), None)
    );
    assert_eq!(s.find_key(&KeyHash::of("sk-o2a-dev")).await.unwrap(), Some(k.clone()));
    assert_eq!(s.find_key(&KeyHash::of("sk-o2a-nobody")).await.unwrap(), None);
    let other = s.create_key(key("ops")).await.unwrap();
    assert_eq!(s.list_keys().await.unwrap(), vec![k.clone(), other.clone()]);

    let patch = ApiKeyPatch {
        name: Some("dev2".into()),
        models: Some(vec![]),
        rpm: Some(None),
        max_concurrency: Some(Some(4)),
        expires_at: Some(Some(1_900_000_000_000)),
        enabled: Some(false),
        last_used_at: Some(1_800_000_000_000),
    };
    let k2 = s.update_key(k.id, patch).await.unwrap().unwrap();
    let expected = ApiKey {
        name: "dev2".into(),
        models: vec![],
        rpm: None,
        max_concurrency: Some(4),
        expires_at: Some(1_900_000_000_000),
        enabled: false,
        last_used_at: Some(1_800_000_000_000),
        updated_at: k2.updated_at,
        ..k.clone()
    };
    assert_eq!(k2, expected);
    let k3 = s
        .update_key(k.id, ApiKeyPatch { enabled: Some(true), ..ApiKeyPatch::default() })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(k3, ApiKey { enabled: true, updated_at: k3.updated_at, ..k2 });
    assert_eq!(s.get_key(k.id).await.unwrap(), Some(k3.clone()));
    assert_eq!(s.find_key(&k.hash).await.unwrap(), Some(k3));

    assert!(s.delete_key(k.id).await.unwrap());
    assert!(!s.delete_key(k.id).await.unwrap());
    assert_eq!(s.find_key(&k.hash).await.unwrap(), None);
    assert_eq!(s.get_key(k.id).await.unwrap(), None);
    assert_eq!(s.list_keys().await.unwrap(), vec![other]);
    // Both the name and the hash are free again.
    s.create_key(key("dev")).await.unwrap();
}

async fn unique_names_conflict(h: &Harness) {
    let s = &h.store;
    let a = s.create_account(account(ChannelKind::OpenAi, "main")).await.unwrap();
    assert!(conflict(s.create_account(account(ChannelKind::OpenAi, "main")).await).contains("main"));
    // The same name in another channel is another account.
    let b = s.create_account(account(ChannelKind::Anthropic, "main")).await.unwrap();
    let c = s.create_account(account(ChannelKind::OpenAi, "spare")).await.unwrap();
    let rename =
        |name: &str| AccountPatch { name: Some(name.into()), weight: Some(5), ..AccountPatch::default() };
    conflict(s.update_account(c.id, rename("main")).await);
    assert_eq!(s.get_account(c.id).await.unwrap(), Some(c.clone()), "a failed rename changes nothing");
    // Renaming to its own name, or to a name only another channel uses, is fine.
    s.update_account(c.id, rename("spare")).await.unwrap().unwrap();
    s.update_account(a.id, AccountPatch { name: Some("primary".into()), ..AccountPatch::default() })
        .await
        .unwrap()
        .unwrap();
    s.update_account(c.id, rename("main")).await.unwrap().unwrap();
    assert_eq!(s.list_accounts().await.unwrap().len(), 3);
    assert_eq!(s.get_account(b.id).await.unwrap(), Some(b));

    s.create_model(model(ChannelKind::Warp, "auto")).await.unwrap();
    assert!(conflict(s.create_model(model(ChannelKind::Warp, "auto")).await).contains("auto"));
    s.create_model(model(ChannelKind::Orchids, "auto")).await.unwrap();
    let other = s.create_model(model(ChannelKind::Warp, "auto-genius")).await.unwrap();
    conflict(
        s.update_model(other.id, ModelPatch { model_id: Some("auto".into()), ..ModelPatch::default() }).await,
    );

    let k = s.create_key(key("dev")).await.unwrap();
    assert!(
        conflict(s.create_key(NewApiKey { hash: KeyHash::of("another"), ..key("dev") }).await)
            .contains("dev")
    );
    let same_hash = conflict(s.create_key(NewApiKey { name: "other".into(), ..key("dev") }).await);
    assert!(same_hash.contains("hash"), "{same_hash}");
    let ops = s.create_key(key("ops")).await.unwrap();
    conflict(s.update_key(ops.id, ApiKeyPatch { name: Some("dev".into()), ..ApiKeyPatch::default() }).await);
    assert_eq!(s.list_keys().await.unwrap(), vec![k, ops]);
}

async fn upserts_keep_health_quota_state_and_usage(h: &Harness) {
    let s = &h.store;
    let first = s.upsert_account(account(ChannelKind::Anthropic, "seeded")).await.unwrap();
    let live = AccountPatch {
        health: Some(Health {
            reason: Some(Reason::QuotaExhausted),
            cooldown_until: Some(1_900_000_000_000),
            message: None,
        }),
        quota: Some(Quota { remaining: Some(0), limit: Some(10), reset_at: None }),
        state: Some(Some(Secret::new("cached-token"))),
        last_used_at: Some(1_800_000_000_000),
        ..AccountPatch::default()
    };
    let live = s.update_account(first.id, live).await.unwrap().unwrap();
    let seed = NewAccount {
        credential: Secret::new("rotated"),
        base_url: None,
        weight: 4,
        priority: 1,
        enabled: false,
        max_concurrency: 2,
        ..account(ChannelKind::Anthropic, "seeded")
    };
    let again = s.upsert_account(seed).await.unwrap();
    let expected = Account {
        credential: Secret::new("rotated"),
        base_url: None,
        weight: 4,
        priority: 1,
        enabled: false,
        max_concurrency: 2,
        updated_at: again.updated_at,
        ..live.clone()
    };
    assert_eq!(again, expected);
    assert_eq!(s.list_accounts().await.unwrap(), vec![again]);

    let m = s.upsert_model(model(ChannelKind::OpenAi, "gpt-4o")).await.unwrap();
    let m2 = s
        .upsert_model(NewModel {
            enabled: false,
            upstream: Some("gpt-4o-2024".into()),
            ..model(ChannelKind::OpenAi, "gpt-4o")
        })
        .await
        .unwrap();
    assert_eq!(
        m2,
        Model { enabled: false, upstream: Some("gpt-4o-2024".into()), updated_at: m2.updated_at, ..m }
    );
    assert_eq!(s.list_models().await.unwrap().len(), 1);

    let k = s.upsert_key(key("ci")).await.unwrap();
    let used = s
        .update_key(k.id, ApiKeyPatch { last_used_at: Some(1_800_000_000_000), ..ApiKeyPatch::default() })
        .await
        .unwrap()
        .unwrap();
    let seed = NewApiKey { hash: KeyHash::of("sk-o2a-ci-rotated"), models: vec![], rpm: None, ..key("ci") };
    let k2 = s.upsert_key(seed.clone()).await.unwrap();
    let expected =
        ApiKey { hash: seed.hash.clone(), models: vec![], rpm: None, updated_at: k2.updated_at, ..used };
    assert_eq!(k2, expected);
    // The hash index moved with the key.
    assert_eq!(s.find_key(&seed.hash).await.unwrap(), Some(k2.clone()));
    assert_eq!(s.find_key(&k.hash).await.unwrap(), None);
    // An upsert may not take another key's hash.
    let other = s.create_key(key("other")).await.unwrap();
    conflict(s.upsert_key(NewApiKey { hash: other.hash.clone(), ..key("ci") }).await);
    assert_eq!(s.list_keys().await.unwrap(), vec![k2, other]);
}

async fn seed_catalogue_seeds_once(h: &Harness) {
    let s = &h.store;
    let grok = vec![
        model(ChannelKind::Grok, "grok-3"),
        model(ChannelKind::Grok, "grok-4"),
        model(ChannelKind::Warp, "stray"),
    ];
    assert!(s.seed_catalogue(ChannelKind::Grok, grok.clone()).await.unwrap());
    let seeded = s.list_models().await.unwrap();
    let ids: Vec<_> = seeded.iter().map(|m| (m.channel, m.model_id.as_str())).collect();
    assert_eq!(
        ids,
        [(ChannelKind::Grok, "grok-3"), (ChannelKind::Grok, "grok-4")],
        "only the channel's models"
    );
    assert!(!s.seed_catalogue(ChannelKind::Grok, grok.clone()).await.unwrap());
    // A deleted default model stays deleted.
    assert!(s.delete_model(seeded[0].id).await.unwrap());
    assert!(!s.seed_catalogue(ChannelKind::Grok, grok).await.unwrap());
    assert_eq!(s.list_models().await.unwrap(), vec![seeded[1].clone()]);
    // Every channel is seeded once, on its own; a model that exists already is left alone.
    let existing =
        s.create_model(NewModel { enabled: false, ..model(ChannelKind::Warp, "auto") }).await.unwrap();
    assert!(
        s.seed_catalogue(
            ChannelKind::Warp,
            vec![model(ChannelKind::Warp, "auto"), model(ChannelKind::Warp, "gpt-5")]
        )
        .await
        .unwrap()
    );
    assert_eq!(s.get_model(existing.id).await.unwrap(), Some(existing));
    assert_eq!(s.list_models().await.unwrap().len(), 3);
    // A reopened handle remembers.
    let reopened = h.reopen(Cipher::plain()).await;
    assert!(
        !reopened.seed_catalogue(ChannelKind::Grok, vec![model(ChannelKind::Grok, "grok-3")]).await.unwrap()
    );
}

async fn settings_are_set_and_cleared_one_by_one(h: &Harness) {
    let s = &h.store;
    assert!(s.settings().await.unwrap().is_empty());
    let set = |name: &str, v: serde_json::Value| (name.to_string(), Some(v));
    let after = s
        .update_settings(vec![
            set("max_retries", serde_json::json!(5)),
            set("banner", serde_json::json!({"text": "hi"})),
        ])
        .await
        .unwrap();
    assert_eq!(after.len(), 2);
    assert_eq!(after["banner"], serde_json::json!({"text": "hi"}));
    let after = s
        .update_settings(vec![("banner".into(), None), set("max_retries", serde_json::json!(6))])
        .await
        .unwrap();
    assert_eq!(after, Settings::from([("max_retries".to_string(), serde_json::json!(6))]));
    assert_eq!(s.settings().await.unwrap(), after);
    // Applied in order: a later entry for the same name wins.
    let after = s.update_settings(vec![set("x", serde_json::json!("a")), ("x".into(), None)]).await.unwrap();
    assert!(!after.contains_key("x"));
}

async fn usage_increments_and_filters(h: &Harness) {
    let s = &h.store;
    s.record_usage(vec![
        usage(20260101, Some(1), Some(10), "gpt-4o", 1),
        usage(20260101, Some(1), Some(10), "gpt-4o", 2),
        usage(20260101, None, Some(10), "gpt-4o", 1),
        usage(20260102, Some(2), None, "claude|x", 5),
    ])
    .await
    .unwrap();
    s.record_usage(vec![UsageDelta { errors: 1, ..usage(20260103, Some(1), Some(11), "gpt-4o", 1) }])
        .await
        .unwrap();
    s.record_usage(vec![]).await.unwrap();

    let all = s.query_usage(UsageQuery::default()).await.unwrap();
    assert_eq!(
        all,
        vec![
            usage(20260101, None, Some(10), "gpt-4o", 1),
            UsageDelta { cache_write_tokens: 2, ..usage(20260101, Some(1), Some(10), "gpt-4o", 3) },
            usage(20260102, Some(2), None, "claude|x", 5),
            UsageDelta { errors: 1, ..usage(20260103, Some(1), Some(11), "gpt-4o", 1) },
        ]
    );
    let q = |f: fn(&mut UsageQuery)| {
        let mut query = UsageQuery::default();
        f(&mut query);
        query
    };
    let days = |rows: Vec<UsageRow>| rows.into_iter().map(|r| (r.day, r.requests)).collect::<Vec<_>>();
    assert_eq!(
        days(s.query_usage(q(|q| q.from_day = Some(20260102))).await.unwrap()),
        [(20260102, 5), (20260103, 1)]
    );
    assert_eq!(
        days(s.query_usage(q(|q| q.to_day = Some(20260101))).await.unwrap()),
        [(20260101, 1), (20260101, 3)]
    );
    let window = q(|q| {
        q.from_day = Some(20260102);
        q.to_day = Some(20260102)
    });
    assert_eq!(days(s.query_usage(window).await.unwrap()), [(20260102, 5)]);
    assert_eq!(days(s.query_usage(q(|q| q.key_id = Some(1))).await.unwrap()), [(20260101, 3), (20260103, 1)]);
    assert_eq!(
        days(s.query_usage(q(|q| q.account_id = Some(10))).await.unwrap()),
        [(20260101, 1), (20260101, 3)]
    );
    assert_eq!(days(s.query_usage(q(|q| q.model = Some("claude|x".into()))).await.unwrap()), [(20260102, 5)]);
    let both = q(|q| {
        q.key_id = Some(1);
        q.account_id = Some(11)
    });
    assert_eq!(days(s.query_usage(both).await.unwrap()), [(20260103, 1)]);
    assert!(s.query_usage(q(|q| q.from_day = Some(20270101))).await.unwrap().is_empty());
}

// --- sessions and coordination -----------------------------------------------------------------

async fn sessions_expire(h: &Harness) {
    let s = &h.store;
    let session = Session { account_id: Some(4), data: Some(serde_json::json!({"conversation": "c-1"})) };
    s.put_session("conv-a", session.clone(), Duration::from_millis(1000)).await.unwrap();
    s.put_session("conv-b", Session::default(), Duration::from_secs(60)).await.unwrap();
    assert_eq!(s.get_session("conv-a").await.unwrap(), Some(session));
    assert_eq!(s.get_session("conv-b").await.unwrap(), Some(Session::default()));
    assert_eq!(s.get_session("conv-c").await.unwrap(), None);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(s.get_session("conv-a").await.unwrap(), None, "expired");
    // Putting again replaces the value and the TTL.
    let replaced = Session { account_id: Some(5), data: None };
    s.put_session("conv-b", replaced.clone(), Duration::from_secs(60)).await.unwrap();
    assert_eq!(s.get_session("conv-b").await.unwrap(), Some(replaced));
    s.delete_session("conv-b").await.unwrap();
    s.delete_session("conv-b").await.unwrap();
    assert_eq!(s.get_session("conv-b").await.unwrap(), None);
}

async fn console_sessions_expire(h: &Harness) {
    let s = &h.store;
    let token = KeyHash::of("console-token");
    let session = ConsoleSession { user: "admin".into(), expires_at: now_ms() + 1000 };
    s.put_console_session(&token, session.clone()).await.unwrap();
    assert_eq!(s.get_console_session(&token).await.unwrap(), Some(session));
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(s.get_console_session(&token).await.unwrap(), None, "expired");

    let past = ConsoleSession { user: "admin".into(), expires_at: now_ms() - 1 };
    s.put_console_session(&token, past).await.unwrap();
    assert_eq!(s.get_console_session(&token).await.unwrap(), None);
    let long = ConsoleSession { user: "root".into(), expires_at: now_ms() + 3_600_000 };
    s.put_console_session(&token, long.clone()).await.unwrap();
    assert_eq!(s.get_console_session(&token).await.unwrap(), Some(long));
    s.delete_console_session(&token).await.unwrap();
    assert_eq!(s.get_console_session(&token).await.unwrap(), None);
}

async fn locks_exclude_and_expire(h: &Harness) {
    let s = &h.store;
    let token = s.try_lock("refresh:7", Duration::from_secs(30)).await.unwrap().expect("free");
    assert_eq!(s.try_lock("refresh:7", Duration::from_secs(30)).await.unwrap(), None, "held");
    assert!(s.try_lock("refresh:8", Duration::from_secs(30)).await.unwrap().is_some(), "another name");
    s.unlock("refresh:7", token).await.unwrap();
    assert!(s.try_lock("refresh:7", Duration::from_millis(300)).await.unwrap().is_some(), "released");
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(s.try_lock("refresh:7", Duration::from_secs(30)).await.unwrap().is_some(), "expired");
}

async fn unlock_checks_the_token(h: &Harness) {
    let s = &h.store;
    let old = s.try_lock("job", Duration::from_millis(1000)).await.unwrap().unwrap();
    s.unlock("job", LockToken("not-the-token".into())).await.unwrap();
    assert_eq!(
        s.try_lock("job", Duration::from_secs(30)).await.unwrap(),
        None,
        "a wrong token releases nothing"
    );
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let new =
        s.try_lock("job", Duration::from_secs(30)).await.unwrap().expect("the old holder's time ran out");
    assert_ne!(old, new);
    // The old holder's late unlock must not release the new holder's lock.
    s.unlock("job", old).await.unwrap();
    assert_eq!(s.try_lock("job", Duration::from_secs(30)).await.unwrap(), None);
    s.unlock("job", new).await.unwrap();
    assert!(s.try_lock("job", Duration::from_secs(30)).await.unwrap().is_some());
}

async fn count_in_window_counts_per_fixed_window(h: &Harness) {
    let s = &h.store;
    let hour = Duration::from_secs(3600);
    // Stay clear of a window boundary so three counts land in one window.
    let into_hour = now_ms().rem_euclid(3_600_000);
    if into_hour > 3_600_000 - 5_000 {
        tokio::time::sleep(Duration::from_millis((3_600_000 - into_hour + 100) as u64)).await;
    }
    assert_eq!(s.count_in_window("key:1", hour).await.unwrap(), 1);
    assert_eq!(s.count_in_window("key:1", hour).await.unwrap(), 2);
    assert_eq!(s.count_in_window("key:1", hour).await.unwrap(), 3);
    assert_eq!(s.count_in_window("key:2", hour).await.unwrap(), 1, "another key");
    assert_eq!(
        s.count_in_window("key:1", Duration::from_secs(7200)).await.unwrap(),
        1,
        "another window length"
    );
    // A short window starts over once it has passed.
    let short = Duration::from_millis(300);
    assert!(s.count_in_window("key:3", short).await.unwrap() >= 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(s.count_in_window("key:3", short).await.unwrap(), 1);
}

// --- the change feed ---------------------------------------------------------------------------

async fn change_feed_reports_every_write(h: &Harness) {
    let s = &h.store;
    let mut rx = s.changes();
    let a = s.create_account(account(ChannelKind::Grok, "g")).await.unwrap();
    assert_eq!(next_change(&mut rx).await, Change::Account(a.id));
    s.update_account(a.id, AccountPatch { enabled: Some(false), ..AccountPatch::default() }).await.unwrap();
    assert_eq!(next_change(&mut rx).await, Change::Account(a.id));
    s.upsert_account(account(ChannelKind::Grok, "g")).await.unwrap();
    assert_eq!(next_change(&mut rx).await, Change::Account(a.id));
    s.delete_account(a.id).await.unwrap();
    assert_eq!(next_change(&mut rx).await, Change::Account(a.id));

    let m = s.create_model(model(ChannelKind::Grok, "grok-3")).await.unwrap();
    assert_eq!(next_change(&mut rx).await, Change::Model(m.id));
    s.update_model(m.id, ModelPatch { enabled: Some(false), ..ModelPatch::default() }).await.unwrap();
    assert_eq!(next_change(&mut rx).await, Change::Model(m.id));
    s.upsert_model(model(ChannelKind::Grok, "grok-3")).await.unwrap();
    assert_eq!(next_change(&mut rx).await, Change::Model(m.id));
    s.delete_model(m.id).await.unwrap();
    assert_eq!(next_change(&mut rx).await, Change::Model(m.id));
    assert!(s.seed_catalogue(ChannelKind::Warp, vec![model(ChannelKind::Warp, "auto")]).await.unwrap());
    let seeded = s.list_models().await.unwrap();
    assert_eq!(next_change(&mut rx).await, Change::Model(seeded[0].id));

    let k = s.create_key(key("dev")).await.unwrap();
    assert_eq!(next_change(&mut rx).await, Change::Key(k.id));
    s.update_key(k.id, ApiKeyPatch { enabled: Some(false), ..ApiKeyPatch::default() }).await.unwrap();
    assert_eq!(next_change(&mut rx).await, Change::Key(k.id));
    s.upsert_key(key("dev")).await.unwrap();
    assert_eq!(next_change(&mut rx).await, Change::Key(k.id));
    s.delete_key(k.id).await.unwrap();
    assert_eq!(next_change(&mut rx).await, Change::Key(k.id));

    s.update_settings(vec![("x".into(), Some(serde_json::json!(1)))]).await.unwrap();
    assert_eq!(next_change(&mut rx).await, Change::Settings);

    // Reads, failed writes and writes outside the records announce nothing.
    s.list_accounts().await.unwrap();
    s.update_account(a.id, AccountPatch { weight: Some(2), ..AccountPatch::default() }).await.unwrap();
    s.record_usage(vec![usage(20260101, None, None, "m", 1)]).await.unwrap();
    s.put_session("s", Session::default(), Duration::from_secs(5)).await.unwrap();
    let marker = s.create_model(model(ChannelKind::Grok, "marker")).await.unwrap();
    assert_eq!(next_change(&mut rx).await, Change::Model(marker.id), "nothing came before the marker");
    assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
}

// --- concurrent writers ------------------------------------------------------------------------

async fn concurrent_patches_of_one_account_lose_nothing(h: &Harness) {
    let s = &h.store;
    let a = s.create_account(account(ChannelKind::OpenAi, "shared")).await.unwrap();
    const ROUNDS: u32 = 10;
    // Each writer owns one field and writes it ROUNDS times, ending on a known value.
    let writers: Vec<Box<dyn Fn(u32) -> AccountPatch + Send + Sync>> = vec![
        Box::new(|i| AccountPatch { name: Some(format!("shared-{i}")), ..AccountPatch::default() }),
        Box::new(|i| AccountPatch {
            credential: Some(Secret::new(format!("cred-{i}"))),
            ..AccountPatch::default()
        }),
        Box::new(|i| AccountPatch {
            base_url: Some(Some(format!("https://h{i}.test"))),
            ..AccountPatch::default()
        }),
        Box::new(|i| AccountPatch { weight: Some(100 + i), ..AccountPatch::default() }),
        Box::new(|i| AccountPatch { priority: Some(200 + i), ..AccountPatch::default() }),
        Box::new(|i| AccountPatch { enabled: Some(i % 2 == 1), ..AccountPatch::default() }),
        Box::new(|i| AccountPatch { max_concurrency: Some(300 + i), ..AccountPatch::default() }),
        Box::new(|i| AccountPatch {
            health: Some(Health {
                reason: Some(Reason::Challenge),
                cooldown_until: Some(i64::from(i)),
                message: None,
            }),
            ..AccountPatch::default()
        }),
        Box::new(|i| AccountPatch {
            quota: Some(Quota { remaining: Some(i64::from(i)), limit: None, reset_at: None }),
            ..AccountPatch::default()
        }),
        Box::new(|i| AccountPatch {
            state: Some(Some(Secret::new(format!("state-{i}")))),
            ..AccountPatch::default()
        }),
        Box::new(|i| AccountPatch { last_used_at: Some(1_000 + i64::from(i)), ..AccountPatch::default() }),
    ];
    let writers = Arc::new(writers);
    let tasks: Vec<_> = (0..writers.len())
        .map(|w| {
            let (s, writers) = (s.clone(), writers.clone());
            tokio::spawn(async move {
                for i in 0..ROUNDS {
                    s.update_account(a.id, writers[w](i)).await.unwrap().unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let last = ROUNDS - 1;
    let got = s.get_account(a.id).await.unwrap().unwrap();
    let expected = Account {
        name: format!("shared-{last}"),
        credential: Secret::new(format!("cred-{last}")),
        base_url: Some(format!("https://h{last}.test")),
        weight: 100 + last,
        priority: 200 + last,
        enabled: last % 2 == 1,
        max_concurrency: 300 + last,
        health: Health {
            reason: Some(Reason::Challenge),
            cooldown_until: Some(i64::from(last)),
            message: None,
        },
        quota: Quota { remaining: Some(i64::from(last)), limit: None, reset_at: None },
        state: Some(Secret::new(format!("state-{last}"))),
        last_used_at: Some(1_000 + i64::from(last)),
        updated_at: got.updated_at,
        ..a
    };
    assert_eq!(got, expected);
}

async fn concurrent_usage_increments_lose_nothing(h: &Harness) {
    const TASKS: u64 = 20;
    const EACH: u64 = 100;
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let s = h.store.clone();
            tokio::spawn(async move {
                for _ in 0..EACH {
                    s.record_usage(vec![usage(20260301, Some(1), Some(2), "gpt-4o", 1)]).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let rows = h.store.query_usage(UsageQuery::default()).await.unwrap();
    let n = TASKS * EACH;
    assert_eq!(
        rows,
        vec![UsageDelta { cache_write_tokens: n, ..usage(20260301, Some(1), Some(2), "gpt-4o", n) }]
    );
}

async fn concurrent_creates_of_one_name_admit_one(h: &Harness) {
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = h.store.clone();
            tokio::spawn(async move { s.create_account(account(ChannelKind::Warp, "race")).await })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(h.store.list_accounts().await.unwrap().len(), 1);
}

// --- encryption --------------------------------------------------------------------------------

async fn credentials_are_sealed_at_rest_and_a_wrong_key_is_corrupt(h: &Harness) {
    // Stored by the plain harness store: as they are.
    let plain = h.store.create_account(account(ChannelKind::Grok, "plain")).await.unwrap();
    assert_eq!(h.raw_credential(plain.id).await, "cred-plain");

    let sealed_store = h.reopen(Cipher::new(Some(&Secret::new(KEY_A)))).await;
    let mut new = account(ChannelKind::Grok, "sealed");
    new.credential = Secret::new("sso-very-secret");
    let a = sealed_store.create_account(new).await.unwrap();
    let a = sealed_store
        .update_account(
            a.id,
            AccountPatch { state: Some(Some(Secret::new("state-very-secret"))), ..AccountPatch::default() },
        )
        .await
        .unwrap()
        .unwrap();
    let raw = h.raw_credential(a.id).await;
    assert!(raw.starts_with("enc:v1:") && !raw.contains("very-secret"), "stored sealed");
    assert_eq!(sealed_store.get_account(a.id).await.unwrap(), Some(a.clone()), "round trip");
    // A value stored before the key was set still reads.
    assert_eq!(sealed_store.get_account(plain.id).await.unwrap(), Some(plain.clone()));

    for wrong in [h.reopen(Cipher::new(Some(&Secret::new(KEY_B)))).await, h.reopen(Cipher::plain()).await] {
        for result in [wrong.get_account(a.id).await.map(|_| ()), wrong.list_accounts().await.map(|_| ())] {
            let err = result.expect_err("unreadable with the wrong key");
            let text = err.to_string();
            assert!(matches!(err, StoreError::Corrupt(_)), "{text}");
            assert!(text.contains(&format!("account {}", a.id)), "{text}");
            assert!(!text.contains("very-secret") && !text.contains(KEY_A), "{text}");
        }
        // Other accounts still read.
        assert_eq!(wrong.get_account(plain.id).await.unwrap(), Some(plain.clone()));
    }
}

// --- opening by configuration ------------------------------------------------------------------

#[tokio::test]
async fn open_picks_the_configured_backend_and_key() {
    let dir = TempDir::new();
    let keys = RedisKeys::new(redis_url());
    let prefix = keys.prefix.clone();
    let config = crate::config::Config {
        data_dir: dir.path().join("nested"),
        redis_url: Secret::new(redis_url()),
        redis_prefix: prefix.clone(),
        secret_key: Some(Secret::new(KEY_A)),
        ..crate::config::Config::default()
    };
    let embedded = open(&config).await.expect("open the embedded store");
    let a = embedded.create_account(account(ChannelKind::Grok, "g")).await.unwrap();
    assert!(config.data_dir.join(crate::store::embedded::FILE_NAME).is_file(), "data_dir is created");
    let reopened =
        EmbeddedStore::open(&config.data_dir, Cipher::new(Some(&Secret::new(KEY_A)))).await.unwrap();
    assert_eq!(reopened.get_account(a.id).await.unwrap(), Some(a));

    let config = crate::config::Config { store: crate::config::StoreKind::Redis, ..config };
    let shared = match open(&config).await {
        Ok(store) => store,
        Err(err) => panic!("this test needs a Redis server at {} (TEST_REDIS_URL): {err}", redis_url()),
    };
    let b = shared.create_account(account(ChannelKind::Grok, "g")).await.unwrap();
    assert_eq!(shared.get_account(b.id).await.unwrap(), Some(b));
}

// --- Redis only --------------------------------------------------------------------------------

mod redis_only {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_change_reaches_another_instance_on_the_same_prefix() {
        let h = Harness::redis(Cipher::plain()).await;
        let other = h.reopen(Cipher::plain()).await;
        bounded(async {
            let mut here = h.store.changes();
            let mut there = other.changes();
            let a = h.store.create_account(account(ChannelKind::Grok, "g")).await.unwrap();
            assert_eq!(next_change(&mut there).await, Change::Account(a.id), "the other instance hears it");
            assert_eq!(next_change(&mut here).await, Change::Account(a.id), "the writer hears it too");
            other.update_settings(vec![("k".into(), Some(serde_json::json!(true)))]).await.unwrap();
            assert_eq!(next_change(&mut here).await, Change::Settings);
            assert_eq!(next_change(&mut there).await, Change::Settings);
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_instances_patching_and_counting_lose_nothing() {
        let h = Harness::redis(Cipher::plain()).await;
        let other = h.reopen(Cipher::plain()).await;
        bounded(async {
            let a = h.store.create_account(account(ChannelKind::Grok, "g")).await.unwrap();
            let (one, two) = (h.store.clone(), other.clone());
            let weights = tokio::spawn(async move {
                for i in 0..50 {
                    one.update_account(a.id, AccountPatch { weight: Some(i), ..AccountPatch::default() })
                        .await
                        .unwrap();
                    one.record_usage(vec![usage(20260101, None, Some(a.id), "m", 1)]).await.unwrap();
                }
            });
            let health = tokio::spawn(async move {
                for i in 0..50 {
                    let health = Health {
                        reason: Some(Reason::UpstreamError),
                        cooldown_until: Some(i),
                        message: None,
                    };
                    two.update_account(
                        a.id,
                        AccountPatch { health: Some(health), ..AccountPatch::default() },
                    )
                    .await
                    .unwrap();
                    two.record_usage(vec![usage(20260101, None, Some(a.id), "m", 1)]).await.unwrap();
                }
            });
            weights.await.unwrap();
            health.await.unwrap();
            let got = other.get_account(a.id).await.unwrap().unwrap();
            assert_eq!((got.weight, got.health.cooldown_until), (49, Some(49)));
            let rows = h.store.query_usage(UsageQuery::default()).await.unwrap();
            assert_eq!(rows.iter().map(|r| r.requests).sum::<u64>(), 100);
        })
        .await;
    }

    #[tokio::test]
    async fn an_unreachable_server_fails_fast_with_unavailable() {
        let started = std::time::Instant::now();
        // Port 1 on loopback: nothing listens there.
        let result =
            RedisStore::connect(&Secret::new("redis://127.0.0.1:1/"), "o2a-test-none:", Cipher::plain())
                .await;
        assert!(matches!(result, Err(StoreError::Unavailable(_))), "{:?}", result.err());
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    /// A private `redis-server` on a free port, killed on drop.
    struct Server {
        child: std::process::Child,
        port: u16,
    }

    impl Server {
        fn start(port: u16) -> Server {
            let child = std::process::Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("this test starts its own `redis-server`: install Redis so that it is on PATH");
            Server { child, port }
        }

        fn url(&self) -> String {
            format!("redis://127.0.0.1:{}/", self.port)
        }

        async fn wait_until_up(&self) {
            for _ in 0..100 {
                if tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("redis-server did not start on port {}", self.port);
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_server_fails_calls_fast_and_the_feed_resyncs_after_it_returns() {
        let port = free_port();
        let server = Server::start(port);
        server.wait_until_up().await;
        bounded(async move {
            let store = RedisStore::connect(&Secret::new(server.url()), "o2a-test-restart:", Cipher::plain())
                .await
                .unwrap();
            let mut rx = store.changes();
            store.create_account(account(ChannelKind::Grok, "before")).await.unwrap();
            assert!(matches!(next_change(&mut rx).await, Change::Account(_)));

            drop(server);
            let started = std::time::Instant::now();
            let err = store.list_accounts().await.expect_err("the server is gone");
            assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
            assert!(
                started.elapsed() < crate::store::redis::OP_TIMEOUT + Duration::from_secs(1),
                "failed fast"
            );

            // The server comes back (empty: it keeps nothing on disk).
            let server = Server::start(port);
            server.wait_until_up().await;
            let resync =
                tokio::time::timeout(Duration::from_secs(15), rx.recv()).await.expect("a resync within 15 s");
            assert_eq!(resync.unwrap(), Change::Resync);
            let mut recovered = None;
            for _ in 0..50 {
                if let Ok(accounts) = store.list_accounts().await {
                    recovered = Some(accounts);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert_eq!(recovered, Some(vec![]), "calls work again");
            let a = store.create_account(account(ChannelKind::Grok, "after")).await.unwrap();
            assert_eq!(next_change(&mut rx).await, Change::Account(a.id));
            drop(server);
        })
        .await;
    }
}
