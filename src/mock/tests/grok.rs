//! The Grok mock as a raw HTTP/1.1 client sees it: auth, every chat scenario's line sequence,
//! uploads, quotas, the assets host.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::client::{Conn, Response, exchange, request};
use crate::mock::{BAD_SSO, MockKind, MockServer, grok_scenarios};

const CHAT: &str = "/rest/app-chat/conversations/new";

async fn server() -> MockServer {
    MockServer::start(MockKind::Grok).await.expect("start the mock")
}

/// The headers the web app sends, for token `token`.
fn browser(token: &str) -> Vec<(String, String)> {
    vec![
        ("cookie".into(), format!("sso={token}; sso-rw={token}")),
        ("x-xai-request-id".into(), "0123456789abcdef0123456789abcdef".into()),
        ("origin".into(), "https://grok.com".into()),
        ("referer".into(), "https://grok.com/".into()),
        ("user-agent".into(), "Mozilla/5.0 (Macintosh) Chrome/136.0.0.0 Safari/537.36".into()),
        ("content-type".into(), "application/json".into()),
    ]
}

fn raw(method: &str, path: &str, headers: &[(String, String)], body: &str) -> Vec<u8> {
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    request(method, path, &headers, body)
}

async fn post(server: &MockServer, path: &str, token: &str, body: &Value) -> Response {
    exchange(server.addr(), &raw("POST", path, &browser(token), &body.to_string())).await
}

fn payload(message: &str) -> Value {
    json!({"temporary": true, "modeId": "fast", "message": message, "fileAttachments": [], "imageAttachments": []})
}

/// The lines of a complete NDJSON answer, checking each chunk is exactly one line.
fn lines(response: &Response) -> Vec<Value> {
    assert_eq!(response.status(), 200, "{:?}", String::from_utf8_lossy(&response.body()));
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert!(response.complete, "stream did not end");
    response
        .chunks
        .iter()
        .map(|chunk| {
            let text = std::str::from_utf8(chunk).unwrap();
            let line = text.strip_suffix('\n').unwrap_or_else(|| panic!("no newline: {text:?}"));
            assert!(!line.contains('\n'), "two lines in one chunk: {text:?}");
            serde_json::from_str(line).unwrap()
        })
        .collect()
}

async fn chat_lines(message: &str, extra: &[(&str, &str)]) -> Vec<Value> {
    let server = server().await;
    let mut headers = browser("tok");
    headers.extend(extra.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())));
    lines(&exchange(server.addr(), &raw("POST", CHAT, &headers, &payload(message).to_string())).await)
}

fn response(line: &Value) -> &Value {
    &line["result"]["response"]
}

fn tokens(lines: &[Value], thinking: bool) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| {
            let r = response(l);
            (r["token"].is_string() && r["isThinking"] == thinking)
                .then(|| r["token"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// What kind each line is, by its first key under `result.response` (or `result`, or `error`).
fn kinds(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            if l.get("error").is_some() {
                return "error".to_owned();
            }
            let result = l["result"].as_object().unwrap();
            match result.get("response") {
                Some(r) => r.as_object().unwrap().keys().next().unwrap().clone(),
                None => result.keys().next().unwrap().clone(),
            }
        })
        .collect()
}

fn model_response(lines: &[Value]) -> &Value {
    lines.iter().map(|l| &response(l)["modelResponse"]).find(|m| m.is_object()).expect("a modelResponse")
}

#[tokio::test]
async fn text_is_the_full_line_sequence() {
    let lines = chat_lines("Hi there", &[]).await;
    assert_eq!(
        kinds(&lines),
        [
            "conversation",
            "userResponse",
            "llmInfo",
            "token",
            "token",
            "token",
            "token",
            "isSoftStop",
            "modelResponse",
            "title"
        ]
    );
    assert!(lines[0]["result"]["conversation"]["conversationId"].as_str().unwrap().len() == 36);
    let user = &response(&lines[1])["userResponse"];
    assert_eq!((&user["message"], &user["sender"]), (&json!("Hi there"), &json!("human")));
    assert_eq!(tokens(&lines, false), ["Hello", " from", " mock", " grok."]);
    assert!(lines[3..7].iter().all(|l| response(l)["messageTag"] == "final"));
    let model = model_response(&lines);
    assert_eq!((&model["message"], &model["sender"]), (&json!("Hello from mock grok."), &json!("assistant")));
    assert_eq!(model["parentResponseId"], user["responseId"]);
    assert_eq!(response(&lines[3])["responseId"], model["responseId"]);
    assert_eq!(lines[9]["result"]["title"]["newTitle"], "Mock Grok Conversation");
}

#[tokio::test]
async fn echo_spells_the_message_back_in_small_whole_characters() {
    let message = "[[mock:echo]] héllo wörld — 日本語のテキストです, and more";
    let lines = chat_lines(message, &[]).await;
    let tokens = tokens(&lines, false);
    assert!(tokens.len() > 3 && tokens.iter().all(|t| t.len() <= 18));
    assert_eq!(tokens.concat(), message);
    assert_eq!(model_response(&lines)["message"], message);
}

#[tokio::test]
async fn reasoning_thinks_then_answers() {
    let lines = chat_lines("why", &[("x-mock-scenario", "reasoning")]).await;
    assert_eq!(tokens(&lines, true), ["Thinking", " about", " it..."]);
    assert_eq!(tokens(&lines, false).concat(), "The answer is 42.");
    let first_thinking = lines.iter().map(response).find(|r| r["isThinking"] == true).unwrap();
    assert_eq!(first_thinking["messageTag"], "header");
    assert_eq!(model_response(&lines)["message"], "The answer is 42.");
}

#[tokio::test]
async fn markup_splits_cards_across_tokens_and_cites() {
    let lines = chat_lines("[[mock:markup]] weather?", &[]).await;
    let tokens = tokens(&lines, false);
    assert!(tokens.iter().any(|t| t.ends_with("<xai:tool_us")));
    assert!(tokens.iter().any(|t| t.ends_with("<![CDA")));
    assert!(tokens.iter().any(|t| t.ends_with("<grok:ren")));
    let full = tokens.concat();
    let model = model_response(&lines);
    assert_eq!(model["message"], full);
    assert!(full.starts_with("Searching.<xai:tool_usage_card>"));
    assert!(full.contains("</xai:tool_usage_card> Result: sunny.<grok:render card_id=\"c1\""));
    assert_eq!(model["webSearchResults"][0]["url"], "https://example.com/source");
    let card: Value = serde_json::from_str(model["cardAttachmentsJson"][0].as_str().unwrap()).unwrap();
    assert_eq!(
        card,
        json!({"id":"c1","type":"render_inline_citation","cardType":"citation_card","url":"https://example.com/source"})
    );
}

#[tokio::test]
async fn tool_calls_the_marked_tool_then_reads_the_result() {
    let prompt = "# Available Tools\n\n## Tool Definitions\n\n### lookup\nd\n\nweather? [[mock:call weather {\"city\":\"Paris\"}]]";
    let lines = chat_lines(prompt, &[]).await;
    let tokens = tokens(&lines, false);
    assert!(tokens.len() > 5 && tokens.iter().all(|t| t.len() <= 7));
    let expected =
        "I'll check.\n<tool_call>{\"name\":\"weather\",\"arguments\":{\"city\":\"Paris\"}}</tool_call>";
    assert_eq!(tokens.concat(), expected);
    assert_eq!(model_response(&lines)["message"], expected);

    let first = chat_lines("## Tool Definitions\n\n### lookup\nd\n[[mock:tool]]", &[]).await;
    assert_eq!(
        model_response(&first)["message"],
        "I'll check.\n<tool_call>{\"name\":\"lookup\",\"arguments\":{}}</tool_call>"
    );
    let result =
        format!("{prompt}\n\n<tool_result id=\"call_1\" name=\"weather\">\n  18 C, sunny \n</tool_result>");
    let after = chat_lines(&result, &[]).await;
    assert_eq!(model_response(&after)["message"], "Tool said: 18 C, sunny");
}

#[tokio::test]
async fn image_streams_previews_then_finals_and_lists_them() {
    let server = server().await;
    let mut body = payload("a cat");
    body["toolOverrides"] = json!({"imageGen": true});
    body["imageGenerationCount"] = json!(3);
    let lines = lines(&post(&server, CHAT, "tok", &body).await);
    let progress: Vec<&Value> =
        lines.iter().filter_map(|l| response(l).get("streamingImageGenerationResponse")).collect();
    assert_eq!(progress.len(), 6);
    for (i, p) in progress.iter().enumerate() {
        let (index, pct) = (i % 3, if i < 3 { 50 } else { 100 });
        assert_eq!((&p["imageIndex"], &p["progress"]), (&json!(index), &json!(pct)));
        let url = p["imageUrl"].as_str().unwrap();
        assert!(url.starts_with("users/") && url.ends_with("/image.jpg"));
        assert_eq!(url.contains("-part-0/"), pct == 50);
        assert_eq!(p.get("assetId").is_some(), pct == 100);
    }
    let finals: Vec<&Value> = progress[3..].iter().map(|p| &p["imageUrl"]).collect();
    let model = model_response(&lines);
    assert_eq!(model["message"], "");
    assert_eq!(model["generatedImageUrls"].as_array().unwrap().iter().collect::<Vec<_>>(), finals);

    // New images on every request; the final asset is served.
    let again = self::lines(&post(&server, CHAT, "tok", &body).await);
    assert_ne!(model_response(&again)["generatedImageUrls"], model["generatedImageUrls"]);
    let asset = exchange(
        server.addr(),
        &raw("GET", &format!("/{}", finals[0].as_str().unwrap()), &browser("tok"), ""),
    )
    .await;
    assert_eq!((asset.status(), asset.header("content-type")), (200, Some("image/jpeg")));
}

#[tokio::test]
async fn image_edit_model_and_card_pipeline() {
    let server = server().await;
    let edit = json!({"message": "make it blue", "modelName": "imagine-image-edit"});
    let lines = lines(&post(&server, CHAT, "tok", &edit).await);
    assert_eq!(model_response(&lines)["generatedImageUrls"].as_array().unwrap().len(), 2);

    let cards = self::lines(&post(&server, CHAT, "tok", &payload("[[mock:image_card]] draw")).await);
    let chunks: Vec<Value> = cards
        .iter()
        .filter_map(|l| response(l)["cardAttachment"]["jsonData"].as_str())
        .map(|s| serde_json::from_str::<Value>(s).unwrap()["image_chunk"].clone())
        .collect();
    assert_eq!(
        chunks.iter().map(|c| c["progress"].as_u64().unwrap()).collect::<Vec<_>>(),
        [50, 50, 100, 100]
    );
    assert!(chunks[0]["imageUrl"].as_str().unwrap().contains("-part-0/"));
    assert!(!chunks[2]["imageUrl"].as_str().unwrap().contains("-part-0/"));
    let model = model_response(&cards);
    assert_eq!(model["cardAttachmentsJson"].as_array().unwrap().len(), 2);
    assert!(model["message"].as_str().unwrap().starts_with("<grok:render card_id=\"card-"));
}

#[tokio::test]
async fn image_limit_is_a_stream_error_in_the_model_response() {
    let lines = chat_lines("[[mock:image_limit]] draw", &[]).await;
    let errors = &model_response(&lines)["streamErrors"];
    assert_eq!(errors[0]["renderToolRateLimited"]["rateLimitedCount"], 1);
    assert!(errors[0]["message"].as_str().unwrap().contains("image generation limit"));
}

#[tokio::test]
async fn video_progresses_to_a_video_and_thumbnail() {
    let server = server().await;
    let body = json!({"message": "a wave --mode=normal", "modelName": "grok-3", "toolOverrides": {"videoGen": true},
        "responseMetadata": {"modelConfigOverride": {"modelMap": {"videoGenModelConfig": {"parentPostId": "post-1"}}}}});
    let lines = lines(&post(&server, CHAT, "tok", &body).await);
    let progress: Vec<&Value> =
        lines.iter().filter_map(|l| response(l).get("streamingVideoGenerationResponse")).collect();
    assert_eq!(
        progress.iter().map(|p| p["progress"].as_u64().unwrap()).collect::<Vec<_>>(),
        [1, 5, 15, 45, 95, 100]
    );
    let last = progress[5];
    let (video, thumb) = (last["videoUrl"].as_str().unwrap(), last["thumbnailImageUrl"].as_str().unwrap());
    assert!(video.starts_with("users/") && video.ends_with("/generated_video.mp4"));
    assert!(thumb.ends_with("/preview_image.jpg"));
    assert_eq!((&last["videoPostId"], &last["mode"]), (&json!("post-1"), &json!("normal")));
    let mp4 = exchange(server.addr(), &raw("GET", &format!("/{video}"), &browser("tok"), "")).await;
    assert_eq!((mp4.status(), mp4.header("content-type")), (200, Some("video/mp4")));
}

#[tokio::test]
async fn inband_errors_come_after_tokens_or_first() {
    let after = chat_lines("[[mock:inband_error]]", &[]).await;
    assert_eq!(kinds(&after), ["conversation", "userResponse", "llmInfo", "token", "token", "error"]);
    assert_eq!(after[5], json!({"error": {"code": 8, "message": "Too many requests"}}));
    let first = chat_lines("[[mock:inband_error_first]]", &[]).await;
    assert_eq!(first, [json!({"error": {"code": 8, "message": "Too many requests"}})]);
}

#[tokio::test]
async fn empty_cut_and_silence() {
    let server = server().await;
    let empty = post(&server, CHAT, "scenario-empty", &payload("hi")).await;
    assert_eq!((empty.status(), empty.complete, empty.body().len()), (200, true, 0));

    let cut = post(&server, CHAT, "scenario-cut", &payload("hi")).await;
    assert_eq!(cut.status(), 200);
    assert!(!cut.complete, "the connection is cut");
    let (last, whole) = cut.chunks.split_last().unwrap();
    assert_eq!(whole.len(), 5);
    assert!(!last.ends_with(b"\n") && serde_json::from_slice::<Value>(last).is_err());

    let mut conn = Conn::open(server.addr()).await;
    conn.send(&raw("POST", CHAT, &browser("scenario-silence"), &payload("hi").to_string())).await;
    assert_eq!(conn.head().await.status, 200);
    assert!(conn.is_quiet_for(Duration::from_millis(300)).await);
}

#[tokio::test]
async fn slow_waits_before_its_first_line() {
    let server = server().await;
    let mut conn = Conn::open(server.addr()).await;
    conn.send(&raw("POST", CHAT, &browser("scenario-slow"), &payload("hi").to_string())).await;
    let head = tokio::time::timeout(Duration::from_millis(500), conn.head()).await.expect("headers first");
    assert_eq!(head.status, 200);
    assert!(conn.is_quiet_for(Duration::from_millis(500)).await, "then a pause");
    drop(conn);
    let started = std::time::Instant::now();
    let lines = lines(&post(&server, CHAT, "scenario-slow", &payload("hi")).await);
    assert!(started.elapsed() >= Duration::from_millis(950));
    assert_eq!(tokens(&lines, false).concat(), "Hello from mock grok.");
}

#[tokio::test]
async fn http_errors_in_grok_shapes() {
    let server = server().await;
    let cases = [
        ("error_401", 401, json!({"error": {"code": 16, "message": "Unauthenticated"}})),
        ("error_403", 403, json!({"error": {"code": "blocked-user", "message": "user is blocked"}})),
        ("error_429", 429, json!({"error": {"code": 8, "message": "Too many requests"}})),
        ("error_500", 500, json!({"error": {"code": 13, "message": "Internal error"}})),
        ("model_not_found", 400, json!({"error": {"code": 3, "message": "Model is not found"}})),
    ];
    for (name, status, body) in cases {
        let response = post(&server, CHAT, &format!("scenario-{name}"), &payload("hi")).await;
        assert_eq!((response.status(), response.json()), (status, body), "{name}");
        assert_eq!(response.header("retry-after").is_some(), name == "error_429");
    }
    let html = post(&server, CHAT, "tok", &payload("[[mock:html_403]]")).await;
    assert_eq!((html.status(), html.header("cf-mitigated")), (403, Some("challenge")));
    assert!(html.header("content-type").unwrap().starts_with("text/html"));
    let page = String::from_utf8(html.body()).unwrap();
    assert!(page.contains("Just a moment...") && page.contains("_cf_chl_opt"));
    // A failing token fails the account's other routes too.
    let limits =
        post(&server, "/rest/rate-limits", "scenario-error_403", &json!({"modelName": "fast"})).await;
    assert_eq!(limits.status(), 403);
    let unknown = post(&server, CHAT, "tok", &payload("[[mock:nope]]")).await;
    assert_eq!(unknown.status(), 400);
    assert!(unknown.json()["error"]["message"].as_str().unwrap().contains("`nope`"));
}

#[tokio::test]
async fn auth_and_browser_headers_are_checked() {
    let server = server().await;
    let unauthenticated = json!({"error": {"code": 16, "message": "Unauthenticated"}});
    let body = payload("hi").to_string();
    let without = |drop: &str| {
        let mut headers = browser("tok");
        headers.retain(|(n, _)| n != drop);
        raw("POST", CHAT, &headers, &body)
    };
    let missing_cookie = exchange(server.addr(), &without("cookie")).await;
    assert_eq!((missing_cookie.status(), missing_cookie.json()), (401, unauthenticated.clone()));
    let bad = post(&server, CHAT, BAD_SSO, &payload("hi")).await;
    assert_eq!((bad.status(), bad.json()), (401, unauthenticated.clone()));
    let mut mismatched = browser("a");
    mismatched[0].1 = "sso=a; sso-rw=b".into();
    assert_eq!(exchange(server.addr(), &raw("POST", CHAT, &mismatched, &body)).await.status(), 401);
    let mut only_sso = browser("a");
    only_sso[0].1 = "sso=a".into();
    assert_eq!(
        exchange(server.addr(), &raw("POST", "/rest/rate-limits", &only_sso, "{}")).await.status(),
        401
    );

    let no_id = exchange(server.addr(), &without("x-xai-request-id")).await;
    assert_eq!(
        (no_id.status(), no_id.json()),
        (400, json!({"error": {"message": "missing x-xai-request-id"}}))
    );
    for header in ["origin", "referer", "user-agent"] {
        assert_eq!(exchange(server.addr(), &without(header)).await.status(), 400, "{header}");
    }
    let not_found = post(&server, "/rest/app-chat/conversations/x", "tok", &json!({})).await;
    assert_eq!(
        (not_found.status(), not_found.json()),
        (404, json!({"error": {"code": 5, "message": "Not Found"}}))
    );
}

#[tokio::test]
async fn chat_payload_is_validated() {
    let server = server().await;
    let check = |body: Value, needle: &'static str| {
        let server = &server;
        async move {
            let response = post(server, CHAT, "tok", &body).await;
            let json = response.json();
            assert_eq!((response.status(), &json["error"]["code"]), (400, &json!(3)), "{body}");
            assert!(json["error"]["message"].as_str().unwrap().contains(needle), "{json}");
        }
    };
    check(json!({"modeId": "fast"}), "message").await;
    check(json!({"message": "  ", "modeId": "fast"}), "empty").await;
    check(json!({"message": "hi"}), "modeId or modelName").await;
    check(json!({"message": "hi", "modeId": "turbo"}), "Model is not found").await;
    check(json!({"message": "hi", "modeId": "fast", "fileAttachments": ["nope"]}), "nope").await;
    let not_json = exchange(server.addr(), &raw("POST", CHAT, &browser("tok"), "{oops")).await;
    assert_eq!(not_json.status(), 400);
}

#[tokio::test]
async fn upload_then_chat_with_the_attachment_on_the_same_account() {
    let server = server().await;
    let png = b"\x89PNG\r\n\x1a\nnot really";
    let upload =
        json!({"fileName": "file.png", "fileMimeType": "image/png", "content": STANDARD.encode(png)});
    let reply = post(&server, "/rest/app-chat/upload-file", "alice", &upload).await;
    assert_eq!(reply.status(), 200);
    let reply = reply.json();
    let (id, uri) = (reply["fileMetadataId"].as_str().unwrap(), reply["fileUri"].as_str().unwrap());
    assert_eq!(id.len(), 36);
    assert!(uri.starts_with("users/") && uri.ends_with(&format!("/{id}/content")));

    let mut body = payload("");
    body["fileAttachments"] = json!([id]);
    let lines = lines(&post(&server, CHAT, "alice", &body).await);
    assert_eq!(response(&lines[1])["userResponse"]["fileAttachments"], json!([id]));
    let other = post(&server, CHAT, "bob", &body).await;
    assert_eq!(other.status(), 400, "another account never uploaded it");

    let served = exchange(server.addr(), &raw("GET", &format!("/{uri}"), &browser("alice"), "")).await;
    assert_eq!((served.status(), served.header("content-type")), (200, Some("image/png")));
    assert_eq!(served.body(), png);

    for bad in [json!({"fileName": "a", "content": ""}), json!({"fileName": "a", "content": "%%%"})] {
        assert_eq!(post(&server, "/rest/app-chat/upload-file", "alice", &bad).await.status(), 400);
    }
}

#[tokio::test]
async fn rate_limits_count_down_per_mode_then_chat_gets_429() {
    let server = server().await;
    let limits = |token: &'static str, mode: &'static str| {
        let server = &server;
        async move {
            post(server, "/rest/rate-limits", token, &json!({"requestKind": "DEFAULT", "modelName": mode}))
                .await
        }
    };
    let fresh = limits("tok", "fast").await;
    assert_eq!(
        fresh.json(),
        json!({"windowSizeSeconds": 72000, "remainingQueries": 20, "totalQueries": 20,
            "lowEffortRateLimits": null, "highEffortRateLimits": null})
    );
    let unknown = limits("tok", "grok-3").await;
    assert_eq!(
        (unknown.status(), unknown.json()),
        (400, json!({"error": {"message": "Model is not found"}}))
    );

    assert_eq!(limits("quota-2-x", "expert").await.json()["remainingQueries"], 2);
    let mut expert = payload("hi");
    expert["modeId"] = json!("expert");
    assert_eq!(post(&server, CHAT, "quota-2-x", &expert).await.status(), 200);
    assert_eq!(limits("quota-2-x", "expert").await.json()["remainingQueries"], 1);
    assert_eq!(limits("quota-2-x", "fast").await.json()["remainingQueries"], 2, "per mode");
    assert_eq!(post(&server, CHAT, "quota-2-x", &expert).await.status(), 200);
    let spent = post(&server, CHAT, "quota-2-x", &expert).await;
    assert_eq!(
        (spent.status(), spent.json()),
        (429, json!({"error": {"code": 8, "message": "Too many requests"}}))
    );
    let zero = limits("quota-2-x", "expert").await.json();
    assert_eq!((&zero["remainingQueries"], &zero["totalQueries"]), (&json!(0), &json!(20)));
}

#[tokio::test]
async fn media_posts_and_livekit_tokens() {
    let server = server().await;
    let post_reply = post(
        &server,
        "/rest/media/post/create",
        "tok",
        &json!({"mediaType": "MEDIA_POST_TYPE_VIDEO", "prompt": "a wave"}),
    )
    .await;
    assert!(post_reply.json()["post"]["id"].as_str().unwrap().starts_with("post-"));
    let no_prompt =
        post(&server, "/rest/media/post/create", "tok", &json!({"mediaType": "MEDIA_POST_TYPE_IMAGE"})).await;
    assert_eq!(no_prompt.status(), 400);

    let session = json!({"voice": "ara", "personality": "assistant"}).to_string();
    let token = post(
        &server,
        "/rest/livekit/tokens",
        "tok",
        &json!({"sessionPayload": session, "requestAgentDispatch": false}),
    )
    .await;
    let token = token.json();
    assert!(token["token"].as_str().unwrap().starts_with("lk-"));
    assert_eq!(token["livekitUrl"], "wss://livekit.grok.com");
    let object =
        post(&server, "/rest/livekit/tokens", "tok", &json!({"sessionPayload": {"voice": "ara"}})).await;
    assert_eq!(object.status(), 400);
}

#[tokio::test]
async fn assets_need_the_cookie_and_vary_by_path() {
    let server = server().await;
    let get = |path: &str, headers: Vec<(String, String)>, method: &str| raw(method, path, &headers, "");
    let a = exchange(server.addr(), &get("/users/u/generated/a/image.jpg", browser("tok"), "GET")).await;
    assert_eq!((a.status(), a.header("content-type")), (200, Some("image/jpeg")));
    let bytes = a.body();
    assert!(bytes.starts_with(&[0xFF, 0xD8]) && bytes.ends_with(&[0xFF, 0xD9]));
    let again =
        exchange(server.addr(), &get("/users/u/generated/a/image.jpg", browser("other"), "GET")).await;
    assert_eq!(again.body(), bytes, "stable");
    let b = exchange(server.addr(), &get("/users/u/generated/b/image.jpg", browser("tok"), "GET")).await;
    assert_ne!(b.body(), bytes);
    for (path, mime) in [("/users/u/x/image.png", "image/png"), ("/users/u/x/image.webp", "image/webp")] {
        let r = exchange(server.addr(), &get(path, browser("tok"), "GET")).await;
        assert_eq!((r.status(), r.header("content-type")), (200, Some(mime)));
    }

    let mut conn = Conn::open(server.addr()).await;
    conn.send(&get("/users/u/generated/a/image.jpg", browser("tok"), "HEAD")).await;
    let head = conn.head().await;
    assert_eq!((head.status, head.header("content-type")), (200, Some("image/jpeg")));
    assert_eq!(head.header("content-length"), Some(bytes.len().to_string().as_str()));
    assert!(conn.is_quiet_for(Duration::from_millis(100)).await, "no body after HEAD");

    let anonymous = exchange(server.addr(), &get("/users/u/generated/a/image.jpg", Vec::new(), "GET")).await;
    assert_eq!(anonymous.status(), 403);
    let bad = exchange(server.addr(), &get("/users/u/generated/a/image.jpg", browser(BAD_SSO), "GET")).await;
    assert_eq!(bad.status(), 403);
    for path in ["/images/a.jpg", "/users/u/a/file.txt", "/users/u/never/content"] {
        assert_eq!(exchange(server.addr(), &get(path, browser("tok"), "GET")).await.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn every_scenario_name_is_listed() {
    let names: Vec<&str> = grok_scenarios().collect();
    assert_eq!(names.len(), 21);
    assert!(names.contains(&"image_card") && names.contains(&"inband_error_first"));
}
