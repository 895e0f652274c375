//! `chatsdk dev` end to end: the real binary and a real Centrifugo, run from a copy of the
//! checked-in config on free ports (the file's 8000/9000 may be taken), all in a temp folder.

use crate::common;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};

const USER_ORIGIN: &str = "http://localhost:3000";

/// A `chatsdk dev` to run: its folder, a Centrifugo config on free ports and its address.
struct DevSetup {
    tmp: TempDir,
    config: PathBuf,
    addr: String,
    ws_url: String,
    /// Centrifugo's WebSocket and internal (server API) ports.
    centrifugo_ports: [u16; 2],
}

impl DevSetup {
    fn new() -> DevSetup {
        let tmp = tempfile::tempdir().unwrap();
        let (port, internal_port) = (common::free_port(), common::free_port());
        let mut config: serde_json::Value = serde_json::from_slice(
            &std::fs::read(common::repo_path("centrifugo/config.json")).unwrap(),
        )
        .unwrap();
        config["http_server"]["port"] = port.into();
        config["http_server"]["internal_port"] = internal_port.into();
        let path = tmp.path().join("config.json");
        std::fs::write(&path, config.to_string()).unwrap();
        DevSetup {
            config: path,
            addr: format!("127.0.0.1:{}", common::free_port()),
            ws_url: format!("ws://127.0.0.1:{port}/connection/websocket"),
            centrifugo_ports: [port, internal_port],
            tmp,
        }
    }

    fn dir(&self) -> PathBuf {
        self.tmp.path().join("dev")
    }

    /// `chatsdk <global…> dev <extra…>` with a clean environment but for `env`.
    fn command(
        &self,
        global: &[&str],
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatsdk"));
        cmd.args(global)
            .arg("dev")
            .arg("--dir")
            .arg(self.dir())
            .arg("--centrifugo-config")
            .arg(&self.config)
            .args(["--addr", &self.addr])
            .args(extra);
        for var in [
            "CHATSDK_DATABASE",
            "CHATSDK_DEMO",
            "CHATSDK_ADDR",
            "CENTRIFUGO_CLIENT_ALLOWED_ORIGINS",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().copied())
            .env("CENTRIFUGO_BIN", common::centrifugo_binary())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(self.tmp.path().join("dev-stderr.log")).unwrap());
        cmd
    }

    /// Starts `chatsdk dev` and reads its stdout until `ready` says it is up.
    async fn start(
        &self,
        global: &[&str],
        extra: &[&str],
        env: &[(&str, &str)],
        ready: impl Fn(&str) -> bool,
    ) -> (RunningDev, String) {
        let mut child = self.command(global, extra, env).spawn().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut dev = RunningDev { child, stdout };
        let mut printed = String::new();
        let read = async {
            while let Some(line) = dev.stdout.next_line().await.unwrap() {
                printed.push_str(&line);
                printed.push('\n');
                if ready(&printed) {
                    return Ok(());
                }
            }
            Err(())
        };
        let up = tokio::time::timeout(Duration::from_secs(60), read).await;
        if up != Ok(Ok(())) {
            let log = std::fs::read_to_string(self.tmp.path().join("dev-stderr.log"));
            panic!("chatsdk dev not up within 60 s ({up:?}): {printed}\n{log:?}");
        }
        (dev, printed)
    }
}

/// A running `chatsdk dev`; SIGTERM when dropped, so it stops its Centrifugo too (a kill -9
/// would leave that running).
struct RunningDev {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl RunningDev {
    /// Stops it as Ctrl-C would and returns what it printed on stdout after being up.
    async fn stop(mut self) -> String {
        common::stop_gracefully(&mut self.child).await;
        let mut rest = String::new();
        while let Some(line) = self.stdout.next_line().await.unwrap() {
            rest.push_str(&line);
        }
        rest
    }
}

impl Drop for RunningDev {
    fn drop(&mut self) {
        let Some(pid) = self.child.id() else { return };
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        for _ in 0..100 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The HTTP status Centrifugo answers a browser's WebSocket upgrade from `origin` with.
async fn upgrade_status(ws_url: &str, origin: &str) -> u16 {
    let mut request = ws_url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Origin", origin.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("WebSocket upgrade at {ws_url} failed: {e}"),
    }
}

/// An address of this machine other than the one dev listens on: Linux routes all of
/// 127.0.0.0/8 to loopback, so a server bound to every interface accepts 127.0.0.2 and
/// one bound to 127.0.0.1 refuses it, as it refuses the machine's network addresses (this
/// needs no network, so it runs on an offline CI machine too).
const OTHER_ADDRESS: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

fn accepts_connections(ip: std::net::IpAddr, port: u16) -> bool {
    let addr = std::net::SocketAddr::new(ip, port);
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok()
}

#[actix_web::test]
async fn dev_keeps_centrifugo_on_chatsdks_address_so_the_default_exposes_nothing() {
    let ip = OTHER_ADDRESS;
    let loopback = std::net::IpAddr::from([127, 0, 0, 1]);
    let mut setup = DevSetup::new();
    let (dev, _) = setup
        .start(&["--json"], &[], &[], |out| out.ends_with('\n'))
        .await;
    for port in setup.centrifugo_ports {
        assert!(accepts_connections(loopback, port), "{port}");
        assert!(
            !accepts_connections(ip, port),
            "dev on 127.0.0.1 let Centrifugo's port {port} be reached at {ip}"
        );
    }
    dev.stop().await;

    // Asked to listen on every interface (a phone on the LAN), Centrifugo does too.
    setup.addr = format!("0.0.0.0:{}", common::free_port());
    let (dev, _) = setup
        .start(&["--json"], &[], &[], |out| out.ends_with('\n'))
        .await;
    for port in setup.centrifugo_ports {
        assert!(accepts_connections(ip, port), "{port} at {ip}");
    }
    dev.stop().await;
}

#[actix_web::test]
async fn dev_demo_keeps_the_users_allowed_origins_beside_the_demos_own() {
    let setup = DevSetup::new();
    let port = setup.addr.rsplit(':').next().unwrap().to_string();
    let demo_origin = format!("http://localhost:{port}");
    let users = format!("{USER_ORIGIN} {demo_origin}");

    let (dev, printed) = setup
        .start(
            &[],
            &["--demo"],
            &[("CENTRIFUGO_CLIENT_ALLOWED_ORIGINS", &users)],
            |out| out.contains("Browser demo"),
        )
        .await;

    for origin in [
        USER_ORIGIN,
        &demo_origin,
        &format!("http://127.0.0.1:{port}"),
    ] {
        assert_eq!(upgrade_status(&setup.ws_url, origin).await, 101, "{origin}");
    }
    assert_eq!(
        upgrade_status(&setup.ws_url, "http://elsewhere.test").await,
        403
    );
    let accepted = format!(
        "Browser origins Centrifugo accepts: {USER_ORIGIN} {demo_origin} http://127.0.0.1:{port}\n"
    );
    assert!(printed.contains(&accepted), "{printed}");
    dev.stop().await;
}

#[actix_web::test]
async fn with_json_and_database_dev_prints_one_object_once_up_and_uses_that_file() {
    let setup = DevSetup::new();
    let database = setup.tmp.path().join("other.db");

    let (dev, printed) = setup
        .start(
            &["--json", "--database", database.to_str().unwrap()],
            &[],
            &[],
            |out| out.ends_with('\n'),
        )
        .await;

    let up: Value = serde_json::from_str(&printed).unwrap_or_else(|e| panic!("{e}: {printed}"));
    assert_eq!(up["database"], database.to_str().unwrap(), "{up}");
    assert!(database.is_file());
    assert!(
        !setup.dir().join("chatsdk.db").exists(),
        "the default is unused"
    );
    assert_eq!(up["url"], format!("http://{}", setup.addr));
    assert_eq!(up["centrifugoWsUrl"], setup.ws_url);
    assert_eq!(up["allowedOrigins"], json!([]));
    assert_eq!(up["demoUrl"], Value::Null);
    let key = up["apiKey"].as_str().unwrap();
    let key_file = std::fs::read_to_string(up["apiKeyFile"].as_str().unwrap()).unwrap();
    assert_eq!(key_file.trim(), key);
    assert!(std::fs::read_to_string(up["secretsFile"].as_str().unwrap()).is_ok());
    let tokens = reqwest::Client::new()
        .post(format!("http://{}/tokens", setup.addr))
        .header("X-API-Key", key)
        .json(&json!({"userId": "alice", "name": "Alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(tokens.status(), 200);

    assert_eq!(dev.stop().await, "", "nothing but the one object on stdout");
}

#[actix_web::test]
async fn dev_takes_its_database_from_chatsdk_database_too() {
    let setup = DevSetup::new();
    let database = setup.tmp.path().join("from-env.db");

    let (dev, printed) = setup
        .start(
            &[],
            &[],
            &[("CHATSDK_DATABASE", database.to_str().unwrap())],
            |out| out.contains("Browser origins"),
        )
        .await;

    assert!(
        printed.contains(&format!("  Database:   {}\n", database.display())),
        "{printed}"
    );
    assert!(database.is_file());
    assert!(!setup.dir().join("chatsdk.db").exists());
    // Other local users read neither the data nor the dev secrets.
    let mode = |p: &std::path::Path| {
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions())
            & 0o777
    };
    assert_eq!(mode(&setup.dir()), 0o700);
    assert_eq!(mode(&database), 0o600);
    dev.stop().await;
}

#[test]
fn with_json_a_dev_that_cannot_start_prints_one_error_object() {
    let setup = DevSetup::new();
    std::fs::remove_file(&setup.config).unwrap();

    let out = setup
        .command(&["--json"], &[], &[])
        .as_std_mut()
        .output()
        .unwrap();

    assert_eq!(out.status.code(), Some(1));
    let body: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(body["error"]["code"], "dev_failed", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("config.json")),
        "{body}"
    );
}

#[actix_web::test]
async fn dev_takes_serves_token_lifetimes_and_cors_origins_from_the_environment() {
    let setup = DevSetup::new();
    let (dev, printed) = setup
        .start(
            &["--json"],
            &[],
            &[
                ("CHATSDK_TOKEN_TTL", "60"),
                ("CHATSDK_WS_TOKEN_TTL", "30"),
                ("CHATSDK_SUB_TOKEN_TTL", "20"),
                ("CHATSDK_CORS_ORIGINS", USER_ORIGIN),
            ],
            |out| out.ends_with('\n'),
        )
        .await;
    let up: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(up["corsOrigins"], json!([USER_ORIGIN]), "{up}");
    let http = reqwest::Client::new();
    let base = format!("http://{}", setup.addr);

    // POST `path` with a JSON body and one credential header; the JSON answer.
    let post = async |path: &str, credential: (&str, String), body: Value| -> Value {
        let res = http
            .post(format!("{base}{path}"))
            .header(credential.0, credential.1)
            .json(&body)
            .send()
            .await
            .unwrap();
        res.json().await.unwrap()
    };

    let key = ("X-API-Key", up["apiKey"].as_str().unwrap().to_string());
    let tokens = post("/tokens", key, json!({"userId": "alice"})).await;
    assert_eq!(
        (&tokens["expiresIn"], &tokens["wsExpiresIn"]),
        (&json!(60), &json!(30)),
        "{tokens}"
    );
    let bearer = || {
        (
            "Authorization",
            format!("Bearer {}", tokens["token"].as_str().unwrap()),
        )
    };
    let channel = post("/api/channels", bearer(), json!({"id": "general"})).await;
    let sub = post(
        "/api/subscription-token",
        bearer(),
        json!({"channel": channel["realtimeChannel"]}),
    )
    .await;
    let claims = common::jwt_claims(sub["token"].as_str().unwrap());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        20,
        "{claims}"
    );
    let me = http
        .get(format!("{base}/api/me"))
        .bearer_auth(tokens["token"].as_str().unwrap())
        .header("Origin", USER_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(
        me.headers()["access-control-allow-origin"],
        USER_ORIGIN,
        "a frontend on its own origin can call the REST API under dev"
    );
    dev.stop().await;
}

/// The processes `pid` started, read from /proc (every thread's list: tokio may spawn
/// from any of its threads).
fn children_of(pid: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let list = std::fs::read_to_string(task.unwrap().path().join("children")).unwrap();
        children.extend(list.split_whitespace().map(|p| p.parse::<u32>().unwrap()));
    }
    children
}

#[actix_web::test]
async fn when_its_centrifugo_dies_dev_stops_with_an_error_naming_its_log() {
    let setup = DevSetup::new();
    let (mut dev, _) = setup
        .start(&[], &[], &[], |out| out.contains("Browser origins"))
        .await;
    let children = children_of(dev.child.id().unwrap());
    assert_eq!(children.len(), 1, "dev runs one Centrifugo: {children:?}");

    let killed = std::process::Command::new("kill")
        .args(["-KILL", &children[0].to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    let exit = tokio::time::timeout(Duration::from_secs(30), dev.child.wait())
        .await
        .expect("dev stops once its Centrifugo is gone")
        .unwrap();
    assert_eq!(exit.code(), Some(1), "a failure, not a clean stop");
    let stderr = std::fs::read_to_string(setup.tmp.path().join("dev-stderr.log")).unwrap();
    let log = setup.dir().join("centrifugo.log");
    assert!(
        stderr.contains(&format!(
            "error: Centrifugo exited (signal: 9 (SIGKILL)); its log: {}",
            log.display()
        )),
        "{stderr}"
    );
}
