//! A request's query string, read strictly: what it cannot say exactly is refused (400
//! `malformed`), never guessed at.
//!
//! axum's `Query` (serde_urlencoded, over `form_urlencoded`) decodes percent-encoded bytes that
//! are not UTF-8 into U+FFFD, so `?last_event_id=%ff` became an id nobody was sent and the
//! stream answered `resync` instead of refusing it, while the same bytes in the `Last-Event-ID`
//! header were refused. Here, as there, a value must be UTF-8 once percent-decoded (RFC 3986
//! §2.5: URIs carry text as UTF-8). A name given twice is refused too, as serde_urlencoded
//! already does for a struct's field: `?token=a&token=b` says two things at once.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::Uri;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// The query string deserialised as `T` (a struct of optional fields, usually), or 400.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> Query<T> {
    /// `uri`'s query as `T`. Errors: a value or name that is not UTF-8 once percent-decoded,
    /// a field given twice, a value of the wrong type (`?limit=x`), each a `malformed`.
    pub fn from_uri(uri: &Uri) -> Result<Self, AppError> {
        let query = uri.query().unwrap_or_default();
        if let Some(bad) = query.split('&').find(|pair| {
            percent_encoding::percent_decode_str(pair)
                .decode_utf8()
                .is_err()
        }) {
            let name = bad.split('=').next().unwrap_or_default();
            return Err(AppError::malformed(
                format!("the query parameter `{name}` is not UTF-8 once percent-decoded"),
                None,
            ));
        }
        let axum::extract::Query(value) = axum::extract::Query::try_from_uri(uri)?;
        Ok(Self(value))
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Self::from_uri(&parts.uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Params {
        id: Option<String>,
    }

    fn read(uri: &str) -> Result<Option<String>, String> {
        Query::<Params>::from_uri(&uri.parse().unwrap())
            .map(|Query(p)| p.id)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn utf8_values_in_any_script_are_read_exactly() {
        assert_eq!(read("/x?id=%E2%9C%93+a").unwrap().as_deref(), Some("✓ a"));
        assert_eq!(read("/x?other=1").unwrap(), None);
        assert_eq!(read("/x").unwrap(), None);
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused_not_replaced() {
        let err = read("/x?id=%ff").unwrap_err();
        assert!(err.contains("`id` is not UTF-8"), "{err}");
        assert!(read("/x?%ff=1").is_err());
    }

    #[test]
    fn a_field_given_twice_is_refused() {
        let err = read("/x?id=a&id=b").unwrap_err();
        assert!(err.contains("duplicate field"), "{err}");
    }
}
