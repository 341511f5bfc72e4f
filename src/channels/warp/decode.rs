//! Warp frames → IR events (fact sheet §3.3–3.6): a stream-core [`Decoder`] over
//! [`WarpFramer`](super::frames::WarpFramer) frames. Pure: what the stream teaches the channel
//! (the conversation id, the tool calls it issued) is collected in [`Learned`] for the channel to
//! persist; no IO here.
//!
//! **Reconciliation** (§3.4), per message id and separately for text and reasoning: an append is a
//! delta (emitted, also when it is only whitespace); a create/add/update is a snapshot, of which
//! only what extends the text seen so far is emitted. A snapshot that contradicts what was already
//! sent cannot be un-sent: it is remembered, nothing is emitted.
//!
//! **Tool calls** (§3.5): `call_mcp_tool` is a call of one of the client's tools; native Warp tools
//! become the Claude Code tool of the same purpose with a valid input (`Bash {command}`,
//! `Read {file_path}`, `Write {file_path, content}`, `Edit {file_path, old_string, new_string}`,
//! `Grep {pattern, path}`, `Glob {pattern, path}`). A call is emitted once, when complete (Warp
//! introduces some empty and completes them by update); server-side tools are never forwarded.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use super::frames::{Action, FinishReason, Finished, WarpEvent, WarpFrameError};
use super::wire::{Message, ToolCall, message, tool_call};
use crate::channels::events;
use crate::ir::{ErrorKind, Event, StopReason, Text, UpstreamError, Usage};

/// One tool call handed to the client, with what its result needs to go back typed (§2.6).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct IssuedCall {
    pub(crate) id: String,
    /// The Warp tool type (`run_shell_command`, `read_files`, `call_mcp_tool`, ...).
    pub(crate) warp_type: &'static str,
    /// The tool name the client saw.
    pub(crate) name: String,
    /// The input the client saw.
    pub(crate) input: Value,
}

/// What one answer taught the channel.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Learned {
    pub(crate) conversation_id: Option<String>,
    pub(crate) calls: Vec<IssuedCall>,
    /// `finished.should_refresh_model_config`: the account's model choices are stale.
    pub(crate) refresh_model_config: bool,
}

/// The decoder of one `/ai/multi-agent` answer.
pub(crate) struct Decoder {
    learned: Arc<Mutex<Learned>>,
    /// The tool names the client declared; a call of any other is not forwarded (`None`: any).
    tools: Option<Vec<String>>,
    texts: HashMap<String, String>,
    reasonings: HashMap<String, String>,
    calls_seen: HashSet<String>,
    tool_calls: u32,
    content: bool,
    recognized: bool,
    done: bool,
}

impl Decoder {
    pub(crate) fn new(learned: Arc<Mutex<Learned>>) -> Decoder {
        Decoder {
            learned,
            tools: None,
            texts: HashMap::new(),
            reasonings: HashMap::new(),
            calls_seen: HashSet::new(),
            tool_calls: 0,
            content: false,
            recognized: false,
            done: false,
        }
    }

    /// Forwards only calls of these client tools (Warp may call its own tools when the request
    /// allows none).
    pub(crate) fn with_tools(mut self, tools: Vec<String>) -> Decoder {
        self.tools = Some(tools);
        self
    }

    fn learn(&self, f: impl FnOnce(&mut Learned)) {
        f(&mut self.learned.lock().unwrap_or_else(|e| e.into_inner()));
    }

    fn fail(&mut self, error: UpstreamError, out: &mut VecDeque<Event>) {
        self.done = true;
        out.push_back(Event::Error(error));
    }

    fn action(&mut self, action: Action, out: &mut VecDeque<Event>) {
        match action {
            Action::CreateTask(task) => {
                for m in &task.messages {
                    self.message(m, Kind::Snapshot, &[], out);
                }
            }
            Action::AddMessages { messages, .. } => {
                for m in &messages {
                    self.message(m, Kind::Snapshot, &[], out);
                }
            }
            Action::UpdateMessage { message, mask, .. } => self.message(&message, Kind::Snapshot, &mask, out),
            Action::Append { message, mask, .. } => self.message(&message, Kind::Delta, &mask, out),
            Action::Meta(_) => {}
        }
    }

    fn message(&mut self, m: &Message, kind: Kind, mask: &[String], out: &mut VecDeque<Event>) {
        let key = if m.id.is_empty() { "primary" } else { m.id.as_str() };
        let touches = |path: &str| mask.is_empty() || mask.iter().any(|p| p == path || path.starts_with(p));
        match &m.content {
            Some(message::Content::AgentOutput(o)) if touches("agent_output.text") => {
                if let Some(delta) = reconcile(slot(&mut self.texts, key), &o.text, kind) {
                    self.content = true;
                    out.push_back(Event::Text(Text::from(delta)));
                }
            }
            Some(message::Content::AgentReasoning(r)) if touches("agent_reasoning.reasoning") => {
                if let Some(delta) = reconcile(slot(&mut self.reasonings, key), &r.reasoning, kind) {
                    self.content = true;
                    out.push_back(Event::Thinking(Text::from(delta)));
                }
            }
            Some(message::Content::ToolCall(call)) => self.tool_call(call, out),
            _ => {}
        }
    }

    fn tool_call(&mut self, call: &ToolCall, out: &mut VecDeque<Event>) {
        let Some((warp_type, name, input)) = map_tool(call) else { return };
        if self.tools.as_ref().is_some_and(|tools| !tools.contains(&name)) {
            tracing::debug!(tool = %name, "warp: a call of a tool the client did not declare is dropped");
            return;
        }
        let id = if call.tool_call_id.is_empty() {
            anonymous_id(&name, &input)
        } else {
            call.tool_call_id.clone()
        };
        if !self.calls_seen.insert(id.clone()) {
            return;
        }
        let index = self.tool_calls;
        self.tool_calls += 1;
        self.content = true;
        out.push_back(Event::ToolCallStart {
            index,
            id: Text::from(id.as_str()),
            name: Text::from(name.as_str()),
        });
        out.push_back(Event::ToolArgs { index, fragment: Text::from(input.to_string()) });
        self.learn(|l| l.calls.push(IssuedCall { id, warp_type, name, input }));
    }

    fn finished(&mut self, finished: Finished, out: &mut VecDeque<Event>) {
        self.done = true;
        let usage = Usage {
            input: Some(finished.input_tokens()),
            output: Some(finished.output_tokens()),
            ..Default::default()
        };
        if finished.should_refresh_model_config {
            self.learn(|l| l.refresh_model_config = true);
        }
        let error = match &finished.reason {
            r if r.is_success() => None,
            FinishReason::QuotaLimit => Some(
                UpstreamError::new(ErrorKind::QuotaExhausted)
                    .with_message("warp: no remaining quota (quota_limit)"),
            ),
            FinishReason::ContextWindowExceeded => Some(
                UpstreamError::new(ErrorKind::InvalidRequest)
                    .with_message("input is too long for the model's context window"),
            ),
            FinishReason::MaxTokenLimit if self.content => {
                out.push_back(Event::Usage(usage));
                out.push_back(Event::Stop(StopReason::MaxTokens));
                return;
            }
            FinishReason::MaxTokenLimit => Some(
                UpstreamError::new(ErrorKind::InvalidRequest).with_message("maximum output tokens reached"),
            ),
            FinishReason::LlmUnavailable => {
                Some(UpstreamError::new(ErrorKind::Overloaded).with_message("warp: the model is unavailable"))
            }
            FinishReason::InternalError(message) => Some(
                UpstreamError::new(ErrorKind::Server).with_message(format!("warp internal error: {message}")),
            ),
            FinishReason::InvalidApiKey { model_name, .. } => {
                let provider = finished.reason.provider().map_or("unknown", |p| p.label());
                Some(
                    UpstreamError::new(ErrorKind::Unauthorized).with_message(format!(
                        "warp: invalid api key (provider={provider} model={model_name})"
                    )),
                )
            }
            _ => None,
        };
        if let Some(error) = error {
            out.push_back(Event::Error(error));
            return;
        }
        if !self.content {
            out.push_back(Event::Error(UpstreamError::new(ErrorKind::EmptyResponse)));
            return;
        }
        out.push_back(Event::Usage(usage));
        out.push_back(Event::Stop(if self.tool_calls > 0 {
            StopReason::ToolUse
        } else {
            StopReason::EndTurn
        }));
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Snapshot,
    Delta,
}

/// The text seen so far of message `key` (the key is copied only the first time).
fn slot<'a>(map: &'a mut HashMap<String, String>, key: &str) -> &'a mut String {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), String::new());
    }
    match map.get_mut(key) {
        Some(text) => text,
        None => unreachable!("inserted above"),
    }
}

/// Folds one payload into `current`; what to emit, if anything.
fn reconcile(current: &mut String, payload: &str, kind: Kind) -> Option<String> {
    if payload.is_empty() {
        return None;
    }
    match kind {
        Kind::Delta => {
            current.push_str(payload);
            Some(payload.to_owned())
        }
        Kind::Snapshot => {
            if current.starts_with(payload) {
                None
            } else if let Some(rest) = payload.strip_prefix(current.as_str()) {
                let rest = rest.to_owned();
                current.push_str(&rest);
                Some(rest)
            } else {
                // Conflict: what was sent stays sent.
                *current = payload.to_owned();
                None
            }
        }
    }
}

/// `warp_anon_<fnv-1a 64 of lower(name) 0x00 input>` for a call without an id (§3.5).
fn anonymous_id(name: &str, input: &Value) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = name.to_lowercase().into_bytes().into_iter().chain([0]).chain(input.to_string().into_bytes());
    for b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("warp_anon_{hash:016x}")
}

fn object(pairs: &[(&str, &str)]) -> Value {
    let mut map = Map::new();
    for (k, v) in pairs {
        if !v.is_empty() {
            map.insert((*k).to_owned(), Value::String((*v).to_owned()));
        }
    }
    Value::Object(map)
}

/// A complete call as (Warp type, client tool name, input); `None` while incomplete or for a tool
/// that is never forwarded.
pub(crate) fn map_tool(call: &ToolCall) -> Option<(&'static str, String, Value)> {
    use tool_call::Tool as T;
    let tool = call.tool.as_ref()?;
    let warp_type = tool.name();
    let (name, input) = match tool {
        T::CallMcpTool(c) if !c.name.is_empty() => {
            (c.name.clone(), c.args.as_ref().map_or_else(|| json!({}), |a| a.to_json()))
        }
        T::RunShellCommand(c) if !c.command.is_empty() => ("Bash".to_owned(), json!({"command": c.command})),
        T::WriteToLongRunningShellCommand(c) if !c.input.is_empty() => {
            ("Bash".to_owned(), json!({"command": String::from_utf8_lossy(&c.input)}))
        }
        T::ReadFiles(r) => {
            let file = r.files.iter().find(|f| !f.name.is_empty())?;
            let mut input = json!({"file_path": file.name});
            if let Some(range) = file.line_ranges.first().filter(|r| r.start > 0 && r.end >= r.start) {
                input["offset"] = json!(range.start);
                input["limit"] = json!(range.end - range.start + 1);
            }
            ("Read".to_owned(), input)
        }
        T::ApplyFileDiffs(a) => {
            if let Some(new) = a.new_files.iter().find(|f| !f.file_path.is_empty()) {
                ("Write".to_owned(), json!({"file_path": new.file_path, "content": new.content}))
            } else if let Some(diff) = a.diffs.iter().find(|d| !d.file_path.is_empty()) {
                (
                    "Edit".to_owned(),
                    json!({"file_path": diff.file_path, "old_string": diff.search, "new_string": diff.replace}),
                )
            } else {
                let update = a.v4a_updates.iter().find(|u| !u.file_path.is_empty())?;
                let hunk = update.hunks.first()?;
                (
                    "Edit".to_owned(),
                    json!({"file_path": update.file_path, "old_string": hunk.old, "new_string": hunk.new}),
                )
            }
        }
        T::Grep(g) if !g.queries.is_empty() => {
            ("Grep".to_owned(), object(&[("pattern", &g.queries.join("|")), ("path", &g.path)]))
        }
        T::SearchCodebase(s) if !s.query.is_empty() => {
            ("Grep".to_owned(), object(&[("pattern", &s.query), ("path", &s.codebase_path)]))
        }
        T::FileGlob(g) if !g.patterns.is_empty() => {
            ("Glob".to_owned(), object(&[("pattern", &g.patterns[0]), ("path", &g.path)]))
        }
        T::FileGlobV2(g) if !g.patterns.is_empty() => {
            ("Glob".to_owned(), object(&[("pattern", &g.patterns[0]), ("path", &g.search_dir)]))
        }
        _ => return None,
    };
    Some((warp_type, name, input))
}

impl events::Decoder for Decoder {
    type Frame = Result<WarpEvent, WarpFrameError>;

    fn frame(&mut self, frame: Self::Frame, out: &mut VecDeque<Event>) {
        match frame {
            Ok(WarpEvent::Init { conversation_id, .. }) => {
                self.recognized = true;
                if !conversation_id.is_empty() {
                    self.learn(|l| l.conversation_id = Some(conversation_id));
                }
            }
            Ok(WarpEvent::Actions(actions)) => {
                self.recognized = true;
                for action in actions {
                    self.action(action, out);
                }
            }
            Ok(WarpEvent::Finished(finished)) => {
                self.recognized = true;
                self.finished(finished, out);
            }
            Ok(WarpEvent::Error { message, code }) => {
                let error = UpstreamError::new(ErrorKind::Server)
                    .with_message(format!("warp stream error {code}: {message}"));
                self.fail(error, out);
            }
            Ok(WarpEvent::Unrecognized) => {}
            Err(WarpFrameError::Html) => {
                self.fail(
                    UpstreamError::new(ErrorKind::Challenge).with_message("non-protobuf html response"),
                    out,
                );
            }
            Err(e) => self.fail(UpstreamError::new(ErrorKind::Protocol).with_message(e.to_string()), out),
        }
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn end(&mut self, saw_frames: bool, out: &mut VecDeque<Event>) {
        if self.done {
            return;
        }
        let error = if self.recognized {
            UpstreamError::new(ErrorKind::StreamCut).with_message("warp stream ended without `finished`")
        } else if saw_frames {
            UpstreamError::new(ErrorKind::Protocol)
                .with_message("warp stream ended without parsed response events")
        } else {
            UpstreamError::new(ErrorKind::EmptyResponse)
        };
        out.push_back(Event::Error(error));
    }
}
