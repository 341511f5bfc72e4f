//! Client-key policies as a client meets them: requests in flight with a bounded wait, expiry,
//! and usage counted per key.

mod common;

use common::*;
use orchids2api::secret::Secret;
use serde_json::{Value, json};
use std::time::Duration;

const ADMIN: &str = "admin-token-for-key-tests";

async fn gateway() -> Harness {
    Harness::start_with(|c| {
        c.admin_token = Some(Secret::new(ADMIN));
        c.concurrency_queue_ms = 100;
    })
    .await
}

async fn admin(h: &Harness, method: &str, path: &str, body: Value) -> Reply {
    let auth = format!("Bearer {ADMIN}");
    send(h.addr(), method, path, &[("authorization", &auth)], body.to_string()).await
}

/// Creates a key with `policy` and returns (id, key).
async fn create_key(h: &Harness, policy: Value) -> (u64, String) {
    let r = admin(h, "POST", "/api/keys", policy).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    (v["id"].as_u64().unwrap(), v["key"].as_str().unwrap().to_string())
}

fn chat(model: &str, stream: bool) -> String {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}).to_string()
}

/// Waits until the key set in memory has caught up with a write (the change feed).
async fn until_accepted(h: &Harness, key: &str) {
    let auth = format!("Bearer {key}");
    for _ in 0..100 {
        if send(
            h.addr(),
            "POST",
            "/v1/chat/completions",
            &[("authorization", &auth)],
            chat("mock-text", false),
        )
        .await
        .status
            != 401
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the new key never authenticated");
}

#[tokio::test]
async fn a_key_s_requests_in_flight_wait_briefly_then_get_429() {
    let h = gateway().await;
    let (_, key) = create_key(&h, json!({"name": "one-at-a-time", "max_concurrency": 1})).await;
    until_accepted(&h, &key).await;
    let auth = format!("Bearer {key}");
    let busy =
        open(h.addr(), "POST", "/v1/chat/completions", &[("authorization", &auth)], chat("mock-long", true))
            .await;
    assert_eq!(busy.status(), 200);
    let r =
        send(h.addr(), "POST", "/v1/chat/completions", &[("authorization", &auth)], chat("mock-text", false))
            .await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "key_concurrency_limited");
    assert!(r.header("retry-after").is_some());
    // Another key is not held up by this one's limit.
    assert_eq!(
        post(h.addr(), "/v1/chat/completions", &serde_json::from_str(&chat("mock-text", false)).unwrap())
            .await
            .status,
        200
    );
    let frames = sse_frames(busy).await;
    assert_eq!(frames.last().unwrap().data, "[DONE]");
    let r =
        send(h.addr(), "POST", "/v1/chat/completions", &[("authorization", &auth)], chat("mock-text", false))
            .await;
    assert_eq!(r.status, 200, "the slot came back");
}

#[tokio::test]
async fn an_expired_key_is_refused_in_the_route_shape() {
    let h = gateway().await;
    let soon = orchids2api::time::rfc3339(orchids2api::time::now_ms() + 2_000);
    let (_, key) = create_key(&h, json!({"name": "brief", "expires_at": soon})).await;
    until_accepted(&h, &key).await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let auth = format!("Bearer {key}");
    let r =
        send(h.addr(), "POST", "/v1/chat/completions", &[("authorization", &auth)], chat("mock-text", false))
            .await;
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (401, Some("api_key_expired")));
    let r = send(
        h.addr(),
        "POST",
        "/v1/messages",
        &[("x-api-key", &key)],
        json!({"model": "mock-text", "max_tokens": 5, "messages": []}).to_string(),
    )
    .await;
    assert_eq!((r.status, r.json()["error"]["type"].as_str()), (401, Some("authentication_error")));
}

#[tokio::test]
async fn usage_is_counted_per_key() {
    let h = gateway().await;
    let (id, key) = create_key(&h, json!({"name": "metered"})).await;
    until_accepted(&h, &key).await;
    let auth = format!("Bearer {key}");
    for _ in 0..3 {
        let r = send(
            h.addr(),
            "POST",
            "/anthropic/v1/chat/completions",
            &[("authorization", &auth)],
            chat("mock-cache_usage", false),
        )
        .await;
        assert_eq!(r.status, 200);
    }
    // Usage is written about once a second.
    let mut totals = Value::Null;
    for _ in 0..40 {
        totals =
            admin(&h, "GET", &format!("/api/usage?key={id}"), Value::Null).await.json()["totals"].clone();
        if totals["requests"].as_u64() >= Some(4) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // `until_accepted` made one request too.
    assert_eq!(totals["requests"].as_u64(), Some(4), "{totals}");
    assert_eq!(totals["cache_read_tokens"].as_u64(), Some(3 * 1024), "{totals}");
    assert!(totals["output_tokens"].as_u64().unwrap() > 0);
}
