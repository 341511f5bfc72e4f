//! The `anthropic` channel: the Anthropic Messages API (`base_url` + `x-api-key`).

mod client;
mod decode;

use crate::channels::events::FramedEvents;
use crate::channels::{Call, Channel, EventStream, classify};
use crate::ir::{ErrorKind, Protocol, UpstreamError};
use crate::pool::AccountInfo;
use crate::protocol::anthropic::{ErrorBody, error_kind_for_type};
use crate::stream::sse::SseFramer;
use crate::upstream::Upstream;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::HeaderValue;
use http::header::{ACCEPT, CONTENT_TYPE};
use http_body_util::Full;
use std::sync::Arc;

pub use decode::Decoder;

pub struct AnthropicChannel {
    upstream: Upstream,
    /// `anthropic-version` sent when the client sent none.
    default_version: Arc<str>,
}

impl AnthropicChannel {
    pub fn new(upstream: Upstream, default_version: &str) -> AnthropicChannel {
        AnthropicChannel { upstream, default_version: default_version.into() }
    }
}

impl Channel for AnthropicChannel {
    fn call(&self, call: Call) -> BoxFuture<'static, Result<EventStream, UpstreamError>> {
        let upstream = self.upstream.clone();
        let default_version = self.default_version.clone();
        Box::pin(async move {
            let url = format!("{}/v1/messages", call.account.base_url.trim_end_matches('/'));
            let body = client::body(&call.request, &call.upstream_model);
            let key = HeaderValue::from_str(call.account.credential.expose()).map_err(|_| {
                UpstreamError::new(ErrorKind::Unauthorized)
                    .with_message("the account credential is not a valid header value")
            })?;
            let mut request = http::Request::post(url)
                .header("x-api-key", key)
                .header(CONTENT_TYPE, "application/json")
                .header(ACCEPT, "text/event-stream");
            // The client's own `anthropic-version` / `anthropic-beta` go through unchanged.
            let forwarded = call
                .request
                .native
                .as_ref()
                .filter(|n| n.protocol == Protocol::Anthropic)
                .map(|n| &n.headers);
            for (name, value) in forwarded.into_iter().flatten() {
                request = request.header(name, value);
            }
            if !forwarded.is_some_and(|h| h.iter().any(|(n, _)| n == "anthropic-version")) {
                request = request.header("anthropic-version", default_version.as_ref());
            }
            let request = request.body(Full::new(Bytes::from(body))).map_err(|e| {
                UpstreamError::new(ErrorKind::Connect).with_message(format!("bad upstream URL: {e}"))
            })?;
            let response = upstream.send(request).await?;
            let (parts, body) = response.into_parts();
            if !parts.status.is_success() {
                return Err(classify::from_response(
                    parts.status,
                    &parts.headers,
                    body,
                    error_detail,
                    refine,
                )
                .await);
            }
            Ok(Box::pin(FramedEvents::new(body, SseFramer::new(), Decoder::new())) as EventStream)
        })
    }

    /// `GET {base_url}/v1/models`.
    fn check(&self, account: Arc<AccountInfo>) -> BoxFuture<'static, Result<(), UpstreamError>> {
        let upstream = self.upstream.clone();
        let version = self.default_version.clone();
        Box::pin(async move {
            let url = format!("{}/v1/models", account.base_url.trim_end_matches('/'));
            let key = HeaderValue::from_str(account.credential.expose()).map_err(|_| {
                UpstreamError::new(ErrorKind::Unauthorized)
                    .with_message("the account credential is not a valid header value")
            })?;
            let request = http::Request::get(url)
                .header("x-api-key", key)
                .header("anthropic-version", version.as_ref())
                .body(Full::new(Bytes::new()))
                .map_err(|e| {
                    UpstreamError::new(ErrorKind::Connect).with_message(format!("bad upstream URL: {e}"))
                })?;
            let (parts, body) = upstream.send(request).await?.into_parts();
            if !parts.status.is_success() {
                return Err(classify::from_response(
                    parts.status,
                    &parts.headers,
                    body,
                    error_detail,
                    refine,
                )
                .await);
            }
            Ok(())
        })
    }
}

fn error_detail(body: &[u8]) -> Option<classify::ErrorDetail> {
    let mut buf = body.to_vec();
    let parsed: ErrorBody = simd_json::serde::from_slice(&mut buf).ok()?;
    Some(classify::ErrorDetail {
        message: parsed.error.message.map(|m| m.into_owned()),
        code: parsed.error.kind.map(|k| k.into_owned()),
    })
}

fn refine(detail: &classify::ErrorDetail) -> Option<ErrorKind> {
    detail.code.as_deref().map(error_kind_for_type)
}
