//! Chooses what the Grok mock answers to a chat: the scenario and its parameters.
//!
//! The rule, in order (see `docs/mocks.md`):
//!
//! 1. the `x-mock-scenario: <name>` header;
//! 2. the SSO token, if it is `scenario-<name>` (one pool account can fail while another answers);
//! 3. a marker `[[mock:<name>]]` anywhere in the payload's `message` (a `[[mock:call ...]]` marker
//!    picks `tool`);
//! 4. the payload's meaning: `toolOverrides.videoGen` → `video`; `toolOverrides.imageGen` or
//!    `modelName: "imagine-image-edit"` → `image`;
//! 5. otherwise `text`.
//!
//! A name that is no scenario is the caller's mistake and gets a 400.

use std::time::Duration;

use hyper::HeaderMap;
use serde_json::Value;

use super::SCENARIO_TOKEN_PREFIX;

const SCENARIO_HEADER: &str = "x-mock-scenario";
/// Opens a marker in a chat message: `[[mock:<name>]]` or `[[mock:call NAME ARGS]]`.
pub(super) const MARKER_OPEN: &str = "[[mock:";
const MARKER_CLOSE: &str = "]]";

/// One named behaviour of the Grok mock's chat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scenario {
    Text,
    Echo,
    Reasoning,
    Markup,
    Tool,
    Image,
    ImageCard,
    ImageLimit,
    Video,
    InbandError,
    InbandErrorFirst,
    Empty,
    Cut,
    Html403,
    Fail(Failure),
    Slow,
    Silence,
}

/// An HTTP error in grok.com's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Failure {
    /// 401 `{"error":{"code":16,"message":"Unauthenticated"}}`.
    Unauthenticated,
    /// 403 `blocked-user`.
    Blocked,
    /// 429 code 8, with `Retry-After`.
    RateLimited,
    /// 500 code 13.
    Server,
    /// 400 code 3 "Model is not found".
    ModelNotFound,
}

impl Scenario {
    /// Every scenario with its name.
    pub(super) const ALL: [(&'static str, Scenario); 21] = [
        ("text", Scenario::Text),
        ("echo", Scenario::Echo),
        ("reasoning", Scenario::Reasoning),
        ("markup", Scenario::Markup),
        ("tool", Scenario::Tool),
        ("image", Scenario::Image),
        ("image_card", Scenario::ImageCard),
        ("image_limit", Scenario::ImageLimit),
        ("video", Scenario::Video),
        ("inband_error", Scenario::InbandError),
        ("inband_error_first", Scenario::InbandErrorFirst),
        ("empty", Scenario::Empty),
        ("cut", Scenario::Cut),
        ("html_403", Scenario::Html403),
        ("error_401", Scenario::Fail(Failure::Unauthenticated)),
        ("error_403", Scenario::Fail(Failure::Blocked)),
        ("error_429", Scenario::Fail(Failure::RateLimited)),
        ("error_500", Scenario::Fail(Failure::Server)),
        ("model_not_found", Scenario::Fail(Failure::ModelNotFound)),
        ("slow", Scenario::Slow),
        ("silence", Scenario::Silence),
    ];

    pub(super) fn named(name: &str) -> Option<Scenario> {
        Scenario::ALL.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }

    /// Whether this scenario answers with an HTTP error (on every route, not only the chat).
    pub(super) fn is_http_error(self) -> bool {
        matches!(self, Scenario::Fail(_) | Scenario::Html403)
    }
}

/// The scenario the request itself names (header, then token), if any; the unknown name as error.
pub(super) fn named_by_request<'a>(
    headers: &'a HeaderMap,
    token: &'a str,
) -> Result<Option<Scenario>, &'a str> {
    let name = match headers.get(SCENARIO_HEADER) {
        Some(value) => value.to_str().unwrap_or(""),
        None => match token.strip_prefix(SCENARIO_TOKEN_PREFIX) {
            Some(name) => name,
            None => return Ok(None),
        },
    };
    Scenario::named(name).map(Some).ok_or(name)
}

/// Picks the scenario of a chat (see the module doc); the unknown name as error.
pub(super) fn select(
    headers: &HeaderMap,
    token: &str,
    message: &str,
    payload: &Value,
) -> Result<Scenario, String> {
    if let Some(scenario) = named_by_request(headers, token).map_err(str::to_owned)? {
        return Ok(scenario);
    }
    if let Some(name) = marker(message) {
        return Scenario::named(name).ok_or_else(|| name.to_owned());
    }
    if call_marker(message).is_some() {
        return Ok(Scenario::Tool);
    }
    let tool = |name: &str| payload["toolOverrides"][name].as_bool() == Some(true);
    if tool("videoGen") {
        Ok(Scenario::Video)
    } else if tool("imageGen") || payload["modelName"].as_str() == Some("imagine-image-edit") {
        Ok(Scenario::Image)
    } else {
        Ok(Scenario::Text)
    }
}

/// The first `[[mock:<name>]]` marker's name, skipping `[[mock:call ...]]` markers.
fn marker(message: &str) -> Option<&str> {
    let mut rest = message;
    while let Some(start) = rest.find(MARKER_OPEN) {
        rest = &rest[start + MARKER_OPEN.len()..];
        let Some(end) = rest.find(MARKER_CLOSE) else { break };
        let name = &rest[..end];
        if !is_call(name) {
            return Some(name.trim());
        }
    }
    None
}

fn is_call(inner: &str) -> bool {
    inner == "call"
        || inner.starts_with("call ")
        || inner.starts_with("call\n")
        || inner.starts_with("call\t")
}

/// The first `[[mock:call NAME ARGS_JSON]]` marker: the tool name and its arguments as text
/// (`{}` when none are given). `ARGS_JSON` runs to its balanced closing brace, so it may contain
/// `]]` inside strings or arrays.
pub(super) fn call_marker(message: &str) -> Option<(&str, &str)> {
    let mut rest = message;
    while let Some(start) = rest.find(MARKER_OPEN) {
        rest = &rest[start + MARKER_OPEN.len()..];
        let Some(after) = rest.strip_prefix("call") else { continue };
        let after = after.trim_start();
        let name_end = after.find(|c: char| c.is_whitespace() || c == ']').unwrap_or(after.len());
        let name = &after[..name_end];
        if name.is_empty() {
            continue;
        }
        let tail = after[name_end..].trim_start();
        if tail.starts_with(MARKER_CLOSE) {
            return Some((name, "{}"));
        }
        let Some(len) = balanced_json_len(tail) else { continue };
        if tail[len..].trim_start().starts_with(MARKER_CLOSE) {
            return Some((name, &tail[..len]));
        }
    }
    None
}

/// The length of the JSON object or array at the start of `text`, by balancing brackets outside
/// strings; `None` if it does not start with one or never closes.
fn balanced_json_len(text: &str) -> Option<usize> {
    if !text.starts_with(['{', '[']) {
        return None;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, c) in text.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Knobs a chat may turn with `x-mock-*` headers.
#[derive(Clone, Copy, Debug)]
pub(super) struct Params {
    /// `x-mock-interval-ms`: pause between two lines of the stream (default 2).
    pub(super) interval: Duration,
    /// `x-mock-delay-ms`: pause before the status line (default 0).
    pub(super) delay: Duration,
    /// `x-mock-retry-after`: seconds in the `Retry-After` header of `error_429` (default 7).
    pub(super) retry_after: u64,
}

impl Params {
    pub(super) fn new(headers: &HeaderMap) -> Params {
        let number = |name: &str, default: u64| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<u64>().ok())
                .unwrap_or(default)
        };
        Params {
            interval: Duration::from_millis(number("x-mock-interval-ms", 2)),
            delay: Duration::from_millis(number("x-mock-delay-ms", 0)),
            retry_after: number("x-mock-retry-after", 7),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap())).collect()
    }

    #[test]
    fn selection_order_is_header_token_marker_semantics_text() {
        let none = HeaderMap::new();
        let p = json!({"modeId": "fast"});
        assert_eq!(select(&none, "tok", "hi", &p), Ok(Scenario::Text));
        assert_eq!(select(&none, "tok", "hi [[mock:echo]]", &p), Ok(Scenario::Echo));
        assert_eq!(select(&none, "scenario-cut", "hi [[mock:echo]]", &p), Ok(Scenario::Cut));
        let h = headers(&[("x-mock-scenario", "reasoning")]);
        assert_eq!(select(&h, "scenario-cut", "[[mock:echo]]", &p), Ok(Scenario::Reasoning));
        assert_eq!(select(&none, "tok", "[[mock:nope]]", &p), Err("nope".to_owned()));
        assert_eq!(select(&none, "scenario-zzz", "", &p), Err("zzz".to_owned()));
        assert_eq!(
            select(&none, "t", "x", &json!({"toolOverrides": {"videoGen": true}})),
            Ok(Scenario::Video)
        );
        assert_eq!(
            select(&none, "t", "x", &json!({"toolOverrides": {"imageGen": true}})),
            Ok(Scenario::Image)
        );
        assert_eq!(select(&none, "t", "x", &json!({"modelName": "imagine-image-edit"})), Ok(Scenario::Image));
        assert_eq!(select(&none, "t", "[[mock:call f {}]] [[mock:markup]]", &p), Ok(Scenario::Markup));
        assert_eq!(select(&none, "t", "[[mock:call f {}]]", &p), Ok(Scenario::Tool));
    }

    #[test]
    fn call_markers_run_to_the_balanced_json() {
        assert_eq!(
            call_marker(r#"a [[mock:call weather {"city":"Paris"}]] b"#),
            Some(("weather", r#"{"city":"Paris"}"#))
        );
        assert_eq!(call_marker("[[mock:call ping]]"), Some(("ping", "{}")));
        assert_eq!(
            call_marker(r#"[[mock:call f {"a":[[1]],"s":"]] }"}]]"#),
            Some(("f", r#"{"a":[[1]],"s":"]] }"}"#))
        );
        assert_eq!(call_marker("[[mock:text]]"), None);
        assert_eq!(marker("[[mock:call f {}]] then [[mock:cut]]"), Some("cut"));
    }
}
