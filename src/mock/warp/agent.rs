//! `POST /ai/multi-agent`: decodes the protobuf `Request`, checks it, and plays the scenario as
//! `data: <base64url(ResponseEvent)>` SSE frames (fact sheet §2, §3, §6.1, §10).
//!
//! **Checks**, in order: a live bearer ID token (401); `content-type: application/x-protobuf`
//! (400); a body that decodes as a `Request` (400 `invalid AIAgentRequest: cannot parse invalid
//! wire-format data …`); `input.user_inputs` with at least one input, each a user query or a tool
//! result with a `tool_call_id`, and a non-empty `settings.model_config.base` (400
//! `invalid AIAgentRequest: …`). Tool results must continue a conversation
//! (`metadata.conversation_id`) in which the mock issued every one of their `tool_call_id`s (400
//! `Invalid request: unknown tool_call_id …`).
//!
//! **Frames** are base64url *with* padding, as the live capture (§7.1). A turn is `init` →
//! `create_task` → messages introduced by `add_messages_to_task` (snapshots), grown by
//! `append_to_message_content` (deltas), closed by an `update_task_message` full snapshot → a
//! metadata action (`update_task_description`) → `finished{done, token_usage}`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use bytes::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::http::request::Parts;
use hyper::{Response, StatusCode};
use prost::Message as _;

use super::scenario::{self, FinishFailure, Scenario};
use super::{State, error, token, unknown_scenario};
use crate::channels::warp::wire::*;
use crate::mock::ids::Ids;
use crate::mock::script::{self, Frame, Plan, Reply};

/// The frame captured from the live server (fact sheet §7.1): a completed `run_shell_command`
/// `ls -la` tool call, as it followed `data: `.
const LIVE_SHELL_FRAME: &str = "EogGCoUGIoIGCvMDCiQ5NDRhOTc3Yy00NzNkLTRlZmUtYjg4MC1mNTgxYjUwMjI3ZWE68AJDaVE1WkRZeVlqazROQzB6WmpNM0xUUTRNemN0T1dZd1pTMDNZVEJsWVRneFptSXpPR1VxNmdFS0dPYWZwZWVjaS1XOWstV0pqZWVicnVXOWxlZTdrLWFlaEJBQUdza0JWR2hsSUc5eVkyaGxjM1J5WVhSdmNpQmxlR1ZqZFhSbFpDQjBhR2x6SUdOdmJXMWhibVFnWm05eUlIUm9aU0J5WldGemIyNGdaMmwyWlc0Z1ltVnNiM2N1SUU5aWMyVnlkbVVnZEdobElHTnZiVzFoYm1RbmN5QnZkWFJ3ZFhRZ1lXNWtJR1Z1YzNWeVpTQjBhR1VnWTI5dGJXRnVaQ0JvWVhNZ1pYaHBkR1ZrSUdKbFptOXlaU0J5WlhCdmNuUnBibWNnZEdobElISmxiR1YyWVc1MElHOTFkSEIxZEM0S0NsSmxZWE52YmpvSzVwLWw1NXlMNWIyVDVZbU41NXV1NWIyVjU3dVQ1cDZFSWdBPVokODA0ODllNDctZTllOC00MTVkLWJhNzItODQ1MTM1OGM5NDkzIjIKHnRvb2x1XzAxQXpzZzRDem5YdjZzcFFYZHJ2RlBteRIQCgZscyAtbGEQARgAKAAwABLjAQojdG9vbF9jYWxsLnJ1bl9zaGVsbF9jb21tYW5kLmNvbW1hbmQKKHRvb2xfY2FsbC5ydW5fc2hlbGxfY29tbWFuZC5pc19yZWFkX29ubHkKJnRvb2xfY2FsbC5ydW5fc2hlbGxfY29tbWFuZC51c2VzX3BhZ2VyCiR0b29sX2NhbGwucnVuX3NoZWxsX2NvbW1hbmQuaXNfcmlza3kKE3NlcnZlcl9tZXNzYWdlX2RhdGEKL3Rvb2xfY2FsbC5ydW5fc2hlbGxfY29tbWFuZC53YWl0X3VudGlsX2NvbXBsZXRlGiQ4MDQ4OWU0Ny1lOWU4LTQxNWQtYmE3Mi04NDUxMzU4Yzk0OTM=";
/// The tool call id inside [`LIVE_SHELL_FRAME`].
pub(super) const LIVE_SHELL_CALL_ID: &str = "toolu_01Azsg4CznXv6spQXdrvFPmy";
/// The snapshot/append sequence of §7.3 whose reconciled text is `CONTINUATION OK`.
const RECONCILE_FRAMES: [&str; 5] = [
    "12290a271a250a067461736b2d31121b0a096d6573736167652d311a0e0a0c434f4e54494e554154494f4e",
    "12330a312a2f0a100a096d6573736167652d311a030a012012130a116167656e745f6f75747075742e746578741a067461736b2d31",
    "12340a322a300a110a096d6573736167652d311a040a024f4b12130a116167656e745f6f75747075742e746578741a067461736b2d31",
    "12410a3f223d0a1e0a096d6573736167652d311a110a0f434f4e54494e554154494f4e204f4b12130a116167656e745f6f75747075742e746578741a067461736b2d31",
    "12360a3442320a067461736b2d31122841636b6e6f776c6564676520636f6d6d616e64207769746820434f4e54494e554154494f4e204f4b",
];
/// The answer of `text`, in the pieces it is streamed as (first as a snapshot, then as deltas).
pub(super) const HELLO: [&str; 4] = ["Hello", " from", " the", " mock."];
const TEXT_MASK: &str = "agent_output.text";
const REASONING_MASK: &str = "agent_reasoning.reasoning";

/// What the mock read from a request.
struct Turn {
    /// The last user query's text, `[[mock:…]]` marker included.
    query: String,
    /// `(tool_call_id, result type)` of every tool result, in order.
    results: Vec<(String, &'static str)>,
    conversation: String,
    model: String,
    /// `(name, server id)` of every client tool declared in `mcp_context`.
    tools: Vec<(String, String)>,
}

impl Turn {
    fn read(request: &Request) -> Result<Turn, String> {
        let input = request.input.as_ref().ok_or("the request has no input")?;
        let Some(input::Type::UserInputs(inputs)) = &input.r#type else {
            return Err("input.user_inputs is missing".into());
        };
        if inputs.inputs.is_empty() {
            return Err("input.user_inputs.inputs is empty".into());
        }
        let mut query = None;
        let mut results = Vec::new();
        for (i, item) in inputs.inputs.iter().enumerate() {
            match &item.input {
                Some(user_input::Input::UserQuery(q)) => query = Some(q.query.clone().unwrap_or_default()),
                Some(user_input::Input::ToolCallResult(r)) => {
                    let id = r.tool_call_id.clone().filter(|id| !id.is_empty());
                    let id = id.ok_or_else(|| format!("inputs[{i}].tool_call_result has no tool_call_id"))?;
                    let kind = r
                        .result
                        .as_ref()
                        .ok_or_else(|| format!("inputs[{i}].tool_call_result has no result"))?;
                    results.push((id, kind.name()));
                }
                None => return Err(format!("inputs[{i}] is empty")),
            }
        }
        let model = request
            .settings
            .as_ref()
            .and_then(|s| s.model_config.as_ref())
            .and_then(|m| m.base.clone())
            .filter(|m| !m.is_empty())
            .ok_or("settings.model_config.base is empty")?;
        let conversation =
            request.metadata.as_ref().and_then(|m| m.conversation_id.clone()).unwrap_or_default();
        let mut tools = Vec::new();
        if let Some(mcp) = &request.mcp_context {
            for server in &mcp.servers {
                let id = server.id.clone().unwrap_or_default();
                tools.extend(server.tools.iter().filter_map(|t| t.name.clone().map(|n| (n, id.clone()))));
            }
            tools.extend(mcp.tools.iter().filter_map(|t| t.name.clone().map(|n| (n, String::new()))));
        }
        Ok(Turn { query: query.unwrap_or_default(), results, conversation, model, tools })
    }
}

pub(super) async fn handle(head: &Parts, body: Bytes, ids: &Ids, state: &State) -> Response<Reply> {
    let Some(claims) = token::verify(head) else {
        return error(StatusCode::UNAUTHORIZED, super::UNAUTHORIZED);
    };
    let content_type = head.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.starts_with("application/x-protobuf") {
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "invalid AIAgentRequest: content-type must be application/x-protobuf, got `{content_type}`"
            ),
        );
    }
    let request = match Request::decode(body.as_ref()) {
        Ok(request) => request,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("invalid AIAgentRequest: cannot parse invalid wire-format data ({e})"),
            );
        }
    };
    let turn = match Turn::read(&request) {
        Ok(turn) => turn,
        Err(message) => return error(StatusCode::BAD_REQUEST, &format!("invalid AIAgentRequest: {message}")),
    };
    let default = if turn.results.is_empty() { Scenario::Text } else { Scenario::Continuation };
    let sources = [
        scenario::from_header(&head.headers),
        claims.scenario.as_deref(),
        scenario::from_marker(&turn.query),
    ];
    let picked = match scenario::select(sources, default) {
        Ok(picked) => picked,
        Err(name) => return unknown_scenario(&name),
    };
    if let Some(response) = http_failure(picked, &turn.model) {
        return response;
    }
    if !turn.results.is_empty() {
        if turn.conversation.is_empty() {
            return error(
                StatusCode::BAD_REQUEST,
                "Invalid request: tool call results need the conversation's metadata.conversation_id",
            );
        }
        if let Some((id, _)) = turn.results.iter().find(|(id, _)| !state.was_issued(&turn.conversation, id)) {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("Invalid request: unknown tool_call_id {id} in conversation {}", turn.conversation),
            );
        }
    }
    if let Some(delay) = super::number(&head.headers, "x-mock-delay-ms") {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    let conversation =
        if turn.conversation.is_empty() { ids.mint("conv_", 24) } else { turn.conversation.clone() };
    state.open(&conversation);
    if picked == Scenario::ToolLoop {
        state.start_loop(&conversation);
    }
    let mut out = Out::new(ids, conversation, turn.model.clone(), body.len());
    let plan = out.play(picked, &turn, state);
    let interval =
        std::time::Duration::from_millis(super::number(&head.headers, "x-mock-interval-ms").unwrap_or(0));
    match picked {
        Scenario::Empty => script::sse(Vec::new()),
        _ => script::sse(script::play(out.frames, plan, interval)),
    }
}

/// The HTTP errors and non-stream bodies of §6.1, or `None` for a streaming scenario.
fn http_failure(picked: Scenario, model: &str) -> Option<Response<Reply>> {
    let response = match picked {
        Scenario::Unauthorized => error(StatusCode::UNAUTHORIZED, "Unauthorized (mock scenario)"),
        Scenario::ModelNotAllowed => error(
            StatusCode::BAD_REQUEST,
            &format!("Invalid request: the requested base model ({model}) is not allowed for your account"),
        ),
        Scenario::NoModel => error(
            StatusCode::BAD_REQUEST,
            &format!("Invalid request: the requested base model ({model}) has no model available"),
        ),
        Scenario::CloudAgent => error(StatusCode::FORBIDDEN, "not allowed to use the provided cloud agent"),
        Scenario::Blocked => error(
            StatusCode::FORBIDDEN,
            "Your account has been blocked from using AI features; please upgrade to a paid plan",
        ),
        Scenario::NoCredits => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "No AI credits remaining");
            response.headers_mut().insert("x-warp-error-code", HeaderValue::from_static("OUT_OF_CREDITS"));
            response
        }
        Scenario::Overloaded => {
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests: the server is overloaded, try again later",
            );
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("2"));
            response
        }
        Scenario::Html => script::full(
            StatusCode::OK,
            "text/html; charset=utf-8",
            "<!doctype html>\n<html><head><title>Warp</title></head><body><p>Something went wrong.</p></body></html>\n",
        ),
        Scenario::Html403 => script::html_403(),
        _ => return None,
    };
    Some(response)
}

/// The frames of one answer, built in order.
struct Out<'a> {
    ids: &'a Ids,
    frames: Vec<Frame>,
    conversation: String,
    model: String,
    task_id: String,
    input_tokens: u32,
    output_tokens: u32,
}

/// One SSE frame carrying `event`.
pub(super) fn sse_frame(event: &ResponseEvent) -> Bytes {
    Bytes::from(format!("data: {}\n\n", URL_SAFE.encode(event.encode_to_vec())))
}

fn actions(actions: Vec<client_action::Action>) -> ResponseEvent {
    ResponseEvent {
        r#type: Some(response_event::Type::ClientActions(ClientActions {
            actions: actions.into_iter().map(|a| ClientAction { action: Some(a) }).collect(),
        })),
    }
}

fn mask(path: &str) -> Option<FieldMask> {
    Some(FieldMask { paths: vec![path.to_owned()] })
}

fn text_content(text: &str) -> Option<message::Content> {
    Some(message::Content::AgentOutput(AgentOutput { text: text.to_owned() }))
}

fn reasoning_content(text: &str) -> Option<message::Content> {
    Some(message::Content::AgentReasoning(AgentReasoning {
        reasoning: text.to_owned(),
        finished_duration: None,
    }))
}

impl<'a> Out<'a> {
    fn new(ids: &'a Ids, conversation: String, model: String, body_len: usize) -> Out<'a> {
        Out {
            ids,
            frames: Vec::new(),
            conversation,
            model,
            task_id: ids.mint("task_", 20),
            input_tokens: u32::try_from(body_len / 4).unwrap_or(u32::MAX).max(1),
            output_tokens: 0,
        }
    }

    fn message(&self, id: &str, content: Option<message::Content>) -> Message {
        Message { id: id.to_owned(), task_id: self.task_id.clone(), content, ..Default::default() }
    }

    fn init(&mut self) {
        let init = ResponseEvent {
            r#type: Some(response_event::Type::Init(StreamInit {
                conversation_id: self.conversation.clone(),
                request_id: self.ids.mint("req_", 20),
                run_id: String::new(),
            })),
        };
        self.frames.push(Frame::Preamble(sse_frame(&init)));
        let task = Task { id: self.task_id.clone(), ..Default::default() };
        let create = actions(vec![client_action::Action::CreateTask(CreateTask { task: Some(task) })]);
        self.frames.push(Frame::Preamble(sse_frame(&create)));
    }

    fn delta(&mut self, event: &ResponseEvent) {
        self.output_tokens += 1;
        self.frames.push(Frame::Delta(sse_frame(event)));
    }

    fn other(&mut self, event: &ResponseEvent) {
        self.frames.push(Frame::Other(sse_frame(event)));
    }

    fn add(&mut self, message: Message) -> ResponseEvent {
        actions(vec![client_action::Action::AddMessagesToTask(AddMessagesToTask {
            task_id: self.task_id.clone(),
            messages: vec![message],
        })])
    }

    fn append(&self, message: Message, path: &str) -> ResponseEvent {
        actions(vec![client_action::Action::AppendToMessageContent(AppendToMessageContent {
            message: Some(message),
            mask: mask(path),
            task_id: self.task_id.clone(),
        })])
    }

    fn update(&self, message: Message, paths: &[&str]) -> ResponseEvent {
        actions(vec![client_action::Action::UpdateTaskMessage(UpdateTaskMessage {
            message: Some(message),
            mask: Some(FieldMask { paths: paths.iter().map(|p| (*p).to_owned()).collect() }),
            task_id: self.task_id.clone(),
        })])
    }

    /// A message streamed as a first snapshot, appended deltas, and a final full snapshot.
    fn stream_text(&mut self, pieces: &[&str], reasoning: bool) {
        let id = self.ids.mint("msg_", 20);
        let (content, path): (fn(&str) -> Option<message::Content>, &str) =
            if reasoning { (reasoning_content, REASONING_MASK) } else { (text_content, TEXT_MASK) };
        let Some((first, rest)) = pieces.split_first() else { return };
        let add = self.add(self.message(&id, content(first)));
        self.delta(&add);
        for piece in rest {
            let append = self.append(self.message(&id, content(piece)), path);
            self.delta(&append);
        }
        let mut full = self.message(&id, content(&pieces.concat()));
        if reasoning {
            full.content = Some(message::Content::AgentReasoning(AgentReasoning {
                reasoning: pieces.concat(),
                finished_duration: Some(Duration { seconds: 1, nanos: 0 }),
            }));
        }
        let update = self.update(full, &[path]);
        self.other(&update);
    }

    fn describe(&mut self, description: &str) {
        let meta = actions(vec![client_action::Action::UpdateTaskDescription(UpdateTaskDescription {
            task_id: self.task_id.clone(),
            description: description.to_owned(),
        })]);
        self.other(&meta);
    }

    fn finish(&mut self, reason: stream_finished::Reason, should_refresh_model_config: bool) {
        let usage = TokenUsage {
            model_id: self.model.clone(),
            total_input: self.input_tokens,
            output: self.output_tokens.max(1),
            ..Default::default()
        };
        let finished = ResponseEvent {
            r#type: Some(response_event::Type::Finished(StreamFinished {
                reason: Some(reason),
                token_usage: vec![usage],
                should_refresh_model_config,
                ..Default::default()
            })),
        };
        self.other(&finished);
    }

    fn done(&mut self) {
        self.finish(stream_finished::Reason::Done(Empty {}), false);
    }

    fn tool_call_id(&self) -> String {
        self.ids.mint("toolu_01", 22)
    }

    /// Builds the frames of a streaming scenario; returns how to play them.
    fn play(&mut self, picked: Scenario, turn: &Turn, state: &State) -> Plan {
        if picked == Scenario::UnknownFrames {
            // Events of nothing but an unknown field (99): well-formed, unrecognizable.
            for _ in 0..2 {
                let unknown = URL_SAFE.encode([0x9a, 0x06, 0x00]);
                self.frames.push(Frame::Delta(Bytes::from(format!("data: {unknown}\n\n"))));
            }
            return Plan::Whole;
        }
        self.init();
        let mut plan = Plan::Whole;
        match picked {
            Scenario::Echo => {
                let text = scenario::strip_marker(&turn.query);
                let text = if text.is_empty() { "(empty query)".to_owned() } else { text };
                let pieces = split_words(&text);
                let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
                self.stream_text(&pieces, false);
                self.done();
            }
            Scenario::Reasoning => {
                self.stream_text(&["The user", " greets me;", " I greet back."], true);
                self.stream_text(&HELLO, false);
                self.done();
            }
            Scenario::McpTool => {
                self.stream_text(&["Let me check", " the weather."], false);
                let (name, server_id) =
                    turn.tools.first().cloned().unwrap_or_else(|| ("get_weather".to_owned(), String::new()));
                let id = self.tool_call_id();
                let args = Struct::from_json(&serde_json::json!({"city": "Paris"}));
                let call = ToolCall {
                    tool_call_id: id.clone(),
                    tool: Some(tool_call::Tool::CallMcpTool(CallMcpTool { name, args, server_id })),
                };
                let message =
                    self.message(&self.ids.mint("msg_", 20), Some(message::Content::ToolCall(call)));
                let add = self.add(message);
                self.delta(&add);
                state.issue_call(&self.conversation, &id);
                self.done();
            }
            Scenario::Shell => {
                let id = self.tool_call_id();
                let message_id = self.ids.mint("msg_", 20);
                let shell = |command: &str| ToolCall {
                    tool_call_id: id.clone(),
                    tool: Some(tool_call::Tool::RunShellCommand(RunShellCommand {
                        command: command.to_owned(),
                        is_read_only: !command.is_empty(),
                        wait_until_complete: Some(false),
                        ..Default::default()
                    })),
                };
                // Introduced incomplete (no command yet), completed by an update, as live (§7.1).
                let add = self.add(self.message(&message_id, Some(message::Content::ToolCall(shell("")))));
                self.other(&add);
                let mut complete =
                    self.message(&message_id, Some(message::Content::ToolCall(shell("ls -la"))));
                complete.server_message_data = URL_SAFE.encode(b"mock-server-message-data");
                let update = self.update(
                    complete,
                    &[
                        "tool_call.run_shell_command.command",
                        "tool_call.run_shell_command.is_read_only",
                        "tool_call.run_shell_command.uses_pager",
                        "tool_call.run_shell_command.is_risky",
                        "server_message_data",
                        "tool_call.run_shell_command.wait_until_complete",
                    ],
                );
                self.delta(&update);
                state.issue_call(&self.conversation, &id);
                self.done();
            }
            Scenario::ShellLive => {
                self.output_tokens += 1;
                self.frames.push(Frame::Delta(Bytes::from(format!("data: {LIVE_SHELL_FRAME}\n\n"))));
                state.issue_call(&self.conversation, LIVE_SHELL_CALL_ID);
                self.done();
            }
            Scenario::Reconcile => {
                for (i, frame) in RECONCILE_FRAMES.iter().enumerate() {
                    let bytes = hex::decode(frame).expect("the §7.3 frames are hex");
                    let sse = Bytes::from(format!("data: {}\n\n", URL_SAFE.encode(bytes)));
                    if i < 4 {
                        self.output_tokens += 1;
                        self.frames.push(Frame::Delta(sse));
                    } else {
                        self.frames.push(Frame::Other(sse));
                    }
                }
                self.done();
            }
            Scenario::ToolLoop => {
                self.stream_text(&["Let me look."], false);
                let id = self.tool_call_id();
                let call = ToolCall {
                    tool_call_id: id.clone(),
                    tool: Some(tool_call::Tool::RunShellCommand(RunShellCommand {
                        command: "ls".to_owned(),
                        is_read_only: true,
                        ..Default::default()
                    })),
                };
                let message =
                    self.message(&self.ids.mint("msg_", 20), Some(message::Content::ToolCall(call)));
                let add = self.add(message);
                self.delta(&add);
                state.issue_call(&self.conversation, &id);
                self.done();
            }
            Scenario::Continuation
                if state.is_loop(&self.conversation)
                    && turn.results.iter().any(|(_, kind)| *kind == "run_shell_command") =>
            {
                let id = self.tool_call_id();
                let call = ToolCall {
                    tool_call_id: id.clone(),
                    tool: Some(tool_call::Tool::ReadFiles(ReadFiles {
                        files: vec![ReadFile { name: "README.md".to_owned(), line_ranges: Vec::new() }],
                    })),
                };
                let message =
                    self.message(&self.ids.mint("msg_", 20), Some(message::Content::ToolCall(call)));
                let add = self.add(message);
                self.delta(&add);
                state.issue_call(&self.conversation, &id);
                self.done();
            }
            Scenario::Continuation => {
                let summary: Vec<String> =
                    turn.results.iter().map(|(id, kind)| format!("{id} ({kind})")).collect();
                let rest = format!("{} tool result(s): {}.", summary.len(), summary.join(", "));
                self.stream_text(&["Received ", &rest], false);
                self.done();
            }
            Scenario::RefreshModelConfig => {
                self.stream_text(&HELLO, false);
                self.finish(stream_finished::Reason::Done(Empty {}), true);
            }
            Scenario::Finish(failure) => {
                use stream_finished::Reason as R;
                let reason = match failure {
                    FinishFailure::QuotaLimit => R::QuotaLimit(Empty {}),
                    FinishFailure::ContextWindowExceeded => R::ContextWindowExceeded(Empty {}),
                    FinishFailure::MaxTokenLimit => R::MaxTokenLimit(Empty {}),
                    FinishFailure::LlmUnavailable => R::LlmUnavailable(Empty {}),
                    FinishFailure::InternalError => {
                        R::InternalError(InternalError { message: "upstream blew up (mock)".into() })
                    }
                    FinishFailure::InvalidApiKey => R::InvalidApiKey(InvalidApiKey {
                        provider: LlmProvider::Anthropic as i32,
                        model_name: self.model.clone(),
                    }),
                };
                self.finish(reason, false);
            }
            Scenario::ErrorEvent => {
                self.stream_text(&HELLO[..2], false);
                let event = ResponseEvent {
                    r#type: Some(response_event::Type::Error(StreamError {
                        message: "upstream stream error (mock)".into(),
                        code: "internal".into(),
                    })),
                };
                self.other(&event);
            }
            Scenario::Cut => {
                self.stream_text(&HELLO, false);
                self.done();
                plan = Plan::CutAfterDeltas(2);
            }
            Scenario::Unfinished => {
                self.stream_text(&HELLO, false);
                self.describe("Greet the user");
            }
            Scenario::Silence => {
                self.stream_text(&HELLO, false);
                self.done();
                plan = Plan::HangAfterPreamble;
            }
            _ => {
                self.stream_text(&HELLO, false);
                self.describe("Greet the user");
                self.done();
            }
        }
        plan
    }
}

/// Splits text into word deltas (spaces kept before each word), so their concatenation is `text`.
fn split_words(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c == ' ' && i > start && !text[start..i].trim().is_empty() {
            pieces.push(text[start..i].to_owned());
            start = i;
        }
    }
    pieces.push(text[start..].to_owned());
    pieces
}
