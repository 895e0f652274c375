//! The server API check: `/api/info` at CENTRIFUGO_URL answers and accepts our key.

use super::{Check, START_CENTRIFUGO, Status};
use crate::centrifugo::{CentrifugoClient, CentrifugoError};
use crate::secret::{Secret, ServiceUrl};

const API: &str = "centrifugo api";

/// `/api/info` with our API key; reports Centrifugo's version.
pub async fn check_api(url: &ServiceUrl, api_key: Option<Secret>) -> Check {
    let Some(api_key) = api_key else {
        return Check::new(API, Status::Skipped, "CENTRIFUGO_HTTP_API_KEY is not set");
    };
    let client = match CentrifugoClient::new(url, api_key) {
        Ok(c) => c,
        Err(e) => return Check::fail(API, e.to_string(), "check CENTRIFUGO_URL"),
    };
    match client.info().await {
        Ok(info) => {
            let versions: Vec<&str> = info.nodes.iter().map(|n| n.version.as_str()).collect();
            let version = match versions.first() {
                Some(v) => format!("Centrifugo {v}"),
                None => "Centrifugo (version unknown)".into(),
            };
            Check::ok(
                API,
                format!(
                    "{url} answers with our API key: {version}, {} node{}",
                    versions.len(),
                    super::plural(versions.len())
                ),
            )
        }
        Err(CentrifugoError::Unreachable { reason, .. }) => Check::fail(
            API,
            format!("Centrifugo's API is not reachable at CENTRIFUGO_URL={url}: {reason}"),
            format!(
                "{START_CENTRIFUGO}; CENTRIFUGO_URL should point to its internal port, e.g. http://localhost:9000"
            ),
        ),
        Err(CentrifugoError::Unauthorized) => Check::fail(
            API,
            "Centrifugo refused the API key (401): CENTRIFUGO_HTTP_API_KEY differs from Centrifugo's http_api.key",
            "set CENTRIFUGO_HTTP_API_KEY to the key Centrifugo runs with (its env CENTRIFUGO_HTTP_API_KEY or http_api.key), or restart Centrifugo with this one",
        ),
        Err(CentrifugoError::Status(404)) => Check::fail(
            API,
            format!("{url}/api/info answered 404: CENTRIFUGO_URL is not Centrifugo's server API"),
            "CENTRIFUGO_URL must be Centrifugo's internal port without a path, e.g. http://localhost:9000 (http_server.internal_port in centrifugo/config.json)",
        ),
        Err(e) => Check::fail(
            API,
            format!("{url}: {e}"),
            "check that CENTRIFUGO_URL points to Centrifugo's internal port, e.g. http://localhost:9000",
        ),
    }
}
