//! `chatsdk dev`: the no-Docker path. Starts the pinned Centrifugo from the checked-in
//! config (installing it with `go install` when missing) and the service beside it, with
//! dev secrets generated once and kept in the dev folder, then prints a dev API key.

use crate::auth::api_key::{self, ApiKeyHash};
use crate::centrifugo_process::{self, CentrifugoOptions, CentrifugoProcess};
use crate::cli::{CliError, Output};
use crate::config::{ClientArgs, DEFAULT_ADDR, ServeArgs};
use crate::db::{Db, apps, keys};
use crate::ids;
use crate::secret::Secret;
use crate::startup::Application;
use clap::Args;
use serde_json::json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;

#[derive(Args, Debug)]
pub struct DevArgs {
    /// Folder for the dev secrets, database, API key and Centrifugo log.
    #[arg(long, default_value = ".chatsdk-dev")]
    pub dir: PathBuf,
    /// Centrifugo config file to run (the checked-in one).
    #[arg(long, default_value = "centrifugo/config.json")]
    pub centrifugo_config: PathBuf,
    /// Address the service listens on; Centrifugo listens on its IP too (0.0.0.0: all).
    #[arg(long, env = "CHATSDK_ADDR", default_value = DEFAULT_ADDR)]
    pub addr: SocketAddr,
    /// Also serve the browser chat demo at /demo (and let Centrifugo accept its origin).
    #[arg(long, env = "CHATSDK_DEMO", value_parser = crate::config::parse_switch)]
    pub demo: bool,
    /// `serve`'s token lifetimes and CORS origins: a frontend developer tries renewal with
    /// short tokens, or a page served from its own origin.
    #[command(flatten)]
    pub client: ClientArgs,
}

const SECRET_NAMES: [&str; 3] = [
    "CHATSDK_JWT_SECRET",
    "CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY",
    "CENTRIFUGO_HTTP_API_KEY",
];

/// A started `chatsdk dev`: what to print once, and the service to run until Ctrl-C.
pub struct Dev {
    pub output: Output,
    app: Application,
    centrifugo: CentrifugoProcess,
    centrifugo_log: PathBuf,
    shutdown: Pin<Box<dyn Future<Output = ()>>>,
}

impl Dev {
    /// Serves until Ctrl-C (or SIGTERM), then stops Centrifugo. If Centrifugo exits first,
    /// the service stops too and this is an error: a dev service whose messages only queue
    /// would look alive while no client receives anything.
    pub async fn serve(self) -> Result<(), String> {
        let Dev {
            app,
            mut centrifugo,
            centrifugo_log,
            shutdown,
            ..
        } = self;
        let mut centrifugo_exit = None;
        let stop_when = async {
            tokio::select! {
                () = shutdown => {}
                status = centrifugo.exited() => {
                    log::error!("Centrifugo exited ({status}): stopping the service too");
                    centrifugo_exit = Some(status);
                }
            }
        };
        let served = app.run(stop_when).await;
        centrifugo.stop().await;
        if let Some(status) = centrifugo_exit {
            return Err(format!(
                "Centrifugo exited ({status}); its log: {}",
                centrifugo_log.display()
            ));
        }
        served.map_err(|e| e.to_string())
    }
}

/// Starts Centrifugo and the service over `database`, by default `chatsdk.db` in the dev
/// folder (a `--database` or `CHATSDK_DATABASE` the user gave wins).
pub async fn start(args: DevArgs, database: Option<PathBuf>) -> Result<Dev, CliError> {
    start_inner(args, database)
        .await
        .map_err(|message| CliError {
            code: "dev_failed",
            message,
        })
}

async fn start_inner(args: DevArgs, database: Option<PathBuf>) -> Result<Dev, String> {
    // Owner only, when dev makes it: it holds the dev secrets and the database.
    let mut folder = std::fs::DirBuilder::new();
    folder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut folder, 0o700);
    folder
        .create(&args.dir)
        .map_err(|e| format!("cannot create {}: {e}", args.dir.display()))?;
    let dir = std::fs::canonicalize(&args.dir).map_err(|e| e.to_string())?;
    let database = match database {
        Some(path) => std::path::absolute(path).map_err(|e| e.to_string())?,
        None => dir.join("chatsdk.db"),
    };
    let config_file = std::fs::canonicalize(&args.centrifugo_config).map_err(|e| {
        format!(
            "cannot find {} ({e}): run `chatsdk dev` from the repository root",
            args.centrifugo_config.display()
        )
    })?;
    let secrets = load_or_create_secrets(&dir.join("dev.env"))?;
    let binary = match centrifugo_process::find_binary() {
        Some(b) => b,
        None => centrifugo_process::install().map_err(|e| e.to_string())?,
    };
    let centrifugo_log = dir.join("centrifugo.log");
    let centrifugo = CentrifugoProcess::start(&CentrifugoOptions {
        binary,
        config: config_file,
        port: None,
        internal_port: None,
        address: centrifugo_address(args.addr),
        token_secret: secrets["CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY"].clone(),
        api_key: secrets["CENTRIFUGO_HTTP_API_KEY"].clone(),
        workdir: dir.clone(),
        log_file: Some(centrifugo_log.clone()),
        allowed_origins: args.demo.then(|| demo_origins(args.addr)),
    })
    .await
    .map_err(|e| format!("{e} ({})", centrifugo_log.display()))?;

    let config = ServeArgs {
        addr: args.addr,
        jwt_secret: Some(secrets["CHATSDK_JWT_SECRET"].clone()),
        centrifugo_token_secret: Some(secrets["CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY"].clone()),
        centrifugo_url: centrifugo.internal_url.clone().into(),
        centrifugo_api_key: Some(secrets["CENTRIFUGO_HTTP_API_KEY"].clone()),
        centrifugo_ws_url: centrifugo.ws_url.clone().into(),
        demo: args.demo,
        client: args.client,
        jwt_previous_secret: None,
        dev: false,
        jwt_leeway: crate::auth::tokens::CLOCK_LEEWAY_SECS,
        rate_limits: Default::default(),
        metrics_addr: None,
    }
    .validate(database)
    .map_err(|e| e.to_string())?;
    let app = Application::build(&config).map_err(|e| e.to_string())?;
    let key = dev_api_key(app.db(), &dir.join("dev-api-key")).await?;

    let demo_url = args
        .demo
        .then(|| format!("http://{}/demo", browser_host(args.addr)));
    let human = format!(
        "\nChatSDK dev is up.\n  REST API:   http://{addr}  (GET /health, /ready)\n  Centrifugo: {ws}\n  Database:   {db}\n  Secrets:    {env} (generated once; also feed them to your backend)\n  Dev API key (backend only, never in a browser):\n    {key}\n\nTry it:\n  curl -s -X POST http://{addr}/tokens -H 'X-API-Key: {key}' -H 'Content-Type: application/json' -d '{{\"userId\":\"alice\",\"name\":\"Alice\"}}'\n\n{origins}{demo}",
        addr = config.addr,
        ws = centrifugo.ws_url,
        db = config.database.display(),
        env = dir.join("dev.env").display(),
        key = key.expose(),
        origins = origins_line(&centrifugo.allowed_origins, &config.cors_origins),
        demo = demo_url
            .as_ref()
            .map(|url| format!("\n\nBrowser demo (dev only): {url}  (open it in two windows)"))
            .unwrap_or_default(),
    );
    let json = json!({
        "url": format!("http://{}", config.addr),
        "centrifugoWsUrl": centrifugo.ws_url,
        "database": config.database.display().to_string(),
        "secretsFile": dir.join("dev.env").display().to_string(),
        "apiKey": key.expose(),
        "apiKeyFile": dir.join("dev-api-key").display().to_string(),
        "allowedOrigins": centrifugo.allowed_origins,
        "corsOrigins": config.cors_origins,
        "demoUrl": demo_url,
    });
    Ok(Dev {
        output: Output { json, human },
        app,
        centrifugo,
        centrifugo_log,
        // Listening before the output is printed: see `shutdown_signal`.
        shutdown: Box::pin(crate::startup::shutdown_signal()),
    })
}

/// Where dev's Centrifugo listens: on ChatSDK's own address. On the default 127.0.0.1 its
/// WebSocket and its server API (the internal port, which compose keeps off the host) are
/// then reachable from this machine only; with `--addr 0.0.0.0:…`, for a phone on the
/// LAN, the config file's address (all interfaces) applies, as it does to ChatSDK.
fn centrifugo_address(addr: SocketAddr) -> Option<String> {
    (!addr.ip().is_unspecified()).then(|| addr.ip().to_string())
}

/// Where a browser on this machine reaches the service.
fn browser_host(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() || addr.ip().is_loopback() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

/// What browser pages may reach: Centrifugo's allowed origins (with `--demo`, the user's
/// and the demo's together, so the user sees theirs were kept), and the REST API's CORS
/// ones.
fn origins_line(centrifugo: &[String], cors: &[String]) -> String {
    let centrifugo = if centrifugo.is_empty() {
        "Browser origins: none (a page elsewhere needs CENTRIFUGO_CLIENT_ALLOWED_ORIGINS, space-separated)".into()
    } else {
        format!(
            "Browser origins Centrifugo accepts: {}",
            centrifugo.join(" ")
        )
    };
    let cors = if cors.is_empty() {
        "REST API from a browser: same origin only (CHATSDK_CORS_ORIGINS, comma-separated, for a page elsewhere)".into()
    } else {
        format!("REST API CORS origins: {}", cors.join(" "))
    };
    format!("{centrifugo}\n{cors}")
}

/// The origins the demo page can have, which Centrifugo must accept for its WebSocket.
fn demo_origins(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() || addr.ip().is_loopback() {
        format!("http://localhost:{0} http://127.0.0.1:{0}", addr.port())
    } else {
        format!("http://{addr}")
    }
}

/// Reads `NAME=value` lines, generating any missing secret and saving the file (mode 0600).
fn load_or_create_secrets(path: &Path) -> Result<BTreeMap<&'static str, Secret>, String> {
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let mut found: BTreeMap<String, String> = existing
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut secrets = BTreeMap::new();
    for name in SECRET_NAMES {
        let value = found.remove(name).unwrap_or_else(random_hex_secret);
        secrets.insert(name, Secret::new(value));
    }
    let text: String = secrets
        .iter()
        .map(|(k, v)| format!("{k}={}\n", v.expose()))
        .collect();
    if text != existing {
        write_private(path, &text)?;
    }
    Ok(secrets)
}

fn random_hex_secret() -> String {
    ids::hex(&ids::random_bytes::<32>())
}

fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    file.write_all(text.as_bytes()).map_err(|e| e.to_string())
}

/// Reuses the saved dev key while it still works, else creates a dev app and key.
async fn dev_api_key(db: &Db, path: &Path) -> Result<Secret, String> {
    if let Ok(saved) = std::fs::read_to_string(path) {
        let key = Secret::new(saved.trim());
        if let Some(key_id) = api_key::parse_key_id(&key).map(str::to_string) {
            let record = db
                .read(move |c| keys::find(c, &key_id))
                .await
                .map_err(|e| e.to_string())?;
            if record.is_some_and(|r| r.accepts(&ApiKeyHash::of(&key), crate::db::now_ms())) {
                return Ok(key);
            }
        }
    }
    let new = api_key::generate();
    let (key_id, hash, app_id) = (new.key_id.clone(), new.hash.clone(), ids::new_app_id());
    db.write(move |c| apps::insert_with_key(c, &app_id, "dev", &key_id, "dev", &hash))
        .await
        .map_err(|e| e.to_string())?;
    write_private(path, new.key.expose())?;
    Ok(new.key)
}
