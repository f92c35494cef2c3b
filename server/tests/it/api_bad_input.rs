//! Every kind of bad input, on both stores: the contract's status and JSON error, and nothing
//! written. One table, run once per store.

use crate::support;
use std::sync::Arc;

use crate::support::*;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use belfry::store::{Page, Store};
use serde_json::{json, Value};

enum Auth {
    None,
    User(&'static str),
    Raw(String),
    Service,
}

struct Case {
    name: &'static str,
    method: Method,
    uri: String,
    auth: Auth,
    headers: Vec<(&'static str, &'static str)>,
    body: Option<String>,
    status: StatusCode,
    error: &'static str,
    field: Option<&'static str>,
}

fn case(name: &'static str, method: Method, uri: impl Into<String>, auth: Auth) -> Case {
    Case {
        name,
        method,
        uri: uri.into(),
        auth,
        headers: Vec::new(),
        body: None,
        status: StatusCode::OK,
        error: "",
        field: None,
    }
}

impl Case {
    fn body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }
    fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }
    fn expect(
        mut self,
        status: StatusCode,
        error: &'static str,
        field: Option<&'static str>,
    ) -> Self {
        self.status = status;
        self.error = error;
        self.field = field;
        self
    }
}

fn publish(name: &'static str, body: impl Into<String>) -> Case {
    case(name, Method::POST, "/api/notifications", Auth::Service).body(body)
}

fn publish_json(name: &'static str, body: Value) -> Case {
    publish(name, body.to_string())
}

fn cases(alice_id: &str) -> Vec<Case> {
    use StatusCode as S;
    let long_user = "u".repeat(129);
    let read_alice = format!("/notifications/{alice_id}/read");
    let expired = token_with_claims(json!({"sub": "alice", "exp": unix_now() - 3600}));
    let no_exp = token_with_claims(json!({"sub": "alice"}));
    let bad_sub = token_with_claims(json!({"sub": "a b", "exp": unix_now() + 600}));
    let forged = belfry::auth::TokenKeys::new(b"another secret")
        .mint(&user("alice"), std::time::Duration::from_secs(600))
        .unwrap();
    let bearer = |t: &str| Auth::Raw(format!("Bearer {t}"));
    let many_users: Vec<String> = (0..1001).map(|i| format!("u{i}")).collect();
    let one_alice = format!("/notifications/{alice_id}");
    let in_an_hour = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let in_two_years = (chrono::Utc::now() + chrono::Duration::days(730)).to_rfc3339();
    let snooze = |one: &str, name: &'static str, body: Value| {
        case(
            name,
            Method::POST,
            format!("{one}/snooze"),
            Auth::User("alice"),
        )
        .header("content-type", "application/json")
        .body(body.to_string())
    };
    let seen = |name: &'static str, body: Value| {
        case(
            name,
            Method::POST,
            "/notifications/seen",
            Auth::User("alice"),
        )
        .header("content-type", "application/json")
        .body(body.to_string())
    };

    vec![
        // The publish body.
        publish("malformed JSON", "{").expect(S::BAD_REQUEST, "malformed", None),
        publish("empty body", "").expect(S::BAD_REQUEST, "malformed", None),
        publish("a JSON array", "[]").expect(S::BAD_REQUEST, "malformed", None),
        publish("a JSON string", "\"hi\"").expect(S::BAD_REQUEST, "malformed", None),
        publish_json("no message", json!({"user_id": "alice"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("message")),
        publish_json("numeric message", json!({"user_id": "alice", "message": 7})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("message")),
        publish_json("empty message", json!({"user_id": "alice", "message": ""})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("message")),
        publish_json("blank message", json!({"user_id": "alice", "message": " \n\t "})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("message")),
        publish_json("2001-character message", json!({"user_id": "alice", "message": "m".repeat(2001)})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("message")),
        publish_json("javascript: link", json!({"user_id": "alice", "message": "x", "link": "javascript:alert(1)"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("link")),
        publish_json("data: link", json!({"user_id": "alice", "message": "x", "link": "data:text/html,<b>x</b>"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("link")),
        publish_json("//host link", json!({"user_id": "alice", "message": "x", "link": "//evil.example/x"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("link")),
        publish_json("relative link", json!({"user_id": "alice", "message": "x", "link": "orders/7"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("link")),
        publish_json("numeric link", json!({"user_id": "alice", "message": "x", "link": 7})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("link")),
        publish_json("over-long link", json!({"user_id": "alice", "message": "x", "link": format!("https://e.example/{}", "a".repeat(2040))})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("link")),
        publish_json("no recipient", json!({"message": "x"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("user_id")),
        publish_json("empty user id", json!({"user_id": "", "message": "x"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("user_id")),
        publish_json("129-character user id", json!({"user_id": long_user, "message": "x"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("user_id")),
        publish_json("user id with a space", json!({"user_id": "al ice", "message": "x"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("user_id")),
        publish_json("user id with a slash", json!({"user_id": "a/b", "message": "x"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("user_id")),
        publish_json("fractional user id", json!({"user_id": 4.2, "message": "x"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("user_id")),
        publish_json("boolean user id", json!({"user_id": true, "message": "x"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("user_id")),
        publish_json("null user id", json!({"user_id": null, "message": "x"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("user_id")),
        publish_json("user_id and user_ids", json!({"user_id": "alice", "user_ids": ["bob"], "message": "x"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("user_ids")),
        publish_json("empty user_ids", json!({"user_ids": [], "message": "x"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("user_ids")),
        publish_json("user_ids not an array", json!({"user_ids": "alice", "message": "x"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("user_ids")),
        publish_json("one bad id among good ones", json!({"user_ids": ["alice", "bob", "bad id"], "message": "x"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("user_ids")),
        publish_json("1001 recipients", json!({"user_ids": many_users, "message": "x"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("user_ids")),
        publish_json("256-character category", json!({"user_id": "alice", "message": "x", "category": "c".repeat(256)})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("category")),
        publish_json("numeric category", json!({"user_id": "alice", "message": "x", "category": 7})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("category")),
        publish_json("category with a newline", json!({"user_id": "alice", "message": "x", "category": "a\nb"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("category")),
        publish_json("actor as text", json!({"user_id": "alice", "message": "x", "actor": "Anna"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("actor")),
        publish_json("actor without a name", json!({"user_id": "alice", "message": "x", "actor": {"avatar": "/a.png"}})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("actor.name")),
        publish_json("actor with a 101-character name", json!({"user_id": "alice", "message": "x", "actor": {"name": "n".repeat(101)}})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("actor.name")),
        publish_json("javascript: avatar", json!({"user_id": "alice", "message": "x", "actor": {"name": "A", "avatar": "javascript:alert(1)"}})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("actor.avatar")),
        publish_json("http: avatar from elsewhere", json!({"user_id": "alice", "message": "x", "actor": {"name": "A", "avatar": "http://evil.example/a.png"}})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("actor.avatar")),
        publish_json("data: avatar", json!({"user_id": "alice", "message": "x", "actor": {"name": "A", "avatar": "data:image/png;base64,AAAA"}})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("actor.avatar")),
        publish_json("//host avatar", json!({"user_id": "alice", "message": "x", "actor": {"name": "A", "avatar": "//evil.example/a.png"}})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("actor.avatar")),
        publish_json("three actions", json!({"user_id": "alice", "message": "x", "actions": [{"label": "a", "name": "a"}, {"label": "b", "name": "b"}, {"label": "c", "name": "c"}]})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("actions")),
        publish_json("actions as an object", json!({"user_id": "alice", "message": "x", "actions": {"label": "a", "name": "a"}})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("actions")),
        publish_json("an action with a 41-character label", json!({"user_id": "alice", "message": "x", "actions": [{"label": "l".repeat(41), "name": "a"}]})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("actions")),
        publish_json("an action with a link and a name", json!({"user_id": "alice", "message": "x", "actions": [{"label": "a", "name": "a", "link": "/a"}]})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("actions")),
        publish_json("an action with neither", json!({"user_id": "alice", "message": "x", "actions": [{"label": "a"}]})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("actions")),
        publish_json("a javascript: action link", json!({"user_id": "alice", "message": "x", "actions": [{"label": "a", "link": "javascript:alert(1)"}]})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("actions")),
        publish_json("an action name with a space", json!({"user_id": "alice", "message": "x", "actions": [{"label": "a", "name": "do it"}]})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("actions")),
        publish_json("a 65-character action name", json!({"user_id": "alice", "message": "x", "actions": [{"label": "a", "name": "n".repeat(65)}]})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("actions")),
        publish_json("two actions of one name", json!({"user_id": "alice", "message": "x", "actions": [{"label": "a", "name": "a"}, {"label": "b", "name": "a"}]})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("actions")),
        publish_json("a 256-character group key", json!({"user_id": "alice", "message": "x", "group_key": "g".repeat(256)})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("group_key")),
        publish_json("a numeric group key", json!({"user_id": "alice", "message": "x", "group_key": 7})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("group_key")),
        publish_json("a category with a comma", json!({"user_id": "alice", "message": "x", "category": "a,b"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("category")),
        publish_json("an action named ..", json!({"user_id": "alice", "message": "x", "actions": [{"label": "a", "name": ".."}]})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("actions")),
        publish_json("an id of ..", json!({"user_id": "alice", "message": "x", "id": ".."})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("id")),
        publish_json("a group key with a newline", json!({"user_id": "alice", "message": "x", "group_key": "a\nb"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("group_key")),
        publish("body over 64 KiB", json!({"user_id": "alice", "message": "x".repeat(70_000)}).to_string()).expect(S::PAYLOAD_TOO_LARGE, "payload_too_large", None),
        // The publish key.
        case("publish without a key", Method::POST, "/api/notifications", Auth::None).body(json!({"user_id": "alice", "message": "x"}).to_string()).expect(S::UNAUTHORIZED, "missing_key", None),
        case("publish with a wrong key", Method::POST, "/api/notifications", bearer("not-the-key")).body(json!({"user_id": "alice", "message": "x"}).to_string()).expect(S::UNAUTHORIZED, "invalid_key", None),
        case("publish with a user token", Method::POST, "/api/notifications", Auth::User("alice")).body(json!({"user_id": "alice", "message": "x"}).to_string()).expect(S::UNAUTHORIZED, "invalid_key", None),
        // User tokens.
        case("list without a token", Method::GET, "/notifications", Auth::None).expect(S::UNAUTHORIZED, "missing_token", None),
        case("list with a forged token", Method::GET, "/notifications", bearer(&forged)).expect(S::UNAUTHORIZED, "invalid_token", None),
        case("list with an expired token", Method::GET, "/notifications", bearer(&expired)).expect(S::UNAUTHORIZED, "expired_token", None),
        case("list with a token without exp", Method::GET, "/notifications", bearer(&no_exp)).expect(S::UNAUTHORIZED, "invalid_token", None),
        case("list with an invalid subject", Method::GET, "/notifications", bearer(&bad_sub)).expect(S::UNAUTHORIZED, "invalid_token", None),
        case("list with Basic auth", Method::GET, "/notifications", Auth::Raw("Basic YWxpY2U6eA==".into())).expect(S::UNAUTHORIZED, "invalid_token", None),
        case("list with a garbage bearer", Method::GET, "/notifications", bearer("garbage")).expect(S::UNAUTHORIZED, "invalid_token", None),
        case("list with ?token= (stream only)", Method::GET, format!("/notifications?token={}", token("alice")), Auth::None).expect(S::UNAUTHORIZED, "missing_token", None),
        case("unread count without a token", Method::GET, "/notifications/unread-count", Auth::None).expect(S::UNAUTHORIZED, "missing_token", None),
        case("unread count with an expired cookie", Method::GET, "/notifications/unread-count", Auth::None).header("cookie", "belfry_token=x.y.z").expect(S::UNAUTHORIZED, "invalid_token", None),
        // List parameters.
        case("limit=0", Method::GET, "/notifications?limit=0", Auth::User("alice")).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("limit")),
        case("limit=101", Method::GET, "/notifications?limit=101", Auth::User("alice")).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("limit")),
        case("limit=-1", Method::GET, "/notifications?limit=-1", Auth::User("alice")).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("limit")),
        case("limit=x", Method::GET, "/notifications?limit=x", Auth::User("alice")).expect(S::BAD_REQUEST, "malformed", Some("limit")),
        case("limit=1.5", Method::GET, "/notifications?limit=1.5", Auth::User("alice")).expect(S::BAD_REQUEST, "malformed", Some("limit")),
        case("before=x%20y", Method::GET, "/notifications?before=x%20y", Auth::User("alice")).expect(S::BAD_REQUEST, "malformed", Some("before")),
        case("before of 129 characters", Method::GET, format!("/notifications?before={}", "a".repeat(129)), Auth::User("alice")).expect(S::BAD_REQUEST, "malformed", Some("before")),
        // Marking read.
        case("read without a CSRF header", Method::POST, read_alice.clone(), Auth::User("alice")).expect(S::FORBIDDEN, "csrf_rejected", None),
        case("read with a form content type", Method::POST, read_alice.clone(), Auth::User("alice")).header("content-type", "application/x-www-form-urlencoded").expect(S::FORBIDDEN, "csrf_rejected", None),
        case("read-all without a CSRF header", Method::POST, "/notifications/read-all", Auth::User("alice")).expect(S::FORBIDDEN, "csrf_rejected", None),
        case("read-all as text/plain", Method::POST, "/notifications/read-all", Auth::User("alice")).header("content-type", "text/plain").expect(S::FORBIDDEN, "csrf_rejected", None),
        case("read without a token", Method::POST, read_alice.clone(), Auth::None).header("x-requested-with", "XMLHttpRequest").expect(S::UNAUTHORIZED, "missing_token", None),
        case("read-all with an expired token", Method::POST, "/notifications/read-all", bearer(&expired)).header("x-requested-with", "XMLHttpRequest").expect(S::UNAUTHORIZED, "expired_token", None),
        case("read a malformed id", Method::POST, "/notifications/not%20an%20id/read", Auth::User("alice")).header("x-requested-with", "XMLHttpRequest").expect(S::BAD_REQUEST, "malformed", Some("id")),
        case("read an unknown id", Method::POST, "/notifications/000000000000000000000000/read", Auth::User("alice")).header("x-requested-with", "XMLHttpRequest").expect(S::NOT_FOUND, "not_found", None),
        case("read another user's notification", Method::POST, read_alice, Auth::User("bob")).header("content-type", "application/json").expect(S::NOT_FOUND, "not_found", None),
        // The inbox's states.
        case("category of 256 characters", Method::GET, format!("/notifications?category={}", "c".repeat(256)), Auth::User("alice")).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("category")),
        case("21 categories counted", Method::GET, format!("/notifications/counts?categories={}", (0..21).map(|i| format!("c{i}")).collect::<Vec<_>>().join(",")), Auth::User("alice")).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("categories")),
        case("an empty category counted", Method::GET, "/notifications/counts?categories=a,,b", Auth::User("alice")).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("categories")),
        case("read-all of a 256-character category", Method::POST, format!("/notifications/read-all?category={}", "c".repeat(256)), Auth::User("alice")).header("x-requested-with", "XMLHttpRequest").expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("category")),
        case("complete an action the notification has not", Method::POST, format!("{one_alice}/actions/approve/complete"), Auth::User("alice")).header("x-requested-with", "XMLHttpRequest").expect(S::NOT_FOUND, "not_found", None),
        case("complete another user's action", Method::POST, format!("{one_alice}/actions/approve/complete"), Auth::User("bob")).header("x-requested-with", "XMLHttpRequest").expect(S::NOT_FOUND, "not_found", None),
        case("complete a malformed action name", Method::POST, format!("{one_alice}/actions/a%20b/complete"), Auth::User("alice")).header("x-requested-with", "XMLHttpRequest").expect(S::BAD_REQUEST, "malformed", Some("name")),
        case("complete without a CSRF header", Method::POST, format!("{one_alice}/actions/approve/complete"), Auth::User("alice")).expect(S::FORBIDDEN, "csrf_rejected", None),
        case("status=bogus", Method::GET, "/notifications?status=bogus", Auth::User("alice")).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("status")),
        case("get another user's notification", Method::GET, one_alice.clone(), Auth::User("bob")).expect(S::NOT_FOUND, "not_found", None),
        case("get a malformed id", Method::GET, "/notifications/a%20b", Auth::User("alice")).expect(S::BAD_REQUEST, "malformed", Some("id")),
        case("unread without a CSRF header", Method::POST, format!("{one_alice}/unread"), Auth::User("alice")).expect(S::FORBIDDEN, "csrf_rejected", None),
        case("archive another user's notification", Method::POST, format!("{one_alice}/archive"), Auth::User("bob")).header("x-requested-with", "XMLHttpRequest").expect(S::NOT_FOUND, "not_found", None),
        case("archive a malformed id", Method::POST, "/notifications/a%20b/archive", Auth::User("alice")).header("x-requested-with", "XMLHttpRequest").expect(S::BAD_REQUEST, "malformed", Some("id")),
        case("unarchive without a token", Method::POST, format!("{one_alice}/unarchive"), Auth::None).header("x-requested-with", "XMLHttpRequest").expect(S::UNAUTHORIZED, "missing_token", None),
        case("snooze without a body", Method::POST, format!("{one_alice}/snooze"), Auth::User("alice")).header("x-requested-with", "XMLHttpRequest").expect(S::BAD_REQUEST, "malformed", None),
        snooze(&one_alice, "snooze without until", json!({})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("until")),
        snooze(&one_alice, "snooze with an array body", json!([])).expect(S::BAD_REQUEST, "malformed", None),
        seen("seen with a null body", json!(null)).expect(S::BAD_REQUEST, "malformed", None),
        snooze(&one_alice, "snooze until a number", json!({"until": 5})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("until")),
        snooze(&one_alice, "snooze until words", json!({"until": "tomorrow"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("until")),
        snooze(&one_alice, "snooze until a time without offset", json!({"until": "2099-01-01T09:00:00"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("until")),
        snooze(&one_alice, "snooze until the past", json!({"until": "2020-01-01T09:00:00Z"})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("until")),
        snooze(&one_alice, "snooze for two years", json!({"until": in_two_years})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("until")),
        case("snooze another user's notification", Method::POST, format!("{one_alice}/snooze"), Auth::User("bob")).header("content-type", "application/json").body(json!({"until": in_an_hour}).to_string()).expect(S::NOT_FOUND, "not_found", None),
        case("unsnooze without a CSRF header", Method::POST, format!("{one_alice}/unsnooze"), Auth::User("alice")).expect(S::FORBIDDEN, "csrf_rejected", None),
        case("delete without a CSRF header", Method::DELETE, one_alice.clone(), Auth::User("alice")).expect(S::FORBIDDEN, "csrf_rejected", None),
        case("delete another user's notification", Method::DELETE, one_alice.clone(), Auth::User("bob")).header("x-requested-with", "XMLHttpRequest").expect(S::NOT_FOUND, "not_found", None),
        case("archive-all without a CSRF header", Method::POST, "/notifications/archive-all", Auth::User("alice")).expect(S::FORBIDDEN, "csrf_rejected", None),
        case("archive-read as text/plain", Method::POST, "/notifications/archive-read", Auth::User("alice")).header("content-type", "text/plain").expect(S::FORBIDDEN, "csrf_rejected", None),
        case("seen as text/plain", Method::POST, "/notifications/seen", Auth::User("alice")).header("content-type", "text/plain").body(json!({"ids": [alice_id]}).to_string()).expect(S::FORBIDDEN, "csrf_rejected", None),
        seen("seen with no ids", json!({})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("ids")),
        seen("seen with empty ids", json!({"ids": []})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("ids")),
        seen("seen with ids as text", json!({"ids": alice_id})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("ids")),
        seen("seen with a malformed id", json!({"ids": [alice_id, "a b"]})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("ids")),
        seen("seen with a number", json!({"ids": [7]})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("ids")),
        seen("seen with 101 ids", json!({"ids": vec![alice_id; 101]})).expect(S::UNPROCESSABLE_ENTITY, "invalid", Some("ids")),
        seen("seen with one unknown id: none marked", json!({"ids": [alice_id, "000000000000000000000000"]})).expect(S::NOT_FOUND, "not_found", None),
    ]
}

/// What the checks compare before and after each bad request: each user's notifications
/// (all of them, in every state) and counts.
async fn snapshot(
    store: &dyn Store,
) -> Vec<(String, Vec<app::Notification>, belfry::store::Counts)> {
    let mut out = Vec::new();
    for id in ["alice", "bob", "u0", "42"] {
        let listed = store
            .list(
                &user(id),
                Page {
                    status: belfry::store::Status::All,
                    category: None,
                    limit: 100,
                    before: None,
                },
            )
            .await
            .unwrap();
        let counts = store.counts(&user(id)).await.unwrap();
        out.push((id.to_owned(), listed, counts));
    }
    out
}

async fn run_table(store: Arc<dyn Store>) {
    let seeded = store
        .insert(&[
            support::new_notification("alice", "seed", None),
            support::new_notification("bob", "seed", None),
        ])
        .await
        .unwrap();
    let router = belfry::app(state(Arc::clone(&store)));
    let before = snapshot(&*store).await;
    let table = cases(&seeded[0].id);
    assert!(table.len() >= 40);

    for case in table {
        let mut request = Request::builder()
            .method(case.method.clone())
            .uri(&case.uri);
        request = match &case.auth {
            Auth::None => request,
            Auth::User(id) => request.header("authorization", format!("Bearer {}", token(id))),
            Auth::Raw(value) => request.header("authorization", value.as_str()),
            Auth::Service => request.header("authorization", format!("Bearer {SERVICE_KEY}")),
        };
        for (name, value) in &case.headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(case.body.clone().map_or_else(Body::empty, Body::from))
            .unwrap();

        let (status, body) = call(&router, request).await;
        assert_eq!(status, case.status, "{}: {body}", case.name);
        assert_eq!(body["error"], case.error, "{}: {body}", case.name);
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}: {body}",
            case.name
        );
        match case.field {
            Some(field) => assert_eq!(body["field"], field, "{}: {body}", case.name),
            None => assert!(body.get("field").is_none(), "{}: {body}", case.name),
        }
        assert_eq!(
            snapshot(&*store).await,
            before,
            "{} wrote something",
            case.name
        );
    }
}

#[tokio::test]
async fn sqlite_refuses_bad_input_and_writes_nothing() {
    let db = sqlite().await;
    run_table(db.store.clone()).await;
}

#[tokio::test]
async fn mongo_refuses_bad_input_and_writes_nothing() {
    run_table(mongo().await).await;
}

#[tokio::test]
async fn publish_is_absent_without_a_service_key() {
    let db = sqlite().await;
    let mut state = state(db.store.clone());
    state.service_key = belfry::auth::ServiceKey(None);
    let router = belfry::app(state);
    let request = Request::post("/api/notifications")
        .header("authorization", "Bearer anything")
        .body(Body::from(
            json!({"user_id": "alice", "message": "x"}).to_string(),
        ))
        .unwrap();
    let (status, body) = call(&router, request).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
    assert!(snapshot(&*db.store).await[0].1.is_empty());
}

#[tokio::test]
async fn publishing_past_the_rate_limit_is_429_and_writes_nothing() {
    let db = sqlite().await;
    let mut state = state(db.store.clone());
    state.publish_limit = Arc::new(belfry::rate::PublishLimit::new(
        std::num::NonZeroU32::new(1).unwrap(),
    ));
    let router = belfry::app(state);
    let publish = |body: Value| {
        Request::post("/api/notifications")
            .header("authorization", format!("Bearer {SERVICE_KEY}"))
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    // The burst is one full bulk publish.
    let everyone: Vec<String> = (0..1000).map(|i| format!("u{i}")).collect();
    let (status, _) = call(
        &router,
        publish(json!({"user_ids": everyone, "message": "all"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = call(
        &router,
        publish(json!({"user_id": "alice", "message": "one more"})),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"], "rate_limited");
    assert!(
        snapshot(&*db.store).await[0].1.is_empty(),
        "nothing written for alice"
    );
}
