//! The Warp answer stream, frame by frame: SSE events whose `data` is the base64 of one
//! [`ResponseEvent`], decoded into typed [`WarpEvent`]s (fact sheet §3.1–3.3). Pure: no IO.
//!
//! [`WarpFramer`] is a stream-core [`Framer`] (SSE cut by [`SseFramer`], then base64 + protobuf),
//! so the channel's decoder receives `Result<WarpEvent, WarpFrameError>` frames. It also spots a
//! body that is not an event stream at all (an HTML page, a JSON error) from its first bytes.
//!
//! **Base64.** URL-safe alphabet; the live frame is padded, the Go tests send it unpadded. Both are
//! accepted, and the standard alphabet as a last resort (§3.1).
//!
//! **Snapshots and deltas.** [`Action`] keeps the distinction the reconciliation needs (§3.4):
//! `CreateTask`, `AddMessages` and `UpdateMessage` carry full snapshots of their messages, `Append`
//! carries deltas; [`Action::Meta`] carries no assistant output.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_PAD_INDIFFERENT, URL_SAFE_PAD_INDIFFERENT};
use bytes::Bytes;
use prost::Message as _;

use super::wire::{
    self, LlmProvider, Message, RequestCost, ResponseEvent, Task, TokenUsage, client_action, response_event,
    stream_finished,
};
use crate::channels::events::Framer;
use crate::stream::FrameError;
use crate::stream::sse::{SseEvent, SseFramer};

/// One decoded stream event, close to `ResponseEvent` (§3.2).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum WarpEvent {
    /// `init`: the server's conversation id (new, or the echo of `metadata.conversation_id`).
    Init {
        conversation_id: String,
        request_id: String,
        run_id: String,
    },
    /// `client_actions`, in order.
    Actions(Vec<Action>),
    Finished(Finished),
    /// [unverified] `ResponseEvent` field 4, parsed by the Go proxy but not in the official schema.
    Error {
        message: String,
        code: String,
    },
    /// A well-formed event with none of the known types (e.g. only unknown fields).
    Unrecognized,
}

/// One client action.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Action {
    /// `create_task`: a task whose messages are snapshots.
    CreateTask(Task),
    /// `add_messages_to_task`: new messages, snapshots (may already hold text).
    AddMessages { task_id: String, messages: Vec<Message> },
    /// `update_task_message`: the fields of `message` listed in `mask` replaced by a snapshot.
    UpdateMessage { task_id: String, message: Message, mask: Vec<String> },
    /// `append_to_message_content`: the string fields of `message` listed in `mask` grow by
    /// these deltas.
    Append { task_id: String, message: Message, mask: Vec<String> },
    /// An action that carries no assistant output; ignore it.
    Meta(Meta),
}

/// The actions that carry no assistant output (§3.3).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Meta {
    ShowSuggestions,
    UpdateTaskSummary {
        task_id: String,
        summary: String,
    },
    UpdateTaskDescription {
        task_id: String,
        description: String,
    },
    BeginTransaction,
    CommitTransaction,
    RollbackTransaction,
    StartNewConversation {
        start_from_message_id: String,
    },
    UpdateTaskServerData {
        task_id: String,
        server_data: String,
    },
    MoveMessagesToNewTask(Box<wire::MoveMessagesToNewTask>),
    /// An action of a kind this schema does not know.
    Unknown,
}

/// `finished`: why the stream ended, and what it cost.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Finished {
    pub(crate) reason: FinishReason,
    pub(crate) token_usage: Vec<TokenUsage>,
    pub(crate) should_refresh_model_config: bool,
    pub(crate) request_cost: Option<RequestCost>,
}

impl Finished {
    /// Σ `total_input` over the models used (cache fields ignored, §3.6).
    pub(crate) fn input_tokens(&self) -> u64 {
        self.token_usage.iter().map(|u| u64::from(u.total_input)).sum()
    }

    /// Σ `output` over the models used.
    pub(crate) fn output_tokens(&self) -> u64 {
        self.token_usage.iter().map(|u| u64::from(u.output)).sum()
    }
}

/// `StreamFinished.reason`. `Unset`, `Other` and `Done` are successes (§3.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FinishReason {
    Unset,
    Other,
    Done,
    MaxTokenLimit,
    QuotaLimit,
    ContextWindowExceeded,
    LlmUnavailable,
    InternalError(String),
    /// `provider` is the raw enum value (unknown values kept); see [`FinishReason::provider`].
    InvalidApiKey {
        provider: i32,
        model_name: String,
    },
}

impl FinishReason {
    pub(crate) fn is_success(&self) -> bool {
        matches!(self, FinishReason::Unset | FinishReason::Other | FinishReason::Done)
    }

    /// The provider of an `InvalidApiKey`, if the value is known.
    pub(crate) fn provider(&self) -> Option<LlmProvider> {
        match self {
            FinishReason::InvalidApiKey { provider, .. } => LlmProvider::try_from(*provider).ok(),
            _ => None,
        }
    }
}

/// Why a frame could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WarpFrameError {
    /// The `data` is not base64 in any accepted form.
    #[error("warp frame is not base64: {0}")]
    Base64(String),
    /// The decoded bytes are not a `ResponseEvent`.
    #[error("warp frame is not a ResponseEvent: {0}")]
    Protobuf(String),
    /// The body is an HTML page (a bot wall, a proxy's error page), not an event stream.
    #[error("non-protobuf html response")]
    Html,
    /// The body is a JSON document (an error object), not an event stream.
    #[error("non-protobuf json response")]
    Json,
}

/// Decodes base64 as Warp sends it: URL-safe padded or not, then standard as a fallback.
pub(crate) fn decode_base64(data: &[u8]) -> Result<Vec<u8>, WarpFrameError> {
    let data = data.trim_ascii();
    URL_SAFE_PAD_INDIFFERENT
        .decode(data)
        .or_else(|_| STANDARD_PAD_INDIFFERENT.decode(data))
        .map_err(|e| WarpFrameError::Base64(e.to_string()))
}

/// Decodes one SSE `data` payload into the raw `ResponseEvent`.
pub(crate) fn decode_response_event(data: &[u8]) -> Result<ResponseEvent, WarpFrameError> {
    let bytes = decode_base64(data)?;
    ResponseEvent::decode(bytes.as_slice()).map_err(|e| WarpFrameError::Protobuf(e.to_string()))
}

/// Decodes one SSE `data` payload into a [`WarpEvent`].
pub(crate) fn decode_data(data: &[u8]) -> Result<WarpEvent, WarpFrameError> {
    decode_response_event(data).map(WarpEvent::from)
}

impl From<ResponseEvent> for WarpEvent {
    fn from(event: ResponseEvent) -> WarpEvent {
        match event.r#type {
            None => WarpEvent::Unrecognized,
            Some(response_event::Type::Init(init)) => WarpEvent::Init {
                conversation_id: init.conversation_id,
                request_id: init.request_id,
                run_id: init.run_id,
            },
            Some(response_event::Type::ClientActions(actions)) => {
                WarpEvent::Actions(actions.actions.into_iter().map(Action::from).collect())
            }
            Some(response_event::Type::Finished(finished)) => WarpEvent::Finished(finished.into()),
            Some(response_event::Type::Error(error)) => {
                WarpEvent::Error { message: error.message, code: error.code }
            }
        }
    }
}

impl From<wire::ClientAction> for Action {
    fn from(action: wire::ClientAction) -> Action {
        use client_action::Action as A;
        let paths = |mask: Option<wire::FieldMask>| mask.map(|m| m.paths).unwrap_or_default();
        match action.action {
            None => Action::Meta(Meta::Unknown),
            Some(A::CreateTask(create)) => Action::CreateTask(create.task.unwrap_or_default()),
            Some(A::AddMessagesToTask(add)) => {
                Action::AddMessages { task_id: add.task_id, messages: add.messages }
            }
            Some(A::UpdateTaskMessage(update)) => Action::UpdateMessage {
                task_id: update.task_id,
                message: update.message.unwrap_or_default(),
                mask: paths(update.mask),
            },
            Some(A::AppendToMessageContent(append)) => Action::Append {
                task_id: append.task_id,
                message: append.message.unwrap_or_default(),
                mask: paths(append.mask),
            },
            Some(A::ShowSuggestions(_)) => Action::Meta(Meta::ShowSuggestions),
            Some(A::UpdateTaskSummary(s)) => {
                Action::Meta(Meta::UpdateTaskSummary { task_id: s.task_id, summary: s.summary })
            }
            Some(A::UpdateTaskDescription(d)) => {
                Action::Meta(Meta::UpdateTaskDescription { task_id: d.task_id, description: d.description })
            }
            Some(A::BeginTransaction(_)) => Action::Meta(Meta::BeginTransaction),
            Some(A::CommitTransaction(_)) => Action::Meta(Meta::CommitTransaction),
            Some(A::RollbackTransaction(_)) => Action::Meta(Meta::RollbackTransaction),
            Some(A::StartNewConversation(s)) => {
                Action::Meta(Meta::StartNewConversation { start_from_message_id: s.start_from_message_id })
            }
            Some(A::UpdateTaskServerData(d)) => {
                Action::Meta(Meta::UpdateTaskServerData { task_id: d.task_id, server_data: d.server_data })
            }
            Some(A::MoveMessagesToNewTask(m)) => Action::Meta(Meta::MoveMessagesToNewTask(Box::new(m))),
        }
    }
}

impl From<wire::StreamFinished> for Finished {
    fn from(finished: wire::StreamFinished) -> Finished {
        use stream_finished::Reason as R;
        let reason = match finished.reason {
            None => FinishReason::Unset,
            Some(R::Other(_)) => FinishReason::Other,
            Some(R::Done(_)) => FinishReason::Done,
            Some(R::MaxTokenLimit(_)) => FinishReason::MaxTokenLimit,
            Some(R::QuotaLimit(_)) => FinishReason::QuotaLimit,
            Some(R::ContextWindowExceeded(_)) => FinishReason::ContextWindowExceeded,
            Some(R::LlmUnavailable(_)) => FinishReason::LlmUnavailable,
            Some(R::InternalError(e)) => FinishReason::InternalError(e.message),
            Some(R::InvalidApiKey(k)) => {
                FinishReason::InvalidApiKey { provider: k.provider, model_name: k.model_name }
            }
        };
        Finished {
            reason,
            token_usage: finished.token_usage,
            should_refresh_model_config: finished.should_refresh_model_config,
            request_cost: finished.request_cost,
        }
    }
}

/// What the first bytes of a body say it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sniff {
    /// Not enough bytes yet.
    Unknown,
    EventStream,
    Html,
    Json,
}

fn sniff(start: &[u8]) -> Sniff {
    let start = start.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(start);
    let start = start.trim_ascii_start();
    let Some(&first) = start.first() else { return Sniff::Unknown };
    match first {
        b'<' => Sniff::Html,
        b'{' | b'[' => Sniff::Json,
        _ => Sniff::EventStream,
    }
}

/// The stream-core framer of a Warp answer: SSE events decoded into [`WarpEvent`]s.
///
/// Frames with an empty `data` (an `event:`-only block) are skipped. A body that starts like HTML
/// or JSON yields one [`WarpFrameError::Html`] / [`WarpFrameError::Json`] frame and nothing else.
pub(crate) struct WarpFramer {
    sse: SseFramer,
    /// Until the first non-blank byte arrived: what came so far.
    sniffed: Sniff,
    /// The body is not an event stream; its error was handed out (or is about to be).
    refused: Option<WarpFrameError>,
    refusal_sent: bool,
}

impl Default for WarpFramer {
    fn default() -> Self {
        WarpFramer::new()
    }
}

impl WarpFramer {
    pub(crate) fn new() -> WarpFramer {
        WarpFramer { sse: SseFramer::new(), sniffed: Sniff::Unknown, refused: None, refusal_sent: false }
    }

    fn decode(event: SseEvent) -> Option<Result<WarpEvent, WarpFrameError>> {
        if event.data.trim_ascii().is_empty() {
            return None;
        }
        Some(decode_data(&event.data))
    }

    fn refusal(&mut self) -> Option<Result<WarpEvent, WarpFrameError>> {
        match &self.refused {
            Some(error) if !self.refusal_sent => {
                self.refusal_sent = true;
                Some(Err(error.clone()))
            }
            _ => None,
        }
    }
}

impl Framer for WarpFramer {
    type Frame = Result<WarpEvent, WarpFrameError>;

    fn push(&mut self, chunk: Bytes) {
        if self.refused.is_some() {
            return;
        }
        if self.sniffed == Sniff::Unknown {
            self.sniffed = sniff(&chunk);
            match self.sniffed {
                Sniff::Html => self.refused = Some(WarpFrameError::Html),
                Sniff::Json => self.refused = Some(WarpFrameError::Json),
                Sniff::Unknown | Sniff::EventStream => {}
            }
            if self.refused.is_some() {
                return;
            }
        }
        self.sse.push(chunk);
    }

    fn next_frame(&mut self) -> Result<Option<Self::Frame>, FrameError> {
        if self.refused.is_some() {
            return Ok(self.refusal());
        }
        loop {
            match self.sse.next_event() {
                Ok(Some(event)) => {
                    if let Some(frame) = WarpFramer::decode(event) {
                        return Ok(Some(frame));
                    }
                }
                Ok(None) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    fn finish(&mut self) -> Option<Self::Frame> {
        if self.refused.is_some() {
            return self.refusal();
        }
        self.sse.finish().and_then(WarpFramer::decode)
    }
}
