#![forbid(unsafe_code)]

use chatsdk::auth::api_key;
use chatsdk::cli::{
    AppCommand, Cli, CliError, Command, DEFAULT_DATABASE, KeyCommand, Output, app_command,
    healthcheck, key_command,
};
use chatsdk::db::Db;
use chatsdk::startup::Application;
use clap::Parser;
use serde_json::json;
use std::process::ExitCode;

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return argument_error(e),
    };
    chatsdk::logging::init();
    let json = cli.json;
    let given_database = cli.database;
    let database = given_database
        .clone()
        .unwrap_or_else(|| DEFAULT_DATABASE.into());
    let result = match cli.command {
        Command::Serve(args) => return serve(*args, database, json).await,
        Command::Dev(args) => return dev(args, given_database, json).await,
        Command::Healthcheck(args) => healthcheck(args).await,
        Command::Backup { path, force } => chatsdk::cli::backup(database, path, force).await,
        // Only `app create` may start a database (the first step of a setup): any other
        // command on a path that holds none is a typo, not an empty database.
        Command::App(cmd) => {
            let access = match cmd {
                AppCommand::Create { .. } => Access::Create,
                AppCommand::List => Access::Read,
            };
            match open_db(&database, access) {
                Ok(db) => app_command(&db, cmd).await,
                Err(e) => Err(e),
            }
        }
        Command::Key(cmd) => {
            let access = match cmd {
                KeyCommand::List { .. } => Access::Read,
                _ => Access::Write,
            };
            match open_db(&database, access) {
                Ok(db) => key_command(&db, cmd).await,
                Err(e) => Err(e),
            }
        }
        Command::CentrifugoConfig(args) => {
            // Already JSON with its trailing newline, whatever --json says.
            print!(
                "{}",
                chatsdk::centrifugo_config::CentrifugoConfig::new(args.allowed_origins).to_json()
            );
            return ExitCode::SUCCESS;
        }
        Command::Doctor(args) => return doctor(*args, database, json).await,
    };
    report(result, json)
}

/// Clap's answer to bad arguments (exit code 2), with any API key in it redacted; with
/// `--json` as one JSON error. `--help` and `--version` as clap prints them.
fn argument_error(e: clap::Error) -> ExitCode {
    if !e.use_stderr() {
        e.exit();
    }
    let code = ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
    if chatsdk::cli::json_requested(std::env::args_os()) {
        print_error(&chatsdk::cli::argument_error(&e), true);
        return code;
    }
    let text = e.to_string();
    let redacted = api_key::redact(&text);
    if redacted == text {
        let _ = e.print();
    } else {
        eprint!("{redacted}");
    }
    code
}

/// How a command opens the database.
#[derive(Clone, Copy, PartialEq)]
enum Access {
    /// `app create`: may start a database; migrates it.
    Create,
    /// The other commands that write: an existing database, migrated.
    Write,
    /// The list commands: an existing database as it is, never migrated.
    Read,
}

fn open_db(path: &std::path::Path, access: Access) -> Result<Db, CliError> {
    if access != Access::Create && !path.exists() {
        return Err(CliError {
            code: "not_found",
            message: format!(
                "no database at {} (pass --database or set CHATSDK_DATABASE; `app create` starts one)",
                path.display()
            ),
        });
    }
    let opened = if access == Access::Read {
        Db::open_as_is(path)
    } else {
        Db::open(path)
    };
    opened.map_err(|e| CliError {
        code: "internal",
        message: format!("cannot open database {}: {e}", path.display()),
    })
}

fn report(result: Result<Output, CliError>, json: bool) -> ExitCode {
    match result {
        Ok(out) if json => {
            println!("{}", out.json);
            ExitCode::SUCCESS
        }
        Ok(out) => {
            println!("{}", out.human);
            ExitCode::SUCCESS
        }
        Err(e) => {
            print_error(&e, json);
            ExitCode::FAILURE
        }
    }
}

fn print_error(e: &CliError, json: bool) {
    // Messages echo arguments; an operator may have pasted an API key into one.
    let message = api_key::redact(&e.message);
    if json {
        println!("{}", json!({"error": {"code": e.code, "message": message}}));
    } else {
        eprintln!("error: {message}");
    }
}

async fn serve(
    args: chatsdk::config::ServeArgs,
    database: std::path::PathBuf,
    json: bool,
) -> ExitCode {
    let dev_mode = args.dev;
    let config = match args.validate(database) {
        Ok(c) => c,
        Err(e) => {
            if json {
                let body = json!({"error": {"code": "invalid_config", "message": e.to_string(), "problems": e.problems}});
                println!("{body}");
            } else {
                eprintln!("error: {e}");
            }
            return ExitCode::from(2);
        }
    };
    if dev_mode {
        log::warn!(
            "development mode is on (CHATSDK_DEV): placeholder-looking secrets are accepted; turn it off in production"
        );
    }
    let app = match Application::build(&config) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    log::info!(
        "chatsdk listening on {} (database {})",
        config.addr,
        config.database.display()
    );
    let served = {
        let _buffered = chatsdk::logging::buffer_while_serving();
        app.run_until_stopped().await
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Starts `chatsdk dev` and prints what it started once it is up: one JSON object with
/// `--json`. Logs stay on stderr, and so does a failure after that object is out.
async fn dev(
    args: chatsdk::dev::DevArgs,
    database: Option<std::path::PathBuf>,
    json: bool,
) -> ExitCode {
    let dev = match chatsdk::dev::start(args, database).await {
        Ok(dev) => dev,
        Err(e) => {
            print_error(&e, json);
            return ExitCode::FAILURE;
        }
    };
    if json {
        println!("{}", dev.output.json);
    } else {
        println!("{}", dev.output.human);
    }
    match dev.serve().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the doctor's report; exit 0 only when no check failed.
async fn doctor(
    args: chatsdk::config::ServeArgs,
    database: std::path::PathBuf,
    json: bool,
) -> ExitCode {
    let report = chatsdk::doctor::run(args, database).await;
    if json {
        println!("{}", report.to_json());
    } else {
        println!("{}", report.to_human());
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
