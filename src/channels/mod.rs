//! Channels: the upstream services the gateway serves from.

mod kind;

pub use kind::ChannelKind;
