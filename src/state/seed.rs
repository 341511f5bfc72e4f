//! The config file's declarative seeds, written into the store at start: `[[accounts]]`,
//! `[[models]]` and `[[api_keys]]` are upserted by name (the file wins for the fields it sets),
//! and each channel's default model catalogue is created once — a model the operator deletes
//! later stays deleted.

use crate::channels::ChannelKind;
use crate::config::Config;
use crate::store::{KeyHash, ModelKind, NewAccount, NewApiKey, NewModel, Store, StoreResult};

pub async fn seed(store: &dyn Store, config: &Config) -> StoreResult<()> {
    for a in &config.accounts {
        store
            .upsert_account(NewAccount {
                channel: a.channel,
                name: a.name.clone(),
                credential: a.credential.clone(),
                base_url: a.base_url.clone(),
                weight: a.weight,
                priority: a.priority,
                enabled: a.enabled,
                max_concurrency: a.max_concurrency,
            })
            .await?;
    }
    for m in &config.models {
        store
            .upsert_model(NewModel {
                model_id: m.id.clone(),
                channel: m.channel,
                upstream: m.upstream.clone(),
                kind: ModelKind::Chat,
                enabled: m.enabled,
                display_name: m.display_name.clone(),
            })
            .await?;
    }
    for k in &config.api_keys {
        store
            .upsert_key(NewApiKey {
                name: k.name.clone(),
                hash: KeyHash::of(k.key.expose()),
                prefix: display_prefix(k.key.expose()),
                models: k.models.clone(),
                rpm: None,
                max_concurrency: None,
                expires_at: None,
                enabled: true,
            })
            .await?;
    }
    for (channel, models) in catalogues() {
        store.seed_catalogue(channel, models).await?;
    }
    Ok(())
}

/// What admin views show of a client key: enough to recognise it, too little to use it.
pub fn display_prefix(key: &str) -> String {
    let shown: String = key.chars().take(10).collect();
    format!("{shown}…")
}

/// The default model catalogues. The `anthropic` channel serves Anthropic's current models
/// under their own ids; an OpenAI-compatible server's models are whatever it hosts, so the
/// `openai` channel has none by default.
fn catalogues() -> Vec<(ChannelKind, Vec<NewModel>)> {
    let claude = |id: &str, name: &str| NewModel {
        model_id: id.to_string(),
        channel: ChannelKind::Anthropic,
        upstream: None,
        kind: ModelKind::Chat,
        enabled: true,
        display_name: Some(name.to_string()),
    };
    vec![(
        ChannelKind::Anthropic,
        vec![
            claude("claude-opus-4-6", "Claude Opus 4.6"),
            claude("claude-opus-4-5", "Claude Opus 4.5"),
            claude("claude-opus-4-1", "Claude Opus 4.1"),
            claude("claude-sonnet-4-5", "Claude Sonnet 4.5"),
            claude("claude-sonnet-4-0", "Claude Sonnet 4"),
            claude("claude-haiku-4-5", "Claude Haiku 4.5"),
        ],
    )]
}
