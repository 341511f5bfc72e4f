//! Chooses what a mock answers: the scenario, its parameters, and the API-neutral answer it carries.
//!
//! A **scenario** is one named behaviour of the mock upstream (`text`, `tool`, `cut`, `error_429`,
//! ...). It is chosen per request by one rule, [`select`]:
//!
//! 1. the `x-mock-scenario: <name>` header, if present;
//! 2. otherwise the API key, if it is `sk-scenario-<name>` (so that one account of a gateway can
//!    fail while another answers the same model);
//! 3. otherwise the request's `model`, if it is `mock-<name>`;
//! 4. otherwise `text`.
//!
//! An unknown name (from either source) is the caller's mistake and gets a 400.
//!
//! An **answer** is what a successful scenario says, before any API's wire format: thinking deltas,
//! text deltas, tool calls and usage. `openai` and `anthropic` each render the same answer in their
//! own protocol, so one scenario means the same thing on both APIs.

use std::borrow::Cow;
use std::time::Duration;

use hyper::HeaderMap;
use serde::Deserialize;
use serde_json::value::RawValue;

/// Header that picks the scenario, taking precedence over the model name.
const SCENARIO_HEADER: &str = "x-mock-scenario";
/// API keys of the form `sk-scenario-<scenario>` pick that scenario.
pub(super) const KEY_PREFIX: &str = "sk-scenario-";
/// Model names of the form `mock-<scenario>` pick that scenario.
pub(super) const MODEL_PREFIX: &str = "mock-";
/// Upper bound on `x-mock-chunks`, so one request cannot make the mock build an unbounded script.
const MAX_CHUNKS: usize = 100_000;

/// One named behaviour of the mock upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scenario {
    Text,
    Echo,
    Long,
    Tool,
    Tools2,
    Thinking,
    CacheUsage,
    Fail(Failure),
    Html403,
    Empty,
    EmptyBody,
    Cut,
    InbandError,
    ErrorBeforeContent,
    SlowFirstByte,
    Silence,
    Bench,
}

/// An HTTP error the mock answers in the API's own error shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Failure {
    /// 400: the prompt exceeds the model's context window.
    ContextLength,
    /// 401: bad or missing API key.
    Unauthorized,
    /// 403: the key may not use this resource.
    Forbidden,
    /// 429, with a `Retry-After` header.
    RateLimited,
    /// 500.
    Server,
    /// Anthropic 529 `overloaded_error`; OpenAI 503.
    Overloaded,
}

impl Scenario {
    /// Every scenario with its name, in the order `/v1/models` lists them.
    pub(super) const ALL: [(&'static str, Scenario); 22] = [
        ("text", Scenario::Text),
        ("echo", Scenario::Echo),
        ("long", Scenario::Long),
        ("tool", Scenario::Tool),
        ("tools2", Scenario::Tools2),
        ("thinking", Scenario::Thinking),
        ("cache_usage", Scenario::CacheUsage),
        ("error_400", Scenario::Fail(Failure::ContextLength)),
        ("error_401", Scenario::Fail(Failure::Unauthorized)),
        ("error_403", Scenario::Fail(Failure::Forbidden)),
        ("error_429", Scenario::Fail(Failure::RateLimited)),
        ("error_500", Scenario::Fail(Failure::Server)),
        ("error_529", Scenario::Fail(Failure::Overloaded)),
        ("html_403", Scenario::Html403),
        ("empty", Scenario::Empty),
        ("empty_body", Scenario::EmptyBody),
        ("cut", Scenario::Cut),
        ("inband_error", Scenario::InbandError),
        ("error_before_content", Scenario::ErrorBeforeContent),
        ("slow_first_byte", Scenario::SlowFirstByte),
        ("silence", Scenario::Silence),
        ("bench", Scenario::Bench),
    ];

    fn named(name: &str) -> Option<Scenario> {
        Scenario::ALL.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }
}

/// Picks the scenario for a request (see the module doc for the rule).
///
/// Returns the unknown name as the error.
pub(super) fn select<'a>(headers: &'a HeaderMap, model: &'a str) -> Result<Scenario, &'a str> {
    let name = match headers.get(SCENARIO_HEADER) {
        Some(value) => value.to_str().unwrap_or(""),
        None => match key(headers)
            .and_then(|k| k.strip_prefix(KEY_PREFIX))
            .or_else(|| model.strip_prefix(MODEL_PREFIX))
        {
            Some(name) => name,
            None => return Ok(Scenario::Text),
        },
    };
    Scenario::named(name).ok_or(name)
}

/// The failure an `sk-scenario-<name>` key asks for on routes without a model (`GET /v1/models`,
/// which gateways call to check an account): the key's error scenario, or `None`.
pub(super) fn key_failure(headers: &HeaderMap) -> Option<Scenario> {
    let name = key(headers)?.strip_prefix(KEY_PREFIX)?;
    Scenario::named(name).filter(|s| matches!(s, Scenario::Fail(_) | Scenario::Html403))
}

/// The API key of a request, as either API sends it.
fn key(headers: &HeaderMap) -> Option<&str> {
    let bearer =
        headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    bearer.or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok())).map(str::trim)
}

/// Knobs a request may turn with `x-mock-*` headers. A missing or unparsable header keeps the default.
#[derive(Clone, Copy, Debug)]
pub(super) struct Params {
    /// `x-mock-chunks`: number of text deltas of `long` (default 50, at most [`MAX_CHUNKS`]).
    pub(super) chunks: usize,
    /// `x-mock-interval-ms`: pause between two content deltas of a stream (default 20 for `long`,
    /// 0 otherwise).
    pub(super) interval: Duration,
    /// `x-mock-delay-ms`: pause before the status line (default 2000 for `slow_first_byte`, 0
    /// otherwise).
    pub(super) delay: Duration,
    /// `x-mock-retry-after`: seconds in the `Retry-After` header of `error_429` (default 7).
    pub(super) retry_after: u64,
}

impl Params {
    pub(super) fn new(headers: &HeaderMap, scenario: Scenario) -> Params {
        let number = |name: &str, default: u64| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<u64>().ok())
                .unwrap_or(default)
        };
        let interval = if scenario == Scenario::Long { 20 } else { 0 };
        let delay = if scenario == Scenario::SlowFirstByte { 2000 } else { 0 };
        Params {
            chunks: usize::try_from(number("x-mock-chunks", 50)).unwrap_or(MAX_CHUNKS).min(MAX_CHUNKS),
            interval: Duration::from_millis(number("x-mock-interval-ms", interval)),
            delay: Duration::from_millis(number("x-mock-delay-ms", delay)),
            retry_after: number("x-mock-retry-after", 7),
        }
    }

    /// How long to wait before the status line: `x-mock-delay-ms`, and for a non-stream `long` also
    /// the time its stream would have taken.
    pub(super) fn wait(&self, scenario: Scenario, stream: bool) -> Duration {
        let generating = if scenario == Scenario::Long && !stream {
            self.interval.saturating_mul(u32::try_from(self.chunks).unwrap_or(u32::MAX))
        } else {
            Duration::ZERO
        };
        self.delay.saturating_add(generating)
    }
}

/// The parts of a request an answer depends on. Both APIs share these shapes.
pub(super) struct Prompt<'a> {
    /// `messages`: each has a `role` and `content` as a string or a list of typed parts.
    pub(super) messages: &'a RawValue,
    /// `tools`: OpenAI `{"type":"function","function":{"name":..}}`, Anthropic `{"name":..}`.
    pub(super) tools: Option<&'a RawValue>,
    /// Size of the request body in bytes, the base of the input-token estimate.
    pub(super) body_len: usize,
}

/// What a successful scenario says, before any wire format.
#[derive(Debug, Default)]
pub(super) struct Answer {
    pub(super) thinking: Vec<String>,
    pub(super) text: Vec<String>,
    pub(super) tools: Vec<ToolCall>,
    pub(super) usage: Usage,
}

/// One tool call; its arguments are streamed in three fragments.
#[derive(Debug)]
pub(super) struct ToolCall {
    pub(super) name: String,
    /// The complete arguments, a JSON object as text.
    pub(super) arguments: String,
}

/// Token counts in API-neutral terms; each API maps them to its own fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Usage {
    /// Uncached input tokens.
    pub(super) input: u64,
    /// Output tokens, reasoning included.
    pub(super) output: u64,
    pub(super) cache_read: u64,
    pub(super) cache_write: u64,
    /// Reasoning tokens counted in `output` (OpenAI reports them apart).
    pub(super) reasoning: u64,
}

/// The fixed answer of `text`, in the deltas it is streamed as.
const HELLO: [&str; 4] = ["Hello", " from", " the", " mock."];
const CACHE_READ_TOKENS: u64 = 1024;
const CACHE_WRITE_TOKENS: u64 = 256;
const HIDDEN_REASONING_TOKENS: u64 = 16;

impl Answer {
    /// The answer of a scenario that answers with content. Failures, `html_403` and `empty_body` have
    /// none; asked anyway, they get the `text` answer.
    pub(super) fn new(scenario: Scenario, params: &Params, prompt: &Prompt<'_>) -> Answer {
        let tool = |city: &str| ToolCall {
            name: prompt.tools.and_then(first_tool_name).unwrap_or_else(|| "get_weather".to_owned()),
            arguments: serde_json::json!({ "city": city }).to_string(),
        };
        let mut answer = match scenario {
            Scenario::Echo => {
                Answer { text: split_words(&last_user_text(prompt.messages)), ..Answer::default() }
            }
            Scenario::Long => Answer {
                text: (0..params.chunks).map(|i| format!("word{i} ")).collect(),
                ..Answer::default()
            },
            Scenario::Tool => Answer {
                text: strings(&["Let me check", " the weather."]),
                tools: vec![tool("Paris")],
                ..Answer::default()
            },
            Scenario::Tools2 => Answer {
                text: strings(&["Checking", " both cities."]),
                tools: vec![tool("Paris"), tool("London")],
                ..Answer::default()
            },
            Scenario::Thinking => Answer {
                thinking: strings(&["The user", " greets me;", " I greet back."]),
                text: strings(&HELLO),
                ..Answer::default()
            },
            Scenario::Empty => Answer::default(),
            Scenario::Bench => Answer { text: strings(&["ok"]), ..Answer::default() },
            _ => Answer { text: strings(&HELLO), ..Answer::default() },
        };
        let fragments: usize = answer.tools.iter().map(|t| t.fragments().len()).sum();
        let reasoning = answer.thinking.len() as u64;
        answer.usage = Usage {
            input: (prompt.body_len as u64 / 4).max(1),
            output: (reasoning + (answer.text.len() + fragments) as u64).max(1),
            reasoning,
            ..Usage::default()
        };
        if scenario == Scenario::CacheUsage {
            answer.usage.cache_read = CACHE_READ_TOKENS;
            answer.usage.cache_write = CACHE_WRITE_TOKENS;
            answer.usage.reasoning = HIDDEN_REASONING_TOKENS;
            answer.usage.output += HIDDEN_REASONING_TOKENS;
        }
        answer
    }
}

impl ToolCall {
    /// The arguments cut in three pieces whose concatenation is [`ToolCall::arguments`].
    pub(super) fn fragments(&self) -> [&str; 3] {
        let a = &self.arguments;
        let cut = |n: usize| (0..=n).rev().find(|&i| a.is_char_boundary(i)).unwrap_or(0);
        let (first, second) = (cut(a.len() / 3), cut(2 * a.len() / 3));
        [&a[..first], &a[first..second], &a[second..]]
    }
}

fn strings(pieces: &[&str]) -> Vec<String> {
    pieces.iter().map(|p| (*p).to_owned()).collect()
}

/// Splits text into deltas of one word each, with the spaces before it, so the concatenation is the
/// text.
fn split_words(text: &str) -> Vec<String> {
    let mut deltas = Vec::new();
    let (mut start, mut after_space) = (0, true);
    for (i, c) in text.char_indices() {
        let space = c == ' ';
        if space && !after_space {
            deltas.push(text[start..i].to_owned());
            start = i;
        }
        after_space = space;
    }
    if start < text.len() {
        deltas.push(text[start..].to_owned());
    }
    deltas
}

/// The name of the first tool, in either API's shape.
fn first_tool_name(tools: &RawValue) -> Option<String> {
    #[derive(Deserialize)]
    struct Tool<'a> {
        #[serde(borrow, default)]
        name: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        function: Option<Function<'a>>,
    }
    #[derive(Deserialize)]
    struct Function<'a> {
        #[serde(borrow)]
        name: Cow<'a, str>,
    }
    let tools: Vec<Tool<'_>> = serde_json::from_str(tools.get()).ok()?;
    let first = tools.into_iter().next()?;
    first.function.map(|f| f.name).or(first.name).map(Cow::into_owned)
}

/// The text of the last `user` message: its string content, or its `text` parts joined.
///
/// The shape is the same on both APIs: OpenAI content parts and Anthropic content blocks both carry
/// `{"type":"text","text":...}`. Anything unreadable counts as no text.
fn last_user_text(messages: &RawValue) -> String {
    #[derive(Deserialize)]
    struct Message<'a> {
        #[serde(borrow)]
        role: Cow<'a, str>,
        #[serde(borrow, default)]
        content: Option<Content<'a>>,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Content<'a> {
        Text(#[serde(borrow)] Cow<'a, str>),
        Parts(#[serde(borrow)] Vec<Part<'a>>),
    }
    #[derive(Deserialize)]
    struct Part<'a> {
        #[serde(borrow, rename = "type")]
        kind: Cow<'a, str>,
        #[serde(borrow, default)]
        text: Option<Cow<'a, str>>,
    }

    let messages: Vec<Message<'_>> = serde_json::from_str(messages.get()).unwrap_or_default();
    match messages.into_iter().rev().find(|m| m.role == "user").and_then(|m| m.content) {
        Some(Content::Text(text)) => text.into_owned(),
        Some(Content::Parts(parts)) => {
            parts.into_iter().filter(|p| p.kind == "text").filter_map(|p| p.text).collect()
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap())).collect()
    }

    #[test]
    fn header_beats_model_and_other_models_get_text() {
        let none = HeaderMap::new();
        assert_eq!(select(&none, "gpt-4o"), Ok(Scenario::Text));
        assert_eq!(select(&none, "mock-tool"), Ok(Scenario::Tool));
        assert_eq!(select(&none, "mock-error_429"), Ok(Scenario::Fail(Failure::RateLimited)));
        assert_eq!(select(&headers(&[("x-mock-scenario", "cut")]), "mock-tool"), Ok(Scenario::Cut));
        assert_eq!(select(&none, "mock-nope"), Err("nope"));
        assert_eq!(select(&headers(&[("x-mock-scenario", "nah")]), "gpt-4o"), Err("nah"));
        assert_eq!(
            select(&headers(&[("authorization", "Bearer sk-scenario-error_500")]), "mock-tool"),
            Ok(Scenario::Fail(Failure::Server))
        );
        assert_eq!(select(&headers(&[("x-api-key", "sk-scenario-empty")]), "gpt-4o"), Ok(Scenario::Empty));
        assert_eq!(
            select(&headers(&[("x-mock-scenario", "cut"), ("x-api-key", "sk-scenario-empty")]), "x"),
            Ok(Scenario::Cut)
        );
    }

    #[test]
    fn params_default_per_scenario_and_read_headers() {
        let none = HeaderMap::new();
        let long = Params::new(&none, Scenario::Long);
        assert_eq!((long.chunks, long.interval, long.delay), (50, Duration::from_millis(20), Duration::ZERO));
        assert_eq!(Params::new(&none, Scenario::SlowFirstByte).delay, Duration::from_millis(2000));
        assert_eq!(Params::new(&none, Scenario::Text).interval, Duration::ZERO);
        let set =
            headers(&[("x-mock-chunks", "3"), ("x-mock-interval-ms", "5"), ("x-mock-retry-after", "x")]);
        let p = Params::new(&set, Scenario::Long);
        assert_eq!((p.chunks, p.interval, p.retry_after), (3, Duration::from_millis(5), 7));
        let huge = headers(&[("x-mock-chunks", "99999999999")]);
        assert_eq!(Params::new(&huge, Scenario::Long).chunks, MAX_CHUNKS);
    }

    #[test]
    fn a_non_stream_long_waits_as_long_as_its_stream_would_take() {
        let set = headers(&[("x-mock-chunks", "4"), ("x-mock-interval-ms", "10"), ("x-mock-delay-ms", "5")]);
        let long = Params::new(&set, Scenario::Long);
        assert_eq!(long.wait(Scenario::Long, false), Duration::from_millis(45));
        assert_eq!(long.wait(Scenario::Long, true), Duration::from_millis(5));
        assert_eq!(Params::new(&set, Scenario::Text).wait(Scenario::Text, false), Duration::from_millis(5));
    }

    #[test]
    fn last_user_text_reads_strings_and_text_parts() {
        let raw = |s: &str| RawValue::from_string(s.to_owned()).unwrap();
        let string = raw(r#"[{"role":"user","content":"first"},{"role":"assistant","content":"x"},
            {"role":"user","content":"héllo there"}]"#);
        assert_eq!(last_user_text(&string), "héllo there");
        let parts = raw(r#"[{"role":"user","content":[{"type":"image","source":{}},
            {"type":"text","text":"a "},{"type":"text","text":"b"}]},{"role":"assistant","content":null}]"#);
        assert_eq!(last_user_text(&parts), "a b");
        assert_eq!(last_user_text(&raw(r#"{"not":"a list"}"#)), "");
    }

    #[test]
    fn first_tool_name_reads_both_apis() {
        let raw = |s: &str| RawValue::from_string(s.to_owned()).unwrap();
        let openai = raw(
            r#"[{"type":"function","function":{"name":"lookup","parameters":{}}},{"type":"function","function":{"name":"b"}}]"#,
        );
        assert_eq!(first_tool_name(&openai).as_deref(), Some("lookup"));
        let anthropic = raw(r#"[{"name":"Bash","input_schema":{}}]"#);
        assert_eq!(first_tool_name(&anthropic).as_deref(), Some("Bash"));
        assert_eq!(first_tool_name(&raw("[]")), None);
    }

    #[test]
    fn words_and_fragments_concatenate_back() {
        assert_eq!(split_words("héllo  big world"), ["héllo", "  big", " world"]);
        assert!(split_words("").is_empty());
        let call = ToolCall { name: "f".into(), arguments: r#"{"city":"Zürich"}"#.into() };
        assert_eq!(call.fragments().concat(), call.arguments);
        assert!(call.fragments().iter().all(|f| !f.is_empty()));
    }
}
