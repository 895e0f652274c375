//! The composition root: builds state once and the HTTP server. `main` and the tests share it.

use crate::auth::tokens::TokenIssuer;
use crate::centrifugo::{CentrifugoClient, CentrifugoError};
use crate::config::Config;
use crate::db::{Db, DbError};
use crate::error::render_framework_error;
use crate::relay;
use crate::routes::{self, AppState};
use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, ErrorHandlers, Logger};
use actix_web::{App, HttpServer, web};
use std::net::TcpListener;

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
}

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
        let relay = relay::start(db.clone(), centrifugo.clone()).map_err(StartupError::Relay)?;
        let state = web::Data::new(AppState {
            db,
            tokens: TokenIssuer::new(
                &config.jwt_secret,
                &config.centrifugo_token_secret,
                config.token_ttl,
                config.sub_token_ttl,
            ),
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
        .listen(listener)
        .map_err(|source| StartupError::Bind {
            addr: config.addr.to_string(),
            source,
        })?
        .run();
        Ok(Self { server, port })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the process gets SIGINT or SIGTERM (actix stops gracefully on both).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
