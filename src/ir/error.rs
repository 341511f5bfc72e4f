//! What went wrong upstream, in terms the relay can act on and a dialect can render.
//!
//! Channels classify (HTTP status, in-band error, cut stream) into an [`ErrorKind`]; only the relay
//! decides what a kind means for the account and the request, and only a dialect decides what the
//! client sees. The message is safe to show a client: it never holds a credential or an account's
//! identity, only what the upstream said about the request itself.

use std::fmt;
use std::time::Duration;

/// The classes of upstream failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Occurs when the upstream rejects the account's credential (HTTP 401).
    Unauthorized,
    /// Occurs when the upstream refuses the account (HTTP 403 with an API error body).
    Forbidden,
    /// Occurs when the upstream answers with an HTML bot-challenge page instead of its API.
    Challenge,
    /// Occurs when the account is rate limited (HTTP 429, in-band "too many requests").
    RateLimited,
    /// Occurs when the account has no credit or quota left (HTTP 402, "out of credits").
    QuotaExhausted,
    /// Occurs when the upstream rejects the request itself (HTTP 400, 413, 422): the same request
    /// fails on every account, so the client hears the upstream's reason.
    InvalidRequest,
    /// Occurs when the upstream does not know the model (HTTP 404 naming the model).
    ModelNotFound,
    /// Occurs when the upstream is overloaded (HTTP 503, 529, `overloaded_error`).
    Overloaded,
    /// Occurs on any other upstream server failure (HTTP 5xx, unexpected status).
    Server,
    /// Occurs when no answer, or no next frame, arrives in time.
    Timeout,
    /// Occurs when the upstream cannot be reached (DNS, connect, TLS, proxy).
    Connect,
    /// Occurs when the upstream answers 200 but produces no content.
    EmptyResponse,
    /// Occurs when the upstream stream ends before its terminal frame.
    StreamCut,
    /// Occurs when the upstream sends bytes that are not its protocol.
    Protocol,
    /// Occurs when the request cannot continue the upstream state it refers to (a tool result
    /// whose issuing conversation expired or lives on an account that cannot serve): HTTP 409,
    /// never retried, no account is at fault.
    Conflict,
    /// Occurs when this account may not use what the request needs (a model or feature its plan
    /// lacks) while another account may: the request moves on, the account is not cooled.
    NotEntitled,
}

impl ErrorKind {
    /// A stable machine-readable code for error bodies, logs and metrics.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Unauthorized => "upstream_auth_failed",
            ErrorKind::Forbidden => "upstream_forbidden",
            ErrorKind::Challenge => "upstream_challenge",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::QuotaExhausted => "quota_exhausted",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::ModelNotFound => "model_not_found",
            ErrorKind::Overloaded => "upstream_overloaded",
            ErrorKind::Server => "upstream_error",
            ErrorKind::Timeout => "upstream_timeout",
            ErrorKind::Connect => "upstream_unreachable",
            ErrorKind::EmptyResponse => "empty_response",
            ErrorKind::StreamCut => "stream_aborted",
            ErrorKind::Protocol => "upstream_protocol_error",
            ErrorKind::Conflict => "conversation_conflict",
            ErrorKind::NotEntitled => "not_entitled",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            ErrorKind::Unauthorized => "the upstream rejected the account's credential",
            ErrorKind::Forbidden => "the upstream refused the account",
            ErrorKind::Challenge => "the upstream answered with a bot-challenge page",
            ErrorKind::RateLimited => "the upstream rate limited the request",
            ErrorKind::QuotaExhausted => "the upstream account has no quota left",
            ErrorKind::InvalidRequest => "the upstream rejected the request",
            ErrorKind::ModelNotFound => "the upstream does not serve this model",
            ErrorKind::Overloaded => "the upstream is overloaded",
            ErrorKind::Server => "the upstream failed",
            ErrorKind::Timeout => "the upstream did not answer in time",
            ErrorKind::Connect => "the upstream could not be reached",
            ErrorKind::EmptyResponse => "the upstream returned an empty response",
            ErrorKind::StreamCut => "the upstream stream ended unexpectedly",
            ErrorKind::Protocol => "the upstream sent an unreadable response",
            ErrorKind::Conflict => "the request cannot continue its upstream conversation",
            ErrorKind::NotEntitled => "no account may use this model or feature",
        }
    }
}

/// An upstream failure. Cheap to move: the payload is boxed, so `Result<_, UpstreamError>` stays
/// one word on the hot path.
#[derive(Clone, PartialEq)]
pub struct UpstreamError(Box<Inner>);

#[derive(Clone, Debug, PartialEq)]
struct Inner {
    kind: ErrorKind,
    status: Option<u16>,
    message: Option<String>,
    retry_after: Option<Duration>,
}

impl UpstreamError {
    pub fn new(kind: ErrorKind) -> UpstreamError {
        UpstreamError(Box::new(Inner { kind, status: None, message: None, retry_after: None }))
    }

    /// Records the upstream's HTTP status.
    pub fn with_status(mut self, status: u16) -> UpstreamError {
        self.0.status = Some(status);
        self
    }

    /// Records what the upstream said. Only for text that is about the request (never a credential
    /// or an account identity): it may be shown to the client. Long texts are cut.
    pub fn with_message(mut self, message: impl Into<String>) -> UpstreamError {
        const MAX_MESSAGE: usize = 1024;
        let mut message = message.into();
        if message.len() > MAX_MESSAGE {
            let mut cut = MAX_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        self.0.message = Some(message);
        self
    }

    pub fn with_retry_after(mut self, after: Duration) -> UpstreamError {
        self.0.retry_after = Some(after);
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    pub fn status(&self) -> Option<u16> {
        self.0.status
    }

    pub fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// Might the same request succeed on another account or a later attempt? False when the
    /// request itself is at fault.
    pub fn is_retryable(&self) -> bool {
        !matches!(self.0.kind, ErrorKind::InvalidRequest | ErrorKind::ModelNotFound | ErrorKind::Conflict)
    }

    /// Text for the client: the upstream's own words when they are about the request, otherwise
    /// a description of the kind.
    pub fn client_message(&self) -> String {
        match (&self.0.message, self.0.kind) {
            (
                Some(m),
                ErrorKind::InvalidRequest
                | ErrorKind::ModelNotFound
                | ErrorKind::Conflict
                | ErrorKind::NotEntitled,
            ) => m.clone(),
            _ => self.0.kind.describe().to_string(),
        }
    }
}

impl fmt::Debug for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.kind.describe())?;
        if let Some(status) = self.0.status {
            write!(f, " (HTTP {status})")?;
        }
        if let Some(message) = &self.0.message {
            write!(f, ": {message}")?;
        }
        Ok(())
    }
}

impl std::error::Error for UpstreamError {}
