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
            let body = client::body(&call.request, &call.upstream_model);
            let request = authorized(http::Method::POST, &call.account, "/chat/completions")?
                .header(CONTENT_TYPE, "application/json")
                .header(ACCEPT, "text/event-stream");
            let body = exchange(&upstream, request, Bytes::from(body)).await?;
            Ok(Box::pin(FramedEvents::new(body, SseFramer::new(), Decoder::new())) as EventStream)
        })
    }

    /// `GET {base_url}/models`.
    fn check(&self, account: Arc<AccountInfo>) -> BoxFuture<'static, Result<(), UpstreamError>> {
        let upstream = self.upstream.clone();
        Box::pin(async move {
            let request = authorized(http::Method::GET, &account, "/models")?;
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
    let url = format!("{}{path}", account.base_url.trim_end_matches('/'));
    Ok(http::Request::builder()
        .method(method)
        .uri(url)
        .header(AUTHORIZATION, bearer(account.credential.expose())?))
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
