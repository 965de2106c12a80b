//! Bearer-token check for API writes. An extractor, listed before the body in every write
//! handler, so a request without the token is refused (401) before its body is even parsed and
//! nothing reaches the state task.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use super::{ApiError, HttpState};

/// Proof that the request carried the configured bearer token.
#[derive(Debug, Clone, Copy)]
pub struct Authorized;

/// Compares in constant time for equal lengths, so response timing does not reveal how many
/// leading bytes of a guess were right (the length alone is not a useful secret).
fn token_matches(given: &str, expected: &str) -> bool {
    bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

impl FromRequestParts<HttpState> for Authorized {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, Self::Rejection> {
        let Some(expected) = state.api_token.as_deref() else {
            return Err(ApiError::unauthorized(
                "writes are disabled: the daemon has no API token configured",
            ));
        };
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("this is a write: send Authorization: Bearer <token>"))?;
        let given = header
            .to_str()
            .ok()
            .and_then(|h| {
                let (scheme, rest) = h.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <token>`"))?;
        if token_matches(given, expected) {
            Ok(Authorized)
        } else {
            tracing::warn!("API write refused: wrong bearer token");
            Err(ApiError::unauthorized("wrong API token"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::token_matches;

    #[test]
    fn only_the_exact_token_matches() {
        assert!(token_matches("s3cret", "s3cret"));
        assert!(!token_matches("s3cres", "s3cret"));
        assert!(!token_matches("s3cre", "s3cret"));
        assert!(!token_matches("", "s3cret"));
    }
}
