//! The machine-readable contract: an OpenAPI 3.1 document generated from the handlers' own
//! annotations (utoipa), served at `/openapi.json`, so a host team can generate a client and the
//! document cannot drift from the routes: the API router is built from the same annotated
//! handlers (`api::routes`), and a test checks every documented operation against the router.
//! `docs/API.md` is the same contract in words.

use std::sync::Arc;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::Extension;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// What the document says before the routes are added: who Belfry is, how callers sign in.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Belfry",
        description = "Real-time notifications: a user's list, read state, and a Server-Sent \
                       Events stream; a publish route for the host application. In words: \
                       docs/API.md.",
        license(name = "MIT", identifier = "MIT"),
    ),
    modifiers(&Credentials),
    tags(
        (name = "user", description = "A signed-in user's own notifications (user token)"),
        (name = "host", description = "For the host application's backend (service key)"),
        (name = "pusher", description = "The Pusher HTTP API's publishing routes, for Laravel's broadcasts (signed query string)"),
        (name = "operations", description = "Health, metrics and this document"),
    ),
)]
pub struct Base;

/// The security schemes the routes name.
struct Credentials;

impl Modify for Credentials {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |what: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(what))
                    .build(),
            )
        };
        components.add_security_scheme(
            "user_token",
            bearer("A user token: an HS256 JWT with `sub` and `exp`"),
        );
        components.add_security_scheme(
            "token_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("belfry_token"))),
        );
        components.add_security_scheme(
            "token_query",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::new("token"))),
        );
        components.add_security_scheme(
            "service_key",
            bearer("The service key given to `belfry serve --service-key`"),
        );
        components.add_security_scheme(
            "pusher_signature",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "auth_signature",
                "Pusher's request signature: auth_key, auth_timestamp, auth_version, body_md5 \
                 and auth_signature in the query string (docs/API.md)",
            ))),
        );
    }
}

/// The document, as served.
#[derive(Clone)]
pub struct Document(pub Arc<str>);

impl Document {
    pub fn of(document: &utoipa::openapi::OpenApi) -> Result<Self, serde_json::Error> {
        Ok(Self(Arc::from(document.to_pretty_json()?)))
    }
}

/// The OpenAPI 3.1 document of every route below.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This document", content_type = "application/json")),
)]
pub async fn document(Extension(document): Extension<Document>) -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], document.0.to_string())
}
