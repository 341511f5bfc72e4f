//! The official OpenAI and Anthropic Python SDKs, pointed at the gateway, stream and non-stream
//! text, tool calls and thinking through both official channels and get typed errors; they also
//! stream reasoning and text from the grok and Warp channels and generate images through grok
//! (`tests/sdk/sdk_test.py`).
//!
//! Needs a Python with the SDKs of `tests/sdk/requirements.txt` (`SDK_PYTHON`, default `python3`).
//! Without them the test says so and passes, unless `SDK_TESTS=required` (as in CI), where a
//! missing SDK fails it.

mod common;

use common::*;
use orchids2api::mock::{MockKind, MockServer};
use std::process::Command;

/// The gateways the script addresses by name.
const GATEWAYS: [&str; 12] = [
    "default",
    "oa-429",
    "oa-401",
    "oa-empty",
    "oa-silence",
    "oa-400",
    "oa-cut",
    "an-429",
    "an-500",
    "an-silence",
    "an-400",
    "an-inband",
];

#[tokio::test(flavor = "multi_thread")]
async fn official_sdks_work_against_the_gateway() {
    let python = std::env::var("SDK_PYTHON").unwrap_or_else(|_| "python3".into());
    let required = std::env::var("SDK_TESTS").is_ok_and(|v| v == "required");
    let probe = Command::new(&python).args(["-c", "import openai, anthropic"]).output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        assert!(
            !required,
            "SDK_TESTS=required but {python} cannot import openai and anthropic: pip install -r tests/sdk/requirements.txt"
        );
        eprintln!(
            "skipped: {python} lacks the openai/anthropic SDKs (pip install -r tests/sdk/requirements.txt)"
        );
        return;
    }
    // One gateway for the success checks, and one per failure check (see the script's doc);
    // the web channels get a gateway each, in front of their mocks.
    let mut gateways = Vec::new();
    for name in GATEWAYS {
        gateways.push((name, Harness::start_with(|c| c.max_body_bytes = 1024 * 1024).await));
    }
    let grok = MockServer::start(MockKind::Grok).await.expect("grok mock");
    let warp = MockServer::start(MockKind::Warp).await.expect("warp mock");
    gateways.push((
        "grok",
        Harness::start_with(|c| {
            c.grok_base_url = grok.base_url();
            c.grok_assets_url = grok.base_url();
            c.grok_quota_interval_s = 0;
            c.accounts.push(account("grok", "g1", "", "sso-token-1"));
            c.accounts.last_mut().unwrap().base_url = None;
        })
        .await,
    ));
    gateways.push((
        "warp",
        Harness::start_with(|c| {
            c.warp_base_url = warp.base_url();
            c.warp_auth_url = format!("{}/v1/token", warp.base_url());
            c.warp_quota_interval_s = 0;
            c.accounts.push(account("warp", "w1", &warp.base_url(), "rt-sdk-1"));
        })
        .await,
    ));
    let map: serde_json::Map<String, serde_json::Value> =
        gateways.iter().map(|(name, h)| (name.to_string(), format!("http://{}", h.addr()).into())).collect();
    let map = serde_json::Value::Object(map).to_string();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/sdk_test.py");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .env("GATEWAYS", map)
            .env("GATEWAY_KEY", KEY)
            .output()
            .expect("run python")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "SDK checks failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    println!("{stdout}");
}
