//! All integration tests, in one test binary (`[[test]] integration` in Cargo.toml): one link
//! of every dependency instead of one per file, which saves about 1 GB of disk in CI and makes
//! warm runs faster.
//!
//! Each file in `tests/` is a module of this crate, and `tests/common/` holds the shared
//! harness (`crate::common`). `cargo test` runs them all; to run one file's tests, filter by
//! its module path:
//!
//! ```text
//! cargo test --test integration -- chat_realtime::
//! ```

mod common;

mod backup;
mod browser_demo;
mod centrifugo_config;
mod centrifugo_tokens;
mod chat_channels;
mod chat_credentials;
mod chat_members;
mod chat_messages;
mod chat_odd_ids;
mod chat_reactions_reads;
mod chat_realtime;
mod chat_typing_subscriptions;
mod cli;
mod cli_listing;
mod cors;
mod demo_routes;
mod dev;
mod doctor;
mod examples;
mod health;
mod logs;
mod metrics;
mod openapi;
mod properties;
mod rate_limits;
mod reliability;
mod rest_auth;
mod rt_agent_selftest;
mod schemathesis;
mod tokens_api;
mod users_api;
