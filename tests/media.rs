//! The media cache through a real gateway: files stored through `Server::media()` (as a channel
//! would), served at `/v1/files/...` and `/grok/v1/files/...` with validators and ranges, odd
//! names refused, eviction under a small cap, and the admin endpoints.

mod common;

use bytes::Bytes;
use common::*;
use orchids2api::channels::MediaSink;
use orchids2api::ir::{MediaKind, MediaRef};
use orchids2api::secret::Secret;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

const ADMIN_TOKEN: &str = "media-admin-token-5e1d";

async fn gateway(max_bytes: u64) -> Harness {
    Harness::start_with(|c| {
        c.admin_token = Some(Secret::new(ADMIN_TOKEN));
        c.media_cache_max_bytes = max_bytes;
    })
    .await
}

/// Stores through the sink interface, as a channel does.
async fn put(h: &Harness, kind: MediaKind, bytes: &[u8], mime: &str) -> MediaRef {
    let sink: Arc<dyn MediaSink> = h.gateway.media();
    sink.put(kind, Bytes::copy_from_slice(bytes), mime).await.expect("stored")
}

async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
    send(addr, "GET", path, headers, Bytes::new()).await
}

async fn admin(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> Reply {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let mut headers = vec![("authorization", auth.as_str())];
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    send(addr, method, path, &headers, body.map(|b| b.to_string()).unwrap_or_default()).await
}

#[tokio::test]
async fn files_are_served_publicly_with_validators_and_ranges() {
    let h = gateway(0).await;
    let addr = h.addr();
    let content: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let image = put(&h, MediaKind::Image, &content, "image/png").await;
    assert!(image.url.as_str().starts_with("/v1/files/image/"), "{}", image.url);
    assert_eq!(image.mime, "image/png");
    let hash = image.name.as_str().strip_suffix(".png").unwrap().to_string();

    for path in [image.url.to_string(), format!("/grok{}", image.url)] {
        // No API key: these links go into <img> tags.
        let r = get(addr, &path, &[]).await;
        assert_eq!(r.status, 200, "{path}: {}", String::from_utf8_lossy(&r.body));
        assert_eq!(&r.body[..], &content[..]);
        assert_eq!(r.header("content-type"), Some("image/png"));
        assert_eq!(r.header("content-length"), Some("1000"));
        assert_eq!(r.header("etag"), Some(format!("\"{hash}\"").as_str()));
        assert_eq!(r.header("cache-control"), Some("public, max-age=31536000, immutable"));
        assert_eq!(r.header("accept-ranges"), Some("bytes"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        let last_modified = r.header("last-modified").expect("last-modified").to_string();

        let head = send(addr, "HEAD", &path, &[], Bytes::new()).await;
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty());
        assert_eq!(head.header("content-length"), Some("1000"));
        assert_eq!(head.header("etag"), r.header("etag"));

        let etag = format!("\"{hash}\"");
        let cached = get(addr, &path, &[("if-none-match", &etag)]).await;
        assert_eq!(cached.status, 304);
        assert!(cached.body.is_empty());
        assert_eq!(cached.header("etag"), Some(etag.as_str()));
        let cached = get(addr, &path, &[("if-modified-since", &last_modified)]).await;
        assert_eq!(cached.status, 304);
        assert_eq!(get(addr, &path, &[("if-none-match", "\"other\"")]).await.status, 200);

        let part = get(addr, &path, &[("range", "bytes=10-19")]).await;
        assert_eq!(part.status, 206);
        assert_eq!(&part.body[..], &content[10..20]);
        assert_eq!(part.header("content-range"), Some("bytes 10-19/1000"));
        assert_eq!(part.header("content-length"), Some("10"));
        let tail = get(addr, &path, &[("range", "bytes=-5")]).await;
        assert_eq!((tail.status, &tail.body[..]), (206, &content[995..]));
        assert_eq!(tail.header("content-range"), Some("bytes 995-999/1000"));
        let from = get(addr, &path, &[("range", "bytes=990-")]).await;
        assert_eq!((from.status, &from.body[..]), (206, &content[990..]));
        let head_part = send(addr, "HEAD", &path, &[("range", "bytes=0-0")], Bytes::new()).await;
        assert_eq!((head_part.status, head_part.body.len()), (206, 0));
        assert_eq!(head_part.header("content-range"), Some("bytes 0-0/1000"));

        let outside = get(addr, &path, &[("range", "bytes=1000-")]).await;
        assert_eq!(outside.status, 416);
        assert_eq!(outside.header("content-range"), Some("bytes */1000"));
        assert_eq!(outside.json()["error"]["code"], "range_not_satisfiable");
        let multi = get(addr, &path, &[("range", "bytes=0-1,5-6")]).await;
        assert_eq!((multi.status, multi.body.len()), (200, 1000));
        let stale = get(addr, &path, &[("range", "bytes=0-1"), ("if-range", "\"other\"")]).await;
        assert_eq!((stale.status, stale.body.len()), (200, 1000));
    }

    // A video bigger than one read chunk arrives whole.
    let video: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let v = put(&h, MediaKind::Video, &video, "video/mp4").await;
    let r = get(addr, v.url.as_str(), &[]).await;
    assert_eq!((r.status, r.header("content-type")), (200, Some("video/mp4")));
    assert!(r.body[..] == video[..]);
    let r = get(addr, v.url.as_str(), &[("range", "bytes=100000-250000")]).await;
    assert!(r.status == 206 && r.body[..] == video[100_000..=250_000]);
}

#[tokio::test]
async fn odd_names_and_missing_files_are_refused() {
    let h = gateway(0).await;
    let addr = h.addr();
    let image = put(&h, MediaKind::Image, b"gif bytes", "image/gif").await;
    let name = image.name.to_string();
    let hash = name.strip_suffix(".gif").unwrap();
    for (path, status) in [
        ("/v1/files/image/../x".to_string(), 400),
        ("/v1/files/image/%2e%2e%2fetc".to_string(), 400),
        (format!("/v1/files/image/..%2f{name}"), 400),
        (format!("/v1/files/image/sub/{name}"), 400),
        (format!("/v1/files/image/sub%5c{name}"), 400),
        ("/v1/files/image/a..b.jpg".to_string(), 400),
        (format!("/v1/files/image/{}.gif", hash.to_uppercase()), 400),
        (format!("/v1/files/image/{hash}"), 400),
        (format!("/v1/files/image/{hash}.exe"), 400),
        (format!("/v1/files/video/{name}"), 400),
        (format!("/grok/v1/files/image/{hash}.png"), 404),
        (format!("/v1/files/image/{}.gif", "0".repeat(64)), 404),
        (format!("/v1/files/other/{name}"), 404),
        (format!("/openai/v1/files/image/{name}"), 404),
        ("/v1/files/image/".to_string(), 404),
    ] {
        let r = get(addr, &path, &[]).await;
        assert_eq!(r.status, status, "{path}");
        let error = &r.json()["error"];
        assert!(error["message"].is_string(), "{path}: OpenAI error shape");
        if status == 400 {
            assert_eq!(error["message"], "invalid file name", "{path}");
        }
    }
    let r = send(addr, "POST", image.url.as_str(), &[], Bytes::new()).await;
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
    assert_eq!(get(addr, image.url.as_str(), &[]).await.status, 200);
}

#[tokio::test]
async fn the_least_recently_used_files_are_evicted_under_the_cap() {
    let h = gateway(2500).await;
    let addr = h.addr();
    let a = put(&h, MediaKind::Image, &[1; 1000], "image/jpeg").await;
    let b = put(&h, MediaKind::Image, &[2; 1000], "image/jpeg").await;
    // Serving `a` makes `b` the least recently used.
    assert_eq!(get(addr, a.url.as_str(), &[]).await.status, 200);
    let c = put(&h, MediaKind::Video, &[3; 1000], "video/webm").await;
    assert_eq!(get(addr, b.url.as_str(), &[]).await.status, 404, "b evicted");
    assert_eq!(get(addr, a.url.as_str(), &[]).await.status, 200, "recently served a kept");
    assert_eq!(get(addr, c.url.as_str(), &[]).await.status, 200, "new c kept");
    assert!(!h.data.0.join("media/image").join(b.name.as_str()).exists());
    let summary = admin(addr, "GET", "/api/grok/cache", None).await.json();
    assert_eq!(summary["total"], json!({"count": 2, "bytes": 2000}));
    assert_eq!(summary["max_bytes"], 2500);
}

#[tokio::test]
async fn admin_endpoints_summarize_list_delete_and_clear() {
    let h = gateway(0).await;
    let addr = h.addr();
    let mut images = Vec::new();
    for i in 0..3u8 {
        images.push(put(&h, MediaKind::Image, &[i; 10], "image/webp").await);
    }
    let video = put(&h, MediaKind::Video, &[9; 20], "video/mp4").await;

    let unauthorized = send(addr, "GET", "/api/grok/cache", &[], Bytes::new()).await;
    assert_eq!(unauthorized.status, 401);

    let s = admin(addr, "GET", "/api/grok/cache", None).await;
    assert_eq!(s.status, 200);
    let s = s.json();
    assert_eq!(s["image"], json!({"count": 3, "bytes": 30}));
    assert_eq!(s["video"], json!({"count": 1, "bytes": 20}));
    assert_eq!(s["total"], json!({"count": 4, "bytes": 50}));
    assert!(s["base_dir"].as_str().unwrap().ends_with("media"));

    let page = admin(addr, "GET", "/api/grok/cache/list?page=1&page_size=2", None).await.json();
    assert_eq!(
        (page["total"].as_u64(), page["page"].as_u64(), page["page_size"].as_u64()),
        (Some(4), Some(1), Some(2))
    );
    let names: Vec<&str> =
        page["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, [video.name.as_str(), images[2].name.as_str()], "newest first");
    let first = &page["items"][0];
    assert_eq!(first["type"], "video");
    assert_eq!(first["url"], video.url.as_str());
    assert_eq!(first["size"], 20);
    assert!(first["updated_at"].as_i64().unwrap() > 1_600_000_000_000);
    let page2 = admin(addr, "GET", "/api/grok/cache/list?page=2&page_size=2", None).await.json();
    assert_eq!(page2["items"].as_array().unwrap().len(), 2);
    let only_images = admin(addr, "GET", "/api/grok/cache/list?type=image", None).await.json();
    assert_eq!(only_images["total"], 3);
    assert!(only_images["items"].as_array().unwrap().iter().all(|i| i["type"] == "image"));
    let bad = admin(addr, "GET", "/api/grok/cache/list?type=audio", None).await;
    assert_eq!((bad.status, bad.json()["error"]["param"].as_str()), (400, Some("type")));
    assert_eq!(admin(addr, "GET", "/api/grok/cache/list?page=0", None).await.status, 400);

    let path = format!("/api/grok/cache/image/{}", images[0].name);
    let r = admin(addr, "DELETE", &path, None).await;
    assert_eq!((r.status, r.json()), (200, json!({"removed": true})));
    assert_eq!(admin(addr, "DELETE", &path, None).await.status, 404);
    assert_eq!(get(addr, images[0].url.as_str(), &[]).await.status, 404);
    assert_eq!(admin(addr, "DELETE", "/api/grok/cache/image/..", None).await.status, 400);
    assert_eq!(admin(addr, "DELETE", "/api/grok/cache/image/a..b.jpg", None).await.status, 400);
    assert_eq!(
        admin(addr, "DELETE", &format!("/api/grok/cache/audio/{}", images[1].name), None).await.status,
        400
    );

    let r = admin(addr, "POST", "/api/grok/cache/clear", Some(json!({"type": "video"}))).await;
    assert_eq!((r.status, r.json()), (200, json!({"removed_count": 1, "removed_bytes": 20})));
    assert_eq!(admin(addr, "POST", "/api/grok/cache/clear", Some(json!({"type": "x"}))).await.status, 400);
    assert_eq!(
        admin(addr, "POST", "/api/grok/cache/clear", Some(json!({"kind": "image"}))).await.status,
        400
    );
    let r = admin(addr, "POST", "/api/grok/cache/clear", Some(json!({}))).await;
    assert_eq!(r.json(), json!({"removed_count": 2, "removed_bytes": 20}));
    let s = admin(addr, "GET", "/api/grok/cache", None).await.json();
    assert_eq!(s["total"], json!({"count": 0, "bytes": 0}));
    assert_eq!(get(addr, images[1].url.as_str(), &[]).await.status, 404);
}

#[tokio::test]
async fn links_use_the_public_base_url() {
    let h = Harness::start_with(|c| c.public_base_url = Some("https://gw.example.com/base/".into())).await;
    let r = put(&h, MediaKind::Image, b"x", "image/png").await;
    assert_eq!(r.url, format!("https://gw.example.com/base/v1/files/image/{}", r.name).as_str());
}
