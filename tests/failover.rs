//! Several accounts per channel: a failure before the first content byte moves the request to
//! another account without the client noticing; the failed account is judged, cooled and
//! skipped; when nothing is left, the client gets a route-shaped 429 with `Retry-After`.
//!
//! The mocks pick a scenario from the account's key (`sk-scenario-<name>`), so one account of a
//! channel can fail while another answers.

mod common;

use common::*;
use orchids2api::config::Config;
use serde_json::{Value, json};

/// A gateway whose `channel` has the given accounts (credential, priority), in order.
async fn gateway(channel: &'static str, accounts: &[(&str, u32)], tune: impl FnOnce(&mut Config)) -> Harness {
    let accounts: Vec<(String, u32)> = accounts.iter().map(|(c, p)| (c.to_string(), *p)).collect();
    Harness::start_with(move |c| {
        c.retry_delay_ms = 1;
        let base =
            c.accounts.iter().find(|a| a.channel.as_str() == channel).unwrap().base_url.clone().unwrap();
        c.accounts = accounts
            .iter()
            .enumerate()
            .map(|(i, (credential, priority))| {
                let mut a = account(channel, &format!("acct-{i}"), &base, credential);
                a.priority = *priority;
                a
            })
            .collect();
        tune(c);
    })
    .await
}

fn keys_seen(h: &Harness, channel: &str) -> Vec<String> {
    h.mock(channel)
        .requests()
        .iter()
        .map(|r| {
            r.header("x-api-key")
                .map(str::to_string)
                .or_else(|| r.header("authorization").map(|a| a.trim_start_matches("Bearer ").to_string()))
                .unwrap_or_default()
        })
        .collect()
}

fn request(channel: &str, stream: bool) -> (String, Value) {
    match channel {
        "anthropic" => (
            "/anthropic/v1/messages".into(),
            json!({"model": "mock-text", "max_tokens": 64, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}),
        ),
        _ => (
            "/openai/v1/chat/completions".into(),
            json!({"model": "mock-text", "stream": stream, "messages": [{"role": "user", "content": "hi"}]}),
        ),
    }
}

async fn ask(h: &Harness, channel: &str, stream: bool) -> Reply {
    let (path, body) = request(channel, stream);
    post(h.addr(), &path, &body).await
}

fn answer_text(channel: &str, r: &Reply, stream: bool) -> String {
    if stream {
        let frames: Vec<Frame> = r
            .text()
            .split("\n\n")
            .filter(|f| !f.is_empty())
            .map(|raw| {
                let event = raw.lines().find_map(|l| l.strip_prefix("event: ")).map(str::to_string);
                let data = raw.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or_default().to_string();
                Frame { event, comment: raw.starts_with(':'), data, at: std::time::Instant::now() }
            })
            .collect();
        match channel {
            "anthropic" => anthropic_text(&frames),
            _ => openai_text(&frames),
        }
    } else {
        let v = r.json();
        match channel {
            "anthropic" => v["content"][0]["text"].as_str().unwrap_or_default().to_string(),
            _ => v["choices"][0]["message"]["content"].as_str().unwrap_or_default().to_string(),
        }
    }
}

/// Failures that cool an account at once: the next request skips it.
#[tokio::test]
async fn failures_before_content_move_the_request_to_another_account() {
    for channel in ["openai", "anthropic"] {
        for failure in [
            "error_429",
            "error_401",
            "error_403",
            "html_403",
            "error_529",
            "error_500",
            "empty",
            "empty_body",
            "error_before_content",
        ] {
            for stream in [false, true] {
                let bad = format!("sk-scenario-{failure}");
                let h = gateway(channel, &[(&bad, 0), ("sk-good", 1)], |_| {}).await;
                let what = format!("{failure} on {channel}, stream {stream}");
                let r = ask(&h, channel, stream).await;
                assert_eq!(r.status, 200, "{what}: {}", r.text());
                assert_eq!(
                    answer_text(channel, &r, stream),
                    "Hello from the mock.",
                    "{what}: one clean answer"
                );
                assert_eq!(
                    keys_seen(&h, channel),
                    [bad.as_str(), "sk-good"],
                    "{what}: tried the failing account, then the other"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_cooled_account_is_skipped_until_its_cooldown_ends() {
    for (failure, skipped_next) in [
        ("error_429", true),
        ("error_401", true),
        ("error_403", true),
        ("html_403", true),
        ("error_500", false),
        ("empty", false),
    ] {
        let bad = format!("sk-scenario-{failure}");
        let h = gateway("openai", &[(&bad, 0), ("sk-good", 1)], |_| {}).await;
        assert_eq!(ask(&h, "openai", false).await.status, 200);
        h.openai.clear();
        assert_eq!(ask(&h, "openai", false).await.status, 200);
        let seen = keys_seen(&h, "openai");
        if skipped_next {
            assert_eq!(seen, ["sk-good"], "{failure}: the account is cooling");
        } else {
            // One flaky answer is not enough to bench an account: it is tried again, and
            // cooled after the third failure in a row.
            assert_eq!(seen, [bad.as_str(), "sk-good"], "{failure}");
            assert_eq!(ask(&h, "openai", false).await.status, 200);
            h.openai.clear();
            assert_eq!(ask(&h, "openai", false).await.status, 200);
            assert_eq!(keys_seen(&h, "openai"), ["sk-good"], "{failure}: cooled after a streak");
        }
    }
}

#[tokio::test]
async fn the_request_s_own_faults_are_not_retried_and_cost_nothing() {
    let h = gateway("anthropic", &[("sk-scenario-error_400", 0), ("sk-good", 1)], |_| {}).await;
    let r = ask(&h, "anthropic", false).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("prompt is too long"));
    assert_eq!(keys_seen(&h, "anthropic").len(), 1, "not retried elsewhere");
    h.anthropic.clear();
    ask(&h, "anthropic", false).await;
    assert_eq!(keys_seen(&h, "anthropic"), ["sk-scenario-error_400"], "not cooled");
}

// See: reference/client-conventions.md §4.2 (AC-08)
#[tokio::test]
async fn ac08_an_exhausted_pool_answers_429_with_retry_after() {
    for (channel, anthropic) in [("openai", false), ("anthropic", true)] {
        let h = gateway(channel, &[("sk-scenario-error_429", 0), ("sk-scenario-error_429", 0)], |_| {}).await;
        // First request: both accounts tried; the client hears the last upstream answer.
        let r = ask(&h, channel, true).await;
        assert_eq!(r.status, 429, "{}", r.text());
        assert_eq!(r.header("retry-after"), Some("7"));
        assert_eq!(keys_seen(&h, channel).len(), 2);
        // Second: nothing to try; the pool says when an account comes back.
        h.mock(channel).clear();
        let r = ask(&h, channel, false).await;
        assert_eq!(r.status, 429, "{}", r.text());
        let after: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=7).contains(&after), "{after}");
        let v = r.json();
        if anthropic {
            assert_eq!(v["error"]["type"], "rate_limit_error");
        } else {
            assert_eq!(v["error"]["code"], "pool_exhausted", "distinguishable from a key's own limit");
        }
        assert!(!r.text().contains("sk-scenario"), "no credential in errors");
        assert!(keys_seen(&h, channel).is_empty(), "nothing was sent upstream");
    }
}

#[tokio::test]
async fn accounts_out_until_fixed_leave_the_channel_without_service() {
    let h = gateway("openai", &[("sk-scenario-error_401", 0)], |_| {}).await;
    assert_eq!(ask(&h, "openai", false).await.status, 502);
    let r = ask(&h, "openai", false).await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "no_account");
    assert!(r.header("retry-after").is_none());
}

#[tokio::test]
async fn max_retries_bounds_the_accounts_tried() {
    let h = gateway(
        "openai",
        &[
            ("sk-scenario-error_500", 0),
            ("sk-scenario-error_500", 0),
            ("sk-scenario-error_500", 0),
            ("sk-good", 1),
        ],
        |c| c.max_retries = 1,
    )
    .await;
    let r = ask(&h, "openai", false).await;
    assert_eq!(r.status, 502);
    assert_eq!(keys_seen(&h, "openai").len(), 2, "one try and one retry");
}

#[tokio::test]
async fn a_failure_after_the_first_content_is_not_retried() {
    let h = gateway("anthropic", &[("sk-scenario-cut", 0), ("sk-good", 1)], |_| {}).await;
    let r = ask(&h, "anthropic", true).await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("event: error"), "{}", r.text());
    assert_eq!(keys_seen(&h, "anthropic"), ["sk-scenario-cut"], "content was sent: no retry");
}

// See: reference/client-conventions.md §4.1 (AC-03)
#[tokio::test]
async fn ac03_a_session_sticks_to_one_account() {
    let h = gateway("openai", &[("sk-a", 0), ("sk-b", 0), ("sk-c", 0)], |_| {}).await;
    let (path, body) = request("openai", false);
    for session in ["s-1", "s-2", "s-3", "s-4"] {
        h.openai.clear();
        for _ in 0..6 {
            let r = send(
                h.addr(),
                "POST",
                &path,
                &[("authorization", &bearer()), ("x-claude-code-session-id", session)],
                body.to_string(),
            )
            .await;
            assert_eq!(r.status, 200);
        }
        let seen = keys_seen(&h, "openai");
        assert!(seen.iter().all(|k| *k == seen[0]), "{session}: {seen:?}");
    }
    // OpenAI's prompt_cache_key is a session id too.
    h.openai.clear();
    let mut body = body.clone();
    body["prompt_cache_key"] = json!("cache-1");
    for _ in 0..6 {
        assert_eq!(post(h.addr(), &path, &body).await.status, 200);
    }
    let seen = keys_seen(&h, "openai");
    assert!(seen.iter().all(|k| *k == seen[0]), "{seen:?}");
}

#[tokio::test]
async fn without_sessions_load_spreads_over_the_tier() {
    let h = gateway("openai", &[("sk-a", 0), ("sk-b", 0), ("sk-low", 1)], |_| {}).await;
    for _ in 0..30 {
        assert_eq!(ask(&h, "openai", false).await.status, 200);
    }
    let seen = keys_seen(&h, "openai");
    assert!(seen.contains(&"sk-a".to_string()) && seen.contains(&"sk-b".to_string()), "{seen:?}");
    assert!(!seen.contains(&"sk-low".to_string()), "the lower tier waits");
}
