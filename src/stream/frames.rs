//! Cuts a binary body into length-prefixed frames: gRPC-web/Connect envelopes or varint-delimited protobuf.
//!
//! A **frame** is a header that gives the payload's length, then the payload. Two headers are
//! known, chosen per stream with [`Prefix`]: the 5-byte envelope (one flag byte, then a big-endian
//! `u32` length) and the protobuf base-128 varint (the framing of `writeDelimitedTo`). The decoder
//! hands out the flag byte untouched (compression and end-of-stream bits are the caller's to read)
//! and does not look into payloads.
//!
//! **Allocation**: none per frame after warm-up when a frame lies within one chunk: its payload is a
//! slice of the chunk, and the chunk queue reuses its capacity. A frame that spans chunks is
//! gathered once into a buffer reserved at its announced size, which takes its memory back once
//! the consumer has dropped that frame. Shown by the `frames/*` benches and the allocation check
//! in `benches/framing.rs`.
//!
//! **Limits**: [`DEFAULT_MAX_FRAME_BYTES`] bounds one payload. A header announcing more gives
//! [`FrameError::TooLarge`] as soon as it is read, before any of the body is buffered; a varint
//! longer than 10 bytes or beyond `u64` gives [`FrameError::BadHeader`]. Either error is final:
//! the buffers are dropped and the decoder refuses all further input, since a length-prefixed
//! stream cannot be resynchronised. As a spanning frame reserves its announced size, the limit is
//! also the most that one header can make the decoder allocate.

use super::FrameError;
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;

/// The default bound on one frame's payload, see the module's **Limits**.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// The longest header of either kind: a varint of a `u64` takes 10 bytes.
const MAX_HEADER_BYTES: usize = 10;

/// How a frame announces its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    /// 1 flag byte + u32 big-endian payload length (gRPC-web / Connect envelope).
    Envelope,
    /// Protobuf base-128 varint payload length (length-delimited protobuf messages).
    Varint,
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryFrame {
    /// The envelope's flag byte; 0 for [`Prefix::Varint`].
    pub flags: u8,
    /// The payload; a slice of its chunk when the frame lies within one.
    pub payload: Bytes,
}

/// An incremental length-prefixed frame decoder: push chunks, pull frames. One per upstream stream.
pub struct FrameDecoder {
    prefix: Prefix,
    /// Chunks pushed and not yet fully read; the front one is read from `pos`.
    chunks: VecDeque<Bytes>,
    pos: usize,
    /// The start of a header that spans chunks.
    header: [u8; MAX_HEADER_BYTES],
    header_len: usize,
    /// The flags and payload length of the frame whose header has been read.
    body: Option<(u8, usize)>,
    /// The start of a payload that spans chunks.
    gathered: BytesMut,
    limit: usize,
    /// Set on the first error; every later call reports it again.
    failed: Option<FrameError>,
}

impl FrameDecoder {
    pub fn new(prefix: Prefix) -> Self {
        FrameDecoder::with_limit(prefix, DEFAULT_MAX_FRAME_BYTES)
    }

    /// A decoder that refuses payloads longer than `max_frame_bytes`.
    pub fn with_limit(prefix: Prefix, max_frame_bytes: usize) -> Self {
        FrameDecoder {
            prefix,
            chunks: VecDeque::new(),
            pos: 0,
            header: [0; MAX_HEADER_BYTES],
            header_len: 0,
            body: None,
            gathered: BytesMut::new(),
            limit: max_frame_bytes,
            failed: None,
        }
    }

    /// Queues an upstream chunk. Nothing is decoded until [`FrameDecoder::next_frame`]; call it
    /// until it returns `Ok(None)` after each push so no more than one chunk waits.
    pub fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() && self.failed.is_none() {
            self.chunks.push_back(chunk);
        }
    }

    /// The next complete frame, or `Ok(None)` when more input is needed.
    pub fn next_frame(&mut self) -> Result<Option<BinaryFrame>, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let (flags, len) = match self.body {
            Some(body) => body,
            None => match self.read_header() {
                Ok(Some(body)) => {
                    self.body = Some(body);
                    body
                }
                Ok(None) => return Ok(None),
                Err(e) => {
                    self.failed = Some(e.clone());
                    self.chunks = VecDeque::new();
                    self.gathered = BytesMut::new();
                    return Err(e);
                }
            },
        };
        let Some(payload) = self.read_payload(len) else { return Ok(None) };
        self.body = None;
        Ok(Some(BinaryFrame { flags, payload }))
    }

    /// Input ended: `Err(Truncated)` if bytes of an unfinished frame remain, or the error that
    /// stopped the decoder. Call after `next_frame` has returned `Ok(None)`.
    pub fn finish(&self) -> Result<(), FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let queued = self.chunks.iter().map(Bytes::len).sum::<usize>() > self.pos;
        if queued || self.header_len > 0 || self.body.is_some() {
            return Err(FrameError::Truncated);
        }
        Ok(())
    }

    /// Reads the next header: its flags and payload length, or `None` until all of it has arrived.
    fn read_header(&mut self) -> Result<Option<(u8, usize)>, FrameError> {
        loop {
            let Some(chunk) = self.chunks.front() else { return Ok(None) };
            let rest = &chunk[self.pos..];
            if rest.is_empty() {
                self.chunks.pop_front();
                self.pos = 0;
                continue;
            }
            let (parsed, taken) = if self.header_len == 0 {
                // The usual case: the whole header within one chunk, read in place.
                match parse_header(self.prefix, rest)? {
                    Some((flags, len, size)) => (Some((flags, len)), size),
                    None => {
                        let n = rest.len().min(MAX_HEADER_BYTES);
                        self.header[..n].copy_from_slice(&rest[..n]);
                        self.header_len = n;
                        (None, n)
                    }
                }
            } else {
                // The header spans chunks: add one byte at a time until it parses.
                let at = self.header_len.min(MAX_HEADER_BYTES - 1);
                self.header[at] = rest[0];
                self.header_len = at + 1;
                match parse_header(self.prefix, &self.header[..self.header_len])? {
                    Some((flags, len, _)) => {
                        self.header_len = 0;
                        (Some((flags, len)), 1)
                    }
                    None => (None, 1),
                }
            };
            self.pos += taken;
            if let Some((flags, len)) = parsed {
                return match usize::try_from(len) {
                    Ok(len) if len <= self.limit => Ok(Some((flags, len))),
                    _ => Err(FrameError::TooLarge { limit: self.limit }),
                };
            }
        }
    }

    /// Reads `len` payload bytes, or `None` until all of them have arrived.
    fn read_payload(&mut self, len: usize) -> Option<Bytes> {
        if len == 0 {
            return Some(Bytes::new());
        }
        loop {
            let chunk = self.chunks.front()?;
            let available = chunk.len() - self.pos;
            if available == 0 {
                self.chunks.pop_front();
                self.pos = 0;
                continue;
            }
            if self.gathered.is_empty() && available >= len {
                let payload = chunk.slice(self.pos..self.pos + len);
                self.pos += len;
                return Some(payload);
            }
            if self.gathered.is_empty() {
                self.gathered.reserve(len);
            }
            let take = available.min(len - self.gathered.len());
            self.gathered.extend_from_slice(&chunk[self.pos..self.pos + take]);
            self.pos += take;
            if self.gathered.len() == len {
                return Some(self.gathered.split().freeze());
            }
        }
    }
}

/// Parses a header at the start of `bytes`: its flags, payload length and size in bytes, or `None`
/// if `bytes` holds only part of it.
fn parse_header(prefix: Prefix, bytes: &[u8]) -> Result<Option<(u8, u64, usize)>, FrameError> {
    match prefix {
        Prefix::Envelope => Ok(match bytes {
            [flags, a, b, c, d, ..] => Some((*flags, u64::from(u32::from_be_bytes([*a, *b, *c, *d])), 5)),
            _ => None,
        }),
        Prefix::Varint => {
            let mut value = 0u64;
            for (i, &byte) in bytes.iter().take(MAX_HEADER_BYTES).enumerate() {
                // The tenth byte carries bit 63 only; anything more is an overflow or an
                // over-long varint.
                if i == MAX_HEADER_BYTES - 1 && byte > 1 {
                    return Err(FrameError::BadHeader);
                }
                value |= u64::from(byte & 0x7f) << (7 * i);
                if byte & 0x80 == 0 {
                    return Ok(Some((0, value, i + 1)));
                }
            }
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes `chunks` one after another, draining after each push, then finishes.
    fn frame(prefix: Prefix, limit: usize, chunks: &[&[u8]]) -> Result<Vec<BinaryFrame>, FrameError> {
        let mut decoder = FrameDecoder::with_limit(prefix, limit);
        let mut frames = Vec::new();
        for chunk in chunks {
            decoder.push(Bytes::copy_from_slice(chunk));
            while let Some(frame) = decoder.next_frame()? {
                frames.push(frame);
            }
        }
        decoder.finish()?;
        Ok(frames)
    }

    /// Asserts that `input` decodes to `expected` whole, split in two at every byte offset, and fed
    /// one byte at a time.
    fn assert_frames(
        prefix: Prefix,
        limit: usize,
        input: &[u8],
        expected: Result<&[BinaryFrame], FrameError>,
    ) {
        let expected = expected.map(<[BinaryFrame]>::to_vec);
        assert_eq!(frame(prefix, limit, &[input]), expected, "whole");
        for at in 0..=input.len() {
            let (a, b) = input.split_at(at);
            assert_eq!(frame(prefix, limit, &[a, b]), expected, "split at {at}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(frame(prefix, limit, &bytes), expected, "one byte at a time");
    }

    /// Encodes frames with the given header; varint frames ignore the flags.
    fn encode(prefix: Prefix, frames: &[BinaryFrame]) -> Vec<u8> {
        let mut out = Vec::new();
        for frame in frames {
            let len = frame.payload.len();
            match prefix {
                Prefix::Envelope => {
                    out.push(frame.flags);
                    out.extend_from_slice(
                        &u32::try_from(len).expect("test payloads are small").to_be_bytes(),
                    );
                }
                Prefix::Varint => {
                    let mut n = len as u64;
                    while n >= 0x80 {
                        out.push((n as u8) | 0x80);
                        n >>= 7;
                    }
                    out.push(n as u8);
                }
            }
            out.extend_from_slice(&frame.payload);
        }
        out
    }

    fn binary(flags: u8, payload: &[u8]) -> BinaryFrame {
        BinaryFrame { flags, payload: Bytes::copy_from_slice(payload) }
    }

    /// Payloads of the lengths where varints change size, and empty ones.
    fn samples(flags: impl Fn(usize) -> u8) -> Vec<BinaryFrame> {
        [0, 1, 0, 127, 128, 300, 0]
            .iter()
            .enumerate()
            .map(|(i, &len)| binary(flags(i), &(0..len).map(|b| b as u8).collect::<Vec<u8>>()))
            .collect()
    }

    /// The reconciliation frames captured from Warp (upstreams/warp.md §7.3), as protobuf payloads.
    fn warp_payloads() -> Vec<Vec<u8>> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/warp.json");
        let vectors: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).expect("the vectors are in tests/vectors"))
                .expect("the vector file is JSON");
        vectors["reconciliation_frames_hex"]
            .as_array()
            .expect("a list of frames")
            .iter()
            .map(|hex| ::hex::decode(hex.as_str().expect("hex text")).expect("valid hex"))
            .collect()
    }

    #[test]
    fn envelope_frames_with_flags_and_empty_payloads_decode_at_every_split() {
        // Connect ends a stream with an end-of-stream frame (flag 0x02) holding JSON trailers.
        let mut frames = samples(|i| if i % 2 == 0 { 0 } else { 1 });
        frames.push(binary(0x02, b"{\"metadata\":{}}"));
        let input = encode(Prefix::Envelope, &frames);
        assert_frames(Prefix::Envelope, DEFAULT_MAX_FRAME_BYTES, &input, Ok(&frames));
    }

    #[test]
    fn varint_frames_with_empty_payloads_decode_at_every_split() {
        let frames = samples(|_| 0);
        let input = encode(Prefix::Varint, &frames);
        assert_frames(Prefix::Varint, DEFAULT_MAX_FRAME_BYTES, &input, Ok(&frames));
    }

    #[test]
    fn captured_warp_messages_decode_in_either_framing() {
        let frames: Vec<BinaryFrame> = warp_payloads().iter().map(|p| binary(0, p)).collect();
        for prefix in [Prefix::Envelope, Prefix::Varint] {
            let input = encode(prefix, &frames);
            assert_frames(prefix, DEFAULT_MAX_FRAME_BYTES, &input, Ok(&frames));
        }
    }

    #[test]
    fn a_three_byte_varint_length_decodes_fed_one_byte_at_a_time() {
        let frames = [binary(0, &[7; 20_000]), binary(0, b"x")];
        let input = encode(Prefix::Varint, &frames);
        assert_eq!(input[..3], [0xa0, 0x9c, 0x01]);
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(frame(Prefix::Varint, DEFAULT_MAX_FRAME_BYTES, &bytes), Ok(frames.to_vec()));
        assert_eq!(frame(Prefix::Varint, DEFAULT_MAX_FRAME_BYTES, &[&input]), Ok(frames.to_vec()));
    }

    #[test]
    fn a_varint_longer_than_ten_bytes_is_a_bad_header() {
        let input = [0x80; 11];
        assert_frames(Prefix::Varint, DEFAULT_MAX_FRAME_BYTES, &input, Err(FrameError::BadHeader));
    }

    #[test]
    fn a_varint_beyond_u64_is_a_bad_header() {
        let mut input = vec![0xff; 9];
        input.push(0x02);
        assert_frames(Prefix::Varint, DEFAULT_MAX_FRAME_BYTES, &input, Err(FrameError::BadHeader));
    }

    #[test]
    fn the_largest_ten_byte_varint_is_too_large_not_bad() {
        let mut input = vec![0xff; 9];
        input.push(0x01);
        let too_large = Err(FrameError::TooLarge { limit: DEFAULT_MAX_FRAME_BYTES });
        assert_frames(Prefix::Varint, DEFAULT_MAX_FRAME_BYTES, &input, too_large);
    }

    #[test]
    fn a_non_minimal_varint_is_accepted() {
        // Protobuf parsers accept padded varints; 0x83 0x80 0x00 is 3.
        assert_frames(Prefix::Varint, 16, b"\x83\x80\x00abc", Ok(&[binary(0, b"abc")]));
    }

    #[test]
    fn a_frame_at_the_limit_passes_and_one_byte_more_is_too_large() {
        let frames = [binary(0, b"0123456789"), binary(0, b"")];
        for prefix in [Prefix::Envelope, Prefix::Varint] {
            let input = encode(prefix, &frames);
            assert_frames(prefix, 10, &input, Ok(&frames));
            assert_frames(prefix, 9, &input, Err(FrameError::TooLarge { limit: 9 }));
        }
    }

    #[test]
    fn an_oversized_length_is_refused_before_any_body_arrives() {
        let mut decoder = FrameDecoder::with_limit(Prefix::Envelope, 1000);
        decoder.push(Bytes::from_static(b"\x00\x00\x00\x10\x00"));
        assert_eq!(decoder.next_frame(), Err(FrameError::TooLarge { limit: 1000 }));
        for _ in 0..10 {
            decoder.push(Bytes::from(vec![0; 1000]));
            assert_eq!(decoder.next_frame(), Err(FrameError::TooLarge { limit: 1000 }));
        }
        assert_eq!(decoder.finish(), Err(FrameError::TooLarge { limit: 1000 }));
        assert!(decoder.chunks.is_empty() && decoder.gathered.capacity() == 0, "nothing is buffered");
    }

    #[test]
    fn input_ending_inside_a_header_or_body_is_truncated() {
        let input = encode(Prefix::Envelope, &[binary(0, b"abc")]);
        for end in 1..input.len() {
            assert_eq!(
                frame(Prefix::Envelope, 16, &[&input[..end]]),
                Err(FrameError::Truncated),
                "end {end}"
            );
        }
        let mut decoder = FrameDecoder::new(Prefix::Varint);
        decoder.push(Bytes::from_static(b"\x02a"));
        assert_eq!(decoder.next_frame(), Ok(None));
        assert_eq!(decoder.finish(), Err(FrameError::Truncated));
        decoder.push(Bytes::from_static(b"b"));
        assert_eq!(decoder.next_frame(), Ok(Some(binary(0, b"ab"))));
        assert_eq!(decoder.finish(), Ok(()));
    }

    #[test]
    fn payloads_within_one_chunk_are_slices_of_that_chunk() {
        let frames = samples(|_| 3);
        for prefix in [Prefix::Envelope, Prefix::Varint] {
            let chunk = Bytes::from(encode(prefix, &frames));
            let start = chunk.as_ptr() as usize;
            let mut decoder = FrameDecoder::new(prefix);
            decoder.push(chunk.clone());
            let mut count = 0;
            while let Some(frame) = decoder.next_frame().expect("valid frames") {
                let at = frame.payload.as_ptr() as usize;
                let inside = at >= start && at + frame.payload.len() <= start + chunk.len();
                assert!(frame.payload.is_empty() || inside, "payload must share the chunk's buffer");
                count += 1;
            }
            assert_eq!(count, frames.len());
        }
    }

    #[test]
    fn chunks_pushed_without_draining_are_all_read() {
        let frames = samples(|_| 0);
        let input = encode(Prefix::Varint, &frames);
        let mut decoder = FrameDecoder::new(Prefix::Varint);
        for chunk in input.chunks(13) {
            decoder.push(Bytes::copy_from_slice(chunk));
        }
        let mut got = Vec::new();
        while let Some(frame) = decoder.next_frame().expect("valid frames") {
            got.push(frame);
        }
        assert_eq!(decoder.finish(), Ok(()));
        assert_eq!(got, frames);
    }
}
