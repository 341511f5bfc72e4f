//! `warp.multi_agent.v1.ResponseEvent`: one event of the `/ai/multi-agent` stream (fact sheet §3.2).
//!
//! **Presence.** Decoding does not need to tell an absent scalar from a zero except where the
//! sheet says presence matters (`RunShellCommand.wait_until_complete`, a oneof of one field); those
//! are `Option`s, the rest plain values. Encoding (the mock) writes non-zero values only, as the
//! official server's prost-generated code does.

use super::common::{Duration, Empty, FieldMask, Struct, Timestamp};
use super::request::FileContentLineRange;

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ResponseEvent {
    #[prost(oneof = "response_event::Type", tags = "1, 2, 3, 4")]
    pub(crate) r#type: Option<response_event::Type>,
}

pub(crate) mod response_event {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Type {
        /// First event, exactly once.
        #[prost(message, tag = "1")]
        Init(super::StreamInit),
        #[prost(message, tag = "2")]
        ClientActions(super::ClientActions),
        /// Last event, exactly once on a graceful end.
        #[prost(message, tag = "3")]
        Finished(super::StreamFinished),
        /// [unverified] Parsed by both Go versions, absent from the official schema.
        #[prost(message, tag = "4")]
        Error(super::StreamError),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct StreamInit {
    #[prost(string, tag = "1")]
    pub(crate) conversation_id: String,
    #[prost(string, tag = "2")]
    pub(crate) request_id: String,
    #[prost(string, tag = "3")]
    pub(crate) run_id: String,
}

/// [unverified] field 4 of `ResponseEvent`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct StreamError {
    #[prost(string, tag = "1")]
    pub(crate) message: String,
    #[prost(string, tag = "2")]
    pub(crate) code: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ClientActions {
    #[prost(message, repeated, tag = "1")]
    pub(crate) actions: Vec<ClientAction>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ClientAction {
    #[prost(oneof = "client_action::Action", tags = "1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14")]
    pub(crate) action: Option<client_action::Action>,
}

pub(crate) mod client_action {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Action {
        #[prost(message, tag = "1")]
        CreateTask(super::CreateTask),
        #[prost(message, tag = "3")]
        AddMessagesToTask(super::AddMessagesToTask),
        #[prost(message, tag = "4")]
        UpdateTaskMessage(super::UpdateTaskMessage),
        #[prost(message, tag = "5")]
        AppendToMessageContent(super::AppendToMessageContent),
        /// `Suggestions`, kept raw.
        #[prost(bytes = "vec", tag = "6")]
        ShowSuggestions(Vec<u8>),
        #[prost(message, tag = "7")]
        UpdateTaskSummary(super::UpdateTaskSummary),
        #[prost(message, tag = "8")]
        UpdateTaskDescription(super::UpdateTaskDescription),
        #[prost(message, tag = "9")]
        BeginTransaction(super::Empty),
        #[prost(message, tag = "10")]
        CommitTransaction(super::Empty),
        #[prost(message, tag = "11")]
        RollbackTransaction(super::Empty),
        #[prost(message, tag = "12")]
        StartNewConversation(super::StartNewConversation),
        #[prost(message, tag = "13")]
        UpdateTaskServerData(super::UpdateTaskServerData),
        #[prost(message, tag = "14")]
        MoveMessagesToNewTask(super::MoveMessagesToNewTask),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct CreateTask {
    #[prost(message, optional, tag = "1")]
    pub(crate) task: Option<Task>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AddMessagesToTask {
    #[prost(string, tag = "1")]
    pub(crate) task_id: String,
    #[prost(message, repeated, tag = "2")]
    pub(crate) messages: Vec<Message>,
}

/// Replaces the fields of `message` listed in `mask` (a full snapshot).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct UpdateTaskMessage {
    #[prost(message, optional, tag = "1")]
    pub(crate) message: Option<Message>,
    #[prost(message, optional, tag = "2")]
    pub(crate) mask: Option<FieldMask>,
    #[prost(string, tag = "3")]
    pub(crate) task_id: String,
}

/// Appends to the string fields of `message` listed in `mask` (a delta).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AppendToMessageContent {
    #[prost(message, optional, tag = "1")]
    pub(crate) message: Option<Message>,
    #[prost(message, optional, tag = "2")]
    pub(crate) mask: Option<FieldMask>,
    #[prost(string, tag = "3")]
    pub(crate) task_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct UpdateTaskSummary {
    #[prost(string, tag = "1")]
    pub(crate) task_id: String,
    #[prost(string, tag = "2")]
    pub(crate) summary: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct UpdateTaskDescription {
    #[prost(string, tag = "1")]
    pub(crate) task_id: String,
    #[prost(string, tag = "2")]
    pub(crate) description: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct StartNewConversation {
    #[prost(string, tag = "1")]
    pub(crate) start_from_message_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct UpdateTaskServerData {
    #[prost(string, tag = "1")]
    pub(crate) task_id: String,
    #[prost(string, tag = "2")]
    pub(crate) server_data: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct MoveMessagesToNewTask {
    #[prost(string, tag = "1")]
    pub(crate) source_task_id: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) new_task: Option<Task>,
    #[prost(string, tag = "3")]
    pub(crate) first_message_id: String,
    #[prost(string, tag = "4")]
    pub(crate) last_message_id: String,
    #[prost(uint32, tag = "5")]
    pub(crate) expected_message_count: u32,
    #[prost(message, repeated, tag = "6")]
    pub(crate) replacement_messages: Vec<Message>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Task {
    #[prost(string, tag = "1")]
    pub(crate) id: String,
    #[prost(string, tag = "2")]
    pub(crate) description: String,
    /// `Dependencies { parent_task_id = 1 }`, kept raw.
    #[prost(bytes = "vec", tag = "3")]
    pub(crate) dependencies: Vec<u8>,
    #[prost(message, repeated, tag = "5")]
    pub(crate) messages: Vec<Message>,
    #[prost(string, tag = "6")]
    pub(crate) summary: String,
    #[prost(string, tag = "8")]
    pub(crate) server_data: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Message {
    #[prost(string, tag = "1")]
    pub(crate) id: String,
    #[prost(oneof = "message::Content", tags = "2, 3, 4, 5, 6, 9, 10, 15, 21, 25")]
    pub(crate) content: Option<message::Content>,
    /// Opaque (base64url of a protobuf); a client only round-trips it.
    #[prost(string, tag = "7")]
    pub(crate) server_message_data: String,
    /// `Citation`s, kept raw.
    #[prost(bytes = "vec", repeated, tag = "8")]
    pub(crate) citations: Vec<Vec<u8>>,
    #[prost(string, tag = "11")]
    pub(crate) task_id: String,
    #[prost(string, tag = "13")]
    pub(crate) request_id: String,
    #[prost(message, optional, tag = "14")]
    pub(crate) timestamp: Option<Timestamp>,
}

pub(crate) mod message {
    /// `Message.message`: what the message is.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Content {
        /// Echo of the user turn, kept raw.
        #[prost(bytes = "vec", tag = "2")]
        UserQuery(Vec<u8>),
        #[prost(message, tag = "3")]
        AgentOutput(super::AgentOutput),
        #[prost(message, tag = "4")]
        ToolCall(super::ToolCall),
        /// Response-side `ToolCallResult` (numbered differently from the request's), kept raw.
        #[prost(bytes = "vec", tag = "5")]
        ToolCallResult(Vec<u8>),
        /// `ServerEvent { payload = 1 }`, kept raw.
        #[prost(bytes = "vec", tag = "6")]
        ServerEvent(Vec<u8>),
        #[prost(bytes = "vec", tag = "9")]
        SystemQuery(Vec<u8>),
        #[prost(bytes = "vec", tag = "10")]
        UpdateTodos(Vec<u8>),
        #[prost(message, tag = "15")]
        AgentReasoning(super::AgentReasoning),
        #[prost(message, tag = "21")]
        DebugOutput(super::DebugOutput),
        #[prost(message, tag = "25")]
        ModelUsed(super::ModelUsed),
    }
}

impl Message {
    /// The assistant text this message carries, if it is an `agent_output`.
    pub(crate) fn text(&self) -> Option<&str> {
        match &self.content {
            Some(message::Content::AgentOutput(output)) => Some(&output.text),
            _ => None,
        }
    }

    /// The reasoning this message carries, if it is an `agent_reasoning`.
    pub(crate) fn reasoning(&self) -> Option<&str> {
        match &self.content {
            Some(message::Content::AgentReasoning(reasoning)) => Some(&reasoning.reasoning),
            _ => None,
        }
    }

    pub(crate) fn tool_call(&self) -> Option<&ToolCall> {
        match &self.content {
            Some(message::Content::ToolCall(call)) => Some(call),
            _ => None,
        }
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AgentOutput {
    #[prost(string, tag = "1")]
    pub(crate) text: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AgentReasoning {
    #[prost(string, tag = "1")]
    pub(crate) reasoning: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) finished_duration: Option<Duration>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct DebugOutput {
    #[prost(string, tag = "1")]
    pub(crate) text: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ModelUsed {
    #[prost(string, tag = "1")]
    pub(crate) model_id: String,
    #[prost(string, tag = "2")]
    pub(crate) model_display_name: String,
    #[prost(bool, tag = "3")]
    pub(crate) is_fallback: bool,
}

// ----- tool calls --------------------------------------------------------------------------------

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ToolCall {
    /// Anthropic-style ids seen live (`toolu_01…`); may be empty.
    #[prost(string, tag = "1")]
    pub(crate) tool_call_id: String,
    #[prost(oneof = "tool_call::Tool", tags = "2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 19, 23")]
    pub(crate) tool: Option<tool_call::Tool>,
}

pub(crate) mod tool_call {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Tool {
        #[prost(message, tag = "2")]
        RunShellCommand(super::RunShellCommand),
        #[prost(message, tag = "3")]
        SearchCodebase(super::SearchCodebase),
        /// A server-side tool, opaque: never forwarded to a client.
        #[prost(message, tag = "4")]
        Server(super::ServerTool),
        #[prost(message, tag = "5")]
        ReadFiles(super::ReadFiles),
        #[prost(message, tag = "6")]
        ApplyFileDiffs(super::ApplyFileDiffs),
        #[prost(bytes = "vec", tag = "7")]
        SuggestPlan(Vec<u8>),
        #[prost(bytes = "vec", tag = "8")]
        SuggestCreatePlan(Vec<u8>),
        #[prost(message, tag = "9")]
        Grep(super::Grep),
        /// Deprecated.
        #[prost(message, tag = "10")]
        FileGlob(super::FileGlob),
        #[prost(message, tag = "11")]
        ReadMcpResource(super::ReadMcpResource),
        #[prost(message, tag = "12")]
        CallMcpTool(super::CallMcpTool),
        #[prost(message, tag = "13")]
        WriteToLongRunningShellCommand(super::WriteToLongRunningShellCommand),
        /// `SuggestNewConversation { message_id = 1 }`, kept raw.
        #[prost(bytes = "vec", tag = "14")]
        SuggestNewConversation(Vec<u8>),
        #[prost(message, tag = "15")]
        FileGlobV2(super::FileGlobV2),
        /// `Subagent`, kept raw.
        #[prost(bytes = "vec", tag = "19")]
        Subagent(Vec<u8>),
        #[prost(message, tag = "23")]
        ReadShellCommandOutput(super::ReadShellCommandOutput),
    }
}

impl tool_call::Tool {
    /// The tool type's snake-case name.
    pub(crate) fn name(&self) -> &'static str {
        use tool_call::Tool as T;
        match self {
            T::RunShellCommand(_) => "run_shell_command",
            T::SearchCodebase(_) => "search_codebase",
            T::Server(_) => "server",
            T::ReadFiles(_) => "read_files",
            T::ApplyFileDiffs(_) => "apply_file_diffs",
            T::SuggestPlan(_) => "suggest_plan",
            T::SuggestCreatePlan(_) => "suggest_create_plan",
            T::Grep(_) => "grep",
            T::FileGlob(_) => "file_glob",
            T::ReadMcpResource(_) => "read_mcp_resource",
            T::CallMcpTool(_) => "call_mcp_tool",
            T::WriteToLongRunningShellCommand(_) => "write_to_long_running_shell_command",
            T::SuggestNewConversation(_) => "suggest_new_conversation",
            T::FileGlobV2(_) => "file_glob_v2",
            T::Subagent(_) => "subagent",
            T::ReadShellCommandOutput(_) => "read_shell_command_output",
        }
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RunShellCommand {
    #[prost(string, tag = "1")]
    pub(crate) command: String,
    #[prost(bool, tag = "2")]
    pub(crate) is_read_only: bool,
    #[prost(bool, tag = "3")]
    pub(crate) uses_pager: bool,
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub(crate) citations: Vec<Vec<u8>>,
    #[prost(bool, tag = "5")]
    pub(crate) is_risky: bool,
    /// A oneof of one field upstream: presence matters (unset = wait until complete).
    #[prost(bool, optional, tag = "6")]
    pub(crate) wait_until_complete: Option<bool>,
    /// `RiskCategory` enum; its values are not in the sheet, so kept as a number.
    #[prost(int32, tag = "7")]
    pub(crate) risk_category: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SearchCodebase {
    #[prost(string, tag = "1")]
    pub(crate) query: String,
    #[prost(string, repeated, tag = "2")]
    pub(crate) path_filters: Vec<String>,
    #[prost(string, tag = "3")]
    pub(crate) codebase_path: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ServerTool {
    #[prost(string, tag = "1")]
    pub(crate) payload: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ReadFiles {
    #[prost(message, repeated, tag = "1")]
    pub(crate) files: Vec<ReadFile>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ReadFile {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    /// Empty = the whole file.
    #[prost(message, repeated, tag = "2")]
    pub(crate) line_ranges: Vec<FileContentLineRange>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ApplyFileDiffs {
    #[prost(string, tag = "1")]
    pub(crate) summary: String,
    #[prost(message, repeated, tag = "2")]
    pub(crate) diffs: Vec<FileDiff>,
    #[prost(message, repeated, tag = "3")]
    pub(crate) new_files: Vec<NewFile>,
    #[prost(message, repeated, tag = "4")]
    pub(crate) deleted_files: Vec<DeleteFile>,
    #[prost(message, repeated, tag = "5")]
    pub(crate) v4a_updates: Vec<V4aFileUpdate>,
}

/// Per the official schema (the Go parser read field 3 as a nested message: §9.4).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct FileDiff {
    #[prost(string, tag = "1")]
    pub(crate) file_path: String,
    #[prost(string, tag = "2")]
    pub(crate) search: String,
    #[prost(string, tag = "3")]
    pub(crate) replace: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NewFile {
    #[prost(string, tag = "1")]
    pub(crate) file_path: String,
    #[prost(string, tag = "2")]
    pub(crate) content: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct DeleteFile {
    #[prost(string, tag = "1")]
    pub(crate) file_path: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct V4aFileUpdate {
    #[prost(string, tag = "1")]
    pub(crate) file_path: String,
    #[prost(string, tag = "2")]
    pub(crate) move_to: String,
    #[prost(message, repeated, tag = "3")]
    pub(crate) hunks: Vec<Hunk>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Hunk {
    #[prost(string, repeated, tag = "1")]
    pub(crate) change_context: Vec<String>,
    #[prost(string, tag = "2")]
    pub(crate) pre_context: String,
    #[prost(string, tag = "3")]
    pub(crate) old: String,
    #[prost(string, tag = "4")]
    pub(crate) new: String,
    #[prost(string, tag = "5")]
    pub(crate) post_context: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Grep {
    #[prost(string, repeated, tag = "1")]
    pub(crate) queries: Vec<String>,
    #[prost(string, tag = "2")]
    pub(crate) path: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct FileGlob {
    #[prost(string, repeated, tag = "1")]
    pub(crate) patterns: Vec<String>,
    #[prost(string, tag = "2")]
    pub(crate) path: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct FileGlobV2 {
    #[prost(string, repeated, tag = "1")]
    pub(crate) patterns: Vec<String>,
    #[prost(string, tag = "2")]
    pub(crate) search_dir: String,
    #[prost(int32, tag = "3")]
    pub(crate) max_matches: i32,
    #[prost(int32, tag = "4")]
    pub(crate) max_depth: i32,
    #[prost(int32, tag = "5")]
    pub(crate) min_depth: i32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ReadMcpResource {
    #[prost(string, tag = "1")]
    pub(crate) uri: String,
    #[prost(string, tag = "2")]
    pub(crate) server_id: String,
}

/// A call of one of the client's tools declared in `mcp_context`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct CallMcpTool {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(message, optional, tag = "2")]
    pub(crate) args: Option<Struct>,
    #[prost(string, tag = "3")]
    pub(crate) server_id: String,
}

/// Keystrokes for a running PTY.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WriteToLongRunningShellCommand {
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) input: Vec<u8>,
    #[prost(message, optional, tag = "2")]
    pub(crate) mode: Option<WriteMode>,
    #[prost(string, tag = "3")]
    pub(crate) command_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WriteMode {
    #[prost(oneof = "write_mode::Mode", tags = "1, 2, 3")]
    pub(crate) mode: Option<write_mode::Mode>,
}

pub(crate) mod write_mode {
    #[derive(Clone, Copy, PartialEq, prost::Oneof)]
    pub(crate) enum Mode {
        #[prost(message, tag = "1")]
        Raw(super::Empty),
        #[prost(message, tag = "2")]
        Line(super::Empty),
        #[prost(message, tag = "3")]
        Block(super::Empty),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ReadShellCommandOutput {
    #[prost(string, tag = "1")]
    pub(crate) command_id: String,
    #[prost(oneof = "read_shell_command_output::Delay", tags = "2, 3")]
    pub(crate) delay: Option<read_shell_command_output::Delay>,
}

pub(crate) mod read_shell_command_output {
    #[derive(Clone, Copy, PartialEq, prost::Oneof)]
    pub(crate) enum Delay {
        #[prost(message, tag = "2")]
        Duration(super::Duration),
        #[prost(message, tag = "3")]
        OnCompletion(super::Empty),
    }
}

// ----- finish ------------------------------------------------------------------------------------

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct StreamFinished {
    #[prost(oneof = "stream_finished::Reason", tags = "1, 2, 3, 4, 5, 6, 7, 12")]
    pub(crate) reason: Option<stream_finished::Reason>,
    /// One per model used.
    #[prost(message, repeated, tag = "8")]
    pub(crate) token_usage: Vec<TokenUsage>,
    /// The client's model config is stale: re-run `GetFeatureModelChoices`.
    #[prost(bool, tag = "9")]
    pub(crate) should_refresh_model_config: bool,
    #[prost(message, optional, tag = "10")]
    pub(crate) request_cost: Option<RequestCost>,
    /// `ConversationUsageMetadata`, kept raw.
    #[prost(bytes = "vec", tag = "11")]
    pub(crate) conversation_usage_metadata: Vec<u8>,
    /// `PrunedMediaSummary { uint32 pruned_count = 1 }`, kept raw.
    #[prost(bytes = "vec", tag = "13")]
    pub(crate) pruned_media: Vec<u8>,
}

pub(crate) mod stream_finished {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Reason {
        #[prost(message, tag = "1")]
        Other(super::Empty),
        #[prost(message, tag = "2")]
        Done(super::Empty),
        #[prost(message, tag = "3")]
        MaxTokenLimit(super::Empty),
        #[prost(message, tag = "4")]
        QuotaLimit(super::Empty),
        #[prost(message, tag = "5")]
        ContextWindowExceeded(super::Empty),
        #[prost(message, tag = "6")]
        LlmUnavailable(super::Empty),
        #[prost(message, tag = "7")]
        InternalError(super::InternalError),
        #[prost(message, tag = "12")]
        InvalidApiKey(super::InvalidApiKey),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct InternalError {
    #[prost(string, tag = "1")]
    pub(crate) message: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct InvalidApiKey {
    #[prost(enumeration = "LlmProvider", tag = "1")]
    pub(crate) provider: i32,
    #[prost(string, tag = "2")]
    pub(crate) model_name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TokenUsage {
    #[prost(string, tag = "1")]
    pub(crate) model_id: String,
    #[prost(uint32, tag = "2")]
    pub(crate) total_input: u32,
    #[prost(uint32, tag = "3")]
    pub(crate) output: u32,
    #[prost(uint32, tag = "4")]
    pub(crate) input_cache_read: u32,
    #[prost(uint32, tag = "5")]
    pub(crate) input_cache_write: u32,
    #[prost(float, tag = "6")]
    pub(crate) cost_in_cents: f32,
}

#[derive(Clone, Copy, PartialEq, prost::Message)]
pub(crate) struct RequestCost {
    #[prost(float, tag = "1")]
    pub(crate) exact: f32,
    #[prost(float, tag = "2")]
    pub(crate) platform_credits: f32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub(crate) enum LlmProvider {
    Unknown = 0,
    Anthropic = 1,
    Openai = 2,
    Google = 3,
    Xai = 4,
    Openrouter = 5,
    AwsBedrock = 6,
    GeminiEnterprise = 7,
}

impl LlmProvider {
    /// Lower-case name, as error messages print it (`provider=openai`).
    pub(crate) fn label(self) -> &'static str {
        match self {
            LlmProvider::Unknown => "unknown",
            LlmProvider::Anthropic => "anthropic",
            LlmProvider::Openai => "openai",
            LlmProvider::Google => "google",
            LlmProvider::Xai => "xai",
            LlmProvider::Openrouter => "openrouter",
            LlmProvider::AwsBedrock => "aws_bedrock",
            LlmProvider::GeminiEnterprise => "gemini_enterprise",
        }
    }
}
