//! Downloads of generated files from grok's hosts, and of the files a client's request links to.
//!
//! A generated file is fetched only from the configured asset host or the account's grok base,
//! with the account's cookie (the asset host refuses requests without it); a URL on any other
//! host is refused, so a cookie never leaves grok's hosts. Redirects are followed only within
//! that allow-list.

use super::client::Client;
use crate::ir::{ErrorKind, UpstreamError};
use crate::media::fetch::{Allowed, FetchPolicy, Fetcher};
use bytes::Bytes;
use http::{HeaderValue, header};

/// Largest generated file downloaded.
const MAX_ASSET_BYTES: u64 = 256 * 1024 * 1024;

/// Fetches a generated file from a grok host; its bytes and MIME type.
pub async fn download(
    fetcher: &Fetcher,
    client: &Client,
    assets_url: &str,
    url: &str,
) -> Result<(Bytes, String), String> {
    // The fetcher normalises both sides; the configured URLs are the allowed origins.
    let hosts = vec![assets_url.to_string(), client.base.clone()];
    let headers = vec![
        (header::COOKIE, client.cookie.clone()),
        (header::REFERER, HeaderValue::from_str(&format!("{}/", client.base)).map_err(|e| e.to_string())?),
    ];
    let policy = FetchPolicy {
        allowed: Allowed::Hosts(hosts.clone()),
        credentials: hosts.into_iter().map(|h| (h, headers.clone())).collect(),
        max_bytes: MAX_ASSET_BYTES,
        allow_private: false,
    };
    let fetched = fetcher.fetch(url, &policy).await.map_err(|e| e.to_string())?;
    let mime = Some(fetched.mime)
        .filter(|m| m.starts_with("image/") || m.starts_with("video/"))
        .or_else(|| mime_from_path(url))
        .ok_or("the asset is neither an image nor a video")?;
    Ok((fetched.bytes, mime))
}

/// A URL for logs: no query string (it may carry signatures).
fn shown(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

fn mime_from_path(url: &str) -> Option<String> {
    let ext = shown(url).rsplit('/').next()?.rsplit_once('.')?.1;
    crate::media::name::mime_of_extension(ext).map(|(_, mime)| mime.to_string())
}

/// A file a client linked to, fetched to upload it: (MIME type, base64 content).
pub async fn fetch_for_upload(
    fetcher: &Fetcher,
    policy: &FetchPolicy,
    url: &str,
) -> Result<(String, String), UpstreamError> {
    use base64::Engine;
    let fetched = fetcher.fetch(url, policy).await.map_err(|e| {
        UpstreamError::new(ErrorKind::InvalidRequest)
            .with_message(format!("the file at {} could not be fetched: {e}", shown(url)))
    })?;
    let mime = if fetched.mime == "application/octet-stream" {
        mime_from_path(url).unwrap_or(fetched.mime)
    } else {
        fetched.mime
    };
    Ok((mime, base64::engine::general_purpose::STANDARD.encode(&fetched.bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_path_when_the_host_does_not_say() {
        assert_eq!(mime_from_path("https://a/b/image.JPG?x=1.mp4").as_deref(), Some("image/jpeg"));
        assert_eq!(
            mime_from_path("https://a/users/u/generated/v/generated_video.mp4").as_deref(),
            Some("video/mp4")
        );
        assert_eq!(mime_from_path("https://a.b/users/u/f/content"), None);
    }

    #[tokio::test]
    async fn generated_files_on_other_hosts_are_refused_before_any_connection() {
        let options = crate::upstream::UpstreamOptions {
            connect_timeout: std::time::Duration::from_secs(1),
            proxy_url: None,
        };
        let fetcher = Fetcher::new(&options, std::time::Duration::from_secs(1)).unwrap();
        let client = Client {
            upstream: crate::upstream::Upstream::new(&options).unwrap(),
            base: "https://grok.com".into(),
            cookie: HeaderValue::from_static("sso=t; sso-rw=t"),
        };
        for url in [
            "https://evil.example/users/u/generated/a/image.jpg",
            "http://10.0.0.1/users/u/generated/a/image.jpg",
            "http://127.0.0.1:1/x.jpg",
            "https://assets.grok.com.evil.example/x.jpg",
            "file:///etc/passwd",
        ] {
            let refused = download(&fetcher, &client, "https://assets.grok.com", url).await.unwrap_err();
            assert!(
                refused.contains("not an allowed origin") || refused.contains("not a valid"),
                "{url}: {refused}"
            );
        }
    }
}
