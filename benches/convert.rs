//! Conversion throughput: upstream SSE bytes to client SSE bytes, the gateway's hot path without
//! IO, and a check of what it allocates per event.
//!
//! Each scenario runs one upstream answer through the same stages the server does: the body, cut
//! into chunks, goes through an [`SseFramer`], the channel's `Decoder` (via
//! [`channels::events::Decoder`]) and the client dialect's [`StreamEncoder`] into a `BytesMut`,
//! which is split off and frozen after every chunk as `server::body::SseBody` hands it to hyper.
//! Throughput is bytes of upstream input. Ids read `convert/<channel>_to_<dialect>/<answer>`.
//!
//! The upstream answers are written in the official wire formats, field for field (an OpenAI
//! stream as requested with `stream_options.include_usage`, which the gateway always asks for):
//!
//! - `text`: 2000 text deltas of 1 to 8 words each; about one in ten ends a paragraph (`\n\n`)
//!   and a few quote a word, so those deltas carry JSON escapes, as real answers do.
//! - `tool_calls`: a short text, then one `write_file` tool call whose arguments (a Rust source
//!   file as a JSON string inside the JSON arguments) stream as 2000 fragments of 1 to 8 tokens.
//!
//! Each SSE event is its own chunk, as a live upstream sends them (one HTTP/1.1 chunk or h2 DATA
//! frame per event; the mock does the same).
//!
//! Before the criterion groups run, a counting global allocator measures the allocations per
//! upstream event of a pipeline warmed up on the first events of its stream, for each scenario and
//! for a text stream without escapes; it prints them, and panics if that escape-free text path
//! allocates at all.

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput};
use orchids2api::channels::events::Decoder;
use orchids2api::channels::{anthropic, openai};
use orchids2api::dialect::{Dialect, ReplyOptions, StreamEncoder};
use orchids2api::ir::Event;
use orchids2api::stream::sse::{SseEvent, SseFramer};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::hint::black_box;
use std::ops::Range;
use std::sync::atomic::Ordering;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{ALLOCATIONS, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Content deltas (text, or tool-argument fragments) in each upstream answer.
const DELTAS: usize = 2000;

/// Content deltas a fresh pipeline converts before its allocations are counted.
const WARM_UP_EVENTS: usize = 100;

/// A fixed pseudo-random sequence, so every run converts the same streams.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % below
    }
}

const WORDS: [&str; 24] = [
    "the", "gateway", "streams", "each", "delta", "as", "it", "arrives", "from", "upstream", "and", "never",
    "buffers", "a", "whole", "answer", "so", "clients", "see", "tokens", "at", "once", "while", "models",
];

/// Whether text deltas may carry characters JSON escapes (newlines, quotes).
#[derive(Clone, Copy, PartialEq)]
enum Escapes {
    Realistic,
    None,
}

/// `DELTAS` text deltas of 1 to 8 words, as JSON string bodies (already escaped).
fn text_deltas(count: usize, escapes: Escapes) -> Vec<String> {
    let mut rng = Lcg(7);
    (0..count)
        .map(|_| {
            let mut delta = String::new();
            for _ in 0..=rng.next(8) {
                let word = WORDS[rng.next(WORDS.len())];
                if escapes == Escapes::Realistic && rng.next(40) == 0 {
                    let _ = write!(delta, " \\\"{word}\\\"");
                } else {
                    let _ = write!(delta, " {word}");
                }
            }
            if escapes == Escapes::Realistic && rng.next(10) == 0 {
                delta.push_str(".\\n\\n");
            }
            delta
        })
        .collect()
}

/// Tokens of a Rust source file as they appear in the JSON arguments, inside the `content` string
/// (escaped once).
const CODE_TOKENS: [&str; 20] = [
    "use",
    " std",
    "::",
    "io",
    ";\\n",
    "fn",
    " main",
    "()",
    " {\\n",
    "    let",
    " x",
    " =",
    " \\\"hello",
    "\\\"",
    ".to_string",
    "();\\n",
    "    println!",
    "(\\\"{x}\\\"",
    ");\\n",
    "}\\n",
];

/// `count` fragments of the JSON arguments `{"path":"src/main.rs","content":"<code>"}`, each
/// escaped for use as a JSON string body on the wire (so the code's own escapes are doubled).
fn argument_fragments(count: usize) -> Vec<String> {
    let mut rng = Lcg(11);
    let mut fragments = vec![r#"{\""#.to_string(), "path".into(), r#"\":\""#.into(), "src/main.rs".into()];
    fragments.push(r#"\",\""#.into());
    fragments.push("content".into());
    fragments.push(r#"\":\""#.into());
    while fragments.len() < count - 1 {
        let mut fragment = String::new();
        for _ in 0..=rng.next(8) {
            // The code is a JSON string inside a JSON string: escape it again for the wire.
            let token = CODE_TOKENS[rng.next(CODE_TOKENS.len())];
            fragment.push_str(&token.replace('\\', "\\\\").replace('"', "\\\""));
        }
        fragments.push(fragment);
    }
    fragments.push(r#"\"}"#.into());
    // The fragments must add up to one JSON string on the wire holding one JSON object.
    let arguments: String =
        serde_json::from_str(&format!("\"{}\"", fragments.concat())).expect("wire string");
    let arguments: serde_json::Value = serde_json::from_str(&arguments).expect("JSON arguments");
    assert!(arguments["content"].as_str().is_some_and(|code| code.contains("fn main()")));
    fragments
}

/// The upstream protocols.
#[derive(Clone, Copy)]
enum Upstream {
    OpenAi,
    Anthropic,
}

/// The answers a scenario streams.
#[derive(Clone, Copy)]
enum Answer {
    Text(Escapes),
    ToolCalls,
}

/// An upstream answer as SSE events, one event per chunk.
struct Stream {
    /// Slices of one buffer, as a body read from the network hands them out.
    chunks: Vec<Bytes>,
    /// The events (= chunks) that carry the content deltas: text, or tool arguments.
    deltas: Range<usize>,
}

impl Stream {
    fn new(upstream: Upstream, answer: Answer) -> Stream {
        let (text, args) = match answer {
            Answer::Text(escapes) => (text_deltas(DELTAS, escapes), Vec::new()),
            Answer::ToolCalls => (text_deltas(20, Escapes::None), argument_fragments(DELTAS)),
        };
        let (events, deltas) = match upstream {
            Upstream::OpenAi => openai_events(&text, &args),
            Upstream::Anthropic => anthropic_events(&text, &args),
        };
        let whole = Bytes::from(events.concat());
        let mut start = 0;
        let chunks = events
            .iter()
            .map(|e| {
                start += e.len();
                whole.slice(start - e.len()..start)
            })
            .collect();
        Stream { chunks, deltas }
    }

    fn bytes(&self) -> usize {
        self.chunks.iter().map(Bytes::len).sum()
    }
}

/// `chat.completion.chunk` events as the OpenAI API streams them with `include_usage`, and
/// which of them carry the content deltas (the arguments if any, else the text).
fn openai_events(text: &[String], args: &[String]) -> (Vec<String>, Range<usize>) {
    const HEAD: &str = concat!(
        r#"data: {"id":"chatcmpl-C3mzWbGRWpNAGoTb1OYBGbeTN6zeL","object":"chat.completion.chunk","#,
        r#""created":1754830846,"model":"gpt-4.1-2025-04-14","service_tier":"default","#,
        r#""system_fingerprint":"fp_b3f1157249","choices":"#
    );
    let choice = |delta: &str, finish: &str| {
        format!(
            "{HEAD}[{{\"index\":0,\"delta\":{delta},\"logprobs\":null,\"finish_reason\":{finish}}}],\"usage\":null}}\n\n"
        )
    };
    let mut events = vec![choice(r#"{"role":"assistant","content":"","refusal":null}"#, "null")];
    let mut deltas = events.len()..events.len() + text.len();
    for t in text {
        events.push(choice(&format!(r#"{{"content":"{t}"}}"#), "null"));
    }
    if !args.is_empty() {
        events.push(choice(
            concat!(
                r#"{"tool_calls":[{"index":0,"id":"call_9UvqOJ2J5kGJxQ0PmrQqZ7cw","type":"function","#,
                r#""function":{"name":"write_file","arguments":""}}]}"#
            ),
            "null",
        ));
        deltas = events.len()..events.len() + args.len();
        for a in args {
            events.push(choice(
                &format!(r#"{{"tool_calls":[{{"index":0,"function":{{"arguments":"{a}"}}}}]}}"#),
                "null",
            ));
        }
    }
    let finish = if args.is_empty() { r#""stop""# } else { r#""tool_calls""# };
    events.push(choice("{}", finish));
    events.push(format!(
        concat!(
            "{}[],\"usage\":{{\"prompt_tokens\":1517,\"completion_tokens\":{},\"total_tokens\":{},",
            "\"prompt_tokens_details\":{{\"cached_tokens\":1024,\"audio_tokens\":0}},",
            "\"completion_tokens_details\":{{\"reasoning_tokens\":0,\"audio_tokens\":0,",
            "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}}}}\n\n"
        ),
        HEAD,
        text.len() + args.len(),
        1517 + text.len() + args.len()
    ));
    events.push("data: [DONE]\n\n".into());
    (events, deltas)
}

/// Messages stream events as the Anthropic API sends them, and which of them carry the content
/// deltas (the arguments if any, else the text).
fn anthropic_events(text: &[String], args: &[String]) -> (Vec<String>, Range<usize>) {
    let event = |name: &str, data: &str| format!("event: {name}\ndata: {data}\n\n");
    let mut events = vec![
        event(
            "message_start",
            concat!(
                r#"{"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","#,
                r#""role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"#,
                r#""stop_sequence":null,"usage":{"input_tokens":472,"cache_creation_input_tokens":0,"#,
                r#""cache_read_input_tokens":1045,"cache_creation":{"ephemeral_5m_input_tokens":0,"#,
                r#""ephemeral_1h_input_tokens":0},"output_tokens":1,"service_tier":"standard"}}}"#
            ),
        ),
        event(
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
        event("ping", r#"{"type": "ping"}"#),
    ];
    let mut deltas = events.len()..events.len() + text.len();
    for t in text {
        events.push(event(
            "content_block_delta",
            &format!(
                r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"{t}"}}}}"#
            ),
        ));
    }
    events.push(event("content_block_stop", r#"{"type":"content_block_stop","index":0}"#));
    if !args.is_empty() {
        events.push(event(
            "content_block_start",
            concat!(
                r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","#,
                r#""id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"write_file","input":{}}}"#
            ),
        ));
        events.push(event(
            "content_block_delta",
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}"#,
        ));
        deltas = events.len()..events.len() + args.len();
        for a in args {
            events.push(event(
                "content_block_delta",
                &format!(
                    r#"{{"type":"content_block_delta","index":1,"delta":{{"type":"input_json_delta","partial_json":"{a}"}}}}"#
                ),
            ));
        }
        events.push(event("content_block_stop", r#"{"type":"content_block_stop","index":1}"#));
    }
    let stop = if args.is_empty() { "end_turn" } else { "tool_use" };
    events.push(event(
        "message_delta",
        &format!(
            r#"{{"type":"message_delta","delta":{{"stop_reason":"{stop}","stop_sequence":null}},"usage":{{"output_tokens":{}}}}}"#,
            text.len() + args.len()
        ),
    ));
    events.push(event("message_stop", r#"{"type":"message_stop"}"#));
    (events, deltas)
}

/// A channel decoder of either upstream protocol.
enum AnyDecoder {
    OpenAi(openai::Decoder),
    Anthropic(anthropic::Decoder),
}

impl AnyDecoder {
    fn new(upstream: Upstream) -> AnyDecoder {
        match upstream {
            Upstream::OpenAi => AnyDecoder::OpenAi(openai::Decoder::new()),
            Upstream::Anthropic => AnyDecoder::Anthropic(anthropic::Decoder::new()),
        }
    }

    fn frame(&mut self, frame: SseEvent, out: &mut VecDeque<Event>) {
        match self {
            AnyDecoder::OpenAi(d) => d.frame(frame, out),
            AnyDecoder::Anthropic(d) => d.frame(frame, out),
        }
    }

    fn end(&mut self, out: &mut VecDeque<Event>) {
        match self {
            AnyDecoder::OpenAi(d) => d.end(true, out),
            AnyDecoder::Anthropic(d) => d.end(true, out),
        }
    }
}

/// One response's conversion: framer → decoder → encoder → output buffer.
struct Pipeline {
    framer: SseFramer,
    decoder: AnyDecoder,
    queue: VecDeque<Event>,
    encoder: StreamEncoder,
    out: BytesMut,
    /// Upstream events framed so far.
    events: usize,
    /// Client bytes written so far.
    written: usize,
}

impl Pipeline {
    fn new(upstream: Upstream, dialect: Dialect) -> Pipeline {
        Pipeline {
            framer: SseFramer::new(),
            decoder: AnyDecoder::new(upstream),
            queue: VecDeque::new(),
            encoder: StreamEncoder::new(dialect, "claude-sonnet-4-5", ReplyOptions::default(), 0),
            // As `SseBody` starts its buffer.
            out: BytesMut::with_capacity(4096),
            events: 0,
            written: 0,
        }
    }

    /// Converts one upstream chunk and hands the output on, as one poll of `SseBody` would.
    fn push(&mut self, chunk: &Bytes) {
        self.framer.push(chunk.clone());
        while let Some(frame) = self.framer.next_event().expect("the bench streams are valid SSE") {
            self.events += 1;
            self.decoder.frame(frame, &mut self.queue);
            self.encode_queue();
        }
        self.flush();
    }

    /// The body ended: the decoder's and the encoder's last words.
    fn finish(&mut self) {
        if let Some(frame) = self.framer.finish() {
            self.decoder.frame(frame, &mut self.queue);
        }
        self.decoder.end(&mut self.queue);
        self.encode_queue();
        self.encoder.finish(&mut self.out);
        self.flush();
    }

    fn encode_queue(&mut self) {
        while let Some(event) = self.queue.pop_front() {
            assert!(!matches!(event, Event::Error(_)), "the bench streams convert cleanly: {event:?}");
            self.encoder.event(event, &mut self.out);
        }
    }

    fn flush(&mut self) {
        if !self.out.is_empty() {
            self.written += self.out.len();
            black_box(self.out.split().freeze());
        }
    }
}

/// Converts a whole upstream answer; returns the client bytes written.
#[inline(never)]
fn convert(upstream: Upstream, dialect: Dialect, chunks: &[Bytes]) -> usize {
    let mut pipeline = Pipeline::new(upstream, dialect);
    for chunk in chunks {
        pipeline.push(chunk);
    }
    pipeline.finish();
    pipeline.written
}

/// Allocations while a pipeline warmed up on the first [`WARM_UP_EVENTS`] deltas converts the
/// other deltas (and how many those are), and while a fresh pipeline converts the whole response.
fn allocations(upstream: Upstream, dialect: Dialect, stream: &Stream) -> (usize, usize, usize) {
    let counted = stream.deltas.start + WARM_UP_EVENTS..stream.deltas.end;
    let mut pipeline = Pipeline::new(upstream, dialect);
    for chunk in &stream.chunks[..counted.start] {
        pipeline.push(chunk);
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for chunk in &stream.chunks[counted.clone()] {
        pipeline.push(chunk);
    }
    let steady = ALLOCATIONS.load(Ordering::Relaxed) - before;
    for chunk in &stream.chunks[counted.end..] {
        pipeline.push(chunk);
    }
    pipeline.finish();
    drop(pipeline);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    black_box(convert(upstream, dialect, &stream.chunks));
    let whole = ALLOCATIONS.load(Ordering::Relaxed) - before;
    (steady, counted.len(), whole)
}

const SCENARIOS: [(&str, Upstream, Dialect); 4] = [
    ("openai_to_anthropic", Upstream::OpenAi, Dialect::Anthropic),
    ("anthropic_to_openai", Upstream::Anthropic, Dialect::OpenAi),
    ("openai_to_openai", Upstream::OpenAi, Dialect::OpenAi),
    ("anthropic_to_anthropic", Upstream::Anthropic, Dialect::Anthropic),
];

/// Prints the allocations per event of every scenario; panics unless the text path without
/// escapes allocates nothing per event.
fn check_allocations() {
    let answers = [
        ("text", Answer::Text(Escapes::Realistic)),
        ("text_no_escapes", Answer::Text(Escapes::None)),
        ("tool_calls", Answer::ToolCalls),
    ];
    for (answer_name, answer) in answers {
        for (name, upstream, dialect) in SCENARIOS {
            let stream = Stream::new(upstream, answer);
            let (steady, deltas, whole) = allocations(upstream, dialect, &stream);
            println!(
                "allocations/convert/{name}/{answer_name}: {:.3} per delta event after warm-up \
                 ({steady} in {deltas}); {whole} for the whole response of {} events",
                steady as f64 / deltas as f64,
                stream.chunks.len()
            );
            if let Answer::Text(Escapes::None) = answer {
                assert_eq!(steady, 0, "{name}: converting text must not allocate per event once warmed up");
            }
        }
    }
}

fn bench(c: &mut Criterion, answer_name: &str, answer: Answer) {
    for (name, upstream, dialect) in SCENARIOS {
        let stream = Stream::new(upstream, answer);
        let mut group = c.benchmark_group(format!("convert/{name}"));
        group.throughput(Throughput::Bytes(stream.bytes() as u64));
        group.bench_function(answer_name, |b| b.iter(|| convert(upstream, dialect, &stream.chunks)));
        group.finish();
    }
}

/// `CONVERT_PROFILE=<pair>/<answer>` (say `anthropic_to_openai/text`): converts that scenario's
/// stream [`PROFILE_ROUNDS`] times and nothing else, for a profiler or an instruction count:
/// `valgrind --tool=callgrind --toggle-collect='convert::convert' <bench binary>`.
const PROFILE_ROUNDS: usize = 20;

fn profile(id: &str) {
    let (pair, answer) = id.split_once('/').expect("CONVERT_PROFILE is <pair>/<answer>");
    let answer = match answer {
        "text" => Answer::Text(Escapes::Realistic),
        "text_no_escapes" => Answer::Text(Escapes::None),
        "tool_calls" => Answer::ToolCalls,
        other => panic!("unknown answer {other}"),
    };
    let (_, upstream, dialect) =
        SCENARIOS.into_iter().find(|s| s.0 == pair).unwrap_or_else(|| panic!("unknown pair {pair}"));
    let stream = Stream::new(upstream, answer);
    let written: usize = (0..PROFILE_ROUNDS).map(|_| convert(upstream, dialect, &stream.chunks)).sum();
    println!("{id}: {PROFILE_ROUNDS} × {} upstream bytes → {written} client bytes", stream.bytes());
}

fn main() {
    if let Ok(id) = std::env::var("CONVERT_PROFILE") {
        return profile(&id);
    }
    check_allocations();
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, "text", Answer::Text(Escapes::Realistic));
    bench(&mut c, "tool_calls", Answer::ToolCalls);
    c.final_summary();
}
