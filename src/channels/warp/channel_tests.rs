//! Tests of the channel layer: reconciliation, tool mapping, finish reasons, request building
//! (decoded back from the bytes), auth and GraphQL parsing, with the fact sheet's vectors.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use prost::Message as _;
use serde_json::json;

use super::decode::{Decoder, Learned};
use super::frames::{WarpEvent, WarpFrameError};
use super::request::{self, CallInfo, Context, PendingResult};
use super::wire::*;
use super::{auth, graphql};
use crate::channels::events::Decoder as _;
use crate::ir::{self, Block, ChatRequest, ErrorKind, Event, Message, RawJson, Role, StopReason, Text};

fn event(hex_frame: &str) -> Result<WarpEvent, WarpFrameError> {
    let bytes = hex::decode(hex_frame).unwrap();
    Ok(WarpEvent::from(ResponseEvent::decode(bytes.as_slice()).unwrap()))
}

fn run(frames: Vec<Result<WarpEvent, WarpFrameError>>, end: bool) -> (Vec<Event>, Learned) {
    let learned = Arc::new(Mutex::new(Learned::default()));
    let mut decoder = Decoder::new(learned.clone());
    let mut out = VecDeque::new();
    let saw = !frames.is_empty();
    for frame in frames {
        if !decoder.is_done() {
            decoder.frame(frame, &mut out);
        }
    }
    if end {
        decoder.end(saw, &mut out);
    }
    let learned = learned.lock().unwrap().clone();
    (out.into_iter().collect(), learned)
}

fn text_of(events: &[Event]) -> String {
    events.iter().filter_map(|e| if let Event::Text(t) = e { Some(t.as_str()) } else { None }).collect()
}

fn thinking_of(events: &[Event]) -> String {
    events.iter().filter_map(|e| if let Event::Thinking(t) = e { Some(t.as_str()) } else { None }).collect()
}

fn actions(list: Vec<client_action::Action>) -> Result<WarpEvent, WarpFrameError> {
    Ok(WarpEvent::from(ResponseEvent {
        r#type: Some(response_event::Type::ClientActions(ClientActions {
            actions: list.into_iter().map(|a| ClientAction { action: Some(a) }).collect(),
        })),
    }))
}

fn msg(id: &str, content: message::Content) -> Message_ {
    Message_ { id: id.into(), content: Some(content), ..Default::default() }
}

type Message_ = super::wire::Message;

fn text(s: &str) -> message::Content {
    message::Content::AgentOutput(AgentOutput { text: s.into() })
}

fn add(m: Message_) -> client_action::Action {
    client_action::Action::AddMessagesToTask(AddMessagesToTask { task_id: "t".into(), messages: vec![m] })
}

fn append(m: Message_, path: &str) -> client_action::Action {
    client_action::Action::AppendToMessageContent(AppendToMessageContent {
        message: Some(m),
        mask: Some(FieldMask { paths: vec![path.into()] }),
        task_id: "t".into(),
    })
}

fn update(m: Message_, paths: &[&str]) -> client_action::Action {
    client_action::Action::UpdateTaskMessage(UpdateTaskMessage {
        message: Some(m),
        mask: Some(FieldMask { paths: paths.iter().map(|p| (*p).into()).collect() }),
        task_id: "t".into(),
    })
}

fn finished(reason: stream_finished::Reason, usage: &[(u32, u32)]) -> Result<WarpEvent, WarpFrameError> {
    Ok(WarpEvent::from(ResponseEvent {
        r#type: Some(response_event::Type::Finished(StreamFinished {
            reason: Some(reason),
            token_usage: usage
                .iter()
                .map(|(i, o)| TokenUsage { total_input: *i, output: *o, ..Default::default() })
                .collect(),
            ..Default::default()
        })),
    }))
}

fn done() -> Result<WarpEvent, WarpFrameError> {
    finished(stream_finished::Reason::Done(Empty {}), &[(3, 5)])
}

fn call(id: &str, tool: tool_call::Tool) -> Message_ {
    msg(
        &format!("m-{id}"),
        message::Content::ToolCall(ToolCall { tool_call_id: id.into(), tool: Some(tool) }),
    )
}

fn calls_of(events: &[Event]) -> Vec<(String, String, serde_json::Value)> {
    let mut out = Vec::new();
    for e in events {
        match e {
            Event::ToolCallStart { id, name, .. } => {
                out.push((id.to_string(), name.to_string(), json!(null)))
            }
            Event::ToolArgs { fragment, .. } => {
                out.last_mut().unwrap().2 = serde_json::from_str(fragment.as_str()).unwrap();
            }
            _ => {}
        }
    }
    out
}

// ----- reconciliation ----------------------------------------------------------------------------

#[test]
fn the_sheet_sequence_reconciles_to_continuation_ok_without_duplicates() {
    // §7.3: add "CONTINUATION", append " ", append "OK", update "CONTINUATION OK", description.
    let frames = [
        "12290a271a250a067461736b2d31121b0a096d6573736167652d311a0e0a0c434f4e54494e554154494f4e",
        "12330a312a2f0a100a096d6573736167652d311a030a012012130a116167656e745f6f75747075742e746578741a067461736b2d31",
        "12340a322a300a110a096d6573736167652d311a040a024f4b12130a116167656e745f6f75747075742e746578741a067461736b2d31",
        "12410a3f223d0a1e0a096d6573736167652d311a110a0f434f4e54494e554154494f4e204f4b12130a116167656e745f6f75747075742e746578741a067461736b2d31",
        "12360a3442320a067461736b2d31122841636b6e6f776c6564676520636f6d6d616e64207769746820434f4e54494e554154494f4e204f4b",
    ];
    let mut all: Vec<_> = frames.iter().map(|f| event(f)).collect();
    all.push(done());
    let (events, _) = run(all, true);
    assert_eq!(text_of(&events), "CONTINUATION OK");
    assert_eq!(thinking_of(&events), "");
    let texts: Vec<&Event> = events.iter().filter(|e| matches!(e, Event::Text(_))).collect();
    assert_eq!(texts.len(), 3, "the whitespace-only delta is its own event: {events:?}");
    assert_eq!(events.last(), Some(&Event::Stop(StopReason::EndTurn)));
}

#[test]
fn snapshots_emit_only_their_new_suffix_and_conflicts_emit_nothing() {
    let (events, _) = run(
        vec![
            actions(vec![add(msg("a", text("Hel")))]),
            actions(vec![update(msg("a", text("Hello")), &["agent_output.text"])]),
            actions(vec![update(msg("a", text("Hello")), &["agent_output.text"])]),
            actions(vec![update(msg("a", text("Bonjour")), &["agent_output.text"])]),
            actions(vec![append(msg("a", text("!")), "agent_output.text")]),
            // A second message is reconciled on its own.
            actions(vec![add(msg("b", text(" Next")))]),
            done(),
        ],
        true,
    );
    assert_eq!(text_of(&events), "Hello! Next");
}

#[test]
fn reasoning_becomes_thinking_before_the_text() {
    let reasoning = |s: &str| {
        message::Content::AgentReasoning(AgentReasoning { reasoning: s.into(), finished_duration: None })
    };
    let (events, _) = run(
        vec![
            // The sheet's illustrative reasoning append frame (message-2 "thinking...").
            event("12200a1e2a1c0a1a0a096d6573736167652d327a0d0a0b7468696e6b696e672e2e2e"),
            actions(vec![update(
                msg("message-2", reasoning("thinking... done")),
                &["agent_reasoning.reasoning"],
            )]),
            actions(vec![add(msg("m3", text("Answer")))]),
            done(),
        ],
        true,
    );
    assert_eq!(thinking_of(&events), "thinking... done");
    assert_eq!(text_of(&events), "Answer");
    let first_text = events.iter().position(|e| matches!(e, Event::Text(_))).unwrap();
    assert!(events[..first_text].iter().all(|e| matches!(e, Event::Thinking(_))));
}

#[test]
fn usage_is_summed_over_the_models_and_the_conversation_is_learned() {
    let (events, learned) = run(
        vec![
            event("0a130a08636f6e762d31323312077265712d343536"),
            actions(vec![add(msg("a", text("hi")))]),
            finished(stream_finished::Reason::Done(Empty {}), &[(10, 2), (5, 3)]),
        ],
        true,
    );
    assert!(events.contains(&Event::Usage(ir::Usage {
        input: Some(15),
        output: Some(5),
        ..Default::default()
    })));
    assert_eq!(learned.conversation_id.as_deref(), Some("conv-123"));
}

// ----- tool calls --------------------------------------------------------------------------------

#[test]
fn a_shell_call_introduced_empty_is_emitted_once_when_complete() {
    let shell = |command: &str| {
        tool_call::Tool::RunShellCommand(RunShellCommand { command: command.into(), ..Default::default() })
    };
    let (events, learned) = run(
        vec![
            event("0a130a08636f6e762d31323312077265712d343536"),
            actions(vec![add(call("toolu_1", shell("")))]),
            actions(vec![update(call("toolu_1", shell("ls -la")), &["tool_call.run_shell_command.command"])]),
            actions(vec![update(call("toolu_1", shell("ls -la")), &["tool_call.run_shell_command.command"])]),
            done(),
        ],
        true,
    );
    assert_eq!(calls_of(&events), vec![("toolu_1".into(), "Bash".into(), json!({"command": "ls -la"}))]);
    assert_eq!(events.last(), Some(&Event::Stop(StopReason::ToolUse)));
    assert_eq!(learned.calls.len(), 1);
    assert_eq!(learned.calls[0].warp_type, "run_shell_command");
}

#[test]
fn the_sheet_shell_vector_without_an_id_gets_a_stable_anonymous_id() {
    let frame = "12110a0f0a0d0a0b2a09220712050a03707764";
    let (a, _) = run(vec![event(frame), done()], true);
    let (b, _) = run(vec![event(frame), done()], true);
    let calls = calls_of(&a);
    assert_eq!(calls.len(), 1);
    assert!(calls[0].0.starts_with("warp_anon_"), "{calls:?}");
    assert_eq!((calls[0].1.as_str(), &calls[0].2), ("Bash", &json!({"command": "pwd"})));
    assert_eq!(calls_of(&b)[0].0, calls[0].0, "stable");
}

#[test]
fn the_sheet_mcp_vector_is_a_client_tool_call() {
    let frame = "12600a5e0a5c0a5a2a5822560a1763616c6c5f776f726b73706163655f7365617263685f31623b0a10776f726b73706163655f73656172636812270a110a05717565727912081a06726f757465720a120a05746f705f6b1209110000000000001440";
    let (events, learned) = run(vec![event(frame), done()], true);
    assert_eq!(
        calls_of(&events),
        vec![(
            "call_workspace_search_1".into(),
            "workspace_search".into(),
            json!({"query": "router", "top_k": 5})
        )]
    );
    assert_eq!(learned.calls[0].warp_type, "call_mcp_tool");
}

#[test]
fn native_tools_map_to_claude_code_tools_with_valid_inputs() {
    use tool_call::Tool as T;
    let cases = vec![
        (
            T::ReadFiles(ReadFiles {
                files: vec![ReadFile {
                    name: "src/main.rs".into(),
                    line_ranges: vec![FileContentLineRange { start: 10, end: 19 }],
                }],
            }),
            ("Read", json!({"file_path": "src/main.rs", "offset": 10, "limit": 10})),
        ),
        (
            T::ApplyFileDiffs(ApplyFileDiffs {
                new_files: vec![NewFile { file_path: "a.txt".into(), content: "hello".into() }],
                ..Default::default()
            }),
            ("Write", json!({"file_path": "a.txt", "content": "hello"})),
        ),
        (
            T::ApplyFileDiffs(ApplyFileDiffs {
                diffs: vec![FileDiff {
                    file_path: "b.rs".into(),
                    search: "old".into(),
                    replace: "new".into(),
                }],
                ..Default::default()
            }),
            ("Edit", json!({"file_path": "b.rs", "old_string": "old", "new_string": "new"})),
        ),
        (
            T::Grep(Grep { queries: vec!["fn main".into(), "todo".into()], path: "src".into() }),
            ("Grep", json!({"pattern": "fn main|todo", "path": "src"})),
        ),
        (T::Grep(Grep { queries: vec!["x".into()], path: String::new() }), ("Grep", json!({"pattern": "x"}))),
        (
            T::FileGlob(FileGlob { patterns: vec!["**/*.rs".into()], path: "/repo".into() }),
            ("Glob", json!({"pattern": "**/*.rs", "path": "/repo"})),
        ),
        (
            T::FileGlobV2(FileGlobV2 {
                patterns: vec!["*.md".into()],
                search_dir: "docs".into(),
                ..Default::default()
            }),
            ("Glob", json!({"pattern": "*.md", "path": "docs"})),
        ),
    ];
    for (i, (tool, (name, input))) in cases.into_iter().enumerate() {
        let (events, _) = run(vec![actions(vec![add(call(&format!("c{i}"), tool))]), done()], true);
        assert_eq!(calls_of(&events), vec![(format!("c{i}"), name.to_owned(), input)], "case {i}");
    }
}

#[test]
fn server_side_and_incomplete_tools_are_never_forwarded() {
    // The sheet's vector puts agent_output "4" and tool_call.server{"bogus"} in one message: two
    // members of one oneof, of which protobuf keeps the last. The server tool is not forwarded.
    let (events, _) = run(vec![event("12180a160a140a122a101a030a0134220922070a05626f677573"), done()], true);
    assert!(calls_of(&events).is_empty());
    let server = tool_call::Tool::Server(ServerTool { payload: "bogus".into() });
    let (events, _) = run(
        vec![
            actions(vec![add(msg("a", text("4")))]),
            actions(vec![add(call("s", server))]),
            actions(vec![add(call("x", tool_call::Tool::ApplyFileDiffs(ApplyFileDiffs::default())))]),
            done(),
        ],
        true,
    );
    assert_eq!(text_of(&events), "4");
    assert!(calls_of(&events).is_empty());
    assert_eq!(events.last(), Some(&Event::Stop(StopReason::EndTurn)));
}

// ----- finish and failures -----------------------------------------------------------------------

fn failure(frames: Vec<Result<WarpEvent, WarpFrameError>>, end: bool) -> ir::UpstreamError {
    let (events, _) = run(frames, end);
    match events.last() {
        Some(Event::Error(e)) => e.clone(),
        other => panic!("no error: {other:?}"),
    }
}

#[test]
fn finish_reasons_become_the_documented_error_kinds() {
    let cases = [
        ("1a022200", ErrorKind::QuotaExhausted),
        ("1a022a00", ErrorKind::InvalidRequest),
        ("1a143a120a10757073747265616d20626c6577207570", ErrorKind::Server),
        ("1a0e620c080212086770742d74657374", ErrorKind::Unauthorized),
    ];
    for (frame, kind) in cases {
        let e = failure(vec![event(frame)], true);
        assert_eq!(e.kind(), kind, "{frame}");
    }
    let e = failure(vec![event("1a0e620c080212086770742d74657374")], true);
    assert!(e.message().unwrap().contains("provider=openai model=gpt-test"), "{e}");
    let e = failure(vec![event("1a143a120a10757073747265616d20626c6577207570")], true);
    assert!(e.message().unwrap().contains("upstream blew up"));
    assert!(e.is_retryable());
    assert!(!failure(vec![event("1a022a00")], true).is_retryable(), "context window: the client's fault");
}

#[test]
fn streams_without_finished_or_content_are_upstream_failures() {
    let hello = actions(vec![add(msg("a", text("hi")))]);
    assert_eq!(failure(vec![hello], true).kind(), ErrorKind::StreamCut);
    assert_eq!(failure(vec![Ok(WarpEvent::Unrecognized)], true).kind(), ErrorKind::Protocol);
    assert_eq!(failure(vec![], true).kind(), ErrorKind::EmptyResponse);
    assert_eq!(failure(vec![done()], true).kind(), ErrorKind::EmptyResponse, "finished without content");
    assert_eq!(failure(vec![Err(WarpFrameError::Html)], true).kind(), ErrorKind::Challenge);
    assert_eq!(failure(vec![Err(WarpFrameError::Json)], true).kind(), ErrorKind::Protocol);
}

// ----- request building --------------------------------------------------------------------------

fn user(blocks: Vec<Block>) -> Message {
    Message { role: Role::User, content: blocks }
}

fn tool(name: &str) -> ir::Tool {
    ir::Tool {
        name: name.into(),
        description: Some(format!("{name} tool")),
        input_schema: RawJson::parse(r#"{"type":"object","properties":{"x":{"type":"string","title":"X","description":"d"}},"required":["x"],"additionalProperties":false}"#).unwrap(),
    }
}

fn built(request: &ChatRequest, calls: &[CallInfo], conversation: Option<&str>) -> Request {
    let turn = request::latest_turn(request);
    let cx = Context {
        conversation_id: conversation,
        model: "claude-4-5-sonnet",
        cli_agent: None,
        computer_use_agent: None,
        now_ms: 1_700_000_000_123,
    };
    let bytes = request::build(request, &turn, calls, &cx).encode_to_vec();
    Request::decode(bytes.as_slice()).unwrap()
}

fn inputs(request: &Request) -> Vec<user_input::Input> {
    match &request.input.as_ref().unwrap().r#type {
        Some(input::Type::UserInputs(u)) => u.inputs.iter().map(|i| i.input.clone().unwrap()).collect(),
        other => panic!("{other:?}"),
    }
}

fn query_of(request: &Request) -> String {
    inputs(request)
        .into_iter()
        .find_map(|i| if let user_input::Input::UserQuery(q) = i { q.query } else { None })
        .unwrap_or_default()
}

#[test]
fn a_first_turn_carries_the_instructions_and_a_continuation_only_its_id() {
    let request = ChatRequest {
        system: vec![Text::from("Answer in Chinese.")],
        messages: vec![user(vec![Block::Text(Text::from("list files"))])],
        ..Default::default()
    };
    let first = built(&request, &[], None);
    assert_eq!(query_of(&first), "Instructions:\nAnswer in Chinese.\n\nlist files");
    assert_eq!(first.metadata.as_ref().unwrap().conversation_id, None);
    assert_eq!(first.task_context, Some(TaskContext::default()));
    let model = first.settings.as_ref().unwrap().model_config.clone().unwrap();
    assert_eq!(model.base.as_deref(), Some("claude-4-5-sonnet"));
    assert_eq!(model.cli_agent.as_deref(), Some("cli-agent-auto"));
    assert_eq!(model.computer_use_agent.as_deref(), Some("computer-use-agent-auto"));
    let turn = request::latest_turn(&request);
    let cx = Context {
        conversation_id: None,
        model: "auto-open",
        cli_agent: Some("cli-agent-team-auto"),
        computer_use_agent: Some("computer-use-agent-team-auto"),
        now_ms: 0,
    };
    let team = request::build(&request, &turn, &[], &cx).settings.unwrap().model_config.unwrap();
    assert_eq!(
        (team.cli_agent.as_deref(), team.computer_use_agent.as_deref()),
        (Some("cli-agent-team-auto"), Some("computer-use-agent-team-auto")),
        "the account's role models are sent verbatim"
    );
    let next = built(&request, &[], Some("conv_server_123"));
    assert_eq!(query_of(&next), "list files");
    assert_eq!(next.metadata.unwrap().conversation_id.as_deref(), Some("conv_server_123"));
    assert!(first.mcp_context.is_none() && first.settings.unwrap().supported_tools.is_empty(), "no tools");
}

#[test]
fn a_history_warp_never_saw_travels_as_a_transcript() {
    let request = ChatRequest {
        messages: vec![
            user(vec![Block::Text(Text::from("my name is Ada"))]),
            Message { role: Role::Assistant, content: vec![Block::Text(Text::from("Hello Ada"))] },
            user(vec![Block::Text(Text::from("what is my name?"))]),
        ],
        ..Default::default()
    };
    assert_eq!(
        query_of(&built(&request, &[], None)),
        "Conversation so far:\nUser: my name is Ada\nAssistant: Hello Ada\n\nUser: what is my name?"
    );
    assert_eq!(query_of(&built(&request, &[], Some("conv_1"))), "what is my name?", "Warp has it");
}

#[test]
fn tool_results_go_back_typed_and_before_a_trailing_query() {
    let result = |id: &str, text: &str| Block::ToolResult {
        tool_use_id: id.into(),
        content: vec![Block::Text(Text::from(text))],
        is_error: false,
    };
    let request = ChatRequest {
        messages: vec![
            user(vec![Block::Text(Text::from("check the project layout"))]),
            Message {
                role: Role::Assistant,
                content: vec![Block::ToolUse {
                    id: "call_1".into(),
                    name: "Bash".into(),
                    input: RawJson::empty_object(),
                }],
            },
            user(vec![
                result("call_1", "Exit code 2\n/repo"),
                result("call_2", "package main"),
                result("call_3", "./README.md\n./main.go"),
                result("call_4", "src/a.rs:12:fn main\nsrc/a.rs:20-x\nsrc/my-b.rs:3:y"),
                Block::Text(Text::from("continue")),
            ]),
        ],
        ..Default::default()
    };
    let calls = [
        CallInfo { warp_type: "run_shell_command".into(), input: json!({"command": "pwd"}) },
        CallInfo { warp_type: "read_files".into(), input: json!({"file_path": "main.go"}) },
        CallInfo { warp_type: "call_mcp_tool".into(), input: json!({}) },
        CallInfo { warp_type: "grep".into(), input: json!({}) },
    ];
    let request = built(&request, &calls, Some("conv_1"));
    let inputs = inputs(&request);
    assert_eq!(inputs.len(), 5);
    let result_of = |i: usize| match &inputs[i] {
        user_input::Input::ToolCallResult(r) => (r.tool_call_id.clone().unwrap(), r.result.clone().unwrap()),
        other => panic!("{other:?}"),
    };
    use tool_call_result::Result as R;
    let (id, shell) = result_of(0);
    assert_eq!(id, "call_1");
    let R::RunShellCommand(shell) = shell else { panic!() };
    assert_eq!(shell.command.as_deref(), Some("pwd"));
    let Some(run_shell_command_result::Result::CommandFinished(done)) = shell.result else { panic!() };
    assert_eq!((done.output.as_deref(), done.exit_code), (Some("Exit code 2\n/repo"), Some(2)));
    let R::ReadFiles(read) = result_of(1).1 else { panic!() };
    let Some(read_files_result::Result::TextFilesSuccess(files)) = read.result else { panic!() };
    assert_eq!(files.files[0].file_path.as_deref(), Some("main.go"));
    assert_eq!(files.files[0].content.as_deref(), Some("package main"));
    let R::CallMcpTool(mcp) = result_of(2).1 else { panic!() };
    let Some(call_mcp_tool_result::Result::Success(ok)) = mcp.result else { panic!() };
    assert_eq!(
        ok.results[0].result,
        Some(mcp_result_item::Result::Text(McpText { text: Some("./README.md\n./main.go".into()) }))
    );
    let R::Grep(grep) = result_of(3).1 else { panic!() };
    let Some(grep_result::Result::Success(found)) = grep.result else { panic!() };
    let files: Vec<(String, Vec<u32>)> = found
        .matched_files
        .iter()
        .map(|f| {
            (f.file_path.clone().unwrap(), f.matched_lines.iter().map(|l| l.line_number.unwrap()).collect())
        })
        .collect();
    assert_eq!(files, vec![("src/a.rs".into(), vec![12, 20]), ("src/my-b.rs".into(), vec![3])]);
    assert!(matches!(&inputs[4], user_input::Input::UserQuery(q) if q.query.as_deref() == Some("continue")));
}

#[test]
fn client_tools_become_one_mcp_server_within_the_limits() {
    let mut tools: Vec<ir::Tool> = (0..40).map(|i| tool(&format!("tool_{i}"))).collect();
    tools[0].description = Some("x".repeat(2000));
    tools[1].input_schema = RawJson::parse(
        &json!({"type": "object", "properties": (0..300).map(|i| (format!("p{i}"), json!({"type": "string", "description": "a long description"}))).collect::<serde_json::Map<_, _>>()}).to_string(),
    )
    .unwrap();
    tools.push(tool("Bash"));
    tools.push(tool("TOOL_0"));
    let request = ChatRequest {
        messages: vec![user(vec![Block::Text(Text::from("hi"))])],
        tools,
        ..Default::default()
    };
    let request = built(&request, &[], None);
    let servers = request.mcp_context.unwrap().servers;
    assert_eq!(servers.len(), 1);
    assert_eq!(servers[0].id.as_deref(), Some("client-request-tools"));
    let tools = &servers[0].tools;
    assert_eq!(tools.len(), request::MAX_TOOLS);
    let description = tools[0].description.clone().unwrap();
    assert_eq!(description.chars().count(), request::MAX_DESCRIPTION);
    assert!(description.ends_with("...[truncated]"));
    let schema = tools[2].input_schema.clone().unwrap().to_json();
    assert_eq!(
        schema,
        json!({"type": "object", "properties": {"x": {"type": "string", "description": "d"}}, "required": ["x"]}),
        "only the kept keys"
    );
    let big = tools[1].input_schema.clone().unwrap().to_json();
    assert!(big.to_string().len() <= request::MAX_SCHEMA);
    assert!(!big.to_string().contains("a long description"));
    // Bash was cut by the limit: only MCP calls are allowed.
    let supported = request.settings.unwrap().supported_tools;
    assert_eq!(supported, vec![ToolType::CallMcpTool as i32]);
}

#[test]
fn native_tool_types_follow_the_declared_claude_code_tools() {
    let request = ChatRequest {
        messages: vec![user(vec![Block::Text(Text::from("hi"))])],
        tools: ["Bash", "Read", "Edit", "Write", "Glob"].iter().map(|n| tool(n)).collect(),
        ..Default::default()
    };
    let supported = built(&request, &[], None).settings.unwrap().supported_tools;
    let expected: Vec<i32> = [
        ToolType::RunShellCommand,
        ToolType::ReadFiles,
        ToolType::ApplyFileDiffs,
        ToolType::FileGlob,
        ToolType::FileGlobV2,
        ToolType::CallMcpTool,
    ]
    .iter()
    .map(|t| *t as i32)
    .collect();
    assert_eq!(supported, expected);
}

#[test]
fn exit_codes_are_read_from_the_result_text() {
    assert_eq!(request::exit_code("Exit code 2\n/repo", false), 2);
    assert_eq!(request::exit_code("process exit status: 127", false), 127);
    assert_eq!(request::exit_code("EXIT=3", false), 3);
    assert_eq!(request::exit_code("exited fine", true), 1);
    assert_eq!(request::exit_code("all good", false), 0);
    let r = PendingResult { tool_use_id: "x".into(), text: "boom".into(), is_error: true };
    let info = CallInfo { warp_type: "apply_file_diffs".into(), input: json!({}) };
    assert!(matches!(
        request::tool_result(&r, &info),
        tool_call_result::Result::ApplyFileDiffs(ApplyFileDiffsResult {
            result: Some(apply_file_diffs_result::Result::Error(_))
        })
    ));
}

// ----- auth and GraphQL --------------------------------------------------------------------------

#[test]
fn refresh_tokens_are_read_from_every_pasted_form() {
    for (input, token) in [
        ("AMf-plain", "AMf-plain"),
        ("me@x.com----device----AMf-legacy", "AMf-legacy"),
        ("grant_type=refresh_token&refresh_token=AMf-form", "AMf-form"),
        ("foo=1; refresh_token=AMf-cookie; Path=/", "AMf-cookie"),
        (r#"{"refresh_token":"AMf-json"}"#, "AMf-json"),
        (r#"{"auth":{"refreshToken":"AMf-nested"}}"#, "AMf-nested"),
        (r#"{"id_token":{"id_token":"j","refresh_token":"AMf-user"},"refresh_token":""}"#, "AMf-user"),
        ("warp://auth/desktop_redirect?refresh_token=AMf-url&state=s", "AMf-url"),
    ] {
        assert_eq!(auth::refresh_token(input), token, "{input}");
    }
}

#[test]
fn the_token_answer_vector_gives_the_jwt_and_the_rotated_token() {
    let now = 1_000_000;
    let answer = json!({"id_token": "firebase-jwt", "refresh_token": "rotated-token", "expires_in": "3600"});
    let (jwt, rotated, exp) = auth::parse_token_answer(&answer, now).unwrap();
    assert_eq!(
        (jwt.as_str(), rotated.as_deref(), exp),
        ("firebase-jwt", Some("rotated-token"), now + 3_600_000)
    );
    // A JWT's own exp wins over expires_in.
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"exp":2000}"#);
    let jwt = format!("aaaaaaaaaa.{payload}.ssssssssss");
    let (_, _, exp) = auth::parse_token_answer(&json!({"access_token": jwt, "expiresIn": 10}), now).unwrap();
    assert_eq!(exp, 2_000_000);
    let session = auth::Session { id_token: "t".into(), expires_at: now + 1, cookie: None };
    let state = crate::secret::Secret::new(serde_json::to_string(&session).unwrap());
    assert_eq!(auth::Session::of(Some(&state), now), Some(session));
    assert_eq!(auth::Session::of(Some(&state), now + 1), None, "expired");
}

#[test]
fn the_limits_vector_leaves_82_requests_and_the_choices_vector_orders_the_default_first() {
    let limits = json!({"data":{"user":{"__typename":"UserOutput","user":{"workspaces":[{"uid":"ws-1","bonusGrantsInfo":{"grants":[]}}],"requestLimitInfo":{"isUnlimited":false,"nextRefreshTime":"2026-03-15T00:00:00Z","requestLimit":100,"requestsUsedSinceLastRefresh":25,"requestLimitRefreshDuration":"MONTHLY"},"bonusGrants":[{"requestCreditsGranted":7,"requestCreditsRemaining":7,"expiration":"2026-03-20T00:00:00Z","reason":"bonus","userFacingMessage":"bonus"}]}}},"errors":[]});
    let (remaining, reset) = graphql::parse_limits(&limits).unwrap();
    assert_eq!(remaining, Some(82));
    assert_eq!(reset, crate::time::parse_rfc3339("2026-03-15T00:00:00Z"));
    let choices = json!({"data":{"user":{"__typename":"UserOutput","user":{"workspaces":[{"featureModelChoice":{"agentMode":{"defaultId":"gpt-5.1-medium","choices":[{"id":"claude-4.6-sonnet","displayName":"Claude 4.6 Sonnet"},{"id":"gpt-5.1-medium","displayName":"GPT 5.1 Medium"}]}}}]}}}});
    assert_eq!(
        graphql::parse_models(&choices),
        Some(vec!["gpt-5.1-medium".to_owned(), "claude-4.6-sonnet".to_owned()])
    );
    let team = json!({"data":{"user":{"user":{"workspaces":[{"featureModelChoice":{"agentMode":{"defaultId":"auto-open"},"cliAgent":{"defaultId":"cli-agent-team-auto"},"computerUseAgent":{"defaultId":"computer-use-agent-team-auto"}}}]}}}});
    assert_eq!(graphql::role_default(&team, "cliAgent").as_deref(), Some("cli-agent-team-auto"));
    assert_eq!(
        graphql::role_default(&team, "computerUseAgent").as_deref(),
        Some("computer-use-agent-team-auto")
    );
}

#[test]
fn conversations_of_one_session_get_their_own_scope() {
    let request = |system: &str, first: &str, session: Option<&str>| ChatRequest {
        system: vec![Text::from(system)],
        messages: vec![user(vec![Block::Text(Text::from(first))])],
        session: session.map(str::to_owned),
        key_id: Some(7),
        ..Default::default()
    };
    let main = super::bindings::scope(&request("You are Claude Code.", "fix the bug", Some("s1")));
    assert_eq!(main, super::bindings::scope(&request("You are Claude Code.", "fix the bug", Some("s1"))));
    assert_ne!(main, super::bindings::scope(&request("Write a title.", "fix the bug", Some("s1"))));
    assert_ne!(main, super::bindings::scope(&request("You are Claude Code.", "explore src/", Some("s1"))));
    assert_ne!(main, super::bindings::scope(&request("You are Claude Code.", "fix the bug", Some("s2"))));
    assert!(super::bindings::scope(&request("a", "b", None)).starts_with("k:7:"));
}

#[test]
fn calls_of_tools_the_client_did_not_declare_are_dropped() {
    let shell =
        tool_call::Tool::RunShellCommand(RunShellCommand { command: "ls".into(), ..Default::default() });
    let mut decoder =
        Decoder::new(Arc::new(Mutex::new(Learned::default()))).with_tools(vec!["get_weather".into()]);
    let mut out = VecDeque::new();
    decoder.frame(actions(vec![add(msg("a", text("ok")))]), &mut out);
    decoder.frame(actions(vec![add(call("c1", shell))]), &mut out);
    decoder.frame(done(), &mut out);
    let events: Vec<Event> = out.into_iter().collect();
    assert!(calls_of(&events).is_empty());
    assert_eq!(events.last(), Some(&Event::Stop(StopReason::EndTurn)));
}

#[test]
fn warp_http_failures_are_classified_with_its_own_signals() {
    let run = |status: u16, headers: &[(&str, &str)], body: &str, reset_at: Option<i64>| {
        let mut map = http::HeaderMap::new();
        for (k, v) in headers {
            map.insert(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        let facts = graphql::AccountFacts { reset_at, ..Default::default() };
        super::classify_failure(
            http::StatusCode::from_u16(status).unwrap(),
            &map,
            body.as_bytes(),
            &facts,
            1_000,
        )
    };
    let credits = r#"{"error":"No AI credits remaining"}"#;
    let e = run(429, &[("x-warp-error-code", "OUT_OF_CREDITS")], credits, Some(61_000));
    assert_eq!(
        (e.kind(), e.retry_after()),
        (ErrorKind::QuotaExhausted, Some(std::time::Duration::from_secs(60)))
    );
    assert_eq!(run(429, &[], credits, None).kind(), ErrorKind::QuotaExhausted, "the text alone says it too");
    let busy = run(429, &[("retry-after", "2")], r#"{"error":"Too many requests"}"#, None);
    assert_eq!(
        (busy.kind(), busy.retry_after()),
        (ErrorKind::RateLimited, Some(std::time::Duration::from_secs(2)))
    );
    let e = run(
        400,
        &[],
        r#"{"error":"Invalid request: the requested base model (claude-4-6-opus-high) is not allowed for your account"}"#,
        None,
    );
    assert_eq!(e.kind(), ErrorKind::NotEntitled);
    assert!(e.client_message().contains("claude-4-6-opus-high"));
    let e = run(
        400,
        &[],
        r#"{"error":"Invalid request: the requested base model (gemini-3-1-pro) has no model available"}"#,
        None,
    );
    assert_eq!(e.kind(), ErrorKind::NotEntitled);
    assert_eq!(
        run(403, &[], r#"{"error":"not allowed to use the provided cloud agent"}"#, None).kind(),
        ErrorKind::NotEntitled
    );
    assert_eq!(
        run(403, &[], r#"{"error":"blocked from using AI features"}"#, None).kind(),
        ErrorKind::Forbidden
    );
    let e =
        run(400, &[], r#"{"error":"invalid AIAgentRequest: cannot parse invalid wire-format data"}"#, None);
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    assert_eq!(run(401, &[], r#"{"error":"Unauthorized"}"#, None).kind(), ErrorKind::Unauthorized);
}

/// The fact sheet's captured live frame (§7.1), through the framer's payload decoding and the
/// channel's decoder, is the Claude Code tool call `Bash {"command":"ls -la"}`.
#[test]
fn the_captured_live_frame_is_a_bash_ls_la_call() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/warp.json");
    let vectors: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let live = super::frames::decode_data(vectors["live_frame_b64"].as_str().unwrap().as_bytes());
    let (events, learned) =
        run(vec![event("0a130a08636f6e762d31323312077265712d343536"), live, done()], true);
    let calls = calls_of(&events);
    assert_eq!(
        calls,
        vec![("toolu_01Azsg4CznXv6spQXdrvFPmy".into(), "Bash".into(), json!({"command": "ls -la"}))]
    );
    assert_eq!(events.last(), Some(&Event::Stop(StopReason::ToolUse)));
    assert_eq!(learned.calls[0].warp_type, "run_shell_command");
}
