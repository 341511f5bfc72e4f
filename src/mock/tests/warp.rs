//! The Warp mock, endpoint by endpoint and scenario by scenario, as a raw HTTP/1.1 client sees it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_PAD_INDIFFERENT;
use prost::Message as _;
use serde_json::{Value, json};

use super::client::{Response, exchange};
use crate::channels::warp::frames::{Action, FinishReason, Meta, WarpEvent, decode_data};
use crate::channels::warp::wire::*;
use crate::mock::{MockKind, MockServer};

async fn server() -> MockServer {
    MockServer::start(MockKind::Warp).await.expect("start the mock")
}

/// The literal bytes of a request with a binary body.
fn raw(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: app.warp.test\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    [head.as_bytes(), body].concat()
}

const KEY_PATH: &str = "/v1/token?key=AIzaSyBdy3O3S9hrdayLJxJ7mriBR4qgUaUygAs";

async fn refresh_with(server: &MockServer, path: &str, token: &str, extra: &[(&str, &str)]) -> Response {
    let mut headers =
        vec![("content-type", "application/x-www-form-urlencoded"), ("accept", "application/json")];
    headers.extend_from_slice(extra);
    let body = format!("grant_type=refresh_token&refresh_token={}", token.replace('~', "%7E"));
    exchange(server.addr(), &raw("POST", path, &headers, body.as_bytes())).await
}

/// Refreshes `token`: the ID token and the rotated refresh token.
async fn login(server: &MockServer, token: &str) -> (String, String) {
    let response = refresh_with(server, KEY_PATH, token, &[]).await;
    assert_eq!(response.status(), 200, "{:?}", String::from_utf8_lossy(&response.body()));
    let body = response.json();
    (body["id_token"].as_str().unwrap().to_owned(), body["refresh_token"].as_str().unwrap().to_owned())
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_PAD_INDIFFERENT.decode(payload).unwrap()).unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn query_input(text: &str) -> UserInput {
    UserInput {
        input: Some(user_input::Input::UserQuery(UserQuery {
            query: Some(text.into()),
            mode: Some(UserQueryMode::default()),
            intended_agent: Some(AgentType::Primary as i32),
            ..Default::default()
        })),
    }
}

fn mcp_result(id: &str, text: &str) -> UserInput {
    UserInput {
        input: Some(user_input::Input::ToolCallResult(ToolCallResult {
            tool_call_id: Some(id.into()),
            result: Some(tool_call_result::Result::CallMcpTool(CallMcpToolResult {
                result: Some(call_mcp_tool_result::Result::Success(McpSuccess {
                    results: vec![McpResultItem {
                        result: Some(mcp_result_item::Result::Text(McpText { text: Some(text.into()) })),
                    }],
                })),
            })),
        })),
    }
}

fn shell_result(id: &str) -> UserInput {
    UserInput {
        input: Some(user_input::Input::ToolCallResult(ToolCallResult {
            tool_call_id: Some(id.into()),
            result: Some(tool_call_result::Result::RunShellCommand(RunShellCommandResult {
                command: Some("ls -la".into()),
                result: Some(run_shell_command_result::Result::CommandFinished(ShellCommandFinished {
                    output: Some("total 0".into()),
                    exit_code: Some(0),
                    command_id: None,
                })),
                ..Default::default()
            })),
        })),
    }
}

fn warp_request(inputs: Vec<UserInput>, conversation: Option<&str>, tools: bool) -> Request {
    let mcp_context = tools.then(|| McpContext {
        servers: vec![McpServer {
            name: Some("client".into()),
            id: Some("client-request-tools".into()),
            tools: vec![McpTool {
                name: Some("get_weather".into()),
                description: Some("Weather".into()),
                input_schema: Struct::from_json(
                    &json!({"type": "object", "properties": {"city": {"type": "string"}}}),
                ),
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    Request {
        task_context: Some(TaskContext::default()),
        input: Some(Input { context: None, r#type: Some(input::Type::UserInputs(UserInputs { inputs })) }),
        settings: Some(Settings {
            model_config: Some(ModelConfig { base: Some("auto-open".into()), ..Default::default() }),
            ..Default::default()
        }),
        metadata: Some(Metadata { conversation_id: conversation.map(str::to_owned), ..Default::default() }),
        existing_suggestions: None,
        mcp_context,
    }
}

async fn post_agent(server: &MockServer, jwt: &str, body: &[u8], extra: &[(&str, &str)]) -> Response {
    let bearer = format!("Bearer {jwt}");
    let mut headers = vec![
        ("authorization", bearer.as_str()),
        ("content-type", "application/x-protobuf"),
        ("accept", "text/event-stream"),
        ("x-warp-client-id", "warp-app"),
    ];
    headers.extend_from_slice(extra);
    exchange(server.addr(), &raw("POST", "/ai/multi-agent", &headers, body)).await
}

async fn agent(server: &MockServer, jwt: &str, request: &Request, extra: &[(&str, &str)]) -> Response {
    post_agent(server, jwt, &request.encode_to_vec(), extra).await
}

/// The events of a stream, checking each chunk is one `data:` frame.
fn events(response: &Response) -> Vec<WarpEvent> {
    assert_eq!(response.status(), 200, "{:?}", String::from_utf8_lossy(&response.body()));
    assert_eq!(response.header("content-type"), Some("text/event-stream; charset=utf-8"));
    response.frames().iter().map(|f| decode_data(f.data.as_bytes()).expect("a Warp frame")).collect()
}

/// The assistant text of a stream, reconciled per §3.4 (snapshots vs. deltas), and its tool calls.
fn reconcile(events: &[WarpEvent]) -> (String, String, Vec<ToolCall>) {
    use std::collections::HashMap;
    let mut texts: HashMap<(String, bool), String> = HashMap::new();
    let (mut text, mut reasoning, mut calls) = (String::new(), String::new(), Vec::<ToolCall>::new());
    let mut snapshot = |m: &Message, texts: &mut HashMap<(String, bool), String>, delta: bool| {
        for (piece, is_reasoning) in [(m.text(), false), (m.reasoning(), true)] {
            let Some(piece) = piece else { continue };
            let current = texts.entry((m.id.clone(), is_reasoning)).or_default();
            let out = if is_reasoning { &mut reasoning } else { &mut text };
            if delta {
                out.push_str(piece);
                current.push_str(piece);
            } else if let Some(suffix) = piece.strip_prefix(current.as_str()) {
                out.push_str(suffix);
                *current = piece.to_owned();
            }
        }
        if let Some(call) = m.tool_call() {
            let complete = match &call.tool {
                Some(tool_call::Tool::RunShellCommand(s)) => !s.command.is_empty(),
                _ => true,
            };
            if complete && !calls.iter().any(|c| c.tool_call_id == call.tool_call_id) {
                calls.push(call.clone());
            }
        }
    };
    for event in events {
        let WarpEvent::Actions(actions) = event else { continue };
        for action in actions {
            match action {
                Action::CreateTask(task) => task.messages.iter().for_each(|m| snapshot(m, &mut texts, false)),
                Action::AddMessages { messages, .. } => {
                    messages.iter().for_each(|m| snapshot(m, &mut texts, false))
                }
                Action::UpdateMessage { message, .. } => snapshot(message, &mut texts, false),
                Action::Append { message, .. } => snapshot(message, &mut texts, true),
                Action::Meta(_) => {}
            }
        }
    }
    (text, reasoning, calls)
}

fn finish_of(events: &[WarpEvent]) -> &crate::channels::warp::frames::Finished {
    match events.last() {
        Some(WarpEvent::Finished(f)) => f,
        other => panic!("expected finished last, got {other:?}"),
    }
}

fn conversation_of(events: &[WarpEvent]) -> String {
    match events.first() {
        Some(WarpEvent::Init { conversation_id, .. }) => conversation_id.clone(),
        other => panic!("expected init first, got {other:?}"),
    }
}

// ----- token refresh -----------------------------------------------------------------------------

#[tokio::test]
async fn refresh_answers_securetoken_json_and_rotates_the_refresh_token() {
    let server = server().await;
    let response = refresh_with(&server, KEY_PATH, "AMf-account-1", &[]).await;
    assert_eq!(response.status(), 200);
    let body = response.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], "3600");
    assert_eq!(body["access_token"], body["id_token"]);
    let jwt = body["id_token"].as_str().unwrap();
    assert_eq!(jwt.split('.').count(), 3);
    let exp = claims(jwt)["exp"].as_u64().unwrap();
    assert!((now() + 3590..=now() + 3600).contains(&exp), "exp {exp}");
    let rotated = body["refresh_token"].as_str().unwrap().to_owned();
    assert!(rotated.starts_with("AMf-account-1~") && rotated != "AMf-account-1");

    // The old token is dead; the new one works and rotates again; the same account keeps its id.
    let old = refresh_with(&server, KEY_PATH, "AMf-account-1", &[]).await;
    assert_eq!(old.status(), 400);
    assert_eq!(old.json()["error"]["message"], "INVALID_REFRESH_TOKEN");
    let again = refresh_with(&server, "/proxy/token?key=k", &rotated, &[]).await;
    assert_eq!(again.status(), 200, "Warp's /proxy/token answers the same");
    assert_eq!(again.json()["user_id"], body["user_id"]);
    assert_eq!(refresh_with(&server, KEY_PATH, &rotated, &[]).await.status(), 400);

    let recorded = &server.requests()[0];
    assert_eq!(recorded.path, KEY_PATH);
    assert_eq!(recorded.body, "grant_type=refresh_token&refresh_token=AMf-account-1".as_bytes());
}

#[tokio::test]
async fn refresh_rejects_bad_forms_and_plays_token_scenarios() {
    let server = server().await;
    assert_eq!(refresh_with(&server, "/v1/token", "t", &[]).await.status(), 400, "no API key");
    let empty = exchange(
        server.addr(),
        &raw(
            "POST",
            KEY_PATH,
            &[("content-type", "application/x-www-form-urlencoded")],
            b"grant_type=refresh_token",
        ),
    )
    .await;
    assert_eq!(
        (empty.status(), empty.json()["error"]["message"].clone()),
        (400, json!("MISSING_REFRESH_TOKEN"))
    );
    let grant =
        exchange(server.addr(), &raw("POST", KEY_PATH, &[], b"grant_type=password&refresh_token=t")).await;
    assert_eq!(grant.json()["error"]["message"], "INVALID_GRANT_TYPE");

    assert_eq!(refresh_with(&server, KEY_PATH, "scenario-token_invalid", &[]).await.status(), 400);
    assert_eq!(refresh_with(&server, KEY_PATH, "scenario-token_401", &[]).await.status(), 401);
    assert_eq!(
        refresh_with(&server, KEY_PATH, "scenario-token_expired", &[]).await.json()["error"]["message"],
        "TOKEN_EXPIRED"
    );
    let limited = refresh_with(
        &server,
        KEY_PATH,
        "t",
        &[("x-mock-scenario", "token_429"), ("x-mock-retry-after", "30")],
    )
    .await;
    assert_eq!((limited.status(), limited.header("retry-after")), (429, Some("30")));
    assert_eq!(refresh_with(&server, KEY_PATH, "scenario-nope", &[]).await.status(), 400);
}

#[tokio::test]
async fn token_lifetime_is_configurable_and_expired_tokens_get_401() {
    let server = server().await;
    server.set_token_ttl(std::time::Duration::from_secs(120));
    let (jwt, _) = login(&server, "AMf-short").await;
    let exp = claims(&jwt)["exp"].as_u64().unwrap();
    assert!((now() + 110..=now() + 120).contains(&exp));

    let response = refresh_with(&server, KEY_PATH, "AMf-expired", &[("x-mock-token-ttl-s", "0")]).await;
    assert_eq!(response.json()["expires_in"], "0");
    let expired = response.json()["id_token"].as_str().unwrap().to_owned();
    let login = exchange(
        server.addr(),
        &raw("POST", "/client/login", &[("authorization", &format!("Bearer {expired}"))], b""),
    )
    .await;
    assert_eq!(login.status(), 401);
    let request = warp_request(vec![query_input("hi")], None, false);
    assert_eq!(agent(&server, &expired, &request, &[]).await.status(), 401);
    assert_eq!(agent(&server, "not-a-jwt", &request, &[]).await.status(), 401);
}

// ----- login and GraphQL -------------------------------------------------------------------------

#[tokio::test]
async fn client_login_is_204_with_a_cookie() {
    let server = server().await;
    let (jwt, _) = login(&server, "AMf-login").await;
    let ok = exchange(
        server.addr(),
        &raw("POST", "/client/login", &[("authorization", &format!("Bearer {jwt}"))], b""),
    )
    .await;
    assert_eq!(ok.status(), 204);
    assert!(ok.header("set-cookie").unwrap().starts_with("warp_session="));
    assert_eq!(exchange(server.addr(), &raw("POST", "/client/login", &[], b"")).await.status(), 401);
    assert_eq!(exchange(server.addr(), &raw("GET", "/client/login", &[], b"")).await.status(), 404);
}

async fn graphql(server: &MockServer, jwt: &str, op: &str, extra: &[(&str, &str)]) -> Response {
    let body = json!({"query": "query Q { user { __typename } }", "operationName": op,
        "variables": {"requestContext": {"clientContext": {"version": "v0"}, "osContext": {"category": "Linux"}}}});
    let bearer = format!("Bearer {jwt}");
    let mut headers = vec![("authorization", bearer.as_str()), ("content-type", "application/json")];
    headers.extend_from_slice(extra);
    exchange(
        server.addr(),
        &raw("POST", &format!("/graphql/v2?op={op}"), &headers, body.to_string().as_bytes()),
    )
    .await
}

#[tokio::test]
async fn graphql_limits_and_model_choices() {
    let server = server().await;
    let (jwt, _) = login(&server, "AMf-gql").await;
    let limits = graphql(&server, &jwt, "GetRequestLimitInfo", &[]).await.json();
    let user = &limits["data"]["user"];
    assert_eq!(user["__typename"], "UserOutput");
    let info = &user["user"]["requestLimitInfo"];
    assert_eq!(
        (info["requestLimit"].clone(), info["requestsUsedSinceLastRefresh"].clone()),
        (json!(100), json!(25))
    );
    assert_eq!(user["user"]["bonusGrants"][0]["requestCreditsRemaining"], 7);

    let choices = graphql(&server, &jwt, "GetFeatureModelChoices", &[]).await.json();
    let workspace = &choices["data"]["user"]["user"]["workspaces"][0]["featureModelChoice"];
    assert_eq!(workspace["agentMode"]["defaultId"], "auto-open");
    assert_eq!(workspace["cliAgent"]["defaultId"], "cli-agent-auto");
    assert_eq!(workspace["computerUseAgent"]["defaultId"], "computer-use-agent-auto");
    assert!(workspace["agentMode"]["choices"].as_array().unwrap().len() >= 3);

    let error = graphql(&server, &jwt, "GetRequestLimitInfo", &[("x-mock-scenario", "graphql_user_error")])
        .await
        .json();
    assert_eq!(error["data"]["user"]["__typename"], "UserFacingError");
    assert!(error["data"]["user"]["error"]["message"].is_string());
    let errors = graphql(&server, &jwt, "GetFeatureModelChoices", &[("x-mock-scenario", "graphql_errors")])
        .await
        .json();
    assert!(!errors["errors"].as_array().unwrap().is_empty());
    let exhausted =
        graphql(&server, &jwt, "GetRequestLimitInfo", &[("x-mock-scenario", "quota_exhausted")]).await.json();
    assert_eq!(exhausted["data"]["user"]["user"]["requestLimitInfo"]["requestsUsedSinceLastRefresh"], 100);

    let mismatch = exchange(
        server.addr(),
        &raw(
            "POST",
            "/graphql/v2?op=GetRequestLimitInfo",
            &[("authorization", &format!("Bearer {jwt}"))],
            br#"{"query":"q","operationName":"Other"}"#,
        ),
    )
    .await;
    assert_eq!(mismatch.status(), 400);
    assert_eq!(graphql(&server, "bad", "GetRequestLimitInfo", &[]).await.status(), 401);
}

// ----- /ai/multi-agent ---------------------------------------------------------------------------

#[tokio::test]
async fn text_streams_snapshot_appends_update_meta_and_finished() {
    let server = server().await;
    let (jwt, _) = login(&server, "AMf-text").await;
    let response = agent(&server, &jwt, &warp_request(vec![query_input("hi")], None, false), &[]).await;
    assert!(response.complete);
    let events = events(&response);
    assert!(!conversation_of(&events).is_empty());
    assert!(matches!(&events[1], WarpEvent::Actions(a) if matches!(a[0], Action::CreateTask(_))));
    assert!(matches!(&events[2], WarpEvent::Actions(a) if matches!(a[0], Action::AddMessages { .. })));
    assert!(
        events.iter().any(|e| matches!(e, WarpEvent::Actions(a) if matches!(a[0], Action::Append { .. })))
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, WarpEvent::Actions(a) if matches!(a[0], Action::UpdateMessage { .. })))
    );
    assert!(events.iter().any(|e| matches!(e, WarpEvent::Actions(a) if matches!(a[0], Action::Meta(Meta::UpdateTaskDescription { .. })))));
    let (text, reasoning, calls) = reconcile(&events);
    assert_eq!((text.as_str(), reasoning.as_str(), calls.len()), ("Hello from the mock.", "", 0));
    let finished = finish_of(&events);
    assert_eq!(finished.reason, FinishReason::Done);
    assert!(finished.input_tokens() >= 1 && finished.output_tokens() == 4);
    assert_eq!(finished.token_usage[0].model_id, "auto-open");
    // Recorded as sent.
    let sent = &server.requests()[1];
    assert_eq!(sent.path, "/ai/multi-agent");
    assert_eq!(
        Request::decode(sent.body.as_ref()).unwrap(),
        warp_request(vec![query_input("hi")], None, false)
    );
}

#[tokio::test]
async fn requests_are_checked() {
    let server = server().await;
    let (jwt, _) = login(&server, "AMf-checks").await;
    let bad = post_agent(&server, &jwt, b"\xff\xff\xff", &[]).await;
    assert_eq!(bad.status(), 400);
    let message = bad.json()["error"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with("invalid AIAgentRequest: cannot parse invalid wire-format data"),
        "{message}"
    );

    let mut no_model = warp_request(vec![query_input("hi")], None, false);
    no_model.settings = None;
    let response = agent(&server, &jwt, &no_model, &[]).await;
    assert_eq!(response.json()["error"], "invalid AIAgentRequest: settings.model_config.base is empty");

    let no_inputs = warp_request(Vec::new(), None, false);
    assert_eq!(agent(&server, &jwt, &no_inputs, &[]).await.status(), 400);

    let body = warp_request(vec![query_input("hi")], None, false).encode_to_vec();
    let lone = exchange(
        server.addr(),
        &raw(
            "POST",
            "/ai/multi-agent",
            &[("authorization", &format!("Bearer {jwt}")), ("content-type", "application/json")],
            &body,
        ),
    )
    .await;
    assert_eq!(lone.status(), 400);
    assert!(lone.json()["error"].as_str().unwrap().contains("application/x-protobuf"));
}

#[tokio::test]
async fn scenario_comes_from_header_account_or_query_marker() {
    let server = server().await;
    let (plain, _) = login(&server, "AMf-plain").await;
    let (account, rotated) = login(&server, "scenario-echo").await;
    assert_eq!(claims(&account)["mock_scenario"], "echo");
    let (after_rotation, _) = login(&server, &rotated).await;
    assert_eq!(claims(&after_rotation)["mock_scenario"], "echo", "the scenario survives rotation");

    let request = warp_request(vec![query_input("say the words [[mock:echo]]")], None, false);
    assert_eq!(reconcile(&events(&agent(&server, &plain, &request, &[]).await)).0, "say the words");
    let request = warp_request(vec![query_input("echo me")], None, false);
    assert_eq!(reconcile(&events(&agent(&server, &account, &request, &[]).await)).0, "echo me");
    let response = agent(&server, &account, &request, &[("x-mock-scenario", "reasoning")]).await;
    let (text, reasoning, _) = reconcile(&events(&response));
    assert_eq!(
        (text.as_str(), reasoning.as_str()),
        ("Hello from the mock.", "The user greets me; I greet back.")
    );
    let unknown =
        agent(&server, &plain, &warp_request(vec![query_input("[[mock:nope]]")], None, false), &[]).await;
    assert_eq!(
        (unknown.status(), unknown.json()["error"].clone()),
        (400, json!("unknown mock scenario `nope`"))
    );
}

#[tokio::test]
async fn mcp_tool_call_then_typed_continuation() {
    let server = server().await;
    let (jwt, _) = login(&server, "AMf-mcp").await;
    let first = events(
        &agent(
            &server,
            &jwt,
            &warp_request(vec![query_input("weather?")], None, true),
            &[("x-mock-scenario", "mcp_tool")],
        )
        .await,
    );
    let conversation = conversation_of(&first);
    let (text, _, calls) = reconcile(&first);
    assert_eq!(text, "Let me check the weather.");
    let call = &calls[0];
    assert!(call.tool_call_id.starts_with("toolu_01"));
    let Some(tool_call::Tool::CallMcpTool(mcp)) = &call.tool else { panic!("{call:?}") };
    assert_eq!((mcp.name.as_str(), mcp.server_id.as_str()), ("get_weather", "client-request-tools"));
    assert_eq!(mcp.args.as_ref().unwrap().to_json(), json!({"city": "Paris"}));

    // The result goes back typed, in the same conversation.
    let request = warp_request(vec![mcp_result(&call.tool_call_id, "sunny")], Some(&conversation), true);
    let second = events(&agent(&server, &jwt, &request, &[]).await);
    assert_eq!(conversation_of(&second), conversation, "init echoes metadata.conversation_id");
    let (text, _, _) = reconcile(&second);
    assert_eq!(text, format!("Received 1 tool result(s): {} (call_mcp_tool).", call.tool_call_id));

    // An id the mock never issued, or no conversation: 400.
    let unknown = agent(
        &server,
        &jwt,
        &warp_request(vec![mcp_result("toolu_bogus", "x")], Some(&conversation), true),
        &[],
    )
    .await;
    assert_eq!(unknown.status(), 400);
    assert!(unknown.json()["error"].as_str().unwrap().contains("unknown tool_call_id toolu_bogus"));
    let orphan =
        agent(&server, &jwt, &warp_request(vec![mcp_result(&call.tool_call_id, "x")], None, true), &[]).await;
    assert_eq!(orphan.status(), 400);
}

#[tokio::test]
async fn native_shell_calls_and_their_results() {
    let server = server().await;
    let (jwt, _) = login(&server, "AMf-shell").await;
    for scenario in ["shell", "shell_live"] {
        let response = agent(
            &server,
            &jwt,
            &warp_request(vec![query_input("list files")], None, false),
            &[("x-mock-scenario", scenario)],
        )
        .await;
        let events = events(&response);
        let (_, _, calls) = reconcile(&events);
        let call = &calls[0];
        let Some(tool_call::Tool::RunShellCommand(shell)) = &call.tool else { panic!("{call:?}") };
        assert_eq!(shell.command, "ls -la", "{scenario}");
        assert_eq!(shell.wait_until_complete, Some(false));
        if scenario == "shell_live" {
            assert_eq!(call.tool_call_id, "toolu_01Azsg4CznXv6spQXdrvFPmy");
        }
        let conversation = conversation_of(&events);
        let request = warp_request(
            vec![shell_result(&call.tool_call_id), query_input("continue")],
            Some(&conversation),
            false,
        );
        let text = reconcile(&self::events(&agent(&server, &jwt, &request, &[]).await)).0;
        assert!(text.contains("(run_shell_command)"), "{text}");
    }
}

#[tokio::test]
async fn delay_and_interval_headers_pace_the_answer() {
    let server = server().await;
    let (jwt, _) = login(&server, "AMf-pace").await;
    let request = warp_request(vec![query_input("hi")], None, false);
    let started = std::time::Instant::now();
    let response =
        agent(&server, &jwt, &request, &[("x-mock-delay-ms", "150"), ("x-mock-interval-ms", "20")]).await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(150 + 3 * 20));
    assert_eq!(reconcile(&events(&response)).0, "Hello from the mock.");
}

#[tokio::test]
async fn reconcile_scenario_sends_the_sheet_sequence() {
    let server = server().await;
    let (jwt, _) = login(&server, "AMf-rec").await;
    let events = events(
        &agent(
            &server,
            &jwt,
            &warp_request(vec![query_input("go")], None, false),
            &[("x-mock-scenario", "reconcile")],
        )
        .await,
    );
    let (text, reasoning, _) = reconcile(&events);
    assert_eq!((text.as_str(), reasoning.as_str()), ("CONTINUATION OK", ""));
}

#[tokio::test]
async fn http_errors_of_section_6_1() {
    let server = server().await;
    let (jwt, _) = login(&server, "AMf-errors").await;
    let request = warp_request(vec![query_input("hi")], None, false);
    let cases = [
        (
            "model_not_allowed",
            400,
            "Invalid request: the requested base model (auto-open) is not allowed for your account",
        ),
        ("no_model", 400, "Invalid request: the requested base model (auto-open) has no model available"),
        ("cloud_agent", 403, "not allowed to use the provided cloud agent"),
        ("no_credits", 429, "No AI credits remaining"),
        ("unauthorized", 401, "Unauthorized (mock scenario)"),
    ];
    for (scenario, status, message) in cases {
        let response = agent(&server, &jwt, &request, &[("x-mock-scenario", scenario)]).await;
        assert_eq!(
            (response.status(), response.json()["error"].clone()),
            (status, json!(message)),
            "{scenario}"
        );
    }
    let credits = agent(&server, &jwt, &request, &[("x-mock-scenario", "no_credits")]).await;
    assert_eq!(credits.header("x-warp-error-code"), Some("OUT_OF_CREDITS"));
    let overloaded = agent(&server, &jwt, &request, &[("x-mock-scenario", "overloaded")]).await;
    assert_eq!((overloaded.status(), overloaded.header("x-warp-error-code")), (429, None));
    let blocked = agent(&server, &jwt, &request, &[("x-mock-scenario", "blocked")]).await;
    assert_eq!(blocked.status(), 403);
    assert!(blocked.json()["error"].as_str().unwrap().contains("blocked from using AI features"));
    let html = agent(&server, &jwt, &request, &[("x-mock-scenario", "html")]).await;
    assert_eq!((html.status(), html.header("content-type")), (200, Some("text/html; charset=utf-8")));
    assert!(html.body().starts_with(b"<!doctype html>"));
    assert_eq!(agent(&server, &jwt, &request, &[("x-mock-scenario", "html_403")]).await.status(), 403);
}

#[tokio::test]
async fn in_stream_finish_reasons() {
    let server = server().await;
    let (jwt, _) = login(&server, "AMf-finish").await;
    let request = warp_request(vec![query_input("hi")], None, false);
    let cases = [
        ("quota_limit", FinishReason::QuotaLimit),
        ("context_window_exceeded", FinishReason::ContextWindowExceeded),
        ("max_token_limit", FinishReason::MaxTokenLimit),
        ("llm_unavailable", FinishReason::LlmUnavailable),
        ("internal_error", FinishReason::InternalError("upstream blew up (mock)".into())),
        ("invalid_api_key", FinishReason::InvalidApiKey { provider: 1, model_name: "auto-open".into() }),
    ];
    for (scenario, reason) in cases {
        let events = events(&agent(&server, &jwt, &request, &[("x-mock-scenario", scenario)]).await);
        assert_eq!(finish_of(&events).reason, reason, "{scenario}");
    }
    let events =
        self::events(&agent(&server, &jwt, &request, &[("x-mock-scenario", "refresh_model_config")]).await);
    assert!(finish_of(&events).should_refresh_model_config);
    let events = self::events(&agent(&server, &jwt, &request, &[("x-mock-scenario", "error_event")]).await);
    assert!(matches!(events.last(), Some(WarpEvent::Error { .. })));
}

#[tokio::test]
async fn broken_streams() {
    let server = server().await;
    let (jwt, _) = login(&server, "AMf-broken").await;
    let request = warp_request(vec![query_input("hi")], None, false);

    let cut = agent(&server, &jwt, &request, &[("x-mock-scenario", "cut")]).await;
    assert!(!cut.complete, "the connection is cut");
    let cut_events: Vec<WarpEvent> =
        cut.frames().iter().map(|f| decode_data(f.data.as_bytes()).unwrap()).collect();
    assert!(!cut_events.iter().any(|e| matches!(e, WarpEvent::Finished(_))));
    assert_eq!(reconcile(&cut_events).0, "Hello from");

    let unfinished = agent(&server, &jwt, &request, &[("x-mock-scenario", "unfinished")]).await;
    assert!(unfinished.complete);
    let events = events(&unfinished);
    assert!(!events.iter().any(|e| matches!(e, WarpEvent::Finished(_))));
    assert_eq!(reconcile(&events).0, "Hello from the mock.");

    let empty = agent(&server, &jwt, &request, &[("x-mock-scenario", "empty")]).await;
    assert!(empty.complete && empty.status() == 200 && empty.body().is_empty());

    let unknown = agent(&server, &jwt, &request, &[("x-mock-scenario", "unknown_frames")]).await;
    assert!(self::events(&unknown).iter().all(|e| *e == WarpEvent::Unrecognized));
}

#[tokio::test]
async fn kind_parses_and_base_url_is_the_root() {
    assert_eq!("warp".parse::<MockKind>().unwrap(), MockKind::Warp);
    let server = server().await;
    assert_eq!(server.base_url(), format!("http://{}", server.addr()));
    let missing = exchange(server.addr(), &raw("POST", "/nope", &[], b"")).await;
    assert_eq!((missing.status(), missing.json()), (404, json!({"error": "not found"})));
}
