//! grok's NDJSON answer to client SSE: the grok channel's hot path without IO.
//!
//! One answer as grok.com streams it (fact sheet §3.2): a conversation line, the `userResponse`
//! echo, 2000 answer `token`s of 1 to 8 words, one in twenty of which carries markup to clean (a
//! tool usage card or an inline citation render tag, split across two tokens), then the final
//! `modelResponse` with the whole message. Each line is its own chunk, as grok sends them.
//! The pipeline is the server's: [`NdjsonFramer`] → grok's `Decoder` (markup cleaning, token
//! counting) → the client dialect's [`StreamEncoder`] into a `BytesMut`, split after every chunk.
//! Throughput is bytes of upstream input. Ids read `grok/ndjson_to_<dialect>/<answer>`.

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput};
use orchids2api::channels::grok::decode::{Decoder, Item, Options};
use orchids2api::channels::grok::markup::ToolCards;
use orchids2api::dialect::{Dialect, ReplyOptions, StreamEncoder};
use orchids2api::stream::ndjson::{NdjsonFramer, NdjsonItem};
use std::collections::VecDeque;
use std::hint::black_box;

const TOKENS: usize = 2000;

const WORDS: [&str; 16] = [
    "grok", "streams", "each", "token", "as", "it", "comes", "and", "the", "gateway", "cleans", "markup",
    "without", "holding", "answers", "back",
];

struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % below
    }
}

fn token_line(token: &str, thinking: bool) -> String {
    let token = serde_json::to_string(token).unwrap();
    format!(
        r#"{{"result":{{"response":{{"token":{token},"isThinking":{thinking},"messageTag":"final","responseId":"r1"}}}}}}"#
    )
}

/// The chunks of one answer; `markup` puts a card or a citation in one token of twenty.
fn answer(markup: bool, thinking: usize) -> Vec<Bytes> {
    let mut rng = Lcg(11);
    let mut lines = vec![
        r#"{"result":{"conversation":{"conversationId":"c1","title":"New conversation","temporary":true}}}"#.to_string(),
        r#"{"result":{"response":{"userResponse":{"responseId":"u1","message":"a prompt","sender":"human"},"isThinking":false,"responseId":"u1"}}}"#.to_string(),
    ];
    for _ in 0..thinking {
        lines.push(token_line("weighing the question ", true));
    }
    let mut full = String::new();
    for i in 0..TOKENS {
        let mut token = String::new();
        for _ in 0..=rng.next(8) {
            token.push_str(WORDS[rng.next(WORDS.len())]);
            token.push(' ');
        }
        if markup && i % 20 == 10 {
            let (a, b) = if i % 40 == 10 {
                (
                    "<xai:tool_usage_card><xai:tool_name>web_search</xai:tool_name><xai:tool_ar",
                    "gs><![CDATA[{\"query\":\"gateway\"}]]></xai:tool_args></xai:tool_usage_card>",
                )
            } else {
                (
                    "<grok:render card_id=\"c1\" card_type=\"citation_card\" type=\"render_inline_citation\"><argument name=\"citation_id\">0</arg",
                    "ument></grok:render>",
                )
            };
            token.push_str(a);
            lines.push(token_line(&token, false));
            full.push_str(&token);
            token = b.to_string();
        }
        full.push_str(&token);
        lines.push(token_line(&token, false));
    }
    let message = serde_json::to_string(&full).unwrap();
    lines.push(format!(r#"{{"result":{{"response":{{"modelResponse":{{"responseId":"r1","message":{message},"sender":"assistant","generatedImageUrls":[]}},"isThinking":false,"responseId":"r1"}}}}}}"#));
    lines.push(r#"{"result":{"title":{"newTitle":"A title"}}}"#.to_string());
    lines.into_iter().map(|l| Bytes::from(l + "\n")).collect()
}

#[inline(never)]
fn convert(dialect: Dialect, chunks: &[Bytes]) -> usize {
    let mut framer = NdjsonFramer::new();
    let mut decoder = Decoder::new(Options {
        reasoning: true,
        tool_cards: ToolCards::Lines,
        tools: &[],
        tool_choice: None,
        assets_url: "https://assets.grok.com",
        input_tokens: 10,
        video: false,
    });
    let mut encoder = StreamEncoder::new(dialect, "grok-4.20-expert", ReplyOptions::default(), 0);
    let mut items = VecDeque::new();
    let mut out = BytesMut::with_capacity(4096);
    let mut written = 0;
    let drain = |items: &mut VecDeque<Item>, out: &mut BytesMut, encoder: &mut StreamEncoder| {
        while let Some(item) = items.pop_front() {
            match item {
                Item::Event(event) => encoder.event(event, out),
                Item::End { stop, usage } => {
                    encoder.event(orchids2api::ir::Event::Usage(usage), out);
                    encoder.event(orchids2api::ir::Event::Stop(stop), out);
                }
                Item::Asset { .. } | Item::Progress { .. } => {}
            }
        }
    };
    for chunk in chunks {
        framer.push(chunk.clone());
        while let Some(NdjsonItem::Line(line)) = framer.next_item().expect("valid NDJSON") {
            decoder.line(&line, &mut items);
        }
        drain(&mut items, &mut out, &mut encoder);
        written += out.len();
        black_box(out.split().freeze());
    }
    decoder.end(true, &mut items);
    drain(&mut items, &mut out, &mut encoder);
    encoder.finish(&mut out);
    written += out.len();
    black_box(out.split().freeze());
    written
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let answers =
        [("text", answer(false, 0)), ("markup", answer(true, 0)), ("reasoning_markup", answer(true, 200))];
    let mut group = criterion.benchmark_group("grok");
    for (name, chunks) in &answers {
        let bytes: usize = chunks.iter().map(Bytes::len).sum();
        group.throughput(Throughput::Bytes(bytes as u64));
        for (dialect_name, dialect) in [("openai", Dialect::OpenAi), ("anthropic", Dialect::Anthropic)] {
            assert!(convert(dialect, chunks) > 0);
            group.bench_function(format!("ndjson_to_{dialect_name}/{name}"), |b| {
                b.iter(|| convert(dialect, chunks))
            });
        }
    }
    group.finish();
    criterion.final_summary();
}
