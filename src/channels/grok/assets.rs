//! Downloads of generated files from grok's hosts, and of the files a client's request links to.
//!
//! A generated file is fetched only from the configured asset host or the account's grok base,
//! with the account's cookie (the asset host refuses requests without it); a URL on any other
//! host is refused, so a cookie never leaves grok's hosts. Redirects are followed only within
//! that allow-list.

use super::client::Client;
use crate::ir::{ErrorKind, UpstreamError};
use bytes::Bytes;
use http::header;
use http_body_util::{BodyExt, Full, Limited};

/// Largest generated file downloaded.
const MAX_ASSET_BYTES: usize = 256 * 1024 * 1024;
const MAX_REDIRECTS: usize = 3;

/// `scheme://authority` of a URL, lower-cased; `None` when it is not absolute http(s).
pub fn origin(url: &str) -> Option<String> {
    let uri: http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    Some(format!("{scheme}://{}", uri.authority()?.as_str().to_ascii_lowercase()))
}

/// Fetches a generated file; its bytes and MIME type.
pub async fn download(client: &Client, assets_url: &str, url: &str) -> Result<(Bytes, String), String> {
    let allowed = [origin(assets_url), origin(&client.base)];
    let mut url = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let here = origin(&url).ok_or_else(|| format!("not an http(s) URL: {}", shown(&url)))?;
        if !allowed.iter().flatten().any(|o| *o == here) {
            return Err(format!("refused: {here} is not a grok asset host"));
        }
        let request = http::Request::get(&url)
            .header(header::ACCEPT, "image/avif,image/webp,image/apng,image/*,video/*,*/*;q=0.8")
            .header(header::ACCEPT_ENCODING, "identity")
            .header(header::REFERER, format!("{}/", client.base))
            .header(header::COOKIE, client.cookie.clone())
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let response = client.upstream.send(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or("a redirect without a location")?;
            url = resolve(&here, location);
            continue;
        }
        if !status.is_success() {
            return Err(format!("the asset host answered {status}"));
        }
        let mime = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .filter(|m| m.starts_with("image/") || m.starts_with("video/"))
            .or_else(|| mime_from_path(&url))
            .ok_or("the asset is neither an image nor a video")?;
        let bytes = Limited::new(response.into_body(), MAX_ASSET_BYTES)
            .collect()
            .await
            .map_err(|e| format!("the asset download failed: {e}"))?
            .to_bytes();
        return Ok((bytes, mime));
    }
    Err("too many redirects".into())
}

/// A `Location` made absolute against the origin that sent it.
fn resolve(origin: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_string()
    } else {
        format!("{origin}/{}", location.trim_start_matches('/'))
    }
}

/// A URL for logs: no query string (it may carry signatures).
fn shown(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

fn mime_from_path(url: &str) -> Option<String> {
    let path = shown(url).to_ascii_lowercase();
    let mime = match path.rsplit('.').next()? {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        _ => return None,
    };
    Some(mime.to_string())
}

/// A file a client linked to, fetched to upload it: (MIME type, base64 content).
pub async fn fetch_for_upload(
    upstream: &crate::upstream::Upstream,
    url: &str,
) -> Result<(String, String), UpstreamError> {
    let _ = upstream;
    Err(UpstreamError::new(ErrorKind::InvalidRequest)
        .with_message(format!("fetching {} for upload is not available", shown(url))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_redirect_targets() {
        assert_eq!(
            origin("https://Assets.Grok.com/users/u/x.jpg?sig=1").as_deref(),
            Some("https://assets.grok.com")
        );
        assert_eq!(origin("http://127.0.0.1:8080/a").as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(origin("users/u/x.jpg"), None);
        assert_eq!(origin("ftp://a/b"), None);
        assert_eq!(resolve("https://a.b", "/x/y.png"), "https://a.b/x/y.png");
        assert_eq!(resolve("https://a.b", "https://evil.example/y.png"), "https://evil.example/y.png");
        assert_eq!(mime_from_path("https://a/b/image.JPG?x=1").as_deref(), Some("image/jpeg"));
    }
}
