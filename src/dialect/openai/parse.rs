//! OpenAI Chat Completions request body → [`ChatRequest`].
//!
//! Conversion rules (client-conventions §4.6): leading `system`/`developer` messages become the
//! system prompt, later ones stay in place as system messages; assistant `tool_calls` become
//! `tool_use` blocks; consecutive `tool` messages become **one** user message of `tool_result`
//! blocks (AC-27); `reasoning_content` replayed by a client becomes unsigned thinking.

use crate::dialect::{ApiError, ReplyOptions, parse_json, split_data_url};
use crate::ir::{
    Block, ChatRequest, MediaSource, Message, Native, Protocol, RawJson, Role, Text, Thinking, Tool,
    ToolChoice,
};
use crate::protocol::StringOrParts;
use crate::protocol::openai::{self as wire, ContentPart, ToolChoiceParam};
use bytes::Bytes;

/// The schema sent upstream for a function declared without `parameters`.
const EMPTY_SCHEMA: &str = r#"{"type":"object","properties":{}}"#;

pub fn parse(body: &Bytes) -> Result<(ChatRequest, ReplyOptions), ApiError> {
    let mut buf = Vec::new();
    let req: wire::Request = parse_json(&mut buf, body)?;

    let model = match req.model {
        Some(m) if !m.is_empty() => m.into_owned(),
        _ => return Err(ApiError::bad_request("you must provide a model parameter").with_param("model")),
    };
    let Some(wire_messages) = req.messages else {
        return Err(ApiError::bad_request("messages: field required").with_param("messages"));
    };
    if let Some(n) = req.n
        && n != 1
    {
        return Err(ApiError::bad_request(format!(
            "n = {n} is not supported: the gateway returns one choice"
        ))
        .with_param("n"));
    }

    let mut system = Vec::new();
    let mut messages: Vec<Message> = Vec::with_capacity(wire_messages.len());
    for m in wire_messages {
        match m.role.as_ref() {
            "system" | "developer" => {
                let text = Text::from(flatten_text(m.content));
                if messages.is_empty() {
                    system.push(text);
                } else {
                    messages.push(Message { role: Role::System, content: vec![Block::Text(text)] });
                }
            }
            "user" => messages.push(Message { role: Role::User, content: user_content(m.content) }),
            "assistant" => {
                let mut content = Vec::new();
                if let Some(r) = m.reasoning_content.filter(|r| !r.is_empty()) {
                    content.push(Block::Thinking { text: Text::from(r.into_owned()), signature: None });
                }
                let text = flatten_text(m.content);
                if !text.is_empty() {
                    content.push(Block::Text(Text::from(text)));
                }
                for call in m.tool_calls.unwrap_or_default() {
                    let args = call.function.arguments.unwrap_or_default();
                    content.push(Block::ToolUse {
                        id: call.id.into_owned(),
                        name: call.function.name.into_owned(),
                        input: tool_arguments(&args)?,
                    });
                }
                messages.push(Message { role: Role::Assistant, content });
            }
            "tool" | "function" => {
                let Some(id) = m.tool_call_id else {
                    return Err(ApiError::bad_request("messages: a tool message needs tool_call_id")
                        .with_param("messages"));
                };
                let result = Block::ToolResult {
                    tool_use_id: id.into_owned(),
                    content: user_content(m.content),
                    is_error: false,
                };
                // Consecutive tool messages answer one assistant turn: they form one user turn.
                match messages.last_mut() {
                    Some(last) if last.role == Role::User && last.content.iter().all(is_tool_result) => {
                        last.content.push(result)
                    }
                    _ => messages.push(Message { role: Role::User, content: vec![result] }),
                }
            }
            other => {
                return Err(ApiError::bad_request(format!("messages: unexpected role {other:?}"))
                    .with_param("messages"));
            }
        }
    }

    let tools = req
        .tools
        .unwrap_or_default()
        .into_iter()
        .filter_map(|t| t.function)
        .map(|f| Tool {
            name: f.name.into_owned(),
            description: f.description.map(|d| d.into_owned()),
            input_schema: f.parameters.map(|p| p.0).unwrap_or_else(|| RawJson::new_unchecked(EMPTY_SCHEMA)),
        })
        .collect();

    let tool_choice = match req.tool_choice {
        None => None,
        Some(ToolChoiceParam::Mode(mode)) => Some(match mode.as_ref() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Any,
            other => {
                return Err(ApiError::bad_request(format!("tool_choice: unknown value {other:?}"))
                    .with_param("tool_choice"));
            }
        }),
        Some(ToolChoiceParam::Named { function }) => Some(ToolChoice::Tool(function.name.into_owned())),
    };

    let thinking = req.reasoning_effort.map(|effort| match effort.as_ref() {
        "none" => Thinking::Disabled,
        "minimal" => Thinking::Enabled { budget_tokens: 1024 },
        "low" => Thinking::Enabled { budget_tokens: 2048 },
        "high" => Thinking::Enabled { budget_tokens: 16384 },
        _ => Thinking::Enabled { budget_tokens: 8192 },
    });

    let options =
        ReplyOptions { include_usage: req.stream_options.and_then(|o| o.include_usage).unwrap_or(false) };
    let request = ChatRequest {
        model,
        system,
        messages,
        tools,
        tool_choice,
        max_tokens: req.max_completion_tokens.or(req.max_tokens),
        stop: req.stop.map(|s| s.0.into_iter().map(|s| s.into_owned()).collect()).unwrap_or_default(),
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: None,
        thinking,
        stream: req.stream.unwrap_or(false),
        key_id: None,
        session: req.prompt_cache_key.map(|k| k.into_owned()).filter(|k| !k.is_empty()),
        user: req.user.map(|u| u.into_owned()),
        native: Some(Native { protocol: Protocol::OpenAi, body: body.clone(), headers: Vec::new() }),
        media: None,
    };
    Ok((request, options))
}

fn is_tool_result(b: &Block) -> bool {
    matches!(b, Block::ToolResult { .. })
}

/// Tool-call arguments are a JSON text; an empty one means no arguments.
fn tool_arguments(args: &str) -> Result<RawJson, ApiError> {
    if args.trim().is_empty() {
        return Ok(RawJson::empty_object());
    }
    RawJson::parse(args).map_err(|e| {
        ApiError::bad_request(format!("messages: tool call arguments are not valid JSON: {e}"))
            .with_param("messages")
    })
}

/// The text of a system or assistant message: a string, or its text parts joined.
fn flatten_text(content: Option<StringOrParts<'_, ContentPart<'_>>>) -> String {
    match content {
        None => String::new(),
        Some(StringOrParts::String(s)) => s.into_owned(),
        Some(StringOrParts::Parts(parts)) => {
            let mut text = String::new();
            for p in parts {
                if let ContentPart::Text { text: t } | ContentPart::Refusal { refusal: t } = p {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(&t);
                }
            }
            text
        }
    }
}

fn user_content(content: Option<StringOrParts<'_, ContentPart<'_>>>) -> Vec<Block> {
    match content {
        None => Vec::new(),
        Some(StringOrParts::String(s)) => vec![Block::Text(Text::from(s.into_owned()))],
        Some(StringOrParts::Parts(parts)) => parts.into_iter().filter_map(part).collect(),
    }
}

fn part(p: ContentPart<'_>) -> Option<Block> {
    Some(match p {
        ContentPart::Text { text } | ContentPart::Refusal { refusal: text } => {
            Block::Text(Text::from(text.into_owned()))
        }
        ContentPart::ImageUrl { image_url } => Block::Image(media_from_url(&image_url.url)),
        ContentPart::File { file } => {
            let data = file.file_data?;
            Block::Document { source: media_from_url(&data), title: file.filename.map(|f| f.into_owned()) }
        }
        ContentPart::Other => return None,
    })
}

fn media_from_url(url: &str) -> MediaSource {
    match split_data_url(url) {
        Some((media_type, data)) => {
            MediaSource::Base64 { media_type: media_type.to_string(), data: data.to_string() }
        }
        None => MediaSource::Url(url.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(json: &str) -> Result<(ChatRequest, ReplyOptions), ApiError> {
        parse(&Bytes::from(json.to_string()))
    }

    // See: reference/client-conventions.md §4.10 #13 (AC-27)
    #[test]
    fn ac27_parallel_tool_results_become_one_user_turn() {
        let (req, _) = parse_str(
            r#"{"model":"m","messages":[
            {"role":"system","content":"be brief"},
            {"role":"user","content":"weather in Paris and Rome?"},
            {"role":"assistant","content":null,"tool_calls":[
              {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
              {"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
            {"role":"tool","tool_call_id":"call_1","content":"sunny"},
            {"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"rain"}]},
            {"role":"developer","content":"now summarise"}]}"#,
        )
        .unwrap();
        assert_eq!(req.system, vec![Text::from("be brief")]);
        assert_eq!(req.messages.len(), 4);
        assert_eq!(req.messages[1].role, Role::Assistant);
        assert!(
            matches!(&req.messages[1].content[..], [Block::ToolUse { id, input, .. }, Block::ToolUse { .. }]
            if id == "call_1" && input.get() == r#"{"city":"Paris"}"#)
        );
        let results: Vec<&str> = req.messages[2]
            .content
            .iter()
            .map(|b| match b {
                Block::ToolResult { tool_use_id, .. } => tool_use_id.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(results, ["call_1", "call_2"]);
        assert_eq!(req.messages[3].role, Role::System);
    }

    #[test]
    fn content_parts_images_and_options() {
        let (req, opts) = parse_str(
            r#"{"model":"m","stream":true,"stream_options":{"include_usage":true},"max_completion_tokens":99,"stop":"END",
            "tool_choice":"required","tools":[{"type":"function","function":{"name":"f"}}],"reasoning_effort":"low",
            "messages":[{"role":"user","content":[{"type":"text","text":"what is this?"},
              {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}},
              {"type":"image_url","image_url":{"url":"https://example.com/a.png","detail":"high"}},
              {"type":"input_audio","input_audio":{"data":"x","format":"wav"}}]}]}"#,
        )
        .unwrap();
        assert!(opts.include_usage);
        assert!(req.stream);
        assert_eq!(req.max_tokens, Some(99));
        assert_eq!(req.stop, vec!["END".to_string()]);
        assert_eq!(req.tool_choice, Some(ToolChoice::Any));
        assert_eq!(req.tools[0].input_schema.get(), EMPTY_SCHEMA);
        assert_eq!(req.thinking, Some(Thinking::Enabled { budget_tokens: 2048 }));
        match &req.messages[0].content[..] {
            [
                Block::Text(_),
                Block::Image(MediaSource::Base64 { media_type, data }),
                Block::Image(MediaSource::Url(u)),
            ] => {
                assert_eq!((media_type.as_str(), data.as_str()), ("image/png", "AAAA"));
                assert_eq!(u, "https://example.com/a.png");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn n_other_than_one_and_bad_bodies_are_rejected() {
        assert_eq!(parse_str(r#"{"model":"m","messages":[],"n":2}"#).unwrap_err().param, Some("n"));
        assert!(parse_str(r#"{"model":"m","messages":[],"n":1}"#).is_ok());
        assert_eq!(parse_str(r#"{"messages":[]}"#).unwrap_err().param, Some("model"));
        assert_eq!(parse_str("[1,2").unwrap_err().code, "invalid_json");
        let bad_args = r#"{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{oops"}}]}]}"#;
        assert_eq!(parse_str(bad_args).unwrap_err().status, 400);
        assert!(parse_str(r#"{"model":"m","messages":[{"role":"tool","content":"x"}]}"#).is_err());
    }
}
