//! `belfry serve`: opens the store, wires its feed to the hub, binds the socket, serves until
//! SIGTERM or ctrl-c. The wiring lives here and nowhere else: the store reports to a sink it
//! does not know is the hub (`delivery.rs` makes the hub one), and the transport serves a router
//! it does not look into.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue, Method};
use leptos::prelude::LeptosOptions;
use rand::Rng;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::{ServiceKey, TokenKeys};
use crate::config::ServeArgs;
use crate::hub::Hub;
use crate::model::UserId;
use crate::transport::{self, SHUTDOWN_GRACE};
use crate::{app, store, AppState};

/// How long the server waits for its feed to fix its starting point before it serves.
const FEED_START_WAIT: Duration = Duration::from_secs(15);

/// A bound, ready server: the store is open, the feed runs, the socket listens.
pub struct Server {
    listener: TcpListener,
    router: axum::Router,
    shutdown: CancellationToken,
    feed: JoinHandle<()>,
    header_read_timeout: Duration,
}

impl Server {
    /// Opens the store, binds the address (port 0 picks a free one) and starts the feed.
    pub async fn start(args: &ServeArgs, secrets: &Secrets) -> Result<Self, String> {
        // The metrics recorder before anything counts (the feed starts counting before `app`).
        crate::metrics::handle();
        let store = store::open(&args.db.location())
            .await
            .map_err(|e| format!("cannot open the database: {e}"))?;
        let listener = transport::listen(args.addr)
            .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("cannot read the bound address: {e}"))?;
        let max_streams = usize::try_from(args.max_streams_per_user).unwrap_or(usize::MAX);
        let hub = Hub::new(max_streams);
        let shutdown = CancellationToken::new();
        // The one place the store's feed meets the hub.
        let sink = Arc::new(crate::delivery::Delivery::new(Arc::clone(&hub)));
        let mut feed = Arc::clone(&store).start_feed(sink, shutdown.clone());
        if !feed.started(FEED_START_WAIT).await {
            tracing::warn!(
                "the feed has not started within {FEED_START_WAIT:?}; serving anyway, and what is \
                 published before it starts is not pushed live"
            );
        }
        tokio::spawn(crate::retention::run(
            Arc::clone(&store),
            crate::retention::keep(args.retain_days),
            shutdown.clone(),
        ));
        tokio::spawn(crate::snooze::run(Arc::clone(&store), shutdown.clone()));
        let state = AppState {
            store,
            tokens: Arc::new(secrets.token_keys()?),
            service_key: ServiceKey(secrets.service_key.as_deref().map(Arc::from)),
            leptos_options: leptos_options(args, addr),
            hub,
            heartbeat: Duration::from_secs(args.heartbeat_secs),
            shutdown: shutdown.clone(),
            dev: args.dev,
            publish_limit: Arc::new(crate::rate::PublishLimit::new(args.publish_rate)),
            feed: feed.status.clone(),
            request_timeout: Duration::from_millis(args.request_timeout_ms),
            pusher: args.pusher().map(Arc::new),
        };
        let router = app(state).layer(cors(&args.allowed_origins)?);
        Ok(Self {
            listener,
            router,
            shutdown,
            feed: feed.task,
            header_read_timeout: Duration::from_secs(args.header_read_timeout_secs),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Cancel it to shut the server down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled, then waits (a little) for the feed to save
    /// where it stands.
    pub async fn run(self) -> Result<(), String> {
        if let Ok(addr) = self.local_addr() {
            tracing::info!("listening on http://{addr}");
        }
        transport::serve(
            self.listener,
            self.router,
            self.header_read_timeout,
            self.shutdown,
        )
        .await;
        // The feed saves its resume token on its way out.
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, self.feed).await;
        Ok(())
    }
}

/// `belfry serve`.
pub async fn run(args: ServeArgs) -> Result<(), String> {
    let secrets = Secrets::resolve(&args)?;
    let server = Server::start(&args, &secrets).await?;
    if args.dev {
        let addr = server
            .local_addr()
            .map_err(|e| format!("cannot read the bound address: {e}"))?;
        tracing::warn!("--dev: demo mode with printed secrets; not for production");
        print_dev_banner(addr, &secrets);
    }
    tokio::spawn(cancel_on_signal(server.shutdown_token()));
    server.run().await
}

fn leptos_options(args: &ServeArgs, addr: SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(crate::assets::app_bundle(&args.site_root))
        .site_root(args.site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build()
}

/// Only the listed origins may call Belfry from a browser, with credentials (the cookie).
fn cors(origins: &[String]) -> Result<CorsLayer, String> {
    let origins = origins
        .iter()
        .map(|o| o.trim())
        .filter(|o| !o.is_empty())
        .map(|o| {
            if o == "*" {
                // The bell sends the user's cookie or token: a browser refuses credentials to a
                // wildcard origin, so `*` could only ever give a bell that never signs in.
                return Err(
                    "--allowed-origins: `*` is not allowed (the bell sends credentials, \
                     which browsers refuse for a wildcard); list each origin, e.g. \
                     https://app.example"
                        .to_owned(),
                );
            }
            HeaderValue::from_str(o)
                .map_err(|_| format!("--allowed-origins: {o:?} is not an origin"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("x-requested-with"),
            header::HeaderName::from_static("last-event-id"),
        ]))
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGTERM; ctrl-c only");
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    shutdown.cancel();
}

pub struct Secrets {
    pub jwt_secret: String,
    pub service_key: Option<String>,
    /// Which of the two `--dev` made up (and may print); configured ones are never printed.
    generated: Generated,
}

#[derive(Clone, Copy, Default)]
struct Generated {
    jwt_secret: bool,
    service_key: bool,
}

impl Secrets {
    /// The configured secrets; in `--dev`, random ones for what is not configured.
    pub fn resolve(args: &ServeArgs) -> Result<Self, String> {
        match (&args.jwt_secret, args.dev) {
            (Some(secret), _) if TokenKeys::from_list(secret).is_err() => {
                Err("--jwt-secret is empty".into())
            }
            (Some(secret), dev) => Ok(Self {
                jwt_secret: secret.clone(),
                service_key: args.service_key.clone().or_else(|| dev.then(random_secret)),
                generated: Generated {
                    jwt_secret: false,
                    service_key: dev && args.service_key.is_none(),
                },
            }),
            (None, true) => Ok(Self {
                jwt_secret: random_secret(),
                service_key: Some(args.service_key.clone().unwrap_or_else(random_secret)),
                generated: Generated {
                    jwt_secret: true,
                    service_key: args.service_key.is_none(),
                },
            }),
            (None, false) => {
                Err("--jwt-secret (or BELFRY_JWT_SECRET) is required; use --dev for a demo".into())
            }
        }
    }
}

impl Secrets {
    /// `--jwt-secret a,b`: `a` signs, both verify.
    pub fn token_keys(&self) -> Result<TokenKeys, String> {
        TokenKeys::from_list(&self.jwt_secret).map_err(|e| format!("--jwt-secret: {e}"))
    }
}

fn random_secret() -> String {
    let bytes: [u8; 24] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn print_dev_banner(addr: SocketAddr, secrets: &Secrets) {
    let demo_user = UserId::parse("1").expect("a constant, valid user id");
    let token = secrets
        .token_keys()
        .ok()
        .and_then(|keys| keys.mint(&demo_user, Duration::from_secs(24 * 3600)).ok())
        .unwrap_or_default();
    const CONFIGURED: &str = "(configured; not printed)";
    let key = match secrets.generated.service_key {
        true => secrets.service_key.as_deref().unwrap_or_default(),
        false => "<service key>",
    };
    let jwt = match secrets.generated.jwt_secret {
        true => secrets.jwt_secret.as_str(),
        false => CONFIGURED,
    };
    let key_line = match secrets.generated.service_key {
        true => key,
        false => CONFIGURED,
    };
    println!(
        "\nBelfry dev mode: NOT FOR PRODUCTION\n\
         \x20 app          http://{addr}/\n\
         \x20 JWT secret   {jwt}\n\
         \x20 service key  {key_line}\n\
         \x20 token (user 1, 24 h)\n\
         \x20   {token}\n\n\
         Send user 1 a notification:\n\
         \x20 curl -X POST http://{addr}/api/notifications -H 'Authorization: Bearer {key}' \
         -H 'Content-Type: application/json' -d '{{\"user_id\":\"1\",\"message\":\"Hello from curl\",\"link\":\"/\"}}'\n\
         List user 1's notifications:\n\
         \x20 curl http://{addr}/notifications -H 'Authorization: Bearer {token}'\n",
    );
}
