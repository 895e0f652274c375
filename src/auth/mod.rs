//! Credentials: app API keys and the two JWTs we issue.

pub mod api_key;
pub mod issue;
pub mod tokens;
