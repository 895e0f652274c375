//! `ApiQuery<T>`: the query-string extractor. Unlike actix's `Query`, its errors name the
//! parameter at fault (`?limit=-1` → "query parameter `limit`: …").

use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
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
