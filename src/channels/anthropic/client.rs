//! The upstream request for the Anthropic API: the client's own body (model, streaming and
//! gateway-signed thinking adjusted) when the client speaks Anthropic, otherwise built from the IR.

use crate::ir::{
    Block, ChatRequest, GATEWAY_SIGNATURE_PREFIX, MediaSource, Protocol, Role, Thinking, ToolChoice,
};
use crate::protocol::anthropic::{
    OutBlock, OutMessage, OutMetadata, OutRequest, OutSource, OutText, OutThinking, OutTool, OutToolChoice,
};
use crate::protocol::edit::{Edit, edit_object};

/// `max_tokens` when the client set none (the Anthropic API requires one).
pub const DEFAULT_MAX_TOKENS: u32 = 8192;
/// Room for the answer on top of a thinking budget.
const ANSWER_HEADROOM: u32 = 4096;
/// The smallest thinking budget the API accepts.
const MIN_THINKING_BUDGET: u32 = 1024;

/// The JSON body to send for `request` under the upstream model id `model`; always streaming.
pub fn body(request: &ChatRequest, model: &str) -> Vec<u8> {
    if let Some(native) = request.native.as_ref().filter(|n| n.protocol == Protocol::Anthropic) {
        let model_json = serde_json::to_vec(model).unwrap_or_default();
        let default_max = DEFAULT_MAX_TOKENS.to_string();
        let edits = [
            Edit::Set("model", &model_json),
            Edit::Set("stream", b"true"),
            Edit::Default("max_tokens", default_max.as_bytes()),
        ];
        // Thinking blocks signed by the gateway (or unsigned) came from another channel: the
        // Anthropic API would reject them, so that rare body is rebuilt; every other body is
        // forwarded byte for byte apart from the top-level edits.
        let edited = match strip_foreign_thinking(&native.body) {
            Some(cleaned) => edit_object(&cleaned, &edits),
            None => edit_object(&native.body, &edits),
        };
        if let Ok(body) = edited {
            return body;
        }
    }
    serde_json::to_vec(&out_request(request, model)).unwrap_or_default()
}

/// The body without thinking blocks this upstream did not sign, or `None` if it has none.
fn strip_foreign_thinking(body: &[u8]) -> Option<Vec<u8>> {
    let mentions_thinking = memchr::memmem::find(body, b"\"thinking\"").is_some();
    if !mentions_thinking {
        return None;
    }
    let mut v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let mut changed = false;
    for message in v.get_mut("messages")?.as_array_mut()? {
        let Some(blocks) = message.get_mut("content").and_then(|c| c.as_array_mut()) else { continue };
        let before = blocks.len();
        blocks.retain(|b| {
            b.get("type").and_then(|t| t.as_str()) != Some("thinking")
                || b.get("signature")
                    .and_then(|s| s.as_str())
                    .is_some_and(|s| !s.is_empty() && !s.starts_with(GATEWAY_SIGNATURE_PREFIX))
        });
        changed |= blocks.len() != before;
    }
    if changed { serde_json::to_vec(&v).ok() } else { None }
}

fn out_request<'a>(request: &'a ChatRequest, model: &'a str) -> OutRequest<'a> {
    let thinking = match request.thinking {
        Some(Thinking::Enabled { budget_tokens }) => {
            Some(OutThinking { kind: "enabled", budget_tokens: Some(budget_tokens.max(MIN_THINKING_BUDGET)) })
        }
        Some(Thinking::Adaptive) => Some(OutThinking { kind: "adaptive", budget_tokens: None }),
        Some(Thinking::Disabled) | None => None,
    };
    let mut max_tokens = request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    if let Some(OutThinking { budget_tokens: Some(budget), .. }) = &thinking {
        max_tokens = max_tokens.max(budget + ANSWER_HEADROOM);
    }
    // With thinking on, the API accepts no sampling overrides.
    let sampling = thinking.is_none();

    let mut messages: Vec<OutMessage> = Vec::with_capacity(request.messages.len());
    for m in &request.messages {
        let (role, mut blocks): (&'static str, Vec<OutBlock>) = match m.role {
            Role::User => ("user", m.content.iter().filter_map(block).collect()),
            Role::Assistant => ("assistant", m.content.iter().filter_map(block).collect()),
            // The Messages API takes system text only up front; a later system message is
            // passed on as user text.
            Role::System => ("user", text_blocks(&m.content)),
        };
        if role == "user" {
            // Tool results must open the turn that answers the tool calls.
            blocks.sort_by_key(|b| !matches!(b, OutBlock::ToolResult { .. }));
        }
        if blocks.is_empty() {
            continue;
        }
        match messages.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => messages.push(OutMessage { role, content: blocks }),
        }
    }

    OutRequest {
        model,
        max_tokens,
        system: request
            .system
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| OutText { kind: "text", text: s.as_str() })
            .collect(),
        messages,
        stop_sequences: &request.stop,
        temperature: request.temperature.filter(|_| sampling),
        top_p: request.top_p.filter(|_| sampling),
        top_k: request.top_k.filter(|_| sampling),
        tools: request
            .tools
            .iter()
            .map(|t| OutTool {
                name: &t.name,
                description: t.description.as_deref(),
                input_schema: &t.input_schema,
            })
            .collect(),
        tool_choice: request.tool_choice.as_ref().map(|c| match c {
            ToolChoice::Auto => OutToolChoice { kind: "auto", name: None },
            ToolChoice::Any => OutToolChoice { kind: "any", name: None },
            ToolChoice::None => OutToolChoice { kind: "none", name: None },
            ToolChoice::Tool(name) => OutToolChoice { kind: "tool", name: Some(name) },
        }),
        thinking,
        metadata: request.user.as_deref().map(|user_id| OutMetadata { user_id }),
        stream: true,
    }
}

fn text_blocks(content: &[Block]) -> Vec<OutBlock<'_>> {
    content
        .iter()
        .filter_map(|b| match b {
            Block::Text(t) if !t.is_empty() => Some(OutBlock::Text { text: t.as_str() }),
            _ => None,
        })
        .collect()
}

fn block(b: &Block) -> Option<OutBlock<'_>> {
    Some(match b {
        // The API rejects empty text blocks.
        Block::Text(t) if t.is_empty() => return None,
        Block::Text(t) => OutBlock::Text { text: t.as_str() },
        Block::Image(source) => OutBlock::Image { source: source_of(source) },
        Block::Document { source, title } => {
            OutBlock::Document { source: source_of(source), title: title.as_deref() }
        }
        Block::ToolUse { id, name, input } => OutBlock::ToolUse { id, name, input },
        Block::ToolResult { tool_use_id, content, is_error } => OutBlock::ToolResult {
            tool_use_id,
            content: content.iter().filter_map(block).collect(),
            is_error: *is_error,
        },
        // Only the signature Anthropic minted makes a thinking block acceptable to it.
        Block::Thinking { text, signature: Some(sig) } if !sig.starts_with(GATEWAY_SIGNATURE_PREFIX) => {
            OutBlock::Thinking { thinking: text.as_str(), signature: sig }
        }
        Block::Thinking { .. } => return None,
        Block::RedactedThinking { data } => OutBlock::RedactedThinking { data },
    })
}

fn source_of(source: &MediaSource) -> OutSource<'_> {
    match source {
        MediaSource::Base64 { media_type, data } => OutSource::Base64 { media_type, data },
        MediaSource::Url(url) => OutSource::Url { url },
        MediaSource::Text { media_type, data } => OutSource::Text { media_type, data },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Message, Native, RawJson, Text};
    use serde_json::{Value, json};

    fn native(body: &'static str) -> ChatRequest {
        ChatRequest {
            native: Some(Native {
                protocol: Protocol::Anthropic,
                body: bytes::Bytes::from_static(body.as_bytes()),
                headers: vec![],
            }),
            ..Default::default()
        }
    }

    #[test]
    fn native_bodies_travel_untouched_but_for_model_stream_and_max_tokens() {
        let req = native(
            r#"{"model":"alias","messages":[{"role":"user","content":"hi"}],"context_management":{"edits":[]},"stream":false}"#,
        );
        let out: Value = serde_json::from_slice(&body(&req, "claude-up")).unwrap();
        assert_eq!(
            out,
            json!({"model": "claude-up", "messages": [{"role": "user", "content": "hi"}], "context_management": {"edits": []}, "stream": true, "max_tokens": 8192})
        );
    }

    #[test]
    fn native_bodies_lose_thinking_the_upstream_did_not_sign() {
        let req = native(
            r#"{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[
            {"type":"thinking","thinking":"a","signature":"o2a1.xyz"},
            {"type":"thinking","thinking":"b","signature":""},
            {"type":"thinking","thinking":"c","signature":"EqQB-real"},
            {"type":"text","text":"t"}]}]}"#,
        );
        let out: Value = serde_json::from_slice(&body(&req, "m")).unwrap();
        let blocks = out["messages"][0]["content"].as_array().unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0]["signature"], "EqQB-real");
        assert_eq!(out["max_tokens"], 5);
    }

    #[test]
    fn ir_requests_convert_with_grouped_tool_results_and_no_foreign_thinking() {
        let req = ChatRequest {
            system: vec![Text::from("sys")],
            messages: vec![
                Message { role: Role::User, content: vec![Block::Text(Text::from("q"))] },
                Message {
                    role: Role::Assistant,
                    content: vec![
                        Block::Thinking { text: Text::from("r"), signature: None },
                        Block::Text(Text::from("")),
                        Block::ToolUse {
                            id: "call_1".into(),
                            name: "f".into(),
                            input: RawJson::parse(r#"{"a":1}"#).unwrap(),
                        },
                    ],
                },
                Message {
                    role: Role::User,
                    content: vec![Block::ToolResult {
                        tool_use_id: "call_1".into(),
                        content: vec![Block::Text(Text::from("ok"))],
                        is_error: false,
                    }],
                },
                Message { role: Role::User, content: vec![Block::Text(Text::from("more"))] },
                Message { role: Role::System, content: vec![Block::Text(Text::from("be brief"))] },
            ],
            thinking: Some(Thinking::Enabled { budget_tokens: 10000 }),
            temperature: Some(0.2),
            tool_choice: Some(ToolChoice::Tool("f".into())),
            ..Default::default()
        };
        let out: Value = serde_json::from_slice(&body(&req, "claude-up")).unwrap();
        assert_eq!(out["max_tokens"], 14096);
        assert_eq!(out["thinking"], json!({"type": "enabled", "budget_tokens": 10000}));
        assert!(out.get("temperature").is_none());
        assert_eq!(out["system"], json!([{"type": "text", "text": "sys"}]));
        assert_eq!(out["tool_choice"], json!({"type": "tool", "name": "f"}));
        let m = out["messages"].as_array().unwrap();
        assert_eq!(m.len(), 3, "consecutive user turns merge");
        assert_eq!(
            m[1]["content"],
            json!([{"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}}])
        );
        assert_eq!(
            m[2]["content"][0],
            json!({"type": "tool_result", "tool_use_id": "call_1", "content": [{"type": "text", "text": "ok"}]})
        );
        assert_eq!(m[2]["content"][1], json!({"type": "text", "text": "more"}));
        assert_eq!(m[2]["content"][2], json!({"type": "text", "text": "be brief"}));
    }
}
