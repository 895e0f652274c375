//! The composition root: builds state once and the HTTP server. `main` and the tests share it.

use crate::auth::tokens::{TokenIssuer, TokenSettings};
use crate::centrifugo::{CentrifugoClient, CentrifugoError};
use crate::config::Config;
use crate::db::{Db, DbError};
use crate::error::render_framework_error;
use crate::relay::{self, RelayHandle};
use crate::routes::{self, AppState};
use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, ErrorHandlers, Logger};
use actix_web::{App, HttpServer, web};
use std::net::TcpListener;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database: {0}")]
    Database(#[from] DbError),
    #[error(transparent)]
    Centrifugo(#[from] CentrifugoError),
    #[error("cannot start the outbox relay: {0}")]
    Relay(std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// A built, bound server that has not started serving yet.
pub struct Application {
    server: Server,
    port: u16,
    db: Db,
    relay: RelayHandle,
}

/// How long in-flight requests may take to finish after SIGTERM/SIGINT.
const SHUTDOWN_TIMEOUT_SECS: u64 = 10;
/// How long the relay may keep delivering queued events at shutdown.
const RELAY_LAST_PASS: Duration = Duration::from_secs(5);

impl Application {
    /// Opens the database, builds the clients and binds the listener.
    pub fn build(config: &Config) -> Result<Self, StartupError> {
        let listener = TcpListener::bind(config.addr).map_err(|source| StartupError::Bind {
            addr: config.addr.to_string(),
            source,
        })?;
        Self::build_on(config, listener)
    }

    /// Like `build`, on a listener the caller bound (tests bind port 0).
    pub fn build_on(config: &Config, listener: TcpListener) -> Result<Self, StartupError> {
        let db = Db::open(&config.database)?;
        let centrifugo =
            CentrifugoClient::new(&config.centrifugo_url, config.centrifugo_api_key.clone())?;
        let relay = relay::start(db.clone(), centrifugo.clone(), RELAY_LAST_PASS)
            .map_err(StartupError::Relay)?;
        let (db_handle, relay_handle) = (db.clone(), relay.clone());
        let state = web::Data::new(AppState {
            db,
            tokens: TokenIssuer::new(&TokenSettings {
                rest_secret: &config.jwt_secret,
                previous_rest_secret: config.jwt_previous_secret.as_ref(),
                centrifugo_secret: &config.centrifugo_token_secret,
                ttl: config.token_ttl,
                ws_ttl: config.ws_token_ttl,
                sub_ttl: config.sub_token_ttl,
                leeway: config.jwt_leeway,
            }),
            centrifugo,
            relay,
        });
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                addr: config.addr.to_string(),
                source,
            })?
            .port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(ErrorHandlers::new().default_handler(render_framework_error))
                .wrap(
                    DefaultHeaders::new()
                        .add(("X-Content-Type-Options", "nosniff"))
                        .add(("Referrer-Policy", "no-referrer"))
                        .add(("Cache-Control", "no-store")),
                )
                // Path only (%U), never the query string: nothing secret reaches the log.
                .wrap(
                    Logger::new("%a \"%{METHOD}xi %U\" %s %b %Dms")
                        .custom_request_replace("METHOD", |r| r.method().to_string())
                        .exclude("/health"),
                )
                .configure(routes::configure)
                .default_service(web::to(routes::not_found))
        })
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
        .listen(listener)
        .map_err(|source| StartupError::Bind {
            addr: config.addr.to_string(),
            source,
        })?
        .run();
        Ok(Self {
            server,
            port,
            db: db_handle,
            relay: relay_handle,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the process gets SIGINT or SIGTERM, then shuts down gracefully: stop
    /// accepting, finish in-flight requests (bounded), give the relay one last bounded
    /// pass, checkpoint the WAL.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        log::info!("stopping: delivering queued events, then checkpointing the database");
        let relay = self.relay.clone();
        let _ = tokio::task::spawn_blocking(move || relay.stop(RELAY_LAST_PASS)).await;
        if let Err(e) = self.db.checkpoint().await {
            log::warn!("WAL checkpoint at shutdown failed: {e}");
        }
        log::info!("stopped");
        served
    }
}
