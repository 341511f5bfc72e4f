//! `/api/models`: the model table — list, create, read, change, delete.
//!
//! Models are addressed by the store's numeric id: a public model id may contain `/` and may
//! exist on several channels.

use super::json::{self, FieldError, Patch, invalid, not_null, nullable, required};
use super::{Admin, not_found, store_error};
use crate::channels::ChannelKind;
use crate::dialect::ApiError;
use crate::server::Reply;
use crate::store::{Model, ModelKind, ModelPatch, NewModel};
use crate::time::rfc3339;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

/// Longest model id, upstream id and display name accepted.
const MAX_ID: usize = 200;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Create {
    model_id: Option<String>,
    channel: Option<ChannelKind>,
    upstream: Option<String>,
    kind: Option<ModelKind>,
    enabled: Option<bool>,
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    #[serde(default, deserialize_with = "nullable")]
    model_id: Patch<String>,
    #[serde(default, deserialize_with = "nullable")]
    upstream: Patch<String>,
    #[serde(default, deserialize_with = "nullable")]
    kind: Patch<ModelKind>,
    #[serde(default, deserialize_with = "nullable")]
    enabled: Patch<bool>,
    #[serde(default, deserialize_with = "nullable")]
    display_name: Patch<String>,
}

pub async fn list(admin: &Admin) -> Result<Reply, ApiError> {
    let models = admin.live.store.list_models().await.map_err(store_error)?;
    Ok(json::reply(StatusCode::OK, &models.iter().map(view).collect::<Vec<_>>()))
}

pub async fn get(admin: &Admin, id: u64) -> Result<Reply, ApiError> {
    let model =
        admin.live.store.get_model(id).await.map_err(store_error)?.ok_or_else(|| not_found("model", id))?;
    Ok(json::reply(StatusCode::OK, &view(&model)))
}

pub async fn create(admin: &Admin, body: &[u8]) -> Result<Reply, ApiError> {
    let c: Create = json::decode(body)?;
    let new = checked(NewModel {
        model_id: required("model_id", c.model_id)?,
        channel: required("channel", c.channel)?,
        upstream: c.upstream,
        kind: c.kind.unwrap_or_default(),
        enabled: c.enabled.unwrap_or(true),
        display_name: c.display_name,
    })?;
    let model = admin.live.store.create_model(new).await.map_err(store_error)?;
    tracing::info!(model = model.id, model_id = %model.model_id, channel = %model.channel, "admin: model created");
    Ok(json::reply(StatusCode::CREATED, &view(&model)))
}

pub async fn update(admin: &Admin, id: u64, body: &[u8]) -> Result<Reply, ApiError> {
    let u: Update = json::decode(body)?;
    let patch = ModelPatch {
        model_id: not_null("model_id", u.model_id)?.map(|m| text("model_id", &m)).transpose()?,
        upstream: u.upstream.map(|m| m.map(|m| text("upstream", &m)).transpose()).transpose()?,
        kind: not_null("kind", u.kind)?,
        enabled: not_null("enabled", u.enabled)?,
        display_name: u.display_name.map(|m| m.map(|m| text("display_name", &m)).transpose()).transpose()?,
    };
    let model = admin
        .live
        .store
        .update_model(id, patch)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found("model", id))?;
    tracing::info!(model = id, "admin: model updated");
    Ok(json::reply(StatusCode::OK, &view(&model)))
}

pub async fn delete(admin: &Admin, id: u64) -> Result<Reply, ApiError> {
    if !admin.live.store.delete_model(id).await.map_err(store_error)? {
        return Err(not_found("model", id));
    }
    tracing::info!(model = id, "admin: model deleted");
    Ok(json::no_content())
}

/// A new model with its texts trimmed and checked, as create and import take it.
pub(super) fn checked(new: NewModel) -> Result<NewModel, FieldError> {
    Ok(NewModel {
        model_id: text("model_id", &new.model_id)?,
        upstream: new.upstream.as_deref().map(|u| text("upstream", u)).transpose()?,
        display_name: new.display_name.as_deref().map(|d| text("display_name", d)).transpose()?,
        ..new
    })
}

fn text(param: &'static str, value: &str) -> Result<String, FieldError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > MAX_ID {
        return Err(invalid(param, format!("`{param}` must be 1 to {MAX_ID} characters")));
    }
    Ok(value.to_string())
}

fn view(m: &Model) -> Value {
    json!({
        "id": m.id,
        "model_id": m.model_id,
        "channel": m.channel.as_str(),
        "upstream": m.upstream,
        "kind": m.kind.as_str(),
        "enabled": m.enabled,
        "display_name": m.display_name,
        "created_at": rfc3339(m.created_at),
        "updated_at": rfc3339(m.updated_at),
    })
}
