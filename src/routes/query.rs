//! `ApiQuery<T>`: the query-string extractor. Unlike actix's `Query`, its errors name the
//! parameter at fault (`?limit=-1` → "query parameter `limit`: …"). Also the paged
//! routes' shared checks: `limit`, and the opaque `cursor`.

use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use base64::Engine;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::future::{Ready, ready};

/// A request's query string, parsed into `T`.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse(req.query_string()).map(ApiQuery))
    }
}

/// Parses a query string into `T`, naming the parameter at fault.
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        ApiError::InvalidRequest(if path == "." {
            format!("query string: {inner}")
        } else {
            format!("query parameter `{path}`: {inner}")
        })
    })
}

/// The query of a cursor-paged list (channels, members): `limit`, `cursor`, and the
/// acting `userId` (read by the auth middleware; named here so it is not refused as
/// unknown).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PageQuery {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
    #[serde(rename = "userId")]
    _user_id: Option<String>,
}

/// Checks `limit` of a page: 1..=max, default when absent.
pub fn page_limit(limit: Option<usize>, default: usize, max: usize) -> Result<usize, ApiError> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::InvalidRequest(format!(
            "`limit` must be between 1 and {max} (got {n})"
        ))),
    }
}

/// A page's `nextCursor`: the `(sort key, pk)` of its last row, opaque to clients.
pub fn encode_cursor((at, pk): (i64, i64)) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{at}.{pk}"))
}

/// A `?cursor=` back into the `(sort key, pk)` it came from. Only the shape is checked: a
/// cursor is a position, not a credential, so a made-up one reads nothing the caller could
/// not page to.
pub fn decode_cursor(s: &str) -> Result<(i64, i64), ApiError> {
    let bad = || {
        ApiError::InvalidRequest(
            "`cursor` is malformed: pass a page's `nextCursor` unchanged".into(),
        )
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (at, pk) = text.split_once('.').ok_or_else(bad)?;
    Ok((
        at.parse().map_err(|_| bad())?,
        pk.parse().map_err(|_| bad())?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Page {
        limit: Option<usize>,
        after: Option<i64>,
    }

    fn message(query: &str) -> String {
        match parse::<Page>(query) {
            Err(ApiError::InvalidRequest(m)) => m,
            other => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_parameter() {
        // A bad value: the path tells which parameter (serde's own message does not).
        assert!(message("limit=-1").starts_with("query parameter `limit`: "));
        assert!(message("after=1.0").starts_with("query parameter `after`: "));
        // Errors of the whole query: serde's message names the parameter itself.
        assert_eq!(
            message("limit=1&limit=2"),
            "query string: duplicate field `limit`"
        );
        let unknown = message("nope=1");
        assert!(unknown.contains("unknown field `nope`"), "{unknown}");
        let page = parse::<Page>("limit=5&after=7").unwrap();
        assert_eq!((page.limit, page.after), (Some(5), Some(7)));
    }
}
