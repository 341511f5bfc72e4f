//! Edits the top-level members of a JSON object without parsing the rest of it.
//!
//! The same-protocol path forwards a client's body untouched except for a few top-level
//! members (`model`, `stream`, ...). A Claude Code request is ~80 KB of tools and history; this
//! scanner skips over member values by tracking strings and nesting only, so the edit costs a
//! scan and one copy instead of a parse and a re-serialization.

/// What to do with one top-level member.
#[derive(Debug, Clone, Copy)]
pub enum Edit<'a> {
    /// Set the member to this JSON text, replacing it where it is or appending it.
    Set(&'a str, &'a [u8]),
    /// Set the member only if the object does not have it.
    Default(&'a str, &'a [u8]),
    /// Remove the member if present.
    Remove(&'a str),
}

impl Edit<'_> {
    fn key(&self) -> &str {
        match self {
            Edit::Set(k, _) | Edit::Default(k, _) | Edit::Remove(k) => k,
        }
    }
}

/// Occurs when the input is not a JSON object the scanner can walk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a JSON object (at byte {0})")]
pub struct NotAnObject(pub usize);

/// Applies `edits` to the top-level members of the object in `json`.
pub fn edit_object(json: &[u8], edits: &[Edit<'_>]) -> Result<Vec<u8>, NotAnObject> {
    let mut out = Vec::with_capacity(json.len() + 64);
    let mut done = vec![false; edits.len()];
    let mut i = skip_ws(json, 0);
    if json.get(i) != Some(&b'{') {
        return Err(NotAnObject(i));
    }
    out.push(b'{');
    i += 1;
    let mut members = 0usize;
    loop {
        i = skip_ws(json, i);
        match json.get(i) {
            Some(b'}') => break,
            Some(b',') => {
                i += 1;
                continue;
            }
            Some(b'"') => {}
            _ => return Err(NotAnObject(i)),
        }
        let key_start = i;
        let key_end = skip_string(json, i).ok_or(NotAnObject(i))?;
        let key = &json[key_start + 1..key_end - 1];
        i = skip_ws(json, key_end);
        if json.get(i) != Some(&b':') {
            return Err(NotAnObject(i));
        }
        let value_start = skip_ws(json, i + 1);
        let value_end = skip_value(json, value_start).ok_or(NotAnObject(value_start))?;
        i = value_end;

        let edit = edits.iter().position(|e| e.key().as_bytes() == key);
        let replacement: Option<&[u8]> = match edit.map(|n| (n, &edits[n])) {
            Some((n, Edit::Set(_, v))) => {
                done[n] = true;
                Some(v)
            }
            Some((n, Edit::Default(..))) => {
                done[n] = true;
                Some(&json[value_start..value_end])
            }
            Some((n, Edit::Remove(_))) => {
                done[n] = true;
                continue;
            }
            None => Some(&json[value_start..value_end]),
        };
        if let Some(value) = replacement {
            if members > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&json[key_start..key_end]);
            out.push(b':');
            out.extend_from_slice(value);
            members += 1;
        }
    }
    for (edit, done) in edits.iter().zip(done) {
        if let (Edit::Set(k, v) | Edit::Default(k, v), false) = (edit, done) {
            if members > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b"\":");
            out.extend_from_slice(v);
            members += 1;
        }
    }
    out.push(b'}');
    Ok(out)
}

fn skip_ws(json: &[u8], mut i: usize) -> usize {
    while matches!(json.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// `json[i]` is an opening quote; returns the index just past the closing quote.
fn skip_string(json: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        let k = memchr::memchr2(b'"', b'\\', json.get(j..)?)?;
        j += k;
        if json[j] == b'\\' {
            j += 2;
        } else {
            return Some(j + 1);
        }
    }
}

/// Returns the index just past the value starting at `i`.
fn skip_value(json: &[u8], i: usize) -> Option<usize> {
    match json.get(i)? {
        b'"' => skip_string(json, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match json.get(j)? {
                    b'"' => {
                        j = skip_string(json, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while let Some(b) = json.get(j) {
                if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(json: &str, edits: &[Edit]) -> serde_json::Value {
        serde_json::from_slice(&edit_object(json.as_bytes(), edits).unwrap()).unwrap()
    }

    #[test]
    fn replaces_appends_defaults_and_removes_top_level_members_only() {
        let json = r#" { "model" : "a", "nested": {"model": "keep", "s": "x\"}{"}, "stream": false, "n": 1 , "list": [1, {"model": 2}] } "#;
        let v = apply(
            json,
            &[
                Edit::Set("model", br#""b""#),
                Edit::Set("stream", b"true"),
                Edit::Remove("n"),
                Edit::Default("max_tokens", b"8192"),
                Edit::Default("list", b"[]"),
                Edit::Set("stream_options", br#"{"include_usage":true}"#),
            ],
        );
        assert_eq!(
            v,
            serde_json::json!({"model": "b", "nested": {"model": "keep", "s": "x\"}{"}, "stream": true,
                "list": [1, {"model": 2}], "max_tokens": 8192, "stream_options": {"include_usage": true}})
        );
    }

    #[test]
    fn empty_object_and_garbage() {
        assert_eq!(apply("{}", &[Edit::Set("a", b"1")]), serde_json::json!({"a": 1}));
        assert_eq!(apply("{ }", &[Edit::Remove("a")]), serde_json::json!({}));
        assert!(edit_object(b"[1]", &[]).is_err());
        assert!(edit_object(b"{\"a\":", &[]).is_err());
        assert!(edit_object(b"{\"a\":\"unterminated", &[]).is_err());
        assert!(edit_object(b"{\"a\" 1}", &[]).is_err());
    }

    #[test]
    fn keeps_member_text_byte_for_byte() {
        let json = r#"{"messages":[{"role":"user","content":"caf\u00e9 \n"}],"model":"x"}"#;
        let out = edit_object(json.as_bytes(), &[Edit::Set("model", br#""y""#)]).unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"messages":[{"role":"user","content":"caf\u00e9 \n"}],"model":"y"}"#
        );
    }
}
