//! `GET /v1/models` and `GET /v1/models/{id}`, in OpenAI's shape or, when the request carries
//! `anthropic-version`, in Anthropic's (AC-18). Only models a channel can serve right now are
//! listed (AC-19).

use super::{Reply, State};
use crate::channels::ChannelKind;
use crate::dialect::ApiError;
use crate::models::Model;
use http::{HeaderMap, HeaderValue, Response, header};
use std::collections::HashSet;
use std::time::UNIX_EPOCH;

use super::body::ResponseBody;

/// Anthropic's page size when the client names none, and the most it may ask for.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 1000;

pub fn list(
    state: &State,
    headers: &HeaderMap,
    query: Option<&str>,
    pin: Option<ChannelKind>,
) -> Result<Reply, ApiError> {
    super::auth::authenticate(&state.live, headers)?;
    let models = serviceable(state, pin);
    let body = if wants_anthropic(headers) {
        anthropic_page(state, &models, query)?
    } else {
        serde_json::json!({
            "object": "list",
            "data": models.iter().map(|m| openai_model(state, m)).collect::<Vec<_>>(),
        })
    };
    Ok(json(&body))
}

pub fn get(
    state: &State,
    headers: &HeaderMap,
    id: &str,
    pin: Option<ChannelKind>,
) -> Result<Reply, ApiError> {
    super::auth::authenticate(&state.live, headers)?;
    let model = serviceable(state, pin)
        .into_iter()
        .find(|m| m.id == id)
        .ok_or_else(|| ApiError::model_not_found(id))?;
    let body =
        if wants_anthropic(headers) { anthropic_model(state, &model) } else { openai_model(state, &model) };
    Ok(json(&body))
}

fn wants_anthropic(headers: &HeaderMap) -> bool {
    headers.contains_key("anthropic-version")
}

/// Each id once, first channel wins, only where an account can serve it.
fn serviceable(state: &State, pin: Option<ChannelKind>) -> Vec<Model> {
    let mut seen = HashSet::new();
    let models = state.live.models.load();
    models
        .iter()
        .filter(|m| pin.is_none_or(|p| p == m.channel) && state.live.pool.serves(m.channel, &m.upstream))
        .filter(|m| seen.insert(m.id.clone()))
        .cloned()
        .collect()
}

fn openai_model(state: &State, m: &Model) -> serde_json::Value {
    serde_json::json!({"id": m.id, "object": "model", "created": unix(state), "owned_by": m.channel.as_str()})
}

fn anthropic_model(state: &State, m: &Model) -> serde_json::Value {
    serde_json::json!({
        "type": "model",
        "id": m.id,
        "display_name": m.display_name.as_deref().unwrap_or(&m.id),
        "created_at": crate::time::rfc3339(unix(state) as i64 * 1000),
    })
}

/// Anthropic paging: `limit`, and `after_id` / `before_id` cursors.
fn anthropic_page(
    state: &State,
    models: &[Model],
    query: Option<&str>,
) -> Result<serde_json::Value, ApiError> {
    let mut limit = DEFAULT_LIMIT;
    let mut after = None;
    let mut before = None;
    for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "limit" => {
                limit = v.parse::<usize>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
                    ApiError::bad_request(format!("limit must be between 1 and {MAX_LIMIT}"))
                })?
            }
            "after_id" => after = Some(v),
            "before_id" => before = Some(v),
            _ => {}
        }
    }
    let position = |id: &str| models.iter().position(|m| m.id == id);
    let (start, end) = match (after, before) {
        (Some(a), _) => {
            let from = position(a).map(|p| p + 1).unwrap_or(models.len());
            (from, (from + limit).min(models.len()))
        }
        (None, Some(b)) => {
            let to = position(b).unwrap_or(0);
            (to.saturating_sub(limit), to)
        }
        (None, None) => (0, limit.min(models.len())),
    };
    let page = &models[start..end];
    let has_more = if before.is_some() && after.is_none() { start > 0 } else { end < models.len() };
    Ok(serde_json::json!({
        "data": page.iter().map(|m| anthropic_model(state, m)).collect::<Vec<_>>(),
        "has_more": has_more,
        "first_id": page.first().map(|m| m.id.as_str()),
        "last_id": page.last().map(|m| m.id.as_str()),
    }))
}

fn unix(state: &State) -> u64 {
    state.started.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn json(body: &serde_json::Value) -> Reply {
    let mut response = Response::new(ResponseBody::full(serde_json::to_vec(body).unwrap_or_default()));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
