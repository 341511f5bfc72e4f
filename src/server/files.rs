//! `GET`/`HEAD /v1/files/{image|video}/<name>` (and `/grok/v1/files/...`): cached media, served
//! from disk.
//!
//! **No API key**, like the original: the links go into `<img>` tags and chat answers, and a
//! name is the hash of the file's content, so it cannot be guessed. The router has already
//! checked the name ([`crate::media::name`]); a valid name the cache does not hold is a 404.
//!
//! Files never change under a name, so the answer is cacheable forever: a strong `ETag` (the
//! content hash), `Cache-Control: public, max-age=31536000, immutable`, `Last-Modified`.
//! `If-None-Match` (or, without it, `If-Modified-Since`) answers 304; one `Range` (`bytes=a-b`,
//! `bytes=a-`, `bytes=-n`) answers 206, an unsatisfiable one 416, several ranges the whole file
//! (200). `If-Range` with another validator also gets the whole file. Bodies are read in chunks.
//! Serving a file marks it used for the cache's eviction.

use super::{Reply, ResponseBody, State, body::FileBody, error_response};
use crate::dialect::{ApiError, Dialect};
use crate::media::FileName;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use std::io::SeekFrom;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncSeekExt;

const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

pub async fn serve(
    state: &State,
    method: &Method,
    headers: &HeaderMap,
    file: FileName<'_>,
    request_id: &str,
) -> Reply {
    let fail = |e: ApiError| error_response(Dialect::OpenAi, &e, request_id);
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "file_not_found", "file not found");
    let Some(found) = state.media.find(&file) else { return fail(not_found()) };
    let mut handle = match tokio::fs::File::open(&found.path).await {
        Ok(handle) => handle,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return fail(not_found()),
        Err(e) => {
            tracing::warn!(name = file.name, error = %e, "cannot open a cached media file");
            return fail(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "file_unreadable",
                "file unreadable",
            ));
        }
    };
    let (len, modified) = match handle.metadata().await {
        Ok(meta) => (meta.len(), meta.modified().unwrap_or(UNIX_EPOCH)),
        Err(_) => (found.size, UNIX_EPOCH),
    };
    let etag = format!("\"{}\"", file.hash);
    let last_modified = httpdate::fmt_http_date(modified);
    let validators = |response: &mut Reply| {
        let h = response.headers_mut();
        h.insert(header::ETAG, value(&etag));
        h.insert(header::LAST_MODIFIED, value(&last_modified));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL));
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    };

    if not_modified(headers, &etag, modified) {
        let mut response = empty(StatusCode::NOT_MODIFIED);
        validators(&mut response);
        return response;
    }

    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(spec) if if_range_holds(headers, &etag, &last_modified) => parse_range(spec, len),
        _ => Ranged::Full,
    };
    let (status, start, count) = match range {
        Ranged::Full => (StatusCode::OK, 0, len),
        Ranged::Part(start, end) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        Ranged::Unsatisfiable => {
            let e = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                format!("the requested range is outside the file's {len} bytes"),
            );
            let mut response = fail(e);
            validators(&mut response);
            response.headers_mut().insert(header::CONTENT_RANGE, value(&format!("bytes */{len}")));
            return response;
        }
    };
    let body = if method == Method::HEAD || count == 0 {
        ResponseBody::empty()
    } else {
        if start > 0 && handle.seek(SeekFrom::Start(start)).await.is_err() {
            return fail(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "file_unreadable",
                "file unreadable",
            ));
        }
        ResponseBody::File(Box::new(FileBody::new(handle, count)))
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    validators(&mut response);
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(file.mime));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(header::CONTENT_RANGE, value(&format!("bytes {start}-{}/{len}", start + count - 1)));
    }
    response
}

fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn empty(status: StatusCode) -> Reply {
    let mut response = Response::new(ResponseBody::empty());
    *response.status_mut() = status;
    response
}

/// `If-None-Match` lists the ETag (weak comparison) or is `*`; without it, `If-Modified-Since`
/// is not before the file's time.
fn not_modified(headers: &HeaderMap, etag: &str, modified: SystemTime) -> bool {
    if let Some(inm) = headers.get(header::IF_NONE_MATCH) {
        let Ok(inm) = inm.to_str() else { return false };
        return inm.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag);
    }
    let since = headers.get(header::IF_MODIFIED_SINCE).and_then(|v| v.to_str().ok());
    match since.and_then(|v| httpdate::parse_http_date(v).ok()) {
        // HTTP dates have whole seconds.
        Some(since) => whole_seconds(modified) <= whole_seconds(since),
        None => false,
    }
}

fn whole_seconds(t: SystemTime) -> Duration {
    Duration::from_secs(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs())
}

/// No `If-Range`, or one naming this file's ETag (strong) or `Last-Modified` exactly.
fn if_range_holds(headers: &HeaderMap, etag: &str, last_modified: &str) -> bool {
    match headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(v) => v.trim() == etag || v.trim() == last_modified,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ranged {
    /// No usable range: the whole file (also for several ranges, or a malformed header).
    Full,
    /// Bytes `start..=end`.
    Part(u64, u64),
    Unsatisfiable,
}

/// One `Range: bytes=...` against a file of `len` bytes.
fn parse_range(spec: &str, len: u64) -> Ranged {
    let Some((unit, set)) = spec.trim().split_once('=') else { return Ranged::Full };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Ranged::Full;
    }
    let ranges: Vec<&str> = set.split(',').map(str::trim).filter(|r| !r.is_empty()).collect();
    let [one] = ranges.as_slice() else { return Ranged::Full };
    let Some((first, last)) = one.split_once('-') else { return Ranged::Full };
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    match (first.trim(), last.trim()) {
        ("", suffix) => match number(suffix) {
            Some(0) => Ranged::Unsatisfiable,
            Some(_) if len == 0 => Ranged::Unsatisfiable,
            Some(n) => Ranged::Part(len.saturating_sub(n), len - 1),
            None => Ranged::Full,
        },
        (first, "") => match number(first) {
            Some(a) if a >= len => Ranged::Unsatisfiable,
            Some(a) => Ranged::Part(a, len - 1),
            None => Ranged::Full,
        },
        (first, last) => match (number(first), number(last)) {
            (Some(a), Some(b)) if a > b => Ranged::Full,
            (Some(a), Some(_)) if a >= len => Ranged::Unsatisfiable,
            (Some(a), Some(b)) => Ranged::Part(a, b.min(len - 1)),
            _ => Ranged::Full,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_parsed_as_the_rfc_says() {
        assert_eq!(parse_range("bytes=0-9", 100), Ranged::Part(0, 9));
        assert_eq!(parse_range("bytes=90-200", 100), Ranged::Part(90, 99));
        assert_eq!(parse_range("bytes=50-", 100), Ranged::Part(50, 99));
        assert_eq!(parse_range("bytes=-10", 100), Ranged::Part(90, 99));
        assert_eq!(parse_range("bytes=-1000", 100), Ranged::Part(0, 99));
        assert_eq!(parse_range("BYTES = 1-2", 100), Ranged::Part(1, 2));
        assert_eq!(parse_range("bytes=100-", 100), Ranged::Unsatisfiable);
        assert_eq!(parse_range("bytes=100-120", 100), Ranged::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Ranged::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), Ranged::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ranged::Full);
        assert_eq!(parse_range("bytes=5-1", 100), Ranged::Full);
        assert_eq!(parse_range("bytes=a-b", 100), Ranged::Full);
        assert_eq!(parse_range("bytes=+1-2", 100), Ranged::Full);
        assert_eq!(parse_range("items=0-1", 100), Ranged::Full);
        assert_eq!(parse_range("bytes", 100), Ranged::Full);
    }

    #[test]
    fn validators_decide_not_modified() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_500);
        let with = |name: header::HeaderName, v: &str| {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_str(v).unwrap());
            h
        };
        assert!(not_modified(&with(header::IF_NONE_MATCH, "\"abc\""), "\"abc\"", t));
        assert!(not_modified(&with(header::IF_NONE_MATCH, "\"x\", W/\"abc\""), "\"abc\"", t));
        assert!(not_modified(&with(header::IF_NONE_MATCH, "*"), "\"abc\"", t));
        assert!(!not_modified(&with(header::IF_NONE_MATCH, "\"abd\""), "\"abc\"", t));
        let date = httpdate::fmt_http_date(t);
        assert!(not_modified(&with(header::IF_MODIFIED_SINCE, &date), "\"abc\"", t));
        let earlier = httpdate::fmt_http_date(t - Duration::from_secs(5));
        assert!(!not_modified(&with(header::IF_MODIFIED_SINCE, &earlier), "\"abc\"", t));
        assert!(!not_modified(&HeaderMap::new(), "\"abc\"", t));
    }
}
