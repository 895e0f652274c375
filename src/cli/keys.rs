//! `chatsdk key`: create, list, rotate and revoke API keys.

use super::{CliError, KeyCommand, Output, check_label, check_listable, invalid};
use crate::auth::api_key::{self, ApiKeyHash};
use crate::db::{Db, DbError, apps, keys};
use crate::ids;
use crate::secret::Secret;
use crate::timefmt::rfc3339;
use serde_json::{Value, json};
use std::time::Duration;

pub async fn key_command(db: &Db, cmd: KeyCommand) -> Result<Output, CliError> {
    match cmd {
        KeyCommand::Create { app, name } => {
            if let Some(n) = &name {
                check_label(n)?;
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
                    check_listable(c)?;
                    if !apps::exists(c, &app_id)? {
                        return Ok(None);
                    }
                    Ok::<_, CliError>(Some(keys::list_for_app(c, &app_id)?))
                })
                .await?
                .ok_or_else(|| app_not_found(&app))?;
            let now = crate::db::now_ms();
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
                        match (KeyStatus::of(k, now), k.revoked_at.or(k.expires_at)) {
                            (KeyStatus::Revoked, Some(t)) => format!("REVOKED {}", rfc3339(t)),
                            (KeyStatus::Expired, Some(t)) => format!("EXPIRED {}", rfc3339(t)),
                            (KeyStatus::Expiring, Some(t)) => format!("expires {}", rfc3339(t)),
                            _ => "active".into(),
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
                        "status": KeyStatus::of(k, now).as_str(),
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

/// Where a key is in its life, as `key list` shows it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum KeyStatus {
    Active,
    /// Rotated: works until its grace period ends.
    Expiring,
    /// Rotated, and its grace period is over: it no longer works.
    Expired,
    Revoked,
}

impl KeyStatus {
    fn of(k: &keys::KeyInfo, now_ms: i64) -> KeyStatus {
        match (k.revoked_at, k.expires_at) {
            (Some(_), _) => KeyStatus::Revoked,
            (None, Some(_)) if keys::is_live(false, k.expires_at, now_ms) => KeyStatus::Expiring,
            (None, Some(_)) => KeyStatus::Expired,
            (None, None) => KeyStatus::Active,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Expiring => "expiring",
            KeyStatus::Expired => "expired",
            KeyStatus::Revoked => "revoked",
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
        // A key pasted from a file or a terminal often comes with a space or a newline.
        let arg = Secret::new(arg.expose().trim());
        match api_key::parse_key_id(&arg) {
            Some(id) => KeyRef {
                id: id.to_string(),
                hash: Some(ApiKeyHash::of(&arg)),
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
