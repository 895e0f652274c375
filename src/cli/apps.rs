//! `chatsdk app`: create and list apps.

use super::{AppCommand, CliError, Output, check_label, check_listable};
use crate::auth::api_key;
use crate::db::{Db, apps};
use crate::ids;
use crate::timefmt::rfc3339;
use serde_json::{Value, json};

pub async fn app_command(db: &Db, cmd: AppCommand) -> Result<Output, CliError> {
    match cmd {
        AppCommand::Create { name } => {
            check_label(&name)?;
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
            let list = db
                .read(|c| {
                    check_listable(c)?;
                    Ok::<_, CliError>(apps::list(c)?)
                })
                .await?;
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
