//! Tool calls over a model without function calling: the prompt that describes the tools and the
//! call syntax, the history rendering, and the parser that finds calls in the streamed answer.
//!
//! The protocol (`docs/grok-tools.md`): the model writes each call as
//! `<tool_call>{"name":"…","arguments":{…}}</tool_call>`; earlier calls are replayed in the same
//! syntax and their results as `<tool_result id="…" name="…">…</tool_result>`. A call whose tool
//! is unknown, or whose arguments do not fit the tool's schema, is dropped, not passed on.

use crate::ir::{RawJson, Tool, ToolChoice};
use serde_json::Value;

pub const CALL_OPEN: &str = "<tool_call>";
pub const CALL_CLOSE: &str = "</tool_call>";

/// The tool section put before the conversation.
pub fn prompt(tools: &[Tool], choice: Option<&ToolChoice>) -> String {
    let mut p = String::from(
        "# Available Tools\n\nYou can call the tools below. To call one, write a <tool_call> block holding one JSON object with \"name\" and \"arguments\", exactly like this:\n<tool_call>\n{\"name\":\"tool_name\",\"arguments\":{\"param\":\"value\"}}\n</tool_call>\n\nYou may write several <tool_call> blocks in one answer. The arguments must follow the tool's JSON schema. Each result comes back to you in a block tagged tool_result, which only the user writes; stop after your tool calls to wait for the results.\n\n## Tool Definitions\n",
    );
    for tool in tools {
        p.push_str("\n### ");
        p.push_str(&tool.name);
        p.push('\n');
        if let Some(d) = tool.description.as_deref().filter(|d| !d.trim().is_empty()) {
            p.push_str(d.trim());
            p.push('\n');
        }
        p.push_str("Parameters: ");
        p.push_str(tool.input_schema.get());
        p.push('\n');
    }
    p.push('\n');
    p.push_str(&match choice {
        Some(ToolChoice::Any) => "IMPORTANT: You MUST call at least one tool in your answer.".to_string(),
        Some(ToolChoice::Tool(name)) => {
            format!("IMPORTANT: You MUST call the tool \"{name}\" in your answer.")
        }
        _ => "Call a tool only when the request needs one; otherwise answer normally with text.".to_string(),
    });
    p
}

/// An earlier call, replayed into the conversation.
pub fn render_call(name: &str, input: &RawJson) -> String {
    let name = serde_json::to_string(name).unwrap_or_default();
    format!("{CALL_OPEN}{{\"name\":{name},\"arguments\":{}}}{CALL_CLOSE}", input.get())
}

/// A tool's result, replayed into the conversation.
pub fn render_result(id: &str, name: &str, content: &str, is_error: bool) -> String {
    let attr = |s: &str| s.replace(['"', '<', '>'], "");
    let error = if is_error { " error=\"true\"" } else { "" };
    format!(
        "<tool_result id=\"{}\" name=\"{}\"{error}>\n{}\n</tool_result>",
        attr(id),
        attr(name),
        content.trim()
    )
}

/// A call found in the answer: the tool and its arguments as a JSON object text.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub name: String,
    pub arguments: String,
}

/// What the parser releases, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Text(String),
    Call(Found),
}

/// Finds calls in the streamed (already cleaned) answer text.
pub struct CallParser {
    tools: Vec<(String, Value)>,
    forced: Option<String>,
    held: String,
    inside: bool,
}

/// A call block longer than this is not a call.
const MAX_CALL: usize = 1024 * 1024;

impl CallParser {
    pub fn new(tools: &[Tool], choice: Option<&ToolChoice>) -> CallParser {
        CallParser {
            tools: tools
                .iter()
                .map(|t| (t.name.clone(), serde_json::from_str(t.input_schema.get()).unwrap_or(Value::Null)))
                .collect(),
            forced: match choice {
                Some(ToolChoice::Tool(name)) => Some(name.clone()),
                _ => None,
            },
            held: String::new(),
            inside: false,
        }
    }

    pub fn push(&mut self, text: &str, out: &mut Vec<Piece>) {
        self.held.push_str(text);
        let mut pos = 0;
        loop {
            let rest = &self.held[pos..];
            if self.inside {
                let Some(end) = rest.find(CALL_CLOSE) else {
                    if rest.len() > MAX_CALL {
                        pos = self.held.len();
                        self.inside = false;
                    }
                    break;
                };
                if let Some(call) = self.validate(&rest[..end]) {
                    out.push(Piece::Call(call));
                }
                pos += end + CALL_CLOSE.len();
                self.inside = false;
                continue;
            }
            if let Some(at) = rest.find(CALL_OPEN) {
                push_text(out, &rest[..at]);
                pos += at + CALL_OPEN.len();
                self.inside = true;
                continue;
            }
            // Keep back a tail that may be the start of `<tool_call>`.
            let keep = partial_suffix(rest, CALL_OPEN);
            push_text(out, &rest[..rest.len() - keep]);
            pos += rest.len() - keep;
            break;
        }
        self.held.drain(..pos);
    }

    /// The answer ended: held text is text; an unclosed call is tried as a call.
    pub fn finish(&mut self, out: &mut Vec<Piece>) {
        let held = std::mem::take(&mut self.held);
        if self.inside {
            if let Some(call) = self.validate(&held) {
                out.push(Piece::Call(call));
            }
        } else {
            push_text(out, &held);
        }
        self.inside = false;
    }

    fn validate(&self, body: &str) -> Option<Found> {
        let Some(value) = lenient_json(body) else {
            tracing::debug!("grok: a <tool_call> block is not JSON; dropped");
            return None;
        };
        let name = value.get("name")?.as_str()?.to_string();
        let Some((_, schema)) = self.tools.iter().find(|(n, _)| *n == name) else {
            tracing::debug!(tool = %name, "grok: a call to an unknown tool; dropped");
            return None;
        };
        if self.forced.as_ref().is_some_and(|f| *f != name) {
            return None;
        }
        let arguments = match value.get("arguments").or_else(|| value.get("parameters")) {
            Some(Value::String(s)) => serde_json::from_str(s).ok()?,
            Some(v) => v.clone(),
            None => Value::Object(Default::default()),
        };
        if let Err(why) = fits(&arguments, schema) {
            tracing::debug!(tool = %name, why, "grok: tool arguments do not fit the schema; dropped");
            return None;
        }
        Some(Found { name, arguments: arguments.to_string() })
    }
}

fn push_text(out: &mut Vec<Piece>, text: &str) {
    if text.is_empty() {
        return;
    }
    if let Some(Piece::Text(last)) = out.last_mut() {
        last.push_str(text);
    } else {
        out.push(Piece::Text(text.to_string()));
    }
}

/// Length of the longest suffix of `text` that is a proper prefix of `marker`.
fn partial_suffix(text: &str, marker: &str) -> usize {
    (1..marker.len().min(text.len() + 1))
        .rev()
        .find(|&n| text.is_char_boundary(text.len() - n) && marker.starts_with(&text[text.len() - n..]))
        .unwrap_or(0)
}

/// Parses what a model wrote as JSON, forgiving code fences, text around the object and trailing
/// commas.
fn lenient_json(body: &str) -> Option<Value> {
    let start = body.find('{')?;
    let end = body.rfind('}')?;
    if end < start {
        return None;
    }
    let candidate = &body[start..=end];
    if let Ok(v) = serde_json::from_str::<Value>(candidate) {
        return v.is_object().then_some(v);
    }
    let repaired = strip_trailing_commas(candidate);
    serde_json::from_str::<Value>(&repaired).ok().filter(Value::is_object)
}

fn strip_trailing_commas(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        if c == ','
            && chars[i + 1..].iter().find(|c| !c.is_whitespace()).is_some_and(|n| *n == '}' || *n == ']')
        {
            continue;
        }
        out.push(c);
    }
    out
}

/// Checks arguments against the parts of a JSON schema that tell a call apart from a mistake:
/// an object, its required properties, the basic types of the properties it declares, enums,
/// and `additionalProperties: false`.
fn fits(value: &Value, schema: &Value) -> Result<(), String> {
    let Some(schema) = schema.as_object() else { return Ok(()) };
    if let Some(expected) = schema.get("type").and_then(Value::as_str)
        && !has_type(value, expected)
    {
        return Err(format!("expected {expected}"));
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        return Err("not one of the allowed values".into());
    }
    let Some(object) = value.as_object() else { return Ok(()) };
    let properties = schema.get("properties").and_then(Value::as_object);
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !object.contains_key(name) {
                return Err(format!("missing required `{name}`"));
            }
        }
    }
    for (key, v) in object {
        match properties.and_then(|p| p.get(key)) {
            Some(sub) => fits(v, sub).map_err(|e| format!("`{key}`: {e}"))?,
            None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                return Err(format!("unknown property `{key}`"));
            }
            None => {}
        }
    }
    Ok(())
}

fn has_type(value: &Value, expected: &str) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.as_f64().is_some_and(|n| n.fract() == 0.0),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weather() -> Vec<Tool> {
        vec![Tool {
            name: "weather".into(),
            description: Some("Weather of a city".into()),
            input_schema: RawJson::parse(
                r#"{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city"],"additionalProperties":false}"#,
            )
            .unwrap(),
        }]
    }

    fn run(pieces: &[&str]) -> Vec<Piece> {
        let tools = weather();
        let mut p = CallParser::new(&tools, None);
        let mut out = Vec::new();
        for piece in pieces {
            p.push(piece, &mut out);
        }
        p.finish(&mut out);
        // Merge adjacent text for comparison.
        let mut merged: Vec<Piece> = Vec::new();
        for piece in out {
            match (merged.last_mut(), piece) {
                (Some(Piece::Text(a)), Piece::Text(b)) => a.push_str(&b),
                (_, piece) => merged.push(piece),
            }
        }
        merged
    }

    #[test]
    fn calls_split_across_tokens_are_found_with_the_text_around_them() {
        let got = run(&[
            "before <tool_",
            "call>{\"name\":\"weather\",",
            "\"arguments\":{\"city\":\"shanghai\"}}</tool_call> after",
        ]);
        assert_eq!(
            got,
            vec![
                Piece::Text("before ".into()),
                Piece::Call(Found { name: "weather".into(), arguments: r#"{"city":"shanghai"}"#.into() }),
                Piece::Text(" after".into()),
            ]
        );
    }

    #[test]
    fn invalid_calls_are_dropped() {
        assert_eq!(run(&["<tool_call>{\"name\":\"nope\",\"arguments\":{}}</tool_call>"]), vec![]);
        assert_eq!(
            run(&["<tool_call>{\"name\":\"weather\",\"arguments\":{}}</tool_call>"]),
            vec![],
            "missing city"
        );
        assert_eq!(
            run(&["<tool_call>{\"name\":\"weather\",\"arguments\":{\"city\":1}}</tool_call>"]),
            vec![],
            "wrong type"
        );
        assert_eq!(
            run(&["<tool_call>{\"name\":\"weather\",\"arguments\":{\"city\":\"a\",\"x\":1}}</tool_call>"]),
            vec![],
            "unknown property"
        );
        assert_eq!(run(&["<tool_call>not json</tool_call>"]), vec![]);
    }

    #[test]
    fn sloppy_json_is_repaired() {
        let got = run(&[
            "<tool_call>\n```json\n{\"name\":\"weather\",\"arguments\":{\"city\":\"a, b\",\"days\":2,},}\n```\n</tool_call>",
        ]);
        assert_eq!(
            got,
            vec![Piece::Call(Found {
                name: "weather".into(),
                arguments: r#"{"city":"a, b","days":2}"#.into()
            })]
        );
    }

    #[test]
    fn a_lone_angle_bracket_is_text() {
        assert_eq!(run(&["a < b and <tool", "s>"]), vec![Piece::Text("a < b and <tools>".into())]);
    }

    #[test]
    fn prompt_and_history_use_the_same_syntax() {
        let p = prompt(&weather(), Some(&ToolChoice::Any));
        assert!(p.contains("## Tool Definitions\n\n### weather\nWeather of a city\nParameters: {"));
        assert!(p.ends_with("You MUST call at least one tool in your answer."));
        let call = render_call("weather", &RawJson::parse(r#"{"city":"x"}"#).unwrap());
        assert_eq!(call, r#"<tool_call>{"name":"weather","arguments":{"city":"x"}}</tool_call>"#);
        assert_eq!(run(&[&call]).len(), 1, "a replayed call parses back");
        assert_eq!(
            render_result("toolu_1", "weather", " 22C ", false),
            "<tool_result id=\"toolu_1\" name=\"weather\">\n22C\n</tool_result>"
        );
    }
}
