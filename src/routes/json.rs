//! `ApiJson<T>`: the JSON body extractor. Unlike actix's `Json`, its errors name the
//! offending field (via serde_path_to_error) and tell syntax errors from wrong values.

use crate::error::ApiError;
use crate::routes::MAX_BODY_BYTES;
use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::{DeserializeOwned, Error as _, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// How long a request body may take to arrive, from when the handler asks for it. A
/// body is at most 64 KiB; without a bound, a client that announces a length and sends
/// less holds its connection (and the request) forever.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// The body, whole, within `BODY_TIMEOUT`.
async fn read_body(
    body: impl Future<Output = Result<web::Bytes, actix_web::Error>>,
    coded: bool,
) -> Result<web::Bytes, ApiError> {
    match tokio::time::timeout(BODY_TIMEOUT, body).await {
        Ok(read) => read.map_err(|e| body_error(e, coded)),
        Err(_) => Err(ApiError::BodyTimeout(BODY_TIMEOUT.as_secs())),
    }
}

/// A JSON request body, parsed into `T`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = is_json(req);
        let coding = content_coding(req);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            let coded = coding?;
            let bytes = read_body(body, coded).await?;
            parse(&bytes).map(ApiJson)
        })
    }
}

/// A JSON body a route can do without (its only field is the backend's `userId`, which
/// may come in the query instead): `None` when the request has no body at all or the
/// body is JSON `null` (what some clients send for "nothing"), else checked as
/// `ApiJson` checks it.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = is_json(req);
        let coding = content_coding(req);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let coded = coding.as_ref().is_ok_and(|c| *c);
            let bytes = read_body(body, coded).await?;
            if bytes.is_empty() {
                return Ok(OptionalJson(None));
            }
            coding?;
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            if bytes.trim_ascii() == b"null" {
                return Ok(OptionalJson(None));
            }
            parse(&bytes).map(|v| OptionalJson(Some(v)))
        })
    }
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The `Content-Encoding` values a body may come in (what actix decodes with our
/// features), as the `Accept-Encoding` of a 415.
pub const ACCEPTED_ENCODINGS: &str = "gzip, deflate";

/// Whether the body comes compressed (gzip or deflate, which actix decodes before we
/// read it; the size limit applies to the decoded body). Any other coding is refused:
/// actix would hand it over undecoded, to be misread as JSON.
fn content_coding(req: &HttpRequest) -> Result<bool, ApiError> {
    let mut values = req.headers().get_all(header::CONTENT_ENCODING);
    let Some(value) = values.next() else {
        return Ok(false);
    };
    // actix decodes by the first header only, and one coding only ("gzip, gzip" is not one).
    let text = if values.next().is_some() {
        "(sent twice)"
    } else {
        value.to_str().unwrap_or("(not ASCII)").trim()
    };
    // Empty is what actix reads as identity too.
    if text.is_empty() || text.eq_ignore_ascii_case("identity") {
        return Ok(false);
    }
    if ["gzip", "deflate"]
        .iter()
        .any(|c| text.eq_ignore_ascii_case(c))
    {
        return Ok(true);
    }
    let shown: String = text.chars().filter(|c| !c.is_control()).take(40).collect();
    Err(ApiError::UnsupportedEncoding(shown))
}

/// A body that could not be read. The framework's own text of these errors is Rust
/// debug output, so the caller gets a message of ours instead.
fn body_error(e: actix_web::Error, coded: bool) -> ApiError {
    let message = match e.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => return ApiError::PayloadTooLarge(MAX_BODY_BYTES),
        _ if e.as_response_error().status_code() == 413 => {
            return ApiError::PayloadTooLarge(MAX_BODY_BYTES);
        }
        _ if coded => "the body is not valid data of its `Content-Encoding`",
        Some(PayloadError::Incomplete(_)) => "the body ended before its announced length",
        _ => "could not read the request body",
    };
    log::debug!("request body unreadable: {e}");
    ApiError::InvalidRequest(message.into())
}

/// Parses a JSON body into `T`, naming the field at fault.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // serde's derived structs also accept a JSON array of fields in order; an API body
    // must be an object, so anything else is refused before it can be misread.
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => {
            return Err(ApiError::InvalidJson(
                "the body is empty: send a JSON object".into(),
            ));
        }
        Some(b'{') => {}
        Some(_) if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_err() => {
            return Err(ApiError::InvalidJson("the body is not valid JSON".into()));
        }
        Some(_) => {
            return Err(ApiError::InvalidRequest(
                "the body must be a JSON object".into(),
            ));
        }
    }
    // The common case, a valid body, in one plain pass (and the duplicate-key walk); only
    // a refused body is parsed again with the field path tracked, for its error message.
    if let Ok(value) = serde_json::from_slice(bytes) {
        no_duplicate_keys(bytes)?;
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let what = strip_position(&inner.to_string());
        if inner.is_syntax() || inner.is_eof() {
            ApiError::InvalidJson(format!("the body is not valid JSON: {what}"))
        } else if path == "." {
            ApiError::InvalidRequest(format!("request body: {what}"))
        } else {
            ApiError::InvalidRequest(format!("`{path}`: {what}"))
        }
    })?;
    de.end().map_err(|e| {
        ApiError::InvalidJson(format!(
            "the body is not valid JSON: {}",
            strip_position(&e.to_string())
        ))
    })?;
    Ok(value)
}

/// Refuses an object anywhere in the body that names a key twice. serde's derived
/// structs refuse a repeated field, but a free-form object (`custom`) keeps the last
/// value, and a customer's backend that validated the first would disagree with us on
/// what was stored.
fn no_duplicate_keys(bytes: &[u8]) -> Result<(), ApiError> {
    // Every body is a derived struct, so with one `{` there is no free-form object to
    // walk (the common `/tokens` refresh without `custom`).
    if bytes.iter().filter(|&&b| b == b'{').nth(1).is_none() {
        return Ok(());
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize::<_, UniqueKeys>(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let what = strip_position(&e.into_inner().to_string());
        ApiError::InvalidRequest(format!("`{path}`: {what}"))
    })?;
    Ok(())
}

/// A JSON value walked for `no_duplicate_keys`, built into nothing.
struct UniqueKeys;

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueKeys)
    }
}

impl<'de> Visitor<'de> for UniqueKeys {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        // Keys borrowed from the body where they have no escapes; a short list is
        // searched faster than a set is built.
        let mut seen: Vec<Cow<'de, str>> = Vec::new();
        while let Some(Key(key)) = map.next_key()? {
            if seen.contains(&key) {
                return Err(A::Error::custom(format!("duplicate key `{key}`")));
            }
            map.next_value::<UniqueKeys>()?;
            seen.push(key);
            if seen.len() > 16 {
                return walk_large_map(map, seen).map(|()| self);
            }
        }
        Ok(self)
    }
}

/// The rest of a map past 16 keys, against a set.
fn walk_large_map<'de, A: MapAccess<'de>>(
    mut map: A,
    seen: Vec<Cow<'de, str>>,
) -> Result<(), A::Error> {
    let mut seen: HashSet<Cow<'de, str>> = seen.into_iter().collect();
    while let Some(Key(key)) = map.next_key()? {
        if seen.contains(&key) {
            return Err(A::Error::custom(format!("duplicate key `{key}`")));
        }
        map.next_value::<UniqueKeys>()?;
        seen.insert(key);
    }
    Ok(())
}

/// An object key, borrowed from the body when it can be.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// serde_json appends " at line L column C"; the field path says more to an API caller.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Marks a field as present (`Some`) even when its value is `null` (`Some(None)`).
pub fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value};

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[allow(dead_code)]
        custom: Map<String, Value>,
    }

    fn refused(body: &str) -> String {
        match parse::<Body>(body.as_bytes()) {
            Err(ApiError::InvalidRequest(m)) => m,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn a_key_repeated_at_any_depth_is_refused_naming_where() {
        let m = refused(r#"{"custom":{"role":"a","role":"b"}}"#);
        assert!(
            m.contains("`custom`") && m.contains("duplicate key `role`"),
            "{m}"
        );
        let m = refused(r#"{"custom":{"a":[{"x":1},{"y":1,"y":2}]}}"#);
        assert!(m.contains("custom.a[1]") && m.contains("`y`"), "{m}");
        // Escapes are read first: "\u0072ole" is "role".
        refused(r#"{"custom":{"role":1,"\u0072ole":2}}"#);
        // Past 16 keys, where a set takes over.
        let many: Vec<String> = (0..20).map(|i| format!(r#""k{i}":{i}"#)).collect();
        let m = refused(&format!(r#"{{"custom":{{{},"k3":0}}}}"#, many.join(",")));
        assert!(m.contains("duplicate key `k3`"), "{m}");
        let m = refused(&format!(r#"{{"custom":{{{},"k18":0}}}}"#, many.join(",")));
        assert!(m.contains("duplicate key `k18`"), "{m}");
        // The same key in sibling objects is fine.
        parse::<Body>(br#"{"custom":{"a":{"k":1},"b":{"k":2},"k":[{"k":3}]}}"#).unwrap();
    }
}
