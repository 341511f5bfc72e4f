//! Two gateway instances sharing one Redis, as behind a load balancer: what is written on one
//! reaches the other's in-memory tables within a second (keys, account settings, cooldowns),
//! per-minute limits are counted once for both, and a session sticks to one account across both.
//!
//! Needs the local Redis at 127.0.0.1:6379 (CI has it); each test uses its own key prefix and
//! deletes it afterwards.

mod common;

use common::*;
use orchids2api::config::{Config, StoreKind};
use orchids2api::mock::{MockKind, MockServer};
use orchids2api::secret::Secret;
use orchids2api::server::Server;
use orchids2api::store::crypto::Cipher;
use orchids2api::store::redis::RedisStore;
use orchids2api::store::{AccountPatch, Health, KeyHash, NewApiKey, Reason, Store};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

const REDIS: &str = "redis://127.0.0.1:6379/0";

/// Two gateways on one Redis prefix, in front of one OpenAI mock with two accounts.
struct Pair {
    a: Server,
    b: Server,
    mock: MockServer,
    store: Arc<dyn Store>,
    prefix: String,
    _dirs: (TempDir, TempDir),
}

impl Drop for Pair {
    fn drop(&mut self) {
        delete_prefix(&self.prefix);
    }
}

async fn pair(tune: impl Fn(&mut Config)) -> Pair {
    let prefix = format!("o2a-test-{:016x}:", rand::random::<u64>());
    let mock = MockServer::start(MockKind::OpenAi).await.unwrap();
    let anthropic = MockServer::start(MockKind::Anthropic).await.unwrap();
    let dirs = (TempDir::new("inst-a"), TempDir::new("inst-b"));
    let config = |dir: &TempDir| {
        let mut c = config_for(&mock, &anthropic);
        c.store = StoreKind::Redis;
        c.redis_url = Secret::new(REDIS);
        c.redis_prefix = prefix.clone();
        c.data_dir = dir.0.clone();
        c.accounts = vec![
            account("openai", "one", &mock.base_url(), "sk-one"),
            account("openai", "two", &mock.base_url(), "sk-two"),
        ];
        tune(&mut c);
        c
    };
    let a = Server::start(&config(&dirs.0)).await.expect("instance a");
    let b = Server::start(&config(&dirs.1)).await.expect("instance b");
    let store: Arc<dyn Store> =
        Arc::new(RedisStore::connect(&Secret::new(REDIS), &prefix, Cipher::plain()).await.unwrap());
    Pair { a, b, mock, store, prefix, _dirs: dirs }
}

fn delete_prefix(prefix: &str) {
    let Ok(mut conn) = redis::Client::open(REDIS).and_then(|c| c.get_connection()) else { return };
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query(&mut conn).unwrap_or_default();
    if !keys.is_empty() {
        let _: Result<(), _> = redis::cmd("DEL").arg(&keys).query(&mut conn);
    }
}

fn chat_body() -> serde_json::Value {
    json!({"model": "mock-text", "messages": [{"role": "user", "content": "hi"}]})
}

async fn ask(server: &Server, key: &str, headers: &[(&str, &str)]) -> Reply {
    let auth = format!("Bearer {key}");
    let mut all = vec![("authorization", auth.as_str())];
    all.extend_from_slice(headers);
    send(server.addr(), "POST", "/openai/v1/chat/completions", &all, chat_body().to_string()).await
}

/// The account keys the mock saw since the last clear.
fn seen(mock: &MockServer) -> Vec<String> {
    mock.requests()
        .iter()
        .filter_map(|r| r.header("authorization").map(|a| a.trim_start_matches("Bearer ").to_string()))
        .collect()
}

/// Polls `check` every 20 ms for up to `within`; true once it holds.
async fn eventually(within: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let until = Instant::now() + within;
    while Instant::now() < until {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn a_key_created_on_one_instance_works_on_the_other_at_once() {
    let p = pair(|_| {}).await;
    assert_eq!(ask(&p.b, "sk-new-client", &[]).await.status, 401);
    p.store
        .create_key(NewApiKey {
            name: "new".into(),
            hash: KeyHash::of("sk-new-client"),
            prefix: "sk-new-cl…".into(),
            models: vec![],
            rpm: None,
            max_concurrency: None,
            expires_at: None,
            enabled: true,
        })
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(1), async || ask(&p.b, "sk-new-client", &[]).await.status == 200)
            .await
    );
    assert_eq!(ask(&p.a, "sk-new-client", &[]).await.status, 200);
}

// See: reference/client-conventions.md §4.10 #17 (AC-29)
#[tokio::test]
async fn ac29_account_changes_and_cooldowns_reach_every_selector_within_a_second() {
    let p = pair(|_| {}).await;
    let accounts = p.store.list_accounts().await.unwrap();
    let one = accounts.iter().find(|a| a.name == "one").unwrap().id;

    // Disabled through the store (as by an admin on instance A): B stops using it.
    p.store.update_account(one, AccountPatch { enabled: Some(false), ..Default::default() }).await.unwrap();
    let mut only_two = false;
    for _ in 0..50 {
        p.mock.clear();
        for _ in 0..6 {
            assert_eq!(ask(&p.b, KEY, &[]).await.status, 200);
        }
        if seen(&p.mock).iter().all(|k| k == "sk-two") {
            only_two = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(only_two, "instance B still used the disabled account");
    p.store.update_account(one, AccountPatch { enabled: Some(true), ..Default::default() }).await.unwrap();

    // A cooldown judged elsewhere is honoured; an operator's reset is too.
    let cooling = Health {
        reason: Some(Reason::RateLimited),
        cooldown_until: Some(orchids2api::time::now_ms() + 60_000),
        message: None,
    };
    p.store.update_account(one, AccountPatch { health: Some(cooling), ..Default::default() }).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    p.mock.clear();
    for _ in 0..10 {
        assert_eq!(ask(&p.a, KEY, &[]).await.status, 200);
        assert_eq!(ask(&p.b, KEY, &[]).await.status, 200);
    }
    assert!(seen(&p.mock).iter().all(|k| k == "sk-two"), "both instances skip the cooling account");
    let started = Instant::now();
    p.store
        .update_account(one, AccountPatch { health: Some(Health::default()), ..Default::default() })
        .await
        .unwrap();
    let back = eventually(Duration::from_secs(1), async || {
        p.mock.clear();
        for _ in 0..8 {
            ask(&p.b, KEY, &[]).await;
        }
        seen(&p.mock).iter().any(|k| k == "sk-one")
    })
    .await;
    assert!(back, "the reset reached instance B within {:?}", started.elapsed());
}

#[tokio::test]
async fn a_cooldown_judged_on_one_instance_is_honoured_by_the_other() {
    let p = pair(|c| {
        c.accounts[0].credential = Secret::new("sk-scenario-error_429");
        c.accounts[0].priority = 0;
        c.accounts[1].priority = 1;
    })
    .await;
    // A meets the 429 (and moves on to the other account); the cooldown goes to the store.
    assert_eq!(ask(&p.a, KEY, &[]).await.status, 200);
    assert_eq!(seen(&p.mock), ["sk-scenario-error_429", "sk-two"]);
    let skipped = eventually(Duration::from_secs(1), async || {
        p.mock.clear();
        ask(&p.b, KEY, &[]).await;
        seen(&p.mock) == ["sk-two"]
    })
    .await;
    assert!(skipped, "instance B skips the account instance A cooled");
}

#[tokio::test]
async fn requests_per_minute_are_counted_across_instances() {
    // Stay clear of a minute boundary, where the window starts over.
    let into_minute = orchids2api::time::now_ms().rem_euclid(60_000);
    if into_minute > 50_000 {
        tokio::time::sleep(Duration::from_millis((61_000 - into_minute) as u64)).await;
    }
    let p = pair(|_| {}).await;
    p.store
        .create_key(NewApiKey {
            name: "metered".into(),
            hash: KeyHash::of("sk-metered"),
            prefix: "sk-metere…".into(),
            models: vec![],
            rpm: Some(3),
            max_concurrency: None,
            expires_at: None,
            enabled: true,
        })
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(1), async || ask(&p.a, "sk-metered", &[]).await.status == 200).await
    );
    assert!(
        eventually(Duration::from_secs(1), async || ask(&p.b, "sk-metered", &[]).await.status == 200).await
    );
    assert_eq!(ask(&p.a, "sk-metered", &[]).await.status, 200);
    for server in [&p.a, &p.b] {
        let r = ask(server, "sk-metered", &[]).await;
        assert_eq!(r.status, 429, "{}", r.text());
        assert_eq!(r.json()["error"]["code"], "key_rate_limited");
        let after: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&after));
    }
}

// See: reference/client-conventions.md §4.1 (AC-03)
#[tokio::test]
async fn ac03_a_session_sticks_to_one_account_across_instances() {
    let p = pair(|_| {}).await;
    for n in 0..6 {
        let session = format!("conversation-{n}");
        p.mock.clear();
        assert_eq!(ask(&p.a, KEY, &[("x-claude-code-session-id", &session)]).await.status, 200);
        // Give the binding a moment to reach the store.
        tokio::time::sleep(Duration::from_millis(50)).await;
        for _ in 0..4 {
            assert_eq!(ask(&p.b, KEY, &[("x-claude-code-session-id", &session)]).await.status, 200);
            assert_eq!(ask(&p.a, KEY, &[("x-claude-code-session-id", &session)]).await.status, 200);
        }
        let keys = seen(&p.mock);
        assert!(keys.iter().all(|k| *k == keys[0]), "{session}: {keys:?}");
    }
}

/// The same through two `orchids2api` processes behind a notional load balancer: a key created
/// through A's admin API serves on B, and an account A's admin disables leaves B's rotation.
#[tokio::test(flavor = "multi_thread")]
async fn two_gateway_processes_share_one_redis() {
    use common::process::{free_port, start};
    const ADMIN: &str = "admin-token-for-instance-tests";
    let prefix = format!("o2a-test-{:016x}:", rand::random::<u64>());
    let _cleanup = Prefix(prefix.clone());
    let mock = MockServer::start(MockKind::OpenAi).await.unwrap();
    let dir = TempDir::new("processes");
    let mut gateways = Vec::new();
    for name in ["a", "b"] {
        let port = free_port();
        let config = dir.0.join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                concat!(
                    "listen = \"127.0.0.1:{port}\"\ndata_dir = {data:?}\nadmin_token = \"{admin}\"\nlog_level = \"warn\"\n",
                    "store = \"redis\"\nredis_url = \"{redis}\"\nredis_prefix = \"{prefix}\"\n\n",
                    "[[accounts]]\nchannel = \"openai\"\nname = \"one\"\nbase_url = \"{base}\"\ncredential = \"sk-one\"\n\n",
                    "[[accounts]]\nchannel = \"openai\"\nname = \"two\"\nbase_url = \"{base}\"\ncredential = \"sk-two\"\n\n",
                    "[[models]]\nid = \"mock-text\"\nchannel = \"openai\"\n"
                ),
                port = port,
                data = dir.0.join(name).display().to_string(),
                admin = ADMIN,
                redis = REDIS,
                prefix = prefix,
                base = mock.base_url(),
            ),
        )
        .unwrap();
        gateways.push(start(&config, port).await);
    }
    let (a, b) = (&gateways[0], &gateways[1]);
    let admin = format!("Bearer {ADMIN}");
    let created = send(
        a.addr(),
        "POST",
        "/api/keys",
        &[("authorization", &admin)],
        json!({"name": "shared"}).to_string(),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let key = created.json()["key"].as_str().unwrap().to_string();
    let ask_b = async || {
        let auth = format!("Bearer {key}");
        send(b.addr(), "POST", "/v1/chat/completions", &[("authorization", &auth)], chat_body().to_string())
            .await
            .status
    };
    assert!(eventually(Duration::from_secs(1), async || ask_b().await == 200).await, "B accepts A's new key");

    let accounts = send(a.addr(), "GET", "/api/accounts", &[("authorization", &admin)], "").await.json();
    let one =
        accounts.as_array().unwrap().iter().find(|x| x["name"] == "one").unwrap()["id"].as_u64().unwrap();
    let r = send(
        a.addr(),
        "PATCH",
        &format!("/api/accounts/{one}"),
        &[("authorization", &admin)],
        json!({"enabled": false}).to_string(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let only_two = eventually(Duration::from_secs(1), async || {
        mock.clear();
        for _ in 0..6 {
            ask_b().await;
        }
        seen(&mock).iter().all(|k| k == "sk-two")
    })
    .await;
    assert!(only_two, "B left the account A disabled");
}

/// Deletes a Redis prefix on drop.
struct Prefix(String);

impl Drop for Prefix {
    fn drop(&mut self) {
        delete_prefix(&self.0);
    }
}
