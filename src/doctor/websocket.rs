//! The WebSocket checks: Centrifugo accepts a freshly signed wsToken over a real connect
//! (its JSON protocol), and lets browsers at CHATSDK_CORS_ORIGINS open a WebSocket.

use super::{Check, START_CENTRIFUGO, Status};
use crate::auth::tokens::{CLOCK_LEEWAY_SECS, TokenIssuer, TokenSettings, WsInfo};
use crate::realtime::RealtimeName;
use crate::secret::{Secret, ServiceUrl};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::Uri;
use tokio_tungstenite::tungstenite::http::header::{HeaderValue, ORIGIN};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

const WEBSOCKET: &str = "centrifugo websocket";
const CLIENT_URL: &str = "client url";
const ORIGINS: &str = "browser origins";
/// Limit for the WebSocket handshake, and again for Centrifugo's connect reply.
const WS_TIMEOUT: Duration = Duration::from_secs(3);
/// The doctor's connections appear under this name in Centrifugo (connect `name`).
const CLIENT_NAME: &str = "chatsdk-doctor";
/// `<app>` part of the doctor's synthetic Centrifugo user, `chatsdk-doctor:<random>`.
const DOCTOR_APP: &str = "chatsdk-doctor";
/// Personal channel of the probe: user pks start at 1, so pk 0 is nobody's.
const PROBE_USER: RealtimeName = RealtimeName { pk: 0, key: None };

/// Connects to `ws_url` with a wsToken signed exactly like `POST /tokens` signs one, for
/// a synthetic user; nothing is written to the database.
pub async fn check_websocket(ws_url: &ServiceUrl, secret: Option<Secret>, ws_ttl: u64) -> Check {
    let Some(secret) = secret else {
        return Check::new(
            WEBSOCKET,
            Status::Skipped,
            "CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY is not set",
        );
    };
    let token = match probe_token(&secret, ws_ttl) {
        Ok(t) => t,
        Err(e) => return Check::fail(WEBSOCKET, e, "report this bug"),
    };
    match connect(ws_url.expose(), &token).await {
        Ok(client) => Check::ok(
            WEBSOCKET,
            format!(
                "{ws_url} accepted a fresh wsToken (client {client}, personal channel subscribed)"
            ),
        ),
        Err(refusal) => refusal.into_check(ws_url),
    }
}

/// The wsToken `/tokens` would issue, for `chatsdk-doctor:<random>`.
fn probe_token(secret: &Secret, ws_ttl: u64) -> Result<String, String> {
    // The REST token of the pair is thrown away, so its secret is a random one.
    let rest = Secret::new(crate::ids::hex(&crate::ids::random_bytes::<32>()));
    let issuer = TokenIssuer::new(&TokenSettings {
        rest_secret: &rest,
        previous_rest_secret: None,
        centrifugo_secret: secret,
        ttl: ws_ttl,
        ws_ttl,
        sub_ttl: ws_ttl,
        leeway: CLOCK_LEEWAY_SECS,
    });
    let user = crate::ids::hex(&crate::ids::random_bytes::<8>());
    let info = WsInfo {
        id: &user,
        name: Some(CLIENT_NAME),
        image: None,
    };
    issuer
        .issue(DOCTOR_APP, info, PROBE_USER, 0, None)
        .map(|t| t.ws_token)
        .map_err(|_| "cannot sign the probe wsToken".to_string())
}

/// Why a WebSocket connect did not succeed.
#[derive(Debug)]
enum Refusal {
    Timeout(&'static str),
    Refused,
    Http(u16),
    /// Centrifugo closed with a disconnect code (3500 invalid token …).
    Disconnect(u16, String),
    /// A connect error reply (109 token expired …).
    Error(u64, String),
    Other(String),
}

/// Handshake, `connect` command, first reply; returns the client id Centrifugo assigned.
async fn connect(ws_url: &str, token: &str) -> Result<String, Refusal> {
    let mut ws = handshake(ws_url, None).await?;
    let command = json!({"id": 1, "connect": {"token": token, "name": CLIENT_NAME}});
    ws.send(Message::text(command.to_string()))
        .await
        .map_err(|e| Refusal::Other(e.to_string()))?;
    let reply = timeout(WS_TIMEOUT, async {
        while let Some(message) = ws.next().await {
            match message.map_err(|e| Refusal::Other(e.to_string()))? {
                Message::Text(text) => {
                    // Replies may come batched, one JSON object per line.
                    for line in text.lines() {
                        if let Ok(reply) = serde_json::from_str::<Value>(line) {
                            if reply["id"] == 1 {
                                return Ok(reply);
                            }
                        }
                    }
                }
                Message::Close(frame) => return Err(closed(frame)),
                _ => {}
            }
        }
        Err(Refusal::Other(
            "the connection ended without a reply".into(),
        ))
    })
    .await
    .map_err(|_| Refusal::Timeout("Centrifugo's connect reply"))??;
    let _ = ws.close(None).await;
    if let Some(client) = reply["connect"]["client"].as_str() {
        return Ok(client.to_string());
    }
    let error = &reply["error"];
    Err(Refusal::Error(
        error["code"].as_u64().unwrap_or(0),
        error["message"]
            .as_str()
            .unwrap_or("no message")
            .to_string(),
    ))
}

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The WebSocket upgrade, sending `Origin` as a browser at `origin` would.
async fn handshake(ws_url: &str, origin: Option<&str>) -> Result<WsStream, Refusal> {
    let mut request = ws_url
        .into_client_request()
        .map_err(|e| Refusal::Other(e.to_string()))?;
    if let Some(origin) = origin {
        let value = HeaderValue::from_str(origin).map_err(|e| Refusal::Other(e.to_string()))?;
        request.headers_mut().insert(ORIGIN, value);
    }
    let (ws, _) = timeout(WS_TIMEOUT, tokio_tungstenite::connect_async(request))
        .await
        .map_err(|_| Refusal::Timeout("the WebSocket handshake"))?
        .map_err(handshake_refusal)?;
    Ok(ws)
}

/// Whether Centrifugo lets browsers at `origins` (CHATSDK_CORS_ORIGINS) open a WebSocket:
/// it answers 403 to an `Origin` missing from its client.allowed_origins.
pub async fn check_origins(ws_url: &ServiceUrl, origins: &[String]) -> Option<Check> {
    let origins: Vec<&str> = origins
        .iter()
        .map(|o| o.trim())
        .filter(|o| o.starts_with("http://") || o.starts_with("https://"))
        .collect();
    if origins.is_empty() {
        return None;
    }
    let (mut allowed, mut refused) = (Vec::new(), Vec::new());
    for origin in &origins {
        match handshake(ws_url.expose(), Some(origin)).await {
            Ok(mut ws) => {
                let _ = ws.close(None).await;
                allowed.push(*origin);
            }
            Err(Refusal::Http(403)) => refused.push(*origin),
            Err(_) => {
                return Some(Check::new(
                    ORIGINS,
                    Status::Skipped,
                    "cannot reach CENTRIFUGO_WS_URL (see above)",
                ));
            }
        }
    }
    if refused.is_empty() {
        return Some(Check::ok(
            ORIGINS,
            format!(
                "Centrifugo accepts WebSockets from CHATSDK_CORS_ORIGINS: {}",
                allowed.join(", ")
            ),
        ));
    }
    let mut check = Check::fail(
        ORIGINS,
        format!(
            "Centrifugo refuses WebSockets (403) from {} of the {} browser origins in CHATSDK_CORS_ORIGINS",
            refused.len(),
            origins.len()
        ),
        format!(
            "allow them where Centrifugo runs: CENTRIFUGO_CLIENT_ALLOWED_ORIGINS=\"{}\" (space-separated), or client.allowed_origins from `chatsdk centrifugo-config{}`",
            origins.join(" "),
            origins
                .iter()
                .map(|o| format!(" --allowed-origin {o}"))
                .collect::<String>()
        ),
    );
    check.details = refused.iter().map(|o| format!("{o} is refused")).collect();
    Some(check)
}

fn handshake_refusal(e: WsError) -> Refusal {
    match e {
        WsError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => Refusal::Refused,
        WsError::Http(response) => Refusal::Http(response.status().as_u16()),
        other => Refusal::Other(other.to_string()),
    }
}

fn closed(frame: Option<CloseFrame>) -> Refusal {
    match frame {
        Some(f) => Refusal::Disconnect(u16::from(f.code), f.reason.to_string()),
        None => Refusal::Other("Centrifugo closed the connection without a reason".into()),
    }
}

impl Refusal {
    fn into_check(self, url: &ServiceUrl) -> Check {
        match self {
            Refusal::Refused => Check::fail(
                WEBSOCKET,
                format!("nothing listens at CENTRIFUGO_WS_URL={url} (connection refused)"),
                format!(
                    "{START_CENTRIFUGO}; CENTRIFUGO_WS_URL should point to its public port, e.g. ws://localhost:8000/connection/websocket"
                ),
            ),
            Refusal::Timeout(step) => Check::fail(
                WEBSOCKET,
                format!("no answer from CENTRIFUGO_WS_URL={url} within {WS_TIMEOUT:?} ({step})"),
                format!(
                    "{START_CENTRIFUGO}; check the host, port and firewalls between here and it"
                ),
            ),
            Refusal::Http(403) => Check::fail(
                WEBSOCKET,
                format!("{url} refused the WebSocket upgrade with 403"),
                "Centrifugo refuses origins it does not allow: list them in client.allowed_origins (env CENTRIFUGO_CLIENT_ALLOWED_ORIGINS)",
            ),
            Refusal::Http(status) => Check::fail(
                WEBSOCKET,
                format!(
                    "{url} answered HTTP {status} instead of a WebSocket upgrade: it is not Centrifugo's WebSocket endpoint"
                ),
                "CENTRIFUGO_WS_URL must be Centrifugo's public port with the path /connection/websocket, e.g. ws://localhost:8000/connection/websocket",
            ),
            Refusal::Disconnect(3500, _) => Check::fail(
                WEBSOCKET,
                "Centrifugo refused the token with 3500 (invalid token): CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY differs from Centrifugo's client.token.hmac_secret_key",
                "give ChatSDK and Centrifugo the same CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY (and set no client.token.audience or issuer in Centrifugo)",
            ),
            Refusal::Disconnect(3501, _) => Check::fail(
                WEBSOCKET,
                format!("{url} refused the connect command as a bad request (3501)"),
                "CENTRIFUGO_WS_URL must be a Centrifugo v6 WebSocket endpoint speaking the JSON protocol",
            ),
            Refusal::Disconnect(code, reason) => Check::fail(
                WEBSOCKET,
                format!("Centrifugo closed the connection with {code} ({reason})"),
                "see Centrifugo's log for this connection (client name chatsdk-doctor)",
            ),
            Refusal::Error(109 | 110, message) => Check::fail(
                WEBSOCKET,
                format!(
                    "Centrifugo found the freshly signed token expired ({message}): this machine's clock and Centrifugo's differ by more than the wsToken lifetime"
                ),
                "synchronize the clocks (NTP) of ChatSDK's and Centrifugo's hosts",
            ),
            Refusal::Error(102, _) => Check::fail(
                WEBSOCKET,
                "Centrifugo has no `personal` namespace (102 unknown channel), so wsTokens cannot subscribe users to their personal channel",
                "run Centrifugo with the config from `chatsdk centrifugo-config` (the checked-in centrifugo/config.json)",
            ),
            Refusal::Error(code, message) => Check::fail(
                WEBSOCKET,
                format!("Centrifugo answered the connect with error {code} ({message})"),
                "see Centrifugo's log for this connection (client name chatsdk-doctor)",
            ),
            Refusal::Other(reason) => Check::fail(
                WEBSOCKET,
                // The WebSocket library's errors may quote the URL, userinfo included.
                format!(
                    "cannot connect to CENTRIFUGO_WS_URL={url}: {}",
                    url.scrub(&reason)
                ),
                "CENTRIFUGO_WS_URL must be Centrifugo's WebSocket endpoint, e.g. ws://localhost:8000/connection/websocket",
            ),
        }
    }
}

/// The URL frontends get, with a hint when other machines could not reach it.
pub fn client_url(ws_url: &ServiceUrl, addr: SocketAddr) -> Check {
    let host = ws_url
        .expose()
        .parse::<Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_string));
    let local = host
        .as_deref()
        .is_some_and(|h| h == "localhost" || h.starts_with("127.") || h == "[::1]" || h == "::1");
    let message = format!("clients connect to {ws_url} (CENTRIFUGO_WS_URL)");
    if local && addr.ip().is_unspecified() {
        Check::warn(
            CLIENT_URL,
            format!(
                "{message}, a loopback address, while ChatSDK listens on {addr} for other machines"
            ),
            "browsers on other machines cannot reach localhost: set CENTRIFUGO_WS_URL to the public URL, e.g. wss://chat.example.com/connection/websocket",
        )
    } else {
        Check::ok(CLIENT_URL, message)
    }
}
