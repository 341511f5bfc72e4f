//! The protocol layer against the fact sheet's captured and computed vectors (§2.3, §2.4, §7).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use prost::Message as _;

use super::frames::{Action, FinishReason, Meta, WarpEvent, WarpFrameError, WarpFramer, decode_data};
use super::wire::{self, *};
use crate::channels::events::Framer;

/// The vectors file shared with the fact sheet (CI has `shared/` next to the repository).
fn vectors() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/warp.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).expect("vectors are JSON")
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("hex")
}

/// Decodes a frame given as hex, going through base64url like the wire does.
fn event(hex_frame: &str) -> WarpEvent {
    decode_data(URL_SAFE_NO_PAD.encode(unhex(hex_frame)).as_bytes()).expect("frame decodes")
}

fn actions(event: WarpEvent) -> Vec<Action> {
    match event {
        WarpEvent::Actions(actions) => actions,
        other => panic!("expected client actions, got {other:?}"),
    }
}

fn finished(event: WarpEvent) -> super::frames::Finished {
    match event {
        WarpEvent::Finished(finished) => finished,
        other => panic!("expected finished, got {other:?}"),
    }
}

/// The messages of the one `create_task` action of an event.
fn created(event: WarpEvent) -> Vec<Message> {
    match only(actions(event)) {
        Action::CreateTask(task) => task.messages,
        other => panic!("expected create_task, got {other:?}"),
    }
}

fn only<T: std::fmt::Debug>(mut items: Vec<T>) -> T {
    assert_eq!(items.len(), 1, "{items:?}");
    items.remove(0)
}

fn tool_of(message: &Message) -> (&str, &tool_call::Tool) {
    let call = message.tool_call().expect("a tool call message");
    (&call.tool_call_id, call.tool.as_ref().expect("a tool"))
}

// ----- §7.1: the live frame ----------------------------------------------------------------------

#[test]
fn live_frame_is_a_run_shell_command_ls_la() {
    let vectors = vectors();
    let b64 = vectors["live_frame_b64"].as_str().unwrap();
    assert!(b64.ends_with('='), "the live frame is padded");
    assert_eq!(super::frames::decode_base64(b64.as_bytes()).unwrap().len(), 779);

    let Action::UpdateMessage { task_id, message, mask } =
        only(actions(decode_data(b64.as_bytes()).unwrap()))
    else {
        panic!("expected update_task_message")
    };
    assert_eq!(task_id, "80489e47-e9e8-415d-ba72-8451358c9493");
    assert_eq!(message.id, "944a977c-473d-4efe-b880-f581b50227ea");
    assert_eq!(message.task_id, "80489e47-e9e8-415d-ba72-8451358c9493");
    assert_eq!(message.server_message_data.len(), 368);
    assert!(
        message.server_message_data.starts_with("CiQ5ZDYy") && message.server_message_data.ends_with("IgA=")
    );
    let (id, tool) = tool_of(&message);
    assert_eq!(id, "toolu_01Azsg4CznXv6spQXdrvFPmy");
    assert_eq!(tool.name(), "run_shell_command");
    let tool_call::Tool::RunShellCommand(shell) = tool else { panic!() };
    assert_eq!(shell.command, "ls -la");
    assert!(shell.is_read_only && !shell.uses_pager && !shell.is_risky);
    assert_eq!(shell.wait_until_complete, Some(false), "explicitly present with value 0");
    assert_eq!(
        mask,
        [
            "tool_call.run_shell_command.command",
            "tool_call.run_shell_command.is_read_only",
            "tool_call.run_shell_command.uses_pager",
            "tool_call.run_shell_command.is_risky",
            "server_message_data",
            "tool_call.run_shell_command.wait_until_complete",
        ]
    );
}

#[test]
fn live_frame_through_the_sse_framer_split_everywhere() {
    let b64 = vectors()["live_frame_b64"].as_str().unwrap().to_owned();
    let body = format!(": keep-alive\n\nevent: message\ndata: {b64}\n\n");
    let whole = decode_data(b64.as_bytes()).unwrap();
    for cut in 0..body.len() {
        let mut framer = WarpFramer::new();
        framer.push(Bytes::copy_from_slice(&body.as_bytes()[..cut]));
        framer.push(Bytes::copy_from_slice(&body.as_bytes()[cut..]));
        let mut frames = Vec::new();
        while let Some(frame) = framer.next_frame().unwrap() {
            frames.push(frame);
        }
        frames.extend(framer.finish());
        assert_eq!(frames, [Ok(whole.clone())], "cut at {cut}");
    }
}

// ----- §7.2: tool call payloads ------------------------------------------------------------------

#[test]
fn tool_call_payloads_of_section_7_2() {
    let shell = RunShellCommand::decode(unhex("0a066c73202d6c611001180028003000").as_slice()).unwrap();
    assert_eq!(
        (shell.command.as_str(), shell.is_read_only, shell.wait_until_complete),
        ("ls -la", true, Some(false))
    );

    let with_id =
        ToolCall::decode(unhex("0a08746f6f6c5f69643212100a066c73202d6c611001180028003000").as_slice())
            .unwrap();
    assert_eq!(with_id.tool_call_id, "tool_id2");
    assert!(matches!(&with_id.tool, Some(tool_call::Tool::RunShellCommand(s)) if s.command == "ls -la"));

    let without_command = ToolCall::decode(unhex("0a08746f6f6c5f6964311206100018002800").as_slice()).unwrap();
    assert_eq!(without_command.tool_call_id, "tool_id1");
    assert!(
        matches!(&without_command.tool, Some(tool_call::Tool::RunShellCommand(s)) if s.command.is_empty())
    );

    let without_id = ToolCall::decode(unhex("12100a066c73202d6c611001180028003000").as_slice()).unwrap();
    assert!(without_id.tool_call_id.is_empty());

    // apply_file_diffs.new_files, per the official schema.
    let new_file = ToolCall {
        tool_call_id: String::new(),
        tool: Some(tool_call::Tool::ApplyFileDiffs(ApplyFileDiffs {
            new_files: vec![NewFile {
                file_path: "/tmp/index.html".into(),
                content: "<!doctype html>".into(),
            }],
            ..Default::default()
        })),
    };
    assert_eq!(ToolCall::decode(new_file.encode_to_vec().as_slice()).unwrap(), new_file);
}

// ----- §7.3: stream vectors ----------------------------------------------------------------------

#[test]
fn section_7_3_hex_and_base64_columns_agree() {
    let table = [
        ("120e0a0c0a0a0a082a061a040a026869", "Eg4KDAoKCggqBhoECgJoaQ"),
        ("1a0442021003", "GgRCAhAD"),
        ("1a0a12004202100342021805", "GgoSAEICEANCAhgF"),
        ("1a0412004801", "GgQSAEgB"),
        ("1a022200", "GgIiAA"),
        ("1a022a00", "GgIqAA"),
        ("1a143a120a10757073747265616d20626c6577207570", "GhQ6EgoQdXBzdHJlYW0gYmxldyB1cA"),
        ("1a0e620c080212086770742d74657374", "Gg5iDAgCEghncHQtdGVzdA"),
        ("12110a0f0a0d0a0b2a09220712050a03707764", "EhEKDwoNCgsqCSIHEgUKA3B3ZA"),
        (
            "121a0a180a160a142a122210ba010d0a07636d645f31323312020802",
            "EhoKGAoWChQqEiIQugENCgdjbWRfMTIzEgIIAg",
        ),
        ("12180a160a140a122a101a030a0134220922070a05626f677573", "EhgKFgoUChIqEBoDCgE0IgkiBwoFYm9ndXM"),
        ("1a0442021001", "GgRCAhAB"),
        ("0a130a08636f6e762d31323312077265712d343536", "ChMKCGNvbnYtMTIzEgdyZXEtNDU2"),
        (
            "12200a1e2a1c0a1a0a096d6573736167652d327a0d0a0b7468696e6b696e672e2e2e",
            "EiAKHiocChoKCW1lc3NhZ2UtMnoNCgt0aGlua2luZy4uLg",
        ),
    ];
    for (hex_frame, b64) in table {
        assert_eq!(URL_SAFE_NO_PAD.encode(unhex(hex_frame)), b64);
        assert_eq!(decode_data(b64.as_bytes()).unwrap(), event(hex_frame), "{b64}");
    }
}

#[test]
fn text_hi_via_create_task() {
    let Action::CreateTask(task) = only(actions(event("120e0a0c0a0a0a082a061a040a026869"))) else { panic!() };
    let message = only(task.messages);
    assert_eq!(message.text(), Some("hi"));
}

#[test]
fn finished_vectors() {
    let f = finished(event("1a0442021003"));
    assert_eq!((f.reason.clone(), f.input_tokens(), f.output_tokens()), (FinishReason::Unset, 3, 0));
    assert!(f.reason.is_success());

    let f = finished(event("1a0a12004202100342021805"));
    assert_eq!((f.reason.clone(), f.input_tokens(), f.output_tokens()), (FinishReason::Done, 3, 5));
    assert_eq!(f.token_usage.len(), 2);

    let f = finished(event("1a0412004801"));
    assert_eq!(f.reason, FinishReason::Done);
    assert!(f.should_refresh_model_config);

    assert_eq!(finished(event("1a022200")).reason, FinishReason::QuotaLimit);
    assert_eq!(finished(event("1a022a00")).reason, FinishReason::ContextWindowExceeded);
    assert_eq!(
        finished(event("1a143a120a10757073747265616d20626c6577207570")).reason,
        FinishReason::InternalError("upstream blew up".into())
    );
    let key = finished(event("1a0e620c080212086770742d74657374")).reason;
    assert_eq!(key, FinishReason::InvalidApiKey { provider: 2, model_name: "gpt-test".into() });
    assert_eq!(key.provider().map(LlmProvider::label), Some("openai"));
    assert!(!key.is_success());
    assert_eq!(finished(event("1a0442021001")).input_tokens(), 1);

    // The reasons the sheet has no vector for, encoded here.
    for (reason, expected) in [
        (stream_finished::Reason::Other(Empty {}), FinishReason::Other),
        (stream_finished::Reason::MaxTokenLimit(Empty {}), FinishReason::MaxTokenLimit),
        (stream_finished::Reason::LlmUnavailable(Empty {}), FinishReason::LlmUnavailable),
    ] {
        let bytes = ResponseEvent {
            r#type: Some(response_event::Type::Finished(StreamFinished {
                reason: Some(reason),
                ..Default::default()
            })),
        }
        .encode_to_vec();
        assert_eq!(finished(event(&hex::encode(bytes))).reason, expected);
    }
}

#[test]
fn tool_call_vectors() {
    // run_shell_command "pwd", no id.
    let messages = created(event("12110a0f0a0d0a0b2a09220712050a03707764"));
    let message = only(messages);
    let (id, tool) = tool_of(&message);
    assert_eq!(id, "");
    assert!(matches!(tool, tool_call::Tool::RunShellCommand(s) if s.command == "pwd"));

    // read_shell_command_output "cmd_123", 2 s.
    let messages = created(event("121a0a180a160a142a122210ba010d0a07636d645f31323312020802"));
    let message = only(messages);
    let (_, tool) = tool_of(&message);
    let tool_call::Tool::ReadShellCommandOutput(read) = tool else { panic!("{tool:?}") };
    assert_eq!(read.command_id, "cmd_123");
    assert_eq!(
        read.delay,
        Some(read_shell_command_output::Delay::Duration(Duration { seconds: 2, nanos: 0 }))
    );

    // agent_output "4" and a server tool call "bogus".
    let messages = created(event("12180a160a140a122a101a030a0134220922070a05626f677573"));
    // The Go test builder put `agent_output "4"` (3) and `tool_call.server` (4) into ONE message:
    // two members of the same oneof. Protobuf keeps the last member seen, so a conforming decoder
    // sees only the server tool call (which is never forwarded). The Go proxy's raw field walk saw
    // both and printed "4"; real Warp, encoding with generated code, cannot send such a message.
    let message = only(messages);
    assert_eq!(message.text(), None);
    assert!(matches!(tool_of(&message).1, tool_call::Tool::Server(s) if s.payload == "bogus"));
    // The same content as two messages keeps both.
    let two = Task {
        messages: vec![
            Message {
                content: Some(message::Content::AgentOutput(AgentOutput { text: "4".into() })),
                ..Default::default()
            },
            message.clone(),
        ],
        ..Default::default()
    };
    assert_eq!(Task::decode(two.encode_to_vec().as_slice()).unwrap().messages[0].text(), Some("4"));

    // MCP call workspace_search {query: "router", top_k: 5}.
    let hex_frame = "12600a5e0a5c0a5a2a5822560a1763616c6c5f776f726b73706163655f7365617263685f31623b0a10776f726b73706163655f73656172636812270a110a05717565727912081a06726f757465720a120a05746f705f6b1209110000000000001440";
    let messages = created(event(hex_frame));
    let message = only(messages);
    let (id, tool) = tool_of(&message);
    assert_eq!(id, "call_workspace_search_1");
    let tool_call::Tool::CallMcpTool(call) = tool else { panic!() };
    assert_eq!(call.name, "workspace_search");
    assert_eq!(call.args.as_ref().unwrap().to_json(), serde_json::json!({"query": "router", "top_k": 5}));
}

#[test]
fn reasoning_and_init_vectors() {
    assert_eq!(
        event("0a130a08636f6e762d31323312077265712d343536"),
        WarpEvent::Init {
            conversation_id: "conv-123".into(),
            request_id: "req-456".into(),
            run_id: String::new()
        }
    );
    let Action::Append { message, mask, .. } =
        only(actions(event("12200a1e2a1c0a1a0a096d6573736167652d327a0d0a0b7468696e6b696e672e2e2e")))
    else {
        panic!()
    };
    assert_eq!((message.id.as_str(), message.reasoning()), ("message-2", Some("thinking...")));
    assert!(mask.is_empty());
}

#[test]
fn an_event_of_only_unknown_fields_is_unrecognized() {
    assert_eq!(event("9a0600"), WarpEvent::Unrecognized);
}

/// Unknown fields inside known messages are skipped: field 99 added to the `Message` of the
/// "text hi" vector, and field 50 to the event.
#[test]
fn unknown_fields_are_tolerated_inside_known_messages() {
    // Message { 3: agent_output{"hi"}, 99: "zz" } = 1a 04 0a 02 "hi" 9a 06 02 "zz"
    let message = unhex("1a040a0268699a06027a7a");
    let task = [&[0x2a, message.len() as u8][..], &message].concat();
    let create = [&[0x0a, task.len() as u8][..], &task].concat();
    let action = [&[0x0a, create.len() as u8][..], &create].concat();
    let actions_msg = [&[0x0a, action.len() as u8][..], &action].concat();
    let mut frame = [&[0x12, actions_msg.len() as u8][..], &actions_msg].concat();
    frame.extend_from_slice(&unhex("9003" /* field 50 varint */));
    frame.push(0x07);
    let Action::CreateTask(task) = only(actions(event(&hex::encode(&frame)))) else { panic!() };
    assert_eq!(only(task.messages).text(), Some("hi"));
}

#[test]
fn reconciliation_frames_decode_to_snapshots_appends_and_metadata() {
    let vectors = vectors();
    let frames: Vec<Vec<Action>> = vectors["reconciliation_frames_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| actions(event(h.as_str().unwrap())))
        .collect();
    assert_eq!(frames.len(), 5);
    let text_mask = vec!["agent_output.text".to_owned()];

    let Action::AddMessages { task_id, messages } = only(frames[0].clone()) else { panic!() };
    let first = only(messages);
    assert_eq!(
        (task_id.as_str(), first.id.as_str(), first.text()),
        ("task-1", "message-1", Some("CONTINUATION"))
    );

    for (frame, delta) in [(&frames[1], " "), (&frames[2], "OK")] {
        let Action::Append { task_id, message, mask } = only(frame.clone()) else { panic!() };
        assert_eq!(
            (task_id.as_str(), message.id.as_str(), message.text()),
            ("task-1", "message-1", Some(delta))
        );
        assert_eq!(mask, text_mask);
    }

    let Action::UpdateMessage { message, mask, .. } = only(frames[3].clone()) else { panic!() };
    assert_eq!((message.text(), mask), (Some("CONTINUATION OK"), text_mask));

    assert_eq!(
        only(frames[4].clone()),
        Action::Meta(Meta::UpdateTaskDescription {
            task_id: "task-1".into(),
            description: "Acknowledge command with CONTINUATION OK".into()
        })
    );

    // The reconciliation rule of §3.4 over these actions yields exactly "CONTINUATION OK".
    let mut current = String::new();
    let mut out = String::new();
    for action in frames.into_iter().flatten() {
        match action {
            Action::Append { message, .. } => {
                let delta = message.text().unwrap_or_default();
                out.push_str(delta);
                current.push_str(delta);
            }
            Action::AddMessages { messages, .. } => {
                for m in messages {
                    let snapshot = m.text().unwrap_or_default().to_owned();
                    if let Some(suffix) = snapshot.strip_prefix(current.as_str()) {
                        out.push_str(suffix);
                        current = snapshot;
                    }
                }
            }
            Action::UpdateMessage { message, .. } => {
                let snapshot = message.text().unwrap_or_default().to_owned();
                if let Some(suffix) = snapshot.strip_prefix(current.as_str()) {
                    out.push_str(suffix);
                    current = snapshot;
                }
            }
            _ => {}
        }
    }
    assert_eq!(out, "CONTINUATION OK");
}

// ----- framing edge cases ------------------------------------------------------------------------

fn drain(framer: &mut WarpFramer, body: &[u8]) -> Vec<Result<WarpEvent, WarpFrameError>> {
    framer.push(Bytes::copy_from_slice(body));
    let mut frames = Vec::new();
    while let Some(frame) = framer.next_frame().unwrap() {
        frames.push(frame);
    }
    frames.extend(framer.finish());
    frames
}

#[test]
fn framer_spots_html_and_json_bodies_and_bad_frames() {
    assert_eq!(drain(&mut WarpFramer::new(), b"\n<!doctype html><html></html>"), [Err(WarpFrameError::Html)]);
    assert_eq!(drain(&mut WarpFramer::new(), br#"{"error":"nope"}"#), [Err(WarpFrameError::Json)]);
    let frames = drain(&mut WarpFramer::new(), b"data: !!!\n\ndata: GgRCAhAD\n\nevent: ping\n\ndata: /w\n\n");
    assert!(matches!(frames[0], Err(WarpFrameError::Base64(_))), "{frames:?}");
    assert!(matches!(frames[1], Ok(WarpEvent::Finished(_))));
    assert!(matches!(frames[2], Err(WarpFrameError::Protobuf(_))), "{frames:?}");
    assert_eq!(frames.len(), 3, "the data-less event is skipped");
    // Unterminated last event, standard alphabet with padding.
    let frames = drain(&mut WarpFramer::new(), b"data: GgRCAhAD");
    assert!(matches!(frames.as_slice(), [Ok(WarpEvent::Finished(_))]));
}

// ----- requests ----------------------------------------------------------------------------------

/// The HEAD design of §2.4: query "hi", model auto-open, no tools, pwd /repo, Linux,
/// time 1700000000.123.
fn head_request(inputs: Vec<UserInput>, mcp: Option<McpContext>, conversation: Option<&str>) -> Request {
    Request {
        task_context: Some(TaskContext::default()),
        input: Some(Input {
            context: Some(InputContext::head("/repo", "Linux", "zsh", 1_700_000_000_123)),
            r#type: Some(input::Type::UserInputs(UserInputs { inputs })),
        }),
        settings: Some(Settings::head(
            ModelConfig::head("auto-open", "cli-agent-auto", "computer-use-agent-auto"),
            mcp.is_some(),
        )),
        metadata: Some(Metadata { conversation_id: conversation.map(str::to_owned), ..Default::default() }),
        existing_suggestions: None,
        mcp_context: mcp,
    }
}

fn query(text: &str) -> UserInput {
    UserInput::query(text)
}

#[test]
fn head_request_encodes_to_the_documented_178_bytes() {
    let expected = "0a00123c0a2c0a090a052f7265706f120012090a054c696e757812001a070a037a73681200220b0880e2cfaa0610c0a9d33a320c0a0a0a080a0268691a0020011a6e0a360a096175746f2d6f70656e220e636c692d6167656e742d6175746f2a17636f6d70757465722d7573652d6167656e742d6175746f3000180120012800300038004001500158016001680070017801800100880101980100a00100a80101b80101c00100c80100d00100d801002200";
    let bytes = head_request(vec![query("hi")], None, None).encode_to_vec();
    assert_eq!(bytes.len(), 178);
    assert_eq!(hex::encode(&bytes), expected);
    assert_eq!(Request::decode(bytes.as_slice()).unwrap(), head_request(vec![query("hi")], None, None));

    // Unknown fields (a string 99 at the top level, a varint 50 inside settings) are skipped.
    let mut with_unknown = bytes.clone();
    with_unknown.extend_from_slice(&unhex("9a060378797a"));
    assert_eq!(
        Request::decode(with_unknown.as_slice()).unwrap(),
        head_request(vec![query("hi")], None, None)
    );
    let settings = Settings::head(ModelConfig::head("auto-open", "c", "u"), false);
    let mut settings_bytes = settings.encode_to_vec();
    settings_bytes.extend_from_slice(&unhex("900301"));
    assert_eq!(Settings::decode(settings_bytes.as_slice()).unwrap(), settings);
}

#[test]
fn captured_0804de1_template_round_trips_byte_for_byte() {
    let template = unhex(
        "0a00125a0a430a1e0a0d2f55736572732f6c6f66796572120d2f55736572732f6c6f6679657212070a054d61634f531a0a0a037a73681203352e39220c08eeb8d3cb0610908ef0bd0232130a110a0f0a09e4bda0e5a5bde591801a0020011a660a210a0f636c617564652d342d352d6f707573220e636c692d6167656e742d6175746f1001180120013001380140014a1306070c08090f0e000b100a141113120203010d500158016001680170017801800101880101a80101b201070a1406070c0201b801012264121e0a0a656e747279706f696e7412101a0e555345525f494e4954494154454412200a1a69735f6175746f5f726573756d655f61667465725f6572726f721202200012200a1a69735f6175746f64657465637465645f757365725f717565727912022001",
    );
    let request = Request::decode(template.as_slice()).unwrap();
    let Some(input::Type::UserInputs(inputs)) = &request.input.as_ref().unwrap().r#type else { panic!() };
    let Some(user_input::Input::UserQuery(q)) = &only(inputs.inputs.clone()).input else { panic!() };
    assert_eq!((q.query.as_deref(), q.intended_agent), (Some("你好呀"), Some(1)));
    let settings = request.settings.as_ref().unwrap();
    assert_eq!(settings.model_config.as_ref().unwrap().base.as_deref(), Some("claude-4-5-opus"));
    assert_eq!(
        settings.supported_tools,
        [6, 7, 12, 8, 9, 15, 14, 0, 11, 16, 10, 20, 17, 19, 18, 2, 3, 1, 13]
    );
    assert_eq!(settings.supported_cli_agent_tools, [10, 20, 6, 7, 12, 2, 1]);
    let logging = &request.metadata.as_ref().unwrap().logging;
    assert_eq!(logging["entrypoint"], Value::string("USER_INITIATED"));
    assert_eq!(logging["is_auto_resume_after_error"], Value::bool(false));
    assert_eq!(request.encode_to_vec(), template, "re-encodes to the captured bytes");
}

fn tool_result(id: &str, result: tool_call_result::Result) -> UserInput {
    UserInput::tool_result(id, result)
}

fn finished_command(output: &str, exit_code: i32, command_id: Option<&str>) -> ShellCommandFinished {
    ShellCommandFinished {
        output: Some(output.into()),
        exit_code: Some(exit_code),
        command_id: command_id.map(str::to_owned),
    }
}

/// One result of every type of §2.6.
fn every_tool_result() -> Vec<UserInput> {
    use tool_call_result::Result as R;
    let error = |m: &str| ToolError { message: Some(m.into()) };
    vec![
        tool_result(
            "toolu_shell",
            R::RunShellCommand(RunShellCommandResult {
                command: Some("pwd".into()),
                result: Some(run_shell_command_result::Result::CommandFinished(finished_command(
                    "Exit code 2\n/repo",
                    2,
                    None,
                ))),
                ..Default::default()
            }),
        ),
        tool_result(
            "toolu_write",
            R::WriteToLongRunningShellCommand(WriteToLongRunningShellCommandResult {
                result: Some(write_to_long_running_shell_command_result::Result::CommandFinished(
                    finished_command("done", 0, None),
                )),
            }),
        ),
        tool_result(
            "toolu_read_output",
            R::ReadShellCommandOutput(ReadShellCommandOutputResult {
                command: Some("make".into()),
                result: Some(read_shell_command_output_result::Result::CommandFinished(finished_command(
                    "ok",
                    0,
                    Some("cmd_123"),
                ))),
            }),
        ),
        tool_result(
            "toolu_read",
            R::ReadFiles(ReadFilesResult {
                result: Some(read_files_result::Result::TextFilesSuccess(TextFilesSuccess {
                    files: vec![FileContent {
                        file_path: Some("main.go".into()),
                        content: Some("package main".into()),
                        line_range: None,
                    }],
                })),
            }),
        ),
        tool_result(
            "toolu_read_err",
            R::ReadFiles(ReadFilesResult {
                result: Some(read_files_result::Result::Error(error("no such file"))),
            }),
        ),
        tool_result(
            "toolu_edit",
            R::ApplyFileDiffs(ApplyFileDiffsResult {
                result: Some(apply_file_diffs_result::Result::Success(Empty {})),
            }),
        ),
        tool_result(
            "toolu_glob",
            R::FileGlob(FileGlobResult {
                result: Some(file_glob_result::Result::Success(FileGlobSuccess {
                    matched_files: Some("a.rs\nb.rs".into()),
                })),
            }),
        ),
        tool_result(
            "toolu_glob2",
            R::FileGlobV2(FileGlobV2Result {
                result: Some(file_glob_v2_result::Result::Success(FileGlobV2Success {
                    matched_files: vec![
                        FileGlobMatch { file_path: Some("a.rs".into()) },
                        FileGlobMatch { file_path: Some("b.rs".into()) },
                    ],
                    warnings: None,
                })),
            }),
        ),
        tool_result(
            "toolu_grep",
            R::Grep(GrepResult {
                result: Some(grep_result::Result::Success(GrepSuccess {
                    matched_files: vec![GrepFileMatch {
                        file_path: Some("src/lib.rs".into()),
                        matched_lines: vec![
                            GrepLineMatch { line_number: Some(3) },
                            GrepLineMatch { line_number: Some(9) },
                        ],
                    }],
                })),
            }),
        ),
        tool_result(
            "call_1",
            R::CallMcpTool(CallMcpToolResult {
                result: Some(call_mcp_tool_result::Result::Success(McpSuccess {
                    results: vec![McpResultItem {
                        result: Some(mcp_result_item::Result::Text(McpText {
                            text: Some("./README.md\n./main.go".into()),
                        })),
                    }],
                })),
            }),
        ),
        tool_result(
            "call_2",
            R::CallMcpTool(CallMcpToolResult {
                result: Some(call_mcp_tool_result::Result::Error(error("boom"))),
            }),
        ),
    ]
}

fn client_tools() -> McpContext {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name"}, "days": {"type": "integer", "enum": [1, 3]}},
        "required": ["city"],
    });
    McpContext {
        servers: vec![McpServer {
            name: Some("client".into()),
            description: Some("Tools declared by the client request".into()),
            id: Some("client-request-tools".into()),
            tools: vec![McpTool {
                name: Some("get_weather".into()),
                description: Some("Weather for a city".into()),
                input_schema: Struct::from_json(&schema),
            }],
            resources: Vec::new(),
        }],
        ..Default::default()
    }
}

#[test]
fn continuation_with_every_tool_result_type_and_mcp_tools_round_trips() {
    let mut inputs = every_tool_result();
    inputs.push(query("continue"));
    let request = head_request(inputs, Some(client_tools()), Some("conv_server_123"));
    let bytes = request.encode_to_vec();
    let back = Request::decode(bytes.as_slice()).unwrap();
    assert_eq!(back, request);
    assert_eq!(back.metadata.unwrap().conversation_id.as_deref(), Some("conv_server_123"));
    let tool = &back.mcp_context.unwrap().servers[0].tools[0];
    assert_eq!(
        tool.input_schema.as_ref().unwrap().to_json(),
        serde_json::json!({
            "properties": {"city": {"description": "City name", "type": "string"}, "days": {"enum": [1, 3], "type": "integer"}},
            "required": ["city"],
            "type": "object",
        })
    );
    let Some(input::Type::UserInputs(inputs)) = back.input.unwrap().r#type else { panic!() };
    let names: Vec<&str> = inputs
        .inputs
        .iter()
        .filter_map(|i| match &i.input {
            Some(user_input::Input::ToolCallResult(r)) => r.result.as_ref().map(|r| r.name()),
            _ => None,
        })
        .collect();
    assert_eq!(
        names,
        [
            "run_shell_command",
            "write_to_long_running_shell_command",
            "read_shell_command_output",
            "read_files",
            "read_files",
            "apply_file_diffs",
            "file_glob",
            "file_glob_v2",
            "grep",
            "call_mcp_tool",
            "call_mcp_tool"
        ]
    );
}

#[test]
fn head_tool_lists_are_the_documented_order() {
    let settings = Settings::head(ModelConfig::head("m", "c", "u"), true);
    assert_eq!(
        settings.supported_tools,
        [6, 7, 12, 8, 9, 15, 14, 0, 11, 16, 10, 20, 17, 19, 18, 13, 2, 3, 1]
    );
    assert_eq!(settings.supported_cli_agent_tools, [10, 20, 6, 7, 12, 2, 1]);
    let without = Settings::head(ModelConfig::head("m", "c", "u"), false);
    assert!(without.supported_tools.is_empty() && without.supported_cli_agent_tools.is_empty());
}

#[test]
fn small_messages_encode_to_their_documented_bytes() {
    // task_context {} ⇒ 0a 00; user_query mode {} ⇒ 1a 00; empty metadata ⇒ 22 00.
    assert_eq!(
        Request { task_context: Some(TaskContext::default()), ..Default::default() }.encode_to_vec(),
        [0x0a, 0x00]
    );
    assert_eq!(
        Request { metadata: Some(Metadata::default()), ..Default::default() }.encode_to_vec(),
        [0x22, 0x00]
    );
    // Explicit presence: false/0 are written, absent is not.
    let settings =
        Settings { supports_read_image_files: Some(false), autonomy_level: Some(0), ..Default::default() };
    assert_eq!(hex::encode(settings.encode_to_vec()), "800100980100");
    assert!(Settings::default().encode_to_vec().is_empty());
    // Packed repeated enums: supported_cli_agent_tools of the captured template.
    let settings = Settings { supported_cli_agent_tools: vec![10, 20, 6, 7, 12, 2, 1], ..Default::default() };
    assert_eq!(hex::encode(settings.encode_to_vec()), "b201070a1406070c0201");
    // The tool-call-result payload of §7.4 (a): call_mcp_tool.success.results[0].text.
    let result = every_tool_result().remove(9);
    let bytes = result.encode_to_vec();
    assert_eq!(UserInput::decode(bytes.as_slice()).unwrap(), result);
    // 12 27 tool_call_result { 0a 06 "call_1", 62 1d call_mcp_tool { 0a 1b success { 0a 19 results
    // { 0a 17 text { 0a 15 "./README.md\n./main.go" } } } } }
    assert_eq!(
        hex::encode(bytes),
        "12270a0663616c6c5f31621d0a1b0a190a170a152e2f524541444d452e6d640a2e2f6d61696e2e676f"
    );
}

#[test]
fn struct_json_mapping_keeps_types() {
    let json = serde_json::json!({"a": null, "b": true, "c": 1.5, "d": [1, "x"], "e": {"f": -2}});
    let s = Struct::from_json(&json).unwrap();
    let back = Struct::decode(s.encode_to_vec().as_slice()).unwrap();
    assert_eq!(back.to_json(), json);
    assert!(Struct::from_json(&serde_json::json!([1])).is_none());
    let _: BTreeMap<String, wire::Value> = back.fields;
}

/// The vendored vectors stay the fact sheet's: where the shared specification sits beside the
/// repository, both files are the same bytes.
#[test]
fn vendored_vectors_match_the_fact_sheet_where_it_is_present() {
    let shared = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/upstreams/vectors/warp.json");
    let vendored = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/warp.json");
    if let Ok(sheet) = std::fs::read(shared) {
        assert_eq!(
            std::fs::read(vendored).unwrap(),
            sheet,
            "tests/vectors/warp.json differs from the fact sheet's"
        );
    }
}
