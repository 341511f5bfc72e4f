//! Cuts a `text/event-stream` body into Server-Sent Events, as the WHATWG EventSource spec parses it.
//!
//! An **event** is the run of lines up to a blank line. Each line is `field:value` (one space after
//! the colon is dropped), a bare `field` (empty value) or a `:comment`. The fields kept are `data`
//! (several lines are joined with `\n`), `event`, `id` and `retry`; other fields and comments are
//! skipped. Lines end in CRLF, LF or CR, and a CR that ends one chunk and an LF that starts the next
//! are one line end. A UTF-8 byte order mark at the start of the stream is skipped.
//!
//! A blank line hands out the event if it had a `data` line or an `event` field. This departs from
//! EventSource in one place: an event with an `event` field but no data is handed out (with empty
//! `data`) where a browser would drop it, because a gateway forwards events rather than consuming
//! them. `id` and `retry` belong to the event whose lines carry them; a block with nothing but `id`
//! or `retry` lines is dropped. A caller that wants EventSource's sticky `lastEventId` keeps the
//! last `id` it saw.
//!
//! **Allocation**: none per event after warm-up when each line lies within one chunk: `data`,
//! `event` and `id` are slices of the chunk, and the chunk queue reuses its capacity. A line that
//! spans chunks is gathered once into a buffer and frozen; an event with several `data` lines is
//! joined once into another. Both buffers take their memory back once the consumer has dropped
//! the frozen bytes, so a consumer that does not hold on to events sees no allocations from those
//! either. Shown by the `sse/frame/*` benches and the allocation check in `benches/framing.rs`.
//!
//! **Limits**: [`DEFAULT_MAX_EVENT_BYTES`] bounds one event: the bytes of all its lines since the
//! previous blank line, line ends excluded, counting the line still being read. Past it,
//! [`FrameError::TooLarge`] is returned, the buffers are dropped and the framer refuses all further
//! input, so an endless line or event cannot grow memory.

use super::FrameError;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::collections::VecDeque;
use std::ops::Range;

/// The default bound on one event's size, see the module's **Limits**.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// The UTF-8 encoding of U+FEFF, which EventSource skips once at the start of the stream.
const BOM: &[u8; 3] = b"\xEF\xBB\xBF";

/// One dispatched Server-Sent Event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The value of the last `event:` line, as written (even if empty); `None` when there was none.
    pub event: Option<Bytes>,
    /// The `data:` values joined by `\n`, with no trailing `\n`. With one `data` line, a slice of
    /// the chunk it arrived in.
    pub data: Bytes,
    /// The value of the event's last `id:` line that held no NUL; `None` when there was none.
    pub id: Option<Bytes>,
    /// The event's last `retry:` value made only of ASCII digits (and fitting a `u64`).
    pub retry: Option<u64>,
}

/// An incremental Server-Sent Events parser: push chunks, pull events. One per upstream stream.
pub struct SseFramer {
    /// Chunks pushed and not yet fully read; the front one is read from `pos`. After each drain to
    /// `Ok(None)` this holds nothing: the unfinished line has moved to `line`.
    chunks: VecDeque<Bytes>,
    pos: usize,
    /// The start of an unfinished line whose end has not arrived yet.
    line: BytesMut,
    /// The previous line ended in a CR at the end of the input seen so far: an LF next belongs to it.
    after_cr: bool,
    /// While the stream start is still being checked for a BOM: how many of its bytes matched.
    bom_matched: Option<usize>,
    /// The event being assembled.
    pending: Pending,
    /// `data` values joined by `\n` once the event has a second `data` line.
    joined: BytesMut,
    /// Bytes of the current event's lines so far (see **Limits**).
    event_bytes: usize,
    limit: usize,
    /// The input has ended: an unterminated last line counts as terminated.
    ended: bool,
    /// Set once the limit is broken; every later call reports it again.
    failed: Option<FrameError>,
}

/// The fields of the event being assembled.
#[derive(Default)]
struct Pending {
    event: Option<Bytes>,
    data: Data,
    id: Option<Bytes>,
    retry: Option<u64>,
}

/// Where the `data` of the event being assembled lives.
#[derive(Default)]
enum Data {
    #[default]
    None,
    /// One `data` line so far: its value, a slice of the input.
    One(Bytes),
    /// Two or more: their values sit joined in `SseFramer::joined`.
    Joined,
}

/// Where the line just read lies.
enum Line {
    /// Within the front chunk, at this range.
    InChunk(Range<usize>),
    /// Gathered in `SseFramer::line`.
    Gathered,
}

/// What one line says, with value ranges relative to the line.
enum Field {
    Blank,
    Data(Range<usize>),
    Event(Range<usize>),
    Id(Range<usize>),
    Retry(u64),
    /// A comment, an unknown field, an `id` holding NUL or a `retry` that is not a number.
    Ignored,
}

impl Default for SseFramer {
    fn default() -> Self {
        SseFramer::new()
    }
}

impl SseFramer {
    pub fn new() -> Self {
        SseFramer::with_limit(DEFAULT_MAX_EVENT_BYTES)
    }

    /// A framer that refuses events larger than `max_event_bytes` (see the module's **Limits**).
    pub fn with_limit(max_event_bytes: usize) -> Self {
        SseFramer {
            chunks: VecDeque::new(),
            pos: 0,
            line: BytesMut::new(),
            after_cr: false,
            bom_matched: Some(0),
            pending: Pending::default(),
            joined: BytesMut::new(),
            event_bytes: 0,
            limit: max_event_bytes,
            ended: false,
            failed: None,
        }
    }

    /// Queues an upstream chunk. Nothing is parsed until [`SseFramer::next_event`]; call it until
    /// it returns `Ok(None)` after each push so no more than one chunk waits.
    pub fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() && self.failed.is_none() {
            self.chunks.push_back(chunk);
        }
    }

    /// The next complete event, or `Ok(None)` when more input is needed.
    pub fn next_event(&mut self) -> Result<Option<SseEvent>, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        loop {
            let line = match self.next_line() {
                Ok(Some(line)) => line,
                Ok(None) if self.ended => return Ok(self.dispatch()),
                Ok(None) => return Ok(None),
                Err(e) => return Err(self.fail(e)),
            };
            if let Some(event) = self.take_line(line) {
                return Ok(Some(event));
            }
        }
    }

    /// Input ended: an unterminated last line counts as terminated, and a pending event is
    /// dispatched as if a blank line followed (lenient: many servers omit the final blank line).
    ///
    /// After `next_event` has returned `Ok(None)` at most one event remains, so one call
    /// suffices; a caller that did not drain gets the remaining events by calling this until
    /// `None`. An error (the limit broken by the last line) yields `None` here and stays reported
    /// by `next_event`.
    pub fn finish(&mut self) -> Option<SseEvent> {
        self.ended = true;
        self.next_event().ok().flatten()
    }

    /// Finds the next line end and says where the line lies, or `None` when the input so far
    /// holds no complete line.
    fn next_line(&mut self) -> Result<Option<Line>, FrameError> {
        loop {
            let Some(chunk) = self.chunks.front() else {
                if self.ended {
                    // A partial BOM at the very end is text, and so is an unterminated last line.
                    if let Some(matched) = self.bom_matched.take() {
                        self.line.extend_from_slice(&BOM[..matched]);
                    }
                    if !self.line.is_empty() {
                        self.check(self.line.len())?;
                        return Ok(Some(Line::Gathered));
                    }
                }
                return Ok(None);
            };
            let rest = &chunk[self.pos..];
            if rest.is_empty() {
                self.chunks.pop_front();
                self.pos = 0;
                continue;
            }
            if let Some(matched) = self.bom_matched {
                // Checked a byte at a time: the BOM itself may arrive split across chunks.
                if rest[0] == BOM[matched] {
                    self.pos += 1;
                    self.bom_matched = (matched + 1 < BOM.len()).then_some(matched + 1);
                } else {
                    self.line.extend_from_slice(&BOM[..matched]);
                    self.bom_matched = None;
                }
                continue;
            }
            if self.after_cr {
                self.after_cr = false;
                if rest[0] == b'\n' {
                    self.pos += 1;
                    continue;
                }
            }
            let Some(at) = memchr::memchr2(b'\n', b'\r', rest) else {
                self.check(self.line.len() + rest.len())?;
                self.line.extend_from_slice(rest);
                self.chunks.pop_front();
                self.pos = 0;
                continue;
            };
            let start = self.pos;
            self.pos += at + 1;
            if rest[at] == b'\r' {
                match rest.get(at + 1) {
                    Some(b'\n') => self.pos += 1,
                    Some(_) => {}
                    // The LF that may complete this CRLF has not arrived yet.
                    None => self.after_cr = true,
                }
            }
            if self.line.is_empty() {
                self.check(at)?;
                return Ok(Some(Line::InChunk(start..start + at)));
            }
            self.check(self.line.len() + at)?;
            self.line.extend_from_slice(&rest[..at]);
            return Ok(Some(Line::Gathered));
        }
    }

    /// Fails when the current event, with a line of `line_len` bytes, exceeds the limit.
    fn check(&self, line_len: usize) -> Result<(), FrameError> {
        match self.event_bytes.checked_add(line_len) {
            Some(n) if n <= self.limit => Ok(()),
            _ => Err(FrameError::TooLarge { limit: self.limit }),
        }
    }

    /// Records `e` as the framer's final state and lets go of everything buffered.
    fn fail(&mut self, e: FrameError) -> FrameError {
        self.failed = Some(e.clone());
        self.chunks = VecDeque::new();
        self.line = BytesMut::new();
        self.joined = BytesMut::new();
        self.pending = Pending::default();
        e
    }

    /// Applies one line to the pending event; returns the event if the line dispatched it.
    fn take_line(&mut self, line: Line) -> Option<SseEvent> {
        let SseFramer { chunks, line: gathered, pending, joined, event_bytes, .. } = self;
        let text: &[u8] = match &line {
            Line::InChunk(range) => chunks.front().map_or(&[][..], |c| &c[range.clone()]),
            Line::Gathered => gathered,
        };
        *event_bytes += text.len();
        match parse_line(text) {
            Field::Blank => return self.dispatch(),
            Field::Data(range) => {
                pending.data = match std::mem::take(&mut pending.data) {
                    Data::None => Data::One(value(chunks, gathered, &line, range)),
                    Data::One(first) => {
                        joined.extend_from_slice(&first);
                        joined.put_u8(b'\n');
                        joined.extend_from_slice(&text[range]);
                        Data::Joined
                    }
                    Data::Joined => {
                        joined.put_u8(b'\n');
                        joined.extend_from_slice(&text[range]);
                        Data::Joined
                    }
                }
            }
            Field::Event(range) => pending.event = Some(value(chunks, gathered, &line, range)),
            Field::Id(range) => pending.id = Some(value(chunks, gathered, &line, range)),
            Field::Retry(ms) => pending.retry = Some(ms),
            Field::Ignored => {}
        }
        gathered.clear();
        None
    }

    /// Ends the pending event: hands it out if it had data or an event type, otherwise drops it.
    fn dispatch(&mut self) -> Option<SseEvent> {
        self.event_bytes = 0;
        let pending = std::mem::take(&mut self.pending);
        let data = match pending.data {
            Data::None if pending.event.is_none() => return None,
            Data::None => Bytes::new(),
            Data::One(data) => data,
            Data::Joined => self.joined.split().freeze(),
        };
        Some(SseEvent { event: pending.event, data, id: pending.id, retry: pending.retry })
    }
}

/// A value of `line` as shared bytes: a slice of the chunk, or of the gathered line frozen once.
fn value(chunks: &VecDeque<Bytes>, gathered: &mut BytesMut, line: &Line, range: Range<usize>) -> Bytes {
    match line {
        Line::InChunk(at) => {
            chunks.front().map_or_else(Bytes::new, |c| c.slice(at.start + range.start..at.start + range.end))
        }
        Line::Gathered => {
            let mut bytes = gathered.split();
            bytes.advance(range.start);
            bytes.freeze()
        }
    }
}

/// Reads one line (without its line end) the way EventSource does.
fn parse_line(line: &[u8]) -> Field {
    if line.is_empty() {
        return Field::Blank;
    }
    let (name, value) = match memchr::memchr(b':', line) {
        Some(0) => return Field::Ignored,
        Some(colon) => {
            let skip = usize::from(line.get(colon + 1) == Some(&b' '));
            (&line[..colon], colon + 1 + skip..line.len())
        }
        None => (line, line.len()..line.len()),
    };
    match name {
        b"data" => Field::Data(value),
        b"event" => Field::Event(value),
        b"id" if memchr::memchr(0, &line[value.clone()]).is_none() => Field::Id(value),
        b"retry" => parse_retry(&line[value]).map_or(Field::Ignored, Field::Retry),
        _ => Field::Ignored,
    }
}

/// A `retry` value: ASCII digits only, at least one, fitting a `u64`.
fn parse_retry(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() { n.checked_mul(10)?.checked_add(u64::from(b - b'0')) } else { None }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENAI: &str = concat!(
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,",
        "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},",
        "\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,",
        "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},",
        "\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"chatcmpl-9\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,",
        "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    );

    const ANTHROPIC: &str = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",",
        "\"content\":[],\"model\":\"claude-sonnet-4-5\",\"stop_reason\":null,\"usage\":{\"input_tokens\":12,",
        "\"output_tokens\":1}}}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\n",
        "data: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n",
        "event: message_stop\n",
        "data: {\"type\":\"message_stop\"}\n\n",
    );

    /// Frames `chunks` pushed one after another, draining after each push, then finishing.
    fn frame(limit: usize, chunks: &[&[u8]]) -> Result<Vec<SseEvent>, FrameError> {
        let mut framer = SseFramer::with_limit(limit);
        let mut events = Vec::new();
        for chunk in chunks {
            framer.push(Bytes::copy_from_slice(chunk));
            while let Some(event) = framer.next_event()? {
                events.push(event);
            }
        }
        while let Some(event) = framer.finish() {
            events.push(event);
        }
        framer.next_event()?;
        Ok(events)
    }

    /// Asserts that `input` frames to `expected` whole, split in two at every byte offset, and fed
    /// one byte at a time.
    fn assert_frames(input: &[u8], expected: &[SseEvent]) {
        assert_frames_within(DEFAULT_MAX_EVENT_BYTES, input, Ok(expected));
    }

    fn assert_frames_within(limit: usize, input: &[u8], expected: Result<&[SseEvent], FrameError>) {
        let expected = expected.map(<[SseEvent]>::to_vec);
        assert_eq!(frame(limit, &[input]), expected, "whole");
        for at in 0..=input.len() {
            let (a, b) = input.split_at(at);
            assert_eq!(frame(limit, &[a, b]), expected, "split at {at}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(frame(limit, &bytes), expected, "one byte at a time");
    }

    fn data(data: &str) -> SseEvent {
        SseEvent { event: None, data: Bytes::copy_from_slice(data.as_bytes()), id: None, retry: None }
    }

    fn named(event: &str, data: &str) -> SseEvent {
        SseEvent { event: Some(Bytes::copy_from_slice(event.as_bytes())), ..self::data(data) }
    }

    /// The events of [`ANTHROPIC`], whatever its line ends.
    fn anthropic_events() -> Vec<SseEvent> {
        ANTHROPIC
            .split("\n\n")
            .filter(|block| !block.is_empty())
            .map(|block| {
                let (event, data) = block.split_once('\n').expect("every block has two lines");
                named(&event["event: ".len()..], &data["data: ".len()..])
            })
            .collect()
    }

    #[test]
    fn an_openai_chat_completions_stream_ends_in_done() {
        let events = frame(DEFAULT_MAX_EVENT_BYTES, &[OPENAI.as_bytes()]).expect("within the limit");
        assert_eq!(events.len(), 4);
        assert_eq!(events[3], data("[DONE]"));
        assert!(events[1].data.ends_with(b"\"finish_reason\":null}]}"));
        let expected: Vec<SseEvent> =
            OPENAI.split("\n\n").filter(|b| !b.is_empty()).map(|b| data(&b["data: ".len()..])).collect();
        assert_frames(OPENAI.as_bytes(), &expected);
    }

    #[test]
    fn an_anthropic_messages_stream_keeps_event_names_and_the_ping() {
        let expected = anthropic_events();
        assert_eq!(expected.len(), 7);
        assert_eq!(expected[2], named("ping", "{\"type\": \"ping\"}"));
        assert_frames(ANTHROPIC.as_bytes(), &expected);
    }

    #[test]
    fn crlf_line_ends_parse_like_lf() {
        assert_frames(ANTHROPIC.replace('\n', "\r\n").as_bytes(), &anthropic_events());
    }

    #[test]
    fn cr_only_line_ends_parse_like_lf() {
        assert_frames(ANTHROPIC.replace('\n', "\r").as_bytes(), &anthropic_events());
    }

    #[test]
    fn mixed_line_ends_parse_like_lf() {
        assert_frames(b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r", &[data("a\nb\nc"), data("d")]);
    }

    #[test]
    fn crlf_split_between_cr_and_lf_is_one_line_end() {
        let got = frame(DEFAULT_MAX_EVENT_BYTES, &[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]);
        assert_eq!(got, Ok(vec![data("a\nb")]));
    }

    #[test]
    fn comments_are_skipped_and_do_not_dispatch() {
        let input = b": keep-alive\n\n:\n\ndata: a\n: between fields\ndata: b\n\n: trailing";
        assert_frames(input, &[data("a\nb")]);
    }

    #[test]
    fn several_data_lines_are_joined_with_newlines() {
        assert_frames(b"data\ndata:\ndata: x\ndata:  y \n\n", &[data("\n\nx\n y ")]);
    }

    #[test]
    fn one_space_after_the_colon_is_dropped_and_no_more() {
        let input = b"data:no space\n\ndata:  two spaces\n\nevent:\ndata\n\n";
        assert_frames(input, &[data("no space"), data(" two spaces"), named("", "")]);
    }

    #[test]
    fn an_event_field_without_data_is_dispatched_with_empty_data() {
        assert_frames(b"event: ping\n\n", &[named("ping", "")]);
    }

    #[test]
    fn id_and_retry_are_read_and_bad_values_skipped() {
        let input = concat!(
            "id: 7\nretry: 3000\ndata: a\n\n",
            "id: 8\nid: x\0y\nretry: 12a\nretry:\nretry: 99999999999999999999999\ndata: b\n\n",
            "id\ndata: c\n\n",
        );
        let a = SseEvent { id: Some(Bytes::from_static(b"7")), retry: Some(3000), ..data("a") };
        let b = SseEvent { id: Some(Bytes::from_static(b"8")), ..data("b") };
        let c = SseEvent { id: Some(Bytes::new()), ..data("c") };
        assert_frames(input.as_bytes(), &[a, b, c]);
    }

    #[test]
    fn a_block_with_only_id_retry_or_unknown_fields_is_dropped() {
        assert_frames(b"id: 1\n\nretry: 5\n\nfoo: bar\n\ndata: x\n\n", &[data("x")]);
    }

    #[test]
    fn a_leading_bom_is_skipped_once() {
        let input = "\u{FEFF}data: a\n\n\u{FEFF}data: b\n\ndata: c\n\n";
        // The second BOM is part of a field name, so that block has no data line.
        assert_frames(input.as_bytes(), &[data("a"), data("c")]);
    }

    #[test]
    fn a_partial_bom_is_kept_as_text() {
        assert_frames(b"\xEF\xBBdata: a\n\ndata: b\n\n", &[data("b")]);
        assert_frames(b"\xEF:comment\ndata: b\n\n", &[data("b")]);
        assert_frames(b"\xEF\xBB", &[]);
    }

    #[test]
    fn finish_dispatches_an_unterminated_last_event() {
        assert_frames(b"data: a\n\ndata: b", &[data("a"), data("b")]);
        assert_frames(b"data: a\n\nevent: e\ndata: b\r", &[data("a"), named("e", "b")]);
        assert_frames(b"data: a\n\nid: 3", &[data("a")]);
    }

    #[test]
    fn chunks_pushed_without_draining_are_all_read() {
        let mut framer = SseFramer::new();
        for chunk in ANTHROPIC.as_bytes().chunks(50) {
            framer.push(Bytes::copy_from_slice(chunk));
        }
        let mut events = Vec::new();
        while let Some(event) = framer.next_event().expect("within the limit") {
            events.push(event);
        }
        assert_eq!(framer.finish(), None);
        assert_eq!(events, anthropic_events());
    }

    #[test]
    fn fields_within_one_chunk_are_slices_of_that_chunk() {
        let chunk = Bytes::from(ANTHROPIC.replace("data: {\"type\":\"message_stop\"}", "id: 5\ndata: x"));
        let inside = |b: &Bytes| {
            let start = chunk.as_ptr() as usize;
            let at = b.as_ptr() as usize;
            at >= start && at + b.len() <= start + chunk.len()
        };
        let mut framer = SseFramer::new();
        framer.push(chunk.clone());
        let mut count = 0;
        while let Some(event) = framer.next_event().expect("within the limit") {
            assert!(inside(&event.data), "data must share the chunk's buffer");
            assert!(event.event.as_ref().is_some_and(inside), "event must share the chunk's buffer");
            assert!(event.id.as_ref().is_none_or(inside), "id must share the chunk's buffer");
            count += 1;
        }
        assert_eq!(count, 7);
    }

    #[test]
    fn a_line_spanning_chunks_is_gathered_once_in_full() {
        let got = frame(DEFAULT_MAX_EVENT_BYTES, &[b"event: message_", b"stop\ndata: {\"ty", b"pe\":1}\n\n"]);
        assert_eq!(got, Ok(vec![named("message_stop", "{\"type\":1}")]));
    }

    #[test]
    fn an_event_at_the_limit_passes_and_one_byte_more_is_too_large() {
        // Counted: "event: e" (8) + "data: 0123456789" (16), line ends excluded.
        let input = b"event: e\ndata: 0123456789\n\ndata: x\n\n";
        assert_frames_within(24, input, Ok(&[named("e", "0123456789"), data("x")]));
        assert_frames_within(23, input, Err(FrameError::TooLarge { limit: 23 }));
    }

    #[test]
    fn an_endless_line_is_too_large_and_the_framer_stops_growing() {
        let mut framer = SseFramer::with_limit(1000);
        framer.push(Bytes::from_static(b"data: "));
        let mut result = Ok(None);
        for _ in 0..100 {
            framer.push(Bytes::from(vec![b'a'; 64]));
            result = framer.next_event();
            if result.is_err() {
                break;
            }
            assert!(framer.line.len() <= 1000);
        }
        assert_eq!(result, Err(FrameError::TooLarge { limit: 1000 }));
        framer.push(Bytes::from(vec![b'a'; 64]));
        assert_eq!(framer.next_event(), Err(FrameError::TooLarge { limit: 1000 }));
        assert_eq!(framer.finish(), None);
        assert!(framer.chunks.is_empty() && framer.line.capacity() == 0, "buffers are let go");
    }

    #[test]
    fn an_endless_event_of_short_lines_is_too_large() {
        let mut framer = SseFramer::with_limit(1000);
        let mut result = Ok(None);
        for _ in 0..200 {
            framer.push(Bytes::from_static(b"data: x\n"));
            result = framer.next_event();
            if result.is_err() {
                break;
            }
            assert!(framer.joined.len() <= 1000);
        }
        assert_eq!(result, Err(FrameError::TooLarge { limit: 1000 }));
    }

    #[test]
    fn the_captured_warp_frame_arrives_as_one_data_line() {
        // See: upstreams/warp.md §7.1, the live frame as it followed `data: `.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/warp.json");
        let vectors: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).expect("the vectors are in tests/vectors"))
                .expect("the vector file is JSON");
        let frame = vectors["live_frame_b64"].as_str().expect("the live frame is a string");
        let input = format!(": warp\n\ndata: {frame}\n\n");
        assert_frames(input.as_bytes(), &[data(frame)]);
    }
}
