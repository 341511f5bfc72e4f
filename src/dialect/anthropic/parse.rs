//! Anthropic Messages request body → [`ChatRequest`].
//!
//! Unknown fields are accepted (Claude Code sends `context_management`, `output_config`, ...):
//! the body travels untouched to an Anthropic upstream via [`ChatRequest::native`] and is
//! converted through the IR for every other channel.

use crate::dialect::{ApiError, parse_json};
use crate::ir::{
    Block, ChatRequest, MediaSource, Message, Native, Protocol, Role, Text, Thinking, Tool, ToolChoice,
};
use crate::protocol::StringOrParts;
use crate::protocol::anthropic::{self as wire, ContentBlock, Source};
use bytes::Bytes;
use http::HeaderMap;

/// Request headers an Anthropic upstream should see as the client sent them.
const FORWARDED_HEADERS: [&str; 2] = ["anthropic-beta", "anthropic-version"];

pub fn parse(body: &Bytes, headers: &HeaderMap) -> Result<ChatRequest, ApiError> {
    let mut buf = Vec::new();
    let req: wire::Request = parse_json(&mut buf, body)?;

    let model = match req.model {
        Some(m) if !m.is_empty() => m.into_owned(),
        _ => return Err(ApiError::bad_request("model: field required").with_param("model")),
    };
    let Some(messages) = req.messages else {
        return Err(ApiError::bad_request("messages: field required").with_param("messages"));
    };

    let system = match req.system {
        None => Vec::new(),
        Some(StringOrParts::String(s)) => vec![Text::from(s.into_owned())],
        Some(StringOrParts::Parts(blocks)) => {
            blocks.into_iter().filter_map(|b| b.text).map(|t| Text::from(t.into_owned())).collect()
        }
    };

    let messages = messages
        .into_iter()
        .map(|m| {
            let role = match m.role.as_ref() {
                "user" => Role::User,
                "assistant" => Role::Assistant,
                "system" => Role::System,
                other => {
                    return Err(ApiError::bad_request(format!(
                        "messages: unexpected role {other:?} (expected \"user\" or \"assistant\")"
                    ))
                    .with_param("messages"));
                }
            };
            Ok(Message { role, content: content(m.content) })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let tools = req
        .tools
        .unwrap_or_default()
        .into_iter()
        // A tool without an input schema is a server tool that only Anthropic runs; on the
        // same-protocol path it still travels in the native body.
        .filter_map(|t| {
            let schema = t.input_schema?;
            Some(Tool {
                name: t.name.into_owned(),
                description: t.description.map(|d| d.into_owned()),
                input_schema: schema.0,
            })
        })
        .collect();

    let tool_choice = match req.tool_choice {
        None => None,
        Some(c) => Some(match c.kind.as_ref() {
            "auto" => ToolChoice::Auto,
            "any" => ToolChoice::Any,
            "none" => ToolChoice::None,
            "tool" => match c.name {
                Some(name) => ToolChoice::Tool(name.into_owned()),
                None => {
                    return Err(
                        ApiError::bad_request("tool_choice.name: field required").with_param("tool_choice")
                    );
                }
            },
            other => {
                return Err(ApiError::bad_request(format!("tool_choice.type: unknown value {other:?}"))
                    .with_param("tool_choice"));
            }
        }),
    };

    let thinking = match req.thinking {
        None => None,
        Some(t) => Some(match t.kind.as_ref() {
            "enabled" => {
                Thinking::Enabled { budget_tokens: t.budget_tokens.unwrap_or(DEFAULT_THINKING_BUDGET) }
            }
            "disabled" => Thinking::Disabled,
            // "adaptive" and types newer than this gateway: let the model decide.
            _ => Thinking::Adaptive,
        }),
    };

    let forwarded = FORWARDED_HEADERS
        .iter()
        .filter_map(|name| headers.get(*name).map(|v| (http::HeaderName::from_static(name), v.clone())))
        .collect();

    Ok(ChatRequest {
        model,
        system,
        messages,
        tools,
        tool_choice,
        max_tokens: req.max_tokens,
        stop: req.stop_sequences.unwrap_or_default().into_iter().map(|s| s.into_owned()).collect(),
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: req.top_k,
        thinking,
        stream: req.stream.unwrap_or(false),
        key_id: None,
        session: req
            .metadata
            .as_ref()
            .and_then(|m| m.user_id.as_deref())
            .and_then(session_of_user_id)
            .or_else(|| req.conversation_id.as_deref().filter(|c| !c.is_empty()).map(str::to_string)),
        user: req.metadata.and_then(|m| m.user_id).map(|u| u.into_owned()),
        native: Some(Native { protocol: Protocol::Anthropic, body: body.clone(), headers: forwarded }),
        media: None,
    })
}

/// The session in `metadata.user_id`: Claude Code sends a JSON object in that string with a
/// `session_id`; other clients send an opaque id, which is used whole.
fn session_of_user_id(user_id: &str) -> Option<String> {
    if user_id.is_empty() {
        return None;
    }
    let embedded = serde_json::from_str::<serde_json::Value>(user_id)
        .ok()
        .and_then(|v| v.get("session_id").and_then(|s| s.as_str()).map(str::to_string));
    Some(embedded.unwrap_or_else(|| user_id.to_string()))
}

/// Budget used when a client enables thinking without saying how much.
const DEFAULT_THINKING_BUDGET: u32 = 4096;

fn content(c: StringOrParts<'_, ContentBlock<'_>>) -> Vec<Block> {
    match c {
        StringOrParts::String(s) => vec![Block::Text(Text::from(s.into_owned()))],
        StringOrParts::Parts(blocks) => blocks.into_iter().filter_map(block).collect(),
    }
}

fn block(b: ContentBlock<'_>) -> Option<Block> {
    Some(match b {
        ContentBlock::Text { text } => Block::Text(Text::from(text.into_owned())),
        ContentBlock::Image { source } => Block::Image(media(source)?),
        ContentBlock::Document { source, title } => {
            Block::Document { source: media(source)?, title: title.map(|t| t.into_owned()) }
        }
        ContentBlock::ToolUse { id, name, input } => Block::ToolUse {
            id: id.into_owned(),
            name: name.into_owned(),
            input: input.map(|i| i.0).unwrap_or_else(crate::ir::RawJson::empty_object),
        },
        ContentBlock::ToolResult { tool_use_id, content: c, is_error } => Block::ToolResult {
            tool_use_id: tool_use_id.into_owned(),
            content: c.map(content).unwrap_or_default(),
            is_error: is_error.unwrap_or(false),
        },
        ContentBlock::Thinking { thinking, signature } => Block::Thinking {
            text: Text::from(thinking.into_owned()),
            signature: signature.map(|s| s.into_owned()).filter(|s| !s.is_empty()),
        },
        ContentBlock::RedactedThinking { data } => Block::RedactedThinking { data: data.into_owned() },
        ContentBlock::Other => return None,
    })
}

fn media(source: Source<'_>) -> Option<MediaSource> {
    Some(match source {
        Source::Base64 { media_type, data } => {
            MediaSource::Base64 { media_type: media_type.into_owned(), data: data.into_owned() }
        }
        Source::Url { url } => MediaSource::Url(url.into_owned()),
        Source::Text { media_type, data } => MediaSource::Text {
            media_type: media_type.map(|m| m.into_owned()).unwrap_or_else(|| "text/plain".to_string()),
            data: data.into_owned(),
        },
        Source::Other => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(json: &str) -> Result<ChatRequest, ApiError> {
        parse(&Bytes::from(json.to_string()), &HeaderMap::new())
    }

    #[test]
    fn claude_code_shaped_request_parses_with_unknown_fields() {
        let req = parse_str(
            r#"{"model":"claude-sonnet-4-5","max_tokens":32000,"stream":true,
            "system":[{"type":"text","text":"You are Claude Code.","cache_control":{"type":"ephemeral"}}],
            "thinking":{"type":"adaptive"},"context_management":{"edits":[]},"output_config":{"effort":"high"},
            "metadata":{"user_id":"{\"device_id\":\"d\",\"session_id\":\"s\"}"},
            "tools":[{"name":"Bash","description":"Run","input_schema":{"type":"object","properties":{"command":{"type":"string"}}}},
                     {"type":"web_search_20250305","name":"web_search","max_uses":5}],
            "messages":[
              {"role":"user","content":"hi"},
              {"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"sig"},{"type":"text","text":"ok"},{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}}]},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"a.txt"}],"is_error":false,"cache_control":{"type":"ephemeral"}}]},
              {"role":"system","content":"mid-conversation note"},
              {"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}},{"type":"server_tool_use","id":"x","name":"web_search","input":{}}]}
            ]}"#,
        )
        .unwrap();
        assert_eq!(req.model, "claude-sonnet-4-5");
        assert!(req.stream);
        assert_eq!(req.max_tokens, Some(32000));
        assert_eq!(req.system, vec![Text::from("You are Claude Code.")]);
        assert_eq!(req.thinking, Some(Thinking::Adaptive));
        assert_eq!(req.tools.len(), 1, "server tools are not client tools");
        assert_eq!(
            req.tools[0].input_schema.get(),
            r#"{"type":"object","properties":{"command":{"type":"string"}}}"#
        );
        assert_eq!(req.messages.len(), 5);
        assert_eq!(req.messages[3].role, Role::System);
        match &req.messages[1].content[..] {
            [Block::Thinking { signature: Some(s), .. }, Block::Text(_), Block::ToolUse { input, .. }] => {
                assert_eq!(s, "sig");
                assert_eq!(input.get(), r#"{"command":"ls"}"#);
            }
            other => panic!("{other:?}"),
        }
        match &req.messages[2].content[..] {
            [Block::ToolResult { tool_use_id, content, is_error: false }] => {
                assert_eq!(tool_use_id, "t1");
                assert!(matches!(&content[..], [Block::Text(t)] if t == "a.txt"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(req.messages[4].content.len(), 1, "unknown block types are dropped from the IR");
        assert!(req.user.as_deref().unwrap().contains("session_id"));
        assert_eq!(req.session.as_deref(), Some("s"), "Claude Code's session id inside metadata.user_id");
        assert_eq!(req.native.as_ref().map(|n| n.protocol), Some(Protocol::Anthropic));
    }

    #[test]
    fn missing_fields_and_bad_json_are_client_errors() {
        assert_eq!(parse_str(r#"{"messages":[]}"#).unwrap_err().param, Some("model"));
        assert_eq!(parse_str(r#"{"model":"m"}"#).unwrap_err().param, Some("messages"));
        assert_eq!(parse_str("{not json").unwrap_err().code, "invalid_json");
        assert_eq!(parse_str("").unwrap_err().code, "invalid_json");
        let e = parse_str(r#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("robot"));
        let e = parse_str(r#"{"model":"m","messages":"nope"}"#).unwrap_err();
        assert_eq!(e.code, "invalid_request");
    }

    #[test]
    fn forwarded_headers_are_kept() {
        let mut headers = HeaderMap::new();
        headers.insert("anthropic-beta", "interleaved-thinking-2025-05-14".parse().unwrap());
        headers.insert("x-other", "no".parse().unwrap());
        let req = parse(&Bytes::from_static(br#"{"model":"m","messages":[]}"#), &headers).unwrap();
        let native = req.native.unwrap();
        assert_eq!(native.headers.len(), 1);
        assert_eq!(native.headers[0].0, "anthropic-beta");
    }
}
