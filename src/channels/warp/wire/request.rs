//! `warp.multi_agent.v1.Request`: what the client POSTs to `/ai/multi-agent` (fact sheet §2.2).
//!
//! **Presence.** The schema is `edition = "2023"`: every scalar has explicit presence, so a field
//! set to `false`, `0` or `""` is still written. Every scalar here is therefore an `Option`: `None`
//! is not written, `Some(false)` is written as `false`. The HEAD client writes its zeros (§2.4), the
//! official client mostly leaves them out; the server takes both.
//!
//! Fields the sheet names without a type (“unused”) are left out: the decoder skips them as unknown
//! fields. Submessages whose content the gateway never builds are kept as raw `bytes`, which is
//! the same wire type as a message.

use std::collections::BTreeMap;

use super::common::{Empty, Struct, Timestamp, Value};
use super::response::Task;

/// The top-level request.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Request {
    /// Always sent, empty in both Go versions (`0a 00`).
    #[prost(message, optional, tag = "1")]
    pub(crate) task_context: Option<TaskContext>,
    #[prost(message, optional, tag = "2")]
    pub(crate) input: Option<Input>,
    /// Carries the model.
    #[prost(message, optional, tag = "3")]
    pub(crate) settings: Option<Settings>,
    #[prost(message, optional, tag = "4")]
    pub(crate) metadata: Option<Metadata>,
    /// `Suggestions`, never sent.
    #[prost(bytes = "vec", optional, tag = "5")]
    pub(crate) existing_suggestions: Option<Vec<u8>>,
    /// Only when client tools are forwarded.
    #[prost(message, optional, tag = "6")]
    pub(crate) mcp_context: Option<McpContext>,
}

/// The client's local task tree; the proxy sends none.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TaskContext {
    #[prost(message, repeated, tag = "1")]
    pub(crate) tasks: Vec<Task>,
}

// ----- input -------------------------------------------------------------------------------------

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Input {
    #[prost(message, optional, tag = "1")]
    pub(crate) context: Option<InputContext>,
    #[prost(oneof = "input::Type", tags = "6, 2, 3")]
    pub(crate) r#type: Option<input::Type>,
}

pub(crate) mod input {
    /// `Input.type`; only `UserInputs` is used, the other two are deprecated.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Type {
        #[prost(message, tag = "6")]
        UserInputs(super::UserInputs),
        #[prost(message, tag = "2")]
        UserQuery(super::UserQuery),
        #[prost(message, tag = "3")]
        ToolCallResult(super::ToolCallResult),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct UserInputs {
    #[prost(message, repeated, tag = "1")]
    pub(crate) inputs: Vec<UserInput>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct UserInput {
    #[prost(oneof = "user_input::Input", tags = "1, 2")]
    pub(crate) input: Option<user_input::Input>,
}

pub(crate) mod user_input {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Input {
        #[prost(message, tag = "1")]
        UserQuery(super::UserQuery),
        #[prost(message, tag = "2")]
        ToolCallResult(super::ToolCallResult),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct UserQuery {
    /// The prompt text.
    #[prost(string, optional, tag = "1")]
    pub(crate) query: Option<String>,
    /// `map<string, Attachment>`; unused.
    #[prost(btree_map = "string, bytes", tag = "2")]
    pub(crate) referenced_attachments: BTreeMap<String, Vec<u8>>,
    /// Sent as an empty message (normal mode): `1a 00`.
    #[prost(message, optional, tag = "3")]
    pub(crate) mode: Option<UserQueryMode>,
    /// [`AgentType`]; send `Primary` (1).
    #[prost(enumeration = "AgentType", optional, tag = "4")]
    pub(crate) intended_agent: Option<i32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct UserQueryMode {
    #[prost(oneof = "user_query_mode::Mode", tags = "1, 2")]
    pub(crate) mode: Option<user_query_mode::Mode>,
}

pub(crate) mod user_query_mode {
    #[derive(Clone, Copy, PartialEq, prost::Oneof)]
    pub(crate) enum Mode {
        #[prost(message, tag = "1")]
        Plan(super::Empty),
        #[prost(message, tag = "2")]
        Orchestrate(super::Empty),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub(crate) enum AgentType {
    Unknown = 0,
    Primary = 1,
    Cli = 2,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct InputContext {
    #[prost(message, optional, tag = "1")]
    pub(crate) directory: Option<Directory>,
    #[prost(message, optional, tag = "2")]
    pub(crate) operating_system: Option<OperatingSystem>,
    #[prost(message, optional, tag = "3")]
    pub(crate) shell: Option<Shell>,
    #[prost(message, optional, tag = "4")]
    pub(crate) current_time: Option<Timestamp>,
    /// Never filled by the proxy (images are dropped).
    #[prost(message, repeated, tag = "7")]
    pub(crate) images: Vec<InputImage>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Directory {
    #[prost(string, optional, tag = "1")]
    pub(crate) pwd: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub(crate) home: Option<String>,
    #[prost(bool, optional, tag = "3")]
    pub(crate) pwd_file_symbols_indexed: Option<bool>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct OperatingSystem {
    /// `MacOS`, `Linux` or `Windows`.
    #[prost(string, optional, tag = "1")]
    pub(crate) platform: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub(crate) distribution: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Shell {
    #[prost(string, optional, tag = "1")]
    pub(crate) name: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub(crate) version: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct InputImage {
    #[prost(bytes = "vec", optional, tag = "1")]
    pub(crate) data: Option<Vec<u8>>,
    #[prost(string, optional, tag = "2")]
    pub(crate) mime_type: Option<String>,
}

// ----- tool results (request-side numbering; differs from the response's Message.tool_call_result)

/// A tool's result sent back by the client.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ToolCallResult {
    /// Echoes the server's `ToolCall.tool_call_id`.
    #[prost(string, optional, tag = "1")]
    pub(crate) tool_call_id: Option<String>,
    #[prost(oneof = "tool_call_result::Result", tags = "2, 3, 4, 5, 8, 9, 12, 13, 15, 22")]
    pub(crate) result: Option<tool_call_result::Result>,
}

pub(crate) mod tool_call_result {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Result {
        #[prost(message, tag = "2")]
        RunShellCommand(super::RunShellCommandResult),
        #[prost(message, tag = "3")]
        ReadFiles(super::ReadFilesResult),
        /// `SearchCodebaseResult`, kept raw.
        #[prost(bytes = "vec", tag = "4")]
        SearchCodebase(Vec<u8>),
        #[prost(message, tag = "5")]
        ApplyFileDiffs(super::ApplyFileDiffsResult),
        #[prost(message, tag = "8")]
        Grep(super::GrepResult),
        #[prost(message, tag = "9")]
        FileGlob(super::FileGlobResult),
        #[prost(message, tag = "12")]
        CallMcpTool(super::CallMcpToolResult),
        #[prost(message, tag = "13")]
        WriteToLongRunningShellCommand(super::WriteToLongRunningShellCommandResult),
        #[prost(message, tag = "15")]
        FileGlobV2(super::FileGlobV2Result),
        #[prost(message, tag = "22")]
        ReadShellCommandOutput(super::ReadShellCommandOutputResult),
    }
}

impl tool_call_result::Result {
    /// The tool type's snake-case name, as the fact sheet and the binding types spell it.
    pub(crate) fn name(&self) -> &'static str {
        use tool_call_result::Result as R;
        match self {
            R::RunShellCommand(_) => "run_shell_command",
            R::ReadFiles(_) => "read_files",
            R::SearchCodebase(_) => "search_codebase",
            R::ApplyFileDiffs(_) => "apply_file_diffs",
            R::Grep(_) => "grep",
            R::FileGlob(_) => "file_glob",
            R::CallMcpTool(_) => "call_mcp_tool",
            R::WriteToLongRunningShellCommand(_) => "write_to_long_running_shell_command",
            R::FileGlobV2(_) => "file_glob_v2",
            R::ReadShellCommandOutput(_) => "read_shell_command_output",
        }
    }
}

/// The error of any result type (each type has its own, all of this shape).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ToolError {
    #[prost(string, optional, tag = "1")]
    pub(crate) message: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RunShellCommandResult {
    /// Deprecated.
    #[prost(string, optional, tag = "1")]
    pub(crate) output: Option<String>,
    /// Deprecated.
    #[prost(int32, optional, tag = "2")]
    pub(crate) exit_code: Option<i32>,
    #[prost(string, optional, tag = "3")]
    pub(crate) command: Option<String>,
    #[prost(oneof = "run_shell_command_result::Result", tags = "4, 5, 6")]
    pub(crate) result: Option<run_shell_command_result::Result>,
}

pub(crate) mod run_shell_command_result {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Result {
        #[prost(bytes = "vec", tag = "4")]
        LongRunningCommandSnapshot(Vec<u8>),
        #[prost(message, tag = "5")]
        CommandFinished(super::ShellCommandFinished),
        #[prost(bytes = "vec", tag = "6")]
        PermissionDenied(Vec<u8>),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ShellCommandFinished {
    #[prost(string, optional, tag = "1")]
    pub(crate) output: Option<String>,
    #[prost(int32, optional, tag = "2")]
    pub(crate) exit_code: Option<i32>,
    #[prost(string, optional, tag = "3")]
    pub(crate) command_id: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WriteToLongRunningShellCommandResult {
    #[prost(oneof = "write_to_long_running_shell_command_result::Result", tags = "1, 2, 3")]
    pub(crate) result: Option<write_to_long_running_shell_command_result::Result>,
}

pub(crate) mod write_to_long_running_shell_command_result {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Result {
        #[prost(bytes = "vec", tag = "1")]
        LongRunningCommandSnapshot(Vec<u8>),
        #[prost(message, tag = "2")]
        CommandFinished(super::ShellCommandFinished),
        #[prost(bytes = "vec", tag = "3")]
        Error(Vec<u8>),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ReadShellCommandOutputResult {
    #[prost(string, optional, tag = "1")]
    pub(crate) command: Option<String>,
    #[prost(oneof = "read_shell_command_output_result::Result", tags = "2, 3, 4")]
    pub(crate) result: Option<read_shell_command_output_result::Result>,
}

pub(crate) mod read_shell_command_output_result {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Result {
        #[prost(bytes = "vec", tag = "2")]
        LongRunningCommandSnapshot(Vec<u8>),
        #[prost(message, tag = "3")]
        CommandFinished(super::ShellCommandFinished),
        #[prost(bytes = "vec", tag = "4")]
        Error(Vec<u8>),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ReadFilesResult {
    #[prost(oneof = "read_files_result::Result", tags = "1, 2, 3")]
    pub(crate) result: Option<read_files_result::Result>,
}

pub(crate) mod read_files_result {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Result {
        #[prost(message, tag = "1")]
        TextFilesSuccess(super::TextFilesSuccess),
        #[prost(message, tag = "2")]
        Error(super::ToolError),
        #[prost(bytes = "vec", tag = "3")]
        AnyFilesSuccess(Vec<u8>),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct TextFilesSuccess {
    #[prost(message, repeated, tag = "1")]
    pub(crate) files: Vec<FileContent>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct FileContent {
    #[prost(string, optional, tag = "1")]
    pub(crate) file_path: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub(crate) content: Option<String>,
    #[prost(message, optional, tag = "3")]
    pub(crate) line_range: Option<FileContentLineRange>,
}

/// 1-indexed, inclusive. Shared by requests and responses.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub(crate) struct FileContentLineRange {
    #[prost(uint32, tag = "1")]
    pub(crate) start: u32,
    #[prost(uint32, tag = "2")]
    pub(crate) end: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ApplyFileDiffsResult {
    #[prost(oneof = "apply_file_diffs_result::Result", tags = "1, 2")]
    pub(crate) result: Option<apply_file_diffs_result::Result>,
}

pub(crate) mod apply_file_diffs_result {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Result {
        /// The proxy sends it empty; the official message's own fields are skipped when decoding.
        #[prost(message, tag = "1")]
        Success(super::Empty),
        #[prost(message, tag = "2")]
        Error(super::ToolError),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct GrepResult {
    #[prost(oneof = "grep_result::Result", tags = "1, 2")]
    pub(crate) result: Option<grep_result::Result>,
}

pub(crate) mod grep_result {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Result {
        #[prost(message, tag = "1")]
        Success(super::GrepSuccess),
        #[prost(message, tag = "2")]
        Error(super::ToolError),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct GrepSuccess {
    #[prost(message, repeated, tag = "1")]
    pub(crate) matched_files: Vec<GrepFileMatch>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct GrepFileMatch {
    #[prost(string, optional, tag = "1")]
    pub(crate) file_path: Option<String>,
    #[prost(message, repeated, tag = "2")]
    pub(crate) matched_lines: Vec<GrepLineMatch>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct GrepLineMatch {
    #[prost(uint32, optional, tag = "1")]
    pub(crate) line_number: Option<u32>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct FileGlobResult {
    #[prost(oneof = "file_glob_result::Result", tags = "1, 2")]
    pub(crate) result: Option<file_glob_result::Result>,
}

pub(crate) mod file_glob_result {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Result {
        #[prost(message, tag = "1")]
        Success(super::FileGlobSuccess),
        #[prost(message, tag = "2")]
        Error(super::ToolError),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct FileGlobSuccess {
    /// Newline-joined list.
    #[prost(string, optional, tag = "1")]
    pub(crate) matched_files: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct FileGlobV2Result {
    #[prost(oneof = "file_glob_v2_result::Result", tags = "1, 2")]
    pub(crate) result: Option<file_glob_v2_result::Result>,
}

pub(crate) mod file_glob_v2_result {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Result {
        #[prost(message, tag = "1")]
        Success(super::FileGlobV2Success),
        #[prost(message, tag = "2")]
        Error(super::ToolError),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct FileGlobV2Success {
    #[prost(message, repeated, tag = "1")]
    pub(crate) matched_files: Vec<FileGlobMatch>,
    #[prost(string, optional, tag = "2")]
    pub(crate) warnings: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct FileGlobMatch {
    #[prost(string, optional, tag = "1")]
    pub(crate) file_path: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct CallMcpToolResult {
    #[prost(oneof = "call_mcp_tool_result::Result", tags = "1, 2")]
    pub(crate) result: Option<call_mcp_tool_result::Result>,
}

pub(crate) mod call_mcp_tool_result {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Result {
        #[prost(message, tag = "1")]
        Success(super::McpSuccess),
        #[prost(message, tag = "2")]
        Error(super::ToolError),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct McpSuccess {
    #[prost(message, repeated, tag = "1")]
    pub(crate) results: Vec<McpResultItem>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct McpResultItem {
    #[prost(oneof = "mcp_result_item::Result", tags = "1, 2, 3")]
    pub(crate) result: Option<mcp_result_item::Result>,
}

pub(crate) mod mcp_result_item {
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub(crate) enum Result {
        #[prost(message, tag = "1")]
        Text(super::McpText),
        #[prost(message, tag = "2")]
        Image(super::McpImage),
        /// `MCPResourceContent`, kept raw.
        #[prost(bytes = "vec", tag = "3")]
        Resource(Vec<u8>),
    }
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct McpText {
    #[prost(string, optional, tag = "1")]
    pub(crate) text: Option<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct McpImage {
    #[prost(bytes = "vec", optional, tag = "1")]
    pub(crate) data: Option<Vec<u8>>,
    #[prost(string, optional, tag = "2")]
    pub(crate) mime_type: Option<String>,
}

// ----- settings ----------------------------------------------------------------------------------

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Settings {
    #[prost(message, optional, tag = "1")]
    pub(crate) model_config: Option<ModelConfig>,
    #[prost(bool, optional, tag = "2")]
    pub(crate) rules_enabled: Option<bool>,
    #[prost(bool, optional, tag = "3")]
    pub(crate) web_context_retrieval_enabled: Option<bool>,
    #[prost(bool, optional, tag = "4")]
    pub(crate) supports_parallel_tool_calls: Option<bool>,
    #[prost(bool, optional, tag = "5")]
    pub(crate) use_anthropic_text_editor_tools: Option<bool>,
    #[prost(bool, optional, tag = "6")]
    pub(crate) planning_enabled: Option<bool>,
    #[prost(bool, optional, tag = "7")]
    pub(crate) warp_drive_context_enabled: Option<bool>,
    #[prost(bool, optional, tag = "8")]
    pub(crate) supports_create_files: Option<bool>,
    /// [`ToolType`]s, packed. The server only emits tool calls of these types; empty = any.
    #[prost(enumeration = "ToolType", repeated, packed = "true", tag = "9")]
    pub(crate) supported_tools: Vec<i32>,
    #[prost(bool, optional, tag = "10")]
    pub(crate) supports_long_running_commands: Option<bool>,
    #[prost(bool, optional, tag = "11")]
    pub(crate) should_preserve_file_content_in_history: Option<bool>,
    #[prost(bool, optional, tag = "12")]
    pub(crate) supports_todos_ui: Option<bool>,
    #[prost(bool, optional, tag = "13")]
    pub(crate) supports_linked_code_blocks: Option<bool>,
    #[prost(bool, optional, tag = "14")]
    pub(crate) supports_started_child_task_message: Option<bool>,
    #[prost(bool, optional, tag = "15")]
    pub(crate) supports_suggest_prompt: Option<bool>,
    #[prost(bool, optional, tag = "16")]
    pub(crate) supports_read_image_files: Option<bool>,
    /// Allows `Message.agent_reasoning` in responses.
    #[prost(bool, optional, tag = "17")]
    pub(crate) supports_reasoning_message: Option<bool>,
    /// `ApiKeys` (bring your own key); unused.
    #[prost(bytes = "vec", optional, tag = "18")]
    pub(crate) api_keys: Option<Vec<u8>>,
    #[prost(enumeration = "AutonomyLevel", optional, tag = "19")]
    pub(crate) autonomy_level: Option<i32>,
    #[prost(enumeration = "IsolationLevel", optional, tag = "20")]
    pub(crate) isolation_level: Option<i32>,
    #[prost(bool, optional, tag = "21")]
    pub(crate) web_search_enabled: Option<bool>,
    #[prost(enumeration = "ToolType", repeated, packed = "true", tag = "22")]
    pub(crate) supported_cli_agent_tools: Vec<i32>,
    #[prost(bool, optional, tag = "23")]
    pub(crate) supports_v4a_file_diffs: Option<bool>,
    #[prost(bool, optional, tag = "24")]
    pub(crate) supports_summarization_via_message_replacement: Option<bool>,
    #[prost(bool, optional, tag = "25")]
    pub(crate) supports_bundled_skills: Option<bool>,
    #[prost(bool, optional, tag = "26")]
    pub(crate) supports_research_agent: Option<bool>,
    #[prost(bool, optional, tag = "27")]
    pub(crate) supports_orchestration_v2: Option<bool>,
    #[prost(bool, optional, tag = "28")]
    pub(crate) supports_orchestrate: Option<bool>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ModelConfig {
    /// The Warp model id (`auto-open`, `claude-4-5-sonnet`, ...).
    #[prost(string, optional, tag = "1")]
    pub(crate) base: Option<String>,
    /// Deprecated.
    #[prost(string, optional, tag = "2")]
    pub(crate) planning: Option<String>,
    /// No longer sent by HEAD.
    #[prost(string, optional, tag = "3")]
    pub(crate) coding: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub(crate) cli_agent: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub(crate) computer_use_agent: Option<String>,
    /// 0 = the model's default.
    #[prost(uint32, optional, tag = "6")]
    pub(crate) base_model_context_window_limit: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub(crate) enum AutonomyLevel {
    Supervised = 0,
    Unsupervised = 1,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub(crate) enum IsolationLevel {
    None = 0,
    Sandbox = 1,
}

/// The tool types a client may let the server use (newer values exist; they decode as plain
/// numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub(crate) enum ToolType {
    RunShellCommand = 0,
    SearchCodebase = 1,
    ReadFiles = 2,
    ApplyFileDiffs = 3,
    SuggestPlan = 4,
    SuggestCreatePlan = 5,
    Grep = 6,
    FileGlob = 7,
    ReadMcpResource = 8,
    CallMcpTool = 9,
    WriteToLongRunningShellCommand = 10,
    SuggestNewConversation = 11,
    FileGlobV2 = 12,
    SuggestPrompt = 13,
    OpenCodeReview = 14,
    InitProject = 15,
    Subagent = 16,
    ReadDocuments = 17,
    EditDocuments = 18,
    CreateDocuments = 19,
    ReadShellCommandOutput = 20,
    UseComputer = 21,
    InsertReviewComments = 22,
    ReadSkill = 23,
    RequestComputerUse = 24,
    FetchConversation = 25,
    StartAgent = 26,
    SendMessageToAgent = 27,
    TransferShellCommandControlToUser = 28,
}

// ----- metadata ----------------------------------------------------------------------------------

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Metadata {
    /// The server-issued id from `StreamInit`; empty or absent = a new conversation.
    #[prost(string, optional, tag = "1")]
    pub(crate) conversation_id: Option<String>,
    /// Analytics only.
    #[prost(btree_map = "string, message", tag = "2")]
    pub(crate) logging: BTreeMap<String, Value>,
    #[prost(string, optional, tag = "3")]
    pub(crate) ambient_agent_task_id: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub(crate) forked_from_conversation_id: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub(crate) parent_agent_id: Option<String>,
    #[prost(string, optional, tag = "6")]
    pub(crate) agent_name: Option<String>,
}

// ----- client tools ------------------------------------------------------------------------------

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct McpContext {
    /// Deprecated; `MCPResource`s kept raw.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub(crate) resources: Vec<Vec<u8>>,
    /// Deprecated flat list (0804de1).
    #[prost(message, repeated, tag = "2")]
    pub(crate) tools: Vec<McpTool>,
    /// What HEAD sends: one server holding the client's tools.
    #[prost(message, repeated, tag = "3")]
    pub(crate) servers: Vec<McpServer>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct McpTool {
    #[prost(string, optional, tag = "1")]
    pub(crate) name: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub(crate) description: Option<String>,
    #[prost(message, optional, tag = "3")]
    pub(crate) input_schema: Option<Struct>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct McpServer {
    #[prost(string, optional, tag = "1")]
    pub(crate) name: Option<String>,
    #[prost(string, optional, tag = "2")]
    pub(crate) description: Option<String>,
    #[prost(bytes = "vec", repeated, tag = "3")]
    pub(crate) resources: Vec<Vec<u8>>,
    #[prost(message, repeated, tag = "4")]
    pub(crate) tools: Vec<McpTool>,
    #[prost(string, optional, tag = "5")]
    pub(crate) id: Option<String>,
}

// ----- the HEAD design (§2.4), for the request builder ------------------------------------------

/// `supported_tools` as HEAD sends them when tools are enabled (the official client's
/// local-session defaults), in this order.
pub(crate) const HEAD_SUPPORTED_TOOLS: [ToolType; 19] = [
    ToolType::Grep,
    ToolType::FileGlob,
    ToolType::FileGlobV2,
    ToolType::ReadMcpResource,
    ToolType::CallMcpTool,
    ToolType::InitProject,
    ToolType::OpenCodeReview,
    ToolType::RunShellCommand,
    ToolType::SuggestNewConversation,
    ToolType::Subagent,
    ToolType::WriteToLongRunningShellCommand,
    ToolType::ReadShellCommandOutput,
    ToolType::ReadDocuments,
    ToolType::CreateDocuments,
    ToolType::EditDocuments,
    ToolType::SuggestPrompt,
    ToolType::ReadFiles,
    ToolType::ApplyFileDiffs,
    ToolType::SearchCodebase,
];

/// `supported_cli_agent_tools` as HEAD sends them when tools are enabled.
pub(crate) const HEAD_CLI_AGENT_TOOLS: [ToolType; 7] = [
    ToolType::WriteToLongRunningShellCommand,
    ToolType::ReadShellCommandOutput,
    ToolType::Grep,
    ToolType::FileGlob,
    ToolType::FileGlobV2,
    ToolType::ReadFiles,
    ToolType::SearchCodebase,
];

impl ModelConfig {
    /// `base` with the role models; `coding` unset and the context window limit 0, as HEAD.
    pub(crate) fn head(base: &str, cli_agent: &str, computer_use_agent: &str) -> ModelConfig {
        ModelConfig {
            base: Some(base.to_owned()),
            planning: None,
            coding: None,
            cli_agent: Some(cli_agent.to_owned()),
            computer_use_agent: Some(computer_use_agent.to_owned()),
            base_model_context_window_limit: Some(0),
        }
    }
}

impl Settings {
    /// HEAD's settings (§2.4), its explicit `false`s included; the tool lists only when `tools`.
    /// (`supported_tools` limits which native tools the server may call: a channel that wants the
    /// model to use only the client's tools may narrow it, fact sheet §9.4.)
    pub(crate) fn head(model_config: ModelConfig, tools: bool) -> Settings {
        let (yes, no) = (Some(true), Some(false));
        let list =
            |types: &[ToolType]| if tools { types.iter().map(|t| *t as i32).collect() } else { Vec::new() };
        Settings {
            model_config: Some(model_config),
            rules_enabled: None,
            web_context_retrieval_enabled: yes,
            supports_parallel_tool_calls: yes,
            use_anthropic_text_editor_tools: no,
            planning_enabled: no,
            warp_drive_context_enabled: no,
            supports_create_files: yes,
            supported_tools: list(&HEAD_SUPPORTED_TOOLS),
            supports_long_running_commands: yes,
            should_preserve_file_content_in_history: yes,
            supports_todos_ui: yes,
            supports_linked_code_blocks: no,
            supports_started_child_task_message: yes,
            supports_suggest_prompt: yes,
            supports_read_image_files: no,
            supports_reasoning_message: yes,
            api_keys: None,
            autonomy_level: Some(AutonomyLevel::Supervised as i32),
            isolation_level: Some(IsolationLevel::None as i32),
            web_search_enabled: yes,
            supported_cli_agent_tools: list(&HEAD_CLI_AGENT_TOOLS),
            supports_v4a_file_diffs: yes,
            supports_summarization_via_message_replacement: no,
            supports_bundled_skills: no,
            supports_research_agent: no,
            supports_orchestration_v2: no,
            supports_orchestrate: None,
        }
    }
}

impl InputContext {
    /// HEAD's context: `pwd`, empty `home` and `distribution`, the platform (`MacOS`, `Linux`,
    /// `Windows`), the shell name with an empty version, and the current time.
    pub(crate) fn head(pwd: &str, platform: &str, shell: &str, now_unix_ms: i64) -> InputContext {
        InputContext {
            directory: Some(Directory {
                pwd: Some(pwd.to_owned()),
                home: Some(String::new()),
                pwd_file_symbols_indexed: None,
            }),
            operating_system: Some(OperatingSystem {
                platform: Some(platform.to_owned()),
                distribution: Some(String::new()),
            }),
            shell: Some(Shell { name: Some(shell.to_owned()), version: Some(String::new()) }),
            current_time: Some(Timestamp::from_unix_ms(now_unix_ms)),
            images: Vec::new(),
        }
    }
}

impl UserInput {
    /// A user query in normal mode for the primary agent.
    pub(crate) fn query(text: impl Into<String>) -> UserInput {
        UserInput {
            input: Some(user_input::Input::UserQuery(UserQuery {
                query: Some(text.into()),
                referenced_attachments: BTreeMap::new(),
                mode: Some(UserQueryMode::default()),
                intended_agent: Some(AgentType::Primary as i32),
            })),
        }
    }

    /// A typed tool result for the server's call `tool_call_id`.
    pub(crate) fn tool_result(
        tool_call_id: impl Into<String>,
        result: tool_call_result::Result,
    ) -> UserInput {
        UserInput {
            input: Some(user_input::Input::ToolCallResult(ToolCallResult {
                tool_call_id: Some(tool_call_id.into()),
                result: Some(result),
            })),
        }
    }
}
