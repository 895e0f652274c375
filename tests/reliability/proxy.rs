//! A fault-injecting HTTP proxy in front of Centrifugo's API.

use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::sleep;

/// What the proxy does to one `/api/batch` request.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Fault {
    /// Answers this status without forwarding.
    Status(u16),
    /// Reads the request head, then closes the connection.
    DropMidRequest,
    /// Forwards (Centrifugo publishes), then closes without answering.
    ForwardThenDrop,
    /// Forwards, then holds Centrifugo's answer this long.
    Delay(Duration),
}

/// One `/api/batch` the proxy saw.
#[derive(Clone, Debug)]
pub(super) struct BatchAttempt {
    pub(super) fault: Option<Fault>,
    pub(super) forwarded: bool,
    pub(super) idempotency_keys: Vec<String>,
}

#[derive(Default)]
struct ProxyState {
    faults: VecDeque<Fault>,
    attempts: Vec<BatchAttempt>,
}

#[derive(Clone)]
pub(super) struct FaultyProxy {
    state: Arc<Mutex<ProxyState>>,
}

impl FaultyProxy {
    /// Serves on `listener`, forwarding to `upstream` (faults come with `arm`).
    pub(super) fn start(listener: std::net::TcpListener, upstream: String) -> FaultyProxy {
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let proxy = FaultyProxy {
            state: Arc::default(),
        };
        let state = proxy.state.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            while let Ok((socket, _)) = listener.accept().await {
                let (http, upstream, state) = (http.clone(), upstream.clone(), state.clone());
                tokio::spawn(serve_connection(socket, http, upstream, state));
            }
        });
        proxy
    }

    /// Applies `faults` to the next `/api/batch` requests, one each, in order.
    pub(super) fn arm(&self, faults: &[Fault]) {
        self.state
            .lock()
            .unwrap()
            .faults
            .extend(faults.iter().cloned());
    }

    pub(super) fn faults_left(&self) -> usize {
        self.state.lock().unwrap().faults.len()
    }

    pub(super) fn attempts(&self) -> Vec<BatchAttempt> {
        self.state.lock().unwrap().attempts.clone()
    }
}

/// Serves one keep-alive connection, request after request.
async fn serve_connection(
    mut socket: TcpStream,
    http: reqwest::Client,
    upstream: String,
    state: Arc<Mutex<ProxyState>>,
) {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            match socket.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut lines = head.split("\r\n");
        let mut request_line = lines.next().unwrap_or_default().split(' ');
        let method = request_line.next().unwrap_or_default().to_string();
        let path = request_line.next().unwrap_or_default().to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let is_batch = path == "/api/batch";
        let fault = if is_batch {
            state.lock().unwrap().faults.pop_front()
        } else {
            None
        };
        if fault == Some(Fault::DropMidRequest) {
            state.lock().unwrap().attempts.push(BatchAttempt {
                fault,
                forwarded: false,
                idempotency_keys: Vec::new(),
            });
            return;
        }
        while buf.len() < head_end + length {
            match socket.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
        let body: Vec<u8> = buf.drain(..head_end + length).skip(head_end).collect();
        let forwarded = !matches!(fault, Some(Fault::Status(_)));
        if is_batch {
            state.lock().unwrap().attempts.push(BatchAttempt {
                fault: fault.clone(),
                forwarded,
                idempotency_keys: idempotency_keys(&body),
            });
        }
        let (status, answer) = match &fault {
            Some(Fault::Status(s)) => (*s, b"proxy fault".to_vec()),
            _ => forward(&http, &upstream, &method, &path, &headers, body).await,
        };
        match fault {
            Some(Fault::ForwardThenDrop) => return,
            Some(Fault::Delay(d)) => sleep(d).await,
            _ => {}
        }
        let mut response = format!(
            "HTTP/1.1 {status} Proxied\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            answer.len()
        )
        .into_bytes();
        response.extend(answer);
        if socket.write_all(&response).await.is_err() {
            return;
        }
    }
}

async fn forward(
    http: &reqwest::Client,
    upstream: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> (u16, Vec<u8>) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::POST);
    let mut req = http.request(method, format!("{upstream}{path}")).body(body);
    for (k, v) in headers {
        if matches!(
            k.as_str(),
            "x-api-key" | "x-centrifugo-error-mode" | "content-type" | "authorization"
        ) {
            req = req.header(k, v);
        }
    }
    match req.send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            (status, res.bytes().await.unwrap_or_default().to_vec())
        }
        Err(_) => (502, b"upstream down".to_vec()),
    }
}

/// The idempotency keys of a batch body's publish and broadcast commands.
fn idempotency_keys(body: &[u8]) -> Vec<String> {
    let Ok(batch) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    batch["commands"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("publish").or_else(|| c.get("broadcast")))
        .filter_map(|p| p["idempotency_key"].as_str().map(String::from))
        .collect()
}
