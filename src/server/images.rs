//! `POST /v1/images/generations` and `POST /v1/images/edits` (OpenAI Images API), on the
//! channels that generate images (grok).
//!
//! A generation is a chat request to an image model carrying a [`MediaRequest`]; the channel
//! answers with [`Event::Media`] files already in the media cache. Upstreams make a few images
//! per call, so up to [`MAX_ROUNDS`] calls gather `n`. The answer lists each file's URL
//! (`response_format=url`, the default) or its bytes in base64 (`b64_json`); with `stream`,
//! each image is an `image_generation.completed` event as soon as it is in.

use super::body::ResponseBody;
use super::{Reply, State, auth, read_body};
use crate::channels::ChannelKind;
use crate::dialect::{ApiError, Dialect};
use crate::ir::{
    Block, ChatRequest, Event, MediaKind, MediaRef, MediaRequest, MediaSource, Message, Role, Text,
};
use crate::models::Model;
use crate::relay::Plan;
use crate::store::ModelKind;
use base64::Engine;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// Upstream calls one request may make to gather `n` images.
const MAX_ROUNDS: usize = 4;
/// Most images one request may ask for.
const MAX_N: i64 = 10;
/// Most input images one edit takes.
const MAX_EDIT_IMAGES: usize = 16;

/// Image sizes clients send, as the aspect ratios the upstream takes.
const SIZES: [(&str, &str); 15] = [
    ("1024x1024", "1:1"),
    ("512x512", "1:1"),
    ("256x256", "1:1"),
    ("1024x576", "16:9"),
    ("1280x720", "16:9"),
    ("1536x864", "16:9"),
    ("1792x1024", "16:9"),
    ("576x1024", "9:16"),
    ("720x1280", "9:16"),
    ("864x1536", "9:16"),
    ("1024x1792", "9:16"),
    ("1024x1536", "2:3"),
    ("768x1024", "2:3"),
    ("1536x1024", "3:2"),
    ("1024x768", "3:2"),
];
const RATIOS: [&str; 5] = ["1:1", "16:9", "9:16", "2:3", "3:2"];

/// What the gathering task hands the response: progress, an image, or why there is none.
enum Gathered {
    Progress { index: u32, percent: u32 },
    Image(MediaRef),
    Failed(ApiError),
}

/// What an images request asks for, from JSON or a multipart form.
#[derive(Debug, Default)]
struct Ask {
    model: Option<String>,
    prompt: String,
    n: u8,
    aspect_ratio: Option<String>,
    b64: bool,
    stream: bool,
    /// Edits: the input images.
    images: Vec<MediaSource>,
}

#[derive(Deserialize)]
struct GenerationBody {
    model: Option<String>,
    prompt: Option<String>,
    n: Option<i64>,
    size: Option<String>,
    aspect_ratio: Option<String>,
    response_format: Option<String>,
    stream: Option<bool>,
}

pub async fn generations(
    state: &Arc<State>,
    request: Request<Incoming>,
    pin: Option<ChannelKind>,
) -> Result<Reply, ApiError> {
    let key = auth::authenticate(&state.live, request.headers())?;
    let (parts, body) = request.into_parts();
    let body = read_body(body, &parts.headers, state.max_body).await?;
    let parsed: GenerationBody = serde_json::from_slice(&body).map_err(ApiError::invalid_json)?;
    let ask = Ask {
        model: parsed.model,
        prompt: prompt(parsed.prompt)?,
        n: count(parsed.n)?,
        aspect_ratio: aspect_ratio(parsed.size.as_deref(), parsed.aspect_ratio.as_deref())?,
        b64: response_format(parsed.response_format.as_deref())?,
        stream: parsed.stream.unwrap_or(false),
        images: Vec::new(),
    };
    run(state, key, ask, pin, false).await
}

pub async fn edits(
    state: &Arc<State>,
    request: Request<Incoming>,
    pin: Option<ChannelKind>,
) -> Result<Reply, ApiError> {
    let key = auth::authenticate(&state.live, request.headers())?;
    let (parts, body) = request.into_parts();
    let boundary = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or_else(|| ApiError::bad_request("an image edit is a multipart/form-data request"))?;
    let body = read_body(body, &parts.headers, state.max_body).await?;
    let ask = edit_form(body, boundary, state.max_image_bytes).await?;
    run(state, key, ask, pin, true).await
}

async fn edit_form(body: Bytes, boundary: String, max_image_bytes: u64) -> Result<Ask, ApiError> {
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut ask = Ask { n: 1, ..Ask::default() };
    let (mut prompt_text, mut n, mut size, mut format) = (None, None, None, None);
    let bad_form = |e: multer::Error| ApiError::bad_request(format!("unreadable form: {e}"));
    while let Some(field) = form.next_field().await.map_err(bad_form)? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "image" | "image[]" => {
                let declared = field.content_type().map(|m| m.essence_str().to_string());
                let file_name = field.file_name().unwrap_or_default().to_ascii_lowercase();
                let bytes = field.bytes().await.map_err(bad_form)?;
                if bytes.len() as u64 > max_image_bytes {
                    return Err(ApiError::bad_request(format!(
                        "an image is larger than {max_image_bytes} bytes"
                    ))
                    .with_param("image"));
                }
                let mime = image_mime(declared.as_deref(), &file_name, &bytes).ok_or_else(|| {
                    ApiError::bad_request("images must be PNG, JPEG or WebP").with_param("image")
                })?;
                if ask.images.len() == MAX_EDIT_IMAGES {
                    return Err(ApiError::bad_request(format!("at most {MAX_EDIT_IMAGES} images"))
                        .with_param("image"));
                }
                let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
                ask.images.push(MediaSource::Base64 { media_type: mime.to_string(), data });
            }
            "mask" => return Err(ApiError::bad_request("masks are not supported").with_param("mask")),
            _ => {
                let text = field.text().await.map_err(bad_form)?;
                match name.as_str() {
                    "prompt" => prompt_text = Some(text),
                    "model" => ask.model = Some(text),
                    "n" => n = Some(text.trim().parse::<i64>().map_err(|_| bad_n())?),
                    "size" => size = Some(text),
                    "response_format" => format = Some(text),
                    "stream" => ask.stream = text.trim() == "true",
                    _ => {}
                }
            }
        }
    }
    if ask.images.is_empty() {
        return Err(ApiError::bad_request("an image edit needs an `image`").with_param("image"));
    }
    ask.prompt = prompt(prompt_text)?;
    ask.n = count(n)?;
    ask.aspect_ratio = aspect_ratio(size.as_deref(), None)?;
    ask.b64 = response_format(format.as_deref())?;
    Ok(ask)
}

/// The type of an uploaded image: its part's type, else its name, else its first bytes.
fn image_mime(declared: Option<&str>, file_name: &str, bytes: &[u8]) -> Option<&'static str> {
    let by_type = |t: &str| match t {
        "image/png" => Some("image/png"),
        "image/jpeg" | "image/jpg" => Some("image/jpeg"),
        "image/webp" => Some("image/webp"),
        _ => None,
    };
    if let Some(m) = declared.and_then(by_type) {
        return Some(m);
    }
    let by_name = match file_name.rsplit('.').next() {
        Some("png") => Some("image/png"),
        Some("jpg" | "jpeg") => Some("image/jpeg"),
        Some("webp") => Some("image/webp"),
        _ => None,
    };
    by_name.or(match bytes {
        [0x89, b'P', b'N', b'G', ..] => Some("image/png"),
        [0xff, 0xd8, 0xff, ..] => Some("image/jpeg"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        _ => None,
    })
}

fn prompt(prompt: Option<String>) -> Result<String, ApiError> {
    match prompt.map(|p| p.trim().to_string()) {
        Some(p) if !p.is_empty() => Ok(p),
        _ => Err(ApiError::bad_request("`prompt` is required").with_param("prompt")),
    }
}

fn bad_n() -> ApiError {
    ApiError::bad_request(format!("`n` must be between 1 and {MAX_N}")).with_param("n")
}

fn count(n: Option<i64>) -> Result<u8, ApiError> {
    match n.unwrap_or(1) {
        n @ 1..=MAX_N => Ok(n as u8),
        _ => Err(bad_n()),
    }
}

fn aspect_ratio(size: Option<&str>, ratio: Option<&str>) -> Result<Option<String>, ApiError> {
    if let Some(r) = ratio.map(str::trim).filter(|r| !r.is_empty()) {
        return RATIOS.contains(&r).then(|| Some(r.to_string())).ok_or_else(|| {
            ApiError::bad_request(format!("`aspect_ratio` must be one of {}", RATIOS.join(", ")))
        });
    }
    let Some(size) = size.map(str::trim).filter(|s| !s.is_empty() && *s != "auto") else { return Ok(None) };
    if RATIOS.contains(&size) {
        return Ok(Some(size.to_string()));
    }
    SIZES.iter().find(|(s, _)| *s == size).map(|(_, r)| Some(r.to_string())).ok_or_else(|| {
        let sizes: Vec<&str> = SIZES.iter().map(|(s, _)| *s).collect();
        ApiError::bad_request(format!("`size` must be one of {}", sizes.join(", "))).with_param("size")
    })
}

fn response_format(format: Option<&str>) -> Result<bool, ApiError> {
    match format.map(str::trim) {
        None | Some("" | "url") => Ok(false),
        Some("b64_json" | "base64") => Ok(true),
        Some(_) => Err(ApiError::bad_request("`response_format` must be `url` or `b64_json`")
            .with_param("response_format")),
    }
}

/// The image model to use: the one named, or the channel's first of the right kind.
fn image_model(
    state: &State,
    name: Option<&str>,
    pin: Option<ChannelKind>,
    edit: bool,
) -> Result<Model, ApiError> {
    let models = state.live.models.load();
    let fits = |m: &Model| {
        m.kind == ModelKind::Image && crate::channels::edits_images(m.channel, &m.upstream) == edit
    };
    let model = match name {
        Some(id) => {
            let model = models.candidates(id, pin).next().ok_or_else(|| ApiError::model_not_found(id))?;
            if !fits(model) {
                let want = if edit { "an image edit model" } else { "an image generation model" };
                return Err(ApiError::bad_request(format!("`{id}` is not {want}")).with_param("model"));
            }
            model
        }
        None => models
            .iter()
            .filter(|m| pin.is_none_or(|p| m.channel == p))
            .find(|m| fits(m) && state.live.pool.serves(m.channel, &m.upstream))
            .ok_or_else(|| ApiError::bad_request("no image model is configured").with_param("model"))?,
    };
    Ok(model.clone())
}

async fn run(
    state: &Arc<State>,
    key: Option<Arc<crate::state::keys::ClientKey>>,
    ask: Ask,
    pin: Option<ChannelKind>,
    edit: bool,
) -> Result<Reply, ApiError> {
    let model = image_model(state, ask.model.as_deref(), pin, edit)?;
    if let Some(key) = &key
        && !key.allows(&model.id)
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "model_not_allowed",
            format!("this API key may not use model `{}`", model.id),
        )
        .with_param("model"));
    }
    let runtime = state.runtime();
    let slot = state.admit(Dialect::OpenAi).await?;
    let key_slot = match &key {
        Some(key) => auth::admit_key(&state.live, key, Dialect::OpenAi, runtime.concurrency_queue).await?,
        None => None,
    };
    let mut content = vec![Block::Text(Text::from(ask.prompt.as_str()))];
    content.extend(ask.images.iter().cloned().map(Block::Image));
    let base = ChatRequest {
        model: model.id.clone(),
        messages: vec![Message { role: Role::User, content }],
        key_id: key.as_ref().map(|k| k.id),
        ..ChatRequest::default()
    };
    let plan = Plan {
        request_timeout: runtime.request_timeout,
        idle_timeout: runtime.stream_idle_timeout,
        commit_by: None,
        max_retries: runtime.max_retries,
        retry_delay: runtime.retry_delay,
        session_ttl: runtime.session_ttl,
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Gathered>(16);
    let gather = {
        let (state, model) = (state.clone(), model.clone());
        let (n, ratio) = (ask.n, ask.aspect_ratio.clone());
        async move {
            let _slots = (slot, key_slot);
            let mut got = 0u8;
            for _ in 0..MAX_ROUNDS {
                let mut request = base.clone();
                request.media = Some(MediaRequest { n: n - got, aspect_ratio: ratio.clone() });
                let failure = match state.relay.run(Arc::new(request), &model, plan).await {
                    Ok(committed) => {
                        let mut events = futures_util::stream::iter(committed.prefix).chain(committed.rest);
                        let mut failure = None;
                        while let Some(event) = events.next().await {
                            match event {
                                Event::Media(m) if m.kind == MediaKind::Image && got < n => {
                                    got += 1;
                                    if tx.send(Gathered::Image(m)).await.is_err() {
                                        return;
                                    }
                                }
                                Event::MediaProgress { kind: MediaKind::Image, index, percent }
                                    if percent < 100 && got + (index as u8) < n =>
                                {
                                    let index = u32::from(got) + index;
                                    if tx.send(Gathered::Progress { index, percent }).await.is_err() {
                                        return;
                                    }
                                }
                                Event::Error(e) => failure = Some(ApiError::from(&e)),
                                _ => {}
                            }
                        }
                        failure
                    }
                    Err(e) => Some(super::chat::relay_error(e)),
                };
                if got == n {
                    return;
                }
                if let Some(e) = failure {
                    // Images already sent stand; with none, the client hears why.
                    if got == 0 {
                        let _ = tx.send(Gathered::Failed(e)).await;
                    }
                    return;
                }
            }
            if got == 0 {
                let _ = tx
                    .send(Gathered::Failed(ApiError::new(
                        StatusCode::BAD_GATEWAY,
                        "no_image_generated",
                        "the upstream generated no image",
                    )))
                    .await;
            }
        }
    };
    tokio::spawn(gather);
    let created = crate::time::now_ms() / 1000;
    if ask.stream {
        let (media, b64) = (state.media.clone(), ask.b64);
        let field = if b64 { "b64_json" } else { "url" };
        let frames = futures_util::stream::unfold((rx, false, 0u32), move |(mut rx, done, images)| {
            let media = media.clone();
            async move {
                if done {
                    return None;
                }
                let mut next = images;
                let frame = match rx.recv().await {
                    Some(Gathered::Image(image)) => match output(&media, &image, b64).await {
                        Ok((field, value)) => {
                            let index = images;
                            next += 1;
                            let data = json!({"type": "image_generation.completed", "created_at": created, "index": index, field: value});
                            format!("event: image_generation.completed\ndata: {data}\n\n")
                        }
                        Err(e) => error_frame(&e),
                    },
                    Some(Gathered::Progress { index, percent }) => {
                        let data = json!({"type": "image_generation.partial_image", "created_at": created, "index": index, "partial_image_index": 0, "progress": percent, field: ""});
                        format!("event: image_generation.partial_image\ndata: {data}\n\n")
                    }
                    Some(Gathered::Failed(e)) => error_frame(&e),
                    None => return Some((Bytes::from_static(b"data: [DONE]\n\n"), (rx, true, images))),
                };
                Some((Bytes::from(frame), (rx, false, next)))
            }
        });
        let mut response = Response::new(ResponseBody::stream(frames));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        return Ok(response);
    }
    let mut data = Vec::new();
    while let Some(gathered) = rx.recv().await {
        match gathered {
            Gathered::Image(image) => {
                let (field, value) = output(&state.media, &image, ask.b64).await?;
                data.push(json!({ field: value, "revised_prompt": null }));
            }
            Gathered::Progress { .. } => {}
            Gathered::Failed(e) => return Err(e),
        }
    }
    let body = json!({"created": created, "data": data});
    let mut response = Response::new(ResponseBody::full(body.to_string()));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// The field and value one image is given as: its URL, or its bytes from the cache in base64.
async fn output(
    media: &crate::media::MediaCache,
    image: &MediaRef,
    b64: bool,
) -> Result<(&'static str, String), ApiError> {
    if !b64 {
        return Ok(("url", image.url.to_string()));
    }
    let unavailable =
        || ApiError::new(StatusCode::BAD_GATEWAY, "image_unavailable", "a generated image left the cache");
    let name = crate::media::name::check_name(image.kind, image.name.as_str()).map_err(|_| unavailable())?;
    let found = media.find(&name).ok_or_else(unavailable)?;
    let bytes = tokio::fs::read(&found.path).await.map_err(|_| unavailable())?;
    Ok(("b64_json", base64::engine::general_purpose::STANDARD.encode(bytes)))
}

fn error_frame(e: &ApiError) -> String {
    let data = json!({"type": "error", "error": {"message": e.message, "code": e.code}});
    format!("event: error\ndata: {data}\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_ratios() {
        assert_eq!(aspect_ratio(Some("1024x1024"), None).unwrap().as_deref(), Some("1:1"));
        assert_eq!(aspect_ratio(Some("1280x720"), None).unwrap().as_deref(), Some("16:9"));
        assert_eq!(aspect_ratio(Some("9:16"), None).unwrap().as_deref(), Some("9:16"));
        assert_eq!(aspect_ratio(None, Some("2:3")).unwrap().as_deref(), Some("2:3"));
        assert_eq!(aspect_ratio(Some("auto"), None).unwrap(), None);
        assert!(aspect_ratio(Some("7x7"), None).is_err());
        assert!(count(Some(0)).is_err() && count(Some(11)).is_err());
        assert_eq!(count(None).unwrap(), 1);
        assert!(response_format(Some("b64_json")).unwrap());
        assert!(response_format(Some("png")).is_err());
    }

    #[test]
    fn image_types_by_part_name_or_bytes() {
        assert_eq!(image_mime(Some("image/jpg"), "", b""), Some("image/jpeg"));
        assert_eq!(image_mime(Some("application/octet-stream"), "a.webp", b""), Some("image/webp"));
        assert_eq!(image_mime(None, "blob", b"\x89PNG\r\n"), Some("image/png"));
        assert_eq!(image_mime(None, "a.gif", b"GIF89a"), None);
    }
}
