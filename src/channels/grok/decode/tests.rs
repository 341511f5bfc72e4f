//! The decoder against the fact sheet's lines (§3.2, §3.7, §8.2).

use super::*;
use crate::ir::RawJson;

const ASSETS: &str = "https://assets.grok.com";

fn decode_with(lines: &[&str], reasoning: bool, tools: &[Tool]) -> Vec<Item> {
    let mut d = Decoder::new(Options {
        reasoning,
        tool_cards: ToolCards::Lines,
        tools,
        tool_choice: None,
        assets_url: ASSETS,
        input_tokens: 3,
        video: false,
    });
    let mut out = VecDeque::new();
    for line in lines {
        d.line(line.as_bytes(), &mut out);
    }
    d.end(!lines.is_empty(), &mut out);
    out.into_iter().collect()
}

fn decode(lines: &[&str]) -> Vec<Item> {
    decode_with(lines, true, &[])
}

fn texts(items: &[Item]) -> (String, String) {
    let (mut answer, mut thinking) = (String::new(), String::new());
    for item in items {
        match item {
            Item::Event(Event::Text(t)) => answer.push_str(t.as_str()),
            Item::Event(Event::Thinking(t)) => thinking.push_str(t.as_str()),
            _ => {}
        }
    }
    (answer, thinking)
}

fn error_kind(items: &[Item]) -> Option<ErrorKind> {
    items.iter().find_map(|i| match i {
        Item::Event(Event::Error(e)) => Some(e.kind()),
        _ => None,
    })
}

const TYPICAL: [&str; 9] = [
    r#"{"result":{"conversation":{"conversationId":"519dce3f","title":"New conversation","temporary":true}}}"#,
    r#"{"result":{"response":{"userResponse":{"responseId":"569f","message":"the prompt we sent","sender":"human"},"isThinking":false,"isSoftStop":false,"responseId":"569f"}}}"#,
    r#"{"result":{"response":{"llmInfo":{"modelHash":"abc"},"responseId":"r1"}}}"#,
    r#"{"result":{"response":{"token":"Thinking","isThinking":true,"messageTag":"header","responseId":"r1"}}}"#,
    r#"{"result":{"response":{"token":" about ","isThinking":true,"responseId":"r1"}}}"#,
    r#"{"result":{"response":{"token":"po","isThinking":false,"messageTag":"final","responseId":"r1"}}}"#,
    r#"{"result":{"response":{"token":"ng","isThinking":false,"messageTag":"final","responseId":"r1"}}}"#,
    r#"{"result":{"response":{"modelResponse":{"responseId":"r1","message":"pong","sender":"assistant","generatedImageUrls":[]},"isThinking":false,"isSoftStop":false,"responseId":"r1"}}}"#,
    r#"{"result":{"title":{"newTitle":"Friendly Greeting Exchange"}}}"#,
];

#[test]
fn tokens_stream_live_and_thinking_is_kept_apart() {
    let items = decode(&TYPICAL);
    assert_eq!(texts(&items), ("pong".to_string(), "Thinking about ".to_string()));
    let events: Vec<&Item> = items.iter().filter(|i| matches!(i, Item::Event(Event::Text(_)))).collect();
    assert_eq!(events.len(), 2, "each token is its own event: {items:?}");
    assert!(matches!(items.last(), Some(Item::End { stop: StopReason::EndTurn, .. })));
    assert!(!format!("{items:?}").contains("the prompt we sent"), "userResponse is never output");
}

#[test]
fn a_model_without_reasoning_drops_thinking_tokens() {
    let items = decode_with(&TYPICAL, false, &[]);
    assert_eq!(texts(&items), ("pong".to_string(), String::new()));
}

#[test]
fn without_tokens_the_final_message_is_the_answer() {
    let items = decode(&[
        r#"{"result":{"response":{"llmInfo":{"modelHash":"hash-1"}}}}"#,
        r#"{"result":{"response":{"modelResponse":{"responseId":"resp_123","message":"hello","metadata":{"llm_info":{"modelHash":"hash-2"}}}}}}"#,
    ]);
    assert_eq!(texts(&items).0, "hello");
    // The alternate snake_case container is read too.
    let items = decode(&[r#"{"result":{"response":{"model_response":{"message":"hi there"}}}}"#]);
    assert_eq!(texts(&items).0, "hi there");
}

#[test]
fn tokens_win_over_a_noisy_final_message() {
    let items = decode(&[
        r#"{"result":{"response":{"token":"你好"}}}"#,
        r#"{"result":{"response":{"token":"！我是 Grok。"}}}"#,
        r#"{"result":{"response":{"modelResponse":{"message":"你好！我是 Grok。"}}}}"#,
    ]);
    assert_eq!(texts(&items).0, "你好！我是 Grok。", "not doubled");
}

#[test]
fn inband_errors_are_errors() {
    let items = decode(&[
        r#"{"result":{"response":{"token":"Hel"}}}"#,
        r#"{"error":{"code":8,"message":"Too many requests"}}"#,
        r#"{"result":{"response":{"token":"lo"}}}"#,
    ]);
    assert_eq!(texts(&items).0, "Hel");
    assert_eq!(error_kind(&items), Some(ErrorKind::RateLimited));
    assert!(!items.iter().any(|i| matches!(i, Item::End { .. })));

    let items = decode(&[
        r#"{"result":{"response":{"modelResponse":{"streamErrors":[{"message":"Unable to render: You've reached your image generation limit. Please try again later.","renderToolRateLimited":{"rateLimitedCount":1}}]}}}}"#,
    ]);
    assert_eq!(error_kind(&items), Some(ErrorKind::RateLimited));
    let items = decode(&[r#"{"error":{"code":3,"message":"Model is not found"}}"#]);
    assert_eq!(error_kind(&items), Some(ErrorKind::ModelNotFound));
}

#[test]
fn empty_cut_and_malformed_streams_fail() {
    assert_eq!(error_kind(&decode(&[])), Some(ErrorKind::EmptyResponse));
    assert_eq!(
        error_kind(&decode(&[r#"{"result":{"response":{"token":"hello"}}"#])),
        Some(ErrorKind::StreamCut)
    );
    assert_eq!(
        error_kind(&decode(&[r#"{"result":{"response":{"token":"a"}}}"#])),
        Some(ErrorKind::StreamCut),
        "no final response"
    );
    assert_eq!(
        error_kind(&decode(&["{not json", r#"{"result":{"response":{"token":"a"}}}"#])),
        Some(ErrorKind::Protocol)
    );
    // Objects without `result.response` are skipped.
    let items = decode(&[
        r#"{"result":{"response":{"token":"hello"}}}"#,
        r#"{"result":{"other":1}}"#,
        r#"{"other":2}"#,
        r#"{"result":{"response":{"token":"world"}}}"#,
        r#"{"result":{"response":{"isSoftStop":true}}}"#,
    ]);
    assert_eq!(texts(&items).0, "helloworld");
}

#[test]
fn images_resolve_relative_paths_and_previews_give_way_to_finals() {
    let items = decode(&[
        r#"{"result":{"response":{"streamingImageGenerationResponse":{"imageId":"a","imageIndex":0,"imageUrl":"users/u1/generated/img1-part-0/image.jpg","progress":50}}}}"#,
        r#"{"result":{"response":{"streamingImageGenerationResponse":{"imageId":"a","imageIndex":0,"imageUrl":"users/u1/generated/img1/image.jpg","progress":100}}}}"#,
        r#"{"result":{"response":{"streamingImageGenerationResponse":{"imageId":"b","imageIndex":1,"imageUrl":"users/u1/generated/img2-part-0/image.jpg","progress":50}}}}"#,
        r#"{"result":{"response":{"modelResponse":{"message":"","generatedImageUrls":["users/u1/generated/img1/image.jpg","/users/u1/generated/img2/image.jpg"]}}}}"#,
    ]);
    let assets: Vec<&str> = items
        .iter()
        .filter_map(|i| match i {
            Item::Asset { url, .. } => Some(url.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        assets,
        vec![
            "https://assets.grok.com/users/u1/generated/img1/image.jpg",
            "https://assets.grok.com/users/u1/generated/img2/image.jpg"
        ]
    );
    let progress: Vec<(u32, u32)> = items
        .iter()
        .filter_map(|i| match i {
            Item::Progress { index, percent, .. } => Some((*index, *percent)),
            _ => None,
        })
        .collect();
    assert_eq!(progress, vec![(0, 50), (0, 100), (1, 50)]);
}

#[test]
fn card_images_and_citations_are_read() {
    let items = decode(&[
        r#"{"result":{"response":{"cardAttachment":{"jsonData":"{\"id\":\"card-1\",\"image_chunk\":{\"progress\":50,\"imageUrl\":\"users/u/generated/a-part-0/image.png\"}}"}}}}"#,
        r#"{"result":{"response":{"cardAttachment":{"jsonData":"{\"id\":\"card-1\",\"image_chunk\":{\"progress\":100,\"imageUrl\":\"users/u/generated/a/image.png\"}}"}}}}"#,
        r#"{"result":{"response":{"cardAttachment":{"jsonData":"{\"id\":\"c1\",\"type\":\"render_inline_citation\",\"cardType\":\"citation_card\",\"url\":\"https://example.com/source\"}"}}}}"#,
        r#"{"result":{"response":{"token":"Sunny<grok:render card_id=\"c1\" card_type=\"citation_card\" type=\"render_inline_citation\"><argument name=\"citation_id\">0</argument></grok:render>."}}}"#,
        r#"{"result":{"response":{"modelResponse":{"message":"ignored"}}}}"#,
    ]);
    assert_eq!(texts(&items).0, "Sunny [[1]](https://example.com/source).");
    assert!(items.contains(&Item::Asset {
        kind: MediaKind::Image,
        url: "https://assets.grok.com/users/u/generated/a/image.png".into()
    }));
}

#[test]
fn video_progress_and_final_assets() {
    let mut lines: Vec<String> = [1, 5, 45]
        .iter()
        .map(|p| format!(r#"{{"result":{{"response":{{"streamingVideoGenerationResponse":{{"videoId":"v","progress":{p}}}}}}}}}"#))
        .collect();
    lines.push(r#"{"result":{"response":{"streamingVideoGenerationResponse":{"progress":100,"videoUrl":"users/u/generated/v/generated_video.mp4","thumbnailImageUrl":"users/u/generated/v/preview_image.jpg"}}}}"#.into());
    lines.push(r#"{"result":{"response":{"modelResponse":{"message":""}}}}"#.into());
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let items = decode(&refs);
    assert!(items.contains(&Item::Progress { kind: MediaKind::Video, index: 0, percent: 45 }));
    let assets: Vec<&Item> = items.iter().filter(|i| matches!(i, Item::Asset { .. })).collect();
    assert_eq!(
        assets,
        vec![
            &Item::Asset {
                kind: MediaKind::Video,
                url: format!("{ASSETS}/users/u/generated/v/generated_video.mp4")
            },
            &Item::Asset {
                kind: MediaKind::Image,
                url: format!("{ASSETS}/users/u/generated/v/preview_image.jpg")
            },
        ]
    );
}

#[test]
fn tool_calls_in_split_tokens_become_calls() {
    let tools = vec![Tool {
        name: "weather".into(),
        description: None,
        input_schema: RawJson::parse(r#"{"type":"object","properties":{"city":{"type":"string"}}}"#).unwrap(),
    }];
    let items = decode_with(
        &[
            r#"{"result":{"response":{"token":"before <tool_"}}}"#,
            r#"{"result":{"response":{"token":"call>{\"name\":\"weather\","}}}"#,
            r#"{"result":{"response":{"token":"\"arguments\":{\"city\":\"shanghai\"}}</tool_call> after"}}}"#,
            r#"{"result":{"response":{"modelResponse":{"message":"whatever"}}}}"#,
        ],
        false,
        &tools,
    );
    assert_eq!(texts(&items).0, "before  after");
    let call: Vec<&Item> = items
        .iter()
        .filter(|i| matches!(i, Item::Event(Event::ToolCallStart { .. } | Event::ToolArgs { .. })))
        .collect();
    assert_eq!(call.len(), 2);
    assert!(matches!(call[0], Item::Event(Event::ToolCallStart { index: 0, name, .. }) if name == "weather"));
    assert!(
        matches!(call[1], Item::Event(Event::ToolArgs { index: 0, fragment }) if fragment == r#"{"city":"shanghai"}"#)
    );
    assert!(matches!(items.last(), Some(Item::End { stop: StopReason::ToolUse, .. })));
}
