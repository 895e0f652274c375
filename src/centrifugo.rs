//! A small typed client for Centrifugo's server HTTP API.
//!
//! Every call sends `X-Centrifugo-Error-Mode: transport`, so API errors come back as HTTP
//! statuses with `{"code","message"}` instead of hiding inside 200 answers.

use crate::secret::Secret;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Upper bound for one API call, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum CentrifugoError {
    #[error("Centrifugo is unreachable at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error(
        "Centrifugo refused the API key (401): CENTRIFUGO_HTTP_API_KEY differs from Centrifugo's http_api.key"
    )]
    Unauthorized,
    #[error("Centrifugo API error {code}: {message}")]
    Api { code: u32, message: String },
    #[error("Centrifugo answered HTTP {0}")]
    Status(u16),
    #[error("Centrifugo sent an answer we could not read: {0}")]
    Decode(String),
}

#[derive(Deserialize)]
struct ApiErrorBody {
    code: u32,
    message: String,
}

#[derive(Deserialize)]
struct Envelope<T> {
    result: Option<T>,
    error: Option<ApiErrorBody>,
}

/// Result of `/api/info`.
#[derive(Debug, Deserialize)]
pub struct InfoResult {
    pub nodes: Vec<NodeInfo>,
}

#[derive(Debug, Deserialize)]
pub struct NodeInfo {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub num_clients: u64,
}

#[derive(Serialize)]
struct Empty {}

/// Client for one Centrifugo server API base URL (its internal port in deployments).
#[derive(Clone)]
pub struct CentrifugoClient {
    http: reqwest::Client,
    base_url: String,
    api_key: Secret,
}

impl std::fmt::Debug for CentrifugoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CentrifugoClient")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl CentrifugoClient {
    pub fn new(base_url: &str, api_key: Secret) -> Result<Self, CentrifugoError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| CentrifugoError::Unreachable {
                url: base_url.into(),
                reason: format!("cannot build HTTP client: {e}"),
            })?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
        })
    }

    /// `/api/info`: proves Centrifugo answers and accepts our API key.
    pub async fn info(&self) -> Result<InfoResult, CentrifugoError> {
        self.call("info", &Empty {}).await
    }

    async fn call<Req: Serialize, Res: DeserializeOwned>(
        &self,
        method: &str,
        request: &Req,
    ) -> Result<Res, CentrifugoError> {
        let url = format!("{}/api/{method}", self.base_url);
        let response = self
            .http
            .post(&url)
            .header("X-API-Key", self.api_key.expose())
            .header("X-Centrifugo-Error-Mode", "transport")
            .json(request)
            .send()
            .await
            .map_err(|e| CentrifugoError::Unreachable {
                url: url.clone(),
                reason: describe_transport_error(&e),
            })?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| CentrifugoError::Unreachable {
                url: url.clone(),
                reason: describe_transport_error(&e),
            })?;
        if status == StatusCode::UNAUTHORIZED {
            return Err(CentrifugoError::Unauthorized);
        }
        if !status.is_success() {
            return Err(match serde_json::from_slice::<ApiErrorBody>(&body) {
                Ok(e) => CentrifugoError::Api {
                    code: e.code,
                    message: e.message,
                },
                Err(_) => CentrifugoError::Status(status.as_u16()),
            });
        }
        let envelope: Envelope<Res> =
            serde_json::from_slice(&body).map_err(|e| CentrifugoError::Decode(e.to_string()))?;
        match (envelope.result, envelope.error) {
            (_, Some(e)) => Err(CentrifugoError::Api {
                code: e.code,
                message: e.message,
            }),
            (Some(result), None) => Ok(result),
            (None, None) => Err(CentrifugoError::Decode("neither result nor error".into())),
        }
    }
}

/// A short cause for a transport failure, without the URL (it is reported separately).
fn describe_transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection refused or host unreachable".into()
    } else {
        let text = e.to_string();
        match e.url() {
            Some(url) => text.replace(url.as_str(), "<url>"),
            None => text,
        }
    }
}
