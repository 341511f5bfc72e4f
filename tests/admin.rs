//! The admin API as an operator's script sees it: real sockets against a real gateway with mock
//! upstreams. Every write goes through the store and reaches the serving tables through the
//! change feed, so each test asserts what a client of the model endpoints sees afterwards (a key
//! that authenticates, an account that stops or starts serving, a setting that takes effect).
//!
//! Every admin answer is checked for every secret the test knows (credentials, client keys, the
//! admin token): none may appear. The core tests run on the embedded store and on Redis (a random
//! key prefix, deleted at the end).

mod common;

use common::*;
use orchids2api::channels::ChannelKind;
use orchids2api::config::{Config, StoreKind};
use orchids2api::secret::Secret;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ADMIN_TOKEN: &str = "admin-token-7f3c9a1e5b20d4";
const SECRET_KEY: &str = "admin-test-secret-key-0123456789abcdef";
const OTHER_SECRET_KEY: &str = "another-secret-key-fedcba9876543210fedcba";

/// A gateway with the admin API on (and quick retries).
async fn gateway(tune: impl FnOnce(&mut Config)) -> Harness {
    Harness::start_with(|c| {
        c.admin_token = Some(Secret::new(ADMIN_TOKEN));
        c.retry_delay_ms = 1;
        c.drain_timeout_s = 2;
        tune(c);
    })
    .await
}

/// A gateway whose openai channel has exactly these accounts (name, credential, priority).
async fn gateway_with_openai(accounts: &[(&str, &str, u32)], tune: impl FnOnce(&mut Config)) -> Harness {
    let accounts: Vec<(String, String, u32)> =
        accounts.iter().map(|(n, c, p)| (n.to_string(), c.to_string(), *p)).collect();
    gateway(move |c| {
        let base =
            c.accounts.iter().find(|a| a.channel == ChannelKind::OpenAi).unwrap().base_url.clone().unwrap();
        c.accounts = accounts
            .iter()
            .map(|(name, credential, priority)| {
                let mut a = account("openai", name, &base, credential);
                a.priority = *priority;
                a
            })
            .collect();
        tune(c);
    })
    .await
}

/// The admin API of one gateway. Every answer is checked against every secret registered.
struct Api {
    addr: SocketAddr,
    secrets: Mutex<Vec<String>>,
}

impl Api {
    fn new(h: &Harness) -> Api {
        let known =
            [ADMIN_TOKEN, KEY, "sk-mock-upstream", "sk-ant-mock-upstream", SECRET_KEY, OTHER_SECRET_KEY];
        Api { addr: h.addr(), secrets: Mutex::new(known.map(str::to_string).to_vec()) }
    }

    /// A secret that no later answer may contain.
    fn secret(&self, s: &str) {
        self.secrets.lock().unwrap().push(s.to_string());
    }

    async fn raw(&self, method: &str, path: &str, body: String) -> Reply {
        let auth = format!("Bearer {ADMIN_TOKEN}");
        let r = send(
            self.addr,
            method,
            path,
            &[("authorization", &auth), ("content-type", "application/json")],
            body,
        )
        .await;
        let text = String::from_utf8_lossy(&r.body).to_string();
        let headers = format!("{:?}", r.headers);
        for secret in self.secrets.lock().unwrap().iter() {
            assert!(!text.contains(secret.as_str()), "{method} {path} answered a secret: {text}");
            assert!(!headers.contains(secret.as_str()), "{method} {path} answered a secret in a header");
        }
        r
    }

    async fn get(&self, path: &str) -> Reply {
        self.raw("GET", path, String::new()).await
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        self.raw("POST", path, body.to_string()).await
    }

    async fn patch(&self, path: &str, body: Value) -> Reply {
        self.raw("PATCH", path, body.to_string()).await
    }

    async fn delete(&self, path: &str) -> Reply {
        self.raw("DELETE", path, String::new()).await
    }

    /// The id of the account named `name`.
    async fn account_id(&self, name: &str) -> u64 {
        let list = self.get("/api/accounts").await.json();
        list.as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {list}"))["id"]
            .as_u64()
            .unwrap()
    }
}

/// Asserts a 400 whose `param` names `param`.
#[track_caller]
fn assert_bad(r: &Reply, param: Option<&str>) {
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["param"].as_str(), param, "{}", r.text());
}

/// Waits (at most 10 s) for `check` to hold: the change feed applies writes within
/// milliseconds, but asynchronously.
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A chat request on the openai channel with `key`.
async fn chat(h: &Harness, key: &str, model: &str) -> Reply {
    let body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    send(
        h.addr(),
        "POST",
        "/openai/v1/chat/completions",
        &[("authorization", &format!("Bearer {key}")), ("content-type", "application/json")],
        body.to_string(),
    )
    .await
}

/// The keys the openai mock was called with, in order.
fn keys_seen(h: &Harness) -> Vec<String> {
    h.openai
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap_or_default().trim_start_matches("Bearer ").to_string())
        .collect()
}

/// Does this instance's pool hold account `id` in a state `check` accepts?
fn pool_has(
    h: &Harness,
    id: u64,
    check: impl Fn(&orchids2api::pool::AccountInfo, &orchids2api::pool::Live) -> bool,
) -> bool {
    ChannelKind::ALL
        .into_iter()
        .flat_map(|c| h.gateway.live().pool.accounts(c))
        .any(|(info, live)| info.id == id && check(&info, &live))
}

// --- Redis ------------------------------------------------------------------------------------

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

/// A random key prefix whose keys are deleted (SCAN + DEL) when dropped.
struct RedisPrefix(String);

impl RedisPrefix {
    fn new() -> RedisPrefix {
        RedisPrefix(format!("o2a-test-admin-{:016x}:", rand::random::<u64>()))
    }
}

impl Drop for RedisPrefix {
    fn drop(&mut self) {
        let Ok(mut conn) = redis::Client::open(redis_url()).and_then(|c| c.get_connection()) else { return };
        let mut cursor = 0u64;
        loop {
            let scanned: Result<(u64, Vec<String>), _> =
                redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(format!("{}*", self.0)).query(&mut conn);
            let Ok((next, keys)) = scanned else { return };
            if !keys.is_empty() {
                let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut conn);
            }
            if next == 0 {
                return;
            }
            cursor = next;
        }
    }
}

fn on_redis(c: &mut Config, prefix: &RedisPrefix, url: &str) {
    c.store = StoreKind::Redis;
    c.redis_url = Secret::new(url);
    c.redis_prefix = prefix.0.clone();
}

/// Stops the gateway and waits for its background writers, so nothing is written under a
/// prefix after it is deleted.
async fn stop(h: Harness) {
    let Harness { gateway, .. } = h;
    gateway.shutdown();
    gateway.wait().await;
}

// --- auth -------------------------------------------------------------------------------------

#[tokio::test]
async fn the_admin_api_is_off_without_a_token_and_shut_to_wrong_ones() {
    let off = Harness::start().await;
    let r = send(off.addr(), "GET", "/api/accounts", &[("authorization", "Bearer anything")], "").await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "admin_disabled");
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("admin_token"));

    let h = gateway(|c| c.max_body_bytes = 4096).await;
    let basic = format!("Basic {ADMIN_TOKEN}");
    for (auth, code) in [
        (None, "missing_admin_token"),
        (Some("Bearer wrong-token"), "invalid_admin_token"),
        (Some(basic.as_str()), "missing_admin_token"),
        (Some(ADMIN_TOKEN), "missing_admin_token"),
        (Some(&format!("Bearer {KEY}")[..]), "invalid_admin_token"),
    ] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        for path in ["/api/accounts", "/api/no-such-thing"] {
            let r = send(h.addr(), "GET", path, &headers, "").await;
            assert_eq!(r.status, 401, "{auth:?} {path}: {}", r.text());
            assert_eq!(r.json()["error"]["code"], code);
            assert!(!r.text().contains(ADMIN_TOKEN));
        }
    }
    let api = Api::new(&h);
    assert_eq!(api.get("/api/accounts").await.status, 200);
    let r = api.get("/api/no-such-thing").await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (404, Some("not_found")));
    let r = api.raw("PUT", "/api/accounts/1", "{}".into()).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, PATCH, DELETE"));
    let r = api.raw("POST", "/api/import", format!("[{}]", "1,".repeat(3000))).await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (413, Some("request_too_large")));
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    // The admin token is no client key.
    assert_eq!(chat(&h, ADMIN_TOKEN, "mock-text").await.status, 401);
}

// --- accounts ---------------------------------------------------------------------------------

/// Create, read, list, partial PATCH with `null` clearing, validation, delete.
async fn account_lifecycle(h: &Harness) {
    let api = Api::new(h);
    let list = api.get("/api/accounts").await;
    assert_eq!(list.status, 200);
    let seeded = list.json();
    assert_eq!(seeded.as_array().unwrap().len(), 2, "{seeded}");
    for a in seeded.as_array().unwrap() {
        assert_eq!(a["status"], "ok");
        assert_eq!(a["credential_fingerprint"].as_str().unwrap().len(), 8);
        assert!(a.get("credential").is_none() && a.get("state").is_none(), "{a}");
    }

    let base = h.openai.base_url();
    api.secret("sk-created-credential-1");
    let r = api
        .post(
            "/api/accounts",
            json!({"channel": "openai", "name": "oa-2", "credential": "sk-created-credential-1",
                   "base_url": base, "weight": 2, "priority": 1}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    let id = created["id"].as_u64().unwrap();
    assert_eq!(created["channel"], "openai");
    assert_eq!(created["name"], "oa-2");
    assert_eq!(created["base_url"], base.as_str());
    assert_eq!((created["weight"].as_u64(), created["priority"].as_u64()), (Some(2), Some(1)));
    assert_eq!((created["enabled"].as_bool(), created["max_concurrency"].as_u64()), (Some(true), Some(0)));
    assert_eq!(created["credential_fingerprint"], Secret::new("sk-created-credential-1").fingerprint());
    assert_eq!((created["status"].as_str(), created["in_flight"].as_u64()), (Some("ok"), Some(0)));
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));

    let r = api
        .post("/api/accounts", json!({"channel": "openai", "name": "oa-2", "credential": "sk-other-x"}))
        .await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (409, Some("conflict")));

    let got = api.get(&format!("/api/accounts/{id}")).await.json();
    assert_eq!((got["name"].as_str(), got["weight"].as_u64()), (Some("oa-2"), Some(2)));
    let openai = api.get("/api/accounts?channel=openai").await.json();
    let names: Vec<&str> = openai.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["oa-1", "oa-2"]);
    assert_bad(&api.get("/api/accounts?channel=nope").await, Some("channel"));
    assert_bad(&api.get("/api/accounts?colour=red").await, None);

    // Only the fields sent change; null clears an optional field.
    let path = format!("/api/accounts/{id}");
    let r = api.patch(&path, json!({"weight": 5})).await.json();
    assert_eq!(
        (r["weight"].as_u64(), r["priority"].as_u64(), r["base_url"].as_str()),
        (Some(5), Some(1), Some(&base[..]))
    );
    let r = api.patch(&path, json!({"base_url": null})).await.json();
    assert_eq!(
        (r["base_url"].clone(), r["weight"].as_u64(), r["name"].as_str()),
        (Value::Null, Some(5), Some("oa-2"))
    );
    let r = api.patch(&path, json!({"enabled": false, "max_concurrency": 4})).await.json();
    assert_eq!((r["status"].as_str(), r["max_concurrency"].as_u64()), (Some("disabled"), Some(4)));
    assert_eq!(api.patch(&path, json!({})).await.json()["weight"], 5);

    // Validation names the field.
    assert_bad(&api.patch(&path, json!({"name": null})).await, Some("name"));
    assert_bad(&api.patch(&path, json!({"weight": 0})).await, Some("weight"));
    assert_bad(&api.patch(&path, json!({"weight": "heavy"})).await, Some("weight"));
    assert_bad(&api.patch(&path, json!({"max_concurrency": -1})).await, Some("max_concurrency"));
    assert_bad(&api.patch(&path, json!({"base_url": "ftp://example.com"})).await, Some("base_url"));
    let r = api.patch(&path, json!({"channel": "anthropic"})).await;
    assert_bad(&r, None);
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("unknown field `channel`"));
    let r = api.raw("PATCH", &path, "{\"weight\": ".into()).await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (400, Some("invalid_json")));
    assert_bad(
        &api.post("/api/accounts", json!({"channel": "openai", "name": "x"})).await,
        Some("credential"),
    );
    assert_bad(
        &api.post("/api/accounts", json!({"channel": "nope", "name": "x", "credential": "c"})).await,
        Some("channel"),
    );
    assert_bad(
        &api.post("/api/accounts", json!({"channel": "openai", "name": " ", "credential": "c"})).await,
        Some("name"),
    );
    let r = api.post("/api/accounts", json!({"channel": "openai", "name": "x", "credential": 1234567})).await;
    assert_bad(&r, Some("credential"));
    assert!(!r.text().contains("1234567"), "a malformed credential is not quoted back: {}", r.text());

    assert_eq!(api.delete(&path).await.status, 204);
    assert_eq!(api.get(&path).await.status, 404);
    assert_eq!(api.delete(&path).await.status, 404);
    assert_eq!(api.patch(&path, json!({"weight": 1})).await.status, 404);
    assert_eq!(api.post(&format!("{path}/reset"), json!({})).await.status, 404);
}

#[tokio::test]
async fn accounts_are_created_read_patched_and_deleted() {
    let h = gateway(|_| {}).await;
    account_lifecycle(&h).await;
}

#[tokio::test]
async fn accounts_are_created_read_patched_and_deleted_on_redis() {
    let prefix = RedisPrefix::new();
    let h = gateway(|c| on_redis(c, &prefix, &redis_url())).await;
    account_lifecycle(&h).await;
    stop(h).await;
}

/// Disabling one of two accounts sends every request to the other; enabling it brings it back.
async fn disabling_moves_traffic(h: &Harness) {
    let api = Api::new(h);
    api.secret("sk-first-account");
    api.secret("sk-second-account");
    let first = api.account_id("first").await;
    let r = api.patch(&format!("/api/accounts/{first}"), json!({"enabled": false})).await;
    assert_eq!(r.json()["status"], "disabled");
    eventually("the pool to drop the account", || async { pool_has(h, first, |info, _| !info.enabled) })
        .await;
    h.openai.clear();
    for _ in 0..6 {
        assert_eq!(chat(h, KEY, "mock-text").await.status, 200);
    }
    assert_eq!(keys_seen(h), ["sk-second-account"; 6]);

    api.patch(&format!("/api/accounts/{first}"), json!({"enabled": true})).await;
    eventually("the pool to take the account back", || async { pool_has(h, first, |info, _| info.enabled) })
        .await;
}

#[tokio::test]
async fn a_disabled_account_gets_no_traffic() {
    let h =
        gateway_with_openai(&[("first", "sk-first-account", 0), ("second", "sk-second-account", 0)], |_| {})
            .await;
    disabling_moves_traffic(&h).await;
}

#[tokio::test]
async fn a_disabled_account_gets_no_traffic_on_redis() {
    let prefix = RedisPrefix::new();
    let h =
        gateway_with_openai(&[("first", "sk-first-account", 0), ("second", "sk-second-account", 0)], |c| {
            on_redis(c, &prefix, &redis_url())
        })
        .await;
    disabling_moves_traffic(&h).await;
    stop(h).await;
}

/// An account benched by the relay (401: out until an operator acts) is skipped; a reset
/// through the API puts it back in every selector.
async fn reset_restores_routing(h: &Harness) {
    let api = Api::new(h);
    api.secret("sk-good");
    let bad = api.account_id("bad").await;
    assert_eq!(chat(h, KEY, "mock-text").await.status, 200);
    let path = format!("/api/accounts/{bad}");
    eventually("the relay's verdict to reach the store", || async {
        let a = api.get(&path).await.json();
        a["status"] == "failed"
    })
    .await;
    let a = api.get(&path).await.json();
    assert_eq!((a["reason"].as_str(), a["cooldown_until"].clone()), (Some("auth_failed"), Value::Null));
    assert_eq!(a["health_message"], "upstream_auth_failed");
    h.openai.clear();
    assert_eq!(chat(h, KEY, "mock-text").await.status, 200);
    assert_eq!(keys_seen(h), ["sk-good"], "the failed account is skipped");

    let r = api.post(&format!("{path}/reset"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!((r.json()["status"].as_str(), r.json()["reason"].clone()), (Some("ok"), Value::Null));
    eventually("the pool to see the reset", || async {
        pool_has(h, bad, |_, live| live.is_available(orchids2api::time::now_ms()))
    })
    .await;
    h.openai.clear();
    assert_eq!(chat(h, KEY, "mock-text").await.status, 200);
    assert_eq!(keys_seen(h), ["sk-scenario-error_401", "sk-good"], "the reset account is picked again");
}

#[tokio::test]
async fn resetting_a_failed_account_restores_its_routing() {
    let h = gateway_with_openai(&[("bad", "sk-scenario-error_401", 0), ("good", "sk-good", 1)], |_| {}).await;
    reset_restores_routing(&h).await;
}

#[tokio::test]
async fn resetting_a_failed_account_restores_its_routing_on_redis() {
    let prefix = RedisPrefix::new();
    let h = gateway_with_openai(&[("bad", "sk-scenario-error_401", 0), ("good", "sk-good", 1)], |c| {
        on_redis(c, &prefix, &redis_url())
    })
    .await;
    reset_restores_routing(&h).await;
    stop(h).await;
}

#[tokio::test]
async fn checking_an_account_calls_its_upstream_and_records_the_verdict() {
    let h = gateway(|_| {}).await;
    let api = Api::new(&h);
    for name in ["oa-1", "an-1"] {
        let r = api.post(&format!("/api/accounts/{}/check", api.account_id(name).await), json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            (r.json()["ok"].as_bool(), r.json()["account"]["status"].as_str()),
            (Some(true), Some("ok"))
        );
    }

    // The mocks reject `sk-mock-bad` with a 401 whose text quotes part of the key.
    api.secret("sk-mock-bad");
    for (channel, base) in [("openai", h.openai.base_url()), ("anthropic", h.anthropic.base_url())] {
        let r = api
            .post(
                "/api/accounts",
                json!({"channel": channel, "name": "bad", "credential": "sk-mock-bad", "base_url": base}),
            )
            .await;
        let id = r.json()["id"].as_u64().unwrap();
        let r = api.post(&format!("/api/accounts/{id}/check"), json!({})).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        assert_eq!(v["ok"], false);
        assert_eq!(v["error"]["code"], "upstream_auth_failed");
        assert_eq!(v["error"]["upstream_status"], 401);
        assert_eq!((v["reason"].as_str(), v["cooldown_until"].clone()), (Some("auth_failed"), Value::Null));
        assert_eq!(v["account"]["status"], "failed");
        let text = r.text();
        assert!(
            !text.contains("sk-moc") && !text.contains("Incorrect") && !text.contains("invalid x-api-key"),
            "{text}"
        );
        let stored = api.get(&format!("/api/accounts/{id}")).await.json();
        assert_eq!(stored["health_message"], "check failed: upstream_auth_failed");

        // A new credential clears the auth failure; the next check passes.
        api.secret(&format!("sk-fixed-{channel}"));
        let r = api
            .patch(&format!("/api/accounts/{id}"), json!({"credential": format!("sk-fixed-{channel}")}))
            .await;
        assert_eq!((r.json()["status"].as_str(), r.json()["reason"].clone()), (Some("ok"), Value::Null));
        let r = api.post(&format!("/api/accounts/{id}/check"), json!({})).await.json();
        assert_eq!(r["ok"], true);
    }

    // An account whose upstream rate-limits it: the check reports it and cools the account.
    let r = api
        .post(
            "/api/accounts",
            json!({"channel": "openai", "name": "limited", "credential": "sk-scenario-error_429", "base_url": h.openai.base_url()}),
        )
        .await;
    api.secret("sk-scenario-error_429");
    let v = api.post(&format!("/api/accounts/{}/check", r.json()["id"]), json!({})).await.json();
    assert_eq!((v["ok"].as_bool(), v["reason"].as_str()), (Some(false), Some("rate_limited")), "{v}");
    assert_eq!(v["account"]["status"], "cooling");

    assert_eq!(api.post("/api/accounts/999999/check", json!({})).await.status, 404);
    let r = api
        .post("/api/accounts", json!({"channel": "orchids", "name": "o", "credential": "clerk-token-x"}))
        .await;
    api.secret("clerk-token-x");
    let r = api.post(&format!("/api/accounts/{}/check", r.json()["id"]), json!({})).await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (501, Some("not_supported")));
}

// --- keys -------------------------------------------------------------------------------------

/// A key created through the API is shown once and authenticates; its policy follows PATCHes;
/// a deleted key is refused.
async fn key_lifecycle(h: &Harness) {
    let api = Api::new(h);
    let r = api
        .post(
            "/api/keys",
            json!({"name": "ci", "models": ["mock-text"], "rpm": 100, "expires_at": "2999-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    let key = created["key"].as_str().unwrap().to_string();
    api.secret(&key);
    let hash = orchids2api::store::KeyHash::of(&key).0;
    api.secret(&hash);
    assert!(key.starts_with("sk-o2a-") && key.len() == 7 + 43, "{key}");
    assert_eq!(created["prefix"], format!("{}…", &key[..10]));
    assert_eq!(created["models"], json!(["mock-text"]));
    assert_eq!(
        (created["rpm"].as_u64(), created["expires_at"].as_str()),
        (Some(100), Some("2999-01-01T00:00:00Z"))
    );
    let id = created["id"].as_u64().unwrap();
    let path = format!("/api/keys/{id}");

    let listed = api.get("/api/keys").await.json();
    let ci = listed.as_array().unwrap().iter().find(|k| k["name"] == "ci").unwrap().clone();
    assert!(ci.get("key").is_none() && ci.get("hash").is_none(), "{ci}");
    assert_eq!(api.get(&path).await.json()["prefix"], created["prefix"]);

    eventually("the key to authenticate", || async { chat(h, &key, "mock-text").await.status == 200 }).await;
    let r = chat(h, &key, "mock-echo").await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (403, Some("model_not_allowed")));

    api.patch(&path, json!({"enabled": false})).await;
    eventually("the key to be refused", || async {
        let r = chat(h, &key, "mock-text").await;
        r.status == 401 && r.json()["error"]["code"] == "api_key_disabled"
    })
    .await;
    let r = api
        .patch(&path, json!({"enabled": true, "models": null, "rpm": null, "expires_at": null}))
        .await
        .json();
    assert_eq!(r["models"], json!([]));
    assert_eq!(
        (r["rpm"].clone(), r["expires_at"].clone(), r["name"].as_str()),
        (Value::Null, Value::Null, Some("ci"))
    );
    eventually("the key to allow every model", || async { chat(h, &key, "mock-echo").await.status == 200 })
        .await;

    assert_bad(&api.post("/api/keys", json!({})).await, Some("name"));
    assert_bad(
        &api.post("/api/keys", json!({"name": "x", "expires_at": "tomorrow"})).await,
        Some("expires_at"),
    );
    assert_bad(
        &api.post("/api/keys", json!({"name": "x", "expires_at": 1767225600000u64})).await,
        Some("expires_at"),
    );
    assert_bad(
        &api.post("/api/keys", json!({"name": "x", "expires_at": "2001-01-01T00:00:00Z"})).await,
        Some("expires_at"),
    );
    assert_bad(&api.post("/api/keys", json!({"name": "x", "rpm": 0})).await, Some("rpm"));
    assert_bad(&api.post("/api/keys", json!({"name": "x", "models": [""]})).await, Some("models"));
    assert_bad(&api.patch(&path, json!({"enabled": null})).await, Some("enabled"));
    let r = api.post("/api/keys", json!({"name": "x", "key": "sk-my-own"})).await;
    assert_bad(&r, None);
    assert!(r.text().contains("unknown field `key`"));
    assert_eq!(api.post("/api/keys", json!({"name": "ci"})).await.status, 409);

    assert_eq!(api.delete(&path).await.status, 204);
    eventually("the deleted key to be refused", || async {
        let r = chat(h, &key, "mock-text").await;
        r.status == 401 && r.json()["error"]["code"] == "invalid_api_key"
    })
    .await;
    assert_eq!(api.get(&path).await.status, 404);
    assert_eq!(api.delete(&path).await.status, 404);
}

#[tokio::test]
async fn keys_are_shown_once_and_authenticate() {
    let h = gateway(|_| {}).await;
    key_lifecycle(&h).await;
}

#[tokio::test]
async fn keys_are_shown_once_and_authenticate_on_redis() {
    let prefix = RedisPrefix::new();
    let h = gateway(|c| on_redis(c, &prefix, &redis_url())).await;
    key_lifecycle(&h).await;
    stop(h).await;
}

// --- models -----------------------------------------------------------------------------------

#[tokio::test]
async fn a_model_created_through_the_api_routes() {
    let h = gateway(|_| {}).await;
    let api = Api::new(&h);
    let r = api
        .post(
            "/api/models",
            json!({"model_id": "org/routed-by-admin", "channel": "openai", "upstream": "mock-echo", "display_name": "Routed"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let created = r.json();
    assert_eq!((created["kind"].as_str(), created["enabled"].as_bool()), (Some("chat"), Some(true)));
    let path = format!("/api/models/{}", created["id"]);
    eventually("the model to route", || async { chat(&h, KEY, "org/routed-by-admin").await.status == 200 })
        .await;
    assert_eq!(
        h.openai.requests().last().unwrap().json()["model"],
        "mock-echo",
        "sent under its upstream id"
    );
    assert_eq!(api.get(&path).await.json()["model_id"], "org/routed-by-admin");

    let r = api.patch(&path, json!({"display_name": null, "kind": "image"})).await.json();
    assert_eq!(
        (r["display_name"].clone(), r["kind"].as_str(), r["upstream"].as_str()),
        (Value::Null, Some("image"), Some("mock-echo"))
    );
    assert_bad(&api.patch(&path, json!({"kind": "audio"})).await, Some("kind"));
    assert_bad(&api.patch(&path, json!({"model_id": ""})).await, Some("model_id"));
    assert_bad(&api.patch(&path, json!({"channel": "anthropic"})).await, None);
    assert_bad(&api.post("/api/models", json!({"channel": "openai"})).await, Some("model_id"));
    let dup = api.post("/api/models", json!({"model_id": "org/routed-by-admin", "channel": "openai"})).await;
    assert_eq!(dup.status, 409);
    assert_eq!(
        api.post("/api/models", json!({"model_id": "org/routed-by-admin", "channel": "anthropic"}))
            .await
            .status,
        201
    );

    api.patch(&path, json!({"enabled": false})).await;
    eventually("the disabled model to stop routing on openai", || async {
        chat(&h, KEY, "org/routed-by-admin").await.status == 404
    })
    .await;
    assert_eq!(api.delete(&path).await.status, 204);
    assert_eq!(api.get(&path).await.status, 404);
    assert!(
        api.get("/api/models").await.json().as_array().unwrap().iter().any(|m| m["model_id"] == "mock-text")
    );
}

// --- settings ---------------------------------------------------------------------------------

#[tokio::test]
async fn settings_changes_are_checked_whole_and_take_effect_without_a_restart() {
    let h =
        gateway_with_openai(&[("flaky", "sk-scenario-error_500", 0), ("good", "sk-good", 1)], |_| {}).await;
    let api = Api::new(&h);
    let s = api.get("/api/settings").await.json();
    assert_eq!((s["settings"]["max_retries"].as_u64(), s["overrides"].clone()), (Some(3), json!({})));
    assert_eq!(s["config"]["max_retries"], 3);

    let r = api.patch("/api/settings", json!({"max_retries": 99})).await;
    assert_bad(&r, Some("max_retries"));
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("between 0 and 20"));
    assert_bad(&api.patch("/api/settings", json!({"max_retries": 1, "nonsense": 2})).await, None);
    assert_bad(&api.patch("/api/settings", json!({"retry_delay_ms": "fast"})).await, Some("retry_delay_ms"));
    assert_bad(&api.patch("/api/settings", json!({"nonsense": null})).await, None);
    assert_eq!(api.raw("PATCH", "/api/settings", "[1]".into()).await.status, 400);
    assert_eq!(
        api.get("/api/settings").await.json()["overrides"],
        json!({}),
        "a refused PATCH writes nothing"
    );

    let r = api.patch("/api/settings", json!({"max_retries": 0})).await.json();
    assert_eq!(
        (r["overrides"].clone(), r["settings"]["max_retries"].as_u64()),
        (json!({"max_retries": 0}), Some(0))
    );
    eventually("max_retries = 0 in force", || async { h.gateway.live().runtime.load().max_retries == 0 })
        .await;
    let r = chat(&h, KEY, "mock-text").await;
    assert_eq!(r.status, 502, "no retry on the good account: {}", r.text());

    let r = api.patch("/api/settings", json!({"max_retries": null})).await.json();
    assert_eq!((r["overrides"].clone(), r["settings"]["max_retries"].as_u64()), (json!({}), Some(3)));
    eventually("max_retries = 3 in force", || async { h.gateway.live().runtime.load().max_retries == 3 })
        .await;
    assert_eq!(chat(&h, KEY, "mock-text").await.status, 200);
}

// --- usage ------------------------------------------------------------------------------------

#[tokio::test]
async fn usage_is_listed_filtered_and_totalled() {
    let h = gateway(|_| {}).await;
    let api = Api::new(&h);
    for _ in 0..2 {
        assert_eq!(chat(&h, KEY, "mock-text").await.status, 200);
    }
    eventually("usage to be written", || async {
        api.get("/api/usage?model=mock-text").await.json()["totals"]["requests"] == 2
    })
    .await;
    let oa1 = api.account_id("oa-1").await;
    let keys = api.get("/api/keys").await.json();
    let test_key =
        keys.as_array().unwrap().iter().find(|k| k["name"] == "test").unwrap()["id"].as_u64().unwrap();
    let today = orchids2api::time::day_of(orchids2api::time::now_ms());

    let u = api
        .get(&format!("/api/usage?from={today}&to={today}&account={oa1}&key={test_key}&model=mock-text"))
        .await;
    assert_eq!(u.status, 200, "{}", u.text());
    let u = u.json();
    assert_eq!(u["totals"]["requests"], 2);
    assert_eq!(u["totals"]["errors"], 0);
    assert!(u["totals"]["output_tokens"].as_u64().unwrap() > 0);
    let rows = u["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{u}");
    assert_eq!(
        (rows[0]["day"].as_u64(), rows[0]["account_id"].as_u64()),
        (Some(u64::from(today)), Some(oa1))
    );
    assert_eq!((rows[0]["key_id"].as_u64(), rows[0]["model"].as_str()), (Some(test_key), Some("mock-text")));
    assert_eq!(api.get("/api/usage?to=19991231").await.json()["totals"]["requests"], 0);

    let mine = api.get(&format!("/api/accounts/{oa1}/usage?from={today}")).await.json();
    assert_eq!(mine["totals"]["requests"], 2);
    assert!(mine["rows"].as_array().unwrap().iter().all(|r| r["account_id"] == oa1));
    let an1 = api.account_id("an-1").await;
    assert_eq!(api.get(&format!("/api/accounts/{an1}/usage")).await.json()["totals"]["requests"], 0);

    assert_bad(&api.get("/api/usage?from=20260230").await, Some("from"));
    assert_bad(&api.get("/api/usage?to=2026-01-01").await, Some("to"));
    assert_bad(&api.get("/api/usage?key=abc").await, Some("key"));
    assert_bad(&api.get("/api/usage?bogus=1").await, None);
    assert_bad(&api.get(&format!("/api/accounts/{oa1}/usage?model=x")).await, None);
    assert_eq!(api.get("/api/accounts/999999/usage").await.status, 404);
}

// --- export / import --------------------------------------------------------------------------

#[tokio::test]
async fn an_export_with_sealed_credentials_imports_into_a_fresh_gateway_that_then_serves() {
    let a = gateway(|c| c.secret_key = Some(Secret::new(SECRET_KEY))).await;
    let api_a = Api::new(&a);
    api_a.secret("sk-exported-credential-9");
    let r = api_a
        .post(
            "/api/accounts",
            json!({"channel": "openai", "name": "exported", "credential": "sk-exported-credential-9",
                   "base_url": a.openai.base_url(), "priority": 2}),
        )
        .await;
    assert_eq!(r.status, 201);
    let moved =
        api_a.post("/api/keys", json!({"name": "moved"})).await.json()["key"].as_str().unwrap().to_string();
    api_a.secret(&moved);
    api_a.patch("/api/settings", json!({"max_retries": 2})).await;

    let export = api_a.get("/api/export").await;
    assert_eq!(export.status, 200);
    assert!(export.header("content-disposition").unwrap().starts_with("attachment"));
    let doc = export.json();
    assert_eq!((doc["format"].as_str(), doc["version"].as_u64()), (Some("orchids2api"), Some(1)));
    assert_eq!(doc["credentials"], "sealed");
    let accounts = doc["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 3);
    for account in accounts {
        assert!(account["credential_sealed"].as_str().unwrap().starts_with("enc:v1:"), "{account}");
        assert!(account.get("credential").is_none());
    }
    let keys = doc["keys"].as_array().unwrap();
    assert!(keys.iter().all(|k| k["hash"].as_str().unwrap().len() == 64 && k.get("key").is_none()));
    assert_eq!(doc["settings"], json!({"max_retries": 2}));

    let b = gateway(|c| {
        c.secret_key = Some(Secret::new(SECRET_KEY));
        c.accounts.clear();
    })
    .await;
    let api_b = Api::new(&b);
    api_b.secret("sk-exported-credential-9");
    api_b.secret(&moved);
    let report = api_b.post("/api/import", doc.clone()).await;
    assert_eq!(report.status, 200, "{}", report.text());
    let report = report.json();
    assert_eq!(report["errors"], json!([]), "{report}");
    assert_eq!(report["accounts"], json!({"created": 3, "skipped_duplicates": 0}));
    assert_eq!(
        report["keys"],
        json!({"created": 1, "skipped_duplicates": 1}),
        "the seeded key is already there"
    );
    assert_eq!(report["models"]["created"], 0, "{report}");
    assert_eq!(report["settings_applied"], 1);
    let models = doc["models"].as_array().unwrap().len() as u64;
    assert_eq!(report["models"]["skipped_duplicates"].as_u64(), Some(models));
    assert_eq!(report["created"], 4);

    // The imported account and key serve on the second gateway.
    eventually("the imported key and accounts to serve", || async {
        chat(&b, &moved, "mock-text").await.status == 200
    })
    .await;
    assert_eq!(api_b.get("/api/settings").await.json()["overrides"], json!({"max_retries": 2}));
    let imported = api_b.get("/api/accounts").await.json();
    let exported = imported.as_array().unwrap().iter().find(|a| a["name"] == "exported").unwrap();
    assert_eq!(exported["credential_fingerprint"], Secret::new("sk-exported-credential-9").fingerprint());
    assert_eq!(exported["priority"], 2);

    // Importing again creates nothing.
    let again = api_b.post("/api/import", doc.clone()).await.json();
    assert_eq!((again["created"].as_u64(), again["errors"].clone()), (Some(0), json!([])));
    assert_eq!(again["skipped_duplicates"].as_u64(), Some(3 + keys.len() as u64 + models));

    // A gateway with another secret_key cannot open the credentials: each account is an error.
    let c = gateway(|c| {
        c.secret_key = Some(Secret::new(OTHER_SECRET_KEY));
        c.accounts.clear();
    })
    .await;
    let report = Api::new(&c).post("/api/import", doc).await.json();
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 3, "{report}");
    for (i, e) in errors.iter().enumerate() {
        assert_eq!((e["section"].as_str(), e["index"].as_u64()), (Some("accounts"), Some(i as u64)));
        assert!(e["message"].as_str().unwrap().contains("does not decrypt"), "{e}");
    }
    assert_eq!(report["keys"]["created"], 1);
}

#[tokio::test]
async fn an_export_without_secret_key_carries_fingerprints_only() {
    let a = gateway(|_| {}).await;
    let doc = Api::new(&a).get("/api/export").await.json();
    assert_eq!(doc["credentials"], "omitted");
    for account in doc["accounts"].as_array().unwrap() {
        assert!(account.get("credential_sealed").is_none(), "{account}");
        assert_eq!(account["credential_fingerprint"].as_str().unwrap().len(), 8);
    }
    let b = gateway(|c| c.accounts.clear()).await;
    let api_b = Api::new(&b);
    let report = api_b.post("/api/import", doc).await.json();
    assert_eq!(report["accounts"]["created"], 0);
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{report}");
    assert!(errors.iter().all(|e| e["message"].as_str().unwrap().contains("secret_key")), "{report}");
    assert_eq!(report["keys"]["skipped_duplicates"], 1);
    assert_eq!(api_b.get("/api/accounts").await.json(), json!([]));
}

#[tokio::test]
async fn the_originals_export_imports_with_duplicates_skipped_and_bad_entries_reported() {
    let h = gateway(|_| {}).await;
    let api = Api::new(&h);
    for s in [
        "clerk-client-cookie-orig-1",
        "AMf-original-refresh-2",
        "grok-sso-original-3",
        "whatever-4",
        "grok-sso-original-5",
        "grok-sso-other-6",
        "sess-jwt-a",
        "jwt-token-a",
    ] {
        api.secret(s);
    }
    let export = json!({"version": 1, "export_at": "2026-01-01T00:00:00Z", "accounts": [
        {"id": 0, "name": "", "account_type": "", "email": "dev@example.com",
         "client_cookie": "clerk-client-cookie-orig-1", "session_cookie": "sess-jwt-a", "session_id": "sess_1",
         "token": "jwt-token-a", "enabled": true, "weight": 2, "usage_total": 10.5, "status_code": "",
         "request_count": 0, "created_at": "0001-01-01T00:00:00Z"},
        {"id": 0, "account_type": "warp", "name": "warp one", "refresh_token": "AMf-original-refresh-2",
         "enabled": false, "weight": 0},
        {"id": 0, "account_type": "grok", "name": "grok one", "client_cookie": "grok-sso-original-3", "enabled": true},
        {"id": 0, "account_type": "orchids", "name": "same cookie", "client_cookie": "clerk-client-cookie-orig-1"},
        {"id": 0, "account_type": "claude", "client_cookie": "whatever-4"},
        {"id": 0, "account_type": "warp", "name": "no token"},
        "not an account",
        {"id": 0, "account_type": "grok", "name": "grok bad weight", "client_cookie": "grok-sso-original-5", "weight": "heavy"}
    ]});
    let r = api.post("/api/import", export).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let report = r.json();
    assert_eq!(
        (report["created"].as_u64(), report["skipped_duplicates"].as_u64()),
        (Some(3), Some(1)),
        "{report}"
    );
    let errors = report["errors"].as_array().unwrap();
    let indexes: Vec<u64> = errors.iter().map(|e| e["index"].as_u64().unwrap()).collect();
    assert_eq!(indexes, [4, 5, 6, 7], "{report}");
    assert!(errors[0]["message"].as_str().unwrap().contains("account_type"));
    assert!(errors[1]["message"].as_str().unwrap().contains("refresh_token"));
    assert!(errors[3]["message"].as_str().unwrap().starts_with("weight:"));

    let by_name =
        |list: &Value, name: &str| list.as_array().unwrap().iter().find(|a| a["name"] == name).cloned();
    let orchids = api.get("/api/accounts?channel=orchids").await.json();
    let dev = by_name(&orchids, "dev@example.com").expect("named after the email");
    assert_eq!((dev["weight"].as_u64(), dev["enabled"].as_bool()), (Some(2), Some(true)));
    assert_eq!(dev["credential_fingerprint"], Secret::new("clerk-client-cookie-orig-1").fingerprint());
    let warp = by_name(&api.get("/api/accounts?channel=warp").await.json(), "warp one").unwrap();
    assert_eq!((warp["weight"].as_u64(), warp["enabled"].as_bool()), (Some(1), Some(false)));
    assert_eq!(warp["credential_fingerprint"], Secret::new("AMf-original-refresh-2").fingerprint());
    let grok = by_name(&api.get("/api/accounts?channel=grok").await.json(), "grok one").unwrap();
    assert_eq!(grok["credential_fingerprint"], Secret::new("grok-sso-original-3").fingerprint());

    // The bare-array form; duplicates by credential and by (channel, name).
    let r = api
        .post(
            "/api/import",
            json!([
                {"account_type": "grok", "name": "grok again", "client_cookie": "grok-sso-original-3"},
                {"account_type": "grok", "name": "grok two", "client_cookie": "grok-sso-original-5"},
                {"account_type": "grok", "name": "grok two", "client_cookie": "grok-sso-other-6"}
            ]),
        )
        .await
        .json();
    assert_eq!((r["created"].as_u64(), r["skipped_duplicates"].as_u64()), (Some(1), Some(2)), "{r}");

    assert_eq!(api.raw("POST", "/api/import", "42".into()).await.status, 400);
    assert_eq!(api.raw("POST", "/api/import", "[".into()).await.json()["error"]["code"], "invalid_json");
    assert_bad(&api.post("/api/import", json!({"format": "other", "version": 1})).await, Some("format"));
    assert_bad(
        &api.post("/api/import", json!({"format": "orchids2api", "version": 2})).await,
        Some("version"),
    );
    assert_bad(&api.post("/api/import", json!({"accounts": 5})).await, Some("accounts"));
    assert_bad(
        &api.post("/api/import", json!({"format": "orchids2api", "version": 1, "extra": []})).await,
        None,
    );
}

// --- secrets in logs, store outages -----------------------------------------------------------

/// A `MakeWriter` that keeps every log line in memory.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }
}

/// Runs on one thread (the default test runtime), so the thread's log subscriber sees every
/// task of the gateway.
#[tokio::test]
async fn no_secret_reaches_a_log_line() {
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(logs.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = gateway(|c| c.secret_key = Some(Secret::new(SECRET_KEY))).await;
    let api = Api::new(&h);
    let base = h.openai.base_url();
    let r = api
        .post("/api/accounts", json!({"channel": "openai", "name": "logged", "credential": "sk-log-credential-1", "base_url": base}))
        .await;
    let id = r.json()["id"].as_u64().unwrap();
    api.post(&format!("/api/accounts/{id}/check"), json!({})).await;
    api.patch(&format!("/api/accounts/{id}"), json!({"credential": "sk-mock-bad"})).await;
    api.post(&format!("/api/accounts/{id}/check"), json!({})).await;
    api.post("/api/accounts", json!({"channel": "openai", "name": "bad", "credential": 987654321})).await;
    let key =
        api.post("/api/keys", json!({"name": "logged"})).await.json()["key"].as_str().unwrap().to_string();
    eventually("the key to work", || async { chat(&h, &key, "mock-text").await.status == 200 }).await;
    let doc = api.get("/api/export").await.json();
    let b = gateway(|c| {
        c.secret_key = Some(Secret::new(SECRET_KEY));
        c.accounts.clear();
    })
    .await;
    Api::new(&b).post("/api/import", doc).await;
    send(h.addr(), "GET", "/api/accounts", &[("authorization", "Bearer wrong-admin-token-xyz")], "").await;

    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_string();
    assert!(text.contains("admin: account created"), "the log was captured");
    for secret in [
        "sk-log-credential-1",
        "sk-mock-bad",
        "987654321",
        key.as_str(),
        &orchids2api::store::KeyHash::of(&key).0,
        ADMIN_TOKEN,
        "wrong-admin-token-xyz",
        SECRET_KEY,
        "sk-mock-upstream",
    ] {
        assert!(!text.contains(secret), "a log line holds {secret:?}");
    }
}

/// A Redis server of the test's own, killed halfway.
struct PrivateRedis(std::process::Child);

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn writes_answer_503_when_the_store_is_unreachable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("this test needs redis-server on the PATH (.ci/run installs it)");
    let mut redis = PrivateRedis(child);
    let url = format!("redis://127.0.0.1:{port}/0");
    eventually("the private redis to answer", || async {
        redis::Client::open(url.as_str()).and_then(|c| c.get_connection()).is_ok()
    })
    .await;
    let prefix = RedisPrefix::new();
    let h = gateway(|c| on_redis(c, &prefix, &url)).await;
    let api = Api::new(&h);
    api.secret("sk-outage-1");
    let ok = api
        .post("/api/accounts", json!({"channel": "openai", "name": "before", "credential": "sk-outage-1"}))
        .await;
    assert_eq!(ok.status, 201);

    let _ = redis.0.kill();
    let _ = redis.0.wait();
    let r = api
        .post("/api/accounts", json!({"channel": "openai", "name": "during", "credential": "sk-outage-1"}))
        .await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (503, Some("store_unavailable")),
        "{}",
        r.text()
    );
    assert_eq!(api.get("/api/accounts").await.status, 503);
    assert_eq!(api.patch("/api/settings", json!({"max_retries": 1})).await.status, 503);
    assert_eq!(api.post("/api/keys", json!({"name": "k"})).await.status, 503);
    // Serving goes on from memory.
    assert_eq!(chat(&h, KEY, "mock-text").await.status, 200);
}
