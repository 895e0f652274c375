//! A TCP link a test can cut: a client's network to Centrifugo's WebSocket port.

use crate::common::free_port;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

#[derive(Default)]
struct LinkState {
    cut: bool,
    open: Vec<AbortHandle>,
}

pub(super) struct Link {
    /// Where the client connects instead of `upstream`.
    pub(super) port: u16,
    state: Arc<Mutex<LinkState>>,
    accept: AbortHandle,
}

impl Link {
    /// Forwards a free loopback port to `127.0.0.1:upstream_port`.
    pub(super) async fn start(upstream_port: u16) -> Link {
        let port = free_port();
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let state: Arc<Mutex<LinkState>> = Arc::default();
        let shared = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut state = shared.lock().unwrap();
                if state.cut {
                    continue; // dropped: the client sees its connection closed
                }
                let pipe = tokio::spawn(async move {
                    if let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", upstream_port)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    }
                });
                state.open.push(pipe.abort_handle());
            }
        })
        .abort_handle();
        Link {
            port,
            state,
            accept,
        }
    }

    /// `ws://…/connection/websocket` through the link.
    pub(super) fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/connection/websocket", self.port)
    }

    /// Closes every connection and refuses new ones until `restore`.
    pub(super) fn cut(&self) {
        let mut state = self.state.lock().unwrap();
        state.cut = true;
        for pipe in state.open.drain(..) {
            pipe.abort();
        }
    }

    pub(super) fn restore(&self) {
        self.state.lock().unwrap().cut = false;
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
