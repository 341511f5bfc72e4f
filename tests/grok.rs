//! The grok channel end to end: the real gateway in front of the grok mock (web API and asset
//! host on one port), driven over HTTP as OpenAI and Anthropic clients drive it.

mod common;

use base64::Engine;
use common::*;
use orchids2api::config::{ApiKeySeed, Config};
use orchids2api::mock::{MockKind, MockServer, RecordedRequest};
use orchids2api::secret::Secret;
use orchids2api::server::Server;
use serde_json::{Value, json};
use std::time::Duration;

struct Grok {
    gateway: Server,
    mock: MockServer,
    _data: TempDir,
}

/// A gateway whose grok accounts have these SSO tokens (in priority order: the first is tried
/// first), pointed at a grok mock.
async fn start(tokens: &[&str]) -> Grok {
    start_with(tokens, |_| {}).await
}

async fn start_with(tokens: &[&str], tune: impl FnOnce(&mut Config)) -> Grok {
    let mock = MockServer::start(MockKind::Grok).await.expect("grok mock");
    let data = TempDir::new("grok");
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.0.clone(),
        request_timeout_s: 10,
        stream_idle_timeout_s: 5,
        retry_delay_ms: 1,
        dedup_window_ms: 0,
        grok_base_url: mock.base_url(),
        grok_assets_url: mock.base_url(),
        grok_quota_interval_s: 0,
        api_keys: vec![ApiKeySeed { name: "test".into(), key: Secret::new(KEY), models: vec![] }],
        ..Config::default()
    };
    for (i, token) in tokens.iter().enumerate() {
        let mut seed = account("grok", &format!("grok-{i}"), "", token);
        seed.base_url = None;
        seed.priority = i as u32;
        config.accounts.push(seed);
    }
    tune(&mut config);
    let gateway = Server::start(&config).await.expect("gateway");
    Grok { gateway, mock, _data: data }
}

impl Grok {
    fn addr(&self) -> std::net::SocketAddr {
        self.gateway.addr()
    }

    /// The chat calls the mock received.
    fn chats(&self) -> Vec<RecordedRequest> {
        self.mock.requests().into_iter().filter(|r| r.path == "/rest/app-chat/conversations/new").collect()
    }
}

fn user(text: &str) -> Value {
    json!([{"role": "user", "content": text}])
}

#[tokio::test]
async fn openai_clients_get_live_tokens_with_reasoning_apart() {
    let g = start(&["tok-a"]).await;
    let body =
        json!({"model": "grok-4.20-expert", "stream": true, "messages": user("[[mock:reasoning]] why?")});
    let (status, _, frames) =
        stream(g.addr(), "/v1/chat/completions", &[("authorization", &bearer())], &body).await;
    assert_eq!(status, 200);
    let deltas: Vec<Value> = frames
        .iter()
        .filter(|f| f.data != "[DONE]" && !f.comment)
        .map(|f| f.json()["choices"][0]["delta"].clone())
        .collect();
    let reasoning: Vec<&str> = deltas.iter().filter_map(|d| d["reasoning_content"].as_str()).collect();
    let content: Vec<&str> =
        deltas.iter().filter_map(|d| d["content"].as_str()).filter(|c| !c.is_empty()).collect();
    assert_eq!(reasoning.concat(), "Thinking about it...");
    assert_eq!(content, vec!["The answer", " is", " 42."], "each upstream token is its own chunk");
    assert_eq!(frames.last().unwrap().data, "[DONE]");
    // What grok received: the browser's cookie pair, a request id, the mode of the model.
    let chat = &g.chats()[0];
    assert_eq!(chat.header("cookie"), Some("sso=tok-a; sso-rw=tok-a"));
    assert!(chat.header("x-xai-request-id").is_some_and(|id| id.len() == 36));
    // One consistent desktop Chrome; the chat goes without the Sentry baggage, like the web app's.
    assert!(chat.header("user-agent").unwrap().contains("Chrome/148."));
    assert!(chat.header("sec-ch-ua").unwrap().contains(r#""Google Chrome";v="148""#));
    assert_eq!(chat.header("baggage"), None);
    assert_eq!(chat.json()["modeId"], "expert");
    assert_eq!(chat.json()["temporary"], true);
    assert_eq!(chat.json()["message"], "[[mock:reasoning]] why?");
}

#[tokio::test]
async fn anthropic_clients_get_a_thinking_block_then_text() {
    let g = start(&["tok-a"]).await;
    let body = json!({"model": "grok-4.20-expert", "max_tokens": 100, "stream": true, "messages": user("[[mock:reasoning]] why?")});
    let headers = [("x-api-key", KEY), ("anthropic-version", "2023-06-01")];
    let (status, _, frames) = stream(g.addr(), "/v1/messages", &headers, &body).await;
    assert_eq!(status, 200);
    let events: Vec<String> = frames.iter().filter_map(|f| f.event.clone()).filter(|e| e != "ping").collect();
    let mut deduped = events.clone();
    deduped.dedup();
    assert_eq!(
        deduped,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let starts: Vec<String> = frames
        .iter()
        .filter(|f| f.event.as_deref() == Some("content_block_start"))
        .map(|f| f.json()["content_block"]["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(starts, ["thinking", "text"]);
    assert_eq!(anthropic_text(&frames), "The answer is 42.");
    let stop = frames.iter().find(|f| f.event.as_deref() == Some("message_delta")).unwrap().json();
    assert_eq!(stop["delta"]["stop_reason"], "end_turn");
}

#[tokio::test]
async fn markup_is_cleaned_and_the_prompt_echo_never_shows() {
    let g = start(&["tok-a"]).await;
    let reply = post(
        g.addr(),
        "/v1/chat/completions",
        &json!({"model": "grok-4.20-fast", "messages": user("[[mock:markup]] weather?")}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let content = reply.json()["choices"][0]["message"]["content"].as_str().unwrap().to_string();
    assert_eq!(content, "Searching.\n[WebSearch] weather today\n Result: sunny.");
    let reply = post(
        g.addr(),
        "/v1/chat/completions",
        &json!({"model": "grok-4.20-fast", "messages": user("[[mock:text]] hi")}),
    )
    .await;
    assert_eq!(reply.json()["choices"][0]["message"]["content"], "Hello from mock grok.");
    assert!(!reply.text().contains("[[mock:text]]"), "userResponse is not the answer");

    let hidden = start_with(&["tok-a"], |c| c.grok_tool_cards = orchids2api::config::ToolCards::Hide).await;
    let reply = post(
        hidden.addr(),
        "/v1/chat/completions",
        &json!({"model": "grok-4.20-fast", "messages": user("[[mock:markup]] weather?")}),
    )
    .await;
    assert_eq!(reply.json()["choices"][0]["message"]["content"], "Searching. Result: sunny.");
}

fn weather_tool() -> Value {
    json!({"type": "function", "function": {"name": "weather", "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}})
}

#[tokio::test]
async fn tool_calls_are_emulated_across_a_two_turn_loop() {
    let g = start(&["tok-a"]).await;
    let first = user(r#"[[mock:call weather {"city":"Paris"}]] weather in Paris?"#);
    let body =
        json!({"model": "grok-4.20-fast", "stream": true, "tools": [weather_tool()], "messages": first});
    let (status, _, frames) =
        stream(g.addr(), "/v1/chat/completions", &[("authorization", &bearer())], &body).await;
    assert_eq!(status, 200);
    assert_eq!(openai_text(&frames), "I'll check.\n");
    let chunks: Vec<Value> =
        frames.iter().filter(|f| f.data != "[DONE]" && !f.comment).map(Frame::json).collect();
    let calls: Vec<&Value> =
        chunks.iter().filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0)).collect();
    let id = calls[0]["id"].as_str().unwrap().to_string();
    assert_eq!(calls[0]["function"]["name"], "weather");
    let args: String = calls.iter().filter_map(|c| c["function"]["arguments"].as_str()).collect();
    assert_eq!(serde_json::from_str::<Value>(&args).unwrap(), json!({"city": "Paris"}));
    let finish = chunks.iter().find_map(|c| c["choices"][0]["finish_reason"].as_str()).unwrap();
    assert_eq!(finish, "tool_calls");
    let prompt = g.chats()[0].json()["message"].as_str().unwrap().to_string();
    assert!(
        prompt.starts_with("# Available Tools")
            && prompt.contains("### weather\nWeather of a city\nParameters: ")
    );

    // Turn two: the result goes back; the model's answer uses it.
    let second = json!([
        {"role": "user", "content": r#"[[mock:call weather {"city":"Paris"}]] weather in Paris?"#},
        {"role": "assistant", "content": null, "tool_calls": [{"id": id, "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": id, "content": "22C and sunny"}
    ]);
    let reply = post(
        g.addr(),
        "/v1/chat/completions",
        &json!({"model": "grok-4.20-fast", "tools": [weather_tool()], "messages": second}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["choices"][0]["message"]["content"], "Tool said: 22C and sunny");
    assert_eq!(reply.json()["choices"][0]["finish_reason"], "stop");
    let prompt = g.chats()[1].json()["message"].as_str().unwrap().to_string();
    assert!(prompt.contains(&format!(
        "assistant: <tool_call>{{\"name\":\"weather\",\"arguments\":{{\"city\":\"Paris\"}}}}</tool_call>\n\n<tool_result id=\"{id}\" name=\"weather\">\n22C and sunny\n</tool_result>"
    )));
}

#[tokio::test]
async fn anthropic_tool_use_blocks_and_invalid_calls_are_dropped() {
    let g = start(&["tok-a"]).await;
    let tools = json!([{"name": "weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]);
    let ask = |marker: &str| json!({"model": "grok-4.20-fast", "max_tokens": 100, "tools": tools, "messages": user(&format!("{marker} go"))});
    let reply =
        post_anthropic(g.addr(), "/v1/messages", &ask(r#"[[mock:call weather {"city":"Rome"}]]"#)).await;
    let content = reply.json()["content"].clone();
    assert_eq!(content[0], json!({"type": "text", "text": "I'll check.\n"}));
    assert_eq!(content[1]["type"], "tool_use");
    assert_eq!(content[1]["input"], json!({"city": "Rome"}));
    assert_eq!(reply.json()["stop_reason"], "tool_use");
    // A call that misses a required argument, or names an unknown tool, is not passed on.
    for bad in [r#"[[mock:call weather {"town":"Rome"}]]"#, r#"[[mock:call rm_rf {}]]"#] {
        let reply = post_anthropic(g.addr(), "/v1/messages", &ask(bad)).await;
        assert_eq!(reply.json()["content"], json!([{"type": "text", "text": "I'll check.\n"}]), "{bad}");
        assert_eq!(reply.json()["stop_reason"], "end_turn");
    }
}

async fn get_bytes(addr: std::net::SocketAddr, url: &str) -> Reply {
    send(addr, "GET", url, &[], "").await
}

#[tokio::test]
async fn generated_images_come_from_the_local_cache_as_urls_or_base64() {
    let g = start(&["tok-a"]).await;
    let reply =
        post(g.addr(), "/v1/images/generations", &json!({"prompt": "a red fox", "n": 2, "size": "1280x720"}))
            .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let data = reply.json()["data"].as_array().unwrap().clone();
    assert_eq!(data.len(), 2);
    let urls: Vec<String> = data.iter().map(|d| d["url"].as_str().unwrap().to_string()).collect();
    assert_ne!(urls[0], urls[1]);
    for url in &urls {
        assert!(url.starts_with("/v1/files/image/") && url.ends_with(".jpg"), "{url}");
        let file = get_bytes(g.addr(), url).await;
        assert_eq!(file.status, 200);
        assert_eq!(file.header("content-type"), Some("image/jpeg"));
        assert_eq!(&file.body[..3], b"\xff\xd8\xff", "a JPEG");
    }
    // The upstream was asked for images with the ratio of the size; finals, never previews, were
    // fetched, with the cookie.
    let chat = g.chats()[0].json();
    assert_eq!(chat["toolOverrides"]["imageGen"], true);
    assert_eq!(
        chat["responseMetadata"]["modelConfigOverride"]["modelMap"]["imageGenModelConfig"]["aspectRatio"],
        "16:9"
    );
    let assets: Vec<RecordedRequest> =
        g.mock.requests().into_iter().filter(|r| r.path.starts_with("/users/")).collect();
    assert_eq!(assets.len(), 2);
    assert!(
        assets
            .iter()
            .all(|a| !a.path.contains("-part-0") && a.header("cookie") == Some("sso=tok-a; sso-rw=tok-a"))
    );

    let reply = post(
        g.addr(),
        "/grok/v1/images/generations",
        &json!({"prompt": "a red fox", "response_format": "b64_json"}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let data = reply.json()["data"].as_array().unwrap().clone();
    assert_eq!(data.len(), 1, "n defaults to 1");
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(data[0]["b64_json"].as_str().unwrap()).unwrap();
    assert_eq!(&bytes[..3], b"\xff\xd8\xff");

    for (body, param) in [
        (json!({"n": 1}), "prompt"),
        (json!({"prompt": "x", "n": 11}), "n"),
        (json!({"prompt": "x", "size": "7x7"}), "size"),
        (json!({"prompt": "x", "model": "grok-4.20-fast"}), "model"),
    ] {
        let reply = post(g.addr(), "/v1/images/generations", &body).await;
        assert_eq!(reply.status, 400, "{body}");
        assert_eq!(reply.json()["error"]["param"], param);
    }
}

#[tokio::test]
async fn streamed_image_generation_sends_progress_then_each_image() {
    let g = start(&["tok-a"]).await;
    let body = json!({"prompt": "a fox", "n": 2, "stream": true});
    let (status, _, frames) =
        stream(g.addr(), "/v1/images/generations", &[("authorization", &bearer())], &body).await;
    assert_eq!(status, 200);
    let names: Vec<Option<&str>> = frames.iter().map(|f| f.event.as_deref()).collect();
    let partial = Some("image_generation.partial_image");
    let completed = Some("image_generation.completed");
    assert_eq!(names, [partial, partial, completed, completed, None]);
    let progress: Vec<(u64, u64)> = frames[..2]
        .iter()
        .map(|f| (f.json()["index"].as_u64().unwrap(), f.json()["progress"].as_u64().unwrap()))
        .collect();
    assert_eq!(progress, [(0, 50), (1, 50)]);
    assert_eq!(frames[3].json()["index"], 1);
    assert!(frames[2].json()["url"].as_str().unwrap().starts_with("/v1/files/image/"));
    assert_eq!(frames[4].data, "[DONE]");
}

#[tokio::test]
async fn image_edits_upload_the_images_on_the_account_that_edits() {
    let g = start(&["tok-a"]).await;
    let png = b"\x89PNG\r\n\x1a\nnot really a png but typed as one";
    let boundary = "XyZ";
    let mut form = Vec::new();
    for (name, value) in [("prompt", "make it blue"), ("n", "1")] {
        form.extend_from_slice(
            format!("--{boundary}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    form.extend_from_slice(format!("--{boundary}\r\ncontent-disposition: form-data; name=\"image\"; filename=\"in.png\"\r\ncontent-type: image/png\r\n\r\n").as_bytes());
    form.extend_from_slice(png);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let headers =
        [("authorization", bearer()), ("content-type", format!("multipart/form-data; boundary={boundary}"))];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let reply = send(g.addr(), "POST", "/v1/images/edits", &headers, form).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["data"].as_array().unwrap().len(), 1);
    let requests = g.mock.requests();
    let upload = requests.iter().find(|r| r.path == "/rest/app-chat/upload-file").expect("uploaded");
    assert_eq!(upload.json()["fileMimeType"], "image/png");
    assert_eq!(
        base64::engine::general_purpose::STANDARD.decode(upload.json()["content"].as_str().unwrap()).unwrap(),
        png
    );
    let chat = g.chats()[0].json();
    assert_eq!(chat["modelName"], "imagine-image-edit");
    let refs = &chat["responseMetadata"]["modelConfigOverride"]["modelMap"]["imageEditModelConfig"]["imageReferences"];
    assert!(refs[0].as_str().unwrap().starts_with(&format!("{}/users/", g.mock.base_url())));
    // Not a multipart body, or no image: the client hears why.
    let reply = post(g.addr(), "/v1/images/edits", &json!({"prompt": "x"})).await;
    assert_eq!(reply.status, 400);
}

#[tokio::test]
async fn chat_with_an_image_model_answers_markdown_with_local_links() {
    let g = start(&["tok-a"]).await;
    let reply = post(
        g.addr(),
        "/v1/chat/completions",
        &json!({"model": "grok-imagine-image-lite", "messages": user("a cat")}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let content = reply.json()["choices"][0]["message"]["content"].as_str().unwrap().to_string();
    let links: Vec<&str> = content.matches("![image](/v1/files/image/").collect();
    assert_eq!(links.len(), 2, "{content}");
    // The newer card pipeline gives the same.
    let reply = post(
        g.addr(),
        "/v1/chat/completions",
        &json!({"model": "grok-imagine-image-lite", "messages": user("[[mock:image_card]] a cat")}),
    )
    .await;
    let content = reply.json()["choices"][0]["message"]["content"].as_str().unwrap().to_string();
    assert_eq!(content.matches("![image](/v1/files/image/").count(), 2, "{content}");
    assert!(!content.contains("grok:render"));
}

#[tokio::test]
async fn video_progress_streams_and_the_video_is_cached() {
    let g = start_with(&["tok-a"], |c| c.public_base_url = Some("https://gw.example.com".into())).await;
    let body = json!({"model": "grok-imagine-video", "stream": true, "messages": user("a wave")});
    let (status, _, frames) =
        stream(g.addr(), "/v1/chat/completions", &[("authorization", &bearer())], &body).await;
    assert_eq!(status, 200);
    let text = openai_text(&frames);
    assert!(text.starts_with("Generating video… 1%\nGenerating video… 5%\n"), "{text}");
    assert!(text.contains("Generating video… 95%\n"));
    let link = text.split("[video](").nth(1).unwrap().split(')').next().unwrap();
    assert!(link.starts_with("https://gw.example.com/v1/files/video/") && link.ends_with(".mp4"), "{link}");
    let file = get_bytes(g.addr(), link.trim_start_matches("https://gw.example.com")).await;
    assert_eq!((file.status, file.header("content-type")), (200, Some("video/mp4")));
    assert!(text.contains("![image](https://gw.example.com/v1/files/image/"), "the thumbnail too: {text}");
    let posts: Vec<RecordedRequest> =
        g.mock.requests().into_iter().filter(|r| r.path == "/rest/media/post/create").collect();
    assert_eq!(posts[0].json()["mediaType"], "MEDIA_POST_TYPE_VIDEO");
    assert_eq!(g.chats()[0].json()["toolOverrides"]["videoGen"], true);
}

#[tokio::test]
async fn failures_switch_accounts_and_a_challenge_is_not_a_bad_account() {
    for failing in [
        "scenario-error_401",
        "scenario-error_403",
        "scenario-error_429",
        "scenario-html_403",
        "scenario-inband_error_first",
        "scenario-empty",
    ] {
        let g = start(&[failing, "tok-good"]).await;
        let reply = post(
            g.addr(),
            "/v1/chat/completions",
            &json!({"model": "grok-4.20-fast", "messages": user("hi")}),
        )
        .await;
        assert_eq!(reply.status, 200, "{failing}: {}", reply.text());
        assert_eq!(reply.json()["choices"][0]["message"]["content"], "Hello from mock grok.");
        let cookies: Vec<String> =
            g.chats().iter().map(|c| c.header("cookie").unwrap().to_string()).collect();
        assert_eq!(cookies.len(), 2, "{failing}");
        assert!(cookies[0].contains(failing) && cookies[1].contains("tok-good"));
        let bad = g
            .gateway
            .live()
            .pool
            .accounts(orchids2api::channels::ChannelKind::Grok)
            .into_iter()
            .find(|(a, _)| a.name == "grok-0")
            .unwrap();
        let reason = bad.1.health().reason.map(|r| r.as_str());
        let expected = match failing {
            "scenario-html_403" => Some("challenge"),
            "scenario-error_429" | "scenario-inband_error_first" => Some("rate_limited"),
            "scenario-error_403" => Some("forbidden"),
            "scenario-error_401" => Some("auth_failed"),
            // An empty answer cools an account only from its third in a row.
            _ => None,
        };
        assert_eq!(reason, expected, "{failing}");
    }
}

#[tokio::test]
async fn a_stale_model_is_the_clients_error_not_the_accounts() {
    let g = start(&["tok-a"]).await;
    let reply = post(
        g.addr(),
        "/v1/chat/completions",
        &json!({"model": "grok-4.20-fast", "messages": user("[[mock:model_not_found]] hi")}),
    )
    .await;
    assert_eq!(reply.status, 404, "{}", reply.text());
    assert_eq!(reply.json()["error"]["message"], "Model is not found");
    let (_, live) = &g.gateway.live().pool.accounts(orchids2api::channels::ChannelKind::Grok)[0];
    assert_eq!(live.health().reason, None, "no cooldown");
    assert_eq!(g.chats().len(), 1, "not retried on other accounts");
}

#[tokio::test]
async fn accounts_without_quota_for_the_mode_are_skipped() {
    let g = start_with(&["quota-0-empty", "tok-full"], |c| c.grok_quota_interval_s = 3600).await;
    // The reader's first round runs at start.
    let pool = g.gateway.live().pool.clone();
    let read = async {
        loop {
            let accounts = pool.accounts(orchids2api::channels::ChannelKind::Grok);
            if accounts.iter().all(|(_, live)| !live.scoped_quotas().is_empty()) {
                return accounts;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let accounts = tokio::time::timeout(Duration::from_secs(5), read).await.expect("quotas read");
    let empty = accounts.iter().find(|(a, _)| a.name == "grok-0").unwrap().1.scoped_quotas();
    assert_eq!((empty[0].scope.as_str(), empty[0].remaining, empty[0].total), ("fast", 0, Some(20)));
    for _ in 0..3 {
        let reply = post(
            g.addr(),
            "/v1/chat/completions",
            &json!({"model": "grok-4.20-fast", "messages": user("hi")}),
        )
        .await;
        assert_eq!(reply.status, 200);
    }
    let chats = g.chats();
    assert_eq!(chats.len(), 3);
    assert!(
        chats.iter().all(|c| c.header("cookie").unwrap().contains("tok-full")),
        "the empty account is skipped"
    );
    // Another mode is another quota: the empty account's `expert` was never read, so it is tried
    // (first by priority); its 429 moves the request to the other account.
    let reply =
        post(g.addr(), "/v1/chat/completions", &json!({"model": "grok-4.20-expert", "messages": user("hi")}))
            .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let cookies: Vec<String> =
        g.chats()[3..].iter().map(|c| c.header("cookie").unwrap().to_string()).collect();
    assert!(
        cookies.len() == 2 && cookies[0].contains("quota-0-empty") && cookies[1].contains("tok-full"),
        "{cookies:?}"
    );
}

#[tokio::test]
async fn a_cut_stream_after_content_ends_with_an_error_event() {
    let g = start(&["tok-a"]).await;
    let body = json!({"model": "grok-4.20-fast", "stream": true, "messages": user("[[mock:cut]] hi")});
    let (status, _, frames) =
        stream(g.addr(), "/v1/chat/completions", &[("authorization", &bearer())], &body).await;
    assert_eq!(status, 200);
    assert_eq!(openai_text(&frames), "Hello from");
    let error = frames.iter().find(|f| f.data.contains("\"error\"")).expect("an error event");
    assert!(error.json()["error"]["message"].as_str().is_some());
}

#[tokio::test]
async fn client_image_urls_are_fetched_without_grok_cookies() {
    let foreign = MockServer::start(MockKind::Grok).await.unwrap();
    let g = start_with(&["tok-a"], |c| c.media_fetch_allow_private = true).await;
    let url = format!("{}/users/someone/photo.png", foreign.base_url());
    let messages = json!([{"role": "user", "content": [{"type": "text", "text": "what is this?"}, {"type": "image_url", "image_url": {"url": url}}]}]);
    let reply =
        post(g.addr(), "/v1/chat/completions", &json!({"model": "grok-4.20-fast", "messages": messages}))
            .await;
    // The foreign host refuses a request without its own cookie: the gateway never lends it grok's.
    let fetched = foreign.requests();
    assert_eq!(fetched.len(), 1);
    assert_eq!(fetched[0].header("cookie"), None);
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(g.chats().is_empty());

    // Without the lab switch, loopback targets are refused before any connection.
    let strict = start(&["tok-a"]).await;
    let reply = post(
        strict.addr(),
        "/v1/chat/completions",
        &json!({"model": "grok-4.20-fast", "messages": messages}),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert_eq!(foreign.requests().len(), 1, "not fetched again");

    // An inline image is uploaded with the account that chats, and attached.
    let inline = json!([{"role": "user", "content": [{"type": "text", "text": "[[mock:echo]] see"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}]);
    let reply =
        post(strict.addr(), "/v1/chat/completions", &json!({"model": "grok-4.20-fast", "messages": inline}))
            .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let chat = strict.chats()[0].json();
    assert_eq!(chat["fileAttachments"].as_array().unwrap().len(), 1);
}

const ADMIN: &str = "admin-secret-token";

async fn admin(g: &Grok, method: &str, path: &str, body: Value) -> Reply {
    let auth = format!("Bearer {ADMIN}");
    send(
        g.addr(),
        method,
        path,
        &[("authorization", &auth), ("content-type", "application/json")],
        body.to_string(),
    )
    .await
}

#[tokio::test]
async fn admin_voice_token_check_and_imagine_over_sse() {
    let g = start_with(&["tok-a"], |c| c.admin_token = Some(Secret::new(ADMIN))).await;
    let voice = admin(&g, "GET", "/api/grok/voice/token?voice=eve&speed=1.5", Value::Null).await;
    assert_eq!(voice.status, 200, "{}", voice.text());
    assert!(voice.json()["token"].as_str().unwrap().starts_with("lk-"));
    assert_eq!(voice.json()["url"], "wss://livekit.grok.com");
    let livekit = g.mock.requests().into_iter().find(|r| r.path == "/rest/livekit/tokens").unwrap();
    assert!(livekit.header("baggage").is_some_and(|b| b.starts_with("sentry-environment=production")));
    let sent = livekit.json();
    let session: Value = serde_json::from_str(sent["sessionPayload"].as_str().unwrap()).unwrap();
    assert_eq!((session["voice"].as_str(), session["playback_speed"].as_f64()), (Some("eve"), Some(1.5)));
    assert_eq!(admin(&g, "GET", "/api/grok/voice/token?speed=-1", Value::Null).await.status, 400);

    let accounts = admin(&g, "GET", "/api/accounts", Value::Null).await.json();
    let id =
        accounts["data"][0]["id"].as_u64().or_else(|| accounts[0]["id"].as_u64()).expect("an account id");
    let check = admin(&g, "POST", &format!("/api/accounts/{id}/check"), json!({})).await;
    assert_eq!(check.json()["ok"], true, "{}", check.text());

    let started = admin(
        &g,
        "POST",
        "/api/grok/imagine/start",
        json!({"prompt": "a cat on mars", "aspect_ratio": "16:9", "max_images": 3}),
    )
    .await;
    assert_eq!(started.status, 200, "{}", started.text());
    let task = started.json()["task_id"].as_str().unwrap().to_string();
    let auth = format!("Bearer {ADMIN}");
    let response =
        open(g.addr(), "GET", &format!("/api/grok/imagine/{task}/sse"), &[("authorization", &auth)], "")
            .await;
    assert_eq!(response.status(), 200);
    let frames: Vec<Value> = sse_frames(response).await.iter().map(Frame::json).collect();
    let kinds: Vec<&str> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["status", "image", "image", "image", "status"]);
    assert_eq!(frames[4]["status"], "completed");
    assert_eq!(frames[4]["images"], 3);
    let image = frames[1]["url"].as_str().unwrap();
    assert_eq!(get_bytes(g.addr(), image).await.status, 200);
    let ratios: Vec<Value> = g.chats().iter().map(|c| c.json()["responseMetadata"]["modelConfigOverride"]["modelMap"]["imageGenModelConfig"]["aspectRatio"].clone()).collect();
    assert!(ratios.iter().all(|r| r == "16:9"), "{ratios:?}");
    assert_eq!(admin(&g, "GET", "/api/grok/imagine/nope/sse", Value::Null).await.status, 404);
    for bad in [
        json!({"prompt": " "}),
        json!({"prompt": "x", "max_images": 0}),
        json!({"prompt": "x", "max_seconds": 100000}),
        json!({"prompt": "x", "aspect_ratio": "5:4"}),
    ] {
        assert_eq!(admin(&g, "POST", "/api/grok/imagine/start", bad.clone()).await.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn imagine_over_a_websocket_can_be_pinged_and_stopped() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message as Ws;
    let g = start_with(&["tok-a"], |c| c.admin_token = Some(Secret::new(ADMIN))).await;
    let started = admin(
        &g,
        "POST",
        "/api/grok/imagine/start",
        json!({"prompt": "waves", "max_images": 100, "max_seconds": 30}),
    )
    .await;
    let task = started.json()["task_id"].as_str().unwrap().to_string();
    let tcp = tokio::net::TcpStream::connect(g.addr()).await.unwrap();
    let mut request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("ws://{}/api/grok/imagine/{task}/ws", g.addr()),
    )
    .unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {ADMIN}").parse().unwrap());
    let (mut socket, response) = tokio_tungstenite::client_async(request, tcp).await.expect("handshake");
    assert_eq!(response.status(), 101);
    assert_eq!(next(&mut socket).await.unwrap()["status"], "running");
    assert_eq!(next(&mut socket).await.unwrap()["type"], "image");
    socket.send(Ws::text(r#"{"type":"ping"}"#)).await.unwrap();
    socket.send(Ws::text(r#"{"type":"dance"}"#)).await.unwrap();
    socket.send(Ws::text(r#"{"type":"stop"}"#)).await.unwrap();
    let mut seen = Vec::new();
    while let Some(frame) = next(&mut socket).await {
        seen.push(frame);
    }
    assert!(seen.iter().any(|f| f["type"] == "pong"), "{seen:?}");
    assert!(seen.iter().any(|f| f["code"] == "unknown_command"), "{seen:?}");
    let last = seen.last().unwrap();
    assert_eq!(
        (last["type"].as_str(), last["status"].as_str()),
        (Some("status"), Some("stopped")),
        "{seen:?}"
    );
    assert!(last["images"].as_u64().unwrap() < 100);
}

/// The next text frame of a socket as JSON; `None` once it closes.
async fn next(socket: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) -> Option<Value> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message as Ws;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("a frame in time") {
            Some(Ok(Ws::Text(t))) => return Some(serde_json::from_str(t.as_str()).unwrap()),
            Some(Ok(Ws::Close(_))) | None => return None,
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("{e}"),
        }
    }
}

#[tokio::test]
async fn a_client_that_leaves_cancels_the_grok_call() {
    let g = start(&["tok-a"]).await;
    let body = json!({"model": "grok-4.20-fast", "stream": true, "messages": user("[[mock:silence]] hi")});
    let auth = bearer();
    let headers = [("authorization", auth.as_str())];
    let request = open(g.addr(), "POST", "/v1/chat/completions", &headers, body.to_string());
    // The gateway waits for grok's first token; the client gives up first.
    let _ = tokio::time::timeout(Duration::from_millis(300), request).await;
    assert_eq!(g.chats().len(), 1);
    // Well inside the gateway's idle timeout (5 s here), which would also end it.
    assert!(g.mock.wait_disconnect(0, Duration::from_secs(2)).await, "the upstream request was abandoned");
}

#[tokio::test]
async fn quota_is_read_again_after_answers_only_when_it_may_run_out() {
    let g = start(&["tok-plenty"]).await;
    let rate_reads = |token: &str| {
        g.mock
            .requests()
            .iter()
            .filter(|r| {
                r.path == "/rest/rate-limits" && r.header("cookie").is_some_and(|c| c.contains(token))
            })
            .count()
    };
    let settle = || tokio::time::sleep(Duration::from_millis(300));
    for _ in 0..3 {
        let reply = post(
            g.addr(),
            "/v1/chat/completions",
            &json!({"model": "grok-4.20-fast", "messages": user("hi")}),
        )
        .await;
        assert_eq!(reply.status, 200);
        settle().await;
    }
    assert_eq!(rate_reads("tok-plenty"), 1, "a fresh reading with plenty left is not renewed");
    // The low account (4 left) is read after each of its answers.
    let g2 = start(&["quota-4-low"]).await;
    for _ in 0..2 {
        assert_eq!(
            post(
                g2.addr(),
                "/v1/chat/completions",
                &json!({"model": "grok-4.20-fast", "messages": user("hi")})
            )
            .await
            .status,
            200
        );
        settle().await;
    }
    let reads = g2.mock.requests().iter().filter(|r| r.path == "/rest/rate-limits").count();
    assert_eq!(reads, 2);
    let (_, live) = &g2.gateway.live().pool.accounts(orchids2api::channels::ChannelKind::Grok)[0];
    assert_eq!(live.scoped_quotas()[0].remaining, 2);
}
