//! Errors as the API answers them — always a JSON body `{"error": "..."}` saying what is wrong, so
//! the dashboard and `hemiwatch ack` can show the daemon's own sentence — and extractors that turn
//! axum's plain-text rejections (bad JSON, bad query, bad path) into such answers.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::model::RequestError;

/// An API failure: an HTTP status and one sentence for the human reading it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    /// Status code of the answer.
    pub status: StatusCode,
    /// What went wrong, in words a technician can act on.
    pub message: String,
}

impl ApiError {
    /// 400: the request itself is wrong (the message says which part).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// 404: the thing asked for does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    /// 401: a write without a valid bearer token.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            message: message.into(),
        }
    }

    /// 429: a cap on concurrent streams or queries is reached; retry later.
    pub fn too_many(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: message.into(),
        }
    }

    /// 403: the request is not for this daemon (its `Host` names another).
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
        }
    }

    /// 503: the daemon cannot serve this now (shutting down, no storage).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: message.into(),
        }
    }

    /// 500: a fault on our side; logged, and the message says where.
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::NoSuchAlert(_) => Self::not_found(e.to_string()),
            RequestError::Invalid(m) => Self::bad_request(m),
            RequestError::Unavailable => Self::unavailable(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = %self.status, error = %self.message, "API request failed");
        }
        let body = serde_json::json!({ "error": self.message }).to_string();
        let mut resp = (self.status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"hemiwatch\""),
            );
        }
        resp
    }
}

/// Maps an axum rejection to a 400 (or 413 for an oversized body) carrying axum's own explanation.
fn rejection(status: StatusCode, text: String, what: &str) -> ApiError {
    let status = if status == StatusCode::PAYLOAD_TOO_LARGE {
        status
    } else {
        StatusCode::BAD_REQUEST
    };
    ApiError {
        status,
        message: format!("invalid {what}: {text}"),
    }
}

/// `axum::Json` whose rejection is an [`ApiError`] (JSON body) instead of plain text.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(e) => Err(rejection(e.status(), e.body_text(), "JSON body")),
        }
    }
}

/// A wrapper of an axum extractor taken from the request head, whose rejection is an
/// [`ApiError`] saying `invalid <what>: …`; the wrappers differ only in the extractor they wrap.
macro_rules! api_parts_extractor {
    ($(#[$doc:meta])* $name:ident wraps $inner:ident, $what:literal, T: $($bound:tt)+) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name<T>(pub T);

        impl<S, T> FromRequestParts<S> for $name<T>
        where
            S: Send + Sync,
            T: $($bound)+,
        {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
                match axum::extract::$inner::<T>::from_request_parts(parts, state).await {
                    Ok(axum::extract::$inner(v)) => Ok(Self(v)),
                    Err(e) => Err(rejection(e.status(), e.body_text(), $what)),
                }
            }
        }
    };
}

api_parts_extractor!(
    /// `axum::extract::Query` with a JSON rejection.
    ApiQuery wraps Query, "query string", T: DeserializeOwned
);
api_parts_extractor!(
    /// `axum::extract::Path` with a JSON rejection.
    ApiPath wraps Path, "path", T: DeserializeOwned + Send
);
