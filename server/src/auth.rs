//! Who is asking: user tokens (HS256 JWT), the service key of the publish API, and the CSRF
//! guard of the state-changing user routes.
//!
//! A user token is taken from `Authorization: Bearer …`, else (on the stream route only, as an
//! `EventSource` cannot set headers) from `?token=`, else from the `belfry_token` cookie. Tokens
//! are never logged: the request log records the path without its query string.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::api::query::Query;
use crate::error::AppError;
use crate::model::UserId;

pub const TOKEN_COOKIE: &str = "belfry_token";

/// The latest expiry Belfry signs or honours: the year 9999, within every clock's range.
const MAX_EXP: u64 = 253_402_300_799;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// A string, or an integer (what PHP JWT libraries mint from an integer user id), read as
    /// its decimal form, as the publish API reads `user_id`.
    #[serde(deserialize_with = "string_or_integer")]
    sub: String,
    exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<u64>,
}

fn string_or_integer<'de, D: serde::Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Subject {
        Text(String),
        Signed(i64),
        Unsigned(u64),
    }
    Ok(match Subject::deserialize(de)? {
        Subject::Text(text) => text,
        Subject::Signed(n) => n.to_string(),
        Subject::Unsigned(n) => n.to_string(),
    })
}

/// Signs and verifies user tokens with shared HS256 secrets.
///
/// Rotation: the first secret signs, every listed secret verifies. To rotate, start Belfry with
/// `new,old`, move the host application to `new`, and drop `old` once the last token signed with
/// it has expired.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: Vec<DecodingKey>,
    validation: Validation,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        Self::rotating(&[secret])
    }

    /// A rotation list as the command line gives it, `new,old,…`: the first signs, every one
    /// verifies. Blank entries are ignored; a list of none is an error.
    pub fn from_list(list: &str) -> Result<Self, &'static str> {
        let secrets: Vec<&[u8]> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::as_bytes)
            .collect();
        if secrets.is_empty() {
            return Err("the secret is empty");
        }
        Ok(Self::rotating(&secrets))
    }

    /// `secrets[0]` signs; any of them verifies. Panics on an empty list (a programming error:
    /// [`TokenKeys::from_list`] refuses it).
    pub fn rotating(secrets: &[&[u8]]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // `sub` is required by `Claims` itself, which also reads a numeric one (the validation
        // would refuse a `sub` that is not a string).
        validation.set_required_spec_claims(&["exp"]);
        // A few seconds for clocks that disagree between the host application and Belfry.
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secrets[0]),
            decoding: secrets
                .iter()
                .map(|s| DecodingKey::from_secret(s))
                .collect(),
            validation,
        }
    }

    /// A token for `user`, valid for `ttl` from now.
    pub fn mint(
        &self,
        user: &UserId,
        ttl: Duration,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = unix_now();
        let exp = now
            .checked_add(ttl.as_secs())
            .filter(|exp| *exp <= MAX_EXP)
            .ok_or(ErrorKind::InvalidClaimFormat("exp".to_owned()))?;
        let claims = Claims {
            sub: user.to_string(),
            exp,
            iat: Some(now),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// The user a token speaks for, if it is genuine, unexpired and names a valid user id.
    pub fn verify(&self, token: &str) -> Result<UserId, AppError> {
        self.verify_until(token).map(|(user, _)| user)
    }

    /// The user, and the moment the token stops being accepted (its `exp`, plus the leeway).
    pub fn verify_until(&self, token: &str) -> Result<(UserId, SystemTime), AppError> {
        // The first key whose signature matches decides; a token no key signed is invalid.
        let mut decoded = Err(ErrorKind::InvalidSignature.into());
        for key in &self.decoding {
            decoded = jsonwebtoken::decode::<Claims>(token, key, &self.validation);
            if !matches!(&decoded, Err(e) if *e.kind() == ErrorKind::InvalidSignature) {
                break;
            }
        }
        let data = decoded.map_err(|err: jsonwebtoken::errors::Error| match err.kind() {
            ErrorKind::ExpiredSignature => unauthorized("expired_token", "the token has expired"),
            _ => unauthorized("invalid_token", "the token is not valid"),
        })?;
        let user = UserId::parse(&data.claims.sub).map_err(|_| {
            unauthorized(
                "invalid_token",
                "the token's subject is not a valid user id",
            )
        })?;
        // A token may say it lasts for ever; the stream it opens then lasts as long as the
        // server (`MAX_EXP` is far beyond any uptime, and fits every clock's range).
        let until = UNIX_EPOCH
            + Duration::from_secs(
                data.claims
                    .exp
                    .saturating_add(self.validation.leeway)
                    .min(MAX_EXP),
            );
        Ok((user, until))
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn unauthorized(code: &'static str, message: &str) -> AppError {
    AppError::Unauthorized {
        code,
        message: message.to_owned(),
    }
}

fn bearer(parts: &Parts) -> Result<Option<&str>, AppError> {
    let mut given = parts.headers.get_all(AUTHORIZATION).iter();
    let Some(value) = given.next() else {
        return Ok(None);
    };
    // Two credentials: a proxy that reads the last could let through what Belfry, reading the
    // first, would not. Neither is taken.
    if given.next().is_some() {
        return Err(AppError::malformed(
            "the Authorization header is given twice",
            None,
        ));
    }
    // The scheme is case-insensitive (RFC 9110 §11.1): `bearer` is `Bearer`.
    value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| Some(t.trim()))
        .ok_or_else(|| {
            unauthorized(
                "invalid_token",
                "the Authorization header must be `Bearer <token>`",
            )
        })
}

/// Finds the caller's token. An explicit token wins over the ambient cookie: the header first,
/// then (on the stream only) `?token=`, then the cookie. So an embedded bell that passes its
/// token is never shadowed by a stale `belfry_token` cookie of the same origin.
fn find_token(parts: &Parts, allow_query: bool) -> Result<String, AppError> {
    if let Some(token) = bearer(parts)? {
        return Ok(token.to_owned());
    }
    if allow_query {
        // The stream's query has passed `api::query::strict`: a token given twice, or not
        // UTF-8, was refused there rather than passed over for the cookie.
        if let Query(TokenQuery { token: Some(token) }) = Query::from_uri(&parts.uri)? {
            return Ok(token);
        }
    }
    if let Some(cookie) = CookieJar::from_headers(&parts.headers).get(TOKEN_COOKIE) {
        return Ok(cookie.value().to_owned());
    }
    Err(unauthorized("missing_token", "a user token is required"))
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The signed-in user of a user route.
pub struct AuthUser(pub UserId);

/// The signed-in user of the stream route, which also accepts `?token=`, and when their token
/// stops being accepted: the stream ends then, so a stream lives no longer than its token.
pub struct StreamUser(pub UserId, pub SystemTime);

impl<S> FromRequestParts<S> for AuthUser
where
    S: Send + Sync,
    std::sync::Arc<TokenKeys>: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let keys = std::sync::Arc::<TokenKeys>::from_ref(state);
        keys.verify(&find_token(parts, false)?).map(Self)
    }
}

impl<S> FromRequestParts<S> for StreamUser
where
    S: Send + Sync,
    std::sync::Arc<TokenKeys>: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let keys = std::sync::Arc::<TokenKeys>::from_ref(state);
        let (user, until) = keys.verify_until(&find_token(parts, true)?)?;
        Ok(Self(user, until))
    }
}

/// The publish API's key. Without one configured, the publish API does not exist (404).
#[derive(Clone, Default)]
pub struct ServiceKey(pub Option<std::sync::Arc<str>>);

/// A caller that presented the service key.
pub struct Service;

impl<S> FromRequestParts<S> for Service
where
    S: Send + Sync,
    ServiceKey: FromRef<S>,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ServiceKey(Some(expected)) = ServiceKey::from_ref(state) else {
            return Err(AppError::NotFound("no such route"));
        };
        let given = bearer(parts)?
            .ok_or_else(|| unauthorized("missing_key", "the service key is required"))?;
        if constant_time_eq::constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            Ok(Self)
        } else {
            Err(unauthorized("invalid_key", "the service key is not valid"))
        }
    }
}

/// Passes only requests a plain cross-site HTML form cannot make: a JSON content type or an
/// `X-Requested-With` header both need a script, and a cross-origin script needs CORS.
pub struct CsrfGuard;

impl<S: Send + Sync> FromRequestParts<S> for CsrfGuard {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let json = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if json || parts.headers.contains_key("x-requested-with") {
            Ok(Self)
        } else {
            Err(AppError::CsrfRejected)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    #[test]
    fn a_minted_token_verifies() {
        let keys = TokenKeys::new(b"secret");
        let token = keys.mint(&user("42"), Duration::from_secs(60)).unwrap();
        assert_eq!(keys.verify(&token).unwrap(), user("42"));
    }

    #[test]
    fn another_secret_is_refused() {
        let token = TokenKeys::new(b"one")
            .mint(&user("42"), Duration::from_secs(60))
            .unwrap();
        assert!(matches!(
            TokenKeys::new(b"two").verify(&token),
            Err(AppError::Unauthorized {
                code: "invalid_token",
                ..
            })
        ));
    }

    #[test]
    fn rotation_signs_with_the_first_secret_and_accepts_all() {
        let old = TokenKeys::new(b"old")
            .mint(&user("42"), Duration::from_secs(60))
            .unwrap();
        let rotating = TokenKeys::rotating(&[b"new", b"old"]);
        assert_eq!(rotating.verify(&old).unwrap(), user("42"));
        let fresh = rotating.mint(&user("42"), Duration::from_secs(60)).unwrap();
        assert!(TokenKeys::new(b"new").verify(&fresh).is_ok());
        assert!(TokenKeys::new(b"old").verify(&fresh).is_err());
        assert!(TokenKeys::rotating(&[b"other", b"another"])
            .verify(&old)
            .is_err());
    }

    #[test]
    fn garbage_is_refused() {
        let keys = TokenKeys::new(b"secret");
        for token in ["", "x", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiI0MiJ9."] {
            assert!(keys.verify(token).is_err(), "{token}");
        }
    }
}
