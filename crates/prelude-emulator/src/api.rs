//! The wire error shape `{code, message}` and a JSON extractor whose rejections use it.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prelude_wire::Code;
use serde::de::DeserializeOwned;
use serde_json::json;

/// A refusal as the wire carries it: the [`Code`], whose HTTP status it answers with, and a
/// sentence.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Code,
    pub message: String,
    /// Set on `use_dpop_nonce` so the client can retry.
    pub dpop_nonce: Option<String>,
    /// Set on `bad_check_code` so a UI can say how many tries are left.
    pub attempts_remaining: Option<u32>,
    /// Seconds before trying again makes sense (`Retry-After`).
    pub retry_after: Option<i64>,
}

impl ApiError {
    /// `code` with its own status ([`Code::status`]).
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        let status =
            StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self::with_status(status, code, message)
    }
    /// `code` with another status than its own, for the documented exceptions (`413` for a
    /// body over the limit).
    pub fn with_status(status: StatusCode, code: Code, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            dpop_nonce: None,
            attempts_remaining: None,
            retry_after: None,
        }
    }
    /// `code` (a 429) with `Retry-After`.
    pub fn too_many(code: Code, message: impl Into<String>, retry_after: i64) -> Self {
        Self {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(code, message)
        }
    }
    /// A broken wire rule, with the rule's own code.
    pub fn rule(code: Code, e: prelude_wire::RuleError) -> Self {
        Self::new(code, e.message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(Code::Unauthorized, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Code::NotFound, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Code::Internal, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"code": self.code, "message": self.message});
        if let Some(n) = self.attempts_remaining {
            body["attempts_remaining"] = n.into();
        }
        if let Some(n) = self.retry_after {
            body["retry_after_secs"] = n.into();
        }
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(n) = self.retry_after {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(n));
        }
        if let Some(n) = self.dpop_nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
            resp.headers_mut().insert("dpop-nonce", n);
        }
        resp
    }
}

/// The whole body, within the body limit (`413` past it) and the body timeout.
pub(crate) async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::with_status(
                StatusCode::PAYLOAD_TOO_LARGE,
                Code::BadRequest,
                "request body is too large",
            )
        } else {
            ApiError::new(Code::BadRequest, e.body_text())
        }
    })
}

/// Refuses a request that carries a body not sent as `Content-Type: application/json`
/// (`415 unsupported_media_type`), before its route runs; a body of whitespace only counts as
/// none. A browser sends a cross-origin POST of another type (`text/plain`, a form) without
/// asking first; one of this type it must preflight, and CORS decides (docs/protocol.md,
/// "Request bodies").
pub async fn json_bodies_only(req: Request, next: Next) -> Response {
    if is_json(req.headers()) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match read_body(Request::from_parts(parts.clone(), body), &()).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    if !bytes.iter().all(u8::is_ascii_whitespace) {
        return ApiError::new(
            Code::UnsupportedMediaType,
            "a request body must be sent as Content-Type: application/json",
        )
        .into_response();
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// The credentials of the one `Authorization` header when its scheme is `scheme`, which is
/// matched without regard to case (RFC 9110 §11.1, §11.6.2): `BEARER abc` gives `abc` for
/// `Bearer`. `None` when the header is missing, repeated, not text, of another scheme, or
/// carries no credentials.
pub fn authorization<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    let mut all = headers.get_all(header::AUTHORIZATION).iter();
    let (value, None) = (all.next()?, all.next()) else {
        return None;
    };
    let (given, credentials) = value.to_str().ok()?.trim().split_once([' ', '\t'])?;
    let credentials = credentials.trim();
    (given.eq_ignore_ascii_case(scheme) && !credentials.is_empty()).then_some(credentials)
}

/// Whether a media type (a `Content-Type` value) is `expected` (`type/subtype`): matched
/// without regard to case, its parameters such as `; charset=utf-8` ignored (RFC 9110 §8.3.1).
pub fn media_type_is(value: &str, expected: &str) -> bool {
    value
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(expected))
}

/// Whether a JWS `typ` names the media type `application/{expected}`: a `typ` without a `/`
/// has `application/` left out (RFC 7515 §4.1.9), so `dpop+jwt`, `DPoP+JWT` and
/// `application/dpop+jwt` all name `application/dpop+jwt`.
pub fn jws_typ_is(typ: &str, expected: &str) -> bool {
    let full = |t: &str| {
        if t.contains('/') {
            t.to_owned()
        } else {
            format!("application/{t}")
        }
    };
    media_type_is(&full(typ), &full(expected))
}

/// Whether the request says, once, that its body is `application/json` (see
/// [`media_type_is`]).
pub fn is_json(headers: &HeaderMap) -> bool {
    let mut all = headers.get_all(header::CONTENT_TYPE).iter();
    match (all.next(), all.next()) {
        (Some(v), None) => v
            .to_str()
            .is_ok_and(|v| media_type_is(v, "application/json")),
        _ => false,
    }
}

/// Like `axum::Json`, but a malformed, mistyped or unknown-field body is a 400 `bad_request`
/// with a readable message, and a missing or empty body is treated as `{}`.
pub struct Body<T>(pub T);

impl<T, S> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        let slice: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(slice)
            .map(Body)
            .map_err(|e| ApiError::new(Code::BadRequest, format!("invalid JSON body: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn schemes_match_without_regard_to_case() {
        for v in [
            "Bearer t",
            "BEARER t",
            "bearer  t ",
            "Bearer\tt",
            " bearer t",
        ] {
            assert_eq!(authorization(&auth(&[v]), "Bearer"), Some("t"), "{v:?}");
        }
        assert_eq!(authorization(&auth(&["dpop t"]), "DPoP"), Some("t"));
        for v in ["Bearert", "Basic t", "Bearer", "Bearer  ", "Bear t"] {
            assert_eq!(authorization(&auth(&[v]), "Bearer"), None, "{v:?}");
        }
        assert_eq!(
            authorization(&auth(&["Bearer a", "Bearer b"]), "Bearer"),
            None
        );
    }

    #[test]
    fn media_types_match_without_regard_to_case_or_parameters() {
        for v in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            " application/json ;charset=UTF-8",
        ] {
            assert!(media_type_is(v, "application/json"), "{v:?}");
        }
        for v in [
            "text/plain",
            "application/jsonx",
            "json",
            "application/ld+json",
            "",
        ] {
            assert!(!media_type_is(v, "application/json"), "{v:?}");
        }
        assert!(jws_typ_is("DPoP+JWT", "dpop+jwt"));
        assert!(jws_typ_is("application/dpop+jwt", "dpop+jwt"));
        assert!(!jws_typ_is("text/dpop+jwt", "dpop+jwt"));
        assert!(!jws_typ_is("jwt", "dpop+jwt"));
    }
}
