//! Strings that must never be printed: secrets, API keys, tokens, and the user and
//! password a service URL may carry.

use std::borrow::Cow;
use std::fmt;

/// Holds a secret value; `Debug` and `Display` print `[REDACTED]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw value. Call it only where the secret is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

/// A URL of a service we call (`CENTRIFUGO_URL`, `CENTRIFUGO_WS_URL`). `Display` and
/// `Debug` print it without its user and password, so every log line, error and report
/// that names it is safe; `expose` gives the whole URL to the client that connects.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceUrl(String);

impl ServiceUrl {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The URL with its credentials. Call it only to connect, never to print.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` (a library's error, say) with this URL's user and password replaced.
    pub fn scrub(&self, text: &str) -> String {
        match userinfo(&self.0) {
            Some(secret) if !secret.is_empty() => text.replace(secret, "[REDACTED]"),
            _ => text.to_string(),
        }
    }

    /// The URL without its user and password at all: what may be handed to anyone
    /// (the demo page's Centrifugo URL and its CSP, which cannot carry them anyway).
    pub fn public(&self) -> String {
        match userinfo(&self.0) {
            Some(secret) => self.0.replacen(&format!("{secret}@"), "", 1),
            None => self.0.clone(),
        }
    }

    /// The same URL without trailing slashes, so `{url}/api/info` has one.
    pub fn trim_end_slashes(&self) -> Self {
        Self(self.0.trim_end_matches('/').to_string())
    }
}

/// `url` with its userinfo (`user:password@`) replaced by `[REDACTED]@`.
fn without_userinfo(url: &str) -> Cow<'_, str> {
    match userinfo(url) {
        Some(secret) => Cow::Owned(url.replacen(secret, "[REDACTED]", 1)),
        None => Cow::Borrowed(url),
    }
}

/// The `user:password` part of `url`, if any: from the scheme to the last `@` anywhere,
/// not only before the first `/`, since a password with an unescaped `/`, `?` or `#`
/// makes the URL invalid but must not be printed either.
fn userinfo(url: &str) -> Option<&str> {
    let start = url.find("://").map_or(0, |i| i + 3);
    url[start..].rfind('@').map(|at| &url[start..start + at])
}

impl fmt::Display for ServiceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&without_userinfo(&self.0))
    }
}

impl fmt::Debug for ServiceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*without_userinfo(&self.0), f)
    }
}

impl std::str::FromStr for ServiceUrl {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

impl From<String> for ServiceUrl {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for ServiceUrl {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_url_prints_without_its_user_and_password() {
        for (url, shown) in [
            (
                "http://user:pa55word@127.0.0.1:19001",
                "http://[REDACTED]@127.0.0.1:19001",
            ),
            (
                "https://token@c.internal/api",
                "https://[REDACTED]@c.internal/api",
            ),
            (
                "http://u:pa/55?w#o@host:9000",
                "http://[REDACTED]@host:9000",
            ),
            ("user:pa55word@host", "[REDACTED]@host"),
            ("http://localhost:9000", "http://localhost:9000"),
            (
                "ws://h:8000/connection/websocket",
                "ws://h:8000/connection/websocket",
            ),
        ] {
            let u = ServiceUrl::new(url);
            assert_eq!(u.to_string(), shown, "{url}");
            assert_eq!(format!("{u:?}"), format!("{shown:?}"), "{url}");
            assert_eq!(u.expose(), url);
            assert_eq!(u.public(), shown.replace("[REDACTED]@", ""), "{url}");
        }
        let u = ServiceUrl::new("ws://user:pa55word@h/connection/websocket");
        assert_eq!(
            u.scrub("cannot reach user:pa55word@h"),
            "cannot reach [REDACTED]@h"
        );
    }

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("hunter2-hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{s}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2-hunter2");
    }
}
