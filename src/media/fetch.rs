//! The safe downloader: fetches upstream assets and client-provided image URLs for channels,
//! without becoming a way into the gateway's network or a way to leak credentials.
//!
//! Rules, for the first URL and every redirect alike:
//! - only `http` and `https`, no user info in the URL;
//! - the origin must be allowed by the [`FetchPolicy`];
//! - unless the origin is one the operator configured ([`Allowed::Hosts`]) or the policy allows
//!   private addresses, the host must be public: an IP literal in any spelling the URL standard
//!   accepts (`0x7f.1`, `2130706433`, `[::ffff:127.0.0.1]`) and every address a name resolves to
//!   are checked, and the connection goes to a checked address (no second lookup to race);
//! - credential headers (cookies, tokens) go only to the exact origins they belong to, also after
//!   a redirect;
//! - at most [`MAX_REDIRECTS`] redirects, followed by hand;
//! - only a 200 is a success, and the body is capped while it is read (over the cap is an error,
//!   never a truncated file).
//!
//! Connections are HTTP/1.1, one per fetch, through the configured proxy when there is one
//! (the proxy is asked to `CONNECT` to the checked address).

use crate::upstream::{Dialer, SetupError, UpstreamOptions};
use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tower_service::Service;

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 3;

/// What may be fetched, and with which credentials.
#[derive(Debug, Clone)]
pub struct FetchPolicy {
    pub allowed: Allowed,
    /// Headers (`Cookie`, `Authorization`, a browser `User-Agent`, ...) sent only to these exact
    /// origins (`https://assets.grok.com`; scheme, host and port must all match).
    pub credentials: Vec<(String, Vec<(HeaderName, HeaderValue)>)>,
    /// Largest body accepted, in bytes.
    pub max_bytes: u64,
    /// Whether [`Allowed::AnyPublic`] URLs may reach loopback, private, link-local and other
    /// non-public addresses (`media_fetch_allow_private`: tests and labs only).
    pub allow_private: bool,
}

impl FetchPolicy {
    /// For URLs a client sent (image inputs): any public host, no credentials, `max_bytes`;
    /// private addresses only with `media_fetch_allow_private`.
    pub fn client_urls(config: &crate::config::Config, max_bytes: u64) -> FetchPolicy {
        FetchPolicy {
            allowed: Allowed::AnyPublic,
            credentials: Vec::new(),
            max_bytes,
            allow_private: config.media_fetch_allow_private,
        }
    }
}

/// Which origins a fetch may reach.
#[derive(Debug, Clone)]
pub enum Allowed {
    /// Only these origins (`https://assets.grok.com`, `http://127.0.0.1:9101`). List only
    /// origins the operator configured: they are trusted, their addresses are not checked.
    Hosts(Vec<String>),
    /// Any `http(s)` URL whose host is public (client-provided image URLs).
    AnyPublic,
}

/// A downloaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub bytes: Bytes,
    /// The response's `Content-Type` without parameters, lower case
    /// (`application/octet-stream` when there was none).
    pub mime: String,
}

/// Why a fetch failed. Messages name origins, never paths, queries or credentials.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("not a valid http(s) URL")]
    BadUrl,
    #[error("{0} is not an allowed origin")]
    NotAllowed(String),
    #[error("{0} is not a public address")]
    Private(String),
    #[error("cannot resolve {0}: {1}")]
    Resolve(String, String),
    #[error("cannot connect to {0}: {1}")]
    Connect(String, String),
    #[error("{0} answered {1}")]
    Status(String, StatusCode),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("{0} redirected to an invalid location")]
    BadRedirect(String),
    #[error("the file is larger than {0} bytes")]
    TooLarge(u64),
    #[error("{0} sent an encoded body")]
    Encoded(String),
    #[error("the download did not finish in time")]
    Timeout,
    #[error("{0}: {1}")]
    Transport(String, String),
}

/// Downloads files under a [`FetchPolicy`]. Cheap to clone.
#[derive(Clone)]
pub struct Fetcher {
    dialer: Dialer,
    tls: tokio_rustls::TlsConnector,
    timeout: Duration,
}

impl Fetcher {
    /// A fetcher dialing as the upstream client does (`connect_timeout_s`, `proxy_url`), giving
    /// each fetch, redirects included, `timeout` in all.
    pub fn new(options: &UpstreamOptions, timeout: Duration) -> Result<Fetcher, SetupError> {
        let mut tls = crate::upstream::tls_config()?;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Fetcher {
            dialer: crate::upstream::dialer(options)?,
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            timeout,
        })
    }

    /// A fetcher as [`Fetcher::new`] with the configuration's `connect_timeout_s`, `proxy_url`
    /// and `request_timeout_s`.
    pub fn from_config(config: &crate::config::Config) -> Result<Fetcher, SetupError> {
        let options = UpstreamOptions {
            connect_timeout: Duration::from_secs(config.connect_timeout_s),
            proxy_url: config.proxy_url.as_ref().map(|p| p.expose().to_string()),
        };
        Fetcher::new(&options, Duration::from_secs(config.request_timeout_s))
    }

    /// Downloads `url` under `policy`.
    pub async fn fetch(&self, url: &str, policy: &FetchPolicy) -> Result<Fetched, FetchError> {
        tokio::time::timeout(self.timeout, self.follow(url, policy)).await.map_err(|_| FetchError::Timeout)?
    }

    async fn follow(&self, url: &str, policy: &FetchPolicy) -> Result<Fetched, FetchError> {
        let mut target = Target::parse(url.trim())?;
        for _ in 0..=MAX_REDIRECTS {
            let response = self.get(&target, policy).await?;
            let status = response.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let location = response
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or_else(|| FetchError::BadRedirect(target.origin()))?;
                target = target.join(location).map_err(|_| FetchError::BadRedirect(target.origin()))?;
                continue;
            }
            if status != StatusCode::OK {
                return Err(FetchError::Status(target.origin(), status));
            }
            return read(response, &target, policy.max_bytes).await;
        }
        Err(FetchError::TooManyRedirects)
    }

    /// One request to one checked target: the response head.
    async fn get(
        &self,
        target: &Target,
        policy: &FetchPolicy,
    ) -> Result<http::Response<Incoming>, FetchError> {
        let origin = target.origin();
        let trusted = match &policy.allowed {
            Allowed::Hosts(hosts) => {
                if !hosts.iter().any(|h| same_origin(h, &origin)) {
                    return Err(FetchError::NotAllowed(origin));
                }
                true
            }
            Allowed::AnyPublic => policy.allow_private,
        };
        let addrs = self.resolve(target).await?;
        if !trusted && let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
            tracing::debug!(origin = %origin, address = %bad.ip(), "media fetch: non-public address refused");
            return Err(FetchError::Private(origin));
        }
        let mut request = Request::get(target.path.as_str())
            .header(header::HOST, target.host_header())
            .header(header::ACCEPT, "image/avif,image/webp,image/png,image/jpeg,image/*,video/*,*/*;q=0.8")
            .header(header::ACCEPT_ENCODING, "identity")
            .header(header::USER_AGENT, concat!("orchids2api/", env!("CARGO_PKG_VERSION")));
        for (cred_origin, headers) in &policy.credentials {
            if same_origin(cred_origin, &origin) {
                for (name, value) in headers {
                    request = request.header(name, value);
                }
            }
        }
        let request = request.body(Empty::<Bytes>::new()).map_err(|_| FetchError::BadUrl)?;
        let mut last = None;
        for addr in addrs {
            match self.dial(addr).await {
                Ok(tcp) => {
                    return if target.https {
                        let name =
                            ServerName::try_from(target.host.clone()).map_err(|_| FetchError::BadUrl)?;
                        let tls = self
                            .tls
                            .connect(name, tcp)
                            .await
                            .map_err(|e| FetchError::Connect(origin.clone(), e.to_string()))?;
                        exchange(tls, request, &origin).await
                    } else {
                        exchange(tcp, request, &origin).await
                    };
                }
                Err(e) => last = Some(e),
            }
        }
        Err(FetchError::Connect(origin, last.unwrap_or_else(|| "no address".into())))
    }

    async fn resolve(&self, target: &Target) -> Result<Vec<SocketAddr>, FetchError> {
        if let Some(ip) = target.ip {
            return Ok(vec![SocketAddr::new(ip, target.port)]);
        }
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((target.host.as_str(), target.port))
            .await
            .map_err(|e| FetchError::Resolve(target.host.clone(), e.to_string()))?
            .collect();
        if addrs.is_empty() {
            return Err(FetchError::Resolve(target.host.clone(), "no address".into()));
        }
        Ok(addrs)
    }

    async fn dial(&self, addr: SocketAddr) -> Result<tokio::net::TcpStream, String> {
        let mut dialer = self.dialer.clone();
        let uri: Uri = format!("http://{addr}").parse().map_err(|_| "bad address".to_string())?;
        futures_util::future::poll_fn(|cx| dialer.poll_ready(cx)).await.map_err(|e| e.to_string())?;
        let io = dialer.call(uri).await.map_err(|e| crate::upstream::error_chain(e.as_ref()))?;
        Ok(io.into_inner())
    }
}

async fn exchange<S>(
    io: S,
    request: Request<Empty<Bytes>>,
    origin: &str,
) -> Result<http::Response<Incoming>, FetchError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let transport = |e: hyper::Error| FetchError::Transport(origin.to_string(), e.to_string());
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(io)).await.map_err(transport)?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender.send_request(request).await.map_err(transport)
}

async fn read(response: http::Response<Incoming>, target: &Target, max: u64) -> Result<Fetched, FetchError> {
    let origin = target.origin();
    let headers = response.headers();
    if headers.get(header::CONTENT_ENCODING).is_some_and(|e| !e.as_bytes().eq_ignore_ascii_case(b"identity"))
    {
        return Err(FetchError::Encoded(origin));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(FetchError::TooLarge(max));
    }
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "application/octet-stream".to_string());
    let capacity = usize::try_from(declared.unwrap_or(0).min(max)).unwrap_or(0);
    let mut buf = BytesMut::with_capacity(capacity);
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| FetchError::Transport(origin.clone(), e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() as u64 + data.len() as u64 > max {
                return Err(FetchError::TooLarge(max));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Fetched { bytes: buf.freeze(), mime })
}

/// A parsed, checked URL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    https: bool,
    /// Lower case; an IPv6 address without brackets.
    host: String,
    port: u16,
    /// The host as an address, when it is a literal (in any spelling).
    ip: Option<IpAddr>,
    /// Path and query, `/` at least.
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target, FetchError> {
        let uri: Uri = url.parse().map_err(|_| FetchError::BadUrl)?;
        let https = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(FetchError::BadUrl),
        };
        let authority = uri.authority().ok_or(FetchError::BadUrl)?;
        if authority.as_str().contains('@') {
            return Err(FetchError::BadUrl);
        }
        let raw_host = authority.host().to_ascii_lowercase();
        let (host, ip) = match raw_host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => {
                let ip: Ipv6Addr = v6.parse().map_err(|_| FetchError::BadUrl)?;
                (ip.to_string(), Some(IpAddr::V6(ip)))
            }
            None => {
                let host = raw_host.trim_end_matches('.');
                if host.is_empty()
                    || !host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
                {
                    return Err(FetchError::BadUrl);
                }
                match ipv4_host(host)? {
                    Some(ip) => (ip.to_string(), Some(IpAddr::V4(ip))),
                    None => (host.to_string(), None),
                }
            }
        };
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
        Ok(Target { https, host, port, ip, path })
    }

    /// `scheme://host[:port]`, the port only when it is not the scheme's default.
    fn origin(&self) -> String {
        format!("{}://{}", if self.https { "https" } else { "http" }, self.host_header())
    }

    fn host_header(&self) -> String {
        let host = match self.ip {
            Some(IpAddr::V6(_)) => format!("[{}]", self.host),
            _ => self.host.clone(),
        };
        let default = if self.https { 443 } else { 80 };
        if self.port == default { host } else { format!("{host}:{}", self.port) }
    }

    /// A redirect's `Location`, resolved against this URL.
    fn join(&self, location: &str) -> Result<Target, FetchError> {
        let location = location.trim();
        let scheme = if self.https { "https" } else { "http" };
        let absolute = if location.contains("://") {
            location.to_string()
        } else if let Some(rest) = location.strip_prefix("//") {
            format!("{scheme}://{rest}")
        } else if location.starts_with('/') {
            format!("{}{location}", self.origin())
        } else {
            let path = self.path.split('?').next().unwrap_or("/");
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            format!("{}{dir}{location}", self.origin())
        };
        Target::parse(&absolute)
    }
}

/// Does the configured origin `configured` name the same origin as `origin` (normalized)?
fn same_origin(configured: &str, origin: &str) -> bool {
    Target::parse(configured.trim().trim_end_matches('/')).is_ok_and(|t| t.origin() == origin)
}

/// A host that is an IPv4 address in one of the spellings the URL standard accepts (decimal,
/// octal `0177`, hex `0x7f`, and one to four parts: `127.1`, `2130706433`): the address. A
/// host that ends in a number but is not such an address is invalid; other hosts are names.
fn ipv4_host(host: &str) -> Result<Option<Ipv4Addr>, FetchError> {
    let parts: Vec<&str> = host.split('.').collect();
    let last = parts.last().copied().unwrap_or_default();
    let numeric = |p: &str| {
        let hex = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X"));
        match hex {
            Some(h) => h.bytes().all(|b| b.is_ascii_hexdigit()),
            None => !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()),
        }
    };
    if !numeric(last) {
        return Ok(None);
    }
    if parts.len() > 4 {
        return Err(FetchError::BadUrl);
    }
    let mut values = Vec::with_capacity(parts.len());
    for part in &parts {
        let value = if let Some(h) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            if h.is_empty() { Some(0) } else { u64::from_str_radix(h, 16).ok() }
        } else if part.len() > 1 && part.starts_with('0') {
            u64::from_str_radix(&part[1..], 8).ok()
        } else {
            part.parse::<u64>().ok()
        };
        values.push(value.ok_or(FetchError::BadUrl)?);
    }
    let (last, init) = values.split_last().ok_or(FetchError::BadUrl)?;
    if init.iter().any(|v| *v > 255) || *last >= 256u64.pow(5 - values.len() as u32) {
        return Err(FetchError::BadUrl);
    }
    let mut address = *last;
    for (i, v) in init.iter().enumerate() {
        address += v << (8 * (3 - i));
    }
    Ok(Some(Ipv4Addr::from(u32::try_from(address).map_err(|_| FetchError::BadUrl)?)))
}

/// Is `ip` a public unicast address? Loopback, private, shared (CGNAT), link-local, unique-local,
/// unspecified, multicast, broadcast, documentation, benchmarking and reserved ranges are not;
/// IPv6 forms that embed an IPv4 address are judged by it.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            // IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::/96) embed an IPv4 address.
            if s[..6] == [0, 0, 0, 0, 0, 0] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
                return !v6.is_unspecified() && !v6.is_loopback() && is_public_v4(v4);
            }
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || s[0] == 0x2002 // 6to4: may embed anything
                || (s[0] == 0x2001 && s[1] == 0)) // Teredo
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // "this network"
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || (a == 100 && (64..128).contains(&b)) // shared address space
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Response;
    use http_body_util::Full;
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use std::sync::Mutex;

    fn fetcher() -> Fetcher {
        let options = UpstreamOptions { connect_timeout: Duration::from_secs(2), proxy_url: None };
        Fetcher::new(&options, Duration::from_secs(5)).unwrap()
    }

    fn policy(allowed: Allowed, allow_private: bool) -> FetchPolicy {
        FetchPolicy { allowed, credentials: Vec::new(), max_bytes: 1024, allow_private }
    }

    /// A test server's answer: status, headers, body.
    type Answer = (u16, Vec<(&'static str, String)>, Vec<u8>);

    /// What a test server saw: the path and `Cookie` header of each request.
    type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

    /// A loopback server answering each path with `answer(path)`: (status, headers, body).
    async fn server(answer: fn(&str) -> Answer) -> (SocketAddr, Seen) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Seen = Arc::default();
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let log = log.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let cookie =
                            req.headers().get(header::COOKIE).map(|v| v.to_str().unwrap().to_string());
                        let path = req.uri().path_and_query().unwrap().as_str().to_string();
                        log.lock().unwrap().push((path.clone(), cookie));
                        let (status, headers, body) = answer(&path);
                        let mut response = Response::builder().status(status);
                        for (k, v) in headers {
                            response = response.header(k, v);
                        }
                        async move {
                            Ok::<_, std::convert::Infallible>(
                                response.body(Full::new(Bytes::from(body))).unwrap(),
                            )
                        }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(tcp), service).await;
                });
            }
        });
        (addr, seen)
    }

    fn image(path: &str) -> Answer {
        match path {
            "/big" => (200, vec![("content-type", "image/png".into())], vec![0; 2000]),
            "/nolength" => (
                200,
                vec![("content-type", "image/png".into()), ("transfer-encoding", "chunked".into())],
                vec![0; 2000],
            ),
            "/missing" => (404, vec![], vec![]),
            "/loop" => (302, vec![("location", "/loop".into())], vec![]),
            _ => (200, vec![("content-type", "image/PNG; charset=x".into())], b"picture".to_vec()),
        }
    }

    #[tokio::test]
    async fn allowed_hosts_fetch_with_their_credentials_and_caps_hold() {
        let (addr, seen) = server(image).await;
        let origin = format!("http://{addr}");
        let mut p = policy(Allowed::Hosts(vec![format!("{origin}/")]), false);
        p.credentials = vec![(origin.clone(), vec![(header::COOKIE, HeaderValue::from_static("sso=1"))])];
        let f = fetcher();
        let got = f.fetch(&format!("{origin}/a.png?x=1"), &p).await.unwrap();
        assert_eq!(got, Fetched { bytes: Bytes::from_static(b"picture"), mime: "image/png".into() });
        assert_eq!(seen.lock().unwrap()[0], ("/a.png?x=1".to_string(), Some("sso=1".to_string())));
        assert!(matches!(f.fetch(&format!("{origin}/big"), &p).await, Err(FetchError::TooLarge(1024))));
        assert!(matches!(f.fetch(&format!("{origin}/nolength"), &p).await, Err(FetchError::TooLarge(1024))));
        let e = f.fetch(&format!("{origin}/missing"), &p).await.unwrap_err();
        assert!(matches!(e, FetchError::Status(_, StatusCode::NOT_FOUND)), "{e}");
        assert!(matches!(f.fetch(&format!("{origin}/loop"), &p).await, Err(FetchError::TooManyRedirects)));
        assert_eq!(seen.lock().unwrap().iter().filter(|(p, _)| p == "/loop").count(), MAX_REDIRECTS + 1);
        let other = "http://127.0.0.2:1/a.png";
        assert!(matches!(f.fetch(other, &p).await, Err(FetchError::NotAllowed(_))));
    }

    #[tokio::test]
    async fn redirects_are_checked_and_credentials_stay_with_their_origin() {
        let (b, b_seen) = server(image).await;
        // The first server redirects to the second, whose address it learns from the path.
        let (a, a_seen) = server(|path| match path.strip_prefix("/to/") {
            Some(target) => (302, vec![("location", format!("http://{target}/img.png"))], vec![]),
            None => (404, vec![], vec![]),
        })
        .await;
        let a_origin = format!("http://{a}");
        let cookie = vec![(a_origin.clone(), vec![(header::COOKIE, HeaderValue::from_static("sso=secret"))])];
        let f = fetcher();

        // Only the first origin allowed: the redirect to another one is refused.
        let mut hosts = policy(Allowed::Hosts(vec![a_origin.clone()]), false);
        hosts.credentials = cookie.clone();
        let e = f.fetch(&format!("{a_origin}/to/{b}"), &hosts).await.unwrap_err();
        assert!(matches!(&e, FetchError::NotAllowed(o) if *o == format!("http://{b}")), "{e}");
        assert!(b_seen.lock().unwrap().is_empty());

        // Any (private, for the test) host: followed, but the cookie is not sent to the second.
        let mut any = policy(Allowed::AnyPublic, true);
        any.credentials = cookie;
        let got = f.fetch(&format!("{a_origin}/to/{b}"), &any).await.unwrap();
        assert_eq!(&got.bytes[..], b"picture");
        assert_eq!(a_seen.lock().unwrap().last().unwrap().1.as_deref(), Some("sso=secret"));
        assert_eq!(b_seen.lock().unwrap()[0], ("/img.png".to_string(), None));

        // Without allow_private, the loopback redirect target is refused too.
        let public = policy(Allowed::AnyPublic, false);
        assert!(matches!(f.fetch(&format!("{a_origin}/to/{b}"), &public).await, Err(FetchError::Private(_))));
    }

    #[tokio::test]
    async fn private_addresses_are_refused_in_every_spelling() {
        let (addr, seen) = server(image).await;
        let port = addr.port();
        let f = fetcher();
        let p = policy(Allowed::AnyPublic, false);
        for url in [
            format!("http://127.0.0.1:{port}/a.png"),
            format!("http://localhost:{port}/a.png"),
            format!("http://0x7f.1:{port}/"),
            format!("http://2130706433:{port}/"),
            format!("http://0177.0.0.1:{port}/"),
            format!("http://127.1:{port}/"),
            format!("http://[::1]:{port}/"),
            format!("http://[::ffff:127.0.0.1]:{port}/"),
            "http://0x7f.1/".to_string(),
            "http://2130706433/".to_string(),
            "http://[::1]/".to_string(),
            "http://0.0.0.0/".to_string(),
            "http://169.254.169.254/latest/meta-data".to_string(),
            "http://10.1.2.3/".to_string(),
            "http://[fd00::1]/".to_string(),
            "http://[fe80::1]/".to_string(),
            "http://224.0.0.1/".to_string(),
        ] {
            let e = f.fetch(&url, &p).await.unwrap_err();
            assert!(matches!(e, FetchError::Private(_)), "{url}: {e}");
        }
        assert!(seen.lock().unwrap().is_empty(), "nothing reached the server");
        for url in [
            "ftp://x/",
            "file:///etc/passwd",
            "http://u:p@example.com/",
            "http://1.2.3.4.5/",
            "http://0x100000000/",
            "//x/",
        ] {
            assert!(matches!(f.fetch(url, &p).await, Err(FetchError::BadUrl)), "{url}");
        }
        // The same server, allowed for private addresses.
        let open = policy(Allowed::AnyPublic, true);
        assert!(f.fetch(&format!("http://0x7f.1:{port}/a.png"), &open).await.is_ok());
    }

    #[test]
    fn addresses_are_judged() {
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.1.1",
            "0.1.2.3",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        assert_eq!(ipv4_host("0x7f.1").unwrap(), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(ipv4_host("2130706433").unwrap(), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(ipv4_host("0300.0250.1.1").unwrap(), Some(Ipv4Addr::new(192, 168, 1, 1)));
        assert_eq!(ipv4_host("example.com").unwrap(), None);
        assert!(ipv4_host("a.256.1.1.1").is_err());
        assert!(ipv4_host("1.256.1.1").is_err());
    }

    #[test]
    fn redirect_locations_resolve_against_the_url() {
        let t = Target::parse("https://a.example/x/y.png?q=1").unwrap();
        assert_eq!(t.origin(), "https://a.example");
        assert_eq!(t.join("/z").unwrap().path, "/z");
        assert_eq!(t.join("z.png").unwrap().path, "/x/z.png");
        assert_eq!(t.join("//b.example/p").unwrap().origin(), "https://b.example");
        assert_eq!(t.join("http://b.example:8080/p").unwrap().origin(), "http://b.example:8080");
        assert!(same_origin("HTTPS://A.example:443/", "https://a.example"));
        assert!(!same_origin("http://a.example", "https://a.example"));
    }
}
