//! Framing throughput of the stream core, and a check that framing allocates nothing per frame.
//!
//! Every scenario frames the same realistic stream: about 1 MiB of OpenAI `chat.completion.chunk`
//! objects (200 to 220 bytes each), written as SSE events, NDJSON lines, gRPC-web envelopes or
//! varint-delimited messages, and cut into chunks before measuring. Ids read
//! `<framer>/<what>/<chunking>`.
//!
//! Before the criterion groups run, a counting global allocator checks that a warmed-up framer
//! whose frames never span chunks allocates nothing at all while framing the stream again; the
//! bench panics if it does.

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{Criterion, Throughput};
use orchids2api::stream::frames::{FrameDecoder, Prefix};
use orchids2api::stream::ndjson::NdjsonFramer;
use orchids2api::stream::sse::SseFramer;
use std::hint::black_box;
use std::sync::atomic::Ordering;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{ALLOCATIONS, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// How many bytes of frames each stream holds, at least.
const STREAM_BYTES: usize = 1 << 20;

/// The wire formats under test.
#[derive(Clone, Copy)]
enum Format {
    Sse,
    Ndjson,
    Envelope,
    Varint,
}

/// A stream in one format, with the offset where each frame ends.
struct Stream {
    bytes: Bytes,
    frame_ends: Vec<usize>,
}

impl Stream {
    /// About [`STREAM_BYTES`] of chat completion chunks, the same content in every format.
    fn new(format: Format) -> Stream {
        const WORDS: [&str; 12] = [
            "The",
            " quick",
            " brown",
            " fox",
            " jumps",
            " over",
            " the",
            " lazy",
            " dog",
            ".",
            "\\n",
            " Meanwhile, elsewhere",
        ];
        let mut out = BytesMut::new();
        let mut frame_ends = Vec::new();
        let mut i = 0usize;
        while out.len() < STREAM_BYTES {
            // A fixed pseudo-random walk over the words, so runs are comparable.
            i = i.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let word = WORDS[(i >> 33) % WORDS.len()];
            let json = format!(
                concat!(
                    "{{\"id\":\"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\"object\":\"chat.completion.chunk\",",
                    "\"created\":1741569952,\"model\":\"gpt-4o-2024-08-06\",",
                    "\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{}\"}},\"finish_reason\":null}}]}}"
                ),
                word
            );
            write_frame(&mut out, format, json.as_bytes());
            frame_ends.push(out.len());
        }
        if let Format::Sse | Format::Ndjson = format {
            write_frame(&mut out, format, b"[DONE]");
            frame_ends.push(out.len());
        }
        Stream { bytes: out.freeze(), frame_ends }
    }

    /// The stream cut every `size` bytes, wherever that falls.
    fn chunks(&self, size: usize) -> Vec<Bytes> {
        (0..self.bytes.len())
            .step_by(size)
            .map(|at| self.bytes.slice(at..(at + size).min(self.bytes.len())))
            .collect()
    }

    /// The stream cut at frame ends into chunks of at most about `size` bytes, so no frame spans
    /// two chunks.
    fn aligned_chunks(&self, size: usize) -> Vec<Bytes> {
        let mut chunks = Vec::new();
        let mut start = 0;
        let mut last = 0;
        for &end in &self.frame_ends {
            if end - start > size && last > start {
                chunks.push(self.bytes.slice(start..last));
                start = last;
            }
            last = end;
        }
        chunks.push(self.bytes.slice(start..last));
        chunks
    }
}

fn write_frame(out: &mut BytesMut, format: Format, payload: &[u8]) {
    match format {
        Format::Sse => {
            out.put_slice(b"data: ");
            out.put_slice(payload);
            out.put_slice(b"\n\n");
        }
        Format::Ndjson => {
            out.put_slice(payload);
            out.put_u8(b'\n');
        }
        Format::Envelope => {
            out.put_u8(0);
            out.put_u32(u32::try_from(payload.len()).expect("bench payloads are small"));
            out.put_slice(payload);
        }
        Format::Varint => {
            let mut n = payload.len();
            while n >= 0x80 {
                out.put_u8((n & 0x7f) as u8 | 0x80);
                n >>= 7;
            }
            out.put_u8(n as u8);
            out.put_slice(payload);
        }
    }
}

/// A framer of any format, so one loop drives them all.
enum Framer {
    Sse(SseFramer),
    Ndjson(NdjsonFramer),
    Frames(FrameDecoder),
}

impl Framer {
    fn new(format: Format) -> Framer {
        match format {
            Format::Sse => Framer::Sse(SseFramer::new()),
            Format::Ndjson => Framer::Ndjson(NdjsonFramer::new()),
            Format::Envelope => Framer::Frames(FrameDecoder::new(Prefix::Envelope)),
            Format::Varint => Framer::Frames(FrameDecoder::new(Prefix::Varint)),
        }
    }

    /// Pushes every chunk, drains the frames after each, and returns how many there were.
    fn frame(&mut self, chunks: &[Bytes]) -> usize {
        let mut frames = 0;
        for chunk in chunks {
            match self {
                Framer::Sse(f) => {
                    f.push(chunk.clone());
                    while let Some(event) = f.next_event().expect("the bench stream is valid") {
                        black_box(event);
                        frames += 1;
                    }
                }
                Framer::Ndjson(f) => {
                    f.push(chunk.clone());
                    while let Some(item) = f.next_item().expect("the bench stream is valid") {
                        black_box(item);
                        frames += 1;
                    }
                }
                Framer::Frames(f) => {
                    f.push(chunk.clone());
                    while let Some(frame) = f.next_frame().expect("the bench stream is valid") {
                        black_box(frame);
                        frames += 1;
                    }
                }
            }
        }
        frames
    }
}

/// Allocations made by a warmed-up framer while it frames `chunks` `rounds` times, and the frames.
fn allocations(format: Format, chunks: &[Bytes], rounds: usize) -> (usize, usize) {
    let mut framer = Framer::new(format);
    framer.frame(chunks);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let frames: usize = (0..rounds).map(|_| framer.frame(chunks)).sum();
    (ALLOCATIONS.load(Ordering::Relaxed) - before, frames)
}

/// Panics unless framing allocates nothing per frame when frames never span chunks; also prints
/// what frames that do span chunks cost.
fn check_no_allocation_per_frame() {
    let formats = [
        ("sse", Format::Sse),
        ("ndjson", Format::Ndjson),
        ("envelope", Format::Envelope),
        ("varint", Format::Varint),
    ];
    for (name, format) in formats {
        let stream = Stream::new(format);
        let (aligned, frames) = allocations(format, &stream.aligned_chunks(4096), 3);
        let (split, split_frames) = allocations(format, &stream.chunks(4096), 3);
        println!(
            "allocations/{name}: {aligned} in {frames} frames with frame-aligned 4 KiB chunks; \
             {split} in {split_frames} frames with 4 KiB chunks cut anywhere"
        );
        assert_eq!(aligned, 0, "{name}: framing must not allocate per frame once warmed up");
    }
}

fn bench(c: &mut Criterion, group: &str, id: &str, format: Format, chunk_bytes: usize) {
    let stream = Stream::new(format);
    let chunks = stream.chunks(chunk_bytes);
    let mut group = c.benchmark_group(group);
    group.throughput(Throughput::Bytes(stream.bytes.len() as u64));
    group.bench_function(id, |b| b.iter(|| Framer::new(format).frame(&chunks)));
    group.finish();
}

fn main() {
    check_no_allocation_per_frame();
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, "sse", "frame/4KiB_chunks", Format::Sse, 4096);
    bench(&mut c, "sse", "frame/64B_chunks", Format::Sse, 64);
    bench(&mut c, "ndjson", "frame/4KiB_chunks", Format::Ndjson, 4096);
    bench(&mut c, "frames", "envelope/4KiB_chunks", Format::Envelope, 4096);
    bench(&mut c, "frames", "varint/4KiB_chunks", Format::Varint, 4096);
    c.final_summary();
}
