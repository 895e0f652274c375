//! A small typed client for Centrifugo's server HTTP API.
//!
//! Every call sends `X-Centrifugo-Error-Mode: transport`, so API errors come back as HTTP
//! statuses with `{"code","message"}` instead of hiding inside 200 answers.

use crate::metrics::Metrics;
use crate::secret::{Secret, ServiceUrl};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Upper bound for one API call, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Typing events on their way to Centrifugo at once; more are dropped. Each holds a
/// connection until Centrifugo answers, and a Centrifugo that hangs (stopped, overloaded,
/// blackholed) accepts connections but never answers: unbounded, a typing burst opened
/// one socket per event until the process ran out of file descriptors.
pub const TYPING_IN_FLIGHT: usize = 64;
/// How long a typing event may take: an indicator older than this is stale anyway.
const TYPING_TIMEOUT: Duration = Duration::from_secs(1);

/// What went wrong with a call. `Display` is for operators (logs, `doctor`): it may name
/// the URL, never its user or password; `summary` is for public answers.
#[derive(Debug, thiserror::Error)]
pub enum CentrifugoError {
    /// A `ServiceUrl`, so the message shows it without user and password.
    #[error("Centrifugo is unreachable at {url}: {reason}")]
    Unreachable { url: ServiceUrl, reason: String },
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

impl CentrifugoError {
    /// What failed, without the address or Centrifugo's own words: for `/ready`, which
    /// anyone may call. The log line (this error's `Display`) has the rest.
    pub fn summary(&self) -> String {
        match self {
            Self::Unreachable { .. } => "unreachable".into(),
            Self::Unauthorized => self.to_string(),
            Self::Api { code, .. } => format!("Centrifugo API error {code}"),
            Self::Status(status) => format!("Centrifugo answered HTTP {status}"),
            Self::Decode(_) => "Centrifugo sent an answer we could not read".into(),
        }
    }
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
    base_url: ServiceUrl,
    api_key: Secret,
    /// Where publish latency and failures are counted (a no-op registry unless given).
    metrics: Metrics,
    /// Permits for typing events in flight (`TYPING_IN_FLIGHT`), shared by clones.
    typing: Arc<Semaphore>,
}

impl std::fmt::Debug for CentrifugoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CentrifugoClient")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl CentrifugoClient {
    pub fn new(base_url: &ServiceUrl, api_key: Secret) -> Result<Self, CentrifugoError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| CentrifugoError::Unreachable {
                url: base_url.clone(),
                reason: format!("cannot build HTTP client: {}", e.without_url()),
            })?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_slashes(),
            api_key,
            metrics: Metrics::default(),
            typing: Arc::new(Semaphore::new(TYPING_IN_FLIGHT)),
        })
    }

    /// Counts publishes in `metrics` (the server's registry).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// `/api/info`: proves Centrifugo answers and accepts our API key.
    pub async fn info(&self) -> Result<InfoResult, CentrifugoError> {
        self.call("info", &Empty {}).await
    }

    /// `/api/publish`. `skip_history` for ephemeral events such as typing.
    pub async fn publish(
        &self,
        channel: &str,
        data: &Value,
        skip_history: bool,
    ) -> Result<(), CentrifugoError> {
        let body = json!({"channel": channel, "data": data, "skip_history": skip_history});
        let started = Instant::now();
        let result = self.call::<_, Value>("publish", &body).await.map(|_| ());
        self.metrics.centrifugo_publish(started.elapsed(), &result);
        result
    }

    /// Publishes a typing event (no history) in the background and returns at once. Best
    /// effort: dropped, and counted, when `TYPING_IN_FLIGHT` are already on their way or
    /// Centrifugo takes over `TYPING_TIMEOUT`. Needs a Tokio runtime.
    pub fn publish_typing(&self, channel: String, data: Value) {
        let Ok(permit) = Arc::clone(&self.typing).try_acquire_owned() else {
            self.metrics.typing_dropped();
            return;
        };
        let client = self.clone();
        tokio::spawn(async move {
            let sent = tokio::time::timeout(TYPING_TIMEOUT, client.publish(&channel, &data, true));
            match sent.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => log::debug!("typing event lost: {e}"),
                Err(_) => {
                    client.metrics.typing_dropped();
                    log::debug!("typing event lost: Centrifugo took over {TYPING_TIMEOUT:?}");
                }
            }
            drop(permit);
        });
    }

    /// `/api/batch`, run in order (`parallel: false`). One outcome per command, in input
    /// order; a broadcast counts as failed when any of its channels failed.
    pub async fn batch(
        &self,
        commands: &[&RawValue],
    ) -> Result<Vec<Result<(), ApiFailure>>, CentrifugoError> {
        let started = Instant::now();
        let result = self.run_batch(commands).await;
        self.metrics.centrifugo_batch(started.elapsed(), &result);
        result
    }

    async fn run_batch(
        &self,
        commands: &[&RawValue],
    ) -> Result<Vec<Result<(), ApiFailure>>, CentrifugoError> {
        let body = BatchRequest {
            commands,
            parallel: false,
        };
        let bytes = self.post("batch", &body).await?;
        let answer: BatchAnswer =
            serde_json::from_slice(&bytes).map_err(|e| CentrifugoError::Decode(e.to_string()))?;
        if answer.replies.len() != commands.len() {
            return Err(CentrifugoError::Decode(format!(
                "batch answered {} replies for {} commands",
                answer.replies.len(),
                commands.len()
            )));
        }
        Ok(answer.replies.iter().map(reply_outcome).collect())
    }

    async fn call<Req: Serialize, Res: DeserializeOwned>(
        &self,
        method: &str,
        request: &Req,
    ) -> Result<Res, CentrifugoError> {
        let body = self.post(method, request).await?;
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

    /// POSTs one API call; transport failures, 401 and error statuses become errors.
    async fn post<Req: Serialize>(
        &self,
        method: &str,
        request: &Req,
    ) -> Result<bytes::Bytes, CentrifugoError> {
        let url = ServiceUrl::new(format!("{}/api/{method}", self.base_url.expose()));
        let unreachable = |e: reqwest::Error| CentrifugoError::Unreachable {
            url: url.clone(),
            reason: describe_transport_error(e),
        };
        let response = self
            .http
            .post(url.expose())
            .header("X-API-Key", self.api_key.expose())
            .header("X-Centrifugo-Error-Mode", "transport")
            .json(request)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?;
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
        Ok(body)
    }
}

/// Centrifugo's code for a channel in a namespace its config does not have.
const UNKNOWN_CHANNEL: u32 = 102;

/// An error Centrifugo reported for one command of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    pub code: u32,
    pub message: String,
}

impl ApiFailure {
    /// Codes that no retry can fix: not found, bad request, not available, unrecoverable
    /// position, conflict. Anything else (100 internal) may pass later, and so may 102
    /// (unknown channel): every channel we name is in a namespace of the checked-in
    /// config, so 102 means Centrifugo runs without it (started with another file, say),
    /// which its operator fixes with a restart. Refusing those events for good would
    /// lose every one of that window for a slip that is fixed in seconds.
    pub fn is_permanent(&self) -> bool {
        matches!(self.code, 104 | 107 | 108 | 112 | 113)
    }

    /// What an operator should look at, for a failure that holds up delivery.
    pub fn hint(&self) -> &'static str {
        match self.code {
            UNKNOWN_CHANNEL => {
                " (Centrifugo lacks the namespace: is it running with centrifugo/config.json?)"
            }
            _ => "",
        }
    }
}

/// `/api/batch`'s body; the commands are written into it as they are.
#[derive(Serialize)]
struct BatchRequest<'a> {
    commands: &'a [&'a RawValue],
    parallel: bool,
}

#[derive(Deserialize)]
struct BatchAnswer {
    replies: Vec<Value>,
}

fn reply_outcome(reply: &Value) -> Result<(), ApiFailure> {
    let failure = |e: &Value| ApiFailure {
        code: e["code"].as_u64().unwrap_or(100) as u32,
        message: e["message"].as_str().unwrap_or("unknown error").to_string(),
    };
    if let Some(e) = reply.get("error") {
        return Err(failure(e));
    }
    if let Some(responses) = reply
        .pointer("/broadcast/responses")
        .and_then(Value::as_array)
    {
        if let Some(e) = responses.iter().find_map(|r| r.get("error")) {
            return Err(failure(e));
        }
    }
    Ok(())
}

/// A short cause for a transport failure, without the URL: reqwest's would print its
/// user and password (the caller names the URL, redacted).
fn describe_transport_error(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection refused or host unreachable".into()
    } else {
        e.without_url().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn an_unreachable_centrifugo_is_reported_without_the_urls_password() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let url = ServiceUrl::new(format!("http://user:pa55word@127.0.0.1:{port}/"));
        let client = CentrifugoClient::new(&url, Secret::new("key")).unwrap();

        let e = client.info().await.unwrap_err();

        let text = format!("{e} {e:?} {client:?}");
        assert!(
            !text.contains("pa55word") && !text.contains("user:"),
            "{text}"
        );
        assert!(
            text.contains(&format!("[REDACTED]@127.0.0.1:{port}/api/info")),
            "{text}"
        );
        assert_eq!(e.summary(), "unreachable");
    }
}
