//! The composition root: builds state once and the HTTP server. `main` and the tests share it.

use crate::auth::tokens::{TokenIssuer, TokenSettings};
use crate::centrifugo::{CentrifugoClient, CentrifugoError};
use crate::config::Config;
use crate::db::{Db, DbError, outbox, purge};
use crate::error::render_framework_error;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimits;
use crate::relay;
use crate::routes::{self, AppState};
use crate::telemetry;
use crate::worker::Worker;
use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::middleware::{DefaultHeaders, ErrorHandlers};
use actix_web::{App, HttpServer, web};
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database: {0}")]
    Database(#[from] DbError),
    #[error(transparent)]
    Centrifugo(#[from] CentrifugoError),
    #[error("cannot start the outbox relay: {0}")]
    Relay(std::io::Error),
    #[error("cannot start the purge of deleted channels: {0}")]
    Purge(std::io::Error),
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
    relay: Worker,
    purge: Worker,
    stopping: web::Data<Stopping>,
    /// The `/metrics` server on `CHATSDK_METRICS_ADDR`, when set.
    metrics_server: Option<Server>,
}

/// Headers on every answer. Errors raised by middleware (401, 429, 431) pass this layer
/// as errors; `telemetry::observe` adds the same headers to them.
pub const SECURITY_HEADERS: [(&str, &str); 3] = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
];

/// How long in-flight requests may take to finish after SIGTERM/SIGINT.
const SHUTDOWN_TIMEOUT_SECS: u64 = 10;
/// How long the relay may keep delivering queued events at shutdown.
const RELAY_LAST_PASS: Duration = Duration::from_secs(5);
/// How long the WAL checkpoint may wait for readers at shutdown: the last of the bounds
/// that add up to a stop's longest (`.ci/validate-compose`, README Shutdown).
const CHECKPOINT_AT_STOP: Duration = Duration::from_secs(3);

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
        let metrics = Metrics::default();
        let demo = config
            .demo
            .then(|| routes::demo::Demo::start(config))
            .transpose()?;
        let centrifugo =
            CentrifugoClient::new(&config.centrifugo_url, config.centrifugo_api_key.clone())?
                .with_metrics(metrics.clone());
        let relay = relay::start(db.clone(), centrifugo.clone(), RELAY_LAST_PASS)
            .map_err(StartupError::Relay)?;
        let purge = purge::start(db.clone()).map_err(StartupError::Purge)?;
        let (db_handle, relay_handle, purge_handle) = (db.clone(), relay.clone(), purge.clone());
        let stopping = web::Data::new(Stopping::default());
        let stopping_handle = stopping.clone();
        let rate_limits = web::Data::new(RateLimits::new(&config.rate_limits, metrics.clone()));
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
            purge,
            metrics: metrics.clone(),
            ready_outage: std::sync::Mutex::new(crate::logging::Outage::new(
                crate::routes::health::NOT_READY_LOG_EVERY,
            )),
        });
        let metrics_server = match config.metrics_addr {
            Some(addr) => Some(metrics_server(addr, state.clone())?),
            None => None,
        };
        let metrics_here = config.metrics_addr.is_none();
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                addr: config.addr.to_string(),
                source,
            })?
            .port();
        let cors_origins = config.cors_origins.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(stopping.clone())
                .app_data(rate_limits.clone())
                .app_data(metrics.http_recorder())
                .wrap(from_fn(close_when_stopping))
                .wrap(from_fn(limit_header_size))
                .wrap(ErrorHandlers::new().default_handler(render_framework_error))
                .wrap(
                    SECURITY_HEADERS
                        .iter()
                        .fold(DefaultHeaders::new(), |h, &pair| h.add(pair)),
                )
                // Outermost: the id, metrics and log line see every answer, errors included.
                .wrap(from_fn(telemetry::observe))
                .configure(|cfg| routes::configure(cfg, &cors_origins, demo.as_ref(), metrics_here))
                .default_service(web::to(routes::not_found))
        })
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
        // We handle the signals ourselves, to flip `stopping` before the drain starts.
        .disable_signals()
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
            purge: purge_handle,
            stopping: stopping_handle,
            metrics_server,
        })
    }

    /// The service's one door to its database, for a caller that needs it before serving
    /// (`chatsdk dev` creating its app): a second `Db::open` would start a second writer.
    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the process gets SIGINT or SIGTERM, then shuts down gracefully (see `run`).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then: stop accepting, tell keep-alive clients to
    /// close (so in-flight work drains instead of new work arriving), finish in-flight
    /// requests (bounded), give the relay one last bounded pass, checkpoint the WAL.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        let handle = self.server.handle();
        let metrics_server = self.metrics_server.map(|server| {
            let handle = server.handle();
            actix_web::rt::spawn(server);
            handle
        });
        let stopping = self.stopping.clone();
        let mut server = std::pin::pin!(self.server);
        let served = tokio::select! {
            served = &mut server => served,
            () = shutdown => {
                log::info!("shutdown requested: finishing in-flight requests");
                stopping.begin();
                // `stop` sends its command at once; the server future, polled below,
                // carries it out (awaiting `stop` first would wait for itself).
                let _stopped = handle.stop(true);
                server.await
            }
        };
        if let Some(metrics_server) = metrics_server {
            metrics_server.stop(false).await;
        }
        log::info!("stopping: delivering queued events, then checkpointing the database");
        // The purge first: it has nothing to hand over, and its steps would queue behind
        // (and slow) the relay's last pass. It resumes at the next start.
        let purge = self.purge.clone();
        let _ = tokio::task::spawn_blocking(move || purge.stop(purge::STOP_WAIT)).await;
        let relay = self.relay.clone();
        let _ = tokio::task::spawn_blocking(move || relay.stop(relay::stop_wait(RELAY_LAST_PASS)))
            .await;
        // Counted here, not by the relay: it may have been given up mid-batch.
        if let Ok((pending, _)) = self.db.read(outbox::backlog).await
            && pending > 0
        {
            log::warn!(
                "stopping with realtime events still queued ({pending}); a server on this database delivers them (another one now, or this one at its next start)"
            );
        }
        if let Err(e) = self.db.checkpoint(CHECKPOINT_AT_STOP).await {
            log::warn!("WAL checkpoint at shutdown failed: {e}");
        }
        log::info!("stopped");
        served
    }
}

/// A small server for `GET /metrics` alone (and its HEAD), on the internal address `addr`.
fn metrics_server(addr: SocketAddr, state: web::Data<AppState>) -> Result<Server, StartupError> {
    let bind = |source| StartupError::Bind {
        addr: addr.to_string(),
        source,
    };
    let listener = TcpListener::bind(addr).map_err(bind)?;
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(ErrorHandlers::new().default_handler(render_framework_error))
            // Through a route table (thrown away): HEAD and 405s with `Allow`, as on the API.
            .service(
                routes::table::RouteTable::default()
                    .at("/metrics")
                    .get(routes::health::metrics),
            )
            .default_service(web::to(routes::not_found))
    })
    .workers(1)
    .shutdown_timeout(1)
    .disable_signals()
    .listen(listener)
    .map_err(bind)?
    .run())
}

/// Resolves at the first SIGTERM (what `docker compose stop` sends) or SIGINT (Ctrl-C).
/// It listens from the call on, not from the first poll: `chatsdk dev` says it is up before
/// it serves, and a script may signal it at once (the default action would kill it and
/// leave its Centrifugo running).
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let signals = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        );
        async move {
            match signals {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Largest total size of a request's headers (names and values), in bytes.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Refuses requests whose headers together exceed `MAX_HEADER_BYTES` with 431.
async fn limit_header_size(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let size: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if size > MAX_HEADER_BYTES {
        return Err(crate::error::ApiError::HeadersTooLarge(MAX_HEADER_BYTES).into());
    }
    next.call(req).await
}

/// Whether shutdown has begun: set once by `Application::run`, read by every request.
#[derive(Debug, Default)]
struct Stopping(AtomicBool);

impl Stopping {
    fn begin(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn is_stopping(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Once shutdown began, every answer asks the client to close its connection, so
/// keep-alive clients stop sending new requests to a server that is going away.
async fn close_when_stopping(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let stopping = req
        .app_data::<web::Data<Stopping>>()
        .is_some_and(|s| s.is_stopping());
    let mut res = next.call(req).await?;
    if stopping {
        res.response_mut()
            .head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
    }
    Ok(res)
}
