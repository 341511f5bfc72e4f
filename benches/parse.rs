//! Request parsing and routing: the work the gateway does on a request before it calls upstream.
//!
//! `parse/<dialect>/<request>` parses a request body into the IR with the dialect's `parse`, as
//! the server does after reading the body (the result is dropped inside the timing, as it is once
//! the request is answered). Two requests per dialect, the same conversation in each dialect's
//! words:
//!
//! - `small`: one user message, the shape of every SDK's hello-world;
//! - `claude_code_80KiB`: the shape of a Claude Code turn, about 80 KiB: two system blocks
//!   with `cache_control`, 24 tools with JSON schemas, and a 25-message history of text,
//!   thinking, `tool_use` and `tool_result` blocks (file contents, command output), plus the
//!   unknown fields Claude Code sends (`context_management`, `metadata`).
//!
//! Throughput is bytes of request body. Before the groups run, the allocations of one parse of
//! each request are counted and printed (parsing allocates: the IR owns its strings).
//!
//! `route/<request>` matches one method and path with `server::router::route`.

use bytes::Bytes;
use criterion::{Criterion, Throughput};
use http::{HeaderMap, HeaderValue, Method};
use orchids2api::dialect::{anthropic, openai};
use orchids2api::server::router::route;
use serde_json::{Value, json};
use std::hint::black_box;
use std::sync::atomic::Ordering;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{ALLOCATIONS, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A fixed pseudo-random sequence, so every run parses the same requests.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % below
    }

    /// About `bytes` of prose, with the line breaks and quotes that make JSON escape it.
    fn prose(&mut self, bytes: usize) -> String {
        const WORDS: [&str; 16] = [
            "the", "file", "function", "returns", "an", "error", "when", "config", "is", "missing", "so",
            "we", "should", "check", "\"path\"", "first",
        ];
        let mut text = String::with_capacity(bytes + 16);
        while text.len() < bytes {
            text.push_str(WORDS[self.next(WORDS.len())]);
            text.push(if self.next(12) == 0 { '\n' } else { ' ' });
        }
        text
    }
}

/// A tool of Claude Code's kind: a long description and a JSON schema with described properties.
struct ToolSpec {
    name: String,
    description: String,
    schema: Value,
}

fn tools(rng: &mut Lcg) -> Vec<ToolSpec> {
    const NAMES: [&str; 24] = [
        "Task",
        "Bash",
        "Glob",
        "Grep",
        "ExitPlanMode",
        "Read",
        "Edit",
        "MultiEdit",
        "Write",
        "NotebookEdit",
        "WebFetch",
        "TodoWrite",
        "WebSearch",
        "BashOutput",
        "KillShell",
        "SlashCommand",
        "ListMcpResources",
        "ReadMcpResource",
        "mcp__ide__getDiagnostics",
        "mcp__ide__executeCode",
        "mcp__github__get_issue",
        "mcp__github__create_pull_request",
        "mcp__github__search_code",
        "mcp__linear__list_issues",
    ];
    NAMES
        .iter()
        .map(|name| {
            let mut properties = serde_json::Map::new();
            let mut required = Vec::new();
            for p in 0..2 + rng.next(4) {
                let key = format!("param_{p}");
                let kind = ["string", "number", "boolean", "array"][rng.next(4)];
                let mut prop = json!({"type": kind, "description": rng.prose(90)});
                if kind == "array" {
                    prop["items"] = json!({"type": "string"});
                }
                if p < 2 {
                    required.push(key.clone());
                }
                properties.insert(key, prop);
            }
            ToolSpec {
                name: (*name).to_string(),
                description: rng.prose(1300),
                schema: json!({
                    "type": "object",
                    "properties": properties,
                    "required": required,
                    "additionalProperties": false,
                    "$schema": "http://json-schema.org/draft-07/schema#",
                }),
            }
        })
        .collect()
}

/// One turn of the history: the assistant calls a tool, the user returns its result.
struct Turn {
    thinking: String,
    text: String,
    call_id: String,
    tool: String,
    input: Value,
    result: String,
}

fn history(rng: &mut Lcg, tools: &[ToolSpec]) -> (String, Vec<Turn>) {
    let task = rng.prose(600);
    let turns = (0..12)
        .map(|i| Turn {
            thinking: rng.prose(200),
            text: rng.prose(120),
            call_id: format!("toolu_01{i:02}AbCdEfGhIjKlMnOpQrSt"),
            tool: tools[rng.next(tools.len())].name.clone(),
            input: json!({"file_path": format!("/home/dev/project/src/module_{i}.rs"), "limit": 400}),
            result: rng.prose(1200),
        })
        .collect();
    (task, turns)
}

/// The Claude-Code-sized request in the Anthropic Messages dialect.
fn anthropic_claude_code() -> Bytes {
    let mut rng = Lcg(3);
    let tools = tools(&mut rng);
    let (task, turns) = history(&mut rng, &tools);
    let mut messages = vec![json!({"role": "user", "content": [
        {"type": "text", "text": format!("<system-reminder>\n{}\n</system-reminder>", rng.prose(400))},
        {"type": "text", "text": task},
    ]})];
    for turn in &turns {
        messages.push(json!({"role": "assistant", "content": [
            {"type": "thinking", "thinking": turn.thinking, "signature": "EqQBCkYIBxgCKkB0b2tlbnMgYXJlIG9wYXF1ZQ=="},
            {"type": "text", "text": turn.text},
            {"type": "tool_use", "id": turn.call_id, "name": turn.tool, "input": turn.input},
        ]}));
        messages.push(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": turn.call_id, "content": turn.result, "is_error": false},
        ]}));
    }
    if let Some(Value::Array(content)) = messages.last_mut().map(|m| &mut m["content"]) {
        content[0]["cache_control"] = json!({"type": "ephemeral"});
    }
    let body = json!({
        "model": "claude-sonnet-4-5-20250929",
        "messages": messages,
        "temperature": 1,
        "system": [
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": rng.prose(6000), "cache_control": {"type": "ephemeral"}},
        ],
        "tools": tools.iter().map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.schema})).collect::<Vec<_>>(),
        "metadata": {"user_id": "user_5c1f3e0c9a_account__session_7d2b1c4e-3f5a-4b6c-8d9e-0f1a2b3c4d5e"},
        "max_tokens": 32000,
        "thinking": {"type": "enabled", "budget_tokens": 31999},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "stream": true,
    });
    Bytes::from(serde_json::to_vec(&body).expect("a Value serializes"))
}

/// The same conversation in the OpenAI Chat Completions dialect.
fn openai_claude_code() -> Bytes {
    let mut rng = Lcg(3);
    let tools = tools(&mut rng);
    let (task, turns) = history(&mut rng, &tools);
    let mut messages = vec![
        json!({"role": "system", "content": "You are Claude Code, Anthropic's official CLI for Claude."}),
        json!({"role": "system", "content": rng.prose(6000)}),
        json!({"role": "user", "content": [
            {"type": "text", "text": format!("<system-reminder>\n{}\n</system-reminder>", rng.prose(400))},
            {"type": "text", "text": task},
        ]}),
    ];
    for turn in &turns {
        messages.push(json!({
            "role": "assistant",
            "content": turn.text,
            "reasoning_content": turn.thinking,
            "tool_calls": [{"id": turn.call_id, "type": "function", "function": {"name": turn.tool, "arguments": turn.input.to_string()}}],
        }));
        messages.push(json!({"role": "tool", "tool_call_id": turn.call_id, "content": turn.result}));
    }
    let body = json!({
        "model": "gpt-4.1",
        "messages": messages,
        "tools": tools.iter().map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.schema}})).collect::<Vec<_>>(),
        "tool_choice": "auto",
        "temperature": 1,
        "max_completion_tokens": 32000,
        "stream": true,
        "stream_options": {"include_usage": true},
        "user": "user_5c1f3e0c9a",
    });
    Bytes::from(serde_json::to_vec(&body).expect("a Value serializes"))
}

const ANTHROPIC_SMALL: &[u8] =
    br#"{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Hello, Claude"}]}"#;
const OPENAI_SMALL: &[u8] = br#"{"model":"gpt-4o","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Hello!"}]}"#;

/// The headers Claude Code sends that the Anthropic parser looks at.
fn anthropic_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
    headers.insert(
        "anthropic-beta",
        HeaderValue::from_static(
            "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27",
        ),
    );
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers
}

/// A request to parse: its bench id, body and dialect.
struct Case {
    id: &'static str,
    body: Bytes,
    anthropic: bool,
}

fn cases() -> Vec<Case> {
    let cases = vec![
        Case { id: "anthropic/small", body: Bytes::from_static(ANTHROPIC_SMALL), anthropic: true },
        Case { id: "anthropic/claude_code_80KiB", body: anthropic_claude_code(), anthropic: true },
        Case { id: "openai/small", body: Bytes::from_static(OPENAI_SMALL), anthropic: false },
        Case { id: "openai/claude_code_80KiB", body: openai_claude_code(), anthropic: false },
    ];
    for case in &cases {
        if case.id.ends_with("80KiB") {
            let kib = case.body.len() / 1024;
            assert!((72..=88).contains(&kib), "{} is {kib} KiB, not about 80", case.id);
        }
    }
    cases
}

/// Parses one request; panics if it does not parse.
fn parse(case: &Case, headers: &HeaderMap) -> usize {
    if case.anthropic {
        let request = anthropic::parse(&case.body, headers).expect("the bench requests are valid");
        request.messages.len()
    } else {
        let (request, _) = openai::parse(&case.body).expect("the bench requests are valid");
        request.messages.len()
    }
}

fn print_allocations(cases: &[Case], headers: &HeaderMap) {
    for case in cases {
        parse(case, headers);
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let messages = parse(case, headers);
        let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
        println!(
            "allocations/parse/{}: {allocations} for {} bytes ({messages} messages in the IR)",
            case.id,
            case.body.len()
        );
    }
}

const ROUTES: [(&str, &str, &str); 6] = [
    ("post_messages", "POST", "/v1/messages"),
    ("post_chat_completions", "POST", "/v1/chat/completions"),
    ("post_pinned_messages", "POST", "/anthropic/v1/messages?beta=true"),
    ("get_model_with_slash", "GET", "/v1/models/meta-llama/Llama-3.3-70B-Instruct"),
    ("get_health", "GET", "/health"),
    ("post_not_found", "POST", "/v1/messages/batches"),
];

fn main() {
    let headers = anthropic_headers();
    let cases = cases();
    print_allocations(&cases, &headers);
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("parse");
    for case in &cases {
        group.throughput(Throughput::Bytes(case.body.len() as u64));
        group.bench_function(case.id, |b| b.iter(|| parse(black_box(case), &headers)));
    }
    group.finish();
    let mut group = c.benchmark_group("route");
    for (id, method, uri) in ROUTES {
        let method = Method::from_bytes(method.as_bytes()).expect("a constant method");
        // The router sees the path without the query, as `Uri::path` gives it.
        let uri: http::Uri = uri.parse().expect("a constant path");
        group.bench_function(id, |b| b.iter(|| black_box(route(black_box(&method), black_box(uri.path())))));
    }
    group.finish();
    c.final_summary();
}
