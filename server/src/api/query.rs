//! A request's query string, read strictly: what it cannot say exactly is refused (400
//! `malformed`), never guessed at.
//!
//! axum's `Query` (serde_urlencoded, over `form_urlencoded`) decodes percent-encoded bytes that
//! are not UTF-8 into U+FFFD, so `?last_event_id=%ff` became an id nobody was sent and the
//! stream answered `resync` instead of refusing it, while the same bytes in the `Last-Event-ID`
//! header were refused; and it keeps one of two values given for a name it does not read, so
//! `?token=a&token=b` beside an `Authorization` header went unnoticed. Here a name and its value
//! must be UTF-8 once percent-decoded (RFC 3986 §2.5: URIs carry text as UTF-8), and no name
//! may be given twice: one rule, [`check`], which [`strict`] applies to every API route and the
//! stream (`lib.rs`) before anything reads the query. [`Query`] then only deserialises.

use std::borrow::Cow;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// The query string deserialised as `T` (a struct of optional fields, usually), or 400. Only
/// for routes behind [`strict`], which has checked the query already.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> Query<T> {
    /// `uri`'s query as `T`. Errors: a value of the wrong type (`?limit=x`), `malformed`.
    pub fn from_uri(uri: &Uri) -> Result<Self, AppError> {
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

/// Refuses a query (the part after `?`, `application/x-www-form-urlencoded`) with a name or
/// value that is not UTF-8 once decoded, or a name given twice.
pub fn check(query: &str) -> Result<(), AppError> {
    let mut names: Vec<Cow<'_, str>> = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let not_utf8 = |name: &str| {
            AppError::malformed(
                format!(
                    "the query parameter `{}` is not UTF-8 once percent-decoded",
                    shown(name)
                ),
                None,
            )
        };
        let name = decode(raw_name).ok_or_else(|| not_utf8(raw_name))?;
        decode(raw_value).ok_or_else(|| not_utf8(&name))?;
        if names.contains(&name) {
            return Err(AppError::malformed(
                format!("the query parameter `{}` is given twice", shown(&name)),
                None,
            ));
        }
        names.push(name);
    }
    Ok(())
}

/// Middleware: [`check`] on the request's query, before any handler or extractor reads it.
pub async fn strict(request: Request, next: Next) -> Response {
    match check(request.uri().query().unwrap_or_default()) {
        Ok(()) => next.run(request).await,
        Err(err) => err.into_response(),
    }
}

/// A form-encoded name or value, decoded (`+` is a space), if it is UTF-8.
fn decode(raw: &str) -> Option<Cow<'_, str>> {
    if !raw.contains(['+', '%']) {
        return Some(Cow::Borrowed(raw));
    }
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|text| Cow::Owned(text.into_owned()))
}

/// A name as an error message shows it: at most 40 characters.
fn shown(name: &str) -> String {
    name.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Params {
        id: Option<String>,
    }

    /// As a route reads it: [`check`] (the layer), then the extractor.
    fn read(uri: &str) -> Result<Option<String>, String> {
        let uri: Uri = uri.parse().unwrap();
        check(uri.query().unwrap_or_default())
            .and_then(|()| Query::<Params>::from_uri(&uri))
            .map(|Query(p)| p.id)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn utf8_values_in_any_script_are_read_exactly() {
        assert_eq!(read("/x?id=%E2%9C%93+a").unwrap().as_deref(), Some("✓ a"));
        assert_eq!(read("/x?other=1").unwrap(), None);
        assert_eq!(read("/x").unwrap(), None);
        assert_eq!(read("/x?&&id=a&").unwrap().as_deref(), Some("a"));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused_not_replaced() {
        let err = read("/x?id=%ff").unwrap_err();
        assert!(err.contains("`id` is not UTF-8"), "{err}");
        assert!(read("/x?%ff=1").is_err());
        assert!(
            read("/x?other=%C3%28").is_err(),
            "a name the route does not read too"
        );
    }

    #[test]
    fn a_name_given_twice_is_refused_whether_or_not_it_is_read() {
        let err = read("/x?id=a&id=b").unwrap_err();
        assert!(err.contains("`id` is given twice"), "{err}");
        assert!(read("/x?other=1&other=1").is_err());
        assert!(
            read("/x?a+b=1&a%20b=2").is_err(),
            "the same name, encoded two ways"
        );
        assert!(read("/x?a=1&b=1").is_ok());
    }
}
