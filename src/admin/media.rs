//! `/api/grok/cache`: the local media cache — what it holds, a listing, clearing, deleting one
//! file. Type and name are checked by the one check of [`crate::media::name`].

use super::Admin;
use super::json::{self, invalid};
use super::query::Query;
use crate::dialect::ApiError;
use crate::ir::MediaKind;
use crate::media::{self, Totals};
use crate::server::Reply;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

/// Page size when none is asked for, and the largest accepted.
const PAGE_SIZE: u64 = 50;
const MAX_PAGE_SIZE: u64 = 500;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Clear {
    #[serde(rename = "type")]
    kind: Option<String>,
}

pub fn summary(admin: &Admin) -> Reply {
    let s = admin.media.summary();
    let totals = |t: Totals| json!({"count": t.count, "bytes": t.bytes});
    json::reply(
        StatusCode::OK,
        &json!({
            "base_dir": admin.media.dir().display().to_string(),
            "image": totals(s.image),
            "video": totals(s.video),
            "total": totals(s.total),
            "max_bytes": admin.media.max_bytes(),
        }),
    )
}

pub fn list(admin: &Admin, query: Option<&str>) -> Result<Reply, ApiError> {
    let query = Query::parse(query, &["type", "page", "page_size"])?;
    let kind = query.get("type").map(kind).transpose()?;
    let page = query.number("page")?.unwrap_or(1);
    if page == 0 {
        return Err(invalid("page", "`page` starts at 1").into());
    }
    let page_size = query.number("page_size")?.unwrap_or(PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(invalid("page_size", format!("`page_size` must be 1 to {MAX_PAGE_SIZE}")).into());
    }
    let listed = admin.media.list(kind, page, page_size);
    let items: Vec<Value> = listed
        .items
        .iter()
        .map(|i| {
            json!({
                "type": i.kind.as_str(),
                "name": i.name,
                "url": i.url,
                "size": i.size,
                "updated_at": i.updated_at,
            })
        })
        .collect();
    Ok(json::reply(
        StatusCode::OK,
        &json!({"items": items, "page": page, "page_size": page_size, "total": listed.total}),
    ))
}

pub async fn clear(admin: &Admin, body: &[u8]) -> Result<Reply, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { &b"{}"[..] } else { body };
    let c: Clear = json::decode(body)?;
    let kind = c.kind.as_deref().map(kind).transpose()?;
    let removed = admin.media.clear(kind).await.map_err(io_error)?;
    tracing::info!(
        kind = kind.map_or("all", MediaKind::as_str),
        count = removed.count,
        bytes = removed.bytes,
        "admin: media cache cleared"
    );
    Ok(json::reply(StatusCode::OK, &json!({"removed_count": removed.count, "removed_bytes": removed.bytes})))
}

pub async fn delete(admin: &Admin, kind: &str, name: &str) -> Result<Reply, ApiError> {
    let file = media::name::check(kind, name).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if !admin.media.delete(&file).await.map_err(io_error)? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("there is no cached {kind} named {name}"),
        ));
    }
    tracing::info!(kind, name, "admin: media file deleted");
    Ok(json::reply(StatusCode::OK, &json!({"removed": true})))
}

fn kind(raw: &str) -> Result<MediaKind, json::FieldError> {
    media::name::parse_kind(raw).map_err(|_| invalid("type", "`type` must be `image` or `video`"))
}

fn io_error(e: std::io::Error) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "media_cache_error", format!("media cache: {e}"))
}
