//! `belfry serve`: opens the store, binds the socket, serves until SIGTERM or ctrl-c.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue, Method};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnectionBuilder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use leptos::prelude::LeptosOptions;
use rand::Rng;
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::{ServiceKey, TokenKeys};
use crate::config::ServeArgs;
use crate::hub::Hub;
use crate::model::UserId;
use crate::{app, store, stream_conn, AppState};

/// How long open connections get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

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
        let store = store::open(&args.db.database, &args.db.collection)
            .await
            .map_err(|e| format!("cannot open the database: {e}"))?;
        let listener =
            listen(args.addr).map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("cannot read the bound address: {e}"))?;
        let max_streams = usize::try_from(args.max_streams_per_user).unwrap_or(usize::MAX);
        let hub = Hub::new(max_streams);
        let shutdown = CancellationToken::new();
        let feed = Arc::clone(&store).start_feed(Arc::clone(&hub), shutdown.clone());
        let state = AppState {
            store,
            tokens: Arc::new(secrets.token_keys()),
            service_key: ServiceKey(secrets.service_key.as_deref().map(Arc::from)),
            leptos_options: leptos_options(args, addr),
            hub,
            heartbeat: Duration::from_secs(args.heartbeat_secs),
            shutdown: shutdown.clone(),
            dev: args.dev,
            publish_limit: Arc::new(crate::rate::PublishLimit::new(args.publish_rate)),
        };
        let router = app(state).layer(cors(&args.allowed_origins)?);
        Ok(Self {
            listener,
            router,
            shutdown,
            feed,
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

    /// Serves until the shutdown token is cancelled. Then: stop accepting, end every open
    /// stream (their clients reconnect, to another instance if there is one), let requests in
    /// flight finish, and give up waiting after `SHUTDOWN_GRACE`.
    ///
    /// The accept loop is hyper's own (rather than `axum::serve`) for one setting axum does not
    /// expose: a deadline on reading a request's headers, so a client that sends its request a
    /// byte at a time (slowloris) is cut off instead of holding its connection for ever.
    pub async fn run(self) -> Result<(), String> {
        if let Ok(addr) = self.local_addr() {
            tracing::info!("listening on http://{addr}");
        }
        let mut http = ConnectionBuilder::new(TokioExecutor::new());
        http.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        // Shared, not cloned into each connection's task: that task lives as long as its
        // connection, and most connections are streams that never use the builder.
        let http = Arc::new(http);
        let connections = GracefulShutdown::new();
        // Every connection's task; the lean stream connections are not hyper's, so the
        // graceful shutdown below waits for them here (their bodies end on the same signal).
        let tasks = tokio_util::task::TaskTracker::new();
        loop {
            let accepted = tokio::select! {
                () = self.shutdown.cancelled() => break,
                accepted = self.listener.accept() => accepted,
            };
            let socket = match accepted {
                Ok((socket, _)) => socket,
                Err(err) => {
                    // Out of file descriptors, usually: keep serving the connections we have.
                    tracing::warn!(%err, "cannot accept a connection");
                    continue;
                }
            };
            let router = self.router.clone();
            let http = Arc::clone(&http);
            let header_read_timeout = self.header_read_timeout;
            let watcher = connections.watcher();
            tasks.spawn(async move {
                // A connection that opens with a stream request gets the lean transport: an
                // idle stream then costs a few KiB instead of hyper's buffers (see stream_conn).
                let first_bytes = stream_conn::opens_a_stream(&socket);
                match tokio::time::timeout(header_read_timeout, first_bytes).await {
                    Ok(true) => {
                        return stream_conn::serve(socket, router, header_read_timeout).await;
                    }
                    Ok(false) => {}
                    // Connected and sent nothing within the deadline: let it go.
                    Err(_) => return,
                }
                let service = TowerToHyperService::new(router);
                let connection = http.serve_connection_with_upgrades(TokioIo::new(socket), service);
                if let Err(err) = watcher.watch(connection.into_owned()).await {
                    tracing::debug!(%err, "connection ended with an error");
                }
            });
        }
        tasks.close();
        tokio::select! {
            () = async { tokio::join!(connections.shutdown(), tasks.wait()); } => {}
            () = tokio::time::sleep(SHUTDOWN_GRACE) => {
                tracing::warn!("connections still open after {SHUTDOWN_GRACE:?}; exiting anyway");
            }
        }
        // The feed saves its resume token on its way out.
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, self.feed).await;
        Ok(())
    }
}

/// Connections the kernel queues for `accept`. A burst of clients reconnecting at once (after
/// a deploy, say) must not overflow it: at the usual default of 128, the overflow waits out a
/// one-second SYN retransmit. The kernel caps it at `net.core.somaxconn`.
const ACCEPT_BACKLOG: u32 = 4096;

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
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
        .output_name("belfry")
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
            HeaderValue::from_str(o)
                .map_err(|_| format!("--allowed-origins: {o:?} is not an origin"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST])
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
}

impl Secrets {
    /// The configured secrets; in `--dev`, random ones for what is not configured.
    pub fn resolve(args: &ServeArgs) -> Result<Self, String> {
        match (&args.jwt_secret, args.dev) {
            (Some(secret), _) if secret.split(',').all(|s| s.trim().is_empty()) => {
                Err("--jwt-secret is empty".into())
            }
            (Some(secret), dev) => Ok(Self {
                jwt_secret: secret.clone(),
                service_key: args.service_key.clone().or_else(|| dev.then(random_secret)),
            }),
            (None, true) => Ok(Self {
                jwt_secret: random_secret(),
                service_key: Some(args.service_key.clone().unwrap_or_else(random_secret)),
            }),
            (None, false) => {
                Err("--jwt-secret (or BELFRY_JWT_SECRET) is required; use --dev for a demo".into())
            }
        }
    }
}

impl Secrets {
    /// `--jwt-secret a,b`: `a` signs, both verify.
    pub fn token_keys(&self) -> TokenKeys {
        let secrets: Vec<&[u8]> = self
            .jwt_secret
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::as_bytes)
            .collect();
        TokenKeys::rotating(&secrets)
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
        .mint(&demo_user, Duration::from_secs(24 * 3600))
        .unwrap_or_default();
    let key = secrets.service_key.as_deref().unwrap_or_default();
    println!(
        "\nBelfry dev mode: NOT FOR PRODUCTION\n\
         \x20 app          http://{addr}/\n\
         \x20 JWT secret   {jwt}\n\
         \x20 service key  {key}\n\
         \x20 token (user 1, 24 h)\n\
         \x20   {token}\n\n\
         Send user 1 a notification:\n\
         \x20 curl -X POST http://{addr}/api/notifications -H 'Authorization: Bearer {key}' \
         -H 'Content-Type: application/json' -d '{{\"user_id\":\"1\",\"message\":\"Hello from curl\",\"link\":\"/\"}}'\n\
         List user 1's notifications:\n\
         \x20 curl http://{addr}/notifications -H 'Authorization: Bearer {token}'\n",
        jwt = secrets.jwt_secret,
    );
}
