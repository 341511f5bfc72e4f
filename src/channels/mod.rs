//! Channels: the upstream services the gateway serves from, each behind the [`Channel`] trait.
//!
//! A channel turns an [`ir::ChatRequest`] into a call to its upstream with one account's
//! credential and the upstream's answer into a stream of [`ir::Event`]s. It classifies failures
//! ([`UpstreamError`]) but never decides what they mean: retries, cooldowns and what the client
//! sees belong to the relay and the dialects. Channels never know the client's dialect; a
//! channel whose protocol equals the request's [`ir::Native`] protocol may forward the client's
//! body instead of rebuilding it (same-protocol paths lose nothing).
//!
//! # How to add a channel
//! 1. `channels/<name>/mod.rs`: a struct implementing [`Channel`]; glue only.
//! 2. `client.rs`: `ChatRequest` + account → upstream request; status line → `UpstreamError`
//!    (shared rules in [`classify`]).
//! 3. `wire.rs`: the upstream's types in its own words (official protocols: `crate::protocol`).
//! 4. `decode.rs`: a [`events::Decoder`]: upstream frames in, events out; pure, no IO, tested
//!    with captured vectors.
//! 5. A mock under `src/mock/` with the failure modes of the fact sheet, and the channel in the
//!    shared conformance list of `tests/`.

pub mod anthropic;
pub mod classify;
pub mod events;
pub mod grok;
mod kind;
pub mod openai;
pub mod warp;

pub use kind::ChannelKind;

use crate::ir::{self, ChatRequest, UpstreamError};
use crate::pool::AccountInfo;
use crate::upstream::Upstream;
use futures_util::future::BoxFuture;
use futures_util::stream::Stream;
use std::collections::HashMap;
use std::sync::Arc;

/// The events of one upstream answer. Dropping it cancels the upstream call.
pub type EventStream = std::pin::Pin<Box<dyn Stream<Item = ir::Event> + Send>>;

/// One upstream call: which account, which request, under which upstream model id.
#[derive(Clone)]
pub struct Call {
    pub account: Arc<AccountInfo>,
    pub request: Arc<ChatRequest>,
    /// The model id the upstream knows (the model table's `upstream`).
    pub upstream_model: Arc<str>,
}

pub trait Channel: Send + Sync + 'static {
    /// Sends the call upstream. Resolves once the upstream accepted it (2xx status line) with
    /// the stream of its answer, or with the classified failure. Mid-stream failures arrive as
    /// a final [`ir::Event::Error`].
    fn call(&self, call: Call) -> BoxFuture<'static, Result<EventStream, UpstreamError>>;

    /// A cheap real upstream call that proves the account's credential works (the admin
    /// "check"): lists models or asks for quota, never spends tokens.
    fn check(&self, account: Arc<AccountInfo>) -> BoxFuture<'static, Result<(), UpstreamError>>;

    /// Renews the account's credential (a refresh token exchanged for a fresh session, a rotated
    /// cookie). `None`: the channel's credentials do not expire (API keys). The caller persists
    /// what it returns before using it, and makes sure only one refresh of an account runs at a
    /// time across every instance ([`crate::state::refresh`]).
    fn refresh(
        &self,
        account: Arc<AccountInfo>,
    ) -> Option<BoxFuture<'static, Result<Refreshed, UpstreamError>>> {
        let _ = account;
        None
    }

    /// The account this request must (or should) run on, for a channel whose upstream keeps
    /// conversation state per account (Warp: a tool result goes back to the conversation, and
    /// so the account, that issued the call). Read before any account is picked; an error (a
    /// [`ir::ErrorKind::Conflict`]) fails the request without touching any account. `None`:
    /// the channel never pins (no future is made, so official channels pay nothing for it).
    fn pin(
        &self,
        request: Arc<ChatRequest>,
    ) -> Option<BoxFuture<'static, Result<Option<Pin>, UpstreamError>>> {
        let _ = request;
        None
    }
}

/// Where a request has to run ([`Channel::pin`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    pub account: u64,
    /// `true`: only this account may serve (a tool result); `false`: this account first, any
    /// other if it cannot (a text turn of a known conversation, which may start afresh).
    pub strict: bool,
}

/// Where channels put the images and videos they fetch from an upstream, to be served by the
/// gateway itself (the media cache): the stored copy's [`ir::MediaRef`] comes back.
pub trait MediaSink: Send + Sync + 'static {
    fn put(
        &self,
        kind: ir::MediaKind,
        bytes: bytes::Bytes,
        mime: &str,
    ) -> BoxFuture<'static, std::io::Result<ir::MediaRef>>;
}

/// What a credential refresh produced.
#[derive(Debug, Clone, Default)]
pub struct Refreshed {
    /// The new long-lived credential, when the upstream rotated it.
    pub credential: Option<crate::secret::Secret>,
    /// The channel's new state (a short-lived token, ids), replacing the old.
    pub state: Option<crate::secret::Secret>,
    /// When the refreshed session expires (Unix ms), to refresh again ahead of it.
    pub expires_at: Option<i64>,
}

/// The part of an account's quota a model draws on, when the channel keeps quotas per part:
/// grok counts each mode (`fast`, `expert`, ...) separately.
pub fn quota_scope(channel: ChannelKind, upstream_model: &str) -> Option<&str> {
    match channel {
        ChannelKind::Grok => Some(grok::mode_of(upstream_model)),
        _ => None,
    }
}

/// Does this image model edit images (rather than draw new ones)?
pub fn edits_images(channel: ChannelKind, upstream_model: &str) -> bool {
    channel == ChannelKind::Grok && grok::is_edit_model(upstream_model)
}

/// Every channel the gateway runs, by kind.
#[derive(Clone, Default)]
pub struct Channels(HashMap<ChannelKind, Arc<dyn Channel>>);

impl Channels {
    /// Adds or replaces one channel.
    pub fn insert(&mut self, kind: ChannelKind, channel: Arc<dyn Channel>) {
        self.0.insert(kind, channel);
    }
}

impl Channels {
    /// The channels whose upstream speaks an official API.
    pub fn official(upstream: Upstream, anthropic_version: &str) -> Channels {
        let mut map: HashMap<ChannelKind, Arc<dyn Channel>> = HashMap::new();
        map.insert(ChannelKind::OpenAi, Arc::new(openai::OpenAiChannel::new(upstream.clone())));
        map.insert(
            ChannelKind::Anthropic,
            Arc::new(anthropic::AnthropicChannel::new(upstream, anthropic_version)),
        );
        Channels(map)
    }

    pub fn get(&self, kind: ChannelKind) -> Option<&Arc<dyn Channel>> {
        self.0.get(&kind)
    }
}
