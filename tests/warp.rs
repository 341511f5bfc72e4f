//! The Warp channel end to end against the Warp mock: refresh + login, streamed text and
//! reasoning to both client dialects, a Claude-Code-style tool loop on one Warp conversation and
//! one account (also across two instances sharing Redis), the 409 of a tool result whose binding
//! is gone, and account switching on quota, auth and plan failures.

mod common;

use common::*;
use orchids2api::channels::ChannelKind;
use orchids2api::config::{Config, StoreKind};
use orchids2api::mock::{MockKind, MockServer};
use orchids2api::secret::Secret;
use orchids2api::server::Server;
use orchids2api::store::Reason;
use serde_json::{Value, json};
use std::time::Duration;

const MODEL: &str = "warp-auto";

fn warp_config(config: &mut Config, warp: &MockServer, accounts: &[(&str, &str, u32)]) {
    config.warp_base_url = warp.base_url();
    config.warp_auth_url = format!("{}/v1/token", warp.base_url());
    config.warp_quota_interval_s = 0;
    config.max_retries = 5;
    config.retry_delay_ms = 10;
    for (name, token, priority) in accounts {
        let mut seed = account("warp", name, &warp.base_url(), token);
        seed.priority = *priority;
        config.accounts.push(seed);
    }
}

async fn start(accounts: &[(&str, &str, u32)]) -> (Harness, MockServer) {
    let warp = MockServer::start(MockKind::Warp).await.unwrap();
    let harness = Harness::start_with(|c| warp_config(c, &warp, accounts)).await;
    (harness, warp)
}

/// The `/ai/multi-agent` requests the mock received.
fn agent_calls(warp: &MockServer) -> Vec<orchids2api::mock::RecordedRequest> {
    warp.requests().into_iter().filter(|r| r.path.starts_with("/ai/multi-agent")).collect()
}

/// The server conversation id a request body carries (`conv_` + 24 characters), if any.
fn conversation_in(body: &[u8]) -> Option<String> {
    let at = body.windows(5).position(|w| w == b"conv_")?;
    Some(String::from_utf8_lossy(&body[at..at + 29]).into_owned())
}

fn contains(body: &[u8], needle: &[u8]) -> bool {
    body.windows(needle.len()).any(|w| w == needle)
}

/// The Firebase user a bearer ID token belongs to.
fn user_of(request: &orchids2api::mock::RecordedRequest) -> String {
    use base64::Engine as _;
    let token = request.header("authorization").unwrap().trim_start_matches("Bearer ");
    let payload = token.split('.').nth(1).unwrap();
    let json: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap())
            .unwrap();
    json["user_id"].as_str().unwrap().to_owned()
}

fn claude_code_tools() -> Value {
    let tool = |name: &str, props: Value, required: &[&str]| {
        json!({"name": name, "description": format!("The {name} tool"),
               "input_schema": {"type": "object", "properties": props, "required": required}})
    };
    json!([
        tool("Bash", json!({"command": {"type": "string"}}), &["command"]),
        tool("Read", json!({"file_path": {"type": "string"}}), &["file_path"]),
        tool(
            "Write",
            json!({"file_path": {"type": "string"}, "content": {"type": "string"}}),
            &["file_path", "content"]
        ),
        tool(
            "Edit",
            json!({"file_path": {"type": "string"}, "old_string": {"type": "string"}, "new_string": {"type": "string"}}),
            &["file_path"]
        ),
        tool("Grep", json!({"pattern": {"type": "string"}, "path": {"type": "string"}}), &["pattern"]),
        tool("Glob", json!({"pattern": {"type": "string"}, "path": {"type": "string"}}), &["pattern"]),
    ])
}

#[tokio::test]
async fn anthropic_stream_of_reasoning_and_text_has_the_exact_event_sequence() {
    let (h, _warp) = start(&[("w1", "rt-text-1", 0)]).await;
    let body = json!({"model": MODEL, "max_tokens": 100, "stream": true,
        "messages": [{"role": "user", "content": "[[mock:reasoning]] hi"}]});
    let (status, _, frames) = stream(
        h.addr(),
        "/v1/messages",
        &[("x-api-key", KEY), ("anthropic-version", "2023-06-01"), ("content-type", "application/json")],
        &body,
    )
    .await;
    assert_eq!(status, 200);
    let events: Vec<String> = frames
        .iter()
        .filter(|f| !f.comment && f.event.as_deref() != Some("ping"))
        .map(|f| {
            let json = f.json();
            match f.event.as_deref().unwrap() {
                "content_block_start" => format!("start:{}", json["content_block"]["type"].as_str().unwrap()),
                "content_block_delta" => {
                    let d = &json["delta"];
                    format!(
                        "{}:{}",
                        d["type"].as_str().unwrap(),
                        d["text"].as_str().or(d["thinking"].as_str()).unwrap_or("")
                    )
                }
                "message_delta" => {
                    format!("message_delta:{}", json["delta"]["stop_reason"].as_str().unwrap())
                }
                other => other.to_owned(),
            }
        })
        .collect();
    assert_eq!(
        events,
        [
            "message_start",
            "start:thinking",
            "thinking_delta:The user",
            "thinking_delta: greets me;",
            "thinking_delta: I greet back.",
            "signature_delta:",
            "content_block_stop",
            "start:text",
            "text_delta:Hello",
            "text_delta: from",
            "text_delta: the",
            "text_delta: mock.",
            "content_block_stop",
            "message_delta:end_turn",
            "message_stop",
        ]
    );
}

#[tokio::test]
async fn openai_clients_get_the_reconciled_text_and_reasoning() {
    let (h, warp) = start(&[("w1", "rt-text-2", 0)]).await;
    let body = json!({"model": MODEL, "stream": true, "messages": [{"role": "user", "content": "[[mock:reconcile]] go"}]});
    let (status, _, frames) = stream(
        h.addr(),
        "/v1/chat/completions",
        &[("authorization", &bearer()), ("content-type", "application/json")],
        &body,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(openai_text(&frames), "CONTINUATION OK", "snapshots and deltas without duplicates");

    let body = json!({"model": MODEL, "stream": true, "messages": [{"role": "user", "content": "[[mock:reasoning]] hi"}]});
    let (status, _, frames) = stream(
        h.addr(),
        "/v1/chat/completions",
        &[("authorization", &bearer()), ("content-type", "application/json")],
        &body,
    )
    .await;
    assert_eq!(status, 200);
    let reasoning: String = frames
        .iter()
        .filter(|f| !f.comment && f.data != "[DONE]")
        .filter_map(|f| f.json()["choices"][0]["delta"]["reasoning_content"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(reasoning, "The user greets me; I greet back.");
    assert_eq!(openai_text(&frames), "Hello from the mock.");
    assert_eq!(frames.last().unwrap().data, "[DONE]");

    let body = json!({"model": MODEL, "messages": [{"role": "user", "content": "[[mock:reasoning]] hi"}]});
    let reply = post(h.addr(), "/v1/chat/completions", &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let json = reply.json();
    assert_eq!(json["choices"][0]["message"]["content"], "Hello from the mock.");
    assert_eq!(json["choices"][0]["message"]["reasoning_content"], "The user greets me; I greet back.");
    assert!(json["usage"]["completion_tokens"].as_u64().unwrap() > 0);

    // A public Claude id served by the warp catalogue under the channel's own route.
    warp.clear();
    let body = json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]});
    let reply = post(h.addr(), "/warp/v1/chat/completions", &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let calls = agent_calls(&warp);
    assert_eq!(calls.len(), 1);
    assert!(contains(&calls[0].body, b"claude-4-5-sonnet"), "the Warp model id is sent");
}

/// Runs the Bash → Read → answer loop through `addrs[i % len]`; returns the final text.
async fn tool_loop(addrs: &[std::net::SocketAddr], session: Option<&str>) -> String {
    let mut headers =
        vec![("x-api-key", KEY), ("anthropic-version", "2023-06-01"), ("content-type", "application/json")];
    if let Some(s) = session {
        headers.push(("x-claude-code-session-id", s));
    }
    let mut messages = vec![json!({"role": "user", "content": "[[mock:tool_loop]] inspect the project"})];
    let system = "You are Claude Code.\nWorking directory: /repo";
    let results = ["README.md\nsrc", "# The project\n"];
    for (turn, addr) in addrs.iter().cycle().take(3).enumerate() {
        let body = json!({"model": MODEL, "max_tokens": 500, "system": system, "tools": claude_code_tools(), "messages": messages});
        let reply = send(*addr, "POST", "/v1/messages", &headers, body.to_string()).await;
        assert_eq!(reply.status, 200, "turn {turn}: {}", reply.text());
        let json = reply.json();
        if turn == 2 {
            assert_eq!(json["stop_reason"], "end_turn");
            return json["content"][0]["text"].as_str().unwrap().to_owned();
        }
        assert_eq!(json["stop_reason"], "tool_use", "turn {turn}: {json}");
        let content = json["content"].as_array().unwrap().clone();
        let call = content.iter().find(|b| b["type"] == "tool_use").unwrap().clone();
        match turn {
            0 => assert_eq!(
                (call["name"].clone(), call["input"].clone()),
                (json!("Bash"), json!({"command": "ls"}))
            ),
            _ => assert_eq!(
                (call["name"].clone(), call["input"].clone()),
                (json!("Read"), json!({"file_path": "README.md"}))
            ),
        }
        messages.push(json!({"role": "assistant", "content": content}));
        messages.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": call["id"], "content": results[turn]}]}));
    }
    unreachable!()
}

fn assert_one_conversation_and_account(warp: &MockServer) {
    let calls = agent_calls(warp);
    assert_eq!(calls.len(), 3, "three turns, no retries");
    let summary = |i: usize| orchids2api::channels::warp::bench::request_summary(&calls[i].body).unwrap();
    let (first, second, third) = (summary(0), summary(1), summary(2));
    assert_eq!(first["conversation_id"], Value::Null);
    assert!(second["conversation_id"].as_str().unwrap().starts_with("conv_"));
    assert_eq!(third["conversation_id"], second["conversation_id"], "one Warp conversation");
    assert_eq!(first["results"], json!([]));
    let shell = &second["results"][0];
    assert_eq!(
        (&shell["type"], &shell["command"], &shell["output"], &shell["exit_code"]),
        (&json!("run_shell_command"), &json!("ls"), &json!("README.md\nsrc"), &json!(0)),
        "{second}"
    );
    assert_eq!(second["query"], Value::Null, "an all-results turn sends no query");
    let read = &third["results"][0];
    assert_eq!(
        (&read["type"], &read["file_path"], &read["content"]),
        (&json!("read_files"), &json!("README.md"), &json!("# The project\n")),
        "{third}"
    );
    assert_eq!(conversation_in(&calls[0].body), None, "the first turn starts a conversation");
    let conversation = conversation_in(&calls[1].body).expect("turn 2 continues the conversation");
    assert_eq!(conversation_in(&calls[2].body).as_deref(), Some(conversation.as_str()));
    assert!(
        contains(&calls[0].body, b"Instructions:\nYou are Claude Code."),
        "system prompt on the first turn"
    );
    assert!(contains(&calls[0].body, b"/repo"), "the working directory from the system prompt");
    assert!(!contains(&calls[1].body, b"Instructions:"), "not repeated");
    assert!(contains(&calls[1].body, b"README.md\nsrc"), "the shell output goes back");
    let user = user_of(&calls[0]);
    assert!(calls.iter().all(|c| user_of(c) == user), "every turn on the same account");
}

#[tokio::test]
async fn a_claude_code_tool_loop_runs_on_one_conversation_and_one_account() {
    let (h, warp) = start(&[("w1", "rt-loop-a", 0), ("w2", "rt-loop-b", 0)]).await;
    // No session id: the conversation is found from its start (system + first user message).
    let text = tool_loop(&[h.addr()], None).await;
    let calls = agent_calls(&warp);
    let read_id = {
        // The mock names the typed result it received.
        assert!(text.starts_with("Received 1 tool result(s): toolu_01"), "{text}");
        assert!(text.ends_with("(read_files)."), "{text}");
        &calls[2]
    };
    assert!(contains(&read_id.body, b"# The project"));
    assert_one_conversation_and_account(&warp);
}

#[tokio::test]
async fn an_unknown_or_expired_binding_is_a_409_in_the_route_shape() {
    let (h, warp) = start(&[("w1", "rt-409", 0)]).await;
    let messages = json!([
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_gone", "name": "Bash", "input": {"command": "ls"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_gone", "content": "x"}]},
    ]);
    let reply = post_anthropic(
        h.addr(),
        "/v1/messages",
        &json!({"model": MODEL, "max_tokens": 10, "messages": messages}),
    )
    .await;
    assert_eq!(reply.status, 409, "{}", reply.text());
    let json = reply.json();
    assert_eq!(json["type"], "error");
    assert!(json["error"]["message"].as_str().unwrap().contains("expired or is unavailable"), "{json}");

    let messages = json!([
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_gone", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_gone", "content": "x"},
    ]);
    let reply = post(h.addr(), "/v1/chat/completions", &json!({"model": MODEL, "messages": messages})).await;
    assert_eq!(reply.status, 409, "{}", reply.text());
    assert!(reply.json()["error"]["message"].as_str().unwrap().contains("expired"));
    assert!(agent_calls(&warp).is_empty(), "nothing reached Warp");
    let (_, live) = &h.gateway.live().pool.accounts(ChannelKind::Warp)[0];
    assert_eq!(live.health().reason, None, "no account is blamed");
}

async fn ask(h: &Harness) -> Reply {
    post(
        h.addr(),
        "/v1/chat/completions",
        &json!({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await
}

fn health_of(h: &Harness, name: &str) -> Option<Reason> {
    let accounts = h.gateway.live().pool.accounts(ChannelKind::Warp);
    let (_, live) = accounts.iter().find(|(info, _)| info.name == name).unwrap();
    live.health().reason
}

#[tokio::test]
async fn quota_auth_and_plan_failures_move_to_another_account() {
    let (h, warp) = start(&[
        ("credits", "scenario-no_credits", 0),
        ("signed-out", "scenario-unauthorized", 1),
        ("free", "scenario-model_not_allowed", 2),
        ("good", "rt-good", 3),
    ])
    .await;
    // Tier by tier: the first three fail one after the other, the last answers.
    let reply = tokio::time::timeout(Duration::from_secs(20), ask(&h)).await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["choices"][0]["message"]["content"], "Hello from the mock.");
    assert_eq!(health_of(&h, "credits"), Some(Reason::QuotaExhausted));
    assert_eq!(health_of(&h, "signed-out"), Some(Reason::AuthFailed));
    assert_eq!(health_of(&h, "free"), None, "a plan restriction does not cool the account");
    assert_eq!(agent_calls(&warp).len(), 3, "the signed-out account never reached the agent");
    // The account out of credits has its limits read again after the 429.
    let credits_agent_call =
        warp.requests().iter().position(|r| r.path.starts_with("/ai/multi-agent")).unwrap();
    let reread = async {
        while !warp.requests()[credits_agent_call..]
            .iter()
            .any(|r| r.path == "/graphql/v2?op=GetRequestLimitInfo")
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), reread).await.expect("limits read after the 429");
}

#[tokio::test]
async fn the_refresh_rotates_the_refresh_token_and_persists_it() {
    let (h, warp) = start(&[("w1", "rt-rotate", 0)]).await;
    assert_eq!(ask(&h).await.status, 200);
    let store = &h.gateway.live().store;
    let id = h.gateway.live().pool.accounts(ChannelKind::Warp)[0].0.id;
    let stored = store.get_account(id).await.unwrap().unwrap();
    let rotated = stored.credential.expose().to_owned();
    assert!(rotated.starts_with("rt-rotate~"), "{rotated}");
    let state: Value = serde_json::from_str(stored.state.as_ref().unwrap().expose()).unwrap();
    assert!(state["id_token"].as_str().unwrap().split('.').count() == 3);
    let paths: Vec<String> = warp.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths[0].starts_with("/v1/token?key="), "{paths:?}");
    assert_eq!(paths[1], "/client/login");
    // The next request uses the stored session: no second refresh.
    assert_eq!(ask(&h).await.status, 200);
    let refreshes = warp.requests().iter().filter(|r| r.path.starts_with("/v1/token")).count();
    assert_eq!(refreshes, 1);
}

const REDIS: &str = "redis://127.0.0.1:6379/0";

fn delete_prefix(prefix: &str) {
    let Ok(mut conn) = redis::Client::open(REDIS).and_then(|c| c.get_connection()) else { return };
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query(&mut conn).unwrap_or_default();
    if !keys.is_empty() {
        let _: Result<(), _> = redis::cmd("DEL").arg(&keys).query(&mut conn);
    }
}

struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        delete_prefix(&self.0);
    }
}

#[tokio::test]
async fn the_tool_loop_continues_across_two_instances_sharing_redis() {
    let prefix = format!("o2a-test-warp-{:016x}:", rand::random::<u64>());
    let _cleanup = Cleanup(prefix.clone());
    let warp = MockServer::start(MockKind::Warp).await.unwrap();
    let openai = MockServer::start(MockKind::OpenAi).await.unwrap();
    let anthropic = MockServer::start(MockKind::Anthropic).await.unwrap();
    let dirs = (TempDir::new("warp-a"), TempDir::new("warp-b"));
    let config = |dir: &TempDir| {
        let mut c = config_for(&openai, &anthropic);
        c.store = StoreKind::Redis;
        c.redis_url = Secret::new(REDIS);
        c.redis_prefix = prefix.clone();
        c.data_dir = dir.0.clone();
        warp_config(&mut c, &warp, &[("w1", "rt-inst-a", 0), ("w2", "rt-inst-b", 0)]);
        c
    };
    let a = Server::start(&config(&dirs.0)).await.expect("instance a");
    let b = Server::start(&config(&dirs.1)).await.expect("instance b");
    let text = tool_loop(&[a.addr(), b.addr()], Some("warp-session-1")).await;
    assert!(text.ends_with("(read_files)."), "{text}");
    assert_one_conversation_and_account(&warp);
    drop((a, b));
}

#[tokio::test]
async fn the_admin_check_refreshes_and_reads_limits_and_model_choices() {
    const ADMIN: &str = "admin-token-warp-check-0123";
    let warp = MockServer::start(MockKind::Warp).await.unwrap();
    let h = Harness::start_with(|c| {
        warp_config(c, &warp, &[("fresh", "rt-check", 0), ("refused", "scenario-graphql_user_error", 0)]);
        c.admin_token = Some(Secret::new(ADMIN));
    })
    .await;
    let id_of = |name: &str| {
        let accounts = h.gateway.live().pool.accounts(ChannelKind::Warp);
        accounts.iter().find(|(info, _)| info.name == name).unwrap().0.id
    };
    let check = |id: u64| {
        let addr = h.addr();
        async move {
            let auth = format!("Bearer {ADMIN}");
            send(
                addr,
                "POST",
                &format!("/api/accounts/{id}/check"),
                &[("authorization", &auth), ("content-type", "application/json")],
                "{}",
            )
            .await
        }
    };
    let r = check(id_of("fresh")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["ok"], true, "{}", r.text());
    let paths: Vec<String> = warp.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths.iter().any(|p| p.starts_with("/v1/token")), "no live session yet: refreshed first");
    assert!(paths.iter().any(|p| p == "/graphql/v2?op=GetRequestLimitInfo"), "{paths:?}");
    assert!(paths.iter().any(|p| p == "/graphql/v2?op=GetFeatureModelChoices"), "{paths:?}");
    let stored = h.gateway.live().store.get_account(id_of("fresh")).await.unwrap().unwrap();
    assert!(stored.credential.expose().starts_with("rt-check~"), "the rotated token is kept");
    assert!(!r.text().contains("rt-check"), "the admin answer shows no credential");

    let r = check(id_of("refused")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["ok"], false, "{}", r.text());
    // Chat still works on the account that passed.
    warp.clear();
    assert_eq!(ask(&h).await.status, 200);
    // A model outside the account's choices is refused before Warp is asked, without cooling.
    warp.clear();
    let body = json!({"model": "gpt-5.2", "messages": [{"role": "user", "content": "hi"}]});
    let r = post(h.addr(), "/v1/chat/completions", &body).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("gpt-5-2-medium"), "{}", r.text());
    assert!(agent_calls(&warp).is_empty());
    assert_eq!(health_of(&h, "fresh"), None);
}

#[tokio::test]
async fn in_stream_finish_reasons_switch_accounts_or_reach_the_client() {
    let (h, warp) = start(&[("limited", "scenario-quota_limit", 0), ("good", "rt-finish", 1)]).await;
    let reply = ask(&h).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(health_of(&h, "limited"), Some(Reason::QuotaExhausted));
    assert_eq!(agent_calls(&warp).len(), 2);

    // The request's own fault: a 400 in the client's shape, no other account tried.
    warp.clear();
    let body = json!({"model": MODEL, "max_tokens": 10,
        "messages": [{"role": "user", "content": "[[mock:context_window_exceeded]] long"}]});
    let reply = post_anthropic(h.addr(), "/v1/messages", &body).await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert_eq!(reply.json()["error"]["type"], "invalid_request_error", "{}", reply.text());
    assert!(reply.json()["error"]["message"].as_str().unwrap().contains("too long"));
    assert_eq!(agent_calls(&warp).len(), 1);
    assert_eq!(health_of(&h, "good"), None);
}

#[tokio::test]
async fn a_stale_model_config_makes_the_gateway_reread_the_choices() {
    let (h, warp) = start(&[("w1", "rt-stale", 0)]).await;
    let body = json!({"model": MODEL, "messages": [{"role": "user", "content": "[[mock:refresh_model_config]] hi"}]});
    let reply = post(h.addr(), "/v1/chat/completions", &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !warp.requests().iter().any(|r| r.path == "/graphql/v2?op=GetFeatureModelChoices") {
        assert!(std::time::Instant::now() < deadline, "the choices were not re-read");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_openai_client_tool_call_round_trips_as_an_mcp_result() {
    let (h, warp) = start(&[("w1", "rt-mcp", 0)]).await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]);
    let mut messages = vec![json!({"role": "user", "content": "[[mock:mcp_tool]] weather in Paris?"})];
    let reply = post(
        h.addr(),
        "/v1/chat/completions",
        &json!({"model": MODEL, "tools": tools, "messages": messages}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let message = reply.json()["choices"][0]["message"].clone();
    assert_eq!(reply.json()["choices"][0]["finish_reason"], "tool_calls");
    let call = message["tool_calls"][0].clone();
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value = serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "Paris"}));
    messages.push(message);
    messages.push(json!({"role": "tool", "tool_call_id": call["id"], "content": "sunny, 21°C"}));
    let reply = post(
        h.addr(),
        "/v1/chat/completions",
        &json!({"model": MODEL, "tools": tools, "messages": messages}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let text = reply.json()["choices"][0]["message"]["content"].as_str().unwrap().to_owned();
    assert_eq!(text, format!("Received 1 tool result(s): {} (call_mcp_tool).", call["id"].as_str().unwrap()));
    let calls = agent_calls(&warp);
    assert!(contains(&calls[0].body, b"client-request-tools"), "the tools as one MCP server");
    assert!(contains(&calls[1].body, "sunny, 21°C".as_bytes()));
}
