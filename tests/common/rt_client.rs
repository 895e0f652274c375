//! A scriptable real-time client for tests: drives `tests/clients/rt_agent.py` (the official
//! centrifuge-python SDK) over JSON lines and hands its events out in arrival order, each
//! at most once.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::time::{Instant, timeout_at};

/// How long a command may take before its ack is overdue, unless the caller sets another.
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(10);
/// Lines of the agent's stderr kept for panic messages.
const STDERR_TAIL: usize = 60;
/// Events listed in a panic message.
const EVENTS_TAIL: usize = 80;

/// Options of a client-side subscription.
#[derive(Clone, Copy, Debug)]
pub struct SubOptions {
    /// Give the SDK a getToken callback (served from `push_sub_token`). Without one, a
    /// subscribe with no token reaches the server as is; with one, the SDK asks it first.
    pub get_token: bool,
    pub recoverable: bool,
    pub positioned: bool,
}

impl Default for SubOptions {
    fn default() -> Self {
        SubOptions {
            get_token: true,
            recoverable: false,
            positioned: false,
        }
    }
}

/// One running agent process and the events it reported that no `expect` took yet.
pub struct RtClient {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// Received, not yet consumed, in arrival order.
    pending: VecDeque<Value>,
    /// Everything received, for panic messages.
    seen: Vec<Value>,
    next_id: u64,
    closed: bool,
    /// How long `connect`, `subscribe` and the other commands wait for their ack.
    pub ack_timeout: Duration,
}

impl RtClient {
    /// Starts `python agent ws_url` and waits until the agent reports it is ready.
    pub async fn start(python: &Path, agent: &Path, ws_url: &str) -> RtClient {
        let mut child = Command::new(python)
            .arg(agent)
            .arg(ws_url)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {} {}: {e}", python.display(), agent.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let mut err_lines = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
        let tail = Arc::clone(&stderr);
        tokio::spawn(async move {
            while let Ok(Some(line)) = err_lines.next_line().await {
                let mut tail = tail.lock().unwrap();
                if tail.len() == STDERR_TAIL {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        let mut client = RtClient {
            child,
            stdin,
            stdout,
            stderr,
            pending: VecDeque::new(),
            seen: Vec::new(),
            next_id: 0,
            closed: false,
            ack_timeout: DEFAULT_ACK_TIMEOUT,
        };
        // Python and the SDK import take a while on a cold cache.
        client
            .expect("agent ready", Duration::from_secs(20), |e| is(e, "ready"))
            .await;
        client
    }

    /// Connects with a connection JWT; `Err` is the failed ack (`code` = disconnect code).
    pub async fn connect(&mut self, token: &str) -> Result<(), Value> {
        self.connect_opts(token, true).await
    }

    /// Connects, with or without a getToken callback (served from `push_token`).
    pub async fn connect_opts(&mut self, token: &str, get_token: bool) -> Result<(), Value> {
        let ack = self
            .command(json!({"op": "connect", "token": token, "get_token": get_token}))
            .await;
        ok_or_ack(ack).map(drop)
    }

    /// Subscribes with a subscription JWT (`""` for none) and a getToken callback.
    /// `Ok` is the `subscribed` event (consumed); `Err` the failed ack with the
    /// unsubscribe `code` (its `unsubscribed` event stays pending).
    pub async fn subscribe(&mut self, channel: &str, token: &str) -> Result<Value, Value> {
        self.subscribe_opts(channel, token, SubOptions::default())
            .await
    }

    pub async fn subscribe_opts(
        &mut self,
        channel: &str,
        token: &str,
        opts: SubOptions,
    ) -> Result<Value, Value> {
        let ack = self
            .command(json!({
                "op": "subscribe", "channel": channel, "token": token,
                "get_token": opts.get_token, "recoverable": opts.recoverable,
                "positioned": opts.positioned,
            }))
            .await;
        ok_or_ack(ack)?;
        // The ack follows the event: the latest one for the channel is this subscribe's.
        let at = self
            .pending
            .iter()
            .rposition(|e| is(e, "subscribed") && e["channel"] == channel)
            .unwrap_or_else(|| self.fail(&format!("subscribed event for {channel}")));
        Ok(self.pending.remove(at).expect("index in range"))
    }

    /// Queues a connection token for the SDK's getToken.
    pub async fn push_token(&mut self, token: &str) {
        self.command_ok(json!({"op": "push_token", "token": token}))
            .await;
    }

    /// Queues a subscription token for `channel`'s getToken.
    pub async fn push_sub_token(&mut self, channel: &str, token: &str) {
        self.command_ok(json!({"op": "push_sub_token", "channel": channel, "token": token}))
            .await;
    }

    pub async fn unsubscribe(&mut self, channel: &str) {
        self.command_ok(json!({"op": "unsubscribe", "channel": channel}))
            .await;
    }

    /// Client-level disconnect: subscriptions are kept, so `reconnect` resubscribes (and
    /// recovers) them.
    pub async fn disconnect(&mut self) {
        self.command_ok(json!({"op": "disconnect"})).await;
    }

    pub async fn reconnect(&mut self) -> Result<(), Value> {
        let ack = self.command(json!({"op": "reconnect"})).await;
        ok_or_ack(ack).map(drop)
    }

    /// Asks the agent to disconnect and exit, and waits for it.
    pub async fn quit(mut self) {
        self.command_ok(json!({"op": "quit"})).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }

    /// Takes the first unconsumed event matching `pred`, waiting up to `timeout` for it;
    /// panics with the events seen and the agent's stderr.
    pub async fn expect(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        match self.take_until(deadline, &pred).await {
            Some(event) => event,
            None => self.fail(&format!("{what} within {timeout:?}")),
        }
    }

    /// Takes `n` publications on `channel` (client- or server-side), in arrival order.
    pub async fn publications(&mut self, channel: &str, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::with_capacity(n);
        let pred = |e: &Value| is(e, "publication") && e["channel"] == channel;
        while got.len() < n {
            match self.take_until(deadline, &pred).await {
                Some(event) => got.push(event),
                None => self.fail(&format!(
                    "{n} publications on {channel} within {timeout:?}; got {}: {}",
                    got.len(),
                    Value::from(got.clone())
                )),
            }
        }
        got
    }

    /// Asserts that no event matching `pred` is pending or arrives within `window`.
    pub async fn expect_none(
        &mut self,
        what: &str,
        window: Duration,
        pred: impl Fn(&Value) -> bool,
    ) {
        let deadline = Instant::now() + window;
        if let Some(event) = self.take_until(deadline, &pred).await {
            self.fail(&format!("no {what} within {window:?}, but got {event}"));
        }
    }

    /// Events received and not consumed yet, oldest first.
    pub fn pending(&self) -> &VecDeque<Value> {
        &self.pending
    }

    /// Every event received so far, consumed or not.
    pub fn seen(&self) -> &[Value] {
        &self.seen
    }

    /// Sends one command and waits for its ack.
    pub async fn command(&mut self, mut cmd: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        cmd["id"] = id.into();
        let line = format!("{cmd}\n");
        if let Err(e) = self.stdin.write_all(line.as_bytes()).await {
            self.fail(&format!("to write {} to the agent: {e}", redacted(&cmd)));
        }
        let _ = self.stdin.flush().await;
        let what = format!("ack of {}", redacted(&cmd));
        self.expect(&what, self.ack_timeout, |e| is(e, "ack") && e["id"] == id)
            .await
    }

    async fn command_ok(&mut self, cmd: Value) {
        let ack = self.command(cmd.clone()).await;
        if ack["ok"] != true {
            self.fail(&format!("{} to succeed, got {ack}", redacted(&cmd)));
        }
    }

    /// The first matching event, pending or read before `deadline`; the rest stay pending.
    async fn take_until(
        &mut self,
        deadline: Instant,
        pred: &impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        if let Some(at) = self.pending.iter().position(pred) {
            return self.pending.remove(at);
        }
        while !self.closed {
            let line = match timeout_at(deadline, self.stdout.next_line()).await {
                Err(_elapsed) => return None,
                Ok(Ok(Some(line))) => line,
                Ok(Ok(None)) | Ok(Err(_)) => {
                    self.closed = true;
                    break;
                }
            };
            let event = serde_json::from_str::<Value>(&line)
                .unwrap_or_else(|_| json!({"event": "agent_stdout", "line": line}));
            self.seen.push(event.clone());
            if pred(&event) {
                return Some(event);
            }
            self.pending.push_back(event);
        }
        None
    }

    /// Panics with what was expected, the latest events and the agent's stderr.
    fn fail(&mut self, expected: &str) -> ! {
        let status = match self.child.try_wait() {
            Ok(Some(status)) => format!("agent exited: {status}"),
            _ if self.closed => "agent closed stdout".to_string(),
            _ => "agent running".to_string(),
        };
        let skip = self.seen.len().saturating_sub(EVENTS_TAIL);
        let events: Vec<String> = self.seen[skip..].iter().map(Value::to_string).collect();
        let stderr: Vec<String> = self.stderr.lock().unwrap().iter().cloned().collect();
        panic!(
            "expected {expected}\n{status}; events ({} in all, last {}):\n  {}\nagent stderr (tail):\n  {}",
            self.seen.len(),
            events.len(),
            events.join("\n  "),
            stderr.join("\n  ")
        );
    }
}

impl Drop for RtClient {
    /// With `RT_AGENT_TRACE` set, prints every event (run the test with `--nocapture`).
    fn drop(&mut self) {
        if std::env::var_os("RT_AGENT_TRACE").is_some() {
            let events: Vec<String> = self.seen.iter().map(Value::to_string).collect();
            eprintln!("rt_agent events:\n  {}", events.join("\n  "));
        }
    }
}

/// Whether `e` is an event of kind `kind`.
pub fn is(e: &Value, kind: &str) -> bool {
    e["event"] == kind
}

/// The command without its token: JWTs stay out of panic messages.
fn redacted(cmd: &Value) -> Value {
    let mut cmd = cmd.clone();
    if let Some(token) = cmd.get_mut("token") {
        *token = "<redacted>".into();
    }
    cmd
}

fn ok_or_ack(ack: Value) -> Result<Value, Value> {
    if ack["ok"] == true { Ok(ack) } else { Err(ack) }
}
