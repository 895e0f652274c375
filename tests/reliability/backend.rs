//! The app's backend: calls the service with the app key, acting as any user.

use crate::common::CENTRIFUGO_API_KEY;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::time::{Instant, sleep};

/// Largest page of `GET …/messages`.
const PAGE: usize = 200;

#[derive(Clone)]
pub(super) struct Backend {
    base: String,
    key: String,
    http: reqwest::Client,
}

/// A chat channel with its two members.
#[derive(Clone, Debug)]
pub(super) struct Room {
    pub(super) id: String,
    pub(super) realtime: String,
    pub(super) owner: String,
    pub(super) member: String,
}

impl Backend {
    pub(super) fn new(base: &str, key: &str) -> Backend {
        Backend {
            base: base.to_string(),
            key: key.to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
        }
    }

    pub(super) async fn create_room(&self, id: &str, owner: &str, member: &str) -> Room {
        let res = self
            .http
            .post(format!("{}/api/channels", self.base))
            .header("X-API-Key", &self.key)
            .json(&json!({"id": id, "members": [member], "userId": owner}))
            .send()
            .await
            .unwrap();
        let channel = json_of(res, 201).await;
        Room {
            id: id.to_string(),
            realtime: channel["realtimeChannel"].as_str().unwrap().to_string(),
            owner: owner.to_string(),
            member: member.to_string(),
        }
    }

    /// `POST …/members`: `by` adds `user`.
    pub(super) async fn add_member(&self, channel: &str, by: &str, user: &str) {
        let res = self
            .http
            .post(format!("{}/api/channels/{channel}/members", self.base))
            .header("X-API-Key", &self.key)
            .json(&json!({"userIds": [user], "userId": by}))
            .send()
            .await
            .unwrap();
        json_of(res, 200).await;
    }

    /// `POST …/messages` as `user`; the status and the body, or the transport error.
    pub(super) async fn send(
        &self,
        channel: &str,
        user: &str,
        text: &str,
        client_msg_id: &str,
    ) -> Result<(u16, String), reqwest::Error> {
        let res = self
            .http
            .post(format!("{}/api/channels/{channel}/messages", self.base))
            .header("X-API-Key", &self.key)
            .json(&json!({"text": text, "clientMsgId": client_msg_id, "userId": user}))
            .send()
            .await?;
        let status = res.status().as_u16();
        Ok((status, res.text().await?))
    }

    /// Sends and requires `status`; returns the message and how long the answer took.
    pub(super) async fn send_ok(
        &self,
        channel: &str,
        user: &str,
        text: &str,
        status: u16,
    ) -> (Value, Duration) {
        let started = Instant::now();
        let (got, body) = self.send(channel, user, text, text).await.unwrap();
        let took = started.elapsed();
        assert_eq!(got, status, "sending {text:?}: {body}");
        (serde_json::from_str(&body).unwrap(), took)
    }

    /// Every message of `channel` with a seq above `after`, walking pages, ascending.
    pub(super) async fn messages_after(&self, channel: &str, user: &str, after: i64) -> Vec<Value> {
        let mut all = Vec::new();
        let mut after = after;
        loop {
            let res = self
                .http
                .get(format!("{}/api/channels/{channel}/messages", self.base))
                .query(&[
                    ("after", after.to_string()),
                    ("limit", PAGE.to_string()),
                    ("userId", user.to_string()),
                ])
                .header("X-API-Key", &self.key)
                .send()
                .await
                .unwrap();
            let page = json_of(res, 200).await;
            let messages = page["messages"].as_array().unwrap().clone();
            if let Some(last) = messages.last() {
                after = last["seq"].as_i64().unwrap();
            }
            let more = page["hasMore"] == true && !messages.is_empty();
            all.extend(messages);
            if !more {
                return all;
            }
        }
    }

    pub(super) async fn tokens(&self, user: &str) -> Value {
        let res = self
            .http
            .post(format!("{}/tokens", self.base))
            .header("X-API-Key", &self.key)
            .json(&json!({"userId": user}))
            .send()
            .await
            .unwrap();
        json_of(res, 200).await
    }

    pub(super) async fn subscription_token(&self, room: &Room, user: &str) -> String {
        let res = self
            .http
            .post(format!(
                "{}/api/channels/{}/subscription-token",
                self.base, room.id
            ))
            .query(&[("userId", user)])
            .header("X-API-Key", &self.key)
            .send()
            .await
            .unwrap();
        json_of(res, 200).await["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// `chatsdk_outbox_pending_events` from `/metrics`.
    pub(super) async fn pending_events(&self) -> i64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("chatsdk_outbox_pending_events "))
            .unwrap_or_else(|| panic!("no chatsdk_outbox_pending_events in /metrics:\n{text}"))
            .trim()
            .parse()
            .unwrap()
    }

    /// Waits until the outbox is empty; returns how long that took.
    pub(super) async fn wait_drained(&self, within: Duration) -> Duration {
        let started = Instant::now();
        loop {
            let pending = self.pending_events().await;
            if pending == 0 {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "the outbox still holds {pending} events after {within:?}"
            );
            sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Requires `status` and returns the JSON body.
async fn json_of(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert_eq!(got, status, "body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The message.new envelopes in Centrifugo's history of `channel`, oldest first (read
/// straight from Centrifugo, never through a proxy).
pub(super) async fn published_messages(internal_port: u16, channel: &str) -> Vec<Value> {
    let res = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{internal_port}/api/history"))
        .header("X-API-Key", CENTRIFUGO_API_KEY)
        .json(&json!({"channel": channel, "limit": -1}))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    let body = json_of(res, 200).await;
    assert!(body.get("error").is_none(), "history of {channel}: {body}");
    body["result"]["publications"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|p| p["data"].clone())
        .filter(|envelope| envelope["type"] == "message.new")
        .collect()
}

/// Waits until Centrifugo's history of every room holds as many message.new as the store
/// (or `within` passed), then asserts it holds each stored message exactly once, in seq
/// order, each with its own eventId.
pub(super) async fn assert_history_matches(
    internal_port: u16,
    rooms: &[Room],
    stored: &HashMap<String, Vec<Value>>,
    within: Duration,
) {
    let deadline = Instant::now() + within;
    for room in rooms {
        let want: Vec<(i64, String)> = stored[&room.id].iter().map(seq_and_id).collect();
        let mut published = published_messages(internal_port, &room.realtime).await;
        while published.len() < want.len() && Instant::now() < deadline {
            sleep(Duration::from_millis(200)).await;
            published = published_messages(internal_port, &room.realtime).await;
        }
        let got: Vec<(i64, String)> = published
            .iter()
            .map(|envelope| {
                assert_eq!(envelope["seq"], envelope["data"]["seq"], "{envelope}");
                seq_and_id(&envelope["data"])
            })
            .collect();
        let events: HashSet<&str> = published
            .iter()
            .map(|e| e["eventId"].as_str().unwrap())
            .collect();
        assert_eq!(
            events.len(),
            published.len(),
            "{}: an eventId was published twice",
            room.id
        );
        assert_eq!(
            got.len(),
            want.len(),
            "{}: Centrifugo history holds {} message.new for {} stored messages",
            room.id,
            got.len(),
            want.len()
        );
        assert_eq!(
            got, want,
            "{}: Centrifugo history differs from the store",
            room.id
        );
    }
}

pub(super) fn seq_and_id(message: &Value) -> (i64, String) {
    (
        message["seq"].as_i64().unwrap(),
        message["id"].as_str().unwrap().to_string(),
    )
}

/// Asserts seqs 1..n without a gap or a repeat.
pub(super) fn assert_contiguous(channel: &str, messages: &[Value]) {
    let seqs: Vec<i64> = messages
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    let want: Vec<i64> = (1..=messages.len() as i64).collect();
    assert_eq!(seqs, want, "{channel}: seqs are not 1..n");
}
