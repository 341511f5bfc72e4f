//! The model table: which public model ids exist, which channel serves each, and the id the
//! upstream knows it by.

use crate::channels::ChannelKind;
use crate::config::ModelSeed;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    /// What clients ask for.
    pub id: String,
    pub channel: ChannelKind,
    /// What the upstream is sent.
    pub upstream: Arc<str>,
    pub display_name: Option<String>,
}

/// Enabled models in configuration order.
#[derive(Debug, Default)]
pub struct ModelTable {
    models: Vec<Model>,
}

impl ModelTable {
    pub fn from_seeds(seeds: &[ModelSeed]) -> ModelTable {
        let models = seeds
            .iter()
            .filter(|s| s.enabled)
            .map(|s| Model {
                id: s.id.clone(),
                channel: s.channel,
                upstream: s.upstream_id().into(),
                display_name: s.display_name.clone(),
            })
            .collect();
        ModelTable { models }
    }

    /// The models named `id`, on `pin` if given, in table order: the first that a channel can
    /// serve wins.
    pub fn candidates<'a>(
        &'a self,
        id: &'a str,
        pin: Option<ChannelKind>,
    ) -> impl Iterator<Item = &'a Model> + 'a {
        self.models.iter().filter(move |m| m.id == id && pin.is_none_or(|p| p == m.channel))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Model> {
        self.models.iter()
    }
}
