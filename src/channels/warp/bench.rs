//! What `benches/warp.rs` and `tests/warp.rs` need from the channel's private layers: Warp answers
//! as SSE chunks, the framer + decoder pipeline behind a public face, and a request body
//! summarized. Not an API.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use bytes::Bytes;
use prost::Message as _;

use super::decode::{Decoder, Learned};
use super::frames::WarpFramer;
use super::wire::*;
use crate::channels::events::{Decoder as _, Framer as _};
use crate::ir::Event;

fn frame(event: ResponseEvent) -> Bytes {
    Bytes::from(format!("data: {}\n\n", URL_SAFE.encode(event.encode_to_vec())))
}

fn actions(list: Vec<client_action::Action>) -> Bytes {
    frame(ResponseEvent {
        r#type: Some(response_event::Type::ClientActions(ClientActions {
            actions: list.into_iter().map(|a| ClientAction { action: Some(a) }).collect(),
        })),
    })
}

fn message(id: &str, content: message::Content) -> Message {
    Message { id: id.to_owned(), task_id: "task-1".to_owned(), content: Some(content), ..Default::default() }
}

/// One message streamed as Warp does: a first snapshot, append deltas, a final full snapshot.
fn stream_message(id: &str, pieces: &[String], reasoning: bool, out: &mut Vec<Bytes>) {
    let (content, path): (fn(&str) -> message::Content, &str) = if reasoning {
        (
            |s| {
                message::Content::AgentReasoning(AgentReasoning {
                    reasoning: s.to_owned(),
                    finished_duration: None,
                })
            },
            "agent_reasoning.reasoning",
        )
    } else {
        (|s| message::Content::AgentOutput(AgentOutput { text: s.to_owned() }), "agent_output.text")
    };
    let Some((first, rest)) = pieces.split_first() else { return };
    out.push(actions(vec![client_action::Action::AddMessagesToTask(AddMessagesToTask {
        task_id: "task-1".to_owned(),
        messages: vec![message(id, content(first))],
    })]));
    for piece in rest {
        out.push(actions(vec![client_action::Action::AppendToMessageContent(AppendToMessageContent {
            message: Some(message(id, content(piece))),
            mask: Some(FieldMask { paths: vec![path.to_owned()] }),
            task_id: "task-1".to_owned(),
        })]));
    }
    out.push(actions(vec![client_action::Action::UpdateTaskMessage(UpdateTaskMessage {
        message: Some(message(id, content(&pieces.concat()))),
        mask: Some(FieldMask { paths: vec![path.to_owned()] }),
        task_id: "task-1".to_owned(),
    })]));
}

/// A whole answer, one SSE event per chunk: `init`, `create_task`, the reasoning message, the
/// text message, a metadata action, `finished{done}`.
pub fn answer(reasoning: &[String], text: &[String]) -> Vec<Bytes> {
    let mut out = vec![frame(ResponseEvent {
        r#type: Some(response_event::Type::Init(StreamInit {
            conversation_id: "conv_bench".to_owned(),
            request_id: "req_bench".to_owned(),
            run_id: String::new(),
        })),
    })];
    out.push(actions(vec![client_action::Action::CreateTask(CreateTask {
        task: Some(Task { id: "task-1".to_owned(), ..Default::default() }),
    })]));
    stream_message("msg-reasoning", reasoning, true, &mut out);
    stream_message("msg-text", text, false, &mut out);
    out.push(actions(vec![client_action::Action::UpdateTaskDescription(UpdateTaskDescription {
        task_id: "task-1".to_owned(),
        description: "bench".to_owned(),
    })]));
    out.push(frame(ResponseEvent {
        r#type: Some(response_event::Type::Finished(StreamFinished {
            reason: Some(stream_finished::Reason::Done(Empty {})),
            token_usage: vec![TokenUsage {
                total_input: 100,
                output: text.len() as u32,
                ..Default::default()
            }],
            ..Default::default()
        })),
    }));
    out
}

/// Upstream chunks in, IR events out: the channel's framer and decoder.
pub struct Converter {
    framer: WarpFramer,
    decoder: Decoder,
    saw_frames: bool,
}

impl Default for Converter {
    fn default() -> Self {
        Converter::new()
    }
}

impl Converter {
    pub fn new() -> Converter {
        Converter {
            framer: WarpFramer::new(),
            decoder: Decoder::new(Arc::new(Mutex::new(Learned::default()))),
            saw_frames: false,
        }
    }

    /// Frames and decodes one chunk.
    pub fn push(&mut self, chunk: Bytes, out: &mut VecDeque<Event>) {
        self.framer.push(chunk);
        while let Ok(Some(frame)) = self.framer.next_frame() {
            self.saw_frames = true;
            if !self.decoder.is_done() {
                self.decoder.frame(frame, out);
            }
        }
    }

    /// The body ended.
    pub fn finish(&mut self, out: &mut VecDeque<Event>) {
        if let Some(frame) = self.framer.finish()
            && !self.decoder.is_done()
        {
            self.decoder.frame(frame, out);
        }
        self.decoder.end(self.saw_frames, out);
    }
}

/// What a `/ai/multi-agent` request body says, as JSON, for tests that look at what Warp
/// received: `conversation_id`, `model`, `query`, and `results` (`[{id, type, ...}]` with the
/// command / file path / output of typed results). `None` if the body is not a `Request`.
pub fn request_summary(body: &[u8]) -> Option<serde_json::Value> {
    use serde_json::json;
    let request = Request::decode(body).ok()?;
    let mut query = None;
    let mut results = Vec::new();
    if let Some(input::Type::UserInputs(inputs)) = request.input.as_ref().and_then(|i| i.r#type.as_ref()) {
        for item in &inputs.inputs {
            match &item.input {
                Some(user_input::Input::UserQuery(q)) => query = q.query.clone(),
                Some(user_input::Input::ToolCallResult(r)) => {
                    let mut entry =
                        json!({"id": r.tool_call_id, "type": r.result.as_ref().map(|r| r.name())});
                    match &r.result {
                        Some(tool_call_result::Result::RunShellCommand(shell)) => {
                            entry["command"] = json!(shell.command);
                            if let Some(run_shell_command_result::Result::CommandFinished(done)) =
                                &shell.result
                            {
                                entry["output"] = json!(done.output);
                                entry["exit_code"] = json!(done.exit_code);
                            }
                        }
                        Some(tool_call_result::Result::ReadFiles(read)) => {
                            if let Some(read_files_result::Result::TextFilesSuccess(files)) = &read.result {
                                entry["file_path"] =
                                    json!(files.files.first().and_then(|f| f.file_path.clone()));
                                entry["content"] = json!(files.files.first().and_then(|f| f.content.clone()));
                            }
                        }
                        _ => {}
                    }
                    results.push(entry);
                }
                None => {}
            }
        }
    }
    Some(json!({
        "conversation_id": request.metadata.and_then(|m| m.conversation_id),
        "model": request.settings.and_then(|s| s.model_config).and_then(|m| m.base),
        "query": query,
        "results": results,
    }))
}
