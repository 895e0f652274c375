//! The `chatsdk` command line: serve, app, key, healthcheck, dev, centrifugo-config, doctor.

use crate::auth::api_key::{self, ApiKeyHash};
use crate::config::{DEFAULT_ADDR, ServeArgs};
use crate::db::{Db, DbError, apps, keys};
use crate::domain::{MAX_LABEL_CHARS, check_text};
use crate::ids;
use crate::secret::Secret;
use crate::timefmt::rfc3339;
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "chatsdk",
    version,
    about = "Token service for chat apps on Centrifugo"
)]
pub struct Cli {
    /// SQLite database file [default: chatsdk.db; for `dev`, chatsdk.db in its --dir].
    // No clap default: `dev` must tell a path the user gave from the default.
    #[arg(long, env = "CHATSDK_DATABASE", global = true)]
    pub database: Option<PathBuf>,

    /// Print one JSON object instead of human-readable text.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The database of every command but `dev` when the user names none.
pub const DEFAULT_DATABASE: &str = "chatsdk.db";

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP service.
    Serve(Box<ServeArgs>),
    /// Manage apps.
    #[command(subcommand)]
    App(AppCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Exit 0 when the running service answers /health (for container healthchecks).
    Healthcheck(HealthcheckArgs),
    /// Local development: start Centrifugo and the service with generated dev secrets.
    Dev(crate::dev::DevArgs),
    /// Take a consistent copy of the database while the server runs (SQLite backup API).
    Backup {
        /// Where to write the copy (a new file).
        path: PathBuf,
        /// Replace the file at PATH if there is one.
        #[arg(long)]
        force: bool,
    },
    /// Print the Centrifugo v6 config that matches this ChatSDK (centrifugo/config.json).
    CentrifugoConfig(CentrifugoConfigArgs),
    /// Check the configuration, database and Centrifugo (API and a real WebSocket connect).
    Doctor(Box<ServeArgs>),
}

#[derive(Args, Debug)]
pub struct CentrifugoConfigArgs {
    /// A browser origin to put in client.allowed_origins (repeatable); by default none:
    /// set them where Centrifugo runs, with CENTRIFUGO_CLIENT_ALLOWED_ORIGINS.
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum AppCommand {
    /// Create an app and its first API key.
    Create {
        #[arg(long)]
        name: String,
    },
    /// List apps.
    List,
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Create an API key for an app (shown once).
    Create {
        #[arg(long)]
        app: String,
        /// A label to tell keys apart.
        #[arg(long)]
        name: Option<String>,
    },
    /// List an app's keys (never the secrets).
    List {
        #[arg(long)]
        app: String,
    },
    /// Revoke a key; it stops working at once, also on running servers.
    Revoke {
        /// The key id, or the whole API key (only its key id is printed).
        #[arg(value_name = "KEY_ID")]
        key: Secret,
    },
    /// Issue a new key for the same app; the old one keeps working for the grace period.
    Rotate {
        /// The key id, or the whole API key (only its key id is printed).
        #[arg(value_name = "KEY_ID")]
        key: Secret,
        /// How long the old key keeps working: e.g. 30s, 15m, 24h, 7d (0s ends it now; at most 365d).
        #[arg(long, default_value = "24h", value_parser = parse_duration)]
        grace: Duration,
    },
}

#[derive(Args, Debug)]
pub struct HealthcheckArgs {
    /// Address the service listens on.
    #[arg(long, env = "CHATSDK_ADDR", default_value = DEFAULT_ADDR)]
    pub addr: SocketAddr,
}

/// A failed command: a stable code (as in the API) and a message.
#[derive(Debug)]
pub struct CliError {
    pub code: &'static str,
    pub message: String,
}

impl From<DbError> for CliError {
    fn from(e: DbError) -> Self {
        CliError {
            code: "internal",
            message: format!("database: {e}"),
        }
    }
}

fn invalid(message: impl Into<String>) -> CliError {
    CliError {
        code: "invalid_request",
        message: message.into(),
    }
}

/// Whether the raw arguments ask for `--json` before any `--`: when clap refuses the
/// arguments there is no parsed `Cli` to ask.
pub fn json_requested(args: impl IntoIterator<Item = impl AsRef<OsStr>>) -> bool {
    args.into_iter()
        .skip(1)
        .take_while(|a| a.as_ref() != "--")
        .any(|a| a.as_ref() == "--json")
}

/// Clap's refusal of the arguments as an `invalid_request`: its first paragraph on one
/// line, without the `error:` label, the usage and the hint to try `--help`.
pub fn argument_error(e: &clap::Error) -> CliError {
    let text = e.to_string();
    let first = text.split("\n\n").next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    invalid(first.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Output of a command: the JSON object and its human rendering.
pub struct Output {
    pub json: Value,
    pub human: String,
}

pub async fn app_command(db: &Db, cmd: AppCommand) -> Result<Output, CliError> {
    match cmd {
        AppCommand::Create { name } => {
            check_text("name", &name, 1, MAX_LABEL_CHARS).map_err(|e| invalid(e.message()))?;
            let app_id = ids::new_app_id();
            let key = api_key::generate();
            let (key_id, hash) = (key.key_id.clone(), key.hash.clone());
            let (a, n) = (app_id.clone(), name.clone());
            db.write(move |c| apps::insert_with_key(c, &a, &n, &key_id, "default", &hash))
                .await?;
            Ok(Output {
                human: format!(
                    "Created app {name} ({app_id}).\nAPI key (shown once, keep it on your backend):\n  {}\nKey id: {}",
                    key.key.expose(),
                    key.key_id
                ),
                json: json!({"appId": app_id, "name": name, "keyId": key.key_id, "apiKey": key.key.expose()}),
            })
        }
        AppCommand::List => {
            let list = db.read(apps::list).await?;
            let human = if list.is_empty() {
                "No apps yet: create one with `chatsdk app create --name NAME`.".to_string()
            } else {
                list.iter()
                    .map(|a| format!("{}  {}  created {}", a.id, a.name, rfc3339(a.created_at)))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            let apps: Vec<Value> = list
                .iter()
                .map(|a| json!({"appId": a.id, "name": a.name, "createdAt": rfc3339(a.created_at)}))
                .collect();
            Ok(Output {
                json: json!({ "apps": apps }),
                human,
            })
        }
    }
}

pub async fn key_command(db: &Db, cmd: KeyCommand) -> Result<Output, CliError> {
    match cmd {
        KeyCommand::Create { app, name } => {
            if let Some(n) = &name {
                check_text("name", n, 1, MAX_LABEL_CHARS).map_err(|e| invalid(e.message()))?;
            }
            let key = api_key::generate();
            let (key_id, hash, app_id) = (key.key_id.clone(), key.hash.clone(), app.clone());
            let created = db
                .write(move |c| {
                    if !apps::exists(c, &app_id)? {
                        return Ok(false);
                    }
                    keys::insert(c, &key_id, &app_id, name.as_deref(), &hash)?;
                    Ok::<_, DbError>(true)
                })
                .await?;
            if !created {
                return Err(app_not_found(&app));
            }
            Ok(Output {
                human: format!(
                    "API key for {app} (shown once, keep it on your backend):\n  {}\nKey id: {}",
                    key.key.expose(),
                    key.key_id
                ),
                json: json!({"keyId": key.key_id, "apiKey": key.key.expose()}),
            })
        }
        KeyCommand::List { app } => {
            let app_id = app.clone();
            let list = db
                .read(move |c| {
                    if !apps::exists(c, &app_id)? {
                        return Ok(None);
                    }
                    keys::list_for_app(c, &app_id).map(Some)
                })
                .await?
                .ok_or_else(|| app_not_found(&app))?;
            let human = list
                .iter()
                .map(|k| {
                    format!(
                        "{}  {}  created {}  last used {}  {}",
                        k.id,
                        k.name.as_deref().unwrap_or("-"),
                        rfc3339(k.created_at),
                        k.last_used_at
                            .map(rfc3339)
                            .unwrap_or_else(|| "never".into()),
                        match (k.revoked_at, k.expires_at) {
                            (Some(t), _) => format!("REVOKED {}", rfc3339(t)),
                            (None, Some(t)) => format!("expires {}", rfc3339(t)),
                            (None, None) => "active".into(),
                        }
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            let keys: Vec<Value> = list
                .iter()
                .map(|k| {
                    json!({
                        "keyId": k.id,
                        "appId": k.app_id,
                        "name": k.name,
                        "createdAt": rfc3339(k.created_at),
                        "lastUsedAt": k.last_used_at.map(rfc3339),
                        "revokedAt": k.revoked_at.map(rfc3339),
                        "expiresAt": k.expires_at.map(rfc3339),
                    })
                })
                .collect();
            Ok(Output {
                json: json!({ "keys": keys }),
                human: if human.is_empty() {
                    "No keys.".into()
                } else {
                    human
                },
            })
        }
        KeyCommand::Rotate { key, grace } => {
            let old_key = KeyRef::parse(&key);
            let key_id = old_key.id.clone();
            let new = api_key::generate();
            let (new_id, hash) = (new.key_id.clone(), new.hash.clone());
            let ends = i64::try_from(grace.as_millis())
                .ok()
                .and_then(|grace| crate::db::now_ms().checked_add(grace))
                .ok_or_else(|| {
                    invalid(format!(
                        "--grace is too long: the longest is {MAX_GRACE_DAYS}d"
                    ))
                })?;
            let rotated = db
                .write(move |c| {
                    let Some(old) = keys::find(c, &old_key.id)? else {
                        return Ok(false);
                    };
                    if !old_key.names(&old.hash) || !old.is_live(crate::db::now_ms()) {
                        return Ok(false);
                    }
                    keys::insert(c, &new_id, &old.app_id, old.name.as_deref(), &hash)?;
                    keys::expire_at(c, &old_key.id, ends)?;
                    Ok::<_, DbError>(true)
                })
                .await?;
            if !rotated {
                return Err(CliError {
                    code: "not_found",
                    message: format!("no live API key {}", shown("key", &key_id)),
                });
            }
            Ok(Output {
                human: format!(
                    "New API key (shown once, keep it on your backend):\n  {}\nKey id: {}\nThe old key {key_id} works until {}.",
                    new.key.expose(),
                    new.key_id,
                    rfc3339(ends)
                ),
                json: json!({"keyId": new.key_id, "apiKey": new.key.expose(), "oldKeyExpiresAt": rfc3339(ends)}),
            })
        }
        KeyCommand::Revoke { key } => {
            let target = KeyRef::parse(&key);
            let key_id = target.id.clone();
            let revoked = db
                .write(move |c| {
                    let Some(found) = keys::find(c, &target.id)? else {
                        return Ok(false);
                    };
                    Ok::<_, DbError>(target.names(&found.hash) && keys::revoke(c, &target.id)?)
                })
                .await?;
            if !revoked {
                return Err(CliError {
                    code: "not_found",
                    message: format!("no API key {}", shown("key", &key_id)),
                });
            }
            Ok(Output {
                human: format!("Revoked {key_id}: it no longer works, also on running servers."),
                json: json!({"keyId": key_id, "revoked": true}),
            })
        }
    }
}

/// The key a `revoke` or `rotate` argument names: a key id, or a whole API key, accepted so
/// an operator can act on a leaked key as pasted. A whole key names its key id only if its
/// secret matches the stored hash; otherwise the argument names no key.
struct KeyRef {
    id: String,
    hash: Option<ApiKeyHash>,
}

impl KeyRef {
    fn parse(arg: &Secret) -> Self {
        match api_key::parse_key_id(arg) {
            Some(id) => KeyRef {
                id: id.to_string(),
                hash: Some(ApiKeyHash::of(arg)),
            },
            None => KeyRef {
                id: arg.expose().to_string(),
                hash: None,
            },
        }
    }

    /// Whether the key stored with `stored` is the one this argument names.
    fn names(&self, stored: &ApiKeyHash) -> bool {
        self.hash.as_ref().is_none_or(|h| h.matches(stored))
    }
}

/// The longest grace period of a rotation. A rotation's grace covers a deploy of the new
/// key, days at most; a year leaves room for slow release cycles, and a longer one means
/// the old key never really ends (revoke it later instead).
pub const MAX_GRACE_DAYS: u64 = 365;

/// Parses `30s`, `15m`, `24h`, `7d`, up to `MAX_GRACE_DAYS`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let not_a_duration = || format!("{s:?} is not a duration like 30s, 15m, 24h or 7d");
    let too_long = || format!("{s:?} is too long: the longest duration is {MAX_GRACE_DAYS}d");
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let unit_secs: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(not_a_duration()),
    };
    if digits.is_empty() {
        return Err(not_a_duration());
    }
    // Only digits are left, so a number that does not parse is too big for u64.
    let secs = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_secs))
        .filter(|&secs| secs <= MAX_GRACE_DAYS * 86_400)
        .ok_or_else(too_long)?;
    Ok(Duration::from_secs(secs))
}

fn app_not_found(app: &str) -> CliError {
    CliError {
        code: "not_found",
        message: format!(
            "no app {}: list apps with `chatsdk app list`",
            shown("app", app)
        ),
    }
}

/// An id argument as an error message may show it back: whole when it is shaped like an
/// id (`<prefix>_` and 16 characters) or is a short name (`demo`); an API key as its key
/// id and `_…`. Anything else may be a secret pasted into the wrong place, in a shape
/// `api_key::redact` does not know (the key without its prefix, in upper case, with a
/// typo in its id), so it is not shown at all.
fn shown(prefix: &str, arg: &str) -> String {
    if ids::is_generated_id(prefix, arg) || arg.chars().count() <= 16 {
        return arg.to_string();
    }
    let redacted = api_key::redact(arg);
    if redacted != arg {
        redacted.into_owned()
    } else {
        "matching the argument".to_string()
    }
}

/// Copies the live database to `target` (through a temp file, renamed when complete).
pub async fn backup(database: PathBuf, target: PathBuf, force: bool) -> Result<Output, CliError> {
    if !database.is_file() {
        return Err(CliError {
            code: "not_found",
            message: format!("no database at {}", database.display()),
        });
    }
    if target.exists() && !force {
        return Err(invalid(format!(
            "{} exists: choose a new path or pass --force",
            target.display()
        )));
    }
    let tmp = target.with_extension(format!("partial-{}", ids::new_token_id()));
    let (t, d) = (tmp.clone(), database.clone());
    let pages = tokio::task::spawn_blocking(move || Db::backup(&d, &t))
        .await
        .map_err(|e| CliError {
            code: "internal",
            message: e.to_string(),
        })?
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
    std::fs::rename(&tmp, &target).map_err(|e| CliError {
        code: "internal",
        message: format!("cannot move the copy to {}: {e}", target.display()),
    })?;
    let bytes = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
    Ok(Output {
        json: json!({"path": target, "pages": pages, "bytes": bytes}),
        human: format!(
            "Backed up {} to {} ({bytes} bytes).",
            database.display(),
            target.display()
        ),
    })
}

/// Asks a running service for `/health`; wildcard listen addresses are reached on loopback.
pub async fn healthcheck(args: HealthcheckArgs) -> Result<Output, CliError> {
    let mut addr = args.addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let url = format!("http://{addr}/health");
    let unhealthy = |message: String| CliError {
        code: "unhealthy",
        message,
    };
    let response = reqwest::Client::new()
        .get(&url)
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .map_err(|e| unhealthy(format!("{url} did not answer: {e}")))?;
    if !response.status().is_success() {
        return Err(unhealthy(format!("{url} answered {}", response.status())));
    }
    Ok(Output {
        json: json!({"status": "ok", "url": url}),
        human: format!("ok: {url}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database with one app whose one key has `key_id` but the hash of `stored`.
    async fn db_with_key(dir: &tempfile::TempDir, key_id: &str, stored: &ApiKeyHash) -> Db {
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        let (id, hash) = (key_id.to_string(), stored.clone());
        db.write(move |c| {
            apps::insert(c, "app_t", "t")?;
            keys::insert(c, &id, "app_t", None, &hash)
        })
        .await
        .unwrap();
        db
    }

    #[tokio::test]
    async fn a_whole_key_acts_on_its_key_id_only_when_its_secret_matches() {
        let dir = tempfile::tempdir().unwrap();
        let (pasted, other) = (api_key::generate(), api_key::generate());
        let db = db_with_key(&dir, &pasted.key_id, &other.hash).await;

        let revoke = key_command(
            &db,
            KeyCommand::Revoke {
                key: pasted.key.clone(),
            },
        )
        .await;
        let rotate = key_command(
            &db,
            KeyCommand::Rotate {
                key: pasted.key.clone(),
                grace: Duration::ZERO,
            },
        )
        .await;

        for result in [revoke, rotate] {
            let e = result
                .err()
                .expect("a secret that does not match names no key");
            assert_eq!(e.code, "not_found");
            assert!(!e.message.contains(pasted.key.expose()), "{}", e.message);
        }
        let listed = db.read(|c| keys::list_for_app(c, "app_t")).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].revoked_at.is_none() && listed[0].expires_at.is_none());

        let matching_dir = tempfile::tempdir().unwrap();
        let matching = db_with_key(&matching_dir, &pasted.key_id, &pasted.hash).await;
        let out = key_command(
            &matching,
            KeyCommand::Revoke {
                key: pasted.key.clone(),
            },
        )
        .await
        .unwrap();
        assert_eq!(out.json, json!({"keyId": pasted.key_id, "revoked": true}));
    }

    #[test]
    fn only_id_shaped_arguments_are_shown_back() {
        let key = api_key::generate();
        let whole = key.key.expose().to_string();
        let without_prefix = whole.trim_start_matches("chatsdk_").to_string();
        assert_eq!(shown("app", &whole), format!("chatsdk_{}_…", key.key_id));
        for secretive in [
            without_prefix,
            whole.to_uppercase(),
            whole.replacen("key_", "key-", 1),
            whole.replacen('_', "-", 3).replacen('-', "_", 2),
        ] {
            assert_eq!(shown("key", &secretive), "matching the argument");
        }
        assert_eq!(shown("key", &key.key_id), key.key_id);
        assert_eq!(shown("app", "app_abcdefghijklmnop"), "app_abcdefghijklmnop");
        assert_eq!(shown("app", "demo"), "demo");
    }

    #[test]
    fn json_is_requested_anywhere_before_a_double_dash() {
        for (args, json) in [
            (&["chatsdk", "--json", "app", "create"][..], true),
            (&["chatsdk", "app", "create", "--json"], true),
            (&["chatsdk", "key", "revoke", "--", "--json"], false),
            (&["chatsdk", "app", "create", "--json=1"], false),
            (&["--json"], false),
        ] {
            assert_eq!(json_requested(args), json, "{args:?}");
        }
    }

    #[test]
    fn an_argument_error_is_one_line_of_clap_text_without_its_label() {
        let e = Cli::try_parse_from(["chatsdk", "app", "create"]).unwrap_err();

        let refused = argument_error(&e);

        assert_eq!(refused.code, "invalid_request");
        assert_eq!(
            refused.message,
            "the following required arguments were not provided: --name <NAME>"
        );
    }

    #[test]
    fn durations_up_to_a_year_parse_and_longer_ones_are_refused() {
        for (text, secs) in [
            ("0s", 0),
            ("15m", 900),
            ("365d", 31_536_000),
            ("8760h", 31_536_000),
            ("31536000s", 31_536_000),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs(secs)),
                "{text}"
            );
        }
        for too_long in [
            "366d",
            "8761h",
            "31536001s",
            "106751991167d",
            "9223372036854775807s",
            "18446744073709551615s",
            "18446744073709551616s",
            "99999999999999999999999999999999d",
        ] {
            let e = parse_duration(too_long).expect_err(too_long);
            assert!(
                e.contains("the longest duration is 365d"),
                "{too_long}: {e}"
            );
        }
    }

    #[tokio::test]
    async fn rotate_refuses_a_grace_past_the_end_of_time_without_touching_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = api_key::generate();
        let db = db_with_key(&dir, &key.key_id, &key.hash).await;

        let e = key_command(
            &db,
            KeyCommand::Rotate {
                key: Secret::new(key.key_id.clone()),
                grace: Duration::MAX,
            },
        )
        .await
        .err()
        .expect("refused");

        assert_eq!(e.code, "invalid_request");
        let listed = db.read(|c| keys::list_for_app(c, "app_t")).await.unwrap();
        assert_eq!(listed.len(), 1, "no new key");
        assert!(listed[0].expires_at.is_none());
    }
}
