//! `/api/usage` and `/api/accounts/{id}/usage`: the usage counters per (day, key, account,
//! model), filtered, with their totals.
//!
//! Days are UTC `yyyymmdd`, both ends inclusive. Counts reach the store about once a second
//! (`state::usage`), so the last second of traffic may not show yet.

use super::json;
use super::query::Query;
use super::{Admin, not_found, store_error};
use crate::dialect::ApiError;
use crate::server::Reply;
use crate::store::{UsageQuery, UsageRow};
use http::StatusCode;
use serde_json::{Map, Value, json};

pub async fn list(admin: &Admin, query: Option<&str>) -> Result<Reply, ApiError> {
    let q = Query::parse(query, &["from", "to", "key", "account", "model"])?;
    let filter = UsageQuery {
        from_day: q.day("from")?,
        to_day: q.day("to")?,
        key_id: q.number("key")?,
        account_id: q.number("account")?,
        model: q.get("model").map(str::to_string),
    };
    rows(admin, filter).await
}

pub async fn of_account(admin: &Admin, id: u64, query: Option<&str>) -> Result<Reply, ApiError> {
    let q = Query::parse(query, &["from", "to"])?;
    let filter = UsageQuery {
        from_day: q.day("from")?,
        to_day: q.day("to")?,
        account_id: Some(id),
        ..UsageQuery::default()
    };
    if admin.live.store.get_account(id).await.map_err(store_error)?.is_none() {
        return Err(not_found("account", id));
    }
    rows(admin, filter).await
}

async fn rows(admin: &Admin, filter: UsageQuery) -> Result<Reply, ApiError> {
    let mut rows = admin.live.store.query_usage(filter).await.map_err(store_error)?;
    rows.sort_by(|a, b| {
        (a.day, a.key_id, a.account_id, &a.model).cmp(&(b.day, b.key_id, b.account_id, &b.model))
    });
    let mut total = UsageRow::default();
    for r in &rows {
        total.requests += r.requests;
        total.errors += r.errors;
        total.input_tokens += r.input_tokens;
        total.output_tokens += r.output_tokens;
        total.cache_read_tokens += r.cache_read_tokens;
        total.cache_write_tokens += r.cache_write_tokens;
    }
    let body = json!({
        "rows": rows.iter().map(|r| {
            let mut row = Map::new();
            row.insert("day".into(), r.day.into());
            row.insert("key_id".into(), r.key_id.into());
            row.insert("account_id".into(), r.account_id.into());
            row.insert("model".into(), r.model.clone().into());
            counters(r, row)
        }).collect::<Vec<_>>(),
        "totals": counters(&total, Map::new()),
    });
    Ok(json::reply(StatusCode::OK, &body))
}

/// `object` with the row's counters added.
fn counters(r: &UsageRow, mut object: Map<String, Value>) -> Value {
    let counts = [
        ("requests", r.requests),
        ("errors", r.errors),
        ("input_tokens", r.input_tokens),
        ("output_tokens", r.output_tokens),
        ("cache_read_tokens", r.cache_read_tokens),
        ("cache_write_tokens", r.cache_write_tokens),
    ];
    for (name, n) in counts {
        object.insert(name.into(), n.into());
    }
    Value::Object(object)
}
