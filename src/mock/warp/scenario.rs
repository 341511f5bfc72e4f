//! The Warp mock's scenarios and how a request picks one.
//!
//! A scenario is chosen by the first of:
//!
//! 1. the header `x-mock-scenario: <name>`;
//! 2. the account: a refresh token `scenario-<name>` (also after rotation) gives every ID token
//!    issued for it a `mock_scenario` claim, which the other endpoints read;
//! 3. on `/ai/multi-agent`, a marker `[[mock:<name>]]` in the user query text;
//! 4. otherwise `continuation` when the request carries tool results, else `text`.
//!
//! An unknown name is the caller's mistake and gets a 400.

use hyper::HeaderMap;

/// Header that picks the scenario.
pub(super) const SCENARIO_HEADER: &str = "x-mock-scenario";
/// Refresh tokens of the form `scenario-<name>` pick that scenario for their account.
pub(super) const TOKEN_PREFIX: &str = "scenario-";
/// Marker in the user query text: `[[mock:<name>]]`.
const MARKER_OPEN: &str = "[[mock:";
const MARKER_CLOSE: &str = "]]";

/// The in-stream `finished` reasons that mean failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FinishFailure {
    QuotaLimit,
    ContextWindowExceeded,
    MaxTokenLimit,
    LlmUnavailable,
    InternalError,
    InvalidApiKey,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scenario {
    // ----- /ai/multi-agent answers
    Text,
    Echo,
    Reasoning,
    McpTool,
    Shell,
    ShellLive,
    Reconcile,
    Continuation,
    ToolLoop,
    RefreshModelConfig,
    Finish(FinishFailure),
    ErrorEvent,
    // ----- /ai/multi-agent HTTP errors and broken bodies
    ModelNotAllowed,
    NoModel,
    CloudAgent,
    Blocked,
    NoCredits,
    Overloaded,
    Unauthorized,
    Html,
    Html403,
    Cut,
    Unfinished,
    Empty,
    UnknownFrames,
    Silence,
    // ----- token endpoint
    TokenInvalid,
    TokenExpired,
    TokenUnauthorized,
    TokenRateLimited,
    // ----- GraphQL
    GraphqlUserError,
    GraphqlErrors,
    QuotaExhausted,
}

impl Scenario {
    pub(super) const ALL: [(&'static str, Scenario); 39] = [
        ("text", Scenario::Text),
        ("echo", Scenario::Echo),
        ("reasoning", Scenario::Reasoning),
        ("mcp_tool", Scenario::McpTool),
        ("shell", Scenario::Shell),
        ("shell_live", Scenario::ShellLive),
        ("reconcile", Scenario::Reconcile),
        ("continuation", Scenario::Continuation),
        ("tool_loop", Scenario::ToolLoop),
        ("refresh_model_config", Scenario::RefreshModelConfig),
        ("quota_limit", Scenario::Finish(FinishFailure::QuotaLimit)),
        ("context_window_exceeded", Scenario::Finish(FinishFailure::ContextWindowExceeded)),
        ("max_token_limit", Scenario::Finish(FinishFailure::MaxTokenLimit)),
        ("llm_unavailable", Scenario::Finish(FinishFailure::LlmUnavailable)),
        ("internal_error", Scenario::Finish(FinishFailure::InternalError)),
        ("invalid_api_key", Scenario::Finish(FinishFailure::InvalidApiKey)),
        ("error_event", Scenario::ErrorEvent),
        ("model_not_allowed", Scenario::ModelNotAllowed),
        ("no_model", Scenario::NoModel),
        ("cloud_agent", Scenario::CloudAgent),
        ("blocked", Scenario::Blocked),
        ("no_credits", Scenario::NoCredits),
        ("overloaded", Scenario::Overloaded),
        ("unauthorized", Scenario::Unauthorized),
        ("html", Scenario::Html),
        ("html_403", Scenario::Html403),
        ("cut", Scenario::Cut),
        ("unfinished", Scenario::Unfinished),
        ("empty", Scenario::Empty),
        ("unknown_frames", Scenario::UnknownFrames),
        ("silence", Scenario::Silence),
        ("token_invalid", Scenario::TokenInvalid),
        ("token_expired", Scenario::TokenExpired),
        ("token_401", Scenario::TokenUnauthorized),
        ("token_429", Scenario::TokenRateLimited),
        ("graphql_user_error", Scenario::GraphqlUserError),
        ("graphql_errors", Scenario::GraphqlErrors),
        ("quota_exhausted", Scenario::QuotaExhausted),
        // Kept last: the name a Go-era test used for the same thing as `mcp_tool`.
        ("tool", Scenario::McpTool),
    ];

    pub(super) fn named(name: &str) -> Option<Scenario> {
        Scenario::ALL.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }
}

/// The scenario name a request's header asks for, if any.
pub(super) fn from_header(headers: &HeaderMap) -> Option<&str> {
    headers.get(SCENARIO_HEADER).map(|v| v.to_str().unwrap_or(""))
}

/// The scenario name a refresh token carries (`scenario-<name>`, possibly rotated: `…~<suffix>`).
pub(super) fn from_refresh_token(token: &str) -> Option<&str> {
    let root = token.split('~').next().unwrap_or(token);
    root.strip_prefix(TOKEN_PREFIX)
}

/// The scenario name a `[[mock:<name>]]` marker in `text` asks for.
pub(super) fn from_marker(text: &str) -> Option<&str> {
    let start = text.find(MARKER_OPEN)? + MARKER_OPEN.len();
    let len = text[start..].find(MARKER_CLOSE)?;
    Some(text[start..start + len].trim())
}

/// `text` without its `[[mock:…]]` marker.
pub(super) fn strip_marker(text: &str) -> String {
    match (text.find(MARKER_OPEN), from_marker(text)) {
        (Some(start), Some(_)) => {
            let end = start + text[start..].find(MARKER_CLOSE).unwrap_or(0) + MARKER_CLOSE.len();
            format!("{}{}", &text[..start], &text[end..]).trim().to_owned()
        }
        _ => text.to_owned(),
    }
}

/// Picks the scenario from the sources in order; `Err(name)` for an unknown name.
pub(super) fn select<'a>(
    sources: impl IntoIterator<Item = Option<&'a str>>,
    default: Scenario,
) -> Result<Scenario, String> {
    match sources.into_iter().flatten().next() {
        Some(name) => Scenario::named(name).ok_or_else(|| name.to_owned()),
        None => Ok(default),
    }
}
