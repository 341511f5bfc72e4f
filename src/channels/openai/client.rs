//! The upstream request for an OpenAI-compatible API: built from the IR, or the client's own
//! body with the model and streaming options set when the client speaks OpenAI too.

use crate::ir::{Block, ChatRequest, MediaSource, Protocol, Role, Thinking, ToolChoice};
use crate::protocol::edit::{Edit, edit_object};
use crate::protocol::openai::{
    OutContent, OutFile, OutFunctionCall, OutFunctionDef, OutImageUrl, OutMessage, OutNamedFunction, OutPart,
    OutRequest, OutStreamOptions, OutTool, OutToolCall, OutToolChoice,
};
use std::borrow::Cow;

/// The JSON body to send for `request` under the upstream model id `model`. Always a streaming
/// request with usage reporting: the gateway streams from upstream even for non-streaming
/// clients, so one decoder serves both.
pub fn body(request: &ChatRequest, model: &str) -> Vec<u8> {
    if let Some(native) = request.native.as_ref().filter(|n| n.protocol == Protocol::OpenAi) {
        let model_json = serde_json::to_vec(model).unwrap_or_default();
        let edited = edit_object(
            &native.body,
            &[
                Edit::Set("model", &model_json),
                Edit::Set("stream", b"true"),
                Edit::Set("stream_options", br#"{"include_usage":true}"#),
            ],
        );
        if let Ok(body) = edited {
            return body;
        }
    }
    serde_json::to_vec(&out_request(request, model)).unwrap_or_default()
}

fn out_request<'a>(request: &'a ChatRequest, model: &'a str) -> OutRequest<'a> {
    let mut messages = Vec::with_capacity(request.system.len() + request.messages.len());
    for s in &request.system {
        messages.push(text_message("system", Cow::Borrowed(s.as_str())));
    }
    for m in &request.messages {
        match m.role {
            Role::System => messages.push(text_message("system", Cow::Owned(joined_text(&m.content)))),
            Role::Assistant => {
                let text = joined_text(&m.content);
                let tool_calls: Vec<OutToolCall> = m
                    .content
                    .iter()
                    .filter_map(|b| match b {
                        Block::ToolUse { id, name, input } => Some(OutToolCall {
                            id,
                            kind: "function",
                            function: OutFunctionCall { name, arguments: input.get() },
                        }),
                        _ => None,
                    })
                    .collect();
                let content = if text.is_empty() && !tool_calls.is_empty() {
                    OutContent::Null(())
                } else {
                    OutContent::Text(Cow::Owned(text))
                };
                messages.push(OutMessage { role: "assistant", content, tool_calls, tool_call_id: None });
            }
            Role::User => {
                // Tool results answer the preceding assistant turn: they go first, each as its
                // own `tool` message; the rest of the turn follows as one user message.
                for b in &m.content {
                    if let Block::ToolResult { tool_use_id, content, is_error } = b {
                        let mut text = joined_text(content);
                        if *is_error && !text.starts_with("Error") {
                            text.insert_str(0, "Error: ");
                        }
                        messages.push(OutMessage {
                            role: "tool",
                            content: OutContent::Text(Cow::Owned(text)),
                            tool_calls: Vec::new(),
                            tool_call_id: Some(tool_use_id),
                        });
                    }
                }
                let parts: Vec<OutPart> = m.content.iter().filter_map(part).collect();
                if !parts.is_empty() {
                    let content = match &parts[..] {
                        [OutPart::Text { text }] => OutContent::Text(text.clone()),
                        _ => OutContent::Parts(parts),
                    };
                    messages.push(OutMessage {
                        role: "user",
                        content,
                        tool_calls: Vec::new(),
                        tool_call_id: None,
                    });
                }
            }
        }
    }
    OutRequest {
        model,
        messages,
        max_tokens: request.max_tokens,
        stop: &request.stop,
        temperature: request.temperature,
        top_p: request.top_p,
        tools: request
            .tools
            .iter()
            .map(|t| OutTool {
                kind: "function",
                function: OutFunctionDef {
                    name: &t.name,
                    description: t.description.as_deref(),
                    parameters: &t.input_schema,
                },
            })
            .collect(),
        tool_choice: request.tool_choice.as_ref().map(|c| match c {
            ToolChoice::Auto => OutToolChoice::Mode("auto"),
            ToolChoice::Any => OutToolChoice::Mode("required"),
            ToolChoice::None => OutToolChoice::Mode("none"),
            ToolChoice::Tool(name) => {
                OutToolChoice::Named { kind: "function", function: OutNamedFunction { name } }
            }
        }),
        reasoning_effort: match request.thinking {
            Some(Thinking::Enabled { budget_tokens }) if budget_tokens <= 2048 => Some("low"),
            Some(Thinking::Enabled { budget_tokens }) if budget_tokens <= 8192 => Some("medium"),
            Some(Thinking::Enabled { .. }) => Some("high"),
            _ => None,
        },
        user: request.user.as_deref(),
        stream: true,
        stream_options: Some(OutStreamOptions { include_usage: true }),
    }
}

fn text_message<'a>(role: &'static str, text: Cow<'a, str>) -> OutMessage<'a> {
    OutMessage { role, content: OutContent::Text(text), tool_calls: Vec::new(), tool_call_id: None }
}

/// The text blocks of a turn, joined; thinking is never replayed to a non-Anthropic upstream.
fn joined_text(blocks: &[Block]) -> String {
    let mut text = String::new();
    for b in blocks {
        if let Block::Text(t) = b {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(t.as_str());
        }
    }
    text
}

fn part(block: &Block) -> Option<OutPart<'_>> {
    Some(match block {
        Block::Text(t) if !t.is_empty() => OutPart::Text { text: Cow::Borrowed(t.as_str()) },
        Block::Image(source) => OutPart::ImageUrl { image_url: OutImageUrl { url: media_url(source)? } },
        Block::Document { source: MediaSource::Text { data, .. }, .. } => {
            OutPart::Text { text: Cow::Borrowed(data) }
        }
        Block::Document { source, title } => {
            OutPart::File { file: OutFile { file_data: media_url(source)?, filename: title.as_deref() } }
        }
        _ => return None,
    })
}

fn media_url(source: &MediaSource) -> Option<String> {
    match source {
        MediaSource::Base64 { media_type, data } => Some(format!("data:{media_type};base64,{data}")),
        MediaSource::Url(url) => Some(url.clone()),
        MediaSource::Text { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Message, Native, RawJson, Text, Tool};
    use serde_json::{Value, json};

    fn build(req: &ChatRequest) -> Value {
        serde_json::from_slice(&body(req, "up-model")).unwrap()
    }

    #[test]
    fn native_openai_bodies_keep_unknown_fields() {
        let req = ChatRequest {
            native: Some(Native {
                protocol: Protocol::OpenAi,
                body: bytes::Bytes::from_static(
                    br#"{"model":"alias","messages":[],"logprobs":true,"stream":false}"#,
                ),
                headers: vec![],
            }),
            ..Default::default()
        };
        assert_eq!(
            build(&req),
            json!({"model": "up-model", "messages": [], "logprobs": true, "stream": true, "stream_options": {"include_usage": true}})
        );
    }

    #[test]
    fn anthropic_shaped_history_converts_to_openai_messages() {
        let req = ChatRequest {
            model: "alias".into(),
            system: vec![Text::from("sys")],
            messages: vec![
                Message {
                    role: Role::User,
                    content: vec![
                        Block::Text(Text::from("hi")),
                        Block::Image(MediaSource::Base64 {
                            media_type: "image/png".into(),
                            data: "AAA".into(),
                        }),
                    ],
                },
                Message {
                    role: Role::Assistant,
                    content: vec![
                        Block::Thinking { text: Text::from("secret"), signature: Some("sig".into()) },
                        Block::ToolUse {
                            id: "t1".into(),
                            name: "f".into(),
                            input: RawJson::parse(r#"{"a":1}"#).unwrap(),
                        },
                        Block::ToolUse { id: "t2".into(), name: "g".into(), input: RawJson::empty_object() },
                    ],
                },
                Message {
                    role: Role::User,
                    content: vec![
                        Block::ToolResult {
                            tool_use_id: "t1".into(),
                            content: vec![Block::Text(Text::from("one"))],
                            is_error: false,
                        },
                        Block::ToolResult {
                            tool_use_id: "t2".into(),
                            content: vec![Block::Text(Text::from("boom"))],
                            is_error: true,
                        },
                        Block::Text(Text::from("thanks")),
                    ],
                },
            ],
            tools: vec![Tool {
                name: "f".into(),
                description: Some("d".into()),
                input_schema: RawJson::empty_object(),
            }],
            tool_choice: Some(ToolChoice::Any),
            max_tokens: Some(100),
            thinking: Some(Thinking::Enabled { budget_tokens: 4096 }),
            ..Default::default()
        };
        let v = build(&req);
        assert_eq!(v["model"], "up-model");
        assert_eq!(v["stream"], true);
        assert_eq!(v["stream_options"], json!({"include_usage": true}));
        assert_eq!(v["reasoning_effort"], "medium");
        assert_eq!(v["tool_choice"], "required");
        assert_eq!(
            v["tools"][0],
            json!({"type": "function", "function": {"name": "f", "description": "d", "parameters": {}}})
        );
        let m = v["messages"].as_array().unwrap();
        assert_eq!(m[0], json!({"role": "system", "content": "sys"}));
        assert_eq!(
            m[1]["content"][1],
            json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}})
        );
        assert_eq!(m[2]["content"], Value::Null, "thinking is not replayed");
        assert_eq!(
            m[2]["tool_calls"][0],
            json!({"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}})
        );
        assert_eq!(m[3], json!({"role": "tool", "content": "one", "tool_call_id": "t1"}));
        assert_eq!(m[4], json!({"role": "tool", "content": "Error: boom", "tool_call_id": "t2"}));
        assert_eq!(m[5], json!({"role": "user", "content": "thanks"}));
        assert_eq!(m.len(), 6);
    }
}
