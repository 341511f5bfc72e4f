//! Warp conversion throughput: upstream protobuf frames (SSE events whose data is the base64 of
//! one `ResponseEvent`) to client SSE bytes, the Warp channel's hot path without IO.
//!
//! One answer runs through the stages the server uses: each SSE event is its own chunk, as the
//! live upstream sends them; the channel's `WarpFramer` (SSE, base64, protobuf) and `Decoder`
//! (snapshot/delta reconciliation) turn it into IR events, and the client dialect's
//! [`StreamEncoder`] writes them into a `BytesMut`, split off and frozen after every chunk as
//! `server::body::SseBody` hands it to hyper. Throughput is bytes of upstream input. Ids read
//! `warp/to_<dialect>/<answer>`.
//!
//! The answer is Warp-shaped: `init`, `create_task`, a reasoning message (a first snapshot, 200
//! append deltas, a closing full snapshot), a text message the same way with 2000 deltas of 1 to
//! 8 words (about one in ten ends a paragraph), a metadata action, `finished{done}`. The closing
//! snapshots repeat the whole text: reconciliation must see they add nothing.

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput};
use orchids2api::channels::warp::bench::{Converter, answer};
use orchids2api::dialect::{Dialect, ReplyOptions, StreamEncoder};
use orchids2api::ir::Event;
use std::collections::VecDeque;
use std::hint::black_box;

const TEXT_DELTAS: usize = 2000;
const REASONING_DELTAS: usize = 200;

struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % below
    }
}

const WORDS: [&str; 16] = [
    "the", "gateway", "streams", "each", "delta", "as", "it", "arrives", "from", "warp", "and", "never",
    "buffers", "a", "whole", "answer",
];

fn deltas(count: usize, seed: u64) -> Vec<String> {
    let mut rng = Lcg(seed);
    (0..count)
        .map(|_| {
            let mut delta = String::new();
            for _ in 0..=rng.next(8) {
                delta.push(' ');
                delta.push_str(WORDS[rng.next(WORDS.len())]);
            }
            if rng.next(10) == 0 {
                delta.push_str(".\n\n");
            }
            delta
        })
        .collect()
}

/// Converts a whole answer; returns the client bytes written.
#[inline(never)]
fn convert(dialect: Dialect, chunks: &[Bytes]) -> usize {
    let mut converter = Converter::new();
    let mut encoder = StreamEncoder::new(dialect, "claude-sonnet-4-5", ReplyOptions::default(), 0);
    let mut queue: VecDeque<Event> = VecDeque::new();
    let mut out = BytesMut::with_capacity(4096);
    let mut written = 0;
    let mut drain = |queue: &mut VecDeque<Event>, encoder: &mut StreamEncoder, out: &mut BytesMut| {
        while let Some(event) = queue.pop_front() {
            assert!(!matches!(event, Event::Error(_)), "the bench answer converts cleanly: {event:?}");
            encoder.event(event, out);
        }
        if !out.is_empty() {
            written += out.len();
            black_box(out.split().freeze());
        }
    };
    for chunk in chunks {
        converter.push(chunk.clone(), &mut queue);
        drain(&mut queue, &mut encoder, &mut out);
    }
    converter.finish(&mut queue);
    encoder.finish(&mut out);
    drain(&mut queue, &mut encoder, &mut out);
    written
}

fn main() {
    let chunks = answer(&deltas(REASONING_DELTAS, 3), &deltas(TEXT_DELTAS, 7));
    let bytes: usize = chunks.iter().map(Bytes::len).sum();
    let text_bytes: usize = deltas(TEXT_DELTAS, 7).iter().map(String::len).sum();
    println!(
        "warp bench answer: {} upstream events, {bytes} upstream bytes, {text_bytes} bytes of text",
        chunks.len()
    );
    let mut c = Criterion::default().configure_from_args();
    for (name, dialect) in [("to_anthropic", Dialect::Anthropic), ("to_openai", Dialect::OpenAi)] {
        println!("warp/{name}: {} client bytes per answer", convert(dialect, &chunks));
        let mut group = c.benchmark_group(format!("warp/{name}"));
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function("reasoning_and_text", |b| b.iter(|| convert(dialect, &chunks)));
        group.finish();
    }
    c.final_summary();
}
