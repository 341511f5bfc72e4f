//! orchids2api: an LLM API gateway.
//!
//! # Brief overview
//!
//! One request travels through these stages, each a module:
//!
//! 1. [`server`] accepts the connection (HTTP/1.1, h2c, TLS), matches the route and checks the
//!    client's API key.
//! 2. [`dialect`] parses the client's wire format (Anthropic Messages or OpenAI Chat Completions)
//!    into the internal representation.
//! 3. [`ir`] is that representation: a [`ir::ChatRequest`] going in, [`ir::Event`]s coming out.
//! 4. [`relay`] picks an account, calls the channel, and commits the response only once the
//!    upstream has produced content.
//! 5. [`channels`] speak each upstream's protocol and translate its answer into events.
//! 6. [`dialect`] again encodes the events into the client's SSE frames or JSON body.
//!
//! Supporting modules: [`stream`] (zero-copy framers for SSE, NDJSON and binary frames),
//! [`protocol`] (wire types of the official APIs, shared by dialects and channels), [`pool`]
//! (accounts), [`upstream`] (the outbound HTTP client), [`store`] and [`state`] (durable state and
//! its in-memory tables), [`admin`] (the operator's REST API under `/api`), [`config`],
//! [`telemetry`] and [`mock`] (faithful mock upstreams for tests and benches).

pub mod channels;
pub mod dialect;
pub mod ir;
pub mod relay;
pub mod server;

pub mod admin;
pub mod coalesce;
pub mod config;
pub mod media;
pub mod mock;
pub mod models;
pub mod pool;
pub mod protocol;
pub mod secret;
pub mod state;
pub mod store;
pub mod stream;
pub mod telemetry;
pub mod time;
pub mod tokens;
pub mod upstream;
