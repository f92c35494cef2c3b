//! `belfry token` and `belfry send`: small one-shot commands around the same parts the server uses.

use std::time::Duration;

use crate::auth::TokenKeys;
use crate::config::{SendArgs, TokenArgs};
use crate::model::{Category, Link, Message, NewNotification, UserId};
use crate::store;

/// Prints a signed token for one user.
pub fn token(args: &TokenArgs) -> Result<(), String> {
    let user = UserId::parse(&args.user).map_err(|m| format!("--user: {m}"))?;
    // With a rotation list (`new,old`) the first secret signs, as the server does.
    let keys = TokenKeys::from_list(&args.jwt_secret).map_err(|_| "--jwt-secret is empty")?;
    let token = keys
        .mint(&user, Duration::from_secs(args.ttl_secs))
        .map_err(|_| "--ttl-secs: the token would expire after the year 9999".to_owned())?;
    println!("{token}");
    Ok(())
}

/// Writes one notification straight into the database, as any other program could, and
/// prints it as JSON.
pub async fn send(args: &SendArgs) -> Result<(), String> {
    let mut new = NewNotification::new(
        UserId::parse(&args.user).map_err(|m| format!("--user: {m}"))?,
        Message::parse(&args.message).map_err(|m| format!("--message: {m}"))?,
        args.link
            .as_deref()
            .map(Link::parse)
            .transpose()
            .map_err(|m| format!("--link: {m}"))?,
    );
    new.category = args
        .category
        .as_deref()
        .map(Category::parse)
        .transpose()
        .map_err(|m| format!("--category: {m}"))?;
    let store = store::open(&args.db.location())
        .await
        .map_err(|e| e.to_string())?;
    let created = store.insert(&[new]).await.map_err(|e| e.to_string())?;
    let json = serde_json::to_string(&created[0]).map_err(|e| e.to_string())?;
    println!("{json}");
    Ok(())
}
