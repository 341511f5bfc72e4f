//! grok.com's answer lines → events (fact sheet §3).
//!
//! Each NDJSON line that matters is `{"result":{"response":{…}}}`. What this makes of it:
//! - `token`s stream live: `isThinking` ones are reasoning (shown for reasoning models, dropped
//!   otherwise), the others answer text. Both pass the markup [`Cleaner`]; answer text then
//!   passes the tool-call parser when the client sent tools.
//! - `userResponse` (the echo of our prompt) is never output.
//! - `modelResponse` ends the answer: its `message` is the fallback when no answer token came;
//!   its image URLs, `streamErrors` and citation cards are read.
//! - Image and video progress lines give progress and the final asset URLs; relative paths
//!   (`users/…`) are resolved against the asset host; `-part-0` previews give way to finals.
//! - `{"error":…}` lines and `streamErrors` are upstream errors, as if they were HTTP ones.
//!
//! Pure: no IO. Assets are reported ([`Item::Asset`]) for the caller to fetch and cache.

use super::markup::{Cleaner, ToolCards};
use super::tools::{CallParser, Piece};
use crate::ir::{ErrorKind, Event, MediaKind, StopReason, Text, Tool, ToolChoice, UpstreamError, Usage};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};

/// What the decoder hands on, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Event(Event),
    /// A generated file to fetch and cache (absolute URL).
    Asset {
        kind: MediaKind,
        url: String,
    },
    /// Generation progress of image `index` (or the video), in percent.
    Progress {
        kind: MediaKind,
        index: u32,
        percent: u32,
    },
    /// The answer is complete; assets come before this.
    End {
        stop: StopReason,
        usage: Usage,
    },
}

/// How the decoder is set up for one request.
pub struct Options<'a> {
    pub reasoning: bool,
    pub tool_cards: ToolCards,
    pub tools: &'a [Tool],
    pub tool_choice: Option<&'a ToolChoice>,
    /// The asset host, for relative paths (`https://assets.grok.com`).
    pub assets_url: &'a str,
    /// Prompt size in tokens, reported as usage.
    pub input_tokens: u64,
    /// A video is being generated: `modelResponse.fileAttachments` name it.
    pub video: bool,
}

pub struct Decoder {
    reasoning: bool,
    answer: Cleaner,
    thinking: Cleaner,
    calls: Option<CallParser>,
    next_call: u32,
    /// Citation card id → URL.
    cards: HashMap<String, String>,
    assets_url: String,
    saw_answer: bool,
    final_message: Option<String>,
    /// Final image URLs in order of appearance; previews kept apart until the end.
    images: Vec<String>,
    previews: Vec<String>,
    video: Option<String>,
    thumbnail: Option<String>,
    finished: bool,
    done: bool,
    /// A line that did not parse; fatal unless it was the cut last line.
    malformed: Option<String>,
    input_tokens: u64,
    /// Everything output, counted in tokens once at the end (grok reports no usage).
    produced: String,
    expect_video: bool,
}

impl Decoder {
    pub fn new(options: Options<'_>) -> Decoder {
        Decoder {
            reasoning: options.reasoning,
            answer: Cleaner::new(options.tool_cards),
            thinking: Cleaner::new(options.tool_cards),
            calls: (!options.tools.is_empty() && options.tool_choice != Some(&ToolChoice::None))
                .then(|| CallParser::new(options.tools, options.tool_choice)),
            next_call: 0,
            cards: HashMap::new(),
            assets_url: options.assets_url.trim_end_matches('/').to_string(),
            saw_answer: false,
            final_message: None,
            images: Vec::new(),
            previews: Vec::new(),
            video: None,
            thumbnail: None,
            finished: false,
            done: false,
            malformed: None,
            input_tokens: options.input_tokens,
            produced: String::new(),
            expect_video: options.video,
        }
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// One line of the body (without its line end).
    pub fn line(&mut self, line: &[u8], out: &mut VecDeque<Item>) {
        if self.done {
            return;
        }
        if let Some(previous) = self.malformed.take() {
            self.fail(ErrorKind::Protocol, format!("grok sent a malformed line: {previous}"), out);
            return;
        }
        let parsed: Line<'_> = match serde_json::from_slice(line) {
            Ok(parsed) => parsed,
            Err(e) => {
                self.malformed = Some(e.to_string());
                return;
            }
        };
        if let Some(error) = parsed.error {
            let (kind, message) = inband_error(error.get());
            self.fail(kind, message, out);
            return;
        }
        let Some(response) = parsed.result.and_then(|r| r.response) else { return };
        self.response(response, out);
    }

    fn response(&mut self, r: Response<'_>, out: &mut VecDeque<Item>) {
        if let Some(card) = &r.card {
            self.card(&card.json_data);
        }
        if let Some(token) = r.token.as_deref().filter(|t| !t.is_empty()) {
            let tag = r.message_tag.as_deref();
            if r.is_thinking == Some(true) {
                self.think(token, out);
            } else {
                match tag {
                    None | Some("final") | Some("tool_usage_card") => self.say(token, out),
                    Some(_) => self.think(token, out),
                }
            }
        }
        if let Some(image) = &r.image {
            let percent = image.progress.unwrap_or(0);
            out.push_back(Item::Progress {
                kind: MediaKind::Image,
                index: image.index.unwrap_or(0),
                percent,
            });
            if percent >= 100 && image.moderated != Some(true) {
                if let Some(url) = &image.url {
                    self.image(url);
                } else if let Some(asset) = &image.asset_id {
                    self.image(&format!("{asset}/content"));
                }
            }
        }
        if let Some(video) = &r.video {
            let percent = video.progress.unwrap_or(0);
            out.push_back(Item::Progress { kind: MediaKind::Video, index: 0, percent });
            if percent >= 100 {
                let url = video
                    .url
                    .as_deref()
                    .map(str::to_string)
                    .or_else(|| video.asset_id.as_deref().map(|a| format!("{a}/content")));
                if let Some(url) = url {
                    self.video = Some(self.absolute(&url));
                }
                if let Some(thumb) = &video.thumbnail {
                    self.thumbnail = Some(self.absolute(thumb));
                }
            }
        }
        if r.soft_stop == Some(true) || r.final_metadata.is_some() {
            self.finished = true;
        }
        if let Some(m) = r.model_response {
            self.finished = true;
            if let Some(errors) = m.stream_errors.filter(|e| !e.is_empty()) {
                let (kind, message) = stream_error(&errors);
                self.fail(kind, message, out);
                return;
            }
            for card in &m.card_attachments_json {
                self.card(card);
            }
            if let Some(card) = &m.card {
                self.card(&card.json_data);
            }
            for url in &m.generated_image_urls {
                self.image(url);
            }
            if self.video.is_none()
                && self.expect_video
                && let Some(asset) = m.file_attachments.first()
            {
                self.video = Some(self.absolute(&format!("{asset}/content")));
            }
            if let Some(message) = m.message.filter(|m| !m.trim().is_empty()) {
                self.final_message = Some(message.into_owned());
            }
        }
    }

    fn think(&mut self, token: &str, out: &mut VecDeque<Item>) {
        if !self.reasoning {
            return;
        }
        let mut text = String::new();
        self.thinking.push(token, &self.cards, &mut text);
        self.emit_thinking(text, out);
    }

    fn emit_thinking(&mut self, text: String, out: &mut VecDeque<Item>) {
        if !text.is_empty() {
            self.produced.push_str(&text);
            out.push_back(Item::Event(Event::Thinking(Text::from(text))));
        }
    }

    fn say(&mut self, token: &str, out: &mut VecDeque<Item>) {
        self.saw_answer = true;
        let mut text = String::new();
        self.answer.push(token, &self.cards, &mut text);
        self.emit_answer(text, out);
    }

    fn emit_answer(&mut self, text: String, out: &mut VecDeque<Item>) {
        if text.is_empty() {
            return;
        }
        let Some(calls) = &mut self.calls else {
            self.produced.push_str(&text);
            out.push_back(Item::Event(Event::Text(Text::from(text))));
            return;
        };
        let mut pieces = Vec::new();
        calls.push(&text, &mut pieces);
        self.emit_pieces(pieces, out);
    }

    fn emit_pieces(&mut self, pieces: Vec<Piece>, out: &mut VecDeque<Item>) {
        for piece in pieces {
            match piece {
                Piece::Text(text) => {
                    self.produced.push_str(&text);
                    out.push_back(Item::Event(Event::Text(Text::from(text))));
                }
                Piece::Call(call) => {
                    let index = self.next_call;
                    self.next_call += 1;
                    self.produced.push_str(&call.arguments);
                    out.push_back(Item::Event(Event::ToolCallStart {
                        index,
                        id: Text::from(call_id()),
                        name: Text::from(call.name),
                    }));
                    out.push_back(Item::Event(Event::ToolArgs {
                        index,
                        fragment: Text::from(call.arguments),
                    }));
                }
            }
        }
    }

    /// The body ended. `saw_lines` tells an empty body from a cut one.
    pub fn end(&mut self, saw_lines: bool, out: &mut VecDeque<Item>) {
        if self.done {
            return;
        }
        if let Some(why) = self.malformed.take() {
            self.fail(ErrorKind::StreamCut, format!("grok's stream ended inside a line ({why})"), out);
            return;
        }
        if !self.finished {
            let kind = if saw_lines { ErrorKind::StreamCut } else { ErrorKind::EmptyResponse };
            self.fail(kind, "grok's stream ended before its final response".into(), out);
            return;
        }
        let mut thinking = String::new();
        self.thinking.finish(&mut thinking);
        self.emit_thinking(thinking, out);
        let mut text = String::new();
        if !self.saw_answer
            && let Some(message) = self.final_message.take()
        {
            self.answer.push(&message, &self.cards, &mut text);
        }
        self.answer.finish(&mut text);
        self.emit_answer(text, out);
        if let Some(calls) = &mut self.calls {
            let mut pieces = Vec::new();
            calls.finish(&mut pieces);
            self.emit_pieces(pieces, out);
        }
        for url in self.final_images() {
            out.push_back(Item::Asset { kind: MediaKind::Image, url });
        }
        if let Some(video) = self.video.take() {
            out.push_back(Item::Asset { kind: MediaKind::Video, url: video });
            if let Some(thumb) = self.thumbnail.take() {
                out.push_back(Item::Asset { kind: MediaKind::Image, url: thumb });
            }
        }
        let stop = if self.next_call > 0 { StopReason::ToolUse } else { StopReason::EndTurn };
        let output = crate::tokens::count_text(&self.produced);
        let usage = Usage { input: Some(self.input_tokens), output: Some(output), ..Usage::default() };
        out.push_back(Item::End { stop, usage });
        self.done = true;
    }

    /// Finals in order, then each preview whose final never came.
    fn final_images(&mut self) -> Vec<String> {
        let mut urls = std::mem::take(&mut self.images);
        for preview in std::mem::take(&mut self.previews) {
            let full = preview.replace("-part-0/", "/");
            if !urls.contains(&full) && !urls.contains(&preview) {
                urls.push(preview);
            }
        }
        urls
    }

    fn image(&mut self, url: &str) {
        let url = self.absolute(url);
        let list = if url.contains("-part-0/") { &mut self.previews } else { &mut self.images };
        if !list.contains(&url) {
            list.push(url);
        }
    }

    fn card(&mut self, json: &str) {
        let Ok(card) = serde_json::from_str::<serde_json::Value>(json) else { return };
        let card = match card.get("jsonData").and_then(|d| d.as_str()) {
            Some(inner) => serde_json::from_str(inner).unwrap_or(card),
            None => card,
        };
        if let (Some(id), Some(url)) = (card["id"].as_str(), card["url"].as_str()) {
            self.cards.insert(id.to_string(), url.to_string());
        }
        let chunk = card.get("image_chunk").or_else(|| card.get("imageChunk"));
        if let Some(chunk) = chunk
            && chunk["progress"].as_u64().unwrap_or(100) >= 100
            && chunk["moderated"].as_bool() != Some(true)
            && let Some(url) = chunk["imageUrl"].as_str()
        {
            self.image(url);
        }
    }

    /// Resolves a relative asset path against the asset host.
    fn absolute(&self, url: &str) -> String {
        if url.starts_with("http://") || url.starts_with("https://") {
            url.to_string()
        } else {
            format!("{}/{}", self.assets_url, url.trim_start_matches('/'))
        }
    }

    fn fail(&mut self, kind: ErrorKind, message: String, out: &mut VecDeque<Item>) {
        out.push_back(Item::Event(Event::Error(UpstreamError::new(kind).with_message(message))));
        self.done = true;
    }
}

/// A tool call id in OpenAI's style, which Anthropic clients accept as well.
fn call_id() -> String {
    let bytes: [u8; 12] = rand::random();
    format!("call_{}", hex::encode(bytes))
}

/// Kind and message of an in-band `{"error":…}` (§3.7): code 8 or "too many requests" is a rate
/// limit; an unknown model is the request's fault.
pub fn inband_error(raw: &str) -> (ErrorKind, String) {
    #[derive(Deserialize)]
    struct Detail {
        code: Option<serde_json::Value>,
        message: Option<String>,
    }
    let detail: Option<Detail> = serde_json::from_str(raw).ok();
    let message =
        detail.as_ref().and_then(|d| d.message.clone()).unwrap_or_else(|| raw.chars().take(200).collect());
    let code = detail.and_then(|d| d.code);
    let lower = message.to_ascii_lowercase();
    let kind = if code.as_ref().and_then(|c| c.as_i64()) == Some(8)
        || lower.contains("too many requests")
        || lower.contains("rate limit")
    {
        ErrorKind::RateLimited
    } else if lower.contains("model is not found") || lower.contains("model not found") {
        ErrorKind::ModelNotFound
    } else {
        ErrorKind::Server
    };
    (kind, format!("grok: {message}"))
}

fn stream_error(errors: &[StreamError<'_>]) -> (ErrorKind, String) {
    let first = &errors[0];
    let message = first.message.as_deref().unwrap_or("stream error").to_string();
    let lower = message.to_ascii_lowercase();
    let limited = first.rate_limited.is_some()
        || lower.contains("generation limit")
        || lower.contains("try again later")
        || lower.contains("too many requests");
    let kind = if limited { ErrorKind::RateLimited } else { ErrorKind::Server };
    (kind, format!("grok: {message}"))
}

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    result: Option<ResultObject<'a>>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ResultObject<'a> {
    #[serde(borrow)]
    response: Option<Response<'a>>,
}

#[derive(Deserialize)]
struct Response<'a> {
    #[serde(borrow)]
    token: Option<Cow<'a, str>>,
    #[serde(rename = "isThinking")]
    is_thinking: Option<bool>,
    #[serde(rename = "messageTag", borrow)]
    message_tag: Option<Cow<'a, str>>,
    #[serde(rename = "modelResponse", alias = "model_response", borrow)]
    model_response: Option<ModelResponse<'a>>,
    #[serde(
        rename = "streamingImageGenerationResponse",
        alias = "streaming_image_generation_response",
        borrow
    )]
    image: Option<ImageProgress<'a>>,
    #[serde(
        rename = "streamingVideoGenerationResponse",
        alias = "streaming_video_generation_response",
        borrow
    )]
    video: Option<VideoProgress<'a>>,
    #[serde(rename = "cardAttachment", borrow)]
    card: Option<Card<'a>>,
    #[serde(rename = "isSoftStop")]
    soft_stop: Option<bool>,
    #[serde(rename = "finalMetadata", borrow)]
    final_metadata: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ModelResponse<'a> {
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(rename = "generatedImageUrls", default, borrow)]
    generated_image_urls: Vec<Cow<'a, str>>,
    #[serde(rename = "streamErrors", borrow)]
    stream_errors: Option<Vec<StreamError<'a>>>,
    #[serde(rename = "cardAttachmentsJson", default, borrow)]
    card_attachments_json: Vec<Cow<'a, str>>,
    #[serde(rename = "cardAttachment", borrow)]
    card: Option<Card<'a>>,
    #[serde(rename = "fileAttachments", default, borrow)]
    file_attachments: Vec<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct StreamError<'a> {
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(rename = "renderToolRateLimited", borrow)]
    rate_limited: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Card<'a> {
    #[serde(rename = "jsonData", borrow)]
    json_data: Cow<'a, str>,
}

#[derive(Deserialize)]
struct ImageProgress<'a> {
    #[serde(rename = "imageIndex", alias = "image_index")]
    index: Option<u32>,
    #[serde(rename = "imageUrl", alias = "image_url", borrow)]
    url: Option<Cow<'a, str>>,
    #[serde(alias = "percentage")]
    progress: Option<u32>,
    #[serde(rename = "assetId", borrow)]
    asset_id: Option<Cow<'a, str>>,
    moderated: Option<bool>,
}

#[derive(Deserialize)]
struct VideoProgress<'a> {
    progress: Option<u32>,
    #[serde(rename = "videoUrl", borrow)]
    url: Option<Cow<'a, str>>,
    #[serde(rename = "thumbnailImageUrl", borrow)]
    thumbnail: Option<Cow<'a, str>>,
    #[serde(rename = "assetId", borrow)]
    asset_id: Option<Cow<'a, str>>,
}

#[cfg(test)]
mod tests;
