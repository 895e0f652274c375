//! Chat rules: who may do what to channels, members and messages, and which realtime
//! events each change emits. Every operation runs inside one database transaction
//! (through the db door), writing its outbox events in that same transaction.

pub mod channels;
pub mod members;
pub mod messages;
pub mod users;
pub mod views;

use crate::auth::tokens::RestClaims;
use crate::db::channels::{self as channel_rows, ChannelRow};
use crate::db::users::TokenState;
use crate::db::{members as member_rows, users as user_rows};
use crate::error::ApiError;
use crate::realtime::{RealtimeKey, RealtimeName};
use rusqlite::Connection;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Most different reactions on one message. Every reaction event and every view of the
/// message carries all of its counts, so without a cap one member adding thousands of
/// made-up names makes each event hundreds of KB (and Centrifugo's history of the channel
/// hundreds of MB). 20 is what Discord allows.
pub const MAX_REACTION_KINDS: usize = 20;
/// Largest message page.
pub const MAX_PAGE: usize = 200;
pub const DEFAULT_PAGE: usize = 50;
/// Largest channel list page.
pub const MAX_CHANNEL_PAGE: usize = 100;
pub const DEFAULT_CHANNEL_PAGE: usize = 30;
/// Where `unreadCount` stops counting ("1000 or more"): a channel view counts at most
/// this many messages, however far behind its reader is. (It still steps over the
/// reader's own and deleted messages on the way; sending moves the sender's read mark,
/// so their own are rarely there.)
pub const MAX_UNREAD_COUNT: i64 = 1000;
/// Largest member list page.
pub const MAX_MEMBER_PAGE: usize = 1000;
pub const DEFAULT_MEMBER_PAGE: usize = 100;

/// Who is calling, as the auth middleware resolved it.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub app_id: String,
    /// The app's backend (API key): full rights within the app.
    pub backend: bool,
    /// The user acted as: the token's user, or the backend's `userId`.
    pub user_id: Option<String>,
    /// A REST token's revocation check, made inside the request's own database work
    /// (`routes::read_as_caller`/`write_as_caller`); `None` for the backend.
    pub revocation: Option<RevocationCheck>,
}

/// Whether a REST token was revoked since it was issued: its user deleted (even when the
/// id has been taken again since: the token names its user's row), its
/// generation moved on (`revoke-tokens`), or the API key it was issued through stopped
/// working. Read from the shared database, so a revocation
/// holds at once on every server. The request's first database trip runs it inside its
/// own work (one trip instead of two); the auth middleware runs it after the handler when
/// no trip did (a request refused before reaching the database), so a revoked token is
/// still answered 401 whatever else is wrong with the request.
#[derive(Debug, Clone)]
pub struct RevocationCheck {
    app_id: String,
    user_id: String,
    user_pk: Option<i64>,
    generation: i64,
    issued_at: u64,
    api_key_id: Option<String>,
    done: Arc<AtomicBool>,
}

impl RevocationCheck {
    pub fn for_token(claims: &RestClaims) -> Self {
        Self {
            app_id: claims.app.clone(),
            user_id: claims.sub.clone(),
            user_pk: claims.user_pk,
            generation: claims.generation,
            issued_at: claims.iat,
            api_key_id: claims.api_key_id.clone(),
            done: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether `row` is the user the token was issued to, not a later user with the
    /// same id (whose generation started again at 0).
    fn names(&self, row: &TokenState) -> bool {
        match self.user_pk {
            Some(pk) => pk == row.pk,
            // A token issued before tokens named their row: its user's row is not
            // younger than the token (`iat` is in whole seconds). These tokens are gone
            // 30 days (the longest CHATSDK_TOKEN_TTL) after the upgrade that added `upk`;
            // this branch can go with them.
            None => i64::try_from(self.issued_at).is_ok_and(|iat| row.created_at / 1000 <= iat),
        }
    }

    /// Checks the token against its user's row, unless this request already did.
    pub fn run(&self, conn: &Connection) -> Result<(), ApiError> {
        if self.done.load(Ordering::Acquire) {
            return Ok(());
        }
        let current = user_rows::token_state(
            conn,
            &self.app_id,
            &self.user_id,
            self.api_key_id.as_deref(),
            crate::db::now_ms(),
        )?;
        self.done.store(true, Ordering::Release);
        match current {
            None => Err(user_gone()),
            // Another row under the same id: the token's user was deleted.
            Some(row) if !self.names(&row) => Err(user_gone()),
            Some(row) if row.generation != self.generation => Err(ApiError::TokenRevoked),
            // The key that asked for it was revoked, or its rotation's grace is over.
            Some(row) if !row.key_live => Err(ApiError::TokenRevoked),
            Some(_) => Ok(()),
        }
    }

    /// Whether some database trip of this request made the check.
    pub fn done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }
}

/// The acting user, resolved in the transaction.
#[derive(Debug, Clone)]
pub struct Me {
    pub pk: i64,
    pub id: String,
    /// Beside `pk`, names the user's personal channel.
    pub realtime_key: Option<RealtimeKey>,
}

impl Me {
    fn new(found: RealtimeName, id: &str) -> Me {
        Me {
            pk: found.pk,
            id: id.to_string(),
            realtime_key: found.key,
        }
    }

    /// What the user's personal channel name is built from.
    pub fn realtime_name(&self) -> RealtimeName {
        RealtimeName {
            pk: self.pk,
            key: self.realtime_key,
        }
    }
}

impl Ctx {
    /// Fails a revoked token (or one whose user is gone) before any other work of the
    /// request's transaction. Once per request: later trips of the same request skip it.
    pub fn check_not_revoked(&self, conn: &Connection) -> Result<(), ApiError> {
        match &self.revocation {
            Some(check) => check.run(conn),
            None => Ok(()),
        }
    }

    /// The acting user for a write. The backend's `userId` becomes a bare user when new;
    /// a token whose user was deleted stands for nobody.
    pub fn me_for_write(&self, conn: &Connection) -> Result<Option<Me>, ApiError> {
        let Some(id) = &self.user_id else {
            return Ok(None);
        };
        let found = if self.backend {
            user_rows::ensure(conn, &self.app_id, id)?
        } else {
            user_rows::find_realtime_name(conn, &self.app_id, id)?.ok_or_else(user_gone)?
        };
        Ok(Some(Me::new(found, id)))
    }

    /// The acting user for a read; a backend `userId` the app never saw is nobody yet.
    pub fn me_for_read(&self, conn: &Connection) -> Result<Option<Me>, ApiError> {
        let Some(id) = &self.user_id else {
            return Ok(None);
        };
        match user_rows::find_realtime_name(conn, &self.app_id, id)? {
            Some(found) => Ok(Some(Me::new(found, id))),
            None if self.backend => Ok(None),
            None => Err(user_gone()),
        }
    }

    /// Like `me_for_write`, but an acting user is required.
    pub fn require_me(&self, conn: &Connection) -> Result<Me, ApiError> {
        self.me_for_write(conn)?.ok_or_else(need_user_id)
    }

    /// The Centrifugo user id of an app user.
    pub fn centrifugo_user(&self, user_id: &str) -> String {
        crate::auth::tokens::centrifugo_user_id(&self.app_id, user_id)
    }
}

/// A genuine REST token whose user is gone: it no longer stands for anyone (401).
pub fn user_gone() -> ApiError {
    ApiError::InvalidToken("the user no longer exists")
}

pub fn need_user_id() -> ApiError {
    ApiError::InvalidRequest(
        "`userId` is required when calling with X-API-Key: name the user to act as".into(),
    )
}

pub use crate::domain::Role;

/// A channel the caller may see, with the caller's place in it.
pub struct Access {
    pub channel: ChannelRow,
    pub me: Option<Me>,
    pub role: Option<Role>,
    pub read_seq: i64,
}

impl Access {
    /// Requires one of `roles`, unless the caller is the app's backend.
    pub fn require(&self, ctx: &Ctx, roles: &[Role], what: &str) -> Result<(), ApiError> {
        if ctx.backend || self.role.is_some_and(|r| roles.contains(&r)) {
            return Ok(());
        }
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(ApiError::Forbidden(format!(
            "only a channel {} may {what}",
            names.join(" or ")
        )))
    }
}

/// Loads a channel of the caller's app. Non-members get 404, as if it did not exist.
pub fn access(
    conn: &Connection,
    ctx: &Ctx,
    me: Option<Me>,
    channel_id: &str,
) -> Result<Access, ApiError> {
    let channel =
        channel_rows::find(conn, &ctx.app_id, channel_id)?.ok_or(ApiError::ChannelNotFound)?;
    access_to(conn, ctx, me, channel)
}

pub fn access_to(
    conn: &Connection,
    ctx: &Ctx,
    me: Option<Me>,
    channel: ChannelRow,
) -> Result<Access, ApiError> {
    let membership = match &me {
        Some(me) => member_rows::membership(conn, channel.pk, me.pk)?,
        None => None,
    };
    if membership.is_none() && !ctx.backend {
        return Err(ApiError::ChannelNotFound);
    }
    let (role, read_seq) = match membership {
        Some((role, read_seq)) => (Role::parse(&role), read_seq),
        None => (None, 0),
    };
    Ok(Access {
        channel,
        me,
        role,
        read_seq,
    })
}
