//! `/api/settings`: the runtime settings — what is in force, and which values are stored
//! overrides of the config file's.
//!
//! A PATCH is all or nothing: every entry is checked with [`Runtime::apply`] against the values in
//! force before anything is written, and the first bad one is a 400 naming it. `null` clears an
//! override (the config file's value returns).

use super::json;
use super::{Admin, store_error};
use crate::dialect::ApiError;
use crate::server::Reply;
use crate::state::settings::{self, Runtime};
use crate::store::Settings;
use http::StatusCode;
use serde_json::{Value, json};

pub async fn get(admin: &Admin) -> Result<Reply, ApiError> {
    let stored = admin.live.store.settings().await.map_err(store_error)?;
    Ok(json::reply(StatusCode::OK, &view(admin, &stored)))
}

pub async fn update(admin: &Admin, body: &[u8]) -> Result<Reply, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(ApiError::invalid_json)?;
    let Value::Object(entries) = value else {
        return Err(ApiError::bad_request("expected a JSON object of setting names and values"));
    };
    let changes = checked(admin, entries.into_iter().collect()).await?;
    if changes.is_empty() {
        return get(admin).await;
    }
    let names: Vec<String> = changes.iter().map(|(n, _)| n.clone()).collect();
    let stored = admin.live.store.update_settings(changes).await.map_err(store_error)?;
    tracing::info!(settings = ?names, "admin: settings updated");
    Ok(json::reply(StatusCode::OK, &view(admin, &stored)))
}

/// The entries, checked against the settings in force: each name known, each value in range.
pub(super) async fn checked(
    admin: &Admin,
    entries: Vec<(String, Value)>,
) -> Result<Vec<(String, Option<Value>)>, ApiError> {
    let stored = admin.live.store.settings().await.map_err(store_error)?;
    let mut trial = Runtime::with_stored(admin.live.config_runtime(), &stored);
    let mut changes = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        let param = settings::names().find(|n| *n == name);
        if value.is_null() {
            if param.is_none() {
                return Err(unknown(&name));
            }
            changes.push((name, None));
            continue;
        }
        if let Err(bad) = trial.apply(&name, &value) {
            let error = ApiError::bad_request(bad.to_string());
            return Err(match param {
                Some(param) => error.with_param(param),
                None => error,
            });
        }
        changes.push((name, Some(value)));
    }
    Ok(changes)
}

fn unknown(name: &str) -> ApiError {
    let known: Vec<&str> = settings::names().collect();
    ApiError::bad_request(format!("{name}: not a runtime setting (one of: {})", known.join(", ")))
}

/// The settings in force (config file, then stored overrides) and the overrides themselves.
fn view(admin: &Admin, stored: &Settings) -> Value {
    let config = admin.live.config_runtime();
    json!({
        "settings": Runtime::with_stored(config, stored).to_json(),
        "overrides": stored,
        "config": config.to_json(),
    })
}
