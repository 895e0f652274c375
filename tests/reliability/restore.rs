//! A restore from backup, through the real binary and Centrifugo: the rows made after the
//! backup are lost and their pks are handed out again, maybe to another app, while
//! Centrifugo still holds the lost channels' history and clients still hold tokens
//! naming them. No new channel or user may get a lost one's realtime name.

use super::backend::published_messages;
use super::binary::{Deployment, cli};
use crate::common::rt_client::{RtClient, is};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use tokio::time::{Instant, sleep};

/// How long one expected event or publication may take.
const WAIT: Duration = Duration::from_secs(8);
/// How long a client must stay quiet once the event it must not get was delivered
/// elsewhere.
const QUIET: Duration = Duration::from_millis(1500);
const SECRET: &str = "A-CONFIDENTIAL-after-backup";

/// Calls to one app's API, with its key or a user's REST token.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(&self, path: &str, auth: (&str, &str), body: Option<Value>) -> (u16, Value) {
        let req = match body {
            Some(body) => self.http.post(format!("{}{path}", self.base)).json(&body),
            None => self.http.get(format!("{}{path}", self.base)),
        };
        let res = req.header(auth.0, auth.1).send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "text": text }));
        (status, body)
    }

    /// `/tokens` for `user`; the answer with the user's `personalChannel` added.
    async fn user(&self, key: &str, user: &str) -> Value {
        let (status, mut tokens) = self
            .call(
                "/tokens",
                ("X-API-Key", key),
                Some(json!({ "userId": user })),
            )
            .await;
        assert_eq!(status, 200, "{tokens}");
        let (status, me) = self.call("/api/me", bearer(&tokens).as_pair(), None).await;
        assert_eq!(status, 200, "{me}");
        tokens["personalChannel"] = me["personalChannel"].clone();
        tokens
    }

    async fn create_channel(&self, owner: &Value, id: &str, members: &[&str]) -> Value {
        let body = json!({ "id": id, "members": members });
        let (status, channel) = self
            .call("/api/channels", bearer(owner).as_pair(), Some(body))
            .await;
        assert_eq!(status, 201, "{channel}");
        channel
    }
}

struct Bearer(String);

impl Bearer {
    fn as_pair(&self) -> (&str, &str) {
        ("Authorization", &self.0)
    }
}

fn bearer(tokens: &Value) -> Bearer {
    Bearer(format!("Bearer {}", tokens["token"].as_str().unwrap()))
}

fn name(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a name: {v}"))
        .to_string()
}

/// The pk in a realtime name (`chat:7` or `chat:7.<key>`), read as text.
fn pk_of(name: &str) -> &str {
    let rest = name.split_once(':').map_or(name, |(_, rest)| rest);
    rest.split_once('.').map_or(rest, |(pk, _)| pk)
}

/// Centrifugo's history of `channel` holds `text` (waiting for the relay up to `WAIT`).
async fn wait_published(internal_port: u16, channel: &str, text: &str) {
    let started = Instant::now();
    while !history_has(internal_port, channel, text).await {
        assert!(
            started.elapsed() < WAIT,
            "{text:?} not in Centrifugo's history of {channel} after {WAIT:?}"
        );
        sleep(Duration::from_millis(100)).await;
    }
}

async fn history_has(internal_port: u16, channel: &str, text: &str) -> bool {
    published_messages(internal_port, channel)
        .await
        .iter()
        .any(|envelope| envelope["data"]["text"] == text)
}

/// An official client connected with `ws_token`, server-side subscribed to `personal`.
async fn online(ws_url: &str, ws_token: &Value, personal: &str) -> RtClient {
    let mut client = super::client::online_client(ws_url, ws_token.as_str().unwrap()).await;
    client
        .expect("the server-side personal subscription", WAIT, |e| {
            is(e, "server_subscribed") && e["channel"] == personal
        })
        .await;
    client
}

fn copy_over(backup: &Path, db: &Path) {
    for suffix in ["-wal", "-shm"] {
        let side = format!("{}{suffix}", db.display());
        let _ = std::fs::remove_file(side);
    }
    std::fs::copy(backup, db).unwrap();
}

/// The auditor's scenario: after a backup, app A makes a channel with a message and a
/// user; the backup is restored; app B makes a channel and a user, which take the same
/// pks. B's get realtime names of their own, a subscription token for A's lost channel
/// is refused, and A's lost user's wsToken hears nothing of B's new user.
#[actix_web::test]
async fn after_a_restore_no_new_channel_or_user_gets_a_lost_ones_realtime_name() {
    let deployment = Deployment::new().await;
    let (status, app_b) = cli(&deployment.db, &["app", "create", "--name", "b"]).await;
    assert!(status.success(), "{app_b}");
    let (key_a, key_b) = (deployment.api_key.clone(), name(&app_b["apiKey"]));
    let server = deployment.serve().await;
    let api = Api {
        base: server.base.clone(),
        http: reqwest::Client::new(),
    };
    let alice = api.user(&key_a, "alice").await;
    api.create_channel(&alice, "kept", &["bob"]).await;
    let backup = deployment.dir.path().join("backup.db");
    let (status, report) = cli(&deployment.db, &["backup", backup.to_str().unwrap()]).await;
    assert!(status.success(), "{report}");
    // After the backup, in app A: a user, a channel and a message, all to be lost.
    let carol = api.user(&key_a, "carol").await;
    let lost = api.create_channel(&alice, "after-backup", &["bob"]).await;
    let lost_name = name(&lost["realtimeChannel"]);
    let (status, sent) = api
        .call(
            "/api/channels/after-backup/messages",
            bearer(&alice).as_pair(),
            Some(json!({ "text": SECRET })),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    wait_published(deployment.internal_port, &lost_name, SECRET).await;
    let (stopped, _) = server.terminate(Duration::from_secs(20)).await;
    assert!(stopped.is_some_and(|s| s.success()), "{stopped:?}");

    copy_over(&backup, &deployment.db);
    let server = deployment.serve().await;
    let api = Api {
        base: server.base.clone(),
        http: reqwest::Client::new(),
    };
    // dave first: he takes the pk carol had (eve the next one).
    let dave = api.user(&key_b, "dave").await;
    let eve = api.user(&key_b, "eve").await;
    let eves = api.create_channel(&eve, "eve-room", &[]).await;
    let eves_name = name(&eves["realtimeChannel"]);

    // The restore handed the lost rows' pks out again, to app B.
    assert_eq!(
        pk_of(&eves_name),
        pk_of(&lost_name),
        "{eves_name} {lost_name}"
    );
    let (carols, daves) = (
        name(&carol["personalChannel"]),
        name(&dave["personalChannel"]),
    );
    assert_eq!(pk_of(&daves), pk_of(&carols), "{daves} {carols}");
    // Yet the names are new, so nothing of A's reaches B's.
    assert_ne!(eves_name, lost_name);
    assert_ne!(daves, carols);
    assert!(
        published_messages(deployment.internal_port, &eves_name)
            .await
            .is_empty(),
        "Centrifugo's history of eve's new channel {eves_name} is not empty"
    );
    assert!(history_has(deployment.internal_port, &lost_name, SECRET).await);
    let (status, refused) = api
        .call(
            "/api/subscription-token",
            bearer(&eve).as_pair(),
            Some(json!({ "channel": lost_name })),
        )
        .await;
    assert_eq!(
        (status, &refused["error"]["code"]),
        (404, &json!("channel_not_found"))
    );
    // carol's wsToken from before the restore still connects, to her old personal channel;
    // dave is added to a channel of B's and hears it; carol must not.
    let mut carol_rt = online(deployment.ws_url(), &carol["wsToken"], &carols).await;
    let mut dave_rt = online(deployment.ws_url(), &dave["wsToken"], &daves).await;
    api.create_channel(&eve, "eve-dave-private", &["dave"])
        .await;
    dave_rt
        .expect("member.added on dave's personal channel", WAIT, |e| {
            is(e, "publication") && e["channel"] == daves && e["data"]["type"] == "member.added"
        })
        .await;
    carol_rt
        .expect_none("publication to A's lost user", QUIET, |e| {
            is(e, "publication")
        })
        .await;
}
