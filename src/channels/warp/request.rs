//! `ChatRequest` → Warp `Request` (fact sheet §2.4–2.6, the HEAD design): only the latest turn is
//! sent, the history lives in Warp's server-side conversation (`metadata.conversation_id`).
//!
//! - the query is the text of the last user message; the system prompt is prefixed as
//!   `Instructions:` only on a conversation's first turn;
//! - tool results of the trailing user turn go back as typed `tool_call_result`s, of the type of
//!   the call that issued them (the binding, §2.6);
//! - the client's tools are one MCP server (§2.5 limits: 32 tools, 512-char descriptions,
//!   reduced schemas of at most 4096 bytes); the native Warp tools whose Claude Code counterpart
//!   the client declared are allowed too, everything else Warp could run itself is not.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::wire::{self, *};
use crate::ir::{Block, ChatRequest, Role};

/// How many client tools are forwarded at most.
pub(crate) const MAX_TOOLS: usize = 32;
/// Longest tool description, the truncation marker included.
pub(crate) const MAX_DESCRIPTION: usize = 512;
/// Longest tool schema (serialized JSON) before it is stripped, then replaced.
pub(crate) const MAX_SCHEMA: usize = 4096;
const TRUNCATED: &str = "...[truncated]";
/// The query of a turn that has neither text nor tool results.
const PLACEHOLDER_QUERY: &str = "warp request";

/// A tool result of the latest turn.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PendingResult {
    pub(crate) tool_use_id: String,
    pub(crate) text: String,
    pub(crate) is_error: bool,
}

/// What a tool result needs to be encoded: the issuing call's Warp type and input.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct CallInfo {
    pub(crate) warp_type: String,
    pub(crate) input: Value,
}

/// The latest turn: its text and its tool results.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Turn {
    pub(crate) query: String,
    pub(crate) results: Vec<PendingResult>,
}

/// Reads the trailing user turn of `request`.
pub(crate) fn latest_turn(request: &ChatRequest) -> Turn {
    let mut turn = Turn::default();
    let trailing: Vec<_> = request.messages.iter().rev().take_while(|m| m.role == Role::User).collect();
    let mut seen = HashSet::new();
    for m in trailing.iter().rev() {
        for b in &m.content {
            if let Block::ToolResult { tool_use_id, content, is_error } = b
                && !tool_use_id.is_empty()
                && seen.insert(tool_use_id.clone())
            {
                turn.results.push(PendingResult {
                    tool_use_id: tool_use_id.clone(),
                    text: texts(content, "\n"),
                    is_error: *is_error,
                });
            }
        }
    }
    if let Some(last) = trailing.first() {
        turn.query = texts(&last.content, "\n\n");
    }
    turn
}

fn texts(blocks: &[Block], separator: &str) -> String {
    let parts: Vec<&str> = blocks
        .iter()
        .filter_map(|b| match b {
            Block::Text(t) if !t.as_str().trim().is_empty() => Some(t.as_str()),
            _ => None,
        })
        .collect();
    parts.join(separator)
}

/// Messages of a transcript at most (the latest ones).
const TRANSCRIPT_MESSAGES: usize = 40;
/// Longest text of one transcript entry, in characters.
const TRANSCRIPT_ENTRY: usize = 4000;

fn cut(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(limit).collect();
    out.push('…');
    out
}

/// The messages before the latest user turn as text (`User:` / `Assistant:` lines, tool calls and
/// results in brackets); `None` when there are none.
pub(crate) fn transcript(request: &ChatRequest) -> Option<String> {
    let trailing = request.messages.iter().rev().take_while(|m| m.role == Role::User).count();
    let earlier = &request.messages[..request.messages.len() - trailing];
    let earlier = &earlier[earlier.len().saturating_sub(TRANSCRIPT_MESSAGES)..];
    let mut lines = Vec::new();
    for m in earlier {
        let who = match m.role {
            Role::User => "User",
            Role::Assistant => "Assistant",
            Role::System => continue,
        };
        for b in &m.content {
            let line = match b {
                Block::Text(t) if !t.as_str().trim().is_empty() => {
                    format!("{who}: {}", cut(t.as_str(), TRANSCRIPT_ENTRY))
                }
                Block::ToolUse { name, input, .. } => {
                    format!("{who}: [tool_use {name} {}]", cut(input.get(), TRANSCRIPT_ENTRY))
                }
                Block::ToolResult { content, is_error, .. } => {
                    let kind = if *is_error { "tool_error" } else { "tool_result" };
                    format!("{who}: [{kind}] {}", cut(&texts(content, "\n"), TRANSCRIPT_ENTRY))
                }
                _ => continue,
            };
            lines.push(line);
        }
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// The system prompt: top-level system texts and mid-conversation system messages.
pub(crate) fn system_text(request: &ChatRequest) -> String {
    let mut parts: Vec<String> = request.system.iter().map(|t| t.as_str().to_owned()).collect();
    for m in request.messages.iter().filter(|m| m.role == Role::System) {
        parts.push(texts(&m.content, "\n"));
    }
    parts.retain(|p| !p.trim().is_empty());
    parts.join("\n")
}

/// The first user message's text (with the system prompt, what identifies a conversation of a
/// client that names no session).
pub(crate) fn first_user_text(request: &ChatRequest) -> String {
    request
        .messages
        .iter()
        .find(|m| m.role == Role::User)
        .map(|m| texts(&m.content, "\n"))
        .unwrap_or_default()
}

/// The working directory a Claude-Code-style system prompt names, else `/`.
fn working_directory(system: &str) -> String {
    for marker in ["Working directory: ", "Primary working directory: ", "cwd: "] {
        if let Some(start) = system.find(marker) {
            let rest = &system[start + marker.len()..];
            let dir = rest.split_whitespace().next().unwrap_or("");
            if dir.starts_with('/') || dir.contains(":\\") {
                return dir.to_owned();
            }
        }
    }
    "/".to_owned()
}

/// Everything a request needs besides the client's request.
pub(crate) struct Context<'a> {
    /// The server conversation to continue; `None` starts one.
    pub(crate) conversation_id: Option<&'a str>,
    /// The Warp model id.
    pub(crate) model: &'a str,
    /// The account's role models; `cli-agent-auto` / `computer-use-agent-auto` when unknown.
    pub(crate) cli_agent: Option<&'a str>,
    pub(crate) computer_use_agent: Option<&'a str>,
    pub(crate) now_ms: i64,
}

/// Builds the request; `calls` has one entry per `turn.results`, in order.
pub(crate) fn build(request: &ChatRequest, turn: &Turn, calls: &[CallInfo], cx: &Context) -> Request {
    let system = system_text(request);
    let mut query = turn.query.clone();
    if cx.conversation_id.is_none()
        && let Some(history) = transcript(request)
    {
        // A history Warp never saw (its conversation expired, or began elsewhere): carried as text.
        query = format!("Conversation so far:\n{history}\n\nUser: {query}");
    }
    if cx.conversation_id.is_none() && !system.is_empty() {
        query = if query.is_empty() {
            format!("Instructions:\n{system}")
        } else {
            format!("Instructions:\n{system}\n\n{query}")
        };
    }
    let mut inputs: Vec<UserInput> = turn
        .results
        .iter()
        .zip(calls.iter().chain(std::iter::repeat(&CallInfo::default())))
        .map(|(r, call)| UserInput::tool_result(r.tool_use_id.clone(), tool_result(r, call)))
        .collect();
    if !query.is_empty() || inputs.is_empty() {
        inputs.push(UserInput::query(if query.is_empty() { PLACEHOLDER_QUERY.to_owned() } else { query }));
    }
    let tools = mcp_tools(request);
    let native = native_tools(&tools);
    let roles = (
        cx.cli_agent.unwrap_or("cli-agent-auto"),
        cx.computer_use_agent.unwrap_or("computer-use-agent-auto"),
    );
    let mut settings = Settings::head(ModelConfig::head(cx.model, roles.0, roles.1), false);
    if !tools.is_empty() {
        settings.supported_tools = native.iter().chain([&ToolType::CallMcpTool]).map(|t| *t as i32).collect();
    }
    Request {
        task_context: Some(TaskContext::default()),
        input: Some(Input {
            context: Some(InputContext::head(&working_directory(&system), "Linux", "zsh", cx.now_ms)),
            r#type: Some(input::Type::UserInputs(UserInputs { inputs })),
        }),
        settings: Some(settings),
        metadata: Some(Metadata {
            conversation_id: cx.conversation_id.map(str::to_owned),
            ..Default::default()
        }),
        existing_suggestions: None,
        mcp_context: (!tools.is_empty()).then(|| McpContext {
            servers: vec![McpServer {
                name: Some("client".to_owned()),
                description: Some("Tools declared by the client request".to_owned()),
                id: Some("client-request-tools".to_owned()),
                tools,
                resources: Vec::new(),
            }],
            ..Default::default()
        }),
    }
}

/// The native tool types the client can take over: those whose Claude Code tool it declared
/// (among the tools forwarded).
fn native_tools(tools: &[McpTool]) -> Vec<ToolType> {
    let has = |name: &str| tools.iter().any(|t| t.name.as_deref() == Some(name));
    let mut types = Vec::new();
    if has("Bash") {
        types.push(ToolType::RunShellCommand);
    }
    if has("Read") {
        types.push(ToolType::ReadFiles);
    }
    if has("Edit") && has("Write") {
        types.push(ToolType::ApplyFileDiffs);
    }
    if has("Grep") {
        types.push(ToolType::Grep);
    }
    if has("Glob") {
        types.extend([ToolType::FileGlob, ToolType::FileGlobV2]);
    }
    types
}

/// The client's tools as MCP tools, within the §2.5 limits.
pub(crate) fn mcp_tools(request: &ChatRequest) -> Vec<McpTool> {
    let mut seen = HashSet::new();
    request
        .tools
        .iter()
        .filter(|t| !t.name.trim().is_empty() && seen.insert(t.name.to_lowercase()))
        .take(MAX_TOOLS)
        .map(|t| McpTool {
            name: Some(t.name.clone()),
            description: t.description.as_deref().map(cut_description),
            input_schema: Some(
                serde_json::from_str::<Value>(t.input_schema.get())
                    .ok()
                    .map(|s| reduce_schema(&s))
                    .and_then(|s| Struct::from_json(&s))
                    .unwrap_or_default(),
            ),
        })
        .collect()
}

fn cut_description(text: &str) -> String {
    if text.chars().count() <= MAX_DESCRIPTION {
        return text.to_owned();
    }
    let keep = MAX_DESCRIPTION - TRUNCATED.chars().count();
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(TRUNCATED);
    out
}

/// Keeps `type, description, properties, required, enum, items` (recursively); over
/// [`MAX_SCHEMA`] bytes without descriptions, then an empty object schema.
pub(crate) fn reduce_schema(schema: &Value) -> Value {
    let reduced = keep_keys(schema, true);
    if reduced.to_string().len() <= MAX_SCHEMA {
        return reduced;
    }
    let bare = keep_keys(schema, false);
    if bare.to_string().len() <= MAX_SCHEMA {
        return bare;
    }
    serde_json::json!({"type": "object", "properties": {}})
}

fn keep_keys(schema: &Value, descriptions: bool) -> Value {
    let Some(object) = schema.as_object() else { return schema.clone() };
    let mut out = Map::new();
    for (k, v) in object {
        let kept = match k.as_str() {
            "type" | "required" | "enum" => v.clone(),
            "description" if descriptions => v.clone(),
            "items" => keep_keys(v, descriptions),
            "properties" => match v.as_object() {
                Some(props) => Value::Object(
                    props.iter().map(|(name, p)| (name.clone(), keep_keys(p, descriptions))).collect(),
                ),
                None => continue,
            },
            _ => continue,
        };
        out.insert(k.clone(), kept);
    }
    Value::Object(out)
}

/// `exit( code| status)?[:=]? N`, case-insensitive; else 1 for an error, 0 otherwise (§2.6).
pub(crate) fn exit_code(text: &str, is_error: bool) -> i32 {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find("exit") {
        let mut rest = &lower[from + at + 4..];
        for word in [" code", " status"] {
            if let Some(r) = rest.strip_prefix(word) {
                rest = r;
                break;
            }
        }
        let rest = rest.trim_start_matches([':', '=']).trim_start();
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '-').collect();
        if let Ok(code) = digits.parse() {
            return code;
        }
        from += at + 4;
    }
    i32::from(is_error)
}

fn input_str(input: &Value, keys: &[&str]) -> String {
    keys.iter().find_map(|k| input.get(*k).and_then(Value::as_str)).unwrap_or_default().to_owned()
}

/// The typed result of one tool call (§2.6).
pub(crate) fn tool_result(result: &PendingResult, call: &CallInfo) -> tool_call_result::Result {
    use tool_call_result::Result as R;
    let text = result.text.clone();
    let error = || ToolError { message: Some(text.clone()) };
    let finished = || ShellCommandFinished {
        output: Some(text.clone()),
        exit_code: Some(exit_code(&text, result.is_error)),
        command_id: None,
    };
    match call.warp_type.as_str() {
        "run_shell_command" => R::RunShellCommand(RunShellCommandResult {
            command: Some(input_str(&call.input, &["command", "cmd"])),
            result: Some(run_shell_command_result::Result::CommandFinished(finished())),
            ..Default::default()
        }),
        "write_to_long_running_shell_command" => {
            R::WriteToLongRunningShellCommand(WriteToLongRunningShellCommandResult {
                result: Some(write_to_long_running_shell_command_result::Result::CommandFinished(finished())),
            })
        }
        "read_files" => R::ReadFiles(ReadFilesResult {
            result: Some(if result.is_error {
                read_files_result::Result::Error(error())
            } else {
                read_files_result::Result::TextFilesSuccess(TextFilesSuccess {
                    files: vec![FileContent {
                        file_path: Some(input_str(&call.input, &["file_path", "path"])),
                        content: Some(text.clone()),
                        line_range: None,
                    }],
                })
            }),
        }),
        "apply_file_diffs" => R::ApplyFileDiffs(ApplyFileDiffsResult {
            result: Some(if result.is_error {
                apply_file_diffs_result::Result::Error(error())
            } else {
                apply_file_diffs_result::Result::Success(wire::Empty {})
            }),
        }),
        "file_glob" => R::FileGlob(FileGlobResult {
            result: Some(if result.is_error {
                file_glob_result::Result::Error(error())
            } else {
                file_glob_result::Result::Success(FileGlobSuccess { matched_files: Some(text.clone()) })
            }),
        }),
        "file_glob_v2" => R::FileGlobV2(FileGlobV2Result {
            result: Some(if result.is_error {
                file_glob_v2_result::Result::Error(error())
            } else {
                file_glob_v2_result::Result::Success(FileGlobV2Success {
                    matched_files: text
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(|l| FileGlobMatch { file_path: Some(l.to_owned()) })
                        .collect(),
                    warnings: None,
                })
            }),
        }),
        "grep" | "search_codebase" => R::Grep(GrepResult {
            result: Some(if result.is_error {
                grep_result::Result::Error(error())
            } else {
                grep_result::Result::Success(GrepSuccess { matched_files: grep_matches(&text) })
            }),
        }),
        _ => R::CallMcpTool(CallMcpToolResult {
            result: Some(if result.is_error {
                call_mcp_tool_result::Result::Error(error())
            } else {
                call_mcp_tool_result::Result::Success(McpSuccess {
                    results: vec![McpResultItem {
                        result: Some(mcp_result_item::Result::Text(McpText { text: Some(text.clone()) })),
                    }],
                })
            }),
        }),
    }
}

/// `path:N:` / `path:N-` lines grouped per file; a bare path line is a file without line numbers.
fn grep_matches(text: &str) -> Vec<GrepFileMatch> {
    let mut files: Vec<GrepFileMatch> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let numbered = line.split_once(':').and_then(|(path, rest)| {
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let ends = rest[digits..].starts_with([':', '-']) || rest.len() == digits;
            (digits > 0 && ends).then(|| (path, rest[..digits].parse::<u32>().ok()))
        });
        let (path, number) = numbered.unwrap_or((line, None));
        let index = match files.iter().position(|f| f.file_path.as_deref() == Some(path)) {
            Some(i) => i,
            None => {
                files.push(GrepFileMatch { file_path: Some(path.to_owned()), matched_lines: Vec::new() });
                files.len() - 1
            }
        };
        if let Some(n) = number {
            files[index].matched_lines.push(GrepLineMatch { line_number: Some(n) });
        }
    }
    files
}
