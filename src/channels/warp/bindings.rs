//! Where Warp's server-side state is remembered, in the store's sessions (shared by every
//! instance, with the session TTL):
//!
//! - `warp:conv:<scope>` → the conversation a client conversation continues, and its account;
//!   `<scope>` is a hash of the conversation's start (system prompt + first user message) under
//!   the client's session, or its key for a client that names none;
//! - `warp:call:<tool_call_id>` → the conversation, account, Warp tool type and input of a tool
//!   call handed to a client, so that its result goes back typed to the same conversation on the
//!   same account (§2.5–2.6).

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;

use super::request::{self, CallInfo, Turn};
use crate::ir::{ChatRequest, ErrorKind, Role, UpstreamError};
use crate::store::{Session, Store};

const CONVERSATION: &str = "warp:conv:";
const CALL: &str = "warp:call:";

/// The client conversation a request belongs to: its start (system prompt + first user message),
/// under the client's session when it names one, else under its key. The start is part of the
/// scope also with a session: one client session carries several conversations (Claude Code's
/// sub-agents and title requests share the main one's session id).
pub(crate) fn scope(request: &ChatRequest) -> String {
    let mut hash = Sha256::new();
    hash.update(request::system_text(request).as_bytes());
    hash.update([0]);
    hash.update(request::first_user_text(request).as_bytes());
    let start = hex::encode(&hash.finalize()[..16]);
    match &request.session {
        Some(session) => format!("s:{session}:{start}"),
        None => format!("k:{}:{start}", request.key_id.map_or_else(|| "-".to_owned(), |k| k.to_string())),
    }
}

/// A remembered tool call.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CallBinding {
    pub(crate) conversation_id: String,
    pub(crate) account: u64,
    pub(crate) call: CallInfo,
}

/// Where the latest turn has to go.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Resolved {
    /// The conversation and its account, when the turn continues one.
    pub(crate) conversation: Option<(String, u64)>,
    /// `true` when the turn carries tool results (the account is then mandatory).
    pub(crate) strict: bool,
    /// One per tool result of the turn.
    pub(crate) calls: Vec<CallInfo>,
}

fn unavailable(e: crate::store::StoreError) -> UpstreamError {
    UpstreamError::new(ErrorKind::Connect)
        .with_message(format!("cannot read the Warp conversation state: {e}"))
}

fn conflict(message: impl Into<String>) -> UpstreamError {
    UpstreamError::new(ErrorKind::Conflict).with_message(message)
}

/// Finds the conversation (and account) `turn` continues. Tool results without a live binding,
/// or bound to different conversations, are a [`ErrorKind::Conflict`].
pub(crate) async fn resolve(
    store: &dyn Store,
    request: &ChatRequest,
    turn: &Turn,
) -> Result<Resolved, UpstreamError> {
    if turn.results.is_empty() {
        // A history without an answer yet is a new conversation, whatever its scope held.
        if !request.messages.iter().any(|m| m.role == Role::Assistant) {
            return Ok(Resolved::default());
        }
        let stored =
            store.get_session(&format!("{CONVERSATION}{}", scope(request))).await.map_err(unavailable)?;
        let conversation = stored.and_then(|s| {
            let id = s.data.as_ref()?.get("conversation_id")?.as_str()?.to_owned();
            Some((id, s.account_id?))
        });
        return Ok(Resolved { conversation, strict: false, calls: Vec::new() });
    }
    let mut bound: Option<(String, u64)> = None;
    let mut calls = Vec::with_capacity(turn.results.len());
    for result in &turn.results {
        let Some(binding) = call(store, &result.tool_use_id).await? else {
            return Err(conflict(format!(
                "cannot resume Warp tool results: the conversation that issued tool call `{}` has expired or is \
                 unavailable; start a new conversation",
                result.tool_use_id
            )));
        };
        let here = (binding.conversation_id.clone(), binding.account);
        match &bound {
            Some(first) if *first != here => {
                return Err(conflict("the tool results belong to different Warp conversations"));
            }
            _ => bound = Some(here),
        }
        calls.push(binding.call);
    }
    Ok(Resolved { conversation: bound, strict: true, calls })
}

async fn call(store: &dyn Store, id: &str) -> Result<Option<CallBinding>, UpstreamError> {
    let Some(stored) = store.get_session(&format!("{CALL}{id}")).await.map_err(unavailable)? else {
        return Ok(None);
    };
    let (Some(account), Some(data)) = (stored.account_id, stored.data) else { return Ok(None) };
    let text = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    Ok(Some(CallBinding {
        conversation_id: text("conversation_id"),
        account,
        call: CallInfo {
            warp_type: text("warp_type"),
            input: data.get("input").cloned().unwrap_or(Value::Null),
        },
    }))
}

/// Remembers the conversation a turn ran in and the tool calls it issued.
pub(crate) async fn remember(
    store: &dyn Store,
    scope: &str,
    account: u64,
    learned: &super::decode::Learned,
    ttl: Duration,
) {
    let Some(conversation) = &learned.conversation_id else { return };
    let session = Session { account_id: Some(account), data: Some(json!({"conversation_id": conversation})) };
    if let Err(e) = store.put_session(&format!("{CONVERSATION}{scope}"), session, ttl).await {
        tracing::warn!(error = %e, "warp: cannot remember the conversation");
    }
    for issued in &learned.calls {
        let data = json!({
            "conversation_id": conversation,
            "warp_type": issued.warp_type,
            "name": issued.name,
            "input": issued.input,
        });
        let session = Session { account_id: Some(account), data: Some(data) };
        if let Err(e) = store.put_session(&format!("{CALL}{}", issued.id), session, ttl).await {
            tracing::warn!(error = %e, call = %issued.id, "warp: cannot remember a tool call");
        }
    }
}
