//! The mock servers tested from outside: real sockets on loopback, literal HTTP/1.1 bytes (and one
//! h2c client), asserting on what a client receives.

mod anthropic;
mod client;
mod grok;
mod harness;
mod openai;
mod warp;
