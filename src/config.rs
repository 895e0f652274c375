//! Service configuration: one clap struct, every option also an env var, validated once.

use crate::ratelimit::{Rate, TrustedProxies};
use crate::secret::{Secret, ServiceUrl};
use clap::{Args, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Secrets shorter than this are refused: HS256 keys should carry at least 256 bits.
pub const MIN_SECRET_BYTES: usize = 32;
/// Longest token lifetime we accept (30 days); longer-lived tokens defeat revocation.
pub const MAX_TOKEN_TTL_SECS: u64 = 30 * 24 * 3600;
/// Default lifetime of a `wsToken`. Centrifugo OSS cannot revoke a connection token, so
/// after a revocation the old one can reconnect (to the personal channel) until it
/// expires: short by default. The client SDKs renew it through `getToken`.
pub const DEFAULT_WS_TOKEN_TTL_SECS: u64 = 900;
/// The REST token's lifetime when none is set: a day.
pub const DEFAULT_TOKEN_TTL_SECS: u64 = 86_400;
/// A subscription token's lifetime when none is set.
pub const DEFAULT_SUB_TOKEN_TTL_SECS: u64 = 300;
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
/// Centrifugo's internal port, where its server API (`/api`) listens with our config.
pub const DEFAULT_CENTRIFUGO_URL: &str = "http://localhost:9000";
/// Where browsers and apps open their Centrifugo WebSocket (the public port, not the API's).
pub const DEFAULT_CENTRIFUGO_WS_URL: &str = "ws://localhost:8000/connection/websocket";

/// Options of `chatsdk serve`, as given on the command line or in the environment.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CHATSDK_ADDR", default_value = DEFAULT_ADDR)]
    pub addr: SocketAddr,

    /// Secret that signs ChatSDK's REST tokens (at least 32 bytes).
    #[arg(long, env = "CHATSDK_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,

    /// Centrifugo's client.token.hmac_secret_key: signs the wsToken (at least 32 bytes).
    #[arg(
        long,
        env = "CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY",
        hide_env_values = true
    )]
    pub centrifugo_token_secret: Option<Secret>,

    /// Base URL of Centrifugo's server API (its internal port).
    #[arg(
        long,
        env = "CENTRIFUGO_URL",
        default_value = DEFAULT_CENTRIFUGO_URL,
        hide_env_values = true
    )]
    pub centrifugo_url: ServiceUrl,

    /// Centrifugo's http_api.key.
    #[arg(long, env = "CENTRIFUGO_HTTP_API_KEY", hide_env_values = true)]
    pub centrifugo_api_key: Option<Secret>,

    /// The Centrifugo WebSocket URL that frontends connect to (as their users' browsers see it).
    #[arg(
        long,
        env = "CENTRIFUGO_WS_URL",
        default_value = DEFAULT_CENTRIFUGO_WS_URL,
        hide_env_values = true
    )]
    pub centrifugo_ws_url: ServiceUrl,

    /// Serve the browser chat demo at /demo, with its open token route for the `demo` app only.
    #[arg(long, env = "CHATSDK_DEMO", value_parser = crate::config::parse_switch)]
    pub demo: bool,

    /// The REST secret before a rotation: still accepted for verification, never used to sign.
    #[arg(long, env = "CHATSDK_JWT_PREVIOUS_SECRET", hide_env_values = true)]
    pub jwt_previous_secret: Option<Secret>,

    /// Clock skew tolerated when checking REST token expiry, in seconds.
    #[arg(long, env = "CHATSDK_JWT_LEEWAY", default_value_t = crate::auth::tokens::CLOCK_LEEWAY_SECS)]
    pub jwt_leeway: u64,

    /// Development mode: accept placeholder-looking secrets (never in production).
    #[arg(long, env = "CHATSDK_DEV", value_parser = crate::config::parse_switch)]
    pub dev: bool,

    #[command(flatten)]
    pub client: ClientArgs,

    #[command(flatten)]
    pub rate_limits: RateLimitArgs,

    /// Serve GET /metrics only on this address (e.g. 127.0.0.1:9090), not on CHATSDK_ADDR.
    /// Unset: /metrics is on the main address.
    #[arg(long, env = "CHATSDK_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
}

pub const DEFAULT_RATE_LIMIT_KEY: Rate = Rate::per_minute(6000);
pub const DEFAULT_RATE_LIMIT_USER_WRITES: Rate = Rate::per_minute(120);
pub const DEFAULT_RATE_LIMIT_TYPING: Rate = Rate::per_minute(60);
pub const DEFAULT_RATE_LIMIT_AUTH_FAILURES: Rate = Rate::per_minute(20);

/// Whether rate limits apply.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RateLimitMode {
    #[default]
    On,
    /// No limits and no X-RateLimit-* headers (benchmarks).
    Off,
}

/// What frontends get: token lifetimes and the browser origins of the REST API. Shared by
/// `serve` and `dev`, so a frontend developer tries under `dev` what production runs.
#[derive(Args, Debug, Clone)]
pub struct ClientArgs {
    /// Lifetime of the REST token (and of the wsToken, when shorter than 900 s), in seconds.
    #[arg(long, env = "CHATSDK_TOKEN_TTL", default_value_t = DEFAULT_TOKEN_TTL_SECS)]
    pub token_ttl: u64,

    /// Lifetime of the wsToken (Centrifugo connection token), in seconds; default: 900, or
    /// CHATSDK_TOKEN_TTL when that is shorter.
    #[arg(long, env = "CHATSDK_WS_TOKEN_TTL")]
    pub ws_token_ttl: Option<u64>,

    /// Lifetime of chat channel subscription tokens, in seconds (clients renew them).
    #[arg(long, env = "CHATSDK_SUB_TOKEN_TTL", default_value_t = DEFAULT_SUB_TOKEN_TTL_SECS)]
    pub sub_token_ttl: u64,

    /// Browser origins allowed to call /api with a bearer token (CORS), comma-separated,
    /// e.g. `https://app.example.com,http://localhost:3000`. Empty: CORS off.
    #[arg(long, env = "CHATSDK_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
}

impl Default for ClientArgs {
    /// The defaults clap gives when nothing is set.
    fn default() -> Self {
        ClientArgs {
            token_ttl: DEFAULT_TOKEN_TTL_SECS,
            ws_token_ttl: None,
            sub_token_ttl: DEFAULT_SUB_TOKEN_TTL_SECS,
            cors_origins: Vec::new(),
        }
    }
}

/// Rate limits, each written `<count>/<window>`: `120/min`, `20/s`, `3/2s`, `1000/h`.
#[derive(Args, Debug, Clone)]
pub struct RateLimitArgs {
    /// `on` or `off` (off: no limits, no X-RateLimit-* headers; for benchmarks).
    #[arg(
        long = "rate-limits",
        env = "CHATSDK_RATE_LIMITS",
        value_enum,
        default_value_t
    )]
    pub mode: RateLimitMode,

    /// Requests per API key on key-authenticated routes (/tokens, /api with X-API-Key).
    #[arg(long, env = "CHATSDK_RATE_LIMIT_KEY", default_value_t = DEFAULT_RATE_LIMIT_KEY)]
    pub rate_limit_key: Rate,

    /// Writes per user (REST token callers): messages, reactions, channel and member changes.
    #[arg(long, env = "CHATSDK_RATE_LIMIT_USER_WRITES", default_value_t = DEFAULT_RATE_LIMIT_USER_WRITES)]
    pub rate_limit_user_writes: Rate,

    /// Typing notifications per user (REST token callers).
    #[arg(long, env = "CHATSDK_RATE_LIMIT_TYPING", default_value_t = DEFAULT_RATE_LIMIT_TYPING)]
    pub rate_limit_typing: Rate,

    /// Failed authentications per client IP before further failures get 429.
    #[arg(long, env = "CHATSDK_RATE_LIMIT_AUTH_FAILURES", default_value_t = DEFAULT_RATE_LIMIT_AUTH_FAILURES)]
    pub rate_limit_auth_failures: Rate,

    /// Comma-separated IPs/CIDRs of proxies whose X-Forwarded-For is believed; none: the socket's IP.
    #[arg(long, env = "CHATSDK_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: TrustedProxies,
}

impl Default for RateLimitArgs {
    fn default() -> Self {
        Self {
            mode: RateLimitMode::On,
            rate_limit_key: DEFAULT_RATE_LIMIT_KEY,
            rate_limit_user_writes: DEFAULT_RATE_LIMIT_USER_WRITES,
            rate_limit_typing: DEFAULT_RATE_LIMIT_TYPING,
            rate_limit_auth_failures: DEFAULT_RATE_LIMIT_AUTH_FAILURES,
            trusted_proxies: TrustedProxies::default(),
        }
    }
}

/// A configuration that passed every check; the only form the server accepts.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub database: PathBuf,
    pub jwt_secret: Secret,
    pub centrifugo_token_secret: Secret,
    pub centrifugo_url: ServiceUrl,
    pub centrifugo_api_key: Secret,
    /// The WebSocket URL frontends use (`doctor` checks it, the demo page connects to it).
    pub centrifugo_ws_url: ServiceUrl,
    /// Browser demo at /demo (see `ServeArgs::demo`).
    pub demo: bool,
    pub token_ttl: u64,
    pub ws_token_ttl: u64,
    pub sub_token_ttl: u64,
    pub jwt_previous_secret: Option<Secret>,
    pub jwt_leeway: u64,
    pub rate_limits: RateLimitArgs,
    /// Origins allowed to call `/api` from a browser; empty: CORS off.
    pub cors_origins: Vec<String>,
    /// A separate address for `/metrics`; `None`: served on `addr`.
    pub metrics_addr: Option<SocketAddr>,
}

/// Longest clock leeway accepted: more would keep expired tokens alive.
pub const MAX_JWT_LEEWAY_SECS: u64 = 300;

/// Every problem found in a configuration, so the operator fixes them in one go.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .problems.join("\n  - "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl ServeArgs {
    /// The wsToken's lifetime: as set, else `DEFAULT_WS_TOKEN_TTL_SECS` or the REST
    /// token's, whichever is shorter.
    pub fn ws_token_ttl_or_default(&self) -> u64 {
        self.client
            .ws_token_ttl
            .unwrap_or(self.client.token_ttl.min(DEFAULT_WS_TOKEN_TTL_SECS))
    }

    /// Checks every setting and reports all problems at once.
    pub fn validate(self, database: PathBuf) -> Result<Config, ConfigError> {
        let mut problems = Vec::new();
        let ws_token_ttl = self.ws_token_ttl_or_default();
        let jwt_secret = required_secret(
            self.jwt_secret,
            "CHATSDK_JWT_SECRET",
            "generate one with `openssl rand -hex 32`",
            &mut problems,
        );
        let centrifugo_token_secret = required_secret(
            self.centrifugo_token_secret,
            "CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY",
            "it must equal Centrifugo's client.token.hmac_secret_key",
            &mut problems,
        );
        let centrifugo_api_key = match self.centrifugo_api_key {
            Some(key) if !key.is_empty() => Some(key),
            _ => {
                problems.push(
                    "CENTRIFUGO_HTTP_API_KEY is missing: it must equal Centrifugo's http_api.key"
                        .to_string(),
                );
                None
            }
        };
        if let (Some(a), Some(b)) = (&jwt_secret, &centrifugo_token_secret) {
            if a == b {
                problems.push(
                    "CHATSDK_JWT_SECRET and CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY are equal: \
                     they must differ, or a REST token would open a Centrifugo connection"
                        .to_string(),
                );
            }
        }
        let centrifugo_url = self.centrifugo_url.expose();
        if !(centrifugo_url.starts_with("http://") || centrifugo_url.starts_with("https://")) {
            problems.push(format!(
                "CENTRIFUGO_URL must start with http:// or https:// (got {:?})",
                self.centrifugo_url
            ));
        } else if let Err(e) = reqwest::Url::parse(centrifugo_url) {
            // Else every request to it fails later, in the relay's log only.
            problems.push(format!(
                "CENTRIFUGO_URL is not a valid URL ({e}; got {:?})",
                self.centrifugo_url
            ));
        }
        let ws_url = self.centrifugo_ws_url.expose();
        if !(ws_url.starts_with("ws://") || ws_url.starts_with("wss://")) {
            problems.push(format!(
                "CENTRIFUGO_WS_URL must start with ws:// or wss:// (got {:?})",
                self.centrifugo_ws_url
            ));
        } else if let Err(e) = reqwest::Url::parse(ws_url) {
            problems.push(format!(
                "CENTRIFUGO_WS_URL is not a valid URL ({e}; got {:?})",
                self.centrifugo_ws_url
            ));
        }
        if self.client.token_ttl == 0 || self.client.token_ttl > MAX_TOKEN_TTL_SECS {
            problems.push(format!(
                "CHATSDK_TOKEN_TTL must be between 1 and {MAX_TOKEN_TTL_SECS} seconds (got {})",
                self.client.token_ttl
            ));
        }
        // Only a value the user set: the default follows CHATSDK_TOKEN_TTL, whose own
        // problem is already listed.
        if let Some(set) = self.client.ws_token_ttl
            && (set == 0 || set > MAX_TOKEN_TTL_SECS)
        {
            problems.push(format!(
                "CHATSDK_WS_TOKEN_TTL must be between 1 and {MAX_TOKEN_TTL_SECS} seconds (got {set})"
            ));
        } else if ws_token_ttl > self.client.token_ttl && self.client.token_ttl != 0 {
            // Clients renew the REST token when the SDK asks for a new wsToken: a wsToken
            // that outlives it leaves them with an expired REST token in between.
            problems.push(format!(
                "CHATSDK_WS_TOKEN_TTL ({ws_token_ttl}) must not exceed CHATSDK_TOKEN_TTL ({}): clients renew the REST token when they renew the wsToken",
                self.client.token_ttl
            ));
        }
        if self.jwt_leeway > MAX_JWT_LEEWAY_SECS {
            problems.push(format!(
                "CHATSDK_JWT_LEEWAY must be at most {MAX_JWT_LEEWAY_SECS} seconds (got {})",
                self.jwt_leeway
            ));
        }
        let jwt_previous_secret = match self.jwt_previous_secret {
            Some(s) if s.is_empty() => None,
            Some(s) if s.len() < MIN_SECRET_BYTES => {
                problems.push(format!(
                    "CHATSDK_JWT_PREVIOUS_SECRET is too weak: {} bytes, at least {MIN_SECRET_BYTES} required",
                    s.len()
                ));
                None
            }
            other => other,
        };
        if let (Some(p), Some(c)) = (&jwt_previous_secret, &centrifugo_token_secret) {
            if p == c {
                problems.push(
                    "CHATSDK_JWT_PREVIOUS_SECRET equals CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY: they must differ"
                        .to_string(),
                );
            }
        }
        if self.client.sub_token_ttl == 0 || self.client.sub_token_ttl > MAX_TOKEN_TTL_SECS {
            problems.push(format!(
                "CHATSDK_SUB_TOKEN_TTL must be between 1 and {MAX_TOKEN_TTL_SECS} seconds (got {})",
                self.client.sub_token_ttl
            ));
        }
        let cors_origins: Vec<String> = self
            .client
            .cors_origins
            .iter()
            .map(|o| o.trim().to_string())
            .filter(|o| !o.is_empty())
            .collect();
        for origin in &cors_origins {
            if !is_origin(origin) {
                problems.push(format!(
                    "CHATSDK_CORS_ORIGINS: {origin:?} is not an origin like https://app.example.com (scheme and host, no path, no wildcard)"
                ));
            }
        }
        if !self.dev {
            for (env, secret) in [
                ("CHATSDK_JWT_SECRET", &jwt_secret),
                (
                    "CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY",
                    &centrifugo_token_secret,
                ),
                ("CENTRIFUGO_HTTP_API_KEY", &centrifugo_api_key),
            ] {
                if secret.as_ref().is_some_and(looks_like_placeholder) {
                    problems.push(format!(
                        "{env} looks like a placeholder, not a random secret: generate one with `openssl rand -hex 32` (CHATSDK_DEV=1 allows it for local development)"
                    ));
                }
            }
        }
        if self
            .metrics_addr
            .is_some_and(|m| m == self.addr && m.port() != 0)
        {
            problems.push("CHATSDK_METRICS_ADDR must differ from CHATSDK_ADDR".to_string());
        }
        match (jwt_secret, centrifugo_token_secret, centrifugo_api_key) {
            (Some(jwt_secret), Some(centrifugo_token_secret), Some(centrifugo_api_key))
                if problems.is_empty() =>
            {
                Ok(Config {
                    addr: self.addr,
                    database,
                    jwt_secret,
                    centrifugo_token_secret,
                    centrifugo_url: self.centrifugo_url.trim_end_slashes(),
                    centrifugo_api_key,
                    centrifugo_ws_url: self.centrifugo_ws_url,
                    demo: self.demo,
                    token_ttl: self.client.token_ttl,
                    ws_token_ttl,
                    sub_token_ttl: self.client.sub_token_ttl,
                    jwt_previous_secret,
                    jwt_leeway: self.jwt_leeway,
                    cors_origins,
                    rate_limits: self.rate_limits,
                    metrics_addr: self.metrics_addr,
                })
            }
            _ => Err(ConfigError { problems }),
        }
    }
}

/// A browser origin: `http(s)://host[:port]`, nothing more.
fn is_origin(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|host| {
        !host.is_empty() && !host.contains(['/', '*', ' ', '?', '#']) && host.is_ascii()
    })
}

/// Example values and typed-in words, not random bytes: the kind of secret copied from
/// documentation and never replaced.
fn looks_like_placeholder(secret: &Secret) -> bool {
    let lower = secret.expose().to_ascii_lowercase();
    let distinct: std::collections::HashSet<u8> = lower.bytes().collect();
    distinct.len() < 8
        || [
            "change-me",
            "changeme",
            "change_me",
            "example",
            "placeholder",
            "your-secret",
            "replace-me",
        ]
        .iter()
        .any(|p| lower.contains(p))
}

fn required_secret(
    value: Option<Secret>,
    env: &str,
    hint: &str,
    problems: &mut Vec<String>,
) -> Option<Secret> {
    match value {
        None => {
            problems.push(format!("{env} is missing: {hint}"));
            None
        }
        Some(s) if s.len() < MIN_SECRET_BYTES => {
            problems.push(format!(
                "{env} is too weak: {} bytes, at least {MIN_SECRET_BYTES} required; {hint}",
                s.len()
            ));
            None
        }
        Some(s) => Some(s),
    }
}

/// A yes/no setting: true, yes, on, 1 or false, no, off, 0 (any case); empty is no.
/// Anything else is refused, so a typo never turns dev mode or the demo on.
pub fn parse_switch(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" | "" => Ok(false),
        _ => Err("expected true or false (also yes/no, on/off, 1/0)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> ServeArgs {
        ServeArgs {
            addr: DEFAULT_ADDR.parse().unwrap(),
            jwt_secret: None,
            centrifugo_token_secret: Some(Secret::new("short")),
            centrifugo_url: "localhost:8000".into(),
            centrifugo_api_key: None,
            centrifugo_ws_url: DEFAULT_CENTRIFUGO_WS_URL.into(),
            demo: false,
            client: ClientArgs {
                token_ttl: 0,
                ..ClientArgs::default()
            },
            jwt_previous_secret: None,
            jwt_leeway: 30,
            dev: false,
            rate_limits: RateLimitArgs::default(),
            metrics_addr: None,
        }
    }

    #[test]
    fn every_problem_is_listed_at_once() {
        let err = args().validate("x.db".into()).unwrap_err();
        let text = err.to_string();
        for needle in [
            "CHATSDK_JWT_SECRET is missing",
            "CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY is too weak",
            "CENTRIFUGO_HTTP_API_KEY is missing",
            "CENTRIFUGO_URL must start",
            "CHATSDK_TOKEN_TTL must be",
        ] {
            assert!(text.contains(needle), "{needle} not in {text}");
        }
        assert!(
            !text.contains("CHATSDK_WS_TOKEN_TTL"),
            "not set, so not the user's problem: {text}"
        );
        assert!(!text.contains("short"), "a secret leaked into the message");
    }

    #[test]
    fn placeholder_secrets_and_bad_origins_are_refused_unless_dev() {
        let mut a = args();
        a.jwt_secret = Some(Secret::new("CHANGE-ME-connection-and-sub-token-secret"));
        a.centrifugo_token_secret = Some(Secret::new("a".repeat(40)));
        a.centrifugo_api_key = Some(Secret::new("k9f3b2a7d1e5c4"));
        a.centrifugo_url = "http://c:8000".into();
        a.client.token_ttl = 60;
        a.client.cors_origins = vec![
            "https://ok.example.com".into(),
            "*".into(),
            "https://x.io/path".into(),
        ];
        let err = a.clone().validate("x.db".into()).unwrap_err();
        assert_eq!(
            err.problems
                .iter()
                .filter(|p| p.contains("placeholder"))
                .count(),
            2,
            "{err}"
        );
        assert_eq!(
            err.problems.iter().filter(|p| p.contains("CORS")).count(),
            2,
            "{err}"
        );
        a.dev = true;
        a.client.cors_origins = vec!["http://localhost:3000".into()];
        assert!(a.validate("x.db".into()).is_ok());
    }

    #[test]
    fn a_ws_token_ttl_out_of_range_is_refused_when_set() {
        let mut a = args();
        a.client.token_ttl = 60;
        for set in [0, MAX_TOKEN_TTL_SECS + 1] {
            a.client.ws_token_ttl = Some(set);
            let text = a.clone().validate("x.db".into()).unwrap_err().to_string();
            assert!(
                text.contains(&format!("CHATSDK_WS_TOKEN_TTL must be between 1 and {MAX_TOKEN_TTL_SECS} seconds (got {set})")),
                "{text}"
            );
        }
    }

    #[test]
    fn a_ws_token_outliving_the_rest_token_is_refused() {
        let mut a = args();
        a.client.token_ttl = 60;
        a.client.ws_token_ttl = Some(61);
        let text = a.clone().validate("x.db".into()).unwrap_err().to_string();
        assert!(
            text.contains("CHATSDK_WS_TOKEN_TTL (61) must not exceed CHATSDK_TOKEN_TTL (60)"),
            "{text}"
        );
        a.client.ws_token_ttl = Some(60);
        let text = a.validate("x.db".into()).unwrap_err().to_string();
        assert!(
            !text.contains("CHATSDK_WS_TOKEN_TTL"),
            "equal is fine: {text}"
        );
    }

    #[test]
    fn a_switch_is_on_or_off_and_a_typo_is_neither() {
        for on in ["true", "TRUE", "yes", "on", "1", " 1 "] {
            assert_eq!(parse_switch(on), Ok(true), "{on:?}");
        }
        for off in ["false", "no", "Off", "0", ""] {
            assert_eq!(parse_switch(off), Ok(false), "{off:?}");
        }
        for typo in ["banana", "ture", "2", "y"] {
            assert!(parse_switch(typo).is_err(), "{typo:?}");
        }
    }

    #[test]
    fn equal_secrets_are_refused() {
        let s = Secret::new("0123456789abcdef0123456789abcdef");
        let mut a = args();
        a.jwt_secret = Some(s.clone());
        a.centrifugo_token_secret = Some(s);
        a.centrifugo_api_key = Some(Secret::new("k9f3b2a7d1e5c4"));
        a.centrifugo_url = "http://c:8000".into();
        a.client.token_ttl = 60;
        let err = a.validate("x.db".into()).unwrap_err();
        assert_eq!(err.problems.len(), 1);
        assert!(err.problems[0].contains("must differ"));
    }

    #[test]
    fn a_password_in_a_centrifugo_url_stays_out_of_problems_and_debug_output() {
        let mut a = args();
        a.centrifugo_url = "htp://user:pa55word@c:9000".into();
        a.centrifugo_ws_url = "wss://user:pa55word@c/connection/websocket".into();
        let err = a.clone().validate("x.db".into()).unwrap_err();
        assert!(
            err.to_string().contains("CENTRIFUGO_URL must start"),
            "{err}"
        );
        a.centrifugo_url = "http://user:pa55word@c d:9000/".into();
        a.centrifugo_ws_url = "ws://user:pa55word@c d/connection/websocket".into();
        let text = a.clone().validate("x.db".into()).unwrap_err().to_string();
        for name in ["CENTRIFUGO_URL", "CENTRIFUGO_WS_URL"] {
            assert!(
                text.contains(&format!("{name} is not a valid URL (")),
                "{text}"
            );
        }
        assert!(!text.contains("pa55word"), "{text}");
        a.centrifugo_ws_url = "wss://user:pa55word@c/connection/websocket".into();
        a.centrifugo_url = "http://user:pa55word@c:9000/".into();
        a.jwt_secret = Some(Secret::new("0123456789abcdef0123456789abcdef"));
        a.centrifugo_token_secret = Some(Secret::new("a".repeat(40)));
        a.centrifugo_api_key = Some(Secret::new("k9f3b2a7d1e5c4"));
        a.client.token_ttl = 60;
        a.dev = true;
        let config = a.clone().validate("x.db".into()).unwrap();

        assert_eq!(
            config.centrifugo_url.expose(),
            "http://user:pa55word@c:9000"
        );
        for text in [err.to_string(), format!("{a:?}"), format!("{config:?}")] {
            assert!(
                !text.contains("pa55word") && !text.contains("user:"),
                "{text}"
            );
        }
    }
}
