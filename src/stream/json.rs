//! JSON payloads of frames: parsed with simd-json, strings handed out as slices of the frame.
//!
//! A [`JsonParser`] copies a frame's payload into a reused, padded scratch buffer and lets
//! simd-json deserialize it into a borrowed serde type. simd-json returns a string that needs no
//! unescaping as a pointer to where it sits in the input, so [`Parsed::text`] can map it back to
//! the same bytes of the original frame and return a [`Text`] that shares the upstream buffer.
//! Strings with escapes are unescaped in place and then copied once, into a block of
//! [`UNESCAPED_BLOCK_BYTES`] that the parser reuses, and handed out as slices of it.
//!
//! The writing half, [`write_str`], escapes a string into an output buffer for the encoders.
//!
//! **Allocation**: none per frame after warm-up: scratch, simd-json buffers and tape are reused,
//! and so is the block that strings with escapes are copied into, once every [`Text`] cut from
//! it has been dropped (the encoders drop each event as they write it). A consumer that holds on
//! to such strings costs one block per [`UNESCAPED_BLOCK_BYTES`] of them. Shown by the allocation
//! check in `benches/convert.rs` (`text` and `tool_calls` scenarios).

use crate::ir::Text;
use bytes::{BufMut, Bytes, BytesMut};
use serde::Deserialize;
use simd_json::{Buffers, Deserializer, INPUT_PADDING, Tape};
use std::cell::RefCell;
use std::ops::Range;

/// The least a parser reserves at a time for unescaped strings: a string with escapes is copied
/// into the current block, and a new block is taken (or the old one reclaimed, if no [`Text`]
/// cut from it is alive) when it is full.
pub const UNESCAPED_BLOCK_BYTES: usize = 4096;

/// A reusable simd-json parser for frame payloads. One per upstream stream.
pub struct JsonParser {
    input: Vec<u8>,
    buffers: Buffers,
    tape: Option<Tape<'static>>,
    /// Where strings with escapes are copied; see [`Parsed::text`].
    unescaped: RefCell<BytesMut>,
}

impl Default for JsonParser {
    fn default() -> Self {
        JsonParser::new()
    }
}

impl JsonParser {
    pub fn new() -> JsonParser {
        JsonParser {
            input: Vec::new(),
            buffers: Buffers::default(),
            tape: Some(Tape::null()),
            unescaped: RefCell::new(BytesMut::new()),
        }
    }

    /// Deserializes `frame` into `T`, whose `&str` fields borrow from the parser's scratch copy.
    pub fn parse<'s, T: Deserialize<'s>>(
        &'s mut self,
        frame: &'s Bytes,
    ) -> Result<Parsed<'s, T>, simd_json::Error> {
        let JsonParser { input, buffers, tape, unescaped } = self;
        input.clear();
        input.extend_from_slice(frame);
        input.resize(frame.len() + INPUT_PADDING, 0);
        let base = input.as_ptr() as usize;
        let mut filled = tape.take().unwrap_or_else(Tape::null).reset();
        let result = simd_json::fill_tape_padded(input.as_mut_slice(), frame.len(), buffers, &mut filled);
        let mut de = match result {
            Ok(()) => Deserializer::from_tape(filled),
            Err(e) => {
                *tape = Some(filled.reset());
                return Err(e);
            }
        };
        let value = T::deserialize(&mut de);
        *tape = Some(de.into_tape().reset());
        Ok(Parsed { value: value?, frame, base, unescaped })
    }

    /// The text of the JSON string literal whose body (what lies between its quotes) is
    /// `frame[body]`, without parsing the frame: a slice of the frame when the body has no
    /// escapes, else the body unescaped into the parser's block, as [`Parsed::text`] would give.
    ///
    /// `None` when the body is not one the parser would read this way: a `\u` escape (left to
    /// the parser, which knows surrogates), an escape JSON does not have, an unescaped quote or
    /// control character, or bytes that are not UTF-8.
    pub fn literal_text(&self, frame: &Bytes, body: Range<usize>) -> Option<Text> {
        let s = frame.get(body.clone())?;
        std::str::from_utf8(s).ok()?;
        if is_literal_string_body(s) {
            return Some(Text::from_utf8_unchecked(frame.slice(body)));
        }
        let mut block = self.unescaped.borrow_mut();
        if block.capacity() < s.len() {
            block.reserve(s.len().max(UNESCAPED_BLOCK_BYTES));
        }
        let (mut i, mut start) = (0, 0);
        while i < s.len() {
            let b = s[i];
            if b == b'\\' {
                let unescaped = match s.get(i + 1) {
                    Some(b'"') => b'"',
                    Some(b'\\') => b'\\',
                    Some(b'/') => b'/',
                    Some(b'b') => 0x08,
                    Some(b'f') => 0x0c,
                    Some(b'n') => b'\n',
                    Some(b'r') => b'\r',
                    Some(b't') => b'\t',
                    _ => {
                        block.clear();
                        return None;
                    }
                };
                block.extend_from_slice(&s[start..i]);
                block.put_u8(unescaped);
                i += 2;
                start = i;
            } else if NEEDS_ESCAPE[b as usize] {
                block.clear();
                return None;
            } else {
                i += 1;
            }
        }
        block.extend_from_slice(&s[start..]);
        // Escapes stand for ASCII characters, so the result is as valid UTF-8 as `s`.
        Some(Text::from_utf8_unchecked(block.split().freeze()))
    }
}

/// A deserialized frame and the means to turn its borrowed strings into shared [`Text`].
pub struct Parsed<'s, T> {
    pub value: T,
    frame: &'s Bytes,
    base: usize,
    unescaped: &'s RefCell<BytesMut>,
}

impl<T> Parsed<'_, T> {
    /// Turns a string borrowed from this parse into [`Text`]: a slice of the original frame when
    /// the string had no escapes, otherwise a copy in the parser's block for unescaped strings.
    pub fn text(&self, s: &str) -> Text {
        match self.frame_range(s) {
            Some(range) => Text::from_utf8_unchecked(self.frame.slice(range)),
            None => {
                let mut block = self.unescaped.borrow_mut();
                if block.capacity() < s.len() {
                    // Reclaims the block if every slice of it is gone, else takes a new one.
                    block.reserve(s.len().max(UNESCAPED_BLOCK_BYTES));
                }
                block.extend_from_slice(s.as_bytes());
                Text::from_utf8_unchecked(block.split().freeze())
            }
        }
    }

    /// Where `s` sits in the original frame, if it is a string literal there with no escapes.
    fn frame_range(&self, s: &str) -> Option<Range<usize>> {
        let offset = (s.as_ptr() as usize).checked_sub(self.base)?;
        let end = offset.checked_add(s.len())?;
        let frame = self.frame.as_ref();
        // The literal must open right before and close right after the slice, and the raw bytes
        // between must be exactly the string: then it had no escapes.
        let opens = offset > 0 && frame.get(offset - 1) == Some(&b'"');
        let closes = frame.get(end) == Some(&b'"');
        if opens
            && closes
            && frame[offset..end] == *s.as_bytes()
            && memchr::memchr(b'\\', &frame[offset..end]).is_none()
        {
            Some(offset..end)
        } else {
            None
        }
    }
}

/// Bytes that must be escaped inside a JSON string: `"`, `\` and the C0 controls.
const fn needs_escape_table() -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = true;
        i += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
}
static NEEDS_ESCAPE: [bool; 256] = needs_escape_table();

/// Can `s` stand between the quotes of a JSON string literal as it is, meaning exactly itself?
/// True when it holds no quote, backslash or control character (UTF-8 is not checked).
pub fn is_literal_string_body(s: &[u8]) -> bool {
    // No early exit: a branch-free fold over short strings is faster than stopping early.
    !s.iter().fold(false, |found, &b| found | NEEDS_ESCAPE[b as usize])
}

/// Writes `s` as a JSON string literal, quotes included.
pub fn write_str(out: &mut BytesMut, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.put_u8(b'"');
    write_str_body(out, s);
    out.put_u8(b'"');
}

/// Writes `s` escaped for the inside of a JSON string literal, without quotes.
pub fn write_str_body(out: &mut BytesMut, s: &[u8]) {
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        if !NEEDS_ESCAPE[b as usize] {
            continue;
        }
        out.extend_from_slice(&s[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 0xf) as usize],
                ]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&s[start..]);
}

/// Writes an unsigned integer in decimal.
pub fn write_u64(out: &mut BytesMut, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Delta<'a> {
        text: &'a str,
        #[serde(default)]
        other: Option<&'a str>,
    }

    #[test]
    fn unescaped_strings_are_slices_of_the_frame() {
        let frame = Bytes::from_static(br#"{"text":"hello world","other":"x"}"#);
        let mut parser = JsonParser::new();
        let parsed = parser.parse::<Delta>(&frame).unwrap();
        let text = parsed.text(parsed.value.text);
        assert_eq!(text, "hello world");
        let start = frame.as_ptr() as usize;
        let at = text.as_bytes().as_ptr() as usize;
        assert!(at >= start && at < start + frame.len(), "text must share the frame's buffer");
    }

    #[test]
    fn escaped_strings_are_unescaped_copies() {
        let frame = Bytes::from_static(br#"{"text":"line\n\"two\" \u00e9 \\"}"#);
        let mut parser = JsonParser::new();
        let parsed = parser.parse::<Delta>(&frame).unwrap();
        assert_eq!(parsed.text(parsed.value.text), "line\n\"two\" é \\");
    }

    #[test]
    fn unescaped_strings_outlive_the_block_they_were_copied_into() {
        let mut parser = JsonParser::new();
        let mut kept = Vec::new();
        for i in 0..2 * UNESCAPED_BLOCK_BYTES / 16 {
            let frame = Bytes::from(format!(r#"{{"text":"{i:>8}\n\"q\""}}"#));
            let parsed = parser.parse::<Delta>(&frame).unwrap();
            kept.push((i, parsed.text(parsed.value.text)));
        }
        let frame = Bytes::from(format!(r#"{{"text":"{}\n"}}"#, "x".repeat(3 * UNESCAPED_BLOCK_BYTES)));
        let parsed = parser.parse::<Delta>(&frame).unwrap();
        let long = parsed.text(parsed.value.text);
        assert_eq!(long.len(), 3 * UNESCAPED_BLOCK_BYTES + 1);
        assert!(long.as_str().ends_with("x\n"));
        for (i, text) in kept {
            assert_eq!(text, format!("{i:>8}\n\"q\"").as_str());
        }
    }

    #[test]
    fn the_parser_is_reusable_and_reports_errors() {
        let mut parser = JsonParser::new();
        let bad = Bytes::from_static(b"{\"text\":");
        assert!(parser.parse::<Delta>(&bad).is_err());
        for i in 0..3 {
            let frame = Bytes::from(format!(r#"{{"text":"n{i}"}}"#));
            let parsed = parser.parse::<Delta>(&frame).unwrap();
            assert_eq!(parsed.text(parsed.value.text), format!("n{i}").as_str());
            assert_eq!(parsed.value.other, None);
        }
    }

    #[test]
    fn literal_text_reads_bodies_as_the_parser_does() {
        #[derive(Deserialize)]
        struct S<'a> {
            s: &'a str,
        }
        let bodies: [&[u8]; 16] = [
            b"plain",
            b"",
            b"a\\nb \\\"q\\\" \\\\ \\/ \\b\\f\\r\\t end",
            "é 😀 \u{7f}".as_bytes(),
            b"\\u0041",
            b"\\ud83d\\ude00",
            b"bad \\x escape",
            b"trailing \\",
            b"raw \" quote",
            b"raw \x01 control",
            b"raw \t tab",
            b"\xff\xfe",
            b"\xed\xa0\x80",
            b"\\\\\\\"",
            b"\\",
            b"ok\\n",
        ];
        for body in bodies {
            let frame = Bytes::from([&b"{\"s\":\""[..], body, b"\"}"].concat());
            let range = 6..6 + body.len();
            let mut parser = JsonParser::new();
            let fast = parser.literal_text(&frame, range);
            let slow = parser.parse::<S>(&frame).ok().map(|p| p.text(p.value.s));
            match fast {
                Some(text) => assert_eq!(Some(text), slow, "{}", String::from_utf8_lossy(body)),
                None => assert!(
                    slow.is_none() || body.windows(2).any(|w| w == b"\\u"),
                    "only \\u escapes are left to the parser among valid bodies: {}",
                    String::from_utf8_lossy(body)
                ),
            }
        }
    }

    #[test]
    fn literal_string_bodies_have_nothing_to_escape() {
        assert!(is_literal_string_body("plain text, é \u{7f}".as_bytes()));
        assert!(is_literal_string_body(b""));
        for bad in [&b"a\"b"[..], b"a\\b", b"a\nb", b"\x1f", b"\t"] {
            assert!(!is_literal_string_body(bad), "{bad:?}");
        }
    }

    #[test]
    fn write_str_escapes_what_json_requires() {
        let mut out = BytesMut::new();
        write_str(&mut out, "a\"b\\c\nd\u{1}é".as_bytes());
        assert_eq!(&out[..], "\"a\\\"b\\\\c\\nd\\u0001é\"".as_bytes());
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}é");
    }
}
