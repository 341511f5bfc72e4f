//! Cuts a newline-delimited JSON body into lines, tolerating the SSE-ish `data: ` and `[DONE]` habits.
//!
//! An **item** is one non-blank line: its bytes with the line end and surrounding ASCII whitespace
//! removed, and with one leading `data:` (and the whitespace after it) removed, so a stream of
//! `data: {...}` lines reads like plain NDJSON. A line that is then exactly `[DONE]` is the
//! end-of-stream marker, [`NdjsonItem::Done`]. Lines end in LF (a CR before it is whitespace and
//! trimmed); blank lines are skipped. Other SSE fields are not recognised: a body that is really
//! SSE belongs to [`super::sse::SseFramer`]. The payload is not checked to be JSON.
//!
//! **Allocation**: none per line after warm-up when each line lies within one chunk: a line is a
//! slice of its chunk, and the chunk queue reuses its capacity. A line that spans chunks is gathered
//! once into a buffer and frozen; the buffer takes its memory back once the consumer has dropped
//! that line. Shown by the `ndjson/frame/*` bench and the allocation check in `benches/framing.rs`.
//!
//! **Limits**: [`DEFAULT_MAX_LINE_BYTES`] bounds one line, counted before trimming and without its
//! LF, including the part still being read. Past it, [`FrameError::TooLarge`] is returned, the
//! buffers are dropped and the framer refuses all further input.

use super::FrameError;
use bytes::{Buf, Bytes, BytesMut};
use std::collections::VecDeque;
use std::ops::Range;

/// The default bound on one line's size, see the module's **Limits**.
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// One item of a newline-delimited JSON stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NdjsonItem {
    /// A trimmed line, without any `data:` prefix; a slice of its chunk when it lies within one.
    Line(Bytes),
    /// The `[DONE]` marker.
    Done,
}

/// An incremental NDJSON parser: push chunks, pull items. One per upstream stream.
pub struct NdjsonFramer {
    /// Chunks pushed and not yet fully read; the front one is read from `pos`. After each drain to
    /// `Ok(None)` this holds nothing: the unfinished line has moved to `line`.
    chunks: VecDeque<Bytes>,
    pos: usize,
    /// The start of an unfinished line whose LF has not arrived yet.
    line: BytesMut,
    limit: usize,
    /// The input has ended: an unterminated last line counts as terminated.
    ended: bool,
    /// Set once the limit is broken; every later call reports it again.
    failed: Option<FrameError>,
}

/// Where the line just read lies.
enum Line {
    /// Within the front chunk, at this range.
    InChunk(Range<usize>),
    /// Gathered in `NdjsonFramer::line`.
    Gathered,
}

impl Default for NdjsonFramer {
    fn default() -> Self {
        NdjsonFramer::new()
    }
}

impl NdjsonFramer {
    pub fn new() -> Self {
        NdjsonFramer::with_limit(DEFAULT_MAX_LINE_BYTES)
    }

    /// A framer that refuses lines longer than `max_line_bytes` (see the module's **Limits**).
    pub fn with_limit(max_line_bytes: usize) -> Self {
        NdjsonFramer {
            chunks: VecDeque::new(),
            pos: 0,
            line: BytesMut::new(),
            limit: max_line_bytes,
            ended: false,
            failed: None,
        }
    }

    /// Queues an upstream chunk. Nothing is parsed until [`NdjsonFramer::next_item`]; call it until
    /// it returns `Ok(None)` after each push so no more than one chunk waits.
    pub fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() && self.failed.is_none() {
            self.chunks.push_back(chunk);
        }
    }

    /// The next item, or `Ok(None)` when more input is needed.
    pub fn next_item(&mut self) -> Result<Option<NdjsonItem>, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        loop {
            let line = match self.next_line() {
                Ok(Some(line)) => line,
                Ok(None) => return Ok(None),
                Err(e) => {
                    self.failed = Some(e.clone());
                    self.chunks = VecDeque::new();
                    self.line = BytesMut::new();
                    return Err(e);
                }
            };
            if let Some(item) = self.take_line(line) {
                return Ok(Some(item));
            }
        }
    }

    /// Input ended: an unterminated last line counts as a line.
    ///
    /// After `next_item` has returned `Ok(None)` at most one item remains, so one call suffices; a
    /// caller that did not drain gets the remaining items by calling this until `None`. An error
    /// (the limit broken by the last line) yields `None` here and stays reported by `next_item`.
    pub fn finish(&mut self) -> Option<NdjsonItem> {
        self.ended = true;
        self.next_item().ok().flatten()
    }

    /// Finds the next LF and says where the line before it lies, or `None` when the input so far
    /// holds no complete line.
    fn next_line(&mut self) -> Result<Option<Line>, FrameError> {
        loop {
            let Some(chunk) = self.chunks.front() else {
                if self.ended && !self.line.is_empty() {
                    return Ok(Some(Line::Gathered));
                }
                return Ok(None);
            };
            let rest = &chunk[self.pos..];
            if rest.is_empty() {
                self.chunks.pop_front();
                self.pos = 0;
                continue;
            }
            let Some(at) = memchr::memchr(b'\n', rest) else {
                self.check(self.line.len() + rest.len())?;
                self.line.extend_from_slice(rest);
                self.chunks.pop_front();
                self.pos = 0;
                continue;
            };
            let start = self.pos;
            self.pos += at + 1;
            if self.line.is_empty() {
                self.check(at)?;
                return Ok(Some(Line::InChunk(start..start + at)));
            }
            self.check(self.line.len() + at)?;
            self.line.extend_from_slice(&rest[..at]);
            return Ok(Some(Line::Gathered));
        }
    }

    fn check(&self, line_len: usize) -> Result<(), FrameError> {
        if line_len <= self.limit { Ok(()) } else { Err(FrameError::TooLarge { limit: self.limit }) }
    }

    /// Turns a line into an item, or `None` for a blank line.
    fn take_line(&mut self, line: Line) -> Option<NdjsonItem> {
        let text: &[u8] = match &line {
            Line::InChunk(range) => self.chunks.front().map_or(&[][..], |c| &c[range.clone()]),
            Line::Gathered => &self.line,
        };
        let payload = payload(text);
        let item = if payload.is_empty() {
            None
        } else if text[payload.clone()] == *b"[DONE]" {
            Some(NdjsonItem::Done)
        } else {
            Some(NdjsonItem::Line(match line {
                Line::InChunk(at) => self
                    .chunks
                    .front()
                    .map_or_else(Bytes::new, |c| c.slice(at.start + payload.start..at.start + payload.end)),
                Line::Gathered => {
                    let mut bytes = self.line.split_to(payload.end);
                    bytes.advance(payload.start);
                    bytes.freeze()
                }
            }))
        };
        self.line.clear();
        item
    }
}

/// Where the payload of `line` lies: trimmed, without a `data:` prefix, trimmed again.
fn payload(line: &[u8]) -> Range<usize> {
    let trimmed = trim(line, 0..line.len());
    match line[trimmed.clone()].strip_prefix(b"data:") {
        Some(_) => trim(line, trimmed.start + "data:".len()..trimmed.end),
        None => trimmed,
    }
}

/// `range` of `line` without the ASCII whitespace at either end.
fn trim(line: &[u8], mut range: Range<usize>) -> Range<usize> {
    while range.start < range.end && line[range.start].is_ascii_whitespace() {
        range.start += 1;
    }
    while range.end > range.start && line[range.end - 1].is_ascii_whitespace() {
        range.end -= 1;
    }
    range
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines in the shape grok's stream sends (see upstreams/grok.md §3.2), trimmed.
    const GROK: &str = concat!(
        "{\"result\":{\"conversation\":{\"conversationId\":\"519dce3f\",\"title\":\"New conversation\"}}}\n",
        "{\"result\":{\"response\":{\"token\":\"Thinking\",\"isThinking\":true,\"responseId\":\"r1\"}}}\n",
        "{\"result\":{\"response\":{\"token\":\"po\",\"isThinking\":false,\"messageTag\":\"final\"}}}\n",
        "{\"result\":{\"response\":{\"token\":\"ng\",\"isThinking\":false,\"messageTag\":\"final\"}}}\n",
        "{\"result\":{\"response\":{\"isSoftStop\":true}}}\n",
    );

    /// Pushes `chunks` one after another, draining after each push, then finishes.
    fn frame(limit: usize, chunks: &[&[u8]]) -> Result<Vec<NdjsonItem>, FrameError> {
        let mut framer = NdjsonFramer::with_limit(limit);
        let mut items = Vec::new();
        for chunk in chunks {
            framer.push(Bytes::copy_from_slice(chunk));
            while let Some(item) = framer.next_item()? {
                items.push(item);
            }
        }
        while let Some(item) = framer.finish() {
            items.push(item);
        }
        framer.next_item()?;
        Ok(items)
    }

    /// Asserts that `input` frames to `expected` whole, split in two at every byte offset, and fed
    /// one byte at a time.
    fn assert_frames(input: &[u8], expected: &[NdjsonItem]) {
        assert_frames_within(DEFAULT_MAX_LINE_BYTES, input, Ok(expected));
    }

    fn assert_frames_within(limit: usize, input: &[u8], expected: Result<&[NdjsonItem], FrameError>) {
        let expected = expected.map(<[NdjsonItem]>::to_vec);
        assert_eq!(frame(limit, &[input]), expected, "whole");
        for at in 0..=input.len() {
            let (a, b) = input.split_at(at);
            assert_eq!(frame(limit, &[a, b]), expected, "split at {at}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(frame(limit, &bytes), expected, "one byte at a time");
    }

    fn line(text: &str) -> NdjsonItem {
        NdjsonItem::Line(Bytes::copy_from_slice(text.as_bytes()))
    }

    fn grok_lines() -> Vec<NdjsonItem> {
        GROK.lines().map(line).collect()
    }

    #[test]
    fn a_plain_ndjson_stream_gives_one_item_per_line() {
        assert_frames(GROK.as_bytes(), &grok_lines());
    }

    #[test]
    fn data_prefixes_with_or_without_a_space_are_stripped() {
        let prefixed: String = GROK
            .lines()
            .enumerate()
            .map(|(i, l)| if i % 2 == 0 { format!("data: {l}\n") } else { format!("data:{l}\n") })
            .collect();
        let mut expected = grok_lines();
        expected.push(NdjsonItem::Done);
        assert_frames(format!("{prefixed}data: [DONE]\n").as_bytes(), &expected);
    }

    #[test]
    fn blank_lines_are_skipped_and_whitespace_is_trimmed() {
        let input = b"\n\n  {\"a\":1}  \n\t\n \r\ndata:\ndata:   {\"b\":2}\t\n\n";
        assert_frames(input, &[line("{\"a\":1}"), line("{\"b\":2}")]);
    }

    #[test]
    fn crlf_line_ends_parse_like_lf() {
        assert_frames(GROK.replace('\n', "\r\n").as_bytes(), &grok_lines());
    }

    #[test]
    fn a_lone_cr_does_not_end_a_line() {
        assert_frames(b"{\"a\":\"x\ry\"}\n", &[line("{\"a\":\"x\ry\"}")]);
    }

    #[test]
    fn a_final_line_without_newline_is_a_line() {
        assert_frames(b"{\"a\":1}\n{\"b\":2}", &[line("{\"a\":1}"), line("{\"b\":2}")]);
        assert_frames(b"{\"a\":1}\ndata: [DONE]", &[line("{\"a\":1}"), NdjsonItem::Done]);
        assert_frames(b"{\"a\":1}\n  \r", &[line("{\"a\":1}")]);
    }

    #[test]
    fn done_is_only_the_whole_line() {
        let input = b"[DONE]\n data: [DONE] \n[DONE]x\ndata: [DONE] [DONE]\n";
        let expected = [NdjsonItem::Done, NdjsonItem::Done, line("[DONE]x"), line("[DONE] [DONE]")];
        assert_frames(input, &expected);
    }

    #[test]
    fn lines_within_one_chunk_are_slices_of_that_chunk() {
        let chunk = Bytes::from(format!("data: {}", GROK.replace('\n', "\r\n")));
        let start = chunk.as_ptr() as usize;
        let mut framer = NdjsonFramer::new();
        framer.push(chunk.clone());
        let mut count = 0;
        while let Some(item) = framer.next_item().expect("within the limit") {
            let NdjsonItem::Line(line) = item else { panic!("no [DONE] in this stream") };
            let at = line.as_ptr() as usize;
            assert!(at >= start && at + line.len() <= start + chunk.len(), "line must share the chunk");
            count += 1;
        }
        assert_eq!(count, 5);
    }

    #[test]
    fn a_line_at_the_limit_passes_and_one_byte_more_is_too_large() {
        // Counted before trimming, without the LF: " {\"a\":1}\r" is 9 bytes.
        let input = b" {\"a\":1}\r\n{}\n";
        assert_frames_within(9, input, Ok(&[line("{\"a\":1}"), line("{}")]));
        assert_frames_within(8, input, Err(FrameError::TooLarge { limit: 8 }));
    }

    #[test]
    fn an_endless_line_is_too_large_and_the_framer_stops_growing() {
        let mut framer = NdjsonFramer::with_limit(1000);
        let mut result = Ok(None);
        for _ in 0..100 {
            framer.push(Bytes::from(vec![b'7'; 64]));
            result = framer.next_item();
            if result.is_err() {
                break;
            }
            assert!(framer.line.len() <= 1000);
        }
        assert_eq!(result, Err(FrameError::TooLarge { limit: 1000 }));
        framer.push(Bytes::from_static(b"{}\n"));
        assert_eq!(framer.next_item(), Err(FrameError::TooLarge { limit: 1000 }));
        assert_eq!(framer.finish(), None);
        assert!(framer.chunks.is_empty() && framer.line.capacity() == 0, "buffers are let go");
    }

    #[test]
    fn chunks_pushed_without_draining_are_all_read() {
        let mut framer = NdjsonFramer::new();
        for chunk in GROK.as_bytes().chunks(7) {
            framer.push(Bytes::copy_from_slice(chunk));
        }
        let mut items = Vec::new();
        while let Some(item) = framer.next_item().expect("within the limit") {
            items.push(item);
        }
        assert_eq!(framer.finish(), None);
        assert_eq!(items, grok_lines());
    }
}
