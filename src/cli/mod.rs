//! The `chatsdk` command line: serve, app, key, healthcheck, dev, centrifugo-config, doctor.

mod apps;
mod keys;
mod ops;

pub use apps::app_command;
pub use keys::{MAX_GRACE_DAYS, key_command, parse_duration};
pub use ops::{backup, healthcheck};

use crate::config::{DEFAULT_ADDR, ServeArgs};
use crate::db::DbError;
use crate::secret::Secret;
use clap::{Args, Parser, Subcommand};
use serde_json::Value;
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

/// The oldest schema the list commands read as it is: API keys got `expires_at` in 4.
const OLDEST_LISTED_SCHEMA: usize = 4;

/// Refuses to list from a database whose schema is older than the list queries know.
/// Listing never migrates (an older server may still be serving the database during an
/// upgrade), so it points at the command that does.
fn check_listable(c: &rusqlite::Connection) -> Result<(), CliError> {
    let version = crate::db::schema_version(c)?;
    if version == 0 {
        // An empty or foreign file (a mistyped path, say): `serve` there would start a
        // new database, which is not the advice to give.
        return Err(CliError {
            code: "not_found",
            message: "this file holds no ChatSDK database: check --database or \
                      CHATSDK_DATABASE"
                .into(),
        });
    }
    if version < OLDEST_LISTED_SCHEMA {
        return Err(CliError {
            code: "outdated_database",
            message: format!(
                "the database has schema version {version}, older than listing reads \
                 ({OLDEST_LISTED_SCHEMA} or later): stop the old servers, then run \
                 `chatsdk serve` to upgrade the database (take a backup first)"
            ),
        });
    }
    Ok(())
}

/// Checks an app's or a key's `--name`: a label shown in lists, so it must show something.
fn check_label(name: &str) -> Result<(), CliError> {
    crate::domain::check_text("name", name, 1, crate::domain::MAX_LABEL_CHARS)
        .map_err(|e| invalid(e.message()))?;
    if name.trim().is_empty() {
        return Err(invalid("`name` must not be blank"));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
