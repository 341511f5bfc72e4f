//! Plays a chat scenario as grok.com's NDJSON stream: one JSON object per line, each line its own
//! body frame, `x-mock-interval-ms` apart.

use std::time::Duration;

use serde_json::{Value, json};

use super::scenario::{Params, Scenario, call_marker};
use super::wire::{self, Extras, ImageStep, Turn, VideoJob};
use crate::mock::ids::Ids;
use crate::mock::script::Step;

/// The fixed answer of `text`, in the tokens it is streamed as.
pub(super) const HELLO: [&str; 4] = ["Hello", " from", " mock", " grok."];
/// `reasoning`'s thinking tokens, then its answer tokens.
pub(super) const THINKING: [&str; 3] = ["Thinking", " about", " it..."];
pub(super) const ANSWER_42: [&str; 3] = ["The answer", " is", " 42."];
/// `markup`'s answer tokens: a tool usage card and an inline citation, cut in awkward places.
pub(super) const MARKUP: [&str; 9] = [
    "Searching.",
    "<xai:tool_us",
    "age_card><xai:tool_usage_card_id>card-1</xai:tool_usage_card_id><xai:tool_name>web_search</xai:tool_name><xai:tool_args><![CDA",
    "TA[{\"query\":\"wea",
    "ther today\"}]]></xai:tool_args></xai:tool_usage_card>",
    " Result:",
    " sunny.<grok:ren",
    "der card_id=\"c1\" card_type=\"citation_card\" type=\"render_inline_citation\"><argument name=\"citation_id\">0</argu",
    "ment></grok:render>",
];
/// The citation `markup` points at.
pub(super) const CITATION_URL: &str = "https://example.com/source";
/// How long `silence` keeps quiet after the headers.
const SILENCE: Duration = Duration::from_secs(60);
/// How long `slow` waits before its first line.
const SLOW: Duration = Duration::from_secs(1);

/// What a chat's answer depends on.
pub(super) struct Chat<'a> {
    pub(super) message: &'a str,
    pub(super) model: &'a str,
    pub(super) attachments: &'a [String],
    pub(super) uid: &'a str,
    pub(super) payload: &'a Value,
}

/// The body of a chat answer, step by step.
pub(super) fn script(scenario: Scenario, chat: &Chat<'_>, ids: &Ids, params: &Params) -> Vec<Step> {
    let turn = Turn {
        conversation_id: ids.uuid(),
        user_response_id: ids.uuid(),
        response_id: ids.uuid(),
        time: wire::now(),
        model: chat.model,
        message: chat.message,
        attachments: chat.attachments,
    };
    let opening = [wire::conversation(&turn), wire::user_response(&turn), wire::llm_info(&turn)];
    let answer = |tokens: &[&str], message: &str, extras: Extras| {
        let mut lines = opening.to_vec();
        lines.extend(tokens.iter().map(|t| wire::token(&turn, t, false, Some("final"))));
        lines.push(wire::soft_stop(&turn));
        lines.push(wire::model_response(&turn, message, extras));
        lines.push(wire::title());
        lines
    };
    let lines = match scenario {
        Scenario::Echo => answer(&chunks(chat.message, 16), chat.message, Extras::default()),
        Scenario::Reasoning => {
            let mut lines = opening.to_vec();
            for (i, t) in THINKING.iter().enumerate() {
                lines.push(wire::token(&turn, t, true, (i == 0).then_some("header")));
            }
            lines.extend(ANSWER_42.iter().map(|t| wire::token(&turn, t, false, Some("final"))));
            lines.push(wire::soft_stop(&turn));
            lines.push(wire::model_response(&turn, &ANSWER_42.concat(), Extras::default()));
            lines.push(wire::title());
            lines
        }
        Scenario::Markup => answer(&MARKUP, &MARKUP.concat(), markup_extras()),
        Scenario::Tool => {
            let text = tool_answer(chat.message);
            answer(&chunks(&text, 7), &text, Extras::default())
        }
        Scenario::Image | Scenario::ImageCard => images(scenario, chat, &turn, ids),
        Scenario::ImageLimit => vec![
            wire::conversation(&turn),
            wire::user_response(&turn),
            wire::model_response(
                &turn,
                "",
                Extras {
                    stream_errors: Some(json!([{
                        "message": "Unable to render: You've reached your image generation limit. Please try again later.",
                        "renderToolRateLimited": {"rateLimitedCount": 1},
                    }])),
                    ..Extras::default()
                },
            ),
        ],
        Scenario::Video => video(chat, &turn, ids),
        Scenario::InbandError => {
            let mut lines = opening.to_vec();
            lines.extend(HELLO[..2].iter().map(|t| wire::token(&turn, t, false, Some("final"))));
            lines.push(wire::error(8, "Too many requests"));
            lines
        }
        Scenario::InbandErrorFirst => vec![wire::error(8, "Too many requests")],
        Scenario::Empty => return Vec::new(),
        Scenario::Silence => return vec![Step::Pause(SILENCE)],
        Scenario::Cut => {
            let mut lines = opening.to_vec();
            lines.extend(HELLO[..2].iter().map(|t| wire::token(&turn, t, false, Some("final"))));
            let mut steps = paced(&lines, params.interval);
            let next = wire::line(&wire::token(&turn, HELLO[2], false, Some("final")));
            steps.push(Step::Pause(params.interval));
            steps.push(Step::Data(next.slice(..next.len() / 2)));
            steps.push(Step::Cut);
            return steps;
        }
        Scenario::Slow => {
            let mut steps = vec![Step::Pause(SLOW)];
            steps.extend(paced(&answer(&HELLO, &HELLO.concat(), Extras::default()), params.interval));
            return steps;
        }
        Scenario::Text | Scenario::Html403 | Scenario::Fail(_) => {
            answer(&HELLO, &HELLO.concat(), Extras::default())
        }
    };
    paced(&lines, params.interval)
}

/// Each line as its own frame, `interval` apart.
fn paced(lines: &[Value], interval: Duration) -> Vec<Step> {
    let mut steps = Vec::with_capacity(lines.len() * 2);
    for (i, line) in lines.iter().enumerate() {
        if i > 0 && !interval.is_zero() {
            steps.push(Step::Pause(interval));
        }
        steps.push(Step::Data(wire::line(line)));
    }
    steps
}

/// Splits text into pieces of about `size` bytes, never inside a UTF-8 character.
pub(super) fn chunks(text: &str, size: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = size.min(rest.len());
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        pieces.push(&rest[..end]);
        rest = &rest[end..];
    }
    pieces
}

fn markup_extras() -> Extras {
    let card = json!({
        "id": "c1",
        "type": "render_inline_citation",
        "cardType": "citation_card",
        "url": CITATION_URL,
    });
    Extras {
        web_search_results: vec![json!({
            "url": CITATION_URL,
            "title": "Example Source",
            "preview": "Sunny all day.",
            "searchEngineText": "",
            "description": "",
            "siteName": "example.com",
            "metadataTitle": "",
            "creator": "",
            "image": "",
            "favicon": "",
            "citationId": "0",
        })],
        card_attachments_json: vec![card.to_string()],
        ..Extras::default()
    }
}

/// `tool`'s answer text: the last tool result echoed back, or one `<tool_call>` block.
pub(super) fn tool_answer(message: &str) -> String {
    if let Some(content) = last_tool_result(message) {
        return format!("Tool said: {content}");
    }
    let (name, arguments) = match call_marker(message) {
        Some((name, raw)) => {
            let arguments =
                serde_json::from_str::<Value>(raw).map_or_else(|_| raw.to_owned(), |v| v.to_string());
            (name.to_owned(), arguments)
        }
        None => (first_tool(message).unwrap_or("get_weather").to_owned(), "{}".to_owned()),
    };
    let name = serde_json::to_string(&name).expect("a string always serializes");
    format!("I'll check.\n<tool_call>{{\"name\":{name},\"arguments\":{arguments}}}</tool_call>")
}

/// The content of the last `<tool_result ...>CONTENT</tool_result>`, trimmed.
fn last_tool_result(message: &str) -> Option<&str> {
    let start = message.rfind("<tool_result")?;
    let rest = &message[start..];
    let open_end = rest.find('>')? + 1;
    let content = &rest[open_end..];
    let end = content.find("</tool_result>").unwrap_or(content.len());
    Some(content[..end].trim())
}

/// The first `### <name>` after the `## Tool Definitions` line of the gateway's tool prompt.
fn first_tool(message: &str) -> Option<&str> {
    let (_, definitions) = message.split_once("## Tool Definitions")?;
    definitions
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("### "))
        .map(str::trim)
        .filter(|name| !name.is_empty())
}

/// `image` (legacy `streamingImageGenerationResponse`) and `image_card` (`cardAttachment`).
fn images(scenario: Scenario, chat: &Chat<'_>, turn: &Turn<'_>, ids: &Ids) -> Vec<Value> {
    let count = chat.payload["imageGenerationCount"].as_u64().map_or(2, |n| n.clamp(1, 10)) as usize;
    let image_ids: Vec<String> = (0..count).map(|_| ids.uuid()).collect();
    let url = |id: &str, preview: bool| {
        let part = if preview { "-part-0" } else { "" };
        format!("users/{}/generated/{id}{part}/image.jpg", chat.uid)
    };
    let mut lines = vec![wire::conversation(turn), wire::user_response(turn)];
    let mut finals = Vec::new();
    let mut cards = Vec::new();
    for progress in [50, 100] {
        for (index, id) in image_ids.iter().enumerate() {
            let url = url(id, progress < 100);
            let step = ImageStep { id, index, url: &url, progress };
            lines.push(match scenario {
                Scenario::ImageCard => wire::image_card(turn, &step),
                _ => wire::image_progress(turn, &step),
            });
            if progress == 100 {
                finals.push(url.clone());
                cards.push(wire::image_card_json(&step));
            }
        }
    }
    let (message, extras) = match scenario {
        Scenario::ImageCard => {
            let renders: String = image_ids
                .iter()
                .map(|id| {
                    format!(
                        "<grok:render card_id=\"card-{id}\" card_type=\"generated_image_card\" \
                         type=\"render_generated_image\"><argument name=\"card_id\">card-{id}</argument></grok:render>"
                    )
                })
                .collect();
            (renders, Extras { card_attachments_json: cards, ..Extras::default() })
        }
        _ => (String::new(), Extras { generated_image_urls: finals, ..Extras::default() }),
    };
    lines.push(wire::model_response(turn, &message, extras));
    lines.push(wire::title());
    lines
}

/// `video`: progress 1, 5, 15, 45, 95, then 100 with the video and its thumbnail.
fn video(chat: &Chat<'_>, turn: &Turn<'_>, ids: &Ids) -> Vec<Value> {
    let id = ids.uuid();
    let parent = &chat.payload["responseMetadata"]["modelConfigOverride"]["modelMap"]["videoGenModelConfig"]
        ["parentPostId"];
    let post_id = parent.as_str().map_or_else(|| format!("post-{}", ids.hex(16)), str::to_owned);
    let mode = chat
        .message
        .split_once("--mode=")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or("custom");
    let job = VideoJob { id: &id, uid: chat.uid, mode, post_id: &post_id };
    let mut lines = vec![wire::conversation(turn), wire::user_response(turn)];
    lines.extend([1, 5, 15, 45, 95, 100].into_iter().map(|p| wire::video_progress(turn, &job, p)));
    lines.push(wire::model_response(turn, "", Extras::default()));
    lines.push(wire::title());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_characters_whole_and_concatenate_back() {
        let text = "héllo wörld, ça va? 日本語のテキスト";
        let pieces = chunks(text, 7);
        assert_eq!(pieces.concat(), text);
        assert!(pieces.iter().all(|p| !p.is_empty() && p.len() <= 9));
        assert!(chunks("", 16).is_empty());
    }

    #[test]
    fn tool_answers() {
        let prompt = "# Available Tools\n\n## Tool Definitions\n\n### lookup\nFind.\n\n### other\n\nhi";
        assert_eq!(
            tool_answer(prompt),
            "I'll check.\n<tool_call>{\"name\":\"lookup\",\"arguments\":{}}</tool_call>"
        );
        let marked = format!("{prompt} [[mock:call weather {{\"city\": \"Paris\"}}]]");
        assert_eq!(
            tool_answer(&marked),
            "I'll check.\n<tool_call>{\"name\":\"weather\",\"arguments\":{\"city\":\"Paris\"}}</tool_call>"
        );
        let result = "x <tool_result id=\"1\" name=\"a\">one</tool_result> <tool_result id=\"2\" name=\"b\">\n 22 C \n</tool_result>";
        assert_eq!(tool_answer(result), "Tool said: 22 C");
        assert_eq!(
            tool_answer("no tools"),
            "I'll check.\n<tool_call>{\"name\":\"get_weather\",\"arguments\":{}}</tool_call>"
        );
    }

    #[test]
    fn markup_tokens_hide_the_visible_text_between_markup() {
        let full = MARKUP.concat();
        assert!(full.starts_with("Searching.<xai:tool_usage_card>") && full.ends_with("</grok:render>"));
        assert!(full.contains("<![CDATA[{\"query\":\"weather today\"}]]>"));
    }
}
