//! The properties the framer fuzz targets check, so that each target only shapes its input. The
//! request-parser targets' checks and structured requests live in [`requests`].
//!
//! Every check frames one stream twice, whole and cut into the chunks the fuzzer chose, and asserts
//! that both runs give the same frames followed by the same error (or none), and that no frame is
//! larger than the framer's limit. A panic anywhere is a finding too. Limits are small (at most
//! 64 KiB) so that the fuzzer reaches `FrameError::TooLarge`.

pub mod requests;

use arbitrary::Arbitrary;
use bytes::{BufMut, Bytes, BytesMut};
use orchids2api::stream::FrameError;
use orchids2api::stream::frames::{BinaryFrame, FrameDecoder, Prefix};
use orchids2api::stream::ndjson::{NdjsonFramer, NdjsonItem};
use orchids2api::stream::sse::SseFramer;
use std::fmt::Debug;

/// The limit the raw targets frame with: reachable by inputs of libFuzzer's default length.
pub const RAW_LIMIT: usize = 1024;

/// A stream as chunks the fuzzer built one by one, and the limit to frame it with.
#[derive(Debug, Arbitrary)]
pub struct Chunked {
    pub limit: u16,
    pub chunks: Vec<Vec<u8>>,
}

impl Chunked {
    pub fn chunks(&self) -> Vec<&[u8]> {
        self.chunks.iter().map(Vec::as_slice).collect()
    }
}

/// Frames the fuzzer built, with the header to encode them in, a limit, and where to cut the
/// encoded stream.
#[derive(Debug, Arbitrary)]
pub struct Framed {
    pub varint: bool,
    pub limit: u16,
    pub frames: Vec<(u8, Vec<u8>)>,
    pub chunk_sizes: Vec<u8>,
}

/// Cuts raw fuzz input into chunks: the first byte gives two chunk sizes (1 to 16 bytes) that
/// alternate over the rest of the input.
pub fn cut_raw(data: &[u8]) -> Vec<&[u8]> {
    let Some((&sizes, stream)) = data.split_first() else { return Vec::new() };
    cut(stream, &[sizes & 0x0f, sizes >> 4])
}

/// Cuts `stream` into chunks of `1 + size` bytes, cycling through `sizes`; one chunk if empty.
fn cut<'a>(mut stream: &'a [u8], sizes: &[u8]) -> Vec<&'a [u8]> {
    if sizes.is_empty() {
        return vec![stream];
    }
    let mut chunks = Vec::new();
    for &size in sizes.iter().cycle() {
        if stream.is_empty() {
            break;
        }
        let (chunk, rest) = stream.split_at((usize::from(size) + 1).min(stream.len()));
        chunks.push(chunk);
        stream = rest;
    }
    chunks
}

/// Checks the SSE framer on `chunks` against the same bytes pushed whole.
pub fn check_sse(limit: usize, chunks: &[&[u8]]) {
    let run = |chunks: &[&[u8]]| {
        let mut framer = SseFramer::with_limit(limit);
        let mut events = Vec::new();
        let error = drain(chunks, &mut framer, SseFramer::push, SseFramer::next_event, &mut events).err();
        if error.is_none() {
            events.extend(std::iter::from_fn(|| framer.finish()));
        }
        (events, error.or_else(|| framer.next_event().err()))
    };
    let events = compare(chunks, run);
    for event in events {
        let size = event.data.len() + event.event.map_or(0, |e| e.len()) + event.id.map_or(0, |i| i.len());
        assert!(size <= limit, "an event of {size} bytes passed a limit of {limit}");
    }
}

/// Checks the NDJSON framer on `chunks` against the same bytes pushed whole.
pub fn check_ndjson(limit: usize, chunks: &[&[u8]]) {
    let run = |chunks: &[&[u8]]| {
        let mut framer = NdjsonFramer::with_limit(limit);
        let mut items = Vec::new();
        let error = drain(chunks, &mut framer, NdjsonFramer::push, NdjsonFramer::next_item, &mut items).err();
        if error.is_none() {
            items.extend(std::iter::from_fn(|| framer.finish()));
        }
        (items, error.or_else(|| framer.next_item().err()))
    };
    for item in compare(chunks, run) {
        if let NdjsonItem::Line(line) = item {
            assert!(line.len() <= limit, "a line of {} bytes passed a limit of {limit}", line.len());
        }
    }
}

/// Checks the frame decoder on `chunks` against the same bytes pushed whole; returns the frames
/// and the error that ended them.
pub fn check_frames(
    prefix: Prefix,
    limit: usize,
    chunks: &[&[u8]],
) -> (Vec<BinaryFrame>, Option<FrameError>) {
    let run = |chunks: &[&[u8]]| {
        let mut decoder = FrameDecoder::with_limit(prefix, limit);
        let mut frames = Vec::new();
        let result = drain(chunks, &mut decoder, FrameDecoder::push, FrameDecoder::next_frame, &mut frames);
        (frames, result.and_then(|()| decoder.finish()).err())
    };
    let whole = run(&[&chunks.concat()]);
    assert_eq!(run(chunks), whole, "chunked and whole input disagree");
    for frame in &whole.0 {
        assert!(
            frame.payload.len() <= limit,
            "a frame of {} bytes passed a limit of {limit}",
            frame.payload.len()
        );
    }
    whole
}

/// Encodes the fuzzer's frames, decodes them from the chunks it chose, and checks that exactly
/// the frames within the limit come back, in order, followed by `TooLarge` if one was not.
pub fn check_frames_round_trip(input: &Framed) {
    let prefix = if input.varint { Prefix::Varint } else { Prefix::Envelope };
    let limit = usize::from(input.limit);
    let mut stream = BytesMut::new();
    let mut expected = Vec::new();
    let mut refused = None;
    for (flags, payload) in &input.frames {
        let flags = if input.varint { 0 } else { *flags };
        encode(&mut stream, prefix, flags, payload);
        if refused.is_none() {
            if payload.len() > limit {
                refused = Some(FrameError::TooLarge { limit });
            } else {
                expected.push(BinaryFrame { flags, payload: Bytes::copy_from_slice(payload) });
            }
        }
    }
    let got = check_frames(prefix, limit, &cut(&stream, &input.chunk_sizes));
    assert_eq!(got, (expected, refused), "decoded frames differ from the encoded ones");
}

fn encode(out: &mut BytesMut, prefix: Prefix, flags: u8, payload: &[u8]) {
    match prefix {
        Prefix::Envelope => {
            out.put_u8(flags);
            out.put_u32(u32::try_from(payload.len()).expect("fuzz inputs are far below 4 GiB"));
        }
        Prefix::Varint => {
            let mut n = payload.len();
            while n >= 0x80 {
                out.put_u8((n & 0x7f) as u8 | 0x80);
                n >>= 7;
            }
            out.put_u8(n as u8);
        }
    }
    out.put_slice(payload);
}

/// Pushes each chunk into `framer` and drains it into `out`, stopping at the first error.
fn drain<F, T>(
    chunks: &[&[u8]],
    framer: &mut F,
    push: fn(&mut F, Bytes),
    next: fn(&mut F) -> Result<Option<T>, FrameError>,
    out: &mut Vec<T>,
) -> Result<(), FrameError> {
    for chunk in chunks {
        push(framer, Bytes::copy_from_slice(chunk));
        while let Some(frame) = next(framer)? {
            out.push(frame);
        }
    }
    Ok(())
}

/// Runs `run` on `chunks` and on their concatenation, asserts that both agree, and returns the
/// frames.
fn compare<T: Debug + PartialEq>(
    chunks: &[&[u8]],
    run: impl Fn(&[&[u8]]) -> (Vec<T>, Option<FrameError>),
) -> Vec<T> {
    let whole = run(&[&chunks.concat()]);
    assert_eq!(run(chunks), whole, "chunked and whole input disagree");
    whole.0
}
