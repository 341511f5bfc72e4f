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
            let body = client::body(&call.request, &call.upstream_model);
            let mut request = authorized(http::Method::POST, &call.account, "/v1/messages")?
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
            let body = exchange(&upstream, request, Bytes::from(body)).await?;
            Ok(Box::pin(FramedEvents::new(body, SseFramer::new(), Decoder::new())) as EventStream)
        })
    }

    /// `GET {base_url}/v1/models`.
    fn check(&self, account: Arc<AccountInfo>) -> BoxFuture<'static, Result<(), UpstreamError>> {
        let upstream = self.upstream.clone();
        let version = self.default_version.clone();
        Box::pin(async move {
            let request = authorized(http::Method::GET, &account, "/v1/models")?
                .header("anthropic-version", version.as_ref());
            exchange(&upstream, request, Bytes::new()).await.map(drop)
        })
    }
}

/// A request to `path` under the account's API root, with its key.
fn authorized(
    method: http::Method,
    account: &AccountInfo,
    path: &str,
) -> Result<http::request::Builder, UpstreamError> {
    let key = HeaderValue::from_str(account.credential.expose()).map_err(|_| {
        UpstreamError::new(ErrorKind::Unauthorized)
            .with_message("the account credential is not a valid header value")
    })?;
    let url = format!("{}{path}", account.base_url.trim_end_matches('/'));
    Ok(http::Request::builder().method(method).uri(url).header("x-api-key", key))
}

/// Sends the request; the body of a 2xx answer, or the classified failure.
async fn exchange(
    upstream: &Upstream,
    request: http::request::Builder,
    body: Bytes,
) -> Result<hyper::body::Incoming, UpstreamError> {
    let request = request.body(Full::new(body)).map_err(classify::bad_request_line)?;
    classify::success_body(upstream.send(request).await?, error_detail, refine).await
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
