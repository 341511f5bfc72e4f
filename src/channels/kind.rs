//! The channel a model or account belongs to.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChannelKind {
    /// Any OpenAI-compatible API (`base_url` + bearer key).
    OpenAi,
    /// The Anthropic API (`base_url` + `x-api-key`).
    Anthropic,
    /// grok.com's web app (SSO cookie).
    Grok,
    /// Warp's AI agent (Firebase refresh token).
    Warp,
    /// Orchids' coding agent (Clerk session).
    Orchids,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 5] = [
        ChannelKind::OpenAi,
        ChannelKind::Anthropic,
        ChannelKind::Grok,
        ChannelKind::Warp,
        ChannelKind::Orchids,
    ];

    /// The lower-case name used in config files, path prefixes (`/openai/v1/...`) and the admin API.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::OpenAi => "openai",
            ChannelKind::Anthropic => "anthropic",
            ChannelKind::Grok => "grok",
            ChannelKind::Warp => "warp",
            ChannelKind::Orchids => "orchids",
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Occurs when a channel name is not one of [`ChannelKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown channel {0:?} (expected one of: openai, anthropic, grok, warp, orchids)")]
pub struct UnknownChannel(pub String);

impl FromStr for ChannelKind {
    type Err = UnknownChannel;

    fn from_str(s: &str) -> Result<ChannelKind, UnknownChannel> {
        ChannelKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownChannel(s.to_string()))
    }
}

impl<'de> serde::Deserialize<'de> for ChannelKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ChannelKind, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
