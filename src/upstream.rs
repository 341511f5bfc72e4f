//! The shared outbound HTTP client: pooled connections, HTTPS over rustls with HTTP/2 by ALPN,
//! connect timeout, and an optional HTTP proxy reached with `CONNECT`.
//!
//! One [`Upstream`] is built at start-up and cloned into every channel (a clone shares the
//! connection pool). It knows nothing of upstream protocols: channels build requests and read
//! responses; this module only moves them and classifies transport failures.
//!
//! **Cancellation**: dropping the future returned by [`Upstream::send`] or the response body
//! aborts the exchange; hyper closes the connection instead of returning it to the pool.

use crate::ir::{ErrorKind, UpstreamError};
use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;

/// How long an idle pooled connection is kept.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Settings of the outbound client.
#[derive(Debug, Clone)]
pub struct UpstreamOptions {
    pub connect_timeout: Duration,
    /// `http://[user:pass@]host:port` of an HTTP proxy that accepts `CONNECT`.
    pub proxy_url: Option<String>,
}

/// Occurs when the outbound client cannot be built from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("proxy_url is not a valid http:// URL: {0}")]
    BadProxy(String),
    #[error("TLS setup failed: {0}")]
    Tls(#[from] rustls::Error),
}

#[derive(Clone)]
pub struct Upstream {
    client: Client<HttpsConnector<Dialer>, Full<Bytes>>,
}

impl Upstream {
    pub fn new(options: &UpstreamOptions) -> Result<Upstream, SetupError> {
        let dialer = dialer(options)?;
        let tls = tls_config()?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(dialer);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        Ok(Upstream { client })
    }

    /// Sends one request and waits for the response head.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> Result<Response<Incoming>, UpstreamError> {
        self.client.request(request).await.map_err(|e| {
            let kind = if e.is_connect() { ErrorKind::Connect } else { ErrorKind::Server };
            // The transport error names hosts and causes, never credentials.
            UpstreamError::new(kind).with_message(error_chain(&e))
        })
    }
}

/// The TCP dialer of `options`: direct, or through the proxy's `CONNECT` tunnel (also used by
/// the media fetcher, which dials addresses it has checked itself).
pub(crate) fn dialer(options: &UpstreamOptions) -> Result<Dialer, SetupError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(options.connect_timeout));
    http.set_nodelay(true);
    Ok(match &options.proxy_url {
        None => Dialer::Direct(http),
        Some(url) => Dialer::Proxy(proxy_tunnel(url, http)?),
    })
}

/// TLS client settings: ring, the webpki roots, safe protocol versions, no ALPN.
pub(crate) fn tls_config() -> Result<rustls::ClientConfig, SetupError> {
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() })
        .with_no_client_auth())
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn proxy_tunnel(url: &str, http: HttpConnector) -> Result<Tunnel<HttpConnector>, SetupError> {
    let uri: Uri = url.parse().map_err(|_| SetupError::BadProxy(redact(url)))?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        return Err(SetupError::BadProxy(redact(url)));
    }
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((userinfo, host)) => (Some(userinfo), host),
        None => (None, authority),
    };
    let dst: Uri = format!("http://{host}").parse().map_err(|_| SetupError::BadProxy(redact(url)))?;
    let mut tunnel = Tunnel::new(dst, http);
    if let Some(userinfo) = userinfo {
        use base64::Engine;
        let decoded = percent_decode(userinfo);
        let token = base64::engine::general_purpose::STANDARD.encode(decoded);
        let value = http::HeaderValue::from_str(&format!("Basic {token}"))
            .map_err(|_| SetupError::BadProxy(redact(url)))?;
        tunnel = tunnel.with_auth(value);
    }
    Ok(tunnel)
}

/// The proxy URL without its credentials, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}***@{}", &url[..scheme_end + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Opens TCP connections, directly or through the proxy's `CONNECT` tunnel.
#[derive(Clone)]
pub(crate) enum Dialer {
    Direct(HttpConnector),
    Proxy(Tunnel<HttpConnector>),
}

type DialFuture = Pin<Box<dyn Future<Output = Result<TokioIo<TcpStream>, BoxError>> + Send>>;
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl tower_service::Service<Uri> for Dialer {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = DialFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            Dialer::Direct(c) => c.poll_ready(cx).map_err(Into::into),
            Dialer::Proxy(t) => t.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, dst: Uri) -> DialFuture {
        match self {
            Dialer::Direct(c) => {
                let f = c.call(dst);
                Box::pin(async move { f.await.map_err(Into::into) })
            }
            Dialer::Proxy(t) => {
                let f = t.call(dst);
                Box::pin(async move { f.await.map_err(Into::into) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_are_checked_and_errors_hide_credentials() {
        let opts = |url: &str| UpstreamOptions {
            connect_timeout: Duration::from_secs(1),
            proxy_url: Some(url.to_string()),
        };
        let err = Upstream::new(&opts("socks5://user:secret@host:1080")).err().unwrap().to_string();
        assert!(!err.contains("secret"), "{err}");
        assert!(Upstream::new(&opts("http://user:p%40ss@127.0.0.1:3128")).is_ok());
        assert_eq!(percent_decode("p%40ss"), b"p@ss");
    }
}
