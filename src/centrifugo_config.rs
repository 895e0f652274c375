//! The Centrifugo v6 config that matches this ChatSDK, from one source.
//!
//! `chatsdk centrifugo-config` prints it; the checked-in `centrifugo/config.json` is that
//! output byte for byte (a test compares them). Secrets are never in it: Centrifugo reads
//! them from `CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY` and `CENTRIFUGO_HTTP_API_KEY`.

use crate::realtime::{CHAT_NAMESPACE, PERSONAL_NAMESPACE};
use serde::Serialize;

/// Public port: WebSocket connections of browsers and apps.
pub const PUBLIC_PORT: u16 = 8000;
/// Internal port: the server API and `/health`; never published to the internet.
pub const INTERNAL_PORT: u16 = 9000;
/// Publications kept per chat channel, so reconnecting clients recover what they missed.
pub const CHAT_HISTORY_SIZE: u32 = 1000;
/// Publications kept per personal channel (membership and channel events).
pub const PERSONAL_HISTORY_SIZE: u32 = 300;
/// How long both namespaces keep history: a day, well under Centrifugo's 720h meta TTL.
pub const HISTORY_TTL_SECS: u64 = 86_400;

/// The whole file; field order is the file's key order.
#[derive(Debug, Serialize)]
pub struct CentrifugoConfig {
    http_server: HttpServer,
    log: Log,
    client: Client,
    health: Health,
    channel: Channel,
}

#[derive(Debug, Serialize)]
struct HttpServer {
    port: u16,
    internal_port: u16,
}

#[derive(Debug, Serialize)]
struct Log {
    level: &'static str,
}

#[derive(Debug, Serialize)]
struct Client {
    /// Empty: only clients that send no `Origin` (servers, native apps); browsers need
    /// theirs listed here or in `CENTRIFUGO_CLIENT_ALLOWED_ORIGINS`.
    allowed_origins: Vec<String>,
    /// Every connection carries a ChatSDK wsToken with a user; no anonymous tokens.
    disallow_anonymous_connection_tokens: bool,
}

#[derive(Debug, Serialize)]
struct Health {
    enabled: bool,
}

#[derive(Debug, Serialize)]
struct Channel {
    namespaces: Vec<Namespace>,
}

/// A namespace; absent options keep Centrifugo's default (off).
#[derive(Debug, Serialize)]
struct Namespace {
    name: &'static str,
    history_size: u32,
    history_ttl: String,
    force_recovery: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    allow_history_for_subscriber: bool,
}

impl CentrifugoConfig {
    /// The config for browsers at `allowed_origins` (empty: set them through the env).
    pub fn new(allowed_origins: Vec<String>) -> Self {
        let history_ttl = format!("{HISTORY_TTL_SECS}s");
        Self {
            http_server: HttpServer {
                port: PUBLIC_PORT,
                internal_port: INTERNAL_PORT,
            },
            log: Log { level: "info" },
            client: Client {
                allowed_origins,
                disallow_anonymous_connection_tokens: true,
            },
            health: Health { enabled: true },
            channel: Channel {
                namespaces: vec![
                    // Subscribed with a ChatSDK subscription token only (no
                    // allow_subscribe_for_client); members may page history themselves.
                    Namespace {
                        name: CHAT_NAMESPACE,
                        history_size: CHAT_HISTORY_SIZE,
                        history_ttl: history_ttl.clone(),
                        force_recovery: true,
                        allow_history_for_subscriber: true,
                    },
                    // Server-side subscription from the wsToken's `channels` claim only.
                    Namespace {
                        name: PERSONAL_NAMESPACE,
                        history_size: PERSONAL_HISTORY_SIZE,
                        history_ttl,
                        force_recovery: true,
                        allow_history_for_subscriber: false,
                    },
                ],
            },
        }
    }

    /// Pretty JSON with a trailing newline: the exact bytes of `centrifugo/config.json`.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("plain structs serialize");
        text.push('\n');
        text
    }
}

impl Default for CentrifugoConfig {
    fn default() -> Self {
        Self::new(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_carry_the_names_the_service_publishes_to() {
        let json: serde_json::Value =
            serde_json::from_str(&CentrifugoConfig::default().to_json()).unwrap();
        let names: Vec<&str> = json["channel"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, [CHAT_NAMESPACE, PERSONAL_NAMESPACE]);
        assert!(!json.to_string().contains("secret") && json.get("http_api").is_none());
    }
}
