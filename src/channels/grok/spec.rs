//! What a grok model row's `upstream` field says: the mode, the upstream model name, and whether
//! the model reasons.
//!
//! Syntax: space-separated words. A bare word is the mode id (`fast`, `auto`, `expert`, `heavy`,
//! `grok-420-computer-use-sa`); `mode=<id>` says the same; `model=<name>` names the upstream model
//! (image, edit and video models need one); `reasoning` marks a model whose thinking is shown.
//! Examples: `fast`, `expert reasoning`, `model=imagine-image-edit mode=auto`.

/// The upstream model that edits images.
pub const EDIT_MODEL: &str = "imagine-image-edit";

/// The mode a spec names, without parsing the rest (the pool asks on every pick).
pub fn mode_of(text: &str) -> &str {
    let mut mode = "fast";
    for word in text.split_whitespace() {
        if let Some(m) = word.strip_prefix("mode=") {
            mode = m;
        } else if word != "reasoning" && !word.starts_with("model=") {
            mode = word;
        }
    }
    mode
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub mode: String,
    pub model: Option<String>,
    pub reasoning: bool,
}

impl Spec {
    pub fn parse(text: &str) -> Spec {
        let mut spec = Spec { mode: "fast".into(), model: None, reasoning: false };
        for word in text.split_whitespace() {
            if word == "reasoning" {
                spec.reasoning = true;
            } else if let Some(model) = word.strip_prefix("model=") {
                spec.model = Some(model.to_string());
            } else if let Some(mode) = word.strip_prefix("mode=") {
                spec.mode = mode.to_string();
            } else {
                spec.mode = word.to_string();
            }
        }
        spec
    }

    /// The `modelMode` enum value web clients send with a `modelName`.
    pub fn model_mode(&self) -> String {
        match self.mode.as_str() {
            "grok-420-computer-use-sa" => "MODEL_MODE_GROK_4_3".to_string(),
            mode => format!("MODEL_MODE_{}", mode.to_ascii_uppercase().replace('-', "_")),
        }
    }

    pub fn is_edit(&self) -> bool {
        self.model.as_deref() == Some(EDIT_MODEL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modes_models_and_flags() {
        assert_eq!(Spec::parse("fast"), Spec { mode: "fast".into(), model: None, reasoning: false });
        assert_eq!(
            Spec::parse("expert reasoning"),
            Spec { mode: "expert".into(), model: None, reasoning: true }
        );
        let edit = Spec::parse("model=imagine-image-edit mode=auto");
        assert!(edit.is_edit());
        assert_eq!(edit.model_mode(), "MODEL_MODE_AUTO");
        assert_eq!(Spec::parse("").mode, "fast");
        for text in ["fast", "expert reasoning", "model=imagine-image-edit mode=auto", ""] {
            assert_eq!(mode_of(text), Spec::parse(text).mode);
        }
    }
}
