//! ChatSDK: a token service for chat apps on Centrifugo.
#![forbid(unsafe_code)]

pub mod auth;
pub mod centrifugo;
pub mod centrifugo_config;
pub mod centrifugo_process;
pub mod chat;
pub mod cli;
pub mod config;
pub mod db;
pub mod dev;
pub mod doctor;
pub mod domain;
pub mod error;
pub mod ids;
pub mod logging;
pub mod metrics;
pub mod openapi;
pub mod ratelimit;
pub mod realtime;
pub mod relay;
pub mod routes;
pub mod secret;
pub mod startup;
pub mod telemetry;
pub mod timefmt;
pub mod worker;
