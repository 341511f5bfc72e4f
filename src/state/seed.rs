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
    vec![
        (
            ChannelKind::Anthropic,
            vec![
                claude("claude-opus-4-6", "Claude Opus 4.6"),
                claude("claude-opus-4-5", "Claude Opus 4.5"),
                claude("claude-opus-4-1", "Claude Opus 4.1"),
                claude("claude-sonnet-4-5", "Claude Sonnet 4.5"),
                claude("claude-sonnet-4-0", "Claude Sonnet 4"),
                claude("claude-haiku-4-5", "Claude Haiku 4.5"),
            ],
        ),
        (ChannelKind::Grok, grok_catalogue()),
        (ChannelKind::Warp, warp_catalogue()),
    ]
}

/// Public model ids → Warp model ids (fact sheet §4): `(public id, Warp id, display name)`.
/// Warp's ids are lower-case dash (sometimes dot) strings that change with its catalogue, so
/// the public side keeps the vendors' names and only this table moves.
pub const WARP_MODELS: [(&str, &str, &str); 14] = [
    ("warp-auto", "auto-open", "Warp Auto"),
    ("claude-sonnet-4-5", "claude-4-5-sonnet", "Claude Sonnet 4.5 (Warp)"),
    ("claude-sonnet-4-5-thinking", "claude-4-5-sonnet-thinking", "Claude Sonnet 4.5 Thinking (Warp)"),
    ("claude-sonnet-4-6", "claude-4-6-sonnet-high", "Claude Sonnet 4.6 (Warp)"),
    ("claude-opus-4-5", "claude-4-5-opus", "Claude Opus 4.5 (Warp)"),
    ("claude-opus-4-6", "claude-4-6-opus-high", "Claude Opus 4.6 (Warp)"),
    ("claude-opus-4-6-max", "claude-4-6-opus-max", "Claude Opus 4.6 Max (Warp)"),
    ("claude-haiku-4-5", "claude-4-5-haiku", "Claude Haiku 4.5 (Warp)"),
    ("gpt-5", "gpt-5-medium", "GPT-5 (Warp)"),
    ("gpt-5.1", "gpt-5-1-medium", "GPT-5.1 (Warp)"),
    ("gpt-5.1-codex", "gpt-5-1-codex-medium", "GPT-5.1 Codex (Warp)"),
    ("gpt-5.2", "gpt-5-2-medium", "GPT-5.2 (Warp)"),
    ("gemini-2.5-pro", "gemini-2-5-pro", "Gemini 2.5 Pro (Warp)"),
    ("gemini-3-pro", "gemini-3-pro", "Gemini 3 Pro (Warp)"),
];

fn warp_catalogue() -> Vec<NewModel> {
    WARP_MODELS
        .iter()
        .map(|(id, upstream, name)| NewModel {
            model_id: (*id).to_string(),
            channel: ChannelKind::Warp,
            upstream: Some((*upstream).to_string()),
            kind: ModelKind::Chat,
            enabled: true,
            display_name: Some((*name).to_string()),
        })
        .collect()
}

/// grok.com's models: the web app's modes and its imagine models under current names, and the
/// older public ids kept as aliases. The `upstream` field is the grok spec
/// (`channels::grok::spec`): a mode, `model=<upstream model>`, `reasoning`.
fn grok_catalogue() -> Vec<NewModel> {
    let grok = |id: &str, upstream: &str, kind: ModelKind, name: Option<&str>| NewModel {
        model_id: id.to_string(),
        channel: ChannelKind::Grok,
        upstream: Some(upstream.to_string()),
        kind,
        enabled: true,
        display_name: name.map(str::to_string),
    };
    let chat = ModelKind::Chat;
    let image = ModelKind::Image;
    let video = ModelKind::Video;
    vec![
        grok("grok-4.20-fast", "fast", chat, Some("Grok 4.20 Fast")),
        grok("grok-4.20-auto", "auto reasoning", chat, Some("Grok 4.20 Auto")),
        grok("grok-4.20-expert", "expert reasoning", chat, Some("Grok 4.20 Expert")),
        grok("grok-4.20-heavy", "heavy reasoning", chat, Some("Grok 4.20 Heavy")),
        grok(
            "grok-imagine-image-lite",
            "model=grok-imagine-image-lite mode=fast",
            image,
            Some("Grok Imagine Lite"),
        ),
        grok("grok-imagine-image", "model=grok-imagine-image mode=auto", image, Some("Grok Imagine")),
        grok("grok-imagine-image-quality", "model=grok-imagine-image-quality-lite mode=auto", image, None),
        grok(
            "grok-imagine-image-edit",
            "model=imagine-image-edit mode=auto",
            image,
            Some("Grok Imagine Edit"),
        ),
        grok("grok-imagine-video", "model=imagine-video-gen mode=auto", video, Some("Grok Imagine Video")),
        // Older ids.
        grok("grok-3", "fast", chat, None),
        grok("grok-4", "auto reasoning", chat, None),
        grok("grok-4-fast", "fast", chat, None),
        grok("grok-4-thinking", "expert reasoning", chat, None),
        grok("grok-4-heavy", "heavy reasoning", chat, None),
        grok("grok-4.1-fast", "fast", chat, None),
        grok("grok-4.1-expert", "expert reasoning", chat, None),
        grok("grok-imagine-1.0", "model=grok-imagine-image-lite mode=fast", image, None),
        grok("grok-imagine-1.0-edit", "model=imagine-image-edit mode=auto", image, None),
        grok("grok-imagine-1.0-video", "model=imagine-video-gen mode=auto", video, None),
    ]
}
