//! The `openai` channel: any OpenAI-compatible Chat Completions API (`base_url` + bearer key).

mod client;
mod decode;

use crate::channels::events::FramedEvents;
use crate::channels::{Call, Channel, EventStream, classify};
use crate::ir::{ErrorKind, UpstreamError};
use crate::pool::AccountInfo;
use crate::protocol::openai::{ErrorBody, error_kind_for_code};
use crate::stream::sse::SseFramer;
use crate::upstream::Upstream;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http_body_util::Full;
use std::sync::Arc;

pub use decode::Decoder;

pub struct OpenAiChannel {
    upstream: Upstream,
}

impl OpenAiChannel {
    pub fn new(upstream: Upstream) -> OpenAiChannel {
        OpenAiChannel { upstream }
    }
}

impl Channel for OpenAiChannel {
    fn call(&self, call: Call) -> BoxFuture<'static, Result<EventStream, UpstreamError>> {
        let upstream = self.upstream.clone();
        Box::pin(async move {
            let url = format!("{}/chat/completions", call.account.base_url.trim_end_matches('/'));
            let body = client::body(&call.request, &call.upstream_model);
            let request = http::Request::post(url)
                .header(AUTHORIZATION, bearer(call.account.credential.expose())?)
                .header(CONTENT_TYPE, "application/json")
                .header(ACCEPT, "text/event-stream")
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| {
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

    /// `GET {base_url}/models`.
    fn check(&self, account: Arc<AccountInfo>) -> BoxFuture<'static, Result<(), UpstreamError>> {
        let upstream = self.upstream.clone();
        Box::pin(async move {
            let url = format!("{}/models", account.base_url.trim_end_matches('/'));
            let request = http::Request::get(url)
                .header(AUTHORIZATION, bearer(account.credential.expose())?)
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

/// `Bearer <credential>`; a credential that cannot be a header value is an auth failure.
pub(crate) fn bearer(credential: &str) -> Result<http::HeaderValue, UpstreamError> {
    http::HeaderValue::from_str(&format!("Bearer {credential}")).map_err(|_| {
        UpstreamError::new(ErrorKind::Unauthorized)
            .with_message("the account credential is not a valid header value")
    })
}

fn error_detail(body: &[u8]) -> Option<classify::ErrorDetail> {
    let mut buf = body.to_vec();
    let parsed: ErrorBody = simd_json::serde::from_slice(&mut buf).ok()?;
    Some(classify::ErrorDetail {
        message: parsed.error.message.map(|m| m.into_owned()),
        code: parsed.error.code.or(parsed.error.kind.map(|k| k.into_owned())),
    })
}

fn refine(detail: &classify::ErrorDetail) -> Option<ErrorKind> {
    error_kind_for_code(detail.code.as_deref(), None)
}
