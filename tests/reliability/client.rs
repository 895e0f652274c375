//! The example client: live messages from Centrifugo, healed by the catch-up recipe.

use super::backend::{Backend, Room, seq_and_id};
use crate::common;
use crate::common::rt_client::{RtClient, is};
use std::time::Duration;
use tokio::time::Instant;

/// One user's view of their chats, as a chat app builds it: messages arrive live from
/// Centrifugo; when a subscription comes back without its history (`recovered: false`)
/// or a live message skips a seq, it fetches `GET …/messages?after=<last seq seen>` and
/// merges by message id.
pub(super) struct ChatView {
    user: String,
    pub(super) rooms: Vec<RoomView>,
}

pub(super) struct RoomView {
    channel_id: String,
    realtime: String,
    /// (seq, message id), ascending, each id once.
    pub(super) messages: Vec<(i64, String)>,
    /// The eventId of every message.new received live, to spot a duplicate delivery.
    pub(super) live_events: Vec<String>,
    pub(super) catch_ups: usize,
    /// Messages that came both live and from a catch-up, merged into one.
    pub(super) merged: usize,
}

impl RoomView {
    fn last_seq(&self) -> i64 {
        self.messages.last().map_or(0, |m| m.0)
    }

    fn merge(&mut self, seq: i64, id: &str) {
        if self.messages.iter().any(|(_, known)| known == id) {
            self.merged += 1;
            return;
        }
        let at = self.messages.partition_point(|(s, _)| *s < seq);
        self.messages.insert(at, (seq, id.to_string()));
    }

    async fn catch_up(&mut self, backend: &Backend, user: &str) {
        self.catch_ups += 1;
        for m in backend
            .messages_after(&self.channel_id, user, self.last_seq())
            .await
        {
            let (seq, id) = seq_and_id(&m);
            self.merge(seq, &id);
        }
    }
}

impl ChatView {
    pub(super) fn new(user: &str, rooms: &[Room]) -> ChatView {
        ChatView {
            user: user.to_string(),
            rooms: rooms
                .iter()
                .map(|r| RoomView {
                    channel_id: r.id.clone(),
                    realtime: r.realtime.clone(),
                    messages: Vec::new(),
                    live_events: Vec::new(),
                    catch_ups: 0,
                    merged: 0,
                })
                .collect(),
        }
    }

    /// Applies the client's events until room `i` shows `want[i]` messages.
    pub(super) async fn follow(
        &mut self,
        client: &mut RtClient,
        backend: &Backend,
        want: &[usize],
        within: Duration,
    ) {
        let deadline = Instant::now() + within;
        let channels: Vec<String> = self.rooms.iter().map(|r| r.realtime.clone()).collect();
        while self
            .rooms
            .iter()
            .zip(want)
            .any(|(r, w)| r.messages.len() < *w)
        {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = client
                .expect("a live message or a resubscription", left, |e| {
                    (is(e, "subscribed") || is(e, "publication"))
                        && channels.iter().any(|c| e["channel"] == c.as_str())
                })
                .await;
            let room = self
                .rooms
                .iter_mut()
                .find(|r| event["channel"] == r.realtime.as_str())
                .expect("an event of a followed channel");
            if is(&event, "subscribed") {
                if event["recovered"] != true {
                    room.catch_up(backend, &self.user).await;
                }
                continue;
            }
            let envelope = &event["data"];
            if envelope["type"] != "message.new" {
                continue;
            }
            room.live_events
                .push(envelope["eventId"].as_str().unwrap().to_string());
            let (seq, id) = seq_and_id(&envelope["data"]);
            if seq > room.last_seq() + 1 {
                room.catch_up(backend, &self.user).await;
            }
            room.merge(seq, &id);
        }
    }
}

pub(super) async fn online_client(ws_url: &str, ws_token: &str) -> RtClient {
    let mut client = RtClient::start(
        &common::python(),
        &common::repo_path("tests/clients/rt_agent.py"),
        ws_url,
    )
    .await;
    client
        .connect(ws_token)
        .await
        .unwrap_or_else(|ack| panic!("could not connect: {ack}"));
    client
}
