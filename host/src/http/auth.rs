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

/// The least strength a configured token must have: a 128-bit secret is out of reach of any
/// guessing over the network (and of the wrong-token log's patience).
pub const MIN_TOKEN_BITS: f64 = 128.0;

/// An upper estimate of a token's strength in bits: its length times log2 of the alphabet its
/// characters are drawn from (digits 10, hex digits 16, each letter case 26, anything else 33).
/// A token that fails [`MIN_TOKEN_BITS`] by this estimate is too short whatever its randomness.
pub fn token_bits(token: &str) -> f64 {
    let hex_only = token.chars().all(|c| c.is_ascii_hexdigit());
    let mut alphabet = 0u32;
    if hex_only {
        alphabet = 16;
    } else {
        let has = |f: fn(&char) -> bool| token.chars().any(|c| f(&c));
        alphabet += if has(char::is_ascii_digit) { 10 } else { 0 };
        alphabet += if has(char::is_ascii_lowercase) { 26 } else { 0 };
        alphabet += if has(char::is_ascii_uppercase) { 26 } else { 0 };
        alphabet += if has(|c| !c.is_ascii_alphanumeric()) {
            33
        } else {
            0
        };
    }
    token.chars().count() as f64 * f64::from(alphabet.max(1)).log2()
}

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
            state.guard.wrong_token();
            Err(ApiError::unauthorized("wrong API token"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::token_matches;

    #[test]
    fn tokens_under_128_bits_are_too_short() {
        use super::{token_bits, MIN_TOKEN_BITS};
        // 32 hex digits (`openssl rand -hex 16`) and 22 base64 characters are 128 bits.
        assert!(token_bits("0123456789abcdef0123456789abcdef") >= MIN_TOKEN_BITS);
        assert!(token_bits("q9Xv2LmB7kRt4WzN8cHs1Y") >= MIN_TOKEN_BITS);
        assert!(token_bits("0123456789abcdef0123456789abcde") < MIN_TOKEN_BITS);
        assert!(token_bits("t0ken") < MIN_TOKEN_BITS);
        assert!(token_bits("test-token-5f1c") < MIN_TOKEN_BITS);
    }

    #[test]
    fn only_the_exact_token_matches() {
        assert!(token_matches("s3cret", "s3cret"));
        assert!(!token_matches("s3cres", "s3cret"));
        assert!(!token_matches("s3cre", "s3cret"));
        assert!(!token_matches("", "s3cret"));
    }
}
