//! The model table: which public model ids exist, which channel serves each, and the id the
//! upstream knows it by.

use crate::channels::ChannelKind;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    /// What clients ask for.
    pub id: String,
    pub channel: ChannelKind,
    /// What the upstream is sent.
    pub upstream: Arc<str>,
    pub display_name: Option<String>,
    /// What the model makes: chat answers, images or videos.
    pub kind: crate::store::ModelKind,
}

/// Enabled models in configuration order.
#[derive(Debug, Default)]
pub struct ModelTable {
    models: Vec<Model>,
}

impl ModelTable {
    /// The enabled models of the store, in id order (the order they were created).
    pub fn from_stored(models: &[crate::store::Model]) -> ModelTable {
        let mut enabled: Vec<&crate::store::Model> = models.iter().filter(|m| m.enabled).collect();
        enabled.sort_by_key(|m| m.id);
        let models = enabled
            .into_iter()
            .map(|m| Model {
                id: m.model_id.clone(),
                channel: m.channel,
                upstream: m.upstream.as_deref().unwrap_or(&m.model_id).into(),
                display_name: m.display_name.clone(),
                kind: m.kind,
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
