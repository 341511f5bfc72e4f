//! The `grok` channel: grok.com's web app with an account's SSO cookie (fact sheet
//! `upstreams/grok.md`).
//!
//! Every request opens a new temporary conversation (`POST /rest/app-chat/conversations/new`)
//! whose answer is an NDJSON stream, decoded live by [`decode`]. What the model row's upstream
//! field says ([`spec`]) decides the flow: a text mode chats; an image model draws; the edit
//! model edits uploaded images; a video model creates a media post, then generates. Files the
//! answer produces are downloaded from the asset host (cookies go to grok hosts only) and put in
//! the gateway's media cache; the answer carries their local URLs.

mod assets;
mod client;
pub mod decode;
pub mod markup;
mod payload;
pub mod quota;
mod spec;
pub mod tools;

pub use markup::ToolCards;
pub use spec::mode_of;

/// Does the model spec name the image edit model?
pub fn is_edit_model(upstream_model: &str) -> bool {
    Spec::parse(upstream_model).is_edit()
}

use crate::channels::{Call, Channel, EventStream, MediaSink};
use crate::ir::{ErrorKind, Event, MediaKind, UpstreamError};
use crate::media::fetch::{FetchPolicy, Fetcher};
use crate::pool::{AccountInfo, Pool};
use crate::stream::ndjson::{NdjsonFramer, NdjsonItem};
use crate::upstream::Upstream;
use client::Client;
use decode::{Decoder, Item};
use futures_util::future::BoxFuture;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{Value, json};
use spec::Spec;
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::mpsc;

/// How the channel is set up.
#[derive(Clone)]
pub struct Options {
    pub upstream: Upstream,
    /// grok.com's web API, for accounts without a base URL of their own.
    pub base_url: String,
    /// The asset host generated files come from.
    pub assets_url: String,
    pub media: Arc<dyn MediaSink>,
    pub tool_cards: ToolCards,
    /// Where each account's quota per mode is kept.
    pub pool: Arc<Pool>,
    /// Downloads generated files and the files clients link to.
    pub fetcher: Arc<Fetcher>,
    /// What a client's linked files may be fetched from.
    pub client_urls: FetchPolicy,
}

pub struct GrokChannel {
    options: Arc<Options>,
}

impl GrokChannel {
    pub fn new(mut options: Options) -> GrokChannel {
        options.base_url = options.base_url.trim_end_matches('/').to_string();
        options.assets_url = options.assets_url.trim_end_matches('/').to_string();
        GrokChannel { options: Arc::new(options) }
    }

    /// A LiveKit token for grok's voice mode with this account (fact sheet §6.1):
    /// `{"token","url","participant_name","room_name"}`.
    pub async fn voice_token(
        &self,
        account: &AccountInfo,
        voice: &str,
        personality: &str,
        speed: f64,
    ) -> Result<Value, UpstreamError> {
        const LIVEKIT: &str = "wss://livekit.grok.com";
        let client = client(&self.options, account)?;
        let session = json!({
            "enable_vision": false,
            "personality": personality,
            "playback_speed": speed,
            "turn_detection": {"type": "server_vad"},
            "voice": voice,
        });
        let body = json!({
            "livekitUrl": LIVEKIT,
            "params": {"enable_markdown_transcript": "true"},
            "requestAgentDispatch": false,
            "sessionPayload": session.to_string(),
        });
        let answer = client.post_json("/rest/livekit/tokens", "/", &body).await?;
        let text =
            |keys: &[&str]| keys.iter().find_map(|k| answer.get(*k)?.as_str()).unwrap_or("").to_string();
        let token = text(&["token"]);
        if token.is_empty() {
            return Err(
                UpstreamError::new(ErrorKind::EmptyResponse).with_message("grok returned no voice token")
            );
        }
        let url = Some(text(&["livekitUrl", "url"]))
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| LIVEKIT.to_string());
        Ok(json!({
            "token": token,
            "url": url,
            "participant_name": text(&["participantName", "participant_name", "identity"]),
            "room_name": text(&["roomName", "room_name", "room"]),
        }))
    }

    /// Reads every account's quotas on a schedule until `stop` changes.
    pub fn spawn_quota_reader(
        &self,
        every: std::time::Duration,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        quota::spawn_scheduler(self.options.clone(), every, stop)
    }
}

fn client(options: &Options, account: &AccountInfo) -> Result<Client, UpstreamError> {
    let base = match account.base_url.trim_end_matches('/') {
        "" => options.base_url.clone(),
        own => own.to_string(),
    };
    Ok(Client {
        upstream: options.upstream.clone(),
        base,
        cookie: client::cookie(account.credential.expose())?,
    })
}

impl Channel for GrokChannel {
    fn call(&self, call: Call) -> BoxFuture<'static, Result<EventStream, UpstreamError>> {
        let options = self.options.clone();
        Box::pin(async move {
            let client = client(&options, &call.account)?;
            let spec = Spec::parse(&call.upstream_model);
            let request = &call.request;
            let flat = payload::flatten(request);
            let (body, kind) = match &spec.model {
                None => {
                    let files = upload_all(&client, &options, &flat.attachments).await?;
                    if flat.message.trim().is_empty() {
                        return Err(invalid("the conversation has no text to send"));
                    }
                    (payload::chat(request, &spec, &flat.message, &files.ids), Flow::Chat)
                }
                Some(_) if spec.is_edit() => {
                    let files = upload_all(&client, &options, &flat.attachments).await?;
                    if files.uris.is_empty() {
                        return Err(invalid("an image edit needs at least one image"));
                    }
                    let references: Vec<String> = files
                        .uris
                        .iter()
                        .map(|u| format!("{}/{}", options.assets_url, u.trim_start_matches('/')))
                        .collect();
                    let post = media_post(
                        &client,
                        json!({"mediaType":"MEDIA_POST_TYPE_IMAGE","mediaUrl": references[0]}),
                    )
                    .await
                    .ok();
                    let n = request.media.as_ref().map_or(2, |m| m.n);
                    (payload::edit(&spec, prompt_of(&flat)?, n, &references, post.as_deref()), Flow::Image)
                }
                Some(model) if model.contains("video") => {
                    let prompt = prompt_of(&flat)?;
                    let post =
                        media_post(&client, json!({"mediaType":"MEDIA_POST_TYPE_VIDEO","prompt": prompt}))
                            .await?;
                    let ratio =
                        request.media.as_ref().and_then(|m| m.aspect_ratio.as_deref()).unwrap_or("3:2");
                    (payload::video(&spec, prompt, &post, ratio), Flow::Video)
                }
                Some(_) => {
                    let n = request.media.as_ref().map_or(2, |m| m.n);
                    let ratio = request.media.as_ref().and_then(|m| m.aspect_ratio.as_deref());
                    (payload::image(&spec, prompt_of(&flat)?, n, ratio), Flow::Image)
                }
            };
            let body = client.post(client::CHAT_PATH, "/", &body).await?;
            let decoder = Decoder::new(decode::Options {
                reasoning: spec.reasoning,
                tool_cards: options.tool_cards,
                tools: &request.tools,
                tool_choice: request.tool_choice.as_ref(),
                assets_url: &options.assets_url,
                input_tokens: crate::tokens::count_text(&flat.message),
                video: kind == Flow::Video,
            });
            let account = call.account.id;
            Ok(spawn_answer(body, decoder, kind, client, options, Quota { account, mode: spec.mode }))
        })
    }

    /// `POST /rest/rate-limits` for the fast mode: proves the cookie works without spending a query.
    fn check(&self, account: Arc<AccountInfo>) -> BoxFuture<'static, Result<(), UpstreamError>> {
        let options = self.options.clone();
        Box::pin(async move {
            let client = client(&options, &account)?;
            client
                .post_json("/rest/rate-limits", "/", &json!({"requestKind":"DEFAULT","modelName":"fast"}))
                .await
                .map(drop)
        })
    }
}

/// What kind of answer the request expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    Chat,
    Image,
    Video,
}

fn invalid(message: &str) -> UpstreamError {
    UpstreamError::new(ErrorKind::InvalidRequest).with_message(message)
}

fn prompt_of(flat: &payload::Flat) -> Result<&str, UpstreamError> {
    let prompt = flat.message.trim();
    if prompt.is_empty() { Err(invalid("the prompt is empty")) } else { Ok(prompt) }
}

/// Uploaded files: the ids chat refers to, and the asset paths edits refer to.
#[derive(Default)]
struct Uploaded {
    ids: Vec<String>,
    uris: Vec<String>,
}

/// Uploads the request's files with this account (an upload belongs to the account that chats).
async fn upload_all(
    client: &Client,
    options: &Options,
    attachments: &[payload::Attachment],
) -> Result<Uploaded, UpstreamError> {
    let mut uploaded = Uploaded::default();
    for attachment in attachments {
        let (mime, data) = match attachment {
            payload::Attachment::Inline { mime, data } => (mime.clone(), data.clone()),
            payload::Attachment::Url(url) => {
                assets::fetch_for_upload(&options.fetcher, &options.client_urls, url).await?
            }
        };
        let subtype = mime.split('/').nth(1).unwrap_or("bin").split(';').next().unwrap_or("bin");
        let answer = client
            .post_json(
                "/rest/app-chat/upload-file",
                "/files",
                &json!({"fileName": format!("file.{subtype}"), "fileMimeType": mime, "content": data}),
            )
            .await?;
        let id = answer.get("fileMetadataId").and_then(Value::as_str).unwrap_or_default();
        let uri = answer.get("fileUri").and_then(Value::as_str).unwrap_or_default();
        if id.is_empty() && uri.is_empty() {
            return Err(UpstreamError::new(ErrorKind::Protocol)
                .with_message("grok accepted an upload but named no file"));
        }
        uploaded.ids.push(if id.is_empty() { uri.to_string() } else { id.to_string() });
        uploaded.uris.push(if uri.is_empty() { id.to_string() } else { uri.to_string() });
    }
    Ok(uploaded)
}

/// `POST /rest/media/post/create` → the post id (`{"post":{"id":…}}` or a flat `{"id":…}`).
async fn media_post(client: &Client, body: Value) -> Result<String, UpstreamError> {
    let answer = client.post_json("/rest/media/post/create", "/imagine", &body).await?;
    answer
        .pointer("/post/id")
        .or_else(|| answer.get("id"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            UpstreamError::new(ErrorKind::Protocol).with_message("grok created a media post without an id")
        })
}

/// The quota an answer drew on, read again once it is complete.
struct Quota {
    account: u64,
    mode: String,
}

/// Events to the client as the answer streams; generated files are cached before the end.
fn spawn_answer(
    body: Incoming,
    decoder: Decoder,
    flow: Flow,
    client: Client,
    options: Arc<Options>,
    quota: Quota,
) -> EventStream {
    let (tx, rx) = mpsc::channel::<Event>(64);
    tokio::spawn(async move {
        let closed = tx.clone();
        tokio::select! {
            () = relay_answer(body, decoder, flow, &client, &options, tx) => {}
            // The client went away: dropping the body cancels the upstream call.
            () = closed.closed() => {}
        }
        quota::refresh_after_use(&client, &options.pool, quota.account, &quota.mode).await;
    });
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) }))
}

async fn relay_answer(
    mut body: Incoming,
    mut decoder: Decoder,
    flow: Flow,
    client: &Client,
    options: &Options,
    tx: mpsc::Sender<Event>,
) {
    let mut framer = NdjsonFramer::new();
    let mut items = VecDeque::new();
    let mut saw_lines = false;
    let mut assets: Vec<(MediaKind, String)> = Vec::new();
    let mut last_percent = 0;
    loop {
        loop {
            match framer.next_item() {
                Ok(Some(NdjsonItem::Line(line))) => {
                    saw_lines = true;
                    decoder.line(&line, &mut items);
                }
                Ok(Some(NdjsonItem::Done)) => {}
                Ok(None) => break,
                Err(e) => {
                    let _ = tx
                        .send(Event::Error(
                            UpstreamError::new(ErrorKind::Protocol).with_message(e.to_string()),
                        ))
                        .await;
                    return;
                }
            }
        }
        if decoder.is_done() && items.is_empty() {
            break;
        }
        while let Some(item) = items.pop_front() {
            match item {
                Item::Event(event) => {
                    if tx.send(event).await.is_err() {
                        return;
                    }
                }
                Item::Progress { kind: MediaKind::Video, percent, .. } if flow == Flow::Video => {
                    if percent > last_percent && percent < 100 {
                        last_percent = percent;
                        let line = format!("Generating video… {percent}%\n");
                        if tx.send(Event::Text(line.into())).await.is_err() {
                            return;
                        }
                    }
                }
                Item::Progress { kind, index, percent } => {
                    if tx.send(Event::MediaProgress { kind, index, percent }).await.is_err() {
                        return;
                    }
                }
                Item::Asset { kind, url } => assets.push((kind, url)),
                Item::End { stop, usage } => {
                    if !store_assets(&assets, flow, client, options, &tx).await {
                        return;
                    }
                    let _ = tx.send(Event::Usage(usage)).await;
                    let _ = tx.send(Event::Stop(stop)).await;
                    return;
                }
            }
        }
        if decoder.is_done() {
            return;
        }
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    framer.push(data);
                }
            }
            Some(Err(e)) => {
                let error = UpstreamError::new(ErrorKind::StreamCut)
                    .with_message(format!("grok connection failed: {e}"));
                let _ = tx.send(Event::Error(error)).await;
                return;
            }
            None => {
                if let Some(NdjsonItem::Line(line)) = framer.finish() {
                    saw_lines = true;
                    decoder.line(&line, &mut items);
                }
                decoder.end(saw_lines, &mut items);
            }
        }
    }
}

/// Downloads and caches each asset, sending its [`Event::Media`]. False when the client left or
/// when an image/video request ends without any file.
async fn store_assets(
    assets: &[(MediaKind, String)],
    flow: Flow,
    client: &Client,
    options: &Options,
    tx: &mpsc::Sender<Event>,
) -> bool {
    let mut stored = 0;
    for (kind, url) in assets {
        match assets::download(&options.fetcher, client, &options.assets_url, url).await {
            Ok((bytes, mime)) => match options.media.put(*kind, bytes, &mime).await {
                Ok(media) => {
                    stored += 1;
                    if tx.send(Event::Media(media)).await.is_err() {
                        return false;
                    }
                }
                Err(e) => tracing::warn!(%e, "grok: a generated file could not be cached"),
            },
            Err(e) => tracing::warn!(error = %e, "grok: a generated file could not be downloaded"),
        }
    }
    if stored == 0 && flow != Flow::Chat {
        let what = if flow == Flow::Video { "video" } else { "image" };
        let error =
            UpstreamError::new(ErrorKind::EmptyResponse).with_message(format!("grok generated no {what}"));
        let _ = tx.send(Event::Error(error)).await;
        return false;
    }
    true
}
